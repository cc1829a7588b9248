//! A shop with its web server, in this test process: a durable store on a manual clock (09:00
//! on opening day), the demo config's two lanes, one account per role (password
//! [`PASSWORD`], PIN [`PIN`]), a shift open at lane-1, the real router served on a free
//! loopback port, and [`Login`]s made through the real login form.
#![allow(dead_code)]

use std::sync::Arc;

use storehub::clock::ManualClock;
use storehub::control::ops::Context;
use storehub::domain::staff::Role;
use storehub::store::{Durability, Store};
use storehub::web::{AppState, Settings};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct-horse-1";
pub const PIN: &str = "1357";
/// One account per role: (id, role).
pub const ACCOUNTS: [(&str, Role); 4] = [("cashier1", Role::Cashier), ("manager1", Role::Manager), ("tech1", Role::Technician), ("admin1", Role::Admin)];

/// The account id of a role in [`ACCOUNTS`].
pub fn account_of(role: Role) -> &'static str {
    ACCOUNTS.iter().find(|(_, r)| *r == role).map(|(id, _)| *id).unwrap_or("admin1")
}

pub struct WebShop {
    /// The devices the config of [`WebShop::start_with`] named, started as the daemon starts them.
    pub devices: Option<storehub::devices::hub::DeviceHub>,
    pub dir: TempDir,
    pub clock: ManualClock,
    pub store: Arc<Store>,
    pub state: AppState,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A logged-in client: its session cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Login {
    pub cookie: String,
    pub csrf: String,
}

impl WebShop {
    /// Starts the shop and its server. Call inside a multi-threaded tokio runtime.
    pub async fn start() -> WebShop {
        WebShop::start_with(|_| {}).await
    }

    /// [`WebShop::start`] with `edit` applied to the config once the demo's simulated devices
    /// are removed. Devices it adds are started as `storehub run` starts them
    /// (`daemon::start_devices`), their health board in the context.
    pub async fn start_with(edit: impl FnOnce(&mut storehub::config::Config)) -> WebShop {
        WebShop::start_in(tempfile::tempdir().expect("temp dir"), edit).await
    }

    /// [`WebShop::start_with`] with its data dir in `dir` (e.g. on a small filesystem).
    pub async fn start_in(dir: TempDir, edit: impl FnOnce(&mut storehub::config::Config)) -> WebShop {
        let clock = ManualClock::new(super::opening_time());
        let store = Arc::new(super::open_store(dir.path(), &clock, Durability::Durable));
        let mut cfg = storehub::config::Config::demo().expect("demo config");
        cfg.devices.clear();
        edit(&mut cfg);
        let ctx = Context {
            layouts: cfg.barcode_layouts(),
            snapshots_keep: 2,
            started_at: super::opening_time(),
            checkout: Some(storehub::control::lanes::CheckoutSetup::from_config(&cfg)),
            lanes: Default::default(),
            tz: cfg.timezone(),
            loyalty: storehub::members::LoyaltyRules::for_shop(&cfg),
            devices: Default::default(),
            cloud: Default::default(),
            campaigns: storehub::members::campaigns::CampaignSettings::from_config(&cfg),
            messages: storehub::members::messages::MessageRules::from_config(&cfg),
            tickets: storehub::members::tickets::TicketRules::from_config(&cfg),
            stock: cfg.stock,
            attendance: cfg.attendance,
            recommend: storehub::members::recommend::RecommendSettings::from_config(&cfg),
        };
        let cost = storehub::staff::HashCost::minimal_for_tests();
        for (id, role) in ACCOUNTS {
            let new = storehub::staff::NewStaff { id: id.into(), name: format!("{id} 名"), role };
            let pin = (role != Role::Technician).then_some(PIN);
            storehub::staff::create_staff(&store, &new, PASSWORD, pin, &cost).expect("staff");
        }
        storehub::staff::open_shift(&store, "lane-1", "cashier1", 20_000).expect("shift");
        let devices = storehub::daemon::start_devices(&cfg, &store, &ctx).expect("devices");
        let state = AppState::new(Arc::clone(&store), Arc::new(ctx), Settings::from_config(&cfg, false));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            let _ = storehub::web::serve(listener, serving, async move {
                let _ = stopped.await;
            })
            .await;
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        WebShop { devices, dir, clock, store, state, base, http, stop: Some(stop) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Logs in through the login form: by password, or at `lane` by PIN.
    pub async fn login(&self, staff: &str, lane: Option<&str>) -> Login {
        self.try_login(staff, lane, if lane.is_some() { PIN } else { PASSWORD }).await.unwrap_or_else(|status| panic!("login of {staff} refused: {status}"))
    }

    /// The login form's answer: Ok with the session, or the status.
    pub async fn try_login(&self, staff: &str, lane: Option<&str>, secret: &str) -> Result<Login, reqwest::StatusCode> {
        let page = self.http.get(self.url("/login")).send().await.expect("login page");
        let pre_cookie = set_cookie_value(&page, "sh_pre").expect("sh_pre cookie");
        let mut form = vec![("_csrf", pre_cookie.clone()), ("staff", staff.to_string())];
        match lane {
            Some(l) => {
                form.push(("mode", "pin".into()));
                form.push(("lane", l.into()));
                form.push(("pin", secret.into()));
            }
            None => {
                form.push(("mode", "password".into()));
                form.push(("password", secret.into()));
            }
        }
        let res = self.http.post(self.url("/login")).header("cookie", format!("sh_pre={pre_cookie}")).form(&form).send().await.expect("login post");
        if res.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(res.status());
        }
        let cookie = set_cookie_value(&res, "sh_session").expect("session cookie");
        let who: serde_json::Value = self
            .http
            .get(self.url("/api/v1/session"))
            .header("cookie", format!("sh_session={cookie}"))
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("session json");
        Ok(Login { cookie: format!("sh_session={cookie}"), csrf: who["csrf_token"].as_str().unwrap_or_default().to_string() })
    }

    /// GET with a login.
    pub async fn get(&self, login: &Login, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).header("cookie", &login.cookie).send().await.expect("get")
    }

    /// POST a JSON body with a login and its CSRF token.
    pub async fn post_json(&self, login: &Login, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http.post(self.url(path)).header("cookie", &login.cookie).header("x-csrf-token", &login.csrf).json(body).send().await.expect("post")
    }

    /// Any method with a JSON body, a login and its CSRF token.
    pub async fn send_json(&self, login: &Login, method: reqwest::Method, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http.request(method, self.url(path)).header("cookie", &login.cookie).header("x-csrf-token", &login.csrf).json(body).send().await.expect("send")
    }
}

impl Drop for WebShop {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(d) = self.devices.take() {
            d.stop();
        }
    }
}

/// The value of cookie `name` set by a response.
pub fn set_cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

impl WebShop {
    /// POST a form (`application/x-www-form-urlencoded`) with a login; the session's CSRF
    /// token goes in as `_csrf`, as the pages' forms send it.
    pub async fn post_form(&self, login: &Login, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", login.csrf.as_str())];
        form.extend_from_slice(fields);
        self.http.post(self.url(path)).header("cookie", &login.cookie).form(&form).send().await.expect("post form")
    }
}

/// A response's status and JSON body (`null` when it has none).
/// Cashier 1 on lane 1 scans two bottles of the common `water()` (¥2.00 each) and pays ¥5 in
/// cash: one sale of 400 fen. Returns the pay answer.
pub async fn sell_two_waters(shop: &WebShop) -> serde_json::Value {
    let cashier = shop.login("cashier1", Some("lane-1")).await;
    for _ in 0..2 {
        let (s, a) = body(shop.post_json(&cashier, "/api/v1/lanes/lane-1/scan", &serde_json::json!({"code": "6907674936533"})).await).await;
        assert_eq!(s, 200, "{a}");
    }
    let (s, paid) = body(shop.post_json(&cashier, "/api/v1/lanes/lane-1/pay", &serde_json::json!({"tenders": [{"kind": "cash", "amount_fen": 500}]})).await).await;
    assert_eq!((s.as_u16(), paid["total_fen"].as_i64()), (200, Some(400)), "{paid}");
    paid
}

pub async fn body(res: reqwest::Response) -> (reqwest::StatusCode, serde_json::Value) {
    let status = res.status();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// A response's status and text.
pub async fn text(res: reqwest::Response) -> (reqwest::StatusCode, String) {
    let status = res.status();
    (status, res.text().await.unwrap_or_default())
}
