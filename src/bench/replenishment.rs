//! Benchmark of the nightly replenishment run (`storehub bench --only replenishment`): N
//! products (20 000 by default) with 730 days of synthetic daily demand written straight as
//! `DemandSeries` records, a stock level each, then `inventory::replenishment::run_with` timed,
//! with the peak memory of the run (VmHWM, reset before it) and the RSS before it. Two same-run
//! baselines: reading and decoding every series bare, and one plain SES pass over every series
//! (read, decode, one smoothing pass). Deterministic (fastrand with fixed seeds).
//!
//! The mix: 25 % smooth weekly-seasonal SKUs (Poisson demand, mean 4–40 × weekday factors), 10 %
//! trending (mean 2 → 2 + 0.02·t), 65 % intermittent or lumpy (a sale on 5–50 % of days,
//! 1 + Poisson sizes, a third of them with mean size 6). About 2 % of days carry a promotion
//! flag and a stock-out run of 0–6 days ends each quarter, so the cleaning works too.
//! Nothing here is used by the daemon.

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;

use super::Figure;
use crate::clock::ManualClock;
use crate::domain::stock::MoveKind;
use crate::inventory::demand::{flags, DemandSeries};
use crate::inventory::{self, NewMove};
use crate::store::{Durability, Store, StoreOptions, TreeId};

/// Days of history per SKU.
pub const DAYS: usize = 730;

/// Poisson(λ) by Knuth's product of uniforms for small λ, a rounded normal above 30.
fn poisson(rng: &mut fastrand::Rng, lambda: f64) -> i64 {
    if lambda > 30.0 {
        let (u1, u2) = (rng.f64().max(1e-12), rng.f64());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        return (lambda + lambda.sqrt() * z).round().max(0.0) as i64;
    }
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0, rng.f64());
    while p > limit {
        k += 1;
        p *= rng.f64();
    }
    k
}

/// The synthetic demand of SKU number `i` (see the module docs for the mix).
pub fn synthetic_series(i: usize, sku: &str, first_day: NaiveDate) -> DemandSeries {
    let mut rng = fastrand::Rng::with_seed(0x5EED_0000 + i as u64);
    let factor = [0.7, 0.8, 0.9, 1.0, 1.2, 1.7, 1.5];
    let kind = i % 20; // 0..5 seasonal (25 %), 5..7 trending (10 %), 7..20 intermittent (65 %)
    let mean = 4.0 + rng.f64() * 36.0;
    let p_sale = 0.05 + rng.f64() * 0.45;
    let size = if i.is_multiple_of(3) { 6.0 } else { 1.0 };
    let mut qty = Vec::with_capacity(DAYS);
    let mut fl = Vec::with_capacity(DAYS);
    for t in 0..DAYS {
        let q = match kind {
            0..=4 => poisson(&mut rng, mean * factor[t % 7]),
            5 | 6 => poisson(&mut rng, 2.0 + 0.02 * t as f64),
            _ if rng.f64() < p_sale => 1 + poisson(&mut rng, size),
            _ => 0,
        };
        let mut f = 0;
        if rng.f64() < 0.02 {
            f |= flags::PROMOTION;
        }
        if t % 91 > 84 && (t % 91) - 84 <= (i % 7) {
            f |= flags::STOCKOUT;
        }
        qty.push(if f & flags::STOCKOUT != 0 { 0 } else { q });
        fl.push(f);
    }
    // Revenue at a list price of ¥1.00–¥50.99 per unit, as the rollup would have written it.
    let price_fen = 100 + (i as i64 * 7_919) % 5_000;
    let revenue_fen = qty.iter().map(|&q| q * price_fen).collect();
    DemandSeries { end_on_hand: Some(10), revenue_fen, ..DemandSeries::new(sku, first_day, qty, fl) }
}

pub(super) fn status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0: `5` into `/proc/self/clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Builds the store and times the run; `n` SKUs.
pub fn figures(root: &Path, n: usize, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    let today = NaiveDate::from_ymd_opt(2026, 6, 30).ok_or_else(|| anyhow::anyhow!("bad benchmark date"))?;
    let first_day = today - chrono::Days::new(DAYS as u64);
    // 08:00 in Shanghai on the run's day: the stock receipts are today's, not rolled up.
    let clock = ManualClock::new("2026-06-30T00:00:00Z".parse()?);
    let store = Store::open(StoreOptions {
        path: root.join("replenishment"),
        durability: Durability::Relaxed,
        relaxed_flush_ms: 200,
        source: None,
        clock: std::sync::Arc::new(clock),
    })?;
    log(&format!("replenishment: {n} products with {DAYS} days of demand …"));
    let t = Instant::now();
    let products: Vec<_> = (0..n).map(super::synthetic_product).collect();
    crate::catalog::upsert_products(&store, &products, 1000, |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
    for chunk in products.chunks(1000) {
        store
            .commit(|tx| {
                for p in chunk {
                    let i: usize = p.sku[1..].parse().unwrap_or(0);
                    tx.put::<_, inventory::InventoryError>(TreeId::DemandSeries, p.sku.as_bytes(), &synthetic_series(i, &p.sku, first_day))?;
                    let qty = 5 + i64::try_from(i % 50).unwrap_or(0);
                    inventory::record_move(tx, &NewMove { sku: p.sku.clone(), kind: MoveKind::Receipt, qty, reason: "bench".into(), user: "bench".into(), reference: None })?;
                }
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("writing series: {e}"))?;
    }
    store.flush()?;
    let build = t.elapsed();

    log("replenishment: baselines …");
    let read_times: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            let mut days = 0usize;
            for item in store.scan::<DemandSeries>(TreeId::DemandSeries) {
                days += item.map(|(_, s)| s.qty.len()).unwrap_or(0);
            }
            std::hint::black_box(days);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let read = median(read_times);
    let ses_times: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            let mut total = 0.0;
            for (_, s) in store.scan::<DemandSeries>(TreeId::DemandSeries).flatten() {
                let y: Vec<f64> = s.qty.iter().map(|&q| q as f64).collect();
                if let Ok(fit) = crate::domain::forecast::ses(&y, 0.1) {
                    total += fit.level;
                }
            }
            std::hint::black_box(total);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let ses = median(ses_times);

    log("replenishment: the run …");
    let cfg = crate::config::StockConfig::default();
    let rss_before = status_kb("VmRSS:").unwrap_or(0);
    let reset = reset_peak();
    let t = Instant::now();
    let summary = inventory::replenishment::run_with(&store, &cfg, chrono_tz::Asia::Shanghai, None, today)?;
    let took = t.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:").unwrap_or(0);
    anyhow::ensure!(summary.skus as usize == n, "the run gave {} lines for {n} SKUs", summary.skus);
    let lines = inventory::replenishment::suggestions(&store)?;
    let mut methods = std::collections::BTreeMap::new();
    for l in &lines {
        *methods.entry(l.method.as_str()).or_insert(0usize) += 1;
    }
    let methods: Vec<String> = methods.iter().map(|(m, c)| format!("{m} {c}")).collect();
    let what = format!("{n} SKUs × {DAYS} days");
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    Ok(vec![
        Figure { name: format!("read + decode every demand series ({what})"), value: read, unit: "s", note: "baseline, median of 3".into() },
        Figure { name: format!("one plain SES pass over every series ({what})"), value: ses, unit: "s", note: "baseline (read, decode, SES α 0.1), median of 3".into() },
        Figure {
            name: format!("replenishment run: rollup, forecasts, ABC, suggestions, alerts, event ({what})"),
            value: took,
            unit: "s",
            note: format!(
                "target < 10 s; {:.1}× the SES pass; {cores} threads; {} to order, {} urgent; methods: {}; store built in {:.0} s",
                took / ses.max(1e-9),
                summary.to_order,
                summary.urgent,
                methods.join(", "),
                build.as_secs_f64()
            ),
        },
        Figure {
            name: format!("replenishment run peak memory, VmHWM ({what})"),
            value: peak as f64 / 1024.0,
            unit: "MB",
            note: format!("RSS before the run {:.0} MB; peak {}", rss_before as f64 / 1024.0, if reset { "reset just before the run" } else { "of the whole process (clear_refs refused)" }),
        },
    ])
}
