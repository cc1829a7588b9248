//! The simulator through its pty, as the hub sees it: the test opens the link like a serial port,
//! reads `storehub-wire` frames with the real `FrameAccumulator` and sends real command frames.
//! Covers the hello, uncalibrated readings (1 count = 1 gram), tare and calibration, the flash
//! file across simulator restarts, reboot, a firmware update through the simulated boot ROM
//! drive (and a bad file it ignores), and unplugging.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serialport::TTYPort;
use storehub_node_sim::{FwVersion, LoadCell, SimConfig, SimNode, INFO_UF2};
use storehub_wire::{encode_frame, Feed, FrameAccumulator, HubMsg, NodeMsg, MAX_FRAME_LEN, PROTOCOL_VERSION};

const WAIT: Duration = Duration::from_secs(15);

/// The hub's end of the line.
struct Hub {
    port: TTYPort,
    acc: FrameAccumulator<MAX_FRAME_LEN>,
    pending: Vec<u8>,
}

impl Hub {
    fn open(link: &Path) -> Hub {
        let deadline = Instant::now() + WAIT;
        loop {
            match serialport::new(link.to_string_lossy(), 115_200).timeout(Duration::from_millis(50)).open_native() {
                Ok(port) => return Hub { port, acc: FrameAccumulator::new(), pending: Vec::new() },
                Err(e) => assert!(Instant::now() < deadline, "cannot open {}: {e}", link.display()),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn send(&mut self, msg: &HubMsg) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let frame = encode_frame(msg, &mut buf).unwrap();
        self.port.write_all(frame).unwrap();
    }

    /// The next message, skipping nothing; `None` after `limit` without one.
    fn next(&mut self, limit: Duration) -> Option<NodeMsg> {
        let deadline = Instant::now() + limit;
        loop {
            let mut input = std::mem::take(&mut self.pending);
            let mut window = &input[..];
            while !window.is_empty() {
                match self.acc.feed::<NodeMsg>(window) {
                    Feed::Consumed => window = &[],
                    Feed::Message(msg, rest) => {
                        self.pending = rest.to_vec();
                        return Some(msg);
                    }
                    Feed::Error(e, rest) => panic!("a bad frame from the node: {e}; rest {rest:?}"),
                }
            }
            input.clear();
            if Instant::now() >= deadline {
                return None;
            }
            let mut buf = [0u8; 256];
            match self.port.read(&mut buf) {
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("reading the node: {e}"),
            }
        }
    }

    /// The first message `pick` accepts within [`WAIT`].
    fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&NodeMsg) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(msg) = self.next(Duration::from_millis(100)) {
                if let Some(t) = pick(&msg) {
                    return t;
                }
                seen.push(msg);
                if seen.len() > 8 {
                    seen.remove(0);
                }
            }
        }
        panic!("timed out waiting for {what}; last messages: {seen:?}")
    }

    /// A stable reading of `channel` whose raw count lies in `raw`: (grams, raw).
    fn stable_reading(&mut self, channel: u8, raw: std::ops::RangeInclusive<i32>) -> (i32, i32) {
        let what = format!("a stable reading of channel {channel} with raw in {raw:?}");
        self.wait_for(&what, |m| match *m {
            NodeMsg::Reading { channel: c, grams, stable: true, raw: r, .. } if c == channel && raw.contains(&r) => Some((grams, r)),
            _ => None,
        })
    }

    fn ack(&mut self, seq: u16) -> (bool, u8) {
        self.wait_for(&format!("the ack of command {seq}"), |m| match *m {
            NodeMsg::Ack { command_seq, ok, code } if command_seq == seq => Some((ok, code)),
            _ => None,
        })
    }

    fn hello(&mut self) -> (u64, FwVersion, u8) {
        self.wait_for("a hello", |m| match *m {
            NodeMsg::Hello { protocol, node_id, fw_version, channels } => {
                assert_eq!(protocol, PROTOCOL_VERSION);
                Some((node_id, fw_version, channels))
            }
            _ => None,
        })
    }
}

fn quiet_cell() -> LoadCell {
    LoadCell { counts_per_gram: 42, zero_counts: 8_000, noise_counts: 0, drift_counts_per_min: 0 }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_hello_carries_the_configured_identity() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig { node_id: 0xE660_3810_4B2F_9C21, fw_version: FwVersion { major: 1, minor: 2, patch: 3 }, channels: 3, ..SimConfig::default() };
    let node = SimNode::start(&dir.path().join("node"), config).unwrap();
    let mut hub = Hub::open(node.link());
    assert_eq!(hub.hello(), (0xE660_3810_4B2F_9C21, FwVersion { major: 1, minor: 2, patch: 3 }, 3));
    // Asked again (the hub reopened the port): the same hello.
    hub.send(&HubMsg::RequestHello);
    assert_eq!(hub.hello().0, 0xE660_3810_4B2F_9C21);
    assert_eq!((node.boots(), node.in_bootloader(), node.fw_version()), (1, false, FwVersion { major: 1, minor: 2, patch: 3 }));
}

#[test]
fn a_bad_config_or_flash_file_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let e = SimNode::start(&dir.path().join("node"), SimConfig { channels: 5, ..SimConfig::default() }).err().unwrap();
    assert_eq!(e.to_string(), "a node has 1 to 4 channels, not 5");
    let e = SimNode::start(&dir.path().join("node"), SimConfig { samples_per_s: 20, ..SimConfig::default() }).err().unwrap();
    assert_eq!(e.to_string(), "an HX711 samples 10 or 80 times a second, not 20");
    assert!(std::fs::symlink_metadata(dir.path().join("node")).is_err(), "no link for a refused config");
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, [0u8; 100]).unwrap();
    let e = SimNode::start(&dir.path().join("node"), SimConfig { flash_file: Some(flash.clone()), ..SimConfig::default() }).err().unwrap();
    assert_eq!(e.to_string(), format!("flash image {} is 100 bytes, expected 8192 (two 4 KiB sectors); remove it to start with an erased flash", flash.display()));
}

/// Uncalibrated, 1 count reads as 1 gram: the empty cell's 8 000 counts read 8 000 "grams",
/// 570 g read 570 × 42 + 8 000 = 31 940.
#[test]
fn uncalibrated_readings_are_the_raw_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig { cells: [quiet_cell(); 4], ..SimConfig::default() };
    let node = SimNode::start(&dir.path().join("node"), config).unwrap();
    let mut hub = Hub::open(node.link());
    assert_eq!(hub.stable_reading(0, 8_000..=8_000), (8_000, 8_000));
    node.add_grams(0, 570);
    assert_eq!(node.grams(0), 570);
    assert_eq!(hub.stable_reading(0, 31_940..=31_940), (31_940, 31_940));
}

/// Tare the empty shelf (≈ 8 000 counts), calibrate with 1 000 g (≈ 50 000 counts: 42 000 counts
/// for 1 000 g), then 570 g (≈ 31 940 counts) reads (31 940 − 8 000) × 1 000 / 42 000 = 570 g,
/// give or take the noise (±20 counts ≈ ±0.5 g before filtering). The calibration is in the
/// flash file: a new simulator on the same file reads 570 g without calibrating again.
#[test]
fn tare_and_calibrate_then_grams_and_the_calibration_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("node");
    let flash = dir.path().join("node-flash.bin");
    // 80 samples a second: the node's filter settles in about a second instead of five.
    let config = SimConfig { flash_file: Some(flash.clone()), seed: 42, samples_per_s: 80, ..SimConfig::default() };
    {
        let node = SimNode::start(&link, config.clone()).unwrap();
        let mut hub = Hub::open(node.link());
        hub.stable_reading(0, 7_950..=8_050);
        hub.send(&HubMsg::Tare { seq: 1, channel: 0 });
        assert_eq!(hub.ack(1), (true, 0));
        node.set_grams(0, 1_000);
        hub.stable_reading(0, 49_950..=50_050);
        hub.send(&HubMsg::Calibrate { seq: 2, channel: 0, known_grams: 1_000 });
        assert_eq!(hub.ack(2), (true, 0));
        node.set_grams(0, 570);
        let (grams, _) = hub.stable_reading(0, 31_890..=31_990);
        assert!((569..=571).contains(&grams), "570 g read {grams} g");
        node.set_grams(0, 0);
        let (grams, _) = hub.stable_reading(0, 7_950..=8_050);
        assert!((-1..=1).contains(&grams), "empty read {grams} g");
    }
    assert_eq!(std::fs::metadata(&flash).unwrap().len(), 8_192);
    assert!(std::fs::symlink_metadata(&link).is_err(), "the dropped simulator removed its link");
    let node = SimNode::start(&link, config).unwrap();
    node.set_grams(0, 570);
    let mut hub = Hub::open(node.link());
    let (grams, _) = hub.stable_reading(0, 31_890..=31_990);
    assert!((569..=571).contains(&grams), "after the restart 570 g read {grams} g");
    let calibrated = hub.wait_for("channel 0's health", |m| match *m {
        NodeMsg::ChannelHealth { channel: 0, calibrated, .. } => Some(calibrated),
        _ => None,
    });
    assert!(calibrated);
}

#[test]
fn a_reboot_says_hello_again_on_the_same_port() {
    let dir = tempfile::tempdir().unwrap();
    let node = SimNode::start(&dir.path().join("node"), SimConfig { node_id: 7, ..SimConfig::default() }).unwrap();
    let mut hub = Hub::open(node.link());
    assert_eq!(hub.hello().0, 7);
    hub.send(&HubMsg::Reboot { seq: 9 });
    assert_eq!(hub.ack(9), (true, 0));
    assert_eq!(hub.hello().0, 7);
    assert_eq!(node.boots(), 2);
}

/// A UF2 image as the build makes it: one 256-byte page at the start of flash carrying the
/// firmware tag and the version bytes.
fn uf2_with_version(v: [u8; 3]) -> Vec<u8> {
    let mut page = [0u8; storehub_uf2::PAYLOAD_LEN];
    page[..4].copy_from_slice(&[0x00, 0x20, 0x04, 0x20]);
    page[40..56].copy_from_slice(storehub_uf2::FW_TAG);
    page[56..59].copy_from_slice(&v);
    storehub_uf2::encode(&[(storehub_uf2::FLASH_START, page), (storehub_uf2::FLASH_START + 256, [0xAB; 256])])
}

/// Enter-bootloader: the port goes away and the RPI-RP2 drive appears; a file that is not a UF2
/// image, and a UF2 without the version tag, are ignored; the 1.1.0 image boots the node with
/// 1.1.0 on the same link, and the drive goes away.
#[test]
fn a_firmware_update_through_the_boot_drive() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("node");
    let drive = dir.path().join("media").join("RPI-RP2");
    let config = SimConfig { node_id: 99, boot_drive: Some(drive.clone()), ..SimConfig::default() };
    let node = SimNode::start(&link, config).unwrap();
    let mut hub = Hub::open(node.link());
    assert_eq!(hub.hello().1, FwVersion { major: 1, minor: 0, patch: 0 });
    hub.send(&HubMsg::EnterBootloader { seq: 3 });
    assert_eq!(hub.ack(3), (true, 0));
    wait_until("the bootloader", || node.in_bootloader());
    wait_until("the drive", || drive.join("INFO_UF2.TXT").exists());
    assert_eq!(std::fs::read_to_string(drive.join("INFO_UF2.TXT")).unwrap(), INFO_UF2);
    assert!(std::fs::symlink_metadata(&link).is_err(), "the CDC port vanished");
    // The hub's open port is dead.
    let mut buf = [0u8; 16];
    let dead = (0..100).find_map(|_| match hub.port.read(&mut buf) {
        Err(e) if e.kind() != std::io::ErrorKind::TimedOut => Some(e),
        _ => None,
    });
    assert!(dead.is_some(), "reads on the old port still time out instead of failing");

    // Not UF2, and UF2 without the tag: ignored.
    std::fs::write(drive.join("notes.uf2"), b"not a uf2 image").unwrap();
    let mut untagged = uf2_with_version([1, 1, 0]);
    untagged[32 + 40] = b'X';
    std::fs::write(drive.join("other.uf2"), &untagged).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(node.in_bootloader());
    assert!(drive.exists() && std::fs::symlink_metadata(&link).is_err());
    assert_eq!(node.boots(), 1);

    // A copy in progress: the first of two blocks, then the whole file.
    let good = uf2_with_version([1, 1, 0]);
    let file = drive.join("storehub-node-1.1.0.uf2");
    std::fs::write(&file, &good[..512]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(node.in_bootloader(), "half an image does not boot");
    std::fs::write(&file, &good).unwrap();
    wait_until("the node out of the bootloader", || !node.in_bootloader());
    let mut hub = Hub::open(&link);
    assert_eq!(hub.hello(), (99, FwVersion { major: 1, minor: 1, patch: 0 }, 1));
    assert_eq!((node.fw_version(), node.boots()), (FwVersion { major: 1, minor: 1, patch: 0 }, 2));
    assert!(!drive.exists(), "the drive went away with the reboot");
}

/// Without a boot drive, enter-bootloader is a reboot.
#[test]
fn without_a_boot_drive_enter_bootloader_reboots() {
    let dir = tempfile::tempdir().unwrap();
    let node = SimNode::start(&dir.path().join("node"), SimConfig::default()).unwrap();
    let mut hub = Hub::open(node.link());
    hub.hello();
    hub.send(&HubMsg::EnterBootloader { seq: 4 });
    assert_eq!(hub.ack(4), (true, 0));
    hub.hello();
    assert_eq!((node.boots(), node.in_bootloader()), (2, false));
}

/// Unplugged: the hub's open port fails and the link goes; plugged back in: a new hello on the
/// same link, the node's second boot.
#[test]
fn unplug_and_replug() {
    let dir = tempfile::tempdir().unwrap();
    let link: PathBuf = dir.path().join("node");
    let node = SimNode::start(&link, SimConfig::default()).unwrap();
    let mut hub = Hub::open(&link);
    hub.hello();
    node.unplug();
    assert!(std::fs::symlink_metadata(&link).is_err());
    let mut buf = [0u8; 16];
    let dead = (0..100).find_map(|_| match hub.port.read(&mut buf) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => None,
        Err(e) => Some(e),
    });
    assert!(dead.is_some(), "the unplugged port still reads");
    node.replug();
    let mut hub = Hub::open(&link);
    hub.hello();
    assert_eq!(node.boots(), 2);
}
