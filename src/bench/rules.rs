//! Benchmark of the nightly association-rule run (`storehub bench --only rules --lines N`) and
//! the simulated shop the recommendation evaluation is tested on. Both write synthetic sales
//! straight into `TreeId::Sales` (no checkout: only baskets matter here) from a deterministic
//! generator ([`simulate`], splitmix64 with a fixed seed): SKUs in categories with skewed
//! popularity, baskets of 1 + Poisson(3) lines (at most 30), planted pairs (a basket holding A
//! also gets B with a set probability), members with two favourite categories. The bench times
//! `members::recommend::run` (reading, mining, writing) and the mining alone, its peak memory
//! (VmHWM, reset before the run) and a same-run baseline: one plain pass over the same sales
//! counting SKUs (read, decode, one hash-map increment per line); then the mining alone again on
//! the same baskets at a support floor of 2 baskets, the pair map's worst case. Nothing here is
//! used by the daemon.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::analytics::Rng;
use super::replenishment::status_kb;
use super::Figure;
use crate::checkout::cart::CartLine;
use crate::checkout::sale::Sale;
use crate::domain::channel::SalesChannel;
use crate::domain::pricing::{PricedBasket, PricedLine, Quantity};
use crate::domain::tender::Settlement;
use crate::domain::assoc::{mine_ids, Baskets, Interner, MineParams};
use crate::store::{codec, Durability, Store, StoreError, StoreOptions, TreeId};

/// The draws the simulation needs on top of the analytics bench's splitmix64.
trait Draws {
    fn unit(&mut self) -> f64;
    fn skewed(&mut self, n: u64) -> u64;
    fn poisson(&mut self, lambda: f64) -> u64;
}

impl Draws for Rng {
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Skewed index in `0..n`: index ⌊n·u²⌋, so low indexes sell most.
    fn skewed(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((n as f64 * u * u) as u64).min(n.saturating_sub(1))
    }

    fn poisson(&mut self, lambda: f64) -> u64 {
        let limit = (-lambda).exp();
        let (mut k, mut p) = (0, self.unit());
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

/// What a simulated shop looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimSpec {
    pub skus: u32,
    pub categories: u32,
    pub members: u32,
    /// Baskets bought by members (the rest are anonymous), bp.
    pub member_share_bp: u32,
    /// Share of a member's lines from their two favourite categories, bp.
    pub favourite_bp: u32,
    /// Pairs A → B planted, and the chance a basket with A also gets B, bp.
    pub planted_pairs: u32,
    pub pair_bp: u32,
    pub seed: u64,
}

/// SKU `i`'s id and category: `S000123`, `C017`.
pub fn sku_name(i: u32) -> String {
    format!("S{i:06}")
}

fn category_of(spec: &SimSpec, i: u32) -> u32 {
    i / (spec.skus / spec.categories.max(1)).max(1)
}

pub fn category_name(c: u32) -> String {
    format!("C{c:03}")
}

/// One simulated basket: its day index (0 = first day), member (1-based id) and SKU indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBasket {
    pub day: u32,
    pub member: Option<u64>,
    pub skus: Vec<u32>,
}

/// The planted pairs of `spec`: A → B with B in another category than A.
pub fn planted(spec: &SimSpec) -> HashMap<u32, u32> {
    let mut rng = Rng(spec.seed ^ 0xA55A);
    let mut out = HashMap::new();
    while out.len() < spec.planted_pairs as usize {
        let a = rng.skewed(u64::from(spec.skus)) as u32;
        let b = rng.below(u64::from(spec.skus)) as u32;
        if category_of(spec, a) != category_of(spec, b) {
            out.insert(a, b);
        }
    }
    out
}

/// Generates baskets over `days` days until `lines` basket lines are made (or, with `lines` 0,
/// `per_day` baskets a day), calling `f` for each.
pub fn simulate(spec: &SimSpec, days: u32, per_day: u32, lines: u64, mut f: impl FnMut(&SimBasket)) {
    let mut rng = Rng(spec.seed);
    let pairs = planted(spec);
    let per_cat = (spec.skus / spec.categories.max(1)).max(1);
    let favourites = |m: u64| {
        let h = Rng(m.wrapping_mul(0x9E37)).next();
        ((h % u64::from(spec.categories)) as u32, ((h >> 20) % u64::from(spec.categories)) as u32)
    };
    let (mut made, mut basket_no) = (0u64, 0u64);
    let total_baskets = if lines == 0 { u64::from(days) * u64::from(per_day) } else { u64::MAX };
    while (lines == 0 && basket_no < total_baskets) || (lines > 0 && made < lines) {
        let day = if lines == 0 { (basket_no / u64::from(per_day.max(1))) as u32 } else { rng.below(u64::from(days)) as u32 };
        basket_no += 1;
        let member = (rng.below(10_000) < u64::from(spec.member_share_bp)).then(|| 1 + rng.below(u64::from(spec.members.max(1))));
        let size = 1 + rng.poisson(3.0).min(29);
        let mut skus = Vec::with_capacity(size as usize + 4);
        for _ in 0..size {
            let sku = match member {
                Some(m) if rng.below(10_000) < u64::from(spec.favourite_bp) => {
                    let (c1, c2) = favourites(m);
                    let c = if rng.below(2) == 0 { c1 } else { c2 };
                    c * per_cat + rng.skewed(u64::from(per_cat)) as u32
                }
                _ => rng.skewed(u64::from(spec.skus)) as u32,
            };
            skus.push(sku);
            if let Some(b) = pairs.get(&sku) {
                if rng.below(10_000) < u64::from(spec.pair_bp) {
                    skus.push(*b);
                }
            }
        }
        skus.sort_unstable();
        skus.dedup();
        made += skus.len() as u64;
        f(&SimBasket { day, member, skus });
    }
}

/// A sale of `skus` (¥1–¥50 a line, one piece each) made at `at`.
pub fn synthetic_sale(spec: &SimSpec, id: u64, at: DateTime<Utc>, member: Option<u64>, skus: &[u32]) -> Sale {
    let mut lines = Vec::with_capacity(skus.len());
    let mut priced = Vec::with_capacity(skus.len());
    for (n, &i) in skus.iter().enumerate() {
        let line_no = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let price = 100 + i64::from(i % 50) * 100;
        let (sku, category) = (sku_name(i), category_name(category_of(spec, i)));
        lines.push(CartLine {
            line_no,
            sku: sku.clone(),
            name_zh: String::new(),
            name_en: String::new(),
            category: category.clone(),
            qty: Quantity::Units(1),
            unit_price_fen: price,
            member_price_fen: None,
            label_price_fen: None,
            barcode: None,
        });
        priced.push(PricedLine { line_no, sku, category, qty: Quantity::Units(1), gross_fen: price, line_discounts: vec![], ticket_shares: vec![], net_fen: price });
    }
    let total: i64 = priced.iter().map(|l| l.net_fen).sum();
    Sale {
        id,
        receipt_no: format!("sim-{id}"),
        lane: "sim".into(),
        cashier: "sim".into(),
        shift_id: None,
        member_id: member,
        at,
        lines,
        priced: PricedBasket { lines: priced, subtotal_fen: total, ticket_discounts: vec![], discount_total_fen: 0, total_fen: total },
        settlement: Settlement { total_fen: total, tenders: vec![], change_fen: 0, rounding_fen: 0, collected_fen: total },
        stock_moves: vec![],
        points_earned: 0,
        points_redeemed: 0,
        coupons: vec![],
        tier: None,
        points_lot: None,
        points_eligible_fen: 0,
        points_reversed: 0,
        points_restored: 0,
        returned: vec![],
        refunded_fen: 0,
        channel: SalesChannel::InStore,
        order_id: None,
        clock_unsynced: false,
        price_overrides: Vec::new(),
    }
}

/// Writes the simulated sales of `days` days ending on `last_day` (Shanghai, 03:00 UTC = 11:00
/// local) into `store`, in commits of 2000, ids after `after_id` in day order. Returns (sales,
/// lines).
pub fn write_simulated_sales(store: &Store, spec: &SimSpec, last_day: NaiveDate, days: u32, per_day: u32, lines: u64, after_id: u64) -> Result<(u64, u64), StoreError> {
    let first = last_day - chrono::Days::new(u64::from(days.max(1) - 1));
    let mut baskets = Vec::new();
    simulate(spec, days, per_day, lines, |b| baskets.push(b.clone()));
    baskets.sort_by_key(|b| b.day);
    let (mut id, mut line_count) = (after_id, 0u64);
    for chunk in baskets.chunks(2000) {
        store
            .commit(|tx| {
                for b in chunk {
                    id += 1;
                    line_count += b.skus.len() as u64;
                    let day = first + chrono::Days::new(u64::from(b.day));
                    let at = Utc.from_utc_datetime(&day.and_hms_opt(3, 0, 0).unwrap_or_default()) + chrono::Duration::seconds((id % 20_000) as i64);
                    tx.put::<_, std::convert::Infallible>(TreeId::Sales, &codec::u64_key(id), &synthetic_sale(spec, id, at, b.member, &b.skus))?;
                }
                Ok(())
            })
            .map_err(|e| e.into_store())?;
    }
    Ok((id - after_id, line_count))
}

/// The bench's shop: 20 000 SKUs in 200 categories, 500 planted pairs at 60 %, 30 % of baskets
/// by 20 000 members.
pub const BENCH_SPEC: SimSpec = SimSpec { skus: 20_000, categories: 200, members: 20_000, member_share_bp: 3000, favourite_bp: 5000, planted_pairs: 500, pair_bp: 6000, seed: 0x5EED_0011 };

/// Builds a store of `lines` sale lines over 90 days and times the run; see the module docs.
pub fn figures(root: &Path, lines: u64, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    let day = NaiveDate::from_ymd_opt(2026, 6, 30).ok_or_else(|| anyhow::anyhow!("bad benchmark date"))?;
    let clock = crate::clock::ManualClock::new("2026-06-30T12:00:00Z".parse()?);
    let store = Store::open(StoreOptions { path: root.join("rules"), durability: Durability::Relaxed, relaxed_flush_ms: 200, source: None, clock: std::sync::Arc::new(clock) })?;
    log(&format!("rules: writing {lines} sale lines over 90 days …"));
    let t = Instant::now();
    let (sales, made) = write_simulated_sales(&store, &BENCH_SPEC, day, 90, 0, lines, 0)?;
    store.flush()?;
    let build = t.elapsed().as_secs_f64();

    log("rules: baseline (one counting pass) …");
    let t = Instant::now();
    let mut counts: HashMap<String, u32> = HashMap::new();
    for item in store.scan::<Sale>(TreeId::Sales) {
        let (_, s) = item?;
        for l in &s.lines {
            *counts.entry(l.sku.clone()).or_insert(0) += 1;
        }
    }
    let baseline = t.elapsed().as_secs_f64();
    std::hint::black_box(counts.len());

    log("rules: the run …");
    let settings = crate::members::recommend::RecommendSettings::default();
    let rss_before = status_kb("VmRSS:").unwrap_or(0);
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let t = Instant::now();
    let run = crate::members::recommend::run(&store, &settings, day)?;
    let took = t.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM:").unwrap_or(0);
    anyhow::ensure!(u64::from(run.baskets) == sales, "the run saw {} baskets of {sales}", run.baskets);
    // Worst case for the pair counts: every pair seen twice kept (support floor 2 baskets), on
    // the same baskets, read into memory first; mining alone, its own peak.
    log("rules: mining at a support floor of 2 baskets …");
    let (mut names, mut baskets, mut scratch) = (Interner::default(), Baskets::default(), Vec::new());
    crate::members::recommend::for_each_basket(&store, settings.tz, day - chrono::Days::new(89), day, |b| {
        scratch.extend(b.lines.iter().map(|l| names.id(l.sku)));
        baskets.push(&mut scratch);
    })?;
    let loose = MineParams { min_support_bp: 0, ..settings.params() };
    let reset_loose = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_loose = status_kb("VmRSS:").unwrap_or(0);
    let t = Instant::now();
    let mined = mine_ids(&baskets, names.len(), &loose);
    let loose_s = t.elapsed().as_secs_f64();
    let peak_loose = status_kb("VmHWM:").unwrap_or(0);
    std::hint::black_box(mined.rules.len());
    let what = format!("{made} lines, {sales} baskets, {} SKUs", run.skus);
    let c = &settings.config;
    Ok(vec![
        Figure { name: format!("one plain pass counting SKUs over every sale ({what})"), value: baseline, unit: "s", note: "baseline: read, decode, one hash-map increment per line".into() },
        Figure {
            name: format!("rule mining alone: singles, pruning, pair counts, rules ({what})"),
            value: run.mine_ms as f64 / 1000.0,
            unit: "s",
            note: format!("{} frequent SKUs, {} pairs counted; support ≥ {} bp, confidence ≥ {} bp, lift ≥ {}", run.frequent_skus, run.sku_pairs, c.min_support_bp, c.min_confidence_bp, c.min_lift_milli),
        },
        Figure {
            name: format!("nightly rule run: read window, mine, write rule sets, event ({what})"),
            value: took,
            unit: "s",
            note: format!(
                "target < 10 s; {:.2}× the counting pass; read {} ms, mine {} ms; {} SKU + {} category rules in {} sets; store built in {build:.0} s",
                took / baseline.max(1e-9),
                run.read_ms,
                run.mine_ms,
                run.sku_rules,
                run.category_rules,
                run.rule_sets
            ),
        },
        Figure {
            name: format!("rule mining alone at a support floor of 2 baskets ({what})"),
            value: loose_s,
            unit: "s",
            note: format!(
                "worst case for the pair map: {} frequent SKUs, {} pairs counted, {} rules before top K; peak +{:.0} MB over the RSS before it ({:.0} MB){}",
                mined.frequent_items,
                mined.pairs_counted,
                mined.rules.len(),
                peak_loose.saturating_sub(rss_loose) as f64 / 1024.0,
                rss_loose as f64 / 1024.0,
                if reset_loose { "" } else { " (clear_refs refused: whole-process peak)" }
            ),
        },
        Figure {
            name: format!("nightly rule run peak memory, VmHWM ({what})"),
            value: peak as f64 / 1024.0,
            unit: "MB",
            note: format!("RSS before the run {:.0} MB; peak {}", rss_before as f64 / 1024.0, if reset { "reset just before the run" } else { "of the whole process (clear_refs refused)" }),
        },
    ])
}
