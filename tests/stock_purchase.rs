//! Purchase orders (采购单) and receiving by scanning (收货): drafts from the suggestion list
//! grouped by supplier (a SKU on an open order skipped), sending with its event, partial receipt
//! by scanning a barcode raising on-hand through the ledger (moves with reference po-<id>) and
//! lowering `on_order_by_sku`, the rest received → `received`, over-receipt and wrong codes
//! refused with nothing written, weight labels giving grams, close and cancel rules, the bounded
//! receipt list, `storehub verify`'s purchase-order check, the web's pages and receive box over
//! real HTTP and in a headless Chromium (a scanner typing into it), and the CLI with and without
//! a daemon.
//!
//! The shop: water (SKU-010001, 24 per case, ¥1.50 cost) and C'estbon (SKU-010003) from
//! 华东饮料批发, cola (SKU-010009) from 可口可乐装瓶, loose bananas (SKU-020001, grams, no
//! supplier, ¥5.00/kg cost). Suggestion lines are written the way the replenishment run writes
//! them, with `domain::replenish::suggest` doing the arithmetic.

mod common;

use storehub::domain::abc::AbcClass;
use storehub::domain::forecast::{DemandClass, Method};
use storehub::domain::purchase::PoRuleError;
use storehub::domain::replenish::{suggest, DemandInput, SkuPolicy};
use storehub::domain::staff::Role;
use storehub::domain::stock::MoveKind;
use storehub::inventory::purchase::{self as po, NewOrder, NewPoLine, PoEdit, PoFilter, PoState, PurchaseError, PurchaseOrder, Scan};
use storehub::inventory::replenishment::SuggestionLine;
use storehub::inventory::{self};
use storehub::staff::{self, HashCost, NewStaff};
use storehub::store::{CommitError, Store, TreeId};

use common::*;

const WATER: &str = "SKU-010001";
const CESTBON: &str = "SKU-010003";
const COLA: &str = "SKU-010009";
const BANANAS: &str = "SKU-020001";
const SPRITE: &str = "SKU-010002";
const WATER_EAN: &str = "6907674936533";
const CESTBON_EAN: &str = "6955406993705";
const DRINKS: &str = "华东饮料批发";
const COKE: &str = "可口可乐装瓶";

fn cola() -> storehub::catalog::Product {
    let mut p = drink(COLA, "Coca-Cola 330ml", &[&ean13("690000000001")], Some(12));
    p.supplier = Some(COKE.into());
    p.cost_fen = Some(180);
    p
}

fn add_staff(store: &Store, id: &str, role: Role) {
    let new = NewStaff { id: id.into(), name: id.into(), role };
    if let Err(e) = staff::create_staff(store, &new, "correct horse battery", None, &HashCost::minimal_for_tests()) {
        panic!("cannot create {id}: {e}");
    }
}

/// A shop with the four products, manager `zhang` and cashier `li`.
fn shop() -> Shop {
    let shop = Shop::open();
    load(&shop.store, &[water(), cestbon(), cola(), bananas(), drink(SPRITE, "Sprite 330ml", &[&ean13("690000000002")], None)]);
    add_staff(&shop.store, "zhang", Role::Manager);
    add_staff(&shop.store, "li", Role::Cashier);
    shop
}

/// Writes a suggestion line as the replenishment run does: forecast `per_day`, σ 0, nothing on
/// hand or on order, lead 2 days + review 1 day, pack `pack`, service level 95 %.
fn suggestion(store: &Store, sku: &str, supplier: Option<&str>, per_day: f64, pack: u32) -> SuggestionLine {
    let p = storehub::catalog::product(store, sku).unwrap().expect("product");
    let policy = SkuPolicy { lead_time_days: 2, review_period_days: 1, pack_size: pack, moq: 0, service_level_bp: 9500 };
    let input = DemandInput { forecast_per_day: per_day, forecast_error_per_day: 0.0, on_hand: 0, on_order: 0 };
    let line = SuggestionLine {
        sku: sku.into(),
        name_zh: p.name_zh,
        name_en: p.name_en,
        supplier: supplier.map(str::to_string),
        unit_cost_fen: p.cost_fen,
        abc: AbcClass::A,
        demand_class: DemandClass::Smooth,
        method: Method::Ses,
        policy,
        suggestion: suggest(&policy, &input).expect("suggestion"),
    };
    store.commit::<_, std::convert::Infallible>(|tx| tx.put(TreeId::Suggestions, sku.as_bytes(), &line)).unwrap();
    line
}

fn refusal<T: std::fmt::Debug>(r: Result<T, CommitError<PurchaseError>>) -> PurchaseError {
    match r {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(CommitError::Rejected(e)) => e,
        Err(e) => panic!("store error: {e}"),
    }
}

fn ok<T>(r: Result<T, CommitError<PurchaseError>>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("refused: {e}"),
    }
}

fn order_of(skus: &[(&str, i64)], supplier: Option<&str>) -> NewOrder {
    NewOrder {
        supplier: supplier.map(str::to_string),
        lines: skus.iter().map(|(s, q)| NewPoLine { sku: s.to_string(), qty: *q, unit_cost_fen: None }).collect(),
        notes: None,
    }
}

fn tz() -> chrono_tz::Tz {
    chrono_tz::Asia::Shanghai
}

fn layouts() -> Vec<storehub::domain::barcode::InStoreLayout> {
    storehub::domain::barcode::default_layouts()
}

fn scan(code: &str, qty: Option<i64>) -> Scan {
    Scan { code: code.into(), qty, allow_over: false }
}

/// A sent order of 24 water and 12 C'estbon from 华东饮料批发.
fn sent_drinks(store: &Store) -> PurchaseOrder {
    let o = ok(po::create(store, &order_of(&[(WATER, 24), (CESTBON, 12)], Some(DRINKS)), "zhang"));
    ok(po::send(store, o.id, tz(), 3, "zhang"))
}

#[test]
fn drafts_from_suggestions_are_grouped_by_supplier_and_skip_skus_on_open_orders() {
    let shop = shop();
    let s = &shop.store;
    assert!(matches!(refusal(po::from_suggestions(s, "zhang")), PurchaseError::NoSuggestions));
    // Water: 10/day × 3 days = 30 → 2 cases of 24 = 48. C'estbon: 2/day × 3 = 6, pack 1.
    // Cola: 4/day × 3 = 12. Bananas: 800 g/day × 3 = 2400 g, no supplier. The 0-demand line has
    // nothing to order and is left out.
    assert_eq!(suggestion(s, WATER, Some(DRINKS), 10.0, 24).suggestion.suggested_qty, 48);
    suggestion(s, CESTBON, Some(DRINKS), 2.0, 1);
    suggestion(s, COLA, Some(COKE), 4.0, 1);
    suggestion(s, BANANAS, None, 800.0, 1);
    assert_eq!(suggestion(s, SPRITE, Some(COKE), 0.0, 1).suggestion.suggested_qty, 0);
    // C'estbon is on an open (sent) order already.
    let held = ok(po::create(s, &order_of(&[(CESTBON, 6)], Some(DRINKS)), "zhang"));
    ok(po::send(s, held.id, tz(), 3, "zhang"));
    let before = newest_seq(s);

    let made = ok(po::from_suggestions(s, "zhang"));
    let summary: Vec<(Option<&str>, Vec<(&str, i64)>)> = made
        .created
        .iter()
        .map(|v| (v.order.supplier.as_deref(), v.order.lines.iter().map(|l| (l.sku.as_str(), l.ordered)).collect()))
        .collect();
    assert_eq!(
        summary,
        // Suppliers in name order (华 before 可 in UTF-8), the supplierless draft last.
        vec![
            (Some(DRINKS), vec![(WATER, 48)]),
            (Some(COKE), vec![(COLA, 12)]),
            (None, vec![(BANANAS, 2400)]),
        ]
    );
    assert_eq!(made.skipped.len(), 1);
    assert_eq!((made.skipped[0].sku.as_str(), made.skipped[0].po_id, made.skipped[0].state), (CESTBON, held.id, PoState::Sent));
    for v in &made.created {
        assert_eq!(v.order.state, PoState::Draft);
        assert!(v.order.from_suggestions);
    }
    // Values: 48 × ¥1.50 = ¥72.00; 12 × ¥1.80 = ¥21.60; 2 400 g × ¥5.00/kg = ¥12.00.
    assert_eq!(made.created.iter().map(|v| v.value_fen).collect::<Vec<_>>(), vec![7200, 2160, 1200]);
    let created = events_of_type(s, po::EVENT_CREATED);
    assert_eq!(created.iter().filter(|e| e.seq > before).count(), 3);
    // Again: every SKU is now on an open draft, so nothing new.
    let again = ok(po::from_suggestions(s, "zhang"));
    assert!(again.created.is_empty());
    assert_eq!(again.skipped.len(), 4);
    // The supplierless draft cannot be sent until it has a supplier.
    let bananas = made.created[2].order.id;
    let e = refusal(po::send(s, bananas, tz(), 3, "zhang"));
    assert_eq!(e.to_string(), format!("supplier: order {bananas} has no supplier; set one (`storehub po edit {bananas} --supplier NAME`) before sending it"));
    ok(po::edit(s, bananas, &PoEdit { supplier: Some("南汇果园".into()), ..Default::default() }, tz(), "zhang"));
    assert_eq!(ok(po::send(s, bananas, tz(), 3, "zhang")).state, PoState::Sent);
    // A cashier may not create orders.
    let e = refusal(po::from_suggestions(s, "li"));
    assert!(e.to_string().contains("staff li is a cashier and may not manage purchase orders"), "{e}");
}

#[test]
fn sending_emits_the_full_lines_and_the_expected_day() {
    let shop = shop();
    let s = &shop.store;
    let draft = ok(po::create(s, &order_of(&[(WATER, 24), (CESTBON, 12)], Some(DRINKS)), "zhang"));
    assert_eq!(draft.state, PoState::Draft);
    assert!(po::on_order_by_sku(s).unwrap().is_empty(), "a draft is not on order");
    let sent = ok(po::send(s, draft.id, tz(), 3, "zhang"));
    // Sent at 17:00 on 25 November in Shanghai; lead 3 days → 28 November.
    assert_eq!(sent.expected_on, chrono::NaiveDate::from_ymd_opt(2026, 11, 28));
    assert_eq!((sent.sent_by.as_deref(), sent.state), (Some("zhang"), PoState::Sent));
    let ev = events_of_type(s, po::EVENT_SENT);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].subject.as_deref(), Some(draft.id.to_string().as_str()));
    let data = ev[0].data().unwrap();
    assert_eq!(data["supplier"], DRINKS);
    assert_eq!(data["expected_on"], "2026-11-28");
    assert_eq!(data["lines"][0]["sku"], WATER);
    assert_eq!(data["lines"][0]["ordered"], 24);
    assert_eq!(data["lines"][0]["unit_cost_fen"], 150);
    assert_eq!(data["lines"][1]["sku"], CESTBON);
    assert_eq!(data["value_fen"], 24 * 150 + 12 * 150);
    assert!(data.get("notes").is_none(), "notes stay in the hub");
    let on_order = po::on_order_by_sku(s).unwrap();
    assert_eq!(on_order.get(WATER), Some(&24));
    assert_eq!(on_order.get(CESTBON), Some(&12));
    // Sending twice is refused.
    let e = refusal(po::send(s, draft.id, tz(), 3, "zhang"));
    assert_eq!(e.to_string(), "cannot send a sent order; only a draft is sent");
}

#[test]
fn partial_receipt_by_scanning_goes_through_the_ledger_and_the_rest_completes_the_order() {
    let shop = shop();
    let s = &shop.store;
    apply(s, MoveKind::Receipt, WATER, 5);
    let o = sent_drinks(s);
    let reference = format!("po-{}", o.id);
    // The cashier scans a case label 20 times worth: one scan of 20, then 1 unit per scan.
    let first = ok(po::receive(s, o.id, &scan(WATER_EAN, Some(20)), &layouts(), "li"));
    assert_eq!((first.line.received, first.outstanding, first.order.order.state), (20, 4, PoState::PartiallyReceived));
    let one = ok(po::receive(s, o.id, &scan(WATER_EAN, None), &layouts(), "li"));
    assert_eq!((one.receipt.qty, one.line.received), (1, 21));
    assert_eq!(inventory::on_hand(s, WATER).unwrap(), 5 + 21);
    let moves: Vec<_> = inventory::all_moves(s).unwrap().into_iter().filter(|m| m.reference.as_deref() == Some(reference.as_str())).collect();
    assert_eq!(moves.iter().map(|m| (m.kind, m.sku.as_str(), m.delta, m.user.as_str())).collect::<Vec<_>>(), vec![
        (MoveKind::Receipt, WATER, 20, "li"),
        (MoveKind::Receipt, WATER, 1, "li"),
    ]);
    assert_eq!(one.receipt.move_id, moves[1].id);
    let on_order = po::on_order_by_sku(s).unwrap();
    assert_eq!((on_order.get(WATER), on_order.get(CESTBON)), (Some(&3), Some(&12)));
    let received = events_of_type(s, po::EVENT_RECEIVED);
    assert_eq!(received.len(), 2);
    let d = received[1].data().unwrap();
    assert_eq!((d["receipt"]["sku"].as_str(), d["receipt"]["qty"].as_i64(), d["lines"][0]["received"].as_i64()), (Some(WATER), Some(1), Some(21)));
    assert_eq!(d["state"], "partially_received");
    // Partially received: cannot be cancelled any more, only closed.
    let e = refusal(po::cancel(s, o.id, "zhang"));
    assert_eq!(e.to_string(), "cannot cancel a partially_received order; goods arrived already: close it instead");
    // The rest: 3 water, 12 C'estbon (typed by sku: its box label is torn).
    ok(po::receive(s, o.id, &scan(WATER_EAN, Some(3)), &layouts(), "li"));
    let last = ok(po::receive(s, o.id, &scan(CESTBON, Some(12)), &layouts(), "zhang"));
    assert_eq!(last.order.order.state, PoState::Received);
    assert_eq!(last.order.outstanding, 0);
    assert!(po::on_order_by_sku(s).unwrap().is_empty());
    assert_eq!(inventory::on_hand(s, CESTBON).unwrap(), 12);
    assert_eq!(last.order.order.receipts_total, 4);
    assert_ledger_consistent(s, "after receiving");
    let report = storehub::verify::verify(s).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
    // An order whose received figure disagrees with its receipt moves is a violation.
    let mut tampered = po::order(s, o.id).unwrap().unwrap();
    tampered.lines[0].received = 23;
    s.commit::<_, std::convert::Infallible>(|tx| tx.put(TreeId::PurchaseOrders, &o.id.to_be_bytes(), &tampered)).unwrap();
    assert_eq!(
        storehub::verify::verify(s).unwrap().violations,
        vec![format!("purchase order {}: {WATER} received 23 but its receipt moves (po-{}) sum to 24", o.id, o.id)]
    );
    tampered.lines[0].received = 24;
    s.commit::<_, std::convert::Infallible>(|tx| tx.put(TreeId::PurchaseOrders, &o.id.to_be_bytes(), &tampered)).unwrap();
    // Received → closed.
    let closed = ok(po::close(s, o.id, "zhang"));
    assert_eq!(closed.state, PoState::Closed);
    assert!(matches!(refusal(po::receive(s, o.id, &scan(WATER_EAN, None), &layouts(), "li")), PurchaseError::Rule(PoRuleError::State { .. })));
}

#[test]
fn over_receipt_and_wrong_codes_are_refused_naming_them_and_write_nothing() {
    let shop = shop();
    let s = &shop.store;
    let o = sent_drinks(s);
    ok(po::receive(s, o.id, &scan(WATER_EAN, Some(20)), &layouts(), "li"));
    let (seq, moves, stored) = (newest_seq(s), inventory::all_moves(s).unwrap().len(), po::order(s, o.id).unwrap());

    let over = refusal(po::receive(s, o.id, &scan(WATER_EAN, Some(5)), &layouts(), "li"));
    assert_eq!(over.to_string(), format!("qty: receiving 5 of {WATER} would make 25 of 24 ordered (1 over); count again, or allow over-receipt"));
    assert_eq!(over.field().as_deref(), Some("qty"));
    let cola_ean = ean13("690000000001");
    let not_on = refusal(po::receive(s, o.id, &scan(&cola_ean, None), &layouts(), "li"));
    assert_eq!(not_on.to_string(), format!("code {cola_ean}: {COLA} is not on purchase order {}; put it aside and check the delivery note", o.id));
    let unknown = refusal(po::receive(s, o.id, &scan("6900000000999", None), &layouts(), "li"));
    assert!(unknown.to_string().starts_with("code 6900000000999: "), "{unknown}");
    let garbage = refusal(po::receive(s, o.id, &scan("12AB", None), &layouts(), "li"));
    assert!(garbage.to_string().starts_with("code 12AB: not a barcode"), "{garbage}");
    assert_eq!(garbage.field().as_deref(), Some("code"));
    let zero = refusal(po::receive(s, o.id, &scan(WATER_EAN, Some(0)), &layouts(), "li"));
    assert_eq!(zero.to_string(), "qty: must be at least 1, got 0");
    let unknown_order = refusal(po::receive(s, 99, &scan(WATER_EAN, None), &layouts(), "li"));
    assert_eq!(unknown_order.to_string(), "no purchase order 99; `storehub po list` shows the orders");

    assert_eq!(newest_seq(s), seq, "no event");
    assert_eq!(inventory::all_moves(s).unwrap().len(), moves, "no move");
    assert_eq!(po::order(s, o.id).unwrap(), stored, "order unchanged");
    assert_eq!(inventory::on_hand(s, WATER).unwrap(), 20);

    // Allowed explicitly, the over-receipt is booked.
    let allowed = ok(po::receive(s, o.id, &Scan { code: WATER_EAN.into(), qty: Some(5), allow_over: true }, &layouts(), "li"));
    assert_eq!((allowed.line.received, allowed.outstanding), (25, 0));
    assert_eq!(inventory::on_hand(s, WATER).unwrap(), 25);
}

#[test]
fn an_order_keeps_its_newest_200_receipts_and_the_ledger_keeps_every_one() {
    let shop = shop();
    let s = &shop.store;
    let o = ok(po::create(s, &order_of(&[(WATER, 240)], Some(DRINKS)), "zhang"));
    ok(po::send(s, o.id, tz(), 3, "zhang"));
    for _ in 0..205 {
        ok(po::receive(s, o.id, &scan(WATER_EAN, None), &layouts(), "li"));
    }
    let stored = po::order(s, o.id).unwrap().unwrap();
    assert_eq!((stored.receipts.len(), stored.receipts_total, stored.lines[0].received), (po::RECEIPTS_KEPT, 205, 205));
    let moves: Vec<u64> = inventory::all_moves(s).unwrap().into_iter().filter(|m| m.reference.as_deref() == Some("po-1")).map(|m| m.id).collect();
    assert_eq!(moves.len(), 205);
    assert_eq!(stored.receipts.first().map(|r| r.move_id), Some(moves[5]), "the oldest five left the record");
    assert_eq!(stored.receipts.last().map(|r| r.move_id), moves.last().copied());
    assert!(storehub::verify::verify(s).unwrap().ok());
}

#[test]
fn a_weight_label_gives_grams_and_weighed_goods_need_a_weight() {
    let shop = shop();
    let s = &shop.store;
    let o = ok(po::create(s, &order_of(&[(BANANAS, 5000)], Some("南汇果园")), "zhang"));
    ok(po::send(s, o.id, tz(), 1, "zhang"));
    // Prefix 25, PLU 05000, 2.450 kg.
    let label = ean13("250500002450");
    let r = ok(po::receive(s, o.id, &scan(&label, None), &layouts(), "li"));
    assert_eq!((r.receipt.qty, r.line.received, r.outstanding), (2450, 2450, 2550));
    assert_eq!(inventory::on_hand(s, BANANAS).unwrap(), 2450);
    let e = refusal(po::receive(s, o.id, &scan(&label, Some(3)), &layouts(), "li"));
    assert_eq!(e.to_string(), format!("qty: code {label} carries its own weight; scan without a quantity"));
    let e = refusal(po::receive(s, o.id, &scan(BANANAS, None), &layouts(), "li"));
    assert_eq!(e.to_string(), format!("qty: {BANANAS} is weighed (stock in grams); scan its weight label or give the grams received as qty"));
    let typed = ok(po::receive(s, o.id, &scan(BANANAS, Some(2550)), &layouts(), "li"));
    assert_eq!(typed.order.order.state, PoState::Received);
}

#[test]
fn edits_close_and_cancel_follow_the_state() {
    let shop = shop();
    let s = &shop.store;
    let bad = refusal(po::create(s, &order_of(&[(WATER, 24), ("SKU-404", 1)], Some(DRINKS)), "zhang"));
    assert_eq!(bad.to_string(), "lines[1].sku: no product SKU-404 in the catalog; check the sku (`storehub search`)");
    assert_eq!(bad.field().as_deref(), Some("lines[1].sku"));
    let bad = refusal(po::create(s, &order_of(&[(WATER, 24), (WATER, 1)], Some(DRINKS)), "zhang"));
    assert_eq!(bad.field().as_deref(), Some("lines[1].sku"));
    let bad = refusal(po::create(s, &order_of(&[(WATER, 0)], Some(DRINKS)), "zhang"));
    assert_eq!(bad.to_string(), format!("lines[0].qty: {WATER}: must be at least 1, got 0"));
    assert!(matches!(refusal(po::create(s, &order_of(&[], Some(DRINKS)), "zhang")), PurchaseError::NoLines));
    assert!(po::list(s, PoFilter::All).unwrap().is_empty(), "nothing written");

    let d = ok(po::create(s, &order_of(&[(WATER, 24), (CESTBON, 12)], Some(DRINKS)), "zhang"));
    let lines = vec![
        NewPoLine { sku: CESTBON.into(), qty: 0, unit_cost_fen: None },
        NewPoLine { sku: WATER.into(), qty: 48, unit_cost_fen: Some(140) },
        NewPoLine { sku: COLA.into(), qty: 6, unit_cost_fen: None },
    ];
    let edited = ok(po::edit(s, d.id, &PoEdit { lines, notes: Some("后门卸货".into()), ..Default::default() }, tz(), "zhang"));
    assert_eq!(edited.lines.iter().map(|l| (l.sku.as_str(), l.ordered, l.unit_cost_fen)).collect::<Vec<_>>(), vec![(WATER, 48, Some(140)), (COLA, 6, Some(180))]);
    assert_eq!(edited.notes, "后门卸货");
    let upd = events_of_type(s, po::EVENT_UPDATED);
    assert_eq!(upd.last().unwrap().data().unwrap()["change"], "lines,notes");
    let e = refusal(po::edit(s, d.id, &PoEdit { expected_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1), ..Default::default() }, tz(), "zhang"));
    assert_eq!(e.field().as_deref(), Some("expected_on"));

    let sent = ok(po::send(s, d.id, tz(), 3, "zhang"));
    let e = refusal(po::edit(s, d.id, &PoEdit { lines: vec![NewPoLine { sku: WATER.into(), qty: 1, unit_cost_fen: None }], ..Default::default() }, tz(), "zhang"));
    assert_eq!(e.to_string(), "cannot change the lines or supplier of a sent order; a sent order's notes and expected day may still change");
    let e = refusal(po::edit(s, d.id, &PoEdit { expected_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 20), ..Default::default() }, tz(), "zhang"));
    assert_eq!(e.to_string(), format!("expected_on: 2026-11-20 is before the day order {} was sent (2026-11-25)", d.id));
    let later = ok(po::edit(s, d.id, &PoEdit { expected_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 1), notes: Some("周一送".into()), ..Default::default() }, tz(), "zhang"));
    assert_eq!((later.expected_on, later.notes.as_str()), (chrono::NaiveDate::from_ymd_opt(2026, 12, 1), "周一送"));
    assert_eq!(later.sent_at, sent.sent_at);

    // A sent order with nothing received may be cancelled, not closed.
    let e = refusal(po::close(s, d.id, "zhang"));
    assert_eq!(e.to_string(), "cannot close a sent order; nothing arrived yet: cancel it instead");
    let e = refusal(po::cancel(s, d.id, "li"));
    assert!(matches!(e, PurchaseError::Staff(_)), "{e}");
    let cancelled = ok(po::cancel(s, d.id, "zhang"));
    assert_eq!((cancelled.state, cancelled.closed_by.as_deref()), (PoState::Cancelled, Some("zhang")));
    assert!(po::on_order_by_sku(s).unwrap().is_empty());
    assert_eq!(events_of_type(s, po::EVENT_CANCELLED).len(), 1);

    // Partially received → closed: the outstanding leaves "on order".
    let o = sent_drinks(s);
    ok(po::receive(s, o.id, &scan(WATER_EAN, Some(10)), &layouts(), "li"));
    assert_eq!(po::on_order_by_sku(s).unwrap().get(WATER), Some(&14));
    let closed = ok(po::close(s, o.id, "zhang"));
    assert_eq!(closed.state, PoState::Closed);
    assert!(po::on_order_by_sku(s).unwrap().is_empty());
    let ev = events_of_type(s, po::EVENT_CLOSED);
    assert_eq!(ev[0].data().unwrap()["lines"][0]["received"], 10);
    assert_eq!(po::list(s, PoFilter::Open).unwrap().len(), 0);
    assert_eq!(po::list(s, PoFilter::State(PoState::Closed)).unwrap().len(), 1);
    assert_eq!(po::list(s, PoFilter::All).unwrap().iter().map(|o| o.id).collect::<Vec<_>>(), vec![o.id, d.id]);
}

// --- the CLI ------------------------------------------------------------------------------------

/// The CLI's whole cycle on data dir `d`: create, send, receive by scan, refusals, list, close.
fn cli_cycle(d: &str) {
    let on_hand = |d: &str| ok_json(storehub_cmd(&["--data-dir", d, "stock", "show", WATER]))[0]["on_hand"].as_i64().expect("on hand");
    let water_before = on_hand(d);
    let created = ok_json(storehub_cmd(&["--data-dir", d, "po", "create", "--supplier", DRINKS, "--line", "SKU-010001:24", "--line", "SKU-010003:12:140", "--staff", "zhang"]));
    let id = created["id"].as_u64().expect("id").to_string();
    assert_eq!((created["state"].as_str(), created["value_fen"].as_i64()), (Some("draft"), Some(24 * 150 + 12 * 140)));
    refused(
        storehub_cmd(&["--data-dir", d, "po", "create", "--line", "SKU-404:1", "--staff", "zhang"]),
        "lines[0].sku: no product SKU-404 in the catalog; check the sku (`storehub search`); nothing written",
    );
    let usage = storehub_cmd(&["--data-dir", d, "po", "create", "--line", "SKU-010001", "--staff", "zhang"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error: {}", stderr(&usage));
    assert!(stderr(&usage).contains("expected SKU:QTY or SKU:QTY:COST_FEN"), "{}", stderr(&usage));
    refused(storehub_cmd(&["--data-dir", d, "po", "send", &id, "--staff", "li"]), "staff li is a cashier and may not manage purchase orders");
    let sent = ok_json(storehub_cmd(&["--data-dir", d, "po", "send", &id, "--staff", "zhang"]));
    assert_eq!(sent["state"], "sent");
    let got = ok_json(storehub_cmd(&["--data-dir", d, "po", "receive", &id, "--scan", WATER_EAN, "--qty", "20", "--staff", "li"]));
    assert_eq!((got["line"]["received"].as_i64(), got["outstanding"].as_i64()), (Some(20), Some(4)));
    refused(
        storehub_cmd(&["--data-dir", d, "po", "receive", &id, "--scan", WATER_EAN, "--qty", "5", "--staff", "li"]),
        "qty: receiving 5 of SKU-010001 would make 25 of 24 ordered (1 over); count again, or allow over-receipt; nothing written",
    );
    ok_json(storehub_cmd(&["--data-dir", d, "po", "receive", &id, "--scan", WATER_EAN, "--qty", "5", "--allow-over", "--staff", "li"]));
    refused(storehub_cmd(&["--data-dir", d, "po", "receive", &id, "--scan", "6900000000999", "--staff", "li"]), "code 6900000000999: ");
    assert_eq!(on_hand(d), water_before + 25);
    let open = ok_json(storehub_cmd(&["--data-dir", d, "po", "list"]));
    assert_eq!(open[0]["state"], "partially_received");
    let shown = ok_json(storehub_cmd(&["--data-dir", d, "po", "show", &id]));
    assert_eq!(shown["receipts"].as_array().map(Vec::len), Some(2));
    let closed = ok_json(storehub_cmd(&["--data-dir", d, "po", "close", &id, "--staff", "zhang"]));
    assert_eq!(closed["state"], "closed");
    let by_state = ok_json(storehub_cmd(&["--data-dir", d, "po", "list", "--state", "closed"]));
    assert_eq!(by_state.as_array().map(Vec::len), Some(1));
    refused(storehub_cmd(&["--data-dir", d, "po", "show", "99"]), "no purchase order 99");
}

fn cli_products(d: &str) {
    let csv = format!(
        "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n\
         {WATER},{WATER_EAN},农夫山泉550ml,Nongfu Spring 550ml,饮料,piece,200,,150,1300,{DRINKS},24\n\
         {CESTBON},{CESTBON_EAN},怡宝555ml,C'estbon 555ml,饮料,piece,200,,150,1300,{DRINKS},5\n"
    );
    let file = std::path::Path::new(d).parent().unwrap().join("catalog.csv");
    std::fs::write(&file, csv).unwrap();
    let o = storehub_cmd(&["--data-dir", d, "import", "catalog", file.to_str().unwrap()]);
    assert!(o.status.success(), "catalog import: {}", stderr(&o));
}

#[test]
fn cli_purchase_orders_without_a_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let d = dir.to_str().unwrap();
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "zhang", "--role", "manager", "--password-stdin"], "manager-zhang-2026\n"));
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--role", "cashier", "--password-stdin"], "cashier-li-2026\n"));
    cli_products(d);
    cli_cycle(d);
}

#[test]
fn cli_purchase_orders_while_the_daemon_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("live");
    let d = dir.to_str().unwrap();
    let mut daemon = start_demo(&dir);
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "zhang", "--role", "manager", "--password-stdin"], "manager-zhang-2026\n"));
    ok_json(storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--role", "cashier", "--password-stdin"], "cashier-li-2026\n"));
    cli_products(d);
    cli_cycle(d);
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon must still run");
}

// --- the web ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_receive_box_books_each_scan_and_names_a_wrong_code() {
    use common::web::{body, text, WebShop};
    let shop = WebShop::start().await;
    load(&shop.store, &[water(), cestbon()]);
    let manager = shop.login("manager1", None).await;
    let cashier = shop.login("cashier1", Some("lane-1")).await;

    // The manager makes and sends the order through the API.
    let (status, created) = body(
        shop.post_json(&manager, "/api/v1/stock/purchase-orders", &serde_json::json!({
            "supplier": DRINKS, "lines": [{"sku": WATER, "qty": 24}, {"sku": CESTBON, "qty": 12, "unit_cost_fen": 140}], "notes": "后门卸货"
        }))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_u64().unwrap();
    assert_eq!((created["state"].as_str(), created["value_fen"].as_i64()), (Some("draft"), Some(24 * 150 + 12 * 140)));
    let (status, bad) = body(shop.post_json(&manager, "/api/v1/stock/purchase-orders", &serde_json::json!({"lines": [{"sku": WATER, "qty": -1}]})).await).await;
    assert_eq!((status.as_u16(), bad["field"].as_str()), (400, Some("lines[0].qty")), "{bad}");
    let (status, patched) = body(shop.send_json(&manager, reqwest::Method::PATCH, &format!("/api/v1/stock/purchase-orders/{id}"), &serde_json::json!({"lines": [{"sku": CESTBON, "qty": 6}]})).await).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["lines"][1]["ordered"], 6);
    // The manager's page of the draft: the edit form and the send button; the form changes a line.
    let (status, draft) = text(shop.get(&manager, &format!("/stock/purchase-orders/{id}")).await).await;
    assert_eq!(status, 200);
    assert!(draft.contains(r#"name="qty_1""#) && draft.contains(&format!("/stock/purchase-orders/{id}/send")), "edit form and send button");
    let res = shop.post_form(&manager, &format!("/stock/purchase-orders/{id}/edit"), &[("sku_0", WATER), ("qty_0", "24"), ("sku_1", CESTBON), ("qty_1", "x")]).await;
    let (status, page) = text(res).await;
    assert_eq!(status, 400);
    assert!(page.contains("不是整数"), "the form names the bad quantity");
    let res = shop.post_form(&manager, &format!("/stock/purchase-orders/{id}/edit"), &[("sku_0", WATER), ("qty_0", "24"), ("sku_1", CESTBON), ("qty_1", "6"), ("notes", "周一送")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(po::order(&shop.store, id).unwrap().unwrap().notes, "周一送");
    let (status, _) = body(shop.post_json(&cashier, &format!("/api/v1/stock/purchase-orders/{id}/send"), &serde_json::json!({})).await).await;
    assert_eq!(status, 403, "a cashier may not send orders");
    let (status, sent) = body(shop.post_json(&manager, &format!("/api/v1/stock/purchase-orders/{id}/send"), &serde_json::json!({})).await).await;
    assert_eq!((status.as_u16(), sent["state"].as_str()), (200, Some("sent")), "{sent}");

    // The cashier finds the order among those waiting for goods; its receiving page has the
    // autofocused scan box and its script, and no costs. The order's own page is for managers.
    let (status, waiting) = text(shop.get(&cashier, "/stock/purchase-orders/receiving").await).await;
    assert_eq!(status, 200);
    assert!(waiting.contains(&format!("/stock/purchase-orders/{id}/receive")), "{waiting}");
    assert_eq!(shop.get(&cashier, &format!("/stock/purchase-orders/{id}")).await.status(), 403);
    let (status, html) = text(shop.get(&cashier, &format!("/stock/purchase-orders/{id}/receive")).await).await;
    assert_eq!(status, 200);
    assert!(!html.contains("¥"), "no costs on the receiving page");
    assert!(html.contains(r#"id="po-scan""#) && html.contains("autofocus"), "the scan box");
    assert!(html.contains(&format!(r#"data-api="/api/v1/stock/purchase-orders/{id}/receive""#)), "the box posts to the API");
    assert!(html.contains("/assets/purchase.js?v="), "its script");
    let (status, js) = text(shop.http.get(shop.url("/assets/purchase.js")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert!(js.contains("/receive") || js.contains("dataset.api"), "the script posts each scan");

    // Each scan as the script sends it.
    let receive = |code: &str, qty: Option<i64>| {
        let mut b = serde_json::json!({"code": code, "allow_over": false});
        if let Some(q) = qty {
            b["qty"] = q.into();
        }
        b
    };
    let path = format!("/api/v1/stock/purchase-orders/{id}/receive");
    let (status, r) = body(shop.post_json(&cashier, &path, &receive(WATER_EAN, None)).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["line"]["received"].as_i64(), r["outstanding"].as_i64(), r["order"]["state"].as_str()), (Some(1), Some(23), Some("partially_received")));
    assert_eq!(r["receipt"]["code"], WATER_EAN);
    let moves_before = inventory::all_moves(&shop.store).unwrap().len();
    let (status, wrong) = body(shop.post_json(&cashier, &path, &receive("6900000000999", None)).await).await;
    assert_eq!((status.as_u16(), wrong["field"].as_str()), (400, Some("code")), "{wrong}");
    assert!(wrong["message"].as_str().unwrap().contains("6900000000999"), "the message names the code: {wrong}");
    let (status, over) = body(shop.post_json(&cashier, &path, &receive(WATER_EAN, Some(30))).await).await;
    assert_eq!((status.as_u16(), over["field"].as_str()), (400, Some("qty")), "{over}");
    assert_eq!(inventory::all_moves(&shop.store).unwrap().len(), moves_before, "refused scans write nothing");

    // Without the script: the form posts and comes back to the page.
    let res = shop.post_form(&cashier, &format!("/stock/purchase-orders/{id}/receive"), &[("code", WATER_EAN), ("qty", "23")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/stock/purchase-orders/{id}/receive?received=1"));
    let res = shop.post_form(&cashier, &format!("/stock/purchase-orders/{id}/receive"), &[("code", "6900000000999")]).await;
    let (status, page) = text(res).await;
    assert_eq!(status, 400);
    assert!(page.contains("6900000000999"), "the page names the wrong code");
    let (_, last) = body(shop.post_json(&cashier, &path, &receive(CESTBON_EAN, Some(6))).await).await;
    assert_eq!(last["order"]["state"], "received", "{last}");
    assert_eq!(inventory::on_hand(&shop.store, WATER).unwrap(), 24);
    let refs: Vec<_> = inventory::all_moves(&shop.store).unwrap().into_iter().map(|m| m.reference).collect();
    assert!(refs.iter().all(|r| r.as_deref() == Some(format!("po-{id}").as_str())), "{refs:?}");

    // The list: by state, with the value; the manager closes the order by the page's button.
    let (status, list) = text(shop.get(&manager, "/stock/purchase-orders?state=received").await).await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("data-po=\"{id}\"")) && list.contains("¥44.40"), "24 × ¥1.50 + 6 × ¥1.40 = ¥44.40");
    let res = shop.post_form(&manager, &format!("/stock/purchase-orders/{id}/close"), &[]).await;
    assert_eq!(res.status(), 303);
    let (_, shown) = body(shop.get(&manager, &format!("/api/v1/stock/purchase-orders/{id}")).await).await;
    assert_eq!(shown["state"], "closed");
    let (status, listed) = body(shop.get(&manager, "/api/v1/stock/purchase-orders?state=closed").await).await;
    assert_eq!((status.as_u16(), listed["orders"][0]["id"].as_u64()), (200, Some(id)));
    let (status, e) = body(shop.get(&manager, "/api/v1/stock/purchase-orders?state=lost").await).await;
    assert_eq!((status.as_u16(), e["field"].as_str()), (400, Some("state")));

    // "Create from suggestions" from the list page's button.
    suggestion(&shop.store, WATER, Some(DRINKS), 10.0, 24);
    let res = shop.post_form(&manager, "/stock/purchase-orders/from-suggestions", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/stock/purchase-orders?made=1&skipped=0");
    let (_, open) = body(shop.get(&manager, "/api/v1/stock/purchase-orders").await).await;
    assert_eq!(open["orders"][0]["lines"][0]["ordered"], 48);
}

/// The receive box in a real headless Chromium: the cashier's scanner types a code and Enter;
/// the line's received and outstanding figures change without a page reload, and a wrong code
/// shows the server's message naming it, the focus staying in the box for the next scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_typing_into_the_receive_box_updates_the_line_without_a_reload() {
    use common::browser::Browser;
    use common::web::{WebShop, PIN};
    use std::time::Duration;
    let shop = WebShop::start().await;
    load(&shop.store, &[water(), cestbon()]);
    let o = ok(po::create(&shop.store, &order_of(&[(WATER, 24), (CESTBON, 12)], Some(DRINKS)), "manager1"));
    ok(po::send(&shop.store, o.id, tz(), 3, "manager1"));

    let b = Browser::start().await;
    b.login_pin(&shop.base, "lane-1", "cashier1", PIN).await;
    b.client.goto(&shop.url(&format!("/stock/purchase-orders/{}/receive", o.id))).await.expect("open the receiving page");
    b.wait_js("document.readyState === 'complete' && document.activeElement && document.activeElement.id === 'po-scan'", Duration::from_secs(10)).await;
    b.js("window.__samePage = true; return null;").await;
    let cell = |sku: &str, class: &str| format!("[...document.querySelectorAll('#po-lines tbody tr')].find(r => r.dataset.sku === '{sku}').querySelector('.{class}').textContent");

    // A scanner in keyboard mode: the digits, then Enter.
    b.type_into("#po-scan", &format!("{WATER_EAN}\n")).await;
    b.wait_js(&format!("{} === '1'", cell(WATER, "received")), Duration::from_secs(10)).await;
    assert_eq!(b.js(&format!("return {};", cell(WATER, "outstanding"))).await, "23");
    let notice = b.wait_js("document.getElementById('po-notice').textContent.includes('✓') && document.getElementById('po-notice').textContent", Duration::from_secs(5)).await;
    assert!(notice.as_str().unwrap().contains("1 / 24"), "{notice}");
    assert_eq!(b.js("return document.querySelector('#po-state [data-state]').dataset.state;").await, "partially_received");

    // A typed quantity for the next scan, then a wrong code.
    b.type_into("#po-qty", "11").await;
    b.type_into("#po-scan", &format!("{CESTBON_EAN}\n")).await;
    b.wait_js(&format!("{} === '11'", cell(CESTBON, "received")), Duration::from_secs(10)).await;
    b.type_into("#po-scan", "6900000000999\n").await;
    let err = b.wait_js("document.querySelector('#po-notice .error') && document.querySelector('#po-notice .error').textContent", Duration::from_secs(10)).await;
    assert!(err.as_str().unwrap().contains("6900000000999"), "the message names the code: {err}");
    assert_eq!(b.js("return window.__samePage === true && document.activeElement.id === 'po-scan' && document.getElementById('po-scan').value === '';").await, true, "no reload; ready for the next scan");
    b.screenshot("purchase_receive_box").await;
    b.close().await;

    // The manager's page of the same order shows what arrived, with costs and the close button.
    let b = Browser::start().await;
    b.login_password(&shop.base, "manager1", common::web::PASSWORD).await;
    b.client.goto(&shop.url(&format!("/stock/purchase-orders/{}", o.id))).await.expect("open the order page");
    b.wait_js("document.readyState === 'complete'", Duration::from_secs(10)).await;
    assert_eq!(b.js(&format!("return {};", cell(WATER, "outstanding"))).await, "23");
    assert_eq!(b.js(&format!("return !!document.querySelector('form[action=\"/stock/purchase-orders/{}/close\"]');", o.id)).await, true);
    b.screenshot("purchase_order_page").await;
    b.close().await;

    assert_eq!(inventory::on_hand(&shop.store, WATER).unwrap(), 1);
    assert_eq!(inventory::on_hand(&shop.store, CESTBON).unwrap(), 11);
}
