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
