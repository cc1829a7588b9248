//! Finding storehub shelf nodes: a node's CDC serial port enumerates with
//! [`storehub_wire::USB_VID`]:[`storehub_wire::USB_PID`] and its node id (16 hex digits) as the
//! USB serial number. [`candidates`] reads sysfs (`<sys>/class/tty/*`, following each tty's
//! `device` link up to the USB device with `idVendor`/`idProduct`/`serial`) for such ports;
//! [`ask_hello`] opens one, sends `RequestHello` and reads the hello, which is what counts (a
//! serial number only orders the search). Used by `storehub doctor` and by a shelf device
//! configured with `[devices.shelf].node_id` instead of a path. The roots are injectable so tests
//! run on a fake sysfs tree; nothing here writes to sysfs or keeps a port open.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use storehub_wire::{encode_frame, Feed, FrameAccumulator, HubMsg, NodeMsg, MAX_FRAME_LEN, USB_PID, USB_VID};

use crate::config::SerialSettings;
use crate::devices::shelf::node::node_id_hex;
use crate::devices::transport::open_serial;

/// How long [`ask_hello`] waits for a node's hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(1);

/// How far up from a tty's `device` link the USB device directory may be (interface → device).
const MAX_PARENTS: usize = 4;

/// Where sysfs and the device nodes are: `/sys` and `/dev` on a box, a temp dir in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    pub sys: PathBuf,
    pub dev: PathBuf,
}

impl Roots {
    pub fn system() -> Roots {
        Roots { sys: PathBuf::from("/sys"), dev: PathBuf::from("/dev") }
    }
}

/// A tty whose USB device carries the nodes' vid:pid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The device node to open, e.g. `/dev/ttyACM0`.
    pub path: String,
    /// The USB serial number (a node's id in 16 hex digits), when the device has one.
    pub serial: Option<String>,
}

/// A node that answered with its hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundNode {
    pub path: String,
    /// 16 hex digits, as `[devices.shelf].node_id` takes it.
    pub node_id: String,
    pub firmware: String,
    pub channels: u8,
    pub protocol: u8,
}

/// A node id as the config and the USB serial number spell it (16 hex digits, either case).
pub fn parse_node_id(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u64::from_str_radix(s, 16).ok()).flatten()
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn read_hex16(path: &Path) -> Option<u16> {
    read_trimmed(path).and_then(|s| u16::from_str_radix(&s, 16).ok())
}

/// The device name of a tty from its `uevent` (`DEVNAME=ttyACM0`), else its directory name.
fn dev_name(tty_dir: &Path, name: &str) -> String {
    read_trimmed(&tty_dir.join("uevent"))
        .and_then(|u| u.lines().find_map(|l| l.strip_prefix("DEVNAME=").map(str::to_string)))
        .filter(|n| !n.is_empty() && !n.split('/').any(|part| part == ".."))
        .unwrap_or_else(|| name.to_string())
}

/// The ttys under `<sys>/class/tty` whose USB device has the nodes' vid:pid, in name order.
/// Ttys without a device (virtual consoles, ptys) and unreadable entries are skipped.
pub fn candidates(roots: &Roots) -> Result<Vec<Candidate>, String> {
    let class = roots.sys.join("class/tty");
    let entries = fs::read_dir(&class).map_err(|e| format!("cannot list {}: {e}; node discovery needs sysfs", class.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let tty_dir = class.join(&name);
        let Ok(mut dir) = fs::canonicalize(tty_dir.join("device")) else { continue };
        for _ in 0..MAX_PARENTS {
            if dir.join("idVendor").is_file() {
                break;
            }
            match dir.parent() {
                Some(p) => dir = p.to_path_buf(),
                None => break,
            }
        }
        if read_hex16(&dir.join("idVendor")) != Some(USB_VID) || read_hex16(&dir.join("idProduct")) != Some(USB_PID) {
            continue;
        }
        let path = roots.dev.join(dev_name(&tty_dir, &name)).to_string_lossy().into_owned();
        out.push(Candidate { path, serial: read_trimmed(&dir.join("serial")).filter(|s| !s.is_empty()) });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Opens `path`, asks for a hello and waits up to `timeout` for it; other frames are skipped.
/// `Err` says what went wrong on which port.
pub fn ask_hello(path: &str, timeout: Duration) -> Result<FoundNode, String> {
    let mut port = open_serial("discovery", path, &SerialSettings::default(), Duration::from_millis(50)).map_err(|e| e.to_string())?;
    let mut buf = [0u8; MAX_FRAME_LEN];
    let frame = encode_frame(&HubMsg::RequestHello, &mut buf).map_err(|e| format!("{path}: cannot encode a hello request: {e}"))?;
    port.write_all(frame).and_then(|_| port.flush()).map_err(|e| format!("{path}: cannot write: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
    let mut chunk = [0u8; 128];
    while Instant::now() < deadline {
        let n = match port.read(&mut chunk) {
            Ok(0) => return Err(format!("{path}: closed before a hello")),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => 0,
            Err(e) => return Err(format!("{path}: cannot read: {e}")),
        };
        let mut window = &chunk[..n];
        loop {
            match acc.feed::<NodeMsg>(window) {
                Feed::Consumed => break,
                Feed::Message(NodeMsg::Hello { protocol, node_id, fw_version, channels }, _) => {
                    return Ok(FoundNode { path: path.to_string(), node_id: node_id_hex(node_id), firmware: fw_version.to_string(), channels, protocol });
                }
                Feed::Message(_, rest) | Feed::Error(_, rest) => window = rest,
            }
        }
    }
    Err(format!("{path}: no hello within {} ms; the port has a node's USB id but did not answer (old firmware, or busy in its bootloader?)", timeout.as_millis()))
}

/// Every node found: the hellos, and for each candidate that did not answer, why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Discovery {
    pub nodes: Vec<FoundNode>,
    /// (path, why) for ports with a node's USB id that gave no hello.
    pub silent: Vec<(String, String)>,
}

/// Asks every candidate for its hello.
pub fn discover(roots: &Roots, timeout: Duration) -> Result<Discovery, String> {
    let mut d = Discovery::default();
    for c in candidates(roots)? {
        match ask_hello(&c.path, timeout) {
            Ok(n) => d.nodes.push(n),
            Err(e) => d.silent.push((c.path, e)),
        }
    }
    Ok(d)
}

/// The path of the node whose hello carries `node_id`. Ports whose USB serial number is that id
/// are asked first; a port that is already open (the node's own driver, another program) fails
/// to open and is passed over.
pub fn find_node(roots: &Roots, node_id: u64, timeout: Duration) -> Result<String, String> {
    let want = node_id_hex(node_id);
    let mut list = candidates(roots)?;
    list.sort_by_key(|c| !c.serial.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(&want)));
    let count = list.len();
    let mut others = Vec::new();
    for c in list {
        match ask_hello(&c.path, timeout) {
            Ok(n) if n.node_id == want => return Ok(c.path),
            Ok(n) => others.push(format!("{} is node {}", n.path, n.node_id)),
            Err(e) => others.push(e),
        }
    }
    let seen = if others.is_empty() { String::new() } else { format!(" ({})", others.join("; ")) };
    Err(format!(
        "no storehub node {want} among {count} USB serial port(s) with id {USB_VID:04x}:{USB_PID:04x}{seen}; check that it is plugged in (storehub doctor lists the nodes it finds)"
    ))
}

/// The discovery as a technician reads it (part of `storehub doctor`); `error` is why sysfs could
/// not be searched.
pub fn render(d: &Discovery, error: Option<&str>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Shelf nodes (USB {USB_VID:04x}:{USB_PID:04x}, {}):", d.nodes.len());
    if let Some(e) = error {
        let _ = writeln!(s, "  {e}");
    }
    for n in &d.nodes {
        let _ = writeln!(s, "  {}  node {}  firmware {}  {} channels   ← node_id = \"{}\" in [devices.shelf]", n.path, n.node_id, n.firmware, n.channels, n.node_id);
    }
    for (path, why) in &d.silent {
        let _ = writeln!(s, "  {path}  no hello: {why}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_16_hex_digits() {
        assert_eq!(parse_node_id("E6604CB02B3A1F25"), Some(0xE660_4CB0_2B3A_1F25));
        assert_eq!(parse_node_id("e6604cb02b3a1f25"), Some(0xE660_4CB0_2B3A_1F25));
        assert_eq!(parse_node_id("E6604CB02B3A1F2"), None, "15 digits");
        assert_eq!(parse_node_id("+6604CB02B3A1F25"), None, "a sign is not a digit");
        assert_eq!(parse_node_id("E6604CB02B3A1F2G"), None);
    }

    #[test]
    fn a_missing_sysfs_is_a_clear_error() {
        let roots = Roots { sys: PathBuf::from("/nonexistent-sys"), dev: PathBuf::from("/dev") };
        let e = candidates(&roots).unwrap_err();
        assert!(e.starts_with("cannot list /nonexistent-sys/class/tty:"), "{e}");
    }
}
