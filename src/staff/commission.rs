//! Commission (提成): the shop's stored rules (`TreeId::CommissionRules`, one record written
//! whole), the commission of every staff member for a period, and its CSV for payroll.
//! Arithmetic and rounding in `domain::commission`; the bases (net sales by category, members
//! registered, top-ups taken) are `staff::performance`'s figures, so a return made in a period
//! lowers the commission of that period.
//!
//! Boundary: rules change only through [`set_rules`] (`ManageCommission`, checked in the
//! commit, with `storehub.commission.rules_changed`); computing writes nothing.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::performance::figures;
use super::StaffError;
use crate::domain::commission::{self as rules_math, Commission, CommissionBase, CommissionRules, RulesError};
use crate::domain::performance::StaffPeriod;
use crate::domain::staff::Action;
use crate::store::{CommitError, Record, Store, StoreError, TreeId, TxError};

/// The rules were replaced (data: [`RulesChanged`]).
pub const EVENT_COMMISSION_RULES_CHANGED: &str = "storehub.commission.rules_changed";

const RULES_KEY: &[u8] = b"current";

/// The stored rules with who changed them last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionRuleSet {
    pub rules: CommissionRules,
    /// `None` until someone sets rules (then there is no commission).
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl Record for CommissionRuleSet {
    const NAME: &'static str = "commission rules";
}

/// Data of `storehub.commission.rules_changed`: the new rules and who set them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesChanged {
    pub rules: CommissionRules,
    pub by: String,
}

/// Why rules were refused.
#[derive(Debug, thiserror::Error)]
pub enum CommissionError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Staff(#[from] StaffError),
}

/// The shop's rules (all zero until set).
pub fn rules(store: &Store) -> Result<CommissionRuleSet, StoreError> {
    Ok(store.get::<CommissionRuleSet>(TreeId::CommissionRules, RULES_KEY)?.unwrap_or_default())
}

/// Replaces the rules, by `by` (who needs `ManageCommission`). Refused rules write nothing.
pub fn set_rules(store: &Store, by: &str, new: CommissionRules) -> Result<CommissionRuleSet, CommitError<CommissionError>> {
    rules_math::check_rules(&new).map_err(|e| CommitError::Rejected(e.into()))?;
    store.commit(|tx| {
        let who = super::authorize_in_tx::<CommissionError>(tx, by, Action::ManageCommission)?;
        let set = CommissionRuleSet { rules: new.clone(), changed_by: Some(who.id.clone()), changed_at: Some(tx.now()) };
        tx.put(TreeId::CommissionRules, RULES_KEY, &set)?;
        tx.emit::<CommissionError>(EVENT_COMMISSION_RULES_CHANGED, None, &RulesChanged { rules: new.clone(), by: who.id })?;
        Ok::<_, TxError<CommissionError>>(set)
    })
}

/// One staff member's commission for the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionRow {
    pub staff: String,
    pub name: String,
    #[serde(flatten)]
    pub commission: Commission,
}

/// The commission of everyone with figures in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionReport {
    pub period: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub rules: CommissionRules,
    /// By staff id.
    pub rows: Vec<CommissionRow>,
    pub total_fen: i64,
}

/// Works out every staff member's commission for `period` with the stored rules.
pub fn report(store: &Store, tz: chrono_tz::Tz, period: &StaffPeriod) -> Result<CommissionReport, StoreError> {
    let set = rules(store)?;
    let names: std::collections::BTreeMap<String, String> = super::list_staff(store)?.into_iter().map(|s| (s.id, s.name)).collect();
    let rows: Vec<CommissionRow> = figures(store, tz, period)?
        .into_iter()
        .map(|f| {
            let base = CommissionBase { net_sales_by_category: f.net_sales_by_category, members_registered: f.members_registered, topup_fen: f.topup_fen };
            CommissionRow { name: names.get(&f.staff).cloned().unwrap_or_default(), staff: f.staff, commission: rules_math::compute(&set.rules, &base) }
        })
        .collect();
    let total_fen = rows.iter().fold(0i64, |s, r| s.saturating_add(r.commission.total_fen));
    Ok(CommissionReport { period: period.label(), from: period.from, to: period.to, rules: set.rules, rows, total_fen })
}

/// The payroll CSV (UTF-8 with BOM, for spreadsheet programs): `staff_id, staff_name, period`,
/// then a `<rule>_base` and `<rule>_fen` column per rule in line order
/// (`category:<name>`, `other_categories`, `new_members`, `topups`), then `total_fen`.
pub fn write_csv<W: Write>(report: &CommissionReport, mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = ::csv::Writer::from_writer(out);
    let mut header = vec!["staff_id".to_string(), "staff_name".to_string(), "period".to_string()];
    for rule in rules_math::rule_names(&report.rules) {
        header.push(format!("{rule}_base"));
        header.push(format!("{rule}_fen"));
    }
    header.push("total_fen".into());
    w.write_record(&header)?;
    for r in &report.rows {
        let mut rec = vec![r.staff.clone(), r.name.clone(), report.period.clone()];
        for l in &r.commission.lines {
            rec.push(l.base.to_string());
            rec.push(l.amount_fen.to_string());
        }
        rec.push(r.commission.total_fen.to_string());
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}
