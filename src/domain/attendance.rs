//! Attendance rules (考勤): a planned shift against clock-in and clock-out times in shop-local
//! time (late, early leave, missing clock-out, absent, unscheduled work, hours worked per period).
//! Pure; `staff::attendance` stores schedules and clock records and asks these functions.
//!
//! Decisions (docs/staff.md "Attendance"):
//! - A shift is planned on a shop-local date with a start and an end; an end at or before the
//!   start ends on the next day (22:00–06:00). Times are turned into instants with the shop's
//!   time zone (`chrono_tz::Tz`, an input: Asia/Shanghai has no DST, other zones work too; a
//!   local time inside a spring-forward gap reads as the same time one hour later).
//! - A clock-in belongs to the shift whose start is nearest among those it falls in
//!   (`start − 4 h` up to the end); any other clock-in is unscheduled work on its local date.
//! - Late and early leave count the minutes beyond the grace: a 22:00 start with 5 minutes
//!   of grace, clocked in at 22:08, is 3 minutes late. Late uses the shift's first clock-in,
//!   early leave its last clock-out.
//! - A clock record without a clock-out is missing one once `missing_clock_out_hours` have passed
//!   after the shift's end (unscheduled: after clock-in + 12 h), or as soon as a later clock-in
//!   exists. It counts no minutes until a manager corrects it.
//! - Hours are not split at midnight: every minute of a clock record counts for the day it
//!   belongs to: its shift's date (a night shift counts for the day it started), else the
//!   shop-local date of its clock-in.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A clock-in this long before a shift's start still belongs to that shift.
pub const EARLIEST_CLOCK_IN_MINUTES: i64 = 240;
/// An unscheduled clock record is expected to end within this many hours of its clock-in
/// (before `missing_clock_out_hours` start counting).
pub const UNSCHEDULED_SPAN_HOURS: i64 = 12;
/// The longest range a report covers, days.
pub const MAX_REPORT_DAYS: i64 = 366;

/// `[attendance]`: the shop's grace times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceRules {
    /// A clock-in up to this many minutes after the start is on time.
    pub late_grace_minutes: u32,
    /// A clock-out up to this many minutes before the end is not an early leave.
    pub early_leave_grace_minutes: u32,
    /// Hours after the shift's end after which a clock record without clock-out is flagged.
    pub missing_clock_out_hours: u32,
}

impl Default for AttendanceRules {
    fn default() -> Self {
        AttendanceRules { late_grace_minutes: 5, early_leave_grace_minutes: 5, missing_clock_out_hours: 4 }
    }
}

/// Why a planned shift is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("shift on {date}: start and end are both {at}; a shift needs a length (an end before the start ends the next day)")]
    NoLength { date: NaiveDate, at: NaiveTime },
    #[error("{0:?} is not a shift: expected HH:MM-HH:MM, e.g. 09:00-17:00 or 22:00-06:00, or `off`")]
    BadText(String),
}

/// One planned shift (排班) of one staff member on a shop-local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedShift {
    pub date: NaiveDate,
    pub start: NaiveTime,
    /// At or before `start`: the shift ends on the next day.
    pub end: NaiveTime,
}

impl PlannedShift {
    /// A shift of some length.
    pub fn new(date: NaiveDate, start: NaiveTime, end: NaiveTime) -> Result<PlannedShift, PlanError> {
        if start == end {
            return Err(PlanError::NoLength { date, at: start });
        }
        Ok(PlannedShift { date, start, end })
    }

    /// Whether the shift ends on the day after its date.
    pub fn ends_next_day(&self) -> bool {
        self.end <= self.start
    }

    /// Planned length in wall-clock minutes.
    pub fn planned_minutes(&self) -> i64 {
        let m = (self.end - self.start).num_minutes();
        if m <= 0 {
            m + 24 * 60
        } else {
            m
        }
    }

    /// Start and end as instants in `tz`.
    pub fn window(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let end_date = if self.ends_next_day() { self.date.succ_opt().unwrap_or(self.date) } else { self.date };
        (instant(tz, self.date, self.start), instant(tz, end_date, self.end))
    }
}

/// Reads `HH:MM-HH:MM` (the CLI's and forms' way of writing a shift).
pub fn parse_shift(date: NaiveDate, text: &str) -> Result<PlannedShift, PlanError> {
    let bad = || PlanError::BadText(text.to_string());
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").map_err(|_| bad());
    PlannedShift::new(date, t(a)?, t(b)?)
}

/// The instant of a shop-local date and time. A time that occurs twice (autumn) is the first;
/// a time that does not occur (spring gap) is read one hour later.
pub fn instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
        .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
}

/// The shop-local date of an instant.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// One clock record as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Punch {
    pub id: u64,
    pub clock_in: DateTime<Utc>,
    pub clock_out: Option<DateTime<Utc>>,
}

/// What a day of attendance is flagged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum Flag {
    /// The first clock-in came this many minutes after start + grace.
    Late { minutes: i64 },
    /// The last clock-out came this many minutes before end − grace.
    EarlyLeave { minutes: i64 },
    /// Clock record `punch` has no clock-out and is past its deadline (or a later clock-in came).
    MissingClockOut { punch: u64 },
    /// Scheduled, the shift ended, and nobody clocked in for it.
    Absent,
    /// Clock record `punch` belongs to no planned shift.
    Unscheduled { punch: u64 },
}

impl Flag {
    /// The flag's word in APIs and CSV.
    pub fn as_str(&self) -> &'static str {
        match self {
            Flag::Late { .. } => "late",
            Flag::EarlyLeave { .. } => "early_leave",
            Flag::MissingClockOut { .. } => "missing_clock_out",
            Flag::Absent => "absent",
            Flag::Unscheduled { .. } => "unscheduled",
        }
    }

    pub fn label_zh(&self) -> String {
        match self {
            Flag::Late { minutes } => format!("迟到 {minutes} 分钟"),
            Flag::EarlyLeave { minutes } => format!("早退 {minutes} 分钟"),
            Flag::MissingClockOut { .. } => "缺下班卡".into(),
            Flag::Absent => "缺勤".into(),
            Flag::Unscheduled { .. } => "排班外工作".into(),
        }
    }

    pub fn label_en(&self) -> String {
        match self {
            Flag::Late { minutes } => format!("late {minutes} min"),
            Flag::EarlyLeave { minutes } => format!("left {minutes} min early"),
            Flag::MissingClockOut { .. } => "missing clock-out".into(),
            Flag::Absent => "absent".into(),
            Flag::Unscheduled { .. } => "unscheduled work".into(),
        }
    }
}

/// One clock record within its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PunchDay {
    pub punch: Punch,
    /// It belongs to the day's planned shift.
    pub scheduled: bool,
    /// Minutes worked (0 without a clock-out).
    pub minutes: i64,
    /// Still clocked in, before its deadline.
    pub open: bool,
    /// When a missing clock-out is flagged (if none comes).
    pub deadline: DateTime<Utc>,
}

/// One staff member's day: the plan, the clock records that count for it, flags and minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayAttendance {
    pub date: NaiveDate,
    pub shift: Option<PlannedShift>,
    pub punches: Vec<PunchDay>,
    pub worked_minutes: i64,
    pub flags: Vec<Flag>,
}

/// The deadline of a clock record: `missing_clock_out_hours` after its shift's end, or after
/// clock-in + [`UNSCHEDULED_SPAN_HOURS`] without a shift.
pub fn clock_out_deadline(clock_in: DateTime<Utc>, shift: Option<&PlannedShift>, rules: &AttendanceRules, tz: Tz) -> DateTime<Utc> {
    let expected_end = match shift {
        Some(s) => s.window(tz).1,
        None => clock_in + Duration::hours(UNSCHEDULED_SPAN_HOURS),
    };
    expected_end + Duration::hours(i64::from(rules.missing_clock_out_hours))
}

/// The planned shift a clock-in belongs to: among the shifts whose `[start − 4 h, end)` holds
/// it, the one whose start is nearest.
pub fn shift_for(clock_in: DateTime<Utc>, shifts: &[PlannedShift], tz: Tz) -> Option<&PlannedShift> {
    shifts
        .iter()
        .filter(|s| {
            let (start, end) = s.window(tz);
            clock_in >= start - Duration::minutes(EARLIEST_CLOCK_IN_MINUTES) && clock_in < end
        })
        .min_by_key(|s| (clock_in - s.window(tz).0).num_seconds().abs())
}

/// Whole minutes from `a` to `b`, rounded up (a late clock-in by 10 seconds is 1 minute late).
fn minutes_up(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    let secs = (b - a).num_seconds();
    (secs + 59).div_euclid(60)
}

/// One staff member's attendance day by day: every planned day and every day with a clock
/// record, in date order. `shifts` at most one per date; `now` decides what has ended.
pub fn evaluate(shifts: &[PlannedShift], punches: &[Punch], rules: &AttendanceRules, tz: Tz, now: DateTime<Utc>) -> Vec<DayAttendance> {
    let mut days: BTreeMap<NaiveDate, DayAttendance> = BTreeMap::new();
    for s in shifts {
        days.entry(s.date).or_insert(DayAttendance { date: s.date, shift: Some(*s), punches: Vec::new(), worked_minutes: 0, flags: Vec::new() });
    }
    let mut sorted: Vec<Punch> = punches.to_vec();
    sorted.sort_by_key(|p| (p.clock_in, p.id));
    for (i, p) in sorted.iter().enumerate() {
        let shift = shift_for(p.clock_in, shifts, tz);
        let date = shift.map_or_else(|| local_date(p.clock_in, tz), |s| s.date);
        let deadline = clock_out_deadline(p.clock_in, shift, rules, tz);
        let later_in = sorted.get(i + 1).is_some();
        let missing = p.clock_out.is_none() && (now >= deadline || later_in);
        let minutes = p.clock_out.map_or(0, |o| (o - p.clock_in).num_minutes().max(0));
        let day = days.entry(date).or_insert(DayAttendance { date, shift: None, punches: Vec::new(), worked_minutes: 0, flags: Vec::new() });
        day.punches.push(PunchDay { punch: *p, scheduled: shift.is_some(), minutes, open: p.clock_out.is_none() && !missing, deadline });
        day.worked_minutes += minutes;
        if shift.is_none() {
            day.flags.push(Flag::Unscheduled { punch: p.id });
        }
        if missing {
            day.flags.push(Flag::MissingClockOut { punch: p.id });
        }
    }
    for day in days.values_mut() {
        let Some(shift) = day.shift else { continue };
        let (start, end) = shift.window(tz);
        let on_shift: Vec<&PunchDay> = day.punches.iter().filter(|p| p.scheduled).collect();
        let (Some(first), Some(last)) = (on_shift.first(), on_shift.last()) else {
            if now >= end {
                day.flags.insert(0, Flag::Absent);
            }
            continue;
        };
        let mut flags = Vec::new();
        let on_time_until = start + Duration::minutes(i64::from(rules.late_grace_minutes));
        if first.punch.clock_in > on_time_until {
            flags.push(Flag::Late { minutes: minutes_up(on_time_until, first.punch.clock_in) });
        }
        let leave_from = end - Duration::minutes(i64::from(rules.early_leave_grace_minutes));
        if let Some(out) = last.punch.clock_out {
            if out < leave_from {
                flags.push(Flag::EarlyLeave { minutes: minutes_up(out, leave_from) });
            }
        }
        flags.append(&mut day.flags);
        day.flags = flags;
    }
    days.into_values().collect()
}

/// How hours are grouped for payroll: the reports' periods (day, week Monday–Sunday, month).
pub use crate::domain::reports::Period;

/// The last day of the period holding `date`.
pub fn period_end(period: Period, date: NaiveDate) -> NaiveDate {
    let start = period.start_of(date);
    match period {
        Period::Day => date,
        Period::Week => start + Duration::days(6),
        Period::Month => Period::Month.start_of(start + Duration::days(31)).pred_opt().unwrap_or(date),
    }
}

/// Totals of one period (clipped to the report's range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodHours {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub scheduled_minutes: i64,
    pub worked_minutes: i64,
    pub days_worked: u32,
    pub late: u32,
    pub late_minutes: i64,
    pub early_leave: u32,
    pub early_leave_minutes: i64,
    pub missing_clock_out: u32,
    pub absent: u32,
    pub unscheduled: u32,
}

/// Totals per period from `from` to `to` (both included), one row per period even when empty;
/// days outside the range are left out.
pub fn hours_by_period(days: &[DayAttendance], period: Period, from: NaiveDate, to: NaiveDate) -> Vec<PeriodHours> {
    let mut rows = Vec::new();
    let mut at = from;
    while at <= to {
        let end = period_end(period, at).min(to);
        let mut row = PeriodHours { from: Some(at), to: Some(end), ..PeriodHours::default() };
        for d in days.iter().filter(|d| d.date >= at && d.date <= end) {
            row.scheduled_minutes += d.shift.map_or(0, |s| s.planned_minutes());
            row.worked_minutes += d.worked_minutes;
            if d.worked_minutes > 0 {
                row.days_worked += 1;
            }
            for f in &d.flags {
                match f {
                    Flag::Late { minutes } => {
                        row.late += 1;
                        row.late_minutes += minutes;
                    }
                    Flag::EarlyLeave { minutes } => {
                        row.early_leave += 1;
                        row.early_leave_minutes += minutes;
                    }
                    Flag::MissingClockOut { .. } => row.missing_clock_out += 1,
                    Flag::Absent => row.absent += 1,
                    Flag::Unscheduled { .. } => row.unscheduled += 1,
                }
            }
        }
        rows.push(row);
        match end.succ_opt() {
            Some(next) => at = next,
            None => break,
        }
    }
    rows
}

/// Minutes as `H:MM` (462 → `7:42`).
pub fn hours_text(minutes: i64) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.abs();
    format!("{sign}{}:{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// Shanghai local time as an instant (UTC+8).
    fn at(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
        instant(SH, day, t(h, m))
    }

    fn rules(late: u32, early: u32) -> AttendanceRules {
        AttendanceRules { late_grace_minutes: late, early_leave_grace_minutes: early, missing_clock_out_hours: 4 }
    }

    #[test]
    fn a_night_shift_ends_the_next_day_in_shanghai_time() {
        let s = PlannedShift::new(d(2026, 11, 25), t(22, 0), t(6, 0)).unwrap();
        assert!(s.ends_next_day());
        assert_eq!(s.planned_minutes(), 480);
        let (start, end) = s.window(SH);
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 11, 25, 14, 0, 0).unwrap(), "22:00 in Shanghai is 14:00 UTC");
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 11, 25, 22, 0, 0).unwrap(), "06:00 next day is 22:00 UTC the same day");
        assert_eq!(parse_shift(d(2026, 11, 25), "22:00-06:00").unwrap(), s);
        assert_eq!(PlannedShift::new(d(2026, 11, 25), t(9, 0), t(9, 0)), Err(PlanError::NoLength { date: d(2026, 11, 25), at: t(9, 0) }));
        assert!(matches!(parse_shift(d(2026, 11, 25), "9-17"), Err(PlanError::BadText(_))));
    }

    #[test]
    fn late_by_3_at_22_08_with_grace_5_and_early_by_10_at_05_50() {
        let shift = PlannedShift::new(d(2026, 11, 25), t(22, 0), t(6, 0)).unwrap();
        let p = Punch { id: 1, clock_in: at(d(2026, 11, 25), 22, 8), clock_out: Some(at(d(2026, 11, 26), 5, 50)) };
        let now = at(d(2026, 11, 26), 12, 0);
        let days = evaluate(&[shift], &[p], &rules(5, 0), SH, now);
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].date, d(2026, 11, 25), "the night counts for the day it started");
        assert_eq!(days[0].flags, vec![Flag::Late { minutes: 3 }, Flag::EarlyLeave { minutes: 10 }]);
        assert_eq!(days[0].worked_minutes, 7 * 60 + 42, "22:08 to 05:50");
        // With 5 minutes of early-leave grace, the leave counts from 05:55: 5 minutes early.
        let days = evaluate(&[shift], &[p], &rules(5, 5), SH, now);
        assert_eq!(days[0].flags, vec![Flag::Late { minutes: 3 }, Flag::EarlyLeave { minutes: 5 }]);
        // 22:05 exactly is on time; 22:05:10 is one minute late.
        let on_time = Punch { clock_in: at(d(2026, 11, 25), 22, 5), clock_out: Some(at(d(2026, 11, 26), 6, 0)), ..p };
        assert!(evaluate(&[shift], &[on_time], &rules(5, 5), SH, now)[0].flags.is_empty());
        let ten_secs = Punch { clock_in: on_time.clock_in + Duration::seconds(10), ..on_time };
        assert_eq!(evaluate(&[shift], &[ten_secs], &rules(5, 5), SH, now)[0].flags, vec![Flag::Late { minutes: 1 }]);
    }

    #[test]
    fn two_minutes_from_23_59_to_00_01_count_for_the_first_day() {
        let p = Punch { id: 7, clock_in: at(d(2026, 11, 25), 23, 59), clock_out: Some(at(d(2026, 11, 26), 0, 1)) };
        let days = evaluate(&[], &[p], &rules(5, 5), SH, at(d(2026, 11, 26), 9, 0));
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].date, days[0].worked_minutes), (d(2026, 11, 25), 2));
        assert_eq!(days[0].flags, vec![Flag::Unscheduled { punch: 7 }]);
        let week = hours_by_period(&days, Period::Day, d(2026, 11, 25), d(2026, 11, 26));
        assert_eq!(week.iter().map(|r| r.worked_minutes).collect::<Vec<_>>(), vec![2, 0], "nothing is split onto the 26th");
    }

    #[test]
    fn a_missing_clock_out_is_flagged_four_hours_after_the_shift_or_at_the_next_clock_in() {
        let shift = PlannedShift::new(d(2026, 11, 25), t(9, 0), t(17, 0)).unwrap();
        let p = Punch { id: 1, clock_in: at(d(2026, 11, 25), 8, 55), clock_out: None };
        let r = rules(5, 5);
        let before = evaluate(&[shift], &[p], &r, SH, at(d(2026, 11, 25), 20, 59));
        assert!(before[0].flags.is_empty() && before[0].punches[0].open, "still within 17:00 + 4 h");
        assert_eq!(before[0].punches[0].deadline, at(d(2026, 11, 25), 21, 0));
        let after = evaluate(&[shift], &[p], &r, SH, at(d(2026, 11, 25), 21, 0));
        assert_eq!(after[0].flags, vec![Flag::MissingClockOut { punch: 1 }]);
        assert_eq!(after[0].worked_minutes, 0, "an open record counts nothing until corrected");
        // The next morning's clock-in comes first: flagged at once, whatever the time.
        let next = Punch { id: 2, clock_in: at(d(2026, 11, 25), 19, 0), clock_out: None };
        let days = evaluate(&[shift], &[p, next], &r, SH, at(d(2026, 11, 25), 19, 1));
        assert_eq!(days[0].flags, vec![Flag::MissingClockOut { punch: 1 }, Flag::Unscheduled { punch: 2 }]);
    }

    #[test]
    fn absent_once_the_shift_ended_without_a_clock_in() {
        let shift = PlannedShift::new(d(2026, 11, 25), t(22, 0), t(6, 0)).unwrap();
        assert!(evaluate(&[shift], &[], &rules(5, 5), SH, at(d(2026, 11, 26), 5, 59))[0].flags.is_empty());
        assert_eq!(evaluate(&[shift], &[], &rules(5, 5), SH, at(d(2026, 11, 26), 6, 0))[0].flags, vec![Flag::Absent]);
    }

    #[test]
    fn a_clock_in_belongs_to_the_nearest_shift_it_falls_in() {
        let day1 = PlannedShift::new(d(2026, 11, 25), t(22, 0), t(6, 0)).unwrap();
        let day2 = PlannedShift::new(d(2026, 11, 26), t(9, 0), t(17, 0)).unwrap();
        let shifts = [day1, day2];
        // 05:30 on the 26th is inside the night shift (ends 06:00) and 3.5 h before the day
        // shift: the night shift's start is 7.5 h away, the day shift's 3.5 h.
        assert_eq!(shift_for(at(d(2026, 11, 26), 5, 30), &shifts, SH), Some(&day2));
        assert_eq!(shift_for(at(d(2026, 11, 25), 21, 30), &shifts, SH), Some(&day1));
        assert_eq!(shift_for(at(d(2026, 11, 25), 17, 59), &shifts, SH), None, "more than 4 h early");
        assert_eq!(shift_for(at(d(2026, 11, 26), 17, 0), &shifts, SH), None, "after the end");
    }

    #[test]
    fn hours_per_week_and_month_for_payroll() {
        // Mon 30 Nov to Wed 2 Dec 2026: 09:00–17:00 planned each day.
        let shifts: Vec<PlannedShift> = (0..3).map(|i| PlannedShift::new(d(2026, 11, 30) + Duration::days(i), t(9, 0), t(17, 0)).unwrap()).collect();
        let punches = [
            Punch { id: 1, clock_in: at(d(2026, 11, 30), 9, 0), clock_out: Some(at(d(2026, 11, 30), 17, 0)) },
            Punch { id: 2, clock_in: at(d(2026, 12, 1), 9, 20), clock_out: Some(at(d(2026, 12, 1), 17, 0)) },
        ];
        let days = evaluate(&shifts, &punches, &rules(5, 5), SH, at(d(2026, 12, 3), 9, 0));
        let months = hours_by_period(&days, Period::Month, d(2026, 11, 30), d(2026, 12, 2));
        assert_eq!(months.len(), 2);
        assert_eq!((months[0].from, months[0].to), (Some(d(2026, 11, 30)), Some(d(2026, 11, 30))));
        assert_eq!((months[0].worked_minutes, months[0].scheduled_minutes, months[0].late), (480, 480, 0));
        assert_eq!((months[1].worked_minutes, months[1].scheduled_minutes), (460, 960));
        assert_eq!((months[1].late, months[1].late_minutes, months[1].absent, months[1].days_worked), (1, 15, 1, 1));
        let weeks = hours_by_period(&days, Period::Week, d(2026, 11, 30), d(2026, 12, 2));
        assert_eq!(weeks.len(), 1);
        assert_eq!((weeks[0].worked_minutes, weeks[0].scheduled_minutes), (940, 1440));
        assert_eq!(hours_text(940), "15:40");
        assert_eq!(Period::Week.start_of(d(2026, 12, 6)), d(2026, 11, 30));
        assert_eq!(period_end(Period::Month, d(2026, 12, 6)), d(2026, 12, 31));
        assert_eq!(period_end(Period::Month, d(2026, 2, 1)), d(2026, 2, 28));
        assert_eq!(period_end(Period::Week, d(2026, 12, 2)), d(2026, 12, 6));
    }

    #[test]
    fn the_time_zone_is_an_input_and_a_dst_gap_reads_an_hour_later() {
        let ny: Tz = chrono_tz::America::New_York;
        // 8 March 2026: New York clocks jump from 02:00 to 03:00.
        let s = PlannedShift::new(d(2026, 3, 8), t(1, 0), t(5, 0)).unwrap();
        let (start, end) = s.window(ny);
        assert_eq!((end - start).num_minutes(), 180, "four planned wall hours, three real ones");
        assert_eq!(instant(ny, d(2026, 3, 8), t(2, 30)), instant(ny, d(2026, 3, 8), t(3, 30)));
        assert_eq!(local_date(Utc.with_ymd_and_hms(2026, 11, 25, 16, 30, 0).unwrap(), SH), d(2026, 11, 26), "00:30 in Shanghai");
    }
}
