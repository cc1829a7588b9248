//! Promotions and coupons as a shop uses them: a promotions file with one bad entry writes
//! nothing, the till loads only promotions whose window is open on the shop clock, a 满200减30
//! campaign issued twice to the same three members, a till that refuses the wrong coupon without
//! writing anything, redemption and restore inside the sale and return commits, the expiry job,
//! usage counts, events that name members only by id, and the CLI.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026 = 17:00 in Shanghai (UTC+8, no DST);
//! tests turn it into shop-local time with that fixed offset so they do not depend on the
//! machine's time zone.

mod common;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use storehub::clock::Clock;
use common::{events_of_type, newest_seq, outbox, spend_200_save_30, storehub_cmd, Shop};
use storehub::coupons::{
    self, CouponError, CouponState, CouponTemplate, RestoredTo, SkipReason, TemplateStats, Validity,
};
use storehub::domain::coupon_code::coupon_code;
use storehub::domain::pricing::{
    price_basket, BasketLine, CouponKind, Promotion, PromotionKind, PromotionWindow, Quantity, Shopper,
};
use storehub::promotions::{self, PromotionError};
use storehub::store::{CommitError, Store};

/// Shop-local (Asia/Shanghai) time of a UTC instant.
fn shanghai(now: DateTime<Utc>) -> NaiveDateTime {
    now.naive_utc() + Duration::hours(8)
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn local(m: u32, d: u32, h: u32) -> NaiveDateTime {
    day(m, d).and_hms_opt(h, 0, 0).unwrap()
}

/// 25 November, the opening day of every test shop.
fn today() -> NaiveDate {
    day(11, 25)
}

fn add_template(store: &Store, t: &CouponTemplate) {
    if let Err(e) = coupons::upsert_templates(store, std::slice::from_ref(t)) {
        panic!("template {} refused: {e}", t.id);
    }
}

fn issue(store: &Store, template: &str, members: &[u64], on: NaiveDate) -> coupons::IssueSummary {
    match coupons::issue(store, template, members, Some("双十二预热"), on) {
        Ok(s) => s,
        Err(e) => panic!("issue of {template} refused: {e}"),
    }
}

/// The refusal of a commit, as the cashier would read it.
fn refusal<T: std::fmt::Debug>(r: Result<T, CommitError<CouponError>>) -> CouponError {
    match r {
        Err(CommitError::Rejected(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Redeems coupon `code` of `member` in the commit of sale `sale_id`, as checkout will.
fn sell_with_coupon(store: &Store, code: &str, member: u64, sale_id: u64, on: NaiveDate) -> coupons::IssuedCoupon {
    let r = store.commit(|tx| {
        let (coupon, _view) = coupons::check_for_sale_tx(tx, code, Some(member), on)?;
        coupons::redeem_tx(tx, coupon.id, sale_id)
    });
    match r {
        Ok(c) => c,
        Err(e) => panic!("sale {sale_id} with coupon {code} refused: {e}"),
    }
}

fn promotion(id: &str, window: Option<(NaiveDateTime, NaiveDateTime)>, kind: PromotionKind) -> Promotion {
    Promotion {
        id: id.into(),
        name_zh: format!("{id}（中）"),
        name_en: id.into(),
        window: window.map(|(start, end)| PromotionWindow { start, end }),
        members_only: false,
        kind,
    }
}

fn ids(promotions: &[Promotion]) -> Vec<&str> {
    promotions.iter().map(|p| p.id.as_str()).collect()
}

// --- Promotions ----------------------------------------------------------------------------------

const THREE_PROMOTIONS: &str = r#"[
  {"id": "P-GW-200-30", "name_zh": "国庆满200减30", "name_en": "National Day: spend ¥200, save ¥30",
   "window": {"start": "2026-10-01T00:00:00", "end": "2026-10-08T00:00:00"}, "members_only": false,
   "kind": {"kind": "threshold", "min_spend_fen": 20000, "off_fen": 3000, "stacked": true, "categories": []}},
  {"id": "P-DRINKS", "name_zh": "饮料八折", "name_en": "Drinks 20% off",
   "window": null, "members_only": true,
   "kind": {"kind": "category_percent", "category": "饮料", "bp": BP}},
  {"id": "P-WATER-2-1", "name_zh": "农夫山泉买二送一", "name_en": "Nongfu Spring: buy 2 get 1",
   "window": null, "members_only": false,
   "kind": {"kind": "buy_x_get_y", "sku": "SKU-010001", "buy": 2, "free": 1}}
]"#;

#[test]
fn three_promotions_with_one_invalid_write_nothing_and_the_message_names_index_and_field() {
    let shop = Shop::open();
    let store = &shop.store;

    // 12000 bp = 120 % off: the file is refused before the store sees it.
    let bad = THREE_PROMOTIONS.replace("BP", "12000");
    let report = promotions::parse_promotions_json(bad.as_bytes(), "promos.json").unwrap_err().to_string();
    assert_eq!(report, r#"promos.json: [1] (id "P-DRINKS"): kind.bp: 12000 bp is more than 100% (10000 bp)"#);

    // The same three handed to the store directly (an HQ command, later): refused whole.
    let typed: Vec<Promotion> = serde_json::from_str(&bad).unwrap();
    let err = match promotions::upsert_promotions(store, &typed) {
        Err(CommitError::Rejected(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(matches!(&err, PromotionError::Invalid { index: 1, field, .. } if field == "kind.bp"), "{err:?}");
    assert_eq!(
        err.to_string(),
        r#"promotion [1] (id "P-DRINKS"): kind.bp: 12000 bp is more than 100% (10000 bp); nothing was written"#
    );
    assert!(promotions::list_promotions(store).unwrap().is_empty(), "P-GW-200-30 before it must not be written");
    assert!(outbox(store).is_empty());

    // 2000 bp = 20 % off: all three go in, one event each.
    let good = promotions::parse_promotions_json(THREE_PROMOTIONS.replace("BP", "2000").as_bytes(), "promos.json").unwrap();
    let summary = promotions::upsert_promotions(store, &good).unwrap();
    assert_eq!((summary.created, summary.updated, summary.unchanged), (3, 0, 0));
    assert_eq!(ids(&promotions::list_promotions(store).unwrap()), ["P-DRINKS", "P-GW-200-30", "P-WATER-2-1"]);
    let events = events_of_type(store, promotions::EVENT_PROMOTION_UPSERTED);
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].subject.as_deref(), Some("P-DRINKS"));
    assert_eq!(events[1].data().unwrap()["kind"]["bp"], 2000);

    // Importing the same file again changes nothing and says so; a removal is an event.
    let again = promotions::upsert_promotions(store, &good).unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    promotions::remove_promotion(store, "P-WATER-2-1").unwrap();
    let removed = events_of_type(store, promotions::EVENT_PROMOTION_REMOVED);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].data().unwrap(), serde_json::json!({ "id": "P-WATER-2-1" }));
    let unknown = promotions::remove_promotion(store, "P-WATER-2-1").unwrap_err().to_string();
    assert!(unknown.contains("no promotion has id \"P-WATER-2-1\""), "{unknown}");
}

#[test]
fn the_till_loads_only_promotions_whose_window_is_open_on_the_shop_clock() {
    let shop = Shop::open();
    let (store, clock) = (&shop.store, &shop.clock);
    let threshold = PromotionKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000, stacked: false, categories: vec![] };
    let drinks = PromotionKind::CategoryPercent { category: "饮料".into(), bp: 2000 };
    promotions::upsert_promotions(
        store,
        &[
            promotion("P-ALWAYS", None, drinks.clone()),
            // 双十一: all of 11 November, shop time.
            promotion("P-1111", Some((local(11, 11, 0), local(11, 12, 0))), threshold.clone()),
            // Evenings of opening week: 25 November 17:00 to 20:00.
            promotion("P-EVENING", Some((local(11, 25, 17), local(11, 25, 20))), drinks),
        ],
    )
    .unwrap();
    let active = |at: DateTime<Utc>| {
        clock.set(at);
        let now = shanghai(clock.now());
        promotions::active_promotions(store, now).unwrap()
    };
    let utc = |m, d, h, min, s| Utc.with_ymd_and_hms(2026, m, d, h, min, s).unwrap();

    // 10 Nov 15:59:59 UTC = 10 Nov 23:59:59 in Shanghai: 双十一 not yet.
    assert_eq!(ids(&active(utc(11, 10, 15, 59, 59))), ["P-ALWAYS"]);
    // 10 Nov 16:00 UTC = 11 Nov 00:00 in Shanghai: it starts.
    assert_eq!(ids(&active(utc(11, 10, 16, 0, 0))), ["P-1111", "P-ALWAYS"]);
    // 11 Nov 15:59:59 UTC = its last second; 16:00 UTC = 12 Nov 00:00, the end (exclusive).
    assert_eq!(ids(&active(utc(11, 11, 15, 59, 59))), ["P-1111", "P-ALWAYS"]);
    assert_eq!(ids(&active(utc(11, 11, 16, 0, 0))), ["P-ALWAYS"]);
    // Opening day 09:00 UTC = 17:00 shop time: the evening promotion is on, until 20:00.
    assert_eq!(ids(&active(common::opening_time())), ["P-ALWAYS", "P-EVENING"]);
    assert_eq!(ids(&active(common::opening_time() + Duration::hours(3))), ["P-ALWAYS"]);
    assert_eq!(promotions::list_promotions(store).unwrap().len(), 3, "list shows every promotion");
}

// --- Issuing ------------------------------------------------------------------------------------

#[test]
fn spend_200_save_30_issued_twice_to_three_members_with_limit_one_issues_three_then_skips_three() {
    let shop = Shop::open();
    add_template(&shop.store, &spend_200_save_30());
    let members = [1001, 1002, 1003];

    let first = issue(&shop.store, "T-200-30", &members, today());
    assert_eq!(first.issued.len(), 3);
    assert!(first.skipped.is_empty());
    let codes: Vec<&str> = first.issued.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(codes, ["9900000000011", "9900000000028", "9900000000035"]);
    for c in &first.issued {
        // 30 days counting 25 November: through 24 December.
        assert_eq!((c.valid_from, c.valid_to), (day(11, 25), day(12, 24)));
        assert_eq!(c.state, CouponState::Issued);
        assert_eq!(c.campaign.as_deref(), Some("双十二预热"));
    }
    let events_after_first = newest_seq(&shop.store);
    assert_eq!(events_of_type(&shop.store, coupons::EVENT_COUPON_ISSUED).len(), 3);

    let second = issue(&shop.store, "T-200-30", &members, today());
    assert!(second.issued.is_empty());
    let skipped: Vec<(u64, SkipReason)> = second.skipped.iter().map(|s| (s.member_id, s.reason.clone())).collect();
    let at_limit = SkipReason::LimitReached { limit: 1, held: 1 };
    assert_eq!(skipped, [(1001, at_limit.clone()), (1002, at_limit.clone()), (1003, at_limit)]);
    assert_eq!(newest_seq(&shop.store), events_after_first, "a skipped member writes no event");

    // The limit and the id sequence survive a restart; a new member gets coupon 4.
    let shop = shop.reopen();
    let third = issue(&shop.store, "T-200-30", &[1003, 1004, 1004], today());
    assert_eq!(third.issued.iter().map(|c| (c.id, c.member_id)).collect::<Vec<_>>(), [(4, 1004)]);
    assert_eq!(third.skipped.iter().map(|s| s.member_id).collect::<Vec<_>>(), [1003, 1004]);
    assert_eq!(third.skipped[1].reason, SkipReason::ListedTwice);
    assert_eq!(coupons::member_coupons(&shop.store, 1004, false).unwrap().len(), 1);
    let stats = coupons::template_stats(&shop.store, "T-200-30").unwrap();
    assert_eq!(stats, TemplateStats { issued: 4, outstanding: 4, redeemed: 0, expired: 0, voided: 0 });
}

#[test]
fn an_issue_is_bounded_and_refuses_what_cannot_be_issued_writing_nothing() {
    let shop = Shop::open();
    let store = &shop.store;
    add_template(store, &spend_200_save_30());
    let before = newest_seq(store);

    let many: Vec<u64> = (1..=10_001).collect();
    let err = refusal(coupons::issue(store, "T-200-30", &many, None, today())).to_string();
    assert!(err.starts_with("10001 member ids given; at most 10000 per issue: split the list"), "{err}");

    let err = refusal(coupons::issue(store, "T-NOPE", &[1001], None, today())).to_string();
    assert_eq!(err, "no coupon template has id \"T-NOPE\"; `storehub coupons templates` lists them");

    let over = CouponTemplate {
        id: "T-DEC".into(),
        validity: Validity::Window { from: day(11, 1), to: day(11, 20) },
        ..spend_200_save_30()
    };
    add_template(store, &over);
    let err = refusal(coupons::issue(store, "T-DEC", &[1001], None, today())).to_string();
    assert!(err.contains("was valid until 2026-11-20"), "{err}");

    add_template(store, &CouponTemplate { active: false, ..spend_200_save_30() });
    let err = refusal(coupons::issue(store, "T-200-30", &[1001], None, today())).to_string();
    assert!(err.contains("\"T-200-30\" is not active"), "{err}");

    assert!(coupons::member_coupons(store, 1001, true).unwrap().is_empty());
    assert_eq!(newest_seq(store), before + 2, "only the two template changes");
}

#[test]
fn a_template_with_issued_coupons_keeps_its_terms() {
    let shop = Shop::open();
    let store = &shop.store;
    add_template(store, &spend_200_save_30());
    issue(store, "T-200-30", &[1001], today());
    let richer = CouponTemplate { kind: CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 5_000 }, ..spend_200_save_30() };
    let err = refusal(coupons::upsert_templates(store, &[richer])).to_string();
    assert!(err.contains("has 1 issued coupons, so its kind, min_spend_fen and categories are fixed"), "{err}");
    // Names, the limit and activity may change.
    let renamed = CouponTemplate { name_en: "Spend ¥200, save ¥30".into(), per_member_limit: 2, ..spend_200_save_30() };
    let s = coupons::upsert_templates(store, &[renamed]).unwrap();
    assert_eq!(s.updated, 1);
    assert_eq!(issue(store, "T-200-30", &[1001], today()).issued.len(), 1, "limit 2 now");
}

// --- At the till --------------------------------------------------------------------------------

#[test]
fn the_till_refuses_the_wrong_coupon_and_changes_nothing() {
    let shop = Shop::open();
    let store = &shop.store;
    add_template(store, &spend_200_save_30());
    let issued = issue(store, "T-200-30", &[1001, 1002], today()).issued;
    let (mine, theirs) = (issued[0].code.clone(), issued[1].code.clone());
    assert_eq!((mine.as_str(), theirs.as_str()), ("9900000000011", "9900000000028"));
    sell_with_coupon(store, &theirs, 1002, 42, day(11, 28));

    let check = |code: &str, member: Option<u64>, on: NaiveDate| -> String {
        let seq = newest_seq(store);
        let coupons_before = coupons::member_coupons(store, 1001, true).unwrap();
        let err = refusal(store.commit(|tx| coupons::check_for_sale_tx(tx, code, member, on)));
        assert_eq!(newest_seq(store), seq, "{code}: a refusal writes no event");
        assert_eq!(coupons::member_coupons(store, 1001, true).unwrap(), coupons_before, "{code}: nothing changed");
        err.to_string()
    };

    // Member 1002 hands over 1001's coupon.
    assert_eq!(
        check(&mine, Some(1002), day(11, 28)),
        "coupon 9900000000011 belongs to another member and cannot be used on this member's sale"
    );
    // Nobody identified as a member: the code alone is not enough (ids are sequential).
    assert!(check(&mine, None, day(11, 28)).contains("identify the member"));
    // The day after its last day, 24 December.
    assert_eq!(
        check(&mine, Some(1001), day(12, 25)),
        "coupon 9900000000011 has expired: it was valid from 2026-11-25 to 2026-12-24"
    );
    // Already used on sale 42.
    let used = check(&theirs, Some(1002), day(11, 29));
    assert!(used.starts_with("coupon 9900000000028 was already used on sale 42 at "), "{used}");
    // Mistyped: 9900000000021 (one digit wrong) fails its check digit, never reaching coupon 2.
    assert_eq!(
        check("9900000000021", Some(1002), day(11, 28)),
        "coupon code \"9900000000021\": wrong check digit 1; expected 8: a digit is mistyped, check it against the coupon"
    );
    // Right check digit, but no such coupon.
    let nobody = coupon_code(99).unwrap();
    assert_eq!(check(&nobody, Some(1001), day(11, 28)), format!("no coupon has code {nobody}; check it against the coupon, or scan it"));

    // The right member, within its dates: the pricing view takes ¥30 off a ¥236.40 basket.
    let (coupon, view) = store.commit(|tx| coupons::check_for_sale_tx(tx, &mine, Some(1001), day(11, 28))).unwrap();
    assert_eq!(coupon.id, 1);
    assert_eq!(view.id, "9900000000011", "the receipt names the coupon by its code");
    let basket = [BasketLine {
        line_no: 1,
        sku: "SKU-030001".into(),
        category: "粮油".into(),
        qty: Quantity::Units(2),
        unit_price_fen: 11_820,
        member_price_fen: None,
        label_price_fen: None,
        override_price_fen: None,
    }];
    let member = Shopper { member: true, tier_discount_bp: 0, tier_id: None };
    let priced = price_basket(&basket, &member, &[], &[view], local(11, 28, 10)).unwrap();
    assert_eq!((priced.subtotal_fen, priced.total_fen), (23_640, 20_640));
}

#[test]
fn redeemed_in_the_sale_commit_and_restored_by_a_full_return() {
    let shop = Shop::open();
    let store = &shop.store;
    add_template(store, &spend_200_save_30());
    let code = issue(store, "T-200-30", &[1001], today()).issued[0].code.clone();

    // The same coupon twice on one sale: the second redemption refuses the whole sale commit.
    let seq = newest_seq(store);
    let twice = store.commit(|tx| {
        let (c, _) = coupons::check_for_sale_tx(tx, &code, Some(1001), day(11, 28))?;
        coupons::redeem_tx(tx, c.id, 77)?;
        coupons::redeem_tx(tx, c.id, 77)
    });
    assert!(refusal(twice).to_string().contains("already used on sale 77"));
    assert_eq!(newest_seq(store), seq);
    assert_eq!(coupons::coupon(store, 1).unwrap().unwrap().state, CouponState::Issued);

    let redeemed = sell_with_coupon(store, &code, 1001, 77, day(11, 28));
    assert!(matches!(redeemed.state, CouponState::Redeemed { sale_id: 77, .. }));
    let ev = events_of_type(store, coupons::EVENT_COUPON_REDEEMED);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].data().unwrap(),
        serde_json::json!({
            "coupon_id": 1, "code": "9900000000011", "template_id": "T-200-30",
            "member_id": 1001, "campaign": "双十二预热", "sale_id": 77
        })
    );
    assert_eq!(coupons::member_coupons(store, 1001, false).unwrap().len(), 0, "used: not offered again");
    assert_eq!(coupons::member_coupons(store, 1001, true).unwrap().len(), 1);

    // A return of another sale cannot take it; the full return of sale 77 on 1 December can.
    let wrong = refusal(store.commit(|tx| coupons::restore_tx(tx, 1, 76, "return R-1", day(12, 1))));
    assert_eq!(wrong.to_string(), "coupon 9900000000011 is redeemed, not redeemed on sale 76; nothing to restore");
    let back = store.commit(|tx| coupons::restore_tx(tx, 1, 77, "full return R-2", day(12, 1))).unwrap();
    assert_eq!(back.state, CouponState::Issued);
    assert_eq!(back.last_restore.as_ref().map(|r| (r.sale_id, r.reason.as_str())), Some((77, "full return R-2")));
    let restored = events_of_type(store, coupons::EVENT_COUPON_RESTORED);
    assert_eq!(restored[0].data().unwrap()["restored_to"], "issued");
    assert_eq!(restored[0].data().unwrap()["sale_id"], 77);

    // Used again on sale 78, returned on 25 December, a day after its last: it comes back expired.
    sell_with_coupon(store, &code, 1001, 78, day(12, 20));
    let late = store.commit(|tx| coupons::restore_tx(tx, 1, 78, "full return R-3", day(12, 25))).unwrap();
    assert!(matches!(late.state, CouponState::Expired { .. }));
    let restored = events_of_type(store, coupons::EVENT_COUPON_RESTORED);
    assert_eq!(restored.len(), 2);
    assert_eq!(serde_json::from_value::<RestoredTo>(restored[1].data().unwrap()["restored_to"].clone()).unwrap(), RestoredTo::Expired);
    assert_eq!(events_of_type(store, coupons::EVENT_COUPON_EXPIRED).len(), 1);
    assert_eq!(coupons::expire_due(store, day(12, 26)).unwrap(), 0, "already expired");
}

// --- Jobs, staff and counts ------------------------------------------------------------------------

#[test]
fn the_expiry_job_expires_each_due_coupon_once_and_the_counts_follow() {
    let shop = Shop::open();
    let store = &shop.store;
    // A week's coupon: issued 25 November, last day 1 December.
    let week = CouponTemplate { id: "T-WEEK-5".into(), kind: CouponKind::Fixed { off_fen: 500 }, validity: Validity::DaysAfterIssue(7), ..spend_200_save_30() };
    add_template(store, &week);
    let codes: Vec<String> = issue(store, "T-WEEK-5", &[1001, 1002, 1003, 1004], today()).issued.into_iter().map(|c| c.code).collect();
    sell_with_coupon(store, &codes[0], 1001, 42, day(11, 30));
    coupons::void(store, 2, "staff-07", "issued to the wrong member").unwrap();
    assert_eq!(
        coupons::template_stats(store, "T-WEEK-5").unwrap(),
        TemplateStats { issued: 4, outstanding: 2, redeemed: 1, expired: 0, voided: 1 }
    );

    assert_eq!(coupons::expire_due(store, day(12, 1)).unwrap(), 0, "1 December is still a valid day");
    assert_eq!(coupons::expire_due(store, day(12, 2)).unwrap(), 2, "coupons 3 and 4");
    assert_eq!(coupons::expire_due(store, day(12, 2)).unwrap(), 0, "the second run expires nothing");
    assert_eq!(coupons::expire_due(store, day(12, 9)).unwrap(), 0);
    let expired = events_of_type(store, coupons::EVENT_COUPON_EXPIRED);
    assert_eq!(expired.iter().map(|e| e.data().unwrap()["coupon_id"].as_u64().unwrap()).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(expired[0].data().unwrap()["valid_to"], "2026-12-01");
    assert_eq!(
        coupons::template_stats(store, "T-WEEK-5").unwrap(),
        TemplateStats { issued: 4, outstanding: 0, redeemed: 1, expired: 2, voided: 1 }
    );
    assert!(matches!(coupons::template_stats(store, "T-NOPE"), Err(CouponError::UnknownTemplate(_))));

    // Expired and voided coupons cannot be voided again, nor used.
    let err = refusal(coupons::void(store, 3, "staff-07", "late")).to_string();
    assert_eq!(err, "coupon 9900000000035 is expired; only an issued coupon can be voided");
    let voided = refusal(store.commit(|tx| coupons::check_for_sale_tx(tx, &codes[1], Some(1002), day(11, 30)))).to_string();
    assert!(voided.contains("was voided by staff-07") && voided.contains("issued to the wrong member"), "{voided}");
    assert_eq!(coupons::coupon_by_code(store, &codes[3]).unwrap().map(|c| c.member_id), Some(1004));
}

#[test]
fn coupon_events_name_members_by_id_only() {
    let shop = Shop::open();
    let store = &shop.store;
    add_template(store, &spend_200_save_30());
    let codes: Vec<String> = issue(store, "T-200-30", &[1001, 1002, 1003], today()).issued.into_iter().map(|c| c.code).collect();
    sell_with_coupon(store, &codes[0], 1001, 42, day(11, 28));
    store.commit(|tx| coupons::restore_tx(tx, 1, 42, "退货 会员王芳 13812345678", day(11, 29))).unwrap();
    coupons::void(store, 2, "staff-07", "会员王芳 13812345678 来电投诉").unwrap();
    coupons::expire_due(store, day(12, 25)).unwrap();

    let allowed = [
        "coupon_id", "code", "template_id", "member_id", "campaign", "valid_from", "valid_to", "sale_id", "by",
        "restored_to",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for e in outbox(store).iter().filter(|e| e.event_type.starts_with("storehub.coupon.") && e.event_type != coupons::EVENT_TEMPLATE_UPSERTED) {
        seen.insert(e.event_type.clone());
        let data = e.data().unwrap();
        for key in data.as_object().unwrap().keys() {
            assert!(allowed.contains(&key.as_str()), "{}: field {key} is not an id", e.event_type);
        }
        assert!(!e.data_json.contains("13812345678") && !e.data_json.contains("王芳"), "{}: {}", e.event_type, e.data_json);
        assert!(data["member_id"].is_u64());
    }
    let expected: std::collections::BTreeSet<String> = [
        coupons::EVENT_COUPON_ISSUED,
        coupons::EVENT_COUPON_REDEEMED,
        coupons::EVENT_COUPON_RESTORED,
        coupons::EVENT_COUPON_VOIDED,
        coupons::EVENT_COUPON_EXPIRED,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(seen, expected);
    // The reasons stay in the store, on the coupon.
    let voided = coupons::coupon(store, 2).unwrap().unwrap();
    assert!(matches!(voided.state, CouponState::Voided { ref reason, .. } if reason.contains("来电投诉")));
}

// --- CLI ------------------------------------------------------------------------------------------

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn cli_coupons_issue_prints_the_codes_and_skips_members_at_their_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    let templates = tmp.path().join("templates.json");
    std::fs::write(&templates, serde_json::to_string_pretty(&spend_200_save_30()).unwrap()).unwrap();
    let out = storehub_cmd(&["--data-dir", d, "coupons", "template-add", templates.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("imported 1 coupon templates from"), "{}", stderr(&out));

    let members = tmp.path().join("members.txt");
    std::fs::write(&members, "member_id\n1002\n# 1003 joined yesterday\n1003\n1001\n").unwrap();
    let issue = |extra: &[&str]| {
        let mut args = vec!["--data-dir", d, "coupons", "issue", "--template", "T-200-30", "--campaign", "双十二预热"];
        args.extend_from_slice(extra);
        storehub_cmd(&args)
    };
    let out = issue(&["--member", "1001", "--members-file", members.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("issued 3 coupons of T-200-30; 1 members skipped"), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let issued: Vec<(u64, &str)> = summary["issued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["member_id"].as_u64().unwrap(), c["code"].as_str().unwrap()))
        .collect();
    assert_eq!(issued, [(1001, "9900000000011"), (1002, "9900000000028"), (1003, "9900000000035")]);
    assert_eq!(summary["skipped"], serde_json::json!([{ "member_id": 1001, "reason": "listed_twice" }]));

    let again = issue(&["--member", "1001"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(summary["skipped"], serde_json::json!([{ "member_id": 1001, "reason": "limit_reached", "limit": 1, "held": 1 }]));

    let show = storehub_cmd(&["--data-dir", d, "coupons", "show", "9900000000028"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!((shown["coupon"]["member_id"].as_u64(), shown["template"]["name_zh"].as_str()), (Some(1002), Some("满200减30券")));

    let typo = storehub_cmd(&["--data-dir", d, "coupons", "show", "9900000000029"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(stderr(&typo).contains("wrong check digit 9; expected 8"), "{}", stderr(&typo));

    let void = storehub_cmd(&["--data-dir", d, "coupons", "void", "9900000000028", "--by", "staff-07", "--reason", "duplicate"]);
    assert!(void.status.success(), "{}", stderr(&void));
    let listed = storehub_cmd(&["--data-dir", d, "coupons", "list", "--member", "1002"]);
    assert_eq!(stdout(&listed).trim(), "[]", "a voided coupon is not offered");
    let all = storehub_cmd(&["--data-dir", d, "coupons", "list", "--member", "1002", "--all"]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout(&all)).unwrap().as_array().unwrap().len(), 1);

    let big = tmp.path().join("big.txt");
    std::fs::write(&big, (1..=10_001).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    let out = issue(&["--members-file", big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("10001 member ids given; at most 10000 per issue"), "{}", stderr(&out));

    let stats = storehub_cmd(&["--data-dir", d, "coupons", "templates"]);
    let stats: serde_json::Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert_eq!(stats[0]["usage"], serde_json::json!({ "issued": 3, "outstanding": 2, "redeemed": 0, "expired": 0, "voided": 1 }));
}

#[test]
fn cli_a_bad_import_names_file_index_and_field_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    let good = tmp.path().join("good.json");
    std::fs::write(&good, THREE_PROMOTIONS.replace("BP", "2000")).unwrap();
    let out = storehub_cmd(&["--data-dir", d, "promotions", "import", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("imported 3 promotions from"), "{}", stderr(&out));

    // [0] changes its window (valid), [1] asks for 120 %, [2] misspells "window".
    let bad = tmp.path().join("bad.json");
    let text = THREE_PROMOTIONS
        .replace("2026-10-08T00:00:00", "2026-10-09T00:00:00")
        .replace("BP", "12000")
        .replace("\"window\": null, \"members_only\": false", "\"windw\": null, \"members_only\": false");
    std::fs::write(&bad, text).unwrap();
    let out = storehub_cmd(&["--data-dir", d, "promotions", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let name = bad.display().to_string();
    assert!(err.contains(&format!("{name}: [1] (id \"P-DRINKS\"): kind.bp: 12000 bp is more than 100% (10000 bp)")), "{err}");
    assert!(err.contains(&format!("{name}: [2] (id \"P-WATER-2-1\"): windw: unknown field")), "{err}");
    assert!(err.trim_end().ends_with("nothing imported"), "{err}");
    let list = storehub_cmd(&["--data-dir", d, "promotions", "list"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[1]["window"]["end"], "2026-10-08T00:00:00", "[0]'s change was not written either");

    // A template file with a bad validity, named the same way.
    let t = tmp.path().join("t.json");
    let mut template = serde_json::to_value(spend_200_save_30()).unwrap();
    template["validity"] = serde_json::json!({ "days_after_issue": 0 });
    std::fs::write(&t, serde_json::to_string(&vec![template]).unwrap()).unwrap();
    let out = storehub_cmd(&["--data-dir", d, "coupons", "template-add", t.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("[0] (id \"T-200-30\"): validity.days_after_issue: 0: must be 1 to 3660"), "{}", stderr(&out));
    let templates = storehub_cmd(&["--data-dir", d, "coupons", "templates"]);
    assert_eq!(stdout(&templates).trim(), "[]");
}
