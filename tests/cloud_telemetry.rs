//! The telemetry message from a real store, a real device health board and this very process's
//! /proc figures: every field of the schema in docs/cloud.md is there, with the right numbers
//! where the test controls them, and no phone number leaves the hub.

mod common;

use chrono::Duration;
use storehub::cloud::telemetry::Sampler;
use storehub::cloud::CloudState;
use storehub::devices::health::{DeviceHealth, HealthBoard};
use storehub::domain::stock::MoveKind;

use common::*;

#[test]
fn a_sample_carries_every_figure_and_no_phone_number() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    apply(&shop.store, MoveKind::Receipt, "SKU-010001", 48);
    let started_at = opening_time();
    shop.clock.advance(Duration::seconds(3_600));
    let now = opening_time() + Duration::seconds(3_600);

    let board = HealthBoard::new();
    board.register(DeviceHealth::new("scanner-1", "scanner", "hid-pos", "hid", "usb:0c2e:0b61", Some("lane-1")));
    board.register(DeviceHealth::new("printer-1", "printer", "escpos", "usb-lp", "/dev/usb/lp0", Some("lane-1")));
    board.set_connected("scanner-1", true, started_at);
    for _ in 0..3 {
        board.event("scanner-1", now);
    }
    // A member's phone scanned into a garbage burst, and typed into a status by mistake.
    board.error("scanner-1", "garbage", "unexpected bytes after 13812345678", now);
    board.set_status("printer-1", Some("paper_out 13912345678"));

    let cloud = CloudState {
        enabled: true,
        broker: Some("mqtts://hq.example.cn:8883".into()),
        connected: true,
        since: Some(started_at),
        connects: 1,
        published: 120,
        acknowledged: 118,
        in_flight: 2,
        budget_bytes: 512 * 1_048_576,
        dropped_telemetry: 7,
        commands_received: 4,
        commands_applied: 3,
        commands_refused: 1,
        ..CloudState::default()
    };
    let mut sampler = Sampler::new();
    let t = sampler.sample(&shop.store, Some(&board), &cloud, started_at, now);

    assert_eq!(t["time"], "2026-11-25T10:00:00Z");
    assert_eq!(t["hub"], SOURCE);
    assert_eq!(t["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(t["uptime_s"], 3_600);
    let usage = shop.store.outbox_usage();
    assert_eq!(t["outbox"]["depth"], 2, "the catalog event and the receipt");
    assert_eq!(t["outbox"]["bytes"], usage.bytes);
    assert_eq!(t["outbox"]["oldest_age_s"], 3_600);
    assert_eq!(t["outbox"]["budget_bytes"], 536_870_912u64);
    assert_eq!(t["outbox"]["dropped_telemetry"], 7);
    assert_eq!(t["link"]["connected"], true);
    assert_eq!((t["link"]["published"].as_u64(), t["link"]["acknowledged"].as_u64(), t["link"]["in_flight"].as_u64()), (Some(120), Some(118), Some(2)));
    assert_eq!(t["link"]["commands"]["refused"], 1);
    assert_eq!(t["alarm"], serde_json::Value::Null);

    let devices = t["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), 2);
    let printer = &devices[0];
    assert_eq!((printer["id"].as_str(), printer["connected"].as_bool()), (Some("printer-1"), Some(false)));
    assert_eq!(printer["status"], "paper_out 139****5678");
    let scanner = &devices[1];
    assert_eq!((scanner["events"].as_u64(), scanner["errors"].as_u64()), (Some(3), Some(1)));
    assert!(scanner.get("last_error").is_none() && scanner.get("target").is_none(), "{scanner}");

    // This process's own figures: present (this is Linux) and plausible.
    let rss = t["memory"]["rss_bytes"].as_u64().expect("rss from /proc/self/statm");
    assert!(rss > 1_048_576, "rss {rss}");
    assert!(t["memory"]["system_available_bytes"].as_u64().expect("MemAvailable") > 0);
    let free = t["disk"]["data_dir_free_bytes"].as_u64().expect("statvfs free");
    let total = t["disk"]["data_dir_total_bytes"].as_u64().expect("statvfs total");
    assert!(free <= total && total > 0);
    assert!(t["cpu"]["load1_x100"].is_u64());
    // The first sample spreads the CPU used since start over the (manual clock's) hour.
    assert!(t["cpu"]["process_permille"].is_u64(), "{}", t["cpu"]);

    // The second one measures since the first: burn 200 ms of CPU, then sample.
    let spin = std::time::Instant::now();
    let mut x = 0u64;
    while spin.elapsed() < std::time::Duration::from_millis(200) {
        x = x.wrapping_add(std::hint::black_box(1));
    }
    std::hint::black_box(x);
    let t2 = sampler.sample(&shop.store, None, &cloud, started_at, now);
    let permille = t2["cpu"]["process_permille"].as_u64().expect("a rate since the last sample");
    // At least a tenth of a core even on a busy shared machine (alone, it reads about 1 000 ‰).
    assert!(permille >= 100, "a thread spinning for 200 ms reads {permille} ‰");
    assert_eq!(t2["devices"], serde_json::Value::Null, "no device board, no devices");

    // Nothing in the message looks like a phone number.
    let text = t.to_string();
    if std::env::var_os("SHOW_TELEMETRY").is_some() {
        eprintln!("{}", serde_json::to_string_pretty(&t).unwrap_or_default());
    }
    for phone in ["13812345678", "13912345678"] {
        assert!(!text.contains(phone), "{phone} in {text}");
    }
}
