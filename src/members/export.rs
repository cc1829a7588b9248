//! `storehub export members` and `storehub export points-ledger`: the rows, and their CSV form
//! (UTF-8 with a BOM, so Excel on a shop PC opens the Chinese names right, like the catalog
//! export). JSON is the rows serialised as they are.
//!
//! Phones are masked unless the owner asks for full numbers (`--full-phone`); birthdays and
//! consent times are not exported, only whether consent is given.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::points::{all_entries, PointsLedgerEntry};
use super::Member;
use crate::domain::phone;
use crate::store::{Store, StoreError, TreeId};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One row of `export members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub id: u64,
    /// Masked (`138****5678`) unless full phones were asked for.
    pub phone: String,
    pub name: String,
    pub tier: String,
    pub points: i64,
    pub points_debt: i64,
    pub stored_value_fen: i64,
    pub visits: u32,
    pub spend_fen: i64,
    pub registered_at: DateTime<Utc>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    pub sms_consent: bool,
    pub wechat_consent: bool,
}

impl MemberRow {
    pub fn of(m: &Member, full_phone: bool) -> MemberRow {
        MemberRow {
            id: m.id,
            phone: if full_phone { m.phone.clone() } else { phone::mask(&m.phone) },
            name: m.name.clone(),
            tier: m.tier.clone(),
            points: m.points,
            points_debt: m.points_debt,
            stored_value_fen: m.stored_value_fen,
            visits: m.stats.visits,
            spend_fen: m.stats.spend_fen,
            registered_at: m.registered_at,
            last_purchase_at: m.stats.last_purchase_at,
            sms_consent: m.consent.sms.is_some(),
            wechat_consent: m.consent.wechat.is_some(),
        }
    }
}

/// Every member as an export row, in id order.
pub fn member_rows(store: &Store, full_phone: bool) -> Result<Vec<MemberRow>, StoreError> {
    store.scan::<Member>(TreeId::Members).map(|r| r.map(|(_, m)| MemberRow::of(&m, full_phone))).collect()
}

/// Header of the members CSV.
pub const MEMBER_COLUMNS: [&str; 13] = [
    "id",
    "phone",
    "name",
    "tier",
    "points",
    "points_debt",
    "stored_value_fen",
    "visits",
    "spend_fen",
    "registered_at",
    "last_purchase_at",
    "sms_consent",
    "wechat_consent",
];

/// Writes member rows as CSV.
pub fn write_members_csv<W: Write>(rows: &[MemberRow], mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(UTF8_BOM)?;
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(MEMBER_COLUMNS)?;
    for r in rows {
        w.write_record([
            r.id.to_string().as_str(),
            &r.phone,
            &r.name,
            &r.tier,
            &r.points.to_string(),
            &r.points_debt.to_string(),
            &r.stored_value_fen.to_string(),
            &r.visits.to_string(),
            &r.spend_fen.to_string(),
            &r.registered_at.to_rfc3339(),
            &r.last_purchase_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            yes_no(r.sms_consent),
            yes_no(r.wechat_consent),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// One row of `export points-ledger`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub id: u64,
    pub member_id: u64,
    pub kind: crate::domain::loyalty::ledger::PointsEntryKind,
    pub delta: i64,
    pub debt_delta: i64,
    /// Shop-local time.
    pub at: chrono::NaiveDateTime,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub by: Option<String>,
}

impl LedgerRow {
    pub fn of(e: &PointsLedgerEntry) -> LedgerRow {
        LedgerRow {
            id: e.entry.id,
            member_id: e.entry.member_id,
            kind: e.entry.kind,
            delta: e.entry.delta,
            debt_delta: e.debt_delta,
            at: e.entry.at,
            reference: e.entry.reference.clone(),
            note: e.note.clone(),
            by: e.by.clone(),
        }
    }
}

/// Points ledger entries dated `from ..= to` (shop-local days; either bound optional), in id order.
pub fn ledger_rows(store: &Store, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Vec<LedgerRow>, StoreError> {
    let mut rows = Vec::new();
    for e in all_entries(store) {
        let e = e?;
        let day = e.entry.at.date();
        if from.is_none_or(|f| day >= f) && to.is_none_or(|t| day <= t) {
            rows.push(LedgerRow::of(&e));
        }
    }
    Ok(rows)
}

/// Header of the points-ledger CSV.
pub const LEDGER_COLUMNS: [&str; 9] = ["id", "member_id", "kind", "delta", "debt_delta", "at", "reference", "note", "by"];

/// Writes ledger rows as CSV.
pub fn write_ledger_csv<W: Write>(rows: &[LedgerRow], mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(UTF8_BOM)?;
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(LEDGER_COLUMNS)?;
    for r in rows {
        let kind = serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        w.write_record([
            r.id.to_string().as_str(),
            &r.member_id.to_string(),
            &kind,
            &r.delta.to_string(),
            &r.debt_delta.to_string(),
            &r.at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            r.reference.as_deref().unwrap_or_default(),
            r.note.as_deref().unwrap_or_default(),
            r.by.as_deref().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
