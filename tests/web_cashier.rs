//! The cashier screen's API over real HTTP (`/api/v1/lanes/{lane}/…`): a cashier at lane-1
//! scans, changes and removes lines, weighs bananas, identifies a member, applies their coupon,
//! pays with points and cash and gets change; refusals name the field or say what the state
//! refused; voids and returns need a manager's PIN; the event stream pushes the cart after a
//! scan that came from elsewhere (as the lane's scanner thread makes it).

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use storehub::coupons::{self, CouponTemplate, Validity};
use storehub::domain::pricing::CouponKind;
use storehub::members::{self, NewMember};

use common::web::{Login, WebShop, PIN};
use common::{bananas, cestbon, ean13, load, water};

/// The GTIN the bananas carry besides their scale PLU (scanned, they must be weighed).
fn banana_gtin() -> String {
    ean13("690000000123")
}

const LANE1: &str = "/api/v1/lanes/lane-1";

/// The shop with water, C'estbon and bananas, and member 1 (138****5678) holding a ¥1-off coupon.
async fn shop() -> (WebShop, String) {
    let shop = WebShop::start().await;
    let mut b = bananas();
    b.barcodes.push(banana_gtin());
    load(&shop.store, &[water(), cestbon(), b]);
    let rules = shop.state.ctx.loyalty.clone();
    members::register(&shop.store, &NewMember::in_store("13812345678", "张三"), &rules).expect("member");
    let t = CouponTemplate {
        id: "T-1-OFF".into(),
        name_zh: "立减1元券".into(),
        name_en: "¥1 off".into(),
        kind: CouponKind::Fixed { off_fen: 100 },
        min_spend_fen: 0,
        categories: vec![],
        validity: Validity::DaysAfterIssue(30),
        per_member_limit: 0,
        active: true,
    };
    coupons::upsert_templates(&shop.store, &[t]).expect("template");
    let today = rules.today(shop.store.clock().now());
    let issued = coupons::issue(&shop.store, "T-1-OFF", &[1], None, today).expect("issue");
    let code = issued.issued[0].code.clone();
    (shop, code)
}

async fn json_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn post(shop: &WebShop, who: &Login, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(shop.post_json(who, &format!("{LANE1}{path}"), &body).await).await
}

async fn send(shop: &WebShop, who: &Login, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(shop.send_json(who, method, &format!("{LANE1}{path}"), &body).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_scans_changes_weighs_identifies_a_member_and_pays_cash_with_change() {
    let (shop, _) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;

    let (s, a) = post(&shop, &c, "/scan", json!({"code": "6907674936533"})).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!((a["outcome"].as_str(), a["line_no"].as_u64()), (Some("added"), Some(1)));
    let (_, a) = post(&shop, &c, "/scan", json!({"code": "6907674936533"})).await;
    assert_eq!(a["cart"]["lines"][0]["units"], 2, "a second scan merges: {a}");
    let (s, cart) = send(&shop, &c, Method::PUT, "/lines/1", json!({"qty": 3})).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    assert_eq!(cart["lines"][0]["units"], 3);
    let (_, cart) = post(&shop, &c, "/items", json!({"sku": "SKU-010003", "qty": 2})).await;
    assert_eq!(cart["lines"][1]["sku"], "SKU-010003");
    let (s, cart) = send(&shop, &c, Method::DELETE, "/lines/2", Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    assert_eq!(cart["lines"].as_array().unwrap().len(), 1, "C'estbon removed");
    // Bananas by their own code must be weighed: the scan says so, the weigh adds 1.234 kg.
    let (s, a) = post(&shop, &c, "/scan", json!({"code": banana_gtin()})).await;
    assert_eq!((s, a["outcome"].as_str()), (StatusCode::OK, Some("needs_weight")));
    assert_eq!(a["cart"]["notice"]["kind"], "needs_weight");
    let (s, cart) = post(&shop, &c, "/weigh", json!({"sku": "SKU-020001", "grams": 1234})).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    let line = &cart["lines"][1];
    assert_eq!((line["grams"].as_i64(), line["qty_text"].as_str(), line["per_kg"].as_bool()), (Some(1234), Some("1.234 kg"), Some(true)));
    assert_eq!(cart["notice"], Value::Null, "the weigh cleared the notice");

    let (s, cart) = post(&shop, &c, "/member", json!({"query": "138 1234 5678"})).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    let m = &cart["member"];
    assert_eq!((m["phone"].as_str(), m["tier"].as_str()), (Some("138****5678"), Some("regular")));
    assert_eq!(m["coupons"][0]["name_zh"], "立减1元券");
    assert_eq!(m["coupons"][0]["applied"], false);
    // Members pay the bananas' member price: 3 × ¥2.00 + 1.234 kg × ¥6.98 (¥8.61) = ¥14.61;
    // cash is rounded down to the jiao (抹零): ¥14.60.
    let t = &cart["totals"];
    assert_eq!((t["payable_fen"].as_i64(), t["cash_due_fen"].as_i64(), t["rounding_fen"].as_i64()), (Some(1461), Some(1460), Some(-1)));
    assert_eq!(t["cash_rounding"], "down_to_jiao");

    let (s, paid) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "cash", "amount_fen": 5000}]})).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!((paid["total_fen"].as_i64(), paid["change_fen"].as_i64(), paid["rounding_fen"].as_i64()), (Some(1461), Some(3540), Some(-1)));
    assert!(paid["receipt_text"].as_str().unwrap().contains("¥35.40"), "{}", paid["receipt_text"]);
    let sale_id = paid["sale_id"].as_u64().unwrap();
    let (_, cart) = json_of(shop.get(&c, &format!("{LANE1}/cart")).await).await;
    assert_eq!((cart["lines"].as_array().unwrap().len(), cart["last_sale_id"].as_u64()), (0, Some(sale_id)), "a new cart: {cart}");
    assert_eq!(cart["member"], Value::Null);
    let sale = storehub::checkout::sale::sale(&shop.store, sale_id).unwrap().unwrap();
    assert_eq!((sale.cashier.as_str(), sale.member_id), ("cashier1", Some(1)));
    // Reprint answers the same receipt; a sale of another lane is refused.
    let (s, r) = post(&shop, &c, &format!("/sales/{sale_id}/reprint"), Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["receipt_no"], sale.receipt_no);
    let (s, r) = post(&shop, &c, "/sales/999/reprint", Value::Null).await;
    assert_eq!((s, r["field"].as_str()), (StatusCode::NOT_FOUND, Some("id")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_points_and_a_return_with_a_managers_pin() {
    let (shop, code) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    // A coupon needs the member first.
    post(&shop, &c, "/items", json!({"sku": "SKU-010001", "qty": 10})).await;
    let (s, e) = post(&shop, &c, "/coupons", json!({"code": code})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["message"].as_str().unwrap().contains("identify the member"), "{e}");
    let (s, e) = post(&shop, &c, "/coupons", json!({"code": "12345"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("code")), "{e}");
    post(&shop, &c, "/member", json!({"query": "13812345678"})).await;
    let (s, cart) = post(&shop, &c, "/coupons", json!({"code": code})).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    assert_eq!(cart["coupons"][0], code.as_str());
    assert_eq!(cart["member"]["coupons"][0]["applied"], true);
    assert_eq!(cart["totals"]["payable_fen"], 1900, "10 × ¥2.00 − ¥1.00: {cart}");
    assert_eq!(cart["ticket_discounts"][0]["amount_fen"], 100);
    let (s, cart) = send(&shop, &c, Method::DELETE, &format!("/coupons/{code}"), Value::Null).await;
    assert_eq!((s, cart["totals"]["payable_fen"].as_i64()), (StatusCode::OK, Some(2000)));
    let (_, cart) = post(&shop, &c, "/coupons", json!({"code": code})).await;
    let (s, paid) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "wechat_pay", "amount_fen": 1900}]})).await;
    assert_eq!((s, paid["field"].as_str()), (StatusCode::BAD_REQUEST, Some("tenders[0].reference")), "{paid} {cart}");
    let (s, paid) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "wechat_pay", "amount_fen": 1900, "reference": "WX-1"}]})).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert!(paid["points_earned"].as_i64().unwrap() > 0, "{paid}");
    let first = paid["sale_id"].as_u64().unwrap();

    // The next sale redeems points (a points tender) and pays the rest in cash.
    post(&shop, &c, "/items", json!({"sku": "SKU-010001", "qty": 5})).await;
    let (_, cart) = post(&shop, &c, "/member", json!({"query": "13812345678"})).await;
    assert_eq!(cart["member"]["coupons"].as_array().unwrap().len(), 0, "the coupon was used: {cart}");
    let max = cart["member"]["points_max_fen"].as_i64().unwrap();
    assert!(max > 0, "{cart}");
    let (s, paid) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "points", "amount_fen": max}, {"kind": "cash", "amount_fen": 1000}]})).await;
    assert_eq!(s, StatusCode::OK, "{paid}");
    assert_eq!(paid["points_redeemed"].as_i64(), Some(max), "one point pays one fen");

    // A cashier may not take returns alone: a manager's PIN approves.
    let (s, e) = post(&shop, &c, "/returns", json!({"sale_id": first})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::FORBIDDEN, Some("approver")), "{e}");
    let (s, e) = post(&shop, &c, "/returns", json!({"sale_id": first, "approver": {"staff": "cashier1", "pin": PIN}})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a cashier cannot approve: {e}");
    let (s, e) = post(&shop, &c, "/returns", json!({"sale_id": 77, "approver": {"staff": "manager1", "pin": PIN}})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::NOT_FOUND, Some("sale_id")), "{e}");
    let (s, r) = post(&shop, &c, "/returns", json!({"sale_id": first, "reason": "顾客不要了", "approver": {"staff": "manager1", "pin": PIN}})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["refund_fen"].as_i64(), r["by"].as_str()), (Some(1900), Some("manager1")));
    assert_eq!(r["refunds"][0]["kind"], "wechat_pay");
    let (s, e) = post(&shop, &c, "/returns", json!({"sale_id": first, "approver": {"staff": "manager1", "pin": PIN}})).await;
    assert_eq!(s, StatusCode::CONFLICT, "nothing left to return: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_field_or_say_what_the_state_refused() {
    let (shop, _) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (s, e) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "cash", "amount_fen": 100}]})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("refused")), "an empty cart: {e}");
    assert!(e["message"].as_str().unwrap().contains("empty"), "{e}");
    let (s, e) = post(&shop, &c, "/scan", json!({"code": "6900000000014"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::NOT_FOUND, Some("code")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("6900000000014"), "{e}");
    let (s, e) = post(&shop, &c, "/scan", json!({"code": 6907674936533u64})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("code")), "{e}");
    let (s, e) = post(&shop, &c, "/scan", json!({"cod": "6907674936533"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, e) = post(&shop, &c, "/items", json!({"sku": "SKU-NOPE"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::NOT_FOUND, Some("sku")), "{e}");
    let (s, e) = post(&shop, &c, "/items", json!({"sku": "SKU-010001", "qty": 0})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("qty")), "{e}");
    post(&shop, &c, "/items", json!({"sku": "SKU-010001"})).await;
    let (s, e) = send(&shop, &c, Method::PUT, "/lines/x", json!({"qty": 2})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("line")), "{e}");
    let (s, e) = send(&shop, &c, Method::PUT, "/lines/9", json!({"qty": 2})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::NOT_FOUND, Some("line")), "{e}");
    let (s, e) = send(&shop, &c, Method::PUT, "/lines/1", json!({"qty": "two"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("qty")), "{e}");
    let (s, e) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "gold", "amount_fen": 100}]})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("tenders[0].kind")), "{e}");
    let (s, e) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "cash", "amount_fen": 100}]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "short: {e}");
    let (s, e) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "cash", "amount_fen": -5}]})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("tenders[0].amount_fen")), "{e}");
    let (s, e) = post(&shop, &c, "/member", json!({"query": "13900000000"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::NOT_FOUND, Some("query")), "{e}");
    let (s, e) = post(&shop, &c, "/weigh", json!({"sku": "SKU-020001"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "no scale reading: {e}");
    let (s, e) = post(&shop, &c, "/weigh", json!({"sku": "SKU-020001", "grams": 0})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("grams")), "{e}");
    // Another lane's cart is not this login's.
    let res = shop.post_json(&c, "/api/v1/lanes/lane-2/scan", &json!({"code": "6907674936533"})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&c, "/api/v1/lanes/lane-2/cart").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&c, "/cashier/lane-2").await.status(), StatusCode::FORBIDDEN);
    // A manager logged in by password has no lane.
    let m = shop.login("manager1", None).await;
    assert_eq!(shop.get(&m, &format!("{LANE1}/cart")).await.status(), StatusCode::FORBIDDEN);
    // Nothing changed on lane-1 but the one water.
    let (_, cart) = json_of(shop.get(&c, &format!("{LANE1}/cart")).await).await;
    assert_eq!(cart["lines"].as_array().unwrap().len(), 1, "{cart}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voiding_the_cart_needs_a_managers_pin_unless_a_manager_sells() {
    let (shop, _) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (s, e) = post(&shop, &c, "/void", Value::Null).await;
    assert_eq!(s, StatusCode::CONFLICT, "nothing to void: {e}");
    post(&shop, &c, "/items", json!({"sku": "SKU-010001", "qty": 2})).await;
    let (s, e) = post(&shop, &c, "/void", Value::Null).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::FORBIDDEN, Some("approver")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("manager"), "{e}");
    let (s, e) = post(&shop, &c, "/void", json!({"approver": {"staff": "manager1", "pin": "0000"}})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong PIN: {e}");
    let (s, cart) = post(&shop, &c, "/void", json!({"approver": {"staff": "manager1", "pin": PIN}})).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    assert_eq!(cart["lines"].as_array().unwrap().len(), 0);
    assert_eq!(cart["cashier"], "cashier1", "the cashier stays signed in");
    // A manager selling at lane-2 voids alone; lane-2 has no shift: cash is refused until one is
    // opened there.
    let m = shop.login("manager1", Some("lane-2")).await;
    let lane2 = "/api/v1/lanes/lane-2";
    shop.post_json(&m, &format!("{lane2}/items"), &json!({"sku": "SKU-010001"})).await;
    let res = shop.post_json(&m, &format!("{lane2}/pay"), &json!({"tenders": [{"kind": "cash", "amount_fen": 500}]})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let (_, shift) = json_of(shop.get(&m, &format!("{lane2}/shift")).await).await;
    assert_eq!(shift["shift"], Value::Null);
    let (s, opened) = json_of(shop.post_json(&m, &format!("{lane2}/shift"), &json!({"float_fen": 30000})).await).await;
    assert_eq!((s, opened["float_fen"].as_i64()), (StatusCode::OK, Some(30000)), "{opened}");
    let (s, e) = json_of(shop.post_json(&m, &format!("{lane2}/shift"), &json!({"float_fen": 30000})).await).await;
    assert_eq!(s, StatusCode::CONFLICT, "already open: {e}");
    let (s, cart) = json_of(shop.post_json(&m, &format!("{lane2}/void"), &json!({})).await).await;
    assert_eq!((s, cart["lines"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)), "{cart}");
}

/// Reads server-sent events until one `cart` event satisfies `want`; fails after 5 s.
async fn next_cart(res: &mut reqwest::Response, buf: &mut String, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let name = event.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim);
            let data: String = event.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim_start).collect();
            if name == Some("cart") {
                let v: Value = serde_json::from_str(&data).expect("cart event is JSON");
                if want(&v) {
                    return v;
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, res.chunk()).await.expect("a cart event within 5 s").expect("stream");
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_pushes_the_cart_after_a_scan_from_the_lanes_scanner() {
    let (shop, _) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let mut res = shop.get(&c, &format!("{LANE1}/events")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    let first = next_cart(&mut res, &mut buf, |_| true).await;
    assert_eq!(first["lines"].as_array().unwrap().len(), 0, "the cart at once: {first}");
    // The scanner's thread calls the lanes directly, as `devices::hub` does.
    let ctx = &shop.state.ctx;
    let lanes = ctx.lanes.get(&shop.store, ctx.checkout.as_ref().unwrap(), &ctx.layouts).unwrap();
    let store = std::sync::Arc::clone(&shop.store);
    let scanned = std::sync::Arc::clone(&lanes);
    tokio::task::spawn_blocking(move || scanned.scan("lane-1", "6907674936533")).await.unwrap().unwrap();
    let v = next_cart(&mut res, &mut buf, |v| v["lines"].as_array().is_some_and(|l| !l.is_empty())).await;
    assert_eq!(v["lines"][0]["sku"], "SKU-010001");
    assert!(v["version"].as_u64().unwrap() > first["version"].as_u64().unwrap());
    // An unknown code from the scanner reaches the screen as a notice.
    tokio::task::spawn_blocking(move || lanes.scan("lane-1", "6900000000014")).await.unwrap().unwrap();
    let v = next_cart(&mut res, &mut buf, |v| !v["notice"].is_null()).await;
    assert_eq!((v["notice"]["kind"].as_str(), v["notice"]["code"].as_str()), (Some("unknown_barcode"), Some("6900000000014")));
    drop(store);
    // Logging out ends the open stream (within the stream's 5 s session check).
    let out = shop.http.post(shop.url("/logout")).header("cookie", &c.cookie).header("x-csrf-token", &c.csrf).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(8), async {
        loop {
            match res.chunk().await {
                Ok(Some(_)) => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the event stream outlived its login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cashier_page_renders_the_cart_and_stays_light() {
    let (shop, _) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    post(&shop, &c, "/items", json!({"sku": "SKU-010003", "qty": 2})).await;
    let res = shop.get(&c, "/cashier/lane-1").await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("tr data-line=\"1\""), "the first paint has the cart's line");
    assert!(html.contains("C'estbon"), "{html}");
    assert!(html.contains("id=\"scan\"") && html.contains("autofocus"), "the scan field has focus");
    assert!(html.contains("id=\"cashier-data\""));
    let mut total = html.len();
    for asset in ["app.css", "app.js", "cashier.css", "cashier.js"] {
        let url = storehub::web::assets::url(asset);
        assert!(html.contains(&url), "{asset} is linked as {url}");
        let body = shop.get(&c, &url).await.bytes().await.unwrap();
        total += body.len();
    }
    assert!(total < 200 * 1024, "the cashier page weighs {total} bytes");
    // An English account sees English.
    let res = shop.http.post(shop.url("/lang")).header("cookie", &c.cookie).form(&[("_csrf", c.csrf.as_str()), ("lang", "en")]).send().await.unwrap();
    assert!(res.status().is_redirection());
    let html = shop.get(&c, "/cashier/lane-1").await.text().await.unwrap();
    assert!(html.contains("Find member") && !html.contains("识别会员"), "English page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_override_needs_a_managers_pin_prices_the_line_and_is_audited_and_sold() {
    use storehub::audit::{self, AuditAction, AuditFilter};
    let (shop, _) = shop().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    post(&shop, &c, "/items", json!({"sku": "SKU-010001", "qty": 3})).await;
    let overrides = || audit::list(&shop.store, &AuditFilter { action: Some(AuditAction::PriceOverride), ..Default::default() }).unwrap();

    // Refusals name what is wrong and change nothing.
    let (s, e) = post(&shop, &c, "/lines/1/price", json!({"price_fen": 150, "reason": "包装破损"})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::FORBIDDEN, Some("approver")), "{e}");
    let (s, e) = post(&shop, &c, "/lines/1/price", json!({"price_fen": 150, "reason": "包装破损", "approver": {"staff": "cashier1", "pin": PIN}})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::FORBIDDEN, Some("approver")), "a cashier cannot approve: {e}");
    let mgr = json!({"staff": "manager1", "pin": PIN});
    let (s, e) = post(&shop, &c, "/lines/1/price", json!({"price_fen": 200, "reason": "包装破损", "approver": mgr})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("price_fen")), "not below list: {e}");
    let (s, e) = post(&shop, &c, "/lines/1/price", json!({"price_fen": 150, "reason": " ", "approver": mgr})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")), "{e}");
    let (s, e) = post(&shop, &c, "/lines/9/price", json!({"price_fen": 150, "reason": "x", "approver": mgr})).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::NOT_FOUND, Some("line")), "{e}");
    let (s, e) = post(&shop, &c, "/lines/1/price", json!({"price_fen": "1.50", "reason": "x", "approver": mgr})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(overrides().is_empty());

    // ¥2.00 → ¥1.50 each: 3 × 200 − 3 × 150 = 150 off, ¥4.50 to pay.
    let (s, cart) = post(&shop, &c, "/lines/1/price", json!({"price_fen": 150, "reason": "包装破损", "approver": mgr})).await;
    assert_eq!(s, StatusCode::OK, "{cart}");
    let line = &cart["lines"][0];
    assert_eq!((line["override_price_fen"].as_i64(), line["override_by"].as_str()), (Some(150), Some("manager1")), "{cart}");
    assert_eq!((line["discounts"][0]["reason_zh"].as_str(), line["discounts"][0]["amount_fen"].as_i64()), (Some("改价¥1.50"), Some(150)));
    assert_eq!(cart["totals"]["payable_fen"].as_i64(), Some(450), "{cart}");
    let audited = overrides();
    assert_eq!(audited.len(), 1);
    assert_eq!((audited[0].actor.as_str(), audited[0].subject.as_deref()), ("manager1", Some("SKU-010001")));
    assert!(audited[0].detail.contains("200 → 150 fen") && !audited[0].detail.contains("包装破损") && audited[0].detail.contains("cashier cashier1"), "{}", audited[0].detail);

    // Paid: the sale and its event carry the override.
    let (s, paid) = post(&shop, &c, "/pay", json!({"tenders": [{"kind": "cash", "amount_fen": 500}]})).await;
    assert_eq!((s, paid["total_fen"].as_i64(), paid["change_fen"].as_i64()), (StatusCode::OK, Some(450), Some(50)), "{paid}");
    assert!(paid["receipt_text"].as_str().unwrap().contains("改价"), "{paid}");
    let sale = storehub::checkout::sale::sale(&shop.store, paid["sale_id"].as_u64().unwrap()).unwrap().unwrap();
    let o = &sale.price_overrides[0];
    assert_eq!((o.line_no, o.list_price_fen, o.price_fen, o.by.as_str(), o.cashier.as_deref()), (1, 200, 150, "manager1", Some("cashier1")));
    assert_eq!(o.reason, "包装破损", "the reason stays with the override, not in the audit log");
    let events = common::events_of_type(&shop.store, storehub::checkout::EVENT_SALE_COMPLETED);
    let data: Value = serde_json::from_str(&events.last().unwrap().data_json).unwrap();
    assert_eq!(data["price_overrides"][0]["by"], "manager1", "{data}");
    // The next cart starts without it; a manager at the till overrides without an approver.
    let (_, cart) = post(&shop, &c, "/items", json!({"sku": "SKU-010001", "qty": 1})).await;
    assert_eq!(cart["lines"][0]["override_price_fen"], Value::Null);
    let m = shop.login("manager1", Some("lane-2")).await;
    shop.post_json(&m, "/api/v1/lanes/lane-2/items", &json!({"sku": "SKU-010003"})).await;
    let (s, cart) = json_of(shop.post_json(&m, "/api/v1/lanes/lane-2/lines/1/price", &json!({"price_fen": 0, "reason": "赠品"})).await).await;
    assert_eq!((s, cart["totals"]["payable_fen"].as_i64()), (StatusCode::OK, Some(0)), "{cart}");
    assert_eq!(overrides().len(), 2);
}
