//! The technician's system page and its API.

mod common;

use common::web::WebShop;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_sees_the_box_its_config_and_its_recent_log() {
    let shop = WebShop::start().await;
    let t = shop.login("tech1", None).await;
    storehub::logring::push("WARN web-system-test: printer-1 out of paper\n");
    let page = shop.get(&t, "/system").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("最近日志") && html.contains("printer-1 out of paper") && html.contains("huamei"), "{html}");
    let status: serde_json::Value = shop.get(&t, "/api/v1/system/status").await.json().await.unwrap();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["config"]["store"]["chain_id"], "huamei");
    assert_eq!(status["config"]["lanes"].as_array().unwrap().len(), 2);
    let logs: serde_json::Value = shop.get(&t, "/api/v1/system/logs?contains=web-system-test").await.json().await.unwrap();
    assert_eq!(logs["lines"].as_array().unwrap().len(), 1);
    let verify: serde_json::Value = shop.post_json(&t, "/api/v1/system/verify", &serde_json::json!({})).await.json().await.unwrap();
    assert!(verify.is_object(), "{verify}");
    // A manager runs the shop, not the box.
    let m = shop.login("manager1", None).await;
    assert_eq!(shop.get(&m, "/system").await.status(), 403);
}
