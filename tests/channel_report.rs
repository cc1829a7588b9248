//! The sales channel report (渠道分析) end to end: real lane sales, orders of other channels
//! (copies of a lane sale committed with their own channel, as `order.ingest` will), a return;
//! per channel and week in worked numbers; the same through the CLI (JSON and CSV), the API
//! (JSON, CSV, errors naming the parameter), the page with its chart, and the reports index.

mod common;

use reqwest::StatusCode;
use storehub::checkout::sale::Sale;
use storehub::domain::channel::SalesChannel;
use storehub::domain::reports::{DateRange, Period};

use common::channel_sales::{commit_channel_sale, till, Till};
use common::web::{body, text, WebShop};
use common::*;

const A: &str = "13800000001";
const B: &str = "13800000002";

/// Week 48 (23–29 Nov 2026), Wednesday 25 Nov: member A buys 5 waters (¥10) at the lane, a
/// guest 3 (¥6); at 18:00 member B's first purchase ever is a ¥10 delivery order. Week 49,
/// Tuesday 1 Dec: A orders ¥10 by delivery, B twice; one of A's lane waters comes back (¥2).
fn two_weeks() -> (Till, Sale) {
    let t = till(&[water()], Vec::new());
    let (a, b) = (t.register(A, "甲"), t.register(B, "乙"));
    assert_eq!((a, b), (1, 2));
    let lane_sale = t.sell(&[("SKU-010001", 5)], Some(A));
    assert_eq!(lane_sale.priced.total_fen, 1_000);
    assert_eq!(t.sell(&[("SKU-010001", 3)], None).priced.total_fen, 600);
    let of_b = Sale { member_id: Some(b), ..lane_sale.clone() };
    t.clock.advance(chrono::Duration::hours(1));
    commit_channel_sale(&t.store, &of_b, SalesChannel::Delivery, &t.rules.loyalty);
    t.clock.advance(chrono::Duration::days(6));
    commit_channel_sale(&t.store, &lane_sale, SalesChannel::Delivery, &t.rules.loyalty);
    commit_channel_sale(&t.store, &of_b, SalesChannel::Delivery, &t.rules.loyalty);
    commit_channel_sale(&t.store, &of_b, SalesChannel::Delivery, &t.rules.loyalty);
    assert_eq!(t.give_back(&lane_sale, 1, 1).refund_fen, 200);
    (t, lane_sale)
}

fn d(m: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, m, day).unwrap()
}

/// (tickets, sales, refunds, net, members, new members, repeat members, repeat rate, average)
type Figures = (u64, i64, i64, i64, u64, u64, u64, i64, i64);

#[test]
fn channels_by_week_in_worked_numbers() {
    let (t, _) = two_weeks();
    let range = DateRange::new(d(11, 23), d(12, 6)).unwrap();
    let rows = storehub::members::channel_report::rows(&t.store, t.rules.tz, &range, Period::Week).unwrap();
    assert_eq!(rows.len(), 15, "the whole range, then weeks 48 and 49; five channels each");
    let row = |label: Option<&str>, c: SalesChannel| -> Figures {
        let r = rows.iter().find(|r| r.label.as_deref() == label && r.channel == c).unwrap();
        (r.tickets, r.sales_fen, r.refunds_fen, r.net_sales_fen, r.members, r.new_members, r.repeat_members, r.repeat_rate_bp, r.average_ticket_fen)
    };
    use SalesChannel::{Delivery, InStore, MiniProgram};
    // A is new in store (their first ticket of the range), B by delivery; B has 3 delivery
    // tickets, A one: 1 of 2 delivery members repeats.
    assert_eq!(row(None, InStore), (2, 1_600, 200, 1_400, 1, 1, 0, 0, 800));
    assert_eq!(row(None, Delivery), (4, 4_000, 0, 4_000, 2, 1, 1, 5_000, 1_000));
    assert_eq!(row(Some("2026-W48"), InStore), (2, 1_600, 0, 1_600, 1, 1, 0, 0, 800));
    assert_eq!(row(Some("2026-W48"), Delivery), (1, 1_000, 0, 1_000, 1, 1, 0, 0, 1_000));
    // The refund counts in the week of the return, against the lane sale's channel.
    assert_eq!(row(Some("2026-W49"), InStore), (0, 0, 200, -200, 0, 0, 0, 0, 0));
    assert_eq!(row(Some("2026-W49"), Delivery), (3, 3_000, 0, 3_000, 2, 0, 1, 5_000, 1_000));
    assert_eq!(row(None, MiniProgram), (0, 0, 0, 0, 0, 0, 0, 0, 0));
    // By day, the delivery orders of 1 Dec are one day's row; B repeats that day.
    let by_day = storehub::members::channel_report::rows(&t.store, t.rules.tz, &range, Period::Day).unwrap();
    assert_eq!(by_day.len(), 5 * 15);
    let dec1 = by_day.iter().find(|r| r.label.as_deref() == Some("2026-12-01") && r.channel == Delivery).unwrap();
    assert_eq!((dec1.tickets, dec1.members, dec1.repeat_members), (3, 2, 1));
}

#[test]
fn the_cli_prints_the_report_as_json_and_csv() {
    let (t, _) = two_weeks();
    let dir = t.close();
    let data = dir.path().to_str().unwrap();
    let csv = storehub_cmd(&["--data-dir", data, "report", "channels", "--from", "2026-11-23", "--to", "2026-12-06", "--period", "week", "--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 16, "{csv}");
    assert_eq!(lines[0], "period,start,channel,tickets,sales_fen,refunds_fen,net_sales_fen,members,new_members,repeat_members,repeat_rate_bp,average_ticket_fen");
    assert_eq!(lines[1], "all,2026-11-23,in_store,2,1600,200,1400,1,1,0,0,800");
    assert_eq!(lines[3], "all,2026-11-23,delivery,4,4000,0,4000,2,1,1,5000,1000");
    assert_eq!(lines[13], "2026-W49,2026-11-30,delivery,3,3000,0,3000,2,0,1,5000,1000");
    let json = ok_json(storehub_cmd(&["--data-dir", data, "report", "channels", "--from", "2026-11-23", "--to", "2026-12-06", "--period", "month"]));
    assert_eq!((json["kind"].as_str(), json["by"].as_str()), (Some("channels"), Some("month")));
    assert_eq!(json["rows"].as_array().unwrap().len(), 15, "whole range, November, December");
    assert_eq!((json["rows"][12]["period"].as_str(), json["rows"][12]["channel"].as_str()), (Some("2026-12"), Some("delivery")));
    assert_eq!(json["rows"][12]["tickets"], 3);
    refused(storehub_cmd(&["--data-dir", data, "report", "channels", "--from", "2026-12-06", "--to", "2026-11-23"]), "--from/--to");
    refused(storehub_cmd(&["--data-dir", data, "report", "channel"]), "no report \"channel\"; reports are");
    let bad = storehub_cmd(&["--data-dir", data, "report", "channels", "--period", "year"]);
    assert_eq!(bad.status.code(), Some(2), "clap names the allowed periods: {}", stderr(&bad));
}

/// The page with its chart and CSV link, the API as JSON and CSV (`period=` as the brief names
/// it), the index's link, bad parameters named, and who may see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_the_api_show_channels() {
    use storehub::control::lanes::LaneAction;
    use storehub::control::Request;
    use storehub::domain::tender::{Tender, TenderKind};
    let shop = WebShop::start().await;
    load(&shop.store, &[water()]);
    let m = shop.login("manager1", None).await;
    let lane = |action: LaneAction| storehub::control::ops::handle(&shop.store, &shop.state.ctx, Request::Lane { lane: "lane-1".into(), action }).unwrap_or_else(|e| panic!("{e}"));
    lane(LaneAction::SignIn { staff: "cashier1".into(), pin: storehub::config::Secret::new(common::web::PIN.into()) });
    lane(LaneAction::Add { sku: "SKU-010001".into(), qty: 4 });
    let paid = lane(LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: 1_000, reference: None, points: None }] });
    let sale: Sale = storehub::checkout::sale::sale(&shop.store, paid.result["sale"]["id"].as_u64().unwrap()).unwrap().unwrap();
    commit_channel_sale(&shop.store, &sale, SalesChannel::MiniProgram, &shop.state.ctx.loyalty);
    commit_channel_sale(&shop.store, &sale, SalesChannel::Phone, &shop.state.ctx.loyalty);

    let q = "from=2026-11-25&to=2026-11-25&period=day";
    let (status, j) = body(shop.get(&m, &format!("/api/v1/reports/channels?{q}")).await).await;
    assert_eq!(status, StatusCode::OK, "{j}");
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10, "the whole range and the one day");
    let tickets: Vec<(String, i64)> = rows[..5].iter().map(|r| (r["channel"].as_str().unwrap().to_string(), r["tickets"].as_i64().unwrap())).collect();
    assert_eq!(tickets, vec![("in_store".into(), 1), ("mini_program".into(), 1), ("delivery".into(), 0), ("online_mall".into(), 0), ("phone".into(), 1)]);
    assert_eq!(rows[1]["sales_fen"], sale.priced.total_fen);
    assert_eq!(rows[1]["average_ticket_fen"], sale.priced.total_fen);

    let res = shop.get(&m, &format!("/api/v1/reports/channels?{q}&format=csv")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("channels_2026-11-25_2026-11-25.csv"));
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 11);
    assert!(csv.lines().nth(2).unwrap().starts_with("all,2026-11-25,mini_program,1,"), "{csv}");

    let (status, page) = text(shop.get(&m, &format!("/reports/channels?{q}")).await).await;
    assert_eq!(status, StatusCode::OK);
    for want in ["渠道分析", "<svg", "小程序", "电话订单", "复购率", "/api/v1/reports/channels.csv?from=2026-11-25&amp;to=2026-11-25&amp;by=day"] {
        assert!(page.contains(want), "{want} missing from the page");
    }
    let (_, index) = text(shop.get(&m, "/reports").await).await;
    assert!(index.contains("/reports/channels?"), "the reports index links the channel report");

    for (bad, field) in [("period=year", "period"), ("by=year", "by"), ("from=2026-11-26&to=2026-11-25", "from"), ("to=25-11-2026", "to"), ("format=xlsx", "format")] {
        let (status, e) = body(shop.get(&m, &format!("/api/v1/reports/channels?{bad}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert!(e.to_string().contains(field), "{bad}: {e}");
    }
    let (status, page) = text(shop.get(&m, "/reports/channels?period=year").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("应为 day、week 或 month"), "the page says what it expected");

    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, "/api/v1/reports/channels").await.status(), StatusCode::FORBIDDEN);
}
