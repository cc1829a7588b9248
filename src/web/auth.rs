//! Who is calling: logins (password, or lane + PIN for cashiers), sessions, CSRF, login
//! throttling, API tokens for HQ's tools, and [`guard`], which every route passes through.
//!
//! - **Sessions** live in memory (a restart logs everyone out; carts are kept by the lanes). The
//!   cookie holds 32 random bytes; it is `HttpOnly`, `SameSite=Strict`, and over HTTPS `Secure`
//!   with the `__Host-` prefix. A session ends after `[web].session_ttl_minutes` idle, after
//!   [`MAX_SESSION_AGE`], at logout, or when the store's clock says so (tests move it).
//! - **CSRF**: every session has a token; every POST/PUT/DELETE with a session cookie must carry
//!   it (`X-CSRF-Token` header, or a `_csrf` form field). The login form, before any session,
//!   uses a double-submit cookie. Requests with an API token carry no cookie and need none.
//! - **Throttling** ([`domain::throttle`](crate::domain::throttle)): failed logins per client
//!   address and per account id; past the limit a login is answered 429 with `Retry-After`,
//!   before any password is checked. The account lockout of `staff` still applies.
//! - **API tokens**: `storehub token add NAME --role ROLE` prints a token once; the store keeps
//!   its SHA-256. `Authorization: Bearer <token>` acts with that role (no lane).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::html;
use serde::{Deserialize, Serialize};

use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::clock::Clock;
use crate::domain::staff::Role;
use crate::domain::throttle::{Throttle, ThrottlePolicy};
use crate::staff::StaffRef;
use crate::store::{codec::Record, Store, TreeId};

/// A session ends this long after login, however busy.
pub const MAX_SESSION_AGE: Duration = Duration::from_secs(24 * 3600);
/// Sessions kept at most; past it the least recently used is dropped.
pub const MAX_SESSIONS: usize = 4096;
/// The name of the pre-login CSRF cookie.
const PRE_COOKIE: &str = "sh_pre";

/// One login.
#[derive(Debug, Clone)]
struct Session {
    staff: StaffRef,
    lane: Option<String>,
    lang: Lang,
    csrf: String,
    created: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    Token,
}

/// The caller of a request that passed [`guard`]; handlers take it with `Extension<Identity>`
/// (or `Option<Extension<Identity>>` on public routes).
#[derive(Debug, Clone)]
pub struct Identity {
    pub staff: StaffRef,
    /// The lane this login is for (a cashier's lane + PIN login).
    pub lane: Option<String>,
    pub lang: Lang,
    pub csrf: String,
    pub via: Via,
    /// The session id (empty for a token).
    pub session: String,
}

/// Sessions, throttle and the clock.
pub struct Auth {
    clock: Arc<dyn Clock>,
    ttl: Duration,
    sessions: Mutex<HashMap<String, Session>>,
    throttle: Mutex<Throttle>,
    policy: ThrottlePolicy,
}

/// A stored API token (its key is the token's SHA-256 in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl Record for ApiToken {
    const NAME: &'static str = "API token";
}

/// A staff member's page settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffPrefs {
    pub lang: Lang,
}

impl Record for StaffPrefs {
    const NAME: &'static str = "staff preferences";
}

fn random_token() -> String {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    // The system RNG does not fail on Linux; if it ever did, a zeroed token would be guessable,
    // so fall back to a fresh UUID pair rather than go on.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        bytes[..16].copy_from_slice(a.as_bytes());
        bytes[16..].copy_from_slice(b.as_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256_hex(s: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Creates an API token for HQ's tools; returns the token (shown once; only its hash is kept).
pub fn add_token(store: &Store, name: &str, role: Role) -> Result<String, crate::store::StoreError> {
    let token = format!("shk_{}", random_token());
    let rec = ApiToken { name: name.to_string(), role, created_at: store.clock().now() };
    let key = sha256_hex(&token);
    store.commit(|tx| -> Result<(), crate::store::TxError<std::convert::Infallible>> {
        tx.put(TreeId::ApiTokens, key.as_bytes(), &rec)?;
        Ok(())
    }).map_err(crate::store::CommitError::into_store)?;
    Ok(token)
}

/// The tokens, by name (never the token itself).
pub fn list_tokens(store: &Store) -> Result<Vec<ApiToken>, crate::store::StoreError> {
    store.scan::<ApiToken>(TreeId::ApiTokens).map(|r| r.map(|(_, t)| t)).collect()
}

/// Removes every token called `name`; returns how many.
pub fn remove_tokens(store: &Store, name: &str) -> Result<usize, crate::store::StoreError> {
    let keys: Vec<Vec<u8>> = store
        .scan::<ApiToken>(TreeId::ApiTokens)
        .filter_map(|r| r.ok())
        .filter(|(_, t)| t.name == name)
        .map(|(k, _)| k)
        .collect();
    let n = keys.len();
    store.commit(|tx| -> Result<(), crate::store::TxError<std::convert::Infallible>> {
        for k in &keys {
            tx.remove(TreeId::ApiTokens, k)?;
        }
        Ok(())
    }).map_err(crate::store::CommitError::into_store)?;
    Ok(n)
}

impl Auth {
    pub fn new(clock: Arc<dyn Clock>, ttl: Duration) -> Auth {
        Auth { clock, ttl, sessions: Mutex::new(HashMap::new()), throttle: Mutex::new(Throttle::default()), policy: ThrottlePolicy::default() }
    }

    /// Tests use a tighter throttle.
    pub fn with_policy(mut self, policy: ThrottlePolicy) -> Auth {
        self.policy = policy;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a session; returns its id.
    pub fn start(&self, staff: StaffRef, lane: Option<String>, lang: Lang) -> String {
        let id = random_token();
        let now = self.now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| !self.expired(s, now));
            if sessions.len() >= MAX_SESSIONS {
                if let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone()) {
                    sessions.remove(&oldest);
                }
            }
        }
        sessions.insert(id.clone(), Session { staff, lane, lang, csrf: random_token(), created: now, last_seen: now });
        id
    }

    fn expired(&self, s: &Session, now: DateTime<Utc>) -> bool {
        let idle = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::MAX);
        let age = chrono::Duration::from_std(MAX_SESSION_AGE).unwrap_or(chrono::Duration::MAX);
        now - s.last_seen >= idle || now - s.created >= age
    }

    /// Ends a session.
    pub fn end(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    /// Ends every session of `staff` (deactivated, role changed, password reset).
    pub fn end_all_of(&self, staff: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, s| s.staff.id != staff);
    }

    /// Whether a session still stands (not ended, not expired), without counting this as use:
    /// open event streams ask it so that a logout or an expiry ends them.
    pub fn alive(&self, id: &str) -> bool {
        let now = self.now();
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get(id).is_some_and(|s| !self.expired(s, now))
    }

    /// Changes a session's language.
    pub fn set_lang(&self, id: &str, lang: Lang) {
        if let Some(s) = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id) {
            s.lang = lang;
        }
    }

    /// The session named by the cookie, refreshed; `None` when there is none or it expired.
    fn session(&self, id: &str) -> Option<Identity> {
        let now = self.now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let s = sessions.get_mut(id)?;
        if self.expired(s, now) {
            sessions.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(Identity { staff: s.staff.clone(), lane: s.lane.clone(), lang: s.lang, csrf: s.csrf.clone(), via: Via::Session, session: id.to_string() })
    }

    /// Who the headers say is calling: a bearer token, else the session cookie.
    /// `Err` for a bearer token that is not known (never falls back to a cookie).
    pub fn identify(&self, store: &Store, headers: &HeaderMap) -> Result<Option<Identity>, WebError> {
        if let Some(v) = headers.get(header::AUTHORIZATION) {
            let v = v.to_str().unwrap_or_default();
            let Some(token) = v.strip_prefix("Bearer ").map(str::trim) else {
                return Err(WebError::unauthorized("Authorization: expected `Bearer <token>`"));
            };
            let key = sha256_hex(token);
            return match store.get::<ApiToken>(TreeId::ApiTokens, key.as_bytes())? {
                Some(t) => Ok(Some(Identity {
                    staff: StaffRef { id: format!("token:{}", t.name), name: t.name, role: t.role },
                    lane: None,
                    lang: Lang::En,
                    csrf: String::new(),
                    via: Via::Token,
                    session: String::new(),
                })),
                None => Err(WebError::unauthorized("unknown API token; `storehub token add` makes one")),
            };
        }
        let name = session_cookie_name(false);
        let https_name = session_cookie_name(true);
        Ok(cookie(headers, https_name).or_else(|| cookie(headers, name)).and_then(|id| self.session(&id)))
    }

    /// `Some(wait)` when `keys` (client address, account) have failed too often.
    pub fn throttled(&self, keys: &[&str]) -> Option<Duration> {
        let now = self.now();
        let t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        keys.iter().filter_map(|k| t.check(&self.policy, k, now)).max()
    }

    pub(crate) fn failed(&self, keys: &[&str]) {
        let now = self.now();
        let mut t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            t.fail(&self.policy, k, now);
        }
    }

    pub(crate) fn succeeded(&self, keys: &[&str]) {
        let mut t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            t.succeed(k);
        }
    }
}

fn session_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-sh_session"
    } else {
        "sh_session"
    }
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if state.settings.https {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("sh_invalid=1"))
}

/// The client's address for throttling.
pub(crate) fn client_addr(req: &Request) -> String {
    req.extensions().get::<ConnectInfo<super::ClientAddr>>().map_or_else(|| "unknown".to_string(), |c| c.0 .0.ip().to_string())
}

/// The middleware in front of every route: finds the caller, checks the route's [`Need`] and
/// the CSRF token, and hands the [`Identity`] to the handler. Pages without a login redirect to
/// `/login`; the API answers 401/403 as JSON.
pub async fn guard(State((state, need)): State<(AppState, Need)>, mut req: Request, next: Next) -> Response {
    let api = super::routes::is_api_path(req.uri().path()) || super::routes::is_machine_path(req.uri().path());
    let me = match state.auth.identify(&state.store, req.headers()) {
        Ok(me) => me,
        Err(e) => return e.into_response(),
    };
    if need != Need::Public {
        let Some(me) = &me else {
            if api {
                return WebError::unauthorized("log in first (POST /login) or send `Authorization: Bearer <token>`").into_response();
            }
            let next_path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
            return Redirect::to(&format!("/login?next={}", urlencode(&next_path))).into_response();
        };
        if !need.role_allowed(me.staff.role) {
            return forbidden(&state, Some(me), api, "your role may not open this");
        }
        if let Need::Lane(_) = need {
            let lane = lane_of(&mut req).await;
            if lane.is_none() || me.lane != lane {
                return forbidden(&state, Some(me), api, "this login is not for that lane; log in at the lane with your PIN");
            }
        }
    }
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method {
        match &me {
            Some(m) if m.via == Via::Session => {
                let (r, ok) = csrf_ok(req, &m.csrf).await;
                req = r;
                if !ok {
                    return csrf_refused(&state, me.as_ref(), api);
                }
            }
            _ => {}
        }
        // Same-origin check for browsers that send Origin (defence in depth beside the token).
        if let (Some(origin), Some(host)) = (req.headers().get(header::ORIGIN), req.headers().get(header::HOST)) {
            let origin = origin.to_str().unwrap_or_default();
            let host = host.to_str().unwrap_or_default();
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            if origin != "null" && origin_host != host {
                return csrf_refused(&state, me.as_ref(), api);
            }
        }
    }
    if let Some(me) = me {
        req.extensions_mut().insert(me);
    }
    next.run(req).await
}

async fn lane_of(req: &mut Request) -> Option<String> {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = std::mem::take(req).into_parts();
    let params = axum::extract::RawPathParams::from_request_parts(&mut parts, &()).await.ok();
    let lane = params.and_then(|p| p.iter().find(|(k, _)| *k == "lane").map(|(_, v)| v.to_string()));
    *req = Request::from_parts(parts, body);
    lane
}

/// Checks the CSRF token: the `X-CSRF-Token` header, or `_csrf` in a form body (the body is
/// read, bounded, and put back) or in the query (multipart uploads).
async fn csrf_ok(req: Request, expected: &str) -> (Request, bool) {
    if let Some(v) = req.headers().get("x-csrf-token") {
        let ok = same(v.to_str().unwrap_or_default(), expected);
        return (req, ok);
    }
    if let Some(q) = req.uri().query() {
        if let Some(v) = form_value(q.as_bytes(), "_csrf") {
            let ok = same(&v, expected);
            return (req, ok);
        }
    }
    let is_form = req.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/x-www-form-urlencoded"));
    if !is_form {
        return (req, false);
    }
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, super::MAX_BODY_BYTES).await {
        Ok(bytes) => {
            let ok = form_value(&bytes, "_csrf").is_some_and(|v| same(&v, expected));
            (Request::from_parts(parts, axum::body::Body::from(bytes)), ok)
        }
        Err(_) => (Request::from_parts(parts, axum::body::Body::empty()), false),
    }
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).ok()?.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|e| e.trim_start_matches('=').to_string()).unwrap_or_default()
}

fn forbidden(state: &AppState, me: Option<&Identity>, api: bool, why: &str) -> Response {
    if api {
        return WebError::forbidden(why).into_response();
    }
    let lang = me.map_or(state.settings.default_lang, |m| m.lang);
    let body = html! {
        h1 { (lang.pick("没有权限", "Not allowed")) }
        p { (lang.pick("你的账号不能打开这个页面。", "Your account may not open this page.")) }
        p { a href="/" { (lang.pick("回到首页", "Back to the start page")) } }
    };
    (StatusCode::FORBIDDEN, page::render(state, me, lang.pick("没有权限", "Not allowed"), body)).into_response()
}

fn csrf_refused(state: &AppState, me: Option<&Identity>, api: bool) -> Response {
    if api {
        return WebError::forbidden("missing or wrong CSRF token (X-CSRF-Token header or _csrf field)").into_response();
    }
    let lang = me.map_or(state.settings.default_lang, |m| m.lang);
    let body = html! {
        h1 { (lang.pick("页面已过期", "This page has expired")) }
        p { (lang.pick("请刷新页面后再试。", "Reload the page and try again.")) }
    };
    (StatusCode::FORBIDDEN, page::render(state, me, lang.pick("页面已过期", "Expired"), body)).into_response()
}

// --- routes ------------------------------------------------------------------------------------

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/", Need::Public, "Start page: the login's home (till, dashboard or devices)", home),
        RouteDef::get("/login", Need::Public, "Login page", login_page),
        RouteDef::post("/login", Need::Public, "Log in (form: password, or lane + PIN)", login_submit),
        RouteDef::post("/logout", Need::Login, "Log out", logout),
        RouteDef::post("/lang", Need::Login, "Switch the page language of this account", switch_lang),
        RouteDef::get("/api/v1/session", Need::Login, "Who is logged in", whoami).returns::<SessionView>(),
        RouteDef::get("/api/v1/health", Need::Public, "Liveness for monitors: the web answers and the version", health),
        RouteDef::post("/api/v1/session", Need::Public, "Log in from a script: JSON, answers with the session cookie and CSRF token", api_login)
            .body::<LoginBody>()
            .returns::<SessionView>(),
    ]
}

/// Where a login lands.
fn home_of(me: &Identity) -> String {
    use crate::domain::staff::{allows, Action};
    if let Some(lane) = &me.lane {
        return format!("/cashier/{lane}");
    }
    if allows(me.staff.role, Action::ViewSales) {
        "/dashboard".into()
    } else if allows(me.staff.role, Action::ViewDevices) {
        "/devices".into()
    } else {
        "/members".into()
    }
}

async fn home(me: Option<axum::Extension<Identity>>) -> Response {
    match me {
        Some(axum::Extension(me)) => Redirect::to(&home_of(&me)).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    lane: Option<String>,
}

/// A `next` that stays on this site.
fn safe_next(next: Option<&str>) -> Option<String> {
    let n = next?;
    (n.starts_with('/') && !n.starts_with("//") && !n.contains('\\')).then(|| n.to_string())
}

async fn login_page(State(state): State<AppState>, axum::extract::Query(q): axum::extract::Query<LoginQuery>, headers: HeaderMap) -> Response {
    let pre = cookie(&headers, PRE_COOKIE).filter(|v| v.len() >= 32).unwrap_or_else(random_token);
    let lanes = state.ctx.checkout.as_ref().map(|c| c.lane_ids.clone()).unwrap_or_default();
    let markup = login_markup(&state, state.settings.default_lang, &pre, &lanes, q.next.as_deref(), q.lane.as_deref(), None);
    let mut res = markup.into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, PRE_COOKIE, &pre, None));
    res
}

fn login_markup(state: &AppState, lang: Lang, pre: &str, lanes: &[String], next: Option<&str>, lane: Option<&str>, error: Option<&str>) -> maud::Markup {
    let next = safe_next(next).unwrap_or_default();
    let body = html! {
        section.login {
            h1 { (lang.pick("登录", "Log in")) }
            @if let Some(e) = error {
                p.error role="alert" { (e) }
            }
            div.login-forms {
                form.card method="post" action="/login" {
                    h2 { (lang.pick("收银台登录", "Till login")) }
                    input type="hidden" name="_csrf" value=(pre);
                    input type="hidden" name="mode" value="pin";
                    input type="hidden" name="next" value=(next);
                    label { (lang.pick("收银台", "Lane"))
                        select name="lane" required {
                            @for l in lanes {
                                option value=(l) selected[lane == Some(l.as_str())] { (l) }
                            }
                        }
                    }
                    label { (lang.pick("工号", "Staff id")) input name="staff" autocomplete="username" required; }
                    label { "PIN" input name="pin" type="password" inputmode="numeric" autocomplete="current-password" required; }
                    button type="submit" { (lang.pick("开始收银", "Start selling")) }
                }
                form.card method="post" action="/login" {
                    h2 { (lang.pick("店长 / 管理员登录", "Manager / admin login")) }
                    input type="hidden" name="_csrf" value=(pre);
                    input type="hidden" name="mode" value="password";
                    input type="hidden" name="next" value=(next);
                    label { (lang.pick("用户名", "Username")) input name="staff" autocomplete="username" required; }
                    label { (lang.pick("密码", "Password")) input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { (lang.pick("登录", "Log in")) }
                }
            }
        }
    };
    page::render(state, None, lang.pick("登录", "Log in"), body)
}

/// The login form, and the JSON login's body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    /// `password` (username + password) or `pin` (lane + staff id + PIN).
    pub mode: String,
    pub staff: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default)]
    pub lane: Option<String>,
    #[serde(default)]
    #[schema(ignore)]
    pub next: Option<String>,
    #[serde(default, rename = "_csrf")]
    #[schema(ignore)]
    pub csrf: Option<String>,
}

/// Who is logged in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub staff: String,
    pub name: String,
    pub role: String,
    pub lane: Option<String>,
    pub lang: Lang,
    /// Send it as `X-CSRF-Token` with every POST, PUT and DELETE.
    pub csrf_token: String,
}

fn view(me: &Identity) -> SessionView {
    SessionView {
        staff: me.staff.id.clone(),
        name: me.staff.name.clone(),
        role: me.staff.role.as_str().to_string(),
        lane: me.lane.clone(),
        lang: me.lang,
        csrf_token: me.csrf.clone(),
    }
}

/// Why a login failed, in words for the login page.
enum LoginFailure {
    Throttled(Duration),
    Refused(String),
}

/// Checks a login: throttle, credentials, lane. On success starts the session.
async fn do_login(state: &AppState, addr: &str, body: &LoginBody) -> Result<(String, Identity), LoginFailure> {
    let lang = state.settings.default_lang;
    let account_key = format!("staff:{}", body.staff.trim());
    if let Some(wait) = state.auth.throttled(&[addr, &account_key]) {
        return Err(LoginFailure::Throttled(wait));
    }
    let (staff_id, mode) = (body.staff.trim().to_string(), body.mode.clone());
    let lane = match mode.as_str() {
        "pin" => {
            let lane = body.lane.clone().unwrap_or_default();
            let known = state.ctx.checkout.as_ref().is_some_and(|c| c.lane_ids.contains(&lane));
            if !known {
                return Err(LoginFailure::Refused(format!("{} {lane:?}", lang.pick("没有这个收银台:", "no such lane:"))));
            }
            Some(lane)
        }
        "password" => None,
        other => return Err(LoginFailure::Refused(format!("mode: expected password or pin, got {other:?}"))),
    };
    let secret = if lane.is_some() { body.pin.clone() } else { body.password.clone() }.unwrap_or_default();
    let lane_for_task = lane.clone();
    let result = state
        .blocking(move |store, ctx| {
            let who = match lane_for_task {
                Some(_) => crate::staff::login_pin(store, &staff_id, &secret),
                None => crate::staff::login_password(store, &staff_id, &secret),
            };
            let who = match who {
                Ok(w) => w,
                Err(e) => return Ok(Err(e.to_string())),
            };
            if let Some(lane) = &lane_for_task {
                if !who.may(crate::domain::staff::Action::Sell) {
                    return Ok(Err(format!("{} may not sell at a lane", who.id)));
                }
                if let Some(setup) = &ctx.checkout {
                    let lanes = ctx.lanes.get(store, setup, &ctx.layouts).map_err(WebError::internal)?;
                    if let Err(e) = lanes.sign_in(lane, &who) {
                        return Ok(Err(e.to_string()));
                    }
                }
            }
            let lang = store.get::<StaffPrefs>(TreeId::StaffPrefs, who.id.as_bytes())?.map(|p| p.lang);
            Ok(Ok((who, lang)))
        })
        .await;
    match result {
        Ok(Ok((who, pref))) => {
            state.auth.succeeded(&[&account_key]);
            let lang = pref.unwrap_or(state.settings.default_lang);
            let id = state.auth.start(who, lane, lang);
            let me = state.auth.session(&id).ok_or_else(|| LoginFailure::Refused("session ended at once".into()))?;
            tracing::info!(staff = %me.staff.id, lane = ?me.lane, client = %addr, "web login");
            Ok((id, me))
        }
        Ok(Err(msg)) => {
            state.auth.failed(&[addr, &account_key]);
            tracing::info!(staff = %body.staff.trim(), client = %addr, "web login refused");
            Err(LoginFailure::Refused(msg))
        }
        Err(e) => Err(LoginFailure::Refused(e.message)),
    }
}

async fn login_submit(State(state): State<AppState>, req: Request) -> Response {
    let addr = client_addr(&req);
    let headers = req.headers().clone();
    let bytes = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => return WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "login form too large").into_response(),
    };
    let lang = state.settings.default_lang;
    let lanes = state.ctx.checkout.as_ref().map(|c| c.lane_ids.clone()).unwrap_or_default();
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
    let body: LoginBody = match serde_urlencoded::from_bytes(&bytes) {
        Ok(b) => b,
        Err(e) => {
            let m = login_markup(&state, lang, &pre, &lanes, None, None, Some(&format!("{}: {e}", lang.pick("表单有误", "bad form"))));
            return (StatusCode::BAD_REQUEST, m).into_response();
        }
    };
    // Double-submit: the form's token must equal the cookie set with the form.
    if pre.len() < 32 || !body.csrf.as_deref().is_some_and(|c| same(c, &pre)) {
        let m = login_markup(&state, lang, &random_token(), &lanes, body.next.as_deref(), body.lane.as_deref(), Some(lang.pick("页面已过期，请重新登录。", "The page expired; log in again.")));
        return (StatusCode::FORBIDDEN, m).into_response();
    }
    match do_login(&state, &addr, &body).await {
        Ok((id, me)) => {
            let to = safe_next(body.next.as_deref()).filter(|n| n != "/login" && !n.starts_with("/login?")).unwrap_or_else(|| home_of(&me));
            let mut res = Redirect::to(&to).into_response();
            res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, session_cookie_name(state.settings.https), &id, None));
            res
        }
        Err(LoginFailure::Throttled(wait)) => {
            let msg = format!("{} {} s", lang.pick("登录失败次数过多，请稍后再试:", "Too many failed logins; try again in"), wait.as_secs());
            let mut res = (StatusCode::TOO_MANY_REQUESTS, login_markup(&state, lang, &pre, &lanes, body.next.as_deref(), body.lane.as_deref(), Some(&msg))).into_response();
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
            res
        }
        Err(LoginFailure::Refused(msg)) => (StatusCode::UNAUTHORIZED, login_markup(&state, lang, &pre, &lanes, body.next.as_deref(), body.lane.as_deref(), Some(&msg))).into_response(),
    }
}

async fn api_login(State(state): State<AppState>, req: Request) -> Response {
    let addr = client_addr(&req);
    let bytes = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => return WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "login body too large").into_response(),
    };
    let body: LoginBody = match super::error::parse_json(&bytes) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match do_login(&state, &addr, &body).await {
        Ok((id, me)) => {
            let mut res = axum::Json(view(&me)).into_response();
            res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, session_cookie_name(state.settings.https), &id, None));
            res
        }
        Err(LoginFailure::Throttled(wait)) => {
            let mut res = WebError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", format!("too many failed logins; try again in {} s", wait.as_secs())).into_response();
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
            res
        }
        Err(LoginFailure::Refused(msg)) => WebError::unauthorized(msg).into_response(),
    }
}

async fn logout(State(state): State<AppState>, axum::Extension(me): axum::Extension<Identity>) -> Response {
    state.auth.end(&me.session);
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(header::SET_COOKIE, set_cookie(&state, session_cookie_name(state.settings.https), "", Some(Duration::ZERO)));
    res
}

#[derive(Debug, Deserialize)]
struct LangForm {
    lang: String,
}

async fn switch_lang(State(state): State<AppState>, axum::Extension(me): axum::Extension<Identity>, headers: HeaderMap, axum::Form(f): axum::Form<LangForm>) -> Response {
    let Some(lang) = Lang::parse(&f.lang) else {
        return WebError::field("lang", format!("expected zh-CN or en, got {:?}", f.lang)).into_response();
    };
    state.auth.set_lang(&me.session, lang);
    let id = me.staff.id.clone();
    let saved = state
        .blocking(move |store, _| {
            store
                .commit(|tx| -> Result<(), crate::store::TxError<std::convert::Infallible>> {
                    tx.put(TreeId::StaffPrefs, id.as_bytes(), &StaffPrefs { lang })?;
                    Ok(())
                })
                .map_err(|e| WebError::from(e.into_store()))
        })
        .await;
    if let Err(e) = saved {
        return e.into_response();
    }
    // Back to the page the switch was pressed on.
    let back = headers.get(header::REFERER).and_then(|v| v.to_str().ok()).and_then(|r| r.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))).and_then(|p| safe_next(Some(&p))).unwrap_or_else(|| home_of(&me));
    Redirect::to(&back).into_response()
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "ok": true, "version": env!("CARGO_PKG_VERSION") }))
}

async fn whoami(axum::Extension(me): axum::Extension<Identity>) -> axum::Json<SessionView> {
    axum::Json(view(&me))
}
