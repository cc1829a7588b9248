//! Members on the LAN over real HTTP: search, register (cashiers too), edit (ManageMembers
//! only), the profile page and the tier ladder; every bad field named.

mod common;

use common::web::{body, text};

use common::web::WebShop;
use storehub::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_registers_and_finds_a_member_but_may_not_edit_one() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (status, v) = body(shop.post_json(&c, "/api/v1/members", &json!({ "phone": "+86 138-0013-8000", "name": "王小明", "consent_sms": true })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["member"]["id"].as_u64().unwrap();
    assert_eq!(v["member"]["phone"], "138****8000", "a cashier sees the phone masked");
    assert_eq!(v["member"]["tier"], "regular");
    assert!(v["member"]["consent_sms_at"].is_string());
    assert!(v["member"]["consent_wechat_at"].is_null());

    // Found by the whole phone, by its last four digits, by name and by card number.
    for q in ["13800138000", "8000", "小明", v["member"]["card_number"].as_str().unwrap()] {
        let (status, found) = body(shop.get(&c, &format!("/api/v1/members?q={}", urlencode(q))).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(found["members"][0]["id"], id, "query {q:?}: {found}");
    }
    let (_, none) = body(shop.get(&c, "/api/v1/members?q=9999").await).await;
    assert_eq!(none["members"].as_array().unwrap().len(), 0);

    // Editing needs ManageMembers: refused for the API and the page, and nothing changes.
    let res = shop.send_json(&c, Method::PUT, &format!("/api/v1/members/{id}"), &json!({ "name": "王大明" })).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = shop.post_form(&c, &format!("/members/{id}/edit"), &[("phone", "13800138000"), ("name", "王大明")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&c, &format!("/members/{id}/edit")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(storehub::members::member(&shop.store, id).unwrap().unwrap().name, "王小明");

    // The profile renders for the cashier, masked.
    let (status, page) = text(shop.get(&c, &format!("/members/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("王小明") && page.contains("138****8000") && page.contains("积分批次"), "{page}");
    assert!(!page.contains("13800138000"), "the full phone is shown to a cashier");

    // The registration page works for a cashier too.
    let res = shop.post_form(&c, "/members/new", &[("phone", "13900139000"), ("name", "李四"), ("gender", "female"), ("consent_wechat", "on")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let m = storehub::members::find(&shop.store, "13900139000").unwrap().unwrap();
    assert_eq!(res.headers()["location"], format!("/members/{}", m.id));
    assert!(m.consent.wechat.is_some() && m.consent.sms.is_none());
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_registrations_name_the_field_and_change_nothing() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    let ok = shop.post_json(&m, "/api/v1/members", &json!({ "phone": "13800138000", "name": "王小明" })).await;
    assert_eq!(ok.status(), StatusCode::OK);
    // Messages come in the account's language (zh-CN here); each states the rule.
    let cases = [
        (json!({ "phone": "12345", "name": "甲" }), "phone", "须为 11 位"),
        (json!({ "phone": "138 0013 8000", "name": "甲" }), "phone", "已注册"),
        (json!({ "phone": "+1 415 555 0100", "name": "甲" }), "phone", "+86"),
        (json!({ "phone": "13700137000", "name": "" }), "name", "1–64 个字符"),
        (json!({ "phone": "13700137000", "name": "甲", "birthday": "2030-01-01" }), "birthday", "晚于今天"),
        (json!({ "phone": "13700137000", "name": "甲", "birthday": "2026-13-01" }), "birthday", ""),
        (json!({ "phone": "13700137000", "name": "甲", "gender": "x" }), "gender", "female（女）"),
        (json!({ "phone": "13700137000", "name": "甲", "referral_code": "AB" }), "referral_code", "须为 8 个"),
        (json!({ "phone": "13700137000", "name": "甲", "channel": "tv" }), "channel", "in_store"),
    ];
    for (b, field, words) in cases {
        let (status, v) = body(shop.post_json(&m, "/api/v1/members", &b).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b}: {v}");
        assert_eq!(v["field"], field, "{b}: {v}");
        assert!(v["message"].as_str().unwrap().contains(words), "{b}: {v}");
    }
    assert_eq!(storehub::members::member_count(&shop.store), 1, "nothing was registered");

    // The form shows the rule next to the field, in Chinese, keeps what was typed, and
    // registers nobody.
    let (status, page) = text(shop.post_form(&m, "/members/new", &[("phone", "1380013"), ("name", "赵六")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("手机号有 7 位数字，须为 11 位"), "{page}");
    assert!(page.contains("value=\"赵六\""), "the form keeps what was typed");
    assert_eq!(storehub::members::member_count(&shop.store), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_edits_a_member_and_sees_the_whole_profile() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    let (_, a) = body(shop.post_json(&m, "/api/v1/members", &json!({ "phone": "13800138000", "name": "王小明" })).await).await;
    let (_, b) = body(shop.post_json(&m, "/api/v1/members", &json!({ "phone": "13900139000", "name": "李四" })).await).await;
    let (a, b) = (a["member"]["id"].as_u64().unwrap(), b["member"]["id"].as_u64().unwrap());
    assert_eq!(shop.get(&m, &format!("/api/v1/members/{a}")).await.json::<Value>().await.unwrap()["member"]["phone"], "13800138000", "a manager sees the whole phone");

    // A change of name and consent in one request.
    let (status, v) = body(shop.send_json(&m, Method::PUT, &format!("/api/v1/members/{a}"), &json!({ "name": "王大明", "consent_wechat": true, "birthday": "1990-05-20" })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["member"]["name"].as_str(), v["member"]["birthday"].as_str()), (Some("王大明"), Some("1990-05-20")));
    assert!(v["member"]["consent_wechat_at"].is_string());
    // Another member's phone is refused, and the name sent with it is not applied either.
    let (status, v) = body(shop.send_json(&m, Method::PUT, &format!("/api/v1/members/{a}"), &json!({ "name": "改名", "phone": "13900139000" })).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone")), "{v}");
    assert_eq!(storehub::members::member(&shop.store, a).unwrap().unwrap().name, "王大明");
    assert_eq!(shop.send_json(&m, Method::PUT, "/api/v1/members/999", &json!({ "name": "x" })).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(shop.send_json(&m, Method::PUT, &format!("/api/v1/members/{a}"), &json!({ "nickname": "x" })).await.status(), StatusCode::BAD_REQUEST);

    // Points and a coupon show on the profile: the lot with its expiry, the ledger with its note.
    let rules = shop.state.ctx.loyalty.clone();
    storehub::members::adjust_points(&shop.store, b, 120, "开业补偿", "manager1", &rules).unwrap();
    let template = storehub::coupons::CouponTemplate {
        id: "T-200-30".into(),
        name_zh: "满200减30券".into(),
        name_en: "¥30 off ¥200".into(),
        kind: storehub::domain::pricing::CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000 },
        min_spend_fen: 0,
        categories: vec![],
        validity: storehub::coupons::Validity::DaysAfterIssue(30),
        per_member_limit: 0,
        active: true,
    };
    storehub::coupons::upsert_templates(&shop.store, &[template]).unwrap();
    let today = rules.today(shop.clock.now());
    storehub::coupons::issue(&shop.store, "T-200-30", &[b], None, today).unwrap();
    let (status, page) = text(shop.get(&m, &format!("/members/{b}")).await).await;
    assert_eq!(status, StatusCode::OK);
    for want in ["李四", "13900139000", "开业补偿", "+120", "满200减30券", "积分明细", "储值明细", "消费记录", "没有消费记录"] {
        assert!(page.contains(want), "the profile lacks {want:?}");
    }
    let detail: Value = shop.get(&m, &format!("/api/v1/members/{b}")).await.json().await.unwrap();
    assert_eq!(detail["lots"][0]["remaining"], 120);
    assert_eq!((detail["coupons"][0]["usable"].as_bool(), detail["coupons"][0]["state"].as_str()), (Some(true), Some("issued")));

    // The edit page renders with the stored values and saves a form.
    let (status, page) = text(shop.get(&m, &format!("/members/{b}/edit")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("编辑会员") && page.contains("value=\"13900139000\""));
    let res = shop.post_form(&m, &format!("/members/{b}/edit"), &[("phone", "13900139000"), ("name", "李四娘"), ("gender", ""), ("birthday", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(storehub::members::member(&shop.store, b).unwrap().unwrap().name, "李四娘");
    let (status, page) = text(shop.post_form(&m, &format!("/members/{b}/edit"), &[("phone", "13900139000"), ("name", "李四娘"), ("birthday", "20.5.1990")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("日期须写成 年-月-日"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tier_ladder_counts_members_and_search_pages() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    for (i, phone) in ["13800138001", "13800138002", "13800138003"].iter().enumerate() {
        let res = shop.post_json(&m, "/api/v1/members", &json!({ "phone": phone, "name": format!("会员{i}") })).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let (status, v) = body(shop.get(&m, "/api/v1/members/tiers").await).await;
    assert_eq!(status, StatusCode::OK);
    let tiers = v["tiers"].as_array().unwrap();
    assert_eq!(tiers[0]["tier"], "regular");
    assert_eq!(tiers[0]["members"], 3);
    assert!(tiers.iter().skip(1).all(|t| t["members"] == 0), "{v}");
    let (status, page) = text(shop.get(&m, "/members/tiers").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("会员等级") && page.contains("普通会员") && page.contains("金卡"), "the ladder by name");

    // Newest first, two per page.
    let (_, p1) = body(shop.get(&m, "/api/v1/members?limit=2").await).await;
    assert_eq!((p1["members"].as_array().unwrap().len(), p1["more"].as_bool()), (2, Some(true)));
    assert_eq!(p1["members"][0]["name"], "会员2");
    let (_, p2) = body(shop.get(&m, "/api/v1/members?limit=2&offset=2").await).await;
    assert_eq!((p2["members"].as_array().unwrap().len(), p2["more"].as_bool()), (1, Some(false)));
    let (status, v) = body(shop.get(&m, "/api/v1/members?limit=0").await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
    let (status, page) = text(shop.get(&m, "/members?q=会员1").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("会员1") && !page.contains("会员2"));
    assert_eq!(shop.get(&m, "/members/999").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(shop.get(&m, "/api/v1/members/abc").await.status(), StatusCode::NOT_FOUND);

    // A technician may not look members up at all.
    let t = shop.login("tech1", None).await;
    assert_eq!(shop.get(&t, "/api/v1/members?q=8001").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_purchase_shows_on_the_profile() {
    use storehub::control::lanes::LaneAction;
    use storehub::control::Request;
    use storehub::domain::tender::{Tender, TenderKind};
    let shop = WebShop::start().await;
    common::load(&shop.store, &[common::water()]);
    let m = shop.login("manager1", None).await;
    let (_, v) = body(shop.post_json(&m, "/api/v1/members", &json!({ "phone": "13800138000", "name": "王小明" })).await).await;
    let id = v["member"]["id"].as_u64().unwrap();
    let lane = |action: LaneAction| storehub::control::ops::handle(&shop.store, &shop.state.ctx, Request::Lane { lane: "lane-1".into(), action }).unwrap_or_else(|e| panic!("{e}"));
    lane(LaneAction::SignIn { staff: "cashier1".into(), pin: storehub::config::Secret::new(common::web::PIN.into()) });
    lane(LaneAction::Add { sku: "SKU-010001".into(), qty: 3 });
    lane(LaneAction::Member { query: "13800138000".into() });
    let paid = lane(LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: 1_000, reference: None, points: None }] });
    let receipt = paid.result["sale"]["receipt_no"].as_str().map(str::to_string).unwrap_or_else(|| panic!("no receipt in {}", paid.result));
    let (status, page) = text(shop.get(&m, &format!("/members/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&receipt) && page.contains("¥6.00") && !page.contains("没有消费记录"), "{page}");
    let (sales, unread) = storehub::checkout::sale::member_sales(&shop.store, id, 20, 5_000).unwrap();
    assert_eq!((sales.len(), unread), (1, false));
    assert!(storehub::checkout::sale::member_sales(&shop.store, id + 1, 20, 5_000).unwrap().0.is_empty());
}
