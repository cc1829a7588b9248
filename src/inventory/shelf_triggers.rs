//! Shelf triggers: restock-from-backroom tasks when a shelf falls to its minimum, shelf-gap
//! alerts when the ledger has stock but the shelf stays empty, and the GPIO alert output.
//!
//! - **Restock tasks** are opened by the shelf tracker's own commit ([`on_shelf_changes_tx`],
//!   called inside `Shelves::handle`), so a `storehub.shelf.low` event and the task it caused
//!   are written together or not at all. At most one open task per sku + channel (`meta`
//!   `restock_open/<sku>/<device>/<channel>` → task id, written with the task). A restock above
//!   the shelf minimum closes it ("shelf restocked"); staff may mark it done ([`mark_done`]).
//! - **Shelf gaps** ([`check_gaps`], each minute in the daemon): a channel that has read empty
//!   for `[stock].shelf_gap_minutes` or more while the ledger has stock raises one
//!   `AlertKind::ShelfGap` alert for the sku (`inventory::alerts`), once per empty spell; it is
//!   cleared when the shelf holds units again or the ledger reaches 0.
//! - **The alert output** ([`AlertLamp`]): an LED or buzzer on `[stock].alert_gpio_pin`, high
//!   while any alert is open, through the `devices::transport::gpio::Gpio` trait.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::devices::shelf::Shelves;
use crate::devices::transport::gpio::{Gpio, GpioError, PinMode};
use crate::domain::shelf::ShelfChange;
use crate::domain::staff::Action;
use crate::inventory::alerts::{self, Alert, AlertKind};
use crate::inventory::StockLevel;
use crate::staff::StaffError;
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub const EVENT_TASK_OPENED: &str = "storehub.restock.task_opened";
pub const EVENT_TASK_DONE: &str = "storehub.restock.task_done";

/// `done_reason` of a task closed by the tracker.
pub const REASON_RESTOCKED: &str = "shelf restocked";
/// `done_reason` of a task a person marked done without a note.
pub const REASON_BY_STAFF: &str = "done by staff";

/// Where a restock task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    Done,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Done => "done",
        }
    }
}

/// Bring a SKU from the backroom to one shelf channel. Also the data of
/// `storehub.restock.task_opened` and `.task_done` (subject: the sku; staff by id only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestockTask {
    pub id: u64,
    pub sku: String,
    /// The shelf device and channel that fell to its minimum.
    pub device: String,
    pub channel: u8,
    /// Units on that shelf when the task was opened.
    pub on_shelf: i64,
    /// The channel's minimum (`low_units`).
    pub shelf_min: i64,
    /// Ledger on-hand − units on every shelf of the sku, never below 0, when opened. 0 means
    /// the backroom has none: order instead (the replenishment list).
    pub backroom: i64,
    pub opened_at: DateTime<Utc>,
    pub state: TaskState,
    /// Staff id when a person marked it done; `None` when the shelf's restock closed it.
    pub done_by: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_reason: Option<String>,
}
impl Record for RestockTask {
    const NAME: &'static str = "restock task";
}

/// Why marking a task done was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("restock task {0} does not exist; `storehub restock list` shows the open ones")]
    Unknown(u64),
    #[error("restock task {id} was already done at {at} ({reason})")]
    AlreadyDone { id: u64, at: DateTime<Utc>, reason: String },
    #[error("note: at most 160 characters without control characters, got {0} characters")]
    BadNote(usize),
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn open_key(sku: &str, device: &str, channel: u8) -> Vec<u8> {
    format!("restock_open/{sku}/{device}/{channel}").into_bytes()
}

/// A task id in `meta`, stored as a record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct OpenTask(u64);
impl Record for OpenTask {
    const NAME: &'static str = "open restock task index";
}

/// What the tracker knows when one reading settled changes on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShelfReading<'a> {
    pub device: &'a str,
    pub channel: u8,
    pub sku: &'a str,
    /// Units on this channel after the changes.
    pub on_shelf: i64,
    /// The channel's `low_units`.
    pub shelf_min: i64,
    /// Units on the sku's other channels (as last confirmed).
    pub on_other_shelves: i64,
    /// Every other channel of the sku holds units (true when there is none).
    pub other_shelves_hold_units: bool,
}

/// The stock triggers of one reading's changes, inside the tracker's commit: `Low` or `Empty`
/// opens a restock task (unless one is open for the channel), a restock above the minimum
/// closes it, and a restock that leaves no shelf of the sku empty clears its shelf-gap alert.
pub fn on_shelf_changes_tx<E>(tx: &Tx, r: &ShelfReading<'_>, changes: &[ShelfChange]) -> Result<(), TxError<E>> {
    let fell = changes.iter().any(|c| matches!(c, ShelfChange::Low | ShelfChange::Empty));
    let restocked = changes.iter().any(|c| matches!(c, ShelfChange::Restocked { .. }));
    if fell {
        open_task_tx(tx, r)?;
    }
    if restocked && r.on_shelf > r.shelf_min {
        if let Some(OpenTask(id)) = tx.get::<OpenTask, E>(TreeId::Meta, &open_key(r.sku, r.device, r.channel))? {
            if let Some(task) = tx.get::<RestockTask, E>(TreeId::RestockTasks, &id.to_be_bytes())? {
                close_tx(tx, task, None, REASON_RESTOCKED)?;
            } else {
                tx.remove::<E>(TreeId::Meta, &open_key(r.sku, r.device, r.channel))?;
            }
        }
    }
    if restocked && r.on_shelf > 0 && r.other_shelves_hold_units {
        alerts::clear_tx(tx, AlertKind::ShelfGap, r.sku, "shelf restocked")?;
    }
    Ok(())
}

fn open_task_tx<E>(tx: &Tx, r: &ShelfReading<'_>) -> Result<Option<RestockTask>, TxError<E>> {
    let key = open_key(r.sku, r.device, r.channel);
    if tx.get::<OpenTask, E>(TreeId::Meta, &key)?.is_some() {
        return Ok(None);
    }
    let ledger = tx.get::<StockLevel, E>(TreeId::Stock, r.sku.as_bytes())?.map_or(0, |l| l.on_hand);
    let on_shelves = r.on_shelf.saturating_add(r.on_other_shelves);
    let id = tx.next_seq(TreeId::RestockTasks)?;
    let task = RestockTask {
        id,
        sku: r.sku.to_string(),
        device: r.device.to_string(),
        channel: r.channel,
        on_shelf: r.on_shelf,
        shelf_min: r.shelf_min,
        backroom: ledger.saturating_sub(on_shelves).max(0),
        opened_at: tx.now(),
        state: TaskState::Open,
        done_by: None,
        done_at: None,
        done_reason: None,
    };
    tx.put(TreeId::RestockTasks, &id.to_be_bytes(), &task)?;
    tx.put(TreeId::Meta, &key, &OpenTask(id))?;
    tx.emit(EVENT_TASK_OPENED, Some(&task.sku), &task)?;
    Ok(Some(task))
}

fn close_tx<E>(tx: &Tx, mut task: RestockTask, by: Option<&str>, reason: &str) -> Result<RestockTask, TxError<E>> {
    task.state = TaskState::Done;
    task.done_by = by.map(str::to_string);
    task.done_at = Some(tx.now());
    task.done_reason = Some(reason.to_string());
    tx.put(TreeId::RestockTasks, &task.id.to_be_bytes(), &task)?;
    tx.remove::<E>(TreeId::Meta, &open_key(&task.sku, &task.device, task.channel))?;
    tx.emit(EVENT_TASK_DONE, Some(&task.sku), &task)?;
    Ok(task)
}

/// Staff `staff` (an active account allowed to work restock tasks) marks task `id` done, with
/// an optional note (else "done by staff"). The shelf may open a new task when it falls again.
pub fn mark_done(store: &Store, id: u64, staff: &str, note: Option<&str>) -> Result<RestockTask, TaskError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        let chars = n.chars().count();
        if chars > 160 || n.chars().any(char::is_control) {
            return Err(TaskError::BadNote(chars));
        }
    }
    store
        .commit(|tx| -> Result<RestockTask, TxError<TaskError>> {
            crate::staff::authorize_in_tx::<TaskError>(tx, staff, Action::WorkRestockTasks)?;
            let Some(task) = tx.get::<RestockTask, TaskError>(TreeId::RestockTasks, &id.to_be_bytes())? else {
                return Err(TxError::Rejected(TaskError::Unknown(id)));
            };
            if task.state == TaskState::Done {
                let at = task.done_at.unwrap_or(task.opened_at);
                return Err(TxError::Rejected(TaskError::AlreadyDone { id, at, reason: task.done_reason.unwrap_or_default() }));
            }
            close_tx(tx, task, Some(staff), note.unwrap_or(REASON_BY_STAFF))
        })
        .map_err(|e| match e {
            CommitError::Rejected(e) => e,
            CommitError::Store(e) => TaskError::Store(e),
        })
}

/// The open restock tasks, oldest first.
pub fn open_tasks(store: &Store) -> Result<Vec<RestockTask>, StoreError> {
    let mut out = Vec::new();
    for entry in store.scan_prefix::<OpenTask>(TreeId::Meta, b"restock_open/") {
        let (_, OpenTask(id)) = entry?;
        if let Some(t) = store.get::<RestockTask>(TreeId::RestockTasks, &id.to_be_bytes())? {
            out.push(t);
        }
    }
    out.sort_by_key(|t| t.id);
    Ok(out)
}

/// The newest tasks, open or done, newest first (at most `limit`).
pub fn recent_tasks(store: &Store, limit: usize) -> Result<Vec<RestockTask>, StoreError> {
    store.scan_rev::<RestockTask>(TreeId::RestockTasks).take(limit).map(|r| r.map(|(_, t)| t)).collect()
}

// --- shelf gaps -------------------------------------------------------------------------------

/// What one gap check did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GapReport {
    pub raised: Vec<Alert>,
    pub cleared: Vec<Alert>,
}

/// Whole minutes from `since` to `now` (0 when `now` is earlier).
fn minutes_between(since: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - since).num_minutes().max(0)
}

/// The shelf-gap check (the daemon runs it each minute; tests call it on a manual clock). Per
/// sku: when one of its channels has read empty for `[stock].shelf_gap_minutes` or more and the
/// ledger has stock (on hand > 0), raise one `ShelfGap` alert, once per empty spell of the
/// channel (an acknowledged alert is not raised again until the shelf held units in between).
/// An open `ShelfGap` alert is cleared when no channel of its sku reads empty any more, or the
/// ledger's on-hand is 0 or less.
pub fn check_gaps(store: &Store, shelves: &Shelves, now: DateTime<Utc>, cfg: &crate::config::StockConfig) -> Result<GapReport, StoreError> {
    use std::collections::{BTreeMap, BTreeSet};
    let limit = i64::from(cfg.shelf_gap_minutes);
    let mut by_sku: BTreeMap<String, Vec<crate::devices::shelf::ChannelState>> = BTreeMap::new();
    for c in shelves.shelf_state() {
        by_sku.entry(c.sku.clone()).or_default().push(c);
    }
    let open: BTreeSet<String> =
        alerts::open_alerts(store)?.into_iter().filter(|a| a.kind == AlertKind::ShelfGap).map(|a| a.sku).collect();
    let mut report = GapReport::default();
    for (sku, channels) in by_sku {
        let on_hand = crate::inventory::on_hand(store, &sku)?;
        let fresh: Vec<&crate::devices::shelf::ChannelState> = channels
            .iter()
            .filter(|c| !c.gap_alerted && c.empty_since.is_some_and(|t| minutes_between(t, now) >= limit))
            .collect();
        if on_hand > 0 && !fresh.is_empty() {
            // The channel empty longest speaks for the sku.
            let Some(worst) = fresh.iter().min_by_key(|c| c.empty_since) else { continue };
            let minutes = worst.empty_since.map_or(0, |t| minutes_between(t, now));
            let zh = format!(
                "货架 {} 第 {} 道已空 {} 分钟，账面库存 {}：请查找错放或丢失的商品，或从后仓补货",
                worst.device, worst.channel, minutes, on_hand
            );
            let en = format!(
                "shelf {} channel {} has read empty for {} minutes while the ledger has {} on hand: look for misplaced or lost goods, or restock from the backroom",
                worst.device, worst.channel, minutes, on_hand
            );
            let raised = store
                .commit(|tx| -> Result<Option<Alert>, TxError<()>> {
                    // The ledger again, inside the commit: a sale in between may have emptied it.
                    let now_on_hand = tx.get::<StockLevel, ()>(TreeId::Stock, sku.as_bytes())?.map_or(0, |l| l.on_hand);
                    if now_on_hand <= 0 {
                        return Ok(None);
                    }
                    alerts::raise_tx(tx, AlertKind::ShelfGap, &sku, &zh, &en)
                })
                .map_err(commit_store_error)?;
            for c in &fresh {
                shelves.mark_gap_alerted(&c.device, c.channel);
            }
            if let Some(a) = raised {
                tracing::warn!(sku = sku.as_str(), device = worst.device.as_str(), channel = worst.channel, minutes, on_hand, "shelf gap");
                report.raised.push(a);
            }
            continue;
        }
        if !open.contains(&sku) {
            continue;
        }
        let reason = if on_hand <= 0 {
            Some("ledger on hand is 0")
        } else if channels.iter().all(|c| c.empty_since.is_none()) {
            Some("shelf holds units again")
        } else {
            None
        };
        if let Some(reason) = reason {
            let cleared = store
                .commit(|tx| -> Result<Option<Alert>, TxError<()>> { alerts::clear_tx(tx, AlertKind::ShelfGap, &sku, reason) })
                .map_err(commit_store_error)?;
            report.cleared.extend(cleared);
        }
    }
    Ok(report)
}

fn commit_store_error(e: CommitError<()>) -> StoreError {
    match e {
        CommitError::Store(e) => e,
        CommitError::Rejected(()) => StoreError::Corrupt("shelf gap commit refused".into()),
    }
}

// --- the alert output ------------------------------------------------------------------------

/// An LED or buzzer on a GPIO output: high while any alert is open, low when none. Writes the
/// pin only when that changes.
pub struct AlertLamp<G: Gpio> {
    gpio: G,
    pin: u8,
    lit: Option<bool>,
}

impl<G: Gpio> AlertLamp<G> {
    /// Configures `pin` as an output (driven low at first).
    pub fn open(mut gpio: G, pin: u8) -> Result<AlertLamp<G>, GpioError> {
        gpio.configure(pin, PinMode::Output)?;
        Ok(AlertLamp { gpio, pin, lit: Some(false) })
    }

    /// Drives the pin from the store's open alerts; returns whether it is high.
    pub fn update(&mut self, store: &Store) -> Result<bool, LampError> {
        let on = !alerts::open_alerts(store)?.is_empty();
        self.set(on)?;
        Ok(on)
    }

    /// Drives the pin high or low (written only when it changes, or after a failed write).
    pub fn set(&mut self, on: bool) -> Result<(), GpioError> {
        if self.lit != Some(on) {
            self.lit = None;
            self.gpio.write(self.pin, on)?;
            self.lit = Some(on);
        }
        Ok(())
    }

    pub fn pin(&self) -> u8 {
        self.pin
    }

    /// The pin bank (tests read the simulated pin's level through it).
    pub fn gpio(&self) -> &G {
        &self.gpio
    }
}

/// Why the alert output could not follow the alerts.
#[derive(Debug, thiserror::Error)]
pub enum LampError {
    #[error("alert output: {0}")]
    Gpio(#[from] GpioError),
    #[error("alert output: cannot read the open alerts: {0}")]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::devices::transport::gpio::SimPins;

    #[test]
    fn the_lamp_follows_open_alerts_and_writes_only_changes() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-26T02:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        let mut lamp = AlertLamp::open(SimPins::new(), 17).unwrap();
        assert_eq!(lamp.gpio().output(17), Some(false));
        assert!(!lamp.update(&store).unwrap());
        let a = store.commit(|tx| alerts::raise_tx::<()>(tx, AlertKind::ShelfGap, "A", "空", "empty")).unwrap().unwrap();
        assert!(lamp.update(&store).unwrap());
        assert_eq!(lamp.gpio().output(17), Some(true));
        alerts::acknowledge(&store, a.id, "mgr1").unwrap();
        assert!(!lamp.update(&store).unwrap());
        assert_eq!(lamp.gpio().output(17), Some(false));
        assert!(AlertLamp::open(SimPins::new(), 40).is_err(), "no such BCM pin");
    }
}
