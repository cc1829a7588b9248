//! Stock analysis on a small shop whose week of sales went through the real checkout (lanes,
//! payment, a return) on a manual clock, worked by hand: ABC by revenue share with the return
//! netted, XYZ by the CV of daily demand, slow movers and dead stock with the value they tie up,
//! turnover days. Then the same through the web (roles, CSV) and the CLI.

mod common;

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use common::web::{body, text, WebShop};
use common::*;
use storehub::catalog::Product;
use storehub::checkout::returns::{ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::clock::ManualClock;
use storehub::store::Store;
use storehub::config::StockConfig;
use storehub::domain::abc::{AbcClass, XyzClass};
use storehub::domain::staff::Role;
use storehub::domain::stock::MoveKind;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::inventory::analysis::{self, AnalysisParams, ValuedAt};
use storehub::staff::StaffRef;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn product(sku: &str, price_fen: i64, cost_fen: Option<i64>) -> Product {
    Product { price_fen, cost_fen, ..drink(sku, &format!("Product {sku}"), &[], None) }
}

/// 17:00 in Shanghai on 25 November + `day` days.
fn day(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + chrono::Duration::days(i64::from(day))
}

/// Five products, received on day 0; days 1–7 of sales through lane 1 (cash), one return.
///
/// | sku | price / cost | day 1 2 3 4 5 6 7 | net units | revenue |
/// |-----|--------------|-------------------|-----------|---------|
/// | A   | 10.00 / 6.00 | 2 2 2 2 2 2 2, one back on day 5 | 13 | ¥130.00 |
/// | B   |  2.00 / 1.50 | 0 10 0 0 0 10 0   | 20 | ¥40.00  |
/// | C   |  5.00 / 3.00 | 0 2 1 3 0 2 2     | 10 | ¥50.00  |
/// | D   | 10.00 / 8.00 | never sold, 5 in stock | 0 | 0 |
/// | E   |  3.00 / 1.00 | 0 0 1 0 0 0 0     |  1 | ¥3.00   |
fn small_shop(store: &Arc<Store>, clock: &ManualClock) {
    load(store, &[product("A", 1000, Some(600)), product("B", 200, Some(150)), product("C", 500, Some(300)), product("D", 1000, Some(800)), product("E", 300, Some(100))]);
    for (sku, qty) in [("A", 100), ("B", 100), ("C", 50), ("D", 5), ("E", 20)] {
        apply(store, MoveKind::Receipt, sku, qty);
    }
    let new = storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier };
    storehub::staff::create_staff(store, &new, "correct horse", Some("2468"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
    let manager = storehub::staff::NewStaff { id: "li".into(), name: "李经理".into(), role: Role::Manager };
    storehub::staff::create_staff(store, &manager, "correct horse", Some("1357"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
    storehub::staff::open_shift(store, "lane-1", "wang", 50_000).unwrap();
    let lanes = Lanes::open(Arc::clone(store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: Vec::new(), tz: TZ, loyalty: Default::default() };
    let daily: [(&str, [i64; 7]); 4] = [("A", [2; 7]), ("B", [0, 10, 0, 0, 0, 10, 0]), ("C", [0, 2, 1, 3, 0, 2, 2]), ("E", [0, 0, 1, 0, 0, 0, 0])];
    let mut day4_sale_of_a = None;
    for d in 1..=7u32 {
        clock.set(day(d));
        for (sku, qty) in &daily {
            let n = qty[(d - 1) as usize];
            if n == 0 {
                continue;
            }
            let line = lanes.add_sku("lane-1", sku, n).unwrap();
            let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(line.unit_price_fen * n)] }, &rules).unwrap();
            if d == 4 && *sku == "A" {
                day4_sale_of_a = Some((sale.id, line.line_no));
            }
        }
        if d == 5 {
            // One bottle of A from day 4 comes back (a manager takes it), to the shelf, ¥10.00 refunded.
            let (sale_id, line_no) = day4_sale_of_a.unwrap();
            let req = ReturnRequest {
                of: ReturnOf::Sale { sale_id, lines: vec![ReturnLineRequest { line_no, qty: 1 }] },
                lane: "lane-1".into(),
                by: "li".into(),
                restock: true,
                reason: "不想要了".into(),
            };
            let r = storehub::checkout::returns::return_items(store, &req, &Default::default()).unwrap();
            assert_eq!(r.refund_fen, 1000);
        }
    }
    clock.set(day(8));
}

/// Stores a replenishment run's summary and suggestion lines as the daily run writes them:
/// (sku, forecast per day, on hand), σ 0, lead time 3 days, review period 1 day.
fn store_run(store: &Store, skus: &[(&str, f64, i64)]) {
    use storehub::domain::replenish::{suggest, DemandInput, SkuPolicy};
    use storehub::inventory::replenishment::{ReplenishmentRun, SuggestionLine, RUN_KEY};
    use storehub::store::{TreeId, TxError};
    let policy = SkuPolicy { lead_time_days: 3, review_period_days: 1, pack_size: 1, moq: 0, service_level_bp: 9500 };
    store
        .commit(|tx| -> Result<(), TxError<()>> {
            for (sku, per_day, on_hand) in skus {
                let input = DemandInput { forecast_per_day: *per_day, forecast_error_per_day: 0.0, on_hand: *on_hand, on_order: 0 };
                let line = SuggestionLine {
                    sku: sku.to_string(),
                    name_zh: String::new(),
                    name_en: String::new(),
                    supplier: None,
                    unit_cost_fen: None,
                    abc: AbcClass::A,
                    demand_class: storehub::domain::forecast::DemandClass::Smooth,
                    method: storehub::domain::forecast::Method::Ses,
                    policy,
                    suggestion: suggest(&policy, &input).unwrap(),
                };
                tx.put(TreeId::Suggestions, sku.as_bytes(), &line)?;
            }
            let run = ReplenishmentRun { day: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(), run_at: day(8), skus: skus.len() as u32, to_order: 0, urgent: 0, took_ms: 1 };
            tx.put(TreeId::Meta, RUN_KEY, &run)
        })
        .unwrap();
}

fn cash(fen: i64) -> Tender {
    Tender { kind: TenderKind::Cash, amount_fen: fen, reference: None, points: None }
}

fn params() -> AnalysisParams {
    AnalysisParams::from_config(&StockConfig { analysis_days: 7, slow_after_days: 3, dead_after_days: 20, ..StockConfig::default() })
}

#[test]
fn a_week_of_checkout_sales_gives_the_worked_abc_xyz_dead_stock_and_turnover() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, storehub::store::Durability::Durable));
    small_shop(&store, &clock);
    let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    let a = analysis::analyse(&store, TZ, None, today, &params()).unwrap();
    assert_eq!((a.from, a.to), (NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()));

    // Revenue: A 14 × ¥10 − ¥10 refunded = ¥130; C ¥50; B ¥40; E ¥3; D 0. Total ¥223.
    assert_eq!(a.total_revenue_fen, 22_300);
    let row = |sku: &str| a.classes.iter().find(|c| c.sku == sku).unwrap().clone();
    let ranked: Vec<(&str, i64, i64, i64)> = a.classes.iter().map(|c| (c.sku.as_str(), c.revenue_fen, c.share_bp, c.cumulative_bp)).collect();
    assert_eq!(ranked, vec![("A", 13_000, 5_830, 5_830), ("C", 5_000, 2_242, 8_072), ("B", 4_000, 1_794, 9_865), ("E", 300, 135, 10_000), ("D", 0, 0, 10_000)]);
    // ABC 80/15/5 by share before: A 0 % and C 58.3 % → A; B 80.7 % → B; E 98.7 % → C; D no revenue → C.
    let classes: Vec<(&str, AbcClass)> = a.classes.iter().map(|c| (c.sku.as_str(), c.abc)).collect();
    assert_eq!(classes, vec![("A", AbcClass::A), ("C", AbcClass::A), ("B", AbcClass::B), ("E", AbcClass::C), ("D", AbcClass::C)]);

    // XYZ, CV of the daily net demand over the 7 days (the return nets A's day 5 to 1):
    // A [2,2,2,2,1,2,2]: mean 13/7, σ 0.34993 → CV 0.18843 → X.
    // C [0,2,1,3,0,2,2]: mean 10/7, σ 1.04978 → CV 0.73485 → Y.
    // B [0,10,0,0,0,10,0]: mean 20/7, σ 4.51754 → CV 1.58114 → Z. E: CV 2.44949 → Z. D: no demand → Z.
    let cv = |sku: &str| row(sku).cv.unwrap();
    assert!((cv("A") - 0.188_43).abs() < 1e-4, "{}", cv("A"));
    assert!((cv("C") - 0.734_85).abs() < 1e-4, "{}", cv("C"));
    assert!((cv("B") - 1.581_14).abs() < 1e-4, "{}", cv("B"));
    assert!((cv("E") - 2.449_49).abs() < 1e-4, "{}", cv("E"));
    assert_eq!(row("D").cv, None);
    let xyz: Vec<(&str, XyzClass)> = a.classes.iter().map(|c| (c.sku.as_str(), c.xyz)).collect();
    assert_eq!(xyz, vec![("A", XyzClass::X), ("C", XyzClass::Y), ("B", XyzClass::Z), ("E", XyzClass::Z), ("D", XyzClass::Z)]);
    assert_eq!(row("A").demand_days, 7);
    // The matrix: A-X (A), A-Y (C); B-Z (B); C-Z (E, D).
    assert_eq!(a.matrix, [[1, 1, 0], [0, 0, 1], [0, 0, 2]]);

    // Slow (no sale for 3 days or more) and dead (20, or never), value at cost:
    // E last sold on 28 Nov, 5 days before 3 Dec: slow, 19 × ¥1.00 = ¥19.00.
    // D never sold: dead, 5 × ¥8.00 = ¥40.00. B last sold 2 days ago: moving.
    let slow: Vec<(&str, i64, Option<u32>, i64)> = a.slow.iter().map(|r| (r.sku.as_str(), r.on_hand, r.days_since_last_sale, r.value_fen)).collect();
    assert_eq!(slow, vec![("E", 19, Some(5), 1_900)]);
    let dead: Vec<(&str, i64, Option<u32>, i64)> = a.dead.iter().map(|r| (r.sku.as_str(), r.on_hand, r.days_since_last_sale, r.value_fen)).collect();
    assert_eq!(dead, vec![("D", 5, None, 4_000)]);
    assert_eq!(a.dead[0].valued_at, ValuedAt::Cost);

    // Turnover of A: end-of-day stock 98 96 94 92 91 89 87 → mean 92.43 → 92 units × ¥6.00 =
    // ¥552.00; cost of sales 13 × ¥6.00 = ¥78.00; 552 × 7 / 78 = 49.54 days.
    let t = |sku: &str| a.turnover.iter().find(|r| r.sku == sku).unwrap().clone();
    assert_eq!((t("A").average_stock_fen, t("A").cost_of_sales_fen), (55_200, 7_800));
    assert!((t("A").turnover_days.unwrap() - 49.538).abs() < 1e-3);
    assert_eq!((t("D").average_stock_fen, t("D").turnover_days), (4_000, None));
    // The shop: stock A 55 200 + B 89 × 150 + C 45 × 300 + D 4 000 + E 19 × 100 = 87 950;
    // cost of sales 7 800 + 3 000 + 3 000 + 0 + 100 = 13 900; 87 950 × 7 / 13 900 = 44.29 days.
    assert_eq!((t("B").average_stock_fen, t("C").average_stock_fen, t("E").average_stock_fen), (13_350, 13_500, 1_900));
    assert!((a.shop_turnover_days.unwrap() - 44.291).abs() < 1e-3);
    // The slowest first, the one that does not turn over last.
    assert_eq!(a.turnover.last().map(|r| r.sku.as_str()), Some("D"));

    // No replenishment run yet: no over-stock list, and the reason.
    assert!(a.overstock.is_empty());
    assert!(a.overstock_note.as_deref().unwrap().starts_with("no replenishment run yet"));

    // A replenishment run stores its order-up-to levels (forecast 2/day for A and 0.5/day for
    // D, σ 0, lead time 3 + review 1 day → S = 8 and 2). Over-stock is on hand above S × 1.5:
    // A 87 > 12 (79 too many, ¥474.00 at cost), D 5 > 3 (3 too many, ¥24.00); most excess first.
    store_run(&store, &[("A", 2.0, 87), ("D", 0.5, 5)]);
    let a = analysis::analyse(&store, TZ, None, today, &params()).unwrap();
    let over: Vec<(&str, i64, i64, i64, i64)> = a.overstock.iter().map(|r| (r.sku.as_str(), r.on_hand, r.order_up_to, r.excess_units, r.excess_value_fen)).collect();
    assert_eq!(over, vec![("A", 87, 8, 79, 47_400), ("D", 5, 2, 3, 2_400)]);
    assert_eq!(a.overstock_note, None);

    // The dead-stock list as CSV.
    let mut csv = Vec::new();
    analysis::write_csv(&a, "dead", &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv, "\u{feff}sku,name_zh,name_en,age,on_hand,unit,last_sale_day,days_since_last_sale,value_fen,valued_at\nD,Product D（中）,Product D,dead,5,piece,,,4000,cost\n");

    // One ABC: the replenishment run on the same day and window classes every SKU the same way.
    let cfg = StockConfig { analysis_days: 7, ..StockConfig::default() };
    storehub::inventory::replenishment::run_with(&store, &cfg, TZ, None, today).unwrap();
    let run: Vec<(String, AbcClass)> = storehub::inventory::replenishment::suggestions(&store).unwrap().into_iter().map(|l| (l.sku, l.abc)).collect();
    for (sku, abc) in &classes {
        assert!(run.contains(&(sku.to_string(), *abc)), "{sku}: analysis {abc:?}, replenishment {run:?}");
    }

    // The CLI, without a daemon, on the same data dir (default [stock]: 90 days, dead after 90).
    drop(store);
    let data_dir = dir.path().to_str().unwrap();
    let out = retry_while_locked(|| {
        let o = storehub_cmd(&["--data-dir", data_dir, "stock-analysis", "--list", "dead", "--format", "csv"]);
        if o.status.success() { Ok(o) } else { Err(String::from_utf8_lossy(&o.stderr).into_owned()) }
    })
    .unwrap_or_else(|e| panic!("storehub stock-analysis failed: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\nD,Product D（中）,Product D,dead,5,piece,,,4000,cost\n"), "{stdout}");
    let out = storehub_cmd(&["--data-dir", data_dir, "stock-analysis", "--format", "csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format csv needs one list: --list abc|xyz|slow|dead|turnover|overstock"));
    let out = storehub_cmd(&["--data-dir", data_dir, "stock-analysis", "--list", "bogus"]);
    assert!(!out.status.success());
    // The alerts and restock commands on the same data dir (nothing open in this shop).
    let out = storehub_cmd(&["--data-dir", data_dir, "alerts", "list", "--all"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({ "open": [], "recent": [] }));
    let out = storehub_cmd(&["--data-dir", data_dir, "restock", "done", "7", "--staff", "li"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("restock task 7 does not exist; `storehub restock list` shows the open ones"));
    let out = storehub_cmd(&["--data-dir", data_dir, "alerts", "ack", "3", "--staff", "wang"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("alert 3 does not exist"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_see_the_analysis_page_and_download_each_list_as_csv() {
    let shop = WebShop::start().await;
    load(&shop.store, &[product("D", 1000, Some(800)), product("F", 300, None)]);
    apply(&shop.store, MoveKind::Receipt, "D", 5);
    apply(&shop.store, MoveKind::Receipt, "F", 2);
    let manager = shop.login("manager1", None).await;
    let cashier = shop.login("cashier1", Some("lane-1")).await;

    // The stock page leads to the analysis (and the other stock pages) by its tabs.
    let (_, stock_page) = text(shop.get(&manager, "/stock").await).await;
    assert!(stock_page.contains("href=\"/stock/analysis\"") && stock_page.contains("href=\"/stock/tasks\""));
    let (status, html) = text(shop.get(&manager, "/stock/analysis").await).await;
    assert_eq!(status, 200);
    assert!(html.contains("库存分析") && html.contains("ABC × XYZ"), "zh page");
    assert!(html.contains("<svg"), "the Pareto chart");
    assert!(html.contains("data-note=\"overstock\""), "the note without a run");
    assert_eq!(shop.get(&cashier, "/stock/analysis").await.status(), 403);
    assert_eq!(shop.get(&cashier, "/api/v1/stock/analysis").await.status(), 403);

    let (status, all) = body(shop.get(&manager, "/api/v1/stock/analysis").await).await;
    assert_eq!(status, 200);
    assert_eq!(all["dead"].as_array().map(Vec::len), Some(2));
    let (status, dead) = body(shop.get(&manager, "/api/v1/stock/analysis/dead").await).await;
    assert_eq!(status, 200);
    // D at cost (5 × ¥8.00); F has no cost: valued at its price (2 × ¥3.00), and says so.
    let rows: Vec<(String, i64, String)> = dead["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["sku"].as_str().unwrap().to_string(), r["value_fen"].as_i64().unwrap(), r["valued_at"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rows, vec![("D".into(), 4_000, "cost".into()), ("F".into(), 600, "price".into())]);

    for list in analysis::LISTS {
        let res = shop.get(&manager, &format!("/stock/analysis?list={list}&format=csv")).await;
        assert_eq!(res.status(), 200, "{list}");
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&format!("stock-{list}-")));
        let csv = res.text().await.unwrap();
        assert!(csv.starts_with("\u{feff}sku,name_zh,name_en,"), "{list}: {csv}");
    }
    let csv = shop.get(&manager, "/api/v1/stock/analysis/dead?format=csv").await.text().await.unwrap();
    assert!(csv.contains("\nF,Product F（中）,Product F,dead,2,piece,,,600,price\n"), "{csv}");

    // Bad input names the field.
    let (status, err) = body(shop.get(&manager, "/stock/analysis?list=abc&format=pdf").await).await;
    assert_eq!((status, err["field"].as_str()), (reqwest::StatusCode::BAD_REQUEST, Some("format")));
    let (status, err) = body(shop.get(&manager, "/stock/analysis?format=csv").await).await;
    assert_eq!((status, err["field"].as_str()), (reqwest::StatusCode::BAD_REQUEST, Some("list")));
    assert_eq!(shop.get(&manager, "/api/v1/stock/analysis/bogus").await.status(), 404);
}
