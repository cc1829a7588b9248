//! A real headless Chromium for the page tests: Debian's `chromium` driven through
//! `chromedriver` (package `chromium-driver`, which `scripts/test.sh` installs) by fantoccini
//! over WebDriver. [`Browser::start`] runs chromedriver on a free loopback port (killed on
//! drop) and opens a 1024×600 headless session; [`Browser::screenshot`] writes PNGs under
//! `target/screenshots/`. A missing browser fails the test with the command that installs it:
//! nothing is skipped silently.
#![allow(dead_code)]

use std::path::PathBuf;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

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
