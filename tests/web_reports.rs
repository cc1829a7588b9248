//! The reports over real HTTP: three shop-local days of real sales (two members, one of them
//! twice), a return, a void and a closed shift, then every report's JSON checked against numbers
//! worked out here, the CSV files, the pages, and the refusals (bad dates, long ranges, roles).

mod common;

use chrono::{TimeZone, Utc};
use common::web::{Login, WebShop};
use serde_json::Value;
use storehub::checkout::returns::{ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::config::Secret;
use storehub::control::lanes::{lane, return_items, LaneAction};
use storehub::domain::stock::MoveKind;
use storehub::domain::tender::{Tender, TenderKind};

/// Shop-local (UTC+8) `h:m` on November `day`, 2026.
fn local(day: u32, h: u32, m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap() - chrono::Duration::hours(8)
}

fn act(shop: &WebShop, action: LaneAction) -> Value {
    match lane(&shop.store, &shop.state.ctx, "lane-1", action) {
        Ok(r) => r.result,
        Err(e) => panic!("lane action refused: {e}"),
    }
}

fn sell(shop: &WebShop, member: Option<&str>, items: &[(&str, i64)], paid: i64) -> Value {
    if let Some(phone) = member {
        act(shop, LaneAction::Member { query: phone.into() });
    }
    for (sku, qty) in items {
        if *sku == "SKU-020001" {
            act(shop, LaneAction::Weigh { sku: (*sku).into(), grams: Some(*qty) });
        } else {
            act(shop, LaneAction::Add { sku: (*sku).into(), qty: *qty });
        }
    }
    act(shop, LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: paid, reference: None, points: None }] })["sale"].clone()
}

fn register(shop: &WebShop, phone: &str, name: &str) {
    storehub::members::register(&shop.store, &storehub::members::NewMember::in_store(phone, name), &shop.state.ctx.loyalty).unwrap();
}

const A: &str = "13800000001";
const B: &str = "13800000002";

/// Three days, worked out (waters and C'estbon ¥2.00, bananas ¥7.98/kg; all cash, lane-1,
/// cashier1; the shift WebShop opened is closed at the end with ¥227.80 counted):
/// - Mon 23: member A registers; A buys 5 waters ¥10.00 (10:00); a guest 1 kg bananas ¥7.98.
/// - Tue 24: A buys 2 waters ¥4.00; member B registers and buys 1 C'estbon ¥2.00.
/// - Wed 25: a guest buys 3 waters ¥6.00; one water of it comes back ¥2.00; a cart of one
///   C'estbon is voided; member C registers and buys nothing.
fn three_days(shop: &WebShop) {
    shop.clock.set(local(23, 9, 0));
    common::load(&shop.store, &[common::water(), common::cestbon(), common::bananas()]);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-010001", 100);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-010003", 100);
    common::apply(&shop.store, MoveKind::Receipt, "SKU-020001", 10_000);
    act(shop, LaneAction::SignIn { staff: "cashier1".into(), pin: Secret::new(common::web::PIN.into()) });
    register(shop, A, "张伟");
    shop.clock.set(local(23, 10, 0));
    sell(shop, Some(A), &[("SKU-010001", 5)], 1_000);
    shop.clock.set(local(23, 11, 0));
    sell(shop, None, &[("SKU-020001", 1_000)], 800);

    shop.clock.set(local(24, 10, 0));
    sell(shop, Some(A), &[("SKU-010001", 2)], 400);
    shop.clock.set(local(24, 12, 0));
    register(shop, B, "李娜");
    sell(shop, Some(B), &[("SKU-010003", 1)], 200);

    shop.clock.set(local(25, 10, 0));
    let sale = sell(shop, None, &[("SKU-010001", 3)], 600);
    shop.clock.set(local(25, 11, 0));
    let req = ReturnRequest {
        of: ReturnOf::Sale { sale_id: sale["id"].as_u64().unwrap(), lines: vec![ReturnLineRequest { line_no: 1, qty: 1 }] },
        lane: "lane-1".into(),
        by: "manager1".into(),
        restock: true,
        reason: "包装破损".into(),
    };
    return_items(&shop.store, &shop.state.ctx, req).unwrap();
    shop.clock.set(local(25, 12, 0));
    act(shop, LaneAction::Add { sku: "SKU-010003".into(), qty: 1 });
    act(shop, LaneAction::Void);
    register(shop, "13800000003", "赵敏");
    // The shift (opened by WebShop at 17:00 on the 25th): ¥200 float + ¥29.90 cash sales (the
    // demo shop's 抹零 takes ¥7.98 of bananas as ¥7.90 in cash) − ¥2.00 refund = ¥227.90
    // expected; ¥227.80 counted → 10 fen short.
    shop.clock.set(local(25, 18, 0));
    let shift = storehub::staff::open_shift_for_lane(&shop.store, "lane-1").unwrap().unwrap();
    storehub::staff::close_shift(&shop.store, shift.id, 22_780, "manager1").unwrap();
    shop.clock.set(local(25, 19, 0));
}

async fn report(shop: &WebShop, who: &Login, path: &str) -> Value {
    let res = shop.get(who, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn rows(v: &Value) -> &Vec<Value> {
    v["rows"].as_array().unwrap()
}

const RANGE: &str = "from=2026-11-23&to=2026-11-25";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_adds_up_the_three_days() {
    let shop = WebShop::start().await;
    three_days(&shop);
    let m = shop.login("manager1", None).await;

    // Sales trend by day: 23rd 1000 + 798 (members 1000 / 1798 = 55.62 %), 24th 400 + 200 (all
    // members), 25th 600 with 200 back.
    let t = report(&shop, &m, &format!("/api/v1/reports/sales-trend?{RANGE}&by=day")).await;
    assert_eq!((t["kind"].as_str(), t["by"].as_str(), t["from"].as_str()), (Some("sales-trend"), Some("day"), Some("2026-11-23")));
    let r = rows(&t);
    assert_eq!(r.len(), 3);
    let day = |i: usize| (r[i]["period"].as_str().unwrap(), r[i]["tickets"].as_i64().unwrap(), r[i]["sales_fen"].as_i64().unwrap(), r[i]["refunds_fen"].as_i64().unwrap(), r[i]["net_sales_fen"].as_i64().unwrap(), r[i]["average_ticket_fen"].as_i64().unwrap(), r[i]["member_share_bp"].as_i64().unwrap());
    assert_eq!(day(0), ("2026-11-23", 2, 1_798, 0, 1_798, 899, 5_562));
    assert_eq!(day(1), ("2026-11-24", 2, 600, 0, 600, 300, 10_000));
    assert_eq!(day(2), ("2026-11-25", 1, 600, 200, 400, 600, 0));

    // By ISO week: all three days are in 2026-W48. 2998 over 5 = 599.6 → 600; members
    // 1600 / 2998 = 53.37 %.
    let w = report(&shop, &m, &format!("/api/v1/reports/sales-trend?{RANGE}&by=week")).await;
    assert_eq!(rows(&w).len(), 1);
    let w0 = &rows(&w)[0];
    assert_eq!((w0["period"].as_str(), w0["start"].as_str()), (Some("2026-W48"), Some("2026-11-23")));
    assert_eq!((w0["tickets"].as_i64(), w0["sales_fen"].as_i64(), w0["net_sales_fen"].as_i64(), w0["average_ticket_fen"].as_i64(), w0["member_share_bp"].as_i64()), (Some(5), Some(2_998), Some(2_798), Some(600), Some(5_337)));
    let mo = report(&shop, &m, &format!("/api/v1/reports/sales-trend?{RANGE}&by=month")).await;
    assert_eq!(rows(&mo)[0]["period"], "2026-11");

    // Products: water 10 pieces, ¥20.00 − ¥2.00; bananas 1 kg ¥7.98; C'estbon ¥2.00 (the voided
    // one never sold).
    let p = report(&shop, &m, &format!("/api/v1/reports/products?{RANGE}")).await;
    let p = rows(&p);
    assert_eq!(p.len(), 3);
    assert_eq!((p[0]["rank"].as_i64(), p[0]["sku"].as_str(), p[0]["pieces"].as_i64(), p[0]["sales_fen"].as_i64(), p[0]["refunds_fen"].as_i64(), p[0]["net_fen"].as_i64(), p[0]["tickets"].as_i64()), (Some(1), Some("SKU-010001"), Some(9), Some(2_000), Some(200), Some(1_800), Some(3)));
    assert_eq!((p[1]["sku"].as_str(), p[1]["grams"].as_i64(), p[1]["net_fen"].as_i64()), (Some("SKU-020001"), Some(1_000), Some(798)));
    assert_eq!((p[2]["sku"].as_str(), p[2]["net_fen"].as_i64()), (Some("SKU-010003"), Some(200)));

    // Categories: 饮料 2000 and 水果 798 of 2798 → 7147.96 and 2852.04 → 7148 + 2852.
    let c = report(&shop, &m, &format!("/api/v1/reports/categories?{RANGE}")).await;
    let c = rows(&c);
    assert_eq!((c[0]["category"].as_str(), c[0]["net_fen"].as_i64(), c[0]["share_bp"].as_i64()), (Some("饮料"), Some(2_000), Some(7_148)));
    assert_eq!((c[1]["category"].as_str(), c[1]["net_fen"].as_i64(), c[1]["share_bp"].as_i64()), (Some("水果"), Some(798), Some(2_852)));

    // By tier: regular (A and B) 1600; guests 1398 − 200 = 1198; 5718.37 / 4281.63 → 5718 + 4282.
    let tiers = report(&shop, &m, &format!("/api/v1/reports/members-by-tier?{RANGE}")).await;
    let tiers = rows(&tiers);
    let groups: Vec<(&str, &str)> = tiers.iter().map(|r| (r["group"].as_str().unwrap(), r["tier"].as_str().unwrap_or(""))).collect();
    assert_eq!(groups, [("tier", "regular"), ("tier", "silver"), ("tier", "gold"), ("tier", "diamond"), ("guests", "")]);
    assert_eq!((tiers[0]["members"].as_i64(), tiers[0]["tickets"].as_i64(), tiers[0]["net_fen"].as_i64(), tiers[0]["share_bp"].as_i64()), (Some(2), Some(3), Some(1_600), Some(5_718)));
    assert_eq!((tiers[4]["tickets"].as_i64(), tiers[4]["refunds_fen"].as_i64(), tiers[4]["net_fen"].as_i64(), tiers[4]["share_bp"].as_i64()), (Some(2), Some(200), Some(1_198), Some(4_282)));

    // Repurchase: A bought on the 23rd and 24th, B once: 1 of 2.
    let rep = report(&shop, &m, &format!("/api/v1/reports/repurchase?{RANGE}")).await;
    let all = &rows(&rep)[0];
    assert_eq!((all["scope"].as_str(), all["buyers"].as_i64(), all["repeat_buyers"].as_i64(), all["rate_bp"].as_i64()), (Some("all"), Some(2), Some(1), Some(5_000)));
    // Only the 24th: both bought once that day.
    let rep = report(&shop, &m, "/api/v1/reports/repurchase?from=2026-11-24&to=2026-11-24").await;
    assert_eq!((rows(&rep)[0]["buyers"].as_i64(), rows(&rep)[0]["repeat_buyers"].as_i64()), (Some(2), Some(0)));

    // New members: one a day; A and B bought, C did not.
    let nm = report(&shop, &m, &format!("/api/v1/reports/new-members?{RANGE}")).await;
    let nm: Vec<(i64, i64)> = rows(&nm).iter().map(|r| (r["new_members"].as_i64().unwrap(), r["bought"].as_i64().unwrap())).collect();
    assert_eq!(nm, [(1, 1), (1, 1), (1, 0)]);

    // Cashiers: cashier1 rang up all five tickets (2998 / 5 → 600) and voided one cart of ¥2.00;
    // manager1 took the return.
    let cs = report(&shop, &m, &format!("/api/v1/reports/cashiers?{RANGE}")).await;
    let cs = rows(&cs);
    let c1 = cs.iter().find(|r| r["staff"] == "cashier1").unwrap();
    assert_eq!((c1["name"].as_str(), c1["tickets"].as_i64(), c1["sales_fen"].as_i64(), c1["average_ticket_fen"].as_i64(), c1["voids"].as_i64(), c1["void_value_fen"].as_i64(), c1["returns"].as_i64()), (Some("cashier1 名"), Some(5), Some(2_998), Some(600), Some(1), Some(200), Some(0)));
    let m1 = cs.iter().find(|r| r["staff"] == "manager1").unwrap();
    assert_eq!((m1["tickets"].as_i64(), m1["returns"].as_i64(), m1["refunds_fen"].as_i64()), (Some(0), Some(1), Some(200)));

    // Shifts: the one shift, 10 fen short. (Sales count the ticket totals, ¥7.98 for the
    // bananas; the drawer holds what was collected.)
    let sh = report(&shop, &m, &format!("/api/v1/reports/shifts?{RANGE}")).await;
    let s0 = &rows(&sh)[0];
    assert_eq!(rows(&sh).len(), 1);
    assert_eq!((s0["float_fen"].as_i64(), s0["cash_sales_fen"].as_i64(), s0["cash_refunds_fen"].as_i64(), s0["expected_fen"].as_i64(), s0["counted_fen"].as_i64(), s0["difference_fen"].as_i64()), (Some(20_000), Some(2_990), Some(200), Some(22_790), Some(22_780), Some(-10)));
    assert_eq!((s0["opened_at"].as_str(), s0["closed_at"].as_str(), s0["closed_by"].as_str()), (Some("2026-11-25T17:00:00"), Some("2026-11-25T18:00:00"), Some("manager1")));

    // A range that starts on the 24th reads from the 24th's first sale on.
    let t = report(&shop, &m, "/api/v1/reports/sales-trend?from=2026-11-24&to=2026-11-25").await;
    assert_eq!(rows(&t).iter().map(|r| r["tickets"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1]);
    let p = report(&shop, &m, "/api/v1/reports/products?from=2026-11-25&to=2026-11-25").await;
    assert_eq!((rows(&p)[0]["pieces"].as_i64(), rows(&p)[0]["net_fen"].as_i64()), (Some(2), Some(400)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_download_as_csv_and_render_as_pages() {
    let shop = WebShop::start().await;
    three_days(&shop);
    let m = shop.login("manager1", None).await;

    let res = shop.get(&m, &format!("/api/v1/reports/sales-trend.csv?{RANGE}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(res.headers()["content-disposition"], "attachment; filename=\"sales-trend_2026-11-23_2026-11-25.csv\"");
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "period,start,tickets,sales_fen,refunds_fen,net_sales_fen,average_ticket_fen,member_share_bp",
            "2026-11-23,2026-11-23,2,1798,0,1798,899,5562",
            "2026-11-24,2026-11-24,2,600,0,600,300,10000",
            "2026-11-25,2026-11-25,1,600,200,400,600,0",
        ]
    );
    // `?format=csv` is the same file; every report has one, with its header first.
    let same = shop.get(&m, &format!("/api/v1/reports/sales-trend?{RANGE}&format=csv")).await.text().await.unwrap();
    assert_eq!(same, csv);
    for (kind, header) in [
        ("products", "rank,sku,name_zh,name_en,category,pieces,grams,tickets,sales_fen,refunds_fen,net_fen"),
        ("categories", "category,sales_fen,refunds_fen,net_fen,share_bp"),
        ("members-by-tier", "group,tier,members,tickets,sales_fen,refunds_fen,net_fen,average_ticket_fen,share_bp"),
        ("repurchase", "scope,tier,buyers,repeat_buyers,rate_bp"),
        ("new-members", "period,start,new_members,bought"),
        ("cashiers", "staff,name,tickets,sales_fen,average_ticket_fen,voids,void_value_fen,returns,refunds_fen"),
        ("shifts", "shift,lane,staff,opened_at,closed_at,closed_by,float_fen,cash_sales_fen,cash_refunds_fen,paid_in_fen,paid_out_fen,expected_fen,counted_fen,difference_fen"),
    ] {
        let res = shop.get(&m, &format!("/api/v1/reports/{kind}.csv?{RANGE}")).await;
        assert_eq!(res.status(), 200, "{kind}");
        assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let text = res.text().await.unwrap();
        assert_eq!(text.lines().next(), Some(header), "{kind}");
        assert!(text.lines().count() >= 2, "{kind} has rows: {text}");
    }
    let products = shop.get(&m, &format!("/api/v1/reports/products.csv?{RANGE}")).await.text().await.unwrap();
    assert_eq!(products.lines().nth(1), Some("1,SKU-010001,Nongfu Spring 550ml（中）,Nongfu Spring 550ml,饮料,9,0,3,2000,200,1800"));

    // The pages: index, then a report with its chart, table and CSV link, in Chinese with ¥.
    let index = shop.get(&m, "/reports").await.text().await.unwrap();
    for kind in ["销售趋势", "商品排行", "品类占比", "会员贡献（按等级）", "复购率", "新增会员", "收银员业绩", "交班报表"] {
        assert!(index.contains(kind), "the index lacks {kind}");
    }
    let page = shop.get(&m, &format!("/reports/categories?{RANGE}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for needle in ["品类占比", "饮料", "¥20.00", "71.48%", "<svg", "/api/v1/reports/categories.csv?from=2026-11-23&amp;to=2026-11-25"] {
        assert!(html.contains(needle), "the categories page lacks {needle:?}");
    }
    let trend = shop.get(&m, &format!("/reports/sales-trend?{RANGE}&by=day")).await.text().await.unwrap();
    assert!(trend.contains("<polyline") && trend.contains("¥17.98") && trend.contains("55.62%"), "a daily trend is a line with the figures");
    let shifts = shop.get(&m, &format!("/reports/shifts?{RANGE}")).await.text().await.unwrap();
    assert!(shifts.contains("-¥0.10") && shifts.contains("¥227.90"), "the shift's difference and expected cash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dates_name_their_parameter_and_roles_are_checked() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=25-11-2026", "from"),
        ("from=2026-11-25&to=2026-11-24", "from"),
        ("from=2025-01-01&to=2026-11-25", "from"),
        ("to=tomorrow", "to"),
        ("by=year", "by"),
        ("format=pdf", "format"),
    ] {
        let res = shop.get(&m, &format!("/api/v1/reports/sales-trend?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let e: Value = res.json().await.unwrap();
        assert_eq!((e["code"].as_str(), e["field"].as_str()), (Some("invalid_field"), Some(field)), "{query}: {e}");
    }
    let page = shop.get(&m, "/reports/products?from=2026-13-01").await;
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(html.contains("日期格式应为 YYYY-MM-DD"), "the form says what is wrong, in Chinese");
    assert!(html.contains(r#"value="2026-13-01""#), "and keeps what was typed");
    assert_eq!(shop.get(&m, "/api/v1/reports/profits").await.status(), 404);
    assert_eq!(shop.get(&m, "/reports/profits").await.status(), 404);
    // An empty range is fine: zeros, no rows where there is nothing.
    let t = report(&shop, &m, "/api/v1/reports/sales-trend?from=2026-11-01&to=2026-11-02").await;
    assert_eq!(rows(&t).iter().map(|r| r["tickets"].as_i64().unwrap()).sum::<i64>(), 0);
    assert!(rows(&report(&shop, &m, "/api/v1/reports/products").await).is_empty());

    let cashier = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&cashier, "/api/v1/reports/sales-trend").await.status(), 403);
    assert_eq!(shop.get(&cashier, "/api/v1/reports/sales-trend.csv").await.status(), 403);
    assert_eq!(shop.get(&cashier, "/reports").await.status(), 403);
    let tech = shop.login("tech1", None).await;
    assert_eq!(shop.get(&tech, "/reports/cashiers").await.status(), 403, "technicians export no sales data");
    // HQ's tools with a token of a role that sees sales.
    let token = storehub::web::auth::add_token(&shop.store, "hq-bi", storehub::domain::staff::Role::Manager).unwrap();
    let res = shop.http.get(shop.url("/api/v1/reports/categories.csv")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
