//! Attendance (考勤): schedules per staff member (`TreeId::StaffSchedules`), clock in and out with
//! a PIN at the cashier screen or the dashboard (`TreeId::Attendance`), flags (late, early
//! leave, missing clock-out) and hours per period from `domain::attendance`, and manager
//! corrections with an audit trail.
//!
//! Storage: `staff_schedules` holds staff id ++ 0 ++ `YYYY-MM-DD` → [`ScheduleDay`];
//! `attendance` holds staff id ++ 0 ++ the record id (u64 BE: the original clock-in in Unix
//! milliseconds) → [`AttendanceRecord`], which keeps the times as first clocked and every
//! correction (who, when, why, before and after). `meta` `attendance_open/<staff>` names the
//! record a staff member is clocked in on, written and removed with it, so "clocked in twice"
//! is one read inside the commit. The PIN is verified like the lane login (`staff::login_pin`,
//! with its lockout) before, and outside, the commit. Events carry ids and times only.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{authorize_in_tx, LoginError, StaffAccount, StaffError, StaffRef};
use crate::domain::attendance::{
    self as rules, evaluate, hours_by_period, AttendanceRules, DayAttendance, Period, PeriodHours, PlanError, PlannedShift, Punch,
};
use crate::domain::staff::Action;
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// Someone clocked in (data: [`ClockEvent`]).
pub const EVENT_CLOCKED_IN: &str = "storehub.attendance.clocked_in";
/// Someone clocked out (data: [`ClockEvent`] with `minutes`).
pub const EVENT_CLOCKED_OUT: &str = "storehub.attendance.clocked_out";
/// A manager corrected a clock record (data: [`CorrectedEvent`]; never the reason's text).
pub const EVENT_CORRECTED: &str = "storehub.attendance.corrected";
/// A manager set schedule days (data: [`ScheduleSetEvent`]).
pub const EVENT_SCHEDULE_SET: &str = "storehub.attendance.schedule_set";

/// Prefix of the open-clock index keys in `meta`.
const OPEN_PREFIX: &str = "attendance_open/";
/// Longest correction reason, in characters.
pub const REASON_MAX_CHARS: usize = 200;

/// One planned day of one staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScheduleDay {
    pub staff: String,
    #[schema(value_type = String, example = "2026-11-30")]
    pub date: NaiveDate,
    #[schema(value_type = String, example = "22:00:00")]
    pub start: NaiveTime,
    /// At or before `start`: ends the next day.
    #[schema(value_type = String, example = "06:00:00")]
    pub end: NaiveTime,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

impl Record for ScheduleDay {
    const NAME: &'static str = "staff schedule day";
}

impl ScheduleDay {
    pub fn shift(&self) -> PlannedShift {
        PlannedShift { date: self.date, start: self.start, end: self.end }
    }
}

/// One manager correction of a clock record: the times before and after, who, when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Correction {
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    /// `None`: the record did not exist before (a forgotten clock-in entered by a manager).
    pub clock_in_before: Option<DateTime<Utc>>,
    pub clock_out_before: Option<DateTime<Utc>>,
    pub clock_in_after: DateTime<Utc>,
    pub clock_out_after: Option<DateTime<Utc>>,
}

/// One clock-in (and its clock-out), with the times as first clocked and every correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttendanceRecord {
    /// The original clock-in in Unix milliseconds (part of the key; never changes).
    pub id: u64,
    pub staff: String,
    /// The times that count (after corrections).
    pub clock_in: DateTime<Utc>,
    pub clock_out: Option<DateTime<Utc>>,
    /// As clocked by the staff member (`None` when a manager entered it).
    pub clocked_in: Option<DateTime<Utc>>,
    pub clocked_out: Option<DateTime<Utc>>,
    pub corrections: Vec<Correction>,
}

impl Record for AttendanceRecord {
    const NAME: &'static str = "attendance record";
}

impl AttendanceRecord {
    pub fn punch(&self) -> Punch {
        Punch { id: self.id, clock_in: self.clock_in, clock_out: self.clock_out }
    }
}

/// Index entry in `meta`: the record a staff member is clocked in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct OpenClock {
    record: u64,
}

impl Record for OpenClock {
    const NAME: &'static str = "open clock index";
}

/// Data of `storehub.attendance.clocked_in` / `clocked_out`.
#[derive(Debug, Clone, Serialize)]
pub struct ClockEvent<'a> {
    pub staff: &'a str,
    pub record: u64,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
}

/// Data of `storehub.attendance.corrected`.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectedEvent<'a> {
    pub staff: &'a str,
    pub record: u64,
    pub by: &'a str,
    pub clock_in: DateTime<Utc>,
    pub clock_out: Option<DateTime<Utc>>,
}

/// Data of `storehub.attendance.schedule_set`.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleSetEvent<'a> {
    pub staff: &'a str,
    pub by: &'a str,
    pub days: &'a [ScheduleEntry],
}

/// One day of a schedule change: a shift (`start` and `end`) or a day off (neither).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    #[schema(value_type = String, example = "2026-11-30")]
    pub date: NaiveDate,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "22:00")]
    pub start: Option<NaiveTime>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "06:00")]
    pub end: Option<NaiveTime>,
}

/// A manager's correction: `record` to change (its id), or none to enter a forgotten one
/// (then both times are needed); the times to set; the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    pub staff: String,
    #[serde(default)]
    pub record: Option<u64>,
    #[serde(default)]
    pub clock_in: Option<DateTime<Utc>>,
    #[serde(default)]
    pub clock_out: Option<DateTime<Utc>>,
    pub reason: String,
}

/// Why an attendance operation was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum AttendanceError {
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error("staff {staff} is already clocked in since {since} (shop time); clock out first")]
    AlreadyClockedIn { staff: String, since: String },
    #[error("staff {staff} is not clocked in; clock in first (a forgotten clock-in is entered by a manager: `storehub attendance correct`)")]
    NotClockedIn { staff: String },
    #[error("the clock-in of {since} (shop time) passed its clock-out deadline {deadline} and is flagged \"missing clock-out\"; ask a manager to correct it (`storehub attendance correct`), then clock in again")]
    PastDeadline { since: String, deadline: String },
    #[error("schedule for {date}: that day is past (today is {today}); schedules are set from today on")]
    PastDay { date: NaiveDate, today: NaiveDate },
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("schedule for {0}: give both start and end for a shift, or neither for a day off")]
    HalfShift(NaiveDate),
    #[error("days: {0}")]
    BadWeek(String),
    #[error("reason: must be 1 to {REASON_MAX_CHARS} characters without control characters, got {0}")]
    BadReason(usize),
    #[error("no clock record {id} of staff {staff}; `storehub attendance list --staff {staff}` shows the records and their ids")]
    UnknownRecord { staff: String, id: u64 },
    #[error("{0}")]
    BadTimes(String),
    #[error("clock_in, clock_out: {from} → {to} overlaps clock record {other} ({other_from} → {other_to}, shop time) of the same person; correct that record instead")]
    Overlaps { other: u64, from: String, to: String, other_from: String, other_to: String },
    #[error("staff {by} may see only their own attendance, not {staff}'s")]
    OnlyOwn { by: String, staff: String },
    #[error("{0}")]
    BadRange(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CommitError<AttendanceError>> for AttendanceError {
    fn from(e: CommitError<AttendanceError>) -> Self {
        match e {
            CommitError::Rejected(e) => e,
            CommitError::Store(e) => AttendanceError::Store(e),
        }
    }
}

fn reject<T>(e: AttendanceError) -> Result<T, TxError<AttendanceError>> {
    Err(TxError::Rejected(e))
}

fn schedule_key(staff: &str, date: NaiveDate) -> Vec<u8> {
    let mut k = staff.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
    k
}

fn record_key(staff: &str, id: u64) -> Vec<u8> {
    let mut k = staff.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn staff_prefix(staff: &str) -> Vec<u8> {
    let mut k = staff.as_bytes().to_vec();
    k.push(0);
    k
}

fn open_key(staff: &str) -> Vec<u8> {
    format!("{OPEN_PREFIX}{staff}").into_bytes()
}

fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

fn shop_time(at: DateTime<Utc>, tz: Tz) -> String {
    crate::clock::local(at, tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The planned shift a clock-in belongs to, read inside a commit: the schedules of its local
/// day and the day before (a night shift).
fn shift_in_tx(tx: &Tx, staff: &str, clock_in: DateTime<Utc>, tz: Tz) -> Result<Option<PlannedShift>, TxError<AttendanceError>> {
    let day = rules::local_date(clock_in, tz);
    let mut shifts = Vec::new();
    for date in [day.pred_opt(), Some(day), day.succ_opt()].into_iter().flatten() {
        if let Some(s) = tx.get::<ScheduleDay, AttendanceError>(TreeId::StaffSchedules, &schedule_key(staff, date))? {
            shifts.push(s.shift());
        }
    }
    Ok(rules::shift_for(clock_in, &shifts, tz).copied())
}

/// A free record id at or after `at` (two records of one staff member in the same millisecond
/// are one apart).
fn free_id(tx: &Tx, staff: &str, at: DateTime<Utc>) -> Result<u64, TxError<AttendanceError>> {
    let mut id = millis(at);
    while tx.get_raw::<AttendanceError>(TreeId::Attendance, &record_key(staff, id))?.is_some() {
        id += 1;
    }
    Ok(id)
}

/// Verifies `staff`'s PIN (outside any commit, with the login lockout) and that the account may
/// clock in.
fn verify(store: &Store, staff: &str, pin: &str) -> Result<StaffRef, AttendanceError> {
    let who = super::login_pin(store, staff, pin)?;
    if !who.may(Action::ClockIn) {
        return Err(StaffError::Forbidden { id: who.id.clone(), role: who.role.as_str(), action: Action::ClockIn }.into());
    }
    Ok(who)
}

/// Clocks `staff` in now, with their PIN. Refused while they are clocked in (unless that record
/// passed its clock-out deadline: it stays flagged "missing clock-out").
pub fn clock_in(store: &Store, rules: &AttendanceRules, tz: Tz, staff: &str, pin: &str) -> Result<AttendanceRecord, AttendanceError> {
    verify(store, staff, pin)?;
    Ok(store.commit(|tx| {
        authorize_in_tx::<AttendanceError>(tx, staff, Action::ClockIn)?;
        let now = tx.now();
        if let Some(open) = tx.get::<OpenClock, AttendanceError>(TreeId::Meta, &open_key(staff))? {
            if let Some(rec) = tx.get::<AttendanceRecord, AttendanceError>(TreeId::Attendance, &record_key(staff, open.record))? {
                let shift = shift_in_tx(tx, staff, rec.clock_in, tz)?;
                if rec.clock_out.is_none() && now < rules::clock_out_deadline(rec.clock_in, shift.as_ref(), rules, tz) {
                    return reject(AttendanceError::AlreadyClockedIn { staff: staff.to_string(), since: shop_time(rec.clock_in, tz) });
                }
            }
        }
        let id = free_id(tx, staff, now)?;
        let rec = AttendanceRecord {
            id,
            staff: staff.to_string(),
            clock_in: now,
            clock_out: None,
            clocked_in: Some(now),
            clocked_out: None,
            corrections: Vec::new(),
        };
        tx.put(TreeId::Attendance, &record_key(staff, id), &rec)?;
        tx.put(TreeId::Meta, &open_key(staff), &OpenClock { record: id })?;
        tx.emit(EVENT_CLOCKED_IN, Some(staff), &ClockEvent { staff, record: id, at: now, minutes: None })?;
        Ok(rec)
    })?)
}

/// Clocks `staff` out now, with their PIN. Refused when not clocked in, or when the clock-in
/// passed its deadline (a manager corrects that one).
pub fn clock_out(store: &Store, rules: &AttendanceRules, tz: Tz, staff: &str, pin: &str) -> Result<AttendanceRecord, AttendanceError> {
    verify(store, staff, pin)?;
    Ok(store.commit(|tx| {
        authorize_in_tx::<AttendanceError>(tx, staff, Action::ClockIn)?;
        let now = tx.now();
        let not_in = || AttendanceError::NotClockedIn { staff: staff.to_string() };
        let Some(open) = tx.get::<OpenClock, AttendanceError>(TreeId::Meta, &open_key(staff))? else {
            return reject(not_in());
        };
        let Some(mut rec) = tx.get::<AttendanceRecord, AttendanceError>(TreeId::Attendance, &record_key(staff, open.record))? else {
            return reject(not_in());
        };
        if rec.clock_out.is_some() {
            return reject(not_in());
        }
        let shift = shift_in_tx(tx, staff, rec.clock_in, tz)?;
        let deadline = rules::clock_out_deadline(rec.clock_in, shift.as_ref(), rules, tz);
        if now >= deadline {
            return reject(AttendanceError::PastDeadline { since: shop_time(rec.clock_in, tz), deadline: shop_time(deadline, tz) });
        }
        rec.clock_out = Some(now);
        rec.clocked_out = Some(now);
        tx.put(TreeId::Attendance, &record_key(staff, rec.id), &rec)?;
        tx.remove::<AttendanceError>(TreeId::Meta, &open_key(staff))?;
        let minutes = (now - rec.clock_in).num_minutes();
        tx.emit(EVENT_CLOCKED_OUT, Some(staff), &ClockEvent { staff, record: rec.id, at: now, minutes: Some(minutes) })?;
        Ok(rec)
    })?)
}

/// Checks a schedule change: 1 to 7 days, each date once, all within 7 days, none past, each a
/// shift of some length or a day off.
pub fn check_schedule(days: &[ScheduleEntry], today: NaiveDate) -> Result<Vec<(NaiveDate, Option<PlannedShift>)>, AttendanceError> {
    if days.is_empty() || days.len() > 7 {
        return Err(AttendanceError::BadWeek(format!("give 1 to 7 days (a week at once), got {}", days.len())));
    }
    let mut out = Vec::new();
    for d in days {
        if out.iter().any(|(date, _)| *date == d.date) {
            return Err(AttendanceError::BadWeek(format!("{} is given twice", d.date)));
        }
        if d.date < today {
            return Err(AttendanceError::PastDay { date: d.date, today });
        }
        let shift = match (d.start, d.end) {
            (Some(s), Some(e)) => Some(PlannedShift::new(d.date, s, e)?),
            (None, None) => None,
            _ => return Err(AttendanceError::HalfShift(d.date)),
        };
        out.push((d.date, shift));
    }
    let first = out.iter().map(|(d, _)| *d).min().unwrap_or(today);
    let last = out.iter().map(|(d, _)| *d).max().unwrap_or(today);
    if (last - first).num_days() > 6 {
        return Err(AttendanceError::BadWeek(format!("{first} to {last} is more than a week; set one week at a time")));
    }
    Ok(out)
}

/// Sets (or clears, for a day off) up to a week of `staff`'s schedule. `by` needs
/// `ManageAttendance`; days before today (shop-local) are refused.
pub fn set_schedule(store: &Store, tz: Tz, by: &str, staff: &str, days: &[ScheduleEntry]) -> Result<Vec<ScheduleDay>, AttendanceError> {
    let today = rules::local_date(store.clock().now(), tz);
    let checked = check_schedule(days, today)?;
    Ok(store.commit(|tx| {
        authorize_in_tx::<AttendanceError>(tx, by, Action::ManageAttendance)?;
        if tx.get::<StaffAccount, AttendanceError>(TreeId::Staff, staff.as_bytes())?.is_none() {
            return reject(StaffError::Unknown(staff.to_string()).into());
        }
        let now = tx.now();
        let today = rules::local_date(now, tz);
        let mut set = Vec::new();
        for (date, shift) in &checked {
            if *date < today {
                return reject(AttendanceError::PastDay { date: *date, today });
            }
            let key = schedule_key(staff, *date);
            match shift {
                Some(s) => {
                    let day = ScheduleDay { staff: staff.to_string(), date: *date, start: s.start, end: s.end, set_by: by.to_string(), set_at: now };
                    tx.put(TreeId::StaffSchedules, &key, &day)?;
                    set.push(day);
                }
                None => {
                    tx.remove::<AttendanceError>(TreeId::StaffSchedules, &key)?;
                }
            }
        }
        tx.emit(EVENT_SCHEDULE_SET, Some(staff), &ScheduleSetEvent { staff, by, days })?;
        Ok(set)
    })?)
}

/// Another record of `staff` that the interval `from`–`to` (an open record: its clock-in alone)
/// would overlap, `except` the record being corrected. Read outside the commit (a `Tx` has point
/// reads only); only a manager's correction writes such intervals, so a race is one manager
/// against another.
fn overlapping(store: &Store, staff: &str, except: Option<u64>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Option<AttendanceRecord>, StoreError> {
    for item in store.scan_prefix::<AttendanceRecord>(TreeId::Attendance, &staff_prefix(staff)) {
        let (_, r) = item?;
        if Some(r.id) == except {
            continue;
        }
        let r_to = r.clock_out.unwrap_or(r.clock_in);
        if r.clock_in < to.max(from + chrono::Duration::seconds(1)) && from < r_to.max(r.clock_in + chrono::Duration::seconds(1)) {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// Corrects (or enters) a clock record. `by` needs `ManageAttendance`; the record keeps the
/// times before and after, who, when and why. A correction that would overlap another record of
/// the same person is refused (its minutes would count twice).
pub fn correct_in(store: &Store, tz: Tz, by: &str, req: &CorrectionRequest) -> Result<AttendanceRecord, AttendanceError> {
    let current = match req.record {
        Some(id) => store.get::<AttendanceRecord>(TreeId::Attendance, &record_key(&req.staff, id))?,
        None => None,
    };
    let new_in = req.clock_in.or(current.as_ref().map(|r| r.clock_in));
    let new_out = req.clock_out.or(current.as_ref().and_then(|r| r.clock_out));
    if let Some(from) = new_in {
        let to = new_out.unwrap_or(from);
        if let Some(other) = overlapping(store, &req.staff, req.record, from, to)? {
            let time = |t: DateTime<Utc>| shop_time(t, tz);
            return Err(AttendanceError::Overlaps {
                other: other.id,
                from: time(from),
                to: new_out.map_or_else(|| "…".to_string(), time),
                other_from: time(other.clock_in),
                other_to: other.clock_out.map_or_else(|| "…".to_string(), time),
            });
        }
    }
    correct(store, by, req)
}

/// [`correct_in`] without the overlap check (its commit part).
fn correct(store: &Store, by: &str, req: &CorrectionRequest) -> Result<AttendanceRecord, AttendanceError> {
    let reason = req.reason.trim();
    let n = reason.chars().count();
    if n == 0 || n > REASON_MAX_CHARS || reason.chars().any(char::is_control) {
        return Err(AttendanceError::BadReason(n));
    }
    if req.record.is_none() && (req.clock_in.is_none() || req.clock_out.is_none()) {
        return Err(AttendanceError::BadTimes(
            "clock_in, clock_out: a new record (no `record` id) needs both times; to change a record give its id".into(),
        ));
    }
    if req.record.is_some() && req.clock_in.is_none() && req.clock_out.is_none() {
        return Err(AttendanceError::BadTimes("clock_in, clock_out: give at least one time to set".into()));
    }
    let staff = req.staff.as_str();
    Ok(store.commit(|tx| {
        authorize_in_tx::<AttendanceError>(tx, by, Action::ManageAttendance)?;
        if tx.get::<StaffAccount, AttendanceError>(TreeId::Staff, staff.as_bytes())?.is_none() {
            return reject(StaffError::Unknown(staff.to_string()).into());
        }
        let now = tx.now();
        let mut rec = match req.record {
            Some(id) => match tx.get::<AttendanceRecord, AttendanceError>(TreeId::Attendance, &record_key(staff, id))? {
                Some(r) => r,
                None => return reject(AttendanceError::UnknownRecord { staff: staff.to_string(), id }),
            },
            None => {
                let at = req.clock_in.unwrap_or(now);
                AttendanceRecord {
                    id: free_id(tx, staff, at)?,
                    staff: staff.to_string(),
                    clock_in: at,
                    clock_out: None,
                    clocked_in: None,
                    clocked_out: None,
                    corrections: Vec::new(),
                }
            }
        };
        let before = (req.record.map(|_| rec.clock_in), rec.clock_out);
        let new_in = req.clock_in.unwrap_or(rec.clock_in);
        let new_out = req.clock_out.or(rec.clock_out);
        if new_in > now || new_out.is_some_and(|o| o > now) {
            return reject(AttendanceError::BadTimes("clock_in, clock_out: a correction cannot set a time in the future".into()));
        }
        if let Some(out) = new_out {
            if out <= new_in {
                return reject(AttendanceError::BadTimes(format!("clock_out: {out} must come after clock_in {new_in}")));
            }
        }
        rec.clock_in = new_in;
        rec.clock_out = new_out;
        rec.corrections.push(Correction {
            at: now,
            by: by.to_string(),
            reason: reason.to_string(),
            clock_in_before: before.0,
            clock_out_before: before.1,
            clock_in_after: new_in,
            clock_out_after: new_out,
        });
        tx.put(TreeId::Attendance, &record_key(staff, rec.id), &rec)?;
        if new_out.is_some() {
            if let Some(open) = tx.get::<OpenClock, AttendanceError>(TreeId::Meta, &open_key(staff))? {
                if open.record == rec.id {
                    tx.remove::<AttendanceError>(TreeId::Meta, &open_key(staff))?;
                }
            }
        }
        tx.emit(EVENT_CORRECTED, Some(staff), &CorrectedEvent { staff, record: rec.id, by, clock_in: new_in, clock_out: new_out })?;
        Ok(rec)
    })?)
}

/// Whose attendance `who` may see when asking for `staff` (None: everyone): managers anyone,
/// everyone else only their own.
pub fn scope(who: &StaffRef, staff: Option<&str>) -> Result<Option<String>, AttendanceError> {
    if who.may(Action::ManageAttendance) {
        return Ok(staff.map(str::to_string));
    }
    if !who.may(Action::ClockIn) {
        return Err(StaffError::Forbidden { id: who.id.clone(), role: who.role.as_str(), action: Action::ClockIn }.into());
    }
    match staff {
        None => Ok(Some(who.id.clone())),
        Some(s) if s == who.id => Ok(Some(who.id.clone())),
        Some(s) => Err(AttendanceError::OnlyOwn { by: who.id.clone(), staff: s.to_string() }),
    }
}

/// [`scope`] for a staff id (the CLI's `--by`): the account must exist and be active.
pub fn scope_for_id(store: &Store, by: &str, staff: Option<&str>) -> Result<Option<String>, AttendanceError> {
    let who = super::authorize(store, by, Action::ClockIn).map_err(|e| match e {
        CommitError::Rejected(e) => AttendanceError::Staff(e),
        CommitError::Store(e) => AttendanceError::Store(e),
    })?;
    scope(&who, staff)
}

/// Checks a report's range: from ≤ to, at most [`rules::MAX_REPORT_DAYS`] days.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), AttendanceError> {
    if to < from {
        return Err(AttendanceError::BadRange(format!("to: {to} is before from {from}")));
    }
    if (to - from).num_days() >= rules::MAX_REPORT_DAYS {
        return Err(AttendanceError::BadRange(format!("from {from} to {to} is more than {} days; ask for a shorter range", rules::MAX_REPORT_DAYS)));
    }
    Ok(())
}

/// Schedule days of `staff` (None: everyone) from `from` to `to`, by staff then date.
pub fn schedules(store: &Store, staff: Option<&str>, from: NaiveDate, to: NaiveDate) -> Result<Vec<ScheduleDay>, StoreError> {
    let prefix = staff.map(staff_prefix).unwrap_or_default();
    store
        .scan_prefix::<ScheduleDay>(TreeId::StaffSchedules, &prefix)
        .filter(|r| r.as_ref().map_or(true, |(_, d)| d.date >= from && d.date <= to))
        .map(|r| r.map(|(_, d)| d))
        .collect()
}

/// Clock records of `staff` (None: everyone) whose clock-in is on a shop-local day from `from`
/// to `to`, by staff then time.
pub fn records(store: &Store, tz: Tz, staff: Option<&str>, from: NaiveDate, to: NaiveDate) -> Result<Vec<AttendanceRecord>, StoreError> {
    let prefix = staff.map(staff_prefix).unwrap_or_default();
    store
        .scan_prefix::<AttendanceRecord>(TreeId::Attendance, &prefix)
        .filter(|r| {
            r.as_ref().map_or(true, |(_, a)| {
                let d = rules::local_date(a.clock_in, tz);
                d >= from && d <= to
            })
        })
        .map(|r| r.map(|(_, a)| a))
        .collect()
}

/// One staff member's attendance over a range: days with flags and minutes, the records, totals.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffAttendance {
    pub staff: String,
    pub name: String,
    pub days: Vec<DayAttendance>,
    pub records: Vec<AttendanceRecord>,
    pub totals: PeriodHours,
}

/// The attendance of `staff` (None: every account) from `from` to `to`, as of now.
pub fn report(store: &Store, rules: &AttendanceRules, tz: Tz, staff: Option<&str>, from: NaiveDate, to: NaiveDate) -> Result<Vec<StaffAttendance>, AttendanceError> {
    check_range(from, to)?;
    let now = store.clock().now();
    let people: Vec<(String, String)> = match staff {
        Some(id) => {
            let info = super::staff_info(store, id)?.ok_or_else(|| StaffError::Unknown(id.to_string()))?;
            vec![(info.id, info.name)]
        }
        None => super::list_staff(store)?.into_iter().map(|i| (i.id, i.name)).collect(),
    };
    // One day either side: a night shift planned the day before, a clock-in just after midnight.
    let (wide_from, wide_to) = (from.pred_opt().unwrap_or(from), to.succ_opt().unwrap_or(to));
    let mut out = Vec::new();
    for (id, name) in people {
        let shifts: Vec<PlannedShift> = schedules(store, Some(&id), wide_from, wide_to)?.iter().map(ScheduleDay::shift).collect();
        let recs = records(store, tz, Some(&id), wide_from, wide_to)?;
        let punches: Vec<Punch> = recs.iter().map(AttendanceRecord::punch).collect();
        let days: Vec<DayAttendance> = evaluate(&shifts, &punches, rules, tz, now).into_iter().filter(|d| d.date >= from && d.date <= to).collect();
        let mut totals = hours_by_period(&days, Period::Month, from, to).into_iter().fold(PeriodHours::default(), add_hours);
        totals.from = Some(from);
        totals.to = Some(to);
        let kept: Vec<u64> = days.iter().flat_map(|d| d.punches.iter().map(|p| p.punch.id)).collect();
        let records = recs.into_iter().filter(|r| kept.contains(&r.id)).collect();
        out.push(StaffAttendance { staff: id, name, days, records, totals });
    }
    Ok(out)
}

fn add_hours(mut a: PeriodHours, b: PeriodHours) -> PeriodHours {
    a.scheduled_minutes += b.scheduled_minutes;
    a.worked_minutes += b.worked_minutes;
    a.days_worked += b.days_worked;
    a.late += b.late;
    a.late_minutes += b.late_minutes;
    a.early_leave += b.early_leave;
    a.early_leave_minutes += b.early_leave_minutes;
    a.missing_clock_out += b.missing_clock_out;
    a.absent += b.absent;
    a.unscheduled += b.unscheduled;
    a
}

/// One row of the payroll hours: a staff member's totals in one period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoursRow {
    pub staff: String,
    pub name: String,
    pub hours: PeriodHours,
}

/// Hours per `period` for payroll: one row per staff member and period from `from` to `to`.
pub fn hours(store: &Store, rules: &AttendanceRules, tz: Tz, staff: Option<&str>, from: NaiveDate, to: NaiveDate, period: Period) -> Result<Vec<HoursRow>, AttendanceError> {
    let report = report(store, rules, tz, staff, from, to)?;
    Ok(report
        .into_iter()
        .flat_map(|s| {
            let (staff, name) = (s.staff, s.name);
            hours_by_period(&s.days, period, from, to).into_iter().map(move |h| HoursRow { staff: staff.clone(), name: name.clone(), hours: h })
        })
        .collect())
}

/// Header of the hours CSV.
pub const HOURS_CSV_HEADER: &str = "staff,name,from,to,worked_minutes,worked_hours,scheduled_minutes,days_worked,late,late_minutes,early_leave,early_leave_minutes,missing_clock_out,absent,unscheduled";

/// Writes the hours as CSV (UTF-8, [`HOURS_CSV_HEADER`]); `worked_hours` is `H:MM`.
pub fn write_hours_csv(rows: &[HoursRow], out: &mut Vec<u8>) -> Result<(), csv::Error> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    w.write_record(HOURS_CSV_HEADER.split(','))?;
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    for r in rows {
        let h = &r.hours;
        w.write_record([
            r.staff.as_str(),
            r.name.as_str(),
            &date(h.from),
            &date(h.to),
            &h.worked_minutes.to_string(),
            &rules::hours_text(h.worked_minutes),
            &h.scheduled_minutes.to_string(),
            &h.days_worked.to_string(),
            &h.late.to_string(),
            &h.late_minutes.to_string(),
            &h.early_leave.to_string(),
            &h.early_leave_minutes.to_string(),
            &h.missing_clock_out.to_string(),
            &h.absent.to_string(),
            &h.unscheduled.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::staff::Role;
    use crate::staff::{create_staff, HashCost, NewStaff};
    use chrono::TimeZone;

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn shop() -> (tempfile::TempDir, crate::clock::ManualClock, Store) {
        let dir = tempfile::tempdir().unwrap();
        // 2026-11-25 21:00 in Shanghai.
        let clock = crate::clock::ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        let cost = HashCost::minimal_for_tests();
        for (id, role) in [("li-na", Role::Cashier), ("boss", Role::Manager)] {
            create_staff(&store, &NewStaff { id: id.into(), name: id.into(), role }, "correct-horse-1", Some("1357"), &cost).unwrap();
        }
        (dir, clock, store)
    }

    fn night(date: NaiveDate) -> ScheduleEntry {
        ScheduleEntry { date, start: NaiveTime::from_hms_opt(22, 0, 0), end: NaiveTime::from_hms_opt(6, 0, 0) }
    }

    #[test]
    fn a_night_shift_clocked_late_and_early_and_a_second_clock_in_refused() {
        let (_dir, clock, store) = shop();
        let r = AttendanceRules { late_grace_minutes: 5, early_leave_grace_minutes: 0, missing_clock_out_hours: 4 };
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        set_schedule(&store, SH, "boss", "li-na", &[night(today)]).unwrap();
        clock.advance(chrono::Duration::minutes(68)); // 22:08
        let rec = clock_in(&store, &r, SH, "li-na", "1357").unwrap();
        let events = store.outbox_batch(0, usize::MAX).unwrap().len();
        assert!(matches!(clock_in(&store, &r, SH, "li-na", "1357"), Err(AttendanceError::AlreadyClockedIn { .. })));
        assert_eq!(store.outbox_batch(0, usize::MAX).unwrap().len(), events, "a refused clock-in emits nothing");
        assert!(matches!(clock_in(&store, &r, SH, "li-na", "0000"), Err(AttendanceError::Login(LoginError::WrongPin))));
        clock.advance(chrono::Duration::minutes(7 * 60 + 42)); // 05:50
        let out = clock_out(&store, &r, SH, "li-na", "1357").unwrap();
        assert_eq!(out.id, rec.id);
        let rep = report(&store, &r, SH, Some("li-na"), today, today).unwrap();
        assert_eq!(rep[0].days[0].flags, vec![rules::Flag::Late { minutes: 3 }, rules::Flag::EarlyLeave { minutes: 10 }]);
        assert_eq!(rep[0].totals.worked_minutes, 462);
        assert!(matches!(clock_out(&store, &r, SH, "li-na", "1357"), Err(AttendanceError::NotClockedIn { .. })));
        let yesterday = today;
        assert!(matches!(set_schedule(&store, SH, "boss", "li-na", &[night(yesterday)]), Err(AttendanceError::PastDay { .. })));
        assert!(matches!(set_schedule(&store, SH, "li-na", "li-na", &[night(today.succ_opt().unwrap())]), Err(AttendanceError::Staff(StaffError::Forbidden { .. }))));
    }
}
