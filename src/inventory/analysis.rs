//! Stock analysis for the dashboard's stock pages: ABC by revenue, XYZ by demand variability,
//! slow movers and dead stock, turnover days, over-stock.
//!
//! This module gathers the figures from the store (sales, returns, the stock ledger, the demand
//! series, the latest replenishment run) for the `[stock].analysis_days` whole shop-local days
//! before `today`; every decision is `domain::abc`'s. ABC ranks by the demand series' net
//! revenue, the figure the replenishment run's ABC uses too. It changes no business state (it
//! only brings the derived demand rollup up to yesterday, as the daily run would). Values are
//! at cost (`cost_fen`); a product without a recorded cost is valued at its price, and its row
//! says so (`valued_at` = `price`). Conventions: docs/stock-intelligence.md, "Stock analysis".

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::catalog::{Product, Unit};
use crate::domain::abc::{self, AbcClass, AbcCutoffs, AnalysisError, StockAge, StockAgeParams, StockItem, XyzClass, XyzCutoffs};
use crate::domain::stock::MoveKind;
use crate::inventory::StockMove;
use crate::store::{Store, StoreError, TreeId};

/// The lists one can ask for (`?list=`, `--list`).
pub const LISTS: [&str; 6] = ["abc", "xyz", "slow", "dead", "turnover", "overstock"];

/// The `[stock]` rules the analysis uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisParams {
    pub days: u32,
    pub abc: AbcCutoffs,
    pub xyz: XyzCutoffs,
    pub age: StockAgeParams,
    pub overstock_factor_bp: u32,
}

impl AnalysisParams {
    pub fn from_config(c: &crate::config::StockConfig) -> AnalysisParams {
        AnalysisParams {
            days: c.analysis_days,
            abc: AbcCutoffs { a_bp: c.abc_a_bp, b_bp: c.abc_b_bp, c_bp: 10_000u32.saturating_sub(c.abc_a_bp + c.abc_b_bp) },
            xyz: XyzCutoffs { x_max_cv: f64::from(c.xyz_x_max_cv_bp) / 10_000.0, y_max_cv: f64::from(c.xyz_y_max_cv_bp) / 10_000.0 },
            age: StockAgeParams { slow_after_days: c.slow_after_days, dead_after_days: c.dead_after_days },
            overstock_factor_bp: c.overstock_factor_bp,
        }
    }
}

/// How a value was worked out: at cost, or at the price when no cost is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValuedAt {
    Cost,
    Price,
}

/// One SKU's ABC and XYZ classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRow {
    pub sku: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    /// Line net amounts of the window's sales, minus the window's refunds, never below 0.
    pub revenue_fen: i64,
    /// Share of the window's revenue, bp, and the running total down the ranking.
    pub share_bp: i64,
    pub cumulative_bp: i64,
    pub abc: AbcClass,
    pub xyz: XyzClass,
    /// Coefficient of variation of daily demand (`None`: no demand).
    pub cv: Option<f64>,
    /// Days counted for the CV (stock-out days of the demand series left out).
    pub demand_days: u32,
}

/// A slow mover or dead stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgedRow {
    pub sku: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    /// `slow` or `dead`.
    pub age: String,
    pub on_hand: i64,
    /// Pieces, or grams for weighed goods.
    pub unit: Option<Unit>,
    /// Shop-local day of the last sale (today included) within the days looked at (`None`: none).
    pub last_sale_day: Option<NaiveDate>,
    pub days_since_last_sale: Option<u32>,
    /// Value tied up, fen.
    pub value_fen: i64,
    pub valued_at: ValuedAt,
}

/// One SKU's turnover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnoverRow {
    pub sku: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    /// Mean of the window's end-of-day stock (negative counted as 0), valued, fen.
    pub average_stock_fen: i64,
    /// Net units sold in the window (returns netted), valued, fen.
    pub cost_of_sales_fen: i64,
    /// `None`: nothing sold, the stock does not turn over.
    pub turnover_days: Option<f64>,
    pub valued_at: ValuedAt,
}

/// An over-stocked SKU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverstockRow {
    pub sku: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub on_hand: i64,
    pub order_up_to: i64,
    pub excess_units: i64,
    pub excess_value_fen: i64,
    pub valued_at: ValuedAt,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockAnalysis {
    /// The day it was made for; the window is `from ..= to`, the `days` days before it.
    pub as_of: NaiveDate,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub params: AnalysisParams,
    pub total_revenue_fen: i64,
    /// Ranked by revenue, highest first.
    pub classes: Vec<ClassRow>,
    /// SKU counts: `matrix[abc][xyz]`, A/B/C × X/Y/Z.
    pub matrix: [[u32; 3]; 3],
    /// Most value tied up first.
    pub slow: Vec<AgedRow>,
    pub dead: Vec<AgedRow>,
    /// Slowest first (no turnover last).
    pub turnover: Vec<TurnoverRow>,
    /// The shop's: Σ average stock ÷ Σ daily cost of sales.
    pub shop_turnover_days: Option<f64>,
    /// Most excess first; empty without a replenishment run (see `overstock_note`).
    pub overstock: Vec<OverstockRow>,
    pub overstock_note: Option<String>,
}

/// Why the analysis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisFailure {
    #[error("[stock] rules: {0}; fix them in the config file")]
    Rules(#[from] AnalysisError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demand rollup: {0}")]
    Rollup(#[from] super::demand::RollupError),
}

fn abc_index(c: AbcClass) -> usize {
    match c {
        AbcClass::A => 0,
        AbcClass::B => 1,
        AbcClass::C => 2,
    }
}

fn xyz_index(c: XyzClass) -> usize {
    match c {
        XyzClass::X => 0,
        XyzClass::Y => 1,
        XyzClass::Z => 2,
    }
}

/// Value of `qty` (pieces, or grams for weighed goods) at the unit value (per piece or per kg).
fn value_of(qty: i64, unit: Option<Unit>, unit_value_fen: i64) -> i64 {
    let v = i128::from(qty) * i128::from(unit_value_fen);
    let v = if unit == Some(Unit::Kg) { (v + 500).div_euclid(1000) } else { v };
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Unit value and its basis: cost, or price without a cost; 0 at cost for a delisted sku.
fn unit_value(p: Option<&Product>) -> (i64, ValuedAt) {
    match p {
        Some(Product { cost_fen: Some(c), .. }) => (*c, ValuedAt::Cost),
        Some(p) => (p.price_fen, ValuedAt::Price),
        None => (0, ValuedAt::Cost),
    }
}

/// What the ledger walk collects per sku.
#[derive(Default)]
struct Walk {
    /// Net units sold per window day (index 0 = `from`).
    sold: Vec<i64>,
    /// On hand at the end of each window day.
    level: Vec<i64>,
    last_sale: Option<NaiveDate>,
}

/// The analysis for shop-local `today` (the window is the `params.days` days before it).
///
/// It first brings the demand rollup (`inventory::demand`) up to the day before `today`, as the
/// replenishment run does (`member_day` flags its days): the series are derived from the ledger
/// and the rollup is idempotent, so this changes no business state.
pub fn analyse(store: &Store, tz: chrono_tz::Tz, member_day: Option<Weekday>, today: NaiveDate, params: &AnalysisParams) -> Result<StockAnalysis, AnalysisFailure> {
    let days = params.days.max(1);
    let from = today.checked_sub_days(Days::new(u64::from(days))).unwrap_or(today);
    let to = today.pred_opt().unwrap_or(today);
    match super::demand::rollup(store, tz, member_day, to) {
        // Another rollup committed meanwhile and ours stopped short: one more pass finishes it.
        Err(super::demand::RollupError::Raced) => super::demand::rollup(store, tz, member_day, to).map(|_| ())?,
        r => r.map(|_| ())?,
    }
    let n = days as usize;
    let day_of = |at| crate::clock::local(at, tz).date();
    let index_of = |d: NaiveDate| -> Option<usize> { (d >= from && d <= to).then(|| (d - from).num_days() as usize) };
    // How far back the last sale is looked for: the window, or the dead-stock limit if longer.
    let horizon = today.checked_sub_days(Days::new(u64::from(days.max(params.age.dead_after_days)))).unwrap_or(from);

    let products: BTreeMap<String, Product> = crate::catalog::all_products(store)?.into_iter().map(|p| (p.sku.clone(), p)).collect();
    let levels: BTreeMap<String, i64> = crate::inventory::stock_levels(store)?.into_iter().map(|l| (l.sku, l.on_hand)).collect();
    let skus: BTreeSet<String> = products.keys().chain(levels.keys()).cloned().collect();

    // The ledger, newest first, back to the horizon: sales per day, end-of-day levels, last sale.
    let mut walks: BTreeMap<String, Walk> = BTreeMap::new();
    // The level after the oldest move seen so far, per sku, going backwards = on hand now first.
    let mut level_now: BTreeMap<String, i64> = levels.clone();
    let mut filled_to: BTreeMap<String, usize> = BTreeMap::new(); // days (from the end) filled
    for item in store.scan_rev::<StockMove>(TreeId::Moves) {
        let (_, m) = item?;
        let day = day_of(m.at);
        if day < horizon {
            break;
        }
        let w = walks.entry(m.sku.clone()).or_insert_with(|| Walk { sold: vec![0; n], level: vec![0; n], last_sale: None });
        if m.kind == MoveKind::Sale && w.last_sale.is_none() {
            w.last_sale = Some(day);
        }
        // End-of-day levels: this move's day and the later days no newer move has filled yet
        // (the newest move of a day sets that day's end-of-day level).
        let after = level_now.get(&m.sku).copied().unwrap_or(0);
        let first_unfilled = filled_to.get(&m.sku).copied().unwrap_or(0);
        let upto = match index_of(day) {
            Some(i) => n - i, // `day` and the days after it, counted from the end
            None if day > to => 0,
            None => n,
        };
        for back in first_unfilled..upto {
            w.level[n - 1 - back] = after;
        }
        filled_to.insert(m.sku.clone(), first_unfilled.max(upto));
        level_now.insert(m.sku.clone(), m.on_hand_after - m.delta);
        if let Some(i) = index_of(day) {
            if matches!(m.kind, MoveKind::Sale | MoveKind::Return) {
                w.sold[i] -= m.delta;
            }
        }
    }
    // The days before the oldest move seen keep the level before it.
    for (sku, w) in walks.iter_mut() {
        let before = level_now.get(sku).copied().unwrap_or(0);
        for back in filled_to.get(sku).copied().unwrap_or(0)..n {
            w.level[n - 1 - back] = before;
        }
    }

    // Revenue: the demand series' daily net revenue over the window (the replenishment run's
    // ABC reads the same figure).
    let mut revenue: BTreeMap<String, i64> = BTreeMap::new();
    for series in super::demand::all_series(store)? {
        if let Some(w) = super::demand::window(&series, Some(to), from, to) {
            revenue.insert(w.sku.clone(), w.revenue_of_last(n));
        }
    }

    let names = |sku: &str| (products.get(sku).map(|p| p.name_zh.clone()), products.get(sku).map(|p| p.name_en.clone()));
    let sku_list: Vec<String> = skus.into_iter().collect();

    // ABC and XYZ.
    let revenues: Vec<i64> = sku_list.iter().map(|s| revenue.get(s).copied().unwrap_or(0).max(0)).collect();
    let abc_classes = abc::abc_classes(&revenues, &params.abc)?;
    let total_revenue_fen: i64 = revenues.iter().sum();
    let mut classes = Vec::with_capacity(sku_list.len());
    let mut matrix = [[0u32; 3]; 3];
    for (i, sku) in sku_list.iter().enumerate() {
        let daily = daily_demand(store, sku, from, n, walks.get(sku))?;
        let cv = if daily.is_empty() { None } else { abc::demand_cv(&daily)? };
        let xyz = if daily.is_empty() { XyzClass::Z } else { abc::xyz_class(&daily, &params.xyz)? };
        matrix[abc_index(abc_classes[i])][xyz_index(xyz)] += 1;
        let (name_zh, name_en) = names(sku);
        classes.push(ClassRow {
            sku: sku.clone(),
            name_zh,
            name_en,
            revenue_fen: revenues[i],
            share_bp: 0,
            cumulative_bp: 0,
            abc: abc_classes[i],
            xyz,
            cv,
            demand_days: daily.len() as u32,
        });
    }
    classes.sort_by(|a, b| b.revenue_fen.cmp(&a.revenue_fen).then(a.sku.cmp(&b.sku)));
    let mut running = 0i64;
    for c in &mut classes {
        running += c.revenue_fen;
        if total_revenue_fen > 0 {
            c.share_bp = bp(c.revenue_fen, total_revenue_fen);
            c.cumulative_bp = bp(running, total_revenue_fen);
        }
    }

    // Slow movers and dead stock.
    let items: Vec<StockItem> = sku_list
        .iter()
        .map(|sku| StockItem {
            on_hand: levels.get(sku).copied().unwrap_or(0),
            unit_cost_fen: unit_value(products.get(sku)).0.max(0),
            days_since_last_sale: walks.get(sku).and_then(|w| w.last_sale).map(|d| (today - d).num_days().max(0) as u32),
        })
        .collect();
    let mut slow = Vec::new();
    let mut dead = Vec::new();
    for a in abc::slow_and_dead(&items, &params.age)? {
        let sku = &sku_list[a.index];
        let p = products.get(sku);
        let (name_zh, name_en) = names(sku);
        let row = AgedRow {
            sku: sku.clone(),
            name_zh,
            name_en,
            age: if a.age == StockAge::Dead { "dead".into() } else { "slow".into() },
            on_hand: items[a.index].on_hand,
            unit: p.map(|p| p.unit),
            last_sale_day: walks.get(sku).and_then(|w| w.last_sale),
            days_since_last_sale: items[a.index].days_since_last_sale,
            value_fen: value_of(items[a.index].on_hand, p.map(|p| p.unit), items[a.index].unit_cost_fen),
            valued_at: unit_value(p).1,
        };
        if a.age == StockAge::Dead {
            dead.push(row);
        } else {
            slow.push(row);
        }
    }
    dead.sort_by(|a, b| b.value_fen.cmp(&a.value_fen).then(a.sku.cmp(&b.sku)));
    slow.sort_by(|a, b| b.value_fen.cmp(&a.value_fen).then(a.sku.cmp(&b.sku)));

    // Turnover.
    let mut turnover = Vec::new();
    let (mut all_stock, mut all_cos) = (0i64, 0i64);
    for sku in &sku_list {
        let p = products.get(sku);
        let unit = p.map(|p| p.unit);
        let (uv, valued_at) = unit_value(p);
        let on_hand = levels.get(sku).copied().unwrap_or(0);
        let (avg_units, sold) = match walks.get(sku) {
            Some(w) => (mean_round(w.level.iter().map(|&l| l.max(0))), w.sold.iter().sum::<i64>().max(0)),
            None => (on_hand.max(0), 0),
        };
        let average_stock_fen = value_of(avg_units, unit, uv).max(0);
        let cost_of_sales_fen = value_of(sold, unit, uv).max(0);
        if average_stock_fen == 0 && cost_of_sales_fen == 0 {
            continue;
        }
        all_stock += average_stock_fen;
        all_cos += cost_of_sales_fen;
        let (name_zh, name_en) = names(sku);
        turnover.push(TurnoverRow {
            sku: sku.clone(),
            name_zh,
            name_en,
            average_stock_fen,
            cost_of_sales_fen,
            turnover_days: abc::turnover_days(average_stock_fen, cost_of_sales_fen, days)?,
            valued_at,
        });
    }
    turnover.sort_by(|a, b| match (a.turnover_days, b.turnover_days) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.sku.cmp(&b.sku)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => b.average_stock_fen.cmp(&a.average_stock_fen).then(a.sku.cmp(&b.sku)),
    });
    let shop_turnover_days = abc::turnover_days(all_stock, all_cos, days)?;

    // Over-stock against the latest run's order-up-to levels.
    let (overstock, overstock_note) = match crate::inventory::replenishment::latest_run(store)? {
        None => (
            Vec::new(),
            Some("no replenishment run yet: over-stock compares on hand with the order-up-to levels of the latest run (`storehub replenishment run`, or the daily run at [stock].replenishment_at)".to_string()),
        ),
        Some(_) => {
            let lines = crate::inventory::replenishment::suggestions(store)?;
            let stock: Vec<abc::StockLevel> = lines
                .iter()
                .map(|l| abc::StockLevel { on_hand: levels.get(&l.sku).copied().unwrap_or(0), order_up_to: l.suggestion.order_up_to.max(0) })
                .collect();
            let rows = abc::overstock(&stock, params.overstock_factor_bp)?
                .into_iter()
                .map(|o| {
                    let sku = &lines[o.index].sku;
                    let p = products.get(sku);
                    let (uv, valued_at) = unit_value(p);
                    let (name_zh, name_en) = names(sku);
                    OverstockRow {
                        sku: sku.clone(),
                        name_zh,
                        name_en,
                        on_hand: stock[o.index].on_hand,
                        order_up_to: stock[o.index].order_up_to,
                        excess_units: o.excess_units,
                        excess_value_fen: value_of(o.excess_units, p.map(|p| p.unit), uv),
                        valued_at,
                    }
                })
                .collect();
            (rows, None)
        }
    };

    Ok(StockAnalysis {
        as_of: today,
        from,
        to,
        params: *params,
        total_revenue_fen,
        classes,
        matrix,
        slow,
        dead,
        turnover,
        shop_turnover_days,
        overstock,
        overstock_note,
    })
}

fn bp(part: i64, total: i64) -> i64 {
    i64::try_from((i128::from(part) * 10_000 + i128::from(total) / 2) / i128::from(total)).unwrap_or(0)
}

fn mean_round(values: impl Iterator<Item = i64>) -> i64 {
    let (sum, count) = values.fold((0i128, 0i128), |(s, c), v| (s + i128::from(v), c + 1));
    if count == 0 {
        return 0;
    }
    i64::try_from((sum + count / 2) / count).unwrap_or(i64::MAX)
}

/// Daily demand over the window for the CV: the demand series (`inventory::demand`) when it
/// covers the whole window, its stock-out days left out; otherwise the window's net sales per
/// day from the ledger (no stock-out flags then). Negative days (returns above sales) count 0.
fn daily_demand(store: &Store, sku: &str, from: NaiveDate, n: usize, walk: Option<&Walk>) -> Result<Vec<i64>, StoreError> {
    if let Some(s) = crate::inventory::demand::series(store, sku)? {
        let start = (from - s.first_day).num_days();
        if start >= 0 && (start as usize) + n <= s.qty.len() {
            let start = start as usize;
            return Ok((start..start + n)
                .filter(|&i| s.flags.get(i).copied().unwrap_or(0) & crate::inventory::demand::flags::STOCKOUT == 0)
                .map(|i| s.qty[i].max(0))
                .collect());
        }
    }
    Ok(match walk {
        Some(w) => w.sold.iter().map(|&q| q.max(0)).collect(),
        None => vec![0; n],
    })
}

/// A list as CSV (UTF-8 with BOM, for spreadsheet programs), columns named in the first row.
pub fn write_csv<W: std::io::Write>(a: &StockAnalysis, list: &str, mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = ::csv::Writer::from_writer(out);
    let opt = |v: Option<String>| v.unwrap_or_default();
    let class = |c: AbcClass| format!("{c:?}");
    match list {
        "abc" | "xyz" => {
            w.write_record(["sku", "name_zh", "name_en", "revenue_fen", "share_bp", "cumulative_bp", "abc", "xyz", "cv", "demand_days"])?;
            for r in &a.classes {
                w.write_record([
                    r.sku.clone(),
                    opt(r.name_zh.clone()),
                    opt(r.name_en.clone()),
                    r.revenue_fen.to_string(),
                    r.share_bp.to_string(),
                    r.cumulative_bp.to_string(),
                    class(r.abc),
                    format!("{:?}", r.xyz),
                    opt(r.cv.map(|v| format!("{v:.4}"))),
                    r.demand_days.to_string(),
                ])?;
            }
        }
        "slow" | "dead" => {
            w.write_record(["sku", "name_zh", "name_en", "age", "on_hand", "unit", "last_sale_day", "days_since_last_sale", "value_fen", "valued_at"])?;
            for r in if list == "slow" { &a.slow } else { &a.dead } {
                w.write_record([
                    r.sku.clone(),
                    opt(r.name_zh.clone()),
                    opt(r.name_en.clone()),
                    r.age.clone(),
                    r.on_hand.to_string(),
                    opt(r.unit.map(|u| u.as_str().to_string())),
                    opt(r.last_sale_day.map(|d| d.to_string())),
                    opt(r.days_since_last_sale.map(|d| d.to_string())),
                    r.value_fen.to_string(),
                    valued(r.valued_at).into(),
                ])?;
            }
        }
        "turnover" => {
            w.write_record(["sku", "name_zh", "name_en", "average_stock_fen", "cost_of_sales_fen", "turnover_days", "valued_at"])?;
            for r in &a.turnover {
                w.write_record([
                    r.sku.clone(),
                    opt(r.name_zh.clone()),
                    opt(r.name_en.clone()),
                    r.average_stock_fen.to_string(),
                    r.cost_of_sales_fen.to_string(),
                    opt(r.turnover_days.map(|d| format!("{d:.1}"))),
                    valued(r.valued_at).into(),
                ])?;
            }
        }
        _ => {
            w.write_record(["sku", "name_zh", "name_en", "on_hand", "order_up_to", "excess_units", "excess_value_fen", "valued_at"])?;
            for r in &a.overstock {
                w.write_record([
                    r.sku.clone(),
                    opt(r.name_zh.clone()),
                    opt(r.name_en.clone()),
                    r.on_hand.to_string(),
                    r.order_up_to.to_string(),
                    r.excess_units.to_string(),
                    r.excess_value_fen.to_string(),
                    valued(r.valued_at).into(),
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

fn valued(v: ValuedAt) -> &'static str {
    match v {
        ValuedAt::Cost => "cost",
        ValuedAt::Price => "price",
    }
}

/// `Err` naming the choices when `list` is not one of [`LISTS`].
pub fn check_list(list: &str) -> Result<&str, String> {
    LISTS.iter().copied().find(|l| *l == list).ok_or_else(|| format!("list: expected one of {}, got {list:?}", LISTS.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighed_goods_are_valued_per_kilogram_and_shares_round_half_up() {
        assert_eq!(value_of(1_500, Some(Unit::Kg), 800), 1_200, "1.5 kg at ¥8.00/kg");
        assert_eq!(value_of(3, Some(Unit::Piece), 150), 450);
        assert_eq!(bp(1, 3), 3_333);
        assert_eq!(bp(2, 3), 6_667);
        assert_eq!(mean_round([1, 2].into_iter()), 2);
        assert!(check_list("dead").is_ok());
        assert_eq!(check_list("bogus").unwrap_err(), "list: expected one of abc, xyz, slow, dead, turnover, overstock, got \"bogus\"");
    }
}
