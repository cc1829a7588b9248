//! Paying a cart: price it, settle the tenders, and commit the sale in one durable commit with
//! everything it changes: the sale record, a stock move per line, the shift's cash, the member's
//! points and stored value, the coupons it used, the cleared cart and the outbox events.
//!
//! Stock moves of label-priced weighed goods (a price label from the produce counter carries the
//! price, not the weight) take the weight back from the price: grams = label price × 1000 ÷ price
//! per kg, rounded half up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cart::{Cart, CartLine};
use crate::domain::money::round_half_up_div;
use crate::domain::pricing::{self, PricedBasket, Promotion, Quantity, Shopper};
use crate::domain::stock::MoveKind;
use crate::domain::tender::{self, CashRounding, Settlement, Tender, TenderKind, TenderRules};
use crate::inventory::{self, NewMove};
use crate::staff::{self, CashFlow};
use crate::store::{codec, Record, TreeId, Tx, TxError};

use super::lanes::CheckoutError;

/// Outbox event of a completed sale.
pub const EVENT_SALE_COMPLETED: &str = "storehub.sale.completed";

/// A completed sale as stored (`TreeId::Sales`, key = id) and sent to HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub id: u64,
    /// Printed on the receipt and used to find the sale for a return: `<lane>-<id>`.
    pub receipt_no: String,
    pub lane: String,
    pub cashier: String,
    pub shift_id: Option<u64>,
    pub member_id: Option<u64>,
    pub at: DateTime<Utc>,
    /// The cart lines as sold (names and prices at scan time).
    pub lines: Vec<CartLine>,
    pub priced: PricedBasket,
    pub settlement: Settlement,
    /// Stock move id per line, in line order.
    pub stock_moves: Vec<u64>,
    pub points_earned: i64,
    pub points_redeemed: i64,
    /// Coupon ids redeemed on this sale.
    pub coupons: Vec<u64>,
    /// What came back so far, per line (see `checkout::returns`).
    pub returned: Vec<super::returns::LineReturned>,
    /// Refunded so far, all returns together.
    pub refunded_fen: i64,
}

impl Record for Sale {
    const NAME: &'static str = "sale";
}

/// What the cashier asks for when the shopper pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayRequest {
    pub tenders: Vec<Tender>,
}

/// Rules a sale needs from config and the store, gathered by the caller.
#[derive(Debug, Clone)]
pub struct SaleRules {
    pub cash_rounding: CashRounding,
    /// Promotions active now (see `promotions::active_promotions`).
    pub promotions: Vec<Promotion>,
    pub tz: chrono_tz::Tz,
}

/// The stock quantity a sold line takes: pieces, grams, or grams worked back from a label price.
pub fn stock_qty(line: &CartLine, unit_is_kg: bool) -> i64 {
    match (line.qty, line.label_price_fen) {
        (Quantity::Grams(g), _) => g,
        (Quantity::Units(_), Some(label)) if unit_is_kg && line.unit_price_fen > 0 => {
            i64::try_from(round_half_up_div(i128::from(label) * 1000, i128::from(line.unit_price_fen))).unwrap_or(i64::MAX)
        }
        (Quantity::Units(n), _) => n,
    }
}

/// Prices a cart for a shopper (no member yet: a guest).
pub fn quote(cart: &Cart, shopper: &Shopper, rules: &SaleRules, now: DateTime<Utc>) -> Result<PricedBasket, CheckoutError> {
    let local = crate::clock::local(now, rules.tz);
    pricing::price_basket(&cart.basket_lines(), shopper, &rules.promotions, &[], local).map_err(CheckoutError::Pricing)
}

/// Commits the sale of `cart` inside `tx`: the caller (`Lanes::pay`) holds the lane and clears
/// the in-memory cart once the commit is acknowledged.
pub(crate) fn commit_sale_tx(tx: &Tx, cart: &Cart, req: &PayRequest, rules: &SaleRules) -> Result<Sale, TxError<CheckoutError>> {
    let reject = |e: CheckoutError| TxError::Rejected(e);
    if cart.is_empty() {
        return Err(reject(CheckoutError::EmptyCart));
    }
    let cashier = cart.cashier.clone().ok_or_else(|| reject(CheckoutError::NotSignedIn))?;
    let now = tx.now();
    let shopper = Shopper::guest();
    let priced = quote(cart, &shopper, rules, now).map_err(reject)?;
    let tender_rules = TenderRules { cash_rounding: rules.cash_rounding, max_points_fen: 0, stored_value_balance_fen: 0 };
    let settlement = tender::settle(priced.total_fen, &req.tenders, &tender_rules).map_err(|e| reject(CheckoutError::Tender(e)))?;

    let shift = staff::open_shift_in_tx::<CheckoutError>(tx, &cart.lane)?;
    let cash: i64 = settlement.tenders.iter().filter(|t| t.kind == TenderKind::Cash).map(|t| t.amount_fen).sum();
    if cash != 0 || settlement.change_fen != 0 {
        let Some(shift) = &shift else {
            return Err(reject(CheckoutError::NoShift { lane: cart.lane.clone() }));
        };
        staff::record_cash_tx(tx, shift.id, CashFlow::Sale(cash)).map_err(|e| e.map_rejected(CheckoutError::Shift))?;
    }

    let id = tx.next_seq(TreeId::Sales)?;
    let receipt_no = format!("{}-{id}", cart.lane);
    let mut stock_moves = Vec::with_capacity(cart.lines.len());
    for line in &cart.lines {
        let product = tx.get::<crate::catalog::Product, CheckoutError>(TreeId::Products, line.sku.as_bytes())?;
        let unit_is_kg = product.as_ref().is_some_and(|p| p.unit == crate::catalog::Unit::Kg);
        let mv = NewMove {
            sku: line.sku.clone(),
            kind: MoveKind::Sale,
            qty: stock_qty(line, unit_is_kg),
            reason: format!("sale {receipt_no}"),
            user: cashier.clone(),
            reference: Some(receipt_no.clone()),
        };
        let m = inventory::record_move(tx, &mv).map_err(|e| e.map_rejected(CheckoutError::Stock))?;
        stock_moves.push(m.id);
    }
    let sale = Sale {
        id,
        receipt_no,
        lane: cart.lane.clone(),
        cashier,
        shift_id: shift.map(|s| s.id),
        member_id: cart.member_id,
        at: now,
        lines: cart.lines.clone(),
        priced,
        settlement,
        stock_moves,
        points_earned: 0,
        points_redeemed: 0,
        coupons: Vec::new(),
        returned: Vec::new(),
        refunded_fen: 0,
    };
    tx.put(TreeId::Sales, &codec::u64_key(id), &sale)?;
    super::lanes::clear_cart_tx(tx, cart)?;
    tx.emit(EVENT_SALE_COMPLETED, Some(&sale.lane), &SaleEvent::from(&sale))?;
    Ok(sale)
}

/// The `storehub.sale.completed` event: what HQ needs to book the sale, without personal data
/// (the member is an id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaleEvent {
    pub sale_id: u64,
    pub receipt_no: String,
    pub lane: String,
    pub cashier: String,
    pub member_id: Option<u64>,
    pub at: DateTime<Utc>,
    pub lines: Vec<SaleEventLine>,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub ticket_discounts: Vec<pricing::Discount>,
    pub tenders: Vec<tender::AppliedTender>,
    pub change_fen: i64,
    pub rounding_fen: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub coupons: Vec<u64>,
}

/// One line of the sale event: what was sold, for how much, and why it cost less.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaleEventLine {
    pub line_no: u32,
    pub sku: String,
    pub qty: Quantity,
    pub gross_fen: i64,
    pub net_fen: i64,
    pub discounts: Vec<pricing::Discount>,
}

impl From<&Sale> for SaleEvent {
    fn from(s: &Sale) -> Self {
        SaleEvent {
            sale_id: s.id,
            receipt_no: s.receipt_no.clone(),
            lane: s.lane.clone(),
            cashier: s.cashier.clone(),
            member_id: s.member_id,
            at: s.at,
            lines: s
                .priced
                .lines
                .iter()
                .map(|l| SaleEventLine {
                    line_no: l.line_no,
                    sku: l.sku.clone(),
                    qty: l.qty,
                    gross_fen: l.gross_fen,
                    net_fen: l.net_fen,
                    discounts: l.line_discounts.clone(),
                })
                .collect(),
            subtotal_fen: s.priced.subtotal_fen,
            discount_fen: s.priced.discount_total_fen,
            total_fen: s.priced.total_fen,
            ticket_discounts: s.priced.ticket_discounts.clone(),
            tenders: s.settlement.tenders.clone(),
            change_fen: s.settlement.change_fen,
            rounding_fen: s.settlement.rounding_fen,
            points_earned: s.points_earned,
            points_redeemed: s.points_redeemed,
            coupons: s.coupons.clone(),
        }
    }
}

/// Every sale in id order (exports, audits and tests).
pub fn all_sales(store: &crate::store::Store) -> Result<Vec<Sale>, crate::store::StoreError> {
    store.scan::<Sale>(TreeId::Sales).map(|r| r.map(|(_, s)| s)).collect()
}

/// One sale by id.
pub fn sale(store: &crate::store::Store, id: u64) -> Result<Option<Sale>, crate::store::StoreError> {
    store.get(TreeId::Sales, &codec::u64_key(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::{Discount, DiscountSource};

    #[test]
    fn a_discount_source_survives_the_record_encoding() {
        for source in [DiscountSource::MemberPrice, DiscountSource::Promotion("P1".into()), DiscountSource::Coupon("C1".into())] {
            let d = Discount { source, reason_zh: "八折".into(), reason_en: "20% off".into(), amount_fen: 80 };
            let bytes = postcard::to_stdvec(&d).unwrap();
            assert_eq!(postcard::from_bytes::<Discount>(&bytes).unwrap(), d);
        }
    }
}
