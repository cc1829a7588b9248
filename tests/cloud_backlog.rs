//! The outbox's disk budget on a real store: telemetry-class events (shelf readings, beam
//! changes) are dropped oldest first when the outbox is over budget, business events (catalog,
//! stock, sales) never; business alone over budget raises the alarm and the shop keeps selling.
//! Events come from real operations: catalog loads, stock moves, the shelf tracker, beam
//! changes and a sale at a lane.

mod common;

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::cloud::backlog::{self, BacklogCheck};
use storehub::config::DeviceConfig;
use storehub::devices::shelf::tracker::{record_beam, EVENT_BEAM_CHANGED, EVENT_SHELF_LOW, EVENT_SHELF_PICKED};
use storehub::devices::shelf::Shelves;
use storehub::devices::DeviceEvent;
use storehub::domain::events::{class_of, EventClass};
use storehub::domain::staff::Role;
use storehub::domain::stock::MoveKind;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::inventory::EVENT_STOCK_MOVED;
use storehub::staff::StaffRef;
use storehub::store::outbox::OutboxHead;
use storehub::store::{Durability, Store, StoreError, TxError};

use common::*;

const WATER: &str = "SKU-010001";

/// A beam break at the door, as the GPIO driver reports it.
fn beam(shop: &Shop, active: bool) {
    let ev = DeviceEvent::Beam { device: "door-1".into(), pin: 17, active, at: shop.clock_now() };
    assert!(record_beam(&shop.store, &ev).unwrap());
}

trait Now {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}
impl Now for Shop {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use storehub::clock::Clock;
        self.clock.now()
    }
}

/// One shelf channel holding water, 570 g a bottle, low at 3.
fn shelves() -> Shelves {
    let text = "id = \"shelf-a1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"/dev/serial/by-id/x\"\n\
                [[shelf.channels]]\nchannel = 0\nsku = \"SKU-010001\"\nunit_grams = 570\nlow_units = 3\n";
    let d: DeviceConfig = toml::from_str(text).expect("test shelf config");
    Shelves::from_config(&[d])
}

/// Feeds `times` stable readings of `grams` to channel 0.
fn weigh(shop: &Shop, shelves: &Shelves, grams: i64, times: usize) {
    for _ in 0..times {
        let ev = DeviceEvent::ShelfWeight { device: "shelf-a1".into(), channel: 0, grams, stable: true, at: shop.clock_now() };
        shelves.handle(&shop.store, &ev).unwrap();
    }
}

fn heads(store: &Store) -> Vec<OutboxHead> {
    store.outbox_heads(0).collect::<Result<Vec<_>, _>>().unwrap()
}

fn types(store: &Store) -> Vec<(u64, String)> {
    heads(store).into_iter().map(|h| (h.seq, h.event_type)).collect()
}

/// The store's running count equals a walk of the outbox.
fn assert_usage_exact(store: &Store) {
    let stats = store.outbox_stats().unwrap();
    let usage = store.outbox_usage();
    assert_eq!((usage.count, usage.bytes), (stats.count, stats.bytes), "usage kept by commits vs a walk");
}

/// A shop with water on the shelf and in the books, then, oldest first:
///  1 catalog.product_upserted (B)        2 stock.moved receipt of 48 (B)
///  3 beam.changed on (T)                  4 beam.changed off (T)
///  5 shelf.picked 2 (T)                   6 stock.moved adjustment −1 (B)
///  7 shelf.picked 7 (T)  8 shelf.low (T)  9 restock.task_opened (B)  (one reading, one commit)
/// 10 beam.changed on (T)                 11 stock.moved receipt of 12 (B)
fn mixed_shop() -> Shop {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    apply(&shop.store, MoveKind::Receipt, WATER, 48);
    beam(&shop, true);
    beam(&shop, false);
    let shelves = shelves();
    weigh(&shop, &shelves, 6_852, 3); // 12 bottles: the baseline, no event
    weigh(&shop, &shelves, 5_690, 3); // 10: picked 2
    apply(&shop.store, MoveKind::Adjustment, WATER, -1);
    weigh(&shop, &shelves, 1_715, 3); // 3: picked 7 and low, and the restock task
    beam(&shop, true);
    apply(&shop.store, MoveKind::Receipt, WATER, 12);
    shop
}

#[test]
fn the_events_of_the_mixed_shop_and_their_classes() {
    let shop = mixed_shop();
    let t: Vec<(u64, String)> = types(&shop.store);
    let want = [
        (1, "storehub.catalog.product_upserted"),
        (2, EVENT_STOCK_MOVED),
        (3, EVENT_BEAM_CHANGED),
        (4, EVENT_BEAM_CHANGED),
        (5, EVENT_SHELF_PICKED),
        (6, EVENT_STOCK_MOVED),
        (7, EVENT_SHELF_PICKED),
        (8, EVENT_SHELF_LOW),
        (9, storehub::inventory::shelf_triggers::EVENT_TASK_OPENED),
        (10, EVENT_BEAM_CHANGED),
        (11, EVENT_STOCK_MOVED),
    ];
    assert_eq!(t, want.iter().map(|(s, ty)| (*s, ty.to_string())).collect::<Vec<_>>());
    let telemetry: Vec<u64> = t.iter().filter(|(_, ty)| class_of(ty) == EventClass::Telemetry).map(|(s, _)| *s).collect();
    assert_eq!(telemetry, vec![3, 4, 5, 7, 8, 10]);
    assert_usage_exact(&shop.store);
}

#[test]
fn under_budget_nothing_is_dropped_and_the_oldest_age_comes_from_the_clock() {
    let shop = mixed_shop();
    let stats = shop.store.outbox_stats().unwrap();
    shop.clock.advance(Duration::seconds(95));
    let now = shop.clock_now();
    // Exactly at the budget is within it.
    let check = backlog::enforce(&shop.store, stats.bytes, now).unwrap();
    assert_eq!(
        check,
        BacklogCheck {
            depth: 11,
            bytes: stats.bytes,
            oldest_age_s: Some(95),
            dropped: 0,
            alarm: None,
            budget_bytes: stats.bytes,
            dropped_total: 0,
        }
    );
    assert_eq!(shop.store.outbox_usage().count, 11);
    assert_eq!(shop.store.outbox_drop_cursor().unwrap(), 0, "an under-budget check reads no event heads");

    // An empty outbox has no age.
    shop.store.outbox_ack(&(1..=11).collect::<Vec<_>>()).unwrap();
    let check = backlog::enforce(&shop.store, 1, now).unwrap();
    assert_eq!((check.depth, check.bytes, check.oldest_age_s, check.alarm), (0, 0, None, None));
}

#[test]
fn over_budget_the_oldest_telemetry_goes_first_and_business_stays() {
    let shop = mixed_shop();
    let h = heads(&shop.store);
    let size = |seq: u64| h.iter().find(|x| x.seq == seq).unwrap().bytes;
    let total: u64 = h.iter().map(|x| x.bytes).sum();
    // A beam event, worked out: 8 key + 1 version tag + 1 seq + 37 id (length + 36) + 30 source
    // + 22 type + 8 subject ("door-1", with its Some and length) + 21 time + 71 data (length +
    // 70 bytes of JSON) = 199 bytes. A shelf event carries more data.
    assert_eq!(size(3), 199, "beam.changed on");
    assert!((250..330).contains(&size(5)), "shelf.picked: {}", size(5));
    assert_eq!(total, shop.store.outbox_stats().unwrap().bytes);
    let now = shop.clock_now();

    // One byte over: the oldest telemetry event (3, the door beam) goes, nothing else.
    let check = backlog::enforce(&shop.store, total - 1, now).unwrap();
    assert_eq!((check.dropped, check.depth, check.bytes, check.alarm.as_deref()), (1, 10, total - size(3), None));
    assert_eq!(check.dropped_total, 1);
    assert!(!types(&shop.store).iter().any(|(s, _)| *s == 3));
    // Checked again at the same budget: under it now, nothing more goes.
    assert_eq!(backlog::enforce(&shop.store, total - 1, now).unwrap().dropped, 0);

    // Over by 4 + 5 + 1 byte: 4, 5 and 7 go (oldest first); 6, a stock move, is passed over.
    let budget = total - size(3) - size(4) - size(5) - 1;
    let check = backlog::enforce(&shop.store, budget, now).unwrap();
    assert_eq!(check.dropped, 3);
    assert_eq!(check.bytes, total - size(3) - size(4) - size(5) - size(7));
    assert!(check.bytes <= budget && check.alarm.is_none());
    let left: Vec<u64> = types(&shop.store).iter().map(|(s, _)| *s).collect();
    assert_eq!(left, vec![1, 2, 6, 8, 9, 10, 11]);
    assert_eq!(shop.store.outbox_drop_cursor().unwrap(), 8, "the next pass starts after 7");
    assert_usage_exact(&shop.store);

    // Far over (half the business alone): every telemetry event goes, business all stays, and
    // what is left is business over budget: the alarm.
    let business: u64 = [1, 2, 6, 9, 11].iter().map(|&s| size(s)).sum();
    let check = backlog::enforce(&shop.store, business / 2, now).unwrap();
    assert_eq!(check.dropped, 2, "8 (shelf.low) and 10 (beam)");
    assert_eq!((check.depth, check.bytes, check.dropped_total), (5, business, 6));
    let left: Vec<(u64, String)> = types(&shop.store);
    assert!(left.iter().all(|(_, ty)| class_of(ty) == EventClass::Business), "{left:?}");
    assert_eq!(left.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 2, 6, 9, 11]);
    assert!(check.alarm.is_some());
    assert_usage_exact(&shop.store);

    // The gaps are the budget's, not a loss: verify passes; numbering goes on after 11.
    let report = storehub::verify::verify(&shop.store).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let shop = shop.reopen();
    assert_usage_exact(&shop.store);
    assert_eq!(shop.store.outbox_dropped_total().unwrap(), 6);
    apply(&shop.store, MoveKind::Receipt, WATER, 1);
    assert_eq!(newest_seq(&shop.store), 12);
}

#[test]
fn the_newest_event_stays_even_when_it_is_telemetry_and_goes_once_newer_ones_follow() {
    let shop = Shop::open();
    load(&shop.store, &[water()]); // 1 (B)
    beam(&shop, true); // 2 (T)
    beam(&shop, false); // 3 (T), the newest
    let now = shop.clock_now();
    let check = backlog::enforce(&shop.store, 1, now).unwrap();
    assert_eq!(check.dropped, 1, "2 goes, 3 stays: it numbers the next event after a restart");
    assert_eq!(types(&shop.store).iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(shop.store.outbox_drop_cursor().unwrap(), 3);
    // Restarted now, the next event is still 4.
    let shop = shop.reopen();
    apply(&shop.store, MoveKind::Receipt, WATER, 6); // 4 (B)
    assert_eq!(newest_seq(&shop.store), 4);
    let check = backlog::enforce(&shop.store, 1, now).unwrap();
    assert_eq!(check.dropped, 1, "3 is not the newest any more");
    assert_eq!(types(&shop.store).iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 4]);
    assert_usage_exact(&shop.store);
    assert!(storehub::verify::verify(&shop.store).unwrap().violations.is_empty());
}

fn cash(fen: i64) -> Tender {
    Tender { kind: TenderKind::Cash, amount_fen: fen, reference: None, points: None }
}

/// Sells two bottles of water for cash at lane 1 (the cashier and the shift are set up once).
fn sell_two_waters(store: &Arc<Store>, lanes: &Lanes) -> u64 {
    lanes.add_sku("lane-1", WATER, 2).unwrap();
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: Vec::new(), tz: chrono_tz::Asia::Shanghai, loyalty: Default::default() };
    let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash(400)] }, &rules).unwrap();
    assert_eq!((sale.stock_moves.len(), sale.settlement.change_fen), (1, 0));
    assert!(storehub::checkout::sale::sale(store, sale.id).unwrap().is_some(), "the sale is booked");
    sale.id
}

#[test]
fn business_alone_over_budget_raises_the_alarm_drops_nothing_and_the_shop_keeps_selling() {
    let dir = tempfile::tempdir().unwrap();
    let clock = storehub::clock::ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    load(&store, &[water()]);
    apply(&store, MoveKind::Receipt, WATER, 48);
    let new = storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier };
    storehub::staff::create_staff(&store, &new, "correct horse", Some("2468"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
    storehub::staff::open_shift(&store, "lane-1", "wang", 50_000).unwrap();
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    sell_two_waters(&store, &lanes);

    let before = store.outbox_stats().unwrap();
    assert!(types(&store).iter().all(|(_, ty)| class_of(ty) == EventClass::Business));
    // Two hours and five minutes later, HQ still unreachable, budget one byte short.
    clock.advance(Duration::minutes(125));
    let budget = before.bytes - 1;
    let check = backlog::enforce(&store, budget, clock_now(&clock)).unwrap();
    assert_eq!((check.dropped, check.depth, check.bytes), (0, before.count, before.bytes));
    assert_eq!(check.oldest_age_s, Some(7_500));
    let alarm = check.alarm.expect("business alone over budget raises the alarm");
    assert_eq!(
        alarm,
        format!(
            "outbox holds {} business events ({} MB) over its {} MB budget; HQ unreachable since \
             2026-11-25T09:00:00Z (2h 5m ago); business events are never dropped and the hub keeps \
             selling",
            before.count,
            backlog::format_mb(before.bytes),
            backlog::format_mb(budget)
        )
    );
    assert_eq!(store.outbox_stats().unwrap(), before, "nothing was dropped");

    // The shop keeps selling: a sale commits and its events join the outbox.
    let sale_id = sell_two_waters(&store, &lanes);
    assert!(storehub::checkout::sale::sale(&store, sale_id).unwrap().is_some());
    let check = backlog::enforce(&store, budget, clock_now(&clock)).unwrap();
    assert!(check.depth > before.count && check.alarm.is_some() && check.dropped == 0);
    assert_eq!(storehub::inventory::on_hand(&store, WATER).unwrap(), 44);
    assert_usage_exact(&store);
}

fn clock_now(clock: &storehub::clock::ManualClock) -> chrono::DateTime<chrono::Utc> {
    use storehub::clock::Clock;
    clock.now()
}

#[test]
fn a_pass_reads_only_events_newer_than_the_last_one_and_drops_telemetry_that_arrives_later() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    for _ in 0..3 {
        apply(&shop.store, MoveKind::Receipt, WATER, 1);
    }
    let now = shop.clock_now();
    // 1..4 business, over budget: alarm, the cursor moves past 4.
    let check = backlog::enforce(&shop.store, 100, now).unwrap();
    assert!(check.alarm.is_some());
    assert_eq!(shop.store.outbox_drop_cursor().unwrap(), 5);
    // Door traffic while still over budget: 5..7 (T), then 8 (B). The next pass reads 5..8
    // only and drops the beams.
    beam(&shop, true);
    beam(&shop, false);
    beam(&shop, true);
    apply(&shop.store, MoveKind::Receipt, WATER, 1);
    let check = backlog::enforce(&shop.store, 100, now).unwrap();
    assert_eq!((check.dropped, check.depth, check.dropped_total), (3, 5, 3));
    assert_eq!(shop.store.outbox_drop_cursor().unwrap(), 9);
    assert!(check.alarm.is_some());
    // The relay acknowledges everything: under budget, no alarm.
    shop.store.outbox_ack(&[1, 2, 3, 4, 8]).unwrap();
    let check = backlog::enforce(&shop.store, 100, now).unwrap();
    assert_eq!((check.depth, check.bytes, check.alarm), (0, 0, None));
    assert_usage_exact(&shop.store);
}

#[test]
fn the_running_usage_matches_a_walk_in_relaxed_mode_across_acks_and_a_restart() {
    let shop = Shop::open_with(Durability::Relaxed);
    load(&shop.store, &[water(), cestbon()]);
    for i in 0..20 {
        apply(&shop.store, MoveKind::Receipt, if i % 2 == 0 { WATER } else { "SKU-010003" }, 1);
        if i % 3 == 0 {
            beam(&shop, i % 2 == 0);
        }
    }
    assert_usage_exact(&shop.store);
    // 1 and 2 are the catalog events, 3 the first receipt; 99 was never issued.
    shop.store.outbox_ack(&[1, 2, 99]).unwrap();
    shop.store.outbox_ack(&[2, 3]).unwrap(); // 2 acknowledged twice
    assert_usage_exact(&shop.store);
    // A raw emit through a commit counts too.
    shop.store
        .commit(|tx| -> Result<(), TxError<StoreError>> {
            tx.emit("storehub.device.connected", Some("scale-1"), &serde_json::json!({ "device": "scale-1" }))?;
            tx.emit("com.example.unknown", None, &serde_json::json!({}))?;
            Ok(())
        })
        .unwrap();
    assert_usage_exact(&shop.store);
    let check = backlog::enforce(&shop.store, 1, shop.clock_now()).unwrap();
    assert_eq!(check.dropped, 8, "the seven beams and the device event; the unknown type is kept");
    assert_usage_exact(&shop.store);
    let shop = shop.reopen();
    assert_usage_exact(&shop.store);
}

/// The budget check on a 100 000-event outbox (half shelf readings, half stock moves, about
/// 28 MB): under budget it reads no event, so it costs next to nothing next to walking the
/// outbox once; over budget, the first pass reads every head, the next ones only what is new.
/// Timings are printed for docs/cloud.md (`cargo test --release --test cloud_backlog -- --nocapture`).
#[test]
fn the_check_is_cheap_on_a_large_outbox() {
    let shop = Shop::open_with(Durability::Relaxed);
    for batch in 0..100u64 {
        shop.store
            .commit(|tx| -> Result<(), TxError<StoreError>> {
                for i in 0..1_000u64 {
                    let n = batch * 1_000 + i;
                    let ty = if n % 2 == 0 { EVENT_SHELF_PICKED } else { EVENT_STOCK_MOVED };
                    let data = serde_json::json!({
                        "device": "shelf-a1", "channel": 3, "sku": WATER, "units": 1, "on_shelf": 11,
                        "low_units": 4, "grams": 6_270, "read_at": "2026-11-25T09:00:00Z", "n": n,
                    });
                    tx.emit(ty, Some(WATER), &data)?;
                }
                Ok(())
            })
            .unwrap();
    }
    let now = shop.clock_now();
    let usage = shop.store.outbox_usage();
    assert_eq!(usage.count, 100_000);

    let t = Instant::now();
    let stats = shop.store.outbox_stats().unwrap();
    let walk = t.elapsed();
    assert_eq!((stats.count, stats.bytes), (usage.count, usage.bytes));

    let t = Instant::now();
    for _ in 0..10 {
        let check = backlog::enforce(&shop.store, usage.bytes, now).unwrap();
        assert_eq!((check.depth, check.dropped), (100_000, 0));
    }
    let under = t.elapsed() / 10;

    // Over by 1 MB: about 3 600 shelf readings go, each pass reading only up to them.
    let t = Instant::now();
    let check = backlog::enforce(&shop.store, usage.bytes - backlog::MB, now).unwrap();
    let over = t.elapsed();
    assert!(check.dropped > 3_000 && check.dropped < 4_500, "{}", check.dropped);
    // Business alone over budget: the first pass reads the rest, the next reads nothing new.
    let t = Instant::now();
    let alarm = backlog::enforce(&shop.store, 1, now).unwrap();
    let first_alarm = t.elapsed();
    let t = Instant::now();
    let again = backlog::enforce(&shop.store, 1, now).unwrap();
    let next_alarm = t.elapsed();
    assert_eq!(alarm.depth, 50_000);
    assert!(alarm.alarm.is_some() && again.alarm.is_some() && again.dropped == 0);
    eprintln!(
        "100k events, {} bytes: walk (outbox_stats) {walk:?}; check under budget {under:?}; \
         1 MB over {over:?} ({} dropped); all 50k telemetry dropped {first_alarm:?}; \
         alarm re-check {next_alarm:?}",
        stats.bytes, check.dropped
    );
    assert!(under * 20 < walk, "under budget {under:?} vs walk {walk:?}");
    assert!(next_alarm * 5 < walk, "re-check in alarm {next_alarm:?} vs walk {walk:?}");
}

#[test]
fn verify_still_finds_an_event_lost_beside_the_ones_the_budget_dropped() {
    let shop = mixed_shop();
    let total = shop.store.outbox_stats().unwrap().bytes;
    assert_eq!(backlog::enforce(&shop.store, total - 1, shop.clock_now()).unwrap().dropped, 1, "3 goes");
    assert!(storehub::verify::verify(&shop.store).unwrap().violations.is_empty());
    let Shop { dir, clock, store, .. } = shop;
    drop(store);
    {
        // A stock move vanishes behind the store's back (a damaged file, a bad restore).
        let db = open_raw_sled(&storehub::store::db_path(dir.path()));
        let outbox = db.open_tree("outbox").unwrap();
        assert!(outbox.remove(6u64.to_be_bytes()).unwrap().is_some());
        db.flush().unwrap();
    }
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert_usage_exact(&store);
    let report = storehub::verify::verify(&store).unwrap();
    assert_eq!(
        report.violations,
        vec!["outbox: 9 events between sequence 1 and 11; 2 are missing and the disk budget dropped only 1".to_string()]
    );
}
