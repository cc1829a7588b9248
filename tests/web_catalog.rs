//! The catalog and stock on the LAN over real HTTP: the lanes' barcode lookup (EAN-13 and
//! in-store weight labels), products created and edited by form and by API (prices typed in
//! yuan, stored in exact fen), on hand with low stock, the ledger, and hand adjustments.

mod common;

use common::web::{body, text};

use common::web::WebShop;
use common::{apply, bananas, ean13, load, water};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use storehub::domain::stock::MoveKind;

/// The shop with water (24 on hand, reorder at 24: low) and bananas (5 kg on hand).
async fn stocked() -> WebShop {
    let shop = WebShop::start().await;
    load(&shop.store, &[water(), bananas()]);
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 24);
    apply(&shop.store, MoveKind::Receipt, "SKU-020001", 5_000);
    shop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanned_code_finds_its_product_as_at_a_lane() {
    let shop = stocked().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (status, v) = body(shop.get(&c, "/api/v1/products/6907674936533").await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["product"]["sku"].as_str(), v["on_hand"].as_i64(), v["barcode"]["kind"].as_str()), (Some("SKU-010001"), Some(24), Some("ean13")));
    assert_eq!(v["product"]["price_fen"], 200);

    // A label printed by the scale: prefix 25 (weight), PLU 05000, 1.250 kg.
    let label = ean13("250500001250");
    let (status, v) = body(shop.get(&c, &format!("/api/v1/products/{label}")).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["barcode"]["kind"], "weight_embedded");
    assert_eq!((v["barcode"]["weight_g"].as_i64(), v["barcode"]["item_code"].as_str()), (Some(1_250), Some("05000")));
    assert_eq!((v["product"]["sku"].as_str(), v["on_hand"].as_i64()), (Some("SKU-020001"), Some(5_000)));
    // A price label (prefix 20) of the same PLU.
    let (_, v) = body(shop.get(&c, &format!("/api/v1/products/{}", ean13("200500000998"))).await).await;
    assert_eq!((v["barcode"]["kind"].as_str(), v["barcode"]["price_fen"].as_i64()), (Some("price_embedded"), Some(998)));

    // Not a code: 400 naming it; a valid code nobody has: 404.
    let (status, v) = body(shop.get(&c, "/api/v1/products/6907674936534").await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("code")), "{v}");
    assert_eq!(shop.get(&c, &format!("/api/v1/products/{}", ean13("690000000000"))).await.status(), StatusCode::NOT_FOUND);
    // Logged out: 401.
    assert_eq!(shop.http.get(shop.url("/api/v1/products/6907674936533")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_typed_as_12_5_stores_1250_fen_and_12_345_is_refused() {
    let shop = stocked().await;
    let m = shop.login("manager1", None).await;
    let form = |price: &'static str| {
        vec![("sku", "SKU-900001"), ("name_zh", "鲜榨橙汁"), ("name_en", "Orange juice"), ("category", "饮料"), ("unit", "piece"), ("price", price), ("tax", "13"), ("barcodes", "6901234567892"), ("reorder_point", "6"), ("active", "on")]
    };
    let (status, page) = text(shop.post_form(&m, "/products/new", &form("12.345")).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("超过两位小数"), "the rule is shown next to the price: {page}");
    assert!(page.contains("value=\"鲜榨橙汁\""), "what was typed stays");
    assert!(storehub::catalog::product(&shop.store, "SKU-900001").unwrap().is_none(), "nothing was stored");

    let res = shop.post_form(&m, "/products/new", &form("12.5")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/products/SKU-900001");
    let p = storehub::catalog::product(&shop.store, "SKU-900001").unwrap().unwrap();
    assert_eq!((p.price_fen, p.tax_bp, p.reorder_point, p.barcodes.len()), (1250, 1300, Some(6), 1));

    // The edit form shows yuan and saves a member price typed with a ¥.
    let (status, page) = text(shop.get(&m, "/products/SKU-900001/edit").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"12.50\""), "{page}");
    let mut edit = form("12.50");
    edit.retain(|(k, _)| *k != "sku");
    edit.push(("member_price", "¥11.8"));
    assert_eq!(shop.post_form(&m, "/products/SKU-900001/edit", &edit).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(storehub::catalog::product(&shop.store, "SKU-900001").unwrap().unwrap().member_price_fen, Some(1180));
    // A member price above the price is refused by the catalog's rule, named on the form.
    edit.retain(|(k, _)| *k != "member_price");
    edit.push(("member_price", "13"));
    let (status, page) = text(shop.post_form(&m, "/products/SKU-900001/edit", &edit).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("不高于价格"), "{page}");
    // The product page shows it with its stock.
    let (status, page) = text(shop.get(&m, "/products/SKU-900001").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("鲜榨橙汁") && page.contains("¥12.50") && page.contains("现有库存"));
    // A cashier may look but not edit.
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, "/products/SKU-900001").await.status(), StatusCode::OK);
    assert_eq!(shop.post_form(&c, "/products/SKU-900001/edit", &edit).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_by_api_name_the_bad_field() {
    let shop = stocked().await;
    let m = shop.login("manager1", None).await;
    let good = json!({ "sku": "SKU-900002", "name_zh": "椰子水", "category": "饮料", "unit": "piece", "price_fen": 890, "tax_bp": 1300, "barcodes": ["6901234567892"] });
    let (status, v) = body(shop.post_json(&m, "/api/v1/products", &good).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["active"], true);
    let with = |k: &str, val: Value| {
        let mut b = good.clone();
        b[k] = val;
        b
    };
    let cases = [
        (good.clone(), "sku"),
        (with("sku", json!("SKU-900003")), "barcodes[0]"),
        (with("barcodes", json!(["6907674936534"])), "barcodes[0]"),
        (with("unit", json!("box")), "unit"),
        (with("price_fen", json!(-1)), "price_fen"),
        (with("price_fen", json!("8.90")), "price_fen"),
        (with("name_zh", json!("")), "name_zh"),
        (with("tax_bp", json!(20_000)), "tax_bp"),
    ];
    for (b, field) in cases {
        let mut b = b;
        if field != "sku" && b["sku"] == "SKU-900002" {
            b["sku"] = json!("SKU-900004");
        }
        let (status, v) = body(shop.post_json(&m, "/api/v1/products", &b).await).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{b}: {v}");
    }
    assert!(storehub::catalog::product(&shop.store, "SKU-900004").unwrap().is_none());

    // A partial change; clearing an optional field; unknown skus and fields.
    let (status, v) = body(shop.send_json(&m, Method::PUT, "/api/v1/products/SKU-900002", &json!({ "price_fen": 990, "reorder_point": 12 })).await).await;
    assert_eq!((status, v["price_fen"].as_i64(), v["name_zh"].as_str()), (StatusCode::OK, Some(990), Some("椰子水")), "{v}");
    let (_, v) = body(shop.send_json(&m, Method::PUT, "/api/v1/products/SKU-900002", &json!({ "clear": ["reorder_point"] })).await).await;
    assert!(v["reorder_point"].is_null(), "{v}");
    let (status, v) = body(shop.send_json(&m, Method::PUT, "/api/v1/products/SKU-900002", &json!({ "clear": ["name_zh"] })).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("clear[0]")));
    assert_eq!(shop.send_json(&m, Method::PUT, "/api/v1/products/NOPE", &json!({ "price_fen": 1 })).await.status(), StatusCode::NOT_FOUND);
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.post_json(&c, "/api/v1/products", &with("sku", json!("SKU-900005"))).await.status(), StatusCode::FORBIDDEN);

    // Search by name, sku start and barcode; a category; pages.
    for q in ["椰子", "SKU-9000", "6901234567892", "nongfu"] {
        let (status, v) = body(shop.get(&m, &format!("/api/v1/products?q={}", enc(q))).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["total"], 1, "{q}: {v}");
    }
    let (_, v) = body(shop.get(&m, &format!("/api/v1/products?category={}", enc("饮料"))).await).await;
    assert_eq!(v["total"], 2);
    let (_, v) = body(shop.get(&m, "/api/v1/products?limit=1&offset=1").await).await;
    assert_eq!((v["total"].as_u64(), v["products"].as_array().map(Vec::len)), (Some(3), Some(1)));
    let (status, page) = text(shop.get(&m, &format!("/products?q={}", enc("椰子"))).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>商品</h1>") && page.contains("椰子水") && !page.contains("香蕉"));
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b == b'-' { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjustment_with_a_reason_moves_on_hand_and_shows_in_the_ledger() {
    let shop = stocked().await;
    let m = shop.login("manager1", None).await;
    // Two broken bottles.
    let (status, v) = body(shop.post_json(&m, "/api/v1/stock/adjustments", &json!({ "sku": "SKU-010001", "reason": "damage", "note": "摔碎", "qty": -2 })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["kind"].as_str(), v["delta"].as_i64(), v["on_hand_after"].as_i64()), (Some("adjustment"), Some(-2), Some(22)));
    assert_eq!((v["reason"].as_str(), v["user"].as_str()), (Some("damage: 摔碎"), Some("manager1")));
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 22);
    // Bananas counted at 4.2 kg: a stocktake move of −800 g.
    let (_, v) = body(shop.post_json(&m, "/api/v1/stock/adjustments", &json!({ "sku": "SKU-020001", "reason": "count_correction", "counted": 4_200 })).await).await;
    assert_eq!((v["kind"].as_str(), v["delta"].as_i64()), (Some("stocktake"), Some(-800)), "{v}");

    let (_, moves) = body(shop.get(&m, "/api/v1/stock/moves?sku=SKU-010001").await).await;
    assert_eq!(moves["moves"][0]["reason"], "damage: 摔碎");
    assert_eq!(moves["moves"].as_array().map(Vec::len), Some(2));
    let (_, all) = body(shop.get(&m, "/api/v1/stock/moves?limit=2").await).await;
    assert_eq!(all["moves"][0]["sku"], "SKU-020001");
    let next = all["next_before"].as_u64().unwrap();
    let (_, older) = body(shop.get(&m, &format!("/api/v1/stock/moves?limit=2&before={next}")).await).await;
    assert_eq!(older["moves"].as_array().map(Vec::len), Some(2));
    assert!(older["next_before"].is_null());
    let (_, far) = body(shop.get(&m, "/api/v1/stock/moves?limit=2&before=18446744073709551615").await).await;
    assert_eq!(far["moves"][0]["id"], all["moves"][0]["id"], "a cursor past the newest move starts at the newest");
    let (status, v) = body(shop.get(&m, "/api/v1/stock/moves?before=-1").await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("before")));

    // Refusals name the field; nothing moves.
    let cases = [
        (json!({ "sku": "SKU-010001", "reason": "other", "qty": -1 }), "note"),
        (json!({ "sku": "SKU-010001", "reason": "damage", "qty": 0 }), "qty"),
        (json!({ "sku": "SKU-010001", "reason": "damage" }), "qty"),
        (json!({ "sku": "SKU-010001", "reason": "damage", "counted": 3 }), "counted"),
        (json!({ "sku": "SKU-010001", "reason": "lost", "qty": -1 }), "reason"),
        (json!({ "sku": "NOPE", "reason": "theft", "qty": -1 }), "sku"),
        (json!({ "sku": "SKU-010001", "reason": "theft", "qty": "x" }), "qty"),
    ];
    for (b, field) in cases {
        let (status, v) = body(shop.post_json(&m, "/api/v1/stock/adjustments", &b).await).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{b}: {v}");
    }
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 22);

    // The form: a theft of one bottle, recorded and shown on the ledger page in Chinese.
    let res = shop.post_form(&m, "/stock/adjust", &[("sku", "SKU-010001"), ("reason", "theft"), ("qty", "-1"), ("counted", ""), ("note", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 21);
    let (status, page) = text(shop.get(&m, "/stock/moves?sku=SKU-010001&done=1").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("库存流水") && page.contains("丢失") && page.contains("损坏：摔碎") && page.contains("库存已调整"), "{page}");
    let (status, page) = text(shop.post_form(&m, "/stock/adjust", &[("sku", "SKU-010001"), ("reason", "other"), ("qty", "-1")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("须填写说明"), "{page}");
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 21);

    // On hand: water is at or below its reorder point of 24; bananas show in kg.
    let (_, v) = body(shop.get(&m, "/api/v1/stock?low=true").await).await;
    assert_eq!((v["total"].as_u64(), v["rows"][0]["sku"].as_str()), (Some(1), Some("SKU-010001")), "{v}");
    let (status, page) = text(shop.get(&m, "/stock").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>库存</h1>") && page.contains("低库存") && page.contains("4.200 kg"), "{page}");
    assert_eq!(shop.get(&m, "/stock/adjust?sku=SKU-020001").await.status(), StatusCode::OK);

    // A cashier sees neither stock nor the ledger.
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, "/stock").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.post_json(&c, "/api/v1/stock/adjustments", &json!({ "sku": "SKU-010001", "reason": "damage", "qty": -1 })).await.status(), StatusCode::FORBIDDEN);
}
