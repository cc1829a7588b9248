//! The disk guard on a small filesystem (a 64 MiB tmpfs; root, as the suite runs): filled until
//! the guard trips, telemetry-class events stop being written, a sale still commits, the staff
//! pages show the alarm and HQ's outbox holds `storehub.system.disk_low`; space freed, the alarm
//! clears and `disk_ok` follows.

mod common;

use std::io::Write;

use common::web::{text, WebShop};
use common::{events_of_type, load, water};
use serde_json::json;
use storehub::disk_guard::{self, EVENT_DISK_LOW, EVENT_DISK_OK};
use storehub::domain::disk::{DiskLevel, DiskThresholds};

const MB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filling_disk_stops_telemetry_keeps_sales_and_raises_then_clears_the_alarm() {
    let outer = tempfile::tempdir().expect("temp dir");
    let mnt = outer.path().join("small-disk");
    let _tmpfs = common::Tmpfs::mount(&mnt, "64m");
    let shop = WebShop::start_in(tempfile::tempdir_in(&mnt).expect("data dir"), |_| {}).await;
    load(&shop.store, &[water()]);
    // Low below 30 MiB free, critical below 10 MiB.
    let t = DiskThresholds { low_bytes: 30 * MB, critical_bytes: 10 * MB };
    assert_eq!(disk_guard::check(&shop.store, &t, DiskLevel::Ok), DiskLevel::Ok);
    assert!(events_of_type(&shop.store, EVENT_DISK_LOW).is_empty());

    // Fill until 20 MiB are left: under 30, over 10: low.
    let (free, _) = storehub::cloud::telemetry::disk_space(&mnt).expect("statvfs");
    assert!(free > 34 * MB, "only {free} bytes free on a fresh 64 MiB tmpfs");
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..(free - 20 * MB) >> 20 {
            f.write_all(&chunk).expect("fill");
        }
    }
    let announced = disk_guard::check(&shop.store, &t, DiskLevel::Ok);
    assert_eq!((announced, shop.store.disk_level()), (DiskLevel::Low, DiskLevel::Low));
    let low = events_of_type(&shop.store, EVENT_DISK_LOW);
    assert_eq!(low.len(), 1);
    let data = low[0].data().unwrap();
    assert_eq!((data["level"].as_str(), data["low_free_bytes"].as_u64()), (Some("low"), Some(30 * MB)), "{data}");
    // The same level again: no second event.
    assert_eq!(disk_guard::check(&shop.store, &t, announced), DiskLevel::Low);
    assert_eq!(events_of_type(&shop.store, EVENT_DISK_LOW).len(), 1);

    // A shelf event (telemetry class) is not written; a business event in the same commit is.
    let depth = shop.store.outbox_usage().count;
    let seqs = shop
        .store
        .commit(|tx| -> Result<(u64, u64), storehub::store::TxError<()>> {
            Ok((tx.emit("storehub.shelf.low", Some("shelf-1"), &json!({"grams": 120}))?, tx.emit("storehub.test.business", None, &json!({}))?))
        })
        .unwrap();
    assert_eq!(seqs.0, 0, "the telemetry event was not given a sequence");
    assert!(seqs.1 > 0);
    assert_eq!(shop.store.outbox_usage().count, depth + 1);
    assert!(events_of_type(&shop.store, "storehub.shelf.low").is_empty());
    assert_eq!(shop.store.telemetry_skipped(), 1);

    // A sale still commits: two waters at ¥2.00 paid with ¥5.
    let paid = common::web::sell_two_waters(&shop).await;
    let sale_id = paid["sale_id"].as_u64().or_else(|| paid["id"].as_u64()).expect("sale id");
    assert_eq!(storehub::checkout::sale::sale(&shop.store, sale_id).unwrap().map(|s| s.priced.total_fen), Some(400));
    assert_eq!(shop.store.write_failure(), None);

    // The alarm on every staff page (the dashboard here), in the login's language.
    let manager = shop.login("manager1", None).await;
    let (s, page) = text(shop.get(&manager, "/dashboard").await).await;
    assert_eq!(s, 200);
    assert!(page.contains("role=\"alert\"") && (page.contains("磁盘空间不足") || page.contains("Disk almost full")), "no disk alarm on the dashboard");

    // Space freed: ok again, disk_ok for HQ, telemetry written again, no banner.
    std::fs::remove_file(&filler).expect("remove the filler");
    assert_eq!(disk_guard::check(&shop.store, &t, announced), DiskLevel::Ok);
    assert_eq!(events_of_type(&shop.store, EVENT_DISK_OK).len(), 1);
    let seq = shop.store.commit(|tx| tx.emit::<()>("storehub.shelf.low", Some("shelf-1"), &json!({"grams": 80}))).unwrap();
    assert!(seq > 0);
    let (_, page) = text(shop.get(&manager, "/dashboard").await).await;
    assert!(!page.contains("role=\"alert\""), "the alarm stayed after space was freed");
}

#[test]
fn the_running_hub_tells_hq_over_mqtt_when_its_disk_fills_and_when_space_is_back() {
    const ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";
    let outer = tempfile::tempdir().expect("temp dir");
    let mnt = outer.path().join("small-disk");
    let _tmpfs = common::Tmpfs::mount(&mnt, "64m");
    let broker = common::broker::Broker::start();
    let hq = common::broker::Hq::subscribe(broker.port, &format!("{ROOT}/#"));
    let mqtt = format!("enabled = true\nurl = \"{}\"\nreconnect_min_ms = 200\nreconnect_max_ms = 1000\nkeepalive_s = 5\n", broker.url());
    // The guard samples every second: low below 30 MiB, critical below 10 MiB.
    let cfg = common::hub::config(outer.path(), &mqtt, "\n[disk]\nlow_free_mb = 30\ncritical_free_mb = 10\ncheck_s = 1\n");
    let _hub = common::hub::HubDaemon::start(&cfg, &mnt.join("hub"));
    let on = |suffix: &'static str| move |msgs: &[common::broker::Received]| msgs.iter().any(|m| m.topic.ends_with(suffix));
    hq.wait_until(std::time::Duration::from_secs(20), "the hub online", |msgs| msgs.iter().any(|m| m.topic.ends_with("/status") && m.payload == b"online"));
    assert!(hq.on("/evt/storehub.system.disk_low").is_empty());

    // Fill until 20 MiB are left.
    let (free, _) = storehub::cloud::telemetry::disk_space(&mnt).expect("statvfs");
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..free.saturating_sub(20 * MB) >> 20 {
            f.write_all(&chunk).expect("fill");
        }
    }
    hq.wait_until(std::time::Duration::from_secs(20), "disk_low on MQTT", on("/evt/storehub.system.disk_low"));
    let low = hq.on("/evt/storehub.system.disk_low")[0].json();
    assert_eq!(low["data"]["level"], "low", "{low}");
    assert!(low["data"]["message"].as_str().unwrap_or_default().contains("sales continue"), "{low}");

    std::fs::remove_file(&filler).expect("remove the filler");
    hq.wait_until(std::time::Duration::from_secs(20), "disk_ok on MQTT", on("/evt/storehub.system.disk_ok"));
    assert_eq!(hq.on("/evt/storehub.system.disk_ok")[0].json()["data"]["level"], "ok");
    assert_eq!(hq.on("/evt/storehub.system.disk_low").len(), 1, "one alarm, not one per sample");
}
