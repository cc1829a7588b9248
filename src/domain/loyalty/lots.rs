//! Point lots (积分批次) and their expiry: which points a redemption, an expiry run or a return
//! takes, lot by lot.
//!
//! A lot is the points credited together (one sale, one adjustment, one restore) with one expiry
//! date. Functions here only decide [`LotTake`]s; the caller applies them to its stored lots with
//! [`apply_takes`] and writes the matching ledger entries in the same transaction.
//!
//! **Expiry.** A lot expiring on day D is usable through the end of D (shop-local) and expired
//! from D + 1: [`expire_due`] takes it when `expires_on < today`. **Order.** Redemptions and
//! returns take the soonest-expiring lots first, never-expiring lots last, ties by lot id.

use std::cmp::Ordering;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::PointsError;

/// Points credited together, with one expiry date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointLot {
    /// Unique per member; also the tie-break between lots expiring the same day.
    pub id: u64,
    /// Shop-local date the points were credited.
    pub earned_on: NaiveDate,
    /// Last day the points can be used; `None` = never expire.
    pub expires_on: Option<NaiveDate>,
    /// Points credited.
    pub original: i64,
    /// Points not yet redeemed, expired or taken back; `0..=original`.
    pub remaining: i64,
}

impl PointLot {
    /// A fresh lot of `points` earned on `earned_on`, expiring as `rule` says.
    pub fn new(id: u64, earned_on: NaiveDate, points: i64, rule: &ExpiryRule) -> PointLot {
        PointLot {
            id,
            earned_on,
            expires_on: rule.expires_on(earned_on),
            original: points,
            remaining: points,
        }
    }

    /// Whether the lot's points can no longer be used on `today` (its last day has passed).
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires_on.is_some_and(|d| d < today)
    }
}

/// When points expire. The integrator maps `[loyalty].points_expiry_months`: 0 → `Never`,
/// N → `MonthsAfter(N)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "months", rename_all = "snake_case")]
pub enum ExpiryRule {
    /// Points never expire.
    Never,
    /// The same day N months later, clamped to the month's end (Jan 31 + 1 month = Feb 28, or
    /// Feb 29 in a leap year). `MonthsAfter(0)` expires at the end of the day earned.
    MonthsAfter(u32),
    /// December 31 of the year after the year earned (2026-03-05 → 2027-12-31).
    EndOfFollowingYear,
}

impl ExpiryRule {
    /// Last day points earned on `earned_on` can be used; `None` = never. A date beyond chrono's
    /// range (year 262 143) saturates to `NaiveDate::MAX`.
    pub fn expires_on(&self, earned_on: NaiveDate) -> Option<NaiveDate> {
        match *self {
            ExpiryRule::Never => None,
            ExpiryRule::MonthsAfter(n) => Some(
                earned_on
                    .checked_add_months(Months::new(n))
                    .unwrap_or(NaiveDate::MAX),
            ),
            ExpiryRule::EndOfFollowingYear => Some(
                NaiveDate::from_ymd_opt(earned_on.year().saturating_add(1), 12, 31)
                    .unwrap_or(NaiveDate::MAX),
            ),
        }
    }
}

/// Points to take from one lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotTake {
    /// The lot.
    pub lot_id: u64,
    /// Points taken from it; positive.
    pub points: i64,
}

/// Points about to expire, for "300 points expire on 2026-06-30" reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringLot {
    /// The lot.
    pub lot_id: u64,
    /// Its remaining points.
    pub points: i64,
    /// Its last usable day.
    pub expires_on: NaiveDate,
}

/// Soonest expiry first, never-expiring last, then lot id.
fn expiry_order(a: &PointLot, b: &PointLot) -> Ordering {
    let key = |l: &PointLot| (l.expires_on.is_none(), l.expires_on, l.id);
    key(a).cmp(&key(b))
}

/// Usable points on `today`: the remaining points of lots not yet expired.
pub fn available(lots: &[PointLot], today: NaiveDate) -> i64 {
    lots.iter()
        .filter(|l| !l.is_expired(today))
        .fold(0i64, |s, l| s.saturating_add(l.remaining.max(0)))
}

/// Takes up to `points` from usable lots: lot `prefer` first (if usable), then in expiry order.
/// Returns the takes and the points that could not be covered.
pub(super) fn consume(
    lots: &[PointLot],
    points: i64,
    prefer: Option<u64>,
    today: NaiveDate,
) -> (Vec<LotTake>, i64) {
    let mut usable: Vec<&PointLot> = lots
        .iter()
        .filter(|l| l.remaining > 0 && !l.is_expired(today))
        .collect();
    usable.sort_by(|a, b| {
        // `false` sorts first: the preferred lot leads.
        let not_preferred = |l: &PointLot| Some(l.id) != prefer;
        not_preferred(a)
            .cmp(&not_preferred(b))
            .then_with(|| expiry_order(a, b))
    });
    let mut left = points.max(0);
    let mut takes = Vec::new();
    for lot in usable {
        if left == 0 {
            break;
        }
        let take = lot.remaining.min(left);
        takes.push(LotTake {
            lot_id: lot.id,
            points: take,
        });
        left -= take;
    }
    (takes, left)
}

/// Which lots pay for redeeming `points` on `today`: soonest-expiring first, never-expiring last,
/// ties by lot id; expired lots (not yet swept by [`expire_due`]) are not used.
/// Errors: [`PointsError::NegativePoints`], [`PointsError::Insufficient`]. Redeeming 0 takes nothing.
pub fn redeem_fifo(
    lots: &[PointLot],
    points: i64,
    today: NaiveDate,
) -> Result<Vec<LotTake>, PointsError> {
    if points < 0 {
        return Err(PointsError::NegativePoints { points });
    }
    let (takes, short) = consume(lots, points, None, today);
    if short > 0 {
        return Err(PointsError::Insufficient {
            wanted: points,
            available: available(lots, today),
        });
    }
    Ok(takes)
}

/// What the expiry job takes on `today`: the whole remainder of every lot whose last day is
/// before `today`. Once those takes are applied, calling again takes nothing, so points expire
/// exactly once however often the job runs.
pub fn expire_due(lots: &[PointLot], today: NaiveDate) -> Vec<LotTake> {
    let mut due: Vec<&PointLot> = lots
        .iter()
        .filter(|l| l.remaining > 0 && l.is_expired(today))
        .collect();
    due.sort_by(|a, b| expiry_order(a, b));
    due.iter()
        .map(|l| LotTake {
            lot_id: l.id,
            points: l.remaining,
        })
        .collect()
}

/// Lots with points left that expire between `today` and `today + within_days`, both inclusive
/// (`within_days = 0`: expiring at the end of today), soonest first.
pub fn expiring_soon(lots: &[PointLot], today: NaiveDate, within_days: u32) -> Vec<ExpiringLot> {
    let last = today
        .checked_add_days(chrono::Days::new(u64::from(within_days)))
        .unwrap_or(NaiveDate::MAX);
    let mut soon: Vec<&PointLot> = lots
        .iter()
        .filter(|l| l.remaining > 0)
        .filter(|l| l.expires_on.is_some_and(|d| today <= d && d <= last))
        .collect();
    soon.sort_by(|a, b| expiry_order(a, b));
    soon.iter()
        .filter_map(|l| {
            l.expires_on.map(|expires_on| ExpiringLot {
                lot_id: l.id,
                points: l.remaining,
                expires_on,
            })
        })
        .collect()
}

/// The lots after `takes`, or the first problem: a take that is negative
/// ([`PointsError::NegativePoints`]), names no lot ([`PointsError::UnknownLot`]) or, with the
/// takes before it, exceeds what the lot has left ([`PointsError::TakeExceedsLot`]).
/// All or nothing: on error nothing is applied.
pub fn apply_takes(lots: &[PointLot], takes: &[LotTake]) -> Result<Vec<PointLot>, PointsError> {
    let mut out = lots.to_vec();
    for t in takes {
        if t.points < 0 {
            return Err(PointsError::NegativePoints { points: t.points });
        }
        let lot = out
            .iter_mut()
            .find(|l| l.id == t.lot_id)
            .ok_or(PointsError::UnknownLot { lot_id: t.lot_id })?;
        if t.points > lot.remaining {
            return Err(PointsError::TakeExceedsLot {
                lot_id: t.lot_id,
                take: t.points,
                remaining: lot.remaining,
            });
        }
        lot.remaining -= t.points;
    }
    Ok(out)
}

/// Sum of the takes' points.
pub fn total(takes: &[LotTake]) -> i64 {
    takes.iter().fold(0i64, |s, t| s.saturating_add(t.points))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn lot(id: u64, expires_on: Option<NaiveDate>, remaining: i64) -> PointLot {
        PointLot {
            id,
            earned_on: d(2026, 1, 1),
            expires_on,
            original: remaining,
            remaining,
        }
    }

    #[test]
    fn lot_earned_jan_31_with_1_month_expiry_ends_feb_28() {
        let rule = ExpiryRule::MonthsAfter(1);
        assert_eq!(rule.expires_on(d(2026, 1, 31)), Some(d(2026, 2, 28)));
        // 2028 is a leap year.
        assert_eq!(rule.expires_on(d(2028, 1, 31)), Some(d(2028, 2, 29)));
        // Usable all of Feb 28, expired on Mar 1.
        let l = PointLot::new(7, d(2026, 1, 31), 120, &rule);
        assert!(!l.is_expired(d(2026, 2, 28)));
        assert!(l.is_expired(d(2026, 3, 1)));
        assert!(expire_due(std::slice::from_ref(&l), d(2026, 2, 28)).is_empty());
        assert_eq!(
            expire_due(&[l], d(2026, 3, 1)),
            vec![LotTake {
                lot_id: 7,
                points: 120
            }]
        );
    }

    #[test]
    fn expiry_rules_worked_examples() {
        // The default 24 months: 2026-03-15 → 2028-03-15.
        assert_eq!(
            ExpiryRule::MonthsAfter(24).expires_on(d(2026, 3, 15)),
            Some(d(2028, 3, 15))
        );
        // Feb 29 + 12 months → Feb 28.
        assert_eq!(
            ExpiryRule::MonthsAfter(12).expires_on(d(2028, 2, 29)),
            Some(d(2029, 2, 28))
        );
        assert_eq!(
            ExpiryRule::MonthsAfter(0).expires_on(d(2026, 3, 15)),
            Some(d(2026, 3, 15))
        );
        assert_eq!(
            ExpiryRule::EndOfFollowingYear.expires_on(d(2026, 3, 5)),
            Some(d(2027, 12, 31))
        );
        assert_eq!(
            ExpiryRule::EndOfFollowingYear.expires_on(d(2026, 12, 31)),
            Some(d(2027, 12, 31))
        );
        assert_eq!(ExpiryRule::Never.expires_on(d(2026, 3, 5)), None);
        // Out of chrono's range saturates instead of panicking.
        assert_eq!(
            ExpiryRule::MonthsAfter(u32::MAX).expires_on(d(2026, 1, 1)),
            Some(NaiveDate::MAX)
        );
        assert_eq!(
            ExpiryRule::EndOfFollowingYear.expires_on(NaiveDate::MAX),
            Some(NaiveDate::MAX)
        );
        assert_eq!(
            serde_json::to_string(&ExpiryRule::MonthsAfter(24)).unwrap(),
            r#"{"kind":"months_after","months":24}"#
        );
    }

    #[test]
    fn redeeming_300_takes_the_soonest_expiring_lots_first() {
        // Lot 1: 500 never expiring; lot 2: 100 expiring 2026-06-30; lot 3: 150 expiring
        // 2026-03-31; lot 4: 120 also 2026-06-30; lot 5: 80 expired 2026-01-31, not yet swept.
        let lots = [
            lot(1, None, 500),
            lot(2, Some(d(2026, 6, 30)), 100),
            lot(3, Some(d(2026, 3, 31)), 150),
            lot(4, Some(d(2026, 6, 30)), 120),
            lot(5, Some(d(2026, 1, 31)), 80),
        ];
        let today = d(2026, 2, 10);
        // 300 = 150 (Mar 31) + 100 (Jun 30, lot 2 before lot 4) + 50 of lot 4.
        assert_eq!(
            redeem_fifo(&lots, 300, today),
            Ok(vec![
                LotTake {
                    lot_id: 3,
                    points: 150
                },
                LotTake {
                    lot_id: 2,
                    points: 100
                },
                LotTake {
                    lot_id: 4,
                    points: 50
                },
            ])
        );
        // 800 reaches the never-expiring lot last: 150 + 100 + 120 + 430.
        let takes = redeem_fifo(&lots, 800, today).unwrap();
        assert_eq!(
            takes.last(),
            Some(&LotTake {
                lot_id: 1,
                points: 430
            })
        );
        assert_eq!(total(&takes), 800);
        // 870 usable (the expired 80 do not count).
        assert_eq!(available(&lots, today), 870);
        assert_eq!(
            redeem_fifo(&lots, 871, today),
            Err(PointsError::Insufficient {
                wanted: 871,
                available: 870
            })
        );
        assert_eq!(
            redeem_fifo(&lots, -1, today),
            Err(PointsError::NegativePoints { points: -1 })
        );
        assert_eq!(redeem_fifo(&lots, 0, today), Ok(vec![]));
    }

    #[test]
    fn expiry_job_twice_expires_once() {
        let lots = vec![
            lot(1, Some(d(2026, 1, 31)), 80),
            lot(2, Some(d(2026, 2, 9)), 0),
            lot(3, Some(d(2026, 2, 10)), 40),
            lot(4, None, 500),
        ];
        let today = d(2026, 2, 10);
        // Lot 1 ended Jan 31: 80 expire. Lot 2 is empty. Lot 3 is usable until tonight.
        let first = expire_due(&lots, today);
        assert_eq!(
            first,
            vec![LotTake {
                lot_id: 1,
                points: 80
            }]
        );
        let after = apply_takes(&lots, &first).unwrap();
        assert!(expire_due(&after, today).is_empty());
        // Tomorrow lot 3 goes too, and only lot 3.
        assert_eq!(
            expire_due(&after, d(2026, 2, 11)),
            vec![LotTake {
                lot_id: 3,
                points: 40
            }]
        );
    }

    #[test]
    fn expiring_soon_lists_the_next_30_days() {
        let lots = [
            lot(1, Some(d(2026, 2, 9)), 10),  // already expired
            lot(2, Some(d(2026, 2, 10)), 20), // today: included
            lot(3, Some(d(2026, 3, 12)), 30), // today + 30: included
            lot(4, Some(d(2026, 3, 13)), 40), // today + 31: not yet
            lot(5, None, 50),                 // never
            lot(6, Some(d(2026, 2, 20)), 0),  // nothing left
        ];
        assert_eq!(
            expiring_soon(&lots, d(2026, 2, 10), 30),
            vec![
                ExpiringLot {
                    lot_id: 2,
                    points: 20,
                    expires_on: d(2026, 2, 10)
                },
                ExpiringLot {
                    lot_id: 3,
                    points: 30,
                    expires_on: d(2026, 3, 12)
                },
            ]
        );
        assert_eq!(expiring_soon(&lots, d(2026, 2, 10), 0).len(), 1);
        assert_eq!(expiring_soon(&lots, NaiveDate::MAX, u32::MAX), vec![]);
    }

    #[test]
    fn apply_takes_rejects_bad_takes_and_changes_nothing() {
        let lots = [lot(1, None, 100), lot(2, None, 50)];
        assert_eq!(
            apply_takes(
                &lots,
                &[LotTake {
                    lot_id: 9,
                    points: 1
                }]
            ),
            Err(PointsError::UnknownLot { lot_id: 9 })
        );
        // 30 then 30 from a lot of 50: the second take exceeds the 20 left.
        assert_eq!(
            apply_takes(
                &lots,
                &[
                    LotTake {
                        lot_id: 2,
                        points: 30
                    },
                    LotTake {
                        lot_id: 2,
                        points: 30
                    }
                ]
            ),
            Err(PointsError::TakeExceedsLot {
                lot_id: 2,
                take: 30,
                remaining: 20
            })
        );
        assert_eq!(
            apply_takes(
                &lots,
                &[LotTake {
                    lot_id: 1,
                    points: -5
                }]
            ),
            Err(PointsError::NegativePoints { points: -5 })
        );
        let after = apply_takes(
            &lots,
            &[LotTake {
                lot_id: 1,
                points: 60,
            }],
        )
        .unwrap();
        assert_eq!((after[0].remaining, after[1].remaining), (40, 50));
    }
}
