//! The scale driver loop: one [`Codec`] over one [`Link`] (serial or TCP), or HID reports from
//! a [`ReportSource`]. Polled protocols (Toledo 8217, MT-SICS) get a poll every `poll_ms` and
//! `answer_timeout_ms` to answer; streaming ones (CAS, generic) are only read. Readings go to
//! `ctx.emit` when they change, and at most once per poll interval when they do not. Bad input
//! is counted in health and never ends the loop; only the device going away, an I/O error or
//! the stop flag do. The watchdog sets the device status `no_answer` after `offline_after_ms`
//! without a well-formed answer and clears it when answers come back.

use std::io;
use std::time::{Duration, Instant};

use super::framing::{show, Framed};
use super::{commands_for, hid_scale, Codec, Reply, ScaleCommand, ScaleCommands};
use crate::devices::transport::hid::ReportSource;
use crate::devices::transport::{read_some, Link, ReadOutcome};
use crate::devices::{DeviceEvent, DriverCtx, DriverExit, WeightReading, WeightState};

/// The health status the watchdog sets.
pub const NO_ANSWER: &str = "no_answer";
/// The longest a read waits, so the stop flag and the watchdog are looked at this often.
const TICK: Duration = Duration::from_millis(50);

pub(crate) use crate::devices::transport::is_gone;

fn exit_for(e: io::Error) -> DriverExit {
    if is_gone(&e) {
        DriverExit::Closed
    } else {
        DriverExit::Io(e)
    }
}

/// Marks the scale `no_answer` when it has been quiet too long, and clears it.
struct Watchdog {
    last_answer: Instant,
    offline_after: Duration,
    offline: bool,
}

impl Watchdog {
    fn new(offline_after_ms: u64) -> Watchdog {
        Watchdog { last_answer: Instant::now(), offline_after: Duration::from_millis(offline_after_ms.max(1)), offline: false }
    }

    fn answered(&mut self, ctx: &DriverCtx<'_>) {
        self.last_answer = Instant::now();
        if self.offline {
            self.offline = false;
            ctx.health.set_status(ctx.id(), None);
            tracing::info!(device = ctx.id(), "scale answers again");
        }
    }

    fn check(&mut self, ctx: &DriverCtx<'_>) {
        if !self.offline && self.last_answer.elapsed() >= self.offline_after {
            self.offline = true;
            ctx.health.set_status(ctx.id(), Some(NO_ANSWER));
            tracing::warn!(device = ctx.id(), after_ms = self.offline_after.as_millis() as u64, "scale stopped answering");
        }
    }
}

/// Emits readings: every change, and an unchanged one at most once per `min_gap`.
struct Emitter {
    last: Option<(WeightReading, Instant)>,
    min_gap: Duration,
}

impl Emitter {
    fn offer(&mut self, ctx: &DriverCtx<'_>, reading: WeightReading) {
        if reading.state == WeightState::Error {
            ctx.input_error("device_error", "the scale reports an error (fault, calibration or zero needed)");
        }
        let due = match self.last {
            None => true,
            Some((last, at)) => last != reading || at.elapsed() >= self.min_gap,
        };
        if !due {
            return;
        }
        self.last = Some((reading, Instant::now()));
        let at = ctx.clock.now();
        ctx.health.event(ctx.id(), at);
        (ctx.emit)(DeviceEvent::Weight { device: ctx.id().to_string(), lane: ctx.lane(), reading, at });
    }
}

/// What the driver waits an answer for.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Poll,
    Command(ScaleCommand),
}

struct Loop<'c> {
    codec: &'c Codec,
    watchdog: Watchdog,
    emitter: Emitter,
    pending: Option<(Pending, Instant)>,
}

impl Loop<'_> {
    fn on_framed(&mut self, ctx: &DriverCtx<'_>, ev: Framed<'_>) {
        match ev {
            Framed::Garbage(n) => ctx.input_error("garbage", &format!("{n} bytes outside any {} frame", self.codec.protocol().as_str())),
            Framed::Overlong(n) => ctx.input_error("overlong", &format!("a {n}-byte frame without its terminator was dropped")),
            Framed::Frame(frame) => {
                let answering = self.pending.take().map(|(p, _)| p);
                match self.codec.decode(frame) {
                    Ok(reply) => {
                        self.watchdog.answered(ctx);
                        self.on_reply(ctx, answering, reply);
                    }
                    Err(e) => ctx.input_error(e.health_kind(), &e.to_string()),
                }
            }
        }
    }

    fn on_reply(&mut self, ctx: &DriverCtx<'_>, answering: Option<Pending>, reply: Reply) {
        match (answering, reply) {
            // Toledo answers zero / tare / clear tare with a status frame: an acknowledgement,
            // not a weighing.
            (Some(Pending::Command(c)), Reply::Status { detail, .. }) => {
                tracing::info!(device = ctx.id(), command = c.as_str(), status = %detail, "scale answered the command");
            }
            (_, Reply::Reading(r)) | (_, Reply::Status { reading: r, .. }) => self.emitter.offer(ctx, r),
            (_, Reply::Command { command, done: true, detail }) => {
                tracing::info!(device = ctx.id(), command = command.as_str(), %detail, "scale command done");
            }
            (_, Reply::Command { command, done: false, detail }) => {
                ctx.input_error("command_refused", &format!("{}: {detail}", command.as_str()));
            }
            (_, Reply::DeviceError(d)) => ctx.input_error("device_error", &d),
            (_, Reply::NotReady(d)) => tracing::debug!(device = ctx.id(), %d, "scale not ready"),
            (_, Reply::Other(d)) => tracing::debug!(device = ctx.id(), %d, "scale said something else"),
        }
    }
}

/// Runs a serial or TCP scale until it goes away or the hub stops. Zero and tare requests
/// come from [`commands_for`]`(device id)`.
pub fn run(link: &mut dyn Link, ctx: &DriverCtx<'_>) -> DriverExit {
    run_with(link, ctx, &commands_for(ctx.id()))
}

/// [`run`] with an explicit command queue.
pub fn run_with(link: &mut dyn Link, ctx: &DriverCtx<'_>, commands: &ScaleCommands) -> DriverExit {
    let Some(protocol) = ctx.device.protocol() else {
        return DriverExit::Other(format!("device {}: no scale protocol configured", ctx.id()));
    };
    let settings = ctx.device.scale_settings();
    let codec = match Codec::new(protocol, &settings) {
        Ok(c) => c,
        Err(e) => return DriverExit::Other(format!("device {}: {e}", ctx.id())),
    };
    let mut framer = codec.framer();
    if let Err(e) = link.set_read_timeout(TICK.min(Duration::from_millis(settings.answer_timeout_ms.max(5)))) {
        return exit_for(e);
    }
    ctx.health.set_connected(ctx.id(), true, ctx.clock.now());
    let poll_every = Duration::from_millis(settings.poll_ms.max(1));
    let answer_timeout = Duration::from_millis(settings.answer_timeout_ms.max(1));
    let mut state = Loop {
        codec: &codec,
        watchdog: Watchdog::new(settings.offline_after_ms),
        emitter: Emitter { last: None, min_gap: poll_every },
        pending: None,
    };
    let mut next_poll = Instant::now();
    let mut buf = [0u8; 256];
    let exit = loop {
        if ctx.stopping() {
            break DriverExit::Stopped;
        }
        let now = Instant::now();
        if let Some((what, sent)) = state.pending {
            if now.duration_since(sent) >= answer_timeout {
                let what = match what {
                    Pending::Poll => "the weight poll".to_string(),
                    Pending::Command(c) => format!("the {} command", c.as_str()),
                };
                ctx.input_error("timeout", &format!("no answer to {what} within {} ms", answer_timeout.as_millis()));
                state.pending = None;
                framer.reset();
            }
        }
        if state.pending.is_none() {
            if let Some(command) = commands.take() {
                match super::command_bytes(protocol, command) {
                    Some(bytes) => {
                        if let Err(e) = super::send(link, bytes) {
                            break exit_for(e);
                        }
                        tracing::info!(device = ctx.id(), command = command.as_str(), bytes = %show(bytes), "sent to scale");
                        state.pending = Some((Pending::Command(command), now));
                    }
                    None => tracing::warn!(
                        device = ctx.id(),
                        command = command.as_str(),
                        protocol = protocol.as_str(),
                        "this protocol has no such command; use the scale's own key"
                    ),
                }
            } else if let Some(poll) = codec.poll() {
                if now >= next_poll {
                    if let Err(e) = super::send(link, poll) {
                        break exit_for(e);
                    }
                    state.pending = Some((Pending::Poll, now));
                    next_poll = now + poll_every;
                }
            }
        }
        state.watchdog.check(ctx);
        match read_some(link, &mut buf) {
            Ok(ReadOutcome::Closed) => break DriverExit::Closed,
            Ok(ReadOutcome::Idle) => {}
            Ok(ReadOutcome::Data(n)) => framer.push(&buf[..n], &mut |ev| state.on_framed(ctx, ev)),
            Err(e) => break exit_for(e),
        }
    };
    if matches!(exit, DriverExit::Closed | DriverExit::Io(_)) {
        ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
    }
    exit
}

/// Runs a USB HID scale (usage page 0x8D) until it goes away or the hub stops.
pub fn run_hid(source: &mut dyn ReportSource, ctx: &DriverCtx<'_>) -> DriverExit {
    let settings = ctx.device.scale_settings();
    ctx.health.set_connected(ctx.id(), true, ctx.clock.now());
    let mut watchdog = Watchdog::new(settings.offline_after_ms);
    let mut emitter = Emitter { last: None, min_gap: Duration::from_millis(settings.poll_ms.max(1)) };
    let mut buf = [0u8; 64];
    let exit = loop {
        if ctx.stopping() {
            break DriverExit::Stopped;
        }
        watchdog.check(ctx);
        match source.read_report(&mut buf, TICK) {
            Ok(ReadOutcome::Closed) => break DriverExit::Closed,
            Ok(ReadOutcome::Idle) => {}
            Ok(ReadOutcome::Data(n)) => match hid_scale::decode_report(&buf[..n.min(buf.len())]) {
                Ok(Some(reading)) => {
                    watchdog.answered(ctx);
                    emitter.offer(ctx, reading);
                }
                Ok(None) => watchdog.answered(ctx),
                Err(e) => ctx.input_error(e.health_kind(), &e.to_string()),
            },
            Err(e) => break exit_for(e),
        }
    };
    if matches!(exit, DriverExit::Closed | DriverExit::Io(_)) {
        ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
    }
    exit
}
