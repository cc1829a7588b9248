//! Scales: Toledo 8217, MT-SICS, CAS, a configurable continuous-stream format and USB HID
//! scales, all giving [`WeightReading`]s in integer grams.
//!
//! One file per protocol holds its sans-I/O codec (frame bytes → [`Reply`], command → bytes):
//! [`toledo`], [`mt_sics`], [`cas`], [`generic`], [`hid_scale`]. [`framing`] cuts byte streams
//! into frames with bounded buffers and [`units`] turns decimal text into grams without floats.
//! [`driver`] is the one loop that polls or listens over a [`Link`] (or a HID
//! [`ReportSource`](crate::devices::transport::hid::ReportSource)), emits readings, counts bad
//! input and runs the no-answer watchdog. [`doctor`] is `storehub doctor scale`. The codecs
//! never touch a port, a clock or the health board.

pub mod cas;
pub mod doctor;
pub mod driver;
pub mod framing;
pub mod generic;
pub mod hid_scale;
pub mod mt_sics;
pub mod toledo;
pub mod units;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::config::{DeviceProtocol, ScaleSettings};
use crate::devices::transport::{read_some, Link, ReadOutcome};
use crate::devices::WeightReading;

pub use doctor::{doctor_scale, DoctorScaleArgs};
pub use driver::{run, run_hid, run_with};
use framing::{FrameShape, Framed, Framer};
pub use units::WeightUnit;

/// What went wrong reading a scale. Messages name the protocol, the bytes and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("{protocol}: cannot read the frame \"{frame}\": {why}")]
    BadFrame { protocol: &'static str, frame: String, why: String },
    #[error("weight \"{text}\": {why}")]
    BadWeight { text: String, why: String },
    #[error("unit {unit:?} is not supported; set the scale to kg or g (lb and oz are converted too)")]
    UnknownUnit { unit: String },
    #[error("[devices.scale].pattern: {0}")]
    Pattern(String),
    #[error("protocol \"{0}\" is not a serial scale protocol; expected toledo-8217, mt-sics, cas or generic")]
    NotSerialScale(&'static str),
    #[error("the command queue of this scale is full ({0} waiting); try again when the scale has answered")]
    QueueFull(usize),
    #[error("no settled weight within {waited_ms} ms; the scale last said: {last}")]
    NotSettled { waited_ms: u64, last: String },
    #[error("the port closed while reading (scale unplugged or switched off?)")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ScaleError {
    /// The health error kind this counts as.
    pub fn health_kind(&self) -> &'static str {
        match self {
            ScaleError::BadFrame { .. } => "bad_frame",
            ScaleError::BadWeight { .. } => "bad_weight",
            ScaleError::UnknownUnit { .. } => "unit",
            ScaleError::NotSettled { .. } => "timeout",
            ScaleError::Closed | ScaleError::Io(_) => "io",
            ScaleError::Pattern(_) | ScaleError::NotSerialScale(_) | ScaleError::QueueFull(_) => "config",
        }
    }
}

/// What one well-formed frame from a scale says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A weight, or a state in place of one.
    Reading(WeightReading),
    /// A status in place of a weight (Toledo `?` frames), with the bits in words.
    Status { reading: WeightReading, detail: String },
    /// The scale understood but cannot weigh now (MT-SICS `S I`).
    NotReady(String),
    /// The answer to a zero / tare / clear-tare command.
    Command { command: ScaleCommand, done: bool, detail: String },
    /// The scale refused what it was sent (MT-SICS `ES`, `ET`, `EL`).
    DeviceError(String),
    /// Anything else well-formed the hub does not use.
    Other(String),
}

impl Reply {
    /// The reading this reply carries, if any.
    pub fn reading(&self) -> Option<WeightReading> {
        match self {
            Reply::Reading(r) | Reply::Status { reading: r, .. } => Some(*r),
            _ => None,
        }
    }

    /// A short description for logs and "the scale last said".
    pub fn describe(&self) -> String {
        match self {
            Reply::Reading(r) => describe_reading(r),
            Reply::Status { reading, detail } => format!("{detail} → {}", describe_reading(reading)),
            Reply::NotReady(d) | Reply::DeviceError(d) | Reply::Other(d) => d.clone(),
            Reply::Command { command, done, detail } => {
                format!("{} {}: {detail}", command.as_str(), if *done { "done" } else { "refused" })
            }
        }
    }
}

/// `1250 g, stable, ok`
pub fn describe_reading(r: &WeightReading) -> String {
    format!("{} g, {}, {}", r.grams, if r.stable { "stable" } else { "not stable" }, r.state.as_str())
}

/// A request for the scale besides weighing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScaleCommand {
    Zero,
    Tare,
    ClearTare,
}

impl ScaleCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            ScaleCommand::Zero => "zero",
            ScaleCommand::Tare => "tare",
            ScaleCommand::ClearTare => "clear_tare",
        }
    }
}

/// The bytes that ask for a weight, for polled protocols; `None` for streaming ones.
pub fn poll_command(protocol: DeviceProtocol) -> Option<&'static [u8]> {
    match protocol {
        DeviceProtocol::Toledo8217 => Some(toledo::POLL),
        DeviceProtocol::MtSics => Some(mt_sics::POLL),
        _ => None,
    }
}

/// The bytes of `command` in `protocol`; `None` where the protocol has no such command (CAS and
/// generic streams, HID scales: zero and tare at the scale's keys).
pub fn command_bytes(protocol: DeviceProtocol, command: ScaleCommand) -> Option<&'static [u8]> {
    use ScaleCommand::*;
    match (protocol, command) {
        (DeviceProtocol::Toledo8217, Zero) => Some(toledo::ZERO),
        (DeviceProtocol::Toledo8217, Tare) => Some(toledo::TARE),
        (DeviceProtocol::Toledo8217, ClearTare) => Some(toledo::CLEAR_TARE),
        (DeviceProtocol::MtSics, Zero) => Some(mt_sics::ZERO),
        (DeviceProtocol::MtSics, Tare) => Some(mt_sics::TARE),
        (DeviceProtocol::MtSics, ClearTare) => Some(mt_sics::CLEAR_TARE),
        _ => None,
    }
}

/// The zero command of `protocol` (`Z` on Toledo 8217, `Z` CR LF on MT-SICS).
pub fn zero_command(protocol: DeviceProtocol) -> Option<&'static [u8]> {
    command_bytes(protocol, ScaleCommand::Zero)
}

/// The tare command of `protocol` (`T` on Toledo 8217, `T` CR LF on MT-SICS).
pub fn tare_command(protocol: DeviceProtocol) -> Option<&'static [u8]> {
    command_bytes(protocol, ScaleCommand::Tare)
}

/// Commands waiting for one scale's driver, which sends them between polls.
pub const MAX_QUEUED_COMMANDS: usize = 8;

/// A handle to a scale's command queue. Clones share the queue: the API holds one, the driver
/// loop drains it.
#[derive(Debug, Clone, Default)]
pub struct ScaleCommands {
    queue: Arc<Mutex<VecDeque<ScaleCommand>>>,
}

impl ScaleCommands {
    pub fn new() -> ScaleCommands {
        ScaleCommands::default()
    }

    /// Queues a command for the driver; refused when [`MAX_QUEUED_COMMANDS`] are waiting.
    pub fn send(&self, command: ScaleCommand) -> Result<(), ScaleError> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= MAX_QUEUED_COMMANDS {
            return Err(ScaleError::QueueFull(q.len()));
        }
        q.push_back(command);
        Ok(())
    }

    /// The next command, for the driver.
    pub fn take(&self) -> Option<ScaleCommand> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }

    pub fn pending(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The command queue of the scale with this device id; [`run`] drains the same queue, so the
/// API can send zero / tare without a handle threaded through the supervisor.
pub fn commands_for(device: &str) -> ScaleCommands {
    static REGISTRY: OnceLock<Mutex<HashMap<String, ScaleCommands>>> = OnceLock::new();
    let mut map = REGISTRY.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    map.entry(device.to_string()).or_default().clone()
}

/// One serial/TCP scale protocol, ready to decode.
#[derive(Debug, Clone)]
pub enum Codec {
    Toledo { unit: WeightUnit },
    MtSics,
    Cas,
    Generic(generic::GenericFormat),
}

impl Codec {
    /// The codec for `protocol` with these settings (the generic pattern, the default unit).
    pub fn new(protocol: DeviceProtocol, settings: &ScaleSettings) -> Result<Codec, ScaleError> {
        let unit = match settings.unit.as_deref() {
            Some(u) => generic::check_unit(u).map_err(ScaleError::Pattern)?,
            None => WeightUnit::Kilogram,
        };
        match protocol {
            DeviceProtocol::Toledo8217 => Ok(Codec::Toledo { unit }),
            DeviceProtocol::MtSics => Ok(Codec::MtSics),
            DeviceProtocol::Cas => Ok(Codec::Cas),
            DeviceProtocol::Generic => {
                let pattern = settings
                    .pattern
                    .as_deref()
                    .ok_or_else(|| ScaleError::Pattern("missing; the generic protocol needs a pattern with a (?P<weight>…) group".into()))?;
                Ok(Codec::Generic(generic::GenericFormat::new(pattern, settings.unit.as_deref())?))
            }
            other => Err(ScaleError::NotSerialScale(other.as_str())),
        }
    }

    pub fn protocol(&self) -> DeviceProtocol {
        match self {
            Codec::Toledo { .. } => DeviceProtocol::Toledo8217,
            Codec::MtSics => DeviceProtocol::MtSics,
            Codec::Cas => DeviceProtocol::Cas,
            Codec::Generic(_) => DeviceProtocol::Generic,
        }
    }

    /// A framer for this protocol's byte stream.
    pub fn framer(&self) -> Framer {
        match self {
            Codec::Toledo { .. } => Framer::new(FrameShape::StxCr, toledo::MAX_FRAME),
            Codec::MtSics => Framer::new(FrameShape::Lines { cr_ends_line: false }, mt_sics::MAX_LINE),
            Codec::Cas => Framer::new(FrameShape::Lines { cr_ends_line: false }, cas::MAX_LINE),
            Codec::Generic(_) => Framer::new(FrameShape::Lines { cr_ends_line: true }, generic::MAX_LINE),
        }
    }

    pub fn poll(&self) -> Option<&'static [u8]> {
        poll_command(self.protocol())
    }

    pub fn decode(&self, frame: &[u8]) -> Result<Reply, ScaleError> {
        match self {
            Codec::Toledo { unit } => toledo::decode(frame, *unit),
            Codec::MtSics => mt_sics::decode(frame),
            Codec::Cas => cas::decode(frame),
            Codec::Generic(g) => g.decode(frame),
        }
    }
}

/// Writes all of `bytes`, flushing.
fn send(link: &mut dyn Link, bytes: &[u8]) -> std::io::Result<()> {
    link.write_all(bytes)?;
    link.flush()
}

/// Reads until the scale gives a settled (stable, in-range) weight or `timeout` passes: polls
/// polled protocols every `poll_ms` (or after `answer_timeout_ms` without an answer), listens to
/// streaming ones. The error says what the scale last said. For the technician's
/// `storehub doctor scale` and for checks; the daemon runs [`run`].
pub fn read_settled(
    link: &mut dyn Link,
    protocol: DeviceProtocol,
    settings: &ScaleSettings,
    timeout: Duration,
) -> Result<WeightReading, ScaleError> {
    let codec = Codec::new(protocol, settings)?;
    let mut framer = codec.framer();
    let start = Instant::now();
    let poll_every = Duration::from_millis(settings.poll_ms.max(1));
    let answer_timeout = Duration::from_millis(settings.answer_timeout_ms.max(1));
    link.set_read_timeout(Duration::from_millis(settings.answer_timeout_ms.clamp(5, 50)))?;
    let mut last = String::from("nothing");
    let mut polls = 0u32;
    let mut unanswered = 0u32;
    let mut outstanding: Option<Instant> = None;
    let mut next_poll = start;
    let mut buf = [0u8; 256];
    loop {
        let now = Instant::now();
        if now.duration_since(start) >= timeout {
            if last == "nothing" && polls > 0 {
                last = format!("nothing (no answer to {polls} polls)");
            } else if unanswered > 0 {
                last = format!("{last} (then no answer to {unanswered} polls)");
            }
            return Err(ScaleError::NotSettled { waited_ms: timeout.as_millis() as u64, last });
        }
        if let Some(poll) = codec.poll() {
            if let Some(sent) = outstanding {
                if now.duration_since(sent) >= answer_timeout {
                    outstanding = None;
                    unanswered += 1;
                    framer.reset();
                }
            }
            if outstanding.is_none() && now >= next_poll {
                send(link, poll).map_err(closed_or_io)?;
                polls += 1;
                outstanding = Some(now);
                next_poll = now + poll_every;
            }
        }
        let n = match read_some(link, &mut buf)? {
            ReadOutcome::Closed => return Err(ScaleError::Closed),
            ReadOutcome::Idle => continue,
            ReadOutcome::Data(n) => n,
        };
        let mut settled = None;
        framer.push(&buf[..n], &mut |ev| match ev {
            Framed::Frame(frame) => {
                outstanding = None;
                match codec.decode(frame) {
                    Ok(reply) => {
                        unanswered = 0;
                        last = format!("\"{}\" ({})", framing::show(frame), reply.describe());
                        if let Some(r) = reply.reading().filter(WeightReading::is_settled) {
                            settled.get_or_insert(r);
                        }
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Framed::Garbage(n) => last = format!("{n} bytes of garbage outside any frame"),
            Framed::Overlong(n) => last = format!("a {n}-byte frame without its terminator"),
        });
        if let Some(r) = settled {
            return Ok(r);
        }
    }
}

fn closed_or_io(e: std::io::Error) -> ScaleError {
    if driver::is_gone(&e) {
        ScaleError::Closed
    } else {
        ScaleError::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn codecs() -> Vec<Codec> {
        let settings = ScaleSettings { pattern: Some(r"^(?P<stable>S)?(?P<weight>[-+0-9. ]+)(?P<unit>kg|g)?$".into()), ..ScaleSettings::default() };
        [DeviceProtocol::Toledo8217, DeviceProtocol::MtSics, DeviceProtocol::Cas, DeviceProtocol::Generic]
            .into_iter()
            .map(|p| Codec::new(p, &settings).unwrap())
            .collect()
    }

    proptest! {
        /// Whatever a device sends, framing and decoding return values or errors, never panic,
        /// and no frame handed to a codec is longer than its buffer.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
            for codec in codecs() {
                let mut framer = codec.framer();
                let cut = cut.min(bytes.len());
                for chunk in [&bytes[..cut], &bytes[cut..]] {
                    framer.push(chunk, &mut |ev| {
                        if let Framed::Frame(f) = ev {
                            assert!(f.len() <= generic::MAX_LINE);
                            let _ = codec.decode(f);
                        }
                    });
                }
                let _ = codec.decode(&bytes);
            }
            let _ = hid_scale::decode_report(&bytes);
        }

        /// Kilograms with up to three decimals convert exactly: "12.345" kg is 12345 g.
        #[test]
        fn kilograms_to_grams_is_exact(grams in -99_999_999i64..=99_999_999, decimals in 0u32..=3) {
            let scale = 10i64.pow(3 - decimals);
            let grams = grams / scale * scale;
            let text = if decimals == 0 {
                format!("{}", grams / 1000)
            } else {
                let sign = if grams < 0 { "-" } else { "" };
                let abs = grams.abs();
                let frac = format!("{:03}", abs % 1000);
                format!("{sign}{}.{}", abs / 1000, &frac[..decimals as usize])
            };
            let expected = if decimals == 0 { grams / 1000 * 1000 } else { grams };
            prop_assert_eq!(units::text_to_grams(&text, WeightUnit::Kilogram).unwrap(), expected);
        }
    }

    #[test]
    fn commands_and_the_queue() {
        assert_eq!(poll_command(DeviceProtocol::Toledo8217), Some(&b"W"[..]));
        assert_eq!(poll_command(DeviceProtocol::MtSics), Some(&b"SI\r\n"[..]));
        assert_eq!(poll_command(DeviceProtocol::Cas), None);
        assert_eq!(command_bytes(DeviceProtocol::Toledo8217, ScaleCommand::ClearTare), Some(&b"C"[..]));
        assert_eq!(command_bytes(DeviceProtocol::MtSics, ScaleCommand::ClearTare), Some(&b"TAC\r\n"[..]));
        assert_eq!(zero_command(DeviceProtocol::Generic), None);
        assert_eq!(tare_command(DeviceProtocol::HidScale), None);
        let q = commands_for("scale-test-queue");
        for _ in 0..MAX_QUEUED_COMMANDS {
            q.send(ScaleCommand::Tare).unwrap();
        }
        assert!(matches!(q.send(ScaleCommand::Zero), Err(ScaleError::QueueFull(8))));
        // The same device id gets the same queue.
        assert_eq!(commands_for("scale-test-queue").take(), Some(ScaleCommand::Tare));
        assert_eq!(q.pending(), MAX_QUEUED_COMMANDS - 1);
        assert!(matches!(Codec::new(DeviceProtocol::Escpos, &ScaleSettings::default()), Err(ScaleError::NotSerialScale("escpos"))));
        let e = Codec::new(DeviceProtocol::Generic, &ScaleSettings::default()).unwrap_err().to_string();
        assert!(e.contains("needs a pattern"), "{e}");
    }
}
