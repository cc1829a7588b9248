//! Whether the wall clock can be trusted: a box without a real-time clock starts in 1970 (or at
//! its last shutdown's time) until NTP syncs, and NTP or a technician may step it back. Pure:
//! the caller passes "now", the floor and the newest time the store has recorded (its high-water
//! mark); `clock_watch` does the reading and writing. Expiry, dormancy and other date-driven
//! jobs wait while the clock is not sane; sales go on and record the verdict.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// No real "now" is earlier than this (2026-01-01T00:00:00Z, before this code existed): a clock
/// that says so has not been set since the box booted.
pub fn floor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// How far behind the high-water mark the clock may be before it counts as stepped back: NTP's
/// small corrections and a few minutes' drift of an unsynced box stay within it.
pub const BACKWARD_TOLERANCE_S: i64 = 10 * 60;

/// The verdict on one reading of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClockVerdict {
    Sane,
    /// Before [`floor`]: never set since boot (the 1970 case).
    Unsynced { now: DateTime<Utc>, floor: DateTime<Utc> },
    /// More than [`BACKWARD_TOLERANCE_S`] behind the newest time the store has recorded: the
    /// clock was stepped back (or the mark was written by a clock that ran ahead).
    SteppedBack { now: DateTime<Utc>, mark: DateTime<Utc>, behind_s: i64 },
}

impl ClockVerdict {
    pub fn is_sane(&self) -> bool {
        matches!(self, ClockVerdict::Sane)
    }

    /// One line for logs, the health page and HQ's alarm.
    pub fn describe(&self) -> String {
        match self {
            ClockVerdict::Sane => "the clock is sane".into(),
            ClockVerdict::Unsynced { now, floor } => format!(
                "the clock says {} (before {}): not synced yet; expiry and dormancy jobs wait; check NTP (`timedatectl`)",
                now.format("%Y-%m-%d %H:%M:%SZ"),
                floor.format("%Y-%m-%d")
            ),
            ClockVerdict::SteppedBack { now, mark, behind_s } => format!(
                "the clock says {}, {} min behind the newest time recorded ({}): it was stepped back; expiry and dormancy jobs wait until it passes that time; check NTP (`timedatectl`); if that time was itself wrong (the clock ran ahead), `storehub clock reset-mark`",
                now.format("%Y-%m-%d %H:%M:%SZ"),
                behind_s / 60,
                mark.format("%Y-%m-%d %H:%M:%SZ")
            ),
        }
    }
}

/// Judges `now` against the floor and the high-water mark (`None` on a new database).
pub fn judge(now: DateTime<Utc>, floor: DateTime<Utc>, mark: Option<DateTime<Utc>>) -> ClockVerdict {
    if now < floor {
        return ClockVerdict::Unsynced { now, floor };
    }
    match mark {
        Some(mark) if now < mark - Duration::seconds(BACKWARD_TOLERANCE_S) => {
            ClockVerdict::SteppedBack { now, mark, behind_s: (mark - now).num_seconds() }
        }
        _ => ClockVerdict::Sane,
    }
}

/// How far a sane clock must have moved past the mark before the mark is raised: every sale
/// judges its time, and raising the mark at most once a minute keeps a busy till from adding a
/// meta write to every commit. The mark lags "now" by under a minute, so a step back is
/// detected from [`BACKWARD_TOLERANCE_S`] plus at most this much.
pub const MARK_STEP_S: i64 = 60;

/// The high-water mark after a reading: moved up to `now` only when the clock is sane (an
/// unsynced or stepped-back clock never lowers or raises it) and at least [`MARK_STEP_S`] past
/// the old mark.
pub fn next_mark(verdict: &ClockVerdict, now: DateTime<Utc>, mark: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (verdict.is_sane(), mark) {
        (true, Some(m)) if now >= m + Duration::seconds(MARK_STEP_S) => Some(now),
        (true, None) => Some(now),
        _ => mark,
    }
}

/// Why the high-water mark may not be reset now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResetRefused {
    /// The clock itself is not set: lowering the mark to 1970 would only hide that.
    #[error("the clock says {now} and has not been synced since boot; set it first (NTP: `timedatectl`), then reset the mark if the clock still reads as stepped back")]
    Unsynced { now: DateTime<Utc> },
    /// Nothing to reset: the clock is not behind the mark.
    #[error("the clock is sane (not behind the newest time recorded); the mark needs no reset")]
    Sane,
}

/// The mark after a technician's reset (`storehub clock reset-mark`): "now", when the clock is
/// set but behind the mark. That is the way out when the mark itself is wrong, written while
/// the clock ran ahead (a wrong manual setting, a bad RTC): otherwise the date-driven jobs
/// would wait until the real time passes it. A step back that really happened should rather
/// be fixed by setting the clock, which is why a sane or unsynced clock is refused.
pub fn reset_mark(verdict: &ClockVerdict, now: DateTime<Utc>) -> Result<DateTime<Utc>, ResetRefused> {
    match verdict {
        ClockVerdict::SteppedBack { .. } => Ok(now),
        ClockVerdict::Unsynced { now, .. } => Err(ResetRefused::Unsynced { now: *now }),
        ClockVerdict::Sane => Err(ResetRefused::Sane),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_box_booting_in_1970_is_unsynced_and_leaves_the_mark_alone() {
        let now = t("1970-01-01T00:00:42Z");
        let mark = Some(t("2026-11-25T21:00:00Z"));
        let v = judge(now, floor(), mark);
        assert_eq!(v, ClockVerdict::Unsynced { now, floor: t("2026-01-01T00:00:00Z") });
        assert_eq!(next_mark(&v, now, mark), mark);
        assert!(v.describe().contains("1970-01-01 00:00:42Z"), "{}", v.describe());
    }

    #[test]
    fn three_hours_back_is_a_step_back_and_nine_minutes_is_drift() {
        let mark = Some(t("2026-11-26T12:00:00Z"));
        // 12:00 − 3 h = 09:00: 10 800 s behind, over the 600 s tolerance.
        assert_eq!(
            judge(t("2026-11-26T09:00:00Z"), floor(), mark),
            ClockVerdict::SteppedBack { now: t("2026-11-26T09:00:00Z"), mark: t("2026-11-26T12:00:00Z"), behind_s: 10_800 }
        );
        // 12:00 − 9 min = 11:51: 540 s behind, within it.
        assert_eq!(judge(t("2026-11-26T11:51:00Z"), floor(), mark), ClockVerdict::Sane);
        // Exactly 600 s behind is still within.
        assert_eq!(judge(t("2026-11-26T11:50:00Z"), floor(), mark), ClockVerdict::Sane);
    }

    #[test]
    fn the_mark_only_rises_with_a_sane_clock() {
        let mark = Some(t("2026-11-26T12:00:00Z"));
        let later = t("2026-11-26T12:05:00Z");
        assert_eq!(next_mark(&judge(later, floor(), mark), later, mark), Some(later));
        let drift = t("2026-11-26T11:55:00Z");
        assert_eq!(next_mark(&judge(drift, floor(), mark), drift, mark), mark);
        let first = t("2026-11-26T08:00:00Z");
        assert_eq!(next_mark(&judge(first, floor(), None), first, None), Some(first));
    }

    #[test]
    fn the_mark_rises_at_most_once_a_minute() {
        let mark = Some(t("2026-11-26T12:00:00Z"));
        // 59 s later: the sale's commit leaves the mark alone (no meta write).
        let soon = t("2026-11-26T12:00:59Z");
        assert_eq!(next_mark(&judge(soon, floor(), mark), soon, mark), mark);
        // 60 s later: raised.
        let minute = t("2026-11-26T12:01:00Z");
        assert_eq!(next_mark(&judge(minute, floor(), mark), minute, mark), Some(minute));
        // With the mark lagging 59 s, a step back to 11:50:30 (10 min 29 s behind the real
        // 12:00:59, 9 min 30 s behind the mark) is still within tolerance; 11:49:59 is not.
        assert_eq!(judge(t("2026-11-26T11:50:30Z"), floor(), mark), ClockVerdict::Sane);
        assert!(!judge(t("2026-11-26T11:49:59Z"), floor(), mark).is_sane());
    }

    #[test]
    fn a_mark_written_by_a_clock_that_ran_a_year_ahead_is_reset_to_now() {
        // The clock was set to 2027-11-26 by mistake, a sale raised the mark there, NTP then put
        // it back to 2026-11-26 12:00: 365 days (31 536 000 s) behind the mark.
        let mark = Some(t("2027-11-26T12:00:00Z"));
        let now = t("2026-11-26T12:00:00Z");
        let v = judge(now, floor(), mark);
        assert_eq!(v, ClockVerdict::SteppedBack { now, mark: t("2027-11-26T12:00:00Z"), behind_s: 31_536_000 });
        assert_eq!(reset_mark(&v, now), Ok(now));
        // After the reset the same reading is sane.
        assert!(judge(now, floor(), Some(now)).is_sane());
    }

    #[test]
    fn a_sane_or_unsynced_clock_refuses_a_reset() {
        let now = t("2026-11-26T12:00:00Z");
        assert_eq!(reset_mark(&judge(now, floor(), Some(now)), now), Err(ResetRefused::Sane));
        let boot = t("1970-01-01T00:00:42Z");
        let refused = reset_mark(&judge(boot, floor(), Some(now)), boot).unwrap_err();
        assert_eq!(refused, ResetRefused::Unsynced { now: boot });
        assert!(refused.to_string().contains("timedatectl"), "{refused}");
    }
}
