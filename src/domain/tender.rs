//! Paying and refunding a ticket: checks the tenders a cashier entered against the total, applies
//! the shop's cash rounding ("抹零") and works out change; splits a refund back over the tenders
//! that paid. Owns only the arithmetic: it never talks to a card terminal or e-wallet (callers pass
//! the transaction references they got) and never reads balances itself (the stored-value balance
//! and the points cap are arguments). Money is i64 fen; nothing here panics.
//!
//! Settling goes through the tenders in the order given: each non-cash tender pays at most what
//! remains (no change on card, e-wallet, stored value or points); a cash tender that is the last
//! one pays the remainder rounded by [`CashRounding`], the rest of it is change; a cash tender
//! that is not last pays at most what remains. The amounts applied sum to
//! `total_fen + rounding_fen`.

use serde::{Deserialize, Serialize};

use super::money::{format_yuan, round_half_up_div};
use super::pricing::split_proportionally;

/// How a tender was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    /// Banknotes and coins; the only tender that gives change and is rounded.
    Cash,
    /// Bank card on the lane's terminal (reference required).
    BankCard,
    /// WeChat Pay (reference required).
    WechatPay,
    /// Alipay (reference required).
    Alipay,
    /// The member's stored-value (prepaid) balance.
    StoredValue,
    /// Loyalty points redeemed for their fen value.
    Points,
}

impl TenderKind {
    /// Whether the tender needs an external transaction reference (terminal or wallet id).
    pub fn needs_reference(self) -> bool {
        matches!(
            self,
            TenderKind::BankCard | TenderKind::WechatPay | TenderKind::Alipay
        )
    }
}

/// A tender as the cashier entered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    /// How it is paid.
    pub kind: TenderKind,
    /// Amount handed over or charged, in fen; more than zero.
    pub amount_fen: i64,
    /// Terminal or wallet transaction id; required for card, WeChat Pay and Alipay.
    pub reference: Option<String>,
    /// Points redeemed; required (more than zero) for a points tender, ignored otherwise.
    pub points: Option<i64>,
}

/// The shop's cash rounding rule, applied to the cash part only when cash is the last tender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashRounding {
    /// Cash pays to the fen.
    None,
    /// Half up to the jiao (10 fen): ¥236.45 → ¥236.50, ¥236.44 → ¥236.40.
    ToJiao,
    /// "抹零": down to the jiao: ¥236.47 → ¥236.40.
    DownToJiao,
    /// Down to the yuan: ¥236.47 → ¥236.00.
    DownToYuan,
}

impl CashRounding {
    /// `due_fen` (≥ 0) rounded by this rule.
    pub fn apply(self, due_fen: i64) -> i64 {
        match self {
            CashRounding::None => due_fen,
            CashRounding::ToJiao => {
                let jiao = round_half_up_div(i128::from(due_fen), 10);
                i64::try_from(jiao * 10).unwrap_or(due_fen)
            }
            CashRounding::DownToJiao => due_fen - due_fen.rem_euclid(10),
            CashRounding::DownToYuan => due_fen - due_fen.rem_euclid(100),
        }
    }
}

/// Shop rule and per-ticket limits for [`settle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderRules {
    /// Rounding of the cash part (shop config).
    pub cash_rounding: CashRounding,
    /// Most fen this ticket may be paid with points (from the loyalty rules and the member's
    /// points); 0 when points cannot be used.
    pub max_points_fen: i64,
    /// The member's stored-value balance in fen; 0 for none.
    pub stored_value_balance_fen: i64,
}

/// A tender as it paid the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedTender {
    /// How it was paid.
    pub kind: TenderKind,
    /// What it paid towards the ticket: for cash, what was handed over less change.
    pub amount_fen: i64,
    /// What was handed over or charged (differs from `amount_fen` only for cash with change).
    pub tendered_fen: i64,
    /// Transaction reference as given.
    pub reference: Option<String>,
    /// Points redeemed (points tenders only).
    pub points: Option<i64>,
}

/// The result of paying a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// The ticket total that was settled.
    pub total_fen: i64,
    /// Tenders in the order given, cash net of change.
    pub tenders: Vec<AppliedTender>,
    /// Change handed back in cash.
    pub change_fen: i64,
    /// Cash rounding: collected − total (negative when rounded down, e.g. 抹零).
    pub rounding_fen: i64,
    /// Σ applied tenders = `total_fen + rounding_fen`.
    pub collected_fen: i64,
}

/// Why tenders cannot settle a ticket or a refund cannot be split. Tender positions count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenderError {
    /// The ticket total is negative.
    #[error("ticket total {} is negative", format_yuan(*.total_fen))]
    NegativeTotal { total_fen: i64 },
    /// A tender of zero or less.
    #[error("tender {index} ({kind:?}): amount must be more than zero, got {}", format_yuan(*.amount_fen))]
    NonPositiveAmount {
        index: usize,
        kind: TenderKind,
        amount_fen: i64,
    },
    /// Card, WeChat Pay or Alipay without a transaction reference.
    #[error("tender {index} ({kind:?}) has no transaction reference; card and e-wallet payments need the terminal or wallet transaction id")]
    MissingReference { index: usize, kind: TenderKind },
    /// A points tender without a positive number of points.
    #[error("tender {index} (Points) does not say how many points are redeemed")]
    MissingPoints { index: usize },
    /// A tender entered after the ticket was already fully paid.
    #[error("tender {index} ({kind:?}) comes after the ticket is already paid")]
    AlreadyPaid { index: usize, kind: TenderKind },
    /// A non-cash tender for more than what remains (only cash gives change).
    #[error("tender {index} ({kind:?}) of {} is more than the {} that remains; only cash can overpay", format_yuan(*.amount_fen), format_yuan(*.remaining_fen))]
    Overpay {
        index: usize,
        kind: TenderKind,
        amount_fen: i64,
        remaining_fen: i64,
    },
    /// Points tenders together above the cap for this ticket.
    #[error("points pay {} but at most {} may be paid with points", format_yuan(*.points_fen), format_yuan(*.max_points_fen))]
    PointsOverCap {
        points_fen: i64,
        max_points_fen: i64,
    },
    /// Stored-value tenders together above the member's balance.
    #[error("stored value pays {} but the balance is {}", format_yuan(*.stored_value_fen), format_yuan(*.balance_fen))]
    StoredValueOverBalance {
        stored_value_fen: i64,
        balance_fen: i64,
    },
    /// The tenders do not cover the total. `total_fen` is what had to be paid: the ticket total,
    /// after cash rounding when the last tender is cash.
    #[error("short: paid {} of {}", format_yuan(*.paid_fen), format_yuan(*.total_fen))]
    Short { total_fen: i64, paid_fen: i64 },
    /// A negative refund.
    #[error("refund {} is negative", format_yuan(*.refund_fen))]
    NegativeRefund { refund_fen: i64 },
    /// A refund larger than what the tenders paid.
    #[error("refund {} is more than the {} the tenders paid", format_yuan(*.refund_fen), format_yuan(*.paid_fen))]
    RefundExceedsPaid { refund_fen: i64, paid_fen: i64 },
    /// Amounts beyond i64 fen (only reachable with totals near 9.2 × 10^16 yuan).
    #[error("{what} is too large to represent in fen")]
    Overflow { what: &'static str },
    /// An applied tender with a negative amount (not something [`settle`] produces).
    #[error("applied tender {index} has a negative amount {}", format_yuan(*.amount_fen))]
    NegativeAppliedTender { index: usize, amount_fen: i64 },
}

/// Saturates an i128 sum into i64 fen (for error reports).
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Checks one tender on its own: positive amount, reference, points.
fn validate_tender(index: usize, t: &Tender) -> Result<(), TenderError> {
    if t.amount_fen <= 0 {
        return Err(TenderError::NonPositiveAmount {
            index,
            kind: t.kind,
            amount_fen: t.amount_fen,
        });
    }
    let has_reference = t.reference.as_deref().is_some_and(|r| !r.trim().is_empty());
    if t.kind.needs_reference() && !has_reference {
        return Err(TenderError::MissingReference {
            index,
            kind: t.kind,
        });
    }
    if t.kind == TenderKind::Points && !t.points.is_some_and(|p| p > 0) {
        return Err(TenderError::MissingPoints { index });
    }
    Ok(())
}

/// Running limits on points and stored value while settling.
struct Limits<'a> {
    rules: &'a TenderRules,
    points_fen: i64,
    stored_value_fen: i64,
}

impl Limits<'_> {
    /// Adds a non-cash tender of `amount` (≤ the total, so no overflow) and checks its limit.
    fn add(&mut self, kind: TenderKind, amount: i64) -> Result<(), TenderError> {
        match kind {
            TenderKind::Points => {
                self.points_fen += amount;
                if self.points_fen > self.rules.max_points_fen {
                    return Err(TenderError::PointsOverCap {
                        points_fen: self.points_fen,
                        max_points_fen: self.rules.max_points_fen,
                    });
                }
            }
            TenderKind::StoredValue => {
                self.stored_value_fen += amount;
                if self.stored_value_fen > self.rules.stored_value_balance_fen {
                    return Err(TenderError::StoredValueOverBalance {
                        stored_value_fen: self.stored_value_fen,
                        balance_fen: self.rules.stored_value_balance_fen,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What one tender applies: `(applied, change, rounding)`.
fn apply_one(
    index: usize,
    t: &Tender,
    remaining: i64,
    is_last: bool,
    rules: &TenderRules,
    paid_before: i128,
) -> Result<(i64, i64, i64), TenderError> {
    if remaining == 0 {
        return Err(TenderError::AlreadyPaid {
            index,
            kind: t.kind,
        });
    }
    match t.kind {
        TenderKind::Cash if is_last => {
            let due = rules.cash_rounding.apply(remaining);
            if t.amount_fen < due {
                return Err(TenderError::Short {
                    total_fen: saturate(paid_before + i128::from(due)),
                    paid_fen: saturate(paid_before + i128::from(t.amount_fen)),
                });
            }
            Ok((due, t.amount_fen - due, due - remaining))
        }
        TenderKind::Cash => Ok((t.amount_fen.min(remaining), 0, 0)),
        _ if t.amount_fen > remaining => Err(TenderError::Overpay {
            index,
            kind: t.kind,
            amount_fen: t.amount_fen,
            remaining_fen: remaining,
        }),
        _ => Ok((t.amount_fen, 0, 0)),
    }
}

/// Settles `total_fen` with `tenders` in the order given (see the module documentation).
/// Errors name the first tender at fault; a ticket of 0 settles with no tenders.
pub fn settle(
    total_fen: i64,
    tenders: &[Tender],
    rules: &TenderRules,
) -> Result<Settlement, TenderError> {
    if total_fen < 0 {
        return Err(TenderError::NegativeTotal { total_fen });
    }
    let mut limits = Limits {
        rules,
        points_fen: 0,
        stored_value_fen: 0,
    };
    let (mut remaining, mut paid, mut change_fen, mut rounding_fen) = (total_fen, 0i128, 0, 0);
    let mut applied = Vec::with_capacity(tenders.len());
    for (i, t) in tenders.iter().enumerate() {
        let index = i + 1;
        validate_tender(index, t)?;
        let is_last = index == tenders.len();
        let (amount, change, rounding) = apply_one(index, t, remaining, is_last, rules, paid)?;
        limits.add(t.kind, amount)?;
        // amount − rounding ≤ remaining: a last cash tender pays the remainder exactly.
        remaining -= amount - rounding;
        paid += i128::from(amount);
        change_fen += change;
        rounding_fen += rounding;
        applied.push(AppliedTender {
            kind: t.kind,
            amount_fen: amount,
            tendered_fen: t.amount_fen,
            reference: t.reference.clone(),
            points: (t.kind == TenderKind::Points).then_some(t.points).flatten(),
        });
    }
    if remaining > 0 {
        return Err(TenderError::Short {
            total_fen,
            paid_fen: saturate(paid),
        });
    }
    let collected_fen = i64::try_from(paid).map_err(|_| TenderError::Overflow {
        what: "total after cash rounding",
    })?;
    Ok(Settlement {
        total_fen,
        tenders: applied,
        change_fen,
        rounding_fen,
        collected_fen,
    })
}

/// How a refund of `refund_fen` goes back over the tenders that paid: in proportion to what each
/// paid, largest remainder (ties to the earlier tender), summing exactly to `refund_fen`, never
/// more than a tender paid. One entry per applied tender, same order (zeros included), so the
/// caller can pair each with its reference.
pub fn refund_split(
    applied: &[AppliedTender],
    refund_fen: i64,
) -> Result<Vec<(TenderKind, i64)>, TenderError> {
    if refund_fen < 0 {
        return Err(TenderError::NegativeRefund { refund_fen });
    }
    if let Some((i, t)) = applied.iter().enumerate().find(|(_, t)| t.amount_fen < 0) {
        return Err(TenderError::NegativeAppliedTender {
            index: i + 1,
            amount_fen: t.amount_fen,
        });
    }
    let weights: Vec<i64> = applied.iter().map(|t| t.amount_fen).collect();
    let paid: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    let shares =
        split_proportionally(refund_fen, &weights).ok_or(TenderError::RefundExceedsPaid {
            refund_fen,
            paid_fen: i64::try_from(paid).unwrap_or(i64::MAX),
        })?;
    Ok(applied.iter().map(|t| t.kind).zip(shares).collect())
}
