//! Power cuts under the commit path, on a disk that forgets everything not synced
//! (`tests/support/powercut_fs.rs`, a real kernel FUSE mount; its module doc is the durability
//! model, docs/powercut.md the results and how to run them).
//!
//! The real `storehub` binary runs `crash-writer --writers 4` (durable mode) on the mount; the
//! test SIGKILLs it after a random 50–400 ms, cuts the power (every other cut tears the last
//! unsynced write of each file), mounts again, opens the store with the library and checks that
//! every move acknowledged in any round so far is there unchanged, that move ids and the outbox
//! sequence are contiguous, that on-hand = Σ moves, that every move has exactly one
//! `storehub.stock.moved` event, and that `storehub verify` passes. 20 cuts by default (a fresh
//! database every 10), 100 with STOREHUB_SOAK=1, or STOREHUB_POWERCUT_ROUNDS. The same loop with
//! `crash-writer --sled-only` (sled without the journal) only measures and prints what sled
//! alone loses; it runs with STOREHUB_SOAK=1.

#[path = "support/powercut_fs.rs"]
mod powercut_fs;

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use powercut_fs::{Cut, CutReport, PowerCutFs};
use storehub::inventory::{self, EVENT_STOCK_MOVED};
use storehub::store::{Durability, Store, StoreOptions};

/// Power cuts in the default run.
const CUTS: usize = 20;
/// Cuts one database goes through before the test starts a fresh one (each check scans the
/// whole database, which grows by ~1,000 moves a round).
const CUTS_PER_DATABASE: usize = 10;
/// Most stderr kept from a writer (for the failure message).
const STDERR_KEEP: usize = 16 * 1024;

type Acks = BTreeMap<u64, (String, i64)>;
/// Acknowledged sales: id → (receipt no, total fen, stock move ids, points earned, as printed).
type SaleAcks = BTreeMap<u64, (String, String, String, String)>;

/// A mount point in a fresh temp dir with the power-cut filesystem on it. Field order matters:
/// the filesystem unmounts before the temp dir is removed.
struct Disk {
    fs: PowerCutFs,
    _tmp: tempfile::TempDir,
}

impl Disk {
    fn new() -> Disk {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).expect("mount point");
        let fs = PowerCutFs::mount(&mnt).unwrap_or_else(|e| panic!("{e}"));
        Disk { fs, _tmp: tmp }
    }

    fn path(&self) -> &Path {
        self.fs.path()
    }
}

/// A running crash-writer; killed with SIGKILL when dropped (also when a test fails).
struct Writer {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Writer {
    fn start(data_dir: &Path, extra: &[&str]) -> Writer {
        let mut child = common::storehub_command()
            .arg("--data-dir")
            .arg(data_dir)
            .args(["crash-writer", "--writers", "4"])
            .args(extra)
            .env("STOREHUB_LOG", "warn")
            .env_remove("STOREHUB_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start storehub crash-writer");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Keep only the last STDERR_KEEP bytes: a writer that logs in a loop cannot fill memory.
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        });
        Writer { child, lines, reader: Some(reader), stderr: Some(stderr) }
    }

    /// Waits for `ready`, collects acks for `run_for`, SIGKILLs the writer and returns every ack
    /// it printed (those still in the pipe too). Panics with the writer's stderr if it never
    /// became ready.
    fn run_then_kill(self, run_for: Duration, what: &str) -> Vec<(u64, String, i64)> {
        self.run_then_kill_lines(run_for, what).iter().map(|l| parse_ack(l)).collect()
    }

    /// Like `run_then_kill`, but returns the lines as printed (moves and sales).
    fn run_then_kill_lines(mut self, run_for: Duration, what: &str) -> Vec<String> {
        let first = self.lines.recv_timeout(Duration::from_secs(60));
        if first.as_deref() != Ok("ready") {
            let _ = self.child.kill();
            let status = self.child.wait();
            let stderr = self.stderr.take().and_then(|h| h.join().ok()).unwrap_or_default();
            panic!("{what}: crash-writer did not start (first line {first:?}, exit {status:?}); its stderr:\n{stderr}");
        }
        let mut acks = Vec::new();
        let started = Instant::now();
        while let Some(left) = run_for.checked_sub(started.elapsed()) {
            if let Ok(line) = self.lines.recv_timeout(left.min(Duration::from_millis(5))) {
                acks.push(line);
            }
        }
        // SIGKILL: no destructor, no flush, no final checkpoint.
        self.child.kill().expect("SIGKILL crash-writer");
        self.child.wait().expect("reap crash-writer");
        if let Some(r) = self.reader.take() {
            r.join().expect("stdout reader");
        }
        acks.extend(self.lines.try_iter());
        acks
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_ack(line: &str) -> (u64, String, i64) {
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert!(parts.len() == 4 && parts[0] == "ack", "unexpected crash-writer line {line:?}");
    (parts[1].parse().expect("move id"), parts[2].to_string(), parts[3].parse().expect("delta"))
}


/// Every other cut tears (seeded from the round so a failure can be replayed).
fn cut_for(round: usize, seed: u64) -> Cut {
    if round % 2 == 1 {
        Cut::Torn { seed: seed ^ round as u64 }
    } else {
        Cut::Clean
    }
}

/// What the checks found after one cut.
struct Checked {
    moves: usize,
    sales: usize,
    replayed: u64,
}

/// Opens the store after a cut and checks every invariant against every ack so far.
fn check_store(data: &Path, acked: &Acks, sales: &SaleAcks, round: usize) -> Checked {
    let store = Store::open(StoreOptions {
        path: data.to_path_buf(),
        durability: Durability::Durable,
        relaxed_flush_ms: 200,
        source: None,
        clock: storehub::clock::system(),
    })
    .unwrap_or_else(|e| panic!("round {round}: the store must open after a power cut, without `recover`: {e}"));
    let replayed = store.replayed().records;
    let moves = inventory::all_moves(&store).unwrap();
    let by_id: BTreeMap<u64, &inventory::StockMove> = moves.iter().map(|m| (m.id, m)).collect();
    assert_eq!(by_id.len(), moves.len(), "round {round}: duplicate move ids");
    for (id, (sku, delta)) in acked {
        let m = by_id.get(id).unwrap_or_else(|| panic!("round {round}: acknowledged move {id} ({sku} {delta:+}) lost by a power cut"));
        assert_eq!((&m.sku, m.delta), (sku, *delta), "round {round}: move {id} differs from its ack");
    }
    let ids: Vec<u64> = by_id.keys().copied().collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "round {round}: gap in move ids");
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for m in &moves {
        *sums.entry(m.sku.as_str()).or_default() += m.delta;
    }
    for (sku, sum) in &sums {
        assert_eq!(inventory::on_hand(&store, sku).unwrap(), *sum, "round {round}: on-hand of {sku} ≠ Σ its moves");
    }
    let events = store.outbox_batch(0, usize::MAX).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "round {round}: gap in the outbox sequence");
    let mut moved = BTreeSet::new();
    for e in events.iter().filter(|e| e.event_type == EVENT_STOCK_MOVED) {
        let id = e.data().unwrap()["id"].as_u64().unwrap();
        assert!(moved.insert(id), "round {round}: two stock.moved events for move {id}");
    }
    assert_eq!(moved, by_id.keys().copied().collect(), "round {round}: stock.moved events and moves differ");
    // Sales: each acknowledged one whole (same total, same stock moves), one event per sale.
    let mut completed = BTreeSet::new();
    for e in events.iter().filter(|e| e.event_type == storehub::checkout::EVENT_SALE_COMPLETED) {
        let id = e.data().unwrap()["sale_id"].as_u64().unwrap();
        assert!(completed.insert(id), "round {round}: two sale.completed events for sale {id}");
    }
    let all_sales = storehub::checkout::sale::all_sales(&store).unwrap();
    assert_eq!(completed, all_sales.iter().map(|s| s.id).collect(), "round {round}: sale events and sales differ");
    for (id, (receipt, total, moves, points)) in sales {
        let sale = storehub::checkout::sale::sale(&store, *id)
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: acknowledged sale {id} ({receipt}) lost by a power cut"));
        let got: Vec<String> = sale.stock_moves.iter().map(u64::to_string).collect();
        assert_eq!(
            (&sale.receipt_no, sale.priced.total_fen.to_string(), got.join(","), sale.points_earned.to_string()),
            (receipt, total.clone(), moves.clone(), points.clone()),
            "round {round}: sale {id}"
        );
    }
    Checked { moves: moves.len(), sales: all_sales.len(), replayed }
}

#[test]
fn every_acknowledged_move_and_sale_survives_power_cuts() {
    let cuts = rounds();
    let mut disk = Disk::new();
    let seed = 0x9057_c0de;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked: Acks = BTreeMap::new();
    let mut acked_sales: SaleAcks = BTreeMap::new();
    let mut total_sales = 0usize;
    let (mut total_acks, mut replayed_rounds, mut lost_unsynced, mut torn) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    let mut data = PathBuf::new();
    let mut rounds_run = 0;
    // Whether a cut finds unsynced or half-written data depends on timing: past `cuts`, rounds
    // go on (at most as many again) until a cut has lost unsynced data, a torn cut has kept part
    // of a write and a round has needed the journal, so the asserts below never fail by chance.
    for round in 0..2 * cuts {
        if round >= cuts && lost_unsynced > 0 && torn > 0 && replayed_rounds > 0 {
            break;
        }
        rounds_run += 1;
        if round % CUTS_PER_DATABASE == 0 {
            // A fresh database every CUTS_PER_DATABASE cuts keeps each round's full scan short.
            if round > 0 {
                std::fs::remove_dir_all(&data).expect("remove the previous data dir");
                std::fs::File::open(disk.path()).and_then(|d| d.sync_all()).expect("fsync the root");
            }
            data = disk.path().join(format!("data-{}", round / CUTS_PER_DATABASE));
            acked.clear();
            acked_sales.clear();
        }
        let run_for = run_time(&mut rng);
        let lines = Writer::start(&data, &["--sales"]).run_then_kill_lines(run_for, &format!("round {round}"));
        let (sale_lines, move_lines): (Vec<String>, Vec<String>) = lines.into_iter().partition(|l| l.starts_with("sale "));
        for line in &sale_lines {
            let p: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(p.len(), 6, "unexpected crash-writer line {line:?}");
            let id: u64 = p[1].parse().expect("sale id");
            if acked_sales.insert(id, (p[2].to_string(), p[3].to_string(), p[4].to_string(), p[5].to_string())).is_some() {
                panic!("round {round}: sale {id} acknowledged twice");
            }
        }
        total_sales += sale_lines.len();
        let acks: Vec<(u64, String, i64)> = move_lines.iter().map(|l| parse_ack(l)).collect();
        let n = acks.len() + sale_lines.len();
        total_acks += acks.len();
        for (id, sku, delta) in acks {
            if let Some(old) = acked.insert(id, (sku.clone(), delta)) {
                panic!("round {round}: move id {id} acknowledged twice ({old:?}, then {sku} {delta:+})");
            }
        }
        let cut = cut_for(round, seed);
        let report: CutReport = disk.fs.power_cut(cut).expect("power cut");
        lost_unsynced += usize::from(report.files_reverted > 0 || report.dirs_reverted > 0);
        torn += report.torn_files;
        let checked = check_store(&data, &acked, &acked_sales, round);
        replayed_rounds += usize::from(checked.replayed > 0);
        let data_dir = data.to_str().expect("the test's mount path is UTF-8");
        let verify = common::storehub_cmd(&["--data-dir", data_dir, "verify"]);
        assert!(
            verify.status.success(),
            "round {round}: storehub verify failed after a power cut:\n{}\n{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        eprintln!(
            "round {round:2}: ran {run_for:?}, {n} acks, {cut:?}: {} files lost {} unsynced bytes, {} dirs lost names, {} torn writes kept {} bytes; {} moves and {} sales present, journal replayed {}",
            report.files_reverted, report.unsynced_bytes, report.dirs_reverted, report.torn_files, report.torn_bytes,
            checked.moves, checked.sales, checked.replayed
        );
    }
    assert!(total_acks > 0, "the writer never acknowledged a move");
    assert!(total_sales > 0, "the writer never acknowledged a sale");
    // The filesystem must really have thrown something away, and the journal must have brought it
    // back: otherwise the test proves nothing.
    assert!(lost_unsynced > 0, "no cut lost unsynced data");
    assert!(torn > 0, "no torn cut kept part of a write");
    assert!(replayed_rounds > 0, "no round needed the journal");
    println!(
        "storehub with its journal, {rounds_run} power cuts ({} torn, {torn} torn writes kept, {lost_unsynced} lost unsynced data): {total_acks} acknowledged moves and {total_sales} acknowledged sales, 0 lost, every check and `storehub verify` passed after every cut; journal replayed in {replayed_rounds} rounds; {:.1} s",
        rounds_run / 2,
        started.elapsed().as_secs_f64()
    );
}

/// How long the writer runs before the cut: 50–400 ms at random, or up to
/// STOREHUB_POWERCUT_MAX_MS (to see what sled's own 500 ms periodic fsync saves).
fn run_time(rng: &mut fastrand::Rng) -> Duration {
    let max = std::env::var("STOREHUB_POWERCUT_MAX_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(400u64).max(50);
    Duration::from_millis(rng.u64(50..=max))
}

/// Power cuts per run: STOREHUB_POWERCUT_ROUNDS, else 100 with STOREHUB_SOAK=1, else [`CUTS`].
fn rounds() -> usize {
    match std::env::var("STOREHUB_POWERCUT_ROUNDS").ok().and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None if std::env::var("STOREHUB_SOAK").as_deref() == Ok("1") => 100,
        None => CUTS,
    }
}

/// The same loop with sled alone (`crash-writer --sled-only`): counts acknowledged moves missing
/// after each cut and reopen failures. A measurement for docs/powercut.md, not a pass/fail test:
/// it runs with STOREHUB_SOAK=1 (and as many cuts as [`rounds`] says) and prints a summary.
#[test]
fn sled_alone_on_power_cuts_measured() {
    if std::env::var("STOREHUB_SOAK").as_deref() != Ok("1") {
        eprintln!("skipped: the sled-alone power-cut measurement runs with STOREHUB_SOAK=1");
        return;
    }
    let rounds = rounds();
    let mut disk = Disk::new();
    let data = disk.path().join("data");
    let sled_dir = data.join("sled-only");
    let seed = 0x51ed_a10e;
    let mut rng = fastrand::Rng::with_seed(seed);
    // Moves that were present after an earlier cut (ids are reused after a loss, so only these
    // are carried over).
    let mut survivors: Acks = BTreeMap::new();
    let (mut total_acks, mut lost, mut later_lost) = (0usize, 0usize, 0usize);
    let (mut failed_reopens, mut inconsistent) = (0usize, 0usize);
    let mut rounds_losing = 0usize;
    for round in 0..rounds {
        let run_for = run_time(&mut rng);
        let acks = Writer::start(&data, &["--sled-only"]).run_then_kill(run_for, &format!("sled-only round {round}"));
        total_acks += acks.len();
        let cut = cut_for(round, seed);
        let report = disk.fs.power_cut(cut).expect("power cut");
        let reopened = sled::open(&sled_dir);
        let db = match reopened {
            Ok(db) => db,
            Err(e) => {
                failed_reopens += 1;
                lost += acks.len();
                later_lost += survivors.len();
                rounds_losing += 1;
                eprintln!(
                    "sled-only round {round:2}: ran {run_for:?}, {} acks, {cut:?}: lost unsynced data in {:?}, torn writes {:?}; sled does not reopen: {e:?}; starting a fresh database",
                    acks.len(),
                    report.reverted,
                    report.torn
                );
                survivors.clear();
                std::fs::remove_dir_all(&sled_dir).expect("remove the damaged sled database");
                std::fs::File::open(&data).and_then(|d| d.sync_all()).expect("fsync data dir");
                continue;
            }
        };
        let moves = db.open_tree("moves").unwrap();
        let stock = db.open_tree("stock").unwrap();
        let present = |id: u64, sku: &str, delta: i64| {
            moves.get(id.to_be_bytes()).ok().flatten().is_some_and(|v| v.as_ref() == format!("{sku} {delta}").as_bytes())
        };
        let before = survivors.len();
        survivors.retain(|id, (sku, delta)| present(*id, sku, *delta));
        let vanished = before - survivors.len();
        later_lost += vanished;
        let mut lost_now = 0;
        for (id, sku, delta) in &acks {
            if present(*id, sku, *delta) {
                survivors.insert(*id, (sku.clone(), *delta));
            } else {
                lost_now += 1;
            }
        }
        lost += lost_now;
        rounds_losing += usize::from(lost_now > 0 || vanished > 0);
        // Is what sled kept consistent: on-hand = Σ moves per sku?
        let mut sums: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        for kv in moves.iter() {
            let (_, v) = kv.unwrap();
            let text = String::from_utf8_lossy(&v).into_owned();
            let (sku, delta) = text.split_once(' ').unwrap_or((&text, "0"));
            *sums.entry(sku.as_bytes().to_vec()).or_default() += delta.parse::<i64>().unwrap_or(0);
        }
        for (sku, sum) in &sums {
            let on_hand = stock.get(sku).unwrap().and_then(|v| v.as_ref().try_into().ok().map(i64::from_be_bytes)).unwrap_or(0);
            inconsistent += usize::from(on_hand != *sum);
        }
        eprintln!(
            "sled-only round {round:2}: ran {run_for:?}, {} acks, {cut:?}: lost unsynced data in {:?}, torn writes {:?}; {lost_now} of this round's acks missing, {vanished} earlier survivors missing; {} moves in sled",
            acks.len(),
            report.reverted,
            report.torn,
            moves.len()
        );
        drop((moves, stock, db));
    }
    println!(
        "sled alone, {rounds} power cuts ({} torn): {total_acks} acknowledged moves, {} lost ({lost} missing right after their cut, {later_lost} lost at a later cut), {rounds_losing} rounds lost acks, {failed_reopens} failed reopens, on-hand ≠ Σ moves {inconsistent} times (sku × round)",
        rounds / 2,
        lost + later_lost
    );
}

/// The filesystem itself: unsynced data and names go at a cut, synced ones stay, a torn cut keeps
/// a prefix of the last write.
#[test]
fn powercut_fs_keeps_only_what_was_synced() {
    let mut disk = Disk::new();
    let root = disk.path().to_path_buf();
    let fsync = |p: &Path| std::fs::File::open(p).and_then(|f| f.sync_all()).unwrap();
    let dir = root.join("d");
    std::fs::create_dir(&dir).unwrap();
    fsync(&root);
    let synced = dir.join("synced");
    std::fs::write(&synced, b"kept").unwrap();
    fsync(&synced);
    fsync(&dir);
    // Appended but not synced; a file synced but whose name is not; a name synced but whose data
    // is not; a rename not synced.
    std::fs::OpenOptions::new().append(true).open(&synced).and_then(|mut f| std::io::Write::write_all(&mut f, b" lost")).unwrap();
    let no_data = dir.join("no-data");
    std::fs::write(&no_data, b"data").unwrap();
    fsync(&dir);
    let no_name = dir.join("no-name");
    std::fs::write(&no_name, b"data").unwrap();
    fsync(&no_name);
    std::fs::rename(&synced, dir.join("renamed")).unwrap();
    assert_eq!(std::fs::read(dir.join("renamed")).unwrap(), b"kept lost");

    let report = disk.fs.power_cut(Cut::Clean).unwrap();
    assert_eq!(std::fs::read(&synced).unwrap(), b"kept", "unsynced append lost, rename undone");
    assert!(!dir.join("renamed").exists());
    assert!(!no_name.exists(), "a file whose directory was not synced is gone");
    assert_eq!(std::fs::read(&no_data).unwrap(), b"", "a name synced without its data is empty");
    assert!(report.files_reverted >= 2 && report.dirs_reverted == 1, "{report:?}");

    // Torn: the durable content plus a prefix of the last unsynced write.
    let torn = root.join("torn");
    std::fs::write(&torn, b"0123").unwrap();
    fsync(&torn);
    fsync(&root);
    let last: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8 + 1).collect();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&torn).unwrap();
        f.write_all_at(b"earlier", 100).unwrap();
        f.write_all_at(&last, 4).unwrap();
    }
    let report = disk.fs.power_cut(Cut::Torn { seed: 7 }).unwrap();
    let after = std::fs::read(&torn).unwrap();
    assert_eq!(&after[..4], b"0123");
    let kept = after.len() - 4;
    assert!(kept <= last.len() && after[4..] == last[..kept], "a prefix of the last write, nothing else");
    assert_eq!(report.torn_bytes as usize, kept, "{report:?}");
    // Remounting without a cut loses nothing.
    disk.fs.remount().unwrap();
    assert_eq!(std::fs::read(&torn).unwrap(), after);
}
