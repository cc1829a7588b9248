//! Staff and shifts as a shop meets them: 李娜 logs in at lane 1 with her password and her PIN,
//! mistypes her PIN five times and waits out the lock on the test clock, a technician is kept
//! away from the till, a shift opened with a ¥500 float closes ¥1.00 short, a second shift on a
//! busy lane is refused without a trace, and no hash, password or PIN ever shows in `staff list`
//! or in an event on its way to HQ. The CLI is driven as a technician would, daemon or not.

mod common;

use std::process::Output;

use chrono::TimeZone;
use storehub::domain::staff::{allows, Action, Role};
use storehub::staff::{
    self, CashFlow, HashCost, LoginError, NewStaff, ShiftError, StaffError, StaffLocked, EVENT_SHIFT_CLOSED,
    EVENT_SHIFT_OPENED, EVENT_STAFF_CREATED, EVENT_STAFF_LOCKED,
};
use storehub::store::{CommitError, Store};

use common::*;

const LI_NA_PASSWORD: &str = "Lane1-morning!";
const LI_NA_PIN: &str = "860412";
const WANG_PASSWORD: &str = "manager-wang-2026";
const WANG_PIN: &str = "7391";

fn cost() -> HashCost {
    HashCost::minimal_for_tests()
}

fn add(store: &Store, id: &str, name: &str, role: Role, password: &str, pin: Option<&str>) {
    let new = NewStaff { id: id.into(), name: name.into(), role };
    if let Err(e) = staff::create_staff(store, &new, password, pin, &cost()) {
        panic!("cannot create {id}: {e}");
    }
}

/// A shop with cashier 李娜 (li-na) and manager 王强 (wang), both with a PIN.
fn shop_with_staff() -> Shop {
    let shop = Shop::open();
    add(&shop.store, "li-na", "李娜", Role::Cashier, LI_NA_PASSWORD, Some(LI_NA_PIN));
    add(&shop.store, "wang", "王强", Role::Manager, WANG_PASSWORD, Some(WANG_PIN));
    shop
}

/// The message of a refused change, after checking it was a refusal.
fn refusal<T: std::fmt::Debug, E: std::fmt::Display + std::fmt::Debug>(r: Result<T, CommitError<E>>) -> String {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(CommitError::Rejected(e)) => e.to_string(),
        Err(e) => panic!("store failure instead of a refusal: {e}"),
    }
}

// --- logins -------------------------------------------------------------------------------------

#[test]
fn li_na_logs_in_with_her_password_and_with_her_pin() {
    let shop = shop_with_staff();
    let by_password = staff::login_password(&shop.store, "li-na", LI_NA_PASSWORD).unwrap();
    assert_eq!((by_password.id.as_str(), by_password.name.as_str(), by_password.role), ("li-na", "李娜", Role::Cashier));
    let by_pin = staff::login_pin(&shop.store, "li-na", LI_NA_PIN).unwrap();
    assert_eq!(by_pin, by_password);
    assert!(by_pin.may(Action::Sell) && !by_pin.may(Action::VoidSession));

    // The password is not a PIN, nor the PIN a password.
    assert!(matches!(staff::login_pin(&shop.store, "li-na", LI_NA_PASSWORD), Err(LoginError::WrongPin)));
    assert!(matches!(staff::login_password(&shop.store, "li-na", LI_NA_PIN), Err(LoginError::WrongPassword)));
}

#[test]
fn a_wrong_id_and_a_wrong_password_read_the_same() {
    let shop = shop_with_staff();
    let wrong_password = staff::login_password(&shop.store, "li-na", "Lane1-evening!").unwrap_err().to_string();
    let no_such_id = staff::login_password(&shop.store, "zhang-wei", LI_NA_PASSWORD).unwrap_err().to_string();
    let not_an_id = staff::login_password(&shop.store, "Li Na", LI_NA_PASSWORD).unwrap_err().to_string();
    assert_eq!(wrong_password, "wrong staff id or password");
    assert_eq!(no_such_id, wrong_password);
    assert_eq!(not_an_id, wrong_password);
    let wrong_pin = staff::login_pin(&shop.store, "li-na", "0000").unwrap_err().to_string();
    assert_eq!(wrong_pin, "wrong staff id or PIN");
    assert_eq!(staff::login_pin(&shop.store, "zhang-wei", "0000").unwrap_err().to_string(), wrong_pin);

    // An account without a PIN refuses PIN logins the same way.
    add(&shop.store, "chen", "陈晨", Role::Cashier, "chen-password", None);
    assert_eq!(staff::login_pin(&shop.store, "chen", "1234").unwrap_err().to_string(), wrong_pin);
}

#[test]
fn five_wrong_pins_lock_li_na_out_for_five_minutes_even_with_the_right_pin() {
    let shop = shop_with_staff();
    for attempt in 1..=4 {
        let err = staff::login_pin(&shop.store, "li-na", "111111").unwrap_err();
        assert!(matches!(err, LoginError::WrongPin), "attempt {attempt}: {err}");
        assert_eq!(staff::staff_info(&shop.store, "li-na").unwrap().unwrap().failures, attempt);
    }
    assert!(events_of_type(&shop.store, EVENT_STAFF_LOCKED).is_empty(), "four failures do not lock");

    // The fifth wrong PIN locks until 09:05.
    let until = chrono::Utc.with_ymd_and_hms(2026, 11, 25, 9, 5, 0).unwrap();
    match staff::login_pin(&shop.store, "li-na", "111111") {
        Err(LoginError::Locked { id, failures: 5, until: u }) => assert_eq!((id.as_str(), u), ("li-na", until)),
        other => panic!("fifth failure: {other:?}"),
    }
    let locked = events_of_type(&shop.store, EVENT_STAFF_LOCKED);
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].subject.as_deref(), Some("li-na"));
    let data: StaffLocked = serde_json::from_str(&locked[0].data_json).unwrap();
    assert_eq!(data, StaffLocked { id: "li-na".into(), failures: 5, until });

    // The sixth attempt, with the right PIN, is refused, and the message names the unlock time.
    shop.clock.advance(chrono::Duration::minutes(4));
    let sixth = staff::login_pin(&shop.store, "li-na", LI_NA_PIN).unwrap_err();
    assert!(matches!(sixth, LoginError::Locked { .. }), "{sixth:?}");
    assert_eq!(
        sixth.to_string(),
        "staff li-na is locked after 5 failed attempts until 2026-11-25 09:05:00 UTC; try again then, or ask an admin to run `storehub staff unlock li-na`"
    );
    // The password is refused too: the lock is on the account, not on the PIN.
    assert!(matches!(staff::login_password(&shop.store, "li-na", LI_NA_PASSWORD), Err(LoginError::Locked { .. })));
    // Attempts during the lock neither count nor lengthen it; other staff are not affected.
    assert_eq!(staff::staff_info(&shop.store, "li-na").unwrap().unwrap().locked_until, Some(until));
    staff::login_pin(&shop.store, "wang", WANG_PIN).unwrap();

    // At 09:05 the right PIN works again and the failures are forgotten.
    shop.clock.advance(chrono::Duration::minutes(1));
    let who = staff::login_pin(&shop.store, "li-na", LI_NA_PIN).unwrap();
    assert_eq!(who.id, "li-na");
    let info = staff::staff_info(&shop.store, "li-na").unwrap().unwrap();
    assert_eq!((info.failures, info.locked_until), (0, None));
    assert_eq!(events_of_type(&shop.store, EVENT_STAFF_LOCKED).len(), 1, "one lock, one event");
}

#[test]
fn wrong_passwords_and_wrong_pins_count_together_and_an_unlock_clears_them() {
    let shop = shop_with_staff();
    for _ in 0..2 {
        staff::login_password(&shop.store, "li-na", "not-her-password").unwrap_err();
        staff::login_pin(&shop.store, "li-na", "2222").unwrap_err();
    }
    let fifth = staff::login_password(&shop.store, "li-na", "not-her-password").unwrap_err();
    assert!(matches!(fifth, LoginError::Locked { failures: 5, .. }), "{fifth:?}");

    let info = staff::unlock(&shop.store, "li-na").unwrap();
    assert_eq!((info.failures, info.locked_until), (0, None));
    staff::login_pin(&shop.store, "li-na", LI_NA_PIN).unwrap();
    assert_eq!(events_of_type(&shop.store, staff::EVENT_STAFF_UNLOCKED).len(), 1);
}

#[test]
fn a_deactivated_account_cannot_log_in_or_open_a_shift() {
    let shop = shop_with_staff();
    staff::deactivate(&shop.store, "li-na").unwrap();
    let err = staff::login_pin(&shop.store, "li-na", LI_NA_PIN).unwrap_err().to_string();
    assert_eq!(err, "staff li-na is deactivated; ask an admin");
    assert_eq!(staff::login_pin(&shop.store, "li-na", "0000").unwrap_err().to_string(), "wrong staff id or PIN");
    let msg = refusal(staff::open_shift(&shop.store, "lane-1", "li-na", 50_000));
    assert_eq!(msg, "staff li-na is deactivated");
}

#[test]
fn new_secrets_replace_the_old_ones_and_a_cleared_pin_no_longer_logs_in() {
    let shop = shop_with_staff();
    staff::set_password(&shop.store, "li-na", "Lane1-afternoon!", &cost()).unwrap();
    assert!(staff::login_password(&shop.store, "li-na", LI_NA_PASSWORD).is_err());
    staff::login_password(&shop.store, "li-na", "Lane1-afternoon!").unwrap();

    staff::set_pin(&shop.store, "li-na", Some("5150"), &cost()).unwrap();
    staff::login_pin(&shop.store, "li-na", "5150").unwrap();
    let info = staff::set_pin(&shop.store, "li-na", None, &cost()).unwrap();
    assert!(!info.has_pin);
    assert!(matches!(staff::login_pin(&shop.store, "li-na", "5150"), Err(LoginError::WrongPin)));

    assert!(refusal(staff::set_pin(&shop.store, "li-na", Some("515"), &cost())).contains("PIN: must be 4 to 6 digits"));
    assert!(refusal(staff::set_password(&shop.store, "li-na", "short", &cost())).contains("at least 8 characters"));
    assert_eq!(
        refusal(staff::set_password(&shop.store, "nobody", "long enough", &cost())),
        "no staff account nobody; `storehub staff list` shows the accounts"
    );
}

#[test]
fn accounts_are_refused_with_the_rule_they_break_and_nothing_is_written() {
    let shop = shop_with_staff();
    let before = (staff::list_staff(&shop.store).unwrap(), outbox(&shop.store));
    let new = |id: &str, name: &str| NewStaff { id: id.into(), name: name.into(), role: Role::Cashier };
    for (account, password, pin, message) in [
        (new("li-na", "李娜二"), "another-pass", None, "staff li-na already exists"),
        (new("Zhang Wei", "张伟"), "zhang-wei-pass", None, "staff id: expected 1 to 64 lowercase letters"),
        (new("zhang-wei", ""), "zhang-wei-pass", None, "staff name: must be 1 to 64 characters"),
        (new("zhang-wei", "张伟"), "1234567", None, "password: must have at least 8 characters, got 7"),
        (new("zhang-wei", "张伟"), "zhang-wei-pass", Some("123"), "PIN: must be 4 to 6 digits (0-9), got 3 characters"),
        (new("zhang-wei", "张伟"), "zhang-wei-pass", Some("12ab"), "got a character that is not a digit"),
    ] {
        let msg = refusal(staff::create_staff(&shop.store, &account, password, pin, &cost()));
        assert!(msg.contains(message), "{} / {pin:?}: {msg}", account.id);
    }
    assert_eq!((staff::list_staff(&shop.store).unwrap(), outbox(&shop.store)), before);
}

// --- roles --------------------------------------------------------------------------------------

#[test]
fn a_technician_cannot_be_given_the_till() {
    let shop = shop_with_staff();
    add(&shop.store, "tom", "汤姆", Role::Technician, "tech-tom-pass", None);
    // No per-account grants exist: what the role allows is all there is.
    assert!(!allows(Role::Technician, Action::Sell));
    assert!(!allows(Role::Technician, Action::Return));
    let who = staff::login_password(&shop.store, "tom", "tech-tom-pass").unwrap();
    assert!(!who.may(Action::Sell) && who.may(Action::Configure) && who.may(Action::Recover));

    let msg = refusal(staff::authorize(&shop.store, "tom", Action::Sell));
    assert_eq!(msg, "staff tom is a technician and may not sell");
    let events = outbox(&shop.store);
    let msg = refusal(staff::open_shift(&shop.store, "lane-1", "tom", 50_000));
    assert_eq!(msg, "staff tom is a technician and may not open a shift");
    assert_eq!(staff::open_shift_for_lane(&shop.store, "lane-1").unwrap(), None);
    assert_eq!(outbox(&shop.store), events, "a refused shift writes no event");

    // Only a change of role changes what the account may do.
    staff::set_role(&shop.store, "tom", Role::Cashier).unwrap();
    assert_eq!(staff::authorize(&shop.store, "tom", Action::Sell).unwrap().role, Role::Cashier);
    assert!(matches!(
        staff::authorize(&shop.store, "tom", Action::ManageStaff),
        Err(CommitError::Rejected(StaffError::Forbidden { action: Action::ManageStaff, .. }))
    ));
}

// --- shifts -------------------------------------------------------------------------------------

fn cash(store: &Store, shift: u64, flow: CashFlow) {
    if let Err(e) = store.commit(|tx| staff::record_cash_tx(tx, shift, flow)) {
        panic!("{flow:?} on shift {shift} refused: {e}");
    }
}

#[test]
fn a_shift_with_a_500_float_closes_one_yuan_short() {
    let shop = shop_with_staff();
    let opened = staff::open_shift(&shop.store, "lane-1", "li-na", 50_000).unwrap();
    assert_eq!((opened.id, opened.lane.as_str(), opened.staff.as_str(), opened.float_fen), (1, "lane-1", "li-na", 50_000));
    assert_eq!(opened.opened_at, opening_time());
    assert_eq!(events_of_type(&shop.store, EVENT_SHIFT_OPENED).len(), 1);

    // The morning: ¥1,236.40 of cash sales in three baskets, one ¥36.40 refund.
    cash(&shop.store, 1, CashFlow::Sale(88_800));
    cash(&shop.store, 1, CashFlow::Sale(23_640));
    cash(&shop.store, 1, CashFlow::Sale(11_200));
    cash(&shop.store, 1, CashFlow::Refund(3_640));
    let running = staff::open_shift_for_lane(&shop.store, "lane-1").unwrap().unwrap();
    assert_eq!((running.cash_sales_fen, running.cash_refunds_fen), (123_640, 3_640));
    assert_eq!(running.expected_cash_fen(), 170_000);

    // 李娜 counts ¥1,699.00 at 14:00.
    shop.clock.advance(chrono::Duration::hours(5));
    let closed = staff::close_shift(&shop.store, 1, 169_900, "li-na").unwrap();
    let c = closed.closed.clone().unwrap();
    assert_eq!((c.expected_fen, c.counted_fen, c.difference_fen), (170_000, 169_900, -100));
    assert_eq!((c.closed_by.as_str(), c.at), ("li-na", opening_time() + chrono::Duration::hours(5)));
    assert_eq!(staff::shift(&shop.store, 1).unwrap(), Some(closed.clone()));

    let events = events_of_type(&shop.store, EVENT_SHIFT_CLOSED);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject.as_deref(), Some("lane-1"));
    let data = events[0].data().unwrap();
    assert_eq!(data["closed"]["expected_fen"], 170_000);
    assert_eq!(data["closed"]["difference_fen"], -100);

    // The lane is free for the afternoon shift; the closed one takes no more cash.
    assert_eq!(staff::open_shift_for_lane(&shop.store, "lane-1").unwrap(), None);
    let afternoon = staff::open_shift(&shop.store, "lane-1", "wang", 30_000).unwrap();
    assert_eq!(afternoon.id, 2);
    let late = shop.store.commit(|tx| staff::record_cash_tx(tx, 1, CashFlow::Sale(500)));
    assert!(matches!(late, Err(CommitError::Rejected(ShiftError::Closed { id: 1, .. }))), "{late:?}");
    assert_eq!(staff::shift(&shop.store, 1).unwrap(), Some(closed));
}

#[test]
fn paid_in_change_and_a_paid_out_delivery_count_in_the_drawer() {
    let shop = shop_with_staff();
    let s = staff::open_shift(&shop.store, "lane-2", "wang", 30_000).unwrap().id;
    cash(&shop.store, s, CashFlow::Sale(200_000));
    cash(&shop.store, s, CashFlow::PaidIn(20_000));
    cash(&shop.store, s, CashFlow::PaidOut(15_050));
    let c = staff::close_shift(&shop.store, s, 235_200, "wang").unwrap().closed.unwrap();
    assert_eq!((c.expected_fen, c.difference_fen), (234_950, 250), "¥2.50 over");
}

#[test]
fn a_second_shift_on_a_busy_lane_is_refused_and_changes_nothing() {
    let shop = shop_with_staff();
    staff::open_shift(&shop.store, "lane-1", "li-na", 50_000).unwrap();
    cash(&shop.store, 1, CashFlow::Sale(1_000));
    let shifts = staff::open_shifts(&shop.store).unwrap();
    let events = outbox(&shop.store);

    shop.clock.advance(chrono::Duration::minutes(30));
    let msg = refusal(staff::open_shift(&shop.store, "lane-1", "wang", 20_000));
    assert_eq!(
        msg,
        "lane lane-1 already has shift 1 open (opened by li-na at 2026-11-25 09:00 UTC); close it first with `storehub shift close 1 --counted-fen N --by STAFF`"
    );
    assert_eq!(staff::open_shifts(&shop.store).unwrap(), shifts);
    assert_eq!(outbox(&shop.store), events);

    // Another lane is free; the refused shift took no id.
    let other = staff::open_shift(&shop.store, "lane-2", "wang", 20_000).unwrap();
    assert_eq!(other.id, 2);
    let lanes: Vec<String> = staff::open_shifts(&shop.store).unwrap().into_iter().map(|s| s.lane).collect();
    assert_eq!(lanes, ["lane-1", "lane-2"]);
}

#[test]
fn a_cashier_closes_only_her_own_shift_a_manager_any() {
    let shop = shop_with_staff();
    add(&shop.store, "chen", "陈晨", Role::Cashier, "chen-password", None);
    let s = staff::open_shift(&shop.store, "lane-1", "li-na", 50_000).unwrap().id;
    let msg = refusal(staff::close_shift(&shop.store, s, 50_000, "chen"));
    assert_eq!(
        msg,
        "staff chen may not close shift 1 of li-na: a cashier closes only their own shift; a manager or admin closes anyone's"
    );
    assert!(staff::open_shift_for_lane(&shop.store, "lane-1").unwrap().is_some());
    let c = staff::close_shift(&shop.store, s, 50_000, "wang").unwrap().closed.unwrap();
    assert_eq!((c.closed_by.as_str(), c.difference_fen), ("wang", 0));
    assert!(refusal(staff::close_shift(&shop.store, s, 50_000, "wang")).starts_with("shift 1 was already closed at"));
}

#[test]
fn shift_amounts_and_lanes_are_checked_before_anything_is_written() {
    let shop = shop_with_staff();
    assert_eq!(refusal(staff::open_shift(&shop.store, "lane-1", "li-na", -1)), "the float must not be negative, got -1 fen");
    assert!(refusal(staff::open_shift(&shop.store, "Lane 1", "li-na", 0)).starts_with("lane id: expected 1 to 64"));
    assert_eq!(
        refusal(staff::open_shift(&shop.store, "lane-1", "nobody", 0)),
        "no staff account nobody; `storehub staff list` shows the accounts"
    );
    let s = staff::open_shift(&shop.store, "lane-1", "li-na", 0).unwrap().id;
    let neg = shop.store.commit(|tx| staff::record_cash_tx(tx, s, CashFlow::Refund(-5)));
    assert_eq!(refusal(neg), "cash refund must not be negative, got -5 fen");
    let unknown = shop.store.commit(|tx| staff::record_cash_tx(tx, 99, CashFlow::Sale(5)));
    assert_eq!(refusal(unknown), "no shift 99; `storehub shift show` lists the open ones");
    assert_eq!(refusal(staff::close_shift(&shop.store, s, -100, "li-na")), "the counted cash must not be negative, got -100 fen");
    assert_eq!(staff::shift(&shop.store, s).unwrap().unwrap().cash_refunds_fen, 0);
}

#[test]
fn cash_recorded_in_a_refused_sale_commit_is_not_kept() {
    let shop = shop_with_staff();
    let s = staff::open_shift(&shop.store, "lane-1", "li-na", 50_000).unwrap().id;
    // Checkout records the cash inside its own sale commit; when the sale is refused after it,
    // the drawer's figures stay as they were.
    let r: Result<(), CommitError<String>> = shop.store.commit(|tx| {
        let open = staff::open_shift_in_tx::<String>(tx, "lane-1")?.expect("lane-1 has a shift");
        staff::record_cash_tx(tx, open.id, CashFlow::Sale(1_200)).map_err(|e| match e {
            storehub::store::TxError::Rejected(e) => storehub::store::TxError::Rejected(e.to_string()),
            storehub::store::TxError::Store(e) => storehub::store::TxError::Store(e),
        })?;
        Err(storehub::store::TxError::Rejected("out of stock".to_string()))
    });
    assert!(r.is_err());
    assert_eq!(staff::shift(&shop.store, s).unwrap().unwrap().cash_sales_fen, 0);
}

// --- no secret leaves ---------------------------------------------------------------------------

/// Fails if `text` shows any secret of the shop or any hash.
fn assert_no_secrets(text: &str, secrets: &[&str], what: &str) {
    assert!(!text.contains("argon2"), "{what} shows a hash: {text}");
    assert!(!text.contains("$v=19$"), "{what} shows a hash: {text}");
    for s in secrets {
        assert!(!text.contains(s), "{what} shows the secret {s:?}: {text}");
    }
}

#[test]
fn no_hash_password_or_pin_reaches_the_outbox_or_the_staff_list() {
    let shop = shop_with_staff();
    staff::set_password(&shop.store, "li-na", "Lane1-afternoon!", &cost()).unwrap();
    staff::set_pin(&shop.store, "li-na", Some("246813"), &cost()).unwrap();
    staff::set_role(&shop.store, "wang", Role::Admin).unwrap();
    for _ in 0..5 {
        let _ = staff::login_pin(&shop.store, "li-na", "999999");
    }
    staff::unlock(&shop.store, "li-na").unwrap();
    staff::deactivate(&shop.store, "wang").unwrap();
    let secrets = [LI_NA_PASSWORD, LI_NA_PIN, WANG_PASSWORD, WANG_PIN, "Lane1-afternoon!", "246813", "999999"];

    let events = outbox(&shop.store);
    let types: std::collections::BTreeSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        [
            "storehub.audit.recorded",
            "storehub.staff.created",
            "storehub.staff.deactivated",
            "storehub.staff.locked",
            "storehub.staff.password_changed",
            "storehub.staff.pin_changed",
            "storehub.staff.role_changed",
            "storehub.staff.unlocked",
        ]
    );
    for e in &events {
        assert_no_secrets(&e.to_cloudevent().to_string(), &secrets, &e.event_type);
    }
    let created = events_of_type(&shop.store, EVENT_STAFF_CREATED);
    assert_eq!(created[0].data().unwrap()["has_pin"], true);

    let listed = serde_json::to_string(&staff::list_staff(&shop.store).unwrap()).unwrap();
    assert_no_secrets(&listed, &secrets, "list_staff");
    // What is stored is a salted Argon2id hash, not the PIN.
    let stored = staff::account(&shop.store, "li-na").unwrap().unwrap();
    assert!(stored.pin_phc().is_some_and(|h| h.starts_with("$argon2id$")));
    assert_no_secrets(&format!("{stored:?}"), &secrets, "Debug of the account");
}

// --- the CLI ------------------------------------------------------------------------------------

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), stderr(&o));
    stdout(&o)
}

#[test]
fn cli_staff_add_with_a_three_digit_pin_names_the_rule_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();

    // On a fresh data dir: refused before anything exists.
    let out = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier", "--pin-stdin"], "Lane1-morning!\n123\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "storehub: PIN: must be 4 to 6 digits (0-9), got 3 characters; nothing changed");
    assert!(stdout(&out).is_empty());
    assert!(!dir.join("db").exists(), "a refused account must not even create the database");

    // Beside an existing account: refused, the list and the outbox unchanged.
    ok(storehub_with_stdin(&["--data-dir", d, "staff", "add", "wang", "--name", "王强", "--role", "admin"], &format!("{WANG_PASSWORD}\n")));
    let list_before = ok(common::storehub_cmd(&["--data-dir", d, "staff", "list"]));
    let outbox_before = ok(common::storehub_cmd(&["--data-dir", d, "outbox", "stats"]));
    let out = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier", "--pin-stdin"], "Lane1-morning!\n123\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("PIN: must be 4 to 6 digits"), "{}", stderr(&out));
    assert_eq!(ok(common::storehub_cmd(&["--data-dir", d, "staff", "list"])), list_before);
    assert_eq!(ok(common::storehub_cmd(&["--data-dir", d, "outbox", "stats"])), outbox_before);

    // No password on stdin, a short password, an unknown role: each named.
    let out = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier"], "");
    assert!(stderr(&out).contains("no password on stdin"), "{}", stderr(&out));
    let out = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier"], "short\n");
    assert!(stderr(&out).contains("password: must have at least 8 characters, got 5"), "{}", stderr(&out));
    let out = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "boss"], "");
    assert!(stderr(&out).contains("expected one of cashier, manager, technician, admin"), "{}", stderr(&out));
    assert_eq!(ok(common::storehub_cmd(&["--data-dir", d, "staff", "list"])), list_before);
}

#[test]
fn cli_staff_list_and_the_outbox_never_show_a_hash_or_a_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();
    ok(storehub_with_stdin(
        &["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier", "--pin-stdin"],
        &format!("{LI_NA_PASSWORD}\r\n{LI_NA_PIN}\r\n"),
    ));
    ok(storehub_with_stdin(&["--data-dir", d, "staff", "passwd", "li-na"], "Lane1-afternoon!\n"));
    ok(storehub_with_stdin(&["--data-dir", d, "staff", "pin", "li-na"], "246813\n"));
    ok(common::storehub_cmd(&["--data-dir", d, "staff", "unlock", "li-na"]));
    let secrets = [LI_NA_PASSWORD, LI_NA_PIN, "Lane1-afternoon!", "246813"];

    let listed = ok(common::storehub_cmd(&["--data-dir", d, "staff", "list"]));
    assert_no_secrets(&listed, &secrets, "staff list");
    let rows: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(rows[0]["id"], "li-na");
    assert_eq!(rows[0]["role"], "cashier");
    assert_eq!(rows[0]["has_pin"], true);

    // The secrets arrived intact (the line endings were not part of them).
    let clock = storehub::clock::ManualClock::new(opening_time());
    let store = open_store(&dir, &clock, storehub::store::Durability::Durable);
    staff::login_pin(&store, "li-na", "246813").unwrap();
    staff::login_password(&store, "li-na", "Lane1-afternoon!").unwrap();
    let events = outbox(&store);
    // Each with its audit entry (`storehub.audit.recorded`, actor `cli`): the account created,
    // its password and PIN set from a root shell count as resets by someone else.
    assert_eq!(events.len(), 6, "created, password_changed, pin_changed and their audit entries: {events:?}");
    for e in &events {
        assert_no_secrets(&e.to_cloudevent().to_string(), &secrets, &e.event_type);
    }
}

#[test]
fn cli_shifts_open_close_and_refuse_a_second_shift_on_a_lane() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    ok(storehub_with_stdin(&["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier"], "Lane1-morning!\n"));
    let opened: serde_json::Value =
        serde_json::from_str(&ok(common::storehub_cmd(&["--data-dir", d, "shift", "open", "--lane", "lane-1", "--staff", "li-na", "--float-fen", "50000"]))).unwrap();
    assert_eq!((opened["id"].as_u64(), opened["float_fen"].as_i64()), (Some(1), Some(50_000)));

    let again = common::storehub_cmd(&["--data-dir", d, "shift", "open", "--lane", "lane-1", "--staff", "li-na", "--float-fen", "100"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("lane lane-1 already has shift 1 open (opened by li-na"), "{}", stderr(&again));

    let shown: serde_json::Value = serde_json::from_str(&ok(common::storehub_cmd(&["--data-dir", d, "shift", "show", "--lane", "lane-1"]))).unwrap();
    assert_eq!(shown, opened);
    let all: serde_json::Value = serde_json::from_str(&ok(common::storehub_cmd(&["--data-dir", d, "shift", "show"]))).unwrap();
    assert_eq!(all, serde_json::json!([opened]));

    let close = common::storehub_cmd(&["--data-dir", d, "shift", "close", "1", "--counted-fen", "49900", "--by", "li-na"]);
    assert!(close.status.success(), "{}", stderr(&close));
    assert!(stderr(&close).contains("shift 1 closed: expected ¥500.00, counted ¥499.00: short ¥1.00"), "{}", stderr(&close));
    let closed: serde_json::Value = serde_json::from_str(&ok(common::storehub_cmd(&["--data-dir", d, "shift", "show", "1"]))).unwrap();
    assert_eq!(closed["closed"]["difference_fen"], -100);

    let none = common::storehub_cmd(&["--data-dir", d, "shift", "show", "--lane", "lane-1"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no open shift on lane lane-1; open one with `storehub shift open --lane lane-1"), "{}", stderr(&none));
    let bad_by = common::storehub_cmd(&["--data-dir", d, "shift", "close", "1", "--counted-fen", "1", "--by", "nobody"]);
    assert!(stderr(&bad_by).contains("shift 1 was already closed"), "{}", stderr(&bad_by));
}

#[test]
fn cli_staff_and_shift_commands_work_through_a_running_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let d = dir.to_str().unwrap();
    let mut daemon = start_demo(&dir);
    ok(storehub_with_stdin(
        &["--data-dir", d, "staff", "add", "li-na", "--name", "李娜", "--role", "cashier", "--password-stdin", "--pin-stdin"],
        &format!("{LI_NA_PASSWORD}\n{LI_NA_PIN}\n"),
    ));
    let listed = ok(common::storehub_cmd(&["--data-dir", d, "staff", "list"]));
    assert_no_secrets(&listed, &[LI_NA_PASSWORD, LI_NA_PIN], "staff list via the daemon");
    ok(common::storehub_cmd(&["--data-dir", d, "shift", "open", "--lane", "lane-1", "--staff", "li-na", "--float-fen", "50000"]));
    let again = common::storehub_cmd(&["--data-dir", d, "shift", "open", "--lane", "lane-1", "--staff", "li-na", "--float-fen", "50000"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already has shift 1 open"), "{}", stderr(&again));
    let shown: serde_json::Value = serde_json::from_str(&ok(common::storehub_cmd(&["--data-dir", d, "shift", "show", "--lane", "lane-1"]))).unwrap();
    assert_eq!(shown["staff"], "li-na");
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon must still run");
}
