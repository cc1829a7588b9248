//! Shared set-up for the store and ledger tests: a shop whose database lives in a fresh temp dir,
//! a manual clock standing at 09:00 on opening day, a few real-looking products and short ways to
//! write moves and read the outbox. The tests themselves say what they expect.

// Each test crate includes this module and uses a different part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use storehub::catalog::{self, Product, Unit};
use storehub::clock::ManualClock;
use storehub::domain::barcode::gs1_check_digit;
use storehub::domain::stock::MoveKind;
use storehub::inventory::{self, NewMove};
use storehub::store::{Durability, OutboxEvent, Store, StoreOptions};
use tempfile::TempDir;

pub mod broker;
pub mod browser;
pub mod hub;
pub mod channel_sales;
pub mod web;

/// A tmpfs of `size` (e.g. `"64m"`) mounted on `dir` for as long as it lives (unmounted lazily
/// when dropped): a small disk to fill. Mounting needs root, which the test suite runs as.
pub struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "storehub-test", dir.to_str().expect("utf-8 path")]).output().expect("run mount");
        assert!(out.status.success(), "mounting a {size} tmpfs needs root (the test suite runs as root): {}", String::from_utf8_lossy(&out.stderr));
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").args(["-l", self.0.to_str().unwrap_or_default()]).status();
    }
}

/// CloudEvents `source` of the test hub.
pub const SOURCE: &str = "/storehub/huamei/sh-001/hub-1";

/// 09:00 UTC on 25 November 2026: where every test clock starts.
pub fn opening_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

/// A shop: its data dir, the clock it reads and the open store.
pub struct Shop {
    pub dir: TempDir,
    pub clock: ManualClock,
    pub store: Store,
    pub durability: Durability,
}

impl Shop {
    /// A new, empty shop in durable mode (every commit is synced before it returns).
    pub fn open() -> Shop {
        Shop::open_with(Durability::Durable)
    }

    pub fn open_with(durability: Durability) -> Shop {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::new(opening_time());
        let store = open_store(dir.path(), &clock, durability);
        Shop { dir, clock, store, durability }
    }

    /// Closes the store (as a clean shutdown does) and opens the same data dir again.
    pub fn reopen(self) -> Shop {
        let Shop { dir, clock, store, durability } = self;
        drop(store);
        let store = open_store(dir.path(), &clock, durability);
        Shop { dir, clock, store, durability }
    }

    /// The data dir (the database itself is in `db/` below it).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Options for a store in `data_dir` reading `clock`.
pub fn options(data_dir: &Path, clock: &ManualClock, durability: Durability) -> StoreOptions {
    StoreOptions {
        path: data_dir.to_path_buf(),
        durability,
        relaxed_flush_ms: 50,
        source: Some(SOURCE.to_string()),
        clock: Arc::new(clock.clone()),
    }
}

/// Opens the store in `data_dir`, panicking with the store's message if it cannot.
pub fn open_store(data_dir: &Path, clock: &ManualClock, durability: Durability) -> Store {
    match retry_while_locked(|| Store::open(options(data_dir, clock, durability))) {
        Ok(store) => store,
        Err(e) => panic!("cannot open the store in {}: {e}", data_dir.display()),
    }
}

/// Opens a sled database directly (the way a future or foreign writer would), e.g. `db_path(dir)`.
pub fn open_raw_sled(path: &Path) -> sled::Db {
    match retry_while_locked(|| storehub::store::sled_config(path).open()) {
        Ok(db) => db,
        Err(e) => panic!("cannot open sled at {}: {e}", path.display()),
    }
}

/// Runs `open` again while it fails on sled's file lock, for up to 5 s. sled 0.34 releases the
/// lock of a dropped database from a background thread a moment later (spacejam/sled#1234), so a
/// test that closes and at once reopens a data dir can meet its own previous handle. Any other
/// error is returned at once.
pub fn retry_while_locked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match open() {
            Err(e) if e.to_string().contains("could not acquire lock") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// An EAN-13 from its first 12 digits, with the right check digit appended.
pub fn ean13(body: &str) -> String {
    assert_eq!(body.len(), 12, "an EAN-13 body has 12 digits: {body}");
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", gs1_check_digit(&digits))
}

/// A drink sold by the piece at ¥2.00 (cost ¥1.50, 13 % VAT).
pub fn drink(sku: &str, name_en: &str, barcodes: &[&str], reorder_point: Option<i64>) -> Product {
    Product {
        sku: sku.to_string(),
        barcodes: barcodes.iter().map(|b| b.to_string()).collect(),
        name_zh: format!("{name_en}（中）"),
        name_en: name_en.to_string(),
        category: "饮料".to_string(),
        unit: Unit::Piece,
        price_fen: 200,
        member_price_fen: None,
        cost_fen: Some(150),
        tax_bp: 1300,
        supplier: Some("华东饮料批发".to_string()),
        reorder_point,
        active: true,
    }
}

/// Nongfu Spring 550ml, reorder point 24.
pub fn water() -> Product {
    drink("SKU-010001", "Nongfu Spring 550ml", &["6907674936533"], Some(24))
}

/// C'estbon 555ml, reorder point 5.
pub fn cestbon() -> Product {
    drink("SKU-010003", "C'estbon 555ml", &["6955406993705"], Some(5))
}

/// Loose bananas, weighed at the scale under PLU 5000; stock in grams, reorder at 2 kg.
pub fn bananas() -> Product {
    Product {
        sku: "SKU-020001".to_string(),
        barcodes: vec!["5000".to_string()],
        name_zh: "香蕉".to_string(),
        name_en: "Bananas".to_string(),
        category: "水果".to_string(),
        unit: Unit::Kg,
        price_fen: 798,
        member_price_fen: Some(698),
        cost_fen: Some(500),
        tax_bp: 900,
        supplier: None,
        reorder_point: Some(2_000),
        active: true,
    }
}

/// Stores `products` in one commit.
pub fn load(store: &Store, products: &[Product]) {
    if let Err(e) = catalog::upsert_products(store, products, 100, |_| {}) {
        panic!("cannot load products: {e}");
    }
}

/// A move requested by cashier `till-1`.
pub fn request(kind: MoveKind, sku: &str, qty: i64) -> NewMove {
    NewMove {
        sku: sku.to_string(),
        kind,
        qty,
        reason: format!("{} of {qty}", kind.as_str()),
        user: "till-1".to_string(),
        reference: None,
    }
}

/// Commits one move that must succeed and returns the on-hand after it.
pub fn apply(store: &Store, kind: MoveKind, sku: &str, qty: i64) -> i64 {
    match inventory::move_stock(store, &request(kind, sku, qty)) {
        Ok(mv) => mv.on_hand_after,
        Err(e) => panic!("{} {qty} of {sku} refused: {e}", kind.as_str()),
    }
}

/// Every event waiting in the outbox, oldest first.
pub fn outbox(store: &Store) -> Vec<OutboxEvent> {
    store.outbox_batch(0, usize::MAX).expect("outbox readable")
}

/// Sequence numbers of every event waiting in the outbox.
pub fn outbox_seqs(store: &Store) -> Vec<u64> {
    outbox(store).iter().map(|e| e.seq).collect()
}

/// Events of one type waiting in the outbox, oldest first.
pub fn events_of_type(store: &Store, event_type: &str) -> Vec<OutboxEvent> {
    outbox(store).into_iter().filter(|e| e.event_type == event_type).collect()
}

/// Sequence number of the newest event in the outbox (0 when it is empty).
pub fn newest_seq(store: &Store) -> u64 {
    store.outbox_stats().expect("outbox stats").newest_seq.unwrap_or(0)
}

/// A `Command` for the `storehub` binary under test. When `STOREHUB_TEST_RUNNER` is set (e.g.
/// `qemu-aarch64-static` when the tests run for aarch64 under qemu-user, where binfmt_misc may not
/// be registered and the kernel cannot exec the foreign binary itself), the binary is started
/// through that runner: its whitespace-separated words come first, then the binary's path.
/// scripts/cross-build.sh --tests sets it.
pub fn storehub_command() -> Command {
    let bin = env!("CARGO_BIN_EXE_storehub");
    match std::env::var("STOREHUB_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut words = runner.split_whitespace();
            let mut cmd = Command::new(words.next().expect("a non-blank runner has a first word"));
            cmd.args(words).arg(bin);
            cmd
        }
        _ => Command::new(bin),
    }
}

/// Runs the `storehub` binary with a clean environment (no data dir or config from the caller's
/// shell) and quiet logs.
pub fn storehub_cmd(args: &[&str]) -> std::process::Output {
    storehub_command()
        .args(args)
        .env("STOREHUB_LOG", "warn")
        .env_remove("STOREHUB_DATA_DIR")
        .env_remove("STOREHUB_CONFIG")
        .output()
        .expect("run storehub")
}

/// A CLI run's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A CLI run that must succeed: its stdout as JSON.
pub fn ok_json(o: std::process::Output) -> serde_json::Value {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A CLI run that must be refused (exit 1) with `expected` in its stderr.
pub fn refused(o: std::process::Output, expected: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(expected), "expected {expected:?} in: {}", stderr(&o));
}

/// Like [`storehub_cmd`], with `stdin` piped in (how tests give passwords and PINs, which the CLI
/// never takes from its arguments).
pub fn storehub_with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = storehub_command()
        .args(args)
        .env("STOREHUB_LOG", "warn")
        .env_remove("STOREHUB_DATA_DIR")
        .env_remove("STOREHUB_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run storehub");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("storehub output")
}

/// A running `storehub demo`, killed when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `storehub demo` on `dir`, without its scripted device shopper (so the tests' stock
/// figures are their own), and waits (up to 60 s) until its control socket answers.
pub fn start_demo(dir: &Path) -> Daemon {
    let child = storehub_command()
        .args(["--data-dir", dir.to_str().unwrap(), "demo", "--shopper-every", "0", "--listen", "127.0.0.1:0"])
        .env("STOREHUB_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let daemon = Daemon(child);
    let sock = dir.join("control.sock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "demo did not open its control socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

/// Checks what must hold after any crash, power cut or recovery, and returns the moves: move ids
/// 1..=N without gaps, on-hand of each product = Σ its moves, outbox sequence without gaps from
/// 1, and exactly one `storehub.stock.moved` event per move. `context` names the round in failures.
pub fn assert_ledger_consistent(store: &Store, context: &str) -> Vec<inventory::StockMove> {
    let moves = inventory::all_moves(store).unwrap();
    let ids: Vec<u64> = moves.iter().map(|m| m.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "{context}: gap or duplicate in move ids");
    let mut sums = std::collections::BTreeMap::<&str, i64>::new();
    for m in &moves {
        *sums.entry(m.sku.as_str()).or_default() += m.delta;
    }
    for (sku, sum) in &sums {
        assert_eq!(inventory::on_hand(store, sku).unwrap(), *sum, "{context}: on-hand of {sku} is not the sum of its moves");
    }
    let events = store.outbox_batch(0, usize::MAX).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{context}: gap in outbox sequence");
    let mut moved = std::collections::BTreeSet::new();
    for e in events.iter().filter(|e| e.event_type == inventory::EVENT_STOCK_MOVED) {
        let id = e.data().unwrap()["id"].as_u64().unwrap();
        assert!(moved.insert(id), "{context}: two events for move {id}");
    }
    assert_eq!(moved, ids.iter().copied().collect(), "{context}: events and moves differ");
    moves
}

/// Spawns `storehub demo` on `dir` with `extra` arguments (stderr piped for the failure message),
/// without waiting for it to be up.
pub fn spawn_demo(dir: &Path, extra: &[&str]) -> Child {
    storehub_command()
        .args(["--data-dir", dir.to_str().unwrap(), "demo", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("STOREHUB_LOG", "warn")
        .env_remove("STOREHUB_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo")
}

/// Stops a spawned demo with SIGTERM, as systemd does, asserts it exits cleanly, and opens its
/// store (durable, wall clock) for checks.
pub fn stop_demo_and_open(child: Child, dir: &Path) -> Store {
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the demo must stop cleanly: {:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    Store::open(StoreOptions { path: dir.to_path_buf(), durability: Durability::Durable, relaxed_flush_ms: 200, source: None, clock: storehub::clock::system() }).unwrap()
}

/// Waits (polling every 20 ms) until `ok` holds; fails naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// "满200减30": spend ¥200, save ¥30; one per member; valid 30 days from the day of issue.
pub fn spend_200_save_30() -> storehub::coupons::CouponTemplate {
    storehub::coupons::CouponTemplate {
        id: "T-200-30".into(),
        name_zh: "满200减30券".into(),
        name_en: "¥30 off a ¥200 spend".into(),
        kind: storehub::domain::pricing::CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000 },
        min_spend_fen: 0,
        categories: vec![],
        validity: storehub::coupons::Validity::DaysAfterIssue(30),
        per_member_limit: 1,
        active: true,
    }
}

/// Sets the flag when dropped, also while unwinding from a failed assertion: give it a device
/// driver's stop flag so a failing test inside `thread::scope` ends instead of waiting forever for
/// the driver thread.
pub struct StopOnDrop<'a>(pub &'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
