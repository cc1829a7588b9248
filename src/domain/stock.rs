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

/// Whether on-hand is low: at or below the product's reorder point (the same line
/// [`crosses_reorder_point`] watches). No reorder point, never low.
pub fn is_low(on_hand: i64, reorder_point: Option<i64>) -> bool {
    reorder_point.is_some_and(|rp| on_hand <= rp)
}

/// Why staff adjust stock by hand: the fixed list the stock page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdjustReason {
    /// 盘点差异: the shelf was counted and the books were wrong.
    CountCorrection,
    /// 损坏: broken or spoilt goods taken off sale.
    Damage,
    /// 过期: past their date.
    Expired,
    /// 丢失: stolen or missing.
    Theft,
    /// 其他: anything else; a note saying what is required.
    Other,
}

impl AdjustReason {
    pub const ALL: [AdjustReason; 5] =
        [AdjustReason::CountCorrection, AdjustReason::Damage, AdjustReason::Expired, AdjustReason::Theft, AdjustReason::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            AdjustReason::CountCorrection => "count_correction",
            AdjustReason::Damage => "damage",
            AdjustReason::Expired => "expired",
            AdjustReason::Theft => "theft",
            AdjustReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<AdjustReason> {
        AdjustReason::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// The reason code a stored move's `reason` starts with, if it is one of these.
    pub fn of_move_reason(reason: &str) -> Option<AdjustReason> {
        AdjustReason::parse(reason.split_once(':').map_or(reason, |(code, _)| code))
    }
}

/// How a hand adjustment states the change: a signed difference, or (count corrections only)
/// the figure counted on the shelf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockChange {
    /// Add (positive) or take off (negative) this many units (grams for weighed goods).
    By(i64),
    /// The shelf holds this many: the move records the difference to the books.
    CountedAt(i64),
}

/// Longest note of a hand adjustment, in characters (the stored reason keeps under the
/// ledger's 200).
pub const ADJUST_NOTE_MAX_CHARS: usize = 160;

/// Why a hand adjustment is refused. Field names are those of the adjustment form and API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustError {
    #[error("qty: must not be 0; type the change, negative to take stock off (grams for weighed goods)")]
    ZeroChange,
    #[error("counted: a counted figure must not be negative, got {0}")]
    NegativeCount(i64),
    #[error("counted: only a count correction (count_correction) may give a counted figure")]
    CountNeedsCountCorrection,
    #[error("note: reason \"other\" needs a note saying what happened")]
    NoteRequired,
    #[error("note: must be at most 160 characters without control characters, got {0} characters")]
    BadNote(usize),
}

impl AdjustError {
    /// The form field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            AdjustError::ZeroChange => "qty",
            AdjustError::NegativeCount(_) | AdjustError::CountNeedsCountCorrection => "counted",
            AdjustError::NoteRequired | AdjustError::BadNote(_) => "note",
        }
    }
}

/// The move kind, quantity and stored reason of a hand adjustment: a signed change is an
/// [`MoveKind::Adjustment`]; a counted figure is a [`MoveKind::Stocktake`] (its move records
/// counted − books). The stored reason is the reason's code, then `: note` when one is given
/// (`damage: 摔碎 2 瓶`).
pub fn adjustment(reason: AdjustReason, note: &str, change: StockChange) -> Result<(MoveKind, i64, String), AdjustError> {
    let note = note.trim();
    let n = note.chars().count();
    if n > ADJUST_NOTE_MAX_CHARS || note.chars().any(char::is_control) {
        return Err(AdjustError::BadNote(n));
    }
    if reason == AdjustReason::Other && note.is_empty() {
        return Err(AdjustError::NoteRequired);
    }
    let (kind, qty) = match change {
        StockChange::By(0) => return Err(AdjustError::ZeroChange),
        StockChange::By(q) => (MoveKind::Adjustment, q),
        StockChange::CountedAt(_) if reason != AdjustReason::CountCorrection => {
            return Err(AdjustError::CountNeedsCountCorrection)
        }
        StockChange::CountedAt(c) if c < 0 => return Err(AdjustError::NegativeCount(c)),
        StockChange::CountedAt(c) => (MoveKind::Stocktake, c),
    };
    let text = if note.is_empty() { reason.as_str().to_string() } else { format!("{}: {note}", reason.as_str()) };
    Ok((kind, qty, text))
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

    #[test]
    fn at_or_below_the_reorder_point_is_low() {
        assert!(is_low(10, Some(10)));
        assert!(is_low(3, Some(10)));
        assert!(!is_low(11, Some(10)));
        assert!(!is_low(-5, None));
    }

    #[test]
    fn two_broken_bottles_are_an_adjustment_of_minus_two() {
        assert_eq!(
            adjustment(AdjustReason::Damage, " 摔碎 ", StockChange::By(-2)),
            Ok((MoveKind::Adjustment, -2, "damage: 摔碎".to_string()))
        );
        assert_eq!(adjustment(AdjustReason::Theft, "", StockChange::By(-1)), Ok((MoveKind::Adjustment, -1, "theft".into())));
        // 1.25 kg of bananas found in the back room: grams.
        assert_eq!(
            adjustment(AdjustReason::CountCorrection, "", StockChange::By(1_250)),
            Ok((MoveKind::Adjustment, 1_250, "count_correction".into()))
        );
    }

    #[test]
    fn a_shelf_counted_at_17_is_a_stocktake_move() {
        assert_eq!(
            adjustment(AdjustReason::CountCorrection, "月末盘点", StockChange::CountedAt(17)),
            Ok((MoveKind::Stocktake, 17, "count_correction: 月末盘点".into()))
        );
        assert_eq!(move_delta(MoveKind::Stocktake, 17, 20), Ok(-3));
    }

    #[test]
    fn bad_adjustments_name_the_field_and_the_rule() {
        assert_eq!(adjustment(AdjustReason::Damage, "", StockChange::By(0)), Err(AdjustError::ZeroChange));
        assert_eq!(adjustment(AdjustReason::Other, "  ", StockChange::By(3)), Err(AdjustError::NoteRequired));
        assert_eq!(adjustment(AdjustReason::Damage, "", StockChange::CountedAt(5)), Err(AdjustError::CountNeedsCountCorrection));
        assert_eq!(adjustment(AdjustReason::CountCorrection, "", StockChange::CountedAt(-1)), Err(AdjustError::NegativeCount(-1)));
        assert_eq!(adjustment(AdjustReason::Damage, &"长".repeat(161), StockChange::By(1)), Err(AdjustError::BadNote(161)));
        assert_eq!(AdjustError::NoteRequired.field(), "note");
        assert!(AdjustError::ZeroChange.to_string().starts_with("qty: "));
    }

    #[test]
    fn a_stored_reason_names_its_code() {
        assert_eq!(AdjustReason::of_move_reason("damage: 摔碎"), Some(AdjustReason::Damage));
        assert_eq!(AdjustReason::of_move_reason("count_correction"), Some(AdjustReason::CountCorrection));
        assert_eq!(AdjustReason::of_move_reason("sale of 3"), None);
        assert_eq!(AdjustReason::parse("theft"), Some(AdjustReason::Theft));
    }
}
