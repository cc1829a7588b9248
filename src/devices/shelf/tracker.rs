//! The shelf tracker: which product each shelf channel weighs, how many units it holds, and the
//! outbox events when that changes.
//!
//! [`Shelves`] maps (device, channel) to a configured product (`[[devices.shelf.channels]]`),
//! feeds each [`DeviceEvent::ShelfWeight`] to the pure rules in [`crate::domain::shelf`], and
//! writes the resulting `storehub.shelf.picked` / `.restocked` / `.low` / `.empty` events in one
//! store commit per reading, after checking that the sku exists. The same commit carries the
//! stock triggers (`inventory::shelf_triggers`: restock tasks, clearing a shelf-gap alert). It
//! never changes stock on-hand: shelf weights are a signal for the stock triggers, not a stock
//! move.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::Product;
use crate::config::{DeviceConfig, DeviceKind};
use crate::devices::health::HealthBoard;
use crate::devices::DeviceEvent;
use crate::domain::shelf::{ChannelSpec, Count, ShelfChange, ShelfState};
use crate::store::{CommitError, Store, StoreError, TreeId, TxError};

pub const EVENT_SHELF_PICKED: &str = "storehub.shelf.picked";
pub const EVENT_SHELF_RESTOCKED: &str = "storehub.shelf.restocked";
pub const EVENT_SHELF_LOW: &str = "storehub.shelf.low";
pub const EVENT_SHELF_EMPTY: &str = "storehub.shelf.empty";
/// A beam-break or door input changed (after debouncing).
pub const EVENT_BEAM_CHANGED: &str = "storehub.beam.changed";

/// Data of `storehub.beam.changed`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BeamEventData {
    pub device: String,
    pub pin: u8,
    /// Beam broken / door open.
    pub active: bool,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Records a beam or door change as an outbox event (HQ counts footfall and door openings from
/// them); other events are ignored.
pub fn record_beam(store: &Store, ev: &DeviceEvent) -> Result<bool, crate::store::StoreError> {
    let DeviceEvent::Beam { device, pin, active, at } = ev else { return Ok(false) };
    let data = BeamEventData { device: device.clone(), pin: *pin, active: *active, at: *at };
    store
        .commit(|tx| -> Result<u64, TxError<crate::store::StoreError>> { tx.emit(EVENT_BEAM_CHANGED, Some(device), &data) })
        .map_err(|e| match e {
            CommitError::Rejected(e) | CommitError::Store(e) => e,
        })?;
    Ok(true)
}

/// Data of every `storehub.shelf.*` event (subject: the sku).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ShelfEventData {
    pub device: String,
    pub channel: u8,
    pub sku: String,
    /// Units taken (`picked`) or added (`restocked`); absent on `low` and `empty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<i64>,
    /// Units on the shelf after the change.
    pub on_shelf: i64,
    pub low_units: i64,
    /// The reading that settled the change.
    pub grams: i64,
    /// When the sensor read it.
    pub read_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShelfError {
    #[error("shelf {device} channel {channel} is mapped to sku {sku}, which is not in the catalog; fix [[devices.shelf.channels]] or import the product")]
    UnknownSku { device: String, channel: u8, sku: String },
    #[error("shelf {device} channel {channel}: cannot write shelf events: {source}")]
    Store { device: String, channel: u8, source: StoreError },
}

/// One channel as the health API and the dashboard see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelState {
    pub device: String,
    pub channel: u8,
    pub sku: String,
    pub unit_grams: i64,
    pub tolerance_grams: i64,
    pub low_units: i64,
    /// Confirmed units on the shelf (`None` until the first settled reading).
    pub on_shelf: Option<i64>,
    pub last_grams: Option<i64>,
    pub last_stable: bool,
    /// The last stable reading was not within tolerance of a whole count.
    pub ambiguous: bool,
    pub low: bool,
    pub empty: bool,
    pub updated_at: Option<DateTime<Utc>>,
    /// Since when the channel has read empty (the reading that settled 0 units); `None` while
    /// it holds units or before the first settled reading. Kept in memory: after a restart the
    /// shelf-gap wait starts again.
    pub empty_since: Option<DateTime<Utc>>,
    /// A shelf-gap alert was raised for this empty spell (`inventory::shelf_triggers`).
    pub gap_alerted: bool,
}

#[derive(Debug)]
struct Entry {
    sku: String,
    spec: ChannelSpec,
    state: ShelfState,
    last_grams: Option<i64>,
    last_stable: bool,
    updated_at: Option<DateTime<Utc>>,
    empty_since: Option<DateTime<Utc>>,
    gap_alerted: bool,
}

/// Every configured shelf channel and its state. Shared by reference; `handle` takes `&self`.
#[derive(Debug, Default)]
pub struct Shelves {
    channels: Mutex<BTreeMap<(String, u8), Entry>>,
    health: Option<Arc<HealthBoard>>,
}

impl Shelves {
    /// The channels of every shelf device in the config.
    pub fn from_config(devices: &[DeviceConfig]) -> Shelves {
        let mut channels = BTreeMap::new();
        for d in devices.iter().filter(|d| d.kind == DeviceKind::Shelf) {
            for c in d.shelf_settings().channels {
                channels.insert(
                    (d.id.as_str().to_string(), c.channel),
                    Entry {
                        sku: c.sku.clone(),
                        spec: ChannelSpec::new(c.unit_grams, c.low_units),
                        state: ShelfState::default(),
                        last_grams: None,
                        last_stable: false,
                        updated_at: None,
                        empty_since: None,
                        gap_alerted: false,
                    },
                );
            }
        }
        Shelves { channels: Mutex::new(channels), health: None }
    }

    /// Counts unknown skus and store failures as errors of the device in `health`.
    pub fn with_health(mut self, health: Arc<HealthBoard>) -> Shelves {
        self.health = Some(health);
        self
    }

    /// Feeds one device event. For a `ShelfWeight` of a configured channel, returns the changes
    /// it settled, after writing their events in one commit; anything else returns no change.
    /// On an error nothing is written and the channel's state is left as it was, so the next
    /// reading tries again (each change is written exactly once).
    pub fn handle(&self, store: &Store, ev: &DeviceEvent) -> Result<Vec<ShelfChange>, ShelfError> {
        let DeviceEvent::ShelfWeight { device, channel, grams, stable, at } = ev else {
            return Ok(Vec::new());
        };
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let key = (device.clone(), *channel);
        let Some(sku) = channels.get(&key).map(|e| e.sku.clone()) else {
            return Ok(Vec::new());
        };
        // The sku's other channels, for the restock task's backroom figure and the gap alert.
        let others = channels.iter().filter(|(k, e)| **k != key && e.sku == sku);
        let (on_other_shelves, other_shelves_hold_units) =
            others.fold((0i64, true), |(n, all), (_, e)| (n.saturating_add(e.state.units.unwrap_or(0)), all && e.state.units.is_some_and(|u| u > 0)));
        let Some(entry) = channels.get_mut(&key) else {
            return Ok(Vec::new());
        };
        let mut next = entry.state.clone();
        let changes = next.observe(&entry.spec, *grams, *stable);
        if !changes.is_empty() {
            let on_shelf = next.units.unwrap_or(0);
            let data = |units: Option<i64>| ShelfEventData {
                device: device.clone(),
                channel: *channel,
                sku: entry.sku.clone(),
                units,
                on_shelf,
                low_units: entry.spec.low_units,
                grams: *grams,
                read_at: *at,
            };
            let sku = entry.sku.clone();
            let result = store.commit(|tx| -> Result<(), TxError<()>> {
                if tx.get::<Product, ()>(TreeId::Products, sku.as_bytes())?.is_none() {
                    return Err(TxError::Rejected(()));
                }
                for change in &changes {
                    let (event_type, units) = match change {
                        ShelfChange::ItemPicked { units } => (EVENT_SHELF_PICKED, Some(*units)),
                        ShelfChange::Restocked { units } => (EVENT_SHELF_RESTOCKED, Some(*units)),
                        ShelfChange::Low => (EVENT_SHELF_LOW, None),
                        ShelfChange::Empty => (EVENT_SHELF_EMPTY, None),
                    };
                    tx.emit(event_type, Some(&sku), &data(units))?;
                }
                // Restock tasks and the shelf-gap alert change with the shelf events, in this commit.
                let reading = crate::inventory::shelf_triggers::ShelfReading {
                    device,
                    channel: *channel,
                    sku: &sku,
                    on_shelf,
                    shelf_min: entry.spec.low_units,
                    on_other_shelves,
                    other_shelves_hold_units,
                };
                crate::inventory::shelf_triggers::on_shelf_changes_tx(tx, &reading, &changes)?;
                Ok(())
            });
            if let Err(e) = result {
                let err = match e {
                    CommitError::Rejected(()) => ShelfError::UnknownSku { device: device.clone(), channel: *channel, sku },
                    CommitError::Store(source) => ShelfError::Store { device: device.clone(), channel: *channel, source },
                };
                if let Some(h) = &self.health {
                    let kind = if matches!(err, ShelfError::UnknownSku { .. }) { "unknown_sku" } else { "store" };
                    if h.error(device, kind, &err.to_string(), *at) {
                        tracing::warn!(device = device.as_str(), channel, "{err}");
                    }
                }
                return Err(err);
            }
        }
        match next.units {
            Some(0) => {
                entry.empty_since.get_or_insert(*at);
            }
            Some(_) => {
                entry.empty_since = None;
                entry.gap_alerted = false;
            }
            None => {}
        }
        entry.state = next;
        entry.last_grams = Some(*grams);
        entry.last_stable = *stable;
        entry.updated_at = Some(*at);
        Ok(changes)
    }

    /// Every channel's state, by device and channel.
    pub fn shelf_state(&self) -> Vec<ChannelState> {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .iter()
            .map(|((device, channel), e)| ChannelState {
                device: device.clone(),
                channel: *channel,
                sku: e.sku.clone(),
                unit_grams: e.spec.unit_grams,
                tolerance_grams: e.spec.tolerance_grams,
                low_units: e.spec.low_units,
                on_shelf: e.state.units,
                last_grams: e.last_grams,
                last_stable: e.last_stable,
                ambiguous: e.state.ambiguous,
                low: e.state.low,
                empty: e.state.empty,
                updated_at: e.updated_at,
                empty_since: e.empty_since,
                gap_alerted: e.gap_alerted,
            })
            .collect()
    }

    /// Notes that a shelf-gap alert was raised for the channel's current empty spell (the next
    /// one may raise again once the shelf held units in between).
    pub fn mark_gap_alerted(&self, device: &str, channel: u8) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = channels.get_mut(&(device.to_string(), channel)) {
            e.gap_alerted = true;
        }
    }

    /// The count a reading would mean on a channel (for `storehub doctor` and the dashboard).
    pub fn count(&self, device: &str, channel: u8, grams: i64) -> Option<Count> {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .get(&(device.to_string(), channel))
            .map(|e| crate::domain::shelf::units_on_shelf(&e.spec, grams))
    }
}
