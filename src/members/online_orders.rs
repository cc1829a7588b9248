//! Online orders (线上订单) forwarded by HQ's `order.ingest` command: an order from a sales
//! channel other than the lanes becomes a sale of that channel, earning points and updating the
//! member exactly like an in-store sale, moving this store's stock only when this store fulfils
//! it. Idempotent by order id (`TreeId::OnlineOrders`).
//!
//! HQ priced the order: its unit prices and line nets are taken as they are (no promotion,
//! member price or tier discount of this store is applied again); what a line lost against
//! qty × unit price is one discount named after the platform. The sale, its stock moves (only
//! for `from_store`), the member's points and stats, the order record and the events
//! (`storehub.sale.completed`, `storehub.order.ingested`) are one commit; an order refused writes
//! nothing. The lanes' own pieces do the shared work (`checkout::sale::{sale_moves_tx,
//! credit_member_tx, put_sale_tx}`), so an online sale earns exactly what a lane sale would.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{card_key, phone_key, LoyaltyRules, Member, MemberError, MemberQuery};
use crate::catalog::{Product, Unit};
use crate::checkout::cart::CartLine;
use crate::checkout::sale::{self, PaidWith, Sale};
use crate::domain::channel::SalesChannel;
use crate::domain::money::checked_round_half_up_div;
use crate::domain::pricing::{Discount, DiscountSource, PricedBasket, PricedLine, Quantity};
use crate::domain::tender::{self, CashRounding, Tender, TenderKind, TenderRules};
use crate::store::{codec, Record, Store, StoreError, TreeId, Tx, TxError};

/// Outbox event of an ingested order (data: [`OrderIngested`]).
pub const EVENT_ORDER_INGESTED: &str = "storehub.order.ingested";
/// The cashier an online sale names: HQ took the order, no one at this store.
pub const CASHIER: &str = "hq";
/// Most lines one order carries.
pub const MAX_LINES: usize = 500;
/// Longest order id, in characters.
pub const ORDER_ID_MAX_CHARS: usize = 64;
/// How far an order's time may be ahead of the shop clock (clocks drift).
pub const MAX_AHEAD_MINUTES: i64 = 10;
/// How old an order may be: older ones belong in `storehub import transactions`.
pub const MAX_AGE_DAYS: i64 = 30;
/// Largest amount of one line or order, fen (¥100,000,000).
pub const MAX_FEN: i64 = 10_000_000_000;

/// Who fulfils the order: only `FromStore` takes this store's stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    /// Shipped from another store or a warehouse: no stock moves here.
    Elsewhere,
    /// Picked up at or delivered from this store: a sale stock move per line.
    FromStore,
}

impl Fulfilment {
    pub fn as_str(self) -> &'static str {
        match self {
            Fulfilment::Elsewhere => "elsewhere",
            Fulfilment::FromStore => "from_store",
        }
    }
}

/// The member an order names: this store's member id, a phone (normalized) or the member id a
/// card number carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberRef {
    Id(u64),
    Phone(String),
    Card(u64),
}

impl MemberRef {
    /// What was asked for, safe to show (a phone is masked).
    pub fn describe(&self) -> String {
        match self {
            MemberRef::Id(id) => format!("member id {id}"),
            MemberRef::Phone(p) => MemberQuery::Phone(p.clone()).describe(),
            MemberRef::Card(id) => MemberQuery::Code(*id).describe(),
        }
    }
}

/// One line as HQ sold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    /// Pieces, or grams for goods sold by the kilogram.
    pub qty: i64,
    /// Per piece, or per kilogram for weighed goods.
    pub unit_price_fen: i64,
    /// What the shopper paid for the line after the platform's discounts.
    pub net_fen: i64,
}

/// An online order, typed (`cloud::commands::order_ingest` reads it from HQ's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineOrder {
    /// HQ's order id: unique across the chain, the idempotency key.
    pub order_id: String,
    pub channel: SalesChannel,
    /// The platform within the channel (`meituan`, `eleme`, …), if HQ names one.
    pub platform: Option<String>,
    pub member: MemberRef,
    /// When the shopper placed (and paid) the order.
    pub at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    /// Σ lines' `net_fen`.
    pub total_fen: i64,
    /// Paid online; equals `total_fen` (an online order is paid in full before it reaches us).
    pub paid_fen: i64,
    pub fulfilment: Fulfilment,
}

/// Why an order was refused: the field at fault, by its path in the order (`lines[2].qty`,
/// `member`, `total_fen`), and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OrderError {
    pub field: String,
    pub message: String,
}

impl OrderError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> OrderError {
        OrderError { field: field.into(), message: message.into() }
    }
}

/// `OnlineOrders` record: the sale an order became and the reply HQ got, so the same order
/// again answers the same and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestedOrder {
    pub order_id: String,
    pub sale_id: u64,
    pub fulfilment: Fulfilment,
    /// SHA-256 of the order as ingested: the same id with other content is refused.
    pub digest: [u8; 32],
    pub ingested_at: DateTime<Utc>,
    /// The reply's order fields (JSON object).
    pub reply_json: String,
}

impl Record for IngestedOrder {
    const VERSION: u8 = 1;
    const NAME: &'static str = "online_order";
}

/// The `storehub.order.ingested` event: ids and amounts, no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIngested {
    pub order_id: String,
    pub sale_id: u64,
    pub channel: SalesChannel,
    pub platform: Option<String>,
    pub member_id: u64,
    pub fulfilment: Fulfilment,
    pub total_fen: i64,
    pub points_earned: i64,
    /// Stock moves this store booked (0 when fulfilled elsewhere).
    pub stock_moves: usize,
}

/// What `ingest_tx` did: the order's reply fields, and whether the order was known already.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingested {
    pub sale_id: u64,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The order id was ingested before: nothing changed, the first reply's fields.
    pub duplicate: bool,
}

/// The checks that need no store: order id, platform, channel, quantities, prices, totals.
pub fn check_order(o: &OnlineOrder) -> Result<(), OrderError> {
    let id_chars = o.order_id.chars().count();
    if o.order_id.trim().is_empty() || id_chars > ORDER_ID_MAX_CHARS || o.order_id.chars().any(char::is_control) {
        return Err(OrderError::at("order_id", format!("expected 1 to {ORDER_ID_MAX_CHARS} characters without control characters, got {id_chars}")));
    }
    if o.channel == SalesChannel::InStore {
        return Err(OrderError::at(
            "channel",
            format!("in_store sales are made at the lanes; an online order is one of {}", online_channels()),
        ));
    }
    if let Some(p) = &o.platform {
        let ok = (1..=32).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(OrderError::at("platform", "expected 1 to 32 lower-case letters, digits, '_' or '-' (e.g. meituan)"));
        }
    }
    if o.lines.is_empty() {
        return Err(OrderError::at("lines", "no lines given; an order sells at least one item"));
    }
    if o.lines.len() > MAX_LINES {
        return Err(OrderError::at("lines", format!("{} lines; at most {MAX_LINES} per order", o.lines.len())));
    }
    let mut total: i64 = 0;
    for (i, l) in o.lines.iter().enumerate() {
        let at = |f: &str| format!("lines[{i}].{f}");
        if l.sku.trim().is_empty() {
            return Err(OrderError::at(at("sku"), "empty; expected a SKU of this store's catalog"));
        }
        if l.qty <= 0 {
            return Err(OrderError::at(at("qty"), format!("must be more than zero (pieces, or grams for kg goods), got {}", l.qty)));
        }
        if !(0..=MAX_FEN).contains(&l.unit_price_fen) {
            return Err(OrderError::at(at("unit_price_fen"), format!("expected integer fen from 0 to {MAX_FEN}, got {}", l.unit_price_fen)));
        }
        if !(0..=MAX_FEN).contains(&l.net_fen) {
            return Err(OrderError::at(at("net_fen"), format!("expected integer fen from 0 to {MAX_FEN}, got {}", l.net_fen)));
        }
        total += l.net_fen; // ≤ 500 × 10^10: no overflow
    }
    if o.total_fen != total {
        return Err(OrderError::at("total_fen", format!("{} but the lines' net_fen sum to {total}", o.total_fen)));
    }
    if o.paid_fen != o.total_fen {
        return Err(OrderError::at(
            "paid_fen",
            format!("{} but total_fen is {}; an online order reaches the store paid in full", o.paid_fen, o.total_fen),
        ));
    }
    Ok(())
}

fn online_channels() -> String {
    SalesChannel::ALL.iter().filter(|c| **c != SalesChannel::InStore).map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// A line's list value: qty × unit price, per kilogram for grams (rounded half up); `None` on
/// overflow.
pub fn gross_fen(qty: Quantity, unit_price_fen: i64) -> Option<i64> {
    match qty {
        Quantity::Units(n) => n.checked_mul(unit_price_fen),
        Quantity::Grams(g) => {
            checked_round_half_up_div(i128::from(g) * i128::from(unit_price_fen), 1000).and_then(|v| i64::try_from(v).ok())
        }
    }
}

/// The priced basket of an order from HQ's amounts: each line's gross is qty × unit price, its
/// net is HQ's, the difference one line discount named after the platform (or the channel).
/// Pure; `lines` pairs each order line with its quantity and category.
pub fn price_order(o: &OnlineOrder, lines: &[(Quantity, String)]) -> Result<PricedBasket, OrderError> {
    let source = o.platform.clone().unwrap_or_else(|| o.channel.as_str().to_string());
    let mut priced = Vec::with_capacity(o.lines.len());
    let (mut subtotal, mut discounts) = (0i64, 0i64);
    for (i, (l, (qty, category))) in o.lines.iter().zip(lines).enumerate() {
        let gross = gross_fen(*qty, l.unit_price_fen)
            .filter(|g| *g <= MAX_FEN)
            .ok_or_else(|| OrderError::at(format!("lines[{i}].qty"), format!("qty × unit_price_fen is more than {MAX_FEN} fen")))?;
        if l.net_fen > gross {
            return Err(OrderError::at(
                format!("lines[{i}].net_fen"),
                format!("{} is more than the line's value {gross} (qty {qty} × unit_price_fen {})", l.net_fen, l.unit_price_fen),
            ));
        }
        let line_discounts = if gross > l.net_fen {
            vec![Discount {
                source: DiscountSource::Promotion(format!("online:{source}")),
                reason_zh: format!("{}优惠 ({source})", o.channel.label_zh()),
                reason_en: format!("{} discount ({source})", o.channel.label_en()),
                amount_fen: gross - l.net_fen,
            }]
        } else {
            Vec::new()
        };
        subtotal += gross;
        discounts += gross - l.net_fen;
        priced.push(PricedLine {
            line_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            sku: l.sku.clone(),
            category: category.clone(),
            qty: *qty,
            gross_fen: gross,
            line_discounts,
            ticket_shares: Vec::new(),
            net_fen: l.net_fen,
        });
    }
    Ok(PricedBasket { lines: priced, subtotal_fen: subtotal, ticket_discounts: Vec::new(), discount_total_fen: discounts, total_fen: subtotal - discounts })
}

/// SHA-256 of the order's stored form: the same order id must come with the same order.
pub fn digest(o: &OnlineOrder) -> [u8; 32] {
    let bytes = postcard::to_stdvec(o).unwrap_or_default();
    let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The member an order names, following a merge to the surviving member.
fn resolve_member<E>(tx: &Tx, r: &MemberRef) -> Result<Option<Member>, TxError<E>> {
    let key = match r {
        MemberRef::Id(_) => None,
        MemberRef::Phone(p) => Some(phone_key(p)),
        MemberRef::Card(id) => match crate::domain::loyalty::member_code::card_number(*id) {
            Ok(c) => Some(card_key(&c)),
            Err(_) => return Ok(None),
        },
    };
    let mut id = match (r, key) {
        (MemberRef::Id(id), _) => *id,
        (_, Some(key)) => match tx.get_raw::<E>(TreeId::MemberKeys, &key)? {
            Some(raw) => codec::key_u64(&raw)?,
            None => return Ok(None),
        },
        (_, None) => return Ok(None),
    };
    // A merge chain is short; the bound only guards against a damaged store.
    for _ in 0..16 {
        let Some(m) = tx.get::<Member, E>(TreeId::Members, &codec::u64_key(id))? else { return Ok(None) };
        match m.merged_into {
            Some(next) => id = next,
            None => return Ok(Some(m)),
        }
    }
    Ok(None)
}

/// Ingests `o` inside `tx`: checked (`check_order`, its time against the shop clock, every SKU
/// and the member in this store), then the sale and everything it changes; or, for an order id
/// seen before with the same content, nothing and the first reply's fields.
pub fn ingest_tx(tx: &Tx, o: &OnlineOrder, rules: &LoyaltyRules) -> Result<Ingested, TxError<OrderError>> {
    let reject = |field: &str, message: String| TxError::Rejected(OrderError::at(field, message));
    check_order(o).map_err(TxError::Rejected)?;
    let digest = digest(o);
    if let Some(seen) = tx.get::<IngestedOrder, OrderError>(TreeId::OnlineOrders, o.order_id.as_bytes())? {
        if seen.digest != digest {
            return Err(reject(
                "order_id",
                format!(
                    "order {:?} was ingested at {} as sale {} with other content; an order is ingested once and never amended (a refund is a return at the store)",
                    o.order_id,
                    seen.ingested_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    seen.sale_id
                ),
            ));
        }
        let fields = serde_json::from_str(&seen.reply_json).map_err(|e| TxError::Store(StoreError::Corrupt(format!("online order {:?}: reply: {e}", o.order_id))))?;
        return Ok(Ingested { sale_id: seen.sale_id, fields, duplicate: true });
    }
    let now = tx.now();
    if o.at > now + Duration::minutes(MAX_AHEAD_MINUTES) {
        return Err(reject("at", format!("{} is in the future (shop clock {}); check HQ's clock", rfc3339(o.at), rfc3339(now))));
    }
    if o.at < now - Duration::days(MAX_AGE_DAYS) {
        return Err(reject("at", format!("{} is more than {MAX_AGE_DAYS} days ago; import old orders with `storehub import transactions`", rfc3339(o.at))));
    }
    let member = resolve_member::<OrderError>(tx, &o.member)?.ok_or_else(|| {
        reject("member", format!("no member with {} in this store; register the member first (member.upsert)", o.member.describe()))
    })?;

    let mut cart_lines = Vec::with_capacity(o.lines.len());
    let mut kinds = Vec::with_capacity(o.lines.len());
    for (i, l) in o.lines.iter().enumerate() {
        let product = tx
            .get::<Product, OrderError>(TreeId::Products, l.sku.as_bytes())?
            .ok_or_else(|| reject(&format!("lines[{i}].sku"), format!("no product {:?} in this store's catalog; send catalog.upsert first", l.sku)))?;
        let qty = if product.unit == Unit::Kg { Quantity::Grams(l.qty) } else { Quantity::Units(l.qty) };
        kinds.push((qty, product.category.clone()));
        cart_lines.push(CartLine {
            line_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            sku: l.sku.clone(),
            name_zh: product.name_zh,
            name_en: product.name_en,
            category: product.category,
            qty,
            unit_price_fen: l.unit_price_fen,
            member_price_fen: None,
            label_price_fen: None,
            barcode: None,
        });
    }
    let priced = price_order(o, &kinds).map_err(TxError::Rejected)?;
    let tenders: Vec<Tender> = if priced.total_fen > 0 {
        vec![Tender { kind: TenderKind::Online, amount_fen: priced.total_fen, reference: Some(o.order_id.clone()), points: None }]
    } else {
        Vec::new()
    };
    let tender_rules = TenderRules { cash_rounding: CashRounding::None, max_points_fen: 0, stored_value_balance_fen: 0 };
    let settlement = tender::settle(priced.total_fen, &tenders, &tender_rules).map_err(|e| reject("paid_fen", e.to_string()))?;

    let id = tx.next_seq(TreeId::Sales)?;
    let lane = o.channel.as_str();
    let receipt_no = format!("{lane}-{id}");
    let stock_moves = match o.fulfilment {
        Fulfilment::FromStore => sale::sale_moves_tx(tx, &cart_lines, &receipt_no, CASHIER).map_err(|e| {
            e.map_rejected(|e| OrderError::at("lines", format!("{e}; the order was not ingested")))
        })?,
        Fulfilment::Elsewhere => Vec::new(),
    };
    let paid = PaidWith { points_fen: 0, stored_value_fen: 0, at: rules.local(o.at) };
    let (points_earned, points_lot, points_eligible_fen) = sale::credit_member_tx(tx, member.id, &priced, &paid, id, rules)
        .map_err(|e| e.map_rejected(|e: MemberError| OrderError::at("member", e.to_string())))?;
    let sale = Sale {
        id,
        receipt_no: receipt_no.clone(),
        lane: lane.to_string(),
        cashier: CASHIER.to_string(),
        shift_id: None,
        member_id: Some(member.id),
        at: o.at,
        lines: cart_lines,
        priced,
        settlement,
        stock_moves,
        points_earned,
        points_redeemed: 0,
        coupons: Vec::new(),
        tier: member.tier_id().map(str::to_string),
        points_lot,
        points_eligible_fen,
        points_reversed: 0,
        points_restored: 0,
        returned: Vec::new(),
        refunded_fen: 0,
        channel: o.channel,
        order_id: Some(o.order_id.clone()),
        clock_unsynced: !crate::clock_watch::verdict_tx(tx)?.is_sane(),
        price_overrides: Vec::new(),
    };
    sale::put_sale_tx(tx, &sale, rules.timezone)?;
    let event = OrderIngested {
        order_id: o.order_id.clone(),
        sale_id: id,
        channel: o.channel,
        platform: o.platform.clone(),
        member_id: member.id,
        fulfilment: o.fulfilment,
        total_fen: sale.priced.total_fen,
        points_earned,
        stock_moves: sale.stock_moves.len(),
    };
    tx.emit(EVENT_ORDER_INGESTED, Some(&o.order_id), &event)?;
    let mut fields = serde_json::Map::new();
    fields.insert("order_id".into(), serde_json::json!(o.order_id));
    fields.insert("sale_id".into(), serde_json::json!(id));
    fields.insert("receipt_no".into(), serde_json::json!(receipt_no));
    fields.insert("member_id".into(), serde_json::json!(member.id));
    fields.insert("channel".into(), serde_json::json!(o.channel.as_str()));
    fields.insert("fulfilment".into(), serde_json::json!(o.fulfilment.as_str()));
    fields.insert("total_fen".into(), serde_json::json!(sale.priced.total_fen));
    fields.insert("points_earned".into(), serde_json::json!(points_earned));
    fields.insert("stock_moves".into(), serde_json::json!(sale.stock_moves.len()));
    let record = IngestedOrder {
        order_id: o.order_id.clone(),
        sale_id: id,
        fulfilment: o.fulfilment,
        digest,
        ingested_at: now,
        reply_json: serde_json::Value::Object(fields.clone()).to_string(),
    };
    tx.put(TreeId::OnlineOrders, o.order_id.as_bytes(), &record)?;
    Ok(Ingested { sale_id: id, fields, duplicate: false })
}

/// The record of order `order_id`, if it was ingested.
pub fn ingested(store: &Store, order_id: &str) -> Result<Option<IngestedOrder>, StoreError> {
    store.get(TreeId::OnlineOrders, order_id.as_bytes())
}

/// Every ingested order, by order id (verify).
pub fn all_ingested(store: &Store) -> Result<Vec<IngestedOrder>, StoreError> {
    store.scan::<IngestedOrder>(TreeId::OnlineOrders).map(|r| r.map(|(_, o)| o)).collect()
}

/// Reads a member reference: a JSON number is a member id, a string a phone or card number.
/// The message never echoes the text (it may be a phone number).
pub fn parse_member_ref(v: &serde_json::Value) -> Result<MemberRef, String> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().filter(|id| *id > 0).map(MemberRef::Id).ok_or_else(|| "expected a member id ≥ 1, or a phone or card number as a string".to_string()),
        serde_json::Value::String(s) => MemberQuery::parse(s).map(|q| match q {
            MemberQuery::Phone(p) => MemberRef::Phone(p),
            MemberQuery::Code(id) => MemberRef::Card(id),
        }).map_err(|e| match e {
            MemberError::BadQuery { phone, .. } => format!("not a mobile number ({phone}) nor a member card number"),
            other => other.to_string(),
        }),
        _ => Err("expected a member id (number) or a phone or card number (string)".to_string()),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn order(lines: Vec<OrderLine>, total: i64) -> OnlineOrder {
        OnlineOrder {
            order_id: "MT-20261125-0001".into(),
            channel: SalesChannel::Delivery,
            platform: Some("meituan".into()),
            member: MemberRef::Id(1),
            at: Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
            lines,
            total_fen: total,
            paid_fen: total,
            fulfilment: Fulfilment::FromStore,
        }
    }

    fn line(sku: &str, qty: i64, unit: i64, net: i64) -> OrderLine {
        OrderLine { sku: sku.into(), qty, unit_price_fen: unit, net_fen: net }
    }

    #[test]
    fn two_colas_and_450_g_of_bananas_with_a_platform_discount() {
        // 2 × ¥3.50 = ¥7.00 paid ¥6.00; 450 g at ¥6.98/kg = ¥3.141 → ¥3.14, paid in full.
        let o = order(vec![line("COLA", 2, 350, 600), line("BANANA", 450, 698, 314)], 914);
        check_order(&o).unwrap();
        let p = price_order(&o, &[(Quantity::Units(2), "饮料".into()), (Quantity::Grams(450), "水果".into())]).unwrap();
        assert_eq!((p.subtotal_fen, p.discount_total_fen, p.total_fen), (1014, 100, 914));
        assert_eq!(p.lines[0].line_discounts[0].amount_fen, 100);
        assert_eq!(p.lines[0].line_discounts[0].source, DiscountSource::Promotion("online:meituan".into()));
        assert!(p.lines[1].line_discounts.is_empty());
        assert_eq!(p.lines[1].gross_fen, 314);
    }

    #[test]
    fn bad_orders_name_their_field() {
        let e = check_order(&order(vec![line("A", 1, 100, 100), line("B", 1, 100, 100), line("C", -2, 100, 100)], 300)).unwrap_err();
        assert_eq!(e.to_string(), "lines[2].qty: must be more than zero (pieces, or grams for kg goods), got -2");
        let e = check_order(&order(vec![line("A", 1, 100, 100)], 90)).unwrap_err();
        assert_eq!(e.to_string(), "total_fen: 90 but the lines' net_fen sum to 100");
        let mut o = order(vec![line("A", 1, 100, 100)], 100);
        o.paid_fen = 80;
        assert_eq!(check_order(&o).unwrap_err().field, "paid_fen");
        o.paid_fen = 100;
        o.channel = SalesChannel::InStore;
        assert_eq!(check_order(&o).unwrap_err().field, "channel");
        o.channel = SalesChannel::Phone;
        o.platform = Some("美团".into());
        assert_eq!(check_order(&o).unwrap_err().field, "platform");
        let e = price_order(&order(vec![line("A", 2, 100, 250)], 250), &[(Quantity::Units(2), "x".into())]).unwrap_err();
        assert_eq!(e.to_string(), "lines[0].net_fen: 250 is more than the line's value 200 (qty 2 units × unit_price_fen 100)");
    }

    #[test]
    fn member_refs_are_ids_or_phones() {
        assert_eq!(parse_member_ref(&serde_json::json!(7)).unwrap(), MemberRef::Id(7));
        assert_eq!(parse_member_ref(&serde_json::json!("138 0013 8000")).unwrap(), MemberRef::Phone("13800138000".into()));
        assert!(parse_member_ref(&serde_json::json!(0)).is_err());
        let e = parse_member_ref(&serde_json::json!("1380013800")).unwrap_err();
        assert!(!e.contains("1380013800"), "{e}");
    }
}
