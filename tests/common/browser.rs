//! A real headless Chromium for the page tests: Debian's `chromium` driven through
//! `chromedriver` (package `chromium-driver`, which `scripts/test.sh` installs) by fantoccini
//! over WebDriver. [`Browser::start`] runs chromedriver on a free loopback port (killed on
//! drop) and opens a 1024×600 headless session; [`Browser::screenshot`] writes PNGs under
//! `target/screenshots/`. A missing browser fails the test with the command that installs it:
//! nothing is skipped silently. [`RealHub`] is the shop those tests drive: the real
//! `storehub run` with lane-1's scanner on a pseudo-terminal.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use storehub::devices::sim::ScriptedScanner;

/// The till screen's size: the browser's window and so the page's viewport.
pub const WIDTH: u32 = 1024;
pub const HEIGHT: u32 = 600;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A free TCP port on 127.0.0.1 (free when this returns; taken by whoever binds it next).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, within: Duration, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < within, "{what} did not listen on 127.0.0.1:{port} within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where screenshots go: `target/screenshots/` (next to the test's own `target/tmp`).
pub fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().map_or_else(|| tmp.join("screenshots"), |t| t.join("screenshots"));
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// chromedriver with one browser session.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of [`WIDTH`]×[`HEIGHT`].
    pub async fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: the browser tests need Debian's `{package}`; run scripts/test.sh (it installs it) or `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = free_port();
        // Its own process group, so the browsers it starts go with it (see `kill_group`).
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}; run scripts/test.sh to install chromium-driver"));
        let mut browser_guard = DriverGuard(Some(driver));
        wait_for_port(port, Duration::from_secs(20), "chromedriver");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                ],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"));
        let driver = browser_guard.0.take().expect("the driver process");
        Browser { client, driver }
    }

    /// Saves the page as `target/screenshots/{name}.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Runs `script` in the page and returns its result.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` (an expression) is truthy; returns its value.
    pub async fn wait_js(&self, expr: &str, within: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let v = self.js(&format!("return ({expr});")).await;
            if !(v.is_null() || v == serde_json::Value::Bool(false) || v == serde_json::json!(0) || v == serde_json::json!("")) {
                return v;
            }
            assert!(start.elapsed() < within, "`{expr}` did not hold within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Types `text` into the element `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no element {css}: {e}"));
        e.send_keys(text).await.unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no element {css}: {e}"));
        e.click().await.unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Bytes the page and its resources took over the wire: Σ `transferSize` of the navigation
    /// and resource entries, or `encodedBodySize` for entries served from the cache.
    pub async fn page_transfer_bytes(&self) -> u64 {
        let v = self
            .js(
                "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                   .map(e => e.transferSize > 0 ? e.transferSize : e.encodedBodySize)
                   .reduce((a, b) => a + b, 0);",
            )
            .await;
        v.as_f64().map_or(0, |f| f as u64)
    }

    /// Whether the element `css` lies wholly inside the viewport and is what shows at its
    /// centre (not scrolled away inside a box, not covered).
    pub async fn in_viewport(&self, css: &str) -> bool {
        let v = self
            .js(&format!(
                "const e = document.querySelector({css:?}); const r = e.getBoundingClientRect();
                 const inside = r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight;
                 const top = inside && document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                 return inside && !!top && (top === e || e.contains(top));"
            ))
            .await;
        v == serde_json::Value::Bool(true)
    }

    /// Logs in through the login page at a till: lane + staff id + PIN. Lands on the cashier
    /// screen.
    pub async fn login_pin(&self, base: &str, lane: &str, staff: &str, pin: &str) {
        self.client.goto(&format!("{base}/login?lane={lane}")).await.expect("open the login page");
        self.type_into("form:has(input[name=pin]) input[name=staff]", staff).await;
        self.type_into("form:has(input[name=pin]) input[name=pin]", pin).await;
        self.click("form:has(input[name=pin]) button[type=submit]").await;
        self.wait_js(&format!("location.pathname === '/cashier/{lane}' && document.readyState === 'complete'"), Duration::from_secs(15)).await;
    }

    /// Logs in through the login page with a password (managers, admins). Lands on the
    /// account's start page (the dashboard for a manager).
    pub async fn login_password(&self, base: &str, staff: &str, password: &str) {
        self.client.goto(&format!("{base}/login")).await.expect("open the login page");
        self.type_into("form:has(input[name=password]) input[name=staff]", staff).await;
        self.type_into("form:has(input[name=password]) input[name=password]", password).await;
        self.click("form:has(input[name=password]) button[type=submit]").await;
        self.wait_js("!location.pathname.startsWith('/login') && document.readyState === 'complete'", Duration::from_secs(15)).await;
    }

    /// Ends the session (chromedriver closes Chromium), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// Kills chromedriver and whatever it started (its process group), then reaps it.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the group this test created for chromedriver; no memory involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Kills chromedriver if the session never opens.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            kill_group(&mut c);
        }
    }
}

// --- The shop the browser tests drive ---------------------------------------------------------

/// The cashier: staff id, password, PIN.
pub const CASHIER: (&str, &str, &str) = ("wang", "correct horse 1", "2468");
/// The manager: staff id, password, PIN.
pub const MANAGER: (&str, &str, &str) = ("li", "correct horse 2", "8642");
/// The member's phone.
pub const PHONE: &str = "13812345678";

/// A hub as a shop runs it: `storehub run` with its config, a data dir seeded through the CLI
/// (demo catalog, cashier and manager, a member holding a ¥5-off coupon, a shift open at
/// lane-1 with ¥500 float), lane-1's scanner on a pseudo-terminal and a receipt printer
/// writing to a file. Stopped with SIGTERM when dropped.
pub struct RealHub {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Lane-1's scanner: `scanner.scan(code)` is a scan at the till.
    pub scanner: ScriptedScanner,
    /// The coupon issued to the member.
    pub coupon: String,
    pub receipts: PathBuf,
    daemon: Option<Child>,
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_storehub")
}

impl RealHub {
    pub fn start() -> RealHub {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let devices = dir.path().join("devices");
        std::fs::create_dir_all(&devices).expect("devices dir");
        let receipts = devices.join("receipts.escpos");
        std::fs::write(&receipts, b"").expect("receipts file");
        let scanner = ScriptedScanner::create(&devices.join("scanner-1")).expect("a pseudo-terminal scanner");
        // The demo store's config with lane-1's scanner and printer here.
        let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).expect("config/demo.toml");
        let (start, end) = (demo.find("[[devices]]").expect("devices in demo.toml"), demo.find("[mqtt]").expect("[mqtt] in demo.toml"));
        let devices_toml = format!(
            "[[devices]]\nid = \"scanner-1\"\nkind = \"scanner\"\ntransport = \"serial\"\nprotocol = \"line\"\npath = \"{}\"\nlane = \"lane-1\"\n\n\
             [[devices]]\nid = \"printer-1\"\nkind = \"printer\"\ntransport = \"lp\"\nprotocol = \"escpos\"\npath = \"{}\"\nlane = \"lane-1\"\n[devices.printer]\npaper_mm = 58\n\n",
            devices.join("scanner-1").display(),
            receipts.display()
        );
        let config = dir.path().join("storehub.toml");
        std::fs::write(&config, format!("{}{devices_toml}{}", &demo[..start], &demo[end..])).expect("write the config");

        let hub = |args: &[&str], stdin: &str| -> serde_json::Value {
            let mut all = vec!["--config", config.to_str().unwrap_or_default(), "--data-dir", data.to_str().unwrap_or_default()];
            all.extend_from_slice(args);
            let out = super::storehub_with_stdin(&all, stdin);
            assert!(out.status.success(), "storehub {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
        };
        hub(&["import", "catalog", concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/catalog.csv")], "");
        hub(&["staff", "add", CASHIER.0, "--name", "王芳", "--role", "cashier", "--password-stdin", "--pin-stdin"], &format!("{}\n{}\n", CASHIER.1, CASHIER.2));
        hub(&["staff", "add", MANAGER.0, "--name", "李经理", "--role", "manager", "--password-stdin", "--pin-stdin"], &format!("{}\n{}\n", MANAGER.1, MANAGER.2));
        hub(&["member", "add", "--phone", PHONE, "--name", "张三"], "");
        let template = dir.path().join("coupon.json");
        std::fs::write(
            &template,
            r#"{"id": "T-5-OFF", "name_zh": "立减5元券", "name_en": "¥5 off", "kind": {"kind": "fixed", "off_fen": 500},
                "min_spend_fen": 0, "categories": [], "validity": {"days_after_issue": 30}, "per_member_limit": 0, "active": true}"#,
        )
        .expect("coupon template");
        hub(&["coupons", "template-add", template.to_str().unwrap_or_default()], "");
        let issued = hub(&["coupons", "issue", "--template", "T-5-OFF", "--member", "1"], "");
        let coupon = issued["issued"][0]["code"].as_str().unwrap_or_else(|| panic!("no coupon issued: {issued}")).to_string();
        hub(&["shift", "open", "--lane", "lane-1", "--staff", CASHIER.0, "--float-fen", "50000"], "");

        let port = free_port();
        let daemon = Command::new(bin())
            .args(["--config", config.to_str().unwrap_or_default(), "--data-dir", data.to_str().unwrap_or_default(), "run", "--listen", &format!("127.0.0.1:{port}")])
            .env("STOREHUB_LOG", "warn")
            .env_remove("STOREHUB_DATA_DIR")
            .env_remove("STOREHUB_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start storehub run");
        let hub = RealHub { dir, data, config, base: format!("http://127.0.0.1:{port}"), scanner, coupon, receipts, daemon: Some(daemon) };
        wait_for_port(port, Duration::from_secs(30), "storehub run");
        hub
    }
}

impl Drop for RealHub {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            if let Ok(pid) = i32::try_from(d.id()) {
                // SAFETY: kill(2) on the daemon this hub started.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = d.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

/// A sale as the cashier screen showed it after payment.
#[derive(Debug, Clone)]
pub struct PaidSale {
    pub sale_id: u64,
    pub receipt_no: String,
    pub total_fen: i64,
    pub change_fen: i64,
}

impl RealHub {
    /// With `b` on lane-1's cashier screen: scans `codes` (distinct products) through the lane's
    /// scanner, pays cash `tendered` yuan (e.g. `"100"`) with `F4` and returns the sale as the
    /// screen shows it.
    pub async fn sell_cash(&self, b: &Browser, codes: &[&str], tendered: &str) -> PaidSale {
        let before = b.js("return document.getElementById('paid').dataset.saleId || '';").await;
        for code in codes {
            self.scanner.scan(code).expect("scan");
        }
        b.wait_js(&format!("document.querySelectorAll('#cart-lines tr').length === {}", codes.len()), Duration::from_secs(10)).await;
        b.type_into("#tender-amount", &format!("{tendered}\u{E034}")).await;
        b.wait_js(&format!("!document.getElementById('paid').hidden && document.getElementById('paid').dataset.saleId !== {before}"), Duration::from_secs(10)).await;
        let v = b.js("const d = document.getElementById('paid').dataset; return [d.saleId, d.receiptNo, d.totalFen, d.changeFen];").await;
        let num = |i: usize| v[i].as_str().and_then(|s| s.parse::<i64>().ok()).unwrap_or_else(|| panic!("no sale on the screen: {v}"));
        PaidSale { sale_id: num(0) as u64, receipt_no: v[1].as_str().unwrap_or_default().to_string(), total_fen: num(2), change_fen: num(3) }
    }
}
