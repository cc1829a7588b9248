//! Member tiers (会员等级): which tier a member's last 12 months entitle them to, when they move up
//! (at once) or down (after a grace period, by a scheduled job), and the birthday reward.
//!
//! Owns the ladder arithmetic on indices into a ladder the caller builds from `[[loyalty.tiers]]`
//! (lowest first, first at 0 spend; config already checks that). It never stores a member's tier
//! or grace start, and never reads the clock: `today` comes from the caller.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Days in the rolling spend window, today included.
pub const ROLLING_DAYS: u64 = 365;
/// A birthday reward missed (hub off, job not run) is still given this many days later.
pub const BIRTHDAY_CATCH_UP_DAYS: i64 = 7;

/// One rung of the tier ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRule {
    /// Stable id, e.g. "gold"; stored on members and sent in events.
    pub id: String,
    /// What people read: 金卡 / Gold.
    #[serde(default)]
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    /// Rolling 12-month spend in fen that enters this tier.
    pub min_spend_fen: i64,
    /// Visits in 12 months that also enter it, whatever the spend; `None` = spend only.
    pub min_visits: Option<u32>,
    /// Tier discount, bp (500 = 5% off, 95折).
    pub discount_bp: u32,
    /// Points multiplier, bp (10 000 = ×1); passed to [`super::earn::earn`].
    pub points_multiplier_bp: u32,
    /// Points given once a year on the member's birthday.
    pub birthday_points: i64,
}

impl TierRule {
    /// Entry rule: spend ≥ `min_spend_fen`, OR `min_visits` is set and visits ≥ it.
    pub fn qualifies(&self, spend_12m_fen: i64, visits_12m: u32) -> bool {
        spend_12m_fen >= self.min_spend_fen || self.min_visits.is_some_and(|v| visits_12m >= v)
    }
}

/// Why a member's tier changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TierChangeReason {
    /// Rolling spend reached the tier's minimum.
    Spend {
        spend_12m_fen: i64,
        min_spend_fen: i64,
    },
    /// Visits reached the tier's minimum (spend did not).
    Visits { visits_12m: u32, min_visits: u32 },
    /// The member stayed below their tier for the whole grace period.
    GraceEnded {
        below_since: NaiveDate,
        grace_days: u32,
    },
}

/// A tier change to store on the member and send in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    /// Tier id before.
    pub from: String,
    /// Tier id after.
    pub to: String,
    /// Why.
    pub reason: TierChangeReason,
}

/// What the downgrade job should do for one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DowngradeDecision {
    /// At or above the current tier's level: keep it, and clear any stored grace start.
    Keep,
    /// First time found below: store `since` as the grace start; the tier is kept.
    StartGrace { since: NaiveDate },
    /// Below, grace running: keep the tier; the downgrade happens on `downgrade_on` if still below.
    StillInGrace {
        since: NaiveDate,
        downgrade_on: NaiveDate,
    },
    /// Grace over: move straight to the entitled tier `to` (an index) and clear the grace start.
    Downgrade { to: usize },
}

/// Index of the highest tier whose entry rule the member meets; 0 (the base tier) when none
/// does or the ladder is empty.
pub fn entitled_tier(ladder: &[TierRule], spend_12m_fen: i64, visits_12m: u32) -> usize {
    ladder
        .iter()
        .rposition(|t| t.qualifies(spend_12m_fen, visits_12m))
        .unwrap_or(0)
}

/// The immediate upgrade, if the member is now entitled to a tier above `current`.
pub fn upgrade(
    ladder: &[TierRule],
    current: usize,
    spend_12m_fen: i64,
    visits_12m: u32,
) -> Option<TierChange> {
    let entitled = entitled_tier(ladder, spend_12m_fen, visits_12m);
    if entitled <= current {
        return None;
    }
    let to = ladder.get(entitled)?;
    let reason = match to.min_visits {
        Some(min_visits) if spend_12m_fen < to.min_spend_fen => TierChangeReason::Visits {
            visits_12m,
            min_visits,
        },
        _ => TierChangeReason::Spend {
            spend_12m_fen,
            min_spend_fen: to.min_spend_fen,
        },
    };
    Some(TierChange {
        from: ladder
            .get(current)
            .map(|t| t.id.clone())
            .unwrap_or_default(),
        to: to.id.clone(),
        reason,
    })
}

/// The downgrade job's decision. Below the current tier on `today`: grace starts (or, with
/// `grace_days = 0`, the downgrade happens at once); the member is downgraded once
/// `today ≥ below_since + grace_days`, so a 30-day grace started on June 1 keeps the tier
/// through June 30 and downgrades on July 1. Back at the tier's level: `Keep`, clearing the grace.
pub fn evaluate_downgrade(
    current: usize,
    entitled: usize,
    below_since: Option<NaiveDate>,
    today: NaiveDate,
    grace_days: u32,
) -> DowngradeDecision {
    if entitled >= current {
        return DowngradeDecision::Keep;
    }
    let since = match below_since {
        Some(since) => since,
        None if grace_days == 0 => return DowngradeDecision::Downgrade { to: entitled },
        None => return DowngradeDecision::StartGrace { since: today },
    };
    let downgrade_on = since
        .checked_add_days(chrono::Days::new(u64::from(grace_days)))
        .unwrap_or(NaiveDate::MAX);
    if today >= downgrade_on {
        DowngradeDecision::Downgrade { to: entitled }
    } else {
        DowngradeDecision::StillInGrace {
            since,
            downgrade_on,
        }
    }
}

/// The rolling window ending `today`: (first day, last day), both inclusive, 365 days.
pub fn rolling_window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today
        .checked_sub_days(chrono::Days::new(ROLLING_DAYS - 1))
        .unwrap_or(NaiveDate::MIN);
    (first, today)
}

/// Spend over [`rolling_window`]`(today)`: Σ of the daily totals dated `today − 364 ..= today`
/// (later dates are ignored), saturating.
pub fn rolling_spend(daily_totals: &[(NaiveDate, i64)], today: NaiveDate) -> i64 {
    let (first, last) = rolling_window(today);
    let sum: i128 = daily_totals
        .iter()
        .filter(|(d, _)| first <= *d && *d <= last)
        .map(|(_, fen)| i128::from(*fen))
        .sum();
    super::saturate(sum)
}

/// The member's birthday in `year`; Feb 29 falls on Feb 28 in non-leap years. `None` for a
/// date that exists in no year (month 13, April 31, …).
pub fn birthday_in(year: i32, (month, day): (u32, u32)) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).or_else(|| {
        if (month, day) == (2, 29) {
            NaiveDate::from_ymd_opt(year, 2, 28)
        } else {
            None
        }
    })
}

/// Whether the birthday reward is due on `today`: the birthday this year is today or up to
/// [`BIRTHDAY_CATCH_UP_DAYS`] ago, and it was not already given this year. After giving it, store
/// `today.year()` as `last_given_year`.
pub fn birthday_due(birthday: (u32, u32), today: NaiveDate, last_given_year: Option<i32>) -> bool {
    if last_given_year == Some(today.year()) {
        return false;
    }
    birthday_in(today.year(), birthday).is_some_and(|b| {
        let days = (today - b).num_days();
        (0..=BIRTHDAY_CATCH_UP_DAYS).contains(&days)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn tier(id: &str, min_spend_fen: i64, min_visits: Option<u32>) -> TierRule {
        TierRule {
            id: id.into(),
            name_zh: String::new(),
            name_en: String::new(),
            min_spend_fen,
            min_visits,
            discount_bp: 0,
            points_multiplier_bp: 10_000,
            birthday_points: 0,
        }
    }

    /// The example config's ladder, with gold also reachable by 50 visits.
    fn ladder() -> Vec<TierRule> {
        vec![
            tier("regular", 0, None),
            tier("silver", 100_000, None),
            tier("gold", 500_000, Some(50)),
            tier("diamond", 2_000_000, None),
        ]
    }

    #[test]
    fn spend_or_visits_decide_the_tier() {
        let l = ladder();
        assert_eq!(entitled_tier(&l, 0, 0), 0);
        assert_eq!(entitled_tier(&l, 99_999, 0), 0);
        // ¥1,000.00 exactly enters silver.
        assert_eq!(entitled_tier(&l, 100_000, 0), 1);
        // ¥1,200.00 but 52 visits: gold by visits.
        assert_eq!(entitled_tier(&l, 120_000, 52), 2);
        assert_eq!(entitled_tier(&l, 2_000_000, 0), 3);
        assert_eq!(entitled_tier(&[], 5_000_000, 9), 0);
        // A ladder whose base tier needs spend still puts everyone at 0.
        assert_eq!(entitled_tier(&[tier("x", 100, None)], 0, 0), 0);
    }

    #[test]
    fn silver_member_reaching_5000_is_gold_at_once() {
        let l = ladder();
        assert_eq!(
            upgrade(&l, 1, 500_000, 3),
            Some(TierChange {
                from: "silver".into(),
                to: "gold".into(),
                reason: TierChangeReason::Spend {
                    spend_12m_fen: 500_000,
                    min_spend_fen: 500_000
                }
            })
        );
        assert_eq!(
            upgrade(&l, 1, 120_000, 50).map(|c| c.reason),
            Some(TierChangeReason::Visits {
                visits_12m: 50,
                min_visits: 50
            })
        );
        assert_eq!(upgrade(&l, 2, 500_000, 3), None);
        assert_eq!(upgrade(&l, 3, 500_000, 3), None);
    }

    #[test]
    fn silver_member_below_threshold_keeps_tier_for_30_day_grace() {
        // Silver (1) whose 12-month spend fell to ¥800.00 (entitled: regular, 0) on June 1.
        let june = |day| d(2026, 6, day);
        assert_eq!(
            evaluate_downgrade(1, 0, None, june(1), 30),
            DowngradeDecision::StartGrace { since: june(1) }
        );
        // Still silver on June 30, the 30th day of grace.
        assert_eq!(
            evaluate_downgrade(1, 0, Some(june(1)), june(30), 30),
            DowngradeDecision::StillInGrace {
                since: june(1),
                downgrade_on: d(2026, 7, 1)
            }
        );
        // July 1: regular.
        assert_eq!(
            evaluate_downgrade(1, 0, Some(june(1)), d(2026, 7, 1), 30),
            DowngradeDecision::Downgrade { to: 0 }
        );
        // Back above ¥1,000.00 on June 20: the grace is cleared.
        assert_eq!(
            evaluate_downgrade(1, 1, Some(june(1)), june(20), 30),
            DowngradeDecision::Keep
        );
        // Without grace the downgrade is immediate; a gold member falls straight to regular.
        assert_eq!(
            evaluate_downgrade(2, 0, None, june(1), 0),
            DowngradeDecision::Downgrade { to: 0 }
        );
        assert_eq!(
            serde_json::to_string(&DowngradeDecision::Downgrade { to: 0 }).unwrap(),
            r#"{"kind":"downgrade","to":0}"#
        );
    }

    #[test]
    fn rolling_spend_counts_365_days_including_today() {
        let today = d(2026, 6, 30);
        assert_eq!(rolling_window(today), (d(2025, 7, 1), today));
        let totals = [
            (d(2025, 6, 30), 1_000_000), // 366 days ago: out
            (d(2025, 7, 1), 20_000),     // first day of the window
            (d(2026, 1, 15), 30_000),
            (d(2026, 6, 30), 5_000), // today
            (d(2026, 7, 1), 7_777),  // tomorrow (bad data): ignored
        ];
        assert_eq!(rolling_spend(&totals, today), 55_000);
        assert_eq!(rolling_spend(&[], today), 0);
        assert_eq!(
            rolling_window(NaiveDate::MIN),
            (NaiveDate::MIN, NaiveDate::MIN)
        );
    }

    #[test]
    fn birthday_rewards_once_a_year() {
        // Born May 20: due on May 20, still on May 27 (hub was off), not on May 28 or May 19.
        assert!(birthday_due((5, 20), d(2026, 5, 20), Some(2025)));
        assert!(birthday_due((5, 20), d(2026, 5, 27), None));
        assert!(!birthday_due((5, 20), d(2026, 5, 28), None));
        assert!(!birthday_due((5, 20), d(2026, 5, 19), None));
        // Given this year already.
        assert!(!birthday_due((5, 20), d(2026, 5, 21), Some(2026)));
        // Not a date.
        assert!(!birthday_due((13, 1), d(2026, 5, 21), None));
        assert!(!birthday_due((4, 31), d(2026, 5, 1), None));
    }

    #[test]
    fn feb_29_birthday_is_celebrated_feb_28_in_common_years() {
        assert_eq!(birthday_in(2026, (2, 29)), Some(d(2026, 2, 28)));
        assert_eq!(birthday_in(2028, (2, 29)), Some(d(2028, 2, 29)));
        assert!(birthday_due((2, 29), d(2026, 2, 28), Some(2025)));
        assert!(!birthday_due((2, 29), d(2028, 2, 28), Some(2027)));
        assert!(birthday_due((2, 29), d(2028, 2, 29), Some(2027)));
    }

    proptest! {
        #[test]
        fn more_spend_never_lowers_the_tier(a in 0i64..5_000_000, b in 0i64..5_000_000, v in 0u32..100) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(entitled_tier(&ladder(), lo, v) <= entitled_tier(&ladder(), hi, v));
        }
    }
}
