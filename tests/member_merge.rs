//! Member merge (会员合并): on a real store with the manual clock, member A (王芳, 138…) with two
//! online orders, a top-up, a manual adjustment, a coupon, a ticket, a campaign message and an
//! imported history row
//! is merged into member B (王芳, 139…) with an order, a top-up and the same coupon. Every points
//! and stored-value ledger entry is compared entry by entry before and after (only the member id
//! changes), Σ points and Σ stored value are kept, every sale keeps its id and now names B, the
//! verifier is clean, and A's phone finds B. Refusals (cashier, A = B, unknown, already merged)
//! change nothing. The CLI merges by phone with and without the right staff.
//!
//! The shop clock starts at 09:00 UTC on Wednesday 25 November 2026 (member day: double points).

mod common;

use chrono::NaiveDate;
use common::*;
use serde_json::Value;
use storehub::checkout::sale::{all_sales, Sale};
use storehub::config::Config;
use storehub::coupons;
use storehub::domain::channel::SalesChannel;
use storehub::domain::staff::Role;
use storehub::members::history::HistoryRow;
use storehub::members::messages::{self, MessageRules, Outgoing, Queued, SkipReason};
use storehub::members::merge::{self, MergeError};
use storehub::members::online_orders::{self, Fulfilment, MemberRef, OnlineOrder, OrderLine};
use storehub::members::tickets::{self, NewTicket, TicketChannel, TicketKind, TicketRules};
use storehub::members::{self, LoyaltyRules, NewMember};
use storehub::staff::{self, HashCost, NewStaff};
use storehub::store::{CommitError, Store};

const PHONE_A: &str = "13800138000";
const WAKE: &str = r#"[{"id": "wake", "name": "休眠唤醒", "channel": "wechat", "wechat_template_id": "OPENTM207940503",
  "fields": {"first": "{{name}}，好久不见"}}]"#;
const PHONE_B: &str = "13900139000";

fn rules() -> LoyaltyRules {
    LoyaltyRules::for_shop(&Config::demo().unwrap())
}

fn add_staff(store: &Store, id: &str, role: Role) {
    let new = NewStaff { id: id.into(), name: id.into(), role };
    if let Err(e) = staff::create_staff(store, &new, "correct horse battery", None, &HashCost::minimal_for_tests()) {
        panic!("cannot create {id}: {e}");
    }
}

fn register(store: &Store, phone: &str) -> u64 {
    members::register(store, &NewMember::in_store(phone, "王芳"), &rules()).unwrap().id
}

/// An online mall order shipped from the warehouse (no stock here): `qty` waters at ¥2.00.
fn order(store: &Store, order_id: &str, member_id: u64, qty: i64) -> u64 {
    let o = OnlineOrder {
        order_id: order_id.into(),
        channel: SalesChannel::OnlineMall,
        platform: None,
        member: MemberRef::Id(member_id),
        at: store.clock().now(),
        lines: vec![OrderLine { sku: "SKU-010001".into(), qty, unit_price_fen: 200, net_fen: qty * 200 }],
        total_fen: qty * 200,
        paid_fen: qty * 200,
        fulfilment: Fulfilment::Elsewhere,
    };
    store.commit(|tx| online_orders::ingest_tx(tx, &o, &rules())).unwrap().sale_id
}

fn refusal<T: std::fmt::Debug>(r: Result<T, CommitError<MergeError>>) -> MergeError {
    match r {
        Ok(v) => panic!("merged: {v:?}"),
        Err(CommitError::Rejected(e)) => e,
        Err(CommitError::Store(e)) => panic!("store failed: {e}"),
    }
}

/// A's and B's world, for comparing before and after.
#[derive(Debug, PartialEq)]
struct World {
    a: members::Member,
    b: members::Member,
    outbox: usize,
    sales: Vec<Sale>,
}

fn world(store: &Store, a: u64, b: u64) -> World {
    World {
        a: members::member(store, a).unwrap().unwrap(),
        b: members::member(store, b).unwrap().unwrap(),
        outbox: outbox(store).len(),
        sales: all_sales(store).unwrap(),
    }
}

#[test]
fn a_merge_keeps_every_ledger_entry_coupon_and_sale_and_refusals_change_nothing() {
    let shop = Shop::open();
    let store = &shop.store;
    load(store, &[water()]);
    add_staff(store, "mgr", Role::Manager);
    add_staff(store, "cash", Role::Cashier);
    let a = register(store, PHONE_A);
    let b = register(store, PHONE_B);
    for id in [a, b] {
        members::set_consent(store, id, None, Some(true)).unwrap();
    }

    // A: ¥30.00 and ¥10.00 online, ¥500 top-up (+¥30 bonus), +100 points by hand, a coupon,
    // a ticket, an imported purchase. B: ¥20.00 online, ¥200 top-up (+¥10), the same coupon.
    let sale_a1 = order(store, "MALL-1", a, 15);
    let sale_a2 = order(store, "MALL-2", a, 5);
    let sale_b1 = order(store, "MALL-3", b, 10);
    members::topup(store, a, 50_000, "cash", Some("WX-1"), &rules()).unwrap();
    members::topup(store, b, 20_000, "cash", Some("WX-2"), &rules()).unwrap();
    members::adjust_points(store, a, 100, "线下活动补积分", "mgr", &rules()).unwrap();
    coupons::upsert_templates(store, &[spend_200_save_30()]).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    coupons::issue(store, "T-200-30", &[a, b], None, today).unwrap();
    let ticket = tickets::open(
        store,
        &TicketRules::from_config(&Config::demo().unwrap()),
        &NewTicket { member_id: a, kind: TicketKind::Complaint, channel: TicketChannel::InStore, subject: "积分没有到账".into(), note: None, opened_by: "cash".into(), campaign_id: None },
    )
    .unwrap();
    let row = HistoryRow { line: 2, member_ref: PHONE_A.into(), date: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), at: None, amount_fen: 8_800, category: Some("饮料".into()), sku: None, qty: None };
    members::history::import_history(store, "old-till.csv", "ab12", &[row], today, None).unwrap();
    let msg_rules = MessageRules::from_config(&Config::demo().unwrap());
    let wake = |member_id: u64| Outgoing { member_id, template_id: "wake".into(), campaign_id: Some("wake-1".into()), vars: Default::default() };
    messages::upsert_templates(store, &messages::parse_templates_json(WAKE.as_bytes(), "t.json").unwrap()).unwrap();
    let Queued::Requested { message_id } = messages::request(store, &msg_rules, &wake(a)).unwrap() else { panic!("not requested") };

    // Member day: 2 points per yuan. A: 60 + 20 + 100 = 180 points, ¥530.00; B: 40, ¥210.00.
    let before = world(store, a, b);
    assert_eq!((before.a.points, before.a.stored_value_fen), (180, 53_000));
    assert_eq!((before.b.points, before.b.stored_value_fen), (40, 21_000));
    let (ledger_a, ledger_b) = (members::ledger(store, a).unwrap(), members::ledger(store, b).unwrap());
    let (sv_a, sv_b) = (members::stored_value_ledger(store, a).unwrap(), members::stored_value_ledger(store, b).unwrap());
    assert_eq!((ledger_a.len(), ledger_b.len(), sv_a.len(), sv_b.len()), (3, 1, 2, 2));

    // Refused, nothing changed.
    assert!(matches!(refusal(merge::merge(store, a, b, "cash", &rules())), MergeError::Staff(_)), "a cashier may not merge");
    assert!(matches!(refusal(merge::merge(store, a, a, "mgr", &rules())), MergeError::SameMember(x) if x == a));
    assert!(matches!(refusal(merge::merge(store, 99, b, "mgr", &rules())), MergeError::Unknown(99)));
    assert!(matches!(refusal(merge::merge(store, a, 99, "mgr", &rules())), MergeError::Unknown(99)));
    assert!(matches!(refusal(merge::merge(store, a, b, "nobody", &rules())), MergeError::Staff(_)));
    assert_eq!(world(store, a, b), before, "refusals change nothing");

    let done = merge::merge(store, a, b, "mgr", &rules()).unwrap();
    assert_eq!((done.from, done.into, done.by.as_str()), (a, b, "mgr"));
    let m = &done.moved;
    assert_eq!((m.points, m.stored_value_fen, m.points_entries, m.stored_value_entries), (180, 53_000, 3, 2));
    assert_eq!((m.coupons, m.tickets, m.history_rows, m.sales, m.visits, m.spend_fen), (1, 1, 1, 2, 2, 4_000));
    assert_eq!(m.messages, 1);

    // Σ points and Σ stored value kept; B has the stats of both; A is closed.
    let after_a = members::member(store, a).unwrap().unwrap();
    let after_b = members::member(store, b).unwrap().unwrap();
    assert_eq!((after_b.points, after_b.stored_value_fen, after_b.points_debt), (220, 74_000, 0));
    assert_eq!(after_b.lots.iter().map(|l| l.remaining).sum::<i64>(), 220);
    assert_eq!((after_b.stats.visits, after_b.stats.spend_fen), (3, 6_000));
    assert_eq!((after_a.merged_into, after_a.points, after_a.stored_value_fen, after_a.lots.len()), (Some(b), 0, 0, 0));

    // The ledgers entry by entry: A's entries are B's now, nothing else about them changed.
    let expected_points = {
        let mut all: Vec<_> = ledger_a.iter().chain(&ledger_b).cloned().map(|mut e| {
            e.entry.member_id = b;
            e
        }).collect();
        all.sort_by_key(|e| e.entry.id);
        all
    };
    let mut got_points = members::ledger(store, b).unwrap();
    got_points.sort_by_key(|e| e.entry.id);
    assert_eq!(got_points, expected_points);
    assert!(members::ledger(store, a).unwrap().is_empty());
    let expected_sv = {
        let mut all: Vec<_> = sv_a.iter().chain(&sv_b).cloned().map(|mut e| {
            e.member_id = b;
            e
        }).collect();
        all.sort_by_key(|e| e.id);
        all
    };
    let mut got_sv = members::stored_value_ledger(store, b).unwrap();
    got_sv.sort_by_key(|e| e.id);
    assert_eq!(got_sv, expected_sv);
    assert!(members::stored_value_ledger(store, a).unwrap().is_empty());

    // Every sale kept, same id, member B.
    let sales = all_sales(store).unwrap();
    assert_eq!(sales.len(), before.sales.len());
    for (was, now) in before.sales.iter().zip(&sales) {
        let mut expected = was.clone();
        if expected.member_id == Some(a) {
            expected.member_id = Some(b);
        }
        assert_eq!(now, &expected);
    }
    assert_eq!(sales.iter().map(|s| (s.id, s.member_id)).collect::<Vec<_>>(), vec![(sale_a1, Some(b)), (sale_a2, Some(b)), (sale_b1, Some(b))]);

    // Coupons, ticket, history, lookups.
    let coupons_b = coupons::member_coupons(store, b, true).unwrap();
    assert_eq!(coupons_b.len(), 2);
    assert!(coupons_b.iter().all(|c| c.member_id == b));
    assert!(coupons::member_coupons(store, a, true).unwrap().is_empty());
    assert_eq!(tickets::ticket(store, ticket.id).unwrap().unwrap().member_id, b);
    assert_eq!(messages::member_messages(store, b).unwrap().iter().map(|m| (m.id, m.member_id)).collect::<Vec<_>>(), vec![(message_id, b)]);
    assert!(messages::member_messages(store, a).unwrap().is_empty());
    assert_eq!(
        messages::request(store, &msg_rules, &wake(b)).unwrap(),
        Queued::Skipped { reason: SkipReason::AlreadySent },
        "the campaign reached this person already, as A"
    );
    assert_eq!(members::find(store, PHONE_A).unwrap().map(|m| m.id), Some(b), "A's phone finds B");
    assert_eq!(members::history::resolve_ref(store, &after_a.card_number().unwrap()).unwrap(), Some(b), "A's card finds B");
    let histories = members::history::member_histories(store, chrono_tz::Asia::Shanghai, today).unwrap();
    assert!(!histories.contains_key(&a));
    assert_eq!(histories[&b].purchases.len(), 4, "three sales and the imported row");

    // The audit record and the event (ids and sums, no phone or name).
    assert_eq!(merge::merges(store).unwrap(), vec![done.clone()]);
    let events = events_of_type(store, merge::EVENT_MEMBER_MERGED);
    assert_eq!(events.len(), 1);
    let data: Value = events[0].to_cloudevent()["data"].clone();
    assert_eq!((data["from_member_id"].as_u64(), data["into_member_id"].as_u64(), data["points"].as_i64()), (Some(a), Some(b), Some(220)));
    let text = data.to_string();
    assert!(!text.contains(PHONE_A) && !text.contains("王芳"), "{text}");

    assert_eq!(members::check(store).unwrap(), Vec::<String>::new());
    let report = storehub::verify::verify(store).unwrap();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);

    // Merged members are closed: merging either way again is refused, nothing changes.
    let merged = world(store, a, b);
    assert!(matches!(refusal(merge::merge(store, a, b, "mgr", &rules())), MergeError::AlreadyMerged { id, into } if id == a && into == b));
    assert!(matches!(refusal(merge::merge(store, b, a, "mgr", &rules())), MergeError::AlreadyMerged { id, .. } if id == a));
    assert_eq!(world(store, a, b), merged);
    // Nothing changes a closed member: top-ups and adjustments by its id are refused, the jobs
    // pass it by.
    let closed = |r: Result<_, CommitError<members::MemberError>>| match r {
        Err(CommitError::Rejected(members::MemberError::Merged { id, into })) => assert_eq!((id, into), (a, b)),
        other => panic!("expected a refusal naming the merge, got {other:?}"),
    };
    closed(members::topup(store, a, 10_000, "cash", None, &rules()).map(|_| ()));
    closed(members::adjust_points(store, a, 5, "补积分", "mgr", &rules()).map(|_| ()));
    let issued = coupons::issue(store, "T-200-30", &[a], None, today).unwrap();
    assert!(issued.issued.is_empty());
    assert_eq!(issued.skipped[0].reason, coupons::SkipReason::Merged { into: b });
    for day in [today, NaiveDate::from_ymd_opt(2029, 1, 1).unwrap()] {
        members::expire_points(store, day, &rules()).unwrap();
        members::evaluate_tiers(store, day, &rules()).unwrap();
        members::birthday_rewards(store, day, &rules()).unwrap();
    }
    assert_eq!(members::member(store, a).unwrap().unwrap(), merged.a);
    assert_eq!(members::check(store).unwrap(), Vec::<String>::new());

    // B goes on: a new order earns on B's merged balance.
    let points_b = members::member(store, b).unwrap().unwrap().points;
    order(store, "MALL-4", b, 1);
    assert_eq!(members::member(store, b).unwrap().unwrap().points, points_b + 4);
    // HQ still naming A (by id or phone) books the order to B.
    let by_old_id = order(store, "MALL-5", a, 1);
    assert_eq!(storehub::checkout::sale::sale(store, by_old_id).unwrap().unwrap().member_id, Some(b));
    assert_eq!(members::member(store, b).unwrap().unwrap().points, points_b + 8);
    assert_eq!(members::check(store).unwrap(), Vec::<String>::new());
}

#[test]
fn the_cli_merges_by_phone_and_refuses_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let added = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--name", "李经理", "--role", "manager", "--password-stdin"], "correct horse\n");
    assert!(added.status.success(), "{}", stderr(&added));
    let added = storehub_with_stdin(&["--data-dir", d, "staff", "add", "wang", "--name", "王芳", "--role", "cashier", "--password-stdin"], "correct horse\n");
    assert!(added.status.success(), "{}", stderr(&added));
    for phone in [PHONE_A, PHONE_B] {
        ok_json(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", phone, "--name", "王芳"]));
    }
    refused(storehub_cmd(&["--data-dir", d, "member", "merge", PHONE_A, PHONE_B, "--staff", "wang"]), "merge members");
    refused(storehub_cmd(&["--data-dir", d, "member", "merge", PHONE_A, PHONE_A, "--staff", "li"]), "cannot merge member 1 into itself");
    refused(storehub_cmd(&["--data-dir", d, "member", "merge", "13700137000", PHONE_B, "--staff", "li"]), "from: no member has phone, card or id");
    let done = ok_json(storehub_cmd(&["--data-dir", d, "member", "merge", PHONE_A, PHONE_B, "--staff", "li"]));
    assert_eq!((done["from"].as_u64(), done["into"].as_u64(), done["by"].as_str()), (Some(1), Some(2), Some("li")));
    // A's phone now finds B, so merging it again names B twice; by id, A is closed.
    refused(storehub_cmd(&["--data-dir", d, "member", "merge", PHONE_A, PHONE_B, "--staff", "li"]), "into itself");
    refused(storehub_cmd(&["--data-dir", d, "member", "merge", "1", "2", "--staff", "li"]), "was merged into member 2 already");
    let shown = ok_json(storehub_cmd(&["--data-dir", d, "member", "show", PHONE_A]));
    assert_eq!(shown["id"], 2);
    let verify = ok_json(storehub_cmd(&["--data-dir", d, "verify"]));
    assert_eq!(verify["violations"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_merge_on_the_api_and_the_member_page_and_cashiers_may_not() {
    use common::web::{body, text, WebShop};
    use reqwest::StatusCode;
    use serde_json::json;
    let shop = WebShop::start().await;
    let (a, b, c) = (register(&shop.store, PHONE_A), register(&shop.store, PHONE_B), register(&shop.store, "13700137000"));
    let cashier = shop.login(common::web::account_of(Role::Cashier), Some("lane-1")).await;
    let manager = shop.login(common::web::account_of(Role::Manager), None).await;

    // A cashier: no form on the page, the API and the form refused, nothing merged.
    let (_, page) = text(shop.get(&cashier, &format!("/members/{a}")).await).await;
    assert!(!page.contains(&format!("/members/{a}/merge")), "a cashier sees no merge form");
    assert_eq!(shop.post_json(&cashier, "/api/v1/members/merge", &json!({"from": a, "into": b})).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.post_form(&cashier, &format!("/members/{a}/merge"), &[("into", PHONE_B)]).await.status(), StatusCode::FORBIDDEN);

    // Bad requests name what is wrong.
    let (status, v) = body(shop.post_json(&manager, "/api/v1/members/merge", &json!({"from": a, "into": a})).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("into")), "{v}");
    let (status, v) = body(shop.post_json(&manager, "/api/v1/members/merge", &json!({"from": a, "into": 99})).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::NOT_FOUND, Some("into")), "{v}");
    let (status, v) = body(shop.post_json(&manager, "/api/v1/members/merge", &json!({"from": a, "into": "b"})).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("into")), "{v}");
    assert!(members::member(&shop.store, a).unwrap().unwrap().merged_into.is_none());

    // The API merges A into B.
    let (status, v) = body(shop.post_json(&manager, "/api/v1/members/merge", &json!({"from": a, "into": b})).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["from"].as_u64(), v["into"].as_u64(), v["by"].as_str()), (Some(a), Some(b), Some(common::web::account_of(Role::Manager))));
    let (status, v) = body(shop.post_json(&manager, "/api/v1/members/merge", &json!({"from": a, "into": b})).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "already merged: {v}");
    let (_, page) = text(shop.get(&manager, &format!("/members/{a}")).await).await;
    assert!(page.contains(&format!("href=\"/members/{b}\"")), "A's page points to B");

    // The form on C's page: the member to keep by phone; back to B's page.
    let (_, page) = text(shop.get(&manager, &format!("/members/{c}")).await).await;
    assert!(page.contains("合并会员") && page.contains(&format!("action=\"/members/{c}/merge\"")), "{page}");
    let res = shop.post_form(&manager, &format!("/members/{c}/merge"), &[("into", "")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = shop.post_form(&manager, &format!("/members/{c}/merge"), &[("into", PHONE_B)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], format!("/members/{b}"));
    assert_eq!(members::member(&shop.store, c).unwrap().unwrap().merged_into, Some(b));
    assert_eq!(merge::merges(&shop.store).unwrap().len(), 2);
    assert_eq!(members::check(&shop.store).unwrap(), Vec::<String>::new());
}

#[test]
fn campaign_records_move_to_the_kept_member_once_per_campaign() {
    use storehub::domain::campaign::{Offer, Target};
    use storehub::members::campaigns::{self as camp, CampaignSettings, LaunchContext, NewCampaign};
    let shop = Shop::open();
    let store = &shop.store;
    add_staff(store, "mgr", Role::Manager);
    let s = CampaignSettings::default();
    let launch = |id: &str| {
        let new = NewCampaign {
            id: id.into(),
            name: "全员关怀".into(),
            target: Target::default(),
            offer: Offer::MessageOnly,
            message_template_id: None,
            follow_up_ticket: false,
            start_at: None,
            holdout_bp: Some(0),
            response_days: Some(7),
        };
        camp::create(store, &new, None, &s).unwrap();
        camp::launch(store, &s, &LaunchContext::from_settings(&s), id, None).unwrap()
    };
    // "only-a" reaches A alone (B joins later); "both" reaches both.
    let a = register(store, PHONE_A);
    assert_eq!(launch("only-a").targeted, 1);
    let b = register(store, PHONE_B);
    assert_eq!(launch("both").targeted, 2);

    let done = merge::merge(store, a, b, "mgr", &rules()).unwrap();
    assert_eq!((done.moved.campaign_records, done.moved.campaign_records_dropped), (1, 1));
    let ids = |c: &str| camp::campaign_members(store, c).unwrap().iter().map(|m| m.member_id).collect::<Vec<_>>();
    assert_eq!(ids("only-a"), vec![b]);
    assert_eq!(ids("both"), vec![b], "one record per person");
    let report = storehub::verify::verify(store).unwrap();
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    // A closed member is never a target again.
    assert_eq!(launch("after").targeted, 1);
    assert_eq!(ids("after"), vec![b]);
}

#[test]
fn erasing_a_member_erases_the_duplicates_merged_into_it() {
    let shop = Shop::open();
    let store = &shop.store;
    add_staff(store, "mgr", Role::Manager);
    let a = register(store, PHONE_A);
    let b = register(store, PHONE_B);
    let c = register(store, "13700137000");
    let bystander = register(store, "13600136000");
    // A into B, then B into C: one person under three numbers.
    merge::merge(store, a, b, "mgr", &rules()).unwrap();
    merge::merge(store, b, c, "mgr", &rules()).unwrap();
    // A followed B into C: A's phone finds C, and the chain is flat.
    assert_eq!(members::find(store, PHONE_A).unwrap().map(|m| m.id), Some(c), "a duplicate's phone leads to the survivor");
    assert_eq!(members::member(store, a).unwrap().unwrap().merged_into, Some(c));
    assert!(storehub::verify::verify(store).unwrap().ok());

    let summary = storehub::privacy::subject::erase(store, "mgr", c).unwrap();
    assert_eq!(summary.duplicates_erased, vec![a, b]);
    for id in [a, b, c] {
        let m = members::member(store, id).unwrap().unwrap();
        assert!(m.phone.is_empty() && m.name.is_empty() && m.erased_at.is_some(), "member {id} still names someone: {m:?}");
    }
    for phone in [PHONE_A, PHONE_B, "13700137000"] {
        assert!(members::find(store, phone).unwrap().is_none(), "{phone} still leads to a member");
    }
    // Someone else is untouched, and the store is consistent.
    let other = members::member(store, bystander).unwrap().unwrap();
    assert_eq!((other.phone.as_str(), other.erased_at), ("13600136000", None));
    let report = storehub::verify::verify(store).unwrap();
    assert!(report.ok(), "{report:?}");
    let audit = storehub::audit::list(store, &Default::default()).unwrap();
    assert!(audit.iter().any(|e| e.detail.contains("2 merged duplicate(s) erased")), "{audit:?}");
}
