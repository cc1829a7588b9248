//! Members at the till, with worked numbers: a gold member on member day with a 满200减30 coupon,
//! points and stored value as tenders, and a return that gives everything back.

mod common;

use std::sync::Arc;

use storehub::catalog::{Product, Unit};
use storehub::checkout::returns::{self, ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::clock::ManualClock;
use storehub::coupons::{self, CouponTemplate, Validity};
use storehub::domain::loyalty::earn::{EarnRules, MemberDay};
use storehub::domain::loyalty::tiers::TierRule;
use storehub::domain::pricing::{CouponKind, Promotion, PromotionKind};
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::members::{self, Channel, LoyaltyRules, NewMember};
use storehub::store::{Durability, Store};

use common::*;

fn product(sku: &str, category: &str, unit: Unit, price_fen: i64) -> Product {
    Product {
        sku: sku.into(),
        barcodes: vec![],
        name_zh: sku.into(),
        name_en: sku.into(),
        category: category.into(),
        unit,
        price_fen,
        member_price_fen: None,
        cost_fen: None,
        tax_bp: 900,
        supplier: None,
        reorder_point: None,
        active: true,
    }
}

/// Gold is the only tier (so a new member is gold): 5% off, ×1.5 points; Wednesday is member
/// day, ×2; 1 point per yuan, 100 points = ¥1, at most 50% of a ticket in points.
fn loyalty() -> LoyaltyRules {
    let mut r = LoyaltyRules::default();
    r.ladder = vec![TierRule { id: "gold".into(), name_zh: "金卡".into(), name_en: "Gold".into(), min_spend_fen: 0, min_visits: None, discount_bp: 500, points_multiplier_bp: 15_000, birthday_points: 0 }];
    r.earn = EarnRules { points_per_yuan: 1, excluded_categories: vec![], member_day: Some(MemberDay { weekday: chrono::Weekday::Wed, multiplier_bp: 20_000 }), campaigns: vec![] };
    r
}

struct Till {
    _dir: tempfile::TempDir,
    _clock: ManualClock,
    store: Arc<Store>,
    lanes: Arc<Lanes>,
    rules: SaleRules,
    member: u64,
}

fn till() -> Till {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time()); // Wed 2026-11-25, 17:00 in Shanghai
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    load(
        &store,
        &[
            product("rice-5kg", "grain", Unit::Piece, 6_990),
            product("oil-5l", "oil", Unit::Piece, 8_990),
            product("banana", "fruit", Unit::Kg, 698),
            product("milk-12", "dairy", Unit::Piece, 2_490),
            product("pork-belly", "meat", Unit::Kg, 1_420),
        ],
    );
    let cost = storehub::staff::HashCost::minimal_for_tests();
    storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }, "correct horse", None, &cost).unwrap();
    storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: "li".into(), name: "李经理".into(), role: Role::Manager }, "correct horse", None, &cost).unwrap();
    storehub::staff::open_shift(&store, "lane-1", "wang", 50_000).unwrap();
    let member = members::register(
        &store,
        &NewMember { phone: "13812345678".into(), name: "张三".into(), gender: None, birthday: None, channel: Channel::InStore, consent_sms: true, consent_wechat: false, referral_code: None },
        &loyalty(),
    )
    .unwrap()
    .id;
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    let oil_week = Promotion {
        id: "P-OIL".into(),
        name_zh: "粮油节".into(),
        name_en: "Oil week".into(),
        window: None,
        members_only: false,
        kind: PromotionKind::ItemPercent { sku: "oil-5l".into(), bp: 2_000 },
    };
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: vec![oil_week], tz: chrono_tz::Asia::Shanghai, loyalty: loyalty() };
    Till { _dir: dir, _clock: clock, store, lanes, rules, member }
}

/// The ¥236.40 basket: rice ¥69.90, oil ¥89.90, 1,500 g bananas at ¥6.98/kg (¥10.47), two milk
/// at ¥24.90, 1,150 g pork belly at ¥14.20/kg (¥16.33).
fn fill(t: &Till) {
    let l = &t.lanes;
    l.add_sku("lane-1", "rice-5kg", 1).unwrap();
    l.add_sku("lane-1", "oil-5l", 1).unwrap();
    l.scale_reading("lane-1", storehub::checkout::ScaleReading { grams: 1_500, stable: true, at: t.store.clock().now() }).unwrap();
    l.add_weighed("lane-1", "banana").unwrap();
    l.add_sku("lane-1", "milk-12", 2).unwrap();
    l.scale_reading("lane-1", storehub::checkout::ScaleReading { grams: 1_150, stable: true, at: t.store.clock().now() }).unwrap();
    l.add_weighed("lane-1", "pork-belly").unwrap();
}

fn coupon_200_30(t: &Till) -> String {
    let template = CouponTemplate {
        id: "T-200-30".into(),
        name_zh: "满200减30券".into(),
        name_en: "Spend ¥200, save ¥30".into(),
        kind: CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000 },
        min_spend_fen: 0,
        categories: vec![],
        validity: Validity::DaysAfterIssue(30),
        per_member_limit: 1,
        active: true,
    };
    coupons::upsert_templates(&t.store, &[template]).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    coupons::issue(&t.store, "T-200-30", &[t.member], Some("double-11"), today).unwrap().issued[0].code.clone()
}

fn card(fen: i64) -> Tender {
    Tender { kind: TenderKind::BankCard, amount_fen: fen, reference: Some("POS-1".into()), points: None }
}

#[test]
fn gold_member_on_member_day_with_a_200_minus_30_coupon() {
    let t = till();
    fill(&t);
    let code = coupon_200_30(&t);
    t.lanes.attach_member("lane-1", "138 1234 5678").unwrap();
    t.lanes.add_coupon("lane-1", &code).unwrap();
    // Line by line: the oil gets 20% off (¥17.98) and so no tier discount; every other line
    // gets 5% (rice ¥3.50, bananas ¥0.52, milk ¥2.49, pork ¥0.82); the ¥30 coupon is spread over
    // the nets: 944 + 1,022 + 141 + 672 + 221. Total ¥236.40 − ¥55.31 = ¥181.09.
    let quote = t.lanes.quote("lane-1", &t.rules).unwrap();
    assert_eq!(quote.total_fen, 18_109);
    assert_eq!(quote.discount_total_fen, 5_531);
    let sale = t.lanes.pay("lane-1", &PayRequest { tenders: vec![card(18_109)] }, &t.rules).unwrap();
    assert_eq!(sale.priced.lines.iter().map(|l| l.net_fen).collect::<Vec<_>>(), vec![5_696, 6_170, 854, 4_059, 1_330]);
    // Gold ×1.5 and member day ×2 make ×3: ⌊net × 3 / 100⌋ per line = 170 + 185 + 25 + 121 + 39.
    assert_eq!(sale.points_earned, 540);
    assert_eq!(sale.tier.as_deref(), Some("gold"));
    let m = members::member(&t.store, t.member).unwrap().unwrap();
    assert_eq!((m.points, m.stats.visits, m.stats.spend_fen), (540, 1, 18_109));
    assert!(matches!(coupons::coupon_by_code(&t.store, &code).unwrap().unwrap().state, coupons::CouponState::Redeemed { .. }));
    assert!(storehub::verify::verify(&t.store).unwrap().ok());

    // The coupon cannot be used twice.
    fill(&t);
    t.lanes.attach_member("lane-1", "13812345678").unwrap();
    t.lanes.add_coupon("lane-1", &code).unwrap();
    let err = t.lanes.quote("lane-1", &t.rules).unwrap_err().to_string();
    assert!(err.contains("already") && err.contains(&sale.id.to_string()), "{err}");
}

#[test]
fn points_and_stored_value_pay_within_cap_and_balance_and_a_full_return_gives_all_back() {
    let t = till();
    let mut r = loyalty();
    r.topup_bonus = vec![storehub::domain::loyalty::stored_value::TopUpBonus { min_topup_fen: 50_000, bonus_fen: 3_000 }];
    members::topup(&t.store, t.member, 50_000, "wang", None, &r).unwrap();
    members::adjust_points(&t.store, t.member, 5_000, "opening balance", "li", &loyalty()).unwrap();
    let code = coupon_200_30(&t);
    fill(&t);
    t.lanes.attach_member("lane-1", &members::member(&t.store, t.member).unwrap().unwrap().card_number().unwrap()).unwrap();
    t.lanes.add_coupon("lane-1", &code).unwrap();
    // ¥181.09 due. Points may pay at most 50% (¥90.54) and the member has 5,000 (¥50.00).
    let over = t.lanes.pay(
        "lane-1",
        &PayRequest { tenders: vec![Tender { kind: TenderKind::Points, amount_fen: 6_000, reference: None, points: Some(6_000) }, card(12_109)] },
        &t.rules,
    );
    assert!(over.is_err(), "¥60.00 in points is more than the 5,000 points held");
    let sale = t
        .lanes
        .pay(
            "lane-1",
            &PayRequest {
                tenders: vec![
                    Tender { kind: TenderKind::Points, amount_fen: 5_000, reference: None, points: Some(5_000) },
                    Tender { kind: TenderKind::StoredValue, amount_fen: 13_109, reference: None, points: None },
                ],
            },
            &t.rules,
        )
        .unwrap();
    assert_eq!((sale.points_redeemed, sale.points_earned), (5_000, 0), "paid entirely with points and stored value: nothing earned");
    let m = members::member(&t.store, t.member).unwrap().unwrap();
    assert_eq!((m.points, m.stored_value_fen), (0, 53_000 - 13_109));

    // Everything comes back: the points and the card money return, and so does the coupon.
    let back = returns::return_items(
        &t.store,
        &ReturnRequest {
            of: ReturnOf::Sale { sale_id: sale.id, lines: (1..=5).map(|n| ReturnLineRequest { line_no: n, qty: match sale.priced.lines[n as usize - 1].qty {
                storehub::domain::pricing::Quantity::Units(q) | storehub::domain::pricing::Quantity::Grams(q) => q,
            } }).collect() },
            lane: "lane-1".into(),
            by: "li".into(),
            restock: true,
            reason: "wrong shop".into(),
        },
        &loyalty(),
    )
    .unwrap();
    assert_eq!(back.refund_fen, 18_109);
    let m = members::member(&t.store, t.member).unwrap().unwrap();
    assert_eq!((m.points, m.stored_value_fen), (5_000, 53_000));
    assert!(matches!(coupons::coupon_by_code(&t.store, &code).unwrap().unwrap().state, coupons::CouponState::Issued), "the coupon is usable again");
    let report = storehub::verify::verify(&t.store).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
}

/// The daemon's daily jobs (run at start and at each new shop-local day): points and coupons
/// past their dates expire exactly once, however often the jobs run.
#[test]
fn the_daily_jobs_expire_points_and_coupons_once() {
    let t = till();
    members::adjust_points(&t.store, t.member, 700, "welcome", "li", &loyalty()).unwrap();
    let code = coupon_200_30(&t);
    let events_before = outbox(&t.store).len();
    t._clock.advance(chrono::Duration::days(3 * 365));
    let today = loyalty().today(t.store.clock().now());
    storehub::daemon::run_daily_jobs(&t.store, today, &loyalty());
    let m = members::member(&t.store, t.member).unwrap().unwrap();
    assert_eq!(m.points, 0, "points earned three years ago expired (24 months)");
    assert!(matches!(coupons::coupon_by_code(&t.store, &code).unwrap().unwrap().state, CouponStateAlias::Expired { .. }));
    let after_first = outbox(&t.store).len();
    assert!(after_first >= events_before + 2, "a points.expired and a coupon.expired event");
    storehub::daemon::run_daily_jobs(&t.store, today, &loyalty());
    assert_eq!(outbox(&t.store).len(), after_first, "a second run the same day changes nothing");
    assert!(storehub::verify::verify(&t.store).unwrap().ok());
}

use storehub::coupons::CouponState as CouponStateAlias;

/// `[[loyalty.points_campaigns]]`: triple points on one category for a week, on top of tier and
/// member day, from the config file.
#[test]
fn a_points_campaign_from_config_triples_a_category() {
    let cfg = storehub::config::Config::from_str(
        r#"[store]
chain_id = "huamei"
store_id = "sh-1"
hub_id = "hub-1"
name = "华美"
[data]
dir = "/tmp/x"
[loyalty]
[[loyalty.points_campaigns]]
id = "grain-week"
category = "grain"
multiplier_bp = 30000
starts_at = "2026-11-23T00:00:00"
ends_at = "2026-11-30T00:00:00"
"#,
        "test.toml",
    )
    .unwrap();
    let rules = LoyaltyRules::for_shop(&cfg);
    let t = till();
    let sale_rules = SaleRules { loyalty: rules, ..t.rules.clone() };
    t.lanes.attach_member("lane-1", "13812345678").unwrap();
    t.lanes.add_sku("lane-1", "rice-5kg", 1).unwrap(); // grain, ¥69.90
    t.lanes.add_sku("lane-1", "milk-12", 1).unwrap(); // dairy, ¥24.90
    let sale = t.lanes.pay("lane-1", &PayRequest { tenders: vec![card(9_480)] }, &sale_rules).unwrap();
    // No tiers in this config; no member day. Rice ⌊6,990 × 3 / 100⌋ = 209, milk ⌊2,490 / 100⌋ = 24.
    assert_eq!(sale.points_earned, 233);
}

/// The analytics history (`members::history::member_histories`) of a member sale: the ¥181.09
/// sale above with its ¥30 coupon and the oil's ¥17.98 promotion (the 5% tier discounts count as
/// neither), its categories, and a later partial return netted from the amount.
#[test]
fn a_member_sale_and_its_return_feed_the_analytics_history() {
    let t = till();
    fill(&t);
    let code = coupon_200_30(&t);
    t.lanes.attach_member("lane-1", "13812345678").unwrap();
    t.lanes.add_coupon("lane-1", &code).unwrap();
    let sale = t.lanes.pay("lane-1", &PayRequest { tenders: vec![card(18_109)] }, &t.rules).unwrap();
    let tz = chrono_tz::Asia::Shanghai;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let h = storehub::members::history::member_histories(&t.store, tz, day).unwrap();
    let p = &h[&t.member].purchases;
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].date, p[0].amount_fen, p[0].coupon_fen, p[0].promo_fen), (day, 18_109, 3_000, 1_798));
    let cats: Vec<&str> = p[0].categories.iter().map(String::as_str).collect();
    assert_eq!(cats, vec!["dairy", "fruit", "grain", "meat", "oil"]);
    assert!(h[&t.member].returns.is_empty());
    // Nothing up to the day before.
    let before = storehub::members::history::member_histories(&t.store, tz, day.pred_opt().unwrap()).unwrap();
    assert!(before.get(&t.member).is_none_or(|m| m.purchases.is_empty()));

    // One of the two milks comes back: its refund is netted and the return day recorded.
    let back = returns::return_items(
        &t.store,
        &ReturnRequest {
            of: ReturnOf::Sale { sale_id: sale.id, lines: vec![ReturnLineRequest { line_no: 4, qty: 1 }] },
            lane: "lane-1".into(),
            by: "li".into(),
            restock: true,
            reason: "leaking".into(),
        },
        &loyalty(),
    )
    .unwrap();
    assert!(back.refund_fen > 0);
    let h = storehub::members::history::member_histories(&t.store, tz, day).unwrap();
    assert_eq!(h[&t.member].purchases[0].amount_fen, 18_109 - back.refund_fen);
    assert_eq!(h[&t.member].returns, vec![day]);
}
