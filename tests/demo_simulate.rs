//! `storehub demo --simulate-sales RATE`: simulated shoppers sell through the real checkout while
//! the daemon runs; SIGTERM stops them between two sales and the store is whole afterwards.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_demo, stop_demo_and_open};

#[test]
fn simulated_shoppers_sell_until_sigterm_and_leave_a_whole_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let child = spawn_demo(&dir, &["--simulate-sales", "40"]);
    // Let it sell for a while once the daemon is up.
    let started = Instant::now();
    while !dir.join("control.sock").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the demo did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(4));
    // SIGTERM, as systemd stops it.
    let store = stop_demo_and_open(child, &dir);
    let sales = storehub::checkout::sale::all_sales(&store).unwrap();
    assert!(sales.len() >= 20, "only {} sales in 4 s at 40/s", sales.len());
    assert!(sales.iter().any(|s| s.member_id.is_some()), "some shoppers are members");
    assert!(sales.iter().any(|s| s.lines.iter().any(|l| matches!(l.qty, storehub::domain::pricing::Quantity::Grams(_)))), "some goods are weighed");
    assert!(sales.iter().any(|s| s.settlement.tenders.len() > 1), "some tenders are split");
    let report = storehub::verify::verify(&store).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
}
