//! The points ledger (积分流水) and what a return does to points: reversing what the sale earned,
//! restoring what it redeemed, and the debt rule when the points are already gone.
//!
//! Owns the ledger entry type, the balance, the proportional shares for partial returns and the
//! debt arithmetic. The invariant the caller keeps, and the model test checks: Σ entry deltas ==
//! Σ lot `remaining` == balance ≥ 0. Debt (`points_debt`, kept on the member) is outside the
//! balance: it is never a negative balance, and future credits settle it before anything else.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::lots::{self, LotTake, PointLot};
use crate::domain::money::round_half_up_div;

/// Why a member's points changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsEntryKind {
    /// Points earned by a sale (after any debt was settled): positive.
    Earn,
    /// Points paid for goods: negative.
    Redeem,
    /// Points whose lot expired: negative.
    Expire,
    /// A manual or HQ correction, birthday and referral rewards: either sign.
    Adjust,
    /// A return: negative when taking back earned points, positive when restoring redeemed ones.
    Reverse,
}

/// One line of a member's points ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsEntry {
    /// Unique, increasing.
    pub id: u64,
    /// The member.
    pub member_id: u64,
    /// Why.
    pub kind: PointsEntryKind,
    /// Signed change of the balance.
    pub delta: i64,
    /// When, shop-local.
    pub at: NaiveDateTime,
    /// The sale, return, job run or staff action behind it.
    pub reference: Option<String>,
}

/// The balance a ledger adds up to: Σ delta (exact in i128, saturating into i64).
pub fn balance(entries: &[PointsEntry]) -> i64 {
    super::saturate(entries.iter().map(|e| i128::from(e.delta)).sum())
}

/// What a sale earned and what its earlier returns already took back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnedOnSale {
    /// Points the sale earned (its [`super::earn::Earning::points`]).
    pub points: i64,
    /// Σ `net_paid_fen` of the sale's earning (non-excluded) lines. One line's `points` and
    /// `net_paid_fen` also work, to reverse line by line.
    pub eligible_net_fen: i64,
    /// Σ of the same fen over the sale's earlier returns.
    pub refunded_before_fen: i64,
    /// Points the earlier returns already took back.
    pub reversed_before: i64,
}

/// What a sale redeemed and what its earlier returns already restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemedOnSale {
    /// Points that paid part of the sale.
    pub points: i64,
    /// The sale's ticket total in fen.
    pub total_fen: i64,
    /// Fen refunded by the sale's earlier returns.
    pub refunded_before_fen: i64,
    /// Points the earlier returns already restored.
    pub restored_before: i64,
}

/// The points that the returns so far (`before + now` of `base` fen) account for, minus what
/// earlier returns already moved: round_half_up(points × min(before + now, base) / base) − moved,
/// kept within `0..=points − moved`. Once everything is returned the sum is exactly `points`.
fn share_now(points: i64, base_fen: i64, before_fen: i64, now_fen: i64, moved: i64) -> i64 {
    let points = points.max(0);
    let moved = moved.clamp(0, points);
    if base_fen <= 0 {
        return points - moved;
    }
    let returned =
        (i128::from(before_fen.max(0)) + i128::from(now_fen.max(0))).min(i128::from(base_fen));
    let due = round_half_up_div(i128::from(points) * returned, i128::from(base_fen));
    super::saturate(due - i128::from(moved)).clamp(0, points - moved)
}

/// Points to take back for a return refunding `refunded_now_fen` of the sale's eligible net:
/// proportional, rounded half up on the cumulative refund, never more than earned; over any
/// series of partial returns that together return everything the takes sum to exactly
/// `sale.points`. A sale with no eligible fen gives back what is left to reverse in full.
pub fn reverse_for_return(sale: &EarnedOnSale, refunded_now_fen: i64) -> i64 {
    share_now(
        sale.points,
        sale.eligible_net_fen,
        sale.refunded_before_fen,
        refunded_now_fen,
        sale.reversed_before,
    )
}

/// Points to give back for a return refunding `refunded_now_fen` of a sale that points paid part
/// of: same rule as [`reverse_for_return`] on the ticket total.
pub fn restore_redeemed(sale: &RedeemedOnSale, refunded_now_fen: i64) -> i64 {
    share_now(
        sale.points,
        sale.total_fen,
        sale.refunded_before_fen,
        refunded_now_fen,
        sale.restored_before,
    )
}

/// What taking points back from a member does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeBack {
    /// Points taken from each lot.
    pub takes: Vec<LotTake>,
    /// Σ takes: the (negative) `Reverse` entry's size.
    pub taken: i64,
    /// Points the balance could not cover: add to the member's `points_debt`.
    pub debt: i64,
}

/// Takes `points` back after a return (debt rule): from the sale's own lot `sale_lot` first, then
/// soonest-expiring usable lots; whatever the usable balance cannot cover becomes debt, so the
/// balance never goes negative.
pub fn take_back(
    lots: &[PointLot],
    points: i64,
    sale_lot: Option<u64>,
    today: NaiveDate,
) -> TakeBack {
    let (takes, debt) = lots::consume(lots, points, sale_lot, today);
    TakeBack {
        taken: lots::total(&takes),
        takes,
        debt,
    }
}

/// Applies new points (an earning, restored points) to outstanding debt first:
/// returns `(credited, remaining_debt)`. Earning 100 with 30 owed credits 70 and clears the debt;
/// earning 20 with 30 owed credits nothing and leaves 10. Negative inputs count as 0.
pub fn settle_debt(earned: i64, debt: i64) -> (i64, i64) {
    let (earned, debt) = (earned.max(0), debt.max(0));
    let settled = earned.min(debt);
    (earned - settled, debt - settled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::loyalty::lots::ExpiryRule;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn entry(id: u64, kind: PointsEntryKind, delta: i64) -> PointsEntry {
        PointsEntry {
            id,
            member_id: 42,
            kind,
            delta,
            at: d(2026, 5, 1).and_hms_opt(10, 0, 0).unwrap(),
            reference: None,
        }
    }

    #[test]
    fn balance_is_the_sum_of_deltas() {
        use PointsEntryKind::*;
        let entries = [
            entry(1, Earn, 236),
            entry(2, Redeem, -100),
            entry(3, Expire, -30),
            entry(4, Adjust, 50),
            entry(5, Reverse, -56),
        ];
        assert_eq!(balance(&entries), 100);
        assert_eq!(balance(&[]), 0);
        assert_eq!(
            serde_json::to_string(&entries[4]).unwrap(),
            r#"{"id":5,"member_id":42,"kind":"reverse","delta":-56,"at":"2026-05-01T10:00:00","reference":null}"#
        );
    }

    #[test]
    fn returning_half_the_goods_takes_back_half_the_points() {
        // The sale earned 236 points on ¥236.40 of eligible goods; ¥118.20 comes back.
        let sale = EarnedOnSale {
            points: 236,
            eligible_net_fen: 23_640,
            refunded_before_fen: 0,
            reversed_before: 0,
        };
        assert_eq!(reverse_for_return(&sale, 11_820), 118);
        // Then the other half: exactly the remaining 118.
        let later = EarnedOnSale {
            refunded_before_fen: 11_820,
            reversed_before: 118,
            ..sale
        };
        assert_eq!(reverse_for_return(&later, 11_820), 118);
    }

    #[test]
    fn three_partial_returns_take_back_exactly_what_was_earned() {
        // 100 points on ¥30.00: three ¥10.00 returns take 33.33 → 33, 66.67 → 67 − 33 = 34, 33.
        let mut sale = EarnedOnSale {
            points: 100,
            eligible_net_fen: 3_000,
            refunded_before_fen: 0,
            reversed_before: 0,
        };
        let mut taken = vec![];
        for _ in 0..3 {
            let t = reverse_for_return(&sale, 1_000);
            taken.push(t);
            sale.refunded_before_fen += 1_000;
            sale.reversed_before += t;
        }
        assert_eq!(taken, vec![33, 34, 33]);
        // A fourth "return" (more than was sold) takes nothing more.
        assert_eq!(reverse_for_return(&sale, 1_000), 0);
        // Refunding more than the sale in one go takes back what was earned, no more.
        let fresh = EarnedOnSale {
            refunded_before_fen: 0,
            reversed_before: 0,
            ..sale
        };
        assert_eq!(reverse_for_return(&fresh, 99_999), 100);
        // A sale with no eligible fen (all tobacco) earned nothing; if it did, return it all.
        let odd = EarnedOnSale {
            eligible_net_fen: 0,
            ..fresh
        };
        assert_eq!(reverse_for_return(&odd, 0), 100);
    }

    #[test]
    fn returning_a_third_of_a_ticket_paid_with_500_points_restores_167() {
        // ¥90.00 ticket, 500 points paid part of it; ¥30.00 refunded: 166.67 → 167.
        let sale = RedeemedOnSale {
            points: 500,
            total_fen: 9_000,
            refunded_before_fen: 0,
            restored_before: 0,
        };
        assert_eq!(restore_redeemed(&sale, 3_000), 167);
        let rest = RedeemedOnSale {
            refunded_before_fen: 3_000,
            restored_before: 167,
            ..sale
        };
        assert_eq!(restore_redeemed(&rest, 6_000), 333);
    }

    #[test]
    fn return_after_spending_the_points_records_debt() {
        // The sale earned 236 points into lot 9; the member has since redeemed all but 36 of
        // them and has another 50 in lot 3. Returning everything takes 36 + 50 = 86 and leaves
        // 150 as debt; the balance is 0, not −150.
        let lots = [
            PointLot::new(3, d(2026, 4, 1), 50, &ExpiryRule::MonthsAfter(24)),
            PointLot {
                remaining: 36,
                ..PointLot::new(9, d(2026, 5, 1), 236, &ExpiryRule::MonthsAfter(24))
            },
        ];
        let tb = take_back(&lots, 236, Some(9), d(2026, 5, 10));
        assert_eq!(
            tb.takes,
            vec![
                LotTake {
                    lot_id: 9,
                    points: 36
                },
                LotTake {
                    lot_id: 3,
                    points: 50
                },
            ]
        );
        assert_eq!((tb.taken, tb.debt), (86, 150));
        let after = lots::apply_takes(&lots, &tb.takes).unwrap();
        assert_eq!(lots::available(&after, d(2026, 5, 10)), 0);
        // The next sale earns 100: all of it settles debt. The one after earns 80: 50 settle
        // the rest, 30 are credited.
        assert_eq!(settle_debt(100, 150), (0, 50));
        assert_eq!(settle_debt(80, 50), (30, 0));
        assert_eq!(settle_debt(80, 0), (80, 0));
        assert_eq!(settle_debt(-5, -5), (0, 0));
    }

    #[test]
    fn take_back_prefers_the_sales_lot_over_older_ones() {
        // Older lot 1 expires sooner; the sale's lot 2 still has everything: take from lot 2.
        let lots = [
            PointLot::new(1, d(2026, 1, 1), 100, &ExpiryRule::MonthsAfter(6)),
            PointLot::new(2, d(2026, 5, 1), 60, &ExpiryRule::MonthsAfter(24)),
        ];
        let tb = take_back(&lots, 60, Some(2), d(2026, 5, 2));
        assert_eq!(
            tb.takes,
            vec![LotTake {
                lot_id: 2,
                points: 60
            }]
        );
        // Without a sale lot, soonest-expiring first.
        let tb = take_back(&lots, 60, None, d(2026, 5, 2));
        assert_eq!(
            tb.takes,
            vec![LotTake {
                lot_id: 1,
                points: 60
            }]
        );
        assert_eq!(tb.debt, 0);
    }

    proptest! {
        #[test]
        fn reversing_everything_over_any_split_sums_to_what_was_earned(
            points in 0i64..1_000_000,
            parts in proptest::collection::vec(1i64..100_000, 1..8),
        ) {
            let base: i64 = parts.iter().sum();
            let mut earned = EarnedOnSale { points, eligible_net_fen: base, refunded_before_fen: 0, reversed_before: 0 };
            let mut redeemed = RedeemedOnSale { points, total_fen: base, refunded_before_fen: 0, restored_before: 0 };
            for &p in &parts {
                let r = reverse_for_return(&earned, p);
                let s = restore_redeemed(&redeemed, p);
                prop_assert!(r >= 0 && s >= 0);
                earned.refunded_before_fen += p;
                earned.reversed_before += r;
                redeemed.refunded_before_fen += p;
                redeemed.restored_before += s;
                prop_assert!(earned.reversed_before <= points);
                // Each prefix is the rounded proportional share.
                let due = round_half_up_div(i128::from(points) * i128::from(earned.refunded_before_fen), i128::from(base));
                prop_assert_eq!(i128::from(earned.reversed_before), due);
            }
            prop_assert_eq!(earned.reversed_before, points);
            prop_assert_eq!(redeemed.restored_before, points);
        }

        #[test]
        fn shares_never_panic(p in any::<i64>(), b in any::<i64>(), bf in any::<i64>(), n in any::<i64>(), m in any::<i64>()) {
            let r = reverse_for_return(&EarnedOnSale { points: p, eligible_net_fen: b, refunded_before_fen: bf, reversed_before: m }, n);
            prop_assert!(r >= 0);
        }
    }
}
