//! The store as the rest of storehub meets it: a change committed at 09:00 reads back the same,
//! a refused change leaves no trace (not even a sequence number), the outbox numbers events
//! 1, 2, 3 … across restarts and acknowledgements, events leave as CloudEvents, a newer database
//! is refused rather than misread, eight tills committing at once lose nothing, and a backup
//! restores to the same shop while a damaged one is refused before anything is written.

mod common;

use std::path::Path;

use chrono::{DateTime, Duration};
use serde::{Deserialize, Serialize};
use storehub::catalog::{self, CatalogError, EVENT_PRODUCT_UPSERTED};
use storehub::clock::ManualClock;
use storehub::domain::barcode::CatalogCode;
use storehub::domain::stock::MoveKind;
use storehub::inventory::{self, InventoryError, EVENT_STOCK_LOW, EVENT_STOCK_MOVED};
use storehub::store::backup::{self, BackupSummary};
use storehub::store::{
    codec, db_path, CommitError, Durability, Record, Store, StoreError, TreeId, TxError, SCHEMA_VERSION,
};

use common::*;

// --- commit and read back --------------------------------------------------------------------

#[test]
fn a_product_committed_at_nine_reads_back_unchanged_by_sku_and_by_barcode() {
    let shop = Shop::open();
    load(&shop.store, &[water(), bananas()]);

    assert_eq!(catalog::product(&shop.store, "SKU-010001").unwrap(), Some(water()));
    let by_gtin = CatalogCode::Gtin("6907674936533".into());
    assert_eq!(catalog::product_by_code(&shop.store, &by_gtin).unwrap(), Some(water()));
    // The scale prints PLU 05000 on the label; the catalog says 5000.
    let by_plu = CatalogCode::Plu("05000".into());
    assert_eq!(catalog::product_by_code(&shop.store, &by_plu).unwrap(), Some(bananas()));
    assert_eq!(catalog::all_products(&shop.store).unwrap(), vec![water(), bananas()]);

    let shop = shop.reopen();
    assert_eq!(catalog::all_products(&shop.store).unwrap(), vec![water(), bananas()]);
}

#[test]
fn a_refused_change_writes_nothing_and_takes_no_sequence_number() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    assert_eq!(outbox_seqs(&shop.store), vec![1]);

    // A change that writes a product and an event, then refuses.
    let refused = shop.store.commit(|tx| -> Result<(), TxError<String>> {
        tx.put(TreeId::Products, b"SKU-099999", &drink("SKU-099999", "Ghost", &[], None))?;
        tx.emit("storehub.test.ghost", Some("SKU-099999"), &"boo")?;
        Err(TxError::Rejected("cashier cancelled".to_string()))
    });
    match refused {
        Err(CommitError::Rejected(why)) => assert_eq!(why, "cashier cancelled"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(catalog::product(&shop.store, "SKU-099999").unwrap(), None);
    assert_eq!(catalog::product_count(&shop.store), 1);
    assert_eq!(outbox_seqs(&shop.store), vec![1]);

    // A sale of a sku the shop never stocked is refused the same way.
    let err = inventory::move_stock(&shop.store, &request(MoveKind::Sale, "SKU-404", 1)).unwrap_err();
    assert!(matches!(err, CommitError::Rejected(InventoryError::UnknownSku(ref s)) if s == "SKU-404"));
    assert_eq!(inventory::all_moves(&shop.store).unwrap(), vec![]);
    assert_eq!(shop.store.count(TreeId::Stock), 0);

    // The next real change gets event 2 and move 1: the refusals took no number.
    let mv = inventory::move_stock(&shop.store, &request(MoveKind::Receipt, "SKU-010001", 48)).unwrap();
    assert_eq!(mv.id, 1);
    assert_eq!(outbox_seqs(&shop.store), vec![1, 2]);
}

// --- outbox numbering -------------------------------------------------------------------------

#[test]
fn two_hundred_sales_number_the_outbox_1_to_201_without_gaps_and_keep_counting_after_a_restart() {
    let shop = Shop::open();
    load(&shop.store, &[water()]); // event 1
    for _ in 0..200 {
        apply(&shop.store, MoveKind::Receipt, "SKU-010001", 1); // events 2..=201
    }
    assert_eq!(outbox_seqs(&shop.store), (1..=201).collect::<Vec<_>>());
    // CloudEvents `sequence` strings sort as text in the same order (9 before 10, 99 before 100).
    let sequences: Vec<String> = outbox(&shop.store)
        .iter()
        .map(|e| e.to_cloudevent()["sequence"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = sequences.clone();
    sorted.sort();
    assert_eq!(sorted, sequences);

    let shop = shop.reopen();
    apply(&shop.store, MoveKind::Sale, "SKU-010001", 1);
    assert_eq!(outbox_seqs(&shop.store), (1..=202).collect::<Vec<_>>());
    let ids: Vec<u64> = inventory::all_moves(&shop.store).unwrap().iter().map(|m| m.id).collect();
    assert_eq!(ids, (1..=201).collect::<Vec<_>>());
}

#[test]
fn after_hq_acknowledges_every_event_numbering_goes_on_from_the_last_one() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    for _ in 0..4 {
        apply(&shop.store, MoveKind::Receipt, "SKU-010001", 6);
    }
    assert_eq!(outbox_seqs(&shop.store), vec![1, 2, 3, 4, 5]);

    // HQ acknowledges everything (one ack arrives twice); the outbox is empty.
    shop.store.outbox_ack(&[1, 2, 3]).unwrap();
    shop.store.outbox_ack(&[3, 4, 5]).unwrap();
    assert_eq!(outbox_seqs(&shop.store), Vec::<u64>::new());

    // Still running: the next event is 6.
    apply(&shop.store, MoveKind::Sale, "SKU-010001", 1);
    assert_eq!(outbox_seqs(&shop.store), vec![6]);

    // Acknowledge that one too and restart with an empty outbox: 7, never 1 again.
    shop.store.outbox_ack(&[6]).unwrap();
    let shop = shop.reopen();
    assert_eq!(shop.store.outbox_stats().unwrap().count, 0);
    apply(&shop.store, MoveKind::Sale, "SKU-010001", 1);
    assert_eq!(outbox_seqs(&shop.store), vec![7]);
}

#[test]
fn outbox_batch_reads_ascending_from_the_asked_sequence_and_stops_at_max() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    for _ in 0..9 {
        apply(&shop.store, MoveKind::Receipt, "SKU-010001", 1);
    }
    let seqs = |from, max| -> Vec<u64> {
        shop.store.outbox_batch(from, max).unwrap().iter().map(|e| e.seq).collect()
    };
    assert_eq!(seqs(0, 3), vec![1, 2, 3]);
    assert_eq!(seqs(5, 3), vec![5, 6, 7]);
    assert_eq!(seqs(8, 100), vec![8, 9, 10]);
    assert_eq!(seqs(11, 100), Vec::<u64>::new());
    assert_eq!(seqs(1, 0), Vec::<u64>::new());

    // After 4, 5 and 6 are acknowledged, a batch from 3 skips over the hole.
    shop.store.outbox_ack(&[4, 5, 6]).unwrap();
    assert_eq!(seqs(3, 3), vec![3, 7, 8]);
}

#[test]
fn outbox_stats_count_bytes_oldest_and_newest() {
    let shop = Shop::open();
    let empty = shop.store.outbox_stats().unwrap();
    assert_eq!((empty.count, empty.bytes, empty.oldest_seq, empty.newest_seq), (0, 0, None, None));

    load(&shop.store, &[water(), cestbon()]); // events 1, 2
    apply(&shop.store, MoveKind::Receipt, "SKU-010003", 8); // event 3
    shop.store.outbox_ack(&[1]).unwrap();

    let stats = shop.store.outbox_stats().unwrap();
    let waiting = outbox(&shop.store);
    // Each entry costs its 8-byte key plus its encoded record.
    let bytes: u64 = waiting.iter().map(|e| 8 + codec::encode(e).unwrap().len() as u64).sum();
    assert_eq!(stats.count, 2);
    assert_eq!(stats.bytes, bytes);
    assert_eq!(stats.oldest_seq, Some(2));
    assert_eq!(stats.newest_seq, Some(3));
}

// --- events as CloudEvents ------------------------------------------------------------------

#[test]
fn a_receipt_of_48_bottles_leaves_as_a_cloudevent_with_every_required_attribute() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    shop.clock.advance(Duration::minutes(30)); // 09:30
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 48);

    let moved = events_of_type(&shop.store, EVENT_STOCK_MOVED);
    assert_eq!(moved.len(), 1);
    let ce = moved[0].to_cloudevent();
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["type"], "storehub.stock.moved");
    assert_eq!(ce["source"], SOURCE);
    assert_eq!(ce["subject"], "SKU-010001");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["sequence"], "00000000000000000002");
    let id = ce["id"].as_str().expect("id is a string");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id {id} is a UUID");
    let time = ce["time"].as_str().expect("time is a string");
    assert_eq!(time, "2026-11-25T09:30:00.000000Z");
    assert_eq!(DateTime::parse_from_rfc3339(time).unwrap(), opening_time() + Duration::minutes(30));
    assert_eq!(ce["data"]["sku"], "SKU-010001");
    assert_eq!(ce["data"]["kind"], "receipt");
    assert_eq!(ce["data"]["delta"], 48);
    assert_eq!(ce["data"]["on_hand_after"], 48);

    let first = outbox(&shop.store)[0].to_cloudevent();
    assert_eq!(first["type"], EVENT_PRODUCT_UPSERTED);
    assert_eq!(first["sequence"], "00000000000000000001");
}

#[test]
fn an_event_read_twice_keeps_its_id_so_a_retried_publish_is_deduplicated_by_hq() {
    let shop = Shop::open();
    load(&shop.store, &[water(), cestbon()]);
    let first_read = outbox(&shop.store);
    let second_read = outbox(&shop.store);
    assert_eq!(first_read, second_read);
    assert_ne!(first_read[0].id, first_read[1].id, "two events, two ids");

    let shop = shop.reopen();
    let after_restart = outbox(&shop.store);
    assert_eq!(after_restart, first_read);
    assert_eq!(after_restart[0].to_cloudevent()["id"], first_read[0].id.as_str());
}

#[test]
fn the_manual_clock_time_is_stamped_on_moves_and_their_events() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    let at_nine = apply_move(&shop, MoveKind::Receipt, 48);
    shop.clock.advance(Duration::hours(8) + Duration::minutes(15)); // 17:15
    let at_quarter_past_five = apply_move(&shop, MoveKind::Sale, 3);

    assert_eq!(at_nine.at, opening_time());
    assert_eq!(at_quarter_past_five.at, opening_time() + Duration::minutes(8 * 60 + 15));
    let times: Vec<_> = outbox(&shop.store).iter().map(|e| e.time).collect();
    assert_eq!(times, vec![opening_time(), opening_time(), at_quarter_past_five.at]);
}

fn apply_move(shop: &Shop, kind: MoveKind, qty: i64) -> inventory::StockMove {
    inventory::move_stock(&shop.store, &request(kind, "SKU-010001", qty)).unwrap()
}

// --- schema and record versions -----------------------------------------------------------

/// The meta record as a future storehub would write it (same encoding as the store's own).
#[derive(Serialize, Deserialize)]
struct FutureSchemaVersion(u32);
impl Record for FutureSchemaVersion {
    const NAME: &'static str = "schema version";
}

#[test]
fn a_database_written_by_a_newer_storehub_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    drop(open_store(dir.path(), &clock, Durability::Durable));
    {
        let db = open_raw_sled(&db_path(dir.path()));
        let meta = db.open_tree("meta").unwrap();
        let newer = codec::encode(&FutureSchemaVersion(SCHEMA_VERSION + 1)).unwrap();
        meta.insert(b"schema_version", newer).unwrap();
        db.flush().unwrap();
    }

    let err = retry_while_locked(|| Store::open(options(dir.path(), &clock, Durability::Durable)))
        .err()
        .expect("a newer database must be refused");
    assert!(
        matches!(err, StoreError::NewerSchema { found, supported, .. }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "database in {} has schema version {}, newer than this build's {SCHEMA_VERSION}; install a newer storehub or restore a backup made by this version",
            dir.path().display(),
            SCHEMA_VERSION + 1
        )
    );
}

#[test]
fn a_product_record_with_a_newer_version_tag_is_reported_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    {
        let store = open_store(dir.path(), &clock, Durability::Durable);
        load(&store, &[water()]);
    }
    {
        let db = open_raw_sled(&db_path(dir.path()));
        let products = db.open_tree("products").unwrap();
        let mut record = products.get(b"SKU-010001").unwrap().expect("stored").to_vec();
        assert_eq!(record[0], 1, "records carry version tag 1 today");
        record[0] = 2;
        products.insert(b"SKU-010001", record).unwrap();
        db.flush().unwrap();
    }

    let store = open_store(dir.path(), &clock, Durability::Durable);
    let err = catalog::product(&store, "SKU-010001").unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt record: product record has version tag 2, newer than this build's 1; upgrade storehub"
    );
}

// --- concurrency in durable mode ------------------------------------------------------------

#[test]
fn eight_tills_selling_at_once_in_durable_mode_lose_no_move() {
    const TILLS: i64 = 8;
    const SALES_PER_TILL: i64 = 25;
    let shop = Shop::open_with(Durability::Durable);
    load(&shop.store, &[water()]); // event 1
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 1_000); // move 1, event 2

    std::thread::scope(|s| {
        for till in 1..=TILLS {
            let store = &shop.store;
            s.spawn(move || {
                for _ in 0..SALES_PER_TILL {
                    let mut sale = request(MoveKind::Sale, "SKU-010001", till);
                    sale.user = format!("till-{till}");
                    inventory::move_stock(store, &sale).expect("sale committed");
                }
            });
        }
    });

    // Till n sold n bottles 25 times: 25 × (1 + … + 8) = 900.
    let sold: i64 = (1..=TILLS).map(|t| t * SALES_PER_TILL).sum();
    assert_eq!(sold, 900);
    let check = |store: &Store| {
        let moves = inventory::all_moves(store).unwrap();
        assert_eq!(moves.len() as i64, 1 + TILLS * SALES_PER_TILL);
        assert_eq!(moves.iter().map(|m| m.id).collect::<Vec<_>>(), (1..=201).collect::<Vec<_>>());
        // Every move starts from the on-hand the previous one left: no lost update.
        let mut running = 0;
        for m in &moves {
            running += m.delta;
            assert_eq!(m.on_hand_after, running, "move {}", m.id);
        }
        assert_eq!(inventory::on_hand(store, "SKU-010001").unwrap(), running);
        assert_eq!(running, 1_000 - sold);
        assert_eq!(outbox_seqs(store), (1..=202).collect::<Vec<_>>());
    };
    check(&shop.store);
    let (commits, syncs, _) = shop.store.sync_stats().expect("durable mode keeps sync stats");
    assert!(syncs >= 1 && syncs <= commits, "{syncs} syncs for {commits} commits");

    let shop = shop.reopen();
    check(&shop.store);
}

/// In durable mode a writer is released as soon as its journal record is on disk, and sled is
/// brought up to date behind it; a read right after the commit must still see it (and every
/// other acknowledged commit), from any thread.
#[test]
fn a_till_reads_its_own_sale_right_after_the_durable_commit_returns() {
    const TILLS: i64 = 6;
    const SALES_PER_TILL: i64 = 40;
    let shop = Shop::open_with(Durability::Durable);
    load(&shop.store, &[water()]);
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 10_000);

    std::thread::scope(|s| {
        for _till in 1..=TILLS {
            let store = &shop.store;
            s.spawn(move || {
                for _ in 0..SALES_PER_TILL {
                    let m = inventory::move_stock(store, &request(MoveKind::Sale, "SKU-010001", 1)).expect("sale committed");
                    // Other tills may have sold since, never less than this sale left.
                    let on_hand = inventory::on_hand(store, "SKU-010001").unwrap();
                    assert!(on_hand <= m.on_hand_after, "read {on_hand} after a sale that left {}", m.on_hand_after);
                    let moves = inventory::recent_moves(store, None, 1).unwrap();
                    assert!(moves[0].id >= m.id, "newest move {} is older than the sale just made ({})", moves[0].id, m.id);
                }
            });
        }
    });
    assert_eq!(inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 10_000 - TILLS * SALES_PER_TILL);
}

/// A write-behind commit (a cart line, an outbox acknowledgement) returns before its sync; the
/// next commit builds on it at once, and the outbox reader never gets back what it acknowledged.
#[test]
fn write_behind_commits_are_seen_by_the_next_commit_and_acks_never_come_back() {
    let shop = Shop::open_with(Durability::Durable);
    load(&shop.store, &[water()]);
    for i in 1..=200i64 {
        let m = shop
            .store
            .commit_write_behind(|tx| inventory::record_move(tx, &request(MoveKind::Receipt, "SKU-010001", 1)))
            .expect("write-behind move");
        assert_eq!(m.on_hand_after, i, "each move starts from the one before, synced or not");
    }
    shop.store.read_barrier().unwrap();
    assert_eq!(inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 200);

    // Drain like the relay: read a batch, acknowledge it, read the next one at once.
    let mut seen = Vec::new();
    loop {
        let batch = shop.store.outbox_batch(0, 7).unwrap();
        if batch.is_empty() {
            break;
        }
        let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
        assert!(seqs.iter().all(|s| !seen.contains(s)), "an acknowledged event came back: {seqs:?}");
        seen.extend(&seqs);
        shop.store.outbox_ack(&seqs).unwrap();
    }
    assert_eq!(seen, (1..=201).collect::<Vec<_>>());
}

// --- backup and restore -----------------------------------------------------------------------

/// A shop after a morning's trade: three products, stock moves, one acknowledged event.
fn morning_shop() -> Shop {
    let shop = Shop::open();
    load(&shop.store, &[water(), cestbon(), bananas()]);
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 48);
    apply(&shop.store, MoveKind::Receipt, "SKU-010003", 8);
    apply(&shop.store, MoveKind::Receipt, "SKU-020001", 12_500);
    shop.clock.advance(Duration::hours(2));
    apply(&shop.store, MoveKind::Sale, "SKU-010003", 3); // 5: low-stock event
    apply(&shop.store, MoveKind::Sale, "SKU-020001", 1_250);
    shop.store.outbox_ack(&[1]).unwrap();
    shop
}

fn backup_bytes(store: &Store) -> (Vec<u8>, BackupSummary) {
    let mut bytes = Vec::new();
    let summary = store.backup_to(&mut bytes).unwrap();
    (bytes, summary)
}

/// Names of the entries in `dir` (empty when `dir` does not exist).
fn dir_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut names: Vec<String> =
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_backup_restored_into_an_empty_dir_is_the_same_shop() {
    let shop = morning_shop();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("storehub-2026-11-25.backup");
    let summary = shop.store.backup_to_file(&file).unwrap();
    assert_eq!(summary.schema_version, SCHEMA_VERSION);
    assert_eq!(summary.created_at, (opening_time() + Duration::hours(2)).to_rfc3339());
    assert_eq!(summary.bytes, std::fs::metadata(&file).unwrap().len());

    let target = tempfile::tempdir().unwrap();
    let restored = backup::restore(target.path(), &mut std::fs::File::open(&file).unwrap(), false).unwrap();
    assert_eq!(restored, summary);
    assert_eq!(dir_entries(target.path()), vec!["db"]);

    let copy = open_store(target.path(), &shop.clock, Durability::Durable);
    let original = &shop.store;
    assert_eq!(catalog::all_products(&copy).unwrap(), catalog::all_products(original).unwrap());
    assert_eq!(inventory::stock_levels(&copy).unwrap(), inventory::stock_levels(original).unwrap());
    assert_eq!(inventory::on_hand(&copy, "SKU-010003").unwrap(), 5);
    assert_eq!(inventory::all_moves(&copy).unwrap(), inventory::all_moves(original).unwrap());
    assert_eq!(outbox(&copy), outbox(original));
    assert_eq!(events_of_type(&copy, EVENT_STOCK_LOW).len(), 1);
    assert_eq!(copy.outbox_stats().unwrap(), original.outbox_stats().unwrap());
    assert_eq!(copy.database_id().unwrap(), original.database_id().unwrap());
    let by_plu = CatalogCode::Plu("5000".into());
    assert_eq!(catalog::product_by_code(&copy, &by_plu).unwrap(), Some(bananas()));

    // Both go on numbering from the same place.
    apply(&copy, MoveKind::Sale, "SKU-010001", 1);
    apply(original, MoveKind::Sale, "SKU-010001", 1);
    assert_eq!(newest_seq(&copy), newest_seq(original));
    assert_eq!(inventory::all_moves(&copy).unwrap().last().unwrap().id, 6);
}

#[test]
fn a_restored_backup_of_an_empty_outbox_still_numbers_on_from_the_last_event() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 24);
    shop.store.outbox_ack(&[1, 2]).unwrap();
    let (bytes, _) = backup_bytes(&shop.store);

    let target = tempfile::tempdir().unwrap();
    backup::restore(target.path(), &mut bytes.as_slice(), false).unwrap();
    let copy = open_store(target.path(), &shop.clock, Durability::Durable);
    assert_eq!(copy.outbox_stats().unwrap().count, 0);
    apply(&copy, MoveKind::Sale, "SKU-010001", 1);
    assert_eq!(outbox_seqs(&copy), vec![3]);
}

/// A data dir holding a one-product database of its own (closed again).
fn occupied_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = open_store(dir.path(), &clock, Durability::Durable);
    load(&store, &[drink("SKU-777777", "Old shop cola", &[], None)]);
    dir
}

#[test]
fn restoring_over_an_existing_database_without_force_is_refused_and_names_force() {
    let shop = morning_shop();
    let (bytes, _) = backup_bytes(&shop.store);
    let target = occupied_data_dir();

    let err = backup::restore(target.path(), &mut bytes.as_slice(), false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&target.path().display().to_string()), "{msg}");
    assert!(msg.contains("already holds a database"), "{msg}");
    assert!(msg.contains("--force"), "{msg}");

    assert_eq!(dir_entries(target.path()), vec!["db", "journal"]);
    let store = open_store(target.path(), &shop.clock, Durability::Durable);
    let skus: Vec<String> = catalog::all_products(&store).unwrap().into_iter().map(|p| p.sku).collect();
    assert_eq!(skus, vec!["SKU-777777"]);
}

#[test]
fn restoring_with_force_replaces_the_database_and_keeps_the_old_one_aside() {
    let shop = morning_shop();
    let (bytes, _) = backup_bytes(&shop.store);
    let target = occupied_data_dir();

    backup::restore(target.path(), &mut bytes.as_slice(), true).unwrap();

    let entries = dir_entries(target.path());
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0], "db");
    assert!(entries[1].starts_with("db.replaced-"), "{entries:?}");
    {
        let store = open_store(target.path(), &shop.clock, Durability::Durable);
        assert_eq!(catalog::all_products(&store).unwrap(), catalog::all_products(&shop.store).unwrap());
        assert_eq!(outbox(&store), outbox(&shop.store));
    }
    // The old database is still whole where it was put aside, with its journal beside it (a
    // journal must never be replayed over another database).
    let aside_dir = target.path().join(&entries[1]);
    assert_eq!(dir_entries(&aside_dir), vec!["db", "journal"]);
    let aside = open_raw_sled(&aside_dir.join("db"));
    let products = aside.open_tree("products").unwrap();
    assert!(products.get(b"SKU-777777").unwrap().is_some());
    assert_eq!(products.len(), 1);
}

/// Restores `bytes` into a fresh empty dir and into a path that does not exist yet; both must be
/// refused and left exactly as they were. Returns the message.
fn refused_restore(bytes: &[u8]) -> String {
    let target = tempfile::tempdir().unwrap();
    let err = backup::restore(target.path(), &mut &bytes[..], false).unwrap_err();
    assert!(matches!(err, StoreError::Backup(_)), "{err:?}");
    assert_eq!(dir_entries(target.path()), Vec::<String>::new(), "nothing written");

    let missing = target.path().join("not-yet");
    let again = backup::restore(&missing, &mut &bytes[..], true).unwrap_err();
    assert_eq!(again.to_string(), err.to_string());
    assert!(!missing.exists(), "no dir created for a refused restore");
    err.to_string()
}

#[test]
fn a_truncated_backup_is_refused_whole_and_nothing_is_written() {
    let shop = morning_shop();
    let (bytes, _) = backup_bytes(&shop.store);

    // Copy interrupted halfway through.
    let msg = refused_restore(&bytes[..bytes.len() / 2]);
    assert!(msg.starts_with("not a usable storehub backup: "), "{msg}");
    assert!(msg.contains("(truncated?)"), "{msg}");

    // Only the end marker missing: every entry is there, but the file is still refused.
    let end_frame = 8 + 2; // length, CRC, then variant and a one-byte entry count
    let msg = refused_restore(&bytes[..bytes.len() - end_frame]);
    assert_eq!(
        msg,
        format!(
            "not a usable storehub backup: file ends at byte {} before the end marker (truncated?)",
            bytes.len() - end_frame
        )
    );

    let msg = refused_restore(&bytes[..10]);
    assert_eq!(msg, "not a usable storehub backup: file is shorter than the header");
}

#[test]
fn a_backup_with_one_flipped_byte_fails_its_checksum_and_nothing_is_written() {
    let shop = morning_shop();
    let (mut bytes, _) = backup_bytes(&shop.store);
    // The first frame (the header) starts at byte 16; its payload after 8 bytes of length + CRC.
    bytes[16 + 8 + 5] ^= 0x20;
    let msg = refused_restore(&bytes);
    assert_eq!(msg, "not a usable storehub backup: checksum mismatch in frame at byte 16 (damaged)");
}

#[test]
fn a_file_that_is_not_a_backup_is_refused_by_its_first_bytes() {
    // Someone picks the catalog export instead of the backup.
    let csv = "sku,barcodes,name_zh,name_en,category,unit,price_fen\nSKU-010001,6907674936533,水,Water,饮料,piece,200\n";
    let msg = refused_restore(csv.as_bytes());
    assert_eq!(msg, "not a usable storehub backup: it does not start with STOREHUB-BACKUP");

    // A real backup with its magic damaged is refused the same way.
    let shop = morning_shop();
    let (mut bytes, _) = backup_bytes(&shop.store);
    bytes[0] = b's';
    assert_eq!(refused_restore(&bytes), msg);
}

#[test]
fn a_backup_taken_while_hq_acknowledges_never_lets_a_restore_reuse_a_sequence_number() {
    // Regression: `outbox_ack` used to run outside the store's gate, so a backup could copy the
    // meta tree before the ack raised the floor and the outbox after the ack deleted the events.
    // Restored, that hub numbered its next event 3001 although HQ had already received 3001–3100.
    // A big catalog makes the backup slow enough for the ack to land inside it.
    let shop = Shop::open_with(Durability::Relaxed);
    let catalog: Vec<_> = (1..=3000).map(|i| drink(&format!("SKU-{i:06}"), "Cola", &[], None)).collect();
    load(&shop.store, &catalog);
    shop.store.outbox_ack(&outbox_seqs(&shop.store)).unwrap();
    let delivery: Vec<_> =
        (1..=100).map(|i| request(MoveKind::Receipt, &format!("SKU-{i:06}"), 24)).collect();

    for attempt in 1..=5 {
        inventory::move_stock_all(&shop.store, &delivery).unwrap();
        let sent = outbox_seqs(&shop.store);
        let newest_sent = *sent.last().unwrap();
        let backup_started = std::sync::atomic::AtomicBool::new(false);
        let bytes = std::thread::scope(|s| {
            s.spawn(|| {
                while !backup_started.load(std::sync::atomic::Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                shop.store.outbox_ack(&sent).unwrap();
            });
            backup_started.store(true, std::sync::atomic::Ordering::SeqCst);
            backup_bytes(&shop.store).0
        });

        let target = tempfile::tempdir().unwrap();
        backup::restore(target.path(), &mut bytes.as_slice(), false).unwrap();
        let copy = open_store(target.path(), &shop.clock, Durability::Relaxed);
        apply(&copy, MoveKind::Sale, "SKU-000001", 1);
        let next = newest_seq(&copy);
        assert!(
            next > newest_sent,
            "attempt {attempt}: restored hub numbered {next}, HQ already has up to {newest_sent}"
        );
    }
}

#[test]
fn a_catalog_error_in_a_commit_keeps_its_type() {
    // Rejections keep their own type through the commit, so callers can match on them.
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    let thief = drink("SKU-099999", "Copycat water", &["6907674936533"], None);
    let err = catalog::upsert_products(&shop.store, &[thief], 10, |_| {}).unwrap_err();
    assert!(matches!(err, CommitError::Rejected(CatalogError::BarcodeTaken { .. })), "{err:?}");
}
