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
use crate::domain::channel::SalesChannel;
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
    /// The member's tier when they paid (its discount priced the sale).
    pub tier: Option<String>,
    /// The lot the earned points went into (returns take back from it first).
    pub points_lot: Option<u64>,
    /// Σ line nets that earned points (returns take back in proportion).
    pub points_eligible_fen: i64,
    /// Points earlier returns took back, and points they gave back (of those redeemed).
    pub points_reversed: i64,
    pub points_restored: i64,
    /// What came back so far, per line (see `checkout::returns`).
    pub returned: Vec<super::returns::LineReturned>,
    /// Refunded so far, all returns together.
    pub refunded_fen: i64,
    /// Where the sale was made: the lanes sell `InStore`; online orders carry their own.
    pub channel: SalesChannel,
    /// The online order's id when the sale came from `order.ingest` (unique; see
    /// `members::online_orders`).
    pub order_id: Option<String>,
    /// The hub's clock was not sane when the sale was committed (`domain::clock_sanity`: before
    /// 2026, or stepped back behind the newest time recorded), so `at` may be wrong; `id` (a
    /// gapless per-hub sequence, `TreeId::Sales`) still orders the sales. False on sales stored
    /// before version 3.
    #[serde(default)]
    pub clock_unsynced: bool,
    /// Managers' price overrides (改价) on this sale's lines: list and sold price, who approved,
    /// why. Empty on sales stored before version 4.
    #[serde(default)]
    pub price_overrides: Vec<super::cart::PriceOverride>,
}

impl Record for Sale {
    const VERSION: u8 = 4;
    const NAME: &'static str = "sale";

    /// Version 1 had no channel and no order id: every such sale was made at a lane. Versions 1
    /// and 2 had no clock flag: read as not flagged. Versions 1–3 had no price overrides.
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, crate::store::StoreError> {
        let none: Vec<super::cart::PriceOverride> = Vec::new();
        match version {
            1 => codec::upgrade_by_appending(bytes, &(SalesChannel::InStore, None::<String>, false, none)),
            2 => codec::upgrade_by_appending(bytes, &(false, none)),
            3 => codec::upgrade_by_appending(bytes, &(none,)),
            _ => Err(crate::store::StoreError::Corrupt(format!("sale record has unknown version tag {version}"))),
        }
    }
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
    /// `[loyalty]`: tiers, points earning and redemption, stored value.
    pub loyalty: crate::members::LoyaltyRules,
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

/// A cart priced for its shopper: the member (if one is attached) with their tier, and the
/// coupons handed over, each checked (owner, validity, not used) inside the transaction.
pub(crate) struct Priced {
    pub priced: PricedBasket,
    pub member: Option<crate::members::Member>,
    pub coupons: Vec<crate::coupons::IssuedCoupon>,
}

/// Prices `cart` inside `tx` (a quote uses a commit that writes nothing; a sale prices again
/// inside its own commit, so what is paid is what the rules said at that moment).
pub(crate) fn price_cart_tx(tx: &Tx, cart: &Cart, rules: &SaleRules) -> Result<Priced, TxError<CheckoutError>> {
    let reject = |e: CheckoutError| TxError::Rejected(e);
    let now = tx.now();
    let local = crate::clock::local(now, rules.tz);
    let member = match cart.member_id {
        Some(id) => Some(crate::members::member_tx(tx, id).map_err(|e| e.map_rejected(CheckoutError::Member))?),
        None => None,
    };
    let shopper = match &member {
        Some(m) => {
            let tier = rules.loyalty.tier(&m.tier);
            Shopper { member: true, tier_discount_bp: tier.map_or(0, |t| t.discount_bp), tier_id: m.tier_id().map(str::to_string) }
        }
        None => Shopper::guest(),
    };
    let mut issued = Vec::new();
    let mut coupons = Vec::new();
    for code in &cart.coupons {
        let (c, p) = crate::coupons::check_for_sale_tx(tx, code, cart.member_id, local.date()).map_err(|e| e.map_rejected(CheckoutError::Coupon))?;
        issued.push(c);
        coupons.push(p);
    }
    let priced = pricing::price_basket(&cart.basket_lines(), &shopper, &rules.promotions, &coupons, local).map_err(|e| reject(CheckoutError::Pricing(e)))?;
    Ok(Priced { priced, member, coupons: issued })
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
    let Priced { priced, member, coupons } = price_cart_tx(tx, cart, rules)?;
    let today = rules.loyalty.today(now);
    // Points and stored value pay only for a member, within the cap and the balances.
    let (max_points_fen, stored_value) = match &member {
        Some(m) => (rules.loyalty.redeem.max_redeemable(priced.total_fen, m.available_points(today)).fen, m.stored_value_fen),
        None => (0, 0),
    };
    let tender_rules = TenderRules { cash_rounding: rules.cash_rounding, max_points_fen, stored_value_balance_fen: stored_value };
    // A points tender may give fen only; the points it takes follow from the point value.
    let mut tenders = req.tenders.clone();
    for t in tenders.iter_mut().filter(|t| t.kind == TenderKind::Points && t.points.is_none()) {
        let available = member.as_ref().map_or(0, |m| m.available_points(today));
        t.points = Some(rules.loyalty.redeem.points_for(t.amount_fen, priced.total_fen, available).map_err(|e| reject(CheckoutError::Points(e)))?);
    }
    let settlement = tender::settle(priced.total_fen, &tenders, &tender_rules).map_err(|e| reject(CheckoutError::Tender(e)))?;
    let paid_with = |kind: TenderKind| -> i64 { settlement.tenders.iter().filter(|t| t.kind == kind).map(|t| t.amount_fen).sum() };
    let (points_fen, stored_value_fen) = (paid_with(TenderKind::Points), paid_with(TenderKind::StoredValue));
    let points_redeemed = match &member {
        Some(m) if points_fen > 0 => rules
            .loyalty
            .redeem
            .points_for(points_fen, priced.total_fen, m.available_points(today))
            .map_err(|e| reject(CheckoutError::Points(e)))?,
        _ => 0,
    };

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
    let stock_moves = sale_moves_tx(tx, &cart.lines, &receipt_no, &cashier).map_err(|e| e.map_rejected(CheckoutError::Stock))?;
    // The member: points and stored value spent, points earned on what was paid, the visit.
    let (mut points_earned, mut points_lot, mut points_eligible_fen) = (0, None, 0);
    if let Some(m) = &member {
        let me = |e: TxError<crate::members::MemberError>| e.map_rejected(CheckoutError::Member);
        if points_redeemed > 0 {
            crate::members::redeem_points_tx(tx, m.id, points_redeemed, id, &rules.loyalty).map_err(me)?;
        }
        if stored_value_fen > 0 {
            crate::members::stored_value_spend_tx(tx, m.id, stored_value_fen, id, &rules.loyalty).map_err(me)?;
        }
        let paid = PaidWith { points_fen, stored_value_fen, at: crate::clock::local(now, rules.tz) };
        (points_earned, points_lot, points_eligible_fen) = credit_member_tx(tx, m.id, &priced, &paid, id, &rules.loyalty).map_err(me)?;
    }
    for c in &coupons {
        crate::coupons::redeem_tx(tx, c.id, id).map_err(|e| e.map_rejected(CheckoutError::Coupon))?;
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
        points_earned,
        points_redeemed,
        coupons: coupons.iter().map(|c| c.id).collect(),
        tier: member.as_ref().and_then(|m| m.tier_id().map(str::to_string)),
        points_lot,
        points_eligible_fen,
        points_reversed: 0,
        points_restored: 0,
        returned: Vec::new(),
        refunded_fen: 0,
        channel: SalesChannel::InStore,
        order_id: None,
        clock_unsynced: !crate::clock_watch::verdict_tx(tx)?.is_sane(),
        price_overrides: cart.overrides.clone(),
    };
    put_sale_tx(tx, &sale, rules.tz)?;
    super::lanes::clear_cart_tx(tx, cart)?;
    Ok(sale)
}

/// One `MoveKind::Sale` stock move per line (reason `sale <receipt_no>`, reference the receipt
/// number), in line order; their ids. Shared by the lanes and online orders fulfilled from
/// this store (`members::online_orders`).
pub(crate) fn sale_moves_tx(tx: &Tx, lines: &[CartLine], receipt_no: &str, user: &str) -> Result<Vec<u64>, TxError<inventory::InventoryError>> {
    let mut stock_moves = Vec::with_capacity(lines.len());
    for line in lines {
        let product = tx.get::<crate::catalog::Product, inventory::InventoryError>(TreeId::Products, line.sku.as_bytes())?;
        let unit_is_kg = product.as_ref().is_some_and(|p| p.unit == crate::catalog::Unit::Kg);
        let mv = NewMove {
            sku: line.sku.clone(),
            kind: MoveKind::Sale,
            qty: stock_qty(line, unit_is_kg),
            reason: format!("sale {receipt_no}"),
            user: user.to_string(),
            reference: Some(receipt_no.to_string()),
        };
        stock_moves.push(inventory::record_move(tx, &mv)?.id);
    }
    Ok(stock_moves)
}

/// What of a sale's total was paid with points and stored value (they earn no points), and the
/// shop-local time the points rules look at (member day, campaigns).
pub(crate) struct PaidWith {
    pub points_fen: i64,
    pub stored_value_fen: i64,
    pub at: chrono::NaiveDateTime,
}

/// The member's side of a sale, after any points or stored value it spent: points earned on
/// what was paid (`members::earn_tx`) and the visit with its spend, which may raise the tier
/// (`members::record_purchase_tx`). Returns (points earned, the lot they went into, Σ line nets
/// that earned). Shared by the lanes and online orders.
pub(crate) fn credit_member_tx(
    tx: &Tx,
    member_id: u64,
    priced: &PricedBasket,
    paid: &PaidWith,
    sale_id: u64,
    rules: &crate::members::LoyaltyRules,
) -> Result<(i64, Option<u64>, i64), TxError<crate::members::MemberError>> {
    let ticket = crate::domain::loyalty::earn::EarnTicket {
        lines: priced
            .lines
            .iter()
            .map(|l| crate::domain::loyalty::earn::EarnLine { sku: l.sku.clone(), category: l.category.clone(), net_paid_fen: l.net_fen })
            .collect(),
        total_fen: priced.total_fen,
        paid_with_points_fen: paid.points_fen,
        paid_with_stored_value_fen: paid.stored_value_fen,
        at: paid.at,
    };
    let earned = crate::members::earn_tx(tx, member_id, &ticket, sale_id, rules)?;
    let eligible = earned.earning.lines.iter().filter(|l| !l.excluded).map(|l| l.eligible_fen).sum();
    crate::members::record_purchase_tx(tx, member_id, priced.total_fen, rules)?;
    Ok((earned.earning.points, earned.lot_id, eligible))
}

/// Stores a completed sale, counts it in its member's preference profile
/// (`members::profile::record_sale_tx`) and emits `storehub.sale.completed`.
pub(crate) fn put_sale_tx<E>(tx: &Tx, sale: &Sale, tz: chrono_tz::Tz) -> Result<(), TxError<E>> {
    crate::members::profile::record_sale_tx::<E>(tx, sale, tz)?;
    tx.put(TreeId::Sales, &codec::u64_key(sale.id), sale)?;
    tx.emit(EVENT_SALE_COMPLETED, Some(&sale.id.to_string()), &SaleEvent::from(sale))?;
    Ok(())
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
    pub channel: SalesChannel,
    pub order_id: Option<String>,
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
    /// Managers' price overrides (改价) on this sale: line, list and sold price, who, why.
    #[serde(default)]
    pub price_overrides: Vec<super::cart::PriceOverride>,
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
            channel: s.channel,
            order_id: s.order_id.clone(),
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
            price_overrides: s.price_overrides.clone(),
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

/// The newest `limit` sales of member `member_id`, newest first, looking at no more than the
/// newest `scan_at_most` sales (sales are keyed by id, not by member); the flag is `true` when
/// the look stopped at that bound with older sales left unread.
pub fn member_sales(
    store: &crate::store::Store,
    member_id: u64,
    limit: usize,
    scan_at_most: usize,
) -> Result<(Vec<Sale>, bool), crate::store::StoreError> {
    let mut out = Vec::new();
    let mut sales = store.scan_rev::<Sale>(TreeId::Sales);
    for item in sales.by_ref().take(scan_at_most) {
        let (_, s) = item?;
        if s.member_id == Some(member_id) {
            out.push(s);
            if out.len() >= limit {
                return Ok((out, false));
            }
        }
    }
    let unread = sales.next().is_some();
    Ok((out, unread))
}

#[cfg(test)]
mod tests {
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
