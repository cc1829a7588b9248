//! Campaigns on the LAN over real HTTP: a manager starts a dormant playbook through the API and
//! a button on the page, creates and launches a scheduled campaign, reads the funnel as JSON and
//! CSV (one row per campaign, one per member), sees the page and the dashboard card; bad bodies
//! are refused naming the field; cashiers may not touch campaigns.

mod common;

use common::web::{body, text, WebShop};
use reqwest::StatusCode;
use serde_json::json;
use storehub::members::history::{import_history, HistoryRow};
use storehub::members::{self, Channel, LoyaltyRules, NewMember};

/// 30 members who last bought in July (dormant, natural) and 5 who bought last week.
fn dormant_members(shop: &WebShop) {
    let d = |m, day| chrono::NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    let mut rows = Vec::new();
    for i in 1..=35u64 {
        let new = NewMember { phone: format!("139{i:08}"), name: format!("会员{i}"), gender: None, birthday: None, channel: Channel::InStore, consent_sms: false, consent_wechat: true, referral_code: None };
        members::register(&shop.store, &new, &LoyaltyRules::default()).unwrap();
        let last = if i <= 30 { d(7, 20) } else { d(11, 20) };
        for date in [d(7, 1), last] {
            rows.push(HistoryRow { line: rows.len() as u64 + 2, member_ref: i.to_string(), date, at: None, amount_fen: 6_600, category: None, sku: None, qty: None });
        }
    }
    import_history(&shop.store, "h.csv", "", &rows, d(11, 25), None).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_starts_a_playbook_and_reads_its_funnel_as_json_csv_page_and_dashboard_card() {
    let shop = WebShop::start().await;
    dormant_members(&shop);
    let m = shop.login("manager1", None).await;

    let (status, r) = body(shop.post_json(&m, "/api/v1/campaigns/playbooks/dormant-natural", &json!({ "holdout_bp": 2000 })).await).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let id = r["campaign"]["id"].as_str().unwrap().to_string();
    assert_eq!((r["campaign"]["state"].as_str(), r["campaign"]["holdout_bp"].as_u64()), (Some("running"), Some(2000)));
    assert_eq!(r["funnel"]["targeted"], 30, "{r}");
    let held = r["funnel"]["held_out"].as_u64().unwrap();
    assert_eq!(r["funnel"]["treated"].as_u64().unwrap() + held, 30);

    let (status, list) = body(shop.get(&m, "/api/v1/campaigns").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, one) = body(shop.get(&m, &format!("/api/v1/campaigns/{id}")).await).await;
    assert_eq!((status, one["campaign"]["id"].as_str()), (StatusCode::OK, Some(id.as_str())));

    // CSV: one row per campaign; one row per targeted member.
    let res = shop.get(&m, "/api/v1/campaigns?format=csv").await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let (_, csv) = text(res).await;
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("campaign_id,name,playbook,state") && lines[1].starts_with(&format!("{id},")), "{csv}");
    let (status, csv) = text(shop.get(&m, &format!("/api/v1/campaigns/{id}/report?format=csv&members=1")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), 31, "{csv}");
    let (status, e) = body(shop.get(&m, &format!("/api/v1/campaigns/{id}/report?format=xml")).await).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("format")), "{e}");

    // The page: the campaign with its funnel, the playbook buttons, the CSV link.
    let (status, page) = text(shop.get(&m, "/campaigns").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("营销活动") && page.contains(&format!("data-campaign=\"{id}\"")) && page.contains("data-playbook=\"dormant-price\""), "{page}");
    assert!(page.contains("/api/v1/campaigns?format=csv"));
    // The dashboard's card shows the running campaign.
    let (status, dash) = text(shop.get(&m, "/dashboard").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(dash.contains("进行中的活动") && dash.contains("休眠唤醒·新品到店"), "{dash}");

    // A button on the page starts member day (everyone, double points) and comes back.
    let res = shop.post_form(&m, "/campaigns/playbooks/member-day", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/campaigns");
    let all = storehub::members::campaigns::campaigns(&shop.store).unwrap();
    let md = all.iter().find(|c| c.playbook.as_deref() == Some("member-day")).unwrap();
    assert_eq!(md.targeted, 35);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_campaign_is_created_and_launched_by_hand_and_bad_bodies_change_nothing() {
    let shop = WebShop::start().await;
    dormant_members(&shop);
    let m = shop.login("admin1", None).await;
    let base = json!({ "id": "wake-1", "name": "唤醒一号", "target": { "filter": { "days_since_last_min": 90 } }, "start_at": "2026-12-01T01:00:00Z" });
    for (bad, field) in [
        (json!({ "holdout_bp": 9500 }), "holdout_bp"),
        (json!({ "offer": { "coupon": { "template_id": "NOPE" } } }), "offer.coupon.template_id"),
        (json!({ "id": "has space" }), "id"),
    ] {
        let mut b = base.clone();
        for (k, v) in bad.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (status, e) = body(shop.post_json(&m, "/api/v1/campaigns", &b).await).await;
        assert_eq!((status, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{e}");
    }
    let (status, e) = body(shop.post_json(&m, "/api/v1/campaigns", &json!({ "id": "x", "name": "x", "colour": "red" })).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    assert!(storehub::members::campaigns::campaigns(&shop.store).unwrap().is_empty());

    let (status, c) = body(shop.post_json(&m, "/api/v1/campaigns", &base).await).await;
    assert_eq!((status, c["state"].as_str()), (StatusCode::CREATED, Some("scheduled")), "{c}");
    let (status, again) = body(shop.post_json(&m, "/api/v1/campaigns", &base).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (status, l) = body(shop.post_json(&m, "/api/v1/campaigns/wake-1/launch", &json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{l}");
    // Days since the last purchase on 25 Nov: 128 for the July buyers, 5 for last week's.
    assert_eq!((l["targeted"].as_u64(), l["complete"].as_bool()), (Some(30), Some(true)));
    let (status, _) = body(shop.post_json(&m, "/api/v1/campaigns/wake-1/launch", &json!({})).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = body(shop.post_json(&m, "/api/v1/campaigns/playbooks/spring-sale", &json!({})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashiers_may_not_see_or_start_campaigns() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, "/api/v1/campaigns").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&c, "/campaigns").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.post_json(&c, "/api/v1/campaigns/playbooks/member-day", &json!({})).await.status(), StatusCode::FORBIDDEN);
    assert!(storehub::members::campaigns::campaigns(&shop.store).unwrap().is_empty());
}
