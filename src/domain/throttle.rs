//! Login throttling: how many failed logins a key (a client address, an account id) may have in
//! a window before further attempts are refused until the window has passed. Pure: the caller
//! passes the time. Bounded: at most `max_keys` keys are remembered; when full, the key whose
//! newest failure is oldest is forgotten first.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed within `window`; the next attempt is refused.
    pub max_failures: u32,
    pub window: Duration,
    pub max_keys: usize,
}

impl Default for ThrottlePolicy {
    /// 10 failures per 5 minutes per key, 10,000 keys.
    fn default() -> Self {
        ThrottlePolicy { max_failures: 10, window: Duration::from_secs(300), max_keys: 10_000 }
    }
}

/// Failures per key within the window.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: HashMap<String, Vec<DateTime<Utc>>>,
}

impl Throttle {
    /// `None` when `key` may try now; else how long until it may.
    pub fn check(&self, policy: &ThrottlePolicy, key: &str, now: DateTime<Utc>) -> Option<Duration> {
        let times = self.failures.get(key)?;
        let window = chrono::Duration::from_std(policy.window).unwrap_or(chrono::Duration::MAX);
        let recent: Vec<&DateTime<Utc>> = times.iter().filter(|t| now - **t < window).collect();
        if recent.len() < policy.max_failures as usize {
            return None;
        }
        // Free again when the oldest failure that still counts leaves the window.
        let oldest = recent.len() - policy.max_failures as usize;
        let free_at = *recent[oldest] + window;
        Some((free_at - now).to_std().unwrap_or(Duration::ZERO).max(Duration::from_secs(1)))
    }

    /// Records a failed attempt by `key`.
    pub fn fail(&mut self, policy: &ThrottlePolicy, key: &str, now: DateTime<Utc>) {
        let window = chrono::Duration::from_std(policy.window).unwrap_or(chrono::Duration::MAX);
        if !self.failures.contains_key(key) && self.failures.len() >= policy.max_keys {
            self.failures.retain(|_, times| times.last().is_some_and(|t| now - *t < window));
            if self.failures.len() >= policy.max_keys {
                let oldest = self.failures.iter().min_by_key(|(_, times)| times.last().copied()).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.failures.remove(&k);
                }
            }
        }
        let times = self.failures.entry(key.to_string()).or_default();
        times.retain(|t| now - *t < window);
        times.push(now);
        // Never more than the limit needs.
        let keep = policy.max_failures as usize + 1;
        if times.len() > keep {
            let drop = times.len() - keep;
            times.drain(..drop);
        }
    }

    /// A successful login clears the key's failures.
    pub fn succeed(&mut self, key: &str) {
        self.failures.remove(key);
    }

    pub fn keys(&self) -> usize {
        self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap_or_default()
    }

    #[test]
    fn three_failures_in_a_minute_lock_until_the_first_leaves_the_window() {
        let p = ThrottlePolicy { max_failures: 3, window: Duration::from_secs(60), max_keys: 10 };
        let mut t = Throttle::default();
        t.fail(&p, "10.0.0.7", at(0));
        t.fail(&p, "10.0.0.7", at(10));
        assert_eq!(t.check(&p, "10.0.0.7", at(11)), None);
        t.fail(&p, "10.0.0.7", at(20));
        // Failures at 0, 10, 20: the one at 0 leaves the window at 60.
        assert_eq!(t.check(&p, "10.0.0.7", at(21)), Some(Duration::from_secs(39)));
        assert_eq!(t.check(&p, "10.0.0.8", at(21)), None);
        assert_eq!(t.check(&p, "10.0.0.7", at(60)), None);
        t.succeed("10.0.0.7");
        assert_eq!(t.check(&p, "10.0.0.7", at(21)), None);
    }

    #[test]
    fn memory_stays_bounded_by_forgetting_the_stalest_key() {
        let p = ThrottlePolicy { max_failures: 2, window: Duration::from_secs(600), max_keys: 3 };
        let mut t = Throttle::default();
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            t.fail(&p, k, at(i as i64));
        }
        assert_eq!(t.keys(), 3);
        t.fail(&p, "d", at(5));
        assert_eq!(t.check(&p, "d", at(6)).is_some(), true);
        for _ in 0..100 {
            t.fail(&p, "d", at(7));
        }
        assert!(t.failures["d"].len() <= 3);
    }
}
