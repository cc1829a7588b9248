//! A lane as a cashier uses it: scans (GTINs, scale labels), weighing at the lane scale, changing
//! and removing lines, voiding; and the cart surviving a restart of the daemon.

mod common;

use std::sync::Arc;

use chrono::Duration;
use storehub::checkout::{CartError, CheckoutError, Lanes, ScaleReading, ScanOutcome};
use storehub::clock::{Clock, ManualClock};
use storehub::domain::pricing::Quantity;
use storehub::store::{Durability, Store};

use common::*;

const WATER: &str = "6907674936533";

fn shop() -> (tempfile::TempDir, ManualClock, Arc<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    load(&store, &[water(), cestbon(), bananas()]);
    (dir, clock, store)
}

fn lanes(store: &Arc<Store>) -> Arc<Lanes> {
    Lanes::open(Arc::clone(store), &["lane-1".to_string(), "lane-2".to_string()], Vec::new(), 300).unwrap()
}

fn added(outcome: ScanOutcome) -> storehub::checkout::CartLine {
    match outcome {
        ScanOutcome::Added { line } => line,
        other => panic!("expected the scan to add a line, got {other:?}"),
    }
}

#[test]
fn two_scans_of_water_make_one_line_of_two_and_an_unknown_code_adds_nothing() {
    let (_dir, _clock, store) = shop();
    let lanes = lanes(&store);
    added(lanes.scan("lane-1", WATER).unwrap());
    let line = added(lanes.scan("lane-1", WATER).unwrap());
    assert_eq!((line.line_no, line.qty), (1, Quantity::Units(2)));

    let unknown = ean13("690000000001");
    assert_eq!(lanes.scan("lane-1", &unknown).unwrap(), ScanOutcome::UnknownBarcode { code: unknown.clone() });
    assert_eq!(lanes.cart("lane-1").unwrap().lines.len(), 1, "nothing added");
    assert!(lanes.cart("lane-2").unwrap().is_empty(), "lanes do not share carts");
}

#[test]
fn a_mistyped_barcode_is_refused_with_what_is_wrong() {
    let (_dir, _clock, store) = shop();
    let lanes = lanes(&store);
    let err = lanes.scan("lane-1", "6907674936534").unwrap_err();
    assert_eq!(err.to_string(), "barcode \"6907674936534\" cannot be read: wrong check digit 4; expected 3");
    let err = lanes.scan("lane-9", WATER).unwrap_err();
    assert!(matches!(err, CheckoutError::UnknownLane(ref l) if l == "lane-9"), "{err}");
}

#[test]
fn bananas_by_label_by_scale_and_refused_while_the_scale_moves() {
    let (_dir, clock, store) = shop();
    let lanes = lanes(&store);
    // A weight label from the produce counter: prefix 25, item 05000, 1,234 g.
    let label = ean13("250500001234");
    let line = added(lanes.scan("lane-1", &label).unwrap());
    assert_eq!((line.sku.as_str(), line.qty, line.unit_price_fen), ("SKU-020001", Quantity::Grams(1_234), 798));
    // A price label: prefix 20, item 05000, ¥8.88.
    let line = added(lanes.scan("lane-1", &ean13("200500000888")).unwrap());
    assert_eq!((line.qty, line.label_price_fen), (Quantity::Units(1), Some(888)));

    // Weighing at the lane: no reading yet, then a moving one, then a stable one.
    assert!(matches!(lanes.add_weighed("lane-1", "SKU-020001"), Err(CheckoutError::NoWeight)));
    let at = clock.now();
    lanes.scale_reading("lane-1", ScaleReading { grams: 640, stable: false, at }).unwrap();
    assert!(matches!(lanes.add_weighed("lane-1", "SKU-020001"), Err(CheckoutError::UnstableWeight)));
    lanes.scale_reading("lane-1", ScaleReading { grams: 652, stable: true, at }).unwrap();
    let line = lanes.add_weighed("lane-1", "SKU-020001").unwrap();
    assert_eq!((line.line_no, line.qty), (3, Quantity::Grams(652)));
    // Three seconds later the reading is stale.
    clock.advance(Duration::seconds(3));
    assert!(matches!(lanes.add_weighed("lane-1", "SKU-020001"), Err(CheckoutError::NoWeight)));
    // Water is not weighed.
    assert!(matches!(lanes.add_weighed("lane-1", "SKU-010001"), Err(CheckoutError::Cart(CartError::NotWeighed { .. }))));
    assert_eq!(lanes.cart("lane-1").unwrap().lines.len(), 3);
}

#[test]
fn bananas_scanned_by_their_plu_ask_for_the_scale() {
    let (_dir, _clock, store) = shop();
    let p = storehub::catalog::Product { barcodes: vec!["5000".into(), ean13("690000005000")], ..bananas() };
    load(&store, &[p]);
    let lanes = lanes(&store);
    match lanes.scan("lane-1", &ean13("690000005000")).unwrap() {
        ScanOutcome::NeedsWeight { sku, .. } => assert_eq!(sku, "SKU-020001"),
        other => panic!("expected needs_weight, got {other:?}"),
    }
    assert!(lanes.cart("lane-1").unwrap().is_empty());
}

#[test]
fn changing_removing_and_voiding_lines() {
    let (_dir, _clock, store) = shop();
    let lanes = lanes(&store);
    added(lanes.scan("lane-1", WATER).unwrap());
    lanes.add_sku("lane-1", "SKU-010003", 2).unwrap();
    assert_eq!(lanes.set_units("lane-1", 1, 6).unwrap().qty, Quantity::Units(6));
    assert!(matches!(lanes.set_units("lane-1", 1, 0), Err(CheckoutError::Cart(CartError::NonPositiveQuantity { qty: 0 }))));
    assert_eq!(lanes.remove_line("lane-1", 2).unwrap().sku, "SKU-010003");
    assert!(matches!(lanes.remove_line("lane-1", 2), Err(CheckoutError::Cart(CartError::NoSuchLine { line_no: 2 }))));
    assert!(matches!(lanes.add_sku("lane-1", "SKU-999", 1), Err(CheckoutError::UnknownSku(_))));
    let voided = lanes.void("lane-1").unwrap();
    assert_eq!(voided.lines.len(), 1);
    assert!(lanes.cart("lane-1").unwrap().is_empty());
}

#[test]
fn carts_survive_a_restart_of_the_daemon() {
    let (dir, clock, store) = shop();
    {
        let lanes = lanes(&store);
        added(lanes.scan("lane-1", WATER).unwrap());
        added(lanes.scan("lane-1", WATER).unwrap());
        added(lanes.scan("lane-1", &ean13("250500001234")).unwrap());
        lanes.add_sku("lane-2", "SKU-010003", 3).unwrap();
        lanes.add_sku("lane-2", "SKU-010001", 1).unwrap();
        lanes.remove_line("lane-2", 2).unwrap();
    }
    let before = Lanes::open(Arc::clone(&store), &["lane-1".to_string(), "lane-2".to_string()], Vec::new(), 300).unwrap();
    let (cart1, cart2) = (before.cart("lane-1").unwrap(), before.cart("lane-2").unwrap());
    drop(before);
    drop(store);

    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    let lanes = lanes(&store);
    assert_eq!(lanes.cart("lane-1").unwrap(), cart1);
    assert_eq!(lanes.cart("lane-2").unwrap(), cart2);
    assert_eq!(cart1.lines.len(), 2);
    assert_eq!(cart1.lines[0].qty, Quantity::Units(2));
    assert_eq!(cart2.lines.iter().map(|l| l.line_no).collect::<Vec<_>>(), vec![1]);
    // Numbering goes on where it stopped.
    assert_eq!(lanes.add_sku("lane-2", "SKU-010001", 1).unwrap().line_no, 3);
}

#[test]
fn a_price_override_is_committed_with_its_audit_entry_survives_a_restart_and_goes_with_its_line() {
    let (dir, clock, store) = shop();
    {
        let lanes = lanes(&store);
        lanes.add_sku("lane-1", "SKU-010001", 2).unwrap();
        lanes.add_sku("lane-1", "SKU-010003", 1).unwrap();
        let o = lanes.override_price("lane-1", 1, 150, "li", "临期").unwrap();
        assert_eq!((o.list_price_fen, o.price_fen, o.by.as_str()), (200, 150, "li"));
        // 2 × ¥1.50 + ¥2.00 = ¥5.00.
        assert_eq!(lanes.quote("lane-1", &rules(CashRounding::None)).unwrap().total_fen, 500);
        let refused = lanes.override_price("lane-1", 2, 250, "li", "x").unwrap_err();
        assert!(matches!(refused, CheckoutError::Cart(CartError::OverridePrice { line_no: 2, price_fen: 250, list_fen: 200 })), "{refused}");
    }
    drop(store);
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    let audited = storehub::audit::list(&store, &Default::default()).unwrap();
    assert_eq!(audited.iter().filter(|e| e.action == storehub::audit::AuditAction::PriceOverride).count(), 1);
    let lanes = lanes(&store);
    let cart = lanes.cart("lane-1").unwrap();
    assert_eq!(cart.overrides.len(), 1);
    assert_eq!((cart.overrides[0].line_no, cart.overrides[0].price_fen, cart.overrides[0].reason.as_str()), (1, 150, "临期"));
    // Removing the line drops its override, and that is written too.
    lanes.remove_line("lane-1", 1).unwrap();
    drop(lanes);
    let lanes = self::lanes(&store);
    assert!(lanes.cart("lane-1").unwrap().overrides.is_empty());
}

// --- paying ----------------------------------------------------------------------------------

use storehub::checkout::{PayRequest, SaleRules, EVENT_SALE_COMPLETED};
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::staff::StaffRef;

fn rules(cash_rounding: CashRounding) -> SaleRules {
    SaleRules { cash_rounding, promotions: Vec::new(), tz: chrono_tz::Asia::Shanghai, loyalty: Default::default() }
}

fn cashier() -> StaffRef {
    StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }
}

/// Hires the cashier (cheap hashing: tests only).
fn hire(store: &Store) {
    let new = storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier };
    storehub::staff::create_staff(store, &new, "correct horse", Some("2468"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
}

fn cash(fen: i64) -> Tender {
    Tender { kind: TenderKind::Cash, amount_fen: fen, reference: None, points: None }
}

#[test]
fn a_guest_pays_cash_for_water_and_bananas_and_everything_is_booked() {
    let (_dir, _clock, store) = shop();
    storehub::inventory::move_stock(&store, &request(storehub::domain::stock::MoveKind::Receipt, "SKU-010001", 48)).unwrap();
    hire(&store);
    let shift = storehub::staff::open_shift(&store, "lane-1", "wang", 50_000).unwrap();
    let lanes = lanes(&store);
    lanes.sign_in("lane-1", &cashier()).unwrap();
    added(lanes.scan("lane-1", WATER).unwrap());
    added(lanes.scan("lane-1", WATER).unwrap());
    added(lanes.scan("lane-1", &ean13("250500001234")).unwrap()); // 1,234 g at ¥7.98/kg
    // 2 × ¥2.00 + round_half_up(1234 × 798 / 1000) = 400 + 985 (984.732) = ¥13.85.
    let quote = lanes.quote("lane-1", &rules(CashRounding::DownToJiao)).unwrap();
    assert_eq!(quote.total_fen, 1_385);

    // 抹零: ¥13.85 in cash is ¥13.80; a ¥20 note gives ¥6.20 change.
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(2_000)] }, &rules(CashRounding::DownToJiao)).unwrap();
    assert_eq!(sale.receipt_no, "lane-1-1");
    assert_eq!((sale.settlement.change_fen, sale.settlement.rounding_fen), (620, -5));
    assert_eq!(sale.cashier, "wang");
    assert_eq!(sale.stock_moves.len(), 2);
    assert_eq!(storehub::inventory::on_hand(&store, "SKU-010001").unwrap(), 46);
    assert_eq!(storehub::inventory::on_hand(&store, "SKU-020001").unwrap(), -1_234);
    let shift = storehub::staff::shift(&store, shift.id).unwrap().unwrap();
    assert_eq!(shift.cash_sales_fen, 1_380, "the drawer took ¥13.80 net of change");
    let events = events_of_type(&store, EVENT_SALE_COMPLETED);
    assert_eq!(events.len(), 1);
    let data = events[0].data().unwrap();
    assert_eq!(data["total_fen"], 1_385);
    assert_eq!(data["sale_id"], 1);

    // The lane starts a new cart, still signed in, and that survives a restart.
    let cart = lanes.cart("lane-1").unwrap();
    assert!(cart.is_empty());
    assert_eq!(cart.cashier.as_deref(), Some("wang"));
    drop(lanes);
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    assert!(lanes.cart("lane-1").unwrap().is_empty());
}

#[test]
fn a_refused_payment_changes_nothing() {
    let (_dir, _clock, store) = shop();
    hire(&store);
    let lanes = lanes(&store);
    added(lanes.scan("lane-1", WATER).unwrap());
    let outbox_before = outbox_seqs(&store);
    let pay = |tenders: Vec<Tender>| lanes.pay("lane-1", &PayRequest { tenders }, &rules(CashRounding::None)).unwrap_err().to_string();

    assert_eq!(pay(vec![cash(200)]), "no cashier is signed in on this lane; sign in with your PIN first");
    lanes.sign_in("lane-1", &cashier()).unwrap();
    assert!(pay(vec![cash(200)]).starts_with("no shift is open on lane-1"), "cash needs a drawer");
    storehub::staff::open_shift(&store, "lane-1", "wang", 0).unwrap();
    let short = pay(vec![cash(150)]);
    assert_eq!(short, "short: paid ¥1.50 of ¥2.00");
    let card = pay(vec![Tender { kind: TenderKind::BankCard, amount_fen: 200, reference: None, points: None }]);
    assert!(card.contains("reference"), "{card}");

    store.read_barrier().unwrap();
    assert_eq!(lanes.cart("lane-1").unwrap().lines.len(), 1, "the cart is still there");
    assert!(storehub::checkout::sale::all_sales(&store).unwrap().is_empty());
    let new_events: Vec<_> = outbox(&store).into_iter().filter(|e| !outbox_before.contains(&e.seq)).map(|e| e.event_type).collect();
    assert!(new_events.iter().all(|t| t.starts_with("storehub.shift")), "only the shift opening was booked: {new_events:?}");

    // Paid by card with its terminal reference, no drawer needed.
    let sale = lanes
        .pay("lane-1", &PayRequest { tenders: vec![Tender { kind: TenderKind::BankCard, amount_fen: 200, reference: Some("POS-778812".into()), points: None }] }, &rules(CashRounding::None))
        .unwrap();
    assert_eq!(sale.settlement.tenders[0].reference.as_deref(), Some("POS-778812"));
}

/// `storehub verify` names a sale that is not whole: a stock move gone, a total that does not
/// add up.
#[test]
fn verify_names_a_sale_that_is_not_whole() {
    let (_dir, _clock, store) = shop();
    hire(&store);
    storehub::staff::open_shift(&store, "lane-1", "wang", 0).unwrap();
    let lanes = lanes(&store);
    lanes.sign_in("lane-1", &cashier()).unwrap();
    lanes.add_sku("lane-1", "SKU-010001", 3).unwrap();
    lanes.add_sku("lane-1", "SKU-010003", 1).unwrap();
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(800)] }, &rules(CashRounding::None)).unwrap();
    assert!(storehub::verify::verify(&store).unwrap().ok());

    // Tamper: drop the second line's stock move from the sale and inflate its total.
    let mut bad = sale.clone();
    bad.stock_moves.pop();
    bad.priced.total_fen += 100;
    store
        .commit(|tx| tx.put::<_, ()>(storehub::store::TreeId::Sales, &storehub::store::codec::u64_key(bad.id), &bad))
        .unwrap();
    let report = storehub::verify::verify(&store).unwrap();
    assert_eq!(
        report.violations,
        vec![
            "sale 1 (lane-1-1): 2 lines but 1 stock moves".to_string(),
            "sale 1 (lane-1-1): total 900 but its lines' nets sum to 800".to_string(),
            "sale 1 (lane-1-1): tenders pay 800 with rounding 0 for a total of 900".to_string(),
            format!("stock move {}: names sale lane-1-1, which does not list it", sale.stock_moves[1]),
        ]
    );
}

// --- returns ---------------------------------------------------------------------------------

use storehub::checkout::returns::{self, ReceiptlessItem, ReturnLineRequest, ReturnOf, ReturnRequest};

fn hire_manager(store: &Store) {
    let new = storehub::staff::NewStaff { id: "li".into(), name: "李经理".into(), role: Role::Manager };
    storehub::staff::create_staff(store, &new, "correct horse", None, &storehub::staff::HashCost::minimal_for_tests()).unwrap();
}

fn give_back(sale_id: u64, lines: &[(u32, i64)], by: &str) -> ReturnRequest {
    ReturnRequest {
        of: ReturnOf::Sale { sale_id, lines: lines.iter().map(|&(line_no, qty)| ReturnLineRequest { line_no, qty }).collect() },
        lane: "lane-1".into(),
        by: by.into(),
        restock: true,
        reason: "changed mind".into(),
    }
}

#[test]
fn three_waters_and_a_cestbon_come_back_in_two_returns_and_refund_exactly_what_was_paid() {
    let (_dir, _clock, store) = shop();
    hire(&store);
    hire_manager(&store);
    let shift = storehub::staff::open_shift(&store, "lane-1", "wang", 10_000).unwrap();
    let lanes = lanes(&store);
    lanes.sign_in("lane-1", &cashier()).unwrap();
    lanes.add_sku("lane-1", "SKU-010001", 3).unwrap(); // line 1: 3 × ¥2.00
    lanes.add_sku("lane-1", "SKU-010003", 1).unwrap(); // line 2: ¥2.00
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(1_000)] }, &rules(CashRounding::None)).unwrap();
    assert_eq!(storehub::inventory::on_hand(&store, "SKU-010001").unwrap(), -3);

    // One water back: ¥6.00 × 1/3 = ¥2.00, in cash from the lane's drawer.
    let r = returns::return_items(&store, &give_back(sale.id, &[(1, 1)], "li"), &Default::default()).unwrap();
    assert_eq!((r.refund_fen, r.refunds.clone()), (200, vec![(TenderKind::Cash, 200)]));
    assert_eq!(storehub::inventory::on_hand(&store, "SKU-010001").unwrap(), -2);

    // Three more waters: only two are left to return; refused, nothing changed.
    let before = outbox_seqs(&store);
    let err = returns::return_items(&store, &give_back(sale.id, &[(1, 3)], "li"), &Default::default()).unwrap_err();
    assert_eq!(err.to_string(), "line 1 sold 3 and 1 came back already; 3 more is too many");
    assert_eq!(outbox_seqs(&store), before);

    // The rest: two waters (¥6.00 − ¥2.00 = ¥4.00) and the cestbon (¥2.00).
    let r = returns::return_items(&store, &give_back(sale.id, &[(1, 2), (2, 1)], "li"), &Default::default()).unwrap();
    assert_eq!(r.refund_fen, 600);
    let sale = storehub::checkout::sale::sale(&store, sale.id).unwrap().unwrap();
    assert_eq!(sale.refunded_fen, 800, "everything paid came back, no more");
    let shift = storehub::staff::shift(&store, shift.id).unwrap().unwrap();
    assert_eq!((shift.cash_sales_fen, shift.cash_refunds_fen), (800, 800));
    assert_eq!(returns::all_returns(&store).unwrap().len(), 2);
    assert_eq!(events_of_type(&store, returns::EVENT_SALE_RETURNED).len(), 2);
    assert!(storehub::verify::verify(&store).unwrap().ok());
}

#[test]
fn a_mo_ling_sale_refunds_the_cash_taken_and_a_card_sale_refunds_to_the_card() {
    let (_dir, _clock, store) = shop();
    hire(&store);
    hire_manager(&store);
    storehub::staff::open_shift(&store, "lane-1", "wang", 10_000).unwrap();
    let lanes = lanes(&store);
    lanes.sign_in("lane-1", &cashier()).unwrap();
    added(lanes.scan("lane-1", &ean13("250500001234")).unwrap()); // ¥9.85 of bananas
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(1_000)] }, &rules(CashRounding::DownToJiao)).unwrap();
    assert_eq!(sale.settlement.rounding_fen, -5); // paid ¥9.80
    let mut req = give_back(sale.id, &[(1, 1_234)], "li");
    req.restock = false; // bruised
    let r = returns::return_items(&store, &req, &Default::default()).unwrap();
    assert_eq!(r.refund_fen, 980, "the cash taken, not the ¥9.85 before 抹零");
    assert_eq!(r.lines[0].stock_move, None, "not restocked");

    lanes.add_sku("lane-1", "SKU-010001", 2).unwrap();
    let card = Tender { kind: TenderKind::BankCard, amount_fen: 400, reference: Some("POS-1".into()), points: None };
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![card] }, &rules(CashRounding::None)).unwrap();
    let r = returns::return_items(&store, &give_back(sale.id, &[(1, 1)], "li"), &Default::default()).unwrap();
    assert_eq!(r.refunds, vec![(TenderKind::BankCard, 200)]);
}

#[test]
fn returns_without_a_receipt_need_a_manager() {
    let (_dir, _clock, store) = shop();
    hire(&store);
    hire_manager(&store);
    storehub::staff::open_shift(&store, "lane-1", "wang", 10_000).unwrap();
    let req = |by: &str| ReturnRequest {
        of: ReturnOf::NoReceipt { items: vec![ReceiptlessItem { sku: "SKU-010001".into(), qty: 2, refund_fen: 400 }] },
        lane: "lane-1".into(),
        by: by.into(),
        restock: true,
        reason: "receipt lost".into(),
    };
    let err = returns::return_items(&store, &req("wang"), &Default::default()).unwrap_err().to_string();
    assert_eq!(err, "staff wang is a cashier and may not take a return without receipt");
    assert!(returns::all_returns(&store).unwrap().is_empty());
    let r = returns::return_items(&store, &req("li"), &Default::default()).unwrap();
    assert_eq!((r.sale_id, r.refund_fen), (None, 400));
    assert_eq!(storehub::inventory::on_hand(&store, "SKU-010001").unwrap(), 2);
    let err = returns::return_items(&store, &give_back(99, &[(1, 1)], "li"), &Default::default()).unwrap_err();
    assert_eq!(err.to_string(), "no sale 99; check the receipt number");
}

#[test]
fn the_receipt_of_a_cash_sale_reads_like_the_paper_one() {
    let (_dir, _clock, store) = shop();
    hire(&store);
    storehub::staff::open_shift(&store, "lane-1", "wang", 10_000).unwrap();
    let lanes = lanes(&store);
    lanes.sign_in("lane-1", &cashier()).unwrap();
    lanes.add_sku("lane-1", "SKU-010001", 2).unwrap();
    added(lanes.scan("lane-1", &ean13("250500001234")).unwrap());
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(2_000)] }, &rules(CashRounding::DownToJiao)).unwrap();
    let receipt = storehub::checkout::receipt::Receipt::of(&sale, "华美超市 徐汇店", chrono_tz::Asia::Shanghai, storehub::config::Language::ZhCn, None);
    assert_eq!(receipt.time, "2026-11-25 17:00:00", "09:00 UTC is 17:00 in Shanghai");
    assert_eq!(
        receipt.to_text(storehub::config::Language::ZhCn),
        "华美超市 徐汇店\n\
         lane-1-1     2026-11-25 17:00:00\n\
         收银员                      wang\n\
         --------------------------------\n\
         Nongfu Spring 550ml（中）\n\
         \x20 2 × ¥2.00                ¥4.00\n\
         香蕉\n\
         \x20 1.234 kg × ¥7.98/kg      ¥9.85\n\
         --------------------------------\n\
         合计                      ¥13.85\n\
         应付                      ¥13.85\n\
         抹零                      -¥0.05\n\
         现金                      ¥20.00\n\
         找零                       ¥6.20\n"
    );
}

/// The typed channel a lane's devices use: a scan and a weight in, outcomes out, in order.
#[test]
fn scanner_and_scale_events_reach_the_cart_through_the_lane_channel() {
    use storehub::checkout::{LaneEvent, LaneEvents};
    let (_dir, clock, store) = shop();
    let lanes = lanes(&store);
    let events = LaneEvents::start(Arc::clone(&lanes));
    events.sender.send(("lane-1".into(), LaneEvent::Scanned { code: WATER.into() })).unwrap();
    events.sender.send(("lane-1".into(), LaneEvent::Weighed(ScaleReading { grams: 700, stable: true, at: clock.now() }))).unwrap();
    events.sender.send(("lane-1".into(), LaneEvent::Scanned { code: "123".into() })).unwrap();
    let first = events.updates.recv().unwrap();
    assert!(matches!(first.outcome, Some(Ok(ScanOutcome::Added { .. }))), "{first:?}");
    let second = events.updates.recv().unwrap();
    assert!(second.outcome.is_none(), "a reading has no outcome: {second:?}");
    let third = events.updates.recv().unwrap();
    assert!(matches!(&third.outcome, Some(Err(e)) if e.contains("123")), "{third:?}");
    events.close();
    lanes.add_weighed("lane-1", "SKU-020001").unwrap();
    assert_eq!(lanes.cart("lane-1").unwrap().lines.len(), 2);
}
