//! The disk guard: samples the free space of the data dir's filesystem every `[disk].check_s`
//! seconds, sets the store's level (`domain::disk` decides; while not ok the store keeps
//! telemetry-class events out of the outbox and the daemon skips snapshots), logs the change,
//! and tells HQ with a business-class event (`storehub.system.disk_low` / `disk_ok`, never
//! dropped by the outbox budget). The staff pages show the alarm (`web::page`), `/healthz` and
//! `/metrics` the free bytes. Sales are never refused here.

use std::sync::Arc;
use std::time::Duration;

use crate::config::DiskConfig;
use crate::domain::disk::{self, DiskLevel, DiskThresholds};
use crate::store::Store;

/// Sent when the level falls (to low, or from low to critical).
pub const EVENT_DISK_LOW: &str = "storehub.system.disk_low";
/// Sent when the level is back to ok.
pub const EVENT_DISK_OK: &str = "storehub.system.disk_ok";

#[derive(Debug, Clone, serde::Serialize)]
struct DiskEvent {
    level: DiskLevel,
    free_bytes: u64,
    low_free_bytes: u64,
    critical_free_bytes: u64,
    message: Option<String>,
}

/// Free bytes on the data dir's filesystem (None when statvfs fails).
pub fn free_bytes(store: &Store) -> Option<u64> {
    crate::cloud::telemetry::disk_space(store.path()).map(|(free, _)| free)
}

/// One sample: sets the store's level and, when it differs from `announced` (what HQ was last
/// told), commits the event. Returns the level HQ now knows (unchanged when the event's commit
/// failed: it is tried again at the next sample).
pub fn check(store: &Store, t: &DiskThresholds, announced: DiskLevel) -> DiskLevel {
    let Some(free) = free_bytes(store) else { return announced };
    let level = disk::level(free, t, store.disk_level());
    if level != store.disk_level() {
        match disk::alarm_text(level, free) {
            Some((_, en)) => tracing::warn!(free_bytes = free, ?level, "{en}"),
            None => tracing::info!(free_bytes = free, "disk space is back: telemetry and snapshots resume"),
        }
    }
    store.set_disk_level(level);
    if level == announced {
        return announced;
    }
    let event = DiskEvent {
        level,
        free_bytes: free,
        low_free_bytes: t.low_bytes,
        critical_free_bytes: t.critical_bytes,
        message: disk::alarm_text(level, free).map(|(_, en)| en),
    };
    let kind = if level == DiskLevel::Ok { EVENT_DISK_OK } else { EVENT_DISK_LOW };
    match store.commit(|tx| tx.emit::<std::convert::Infallible>(kind, None, &event)) {
        Ok(_) => level,
        Err(e) => {
            tracing::error!(error = %e, "the disk alarm for HQ could not be recorded; trying again");
            announced
        }
    }
}

/// Runs [`check`] every `[disk].check_s` on its own thread for the life of the process.
pub fn spawn(store: Arc<Store>, cfg: DiskConfig) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("disk-guard".into()).spawn(move || {
        let t = cfg.thresholds();
        let mut announced = DiskLevel::Ok;
        loop {
            announced = check(&store, &t, announced);
            std::thread::sleep(Duration::from_secs(cfg.check_s));
        }
    })
}
