//! The clock's sanity as the store sees it (`domain::clock_sanity` decides; this reads and
//! writes): the high-water mark (the newest sane time recorded, `meta` `clock_high_water`), the
//! last verdict (`meta` `clock_state`), and the events HQ gets when the verdict changes
//! (`storehub.system.clock_insane` / `storehub.system.clock_ok`, business class so the outbox
//! budget never drops them). Every sale's commit judges its own time here ([`verdict_tx`]), and
//! the daemon's date-driven jobs ask [`jobs_may_run`] before each run: a skipped run is not
//! lost, it runs at the next tick with a sane clock (each job catches up by date).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::clock_sanity::{self, ClockVerdict};
use crate::store::{Record, Store, StoreError, TreeId, Tx, TxError};

/// Sent when the verdict turns from sane to not sane (data: the verdict and its text).
pub const EVENT_CLOCK_INSANE: &str = "storehub.system.clock_insane";
/// Sent when a sane verdict follows an insane one.
pub const EVENT_CLOCK_OK: &str = "storehub.system.clock_ok";

const MARK_KEY: &[u8] = b"clock_high_water";
const STATE_KEY: &[u8] = b"clock_state";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct HighWater {
    at: DateTime<Utc>,
}

impl Record for HighWater {
    const NAME: &'static str = "clock high-water mark";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct LastVerdict {
    sane: bool,
}

impl Record for LastVerdict {
    const NAME: &'static str = "clock state";
}

/// Data of the two events.
#[derive(Debug, Clone, Serialize)]
struct ClockEvent {
    verdict: ClockVerdict,
    message: String,
}

/// Judges `tx.now()` inside a commit: raises the mark when sane (at most once a minute,
/// [`clock_sanity::MARK_STEP_S`], so most sales add no meta write), and records a change of
/// verdict with its event. The caller keeps the verdict (a sale stores whether its time was
/// trusted).
pub fn verdict_tx<E>(tx: &Tx) -> Result<ClockVerdict, TxError<E>> {
    let now = tx.now();
    let mark = tx.get::<HighWater, E>(TreeId::Meta, MARK_KEY)?.map(|m| m.at);
    let verdict = clock_sanity::judge(now, clock_sanity::floor(), mark);
    let next = clock_sanity::next_mark(&verdict, now, mark);
    if next != mark {
        if let Some(at) = next {
            tx.put(TreeId::Meta, MARK_KEY, &HighWater { at })?;
        }
    }
    let was_sane = tx.get::<LastVerdict, E>(TreeId::Meta, STATE_KEY)?.is_none_or(|v| v.sane);
    if was_sane != verdict.is_sane() {
        tx.put(TreeId::Meta, STATE_KEY, &LastVerdict { sane: verdict.is_sane() })?;
        let event = if verdict.is_sane() { EVENT_CLOCK_OK } else { EVENT_CLOCK_INSANE };
        tx.emit(event, None, &ClockEvent { verdict, message: verdict.describe() })?;
    }
    Ok(verdict)
}

/// [`verdict_tx`] in its own commit (the daemon's jobs, the health page).
pub fn observe(store: &Store) -> Result<ClockVerdict, StoreError> {
    store.commit(|tx| verdict_tx::<std::convert::Infallible>(tx)).map_err(|e| match e {
        crate::store::CommitError::Store(e) => e,
        crate::store::CommitError::Rejected(never) => match never {},
    })
}

/// The verdict without writing anything (for pages that only read).
pub fn peek(store: &Store) -> Result<ClockVerdict, StoreError> {
    let mark = store.get::<HighWater>(TreeId::Meta, MARK_KEY)?.map(|m| m.at);
    Ok(clock_sanity::judge(store.clock().now(), clock_sanity::floor(), mark))
}

/// Whether the date-driven job `job` may run now: observes the clock (see [`observe`]) and logs
/// why not. A store that cannot be written counts as "may run": the job's own commit will say
/// what is wrong.
pub fn jobs_may_run(store: &Store, job: &str) -> bool {
    match observe(store) {
        Ok(v) if v.is_sane() => true,
        Ok(v) => {
            tracing::warn!(job, "{}; the job waits", v.describe());
            false
        }
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot record the clock's high-water mark");
            true
        }
    }
}
