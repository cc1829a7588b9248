//! Stocktake (盘点) arithmetic: what a count scope covers, when two scopes overlap, how an
//! approved line is booked in the ledger, and the variance report's units and money.
//!
//! Pure: the caller passes the products, the on-hand figures and the money basis; nothing here
//! reads the store or the clock. Quantities are in the product's stock unit (pieces, or grams for
//! weighed goods); money is i64 fen, priced per piece or per kilogram like the catalog.

use serde::{Deserialize, Serialize};

use super::stock::MoveKind;

/// What a stocktake counts. A zone is frozen at opening (its categories and SKUs copied), so
/// editing the zone later does not move an open count's boundary. Externally tagged (stored
/// with postcard, which cannot read internally tagged enums).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every product.
    Full,
    /// Products of these categories (cycle count).
    Categories { categories: Vec<String> },
    /// A named zone's categories and SKUs, as they were when the count opened.
    Zone { zone: String, categories: Vec<String>, skus: Vec<String> },
    /// These SKUs only.
    Skus { skus: Vec<String> },
}

impl Scope {
    /// `(categories, skus)` the scope names; `None` for a full count.
    pub fn parts(&self) -> Option<(&[String], &[String])> {
        match self {
            Scope::Full => None,
            Scope::Categories { categories } => Some((categories, &[])),
            Scope::Zone { categories, skus, .. } => Some((categories, skus)),
            Scope::Skus { skus } => Some((&[], skus)),
        }
    }

    /// Whether a product (its sku and category) is inside the scope.
    pub fn contains(&self, sku: &str, category: &str) -> bool {
        match self.parts() {
            None => true,
            Some((cats, skus)) => cats.iter().any(|c| c == category) || skus.iter().any(|s| s == sku),
        }
    }

    /// The scope for people: `full`, `categories 饮料, 水果`, `zone A (…)`, `skus …`.
    pub fn describe(&self) -> String {
        match self {
            Scope::Full => "full".into(),
            Scope::Categories { categories } => format!("categories {}", categories.join(", ")),
            Scope::Zone { zone, .. } => format!("zone {zone}"),
            Scope::Skus { skus } => format!("skus {}", skus.join(", ")),
        }
    }
}

/// Whether two scopes can count the same product: a full count overlaps everything; otherwise
/// they share a category or a SKU, or one names a SKU whose category (`category_of`) the other
/// names. A SKU `category_of` does not know overlaps only by name.
pub fn scopes_overlap(a: &Scope, b: &Scope, category_of: impl Fn(&str) -> Option<String>) -> bool {
    let (Some((ac, asku)), Some((bc, bsku))) = (a.parts(), b.parts()) else { return true };
    if ac.iter().any(|c| bc.contains(c)) || asku.iter().any(|s| bsku.contains(s)) {
        return true;
    }
    let sku_in = |skus: &[String], cats: &[String]| skus.iter().any(|s| category_of(s).is_some_and(|c| cats.contains(&c)));
    sku_in(asku, bc) || sku_in(bsku, ac)
}

/// The ledger move that books one approved line: `(kind, qty)` for `inventory::record_move`, or
/// `None` when the count agreed with the books (nothing to book).
///
/// The variance is `counted − on_hand_at_count`, fixed when the line was last counted, and it is
/// booked as a *change* so that sales and receipts between the count and the approval stay in
/// the books. Normally that is a `Stocktake` move whose absolute figure is `on_hand_now +
/// variance` (so `move_delta` gives exactly the variance and the ledger reads "stocktake"). When
/// that figure would be negative (the books fell further than the count explains), a stocktake
/// move cannot say it, so the variance is booked as a signed `Adjustment`.
pub fn booking(counted: i64, on_hand_at_count: i64, on_hand_now: i64) -> Option<(MoveKind, i64)> {
    let variance = counted.checked_sub(on_hand_at_count)?;
    if variance == 0 {
        return None;
    }
    match on_hand_now.checked_add(variance) {
        Some(target) if target >= 0 => Some((MoveKind::Stocktake, target)),
        _ => Some((MoveKind::Adjustment, variance)),
    }
}

/// Which price values a variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueBasis {
    /// The product's cost (`cost_fen`).
    Cost,
    /// Its shelf price, when it has no cost.
    Price,
}

/// One SKU as the variance report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarianceInput {
    pub sku: String,
    /// On hand when it was counted (or now, for an uncounted SKU).
    pub expected: i64,
    /// `None`: not counted.
    pub counted: Option<i64>,
    /// `cost_fen`, else `price_fen`, per piece or per kg.
    pub unit_value_fen: i64,
    pub basis: ValueBasis,
    /// Quantities are grams and `unit_value_fen` is per kilogram.
    pub weighed: bool,
}

/// One row of the variance report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceRow {
    pub sku: String,
    pub expected: i64,
    pub counted: i64,
    /// counted − expected (pieces or grams).
    pub variance: i64,
    /// variance × unit value, fen (per kg value × grams / 1000, half away from zero).
    pub variance_fen: i64,
    pub unit_value_fen: i64,
    pub basis: ValueBasis,
}

/// The report: counted rows, uncounted SKUs and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VarianceTotals {
    /// Σ of the negative variances' value, as a positive number of fen (what went missing).
    pub shrinkage_fen: i64,
    /// Σ of the positive variances' value, fen (found goods).
    pub surplus_fen: i64,
    /// surplus − shrinkage.
    pub net_fen: i64,
    /// Rows with a variance below / above zero.
    pub short_lines: usize,
    pub over_lines: usize,
    pub counted_lines: usize,
    pub uncounted: usize,
}

/// Value of `qty` at `unit_value_fen` (per piece, or per kg when `weighed`), rounded half away
/// from zero; saturates instead of overflowing.
pub fn value_fen(qty: i64, unit_value_fen: i64, weighed: bool) -> i64 {
    let n = i128::from(qty) * i128::from(unit_value_fen);
    let v = if weighed { super::money::round_half_up_div(n, 1000) } else { n };
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The variance rows (counted SKUs, in input order), the uncounted SKUs and the totals.
pub fn variance_report(inputs: &[VarianceInput]) -> (Vec<VarianceRow>, Vec<String>, VarianceTotals) {
    let mut rows = Vec::new();
    let mut uncounted = Vec::new();
    let mut t = VarianceTotals::default();
    for i in inputs {
        let Some(counted) = i.counted else {
            uncounted.push(i.sku.clone());
            continue;
        };
        let variance = counted.saturating_sub(i.expected);
        let variance_fen = value_fen(variance, i.unit_value_fen, i.weighed);
        t.counted_lines += 1;
        if variance < 0 {
            t.short_lines += 1;
            t.shrinkage_fen = t.shrinkage_fen.saturating_add(variance_fen.saturating_neg());
        } else if variance > 0 {
            t.over_lines += 1;
            t.surplus_fen = t.surplus_fen.saturating_add(variance_fen);
        }
        rows.push(VarianceRow { sku: i.sku.clone(), expected: i.expected, counted, variance, variance_fen, unit_value_fen: i.unit_value_fen, basis: i.basis });
    }
    t.uncounted = uncounted.len();
    t.net_fen = t.surplus_fen.saturating_sub(t.shrinkage_fen);
    (rows, uncounted, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scopes_contain_and_overlap() {
        let drinks = Scope::Categories { categories: s(&["饮料"]) };
        let fruit = Scope::Categories { categories: s(&["水果"]) };
        let water = Scope::Skus { skus: s(&["SKU-010001"]) };
        let zone = Scope::Zone { zone: "front".into(), categories: s(&["零食"]), skus: s(&["SKU-020001"]) };
        let cat = |sku: &str| match sku {
            "SKU-010001" => Some("饮料".to_string()),
            "SKU-020001" => Some("水果".to_string()),
            _ => None,
        };
        assert!(drinks.contains("SKU-010001", "饮料") && !drinks.contains("SKU-020001", "水果"));
        assert!(zone.contains("SKU-020001", "水果") && zone.contains("X", "零食") && !zone.contains("X", "饮料"));
        assert!(scopes_overlap(&Scope::Full, &fruit, cat));
        assert!(!scopes_overlap(&drinks, &fruit, cat));
        assert!(scopes_overlap(&drinks, &water, cat), "water is a drink");
        assert!(scopes_overlap(&fruit, &zone, cat), "the zone names bananas, a fruit");
        assert!(!scopes_overlap(&water, &zone, cat));
        assert!(scopes_overlap(&water, &Scope::Skus { skus: s(&["SKU-010001"]) }, |_| None));
    }

    #[test]
    fn a_sale_between_count_and_approval_stays_booked() {
        // Counted 17 when the books said 20: variance −3. Two sold since (books 18): the
        // stocktake move sets 15, a change of −3, and the two sales stay.
        assert_eq!(booking(17, 20, 18), Some((MoveKind::Stocktake, 15)));
        // A receipt of 12 since the count (books 32): 29, still −3.
        assert_eq!(booking(17, 20, 32), Some((MoveKind::Stocktake, 29)));
        // Found 4 more than the books (surplus).
        assert_eq!(booking(24, 20, 20), Some((MoveKind::Stocktake, 24)));
        // Agreed: nothing to book.
        assert_eq!(booking(20, 20, 5), None);
        // Counted 2 of 10, then 9 sold (books 1): 1 − 8 < 0, booked as an adjustment of −8.
        assert_eq!(booking(2, 10, 1), Some((MoveKind::Adjustment, -8)));
    }

    #[test]
    fn variance_in_units_and_money() {
        let inputs = vec![
            // Water: counted 17 of 20 at cost ¥1.50 → −3 × 150 = −450.
            VarianceInput { sku: "W".into(), expected: 20, counted: Some(17), unit_value_fen: 150, basis: ValueBasis::Cost, weighed: false },
            // Bananas: 2 350 g counted of 2 000 g at ¥5.00/kg cost → +350 g = +175 fen.
            VarianceInput { sku: "B".into(), expected: 2_000, counted: Some(2_350), unit_value_fen: 500, basis: ValueBasis::Cost, weighed: true },
            // No cost: valued at price ¥3.99; 1 short → −399.
            VarianceInput { sku: "P".into(), expected: 5, counted: Some(4), unit_value_fen: 399, basis: ValueBasis::Price, weighed: false },
            VarianceInput { sku: "Q".into(), expected: 7, counted: Some(7), unit_value_fen: 100, basis: ValueBasis::Cost, weighed: false },
            VarianceInput { sku: "U".into(), expected: 9, counted: None, unit_value_fen: 100, basis: ValueBasis::Cost, weighed: false },
        ];
        let (rows, uncounted, t) = variance_report(&inputs);
        assert_eq!(rows.iter().map(|r| (r.variance, r.variance_fen)).collect::<Vec<_>>(), vec![(-3, -450), (350, 175), (-1, -399), (0, 0)]);
        assert_eq!(uncounted, vec!["U".to_string()]);
        assert_eq!((t.shrinkage_fen, t.surplus_fen, t.net_fen), (849, 175, -674));
        assert_eq!((t.short_lines, t.over_lines, t.counted_lines, t.uncounted), (2, 1, 4, 1));
        // Half away from zero on grams: 333 g at ¥4.99/kg = 166.167 → 166; −1 g at ¥5.00 = −0.5 → −1.
        assert_eq!(value_fen(333, 499, true), 166);
        assert_eq!(value_fen(-1, 500, true), -1);
    }
}
