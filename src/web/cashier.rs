//! The cashier screen (收银台) of one lane and its API under `/api/v1/lanes/{lane}/…`: the live
//! cart, scanning and typing items, weighed goods, the member panel, coupons, points, tenders
//! with change, void (with a manager's PIN), reprint and return by sale id, and the lane's shift.
//!
//! Every cart change, whoever makes it (the lane's scanner thread, this API, the CLI), bumps the
//! lane's version in [`checkout::Lanes`](crate::checkout::Lanes); `GET …/events` is a
//! server-sent event stream that sends the [`CartView`] at once and again after each bump (a
//! burst of bumps makes one event). The page renders the first cart on the server, then
//! `assets/cashier.js` re-renders it from the events. No polling.
//!
//! Handlers stay thin: business rules live in `checkout` (lanes, sale, returns), `staff`
//! (PIN approval, shifts), `members` and `coupons`; this module maps their refusals to HTTP
//! (400 naming the field, 404, 409 for what the state refuses) and shapes the view.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use maud::{html, Markup, PreEscaped};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Identity, Via};
use super::error::JsonBody;
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::checkout::receipt::Receipt;
use crate::checkout::returns::{self, ReturnError, ReturnLineRequest, ReturnOf, ReturnRequest};
use crate::checkout::{Cart, CartError, CheckoutError, LaneNotice, Lanes, PayRequest, ScaleReading, ScanOutcome};
use crate::control::lanes::CheckoutSetup;
use crate::control::ops::Context;
use crate::domain::pricing::{Discount, PricedBasket, Quantity};
use crate::domain::staff::Action;
use crate::domain::tender::{CashRounding, Tender, TenderError, TenderKind};
use crate::staff::StaffRef;
use crate::store::Store;

/// Most coupons listed in a member panel.
const MAX_PANEL_COUPONS: usize = 20;
/// How often an idle event stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an idle event stream checks that its login still stands.
const SESSION_CHECK: Duration = Duration::from_secs(5);
/// Heaviest weight typed in for a weighed line, grams (as `checkout::cart` allows).
const MAX_GRAMS: i64 = 1_000_000;

// --- Views -------------------------------------------------------------------------------------

/// The lane's cart as the cashier screen shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartView {
    pub lane: String,
    /// The lane's change counter when this view was taken.
    pub version: u64,
    /// Staff id signed in at the lane.
    pub cashier: Option<String>,
    pub lines: Vec<LineView>,
    /// `None` when the cart cannot be priced now (see `quote_error`).
    pub totals: Option<TotalsView>,
    /// Ticket discounts: a threshold promotion, coupons.
    pub ticket_discounts: Vec<DiscountView>,
    /// Coupon codes handed over for this sale.
    pub coupons: Vec<String>,
    pub member: Option<MemberPanel>,
    /// Why the cart cannot be priced as it stands (e.g. a coupon that expired meanwhile).
    pub quote_error: Option<String>,
    /// What the lane's last scan did when it added nothing.
    pub notice: Option<NoticeView>,
    /// The last sale paid at this lane since the hub started (for a reprint).
    pub last_sale_id: Option<u64>,
    /// The lane's open shift (cash needs one).
    pub shift: Option<ShiftView>,
    /// The stocktake the lane counts into (count mode, 盘点中): scans count, sales are refused.
    pub counting: Option<u64>,
}

/// One cart line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineView {
    pub line_no: u32,
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Pieces (piece goods and label-priced items).
    pub units: Option<i64>,
    /// Grams (weighed goods).
    pub grams: Option<i64>,
    /// The quantity as shown: `3`, or `1.234 kg`.
    pub qty_text: String,
    /// Per piece, or per kilogram when `per_kg`.
    pub unit_price_fen: i64,
    pub per_kg: bool,
    /// The price a label-scale barcode carries.
    pub label_price_fen: Option<i64>,
    /// Weighed or label-priced: the quantity cannot be changed, only the line removed.
    pub fixed_qty: bool,
    /// List price × quantity; `None` when the cart cannot be priced.
    pub gross_fen: Option<i64>,
    /// Member price, promotion or tier discount on this line.
    pub discounts: Vec<DiscountView>,
    /// What the line costs after every discount, its share of ticket discounts included.
    pub net_fen: Option<i64>,
    /// A manager's price override (改价) of this line: the price and who approved it.
    pub override_price_fen: Option<i64>,
    pub override_by: Option<String>,
}

/// An amount taken off, with its reason in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DiscountView {
    pub reason_zh: String,
    pub reason_en: String,
    pub amount_fen: i64,
}

/// The cart's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TotalsView {
    /// Pieces, plus one per weighed line.
    pub items: i64,
    /// Σ list prices.
    pub gross_fen: i64,
    /// Σ discounts.
    pub discount_fen: i64,
    /// What the shopper owes.
    pub payable_fen: i64,
    /// The shop's cash rounding: `none`, `to_jiao`, `down_to_jiao` (抹零) or `down_to_yuan`.
    pub cash_rounding: String,
    /// What cash alone pays: `payable_fen` after the cash rounding.
    pub cash_due_fen: i64,
    /// `cash_due_fen − payable_fen` (negative when rounded down).
    pub rounding_fen: i64,
}

/// The member identified for this sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberPanel {
    pub id: u64,
    /// Masked: 138****5678.
    pub phone: String,
    /// Tier id (`""` when the shop has no tiers).
    pub tier: String,
    /// The tier's names (empty when the shop has no tiers).
    pub tier_name_zh: String,
    pub tier_name_en: String,
    /// The tier's discount, bp (500 = 95折).
    pub tier_discount_bp: u32,
    /// Points balance.
    pub points: i64,
    /// Points usable today (lots not expired).
    pub points_usable: i64,
    /// Most points this ticket may be paid with, and what they pay.
    pub points_max: i64,
    pub points_max_fen: i64,
    /// What one point pays, fen.
    pub point_value_fen: i64,
    /// Stored-value (card) balance.
    pub stored_value_fen: i64,
    /// The member's coupons usable today (at most 20).
    pub coupons: Vec<CouponOffer>,
}

/// A coupon the member could use now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CouponOffer {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Last valid day, shop-local (YYYY-MM-DD).
    pub valid_to: String,
    /// Already handed over for this sale.
    pub applied: bool,
}

/// What the lane's last scan did when it added nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NoticeView {
    /// `unknown_barcode`, `needs_weight`, `refused` or `counted` (count mode).
    pub kind: String,
    pub code: Option<String>,
    pub sku: Option<String>,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub message: Option<String>,
}

/// A lane's open shift.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftView {
    pub id: u64,
    /// Who opened it.
    pub staff: String,
    pub opened_at: String,
    pub float_fen: i64,
    /// Cash the drawer should hold now.
    pub expected_cash_fen: i64,
}

impl From<crate::staff::Shift> for ShiftView {
    fn from(s: crate::staff::Shift) -> ShiftView {
        let expected_cash_fen = s.expected_cash_fen();
        ShiftView { id: s.id, staff: s.staff, opened_at: s.opened_at.to_rfc3339(), float_fen: s.float_fen, expected_cash_fen }
    }
}

impl From<LaneNotice> for NoticeView {
    fn from(n: LaneNotice) -> NoticeView {
        let none = NoticeView { kind: String::new(), code: None, sku: None, name_zh: None, name_en: None, message: None };
        match n {
            LaneNotice::UnknownBarcode { code } => NoticeView { kind: "unknown_barcode".into(), code: Some(code), ..none },
            LaneNotice::NeedsWeight { sku, name_zh, name_en } => NoticeView { kind: "needs_weight".into(), sku: Some(sku), name_zh: Some(name_zh), name_en: Some(name_en), ..none },
            LaneNotice::Refused { code, message } => NoticeView { kind: "refused".into(), code: Some(code), message: Some(message), ..none },
            LaneNotice::Counted { stocktake, sku, name_zh, name_en, counted } => {
                let message = format!("盘点中 counting #{stocktake}: {name_zh} / {name_en} = {counted}");
                NoticeView { kind: "counted".into(), sku: Some(sku), name_zh: Some(name_zh), name_en: Some(name_en), message: Some(message), ..none }
            }
        }
    }
}

// --- Pure parts ----------------------------------------------------------------------------------

/// Grams as kilograms with three decimals: 1234 → `1.234 kg`.
pub fn kg(grams: i64) -> String {
    let sign = if grams < 0 { "-" } else { "" };
    let g = grams.unsigned_abs();
    format!("{sign}{}.{:03} kg", g / 1000, g % 1000)
}

/// The name a rounding rule has in the view.
pub fn rounding_name(r: CashRounding) -> &'static str {
    match r {
        CashRounding::None => "none",
        CashRounding::ToJiao => "to_jiao",
        CashRounding::DownToJiao => "down_to_jiao",
        CashRounding::DownToYuan => "down_to_yuan",
    }
}

fn discount_view(d: &Discount) -> DiscountView {
    DiscountView { reason_zh: d.reason_zh.clone(), reason_en: d.reason_en.clone(), amount_fen: d.amount_fen }
}

/// The cart's lines and totals, priced by `priced` when the cart could be priced.
pub fn lines_and_totals(cart: &Cart, priced: Option<&PricedBasket>, rounding: CashRounding) -> (Vec<LineView>, Option<TotalsView>) {
    let lines = cart
        .lines
        .iter()
        .map(|l| {
            let p = priced.and_then(|p| p.lines.iter().find(|x| x.line_no == l.line_no));
            let (units, grams, qty_text) = match l.qty {
                Quantity::Units(n) => (Some(n), None, n.to_string()),
                Quantity::Grams(g) => (None, Some(g), kg(g)),
            };
            let fixed_qty = grams.is_some() || l.label_price_fen.is_some();
            LineView {
                line_no: l.line_no,
                sku: l.sku.clone(),
                name_zh: l.name_zh.clone(),
                name_en: l.name_en.clone(),
                units,
                grams,
                qty_text,
                unit_price_fen: l.unit_price_fen,
                per_kg: grams.is_some(),
                label_price_fen: l.label_price_fen,
                fixed_qty,
                gross_fen: p.map(|p| p.gross_fen),
                discounts: p.map(|p| p.line_discounts.iter().map(discount_view).collect()).unwrap_or_default(),
                net_fen: p.map(|p| p.net_fen),
                override_price_fen: cart.override_of(l.line_no).map(|o| o.price_fen),
                override_by: cart.override_of(l.line_no).map(|o| o.by.clone()),
            }
        })
        .collect();
    let items: i64 = cart.lines.iter().map(|l| match l.qty {
        Quantity::Units(n) => n,
        Quantity::Grams(_) => 1,
    }).sum();
    let totals = match priced {
        Some(p) => {
            let cash_due_fen = rounding.apply(p.total_fen);
            Some(TotalsView {
                items,
                gross_fen: p.subtotal_fen,
                discount_fen: p.discount_total_fen,
                payable_fen: p.total_fen,
                cash_rounding: rounding_name(rounding).into(),
                cash_due_fen,
                rounding_fen: cash_due_fen - p.total_fen,
            })
        }
        None if cart.is_empty() => Some(TotalsView { items: 0, gross_fen: 0, discount_fen: 0, payable_fen: 0, cash_rounding: rounding_name(rounding).into(), cash_due_fen: 0, rounding_fen: 0 }),
        None => None,
    };
    (lines, totals)
}

fn with_field(mut e: WebError, field: &str) -> WebError {
    e.field = Some(field.to_string());
    e
}

/// A refused checkout action as HTTP: 400 naming the field of this API's bodies (`code`,
/// `sku`, `qty`, `grams`, `query`, `tenders[i].amount_fen` …), 404 for what does not exist,
/// 403 for a permission, 409 for what the cart's state refuses, 500 for the store.
pub fn checkout_error(e: CheckoutError) -> WebError {
    let msg = e.to_string();
    match &e {
        CheckoutError::UnknownLane(_) => WebError::not_found(msg),
        CheckoutError::Barcode { .. } => WebError::field("code", msg),
        CheckoutError::UnknownSku(_) => with_field(WebError::not_found(msg), "sku"),
        CheckoutError::NoMember(_) => with_field(WebError::not_found(msg), "query"),
        CheckoutError::Cart(c) => match c {
            CartError::NonPositiveQuantity { .. } | CartError::TooLarge { .. } => WebError::field("qty", msg),
            CartError::NonPositiveWeight { .. } => WebError::field("grams", msg),
            CartError::NoSuchLine { .. } => with_field(WebError::not_found(msg), "line"),
            CartError::OverridePrice { .. } => WebError::field("price_fen", msg),
            CartError::OverrideReason { .. } => WebError::field("reason", msg),
            _ => WebError::conflict(msg),
        },
        CheckoutError::Coupon(c) => match c {
            crate::coupons::CouponError::BadCode { .. } => WebError::field("code", msg),
            crate::coupons::CouponError::UnknownCode(_) => with_field(WebError::not_found(msg), "code"),
            _ => WebError::conflict(msg),
        },
        CheckoutError::Tender(t) => {
            let at = |index: usize, part: &str| format!("tenders[{}].{part}", index.saturating_sub(1));
            match t {
                TenderError::NonPositiveAmount { index, .. } => WebError::field(at(*index, "amount_fen"), msg),
                TenderError::MissingReference { index, .. } => WebError::field(at(*index, "reference"), msg),
                TenderError::MissingPoints { index } => WebError::field(at(*index, "points"), msg),
                _ => WebError::conflict(msg),
            }
        }
        CheckoutError::Return(r) => match r {
            ReturnError::NoSuchSale(_) => with_field(WebError::not_found(msg), "sale_id"),
            ReturnError::NoSuchLine { .. } | ReturnError::Duplicate { .. } | ReturnError::Nothing => WebError::field("lines", msg),
            _ => WebError::conflict(msg),
        },
        CheckoutError::Staff(_) => WebError::forbidden(msg),
        CheckoutError::Store(_) => WebError::internal(msg),
        CheckoutError::Stocktake(e) => match e.field() {
            Some(f) => WebError::field(f, msg),
            None => WebError::conflict(msg),
        },
        _ => WebError::conflict(msg),
    }
}

// --- Building the view -------------------------------------------------------------------------

/// The lanes of this hub and their setup; 404 when the config has no lanes.
fn lanes_of<'a>(store: &Arc<Store>, ctx: &'a Context) -> Result<(&'a CheckoutSetup, Arc<Lanes>), WebError> {
    let setup = ctx.checkout.as_ref().ok_or_else(|| WebError::not_found("this hub has no lanes ([[lanes]] in the config)"))?;
    let lanes = ctx.lanes.get(store, setup, &ctx.layouts).map_err(WebError::internal)?;
    Ok((setup, lanes))
}

fn sale_rules(store: &Store, ctx: &Context, setup: &CheckoutSetup) -> Result<crate::checkout::SaleRules, WebError> {
    crate::control::lanes::rules(store, setup, &ctx.loyalty).map_err(WebError::internal)
}

/// The member panel: balances, what points may pay on this ticket, usable coupons.
fn member_panel(store: &Store, ctx: &Context, m: &crate::members::Member, payable_fen: i64, applied: &[String]) -> Result<MemberPanel, WebError> {
    let loyalty = &ctx.loyalty;
    let today = loyalty.today(store.clock().now());
    let usable = m.available_points(today);
    let max = loyalty.redeem.max_redeemable(payable_fen, usable);
    let mut coupons = Vec::new();
    for c in crate::coupons::member_coupons(store, m.id, false)? {
        if coupons.len() >= MAX_PANEL_COUPONS {
            break;
        }
        if c.check_usable(Some(m.id), today).is_err() {
            continue;
        }
        let Some(t) = crate::coupons::template(store, &c.template_id)? else { continue };
        if !t.active {
            continue;
        }
        coupons.push(CouponOffer { applied: applied.contains(&c.code), code: c.code, name_zh: t.name_zh, name_en: t.name_en, valid_to: c.valid_to.to_string() });
    }
    Ok(MemberPanel {
        id: m.id,
        phone: m.masked_phone(),
        tier: m.tier.clone(),
        tier_name_zh: loyalty.tier(&m.tier).map_or_else(String::new, |t| t.name_zh.clone()),
        tier_name_en: loyalty.tier(&m.tier).map_or_else(String::new, |t| t.name_en.clone()),
        tier_discount_bp: loyalty.tier(&m.tier).map_or(0, |t| t.discount_bp),
        points: m.points,
        points_usable: usable,
        points_max: max.points,
        points_max_fen: max.fen,
        point_value_fen: loyalty.redeem.point_value_fen,
        stored_value_fen: m.stored_value_fen,
        coupons,
    })
}

/// The cart view of `lane` now (blocking: call inside `AppState::blocking`).
pub fn cart_view(store: &Arc<Store>, ctx: &Context, lane: &str) -> Result<CartView, WebError> {
    let (setup, lanes) = lanes_of(store, ctx)?;
    let snap = lanes.snapshot(lane).map_err(checkout_error)?;
    let rules = sale_rules(store, ctx, setup)?;
    let (priced, quote_error) = if snap.cart.is_empty() {
        (None, None)
    } else {
        match lanes.quote_cart(&snap.cart, &rules) {
            Ok(p) => (Some(p), None),
            Err(CheckoutError::Store(e)) => return Err(e.into()),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let (lines, totals) = lines_and_totals(&snap.cart, priced.as_ref(), setup.cash_rounding);
    let member = match snap.cart.member_id {
        Some(id) => match crate::members::member(store, id)? {
            Some(m) => Some(member_panel(store, ctx, &m, priced.as_ref().map_or(0, |p| p.total_fen), &snap.cart.coupons)?),
            None => None,
        },
        None => None,
    };
    Ok(CartView {
        lane: lane.to_string(),
        version: snap.version,
        cashier: snap.cart.cashier.clone(),
        lines,
        totals,
        ticket_discounts: priced.as_ref().map(|p| p.ticket_discounts.iter().map(discount_view).collect()).unwrap_or_default(),
        coupons: snap.cart.coupons.clone(),
        member,
        quote_error,
        notice: snap.notice.map(NoticeView::from),
        last_sale_id: snap.last_sale,
        shift: crate::staff::open_shift_for_lane(store, lane)?.map(ShiftView::from),
        counting: snap.counting,
    })
}

/// Runs a lane action on a blocking thread, then answers the cart as it stands.
async fn act<F>(state: &AppState, lane: String, f: F) -> Result<Json<CartView>, WebError>
where
    F: FnOnce(&Arc<Store>, &Context, &CheckoutSetup, &Lanes, &str) -> Result<(), WebError> + Send + 'static,
{
    state
        .blocking(move |store, ctx| {
            let (setup, lanes) = lanes_of(store, ctx)?;
            f(store, ctx, setup, &lanes, &lane)?;
            cart_view(store, ctx, &lane)
        })
        .await
        .map(Json)
}

// --- Bodies and answers ----------------------------------------------------------------------------

/// A scanned or typed barcode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanBody {
    pub code: String,
}

/// What a scan did, and the cart after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScanAnswer {
    /// `added` or `needs_weight` (an unknown code is a 404).
    pub outcome: String,
    /// The line the item landed on (`added`).
    pub line_no: Option<u32>,
    pub cart: CartView,
}

/// Pieces of a product by sku.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    pub sku: String,
    /// Pieces, 1 when left out.
    #[serde(default = "one")]
    pub qty: i64,
}

fn one() -> i64 {
    1
}

/// A weighed product: at the lane scale's stable weight, or at `grams` typed in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeighBody {
    pub sku: String,
    #[serde(default)]
    pub grams: Option<i64>,
}

/// A line's new number of pieces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QtyBody {
    pub qty: i64,
}

/// A price override (改价) of one line: the new price per piece (or per kg) in fen, below the
/// list price, and why. A cashier needs a manager's approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    pub price_fen: i64,
    pub reason: String,
    #[serde(default)]
    pub approver: Option<Approver>,
}

/// Phone number, member card number or member QR code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    pub query: String,
}

/// A coupon code handed over.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponBody {
    pub code: String,
}

/// How a tender pays.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderKindBody {
    Cash,
    BankCard,
    WechatPay,
    Alipay,
    StoredValue,
    /// Loyalty points, for their fen value.
    Points,
}

impl From<TenderKindBody> for TenderKind {
    fn from(k: TenderKindBody) -> TenderKind {
        match k {
            TenderKindBody::Cash => TenderKind::Cash,
            TenderKindBody::BankCard => TenderKind::BankCard,
            TenderKindBody::WechatPay => TenderKind::WechatPay,
            TenderKindBody::Alipay => TenderKind::Alipay,
            TenderKindBody::StoredValue => TenderKind::StoredValue,
            TenderKindBody::Points => TenderKind::Points,
        }
    }
}

/// One tender. Cash may be more than is due (change is given); others pay at most what is left.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderBody {
    pub kind: TenderKindBody,
    pub amount_fen: i64,
    /// Terminal or wallet transaction id: required for bank card, WeChat Pay and Alipay.
    #[serde(default)]
    pub reference: Option<String>,
    /// Points redeemed (a points tender; worked out from `amount_fen` when left out).
    #[serde(default)]
    pub points: Option<i64>,
}

/// The tenders, in order: cash last when it gives change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    pub tenders: Vec<TenderBody>,
}

/// A paid sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayAnswer {
    pub sale_id: u64,
    pub receipt_no: String,
    pub total_fen: i64,
    /// What the tenders paid (cash net of change).
    pub collected_fen: i64,
    pub change_fen: i64,
    pub rounding_fen: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub receipt_text: String,
    /// The receipt's print job, when the lane has a printer.
    pub print_job: Option<u64>,
}

/// A manager who approves what the caller's role may not do.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approver {
    pub staff: String,
    pub pin: String,
}

impl std::fmt::Debug for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approver").field("staff", &self.staff).field("pin", &"***").finish()
    }
}

/// Voiding the whole cart: a cashier needs a manager's approval.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    #[serde(default)]
    pub approver: Option<Approver>,
}

/// One line of a return: the sale's line and how much of it (pieces or grams).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineBody {
    pub line_no: u32,
    pub qty: i64,
}

/// A return against a sale. A cashier needs a manager's approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    pub sale_id: u64,
    /// Lines and quantities; every line's remainder when left out.
    #[serde(default)]
    pub lines: Option<Vec<ReturnLineBody>>,
    /// Goods go back on the shelf (default true; false when damaged).
    #[serde(default = "yes")]
    pub restock: bool,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub approver: Option<Approver>,
}

fn yes() -> bool {
    true
}

/// A recorded return.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnAnswer {
    pub return_id: u64,
    pub sale_id: u64,
    pub refund_fen: i64,
    /// Refund per tender kind (`cash`, `bank_card` …), fen.
    pub refunds: Vec<RefundView>,
    /// Who approved (the staff id the return is booked to).
    pub by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub kind: String,
    pub amount_fen: i64,
}

/// A receipt queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptAnswer {
    pub sale_id: u64,
    pub receipt_no: String,
    pub receipt_text: String,
    pub print_job: Option<u64>,
}

/// Opening the lane's shift with its float.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftBody {
    pub float_fen: i64,
}

/// The lane's open shift, if any.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShiftAnswer {
    pub shift: Option<ShiftView>,
}

// --- Routes ------------------------------------------------------------------------------------------

pub fn routes() -> Vec<RouteDef> {
    let sell = Need::Lane(Action::Sell);
    vec![
        RouteDef::get("/cashier/{lane}", sell, "Cashier screen of a lane: the live cart, member, tenders", cashier_page),
        RouteDef::get("/api/v1/lanes/{lane}/cart", sell, "The lane's cart: lines, totals, member panel, notice", get_cart).returns::<CartView>(),
        RouteDef::get("/api/v1/lanes/{lane}/events", sell, "Server-sent events: the cart at once and after every change (event `cart`)", events),
        RouteDef::post("/api/v1/lanes/{lane}/scan", sell, "Scan or type a barcode (404 for an unknown code)", scan).body::<ScanBody>().returns::<ScanAnswer>(),
        RouteDef::post("/api/v1/lanes/{lane}/items", sell, "Add pieces of a product by sku", add_items).body::<AddBody>().returns::<CartView>(),
        RouteDef::post("/api/v1/lanes/{lane}/weigh", sell, "Add a weighed product at the scale's stable weight, or at grams typed in", weigh).body::<WeighBody>().returns::<CartView>(),
        RouteDef::put("/api/v1/lanes/{lane}/lines/{line}", sell, "Change a line's number of pieces", set_qty).body::<QtyBody>().returns::<CartView>(),
        RouteDef::delete("/api/v1/lanes/{lane}/lines/{line}", Need::Lane(Action::VoidLine), "Remove a line from the cart", remove_line).returns::<CartView>(),
        RouteDef::post("/api/v1/lanes/{lane}/lines/{line}/price", sell, "Override a line's price (改价; audited; a cashier needs a manager's approver)", override_price).body::<PriceBody>().returns::<CartView>(),
        RouteDef::post("/api/v1/lanes/{lane}/member", sell, "Identify the member: phone, member card or member QR code", attach_member).body::<MemberBody>().returns::<CartView>(),
        RouteDef::delete("/api/v1/lanes/{lane}/member", sell, "Take the member (and their coupons) off the sale", detach_member).returns::<CartView>(),
        RouteDef::post("/api/v1/lanes/{lane}/coupons", sell, "Apply a coupon (checked at once: owner, dates, state)", add_coupon).body::<CouponBody>().returns::<CartView>(),
        RouteDef::delete("/api/v1/lanes/{lane}/coupons/{code}", sell, "Take a coupon back", remove_coupon).returns::<CartView>(),
        RouteDef::post("/api/v1/lanes/{lane}/pay", sell, "Pay: tenders (cash last gives change; points redeem); answers change and receipt", pay).body::<PayBody>().returns::<PayAnswer>(),
        RouteDef::post("/api/v1/lanes/{lane}/void", sell, "Void the whole cart (a cashier needs a manager's approver staff id and PIN)", void_cart).body::<VoidBody>().returns::<CartView>(),
        RouteDef::post("/api/v1/lanes/{lane}/sales/{id}/reprint", sell, "Queue a sale's receipt again and answer its text", reprint).returns::<ReceiptAnswer>(),
        RouteDef::post("/api/v1/lanes/{lane}/returns", sell, "Return against a sale id (a cashier needs a manager's approver)", take_return).body::<ReturnBody>().returns::<ReturnAnswer>(),
        RouteDef::get("/api/v1/lanes/{lane}/shift", sell, "The lane's open shift", get_shift).returns::<ShiftAnswer>(),
        RouteDef::post("/api/v1/lanes/{lane}/shift", Need::Lane(Action::OpenShift), "Open the lane's shift with its cash float", open_shift).body::<ShiftBody>().returns::<ShiftView>(),
    ]
}

/// A path number, or 400 naming the part.
fn path_number<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, WebError> {
    raw.trim().parse().map_err(|_| WebError::field(name, format!("expected a whole number, got {raw:?}")))
}

async fn get_cart(State(state): State<AppState>, Path(lane): Path<String>) -> Result<Json<CartView>, WebError> {
    state.blocking(move |store, ctx| cart_view(store, ctx, &lane)).await.map(Json)
}

async fn events(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(lane): Path<String>) -> Result<Response, WebError> {
    let watched = lane.clone();
    let rx = state
        .blocking(move |store, ctx| {
            let (_, lanes) = lanes_of(store, ctx)?;
            lanes.watch(&watched).map_err(checkout_error)
        })
        .await?;
    // One event per wake-up: changes made while a view is built are seen by the next `changed`,
    // so a burst of scans makes one or two events, never a queue. The stream ends when the
    // login does (logout, expiry): the page's EventSource then meets the login check.
    let session = (me.via == Via::Session).then(|| me.session.clone());
    let stream = futures_util::stream::unfold((rx, state, lane, true), move |(mut rx, state, lane, first)| {
        let session = session.clone();
        async move {
            if !first {
                loop {
                    tokio::select! {
                        changed = rx.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                            break;
                        }
                        _ = tokio::time::sleep(SESSION_CHECK) => {}
                    }
                    if session.as_ref().is_some_and(|id| !state.auth.alive(id)) {
                        return None;
                    }
                }
                if session.as_ref().is_some_and(|id| !state.auth.alive(id)) {
                    return None;
                }
            }
            rx.borrow_and_update();
            let l = lane.clone();
            let event = match state.blocking(move |store, ctx| cart_view(store, ctx, &l)).await {
                Ok(view) => Event::default().event("cart").id(view.version.to_string()).json_data(&view).unwrap_or_else(|e| Event::default().event("problem").data(e.to_string())),
                Err(e) => Event::default().event("problem").data(e.message),
            };
            Some((Ok::<Event, Infallible>(event), (rx, state, lane, false)))
        }
    });
    let mut res = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")).into_response();
    // Proxies must not buffer the stream.
    res.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    Ok(res)
}

async fn scan(State(state): State<AppState>, Path(lane): Path<String>, JsonBody(body): JsonBody<ScanBody>) -> Result<Json<ScanAnswer>, WebError> {
    if body.code.trim().is_empty() {
        return Err(WebError::field("code", "is empty; scan or type a barcode"));
    }
    state
        .blocking(move |store, ctx| {
            let (_, lanes) = lanes_of(store, ctx)?;
            let (outcome, line_no) = match lanes.scan(&lane, &body.code).map_err(checkout_error)? {
                ScanOutcome::Added { line } => ("added", Some(line.line_no)),
                ScanOutcome::NeedsWeight { .. } => ("needs_weight", None),
                ScanOutcome::Counted { .. } => ("counted", None),
                ScanOutcome::UnknownBarcode { code } => {
                    return Err(with_field(WebError::not_found(format!("no product has barcode {code}; check the code or add the item by sku")), "code"));
                }
            };
            Ok(ScanAnswer { outcome: outcome.into(), line_no, cart: cart_view(store, ctx, &lane)? })
        })
        .await
        .map(Json)
}

async fn add_items(State(state): State<AppState>, Path(lane): Path<String>, JsonBody(body): JsonBody<AddBody>) -> Result<Json<CartView>, WebError> {
    act(&state, lane, move |_, _, _, lanes, lane| lanes.add_sku(lane, body.sku.trim(), body.qty).map(|_| ()).map_err(checkout_error)).await
}

async fn weigh(State(state): State<AppState>, Path(lane): Path<String>, JsonBody(body): JsonBody<WeighBody>) -> Result<Json<CartView>, WebError> {
    if let Some(g) = body.grams {
        if !(1..=MAX_GRAMS).contains(&g) {
            return Err(WebError::field("grams", format!("must be 1 to {MAX_GRAMS} g, got {g}")));
        }
    }
    act(&state, lane, move |store, _, _, lanes, lane| {
        if let Some(grams) = body.grams {
            lanes.scale_reading(lane, ScaleReading { grams, stable: true, at: store.clock().now() }).map_err(checkout_error)?;
        }
        lanes.add_weighed(lane, body.sku.trim()).map(|_| ()).map_err(checkout_error)
    })
    .await
}

async fn set_qty(State(state): State<AppState>, Path((lane, line)): Path<(String, String)>, JsonBody(body): JsonBody<QtyBody>) -> Result<Json<CartView>, WebError> {
    let line: u32 = path_number("line", &line)?;
    act(&state, lane, move |_, _, _, lanes, lane| lanes.set_units(lane, line, body.qty).map(|_| ()).map_err(checkout_error)).await
}

async fn override_price(State(state): State<AppState>, Extension(me): Extension<Identity>, Path((lane, line)): Path<(String, String)>, JsonBody(body): JsonBody<PriceBody>) -> Result<Json<CartView>, WebError> {
    let line: u32 = path_number("line", &line)?;
    act(&state, lane, move |store, _, _, lanes, lane| {
        let by = approve(store, &me.staff, Action::PriceOverride, body.approver.as_ref())?;
        let o = lanes.override_price(lane, line, body.price_fen, &by.id, &body.reason).map_err(checkout_error)?;
        tracing::info!(lane = %lane, line, cashier = %me.staff.id, approved_by = %by.id, list_fen = o.list_price_fen, price_fen = o.price_fen, "price override at the cashier screen");
        Ok(())
    })
    .await
}

async fn remove_line(State(state): State<AppState>, Path((lane, line)): Path<(String, String)>) -> Result<Json<CartView>, WebError> {
    let line: u32 = path_number("line", &line)?;
    act(&state, lane, move |_, _, _, lanes, lane| lanes.remove_line(lane, line).map(|_| ()).map_err(checkout_error)).await
}

async fn attach_member(State(state): State<AppState>, Path(lane): Path<String>, JsonBody(body): JsonBody<MemberBody>) -> Result<Json<CartView>, WebError> {
    if body.query.trim().is_empty() {
        return Err(WebError::field("query", "is empty; type the phone number or scan the member card"));
    }
    act(&state, lane, move |_, _, _, lanes, lane| lanes.attach_member(lane, &body.query).map(|_| ()).map_err(checkout_error)).await
}

async fn detach_member(State(state): State<AppState>, Path(lane): Path<String>) -> Result<Json<CartView>, WebError> {
    act(&state, lane, |_, _, _, lanes, lane| lanes.detach_member(lane).map_err(checkout_error)).await
}

async fn add_coupon(State(state): State<AppState>, Path(lane): Path<String>, JsonBody(body): JsonBody<CouponBody>) -> Result<Json<CartView>, WebError> {
    if body.code.trim().is_empty() {
        return Err(WebError::field("code", "is empty; scan or type the coupon code"));
    }
    act(&state, lane, move |store, ctx, setup, lanes, lane| {
        let rules = sale_rules(store, ctx, setup)?;
        lanes.add_coupon_checked(lane, &body.code, &rules).map(|_| ()).map_err(checkout_error)
    })
    .await
}

async fn remove_coupon(State(state): State<AppState>, Path((lane, code)): Path<(String, String)>) -> Result<Json<CartView>, WebError> {
    act(&state, lane, move |_, _, _, lanes, lane| {
        if !lanes.cart(lane).map_err(checkout_error)?.coupons.iter().any(|c| *c == code.trim()) {
            return Err(with_field(WebError::not_found(format!("coupon {code} is not on this sale")), "code"));
        }
        lanes.remove_coupon(lane, &code).map_err(checkout_error)
    })
    .await
}

async fn pay(State(state): State<AppState>, Path(lane): Path<String>, JsonBody(body): JsonBody<PayBody>) -> Result<Json<PayAnswer>, WebError> {
    if body.tenders.is_empty() {
        return Err(WebError::field("tenders", "give at least one tender (e.g. cash with amount_fen)"));
    }
    let tenders: Vec<Tender> = body.tenders.into_iter().map(|t| Tender { kind: t.kind.into(), amount_fen: t.amount_fen, reference: t.reference.filter(|r| !r.trim().is_empty()), points: t.points }).collect();
    state
        .blocking(move |store, ctx| {
            let (setup, lanes) = lanes_of(store, ctx)?;
            let rules = sale_rules(store, ctx, setup)?;
            let sale = lanes.pay(&lane, &PayRequest { tenders }, &rules).map_err(checkout_error)?;
            let receipt = Receipt::of(&sale, &setup.store_name, setup.tz, setup.language, None);
            let print_job = crate::control::lanes::print_receipt(store, setup, &lane, &sale);
            tracing::info!(lane = %lane, sale = sale.id, total_fen = sale.priced.total_fen, "sale paid at the cashier screen");
            Ok(PayAnswer {
                sale_id: sale.id,
                receipt_no: sale.receipt_no.clone(),
                total_fen: sale.priced.total_fen,
                collected_fen: sale.settlement.collected_fen,
                change_fen: sale.settlement.change_fen,
                rounding_fen: sale.settlement.rounding_fen,
                points_earned: sale.points_earned,
                points_redeemed: sale.points_redeemed,
                receipt_text: receipt.to_text(setup.language),
                print_job,
            })
        })
        .await
        .map(Json)
}

/// Who does `action`: the caller when their role may, else the approver (a PIN login of
/// someone whose role may). 403 naming what is missing otherwise.
fn approve(store: &Store, me: &StaffRef, action: Action, approver: Option<&Approver>) -> Result<StaffRef, WebError> {
    if me.may(action) {
        return Ok(me.clone());
    }
    let Some(a) = approver else {
        return Err(with_field(
            WebError::forbidden(format!("a {} may not {}; a manager approves with their staff id and PIN (approver)", me.role.as_str(), action.as_phrase())),
            "approver",
        ));
    };
    let who = crate::staff::login_pin(store, a.staff.trim(), &a.pin).map_err(|e| match e {
        crate::staff::LoginError::Store(e) => WebError::from(e),
        e => with_field(WebError::forbidden(format!("approver: {e}")), "approver"),
    })?;
    if !who.may(action) {
        return Err(with_field(WebError::forbidden(format!("approver {} is a {} and may not {} either", who.id, who.role.as_str(), action.as_phrase())), "approver"));
    }
    Ok(who)
}

/// Reads an optional JSON body: empty (or `null`) is the default.
fn optional_body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, WebError> {
    let text = bytes.trim_ascii();
    if text.is_empty() || text == b"null" {
        return Ok(T::default());
    }
    super::error::parse_json(bytes)
}

async fn void_cart(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(lane): Path<String>, bytes: axum::body::Bytes) -> Result<Json<CartView>, WebError> {
    let body: VoidBody = optional_body(&bytes)?;
    act(&state, lane, move |store, _, _, lanes, lane| {
        if lanes.cart(lane).map_err(checkout_error)?.is_empty() {
            return Err(WebError::conflict("the cart is empty; there is nothing to void"));
        }
        let by = approve(store, &me.staff, Action::VoidSession, body.approver.as_ref())?;
        let old = lanes.void(lane).map_err(checkout_error)?;
        tracing::info!(lane = %lane, cashier = %me.staff.id, approved_by = %by.id, lines = old.lines.len(), "cart voided at the cashier screen");
        Ok(())
    })
    .await
}

async fn reprint(State(state): State<AppState>, Path((lane, id)): Path<(String, String)>) -> Result<Json<ReceiptAnswer>, WebError> {
    let id: u64 = path_number("id", &id)?;
    state
        .blocking(move |store, ctx| {
            let (setup, _) = lanes_of(store, ctx)?;
            let sale = crate::checkout::sale::sale(store, id)?.ok_or_else(|| with_field(WebError::not_found(format!("no sale {id}; check the receipt number")), "id"))?;
            if sale.lane != lane {
                return Err(WebError::forbidden(format!("sale {id} was paid at {}; reprint it there", sale.lane)));
            }
            let receipt = Receipt::of(&sale, &setup.store_name, setup.tz, setup.language, None);
            let print_job = crate::control::lanes::print_receipt(store, setup, &lane, &sale);
            Ok(ReceiptAnswer { sale_id: sale.id, receipt_no: sale.receipt_no.clone(), receipt_text: receipt.to_text(setup.language), print_job })
        })
        .await
        .map(Json)
}

async fn take_return(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(lane): Path<String>, JsonBody(body): JsonBody<ReturnBody>) -> Result<Json<ReturnAnswer>, WebError> {
    if body.reason.chars().count() > 200 {
        return Err(WebError::field("reason", "at most 200 characters"));
    }
    state
        .blocking(move |store, ctx| {
            let by = approve(store, &me.staff, Action::Return, body.approver.as_ref())?;
            let lines = match body.lines {
                Some(lines) => lines.into_iter().map(|l| ReturnLineRequest { line_no: l.line_no, qty: l.qty }).collect(),
                None => {
                    let sale = crate::checkout::sale::sale(store, body.sale_id)?.ok_or_else(|| with_field(WebError::not_found(format!("no sale {}; check the receipt number", body.sale_id)), "sale_id"))?;
                    let rest: Vec<ReturnLineRequest> = sale
                        .lines
                        .iter()
                        .map(|l| {
                            let back = sale.returned.iter().find(|r| r.line_no == l.line_no).map_or(0, |r| r.qty);
                            ReturnLineRequest { line_no: l.line_no, qty: l.qty.amount() - back }
                        })
                        .filter(|l| l.qty > 0)
                        .collect();
                    if rest.is_empty() {
                        return Err(WebError::conflict(format!("everything of sale {} has been returned already", body.sale_id)));
                    }
                    rest
                }
            };
            let reason = if body.reason.trim().is_empty() { "returned at the till".to_string() } else { body.reason.trim().to_string() };
            let req = ReturnRequest { of: ReturnOf::Sale { sale_id: body.sale_id, lines }, lane: lane.clone(), by: by.id.clone(), restock: body.restock, reason };
            let ret = returns::return_items(store, &req, &ctx.loyalty).map_err(checkout_error)?;
            tracing::info!(lane = %lane, sale = body.sale_id, by = %by.id, refund_fen = ret.refund_fen, "return at the cashier screen");
            Ok(ReturnAnswer {
                return_id: ret.id,
                sale_id: body.sale_id,
                refund_fen: ret.refund_fen,
                refunds: ret
                    .refunds
                    .iter()
                    .map(|(k, f)| RefundView { kind: serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(), amount_fen: *f })
                    .collect(),
                by: by.id,
            })
        })
        .await
        .map(Json)
}

async fn get_shift(State(state): State<AppState>, Path(lane): Path<String>) -> Result<Json<ShiftAnswer>, WebError> {
    state.blocking(move |store, _| Ok(ShiftAnswer { shift: crate::staff::open_shift_for_lane(store, &lane)?.map(ShiftView::from) })).await.map(Json)
}

async fn open_shift(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(lane): Path<String>, JsonBody(body): JsonBody<ShiftBody>) -> Result<Json<ShiftView>, WebError> {
    if body.float_fen < 0 {
        return Err(WebError::field("float_fen", format!("must not be negative, got {}", body.float_fen)));
    }
    state
        .blocking(move |store, _| {
            use crate::staff::ShiftError;
            use crate::store::CommitError;
            match crate::staff::open_shift(store, &lane, &me.staff.id, body.float_fen) {
                Ok(s) => Ok(ShiftView::from(s)),
                Err(CommitError::Store(e)) => Err(e.into()),
                Err(CommitError::Rejected(e)) => Err(match e {
                    ShiftError::Negative { .. } => WebError::field("float_fen", e.to_string()),
                    ShiftError::Staff(_) => WebError::forbidden(e.to_string()),
                    _ => WebError::conflict(e.to_string()),
                }),
            }
        })
        .await
        .map(Json)
}

// --- The page ----------------------------------------------------------------------------------------

/// The strings the page's script shows, in the user's language.
fn script_strings(lang: Lang) -> serde_json::Value {
    let pairs: &[(&str, &str, &str)] = &[
        ("unknown_barcode", "未知条码", "Unknown barcode"),
        ("addons", "推荐加购", "Add-ons"),
        ("needs_weight", "请称重：", "Weigh it: "),
        ("weigh", "称重", "Weigh"),
        ("grams", "克（不填则取秤上重量）", "grams (blank: the scale's weight)"),
        ("refused", "扫码被拒：", "Scan refused: "),
        ("remove", "删除", "Remove"),
        ("empty", "购物车是空的，请扫码。", "The cart is empty: scan an item."),
        ("per_kg", "/千克", "/kg"),
        ("label", "标签价", "label price"),
        ("tier", "等级", "Tier"),
        ("points", "积分", "Points"),
        ("usable", "可用", "usable"),
        ("balance", "储值余额", "Card balance"),
        ("coupons", "可用优惠券", "Usable coupons"),
        ("no_coupons", "没有可用的优惠券", "No usable coupons"),
        ("apply", "使用", "Apply"),
        ("applied", "已使用", "Applied"),
        ("until", "有效期至", "valid until"),
        ("remove_member", "移除会员", "Remove member"),
        ("max_points", "本单积分最多抵", "Points may pay at most"),
        ("change", "找零", "Change"),
        ("due", "应收", "Due"),
        ("short", "还差", "Short"),
        ("paid", "收款完成", "Paid"),
        ("receipt", "小票", "Receipt"),
        ("offline", "连接中断，正在重连…", "Connection lost, reconnecting…"),
        ("live", "实时", "Live"),
        ("override", "改价（需店长批准）", "Override the price (a manager approves)"),
        ("override_short", "改价", "Price"),
        ("overridden", "已改价，已记入审计日志", "Price overridden and audited"),
        ("void_confirm", "作废整单？", "Void the whole cart?"),
        ("voided", "整单已作废", "The cart was voided"),
        ("reprinted", "小票已重新打印", "Receipt printed again"),
        ("returned", "退货完成，退款", "Returned; refund"),
        ("sale_id", "销售单号", "Sale id"),
        ("shift_none", "本收银台没有开班，收现金前请先开班（备用金）。", "No shift is open at this lane: open one with its float before taking cash."),
        ("shift_open", "班次", "Shift"),
        ("amount_bad", "金额格式：如 100 或 99.50", "Amount: e.g. 100 or 99.50"),
        ("member", "会员", "Member"),
        ("no_member", "未识别会员", "No member"),
        ("coupon_remove", "取消", "Remove"),
        ("items", "件", "items"),
        ("cash_rounding", "抹零", "Rounding"),
    ];
    serde_json::Value::Object(pairs.iter().map(|(k, zh, en)| (k.to_string(), serde_json::Value::String(lang.pick(zh, en).to_string()))).collect())
}

/// JSON for a `<script type="application/json">` block: no `<` can end the block early.
fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

fn name_of<'a>(lang: Lang, zh: &'a str, en: &'a str) -> (&'a str, &'a str) {
    match lang {
        Lang::Zh => (zh, en),
        Lang::En => (en, zh),
    }
}

/// A manager's staff id and PIN fields (`#PREFIX-staff`, `#PREFIX-pin`) in an approval dialog.
fn approver_inputs(lang: Lang, prefix: &str) -> Markup {
    html! {
        label { (lang.pick("店长工号", "Manager staff id")) input id=(format!("{prefix}-staff")) autocomplete="off"; }
        label { "PIN" input id=(format!("{prefix}-pin")) type="password" inputmode="numeric" autocomplete="off"; }
    }
}

/// The cart table's rows (the script renders the same markup from each event).
fn line_rows(lang: Lang, v: &CartView) -> Markup {
    html! {
        @for l in &v.lines {
            @let (main, other) = name_of(lang, &l.name_zh, &l.name_en);
            tr data-line=(l.line_no) {
                td.num { (l.line_no) }
                td { span.name { (main) } br; small.muted { (other) " · " (l.sku) } }
                td.num.qty {
                    @if l.fixed_qty {
                        (l.qty_text)
                    } @else {
                        input.qty type="number" min="1" step="1" value=(l.units.unwrap_or(1)) data-line=(l.line_no) aria-label=(lang.pick("数量", "Quantity"));
                    }
                }
                td.num {
                    @if let Some(label) = l.label_price_fen {
                        (yuan(label)) " " small.muted { (lang.pick("标签价", "label price")) }
                    } @else {
                        (yuan(l.unit_price_fen)) @if l.per_kg { small.muted { (lang.pick("/千克", "/kg")) } }
                    }
                }
                td.num.disc {
                    @for d in &l.discounts {
                        span.d { (lang.pick(&d.reason_zh, &d.reason_en)) " −" (yuan(d.amount_fen)) } br;
                    }
                }
                td.num.net { (l.net_fen.map(yuan).unwrap_or_default()) }
                td {
                    @if l.label_price_fen.is_none() {
                        button.secondary.ovr type="button" data-line=(l.line_no) title=(lang.pick("改价（需店长批准）", "Override the price (a manager approves)")) { (lang.pick("改价", "Price")) }
                        " "
                    }
                    button.secondary.rm type="button" data-line=(l.line_no) title=(lang.pick("删除", "Remove")) { "×" }
                }
            }
        }
    }
}

async fn cashier_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(lane): Path<String>) -> Response {
    let lang = me.lang;
    let l = lane.clone();
    let view = match state.blocking(move |store, ctx| cart_view(store, ctx, &l)).await {
        Ok(v) => v,
        Err(e) => {
            let body = html! { h1 { (lang.pick("收银台打不开", "The till cannot open")) } p.error { (e.message) } };
            return (e.status, page::render(&state, Some(&me), lang.pick("收银", "Till"), body)).into_response();
        }
    };
    let may_void = me.staff.may(Action::VoidSession);
    let may_return = me.staff.may(Action::Return);
    let may_override = me.staff.may(Action::PriceOverride);
    let data = serde_json::json!({
        "may_override": may_override,
        "lane": lane,
        "api": format!("/api/v1/lanes/{lane}"),
        "lang": lang.html_tag(),
        "may_void": may_void,
        "may_return": may_return,
        "cart": view,
        "strings": script_strings(lang),
    });
    let t = view.totals.as_ref();
    let body = html! {
        link rel="stylesheet" href=(super::assets::url("cashier.css"));
        div #cashier .cashier {
            section.cart-col aria-label=(lang.pick("购物车", "Cart")) {
                div.cart-head {
                    strong { (lang.pick("收银台", "Lane")) " " (lane) }
                    span.muted { " · " (lang.pick("收银员", "Cashier")) " " (me.staff.name) }
                    span #conn .badge { (lang.pick("连接中…", "Connecting…")) }
                }
                form #shift-form .shift-bar hidden[view.shift.is_some()] {
                    span { (lang.pick("本收银台没有开班，收现金前请先开班。", "No shift is open at this lane: open one before taking cash.")) }
                    label { (lang.pick("备用金 ¥", "Float ¥")) input #shift-float inputmode="decimal" value="500" size="6"; }
                    button type="submit" { (lang.pick("开班", "Open shift")) }
                }
                div.cart-scroll {
                    table #cart {
                        thead { tr {
                            th.num { "#" }
                            th { (lang.pick("商品", "Item")) }
                            th.num { (lang.pick("数量", "Qty")) }
                            th.num { (lang.pick("单价", "Price")) }
                            th.num { (lang.pick("优惠", "Discount")) }
                            th.num { (lang.pick("金额", "Amount")) }
                            th {}
                        } }
                        tbody #cart-lines { (line_rows(lang, &view)) }
                    }
                    p #cart-empty .muted hidden[!view.lines.is_empty()] { (lang.pick("购物车是空的，请扫码。", "The cart is empty: scan an item.")) }
                }
                div #totals .totals {
                    div { span.label { (lang.pick("件数", "Items")) } span #t-items { (t.map_or(0, |t| t.items)) } }
                    div { span.label { (lang.pick("原价", "List")) } span #t-gross { (t.map(|t| yuan(t.gross_fen)).unwrap_or_default()) } }
                    div { span.label { (lang.pick("优惠", "Discounts")) } span #t-disc { (t.map(|t| yuan(-t.discount_fen)).unwrap_or_default()) } }
                    div.pay-total { span.label { (lang.pick("应付", "To pay")) } span #t-pay { (t.map(|t| yuan(t.payable_fen)).unwrap_or_default()) } }
                    div { span.label { (lang.pick("现金应收", "Cash due")) } span #t-cash { (t.map(|t| yuan(t.cash_due_fen)).unwrap_or_default()) } }
                }
                div #ticket-discounts .muted {}
                p #quote-error .error role="alert" hidden[view.quote_error.is_none()] { (view.quote_error.clone().unwrap_or_default()) }
                section #paid .paid hidden aria-live="assertive" {
                    div.change-line { span { (lang.pick("找零", "Change")) } strong #paid-change {} }
                    div #paid-info .muted {}
                    pre #paid-receipt {}
                }
            }
            aside.side-col {
                div.side-scroll {
                    form #scan-form .row {
                        input #scan .grow name="code" autocomplete="off" autofocus inputmode="numeric"
                            aria-label=(lang.pick("条码或商品编码", "Barcode or sku"))
                            placeholder=(lang.pick("扫码或输入条码 / 编码", "Scan or type barcode / sku"));
                        button type="submit" { (lang.pick("加入", "Add")) }
                    }
                    div #notice .notice role="status" aria-live="polite" {}
                    form #member-form .row {
                        input #member .grow name="query" autocomplete="off" inputmode="numeric"
                            aria-label=(lang.pick("会员手机号或会员卡", "Member phone or card"))
                            placeholder=(lang.pick("会员手机号 / 会员卡  F2", "Member phone / card  F2"));
                        button type="submit" { (lang.pick("识别会员", "Find member")) }
                    }
                    div #member-panel .member-panel {}
                    div #addons .member-panel hidden {}
                    form #coupon-form .row {
                        input #coupon .grow name="code" autocomplete="off" inputmode="numeric"
                            aria-label=(lang.pick("优惠券码", "Coupon code"))
                            placeholder=(lang.pick("优惠券码  F3", "Coupon code  F3"));
                        button type="submit" { (lang.pick("用券", "Apply")) }
                    }
                    div #coupons-applied .chips {}
                    p.keys.muted { (lang.pick("快捷键：F2 会员 · F3 优惠券 · F4 收款 · F6 积分 · F7 退货 · F8 作废 · F9 重打 · Esc 回到扫码",
                        "Keys: F2 member · F3 coupon · F4 pay · F6 points · F7 return · F8 void · F9 reprint · Esc back to scan")) }
                }
                form #pay-form .side-pay {
                    div #points-row .row hidden {
                        label.inline-label.grow { (lang.pick("积分抵扣 ¥", "Points ¥")) " " kbd { "F6" }
                            input #points inputmode="decimal" autocomplete="off" placeholder="0";
                        }
                        span #points-max .muted.small {}
                    }
                    div.row {
                        select #tender-kind aria-label=(lang.pick("付款方式", "Payment method")) {
                            option value="cash" { (lang.pick("现金", "Cash")) }
                            option value="wechat_pay" { (lang.pick("微信支付", "WeChat Pay")) }
                            option value="alipay" { (lang.pick("支付宝", "Alipay")) }
                            option value="bank_card" { (lang.pick("银行卡", "Bank card")) }
                            option value="stored_value" { (lang.pick("储值卡", "Member card")) }
                        }
                        input #tender-amount .grow inputmode="decimal" autocomplete="off"
                            aria-label=(lang.pick("实收金额（元）", "Amount tendered (yuan)"))
                            placeholder=(lang.pick("实收 ¥（空=刚好）  F4", "Tendered ¥ (blank = exact)  F4"));
                    }
                    input #tender-ref hidden autocomplete="off"
                        aria-label=(lang.pick("交易流水号", "Transaction reference"))
                        placeholder=(lang.pick("交易流水号（微信 / 支付宝 / 银行卡）", "Transaction reference (WeChat / Alipay / card)"));
                    div.quick.row {
                        button.secondary type="button" data-quick="exact" { (lang.pick("刚好", "Exact")) }
                        button.secondary type="button" data-quick="5000" { "¥50" }
                        button.secondary type="button" data-quick="10000" { "¥100" }
                        button.secondary type="button" data-quick="20000" { "¥200" }
                    }
                    div #change-due .change-due {}
                    button #pay .pay-button type="submit" { (lang.pick("收款", "Pay")) " " kbd { "F4" } }
                    div.actions.row {
                        button #void-btn .secondary.danger-text type="button" { (lang.pick("整单作废", "Void")) " " kbd { "F8" } }
                        button #reprint-btn .secondary type="button" { (lang.pick("重打小票", "Reprint")) " " kbd { "F9" } }
                        button #return-btn .secondary type="button" { (lang.pick("退货", "Return")) " " kbd { "F7" } }
                        button #clock-btn .secondary type="button" { (lang.pick("打卡", "Clock in/out")) }
                    }
                }
            }
        }
        dialog #approve-dialog {
            form #approve-form method="dialog" {
                h2 #approve-title { (lang.pick("整单作废", "Void the cart")) }
                p #approve-note { @if may_void { (lang.pick("确认作废整单？", "Void the whole cart?")) } @else { (lang.pick("需要店长输入工号和 PIN 批准。", "A manager approves with staff id and PIN.")) } }
                @if !may_void { (approver_inputs(lang, "approve")) }
                p #approve-error .error role="alert" {}
                div.row {
                    button #approve-ok type="submit" value="ok" { (lang.pick("确认作废", "Void")) }
                    button.secondary type="button" data-close="" { (lang.pick("取消", "Cancel")) }
                }
            }
        }
        dialog #price-dialog {
            form #price-form method="dialog" {
                h2 { (lang.pick("改价", "Price override")) }
                p #price-line .muted {}
                label { (lang.pick("新单价（元；称重商品为每千克）", "New unit price (yuan; per kg for weighed goods)")) input #price-amount inputmode="decimal" autocomplete="off" required; }
                label { (lang.pick("原因（如 临期、包装破损）", "Reason (e.g. near expiry, damaged pack)")) input #price-reason autocomplete="off" maxlength="100" required; }
                @if !may_override { (approver_inputs(lang, "price")) }
                p #price-error .error role="alert" {}
                div.row {
                    button type="submit" value="ok" { (lang.pick("确认改价", "Override")) }
                    button.secondary type="button" data-close="" { (lang.pick("取消", "Cancel")) }
                }
            }
        }
        dialog #return-dialog {
            form #return-form method="dialog" {
                h2 { (lang.pick("按销售单号退货", "Return by sale id")) }
                label { (lang.pick("销售单号", "Sale id")) input #return-sale inputmode="numeric" autocomplete="off" required; }
                label { (lang.pick("退货行（可选，如 1:2, 3:1；不填则整单）", "Lines (optional, e.g. 1:2, 3:1; blank: all)")) input #return-lines autocomplete="off"; }
                label { (lang.pick("原因", "Reason")) input #return-reason autocomplete="off" maxlength="200"; }
                label.check { input #return-restock type="checkbox" checked; (lang.pick("放回货架", "Back on the shelf")) }
                @if !may_return { (approver_inputs(lang, "return")) }
                p #return-error .error role="alert" {}
                div.row {
                    button type="submit" value="ok" { (lang.pick("退货", "Return")) }
                    button.secondary type="button" data-close="" { (lang.pick("取消", "Cancel")) }
                }
            }
        }
        // Attendance (考勤): anyone clocks in or out here with their own staff id and PIN,
        // whoever is signed in at the lane (`web::attendance`, assets/cashier.js).
        dialog #clock-dialog data-tz=(state.ctx.tz.name()) {
            form #clock-form method="dialog" {
                h2 { (lang.pick("打卡", "Clock in / out")) }
                label { (lang.pick("工号", "Staff id")) input #clock-staff autocomplete="off" required; }
                label { "PIN" input #clock-pin type="password" inputmode="numeric" autocomplete="off" required; }
                p #clock-error .error role="alert" {}
                p #clock-done .ok {}
                div.row {
                    button type="submit" value="in" data-clock="in" { (lang.pick("上班打卡", "Clock in")) }
                    button type="submit" value="out" data-clock="out" { (lang.pick("下班打卡", "Clock out")) }
                    button.secondary type="button" data-close="" { (lang.pick("关闭", "Close")) }
                }
            }
        }
        script #cashier-data type="application/json" { (PreEscaped(script_json(&data))) }
    };
    let title = format!("{} {lane}", lang.pick("收银", "Till"));
    (StatusCode::OK, page::render_with(&state, Some(&me), &title, body, &["cashier.js"])).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Product, Unit};
    use crate::checkout::cart::AddHow;
    use crate::domain::pricing::{DiscountSource, PricedLine};

    fn product(sku: &str, unit: Unit, price_fen: i64) -> Product {
        Product {
            sku: sku.into(),
            barcodes: vec![],
            name_zh: "香蕉".into(),
            name_en: "Bananas".into(),
            category: "水果".into(),
            unit,
            price_fen,
            member_price_fen: None,
            cost_fen: None,
            tax_bp: 900,
            supplier: None,
            reorder_point: None,
            active: true,
        }
    }

    #[test]
    fn grams_show_as_kilograms_with_three_decimals() {
        assert_eq!(kg(1_234), "1.234 kg");
        assert_eq!(kg(50), "0.050 kg");
        assert_eq!(kg(2_000), "2.000 kg");
    }

    /// 3 waters at ¥2.00 and 1.234 kg of bananas at ¥7.98/kg (¥9.85 rounded half up), 满10减1
    /// shared over the lines: ¥15.85 − ¥1.00 = ¥14.85; cash 抹零 to the jiao: ¥14.80.
    #[test]
    fn a_priced_cart_becomes_lines_and_totals_with_cash_rounding() {
        let mut cart = Cart::new("lane-1", chrono::DateTime::from_timestamp(1_795_597_200, 0).unwrap_or_default());
        cart.add(&product("W", Unit::Piece, 200), AddHow::Units(3), None, 300).unwrap();
        cart.add(&product("B", Unit::Kg, 798), AddHow::Grams(1_234), None, 300).unwrap();
        let share = |amount_fen| Discount { source: DiscountSource::Promotion("P".into()), reason_zh: "满10减1".into(), reason_en: "¥1 off ¥10".into(), amount_fen };
        let priced = PricedBasket {
            lines: vec![
                PricedLine { line_no: 1, sku: "W".into(), category: "水果".into(), qty: Quantity::Units(3), gross_fen: 600, line_discounts: vec![], ticket_shares: vec![share(38)], net_fen: 562 },
                PricedLine { line_no: 2, sku: "B".into(), category: "水果".into(), qty: Quantity::Grams(1_234), gross_fen: 985, line_discounts: vec![], ticket_shares: vec![share(62)], net_fen: 923 },
            ],
            subtotal_fen: 1_585,
            ticket_discounts: vec![share(100)],
            discount_total_fen: 100,
            total_fen: 1_485,
        };
        let (lines, totals) = lines_and_totals(&cart, Some(&priced), CashRounding::DownToJiao);
        assert_eq!((lines[0].units, lines[0].qty_text.as_str(), lines[0].fixed_qty, lines[0].net_fen), (Some(3), "3", false, Some(562)));
        assert_eq!((lines[1].grams, lines[1].qty_text.as_str(), lines[1].per_kg, lines[1].fixed_qty), (Some(1_234), "1.234 kg", true, true));
        let t = totals.unwrap();
        assert_eq!((t.items, t.gross_fen, t.discount_fen, t.payable_fen), (4, 1_585, 100, 1_485));
        assert_eq!((t.cash_due_fen, t.rounding_fen, t.cash_rounding.as_str()), (1_480, -5, "down_to_jiao"));
        // Unpriceable: lines without amounts, no totals; an empty cart totals zero.
        let (lines, totals) = lines_and_totals(&cart, None, CashRounding::None);
        assert_eq!((lines[0].net_fen, totals), (None, None));
        let empty = Cart::new("lane-1", cart.opened_at);
        assert_eq!(lines_and_totals(&empty, None, CashRounding::None).1.unwrap().payable_fen, 0);
    }

    #[test]
    fn refusals_name_the_field_or_say_the_state_refused() {
        let e = checkout_error(CheckoutError::Tender(TenderError::MissingReference { index: 2, kind: TenderKind::WechatPay }));
        assert_eq!((e.status, e.field.as_deref()), (StatusCode::BAD_REQUEST, Some("tenders[1].reference")));
        let e = checkout_error(CheckoutError::Cart(CartError::NonPositiveQuantity { qty: 0 }));
        assert_eq!((e.status, e.field.as_deref()), (StatusCode::BAD_REQUEST, Some("qty")));
        let e = checkout_error(CheckoutError::Cart(CartError::NoSuchLine { line_no: 9 }));
        assert_eq!((e.status, e.field.as_deref()), (StatusCode::NOT_FOUND, Some("line")));
        let e = checkout_error(CheckoutError::EmptyCart);
        assert_eq!((e.status, e.code), (StatusCode::CONFLICT, "refused"));
        let e = checkout_error(CheckoutError::Tender(TenderError::Short { total_fen: 500, paid_fen: 100 }));
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(checkout_error(CheckoutError::NoMember("139".into())).field.as_deref(), Some("query"));
    }

    #[test]
    fn page_json_cannot_close_its_script_block() {
        let v = serde_json::json!({ "name": "</script><script>alert(1)</script>" });
        let s = script_json(&v);
        assert!(!s.contains('<'), "{s}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&s).unwrap(), v);
    }
}
