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
    if let Some((index, &value)) = revenue_fen.iter().enumerate().find(|(_, &r)| r < 0) {
        return Err(AnalysisError::NegativeEntry {
            field: "revenue_fen",
            index,
            value,
        });
    }
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
    if let Some((index, &value)) = daily_qty.iter().enumerate().find(|(_, &q)| q < 0) {
        return Err(AnalysisError::NegativeEntry {
            field: "daily_qty",
            index,
            value,
        });
    }
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
}
