//! Replenishment end to end: sales through the real checkout rolled up into daily demand (a
//! promotion day flagged), the daily run's worked suggestion, the urgent alert raised once and
//! cleared, the one `storehub.replenishment.suggested` event; `storehub forecast` and
//! `storehub replenishment …` as a shopkeeper types them; the web page and API with roles and
//! 400s naming the field.

mod common;

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::clock::{Clock, ManualClock};
use storehub::domain::forecast::{DemandClass, Method};
use storehub::domain::pricing::{Promotion, PromotionKind};
use storehub::domain::staff::Role;
use storehub::domain::stock::MoveKind;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::inventory::alerts::{self, EVENT_ALERT_CLEARED, EVENT_ALERT_RAISED};
use storehub::inventory::demand::{self, flags, DemandSeries};
use storehub::inventory::replenishment::{self as rep, SuggestedEvent, EVENT_REPLENISHMENT_SUGGESTED};
use storehub::store::{Durability, TreeId};

use common::*;

const WATER: &str = "6907674936533";
const W: &str = "SKU-010001";

fn rules(promotions: Vec<Promotion>) -> SaleRules {
    SaleRules { cash_rounding: CashRounding::None, promotions, tz: chrono_tz::Asia::Shanghai, loyalty: Default::default() }
}

fn ten_percent_off_water() -> Promotion {
    Promotion { id: "P-W10".into(), name_zh: "水九折".into(), name_en: "Water 10% off".into(), window: None, members_only: false, kind: PromotionKind::ItemPercent { sku: W.into(), bp: 1000 } }
}

/// 120 waters arrive on 25 November (17:00 in Shanghai); from the 26th, 28 days of 4 waters a
/// day sold through lane 1, the 11th selling day (6 December) at 10 % off. The run on
/// 24 December with 28 days of history, L 3 + R 1: the promotion day is cleaned to its weekday's
/// 4, every day is 4, no candidate's MASE is defined (all training days equal), so the smooth
/// class's Holt-Winters forecasts 4/day with σ 0: order-up-to 16, on hand 120 − 112 = 8 → order
/// 8; stock-out on day ⌊8 / 4⌋ = 2 < L 3 → urgent, one alert. 40 more arrive: on hand 48, nothing
/// to order, stock-out day 12 → not urgent, the alert cleared.
#[test]
fn sales_through_the_checkout_become_demand_and_a_worked_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    load(&store, &[water(), cestbon()]);
    apply(&store, MoveKind::Receipt, W, 120);
    let new = storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier };
    storehub::staff::create_staff(&store, &new, "correct horse", Some("2468"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
    storehub::staff::open_shift(&store, "lane-1", "wang", 50_000).unwrap();
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    for day in 0..28 {
        clock.advance(Duration::days(1));
        for _ in 0..4 {
            lanes.scan("lane-1", WATER).unwrap();
        }
        let r = rules(if day == 10 { vec![ten_percent_off_water()] } else { vec![] });
        let total = lanes.quote("lane-1", &r).unwrap().total_fen;
        assert_eq!(total, if day == 10 { 720 } else { 800 });
        lanes.pay("lane-1", &PayRequest { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: total, reference: None, points: None }] }, &r).unwrap();
    }
    clock.advance(Duration::days(1));
    let tz = chrono_tz::Asia::Shanghai;
    let today = storehub::clock::local(clock.now(), tz).date();
    assert_eq!(today, NaiveDate::from_ymd_opt(2026, 12, 24).unwrap());
    let cfg = storehub::config::StockConfig { lead_time_days: 3, review_period_days: 1, history_days: 28, ..Default::default() };
    let loyalty = storehub::members::LoyaltyRules::default();

    let summary = rep::run(&store, &cfg, tz, &loyalty, today).unwrap();
    assert_eq!((summary.skus, summary.to_order, summary.urgent), (2, 1, 1));
    // The rollup: the receipt day (started at 0 on hand: a stock-out day), then 28 days of 4.
    let s = demand::series(&store, W).unwrap().unwrap();
    assert_eq!(s.first_day, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    assert_eq!(s.qty[0], 0);
    assert_eq!(s.qty[1..], [4; 28]);
    assert_eq!(s.flags[0], flags::STOCKOUT);
    assert_eq!(s.flags[11], flags::PROMOTION, "6 December was a promotion day");
    assert_eq!(s.flags.iter().filter(|&&f| f != 0).count(), 2);
    assert_eq!(s.end_on_hand, Some(8));

    let lines = rep::suggestions(&store).unwrap();
    let w = lines.iter().find(|l| l.sku == W).unwrap();
    assert_eq!((w.demand_class, w.method), (DemandClass::Smooth, Method::HoltWinters));
    assert_eq!(w.supplier.as_deref(), Some("华东饮料批发"));
    let sg = &w.suggestion;
    assert_eq!((sg.explanation.forecast_per_day, sg.explanation.forecast_error_per_day), (4.0, 0.0));
    assert_eq!((sg.order_up_to, sg.suggested_qty, sg.projected_stockout_day, sg.urgent), (16, 8, Some(2), true));
    assert!(sg.explain().contains("order-up-to 16 − on hand 8 − on order 0 = 8"), "{}", sg.explain());
    let suggested = events_of_type(&store, EVENT_REPLENISHMENT_SUGGESTED);
    assert_eq!(suggested.len(), 1);
    let data: SuggestedEvent = serde_json::from_value(suggested[0].data().unwrap()).unwrap();
    assert_eq!((data.day, data.to_order, data.urgent, data.lines.len()), (today, 1, 1, 1));
    assert_eq!((data.lines[0].sku.as_str(), data.lines[0].qty, data.lines[0].urgent), (W, 8, true));
    assert_eq!(events_of_type(&store, EVENT_ALERT_RAISED).len(), 1);

    // Again the same day: nothing rolled up twice, the alert not raised twice.
    rep::run(&store, &cfg, tz, &loyalty, today).unwrap();
    assert_eq!(demand::series(&store, W).unwrap().unwrap(), s);
    assert_eq!(events_of_type(&store, EVENT_ALERT_RAISED).len(), 1);
    assert_eq!(alerts::open_alerts(&store).unwrap().len(), 1);

    // 40 more arrive: no longer urgent, the alert cleared.
    apply(&store, MoveKind::Receipt, W, 40);
    let summary = rep::run(&store, &cfg, tz, &loyalty, today).unwrap();
    assert_eq!((summary.to_order, summary.urgent), (0, 0));
    assert_eq!(events_of_type(&store, EVENT_ALERT_CLEARED).len(), 1);
    assert!(alerts::open_alerts(&store).unwrap().is_empty());
    assert_eq!(events_of_type(&store, EVENT_REPLENISHMENT_SUGGESTED).len(), 3);
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn forecast_on_a_series_file_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("water.csv");
    // 8 weeks of a weekly pattern, the last day 2026-02-25.
    let week = [10, 12, 11, 13, 20, 25, 18];
    let mut csv = String::from("date,qty\n");
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    for t in 0..56u64 {
        csv.push_str(&format!("{},{}\n", first + chrono::Days::new(t), week[t as usize % 7] + (t % 3) as i32));
    }
    std::fs::write(&file, &csv).unwrap();
    let f = file.to_str().unwrap();
    let out = storehub_cmd(&["forecast", "--series-file", f, "--horizon", "3", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: rep::ForecastReport = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((r.days, r.class, r.asked.as_str()), (56, DemandClass::Smooth, "auto"));
    assert_eq!(r.forecast.len(), 3);
    assert_eq!(r.forecast[0].date, NaiveDate::from_ymd_opt(2026, 2, 26).unwrap());
    assert_eq!(r.candidates.iter().map(|c| c.method).collect::<Vec<_>>(), vec![Method::Naive, Method::Ses, Method::HoltWinters]);
    let best = r.candidates.iter().filter_map(|c| c.mase.map(|m| (c.method, m))).fold((Method::Naive, f64::MAX), |a, b| if b.1 < a.1 { b } else { a });
    assert_eq!(r.method, best.0);
    // The table for people names the method and each candidate's MASE.
    let out = storehub_cmd(&["forecast", "--series-file", f, "--method", "croston", "--horizon", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("method        croston") && table.contains("2026-02-27"), "{table}");
    // A date twice and a bad number: every error by file, line and column, nothing printed.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "date,qty\n2026-01-01,3\n2026-01-01,2\n2026-01-02,lots\n").unwrap();
    let out = storehub_cmd(&["forecast", "--series-file", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    let b = bad.to_str().unwrap();
    assert!(stderr(&out).contains(&format!("{b}:3: date: 2026-01-01 appears twice (first on line 2)")), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{b}:4: qty: expected a quantity ≥ 0, got \"lots\"")), "{}", stderr(&out));
    let out = storehub_cmd(&["forecast", "--series-file", f, "--alpha", "1.5", "--method", "ses"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("alpha: smoothing parameter must be in (0, 1], got 1.5"), "{}", stderr(&out));
}

/// A data dir with 30 days of water sales (3 a day) ending yesterday, real time.
fn data_dir_with_sales() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(chrono::Utc::now() - Duration::days(30));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    load(&store, &[water(), cestbon()]);
    apply(&store, MoveKind::Receipt, W, 200);
    for _ in 0..30 {
        apply(&store, MoveKind::Sale, W, 3);
        clock.advance(Duration::days(1));
    }
    drop(store);
    dir
}

#[test]
fn cli_forecast_of_a_sku_policies_run_and_list() {
    let dir = data_dir_with_sales();
    let d = dir.path().to_str().unwrap();
    let out = storehub_cmd(&["--data-dir", d, "forecast", "--sku", W, "--format", "json", "--horizon", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: rep::ForecastReport = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r.sku.as_deref(), Some(W));
    assert!(r.days >= 29, "{} days", r.days);
    assert_eq!(r.forecast.len(), 5);
    let out = storehub_cmd(&["--data-dir", d, "forecast", "--sku", "NOPE"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown sku NOPE"), "{}", stderr(&out));

    // Policies: the supplier's lead time, the SKU's own pack size and service level.
    let ok = |args: &[&str]| {
        let mut all = vec!["--data-dir", d];
        all.extend_from_slice(args);
        let out = storehub_cmd(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap_or(serde_json::Value::Null)
    };
    ok(&["replenishment", "policy", "supplier", "华东饮料批发", "--lead-time-days", "5", "--moq", "24"]);
    ok(&["replenishment", "policy", "set", "--sku", W, "--pack-size", "6", "--service-level", "97.5"]);
    let show = ok(&["replenishment", "policy", "show", "--sku", W]);
    let eff = &show["effective"];
    assert_eq!(eff["policy"]["lead_time_days"], 5);
    assert_eq!(eff["policy"]["moq"], 24);
    assert_eq!(eff["policy"]["pack_size"], 6);
    assert_eq!(eff["policy"]["service_level_bp"], 9750);
    assert_eq!(eff["policy"]["review_period_days"], 1);
    assert_eq!(eff["sources"]["lead_time_days"], "supplier");
    assert_eq!(eff["sources"]["pack_size"], "sku");
    assert_eq!(eff["sources"]["review_period_days"], "default");
    // The SKU's own lead time wins over the supplier's.
    ok(&["replenishment", "policy", "set", "--sku", W, "--lead-time-days", "2"]);
    let show = ok(&["replenishment", "policy", "show", "--sku", W]);
    assert_eq!(show["effective"]["policy"]["lead_time_days"], 2);
    assert_eq!(show["effective"]["policy"]["pack_size"], 6, "set changes only the options given");

    // A bad policy file: line and column, nothing written.
    let bad = dir.path().join("p.csv");
    std::fs::write(&bad, "sku,pack_size\nSKU-010003,12\nSKU-010001,0\n").unwrap();
    let mut args = vec!["--data-dir", d, "replenishment", "policy", "import", bad.to_str().unwrap()];
    let out = storehub_cmd(&args);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(":3: pack_size: units per pack must be 1 to 100000, got 0"), "{}", stderr(&out));
    assert!(ok(&["replenishment", "policy", "show", "--sku", "SKU-010003"])["own"].is_null(), "nothing imported");
    std::fs::write(&bad, "sku,pack_size,service_level\nSKU-010003,12,95\n").unwrap();
    args[5] = bad.to_str().unwrap();
    let out = storehub_cmd(&args);
    assert!(out.status.success(), "{}", stderr(&out));

    // The run and the list.
    let run = ok(&["replenishment", "run"]);
    assert_eq!(run["skus"], 2);
    let out = storehub_cmd(&["--data-dir", d, "replenishment", "list", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let mut rows = csv.lines();
    assert!(rows.next().unwrap().starts_with("sku,name_zh,name_en,supplier,abc,demand_class,method,forecast_per_day"));
    assert_eq!(rows.count(), 2);
    let out = storehub_cmd(&["--data-dir", d, "replenishment", "list", "--format", "json", "--urgent"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<rep::SuggestionLine> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(lines.iter().all(|l| l.suggestion.urgent));
}

/// W sells 10 a day for 60 days (written as its series) and has 20 on hand: urgent.
fn urgent_water(shop: &common::web::WebShop) {
    load(&shop.store, &[water()]);
    apply(&shop.store, MoveKind::Receipt, W, 20);
    let today = storehub::clock::local(shop.clock.now(), shop.state.ctx.tz).date();
    let series = DemandSeries { revenue_fen: vec![2_000; 60], ..DemandSeries::new(W, today - chrono::Days::new(60), vec![10; 60], vec![0; 60]) };
    shop.store.commit(|tx| tx.put::<_, std::convert::Infallible>(TreeId::DemandSeries, W.as_bytes(), &series)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_and_api_with_roles_and_field_errors() {
    use common::web::{body, text, WebShop};
    let shop = WebShop::start().await;
    urgent_water(&shop);
    let manager = shop.login("manager1", None).await;
    let cashier = shop.login("cashier1", None).await;
    let tech = shop.login("tech1", None).await;

    // Cashiers and technicians may not see or run it.
    assert_eq!(shop.get(&cashier, "/api/v1/stock/suggestions").await.status(), 403);
    assert_eq!(shop.post_json(&tech, "/api/v1/stock/replenishment/run", &serde_json::json!({})).await.status(), 403);
    assert_eq!(shop.post_json(&manager, "/api/v1/stock/replenishment/run", &serde_json::json!({"date": "26-11-2026"})).await.status(), 400);
    let (status, run) = body(shop.post_json(&manager, "/api/v1/stock/replenishment/run", &serde_json::json!({})).await).await;
    assert_eq!(status, 200, "{run}");
    assert_eq!((run["to_order"].as_u64(), run["urgent"].as_u64()), (Some(1), Some(1)));

    let (status, list) = body(shop.get(&manager, "/api/v1/stock/suggestions?urgent=true").await).await;
    assert_eq!(status, 200);
    assert_eq!(list["lines"][0]["sku"], W);
    assert_eq!(list["lines"][0]["suggestion"]["suggested_qty"], 20);
    let (status, err) = body(shop.get(&manager, "/api/v1/stock/suggestions?format=xml").await).await;
    assert_eq!((status.as_u16(), err["field"].as_str()), (400, Some("format")));
    let res = shop.get(&manager, "/api/v1/stock/suggestions?format=csv").await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let (_, csv) = text(res).await;
    assert!(csv.lines().nth(1).unwrap().starts_with("SKU-010001,"), "{csv}");

    // Policies: 400 naming the field, 404 for an unknown sku, 403 for a cashier.
    let put = |login, path: &'static str, b: serde_json::Value| {
        let shop = &shop;
        async move { body(shop.send_json(login, reqwest::Method::PUT, path, &b).await).await }
    };
    let (status, err) = put(&manager, "/api/v1/stock/policies/SKU-010001", serde_json::json!({"pack_size": 0})).await;
    assert_eq!((status.as_u16(), err["field"].as_str()), (400, Some("pack_size")), "{err}");
    let (status, err) = put(&manager, "/api/v1/stock/policies/SKU-010001", serde_json::json!({"lead_time_days": "three"})).await;
    assert_eq!((status.as_u16(), err["field"].as_str()), (400, Some("lead_time_days")), "{err}");
    let (status, _) = put(&manager, "/api/v1/stock/policies/NOPE", serde_json::json!({"pack_size": 6})).await;
    assert_eq!(status, 404);
    let (status, _) = put(&cashier, "/api/v1/stock/policies/SKU-010001", serde_json::json!({"pack_size": 6})).await;
    assert_eq!(status, 403);
    let (status, shown) = put(&manager, "/api/v1/stock/policies/SKU-010001", serde_json::json!({"pack_size": 12, "lead_time_days": 2})).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["effective"]["policy"]["pack_size"], 12);
    assert_eq!(shown["effective"]["sources"]["lead_time_days"], "sku");
    let (status, got) = body(shop.get(&manager, "/api/v1/stock/policies/SKU-010001").await).await;
    assert_eq!((status.as_u16(), &got["own"]["pack_size"]), (200, &serde_json::json!(12)));

    // The page: urgent first and marked, the explanation; the run button posts and comes back.
    let (status, html) = text(shop.get(&manager, "/stock/replenishment").await).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-sku=\"SKU-010001\"") && html.contains("紧急"), "{html}");
    assert!(html.contains("order-up-to 40"), "{html}");
    let res = shop.post_form(&manager, "/stock/replenishment/run", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(shop.get(&cashier, "/stock/replenishment").await.status(), 403);
    let (_, dash) = text(shop.get(&manager, "/dashboard").await).await;
    assert!(dash.contains("replenishment-card") && dash.contains("/stock/replenishment"), "{dash}");
}

/// The daemon (`storehub demo`, default `[stock].replenishment_at` 06:30 Shanghai time) runs the
/// replenishment at start when today's run is missing and the time has passed; before 06:30 it
/// does not. The branch follows the real clock, since the daemon reads it.
#[test]
fn the_daemon_runs_the_replenishment_at_start_once_its_time_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let _daemon = start_demo(dir.path());
    let d = dir.path().to_str().unwrap();
    let now = storehub::clock::local(chrono::Utc::now(), chrono_tz::Asia::Shanghai);
    let due = now.time() >= chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap();
    let started = std::time::Instant::now();
    loop {
        let out = storehub_cmd(&["--data-dir", d, "replenishment", "list", "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        if !stderr(&out).contains("no replenishment run yet") {
            assert!(due, "a run before its time");
            let lines: Vec<rep::SuggestionLine> = serde_json::from_str(&stdout(&out)).unwrap();
            assert!(!lines.is_empty(), "the demo catalog's products are listed");
            break;
        }
        if !due && started.elapsed() > std::time::Duration::from_secs(3) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the daemon did not run the replenishment within a minute");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
