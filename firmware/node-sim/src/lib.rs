//! The storehub shelf node, simulated on the host: the real node core
//! ([`storehub_node_core::node::Node`], the code the RP2040 runs) over a simulated flash
//! ([`RamFlash`] of two 4 KiB sectors, optionally kept in a file across restarts), fed by
//! simulated HX711 load cells ([`LoadCell`]) at 10 (or 80) samples a second per channel, speaking
//! `storehub-wire` on a pseudo-terminal whose slave is reachable at a symlink — where the hub
//! opens it as it opens a real node's `/dev/serial/by-id/…` port. The hub's tests and
//! `storehub demo` use it; `storehub-node-sim` runs one by hand.
//!
//! It must never depend on the hub crate: the hub depends on it. It owns no protocol logic of
//! its own (that is the node core's); it only plays the board: samples, time, the USB port, the
//! flash chip, reboots and the boot ROM.
//!
//! # The board it plays
//! - Time: real time since the node (re)started drives `now_ms`; cell drift counts from
//!   [`SimNode::start`].
//! - Reboot ([`Effect::Reboot`]): the node is rebuilt over the same flash and started again (a
//!   new hello; [`SimNode::boots`] + 1). The pty stays.
//! - Enter bootloader ([`Effect::EnterBootloader`]) with [`SimConfig::boot_drive`] set: the pty
//!   closes and the link goes away (the CDC port vanishes), the drive directory appears with
//!   `INFO_UF2.TXT` as the RP2040 boot ROM shows it, and the simulator watches it for a `*.uf2`
//!   file. One that parses ([`storehub_uf2::Image::parse`]) and carries a firmware version tag
//!   ends the update: the drive goes away, the node boots with that version on a new pty at the
//!   same link. Any other file is ignored (logged to stderr), as the ROM ignores non-UF2 writes.
//!   Without a boot drive the node just reboots.
//! - Unplug / replug ([`SimNode::unplug`], [`SimNode::replug`]): the pty closes and the link goes
//!   (an open hub side reads EIO); a replug powers the node up again (new pty, new hello).
//!
//! # Scripts
//! What happens on the shelf over time, one step a line; `#` starts a comment; blank lines are
//! skipped. Times count from the start of the script.
//!
//! ```text
//! at TIME chN place GRAMS            # put GRAMS on channel N at TIME
//! at TIME chN take GRAMS             # take GRAMS off
//! at TIME chN set GRAMS              # the channel carries exactly GRAMS
//! every TIME chN take GRAMS [until G]   # first at TIME, then every TIME; with until, only while
//! every TIME chN place GRAMS [until G]  # the result does not pass G
//! ```
//!
//! TIME is `300ms`, `2s`, `2.5s` or `1.5min` (three decimals at most); N is 0..=3; GRAMS are whole
//! grams, with or without a `g` (`570`, `570g`). Example: ten bottles of water, a shopper every
//! 30 s until the shelf is empty, a restock after ten minutes:
//!
//! ```text
//! at 0s ch0 set 5700
//! every 30s ch0 take 570 until 0
//! at 10min ch0 set 5700
//! ```
//!
//! A parse error names the line and the word: `line 2, word "ch9": expected a channel ch0..ch3`.

pub mod cell;
pub mod pty;
pub mod script;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use storehub_node_core::flash::{RamFlash, Store};
use storehub_node_core::node::{Effect, Node, NodeConfig};
pub use storehub_wire::FwVersion;
use storehub_wire::MAX_CHANNELS;

pub use cell::LoadCell;
use cell::Noise;
use pty::Pty;
pub use script::{Script, ScriptError, ScriptRunner};

/// Bytes of simulated flash: the calibration store's two 4 KiB sectors.
pub const FLASH_LEN: usize = 8192;

/// The flash the simulated node keeps its calibrations in.
pub type SimFlash = RamFlash<FLASH_LEN>;

/// Each channel's HX711 delivers this many samples a second by default (RATE pin low; 80 with it
/// high: [`SimConfig::samples_per_s`]).
pub const SAMPLES_PER_S: u16 = 10;

/// The firmware version a simulator announces unless told otherwise.
pub const DEFAULT_FW: FwVersion = FwVersion { major: 1, minor: 0, patch: 0 };

/// What `INFO_UF2.TXT` says on the RP2040 boot ROM's drive.
pub const INFO_UF2: &str = "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n";

/// How a simulated node is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// What the node announces as its flash unique id.
    pub node_id: u64,
    /// The firmware version it announces until a simulated update changes it.
    pub fw_version: FwVersion,
    /// Channels wired, 1..=4.
    pub channels: u8,
    /// The load cell on each channel (only the first `channels` are used).
    pub cells: [LoadCell; 4],
    /// The flash image persists here across simulator restarts (8 192 bytes; created on the first
    /// calibration).
    pub flash_file: Option<PathBuf>,
    /// Where the simulated RPI-RP2 drive appears while the node is in its bootloader.
    pub boot_drive: Option<PathBuf>,
    /// Seeds the cells' noise.
    pub seed: u64,
    /// Samples a second each channel's HX711 delivers: 10 (RATE pin low, the default) or 80
    /// (RATE high; the node core's filter settles eight times sooner, which tests use).
    pub samples_per_s: u16,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            node_id: 1,
            fw_version: DEFAULT_FW,
            channels: 1,
            cells: [LoadCell::default(); 4],
            flash_file: None,
            boot_drive: None,
            seed: 1,
            samples_per_s: SAMPLES_PER_S,
        }
    }
}

/// What the caller and the simulator's thread share.
struct Shared {
    grams: [AtomicI32; 4],
    fw: Mutex<FwVersion>,
    boots: AtomicU32,
    in_bootloader: AtomicBool,
    stop: AtomicBool,
    /// What the caller asked for ([`SimNode::unplug`] / [`SimNode::replug`]).
    want_plugged: AtomicBool,
    /// What the thread has done about it.
    plugged: AtomicBool,
}

/// A running simulated node. Dropping it stops its thread and removes its link.
pub struct SimNode {
    shared: Arc<Shared>,
    link: PathBuf,
    thread: Option<JoinHandle<()>>,
}

/// How long the node waits for the hub to read its last frames before its port vanishes into
/// the bootloader.
const ACK_DRAIN: Duration = Duration::from_millis(500);

/// How long [`SimNode::unplug`] and [`SimNode::replug`] wait for the thread to carry them out.
const PLUG_WAIT: Duration = Duration::from_secs(5);

impl SimNode {
    /// Creates the pty, points `link` at it (replacing what was there) and starts the node on a
    /// thread. Fails on a bad config, an unreadable flash file, or when the pty or link cannot be
    /// made; the message says which.
    pub fn start(link: &Path, config: SimConfig) -> io::Result<SimNode> {
        if !(1..=MAX_CHANNELS).contains(&config.channels) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("a node has 1 to {MAX_CHANNELS} channels, not {}", config.channels)));
        }
        if !matches!(config.samples_per_s, 10 | 80) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("an HX711 samples 10 or 80 times a second, not {}", config.samples_per_s)));
        }
        let image = match &config.flash_file {
            Some(file) => read_flash_file(file)?,
            None => Box::new([0xFF; FLASH_LEN]),
        };
        let pty = Pty::create(link)?;
        let shared = Arc::new(Shared {
            grams: Default::default(),
            fw: Mutex::new(config.fw_version),
            boots: AtomicU32::new(0),
            in_bootloader: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            want_plugged: AtomicBool::new(true),
            plugged: AtomicBool::new(true),
        });
        let board = Board {
            shared: Arc::clone(&shared),
            link: link.to_path_buf(),
            started: Instant::now(),
            noise: Noise::new(config.seed),
            saved: image.clone(),
            replug_failed: false,
            config,
        };
        let thread = std::thread::Builder::new()
            .name(format!("node-sim {}", link.display()))
            .spawn(move || board.run(image, pty))?;
        Ok(SimNode { shared, link: link.to_path_buf(), thread: Some(thread) })
    }

    /// Where the hub finds the node's port.
    pub fn link(&self) -> &Path {
        &self.link
    }

    /// What lies on `channel`'s cell now, grams (a channel past 3 is ignored).
    pub fn set_grams(&self, channel: u8, grams: i32) {
        if let Some(g) = self.shared.grams.get(usize::from(channel)) {
            g.store(grams, Ordering::Relaxed);
        }
    }

    /// Places (+) or takes off (−) `grams` on `channel`.
    pub fn add_grams(&self, channel: u8, grams: i32) {
        if let Some(g) = self.shared.grams.get(usize::from(channel)) {
            let _ = g.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| Some(now.saturating_add(grams)));
        }
    }

    /// What lies on `channel`'s cell now (0 for a channel past 3).
    pub fn grams(&self, channel: u8) -> i32 {
        self.shared.grams.get(usize::from(channel)).map_or(0, |g| g.load(Ordering::Relaxed))
    }

    /// The firmware version the node runs (changes after a simulated update).
    pub fn fw_version(&self) -> FwVersion {
        *self.shared.fw.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many times the node has started (1 after the first boot).
    pub fn boots(&self) -> u32 {
        self.shared.boots.load(Ordering::Relaxed)
    }

    /// Whether the node sits in its boot ROM waiting for a UF2 file.
    pub fn in_bootloader(&self) -> bool {
        self.shared.in_bootloader.load(Ordering::Relaxed)
    }

    /// Pulls the USB cable: the pty closes (the hub's open port reads EIO) and the link goes.
    /// Returns once done.
    pub fn unplug(&self) {
        self.plug(false);
    }

    /// Plugs it back in: the node powers up again on a new pty at the same link (a new hello).
    /// Returns once the link is there.
    pub fn replug(&self) {
        self.plug(true);
    }

    fn plug(&self, on: bool) {
        self.shared.want_plugged.store(on, Ordering::Relaxed);
        let deadline = Instant::now() + PLUG_WAIT;
        while self.shared.plugged.load(Ordering::Relaxed) != on && Instant::now() < deadline && !self.thread.as_ref().map_or(true, |t| t.is_finished()) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for SimNode {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_flash_file(file: &Path) -> io::Result<Box<[u8; FLASH_LEN]>> {
    match std::fs::read(file) {
        Ok(bytes) => {
            let len = bytes.len();
            let image: Box<[u8; FLASH_LEN]> = bytes.into_boxed_slice().try_into().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("flash image {} is {len} bytes, expected {FLASH_LEN} (two 4 KiB sectors); remove it to start with an erased flash", file.display()),
                )
            })?;
            Ok(image)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new([0xFF; FLASH_LEN])),
        Err(e) => Err(io::Error::new(e.kind(), format!("cannot read the flash image {}: {e}", file.display()))),
    }
}

/// Writes the image next to `file` and renames it over, so a crash never leaves half an image.
fn write_flash_file(file: &Path, image: &[u8; FLASH_LEN]) -> io::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, image)?;
    std::fs::rename(&tmp, file)
}

fn log(link: &Path, what: std::fmt::Arguments<'_>) {
    eprintln!("storehub-node-sim {}: {what}", link.display());
}

/// The node's state as the board sees it.
enum State {
    Running { node: Box<Node<SimFlash>>, pty: Pty, booted: Instant, next_sample_us: [u64; 4] },
    Bootloader { drive: Option<PathBuf>, watch: DriveWatch },
    Unplugged,
}

/// A file on the boot drive as last looked at: path, length, modification time.
type FileKey = (PathBuf, u64, Option<SystemTime>);

/// What the simulated boot ROM knows of its drive's files.
#[derive(Default)]
struct DriveWatch {
    /// Files as seen on the last look.
    seen: Vec<FileKey>,
    /// Files read and refused, as they were then (a changed file is read again).
    tried: Vec<FileKey>,
}

/// The simulator's thread: the board around the node.
struct Board {
    shared: Arc<Shared>,
    config: SimConfig,
    link: PathBuf,
    started: Instant,
    noise: Noise,
    /// The flash image last written to the flash file (or read from it).
    saved: Box<[u8; FLASH_LEN]>,
    /// A replug failed and was logged (logged once until one succeeds).
    replug_failed: bool,
}

impl Board {
    fn run(mut self, image: Box<[u8; FLASH_LEN]>, pty: Pty) {
        let mut state = self.boot(&image, pty);
        while !self.shared.stop.load(Ordering::Relaxed) {
            state = self.step(state);
        }
        if let State::Bootloader { drive: Some(d), .. } = &state {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    /// Powers the node up on `pty` over the flash `image`.
    fn boot(&mut self, image: &[u8; FLASH_LEN], mut pty: Pty) -> State {
        let mut flash = SimFlash::new();
        flash.bytes.copy_from_slice(image);
        let fw_version = *self.shared.fw.lock().unwrap_or_else(|e| e.into_inner());
        let config = NodeConfig { node_id: self.config.node_id, fw_version, channels: self.config.channels };
        let mut node = Box::new(Node::new(config, Store::new(flash, 0)));
        // Counted before the hello goes out, so whoever sees the hello sees the boot counted.
        self.shared.boots.fetch_add(1, Ordering::Relaxed);
        self.shared.in_bootloader.store(false, Ordering::Relaxed);
        self.shared.plugged.store(true, Ordering::Relaxed);
        node.start(0, &mut |frame: &[u8]| {
            pty.write_frame(frame);
        });
        let period = self.sample_period_us();
        State::Running { node, pty, booted: Instant::now(), next_sample_us: [period; 4] }
    }

    fn step(&mut self, state: State) -> State {
        let want_plugged = self.shared.want_plugged.load(Ordering::Relaxed);
        match state {
            State::Unplugged if want_plugged => match Pty::create(&self.link) {
                Ok(pty) => {
                    self.replug_failed = false;
                    let image = self.saved.clone();
                    self.boot(&image, pty)
                }
                Err(e) => {
                    if !self.replug_failed {
                        log(&self.link, format_args!("cannot plug back in: {e}; trying again every 100 ms"));
                        self.replug_failed = true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    State::Unplugged
                }
            },
            State::Unplugged => {
                std::thread::sleep(Duration::from_millis(5));
                State::Unplugged
            }
            other if !want_plugged => {
                if let State::Bootloader { drive: Some(d), .. } = &other {
                    let _ = std::fs::remove_dir_all(d);
                }
                drop(other);
                self.shared.in_bootloader.store(false, Ordering::Relaxed);
                self.shared.plugged.store(false, Ordering::Relaxed);
                State::Unplugged
            }
            State::Running { node, pty, booted, next_sample_us } => self.run_node(node, pty, booted, next_sample_us),
            State::Bootloader { drive, watch } => self.bootloader(drive, watch),
        }
    }

    /// One turn of the node's main loop: due samples, poll, bytes from the hub, the flash file,
    /// and the effect a command asked for.
    fn run_node(&mut self, mut node: Box<Node<SimFlash>>, mut pty: Pty, booted: Instant, mut next_sample_us: [u64; 4]) -> State {
        let now_us = booted.elapsed().as_micros() as u64;
        let now_ms = now_us / 1_000;
        let since_start_ms = self.started.elapsed().as_millis() as u64;
        let period = self.sample_period_us();
        for ch in 0..self.config.channels {
            let i = usize::from(ch);
            if now_us.saturating_sub(next_sample_us[i]) > 10 * period {
                // The thread was held up (a loaded machine): no burst of stale samples.
                next_sample_us[i] = now_us;
            }
            while next_sample_us[i] <= now_us {
                let cell = self.config.cells[i];
                let raw = cell.raw(self.shared.grams[i].load(Ordering::Relaxed), since_start_ms, self.noise.draw(cell.noise_counts));
                node.on_sample(ch, raw, now_ms);
                next_sample_us[i] += period;
            }
        }
        let mut out = |frame: &[u8]| {
            pty.write_frame(frame);
        };
        node.poll(now_ms, &mut out);
        let mut buf = [0u8; 256];
        let mut effect = None;
        match pty.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                let mut out = |frame: &[u8]| {
                    pty.write_frame(frame);
                };
                effect = node.on_bytes(&buf[..n], booted.elapsed().as_millis() as u64, &mut out);
            }
            Err(e) => {
                log(&self.link, format_args!("reading the pty failed: {e}"));
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.persist(&node);
        match effect {
            None => State::Running { node, pty, booted, next_sample_us },
            Some(Effect::Reboot) => self.reboot(node, pty),
            Some(Effect::EnterBootloader) => match self.config.boot_drive.clone() {
                None => self.reboot(node, pty),
                Some(drive) => {
                    drop(node);
                    // The ack reaches the hub before the port vanishes.
                    pty.drain(ACK_DRAIN);
                    drop(pty);
                    self.enter_bootloader(&drive)
                }
            },
        }
    }

    /// Microseconds between two samples of one channel (12 500 at 80 a second).
    fn sample_period_us(&self) -> u64 {
        1_000_000 / u64::from(self.config.samples_per_s.max(1))
    }

    fn reboot(&mut self, node: Box<Node<SimFlash>>, pty: Pty) -> State {
        let image = Box::new(node.store().flash().bytes);
        drop(node);
        self.boot(&image, pty)
    }

    /// Keeps `saved` (and the flash file) equal to the node's flash.
    fn persist(&mut self, node: &Node<SimFlash>) {
        let now = &node.store().flash().bytes;
        if now[..] == self.saved[..] {
            return;
        }
        self.saved.copy_from_slice(now);
        if let Some(file) = &self.config.flash_file {
            if let Err(e) = write_flash_file(file, &self.saved) {
                log(&self.link, format_args!("cannot save the flash image to {}: {e}; the calibration lasts until the simulator stops", file.display()));
            }
        }
    }

    /// The boot ROM's drive appears (made aside and renamed into place, so a watcher never sees
    /// it without its `INFO_UF2.TXT`).
    fn enter_bootloader(&mut self, drive: &Path) -> State {
        self.shared.in_bootloader.store(true, Ordering::Relaxed);
        let made = (|| -> io::Result<()> {
            let _ = std::fs::remove_dir_all(drive);
            let mut aside = drive.as_os_str().to_owned();
            aside.push(".mounting");
            let aside = PathBuf::from(aside);
            let _ = std::fs::remove_dir_all(&aside);
            std::fs::create_dir_all(&aside)?;
            std::fs::write(aside.join("INFO_UF2.TXT"), INFO_UF2)?;
            std::fs::rename(&aside, drive)
        })();
        match made {
            Ok(()) => {
                log(&self.link, format_args!("in the bootloader: copy a UF2 file into {}", drive.display()));
                State::Bootloader { drive: Some(drive.to_path_buf()), watch: DriveWatch::default() }
            }
            Err(e) => {
                log(&self.link, format_args!("cannot make the boot drive {}: {e}; the node stays in its bootloader until unplugged", drive.display()));
                State::Bootloader { drive: None, watch: DriveWatch::default() }
            }
        }
    }

    /// The boot ROM: waits for a UF2 file that parses and carries a version, then boots it.
    /// A file is read once it looks the same (length, modification time) on two looks in a row,
    /// so a copy still in progress is not taken for a bad file.
    fn bootloader(&mut self, drive: Option<PathBuf>, mut watch: DriveWatch) -> State {
        std::thread::sleep(Duration::from_millis(20));
        let Some(dir) = drive else { return State::Bootloader { drive: None, watch } };
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(_) => return State::Bootloader { drive: Some(dir), watch },
        };
        let previous = std::mem::take(&mut watch.seen);
        for entry in entries.flatten() {
            let path = entry.path();
            let is_uf2 = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("uf2"));
            let Ok(meta) = entry.metadata() else { continue };
            if !is_uf2 || !meta.is_file() {
                continue;
            }
            let key = (path.clone(), meta.len(), meta.modified().ok());
            watch.seen.push(key.clone());
            if watch.tried.contains(&key) || !previous.contains(&key) {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let version = match storehub_uf2::Image::parse(&bytes) {
                Ok(image) => match image.fw_version() {
                    Some((major, minor, patch)) => Some(FwVersion { major, minor, patch }),
                    None => {
                        log(&self.link, format_args!("{}: a UF2 image without the storehub firmware tag; ignored, still in the bootloader", path.display()));
                        None
                    }
                },
                Err(e) => {
                    log(&self.link, format_args!("{}: not a UF2 image the boot ROM takes ({e}); ignored, still in the bootloader", path.display()));
                    None
                }
            };
            watch.tried.retain(|(p, ..)| p != &path);
            watch.tried.push(key);
            let Some(version) = version else { continue };
            let _ = std::fs::remove_dir_all(&dir);
            *self.shared.fw.lock().unwrap_or_else(|e| e.into_inner()) = version;
            log(&self.link, format_args!("flashed firmware {version}; booting"));
            return match Pty::create(&self.link) {
                Ok(pty) => {
                    let image = self.saved.clone();
                    self.boot(&image, pty)
                }
                Err(e) => {
                    log(&self.link, format_args!("cannot make the node's port again: {e}; unplug and replug it"));
                    State::Bootloader { drive: None, watch: DriveWatch::default() }
                }
            };
        }
        State::Bootloader { drive: Some(dir), watch }
    }
}
