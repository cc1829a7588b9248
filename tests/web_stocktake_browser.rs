//! Stocktakes in a real headless Chromium against the real `storehub run`
//! (`common::browser::RealHub`): lane-1 put into count mode with the CLI shows 盘点中 on the
//! cashier screen and counts what its (pseudo-terminal) scanner scans, with nothing in the cart;
//! then a manager counts on the handheld page: the code field has the focus, Enter counts without
//! a page reload, the quantity field adds that many, and a bad code shows its message.
//! Screenshots go to `target/screenshots/`.

mod common;

use std::time::Duration;

use common::browser::{Browser, RealHub, CASHIER, MANAGER};

const WAIT: Duration = Duration::from_secs(10);
const ENTER: &str = "\u{E007}";
const WATER: &str = "6907674936533";
const CESTBON: &str = "6955406993705";

/// `storehub --config … --data-dir … ARGS` against the running hub; its JSON answer.
fn cli(hub: &RealHub, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", hub.config.to_str().unwrap_or_default(), "--data-dir", hub.data.to_str().unwrap_or_default()];
    all.extend_from_slice(args);
    let out = common::storehub_cmd(&all);
    assert!(out.status.success(), "storehub {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lane_counts_in_count_mode_and_a_handheld_counts_without_reloading() {
    let hub = RealHub::start();
    let opened = cli(&hub, &["stocktake", "open", "--category", "饮料", "--staff", MANAGER.0]);
    let id = opened["id"].as_u64().expect("stocktake id").to_string();
    cli(&hub, &["stocktake", "lane", "lane-1", "--stocktake", &id, "--staff", MANAGER.0]);

    let b = Browser::start().await;
    b.login_pin(&hub.base, "lane-1", CASHIER.0, CASHIER.2).await;
    b.wait_js("(document.getElementById('counting-banner') || {}).textContent === '盘点中 · counting · #1'", WAIT).await;
    hub.scanner.scan(WATER).expect("scan");
    b.wait_js("document.getElementById('notice').textContent.includes('盘点中 counting #1') && document.getElementById('notice').textContent.endsWith('= 1')", WAIT).await;
    assert_eq!(b.js("return document.querySelectorAll('#cart-lines tr').length;").await, serde_json::json!(0), "nothing goes into the cart");
    let shot = b.screenshot("stocktake-1-lane-count-mode").await;
    assert!(shot.exists());
    cli(&hub, &["stocktake", "lane", "lane-1", "--off", "--staff", MANAGER.0]);
    b.wait_js("document.getElementById('counting-banner').hidden", WAIT).await;

    // The manager's handheld: focus in the code field, Enter counts, no reload.
    b.client.delete_all_cookies().await.expect("log the cashier out");
    b.login_password(&hub.base, MANAGER.0, MANAGER.1).await;
    b.client.goto(&format!("{}/stock/stocktakes/{id}/count", hub.base)).await.expect("count page");
    b.wait_js("document.readyState === 'complete' && document.activeElement && document.activeElement.id === 'count-code'", WAIT).await;
    b.js("window.__samePage = 42; return null;").await;
    b.type_into("#count-code", &format!("{WATER}{ENTER}")).await;
    b.wait_js("(document.querySelector('#count-recent li') || {}).textContent?.startsWith('SKU-010001') && document.getElementById('count-message').textContent.includes('2')", WAIT).await;
    b.type_into("#count-qty", "5").await;
    b.type_into("#count-code", &format!("{CESTBON}{ENTER}")).await;
    b.wait_js("(document.querySelector('#count-recent li') || {}).textContent?.startsWith('SKU-010003')", WAIT).await;
    b.type_into("#count-code", &format!("123{ENTER}")).await;
    b.wait_js("document.getElementById('count-message').className === 'error' && document.getElementById('count-message').textContent.includes('123')", WAIT).await;
    assert_eq!(b.js("return window.__samePage;").await, serde_json::json!(42), "counting never reloaded the page");
    assert_eq!(b.js("return document.activeElement.id;").await, serde_json::json!("count-code"), "the field is ready for the next scan");
    b.screenshot("stocktake-2-handheld").await;
    b.close().await;

    // What the page counted is in the store: water 1 by the lane + 1 here, C'estbon 5.
    let shown = cli(&hub, &["stocktake", "show", &id, "--staff", MANAGER.0]);
    let counted = |sku: &str| shown["lines"].as_array().and_then(|l| l.iter().find(|x| x["sku"] == sku)).map(|x| x["counted"].clone());
    assert_eq!(counted("SKU-010001"), Some(serde_json::json!(2)), "{shown}");
    assert_eq!(counted("SKU-010003"), Some(serde_json::json!(5)), "{shown}");
}
