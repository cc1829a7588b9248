//! The stock ledger and the barcode index as a shop meets them: every kind of move on real
//! products, the exact words a cashier sees when a move is refused, one low-stock alert per
//! crossing of the reorder point, a basket that moves all of its lines or none, and barcodes that
//! change hands between products without ever pointing at the wrong one.

mod common;

use proptest::prelude::*;
use storehub::catalog::{self, CatalogError, Product, EVENT_PRODUCT_UPSERTED};
use storehub::domain::barcode::CatalogCode;
use storehub::domain::stock::{MoveKind, QtyError};
use storehub::inventory::{self, InventoryError, NewMove, StockLow, EVENT_STOCK_LOW, EVENT_STOCK_MOVED};
use storehub::store::{CommitError, Durability, Store, TreeId};

use common::*;

const WATER: &str = "SKU-010001";
const CESTBON: &str = "SKU-010003";
const BANANAS: &str = "SKU-020001";

fn shop_with_drinks() -> Shop {
    let shop = Shop::open();
    load(&shop.store, &[water(), cestbon(), bananas()]);
    shop
}

fn on_hand(store: &Store, sku: &str) -> i64 {
    inventory::on_hand(store, sku).unwrap()
}

/// The message a refused move shows, after checking it wrote nothing at all.
fn refused(store: &Store, m: &NewMove) -> String {
    let moves = inventory::all_moves(store).unwrap();
    let levels = inventory::stock_levels(store).unwrap();
    let events = outbox(store);
    let err = match inventory::move_stock(store, m) {
        Ok(mv) => panic!("{} {} of {} was accepted: {mv:?}", m.kind.as_str(), m.qty, m.sku),
        Err(e) => e,
    };
    assert!(matches!(err, CommitError::Rejected(_)), "{err:?}");
    assert_eq!(inventory::all_moves(store).unwrap(), moves, "no move written");
    assert_eq!(inventory::stock_levels(store).unwrap(), levels, "no stock changed");
    assert_eq!(outbox(store), events, "no event written");
    err.to_string()
}

// --- each kind of move ------------------------------------------------------------------------

#[test]
fn selling_three_bottles_of_24_leaves_21_on_the_shelf() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, WATER, 24);
    let sale = inventory::move_stock(&shop.store, &request(MoveKind::Sale, WATER, 3)).unwrap();
    assert_eq!((sale.kind, sale.delta, sale.on_hand_after), (MoveKind::Sale, -3, 21));
    assert_eq!(on_hand(&shop.store, WATER), 21);
}

#[test]
fn a_delivery_of_48_and_a_customer_returning_one_bottle_both_add_to_the_shelf() {
    let shop = shop_with_drinks();
    let receipt = inventory::move_stock(&shop.store, &request(MoveKind::Receipt, WATER, 48)).unwrap();
    assert_eq!((receipt.delta, receipt.on_hand_after), (48, 48));
    apply(&shop.store, MoveKind::Sale, WATER, 2);
    let ret = inventory::move_stock(&shop.store, &request(MoveKind::Return, WATER, 1)).unwrap();
    assert_eq!((ret.delta, ret.on_hand_after), (1, 47));
}

#[test]
fn two_broken_bottles_and_a_transfer_of_ten_to_the_sister_store_keep_their_signs() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, WATER, 50);
    assert_eq!(apply(&shop.store, MoveKind::Adjustment, WATER, -2), 48); // broken
    assert_eq!(apply(&shop.store, MoveKind::Adjustment, WATER, 1), 49); // found behind the shelf
    assert_eq!(apply(&shop.store, MoveKind::Transfer, WATER, -10), 39); // to the sister store
    assert_eq!(apply(&shop.store, MoveKind::Transfer, WATER, 5), 44); // from it
    let deltas: Vec<i64> = inventory::all_moves(&shop.store).unwrap().iter().map(|m| m.delta).collect();
    assert_eq!(deltas, vec![50, -2, 1, -10, 5]);
}

#[test]
fn stocktake_counting_17_when_the_books_say_20_records_minus_3() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, WATER, 20);
    let count = inventory::move_stock(&shop.store, &request(MoveKind::Stocktake, WATER, 17)).unwrap();
    assert_eq!((count.kind, count.delta, count.on_hand_after), (MoveKind::Stocktake, -3, 17));

    // A count that agrees with the books is still recorded, as a move of 0.
    let agrees = inventory::move_stock(&shop.store, &request(MoveKind::Stocktake, WATER, 17)).unwrap();
    assert_eq!((agrees.delta, agrees.on_hand_after), (0, 17));

    // Counting more than the books say (a delivery booked nowhere) records the surplus.
    let surplus = inventory::move_stock(&shop.store, &request(MoveKind::Stocktake, WATER, 24)).unwrap();
    assert_eq!((surplus.delta, surplus.on_hand_after), (7, 24));
    assert_eq!(on_hand(&shop.store, WATER), 24);
}

#[test]
fn bananas_are_counted_in_grams_12_5_kg_in_and_1_25_kg_sold_leaves_11_25_kg() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, BANANAS, 12_500);
    assert_eq!(apply(&shop.store, MoveKind::Sale, BANANAS, 1_250), 11_250);
}

#[test]
fn every_move_records_who_why_and_for_which_document() {
    let shop = shop_with_drinks();
    let delivery = NewMove {
        sku: WATER.to_string(),
        kind: MoveKind::Receipt,
        qty: 48,
        reason: "weekly delivery".to_string(),
        user: "manager-wang".to_string(),
        reference: Some("PO-2026-1125-01".to_string()),
    };
    let mv = inventory::move_stock(&shop.store, &delivery).unwrap();
    assert_eq!(inventory::all_moves(&shop.store).unwrap(), vec![mv.clone()]);
    assert_eq!(mv.id, 1);
    assert_eq!(mv.reason, "weekly delivery");
    assert_eq!(mv.user, "manager-wang");
    assert_eq!(mv.reference.as_deref(), Some("PO-2026-1125-01"));
    assert_eq!(mv.at, opening_time());
    let moved = events_of_type(&shop.store, EVENT_STOCK_MOVED);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].subject.as_deref(), Some(WATER));
    assert_eq!(moved[0].data().unwrap()["reference"], "PO-2026-1125-01");
}

// --- refused moves ----------------------------------------------------------------------------

#[test]
fn selling_a_sku_the_shop_never_stocked_is_refused() {
    let shop = shop_with_drinks();
    let msg = refused(&shop.store, &request(MoveKind::Sale, "SKU-404", 1));
    assert_eq!(msg, "unknown sku SKU-404");
}

#[test]
fn zero_and_negative_quantities_are_refused_with_the_reason() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, WATER, 24);
    let cases = [
        (MoveKind::Sale, 0, "sku SKU-010001: quantity of a sale must be greater than 0, got 0"),
        (MoveKind::Sale, -3, "sku SKU-010001: quantity of a sale must be greater than 0, got -3"),
        (MoveKind::Receipt, -4, "sku SKU-010001: quantity of a receipt must be greater than 0, got -4"),
        (MoveKind::Return, 0, "sku SKU-010001: quantity of a return must be greater than 0, got 0"),
        (MoveKind::Adjustment, 0, "sku SKU-010001: quantity of an adjustment or transfer must not be 0"),
        (MoveKind::Transfer, 0, "sku SKU-010001: quantity of an adjustment or transfer must not be 0"),
        (MoveKind::Stocktake, -1, "sku SKU-010001: a stocktake count must not be negative, got -1"),
    ];
    for (kind, qty, expected) in cases {
        assert_eq!(refused(&shop.store, &request(kind, WATER, qty)), expected, "{} {qty}", kind.as_str());
    }
    // The rejection keeps the domain's error for callers that match on it.
    let err = inventory::move_stock(&shop.store, &request(MoveKind::Sale, WATER, 0)).unwrap_err();
    assert!(matches!(
        err,
        CommitError::Rejected(InventoryError::Qty {
            source: QtyError::MustBePositive { kind: "sale", qty: 0 },
            ..
        })
    ));
    assert_eq!(on_hand(&shop.store, WATER), 24);
}

#[test]
fn a_receipt_that_would_overflow_on_hand_is_refused() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, WATER, i64::MAX);
    let msg = refused(&shop.store, &request(MoveKind::Receipt, WATER, 1));
    assert_eq!(msg, "sku SKU-010001: on-hand would leave the representable range");
}

#[test]
fn a_reason_of_201_characters_is_refused() {
    let shop = shop_with_drinks();
    let mut m = request(MoveKind::Adjustment, WATER, -1);
    m.reason = "破".repeat(201);
    assert_eq!(refused(&shop.store, &m), "reason is 201 characters long; keep it under 200");
    m.reason = "破".repeat(200);
    assert_eq!(inventory::move_stock(&shop.store, &m).unwrap().on_hand_after, -1);
}

// --- low stock --------------------------------------------------------------------------------

fn low_events(store: &Store) -> Vec<StockLow> {
    events_of_type(store, EVENT_STOCK_LOW)
        .iter()
        .map(|e| serde_json::from_value(e.data().unwrap()).unwrap())
        .collect()
}

#[test]
fn selling_three_of_eight_bottles_down_to_a_reorder_point_of_5_emits_one_low_stock_event() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, CESTBON, 8);
    let sale = inventory::move_stock(&shop.store, &request(MoveKind::Sale, CESTBON, 3)).unwrap();
    assert_eq!(sale.on_hand_after, 5);

    let low = events_of_type(&shop.store, EVENT_STOCK_LOW);
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].subject.as_deref(), Some(CESTBON));
    assert_eq!(
        low[0].data().unwrap(),
        serde_json::json!({
            "sku": CESTBON, "on_hand": 5, "reorder_point": 5, "move_id": sale.id,
        })
    );
    // Written in the same commit, right after the move's own event.
    let moved = events_of_type(&shop.store, EVENT_STOCK_MOVED);
    assert_eq!(low[0].seq, moved.last().unwrap().seq + 1);
}

#[test]
fn a_reorder_point_of_5_alerts_once_per_fall_not_once_per_sale() {
    let shop = shop_with_drinks();
    let store = &shop.store;
    assert_eq!(apply(store, MoveKind::Receipt, CESTBON, 8), 8);
    assert_eq!(low_events(store).len(), 0, "filling up from 0 is no alert");

    assert_eq!(apply(store, MoveKind::Sale, CESTBON, 2), 6);
    assert_eq!(low_events(store).len(), 0, "6 is still above 5");

    assert_eq!(apply(store, MoveKind::Sale, CESTBON, 1), 5);
    assert_eq!(low_events(store).len(), 1, "reaching 5 is the crossing");

    assert_eq!(apply(store, MoveKind::Sale, CESTBON, 1), 4);
    assert_eq!(low_events(store).len(), 1, "already low: no second alert");

    assert_eq!(apply(store, MoveKind::Receipt, CESTBON, 10), 14);
    assert_eq!(low_events(store).len(), 1, "a delivery is no alert");

    assert_eq!(apply(store, MoveKind::Sale, CESTBON, 10), 4);
    let low = low_events(store);
    assert_eq!(low.len(), 2, "falling again after the delivery is a new crossing");
    assert_eq!((low[0].on_hand, low[1].on_hand), (5, 4));
    assert!(low.iter().all(|l| l.sku == CESTBON && l.reorder_point == 5));
    let move_ids: Vec<u64> = low.iter().map(|l| l.move_id).collect();
    assert_eq!(move_ids, vec![3, 6]);
}

#[test]
fn a_stocktake_or_breakage_that_drops_below_the_reorder_point_alerts_too() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, CESTBON, 8);
    apply(&shop.store, MoveKind::Stocktake, CESTBON, 3); // counted 3, books said 8
    assert_eq!(low_events(&shop.store).len(), 1);
    apply(&shop.store, MoveKind::Receipt, CESTBON, 20); // 23
    apply(&shop.store, MoveKind::Adjustment, CESTBON, -20); // a dropped crate: 3
    assert_eq!(low_events(&shop.store).len(), 2);
}

#[test]
fn a_product_without_a_reorder_point_never_alerts() {
    let shop = Shop::open();
    load(&shop.store, &[drink("SKU-030001", "Seasonal tea", &[], None)]);
    apply(&shop.store, MoveKind::Receipt, "SKU-030001", 10);
    apply(&shop.store, MoveKind::Sale, "SKU-030001", 10);
    assert_eq!(low_events(&shop.store).len(), 0);
}

// --- baskets: all or nothing ------------------------------------------------------------------

#[test]
fn a_basket_with_one_unknown_line_moves_no_stock_and_emits_nothing() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, WATER, 24);
    apply(&shop.store, MoveKind::Receipt, CESTBON, 8);
    let before_moves = inventory::all_moves(&shop.store).unwrap();
    let before_events = outbox(&shop.store);

    // The third line would also cross C'estbon's reorder point: no alert may leak out either.
    let basket = [
        request(MoveKind::Sale, WATER, 2),
        request(MoveKind::Sale, CESTBON, 3),
        request(MoveKind::Sale, "SKU-404", 1),
    ];
    let err = inventory::move_stock_all(&shop.store, &basket).unwrap_err();
    assert_eq!(err.to_string(), "unknown sku SKU-404");
    let bad_qty = [request(MoveKind::Sale, WATER, 2), request(MoveKind::Sale, CESTBON, 0)];
    let err = inventory::move_stock_all(&shop.store, &bad_qty).unwrap_err();
    assert_eq!(err.to_string(), "sku SKU-010003: quantity of a sale must be greater than 0, got 0");

    assert_eq!((on_hand(&shop.store, WATER), on_hand(&shop.store, CESTBON)), (24, 8));
    assert_eq!(inventory::all_moves(&shop.store).unwrap(), before_moves);
    assert_eq!(outbox(&shop.store), before_events);

    // The refused baskets took no ids: the next move is 3, its event the next number.
    let next = inventory::move_stock(&shop.store, &request(MoveKind::Sale, WATER, 1)).unwrap();
    assert_eq!(next.id, 3);
    assert_eq!(newest_seq(&shop.store), before_events.last().unwrap().seq + 1);
}

#[test]
fn a_basket_selling_the_same_drink_on_two_lines_applies_them_in_order_in_one_commit() {
    let shop = shop_with_drinks();
    apply(&shop.store, MoveKind::Receipt, CESTBON, 8);
    apply(&shop.store, MoveKind::Receipt, WATER, 24);
    shop.clock.advance(chrono::Duration::minutes(5));
    let basket = [
        request(MoveKind::Sale, CESTBON, 2),
        request(MoveKind::Sale, WATER, 6),
        request(MoveKind::Sale, CESTBON, 1),
    ];
    let moves = inventory::move_stock_all(&shop.store, &basket).unwrap();
    let summary: Vec<(u64, &str, i64)> =
        moves.iter().map(|m| (m.id, m.sku.as_str(), m.on_hand_after)).collect();
    assert_eq!(summary, vec![(3, CESTBON, 6), (4, WATER, 18), (5, CESTBON, 5)]);
    assert!(moves.iter().all(|m| m.at == opening_time() + chrono::Duration::minutes(5)));
    assert_eq!(low_events(&shop.store).len(), 1);
    assert_eq!((on_hand(&shop.store, WATER), on_hand(&shop.store, CESTBON)), (18, 5));
}

// --- barcode index ----------------------------------------------------------------------------

fn sku_of(store: &Store, code: &str) -> Option<String> {
    let code = if code.len() < 8 { CatalogCode::Plu(code.into()) } else { CatalogCode::Gtin(code.into()) };
    catalog::product_by_code(store, &code).unwrap().map(|p| p.sku)
}

/// Every entry of the barcode index as (key, sku), in key order.
fn index(store: &Store) -> Vec<(String, String)> {
    store
        .keys_with_prefix(TreeId::Barcodes, b"")
        .map(|k| {
            let k = k.unwrap();
            let sku = store.get_raw(TreeId::Barcodes, &k).unwrap().unwrap();
            (String::from_utf8(k).unwrap(), String::from_utf8(sku.to_vec()).unwrap())
        })
        .collect()
}

fn upsert(
    store: &Store,
    products: &[Product],
    chunk: usize,
) -> Result<catalog::UpsertSummary, CommitError<CatalogError>> {
    catalog::upsert_products(store, products, chunk, |_| {})
}

fn with_barcodes(mut p: Product, barcodes: &[&str]) -> Product {
    p.barcodes = barcodes.iter().map(|b| b.to_string()).collect();
    p
}

#[test]
fn a_product_with_a_gtin_and_a_scale_plu_is_found_by_both() {
    let shop = Shop::open();
    let six_pack = ean13("690123456789");
    let water = with_barcodes(water(), &["6907674936533", &six_pack, "0420"]);
    load(&shop.store, &[water]);
    assert_eq!(sku_of(&shop.store, "6907674936533").as_deref(), Some(WATER));
    assert_eq!(sku_of(&shop.store, &six_pack).as_deref(), Some(WATER));
    assert_eq!(sku_of(&shop.store, "00420").as_deref(), Some(WATER), "label PLU with an extra zero");
    assert_eq!(sku_of(&shop.store, "6955406993705"), None);
    assert_eq!(index(&shop.store).len(), 3);
}

#[test]
fn changing_a_products_barcodes_drops_the_old_ones_from_the_index() {
    let shop = Shop::open();
    let (old, kept, new) = (ean13("690000000001"), ean13("690000000002"), ean13("690000000003"));
    load(&shop.store, &[with_barcodes(water(), &[&old, &kept])]);
    let summary = upsert(&shop.store, &[with_barcodes(water(), &[&kept, &new])], 10).unwrap();
    assert_eq!(summary, catalog::UpsertSummary { created: 0, updated: 1, unchanged: 0 });

    assert_eq!(sku_of(&shop.store, &old), None);
    assert_eq!(index(&shop.store), vec![(kept.clone(), WATER.to_string()), (new.clone(), WATER.to_string())]);
    // Dropping every barcode empties the index.
    upsert(&shop.store, &[with_barcodes(water(), &[])], 10).unwrap();
    assert_eq!(index(&shop.store), vec![]);
}

#[test]
fn a_barcode_that_belongs_to_another_sku_is_refused_and_nothing_changes() {
    let shop = Shop::open();
    load(&shop.store, &[water(), cestbon()]);
    let events = outbox(&shop.store);
    let index_before = index(&shop.store);

    let copycat = with_barcodes(cestbon(), &["6955406993705", "6907674936533"]);
    let err = upsert(&shop.store, &[copycat], 10).unwrap_err();
    match &err {
        CommitError::Rejected(CatalogError::BarcodeTaken { code, sku, owner }) => {
            assert_eq!((code.as_str(), sku.as_str(), owner.as_str()), ("6907674936533", CESTBON, WATER));
        }
        other => panic!("expected BarcodeTaken, got {other:?}"),
    }
    assert_eq!(err.to_string(), "barcode 6907674936533 of sku SKU-010003 already belongs to sku SKU-010001");
    assert_eq!(catalog::product(&shop.store, CESTBON).unwrap(), Some(cestbon()));
    assert_eq!(index(&shop.store), index_before);
    assert_eq!(outbox(&shop.store), events);

    // Also when the owner is in the same import but keeps the code.
    let err = upsert(&shop.store, &[water(), with_barcodes(cestbon(), &["6907674936533"])], 10).unwrap_err();
    assert!(matches!(err, CommitError::Rejected(CatalogError::BarcodeTaken { .. })), "{err:?}");
    assert_eq!(index(&shop.store), index_before);
}

#[test]
fn a_barcode_moves_from_one_sku_to_another_in_one_import_whatever_the_order() {
    // The new owner first, the old owner last, or each in its own commit (chunk 1).
    for (order, chunk) in
        [("new owner first", 10), ("old owner first", 10), ("new owner first", 1), ("old owner first", 1)]
    {
        let shop = Shop::open();
        load(&shop.store, &[water(), cestbon()]);
        let gives_up = with_barcodes(water(), &[]);
        let takes = with_barcodes(cestbon(), &["6955406993705", "6907674936533"]);
        let import = if order == "new owner first" { vec![takes, gives_up] } else { vec![gives_up, takes] };
        let summary =
            upsert(&shop.store, &import, chunk).unwrap_or_else(|e| panic!("{order}, chunk {chunk}: {e}"));
        assert_eq!(summary.updated, 2, "{order}, chunk {chunk}");
        assert_eq!(
            index(&shop.store),
            vec![("6907674936533".into(), CESTBON.into()), ("6955406993705".into(), CESTBON.into())],
            "{order}, chunk {chunk}"
        );
    }
}

#[test]
fn two_skus_swapping_their_barcodes_in_one_import_end_up_swapped() {
    let shop = Shop::open();
    load(&shop.store, &[water(), cestbon()]);
    let swapped = [with_barcodes(water(), &["6955406993705"]), with_barcodes(cestbon(), &["6907674936533"])];
    upsert(&shop.store, &swapped, 10).unwrap();
    assert_eq!(sku_of(&shop.store, "6955406993705").as_deref(), Some(WATER));
    assert_eq!(sku_of(&shop.store, "6907674936533").as_deref(), Some(CESTBON));
    assert_eq!(index(&shop.store).len(), 2);
    // Two product events for the load, two for the swap.
    assert_eq!(events_of_type(&shop.store, EVENT_PRODUCT_UPSERTED).len(), 4);
}

#[test]
fn upserting_a_product_unchanged_writes_no_event() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    let summary = upsert(&shop.store, &[water()], 10).unwrap();
    assert_eq!(summary, catalog::UpsertSummary { created: 0, updated: 0, unchanged: 1 });
    assert_eq!(outbox_seqs(&shop.store), vec![1]);
}

// --- the ledger sums to the balance -------------------------------------------------------

/// A move request a shop could make: sale/receipt/return 1–40, adjustment/transfer ±1–30,
/// stocktake counts 0–60.
fn any_move() -> impl Strategy<Value = (MoveKind, i64)> {
    prop_oneof![
        (1i64..=40).prop_map(|q| (MoveKind::Sale, q)),
        (1i64..=40).prop_map(|q| (MoveKind::Receipt, q)),
        (1i64..=40).prop_map(|q| (MoveKind::Return, q)),
        (1i64..=30, any::<bool>()).prop_map(|(q, neg)| (MoveKind::Adjustment, if neg { -q } else { q })),
        (1i64..=30, any::<bool>()).prop_map(|(q, neg)| (MoveKind::Transfer, if neg { -q } else { q })),
        (0i64..=60).prop_map(|q| (MoveKind::Stocktake, q)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn on_hand_is_the_sum_of_the_moves_and_alerts_match_the_falls_through_the_reorder_point(
        moves in prop::collection::vec(any_move(), 1..40)
    ) {
        let shop = Shop::open_with(Durability::Relaxed);
        load(&shop.store, &[cestbon()]);
        // The shopkeeper's own arithmetic, independent of the domain code.
        let mut book = 0i64;
        let mut falls = 0;
        for &(kind, qty) in &moves {
            let after = match kind {
                MoveKind::Sale => book - qty,
                MoveKind::Stocktake => qty,
                _ => book + qty,
            };
            if book > 5 && after <= 5 {
                falls += 1;
            }
            book = after;
            prop_assert_eq!(apply(&shop.store, kind, CESTBON, qty), book);
        }
        let ledger = inventory::all_moves(&shop.store).unwrap();
        prop_assert_eq!(ledger.len(), moves.len());
        prop_assert_eq!(ledger.iter().map(|m| m.delta).sum::<i64>(), book);
        prop_assert_eq!(on_hand(&shop.store, CESTBON), book);
        prop_assert_eq!(low_events(&shop.store).len(), falls);
        // One product event, one event per move, one per fall: numbered without gaps.
        let expected: Vec<u64> = (1..=(1 + moves.len() + falls) as u64).collect();
        prop_assert_eq!(outbox_seqs(&shop.store), expected);
    }
}
