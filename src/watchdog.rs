//! The systemd watchdog keep-alive: `WATCHDOG=1` goes to systemd only while the hub is healthy,
//! so a hub that is hung or can no longer write a sale is killed and restarted by systemd
//! (`WatchdogSec=` in systemd/storehub.service) instead of sitting there looking alive.
//!
//! Each round [`probe`] runs on the blocking pool and must finish within a bound; [`verdict`]
//! (pure) turns what it saw into feed or withhold. Healthy here is narrower than `/healthz`: the
//! store answers a read, the last write did not fail, and the commit path is free. A nearly full
//! disk or an outbox over budget make `/healthz` say 503 but keep the watchdog fed: a restart
//! cannot fix them, and the box keeps selling meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::{CommitError, Store, TxError};

/// What one health probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The database id read back from the meta tree, or why that read failed.
    pub store_read: Result<(), String>,
    /// [`Store::write_failure`]: why the store cannot be trusted to write now.
    pub write_failure: Option<String>,
    /// The commit path: a commit that its own change refuses took the commit lock (so no commit
    /// is stuck holding it) and wrote nothing; or why it failed.
    pub commit_path: Result<(), String>,
}

/// What the watchdog round does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send `WATCHDOG=1`.
    Feed,
    /// Send nothing (and say why in `STATUS=`): systemd kills and restarts the hub when this
    /// lasts `WatchdogSec=`.
    Withhold(String),
}

/// The probe's outcome, `None` when it did not finish within `bound` (the store or the blocking
/// pool is stuck), taken to a verdict. The first problem found is the reason given.
pub fn verdict(probe: Option<&Probe>, bound: Duration) -> Verdict {
    let Some(p) = probe else {
        return Verdict::Withhold(format!("the health probe did not finish within {} ms: the store or the runtime is stuck", bound.as_millis()));
    };
    if let Err(e) = &p.store_read {
        return Verdict::Withhold(format!("the database does not answer a read: {e}"));
    }
    if let Some(e) = &p.write_failure {
        return Verdict::Withhold(format!("the database refuses writes: {e}"));
    }
    if let Err(e) = &p.commit_path {
        return Verdict::Withhold(format!("the commit path failed: {e}"));
    }
    Verdict::Feed
}

/// Marker for the probe's refused commit.
#[derive(Debug)]
struct ProbeOnly;

/// Runs the checks against the store. Blocking: one point read and one commit that takes the
/// commit lock and writes nothing (no disk I/O).
pub fn probe(store: &Store) -> Probe {
    let store_read = store.database_id().map(|_| ()).map_err(|e| e.to_string());
    let write_failure = store.write_failure();
    // Refused by its own change: nothing is journaled, and a refused commit leaves the store's
    // record of the last failed write as it was (an empty commit that succeeded would clear it).
    let commit_path = match store.commit(|_tx| Err::<(), _>(TxError::Rejected(ProbeOnly))) {
        Err(CommitError::Rejected(ProbeOnly)) => Ok(()),
        Err(CommitError::Store(e)) => Err(e.to_string()),
        Ok(()) => Ok(()),
    };
    Probe { store_read, write_failure, commit_path }
}

/// The bound a probe must finish within when keep-alives go every `every`: half the period,
/// at least 50 ms, so that a slow probe still leaves the round time to send.
pub fn probe_bound(every: Duration) -> Duration {
    (every / 2).max(Duration::from_millis(50))
}

/// How often to send `WATCHDOG=1`: half of systemd's `WATCHDOG_USEC`, at least 100 ms; `None`
/// when the watchdog is off or meant for another process (`WATCHDOG_PID` names someone else).
/// Reads this process's environment; [`interval`] is the decision.
pub fn interval_from_env() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// [`interval_from_env`] without the environment: `usec` and `pid` as systemd set them, `me`
/// this process's id. A value that does not parse turns the keep-alive off rather than guessing.
pub fn interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    let usec: u64 = usec?.parse().ok()?;
    if let Some(pid) = pid {
        if pid.parse::<u32>().ok()? != me {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}

/// Every `every`: probe the store within [`probe_bound`] and send `WATCHDOG=1` through
/// `notify` only when [`verdict`] says feed. A change between healthy and not is logged once and
/// put in `STATUS=` (shown by `systemctl status storehub`). Runs until aborted.
pub async fn keep_alive(store: Arc<Store>, every: Duration, notify: impl Fn(&str)) {
    let bound = probe_bound(every);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut withholding: Option<String> = None;
    loop {
        tick.tick().await;
        let s = Arc::clone(&store);
        let started = Instant::now();
        let seen = match tokio::time::timeout(bound, tokio::task::spawn_blocking(move || probe(&s))).await {
            Ok(Ok(p)) => Some(p),
            // The probe task panicked: not healthy either.
            Ok(Err(e)) => Some(Probe { store_read: Err(format!("the probe task failed: {e}")), write_failure: None, commit_path: Ok(()) }),
            Err(_) => None,
        };
        match verdict(seen.as_ref(), bound) {
            Verdict::Feed => {
                if withholding.take().is_some() {
                    tracing::warn!("healthy again; systemd watchdog keep-alives resume");
                    notify("STATUS=serving");
                }
                notify("WATCHDOG=1");
            }
            Verdict::Withhold(reason) => {
                if withholding.as_deref() != Some(reason.as_str()) {
                    tracing::error!(reason = %reason, took_ms = started.elapsed().as_millis() as u64, "unhealthy: systemd watchdog keep-alives withheld (systemd restarts storehub when this lasts WatchdogSec)");
                    notify(&format!("STATUS=unhealthy: {reason}"));
                    withholding = Some(reason);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Probe {
        Probe { store_read: Ok(()), write_failure: None, commit_path: Ok(()) }
    }

    #[test]
    fn keep_alives_go_at_half_the_watchdog_period_and_only_to_the_named_process() {
        // WatchdogSec=30 → WATCHDOG_USEC=30000000 → every 15 s.
        assert_eq!(interval(Some("30000000"), None, 7), Some(Duration::from_secs(15)));
        assert_eq!(interval(Some("30000000"), Some("7"), 7), Some(Duration::from_secs(15)));
        assert_eq!(interval(Some("30000000"), Some("8"), 7), None);
        // 100 µs would be a busy loop: never faster than every 100 ms.
        assert_eq!(interval(Some("100"), None, 7), Some(Duration::from_millis(100)));
        assert_eq!(interval(None, None, 7), None);
        assert_eq!(interval(Some("30 s"), None, 7), None);
        assert_eq!(interval(Some("30000000"), Some("x"), 7), None);
    }

    #[test]
    fn a_healthy_probe_feeds_the_watchdog() {
        assert_eq!(verdict(Some(&healthy()), Duration::from_secs(5)), Verdict::Feed);
    }

    #[test]
    fn a_probe_that_did_not_finish_withholds_and_names_the_bound() {
        // WatchdogSec=30 → keep-alive every 15 s → bound 7.5 s = 7500 ms.
        let bound = probe_bound(Duration::from_secs(15));
        assert_eq!(bound, Duration::from_millis(7_500));
        assert_eq!(
            verdict(None, bound),
            Verdict::Withhold("the health probe did not finish within 7500 ms: the store or the runtime is stuck".into())
        );
    }

    #[test]
    fn a_failed_write_withholds_with_the_stores_reason() {
        let p = Probe { write_failure: Some("the commit at 2026-11-26T08:00:00Z failed: No space left on device".into()), ..healthy() };
        assert_eq!(
            verdict(Some(&p), Duration::from_secs(5)),
            Verdict::Withhold("the database refuses writes: the commit at 2026-11-26T08:00:00Z failed: No space left on device".into())
        );
    }

    #[test]
    fn the_first_problem_in_check_order_is_the_reason() {
        let p = Probe { store_read: Err("io error".into()), write_failure: Some("x".into()), commit_path: Err("y".into()) };
        assert_eq!(verdict(Some(&p), Duration::from_secs(5)), Verdict::Withhold("the database does not answer a read: io error".into()));
        let p = Probe { commit_path: Err("sync failed".into()), ..healthy() };
        assert_eq!(verdict(Some(&p), Duration::from_secs(5)), Verdict::Withhold("the commit path failed: sync failed".into()));
    }

    #[test]
    fn the_bound_never_drops_below_50_ms() {
        // WATCHDOG_USEC=100000 → every 50 ms (the daemon's floor is 100 ms) → half is 25 ms → 50.
        assert_eq!(probe_bound(Duration::from_millis(50)), Duration::from_millis(50));
        assert_eq!(probe_bound(Duration::from_secs(1)), Duration::from_millis(500));
    }

    #[test]
    fn a_fresh_store_probes_healthy_and_the_probe_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = crate::clock::ManualClock::new(chrono::DateTime::from_timestamp(1_764_144_000, 0).expect("time"));
        let store = crate::store::open_for_tests(dir.path(), &clock);
        let before = store.outbox_usage();
        assert_eq!(probe(&store), healthy());
        assert_eq!(store.outbox_usage(), before);
        assert_eq!(store.write_failure(), None);
    }
}
