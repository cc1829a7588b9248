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
    /// Paid online before the order reached the shop (mini program, delivery platform, online
    /// mall): an `order.ingest` sale's one tender; the reference is the online order id. Never
    /// entered at a lane (the cashier screen does not offer it).
    Online,
}

impl TenderKind {
    /// Whether the tender needs an external transaction reference (terminal or wallet id).
    pub fn needs_reference(self) -> bool {
        matches!(
            self,
            TenderKind::BankCard | TenderKind::WechatPay | TenderKind::Alipay | TenderKind::Online
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
    if t.kind == TenderKind::Points && t.points.is_none_or(|p| p <= 0) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cash(amount: i64) -> Tender {
        Tender {
            kind: TenderKind::Cash,
            amount_fen: amount,
            reference: None,
            points: None,
        }
    }

    fn card(amount: i64) -> Tender {
        with_ref(TenderKind::BankCard, amount, "POS-000123")
    }

    fn with_ref(kind: TenderKind, amount: i64, reference: &str) -> Tender {
        Tender {
            kind,
            amount_fen: amount,
            reference: Some(reference.into()),
            points: None,
        }
    }

    fn points(amount: i64, pts: i64) -> Tender {
        Tender {
            kind: TenderKind::Points,
            amount_fen: amount,
            reference: None,
            points: Some(pts),
        }
    }

    fn stored_value(amount: i64) -> Tender {
        Tender {
            kind: TenderKind::StoredValue,
            ..cash(amount)
        }
    }

    fn rules(cash_rounding: CashRounding) -> TenderRules {
        TenderRules {
            cash_rounding,
            max_points_fen: 0,
            stored_value_balance_fen: 0,
        }
    }

    fn applied(s: &Settlement) -> Vec<(TenderKind, i64)> {
        s.tenders.iter().map(|t| (t.kind, t.amount_fen)).collect()
    }

    // --- Settling ------------------------------------------------------------------------------

    #[test]
    fn cash_1000_for_236_40_gives_763_60_change() {
        let s = settle(23640, &[cash(100_000)], &rules(CashRounding::None)).unwrap();
        // ¥1000.00 − ¥236.40 = ¥763.60.
        assert_eq!(s.change_fen, 76360);
        assert_eq!(s.rounding_fen, 0);
        assert_eq!(applied(&s), vec![(TenderKind::Cash, 23640)]);
        assert_eq!(s.tenders[0].tendered_fen, 100_000);
        assert_eq!(s.collected_fen, 23640);
    }

    #[test]
    fn cash_rounded_up_to_the_jiao_must_be_paid_in_full() {
        // Found by the settlement proptest: ¥15,810.85 rounds half up to ¥15,810.90 in cash, so
        // handing over exactly ¥15,810.85 is 5 fen short, and ¥15,810.90 settles with +5 rounding.
        let r = rules(CashRounding::ToJiao);
        assert_eq!(
            settle(1_581_085, &[cash(1_581_085)], &r).unwrap_err(),
            TenderError::Short { total_fen: 1_581_090, paid_fen: 1_581_085 }
        );
        let s = settle(1_581_085, &[cash(1_581_090)], &r).unwrap();
        assert_eq!((s.collected_fen, s.rounding_fen, s.change_fen), (1_581_090, 5, 0));
    }

    #[test]
    fn exact_cash_gives_no_change() {
        let s = settle(23640, &[cash(23640)], &rules(CashRounding::DownToJiao)).unwrap();
        // ¥236.40 is already whole jiao: nothing to round.
        assert_eq!((s.change_fen, s.rounding_fen), (0, 0));
    }

    #[test]
    fn mo_ling_rounds_cash_down_to_the_jiao() {
        let r = rules(CashRounding::DownToJiao);
        // ¥236.47 → the shopper pays ¥236.40; the 7 fen written off are recorded as −7.
        let s = settle(23647, &[cash(23640)], &r).unwrap();
        assert_eq!(
            (s.change_fen, s.rounding_fen, s.collected_fen),
            (0, -7, 23640)
        );
        // With a ¥300 note: change is ¥300.00 − ¥236.40 = ¥63.60.
        let s = settle(23647, &[cash(30000)], &r).unwrap();
        assert_eq!((s.change_fen, s.rounding_fen), (6360, -7));
        assert_eq!(applied(&s), vec![(TenderKind::Cash, 23640)]);
    }

    #[test]
    fn to_jiao_rounds_cash_half_up() {
        let r = rules(CashRounding::ToJiao);
        // ¥236.45 → ¥236.50 (+5); change from ¥300 is ¥63.50.
        let s = settle(23645, &[cash(30000)], &r).unwrap();
        assert_eq!(
            (s.change_fen, s.rounding_fen, s.collected_fen),
            (6350, 5, 23650)
        );
        // ¥236.44 → ¥236.40 (−4).
        let s = settle(23644, &[cash(23640)], &r).unwrap();
        assert_eq!((s.change_fen, s.rounding_fen), (0, -4));
    }

    #[test]
    fn down_to_yuan_drops_the_jiao_and_fen() {
        // ¥236.47 → ¥236.00 (−47).
        let s = settle(23647, &[cash(25000)], &rules(CashRounding::DownToYuan)).unwrap();
        assert_eq!(
            (s.change_fen, s.rounding_fen, s.collected_fen),
            (1400, -47, 23600)
        );
    }

    #[test]
    fn split_tender_card_and_cash() {
        // Card ¥200.00, then ¥50.00 cash for the ¥36.40 left: ¥13.60 change.
        let s = settle(
            23640,
            &[card(20000), cash(5000)],
            &rules(CashRounding::None),
        )
        .unwrap();
        assert_eq!(
            applied(&s),
            vec![(TenderKind::BankCard, 20000), (TenderKind::Cash, 3640)]
        );
        assert_eq!(s.change_fen, 1360);
        assert_eq!(s.tenders[0].reference.as_deref(), Some("POS-000123"));
    }

    #[test]
    fn cash_rounding_applies_only_to_the_cash_part_after_a_card() {
        // Card ¥200.00 of ¥236.47; 抹零 on the ¥36.47 cash part → ¥36.40 (−7).
        let s = settle(
            23647,
            &[card(20000), cash(4000)],
            &rules(CashRounding::DownToJiao),
        )
        .unwrap();
        assert_eq!(
            applied(&s),
            vec![(TenderKind::BankCard, 20000), (TenderKind::Cash, 3640)]
        );
        assert_eq!((s.change_fen, s.rounding_fen), (360, -7));
    }

    #[test]
    fn no_cash_rounding_when_a_card_pays_last() {
        // ¥100 cash first, the card pays the exact ¥136.47 left: nothing is rounded.
        let s = settle(
            23647,
            &[cash(10000), card(13647)],
            &rules(CashRounding::DownToYuan),
        )
        .unwrap();
        assert_eq!(
            (s.change_fen, s.rounding_fen, s.collected_fen),
            (0, 0, 23647)
        );
    }

    #[test]
    fn mo_ling_can_write_off_the_whole_cash_part() {
        // Card pays ¥236.00 of ¥236.49; the 49 fen left round down to ¥0: the note comes back.
        let s = settle(
            23649,
            &[card(23600), cash(100)],
            &rules(CashRounding::DownToYuan),
        )
        .unwrap();
        assert_eq!(
            applied(&s),
            vec![(TenderKind::BankCard, 23600), (TenderKind::Cash, 0)]
        );
        assert_eq!(
            (s.change_fen, s.rounding_fen, s.collected_fen),
            (100, -49, 23600)
        );
    }

    #[test]
    fn wechat_alipay_stored_value_and_points_together() {
        let r = TenderRules {
            cash_rounding: CashRounding::None,
            max_points_fen: 1000,
            stored_value_balance_fen: 5000,
        };
        let tenders = [
            points(1000, 100), // 100 points for ¥10.00
            stored_value(5000),
            with_ref(TenderKind::WechatPay, 10000, "wx4200001234"),
            with_ref(TenderKind::Alipay, 7640, "2024100122001"),
        ];
        let s = settle(23640, &tenders, &r).unwrap();
        assert_eq!(s.collected_fen, 23640);
        assert_eq!(s.tenders[0].points, Some(100));
        assert_eq!(s.change_fen, 0);
    }

    #[test]
    fn a_zero_ticket_settles_with_no_tenders() {
        let s = settle(0, &[], &rules(CashRounding::None)).unwrap();
        assert_eq!((s.collected_fen, s.change_fen, s.tenders.len()), (0, 0, 0));
    }

    // --- Settling errors -----------------------------------------------------------------------

    #[test]
    fn card_cannot_overpay() {
        let err = settle(23640, &[card(30000)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err,
            TenderError::Overpay {
                index: 1,
                kind: TenderKind::BankCard,
                amount_fen: 30000,
                remaining_fen: 23640
            }
        );
        assert_eq!(
            err.to_string(),
            "tender 1 (BankCard) of ¥300.00 is more than the ¥236.40 that remains; only cash can overpay"
        );
    }

    #[test]
    fn card_short_of_the_total_is_short() {
        let err = settle(23640, &[card(20000)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err,
            TenderError::Short {
                total_fen: 23640,
                paid_fen: 20000
            }
        );
        assert_eq!(err.to_string(), "short: paid ¥200.00 of ¥236.40");
        let err = settle(23640, &[], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err,
            TenderError::Short {
                total_fen: 23640,
                paid_fen: 0
            }
        );
    }

    #[test]
    fn cash_short_of_the_rounded_total_is_short() {
        // ¥236.49 rounds down to ¥236.00 for cash; ¥235.00 is still ¥1 short of that.
        let err = settle(23649, &[cash(23500)], &rules(CashRounding::DownToYuan)).unwrap_err();
        assert_eq!(
            err,
            TenderError::Short {
                total_fen: 23600,
                paid_fen: 23500
            }
        );
    }

    #[test]
    fn zero_and_negative_tenders_are_refused() {
        let err = settle(100, &[cash(0)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err,
            TenderError::NonPositiveAmount {
                index: 1,
                kind: TenderKind::Cash,
                amount_fen: 0
            }
        );
        let err = settle(100, &[card(50), card(-50)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tender 2 (BankCard): amount must be more than zero, got -¥0.50"
        );
    }

    #[test]
    fn card_and_e_wallets_need_a_reference() {
        for kind in [
            TenderKind::BankCard,
            TenderKind::WechatPay,
            TenderKind::Alipay,
        ] {
            let mut t = with_ref(kind, 100, "x");
            t.reference = None;
            let err = settle(100, &[t.clone()], &rules(CashRounding::None)).unwrap_err();
            assert_eq!(err, TenderError::MissingReference { index: 1, kind });
            t.reference = Some("  ".into());
            let err = settle(100, &[t], &rules(CashRounding::None)).unwrap_err();
            assert_eq!(err, TenderError::MissingReference { index: 1, kind });
        }
        assert!(!TenderKind::Cash.needs_reference());
        assert!(!TenderKind::StoredValue.needs_reference());
    }

    #[test]
    fn points_tender_must_say_how_many_points() {
        let r = TenderRules {
            max_points_fen: 1000,
            ..rules(CashRounding::None)
        };
        let mut t = points(500, 50);
        t.points = None;
        let err = settle(500, &[t.clone()], &r).unwrap_err();
        assert_eq!(err, TenderError::MissingPoints { index: 1 });
        t.points = Some(0);
        assert_eq!(
            settle(500, &[t], &r).unwrap_err().to_string(),
            "tender 1 (Points) does not say how many points are redeemed"
        );
    }

    #[test]
    fn points_above_the_cap_are_refused() {
        let r = TenderRules {
            max_points_fen: 1000,
            ..rules(CashRounding::None)
        };
        // Two points tenders of ¥6.00 each: ¥12.00 over a ¥10.00 cap.
        let err = settle(5000, &[points(600, 60), points(600, 60)], &r).unwrap_err();
        assert_eq!(
            err,
            TenderError::PointsOverCap {
                points_fen: 1200,
                max_points_fen: 1000
            }
        );
        assert_eq!(
            err.to_string(),
            "points pay ¥12.00 but at most ¥10.00 may be paid with points"
        );
    }

    #[test]
    fn stored_value_above_the_balance_is_refused() {
        let r = TenderRules {
            stored_value_balance_fen: 5000,
            ..rules(CashRounding::None)
        };
        let err = settle(23640, &[stored_value(5001)], &r).unwrap_err();
        assert_eq!(
            err,
            TenderError::StoredValueOverBalance {
                stored_value_fen: 5001,
                balance_fen: 5000
            }
        );
        assert_eq!(
            err.to_string(),
            "stored value pays ¥50.01 but the balance is ¥50.00"
        );
    }

    #[test]
    fn a_tender_after_the_ticket_is_paid_is_refused() {
        let err = settle(23640, &[card(23640), cash(100)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err,
            TenderError::AlreadyPaid {
                index: 2,
                kind: TenderKind::Cash
            }
        );
        // Cash that is not last pays at most what remains, so the card after it has nothing to pay.
        let err = settle(100, &[cash(500), card(10)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tender 2 (BankCard) comes after the ticket is already paid"
        );
    }

    #[test]
    fn a_negative_total_is_refused() {
        let err = settle(-1, &[cash(100)], &rules(CashRounding::None)).unwrap_err();
        assert_eq!(err, TenderError::NegativeTotal { total_fen: -1 });
        assert_eq!(err.to_string(), "ticket total -¥0.01 is negative");
    }

    #[test]
    fn rounding_up_past_i64_is_an_overflow_error() {
        // Card pays all but 5 fen of a total 2 fen below i64::MAX; rounding the 5 fen up to a jiao
        // would collect 3 fen more than i64 holds.
        let total = i64::MAX - 2;
        let err = settle(
            total,
            &[card(total - 5), cash(10)],
            &rules(CashRounding::ToJiao),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TenderError::Overflow {
                what: "total after cash rounding"
            }
        );
        // Rounding a remainder that itself cannot round up in i64 leaves it as it is.
        assert_eq!(CashRounding::ToJiao.apply(i64::MAX), i64::MAX);
    }

    #[test]
    fn cash_rounding_rules() {
        assert_eq!(CashRounding::None.apply(23647), 23647);
        assert_eq!(CashRounding::ToJiao.apply(23645), 23650);
        assert_eq!(CashRounding::ToJiao.apply(23644), 23640);
        assert_eq!(CashRounding::DownToJiao.apply(23649), 23640);
        assert_eq!(CashRounding::DownToYuan.apply(23699), 23600);
        assert_eq!(CashRounding::DownToYuan.apply(99), 0);
    }

    #[test]
    fn tender_types_serialise_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&TenderKind::WechatPay).unwrap(),
            "\"wechat_pay\""
        );
        assert_eq!(
            serde_json::to_string(&TenderKind::StoredValue).unwrap(),
            "\"stored_value\""
        );
        assert_eq!(
            serde_json::to_string(&CashRounding::DownToJiao).unwrap(),
            "\"down_to_jiao\""
        );
        assert_eq!(
            serde_json::from_str::<CashRounding>("\"to_jiao\"").unwrap(),
            CashRounding::ToJiao
        );
        let s = settle(
            23640,
            &[card(20000), cash(5000)],
            &rules(CashRounding::None),
        )
        .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Settlement>(&json).unwrap(), s);
    }

    // --- Refunds -------------------------------------------------------------------------------

    #[test]
    fn refund_of_the_rice_goes_back_to_card_and_cash_in_proportion() {
        let s = settle(
            23640,
            &[card(20000), cash(5000)],
            &rules(CashRounding::None),
        )
        .unwrap();
        // Returning a line whose net was ¥56.96 from a sale paid ¥200.00 card + ¥36.40 cash:
        //   card 5696 × 20000 / 23640 = 4818.95 → 4818 (remainder 22480)
        //   cash 5696 ×  3640 / 23640 =  877.05 →  877 (remainder  1160)
        // 4818 + 877 = 5695; the 1 fen left goes to the card.
        assert_eq!(
            refund_split(&s.tenders, 5696).unwrap(),
            vec![(TenderKind::BankCard, 4819), (TenderKind::Cash, 877)]
        );
    }

    #[test]
    fn full_refund_returns_exactly_what_each_tender_paid() {
        let s = settle(
            23640,
            &[card(20000), cash(5000)],
            &rules(CashRounding::None),
        )
        .unwrap();
        // Cash paid ¥36.40 (not the ¥50.00 handed over): that is what goes back.
        assert_eq!(
            refund_split(&s.tenders, 23640).unwrap(),
            vec![(TenderKind::BankCard, 20000), (TenderKind::Cash, 3640)]
        );
        assert_eq!(
            refund_split(&s.tenders, 0).unwrap(),
            vec![(TenderKind::BankCard, 0), (TenderKind::Cash, 0)]
        );
    }

    #[test]
    fn refund_tie_goes_to_the_earlier_tender() {
        let s = settle(
            200,
            &[
                with_ref(TenderKind::WechatPay, 100, "wx"),
                with_ref(TenderKind::Alipay, 100, "ali"),
            ],
            &rules(CashRounding::None),
        )
        .unwrap();
        assert_eq!(
            refund_split(&s.tenders, 1).unwrap(),
            vec![(TenderKind::WechatPay, 1), (TenderKind::Alipay, 0)]
        );
    }

    #[test]
    fn refund_after_mo_ling_is_split_over_what_was_collected() {
        // ¥181.09 paid with WeChat ¥100.00 and cash; 抹零 makes the cash part ¥81.00.
        let s = settle(
            18109,
            &[with_ref(TenderKind::WechatPay, 10000, "wx"), cash(10000)],
            &rules(CashRounding::DownToJiao),
        )
        .unwrap();
        assert_eq!(
            (s.rounding_fen, s.change_fen, s.collected_fen),
            (-9, 1900, 18100)
        );
        // Returning a ¥56.96 line: 5696 × 10000 / 18100 = 3146.96 → 3146 (remainder 17400),
        // 5696 × 8100 / 18100 = 2549.04 → 2549 (remainder 700); the 1 left goes to WeChat.
        assert_eq!(
            refund_split(&s.tenders, 5696).unwrap(),
            vec![(TenderKind::WechatPay, 3147), (TenderKind::Cash, 2549)]
        );
        // The whole ticket refunds what was collected, not the unrounded total.
        let err = refund_split(&s.tenders, 18109).unwrap_err();
        assert_eq!(
            err,
            TenderError::RefundExceedsPaid {
                refund_fen: 18109,
                paid_fen: 18100
            }
        );
        assert_eq!(
            err.to_string(),
            "refund ¥181.09 is more than the ¥181.00 the tenders paid"
        );
    }

    #[test]
    fn negative_refunds_and_negative_tenders_are_refused() {
        let s = settle(100, &[cash(100)], &rules(CashRounding::None)).unwrap();
        let err = refund_split(&s.tenders, -1).unwrap_err();
        assert_eq!(err, TenderError::NegativeRefund { refund_fen: -1 });
        assert_eq!(err.to_string(), "refund -¥0.01 is negative");
        let mut bad = s.tenders.clone();
        bad[0].amount_fen = -100;
        let err = refund_split(&bad, 0).unwrap_err();
        assert_eq!(
            err,
            TenderError::NegativeAppliedTender {
                index: 1,
                amount_fen: -100
            }
        );
        assert_eq!(
            err.to_string(),
            "applied tender 1 has a negative amount -¥1.00"
        );
    }

    // --- Properties ----------------------------------------------------------------------------

    const NON_CASH: [TenderKind; 5] = [
        TenderKind::BankCard,
        TenderKind::WechatPay,
        TenderKind::Alipay,
        TenderKind::StoredValue,
        TenderKind::Points,
    ];

    fn arb_rounding() -> impl Strategy<Value = CashRounding> {
        prop_oneof![
            Just(CashRounding::None),
            Just(CashRounding::ToJiao),
            Just(CashRounding::DownToJiao),
            Just(CashRounding::DownToYuan),
        ]
    }

    /// Non-cash tenders each paying part of what remains, then cash for the rest if any is left:
    /// the rest as `rounding` makes it due (¥15,810.85 is ¥15,810.90 in cash under ToJiao) plus
    /// `extra_cash` of change.
    fn tenders_for(total: i64, picks: &[(usize, u64)], extra_cash: i64, rounding: CashRounding) -> Vec<Tender> {
        let mut remaining = total;
        let mut out = Vec::new();
        for &(k, pick) in picks {
            if remaining == 0 {
                break;
            }
            let amount = (pick % remaining as u64) as i64 + 1;
            let kind = NON_CASH[k];
            out.push(Tender {
                kind,
                amount_fen: amount,
                reference: kind.needs_reference().then(|| "ref".to_string()),
                points: (kind == TenderKind::Points).then_some(amount),
            });
            remaining -= amount;
        }
        if remaining > 0 {
            out.push(cash(rounding.apply(remaining).max(remaining) + extra_cash));
        }
        out
    }

    proptest! {
        #[test]
        fn settlements_balance_and_refunds_split_exactly(
            total in 1i64..=10_000_000,
            picks in proptest::collection::vec((0..NON_CASH.len(), any::<u64>()), 0..5),
            extra_cash in 0i64..=10_000,
            rounding in arb_rounding(),
            refund_pick in any::<u64>(),
        ) {
            let tenders = tenders_for(total, &picks, extra_cash, rounding);
            let r = TenderRules {
                cash_rounding: rounding,
                max_points_fen: total,
                stored_value_balance_fen: total,
            };
            let s = settle(total, &tenders, &r).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let collected: i64 = s.tenders.iter().map(|t| t.amount_fen).sum();
            prop_assert_eq!(collected, s.collected_fen);
            prop_assert_eq!(s.collected_fen, total + s.rounding_fen);
            prop_assert!(s.rounding_fen.abs() < 100);
            prop_assert!(s.change_fen >= 0);
            let handed: i64 = s.tenders.iter().map(|t| t.tendered_fen).sum();
            prop_assert_eq!(handed - s.change_fen, s.collected_fen);
            for t in &s.tenders {
                prop_assert!(t.amount_fen >= 0);
                if t.kind != TenderKind::Cash {
                    prop_assert_eq!(t.amount_fen, t.tendered_fen);
                }
            }
            let refund = (refund_pick % (s.collected_fen as u64 + 1)) as i64;
            let split = refund_split(&s.tenders, refund).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(split.len(), s.tenders.len());
            prop_assert_eq!(split.iter().map(|(_, a)| a).sum::<i64>(), refund);
            for ((kind, back), paid) in split.iter().zip(&s.tenders) {
                prop_assert_eq!(*kind, paid.kind);
                prop_assert!(*back >= 0 && *back <= paid.amount_fen);
            }
        }

        #[test]
        fn settle_never_panics(
            total in any::<i64>(),
            amounts in proptest::collection::vec((0..6usize, any::<i64>()), 0..4),
            rounding in arb_rounding(),
            cap in any::<i64>(),
        ) {
            let kinds = [TenderKind::Cash, NON_CASH[0], NON_CASH[1], NON_CASH[2], NON_CASH[3], NON_CASH[4]];
            let tenders: Vec<Tender> = amounts
                .iter()
                .map(|&(k, a)| Tender { kind: kinds[k], amount_fen: a, reference: Some("r".into()), points: Some(1) })
                .collect();
            let r = TenderRules { cash_rounding: rounding, max_points_fen: cap, stored_value_balance_fen: cap };
            if let Ok(s) = settle(total, &tenders, &r) {
                prop_assert_eq!(i128::from(s.collected_fen), i128::from(total) + i128::from(s.rounding_fen));
                let _ = refund_split(&s.tenders, total);
            }
        }
    }
}
