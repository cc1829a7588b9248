//! The one source of "now" for every part of storehub. Production code reads [`SystemClock`];
//! tests hold a [`ManualClock`] and move it (days of dormancy, coupon expiry, forecast horizons)
//! without sleeping. Nothing outside this module calls `Utc::now()`.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use std::sync::{Arc, Mutex};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock of the machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Arc::new(Mutex::new(start)) }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shop-local wall time of the instant `now`: what coupon dates, promotion windows and business
/// days are written in. Uses the process's local time zone; `main` sets it from
/// `[store].timezone` (as `TZ`) unless `TZ` is already set.
pub fn shop_local(now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&chrono::Local).naive_local()
}

/// The system clock as a shared handle.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        let shared: SharedClock = Arc::new(clock.clone());
        assert_eq!(shared.now(), start);
        clock.advance(Duration::days(30));
        assert_eq!(shared.now(), Utc.with_ymd_and_hms(2026, 12, 25, 9, 0, 0).unwrap());
    }
}
