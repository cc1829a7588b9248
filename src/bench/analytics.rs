//! Benchmarks of member analytics (`storehub bench --only analytics`): builds N synthetic members
//! with two years of imported purchase history in a store and times `analytics members` over all
//! of them against a bare sled scan of the same trees in the same run; and times the BG/NBD fit
//! on 10,000 simulated customers against one log-likelihood evaluation over the same customers
//! (`--only clv`). Deterministic (fixed-seed generators), so runs compare. Nothing here is used
//! by the daemon.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::Figure;
use crate::domain::clv;

use crate::domain::rfm::RfmParams;
use crate::members::history::{put_imported_in_tx, ImportedPurchase};
use crate::members::{self, LoyaltyRules, NewMember};
use crate::store::{Store, TreeId, TxError};

/// Categories the synthetic history buys from.
const CATEGORIES: [&str; 8] = ["milk", "bread", "rice", "oil", "snacks", "drinks", "fruit", "household"];

/// splitmix64: a small, fixed-seed generator (also the rule bench's, `bench::rules`).
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What [`build_members`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltMembers {
    pub members: usize,
    pub purchases: usize,
}

/// Registers `n` members (phones 139xxxxxxxx, in commits of 1000) and gives each a history over
/// the 730 days ending at `as_of`: 0–48 purchases on random days, ¥5–¥500 each, one category
/// each. Purchases are written as imported rows (commits of 10,000).
pub fn build_members(store: &Store, n: usize, as_of: NaiveDate, rules: &LoyaltyRules) -> anyhow::Result<BuiltMembers> {
    let today = rules.today(store.clock().now());
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let batch: Vec<u64> = store
            .commit(|tx| {
                let mut out = Vec::new();
                for i in start..end {
                    let new = NewMember::in_store(format!("139{i:08}"), format!("会员{i}"));
                    let checked =
                        members::check_new_member(&new, today).map_err(TxError::Rejected)?;
                    out.push(members::register_in_tx(tx, &new, &checked, rules)?.id);
                }
                Ok(out)
            })
            .map_err(|e| anyhow::anyhow!("registering members: {e}"))?;
        ids.extend(batch);
    }
    let mut rng = Rng(0x5EED_2026);
    let mut rows = Vec::new();
    for id in &ids {
        let count = rng.below(49);
        for _ in 0..count {
            let back = i64::try_from(rng.below(730)).unwrap_or(0);
            rows.push((
                *id,
                as_of - chrono::Duration::days(back),
                500 + i64::try_from(rng.below(49_500)).unwrap_or(0),
                CATEGORIES[usize::try_from(rng.below(CATEGORIES.len() as u64)).unwrap_or(0)],
            ));
        }
    }
    for chunk in rows.chunks(10_000) {
        store
            .commit(|tx| {
                let mut stored = Vec::with_capacity(chunk.len());
                for (member_id, date, amount_fen, category) in chunk {
                    stored.push(ImportedPurchase {
                        id: tx.next_seq(TreeId::History)?,
                        member_id: *member_id,
                        date: *date,
                        at: None,
                        amount_fen: *amount_fen,
                        category: Some((*category).to_string()),
                        sku: None,
                        qty: None,
                        file: "bench".into(),
                        line: 0,
                    });
                }
                put_imported_in_tx::<std::convert::Infallible>(tx, &stored)
            })
            .map_err(|e| anyhow::anyhow!("writing history: {e}"))?;
    }
    Ok(BuiltMembers { members: ids.len(), purchases: rows.len() })
}

/// Times `analytics members` (history read, rules, rows) at `as_of`; returns the time and the
/// number of rows.
pub fn time_member_analytics(
    store: &Store,
    tz: chrono_tz::Tz,
    as_of: NaiveDate,
    params: &RfmParams,
) -> anyhow::Result<(Duration, usize)> {
    let t = Instant::now();
    let rows = members::analytics::member_rows(store, tz, as_of, params)?;
    Ok((t.elapsed(), rows.len()))
}

/// The trees `analytics members` reads: members, their packed imported history, sales and
/// returns.
pub const ANALYTICS_TREES: [TreeId; 4] = [TreeId::Members, TreeId::HistoryByMember, TreeId::Sales, TreeId::Returns];

/// What a bare scan read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BareScan {
    pub took: Duration,
    pub records: u64,
    pub bytes: u64,
}

/// The library's floor for reading what the analytics read: `sled::Tree::iter` over `trees`,
/// summing key and value lengths, nothing decoded.
pub fn bare_scan(store: &Store, trees: &[TreeId]) -> anyhow::Result<BareScan> {
    let t = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    for tree in trees {
        for kv in store.read_tree(*tree)?.iter() {
            let (k, v) = kv?;
            records += 1;
            bytes += (k.len() + v.len()) as u64;
        }
    }
    Ok(BareScan { took: t.elapsed(), records, bytes })
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// `analytics members` over `n` synthetic members (see [`build_members`]) in a fresh store under
/// `root`: the whole run and its history read, each against the bare scan of
/// [`ANALYTICS_TREES`] (median of 5, after one warm-up scan) measured right before.
pub fn figures(root: &Path, n: usize, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    use crate::store::{Durability, StoreOptions};
    let store = Store::open(StoreOptions {
        path: root.join("analytics"),
        durability: Durability::Relaxed,
        relaxed_flush_ms: 200,
        source: None,
        clock: crate::clock::system(),
    })?;
    let config = crate::config::Config::demo()?;
    let rules = LoyaltyRules::for_shop(&config);
    let tz = config.timezone();
    let as_of = NaiveDate::from_ymd_opt(2026, 6, 30).ok_or_else(|| anyhow::anyhow!("bad benchmark date"))?;
    log(&format!("analytics: building {n} members with two years of history …"));
    let t = Instant::now();
    let built = build_members(&store, n, as_of, &rules)?;
    let build = t.elapsed();
    store.flush()?;
    log("analytics: bare sled scan …");
    bare_scan(&store, &ANALYTICS_TREES)?;
    let scans: Vec<BareScan> = (0..5).map(|_| bare_scan(&store, &ANALYTICS_TREES)).collect::<anyhow::Result<_>>()?;
    let scan = BareScan { took: median(scans.iter().map(|s| s.took).collect()), ..scans[0] };
    let scan_s = scan.took.as_secs_f64().max(1e-9);
    log("analytics: history read …");
    let t = Instant::now();
    let histories = members::history::member_histories(&store, tz, as_of)?;
    let read = t.elapsed();
    drop(histories);
    log("analytics: analytics members …");
    let params = RfmParams::default();
    let (took, rows) = time_member_analytics(&store, tz, as_of, &params)?;
    anyhow::ensure!(rows == built.members, "analytics gave {rows} rows for {} members", built.members);
    let what = format!("{} members, {} imported purchases over 2 years", built.members, built.purchases);
    Ok(vec![
        Figure {
            name: format!("bare sled scan of members + packed history + sales + returns ({what})"),
            value: scan_s,
            unit: "s",
            note: format!("library baseline: {} records, {:.1} MB, iter + lengths, no decoding; median of 5", scan.records, scan.bytes as f64 / 1e6),
        },
        Figure {
            name: format!("analytics history read ({what})"),
            value: read.as_secs_f64(),
            unit: "s",
            note: format!("{:.1}× the bare scan", read.as_secs_f64() / scan_s),
        },
        Figure {
            name: format!("analytics members: RFM, segments, tags, dormancy, reminders, BG/NBD + Gamma-Gamma fit ({what})"),
            value: took.as_secs_f64(),
            unit: "s",
            note: format!("{:.1}× the bare scan; target < 5 s at 100,000 members; store built in {:.0} s", took.as_secs_f64() / scan_s, build.as_secs_f64()),
        },
    ])
}

/// The BG/NBD fit on 10,000 customers simulated from the CDNOW-like parameters (r 0.25, α 4,
/// a 0.8, b 2.5, 39 weeks), against the same-run time of ONE log-likelihood evaluation over the
/// same customers (Σ `BgNbdParams::log_likelihood` at the fitted parameters, median of 21).
pub fn clv_figures(log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    let truth = clv::BgNbdParams { r: 0.25, alpha: 4.0, a: 0.8, b: 2.5 };
    let customers = clv::sim::simulate_bgnbd(99, 10_000, truth, 39.0);
    log("clv: BG/NBD fit on 10,000 customers …");
    let t = Instant::now();
    let fit = clv::fit_bgnbd(&customers)?;
    let fit_time = t.elapsed();
    log("clv: one log-likelihood evaluation …");
    let evals: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            let ll: f64 = customers.iter().map(|c| fit.params.log_likelihood(c)).sum();
            std::hint::black_box(ll);
            t.elapsed()
        })
        .collect();
    let one = median(evals).as_secs_f64().max(1e-12);
    let budget = f64::from(fit.evaluations) * one;
    Ok(vec![
        Figure {
            name: "one BG/NBD log-likelihood evaluation over 10,000 customers".into(),
            value: one * 1e3,
            unit: "ms",
            note: "baseline: Σ log_likelihood per customer, median of 21".into(),
        },
        Figure {
            name: "BG/NBD fit, 10,000 customers (Nelder–Mead with restarts)".into(),
            value: fit_time.as_secs_f64() * 1e3,
            unit: "ms",
            note: format!(
                "{} evaluations, {} iterations; {:.2}× evaluations × one evaluation ({:.0} ms){}",
                fit.evaluations,
                fit.iterations,
                fit_time.as_secs_f64() / budget,
                budget * 1e3,
                if fit.converged { String::new() } else { format!("; not converged: {}", fit.note.unwrap_or_default()) }
            ),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analytics_and_fit_benchmarks_run_and_report_against_their_baselines() {
        let dir = tempfile::tempdir().unwrap();
        let figs = figures(dir.path(), 300, &mut |_| {}).unwrap();
        assert_eq!(figs.len(), 3);
        assert!(figs[0].note.starts_with("library baseline:") && figs[0].value > 0.0, "{:?}", figs[0]);
        assert!(figs[1].name.contains("300 members") && figs[1].note.ends_with("× the bare scan"), "{:?}", figs[1]);
        assert!(figs[2].note.contains("× the bare scan; target < 5 s"), "{:?}", figs[2]);
        let clv = clv_figures(&mut |_| {}).unwrap();
        assert_eq!(clv.len(), 2);
        assert!(clv[0].note.starts_with("baseline:") && clv[0].value > 0.0);
        assert!(clv[1].note.contains(" evaluations, ") && clv[1].note.contains("× evaluations × one evaluation"), "{:?}", clv[1]);
    }
}
