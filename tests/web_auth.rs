//! Logins, sessions, CSRF and throttling over real HTTP.

mod common;

use common::web::{WebShop, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_logs_in_by_password_and_a_cashier_by_lane_and_pin() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    let who: serde_json::Value = shop.get(&m, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(who["role"], "manager");
    assert_eq!(who["lane"], serde_json::Value::Null);
    let c = shop.login("cashier1", Some("lane-1")).await;
    let who: serde_json::Value = shop.get(&c, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(who["lane"], "lane-1");
    // A wrong password is refused and names nothing about which part was wrong.
    assert_eq!(shop.try_login("manager1", None, "wrong-password").await.unwrap_err(), reqwest::StatusCode::UNAUTHORIZED);
    // A technician cannot take a lane.
    assert_eq!(shop.try_login("tech1", Some("lane-1"), PASSWORD).await.unwrap_err(), reqwest::StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    // Language switch: a form POST. Without the token: 403, and the language stays.
    // Its own client: the server closes the connection after a 413 without reading the body,
    // and the shared client could otherwise pick that closed connection for the next request.
    let once = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let res = once.post(shop.url("/lang")).header("cookie", &m.cookie).form(&[("lang", "en")]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let who: serde_json::Value = shop.get(&m, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(who["lang"], "zh-CN");
    // A wrong token: 403 too.
    let res = shop.http.post(shop.url("/lang")).header("cookie", &m.cookie).form(&[("lang", "en"), ("_csrf", "not-the-token")]).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // With the token as a form field: done, and remembered for the account's next login.
    let res = shop.http.post(shop.url("/lang")).header("cookie", &m.cookie).form(&[("lang", "en"), ("_csrf", m.csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let again = shop.login("manager1", None).await;
    let who: serde_json::Value = shop.get(&again, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(who["lang"], "en");
    // Logout needs the token as well (a cross-site form cannot log anyone out).
    let res = shop.http.post(shop.url("/logout")).header("cookie", &m.cookie).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(shop.get(&m, "/api/v1/session").await.status(), 200);
    // Another site's Origin is refused even with the token.
    let res = shop.http.post(shop.url("/logout")).header("cookie", &m.cookie).header("x-csrf-token", &m.csrf).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = shop.http.post(shop.url("/logout")).header("cookie", &m.cookie).header("x-csrf-token", &m.csrf).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(shop.get(&m, "/api/v1/session").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_needs_its_own_token() {
    let shop = WebShop::start().await;
    // No pre-login cookie, or a form token that differs from it: refused before any password check.
    let form = [("_csrf", "x".repeat(43)), ("mode", "password".into()), ("staff", "manager1".into()), ("password", PASSWORD.into())];
    let res = shop.http.post(shop.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let res = shop.http.post(shop.url("/login")).header("cookie", format!("sh_pre={}", "y".repeat(43))).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_failed_logins_from_one_address_throttle_it_until_the_window_passes() {
    let shop = WebShop::start().await;
    // Guessing across many accounts (each stays under its own lockout).
    for i in 0..10 {
        let r = shop.try_login(&format!("nobody{i}"), None, "wrong-password").await;
        assert_eq!(r.unwrap_err(), reqwest::StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The next attempt is throttled, even with the right password, and says when to come back.
    let page = shop.http.get(shop.url("/login")).send().await.unwrap();
    let pre = common::web::set_cookie_value(&page, "sh_pre").unwrap();
    let res = shop
        .http
        .post(shop.url("/login"))
        .header("cookie", format!("sh_pre={pre}"))
        .form(&[("_csrf", pre.as_str()), ("mode", "password"), ("staff", "manager1"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "Retry-After {retry}");
    // The JSON login is throttled the same way.
    let res = shop.http.post(shop.url("/api/v1/session")).json(&serde_json::json!({"mode": "password", "staff": "manager1", "password": PASSWORD})).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "throttled");
    // Five minutes later the window has passed.
    shop.clock.advance(chrono::Duration::seconds(301));
    shop.login("manager1", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expires_after_the_idle_time_and_at_logout() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    // Used within the idle time: still valid (each use refreshes it).
    shop.clock.advance(chrono::Duration::minutes(479));
    assert_eq!(shop.get(&m, "/api/v1/session").await.status(), 200);
    shop.clock.advance(chrono::Duration::minutes(479));
    assert_eq!(shop.get(&m, "/api/v1/session").await.status(), 200);
    // Idle for the whole time ([web].session_ttl_minutes = 480): gone.
    shop.clock.advance(chrono::Duration::minutes(480));
    assert_eq!(shop.get(&m, "/api/v1/session").await.status(), 401);
    // A page redirects to the login, remembering where it was going.
    let res = shop.get(&m, "/dashboard").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=%2Fdashboard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_names_the_field_big_bodies_get_413_and_unknown_routes_404() {
    let shop = WebShop::start().await;
    let res = shop.http.post(shop.url("/api/v1/session")).json(&serde_json::json!({"mode": "password", "staff": 7})).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["field"], "staff", "{body}");
    let m = shop.login("manager1", None).await;
    let big = "x".repeat(3 * 1024 * 1024);
    let res = shop.http.post(shop.url("/lang")).header("cookie", &m.cookie).header("x-csrf-token", &m.csrf).header("content-type", "application/x-www-form-urlencoded").body(big).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let res = shop.get(&m, "/api/v1/no-such-thing").await;
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
    let res = shop.get(&m, "/no-such-page").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("找不到这个页面"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_acts_with_its_role_and_an_unknown_one_is_refused() {
    let shop = WebShop::start().await;
    let token = storehub::web::auth::add_token(&shop.store, "hq-reporting", storehub::domain::staff::Role::Manager).unwrap();
    assert!(token.starts_with("shk_"));
    let res = shop.http.get(shop.url("/api/v1/session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let who: serde_json::Value = res.json().await.unwrap();
    assert_eq!(who["role"], "manager");
    assert_eq!(who["name"], "hq-reporting");
    // A token needs no CSRF token (no cookie is involved).
    let res = shop.http.post(shop.url("/lang")).bearer_auth(&token).form(&[("lang", "en")]).send().await.unwrap();
    assert_ne!(res.status(), 403);
    let res = shop.http.get(shop.url("/api/v1/session")).bearer_auth("shk_forged").send().await.unwrap();
    assert_eq!(res.status(), 401);
    // Only the hash is stored.
    let names: Vec<String> = storehub::web::auth::list_tokens(&shop.store).unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["hq-reporting"]);
    assert_eq!(storehub::web::auth::remove_tokens(&shop.store, "hq-reporting").unwrap(), 1);
    let res = shop.http.get(shop.url("/api/v1/session")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[test]
fn the_first_admin_and_api_tokens_are_made_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = common::storehub_with_stdin(&["--data-dir", d, "user", "add", "boss", "--role", "admin", "--password-stdin"], "a-long-password\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = common::storehub_cmd(&["--data-dir", d, "token", "add", "hq-reporting", "--role", "manager"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let added: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(added["token"].as_str().unwrap().starts_with("shk_"));
    let out = common::storehub_cmd(&["--data-dir", d, "token", "list"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("hq-reporting") && !text.contains("shk_"), "{text}");
    let out = common::storehub_cmd(&["--data-dir", d, "token", "add", "Bad Name", "--role", "manager"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("token name"));
    let out = common::storehub_cmd(&["--data-dir", d, "token", "remove", "hq-reporting"]);
    assert!(out.status.success());
    let out = common::storehub_cmd(&["--data-dir", d, "token", "remove", "hq-reporting"]);
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_api_route_and_health_needs_no_login() {
    let shop = WebShop::start().await;
    let health: serde_json::Value = shop.http.get(shop.url("/api/v1/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["ok"], true);
    let res = shop.http.get(shop.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let api_routes: Vec<_> = storehub::web::routes::table().into_iter().filter(|r| r.is_api()).collect();
    assert!(api_routes.len() >= 40, "{} API routes", api_routes.len());
    for r in &api_routes {
        let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        assert!(op["summary"].is_string() && op["x-storehub-permission"].is_string(), "{} {}: {op}", r.method, r.path);
    }
    // The cashier's pay body is described field by field.
    let pay = &doc["paths"]["/api/v1/lanes/{lane}/pay"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let name = pay.as_str().unwrap().rsplit('/').next().unwrap();
    assert!(doc["components"]["schemas"][name]["properties"]["tenders"].is_object(), "{}", doc["components"]["schemas"][name]);
}
