//! The technician's system page and its API.

mod common;

use common::web::WebShop;
use storehub::clock::Clock;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_resets_a_clock_mark_left_in_the_future_from_the_system_page() {
    let shop = WebShop::start().await;
    let opening = shop.clock.now();
    // The clock ran 30 days ahead and a commit raised the mark there; then NTP set it right.
    shop.clock.set(opening + chrono::Duration::days(30));
    storehub::clock_watch::observe(&shop.store).unwrap();
    shop.clock.set(opening);

    let t = shop.login("tech1", None).await;
    let html = shop.get(&t, "/system").await.text().await.unwrap();
    assert!(html.contains("被调回") && html.contains("reset-clock-mark"), "{html}");
    let status: serde_json::Value = shop.get(&t, "/api/v1/system/clock").await.json().await.unwrap();
    assert_eq!(status["verdict"]["state"], "stepped_back", "{status}");

    // A manager may not; the technician may, through the page's form.
    let m = shop.login("manager1", None).await;
    assert_eq!(shop.post_json(&m, "/api/v1/system/clock/reset-mark", &serde_json::json!({})).await.status(), 403);
    let res = shop.post_form(&t, "/system/clock/reset-mark", &[]).await;
    assert_eq!(res.status(), 303, "{:?}", res.text().await);
    let html = shop.get(&t, "/system?done=clock").await.text().await.unwrap();
    assert!(html.contains("时钟高水位已重置") && !html.contains("reset-clock-mark"), "{html}");
    let status: serde_json::Value = shop.get(&t, "/api/v1/system/clock").await.json().await.unwrap();
    assert_eq!(status["verdict"]["state"], "sane", "{status}");
    assert_eq!(status["mark"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap(), opening);

    // Twice is refused with the reason, and the audit log holds one entry by tech1.
    let again = shop.post_json(&t, "/api/v1/system/clock/reset-mark", &serde_json::json!({})).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("时钟正常"));
    // A clock back at 1970 (not synced since boot) is not papered over either.
    shop.clock.set("1970-01-01T00:01:00Z".parse().unwrap());
    let unsynced = shop.post_json(&t, "/api/v1/system/clock/reset-mark", &serde_json::json!({})).await;
    assert_eq!(unsynced.status(), 409);
    assert!(unsynced.text().await.unwrap().contains("尚未对时"));
    shop.clock.set(opening);
    let audit = storehub::audit::list(&shop.store, &storehub::audit::AuditFilter { action: Some(storehub::audit::AuditAction::ClockMarkReset), ..Default::default() }).unwrap();
    assert_eq!(audit.iter().map(|e| e.actor.as_str()).collect::<Vec<_>>(), vec!["tech1"]);
}
