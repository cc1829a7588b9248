//! Members as a shop meets them, with the demo config's `[loyalty]` (1 point per yuan, Wednesday
//! double points, gold ×1.5, 24-month expiry, 30-day tier grace, 充500送30, referrals 100 + 100
//! and 5% of the first purchase): registering 13812345678 twice, finding her by any spelling of
//! her number or by her card, a referral paying out once, points earned, redeemed, expired,
//! reversed into debt and settled, a ¥500 top-up, a silver member's grace period on the test
//! clock, `members::check` catching a tampered balance, and the CLI. Opening day, 25 Nov 2026,
//! is a Wednesday (member day); 09:00 UTC is 17:00 in Shanghai, the same date.

mod common;

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use storehub::clock::Clock as _;
use storehub::config::Config;
use storehub::domain::loyalty::earn::{EarnLine, EarnTicket};
use storehub::domain::loyalty::ledger::{EarnedOnSale, PointsEntryKind, RedeemedOnSale};
use storehub::domain::loyalty::lots::LotTake;
use storehub::domain::loyalty::stored_value::StoredValueKind;
use storehub::domain::loyalty::tiers::TierChangeReason;
use storehub::domain::staff::Role;
use storehub::members::{
    self, Channel, Earned, LoyaltyRules, Member, MemberError, NewMember, EVENT_MEMBER_REGISTERED, EVENT_POINTS_EARNED,
    EVENT_POINTS_EXPIRED, EVENT_STORED_VALUE_TOPPED_UP, EVENT_TIER_CHANGED,
};
use storehub::staff::{self, HashCost, NewStaff};
use storehub::store::{codec, CommitError, Durability, Store, TreeId, Tx, TxError};

use common::*;

/// The demo config's loyalty rules, in Asia/Shanghai.
fn rules() -> LoyaltyRules {
    LoyaltyRules::for_shop(&Config::demo().expect("demo config"))
}

fn new_member(phone: &str, name: &str) -> NewMember {
    NewMember::in_store(phone, name)
}

fn register(store: &Store, phone: &str, name: &str) -> Member {
    register_new(store, &new_member(phone, name))
}

fn register_new(store: &Store, new: &NewMember) -> Member {
    match members::register(store, new, &rules()) {
        Ok(m) => m,
        Err(e) => panic!("cannot register {}: {e}", new.name),
    }
}

/// The message of a refused change, after checking it was a refusal.
fn refusal<T: std::fmt::Debug>(r: Result<T, CommitError<MemberError>>) -> String {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(CommitError::Rejected(e)) => e.to_string(),
        Err(e) => panic!("store failure instead of a refusal: {e}"),
    }
}

/// Runs checkout-style Tx-level calls in one commit, panicking on any failure.
fn commit<T>(store: &Store, f: impl FnOnce(&Tx) -> Result<T, TxError<MemberError>>) -> T {
    match store.commit(f) {
        Ok(v) => v,
        Err(e) => panic!("commit refused: {e}"),
    }
}

fn member(store: &Store, id: u64) -> Member {
    members::member(store, id).unwrap().expect("member exists")
}

/// A one-line ticket of `fen` paid at the shop's current time.
fn ticket(shop: &Shop, fen: i64) -> EarnTicket {
    EarnTicket {
        lines: vec![EarnLine { sku: "SKU-RICE-5KG".into(), category: "粮油".into(), net_paid_fen: fen }],
        total_fen: fen,
        paid_with_points_fen: 0,
        paid_with_stored_value_fen: 0,
        at: rules().local(shop.clock.now()),
    }
}

/// A sale as checkout commits it: points earned, then the purchase recorded.
fn sale(shop: &Shop, member_id: u64, sale_id: u64, fen: i64) -> Earned {
    commit(&shop.store, |tx| {
        let earned = members::earn_tx(tx, member_id, &ticket(shop, fen), sale_id, &rules())?;
        members::record_purchase_tx(tx, member_id, fen, &rules())?;
        Ok(earned)
    })
}

fn today(shop: &Shop) -> NaiveDate {
    rules().today(shop.clock.now())
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn add_staff(store: &Store, id: &str, role: Role) {
    let new = NewStaff { id: id.into(), name: id.into(), role };
    if let Err(e) = staff::create_staff(store, &new, "correct horse battery", None, &HashCost::minimal_for_tests()) {
        panic!("cannot create {id}: {e}");
    }
}

fn assert_consistent(store: &Store) {
    let violations = members::check(store).unwrap();
    assert!(violations.is_empty(), "{violations:#?}");
}

// --- registration and lookup --------------------------------------------------------------------

#[test]
fn registering_13812345678_twice_is_refused_naming_138_5678_and_writes_nothing() {
    let shop = Shop::open();
    let first = register(&shop.store, "13812345678", "王芳");
    assert_eq!((first.id, first.phone.as_str(), first.tier.as_str()), (1, "13812345678", "regular"));
    let events = outbox_seqs(&shop.store);

    let again = members::register(&shop.store, &new_member("+86 138-1234-5678", "王芳芳"), &rules());
    assert_eq!(refusal(again), "phone number 138****5678 is already registered (member 1)");
    assert_eq!(outbox_seqs(&shop.store), events, "a refused registration emits nothing");
    assert_eq!(members::member_count(&shop.store), 1);

    // The refusal took no id: the next member is 2.
    assert_eq!(register(&shop.store, "13900001111", "李雷").id, 2);

    // The event carries the masked phone only: no name, no full number.
    let registered = events_of_type(&shop.store, EVENT_MEMBER_REGISTERED);
    let data = registered[0].data().unwrap();
    assert_eq!(data["phone"], "138****5678");
    assert_eq!(data["tier"], "regular");
    let raw = serde_json::to_string(&data).unwrap();
    assert!(!raw.contains("13812345678") && !raw.contains("王芳"), "{raw}");
    assert_consistent(&shop.store);
}

#[test]
fn a_bad_phone_says_what_is_wrong() {
    let shop = Shop::open();
    let short = members::register(&shop.store, &new_member("1381234567", "王芳"), &rules());
    assert_eq!(refusal(short), "phone number has 10 digits, needs 11");
    let landline = members::register(&shop.store, &new_member("010-6234 5678", "王芳"), &rules());
    assert_eq!(refusal(landline), "phone number must start with 13–19, starts with 01");
    assert_eq!(members::member_count(&shop.store), 0);
}

#[test]
fn any_spelling_of_her_number_her_card_or_her_qr_code_finds_the_same_member() {
    let shop = Shop::open();
    register(&shop.store, "13900001111", "李雷");
    let fang = register(&shop.store, "13812345678", "王芳");
    // Member 2's card: body 8 0000000002; Luhn from the right: 2 doubled = 4, the 8 (11th from
    // the right, doubled) = 16 → 7; 4 + 7 = 11 → check digit 9.
    let card = fang.card_number().unwrap();
    assert_eq!(card, "800000000029");
    assert_eq!(fang.qr_payload().unwrap(), "SHM1:2:9");
    for query in ["13812345678", "+86 138-1234-5678", "0086 138 1234 5678", "800000000029", "8000 0000 0029", "SHM1:2:9"] {
        let found = members::find(&shop.store, query).unwrap();
        assert_eq!(found.map(|m| m.id), Some(2), "{query}");
    }
    // One digit changed (2 → 3) is a wrong check digit, not member 3 or anybody else.
    assert_eq!(members::find(&shop.store, "800000000039").unwrap(), None);
    assert_eq!(members::find(&shop.store, "13812345679").unwrap(), None);
    let why = refusal(members::find_or_explain(&shop.store, "800000000039"));
    assert!(why.contains("wrong check digit"), "{why}");
    assert_eq!(refusal(members::find_or_explain(&shop.store, "13812345679")), "no member with phone 138****5679");
}

#[test]
fn referral_pays_both_members_once_and_the_first_purchase_once() {
    let shop = Shop::open();
    shop.clock.advance(Duration::days(1)); // Thursday: no member day.
    let a = register(&shop.store, "13812345678", "王芳");
    let b = register_new(
        &shop.store,
        &NewMember { referral_code: Some(a.referral.code.to_lowercase()), channel: Channel::Referral, ..new_member("13900001111", "李雷") },
    );
    assert_eq!(b.referral.referred_by, Some(a.id));
    // Sign-up: 100 to the referrer, 100 to the new member.
    assert_eq!((member(&shop.store, a.id).points, member(&shop.store, b.id).points), (100, 100));

    // B's first purchase, ¥200.00: B earns ⌊20 000 fen × 1 point/yuan / 100⌋ = 200 points, and A
    // gets 5% of the points it earns at the base rate: ⌊20 000 × 1 × 500 bp / (100 × 10 000)⌋ = 10.
    sale(&shop, b.id, 1, 20_000);
    assert_eq!(member(&shop.store, a.id).points, 110);
    assert_eq!(member(&shop.store, b.id).points, 300);
    // The second purchase pays the referrer nothing more.
    sale(&shop, b.id, 2, 90_000);
    assert_eq!(member(&shop.store, a.id).points, 110);
    let to_a: Vec<serde_json::Value> = events_of_type(&shop.store, EVENT_POINTS_EARNED)
        .iter()
        .map(|e| e.data().unwrap())
        .filter(|d| d["member_id"] == a.id)
        .collect();
    let sources: Vec<&str> = to_a.iter().map(|d| d["source"].as_str().unwrap()).collect();
    assert_eq!(sources, vec!["referral_signup", "referral_first_purchase"]);

    // A code of nobody, and a mistyped code, are refused.
    let mistyped = format!("{}X", &a.referral.code[..7]);
    let r = members::register(&shop.store, &NewMember { referral_code: Some(mistyped), ..new_member("13700002222", "韩梅梅") }, &rules());
    assert!(refusal(r).contains("referral code"));
    assert_consistent(&shop.store);
}

// --- earning, redeeming, expiry, returns --------------------------------------------------------

#[test]
fn gold_member_on_member_day_earns_double_of_one_and_a_half() {
    let shop = Shop::open();
    let m = register(&shop.store, "13812345678", "王芳");
    // ¥5,000.00 of purchases in the last 12 months make her gold at once.
    let change = commit(&shop.store, |tx| members::record_purchase_tx(tx, m.id, 500_000, &rules())).expect("upgrade");
    assert_eq!((change.from.as_str(), change.to.as_str()), ("regular", "gold"));
    assert_eq!(change.reason, TierChangeReason::Spend { spend_12m_fen: 500_000, min_spend_fen: 500_000 });
    assert_eq!(events_of_type(&shop.store, EVENT_TIER_CHANGED).len(), 1);

    // Wednesday, member day ×2 with gold ×1.5 = ×3: ¥88.80 → ⌊88.80 × 3⌋ = 266 points.
    let wed = commit(&shop.store, |tx| members::earn_tx(tx, m.id, &ticket(&shop, 8_880), 1, &rules()));
    assert_eq!((wed.earning.member_day_bp, wed.earning.tier_bp), (20_000, 15_000));
    assert_eq!(wed.credited, 266);
    // Thursday, gold only: ⌊88.80 × 1.5⌋ = 133.
    shop.clock.advance(Duration::days(1));
    let thu = commit(&shop.store, |tx| members::earn_tx(tx, m.id, &ticket(&shop, 8_880), 2, &rules()));
    assert_eq!((thu.earning.member_day_bp, thu.credited), (10_000, 133));
    assert_eq!(member(&shop.store, m.id).points, 399);
    assert_consistent(&shop.store);
}

#[test]
fn redeeming_300_takes_the_soonest_expiring_lot_first() {
    let shop = Shop::open();
    shop.clock.advance(Duration::days(1)); // Thu 26 Nov 2026
    let m = register(&shop.store, "13812345678", "王芳");
    let first = sale(&shop, m.id, 1, 20_000); // 200 points, expiring 2028-11-26
    shop.clock.advance(Duration::days(10)); // Sun 6 Dec 2026
    let second = sale(&shop, m.id, 2, 25_000); // 250 points, expiring 2028-12-06
    let (lot_a, lot_b) = (first.lot_id.unwrap(), second.lot_id.unwrap());
    assert_ne!(lot_a, lot_b);

    let redeemed = commit(&shop.store, |tx| members::redeem_points_tx(tx, m.id, 300, 3, &rules()));
    assert_eq!(redeemed.takes, vec![LotTake { lot_id: lot_a, points: 200 }, LotTake { lot_id: lot_b, points: 100 }]);
    let after = member(&shop.store, m.id);
    assert_eq!(after.points, 150);
    // The emptied lot is gone; the other has 150 of its 250 left.
    assert_eq!(after.lots.len(), 1);
    assert_eq!((after.lots[0].id, after.lots[0].remaining, after.lots[0].original), (lot_b, 150, 250));

    // 151 more is refused with the numbers, and changes nothing.
    let events = outbox_seqs(&shop.store);
    let short = shop.store.commit(|tx| members::redeem_points_tx(tx, m.id, 151, 4, &rules()));
    assert_eq!(refusal(short), "member 1: 151 points wanted but only 150 available");
    assert_eq!(outbox_seqs(&shop.store), events);
    let kinds: Vec<(PointsEntryKind, i64)> =
        members::ledger(&shop.store, m.id).unwrap().iter().map(|e| (e.entry.kind, e.entry.delta)).collect();
    assert_eq!(kinds, vec![(PointsEntryKind::Earn, 200), (PointsEntryKind::Earn, 250), (PointsEntryKind::Redeem, -300)]);
    assert_consistent(&shop.store);
}

#[test]
fn points_earned_the_same_day_share_one_lot() {
    let shop = Shop::open();
    shop.clock.advance(Duration::days(1));
    let m = register(&shop.store, "13812345678", "王芳");
    let a = sale(&shop, m.id, 1, 1_000);
    shop.clock.advance(Duration::hours(2));
    let b = sale(&shop, m.id, 2, 2_000);
    assert_eq!(a.lot_id, b.lot_id);
    let lots = member(&shop.store, m.id).lots;
    assert_eq!((lots.len(), lots[0].original, lots[0].remaining), (1, 30, 30));
}

#[test]
fn expiry_job_run_twice_expires_once() {
    let shop = Shop::open();
    shop.clock.advance(Duration::days(1)); // Thu 26 Nov 2026: 120 points expiring 2028-11-26
    let m = register(&shop.store, "13812345678", "王芳");
    sale(&shop, m.id, 1, 12_000);
    shop.clock.advance(Duration::days(30)); // Sat 26 Dec 2026: 80 points expiring 2028-12-26
    sale(&shop, m.id, 2, 8_000);
    let expiring = members::expiring_soon(&shop.store, m.id, 30, d(2028, 11, 1)).unwrap();
    assert_eq!(expiring.iter().map(|l| (l.points, l.expires_on)).collect::<Vec<_>>(), vec![(120, d(2028, 11, 26))]);

    // 26 Nov 2028 is the lot's last day: nothing expires yet.
    let on_last_day = members::expire_points(&shop.store, d(2028, 11, 26), &rules()).unwrap();
    assert_eq!((on_last_day.members_expired, on_last_day.points), (0, 0));
    // The day after, its 120 points expire, once however often the job runs.
    let first = members::expire_points(&shop.store, d(2028, 11, 27), &rules()).unwrap();
    assert_eq!((first.members, first.members_expired, first.points), (1, 1, 120));
    let second = members::expire_points(&shop.store, d(2028, 11, 27), &rules()).unwrap();
    assert_eq!((second.members_expired, second.points), (0, 0));
    assert_eq!(member(&shop.store, m.id).points, 80);
    let expired = events_of_type(&shop.store, EVENT_POINTS_EXPIRED);
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].data().unwrap()["points"], 120);
    let expire_entries: Vec<i64> = members::ledger(&shop.store, m.id)
        .unwrap()
        .iter()
        .filter(|e| e.entry.kind == PointsEntryKind::Expire)
        .map(|e| e.entry.delta)
        .collect();
    assert_eq!(expire_entries, vec![-120]);
    assert_consistent(&shop.store);
}

#[test]
fn a_return_after_the_points_were_spent_records_debt_and_the_next_earning_settles_it() {
    let shop = Shop::open();
    shop.clock.advance(Duration::days(1)); // Thursday
    let m = register(&shop.store, "13812345678", "王芳");
    // Sale 1: ¥236.40 earns 236 points. Sale 2 pays 200 of them.
    let s1 = sale(&shop, m.id, 1, 23_640);
    assert_eq!(s1.credited, 236);
    commit(&shop.store, |tx| members::redeem_points_tx(tx, m.id, 200, 2, &rules()));

    // Everything of sale 1 comes back: 236 points are due, only 36 are left → 200 become debt.
    let sold = EarnedOnSale { points: 236, eligible_net_fen: 23_640, refunded_before_fen: 0, reversed_before: 0 };
    let back = commit(&shop.store, |tx| members::reverse_for_return_tx(tx, m.id, &sold, 23_640, s1.lot_id, 1, &rules()));
    assert_eq!((back.points, back.taken, back.debt_added), (236, 36, 200));
    let after = member(&shop.store, m.id);
    assert_eq!((after.points, after.points_debt), (0, 200));
    assert_consistent(&shop.store);

    // Sale 3, ¥300.00, earns 300: 200 settle the debt, 100 are credited.
    let s3 = sale(&shop, m.id, 3, 30_000);
    assert_eq!((s3.credited, s3.debt_settled, s3.balance, s3.points_debt), (100, 200, 100, 0));

    // Sale 2 is partly returned (¥90.00 ticket paid with the 200 points, ¥30.00 back):
    // ⌊200 × 3 000 / 9 000⌉ = 66.67 → 67 points restored.
    let paid = RedeemedOnSale { points: 200, total_fen: 9_000, refunded_before_fen: 0, restored_before: 0 };
    let restored = commit(&shop.store, |tx| members::restore_redeemed_tx(tx, m.id, &paid, 3_000, 2, &rules()));
    assert_eq!((restored.points, restored.credited, restored.balance), (67, 67, 167));

    let ledger: Vec<(PointsEntryKind, i64, i64)> =
        members::ledger(&shop.store, m.id).unwrap().iter().map(|e| (e.entry.kind, e.entry.delta, e.debt_delta)).collect();
    assert_eq!(
        ledger,
        vec![
            (PointsEntryKind::Earn, 236, 0),
            (PointsEntryKind::Redeem, -200, 0),
            (PointsEntryKind::Reverse, -36, 200),
            (PointsEntryKind::Earn, 100, -200),
            (PointsEntryKind::Reverse, 67, 0),
        ]
    );
    assert_consistent(&shop.store);
}

#[test]
fn manual_adjustments_need_a_manager_and_a_reason() {
    let shop = Shop::open();
    add_staff(&shop.store, "li-na", Role::Cashier);
    add_staff(&shop.store, "wang", Role::Manager);
    let m = register(&shop.store, "13812345678", "王芳");
    let r = rules();
    assert!(refusal(members::adjust_points(&shop.store, m.id, 50, "goodwill", "li-na", &r)).contains("may not adjust points"));
    assert!(refusal(members::adjust_points(&shop.store, m.id, 50, "  ", "wang", &r)).starts_with("reason:"));
    assert_eq!(members::adjust_points(&shop.store, m.id, 50, "goodwill", "wang", &r).unwrap().balance, 50);
    assert_eq!(
        refusal(members::adjust_points(&shop.store, m.id, -80, "typo", "wang", &r)),
        "member 1: 80 points wanted but only 50 available"
    );
    assert_eq!(members::adjust_points(&shop.store, m.id, -30, "typo", "wang", &r).unwrap().balance, 20);
    let last = members::ledger(&shop.store, m.id).unwrap().pop().unwrap();
    assert_eq!((last.entry.kind, last.entry.delta, last.by.as_deref()), (PointsEntryKind::Adjust, -30, Some("wang")));
    assert_consistent(&shop.store);
}

// --- stored value -------------------------------------------------------------------------------

#[test]
fn topup_500_with_the_500_gives_30_rule_leaves_530_on_the_card() {
    let shop = Shop::open();
    add_staff(&shop.store, "li-na", Role::Cashier);
    add_staff(&shop.store, "tech", Role::Technician);
    let m = register(&shop.store, "13812345678", "王芳");
    let done = members::topup(&shop.store, m.id, 50_000, "li-na", Some("POS-88123"), &rules()).unwrap();
    assert_eq!((done.amount_fen, done.bonus_fen, done.balance_fen), (50_000, 3_000, 53_000));
    let entries: Vec<(StoredValueKind, i64)> =
        members::stored_value_ledger(&shop.store, m.id).unwrap().iter().map(|e| (e.kind, e.delta_fen)).collect();
    assert_eq!(entries, vec![(StoredValueKind::TopUp, 50_000), (StoredValueKind::Bonus, 3_000)]);
    let event = events_of_type(&shop.store, EVENT_STORED_VALUE_TOPPED_UP)[0].data().unwrap();
    assert_eq!((event["amount_fen"].as_i64(), event["bonus_fen"].as_i64(), event["balance_fen"].as_i64()), (Some(50_000), Some(3_000), Some(53_000)));

    // A technician does not take money; an unknown id neither.
    assert!(refusal(members::topup(&shop.store, m.id, 10_000, "tech", None, &rules())).contains("may not sell"));
    assert!(refusal(members::topup(&shop.store, m.id, 10_000, "zhao", None, &rules())).contains("no staff account zhao"));

    // ¥600.00 is more than the card holds: refused, nothing written.
    let events = outbox_seqs(&shop.store);
    let too_much = shop.store.commit(|tx| members::stored_value_spend_tx(tx, m.id, 60_000, 7, &rules()));
    assert_eq!(refusal(too_much), "member 1: card balance ¥530.00 does not cover ¥600.00");
    assert_eq!(outbox_seqs(&shop.store), events);
    assert_eq!(member(&shop.store, m.id).stored_value_fen, 53_000);

    // ¥236.40 is paid from the card, ¥20.00 of it comes back: ¥530 − ¥236.40 + ¥20 = ¥313.60.
    let spent = commit(&shop.store, |tx| members::stored_value_spend_tx(tx, m.id, 23_640, 7, &rules()));
    assert_eq!(spent.balance_fen, 29_360);
    let refunded = commit(&shop.store, |tx| members::stored_value_refund_tx(tx, m.id, 2_000, 1, &rules()));
    assert_eq!(refunded.balance_fen, 31_360);
    assert_consistent(&shop.store);
}

// --- tiers --------------------------------------------------------------------------------------

#[test]
fn silver_member_below_the_threshold_keeps_silver_through_the_grace_period_and_drops_the_day_after() {
    let shop = Shop::open();
    let r = rules();
    let m = register(&shop.store, "13812345678", "王芳");
    // ¥1,200.00 on 25 Nov 2026: silver (from ¥1,000.00).
    sale(&shop, m.id, 1, 120_000);
    assert_eq!(member(&shop.store, m.id).tier, "silver");
    let run = |shop: &Shop| members::evaluate_tiers(&shop.store, today(shop), &r).unwrap();

    // 24 Nov 2027: the window 25 Nov 2026 ..= 24 Nov 2027 still holds the purchase.
    shop.clock.set(shop.clock.now() + Duration::days(364));
    assert_eq!(today(&shop), d(2027, 11, 24));
    assert_eq!(run(&shop).grace_started, 0);
    // 25 Nov 2027: it has left the window; the 30-day grace starts, and she stays silver.
    shop.clock.advance(Duration::days(1));
    assert_eq!(run(&shop).grace_started, 1);
    assert_eq!(run(&shop).grace_started, 0, "a second run the same day changes nothing");
    let grace = member(&shop.store, m.id);
    assert_eq!((grace.tier.as_str(), grace.below_tier_since), ("silver", Some(d(2027, 11, 25))));
    // 24 Dec 2027, the 30th day of grace: still silver.
    shop.clock.advance(Duration::days(29));
    assert_eq!(run(&shop).downgraded, 0);
    assert_eq!(member(&shop.store, m.id).tier, "silver");
    // 25 Dec 2027, the day after: regular.
    shop.clock.advance(Duration::days(1));
    assert_eq!(run(&shop).downgraded, 1);
    assert_eq!(run(&shop).downgraded, 0);
    let after = member(&shop.store, m.id);
    assert_eq!((after.tier.as_str(), after.tier_since, after.below_tier_since), ("regular", d(2027, 12, 25), None));
    let changes = events_of_type(&shop.store, EVENT_TIER_CHANGED);
    let last = changes.last().unwrap().data().unwrap();
    assert_eq!((last["from"].as_str(), last["to"].as_str()), (Some("silver"), Some("regular")));
    assert_eq!(last["reason"]["kind"], "grace_ended");
    assert_eq!(last["reason"]["below_since"], "2027-11-25");
    assert_consistent(&shop.store);
}

#[test]
fn a_member_back_above_the_threshold_during_grace_keeps_the_tier() {
    let shop = Shop::open();
    let r = rules();
    let m = register(&shop.store, "13812345678", "王芳");
    sale(&shop, m.id, 1, 120_000);
    shop.clock.advance(Duration::days(365));
    members::evaluate_tiers(&shop.store, today(&shop), &r).unwrap();
    assert!(member(&shop.store, m.id).below_tier_since.is_some());
    sale(&shop, m.id, 2, 100_000);
    let summary = members::evaluate_tiers(&shop.store, today(&shop), &r).unwrap();
    assert_eq!(summary.grace_cleared, 1);
    let kept = member(&shop.store, m.id);
    assert_eq!((kept.tier.as_str(), kept.below_tier_since), ("silver", None));
}

#[test]
fn birthday_points_once_a_year_for_gold_members() {
    let shop = Shop::open();
    let r = rules();
    let m = register_new(&shop.store, &NewMember { birthday: Some(d(1990, 12, 1)), ..new_member("13812345678", "王芳") });
    commit(&shop.store, |tx| members::record_purchase_tx(tx, m.id, 500_000, &r));
    // Gold's birthday reward is 500 points, due from 1 Dec to 8 Dec, once.
    assert_eq!(members::birthday_rewards(&shop.store, d(2026, 11, 30), &r).unwrap().rewarded, 0);
    let given = members::birthday_rewards(&shop.store, d(2026, 12, 3), &r).unwrap();
    assert_eq!((given.rewarded, given.points), (1, 500));
    assert_eq!(members::birthday_rewards(&shop.store, d(2026, 12, 4), &r).unwrap().rewarded, 0);
    assert_eq!(member(&shop.store, m.id).points, 500);
    assert_consistent(&shop.store);
}

// --- invariants ---------------------------------------------------------------------------------

#[test]
fn members_check_passes_an_honest_store_and_names_a_tampered_balance() {
    let shop = Shop::open();
    add_staff(&shop.store, "li-na", Role::Cashier);
    let m = register(&shop.store, "13812345678", "王芳");
    shop.clock.advance(Duration::days(1));
    sale(&shop, m.id, 1, 10_000);
    members::topup(&shop.store, m.id, 20_000, "li-na", None, &rules()).unwrap();
    assert_consistent(&shop.store);
    assert!(storehub::verify::verify(&shop.store).unwrap().ok());

    // Someone writes 50 points more into the member record, bypassing the ledger.
    commit(&shop.store, |tx| {
        let mut tampered = members::member_tx(tx, m.id)?;
        tampered.points += 50;
        tampered.stored_value_fen -= 1_000;
        tx.put(TreeId::Members, &codec::u64_key(m.id), &tampered)
    });
    let violations = members::check(&shop.store).unwrap();
    assert_eq!(
        violations,
        vec![
            "member 1: points 150 but its lots hold 100".to_string(),
            "member 1: points 150 but its points ledger sums to 100".to_string(),
            "member 1: stored value 20000 fen but its stored-value ledger sums to 21000 fen".to_string(),
        ]
    );
    let report = storehub::verify::verify(&shop.store).unwrap();
    assert!(report.violations.contains(&violations[0]), "{:?}", report.violations);

    // A lookup key pointing elsewhere is named too (the phone masked).
    commit(&shop.store, |tx| tx.put_raw(TreeId::MemberKeys, b"phone/13900001111", &codec::u64_key(m.id)));
    let violations = members::check(&shop.store).unwrap();
    assert!(violations.contains(&"member key phone/139****1111: points to member 1, whose phone does not match".to_string()), "{violations:?}");
}

// --- the CLI ------------------------------------------------------------------------------------

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn cli_member_add_with_a_bad_phone_names_the_problem_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let d = dir.to_str().unwrap();
    let bad = storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "1381234567", "--name", "王芳"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("phone number has 10 digits, needs 11; nothing written"), "{}", stderr(&bad));
    assert!(!dir.exists(), "no database is created for a refused member");

    let added: serde_json::Value = serde_json::from_str(&ok(storehub_cmd(&[
        "--data-dir", d, "member", "add", "--phone", "+86 138-1234-5678", "--name", "王芳", "--birthday", "1990-05-20",
        "--gender", "f", "--sms-consent",
    ])))
    .unwrap();
    assert_eq!((added["id"].as_u64(), added["phone"].as_str(), added["card_number"].as_str()), (Some(1), Some("138****5678"), Some("800000000011")));

    let dup = storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13812345678", "--name", "王芳"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(stderr(&dup).contains("138****5678 is already registered"), "{}", stderr(&dup));
    let letters = storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "138x2345678", "--name", "李雷"]);
    assert!(stderr(&letters).contains("contains 'x' at position 4"), "{}", stderr(&letters));

    let shown: serde_json::Value = serde_json::from_str(&ok(storehub_cmd(&["--data-dir", d, "member", "show", "SHM1:1:1"]))).unwrap();
    assert_eq!(shown["name"], "王芳");
    let typo = storehub_cmd(&["--data-dir", d, "member", "show", "800000000012"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(stderr(&typo).contains("wrong check digit"), "{}", stderr(&typo));

    let csv = ok(storehub_cmd(&["--data-dir", d, "export", "members"]));
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2, "header and one member: {csv}");
    assert!(lines[0].starts_with("id,phone,name,tier,points"), "{}", lines[0]);
    assert!(lines[1].starts_with("1,138****5678,王芳,,0,0,0,0,0,"), "{}", lines[1]);
    assert!(lines[1].ends_with(",yes,no"), "{}", lines[1]);
    let full = ok(storehub_cmd(&["--data-dir", d, "export", "members", "--full-phone", "--format", "json"]));
    let rows: serde_json::Value = serde_json::from_str(&full).unwrap();
    assert_eq!(rows[0]["phone"], "13812345678");
}

#[test]
fn cli_members_points_and_exports_while_the_daemon_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let d = dir.to_str().unwrap();
    let mut daemon = start_demo(&dir);
    ok(storehub_with_stdin(
        &["--data-dir", d, "staff", "add", "wang", "--name", "王强", "--role", "manager", "--password-stdin"],
        "manager-wang-2026\n",
    ));
    ok(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13812345678", "--name", "王芳"]));
    let topped: serde_json::Value = serde_json::from_str(&ok(storehub_cmd(&[
        "--data-dir", d, "member", "topup", "13812345678", "--fen", "50000", "--by", "wang",
    ])))
    .unwrap();
    assert_eq!(topped["topup"]["balance_fen"], 53_000);
    ok(storehub_cmd(&["--data-dir", d, "member", "adjust", "800000000011", "--points", "+120", "--reason", "opening gift", "--by", "wang"]));
    let removed = storehub_cmd(&["--data-dir", d, "member", "adjust", "13812345678", "--points", "-500", "--reason", "typo", "--by", "wang"]);
    assert!(stderr(&removed).contains("500 points wanted but only 120 available"), "{}", stderr(&removed));
    let points: serde_json::Value =
        serde_json::from_str(&ok(storehub_cmd(&["--data-dir", d, "member", "points", "13812345678"]))).unwrap();
    assert_eq!((points["points"].as_i64(), points["points_debt"].as_i64()), (Some(120), Some(0)));
    let job: serde_json::Value = serde_json::from_str(&ok(storehub_cmd(&["--data-dir", d, "jobs", "run", "expire-points"]))).unwrap();
    assert_eq!(job["summary"]["points"], 0);
    let ledger = ok(storehub_cmd(&["--data-dir", d, "export", "points-ledger", "--from", "2020-01-01"]));
    assert!(ledger.contains(",1,adjust,120,0,"), "{ledger}");
    let members_csv = ok(storehub_cmd(&["--data-dir", d, "export", "members"]));
    assert!(members_csv.contains("1,138****5678,王芳,regular,120,0,53000,"), "{members_csv}");
    let verify = ok(storehub_cmd(&["--data-dir", d, "verify"]));
    assert!(verify.contains("\"violations\": []"), "{verify}");
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon must still run");
}

// --- property: any sequence keeps the books straight ----------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Earn(i64),
    Redeem(i64),
    /// Advance the clock by some days, then run the expiry job twice.
    Days(i64),
    /// Return a share (per mille) of the nth sale.
    Return(usize, i64),
    TopUp(i64),
    Spend(i64),
    Adjust(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..60_000).prop_map(Op::Earn),
        (0i64..600).prop_map(Op::Redeem),
        (1i64..400).prop_map(Op::Days),
        ((0usize..8), (1i64..=1000)).prop_map(|(n, share)| Op::Return(n, share)),
        (1i64..80_000).prop_map(Op::TopUp),
        (1i64..60_000).prop_map(Op::Spend),
        (-300i64..300).prop_map(Op::Adjust),
    ]
}

/// What checkout keeps per sale for returns.
struct SoldTicket {
    id: u64,
    earned: EarnedOnSale,
    lot: Option<u64>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_of_member_operations_keeps_members_check_empty(ops in proptest::collection::vec(op(), 1..40)) {
        let shop = Shop::open_with(Durability::Relaxed);
        let mut r = rules();
        r.expiry = storehub::domain::loyalty::lots::ExpiryRule::MonthsAfter(3);
        add_staff(&shop.store, "wang", Role::Manager);
        let m = register(&shop.store, "13812345678", "王芳");
        let mut sold: Vec<SoldTicket> = Vec::new();
        for (step, op) in ops.iter().enumerate() {
            let step_id = step as u64 + 1;
            match *op {
                Op::Earn(fen) => {
                    let t = ticket(&shop, fen);
                    let earned = shop.store.commit(|tx| {
                        let e = members::earn_tx(tx, m.id, &t, step_id, &r)?;
                        members::record_purchase_tx(tx, m.id, fen, &r)?;
                        Ok(e)
                    }).unwrap();
                    sold.push(SoldTicket {
                        id: step_id,
                        earned: EarnedOnSale { points: earned.earning.points, eligible_net_fen: fen, refunded_before_fen: 0, reversed_before: 0 },
                        lot: earned.lot_id,
                    });
                }
                Op::Redeem(p) => {
                    let _ = shop.store.commit(|tx| members::redeem_points_tx(tx, m.id, p, step_id, &r));
                }
                Op::Days(n) => {
                    shop.clock.advance(Duration::days(n));
                    let today = r.today(shop.clock.now());
                    members::expire_points(&shop.store, today, &r).unwrap();
                    let again = members::expire_points(&shop.store, today, &r).unwrap();
                    prop_assert_eq!(again.points, 0);
                    members::evaluate_tiers(&shop.store, today, &r).unwrap();
                }
                Op::Return(n, share) => {
                    if sold.is_empty() { continue; }
                    let k = n % sold.len();
                    let s = &mut sold[k];
                    let refund = s.earned.eligible_net_fen * share / 1000;
                    let back = shop.store.commit(|tx| members::reverse_for_return_tx(tx, m.id, &s.earned, refund, s.lot, s.id, &r)).unwrap();
                    prop_assert_eq!(back.taken + back.debt_added, back.points);
                    s.earned.refunded_before_fen += refund;
                    s.earned.reversed_before += back.points;
                }
                Op::TopUp(fen) => { members::topup(&shop.store, m.id, fen, "wang", None, &r).unwrap(); }
                Op::Spend(fen) => {
                    let _ = shop.store.commit(|tx| members::stored_value_spend_tx(tx, m.id, fen, step_id, &r));
                }
                Op::Adjust(delta) => { let _ = members::adjust_points(&shop.store, m.id, delta, "correction", "wang", &r); }
            }
            let violations = members::check(&shop.store).unwrap();
            prop_assert!(violations.is_empty(), "after {:?}: {:?}", op, violations);
            let now = member(&shop.store, m.id);
            prop_assert!(now.points >= 0 && now.points_debt >= 0 && now.stored_value_fen >= 0);
            prop_assert!(now.points_debt == 0 || now.points == 0 || now.lots.iter().any(|l| l.is_expired(r.today(shop.clock.now()))),
                "debt {} with usable balance {}", now.points_debt, now.points);
        }
    }
}

#[test]
fn consent_and_a_new_phone_number() {
    let shop = Shop::open();
    let m = register_new(&shop.store, &NewMember { consent_sms: true, ..new_member("13812345678", "王芳") });
    register(&shop.store, "13900001111", "李雷");
    let given = m.consent.sms.expect("sms consent time");
    // WeChat given, SMS withdrawn; giving SMS again later stamps the new time.
    let c = members::set_consent(&shop.store, m.id, Some(false), Some(true)).unwrap().consent;
    assert_eq!((c.sms, c.wechat), (None, Some(shop.clock.now())));
    shop.clock.advance(Duration::hours(1));
    let c = members::set_consent(&shop.store, m.id, Some(true), Some(true)).unwrap().consent;
    assert_eq!((c.sms, c.wechat.is_some()), (Some(shop.clock.now()), true));
    assert_ne!(c.sms, Some(given));

    // Another member's number is refused; a new one re-keys the lookup.
    let taken = members::ProfileUpdate { phone: Some("139 0000 1111".into()), ..Default::default() };
    assert_eq!(refusal(members::update_profile(&shop.store, m.id, &taken, &rules())), "phone number 139****1111 is already registered (member 2)");
    let update = members::ProfileUpdate { phone: Some("13700002222".into()), name: Some(" 王芳芳 ".into()), ..Default::default() };
    let after = members::update_profile(&shop.store, m.id, &update, &rules()).unwrap();
    assert_eq!((after.phone.as_str(), after.name.as_str()), ("13700002222", "王芳芳"));
    assert_eq!(members::find(&shop.store, "13812345678").unwrap(), None);
    assert_eq!(members::find(&shop.store, "13700002222").unwrap().map(|m| m.id), Some(1));
    let event = events_of_type(&shop.store, members::EVENT_PROFILE_UPDATED)[0].data().unwrap();
    assert_eq!(event["fields"], serde_json::json!(["phone", "name"]));
    assert_eq!(event["phone"], "137****2222");
    assert!(!event.to_string().contains("王芳芳"));
    assert_consistent(&shop.store);
}
