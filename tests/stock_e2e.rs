//! Issue 10's end-to-end check: 90 days of sales through the cashier API over real HTTP, the
//! manual clock moved day by day, then the replenishment run's suggestion list, a purchase order
//! made from it, sent, received by scanning, and the stock on hand it leaves.
//!
//! The demand is built so the numbers can be checked: water sells 16 a day on weekdays and 30 on
//! Saturdays and Sundays (weekly seasonal, smooth), C'estbon 4 every third day (intermittent).

mod common;

use chrono::{Datelike, Duration, TimeZone, Weekday};
use common::web::WebShop;
use common::{apply, cestbon, load, water};
use reqwest::StatusCode;
use serde_json::{json, Value};
use storehub::domain::stock::MoveKind;

const LANE1: &str = "/api/v1/lanes/lane-1";
const DAYS: i64 = 90;

fn water_on(day: chrono::NaiveDate) -> i64 {
    match day.weekday() {
        Weekday::Sat | Weekday::Sun => 30,
        _ => 16,
    }
}

fn cestbon_on(day_index: i64) -> i64 {
    if day_index % 3 == 0 { 4 } else { 0 }
}

async fn json_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninety_days_of_sales_become_a_suggestion_a_purchase_order_and_a_receipt_by_scanning() {
    let shop = WebShop::start().await;
    load(&shop.store, &[water(), cestbon()]);
    let tz = shop.state.ctx.tz;
    let first_day = tz.from_utc_datetime(&common::opening_time().naive_utc()).date_naive() - Duration::days(DAYS);
    let days: Vec<chrono::NaiveDate> = (0..DAYS).map(|i| first_day + Duration::days(i)).collect();
    let water_sold: i64 = days.iter().map(|d| water_on(*d)).sum();
    let cestbon_sold: i64 = (0..DAYS).map(cestbon_on).sum();
    // Stock that lasts the 90 days with 30 waters and 12 C'estbon left at the end.
    shop.clock.set(tz.from_local_datetime(&first_day.and_hms_opt(8, 0, 0).unwrap()).unwrap().with_timezone(&chrono::Utc));
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", water_sold + 30);
    apply(&shop.store, MoveKind::Receipt, "SKU-010003", cestbon_sold + 12);

    for (i, day) in days.iter().enumerate() {
        // Two baskets a day, at 10:00 and 16:00 shop time.
        let water = water_on(*day);
        let baskets = [(10, water / 2, cestbon_on(i as i64)), (16, water - water / 2, 0)];
        // The cashier logs in each morning (a session does not outlive the day).
        shop.clock.set(tz.from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap()).unwrap().with_timezone(&chrono::Utc));
        let c = shop.login("cashier1", Some("lane-1")).await;
        for (hour, w, cb) in baskets {
            let at = tz.from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap()).unwrap();
            shop.clock.set(at.with_timezone(&chrono::Utc));
            for (sku, qty) in [("SKU-010001", w), ("SKU-010003", cb)] {
                if qty > 0 {
                    let (s, cart) = json_of(shop.post_json(&c, &format!("{LANE1}/items"), &json!({"sku": sku, "qty": qty})).await).await;
                    assert_eq!(s, StatusCode::OK, "day {day}: {cart}");
                }
            }
            let (s, paid) = json_of(shop.post_json(&c, &format!("{LANE1}/pay"), &json!({"tenders": [{"kind": "cash", "amount_fen": 100_000}]})).await).await;
            assert_eq!(s, StatusCode::OK, "day {day}: {paid}");
        }
    }
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 30);
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010003").unwrap(), 12);

    // The morning after the 90th day: the manager sets water's terms (cases of 12, delivered in
    // 2 days) and runs the replenishment.
    let today = first_day + Duration::days(DAYS);
    shop.clock.set(tz.from_local_datetime(&today.and_hms_opt(7, 0, 0).unwrap()).unwrap().with_timezone(&chrono::Utc));
    let m = shop.login("manager1", None).await;
    let (s, p) = json_of(shop.send_json(&m, reqwest::Method::PUT, "/api/v1/stock/policies/SKU-010001", &json!({"pack_size": 12, "lead_time_days": 2})).await).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, run) = json_of(shop.post_json(&m, "/api/v1/stock/replenishment/run", &json!({})).await).await;
    assert_eq!(s, StatusCode::OK, "{run}");
    let (s, list) = json_of(shop.get(&m, "/api/v1/stock/suggestions").await).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["run"]["day"], today.to_string(), "{list}");
    let line = |sku: &str| list["lines"].as_array().unwrap().iter().find(|l| l["sku"] == sku).cloned().unwrap_or_else(|| panic!("{sku} in {list}"));
    let w = line("SKU-010001");
    // Water: 16 on weekdays, 30 at weekends, every day: smooth; the forecast per day is near the
    // true mean (5 × 16 + 2 × 30) / 7 = 20.
    assert_eq!(w["demand_class"], "smooth", "{w}");
    let sg = &w["suggestion"];
    let e = &sg["explanation"];
    let per_day = e["forecast_per_day"].as_f64().unwrap();
    assert!((15.0..=25.0).contains(&per_day), "water forecast {per_day}/day: {w}");
    assert_eq!((e["on_hand"].as_i64(), e["on_order"].as_i64(), e["pack_size"].as_u64(), e["cover_days"].as_i64()), (Some(30), Some(0), Some(12), Some(3)), "{w}");
    // The arithmetic the page explains: order-up-to − on hand − on order, up to whole cases.
    let (s_level, raw, qty) = (sg["order_up_to"].as_i64().unwrap(), sg["raw_qty"].as_i64().unwrap(), sg["suggested_qty"].as_i64().unwrap());
    assert_eq!(raw, s_level - 30);
    assert!(qty >= raw && qty % 12 == 0 && qty - raw < 12, "{w}");
    assert!(qty > 0);
    // C'estbon: 4 every third day → intermittent.
    let cb = line("SKU-010003");
    assert_eq!(cb["demand_class"], "intermittent", "{cb}");

    // A purchase order from the suggestions (both drinks come from one supplier), sent.
    let (s, made) = json_of(shop.post_json(&m, "/api/v1/stock/purchase-orders/from-suggestions", &json!({})).await).await;
    assert_eq!(s, StatusCode::OK, "{made}");
    let orders = made["created"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{made}");
    let po = orders[0]["id"].as_u64().unwrap();
    assert_eq!(orders[0]["supplier"], "华东饮料批发");
    let ordered = orders[0]["lines"].as_array().unwrap().iter().find(|l| l["sku"] == "SKU-010001").unwrap()["ordered"].as_i64().unwrap();
    assert_eq!(ordered, qty);
    let (s, sent) = json_of(shop.post_json(&m, &format!("/api/v1/stock/purchase-orders/{po}/send"), &json!({})).await).await;
    assert_eq!((s, sent["state"].as_str()), (StatusCode::OK, Some("sent")), "{sent}");
    assert_eq!(storehub::inventory::purchase::on_order_by_sku(&shop.store).unwrap().get("SKU-010001"), Some(&qty));

    // Two days later the goods arrive; a cashier receives them by scanning: one case first, then
    // the rest.
    shop.clock.set(tz.from_local_datetime(&(today + Duration::days(2)).and_hms_opt(8, 0, 0).unwrap()).unwrap().with_timezone(&chrono::Utc));
    let c = shop.login("cashier1", Some("lane-1")).await;
    let receive = |qty: i64| json!({"code": "6907674936533", "qty": qty});
    let (s, r) = json_of(shop.post_json(&c, &format!("/api/v1/stock/purchase-orders/{po}/receive"), &receive(12)).await).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["outstanding"].as_i64(), Some(qty - 12), "{r}");
    // A cashier may receive but not see what the goods cost.
    assert!(r["line"].get("unit_cost_fen").is_none() && r["order"].get("value_fen").is_none(), "{r}");
    let (s, r) = json_of(shop.post_json(&c, &format!("/api/v1/stock/purchase-orders/{po}/receive"), &receive(qty - 12)).await).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let on_hand = storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap();
    assert_eq!(on_hand, 30 + qty, "the ledger has the 30 left plus every unit received");
    assert_eq!(storehub::inventory::purchase::on_order_by_sku(&shop.store).unwrap().get("SKU-010001"), None);
    let receipts: Vec<_> = storehub::inventory::recent_moves(&shop.store, Some("SKU-010001"), 5)
        .unwrap()
        .into_iter()
        .filter(|mv| mv.kind == MoveKind::Receipt && mv.reference.as_deref() == Some(format!("po-{po}").as_str()))
        .collect();
    assert_eq!(receipts.iter().map(|mv| mv.delta).sum::<i64>(), qty, "two receipt moves referencing the order");
    let m = shop.login("manager1", None).await;
    let (_, view) = json_of(shop.get(&m, &format!("/api/v1/stock/purchase-orders/{po}")).await).await;
    let state = view["state"].as_str().unwrap();
    let cestbon_on_order = view["lines"].as_array().unwrap().iter().any(|l| l["sku"] == "SKU-010003");
    assert_eq!(state, if cestbon_on_order { "partially_received" } else { "received" }, "{view}");
    let report = storehub::verify::verify(&shop.store).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
    // The event HQ gets for the run, and the order's life in the outbox.
    let types: Vec<String> = common::outbox(&shop.store).into_iter().map(|e| e.event_type).collect();
    for t in ["storehub.replenishment.suggested", "storehub.purchase_order.created", "storehub.purchase_order.sent", "storehub.purchase_order.received"] {
        assert!(types.iter().any(|x| x == t), "{t} in the outbox");
    }
}

/// Cashiers receive goods, count and restock but may not see stock figures: a "仓务" nav entry
/// takes them to the tasks page, whose tabs are the pages they may open; managers reach the same
/// pages through "库存" and do not get the extra entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashiers_reach_receiving_counting_and_tasks_from_one_nav_entry() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (s, html) = common::web::text(shop.get(&c, "/stock/tasks").await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(r#"href="/stock/tasks""#) && html.contains("仓务"), "{html}");
    for tab in ["/stock/purchase-orders/receiving", "/stock/stocktakes/counting"] {
        assert!(html.contains(&format!(r#"href="{tab}""#)), "{tab} in {html}");
        let (s, _) = common::web::text(shop.get(&c, tab).await).await;
        assert_eq!(s, StatusCode::OK, "{tab}");
    }
    for hidden in [r#"href="/stock/analysis""#, r#"href="/stock/replenishment""#, r#"href="/stock""#] {
        assert!(!html.contains(hidden), "a cashier is not shown {hidden}");
    }
    let m = shop.login("manager1", None).await;
    let (_, html) = common::web::text(shop.get(&m, "/stock/tasks").await).await;
    assert!(!html.contains("仓务") && html.contains(r#"href="/stock/analysis""#), "{html}");
}
