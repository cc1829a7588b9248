//! The hub's side of a storehub shelf node on a serial line (the `storehub-wire` protocol).
//!
//! [`run_node`] reads frames through a bounded [`FrameAccumulator`], records the node's identity
//! from its hello (node id in 16 hex digits and firmware version; a node speaking another
//! protocol version is refused), turns readings into [`DeviceEvent::ShelfWeight`] (only for channels
//! the node has not reported uncalibrated: their grams are raw counts), keeps each
//! channel's health and last reading (grams, raw, stable) on the health board and shows the worst
//! channel in the device's status (`channel_1_no_data`), counts every bad frame in health by kind
//! (`crc`, `cobs`, `overlong`, `truncated`, `postcard`; `node_rejected_frame` for ours the node
//! refused), marks a silent node `no_heartbeat`, and sends the commands queued on a
//! [`NodeCommands`] handle (tare, calibrate, identify, sample rate, reboot, enter bootloader),
//! matching their acks by sequence number. It never decides anything about products: that is
//! the tracker's job.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use storehub_wire::{encode_frame, AckCode, ChannelState, Feed, FrameAccumulator, HubMsg, NodeMsg, MAX_FRAME_LEN, PROTOCOL_VERSION};

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

    /// What the answer means for the person who pressed the button, in zh-CN and English.
    pub fn explain(&self) -> (String, String) {
        let (zh, en) = match self.reason() {
            Some(AckCode::Ok) => ("完成", "done"),
            Some(AckCode::UnknownChannel) => ("节点没有这个通道，请检查通道号", "the node has no such channel; check the channel number"),
            Some(AckCode::NotStable) => ("重量还在变化，请稍候再按", "the weight is still moving; wait until it settles and press again"),
            Some(AckCode::BadValue) => (
                "数值超出节点接受的范围（重量至少 1 克，采样率每秒 1–10 次）",
                "the value is outside what the node takes (a weight of 1 g or more, a sample rate of 1 to 10 per second)",
            ),
            Some(AckCode::Busy) => ("节点正忙，请稍后再试", "the node is busy with another command; try again in a moment"),
            Some(AckCode::UnknownCommand) => (
                "节点固件不认识这个命令，请升级固件（storehub firmware update）",
                "the node's firmware does not know this command; update it (storehub firmware update)",
            ),
            Some(AckCode::StorageFailed) => (
                "校准未能写入节点闪存，节点仍使用旧的校准；请再试一次，仍失败请更换节点",
                "the node could not write the calibration to its flash and keeps the old one; try again, and replace the node if it keeps failing",
            ),
            Some(AckCode::ChannelFault) => (
                "该通道的 HX711 没有数据，无法去皮或校准；请检查称重传感器接线",
                "the channel's HX711 delivers no samples, so there is nothing to tare or calibrate against; check the load cell's wiring",
            ),
            None => {
                return (
                    format!("节点返回了未知代码 {}，请升级本机软件", self.code),
                    format!("the node answered code {}, which this hub does not know; update the hub", self.code),
                )
            }
        };
        (zh.to_string(), en.to_string())
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

    /// Queues an identify: the node blinks its LED for `seconds`.
    pub fn identify(&self, seconds: u8) -> Result<u16, CommandError> {
        self.queue(|seq| HubMsg::Identify { seq, seconds })
    }

    /// Queues a sample-rate change: each channel reported `per_s` times a second (1..=10).
    pub fn set_sample_rate(&self, per_s: u8) -> Result<u16, CommandError> {
        self.queue(|seq| HubMsg::SetSampleRate { seq, per_s })
    }

    /// Queues a restart of the node (it acks first).
    pub fn reboot(&self) -> Result<u16, CommandError> {
        self.queue(|seq| HubMsg::Reboot { seq })
    }

    /// Queues a restart into the RP2040's USB boot ROM (the RPI-RP2 drive) for a UF2 update;
    /// the node acks first, then its serial port goes away.
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
    /// The hello was refused (`protocol_mismatch`: another protocol version; `wrong_node`: not
    /// the configured node id): readings are dropped until a good hello.
    refused: Option<&'static str>,
    channels: Option<u8>,
    last_seq: Option<u16>,
    silent: bool,
    /// Each channel's state as the node last reported it.
    states: BTreeMap<u8, ChannelState>,
    /// Channels the node said hold no calibration of their own: their grams are raw counts, so
    /// they reach health (for the calibration page) but not the tracker, which would read a new
    /// node's 8 000 counts as 14 bottles and write made-up shelf events.
    uncalibrated: BTreeSet<u8>,
    status: Option<String>,
}

impl Session {
    /// The worst condition: a refused protocol, then silence, then the worst channel (no data
    /// before saturated, the lowest channel first), e.g. `channel_1_no_data`.
    fn status(&self) -> Option<String> {
        if let Some(why) = self.refused {
            return Some(why.into());
        }
        if self.silent {
            return Some("no_heartbeat".into());
        }
        [ChannelState::NoData, ChannelState::Saturated]
            .into_iter()
            .find_map(|bad| self.states.iter().find(|(_, s)| **s == bad).map(|(c, s)| format!("channel_{c}_{}", s.as_str())))
    }
}

/// A node id as the node's USB serial number and the config's `node_id` spell it: 16 hex
/// digits, upper case.
pub fn node_id_hex(node_id: u64) -> String {
    format!("{node_id:016X}")
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
        if crate::devices::transport::is_gone(&e) {
            DriverExit::Closed
        } else {
            DriverExit::Io(e)
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
            ctx.health.set_status(ctx.id(), status.as_deref());
            session.status = status;
        }
    }
}

fn handle(ctx: &DriverCtx, commands: &NodeCommands, session: &mut Session, msg: NodeMsg) {
    match msg {
        NodeMsg::Hello { protocol, node_id, fw_version, channels } => {
            if protocol != PROTOCOL_VERSION {
                session.refused = Some("protocol_mismatch");
                ctx.input_error(
                    "protocol_version",
                    &format!("node {node_id} speaks protocol {protocol}, this hub speaks {PROTOCOL_VERSION}; its readings are ignored until the node's firmware or the hub is updated"),
                );
                return;
            }
            if let Some(want) = ctx.device.shelf_settings().node_id.as_deref().and_then(crate::devices::discover::parse_node_id) {
                if want != node_id {
                    session.refused = Some("wrong_node");
                    ctx.input_error(
                        "wrong_node",
                        &format!("the port answers as node {}, but [devices.shelf].node_id is {}; its readings are ignored", node_id_hex(node_id), node_id_hex(want)),
                    );
                    return;
                }
            }
            session.refused = None;
            session.channels = Some(channels);
            session.last_seq = None;
            session.states.clear();
            session.uncalibrated.clear();
            ctx.health.reset_channels(ctx.id());
            let model = format!("storehub-node {} ({channels} channels)", node_id_hex(node_id));
            ctx.health.set_identity(ctx.id(), Some(&model), Some(&fw_version.to_string()));
        }
        NodeMsg::Reading { seq, channel, grams, stable, raw } => {
            if session.refused.is_some() {
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
            ctx.health.update_channel(ctx.id(), channel, |c| (c.grams, c.raw, c.stable) = (Some(i64::from(grams)), Some(raw), Some(stable)));
            if session.uncalibrated.contains(&channel) {
                return;
            }
            (ctx.emit)(DeviceEvent::ShelfWeight { device: ctx.id().to_string(), channel, grams: i64::from(grams), stable, at });
        }
        NodeMsg::Heartbeat { .. } => {}
        NodeMsg::ChannelHealth { channel, state, calibrated, timeouts, saturated } => {
            if session.refused.is_some() {
                return;
            }
            if let Some(n) = session.channels.filter(|n| channel >= *n) {
                ctx.input_error("bad_channel", &format!("health of channel {channel}, but the node said it has {n}"));
                return;
            }
            if calibrated {
                session.uncalibrated.remove(&channel);
            } else {
                session.uncalibrated.insert(channel);
            }
            let known = ChannelState::from_u8(state);
            match known {
                Some(st) => {
                    session.states.insert(channel, st);
                }
                None => {
                    session.states.remove(&channel);
                    ctx.input_error("bad_channel_state", &format!("channel {channel} reported state {state}, which this hub does not know; update the hub"));
                }
            }
            ctx.health.update_channel(ctx.id(), channel, |c| {
                c.state = known.map_or("unknown", ChannelState::as_str).to_string();
                c.calibrated = Some(calibrated);
                (c.timeouts, c.saturated) = (timeouts, saturated);
            });
        }
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
    fn every_ack_code_has_words_for_the_page() {
        let (zh, en) = Ack { ok: false, code: 2 }.explain();
        assert_eq!((zh.as_str(), en.as_str()), ("重量还在变化，请稍候再按", "the weight is still moving; wait until it settles and press again"));
        assert!(Ack { ok: false, code: 6 }.explain().1.contains("keeps the old one"));
        assert!(Ack { ok: false, code: 7 }.explain().1.contains("check the load cell's wiring"));
        assert!(Ack { ok: false, code: 9 }.explain().1.contains("code 9"));
        for code in AckCode::ALL {
            assert!(!Ack { ok: false, code: code as u8 }.explain().0.is_empty());
        }
    }

    #[test]
    fn the_worst_channel_shows_in_the_status() {
        let mut s = Session::default();
        assert_eq!(s.status(), None);
        s.states.insert(0, ChannelState::Ok);
        s.states.insert(3, ChannelState::Saturated);
        assert_eq!(s.status().as_deref(), Some("channel_3_saturated"));
        s.states.insert(2, ChannelState::NoData);
        s.states.insert(1, ChannelState::NoData);
        assert_eq!(s.status().as_deref(), Some("channel_1_no_data"));
        s.silent = true;
        assert_eq!(s.status().as_deref(), Some("no_heartbeat"));
        assert_eq!(node_id_hex(0xE660_4CB0_2B3A_1F25), "E6604CB02B3A1F25");
        assert_eq!(node_id_hex(77), "000000000000004D");
    }

    #[test]
    fn new_commands_carry_their_arguments() {
        let cmds = NodeCommands::new();
        assert_eq!(cmds.identify(10), Ok(1));
        assert_eq!(cmds.set_sample_rate(5), Ok(2));
        assert_eq!(cmds.reboot(), Ok(3));
        assert_eq!(cmds.enter_bootloader(), Ok(4));
        let sent: Vec<HubMsg> = std::iter::from_fn(|| cmds.take_outgoing()).collect();
        assert_eq!(
            sent,
            vec![HubMsg::Identify { seq: 1, seconds: 10 }, HubMsg::SetSampleRate { seq: 2, per_s: 5 }, HubMsg::Reboot { seq: 3 }, HubMsg::EnterBootloader { seq: 4 }]
        );
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
