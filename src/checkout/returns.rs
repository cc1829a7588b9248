//! Returns and refunds (退货): against a sale (all or part of its lines), or without a receipt
//! (managers only). One durable commit records the return, puts the goods back in stock (or
//! not, when they cannot be sold again), refunds through the sale's own tenders, books the cash
//! against the lane's shift, and emits `storehub.sale.returned`.
//!
//! Refund rule: a returned part of a line refunds its share of what the shopper paid for the line,
//! round_half_up(line net × returned ÷ sold); the return that completes a line refunds what is
//! left of it, and the return that completes the whole sale refunds what is left of what was
//! collected (so a 抹零 sale refunds exactly the cash taken). Refunds go back to the sale's
//! tenders in proportion to what each paid (`domain::tender::refund_split`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lanes::CheckoutError;
use super::sale::Sale;
use crate::domain::money::round_half_up_div;
use crate::domain::pricing::Quantity;
use crate::domain::staff::Action;
use crate::domain::stock::MoveKind;
use crate::domain::tender::{self, TenderKind};
use crate::inventory::{self, NewMove};
use crate::staff::{self, CashFlow};
use crate::store::{codec, CommitError, Record, Store, TreeId, Tx, TxError};

/// Outbox event of a return.
pub const EVENT_SALE_RETURNED: &str = "storehub.sale.returned";

/// One line being returned: a sale line and how much of it (pieces or grams).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnLineRequest {
    pub line_no: u32,
    pub qty: i64,
}

/// An item returned without a receipt: the manager states what and for how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptlessItem {
    pub sku: String,
    pub qty: i64,
    pub refund_fen: i64,
}

/// What is being returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReturnOf {
    Sale { sale_id: u64, lines: Vec<ReturnLineRequest> },
    NoReceipt { items: Vec<ReceiptlessItem> },
}

/// A return request from a lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRequest {
    pub of: ReturnOf,
    /// Lane whose drawer pays cash refunds.
    pub lane: String,
    /// Staff doing the return (a manager for returns without receipt).
    pub by: String,
    /// Put the goods back on the shelf (false: damaged, spoiled).
    pub restock: bool,
    pub reason: String,
}

/// One returned line as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    /// The sale's line, or None without receipt.
    pub line_no: Option<u32>,
    pub sku: String,
    /// How much of the line came back: pieces, or grams for weighed lines.
    pub qty: i64,
    /// What went back into stock (grams worked back from the price for label-priced weighed goods).
    pub stock_qty: i64,
    pub refund_fen: i64,
    pub stock_move: Option<u64>,
}

/// A return as stored (`TreeId::Returns`) and sent to HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleReturn {
    pub id: u64,
    pub sale_id: Option<u64>,
    pub lane: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub restocked: bool,
    pub reason: String,
    pub lines: Vec<ReturnedLine>,
    pub refund_fen: i64,
    /// Refund per tender of the sale (cash only without receipt).
    pub refunds: Vec<(TenderKind, i64)>,
}

impl Record for SaleReturn {
    const NAME: &'static str = "sale return";
}

/// How much of a sale line has been returned so far (kept on the sale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineReturned {
    pub line_no: u32,
    pub qty: i64,
    pub refunded_fen: i64,
}

/// Why a return was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnError {
    #[error("no sale {0}; check the receipt number")]
    NoSuchSale(u64),
    #[error("sale {sale} has no line {line_no}")]
    NoSuchLine { sale: u64, line_no: u32 },
    #[error("line {line_no} sold {sold} and {returned} came back already; {asked} more is too many")]
    TooMany { line_no: u32, sold: i64, returned: i64, asked: i64 },
    #[error("a return needs at least one line with a quantity above 0")]
    Nothing,
    #[error("line {line_no} is listed twice")]
    Duplicate { line_no: u32 },
    #[error("a refund without receipt must be above 0 and its quantity at least 1 ({sku})")]
    BadItem { sku: String },
}

/// Records a return in one durable commit. Returns without receipt need a manager. A member's
/// sale also gives back its points in proportion (and the points that paid for it), refunds
/// stored value to the card, and, when everything came back, gives back its coupons.
pub fn return_items(store: &Store, req: &ReturnRequest, loyalty: &crate::members::LoyaltyRules) -> Result<SaleReturn, CheckoutError> {
    store
        .commit(|tx| return_tx(tx, req, loyalty))
        .map_err(|e| match e {
            CommitError::Rejected(e) => e,
            CommitError::Store(e) => CheckoutError::Store(e),
        })
}

fn return_tx(tx: &Tx, req: &ReturnRequest, loyalty: &crate::members::LoyaltyRules) -> Result<SaleReturn, TxError<CheckoutError>> {
    let reject = |e: ReturnError| TxError::Rejected(CheckoutError::Return(e));
    let action = match req.of {
        ReturnOf::Sale { .. } => Action::Return,
        ReturnOf::NoReceipt { .. } => Action::ReturnWithoutReceipt,
    };
    staff::authorize_in_tx::<CheckoutError>(tx, &req.by, action)?;
    let now = tx.now();
    let id = tx.next_seq(TreeId::Returns)?;
    let reference = format!("return {id}");

    let (sale_id, lines, refunds) = match &req.of {
        ReturnOf::Sale { sale_id, lines: asked } => {
            let mut sale: Sale = tx.get(TreeId::Sales, &codec::u64_key(*sale_id))?.ok_or_else(|| reject(ReturnError::NoSuchSale(*sale_id)))?;
            if asked.iter().all(|l| l.qty <= 0) {
                return Err(reject(ReturnError::Nothing));
            }
            let mut out = Vec::new();
            for (i, a) in asked.iter().enumerate() {
                if asked[..i].iter().any(|b| b.line_no == a.line_no) {
                    return Err(reject(ReturnError::Duplicate { line_no: a.line_no }));
                }
                if a.qty <= 0 {
                    continue;
                }
                let line = sale.lines.iter().find(|l| l.line_no == a.line_no).ok_or_else(|| reject(ReturnError::NoSuchLine { sale: *sale_id, line_no: a.line_no }))?;
                let priced = sale.priced.lines.iter().find(|l| l.line_no == a.line_no).ok_or_else(|| reject(ReturnError::NoSuchLine { sale: *sale_id, line_no: a.line_no }))?;
                let sold = line.qty.amount();
                let done = sale.returned.iter().find(|r| r.line_no == a.line_no).cloned().unwrap_or(LineReturned { line_no: a.line_no, qty: 0, refunded_fen: 0 });
                if done.qty + a.qty > sold {
                    return Err(reject(ReturnError::TooMany { line_no: a.line_no, sold, returned: done.qty, asked: a.qty }));
                }
                let refund = if done.qty + a.qty == sold {
                    priced.net_fen - done.refunded_fen
                } else {
                    let share = round_half_up_div(i128::from(priced.net_fen) * i128::from(done.qty + a.qty), i128::from(sold));
                    i64::try_from(share).unwrap_or(i64::MAX) - done.refunded_fen
                };
                out.push((line.clone(), a.qty, refund));
            }
            // Book what came back on the sale.
            for (line, qty, refund) in &out {
                match sale.returned.iter_mut().find(|r| r.line_no == line.line_no) {
                    Some(r) => {
                        r.qty += qty;
                        r.refunded_fen += refund;
                    }
                    None => sale.returned.push(LineReturned { line_no: line.line_no, qty: *qty, refunded_fen: *refund }),
                }
            }
            let mut refund_fen: i64 = out.iter().map(|(_, _, r)| r).sum();
            let everything_back = sale.lines.iter().all(|l| sale.returned.iter().any(|r| r.line_no == l.line_no && r.qty == l.qty.amount()));
            let collected: i64 = sale.settlement.tenders.iter().map(|t| t.amount_fen).sum();
            let refunded_before: i64 = sale.refunded_fen;
            if everything_back {
                refund_fen = collected - refunded_before;
            }
            refund_fen = refund_fen.clamp(0, collected - refunded_before);
            sale.refunded_fen += refund_fen;
            let refunds = tender::refund_split(&sale.settlement.tenders, refund_fen).map_err(|e| TxError::Rejected(CheckoutError::Tender(e)))?;
            if let Some(member_id) = sale.member_id {
                let me = |e: TxError<crate::members::MemberError>| e.map_rejected(CheckoutError::Member);
                use crate::domain::loyalty::ledger::{EarnedOnSale, RedeemedOnSale};
                let earned = EarnedOnSale {
                    points: sale.points_earned,
                    eligible_net_fen: sale.points_eligible_fen,
                    refunded_before_fen: refunded_before,
                    reversed_before: sale.points_reversed,
                };
                if sale.points_earned > 0 {
                    let r = crate::members::reverse_for_return_tx(tx, member_id, &earned, refund_fen, sale.points_lot, id, loyalty).map_err(me)?;
                    sale.points_reversed += r.points;
                }
                if sale.points_redeemed > 0 {
                    let redeemed = RedeemedOnSale {
                        points: sale.points_redeemed,
                        total_fen: sale.priced.total_fen,
                        refunded_before_fen: refunded_before,
                        restored_before: sale.points_restored,
                    };
                    let r = crate::members::restore_redeemed_tx(tx, member_id, &redeemed, refund_fen, id, loyalty).map_err(me)?;
                    sale.points_restored += r.points;
                }
                let to_card: i64 = refunds.iter().filter(|(k, _)| *k == TenderKind::StoredValue).map(|(_, f)| f).sum();
                if to_card > 0 {
                    crate::members::stored_value_refund_tx(tx, member_id, to_card, id, loyalty).map_err(me)?;
                }
            }
            if everything_back {
                let today = loyalty.today(now);
                for c in &sale.coupons {
                    crate::coupons::restore_tx(tx, *c, sale.id, "the whole sale was returned", today).map_err(|e| e.map_rejected(CheckoutError::Coupon))?;
                }
            }
            tx.put(TreeId::Sales, &codec::u64_key(*sale_id), &sale)?;
            // The member's preference profile nets the refund in the same commit.
            let parts: Vec<(u32, i64, i64)> = out.iter().map(|(l, qty, refund)| (l.line_no, *qty, *refund)).collect();
            crate::members::profile::record_return_tx::<CheckoutError>(tx, &sale, &parts, now, loyalty.timezone)?;
            let lines: Vec<(Option<u32>, String, i64, i64, i64)> = out
                .into_iter()
                .map(|(l, qty, refund)| {
                    let kg = matches!(l.qty, Quantity::Grams(_)) || l.label_price_fen.is_some() && sale_unit_is_kg(tx, &l.sku);
                    let stock_qty = stock_return_qty(&l, qty, kg);
                    (Some(l.line_no), l.sku, qty, stock_qty, refund)
                })
                .collect();
            (Some(*sale_id), lines, refunds)
        }
        ReturnOf::NoReceipt { items } => {
            if items.is_empty() {
                return Err(reject(ReturnError::Nothing));
            }
            for it in items {
                if it.qty < 1 || it.refund_fen <= 0 {
                    return Err(reject(ReturnError::BadItem { sku: it.sku.clone() }));
                }
            }
            let total: i64 = items.iter().map(|i| i.refund_fen).sum();
            let lines = items.iter().map(|i| (None, i.sku.clone(), i.qty, i.qty, i.refund_fen)).collect();
            (None, lines, vec![(TenderKind::Cash, total)])
        }
    };

    // Stock back on the shelf, unless it cannot be sold again.
    let mut returned = Vec::new();
    for (line_no, sku, qty, stock_qty, refund_fen) in lines {
        let stock_move = if req.restock {
            let mv = NewMove { sku: sku.clone(), kind: MoveKind::Return, qty: stock_qty, reason: format!("return {id}"), user: req.by.clone(), reference: Some(reference.clone()) };
            Some(inventory::record_move(tx, &mv).map_err(|e| e.map_rejected(CheckoutError::Stock))?.id)
        } else {
            None
        };
        returned.push(ReturnedLine { line_no, sku, qty, stock_qty, refund_fen, stock_move });
    }
    let refund_fen: i64 = refunds.iter().map(|(_, f)| f).sum();
    let cash: i64 = refunds.iter().filter(|(k, _)| *k == TenderKind::Cash).map(|(_, f)| f).sum();
    if cash > 0 {
        let shift = staff::open_shift_in_tx::<CheckoutError>(tx, &req.lane)?.ok_or_else(|| TxError::Rejected(CheckoutError::NoShift { lane: req.lane.clone() }))?;
        staff::record_cash_tx(tx, shift.id, CashFlow::Refund(cash)).map_err(|e| e.map_rejected(CheckoutError::Shift))?;
    }
    let ret = SaleReturn {
        id,
        sale_id,
        lane: req.lane.clone(),
        by: req.by.clone(),
        at: now,
        restocked: req.restock,
        reason: req.reason.clone(),
        lines: returned,
        refund_fen,
        refunds,
    };
    tx.put(TreeId::Returns, &codec::u64_key(id), &ret)?;
    tx.emit(EVENT_SALE_RETURNED, Some(&ret.lane), &ret)?;
    if ret.sale_id.is_none() {
        let detail = format!("return {id} at {}: {} items, {} fen cash", ret.lane, ret.lines.len(), ret.refund_fen);
        crate::audit::record_tx(tx, &req.by, crate::audit::AuditAction::RefundWithoutReceipt, Some(&id.to_string()), &detail)?;
    }
    Ok(ret)
}

fn sale_unit_is_kg(tx: &Tx, sku: &str) -> bool {
    matches!(tx.get::<crate::catalog::Product, CheckoutError>(TreeId::Products, sku.as_bytes()), Ok(Some(p)) if p.unit == crate::catalog::Unit::Kg)
}

/// The stock quantity a returned part of a line puts back (grams for weighed goods).
fn stock_return_qty(line: &super::cart::CartLine, qty: i64, kg: bool) -> i64 {
    match (line.qty, line.label_price_fen) {
        (Quantity::Units(_), Some(_)) if kg => super::sale::stock_qty(line, true),
        _ => qty,
    }
}

/// Every return in id order.
pub fn all_returns(store: &Store) -> Result<Vec<SaleReturn>, crate::store::StoreError> {
    store.scan::<SaleReturn>(TreeId::Returns).map(|r| r.map(|(_, s)| s)).collect()
}
