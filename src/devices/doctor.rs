//! `storehub doctor`: what hardware this box can see, for a technician provisioning it, and
//! whether each configured device answers. The inventory lists serial ports (with their stable
//! `/dev/serial/by-id` names, which the config should use), USB HID devices (vid:pid, usage
//! page, product), USB printers (`/dev/usb/lp*`), GPIO and storehub shelf nodes (found by USB
//! id and hello, [`super::discover`]). The checks open each `[[devices]]`
//! entry with the same transports and drivers the daemon uses and ask it for one sign of life:
//! a settled weight, a printer status (a test page only when asked), a scan (only when asked:
//! someone must scan), a shelf node's hello, a test text on a display. When a daemon runs on the
//! data dir it holds the devices exclusively, so its health board is shown instead.

use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::health::{DeviceHealth, HealthBoard};
use super::transport::{self, hid, ReadOutcome};
use super::{display, printer, scale, scanner, shelf, DeviceEvent, DriverCtx, DriverExit};
use crate::config::{DeviceConfig, DeviceKind, DeviceProtocol, Transport};

/// One serial port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SerialPort {
    /// `/dev/ttyUSB0`, `/dev/ttyACM0`, `/dev/ttyAMA0` …
    pub path: String,
    /// The stable names pointing at it (`/dev/serial/by-id/usb-FTDI_…`): use these in the config.
    pub by_id: Vec<String>,
    /// `usb 0403:6001 FTDI FT232R USB UART`, `pci`, `bluetooth`, `unknown`.
    pub kind: String,
}

/// What the GPIO header offers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpioInfo {
    pub available: bool,
    /// The board model when known, or why GPIO is not available.
    pub detail: String,
}

/// Everything attached that storehub could drive.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub serial: Vec<SerialPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_error: Option<String>,
    pub hid: Vec<super::transport::hid::HidInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hid_error: Option<String>,
    pub lp: Vec<String>,
    pub gpio: GpioInfo,
    /// storehub shelf nodes found by USB id and hello.
    pub nodes: super::discover::Discovery,
    /// Why sysfs could not be searched for nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_error: Option<String>,
}

/// Looks at the machine.
pub fn inventory() -> Inventory {
    let (serial, serial_error) = match serial_ports() {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (hid, hid_error) = super::transport::hid::list_hid();
    let (nodes, nodes_error) = match super::discover::discover(&super::discover::Roots::system(), super::discover::HELLO_TIMEOUT) {
        Ok(d) => (d, None),
        Err(e) => (Default::default(), Some(e)),
    };
    Inventory { serial, serial_error, hid, hid_error, lp: lp_devices(Path::new("/dev/usb")), gpio: gpio_info(), nodes, nodes_error }
}

fn serial_ports() -> Result<Vec<SerialPort>, String> {
    // serialport scans /sys/class/tty and panics when it is missing (some containers).
    if !Path::new("/sys/class/tty").is_dir() {
        return Err("/sys/class/tty is missing: cannot list serial ports here".into());
    }
    let by_id = links_into(Path::new("/dev/serial/by-id"));
    let ports = serialport::available_ports().map_err(|e| format!("cannot list serial ports: {e}"))?;
    let mut out: Vec<SerialPort> = ports
        .into_iter()
        .map(|p| {
            let kind = match &p.port_type {
                serialport::SerialPortType::UsbPort(u) => format!(
                    "usb {:04x}:{:04x} {} {}",
                    u.vid,
                    u.pid,
                    u.manufacturer.clone().unwrap_or_default(),
                    u.product.clone().unwrap_or_default()
                )
                .trim_end()
                .to_string(),
                serialport::SerialPortType::PciPort => "pci".into(),
                serialport::SerialPortType::BluetoothPort => "bluetooth".into(),
                serialport::SerialPortType::Unknown => "unknown".into(),
            };
            let names = by_id.iter().filter(|(_, target)| *target == p.port_name).map(|(l, _)| l.clone()).collect();
            SerialPort { path: p.port_name, by_id: names, kind }
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `(link, resolved target)` for each symlink in `dir`.
fn links_into(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let link = e.path();
            let target = std::fs::canonicalize(&link).ok()?;
            Some((link.to_string_lossy().into_owned(), target.to_string_lossy().into_owned()))
        })
        .collect();
    out.sort();
    out
}

/// `/dev/usb/lp*` character devices.
pub fn lp_devices(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("lp"))
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn gpio_info() -> GpioInfo {
    match rppal::system::DeviceInfo::new() {
        Ok(info) => GpioInfo { available: true, detail: format!("{}", info.model()) },
        Err(e) => GpioInfo { available: false, detail: format!("no Raspberry Pi GPIO here ({e}); HX711 and beam sensors need a Pi") },
    }
}

/// `usb:0c2e:0b87  /dev/hidraw0  usage page 0x008c usage 0x0002: bar code scanner (HID POS), "Xenon 1900"`
pub fn describe_hid(h: &super::transport::hid::HidInfo) -> String {
    let product = h.product.as_ref().map(|p| format!(", \"{p}\"")).unwrap_or_default();
    format!("{}  {}  usage page 0x{:04x} usage 0x{:04x}: {}{product}", h.usb_id(), h.path, h.usage_page, h.usage, h.role())
}

/// The inventory as a technician reads it.
pub fn render(inv: &Inventory) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Serial ports ({}):", inv.serial.len());
    if let Some(e) = &inv.serial_error {
        let _ = writeln!(s, "  {e}");
    }
    for p in &inv.serial {
        let _ = writeln!(s, "  {}  {}", p.path, p.kind);
        for l in &p.by_id {
            let _ = writeln!(s, "      {l}   ← use this path in [[devices]]");
        }
    }
    let _ = writeln!(s, "USB HID devices ({}):", inv.hid.len());
    if let Some(e) = &inv.hid_error {
        let _ = writeln!(s, "  {e}");
    }
    for h in &inv.hid {
        let _ = writeln!(s, "  {}", describe_hid(h));
    }
    let _ = writeln!(s, "USB printers ({}):", inv.lp.len());
    for l in &inv.lp {
        let _ = writeln!(s, "  {l}");
    }
    let _ = writeln!(s, "GPIO: {}", if inv.gpio.available { format!("yes, {}", inv.gpio.detail) } else { inv.gpio.detail.clone() });
    s.push_str(&super::discover::render(&inv.nodes, inv.nodes_error.as_deref()));
    s
}

/// What the technician asked the checks to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Print a test page on each printer (paper is used, so only when asked).
    pub print_test: bool,
    /// Wait up to this long for one scan from each scanner (someone must scan a code); `None`:
    /// scanners are only opened.
    pub scan: Option<Duration>,
    /// How long a scale, shelf sensor or printer has to answer.
    pub timeout: Duration,
    /// The store name printed on the test page.
    pub store_name: String,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { print_test: false, scan: None, timeout: Duration::from_secs(5), store_name: printer::cli::SAMPLE_STORE_NAME.to_string() }
    }
}

/// The result of checking one configured device.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeviceCheck {
    pub id: String,
    pub kind: String,
    pub protocol: String,
    pub transport: String,
    /// Path, `usb:VID:PID`, `host:port` or pins, as configured.
    pub target: String,
    pub ok: bool,
    /// What was read, or why not and what to check.
    pub detail: String,
}

/// What `storehub doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub inventory: Inventory,
    /// The configured devices, checked here (empty when a daemon answered or no config).
    pub devices: Vec<DeviceCheck>,
    /// The running daemon's device health, when one answered on the data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daemon: Option<Vec<DeviceHealth>>,
    /// A note on what was (not) checked: no config, a daemon holds the devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every configured device answered.
    pub ok: bool,
}

impl Report {
    /// How many configured devices did not answer.
    pub fn failures(&self) -> usize {
        match &self.daemon {
            Some(list) => list.iter().filter(|h| !daemon_device_ok(h)).count(),
            None => self.devices.iter().filter(|d| !d.ok).count(),
        }
    }
}

/// A device the daemon drives is fine when it is connected and has no condition to show.
fn daemon_device_ok(h: &DeviceHealth) -> bool {
    h.connected && h.status.is_none()
}

/// Runs `storehub doctor`: the inventory, then either the daemon's device health (when
/// `daemon` is `Some`: the caller asked the daemon on the data dir) or a check of each
/// configured device, all devices in parallel (each check is bounded by its timeout).
pub fn run(devices: Option<&[DeviceConfig]>, daemon: Option<Vec<DeviceHealth>>, opts: &CheckOptions) -> Report {
    let inventory = inventory();
    if let Some(list) = daemon {
        let ok = list.iter().all(daemon_device_ok);
        let note = Some("a storehub daemon runs on this data dir and holds the devices: its device health is shown instead of opening them (stop it to check them here)".to_string());
        return Report { inventory, devices: Vec::new(), daemon: Some(list), note, ok };
    }
    let Some(devices) = devices else {
        let note = Some("no config: only the hardware list is shown; pass --config FILE to check the [[devices]] it configures".to_string());
        return Report { inventory, devices: Vec::new(), daemon: None, note, ok: true };
    };
    let checks = std::thread::scope(|s| {
        let handles: Vec<_> = devices.iter().map(|d| s.spawn(|| check_device(d, opts))).collect();
        handles
            .into_iter()
            .zip(devices)
            .map(|(h, d)| h.join().unwrap_or_else(|_| check(d, false, "the check itself failed (a bug in storehub doctor); see the log".into())))
            .collect::<Vec<_>>()
    });
    let ok = checks.iter().all(|c| c.ok);
    let note = if devices.is_empty() { Some("the config has no [[devices]]".to_string()) } else { None };
    Report { inventory, devices: checks, daemon: None, note, ok }
}

fn target_of(cfg: &DeviceConfig) -> String {
    match cfg.transport {
        Transport::Tcp => cfg.address.clone().unwrap_or_default(),
        Transport::Gpio => format!("pins {:?}", cfg.pins),
        _ => cfg.path.clone().or_else(|| cfg.shelf.as_ref().and_then(|s| s.node_id.as_ref()).map(|n| format!("node {n}"))).unwrap_or_default(),
    }
}

fn check(cfg: &DeviceConfig, ok: bool, detail: String) -> DeviceCheck {
    DeviceCheck {
        id: cfg.id.as_str().to_string(),
        kind: cfg.kind.as_str().to_string(),
        protocol: cfg.protocol().map_or("(none)", |p| p.as_str()).to_string(),
        transport: cfg.transport.as_str().to_string(),
        target: target_of(cfg),
        ok,
        detail,
    }
}

/// Checks one configured device with the daemon's transports and drivers.
pub fn check_device(cfg: &DeviceConfig, opts: &CheckOptions) -> DeviceCheck {
    let (ok, detail) = match cfg.kind {
        DeviceKind::Scanner => check_scanner(cfg, opts),
        DeviceKind::Scale => check_scale(cfg, opts),
        DeviceKind::Printer => check_printer(cfg, opts),
        DeviceKind::Shelf => check_shelf(cfg, opts),
        DeviceKind::Display => check_display(cfg),
    };
    check(cfg, ok, detail)
}

/// Runs a driver loop until it emits an event that `wanted` accepts, `seen` says the health
/// board shows what was waited for, or `timeout` passes. Returns the event, how the driver
/// ended, and the device's health (input errors seen meanwhile).
fn drive_until(
    cfg: &DeviceConfig,
    timeout: Duration,
    wanted: &(dyn Fn(&DeviceEvent) -> bool + Sync),
    seen: &(dyn Fn(&DeviceHealth) -> bool + Sync),
    drive: &mut dyn FnMut(&DriverCtx) -> Result<DriverExit, String>,
) -> (Option<DeviceEvent>, Result<DriverExit, String>, Option<DeviceHealth>) {
    let health = HealthBoard::new();
    health.register(DeviceHealth::from_config(cfg));
    let clock = crate::clock::SystemClock;
    let stop = AtomicBool::new(false);
    let got: Mutex<Option<DeviceEvent>> = Mutex::new(None);
    let emit = |ev: DeviceEvent| {
        if wanted(&ev) {
            let mut g = got.lock().unwrap_or_else(|e| e.into_inner());
            g.get_or_insert(ev);
            stop.store(true, Ordering::Relaxed);
        }
    };
    let deadline = Instant::now() + timeout;
    let exit = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() >= deadline || health.get(cfg.id.as_str()).is_some_and(|h| seen(&h)) {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let ctx = DriverCtx { device: cfg, health: &health, clock: &clock, stop: &stop, emit: &emit, store: None };
        let exit = drive(&ctx);
        stop.store(true, Ordering::Relaxed);
        exit
    });
    let event = got.into_inner().unwrap_or_else(|e| e.into_inner());
    (event, exit, health.get(cfg.id.as_str()))
}

/// `; 3 input error(s): garbage 2, overlong 1 (last: …)` when the device sent bad input.
fn input_errors(h: Option<&DeviceHealth>) -> String {
    match h {
        Some(h) if h.error_count() > 0 => format!(
            "; {} input error(s): {}{}",
            h.error_count(),
            h.errors.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            h.last_error.as_ref().map(|e| format!(" (last: {e})")).unwrap_or_default()
        ),
        _ => String::new(),
    }
}

/// Why a driver loop ended early, as a failure detail; `None` when it was stopped (by us).
fn early_exit(exit: &Result<DriverExit, String>, target: &str) -> Option<String> {
    match exit {
        Ok(DriverExit::Stopped) => None,
        Ok(DriverExit::Closed) => Some(format!("{target} went away while reading (unplugged or switched off?)")),
        Ok(DriverExit::Io(e)) => Some(format!("reading {target}: {e}")),
        Ok(DriverExit::Other(e)) | Err(e) => Some(e.clone()),
    }
}

fn check_scanner(cfg: &DeviceConfig, opts: &CheckOptions) -> (bool, String) {
    let target = target_of(cfg);
    let hid = cfg.transport == Transport::Hid;
    // Open first: a device that cannot be opened fails at once, with or without --scan.
    let mut link = None;
    let mut source = None;
    if hid {
        match hid::open_hid(cfg) {
            Ok(s) => source = Some(s),
            Err(e) => return (false, e.to_string()),
        }
    } else {
        match transport::open_link(cfg, scanner::READ_TIMEOUT) {
            Ok(l) => link = Some(l),
            Err(e) => return (false, e.to_string()),
        }
    }
    let Some(wait) = opts.scan else {
        return (true, format!("opened {target}; pass --scan SECS and scan a barcode to see it read"));
    };
    let is_scan = |ev: &DeviceEvent| matches!(ev, DeviceEvent::Scan(_));
    let (event, exit, health) = drive_until(cfg, wait, &is_scan, &|_| false, &mut |ctx| {
        Ok(match (&mut link, &mut source) {
            (Some(l), _) => scanner::run_line(l.as_mut(), ctx),
            (_, Some(s)) => scanner::run_hid(s.as_mut(), ctx),
            _ => DriverExit::Other("nothing was opened".into()),
        })
    });
    let errors = input_errors(health.as_ref());
    match event {
        Some(DeviceEvent::Scan(s)) => {
            let sym = s.symbology.map(|x| format!(" (symbology {x})")).unwrap_or_default();
            (true, format!("scanned {:?}{sym}{errors}", s.code))
        }
        _ => match early_exit(&exit, &target) {
            Some(why) => (false, format!("{why}{errors}")),
            None => (
                false,
                format!(
                    "no code within {} s{errors}; scan a barcode while doctor waits, and check {}",
                    wait.as_secs_f64(),
                    if hid { "the scanner's USB mode (keyboard or HID POS) against protocol" } else { "the baud rate and [devices.scanner].terminator against the scanner's settings" }
                ),
            ),
        },
    }
}

fn check_scale(cfg: &DeviceConfig, opts: &CheckOptions) -> (bool, String) {
    let target = target_of(cfg);
    let protocol = cfg.protocol();
    if cfg.transport == Transport::Hid || protocol == Some(DeviceProtocol::HidScale) {
        let mut source = match hid::open_hid(cfg) {
            Ok(s) => s,
            Err(e) => return (false, e.to_string()),
        };
        return read_hid_scale(source.as_mut(), &target, opts.timeout);
    }
    let Some(protocol) = protocol else {
        return (false, format!("no protocol configured for {target}; set protocol = \"toledo-8217\", \"mt-sics\", \"cas\" or \"generic\""));
    };
    let mut link = match transport::open_link(cfg, Duration::from_millis(50)) {
        Ok(l) => l,
        Err(e) => return (false, e.to_string()),
    };
    match scale::read_settled(link.as_mut(), protocol, &cfg.scale_settings(), opts.timeout) {
        Ok(r) => (true, format!("weight {}", scale::describe_reading(&r))),
        Err(e) => (
            false,
            format!("{target} ({}): {e}; check the cable, the scale's interface settings (baud, data bits, parity) and protocol", protocol.as_str()),
        ),
    }
}

/// Reads HID scale reports until one carries a weight.
fn read_hid_scale(source: &mut dyn hid::ReportSource, target: &str, timeout: Duration) -> (bool, String) {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 64];
    let mut last = String::from("nothing");
    while Instant::now() < deadline {
        match source.read_report(&mut buf, Duration::from_millis(100)) {
            Ok(ReadOutcome::Data(n)) => match scale::hid_scale::decode_report(&buf[..n.min(buf.len())]) {
                Ok(Some(r)) => return (true, format!("weight {}", scale::describe_reading(&r))),
                Ok(None) => last = format!("a report with id {} (not a weight)", buf[0]),
                Err(e) => last = e.to_string(),
            },
            Ok(ReadOutcome::Idle) => {}
            Ok(ReadOutcome::Closed) => return (false, format!("{target} went away while reading (unplugged?)")),
            Err(e) => return (false, format!("reading {target}: {e}")),
        }
    }
    (false, format!("no weight report from {target} within {} s; the scale last sent {last}", timeout.as_secs_f64()))
}

fn check_printer(cfg: &DeviceConfig, opts: &CheckOptions) -> (bool, String) {
    let target = target_of(cfg);
    let mut link = match transport::open_link(cfg, Duration::from_secs(3)) {
        Ok(l) => l,
        Err(e) => return (false, e.to_string()),
    };
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    let mut ok = true;
    if printer::queries_status(cfg) {
        let timeout = printer::STATUS_TIMEOUT.max(opts.timeout.min(Duration::from_secs(2)));
        match printer::query_status(link.as_mut(), timeout, &mut |kind, detail| notes.push(format!("{kind}: {detail}"))) {
            Ok(s) if s.no_answer => {
                ok = false;
                parts.push(format!("no answer to DLE EOT from {target}; check that it is on and online, the cable, and the baud rate (or set [devices.printer].status_query = false for a printer that cannot answer)"));
            }
            Ok(s) => match s.condition() {
                None => parts.push("status ready".to_string()),
                Some("paper_near_end") => parts.push("status ready, paper near its end".to_string()),
                Some(c) => {
                    ok = false;
                    parts.push(format!("status {c}: fix the printer (paper, cover) and check again"));
                }
            },
            Err(e) => return (false, early_exit(&Ok(e), &target).unwrap_or_else(|| "stopped".into())),
        }
    } else {
        parts.push(format!("opened {target} (this transport does not answer status)"));
    }
    if opts.print_test {
        let s = cfg.printer_settings();
        let page = printer::render_test_page(&opts.store_name, printer::columns(&s));
        match page.encode().map_err(|e| e.to_string()).and_then(|b| link.write_all(&b).and_then(|()| link.flush()).map(|()| b.len()).map_err(|e| format!("sending the test page to {target}: {e}"))) {
            Ok(n) => parts.push(format!("test page sent ({n} bytes, {} columns)", page.columns)),
            Err(e) => {
                ok = false;
                parts.push(e);
            }
        }
    } else {
        parts.push("pass --print-test to print a test page".to_string());
    }
    if !notes.is_empty() {
        parts.push(format!("notes: {}", notes.join("; ")));
    }
    (ok, parts.join("; "))
}

fn check_shelf(cfg: &DeviceConfig, opts: &CheckOptions) -> (bool, String) {
    let target = target_of(cfg);
    let protocol = cfg.protocol();
    if cfg.transport == Transport::Gpio {
        if let Err(e) = transport::gpio::RppalGpio::new() {
            return (false, format!("GPIO unavailable here ({e}); {} on {target} needs a Raspberry Pi's GPIO header", protocol.map_or("this sensor", |p| p.as_str())));
        }
    }
    // A node answers the driver's Identify with a hello (the health board gets its identity);
    // an HX711 or a beam input reports a first reading.
    let wanted = |ev: &DeviceEvent| matches!(ev, DeviceEvent::ShelfWeight { .. } | DeviceEvent::Beam { .. });
    let hello = |h: &DeviceHealth| h.model.is_some();
    let (event, exit, health) = drive_until(cfg, opts.timeout, &wanted, &hello, &mut |ctx| shelf::drive(cfg, ctx));
    let errors = input_errors(health.as_ref());
    if let Some(model) = health.as_ref().and_then(|h| h.model.clone()) {
        let fw = health.as_ref().and_then(|h| h.firmware.clone()).map(|f| format!(", firmware {f}")).unwrap_or_default();
        return (true, format!("hello from {model}{fw}{errors}"));
    }
    match event {
        Some(DeviceEvent::ShelfWeight { channel, grams, stable, .. }) => {
            (true, format!("channel {channel}: {grams} g{}{errors}", if stable { ", stable" } else { "" }))
        }
        Some(DeviceEvent::Beam { pin, active, .. }) => (true, format!("pin {pin}: {}{errors}", if active { "active (beam broken / door open)" } else { "inactive" })),
        _ => match early_exit(&exit, &target) {
            Some(why) => (false, format!("{why}{errors}")),
            None => (
                false,
                format!("no answer from {target} within {} s{errors}; check the node's cable, power and baud rate", opts.timeout.as_secs_f64()),
            ),
        },
    }
}

fn check_display(cfg: &DeviceConfig) -> (bool, String) {
    let target = target_of(cfg);
    let mut link = match transport::open_link(cfg, Duration::from_secs(1)) {
        Ok(l) => l,
        Err(e) => return (false, e.to_string()),
    };
    let mut bytes = display::INIT.to_vec();
    bytes.extend_from_slice(&display::render_text("storehub doctor", "display test OK"));
    match link.write_all(&bytes).and_then(|()| link.flush()) {
        Ok(()) => (true, format!("wrote a test text to {target} (\"storehub doctor\" / \"display test OK\"): look at the display")),
        Err(e) => (false, format!("writing to {target}: {e}")),
    }
}

/// The report as a technician reads it: the inventory, then one `OK` / `FAIL` line per device.
pub fn render_report(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = render(&r.inventory);
    if let Some(note) = &r.note {
        let _ = writeln!(s, "\n{note}");
    }
    if let Some(list) = &r.daemon {
        let _ = writeln!(s, "\nConfigured devices (from the running daemon):");
        s.push_str(&super::health::render(list));
        for h in list {
            let why = match (&h.status, h.connected) {
                (Some(st), _) => format!("{st}{}", h.last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default()),
                (None, true) => format!("connected, {} event(s)", h.events),
                (None, false) => format!("not connected{}; check {}", h.last_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(), h.target),
            };
            let _ = writeln!(s, "{:<4} {} ({} {}): {why}", if daemon_device_ok(h) { "OK" } else { "FAIL" }, h.id, h.kind, h.target);
        }
        return s;
    }
    if !r.devices.is_empty() {
        let _ = writeln!(s, "\nConfigured devices ({}):", r.devices.len());
    }
    for d in &r.devices {
        let _ = writeln!(s, "{:<4} {} ({} {} {} {}): {}", if d.ok { "OK" } else { "FAIL" }, d.id, d.kind, d.protocol, d.transport, d.target, d.detail);
    }
    s
}

/// The daemon's device health when a daemon answers on `data_dir`'s control socket; `Ok(None)`
/// when none runs there.
pub fn daemon_health(data_dir: &Path) -> Result<Option<Vec<DeviceHealth>>, String> {
    use crate::control::{client, socket_path, Request};
    let socket = socket_path(data_dir);
    match client::try_call(&socket, &Request::Devices) {
        client::Attempt::NoDaemon => Ok(None),
        client::Attempt::Answered(Err(e)) => Err(format!("the daemon on {} did not give its device list: {e}", data_dir.display())),
        client::Attempt::Answered(Ok(reply)) => serde_json::from_value(reply.result)
            .map(Some)
            .map_err(|e| format!("the daemon's device list did not parse: {e}")),
    }
}

/// `storehub doctor` without a subcommand: asks the daemon on `data_dir` (if any) or checks
/// `cfg`'s devices, writes the report (text or JSON) to `out`, and returns it; the caller exits
/// non-zero when [`Report::ok`] is false.
pub fn command(cfg: Option<&crate::config::Config>, data_dir: Option<&Path>, opts: &CheckOptions, json: bool, out: &mut dyn std::io::Write) -> anyhow::Result<Report> {
    let daemon = match data_dir {
        Some(dir) => daemon_health(dir).map_err(anyhow::Error::msg)?,
        None => None,
    };
    let mut opts = opts.clone();
    if let Some(c) = cfg {
        opts.store_name = c.store.name.clone();
    }
    let report = run(cfg.map(|c| c.devices.as_slice()), daemon, &opts);
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{}", render_report(&report))?;
    }
    out.flush()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lp_devices_lists_only_printers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["lp1", "lp0", "hiddev0"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let got = lp_devices(dir.path());
        assert_eq!(got.len(), 2);
        assert!(got[0].ends_with("/lp0") && got[1].ends_with("/lp1"));
        assert!(lp_devices(Path::new("/nonexistent/usb")).is_empty());
    }

    fn device(toml_text: &str) -> DeviceConfig {
        toml::from_str(toml_text).unwrap()
    }

    fn quick() -> CheckOptions {
        CheckOptions { timeout: Duration::from_secs(3), ..CheckOptions::default() }
    }

    /// A pty whose master side answers each chunk it reads with `answer(chunk)`.
    fn answering(answer: impl Fn(&[u8]) -> Vec<u8> + Send + 'static) -> (String, serialport::TTYPort, std::thread::JoinHandle<()>) {
        use std::io::{Read, Write};
        let (mut master, slave) = serialport::TTYPort::pair().unwrap();
        serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(50)).unwrap();
        let path = serialport::SerialPort::name(&slave).unwrap();
        let t = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                match master.read(&mut buf) {
                    Ok(n) => {
                        let a = answer(&buf[..n]);
                        if master.write_all(&a).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
            }
        });
        (path, slave, t)
    }

    #[test]
    fn a_shelf_node_answers_identify_with_its_hello() {
        use storehub_wire::{encode_frame, FwVersion, NodeMsg, MAX_FRAME_LEN};
        let (path, _slave, _t) = answering(|_| {
            let hello = NodeMsg::Hello { protocol: storehub_wire::PROTOCOL_VERSION, node_id: 7, fw_version: FwVersion { major: 1, minor: 2, patch: 3 }, channels: 4 };
            let mut buf = [0u8; MAX_FRAME_LEN];
            encode_frame(&hello, &mut buf).unwrap().to_vec()
        });
        let cfg = device(&format!("id = \"shelf-1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"{path}\"\n"));
        let c = check_device(&cfg, &quick());
        assert!(c.ok, "{c:?}");
        assert_eq!(c.detail, "hello from storehub-node 0000000000000007 (4 channels), firmware 1.2.3");
    }

    #[test]
    fn a_printer_is_asked_its_status_and_paper_out_fails() {
        // DLE EOT 1 → online (0x12); DLE EOT 4 → 0x72: paper end sensor bits 5–6 set.
        let status = |paper: u8| move |req: &[u8]| req.chunks(3).filter_map(|r| match r { [0x10, 0x04, 1] => Some(0x12), [0x10, 0x04, 4] => Some(paper), _ => None }).collect::<Vec<u8>>();
        let (path, _slave, _t) = answering(status(0x12));
        let cfg = device(&format!("id = \"printer-1\"\nkind = \"printer\"\ntransport = \"serial\"\npath = \"{path}\"\n"));
        let c = check_device(&cfg, &quick());
        assert!(c.ok && c.detail.starts_with("status ready"), "{c:?}");
        let (path, _slave2, _t2) = answering(status(0x72));
        let cfg = device(&format!("id = \"printer-2\"\nkind = \"printer\"\ntransport = \"serial\"\npath = \"{path}\"\n"));
        let c = check_device(&cfg, &quick());
        assert!(!c.ok && c.detail.contains("status paper_out"), "{c:?}");
    }

    #[test]
    fn a_silent_scanner_fails_after_the_scan_wait_and_gpio_needs_a_pi() {
        let (_master, slave) = serialport::TTYPort::pair().unwrap();
        let path = serialport::SerialPort::name(&slave).unwrap();
        let cfg = device(&format!("id = \"scanner-1\"\nkind = \"scanner\"\ntransport = \"serial\"\npath = \"{path}\"\n"));
        let opts = CheckOptions { scan: Some(Duration::from_millis(300)), ..quick() };
        let c = check_device(&cfg, &opts);
        assert!(!c.ok && c.detail.starts_with("no code within 0.3 s") && c.detail.contains("terminator"), "{c:?}");
        // Without --scan, opening is the check.
        assert!(check_device(&cfg, &quick()).ok);
        if !gpio_info().available {
            let cfg = device("id = \"beam-1\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"beam\"\npins = [17]\n");
            let c = check_device(&cfg, &quick());
            assert!(!c.ok && c.detail.starts_with("GPIO unavailable here") && c.target == "pins [17]", "{c:?}");
        }
    }

    #[test]
    fn the_daemon_view_fails_devices_that_are_absent_or_need_attention() {
        let mut ok = DeviceHealth::new("scale-1", "scale", "toledo-8217", "serial", "/dev/x", None);
        ok.connected = true;
        let mut paper = DeviceHealth::new("printer-1", "printer", "escpos", "tcp", "10.0.0.9:9100", None);
        paper.connected = true;
        paper.status = Some("paper_out".into());
        let absent = DeviceHealth::new("scanner-1", "scanner", "line", "serial", "/dev/y", None);
        let r = run(None, Some(vec![ok, paper, absent]), &CheckOptions::default());
        assert!(!r.ok);
        assert_eq!(r.failures(), 2);
        let text = render_report(&r);
        assert!(text.contains("OK   scale-1"), "{text}");
        assert!(text.contains("FAIL printer-1 (printer 10.0.0.9:9100): paper_out"), "{text}");
        assert!(text.contains("FAIL scanner-1 (scanner /dev/y): not connected; check /dev/y"), "{text}");
    }

    #[test]
    fn inventory_never_panics_here() {
        let inv = inventory();
        let text = render(&inv);
        assert!(text.contains("Serial ports"));
        assert!(text.contains("GPIO:"));
    }
}
