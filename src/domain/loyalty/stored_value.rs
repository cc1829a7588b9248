//! Stored value (会员卡余额, 储值): top-ups with bonus tiers (充500送50), spending, and the balance
//! of a member's stored-value ledger.
//!
//! Owns the top-up bonus choice and the never-negative rule, in fen. It never moves real money
//! (the payment terminal does) and never writes entries; the caller records a top-up as two
//! entries, `TopUp` and `Bonus`, so the bonus stays distinguishable from money paid in.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::domain::money::format_yuan;

/// A top-up bonus rule: topping up at least `min_topup_fen` adds `bonus_fen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpBonus {
    /// Smallest top-up the rule applies to, fen.
    pub min_topup_fen: i64,
    /// Bonus added, fen.
    pub bonus_fen: i64,
}

/// A top-up as credited: what was paid and the bonus on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    /// Money paid in, fen (the `TopUp` entry).
    pub amount_fen: i64,
    /// Bonus, fen (the `Bonus` entry; 0 = no entry).
    pub bonus_fen: i64,
}

/// Why a stored-value movement entry changed the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredValueKind {
    /// Money paid in: positive.
    TopUp,
    /// Bonus of a top-up: positive.
    Bonus,
    /// Paid for goods: negative.
    Spend,
    /// Returned goods paid with stored value: positive.
    Refund,
}

/// One line of a member's stored-value ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValueEntry {
    /// Unique, increasing.
    pub id: u64,
    /// The member.
    pub member_id: u64,
    /// Why.
    pub kind: StoredValueKind,
    /// Signed change of the balance, fen.
    pub delta_fen: i64,
    /// When, shop-local.
    pub at: NaiveDateTime,
    /// The sale, return or top-up receipt behind it.
    pub reference: Option<String>,
    /// The staff who took the money of a top-up (and its bonus); `None` for spends and refunds
    /// (their sale or return names the staff) and for entries written before it was kept.
    pub by: Option<String>,
}

/// Why a stored-value movement cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredValueError {
    /// Top-ups and spends must be more than ¥0.00.
    #[error("amount must be more than ¥0.00, got {}", format_yuan(*.amount_fen))]
    NotPositive { amount_fen: i64 },
    /// The card balance does not cover the amount.
    #[error("card balance {} does not cover {}", format_yuan(*.balance_fen), format_yuan(*.amount_fen))]
    Insufficient { balance_fen: i64, amount_fen: i64 },
}

/// Credits a top-up of `amount_fen` with the best single bonus rule that applies (the largest
/// `bonus_fen` among rules with `min_topup_fen ≤ amount_fen`; bonuses never stack).
/// Error: [`StoredValueError::NotPositive`].
pub fn topup(amount_fen: i64, rules: &[TopUpBonus]) -> Result<TopUp, StoredValueError> {
    if amount_fen <= 0 {
        return Err(StoredValueError::NotPositive { amount_fen });
    }
    let bonus_fen = rules
        .iter()
        .filter(|r| r.min_topup_fen <= amount_fen)
        .map(|r| r.bonus_fen)
        .max()
        .unwrap_or(0)
        .max(0);
    Ok(TopUp {
        amount_fen,
        bonus_fen,
    })
}

/// The balance after spending `amount_fen` from `balance_fen`; never negative.
/// Errors: [`StoredValueError::NotPositive`], [`StoredValueError::Insufficient`].
pub fn spend(balance_fen: i64, amount_fen: i64) -> Result<i64, StoredValueError> {
    if amount_fen <= 0 {
        return Err(StoredValueError::NotPositive { amount_fen });
    }
    if amount_fen > balance_fen {
        return Err(StoredValueError::Insufficient {
            balance_fen,
            amount_fen,
        });
    }
    Ok(balance_fen - amount_fen)
}

/// The balance a stored-value ledger adds up to: Σ `delta_fen` (exact, saturating into i64).
pub fn balance(entries: &[StoredValueEntry]) -> i64 {
    super::saturate(entries.iter().map(|e| i128::from(e.delta_fen)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 充200送10, 充500送50, 充1000送120.
    fn rules() -> Vec<TopUpBonus> {
        vec![
            TopUpBonus {
                min_topup_fen: 20_000,
                bonus_fen: 1_000,
            },
            TopUpBonus {
                min_topup_fen: 50_000,
                bonus_fen: 5_000,
            },
            TopUpBonus {
                min_topup_fen: 100_000,
                bonus_fen: 12_000,
            },
        ]
    }

    #[test]
    fn topup_500_gets_50_bonus() {
        assert_eq!(
            topup(50_000, &rules()),
            Ok(TopUp {
                amount_fen: 50_000,
                bonus_fen: 5_000
            })
        );
        // ¥999.99 is still the ¥500 rule; ¥1,000.00 the ¥1,000 one (bonuses do not stack).
        assert_eq!(topup(99_999, &rules()).map(|t| t.bonus_fen), Ok(5_000));
        assert_eq!(topup(100_000, &rules()).map(|t| t.bonus_fen), Ok(12_000));
        // ¥100.00 gets no bonus; neither does anything without rules.
        assert_eq!(topup(10_000, &rules()).map(|t| t.bonus_fen), Ok(0));
        assert_eq!(topup(50_000, &[]).map(|t| t.bonus_fen), Ok(0));
    }

    #[test]
    fn spend_never_takes_the_card_below_zero() {
        // ¥550.00 on the card, a ¥236.40 ticket: ¥313.60 left.
        assert_eq!(spend(55_000, 23_640), Ok(31_360));
        assert_eq!(spend(23_640, 23_640), Ok(0));
        assert_eq!(
            spend(10_000, 23_640),
            Err(StoredValueError::Insufficient {
                balance_fen: 10_000,
                amount_fen: 23_640
            })
        );
        assert_eq!(
            spend(10_000, 23_640).unwrap_err().to_string(),
            "card balance ¥100.00 does not cover ¥236.40"
        );
    }

    #[test]
    fn zero_or_negative_amounts_are_refused() {
        assert_eq!(
            spend(10_000, 0),
            Err(StoredValueError::NotPositive { amount_fen: 0 })
        );
        assert_eq!(
            topup(-5_000, &rules()),
            Err(StoredValueError::NotPositive { amount_fen: -5_000 })
        );
        assert_eq!(
            topup(0, &rules()).unwrap_err().to_string(),
            "amount must be more than ¥0.00, got ¥0.00"
        );
    }

    #[test]
    fn ledger_balance_after_topup_spend_and_refund() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 1)
            .and_then(|d| d.and_hms_opt(9, 30, 0))
            .unwrap();
        let e = |id, kind, delta_fen| StoredValueEntry {
            id,
            member_id: 42,
            kind,
            delta_fen,
            at,
            reference: None,
            by: None,
        };
        use StoredValueKind::*;
        // ¥500 + ¥50 bonus − ¥236.40 + ¥20.00 refund = ¥333.60.
        let entries = [
            e(1, TopUp, 50_000),
            e(2, Bonus, 5_000),
            e(3, Spend, -23_640),
            e(4, Refund, 2_000),
        ];
        assert_eq!(balance(&entries), 33_360);
        assert_eq!(
            serde_json::to_string(&entries[1].kind).unwrap(),
            r#""bonus""#
        );
    }
}
