//! Control requests for staff performance, targets and commission (`storehub staff
//! performance`, `staff target …`, `staff commission …`), for the CLI with or without a daemon
//! and for the web's API, through this one handler.
//!
//! `Show` with a staff id answers what that person may see (`staff::performance`'s rule: their
//! own row and rank unless they may manage targets); without one it is the shop's whole table,
//! as for everything else run at the box itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ops::Context;
use super::Reply;
use crate::domain::commission::CommissionRules;
use crate::domain::performance::{StaffPeriod, Target};
use crate::domain::reports::Period;
use crate::domain::staff::Action;
use crate::staff::{commission, performance};
use crate::store::{CommitError, Store};

/// One performance or commission request. Periods are `2026-11-25`, `2026-W48` or `2026-11`;
/// absent means the current shop-local month.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PerfRequest {
    /// The performance table; with `staff`, as that person may see it.
    Show { period: Option<String>, staff: Option<String> },
    /// Set a staff member's target for a period (`by` needs ManageStaffTargets).
    TargetSet { staff: String, period: String, target: Target, by: String },
    /// The targets set for a period.
    Targets { period: Option<String> },
    /// The commission rules.
    RulesShow,
    /// Replace the commission rules (`by` needs ManageCommission).
    RulesSet { rules: CommissionRules, by: String },
    /// Everyone's commission for a period; `csv`: the payroll CSV as the payload.
    Commission { period: Option<String>, csv: bool },
}

fn refused<E: std::fmt::Display>(e: CommitError<E>) -> String {
    match e {
        CommitError::Rejected(e) => format!("{e}; nothing written"),
        CommitError::Store(e) => e.to_string(),
    }
}

/// The shop-local date today.
pub fn today(store: &Store, ctx: &Context) -> chrono::NaiveDate {
    crate::clock::local(store.clock().now(), ctx.tz).date()
}

/// A period as typed, or the current month.
pub fn period_or_month(store: &Store, ctx: &Context, period: Option<&str>) -> Result<StaffPeriod, String> {
    match period.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => StaffPeriod::parse(p).map_err(|e| e.to_string()),
        None => Ok(StaffPeriod::containing(Period::Month, today(store, ctx))),
    }
}

/// Applies one request.
pub fn handle(store: &Arc<Store>, ctx: &Context, req: PerfRequest) -> Result<Reply, String> {
    let s = |e: crate::store::StoreError| e.to_string();
    match req {
        PerfRequest::Show { period, staff } => {
            let period = period_or_month(store, ctx, period.as_deref())?;
            let report = performance::report(store, ctx.tz, &period).map_err(s)?;
            match staff {
                None => Ok(Reply::json(report)),
                Some(id) => {
                    let who = crate::staff::authorize(store, &id, Action::ClockIn).map_err(|e| e.to_string())?;
                    Ok(Reply::json(report.seen_by(&who)))
                }
            }
        }
        PerfRequest::TargetSet { staff, period, target, by } => {
            let period = StaffPeriod::parse(&period).map_err(|e| format!("{e}; nothing written"))?;
            let t = performance::set_target(store, &by, &staff, &period, target, today(store, ctx)).map_err(refused)?;
            Ok(Reply::json(t))
        }
        PerfRequest::Targets { period } => {
            let period = period_or_month(store, ctx, period.as_deref())?;
            Ok(Reply::json(json!({ "period": period.label(), "targets": performance::targets(store, &period).map_err(s)? })))
        }
        PerfRequest::RulesShow => Ok(Reply::json(commission::rules(store).map_err(s)?)),
        PerfRequest::RulesSet { rules, by } => Ok(Reply::json(commission::set_rules(store, &by, rules).map_err(refused)?)),
        PerfRequest::Commission { period, csv } => {
            let period = period_or_month(store, ctx, period.as_deref())?;
            let report = commission::report(store, ctx.tz, &period).map_err(s)?;
            if csv {
                let mut buf = Vec::new();
                commission::write_csv(&report, &mut buf).map_err(|e| format!("commission CSV: {e}"))?;
                let file = format!("commission-{}.csv", report.period);
                return Ok(Reply { result: json!({ "file": file, "rows": report.rows.len() }), payload: Some(buf) });
            }
            Ok(Reply::json(report))
        }
    }
}
