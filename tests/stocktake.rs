//! Stocktakes (盘点) end to end: a category count on the web with a cashier scanning (a weight
//! label counts its grams), two waters sold between the count and the approval kept in the books,
//! blind counting hiding expected figures from the cashier (API and page), the variance in units
//! and money, approval booking once; bad input naming its field; a lane's scanner counting
//! through the device hub while selling is refused; the CLI with and without a daemon.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use storehub::checkout::{CheckoutError, LaneNotice, Lanes, ScanOutcome};
use storehub::clock::ManualClock;
use storehub::config::{Config, DeviceConfig};
use storehub::devices::health::HealthBoard;
use storehub::devices::hub::DeviceHub;
use storehub::devices::sim::ScriptedScanner;
use storehub::domain::staff::Role;
use storehub::domain::stock::MoveKind;
use storehub::inventory::{self, stocktake as st};
use storehub::store::Durability;

use common::web::{body, text, WebShop};
use common::*;

const WATER: &str = "6907674936533";
const CESTBON: &str = "6955406993705";

/// Water 20, C'estbon 5, bananas 2 kg on the books.
fn stock_up(store: &storehub::store::Store) {
    load(store, &[water(), cestbon(), bananas()]);
    apply(store, MoveKind::Receipt, "SKU-010001", 20);
    apply(store, MoveKind::Receipt, "SKU-010003", 5);
    apply(store, MoveKind::Receipt, "SKU-020001", 2_000);
}

fn line<'a>(v: &'a Value, sku: &str) -> &'a Value {
    v.as_array().and_then(|a| a.iter().find(|l| l["sku"] == sku)).unwrap_or_else(|| panic!("no line {sku} in {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blind_category_count_with_a_sale_during_it_is_approved_once() {
    let shop = WebShop::start().await;
    stock_up(&shop.store);
    let manager = shop.login("manager1", None).await;
    let cashier = shop.login("cashier1", Some("lane-1")).await;

    let (s, opened) = body(shop.post_json(&manager, "/api/v1/stock/stocktakes", &json!({"scope": "categories", "categories": ["饮料", "水果"]})).await).await;
    assert_eq!(s, StatusCode::OK, "{opened}");
    let id = opened["id"].as_u64().unwrap();
    assert_eq!(opened["blind"], true, "[stock].stocktake_blind defaults to blind");
    let count = format!("/api/v1/stock/stocktakes/{id}/count");

    // The cashier counts: 17 waters by scanning, bananas by their weight label (2.350 kg), and
    // recounts C'estbon at 6. The answers never carry the expected figure.
    for _ in 0..17 {
        let (s, c) = body(shop.post_json(&cashier, &count, &json!({"code": WATER})).await).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert!(c.get("expected").is_none(), "a blind count hides the books from the counter: {c}");
    }
    let (_, c) = body(shop.post_json(&cashier, &count, &json!({"code": ean13("250500002350")})).await).await;
    assert_eq!((c["sku"].as_str(), c["counted"].as_i64(), c["change"].as_i64()), (Some("SKU-020001"), Some(2_350), Some(2_350)), "{c}");
    let (_, c) = body(shop.post_json(&cashier, &count, &json!({"code": CESTBON, "set": 6})).await).await;
    assert_eq!(c["counted"], 6);

    // Blind: the cashier's view of the stocktake (API and page) has no expected figures, and the
    // variance report and the list are refused.
    let (s, seen) = body(shop.get(&cashier, &format!("/api/v1/stock/stocktakes/{id}")).await).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(seen["shows_expected"], false);
    assert_eq!(line(&seen["lines"], "SKU-010001")["counted"], 17);
    assert!(seen["lines"].as_array().unwrap().iter().all(|l| l.get("expected").is_none()), "{seen}");
    assert_eq!(shop.get(&cashier, &format!("/api/v1/stock/stocktakes/{id}/variance")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&cashier, "/api/v1/stock/stocktakes").await.status(), StatusCode::FORBIDDEN);
    let (s, page) = text(shop.get(&cashier, &format!("/stock/stocktakes/{id}")).await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("SKU-010001") && page.contains("17"), "the cashier sees the count");
    for hidden in ["账面", "差异", "Expected", "Variance"] {
        assert!(!page.contains(hidden), "the cashier's page shows {hidden}");
    }
    let (s, count_page) = text(shop.get(&cashier, &format!("/stock/stocktakes/{id}/count")).await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(count_page.contains("autofocus") && count_page.contains("stocktake.js"), "the handheld page: autofocused field and its script");

    // Two waters sold after they were counted: the books go to 18.
    let till = "/api/v1/lanes/lane-1";
    for _ in 0..2 {
        assert_eq!(shop.post_json(&cashier, &format!("{till}/scan"), &json!({"code": WATER})).await.status(), StatusCode::OK);
    }
    let (s, paid) = body(shop.post_json(&cashier, &format!("{till}/pay"), &json!({"tenders": [{"kind": "cash", "amount_fen": 400}]})).await).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 18);

    // The manager's variance: against the books at the count. Water 17 − 20 = −3 × ¥1.50 cost;
    // bananas +350 g × ¥5.00/kg = ¥1.75; C'estbon +1 × ¥1.50.
    let (s, v) = body(shop.get(&manager, &format!("/api/v1/stock/stocktakes/{id}/variance")).await).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let w = line(&v["lines"], "SKU-010001");
    assert_eq!((w["expected"].as_i64(), w["counted"].as_i64(), w["variance"].as_i64(), w["variance_fen"].as_i64(), w["basis"].as_str()), (Some(20), Some(17), Some(-3), Some(-450), Some("cost")));
    let b = line(&v["lines"], "SKU-020001");
    assert_eq!((b["variance"].as_i64(), b["variance_fen"].as_i64()), (Some(350), Some(175)));
    assert_eq!(line(&v["lines"], "SKU-010003")["variance_fen"], 150);
    assert_eq!((v["totals"]["shrinkage_fen"].as_i64(), v["totals"]["surplus_fen"].as_i64(), v["totals"]["net_fen"].as_i64()), (Some(450), Some(325), Some(-125)));
    let csv = shop.get(&manager, &format!("/api/v1/stock/stocktakes/{id}/variance?format=csv")).await.text().await.unwrap();
    assert!(csv.starts_with("sku,name_zh,expected,counted,variance,unit_value_fen,value_basis,variance_fen\n"), "{csv}");
    assert!(csv.contains("SKU-010001,Nongfu Spring 550ml（中）,20,17,-3,150,cost,-450"), "{csv}");
    let (_, manager_page) = text(shop.get(&manager, &format!("/stock/stocktakes/{id}")).await).await;
    assert!(manager_page.contains("账面") && manager_page.contains("¥4.50"), "the manager sees books and shrinkage");

    // Approval needs a submitted count; then it books each variance once.
    let approve = format!("/api/v1/stock/stocktakes/{id}/approve");
    let (s, e) = body(shop.post_json(&manager, &approve, &json!({})).await).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert_eq!(shop.post_json(&cashier, &format!("/api/v1/stock/stocktakes/{id}/submit"), &json!({})).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.post_json(&manager, &format!("/api/v1/stock/stocktakes/{id}/submit"), &json!({})).await.status(), StatusCode::OK);
    let (s, done) = body(shop.post_json(&manager, &approve, &json!({})).await).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["moves"], 3);
    // 20 − 2 sold − 3 short = 15: the sale during the count is kept.
    assert_eq!(inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 15);
    assert_eq!(inventory::on_hand(&shop.store, "SKU-010003").unwrap(), 6);
    assert_eq!(inventory::on_hand(&shop.store, "SKU-020001").unwrap(), 2_350);
    let (s, again) = body(shop.post_json(&manager, &approve, &json!({})).await).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(again["message"], format!("盘点单 #{id} 已审核，不能再更改"), "a zh-CN login reads Chinese");
    let booked: Vec<_> = inventory::all_moves(&shop.store).unwrap().into_iter().filter(|m| m.reference.as_deref() == Some(&format!("stocktake-{id}"))).collect();
    assert_eq!(booked.len(), 3, "one move per SKU, once");
    assert!(booked.iter().all(|m| m.kind == MoveKind::Stocktake && m.reason == format!("stocktake #{id}") && m.user == "manager1"), "{booked:?}");
    assert_ledger_consistent(&shop.store, "after approval");
    let report = storehub::verify::verify(&shop.store).unwrap();
    assert_eq!(report.violations, Vec::<String>::new(), "storehub verify after the approval");
    // One event per step: opened, counted (per submit, not per scan), approved.
    for (t, n) in [(st::EVENT_OPENED, 1), (st::EVENT_COUNTED, 1), (st::EVENT_APPROVED, 1)] {
        assert_eq!(events_of_type(&shop.store, t).len(), n, "{t}");
    }
    let counted = &events_of_type(&shop.store, st::EVENT_COUNTED)[0];
    assert_eq!((counted.data().unwrap()["lines"].as_u64(), counted.data().unwrap()["scans"].as_u64()), (Some(3), Some(19)));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_names_the_field_and_changes_nothing() {
    let shop = WebShop::start().await;
    stock_up(&shop.store);
    let manager = shop.login("manager1", None).await;
    let open = "/api/v1/stock/stocktakes";
    let field_of = |v: &Value| v["field"].as_str().map(str::to_string);
    let (s, e) = body(shop.post_json(&manager, open, &json!({"scope": "aisle"})).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::BAD_REQUEST, Some("scope".into())), "{e}");
    let (s, e) = body(shop.post_json(&manager, open, &json!({"scope": "categories", "categories": ["玩具"]})).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::BAD_REQUEST, Some("scope".into())), "{e}");
    assert!(e["message"].as_str().unwrap().contains("玩具"), "{e}");
    let (s, e) = body(shop.post_json(&manager, open, &json!({"scope": "full", "blnd": true})).await).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().contains("blnd"), "{e}");
    assert!(st::list(&shop.store).unwrap().is_empty(), "nothing opened");

    let (_, opened) = body(shop.post_json(&manager, open, &json!({"scope": "skus", "skus": ["SKU-010001"]})).await).await;
    let id = opened["id"].as_u64().unwrap();
    let (s, e) = body(shop.post_json(&manager, open, &json!({"scope": "categories", "categories": ["饮料"]})).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::CONFLICT, Some("scope".into())), "water is a drink: the scopes overlap: {e}");
    let count = format!("/api/v1/stock/stocktakes/{id}/count");
    for (b, field) in [
        (json!({"code": ""}), "code"),
        (json!({"code": WATER, "qty": 0}), "qty"),
        (json!({"code": WATER, "qty": 1, "set": 2}), "set"),
        (json!({"code": WATER, "set": -4}), "set"),
        (json!({"code": "6900000000017"}), "code"),
        (json!({"code": CESTBON}), "code"),
        (json!({"code": "SKU-020001", "qty": 5}), "code"),
        (json!({"code": WATER, "qty": "two"}), "qty"),
    ] {
        let (s, e) = body(shop.post_json(&manager, &count, &b).await).await;
        assert_eq!((s, field_of(&e).as_deref()), (StatusCode::BAD_REQUEST, Some(field)), "{b} → {e}");
    }
    let (_, e) = body(shop.post_json(&manager, &count, &json!({"code": CESTBON})).await).await;
    assert!(e["message"].as_str().unwrap().contains("不在盘点单 #1 的范围内"), "{e}");
    assert_eq!(shop.post_json(&manager, "/api/v1/stock/stocktakes/abc/count", &json!({"code": WATER})).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(shop.post_json(&manager, "/api/v1/stock/stocktakes/99/count", &json!({"code": WATER})).await.status(), StatusCode::NOT_FOUND);
    assert!(st::lines(&shop.store, id).unwrap().is_empty(), "refused counts wrote nothing");
    // Count mode needs a lane that exists.
    let (s, e) = body(shop.post_json(&manager, "/api/v1/stock/stocktake-lanes", &json!({"lane": "lane-9", "stocktake": id})).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::CONFLICT, Some("lane".into())), "{e}");
    // Zones: a bad id is refused naming it; a good one is listed, opened on (frozen), removed.
    let (s, e) = body(shop.send_json(&manager, reqwest::Method::PUT, "/api/v1/stock/zones/Fresh%20Area", &json!({"name": "生鲜区", "categories": ["水果"]})).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::BAD_REQUEST, Some("id".into())), "{e}");
    let (s, e) = body(shop.send_json(&manager, reqwest::Method::PUT, "/api/v1/stock/zones/fresh", &json!({"name": "生鲜区", "categories": ["海鲜"]})).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::BAD_REQUEST, Some("scope".into())), "no such category: {e}");
    let (s, z) = body(shop.send_json(&manager, reqwest::Method::PUT, "/api/v1/stock/zones/fresh", &json!({"name": "生鲜区", "categories": ["水果"]})).await).await;
    assert_eq!((s, z["id"].as_str()), (StatusCode::OK, Some("fresh")), "{z}");
    let (_, zones) = body(shop.get(&manager, "/api/v1/stock/zones").await).await;
    assert_eq!(zones[0]["categories"][0], "水果");
    let (s, zoned) = body(shop.post_json(&manager, open, &json!({"scope": "zone", "zone": "fresh"})).await).await;
    assert_eq!(s, StatusCode::OK, "{zoned}");
    assert_eq!(zoned["scope"]["zone"]["categories"][0], "水果", "the zone's categories are copied into the stocktake");
    assert_eq!(shop.send_json(&manager, reqwest::Method::DELETE, "/api/v1/stock/zones/fresh", &json!(null)).await.status(), StatusCode::OK);
    let (s, e) = body(shop.send_json(&manager, reqwest::Method::DELETE, "/api/v1/stock/zones/fresh", &json!(null)).await).await;
    assert_eq!((s, field_of(&e)), (StatusCode::BAD_REQUEST, Some("zone".into())), "{e}");
    // The open form shows the error on the page.
    let res = shop.post_form(&manager, "/stock/stocktakes", &[("scope", "zone"), ("zone", "")]).await;
    let (s, page) = text(res).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("必填：选择区域") || page.contains("required: pick a zone"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_puts_a_lane_into_count_mode_from_the_page_and_the_till_stops_selling() {
    let shop = WebShop::start().await;
    stock_up(&shop.store);
    let manager = shop.login("manager1", None).await;
    let cashier = shop.login("cashier1", Some("lane-1")).await;
    let (_, opened) = body(shop.post_json(&manager, "/api/v1/stock/stocktakes", &json!({"scope": "skus", "skus": ["SKU-010001"]})).await).await;
    let id = opened["id"].as_u64().unwrap();
    let till = "/api/v1/lanes/lane-1";
    let lane_form = format!("/stock/stocktakes/{id}/lane");

    // A cart with a line on it cannot switch to counting.
    assert_eq!(shop.post_json(&cashier, &format!("{till}/scan"), &json!({"code": WATER})).await.status(), StatusCode::OK);
    let (s, page) = text(shop.post_form(&manager, &lane_form, &[("lane", "lane-1"), ("mode", "on")]).await).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(page.contains("pay or void it"), "{page}");
    assert_eq!(shop.post_json(&cashier, &format!("{till}/void"), &json!({"approver": {"staff": "manager1", "pin": common::web::PIN}})).await.status(), StatusCode::OK);

    let res = shop.post_form(&manager, &lane_form, &[("lane", "lane-1"), ("mode", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, cart) = body(shop.get(&cashier, &format!("{till}/cart")).await).await;
    assert_eq!(cart["counting"].as_u64(), Some(id), "the cashier screen knows: 盘点中");
    let (s, scanned) = body(shop.post_json(&cashier, &format!("{till}/scan"), &json!({"code": WATER})).await).await;
    assert_eq!((s, scanned["outcome"].as_str()), (StatusCode::OK, Some("counted")), "{scanned}");
    assert_eq!(scanned["cart"]["lines"].as_array().map(Vec::len), Some(0));
    assert_eq!(scanned["cart"]["notice"]["kind"], "counted");
    let (s, e) = body(shop.post_json(&cashier, &format!("{till}/items"), &json!({"sku": "SKU-010001", "qty": 1})).await).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(e["message"].as_str().unwrap().contains("盘点中"), "{e}");
    let (s, e) = body(shop.post_json(&cashier, &format!("{till}/scan"), &json!({"code": CESTBON})).await).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("code")), "C'estbon is outside this count: {e}");
    let (_, manager_view) = text(shop.get(&manager, &format!("/stock/stocktakes/{id}")).await).await;
    assert!(manager_view.contains("lane-1"), "the stocktake page names the counting lane");

    assert_eq!(shop.post_form(&manager, &lane_form, &[("lane", "lane-1"), ("mode", "off")]).await.status(), StatusCode::SEE_OTHER);
    let (_, scanned) = body(shop.post_json(&cashier, &format!("{till}/scan"), &json!({"code": WATER})).await).await;
    assert_eq!(scanned["outcome"], "added", "selling again");
    assert_eq!(st::lines(&shop.store, id).unwrap()[0].counted, 1);
}

fn lane_devices(dir: &std::path::Path) -> Vec<DeviceConfig> {
    let text = format!(
        r#"
[store]
chain_id = "c"
store_id = "s"
hub_id = "h"
name = "测试店"
[data]
dir = "{dir}"
[[lanes]]
id = "lane-1"
name = "1号收银台"
[[devices]]
id = "scanner-1"
kind = "scanner"
transport = "serial"
path = "{dir}/scanner-1"
lane = "lane-1"
"#,
        dir = dir.display()
    );
    Config::from_str(&text, "stocktake-test.toml").unwrap().devices
}

#[test]
fn a_lane_in_count_mode_counts_its_scanner_and_refuses_to_sell() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    stock_up(&store);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    for (id, role) in [("zhang", Role::Manager), ("li", Role::Cashier)] {
        storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: id.into(), name: id.into(), role }, "correct-horse-1", Some("1357"), &cost).unwrap();
    }
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    let new = st::NewStocktake { scope: st::ScopeRequest::Categories(vec!["饮料".into()]), blind: None, note: String::new(), by: "zhang".into() };
    let take = st::open(&store, &new, true).unwrap();
    st::set_lane(&store, "lane-1", Some(take.id), "zhang").unwrap();
    let who = storehub::staff::login_pin(&store, "li", "1357").unwrap();
    lanes.sign_in("lane-1", &who).unwrap();

    let devs = dir.path().join("dev");
    let cfg = lane_devices(&devs);
    let health = Arc::new(HealthBoard::new());
    let scanner = ScriptedScanner::create(&devs.join("scanner-1")).unwrap();
    let seen: Arc<Mutex<Vec<storehub::checkout::LaneUpdate>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let hub = DeviceHub::start(
        &cfg,
        storehub::devices::drive::drive,
        Arc::clone(&health),
        Arc::new(clock.clone()),
        Arc::clone(&store),
        Some(Arc::clone(&lanes)),
        Arc::new(|_| {}),
        Box::new(move |u| sink.lock().unwrap().push(u)),
    );
    wait_until("the scanner attaches", Duration::from_secs(10), || health.get("scanner-1").is_some_and(|h| h.connected));
    for code in [WATER, WATER, WATER, "6900000000017"] {
        scanner.scan(code).unwrap();
    }
    wait_until("four scans reach the lane", Duration::from_secs(10), || seen.lock().unwrap().len() == 4);
    // Three counted (by the cashier signed in), the unknown code refused naming it; the cart empty.
    let lines = st::lines(&store, take.id).unwrap();
    assert_eq!((lines.len(), lines[0].counted, lines[0].scans, lines[0].counted_by.as_str()), (1, 3, 3, "li"));
    let updates = seen.lock().unwrap();
    assert!(matches!(&updates[2].outcome, Some(Ok(ScanOutcome::Counted { count })) if count.counted == 3), "{:?}", updates[2]);
    assert!(matches!(&updates[3].outcome, Some(Err(m)) if m.contains("6900000000017")), "{:?}", updates[3]);
    drop(updates);
    let snap = lanes.snapshot("lane-1").unwrap();
    assert!(snap.cart.is_empty());
    assert_eq!(snap.counting, Some(take.id), "the screen shows 盘点中");
    assert!(matches!(snap.notice, Some(LaneNotice::Refused { .. })));
    // Selling is refused meanwhile, with the way out in the message.
    let e = lanes.add_sku("lane-1", "SKU-010001", 1).unwrap_err();
    assert!(matches!(e, CheckoutError::Counting { stocktake, .. } if stocktake == take.id), "{e}");
    assert!(e.to_string().contains("盘点中") && e.to_string().contains("--off"), "{e}");

    // Submitting the count ends count mode: the lane sells again.
    st::submit(&store, take.id, "zhang").unwrap();
    assert_eq!(lanes.snapshot("lane-1").unwrap().counting, None);
    scanner.scan(WATER).unwrap();
    wait_until("the scan goes to the cart again", Duration::from_secs(5), || lanes.cart("lane-1").unwrap().lines.len() == 1);
    assert_eq!(st::lines(&store, take.id).unwrap()[0].counted, 3);
    hub.stop();
}

#[test]
fn cli_stocktake_without_a_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let d = dir.to_str().unwrap();
    let csv = tmp.path().join("catalog.csv");
    std::fs::write(
        &csv,
        "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n\
         SKU-010001,6907674936533,农夫山泉 550ml,Nongfu Spring 550ml,饮料,piece,200,,144,1300,,24\n\
         SKU-020001,5000,香蕉,Bananas,水果,kg,798,,500,900,,\n",
    )
    .unwrap();
    let imported = storehub_cmd(&["--data-dir", d, "import", "catalog", csv.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    ok_json(storehub_cmd(&["--data-dir", d, "stock", "move", "SKU-010001", "30", "--kind", "receipt"]));
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "zhang", "--role", "manager", "--password-stdin"], "manager-zhang-2026\n"));
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--role", "cashier", "--password-stdin"], "cashier-li-2026\n"));

    refused(storehub_cmd(&["--data-dir", d, "stocktake", "open", "--category", "饮料", "--staff", "li"]), "staff li is a cashier and may not manage stocktakes");
    refused(storehub_cmd(&["--data-dir", d, "stocktake", "open", "--category", "零食", "--staff", "zhang"]), "scope: no category \"零食\"");
    let opened = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "open", "--category", "饮料", "--staff", "zhang"]));
    assert_eq!((opened["id"].as_u64(), opened["state"].as_str(), opened["blind"].as_bool()), (Some(1), Some("open"), Some(true)));
    let c = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "count", "1", "--scan", WATER, "--qty", "24", "--staff", "li"]));
    assert_eq!(c["counted"], 24);
    assert!(c.get("expected").is_none(), "blind for the cashier on the CLI too: {c}");
    let c = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "count", "1", "--scan", WATER, "--set", "28", "--staff", "zhang"]));
    assert_eq!((c["counted"].as_i64(), c["expected"].as_i64()), (Some(28), Some(30)), "the manager sees the books");
    refused(storehub_cmd(&["--data-dir", d, "stocktake", "count", "1", "--scan", "5000", "--qty", "300", "--staff", "li"]), "outside stocktake #1");
    let shown = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "show", "1", "--staff", "li"]));
    assert!(shown["lines"][0].get("expected").is_none(), "{shown}");
    refused(storehub_cmd(&["--data-dir", d, "stocktake", "variance", "1", "--staff", "li"]), "may not manage stocktakes");
    let csv = storehub_cmd(&["--data-dir", d, "stocktake", "variance", "1", "--format", "csv", "--staff", "zhang"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    assert!(String::from_utf8_lossy(&csv.stdout).contains("SKU-010001,农夫山泉 550ml,30,28,-2,144,cost,-288"), "{}", String::from_utf8_lossy(&csv.stdout));
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "submit", "1", "--staff", "zhang"]));
    let done = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "approve", "1", "--staff", "zhang"]));
    assert_eq!((done["moves"].as_u64(), done["shrinkage_fen"].as_i64()), (Some(1), Some(288)));
    refused(storehub_cmd(&["--data-dir", d, "stocktake", "approve", "1", "--staff", "zhang"]), "stocktake #1 is approved");
    let on_hand = ok_json(storehub_cmd(&["--data-dir", d, "stock", "show", "SKU-010001"]));
    assert_eq!(on_hand[0]["on_hand"], 28);
    let listed = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "list", "--staff", "zhang"]));
    assert_eq!(listed[0]["state"], "approved");
    // Zones: set, open on one, remove.
    refused(storehub_cmd(&["--data-dir", d, "stocktake", "zone", "set", "Front Shelf", "--name", "前排", "--category", "水果", "--staff", "zhang"]), "id: expected 1 to 64 lowercase letters");
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "zone", "set", "fresh", "--name", "生鲜区", "--category", "水果", "--staff", "zhang"]));
    let zoned = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "open", "--zone", "fresh", "--open-count", "--staff", "zhang"]));
    assert_eq!((zoned["id"].as_u64(), zoned["blind"].as_bool()), (Some(2), Some(false)));
    let c = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "count", "2", "--scan", &ean13("250500001234"), "--staff", "li"]));
    assert_eq!((c["counted"].as_i64(), c["expected"].as_i64()), (Some(1_234), Some(0)), "an open count shows the books to the cashier");
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "cancel", "2", "--staff", "zhang"]));
    let zones = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "zone", "list", "--staff", "li"]));
    assert_eq!(zones[0]["categories"][0], "水果");
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "zone", "remove", "fresh", "--staff", "zhang"]));
    refused(storehub_cmd(&["--data-dir", d, "stocktake", "lane", "lane-1", "--stocktake", "1", "--staff", "zhang"]), "no lanes");
}

#[test]
fn cli_stocktake_through_a_running_daemon_with_a_lane_in_count_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let d = dir.to_str().unwrap();
    let mut daemon = start_demo(&dir);
    let opened = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "open", "--sku", "SKU-010001", "--sku", "SKU-010003", "--staff", "demo-manager"]));
    let id = opened["id"].as_u64().unwrap().to_string();
    let on_lane = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "lane", "lane-1", "--stocktake", &id, "--staff", "demo-manager"]));
    assert_eq!(on_lane["counting"]["stocktake"].as_u64(), opened["id"].as_u64());
    // The lane's scans count (the CLI's lane scan goes through the same lanes as the scanner).
    let scanned = ok_json(storehub_cmd(&["--data-dir", d, "lane", "scan", "lane-1", WATER]));
    assert_eq!(scanned["outcome"]["outcome"], "counted", "{scanned}");
    refused(storehub_cmd(&["--data-dir", d, "lane", "add", "lane-1", "SKU-010001"]), "盘点中");
    let shown = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "show", &id, "--staff", "demo-cashier"]));
    assert_eq!(shown["lanes"][0], "lane-1");
    assert_eq!(shown["lines"][0]["counted"], 1);
    assert!(shown["lines"][0].get("expected").is_none(), "{shown}");
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "count", &id, "--scan", CESTBON, "--qty", "3", "--staff", "demo-cashier"]));
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "lane", "lane-1", "--off", "--staff", "demo-manager"]));
    ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "submit", &id, "--staff", "demo-manager"]));
    let done = ok_json(storehub_cmd(&["--data-dir", d, "stocktake", "approve", &id, "--staff", "demo-manager"]));
    assert_eq!(done["moves"], 2);
    let shown = ok_json(storehub_cmd(&["--data-dir", d, "stock", "show", "SKU-010003"]));
    assert_eq!(shown[0]["on_hand"], 3);
    let verified = ok_json(storehub_cmd(&["--data-dir", d, "verify"]));
    assert_eq!(verified["violations"], serde_json::json!([]), "{verified}");
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon must still run");
}

/// Measures a full count of `STOCKTAKE_SKUS` (default 5 000) SKUs on a durable store: one count
/// commit per SKU, the variance report, and the approval (one move per SKU in commits of 200).
/// `cargo test --test stocktake -- --ignored --nocapture full_count`; figures in
/// docs/stock-intelligence.md.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn full_count_timing() {
    let n: usize = std::env::var("STOCKTAKE_SKUS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = open_store(dir.path(), &clock, Durability::Durable);
    let products: Vec<_> = (0..n).map(|i| drink(&format!("SKU-{i:06}"), &format!("Drink {i}"), &[&ean13(&format!("69{i:010}"))], None)).collect();
    for chunk in products.chunks(1_000) {
        load(&store, chunk);
    }
    for chunk in products.chunks(500) {
        let moves: Vec<_> = chunk.iter().map(|p| request(MoveKind::Receipt, &p.sku, 20)).collect();
        inventory::move_stock_all(&store, &moves).unwrap();
    }
    let cost = storehub::staff::HashCost::minimal_for_tests();
    storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: "m".into(), name: "m".into(), role: Role::Manager }, "correct-horse-1", None, &cost).unwrap();
    let take = st::open(&store, &st::NewStocktake { scope: st::ScopeRequest::Full, blind: None, note: String::new(), by: "m".into() }, true).unwrap();
    let t = Instant::now();
    for (i, p) in products.iter().enumerate() {
        st::count(&store, &[], take.id, &p.barcodes[0], st::CountHow::Set(18 + (i % 5) as i64), "m").unwrap();
    }
    let counting = t.elapsed();
    let t = Instant::now();
    let report = st::variance(&store, take.id).unwrap();
    let variance = t.elapsed();
    st::submit(&store, take.id, "m").unwrap();
    let t = Instant::now();
    let done = st::approve(&store, take.id, "m", false).unwrap();
    let approval = t.elapsed();
    assert_eq!(done.moves, n - n / 5 - usize::from(n % 5 > 2), "every SKU but those counted at 20");
    assert_eq!(report.lines.len(), n);
    println!(
        "{n} SKUs: counting {:.0} counts/s ({counting:?}), variance report {variance:?}, approval {approval:?} ({} moves)",
        n as f64 / counting.as_secs_f64(),
        done.moves
    );
}
