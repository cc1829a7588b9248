//! Member service tickets (会员专属客服) in the store: a diamond member's complaint is urgent and
//! due in 4 hours, the ticket and its member index land in one commit with
//! `storehub.ticket.opened`, assignment to a staff id that does not exist writes nothing, a score of
//! 6 is refused, resolving twice is refused, overdue follows the manual clock, events carry ids
//! only, and the CLI with and without a daemon.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026 (17:00 in Shanghai). The demo config's
//! ladder is regular < silver < gold < diamond, so diamond → urgent (4 h), gold → high (12 h),
//! silver and regular → normal (24 h).

mod common;

use chrono::{Duration, TimeZone, Utc};
use storehub::clock::Clock;
use storehub::config::Config;
use storehub::domain::service::ServiceError;
use storehub::domain::staff::Role;
use storehub::members::tickets::{
    self, NewTicket, Priority, Ticket, TicketChannel, TicketError, TicketFilter, TicketKind, TicketRules, TicketState,
};
use storehub::members::{self, LoyaltyRules, Member, NewMember};
use storehub::staff::{self, HashCost, NewStaff};
use storehub::store::{codec, CommitError, Store, TreeId};

use common::*;

fn config() -> Config {
    Config::demo().expect("demo config")
}

fn rules() -> TicketRules {
    TicketRules::from_config(&config())
}

fn register(store: &Store, phone: &str, name: &str) -> Member {
    match members::register(store, &NewMember::in_store(phone, name), &LoyaltyRules::for_shop(&config())) {
        Ok(m) => m,
        Err(e) => panic!("cannot register {name}: {e}"),
    }
}

/// Puts a member in `tier` (as the tier job would after enough spend).
fn set_tier(store: &Store, member_id: u64, tier: &str) {
    let mut m = members::member(store, member_id).unwrap().expect("member");
    m.tier = tier.to_string();
    store
        .commit::<_, std::convert::Infallible>(|tx| tx.put(TreeId::Members, &codec::u64_key(member_id), &m))
        .unwrap();
}

fn add_staff(store: &Store, id: &str, role: Role) {
    let new = NewStaff { id: id.into(), name: id.into(), role };
    if let Err(e) = staff::create_staff(store, &new, "correct horse battery", None, &HashCost::minimal_for_tests()) {
        panic!("cannot create {id}: {e}");
    }
}

fn complaint(member_id: u64, by: &str) -> NewTicket {
    NewTicket {
        member_id,
        kind: TicketKind::Complaint,
        channel: TicketChannel::InStore,
        subject: "积分没有到账".into(),
        note: Some("会员说昨天消费 ¥236.40 没有积分".into()),
        opened_by: by.into(),
        campaign_id: None,
    }
}

fn open(store: &Store, new: &NewTicket) -> Ticket {
    match tickets::open(store, &rules(), new) {
        Ok(t) => t,
        Err(e) => panic!("ticket refused: {e}"),
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<T, CommitError<TicketError>>) -> TicketError {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(CommitError::Rejected(e)) => e,
        Err(e) => panic!("store failure instead of a refusal: {e}"),
    }
}

/// A shop with a manager, a cashier and two members: 王芳 (diamond) and 李雷 (regular).
fn shop() -> (Shop, Member, Member) {
    let shop = Shop::open();
    add_staff(&shop.store, "zhang", Role::Manager);
    add_staff(&shop.store, "li", Role::Cashier);
    let fang = register(&shop.store, "13812345678", "王芳");
    set_tier(&shop.store, fang.id, "diamond");
    let lei = register(&shop.store, "13900001111", "李雷");
    (shop, fang, lei)
}

#[test]
fn a_diamond_members_complaint_is_urgent_due_in_4_hours_with_its_index_and_event_in_one_commit() {
    let (shop, fang, _) = shop();
    let seq_before = newest_seq(&shop.store);
    let t = open(&shop.store, &complaint(fang.id, "li"));
    assert_eq!((t.id, t.member_id, t.priority, t.state), (1, fang.id, Priority::Urgent, TicketState::Open));
    assert_eq!(t.tier, "diamond");
    assert_eq!(t.opened_at, opening_time());
    assert_eq!(t.due_at, Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap(), "09:00 UTC + 4 h");
    assert_eq!(t.notes.len(), 1);
    assert_eq!((t.notes[0].author.as_str(), t.notes[0].text.as_str()), ("li", "会员说昨天消费 ¥236.40 没有积分"));

    // The ticket, its index entry and exactly one event arrived together.
    assert_eq!(tickets::ticket(&shop.store, 1).unwrap().as_ref(), Some(&t));
    let mut key = codec::u64_key(fang.id).to_vec();
    key.extend_from_slice(&codec::u64_key(1));
    assert!(shop.store.get_raw(TreeId::TicketsByMember, &key).unwrap().is_some());
    assert_eq!(tickets::member_tickets(&shop.store, fang.id).unwrap(), vec![t.clone()]);
    assert_eq!(newest_seq(&shop.store), seq_before + 1);
    let events = events_of_type(&shop.store, tickets::EVENT_OPENED);
    assert_eq!(events.len(), 1);
    let data: serde_json::Value = serde_json::from_str(&events[0].data_json).unwrap();
    assert_eq!(data["ticket_id"], 1);
    assert_eq!(data["member_id"], fang.id);
    assert_eq!(data["priority"], "urgent");
    assert_eq!(data["kind"], "complaint");
    assert_eq!(data["by"], "li");
}

#[test]
fn priority_follows_the_tier_table_and_a_follow_up_starts_lower() {
    let (shop, fang, lei) = shop();
    let gold = register(&shop.store, "13700002222", "韩梅梅");
    set_tier(&shop.store, gold.id, "gold");
    let silver = register(&shop.store, "13600003333", "林涛");
    set_tier(&shop.store, silver.id, "silver");
    let p = |m: u64, kind| open(&shop.store, &NewTicket { kind, ..complaint(m, "zhang") });
    let urgent = p(fang.id, TicketKind::Complaint);
    let high = p(gold.id, TicketKind::Consultation);
    let normal_silver = p(silver.id, TicketKind::AfterSales);
    let normal = p(lei.id, TicketKind::ReturnRequest);
    let low = p(lei.id, TicketKind::FollowUp);
    let t0 = opening_time();
    assert_eq!((urgent.priority, urgent.due_at), (Priority::Urgent, t0 + Duration::hours(4)));
    assert_eq!((high.priority, high.due_at), (Priority::High, t0 + Duration::hours(12)));
    assert_eq!((normal_silver.priority, normal_silver.due_at), (Priority::Normal, t0 + Duration::hours(24)));
    assert_eq!((normal.priority, normal.due_at), (Priority::Normal, t0 + Duration::hours(24)));
    assert_eq!((low.priority, low.due_at), (Priority::Low, t0 + Duration::hours(72)));
}

#[test]
fn open_in_tx_runs_inside_a_callers_commit_and_refuses_an_unknown_member() {
    let (shop, _, lei) = shop();
    // A campaign's commit opening a follow-up on behalf of the staff who launched it.
    let new = NewTicket {
        kind: TicketKind::FollowUp,
        channel: TicketChannel::Campaign,
        campaign_id: Some("wake-2026-11".into()),
        note: None,
        ..complaint(lei.id, "zhang")
    };
    let at = opening_time() + Duration::minutes(5);
    let t = shop.store.commit(|tx| tickets::open_in_tx(tx, &rules(), at, &new)).unwrap();
    assert_eq!((t.opened_at, t.campaign_id.as_deref(), t.notes.len()), (at, Some("wake-2026-11"), 0));
    let before = newest_seq(&shop.store);
    let r = shop.store.commit(|tx| tickets::open_in_tx(tx, &rules(), at, &complaint(99, "zhang")));
    assert!(matches!(refusal(r), TicketError::UnknownMember(99)));
    assert_eq!(newest_seq(&shop.store), before, "a refused ticket emits nothing");
    assert_eq!(tickets::all_tickets(&shop.store).unwrap().len(), 1);
}

#[test]
fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let (shop, fang, _) = shop();
    let before = newest_seq(&shop.store);
    let e = refusal(tickets::open(&shop.store, &rules(), &NewTicket { subject: "  ".into(), ..complaint(fang.id, "li") }));
    assert_eq!((e.field(), e.to_string().as_str()), (Some("subject"), "subject: must be 1 to 120 characters on one line, got 0"));
    let e = refusal(tickets::open(&shop.store, &rules(), &complaint(fang.id, "nobody")));
    assert_eq!(e.to_string(), "no staff account nobody; `storehub staff list` shows the accounts");
    let t = open(&shop.store, &complaint(fang.id, "li"));
    let after_open = newest_seq(&shop.store);
    assert_eq!(after_open, before + 1);

    // Assigning to a staff id that does not exist.
    let e = refusal(tickets::assign(&shop.store, &rules(), t.id, "zhang", "wang", None));
    assert_eq!(e.field(), Some("assignee"));
    assert!(e.to_string().starts_with("assignee: no staff account wang"), "{e}");
    // A cashier may open tickets but not work them, nor be given one.
    let e = refusal(tickets::assign(&shop.store, &rules(), t.id, "li", "zhang", None));
    assert_eq!(e.to_string(), "staff li is a cashier and may not work member service tickets");
    let e = refusal(tickets::assign(&shop.store, &rules(), t.id, "zhang", "li", None));
    assert_eq!(e.field(), Some("assignee"));
    assert_eq!(e.to_string(), "assignee: staff li is a cashier and may not work member service tickets");
    // Lowering a priority.
    let e = refusal(tickets::assign(&shop.store, &rules(), t.id, "zhang", "zhang", Some(Priority::Normal)));
    assert_eq!(e.field(), Some("priority"));
    // A bad satisfaction score.
    let e = refusal(tickets::resolve(&shop.store, t.id, "zhang", "补发积分 236 分", Some(6)));
    assert_eq!((e.field(), e.to_string().as_str()), (Some("satisfaction"), "satisfaction: expected a score from 1 to 5, got 6"));
    let e = refusal(tickets::rate(&shop.store, t.id, "zhang", 0));
    assert!(matches!(e, TicketError::Service(ServiceError::BadScore(0))));
    // Rating before resolution.
    let e = refusal(tickets::rate(&shop.store, t.id, "zhang", 5));
    assert!(matches!(e, TicketError::Service(ServiceError::NotResolved)));
    let e = refusal(tickets::add_note(&shop.store, t.id, "zhang", ""));
    assert_eq!(e.field(), Some("text"));
    let e = refusal(tickets::add_note(&shop.store, 42, "zhang", "hello"));
    assert_eq!(e.to_string(), "no ticket 42; `storehub ticket list` shows the tickets");

    assert_eq!(newest_seq(&shop.store), after_open, "no refusal wrote an event");
    assert_eq!(tickets::ticket(&shop.store, t.id).unwrap().unwrap(), t, "no refusal changed the ticket");
}

#[test]
fn a_ticket_from_open_to_rated_and_resolving_twice_is_refused() {
    let (shop, fang, _) = shop();
    let t = open(&shop.store, &complaint(fang.id, "li"));
    shop.clock.advance(Duration::minutes(10));
    let t = tickets::assign(&shop.store, &rules(), t.id, "zhang", "zhang", None).unwrap();
    assert_eq!((t.state, t.assignee.as_deref()), (TicketState::InProgress, Some("zhang")));
    shop.clock.advance(Duration::minutes(20));
    let t = tickets::add_note(&shop.store, t.id, "zhang", "查到小票，系统漏记").unwrap();
    assert_eq!(t.notes.len(), 2);
    assert_eq!(t.notes[1].at, opening_time() + Duration::minutes(30));
    let t = tickets::resolve(&shop.store, t.id, "zhang", "补发积分 236 分并致歉", None).unwrap();
    assert_eq!((t.state, t.resolved_by.as_deref(), t.satisfaction), (TicketState::Resolved, Some("zhang"), None));
    assert_eq!(t.resolved_at, Some(opening_time() + Duration::minutes(30)));

    let e = refusal(tickets::resolve(&shop.store, t.id, "zhang", "again", Some(5)));
    assert!(matches!(e, TicketError::Service(ServiceError::AlreadyResolved)), "{e}");
    let e = refusal(tickets::add_note(&shop.store, t.id, "zhang", "late note"));
    assert!(matches!(e, TicketError::Service(ServiceError::AlreadyResolved)), "{e}");

    let t = tickets::rate(&shop.store, t.id, "zhang", 4).unwrap();
    assert_eq!(t.satisfaction, Some(4));
    let e = refusal(tickets::rate(&shop.store, t.id, "zhang", 5));
    assert!(matches!(e, TicketError::Service(ServiceError::AlreadyRated(4))), "{e}");

    let kinds: Vec<String> = outbox(&shop.store)
        .into_iter()
        .filter(|e| e.event_type.starts_with("storehub.ticket."))
        .map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.data_json).unwrap();
            format!("{} {}", e.event_type, d["change"].as_str().unwrap_or("-"))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "storehub.ticket.opened -",
            "storehub.ticket.updated assigned",
            "storehub.ticket.updated noted",
            "storehub.ticket.resolved -",
            "storehub.ticket.updated rated",
        ]
    );
}

#[test]
fn raising_the_priority_moves_the_due_time_from_the_opening() {
    let (shop, _, lei) = shop();
    let t = open(&shop.store, &complaint(lei.id, "li"));
    assert_eq!(t.priority, Priority::Normal);
    shop.clock.advance(Duration::hours(1));
    let t = tickets::assign(&shop.store, &rules(), t.id, "zhang", "zhang", Some(Priority::Urgent)).unwrap();
    assert_eq!((t.priority, t.due_at), (Priority::Urgent, opening_time() + Duration::hours(4)));
    let ev = events_of_type(&shop.store, tickets::EVENT_UPDATED);
    let d: serde_json::Value = serde_json::from_str(&ev[0].data_json).unwrap();
    assert_eq!((d["change"].as_str(), d["priority"].as_str()), (Some("priority_raised"), Some("urgent")));
}

#[test]
fn overdue_follows_the_clock_and_members_with_open_tickets_drops_resolved_ones() {
    let (shop, fang, lei) = shop();
    let urgent = open(&shop.store, &complaint(fang.id, "li")); // due 13:00
    let normal = open(&shop.store, &complaint(lei.id, "li")); // due 09:00 next day
    assert_eq!(tickets::members_with_open_tickets(&shop.store).unwrap().into_iter().collect::<Vec<_>>(), vec![fang.id, lei.id]);

    shop.clock.set(urgent.due_at);
    let now = shop.clock.now();
    assert!(tickets::list(&shop.store, TicketFilter::Overdue, now).unwrap().is_empty(), "exactly at the due time");
    assert_eq!(tickets::summary(&shop.store, now, 5).unwrap().overdue, 0);

    shop.clock.advance(Duration::minutes(90));
    let now = shop.clock.now();
    let overdue = tickets::list(&shop.store, TicketFilter::Overdue, now).unwrap();
    assert_eq!(overdue.iter().map(|t| t.id).collect::<Vec<_>>(), vec![urgent.id]);
    let s = tickets::summary(&shop.store, now, 5).unwrap();
    assert_eq!((s.open, s.in_progress, s.overdue), (2, 0, 1));
    assert_eq!((s.most_overdue[0].id, s.most_overdue[0].overdue_minutes), (urgent.id, 90));

    tickets::resolve(&shop.store, urgent.id, "zhang", "已补发积分", Some(5)).unwrap();
    let now = shop.clock.now();
    assert!(tickets::list(&shop.store, TicketFilter::Overdue, now).unwrap().is_empty());
    assert_eq!(tickets::members_with_open_tickets(&shop.store).unwrap().into_iter().collect::<Vec<_>>(), vec![lei.id]);
    let open_list = tickets::list(&shop.store, TicketFilter::Open, now).unwrap();
    assert_eq!(open_list.iter().map(|t| t.id).collect::<Vec<_>>(), vec![normal.id]);
    // All: unresolved first, then resolved.
    let all = tickets::list(&shop.store, TicketFilter::All, now).unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), vec![normal.id, urgent.id]);
    let mine = tickets::list(&shop.store, TicketFilter::Member(fang.id), now).unwrap();
    assert_eq!(mine.iter().map(|t| t.id).collect::<Vec<_>>(), vec![urgent.id]);
}

#[test]
fn events_carry_ids_never_subjects_notes_names_or_phones() {
    let (shop, fang, _) = shop();
    let t = open(&shop.store, &complaint(fang.id, "li"));
    tickets::assign(&shop.store, &rules(), t.id, "zhang", "zhang", None).unwrap();
    tickets::add_note(&shop.store, t.id, "zhang", "王芳 13812345678 来电").unwrap();
    tickets::resolve(&shop.store, t.id, "zhang", "补发积分并致歉", Some(5)).unwrap();
    let events: Vec<_> = outbox(&shop.store).into_iter().filter(|e| e.event_type.starts_with("storehub.ticket.")).collect();
    assert_eq!(events.len(), 4);
    for e in events {
        for secret in ["积分没有到账", "236.40", "王芳", "13812345678", "来电", "补发积分", "138****5678"] {
            assert!(!e.data_json.contains(secret), "{} leaks {secret:?}: {}", e.event_type, e.data_json);
        }
    }
}

#[test]
fn verify_finds_a_ticket_missing_from_its_members_index() {
    let (shop, fang, lei) = shop();
    let t = open(&shop.store, &complaint(fang.id, "li"));
    open(&shop.store, &complaint(lei.id, "li"));
    tickets::resolve(&shop.store, t.id, "zhang", "已处理", Some(5)).unwrap();
    assert_eq!(tickets::check(&shop.store).unwrap(), Vec::<String>::new());
    assert!(storehub::verify::verify(&shop.store).unwrap().violations.is_empty());

    // Tamper: drop the index entry of ticket 1, as a half-applied write would.
    let mut key = codec::u64_key(fang.id).to_vec();
    key.extend_from_slice(&codec::u64_key(t.id));
    shop.store.commit::<_, std::convert::Infallible>(|tx| tx.remove(TreeId::TicketsByMember, &key).map(|_| ())).unwrap();
    let violations = storehub::verify::verify(&shop.store).unwrap().violations;
    assert_eq!(violations, vec![format!("ticket 1: missing from member {}'s ticket index", fang.id)]);
}

#[test]
fn sla_hours_come_from_the_tickets_section() {
    let text = config_text_with("[tickets.sla_hours]\nurgent = 2\nhigh = 8\nnormal = 24\nlow = 96\n");
    let cfg = Config::from_str(&text, "storehub.toml").unwrap();
    let r = TicketRules::from_config(&cfg);
    assert_eq!((r.sla.urgent, r.sla.high, r.sla.normal, r.sla.low), (2, 8, 24, 96));
    let bad = config_text_with("[tickets.sla_hours]\nurgent = 30\n");
    let e = Config::from_str(&bad, "storehub.toml").unwrap_err().to_string();
    assert!(
        e.ends_with("[tickets].sla_hours.high: 12 hours is shorter than urgent (30 hours); a less urgent ticket may not be due sooner"),
        "{e}"
    );
    let zero = config_text_with("[tickets.sla_hours]\nlow = 0\n");
    let e = Config::from_str(&zero, "storehub.toml").unwrap_err().to_string();
    assert!(e.contains("expected 1 to 8760 hours, got 0"), "{e}");
}

/// The demo config with `extra` appended.
fn config_text_with(extra: &str) -> String {
    format!("{}\n{extra}", storehub::config::DEMO_TOML)
}

// --- the CLI ------------------------------------------------------------------------------------

#[test]
fn cli_tickets_from_open_to_rated_without_a_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let d = dir.to_str().unwrap();
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "zhang", "--role", "manager", "--password-stdin"], "manager-zhang-2026\n"));
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--role", "cashier", "--password-stdin"], "cashier-li-2026\n"));
    ok_json(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13812345678", "--name", "王芳"]));

    let opened = ok_json(storehub_cmd(&[
        "--data-dir", d, "ticket", "open", "--member", "13812345678", "--kind", "after_sales", "--channel", "phone",
        "--subject", "电饭煲不加热", "--note", "上周购买", "--by", "li",
    ]));
    // No config: no tier ladder, so normal priority and the default 24 hours.
    assert_eq!((opened["id"].as_u64(), opened["priority"].as_str(), opened["state"].as_str()), (Some(1), Some("normal"), Some("open")));
    assert_eq!((opened["member_phone"].as_str(), opened["overdue"].as_bool()), (Some("138****5678"), Some(false)));

    refused(
        storehub_cmd(&["--data-dir", d, "ticket", "open", "--member", "13900001111", "--kind", "complaint", "--channel", "phone", "--subject", "x", "--by", "li"]),
        "member: no member with phone 139****1111",
    );
    let usage = storehub_cmd(&["--data-dir", d, "ticket", "open", "--member", "13812345678", "--kind", "praise", "--channel", "phone", "--subject", "x", "--by", "li"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(
        stderr(&usage).contains("invalid value 'praise' for '--kind <KIND>': expected one of complaint, consultation, after_sales, return_request, follow_up"),
        "{}",
        stderr(&usage)
    );
    refused(storehub_cmd(&["--data-dir", d, "ticket", "assign", "1", "wang", "--by", "zhang"]), "assignee: no staff account wang");
    refused(storehub_cmd(&["--data-dir", d, "ticket", "note", "1", "客户再次来电", "--by", "li"]), "staff li is a cashier and may not work member service tickets");

    let assigned = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "assign", "1", "zhang", "--priority", "high", "--by", "zhang"]));
    assert_eq!((assigned["state"].as_str(), assigned["assignee"].as_str(), assigned["priority"].as_str()), (Some("in_progress"), Some("zhang"), Some("high")));
    let noted = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "note", "1", "已安排上门检修", "--by", "zhang"]));
    assert_eq!(noted["notes"].as_array().map(Vec::len), Some(2));
    refused(
        storehub_cmd(&["--data-dir", d, "ticket", "resolve", "1", "--resolution", "更换加热盘", "--satisfaction", "7", "--by", "zhang"]),
        "satisfaction: expected a score from 1 to 5, got 7; nothing written",
    );
    let resolved = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "resolve", "1", "--resolution", "更换加热盘", "--by", "zhang"]));
    assert_eq!(resolved["state"], "resolved");
    refused(storehub_cmd(&["--data-dir", d, "ticket", "resolve", "1", "--resolution", "again", "--by", "zhang"]), "already resolved");
    let rated = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "rate", "1", "5", "--by", "zhang"]));
    assert_eq!(rated["satisfaction"], 5);

    let shown = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "show", "1"]));
    assert_eq!(shown["notes"][1]["text"], "已安排上门检修");
    assert_eq!(shown["resolution"], "更换加热盘");
    refused(storehub_cmd(&["--data-dir", d, "ticket", "show", "9"]), "no ticket 9");
    let open = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "list", "--open"]));
    assert_eq!(open.as_array().map(Vec::len), Some(0));
    let mine = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "list", "--member", "800000000011"]));
    assert_eq!(mine[0]["id"], 1);
}

#[test]
fn cli_tickets_while_the_daemon_runs_use_its_tier_ladder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let d = dir.to_str().unwrap();
    let mut daemon = start_demo(&dir);
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "wang", "--name", "王强", "--role", "manager", "--password-stdin"], "manager-wang-2026\n"));
    ok_json(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13812345678", "--name", "王芳"]));
    let opened = ok_json(storehub_cmd(&[
        "--data-dir", d, "ticket", "open", "--member", "13812345678", "--kind", "follow_up", "--channel", "wechat",
        "--subject", "回访：上次投诉处理满意吗", "--by", "wang",
    ]));
    // The demo ladder starts members at "regular" (normal); a follow-up starts one step lower: 72 h.
    assert_eq!((opened["tier"].as_str(), opened["priority"].as_str()), (Some("regular"), Some("low")));
    let opened_at: chrono::DateTime<Utc> = serde_json::from_value(opened["opened_at"].clone()).unwrap();
    let due_at: chrono::DateTime<Utc> = serde_json::from_value(opened["due_at"].clone()).unwrap();
    assert_eq!(due_at - opened_at, Duration::hours(72));
    let overdue = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "list", "--overdue"]));
    assert_eq!(overdue.as_array().map(Vec::len), Some(0));
    let listed = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "list", "--open"]));
    assert_eq!(listed[0]["subject"], "回访：上次投诉处理满意吗");
    let resolved = ok_json(storehub_cmd(&["--data-dir", d, "ticket", "resolve", "1", "--resolution", "会员表示满意", "--satisfaction", "5", "--by", "wang"]));
    assert_eq!((resolved["state"].as_str(), resolved["satisfaction"].as_u64()), (Some("resolved"), Some(5)));
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon must still run");
}
