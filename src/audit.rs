//! The audit log of privileged actions (审计日志): who did what that a shop owner, HQ or a
//! regulator may later ask about — staff accounts changed, prices overridden at the till,
//! refunds without a receipt, member data exported or erased, the PII key rotated, the box
//! provisioned, paired or rolled back, a diagnostic bundle collected, the clock's mark reset.
//!
//! An entry is written inside the same commit as the action it records ([`record_tx`]), with a
//! `storehub.audit.recorded` outbox event (business class: HQ keeps the chain's audit trail), so
//! an action without its entry, or an entry without its action, cannot exist. The log is
//! append-only: nothing in the code updates or deletes an entry (a member erasure keeps the
//! entries about that member; they carry ids, never names or phone numbers).
//!
//! Entries carry **no personal data**: `subject` is an id (staff id, member id, sale id, sku),
//! `detail` a short machine-made text (amounts, reasons chosen from a list, counts). Callers
//! must never put a phone number, a name or a free-text note into either.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{codec, Record, Store, StoreError, TreeId, Tx, TxError};

/// Outbox event of every audit entry (data: [`AuditEntry`]).
pub const EVENT_AUDIT_RECORDED: &str = "storehub.audit.recorded";

/// Longest `detail` kept; longer texts are cut at a character boundary (an entry is a line in
/// a list, not a document).
pub const MAX_DETAIL_LEN: usize = 400;

/// What was done. One name per privileged action, used in the API, the page and HQ's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A staff account was created.
    StaffCreated,
    /// A staff member's role changed.
    StaffRoleChanged,
    /// A staff account was deactivated.
    StaffDeactivated,
    /// A locked staff account was unlocked by a manager.
    StaffUnlocked,
    /// A staff member's password or PIN was reset by someone else.
    StaffCredentialReset,
    /// A line's price was overridden at the till.
    PriceOverride,
    /// A refund was given without the original receipt.
    RefundWithoutReceipt,
    /// Everything stored about a member was exported (PIPL access request).
    MemberExported,
    /// A member's personal data was erased (PIPL deletion request).
    MemberErased,
    /// The key that encrypts members' personal data was rotated.
    PiiKeyRotated,
    /// The box was provisioned (by a technician, or from a USB stick).
    Provisioned,
    /// The box was paired with HQ.
    Paired,
    /// The database was rolled back to a pre-upgrade backup.
    RolledBack,
    /// A backup was restored over the database.
    BackupRestored,
    /// A diagnostic bundle was collected (for HQ or a technician).
    DiagCollected,
    /// A config change was applied (HQ's `config.patch`).
    ConfigChanged,
    /// The clock's high-water mark was lowered (it had been written by a clock that ran ahead).
    ClockMarkReset,
}

impl AuditAction {
    /// Every action, for filters and the page's legend.
    pub const ALL: [AuditAction; 17] = [
        AuditAction::StaffCreated,
        AuditAction::StaffRoleChanged,
        AuditAction::StaffDeactivated,
        AuditAction::StaffUnlocked,
        AuditAction::StaffCredentialReset,
        AuditAction::PriceOverride,
        AuditAction::RefundWithoutReceipt,
        AuditAction::MemberExported,
        AuditAction::MemberErased,
        AuditAction::PiiKeyRotated,
        AuditAction::Provisioned,
        AuditAction::Paired,
        AuditAction::RolledBack,
        AuditAction::BackupRestored,
        AuditAction::DiagCollected,
        AuditAction::ConfigChanged,
        AuditAction::ClockMarkReset,
    ];

    /// The snake_case name (as in JSON and the event).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::StaffCreated => "staff_created",
            AuditAction::StaffRoleChanged => "staff_role_changed",
            AuditAction::StaffDeactivated => "staff_deactivated",
            AuditAction::StaffUnlocked => "staff_unlocked",
            AuditAction::StaffCredentialReset => "staff_credential_reset",
            AuditAction::PriceOverride => "price_override",
            AuditAction::RefundWithoutReceipt => "refund_without_receipt",
            AuditAction::MemberExported => "member_exported",
            AuditAction::MemberErased => "member_erased",
            AuditAction::PiiKeyRotated => "pii_key_rotated",
            AuditAction::Provisioned => "provisioned",
            AuditAction::Paired => "paired",
            AuditAction::RolledBack => "rolled_back",
            AuditAction::BackupRestored => "backup_restored",
            AuditAction::DiagCollected => "diag_collected",
            AuditAction::ConfigChanged => "config_changed",
            AuditAction::ClockMarkReset => "clock_mark_reset",
        }
    }

    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One audit entry (`TreeId::Audit`, key = id as u64 BE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Sequence number, from 1, without gaps.
    pub id: u64,
    /// When (the commit's time).
    pub at: DateTime<Utc>,
    /// Who: a staff id, `hq` for HQ's commands, `cli` for a root shell on the box, `usb` for a
    /// provisioning stick, `system` for the daemon itself.
    pub actor: String,
    pub action: AuditAction,
    /// What it was done to: an id (staff id, member id, sale id, sku), never a name or phone.
    pub subject: Option<String>,
    /// A short machine-made description (amounts, counts, the reason code); no personal data.
    pub detail: String,
}

impl Record for AuditEntry {
    const NAME: &'static str = "audit entry";
}

/// Writes an audit entry and its `storehub.audit.recorded` event inside `tx`, the commit of the
/// action it records. Returns the entry's id.
pub fn record_tx<E>(
    tx: &Tx,
    actor: &str,
    action: AuditAction,
    subject: Option<&str>,
    detail: &str,
) -> Result<u64, TxError<E>> {
    let id = tx.next_seq(TreeId::Audit)?;
    let entry = AuditEntry {
        id,
        at: tx.now(),
        actor: actor.to_string(),
        action,
        subject: subject.map(str::to_string),
        detail: cut(detail, MAX_DETAIL_LEN).to_string(),
    };
    tx.put(TreeId::Audit, &codec::u64_key(id), &entry)?;
    tx.emit(EVENT_AUDIT_RECORDED, entry.subject.as_deref(), &entry)?;
    Ok(id)
}

/// Records an action that has no commit of its own (an export, a diagnostic bundle): one commit
/// holding the entry and its event.
pub fn record(store: &Store, actor: &str, action: AuditAction, subject: Option<&str>, detail: &str) -> Result<u64, StoreError> {
    store
        .commit(|tx| record_tx::<std::convert::Infallible>(tx, actor, action, subject, detail))
        .map_err(|e| match e {
            crate::store::CommitError::Store(e) => e,
            crate::store::CommitError::Rejected(never) => match never {},
        })
}

/// Which entries to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only entries with this subject (an id).
    pub subject: Option<String>,
    /// Only entries older than this id (paging: pass the last id of the previous page).
    pub before: Option<u64>,
    /// At most this many (default 100, at most 1 000).
    pub limit: Option<usize>,
}

/// Entries newest first, filtered.
pub fn list(store: &Store, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let mut out = Vec::new();
    for item in store.scan_rev::<AuditEntry>(TreeId::Audit) {
        let (_, entry) = item?;
        if filter.before.is_some_and(|b| entry.id >= b) {
            continue;
        }
        if filter.action.is_some_and(|a| a != entry.action) {
            continue;
        }
        if filter.subject.as_deref().is_some_and(|s| entry.subject.as_deref() != Some(s)) {
            continue;
        }
        out.push(entry);
        if out.len() == limit {
            break;
        }
    }
    Ok(out)
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn an_entry_and_its_event_commit_together_and_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-26T08:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        record(&store, "s1", AuditAction::StaffCreated, Some("s2"), "role cashier").unwrap();
        record(&store, "cli", AuditAction::MemberExported, Some("7"), "").unwrap();
        record(&store, "s1", AuditAction::PriceOverride, Some("6901234567892"), "1200 → 990 fen").unwrap();

        let all = list(&store, &AuditFilter::default()).unwrap();
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(all[1].action, AuditAction::MemberExported);
        let only = list(&store, &AuditFilter { action: Some(AuditAction::StaffCreated), ..Default::default() }).unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].subject.as_deref(), Some("s2"));
        let page = list(&store, &AuditFilter { before: Some(3), limit: Some(1), ..Default::default() }).unwrap();
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![2]);

        let events = store.outbox_batch(0, 10).unwrap();
        assert_eq!(events.iter().filter(|e| e.event_type == EVENT_AUDIT_RECORDED).count(), 3);
    }

    #[test]
    fn names_round_trip_and_long_details_are_cut_at_a_character() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::Value::String(a.as_str().into()));
        }
        // "价" is 3 bytes: 134 of them are 402 bytes; the cut keeps 133 (399 bytes).
        let long = "价".repeat(134);
        assert_eq!(cut(&long, MAX_DETAIL_LEN).len(), 399);
    }
}
