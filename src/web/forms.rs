//! What the manager pages (members, catalog, stock, staff) share: reading a form body or a query
//! string into typed values with a message per field in both languages, pagers for bounded
//! lists, and the small formatting rules those pages show (quantities, percentages, local times).
//!
//! A form is read into a struct of strings (it cannot fail on a typed value), then each field is
//! checked here or by its service; a refusal becomes a [`WebError`] naming the field, in the
//! caller's language. Pages show it next to the field; the API answers it as JSON.

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::de::DeserializeOwned;

use super::auth::Identity;
use super::{Lang, WebError};
use crate::domain::money::YuanParseError;

/// Rows on one page of a list.
pub const PER_PAGE: usize = 50;
/// Highest page number a list accepts (bounds the work of deep paging).
pub const MAX_PAGE: usize = 10_000;
/// Largest `limit` an API list accepts.
pub const MAX_LIMIT: usize = 500;

/// A field error: 400 naming `field`, the message in `lang`.
pub fn field(lang: Lang, field: impl Into<String>, zh: impl AsRef<str>, en: impl AsRef<str>) -> WebError {
    WebError::field(field, lang.pick(zh.as_ref(), en.as_ref()))
}

/// A refusal that names no field: 409, the message in `lang`.
pub fn refused(lang: Lang, zh: impl AsRef<str>, en: impl AsRef<str>) -> WebError {
    WebError::conflict(lang.pick(zh.as_ref(), en.as_ref()))
}

/// Reads a form body (`application/x-www-form-urlencoded`) or a query string into `T` (a struct
/// of `Option<String>` fields with `#[serde(default)]`, which cannot fail on what was typed).
pub fn parse_pairs<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| WebError::bad_request(format!("form: {e}")))
}

/// A query string (`RawQuery`) read like a form; none reads as empty.
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, WebError> {
    parse_pairs(raw.unwrap_or_default().as_bytes())
}

/// A typed text field: trimmed, `None` when empty.
pub fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A checkbox: present (any value but "false"/"0"/"off") means ticked.
pub fn ticked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !matches!(s.trim(), "false" | "0" | "off"))
}

/// An amount typed in yuan (`12.50`) read into fen, exactly; the error names `name`.
pub fn yuan(lang: Lang, name: &str, typed: &str) -> Result<i64, WebError> {
    crate::domain::money::parse_yuan(typed).map_err(|e| {
        let zh = match &e {
            YuanParseError::Empty => "必填：请输入金额（元），如 12.50".to_string(),
            YuanParseError::NotANumber(t) => format!("“{t}”不是金额：请输入数字，最多一个小数点，如 12.50"),
            YuanParseError::TooManyDecimals(t) => format!("“{t}”超过两位小数：金额最小单位是分（0.01 元）"),
            YuanParseError::TooLarge(t) => format!("“{t}”太大"),
        };
        field(lang, name, zh, e.to_string())
    })
}

/// [`yuan`] of an optional field: empty is `None`.
pub fn opt_yuan(lang: Lang, name: &str, typed: &Option<String>) -> Result<Option<i64>, WebError> {
    text(typed).map(|t| yuan(lang, name, t)).transpose()
}

/// A whole number typed in a field (`-2`, `1250`); the error names `name`.
pub fn int(lang: Lang, name: &str, typed: &str) -> Result<i64, WebError> {
    let t = typed.trim();
    t.parse::<i64>().map_err(|_| {
        field(lang, name, format!("“{t}”不是整数：请输入如 12 或 -3 的整数"), format!("{t:?} is not a whole number; type e.g. 12 or -3"))
    })
}

/// [`int`] of an optional field: empty is `None`.
pub fn opt_int(lang: Lang, name: &str, typed: &Option<String>) -> Result<Option<i64>, WebError> {
    text(typed).map(|t| int(lang, name, t)).transpose()
}

/// The page number of `?page=` (1 when absent or not a number), at most [`MAX_PAGE`].
pub fn page_number(typed: &Option<String>) -> usize {
    text(typed).and_then(|t| t.parse::<usize>().ok()).unwrap_or(1).clamp(1, MAX_PAGE)
}

/// The `limit` of an API list: `default` when absent, 1 to [`MAX_LIMIT`].
pub fn limit(lang: Lang, typed: &Option<String>, default: usize) -> Result<usize, WebError> {
    match text(typed) {
        None => Ok(default),
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(field(lang, "limit", format!("须为 1 到 {MAX_LIMIT} 的整数，现为“{t}”"), format!("expected a whole number from 1 to {MAX_LIMIT}, got {t:?}"))),
        },
    }
}

/// The `offset` of an API list: 0 when absent.
pub fn offset(lang: Lang, typed: &Option<String>) -> Result<usize, WebError> {
    match text(typed) {
        None => Ok(0),
        Some(t) => t.parse::<usize>().ok().filter(|n| *n <= MAX_LIMIT * MAX_PAGE).ok_or_else(|| {
            field(lang, "offset", format!("须为不小于 0 的整数，现为“{t}”"), format!("expected a whole number from 0, got {t:?}"))
        }),
    }
}

/// A path segment or query value, percent-encoded (skus may hold `/`, `#`, `?`).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A URL with its query: `path?k=v&…`, values encoded, empty values left out.
pub fn url(path: &str, params: &[(&str, &str)]) -> String {
    let q: Vec<String> = params.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", enc(v))).collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// "Previous / page N / next" links of a list; `params` keeps the list's filters.
pub fn pager(lang: Lang, path: &str, params: &[(&str, &str)], page: usize, more: bool) -> Markup {
    let link = |p: usize| {
        let n = p.to_string();
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("page", &n));
        url(path, &all)
    };
    html! {
        nav.pager {
            @if page > 1 {
                a href=(link(page - 1)) { "‹ " (lang.pick("上一页", "Previous")) }
                " "
            }
            span.muted { (lang.pick("第", "Page ")) (page) (lang.pick(" 页", "")) }
            @if more {
                " "
                a href=(link(page + 1)) { (lang.pick("下一页", "Next")) " ›" }
            }
        }
    }
}

/// Field errors of a refused form: the one the error names, or none (then the page shows the
/// message at the top).
pub fn errors_of(e: &WebError) -> Vec<(String, String)> {
    e.field.iter().map(|f| (f.clone(), e.message.clone())).collect()
}

/// The message at the top of a refused form, when no field carries it.
pub fn form_message(e: Option<&WebError>) -> Markup {
    html! {
        @if let Some(e) = e.filter(|e| e.field.is_none()) {
            p.error role="alert" { (e.message) }
        }
    }
}

/// The hidden CSRF field and nothing else: the start of every form.
pub fn csrf(me: &Identity) -> Markup {
    super::page::csrf_field(me)
}

/// The manager pages' own stylesheet (a `<link>` in the body is allowed and applied at once).
pub fn styles() -> Markup {
    html! { link rel="stylesheet" href=(super::assets::url("manage.css")); }
}

/// A manager page: the shell of `page::render` with [`styles`] first in the body.
pub fn render(state: &super::AppState, me: &Identity, title: &str, body: Markup) -> Markup {
    super::page::render(state, Some(me), title, html! { (styles()) (body) })
}

/// Shop-local time of an instant, to the minute: `2026-11-25 17:00`.
pub fn local_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    crate::clock::local(at, tz).format("%Y-%m-%d %H:%M").to_string()
}

/// A quantity in a product's stock unit: pieces as they are, grams of weighed goods as kg with
/// three decimals (`1250` → `1.250 kg`, `-5` → `-0.005 kg`).
pub fn qty(unit: Option<crate::catalog::Unit>, n: i64) -> String {
    match unit {
        Some(crate::catalog::Unit::Kg) => {
            let sign = if n < 0 { "-" } else { "" };
            let a = n.unsigned_abs();
            format!("{sign}{}.{:03} kg", a / 1000, a % 1000)
        }
        _ => n.to_string(),
    }
}

/// Basis points as a percentage: `500` → `5%`, `950` → `9.5%`, `1` → `0.01%`.
pub fn percent(bp: u32) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    match frac {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

/// A multiplier in basis points: `10000` → `×1`, `15000` → `×1.5`, `12500` → `×1.25`.
pub fn multiplier(bp: u32) -> String {
    let (whole, frac) = (bp / 10_000, bp % 10_000);
    if frac == 0 {
        return format!("×{whole}");
    }
    let digits = format!("{frac:04}");
    format!("×{whole}.{}", digits.trim_end_matches('0'))
}

/// A CSV download: UTF-8 text, saved as `file_name`, never cached.
pub fn csv_attachment(file_name: &str, body: Vec<u8>) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_show_in_the_stock_unit() {
        assert_eq!(qty(Some(crate::catalog::Unit::Piece), 24), "24");
        assert_eq!(qty(Some(crate::catalog::Unit::Kg), 1250), "1.250 kg");
        assert_eq!(qty(Some(crate::catalog::Unit::Kg), -5), "-0.005 kg");
        assert_eq!(qty(None, -3), "-3");
    }

    #[test]
    fn rates_read_as_shoppers_say_them() {
        assert_eq!(percent(500), "5%");
        assert_eq!(percent(950), "9.5%");
        assert_eq!(percent(1), "0.01%");
        assert_eq!(percent(1300), "13%");
        assert_eq!(multiplier(10_000), "×1");
        assert_eq!(multiplier(15_000), "×1.5");
        assert_eq!(multiplier(12_500), "×1.25");
    }

    #[test]
    fn urls_keep_filters_and_encode_skus() {
        assert_eq!(enc("A/B 1"), "A%2FB%201");
        assert_eq!(url("/products", &[("q", "可乐"), ("category", "")]), "/products?q=%E5%8F%AF%E4%B9%90");
        assert_eq!(url("/stock", &[]), "/stock");
    }

    #[test]
    fn typed_numbers_name_their_field() {
        assert_eq!(yuan(Lang::En, "price", "12.5").ok(), Some(1250));
        let e = yuan(Lang::Zh, "price", "12.345").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("price"));
        assert!(e.message.contains("两位小数"), "{}", e.message);
        assert_eq!(int(Lang::En, "qty", "-2").ok(), Some(-2));
        assert_eq!(int(Lang::En, "qty", "2.5").unwrap_err().field.as_deref(), Some("qty"));
        assert_eq!(opt_int(Lang::En, "qty", &Some("  ".into())).ok(), Some(None));
        assert_eq!(page_number(&Some("0".into())), 1);
        assert_eq!(page_number(&Some("x".into())), 1);
        assert_eq!(limit(Lang::En, &Some("501".into()), 20).unwrap_err().field.as_deref(), Some("limit"));
    }
}
