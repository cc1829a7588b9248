//! Shelf sensors end to end. A storehub node simulator on the master side of a pseudo-terminal
//! speaks the real wire protocol (hello, readings, heartbeats, acks, and garbage, wrong-CRC and
//! overlong frames) to the driver, which opens the slave by path as it opens a real port; the
//! node is unplugged (the master closed) and plugged in again on a fresh pty; that node is
//! written by hand here to test the driver's framing and errors. The device manager's entry point
//! runs against `storehub-node-sim` (the real node core on a pty). An HX711 and a
//! beam input run through the simulated pin bank. The tracker turns readings into
//! `storehub.shelf.*` outbox events in a real store, exactly once per change.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::json;
use serialport::TTYPort;
use storehub::clock::SystemClock;
use storehub::config::DeviceConfig;
use storehub::devices::discover::{candidates, discover, find_node, Roots};
use storehub::devices::health::{DeviceHealth, HealthBoard};
use storehub::devices::shelf::hx711::{self, Gain};
use storehub::devices::shelf::node::{CommandError, MAX_QUEUED};
use storehub::devices::shelf::tracker::{ShelfError, EVENT_SHELF_EMPTY, EVENT_SHELF_LOW, EVENT_SHELF_PICKED, EVENT_SHELF_RESTOCKED};
use storehub::devices::shelf::{run_beam, run_hx711, run_node_with, NodeCommands, Shelves};
use storehub::devices::transport::gpio::SimPins;
use storehub::devices::transport::open_serial;
use storehub::devices::{DeviceEvent, DriverCtx, DriverExit};
use storehub::domain::shelf::ShelfChange;
use storehub_wire::{encode_frame, AckCode, Feed, FrameAccumulator, FwVersion, HubMsg, NodeMsg, MAX_FRAME_LEN, PROTOCOL_VERSION};

use common::*;

const WAIT: Duration = Duration::from_secs(15);

fn device(toml_text: &str) -> DeviceConfig {
    match toml::from_str(toml_text) {
        Ok(d) => d,
        Err(e) => panic!("bad test device config: {e}"),
    }
}

/// Health, collected events and the stop flag a driver run shares with the test.
struct Rig {
    cfg: DeviceConfig,
    health: HealthBoard,
    events: Mutex<Vec<DeviceEvent>>,
    stop: Arc<AtomicBool>,
}

impl Rig {
    fn new(cfg: DeviceConfig) -> Rig {
        let health = HealthBoard::new();
        health.register(DeviceHealth::from_config(&cfg));
        Rig { cfg, health, events: Mutex::new(Vec::new()), stop: Arc::new(AtomicBool::new(false)) }
    }

    fn run<R>(&self, f: impl FnOnce(&DriverCtx) -> R) -> R {
        let emit = |ev: DeviceEvent| self.events.lock().unwrap().push(ev);
        let ctx = DriverCtx { device: &self.cfg, health: &self.health, clock: &SystemClock, stop: &self.stop, emit: &emit, store: None };
        f(&ctx)
    }

    fn health(&self) -> DeviceHealth {
        self.health.get(self.cfg.id.as_str()).unwrap()
    }

    fn errors(&self, kind: &str) -> u64 {
        self.health().errors.get(kind).copied().unwrap_or(0)
    }

    /// (channel, grams, stable) of every shelf weight so far.
    fn weights(&self) -> Vec<(u8, i64, bool)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                DeviceEvent::ShelfWeight { channel, grams, stable, .. } => Some((*channel, *grams, *stable)),
                _ => None,
            })
            .collect()
    }
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    common::wait_until(what, WAIT, cond)
}

fn frame(msg: &NodeMsg) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    encode_frame(msg, &mut buf).unwrap().to_vec()
}

fn hello(protocol: u8, node_id: u64) -> NodeMsg {
    NodeMsg::Hello { protocol, node_id, fw_version: FwVersion { major: 1, minor: 4, patch: 2 }, channels: 2 }
}

enum Sim {
    Send(Vec<u8>),
    Unplug,
}

/// A storehub node on the master side of a pty: answers RequestHello with its hello, Tare,
/// Identify and Reboot with an ok ack, Calibrate with an ok ack for a positive weight and
/// `bad_value` otherwise (and `storage_failed` for 7 777 g, a flash that failed, `not_stable` for
/// 3 333 g, a weight still swinging), SetSampleRate with ok for 1..=10 per second, anything else with
/// `unknown_command`; writes
/// whatever the test sends; closes the master on `Unplug`. Returns the commands it received.
fn node_sim(mut master: TTYPort, node_id: u64, rx: Receiver<Sim>) -> thread::JoinHandle<Vec<HubMsg>> {
    thread::spawn(move || {
        serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(10)).unwrap();
        let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match rx.try_recv() {
                Ok(Sim::Send(bytes)) => master.write_all(&bytes).unwrap(),
                Ok(Sim::Unplug) | Err(TryRecvError::Disconnected) => return got,
                Err(TryRecvError::Empty) => {}
            }
            let n = match master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => 0,
                Err(e) => panic!("node simulator read: {e}"),
            };
            let mut window = &buf[..n];
            loop {
                match acc.feed::<HubMsg>(window) {
                    Feed::Consumed => break,
                    Feed::Error(e, _) => panic!("the hub sent a bad frame: {e}"),
                    Feed::Message(cmd, rest) => {
                        window = rest;
                        got.push(cmd);
                        let answer = match cmd {
                            HubMsg::RequestHello => hello(PROTOCOL_VERSION, node_id),
                            HubMsg::Tare { seq, .. } => NodeMsg::Ack { command_seq: seq, ok: true, code: 0 },
                            HubMsg::Calibrate { seq, known_grams: 7777, .. } => NodeMsg::Ack { command_seq: seq, ok: false, code: AckCode::StorageFailed as u8 },
                            HubMsg::Calibrate { seq, known_grams: 3333, .. } => NodeMsg::Ack { command_seq: seq, ok: false, code: AckCode::NotStable as u8 },
                            HubMsg::Calibrate { seq, known_grams, .. } if known_grams > 0 => NodeMsg::Ack { command_seq: seq, ok: true, code: 0 },
                            HubMsg::Calibrate { seq, .. } => NodeMsg::Ack { command_seq: seq, ok: false, code: AckCode::BadValue as u8 },
                            HubMsg::Identify { seq, .. } | HubMsg::Reboot { seq } => NodeMsg::Ack { command_seq: seq, ok: true, code: 0 },
                            HubMsg::SetSampleRate { seq, per_s } => {
                                let ok = (1..=10).contains(&per_s);
                                NodeMsg::Ack { command_seq: seq, ok, code: if ok { 0 } else { AckCode::BadValue as u8 } }
                            }
                            other => NodeMsg::Ack { command_seq: other.seq().unwrap_or(0), ok: false, code: AckCode::UnknownCommand as u8 },
                        };
                        master.write_all(&frame(&answer)).unwrap();
                    }
                }
            }
        }
    })
}

/// A node simulator on a fresh pty: the slave (held open by the test, as a port the driver
/// opens by path), its path, the channel to the simulator and its thread.
fn pty_node(node_id: u64) -> (TTYPort, String, Sender<Sim>, thread::JoinHandle<Vec<HubMsg>>) {
    let (master, slave) = TTYPort::pair().unwrap();
    let path = serialport::SerialPort::name(&slave).unwrap();
    let (tx, rx) = mpsc::channel::<Sim>();
    (slave, path, tx, node_sim(master, node_id, rx))
}

fn node_config() -> DeviceConfig {
    device(
        "id = \"shelf-n1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"/dev/serial/by-id/usb-storehub_node_4242-if00\"\n\
         [shelf]\nheartbeat_timeout_ms = 400\n[[shelf.channels]]\nchannel = 0\nsku = \"SKU-010001\"\nunit_grams = 570\n",
    )
}

/// Opens the pty slave by path the way the daemon opens a node, and runs the driver.
fn drive(rig: &Rig, path: &str, cmds: &NodeCommands) -> DriverExit {
    let mut port = open_serial(rig.cfg.id.as_str(), path, &rig.cfg.serial_settings(), Duration::from_millis(50)).unwrap();
    rig.run(|ctx| run_node_with(&mut port, ctx, cmds))
}

#[test]
fn a_node_says_hello_sends_readings_survives_garbage_answers_commands_and_is_replugged() {
    let rig = Rig::new(node_config());
    let cmds = NodeCommands::new();
    let (slave, path, tx, sim) = pty_node(4242);
    let send = |tx: &Sender<Sim>, bytes: &[u8]| tx.send(Sim::Send(bytes.to_vec())).unwrap();

    thread::scope(|s| {
        let driver = s.spawn(|| drive(&rig, &path, &cmds));
        let _guard = StopOnDrop(&rig.stop);

        // The driver asks who is there; the node's hello fills in health.
        wait_for("the node's identity", || rig.health().firmware.is_some());
        let h = rig.health();
        assert_eq!(h.model.as_deref(), Some("storehub-node 0000000000001092 (2 channels)"));
        assert_eq!(h.firmware.as_deref(), Some("1.4.2"));
        assert!(h.connected);

        // Two readings, the first as worked bytes: seq 0, channel 0, 1 140 g, stable, raw 45 600.
        // Body 01 00 00 E8 11 01 C0 C8 05 (variant 1, seq 0, channel 0, zigzag 1140 = 2280 =
        // varint E8 11, true, zigzag 45600 = 91200 = varint C0 C8 05), CRC-32 0x0CBF7FDC
        // little-endian, COBS (codes 02, 01, 0B), 0x00.
        send(&tx, &[0x02, 0x01, 0x01, 0x0B, 0xE8, 0x11, 0x01, 0xC0, 0xC8, 0x05, 0xDC, 0x7F, 0xBF, 0x0C, 0x00]);
        send(&tx, &frame(&NodeMsg::Reading { seq: 1, channel: 1, grams: -12, stable: false, raw: 0 }));
        wait_for("two readings", || rig.weights().len() == 2);
        assert_eq!(rig.weights(), vec![(0, 1140, true), (1, -12, false)]);

        // Garbage that is not COBS, a heartbeat with one byte changed (CRC), 100 bytes without
        // a 0x00 (overlong), then a good reading: only the reading comes through, every bad
        // frame is counted by kind.
        send(&tx, &[0x13, 0x37, 0xFF, 0x00]);
        send(&tx, &[0x08, 0x02, 0xAD, 0x02, 0xB5, 0x9F, 0x79, 0x10, 0x00]);
        send(&tx, &[0x55; 100]);
        send(&tx, &[0x00]);
        send(&tx, &frame(&NodeMsg::Reading { seq: 2, channel: 0, grams: 570, stable: true, raw: 0 }));
        wait_for("the reading after the garbage", || rig.weights().len() == 3);
        assert_eq!(rig.weights()[2], (0, 570, true));
        assert_eq!((rig.errors("cobs"), rig.errors("crc"), rig.errors("overlong")), (1, 1, 1));

        // A reading for a channel the node does not have, and a lost reading (seq 3 missing).
        send(&tx, &frame(&NodeMsg::Reading { seq: 4, channel: 7, grams: 1, stable: true, raw: 0 }));
        send(&tx, &frame(&NodeMsg::Reading { seq: 5, channel: 1, grams: 250, stable: true, raw: 0 }));
        wait_for("reading 5", || rig.weights().len() == 4);
        assert_eq!((rig.errors("bad_channel"), rig.errors("seq_gap")), (1, 1));

        // Tare and calibrate, matched to their acks by sequence number.
        let tare = cmds.tare(0).unwrap();
        assert_eq!(cmds.wait(tare, WAIT), Ok(storehub::devices::shelf::node::Ack { ok: true, code: 0 }));
        let cal = cmds.calibrate(1, 0).unwrap();
        let ack = cmds.wait(cal, WAIT).unwrap();
        assert!(!ack.ok);
        assert_eq!(ack.reason(), Some(AckCode::BadValue));
        // An ack nobody waits for is counted.
        send(&tx, &frame(&NodeMsg::Ack { command_seq: 999, ok: true, code: 0 }));
        wait_for("the stray ack", || rig.errors("unexpected_ack") == 1);

        // Silence past heartbeat_timeout_ms (400 ms) shows no_heartbeat; a heartbeat clears it.
        wait_for("no_heartbeat", || rig.health().status.as_deref() == Some("no_heartbeat"));
        send(&tx, &frame(&NodeMsg::Heartbeat { uptime_s: 61 }));
        wait_for("the heartbeat", || rig.health().status.is_none());

        // A node speaking protocol 1 (the first, pre-release layout) is refused: counted, shown,
        // its readings ignored until a hello of this hub's protocol.
        send(&tx, &frame(&hello(1, 4242)));
        send(&tx, &frame(&NodeMsg::Reading { seq: 0, channel: 0, grams: 999, stable: true, raw: 0 }));
        wait_for("the refusal", || rig.health().status.as_deref() == Some("protocol_mismatch"));
        assert_eq!(rig.errors("protocol_version"), 1);
        send(&tx, &frame(&hello(PROTOCOL_VERSION, 4242)));
        send(&tx, &frame(&NodeMsg::Reading { seq: 0, channel: 0, grams: 1000, stable: true, raw: 0 }));
        wait_for("the reading after a good hello", || rig.weights().len() == 5);
        assert_eq!(rig.weights()[4], (0, 1000, true));

        // Unplug: the master closes, the driver returns Closed.
        tx.send(Sim::Unplug).unwrap();
        let exit = driver.join().unwrap();
        assert!(matches!(exit, DriverExit::Closed), "{exit:?}");
        assert!(!rig.health().connected);
    });
    let received = sim.join().unwrap();
    assert_eq!(received[0], HubMsg::RequestHello);
    assert!(received.contains(&HubMsg::Tare { seq: 1, channel: 0 }));
    assert!(received.contains(&HubMsg::Calibrate { seq: 2, channel: 1, known_grams: 0 }));
    drop(slave);

    // Replug: a fresh pty (a new /dev/pts path, as a replugged adapter may get), the same
    // driver and health entry.
    let (slave, path, tx, sim) = pty_node(4242);
    rig.stop.store(false, Ordering::Relaxed);
    thread::scope(|s| {
        let driver = s.spawn(|| drive(&rig, &path, &cmds));
        let _guard = StopOnDrop(&rig.stop);
        // Opening a port drops what was waiting in it; write once the driver holds it.
        wait_for("the driver to open the new port", || rig.health().connected);
        send(&tx, &frame(&NodeMsg::Reading { seq: 1, channel: 1, grams: 500, stable: true, raw: 0 }));
        wait_for("a reading after the replug", || rig.weights().len() == 6);
        assert_eq!(rig.weights()[5], (1, 500, true));
        let h = rig.health();
        assert!(h.connected);
        assert_eq!(h.reconnects, 1);
        // Stopping ends the driver within a read timeout.
        rig.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
        tx.send(Sim::Unplug).unwrap();
    });
    sim.join().unwrap();
    drop(slave);
}

/// The device manager's entry point opens a node by its configured path (the link of a
/// `storehub-node-sim` node: the real node core on a pty) and sends it the commands queued on the
/// registry's handle; an unplugged node ends the driver with `Closed`.
#[test]
fn a_node_reports_channel_health_and_raw_counts_and_takes_the_new_commands() {
    let rig = Rig::new(node_config());
    let cmds = NodeCommands::new();
    let (slave, path, tx, sim) = pty_node(4242);
    let send = |bytes: Vec<u8>| tx.send(Sim::Send(bytes)).unwrap();
    thread::scope(|s| {
        let driver = s.spawn(|| drive(&rig, &path, &cmds));
        let _guard = StopOnDrop(&rig.stop);
        wait_for("the node's identity", || rig.health().firmware.is_some());
        // Channel 0 fine and calibrated, weighing 1 140 g from a filtered count of 512 480;
        // channel 1 silent (no_data) with 12 timeouts: the device shows channel_1_no_data.
        send(frame(&NodeMsg::ChannelHealth { channel: 0, state: 0, calibrated: true, timeouts: 0, saturated: 0 }));
        send(frame(&NodeMsg::Reading { seq: 0, channel: 0, grams: 1140, stable: true, raw: 512_480 }));
        send(frame(&NodeMsg::ChannelHealth { channel: 1, state: 1, calibrated: false, timeouts: 12, saturated: 0 }));
        wait_for("channel 1's state", || rig.health().status.as_deref() == Some("channel_1_no_data"));
        let h = rig.health();
        assert_eq!(h.channels.len(), 2);
        let c0 = &h.channels[0];
        assert_eq!(c0.sku.as_deref(), Some("SKU-010001"), "the product mapped in the config");
        assert_eq!((c0.state.as_str(), c0.calibrated, c0.grams, c0.raw, c0.stable), ("ok", Some(true), Some(1140), Some(512_480), Some(true)));
        let c1 = &h.channels[1];
        assert_eq!((c1.state.as_str(), c1.calibrated, c1.timeouts, c1.grams), ("no_data", Some(false), 12, None));
        // Channel 1 comes back; channel 0 overloads: the status follows the worst channel.
        send(frame(&NodeMsg::ChannelHealth { channel: 1, state: 0, calibrated: false, timeouts: 12, saturated: 0 }));
        send(frame(&NodeMsg::ChannelHealth { channel: 0, state: 2, calibrated: true, timeouts: 0, saturated: 3 }));
        wait_for("channel 0 saturated", || rig.health().status.as_deref() == Some("channel_0_saturated"));
        // A state this hub does not know, health of a channel the node does not have: counted.
        send(frame(&NodeMsg::ChannelHealth { channel: 0, state: 9, calibrated: true, timeouts: 0, saturated: 3 }));
        send(frame(&NodeMsg::ChannelHealth { channel: 5, state: 0, calibrated: true, timeouts: 0, saturated: 0 }));
        wait_for("the bad health frames", || rig.errors("bad_channel_state") == 1 && rig.errors("bad_channel") == 1);
        assert_eq!(rig.health().channels[0].state, "unknown");
        assert_eq!(rig.health().status, None);
        // The new commands, acked by the node; a rate of 50 a second is refused with bad_value.
        for seq in [cmds.identify(10).unwrap(), cmds.set_sample_rate(5).unwrap(), cmds.reboot().unwrap()] {
            assert!(cmds.wait(seq, WAIT).unwrap().ok, "command {seq}");
        }
        let fast = cmds.wait(cmds.set_sample_rate(50).unwrap(), WAIT).unwrap();
        assert_eq!((fast.ok, fast.reason()), (false, Some(AckCode::BadValue)));
        // Code 6: the node could not store the calibration; the words say what to do.
        let cal = cmds.wait(cmds.calibrate(0, 7777).unwrap(), WAIT).unwrap();
        assert_eq!(cal.reason(), Some(AckCode::StorageFailed));
        assert!(cal.explain().1.contains("keeps the old one; try again"), "{:?}", cal.explain());
        // A node that rejected one of our frames says so; counted under its own kind.
        send(frame(&NodeMsg::FrameRejected { kind: 4, total: 2 }));
        wait_for("the rejected frame", || rig.errors("node_rejected_frame") == 1);
        assert!(rig.health().last_error.unwrap().contains("(crc); 2 since it booted"));
        // A new hello (the node rebooted) forgets the channels until the node reports them.
        send(frame(&hello(PROTOCOL_VERSION, 4242)));
        wait_for("the channels forgotten", || rig.health().channels.iter().all(|c| c.state == "unknown" && c.grams.is_none()));
        assert_eq!(rig.health().channels.iter().map(|c| (c.channel, c.sku.clone())).collect::<Vec<_>>(), vec![(0, Some("SKU-010001".to_string()))]);
        tx.send(Sim::Unplug).unwrap();
        assert!(matches!(driver.join().unwrap(), DriverExit::Closed));
    });
    let received = sim.join().unwrap();
    assert!(received.contains(&HubMsg::Identify { seq: 1, seconds: 10 }));
    assert!(received.contains(&HubMsg::Reboot { seq: 3 }));
    drop(slave);
}

/// A port that answers as another node than `[devices.shelf].node_id` (a node swapped between
/// the search and the open): refused as `wrong_node`, its readings ignored.
#[test]
fn a_hello_from_another_node_than_the_configured_id_is_refused() {
    let (slave, path, tx, sim) = pty_node(4242);
    // Built without validation, which would refuse path and node_id together: the driver gets
    // the id the search was for.
    let rig = Rig::new(device("id = \"shelf-id\"\nkind = \"shelf\"\ntransport = \"serial\"\n[shelf]\nnode_id = \"E6604CB02B3A1F25\"\n"));
    let cmds = NodeCommands::new();
    thread::scope(|s| {
        let driver = s.spawn(|| drive(&rig, &path, &cmds));
        let _guard = StopOnDrop(&rig.stop);
        wait_for("the refusal", || rig.health().status.as_deref() == Some("wrong_node"));
        assert_eq!(rig.errors("wrong_node"), 1);
        let last = rig.health().last_error.unwrap();
        assert!(last.contains("answers as node 0000000000001092, but [devices.shelf].node_id is E6604CB02B3A1F25"), "{last}");
        tx.send(Sim::Send(frame(&NodeMsg::Reading { seq: 0, channel: 0, grams: 5, stable: true, raw: 0 }))).unwrap();
        tx.send(Sim::Send(frame(&NodeMsg::Heartbeat { uptime_s: 1 }))).unwrap();
        thread::sleep(Duration::from_millis(200));
        assert!(rig.weights().is_empty(), "readings of the wrong node are ignored");
        assert_eq!(rig.health().model, None);
        tx.send(Sim::Unplug).unwrap();
        assert!(matches!(driver.join().unwrap(), DriverExit::Closed));
    });
    sim.join().unwrap();
    drop(slave);
}

#[test]
fn the_manager_entry_point_opens_a_node_by_its_configured_path() {
    let dir = tempfile::tempdir().unwrap();
    let sim_config = storehub_node_sim::SimConfig { node_id: 77, channels: 2, samples_per_s: 80, ..Default::default() };
    let node = storehub_node_sim::SimNode::start(&dir.path().join("shelf-n2"), sim_config).unwrap();
    let cfg = device(&format!("id = \"shelf-n2\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"{}\"\n", node.link().display()));
    let rig = Rig::new(cfg.clone());
    thread::scope(|s| {
        let driver = s.spawn(|| rig.run(|ctx| storehub::devices::shelf::drive(&cfg, ctx)));
        let _guard = StopOnDrop(&rig.stop);
        wait_for("the hello", || rig.health().model.as_deref() == Some("storehub-node 000000000000004D (2 channels)"));
        assert_eq!(rig.health().firmware.as_deref(), Some("1.0.0"));
        // The node takes a tare once channel 1 has settled (8 000 counts, uncalibrated). An
        // uncalibrated channel's readings reach health, not the tracker.
        let channel_1 = || rig.health().channels.into_iter().find(|c| c.channel == 1);
        wait_for("a stable reading of channel 1", || channel_1().is_some_and(|c| c.stable == Some(true) && c.calibrated == Some(false)));
        assert!(rig.weights().is_empty(), "uncalibrated readings are not shelf weights: {:?}", rig.weights());
        // Commands queued on the registry's handle reach this node.
        let cmds = storehub::devices::shelf::node_commands("shelf-n2");
        let seq = cmds.tare(1).unwrap();
        assert_eq!(cmds.wait(seq, WAIT), Ok(storehub::devices::shelf::node::Ack { ok: true, code: 0 }));
        // Tared: channel 1 now reads 0 give or take its ±20 counts of noise (1 count = 1 g
        // before calibration).
        wait_for("channel 1 at zero", || channel_1().is_some_and(|c| c.stable == Some(true) && c.grams.is_some_and(|g| g.abs() <= 20)));
        node.unplug();
        assert!(matches!(driver.join().unwrap(), Ok(DriverExit::Closed)));
    });
    // GPIO devices off a Pi fail to open with a message that says so.
    let hx = device("id = \"shelf-a9\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"hx711\"\npins = [5, 6]\n");
    if !std::path::Path::new("/dev/gpiomem").exists() {
        let rig = Rig::new(hx.clone());
        let err = rig.run(|ctx| storehub::devices::shelf::drive(&hx, ctx)).err().unwrap();
        assert!(err.contains("no GPIO on this machine (not a Raspberry Pi?)"), "{err}");
    }
}

/// The devices page over HTTP with a node on a pty behind its real driver: the channel table,
/// the guided calibration (tare, a refused calibration while the weight moves, a good one), and
/// identify / sample rate / reboot through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_devices_page_guides_a_calibration_and_shows_the_node_s_answers() {
    let shop = common::web::WebShop::start().await;
    let tech = shop.login("tech1", None).await;
    let (slave, path, tx, sim) = pty_node(0xE660_4CB0_2B3A_1F25);
    let cfg = device(&format!(
        "id = \"shelf-web\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"{path}\"\n[[shelf.channels]]\nchannel = 0\nsku = \"SKU-010001\"\nunit_grams = 570\n"
    ));
    let board = Arc::new(HealthBoard::new());
    board.register(DeviceHealth::from_config(&cfg));
    assert!(shop.state.ctx.devices.set(Arc::clone(&board)).is_ok());
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let (cfg, board, stop) = (cfg.clone(), Arc::clone(&board), Arc::clone(&stop));
        thread::spawn(move || {
            let mut port = open_serial("shelf-web", &path, &cfg.serial_settings(), Duration::from_millis(50)).unwrap();
            let emit = |_: DeviceEvent| {};
            let ctx = DriverCtx { device: &cfg, health: &board, clock: &SystemClock, stop: &stop, emit: &emit, store: None };
            run_node_with(&mut port, &ctx, &storehub::devices::shelf::node_commands("shelf-web"))
        })
    };
    let health = || board.get("shelf-web").unwrap();
    let until = Instant::now() + WAIT;
    while health().firmware.is_none() {
        assert!(Instant::now() < until, "no hello");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Channel 0 not calibrated yet, 12 g from a raw count of 8 412.
    tx.send(Sim::Send(frame(&NodeMsg::ChannelHealth { channel: 0, state: 0, calibrated: false, timeouts: 0, saturated: 0 }))).unwrap();
    tx.send(Sim::Send(frame(&NodeMsg::Reading { seq: 0, channel: 0, grams: 12, stable: true, raw: 8_412 }))).unwrap();
    while health().channels[0].raw.is_none() {
        assert!(Instant::now() < until, "no reading");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let html = shop.get(&tech, "/devices").await.text().await.unwrap();
    for needle in ["storehub-node E6604CB02B3A1F25 (2 channels) / 1.4.2", "SKU-010001", "<td>8412</td>", "<td>12</td>", "清空货架", "已知重量（克）", "闪灯识别（10 秒）", "设置采样率", "重启节点"] {
        assert!(html.contains(needle), "the devices page lacks {needle:?}");
    }
    let form = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let mut v = vec![("_csrf", tech.csrf.clone())];
        v.extend(pairs.iter().map(|(k, x)| (*k, x.to_string())));
        v
    };
    let post = |cmd: &str, pairs: Vec<(&'static str, String)>| shop.http.post(shop.url(&format!("/devices/shelf-web/{cmd}"))).header("cookie", &tech.cookie).form(&pairs).send();
    // Step 1: tare the empty shelf; the page says the node acknowledged it.
    let res = post("tare", form(&[("channel", "0")])).await.unwrap();
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, "/devices?done=shelf-web%3Atare%3Aack");
    assert!(shop.get(&tech, &to).await.text().await.unwrap().contains("节点已确认"));
    // Step 2 while the weight still swings: the node answers not_stable, the page says to wait.
    let res = post("calibrate", form(&[("channel", "0"), ("known_grams", "3333")])).await.unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("重量还在变化，请稍候再按"));
    // Step 2 again once it settled: accepted.
    assert_eq!(post("calibrate", form(&[("channel", "0"), ("known_grams", "500")])).await.unwrap().status(), 303);
    // The API: identify and reboot are acked, a rate of 50 a second is refused before sending,
    // a calibration the node cannot store comes back in English words.
    for (cmd, body) in [("identify", json!({})), ("sample-rate", json!({ "per_s": 5 })), ("reboot", json!({}))] {
        let res = shop.post_json(&tech, &format!("/api/v1/devices/shelf-web/{cmd}"), &body).await;
        assert_eq!(res.status(), 200, "{cmd}");
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["acknowledged"], true, "{cmd}");
    }
    let bad = shop.post_json(&tech, "/api/v1/devices/shelf-web/sample-rate", &json!({ "per_s": 50 })).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<serde_json::Value>().await.unwrap()["field"], "per_s");
    let failed = shop.post_json(&tech, "/api/v1/devices/shelf-web/calibrate", &json!({ "channel": 0, "known_grams": 7777 })).await;
    assert_eq!(failed.status(), 409);
    let text = failed.text().await.unwrap();
    assert!(text.contains("keeps the old one; try again") && text.contains("(storage_failed)"), "{text}");
    stop.store(true, Ordering::Relaxed);
    assert!(matches!(driver.join().unwrap(), DriverExit::Stopped));
    tx.send(Sim::Unplug).unwrap();
    let got = sim.join().unwrap();
    assert!(got.contains(&HubMsg::Tare { seq: 1, channel: 0 }));
    assert!(got.contains(&HubMsg::Identify { seq: 4, seconds: 10 }));
    assert!(got.contains(&HubMsg::SetSampleRate { seq: 5, per_s: 5 }));
    assert!(got.contains(&HubMsg::Reboot { seq: 6 }));
    drop(slave);
}

// --- Discovery by USB id and hello, on a fake sysfs tree -------------------------------------

/// A fake `/sys` and `/dev` in a temp dir, laid out as Linux lays out a CDC-ACM port:
/// `sys/class/tty/NAME` links to `sys/devices/…/USBDEV/USBDEV:1.0/tty/NAME`, whose `device` link
/// is the interface dir; the USB device dir above it holds `idVendor`, `idProduct` and `serial`.
/// `dev/NAME` links to the pty slave the node simulator answers on.
struct FakeSys {
    dir: tempfile::TempDir,
}

impl FakeSys {
    fn new() -> FakeSys {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys/class/tty")).unwrap();
        std::fs::create_dir_all(dir.path().join("dev")).unwrap();
        FakeSys { dir }
    }

    fn roots(&self) -> Roots {
        Roots { sys: self.dir.path().join("sys"), dev: self.dir.path().join("dev") }
    }

    /// A tty `name` on USB device `usb` (e.g. "1-1.2") with `vid`, `pid` and `serial`, whose
    /// device node is `target` (a pty slave). `vid` None: a tty with no device (a console).
    fn tty(&self, name: &str, usb: &str, ids: Option<(&str, &str)>, serial: Option<&str>, target: &str) {
        let root = self.dir.path();
        let class = root.join("sys/class/tty").join(name);
        match ids {
            Some((vid, pid)) => {
                let usb_dir = root.join("sys/devices/platform/xhci/usb1").join(usb);
                let iface = usb_dir.join(format!("{usb}:1.0"));
                let tty_dir = iface.join("tty").join(name);
                std::fs::create_dir_all(&tty_dir).unwrap();
                std::fs::write(usb_dir.join("idVendor"), format!("{vid}\n")).unwrap();
                std::fs::write(usb_dir.join("idProduct"), format!("{pid}\n")).unwrap();
                if let Some(s) = serial {
                    std::fs::write(usb_dir.join("serial"), format!("{s}\n")).unwrap();
                }
                std::fs::write(tty_dir.join("uevent"), format!("MAJOR=166\nMINOR=0\nDEVNAME={name}\n")).unwrap();
                std::os::unix::fs::symlink("../..", tty_dir.join("device")).unwrap();
                std::os::unix::fs::symlink(&tty_dir, &class).unwrap();
            }
            None => std::fs::create_dir_all(&class).unwrap(),
        }
        std::os::unix::fs::symlink(target, root.join("dev").join(name)).unwrap();
    }
}

/// Two nodes on ptys behind a fake sysfs: ttyACM0 is node 0x1122334455667788 with its serial,
/// ttyACM1 is node 0xE6604CB02B3A1F25 on a USB device without a serial number; ttyUSB0 is an FTDI
/// adapter (0403:6001) and ttyS0 a console without a USB device, both passed over.
#[test]
fn nodes_are_discovered_by_usb_id_and_hello_and_a_device_finds_its_node_by_id() {
    const A: u64 = 0x1122_3344_5566_7788;
    const B: u64 = 0xE660_4CB0_2B3A_1F25;
    let fake = FakeSys::new();
    let (slave_a, path_a, tx_a, sim_a) = pty_node(A);
    let (slave_b, path_b, tx_b, sim_b) = pty_node(B);
    let (master_x, slave_x) = TTYPort::pair().unwrap();
    fake.tty("ttyACM0", "1-1.2", Some(("1209", "0001")), Some("1122334455667788"), &path_a);
    fake.tty("ttyACM1", "1-1.3", Some(("1209", "0001")), None, &path_b);
    fake.tty("ttyUSB0", "1-1.4", Some(("0403", "6001")), Some("A50285BI"), &serialport::SerialPort::name(&slave_x).unwrap());
    fake.tty("ttyS0", "", None, None, "/dev/null");
    let roots = fake.roots();
    let cands = candidates(&roots).unwrap();
    let dev = |n: &str| fake.dir.path().join("dev").join(n).to_string_lossy().into_owned();
    assert_eq!(cands.iter().map(|c| (c.path.clone(), c.serial.clone())).collect::<Vec<_>>(), vec![(dev("ttyACM0"), Some("1122334455667788".into())), (dev("ttyACM1"), None)]);

    let found = discover(&roots, Duration::from_secs(2)).unwrap();
    assert_eq!(found.silent, vec![]);
    let ids: Vec<(String, String, String, u8)> = found.nodes.iter().map(|n| (n.path.clone(), n.node_id.clone(), n.firmware.clone(), n.channels)).collect();
    assert_eq!(ids, vec![(dev("ttyACM0"), "1122334455667788".into(), "1.4.2".into(), 2), (dev("ttyACM1"), "E6604CB02B3A1F25".into(), "1.4.2".into(), 2)]);
    let text = storehub::devices::discover::render(&found, None);
    assert!(text.contains("node E6604CB02B3A1F25  firmware 1.4.2  2 channels"), "{text}");

    // A device configured by node id: the driver asks ttyACM0 (node A) and then ttyACM1, whose
    // hello carries B, and drives that port.
    assert_eq!(find_node(&roots, B, Duration::from_secs(2)), Ok(dev("ttyACM1")));
    let missing = find_node(&roots, 0xDEAD_BEEF, Duration::from_millis(300)).unwrap_err();
    assert!(missing.starts_with("no storehub node 00000000DEADBEEF among 2 USB serial port(s) with id 1209:0001"), "{missing}");
    assert!(missing.contains("is node 1122334455667788"), "{missing}");
    let cfg = device("id = \"shelf-b\"\nkind = \"shelf\"\ntransport = \"serial\"\n[shelf]\nnode_id = \"e6604cb02b3a1f25\"\n");
    let rig = Rig::new(cfg.clone());
    assert_eq!(rig.health().target, "node e6604cb02b3a1f25");
    thread::scope(|s| {
        let driver = s.spawn(|| rig.run(|ctx| storehub::devices::shelf::drive_with(&cfg, ctx, &roots)));
        let _guard = StopOnDrop(&rig.stop);
        wait_for("node B's hello through the driver", || rig.health().model.as_deref() == Some("storehub-node E6604CB02B3A1F25 (2 channels)"));
        assert_eq!(rig.errors("wrong_node"), 0);
        rig.stop.store(true, Ordering::Relaxed);
        assert!(matches!(driver.join().unwrap(), Ok(DriverExit::Stopped)));
    });
    // Node B unplugged: the search on reconnect fails with a message saying what to check.
    tx_b.send(Sim::Unplug).unwrap();
    sim_b.join().unwrap();
    drop(slave_b);
    rig.stop.store(false, Ordering::Relaxed);
    let err = rig.run(|ctx| storehub::devices::shelf::drive_with(&cfg, ctx, &roots)).unwrap_err();
    assert!(err.starts_with("device shelf-b: no storehub node E6604CB02B3A1F25 among 2 USB serial port(s)"), "{err}");
    assert!(err.ends_with("check that it is plugged in (storehub doctor lists the nodes it finds)"), "{err}");
    tx_a.send(Sim::Unplug).unwrap();
    sim_a.join().unwrap();
    drop((slave_a, slave_x, master_x));
}

#[test]
fn commands_queue_is_bounded_while_no_node_is_attached() {
    let cmds = NodeCommands::new();
    for _ in 0..MAX_QUEUED {
        cmds.tare(0).unwrap();
    }
    assert_eq!(cmds.tare(1), Err(CommandError::QueueFull));
}

// --- HX711 and beam through the simulated pin bank -------------------------------------------

fn hx711_config(extra: &str) -> DeviceConfig {
    device(&format!(
        "id = \"shelf-a1\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"hx711\"\npins = [5, 6]\n\
         [shelf]\nzero_counts = 8432\ncounts_per_kg = 421000\nsamples = 2\nsample_ms = 100\nstable_band_g = 5\nstable_readings = 2\n{extra}"
    ))
}

#[test]
fn an_hx711_reading_known_counts_emits_grams_with_stability_and_counts_a_silent_chip() {
    let rig = Rig::new(hx711_config(""));
    let mut pins = SimPins::new().with_hx711(5, 6);
    // Two conversions per reading (samples = 2), 421 counts per gram above 8 432.
    pins.push_hx711_a(&[
        8_432 + 105_250, 8_432 + 105_250, // 250 g
        8_432 + 105_671, 8_432 + 105_671, // 251 g
        8_432 - 4_210, 8_432 - 4_210, // −10 g
        8_432 - 4_210 - 842, 8_432 - 4_210, // mean 8 432 − 4 631: −11 g
    ]);
    // Four readings 100 ms apart, then the chip goes quiet; stop at 1 s of virtual time.
    pins.stop_at(1_000_000, rig.stop.clone());
    let exit = rig.run(|ctx| run_hx711(&mut pins, (5, 6), ctx));
    assert!(matches!(exit, DriverExit::Stopped), "{exit:?}");
    assert_eq!(rig.weights(), vec![(0, 250, false), (0, 251, true), (0, -10, false), (0, -11, true)]);
    // Every read took 25 pulses: channel A, gain 128.
    assert_eq!(pins.hx711_selections(), vec![25; 8]);
    assert_eq!(pins.hx711_power_downs(), 0);
    assert!(rig.errors("not_ready") >= 1);
    assert_eq!(rig.health().status.as_deref(), Some("not_ready"));
    assert_eq!(rig.health().events, 4);
}

#[test]
fn an_hx711_on_channel_b_selects_it_with_26_pulses() {
    let rig = Rig::new(hx711_config("gain = 32\n"));
    let mut pins = SimPins::new().with_hx711(5, 6);
    pins.push_hx711_a(&[0]); // the conversion after reset is channel A: read and dropped
    pins.push_hx711_b(&[8_432 + 421_000, 8_432 + 421_000]);
    pins.stop_at(150_000, rig.stop.clone());
    assert!(matches!(rig.run(|ctx| run_hx711(&mut pins, (5, 6), ctx)), DriverExit::Stopped));
    assert_eq!(rig.weights(), vec![(0, 1000, false)]);
    assert_eq!(pins.hx711_selections(), vec![26, 26, 26]);
    assert_eq!(hx711::gain_from_config(32), Some(Gain::B32));
}

#[test]
fn an_hx711_without_calibration_refuses_to_start_with_a_clear_message() {
    let rig = Rig::new(device("id = \"shelf-a1\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"hx711\"\npins = [5, 6]\n"));
    let mut pins = SimPins::new().with_hx711(5, 6);
    match rig.run(|ctx| run_hx711(&mut pins, (5, 6), ctx)) {
        DriverExit::Other(m) => assert!(m.contains("counts_per_kg is required"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(hx711::decode(0xFF_FFF6), -10);
}

#[test]
fn a_beam_input_is_debounced_before_it_counts() {
    let rig = Rig::new(device(
        "id = \"door-1\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"beam\"\npins = [17]\n[shelf]\nactive_low = true\ndebounce_ms = 20\n",
    ));
    let mut pins = SimPins::new();
    let ms = |m: u64| m * 1000;
    // Idle high (beam intact, active low). A 10 ms flicker at 100 ms; a real break at 200 ms
    // with contact bounce; back at 500 ms with bounce.
    pins.script_input(
        17,
        &[
            (0, true),
            (ms(100), false),
            (ms(104), true),
            (ms(106), false),
            (ms(110), true),
            (ms(200), false),
            (ms(203), true),
            (ms(205), false),
            (ms(500), true),
            (ms(502), false),
            (ms(505), true),
        ],
    );
    pins.stop_at(ms(800), rig.stop.clone());
    assert!(matches!(rig.run(|ctx| run_beam(&mut pins, 17, ctx)), DriverExit::Stopped));
    let seen: Vec<bool> = rig
        .events
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            DeviceEvent::Beam { pin: 17, active, .. } => *active,
            other => panic!("{other:?}"),
        })
        .collect();
    // The idle state once settled, the break, the return: the flicker and bounces are not events.
    assert_eq!(seen, vec![false, true, false]);
}

// --- the tracker, with a real store ------------------------------------------------------------

fn tracker_config() -> Vec<DeviceConfig> {
    vec![device(
        "id = \"shelf-a1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"/dev/serial/by-id/x\"\n\
         [[shelf.channels]]\nchannel = 0\nsku = \"SKU-010001\"\nunit_grams = 570\nlow_units = 3\n\
         [[shelf.channels]]\nchannel = 1\nsku = \"SKU-404404\"\nunit_grams = 250\n",
    )]
}

fn weight(channel: u8, grams: i64) -> DeviceEvent {
    DeviceEvent::ShelfWeight { device: "shelf-a1".into(), channel, grams, stable: true, at: opening_time() }
}

#[test]
fn shelf_readings_become_outbox_events_once_per_change_and_never_move_stock() {
    let shop = Shop::open();
    load(&shop.store, &[water()]);
    let before = newest_seq(&shop.store);
    let health = Arc::new(HealthBoard::new());
    for d in tracker_config() {
        health.register(DeviceHealth::from_config(&d));
    }
    let shelves = Shelves::from_config(&tracker_config()).with_health(health.clone());
    let feed = |grams: i64, times: usize| -> Vec<ShelfChange> {
        (0..times).flat_map(|_| shelves.handle(&shop.store, &weight(0, grams)).unwrap()).collect()
    };

    // 12 bottles of 570 g: the baseline, no event.
    assert_eq!(feed(6_852, 5), vec![]);
    assert_eq!(newest_seq(&shop.store), before);
    // Two picked (5 700 g), read ten times: one event.
    assert_eq!(feed(5_690, 10), vec![ShelfChange::ItemPicked { units: 2 }]);
    // Down to 3: picked 7 and low, in one commit.
    assert_eq!(feed(1_715, 10), vec![ShelfChange::ItemPicked { units: 7 }, ShelfChange::Low]);
    // Empty, then 24 restocked.
    assert_eq!(feed(4, 10), vec![ShelfChange::ItemPicked { units: 3 }, ShelfChange::Empty]);
    assert_eq!(feed(13_680, 10), vec![ShelfChange::Restocked { units: 24 }]);
    // An unstable reading of nothing (a hand lifting the tray) is not an event.
    let lifted = DeviceEvent::ShelfWeight { device: "shelf-a1".into(), channel: 0, grams: 0, stable: false, at: opening_time() };
    assert_eq!(shelves.handle(&shop.store, &lifted).unwrap(), vec![]);

    let events: Vec<_> = outbox(&shop.store).into_iter().filter(|e| e.seq > before).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    // The low shelf opened a restock task in the same commit, and the restock closed it
    // (`inventory::shelf_triggers`; tests/shelf_triggers.rs).
    use storehub::inventory::shelf_triggers::{EVENT_TASK_DONE, EVENT_TASK_OPENED};
    assert_eq!(
        types,
        vec![
            EVENT_SHELF_PICKED,
            EVENT_SHELF_PICKED,
            EVENT_SHELF_LOW,
            EVENT_TASK_OPENED,
            EVENT_SHELF_PICKED,
            EVENT_SHELF_EMPTY,
            EVENT_SHELF_RESTOCKED,
            EVENT_TASK_DONE
        ]
    );
    assert!(events.iter().all(|e| e.subject.as_deref() == Some("SKU-010001")));
    let low = events[2].data().unwrap();
    assert_eq!(low["on_shelf"], 3);
    assert_eq!(low["low_units"], 3);
    assert_eq!(low["grams"], 1_715);
    assert!(low.get("units").is_none());
    let picked = events[1].data().unwrap();
    assert_eq!((picked["units"].as_i64(), picked["channel"].as_i64(), picked["device"].as_str()), (Some(7), Some(0), Some("shelf-a1")));
    // Picked and low of one reading were written together.
    assert_eq!(events[1].time, events[2].time);

    // Shelf weights never change stock on-hand.
    assert_eq!(storehub::inventory::on_hand(&shop.store, "SKU-010001").unwrap(), 0);
    assert!(storehub::inventory::all_moves(&shop.store).unwrap().is_empty());

    // The dashboard's view.
    let state = shelves.shelf_state();
    assert_eq!(state.len(), 2);
    assert_eq!((state[0].on_shelf, state[0].last_grams, state[0].low, state[0].empty), (Some(24), Some(0), false, false));
    assert_eq!(state[1].on_shelf, None);

    // Channel 1 is mapped to a sku the catalog does not have: no event, a health error, and
    // the baseline is still taken (the first settled count writes nothing).
    let mut errors = 0;
    for grams in [1_000, 1_000, 500, 500, 500] {
        match shelves.handle(&shop.store, &weight(1, grams)) {
            Ok(changes) => assert!(changes.is_empty()),
            Err(ShelfError::UnknownSku { sku, channel: 1, .. }) => {
                assert_eq!(sku, "SKU-404404");
                errors += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(errors >= 1);
    assert_eq!(health.get("shelf-a1").unwrap().errors["unknown_sku"], errors);
    assert_eq!(outbox(&shop.store).into_iter().filter(|e| e.seq > before).count(), 8);
    // Events of unmapped channels and other kinds are ignored.
    assert_eq!(shelves.handle(&shop.store, &weight(9, 100)).unwrap(), vec![]);
}

// --- random bytes against the accumulator -------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever garbage came before, a 0x00 and then a good frame always give that frame.
    #[test]
    fn garbage_never_swallows_the_frame_after_the_next_zero(
        garbage in proptest::collection::vec(any::<u8>(), 0..300),
        split in 0usize..400,
        grams in any::<i32>(),
    ) {
        let msg = NodeMsg::Reading { seq: 9, channel: 1, grams, stable: true, raw: 0 };
        let mut stream = garbage.clone();
        stream.push(0);
        stream.extend(frame(&msg));
        let split = split.min(stream.len());
        let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
        let mut last = None;
        for part in [&stream[..split], &stream[split..]] {
            let mut window = part;
            loop {
                match acc.feed::<NodeMsg>(window) {
                    Feed::Consumed => break,
                    Feed::Message(m, rest) => { last = Some(m); window = rest; }
                    Feed::Error(_, rest) => window = rest,
                }
            }
        }
        prop_assert_eq!(last, Some(msg));
        prop_assert_eq!(acc.pending(), 0);
    }
}
