//! Receipt printers end to end: ESC/POS bytes as the manual gives them, the rendered receipt
//! (GB18030 round trip, never wider than the paper, the QR holds the sale id), and the driver
//! draining the durable queue into a simulated printer that answers DLE EOT with real status
//! bytes, over a pseudo-terminal pair and over raw TCP: paper out keeps the job, the printer
//! coming back prints it exactly once, unplugging ends the run and a new run drains the queue.

mod common;

use std::io::{Read, Write};
use serialport::SerialPort as _;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use storehub::clock::{Clock, ManualClock};
use storehub::config::{DeviceConfig, Language, SerialSettings};
use storehub::devices::health::{DeviceHealth, HealthBoard};
use storehub::devices::printer::escpos::{chinese_runs, text_width};
use storehub::devices::printer::layout::Line;
use storehub::devices::printer::queue::{self, JobKind};
use storehub::devices::printer::receipt::{render_sale, sample_receipt, sample_sale};
use storehub::devices::printer::{self, cli, SaleReceipt};
use storehub::devices::transport::{self, Link};
use storehub::devices::{DeviceEvent, DriverCtx, DriverExit};
use storehub::store::{Durability, Store};

use common::StopOnDrop;
use common::{open_store, opening_time, storehub_cmd};

// --- The simulated printer -----------------------------------------------------------------------

const READY: u8 = 0;
const PAPER_OUT: u8 = 1;
const COVER_OPEN: u8 = 2;
const SILENT: u8 = 3;
/// Line noise before every answer.
const NOISY: u8 = 4;

/// The answer a printer in `state` gives to DLE EOT `n` (Epson bit tables; 0x12 = the fixed bits).
fn answer(state: u8, n: u8) -> Option<u8> {
    match (state, n) {
        (SILENT, _) => None,
        (READY | NOISY, _) => Some(0x12),
        // Offline; stopped by paper end; paper-end sensor bits 5–6 and near-end bits 2–3.
        (PAPER_OUT, 1) => Some(0x1A),
        (PAPER_OUT, 2) => Some(0x32),
        (PAPER_OUT, 4) => Some(0x7E),
        // Offline; cover open.
        (COVER_OPEN, 1) => Some(0x1A),
        (COVER_OPEN, 2) => Some(0x16),
        (_, _) => Some(0x12),
    }
}

/// A printer: answers `10 04 n` from `state`, keeps every other byte as printed data, and
/// counts the status requests. Ends when `done` is set or the link goes away.
struct Sim {
    state: Arc<AtomicU8>,
    printed: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
}

impl Sim {
    fn new(state: u8) -> Sim {
        Sim {
            state: Arc::new(AtomicU8::new(state)),
            printed: Arc::default(),
            requests: Arc::default(),
            done: Arc::default(),
        }
    }

    fn spawn<P: Read + Write + Send + 'static>(&self, mut port: P) -> thread::JoinHandle<()> {
        let (state, printed, requests, done) = (self.state.clone(), self.printed.clone(), self.requests.clone(), self.done.clone());
        thread::spawn(move || {
            let mut pending: Vec<u8> = Vec::new();
            let mut buf = [0u8; 512];
            while !done.load(Ordering::Relaxed) {
                match port.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => continue,
                    Err(_) => return,
                }
                // Real-time commands are picked out of the stream; the rest is print data.
                let mut i = 0;
                while i < pending.len() {
                    if pending[i] == 0x10 {
                        if pending.len() < i + 3 {
                            break;
                        }
                        if pending[i + 1] == 0x04 {
                            let n = pending[i + 2];
                            requests.lock().unwrap().push(n);
                            let st = state.load(Ordering::Relaxed);
                            if let Some(a) = answer(st, n) {
                                let reply: &[u8] = if st == NOISY { &[0xFF, 0x00, a] } else { &[a] };
                                if port.write_all(reply).is_err() {
                                    return;
                                }
                            }
                            i += 3;
                            continue;
                        }
                    }
                    printed.lock().unwrap().push(pending[i]);
                    i += 1;
                }
                pending.drain(..i);
            }
        })
    }

    fn printed(&self) -> Vec<u8> {
        self.printed.lock().unwrap().clone()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

// --- Set-up ----------------------------------------------------------------------------------------

fn device(transport: &str, target: &str) -> DeviceConfig {
    let where_ = if transport == "tcp" { format!("address = \"{target}\"") } else { format!("path = \"{target}\"") };
    toml::from_str(&format!("id = \"printer-1\"\nkind = \"printer\"\ntransport = \"{transport}\"\n{where_}\n[printer]\npaper_mm = 58\n")).unwrap()
}

struct Bench {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Arc<Store>,
    health: HealthBoard,
    stop: AtomicBool,
}

fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    Bench { _dir: dir, clock, store, health: HealthBoard::new(), stop: AtomicBool::new(false) }
}

impl Bench {
    fn run(&self, cfg: &DeviceConfig, link: &mut dyn Link) -> DriverExit {
        if self.health.get(cfg.id.as_str()).is_none() {
            self.health.register(DeviceHealth::from_config(cfg));
        }
        let emit = |_: DeviceEvent| {};
        let ctx = DriverCtx { device: cfg, health: &self.health, clock: &self.clock as &dyn Clock, stop: &self.stop, emit: &emit, store: Some(&self.store) };
        printer::run(link, &ctx)
    }

    fn receipt_job(&self, cfg: &DeviceConfig) -> Vec<u8> {
        let r = sample_receipt("华美超市 徐汇店", Language::ZhCn);
        printer::queue_sale_receipt(&self.store, cfg, &r).unwrap().bytes
    }

    fn queued(&self) -> usize {
        queue::queued(&self.store, "printer-1").unwrap().len()
    }

    fn status(&self) -> Option<String> {
        self.health.get("printer-1").and_then(|h| h.status)
    }
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    common::wait_until(what, Duration::from_secs(15), cond)
}

// --- ESC/POS bytes ---------------------------------------------------------------------------------

#[test]
fn the_receipt_bytes_open_with_init_and_end_with_qr_of_the_sale_id_and_a_cut() {
    let r = sample_receipt("华美超市 徐汇店", Language::ZhCn);
    let cash = render_sale(&r, 32, true).encode().unwrap();
    // ESC @, then the drawer kick (cash sale on a printer with a drawer).
    assert_eq!(&cash[..7], &[0x1B, 0x40, 0x1B, 0x70, 0x00, 0x19, 0xFA]);
    let no_drawer = render_sale(&r, 32, false).encode().unwrap();
    assert!(!no_drawer.windows(5).any(|w| w == [0x1B, 0x70, 0x00, 0x19, 0xFA]));
    // The QR block for "1024": model 2, module 5 on 58 mm, EC M, store (pL = 4 + 3), print.
    let qr: Vec<u8> = [
        &[0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00][..],
        &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x05],
        &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31],
        &[0x1D, 0x28, 0x6B, 0x07, 0x00, 0x31, 0x50, 0x30, b'1', b'0', b'2', b'4'],
        &[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30],
    ]
    .concat();
    assert!(cash.windows(qr.len()).any(|w| w == qr.as_slice()), "QR block missing");
    // Feed to the cutter and cut, then modes back to defaults (left, bold off).
    let cut = [0x1D, 0x56, 0x42, 0x00];
    let at = cash.windows(4).rposition(|w| w == cut).expect("cut");
    assert!(at > cash.windows(qr.len()).position(|w| w == qr.as_slice()).unwrap());
    assert_eq!(&cash[at + 4..], &[0x1B, 0x61, 0x00]);
}

#[test]
fn every_chinese_run_decodes_back_and_no_line_is_wider_than_the_paper() {
    let (sale, member) = sample_sale();
    let mut r = SaleReceipt::of(&sale, "华美超市 徐汇店 旗舰店（二号门）", chrono_tz::Asia::Shanghai, Language::ZhCn, Some(&member));
    // Big money and a name longer than two lines of 58 mm paper.
    r.receipt.lines[1].name = "进口智利车厘子JJ级大果礼盒装约2.5公斤顺丰冷链直发包邮到家（限时特惠，售完即止）".into();
    r.receipt.lines[1].amount_fen = 9_999_999_999;
    r.receipt.subtotal_fen = 10_000_032_185;
    r.receipt.total_fen = 10_000_029_185;
    r.receipt.tenders = vec![("微信支付".into(), 10_000_029_185)];
    for cols in [32, 48] {
        let layout = render_sale(&r, cols, false);
        for line in &layout.lines {
            assert!(line.columns() <= cols, "{cols} columns: {line:?} is {} wide", line.columns());
        }
        let bytes = layout.encode().unwrap();
        let decoded = chinese_runs(&bytes);
        // Each Chinese text line's bytes decode to exactly that line.
        let texts: Vec<String> = layout.lines.iter().filter_map(|l| match l {
            Line::Text { text, .. } if !text.is_ascii() => Some(text.clone()),
            _ => None,
        }).collect();
        assert_eq!(decoded, texts);
        let all = decoded.concat();
        for want in ["华美超市", "限时特惠", "售完即止", "￥100,000,291.85", "微信支付", "满100减10", "积分余额"] {
            assert!(all.contains(want), "{want} not in the decoded receipt");
        }
        // The long name is whole across its lines, cut only between characters.
        assert!(all.contains("进口智利车厘子") && text_width("进口智利车厘子") == 14);
        assert!(layout.lines.contains(&Line::Qr(sale.id.to_string())));
    }
}

#[test]
fn the_cli_sample_is_the_library_rendering_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for paper in ["58", "80"] {
        let out = dir.path().join(format!("sample-{paper}.bin"));
        let o = storehub_cmd(&["receipt", "render", "--sample", "--paper", paper, "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let want = cli::sample_bytes(cli::SAMPLE_STORE_NAME, Language::ZhCn, paper.parse().unwrap(), false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), want);
    }
    let o = storehub_cmd(&["receipt", "render", "--sample", "--paper", "57", "--out", "/dev/null"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected 58 or 80"));
}

// --- The driver ------------------------------------------------------------------------------------

#[test]
fn paper_out_keeps_the_job_and_the_printer_coming_back_prints_it_once() {
    let b = bench();
    let (master, slave) = serialport::TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let cfg = device("serial", &path);
    let sim = Sim::new(PAPER_OUT);
    let sim_thread = sim.spawn(master);
    let job = b.receipt_job(&cfg);
    assert_eq!(b.queued(), 1);

    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| {
            let mut link = transport::open_serial("printer-1", &path, &SerialSettings::default(), Duration::from_millis(100)).unwrap();
            b.run(&cfg, &mut link)
        });
        wait_for("health to say paper_out", || b.status().as_deref() == Some("paper_out"));
        // Asked again while out of paper; nothing printed, the job still queued.
        wait_for("a few status rounds", || sim.requests.lock().unwrap().iter().filter(|n| **n == 1).count() >= 3);
        assert!(sim.printed().is_empty(), "printed while out of paper");
        assert_eq!(b.queued(), 1);
        let st = queue::queue_status(&b.store, Some(&b.health), "printer-1").unwrap();
        assert_eq!((st.queued, st.status.as_deref(), st.connected), (1, Some("paper_out"), true));

        // Cover open is a different condition.
        sim.state.store(COVER_OPEN, Ordering::Relaxed);
        wait_for("health to say cover_open", || b.status().as_deref() == Some("cover_open"));
        assert!(sim.printed().is_empty());

        // Paper in, cover closed: printed, once.
        sim.state.store(READY, Ordering::Relaxed);
        wait_for("the queue to drain", || b.queued() == 0);
        wait_for("the bytes to arrive", || sim.printed().len() >= job.len());
        let asked = sim.requests.lock().unwrap().len();
        wait_for("another status round", || sim.requests.lock().unwrap().len() >= asked + 2);
        assert_eq!(sim.printed(), job, "the printer got exactly the rendered job, once");
        assert_eq!(b.status(), None);
        assert_eq!(b.health.get("printer-1").unwrap().events, 1);

        b.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
    });
    drop(sim);
    sim_thread.join().unwrap();
}

#[test]
fn a_printer_that_never_answers_is_offline_counted_in_health_and_keeps_its_job() {
    let b = bench();
    let (master, mut slave) = serialport::TTYPort::pair().unwrap();
    let cfg = device("serial", "/dev/pts/test");
    let sim = Sim::new(SILENT);
    let sim_thread = sim.spawn(master);
    b.receipt_job(&cfg);
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| b.run(&cfg, &mut slave));
        wait_for("health to say offline", || b.status().as_deref() == Some("offline"));
        wait_for("timeouts counted", || b.health.get("printer-1").unwrap().errors.get("timeout").copied().unwrap_or(0) >= 2);
        assert_eq!(b.queued(), 1);
        assert!(sim.printed().is_empty());
        // The printer wakes up: the job prints.
        sim.state.store(READY, Ordering::Relaxed);
        wait_for("the queue to drain", || b.queued() == 0);
        b.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
    });
    drop(sim);
    sim_thread.join().unwrap();
}

#[test]
fn unplugging_ends_the_run_and_the_next_run_drains_the_queue() {
    let b = bench();
    let (master, slave) = serialport::TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let cfg = device("serial", &path);
    let sim = Sim::new(READY);
    let sim_thread = sim.spawn(master);
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| {
            let mut link = transport::open_serial("printer-1", &path, &SerialSettings::default(), Duration::from_millis(100)).unwrap();
            b.run(&cfg, &mut link)
        });
        wait_for("the first status round", || !sim.requests.lock().unwrap().is_empty());
        assert!(b.health.get("printer-1").unwrap().connected);
        // Unplug: the simulator closes its end of the pty.
        sim.done.store(true, Ordering::Relaxed);
        sim_thread.join().unwrap();
        drop(slave);
        assert!(matches!(driver.join().unwrap(), DriverExit::Closed));
    });
    assert!(!b.health.get("printer-1").unwrap().connected);
    // Receipts queued while the printer is away wait for it.
    let first = b.receipt_job(&cfg);
    let second = printer::queue_shift_report(&b.store, &cfg, &shift(), "华美超市", chrono_tz::Asia::Shanghai, Language::ZhCn).unwrap().bytes;
    assert_eq!(b.queued(), 2);

    // Replug: a new port, a new run.
    let (master, slave) = serialport::TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    let cfg = device("serial", &path);
    let sim = Sim::new(READY);
    let sim_thread = sim.spawn(master);
    b.stop.store(false, Ordering::Relaxed);
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| {
            let mut link = transport::open_serial("printer-1", &path, &SerialSettings::default(), Duration::from_millis(100)).unwrap();
            b.run(&cfg, &mut link)
        });
        wait_for("the queue to drain", || b.queued() == 0);
        wait_for("both jobs to arrive", || sim.printed().len() >= first.len() + second.len());
        assert_eq!(sim.printed(), [first.clone(), second.clone()].concat(), "oldest first, each once");
        assert_eq!(b.health.get("printer-1").unwrap().reconnects, 1);
        b.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
    });
    drop(sim);
    sim_thread.join().unwrap();
}

#[test]
fn a_raw_tcp_printer_gets_the_job_after_answering_status() {
    let b = bench();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let cfg = device("tcp", &addr);
    let job = b.receipt_job(&cfg);
    let sim = Sim::new(READY);
    let accept = {
        let listener = listener.try_clone().unwrap();
        thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            conn
        })
    };
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| {
            let mut link = transport::open_tcp("printer-1", &addr, Duration::from_secs(2)).unwrap();
            b.run(&cfg, &mut link)
        });
        let sim_thread = sim.spawn(accept.join().unwrap());
        wait_for("the queue to drain", || b.queued() == 0);
        wait_for("the bytes to arrive", || sim.printed().len() >= job.len());
        assert_eq!(sim.printed(), job);
        assert_eq!(&sim.requests.lock().unwrap()[..2], &[1, 4], "DLE EOT 1 then 4 before printing");
        b.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
        sim.done.store(true, Ordering::Relaxed);
        sim_thread.join().unwrap();
    });
}

#[test]
fn an_lp_printer_is_written_without_status_questions() {
    let b = bench();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp0");
    std::fs::write(&path, b"").unwrap();
    let cfg = device("lp", path.to_str().unwrap());
    assert!(!printer::queries_status(&cfg));
    let job = b.receipt_job(&cfg);
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| {
            let mut link = transport::FileLink::open("printer-1", path.to_str().unwrap(), Duration::from_millis(100)).unwrap();
            b.run(&cfg, &mut link)
        });
        wait_for("the queue to drain", || b.queued() == 0);
        b.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
    });
    assert_eq!(std::fs::read(&path).unwrap(), job);
}

#[test]
fn queued_jobs_survive_a_restart_and_printed_ones_are_gone_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let (a, c) = {
        let store = open_store(dir.path(), &clock, Durability::Durable);
        let a = queue::enqueue(&store, "printer-1", JobKind::TestPage, vec![0x1B, 0x40, b'A', 0x0A]).unwrap();
        let b = queue::enqueue(&store, "printer-2", JobKind::TestPage, vec![0x1B, 0x40, b'B', 0x0A]).unwrap();
        let c = queue::enqueue(&store, "printer-1", JobKind::SaleReceipt { sale_id: 9 }, vec![0x1B, 0x40, b'C', 0x0A]).unwrap();
        assert!(a.id < b.id && b.id < c.id);
        queue::mark_printed(&store, a.id).unwrap();
        (a, c)
    };
    let store = open_store(dir.path(), &clock, Durability::Durable);
    let left = queue::queued(&store, "printer-1").unwrap();
    assert_eq!(left, vec![c.clone()]);
    assert_eq!(queue::oldest(&store, "printer-2").unwrap().unwrap().bytes, vec![0x1B, 0x40, b'B', 0x0A]);
    // Ids never repeat, even after the queue empties.
    queue::mark_printed(&store, c.id).unwrap();
    let d = queue::enqueue(&store, "printer-1", JobKind::TestPage, vec![0x0A]).unwrap();
    assert!(d.id > c.id && d.id != a.id);
    assert!(queue::enqueue(&store, "printer-1", JobKind::TestPage, Vec::new()).is_err());
}

fn shift() -> storehub::staff::Shift {
    storehub::staff::Shift {
        id: 3,
        lane: "lane-1".into(),
        staff: "王芳".into(),
        opened_at: opening_time(),
        float_fen: 30_000,
        cash_sales_fen: 128_850,
        cash_refunds_fen: 0,
        paid_in_fen: 0,
        paid_out_fen: 0,
        closed: None,
    }
}

#[test]
fn line_noise_around_status_answers_is_counted_and_the_job_still_prints() {
    let b = bench();
    let (master, mut slave) = serialport::TTYPort::pair().unwrap();
    let cfg = device("serial", "/dev/pts/test");
    let sim = Sim::new(NOISY);
    let sim_thread = sim.spawn(master);
    let job = b.receipt_job(&cfg);
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let driver = s.spawn(|| b.run(&cfg, &mut slave));
        wait_for("the queue to drain", || b.queued() == 0);
        wait_for("the bytes to arrive", || sim.printed().len() >= job.len());
        assert_eq!(sim.printed(), job);
        assert!(b.health.get("printer-1").unwrap().errors.get("garbage").copied().unwrap_or(0) >= 1);
        b.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
    });
    drop(sim);
    sim_thread.join().unwrap();
}

#[test]
fn the_pole_display_shows_each_update_through_a_pty_and_ends_when_unplugged() {
    use storehub::devices::display::{self, DisplayUpdate};
    let b = bench();
    let (mut master, mut slave) = serialport::TTYPort::pair().unwrap();
    let cfg: DeviceConfig = toml::from_str("id = \"display-1\"\nkind = \"display\"\ntransport = \"serial\"\npath = \"/dev/pts/x\"\n").unwrap();
    b.health.register(DeviceHealth::from_config(&cfg));
    let (tx, rx) = std::sync::mpsc::channel();
    thread::scope(|s| {
        let _stop = StopOnDrop(&b.stop);
        let (cfg, b) = (&cfg, &b);
        let driver = s.spawn(move || {
            let emit = |_: DeviceEvent| {};
            let ctx = DriverCtx { device: cfg, health: &b.health, clock: &b.clock as &dyn Clock, stop: &b.stop, emit: &emit, store: None };
            display::run(&mut slave, &ctx, &rx)
        });
        tx.send(DisplayUpdate::Cart { last: Some(("可口可乐 Coca-Cola 330ml".into(), 700)), total_fen: 32_185 }).unwrap();
        let mut want = vec![0x1B, 0x40, 0x0C];
        want.extend(display::render_lines(Some(("Coca-Cola 330ml", 700)), 32_185));
        let mut got = Vec::new();
        let mut buf = [0u8; 128];
        let deadline = Instant::now() + Duration::from_secs(15);
        while got.len() < want.len() && Instant::now() < deadline {
            if let Ok(n) = master.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert_eq!(got, want);
        assert_eq!(&got[4..7], &[0x1B, 0x51, 0x41]);
        assert_eq!(String::from_utf8_lossy(&got[7..27]), "Coca-Cola 330ml 7.00");
        // Unplugged: the next update cannot be written.
        drop(master);
        tx.send(DisplayUpdate::Text { upper: "Welcome".into(), lower: String::new() }).unwrap();
        let exit = driver.join().unwrap();
        assert!(matches!(exit, DriverExit::Closed), "{exit:?}");
    });
    assert!(!b.health.get("display-1").unwrap().connected);
}

#[test]
fn the_cli_renders_a_stored_sale_as_the_library_does() {
    use storehub::checkout::{Lanes, PayRequest, SaleRules};
    use storehub::domain::tender::{CashRounding, Tender, TenderKind};
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let sale = {
        let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
        common::load(&store, &[common::water(), common::bananas()]);
        let new = storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: storehub::domain::staff::Role::Cashier };
        storehub::staff::create_staff(&store, &new, "correct horse", Some("2468"), &storehub::staff::HashCost::minimal_for_tests()).unwrap();
        storehub::staff::open_shift(&store, "lane-1", "wang", 50_000).unwrap();
        let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
        lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: storehub::domain::staff::Role::Cashier }).unwrap();
        lanes.scan("lane-1", "6907674936533").unwrap();
        lanes.scan("lane-1", &common::ean13("250500001234")).unwrap();
        let rules = SaleRules { cash_rounding: CashRounding::None, promotions: Vec::new(), tz: chrono_tz::Asia::Shanghai, loyalty: Default::default() };
        let cash = Tender { kind: TenderKind::Cash, amount_fen: 2_000, reference: None, points: None };
        let sale = lanes.pay("lane-1", &PayRequest { tenders: vec![cash] }, &rules).unwrap();
        drop(lanes);
        store.flush().unwrap();
        sale
    };
    let out = dir.path().join("sale.bin");
    let o = storehub_cmd(&["--data-dir", dir.path().to_str().unwrap(), "receipt", "render", "--sale", &sale.id.to_string(), "--paper", "58", "--drawer", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = cli::sale_bytes(&sale, None, cli::SAMPLE_STORE_NAME, chrono_tz::Asia::Shanghai, Language::ZhCn, 58, true).unwrap();
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got, want);
    assert!(chinese_runs(&got).concat().contains("香蕉"));
    assert!(got.windows(5).any(|w| w == [0x1B, 0x70, 0x00, 0x19, 0xFA]), "cash sale with --drawer kicks the drawer");
}

/// A printer link that answers status but whose cable is pulled as soon as a job is sent.
struct PulledMidJob {
    answers: std::collections::VecDeque<u8>,
}

impl Read for PulledMidJob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.answers.pop_front() {
            Some(b) => {
                buf[0] = b;
                Ok(1)
            }
            None => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }
}

impl Write for PulledMidJob {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() == 3 && buf[..2] == [0x10, 0x04] {
            self.answers.push_back(0x12);
            return Ok(3);
        }
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Link for PulledMidJob {
    fn set_read_timeout(&mut self, _: Duration) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_job_cut_off_mid_send_stays_queued_with_its_attempt_counted() {
    let b = bench();
    let cfg = device("serial", "/dev/pts/test");
    let job = b.receipt_job(&cfg);
    let mut link = PulledMidJob { answers: Default::default() };
    assert!(matches!(b.run(&cfg, &mut link), DriverExit::Closed));
    wait_for("the attempt to be recorded", || queue::queued(&b.store, "printer-1").unwrap()[0].attempts == 1);
    let left = queue::queued(&b.store, "printer-1").unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].bytes, job, "the whole job is sent again next time");
    assert_eq!(left[0].state, queue::JobState::Retrying);
    assert!(b.health.get("printer-1").unwrap().errors.contains_key("io"));
}

#[test]
fn the_technician_test_page_over_tcp_reports_paper_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let sim = Sim::new(PAPER_OUT);
    let accept = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        conn
    });
    // The simulator must be serving before the command asks for status.
    let client = thread::spawn({
        let addr = addr.clone();
        move || cli::print_test_page(&format!("tcp:{addr}"), "华美超市", 48).unwrap()
    });
    let sim_thread = sim.spawn(accept.join().unwrap());
    let report = client.join().unwrap();
    assert_eq!(report.condition, Some("paper_out"));
    assert_eq!(report.columns, 48);
    let page = printer::render_test_page("华美超市", 48).encode().unwrap();
    wait_for("the page to arrive", || sim.printed().len() >= page.len());
    assert_eq!(sim.printed(), page);
    assert!(chinese_runs(&page).concat().contains("中文测试"));
    drop(sim);
    sim_thread.join().unwrap();
}
