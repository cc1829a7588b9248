//! `storehub demo` with its simulated devices: a scripted shopper's codes go through a
//! pseudo-terminal scanner, the device driver and the lane's event channel into the cart; the
//! Toledo scale's settled weight prices a weighed line; paying queues the receipt and the printer
//! driver writes its ESC/POS bytes into the receipts file; water taken off the watched shelf
//! becomes shelf events in the outbox. The whole path, with the real binary.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use storehub::domain::pricing::Quantity;
use storehub::domain::tender::TenderKind;

use common::{spawn_demo, start_demo, stop_demo_and_open};

/// The sale ids in the QR codes of an ESC/POS stream (`GS ( k pL pH 31 50 30 data`).
fn qr_payloads(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= bytes.len() {
        if bytes[i..i + 3] == [0x1d, b'(', b'k'] && bytes[i + 5..i + 8] == [0x31, 0x50, 0x30] {
            let len = (bytes[i + 3] as usize | (bytes[i + 4] as usize) << 8) - 3;
            let start = i + 8;
            out.push(String::from_utf8_lossy(&bytes[start..(start + len).min(bytes.len())]).into_owned());
            i = start + len;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn the_demo_shopper_runs_scan_to_receipt_through_simulated_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let bin = env!("CARGO_BIN_EXE_storehub");
    let child = spawn_demo(&dir, &["--shopper-every", "0.3"]);
    let receipts = dir.join("devices").join("receipts.escpos");
    let started = Instant::now();
    // Wait for five printed receipts, and 10 s: the shelf node is calibrated through the hub and
    // stocked in the first seconds, then shoppers take a bottle at most every 2 s.
    loop {
        let printed = std::fs::read(&receipts).map(|b| qr_payloads(&b).len()).unwrap_or(0);
        if printed >= 5 && started.elapsed() >= Duration::from_secs(10) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "only {printed} receipts printed in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The daemon's device health: every simulated device attached and working.
    let out = Command::new(bin).args(["--data-dir", dir.to_str().unwrap(), "devices", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let health: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let health = health.as_array().unwrap();
    assert_eq!(health.len(), 5, "{health:?}");
    for h in health {
        let id = h["id"].as_str().unwrap();
        // The printer on a file and the display only write; the others must have sent events.
        assert_eq!(h["connected"], true, "{id}: {h}");
        if ["scanner-1", "scale-1", "shelf-1", "printer-1"].contains(&id) {
            assert!(h["events"].as_u64().unwrap() > 0, "{id} reported no events: {h}");
        }
    }
    let store = stop_demo_and_open(child, &dir);
    let sales: Vec<_> = storehub::checkout::sale::all_sales(&store).unwrap().into_iter().filter(|s| s.lane == "lane-1").collect();
    assert!(sales.len() >= 5, "{} sales at the device lane", sales.len());
    for s in &sales {
        assert!(s.lines.iter().any(|l| l.barcode.is_some()), "sale {}: no scanned line", s.id);
        assert!(s.lines.iter().any(|l| matches!(l.qty, Quantity::Grams(g) if g > 0)), "sale {}: no weighed line", s.id);
        assert_eq!(s.settlement.tenders[0].kind, TenderKind::Cash);
    }
    // Every printed receipt is of a sale of that lane, each at most once; all but possibly the
    // last sale (paid just before the stop) are printed.
    let printed = qr_payloads(&std::fs::read(&receipts).unwrap());
    let ids: Vec<String> = sales.iter().map(|s| s.id.to_string()).collect();
    for p in &printed {
        assert!(ids.contains(p), "receipt of unknown sale {p}");
    }
    let mut unique = printed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), printed.len(), "a receipt printed twice: {printed:?}");
    assert!(printed.len() + 1 >= sales.len(), "{} receipts for {} sales", printed.len(), sales.len());
    // The shelf node's readings became shelf events: bottles taken off the stocked shelf (24), so
    // some pick left between 1 and 23 on it.
    let events = store.outbox_batch(0, 100_000).unwrap();
    let picked: Vec<i64> = events
        .iter()
        .filter(|e| e.event_type == "storehub.shelf.picked")
        .map(|e| e.data().unwrap()["on_shelf"].as_i64().unwrap())
        .collect();
    assert!(picked.iter().any(|n| (1..=23).contains(n)), "no bottle taken off the stocked shelf; picks left {picked:?}");
    let report = storehub::verify::verify(&store).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
}

#[test]
fn without_a_shopper_the_demo_keeps_its_simulated_devices_attached() {
    // `--shopper-every 0` turns the scripted shopper off, not the devices: a person at the demo
    // still has a scanner, a scale, a shelf and a printer (they were dropped with the shopper
    // once, and the hub saw every device unplugged).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let _demo = start_demo(&dir);
    let started = Instant::now();
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_storehub")).args(["--data-dir", dir.to_str().unwrap(), "devices", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let health: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let all_connected = health.as_array().is_some_and(|h| h.len() == 5 && h.iter().all(|d| d["connected"] == true));
        // Connected for 3 s running, so a device that attaches and then goes away is caught.
        if all_connected && started.elapsed() >= Duration::from_secs(3) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "devices not all attached after 30 s: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
