//! Member analytics over real HTTP: four members with the imported history of tests/analytics.rs
//! (worked out there by hand, as of 2026-06-30), then the segments figures checked against those
//! numbers, the rows as JSON and as a CSV download equal to what the CLI computes, the fits equal
//! to the CLI's, the page, and the refusals (a bad query parameter names the field; cashiers and
//! technicians get 403).

mod common;

use common::web::{body, text, WebShop};
use serde_json::{json, Value};
use storehub::control::{ops, Request};
use storehub::members::history::{import_history, parse_history};

const AS_OF: &str = "2026-06-30";

/// `v` as the HTTP client reads it back (serde_json parses decimal text to the nearest f64 only
/// with its `float_roundtrip` feature; both sides go through the same text here).
fn as_received(v: &Value) -> Value {
    serde_json::from_str(&v.to_string()).unwrap()
}

/// Members 1–4 (phones 1380000000n); returns their card numbers.
fn shop_with_history(shop: &WebShop) -> Vec<String> {
    let mut cards = Vec::new();
    for (phone, name) in [("13800000001", "甲"), ("13800000002", "乙"), ("13800000003", "丙"), ("13800000004", "丁")] {
        let m = storehub::members::register(&shop.store, &storehub::members::NewMember::in_store(phone, name), &shop.state.ctx.loyalty).unwrap();
        cards.push(m.card_number().unwrap());
    }
    let csv = "member_ref,date,amount_fen,category\n\
               1,2026-05-01,1000,milk\n\
               1,2026-06-01,1000,milk\n\
               1,2026-06-20,500,milk\n\
               1,2026-06-20,300,bread\n\
               2,2025-09-01,5000,rice\n\
               2,2025-10-01,5000,rice\n\
               2,2025-10-31,5000,rice\n\
               2,2025-12-01,5000,rice\n\
               3,2026-06-25,200,milk\n";
    let tz = shop.state.ctx.tz;
    let rows = parse_history(csv.as_bytes(), "h.csv", tz).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    import_history(&shop.store, "h.csv", &storehub::members::history::file_sha256(csv.as_bytes()), &rows, today, None).unwrap();
    cards
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_rows_csv_and_fits_match_the_hand_computed_analytics() {
    let shop = WebShop::start().await;
    let cards = shop_with_history(&shop);
    let manager = shop.login("manager1", None).await;

    // m1 hibernating (2800 fen in the window), m2 cant_lose_them (20000), m3 promising (200),
    // m4 never bought. m2 is dormant (natural), churn-warned, and due for rice.
    let (status, s) = body(shop.get(&manager, &format!("/api/v1/analytics/segments?as_of={AS_OF}")).await).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["as_of"].as_str(), s["members"].as_u64(), s["segmented"].as_u64(), s["dormant"].as_u64()), (Some(AS_OF), Some(4), Some(3), Some(1)));
    let seg = |id: &str| s["segments"].as_array().unwrap().iter().find(|f| f["segment"] == id).cloned().unwrap();
    assert_eq!(s["segments"].as_array().unwrap().len(), 8, "every segment, empty ones too");
    assert_eq!((seg("hibernating")["members"].as_u64(), seg("hibernating")["share_bp"].as_u64(), seg("hibernating")["revenue_fen"].as_i64()), (Some(1), Some(3333), Some(2800)));
    assert_eq!((seg("cant_lose_them")["members"].as_u64(), seg("cant_lose_them")["revenue_fen"].as_i64()), (Some(1), Some(20_000)));
    assert_eq!(seg("cant_lose_them")["segment_zh"], "重要保持");
    assert_eq!((seg("promising")["members"].as_u64(), seg("promising")["revenue_fen"].as_i64()), (Some(1), Some(200)));
    assert_eq!((seg("champions")["members"].as_u64(), seg("champions")["share_bp"].as_u64()), (Some(0), Some(0)));
    assert_eq!(
        s["dormant_by_reason"].as_array().unwrap().iter().map(|d| (d["reason"].as_str().unwrap(), d["members"].as_u64().unwrap())).collect::<Vec<_>>(),
        [("experience", 0), ("price", 0), ("natural", 1)]
    );
    assert_eq!(s["churn_warning"], json!([{ "member_ref": cards[1], "member_id": 2, "segment": "cant_lose_them", "days_since_last": 211, "categories": [] }]));
    assert_eq!(s["repurchase_due"], json!([{ "member_ref": cards[1], "member_id": 2, "segment": "cant_lose_them", "days_since_last": 211, "categories": ["rice"] }]));

    // The rows: exactly what the CLI's request computes.
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let (status, rows) = body(shop.get(&manager, &format!("/api/v1/analytics/members?as_of={AS_OF}&format=json")).await).await;
    assert_eq!(status, 200, "{rows}");
    let cli = ops::handle(&shop.store, &shop.state.ctx, Request::AnalyticsMembers { as_of: Some(as_of), params: Default::default() }).unwrap().result;
    assert_eq!(rows, as_received(&cli));
    assert_eq!(rows["rows"].as_array().unwrap().len(), 4);
    assert_eq!(rows["rows"][1]["segment"], "cant_lose_them");

    // CSV as a download, the CLI's columns.
    let res = shop.get(&manager, &format!("/api/v1/analytics/members?as_of={AS_OF}&format=csv")).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"member-analytics-2026-06-30.csv\"");
    let (status, csv) = text(res).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("member_ref,member_id,frequency,recency,T,monetary_fen,"), "{}", lines[0]);
    let prefix = format!("{},2,3,91,302,20000,4,211,1,4,4,cant_lose_them,重要保持,churn_warning,true,natural,rice,", cards[1]);
    assert!(lines[2].starts_with(&prefix) && lines[2].ends_with(",2026-06-30"), "{}", lines[2]);
    assert_eq!(lines[4], format!("{},4,0,0,0,0,0,,,,,,,,false,,,,,,2026-06-30", cards[3]));

    // The fits: the CLI's JSON, default model BG/NBD in days.
    for (query, model, unit_days) in [("", "bgnbd", 1), ("?model=gamma-gamma&time_unit=weeks", "gamma-gamma", 7), ("?model=bgnbd&time_unit=weeks", "bgnbd", 7)] {
        let sep = if query.is_empty() { "?" } else { "&" };
        let (status, fit) = body(shop.get(&manager, &format!("/api/v1/analytics/fit{query}{sep}until={AS_OF}")).await).await;
        let cli = ops::handle(&shop.store, &shop.state.ctx, Request::AnalyticsFit { until: Some(as_of), unit_days, model: model.into() });
        match cli {
            Ok(cli) => {
                assert_eq!(status, 200, "{fit}");
                assert_eq!(fit, as_received(&cli.result));
                assert_eq!(fit["model"], model);
            }
            Err(e) => {
                assert_eq!(status, 409, "{fit}");
                assert_eq!(fit["message"], e.as_str());
            }
        }
    }

    // The page: segments, the churn and repurchase lists by card number, never by phone.
    let (status, html) = text(shop.get(&manager, &format!("/analytics?as_of={AS_OF}")).await).await;
    assert_eq!(status, 200);
    assert!(html.contains(&cards[1]), "card number of the churn-warned member");
    assert!(!html.contains("13800000002"), "no phone on the page");
    assert!(html.contains("重要保持") || html.contains("Can't lose them"), "segment names");
    assert!(html.contains("33.33%"), "share of a segment");
    assert!(html.contains("/api/v1/analytics/members?as_of=2026-06-30&amp;format=csv"), "CSV link");
    assert!(html.contains("href=\"/analytics\""), "nav entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_name_the_field_and_only_owners_and_managers_may_look() {
    let shop = WebShop::start().await;
    shop_with_history(&shop);
    let admin = shop.login("admin1", None).await;
    for (path, field) in [
        ("/api/v1/analytics/members?as_of=2026-02-30", "as_of"),
        ("/api/v1/analytics/members?format=xml", "format"),
        ("/api/v1/analytics/segments?as_of=yesterday", "as_of"),
        ("/api/v1/analytics/fit?model=pareto-nbd", "model"),
        ("/api/v1/analytics/fit?time_unit=months", "time_unit"),
        ("/api/v1/analytics/fit?until=30-06-2026", "until"),
    ] {
        let (status, e): (_, Value) = body(shop.get(&admin, path).await).await;
        assert_eq!(status, 400, "{path}: {e}");
        assert_eq!(e["field"], field, "{path}: {e}");
        assert!(e["message"].as_str().unwrap().starts_with("expected "), "{path}: {e}");
    }
    let (status, _) = body(shop.get(&admin, "/api/v1/analytics/segments").await).await;
    assert_eq!(status, 200, "the owner may look");

    let cashier = shop.login("cashier1", None).await;
    let tech = shop.login("tech1", None).await;
    for path in ["/analytics", "/api/v1/analytics/members", "/api/v1/analytics/fit", "/api/v1/analytics/segments"] {
        assert_eq!(shop.get(&cashier, path).await.status(), 403, "cashier {path}");
        assert_eq!(shop.get(&tech, path).await.status(), 403, "technician {path}");
    }
    let (_, html) = text(shop.get(&cashier, "/members").await).await;
    assert!(!html.contains("href=\"/analytics\""), "no nav entry for cashiers");
}
