//! Stock analysis (pure): ABC classes by revenue share, XYZ classes by demand variability, slow
//! movers and dead stock with the value they tie up, stock turnover days and the over-stock
//! list. Callers (`src/inventory/`) pass per-SKU figures for the period; nothing here does I/O,
//! reads the clock or panics. Formulas and conventions: docs/stock-intelligence.md, section
//! "Analysis". ABC is the Pareto classification of inventory (Dickie, "ABC inventory analysis
//! shoots for dollars, not pennies", Factory Management and Maintenance, 1951); XYZ by the
//! coefficient of variation of demand is the usual companion (e.g. Scholz-Reiter et al. 2012).

use serde::{Deserialize, Serialize};

/// ABC class of a SKU by its share of revenue: A the few that make most of it, C the many
/// that make little.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AbcClass {
    /// The top of the revenue ranking (default: the first 80 % of revenue).
    A,
    /// The middle (default: the next 15 %).
    B,
    /// The rest, and every SKU without revenue.
    C,
}

/// What was wrong with the input of an analysis; each variant names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    /// The ABC cut-offs do not add up to 100 %.
    #[error("abc cut-offs: a_bp + b_bp + c_bp must be 10000 bp, got {a_bp} + {b_bp} + {c_bp}")]
    AbcCutoffs {
        /// A share, bp.
        a_bp: u32,
        /// B share, bp.
        b_bp: u32,
        /// C share, bp.
        c_bp: u32,
    },
    /// The XYZ cut-offs are not finite with 0 ≤ x ≤ y.
    #[error("xyz cut-offs: need finite 0 ≤ x_max_cv ≤ y_max_cv, got {x_max_cv} and {y_max_cv}")]
    XyzCutoffs {
        /// X limit.
        x_max_cv: f64,
        /// Y limit.
        y_max_cv: f64,
    },
    /// Slow after more days than dead.
    #[error("stock age: slow_after_days ({slow}) must not exceed dead_after_days ({dead})")]
    StockAgeParams {
        /// slow_after_days.
        slow: u32,
        /// dead_after_days.
        dead: u32,
    },
    /// A negative entry in a list, e.g. `revenue_fen[3]: negative value -200`.
    #[error("{field}[{index}]: negative value {value}")]
    NegativeEntry {
        /// The list, e.g. `revenue_fen`.
        field: &'static str,
        /// Position in the list.
        index: usize,
        /// The value given.
        value: i64,
    },
    /// A negative single value, e.g. `cost_of_sales_fen: negative value -5`.
    #[error("{field}: negative value {value}")]
    Negative {
        /// The field.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// A demand series without any day.
    #[error("daily_qty: empty series")]
    EmptySeries,
    /// A period of zero days.
    #[error("period_days: must be at least 1, got 0")]
    ZeroPeriod,
    /// An over-stock factor below 1×.
    #[error("factor_bp: must be at least 10000 (1×), got {0}")]
    OverstockFactor(u32),
}

/// `Err(NegativeEntry)` for the first negative value of a list.
fn check_entries(
    field: &'static str,
    values: impl IntoIterator<Item = i64>,
) -> Result<(), AnalysisError> {
    match values.into_iter().enumerate().find(|&(_, v)| v < 0) {
        Some((index, value)) => Err(AnalysisError::NegativeEntry {
            field,
            index,
            value,
        }),
        None => Ok(()),
    }
}

/// ABC cut-offs as shares of total revenue, bp; they must add up to 10 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbcCutoffs {
    /// Share of revenue made by class A (default 8000 = 80 %).
    pub a_bp: u32,
    /// Share made by class B (default 1500 = 15 %).
    pub b_bp: u32,
    /// Share made by class C (default 500 = 5 %).
    pub c_bp: u32,
}

impl Default for AbcCutoffs {
    fn default() -> Self {
        AbcCutoffs {
            a_bp: 8000,
            b_bp: 1500,
            c_bp: 500,
        }
    }
}

/// ABC class of each SKU from its revenue in the period (fen), in the input order.
///
/// SKUs are ranked by revenue, highest first. A SKU's **share before** is the revenue of all
/// SKUs with strictly higher revenue ÷ total revenue. Class A when share before < a, B when
/// < a + b, else C: so the SKU that crosses the 80 % line is still A (a single SKU making 90 %
/// of revenue is A). **Ties**: SKUs with equal revenue have the same share before and so the same
/// class, whatever their order. **Zero revenue** is always C (also when total revenue is 0).
/// Negative revenue (returns exceeding sales) is an error: callers clamp or exclude it.
pub fn abc_classes(
    revenue_fen: &[i64],
    cutoffs: &AbcCutoffs,
) -> Result<Vec<AbcClass>, AnalysisError> {
    let AbcCutoffs { a_bp, b_bp, c_bp } = *cutoffs;
    if u64::from(a_bp) + u64::from(b_bp) + u64::from(c_bp) != 10_000 {
        return Err(AnalysisError::AbcCutoffs { a_bp, b_bp, c_bp });
    }
    check_entries("revenue_fen", revenue_fen.iter().copied())?;
    let total: i128 = revenue_fen.iter().map(|&r| i128::from(r)).sum();
    let mut order: Vec<usize> = (0..revenue_fen.len()).collect();
    order.sort_by(|&i, &j| revenue_fen[j].cmp(&revenue_fen[i]).then(i.cmp(&j)));
    let mut classes = vec![AbcClass::C; revenue_fen.len()];
    let mut higher: i128 = 0; // revenue of SKUs strictly above the current tie group
    let mut k = 0;
    while k < order.len() {
        let revenue = revenue_fen[order[k]];
        let group_end = order[k..]
            .iter()
            .position(|&i| revenue_fen[i] != revenue)
            .map_or(order.len(), |n| k + n);
        let before = higher * 10_000;
        let class = if revenue == 0 {
            AbcClass::C
        } else if before < i128::from(a_bp) * total {
            AbcClass::A
        } else if before < i128::from(a_bp + b_bp) * total {
            AbcClass::B
        } else {
            AbcClass::C
        };
        for &i in &order[k..group_end] {
            classes[i] = class;
        }
        higher += i128::from(revenue) * (group_end - k) as i128;
        k = group_end;
    }
    Ok(classes)
}

/// XYZ class of a SKU by the variability of its daily demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum XyzClass {
    /// Steady demand: coefficient of variation ≤ `x_max_cv`.
    X,
    /// Variable: ≤ `y_max_cv`.
    Y,
    /// Erratic, sporadic, or no demand at all.
    Z,
}

/// XYZ cut-offs on the coefficient of variation (CV) of daily demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct XyzCutoffs {
    /// X when CV ≤ this (default 0.5).
    pub x_max_cv: f64,
    /// Y when CV ≤ this (default 1.0); Z above.
    pub y_max_cv: f64,
}

impl Default for XyzCutoffs {
    fn default() -> Self {
        XyzCutoffs {
            x_max_cv: 0.5,
            y_max_cv: 1.0,
        }
    }
}

/// Coefficient of variation of daily demand: population standard deviation (÷ n) ÷ mean.
/// `None` when the mean is 0 (no demand in the period). The caller passes one entry per day,
/// zero days included (stock-out days are better left out: they are not zero demand).
pub fn demand_cv(daily_qty: &[i64]) -> Result<Option<f64>, AnalysisError> {
    if daily_qty.is_empty() {
        return Err(AnalysisError::EmptySeries);
    }
    check_entries("daily_qty", daily_qty.iter().copied())?;
    let n = daily_qty.len() as f64;
    let mean = daily_qty.iter().map(|&q| q as f64).sum::<f64>() / n;
    if mean <= 0.0 {
        return Ok(None);
    }
    let var = daily_qty
        .iter()
        .map(|&q| (q as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    Ok(Some(var.sqrt() / mean))
}

/// XYZ class from daily demand: X when CV ≤ `x_max_cv`, Y when CV ≤ `y_max_cv`, else Z; a SKU
/// with no demand in the period is Z. CV as in [`demand_cv`].
pub fn xyz_class(daily_qty: &[i64], cutoffs: &XyzCutoffs) -> Result<XyzClass, AnalysisError> {
    let XyzCutoffs { x_max_cv, y_max_cv } = *cutoffs;
    if !(x_max_cv.is_finite() && y_max_cv.is_finite() && 0.0 <= x_max_cv && x_max_cv <= y_max_cv) {
        return Err(AnalysisError::XyzCutoffs { x_max_cv, y_max_cv });
    }
    Ok(match demand_cv(daily_qty)? {
        Some(cv) if cv <= x_max_cv => XyzClass::X,
        Some(cv) if cv <= y_max_cv => XyzClass::Y,
        _ => XyzClass::Z,
    })
}

/// Slow-mover and dead-stock limits, days without a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockAgeParams {
    /// Slow mover when the last sale is at least this many days ago (e.g. 30).
    pub slow_after_days: u32,
    /// Dead stock when the last sale is at least this many days ago, or never (e.g. 90).
    pub dead_after_days: u32,
}

/// One SKU's stock and last sale, for [`slow_and_dead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockItem {
    /// Units on hand (≤ 0: nothing tied up, never slow or dead).
    pub on_hand: i64,
    /// Unit cost, fen (≥ 0).
    pub unit_cost_fen: i64,
    /// Whole days from the last sale to the analysis date (0 = sold today); `None` = no sale in
    /// the history the caller has.
    pub days_since_last_sale: Option<u32>,
}

/// How a SKU with stock on hand is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StockAge {
    /// Sold within `slow_after_days`, or nothing on hand.
    Moving,
    /// No sale for `slow_after_days` or more, with stock on hand.
    Slow,
    /// No sale for `dead_after_days` or more (or never), with stock on hand.
    Dead,
}

/// A slow or dead SKU with the value it ties up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgedStock {
    /// Position in the input.
    pub index: usize,
    /// Slow or Dead.
    pub age: StockAge,
    /// on hand × unit cost, fen (saturating).
    pub value_fen: i64,
}

/// The [`StockAge`] of one SKU (see the variants; limits are inclusive).
pub fn stock_age(item: &StockItem, params: &StockAgeParams) -> StockAge {
    if item.on_hand <= 0 {
        return StockAge::Moving;
    }
    match item.days_since_last_sale {
        None => StockAge::Dead,
        Some(d) if d >= params.dead_after_days => StockAge::Dead,
        Some(d) if d >= params.slow_after_days => StockAge::Slow,
        Some(_) => StockAge::Moving,
    }
}

/// The slow movers and dead stock among `items`, most value tied up first (ties: input order).
pub fn slow_and_dead(
    items: &[StockItem],
    params: &StockAgeParams,
) -> Result<Vec<AgedStock>, AnalysisError> {
    if params.slow_after_days > params.dead_after_days {
        return Err(AnalysisError::StockAgeParams {
            slow: params.slow_after_days,
            dead: params.dead_after_days,
        });
    }
    check_entries("unit_cost_fen", items.iter().map(|i| i.unit_cost_fen))?;
    let mut out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let age = stock_age(item, params);
        if age != StockAge::Moving {
            out.push(AgedStock {
                index,
                age,
                value_fen: item.on_hand.saturating_mul(item.unit_cost_fen),
            });
        }
    }
    out.sort_by(|x, y| y.value_fen.cmp(&x.value_fen).then(x.index.cmp(&y.index)));
    Ok(out)
}

/// Stock turnover in days: average stock value ÷ daily cost of sales, where daily cost of sales
/// = `cost_of_sales_fen` ÷ `period_days`; i.e. average stock × period ÷ cost of sales. Both values
/// at cost, fen, over the same period. **Zero sales**: `None` (the stock does not turn over;
/// shown as "—"), whatever the stock.
pub fn turnover_days(
    average_stock_fen: i64,
    cost_of_sales_fen: i64,
    period_days: u32,
) -> Result<Option<f64>, AnalysisError> {
    if period_days == 0 {
        return Err(AnalysisError::ZeroPeriod);
    }
    for (field, value) in [
        ("average_stock_fen", average_stock_fen),
        ("cost_of_sales_fen", cost_of_sales_fen),
    ] {
        if value < 0 {
            return Err(AnalysisError::Negative { field, value });
        }
    }
    if cost_of_sales_fen == 0 {
        return Ok(None);
    }
    Ok(Some(
        average_stock_fen as f64 * f64::from(period_days) / cost_of_sales_fen as f64,
    ))
}

/// One SKU's on hand and order-up-to level, for [`overstock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Units on hand.
    pub on_hand: i64,
    /// Order-up-to level S from the replenishment suggestion (≥ 0).
    pub order_up_to: i64,
}

/// An over-stocked SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overstock {
    /// Position in the input.
    pub index: usize,
    /// on hand − order-up-to, units (what the shop would not have bought).
    pub excess_units: i64,
}

/// The over-stock list: SKUs with on hand > order-up-to × factor (`factor_bp` ≥ 10 000, e.g.
/// 15 000 = 1.5×; strictly above). A SKU with order-up-to 0 (no forecast demand) is over-stocked
/// with any stock on hand. Most excess first (ties: input order).
pub fn overstock(levels: &[StockLevel], factor_bp: u32) -> Result<Vec<Overstock>, AnalysisError> {
    if factor_bp < 10_000 {
        return Err(AnalysisError::OverstockFactor(factor_bp));
    }
    check_entries("order_up_to", levels.iter().map(|l| l.order_up_to))?;
    let mut out = Vec::new();
    for (index, level) in levels.iter().enumerate() {
        let limit = i128::from(level.order_up_to) * i128::from(factor_bp);
        if i128::from(level.on_hand) * 10_000 > limit {
            out.push(Overstock {
                index,
                excess_units: level.on_hand.saturating_sub(level.order_up_to),
            });
        }
    }
    out.sort_by(|x, y| {
        y.excess_units
            .cmp(&x.excess_units)
            .then(x.index.cmp(&y.index))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AbcClass::{A, B, C};

    #[test]
    fn abc_by_revenue_share_80_15_5() {
        // Total 1000 fen. Ranked: 500 (before 0 %) A, 300 (50 %) A, 100 (80 %, not < 80) B,
        // 50 (90 %) B, 30 (95 %, not < 95) C, 20 (98 %) C, 0 → C. Input shuffled.
        let revenue = [30, 500, 0, 100, 20, 300, 50];
        let got = abc_classes(&revenue, &AbcCutoffs::default()).unwrap();
        assert_eq!(got, vec![C, A, C, B, C, A, B]);
    }

    #[test]
    fn abc_one_big_sku_is_a_and_ties_share_a_class() {
        // 900 of 1000: share before 0 → A; 100: before 90 % → B.
        assert_eq!(
            abc_classes(&[100, 900], &AbcCutoffs::default()).unwrap(),
            vec![B, A]
        );
        // Cut-offs 50/30/20, total 1000: the three 300s all have share before 0 → A (ties
        // share the class even though the third one starts at 60 %); 100: before 90 % → C.
        let cut = AbcCutoffs {
            a_bp: 5000,
            b_bp: 3000,
            c_bp: 2000,
        };
        assert_eq!(
            abc_classes(&[300, 100, 300, 300], &cut).unwrap(),
            vec![A, C, A, A]
        );
        // No revenue at all → all C; empty → empty.
        assert_eq!(abc_classes(&[0, 0], &cut).unwrap(), vec![C, C]);
        assert_eq!(abc_classes(&[], &cut).unwrap(), vec![]);
    }

    #[test]
    fn abc_bad_input() {
        let bad = AbcCutoffs {
            a_bp: 8000,
            b_bp: 1500,
            c_bp: 400,
        };
        assert_eq!(
            abc_classes(&[1], &bad).unwrap_err().to_string(),
            "abc cut-offs: a_bp + b_bp + c_bp must be 10000 bp, got 8000 + 1500 + 400"
        );
        assert_eq!(
            abc_classes(&[1, 2, 3, -200], &AbcCutoffs::default())
                .unwrap_err()
                .to_string(),
            "revenue_fen[3]: negative value -200"
        );
        // Extreme values do not overflow.
        assert_eq!(
            abc_classes(&[i64::MAX, i64::MAX, 1], &AbcCutoffs::default()).unwrap(),
            vec![A, A, C]
        );
    }

    #[test]
    fn xyz_by_coefficient_of_variation() {
        let cut = XyzCutoffs::default();
        // [10, 10, 10, 10]: sd 0 → CV 0 → X.
        assert_eq!(xyz_class(&[10, 10, 10, 10], &cut).unwrap(), XyzClass::X);
        // [5, 15, 5, 15]: mean 10, sd 5 → CV 0.5 → X (≤ 0.5).
        assert_eq!(demand_cv(&[5, 15, 5, 15]).unwrap(), Some(0.5));
        assert_eq!(xyz_class(&[5, 15, 5, 15], &cut).unwrap(), XyzClass::X);
        // [2, 4, 6, 8]: mean 5, var (9 + 1 + 1 + 9)/4 = 5, CV √5/5 = 0.447 → X.
        let cv = demand_cv(&[2, 4, 6, 8]).unwrap().unwrap();
        assert!((cv - 0.447_213_6).abs() < 1e-6);
        // [0, 20, 0, 20]: mean 10, sd 10 → CV 1.0 → Y.
        assert_eq!(xyz_class(&[0, 20, 0, 20], &cut).unwrap(), XyzClass::Y);
        // [0, 0, 0, 40]: mean 10, var (3 × 100 + 900)/4 = 300, CV 17.32/10 = 1.732 → Z.
        assert_eq!(xyz_class(&[0, 0, 0, 40], &cut).unwrap(), XyzClass::Z);
        // No demand → CV undefined → Z.
        assert_eq!(demand_cv(&[0, 0]).unwrap(), None);
        assert_eq!(xyz_class(&[0, 0], &cut).unwrap(), XyzClass::Z);
    }

    #[test]
    fn xyz_bad_input() {
        let cut = XyzCutoffs::default();
        assert_eq!(xyz_class(&[], &cut), Err(AnalysisError::EmptySeries));
        assert_eq!(
            xyz_class(&[1, -2], &cut).unwrap_err().to_string(),
            "daily_qty[1]: negative value -2"
        );
        let bad = XyzCutoffs {
            x_max_cv: 1.0,
            y_max_cv: 0.5,
        };
        assert!(xyz_class(&[1], &bad)
            .unwrap_err()
            .to_string()
            .starts_with("xyz cut-offs:"));
        let nan = XyzCutoffs {
            x_max_cv: f64::NAN,
            y_max_cv: 0.5,
        };
        assert!(xyz_class(&[1], &nan).is_err());
    }

    #[test]
    fn slow_movers_and_dead_stock_with_value_tied_up() {
        let params = StockAgeParams {
            slow_after_days: 30,
            dead_after_days: 90,
        };
        let item = |on_hand, unit_cost_fen, days| StockItem {
            on_hand,
            unit_cost_fen,
            days_since_last_sale: days,
        };
        let items = [
            item(10, 500, Some(3)),   // 0: sold 3 days ago → moving
            item(4, 1_250, Some(30)), // 1: 30 days (limit inclusive) → slow, 4 × 12.50 = 5 000 fen
            item(20, 800, Some(120)), // 2: 120 ≥ 90 → dead, 20 × 8.00 = 16 000 fen
            item(2, 2_500, None),     // 3: never sold → dead, 5 000 fen
            item(0, 900, None),       // 4: nothing on hand → not listed
            item(-3, 900, Some(200)), // 5: negative on hand → not listed
            item(1, 300, Some(89)),   // 6: 89 < 90 → slow, 300 fen
        ];
        let got = slow_and_dead(&items, &params).unwrap();
        let summary: Vec<_> = got.iter().map(|a| (a.index, a.age, a.value_fen)).collect();
        assert_eq!(
            summary,
            vec![
                (2, StockAge::Dead, 16_000),
                (1, StockAge::Slow, 5_000), // tie with 3 at 5 000: input order
                (3, StockAge::Dead, 5_000),
                (6, StockAge::Slow, 300),
            ]
        );
        let dead_fen: i64 = got
            .iter()
            .filter(|a| a.age == StockAge::Dead)
            .map(|a| a.value_fen)
            .sum();
        assert_eq!(dead_fen, 21_000);
        assert_eq!(stock_age(&items[0], &params), StockAge::Moving);

        let bad = StockAgeParams {
            slow_after_days: 100,
            dead_after_days: 90,
        };
        assert!(slow_and_dead(&items, &bad).is_err());
        assert_eq!(
            slow_and_dead(&[item(1, -5, None)], &params)
                .unwrap_err()
                .to_string(),
            "unit_cost_fen[0]: negative value -5"
        );
    }

    #[test]
    fn turnover_days_worked() {
        // Average stock ¥3 000 = 300 000 fen, cost of sales ¥9 000 over 90 days = 10 000 fen/day
        // → 300 000 / 10 000 = 30 days.
        assert_eq!(turnover_days(300_000, 900_000, 90).unwrap(), Some(30.0));
        // ¥500 = 50 000 fen average, ¥2 000 = 200 000 fen over 30 days:
        // 50 000 × 30 / 200 000 = 7.5 days.
        assert_eq!(turnover_days(50_000, 200_000, 30).unwrap(), Some(7.5));
        // Zero sales → None; no stock and sales → 0 days.
        assert_eq!(turnover_days(300_000, 0, 90).unwrap(), None);
        assert_eq!(turnover_days(0, 0, 90).unwrap(), None);
        assert_eq!(turnover_days(0, 1_000, 90).unwrap(), Some(0.0));
        assert_eq!(turnover_days(1, 1, 0), Err(AnalysisError::ZeroPeriod));
        assert_eq!(
            turnover_days(1, -5, 30).unwrap_err().to_string(),
            "cost_of_sales_fen: negative value -5"
        );
    }

    #[test]
    fn overstock_list_above_factor() {
        let l = |on_hand, order_up_to| StockLevel {
            on_hand,
            order_up_to,
        };
        // Factor 1.5×: 100 > 60 × 1.5 = 90 → excess 40; 90 = 90 not above; 5 > 0 × 1.5 → excess 5;
        // 0 with S 0 → no; 400 > 200 × 1.5 = 300 → excess 200.
        let got = overstock(
            &[l(100, 60), l(90, 60), l(5, 0), l(0, 0), l(400, 200)],
            15_000,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Overstock {
                    index: 4,
                    excess_units: 200
                },
                Overstock {
                    index: 0,
                    excess_units: 40
                },
                Overstock {
                    index: 2,
                    excess_units: 5
                },
            ]
        );
        assert_eq!(
            overstock(&[l(1, 1)], 9_999).unwrap_err().to_string(),
            "factor_bp: must be at least 10000 (1×), got 9999"
        );
        assert!(overstock(&[l(1, -1)], 10_000).is_err());
        assert_eq!(overstock(&[l(i64::MAX, 0)], u32::MAX).unwrap().len(), 1);
    }
}
