//! Points as cash (积分抵现): how much of a ticket a member may pay with points, and how many
//! points an amount costs.
//!
//! Owns the cap and the whole-point rule; which lots pay is [`super::lots::redeem_fifo`]'s job.
//! The cap share is rounded down to the fen (⌊total × cap_bp / 10 000⌋) so "at most 50%" is never
//! exceeded by a rounding fen, and only whole points are ever redeemed.

use serde::{Deserialize, Serialize};

use super::PointsError;

/// The shop's redemption terms (`[loyalty].point_value_fen`, `[loyalty].redeem_cap_bp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemRules {
    /// What one point pays, in fen (1 = 100 points per yuan).
    pub point_value_fen: i64,
    /// Largest share of a ticket payable with points, bp (5000 = 50%).
    pub redeem_cap_bp: u32,
}

/// Points and the fen they pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsPayment {
    /// Whole points redeemed.
    pub points: i64,
    /// `points × point_value_fen`.
    pub fen: i64,
}

impl RedeemRules {
    /// The most of `ticket_total_fen` payable with points: ⌊total × cap_bp / 10 000⌋, 0 for a
    /// ticket ≤ 0.
    pub fn cap_fen(&self, ticket_total_fen: i64) -> i64 {
        let exact = i128::from(ticket_total_fen.max(0)) * i128::from(self.redeem_cap_bp)
            / i128::from(super::BP_ONE);
        super::saturate(exact)
    }

    /// The most a member with `balance` points can pay of this ticket: whole points only,
    /// `points × point_value_fen ≤ cap_fen`, `points ≤ balance`. Nothing when the point value is
    /// below 1 fen or the balance ≤ 0.
    pub fn max_redeemable(&self, ticket_total_fen: i64, balance: i64) -> PointsPayment {
        if self.point_value_fen < 1 || balance <= 0 {
            return PointsPayment { points: 0, fen: 0 };
        }
        let points = (self.cap_fen(ticket_total_fen) / self.point_value_fen).min(balance);
        PointsPayment {
            points,
            fen: points.saturating_mul(self.point_value_fen),
        }
    }

    /// Points that pay exactly `fen` of this ticket, if allowed. Errors, in this order:
    /// [`PointsError::NegativeAmount`], [`PointsError::InvalidPointValue`],
    /// [`PointsError::NotWholePoints`], [`PointsError::AboveCap`], [`PointsError::AboveBalance`].
    pub fn points_for(
        &self,
        fen: i64,
        ticket_total_fen: i64,
        balance: i64,
    ) -> Result<i64, PointsError> {
        if fen < 0 {
            return Err(PointsError::NegativeAmount { fen });
        }
        if self.point_value_fen < 1 {
            return Err(PointsError::InvalidPointValue {
                point_value_fen: self.point_value_fen,
            });
        }
        if fen % self.point_value_fen != 0 {
            return Err(PointsError::NotWholePoints {
                fen,
                point_value_fen: self.point_value_fen,
            });
        }
        let cap_fen = self.cap_fen(ticket_total_fen);
        if fen > cap_fen {
            return Err(PointsError::AboveCap { fen, cap_fen });
        }
        let points = fen / self.point_value_fen;
        if points > balance {
            return Err(PointsError::AboveBalance { points, balance });
        }
        Ok(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(point_value_fen: i64) -> RedeemRules {
        RedeemRules {
            point_value_fen,
            redeem_cap_bp: 5_000,
        }
    }

    #[test]
    fn cap_50_percent_on_a_236_40_ticket() {
        // Half of ¥236.40 is ¥118.20. At 1 fen a point that is 11 820 points.
        assert_eq!(rules(1).cap_fen(23_640), 11_820);
        assert_eq!(
            rules(1).max_redeemable(23_640, 50_000),
            PointsPayment {
                points: 11_820,
                fen: 11_820
            }
        );
        // A member with only 5 000 points pays ¥50.00.
        assert_eq!(
            rules(1).max_redeemable(23_640, 5_000),
            PointsPayment {
                points: 5_000,
                fen: 5_000
            }
        );
        // At 7 fen a point: ⌊11 820 / 7⌋ = 1 688 points = 11 816 fen (¥118.16), never above the cap.
        assert_eq!(
            rules(7).max_redeemable(23_640, 50_000),
            PointsPayment {
                points: 1_688,
                fen: 11_816
            }
        );
        // An odd total: half of ¥0.05 is 2.5 fen → 2 fen.
        assert_eq!(rules(1).cap_fen(5), 2);
        assert_eq!(
            rules(1).max_redeemable(0, 100),
            PointsPayment { points: 0, fen: 0 }
        );
        assert_eq!(
            rules(0).max_redeemable(23_640, 100),
            PointsPayment { points: 0, fen: 0 }
        );
        assert_eq!(
            rules(1).max_redeemable(23_640, -3),
            PointsPayment { points: 0, fen: 0 }
        );
    }

    #[test]
    fn paying_118_20_of_236_40_with_points() {
        assert_eq!(rules(1).points_for(11_820, 23_640, 20_000), Ok(11_820));
        assert_eq!(rules(10).points_for(11_820, 23_640, 20_000), Ok(1_182));
        assert_eq!(rules(1).points_for(0, 23_640, 0), Ok(0));
    }

    #[test]
    fn points_for_says_what_is_wrong() {
        assert_eq!(
            rules(1).points_for(-100, 23_640, 20_000),
            Err(PointsError::NegativeAmount { fen: -100 })
        );
        assert_eq!(
            rules(0).points_for(100, 23_640, 20_000),
            Err(PointsError::InvalidPointValue { point_value_fen: 0 })
        );
        // ¥1.05 at 10 fen a point is 10.5 points.
        assert_eq!(
            rules(10).points_for(105, 23_640, 20_000),
            Err(PointsError::NotWholePoints {
                fen: 105,
                point_value_fen: 10
            })
        );
        assert_eq!(
            rules(1).points_for(11_821, 23_640, 20_000),
            Err(PointsError::AboveCap {
                fen: 11_821,
                cap_fen: 11_820
            })
        );
        assert_eq!(
            rules(1).points_for(10_000, 23_640, 9_999),
            Err(PointsError::AboveBalance {
                points: 10_000,
                balance: 9_999
            })
        );
        assert_eq!(
            rules(1)
                .points_for(11_821, 23_640, 20_000)
                .unwrap_err()
                .to_string(),
            "11821 fen is above the 11820 fen of this ticket that may be paid with points"
        );
    }

    proptest! {
        #[test]
        fn max_redeemable_is_always_accepted_by_points_for(
            total in -1_000i64..10_000_000, balance in -10i64..10_000_000,
            value in 0i64..100, cap in 0u32..=10_000,
        ) {
            let r = RedeemRules { point_value_fen: value, redeem_cap_bp: cap };
            let m = r.max_redeemable(total, balance);
            prop_assert!(m.points >= 0 && m.fen >= 0);
            prop_assert!(m.fen <= r.cap_fen(total));
            if value >= 1 {
                prop_assert_eq!(r.points_for(m.fen, total, balance.max(0)), Ok(m.points));
                // One more point is refused.
                prop_assert!(r.points_for(m.fen + value, total, balance.max(0)).is_err());
            }
        }
    }
}
