//! The cart of one lane (the open session): which products, how many or how heavy, at which
//! prices as they were when scanned. Plain data and the rules for changing it (merge repeated
//! scans, bounded size, positive quantities); no I/O. Pricing the cart is
//! `domain::pricing::price_basket` over [`Cart::basket_lines`]; persisting it is `checkout::lanes`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Product, Unit};
use crate::domain::pricing::{BasketLine, Quantity};

/// One line of a cart, with the product facts the receipt and pricing need, copied at scan time
/// (a price change during the sale does not move a line already scanned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub line_no: u32,
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub qty: Quantity,
    /// Per piece, or per kilogram for weighed goods.
    pub unit_price_fen: i64,
    pub member_price_fen: Option<i64>,
    /// Price printed into a label-scale barcode: the line costs exactly this.
    pub label_price_fen: Option<i64>,
    /// The code scanned, if the line came from a scan.
    pub barcode: Option<String>,
}

impl CartLine {
    /// This line as pricing input.
    pub fn basket_line(&self) -> BasketLine {
        BasketLine {
            line_no: self.line_no,
            sku: self.sku.clone(),
            category: self.category.clone(),
            qty: self.qty,
            unit_price_fen: self.unit_price_fen,
            member_price_fen: self.member_price_fen,
            label_price_fen: self.label_price_fen,
            override_price_fen: None,
        }
    }
}

/// The open session of a lane. Every change below either succeeds or leaves the cart as it was,
/// so a lane can change its cart in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub lane: String,
    pub opened_at: DateTime<Utc>,
    pub cashier: Option<String>,
    pub member_id: Option<u64>,
    /// Coupon codes the shopper handed over, in the order given.
    pub coupons: Vec<String>,
    pub lines: Vec<CartLine>,
    /// Line numbers are never reused within a session, so "line 3" on the screen stays line 3.
    pub next_line_no: u32,
    /// Managers' price overrides (改价), at most one per line; dropped with their line.
    #[serde(default)]
    pub overrides: Vec<PriceOverride>,
}

/// A manager's price override on one cart line (改价): the line sells at `price_fen` (per piece,
/// or per kg for weighed goods) instead of its list price, as its only line benefit
/// (`domain::pricing`, step 2). Kept on the cart, then on the sale, with who approved it and
/// why; every override is also an audit entry (`AuditAction::PriceOverride`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceOverride {
    pub line_no: u32,
    pub sku: String,
    /// The line's list price when the override was made (per piece or per kg).
    pub list_price_fen: i64,
    pub price_fen: i64,
    /// The staff id who approved (a manager or admin), and the cashier on the lane if another.
    pub by: String,
    pub cashier: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Longest override reason kept, in characters.
pub const MAX_OVERRIDE_REASON_CHARS: usize = 100;

/// How a product is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddHow {
    /// Pieces of a piece product.
    Units(i64),
    /// Grams of a weighed product (from the scale or a weight-embedded label).
    Grams(i64),
    /// One labelled item whose price the label carries (price-embedded barcode).
    Label { price_fen: i64 },
}

/// A change the cart refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    #[error("quantity must be at least 1, got {qty}")]
    NonPositiveQuantity { qty: i64 },
    #[error("weight must be more than 0 g, got {grams} g")]
    NonPositiveWeight { grams: i64 },
    #[error("{sku} is sold by weight; put it on the scale (or scan its scale label)")]
    NeedsWeight { sku: String },
    #[error("{sku} is sold by the piece, not by weight")]
    NotWeighed { sku: String },
    #[error("{sku} is not for sale (inactive in the catalog)")]
    Inactive { sku: String },
    #[error("the cart already holds {max} lines, the most a lane allows ([checkout].max_lines); pay this part first")]
    TooManyLines { max: u32 },
    #[error("no line {line_no} in this cart")]
    NoSuchLine { line_no: u32 },
    #[error("line {line_no} is weighed or label-priced; remove it and scan again instead of changing its quantity")]
    FixedQuantity { line_no: u32 },
    #[error("quantity {qty} is too large")]
    TooLarge { qty: i64 },
    #[error("line {line_no} is priced by its label; its price cannot be overridden (remove it and weigh again)")]
    LabelPriced { line_no: u32 },
    #[error("an override price must be at least 0 and below the list price of line {line_no} ({list_fen} fen), got {price_fen} fen")]
    OverridePrice { line_no: u32, price_fen: i64, list_fen: i64 },
    #[error("a price override needs a reason (at most {max} characters), e.g. 临期 or 包装破损")]
    OverrideReason { max: usize },
}

/// Most pieces on one line: far beyond any shop's basket, far below overflow in pricing.
const MAX_UNITS: i64 = 100_000;
/// Most grams on one line (1 t).
const MAX_GRAMS: i64 = 1_000_000;

impl Cart {
    pub fn new(lane: &str, opened_at: DateTime<Utc>) -> Cart {
        Cart { lane: lane.to_string(), opened_at, cashier: None, member_id: None, coupons: Vec::new(), lines: Vec::new(), next_line_no: 1, overrides: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Adds a product and returns the line number it landed on. Repeated pieces of the same
    /// product merge into one line (buy-X-get-Y counts per line); weighed and labelled items
    /// always get their own line.
    pub fn add(&mut self, product: &Product, how: AddHow, barcode: Option<&str>, max_lines: u32) -> Result<u32, CartError> {
        if !product.active {
            return Err(CartError::Inactive { sku: product.sku.clone() });
        }
        let (qty, label_price_fen) = match (how, product.unit) {
            (AddHow::Units(n), Unit::Piece) => (Quantity::Units(check_units(n)?), None),
            (AddHow::Units(_), Unit::Kg) => return Err(CartError::NeedsWeight { sku: product.sku.clone() }),
            (AddHow::Grams(g), Unit::Kg) => (Quantity::Grams(check_grams(g)?), None),
            (AddHow::Grams(_), Unit::Piece) => return Err(CartError::NotWeighed { sku: product.sku.clone() }),
            (AddHow::Label { price_fen }, _) => (Quantity::Units(1), Some(price_fen)),
        };
        if let (Quantity::Units(n), None) = (qty, label_price_fen) {
            if let Some(line) = self.lines.iter_mut().find(|l| l.sku == product.sku && l.label_price_fen.is_none() && matches!(l.qty, Quantity::Units(_))) {
                if let Quantity::Units(have) = line.qty {
                    line.qty = Quantity::Units(check_units(have.saturating_add(n))?);
                }
                return Ok(line.line_no);
            }
        }
        if self.lines.len() >= max_lines as usize {
            return Err(CartError::TooManyLines { max: max_lines });
        }
        let line_no = self.next_line_no;
        self.next_line_no += 1;
        self.lines.push(CartLine {
            line_no,
            sku: product.sku.clone(),
            name_zh: product.name_zh.clone(),
            name_en: product.name_en.clone(),
            category: product.category.clone(),
            qty,
            unit_price_fen: product.price_fen,
            member_price_fen: product.member_price_fen,
            label_price_fen,
            barcode: barcode.map(str::to_string),
        });
        Ok(line_no)
    }

    /// Sets the number of pieces on a piece line.
    pub fn set_units(&mut self, line_no: u32, qty: i64) -> Result<(), CartError> {
        let qty = check_units(qty)?;
        let line = self.line_mut(line_no)?;
        match line.qty {
            Quantity::Units(_) if line.label_price_fen.is_none() => {
                line.qty = Quantity::Units(qty);
                Ok(())
            }
            _ => Err(CartError::FixedQuantity { line_no }),
        }
    }

    /// Removes a line (voiding one scanned item) and its price override.
    pub fn remove(&mut self, line_no: u32) -> Result<CartLine, CartError> {
        let at = self.lines.iter().position(|l| l.line_no == line_no).ok_or(CartError::NoSuchLine { line_no })?;
        self.overrides.retain(|o| o.line_no != line_no);
        Ok(self.lines.remove(at))
    }

    /// Overrides line `line_no`'s price (replacing an earlier override of it). The caller has
    /// checked that `by` may; the price must be at least 0 and below the line's list price, the
    /// reason given. Returns the override as recorded.
    pub fn override_price(&mut self, line_no: u32, price_fen: i64, by: &str, reason: &str, at: DateTime<Utc>) -> Result<PriceOverride, CartError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_OVERRIDE_REASON_CHARS {
            return Err(CartError::OverrideReason { max: MAX_OVERRIDE_REASON_CHARS });
        }
        let cashier = self.cashier.clone().filter(|c| c != by);
        let line = self.line(line_no).ok_or(CartError::NoSuchLine { line_no })?;
        if line.label_price_fen.is_some() {
            return Err(CartError::LabelPriced { line_no });
        }
        if !(0..line.unit_price_fen).contains(&price_fen) {
            return Err(CartError::OverridePrice { line_no, price_fen, list_fen: line.unit_price_fen });
        }
        let o = PriceOverride { line_no, sku: line.sku.clone(), list_price_fen: line.unit_price_fen, price_fen, by: by.to_string(), cashier, reason: reason.to_string(), at };
        self.overrides.retain(|x| x.line_no != line_no);
        self.overrides.push(o.clone());
        Ok(o)
    }

    /// The override of line `line_no`, if any.
    pub fn override_of(&self, line_no: u32) -> Option<&PriceOverride> {
        self.overrides.iter().find(|o| o.line_no == line_no)
    }

    pub fn line(&self, line_no: u32) -> Option<&CartLine> {
        self.lines.iter().find(|l| l.line_no == line_no)
    }

    fn line_mut(&mut self, line_no: u32) -> Result<&mut CartLine, CartError> {
        self.lines.iter_mut().find(|l| l.line_no == line_no).ok_or(CartError::NoSuchLine { line_no })
    }

    /// The cart as pricing input, with each line's price override.
    pub fn basket_lines(&self) -> Vec<BasketLine> {
        self.lines
            .iter()
            .map(|l| BasketLine { override_price_fen: self.override_of(l.line_no).map(|o| o.price_fen), ..l.basket_line() })
            .collect()
    }
}

fn check_units(n: i64) -> Result<i64, CartError> {
    match n {
        n if n < 1 => Err(CartError::NonPositiveQuantity { qty: n }),
        n if n > MAX_UNITS => Err(CartError::TooLarge { qty: n }),
        n => Ok(n),
    }
}

fn check_grams(g: i64) -> Result<i64, CartError> {
    match g {
        g if g < 1 => Err(CartError::NonPositiveWeight { grams: g }),
        g if g > MAX_GRAMS => Err(CartError::TooLarge { qty: g }),
        g => Ok(g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn water() -> Product {
        Product {
            sku: "SKU-010001".into(),
            barcodes: vec!["6901234567892".into()],
            name_zh: "农夫山泉 550ml".into(),
            name_en: "Nongfu Spring 550ml".into(),
            category: "饮料".into(),
            unit: Unit::Piece,
            price_fen: 200,
            member_price_fen: Some(180),
            cost_fen: None,
            tax_bp: 1300,
            supplier: None,
            reorder_point: None,
            active: true,
        }
    }

    fn bananas() -> Product {
        Product { sku: "SKU-020001".into(), barcodes: vec!["10001".into()], name_zh: "香蕉".into(), name_en: "Bananas".into(), category: "水果".into(), unit: Unit::Kg, price_fen: 698, member_price_fen: None, ..water() }
    }

    fn cart() -> Cart {
        Cart::new("lane-1", chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default())
    }

    #[test]
    fn three_scans_of_the_same_water_make_one_line_of_three() {
        let mut c = cart();
        for _ in 0..3 {
            assert_eq!(c.add(&water(), AddHow::Units(1), Some("6901234567892"), 300), Ok(1));
        }
        assert_eq!(c.lines.len(), 1);
        assert_eq!(c.lines[0].qty, Quantity::Units(3));
    }

    #[test]
    fn weighed_and_labelled_items_get_their_own_lines() {
        let mut c = cart();
        assert_eq!(c.add(&bananas(), AddHow::Grams(1_234), None, 300), Ok(1));
        assert_eq!(c.add(&bananas(), AddHow::Grams(800), None, 300), Ok(2));
        assert_eq!(c.add(&water(), AddHow::Label { price_fen: 150 }, Some("2300001001503"), 300), Ok(3));
        assert_eq!(c.add(&water(), AddHow::Units(1), None, 300), Ok(4), "a labelled water does not absorb a plain one");
        let lines = c.basket_lines();
        assert_eq!(lines[0].qty, Quantity::Grams(1_234));
        assert_eq!(lines[2].label_price_fen, Some(150));
        assert_eq!(lines[2].qty, Quantity::Units(1));
    }

    #[test]
    fn bananas_need_a_weight_and_water_refuses_one() {
        let mut c = cart();
        assert_eq!(c.add(&bananas(), AddHow::Units(1), None, 300), Err(CartError::NeedsWeight { sku: "SKU-020001".into() }));
        assert_eq!(c.add(&water(), AddHow::Grams(500), None, 300), Err(CartError::NotWeighed { sku: "SKU-010001".into() }));
        assert_eq!(c.add(&bananas(), AddHow::Grams(0), None, 300), Err(CartError::NonPositiveWeight { grams: 0 }));
        assert_eq!(c.add(&water(), AddHow::Units(-2), None, 300), Err(CartError::NonPositiveQuantity { qty: -2 }));
        assert!(c.is_empty(), "nothing was added");
    }

    #[test]
    fn an_override_prices_its_line_until_the_line_goes_and_bad_ones_change_nothing() {
        let mut c = cart();
        c.cashier = Some("cash1".into());
        c.add(&water(), AddHow::Units(2), None, 300).unwrap();
        c.add(&water(), AddHow::Label { price_fen: 150 }, None, 300).unwrap();
        let at = c.opened_at;
        // ¥2.00 → ¥1.50, approved by mgr for cash1.
        let o = c.override_price(1, 150, "mgr", "  包装破损 ", at).unwrap();
        assert_eq!((o.list_price_fen, o.price_fen, o.by.as_str(), o.cashier.as_deref(), o.reason.as_str()), (200, 150, "mgr", Some("cash1"), "包装破损"));
        assert_eq!(c.basket_lines()[0].override_price_fen, Some(150));
        assert_eq!(c.basket_lines()[1].override_price_fen, None);
        // A second override of the same line replaces the first.
        c.override_price(1, 100, "mgr", "临期", at).unwrap();
        assert_eq!(c.overrides.len(), 1);
        assert_eq!(c.basket_lines()[0].override_price_fen, Some(100));
        let before = c.clone();
        assert_eq!(c.override_price(1, 200, "mgr", "x", at), Err(CartError::OverridePrice { line_no: 1, price_fen: 200, list_fen: 200 }));
        assert_eq!(c.override_price(1, -1, "mgr", "x", at), Err(CartError::OverridePrice { line_no: 1, price_fen: -1, list_fen: 200 }));
        assert_eq!(c.override_price(1, 100, "mgr", "  ", at), Err(CartError::OverrideReason { max: MAX_OVERRIDE_REASON_CHARS }));
        assert_eq!(c.override_price(2, 100, "mgr", "x", at), Err(CartError::LabelPriced { line_no: 2 }));
        assert_eq!(c.override_price(9, 100, "mgr", "x", at), Err(CartError::NoSuchLine { line_no: 9 }));
        assert_eq!(c, before, "refusals change nothing");
        // The manager signed in themselves: no separate cashier recorded.
        c.cashier = Some("mgr".into());
        assert_eq!(c.override_price(1, 120, "mgr", "临期", at).unwrap().cashier, None);
        c.remove(1).unwrap();
        assert!(c.overrides.is_empty());
    }

    #[test]
    fn line_numbers_are_not_reused_after_a_removal() {
        let mut c = cart();
        c.add(&water(), AddHow::Units(1), None, 300).unwrap();
        c.add(&bananas(), AddHow::Grams(500), None, 300).unwrap();
        assert_eq!(c.remove(1).unwrap().sku, "SKU-010001");
        assert_eq!(c.add(&water(), AddHow::Units(2), None, 300), Ok(3));
        assert_eq!(c.remove(1), Err(CartError::NoSuchLine { line_no: 1 }));
    }

    #[test]
    fn quantity_changes_only_on_piece_lines() {
        let mut c = cart();
        c.add(&water(), AddHow::Units(1), None, 300).unwrap();
        c.add(&bananas(), AddHow::Grams(500), None, 300).unwrap();
        c.set_units(1, 6).unwrap();
        assert_eq!(c.lines[0].qty, Quantity::Units(6));
        assert_eq!(c.set_units(2, 2), Err(CartError::FixedQuantity { line_no: 2 }));
        assert_eq!(c.set_units(1, 0), Err(CartError::NonPositiveQuantity { qty: 0 }));
        assert_eq!(c.set_units(1, 1_000_000), Err(CartError::TooLarge { qty: 1_000_000 }));
        assert_eq!(c.lines[0].qty, Quantity::Units(6), "refused changes change nothing");
    }

    #[test]
    fn a_full_cart_refuses_a_new_line_but_still_merges() {
        let mut c = cart();
        c.add(&water(), AddHow::Units(1), None, 2).unwrap();
        c.add(&bananas(), AddHow::Grams(100), None, 2).unwrap();
        assert_eq!(c.add(&bananas(), AddHow::Grams(100), None, 2), Err(CartError::TooManyLines { max: 2 }));
        assert_eq!(c.add(&water(), AddHow::Units(1), None, 2), Ok(1));
    }

    #[test]
    fn a_refused_merge_leaves_the_line_as_it_was() {
        let mut c = cart();
        c.add(&water(), AddHow::Units(100_000), None, 300).unwrap();
        assert_eq!(c.add(&water(), AddHow::Units(1), None, 300), Err(CartError::TooLarge { qty: 100_001 }));
        assert_eq!(c.lines[0].qty, Quantity::Units(100_000));
        assert_eq!(c.next_line_no, 2);
    }

    #[test]
    fn inactive_products_are_not_sold() {
        let mut c = cart();
        let p = Product { active: false, ..water() };
        assert_eq!(c.add(&p, AddHow::Units(1), None, 300), Err(CartError::Inactive { sku: "SKU-010001".into() }));
    }
}
