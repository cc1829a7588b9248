//! The dashboard over real HTTP: real sales, a member sale, a return and a void made through the
//! lanes service at known shop-local hours, then the summary's figures checked against numbers
//! worked out here; the page in zh-CN with ¥ amounts; the cache answering again without
//! computing, and fresh after a new sale; the live event stream; the devices page and its
//! commands.

mod common;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use common::web::WebShop;
use serde_json::{json, Value};
use storehub::clock::Clock;
use storehub::checkout::returns::{ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::config::Secret;
use storehub::control::lanes::{lane, return_items, LaneAction};
use storehub::domain::stock::MoveKind;
use storehub::domain::tender::{Tender, TenderKind};

/// 25 November 2026, shop-local (Asia/Shanghai, UTC+8) `h:m`.
fn local(h: u32, m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap() - chrono::Duration::hours(8)
}

fn act(shop: &WebShop, action: LaneAction) -> Value {
    match lane(&shop.store, &shop.state.ctx, "lane-1", action) {
        Ok(r) => r.result,
        Err(e) => panic!("lane action refused: {e}"),
    }
}

fn cash(fen: i64) -> LaneAction {
    LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: fen, reference: None, points: None }] }
}

/// The catalog (water and C'estbon ¥2.00, bananas ¥7.98/kg) in stock: 30 waters, 20 C'estbon,
/// 5 kg of bananas; cashier1 signed in at lane-1.
fn open_shop(shop: &WebShop) {
    common::load(&shop.store, &[common::water(), common::cestbon(), common::bananas()]);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-010001", 30);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-010003", 20);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-020001", 5_000);
    act(shop, LaneAction::SignIn { staff: "cashier1".into(), pin: Secret::new(common::web::PIN.into()) });
}

/// The day, worked out:
/// - 09:30 guest: 3 waters → ¥6.00
/// - 09:45 member (regular, no discount): 5 waters → ¥10.00
/// - 14:10 guest: 1.000 kg bananas at ¥7.98/kg → ¥7.98
/// - 14:20 two C'estbon scanned and the cart voided
/// - 15:00 one water of the 09:30 sale returned → ¥2.00 back
///
/// Sales ¥23.98 over 3 tickets, net ¥21.98, average ¥7.99 (2398 / 3 = 799.3), members'
/// share 1000 / 2398 = 41.70 %; hour 9 ¥16.00 (2 tickets), hour 14 ¥7.98; water nets
/// ¥14.00 over 7 pieces and is the one product at its reorder point (30 − 3 − 5 + 1 = 23 ≤ 24).
fn the_day(shop: &WebShop) {
    shop.clock.set(local(9, 30));
    open_shop(shop);
    act(shop, LaneAction::Add { sku: "SKU-010001".into(), qty: 3 });
    let first = act(shop, cash(1_000));
    let first_id = first["sale"]["id"].as_u64().unwrap();
    assert_eq!(first["sale"]["priced"]["total_fen"], 600);

    shop.clock.set(local(9, 45));
    storehub::members::register(&shop.store, &storehub::members::NewMember::in_store("13812345678", "王芳"), &shop.state.ctx.loyalty).unwrap();
    act(shop, LaneAction::Member { query: "13812345678".into() });
    act(shop, LaneAction::Add { sku: "SKU-010001".into(), qty: 5 });
    assert_eq!(act(shop, cash(1_000))["sale"]["priced"]["total_fen"], 1_000);

    shop.clock.set(local(14, 10));
    act(shop, LaneAction::Weigh { sku: "SKU-020001".into(), grams: Some(1_000) });
    assert_eq!(act(shop, cash(800))["sale"]["priced"]["total_fen"], 798);

    shop.clock.set(local(14, 20));
    act(shop, LaneAction::Add { sku: "SKU-010003".into(), qty: 2 });
    assert_eq!(act(shop, LaneAction::Void)["outcome"]["voided"], 1);

    shop.clock.set(local(15, 0));
    let req = ReturnRequest {
        of: ReturnOf::Sale { sale_id: first_id, lines: vec![ReturnLineRequest { line_no: 1, qty: 1 }] },
        lane: "lane-1".into(),
        by: "manager1".into(),
        restock: true,
        reason: "顾客不要了".into(),
    };
    assert_eq!(return_items(&shop.store, &shop.state.ctx, req).unwrap().result["refund_fen"], 200);
    shop.clock.set(local(17, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_adds_up_the_day_and_the_page_shows_it_in_chinese() {
    let shop = WebShop::start().await;
    the_day(&shop);
    let m = shop.login("manager1", None).await;

    let res = shop.get(&m, "/api/v1/dashboard/summary").await;
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.unwrap();
    let f = &s["figures"];
    assert_eq!(f["date"], "2026-11-25");
    let t = &f["totals"];
    assert_eq!(t["sales_fen"], 2_398);
    assert_eq!(t["refunds_fen"], 200);
    assert_eq!(t["net_sales_fen"], 2_198);
    assert_eq!(t["tickets"], 3);
    assert_eq!(t["average_ticket_fen"], 799);
    assert_eq!(t["member_sales_fen"], 1_000);
    assert_eq!(t["member_share_bp"], 4_170);
    assert_eq!((t["returns"].as_u64(), t["voids"].as_u64()), (Some(1), Some(1)));
    let hourly = f["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    assert_eq!((hourly[9]["sales_fen"].as_i64(), hourly[9]["tickets"].as_u64()), (Some(1_600), Some(2)));
    assert_eq!(hourly[14]["sales_fen"], 798);
    assert_eq!(hourly.iter().map(|h| h["sales_fen"].as_i64().unwrap()).sum::<i64>(), 2_398);
    assert_eq!(f["top_by_sales"][0]["sku"], "SKU-010001");
    assert_eq!(f["top_by_sales"][0]["net_fen"], 1_400);
    assert_eq!(f["top_by_sales"][1]["sku"], "SKU-020001");
    assert_eq!(f["top_by_pieces"][0]["pieces"], 7);
    assert_eq!(f["top_by_pieces"].as_array().unwrap().len(), 1, "bananas are weighed, C'estbon was voided");
    assert_eq!(f["low_stock_total"], 1);
    assert_eq!((f["low_stock"][0]["sku"].as_str(), f["low_stock"][0]["on_hand"].as_i64()), (Some("SKU-010001"), Some(23)));
    // No relay and no device hub in this process: the outbox depth is still known.
    assert_eq!(s["link"]["relay"], false);
    assert!(s["link"]["outbox_depth"].as_u64().unwrap() > 0);
    assert_eq!(s["devices"], Value::Null);

    let page = shop.get(&m, "/dashboard").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for needle in ["今日销售额（净）", "¥21.98", "客单价", "¥7.99", "41.7%", "每小时销售额", "<svg", "畅销商品", "库存预警", "设备状态", "待发事件", "/assets/dashboard.js"] {
        assert!(html.contains(needle), "the page lacks {needle:?}");
    }
    assert!(html.contains("Nongfu Spring 550ml（中）"), "products are named in Chinese");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_roles_that_see_sales_get_the_dashboard() {
    let shop = WebShop::start().await;
    let cashier = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&cashier, "/api/v1/dashboard/summary").await.status(), 403);
    assert_eq!(shop.get(&cashier, "/dashboard").await.status(), 403);
    assert_eq!(shop.get(&cashier, "/api/v1/dashboard/events").await.status(), 403);
    let tech = shop.login("tech1", None).await;
    assert_eq!(shop.get(&tech, "/api/v1/dashboard/summary").await.status(), 403);
    let admin = shop.login("admin1", None).await;
    assert_eq!(shop.get(&admin, "/api/v1/dashboard/summary").await.status(), 200);
    // Without a login the API says 401 and the page sends to the login form.
    assert_eq!(shop.http.get(shop.url("/api/v1/dashboard/summary")).send().await.unwrap().status(), 401);
    assert_eq!(shop.http.get(shop.url("/dashboard")).send().await.unwrap().status(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_answers_until_something_is_committed_then_recomputes() {
    let shop = WebShop::start().await;
    shop.clock.set(local(10, 0));
    open_shop(&shop);
    let m = shop.login("manager1", None).await;
    let first: Value = shop.get(&m, "/api/v1/dashboard/summary").await.json().await.unwrap();
    assert_eq!(first["figures"]["totals"]["tickets"], 0);
    let computed = shop.state.summary.computations();
    for _ in 0..5 {
        let again: Value = shop.get(&m, "/api/v1/dashboard/summary").await.json().await.unwrap();
        assert_eq!(again["figures"]["version"], first["figures"]["version"]);
    }
    assert_eq!(shop.state.summary.computations(), computed, "nothing committed: answered from the cache");

    act(&shop, LaneAction::Add { sku: "SKU-010003".into(), qty: 4 });
    act(&shop, cash(1_000));
    let after: Value = shop.get(&m, "/api/v1/dashboard/summary").await.json().await.unwrap();
    assert_eq!(after["figures"]["totals"]["tickets"], 1);
    assert_eq!(after["figures"]["totals"]["sales_fen"], 800);
    assert!(after["figures"]["version"].as_u64() > first["figures"]["version"].as_u64());
    assert_eq!(shop.state.summary.computations(), computed + 1);

    // A new shop-local day starts from zero (the key holds the date), with the same commits.
    shop.clock.set(local(10, 0) + chrono::Duration::days(1));
    let m = shop.login("manager1", None).await;
    let next_day: Value = shop.get(&m, "/api/v1/dashboard/summary").await.json().await.unwrap();
    assert_eq!(next_day["figures"]["date"], "2026-11-26");
    assert_eq!(next_day["figures"]["totals"]["tickets"], 0);
}

/// Reads the event stream until a `summary` event passes `want`, within `secs`.
async fn next_summary(res: &mut reqwest::Response, buf: &mut String, secs: u64, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if !block.contains("event: summary") {
                continue;
            }
            let data: String = block.lines().filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))).collect::<Vec<_>>().join("\n");
            let v: Value = serde_json::from_str(&data).expect("event data is JSON");
            if want(&v) {
                return v;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, res.chunk()).await.expect("no summary event in time").expect("stream").expect("stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_pushes_the_figures_after_a_sale() {
    let shop = WebShop::start().await;
    shop.clock.set(local(11, 0));
    open_shop(&shop);
    let m = shop.login("manager1", None).await;
    let mut res = shop.get(&m, "/api/v1/dashboard/events").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    let first = next_summary(&mut res, &mut buf, 5, |_| true).await;
    assert_eq!(first["figures"]["totals"]["tickets"], 0);
    assert!(first["html"]["dash-kpis"].as_str().unwrap().contains("¥0.00"));

    let sold = std::time::Instant::now();
    act(&shop, LaneAction::Add { sku: "SKU-010001".into(), qty: 2 });
    act(&shop, cash(400));
    let pushed = next_summary(&mut res, &mut buf, 5, |v| v["figures"]["totals"]["tickets"] == 1).await;
    assert!(sold.elapsed() < std::time::Duration::from_secs(3), "pushed {:?} after the sale", sold.elapsed());
    assert!(pushed["html"]["dash-kpis"].as_str().unwrap().contains("¥4.00"));
    assert!(pushed["html"]["dash-hourly"].as_str().unwrap().contains("<svg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devices_page_shows_the_board_and_sends_commands_for_technicians() {
    let shop = WebShop::start().await;
    let tech = shop.login("tech1", None).await;
    let page = shop.get(&tech, "/devices").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("没有运行设备中心"));
    assert_eq!(shop.post_json(&tech, "/api/v1/devices/scale-w1/tare", &json!({})).await.status(), 409, "no device hub");

    // The daemon's health board, as `storehub run` would set it.
    let board = Arc::new(storehub::devices::health::HealthBoard::new());
    board.register(storehub::devices::health::DeviceHealth::new("scale-w1", "scale", "toledo-8217", "serial", "/dev/ttyUSB0", Some("lane-1")));
    board.register(storehub::devices::health::DeviceHealth::new("shelf-w1", "shelf", "storehub-node", "serial", "/dev/ttyACM0", None));
    board.set_connected("scale-w1", true, shop.clock.now());
    board.event("scale-w1", shop.clock.now());
    assert!(shop.state.ctx.devices.set(Arc::clone(&board)).is_ok());

    let html = shop.get(&tech, "/devices").await.text().await.unwrap();
    for needle in ["scale-w1", "toledo-8217", "在线", "shelf-w1", "离线", "去皮", "校准", "已知重量（克）"] {
        assert!(html.contains(needle), "the devices page lacks {needle:?}");
    }
    let res = shop.post_json(&tech, "/api/v1/devices/scale-w1/tare", &json!({})).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!((done["queued"].as_bool(), done["command"].as_str()), (Some(true), Some("tare")));
    let queue = storehub::devices::scale::commands_for("scale-w1");
    assert_eq!(queue.take(), Some(storehub::devices::scale::ScaleCommand::Tare), "the driver finds the command in its queue");

    // The form on the page: zero, then back to the page.
    let form = [("_csrf", tech.csrf.as_str())];
    let res = shop.http.post(shop.url("/devices/scale-w1/zero")).header("cookie", &tech.cookie).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(queue.take(), Some(storehub::devices::scale::ScaleCommand::Zero));

    // Bad input names its field; unknown devices and commands are 404.
    let bad = shop.post_json(&tech, "/api/v1/devices/shelf-w1/calibrate", &json!({ "channel": 0, "known_grams": 0 })).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["field"], "known_grams");
    let bad = shop.post_json(&tech, "/api/v1/devices/shelf-w1/calibrate", &json!({ "channel": "zero" })).await;
    assert_eq!(bad.json::<Value>().await.unwrap()["field"], "channel");
    let bad_form = shop.http.post(shop.url("/devices/shelf-w1/calibrate")).header("cookie", &tech.cookie).form(&[("_csrf", tech.csrf.as_str()), ("channel", "0"), ("known_grams", "abc")]).send().await.unwrap();
    assert_eq!(bad_form.status(), 400);
    assert!(bad_form.text().await.unwrap().contains("重量应为整数克"), "the error sits next to the field");
    assert_eq!(shop.post_json(&tech, "/api/v1/devices/nope/tare", &json!({})).await.status(), 404);
    assert_eq!(shop.post_json(&tech, "/api/v1/devices/scale-w1/calibrate", &json!({})).await.status(), 404);

    // A manager sees the board (and the dashboard shows it) but sends no commands.
    let m = shop.login("manager1", None).await;
    let html = shop.get(&m, "/devices").await.text().await.unwrap();
    assert!(html.contains("scale-w1") && !html.contains("去皮"), "no command buttons for a manager");
    assert_eq!(shop.post_json(&m, "/api/v1/devices/scale-w1/tare", &json!({})).await.status(), 403);
    let s: Value = shop.get(&m, "/api/v1/dashboard/summary").await.json().await.unwrap();
    assert_eq!(s["devices"][0]["id"], "scale-w1");
    assert_eq!(s["devices"][0]["online"], true);
    assert_eq!(s["devices"][1]["online"], false);
    let cashier = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&cashier, "/devices").await.status(), 403);
}
