//! Campaigns on a real store with a manual clock: a dormant playbook's launch (targets, holdout
//! share, coupons and messages per treated member, one record each), a launch cut short by a
//! restart that resumes without issuing anything twice, scheduled campaigns launched by the tick
//! and finished when their window ends, a points-multiplier offer earned through a real sale,
//! and the funnel from the hub's own data. The end-to-end run through a real daemon, the outbox
//! and Mosquitto with the test as HQ is at the bottom.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026 (17:00 in Shanghai, outside the quiet
//! hours).

mod common;

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use storehub::catalog::Product;
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::coupons;
use storehub::domain::campaign::{Offer, Target};
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::members::campaigns::{self as camp, CampaignSettings, CampaignState, LaunchContext, NewCampaign};
use storehub::members::history::{import_history, HistoryRow};
use storehub::members::{self, Channel, LoyaltyRules, NewMember};
use storehub::store::{Durability, Store, TreeId};

use common::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Registers `n` members (ids 1..=n); every second one consents to WeChat.
fn register(store: &Store, n: u64) {
    for i in 1..=n {
        members::register(store, &new_member(i), &LoyaltyRules::default()).unwrap();
    }
}

/// History: members `dormant` bought on 1 and 15 July (dormant, natural: no coupons, no returns);
/// members `active` bought on 1 July and 20 November.
fn history(store: &Store, dormant: impl IntoIterator<Item = u64>, active: impl IntoIterator<Item = u64>) {
    let mut rows = Vec::new();
    let mut line = 1;
    let mut row = |member: u64, date: NaiveDate| {
        line += 1;
        HistoryRow { line, member_ref: member.to_string(), date, at: None, amount_fen: 8_000, category: None, sku: None, qty: None }
    };
    for m in dormant {
        rows.push(row(m, d(2026, 7, 1)));
        rows.push(row(m, d(2026, 7, 15)));
    }
    for m in active {
        rows.push(row(m, d(2026, 7, 1)));
        rows.push(row(m, d(2026, 11, 20)));
    }
    import_history(store, "history.csv", "", &rows, d(2026, 11, 25), None).unwrap();
}

fn settings() -> CampaignSettings {
    CampaignSettings::default()
}

fn launch(store: &Store, id: &str, max_chunks: Option<usize>) -> camp::LaunchSummary {
    let s = settings();
    camp::launch(store, &s, &LaunchContext::from_settings(&s), id, max_chunks).unwrap()
}

#[test]
fn a_dormant_playbook_targets_the_dormant_holds_out_a_share_and_resumes_after_a_restart_without_issuing_twice() {
    let shop = Shop::open_with(Durability::Relaxed);
    register(&shop.store, 650);
    history(&shop.store, 1..=600, 601..=650);
    let c = camp::create_playbook(&shop.store, "dormant-natural", None, None, &settings()).unwrap();
    assert_eq!((c.id.as_str(), c.state, c.holdout_bp, c.response_days), ("dormant-natural-20261125", CampaignState::Draft, 1000, 14));
    assert_eq!(coupons::template(&shop.store, "PB-WAKE-20").unwrap().map(|t| t.min_spend_fen), Some(10_000), "the playbook made its coupon template");

    // The first chunk of 200 members, then the hub stops.
    let first = launch(&shop.store, &c.id, Some(1));
    assert_eq!((first.targeted, first.recorded_now, first.complete), (600, 200, false));
    let issued_before = events_of_type(&shop.store, coupons::EVENT_COUPON_ISSUED).len();
    let shop = shop.reopen();
    let running = camp::campaign(&shop.store, &c.id).unwrap().unwrap();
    assert_eq!((running.state, running.launch_complete), (CampaignState::Running, false));
    let e = camp::finish(&shop.store, &c.id).unwrap_err();
    assert!(e.to_string().contains("still launching"), "{e}");

    // Resumed: the other 400, nobody twice.
    let rest = launch(&shop.store, &c.id, None);
    assert_eq!((rest.recorded_now, rest.complete), (400, true));
    let recs = camp::campaign_members(&shop.store, &c.id).unwrap();
    assert_eq!(recs.len(), 600);
    assert!(recs.iter().all(|r| r.member_id <= 600), "active members are not dormant");
    let held = recs.iter().filter(|r| r.held_out).count() as u64;
    // 10 % of 600 = 60; a binomial's σ is 7.3, so 30..=90 is > 4 σ.
    assert!((30..=90).contains(&held), "{held} of 600 held out at 10 %");
    assert_eq!((rest.treated, rest.held_out), (600 - held, held));
    for r in &recs {
        assert_eq!(r.held_out, storehub::domain::campaign::held_out(&c.id, r.member_id, 1000));
        let theirs = coupons::member_coupons(&shop.store, r.member_id, true).unwrap();
        if r.held_out {
            assert!(theirs.is_empty() && r.message_id.is_none(), "held out members get nothing: {r:?}");
        } else {
            assert_eq!(theirs.len(), 1, "member {} has one coupon", r.member_id);
            assert_eq!(theirs[0].campaign.as_deref(), Some(c.id.as_str()));
            assert_eq!(r.coupon_id, Some(theirs[0].id));
            // Even ids consented to WeChat: a message; odd ids: skipped for consent.
            let want = if r.member_id % 2 == 0 { "requested" } else { "no_consent" };
            assert_eq!(r.message_outcome.as_deref(), Some(want), "{r:?}");
        }
    }
    let issued = events_of_type(&shop.store, coupons::EVENT_COUPON_ISSUED).len();
    assert_eq!(issued as u64, 600 - held);
    assert!(issued_before < issued);
    let requested = events_of_type(&shop.store, members::messages::EVENT_REQUESTED);
    assert_eq!(requested.len(), recs.iter().filter(|r| !r.held_out && r.member_id % 2 == 0).count());
    let launched = events_of_type(&shop.store, camp::EVENT_LAUNCHED);
    assert_eq!(launched.len(), 1);
    let data: serde_json::Value = serde_json::from_str(&launched[0].data_json).unwrap();
    assert_eq!((data["targeted"].as_u64(), data["held_out"].as_u64()), (Some(600), Some(held)));
    // Launching again is refused and changes nothing.
    let s = settings();
    let again = camp::launch(&shop.store, &s, &LaunchContext::from_settings(&s), &c.id, None).unwrap_err();
    assert!(again.to_string().contains("running"), "{again}");
    assert_eq!(events_of_type(&shop.store, coupons::EVENT_COUPON_ISSUED).len(), issued);
    let report = storehub::verify::verify(&shop.store).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn the_tick_launches_a_scheduled_campaign_on_time_and_finishes_it_when_the_window_ends() {
    let shop = Shop::open_with(Durability::Relaxed);
    register(&shop.store, 20);
    history(&shop.store, 1..=20, []);
    let start = shop.store.clock().now() + Duration::hours(1);
    let new = NewCampaign {
        id: "wake-dec".into(),
        name: "十二月唤醒".into(),
        target: Target { dormant_reasons: vec!["natural".into()], ..Target::default() },
        offer: Offer::MessageOnly,
        message_template_id: None,
        follow_up_ticket: false,
        start_at: Some(start),
        holdout_bp: Some(2000),
        response_days: Some(7),
    };
    let c = camp::create(&shop.store, &new, None, &settings()).unwrap();
    assert_eq!(c.state, CampaignState::Scheduled);
    let s = settings();
    let ctx = LaunchContext::from_settings(&s);
    assert_eq!(camp::tick(&shop.store, &s, &ctx).unwrap(), 0, "not yet due");
    shop.clock.advance(Duration::minutes(61));
    assert_eq!(camp::tick(&shop.store, &s, &ctx).unwrap(), 1);
    let c = camp::campaign(&shop.store, "wake-dec").unwrap().unwrap();
    assert_eq!((c.state, c.launch_complete, c.targeted), (CampaignState::Running, true, 20));
    assert_eq!(c.ends_at, Some(start + Duration::minutes(1) + Duration::days(7)));
    shop.clock.advance(Duration::days(7) - Duration::seconds(1));
    assert_eq!(camp::tick(&shop.store, &s, &ctx).unwrap(), 0, "the window still runs");
    shop.clock.advance(Duration::seconds(1));
    assert_eq!(camp::tick(&shop.store, &s, &ctx).unwrap(), 1);
    let c = camp::campaign(&shop.store, "wake-dec").unwrap().unwrap();
    assert_eq!(c.state, CampaignState::Finished);
    let finished = events_of_type(&shop.store, camp::EVENT_FINISHED);
    assert_eq!(finished.len(), 1);
    let data: serde_json::Value = serde_json::from_str(&finished[0].data_json).unwrap();
    assert_eq!(data["targeted"], 20);
    assert_eq!(data["converted"], 0);
    assert_eq!(camp::tick(&shop.store, &s, &ctx).unwrap(), 0, "finished once");
}

#[test]
fn bad_campaigns_are_refused_naming_the_field_and_write_nothing() {
    let shop = Shop::open_with(Durability::Relaxed);
    let base = NewCampaign {
        id: "c1".into(),
        name: "测试".into(),
        target: Target::default(),
        offer: Offer::MessageOnly,
        message_template_id: None,
        follow_up_ticket: false,
        start_at: None,
        holdout_bp: None,
        response_days: None,
    };
    let cases: Vec<(NewCampaign, &str)> = vec![
        (NewCampaign { id: "has space".into(), ..base.clone() }, "id"),
        (NewCampaign { holdout_bp: Some(9_500), ..base.clone() }, "holdout_bp"),
        (NewCampaign { response_days: Some(0), ..base.clone() }, "response_days"),
        (NewCampaign { offer: Offer::Coupon { template_id: "NOPE".into() }, ..base.clone() }, "offer.coupon.template_id"),
        (NewCampaign { offer: Offer::PointsMultiplier { multiplier_bp: 5_000 }, ..base.clone() }, "offer.points_multiplier.multiplier_bp"),
        (NewCampaign { target: Target { segments: vec!["sleepy".into()], ..Target::default() }, ..base.clone() }, "target.segments"),
        (NewCampaign { message_template_id: Some("NOPE".into()), ..base.clone() }, "message_template_id"),
    ];
    for (new, field) in cases {
        let e = camp::create(&shop.store, &new, None, &settings()).unwrap_err();
        assert!(e.to_string().starts_with(&format!("{field}:")), "{field}: {e}");
    }
    assert!(camp::campaigns(&shop.store).unwrap().is_empty());
    assert_eq!(shop.store.count(TreeId::Campaigns), 0);
    let e = camp::create_playbook(&shop.store, "spring", None, None, &settings()).unwrap_err();
    assert!(e.to_string().contains("dormant-natural"), "{e}");
    let file = br#"{"id":"c2","name":"x","offer":{"coupon":{"template":"T"}}}"#;
    let e = camp::parse_new_campaign(file, "c2.json").unwrap_err();
    assert!(e.starts_with("c2.json: offer.coupon.template: unknown field `template`, expected `template_id`"), "{e}");
    let e = camp::parse_new_campaign(br#"{"id":"c3","name":"x","holdout_bp":"ten"}"#, "c3.json").unwrap_err();
    assert!(e.starts_with("c3.json: holdout_bp: invalid type"), "{e}");
    let e = camp::parse_new_campaign(b"{\n\"id\": }", "c4.json").unwrap_err();
    assert!(e.starts_with("c4.json: line 2 column"), "{e}");
}

#[test]
fn the_cli_creates_launches_finishes_and_reports_a_campaign_without_a_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cli = |args: &[&str]| {
        let mut all = vec!["--data-dir", data.to_str().unwrap()];
        all.extend_from_slice(args);
        storehub_cmd(&all)
    };
    for i in 1..=3 {
        let out = cli(&["member", "add", "--phone", &phone(i), "--name", "张三"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"id": "all-3", "name": "全员", "offer": {"points_multiplier": {"multiplier_bp": 500}}}"#).unwrap();
    let out = cli(&["campaign", "create", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("offer.points_multiplier.multiplier_bp: expected 10001 to 100000"), "{err}");
    let good = tmp.path().join("good.json");
    std::fs::write(&good, r#"{"id": "all-3", "name": "全员", "holdout_bp": 0, "offer": {"points_multiplier": {"multiplier_bp": 15000}}}"#).unwrap();
    let out = cli(&["campaign", "create", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(json(cli(&["campaign", "list"]))[0]["campaign"]["state"], "draft");
    assert_eq!(json(cli(&["campaign", "launch", "all-3"]))["targeted"], 3);
    assert_eq!(json(cli(&["campaign", "show", "all-3"]))["funnel"]["treated"], 3);
    assert_eq!(json(cli(&["campaign", "finish", "all-3"]))["state"], "finished");
    let out = cli(&["campaign", "report", "all-3", "--format", "csv", "--members"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("all-3,1,false,"), "{csv}");
    let later = json(cli(&["campaign", "playbook", "birthday", "--start", "2030-12-01T09:00:00+08:00", "--holdout", "12.5"]));
    assert_eq!((later["campaign"]["state"].as_str(), later["campaign"]["holdout_bp"].as_u64()), (Some("scheduled"), Some(1250)), "{later}");
    assert_eq!(later["campaign"]["id"], "birthday-20301201");
    assert_eq!(later["campaign"]["start_at"], "2030-12-01T01:00:00Z");
    let out = cli(&["campaign", "playbook", "dormant-natural", "--holdout", "95"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--holdout: expected 0 to 90 percent"));
    let out = cli(&["campaign", "launch", "nope"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no campaign has id \"nope\""));
}

fn card(fen: i64) -> Tender {
    Tender { kind: TenderKind::BankCard, amount_fen: fen, reference: Some("POS-1".into()), points: None }
}

/// A till on lane-1 with rice at ¥69.90; 1 point per yuan, no tiers.
fn till(store: &Arc<Store>) -> (Arc<Lanes>, SaleRules) {
    load(store, &[Product { price_fen: 6_990, ..drink("rice-5kg", "Rice 5kg", &[], None) }]);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    storehub::staff::create_staff(store, &storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }, "correct horse", None, &cost).unwrap();
    storehub::staff::open_shift(store, "lane-1", "wang", 50_000).unwrap();
    let lanes = Lanes::open(Arc::clone(store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: vec![], tz: chrono_tz::Asia::Shanghai, loyalty: LoyaltyRules::default() };
    (lanes, rules)
}

fn sell_rice(lanes: &Lanes, rules: &SaleRules, phone: &str, coupon: Option<&str>) -> storehub::checkout::Sale {
    lanes.attach_member("lane-1", phone).unwrap();
    lanes.add_sku("lane-1", "rice-5kg", 2).unwrap();
    let total = match coupon {
        Some(code) => {
            lanes.add_coupon("lane-1", code).unwrap();
            13_980 - 2_000
        }
        None => 13_980,
    };
    lanes.pay("lane-1", &PayRequest { tenders: vec![card(total)] }, rules).unwrap()
}

#[test]
fn a_points_multiplier_doubles_a_treated_members_points_in_the_window_only() {
    let Shop { dir: _dir, clock, store, .. } = Shop::open_with(Durability::Relaxed);
    let store = Arc::new(store);
    register(&store, 2);
    let (lanes, rules) = till(&store);
    // ¥139.80 at 1 point per yuan: 139 points.
    assert_eq!(sell_rice(&lanes, &rules, "13900000001", None).points_earned, 139);
    clock.advance(Duration::minutes(1));
    let new = NewCampaign {
        id: "double".into(),
        name: "双倍积分".into(),
        target: Target::default(),
        offer: Offer::PointsMultiplier { multiplier_bp: 20_000 },
        message_template_id: None,
        follow_up_ticket: false,
        start_at: None,
        holdout_bp: Some(0),
        response_days: Some(3),
    };
    camp::create(&store, &new, None, &settings()).unwrap();
    launch(&store, "double", None);
    // ⌊13,980 × 1 × 20,000 / (100 × 10,000)⌋ = 279.
    let sale = sell_rice(&lanes, &rules, "13900000001", None);
    assert_eq!(sale.points_earned, 279);
    assert_eq!(members::member(&store, 1).unwrap().unwrap().points, 139 + 279);
    // After the window: back to ×1, and the campaign's funnel counts the one sale in it.
    clock.advance(Duration::days(3));
    assert_eq!(sell_rice(&lanes, &rules, "13900000001", None).points_earned, 139);
    let r = camp::report(&store, "double", true).unwrap();
    assert_eq!((r.funnel.treated, r.funnel.converted, r.funnel.revenue_fen), (2, 1, 13_980));
    camp::finish(&store, "double").unwrap();
    assert_eq!(sell_rice(&lanes, &rules, "13900000001", None).points_earned, 139);
}

#[test]
fn the_funnel_counts_coupon_use_and_purchases_in_the_window_against_the_holdout() {
    let Shop { dir: _dir, clock, store, .. } = Shop::open_with(Durability::Relaxed);
    let store = Arc::new(store);
    register(&store, 40);
    history(&store, 1..=40, []);
    let (lanes, rules) = till(&store);
    let c = camp::create_playbook(&store, "dormant-natural", None, Some(2500), &settings()).unwrap();
    launch(&store, &c.id, None);
    let recs = camp::campaign_members(&store, &c.id).unwrap();
    let treated: Vec<_> = recs.iter().filter(|r| !r.held_out).collect();
    let held: Vec<_> = recs.iter().filter(|r| r.held_out).collect();
    assert!(treated.len() >= 3 && held.len() >= 2, "{} treated, {} held out", treated.len(), held.len());
    // Two treated members buy with the coupon (¥139.80 − ¥20 = ¥119.80), one without; one held
    // out member buys; a held-out purchase after the window does not count.
    clock.advance(Duration::hours(2));
    for r in &treated[..2] {
        sell_rice(&lanes, &rules, &format!("139{:08}", r.member_id), r.coupon_code.as_deref());
    }
    sell_rice(&lanes, &rules, &format!("139{:08}", treated[2].member_id), None);
    sell_rice(&lanes, &rules, &format!("139{:08}", held[0].member_id), None);
    clock.advance(Duration::days(14));
    sell_rice(&lanes, &rules, &format!("139{:08}", held[1].member_id), None);
    let r = camp::report(&store, &c.id, true).unwrap();
    let f = &r.funnel;
    assert_eq!((f.targeted, f.treated, f.held_out), (40, treated.len() as u64, held.len() as u64));
    assert_eq!((f.responded, f.converted, f.revenue_fen), (2, 3, 11_980 * 2 + 13_980));
    assert_eq!((f.holdout_converted, f.holdout_revenue_fen), (1, 13_980));
    assert_eq!(f.reached, 0, "HQ reported no delivery");
    let u = f.uplift.unwrap();
    assert!((u.treated_rate - 3.0 / treated.len() as f64).abs() < 1e-12);
    assert!((u.holdout_rate - 1.0 / held.len() as f64).abs() < 1e-12);
    // The CSV exports: one row per campaign, one per member.
    let mut csv = Vec::new();
    camp::write_reports_csv(std::slice::from_ref(&r), &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert!(lines.next().unwrap().starts_with("campaign_id,name,playbook,state"));
    let row = lines.next().unwrap();
    assert!(row.starts_with(&format!("{},", c.id)) && row.contains(&format!(",{},", 11_980 * 2 + 13_980)), "{row}");
    let mut csv = Vec::new();
    camp::write_members_csv(&r, &mut csv).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 41);
}

#[test]
fn a_follow_up_campaign_opens_one_ticket_per_treated_member() {
    let shop = Shop::open_with(Durability::Relaxed);
    register(&shop.store, 30);
    let new = NewCampaign {
        id: "call-back".into(),
        name: "服务回访".into(),
        target: Target::default(),
        offer: Offer::MessageOnly,
        message_template_id: None,
        follow_up_ticket: true,
        start_at: None,
        holdout_bp: Some(3000),
        response_days: None,
    };
    camp::create(&shop.store, &new, None, &settings()).unwrap();
    launch(&shop.store, "call-back", None);
    let recs = camp::campaign_members(&shop.store, "call-back").unwrap();
    let treated: std::collections::BTreeSet<u64> = recs.iter().filter(|r| !r.held_out).map(|r| r.member_id).collect();
    assert!(recs.iter().all(|r| r.ticket_id.is_some() == !r.held_out), "{recs:?}");
    assert_eq!(members::tickets::members_with_open_tickets(&shop.store).unwrap(), treated);
    assert_eq!(events_of_type(&shop.store, members::tickets::EVENT_OPENED).len(), treated.len());
    assert!(storehub::verify::verify(&shop.store).unwrap().violations.is_empty());
    // A held-out member with a ticket is a broken record, and verify says so.
    let mut bad = recs.iter().find(|r| r.held_out).unwrap().clone();
    bad.ticket_id = Some(99);
    let mut key = b"call-back\0".to_vec();
    key.extend_from_slice(&bad.member_id.to_be_bytes());
    shop.store.commit(|tx| tx.put::<_, std::convert::Infallible>(TreeId::CampaignMembers, &key, &bad)).unwrap();
    let v = storehub::verify::verify(&shop.store).unwrap().violations;
    assert_eq!(v, vec![format!("campaign call-back member {}: held out but was sent something", bad.member_id)]);
}

// ------------------------------------------------------------------------------------------------
// End to end: a real daemon, its outbox, a real Mosquitto and the test as HQ
// ------------------------------------------------------------------------------------------------

mod e2e {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use serde_json::{json, Value};
    use storehub::cloud::commands::signature;
    use storehub::config::Secret;
    use storehub::control::lanes::LaneAction;
    use storehub::control::{client, Request};
    use storehub::domain::tender::{Tender, TenderKind};
    use storehub::members::history::HistoryRow;
    use storehub::members::NewMember;

    use super::common::broker::{Broker, Hq};
    use super::common::storehub_cmd;

    const ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";

    /// `storehub demo` (demo catalog and accounts, no shopper, no simulated devices) with `[mqtt]`
    /// on the broker, signed commands required, and no quiet hours (the test runs at any hour).
    struct Hub {
        child: Option<Child>,
        data: PathBuf,
    }

    impl Hub {
        fn start(dir: &Path, broker_url: &str, public_key: &str) -> Hub {
            let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
            let (start, end) = (demo.find("# Simulated devices").unwrap(), demo.find("[web]").unwrap());
            let mqtt = format!(
                "[mqtt]\nenabled = true\nurl = \"{broker_url}\"\nreconnect_min_ms = 200\nreconnect_max_ms = 1000\nkeepalive_s = 5\n\
                 require_signed_commands = true\ncommand_keys = [\"{public_key}\"]\n\n"
            );
            let text = format!("{}{mqtt}{}\n[messages]\nquiet_start = \"00:00\"\nquiet_end = \"00:00\"\n", &demo[..start], &demo[end..]);
            let config = dir.join("hub.toml");
            std::fs::write(&config, text).unwrap();
            let data = dir.join("hub");
            let log = std::fs::File::create(dir.join("hub.log")).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_storehub"))
                .args(["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "demo", "--shopper-every", "0", "--listen", "127.0.0.1:0"])
                .env("STOREHUB_LOG", "warn")
                .env_remove("STOREHUB_CONFIG")
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap();
            let hub = Hub { child: Some(child), data };
            let deadline = Instant::now() + Duration::from_secs(60);
            while !matches!(client::try_call(&hub.data.join("control.sock"), &Request::Status), client::Attempt::Answered(Ok(_))) {
                let log = std::fs::read_to_string(dir.join("hub.log")).unwrap_or_default();
                assert!(Instant::now() < deadline, "the hub did not open its control socket:\n{log}");
                std::thread::sleep(Duration::from_millis(50));
            }
            hub
        }

        fn call(&self, req: Request) -> Value {
            match client::try_call(&self.data.join("control.sock"), &req) {
                client::Attempt::Answered(Ok(reply)) => reply.result,
                client::Attempt::Answered(Err(e)) => panic!("{} refused: {e}", req.name()),
                client::Attempt::NoDaemon => panic!("the hub is not running"),
            }
        }

        /// `storehub campaign …` through the CLI (which talks to the daemon).
        fn campaign(&self, args: &[&str]) -> Value {
            let mut all = vec!["--data-dir", self.data.to_str().unwrap(), "campaign"];
            all.extend_from_slice(args);
            let out = storehub_cmd(&all);
            assert!(out.status.success(), "storehub campaign {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice(&out.stdout).unwrap()
        }

        /// One sale at lane-1 to the member: `bottles` of water (¥2 each), with a coupon or not;
        /// the sale's total.
        fn sell(&self, member_id: u64, bottles: i64, coupon: Option<&str>) -> i64 {
            let lane = |action| self.call(Request::Lane { lane: "lane-1".into(), action });
            lane(LaneAction::Member { query: super::phone(member_id) });
            lane(LaneAction::Add { sku: "SKU-010001".into(), qty: bottles });
            if let Some(code) = coupon {
                lane(LaneAction::Coupon { code: code.into() });
            }
            let paid = lane(LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: 100_000, reference: None, points: None }] });
            paid["sale"]["settlement"]["total_fen"].as_i64().unwrap()
        }
    }

    impl Drop for Hub {
        fn drop(&mut self) {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }


    #[test]
    fn a_dormant_playbook_through_the_outbox_and_mosquitto_with_hq_reporting_message_status() {
        let tmp = tempfile::tempdir().unwrap();
        let broker = Broker::start();
        let hq = Hq::subscribe(broker.port, &format!("{ROOT}/#"));
        let (pem, public) = signature::generate_pem().unwrap();
        let key = signature::load_pem(pem.as_bytes()).unwrap();
        let hub = Hub::start(tmp.path(), &broker.url(), &public);

        // 40 members who last bought 4–5 months ago (dormant, natural) and 5 who bought last
        // week; every member but each tenth consents to WeChat messages.
        let mut ids = Vec::new();
        for i in 1..=45u64 {
            let new = NewMember { consent_wechat: i % 10 != 0, ..super::new_member(i) };
            ids.push(hub.call(Request::MemberAdd { member: new })["id"].as_u64().unwrap());
        }
        assert_eq!(ids, (1..=45).collect::<Vec<u64>>(), "the demo seeds no members");
        let today = chrono::Local::now().date_naive();
        let day = |days_ago: u64| today - chrono::Days::new(days_ago);
        let rows: Vec<HistoryRow> = (1..=45u64)
            .flat_map(|m| {
                let days = if m <= 40 { [150, 120] } else { [150, 7] };
                days.map(|ago| HistoryRow { line: 0, member_ref: m.to_string(), date: day(ago), at: None, amount_fen: 8_800, category: None, sku: None, qty: None })
            })
            .enumerate()
            .map(|(i, r)| HistoryRow { line: i as u64 + 2, ..r })
            .collect();
        hub.call(Request::ImportTransactions { file_name: "old-till.csv".into(), sha256: String::new(), rows, count_for_tiers: false });

        // The manager starts the dormant-natural playbook with a quarter held out.
        let started = hub.campaign(&["playbook", "dormant-natural", "--holdout", "25"]);
        let id = started["campaign"]["id"].as_str().unwrap().to_string();
        assert_eq!(started["campaign"]["state"], "running");
        assert_eq!(started["launch"]["targeted"], 40);
        let members = hub.campaign(&["report", &id, "--members"]);
        let recs = members["members"].as_array().unwrap();
        assert_eq!(recs.len(), 40);
        let held: Vec<u64> = recs.iter().filter(|m| m["held_out"] == true).map(|m| m["member_id"].as_u64().unwrap()).collect();
        let treated: Vec<&Value> = recs.iter().filter(|m| m["held_out"] == false).collect();
        assert!(held.len() >= 2 && treated.len() >= 8, "{} held out, {} treated", held.len(), treated.len());
        assert!(recs.iter().all(|m| m["member_id"].as_u64().unwrap() <= 40), "members who bought last week are not dormant");
        let no_consent = treated.iter().filter(|m| m["member_id"].as_u64().unwrap() % 10 == 0).count() as u64;
        let coupon_of: BTreeMap<u64, String> = treated.iter().map(|m| (m["member_id"].as_u64().unwrap(), m["coupon_code"].as_str().unwrap().to_string())).collect();

        // HQ reads the message requests from the outbox over MQTT …
        let want = treated.len() - no_consent as usize;
        let requested_topic = format!("{ROOT}/evt/storehub.message.requested");
        hq.wait_until(Duration::from_secs(30), "every campaign message requested", |msgs| msgs.iter().filter(|m| m.topic == requested_topic).count() >= want);
        let mut requests: Vec<(u64, u64)> = hq
            .messages()
            .iter()
            .filter(|m| m.topic == requested_topic)
            .map(|m| m.json()["data"].clone())
            .filter(|d| d["campaign_id"] == id.as_str())
            .map(|d| (d["message_id"].as_u64().unwrap(), d["member_id"].as_u64().unwrap()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        requests.sort();
        assert_eq!(requests.len(), want);
        assert!(requests.iter().all(|(_, m)| m % 10 != 0 && !held.contains(m)));

        // … and reports: the first five delivered, the first two of those clicked, the sixth failed.
        let mut n = 0;
        let mut send = |message_id: u64, status: &str, reason: Option<&str>| {
            n += 1;
            let cmd_id = format!("st-{n}");
            let mut args = json!({ "message_id": message_id, "status": status });
            if let Some(r) = reason {
                args["reason"] = json!(r);
            }
            let cmd = json!({ "id": cmd_id, "args": args }).to_string();
            hq.publish(&format!("{ROOT}/cmd/message.status"), signature::envelope(&key, "message.status", &cmd));
            let r = hq.reply(ROOT, &cmd_id);
            assert_eq!(r["status"], "applied", "{r}");
        };
        for (m, _) in &requests[..5] {
            send(*m, "delivered", None);
        }
        for (m, _) in &requests[..2] {
            send(*m, "clicked", None);
        }
        send(requests[5].0, "failed", Some("用户已拒收"));

        // Members come back: two delivered-not-clicked members with their coupon (60 bottles,
        // ¥120 − ¥20), one without, and one held-out member.
        let shift = hub.call(Request::ShiftOpen { lane: "lane-1".into(), staff: "demo-cashier".into(), float_fen: 50_000 });
        assert!(shift["id"].as_u64().is_some(), "{shift}");
        hub.call(Request::Lane { lane: "lane-1".into(), action: LaneAction::SignIn { staff: "demo-cashier".into(), pin: Secret::new("2468".into()) } });
        let (a, b, c) = (requests[2].1, requests[3].1, requests[4].1);
        let mut revenue = 0;
        revenue += hub.sell(a, 60, Some(&coupon_of[&a]));
        revenue += hub.sell(b, 60, Some(&coupon_of[&b]));
        revenue += hub.sell(c, 3, None);
        let holdout_revenue = hub.sell(held[0], 5, None);
        assert!(revenue > 0 && holdout_revenue > 0);

        // The report, through the CLI.
        let r = hub.campaign(&["report", &id, "--format", "json"]);
        let f = &r["funnel"];
        assert_eq!(f["targeted"], 40, "{r}");
        assert_eq!(f["held_out"], held.len() as u64, "{r}");
        assert_eq!(f["treated"], treated.len() as u64, "{r}");
        assert_eq!(f["reached"], 5, "{r}");
        assert_eq!(f["responded"], 4, "two clicks and two coupons: {r}");
        assert_eq!(f["converted"], 3, "{r}");
        assert_eq!(f["revenue_fen"], revenue, "{r}");
        assert_eq!(f["holdout_converted"], 1, "{r}");
        assert_eq!(f["holdout_revenue_fen"], holdout_revenue, "{r}");
        assert_eq!(r["messages_skipped"]["no_consent"], no_consent, "{r}");
        let u = &f["uplift"];
        let (tr, hr) = (3.0 / treated.len() as f64, 1.0 / held.len() as f64);
        assert!((u["treated_rate"].as_f64().unwrap() - tr).abs() < 1e-12, "{u}");
        assert!((u["holdout_rate"].as_f64().unwrap() - hr).abs() < 1e-12, "{u}");
        assert!(u["ci_low"].as_f64().unwrap() < u["uplift"].as_f64().unwrap(), "{u}");

        // The CSV row of the campaign.
        let out = storehub_cmd(&["--data-dir", hub.data.to_str().unwrap(), "campaign", "report", &id, "--format", "csv"]);
        let csv = String::from_utf8(out.stdout).unwrap();
        let row = csv.lines().nth(1).unwrap();
        assert!(row.starts_with(&format!("{id},")) && row.contains(&format!(",{revenue},1,{holdout_revenue},")), "{row}");

        // HQ also got the launch with its counts.
        let launched_topic = format!("{ROOT}/evt/storehub.campaign.launched");
        hq.wait_until(Duration::from_secs(20), "the launch event", |msgs| msgs.iter().any(|m| m.topic == launched_topic));
        let ev = hq.on("/evt/storehub.campaign.launched")[0].json();
        assert_eq!(ev["data"]["held_out"], held.len() as u64);
    }
}

fn phone(member: u64) -> String {
    format!("139{member:08}")
}

fn new_member(i: u64) -> NewMember {
    NewMember { phone: phone(i), name: format!("会员{i}"), gender: None, birthday: None, channel: Channel::InStore, consent_sms: false, consent_wechat: i % 2 == 0, referral_code: None }
}

#[test]
fn the_dormant_experience_playbook_follows_up_members_with_an_open_complaint_and_sends_an_apology_coupon() {
    let shop = Shop::open_with(Durability::Relaxed);
    register(&shop.store, 12);
    history(&shop.store, 1..=12, []);
    // Members 1–6 complained (a ticket still open): their dormancy reason is experience.
    let rules = members::tickets::TicketRules::default();
    let cost = storehub::staff::HashCost::minimal_for_tests();
    storehub::staff::create_staff(&shop.store, &storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }, "correct horse", None, &cost).unwrap();
    for m in 1..=6 {
        let new = members::tickets::NewTicket {
            member_id: m,
            kind: members::tickets::TicketKind::Complaint,
            channel: members::tickets::TicketChannel::InStore,
            subject: "排队太久".into(),
            note: None,
            opened_by: "wang".into(),
            campaign_id: None,
        };
        members::tickets::open(&shop.store, &rules, &new).unwrap();
    }
    let c = camp::create_playbook(&shop.store, "dormant-experience", None, Some(0), &settings()).unwrap();
    let done = launch(&shop.store, &c.id, None);
    assert_eq!((done.targeted, done.treated), (6, 6), "only the members with an open complaint");
    let recs = camp::campaign_members(&shop.store, &c.id).unwrap();
    assert_eq!(recs.iter().map(|r| r.member_id).collect::<Vec<_>>(), (1..=6).collect::<Vec<u64>>());
    for r in &recs {
        let coupon = coupons::coupon(&shop.store, r.coupon_id.unwrap()).unwrap().unwrap();
        assert_eq!(coupon.template_id, "PB-SORRY-30");
        let t = members::tickets::ticket(&shop.store, r.ticket_id.unwrap()).unwrap().unwrap();
        assert_eq!((t.member_id, t.kind, t.campaign_id.as_deref()), (r.member_id, members::tickets::TicketKind::FollowUp, Some(c.id.as_str())));
    }
    assert!(storehub::verify::verify(&shop.store).unwrap().violations.is_empty());
}

/// Timing of a large launch (not run by default): `N=50000 cargo test --test campaigns
/// launch_timing -- --ignored --nocapture` (no figure published until it has a same-run baseline; docs/members-analytics.md, "Size").
#[test]
#[ignore]
fn launch_timing() {
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let shop = Shop::open_with(Durability::Durable);
    register(&shop.store, n);
    history(&shop.store, 1..=n, []);
    let c = camp::create_playbook(&shop.store, "dormant-natural", None, None, &settings()).unwrap();
    let t = std::time::Instant::now();
    let targets = camp::select_targets(&shop.store, &c.target, &settings(), d(2026, 11, 25)).unwrap();
    eprintln!("targeting {} members: {:?}", targets.len(), t.elapsed());
    let t = std::time::Instant::now();
    let r = launch(&shop.store, &c.id, None);
    eprintln!("launch of {} ({} treated, {} held out): {:?}", r.targeted, r.treated, r.held_out, t.elapsed());
    assert_eq!((r.targeted, r.treated + r.held_out), (n, n));
    let t = std::time::Instant::now();
    let rep = camp::report(&shop.store, &c.id, false).unwrap();
    eprintln!("report: {:?}", t.elapsed());
    assert_eq!(rep.funnel.targeted, n);
}
