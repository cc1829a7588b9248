//! Stock arithmetic: how a move of a given kind changes on-hand, and when a change crosses a
//! product's reorder point. Quantities are in the product's stock unit (pieces, or grams for
//! weighed goods).

use serde::{Deserialize, Serialize};

/// Why stock changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveKind {
    /// Goods sold; quantity given as a positive number leaves stock.
    Sale,
    /// Goods returned by a customer; quantity enters stock.
    Return,
    /// Goods received from a supplier; quantity enters stock.
    Receipt,
    /// Correction (damage, loss, found goods); quantity is signed.
    Adjustment,
    /// Counted on-hand from a stocktake; the move records the difference to the book figure.
    Stocktake,
    /// Transfer to (negative) or from (positive) another store; quantity is signed.
    Transfer,
}

impl MoveKind {
    pub const ALL: [MoveKind; 6] = [
        MoveKind::Sale,
        MoveKind::Return,
        MoveKind::Receipt,
        MoveKind::Adjustment,
        MoveKind::Stocktake,
        MoveKind::Transfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MoveKind::Sale => "sale",
            MoveKind::Return => "return",
            MoveKind::Receipt => "receipt",
            MoveKind::Adjustment => "adjustment",
            MoveKind::Stocktake => "stocktake",
            MoveKind::Transfer => "transfer",
        }
    }

    pub fn parse(s: &str) -> Option<MoveKind> {
        MoveKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a quantity cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QtyError {
    #[error("quantity of a {kind} must be greater than 0, got {qty}")]
    MustBePositive { kind: &'static str, qty: i64 },
    #[error("quantity of an adjustment or transfer must not be 0")]
    Zero,
    #[error("a stocktake count must not be negative, got {0}")]
    NegativeCount(i64),
    #[error("on-hand would leave the representable range")]
    Overflow,
}

/// The signed change to on-hand for a move of `kind` with user-given `qty`, given the current
/// `on_hand`. Sale 3 → −3; receipt/return 3 → +3; adjustment/transfer keep their sign;
/// stocktake qty is the counted figure, so the change is `qty − on_hand`.
pub fn move_delta(kind: MoveKind, qty: i64, on_hand: i64) -> Result<i64, QtyError> {
    match kind {
        MoveKind::Sale => {
            if qty <= 0 {
                return Err(QtyError::MustBePositive { kind: kind.as_str(), qty });
            }
            Ok(-qty)
        }
        MoveKind::Return | MoveKind::Receipt => {
            if qty <= 0 {
                return Err(QtyError::MustBePositive { kind: kind.as_str(), qty });
            }
            Ok(qty)
        }
        MoveKind::Adjustment | MoveKind::Transfer => {
            if qty == 0 {
                return Err(QtyError::Zero);
            }
            Ok(qty)
        }
        MoveKind::Stocktake => {
            if qty < 0 {
                return Err(QtyError::NegativeCount(qty));
            }
            qty.checked_sub(on_hand).ok_or(QtyError::Overflow)
        }
    }
}

/// True when on-hand goes from above the reorder point to at or below it. Going further down
/// while already below is not a new crossing; coming back above and falling again is.
pub fn crosses_reorder_point(before: i64, after: i64, reorder_point: Option<i64>) -> bool {
    match reorder_point {
        Some(rp) => before > rp && after <= rp,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sale_of_three_bottles_takes_three_off_the_shelf() {
        assert_eq!(move_delta(MoveKind::Sale, 3, 24), Ok(-3));
        assert_eq!(move_delta(MoveKind::Receipt, 48, 0), Ok(48));
        assert_eq!(move_delta(MoveKind::Return, 1, 5), Ok(1));
        assert_eq!(move_delta(MoveKind::Adjustment, -2, 5), Ok(-2));
        assert_eq!(move_delta(MoveKind::Transfer, -10, 50), Ok(-10));
    }

    #[test]
    fn stocktake_counting_17_when_books_say_20_records_minus_3() {
        assert_eq!(move_delta(MoveKind::Stocktake, 17, 20), Ok(-3));
        assert_eq!(move_delta(MoveKind::Stocktake, 20, 20), Ok(0));
        assert_eq!(move_delta(MoveKind::Stocktake, 5_000, -200), Ok(5_200));
    }

    #[test]
    fn bad_quantities_are_refused_with_the_reason() {
        assert_eq!(
            move_delta(MoveKind::Sale, 0, 5),
            Err(QtyError::MustBePositive { kind: "sale", qty: 0 })
        );
        assert_eq!(
            move_delta(MoveKind::Receipt, -4, 5).unwrap_err().to_string(),
            "quantity of a receipt must be greater than 0, got -4"
        );
        assert_eq!(move_delta(MoveKind::Adjustment, 0, 5), Err(QtyError::Zero));
        assert_eq!(move_delta(MoveKind::Stocktake, -1, 5), Err(QtyError::NegativeCount(-1)));
        assert_eq!(move_delta(MoveKind::Stocktake, 0, i64::MIN), Err(QtyError::Overflow));
    }

    #[test]
    fn reorder_point_of_10_is_crossed_once_on_the_way_down() {
        let rp = Some(10);
        assert!(!crosses_reorder_point(15, 11, rp));
        assert!(crosses_reorder_point(11, 10, rp));
        assert!(!crosses_reorder_point(10, 7, rp), "already below: no new crossing");
        assert!(!crosses_reorder_point(7, 30, rp), "going up is not a crossing");
        assert!(crosses_reorder_point(30, 2, rp), "falling again after a refill is");
        assert!(!crosses_reorder_point(30, 2, None));
    }
}
