//! Stock and shelf alerts: things a person must look at now (an urgent replenishment, a shelf
//! gap). One open alert per kind and SKU: raising it again while it is open changes nothing, so a
//! job or tick that runs often cannot flood the dashboard, the outbox or the buzzer.
//!
//! An alert is raised inside the commit of whatever found it (`raise_tx`), with its
//! `storehub.alert.raised` event; it is closed either by the staff who saw it (`acknowledge`) or
//! by the code that found the condition gone (`clear_tx`), with `storehub.alert.cleared`. The
//! open-alert index is `meta` `alert_open/<kind>/<sku>` → alert id, written with the alert, so the
//! de-duplication is a point read inside the commit. The GPIO output (`[stock].alert_gpio_pin`)
//! follows [`open_alerts`]: on while any alert is open and unacknowledged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub const EVENT_ALERT_RAISED: &str = "storehub.alert.raised";
pub const EVENT_ALERT_CLEARED: &str = "storehub.alert.cleared";

/// What the alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The replenishment run projects a stock-out before an order placed today can arrive.
    ReplenishmentUrgent,
    /// The ledger has stock in the shop but the shelf has read empty for longer than
    /// `[stock].shelf_gap_minutes`: misplaced or lost goods.
    ShelfGap,
}

impl AlertKind {
    pub const ALL: [AlertKind; 2] = [AlertKind::ReplenishmentUrgent, AlertKind::ShelfGap];

    /// The name used in keys, events, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ReplenishmentUrgent => "replenishment_urgent",
            AlertKind::ShelfGap => "shelf_gap",
        }
    }

    /// Chinese and English titles for pages.
    pub fn title(self) -> (&'static str, &'static str) {
        match self {
            AlertKind::ReplenishmentUrgent => ("紧急补货", "Urgent replenishment"),
            AlertKind::ShelfGap => ("货架缺货", "Shelf gap"),
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    pub id: u64,
    pub kind: AlertKind,
    pub sku: String,
    /// What was found, for people, in both languages (no personal data).
    pub detail_zh: String,
    pub detail_en: String,
    pub raised_at: DateTime<Utc>,
    /// Staff id and time of the acknowledgement, when a person closed it.
    pub acknowledged_by: Option<String>,
    /// When it was closed (acknowledged, or its condition gone); `None` while open.
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was closed: `acknowledged` or what the clearing code found.
    pub closed_reason: Option<String>,
}
impl Record for Alert {
    const NAME: &'static str = "alert";
}

impl Alert {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// Data of `storehub.alert.raised` and `storehub.alert.cleared` (subject: the sku).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEventData {
    pub id: u64,
    pub kind: AlertKind,
    pub sku: String,
    pub detail_en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
}

/// Why an acknowledgement was refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("alert {0} does not exist; `storehub alerts list` shows the open ones")]
    Unknown(u64),
    #[error("alert {id} was already closed at {at} ({reason})")]
    AlreadyClosed { id: u64, at: DateTime<Utc>, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn open_key(kind: AlertKind, sku: &str) -> Vec<u8> {
    format!("alert_open/{}/{sku}", kind.as_str()).into_bytes()
}

/// An alert id in `meta`, stored as a record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct OpenAlert(u64);
impl Record for OpenAlert {
    const NAME: &'static str = "open alert index";
}

fn event_data(a: &Alert) -> AlertEventData {
    AlertEventData {
        id: a.id,
        kind: a.kind,
        sku: a.sku.clone(),
        detail_en: a.detail_en.clone(),
        closed_reason: a.closed_reason.clone(),
        acknowledged_by: a.acknowledged_by.clone(),
    }
}

/// Raises an alert of `kind` for `sku` in this commit, unless one is open already. Returns the
/// new alert, or `None` when one was open (nothing written).
pub fn raise_tx<E>(tx: &Tx, kind: AlertKind, sku: &str, detail_zh: &str, detail_en: &str) -> Result<Option<Alert>, TxError<E>> {
    let key = open_key(kind, sku);
    if tx.get::<OpenAlert, E>(TreeId::Meta, &key)?.is_some() {
        return Ok(None);
    }
    let id = tx.next_seq(TreeId::Alerts)?;
    let alert = Alert {
        id,
        kind,
        sku: sku.to_string(),
        detail_zh: detail_zh.to_string(),
        detail_en: detail_en.to_string(),
        raised_at: tx.now(),
        acknowledged_by: None,
        closed_at: None,
        closed_reason: None,
    };
    tx.put(TreeId::Alerts, &id.to_be_bytes(), &alert)?;
    tx.put(TreeId::Meta, &key, &OpenAlert(id))?;
    tx.emit(EVENT_ALERT_RAISED, Some(sku), &event_data(&alert))?;
    Ok(Some(alert))
}

fn close_tx<E>(tx: &Tx, mut alert: Alert, reason: &str, by: Option<&str>) -> Result<Alert, TxError<E>> {
    alert.closed_at = Some(tx.now());
    alert.closed_reason = Some(reason.to_string());
    alert.acknowledged_by = by.map(str::to_string);
    tx.put(TreeId::Alerts, &alert.id.to_be_bytes(), &alert)?;
    tx.remove::<E>(TreeId::Meta, &open_key(alert.kind, &alert.sku))?;
    tx.emit(EVENT_ALERT_CLEARED, Some(&alert.sku), &event_data(&alert))?;
    Ok(alert)
}

/// Closes the open alert of `kind` for `sku`, if any, because its condition is gone (`reason`
/// says what was found, e.g. "shelf restocked"). Returns the closed alert.
pub fn clear_tx<E>(tx: &Tx, kind: AlertKind, sku: &str, reason: &str) -> Result<Option<Alert>, TxError<E>> {
    let Some(OpenAlert(id)) = tx.get::<OpenAlert, E>(TreeId::Meta, &open_key(kind, sku))? else {
        return Ok(None);
    };
    let Some(alert) = tx.get::<Alert, E>(TreeId::Alerts, &id.to_be_bytes())? else {
        // An index without its alert: drop the index so the next raise works.
        tx.remove::<E>(TreeId::Meta, &open_key(kind, sku))?;
        return Ok(None);
    };
    close_tx(tx, alert, reason, None).map(Some)
}

/// A person saw the alert and closes it (`closed_reason` "acknowledged"). Its condition may
/// raise a new one later.
pub fn acknowledge(store: &Store, id: u64, staff: &str) -> Result<Alert, AlertError> {
    store
        .commit(|tx| -> Result<Alert, TxError<AlertError>> {
            let Some(alert) = tx.get::<Alert, AlertError>(TreeId::Alerts, &id.to_be_bytes())? else {
                return Err(TxError::Rejected(AlertError::Unknown(id)));
            };
            if let Some(at) = alert.closed_at {
                let reason = alert.closed_reason.clone().unwrap_or_default();
                return Err(TxError::Rejected(AlertError::AlreadyClosed { id, at, reason }));
            }
            close_tx(tx, alert, "acknowledged", Some(staff))
        })
        .map_err(|e| match e {
            CommitError::Rejected(e) => e,
            CommitError::Store(e) => AlertError::Store(e),
        })
}

/// The open alerts, oldest first.
pub fn open_alerts(store: &Store) -> Result<Vec<Alert>, StoreError> {
    let mut out = Vec::new();
    for entry in store.scan_prefix::<OpenAlert>(TreeId::Meta, b"alert_open/") {
        let (_, OpenAlert(id)) = entry?;
        if let Some(a) = store.get::<Alert>(TreeId::Alerts, &id.to_be_bytes())? {
            out.push(a);
        }
    }
    out.sort_by_key(|a| a.id);
    Ok(out)
}

/// The newest alerts, open or closed, newest first (at most `limit`).
pub fn recent_alerts(store: &Store, limit: usize) -> Result<Vec<Alert>, StoreError> {
    store.scan_rev::<Alert>(TreeId::Alerts).take(limit).map(|r| r.map(|(_, a)| a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-26T02:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        (dir, store)
    }

    #[test]
    fn one_open_alert_per_kind_and_sku_and_clearing_allows_a_new_one() {
        let (_d, s) = store();
        let raise = |sku: &str| s.commit(|tx| raise_tx::<()>(tx, AlertKind::ShelfGap, sku, "货架空", "shelf empty")).unwrap();
        let first = raise("A").unwrap();
        assert!(raise("A").is_none(), "a second raise while open writes nothing");
        assert!(raise("B").is_some());
        let other_kind = s.commit(|tx| raise_tx::<()>(tx, AlertKind::ReplenishmentUrgent, "A", "急", "urgent")).unwrap();
        assert!(other_kind.is_some());
        assert_eq!(open_alerts(&s).unwrap().len(), 3);
        let closed = s.commit(|tx| clear_tx::<()>(tx, AlertKind::ShelfGap, "A", "shelf restocked")).unwrap().unwrap();
        assert_eq!(closed.id, first.id);
        assert_eq!(closed.closed_reason.as_deref(), Some("shelf restocked"));
        assert!(raise("A").is_some(), "raised again once the first was cleared");
        let acked = acknowledge(&s, other_kind.unwrap().id, "mgr1").unwrap();
        assert_eq!(acked.acknowledged_by.as_deref(), Some("mgr1"));
        assert!(matches!(acknowledge(&s, acked.id, "mgr1"), Err(AlertError::AlreadyClosed { .. })));
        assert!(matches!(acknowledge(&s, 99, "mgr1"), Err(AlertError::Unknown(99))));
        let open: Vec<_> = open_alerts(&s).unwrap().into_iter().map(|a| (a.kind, a.sku)).collect();
        assert_eq!(open, vec![(AlertKind::ShelfGap, "B".to_string()), (AlertKind::ShelfGap, "A".to_string())]);
        let types: Vec<String> = s.outbox_batch(0, 100).unwrap().into_iter().map(|e| e.event_type).collect();
        assert_eq!(types.iter().filter(|t| *t == EVENT_ALERT_RAISED).count(), 4);
        assert_eq!(types.iter().filter(|t| *t == EVENT_ALERT_CLEARED).count(), 2);
    }
}
