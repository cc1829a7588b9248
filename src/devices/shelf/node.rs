//! The hub's side of a storehub shelf node on a serial line (the `storehub-wire` protocol).
//!
//! [`run_node`] reads frames through a bounded [`FrameAccumulator`], records the node's identity
//! from its hello (and refuses a node speaking another protocol version), turns readings into
//! [`DeviceEvent::ShelfWeight`], counts every bad frame in health by kind (`crc`, `cobs`,
//! `overlong`, `truncated`, `postcard`), marks a silent node `no_heartbeat`, and sends the tare
//! and calibrate commands queued on a [`NodeCommands`] handle, matching their acks by sequence
//! number. It never decides anything about products: that is the tracker's job.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use storehub_wire::{encode_frame, AckCode, Feed, FrameAccumulator, HubMsg, NodeMsg, MAX_FRAME_LEN, PROTOCOL_VERSION};

use crate::devices::transport::{read_some, Link, ReadOutcome};
use crate::devices::{DeviceEvent, DriverCtx, DriverExit};

/// How long one read waits before the loop looks at commands, the stop flag and the heartbeat.
pub const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Commands queued and not yet written; more are refused.
pub const MAX_QUEUED: usize = 8;
/// Commands written and not yet acknowledged (or acknowledged and not yet collected) that are
/// remembered; the oldest is forgotten beyond this.
pub const MAX_PENDING: usize = 16;

/// What a node answered to a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub ok: bool,
    /// The code byte as sent.
    pub code: u8,
}

impl Ack {
    /// The code as an [`AckCode`], when this hub knows it.
    pub fn reason(&self) -> Option<AckCode> {
        AckCode::from_u8(self.code)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("{MAX_QUEUED} commands are already waiting to be sent to the node; try again in a moment")]
    QueueFull,
    #[error("the node did not acknowledge command {seq} in time; check that it is connected (health shows no_heartbeat when it is silent)")]
    Timeout { seq: u16 },
    #[error("command {seq} is not known (it was never sent, or was forgotten after {MAX_PENDING} newer ones)")]
    Unknown { seq: u16 },
}

#[derive(Debug, Default)]
struct Commands {
    last_seq: u16,
    outgoing: VecDeque<HubMsg>,
    /// Sent (or queued) commands by seq: `None` until acknowledged.
    pending: BTreeMap<u16, Option<Ack>>,
    order: VecDeque<u16>,
}

/// A handle to send tare and calibrate commands to one node and wait for their acks. Cheap to
/// clone; the device manager keeps one per node and passes it to [`run_node_with`].
#[derive(Debug, Clone, Default)]
pub struct NodeCommands {
    inner: Arc<(Mutex<Commands>, Condvar)>,
}

impl NodeCommands {
    pub fn new() -> NodeCommands {
        NodeCommands::default()
    }

    fn queue(&self, make: impl FnOnce(u16) -> HubMsg) -> Result<u16, CommandError> {
        let mut c = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        if c.outgoing.len() >= MAX_QUEUED {
            return Err(CommandError::QueueFull);
        }
        c.last_seq = c.last_seq.wrapping_add(1).max(1);
        let seq = c.last_seq;
        c.outgoing.push_back(make(seq));
        c.pending.insert(seq, None);
        c.order.push_back(seq);
        while c.order.len() > MAX_PENDING {
            if let Some(old) = c.order.pop_front() {
                c.pending.remove(&old);
            }
        }
        Ok(seq)
    }

    /// Queues a tare of `channel`; returns the command's sequence number.
    pub fn tare(&self, channel: u8) -> Result<u16, CommandError> {
        self.queue(|seq| HubMsg::Tare { seq, channel })
    }

    /// Queues a calibration of `channel` with `known_grams` on it.
    pub fn calibrate(&self, channel: u8, known_grams: i32) -> Result<u16, CommandError> {
        self.queue(|seq| HubMsg::Calibrate { seq, channel, known_grams })
    }

    /// Queues a reset into the RP2040's USB bootloader (its RPI-RP2 drive takes a UF2 image;
    /// `devices::shelf::firmware`). The node acks, then its serial port goes away.
    pub fn enter_bootloader(&self) -> Result<u16, CommandError> {
        self.queue(|seq| HubMsg::EnterBootloader { seq })
    }

    /// Waits up to `timeout` for the ack of command `seq`.
    pub fn wait(&self, seq: u16, timeout: Duration) -> Result<Ack, CommandError> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.inner;
        let mut c = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match c.pending.get(&seq) {
                None => return Err(CommandError::Unknown { seq }),
                Some(Some(ack)) => {
                    let ack = *ack;
                    c.pending.remove(&seq);
                    c.order.retain(|s| *s != seq);
                    return Ok(ack);
                }
                Some(None) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(CommandError::Timeout { seq });
            }
            c = cv.wait_timeout(c, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn take_outgoing(&self) -> Option<HubMsg> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner()).outgoing.pop_front()
    }

    /// Records an ack; false when no command with that seq is waiting.
    fn complete(&self, seq: u16, ack: Ack) -> bool {
        let (lock, cv) = &*self.inner;
        let mut c = lock.lock().unwrap_or_else(|e| e.into_inner());
        match c.pending.get_mut(&seq) {
            Some(slot @ None) => {
                *slot = Some(ack);
                cv.notify_all();
                true
            }
            _ => false,
        }
    }
}

/// What the driver knows of the node on the line.
#[derive(Debug, Default)]
struct Session {
    /// The hello carried another protocol version: readings are dropped until a good hello.
    refused: bool,
    channels: Option<u8>,
    last_seq: Option<u16>,
    silent: bool,
    status: Option<&'static str>,
}

impl Session {
    fn status(&self) -> Option<&'static str> {
        if self.refused {
            Some("protocol_mismatch")
        } else if self.silent {
            Some("no_heartbeat")
        } else {
            None
        }
    }
}

fn write_frame(link: &mut dyn Link, msg: &HubMsg) -> std::io::Result<()> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let frame = encode_frame(msg, &mut buf).map_err(|e| std::io::Error::other(format!("cannot encode {msg:?}: {e}")))?;
    link.write_all(frame)?;
    link.flush()
}

/// Like [`run_node_with`], with a command handle nobody else holds.
pub fn run_node(link: &mut dyn Link, ctx: &DriverCtx) -> DriverExit {
    run_node_with(link, ctx, &NodeCommands::new())
}

/// Reads one node until the line closes or the hub stops, sending the commands queued on
/// `commands`. On start it asks the node to say hello again (the node does not know the hub
/// reopened the port).
pub fn run_node_with(link: &mut dyn Link, ctx: &DriverCtx, commands: &NodeCommands) -> DriverExit {
    let settings = ctx.device.shelf_settings();
    let silence = Duration::from_millis(settings.heartbeat_timeout_ms);
    let exit = |e: std::io::Error| -> DriverExit {
        ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
        match e.raw_os_error() {
            Some(libc::EIO) | Some(libc::ENODEV) | Some(libc::ENXIO) => DriverExit::Closed,
            _ if e.kind() == std::io::ErrorKind::BrokenPipe => DriverExit::Closed,
            _ => DriverExit::Io(e),
        }
    };
    if let Err(e) = link.set_read_timeout(READ_TIMEOUT) {
        return exit(e);
    }
    ctx.health.set_connected(ctx.id(), true, ctx.clock.now());
    if let Err(e) = write_frame(link, &HubMsg::RequestHello) {
        return exit(e);
    }
    let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
    let mut buf = [0u8; 256];
    let mut session = Session::default();
    let mut last_frame = Instant::now();
    loop {
        if ctx.stopping() {
            ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
            return DriverExit::Stopped;
        }
        while let Some(msg) = commands.take_outgoing() {
            if let Err(e) = write_frame(link, &msg) {
                return exit(e);
            }
        }
        let n = match read_some(link, &mut buf) {
            Ok(ReadOutcome::Data(n)) => n,
            Ok(ReadOutcome::Idle) => 0,
            Ok(ReadOutcome::Closed) => {
                ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
                return DriverExit::Closed;
            }
            Err(e) => return exit(e),
        };
        let mut window = &buf[..n];
        loop {
            match acc.feed::<NodeMsg>(window) {
                Feed::Consumed => break,
                Feed::Message(msg, rest) => {
                    last_frame = Instant::now();
                    session.silent = false;
                    handle(ctx, commands, &mut session, msg);
                    window = rest;
                }
                Feed::Error(e, rest) => {
                    ctx.input_error(e.kind(), &e.to_string());
                    window = rest;
                }
            }
        }
        if !session.silent && last_frame.elapsed() > silence {
            session.silent = true;
            ctx.input_error("timeout", &format!("no frame from the node for {} ms; check its cable and power", settings.heartbeat_timeout_ms));
        }
        let status = session.status();
        if status != session.status {
            session.status = status;
            ctx.health.set_status(ctx.id(), status);
        }
    }
}

fn handle(ctx: &DriverCtx, commands: &NodeCommands, session: &mut Session, msg: NodeMsg) {
    match msg {
        NodeMsg::Hello { protocol, node_id, fw_version, channels } => {
            if protocol != PROTOCOL_VERSION {
                session.refused = true;
                ctx.input_error(
                    "protocol_version",
                    &format!("node {node_id} speaks protocol {protocol}, this hub speaks {PROTOCOL_VERSION}; its readings are ignored until the node's firmware or the hub is updated"),
                );
                return;
            }
            session.refused = false;
            session.channels = Some(channels);
            session.last_seq = None;
            let model = format!("storehub-node {node_id} ({channels} channels)");
            ctx.health.set_identity(ctx.id(), Some(&model), Some(&fw_version.to_string()));
        }
        NodeMsg::Reading { seq, channel, grams, stable, raw: _ } => {
            if session.refused {
                return;
            }
            if let Some(last) = session.last_seq {
                let gap = seq.wrapping_sub(last).wrapping_sub(1);
                if gap != 0 {
                    ctx.input_error("seq_gap", &format!("{gap} readings lost before reading {seq}"));
                }
            }
            session.last_seq = Some(seq);
            if let Some(n) = session.channels {
                if channel >= n {
                    ctx.input_error("bad_channel", &format!("reading for channel {channel}, but the node said it has {n}"));
                    return;
                }
            }
            let at = ctx.clock.now();
            ctx.health.event(ctx.id(), at);
            (ctx.emit)(DeviceEvent::ShelfWeight { device: ctx.id().to_string(), channel, grams: grams as i64, stable, at });
        }
        NodeMsg::Heartbeat { .. } => {}
        NodeMsg::ChannelHealth { .. } => {}
        NodeMsg::FrameRejected { kind, total } => {
            let kind = storehub_wire::FrameError::kind_of_code(kind).unwrap_or("unknown");
            ctx.input_error("node_rejected_frame", &format!("the node rejected a frame from the hub ({kind}); {total} since it booted"));
        }
        NodeMsg::Ack { command_seq, ok, code } => {
            if !commands.complete(command_seq, Ack { ok, code }) {
                ctx.input_error("unexpected_ack", &format!("ack for command {command_seq}, which is not waiting"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_get_increasing_seqs_and_acks_wake_the_waiter() {
        let cmds = NodeCommands::new();
        assert_eq!(cmds.tare(0), Ok(1));
        assert_eq!(cmds.calibrate(1, 1000), Ok(2));
        assert_eq!(cmds.take_outgoing(), Some(HubMsg::Tare { seq: 1, channel: 0 }));
        assert_eq!(cmds.take_outgoing(), Some(HubMsg::Calibrate { seq: 2, channel: 1, known_grams: 1000 }));
        assert_eq!(cmds.take_outgoing(), None);
        let waiter = {
            let cmds = cmds.clone();
            std::thread::spawn(move || cmds.wait(2, Duration::from_secs(10)))
        };
        assert!(cmds.complete(2, Ack { ok: false, code: 2 }));
        let ack = waiter.join().unwrap().unwrap();
        assert_eq!(ack.reason(), Some(AckCode::NotStable));
        assert!(!cmds.complete(2, Ack { ok: true, code: 0 }), "collected: no longer waiting");
        assert!(!cmds.complete(99, Ack { ok: true, code: 0 }));
        assert_eq!(cmds.wait(1, Duration::from_millis(1)), Err(CommandError::Timeout { seq: 1 }));
        assert_eq!(cmds.wait(77, Duration::from_millis(1)), Err(CommandError::Unknown { seq: 77 }));
    }

    #[test]
    fn the_queue_is_bounded() {
        let cmds = NodeCommands::new();
        for _ in 0..MAX_QUEUED {
            cmds.tare(0).unwrap();
        }
        assert_eq!(cmds.tare(0), Err(CommandError::QueueFull));
    }
}
