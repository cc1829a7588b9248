//! The membership programme's rules (会员): earning, expiring, redeeming and reversing points,
//! tiers, stored value (会员卡余额), referrals, and the codes a member is found by.
//!
//! Everything here is a pure function of what the caller passes in: no store access, no clock
//! reads (dates and times are shop-local and come from the caller), no async. Points are `i64`,
//! money is `i64` fen, rates are basis points (10 000 = 100%, also ×1 for multipliers); no floats.
//! Keeping state (lots, ledger entries, debt, referral flags) and applying the decisions in one
//! store transaction is the caller's job; every decision here is safe to recompute.

pub mod cash;
pub mod earn;
pub mod ledger;
pub mod lots;
pub mod member_code;
pub mod referral;
pub mod stored_value;
pub mod tiers;

#[cfg(test)]
mod model_tests;

/// 100% in basis points, and ×1 for multipliers.
pub const BP_ONE: u32 = 10_000;

/// Why a points operation cannot be done. Each variant carries the numbers a cashier's screen or a
/// log line needs to say what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointsError {
    /// A number of points that must not be negative was.
    #[error("points must not be negative, got {points}")]
    NegativePoints { points: i64 },
    /// The member's usable (unexpired) points do not cover what was asked.
    #[error("{wanted} points wanted but only {available} available")]
    Insufficient { wanted: i64, available: i64 },
    /// A take names a lot that is not among the member's lots.
    #[error("point lot {lot_id} is not one of this member's lots")]
    UnknownLot { lot_id: u64 },
    /// Takes from one lot add up to more than it has left.
    #[error("taking {take} points from lot {lot_id} which has {remaining} left")]
    TakeExceedsLot {
        lot_id: u64,
        take: i64,
        remaining: i64,
    },
    /// A point must be worth at least 1 fen.
    #[error("a point must be worth at least 1 fen, configured {point_value_fen}")]
    InvalidPointValue { point_value_fen: i64 },
    /// An amount to pay with points that is below zero.
    #[error("amount to pay with points must not be negative, got {fen} fen")]
    NegativeAmount { fen: i64 },
    /// The amount is not a whole number of points.
    #[error("{fen} fen is not a whole number of points at {point_value_fen} fen per point")]
    NotWholePoints { fen: i64, point_value_fen: i64 },
    /// The amount is above the share of the ticket that may be paid with points.
    #[error("{fen} fen is above the {cap_fen} fen of this ticket that may be paid with points")]
    AboveCap { fen: i64, cap_fen: i64 },
    /// The points needed are more than the member has.
    #[error("{points} points needed but the member has {balance}")]
    AboveBalance { points: i64, balance: i64 },
}

/// Saturates an i128 into i64 (results here only leave the i64 range for absurd inputs).
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// `a × b × c / d` for non-negative factors, rounded down, saturating at `i64::MAX`: the shape of
/// every "fen × points per yuan × multiplier" computation in this module.
fn mul_div_floor(a: i64, b: u128, c: u128, d: u128) -> i64 {
    let a = u128::try_from(a).unwrap_or(0);
    match a.checked_mul(b).and_then(|x| x.checked_mul(c)) {
        Some(n) => i64::try_from(n.checked_div(d).unwrap_or(0)).unwrap_or(i64::MAX),
        None => i64::MAX,
    }
}
