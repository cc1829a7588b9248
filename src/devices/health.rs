//! Per-device health: connected or not, since when, the last event, counts of events, errors by
//! kind and reconnects, and the model / firmware when a device tells. One [`HealthBoard`] is
//! shared by every driver; the control API, the dashboard, the telemetry and `storehub doctor`
//! read [`HealthBoard::snapshot`].
//!
//! Errors from device input come in bursts (a noisy cable, a scale streaming garbage at 9600
//! baud): [`HealthBoard::error`] counts every one but says "log this" only for the first of a
//! burst, and the end of a burst is logged with how many were swallowed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::DeviceConfig;

/// A quiet gap this long ends a burst of errors of one kind.
pub const BURST_GAP: Duration = Duration::from_secs(10);

/// What the hub knows of one device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct DeviceHealth {
    pub id: String,
    pub kind: String,
    pub protocol: String,
    pub transport: String,
    /// Path, `usb:VID:PID`, `host:port`, pins or `node <id>` (a shelf node found by its id), as
    /// configured.
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    pub connected: bool,
    /// When `connected` last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_at: Option<DateTime<Utc>>,
    pub events: u64,
    /// Error counts by kind (`garbage`, `crc`, `overlong`, `timeout`, `device_error`, `io`, …).
    pub errors: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<DateTime<Utc>>,
    pub reconnects: u64,
    /// A device-specific condition the staff should see (`paper_out`, `cover_open`,
    /// `no_answer`…); `None` when all is well.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Printers, as reported by `storehub devices`: jobs waiting in the print queue.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "queued_jobs", default)]
    pub print_queue: Option<u64>,
    /// Shelf nodes: each load-cell channel the node reported on, in channel order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<ChannelHealth>,
}

/// One load-cell channel of a shelf node: the node's own health report (`ChannelHealth` on the
/// wire) and its last reading.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct ChannelHealth {
    pub channel: u8,
    /// The product weighed on it (`[[devices.shelf.channels]]`), when mapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// `ok`, `no_data` or `saturated` as the node last said; `unknown` before it said.
    pub state: String,
    /// The node holds a calibration for this channel (`None`: not said yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibrated: Option<bool>,
    /// Samples the HX711 did not deliver in time, and samples at the converter's rail, since the
    /// node booted (the node's counters wrap at 65 536).
    pub timeouts: u16,
    pub saturated: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grams: Option<i64>,
    /// The filtered HX711 count the grams came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
}

/// `print_queue` arrives as `{"queued": n, …}` from the daemon.
fn queued_jobs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.and_then(|v| v.get("queued").and_then(|q| q.as_u64()).or_else(|| v.as_u64())))
}

impl Default for DeviceHealth {
    fn default() -> Self {
        DeviceHealth::new("", "", "", "", "", None)
    }
}

impl DeviceHealth {
    pub fn new(id: &str, kind: &str, protocol: &str, transport: &str, target: &str, lane: Option<&str>) -> DeviceHealth {
        DeviceHealth {
            id: id.to_string(),
            kind: kind.to_string(),
            protocol: protocol.to_string(),
            transport: transport.to_string(),
            target: target.to_string(),
            lane: lane.map(str::to_string),
            connected: false,
            since: None,
            last_event_at: None,
            events: 0,
            errors: BTreeMap::new(),
            last_error: None,
            last_error_at: None,
            reconnects: 0,
            status: None,
            model: None,
            firmware: None,
            print_queue: None,
            channels: Vec::new(),
        }
    }

    /// The entry of a configured device.
    pub fn from_config(cfg: &DeviceConfig) -> DeviceHealth {
        let node = cfg.shelf.as_ref().and_then(|s| s.node_id.as_ref()).map(|n| format!("node {n}"));
        let target = cfg.path.clone().or_else(|| cfg.address.clone()).or(node).unwrap_or_else(|| {
            cfg.pins.iter().map(|p| format!("gpio{p}")).collect::<Vec<_>>().join(",")
        });
        let mut h = DeviceHealth::new(
            cfg.id.as_str(),
            cfg.kind.as_str(),
            cfg.protocol().map(|p| p.as_str()).unwrap_or("?"),
            cfg.transport.as_str(),
            &target,
            cfg.lane.as_ref().map(|l| l.as_str()),
        );
        if cfg.protocol() == Some(crate::config::DeviceProtocol::StorehubNode) {
            let mut mapped: Vec<ChannelHealth> = cfg
                .shelf_settings()
                .channels
                .iter()
                .map(|c| ChannelHealth { channel: c.channel, sku: Some(c.sku.clone()), state: "unknown".into(), ..ChannelHealth::default() })
                .collect();
            mapped.sort_by_key(|c| c.channel);
            h.channels = mapped;
        }
        h
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[derive(Debug)]
struct Burst {
    last: Instant,
    swallowed: u64,
}

#[derive(Debug, Default)]
struct Inner {
    devices: BTreeMap<String, DeviceHealth>,
    bursts: BTreeMap<(String, String), Burst>,
}

/// The health of every device, shared between drivers and readers.
#[derive(Debug, Default)]
pub struct HealthBoard {
    inner: Mutex<Inner>,
}

impl HealthBoard {
    pub fn new() -> HealthBoard {
        HealthBoard::default()
    }

    fn with<R>(&self, id: &str, f: impl FnOnce(&mut DeviceHealth) -> R) -> Option<R> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.devices.get_mut(id).map(f)
    }

    /// Adds (or replaces) a device's entry.
    pub fn register(&self, health: DeviceHealth) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.devices.insert(health.id.clone(), health);
    }

    /// Marks a device connected or not. A connect after a disconnect counts as a reconnect.
    pub fn set_connected(&self, id: &str, connected: bool, at: DateTime<Utc>) {
        self.with(id, |h| {
            if h.connected != connected {
                if connected && h.since.is_some() {
                    h.reconnects += 1;
                }
                h.connected = connected;
                h.since = Some(at);
            }
        });
    }

    /// Counts one event (a scan, a reading, a printed job).
    pub fn event(&self, id: &str, at: DateTime<Utc>) {
        self.with(id, |h| {
            h.events += 1;
            h.last_event_at = Some(at);
        });
    }

    /// Counts one error of `kind`. Returns true when the caller should log it: the first error
    /// of a burst. When a burst ended with swallowed errors, that is logged here.
    pub fn error(&self, id: &str, kind: &str, detail: &str, at: DateTime<Utc>) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = inner.devices.get_mut(id) {
            *h.errors.entry(kind.to_string()).or_insert(0) += 1;
            h.last_error = Some(format!("{kind}: {detail}"));
            h.last_error_at = Some(at);
        }
        let now = Instant::now();
        let key = (id.to_string(), kind.to_string());
        match inner.bursts.get_mut(&key) {
            Some(b) if now.duration_since(b.last) < BURST_GAP => {
                b.last = now;
                b.swallowed += 1;
                false
            }
            Some(b) => {
                if b.swallowed > 0 {
                    tracing::warn!(device = id, kind, count = b.swallowed, "earlier burst of device errors ended");
                }
                b.last = now;
                b.swallowed = 0;
                true
            }
            None => {
                inner.bursts.insert(key, Burst { last: now, swallowed: 0 });
                true
            }
        }
    }

    /// Sets (or clears, with `None`) the staff-visible condition of a device.
    pub fn set_status(&self, id: &str, status: Option<&str>) {
        self.with(id, |h| h.status = status.map(str::to_string));
    }

    /// Records what the device said about itself.
    pub fn set_identity(&self, id: &str, model: Option<&str>, firmware: Option<&str>) {
        self.with(id, |h| {
            if let Some(m) = model {
                h.model = Some(m.to_string());
            }
            if let Some(f) = firmware {
                h.firmware = Some(f.to_string());
            }
        });
    }

    /// Updates channel `channel` of a shelf node (added, in channel order, on first sight).
    pub fn update_channel(&self, id: &str, channel: u8, f: impl FnOnce(&mut ChannelHealth)) {
        self.with(id, |h| {
            let i = match h.channels.binary_search_by_key(&channel, |c| c.channel) {
                Ok(i) => i,
                Err(i) => {
                    h.channels.insert(i, ChannelHealth { channel, state: "unknown".into(), ..ChannelHealth::default() });
                    i
                }
            };
            f(&mut h.channels[i]);
        });
    }

    /// Forgets what a node said about its channels (another node, or the same one rebooted, said
    /// hello); the product mapped to each channel stays.
    pub fn reset_channels(&self, id: &str) {
        self.with(id, |h| {
            h.channels.retain(|c| c.sku.is_some());
            for c in &mut h.channels {
                *c = ChannelHealth { channel: c.channel, sku: c.sku.take(), state: "unknown".into(), ..ChannelHealth::default() };
            }
        });
    }

    /// One device's health.
    pub fn get(&self, id: &str) -> Option<DeviceHealth> {
        self.with(id, |h| h.clone())
    }

    /// Every device's health, in id order.
    pub fn snapshot(&self) -> Vec<DeviceHealth> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.devices.values().cloned().collect()
    }
}

/// A table of device health for a person at a terminal.
pub fn render(list: &[DeviceHealth]) -> String {
    use std::fmt::Write;
    if list.is_empty() {
        return "no devices configured ([[devices]] in the config)\n".into();
    }
    let mut s = String::new();
    let _ = writeln!(s, "{:<14} {:<8} {:<14} {:<10} {:>7} {:>6}  LAST EVENT / NOTE", "DEVICE", "KIND", "PROTOCOL", "STATE", "EVENTS", "ERRORS");
    for h in list {
        let state = match (&h.status, h.connected) {
            (Some(st), _) => st.clone(),
            (None, true) => "connected".into(),
            (None, false) => "absent".into(),
        };
        let last = h.last_event_at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "-".into());
        let mut note = last;
        if let Some(q) = h.print_queue {
            let _ = write!(note, "; {q} print job(s) waiting");
        }
        if let Some(e) = &h.last_error {
            let _ = write!(note, "; last error: {e}");
        }
        let _ = writeln!(s, "{:<14} {:<8} {:<14} {:<10} {:>7} {:>6}  {}", h.id, h.kind, h.protocol, state, h.events, h.error_count(), note);
        if h.model.is_some() || h.firmware.is_some() {
            let _ = writeln!(s, "{:<14} model {}, firmware {}", "", h.model.as_deref().unwrap_or("-"), h.firmware.as_deref().unwrap_or("-"));
        }
        for c in &h.channels {
            let _ = writeln!(s, "{:<14} {}", "", channel_line(c));
        }
    }
    s
}

/// One channel of a shelf node on one line, e.g.
/// `channel 1: no_data, calibrated, 1250 g (raw 534682, stable), 3 timeouts, 0 saturated`.
pub fn channel_line(c: &ChannelHealth) -> String {
    let cal = match c.calibrated {
        Some(true) => "calibrated",
        Some(false) => "not calibrated",
        None => "calibration unknown",
    };
    let reading = match (c.grams, c.raw) {
        (Some(g), Some(r)) => format!("{g} g (raw {r}, {})", if c.stable == Some(true) { "stable" } else { "moving" }),
        _ => "no reading yet".to_string(),
    };
    let sku = c.sku.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
    format!("channel {}{sku}: {}, {cal}, {reading}, {} timeouts, {} saturated", c.channel, c.state, c.timeouts, c.saturated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    #[test]
    fn a_burst_is_logged_once_and_counted_in_full() {
        let board = HealthBoard::new();
        board.register(DeviceHealth::new("scale-1", "scale", "toledo-8217", "serial", "/dev/x", Some("lane-1")));
        let logged: Vec<bool> = (0..100).map(|_| board.error("scale-1", "garbage", "0xff", at())).collect();
        assert_eq!(logged.iter().filter(|l| **l).count(), 1);
        assert!(logged[0]);
        let h = board.get("scale-1").unwrap();
        assert_eq!(h.errors["garbage"], 100);
        assert_eq!(h.error_count(), 100);
        // Another kind starts its own burst.
        assert!(board.error("scale-1", "timeout", "no answer", at()));
    }

    #[test]
    fn reconnects_count_only_after_a_first_connect() {
        let board = HealthBoard::new();
        board.register(DeviceHealth::new("s", "scanner", "line", "serial", "/dev/x", None));
        board.set_connected("s", true, at());
        board.set_connected("s", true, at());
        assert_eq!(board.get("s").unwrap().reconnects, 0);
        board.set_connected("s", false, at());
        board.set_connected("s", true, at());
        let h = board.get("s").unwrap();
        assert_eq!(h.reconnects, 1);
        assert!(h.connected);
        // Unknown ids are ignored, not a panic.
        board.event("nobody", at());
        assert!(board.get("nobody").is_none());
    }

    #[test]
    fn node_channels_are_kept_in_order_and_rendered_one_line_each() {
        let board = HealthBoard::new();
        board.register(DeviceHealth::new("shelf-a", "shelf", "storehub-node", "serial", "/dev/ttyACM0", None));
        board.update_channel("shelf-a", 2, |c| c.state = "no_data".into());
        board.update_channel("shelf-a", 0, |c| {
            c.state = "ok".into();
            c.calibrated = Some(true);
            (c.grams, c.raw, c.stable) = (Some(1250), Some(534_682), Some(true));
        });
        board.update_channel("shelf-a", 2, |c| c.timeouts = 3);
        let h = board.get("shelf-a").unwrap();
        assert_eq!(h.channels.iter().map(|c| c.channel).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(channel_line(&h.channels[0]), "channel 0: ok, calibrated, 1250 g (raw 534682, stable), 0 timeouts, 0 saturated");
        assert_eq!(channel_line(&h.channels[1]), "channel 2: no_data, calibration unknown, no reading yet, 3 timeouts, 0 saturated");
        let table = render(&[h]);
        assert!(table.contains("\n               channel 2: no_data"), "{table}");
        board.reset_channels("shelf-a");
        assert!(board.get("shelf-a").unwrap().channels.is_empty());
        // A configured product stays on its channel across a reset.
        board.update_channel("shelf-a", 1, |c| (c.sku, c.grams) = (Some("SKU-010001".into()), Some(570)));
        board.reset_channels("shelf-a");
        let kept = &board.get("shelf-a").unwrap().channels;
        assert_eq!((kept.len(), kept[0].sku.as_deref(), kept[0].grams, kept[0].state.as_str()), (1, Some("SKU-010001"), None, "unknown"));
    }
}
