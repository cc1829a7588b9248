//! Every route of the web × every kind of caller: anonymous, each role, and a cashier at another
//! lane. The routes come from the same table the router is built from
//! (`storehub::web::routes::table`), so a new route is checked here without editing this file.
//! Expected: an anonymous caller of a non-public route gets 401 (API, /metrics) or a redirect to the login
//! page; a role the route's `Need` does not allow gets 403; an allowed caller gets neither (what
//! it then gets depends on the (empty) request: 200, 400, 404, 409 …).

mod common;

use common::web::{account_of, Login, WebShop};
use storehub::domain::staff::Role;
use storehub::web::routes::{table, Need};

/// A concrete path for a route pattern: `{lane}` → lane-1, other parameters → a placeholder
/// that names nothing real.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{lane}" => "lane-1".to_string(),
            "{name}" => "app.css".to_string(),
            s if s.starts_with('{') => "1".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Who calls: a role, logged in at a lane or by password.
#[derive(Debug, Clone, Copy)]
struct Caller {
    role: Role,
    lane: Option<&'static str>,
}

const CALLERS: [Caller; 6] = [
    Caller { role: Role::Cashier, lane: Some("lane-1") },
    Caller { role: Role::Cashier, lane: Some("lane-2") },
    Caller { role: Role::Manager, lane: None },
    Caller { role: Role::Technician, lane: None },
    Caller { role: Role::Admin, lane: None },
    Caller { role: Role::Admin, lane: Some("lane-1") },
];

fn allowed(need: Need, c: Caller) -> bool {
    match need {
        Need::Lane(_) => need.role_allowed(c.role) && c.lane == Some("lane-1"),
        _ => need.role_allowed(c.role),
    }
}

async fn call(shop: &WebShop, method: &reqwest::Method, path: &str, login: Option<&Login>) -> reqwest::StatusCode {
    let mut req = shop.http.request(method.clone(), shop.url(path));
    if let Some(l) = login {
        req = req.header("cookie", &l.cookie).header("x-csrf-token", &l.csrf);
    }
    if *method != reqwest::Method::GET {
        req = req.json(&serde_json::json!({}));
    }
    // Event streams answer their headers and then stay open: the status is all we need.
    req.send().await.expect("request").status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_its_need_says() {
    let shop = WebShop::start().await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in table() {
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes()).expect("method");
        let path = concrete(route.path);
        // Anonymous.
        let status = call(&shop, &method, &path, None).await;
        let ok = match route.need {
            Need::Public => status != 401 && status != 403,
            _ if route.answers_401() => status == 401,
            _ => status == 303,
        };
        if !ok {
            failures.push(format!("anonymous {} {} → {status}", route.method, route.path));
        }
        for caller in CALLERS {
            // A fresh login per call: some routes end or change the session (logout).
            let login = shop.login(account_of(caller.role), caller.lane).await;
            let status = call(&shop, &method, &path, Some(&login)).await;
            let expect_allowed = allowed(route.need, caller);
            let ok = if expect_allowed { status != 401 && status != 403 } else { status == 403 };
            if !ok {
                failures.push(format!("{:?} at {:?}: {} {} → {status} (expected {})", caller.role, caller.lane, route.method, route.path, if expect_allowed { "allowed" } else { "403" }));
            }
            checked += 1;
            // Logging in at a lane signs the cashier in there; keep the lanes as they were.
            shop.state.auth.end(&login.cookie.trim_start_matches("sh_session="));
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 6 * 8, "only {checked} checks: is the route table empty?");
}
