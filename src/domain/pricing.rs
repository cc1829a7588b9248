//! Basket pricing: turns the lines of a ticket, the shopper, the shop's promotions and the coupons
//! being redeemed into what every line and the whole ticket cost, each discount named in Chinese
//! and English for the receipt. Owns the order in which benefits combine; it never looks up prices,
//! promotions or coupon ownership (callers pass them in, coupons already checked for owner, window
//! and usage) and never does I/O or reads the clock (`now` is an argument).
//!
//! Money is i64 fen, weights i64 grams, rates u32 basis points (10 000 = 100%). Products are taken
//! in i128; a gross or subtotal that does not fit in i64 is [`PricingError::Overflow`], never a
//! wrap or a panic. Every discount is capped at what remains, so nothing goes below zero.
//!
//! Order of application (the same inputs always give the same output):
//! 1. **Gross** per line: units × unit price; weighed goods grams × price per kg / 1000 rounded
//!    half up to the fen; a label-priced line (price-embedded barcode, quantity 1 unit) costs its
//!    label price.
//! 2. **Line benefit**, at most one per line, the largest of: member price (members only, when
//!    lower than list; not on label-priced lines), item percent, item fixed (goods sold by the
//!    piece only), category percent, buy-X-get-Y (goods sold by the piece only, per line:
//!    `floor(qty / (buy + free)) × free` units free). Promotions outside their `[start, end)`
//!    window, or members-only for a non-member, do not apply. A candidate worth 0 fen is no
//!    benefit. Ties: member price first, then the lowest promotion id, then the earlier promotion.
//!    A line with a manager's price override (改价) gets the override instead, as its only line
//!    benefit: list gross − the extended override price, and no tier discount in step 3.
//! 3. **Tier discount** (members only): `tier_discount_bp` of the gross, rounded half up, on every
//!    line that got no line benefit in step 2 ("特价商品不参与会员折扣").
//! 4. **Threshold ("满减") promotion**: at most one, the one taking off the most (tie: lowest id),
//!    computed on the sum of its eligible lines' net after steps 2–3; `stacked` takes `off` per
//!    full multiple of `min_spend`, otherwise once.
//! 5. **Coupons**, in the order given, each on its eligible lines' net at that point (after step 4
//!    and earlier coupons). Spend rules not met, a free item not in the basket, or a coupon that
//!    would take off nothing is [`PricingError::CouponNotApplicable`].
//! 6. **Allocation**: each ticket discount of steps 4–5 is split over the lines it was computed on
//!    in proportion to their net at that moment, largest remainder (ties to the earlier line), so
//!    the shares sum exactly; a free-item coupon goes wholly to its line. A line's `net_fen` is
//!    what the shopper pays for it (used for returns, points and category exclusion).
//! 7. **Caps**: each discount is capped at what remains (line gross, or the eligible net), so no
//!    line and no ticket is ever negative.

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::money::{apply_bp, format_yuan, round_half_up_div};

/// 100% in basis points.
const BP_WHOLE: u32 = 10_000;
/// 1 kg in grams.
const GRAMS_PER_KG: i128 = 1000;

// --- Inputs ------------------------------------------------------------------------------------

/// How much of a line was bought: pieces, or grams for weighed goods (priced per kg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// Pieces; the unit price is per piece.
    Units(i64),
    /// Grams of weighed goods; the unit price is per kilogram.
    Grams(i64),
}

impl Quantity {
    /// The number it carries: pieces or grams.
    pub fn amount(self) -> i64 {
        match self {
            Quantity::Units(n) | Quantity::Grams(n) => n,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Units(n) => write!(f, "{n} units"),
            Quantity::Grams(g) => write!(f, "{g} g"),
        }
    }
}

/// One line of the ticket as scanned, with the prices the catalog gave for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketLine {
    /// Line number on the ticket, unique within it; errors and receipts name it.
    pub line_no: u32,
    /// Product the line sells.
    pub sku: String,
    /// Category id, matched by category promotions and category-limited coupons/thresholds.
    pub category: String,
    /// Pieces or grams; must be more than zero.
    pub qty: Quantity,
    /// List price in fen: per piece, or per kg for weighed goods.
    pub unit_price_fen: i64,
    /// Member price in the same unit as `unit_price_fen`, if the product has one.
    pub member_price_fen: Option<i64>,
    /// Price printed on a price-embedded label: the line's gross, with quantity 1 unit.
    pub label_price_fen: Option<i64>,
    /// A manager's price override (改价) in the unit of `unit_price_fen`, below it: the line's
    /// only line benefit (step 2), so neither promotions nor the tier discount add to it.
    #[serde(default)]
    pub override_price_fen: Option<i64>,
}

/// Who is buying: a member's tier discount applies to lines without a line benefit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shopper {
    /// Whether the shopper identified as a member (member prices, members-only promotions).
    pub member: bool,
    /// Tier discount in basis points (500 = 5% off), 0 for none; ignored for non-members.
    pub tier_discount_bp: u32,
    /// Tier name or id shown in the discount reason, e.g. `"金卡"`.
    pub tier_id: Option<String>,
}

impl Shopper {
    /// A shopper who did not identify as a member.
    pub fn guest() -> Shopper {
        Shopper {
            member: false,
            tier_discount_bp: 0,
            tier_id: None,
        }
    }
}

/// Shop-local time window `[start, end)` in which a promotion applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionWindow {
    /// First moment the promotion applies (inclusive).
    pub start: NaiveDateTime,
    /// First moment it no longer applies (exclusive); must be after `start`.
    pub end: NaiveDateTime,
}

/// A promotion configured by HQ or the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Promotion {
    /// Unique id; lower ids win ties and discounts name their promotion by it.
    pub id: String,
    /// Chinese name for the receipt, e.g. `"国庆特惠"` (may be empty).
    pub name_zh: String,
    /// English name for the receipt (may be empty).
    pub name_en: String,
    /// When it applies; `None` = always.
    pub window: Option<PromotionWindow>,
    /// Only for shoppers who identified as members.
    pub members_only: bool,
    /// What it takes off.
    pub kind: PromotionKind,
}

/// What a promotion takes off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PromotionKind {
    /// `bp` off the gross of every line of `sku`.
    ItemPercent { sku: String, bp: u32 },
    /// A fixed amount off each piece of `sku` (goods sold by the piece only; not weighed or
    /// label-priced lines).
    ItemFixed { sku: String, off_fen_per_unit: i64 },
    /// `bp` off the gross of every line in `category`.
    CategoryPercent { category: String, bp: u32 },
    /// Buy `buy` get `free` free, per line of `sku` sold by the piece:
    /// `floor(qty / (buy + free)) × free` units free.
    BuyXGetY { sku: String, buy: u32, free: u32 },
    /// "满减": spend `min_spend_fen` on eligible lines, save `off_fen`; per full multiple if
    /// `stacked`. `categories` empty = every line.
    Threshold {
        min_spend_fen: i64,
        off_fen: i64,
        stacked: bool,
        categories: Vec<String>,
    },
}

/// A coupon redeemed on this ticket (owner, validity window and usage already checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// Coupon id; discounts name the coupon by it.
    pub id: String,
    /// What it takes off.
    pub kind: CouponKind,
    /// Minimum spend on eligible lines (net at the coupon's turn), 0 for none.
    pub min_spend_fen: i64,
    /// Categories the coupon applies to; empty = every line.
    pub categories: Vec<String>,
}

/// What a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CouponKind {
    /// A fixed amount off the eligible lines.
    Fixed { off_fen: i64 },
    /// `bp` off the eligible lines' net, at most `max_off_fen` if given.
    Percent { bp: u32, max_off_fen: Option<i64> },
    /// "满减券": spend `min_spend_fen` on eligible lines, save `off_fen` (once).
    Threshold { min_spend_fen: i64, off_fen: i64 },
    /// One piece of `sku` free, at its line's net unit price (goods sold by the piece only).
    FreeItem { sku: String },
}

// --- Outputs -----------------------------------------------------------------------------------

/// Where a discount came from. Externally tagged (`"member_price"`, `{"promotion": "P1"}`):
/// sales are stored with postcard, which cannot decode internally or adjacently tagged enums
/// (`checkout::sale` has the test).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountSource {
    /// The line was sold at its member price.
    MemberPrice,
    /// The member's tier discount.
    TierDiscount,
    /// A promotion, by id.
    Promotion(String),
    /// A coupon, by id.
    Coupon(String),
    /// A manager's price override at the till (改价; who made it is in the sale's
    /// `price_overrides`). Last, so sales stored before it existed decode unchanged.
    PriceOverride,
}

/// One amount taken off, with the reason printed on the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discount {
    /// Where it came from.
    pub source: DiscountSource,
    /// Reason in Chinese, e.g. `"满200减50"`.
    pub reason_zh: String,
    /// Reason in English, e.g. `"Spend ¥200, save ¥50"`.
    pub reason_en: String,
    /// Amount taken off in fen (positive).
    pub amount_fen: i64,
}

/// One line after pricing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// Line number as given.
    pub line_no: u32,
    /// Product as given.
    pub sku: String,
    /// Category as given.
    pub category: String,
    /// Quantity as given.
    pub qty: Quantity,
    /// List price × quantity (step 1).
    pub gross_fen: i64,
    /// Line benefit (step 2) or tier discount (step 3): at most one entry.
    pub line_discounts: Vec<Discount>,
    /// This line's shares of ticket discounts (steps 4–6), zero shares left out.
    pub ticket_shares: Vec<Discount>,
    /// What the shopper pays for this line: gross − line discounts − ticket shares, ≥ 0.
    pub net_fen: i64,
}

/// The priced ticket. `total_fen = subtotal_fen − discount_total_fen = Σ lines' net_fen ≥ 0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedBasket {
    /// Lines in the order given.
    pub lines: Vec<PricedLine>,
    /// Σ gross.
    pub subtotal_fen: i64,
    /// Threshold promotion and coupons, whole amounts, in the order applied.
    pub ticket_discounts: Vec<Discount>,
    /// Σ line discounts + Σ ticket discounts.
    pub discount_total_fen: i64,
    /// What the shopper owes.
    pub total_fen: i64,
}

/// Why a basket cannot be priced. Each variant names the line, promotion or coupon at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// Two lines share a line number.
    #[error("line {line} appears twice on the ticket; line numbers must be unique")]
    DuplicateLine { line: u32 },
    /// Zero or negative pieces or grams.
    #[error("line {line}: quantity must be more than zero, got {qty}")]
    NonPositiveQuantity { line: u32, qty: Quantity },
    /// A negative list, member or label price.
    #[error("line {line}: {what} must not be negative, got {price_fen} fen")]
    NegativePrice {
        line: u32,
        what: &'static str,
        price_fen: i64,
    },
    /// A label-priced line whose quantity is not 1 unit.
    #[error("line {line} is priced by its label, so its quantity must be 1 unit, got {qty}")]
    LabelQuantity { line: u32, qty: Quantity },
    /// A price override on a label-priced line, or not below the list price.
    #[error("line {line}: an override price must be below the list price ({unit_price_fen} fen) and the line not label-priced, got {price_fen} fen")]
    BadOverride { line: u32, price_fen: i64, unit_price_fen: i64 },
    /// A tier discount above 100%.
    #[error("member tier discount {bp} bp is more than 100% (10000 bp)")]
    InvalidTierDiscount { bp: u32 },
    /// A promotion whose configuration cannot be applied (see [`validate_promotion`]).
    #[error("promotion {promotion:?}: {reason}")]
    InvalidPromotion { promotion: String, reason: String },
    /// A coupon whose configuration cannot be applied (see [`validate_coupon`]).
    #[error("coupon {coupon:?}: {reason}")]
    InvalidCoupon { coupon: String, reason: String },
    /// The same coupon id redeemed twice on one ticket.
    #[error("coupon {coupon:?} is redeemed twice on this ticket")]
    DuplicateCoupon { coupon: String },
    /// The coupon's spend rule is not met, its free item is not in the basket, or it would take
    /// off nothing; the shopper keeps it.
    #[error("coupon {coupon:?} cannot be used on this ticket: {reason}")]
    CouponNotApplicable { coupon: String, reason: String },
    /// An amount that does not fit in i64 fen.
    #[error("{what} is too large to represent in fen")]
    Overflow { what: String },
}

// --- Validation --------------------------------------------------------------------------------

/// Checks a promotion's configuration: non-empty id, rates at most 10 000 bp, no negative
/// amounts, `buy` and `free` at least 1, a positive threshold, and a window that ends after it
/// starts. Config loaders should call this so a bad promotion never reaches the till.
pub fn validate_promotion(p: &Promotion) -> Result<(), PricingError> {
    let bad = |reason: String| PricingError::InvalidPromotion {
        promotion: p.id.clone(),
        reason,
    };
    if p.id.is_empty() {
        return Err(bad("id is empty".into()));
    }
    if let Some(w) = &p.window {
        if w.end <= w.start {
            return Err(bad(format!(
                "window ends ({}) no later than it starts ({})",
                w.end, w.start
            )));
        }
    }
    match &p.kind {
        PromotionKind::ItemPercent { bp, .. } | PromotionKind::CategoryPercent { bp, .. }
            if *bp > BP_WHOLE =>
        {
            Err(bad(format!("{bp} bp is more than 100% (10000 bp)")))
        }
        PromotionKind::ItemFixed {
            off_fen_per_unit, ..
        } if *off_fen_per_unit < 0 => Err(bad(format!(
            "off_fen_per_unit must not be negative, got {off_fen_per_unit}"
        ))),
        PromotionKind::BuyXGetY { buy, free, .. } if *buy == 0 || *free == 0 => Err(bad(format!(
            "buy {buy} get {free} free: both must be at least 1"
        ))),
        PromotionKind::Threshold {
            min_spend_fen,
            off_fen,
            ..
        } if *min_spend_fen <= 0 || *off_fen < 0 => Err(bad(format!(
            "threshold needs min_spend_fen > 0 and off_fen ≥ 0, got {min_spend_fen} and {off_fen}"
        ))),
        _ => Ok(()),
    }
}

/// Checks a coupon's configuration: non-empty id, no negative amounts or minimum spend, a
/// percent of at most 10 000 bp.
pub fn validate_coupon(c: &Coupon) -> Result<(), PricingError> {
    let bad = |reason: String| PricingError::InvalidCoupon {
        coupon: c.id.clone(),
        reason,
    };
    if c.id.is_empty() {
        return Err(bad("id is empty".into()));
    }
    if c.min_spend_fen < 0 {
        return Err(bad(format!(
            "min_spend_fen must not be negative, got {}",
            c.min_spend_fen
        )));
    }
    match &c.kind {
        CouponKind::Fixed { off_fen } if *off_fen < 0 => {
            Err(bad(format!("off_fen must not be negative, got {off_fen}")))
        }
        CouponKind::Percent { bp, .. } if *bp > BP_WHOLE => {
            Err(bad(format!("{bp} bp is more than 100% (10000 bp)")))
        }
        CouponKind::Percent {
            max_off_fen: Some(m),
            ..
        } if *m < 0 => Err(bad(format!("max_off_fen must not be negative, got {m}"))),
        CouponKind::Threshold {
            min_spend_fen,
            off_fen,
        } if *min_spend_fen < 0 || *off_fen < 0 => Err(bad(format!(
            "threshold needs min_spend_fen ≥ 0 and off_fen ≥ 0, got {min_spend_fen} and {off_fen}"
        ))),
        _ => Ok(()),
    }
}

/// Rejects a non-positive quantity, negative prices and a label-priced line not of 1 unit.
fn validate_line(l: &BasketLine) -> Result<(), PricingError> {
    let line = l.line_no;
    let q = l.qty.amount();
    if q <= 0 {
        return Err(PricingError::NonPositiveQuantity { line, qty: l.qty });
    }
    let prices = [
        ("unit price", Some(l.unit_price_fen)),
        ("member price", l.member_price_fen),
        ("label price", l.label_price_fen),
        ("override price", l.override_price_fen),
    ];
    for (what, price) in prices {
        if let Some(price_fen) = price.filter(|p| *p < 0) {
            return Err(PricingError::NegativePrice {
                line,
                what,
                price_fen,
            });
        }
    }
    if l.label_price_fen.is_some() && l.qty != Quantity::Units(1) {
        return Err(PricingError::LabelQuantity { line, qty: l.qty });
    }
    if let Some(price_fen) = l.override_price_fen {
        if l.label_price_fen.is_some() || price_fen >= l.unit_price_fen {
            return Err(PricingError::BadOverride { line, price_fen, unit_price_fen: l.unit_price_fen });
        }
    }
    Ok(())
}

/// Validates every input, in the order lines, shopper, promotions, coupons.
fn validate_inputs(
    lines: &[BasketLine],
    shopper: &Shopper,
    promotions: &[Promotion],
    coupons: &[Coupon],
) -> Result<(), PricingError> {
    for (i, l) in lines.iter().enumerate() {
        validate_line(l)?;
        if lines[..i].iter().any(|o| o.line_no == l.line_no) {
            return Err(PricingError::DuplicateLine { line: l.line_no });
        }
    }
    if shopper.tier_discount_bp > BP_WHOLE {
        return Err(PricingError::InvalidTierDiscount {
            bp: shopper.tier_discount_bp,
        });
    }
    promotions.iter().try_for_each(validate_promotion)?;
    for (i, c) in coupons.iter().enumerate() {
        validate_coupon(c)?;
        if coupons[..i].iter().any(|o| o.id == c.id) {
            return Err(PricingError::DuplicateCoupon {
                coupon: c.id.clone(),
            });
        }
    }
    Ok(())
}

// --- Arithmetic helpers ------------------------------------------------------------------------

/// Splits `amount` over `weights` in proportion, largest remainder (ties to the earlier index),
/// so the shares sum exactly to `amount` and no share exceeds its weight. `None` unless
/// `0 ≤ amount ≤ Σ weights` and every weight ≥ 0. Exact in i128.
pub fn split_proportionally(amount: i64, weights: &[i64]) -> Option<Vec<i64>> {
    let total: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if amount < 0 || weights.iter().any(|w| *w < 0) || i128::from(amount) > total {
        return None;
    }
    if amount == 0 {
        return Some(vec![0; weights.len()]);
    }
    let amount = i128::from(amount);
    let mut shares: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = amount * i128::from(*w);
        shares.push(exact / total);
        remainders.push((exact % total, i));
    }
    let mut left = amount - shares.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (rem, i) in remainders {
        if left == 0 || rem == 0 {
            break;
        }
        if let Some(s) = shares.get_mut(i) {
            *s += 1;
            left -= 1;
        }
    }
    shares.into_iter().map(|s| i64::try_from(s).ok()).collect()
}

/// `amount` capped at `limit` (amount is non-negative here, so the result fits i64).
fn cap(amount: i128, limit: i64) -> i64 {
    i64::try_from(amount.min(i128::from(limit)).max(0)).unwrap_or(limit)
}

/// Price of `qty` at `price_fen` per piece or per kg, or `None` if it does not fit in i64.
/// Weighed goods round half up like [`super::money::weighed_price_fen`], but checked.
fn extended_price(qty: Quantity, price_fen: i64) -> Option<i64> {
    let exact = match qty {
        Quantity::Units(n) => i128::from(n) * i128::from(price_fen),
        Quantity::Grams(g) => {
            round_half_up_div(i128::from(g) * i128::from(price_fen), GRAMS_PER_KG)
        }
    };
    i64::try_from(exact).ok()
}

/// Step 1: the line's gross.
fn line_gross(l: &BasketLine) -> Result<i64, PricingError> {
    if let Some(label) = l.label_price_fen {
        return Ok(label);
    }
    extended_price(l.qty, l.unit_price_fen).ok_or_else(|| PricingError::Overflow {
        what: format!("line {}: {} at {} fen", l.line_no, l.qty, l.unit_price_fen),
    })
}

/// Pieces on a line sold by the piece (not weighed, not label-priced).
fn pieces(l: &BasketLine) -> Option<i64> {
    match (l.qty, l.label_price_fen) {
        (Quantity::Units(n), None) => Some(n),
        _ => None,
    }
}

// --- Reason texts ------------------------------------------------------------------------------

/// `value / 10^scale` with trailing fractional zeros dropped: (950, 2) → "9.5", (800, 2) → "8".
fn decimal(value: u32, scale: u32) -> String {
    let div = 10u32.pow(scale);
    let (int, frac) = (value / div, value % div);
    if frac == 0 {
        return int.to_string();
    }
    let digits = format!("{frac:0width$}", width = scale as usize);
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Chinese "折" for `bp` off: 500 → "9.5折", 2000 → "8折", 10 000 → "免费".
fn zhe(bp_off: u32) -> String {
    let pay = BP_WHOLE.saturating_sub(bp_off);
    if pay == 0 {
        return "免费".into();
    }
    format!("{}折", decimal(pay, 3))
}

/// English percentage for `bp`: 500 → "5%", 1250 → "12.5%".
fn percent(bp: u32) -> String {
    format!("{}%", decimal(bp, 2))
}

/// Yuan without trailing ".00": 20 000 → "¥200", 23 640 → "¥236.40".
fn yuan(fen: i64) -> String {
    let s = format_yuan(fen);
    s.strip_suffix(".00").map(str::to_string).unwrap_or(s)
}

/// Yuan without the sign for "满200减50".
fn yuan_bare(fen: i64) -> String {
    yuan(fen).replacen('¥', "", 1)
}

/// Prefixes the promotion's name to a rule text when it has one.
fn named(name: &str, sep: &str, rule: String) -> String {
    if name.is_empty() {
        rule
    } else {
        format!("{name}{sep}{rule}")
    }
}

/// (zh, en) describing a promotion's rule, prefixed with its name.
fn promotion_reason(p: &Promotion) -> (String, String) {
    let (zh, en) = match &p.kind {
        PromotionKind::ItemPercent { bp, .. } | PromotionKind::CategoryPercent { bp, .. } => {
            (zhe(*bp), format!("{} off", percent(*bp)))
        }
        PromotionKind::ItemFixed {
            off_fen_per_unit, ..
        } => (
            format!("每件立减{}", yuan(*off_fen_per_unit)),
            format!("{} off each", yuan(*off_fen_per_unit)),
        ),
        PromotionKind::BuyXGetY { buy, free, .. } => (
            format!("买{buy}送{free}"),
            format!("Buy {buy} get {free} free"),
        ),
        PromotionKind::Threshold {
            min_spend_fen,
            off_fen,
            stacked: false,
            ..
        } => (
            format!("满{}减{}", yuan_bare(*min_spend_fen), yuan_bare(*off_fen)),
            format!("Spend {}, save {}", yuan(*min_spend_fen), yuan(*off_fen)),
        ),
        PromotionKind::Threshold {
            min_spend_fen,
            off_fen,
            stacked: true,
            ..
        } => (
            format!("每满{}减{}", yuan_bare(*min_spend_fen), yuan_bare(*off_fen)),
            format!(
                "Save {} for every {} spent",
                yuan(*off_fen),
                yuan(*min_spend_fen)
            ),
        ),
    };
    (named(&p.name_zh, "：", zh), named(&p.name_en, ": ", en))
}

/// (zh, en) describing a coupon.
fn coupon_reason(c: &Coupon) -> (String, String) {
    let (mut zh, mut en) = match &c.kind {
        CouponKind::Fixed { off_fen } => (
            format!("优惠券立减{}", yuan(*off_fen)),
            format!("Coupon: {} off", yuan(*off_fen)),
        ),
        CouponKind::Percent { bp, max_off_fen } => {
            let (zh_cap, en_cap) = match max_off_fen {
                Some(m) => (
                    format!("（最多减{}）", yuan(*m)),
                    format!(" (up to {})", yuan(*m)),
                ),
                None => (String::new(), String::new()),
            };
            (
                format!("优惠券{}{zh_cap}", zhe(*bp)),
                format!("Coupon: {} off{en_cap}", percent(*bp)),
            )
        }
        CouponKind::Threshold {
            min_spend_fen,
            off_fen,
        } => (
            format!("满{}减{}券", yuan_bare(*min_spend_fen), yuan_bare(*off_fen)),
            format!(
                "Coupon: spend {}, save {}",
                yuan(*min_spend_fen),
                yuan(*off_fen)
            ),
        ),
        CouponKind::FreeItem { sku } => (
            format!("免费券：{sku} 1件"),
            format!("Coupon: one {sku} free"),
        ),
    };
    if c.min_spend_fen > 0 {
        zh.push_str(&format!("（满{}可用）", yuan_bare(c.min_spend_fen)));
        en.push_str(&format!(" on {} or more", yuan(c.min_spend_fen)));
    }
    (zh, en)
}

// --- Steps -------------------------------------------------------------------------------------

/// A line while it is being priced.
struct Work<'a> {
    line: &'a BasketLine,
    gross: i64,
    net: i64,
    line_discounts: Vec<Discount>,
    ticket_shares: Vec<Discount>,
}

/// Whether a promotion applies at `now` to this shopper.
fn is_active(p: &Promotion, shopper: &Shopper, now: NaiveDateTime) -> bool {
    let in_window = p
        .window
        .as_ref()
        .is_none_or(|w| w.start <= now && now < w.end);
    in_window && (shopper.member || !p.members_only)
}

/// What a line-level promotion would take off this line (step 2), if it concerns the line.
fn promotion_line_amount(l: &BasketLine, gross: i64, kind: &PromotionKind) -> Option<i64> {
    match kind {
        PromotionKind::ItemPercent { sku, bp } if *sku == l.sku => {
            Some(apply_bp(gross, i64::from(*bp)))
        }
        PromotionKind::CategoryPercent { category, bp } if *category == l.category => {
            Some(apply_bp(gross, i64::from(*bp)))
        }
        PromotionKind::ItemFixed {
            sku,
            off_fen_per_unit,
        } if *sku == l.sku => {
            pieces(l).map(|n| cap(i128::from(n) * i128::from(*off_fen_per_unit), gross))
        }
        PromotionKind::BuyXGetY { sku, buy, free } if *sku == l.sku => pieces(l).map(|n| {
            let group = i128::from(*buy) + i128::from(*free);
            let free_units = i128::from(n).checked_div(group).unwrap_or(0) * i128::from(*free);
            cap(free_units * i128::from(l.unit_price_fen), gross)
        }),
        _ => None,
    }
}

/// What the member price would take off this line (step 2), for a member on an unlabelled line.
fn member_price_amount(l: &BasketLine, gross: i64, shopper: &Shopper) -> Option<i64> {
    if !shopper.member || l.label_price_fen.is_some() {
        return None;
    }
    let mp = l.member_price_fen.filter(|mp| *mp < l.unit_price_fen)?;
    extended_price(l.qty, mp).map(|member_gross| gross - member_gross)
}

/// A line-benefit candidate: amount, tie key (member price `(0, "")`, promotions `(1, id)`).
type Candidate<'p> = (i64, (u8, &'p str), Discount);

/// Keeps `best` as the larger amount, or on an equal amount the smaller tie key; 0 never wins.
fn consider_candidate<'p>(
    best: &mut Option<Candidate<'p>>,
    amount: i64,
    key: (u8, &'p str),
    discount: Discount,
) {
    let better = match best {
        None => true,
        Some((a, k, _)) => amount > *a || (amount == *a && key < *k),
    };
    if amount > 0 && better {
        *best = Some((amount, key, discount));
    }
}

/// Step 2: the single largest line benefit, ties to member price then lowest promotion id.
fn best_line_benefit(
    l: &BasketLine,
    gross: i64,
    shopper: &Shopper,
    active: &[&Promotion],
) -> Option<Discount> {
    let mut best: Option<Candidate<'_>> = None;
    if let (Some(amount), Some(mp)) = (member_price_amount(l, gross, shopper), l.member_price_fen) {
        let per = if matches!(l.qty, Quantity::Grams(_)) {
            "/kg"
        } else {
            ""
        };
        let price = yuan(mp);
        let d = Discount {
            source: DiscountSource::MemberPrice,
            reason_zh: format!("会员价{price}{per}"),
            reason_en: format!("Member price {price}{per}"),
            amount_fen: amount,
        };
        consider_candidate(&mut best, amount, (0, ""), d);
    }
    for p in active {
        if let Some(amount) = promotion_line_amount(l, gross, &p.kind) {
            let (reason_zh, reason_en) = promotion_reason(p);
            let d = Discount {
                source: DiscountSource::Promotion(p.id.clone()),
                reason_zh,
                reason_en,
                amount_fen: amount,
            };
            consider_candidate(&mut best, amount, (1, p.id.as_str()), d);
        }
    }
    best.map(|(_, _, d)| d)
}

/// Step 3: the member's tier discount on the gross of a line without a line benefit.
fn tier_discount(gross: i64, shopper: &Shopper) -> Option<Discount> {
    if !shopper.member || shopper.tier_discount_bp == 0 {
        return None;
    }
    let bp = shopper.tier_discount_bp;
    let amount = apply_bp(gross, i64::from(bp));
    let tier = shopper.tier_id.as_deref().unwrap_or_default();
    let (tier_zh, tier_en) = if tier.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("（{tier}）"), format!(" ({tier})"))
    };
    (amount > 0).then(|| Discount {
        source: DiscountSource::TierDiscount,
        reason_zh: format!("会员折扣{tier_zh}{}", zhe(bp)),
        reason_en: format!("Member discount{tier_en}: {} off", percent(bp)),
        amount_fen: amount,
    })
}

/// Step 2 for an overridden line: list gross − the override's extended price, as the line's one
/// line benefit. `None` when the override takes nothing off (validation keeps it below list).
fn override_discount(l: &BasketLine, gross: i64) -> Option<Discount> {
    let price = l.override_price_fen?;
    let amount = gross - extended_price(l.qty, price)?;
    let per = if matches!(l.qty, Quantity::Grams(_)) { "/kg" } else { "" };
    (amount > 0).then(|| Discount {
        source: DiscountSource::PriceOverride,
        reason_zh: format!("改价{}{per}", yuan(price)),
        reason_en: format!("Price override {}{per}", yuan(price)),
        amount_fen: amount,
    })
}

/// Steps 2–3 on one line: a price override, else the line benefit, else the tier discount.
fn apply_line_level(w: &mut Work<'_>, shopper: &Shopper, active: &[&Promotion]) {
    if w.line.override_price_fen.is_some() {
        if let Some(d) = override_discount(w.line, w.gross) {
            w.net -= d.amount_fen;
            w.line_discounts.push(d);
        }
        return;
    }
    let discount = best_line_benefit(w.line, w.gross, shopper, active)
        .or_else(|| tier_discount(w.gross, shopper));
    if let Some(d) = discount {
        w.net -= d.amount_fen;
        w.line_discounts.push(d);
    }
}

/// Indices of lines in `categories` (empty = all).
fn eligible(work: &[Work<'_>], categories: &[String]) -> Vec<usize> {
    (0..work.len())
        .filter(|&i| {
            categories.is_empty()
                || work
                    .get(i)
                    .is_some_and(|w| categories.contains(&w.line.category))
        })
        .collect()
}

/// Σ net of the given lines (at most the subtotal, which fits i64).
fn net_of(work: &[Work<'_>], idx: &[usize]) -> i64 {
    let sum: i128 = idx
        .iter()
        .filter_map(|&i| work.get(i))
        .map(|w| i128::from(w.net))
        .sum();
    i64::try_from(sum).unwrap_or(i64::MAX)
}

/// A ticket discount and the lines it was computed on.
type TicketDiscount = (Discount, Vec<usize>);

/// Step 4: the threshold promotion taking off the most (tie: lowest id, then earliest).
fn best_threshold(work: &[Work<'_>], active: &[&Promotion]) -> Option<TicketDiscount> {
    let mut best: Option<(i64, &str, TicketDiscount)> = None;
    for p in active {
        let PromotionKind::Threshold {
            min_spend_fen,
            off_fen,
            stacked,
            categories,
        } = &p.kind
        else {
            continue;
        };
        let idx = eligible(work, categories);
        let base = net_of(work, &idx);
        if base < *min_spend_fen || *min_spend_fen <= 0 {
            continue;
        }
        let times = if *stacked { base / min_spend_fen } else { 1 };
        let amount = cap(i128::from(times) * i128::from(*off_fen), base);
        let better = match &best {
            None => true,
            Some((a, id, _)) => amount > *a || (amount == *a && p.id.as_str() < *id),
        };
        if amount > 0 && better {
            let (reason_zh, reason_en) = promotion_reason(p);
            let d = Discount {
                source: DiscountSource::Promotion(p.id.clone()),
                reason_zh,
                reason_en,
                amount_fen: amount,
            };
            best = Some((amount, p.id.as_str(), (d, idx)));
        }
    }
    best.map(|(_, _, t)| t)
}

/// Step 6: splits a ticket discount over `idx` in proportion to their net and records the shares.
fn allocate(work: &mut [Work<'_>], idx: &[usize], d: &Discount) -> Result<(), PricingError> {
    let weights: Vec<i64> = idx
        .iter()
        .filter_map(|&i| work.get(i))
        .map(|w| w.net)
        .collect();
    let shares =
        split_proportionally(d.amount_fen, &weights).ok_or_else(|| PricingError::Overflow {
            what: format!("allocation of {} fen ({})", d.amount_fen, d.reason_en),
        })?;
    for (&i, share) in idx.iter().zip(shares) {
        if let Some(w) = work.get_mut(i) {
            take_share(w, d, share);
        }
    }
    Ok(())
}

/// Records `share` of ticket discount `d` on a line (zero shares are left out).
fn take_share(w: &mut Work<'_>, d: &Discount, share: i64) {
    if share > 0 {
        w.net -= share;
        w.ticket_shares.push(Discount {
            amount_fen: share,
            ..d.clone()
        });
    }
}

/// Step 5 for one coupon: checks its spend rules and returns the discount with its lines.
fn coupon_discount(work: &[Work<'_>], c: &Coupon) -> Result<TicketDiscount, PricingError> {
    let refuse = |reason: String| PricingError::CouponNotApplicable {
        coupon: c.id.clone(),
        reason,
    };
    let idx = eligible(work, &c.categories);
    if idx.is_empty() {
        return Err(refuse(format!(
            "no goods on the ticket are in its categories {:?}",
            c.categories
        )));
    }
    let base = net_of(work, &idx);
    let min_spend = match &c.kind {
        CouponKind::Threshold { min_spend_fen, .. } => c.min_spend_fen.max(*min_spend_fen),
        _ => c.min_spend_fen,
    };
    if base < min_spend {
        return Err(refuse(format!(
            "it needs {} spent on eligible goods, the ticket has {}",
            format_yuan(min_spend),
            format_yuan(base)
        )));
    }
    let (amount, idx) = match &c.kind {
        CouponKind::Fixed { off_fen } | CouponKind::Threshold { off_fen, .. } => {
            (cap(i128::from(*off_fen), base), idx)
        }
        CouponKind::Percent { bp, max_off_fen } => {
            let off = apply_bp(base, i64::from(*bp)).min(max_off_fen.unwrap_or(i64::MAX));
            (cap(i128::from(off), base), idx)
        }
        CouponKind::FreeItem { sku } => free_item(work, &idx, sku).map_err(refuse)?,
    };
    if amount <= 0 {
        return Err(refuse(
            "nothing is left to discount: it would take off ¥0.00".into(),
        ));
    }
    let (reason_zh, reason_en) = coupon_reason(c);
    let d = Discount {
        source: DiscountSource::Coupon(c.id.clone()),
        reason_zh,
        reason_en,
        amount_fen: amount,
    };
    Ok((d, idx))
}

/// A free-item coupon: one piece of `sku` at the net unit price (half up) of the first eligible
/// line of it sold by the piece with something left to pay (else the first such line), all on
/// that line. A sku only on weighed or label-priced lines is refused.
fn free_item(work: &[Work<'_>], idx: &[usize], sku: &str) -> Result<(i64, Vec<usize>), String> {
    let lines: Vec<(usize, &Work<'_>)> = idx
        .iter()
        .filter_map(|&i| work.get(i).map(|w| (i, w)))
        .filter(|(_, w)| w.line.sku == sku)
        .collect();
    let by_piece: Vec<(usize, &Work<'_>, i64)> = lines
        .iter()
        .filter_map(|(i, w)| pieces(w.line).map(|n| (*i, *w, n)))
        .collect();
    let chosen = by_piece
        .iter()
        .find(|(_, w, _)| w.net > 0)
        .or(by_piece.first());
    if let Some((i, w, n)) = chosen {
        let unit = round_half_up_div(i128::from(w.net), i128::from(*n));
        return Ok((cap(unit, w.net), vec![*i]));
    }
    match lines.first() {
        Some((_, w)) => Err(format!(
            "free-item coupons apply to goods sold by the piece; line {} sells {sku} by weight or label",
            w.line.line_no
        )),
        None => Err(format!(
            "{sku} is not on the ticket (in the coupon's categories)"
        )),
    }
}

/// Prices a basket: steps 1–7 of the module documentation. `now` is shop-local time for
/// promotion windows. Lines come back in the order given.
pub fn price_basket(
    lines: &[BasketLine],
    shopper: &Shopper,
    promotions: &[Promotion],
    coupons: &[Coupon],
    now: NaiveDateTime,
) -> Result<PricedBasket, PricingError> {
    validate_inputs(lines, shopper, promotions, coupons)?;
    let mut work = Vec::with_capacity(lines.len());
    let mut subtotal: i64 = 0;
    for l in lines {
        let gross = line_gross(l)?;
        subtotal = subtotal
            .checked_add(gross)
            .ok_or_else(|| PricingError::Overflow {
                what: format!("subtotal up to line {}", l.line_no),
            })?;
        work.push(Work {
            line: l,
            gross,
            net: gross,
            line_discounts: Vec::new(),
            ticket_shares: Vec::new(),
        });
    }
    let active: Vec<&Promotion> = promotions
        .iter()
        .filter(|p| is_active(p, shopper, now))
        .collect();
    for w in &mut work {
        apply_line_level(w, shopper, &active);
    }
    let mut ticket_discounts = Vec::new();
    if let Some((d, idx)) = best_threshold(&work, &active) {
        allocate(&mut work, &idx, &d)?;
        ticket_discounts.push(d);
    }
    for c in coupons {
        let (d, idx) = coupon_discount(&work, c)?;
        allocate(&mut work, &idx, &d)?;
        ticket_discounts.push(d);
    }
    Ok(finish(work, subtotal, ticket_discounts))
}

/// Builds the output. Every discount was capped at what remained, so each sum is at most the
/// subtotal; the sums are still taken in i128 so nothing can wrap.
fn finish(work: Vec<Work<'_>>, subtotal: i64, ticket_discounts: Vec<Discount>) -> PricedBasket {
    let line_level: i128 = work
        .iter()
        .flat_map(|w| &w.line_discounts)
        .map(|d| i128::from(d.amount_fen))
        .sum();
    let ticket: i128 = ticket_discounts
        .iter()
        .map(|d| i128::from(d.amount_fen))
        .sum();
    let discount_total_fen = cap(line_level + ticket, subtotal);
    let lines = work
        .into_iter()
        .map(|w| PricedLine {
            line_no: w.line.line_no,
            sku: w.line.sku.clone(),
            category: w.line.category.clone(),
            qty: w.line.qty,
            gross_fen: w.gross,
            line_discounts: w.line_discounts,
            ticket_shares: w.ticket_shares,
            net_fen: w.net,
        })
        .collect();
    PricedBasket {
        lines,
        subtotal_fen: subtotal,
        ticket_discounts,
        discount_total_fen,
        total_fen: subtotal - discount_total_fen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    /// 2024-10-01 (National Day) at hh:mm.
    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 10, 1)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap()
    }

    fn noon() -> NaiveDateTime {
        at(12, 0)
    }

    fn units(no: u32, sku: &str, cat: &str, qty: i64, price: i64) -> BasketLine {
        BasketLine {
            line_no: no,
            sku: sku.into(),
            category: cat.into(),
            qty: Quantity::Units(qty),
            unit_price_fen: price,
            member_price_fen: None,
            label_price_fen: None,
            override_price_fen: None,
        }
    }

    fn grams(no: u32, sku: &str, cat: &str, g: i64, price_per_kg: i64) -> BasketLine {
        BasketLine {
            qty: Quantity::Grams(g),
            ..units(no, sku, cat, 1, price_per_kg)
        }
    }

    fn labelled(no: u32, sku: &str, cat: &str, label: i64) -> BasketLine {
        BasketLine {
            label_price_fen: Some(label),
            ..units(no, sku, cat, 1, 0)
        }
    }

    fn with_member_price(l: BasketLine, mp: i64) -> BasketLine {
        BasketLine {
            member_price_fen: Some(mp),
            ..l
        }
    }

    fn gold() -> Shopper {
        Shopper {
            member: true,
            tier_discount_bp: 500,
            tier_id: Some("金卡".into()),
        }
    }

    fn member_without_tier() -> Shopper {
        Shopper {
            member: true,
            tier_discount_bp: 0,
            tier_id: None,
        }
    }

    fn promo(id: &str, kind: PromotionKind) -> Promotion {
        Promotion {
            id: id.into(),
            name_zh: String::new(),
            name_en: String::new(),
            window: None,
            members_only: false,
            kind,
        }
    }

    fn item_percent(id: &str, sku: &str, bp: u32) -> Promotion {
        promo(
            id,
            PromotionKind::ItemPercent {
                sku: sku.into(),
                bp,
            },
        )
    }

    fn threshold(id: &str, min: i64, off: i64, stacked: bool, cats: &[&str]) -> Promotion {
        promo(
            id,
            PromotionKind::Threshold {
                min_spend_fen: min,
                off_fen: off,
                stacked,
                categories: cats.iter().map(|c| c.to_string()).collect(),
            },
        )
    }

    fn coupon(id: &str, kind: CouponKind) -> Coupon {
        Coupon {
            id: id.into(),
            kind,
            min_spend_fen: 0,
            categories: Vec::new(),
        }
    }

    fn price(
        lines: &[BasketLine],
        shopper: &Shopper,
        promos: &[Promotion],
        coupons: &[Coupon],
    ) -> PricedBasket {
        let b = price_basket(lines, shopper, promos, coupons, noon()).unwrap();
        assert_balanced(&b);
        b
    }

    fn nets(b: &PricedBasket) -> Vec<i64> {
        b.lines.iter().map(|l| l.net_fen).collect()
    }

    fn shares(b: &PricedBasket) -> Vec<i64> {
        b.lines
            .iter()
            .map(|l| l.ticket_shares.iter().map(|d| d.amount_fen).sum())
            .collect()
    }

    /// The invariants every priced basket must satisfy.
    fn assert_balanced(b: &PricedBasket) {
        let gross: i64 = b.lines.iter().map(|l| l.gross_fen).sum();
        let net: i64 = b.lines.iter().map(|l| l.net_fen).sum();
        assert_eq!(b.subtotal_fen, gross);
        assert!(b.total_fen >= 0);
        assert_eq!(b.total_fen, b.subtotal_fen - b.discount_total_fen);
        assert_eq!(b.total_fen, net);
        for l in &b.lines {
            let taken: i64 = l
                .line_discounts
                .iter()
                .chain(&l.ticket_shares)
                .map(|d| d.amount_fen)
                .sum();
            assert!(l.net_fen >= 0, "line {} net {}", l.line_no, l.net_fen);
            assert_eq!(l.net_fen, l.gross_fen - taken, "line {}", l.line_no);
            assert!(l.line_discounts.len() <= 1);
            assert!(l
                .line_discounts
                .iter()
                .chain(&l.ticket_shares)
                .all(|d| d.amount_fen > 0));
        }
        for d in &b.ticket_discounts {
            let allocated: i64 = b
                .lines
                .iter()
                .flat_map(|l| &l.ticket_shares)
                .filter(|s| s.source == d.source)
                .map(|s| s.amount_fen)
                .sum();
            assert_eq!(allocated, d.amount_fen, "{:?}", d.source);
        }
    }

    /// The ¥236.40 basket: rice, oil, bananas, milk, pork.
    fn basket_236_40() -> Vec<BasketLine> {
        vec![
            units(1, "rice-5kg", "grain", 1, 6990),     // ¥69.90
            units(2, "oil-5l", "oil", 1, 8990),         // ¥89.90
            grams(3, "banana", "fruit", 1500, 698),     // 1.5 kg × ¥6.98 = ¥10.47
            units(4, "milk-12", "dairy", 2, 2490),      // 2 × ¥24.90 = ¥49.80
            grams(5, "pork-belly", "meat", 1150, 1420), // 1.15 kg × ¥14.20 = ¥16.33
        ]
    }

    // --- Step 2: price override (改价) ------------------------------------------------------------

    fn overridden(l: BasketLine, price: i64) -> BasketLine {
        BasketLine {
            override_price_fen: Some(price),
            ..l
        }
    }

    #[test]
    fn an_override_replaces_promotions_and_the_tier_discount_but_not_ticket_discounts() {
        // Milk 2 × ¥24.90 = ¥49.80, a 20% item promotion (¥9.96) would apply; a manager sets
        // ¥19.90 each: 2 × 1990 = 3980, the override takes 4980 − 3980 = 1000 off and is the
        // line's only line benefit. Rice ¥69.90 gets the gold tier's 5%: 349.5 → 350.
        // Subtotal 11970; after line level 3980 + 6640 = 10620 ≥ 10000, so 满100减10 applies:
        // shares in proportion to net, 1000 × 3980 / 10620 = 374.7 → 375, rice 625.
        let milk = with_member_price(units(1, "milk-12", "dairy", 2, 2490), 2290);
        let b = price(
            &[overridden(milk, 1990), units(2, "rice-5kg", "grain", 1, 6990)],
            &gold(),
            &[item_percent("P-MILK", "milk-12", 2000), threshold("T100", 10000, 1000, false, &[])],
            &[],
        );
        assert_eq!(b.lines[0].line_discounts.len(), 1);
        let d = &b.lines[0].line_discounts[0];
        assert_eq!((&d.source, d.amount_fen, d.reason_zh.as_str(), d.reason_en.as_str()), (&DiscountSource::PriceOverride, 1000, "改价¥19.90", "Price override ¥19.90"));
        assert_eq!(b.lines[1].line_discounts[0].amount_fen, 350);
        assert_eq!(shares(&b), vec![375, 625]);
        assert_eq!(nets(&b), vec![3605, 6015]);
        assert_eq!(b.total_fen, 9620);
    }

    #[test]
    fn a_weighed_line_is_overridden_per_kilogram() {
        // Pork 1.15 kg at ¥14.20/kg = 1633; overridden to ¥9.90/kg: 1150 × 990 / 1000 = 1138.5
        // → 1139, so 1633 − 1139 = 494 off.
        let b = price(&[overridden(grams(1, "pork-belly", "meat", 1150, 1420), 990)], &Shopper::guest(), &[], &[]);
        assert_eq!((b.lines[0].line_discounts[0].amount_fen, b.total_fen), (494, 1139));
        assert_eq!(b.lines[0].line_discounts[0].reason_zh, "改价¥9.90/kg");
        // Free (¥0): the whole line.
        let b = price(&[overridden(units(1, "cola", "drinks", 3, 300), 0)], &Shopper::guest(), &[], &[]);
        assert_eq!(b.total_fen, 0);
    }

    #[test]
    fn an_override_at_or_above_list_or_on_a_label_is_refused() {
        for l in [overridden(units(1, "cola", "drinks", 1, 300), 300), overridden(units(1, "cola", "drinks", 1, 300), 301), overridden(labelled(1, "deli", "deli", 1250), 1000)] {
            let e = price_basket(&[l], &Shopper::guest(), &[], &[], noon()).unwrap_err();
            assert!(matches!(e, PricingError::BadOverride { line: 1, .. }), "{e}");
        }
        let e = price_basket(&[overridden(units(1, "cola", "drinks", 1, 300), -1)], &Shopper::guest(), &[], &[], noon()).unwrap_err();
        assert!(matches!(e, PricingError::NegativePrice { what: "override price", .. }), "{e}");
    }

    // --- Step 1: gross -------------------------------------------------------------------------

    #[test]
    fn plain_basket_costs_its_gross() {
        let b = price(
            &[
                units(1, "cola", "drinks", 3, 300),
                units(2, "chips", "snacks", 1, 850),
            ],
            &Shopper::guest(),
            &[],
            &[],
        );
        // 3 × ¥3.00 + ¥8.50 = ¥17.50.
        assert_eq!(nets(&b), vec![900, 850]);
        assert_eq!(
            (b.subtotal_fen, b.discount_total_fen, b.total_fen),
            (1750, 0, 1750)
        );
        assert!(b.ticket_discounts.is_empty());
    }

    #[test]
    fn the_236_40_basket_adds_up() {
        let b = price(&basket_236_40(), &Shopper::guest(), &[], &[]);
        // 6990 + 8990 + 1047 + 4980 + 1633 = 23640.
        assert_eq!(nets(&b), vec![6990, 8990, 1047, 4980, 1633]);
        assert_eq!(b.total_fen, 23640);
    }

    #[test]
    fn bananas_by_weight_round_half_up_to_the_fen() {
        // 1.255 kg × ¥6.98/kg = 875.99 fen → 876; 0.5 g-fen rounds up: 500 g × 1 fen/kg = 0.5 → 1.
        let b = price(
            &[
                grams(1, "banana", "fruit", 1255, 698),
                grams(2, "salt", "dry", 500, 1),
            ],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert_eq!(nets(&b), vec![876, 1]);
        assert_eq!(
            b.lines[0].gross_fen,
            super::super::money::weighed_price_fen(698, 1255)
        );
    }

    #[test]
    fn label_priced_cheese_costs_its_label_and_ignores_member_price() {
        // Label ¥12.34; the per-piece member price means nothing for a labelled pack.
        let cheese = with_member_price(labelled(1, "cheese", "deli", 1234), 100);
        let b = price(&[cheese], &member_without_tier(), &[], &[]);
        assert_eq!(b.lines[0].gross_fen, 1234);
        assert_eq!(b.total_fen, 1234);
    }

    #[test]
    fn empty_basket_costs_nothing() {
        let b = price(&[], &gold(), &[threshold("T", 100, 50, false, &[])], &[]);
        assert_eq!((b.subtotal_fen, b.total_fen), (0, 0));
        assert!(b.lines.is_empty() && b.ticket_discounts.is_empty());
    }

    // --- Step 2: line benefit ------------------------------------------------------------------

    #[test]
    fn gold_member_buys_bananas_by_weight_and_water_on_promotion() {
        let promos = [promo(
            "P-water",
            PromotionKind::ItemFixed {
                sku: "water".into(),
                off_fen_per_unit: 50,
            },
        )];
        let b = price(
            &[
                grams(1, "banana", "fruit", 1500, 698),
                units(2, "water", "drinks", 12, 200),
            ],
            &gold(),
            &promos,
            &[],
        );
        // Bananas: 1500 g × 698 / 1000 = 1047; tier 5% = 52.35 → 52; net 995.
        // Water: 12 × 200 = 2400; ¥0.50 off each = 600; no tier discount on top; net 1800.
        assert_eq!(b.lines[0].line_discounts[0].amount_fen, 52);
        assert_eq!(
            b.lines[0].line_discounts[0].source,
            DiscountSource::TierDiscount
        );
        assert_eq!(b.lines[1].line_discounts[0].amount_fen, 600);
        assert_eq!(b.lines[1].line_discounts[0].reason_zh, "每件立减¥0.50");
        assert_eq!(b.lines[1].line_discounts[0].reason_en, "¥0.50 off each");
        assert_eq!(nets(&b), vec![995, 1800]);
        // 3447 − 52 − 600 = 2795.
        assert_eq!(
            (b.subtotal_fen, b.discount_total_fen, b.total_fen),
            (3447, 652, 2795)
        );
    }

    #[test]
    fn member_price_beats_a_smaller_item_promotion() {
        let yogurt = with_member_price(units(1, "yogurt", "dairy", 4, 990), 790);
        let b = price(
            &[yogurt],
            &gold(),
            &[item_percent("P1", "yogurt", 1000)],
            &[],
        );
        // Member price: 4 × (990 − 790) = 800 off; 10% off would be 396. Tier skips the line.
        let d = &b.lines[0].line_discounts;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].source, DiscountSource::MemberPrice);
        assert_eq!(d[0].amount_fen, 800);
        assert_eq!(d[0].reason_zh, "会员价¥7.90");
        assert_eq!(b.total_fen, 3160);
    }

    #[test]
    fn a_bigger_item_promotion_beats_the_member_price() {
        let yogurt = with_member_price(units(1, "yogurt", "dairy", 4, 990), 890);
        let b = price(
            &[yogurt],
            &gold(),
            &[item_percent("P1", "yogurt", 2000)],
            &[],
        );
        // Member price 4 × 100 = 400 off; 20% of 3960 = 792 off → the promotion.
        let d = &b.lines[0].line_discounts[0];
        assert_eq!(d.source, DiscountSource::Promotion("P1".into()));
        assert_eq!(d.amount_fen, 792);
        assert_eq!(
            (d.reason_zh.as_str(), d.reason_en.as_str()),
            ("8折", "20% off")
        );
        assert_eq!(b.total_fen, 3168);
    }

    #[test]
    fn member_price_wins_a_tie_with_a_promotion() {
        let tea = with_member_price(units(1, "tea", "drinks", 1, 1000), 900);
        let b = price(&[tea], &gold(), &[item_percent("A", "tea", 1000)], &[]);
        // Both take ¥1.00 off; member price comes first.
        assert_eq!(
            b.lines[0].line_discounts[0].source,
            DiscountSource::MemberPrice
        );
        assert_eq!(b.total_fen, 900);
    }

    #[test]
    fn equal_promotions_tie_to_the_lowest_id() {
        let promos = [
            item_percent("P9", "tea", 1000),
            promo(
                "P10",
                PromotionKind::CategoryPercent {
                    category: "drinks".into(),
                    bp: 1000,
                },
            ),
            item_percent("P1", "tea", 500),
        ];
        let b = price(
            &[units(1, "tea", "drinks", 2, 500)],
            &Shopper::guest(),
            &promos,
            &[],
        );
        // P9 and P10 both take 10% of 1000 = 100; ids compare as strings, "P10" < "P9".
        // P1 takes only 50.
        let d = &b.lines[0].line_discounts[0];
        assert_eq!(d.source, DiscountSource::Promotion("P10".into()));
        assert_eq!(d.amount_fen, 100);
    }

    #[test]
    fn guest_gets_neither_member_price_nor_members_only_promotion() {
        let mut members_day = item_percent("M", "yogurt", 2000);
        members_day.members_only = true;
        let yogurt = with_member_price(units(1, "yogurt", "dairy", 2, 990), 790);
        let b = price(
            std::slice::from_ref(&yogurt),
            &Shopper::guest(),
            &[members_day.clone()],
            &[],
        );
        assert_eq!(b.total_fen, 1980);
        // A member gets the better of the two: member price 400 beats 20% = 396.
        let b = price(&[yogurt], &member_without_tier(), &[members_day], &[]);
        assert_eq!(b.total_fen, 1580);
    }

    #[test]
    fn promotion_window_includes_its_start_and_excludes_its_end() {
        let mut p = item_percent("P", "tea", 1000);
        p.window = Some(PromotionWindow {
            start: at(8, 0),
            end: at(22, 0),
        });
        let line = [units(1, "tea", "drinks", 1, 1000)];
        let total_at = |t| {
            price_basket(&line, &Shopper::guest(), &[p.clone()], &[], t)
                .unwrap()
                .total_fen
        };
        assert_eq!(total_at(at(7, 59)), 1000);
        assert_eq!(total_at(at(8, 0)), 900);
        assert_eq!(total_at(at(21, 59)), 900);
        assert_eq!(total_at(at(22, 0)), 1000);
    }

    #[test]
    fn buy_2_get_1_free_on_5_units_frees_1() {
        let p = promo(
            "B",
            PromotionKind::BuyXGetY {
                sku: "cola".into(),
                buy: 2,
                free: 1,
            },
        );
        let b = price(
            &[units(1, "cola", "drinks", 5, 350)],
            &Shopper::guest(),
            &[p],
            &[],
        );
        // floor(5 / 3) × 1 = 1 can free: 5 × 350 − 350 = 1400.
        assert_eq!(b.lines[0].line_discounts[0].amount_fen, 350);
        assert_eq!(b.lines[0].line_discounts[0].reason_zh, "买2送1");
        assert_eq!(b.lines[0].line_discounts[0].reason_en, "Buy 2 get 1 free");
        assert_eq!(b.total_fen, 1400);
    }

    #[test]
    fn buy_2_get_1_free_on_6_units_frees_2() {
        let p = promo(
            "B",
            PromotionKind::BuyXGetY {
                sku: "cola".into(),
                buy: 2,
                free: 1,
            },
        );
        let b = price(
            &[units(1, "cola", "drinks", 6, 350)],
            &Shopper::guest(),
            &[p],
            &[],
        );
        // floor(6 / 3) × 1 = 2 free: 2100 − 700 = 1400.
        assert_eq!(b.total_fen, 1400);
    }

    #[test]
    fn buy_2_get_1_on_2_units_frees_nothing_so_the_tier_discount_applies() {
        let p = promo(
            "B",
            PromotionKind::BuyXGetY {
                sku: "cola".into(),
                buy: 2,
                free: 1,
            },
        );
        let b = price(&[units(1, "cola", "drinks", 2, 350)], &gold(), &[p], &[]);
        // No free can (2 < 3), so no line benefit: tier 5% of 700 = 35.
        assert_eq!(
            b.lines[0].line_discounts[0].source,
            DiscountSource::TierDiscount
        );
        assert_eq!(b.total_fen, 665);
    }

    #[test]
    fn item_fixed_off_skips_weighed_and_label_priced_lines() {
        let p = promo(
            "F",
            PromotionKind::ItemFixed {
                sku: "pork".into(),
                off_fen_per_unit: 100,
            },
        );
        let lines = [
            grams(1, "pork", "meat", 500, 2000), // 0.5 kg × ¥20 = ¥10.00, no discount
            labelled(2, "pork", "meat", 1234),   // label ¥12.34, no discount
            units(3, "pork", "meat", 2, 1500),   // 2 × ¥15.00 − 2 × ¥1.00 = ¥28.00
        ];
        let b = price(&lines, &Shopper::guest(), &[p], &[]);
        assert_eq!(nets(&b), vec![1000, 1234, 2800]);
    }

    #[test]
    fn item_fixed_off_is_capped_at_the_line() {
        let p = promo(
            "F",
            PromotionKind::ItemFixed {
                sku: "gum".into(),
                off_fen_per_unit: 500,
            },
        );
        let b = price(
            &[units(1, "gum", "snacks", 3, 200)],
            &Shopper::guest(),
            &[p],
            &[],
        );
        // 3 × ¥5.00 off a ¥6.00 line takes only ¥6.00.
        assert_eq!(b.lines[0].line_discounts[0].amount_fen, 600);
        assert_eq!(b.total_fen, 0);
    }

    #[test]
    fn category_promotion_takes_15_percent_off_every_fruit_line() {
        let p = promo(
            "C",
            PromotionKind::CategoryPercent {
                category: "fruit".into(),
                bp: 1500,
            },
        );
        let lines = [
            units(1, "apple", "fruit", 3, 599),    // 1797; 15% = 269.55 → 270
            grams(2, "grape", "fruit", 850, 2598), // 850 × 2598 / 1000 = 2208.3 → 2208; 15% = 331.2 → 331
            units(3, "milk", "dairy", 2, 650),     // 1300, not fruit
        ];
        let b = price(&lines, &Shopper::guest(), &[p], &[]);
        assert_eq!(nets(&b), vec![1527, 1877, 1300]);
        assert_eq!(b.lines[0].line_discounts[0].reason_zh, "8.5折");
    }

    #[test]
    fn percent_promotion_applies_to_a_label_priced_line() {
        let b = price(
            &[labelled(1, "cheese", "deli", 1234)],
            &Shopper::guest(),
            &[item_percent("P", "cheese", 1000)],
            &[],
        );
        // 10% of 1234 = 123.4 → 123.
        assert_eq!(b.total_fen, 1111);
    }

    #[test]
    fn weighed_member_price_is_per_kg() {
        let pork = with_member_price(grams(1, "pork", "meat", 1250, 1280), 1180);
        let b = price(&[pork], &gold(), &[], &[]);
        // 1.25 kg × ¥12.80 = 1600; at ¥11.80/kg = 1475; member price saves 125 (no tier on top).
        let d = &b.lines[0].line_discounts[0];
        assert_eq!(
            (d.amount_fen, d.reason_zh.as_str()),
            (125, "会员价¥11.80/kg")
        );
        assert_eq!(d.reason_en, "Member price ¥11.80/kg");
        assert_eq!(b.total_fen, 1475);
    }

    #[test]
    fn member_price_not_below_list_is_no_benefit() {
        let tea = with_member_price(units(1, "tea", "drinks", 1, 1000), 1000);
        let b = price(&[tea], &gold(), &[], &[]);
        // Member "price" equals list, so the tier discount applies: 5% of 1000 = 50.
        assert_eq!(
            b.lines[0].line_discounts[0].source,
            DiscountSource::TierDiscount
        );
        assert_eq!(b.total_fen, 950);
    }

    // --- Step 3: tier discount -----------------------------------------------------------------

    #[test]
    fn tier_discount_skips_lines_on_promotion() {
        let b = price(
            &[
                units(1, "cola", "drinks", 6, 300),
                units(2, "chips", "snacks", 2, 850),
            ],
            &gold(),
            &[item_percent("P", "cola", 2000)],
            &[],
        );
        // Cola 1800 − 20% (360) = 1440, no tier; chips 1700 − 5% (85) = 1615.
        assert_eq!(nets(&b), vec![1440, 1615]);
        let tier = &b.lines[1].line_discounts[0];
        assert_eq!(tier.reason_zh, "会员折扣（金卡）9.5折");
        assert_eq!(tier.reason_en, "Member discount (金卡): 5% off");
        assert_eq!(b.total_fen, 3055);
    }

    #[test]
    fn tier_discount_rounds_half_up_per_line() {
        let b = price(
            &[units(1, "a", "x", 1, 1010), units(2, "b", "x", 1, 1009)],
            &gold(),
            &[],
            &[],
        );
        // 5% of 1010 = 50.5 → 51; 5% of 1009 = 50.45 → 50.
        assert_eq!(nets(&b), vec![959, 959]);
    }

    #[test]
    fn guest_with_a_tier_gets_no_tier_discount() {
        let shopper = Shopper {
            member: false,
            ..gold()
        };
        let b = price(&[units(1, "a", "x", 1, 1000)], &shopper, &[], &[]);
        assert_eq!(b.total_fen, 1000);
    }

    // --- Step 4: threshold promotions ----------------------------------------------------------

    #[test]
    fn spend_200_get_30_applies_once_on_236_40() {
        let mut p = threshold("T", 20000, 3000, false, &[]);
        p.name_zh = "国庆满减".into();
        p.name_en = "National Day".into();
        let b = price(&basket_236_40(), &Shopper::guest(), &[p], &[]);
        // 23640 ≥ 20000 → ¥30 off once. Shares of 3000 by gross / 23640:
        //   rice  3000×6990/23640 = 887.06  → 887   (remainder  1320/23640)
        //   oil   3000×8990/23640 = 1140.86 → 1140  (remainder 20400)
        //   bana  3000×1047/23640 = 132.87  → 132   (remainder 20520)
        //   milk  3000×4980/23640 = 631.98  → 631   (remainder 23160)
        //   pork  3000×1633/23640 = 207.23  → 207   (remainder  5520)
        // floors sum to 2997; the 3 left go to the largest remainders: milk, bananas, oil.
        assert_eq!(shares(&b), vec![887, 1141, 133, 632, 207]);
        assert_eq!(nets(&b), vec![6103, 7849, 914, 4348, 1426]);
        assert_eq!(b.ticket_discounts.len(), 1);
        assert_eq!(b.ticket_discounts[0].reason_zh, "国庆满减：满200减30");
        assert_eq!(
            b.ticket_discounts[0].reason_en,
            "National Day: Spend ¥200, save ¥30"
        );
        assert_eq!(b.total_fen, 20640);
    }

    #[test]
    fn every_full_100_minus_10_stacks_twice_on_236_40() {
        let b = price(
            &basket_236_40(),
            &Shopper::guest(),
            &[threshold("T", 10000, 1000, true, &[])],
            &[],
        );
        // floor(23640 / 10000) = 2 → ¥20 off.
        assert_eq!(b.ticket_discounts[0].amount_fen, 2000);
        assert_eq!(b.ticket_discounts[0].reason_zh, "每满100减10");
        assert_eq!(
            b.ticket_discounts[0].reason_en,
            "Save ¥10 for every ¥100 spent"
        );
        assert_eq!(b.total_fen, 21640);
    }

    #[test]
    fn only_the_best_threshold_applies() {
        let promos = [
            threshold("A", 20000, 3000, false, &[]),  // 3000
            threshold("B", 10000, 2000, true, &[]),   // 2 × 2000 = 4000
            threshold("C", 30000, 10000, false, &[]), // not reached
        ];
        let b = price(&basket_236_40(), &Shopper::guest(), &promos, &[]);
        assert_eq!(b.ticket_discounts.len(), 1);
        assert_eq!(
            b.ticket_discounts[0].source,
            DiscountSource::Promotion("B".into())
        );
        assert_eq!(b.total_fen, 19640);
    }

    #[test]
    fn equal_thresholds_tie_to_the_lowest_id() {
        let promos = [
            threshold("Z", 20000, 3000, false, &[]),
            threshold("K", 10000, 1500, true, &[]), // 2 × 1500 = 3000
        ];
        let b = price(&basket_236_40(), &Shopper::guest(), &promos, &[]);
        assert_eq!(
            b.ticket_discounts[0].source,
            DiscountSource::Promotion("K".into())
        );
    }

    #[test]
    fn fruit_threshold_counts_fruit_net_after_line_discounts() {
        let promos = [
            item_percent("P", "apple", 1000),
            threshold("T", 2000, 500, false, &["fruit"]),
        ];
        let lines = [
            units(1, "apple", "fruit", 3, 599), // 1797 − 10% (179.7 → 180) = 1617
            grams(2, "grape", "fruit", 850, 2598), // 2208
            units(3, "milk", "dairy", 2, 650),  // 1300, not fruit
        ];
        let b = price(&lines, &Shopper::guest(), &promos, &[]);
        // Fruit net 1617 + 2208 = 3825 ≥ 2000 → 500 off, split over fruit only:
        //   apple 500×1617/3825 = 211.37 → 211 (remainder 1425)
        //   grape 500×2208/3825 = 288.63 → 288 (remainder 2400) + the 1 left → 289
        assert_eq!(shares(&b), vec![211, 289, 0]);
        assert_eq!(nets(&b), vec![1406, 1919, 1300]);
        assert_eq!(b.total_fen, 4625);
    }

    #[test]
    fn threshold_not_reached_on_its_categories_does_not_apply() {
        // Ticket is ¥236.40 but fruit is only ¥10.47.
        let b = price(
            &basket_236_40(),
            &Shopper::guest(),
            &[threshold("T", 2000, 500, false, &["fruit"])],
            &[],
        );
        assert!(b.ticket_discounts.is_empty());
        assert_eq!(b.total_fen, 23640);
    }

    #[test]
    fn members_only_threshold_skips_guests() {
        let mut p = threshold("T", 20000, 3000, false, &[]);
        p.members_only = true;
        let b = price(&basket_236_40(), &Shopper::guest(), &[p.clone()], &[]);
        assert_eq!(b.total_fen, 23640);
        let b = price(&basket_236_40(), &member_without_tier(), &[p], &[]);
        assert_eq!(b.total_fen, 20640);
    }

    // --- Step 5: coupons -----------------------------------------------------------------------

    #[test]
    fn gold_member_236_40_with_oil_promotion_and_200_minus_30_coupon() {
        let mut oil = item_percent("P-oil", "oil-5l", 2000);
        oil.name_zh = "粮油节".into();
        oil.name_en = "Oil week".into();
        let c = coupon(
            "C-200-30",
            CouponKind::Threshold {
                min_spend_fen: 20000,
                off_fen: 3000,
            },
        );
        let b = price(&basket_236_40(), &gold(), &[oil], &[c]);

        // Step 2: oil 20% off: 8990 × 0.2 = 1798 → 7192 (no tier on it).
        // Step 3: tier 5% on the others, half up:
        //   rice 6990 × 5% = 349.5 → 350 → 6640     bananas 1047 × 5% = 52.35 → 52 → 995
        //   milk 4980 × 5% = 249        → 4731     pork    1633 × 5% = 81.65 → 82 → 1551
        let line_level: Vec<i64> = b
            .lines
            .iter()
            .map(|l| l.line_discounts[0].amount_fen)
            .collect();
        assert_eq!(line_level, vec![350, 1798, 52, 249, 82]);
        assert_eq!(b.lines[1].line_discounts[0].reason_zh, "粮油节：8折");
        assert_eq!(b.lines[1].line_discounts[0].reason_en, "Oil week: 20% off");
        assert_eq!(
            b.lines[0].line_discounts[0].reason_zh,
            "会员折扣（金卡）9.5折"
        );

        // Step 5: eligible net 6640 + 7192 + 995 + 4731 + 1551 = 21109 ≥ 20000 → ¥30 off.
        // Step 6: shares of 3000 by net / 21109:
        //   rice 3000×6640/21109 = 943.67  → 943 (remainder 14213)
        //   oil  3000×7192/21109 = 1022.12 → 1022 (remainder 2602)
        //   bana 3000×995/21109  = 141.41  → 141 (remainder 8631)
        //   milk 3000×4731/21109 = 672.37  → 672 (remainder 7752)
        //   pork 3000×1551/21109 = 220.43  → 220 (remainder 9020)
        // floors sum to 2998; the 2 left go to rice (14213) and pork (9020).
        assert_eq!(shares(&b), vec![944, 1022, 141, 672, 221]);
        assert_eq!(nets(&b), vec![5696, 6170, 854, 4059, 1330]);
        assert_eq!(b.ticket_discounts.len(), 1);
        let coupon_line = &b.ticket_discounts[0];
        assert_eq!(
            coupon_line.source,
            DiscountSource::Coupon("C-200-30".into())
        );
        assert_eq!(coupon_line.reason_zh, "满200减30券");
        assert_eq!(coupon_line.reason_en, "Coupon: spend ¥200, save ¥30");
        assert_eq!(coupon_line.amount_fen, 3000);

        // Ticket: 23640 − (350 + 1798 + 52 + 249 + 82 = 2531) − 3000 = 18109 = ¥181.09.
        assert_eq!(b.subtotal_fen, 23640);
        assert_eq!(b.discount_total_fen, 5531);
        assert_eq!(b.total_fen, 18109);
        assert_eq!(format_yuan(b.total_fen), "¥181.09");
    }

    #[test]
    fn threshold_coupon_below_min_spend_is_refused() {
        let c = coupon(
            "C1",
            CouponKind::Threshold {
                min_spend_fen: 20000,
                off_fen: 3000,
            },
        );
        let err = price_basket(
            &[units(1, "rice", "grain", 2, 7500)], // ¥150.00
            &Shopper::guest(),
            &[],
            &[c],
            noon(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PricingError::CouponNotApplicable {
                coupon: "C1".into(),
                reason: "it needs ¥200.00 spent on eligible goods, the ticket has ¥150.00".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "coupon \"C1\" cannot be used on this ticket: it needs ¥200.00 spent on eligible goods, the ticket has ¥150.00"
        );
    }

    #[test]
    fn coupon_min_spend_counts_the_net_after_promotions() {
        let mut c = coupon("C1", CouponKind::Fixed { off_fen: 1000 });
        c.min_spend_fen = 20000;
        // Gross ¥210.00, but 10% off leaves ¥189.00: below ¥200.
        let err = price_basket(
            &[units(1, "wine", "drinks", 1, 21000)],
            &Shopper::guest(),
            &[item_percent("P", "wine", 1000)],
            &[c],
            noon(),
        )
        .unwrap_err();
        assert!(matches!(err, PricingError::CouponNotApplicable { .. }));
    }

    #[test]
    fn coupons_apply_in_order_each_on_what_the_one_before_left() {
        let lines = [units(1, "a", "x", 1, 15000), units(2, "b", "x", 1, 10000)]; // ¥250.00
        let fixed_60 = coupon("F60", CouponKind::Fixed { off_fen: 6000 });
        let t200_30 = coupon(
            "T200",
            CouponKind::Threshold {
                min_spend_fen: 20000,
                off_fen: 3000,
            },
        );
        // ¥60 off first leaves ¥190: the 满200减30 coupon is refused.
        let err = price_basket(
            &lines,
            &Shopper::guest(),
            &[],
            &[fixed_60.clone(), t200_30.clone()],
            noon(),
        )
        .unwrap_err();
        assert!(
            matches!(err, PricingError::CouponNotApplicable { coupon, .. } if coupon == "T200")
        );
        // The other way round: 250 − 30 = 220, then − 60 = 160.
        let b = price(&lines, &Shopper::guest(), &[], &[t200_30, fixed_60]);
        assert_eq!(b.total_fen, 16000);
        // 3000 split 15000:10000 → 1800 / 1200; 6000 split 13200:8800 → 3600 / 2400.
        assert_eq!(shares(&b), vec![5400, 3600]);
        assert_eq!(b.ticket_discounts.len(), 2);
    }

    #[test]
    fn coupon_after_a_threshold_promotion_sees_the_reduced_net() {
        let c = coupon(
            "C",
            CouponKind::Threshold {
                min_spend_fen: 20000,
                off_fen: 3000,
            },
        );
        // ¥236.40 − 满50减30 (stacked ×4 = ¥120) = ¥116.40: below ¥200.
        let err = price_basket(
            &basket_236_40(),
            &Shopper::guest(),
            &[threshold("T", 5000, 3000, true, &[])],
            &[c],
            noon(),
        )
        .unwrap_err();
        assert!(matches!(err, PricingError::CouponNotApplicable { .. }));
    }

    #[test]
    fn percent_coupon_is_capped_at_its_max_off() {
        let capped = coupon(
            "P",
            CouponKind::Percent {
                bp: 2000,
                max_off_fen: Some(2000),
            },
        );
        let b = price(&basket_236_40(), &Shopper::guest(), &[], &[capped]);
        // 20% of 23640 = 4728, capped at ¥20.
        assert_eq!(b.ticket_discounts[0].amount_fen, 2000);
        assert_eq!(b.ticket_discounts[0].reason_zh, "优惠券8折（最多减¥20）");
        assert_eq!(
            b.ticket_discounts[0].reason_en,
            "Coupon: 20% off (up to ¥20)"
        );
        let uncapped = coupon(
            "P",
            CouponKind::Percent {
                bp: 2000,
                max_off_fen: None,
            },
        );
        let b = price(&basket_236_40(), &Shopper::guest(), &[], &[uncapped]);
        assert_eq!(b.ticket_discounts[0].amount_fen, 4728);
    }

    #[test]
    fn fixed_coupon_bigger_than_the_basket_brings_it_to_zero() {
        let mut c = coupon("F", CouponKind::Fixed { off_fen: 1000 });
        c.min_spend_fen = 500;
        let b = price(
            &[units(1, "a", "x", 1, 500), units(2, "b", "x", 1, 300)],
            &Shopper::guest(),
            &[],
            &[c],
        );
        // ¥10 off an ¥8 ticket takes ¥8.
        assert_eq!(b.ticket_discounts[0].amount_fen, 800);
        assert_eq!(b.ticket_discounts[0].reason_zh, "优惠券立减¥10（满5可用）");
        assert_eq!(
            b.ticket_discounts[0].reason_en,
            "Coupon: ¥10 off on ¥5 or more"
        );
        assert_eq!(nets(&b), vec![0, 0]);
        assert_eq!(b.total_fen, 0);
    }

    #[test]
    fn category_coupon_goes_only_to_its_categories() {
        let mut c = coupon("D", CouponKind::Fixed { off_fen: 1000 });
        c.categories = vec!["dairy".into(), "meat".into()];
        let b = price(&basket_236_40(), &Shopper::guest(), &[], &[c]);
        // Milk 4980 and pork 1633 (6613): 1000×4980/6613 = 753.06 → 753, 1000×1633/6613 = 246.94
        // → 246 + the 1 left = 247.
        assert_eq!(shares(&b), vec![0, 0, 0, 753, 247]);
    }

    #[test]
    fn free_item_coupon_takes_one_unit_at_its_net_price() {
        let c = coupon("FREE", CouponKind::FreeItem { sku: "milk".into() });
        let b = price(
            &[
                units(1, "bread", "bakery", 1, 800),
                units(2, "milk", "dairy", 3, 500),
            ],
            &gold(),
            &[],
            &[c],
        );
        // Milk 1500 − 5% (75) = 1425 for 3 → one is 475, all on the milk line.
        // Bread 800 − 40 = 760.
        assert_eq!(shares(&b), vec![0, 475]);
        assert_eq!(nets(&b), vec![760, 950]);
        assert_eq!(b.ticket_discounts[0].reason_zh, "免费券：milk 1件");
        assert_eq!(b.ticket_discounts[0].reason_en, "Coupon: one milk free");
    }

    #[test]
    fn free_item_coupon_skips_a_line_already_paid_for() {
        let fixed = coupon("F", CouponKind::Fixed { off_fen: 400 });
        let mut fixed_on_first = fixed.clone();
        fixed_on_first.categories = vec!["promo-shelf".into()];
        let free = coupon("FREE", CouponKind::FreeItem { sku: "milk".into() });
        // Line 1 (milk, ¥4.00) is paid off entirely by the ¥4 coupon on its shelf category, so the
        // free milk comes off line 2: 2 × 500 = 1000 for 2 → 500.
        let b = price(
            &[
                units(1, "milk", "promo-shelf", 1, 400),
                units(2, "milk", "dairy", 2, 500),
            ],
            &Shopper::guest(),
            &[],
            &[fixed_on_first, free],
        );
        assert_eq!(shares(&b), vec![400, 500]);
        assert_eq!(b.total_fen, 500);
    }

    #[test]
    fn free_item_net_unit_price_rounds_half_up() {
        let c = coupon("FREE", CouponKind::FreeItem { sku: "egg".into() });
        // 2 × 555 = 1110, 10% = 111 → 999 for 2 → 499.5 → 500.
        let b = price(
            &[units(1, "egg", "fresh", 2, 555)],
            &Shopper::guest(),
            &[item_percent("P", "egg", 1000)],
            &[c],
        );
        assert_eq!(b.total_fen, 499);
    }

    #[test]
    fn free_item_coupon_for_goods_not_in_the_basket_is_refused() {
        let c = coupon("FREE", CouponKind::FreeItem { sku: "milk".into() });
        let err = price_basket(&basket_236_40(), &Shopper::guest(), &[], &[c], noon()).unwrap_err();
        assert_eq!(
            err,
            PricingError::CouponNotApplicable {
                coupon: "FREE".into(),
                reason: "milk is not on the ticket (in the coupon's categories)".into(),
            }
        );
    }

    #[test]
    fn free_item_coupon_on_weighed_goods_is_refused() {
        let c = coupon(
            "FREE",
            CouponKind::FreeItem {
                sku: "banana".into(),
            },
        );
        let err = price_basket(&basket_236_40(), &Shopper::guest(), &[], &[c], noon()).unwrap_err();
        assert!(
            matches!(&err, PricingError::CouponNotApplicable { reason, .. } if reason.contains("line 3 sells banana by weight or label")),
            "{err}"
        );
    }

    #[test]
    fn coupon_for_categories_not_on_the_ticket_is_refused() {
        let mut c = coupon("C", CouponKind::Fixed { off_fen: 500 });
        c.categories = vec!["baby".into()];
        let err = price_basket(&basket_236_40(), &Shopper::guest(), &[], &[c], noon()).unwrap_err();
        assert_eq!(
            err,
            PricingError::CouponNotApplicable {
                coupon: "C".into(),
                reason: "no goods on the ticket are in its categories [\"baby\"]".into(),
            }
        );
    }

    #[test]
    fn coupon_that_would_take_off_nothing_is_refused() {
        // 1 bp of 50 fen = 0.005 → 0: the shopper keeps the coupon.
        let c = coupon(
            "P",
            CouponKind::Percent {
                bp: 1,
                max_off_fen: None,
            },
        );
        let err = price_basket(
            &[units(1, "a", "x", 1, 50)],
            &Shopper::guest(),
            &[],
            &[c],
            noon(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            PricingError::CouponNotApplicable {
                coupon: "P".into(),
                reason: "nothing is left to discount: it would take off ¥0.00".into(),
            }
        );
    }

    // --- Allocation and helpers ----------------------------------------------------------------

    #[test]
    fn split_proportionally_by_largest_remainder() {
        // 100 over three equal lines: 33.33 each, the 1 left goes to the first.
        assert_eq!(
            split_proportionally(100, &[300, 300, 300]),
            Some(vec![34, 33, 33])
        );
        // 2 over equal weights: ties go to the earlier lines.
        assert_eq!(split_proportionally(2, &[5, 5, 5]), Some(vec![1, 1, 0]));
        // 10 over 100:200:0 → 3.33, 6.67, 0 → 3, 7, 0.
        assert_eq!(
            split_proportionally(10, &[100, 200, 0]),
            Some(vec![3, 7, 0])
        );
        assert_eq!(split_proportionally(0, &[0, 0]), Some(vec![0, 0]));
        assert_eq!(split_proportionally(6, &[1, 2, 3]), Some(vec![1, 2, 3]));
        assert_eq!(split_proportionally(7, &[1, 2, 3]), None); // more than Σ weights
        assert_eq!(split_proportionally(-1, &[1]), None);
        assert_eq!(split_proportionally(1, &[2, -1]), None);
        assert_eq!(split_proportionally(1, &[]), None);
        assert_eq!(
            split_proportionally(i64::MAX, &[i64::MAX, 0]),
            Some(vec![i64::MAX, 0])
        );
    }

    #[test]
    fn reason_numbers_read_like_a_receipt() {
        assert_eq!(zhe(500), "9.5折");
        assert_eq!(zhe(2000), "8折");
        assert_eq!(zhe(250), "9.75折");
        assert_eq!(zhe(10000), "免费");
        assert_eq!(percent(500), "5%");
        assert_eq!(percent(1250), "12.5%");
        assert_eq!(percent(1), "0.01%");
        assert_eq!(yuan(20000), "¥200");
        assert_eq!(yuan(23640), "¥236.40");
        assert_eq!(yuan_bare(100_000), "1,000");
        assert_eq!(Quantity::Units(3).to_string(), "3 units");
        assert_eq!(Quantity::Grams(250).to_string(), "250 g");
    }

    #[test]
    fn priced_basket_and_inputs_round_trip_through_json() {
        let c = coupon(
            "C",
            CouponKind::Threshold {
                min_spend_fen: 20000,
                off_fen: 3000,
            },
        );
        let b = price(
            &basket_236_40(),
            &gold(),
            &[item_percent("P", "oil-5l", 2000)],
            std::slice::from_ref(&c),
        );
        let json = serde_json::to_string(&b).unwrap();
        assert!(
            json.contains(r#""source":{"coupon":"C"}"#),
            "{json}"
        );
        assert!(json.contains(r#""qty":{"grams":1500}"#), "{json}");
        assert_eq!(serde_json::from_str::<PricedBasket>(&json).unwrap(), b);
        let c_json = serde_json::to_string(&c).unwrap();
        assert!(c_json.contains(r#""kind":"threshold""#), "{c_json}");
        assert_eq!(serde_json::from_str::<Coupon>(&c_json).unwrap(), c);
        let p = threshold("T", 100, 10, true, &["fruit"]);
        assert_eq!(
            serde_json::from_str::<Promotion>(&serde_json::to_string(&p).unwrap()).unwrap(),
            p
        );
    }

    // --- Errors ----------------------------------------------------------------------------------

    fn price_err(
        lines: &[BasketLine],
        shopper: &Shopper,
        promos: &[Promotion],
        coupons: &[Coupon],
    ) -> PricingError {
        price_basket(lines, shopper, promos, coupons, noon()).unwrap_err()
    }

    #[test]
    fn duplicate_line_numbers_are_refused() {
        let err = price_err(
            &[units(1, "a", "x", 1, 1), units(1, "b", "x", 1, 1)],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert_eq!(err, PricingError::DuplicateLine { line: 1 });
        assert_eq!(
            err.to_string(),
            "line 1 appears twice on the ticket; line numbers must be unique"
        );
    }

    #[test]
    fn zero_or_negative_quantities_are_refused() {
        let err = price_err(&[units(4, "a", "x", 0, 100)], &Shopper::guest(), &[], &[]);
        assert_eq!(
            err,
            PricingError::NonPositiveQuantity {
                line: 4,
                qty: Quantity::Units(0)
            }
        );
        assert_eq!(
            err.to_string(),
            "line 4: quantity must be more than zero, got 0 units"
        );
        let err = price_err(
            &[grams(2, "a", "x", -250, 100)],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert_eq!(
            err.to_string(),
            "line 2: quantity must be more than zero, got -250 g"
        );
    }

    #[test]
    fn negative_prices_are_refused() {
        let err = price_err(&[units(1, "a", "x", 1, -1)], &Shopper::guest(), &[], &[]);
        assert_eq!(
            err,
            PricingError::NegativePrice {
                line: 1,
                what: "unit price",
                price_fen: -1
            }
        );
        let err = price_err(
            &[with_member_price(units(2, "a", "x", 1, 100), -5)],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert_eq!(
            err.to_string(),
            "line 2: member price must not be negative, got -5 fen"
        );
        let err = price_err(&[labelled(3, "a", "x", -100)], &Shopper::guest(), &[], &[]);
        assert!(matches!(
            err,
            PricingError::NegativePrice {
                line: 3,
                what: "label price",
                ..
            }
        ));
    }

    #[test]
    fn label_priced_line_must_be_one_unit() {
        let two = BasketLine {
            qty: Quantity::Units(2),
            ..labelled(5, "cheese", "deli", 1234)
        };
        let err = price_err(&[two], &Shopper::guest(), &[], &[]);
        assert_eq!(
            err.to_string(),
            "line 5 is priced by its label, so its quantity must be 1 unit, got 2 units"
        );
        let weighed = BasketLine {
            qty: Quantity::Grams(1000),
            ..labelled(6, "cheese", "deli", 1234)
        };
        assert!(matches!(
            price_err(&[weighed], &Shopper::guest(), &[], &[]),
            PricingError::LabelQuantity { line: 6, .. }
        ));
    }

    #[test]
    fn tier_discount_over_100_percent_is_refused() {
        let shopper = Shopper {
            tier_discount_bp: 10_001,
            ..gold()
        };
        let err = price_err(&[units(1, "a", "x", 1, 100)], &shopper, &[], &[]);
        assert_eq!(err, PricingError::InvalidTierDiscount { bp: 10_001 });
        assert_eq!(
            err.to_string(),
            "member tier discount 10001 bp is more than 100% (10000 bp)"
        );
    }

    #[test]
    fn misconfigured_promotions_are_refused() {
        let line = [units(1, "a", "x", 1, 100)];
        let reason = |p: Promotion| match price_err(&line, &Shopper::guest(), &[p], &[]) {
            PricingError::InvalidPromotion { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(item_percent("", "a", 100)), "id is empty");
        assert_eq!(
            reason(item_percent("P", "a", 10_001)),
            "10001 bp is more than 100% (10000 bp)"
        );
        let fixed = promo(
            "P",
            PromotionKind::ItemFixed {
                sku: "a".into(),
                off_fen_per_unit: -1,
            },
        );
        assert_eq!(
            reason(fixed),
            "off_fen_per_unit must not be negative, got -1"
        );
        let bxgy = promo(
            "P",
            PromotionKind::BuyXGetY {
                sku: "a".into(),
                buy: 0,
                free: 1,
            },
        );
        assert_eq!(reason(bxgy), "buy 0 get 1 free: both must be at least 1");
        assert_eq!(
            reason(threshold("P", 0, 10, true, &[])),
            "threshold needs min_spend_fen > 0 and off_fen ≥ 0, got 0 and 10"
        );
        let mut windowed = item_percent("P", "a", 100);
        windowed.window = Some(PromotionWindow {
            start: at(10, 0),
            end: at(10, 0),
        });
        assert_eq!(
            reason(windowed),
            "window ends (2024-10-01 10:00:00) no later than it starts (2024-10-01 10:00:00)"
        );
        let err = price_err(
            &line,
            &Shopper::guest(),
            &[item_percent("P7", "a", 20_000)],
            &[],
        );
        assert_eq!(
            err.to_string(),
            "promotion \"P7\": 20000 bp is more than 100% (10000 bp)"
        );
    }

    #[test]
    fn misconfigured_coupons_are_refused() {
        let line = [units(1, "a", "x", 1, 100)];
        let reason = |c: Coupon| match price_err(&line, &Shopper::guest(), &[], &[c]) {
            PricingError::InvalidCoupon { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(coupon("", CouponKind::Fixed { off_fen: 1 })),
            "id is empty"
        );
        let mut min = coupon("C", CouponKind::Fixed { off_fen: 1 });
        min.min_spend_fen = -1;
        assert_eq!(reason(min), "min_spend_fen must not be negative, got -1");
        assert_eq!(
            reason(coupon("C", CouponKind::Fixed { off_fen: -1 })),
            "off_fen must not be negative, got -1"
        );
        let pct = |bp, max_off_fen| coupon("C", CouponKind::Percent { bp, max_off_fen });
        assert_eq!(
            reason(pct(10_001, None)),
            "10001 bp is more than 100% (10000 bp)"
        );
        assert_eq!(
            reason(pct(100, Some(-1))),
            "max_off_fen must not be negative, got -1"
        );
        let thr = coupon(
            "C",
            CouponKind::Threshold {
                min_spend_fen: -1,
                off_fen: 5,
            },
        );
        assert_eq!(
            reason(thr),
            "threshold needs min_spend_fen ≥ 0 and off_fen ≥ 0, got -1 and 5"
        );
        let err = price_err(
            &line,
            &Shopper::guest(),
            &[],
            &[coupon("C9", CouponKind::Fixed { off_fen: -3 })],
        );
        assert_eq!(
            err.to_string(),
            "coupon \"C9\": off_fen must not be negative, got -3"
        );
    }

    #[test]
    fn the_same_coupon_twice_is_refused() {
        let c = coupon("C", CouponKind::Fixed { off_fen: 1 });
        let err = price_err(
            &[units(1, "a", "x", 1, 100)],
            &Shopper::guest(),
            &[],
            &[c.clone(), c],
        );
        assert_eq!(err, PricingError::DuplicateCoupon { coupon: "C".into() });
        assert_eq!(
            err.to_string(),
            "coupon \"C\" is redeemed twice on this ticket"
        );
    }

    #[test]
    fn amounts_beyond_i64_are_overflow_errors_not_panics() {
        let err = price_err(
            &[units(1, "a", "x", i64::MAX, 2)],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert_eq!(
            err.to_string(),
            format!(
                "line 1: {} units at 2 fen is too large to represent in fen",
                i64::MAX
            )
        );
        let err = price_err(
            &[grams(1, "a", "x", i64::MAX, i64::MAX)],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert!(matches!(err, PricingError::Overflow { .. }));
        let err = price_err(
            &[labelled(1, "a", "x", i64::MAX), labelled(2, "b", "x", 1)],
            &Shopper::guest(),
            &[],
            &[],
        );
        assert_eq!(
            err,
            PricingError::Overflow {
                what: "subtotal up to line 2".into()
            }
        );
        // Huge but representable amounts price without overflow in the discount steps.
        let b = price(
            &[labelled(1, "a", "x", i64::MAX)],
            &gold(),
            &[threshold("T", 1, i64::MAX, true, &[])],
            &[],
        );
        assert_eq!(b.total_fen, 0);
    }

    // --- Properties ------------------------------------------------------------------------------

    /// Generated line: (weighed, qty, price, member price, label price, sku index, category index).
    type RawLine = (bool, i64, i64, Option<i64>, Option<i64>, usize, usize);

    const SKUS: [&str; 4] = ["a", "b", "c", "d"];
    const CATS: [&str; 3] = ["c0", "c1", "c2"];

    fn arb_line() -> impl Strategy<Value = RawLine> {
        (
            any::<bool>(),
            1i64..=5_000,
            0i64..=100_000,
            proptest::option::of(0i64..=100_000),
            proptest::option::weighted(0.15, 0i64..=100_000),
            0..SKUS.len(),
            0..CATS.len(),
        )
    }

    fn make_lines(raw: Vec<RawLine>) -> Vec<BasketLine> {
        raw.into_iter()
            .enumerate()
            .map(|(i, (weighed, q, price, mp, label, s, c))| {
                let qty = match (label, weighed) {
                    (Some(_), _) => Quantity::Units(1),
                    (None, true) => Quantity::Grams(q),
                    (None, false) => Quantity::Units(q % 25 + 1),
                };
                BasketLine {
                    line_no: i as u32 + 1,
                    sku: SKUS[s].into(),
                    category: CATS[c].into(),
                    qty,
                    unit_price_fen: price,
                    member_price_fen: mp,
                    label_price_fen: label,
                    // Every fourth plain line gets an override at half its list price.
                    override_price_fen: (label.is_none() && i % 4 == 3 && price > 0).then_some(price / 2),
                }
            })
            .collect()
    }

    fn arb_promotion_kind() -> impl Strategy<Value = PromotionKind> {
        let sku = (0..SKUS.len()).prop_map(|i| SKUS[i].to_string());
        let cats = proptest::sample::subsequence(CATS.to_vec(), 0..=2)
            .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        prop_oneof![
            (sku.clone(), 0u32..=10_000)
                .prop_map(|(sku, bp)| PromotionKind::ItemPercent { sku, bp }),
            (sku.clone(), 0i64..=5_000).prop_map(|(sku, off)| PromotionKind::ItemFixed {
                sku,
                off_fen_per_unit: off
            }),
            (0..CATS.len(), 0u32..=10_000).prop_map(|(c, bp)| PromotionKind::CategoryPercent {
                category: CATS[c].into(),
                bp
            }),
            (sku, 1u32..=4, 1u32..=3).prop_map(|(sku, buy, free)| PromotionKind::BuyXGetY {
                sku,
                buy,
                free
            }),
            (1i64..=50_000, 0i64..=20_000, any::<bool>(), cats).prop_map(
                |(min, off, stacked, categories)| {
                    PromotionKind::Threshold {
                        min_spend_fen: min,
                        off_fen: off,
                        stacked,
                        categories,
                    }
                }
            ),
        ]
    }

    fn arb_promotions() -> impl Strategy<Value = Vec<Promotion>> {
        proptest::collection::vec((arb_promotion_kind(), any::<bool>(), 0u8..3, 0u8..10), 0..6)
            .prop_map(|v| {
                v.into_iter()
                    .map(|(kind, members_only, window, id)| Promotion {
                        id: format!("P{id}"),
                        name_zh: String::new(),
                        name_en: String::new(),
                        window: match window {
                            0 => None,
                            1 => Some(PromotionWindow {
                                start: at(8, 0),
                                end: at(22, 0),
                            }), // active at noon
                            _ => Some(PromotionWindow {
                                start: at(13, 0),
                                end: at(14, 0),
                            }), // not yet
                        },
                        members_only,
                        kind,
                    })
                    .collect()
            })
    }

    fn arb_coupons() -> impl Strategy<Value = Vec<Coupon>> {
        let kind = prop_oneof![
            (0i64..=20_000).prop_map(|off_fen| CouponKind::Fixed { off_fen }),
            (0u32..=10_000, proptest::option::of(0i64..=10_000))
                .prop_map(|(bp, max_off_fen)| CouponKind::Percent { bp, max_off_fen }),
            (0i64..=50_000, 0i64..=20_000).prop_map(|(min_spend_fen, off_fen)| {
                CouponKind::Threshold {
                    min_spend_fen,
                    off_fen,
                }
            }),
            (0..SKUS.len()).prop_map(|s| CouponKind::FreeItem {
                sku: SKUS[s].into()
            }),
        ];
        let cats = proptest::sample::subsequence(CATS.to_vec(), 0..=2)
            .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        proptest::collection::vec((kind, 0i64..=30_000, cats), 0..4).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (kind, min_spend_fen, categories))| Coupon {
                    id: format!("C{i}"),
                    kind,
                    min_spend_fen,
                    categories,
                })
                .collect()
        })
    }

    fn arb_shopper() -> impl Strategy<Value = Shopper> {
        (any::<bool>(), prop_oneof![Just(0u32), 0u32..=10_000]).prop_map(|(member, bp)| Shopper {
            member,
            tier_discount_bp: bp,
            tier_id: Some("t".into()),
        })
    }

    /// Prices, dropping coupons the ticket legitimately refuses until the rest apply.
    fn price_dropping_refused_coupons(
        lines: &[BasketLine],
        shopper: &Shopper,
        promos: &[Promotion],
        mut coupons: Vec<Coupon>,
    ) -> Result<(PricedBasket, Vec<Coupon>), PricingError> {
        loop {
            match price_basket(lines, shopper, promos, &coupons, noon()) {
                Err(PricingError::CouponNotApplicable { coupon, .. }) => {
                    coupons.retain(|c| c.id != coupon)
                }
                other => return other.map(|b| (b, coupons)),
            }
        }
    }

    proptest! {
        #[test]
        fn priced_baskets_always_balance(
            raw in proptest::collection::vec(arb_line(), 1..=20),
            shopper in arb_shopper(),
            promos in arb_promotions(),
            coupons in arb_coupons(),
        ) {
            let lines = make_lines(raw);
            let (b, kept) = price_dropping_refused_coupons(&lines, &shopper, &promos, coupons)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let gross: i64 = b.lines.iter().map(|l| l.gross_fen).sum();
            let net: i64 = b.lines.iter().map(|l| l.net_fen).sum();
            prop_assert!(b.total_fen >= 0);
            prop_assert_eq!(b.subtotal_fen, gross);
            prop_assert_eq!(b.total_fen, b.subtotal_fen - b.discount_total_fen);
            prop_assert_eq!(b.total_fen, net);
            prop_assert!(b.lines.iter().all(|l| l.net_fen >= 0 && l.net_fen <= l.gross_fen));
            assert_balanced(&b);
            // Every kept coupon shows up once, in order, after at most one threshold promotion.
            let coupon_ids: Vec<String> = b.ticket_discounts.iter().filter_map(|d| match &d.source {
                DiscountSource::Coupon(id) => Some(id.clone()),
                _ => None,
            }).collect();
            prop_assert_eq!(coupon_ids, kept.iter().map(|c| c.id.clone()).collect::<Vec<_>>());
            prop_assert!(b.ticket_discounts.len() <= kept.len() + 1);
            // Deterministic, and survives persistence.
            let again = price_basket(&lines, &shopper, &promos, &kept, noon());
            prop_assert_eq!(again.as_ref(), Ok(&b));
            let json = serde_json::to_string(&b).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(serde_json::from_str::<PricedBasket>(&json).ok(), Some(b));
        }

        #[test]
        fn split_sums_exactly_and_never_exceeds_a_weight(
            weights in proptest::collection::vec(0i64..=1_000_000_000, 0..12),
            pick in any::<u64>(),
        ) {
            let total: i64 = weights.iter().sum();
            let amount = if total == 0 { 0 } else { (pick % (total as u64 + 1)) as i64 };
            let shares = split_proportionally(amount, &weights);
            prop_assert!(shares.is_some());
            let shares = shares.unwrap_or_default();
            prop_assert_eq!(shares.iter().sum::<i64>(), amount);
            for (s, w) in shares.iter().zip(&weights) {
                prop_assert!(*s >= 0 && s <= w);
            }
        }
    }
}
