//! The daily replenishment run (智能补货提醒): demand rolled up, a forecast per SKU, the
//! order-up-to suggestion (`domain::replenish`), stored as the latest suggestion list, with
//! `storehub.replenishment.suggested` in the outbox and an alert for each urgent SKU.
//!
//! [`run`] for a shop-local day: the demand rollup through the day before; then one streaming
//! pass over the stored series (chunks of 2 048, the forecasts of a chunk shared out over the
//! cores with `std::thread::scope`), keeping per SKU only its forecast and revenue; ABC classes
//! by net revenue over `[stock].analysis_days` (the series' daily revenue: what was paid after
//! discounts, refunds netted — the same figure as the stock analysis's ABC); the effective policy
//! (`inventory::policy`) and `domain::replenish::suggest` with on hand (ledger) and on order
//! (`purchase::on_order_by_sku`). The list replaces the previous run's in commits of 1 000 lines,
//! each with the urgent SKUs' alerts raised and the no-longer-urgent ones cleared; the last
//! commit removes SKUs gone from the catalog and writes the summary with ONE
//! `storehub.replenishment.suggested` event (the lines to order, urgent first, at most 1 000).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::catalog::Product;
use crate::config::StockConfig;
use crate::domain::abc::{abc_classes, AbcClass, AbcCutoffs};
use crate::domain::forecast::{clean_censored, forecast_auto, DemandClass, ForecastOptions, Method};
use crate::domain::replenish::{suggest, DemandInput, SkuPolicy, Suggestion};
use crate::store::{Record, Store, StoreError, TreeId};

use super::alerts::{self, AlertKind};
use super::demand::{self, DemandSeries};
use super::policy;

/// Event written once per run.
pub const EVENT_REPLENISHMENT_SUGGESTED: &str = "storehub.replenishment.suggested";
/// Lines the event carries at most (urgent first, then the largest quantities).
pub const EVENT_MAX_LINES: usize = 1000;
/// Suggestion lines per commit.
const LINES_PER_COMMIT: usize = 1000;
/// Series read and forecast per chunk.
const SERIES_PER_CHUNK: usize = 2048;

/// One SKU of the latest run's suggestion list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestionLine {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Who supplies it (policy override, else the catalog's supplier).
    pub supplier: Option<String>,
    /// Cost per unit (catalog), for the purchase order's value.
    pub unit_cost_fen: Option<i64>,
    pub abc: AbcClass,
    pub demand_class: DemandClass,
    /// The forecast method that won (or was asked for).
    pub method: Method,
    /// The policy the suggestion used (defaults filled in).
    pub policy: SkuPolicy,
    /// The numbers: safety stock, order-up-to, suggested quantity, stock-out day, urgent, and
    /// the explanation's inputs (forecast, σ, on hand, on order).
    pub suggestion: Suggestion,
}
impl Record for SuggestionLine {
    const NAME: &'static str = "suggestion line";
}

/// The summary of a run (`meta` `replenishment_run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplenishmentRun {
    /// Shop-local day the run was for (its demand ends the day before).
    pub day: NaiveDate,
    pub run_at: DateTime<Utc>,
    /// SKUs forecast.
    pub skus: u32,
    /// SKUs with a suggested quantity above 0.
    pub to_order: u32,
    /// SKUs projected to run out before an order placed today can arrive.
    pub urgent: u32,
    /// Wall time the run took, milliseconds.
    pub took_ms: u64,
}
impl Record for ReplenishmentRun {
    const NAME: &'static str = "replenishment run";
}

/// `meta` key of the latest run's summary.
pub const RUN_KEY: &[u8] = b"replenishment_run";

/// The latest run's summary, if any run happened.
pub fn latest_run(store: &Store) -> Result<Option<ReplenishmentRun>, StoreError> {
    store.get::<ReplenishmentRun>(TreeId::Meta, RUN_KEY)
}

/// The latest run's suggestion list, by sku (every SKU forecast, also those with nothing to
/// order).
pub fn suggestions(store: &Store) -> Result<Vec<SuggestionLine>, StoreError> {
    store.scan::<SuggestionLine>(TreeId::Suggestions).map(|r| r.map(|(_, s)| s)).collect()
}

/// One line of the `storehub.replenishment.suggested` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedLine {
    pub sku: String,
    pub qty: i64,
    pub urgent: bool,
}

/// Data of `storehub.replenishment.suggested` (subject: none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedEvent {
    pub day: NaiveDate,
    pub skus: u32,
    pub to_order: u32,
    pub urgent: u32,
    /// Lines with something to order or urgent, urgent first, at most [`EVENT_MAX_LINES`].
    pub lines: Vec<SuggestedLine>,
    /// Lines left out of `lines`.
    pub lines_omitted: u32,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rollup(#[from] demand::RollupError),
    #[error("[stock] ABC cut-offs: {0}")]
    Abc(crate::domain::abc::AnalysisError),
}

/// The forecast half of a SKU's line, before its ABC class is known.
struct Forecast {
    class: DemandClass,
    method: Method,
    per_day: f64,
    sigma: f64,
    revenue_fen: i64,
}

/// The `[stock]` smoothing parameters as the forecast wants them.
pub fn forecast_options(cfg: &StockConfig) -> ForecastOptions {
    let a = |bp: u32| f64::from(bp.clamp(1, 10_000)) / 10_000.0;
    ForecastOptions { alpha: a(cfg.ses_alpha_bp), alpha_d: a(cfg.tsb_alpha_d_bp), alpha_p: a(cfg.tsb_alpha_p_bp) }
}

/// The censor-cleaned daily quantities of a series window (stock-out, promotion and member days
/// replaced, `domain::forecast::clean_censored`).
pub fn cleaned(window: &DemandSeries) -> Vec<f64> {
    let qty: Vec<f64> = window.qty.iter().map(|&q| q.max(0) as f64).collect();
    match clean_censored(&qty, &window.censored()) {
        Ok((clean, _)) => clean,
        // Only an empty window fails (quantities are ≥ 0 and finite); nothing to clean.
        Err(_) => qty,
    }
}

/// Forecast of one SKU over `horizon` days: mean per day, σ, class and method.
fn forecast_one(window: Option<&DemandSeries>, horizon: usize, opts: &ForecastOptions) -> Forecast {
    let zero = Forecast { class: DemandClass::NoDemand, method: Method::Naive, per_day: 0.0, sigma: 0.0, revenue_fen: 0 };
    let Some(w) = window else { return zero };
    let clean = cleaned(w);
    match forecast_auto(&clean, horizon.max(1), opts) {
        Ok(r) => {
            let per_day = r.per_day.iter().sum::<f64>() / r.per_day.len().max(1) as f64;
            Forecast { class: r.class, method: r.method, per_day, sigma: r.rmse, revenue_fen: 0 }
        }
        Err(e) => {
            tracing::warn!(sku = %w.sku, error = %e, "forecast failed; no demand assumed");
            zero
        }
    }
}

/// The replenishment run for shop-local day `today` with the loyalty rules' member day.
pub fn run(store: &Store, cfg: &StockConfig, tz: chrono_tz::Tz, loyalty: &crate::members::LoyaltyRules, today: NaiveDate) -> Result<ReplenishmentRun, RunError> {
    run_with(store, cfg, tz, demand::member_day_of(loyalty), today)
}

/// [`run`] with the member day given directly.
pub fn run_with(store: &Store, cfg: &StockConfig, tz: chrono_tz::Tz, member_day: Option<Weekday>, today: NaiveDate) -> Result<ReplenishmentRun, RunError> {
    let started = std::time::Instant::now();
    let yesterday = today.pred_opt().unwrap_or(today);
    demand::rollup(store, tz, member_day, yesterday)?;
    let closed = demand::cursor(store)?.closed_through;
    let from = today.checked_sub_days(chrono::Days::new(u64::from(cfg.history_days))).unwrap_or(today);

    let products: Vec<Product> = crate::catalog::all_products(store)?.into_iter().filter(|p| p.active).collect();
    let index: HashMap<&str, usize> = products.iter().enumerate().map(|(i, p)| (p.sku.as_str(), i)).collect();
    let own = policy::all_sku_settings(store)?;
    let suppliers = policy::all_supplier_terms(store)?;
    // Policies with a provisional class: lead time and review period (the horizon) do not
    // depend on it; the service level is set once the classes are known.
    let mut policies: Vec<policy::EffectivePolicy> = products
        .iter()
        .map(|p| policy::effective(&p.sku, own.get(&p.sku), p.supplier.as_deref(), &suppliers, cfg, AbcClass::C))
        .collect();
    let opts = forecast_options(cfg);
    let analysis_days = cfg.analysis_days as usize;
    let mut forecasts: Vec<Option<Forecast>> = (0..products.len()).map(|_| None).collect();

    // One streaming pass: chunks of series, each chunk's forecasts over the cores.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let mut scan = store.scan::<DemandSeries>(TreeId::DemandSeries);
    loop {
        let mut chunk: Vec<(usize, DemandSeries)> = Vec::with_capacity(SERIES_PER_CHUNK);
        for item in scan.by_ref() {
            let (_, s) = item?;
            let Some(&i) = index.get(s.sku.as_str()) else { continue };
            if let Some(w) = demand::window(&s, closed, from, yesterday) {
                chunk.push((i, w));
            }
            if chunk.len() == SERIES_PER_CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let per = chunk.len().div_ceil(workers);
        let results: Vec<(usize, Forecast)> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .chunks(per)
                .map(|part| {
                    let (policies, opts) = (&policies, &opts);
                    scope.spawn(move || {
                        part.iter()
                            .map(|(i, w)| {
                                let p = &policies[*i].policy;
                                let horizon = usize::try_from(p.lead_time_days + p.review_period_days).unwrap_or(1);
                                let mut f = forecast_one(Some(w), horizon, opts);
                                f.revenue_fen = w.revenue_of_last(analysis_days);
                                (*i, f)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
        });
        for (i, f) in results {
            forecasts[i] = Some(f);
        }
    }

    let revenues: Vec<i64> = forecasts.iter().map(|f| f.as_ref().map_or(0, |f| f.revenue_fen)).collect();
    let cutoffs = AbcCutoffs { a_bp: cfg.abc_a_bp, b_bp: cfg.abc_b_bp, c_bp: 10_000u32.saturating_sub(cfg.abc_a_bp + cfg.abc_b_bp) };
    let classes = abc_classes(&revenues, &cutoffs).map_err(RunError::Abc)?;

    let on_hand: HashMap<String, i64> = super::stock_levels(store)?.into_iter().map(|l| (l.sku, l.on_hand)).collect();
    let on_order: BTreeMap<String, i64> = super::purchase::on_order_by_sku(store)?;
    let mut lines = Vec::with_capacity(products.len());
    for (i, p) in products.iter().enumerate() {
        let f = forecasts[i].take().unwrap_or_else(|| forecast_one(None, 1, &opts));
        let eff = &mut policies[i];
        if eff.sources.service_level_bp == policy::Source::AbcClass {
            eff.policy.service_level_bp = policy::class_service_level_bp(classes[i], cfg);
        }
        let input = DemandInput {
            forecast_per_day: f.per_day,
            forecast_error_per_day: f.sigma,
            on_hand: on_hand.get(&p.sku).copied().unwrap_or(0),
            on_order: on_order.get(&p.sku).copied().unwrap_or(0).max(0),
        };
        match suggest(&eff.policy, &input) {
            Ok(suggestion) => lines.push(SuggestionLine {
                sku: p.sku.clone(),
                name_zh: p.name_zh.clone(),
                name_en: p.name_en.clone(),
                supplier: eff.supplier.clone(),
                unit_cost_fen: p.cost_fen,
                abc: classes[i],
                demand_class: f.class,
                method: f.method,
                policy: eff.policy,
                suggestion,
            }),
            Err(e) => tracing::warn!(sku = %p.sku, error = %e, "no suggestion"),
        }
    }
    store_run(store, today, &lines, started)
}

fn alert_text(line: &SuggestionLine) -> (String, String) {
    let s = &line.suggestion;
    let day = s.projected_stockout_day.unwrap_or(0);
    let lead = line.policy.lead_time_days;
    (
        format!("预计第{day}天缺货，早于今天下单的到货时间（{lead}天）；建议订购{}", s.suggested_qty),
        format!("projected stock-out on day {day}, before an order placed today can arrive ({lead} days); suggested order {}", s.suggested_qty),
    )
}

/// Writes the list (replacing the previous run's), the alerts, the summary and the event.
fn store_run(store: &Store, today: NaiveDate, lines: &[SuggestionLine], started: std::time::Instant) -> Result<ReplenishmentRun, RunError> {
    let inf = crate::store::CommitError::into_store;
    let keep: HashSet<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let mut gone = Vec::new();
    for k in store.keys_with_prefix(TreeId::Suggestions, b"") {
        let k = k?;
        if !keep.contains(String::from_utf8_lossy(&k).as_ref()) {
            gone.push(k);
        }
    }
    for chunk in lines.chunks(LINES_PER_COMMIT) {
        store
            .commit(|tx| {
                for line in chunk {
                    tx.put::<SuggestionLine, std::convert::Infallible>(TreeId::Suggestions, line.sku.as_bytes(), line)?;
                    if line.suggestion.urgent {
                        let (zh, en) = alert_text(line);
                        alerts::raise_tx(tx, AlertKind::ReplenishmentUrgent, &line.sku, &zh, &en)?;
                    } else {
                        alerts::clear_tx(tx, AlertKind::ReplenishmentUrgent, &line.sku, "no longer urgent")?;
                    }
                }
                Ok(())
            })
            .map_err(inf)?;
    }
    let mut ordered: Vec<&SuggestionLine> = lines.iter().filter(|l| l.suggestion.suggested_qty > 0 || l.suggestion.urgent).collect();
    ordered.sort_by(|a, b| b.suggestion.urgent.cmp(&a.suggestion.urgent).then(b.suggestion.suggested_qty.cmp(&a.suggestion.suggested_qty)).then(a.sku.cmp(&b.sku)));
    let to_order = lines.iter().filter(|l| l.suggestion.suggested_qty > 0).count();
    let urgent = lines.iter().filter(|l| l.suggestion.urgent).count();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let event = SuggestedEvent {
        day: today,
        skus: count(lines.len()),
        to_order: count(to_order),
        urgent: count(urgent),
        lines: ordered.iter().take(EVENT_MAX_LINES).map(|l| SuggestedLine { sku: l.sku.clone(), qty: l.suggestion.suggested_qty, urgent: l.suggestion.urgent }).collect(),
        lines_omitted: count(ordered.len().saturating_sub(EVENT_MAX_LINES)),
    };
    let summary = store
        .commit(|tx| {
            for k in &gone {
                tx.remove::<std::convert::Infallible>(TreeId::Suggestions, k)?;
                alerts::clear_tx(tx, AlertKind::ReplenishmentUrgent, &String::from_utf8_lossy(k), "no longer in the catalog")?;
            }
            let summary = ReplenishmentRun {
                day: today,
                run_at: tx.now(),
                skus: event.skus,
                to_order: event.to_order,
                urgent: event.urgent,
                took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            };
            tx.put(TreeId::Meta, RUN_KEY, &summary)?;
            tx.emit(EVENT_REPLENISHMENT_SUGGESTED, None, &event)?;
            Ok(summary)
        })
        .map_err(inf)?;
    Ok(summary)
}

/// The day a run is due for, if one is: the shop-local time `now` has reached `at` and the last
/// run was not for today (so a daemon started after `at` runs at once, and a restart after the
/// run does not run it again).
pub fn due(now: chrono::NaiveDateTime, at: chrono::NaiveTime, last_run_day: Option<NaiveDate>) -> Option<NaiveDate> {
    let today = now.date();
    (now.time() >= at && last_run_day.is_none_or(|d| d < today)).then_some(today)
}

/// One day of a printed forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayForecast {
    pub date: NaiveDate,
    pub qty: f64,
}

/// A candidate's holdout MASE (`None`: not scored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    pub method: Method,
    pub mase: Option<f64>,
}

/// What `storehub forecast` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastReport {
    /// The SKU (`None` for a series file).
    pub sku: Option<String>,
    /// First and last day of the history used.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub days: usize,
    /// Days replaced by the cleaning (stock-out, promotion, member day).
    pub cleaned_days: usize,
    /// `auto`, or the method asked for.
    pub asked: String,
    pub method: Method,
    pub class: DemandClass,
    /// One-step RMSE of the method over the history (σ of the safety stock).
    pub rmse: f64,
    pub forecast: Vec<DayForecast>,
    /// For `auto`: each candidate's holdout MASE.
    pub candidates: Vec<CandidateScore>,
}

/// Forecasts a daily series starting at `first_day` (`censored` days are cleaned first) with
/// `method` (`None`: automatic choice) for `horizon` days after its last day.
pub fn forecast_report(
    sku: Option<&str>,
    first_day: NaiveDate,
    qty: &[f64],
    censored: Option<&[bool]>,
    method: Option<Method>,
    horizon: usize,
    opts: &ForecastOptions,
) -> Result<ForecastReport, crate::domain::forecast::ForecastError> {
    let (series, cleaned_days) = match censored {
        Some(c) => (clean_censored(qty, c)?.0, c.iter().filter(|&&b| b).count()),
        None => (qty.to_vec(), 0),
    };
    let r = match method {
        None => forecast_auto(&series, horizon, opts)?,
        Some(m) => crate::domain::forecast::forecast_method(&series, m, horizon, opts)?,
    };
    let last_day = first_day.checked_add_days(chrono::Days::new(series.len().saturating_sub(1) as u64)).unwrap_or(first_day);
    let forecast = r
        .per_day
        .iter()
        .enumerate()
        .map(|(k, &q)| DayForecast { date: last_day.checked_add_days(chrono::Days::new(k as u64 + 1)).unwrap_or(last_day), qty: q })
        .collect();
    Ok(ForecastReport {
        sku: sku.map(str::to_string),
        first_day,
        last_day,
        days: series.len(),
        cleaned_days,
        asked: method.map_or("auto", Method::as_str).to_string(),
        method: r.method,
        class: r.class,
        rmse: r.rmse,
        forecast,
        candidates: r.candidates.into_iter().map(|(method, mase)| CandidateScore { method, mase }).collect(),
    })
}

/// What `storehub forecast` asks for: the method (`None`: auto), the horizon and the α's.
#[derive(Debug, Clone, Copy)]
pub struct ForecastAsk {
    pub method: Option<Method>,
    pub horizon: usize,
    pub opts: ForecastOptions,
}

/// `storehub forecast --sku`: the SKU's stored series over `[stock].history_days` up to
/// yesterday (rolled up first), cleaned. Errors are for the person at the CLI.
pub fn forecast_sku(
    store: &Store,
    cfg: &StockConfig,
    tz: chrono_tz::Tz,
    member_day: Option<Weekday>,
    today: NaiveDate,
    sku: &str,
    ask: &ForecastAsk,
) -> Result<ForecastReport, String> {
    let ForecastAsk { method, horizon, opts } = *ask;
    let opts = &opts;
    if crate::catalog::product(store, sku).map_err(|e| e.to_string())?.is_none() && demand::series(store, sku).map_err(|e| e.to_string())?.is_none() {
        return Err(format!("sku: unknown sku {sku}; `storehub stock show` lists the products"));
    }
    let yesterday = today.pred_opt().unwrap_or(today);
    demand::rollup(store, tz, member_day, yesterday).map_err(|e| e.to_string())?;
    let from = today.checked_sub_days(chrono::Days::new(u64::from(cfg.history_days))).unwrap_or(today);
    let window = demand::daily(store, sku, from, yesterday)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("sku {sku}: no sales history up to {yesterday} yet; nothing to forecast from"))?;
    let qty: Vec<f64> = window.qty.iter().map(|&q| q.max(0) as f64).collect();
    forecast_report(Some(sku), window.first_day, &qty, Some(&window.censored()), method, horizon, opts).map_err(|e| e.to_string())
}

/// The report as a table for people.
pub fn render_forecast(r: &ForecastReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(sku) = &r.sku {
        let _ = writeln!(out, "sku           {sku}");
    }
    let _ = writeln!(out, "history       {} … {} ({} days, {} cleaned)", r.first_day, r.last_day, r.days, r.cleaned_days);
    let _ = writeln!(out, "demand class  {}", r.class.as_str());
    let _ = writeln!(out, "method        {}{}", r.method.as_str(), if r.asked == "auto" { " (auto)" } else { "" });
    let _ = writeln!(out, "one-step RMSE {:.3}", r.rmse);
    if !r.candidates.is_empty() {
        let _ = writeln!(out, "\ncandidate      holdout MASE");
        for c in &r.candidates {
            let mark = if c.method == r.method { "  ← chosen" } else { "" };
            let _ = writeln!(out, "{:<14} {}{mark}", c.method.as_str(), c.mase.map_or("—".to_string(), |m| format!("{m:.3}")));
        }
    }
    let _ = writeln!(out, "\ndate        forecast");
    for d in &r.forecast {
        let _ = writeln!(out, "{}  {:.2}", d.date, d.qty);
    }
    out
}

/// The list as shown: urgent first, then the largest suggested quantity, then sku; optionally
/// only urgent lines and only one supplier's.
pub fn sorted_lines(mut lines: Vec<SuggestionLine>, urgent_only: bool, supplier: Option<&str>) -> Vec<SuggestionLine> {
    lines.retain(|l| (!urgent_only || l.suggestion.urgent) && supplier.is_none_or(|s| l.supplier.as_deref() == Some(s)));
    lines.sort_by(|a, b| {
        b.suggestion.urgent.cmp(&a.suggestion.urgent).then(b.suggestion.suggested_qty.cmp(&a.suggestion.suggested_qty)).then(a.sku.cmp(&b.sku))
    });
    lines
}

/// The suggestion list as CSV (UTF-8, header line), one row per line, with its explanation.
pub fn write_suggestions_csv(lines: &[SuggestionLine], out: impl std::io::Write) -> Result<(), ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "sku", "name_zh", "name_en", "supplier", "abc", "demand_class", "method", "forecast_per_day", "sigma", "lead_time_days", "review_period_days",
        "service_level_bp", "on_hand", "on_order", "safety_stock", "order_up_to", "suggested_qty", "stockout_day", "urgent", "explanation",
    ])?;
    for l in lines {
        let s = &l.suggestion;
        let e = &s.explanation;
        w.write_record([
            l.sku.clone(),
            l.name_zh.clone(),
            l.name_en.clone(),
            l.supplier.clone().unwrap_or_default(),
            format!("{:?}", l.abc),
            l.demand_class.as_str().to_string(),
            l.method.as_str().to_string(),
            format!("{:.3}", e.forecast_per_day),
            format!("{:.3}", e.forecast_error_per_day),
            l.policy.lead_time_days.to_string(),
            l.policy.review_period_days.to_string(),
            l.policy.service_level_bp.to_string(),
            e.on_hand.to_string(),
            e.on_order.to_string(),
            s.safety_stock.to_string(),
            s.order_up_to.to_string(),
            s.suggested_qty.to_string(),
            s.projected_stockout_day.map(|d| d.to_string()).unwrap_or_default(),
            s.urgent.to_string(),
            s.explain(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Product;
    use crate::clock::ManualClock;
    use crate::domain::stock::MoveKind;
    use crate::inventory::{move_stock, NewMove};

    fn product(sku: &str, price_fen: i64) -> Product {
        Product { price_fen, supplier: Some("S1".into()), ..crate::inventory::demand::tests::product(sku) }
    }

    fn receive(store: &Store, sku: &str, qty: i64) {
        move_stock(store, &NewMove { sku: sku.into(), kind: MoveKind::Receipt, qty, reason: "delivery".into(), user: "t".into(), reference: None }).unwrap();
    }

    #[test]
    fn a_run_is_due_once_a_day_after_its_time() {
        let at = chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap();
        let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(due(t("2026-11-26 06:29"), at, Some(d("2026-11-25"))), None);
        assert_eq!(due(t("2026-11-26 06:30"), at, Some(d("2026-11-25"))), Some(d("2026-11-26")));
        // Started at 14:00 with no run today: at once; after today's run: not again.
        assert_eq!(due(t("2026-11-26 14:00"), at, None), Some(d("2026-11-26")));
        assert_eq!(due(t("2026-11-26 14:00"), at, Some(d("2026-11-26"))), None);
    }

    /// W sells exactly 10 a day for 60 days (written as its series): every candidate's MASE is
    /// undefined (all training days equal), so the smooth class's default Holt-Winters forecasts
    /// 10/day with σ 0. L 3 + R 1 = 4 days: order-up-to 40; on hand 20 → order 20; stock-out on
    /// day ⌊20 / 10⌋ = 2 < L = 3 → urgent. After 30 more arrive (on hand 50): nothing to order,
    /// stock-out day 5 → no longer urgent, the alert is cleared.
    #[test]
    fn worked_run_suggests_alerts_once_and_clears() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-26T02:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        crate::catalog::upsert_products(&store, &[product("W", 200), product("Z", 500)], 100, |_| {}).unwrap();
        let today: NaiveDate = "2026-11-26".parse().unwrap();
        let first = today - chrono::Days::new(60);
        store
            .commit(|tx| {
                tx.put::<_, std::convert::Infallible>(TreeId::DemandSeries, b"W", &DemandSeries { revenue_fen: vec![2_000; 60], ..DemandSeries::new("W", first, vec![10; 60], vec![0; 60]) })
            })
            .unwrap();
        receive(&store, "W", 20);
        let cfg = StockConfig { lead_time_days: 3, review_period_days: 1, ..StockConfig::default() };
        let tz = chrono_tz::Asia::Shanghai;
        let summary = run_with(&store, &cfg, tz, None, today).unwrap();
        assert_eq!((summary.skus, summary.to_order, summary.urgent), (2, 1, 1));
        let lines = suggestions(&store).unwrap();
        let w = lines.iter().find(|l| l.sku == "W").unwrap();
        assert_eq!(w.method, Method::HoltWinters);
        assert_eq!(w.demand_class, DemandClass::Smooth);
        assert_eq!(w.abc, AbcClass::A);
        assert_eq!(w.policy.service_level_bp, 9800);
        assert_eq!(w.supplier.as_deref(), Some("S1"));
        let s = &w.suggestion;
        assert_eq!((s.safety_stock, s.order_up_to, s.suggested_qty, s.projected_stockout_day, s.urgent), (0, 40, 20, Some(2), true));
        // Z never sold: nothing to order, class C, no demand.
        let z = lines.iter().find(|l| l.sku == "Z").unwrap();
        assert_eq!((z.suggestion.suggested_qty, z.abc, z.demand_class), (0, AbcClass::C, DemandClass::NoDemand));
        let open = alerts::open_alerts(&store).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].sku, "W");
        let events = store.outbox_batch(0, 1000).unwrap();
        let suggested: Vec<_> = events.iter().filter(|e| e.event_type == EVENT_REPLENISHMENT_SUGGESTED).collect();
        assert_eq!(suggested.len(), 1);
        let data: SuggestedEvent = serde_json::from_str(&suggested[0].data_json).unwrap();
        assert_eq!(data.lines, vec![SuggestedLine { sku: "W".into(), qty: 20, urgent: true }]);

        // The same day again: still one open alert (not raised twice).
        run_with(&store, &cfg, tz, None, today).unwrap();
        assert_eq!(alerts::open_alerts(&store).unwrap().len(), 1);
        // 30 more arrive: nothing to order, no longer urgent, the alert is cleared.
        receive(&store, "W", 30);
        let summary = run_with(&store, &cfg, tz, None, today).unwrap();
        assert_eq!((summary.to_order, summary.urgent), (0, 0));
        assert!(alerts::open_alerts(&store).unwrap().is_empty());
        assert_eq!(latest_run(&store).unwrap().unwrap().day, today);
    }
}
