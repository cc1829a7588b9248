//! Staff performance (员工绩效), targets and commission (提成) end to end: two cashiers sell at
//! two real lanes on a manual clock, a manager takes a return, a cart is voided, a cashier
//! registers a member through the API, another takes a top-up, a rated service ticket; then
//! the figures, the ranking, what a cashier may see, targets (a past period refused) and the
//! commission with its payroll CSV are checked against numbers worked out here. Last, the CLI
//! on its own data dir.

mod common;

use chrono::{TimeZone, Utc};
use common::web::{Login, WebShop};
use serde_json::{json, Value};
use storehub::checkout::returns::{ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::config::Secret;
use storehub::control::lanes::{lane, return_items, LaneAction};
use storehub::domain::stock::MoveKind;
use storehub::domain::tender::{Tender, TenderKind};

/// Shop-local (UTC+8) `h:m` on November `day`, 2026.
fn local(day: u32, h: u32, m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap() - chrono::Duration::hours(8)
}

fn act(shop: &WebShop, lane_id: &str, action: LaneAction) -> Value {
    match lane(&shop.store, &shop.state.ctx, lane_id, action) {
        Ok(r) => r.result,
        Err(e) => panic!("lane action at {lane_id} refused: {e}"),
    }
}

/// Rings up `items` at `lane_id` (bananas weighed in grams) and pays cash.
fn sell(shop: &WebShop, lane_id: &str, member: Option<&str>, items: &[(&str, i64)], paid: i64) -> Value {
    if let Some(phone) = member {
        act(shop, lane_id, LaneAction::Member { query: phone.into() });
    }
    for (sku, qty) in items {
        if *sku == "SKU-020001" {
            act(shop, lane_id, LaneAction::Weigh { sku: (*sku).into(), grams: Some(*qty) });
        } else {
            act(shop, lane_id, LaneAction::Add { sku: (*sku).into(), qty: *qty });
        }
    }
    act(shop, lane_id, LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: paid, reference: None, points: None }] })["sale"].clone()
}

async fn json_of(shop: &WebShop, who: &Login, path: &str) -> Value {
    let res = shop.get(who, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

const A: &str = "13800000001";

/// Thursday 26 November 2026 (not the demo shop's Wednesday member day), worked out by hand
/// (waters and C'estbon ¥2.00 in 饮料, bananas ¥7.98/kg in 水果):
/// - 09:00 cashier1 registers member A through the API (registered_by = cashier1).
/// - 10:00 lane-1, cashier1: A buys 5 waters, ¥10.00.
/// - 10:30 lane-1, cashier1: a guest buys 1 kg bananas, ¥7.98 (one item).
/// - 11:00 lane-2, cashier2: A buys 3 C'estbon, ¥6.00, with a ¥1.00-off coupon: ¥5.00.
/// - 11:30 lane-2, cashier2: 1 water + 500 g bananas ¥3.99 = ¥5.99.
/// - 12:00 lane-1, manager1 takes back 2 waters of the 10:00 sale: ¥4.00.
/// - 12:30 lane-2, cashier2 voids a cart with 1 C'estbon (¥2.00 at list price).
/// - 13:00 cashier2 takes A's ¥100.00 top-up.
/// - 14:00 manager1 opens, resolves and records a 4 on a service ticket of A.
fn the_day(shop: &WebShop) {
    shop.clock.set(local(26, 8, 0));
    common::load(&shop.store, &[common::water(), common::cestbon(), common::bananas()]);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-010001", 100);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-010003", 100);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-020001", 10_000);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    let new = storehub::staff::NewStaff { id: "cashier2".into(), name: "cashier2 名".into(), role: storehub::domain::staff::Role::Cashier };
    storehub::staff::create_staff(&shop.store, &new, common::web::PASSWORD, Some(common::web::PIN), &cost).unwrap();
    storehub::staff::open_shift(&shop.store, "lane-2", "cashier2", 20_000).unwrap();
    act(shop, "lane-1", LaneAction::SignIn { staff: "cashier1".into(), pin: Secret::new(common::web::PIN.into()) });
    act(shop, "lane-2", LaneAction::SignIn { staff: "cashier2".into(), pin: Secret::new(common::web::PIN.into()) });
}

fn the_sales(shop: &WebShop, member_id: u64) {
    shop.clock.set(local(26, 10, 0));
    let first = sell(shop, "lane-1", Some(A), &[("SKU-010001", 5)], 1_000);
    assert_eq!(first["priced"]["total_fen"], 1_000);
    shop.clock.set(local(26, 10, 30));
    sell(shop, "lane-1", None, &[("SKU-020001", 1_000)], 800);
    shop.clock.set(local(26, 11, 0));
    let template = storehub::coupons::CouponTemplate {
        id: "T-1-OFF".into(),
        name_zh: "立减1元券".into(),
        name_en: "¥1 off".into(),
        kind: storehub::domain::pricing::CouponKind::Threshold { min_spend_fen: 0, off_fen: 100 },
        min_spend_fen: 0,
        categories: vec![],
        validity: storehub::coupons::Validity::DaysAfterIssue(30),
        per_member_limit: 1,
        active: true,
    };
    storehub::coupons::upsert_templates(&shop.store, &[template]).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let code = storehub::coupons::issue(&shop.store, "T-1-OFF", &[member_id], None, today).unwrap().issued[0].code.clone();
    act(shop, "lane-2", LaneAction::Coupon { code });
    let third = sell(shop, "lane-2", Some(A), &[("SKU-010003", 3)], 500);
    assert_eq!((third["priced"]["total_fen"].as_i64(), third["coupons"].as_array().map(Vec::len)), (Some(500), Some(1)));
    shop.clock.set(local(26, 11, 30));
    let fourth = sell(shop, "lane-2", None, &[("SKU-010001", 1), ("SKU-020001", 500)], 600);
    assert_eq!(fourth["priced"]["total_fen"], 599);
    shop.clock.set(local(26, 12, 0));
    let req = ReturnRequest {
        of: ReturnOf::Sale { sale_id: first["id"].as_u64().unwrap(), lines: vec![ReturnLineRequest { line_no: 1, qty: 2 }] },
        lane: "lane-1".into(),
        by: "manager1".into(),
        restock: true,
        reason: "买多了".into(),
    };
    let r = return_items(&shop.store, &shop.state.ctx, req).unwrap();
    assert_eq!(r.result["refund_fen"], 400);
    shop.clock.set(local(26, 12, 30));
    act(shop, "lane-2", LaneAction::Add { sku: "SKU-010003".into(), qty: 1 });
    act(shop, "lane-2", LaneAction::Void);
    shop.clock.set(local(26, 13, 0));
    storehub::members::topup(&shop.store, member_id, 10_000, "cashier2", Some("POS-1"), &shop.state.ctx.loyalty).unwrap();
    shop.clock.set(local(26, 14, 0));
    use storehub::members::tickets::{self, NewTicket, TicketChannel, TicketKind};
    let new = NewTicket {
        member_id,
        kind: TicketKind::Consultation,
        channel: TicketChannel::InStore,
        subject: "积分怎么用".into(),
        note: None,
        opened_by: "manager1".into(),
        campaign_id: None,
    };
    let t = tickets::open(&shop.store, &shop.state.ctx.tickets, &new).unwrap();
    tickets::resolve(&shop.store, t.id, "manager1", "已解答", Some(4)).unwrap();
    shop.clock.set(local(26, 18, 0));
}

fn row<'a>(report: &'a Value, staff: &str) -> &'a Value {
    report["rows"].as_array().unwrap().iter().find(|r| r["staff"] == staff).unwrap_or_else(|| panic!("no row for {staff}: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_ranking_targets_and_commission_of_a_day_at_two_lanes() {
    let shop = WebShop::start().await;
    the_day(&shop);
    let manager = shop.login("manager1", None).await;
    let cashier1 = shop.login("cashier1", None).await;

    // The member registered by a cashier on the web is credited to them.
    shop.clock.set(local(26, 9, 0));
    let res = shop.post_json(&cashier1, "/api/v1/members", &json!({ "phone": A, "name": "张伟" })).await;
    assert_eq!(res.status(), 200);
    let member_id = res.json::<Value>().await.unwrap()["member"]["id"].as_u64().unwrap();
    let m = storehub::members::member(&shop.store, member_id).unwrap().unwrap();
    assert_eq!(m.registered_by.as_deref(), Some("cashier1"));

    // Rules and a target, set by the manager before the day's sales.
    let rules = json!({ "default_rate_bp": 100, "category_rates": { "饮料": 300 }, "per_new_member_fen": 500, "topup_rate_bp": 50 });
    let res = shop.send_json(&manager, reqwest::Method::PUT, "/api/v1/staff/commission/rules", &rules).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["changed_by"], "manager1");
    let target = json!({ "staff": "cashier1", "period": "2026-11", "sales_fen": 10_000, "tickets": 4 });
    let res = shop.post_json(&manager, "/api/v1/staff/targets", &target).await;
    assert_eq!(res.status(), 200);

    // A target for a period that ended is refused, naming the period, and changes nothing.
    let events_before = common::outbox(&shop.store).len();
    let past = json!({ "staff": "cashier1", "period": "2026-10", "sales_fen": 10_000 });
    let res = shop.post_json(&manager, "/api/v1/staff/targets", &past).await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["field"], "period");
    assert_eq!(err["message"], "期间 2026-10 已于 2026-10-31 结束：只能为本期或以后的期间设定目标");
    let yesterday = json!({ "staff": "cashier1", "period": "2026-11-25", "tickets": 1 });
    assert_eq!(shop.post_json(&manager, "/api/v1/staff/targets", &yesterday).await.status(), 400);
    assert_eq!(common::outbox(&shop.store).len(), events_before);
    assert!(json_of(&shop, &manager, "/api/v1/staff/targets?period=2026-10").await["targets"].as_array().unwrap().is_empty());
    let nobody = json!({ "staff": "nobody", "period": "2026-11", "tickets": 1 });
    let res = shop.post_json(&manager, "/api/v1/staff/targets", &nobody).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "staff");
    // A member registered by HQ's tool (an API token, no staff account) is nobody's.
    let token = storehub::web::auth::add_token(&shop.store, "hq", storehub::domain::staff::Role::Manager).unwrap();
    let res = shop.http.post(shop.url("/api/v1/members")).bearer_auth(&token).json(&json!({ "phone": "13800000009", "name": "钱多" })).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let id = res.json::<Value>().await.unwrap()["member"]["id"].as_u64().unwrap();
    assert_eq!(storehub::members::member(&shop.store, id).unwrap().unwrap().registered_by, None);
    // A cashier may not set targets.
    assert_eq!(shop.post_json(&cashier1, "/api/v1/staff/targets", &target).await.status(), 403);

    the_sales(&shop, member_id);
    // Hours passed: log in again.
    let manager = shop.login("manager1", None).await;

    // The manager's table for the month.
    let p = json_of(&shop, &manager, "/api/v1/staff/performance?period=2026-11").await;
    assert_eq!((p["period"].as_str(), p["from"].as_str(), p["to"].as_str(), p["full"].as_bool()), (Some("2026-11"), Some("2026-11-01"), Some("2026-11-30"), Some(true)));
    // cashier1: ¥10.00 + ¥7.98 = ¥17.98 on 2 tickets, average ¥8.99; 5 + 1 = 6 items, 3.000 per
    // ticket; 1 member registered; the return is manager1's, not theirs.
    let c1 = row(&p, "cashier1");
    assert_eq!(
        (&c1["rank"], &c1["sales_fen"], &c1["tickets"], &c1["average_ticket_fen"], &c1["items"], &c1["items_per_ticket_milli"], &c1["members_registered"]),
        (&json!(1), &json!(1_798), &json!(2), &json!(899), &json!(6), &json!(3_000), &json!(1))
    );
    assert_eq!((&c1["returns"], &c1["voids"], &c1["topups"]), (&json!(0), &json!(0), &json!(0)));
    // Net for commission: drinks ¥10.00 − ¥4.00 back = ¥6.00; fruit ¥7.98.
    assert_eq!(c1["net_sales_by_category"], json!({ "饮料": 600, "水果": 798 }));
    // Target ¥100.00 and 4 tickets: ¥17.98 = 17.98 %, 2 of 4 = 50 %.
    assert_eq!(c1["target"], json!({ "sales_fen": 10_000, "tickets": 4, "new_members": null }));
    assert_eq!(c1["progress"], json!({ "sales_bp": 1_798, "tickets_bp": 5_000, "new_members_bp": null }));
    // cashier2: ¥5.00 + ¥5.99 = ¥10.99 on 2 tickets, average ¥5.495 → ¥5.50; 3 + 2 = 5 items,
    // 2.500 per ticket; the coupon, the void (¥2.00) and the ¥100.00 top-up.
    let c2 = row(&p, "cashier2");
    assert_eq!(
        (&c2["rank"], &c2["sales_fen"], &c2["tickets"], &c2["average_ticket_fen"], &c2["items"], &c2["items_per_ticket_milli"]),
        (&json!(2), &json!(1_099), &json!(2), &json!(550), &json!(5), &json!(2_500))
    );
    assert_eq!((&c2["voids"], &c2["void_value_fen"], &c2["topups"], &c2["topup_fen"]), (&json!(1), &json!(200), &json!(1), &json!(10_000)));
    assert_eq!(c2["coupons_redeemed"], 1);
    assert_eq!(c1["coupons_redeemed"], 0);
    assert_eq!(c2["net_sales_by_category"], json!({ "饮料": 700, "水果": 399 }));
    assert_eq!(c2["target"], Value::Null);
    // manager1: the return (1, ¥4.00) and the ticket rated 4 (4.000); no sales. admin1 may sell
    // and has a zero row; both tie at rank 3. The technician, who never sells, is not ranked.
    let m1 = row(&p, "manager1");
    assert_eq!((&m1["rank"], &m1["returns"], &m1["returns_fen"], &m1["ratings"], &m1["satisfaction_milli"]), (&json!(3), &json!(1), &json!(400), &json!(1), &json!(4_000)));
    assert_eq!(row(&p, "admin1")["rank"], 3);
    assert_eq!(p["ranked"], 4);
    assert!(p["rows"].as_array().unwrap().iter().all(|r| r["staff"] != "tech1"));
    assert_eq!(c1["satisfaction_milli"], Value::Null);
    // The day alone is the same; the day before has no sales.
    let day = json_of(&shop, &manager, "/api/v1/staff/performance?period=2026-11-26").await;
    assert_eq!(row(&day, "cashier2")["sales_fen"], 1_099);
    let before = json_of(&shop, &manager, "/api/v1/staff/performance?period=2026-11-25").await;
    assert_eq!(row(&before, "cashier1")["sales_fen"], 0);

    // A cashier sees only their own row and rank: never the other cashier's figures.
    let cashier2 = shop.login("cashier2", None).await;
    let own = json_of(&shop, &cashier2, "/api/v1/staff/performance?period=2026-11").await;
    assert_eq!((own["full"].as_bool(), own["ranked"].as_u64(), own["rows"].as_array().unwrap().len()), (Some(false), Some(4), 1));
    assert_eq!((&own["rows"][0]["staff"], &own["rows"][0]["rank"], &own["rows"][0]["sales_fen"]), (&json!("cashier2"), &json!(2), &json!(1_099)));
    assert!(!own.to_string().contains("cashier1"), "{own}");
    let page = shop.get(&cashier2, "/staff/performance?period=2026-11").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("第 2 名 / 4"), "{html}");
    assert!(!html.contains("cashier1") && !html.contains("¥17.98"), "the page shows another cashier's figures");
    for path in ["/api/v1/staff/targets?period=2026-11", "/api/v1/staff/commission?period=2026-11", "/api/v1/staff/commission/rules", "/staff/commission"] {
        assert_eq!(shop.get(&cashier2, path).await.status(), 403, "{path}");
    }
    // The manager's page: the whole table, progress and the targets form.
    let html = shop.get(&manager, "/staff/performance?period=2026-11").await.text().await.unwrap();
    assert!(html.contains("cashier1 名") && html.contains("cashier2 名") && html.contains("¥17.98") && html.contains("17.98%"), "{html}");
    assert!(html.contains("/staff/performance/targets"));
    // A bad period names the field.
    let res = shop.get(&manager, "/api/v1/staff/performance?period=2026-13").await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "period");

    // Commission, by hand (饮料 3 %, other 1 %, ¥5.00 per member, 0.5 % of top-ups, half up per
    // staff and rule):
    // - cashier1: ¥6.00 × 3 % = 18; ¥7.98 × 1 % = 7.98 → 8; 1 member = 500; total 526.
    // - cashier2: ¥7.00 × 3 % = 21; ¥3.99 × 1 % = 3.99 → 4; ¥100.00 × 0.5 % = 50; total 75.
    // - manager1 (the return is off cashier1's sales): 0.
    let c = json_of(&shop, &manager, "/api/v1/staff/commission?period=2026-11").await;
    let total = |staff: &str| c["rows"].as_array().unwrap().iter().find(|r| r["staff"] == staff).map(|r| r["total_fen"].clone());
    assert_eq!((total("cashier1"), total("cashier2"), total("manager1")), (Some(json!(526)), Some(json!(75)), Some(json!(0))));
    assert_eq!(c["total_fen"], 601);
    let res = shop.get(&manager, "/api/v1/staff/commission?period=2026-11&format=csv").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("commission-2026-11.csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines,
        vec![
            "staff_id,staff_name,period,category:饮料_base,category:饮料_fen,other_categories_base,other_categories_fen,new_members_base,new_members_fen,topups_base,topups_fen,total_fen",
            "cashier1,cashier1 名,2026-11,600,18,798,8,1,500,0,0,526",
            "cashier2,cashier2 名,2026-11,700,21,399,4,0,0,10000,50,75",
            "manager1,manager1 名,2026-11,0,0,0,0,0,0,0,0,0",
        ]
    );
    // The pages' forms: a target for next month, a past one refused on the page, the rules
    // typed in percent and yuan.
    let res = shop.post_form(&manager, "/staff/performance/targets", &[("period", "2026-12"), ("staff", "cashier2"), ("sales", "300.50"), ("new_members", "2")]).await;
    assert_eq!(res.status(), 303);
    let dec = json_of(&shop, &manager, "/api/v1/staff/targets?period=2026-12").await;
    assert_eq!(dec["targets"][0]["target"], json!({ "sales_fen": 30_050, "tickets": null, "new_members": 2 }));
    let res = shop.post_form(&manager, "/staff/performance/targets", &[("period", "2026-10"), ("staff", "cashier2"), ("tickets", "5")]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("已于 2026-10-31 结束"));
    let typed = [("period", "2026-11"), ("default_rate", "1"), ("category_rates", "饮料=3\n母婴=5.5"), ("per_new_member", "5.00"), ("topup_rate", "0.5")];
    assert_eq!(shop.post_form(&manager, "/staff/commission/rules", &typed).await.status(), 303);
    let r = json_of(&shop, &manager, "/api/v1/staff/commission/rules").await["rules"].clone();
    assert_eq!(r, json!({ "default_rate_bp": 100, "category_rates": { "饮料": 300, "母婴": 550 }, "per_new_member_fen": 500, "topup_rate_bp": 50 }));
    let res = shop.post_form(&manager, "/staff/commission/rules", &[("default_rate", "1"), ("category_rates", "饮料 3")]).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("第 1 行“饮料 3”"));
    assert_eq!(json_of(&shop, &manager, "/api/v1/staff/commission/rules").await["rules"], r);

    // The commission page and bad rules (nothing changes).
    let html = shop.get(&manager, "/staff/commission?period=2026-11").await.text().await.unwrap();
    assert!(html.contains("¥5.26") && html.contains("¥0.75") && html.contains("饮料=3"), "{html}");
    let bad = json!({ "default_rate_bp": 20_000 });
    let res = shop.send_json(&manager, reqwest::Method::PUT, "/api/v1/staff/commission/rules", &bad).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "default_rate_bp");
    assert_eq!(json_of(&shop, &manager, "/api/v1/staff/commission/rules").await["rules"]["default_rate_bp"], 100);

    // The events: the two targets and the two rule sets, ids and figures only.
    let targets = common::events_of_type(&shop.store, "storehub.staff.target_set");
    assert_eq!(targets.len(), 2);
    let data = |e: &storehub::store::OutboxEvent| serde_json::from_str::<Value>(&e.data_json).unwrap();
    assert_eq!(data(&targets[0]), json!({ "staff": "cashier1", "period": "2026-11", "sales_fen": 10_000, "tickets": 4, "new_members": null, "by": "manager1" }));
    let rules_changed = common::events_of_type(&shop.store, "storehub.commission.rules_changed");
    assert_eq!(rules_changed.len(), 2);
    assert_eq!(data(&rules_changed[1])["rules"], r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_sale_of_last_month_lowers_this_months_commission() {
    let shop = WebShop::start().await;
    the_day(&shop);
    let rules = json!({ "default_rate_bp": 0, "category_rates": { "饮料": 1_000 } });
    let manager = shop.login("manager1", None).await;
    assert_eq!(shop.send_json(&manager, reqwest::Method::PUT, "/api/v1/staff/commission/rules", &rules).await.status(), 200);
    // 30 November: cashier1 sells 10 waters ¥20.00; 1 December: 5 come back (¥10.00).
    shop.clock.set(local(30, 10, 0));
    let sale = sell(&shop, "lane-1", None, &[("SKU-010001", 10)], 2_000);
    shop.clock.set(Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap());
    let req = ReturnRequest {
        of: ReturnOf::Sale { sale_id: sale["id"].as_u64().unwrap(), lines: vec![ReturnLineRequest { line_no: 1, qty: 5 }] },
        lane: "lane-1".into(),
        by: "manager1".into(),
        restock: true,
        reason: "退货".into(),
    };
    return_items(&shop.store, &shop.state.ctx, req).unwrap();
    let manager = shop.login("manager1", None).await;
    // November: ¥20.00 × 10 % = 200. December: −¥10.00 × 10 % = −100, on cashier1 who sold it.
    let nov = json_of(&shop, &manager, "/api/v1/staff/commission?period=2026-11").await;
    let dec = json_of(&shop, &manager, "/api/v1/staff/commission?period=2026-12").await;
    let total = |c: &Value, staff: &str| c["rows"].as_array().unwrap().iter().find(|r| r["staff"] == staff).map(|r| r["total_fen"].clone());
    assert_eq!(total(&nov, "cashier1"), Some(json!(200)));
    assert_eq!(total(&dec, "cashier1"), Some(json!(-100)));
    assert_eq!(total(&dec, "manager1"), Some(json!(0)));
}

#[test]
fn the_cli_registers_sets_targets_and_rules_and_exports_commission() {
    use common::{ok_json, refused, storehub_cmd, storehub_with_stdin};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let added = storehub_with_stdin(&["--data-dir", d, "staff", "add", "wang", "--name", "王芳", "--role", "cashier", "--password-stdin"], "correct horse\n");
    assert!(added.status.success(), "{}", common::stderr(&added));
    let added = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--name", "李经理", "--role", "manager", "--password-stdin"], "correct horse\n");
    assert!(added.status.success(), "{}", common::stderr(&added));
    // The CLI runs on the real clock in Asia/Shanghai (no config).
    let month = (Utc::now() + chrono::Duration::hours(8)).format("%Y-%m").to_string();

    ok_json(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13900000001", "--name", "赵敏", "--staff", "wang"]));
    refused(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13900000002", "--name", "钱", "--staff", "nobody"]), "no staff account nobody");

    let all = ok_json(storehub_cmd(&["--data-dir", d, "staff", "performance", "--period", &month]));
    assert_eq!(all["full"], true);
    let wang = all["rows"].as_array().unwrap().iter().find(|r| r["staff"] == "wang").unwrap().clone();
    assert_eq!((&wang["members_registered"], &wang["rank"], &all["ranked"]), (&json!(1), &json!(1), &json!(2)));
    let own = ok_json(storehub_cmd(&["--data-dir", d, "staff", "performance", "--staff", "wang"]));
    assert_eq!((own["full"].as_bool(), own["rows"].as_array().unwrap().len()), (Some(false), 1));
    assert!(!own.to_string().contains("李经理"));

    refused(
        storehub_cmd(&["--data-dir", d, "staff", "target", "set", "--staff", "wang", "--period", "2020-01", "--tickets", "5", "--by", "li"]),
        "target for 2020-01: that period ended on 2020-01-31",
    );
    refused(
        storehub_cmd(&["--data-dir", d, "staff", "target", "set", "--staff", "wang", "--period", &month, "--tickets", "5", "--by", "wang"]),
        "may not manage staff performance and targets",
    );
    let t = ok_json(storehub_cmd(&["--data-dir", d, "staff", "target", "set", "--staff", "wang", "--period", &month, "--new-members", "4", "--by", "li"]));
    assert_eq!(t["target"]["new_members"], 4);
    let p = ok_json(storehub_cmd(&["--data-dir", d, "staff", "performance", "--staff", "wang", "--period", &month]));
    assert_eq!(p["rows"][0]["progress"]["new_members_bp"], 2_500);

    refused(storehub_cmd(&["--data-dir", d, "staff", "commission", "rules", "set", "--per-member-fen", "500", "--by", "wang"]), "may not manage commission");
    refused(storehub_cmd(&["--data-dir", d, "staff", "commission", "rules", "set", "--category", "饮料", "--by", "li"]), "expected CATEGORY=BP");
    refused(storehub_cmd(&["--data-dir", d, "staff", "commission", "rules", "set", "--default-bp", "-1", "--by", "li"]), "default_rate_bp");
    ok_json(storehub_cmd(&["--data-dir", d, "staff", "commission", "rules", "set", "--category", "饮料=300", "--per-member-fen", "500", "--by", "li"]));
    let shown = ok_json(storehub_cmd(&["--data-dir", d, "staff", "commission", "rules", "show"]));
    assert_eq!((&shown["rules"]["category_rates"]["饮料"], &shown["changed_by"]), (&json!(300), &json!("li")));
    let out = storehub_cmd(&["--data-dir", d, "staff", "commission", "export", "--period", &month]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.contains(&format!("wang,王芳,{month},0,0,0,0,1,500,0,0,500")), "{csv}");
}
