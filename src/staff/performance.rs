//! Staff performance (员工绩效): figures per staff member and period gathered from sales,
//! returns, voids, member registrations, stored-value top-ups and service tickets, targets per
//! period (`TreeId::StaffTargets`), and the ranking. Arithmetic and who is credited with what
//! in `domain::performance`.
//!
//! Boundary: this module reads; the only thing it writes is a target (with its
//! `storehub.staff.target_set` event, ids and figures only). What a person may see is decided
//! here once, in [`PerformanceReport::seen_by`]: without `ManageStaffTargets` only their own
//! row and rank, never another person's figures (the page, the API and the CLI all use it).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{StaffError, StaffRef};
use crate::checkout::sale::Sale;
use crate::domain::channel::SalesChannel;
use crate::domain::loyalty::stored_value::{StoredValueEntry, StoredValueKind};
use crate::domain::performance::{self as perf, PerformanceAcc, Progress, SoldTicket, StaffFigures, StaffPeriod, TakenReturn, Target, TargetError};
use crate::domain::pricing::Quantity;
use crate::domain::reports::Period;
use crate::domain::staff::Action;
use crate::members::Member;
use crate::reports::facts::{self, Sinks};
use crate::store::{CommitError, Record, Store, StoreError, TreeId, TxError};

/// A target was set or replaced (data: [`TargetSet`]).
pub const EVENT_STAFF_TARGET_SET: &str = "storehub.staff.target_set";

/// A stored target (`TreeId::StaffTargets`, key: period label ++ 0 ++ staff id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffTarget {
    pub staff: String,
    /// `2026-11-25`, `2026-W48` or `2026-11`.
    pub period: String,
    pub target: Target,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

impl Record for StaffTarget {
    const NAME: &'static str = "staff target";
}

/// Data of `storehub.staff.target_set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSet {
    pub staff: String,
    pub period: String,
    pub sales_fen: Option<i64>,
    pub tickets: Option<u64>,
    pub new_members: Option<u64>,
    pub by: String,
}

/// Why a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum PerformanceError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Staff(#[from] StaffError),
    /// The staff member the target is for has no account.
    #[error("target: no staff account {0}; `storehub staff list` shows the accounts")]
    UnknownStaff(String),
}

fn target_key(period: &str, staff: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(period.len() + 1 + staff.len());
    k.extend_from_slice(period.as_bytes());
    k.push(0);
    k.extend_from_slice(staff.as_bytes());
    k
}

/// Sets (or replaces) `staff`'s target for `period`, by `by` (who needs `ManageStaffTargets`),
/// on shop-local `today`. A period that ended before today is refused; nothing is written then.
pub fn set_target(
    store: &Store,
    by: &str,
    staff: &str,
    period: &StaffPeriod,
    target: Target,
    today: NaiveDate,
) -> Result<StaffTarget, CommitError<PerformanceError>> {
    perf::check_target(&target, period, today).map_err(|e| CommitError::Rejected(e.into()))?;
    let label = period.label();
    store.commit(|tx| {
        let who = super::authorize_in_tx::<PerformanceError>(tx, by, Action::ManageStaffTargets)?;
        if tx.get::<super::StaffAccount, PerformanceError>(TreeId::Staff, staff.as_bytes())?.is_none() {
            return Err(TxError::Rejected(PerformanceError::UnknownStaff(staff.to_string())));
        }
        let t = StaffTarget { staff: staff.to_string(), period: label.clone(), target, set_by: who.id.clone(), set_at: tx.now() };
        tx.put(TreeId::StaffTargets, &target_key(&label, staff), &t)?;
        let data = TargetSet {
            staff: staff.to_string(),
            period: label.clone(),
            sales_fen: target.sales_fen,
            tickets: target.tickets,
            new_members: target.new_members,
            by: who.id,
        };
        tx.emit(EVENT_STAFF_TARGET_SET, Some(staff), &data)?;
        Ok(t)
    })
}

/// Every target set for `period`, by staff id.
pub fn targets(store: &Store, period: &StaffPeriod) -> Result<Vec<StaffTarget>, StoreError> {
    let mut prefix = period.label().into_bytes();
    prefix.push(0);
    store.scan_prefix::<StaffTarget>(TreeId::StaffTargets, &prefix).map(|r| r.map(|(_, t)| t)).collect()
}

/// Pieces of a sold line: a weighed line is one item.
fn items_of(q: Quantity) -> i64 {
    match q {
        Quantity::Units(n) => n,
        Quantity::Grams(_) => 1,
    }
}

/// Every staff member's figures for `period` (shop-local in `tz`), by staff id. Sales that did
/// not happen at a lane (online orders) are nobody's.
pub fn figures(store: &Store, tz: chrono_tz::Tz, period: &StaffPeriod) -> Result<Vec<StaffFigures>, StoreError> {
    let range = period.range();
    let bounds = facts::bounds(&range, tz);
    let mut acc = PerformanceAcc::default();
    facts::each_between::<Sale>(store, TreeId::Sales, bounds, |s| s.at, |s| {
        if s.channel != SalesChannel::InStore {
            return;
        }
        let lines: Vec<(&str, i64)> = s
            .lines
            .iter()
            .map(|l| (l.category.as_str(), s.priced.lines.iter().find(|p| p.line_no == l.line_no).map_or(0, |p| p.net_fen)))
            .collect();
        let items = s.lines.iter().fold(0i64, |n, l| n.saturating_add(items_of(l.qty)));
        let coupons = u64::try_from(s.coupons.len()).unwrap_or(u64::MAX);
        acc.sale(&SoldTicket { cashier: &s.cashier, total_fen: s.priced.total_fen, items, coupons, lines });
    })?;
    let mut on_return = |r: &crate::domain::reports::ReturnFact| {
        let lines: Vec<(&str, i64)> = r.lines.iter().map(|l| (l.category.as_str(), l.refund_fen)).collect();
        acc.ret(&TakenReturn { by: &r.by, refund_fen: r.refund_fen, seller: r.sale.as_ref().map(|s| s.cashier.as_str()), lines });
    };
    facts::feed(store, tz, &range, Sinks { ret: Some(&mut on_return), ..Sinks::default() })?;
    let mut on_void = |v: &crate::domain::reports::VoidFact| acc.void(v.cashier.as_deref(), v.value_fen);
    facts::feed(store, tz, &range, Sinks { void: Some(&mut on_void), ..Sinks::default() })?;
    facts::each_between::<Member>(store, TreeId::Members, bounds, |m| m.registered_at, |m| {
        if let Some(by) = &m.registered_by {
            acc.registered(by);
        }
    })?;
    // Stored-value entries carry shop-local times: their bounds are the period's local midnights.
    let local = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    let local_bounds = (local(range.from), local(range.to + chrono::Duration::days(1)));
    facts::each_between::<StoredValueEntry>(store, TreeId::StoredValue, local_bounds, |e| e.at.and_utc(), |e| {
        if let (StoredValueKind::TopUp, Some(by)) = (e.kind, &e.by) {
            acc.topup(by, e.delta_fen);
        }
    })?;
    for t in crate::members::tickets::all_tickets(store)? {
        let (Some(score), Some(at)) = (t.satisfaction, t.rated_at) else { continue };
        if at < bounds.0 || at >= bounds.1 {
            continue;
        }
        if let Some(staff) = t.resolved_by.as_deref().or(t.assignee.as_deref()) {
            acc.rating(staff, score);
        }
    }
    Ok(acc.finish())
}

/// One row of the performance table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PerformanceRow {
    /// 1 = most sales (ties by tickets).
    pub rank: u32,
    /// The staff member's name ("" for an id that is no account).
    pub name: String,
    #[serde(flatten)]
    pub figures: StaffFigures,
    pub target: Option<Target>,
    pub progress: Option<Progress>,
}

/// The performance table of a period, or the part of it one person may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PerformanceReport {
    /// `2026-11-25`, `2026-W48` or `2026-11`.
    pub period: String,
    /// `day`, `week` or `month`.
    #[schema(value_type = String)]
    pub kind: Period,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// How many staff are ranked.
    pub ranked: u32,
    /// Every row (managers), or only the viewer's own.
    pub rows: Vec<PerformanceRow>,
    /// Whether `rows` is the whole table.
    pub full: bool,
}

impl PerformanceReport {
    /// What `viewer` may see: everything with `ManageStaffTargets`; otherwise only their own
    /// row (with its rank and `ranked`), even when they have no figures.
    pub fn seen_by(mut self, viewer: &StaffRef) -> PerformanceReport {
        if viewer.may(Action::ManageStaffTargets) {
            return self;
        }
        self.rows.retain(|r| r.figures.staff == viewer.id);
        self.full = false;
        self
    }

    /// The viewer's row, if they are in the table.
    pub fn row_of(&self, staff: &str) -> Option<&PerformanceRow> {
        self.rows.iter().find(|r| r.figures.staff == staff)
    }
}

/// The whole table for `period`: everyone with figures, and every active account that may
/// sell (with zeros), ranked by sales, ties by tickets; targets and progress where set.
pub fn report(store: &Store, tz: chrono_tz::Tz, period: &StaffPeriod) -> Result<PerformanceReport, StoreError> {
    let names: BTreeMap<String, (String, bool)> = super::list_staff(store)?
        .into_iter()
        .map(|s| (s.id, (s.name, s.active && crate::domain::staff::allows(s.role, Action::Sell))))
        .collect();
    let mut rows = figures(store, tz, period)?;
    for (id, (_, sells)) in &names {
        if *sells && !rows.iter().any(|r| &r.staff == id) {
            rows.push(PerformanceAcc::idle(id));
        }
    }
    let targets: BTreeMap<String, Target> = targets(store, period)?.into_iter().map(|t| (t.staff, t.target)).collect();
    let ranked = perf::rank(rows);
    let n = u32::try_from(ranked.len()).unwrap_or(u32::MAX);
    let rows = ranked
        .into_iter()
        .map(|(rank, figures)| {
            let target = targets.get(&figures.staff).copied();
            PerformanceRow {
                rank,
                name: names.get(&figures.staff).map(|(n, _)| n.clone()).unwrap_or_default(),
                progress: target.map(|t| perf::progress(&figures, &t)),
                target,
                figures,
            }
        })
        .collect();
    Ok(PerformanceReport { period: period.label(), kind: period.kind, from: period.from, to: period.to, ranked: n, rows, full: true })
}
