//! The hub's link to HQ over MQTT (rumqttc, MQTT 3.1.1): the relay that drains the outbox in
//! sequence order and deletes an event only after the broker acknowledged it (PUBACK), the
//! session (persistent, birth and last will on the retained `status` topic, reconnect with
//! backoff and jitter, TLS), telemetry, the outbox's disk budget, and the commands HQ sends down.
//!
//! HQ is any MQTT broker; nothing here pretends to be one. Topics are built in [`topics`]; the
//! event format is the outbox's CloudEvents JSON (`store::outbox`). The async part is the relay
//! task ([`relay`]); everything it decides with (backoff, budgets, command checks, telemetry
//! figures) is plain code in the other modules, tested on its own.

pub mod backlog;
pub mod commands;
pub mod relay;
pub mod status;
pub mod telemetry;
pub mod tls;
pub mod topics;

pub use status::{CloudState, CloudStatus};
pub use topics::Topics;

/// Settings HQ may change while the hub runs (`config.patch`), read by the relay on every use.
#[derive(Debug)]
pub struct LiveSettings {
    /// Seconds between telemetry messages (0 = none).
    pub telemetry_interval_s: std::sync::atomic::AtomicU32,
}

impl LiveSettings {
    pub fn from_config(cfg: &crate::config::Config) -> LiveSettings {
        LiveSettings { telemetry_interval_s: std::sync::atomic::AtomicU32::new(cfg.mqtt.telemetry_interval_s) }
    }
}
