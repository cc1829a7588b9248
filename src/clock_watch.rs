//! The clock's sanity as the store sees it (`domain::clock_sanity` decides; this reads and
//! writes): the high-water mark (the newest sane time recorded, `meta` `clock_high_water`), the
//! last verdict (`meta` `clock_state`), and the events HQ gets when the verdict changes
//! (`storehub.system.clock_insane` / `storehub.system.clock_ok`, business class so the outbox
//! budget never drops them). Every sale's commit judges its own time here ([`verdict_tx`]), and
//! the daemon's date-driven jobs ask [`jobs_may_run`] before each run: a skipped run is not
//! lost, it runs at the next tick with a sane clock (each job catches up by date). A mark that a
//! clock running ahead left in the future is lowered by a technician's [`reset_mark`].

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
    let mark = mark_tx(tx)?;
    let verdict = clock_sanity::judge(now, clock_sanity::floor(), mark);
    let next = clock_sanity::next_mark(&verdict, now, mark);
    if next != mark {
        if let Some(at) = next {
            tx.put(TreeId::Meta, MARK_KEY, &HighWater { at })?;
        }
    }
    record_verdict_tx(tx, verdict)?;
    Ok(verdict)
}

/// The high-water mark as this commit sees it.
fn mark_tx<E>(tx: &Tx) -> Result<Option<DateTime<Utc>>, TxError<E>> {
    Ok(tx.get::<HighWater, E>(TreeId::Meta, MARK_KEY)?.map(|m| m.at))
}

/// Records `verdict` as the last one, with its event for HQ, when it differs from the last.
fn record_verdict_tx<E>(tx: &Tx, verdict: ClockVerdict) -> Result<(), TxError<E>> {
    let was_sane = tx.get::<LastVerdict, E>(TreeId::Meta, STATE_KEY)?.is_none_or(|v| v.sane);
    if was_sane != verdict.is_sane() {
        tx.put(TreeId::Meta, STATE_KEY, &LastVerdict { sane: verdict.is_sane() })?;
        let event = if verdict.is_sane() { EVENT_CLOCK_OK } else { EVENT_CLOCK_INSANE };
        tx.emit(event, None, &ClockEvent { verdict, message: verdict.describe() })?;
    }
    Ok(())
}

/// [`verdict_tx`] in its own commit (the daemon's jobs, the health page).
pub fn observe(store: &Store) -> Result<ClockVerdict, StoreError> {
    store.commit(verdict_tx::<std::convert::Infallible>).map_err(|e| match e {
        crate::store::CommitError::Store(e) => e,
        crate::store::CommitError::Rejected(never) => match never {},
    })
}

/// The verdict without writing anything (for pages that only read).
pub fn peek(store: &Store) -> Result<ClockVerdict, StoreError> {
    status(store).map(|s| s.verdict)
}

/// The clock as the store judges it now, for `storehub clock status`, the system page and
/// `GET /api/v1/system/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClockStatus {
    /// The wall clock's reading.
    pub now: DateTime<Utc>,
    /// The high-water mark: the newest sane time recorded (none on a new database).
    pub mark: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub verdict: ClockVerdict,
    /// The verdict in one line, with what to do.
    pub message: String,
}

/// [`ClockStatus`] without writing anything.
pub fn status(store: &Store) -> Result<ClockStatus, StoreError> {
    let mark = store.get::<HighWater>(TreeId::Meta, MARK_KEY)?.map(|m| m.at);
    let now = store.clock().now();
    let verdict = clock_sanity::judge(now, clock_sanity::floor(), mark);
    Ok(ClockStatus { now, mark, verdict, message: verdict.describe() })
}

/// What a reset of the mark did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MarkReset {
    /// The mark before (the time the clock had run ahead to).
    pub old_mark: DateTime<Utc>,
    /// The mark after: the clock's reading at the reset.
    pub new_mark: DateTime<Utc>,
    /// The audit entry that records it.
    pub audit_id: u64,
}

/// Lowers the high-water mark to "now" for `actor` (a staff id, or `cli`), when the clock is set
/// but behind the mark ([`clock_sanity::reset_mark`] decides). One commit: the mark, the sane
/// verdict with its `storehub.system.clock_ok` event, and the `clock_mark_reset` audit entry.
pub fn reset_mark(store: &Store, actor: &str) -> Result<MarkReset, crate::store::CommitError<clock_sanity::ResetRefused>> {
    store.commit(|tx| {
        let now = tx.now();
        let mark = mark_tx(tx)?;
        let verdict = clock_sanity::judge(now, clock_sanity::floor(), mark);
        let new_mark = clock_sanity::reset_mark(&verdict, now).map_err(TxError::Rejected)?;
        // A stepped-back verdict always has a mark.
        let old_mark = mark.unwrap_or(new_mark);
        tx.put(TreeId::Meta, MARK_KEY, &HighWater { at: new_mark })?;
        record_verdict_tx(tx, ClockVerdict::Sane)?;
        let detail = format!("high-water mark {} lowered to {}", old_mark.to_rfc3339(), new_mark.to_rfc3339());
        let audit_id = crate::audit::record_tx(tx, actor, crate::audit::AuditAction::ClockMarkReset, None, &detail)?;
        Ok(MarkReset { old_mark, new_mark, audit_id })
    })
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
