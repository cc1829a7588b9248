//! Devices: the store's barcode scanners, scales, receipt printers, customer displays and shelf
//! sensors, owned by the hub.
//!
//! Three layers, so each can be tested without the others:
//! - [`transport`] opens bytes: serial ports (`serialport`), raw TCP, `/dev/usb/lp*`, USB HID
//!   (`hidraw` / `hidapi`) and the box's GPIO (`rppal`, behind a trait). It knows nothing of
//!   protocols.
//! - Each family module (`scanner`, `scale`, `printer`, `display`, `shelf`) holds sans-I/O codecs
//!   (bytes in, typed readings out; commands in, bytes out) and a driver loop that runs one codec
//!   over one transport. A driver never knows which transport it is on where the protocol allows
//!   more than one: it gets a [`transport::Link`].
//! - [`health`] counts what each device did and what went wrong, for the dashboard, the
//!   telemetry and `storehub doctor`; bursts of bad bytes are logged once, not once per byte.
//!
//! Every buffer that holds device bytes is bounded: a device cannot make the hub allocate
//! without limit, and garbage is counted and dropped, never a panic.

pub mod discover;
pub mod display;
pub mod doctor;
pub mod drive;
pub mod health;
pub mod hub;
pub mod manager;
pub mod printer;
pub mod scale;
pub mod scanner;
pub mod shelf;
pub mod sim;
pub mod transport;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One barcode read by a scanner, as the lanes receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanEvent {
    /// The configured device id (`[[devices]].id`), or the port path for `storehub doctor scan`.
    pub device: String,
    /// The lane the scanner serves, if configured.
    pub lane: Option<String>,
    /// The decoded code, without prefix, suffix or AIM symbology identifier.
    pub code: String,
    /// The AIM symbology identifier (`]E0` EAN-13, `]C1` GS1-128, `]Q1` QR …) when the scanner
    /// sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbology: Option<String>,
    pub at: DateTime<Utc>,
}

/// What a scale reports about its reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightState {
    /// A weight (stable or not; see [`WeightReading::stable`]).
    Ok,
    /// The load is moving; `grams` is the momentary value when the scale gave one, else 0.
    Motion,
    /// Over capacity.
    Overload,
    /// Below zero (e.g. the pan was lifted after taring).
    UnderZero,
    /// The scale reported an error (needs calibration, re-zeroing, a fault).
    Error,
}

impl WeightState {
    pub fn as_str(self) -> &'static str {
        match self {
            WeightState::Ok => "ok",
            WeightState::Motion => "motion",
            WeightState::Overload => "overload",
            WeightState::UnderZero => "under_zero",
            WeightState::Error => "error",
        }
    }
}

/// One reading from a scale, in integer grams. The checkout only accepts a reading that is
/// `stable` with state `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightReading {
    pub grams: i64,
    pub stable: bool,
    pub state: WeightState,
}

impl WeightReading {
    /// A settled, in-range weight: the only kind a sale may use.
    pub fn is_settled(&self) -> bool {
        self.stable && self.state == WeightState::Ok
    }
}

/// What drivers hand to the hub. The device manager routes scans and scale readings to the
/// device's lane and shelf readings to the shelf tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeviceEvent {
    Scan(ScanEvent),
    Weight { device: String, lane: Option<String>, reading: WeightReading, at: DateTime<Utc> },
    /// One load-cell channel of a shelf sensor (a storehub node or an HX711), in grams.
    ShelfWeight { device: String, channel: u8, grams: i64, stable: bool, at: DateTime<Utc> },
    /// A beam-break or door input changed (after debouncing): `active` is beam broken / door open.
    Beam { device: String, pin: u8, active: bool, at: DateTime<Utc> },
}

/// Everything a driver loop may use besides its transport.
pub struct DriverCtx<'a> {
    /// The device as configured (id, lane, per-kind settings).
    pub device: &'a crate::config::DeviceConfig,
    pub health: &'a health::HealthBoard,
    pub clock: &'a dyn crate::clock::Clock,
    /// Set when the hub stops or the device is detached: the loop returns promptly (within one
    /// read timeout).
    pub stop: &'a std::sync::atomic::AtomicBool,
    /// Where readings go. Must not block for long (it feeds bounded queues).
    pub emit: &'a (dyn Fn(DeviceEvent) + Sync),
    /// The store, for drivers that keep durable state (the printer's job queue).
    pub store: Option<&'a std::sync::Arc<crate::store::Store>>,
}

impl DriverCtx<'_> {
    pub fn id(&self) -> &str {
        self.device.id.as_str()
    }

    pub fn lane(&self) -> Option<String> {
        self.device.lane.as_ref().map(|l| l.as_str().to_string())
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts an input error in health and logs it when it starts a burst.
    pub fn input_error(&self, kind: &str, detail: &str) {
        if self.health.error(self.id(), kind, detail, self.clock.now()) {
            tracing::warn!(device = self.id(), kind, detail, "device input error (further ones in this burst are counted, not logged)");
        }
    }
}

/// Why a driver loop ended. The manager reconnects after either, with backoff, unless stopping.
#[derive(Debug, thiserror::Error)]
pub enum DriverExit {
    #[error("the device went away")]
    Closed,
    #[error("stopped")]
    Stopped,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}
