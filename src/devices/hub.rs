//! Devices in the running hub: starts the [`DeviceManager`] over the configured devices and
//! routes what they report. Scans and scale readings go to the device's lane through the lanes'
//! bounded event channel (`checkout::LaneEvents`); a scale reading reaches the lane as "stable"
//! only when the scale said it is settled and in range, so the checkout never prices a moving or
//! overloaded weight.

use std::sync::Arc;

use crate::checkout::{LaneEvent, LaneEvents, Lanes, ScaleReading};
use crate::clock::SharedClock;
use crate::config::DeviceConfig;
use crate::store::Store;

use super::health::HealthBoard;
use super::manager::{DeviceManager, DriveFn, Emit};
use super::DeviceEvent;

/// The lane event a device event becomes, if any: `(lane, event)`.
pub fn lane_event(ev: &DeviceEvent) -> Option<(String, LaneEvent)> {
    match ev {
        DeviceEvent::Scan(s) => Some((s.lane.clone()?, LaneEvent::Scanned { code: s.code.clone() })),
        DeviceEvent::Weight { lane, reading, at, .. } => Some((
            lane.clone()?,
            LaneEvent::Weighed(ScaleReading { grams: reading.grams, stable: reading.is_settled(), at: *at }),
        )),
        DeviceEvent::ShelfWeight { .. } | DeviceEvent::Beam { .. } => None,
    }
}

/// The devices of a running hub.
pub struct DeviceHub {
    manager: Option<DeviceManager>,
    lane_events: Option<LaneEvents>,
    watcher: Option<std::thread::JoinHandle<()>>,
}

/// Called with each lane's result of a device event (the customer display, later the cashier
/// screen).
pub type OnLaneUpdate = Box<dyn Fn(crate::checkout::LaneUpdate) + Send>;

impl DeviceHub {
    /// Starts every configured device. `lanes` is None when no lanes are configured (a hub with
    /// only shelf sensors); `other` receives the events that are not for a lane.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        devices: &[DeviceConfig],
        drive: DriveFn,
        health: Arc<HealthBoard>,
        clock: SharedClock,
        store: Arc<Store>,
        lanes: Option<Arc<Lanes>>,
        other: Arc<dyn Fn(&DeviceEvent) + Send + Sync>,
        on_update: OnLaneUpdate,
    ) -> DeviceHub {
        let mut lane_events = lanes.map(LaneEvents::start);
        // The updates go to one watcher thread; it ends when the lanes' worker stops.
        let watcher = lane_events.as_mut().and_then(|le| {
            let (_, empty) = std::sync::mpsc::sync_channel(0);
            let updates = std::mem::replace(&mut le.updates, empty);
            std::thread::Builder::new()
                .name("lane-updates".into())
                .spawn(move || {
                    for u in updates {
                        on_update(u);
                    }
                })
                .ok()
        });
        let sender = lane_events.as_ref().map(|l| l.sender.clone());
        let emit: Emit = Arc::new(move |ev: DeviceEvent| match (lane_event(&ev), &sender) {
            (Some((lane, event)), Some(tx)) => {
                // Blocks when the lanes are 256 events behind: a flooding device waits, memory
                // stays bounded, other devices have their own threads.
                if tx.send((lane, event)).is_err() {
                    tracing::warn!("lanes stopped; device event dropped");
                }
            }
            (Some((lane, _)), None) => tracing::debug!(lane, "device event for a lane, but no lanes are open"),
            (None, _) => other(&ev),
        });
        let manager = DeviceManager::start(devices, drive, health, clock, Some(store), emit);
        DeviceHub { manager: Some(manager), lane_events, watcher }
    }

    pub fn health(&self) -> Option<Arc<HealthBoard>> {
        self.manager.as_ref().map(|m| m.health())
    }

    /// Stops the drivers, then lets the lanes apply what they already sent.
    pub fn stop(mut self) {
        if let Some(m) = self.manager.take() {
            m.stop();
        }
        if let Some(l) = self.lane_events.take() {
            l.close();
        }
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{ScanEvent, WeightReading, WeightState};

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    #[test]
    fn only_settled_weights_reach_a_lane_as_stable() {
        let w = |stable, state| DeviceEvent::Weight { device: "s".into(), lane: Some("lane-1".into()), reading: WeightReading { grams: 1250, stable, state }, at: at() };
        let stable_of = |ev: DeviceEvent| match lane_event(&ev) {
            Some((_, LaneEvent::Weighed(r))) => r.stable,
            other => panic!("{other:?}"),
        };
        assert!(stable_of(w(true, WeightState::Ok)));
        assert!(!stable_of(w(false, WeightState::Ok)));
        assert!(!stable_of(w(true, WeightState::Overload)));
    }

    #[test]
    fn scans_go_to_their_lane_and_laneless_ones_elsewhere() {
        let scan = |lane: Option<&str>| DeviceEvent::Scan(ScanEvent { device: "sc".into(), lane: lane.map(str::to_string), code: "6901234567892".into(), symbology: None, at: at() });
        assert_eq!(lane_event(&scan(Some("lane-2"))), Some(("lane-2".into(), LaneEvent::Scanned { code: "6901234567892".into() })));
        assert_eq!(lane_event(&scan(None)), None);
    }
}
