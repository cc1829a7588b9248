//! What the relay knows about the link to HQ, shared with the control socket (`storehub cloud
//! status`, `storehub status`) and, later, the dashboard. The relay writes it; readers take a
//! snapshot.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The link to HQ as last seen by the relay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CloudState {
    /// False when `[mqtt].enabled` is off: events wait in the outbox.
    pub enabled: bool,
    /// The broker URL (no credentials).
    pub broker: Option<String>,
    pub client_id: Option<String>,
    pub connected: bool,
    /// When the link last came up or went down.
    pub since: Option<DateTime<Utc>>,
    /// The last connection error, for the technician.
    pub last_error: Option<String>,
    /// Connections made since start (the first one included).
    pub connects: u64,
    /// Outbox events handed to the broker since start (retries after a reconnect count again).
    pub published: u64,
    /// Outbox events the broker acknowledged (PUBACK) and the relay deleted.
    pub acknowledged: u64,
    /// Published and not yet acknowledged.
    pub in_flight: u64,
    /// Events waiting in the outbox, and the age of the oldest, as of the last check.
    pub outbox_depth: u64,
    pub outbox_bytes: u64,
    pub oldest_age_s: Option<i64>,
    /// The outbox disk budget and what it cost: telemetry-class events dropped, and the alarm
    /// raised when business events alone exceed it (the hub keeps selling).
    pub budget_bytes: u64,
    pub dropped_telemetry: u64,
    pub alarm: Option<String>,
    /// HQ commands: received, applied, refused, duplicates (already applied), held for later.
    pub commands_received: u64,
    pub commands_applied: u64,
    pub commands_refused: u64,
    pub commands_duplicate: u64,
    pub commands_held: u64,
    pub telemetry_sent: u64,
}

/// The shared, lock-protected [`CloudState`].
#[derive(Debug, Default)]
pub struct CloudStatus {
    state: Mutex<CloudState>,
}

impl CloudStatus {
    pub fn new(initial: CloudState) -> CloudStatus {
        CloudStatus { state: Mutex::new(initial) }
    }

    /// Changes the state under the lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut CloudState) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> CloudState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
