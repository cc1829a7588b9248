//! Errors of the web: JSON `{code, message, field?}` for the API, an HTML page for pages. A
//! message names what was wrong (and the field, when one was); it never carries a secret.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error. `code` is stable for programs (`bad_request`, `forbidden` …); `message` is for
/// people; `field` names the body field or query parameter at fault.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebError {
    #[serde(skip)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl WebError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> WebError {
        WebError { status, code, message: message.into(), field: None }
    }

    /// 400 naming the field at fault.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> WebError {
        WebError { status: StatusCode::BAD_REQUEST, code: "invalid_field", message: message.into(), field: Some(field.into()) }
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn forbidden(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 409: the request is well formed but the state refuses it (an empty cart paid, a coupon
    /// already used …).
    pub fn conflict(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::CONFLICT, "refused", message)
    }

    pub fn internal(message: impl Into<String>) -> WebError {
        let message = message.into();
        tracing::error!(error = %message, "web request failed");
        WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(e: crate::store::StoreError) -> WebError {
        WebError::internal(e.to_string())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}

/// JSON body extractor whose rejection is a [`WebError`] naming the field (serde's path) and
/// the problem, instead of axum's plain-text rejection.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = WebError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, WebError> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                WebError::bad_request(format!("body: {e}"))
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body; the error names the field path (`lines[2].qty`) and what was wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, WebError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            WebError::bad_request(format!("body: {inner}"))
        } else {
            WebError::field(path, inner.to_string())
        }
    })
}

fn too_large() -> WebError {
    WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("the body is larger than {} bytes", super::MAX_BODY_BYTES))
}

/// Turns axum's bare 413 (body limit) into a JSON error for the API.
pub async fn payload_too_large(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE && res.headers().get(axum::http::header::CONTENT_TYPE).is_none_or(|v| !v.as_bytes().starts_with(b"application/json")) {
        return too_large().into_response();
    }
    res
}

/// Unknown routes: JSON under `/api/`, the 404 page elsewhere.
pub async fn not_found(axum::extract::State(state): axum::extract::State<super::AppState>, uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    if super::routes::is_api_path(uri.path()) {
        return WebError::not_found(format!("no route {}", uri.path())).into_response();
    }
    let me = state.auth.identify(&state.store, &headers).ok().flatten();
    let lang = me.as_ref().map_or(state.settings.default_lang, |m| m.lang);
    let body = maud::html! {
        h1 { (lang.pick("找不到这个页面", "Page not found")) }
        p { code { (uri.path()) } }
        p { a href="/" { (lang.pick("回到首页", "Back to the start page")) } }
    };
    (StatusCode::NOT_FOUND, super::page::render(&state, me.as_ref(), lang.pick("找不到页面", "Not found"), body)).into_response()
}
