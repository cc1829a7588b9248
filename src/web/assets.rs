//! Static files compiled into the binary (CSS, the small scripts of the live parts). Each is
//! served at `/assets/{name}`; pages link them as `/assets/{name}?v={hash}` so a browser may
//! cache them for a year and still sees a new build's files at once.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::routes::{Need, RouteDef};

/// name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")),
    ("cashier.css", "text/css; charset=utf-8", include_bytes!("assets/cashier.css")),
    ("cashier.js", "text/javascript; charset=utf-8", include_bytes!("assets/cashier.js")),
    ("dashboard.js", "text/javascript; charset=utf-8", include_bytes!("assets/dashboard.js")),
    ("manage.css", "text/css; charset=utf-8", include_bytes!("assets/manage.css")),
    ("stocktake.js", "text/javascript; charset=utf-8", include_bytes!("assets/stocktake.js")),
    ("purchase.js", "text/javascript; charset=utf-8", include_bytes!("assets/purchase.js")),
];

fn find(name: &str) -> Option<&'static (&'static str, &'static str, &'static [u8])> {
    ASSETS.iter().find(|(n, _, _)| *n == name)
}

/// A short content hash (FNV-1a, hex): enough to bust caches, not a security check.
fn hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:012x}", h & 0xffff_ffff_ffff)
}

/// The URL of an asset, with its content hash.
pub fn url(name: &str) -> String {
    match find(name) {
        Some((_, _, bytes)) => format!("/assets/{name}?v={}", hash(bytes)),
        None => format!("/assets/{name}"),
    }
}

pub fn routes() -> Vec<RouteDef> {
    vec![RouteDef::get("/assets/{name}", Need::Public, "An embedded static file (CSS, scripts)", serve)]
}

async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, ctype, bytes)) = find(&name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{}\"", hash(bytes));
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut res = (*bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn asset_urls_carry_a_content_hash() {
        let u = super::url("app.css");
        assert!(u.starts_with("/assets/app.css?v=") && u.len() > "/assets/app.css?v=".len() + 8, "{u}");
        assert_eq!(super::url("missing.js"), "/assets/missing.js");
    }
}
