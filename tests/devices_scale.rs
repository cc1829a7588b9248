//! Scales end to end: for each serial protocol a simulator thread on the master side of a
//! pseudo-terminal speaks the real protocol (answers polls, streams frames, moves, overloads,
//! goes under zero, answers with error codes, garbage and overlong lines), while the driver
//! opens the slave by path with `transport::open_serial`, exactly as the daemon does. Also:
//! unplug (the simulator closes its end) and replug (a new pair), the no-answer watchdog,
//! zero/tare bytes on the wire, `read_settled`, `storehub doctor scale --json`, and the HID
//! scale driver over recorded reports.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};
use storehub::clock::SystemClock;
use storehub::config::{DeviceConfig, DeviceProtocol, ScaleSettings};
use storehub::devices::health::{DeviceHealth, HealthBoard};
use storehub::devices::scale::{self, ScaleCommand, ScaleCommands, ScaleError};
use storehub::devices::transport::hid::ReportSource;
use storehub::devices::transport::{open_serial, ReadOutcome};
use storehub::devices::{DeviceEvent, DriverCtx, DriverExit, WeightReading, WeightState};

/// Generous: the VM is shared by several builds.
const WAIT: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------------------------
// The simulated scale.

/// What the simulator does, changed by the test while it runs.
#[derive(Default)]
struct Script {
    /// Answers to the next weight requests (polled) or the next frames (streaming), in order.
    next: VecDeque<Vec<u8>>,
    /// What to send once `next` is empty.
    steady: Vec<u8>,
    /// Say nothing at all (the scale hangs).
    mute: bool,
}

struct Sim {
    script: Arc<Mutex<Script>>,
    /// Every byte the hub sent.
    received: Arc<Mutex<Vec<u8>>>,
    quit: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    path: String,
}

impl Sim {
    fn set(&self, f: impl FnOnce(&mut Script)) {
        f(&mut self.script.lock().unwrap());
    }

    fn script_done(&self) -> bool {
        self.script.lock().unwrap().next.is_empty()
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// Closes the simulator's end of the pty: the cable is pulled.
    fn unplug(mut self) {
        self.quit.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
    }
}

/// How the simulated scale talks.
#[derive(Clone, Copy)]
enum Mode {
    /// Each byte is a command (Toledo 8217): `W` is answered from the script, `Z`/`T`/`C` with a
    /// status frame (centre of zero), `E` with the echo reply.
    Toledo,
    /// Commands are CR LF lines (MT-SICS): `SI`/`S` answered from the script, `Z` → `Z A`,
    /// `T` → `T S 0.250 kg`, `TAC` → `TAC A`, anything else → `ES`.
    MtSics,
    /// Unasked, one frame every `every` (CAS, generic streams).
    Stream { every: Duration },
}

fn start_sim(mode: Mode, script: Script) -> Sim {
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    let path = slave.name().expect("the slave's path");
    let script = Arc::new(Mutex::new(script));
    let received = Arc::new(Mutex::new(Vec::new()));
    let quit = Arc::new(AtomicBool::new(false));
    let handle = {
        let (script, received, quit) = (script.clone(), received.clone(), quit.clone());
        thread::spawn(move || simulate(master, slave, mode, &script, &received, &quit))
    };
    Sim { script, received, quit, handle: Some(handle), path }
}

fn next_answer(script: &Mutex<Script>) -> Option<Vec<u8>> {
    let mut s = script.lock().unwrap();
    if s.mute {
        return None;
    }
    Some(s.next.pop_front().unwrap_or_else(|| s.steady.clone()))
}

fn simulate(mut master: TTYPort, _slave: TTYPort, mode: Mode, script: &Mutex<Script>, received: &Mutex<Vec<u8>>, quit: &AtomicBool) {
    serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(10)).unwrap();
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    let mut last_frame = Instant::now();
    while !quit.load(Ordering::SeqCst) {
        if let Mode::Stream { every } = mode {
            if last_frame.elapsed() >= every {
                last_frame = Instant::now();
                if let Some(frame) = next_answer(script) {
                    let _ = master.write_all(&frame);
                }
            }
        }
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(_) => {
                // No one has the slave open yet, or it closed: wait.
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        received.lock().unwrap().extend_from_slice(&buf[..n]);
        for &b in &buf[..n] {
            let answer = match mode {
                Mode::Toledo => match b {
                    b'W' => next_answer(script),
                    b'Z' | b'T' | b'C' => Some(b"\x02?P\r".to_vec()),
                    _ => Some(b"\x02?\x7f\r".to_vec()),
                },
                Mode::MtSics => {
                    if b != b'\n' {
                        line.push(b);
                        continue;
                    }
                    let command = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                    line.clear();
                    match command.as_str() {
                        "SI" | "S" => next_answer(script),
                        "Z" => Some(b"Z A\r\n".to_vec()),
                        "T" => Some(b"T S      0.250 kg\r\n".to_vec()),
                        "TAC" => Some(b"TAC A\r\n".to_vec()),
                        _ => Some(b"ES\r\n".to_vec()),
                    }
                }
                Mode::Stream { .. } => None,
            };
            if let Some(a) = answer {
                let _ = master.write_all(&a);
            }
        }
    }
}

fn toledo(body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02];
    f.extend_from_slice(body);
    f.push(b'\r');
    f
}

fn crlf(line: &[u8]) -> Vec<u8> {
    let mut f = line.to_vec();
    f.extend_from_slice(b"\r\n");
    f
}

// ---------------------------------------------------------------------------------------------
// The hub side.

fn device(protocol: &str, scale: &str, serial: &str) -> DeviceConfig {
    let text = format!(
        "id = \"scale-1\"\nkind = \"scale\"\ntransport = \"serial\"\nprotocol = \"{protocol}\"\npath = \"/dev/null\"\nlane = \"lane-1\"\n[scale]\n{scale}\n[serial]\n{serial}\n"
    );
    toml::from_str(&text).expect("device config")
}

struct Driver {
    health: Arc<HealthBoard>,
    events: Receiver<DeviceEvent>,
    stop: Arc<AtomicBool>,
    commands: ScaleCommands,
    handle: Option<JoinHandle<DriverExit>>,
}

fn start_driver(cfg: DeviceConfig, path: &str) -> Driver {
    let health = Arc::new(HealthBoard::new());
    health.register(DeviceHealth::from_config(&cfg));
    let (tx, events) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let commands = ScaleCommands::new();
    let (opened_tx, opened) = mpsc::channel();
    let handle = {
        let (health, stop, commands, path) = (health.clone(), stop.clone(), commands.clone(), path.to_string());
        thread::spawn(move || {
            let mut port = open_serial(cfg.id.as_str(), &path, &cfg.serial_settings(), Duration::from_millis(50)).expect("open the pty slave");
            opened_tx.send(()).unwrap();
            let emit = move |e: DeviceEvent| {
                let _ = tx.send(e);
            };
            let ctx = DriverCtx { device: &cfg, health: &health, clock: &SystemClock, stop: &stop, emit: &emit, store: None };
            scale::run_with(&mut port, &ctx, &commands)
        })
    };
    // The port is open (and its input flushed) before the test lets a stream start.
    opened.recv_timeout(WAIT).expect("the driver opened the port");
    Driver { health, events, stop, commands, handle: Some(handle) }
}

impl Driver {
    fn reading(e: &DeviceEvent) -> WeightReading {
        match e {
            DeviceEvent::Weight { device, lane, reading, .. } => {
                assert_eq!(device, "scale-1");
                assert_eq!(lane.as_deref(), Some("lane-1"));
                *reading
            }
            other => panic!("not a weight: {other:?}"),
        }
    }

    /// Readings until one matches `until`; panics with what came when none does in time.
    fn readings_until(&self, until: impl Fn(&WeightReading) -> bool) -> Vec<WeightReading> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(e) = self.events.recv_timeout(Duration::from_millis(50)) {
                let r = Self::reading(&e);
                seen.push(r);
                if until(&r) {
                    return seen;
                }
            }
        }
        panic!("no matching reading within {WAIT:?}; got {seen:?}; health {:?}", self.health.get("scale-1"));
    }

    fn errors(&self, kind: &str) -> u64 {
        self.health.get("scale-1").unwrap().errors.get(kind).copied().unwrap_or(0)
    }

    fn status(&self) -> Option<String> {
        self.health.get("scale-1").unwrap().status
    }

    /// Waits for the loop to end by itself.
    fn exit(mut self) -> DriverExit {
        let h = self.handle.take().unwrap();
        let deadline = Instant::now() + WAIT;
        while !h.is_finished() {
            assert!(Instant::now() < deadline, "the driver did not return within {WAIT:?}");
            thread::sleep(Duration::from_millis(10));
        }
        h.join().unwrap()
    }

    fn stop(mut self) -> DriverExit {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().unwrap().join().unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn settled(grams: i64) -> impl Fn(&WeightReading) -> bool {
    move |r| r.is_settled() && r.grams == grams
}

fn states(readings: &[WeightReading]) -> Vec<WeightState> {
    let mut s: Vec<WeightState> = Vec::new();
    for r in readings {
        if s.last() != Some(&r.state) {
            s.push(r.state);
        }
    }
    s
}

fn wait_until(what: &str, f: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < WAIT, "{what}: not within {WAIT:?}");
        thread::sleep(Duration::from_millis(10));
    }
    start.elapsed()
}

const FAST: &str = "poll_ms = 40\nanswer_timeout_ms = 400\noffline_after_ms = 3000";
const TOLEDO_LINE: &str = "data_bits = 7\nparity = \"even\"";

// ---------------------------------------------------------------------------------------------
// Toledo 8217.

#[test]
fn toledo_polls_reads_states_and_counts_bad_frames() {
    let mut garbage_then_weight = b"\xff\xfe~~".to_vec();
    garbage_then_weight.extend(toledo(b"00.900"));
    let mut overlong = vec![0x02];
    overlong.extend(std::iter::repeat_n(b'9', 200));
    overlong.push(b'\r');
    let sim = start_sim(
        Mode::Toledo,
        Script {
            next: VecDeque::from([
                toledo(b"?A"),    // in motion
                toledo(b"?B"),    // over capacity
                toledo(b"?D"),    // under zero
                toledo(b"?H"),    // outside zero capture range: an error
                garbage_then_weight,
                overlong,         // then no answer to that poll: a timeout
                toledo(b"XYZ"),   // a wrong answer
                toledo(b"00.350N"),
            ]),
            steady: toledo(b"01.250"),
            mute: false,
        },
    );
    let driver = start_driver(device("toledo-8217", FAST, TOLEDO_LINE), &sim.path);
    let seen = driver.readings_until(settled(1250));
    assert!(sim.script_done());
    assert_eq!(
        states(&seen),
        vec![WeightState::Motion, WeightState::Overload, WeightState::UnderZero, WeightState::Error, WeightState::Ok],
        "{seen:?}"
    );
    assert!(seen.contains(&WeightReading { grams: 900, stable: true, state: WeightState::Ok }));
    assert!(seen.contains(&WeightReading { grams: 350, stable: true, state: WeightState::Ok }));
    assert!(driver.errors("garbage") >= 1);
    assert!(driver.errors("overlong") >= 1);
    assert!(driver.errors("bad_frame") >= 1);
    assert!(driver.errors("device_error") >= 1);
    assert!(driver.errors("timeout") >= 1);
    // The hub sent nothing but W polls, one byte each.
    let sent = sim.received();
    assert!(sent.len() >= 9 && sent.iter().all(|&b| b == b'W'), "{sent:?}");
    let h = driver.health.get("scale-1").unwrap();
    assert!(h.connected && h.events >= 6, "{h:?}");
    assert!(matches!(driver.stop(), DriverExit::Stopped));
}

#[test]
fn toledo_unplug_ends_the_driver_and_replug_reads_again() {
    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"02.000"), ..Script::default() });
    let driver = start_driver(device("toledo-8217", FAST, TOLEDO_LINE), &sim.path);
    driver.readings_until(settled(2000));
    let health = driver.health.clone();
    sim.unplug();
    assert!(matches!(driver.exit(), DriverExit::Closed));
    assert!(!health.get("scale-1").unwrap().connected);

    // Plugged back in (a new device node): the supervisor runs the driver again.
    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"02.005"), ..Script::default() });
    let driver = start_driver(device("toledo-8217", FAST, TOLEDO_LINE), &sim.path);
    driver.readings_until(settled(2005));
}

#[test]
fn toledo_watchdog_marks_a_silent_scale_and_clears_when_it_answers() {
    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"00.500"), ..Script::default() });
    let offline_after = 400;
    let cfg = device("toledo-8217", &format!("poll_ms = 40\nanswer_timeout_ms = 100\noffline_after_ms = {offline_after}"), TOLEDO_LINE);
    let driver = start_driver(cfg, &sim.path);
    driver.readings_until(settled(500));
    assert_eq!(driver.status(), None);
    sim.set(|s| s.mute = true);
    let took = wait_until("status no_answer", || driver.status().as_deref() == Some("no_answer"));
    // Not before the configured silence (minus one poll of slack), and not much after.
    assert!(took >= Duration::from_millis(offline_after - 100), "marked after {took:?}");
    eprintln!("no_answer after {took:?} (offline_after_ms = {offline_after})");
    assert!(driver.errors("timeout") >= 2);
    sim.set(|s| s.mute = false);
    wait_until("status cleared", || driver.status().is_none());
    driver.readings_until(settled(500));
}

#[test]
fn toledo_zero_tare_and_clear_tare_bytes_on_the_wire() {
    assert_eq!(scale::zero_command(DeviceProtocol::Toledo8217), Some(&b"Z"[..]));
    assert_eq!(scale::tare_command(DeviceProtocol::Toledo8217), Some(&b"T"[..]));
    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"00.000"), ..Script::default() });
    let driver = start_driver(device("toledo-8217", FAST, TOLEDO_LINE), &sim.path);
    driver.readings_until(settled(0));
    for c in [ScaleCommand::Zero, ScaleCommand::Tare, ScaleCommand::ClearTare] {
        driver.commands.send(c).unwrap();
    }
    wait_until("commands sent", || driver.commands.pending() == 0 && sim.received().iter().filter(|&&b| b != b'W').count() == 3);
    let commands: Vec<u8> = sim.received().into_iter().filter(|&b| b != b'W').collect();
    assert_eq!(commands, b"ZTC");
    // The status answers to the commands are acknowledgements, not timeouts or errors.
    driver.readings_until(settled(0));
    assert_eq!(driver.errors("bad_frame"), 0);
}

// ---------------------------------------------------------------------------------------------
// MT-SICS.

#[test]
fn mt_sics_polls_with_si_and_reads_every_reply_kind() {
    let sim = start_sim(
        Mode::MtSics,
        Script {
            next: VecDeque::from([
                crlf(b"S D      1.300 kg"),
                crlf(b"S +"),
                crlf(b"S -"),
                crlf(b"EL"), // the scale refuses: a device error
                crlf(b"S I"),
                crlf(b"\xff\xfe garbage"),
                crlf(&[b'9'; 100]), // overlong
                crlf(b"S S      1.250 lb"),
            ]),
            steady: crlf(b"S S      1.250 kg"),
            mute: false,
        },
    );
    let driver = start_driver(device("mt-sics", FAST, ""), &sim.path);
    let seen = driver.readings_until(settled(1250));
    assert_eq!(
        states(&seen),
        vec![WeightState::Motion, WeightState::Overload, WeightState::UnderZero, WeightState::Ok],
        "{seen:?}"
    );
    assert_eq!(seen[0], WeightReading { grams: 1300, stable: false, state: WeightState::Motion });
    // 1.250 lb = 566.9904625 g → 567 g.
    assert!(seen.contains(&WeightReading { grams: 567, stable: true, state: WeightState::Ok }), "{seen:?}");
    assert!(driver.errors("device_error") >= 1);
    assert!(driver.errors("bad_frame") >= 1);
    assert!(driver.errors("overlong") >= 1);
    let sent = String::from_utf8(sim.received()).unwrap();
    assert!(sent.starts_with("SI\r\nSI\r\n") && sent.split("\r\n").all(|l| l == "SI" || l.is_empty()), "{sent:?}");
}

#[test]
fn mt_sics_zero_and_tare_and_unplug() {
    assert_eq!(scale::zero_command(DeviceProtocol::MtSics), Some(&b"Z\r\n"[..]));
    assert_eq!(scale::tare_command(DeviceProtocol::MtSics), Some(&b"T\r\n"[..]));
    let sim = start_sim(Mode::MtSics, Script { steady: crlf(b"S S      0.000 kg"), ..Script::default() });
    let driver = start_driver(device("mt-sics", FAST, ""), &sim.path);
    driver.readings_until(settled(0));
    for c in [ScaleCommand::Zero, ScaleCommand::Tare, ScaleCommand::ClearTare] {
        driver.commands.send(c).unwrap();
    }
    let others = || -> Vec<String> {
        String::from_utf8(sim.received()).unwrap().split("\r\n").filter(|l| !l.is_empty() && *l != "SI").map(str::to_string).collect()
    };
    wait_until("commands sent", || others().len() == 3);
    assert_eq!(others(), vec!["Z", "T", "TAC"]);
    // Byte for byte: each command is its own CR LF line between the SI polls.
    let wire = sim.received();
    for command in [&b"\nZ\r\n"[..], b"\nT\r\n", b"\nTAC\r\n"] {
        assert!(wire.windows(command.len()).any(|w| w == command), "{:?}", String::from_utf8_lossy(&wire));
    }
    driver.readings_until(settled(0));
    assert_eq!(driver.errors("command_refused"), 0);
    sim.unplug();
    assert!(matches!(driver.exit(), DriverExit::Closed));
}

// ---------------------------------------------------------------------------------------------
// CAS and generic streams.

#[test]
fn cas_stream_of_22_and_18_byte_frames_without_flooding() {
    let sim = start_sim(
        Mode::Stream { every: Duration::from_millis(20) },
        Script {
            next: VecDeque::from([
                b"US,GS,1\x84,000013.4 kg\r\n".to_vec(),
                b"OL,GS,1\x84,         kg\r\n".to_vec(),
                b"ST,NT,1\xc4,  -0.120 kg\r\n".to_vec(),
                b"\xff\xff\xff\r\n".to_vec(),
                [&[b'#'; 90][..], b"\r\n"].concat(),
                b"ST,GS,+000.800kg\r\n".to_vec(),
            ]),
            steady: b"ST,GS,1\xc4,000013.5 kg\r\n".to_vec(),
            mute: true,
        },
    );
    let driver = start_driver(device("cas", "poll_ms = 200\noffline_after_ms = 2000", ""), &sim.path);
    sim.set(|s| s.mute = false);
    let seen = driver.readings_until(settled(13_500));
    assert_eq!(
        &states(&seen)[..4],
        &[WeightState::Motion, WeightState::Overload, WeightState::UnderZero, WeightState::Ok],
        "{seen:?}"
    );
    assert!(seen.contains(&WeightReading { grams: 800, stable: true, state: WeightState::Ok }));
    assert!(driver.errors("bad_frame") >= 1);
    assert!(driver.errors("overlong") >= 1);
    // 50 identical frames a second; unchanged readings go out at most once per poll_ms (200).
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(1) {
        if driver.events.recv_timeout(Duration::from_millis(20)).is_ok() {
            n += 1;
        }
    }
    assert!((1..=7).contains(&n), "{n} events in one second of a steady stream");
    // A streaming protocol has no zero command: the request is dropped, nothing is written.
    assert_eq!(scale::zero_command(DeviceProtocol::Cas), None);
    driver.commands.send(ScaleCommand::Zero).unwrap();
    wait_until("command dropped", || driver.commands.pending() == 0);
    assert!(sim.received().is_empty());
    sim.unplug();
    assert!(matches!(driver.exit(), DriverExit::Closed));
}

#[test]
fn cas_watchdog_and_replug() {
    let sim = start_sim(Mode::Stream { every: Duration::from_millis(20) }, Script { steady: b"ST,GS,+001.000kg\r\n".to_vec(), ..Script::default() });
    let driver = start_driver(device("cas", "poll_ms = 100\noffline_after_ms = 300", ""), &sim.path);
    driver.readings_until(settled(1000));
    sim.set(|s| s.mute = true);
    wait_until("status no_answer", || driver.status().as_deref() == Some("no_answer"));
    sim.set(|s| s.mute = false);
    wait_until("status cleared", || driver.status().is_none());
    sim.unplug();
    assert!(matches!(driver.exit(), DriverExit::Closed));
    let sim = start_sim(Mode::Stream { every: Duration::from_millis(20) }, Script { steady: b"ST,GS,+001.005kg\r\n".to_vec(), ..Script::default() });
    let driver = start_driver(device("cas", "poll_ms = 100\noffline_after_ms = 300", ""), &sim.path);
    driver.readings_until(settled(1005));
}

#[test]
fn generic_stream_read_with_the_configured_pattern() {
    let pattern = r"pattern = '^(?:(?P<stable>ST)|US),GS,\s*(?P<weight>[-+]?[0-9.]+)\s*(?P<unit>kg|g)?$'";
    let sim = start_sim(
        Mode::Stream { every: Duration::from_millis(20) },
        Script {
            next: VecDeque::from([
                b"US,GS,  0.731kg\r\n".to_vec(),
                b"hello scale\r\n".to_vec(),
                b"ST,GS,  412 g\r".to_vec(),
            ]),
            steady: b"ST,GS,  0.730\n".to_vec(),
            mute: true,
        },
    );
    let driver = start_driver(device("generic", &format!("{pattern}\nunit = \"kg\"\npoll_ms = 100"), ""), &sim.path);
    sim.set(|s| s.mute = false);
    let seen = driver.readings_until(settled(730));
    assert_eq!(seen[0], WeightReading { grams: 731, stable: false, state: WeightState::Motion });
    assert!(seen.contains(&WeightReading { grams: 412, stable: true, state: WeightState::Ok }));
    assert!(driver.errors("bad_frame") >= 1);
}

// ---------------------------------------------------------------------------------------------
// One-shot reads and the technician's command.

fn open(path: &str, protocol: DeviceProtocol) -> TTYPort {
    let line = scale::doctor::line_settings(protocol, None, None, None).unwrap();
    open_serial("scale", path, &line, Duration::from_millis(50)).unwrap()
}

#[test]
fn read_settled_waits_out_motion_and_says_what_the_scale_last_said() {
    let sim = start_sim(
        Mode::MtSics,
        Script { next: VecDeque::from([crlf(b"S D      0.700 kg"), crlf(b"S D      0.710 kg")]), steady: crlf(b"S S      0.725 kg"), mute: false },
    );
    let mut port = open(&sim.path, DeviceProtocol::MtSics);
    let settings = ScaleSettings { poll_ms: 30, ..ScaleSettings::default() };
    let r = scale::read_settled(&mut port, DeviceProtocol::MtSics, &settings, WAIT).unwrap();
    assert_eq!(r, WeightReading { grams: 725, stable: true, state: WeightState::Ok });

    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"?A"), ..Script::default() });
    let mut port = open(&sim.path, DeviceProtocol::Toledo8217);
    let e = scale::read_settled(&mut port, DeviceProtocol::Toledo8217, &settings, Duration::from_millis(600)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ScaleError::NotSettled { .. }), "{e:?}");
    assert!(text.contains("no settled weight within 600 ms") && text.contains("\"?A\"") && text.contains("in motion"), "{text}");

    let sim = start_sim(Mode::Toledo, Script { mute: true, ..Script::default() });
    let mut port = open(&sim.path, DeviceProtocol::Toledo8217);
    let text = scale::read_settled(&mut port, DeviceProtocol::Toledo8217, &settings, Duration::from_millis(700)).unwrap_err().to_string();
    assert!(text.contains("nothing (no answer to"), "{text}");
    sim.unplug();
    let text = scale::read_settled(&mut port, DeviceProtocol::Toledo8217, &settings, WAIT).unwrap_err().to_string();
    assert!(text.contains("port closed"), "{text}");
}

#[test]
fn doctor_scale_json_through_a_pty() {
    let bin = env!("CARGO_BIN_EXE_storehub");
    let sim = start_sim(Mode::MtSics, Script { next: VecDeque::from([crlf(b"S D      0.700 kg")]), steady: crlf(b"S S      0.725 kg"), mute: false });
    let out = Command::new(bin)
        .args(["doctor", "scale", "--port", &sim.path, "--protocol", "mt-sics", "--json", "--timeout", "8"])
        .env_remove("STOREHUB_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "{\"grams\":725,\"stable\":true,\"state\":\"ok\"}\n");

    // A human line for Toledo at its default 7E1.
    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"01.250"), ..Script::default() });
    let out = Command::new(bin).args(["doctor", "scale", "--port", &sim.path, "--protocol", "toledo-8217"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line, format!("{}: 1250 g, stable, ok (toledo-8217, 9600 7E1)\n", sim.path));

    // A scale that never settles: nonzero, naming the port and what the scale said.
    let sim = start_sim(Mode::Toledo, Script { steady: toledo(b"?B"), ..Script::default() });
    let out = Command::new(bin)
        .args(["doctor", "scale", "--port", &sim.path, "--protocol", "toledo-8217", "--json", "--timeout", "0.6"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&sim.path) && err.contains("over capacity"), "{err}");
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------
// USB HID scales.

/// Recorded reports, then the device goes away.
struct Reports(VecDeque<Vec<u8>>);

impl ReportSource for Reports {
    fn read_report(&mut self, buf: &mut [u8], _timeout: Duration) -> io::Result<ReadOutcome> {
        match self.0.pop_front() {
            Some(r) => {
                buf[..r.len()].copy_from_slice(&r);
                Ok(ReadOutcome::Data(r.len()))
            }
            None => Ok(ReadOutcome::Closed),
        }
    }
}

#[test]
fn hid_scale_driver_over_recorded_reports() {
    let cfg: DeviceConfig = toml::from_str("id = \"scale-1\"\nkind = \"scale\"\ntransport = \"hid\"\npath = \"usb:0922:8003\"\nlane = \"lane-1\"\n").unwrap();
    assert_eq!(cfg.protocol(), Some(DeviceProtocol::HidScale));
    let health = HealthBoard::new();
    health.register(DeviceHealth::from_config(&cfg));
    let events = Mutex::new(Vec::new());
    let emit = |e: DeviceEvent| events.lock().unwrap().push(e);
    let stop = AtomicBool::new(false);
    let ctx = DriverCtx { device: &cfg, health: &health, clock: &SystemClock, stop: &stop, emit: &emit, store: None };
    let mut source = Reports(VecDeque::from([
        vec![0x03, 0x02, 0x02, 0x00, 0x00, 0x00], // stable at zero
        vec![0x03, 0x03, 0x02, 0x00, 0x10, 0x01], // in motion, 272 g
        vec![0x05, 0x00, 0x00],                   // not a data report: skipped
        vec![0x03, 0x04],                         // truncated
        vec![0x03, 0x06, 0x02, 0x00, 0xFF, 0xFF], // over weight
        vec![0x03, 0x04, 0x02, 0x00, 0xE8, 0x03], // 1000 g stable
        vec![0x03, 0x04, 0x0B, 0xFF, 0x2C, 0x01], // 30.0 oz stable → 850 g
    ]));
    assert!(matches!(scale::run_hid(&mut source, &ctx), DriverExit::Closed));
    let readings: Vec<WeightReading> = events.lock().unwrap().iter().map(Driver::reading).collect();
    assert_eq!(
        readings,
        vec![
            WeightReading { grams: 0, stable: true, state: WeightState::Ok },
            WeightReading { grams: 272, stable: false, state: WeightState::Motion },
            WeightReading { grams: 65_535, stable: false, state: WeightState::Overload },
            WeightReading { grams: 1000, stable: true, state: WeightState::Ok },
            WeightReading { grams: 850, stable: true, state: WeightState::Ok },
        ]
    );
    let h = health.get("scale-1").unwrap();
    assert_eq!(h.errors.get("bad_frame"), Some(&1));
    assert_eq!(h.events, 5);
}

// ---------------------------------------------------------------------------------------------
// The same driver over raw TCP (a scale behind a serial-to-Ethernet converter).

#[test]
fn mt_sics_over_tcp_runs_the_same_driver() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let (mut line, mut answered, mut buf) = (Vec::new(), 0, [0u8; 64]);
        while answered < 5 {
            let n = match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(_) => continue,
            };
            for &b in &buf[..n] {
                if b != b'\n' {
                    line.push(b);
                    continue;
                }
                assert_eq!(line, b"SI\r");
                line.clear();
                sock.write_all(b"S S      0.500 kg\r\n").unwrap();
                answered += 1;
            }
        }
        // Then the converter drops the connection.
    });
    let cfg: DeviceConfig = toml::from_str(&format!(
        "id = \"scale-1\"\nkind = \"scale\"\ntransport = \"tcp\"\nprotocol = \"mt-sics\"\naddress = \"{address}\"\nlane = \"lane-1\"\n[scale]\n{FAST}\n"
    ))
    .unwrap();
    let health = HealthBoard::new();
    health.register(DeviceHealth::from_config(&cfg));
    let events = Mutex::new(Vec::new());
    let emit = |e: DeviceEvent| events.lock().unwrap().push(e);
    let stop = AtomicBool::new(false);
    let ctx = DriverCtx { device: &cfg, health: &health, clock: &SystemClock, stop: &stop, emit: &emit, store: None };
    let mut link = storehub::devices::transport::open_tcp("scale-1", &address, Duration::from_secs(2)).unwrap();
    assert!(matches!(scale::run(&mut link, &ctx), DriverExit::Closed));
    server.join().unwrap();
    let readings: Vec<WeightReading> = events.lock().unwrap().iter().map(Driver::reading).collect();
    assert!(readings.contains(&WeightReading { grams: 500, stable: true, state: WeightState::Ok }), "{readings:?}");
    assert!(!health.get("scale-1").unwrap().connected);
}
