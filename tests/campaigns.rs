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
use storehub::catalog::{Product, Unit};
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
        let m = NewMember {
            phone: format!("139{i:08}"),
            name: format!("会员{i}"),
            gender: None,
            birthday: None,
            channel: Channel::InStore,
            consent_sms: false,
            consent_wechat: i % 2 == 0,
            referral_code: None,
        };
        members::register(store, &m, &LoyaltyRules::default()).unwrap();
    }
}

/// History: members `dormant` bought on 1 and 15 July (dormant, natural: no coupons, no returns);
/// members `active` bought on 1 July and 20 November.
fn history(store: &Store, dormant: std::ops::RangeInclusive<u64>, active: std::ops::RangeInclusive<u64>) {
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
    import_history(store, "history.csv", &rows, d(2026, 11, 25), None).unwrap();
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
}

#[test]
fn the_tick_launches_a_scheduled_campaign_on_time_and_finishes_it_when_the_window_ends() {
    let shop = Shop::open_with(Durability::Relaxed);
    register(&shop.store, 20);
    history(&shop.store, 1..=20, 1..=0);
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
    assert!(e.starts_with("c2.json: line 1 column") && e.contains("template"), "{e}");
}

fn product(sku: &str, price_fen: i64) -> Product {
    Product {
        sku: sku.into(),
        barcodes: vec![],
        name_zh: sku.into(),
        name_en: sku.into(),
        category: "grain".into(),
        unit: Unit::Piece,
        price_fen,
        member_price_fen: None,
        cost_fen: None,
        tax_bp: 900,
        supplier: None,
        reorder_point: None,
        active: true,
    }
}

fn card(fen: i64) -> Tender {
    Tender { kind: TenderKind::BankCard, amount_fen: fen, reference: Some("POS-1".into()), points: None }
}

/// A till on lane-1 with rice at ¥69.90; 1 point per yuan, no tiers.
fn till(store: &Arc<Store>) -> (Arc<Lanes>, SaleRules) {
    load(store, &[product("rice-5kg", 6_990)]);
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
    history(&store, 1..=40, 1..=0);
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
}
