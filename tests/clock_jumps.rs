//! Clock jumps: a box without a real-time clock boots in 1970 until NTP syncs, and a clock can
//! be stepped back. Date-driven jobs wait for a sane clock and then run once; sales go on,
//! ordered by their gapless id, and record that their time was not trusted; HQ gets
//! `storehub.system.clock_insane` / `clock_ok`. (ManualClock: no sleeping.)

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::clock::ManualClock;
use storehub::clock_watch::{self, EVENT_CLOCK_INSANE, EVENT_CLOCK_OK};
use storehub::domain::clock_sanity::ClockVerdict;
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::members::LoyaltyRules;
use storehub::staff::StaffRef;
use storehub::store::{Durability, Store};

use common::*;

const WATER: &str = "6907674936533";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn rules() -> SaleRules {
    SaleRules { cash_rounding: CashRounding::None, promotions: Vec::new(), tz: chrono_tz::Asia::Shanghai, loyalty: Default::default() }
}

/// A shop with water in stock, a cashier signed in at lane-1 and a shift open.
fn open_shop(dir: &std::path::Path, clock: &ManualClock) -> (Arc<Store>, Arc<Lanes>) {
    let store = Arc::new(open_store(dir, clock, Durability::Durable));
    load(&store, &[water()]);
    storehub::inventory::move_stock(&store, &request(storehub::domain::stock::MoveKind::Receipt, "SKU-010001", 10)).unwrap();
    let new = storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier };
    storehub::staff::create_staff(&store, &new, "correct horse", Some("2468"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
    storehub::staff::open_shift(&store, "lane-1", "wang", 10_000).unwrap();
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    (store, lanes)
}

/// One water (¥2.00) paid with exact cash.
fn sell_water(lanes: &Lanes) -> storehub::checkout::Sale {
    lanes.scan("lane-1", WATER).unwrap();
    lanes.pay("lane-1", &PayRequest { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: 200, reference: None, points: None }] }, &rules()).unwrap()
}

#[test]
fn a_box_booting_in_1970_sells_flagged_and_runs_its_jobs_once_the_clock_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t("1970-01-01T00:01:00Z"));
    let (store, lanes) = open_shop(dir.path(), &clock);
    let loyalty = LoyaltyRules::default();

    // 1970: the daily jobs (points and coupon expiry, tiers, birthdays) do not run…
    assert_eq!(storehub::daemon::daily_jobs_tick(&store, None, &loyalty), None);
    assert!(!clock_watch::jobs_may_run(&store, "test"));
    // …but the shop sells: sale 1, its time flagged as not trusted.
    let first = sell_water(&lanes);
    assert_eq!((first.id, first.at, first.clock_unsynced), (1, t("1970-01-01T00:01:00Z"), true));
    let insane = events_of_type(&store, EVENT_CLOCK_INSANE);
    assert_eq!(insane.len(), 1, "one alarm, not one per check");
    assert_eq!(insane[0].data().unwrap()["verdict"]["state"], "unsynced");

    // NTP syncs: 2026-11-26 10:00 in Shanghai. The jobs run, once for the day.
    clock.set(t("2026-11-26T02:00:00Z"));
    let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    assert_eq!(storehub::daemon::daily_jobs_tick(&store, None, &loyalty), Some(today));
    assert_eq!(storehub::daemon::daily_jobs_tick(&store, Some(today), &loyalty), None, "not twice on one day");
    let second = sell_water(&lanes);
    assert_eq!((second.id, second.clock_unsynced), (2, false));
    assert_eq!(events_of_type(&store, EVENT_CLOCK_OK).len(), 1);

    // Both sales as stored, after a restart: the id orders them, the flag says which time to doubt.
    drop(lanes);
    drop(store);
    let store = open_store(dir.path(), &clock, Durability::Durable);
    let stored: Vec<(u64, bool)> = storehub::checkout::sale::all_sales(&store).unwrap().iter().map(|s| (s.id, s.clock_unsynced)).collect();
    assert_eq!(stored, vec![(1, true), (2, false)]);
}

#[test]
fn a_clock_stepped_back_three_hours_is_detected_and_clears_once_it_passes_the_mark() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t("2026-11-26T12:00:00Z"));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert_eq!(clock_watch::observe(&store).unwrap(), ClockVerdict::Sane);

    // 12:00 → 09:00: 10 800 s behind the mark of 12:00.
    clock.advance(Duration::hours(-3));
    let v = clock_watch::observe(&store).unwrap();
    assert_eq!(v, ClockVerdict::SteppedBack { now: t("2026-11-26T09:00:00Z"), mark: t("2026-11-26T12:00:00Z"), behind_s: 10_800 });
    assert!(!clock_watch::jobs_may_run(&store, "test"));
    let alarm = events_of_type(&store, EVENT_CLOCK_INSANE);
    assert_eq!(alarm.len(), 1);
    let message = alarm[0].data().unwrap()["message"].as_str().unwrap().to_string();
    assert!(message.contains("180 min behind") && message.contains("timedatectl"), "{message}");

    // Within the 10-minute tolerance (11:55) it is sane again; the mark stayed at 12:00.
    clock.set(t("2026-11-26T11:55:00Z"));
    assert_eq!(clock_watch::observe(&store).unwrap(), ClockVerdict::Sane);
    assert_eq!(events_of_type(&store, EVENT_CLOCK_OK).len(), 1);
    // A restart keeps the mark: 09:00 again is still a step back.
    drop(store);
    clock.set(t("2026-11-26T09:00:00Z"));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert!(!clock_watch::peek(&store).unwrap().is_sane());
}

#[test]
fn a_mark_left_a_year_ahead_by_a_wrong_clock_is_reset_by_the_technician_and_audited() {
    // The box's clock was set a year ahead by hand; a sale then raised the mark to that time.
    let dir = tempfile::tempdir().unwrap();
    let real_now = Utc::now();
    let clock = ManualClock::new(real_now + Duration::days(365));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert_eq!(clock_watch::observe(&store).unwrap(), ClockVerdict::Sane);
    // NTP puts the clock right: a year behind the mark, so the date-driven jobs would wait a
    // year. The daemon's next job tick records the alarm for HQ.
    clock.set(real_now);
    assert!(!clock_watch::jobs_may_run(&store, "test"));
    assert_eq!(events_of_type(&store, EVENT_CLOCK_INSANE).len(), 1);
    drop(store);
    let d = dir.path().to_str().unwrap();

    // The CLI runs on the real clock.
    let status = ok_json(storehub_cmd(&["--data-dir", d, "clock", "status"]));
    assert_eq!(status["verdict"]["state"], "stepped_back", "{status}");
    assert!(status["message"].as_str().unwrap().contains("storehub clock reset-mark"), "{status}");

    let reset = ok_json(storehub_cmd(&["--data-dir", d, "clock", "reset-mark"]));
    let old: DateTime<Utc> = reset["old_mark"].as_str().unwrap().parse().unwrap();
    let new: DateTime<Utc> = reset["new_mark"].as_str().unwrap().parse().unwrap();
    assert_eq!(old, real_now + Duration::days(365));
    assert!(new >= real_now && new < real_now + Duration::hours(1), "{reset}");

    let status = ok_json(storehub_cmd(&["--data-dir", d, "clock", "status"]));
    assert_eq!(status["verdict"]["state"], "sane", "{status}");
    // Once only: a sane clock has nothing to reset, and the refusal says so.
    refused(storehub_cmd(&["--data-dir", d, "clock", "reset-mark"]), "the mark needs no reset");

    let audit = ok_json(storehub_cmd(&["--data-dir", d, "audit", "--action", "clock_mark_reset"]));
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor"], "cli");
    assert!(entries[0]["detail"].as_str().unwrap().starts_with("high-water mark "), "{audit}");

    // HQ heard the alarm end: the reset's commit carries the clock_ok event.
    let store = open_store(dir.path(), &ManualClock::new(Utc::now()), Durability::Durable);
    assert_eq!(events_of_type(&store, EVENT_CLOCK_OK).len(), 1);
    assert!(clock_watch::jobs_may_run(&store, "test"));
}

#[test]
fn a_mark_reset_is_refused_while_the_clock_is_unsynced() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(t("2026-11-26T12:00:00Z"));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    clock_watch::observe(&store).unwrap();
    clock.set(t("1970-01-01T00:01:00Z"));
    let refused = clock_watch::reset_mark(&store, "cli").unwrap_err();
    assert!(matches!(refused, storehub::store::CommitError::Rejected(storehub::domain::clock_sanity::ResetRefused::Unsynced { .. })));
    // Nothing changed: the mark is still 12:00 and no audit entry was written.
    clock.set(t("2026-11-26T09:00:00Z"));
    assert_eq!(clock_watch::status(&store).unwrap().mark, Some(t("2026-11-26T12:00:00Z")));
    let audited = storehub::audit::list(&store, &storehub::audit::AuditFilter { action: Some(storehub::audit::AuditAction::ClockMarkReset), ..Default::default() }).unwrap();
    assert!(audited.is_empty());
}
