//! `storehub demo --simulate-sales RATE`: simulated shoppers sell through the real checkout while
//! the daemon runs; SIGTERM stops them between two sales and the store is whole afterwards.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storehub::store::{Durability, Store, StoreOptions};

#[test]
fn simulated_shoppers_sell_until_sigterm_and_leave_a_whole_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let child = Command::new(env!("CARGO_BIN_EXE_storehub"))
        .args(["--data-dir", dir.to_str().unwrap(), "demo", "--simulate-sales", "40"])
        .env("STOREHUB_LOG", "warn")
        .env_remove("STOREHUB_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    // Let it sell for a while once the daemon is up.
    let started = Instant::now();
    while !dir.join("control.sock").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "the demo did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(4));
    // SIGTERM, as systemd stops it.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the demo must stop cleanly: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));

    let store = Store::open(StoreOptions { path: dir.clone(), durability: Durability::Durable, relaxed_flush_ms: 200, source: None, clock: storehub::clock::system() }).unwrap();
    let sales = storehub::checkout::sale::all_sales(&store).unwrap();
    assert!(sales.len() >= 20, "only {} sales in 4 s at 40/s", sales.len());
    assert!(sales.iter().any(|s| s.member_id.is_some()), "some shoppers are members");
    assert!(sales.iter().any(|s| s.lines.iter().any(|l| matches!(l.qty, storehub::domain::pricing::Quantity::Grams(_)))), "some goods are weighed");
    assert!(sales.iter().any(|s| s.settlement.tenders.len() > 1), "some tenders are split");
    let report = storehub::verify::verify(&store).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
}
