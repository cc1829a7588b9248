//! `storehub bench`: measures the store's hot paths on this machine and, in the same run, the
//! physical limits they should be read against (raw `fdatasync` of a small append in the data
//! dir, a loop of tiny sled flushes, bare sled inserts). Prints a Markdown report for
//! docs/benchmarks.md. Nothing here is used by the daemon.

pub mod analytics;
pub mod cloud;
pub mod replenishment;
pub mod rules;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{self, Product, Unit};
use crate::domain::barcode::gs1_check_digit;
use crate::domain::stock::MoveKind;
use crate::inventory::{self, NewMove};
use crate::store::{Durability, Store, StoreOptions};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Directory for the benchmark databases (a fresh subdirectory is made and removed).
    pub dir: PathBuf,
    pub products: usize,
    /// Length of each timed phase.
    pub phase: Duration,
    pub lookups: usize,
    /// Journal size for the recovery benchmark (0 skips it).
    pub journal_mb: u64,
    /// Run only phases whose name contains this (baselines always run).
    pub only: Option<String>,
    /// Sale lines of the rule-mining benchmark (`rules`).
    pub lines: u64,
}

impl BenchOptions {
    fn wants(&self, phase: &str) -> bool {
        self.only.as_deref().is_none_or(|o| phase.contains(o))
    }
}

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub note: String,
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Lets the disk settle before a timed phase: writes back everything dirty (`sync`) and waits a
/// moment, so a phase does not pay for the previous phase's writeback.
fn settle() {
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(300));
}

/// Raw `fdatasync` rate: append 64 bytes, `fdatasync`, repeat.
pub fn raw_fdatasync_rate(dir: &Path, phase: Duration) -> std::io::Result<f64> {
    let path = dir.join("fdatasync.probe");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    let buf = [0x5au8; 64];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < phase {
        f.write_all(&buf)?;
        f.sync_data()?;
        n += 1;
    }
    let r = rate(n, start.elapsed());
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(r)
}

/// Tiny sled insert + `flush()` loop (sled's flush is `sync_file_range`, not an fsync).
pub fn sled_flush_rate(dir: &Path, phase: Duration) -> sled::Result<f64> {
    let db = sled::Config::new().path(dir.join("sled-flush-probe")).open()?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < phase {
        db.insert(n.to_be_bytes(), &[1u8; 16][..])?;
        db.flush()?;
        n += 1;
    }
    Ok(rate(n, start.elapsed()))
}

/// Bare sled inserts without flush (what the library alone does).
pub fn sled_insert_rate(dir: &Path, phase: Duration) -> sled::Result<f64> {
    let db = sled::Config::new().path(dir.join("sled-insert-probe")).flush_every_ms(None).open()?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < phase {
        db.insert(n.to_be_bytes(), &[1u8; 64][..])?;
        n += 1;
    }
    Ok(rate(n, start.elapsed()))
}

/// Bare sled ceiling for a stock move: the three records one move writes (the move, the stock
/// level, the outbox event), taken from a real committed move, inserted as plain sled inserts
/// with no journal, no logic and no encoding.
pub fn sled_move_records_rate(dir: &Path, sample: &[(crate::store::TreeId, Vec<u8>, Vec<u8>)], phase: Duration) -> sled::Result<f64> {
    let db = crate::store::sled_config(&dir.join("sled-records-probe")).flush_every_ms(None).open()?;
    let trees: Vec<sled::Tree> = sample.iter().map(|(t, _, _)| db.open_tree(t.name())).collect::<Result<_, _>>()?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < phase {
        for ((_, key, value), tree) in sample.iter().zip(&trees) {
            // Vary the key like consecutive moves do (the stock key repeats over 1000 products).
            let mut k = key.clone();
            if let Some(last) = k.last_mut() {
                *last = last.wrapping_add(n as u8);
            }
            let id = n.to_be_bytes();
            let k: Vec<u8> = if k.len() == 8 { id.to_vec() } else { k };
            tree.insert(k, value.as_slice())?;
        }
        n += 1;
    }
    Ok(rate(n, start.elapsed()))
}

/// A synthetic product with a valid EAN-13 (prefix 690, then the index).
pub fn synthetic_product(i: usize) -> Product {
    let body: Vec<u8> = format!("690{:09}", i).bytes().map(|b| b - b'0').collect();
    let check = gs1_check_digit(&body);
    let code: String = body.iter().chain(std::iter::once(&check)).map(|d| (b'0' + d) as char).collect();
    Product {
        sku: format!("B{:07}", i),
        barcodes: vec![code],
        name_zh: format!("测试商品{i}"),
        name_en: format!("Test product {i}"),
        category: format!("类目{}", i % 40),
        unit: Unit::Piece,
        price_fen: 100 + (i as i64 % 5000),
        member_price_fen: None,
        cost_fen: Some(80),
        tax_bp: 1300,
        supplier: Some(format!("供应商{}", i % 25)),
        reorder_point: None,
        active: true,
    }
}

fn open(dir: &Path, durability: Durability) -> Result<Store, crate::store::StoreError> {
    Store::open(StoreOptions {
        path: dir.to_path_buf(),
        durability,
        relaxed_flush_ms: 200,
        source: Some("/storehub/bench/bench/bench".into()),
        clock: crate::clock::system(),
    })
}

/// Commit rate of stock moves with `writers` threads for `phase`.
pub fn commit_rate(store: &Arc<Store>, writers: usize, skus: usize, phase: Duration) -> anyhow::Result<f64> {
    Ok(commit_run(store, writers, skus, phase)?.0)
}

/// Commit rate and every commit's latency (sorted) with `writers` threads for `phase`.
pub fn commit_run(store: &Arc<Store>, writers: usize, skus: usize, phase: Duration) -> anyhow::Result<(f64, Vec<Duration>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    // SKUs made up front, so the timed loop measures the commit, not string formatting.
    let sku_names: Arc<Vec<String>> = Arc::new((0..skus).map(|i| synthetic_product(i).sku).collect());
    let start = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (store, stop, count) = (Arc::clone(store), Arc::clone(&stop), Arc::clone(&count));
            let sku_names = Arc::clone(&sku_names);
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let mut i = w;
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let m = NewMove {
                        sku: sku_names[i % skus].clone(),
                        kind: MoveKind::Receipt,
                        qty: 1,
                        reason: "bench".into(),
                        user: "bench".into(),
                        reference: None,
                    };
                    let t = Instant::now();
                    inventory::move_stock(&store, &m).map_err(|e| anyhow::anyhow!("{e}"))?;
                    if lat.len() < 2_000_000 {
                        lat.push(t.elapsed());
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    i += writers;
                }
                Ok(lat)
            })
        })
        .collect();
    std::thread::sleep(phase);
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|_| anyhow::anyhow!("bench writer panicked"))??);
    }
    all.sort();
    Ok((rate(count.load(Ordering::Relaxed), start.elapsed()), all))
}

/// The q-quantile of sorted durations, in µs.
fn quantile_us(sorted: &[Duration], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => sorted[((n as f64 * q) as usize).min(n - 1)].as_secs_f64() * 1e6,
    }
}

/// Runs every benchmark and returns the figures in report order.
pub fn run(opts: &BenchOptions, mut log: impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    let root = opts.dir.join(format!("storehub-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let result = run_in(&root, opts, &mut log);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn run_in(root: &Path, opts: &BenchOptions, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    let mut figs = Vec::new();
    log("raw fdatasync rate …");
    settle();
    let fsync = raw_fdatasync_rate(root, opts.phase)?;
    figs.push(Figure { name: "raw fdatasync of a 64-byte append (physical limit)".into(), value: fsync, unit: "syncs/s", note: "baseline".into() });
    log("sled flush rate …");
    let flush = sled_flush_rate(root, opts.phase)?;
    figs.push(Figure { name: "sled tiny insert + flush() loop".into(), value: flush, unit: "flushes/s", note: format!("{:.2}× fdatasync (sync_file_range, not durable)", flush / fsync) });
    log("bare sled insert rate …");
    let inserts = sled_insert_rate(root, opts.phase)?;
    figs.push(Figure { name: "bare sled insert, no flush".into(), value: inserts, unit: "inserts/s", note: "library baseline".into() });

    // Catalog lookup at N products.
    if opts.wants("lookup") {
    log(&format!("loading {} products …", opts.products));
    let store = open(&root.join("lookup"), Durability::Relaxed)?;
    let products: Vec<Product> = (0..opts.products).map(synthetic_product).collect();
    let t = Instant::now();
    catalog::upsert_products(&store, &products, 1000, |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
    let load = t.elapsed();
    figs.push(Figure { name: format!("catalog import of {} products (1000 per transaction)", opts.products), value: rate(opts.products as u64, load), unit: "products/s", note: format!("{:.1} s in all", load.as_secs_f64()) });
    log("barcode lookups …");
    let mut lat = Vec::with_capacity(opts.lookups);
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..opts.lookups {
        let p = &products[rng.usize(..products.len())];
        let code = crate::domain::barcode::classify_catalog_code(&p.barcodes[0])?;
        let t = Instant::now();
        let found = catalog::product_by_code(&store, &code)?;
        lat.push(t.elapsed());
        anyhow::ensure!(found.as_ref().map(|f| &f.sku) == Some(&p.sku), "lookup returned the wrong product");
    }
    lat.sort();
    let pct = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)].as_secs_f64() * 1e6;
    figs.push(Figure { name: format!("barcode → product lookup at {} products, p50", opts.products), value: pct(0.50), unit: "µs", note: format!("{} random lookups", opts.lookups) });
    figs.push(Figure { name: format!("barcode → product lookup at {} products, p99", opts.products), value: pct(0.99), unit: "µs", note: "target < 20 µs".into() });
    figs.push(Figure { name: format!("barcode → product lookup at {} products, max", opts.products), value: pct(1.0), unit: "µs", note: String::new() });
    drop(store);
    }

    for (mode, label) in [(Durability::Durable, "durable"), (Durability::Relaxed, "relaxed")] {
        let counts: &[usize] = if mode == Durability::Durable { &[1, 4, 8] } else { &[1, 8] };
        for &writers in counts {
            if !opts.wants(&format!("{label}-{writers}")) {
                continue;
            }
            log(&format!("{label} commits, {writers} writer(s) …"));
            let dir = root.join(format!("commit-{label}-{writers}"));
            let store = Arc::new(open(&dir, mode)?);
            let skus = 1000;
            let ps: Vec<Product> = (0..skus).map(synthetic_product).collect();
            catalog::upsert_products(&store, &ps, 1000, |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
            settle();
            // The disk's speed drifts on a shared machine: a durable phase is also compared with
            // the raw fdatasync rate measured right before it, in the same directory.
            let fsync_here = match mode {
                Durability::Durable => {
                    let r = raw_fdatasync_rate(&dir, opts.phase.min(Duration::from_secs(2)))?;
                    settle();
                    r
                }
                Durability::Relaxed => fsync,
            };
            let before = store.sync_stats();
            let (cpu0, wall0) = (cpu_time(), Instant::now());
            let (r, lat) = commit_run(&store, writers, skus, opts.phase)?;
            let cores = (cpu_time() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
            let latency = format!("; latency p50 {:.0} µs, p99 {:.0} µs; {cores:.2} cores busy", quantile_us(&lat, 0.5), quantile_us(&lat, 0.99));
            let group = match (before, store.sync_stats()) {
                (Some((c0, s0, t0)), Some((c1, s1, t1))) if s1 > s0 => format!(
                    "; {:.1} commits per sync, {:.0} µs per sync",
                    (c1 - c0) as f64 / (s1 - s0) as f64,
                    (t1 - t0).as_secs_f64() * 1e6 / (s1 - s0) as f64
                ),
                _ => String::new(),
            };
            let note = match mode {
                Durability::Durable => format!(
                    "{:.2}× raw fdatasync measured just before ({fsync_here:.0}/s; {:.2}× the run's first figure), {:.2}× sled flush loop{group}{latency}",
                    r / fsync_here,
                    r / fsync,
                    r / flush
                ),
                Durability::Relaxed => {
                    // Same-run ceiling: the three records of a real move as bare sled inserts.
                    let m = crate::inventory::recent_moves(&store, None, 1)?;
                    let mut sample = Vec::new();
                    if let Some(m) = m.first() {
                        let ev = store.outbox_batch(0, usize::MAX)?.into_iter().find(|e| e.event_type == crate::inventory::EVENT_STOCK_MOVED);
                        sample.push((crate::store::TreeId::Moves, m.id.to_be_bytes().to_vec(), crate::store::codec::encode(m)?));
                        if let Some(level) = store.get::<crate::inventory::StockLevel>(crate::store::TreeId::Stock, m.sku.as_bytes())? {
                            sample.push((crate::store::TreeId::Stock, m.sku.as_bytes().to_vec(), crate::store::codec::encode(&level)?));
                        }
                        if let Some(ev) = ev {
                            sample.push((crate::store::TreeId::Outbox, ev.seq.to_be_bytes().to_vec(), crate::store::codec::encode(&ev)?));
                        }
                    }
                    let bytes: usize = sample.iter().map(|(_, k, v)| k.len() + v.len()).sum();
                    let ceiling = sled_move_records_rate(&dir, &sample, opts.phase)?;
                    format!(
                        "{:.2}× bare sled inserts of a move's {} records ({bytes} bytes): {:.0}/s; {:.2}× bare 64-byte inserts{latency}",
                        r / ceiling,
                        sample.len(),
                        ceiling,
                        r / inserts
                    )
                }
            };
            figs.push(Figure { name: format!("stock move commit, {label}, {writers} writer(s)"), value: r, unit: "moves/s", note });
            if mode == Durability::Relaxed && writers == 1 {
                // Outbox drain on the events this phase wrote.
                log("outbox drain …");
                let stats = store.outbox_stats()?;
                let t = Instant::now();
                let mut drained = 0u64;
                loop {
                    let batch = store.outbox_batch(0, 256)?;
                    if batch.is_empty() {
                        break;
                    }
                    let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
                    for e in &batch {
                        std::hint::black_box(e.to_cloudevent().to_string());
                    }
                    store.outbox_ack(&seqs)?;
                    drained += seqs.len() as u64;
                }
                let dr = rate(drained, t.elapsed());
                figs.push(Figure { name: "outbox drain: read 256, render CloudEvents JSON, delete".into(), value: dr, unit: "events/s", note: format!("{} events ({} KiB) drained; {:.2}× bare sled inserts", stats.count, stats.bytes / 1024, dr / inserts) });
            }
        }
    }
    if opts.wants("checkout") {
        figs.extend(checkout_figures(root, opts, log)?);
    }
    if opts.wants("devices") {
        figs.extend(devices_figures(root, opts, log)?);
    }
    if opts.wants("cloud") {
        figs.extend(cloud::figures(root, 100_000, log)?);
    }
    if opts.wants("analytics") {
        figs.extend(analytics::figures(root, opts.products, log)?);
    }
    if opts.wants("analytics-clv") {
        figs.extend(analytics::clv_figures(log)?);
    }
    if opts.wants("replenishment") {
        figs.extend(replenishment::figures(root, opts.products, log)?);
    }
    if opts.wants("rules") {
        figs.extend(rules::figures(root, opts.lines, log)?);
    }
    if opts.journal_mb > 0 && opts.wants("recover") {
        log(&format!("recovery from a snapshot and a {} MB journal …", opts.journal_mb));
        figs.push(recovery_time(root, opts.journal_mb)?);
    }
    Ok(figs)
}

/// Builds a store whose journal after its newest snapshot holds `mb` megabytes of stock moves,
/// then times `storehub recover`'s work: find and check the snapshot, rebuild the database from
/// it, reopen (re-applying the journal) and verify.
fn recovery_time(root: &Path, mb: u64) -> anyhow::Result<Figure> {
    let dir = root.join("recovery");
    let skus = 1000;
    {
        let store = open(&dir, Durability::Relaxed)?;
        let ps: Vec<Product> = (0..skus).map(synthetic_product).collect();
        catalog::upsert_products(&store, &ps, 1000, |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
        store.snapshot(4)?;
        let start = store.journal_bytes_written();
        let mut i = 0usize;
        while store.journal_bytes_written() - start < mb * 1_000_000 {
            let m = NewMove { sku: synthetic_product(i % skus).sku, kind: MoveKind::Receipt, qty: 1, reason: "bench".into(), user: "bench".into(), reference: None };
            inventory::move_stock(&store, &m).map_err(|e| anyhow::anyhow!("{e}"))?;
            i += 1;
        }
    }
    let journal_bytes = mb * 1_000_000;
    let t = Instant::now();
    let (plan, entries) = crate::store::snapshot::plan_recovery(&dir)?;
    crate::store::snapshot::rebuild_from_snapshot(&dir, &plan, entries)?;
    let store = open(&dir, Durability::Durable)?;
    let report = crate::verify::verify(&store)?;
    let took = t.elapsed();
    anyhow::ensure!(report.ok(), "verify after recovery: {:?}", report.violations);
    Ok(Figure {
        name: format!("recover: snapshot + {} journal records (≥ {:.0} MB of records), reopen, verify", plan.journal_records, journal_bytes as f64 / 1e6),
        value: took.as_secs_f64(),
        unit: "s",
        note: format!("{:.0} records/s re-applied and verified", plan.journal_records as f64 / took.as_secs_f64()),
    })
}

/// Renders figures as a Markdown table.
pub fn markdown(figs: &[Figure]) -> String {
    let mut s = String::from("| measurement | result | unit | relative to |\n|---|---:|---|---|\n");
    for f in figs {
        let v = if f.value >= 100.0 { format!("{:.0}", f.value) } else { format!("{:.2}", f.value) };
        s.push_str(&format!("| {} | {} | {} | {} |\n", f.name, v, f.unit, f.note));
    }
    s
}

/// Checkout at shop scale: `opts.products` products and as many members. Times a scan (barcode →
/// product → cart line; the cart flusher writes it) on a lane with a member attached; durable sales
/// from 4 lanes at once (3 lines, paid by card) against the `fdatasync` rate measured just
/// before; and the nightly member jobs (tier evaluation, points expiry) over every member.
fn checkout_figures(root: &Path, opts: &BenchOptions, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    use crate::checkout::{Lanes, PayRequest, SaleRules};
    use crate::domain::tender::{CashRounding, Tender, TenderKind};
    use crate::members::{self, LoyaltyRules, NewMember};
    let mut figs = Vec::new();
    let dir = root.join("checkout");
    let n = opts.products;
    let loyalty = LoyaltyRules::default();
    log(&format!("checkout: loading {n} products and {n} members …"));
    {
        let store = open(&dir, Durability::Relaxed)?;
        let products: Vec<Product> = (0..n).map(synthetic_product).collect();
        catalog::upsert_products(&store, &products, 1000, |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
        let cost = crate::staff::HashCost::minimal_for_tests();
        for (id, role) in [("bench", crate::domain::staff::Role::Cashier), ("bench-mgr", crate::domain::staff::Role::Manager)] {
            crate::staff::create_staff(&store, &crate::staff::NewStaff { id: id.into(), name: id.into(), role }, "bench-password", None, &cost)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for l in 0..4 {
            crate::staff::open_shift(&store, &format!("lane-{l}"), "bench", 0).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let t = Instant::now();
        for i in 0..n {
            let new = NewMember::in_store(format!("13{:09}", i), format!("会员{i}"));
            let m = members::register(&store, &new, &loyalty).map_err(|e| anyhow::anyhow!("{e}"))?;
            if i % 10 == 0 {
                members::adjust_points(&store, m.id, 1_000, "bench", "bench-mgr", &loyalty).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        figs.push(Figure { name: format!("member registration, {n} members (relaxed mode, 1 in 10 also given points)"), value: rate(n as u64, t.elapsed()), unit: "members/s", note: format!("{:.1} s in all", t.elapsed().as_secs_f64()) });
    }
    let store = Arc::new(open(&dir, Durability::Durable)?);
    let lane_ids: Vec<String> = (0..4).map(|l| format!("lane-{l}")).collect();
    let lanes = Lanes::open(Arc::clone(&store), &lane_ids, Vec::new(), 300)?;
    let cashier = crate::staff::StaffRef { id: "bench".into(), name: "bench".into(), role: crate::domain::staff::Role::Cashier };
    for l in &lane_ids {
        lanes.sign_in(l, &cashier)?;
    }
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: Vec::new(), tz: chrono_tz::Asia::Shanghai, loyalty: loyalty.clone() };

    // Scans back to back (a stress figure), then paced at one every 500 µs on each of 4 lanes
    // (8,000 scans/s in all; a cashier scans about one item a second).
    for (label, lanes_n, gap) in [("back to back, 1 lane", 1usize, None), ("paced, 4 lanes, one scan per lane every 500 µs", 4, Some(Duration::from_micros(500)))] {
        log(&format!("checkout: scans, {label} …"));
        settle();
        let lat: Vec<Duration> = std::thread::scope(|s| -> anyhow::Result<Vec<Duration>> {
            let handles: Vec<_> = (0..lanes_n)
                .map(|l| {
                    let (lanes, lane) = (Arc::clone(&lanes), format!("lane-{l}"));
                    s.spawn(move || -> anyhow::Result<Vec<Duration>> {
                        let mut rng = fastrand::Rng::with_seed(11 + l as u64);
                        let mut lat = Vec::with_capacity(20_000);
                        let started = Instant::now();
                        let mut next = Instant::now();
                        while started.elapsed() < opts.phase {
                            lanes.void(&lane)?;
                            lanes.attach_member(&lane, &format!("13{:09}", rng.usize(..n)))?;
                            for _ in 0..50 {
                                if let Some(gap) = gap {
                                    next += gap;
                                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                                        std::thread::sleep(wait);
                                    }
                                }
                                let code = synthetic_product(rng.usize(..n)).barcodes[0].clone();
                                let t = Instant::now();
                                let outcome = lanes.scan(&lane, &code)?;
                                lat.push(t.elapsed());
                                anyhow::ensure!(matches!(outcome, crate::checkout::ScanOutcome::Added { .. }), "scan did not add: {outcome:?}");
                            }
                        }
                        lanes.void(&lane)?;
                        Ok(lat)
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.join().map_err(|_| anyhow::anyhow!("scan thread panicked"))??);
            }
            Ok(all)
        })?;
        let mut lat = lat;
        lat.sort();
        figs.push(Figure { name: format!("scan → cart line, {label}, p50"), value: quantile_us(&lat, 0.5), unit: "µs", note: format!("{n} products, {n} members; {} scans with a member attached; decode, lookup, merge into the cart (written by the flusher)", lat.len()) });
        figs.push(Figure { name: format!("scan → cart line, {label}, p99"), value: quantile_us(&lat, 0.99), unit: "µs", note: format!("target < 200 µs; p99.9 {:.0} µs", quantile_us(&lat, 0.999)) });
    }

    log("checkout: durable sales, 4 lanes …");
    settle();
    let fsync = raw_fdatasync_rate(&dir, opts.phase.min(Duration::from_secs(2)))?;
    settle();
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let handles: Vec<_> = lane_ids
        .iter()
        .enumerate()
        .map(|(w, lane)| {
            let (lanes, stop, count, rules, lane) = (Arc::clone(&lanes), Arc::clone(&stop), Arc::clone(&count), rules.clone(), lane.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let mut rng = fastrand::Rng::with_seed(w as u64);
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..3 {
                        lanes.add_sku(&lane, &synthetic_product(rng.usize(..n)).sku, 1)?;
                    }
                    let total = lanes.quote(&lane, &rules)?.total_fen;
                    let tender = Tender { kind: TenderKind::BankCard, amount_fen: total, reference: Some("POS".into()), points: None };
                    let s = Instant::now();
                    lanes.pay(&lane, &PayRequest { tenders: vec![tender] }, &rules)?;
                    lat.push(s.elapsed());
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok(lat)
            })
        })
        .collect();
    std::thread::sleep(opts.phase);
    stop.store(true, Ordering::Relaxed);
    let mut pay_lat = Vec::new();
    for h in handles {
        pay_lat.extend(h.join().map_err(|_| anyhow::anyhow!("lane thread panicked"))??);
    }
    pay_lat.sort();
    let r = rate(count.load(Ordering::Relaxed), t.elapsed());
    figs.push(Figure {
        name: "sale commit (3 lines, card), durable, 4 lanes".into(),
        value: r,
        unit: "sales/s",
        note: format!(
            "{:.2}× raw fdatasync measured just before ({fsync:.0}/s); whole lane cycle (3 adds, quote, pay); pay latency p50 {:.0} µs, p99 {:.0} µs",
            r / fsync,
            quantile_us(&pay_lat, 0.5),
            quantile_us(&pay_lat, 0.99)
        ),
    });

    log("checkout: member jobs …");
    let later = chrono::Utc::now().date_naive() + chrono::Duration::days(3 * 365);
    let t = Instant::now();
    let tiers = members::evaluate_tiers(&store, later, &loyalty).map_err(|e| anyhow::anyhow!("{e}"))?;
    figs.push(Figure { name: format!("tier evaluation job over {} members", tiers.members), value: t.elapsed().as_secs_f64(), unit: "s", note: format!("{:.0} members/s", rate(tiers.members as u64, t.elapsed())) });
    let t = Instant::now();
    let expired = members::expire_points(&store, later, &loyalty).map_err(|e| anyhow::anyhow!("{e}"))?;
    figs.push(Figure {
        name: format!("points expiry job over {} members ({} with points to expire)", expired.members, expired.members_expired),
        value: t.elapsed().as_secs_f64(),
        unit: "s",
        note: format!("{:.0} members/s", rate(expired.members as u64, t.elapsed())),
    });
    Ok(figs)
}

/// CPU time of each thread of this process now: `tid → (name, run time)`. The run time is the
/// scheduler's `sum_exec_runtime` from `/proc/self/task/TID/schedstat` (nanoseconds, user +
/// system); where the kernel has no schedstat, `utime + stime` from `.../stat` (clock ticks).
fn thread_cpu() -> std::collections::HashMap<u32, (String, Duration)> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return out };
    // SAFETY: sysconf has no preconditions.
    let tick = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as u64,
        _ => 100,
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let path = entry.path();
        let name = std::fs::read_to_string(path.join("comm")).map(|s| s.trim().to_string()).unwrap_or_default();
        let from_schedstat = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
            .map(Duration::from_nanos);
        let cpu = from_schedstat.or_else(|| {
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // Fields after the ")" that closes the name: state is field 3, utime 14, stime 15.
            let rest = &stat[stat.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(Duration::from_nanos(ticks * 1_000_000_000 / tick))
        });
        if let Some(cpu) = cpu {
            out.insert(tid, (name, cpu));
        }
    }
    out
}

/// CPU used between two [`thread_cpu`] snapshots, split into (hub, simulators, bench harness).
/// Simulator threads are the ones named `sim-…` (`sim-scale`, `sim-shelf`, the bench's
/// `sim-scanner` feeders); the harness is the main thread; every other thread of the process is
/// the hub's (device drivers, the lanes' event worker and update watcher, the cart flusher, the
/// store's threads). A thread that started inside the window counts in full; one that ended
/// inside it is missing, so the window ends before any thread of interest is stopped.
fn cpu_split(before: &std::collections::HashMap<u32, (String, Duration)>, after: &std::collections::HashMap<u32, (String, Duration)>) -> (Duration, Duration, Duration) {
    let pid = std::process::id();
    let (mut hub, mut sim, mut harness) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for (tid, (name, cpu)) in after {
        let used = cpu.saturating_sub(before.get(tid).map(|(_, c)| *c).unwrap_or_default());
        if *tid == pid {
            harness += used;
        } else if name.starts_with("sim-") {
            sim += used;
        } else {
            hub += used;
        }
    }
    (hub, sim, harness)
}

/// Waits until every device id in `ids` is connected on `health`.
fn wait_connected(health: &crate::devices::health::HealthBoard, ids: &[String]) -> anyhow::Result<()> {
    let started = Instant::now();
    while !ids.iter().all(|id| health.get(id).is_some_and(|h| h.connected)) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "devices not connected after 10 s: {}", crate::devices::health::render(&health.snapshot()));
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Devices through the hub's real path (issue 6). A simulated USB-CDC scanner on a
/// pseudo-terminal, configured as a `[[devices]]` line scanner on a lane and started with
/// [`DeviceHub::start`](crate::devices::hub::DeviceHub::start) over real lanes on a durable
/// store: the time from just before the write of each code's terminator to the lane's update
/// (the lane ran `Lanes::scan`), against the bare pseudo-terminal round trip measured the same
/// way. Then 4 scanners at 10 scans/s and 4 Toledo 8217 scales polled every 100 ms on 4 lanes:
/// the CPU of the hub's threads alone, against the simulators' CPU and an idle hub's.
fn devices_figures(root: &Path, opts: &BenchOptions, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<Figure>> {
    use crate::checkout::{LaneEvent, LaneUpdate, Lanes, ScanOutcome};
    use crate::config::{DeviceConfig, DeviceKind, DeviceProtocol, Id, ScaleSettings, ScannerSettings, Transport};
    use crate::devices::health::HealthBoard;
    use crate::devices::hub::DeviceHub;
    use crate::devices::sim::{ScriptedScanner, ToledoScale};
    use crate::devices::{drive, DeviceEvent};
    use std::sync::mpsc;

    const SCANS: usize = 2_000;
    const GAP: Duration = Duration::from_millis(5);
    const STREAM: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(3);
    const EVERY: Duration = Duration::from_millis(100);
    let mut figs = Vec::new();
    let dir = root.join("devices");
    let devdir = root.join("devices-tty");
    let n = opts.products;
    let lane_ids: Vec<String> = (0..4).map(|l| format!("lane-{l}")).collect();
    log(&format!("devices: loading {n} products …"));
    let store = Arc::new(open(&dir, Durability::Durable)?);
    let products: Vec<Product> = (0..n).map(synthetic_product).collect();
    catalog::upsert_products(&store, &products, 1000, |_| {}).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cost = crate::staff::HashCost::minimal_for_tests();
    crate::staff::create_staff(&store, &crate::staff::NewStaff { id: "bench".into(), name: "bench".into(), role: crate::domain::staff::Role::Cashier }, "bench-password", None, &cost)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for l in &lane_ids {
        crate::staff::open_shift(&store, l, "bench", 0).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let lanes = Lanes::open(Arc::clone(&store), &lane_ids, Vec::new(), 300)?;
    let cashier = crate::staff::StaffRef { id: "bench".into(), name: "bench".into(), role: crate::domain::staff::Role::Cashier };
    for l in &lane_ids {
        lanes.sign_in(l, &cashier)?;
    }
    let id = |s: &str| Id::try_from(s.to_string()).map_err(|e| anyhow::anyhow!(e));
    let scanner_cfg = |name: &str, link: &Path, lane: &str| -> anyhow::Result<DeviceConfig> {
        let mut cfg = crate::devices::scanner::line_scanner_config(name, &link.to_string_lossy(), 115_200, ScannerSettings::default()).map_err(|e| anyhow::anyhow!(e))?;
        cfg.lane = Some(id(lane)?);
        Ok(cfg)
    };
    let nothing_else: Arc<dyn Fn(&DeviceEvent) + Send + Sync> = Arc::new(|_: &DeviceEvent| {});
    let code_of = |i: usize| products[i % n].barcodes[0].clone();

    // 1. Scan → lane latency.
    log(&format!("devices: {SCANS} scans through a pseudo-terminal to a lane, {} ms apart …", GAP.as_millis()));
    settle();
    let scanner = ScriptedScanner::create(&devdir.join("scanner-lat"))?;
    let cfg = scanner_cfg("scanner-lat", &devdir.join("scanner-lat"), "lane-0")?;
    let (tx, rx) = mpsc::channel::<(Instant, bool)>();
    let on_update: crate::devices::hub::OnLaneUpdate = Box::new(move |u: LaneUpdate| {
        let at = Instant::now();
        if let LaneEvent::Scanned { .. } = u.event {
            let _ = tx.send((at, matches!(u.outcome, Some(Ok(ScanOutcome::Added { .. })))));
        }
    });
    let health = Arc::new(HealthBoard::new());
    let hub = DeviceHub::start(std::slice::from_ref(&cfg), drive::drive, Arc::clone(&health), Arc::clone(store.clock()), Arc::clone(&store), Some(Arc::clone(&lanes)), Arc::clone(&nothing_else), on_update);
    let measured = (|| -> anyhow::Result<Vec<Duration>> {
        wait_connected(&health, &["scanner-lat".to_string()])?;
        // The driver's open may flush bytes written just before it: repeat a warm-up scan until
        // one reaches the lane.
        let started = Instant::now();
        loop {
            scanner.scan(&code_of(0))?;
            if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "the warm-up scan never reached the lane");
        }
        while rx.recv_timeout(Duration::from_millis(100)).is_ok() {}
        lanes.void("lane-0")?;
        let mut rng = fastrand::Rng::with_seed(61);
        let mut lat = Vec::with_capacity(SCANS);
        for i in 0..SCANS {
            if i % 50 == 49 {
                lanes.void("lane-0")?;
            }
            let sent = scanner.scan_timed(&code_of(rng.usize(..n)))?;
            let (at, added) = rx.recv_timeout(Duration::from_secs(5)).map_err(|_| anyhow::anyhow!("scan {i} never reached the lane"))?;
            anyhow::ensure!(added, "scan {i} did not add a cart line");
            lat.push(at.saturating_duration_since(sent));
            std::thread::sleep(GAP);
        }
        lat.sort();
        Ok(lat)
    })();
    hub.stop();
    drop(scanner);
    let lat = measured?;
    lanes.void("lane-0")?;

    // The physical limit: one byte through a bare pseudo-terminal, opened and read the way the
    // driver does (serial settings, poll + read), timed the same way.
    log(&format!("devices: {SCANS} bytes through a bare pseudo-terminal …"));
    let base = {
        let (mut master, slave) = serialport::TTYPort::pair().map_err(|e| anyhow::anyhow!("cannot create a pseudo-terminal: {e}"))?;
        let path = serialport::SerialPort::name(&slave).ok_or_else(|| anyhow::anyhow!("the pseudo-terminal has no name"))?;
        let mut reader = crate::devices::transport::open_serial("pty-baseline", &path, &cfg.serial_settings(), Duration::from_secs(5)).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (tx, rx) = mpsc::channel::<Instant>();
        let thread = std::thread::Builder::new().name("pty-reader".into()).spawn(move || {
            let mut buf = [0u8; 64];
            let mut got = 0usize;
            while got < SCANS {
                match std::io::Read::read(&mut reader, &mut buf) {
                    Ok(k) if k > 0 => {
                        let at = Instant::now();
                        got += k;
                        let _ = tx.send(at);
                    }
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                    Err(_) => break,
                }
            }
        })?;
        let mut lat = Vec::with_capacity(SCANS);
        for i in 0..SCANS {
            let sent = Instant::now();
            master.write_all(b"\r")?;
            let at = rx.recv_timeout(Duration::from_secs(5)).map_err(|_| anyhow::anyhow!("byte {i} never came out of the pseudo-terminal"))?;
            lat.push(at.saturating_duration_since(sent));
            std::thread::sleep(GAP);
        }
        let _ = thread.join();
        drop(slave);
        lat.sort();
        lat
    };
    let us = |d: &[Duration], q: f64| quantile_us(d, q);
    for (label, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        figs.push(Figure {
            name: format!("bare pty round trip of one byte (physical limit), {label}"),
            value: us(&base, q),
            unit: "µs",
            note: format!("baseline; write on the master, poll + read on the slave opened like the driver's port; {SCANS} bytes {} ms apart", GAP.as_millis()),
        });
    }
    for (label, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        let target = if label == "p50" { String::new() } else { "target: within 5,000 µs of the last byte; ".to_string() };
        figs.push(Figure {
            name: format!("scanner (pty) → lane applied the scan, {label}"),
            value: us(&lat, q),
            unit: "µs",
            note: format!("{target}bare pty round trip (physical limit) {label} {:.0} µs; {SCANS} scans {} ms apart, {n} products, via DeviceHub + line driver + LaneEvents + Lanes::scan", us(&base, q), GAP.as_millis()),
        });
    }

    // 2. Hub CPU with 8 devices streaming.
    log("devices: hub CPU, 4 scanners + 4 Toledo scales on 4 lanes …");
    settle();
    let scanners: Vec<ScriptedScanner> = (0..4).map(|l| ScriptedScanner::create(&devdir.join(format!("scanner-{l}")))).collect::<anyhow::Result<_>>()?;
    let scales: Vec<ToledoScale> = (0..4).map(|l| ToledoScale::start(&devdir.join(format!("scale-{l}")))).collect::<anyhow::Result<_>>()?;
    let mut cfgs = Vec::new();
    for (l, lane) in lane_ids.iter().enumerate() {
        cfgs.push(scanner_cfg(&format!("scanner-{l}"), &devdir.join(format!("scanner-{l}")), lane)?);
        cfgs.push(DeviceConfig {
            id: id(&format!("scale-{l}"))?,
            kind: DeviceKind::Scale,
            transport: Transport::Serial,
            protocol: Some(DeviceProtocol::Toledo8217),
            path: Some(devdir.join(format!("scale-{l}")).to_string_lossy().into_owned()),
            address: None,
            pins: Vec::new(),
            lane: Some(id(lane)?),
            serial: None,
            scanner: None,
            scale: Some(ScaleSettings { poll_ms: 100, ..ScaleSettings::default() }),
            printer: None,
            shelf: None,
        });
    }
    let ids: Vec<String> = cfgs.iter().map(|c| c.id.as_str().to_string()).collect();
    let (added, weighed, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let on_update: crate::devices::hub::OnLaneUpdate = {
        let (added, weighed, refused) = (Arc::clone(&added), Arc::clone(&weighed), Arc::clone(&refused));
        Box::new(move |u: LaneUpdate| match (&u.event, &u.outcome) {
            (LaneEvent::Scanned { .. }, Some(Ok(ScanOutcome::Added { .. }))) => {
                added.fetch_add(1, Ordering::Relaxed);
            }
            (LaneEvent::Weighed(_), None) => {
                weighed.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                refused.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    for (l, s) in scales.iter().enumerate() {
        s.put(250 + l as i64);
    }
    let health = Arc::new(HealthBoard::new());
    let hub = DeviceHub::start(&cfgs, drive::drive, Arc::clone(&health), Arc::clone(store.clock()), Arc::clone(&store), Some(Arc::clone(&lanes)), nothing_else, on_update);
    let measured = (|| -> anyhow::Result<Vec<Figure>> {
        wait_connected(&health, &ids)?;
        // Warm up: every scanner's first scan reaches its lane, every scale has been read.
        let started = Instant::now();
        while added.load(Ordering::Relaxed) < 4 || weighed.load(Ordering::Relaxed) < 8 {
            for s in &scanners {
                s.scan(&code_of(1))?;
            }
            std::thread::sleep(Duration::from_millis(200));
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "devices never reached the lanes: {} scans, {} weights", added.load(Ordering::Relaxed), weighed.load(Ordering::Relaxed));
        }
        std::thread::sleep(Duration::from_secs(1));
        for l in &lane_ids {
            lanes.void(l)?;
        }
        settle();

        // Idle: devices attached, no scans, the pans' loads unchanged (a polled scale is still
        // asked for its weight every 100 ms; an unchanged reading reaches the lane at most once
        // per poll period).
        let (w0, t0, c0, wall0) = (weighed.load(Ordering::Relaxed), thread_cpu(), cpu_time(), Instant::now());
        std::thread::sleep(IDLE);
        let (t1, c1, wall) = (thread_cpu(), cpu_time(), wall0.elapsed());
        let idle_weights = weighed.load(Ordering::Relaxed) - w0;
        let (idle_hub, idle_sim, _) = cpu_split(&t0, &t1);
        let pct = |d: Duration, wall: Duration| d.as_secs_f64() / wall.as_secs_f64() * 100.0;
        let idle_hub_pct = pct(idle_hub, wall);

        // Streaming: per lane, a feeder thread scans a code every 100 ms and changes the pan's
        // load every 100 ms (so every poll gives a new reading). Products come from a pool of 30
        // per lane, so a cart stays at most 30 lines.
        let stop = AtomicBool::new(false);
        let (a0, w0, r0) = (added.load(Ordering::Relaxed), weighed.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
        let (t0, c0s, wall0) = (thread_cpu(), cpu_time(), Instant::now());
        let (t1s, c1s, wall_s, a1, w1, r1) = std::thread::scope(|s| -> anyhow::Result<_> {
            let mut feeders = Vec::new();
            for (l, (scanner, scale)) in scanners.iter().zip(&scales).enumerate() {
                let (stop, code_of) = (&stop, &code_of);
                feeders.push(std::thread::Builder::new().name("sim-scanner".into()).spawn_scoped(s, move || -> std::io::Result<u64> {
                    let mut next = Instant::now() + Duration::from_millis(25 * l as u64);
                    let mut k = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        next += EVERY;
                        scanner.scan(&code_of(l * 1000 + (k as usize % 30)))?;
                        scale.put(250 + (k as i64 % 50) * 10);
                        k += 1;
                    }
                    Ok(k)
                })?);
            }
            std::thread::sleep(STREAM);
            // Read the counters before the feeders stop, while every thread is alive.
            let end = (thread_cpu(), cpu_time(), wall0.elapsed(), added.load(Ordering::Relaxed), weighed.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
            stop.store(true, Ordering::Relaxed);
            for f in feeders {
                f.join().map_err(|_| anyhow::anyhow!("a scanner feeder panicked"))??;
            }
            Ok(end)
        })?;
        let (hub_cpu, sim_cpu, harness_cpu) = cpu_split(&t0, &t1s);
        let process = c1s.saturating_sub(c0s);
        let scans_s = rate(a1 - a0, wall_s);
        let weights_s = rate(w1 - w0, wall_s);
        let hub_pct = pct(hub_cpu, wall_s);
        anyhow::ensure!(r1 == r0, "{} device events were refused by the lanes while streaming", r1 - r0);
        Ok(vec![
            Figure {
                name: "hub CPU, 4 scanners + 4 Toledo scales streaming on 4 lanes".into(),
                value: hub_pct,
                unit: "% of one core",
                note: format!(
                    "target < 5 %; {:.1} s; {scans_s:.1} scans/s applied in all ({:.1} per scanner), {weights_s:.1} weight readings/s reached the lanes ({:.1} per scale); simulators in the same run {:.2} %; idle hub {idle_hub_pct:.2} %; process total {:.2} % (harness {:.2} %)",
                    wall_s.as_secs_f64(),
                    scans_s / 4.0,
                    weights_s / 4.0,
                    pct(sim_cpu, wall_s),
                    pct(process, wall_s),
                    pct(harness_cpu, wall_s)
                ),
            },
            Figure {
                name: "hub CPU, same 8 devices attached and idle (no scans, loads steady)".into(),
                value: idle_hub_pct,
                unit: "% of one core",
                note: format!(
                    "baseline; {:.1} s; scales still polled every 100 ms: {:.1} readings/s reached the lanes; simulators {:.2} %; process total {:.2} %",
                    wall.as_secs_f64(),
                    rate(idle_weights, wall),
                    pct(idle_sim, wall),
                    pct(c1.saturating_sub(c0), wall)
                ),
            },
        ])
    })();
    hub.stop();
    drop(scales);
    drop(scanners);
    let cpu = measured?;
    figs.extend(cpu);
    Ok(figs)
}
