//! Control requests for attendance (`storehub attendance …`): clock in and out with a PIN,
//! schedules, the records with their flags, corrections, hours per period. The CLI sends them to
//! the daemon or applies them itself, through this one handler; the web calls the same
//! `staff::attendance` functions.
//!
//! Reads name who asks (`by`): a manager (`ManageAttendance`) sees anyone, everyone else only
//! themselves, the same rule as the page and the API (`staff::attendance::scope`).

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ops::Context;
use super::Reply;
use crate::config::Secret;
use crate::domain::attendance::Period;
use crate::staff::attendance::{self as att, AttendanceError, CorrectionRequest, ScheduleEntry};
use crate::store::Store;

/// One attendance request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AttendanceRequest {
    ClockIn { staff: String, pin: Secret },
    ClockOut { staff: String, pin: Secret },
    ScheduleSet { staff: String, days: Vec<ScheduleEntry>, by: String },
    Schedules { staff: Option<String>, from: NaiveDate, to: NaiveDate, by: String },
    /// Days with flags and minutes, and the clock records.
    Records { staff: Option<String>, from: NaiveDate, to: NaiveDate, by: String },
    Correct { correction: CorrectionRequest, by: String },
    Hours { staff: Option<String>, from: NaiveDate, to: NaiveDate, period: Period, by: String },
}

fn refused(e: AttendanceError) -> String {
    match e {
        AttendanceError::Store(e) => e.to_string(),
        other => format!("{other}; nothing changed"),
    }
}

/// Applies one attendance request.
pub fn handle(store: &Arc<Store>, ctx: &Context, req: AttendanceRequest) -> Result<Reply, String> {
    let rules = ctx.attendance.rules();
    let tz = ctx.tz;
    match req {
        AttendanceRequest::ClockIn { staff, pin } => Ok(Reply::json(att::clock_in(store, &rules, tz, &staff, pin.expose()).map_err(refused)?)),
        AttendanceRequest::ClockOut { staff, pin } => Ok(Reply::json(att::clock_out(store, &rules, tz, &staff, pin.expose()).map_err(refused)?)),
        AttendanceRequest::ScheduleSet { staff, days, by } => Ok(Reply::json(att::set_schedule(store, tz, &by, &staff, &days).map_err(refused)?)),
        AttendanceRequest::Schedules { staff, from, to, by } => {
            let who = att::scope_for_id(store, &by, staff.as_deref()).map_err(refused)?;
            att::check_range(from, to).map_err(refused)?;
            Ok(Reply::json(att::schedules(store, who.as_deref(), from, to).map_err(|e| e.to_string())?))
        }
        AttendanceRequest::Records { staff, from, to, by } => {
            let who = att::scope_for_id(store, &by, staff.as_deref()).map_err(refused)?;
            Ok(Reply::json(att::report(store, &rules, tz, who.as_deref(), from, to).map_err(refused)?))
        }
        AttendanceRequest::Correct { correction, by } => Ok(Reply::json(att::correct_in(store, tz, &by, &correction).map_err(refused)?)),
        AttendanceRequest::Hours { staff, from, to, period, by } => {
            let who = att::scope_for_id(store, &by, staff.as_deref()).map_err(refused)?;
            Ok(Reply::json(att::hours(store, &rules, tz, who.as_deref(), from, to, period).map_err(refused)?))
        }
    }
}
