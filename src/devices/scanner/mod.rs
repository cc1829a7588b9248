//! Barcode scanners: serial / USB-CDC / TCP line scanners ([`line`]), USB HID keyboard-wedge
//! scanners ([`hid_keyboard`]) and USB HID POS scanners ([`hid_pos`]).
//!
//! The decoders are sans-I/O (bytes or reports in, [`Decoded`] out) and share one [`Framing`]
//! step (prefix / suffix stripping, AIM symbology identifier, printable check). The driver loops
//! [`run_line`] and [`run_hid`] are thin: read with a short timeout so a stop is honoured, feed
//! the decoder, turn codes into [`ScanEvent`]s and rejects into health counts. They never know
//! which port or USB path they are on; [`doctor_scan`] runs the same `run_line` on a port for a
//! technician.

pub mod hid_keyboard;
pub mod hid_pos;
pub mod latency;
pub mod line;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::{DeviceConfig, DeviceKind, DeviceProtocol, Id, ScannerSettings, SerialSettings, Terminator, Transport};
use crate::devices::health::{DeviceHealth, HealthBoard};
use crate::devices::transport::hid::ReportSource;
use crate::devices::transport::{self, Link, ReadOutcome};
use crate::devices::{DeviceEvent, DriverCtx, DriverExit, ScanEvent};

/// The longest code kept, in bytes (after the terminator is removed). Longer input is dropped up
/// to the next terminator and counted as `overlong`. Retail codes (EAN-13, GS1-128, payment and
/// member QR codes) are far shorter.
pub const MAX_CODE_LEN: usize = 512;

/// How long one read waits before the loop looks at the stop flag again.
pub const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// A started code with no further byte or report for this long is dropped and counted as
/// `truncated`, so line noise or a half-sent code cannot glue itself to the next scan. A scanner
/// sends a whole code in one burst (13 digits at 9600 baud take 14 ms).
pub const FRAGMENT_TIMEOUT: Duration = Duration::from_millis(500);

/// Health error kinds the scanner decoders count.
pub mod kind {
    /// Bytes that cannot be part of a code (control or non-ASCII bytes, a report of the wrong
    /// size, a key with no character).
    pub const GARBAGE: &str = "garbage";
    /// A code longer than [`super::MAX_CODE_LEN`].
    pub const OVERLONG: &str = "overlong";
    /// A code that was started but never finished (no terminator, a missing last report).
    pub const TRUNCATED: &str = "truncated";
    /// A HID report with an id the decoder does not read.
    pub const UNKNOWN_REPORT: &str = "unknown_report";
}

/// A decoded code, before it is stamped with device, lane and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    /// The AIM symbology identifier (`]E0` …) when the scanner sent one.
    pub symbology: Option<String>,
}

/// What a decoder made of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Code(Code),
    /// Input that was dropped; counted in health under `kind` ([`kind`]).
    Rejected { kind: &'static str, detail: String },
}

impl Decoded {
    fn rejected(kind: &'static str, detail: impl Into<String>) -> Decoded {
        Decoded::Rejected { kind, detail: detail.into() }
    }

    #[cfg(test)]
    pub(crate) fn code(code: &str, symbology: Option<&str>) -> Decoded {
        Decoded::Code(Code { code: code.to_string(), symbology: symbology.map(str::to_string) })
    }
}

/// At most this many bytes of a rejected input are quoted in the health detail.
const PREVIEW: usize = 40;

/// `bytes` as escaped ASCII, cut to [`PREVIEW`] bytes, for error details.
pub(crate) fn preview(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(PREVIEW)];
    let mut s = cut.escape_ascii().to_string();
    if bytes.len() > PREVIEW {
        s.push('…');
    }
    s
}

/// Whether a byte may be part of a code: printable ASCII, plus GS (0x1D), the GS1 field
/// separator that stands for FNC1 inside GS1-128 and GS1 DataMatrix codes.
pub fn is_code_byte(b: u8) -> bool {
    (0x20..=0x7E).contains(&b) || b == 0x1D
}

/// The per-device framing every decoder applies to a finished code: strip the configured prefix
/// and suffix, split off an AIM symbology identifier, reject what is not printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    aim_ids: bool,
}

impl Framing {
    pub fn from_settings(s: &ScannerSettings) -> Framing {
        Framing { prefix: s.strip_prefix.as_bytes().to_vec(), suffix: s.strip_suffix.as_bytes().to_vec(), aim_ids: s.aim_ids }
    }

    /// Turns the bytes of one code (terminator already removed) into a [`Decoded`], or `None`
    /// for an empty code. The order is the scanners': prefix, AIM identifier, data, suffix.
    /// `symbology` is the identifier when the transport carried it beside the data (HID POS);
    /// then none is looked for in the data.
    pub fn finish(&self, raw: &[u8], symbology: Option<String>) -> Option<Decoded> {
        let mut data = raw;
        if !self.prefix.is_empty() {
            data = data.strip_prefix(self.prefix.as_slice()).unwrap_or(data);
        }
        if !self.suffix.is_empty() {
            data = data.strip_suffix(self.suffix.as_slice()).unwrap_or(data);
        }
        if let Some(at) = data.iter().position(|b| !is_code_byte(*b)) {
            return Some(Decoded::rejected(
                kind::GARBAGE,
                format!("byte 0x{:02x} at offset {at} is not printable ASCII in {:?}", data[at], preview(raw)),
            ));
        }
        let mut symbology = symbology;
        if symbology.is_none() && self.aim_ids && data.len() >= 3 && data[0] == b']' {
            symbology = Some(String::from_utf8_lossy(&data[..3]).into_owned());
            data = &data[3..];
        }
        if data.is_empty() {
            return None;
        }
        // Every byte is ASCII (checked above), so this is exact.
        let code = String::from_utf8_lossy(data).into_owned();
        Some(Decoded::Code(Code { code, symbology }))
    }
}

/// A byte buffer of at most [`MAX_CODE_LEN`] bytes that remembers it overflowed.
#[derive(Debug, Default)]
pub(crate) struct Bounded {
    pub(crate) buf: Vec<u8>,
    pub(crate) dropped: usize,
}

impl Bounded {
    pub(crate) fn push(&mut self, b: u8) {
        if self.buf.len() < MAX_CODE_LEN {
            self.buf.push(b);
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        let room = MAX_CODE_LEN - self.buf.len();
        let take = bytes.len().min(room);
        self.buf.extend_from_slice(&bytes[..take]);
        self.dropped += bytes.len() - take;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.dropped == 0
    }

    /// Finishes the code: `overlong` when it overflowed, else `framing` decides. Clears.
    pub(crate) fn take(&mut self, framing: &Framing, symbology: Option<String>) -> Option<Decoded> {
        let out = if self.dropped > 0 {
            Some(Decoded::rejected(
                kind::OVERLONG,
                format!("a code of {} bytes (the limit is {MAX_CODE_LEN}) starting {:?}", self.buf.len() + self.dropped, preview(&self.buf)),
            ))
        } else {
            framing.finish(&self.buf, symbology)
        };
        self.clear();
        out
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.dropped = 0;
    }
}

/// Hands one decoder result to the hub: a code becomes a [`ScanEvent`] stamped now; a reject is
/// counted in health (and logged once per burst).
pub fn deliver(ctx: &DriverCtx, decoded: Decoded) {
    match decoded {
        Decoded::Code(c) => {
            let at = ctx.clock.now();
            (ctx.emit)(DeviceEvent::Scan(ScanEvent { device: ctx.id().to_string(), lane: ctx.lane(), code: c.code, symbology: c.symbology, at }));
            ctx.health.event(ctx.id(), at);
        }
        Decoded::Rejected { kind, detail } => ctx.input_error(kind, &detail),
    }
}

/// The line-scanner driver (serial, USB-CDC, TCP): reads until the device goes away
/// ([`DriverExit::Closed`]), the hub stops ([`DriverExit::Stopped`]) or an I/O error.
pub fn run_line(link: &mut dyn Link, ctx: &DriverCtx) -> DriverExit {
    if let Err(e) = link.set_read_timeout(READ_TIMEOUT) {
        return DriverExit::Io(e);
    }
    let mut decoder = line::LineDecoder::new(&ctx.device.scanner_settings());
    let mut buf = [0u8; 256];
    let mut last_byte = Instant::now();
    loop {
        if ctx.stopping() {
            return DriverExit::Stopped;
        }
        let mut reader: &mut dyn Link = &mut *link;
        match transport::read_some(&mut reader, &mut buf) {
            Ok(ReadOutcome::Data(n)) => {
                last_byte = Instant::now();
                decoder.push(&buf[..n], |d| deliver(ctx, d));
            }
            Ok(ReadOutcome::Idle) => {
                if decoder.has_partial() && last_byte.elapsed() >= FRAGMENT_TIMEOUT {
                    if let Some(d) = decoder.abandon() {
                        deliver(ctx, d);
                    }
                }
            }
            Ok(ReadOutcome::Closed) => return DriverExit::Closed,
            Err(e) => return DriverExit::Io(e),
        }
    }
}

/// The largest HID input report read (hidraw truncates longer ones to the buffer). Boot keyboard
/// reports are 8 bytes, HID POS data reports 64.
pub const MAX_REPORT: usize = 256;

/// One of the two HID scanner decoders, chosen by the configured protocol.
enum HidDecoder {
    Keyboard(hid_keyboard::KeyboardDecoder),
    Pos(hid_pos::PosDecoder),
}

/// The USB HID scanner driver: boot-keyboard (`hid-keyboard`) or HID POS (`hid-pos`) reports,
/// as configured. Returns like [`run_line`].
pub fn run_hid(source: &mut dyn ReportSource, ctx: &DriverCtx) -> DriverExit {
    let settings = ctx.device.scanner_settings();
    let mut decoder = match ctx.device.protocol() {
        Some(DeviceProtocol::HidKeyboard) => HidDecoder::Keyboard(hid_keyboard::KeyboardDecoder::new(&settings)),
        Some(DeviceProtocol::HidPos) => HidDecoder::Pos(hid_pos::PosDecoder::new(&settings)),
        other => {
            return DriverExit::Other(format!(
                "device {}: protocol {} is not a HID scanner protocol; set protocol = \"hid-keyboard\" or \"hid-pos\"",
                ctx.id(),
                other.map_or("(none)", |p| p.as_str())
            ))
        }
    };
    let mut buf = [0u8; MAX_REPORT];
    let mut last_report = Instant::now();
    loop {
        if ctx.stopping() {
            return DriverExit::Stopped;
        }
        match source.read_report(&mut buf, READ_TIMEOUT) {
            Ok(ReadOutcome::Data(n)) => {
                last_report = Instant::now();
                let report = &buf[..n.min(MAX_REPORT)];
                match &mut decoder {
                    HidDecoder::Keyboard(d) => d.push_report(report, |x| deliver(ctx, x)),
                    HidDecoder::Pos(d) => d.push_report(report, |x| deliver(ctx, x)),
                }
            }
            Ok(ReadOutcome::Idle) => {
                if last_report.elapsed() >= FRAGMENT_TIMEOUT {
                    let abandoned = match &mut decoder {
                        HidDecoder::Keyboard(d) => d.abandon(),
                        HidDecoder::Pos(d) => d.abandon(),
                    };
                    if let Some(d) = abandoned {
                        deliver(ctx, d);
                    }
                }
            }
            Ok(ReadOutcome::Closed) => return DriverExit::Closed,
            Err(e) => return DriverExit::Io(e),
        }
    }
}

/// Parses a `--terminator` value (`any`, `cr`, `lf`, `crlf`, `tab`), as in the config.
pub fn parse_terminator(s: &str) -> Result<Terminator, String> {
    match s.to_ascii_lowercase().as_str() {
        "any" => Ok(Terminator::Any),
        "cr" => Ok(Terminator::Cr),
        "lf" => Ok(Terminator::Lf),
        "crlf" => Ok(Terminator::Crlf),
        "tab" => Ok(Terminator::Tab),
        other => Err(format!("expected any, cr, lf, crlf or tab, got {other:?}")),
    }
}

/// The device entry `storehub doctor scan` and the latency measurement run a line scanner
/// under: not from a config file, so it is built here.
pub fn line_scanner_config(id: &str, path: &str, baud: u32, settings: ScannerSettings) -> Result<DeviceConfig, String> {
    Ok(DeviceConfig {
        id: Id::try_from(id.to_string())?,
        kind: DeviceKind::Scanner,
        transport: Transport::Serial,
        protocol: Some(DeviceProtocol::Line),
        path: Some(path.to_string()),
        address: None,
        pins: Vec::new(),
        lane: None,
        serial: Some(SerialSettings { baud, ..SerialSettings::default() }),
        scanner: Some(settings),
        scale: None,
        printer: None,
        shelf: None,
    })
}

/// Set by SIGINT while `doctor scan` runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// `storehub doctor scan --port PATH`: opens the port as a line scanner, with the driver the
/// daemon uses, and prints each code as one JSON line `{"code":…,"symbology":…,"at":…}` until
/// `timeout` passes or Ctrl-C (both exit 0). Fails naming the port when it cannot be opened or
/// goes away.
pub fn doctor_scan(port: &str, timeout: Duration, baud: u32, settings: ScannerSettings) -> anyhow::Result<()> {
    use anyhow::anyhow;
    let cfg = line_scanner_config("doctor-scan", port, baud, settings).map_err(|e| anyhow!(e))?;
    let mut link = transport::open_serial(cfg.id.as_str(), port, &cfg.serial_settings(), READ_TIMEOUT).map_err(|e| {
        let why = match e {
            transport::OpenError::Serial { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        anyhow!(
            "doctor scan: cannot open the scanner port {port}: {why}; check the path (ls -l /dev/serial/by-id/), that no other program holds the port, and that this user may open it (systemd/99-storehub.rules)"
        )
    })?;
    let health = HealthBoard::new();
    health.register(DeviceHealth::from_config(&cfg));
    let clock = crate::clock::SystemClock;
    let stop = AtomicBool::new(false);
    INTERRUPTED.store(false, Ordering::Relaxed);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let previous = unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    let deadline = Instant::now() + timeout;
    let write_failed = AtomicBool::new(false);
    let emit = |ev: DeviceEvent| {
        if let DeviceEvent::Scan(s) = ev {
            let line = serde_json::json!({ "code": s.code, "symbology": s.symbology, "at": s.at });
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                write_failed.store(true, Ordering::Relaxed);
            }
        }
    };
    let exit = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if INTERRUPTED.load(Ordering::Relaxed) || Instant::now() >= deadline || write_failed.load(Ordering::Relaxed) {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let ctx = DriverCtx { device: &cfg, health: &health, clock: &clock, stop: &stop, emit: &emit, store: None };
        let exit = run_line(&mut link, &ctx);
        stop.store(true, Ordering::Relaxed);
        exit
    });
    // SAFETY: restores the handler that was installed before.
    unsafe { libc::signal(libc::SIGINT, previous) };
    if let Some(h) = health.get(cfg.id.as_str()) {
        if h.error_count() > 0 {
            eprintln!(
                "storehub doctor scan: {port}: {} input(s) dropped: {}",
                h.error_count(),
                h.errors.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    match exit {
        DriverExit::Stopped => Ok(()),
        DriverExit::Closed => Err(anyhow!("doctor scan: the scanner on {port} went away (unplugged?)")),
        DriverExit::Io(e) => Err(anyhow!("doctor scan: reading {port}: {e}")),
        DriverExit::Other(e) => Err(anyhow!("doctor scan: {port}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(d: &Decoded) {
        match d {
            Decoded::Code(c) => {
                assert!(!c.code.is_empty() && c.code.len() <= MAX_CODE_LEN);
                assert!(c.code.bytes().all(is_code_byte), "{:?}", c.code);
            }
            Decoded::Rejected { kind, detail } => {
                assert!([kind::GARBAGE, kind::OVERLONG, kind::TRUNCATED, kind::UNKNOWN_REPORT].contains(kind));
                // Details quote at most PREVIEW input bytes, escaped.
                assert!(detail.len() < 4 * PREVIEW + 300, "{detail}");
            }
        }
    }

    fn settings() -> impl Strategy<Value = ScannerSettings> {
        (0..5u8, any::<bool>(), "[\\x02#]{0,2}", "[\\x03]{0,1}").prop_map(|(t, aim_ids, strip_prefix, strip_suffix)| ScannerSettings {
            terminator: [Terminator::Any, Terminator::Cr, Terminator::Lf, Terminator::Crlf, Terminator::Tab][usize::from(t)],
            strip_prefix,
            strip_suffix,
            aim_ids,
        })
    }

    proptest! {
        #[test]
        fn line_decoder_takes_any_bytes(s in settings(), chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..8)) {
            let mut d = line::LineDecoder::new(&s);
            for c in &chunks {
                d.push(c, |x| check(&x));
                prop_assert!(d.line.buf.len() <= MAX_CODE_LEN);
            }
            if let Some(x) = d.abandon() {
                check(&x);
            }
            prop_assert!(!d.has_partial());
        }

        #[test]
        fn hid_decoders_take_any_reports(s in settings(), reports in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..40)) {
            let mut k = hid_keyboard::KeyboardDecoder::new(&s);
            let mut p = hid_pos::PosDecoder::new(&s);
            for r in &reports {
                k.push_report(r, |x| check(&x));
                p.push_report(r, |x| check(&x));
            }
            for x in [k.abandon(), p.abandon()].into_iter().flatten() {
                check(&x);
            }
        }

        #[test]
        fn printable_codes_survive_the_line_decoder(codes in proptest::collection::vec("[0-9A-Za-z()/+.:-]{1,60}", 1..10)) {
            let s = ScannerSettings::default();
            let mut d = line::LineDecoder::new(&s);
            let mut got = Vec::new();
            let input: Vec<u8> = codes.iter().flat_map(|c| c.bytes().chain(*b"\r\n")).collect();
            d.push(&input, |x| got.push(x));
            let want: Vec<Decoded> = codes.iter().map(|c| Decoded::code(c, None)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
