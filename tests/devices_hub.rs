//! Devices in the hub: the supervisor attaches a scanner by its stable path, routes its codes to
//! the lane, and when the scanner is unplugged mid-session (its pseudo-terminal closed, the
//! by-id link gone) keeps retrying with backoff; when a scanner appears at the path again it is
//! attached and the lane's open cart is still there. A scale's settled weight prices a weighed
//! line; a moving one is refused.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use storehub::checkout::{CheckoutError, Lanes};
use storehub::clock::ManualClock;
use storehub::config::{Config, DeviceConfig};
use storehub::devices::health::HealthBoard;
use storehub::devices::hub::DeviceHub;
use storehub::devices::sim::{ScriptedScanner, ToledoScale};
use storehub::domain::pricing::Quantity;
use storehub::store::Durability;

use common::*;

const WATER: &str = "6907674936533";

fn devices(dir: &std::path::Path) -> Vec<DeviceConfig> {
    let text = format!(
        r#"
[store]
chain_id = "c"
store_id = "s"
hub_id = "h"
name = "测试店"
[data]
dir = "{dir}"
[[lanes]]
id = "lane-1"
name = "1号收银台"
[[devices]]
id = "scanner-1"
kind = "scanner"
transport = "serial"
path = "{dir}/scanner-1"
lane = "lane-1"
[[devices]]
id = "scale-1"
kind = "scale"
transport = "serial"
protocol = "toledo-8217"
path = "{dir}/scale-1"
lane = "lane-1"
[devices.scale]
poll_ms = 50
"#,
        dir = dir.display()
    );
    Config::from_str(&text, "hub-test.toml").unwrap().devices
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_unplugged_scanner_is_reattached_and_the_cart_survives() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    load(&store, &[water(), cestbon(), bananas()]);
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    let devs = dir.path().join("dev");
    let cfg = devices(&devs);
    let health = Arc::new(HealthBoard::new());
    let scanner = ScriptedScanner::create(&devs.join("scanner-1")).unwrap();
    let hub = DeviceHub::start(
        &cfg[..1],
        storehub::devices::drive::drive,
        Arc::clone(&health),
        Arc::new(clock.clone()),
        Arc::clone(&store),
        Some(Arc::clone(&lanes)),
        Arc::new(|_| {}),
        Box::new(|_| {}),
    );
    wait_until("the scanner attaches", Duration::from_secs(10), || health.get("scanner-1").unwrap().connected);
    scanner.scan(WATER).unwrap();
    wait_until("the first scan reaches the cart", Duration::from_secs(5), || lanes.cart("lane-1").unwrap().lines.len() == 1);

    // Unplug: the pseudo-terminal closes and its link disappears.
    drop(scanner);
    std::fs::remove_file(devs.join("scanner-1")).unwrap();
    wait_until("the hub notices", Duration::from_secs(5), || !health.get("scanner-1").unwrap().connected);
    std::thread::sleep(Duration::from_millis(700)); // a few failed attempts at the vanished path
    let h = health.get("scanner-1").unwrap();
    assert_eq!(h.status.as_deref(), Some("absent"), "{h:?}");
    assert!(h.errors.get("open").copied().unwrap_or(0) >= 1, "{h:?}");

    // Replug (a new pty behind the same stable path): attached again, scans resume, same cart.
    let scanner = ScriptedScanner::create(&devs.join("scanner-1")).unwrap();
    wait_until("the scanner is attached again", Duration::from_secs(10), || health.get("scanner-1").unwrap().connected);
    scanner.scan(WATER).unwrap();
    wait_until("the second scan merges into the line", Duration::from_secs(5), || {
        lanes.cart("lane-1").unwrap().lines.first().map(|l| l.qty) == Some(Quantity::Units(2))
    });
    let h = health.get("scanner-1").unwrap();
    assert_eq!(h.reconnects, 1, "{h:?}");
    assert_eq!(h.events, 2, "{h:?}");
    assert_eq!(h.status, None);
    hub.stop();
}

#[test]
fn the_lane_prices_a_settled_weight_and_refuses_a_moving_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_store(dir.path(), &ManualClock::new(opening_time()), Durability::Durable));
    load(&store, &[water(), bananas()]);
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    let devs = dir.path().join("dev");
    let cfg = devices(&devs);
    let health = Arc::new(HealthBoard::new());
    let scale = ToledoScale::start(&devs.join("scale-1")).unwrap();
    let hub = DeviceHub::start(
        &cfg[1..],
        storehub::devices::drive::drive,
        Arc::clone(&health),
        store.clock().clone(),
        Arc::clone(&store),
        Some(Arc::clone(&lanes)),
        Arc::new(|_| {}),
        Box::new(|_| {}),
    );
    let bananas = bananas().sku;
    scale.put(1_250);
    scale.moving(true);
    wait_until("the scale answers", Duration::from_secs(10), || health.get("scale-1").unwrap().events > 0);
    std::thread::sleep(Duration::from_millis(200));
    assert!(matches!(lanes.add_weighed("lane-1", &bananas), Err(CheckoutError::UnstableWeight | CheckoutError::NoWeight)));
    scale.moving(false);
    let mut added = None;
    wait_until("the settled weight is taken", Duration::from_secs(5), || match lanes.add_weighed("lane-1", &bananas) {
        Ok(line) => {
            added = Some(line);
            true
        }
        Err(_) => false,
    });
    assert_eq!(added.unwrap().qty, Quantity::Grams(1_250));
    hub.stop();
}
