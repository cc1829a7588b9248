//! The node itself, as a sans-I/O state machine the RP2040 firmware and the host simulator both
//! drive: they hand it raw HX711 samples per channel and the bytes that arrive from the hub, call
//! [`Node::poll`] often, write out the frames it produces, and carry out the [`Effect`]s it
//! returns (after the frames before them are written, so an ack goes out before a reboot).
//!
//! Per channel it runs the filter (median of N, then a moving average), the stability band and
//! the calibration; it reports readings at the configured rate, a heartbeat every 2 s followed by
//! every channel's health, answers each command with an ack, answers a bad frame with
//! [`NodeMsg::FrameRejected`], and keeps calibrations in flash through [`Store`].
//! Time is milliseconds since boot, as a u64 (never wraps).
//!
//! # Rules, in numbers
//! - Filter: [`ChannelFilter`] = median of 5, then the mean of the last 4 medians. At the
//!   HX711's 80 samples/s that is 16 filtered values a second (more than the 10 readings a second
//!   the hub can ask for) and the mean spans 250 ms; at 10 samples/s, 2 values a second.
//! - Stable: the last [`STABLE_WINDOW`] (8) filtered values lie within [`STABLE_BAND_COUNTS`]
//!   (200 counts; [`Node::with_stable_band`] changes it) — half a second at 80 samples/s.
//! - Health: a channel is `NoData` when its last sample is more than [`NO_DATA_MS`] (400 ms, four
//!   periods of the HX711's slow rate) old — counted from [`Node::start`] before the first
//!   sample — and its filter, stability and value are then forgotten (no readings until fresh
//!   samples have filled the filter again); `Saturated` when its last sample sat at
//!   [`hx711::MIN`] or [`hx711::MAX`]; `Ok` otherwise. `timeouts` counts the 400 ms windows a
//!   silence has passed: the k-th timeout of a silence is counted once it is longer than
//!   k × 400 ms (so the first one comes with the switch to `NoData`). `saturated` counts samples at
//!   the rails. Both wrap at u16. `calibrated` means the channel has a scale factor of its own
//!   (grams_ref/counts_ref differ from [`Calibration::UNCALIBRATED`]'s 1/1); a tare alone keeps it
//!   false.
//! - Commands refer to the channel as it is when the command arrives: tare and calibrate need a
//!   channel in state `Ok` with a filtered value (else [`AckCode::ChannelFault`]: a saturated
//!   channel has nothing trustworthy to tare against either) and a stable one (else
//!   [`AckCode::NotStable`]). A frame that does not decode — unknown variants included, they are
//!   postcard errors — is answered with [`NodeMsg::FrameRejected`]; [`AckCode::UnknownCommand`] is
//!   left for a command a later protocol version lets a node decode but not carry out.
//! - Identify blinks for `seconds` from when it arrives (0 stops a blink in progress).
//! - A command that returns an [`Effect`] ends the handling of that chunk of bytes: the node is
//!   about to restart, so the bytes after that frame are dropped.

use storehub_wire::{AckCode, ChannelState, Feed, FrameAccumulator, FwVersion, HubMsg, NodeMsg, MAX_FRAME_LEN, PROTOCOL_VERSION};

use crate::calibration::{Calibration, CalibrationError};
use crate::filter::MedianThenAverage;
use crate::flash::{Flash, Store, CHANNELS};
use crate::hx711;
use crate::stability::Stability;

/// Each channel's filter: median of 5 samples, then the mean of the last 4 medians.
pub type ChannelFilter = MedianThenAverage<5, 4>;

/// How many filtered values the stability band looks at.
pub const STABLE_WINDOW: usize = 8;

/// The default stability band, in counts (max − min of the last [`STABLE_WINDOW`] values).
pub const STABLE_BAND_COUNTS: u32 = 200;

/// A channel without a sample for longer than this is `NoData`.
pub const NO_DATA_MS: u64 = 400;

/// Between two heartbeats.
pub const HEARTBEAT_MS: u64 = 2_000;

/// Between two rounds of readings until the hub sets another rate (10 a second).
pub const DEFAULT_REPORT_MS: u64 = 100;

/// Identify blinks the LED: this long on, then this long off.
pub const IDENTIFY_TOGGLE_MS: u64 = 100;

/// A healthy node lights its LED this long at the start of every second.
pub const HEALTHY_BLINK_MS: u64 = 50;

/// What a board tells the node about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeConfig {
    /// The flash unique id (RP2040) or a simulator's chosen id.
    pub node_id: u64,
    pub fw_version: FwVersion,
    /// Channels wired, 1..=4.
    pub channels: u8,
}

/// What the board must do once the frames produced so far are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Restart the node (RP2040: watchdog reset).
    Reboot,
    /// Restart into the USB boot ROM for a UF2 update (RP2040: `reset_to_usb_boot`).
    EnterBootloader,
}

/// One load-cell channel: its filter, stability, latest value and health.
#[derive(Debug, Clone)]
struct Channel {
    filter: ChannelFilter,
    stability: Stability<STABLE_WINDOW>,
    /// The latest filtered raw count and whether it was stable.
    filtered: Option<i32>,
    stable: bool,
    /// When the last sample came (or the node started, before the first one).
    last_sample_ms: u64,
    last_saturated: bool,
    /// Timeouts of the current silence already counted.
    silent_windows: u64,
    timeouts: u16,
    saturated: u16,
    /// The state last sent to the hub.
    reported: ChannelState,
}

impl Channel {
    fn new(band: u32) -> Channel {
        Channel {
            filter: ChannelFilter::new(),
            stability: Stability::new(band),
            filtered: None,
            stable: false,
            last_sample_ms: 0,
            last_saturated: false,
            silent_windows: 0,
            timeouts: 0,
            saturated: 0,
            reported: ChannelState::Ok,
        }
    }

    fn state(&self, now_ms: u64) -> ChannelState {
        if now_ms.saturating_sub(self.last_sample_ms) > NO_DATA_MS {
            ChannelState::NoData
        } else if self.last_saturated {
            ChannelState::Saturated
        } else {
            ChannelState::Ok
        }
    }

    /// Counts the timeouts the current silence has reached by `now_ms` (see the module docs).
    fn count_timeouts(&mut self, now_ms: u64) {
        let silence = now_ms.saturating_sub(self.last_sample_ms);
        let windows = silence.saturating_sub(1) / NO_DATA_MS;
        if windows > self.silent_windows {
            // Wrapping u16 counter: adding the difference modulo 2^16 is the same as adding 1
            // that many times.
            self.timeouts = self.timeouts.wrapping_add((windows - self.silent_windows) as u16);
            self.silent_windows = windows;
        }
    }

    /// Forgets the filtered value (after a silence: it no longer says what is on the shelf).
    fn forget(&mut self) {
        self.filter.reset();
        self.stability.reset();
        self.filtered = None;
        self.stable = false;
    }
}

/// A shelf node's logic. `F` is the flash the calibrations live in.
pub struct Node<F: Flash> {
    config: NodeConfig,
    store: Store<F>,
    calibrations: [Calibration; CHANNELS],
    channels: [Channel; CHANNELS],
    /// The next reading's sequence number.
    seq: u16,
    report_ms: u64,
    next_report_ms: u64,
    next_heartbeat_ms: u64,
    frames: FrameAccumulator<MAX_FRAME_LEN>,
    /// Frames rejected since boot.
    rejected: u32,
    /// Identify blinks from `identify_from_ms` until `identify_until_ms`.
    identify_from_ms: u64,
    identify_until_ms: u64,
}

impl<F: Flash> Node<F> {
    /// A node with the calibrations found in `store` (uncalibrated channels when none). A
    /// `config.channels` above [`CHANNELS`] is taken as [`CHANNELS`].
    pub fn new(config: NodeConfig, mut store: Store<F>) -> Node<F> {
        let config = NodeConfig { channels: config.channels.min(CHANNELS as u8), ..config };
        let calibrations = store.load().map_or([Calibration::UNCALIBRATED; CHANNELS], |r| r.channels);
        let channel = Channel::new(STABLE_BAND_COUNTS);
        Node {
            config,
            store,
            calibrations,
            channels: core::array::from_fn(|_| channel.clone()),
            seq: 0,
            report_ms: DEFAULT_REPORT_MS,
            next_report_ms: 0,
            next_heartbeat_ms: 0,
            frames: FrameAccumulator::new(),
            rejected: 0,
            identify_from_ms: 0,
            identify_until_ms: 0,
        }
    }

    /// The same node with another stability band, in counts (a cell with fewer counts per gram
    /// wants a narrower one). Call before feeding samples.
    pub fn with_stable_band(mut self, band_counts: u32) -> Node<F> {
        for c in self.channels.iter_mut() {
            c.stability = Stability::new(band_counts);
            c.stable = false;
        }
        self
    }

    /// Call once at boot: emits a lone 0x00 (ends any half-frame at the hub) and the hello,
    /// then every channel's health.
    pub fn start(&mut self, now_ms: u64, out: &mut dyn FnMut(&[u8])) {
        out(&[0x00]);
        self.hello(out);
        for ch in 0..self.len() {
            if let Some(c) = self.channels.get_mut(ch) {
                c.last_sample_ms = c.last_sample_ms.max(now_ms);
            }
            self.health(ch, now_ms, out);
        }
        self.next_report_ms = now_ms.saturating_add(self.report_ms);
        self.next_heartbeat_ms = now_ms.saturating_add(HEARTBEAT_MS);
    }

    /// A raw sample (already decoded from 24 bits) from `channel`'s HX711. Samples of channels
    /// the node does not have are ignored.
    pub fn on_sample(&mut self, channel: u8, raw: i32, now_ms: u64) {
        let ch = usize::from(channel);
        if ch >= self.len() {
            return;
        }
        let Some(c) = self.channels.get_mut(ch) else { return };
        c.count_timeouts(now_ms);
        if c.state(now_ms) == ChannelState::NoData {
            c.forget();
        }
        c.last_sample_ms = now_ms;
        c.silent_windows = 0;
        c.last_saturated = hx711::saturated(raw);
        if c.last_saturated {
            c.saturated = c.saturated.wrapping_add(1);
        }
        if let Some(v) = c.filter.push(raw) {
            c.filtered = Some(v);
            c.stable = c.stability.push(v);
        }
    }

    /// Bytes from the hub, in any chunking. Answers every frame; returns the effect a command
    /// asked for (carry it out after writing the frames).
    pub fn on_bytes(&mut self, bytes: &[u8], now_ms: u64, out: &mut dyn FnMut(&[u8])) -> Option<Effect> {
        let mut window = bytes;
        loop {
            match self.frames.feed::<HubMsg>(window) {
                Feed::Consumed => return None,
                Feed::Message(msg, rest) => {
                    if let Some(effect) = self.command(msg, now_ms, out) {
                        return Some(effect);
                    }
                    window = rest;
                }
                Feed::Error(e, rest) => {
                    self.rejected = self.rejected.wrapping_add(1);
                    send(&NodeMsg::FrameRejected { kind: e.code(), total: self.rejected }, out);
                    window = rest;
                }
            }
        }
    }

    /// Call at least every few milliseconds: emits due readings, heartbeats and health.
    pub fn poll(&mut self, now_ms: u64, out: &mut dyn FnMut(&[u8])) {
        for ch in 0..self.len() {
            let Some(c) = self.channels.get_mut(ch) else { continue };
            c.count_timeouts(now_ms);
            let state = c.state(now_ms);
            if state == ChannelState::NoData {
                c.forget();
            }
            if state != c.reported {
                self.health(ch, now_ms, out);
            }
        }
        if now_ms >= self.next_report_ms {
            for ch in 0..self.len() {
                self.reading(ch, out);
            }
            self.next_report_ms = next_due(self.next_report_ms, self.report_ms, now_ms);
        }
        if now_ms >= self.next_heartbeat_ms {
            let uptime_s = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX);
            send(&NodeMsg::Heartbeat { uptime_s }, out);
            for ch in 0..self.len() {
                self.health(ch, now_ms, out);
            }
            self.next_heartbeat_ms = next_due(self.next_heartbeat_ms, HEARTBEAT_MS, now_ms);
        }
    }

    /// Whether the board's LED should be lit now (identify blinks fast; a healthy node blinks
    /// briefly once a second; a channel fault keeps it lit).
    pub fn led_on(&self, now_ms: u64) -> bool {
        if now_ms < self.identify_until_ms {
            return (now_ms.saturating_sub(self.identify_from_ms) / IDENTIFY_TOGGLE_MS) % 2 == 0;
        }
        let fault = self.channels.iter().take(self.len()).any(|c| c.state(now_ms) != ChannelState::Ok);
        fault || now_ms % 1000 < HEALTHY_BLINK_MS
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The calibrations in use.
    pub fn calibrations(&self) -> &[Calibration; CHANNELS] {
        &self.calibrations
    }

    /// The store (the simulator saves its flash image to a file after a calibration).
    pub fn store(&self) -> &Store<F> {
        &self.store
    }

    /// The store, to change (the simulator and tests cut the simulated flash's power).
    pub fn store_mut(&mut self) -> &mut Store<F> {
        &mut self.store
    }

    /// Milliseconds between two rounds of readings (100 until the hub sets another rate).
    pub fn report_period_ms(&self) -> u64 {
        self.report_ms
    }

    /// Channels served (the configured count, at most [`CHANNELS`]).
    fn len(&self) -> usize {
        usize::from(self.config.channels).min(CHANNELS)
    }

    fn hello(&self, out: &mut dyn FnMut(&[u8])) {
        let c = &self.config;
        send(&NodeMsg::Hello { protocol: PROTOCOL_VERSION, node_id: c.node_id, fw_version: c.fw_version, channels: c.channels }, out);
    }

    /// Sends channel `ch`'s health as it is at `now_ms` and remembers it as reported.
    fn health(&mut self, ch: usize, now_ms: u64, out: &mut dyn FnMut(&[u8])) {
        let calibrated = self.calibrations.get(ch).is_some_and(|k| (k.grams_ref, k.counts_ref) != (1, 1));
        let Some(c) = self.channels.get_mut(ch) else { return };
        let state = c.state(now_ms);
        c.reported = state;
        let msg = NodeMsg::ChannelHealth {
            channel: ch as u8,
            state: state as u8,
            calibrated,
            timeouts: c.timeouts,
            saturated: c.saturated,
        };
        send(&msg, out);
    }

    fn reading(&mut self, ch: usize, out: &mut dyn FnMut(&[u8])) {
        let (Some(c), Some(cal)) = (self.channels.get(ch), self.calibrations.get(ch)) else { return };
        let Some(raw) = c.filtered else { return };
        let msg = NodeMsg::Reading { seq: self.seq, channel: ch as u8, grams: cal.grams(raw), stable: c.stable, raw };
        self.seq = self.seq.wrapping_add(1);
        send(&msg, out);
    }

    fn command(&mut self, msg: HubMsg, now_ms: u64, out: &mut dyn FnMut(&[u8])) -> Option<Effect> {
        let (seq, result, effect) = match msg {
            HubMsg::RequestHello => {
                // The hello, then every channel's health: a hub that reopened the port learns at
                // once which channels are calibrated (it keeps raw counts of the others away from
                // its stock tracker), not at the next heartbeat.
                self.hello(out);
                for ch in 0..self.len() {
                    self.health(ch, now_ms, out);
                }
                return None;
            }
            HubMsg::Tare { seq, channel } => (seq, self.tare(channel, now_ms), None),
            HubMsg::Calibrate { seq, channel, known_grams } => (seq, self.calibrate(channel, known_grams, now_ms), None),
            HubMsg::Identify { seq, seconds } => {
                self.identify_from_ms = now_ms;
                self.identify_until_ms = now_ms.saturating_add(u64::from(seconds) * 1000);
                (seq, Ok(()), None)
            }
            HubMsg::SetSampleRate { seq, per_s } => {
                let result = if (1..=10).contains(&per_s) {
                    self.report_ms = 1000 / u64::from(per_s);
                    self.next_report_ms = now_ms.saturating_add(self.report_ms);
                    Ok(())
                } else {
                    Err(AckCode::BadValue)
                };
                (seq, result, None)
            }
            HubMsg::Reboot { seq } => (seq, Ok(()), Some(Effect::Reboot)),
            HubMsg::EnterBootloader { seq } => (seq, Ok(()), Some(Effect::EnterBootloader)),
        };
        let code = match result {
            Ok(()) => AckCode::Ok,
            Err(code) => code,
        };
        send(&NodeMsg::Ack { command_seq: seq, ok: result.is_ok(), code: code as u8 }, out);
        effect
    }

    /// The channel a tare or calibrate may use now, and its filtered raw count.
    fn settled(&self, channel: u8, now_ms: u64) -> Result<(usize, i32), AckCode> {
        let ch = usize::from(channel);
        if ch >= self.len() {
            return Err(AckCode::UnknownChannel);
        }
        let c = self.channels.get(ch).ok_or(AckCode::UnknownChannel)?;
        let raw = match (c.state(now_ms), c.filtered) {
            (ChannelState::Ok, Some(raw)) => raw,
            _ => return Err(AckCode::ChannelFault),
        };
        if !c.stable {
            return Err(AckCode::NotStable);
        }
        Ok((ch, raw))
    }

    fn tare(&mut self, channel: u8, now_ms: u64) -> Result<(), AckCode> {
        let (ch, raw) = self.settled(channel, now_ms)?;
        let old = self.calibrations.get(ch).copied().ok_or(AckCode::UnknownChannel)?;
        self.keep(ch, old.tare(raw))
    }

    fn calibrate(&mut self, channel: u8, known_grams: i32, now_ms: u64) -> Result<(), AckCode> {
        if known_grams <= 0 {
            return Err(AckCode::BadValue);
        }
        let (ch, raw) = self.settled(channel, now_ms)?;
        let old = self.calibrations.get(ch).copied().ok_or(AckCode::UnknownChannel)?;
        let new = old.with_known_weight(raw, known_grams).map_err(|e| match e {
            CalibrationError::WeightNotPositive | CalibrationError::NoChange => AckCode::BadValue,
        })?;
        self.keep(ch, new)
    }

    /// Saves the calibrations with channel `ch`'s replaced and uses them once they are in flash
    /// (a calibration equal to the one in use is not written again: no flash wear for a repeated
    /// tare).
    fn keep(&mut self, ch: usize, cal: Calibration) -> Result<(), AckCode> {
        let mut next = self.calibrations;
        *next.get_mut(ch).ok_or(AckCode::UnknownChannel)? = cal;
        if next == self.calibrations {
            return Ok(());
        }
        self.store.save(&next).map_err(|_| AckCode::StorageFailed)?;
        self.calibrations = next;
        Ok(())
    }
}

/// The next time something periodic is due after it was due at `due` and ran at `now`: one
/// period on, or one period after `now` when the node fell more than a period behind.
fn next_due(due: u64, period: u64, now: u64) -> u64 {
    let next = due.saturating_add(period);
    if next <= now {
        now.saturating_add(period)
    } else {
        next
    }
}

/// Encodes `msg` into a frame and hands it to `out` (drops nothing: every message fits).
pub(crate) fn send(msg: &NodeMsg, out: &mut dyn FnMut(&[u8])) {
    let mut buf = [0u8; storehub_wire::MAX_FRAME_LEN];
    if let Ok(frame) = storehub_wire::encode_frame(msg, &mut buf) {
        out(frame);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use storehub_wire::{decode_frame, encode_frame};

    use super::*;
    use crate::flash::RamFlash;

    type TestNode = Node<RamFlash<8192>>;

    const FW: FwVersion = FwVersion { major: 1, minor: 2, patch: 3 };

    fn node_over(flash: RamFlash<8192>, channels: u8) -> TestNode {
        Node::new(NodeConfig { node_id: 12345, fw_version: FW, channels }, Store::new(flash, 0))
    }

    /// Decodes every frame `f` hands to its `out` (a lone 0x00 is skipped).
    fn frames(f: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Vec<NodeMsg> {
        let mut got = Vec::new();
        f(&mut |frame: &[u8]| {
            if frame != [0x00] {
                let mut copy = frame.to_vec();
                got.push(decode_frame::<NodeMsg>(&mut copy).expect("the node sends only valid frames"));
            }
        });
        got
    }

    fn frame_of(msg: &HubMsg) -> Vec<u8> {
        let mut buf = [0u8; MAX_FRAME_LEN];
        encode_frame(msg, &mut buf).unwrap().to_vec()
    }

    fn command(node: &mut TestNode, msg: HubMsg, now: u64) -> (Vec<NodeMsg>, Option<Effect>) {
        let mut effect = None;
        let got = frames(|out| effect = node.on_bytes(&frame_of(&msg), now, out));
        (got, effect)
    }

    fn ack(seq: u16, code: AckCode) -> NodeMsg {
        NodeMsg::Ack { command_seq: seq, ok: code == AckCode::Ok, code: code as u8 }
    }

    /// Runs the node from `*now` for `ms` milliseconds: channel `ch` gets `raw(ch, t)` (when
    /// Some) every 12 ms (about the HX711's 80 samples/s), and the node is polled every 5 ms.
    fn run(node: &mut TestNode, now: &mut u64, ms: u64, raw: impl Fn(u8, u64) -> Option<i32>) -> Vec<NodeMsg> {
        let mut got = Vec::new();
        for _ in 0..ms {
            *now += 1;
            if *now % 12 == 0 {
                for ch in 0..4 {
                    if let Some(r) = raw(ch, *now) {
                        node.on_sample(ch, r, *now);
                    }
                }
            }
            if *now % 5 == 0 {
                got.extend(frames(|out| node.poll(*now, out)));
            }
        }
        got
    }

    fn readings(msgs: &[NodeMsg], channel: u8) -> Vec<(i32, bool, i32)> {
        msgs.iter()
            .filter_map(|m| match *m {
                NodeMsg::Reading { channel: c, grams, stable, raw, .. } if c == channel => Some((grams, stable, raw)),
                _ => None,
            })
            .collect()
    }

    fn healths(msgs: &[NodeMsg]) -> Vec<(u8, u8, bool, u16, u16)> {
        msgs.iter()
            .filter_map(|m| match *m {
                NodeMsg::ChannelHealth { channel, state, calibrated, timeouts, saturated } => Some((channel, state, calibrated, timeouts, saturated)),
                _ => None,
            })
            .collect()
    }

    /// A lone 0x00, then the hello of node 12345 (firmware 1.2.3, 2 channels), worked like the
    /// wire crate's tests: body 00 02 B9 60 01 02 03 02, CRC-32 (zlib.crc32) 0x28517A54 → 54 7A
    /// 51 28; COBS: the body starts with a zero (code 01), then 12 bytes without one (code 0C).
    /// Then both channels' health: Ok, not calibrated, no timeouts, no saturated samples.
    #[test]
    fn start_sends_a_zero_the_hello_and_every_channels_health() {
        let mut node = node_over(RamFlash::new(), 2);
        let mut raw: Vec<Vec<u8>> = Vec::new();
        node.start(0, &mut |f: &[u8]| raw.push(f.to_vec()));
        assert_eq!(raw[0], [0x00]);
        assert_eq!(raw[1], [0x01, 0x0C, 0x02, 0xB9, 0x60, 0x01, 0x02, 0x03, 0x02, 0x54, 0x7A, 0x51, 0x28, 0x00]);
        assert_eq!(raw.len(), 4);
        let rest = frames(|out| node.start(0, out));
        assert_eq!(healths(&rest), [(0, 0, false, 0, 0), (1, 0, false, 0, 0)]);
        // RequestHello is answered with the hello and each channel's health, no ack.
        let (got, effect) = command(&mut node, HubMsg::RequestHello, 5);
        assert_eq!(got[0], NodeMsg::Hello { protocol: 2, node_id: 12345, fw_version: FW, channels: 2 });
        assert_eq!(healths(&got[1..]), [(0, 0, false, 0, 0), (1, 0, false, 0, 0)]);
        assert_eq!(effect, None);
        // A board that claims 9 channels gets the 4 a node can have.
        assert_eq!(node_over(RamFlash::new(), 9).config().channels, 4);
    }

    /// The shelf reads 8 000 counts empty → tare: offset 8 000, still 1 count = 1 g, so 0 g.
    /// A 1 000 g weight reads 8 000 + 42 000 = 50 000 → calibrate with 1 000 g:
    /// counts_ref = 50 000 − 8 000 = 42 000, so 42 counts a gram, reading (50 000 − 8 000) ×
    /// 1 000 / 42 000 = 1 000 g. Then 29 000 counts = 8 000 + 21 000: 21 000 × 1 000 / 42 000 =
    /// 500 g.
    #[test]
    fn readings_in_grams_after_tare_and_calibrate() {
        let mut node = node_over(RamFlash::new(), 1);
        let mut now = 0;
        let _ = frames(|out| node.start(now, out));
        let got = run(&mut node, &mut now, 1_000, |_, _| Some(8_000));
        // Uncalibrated: grams = raw. Stable once 8 filtered values (40 samples = 480 ms) came.
        let r = readings(&got, 0);
        assert_eq!(r.last(), Some(&(8_000, true, 8_000)));
        assert!(r.iter().any(|&(_, stable, _)| !stable), "not stable straight after the start");
        let (got, _) = command(&mut node, HubMsg::Tare { seq: 1, channel: 0 }, now);
        assert_eq!(got, [ack(1, AckCode::Ok)]);
        assert_eq!(node.calibrations()[0], Calibration { offset: 8_000, grams_ref: 1, counts_ref: 1 });
        let got = run(&mut node, &mut now, 200, |_, _| Some(8_000));
        assert_eq!(readings(&got, 0).last(), Some(&(0, true, 8_000)));

        let got = run(&mut node, &mut now, 1_000, |_, _| Some(50_000));
        assert_eq!(readings(&got, 0).last(), Some(&(42_000, true, 50_000)));
        let (got, _) = command(&mut node, HubMsg::Calibrate { seq: 2, channel: 0, known_grams: 1_000 }, now);
        assert_eq!(got, [ack(2, AckCode::Ok)]);
        assert_eq!(node.calibrations()[0], Calibration { offset: 8_000, grams_ref: 1_000, counts_ref: 42_000 });
        let got = run(&mut node, &mut now, 200, |_, _| Some(50_000));
        assert_eq!(readings(&got, 0).last(), Some(&(1_000, true, 50_000)));

        // Until 4 000 ms, so the heartbeat at 4 000 ms comes too.
        let got = run(&mut node, &mut now, 1_600, |_, _| Some(29_000));
        assert_eq!(readings(&got, 0).last(), Some(&(500, true, 29_000)));
        // The heartbeat's health now says calibrated.
        assert!(healths(&got).contains(&(0, 0, true, 0, 0)), "{:?} at {now}", healths(&got));
        // Readings are numbered without gaps.
        let seqs: Vec<u16> = got.iter().filter_map(|m| if let NodeMsg::Reading { seq, .. } = m { Some(*seq) } else { None }).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
    }

    #[test]
    fn calibration_survives_a_reboot_over_the_same_flash() {
        let mut node = node_over(RamFlash::new(), 1);
        let mut now = 0;
        let _ = frames(|out| node.start(now, out));
        run(&mut node, &mut now, 1_000, |_, _| Some(8_000));
        command(&mut node, HubMsg::Tare { seq: 1, channel: 0 }, now);
        run(&mut node, &mut now, 1_000, |_, _| Some(50_000));
        command(&mut node, HubMsg::Calibrate { seq: 2, channel: 0, known_grams: 1_000 }, now);
        let (got, effect) = command(&mut node, HubMsg::Reboot { seq: 3 }, now);
        assert_eq!((got, effect), (vec_of(ack(3, AckCode::Ok)), Some(Effect::Reboot)));

        let mut rebooted = node_over(node.store().flash().clone(), 1);
        assert_eq!(rebooted.calibrations()[0], Calibration { offset: 8_000, grams_ref: 1_000, counts_ref: 42_000 });
        let mut now = 0;
        let _ = frames(|out| rebooted.start(now, out));
        let got = run(&mut rebooted, &mut now, 1_000, |_, _| Some(29_000));
        assert_eq!(readings(&got, 0).last(), Some(&(500, true, 29_000)));
    }

    fn vec_of(m: NodeMsg) -> Vec<NodeMsg> {
        std::vec![m]
    }

    /// The flash allows 4 erases/programs: tare (erase + program) and calibrate (2 more) land;
    /// the power dies in the next tare's erase → StorageFailed, and the readings keep the
    /// calibrated offset: 29 000 counts still read 500 g, not 0 g.
    #[test]
    fn a_failed_save_is_storage_failed_and_the_old_calibration_stays() {
        let mut flash = RamFlash::new();
        flash.cut_power_after(4);
        let mut node = node_over(flash, 1);
        let mut now = 0;
        let _ = frames(|out| node.start(now, out));
        run(&mut node, &mut now, 1_000, |_, _| Some(8_000));
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 1, channel: 0 }, now).0, [ack(1, AckCode::Ok)]);
        run(&mut node, &mut now, 1_000, |_, _| Some(50_000));
        assert_eq!(command(&mut node, HubMsg::Calibrate { seq: 2, channel: 0, known_grams: 1_000 }, now).0, [ack(2, AckCode::Ok)]);
        run(&mut node, &mut now, 1_000, |_, _| Some(29_000));
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 3, channel: 0 }, now).0, [ack(3, AckCode::StorageFailed)]);
        assert_eq!(node.calibrations()[0], Calibration { offset: 8_000, grams_ref: 1_000, counts_ref: 42_000 });
        let got = run(&mut node, &mut now, 300, |_, _| Some(29_000));
        assert_eq!(readings(&got, 0).last(), Some(&(500, true, 29_000)));
        // Power back: the same tare lands.
        node.store_mut().flash_mut().restore_power();
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 4, channel: 0 }, now).0, [ack(4, AckCode::Ok)]);
        assert_eq!(node.calibrations()[0].offset, 29_000);
    }

    /// The load climbs 50 counts a millisecond: successive filtered values (one per 5 samples,
    /// 60 ms) are 3 000 counts apart, far outside the 200-count band → NotStable.
    #[test]
    fn moving_samples_are_not_stable_and_refuse_tare_and_calibrate() {
        let mut node = node_over(RamFlash::new(), 1);
        let mut now = 0;
        let _ = frames(|out| node.start(now, out));
        let got = run(&mut node, &mut now, 1_000, |_, t| Some(8_000 + 50 * t as i32));
        let r = readings(&got, 0);
        assert!(!r.is_empty() && r.iter().all(|&(_, stable, _)| !stable));
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 1, channel: 0 }, now).0, [ack(1, AckCode::NotStable)]);
        assert_eq!(command(&mut node, HubMsg::Calibrate { seq: 2, channel: 0, known_grams: 500 }, now).0, [ack(2, AckCode::NotStable)]);
        // Bad arguments and unknown channels.
        assert_eq!(command(&mut node, HubMsg::Calibrate { seq: 3, channel: 0, known_grams: 0 }, now).0, [ack(3, AckCode::BadValue)]);
        assert_eq!(command(&mut node, HubMsg::Calibrate { seq: 4, channel: 0, known_grams: -5 }, now).0, [ack(4, AckCode::BadValue)]);
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 5, channel: 1 }, now).0, [ack(5, AckCode::UnknownChannel)]);
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 6, channel: 255 }, now).0, [ack(6, AckCode::UnknownChannel)]);
        // Settled at 9 000: calibrating with the weight reading what the tare read is NoChange.
        run(&mut node, &mut now, 1_000, |_, _| Some(9_000));
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 7, channel: 0 }, now).0, [ack(7, AckCode::Ok)]);
        // The tare was one erase and one program; the same tare again writes nothing.
        assert_eq!(node.store().flash().ops(), 2);
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 10, channel: 0 }, now).0, [ack(10, AckCode::Ok)]);
        assert_eq!(node.store().flash().ops(), 2);
        assert_eq!(command(&mut node, HubMsg::Calibrate { seq: 8, channel: 0, known_grams: 500 }, now).0, [ack(8, AckCode::BadValue)]);
        // Before any filtered value there is nothing to tare.
        let mut fresh = node_over(RamFlash::new(), 1);
        let _ = frames(|out| fresh.start(0, out));
        assert_eq!(command(&mut fresh, HubMsg::Tare { seq: 9, channel: 0 }, 10).0, [ack(9, AckCode::ChannelFault)]);
    }

    /// Samples stop at 600 ms. At 1 000 ms the silence is exactly 400 ms: still Ok; at 1 001 it
    /// is longer than 400 ms: NoData, one timeout, health sent at once, no more readings. At
    /// 2 001 ms (1 401 ms of silence) the count is (1 401 − 1) / 400 = 3 timeouts.
    #[test]
    fn silence_is_no_data_with_counted_timeouts() {
        let mut node = node_over(RamFlash::new(), 1);
        let _ = frames(|out| node.start(0, out));
        for t in (12..=600).step_by(12) {
            node.on_sample(0, 8_000, t);
        }
        assert!(!readings(&frames(|out| node.poll(600, out)), 0).is_empty());
        assert!(healths(&frames(|out| node.poll(1_000, out))).is_empty());
        let got = frames(|out| node.poll(1_001, out));
        assert_eq!(healths(&got), [(0, ChannelState::NoData as u8, false, 1, 0)]);
        assert!(node.led_on(1_500), "a fault keeps the LED lit");
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 1, channel: 0 }, 1_100).0, [ack(1, AckCode::ChannelFault)]);
        let got = frames(|out| node.poll(2_001, out));
        assert!(readings(&got, 0).is_empty());
        // The heartbeat at 2 000 ms came with this poll: uptime 2 s, then the health.
        assert_eq!(got[0], NodeMsg::Heartbeat { uptime_s: 2 });
        assert_eq!(healths(&got), [(0, ChannelState::NoData as u8, false, 3, 0)]);
        // Samples again at 2 004: Ok at once (health sent on the next poll), readings once 5
        // samples have filled the filter.
        node.on_sample(0, 8_000, 2_004);
        assert_eq!(healths(&frames(|out| node.poll(2_005, out))), [(0, 0, false, 3, 0)]);
        // A channel never heard from is NoData 400 ms after the start.
        let mut quiet = node_over(RamFlash::new(), 2);
        let _ = frames(|out| quiet.start(1_000, out));
        assert!(healths(&frames(|out| quiet.poll(1_400, out))).is_empty());
        assert_eq!(healths(&frames(|out| quiet.poll(1_401, out))), [(0, 1, false, 1, 0), (1, 1, false, 1, 0)]);
    }

    /// Three samples at the HX711's top rail (0x7FFFFF = 8 388 607): Saturated, 3 saturated
    /// samples counted; tare refused; an in-range sample makes the channel Ok again.
    #[test]
    fn saturated_samples() {
        let mut node = node_over(RamFlash::new(), 1);
        let _ = frames(|out| node.start(0, out));
        for t in [12, 24, 36] {
            node.on_sample(0, hx711::MAX, t);
        }
        let got = frames(|out| node.poll(40, out));
        assert_eq!(healths(&got), [(0, ChannelState::Saturated as u8, false, 0, 3)]);
        assert!(node.led_on(500));
        assert_eq!(command(&mut node, HubMsg::Tare { seq: 1, channel: 0 }, 45).0, [ack(1, AckCode::ChannelFault)]);
        node.on_sample(0, hx711::MIN, 48);
        node.on_sample(0, 1_000, 60);
        assert_eq!(healths(&frames(|out| node.poll(65, out))), [(0, 0, false, 0, 4)]);
    }

    /// 10 readings a second by default; SetSampleRate 2 → one every 1 000 / 2 = 500 ms, so
    /// 4 in 2 s; 3 → 1 000 / 3 = 333 ms. 0 and 11 are refused with BadValue and change nothing.
    #[test]
    fn the_sample_rate_sets_the_report_period() {
        let mut node = node_over(RamFlash::new(), 1);
        let mut now = 0;
        let _ = frames(|out| node.start(now, out));
        run(&mut node, &mut now, 1_000, |_, _| Some(100));
        assert_eq!(readings(&run(&mut node, &mut now, 1_000, |_, _| Some(100)), 0).len(), 10);
        assert_eq!(command(&mut node, HubMsg::SetSampleRate { seq: 1, per_s: 2 }, now).0, [ack(1, AckCode::Ok)]);
        assert_eq!(readings(&run(&mut node, &mut now, 2_000, |_, _| Some(100)), 0).len(), 4);
        assert_eq!(command(&mut node, HubMsg::SetSampleRate { seq: 2, per_s: 0 }, now).0, [ack(2, AckCode::BadValue)]);
        assert_eq!(command(&mut node, HubMsg::SetSampleRate { seq: 3, per_s: 11 }, now).0, [ack(3, AckCode::BadValue)]);
        assert_eq!(node.report_period_ms(), 500);
        assert_eq!(command(&mut node, HubMsg::SetSampleRate { seq: 4, per_s: 3 }, now).0, [ack(4, AckCode::Ok)]);
        assert_eq!(node.report_period_ms(), 333);
        // 3 000 ms after the change at t: reports at t + 333, 666, … 2 997 → 9.
        assert_eq!(readings(&run(&mut node, &mut now, 3_000, |_, _| Some(100)), 0).len(), 9);
    }

    /// Identify for 1 s at 3 000 ms: on 3 000..3 099, off 3 100..3 199, on 3 200..3 299, …,
    /// off 3 900..3 999; from 4 000 the healthy pattern: on for the first 50 ms of each second.
    /// (The LED is a function of the time asked about and the node's state; the samples run on
    /// to 4 200 ms so the channel is Ok throughout.)
    #[test]
    fn identify_blinks_the_led_then_the_healthy_pattern() {
        let mut node = node_over(RamFlash::new(), 1);
        let mut now = 0;
        let _ = frames(|out| node.start(now, out));
        run(&mut node, &mut now, 3_000, |_, _| Some(100));
        assert!(!node.led_on(2_980) && node.led_on(3_020), "healthy: 3 000..3 049 lit");
        assert_eq!(command(&mut node, HubMsg::Identify { seq: 1, seconds: 1 }, 3_000).0, [ack(1, AckCode::Ok)]);
        run(&mut node, &mut now, 1_200, |_, _| Some(100));
        let expect = [(3_000, true), (3_099, true), (3_100, false), (3_250, true), (3_999, false), (4_000, true), (4_049, true), (4_050, false)];
        for (t, lit) in expect {
            assert_eq!(node.led_on(t), lit, "at {t} ms");
        }
        // Identify 0 s stops it.
        command(&mut node, HubMsg::Identify { seq: 2, seconds: 5 }, 3_000);
        command(&mut node, HubMsg::Identify { seq: 3, seconds: 0 }, 3_010);
        assert!(!node.led_on(3_100));
    }

    #[test]
    fn reboot_and_bootloader_come_after_their_ack_and_end_the_chunk() {
        let mut node = node_over(RamFlash::new(), 1);
        let _ = frames(|out| node.start(0, out));
        let mut bytes = frame_of(&HubMsg::EnterBootloader { seq: 12 });
        bytes.extend(frame_of(&HubMsg::Identify { seq: 13, seconds: 5 }));
        let mut effect = None;
        let got = frames(|out| effect = node.on_bytes(&bytes, 10, out));
        assert_eq!((got, effect), (vec_of(ack(12, AckCode::Ok)), Some(Effect::EnterBootloader)));
        assert!(!node.led_on(200), "the identify after it was dropped");
        assert_eq!(command(&mut node, HubMsg::Reboot { seq: 14 }, 20), (vec_of(ack(14, AckCode::Ok)), Some(Effect::Reboot)));
    }

    /// A tare frame with one CRC byte changed → FrameRejected{kind 4 (crc), total 1}; then a
    /// frame that is not COBS (kind 2, total 2), a 3-byte body (kind 3), an unknown variant 9
    /// with a right CRC (kind 5, postcard) and 100 bytes without a zero (kind 1, overlong) —
    /// and a good command still works afterwards, split across calls.
    #[test]
    fn bad_frames_are_answered_with_frame_rejected() {
        let mut node = node_over(RamFlash::new(), 1);
        let _ = frames(|out| node.start(0, out));
        let mut bad = frame_of(&HubMsg::Tare { seq: 5, channel: 0 });
        let n = bad.len();
        bad[n - 2] ^= 0x01;
        assert_eq!(frames(|out| assert_eq!(node.on_bytes(&bad, 1, out), None)), [NodeMsg::FrameRejected { kind: 4, total: 1 }]);
        assert_eq!(frames(|out| { node.on_bytes(&[0x0A, 0x02, 0x00], 2, out); }), [NodeMsg::FrameRejected { kind: 2, total: 2 }]);
        assert_eq!(frames(|out| { node.on_bytes(&[0x04, 0x01, 0x02, 0x03, 0x00], 3, out); }), [NodeMsg::FrameRejected { kind: 3, total: 3 }]);
        let crc = crc32fast::hash(&[0x09]).to_le_bytes();
        let mut unknown = [0u8; 8];
        let len = cobs_frame(&[0x09, crc[0], crc[1], crc[2], crc[3]], &mut unknown);
        assert_eq!(frames(|out| { node.on_bytes(&unknown[..len], 4, out); }), [NodeMsg::FrameRejected { kind: 5, total: 4 }]);
        assert_eq!(frames(|out| { node.on_bytes(&[0x55; 100], 5, out); }), [NodeMsg::FrameRejected { kind: 1, total: 5 }]);
        let hello = frame_of(&HubMsg::RequestHello);
        let (a, b) = hello.split_at(3);
        let mut got = frames(|out| { node.on_bytes(&[0x00], 6, out); node.on_bytes(a, 6, out); });
        got.extend(frames(|out| { node.on_bytes(b, 7, out); }));
        assert_eq!(got[0], NodeMsg::Hello { protocol: 2, node_id: 12345, fw_version: FW, channels: 1 });
        assert_eq!(got.len(), 2, "the hello and channel 0's health: {got:?}");
    }

    /// COBS without pulling the cobs crate in: the body has no zero, so one code byte (len + 1)
    /// in front and the 0x00 sentinel after.
    fn cobs_frame(body: &[u8], out: &mut [u8]) -> usize {
        assert!(!body.contains(&0));
        out[0] = body.len() as u8 + 1;
        out[1..=body.len()].copy_from_slice(body);
        out[body.len() + 1] = 0;
        body.len() + 2
    }
}

#[cfg(test)]
mod props {
    extern crate std;

    use std::vec::Vec;

    use proptest::prelude::*;
    use storehub_wire::encode_frame;

    use super::*;
    use crate::flash::RamFlash;

    fn hub_msg() -> impl Strategy<Value = HubMsg> {
        prop_oneof![
            (any::<u16>(), any::<u8>()).prop_map(|(seq, channel)| HubMsg::Tare { seq, channel }),
            (any::<u16>(), any::<u8>(), any::<i32>()).prop_map(|(seq, channel, known_grams)| HubMsg::Calibrate { seq, channel, known_grams }),
            Just(HubMsg::RequestHello),
            (any::<u16>(), any::<u8>()).prop_map(|(seq, seconds)| HubMsg::Identify { seq, seconds }),
            (any::<u16>(), any::<u8>()).prop_map(|(seq, per_s)| HubMsg::SetSampleRate { seq, per_s }),
        ]
    }

    proptest! {
        /// Random bytes mixed with real commands (any arguments), random samples (rails
        /// included) and times: the node never panics, every frame it sends fits MAX_FRAME_LEN,
        /// and each real command gets exactly one answer (RequestHello: the hello and each
        /// channel's health).
        #[test]
        fn nothing_the_hub_sends_breaks_the_node(
            steps in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..80), proptest::option::of(hub_msg()), any::<(u8, i32)>(), 0u64..700),
                1..40,
            )
        ) {
            let mut node = Node::new(NodeConfig { node_id: 1, fw_version: FwVersion { major: 0, minor: 1, patch: 0 }, channels: 4 }, Store::new(RamFlash::<8192>::new(), 0));
            let mut now = 0u64;
            let mut sizes = Vec::new();
            node.start(now, &mut |f: &[u8]| sizes.push(f.len()));
            for (garbage, msg, (ch, raw), dt) in steps {
                now += dt;
                node.on_sample(ch % 6, raw, now);
                node.on_bytes(&garbage, now, &mut |f: &[u8]| sizes.push(f.len()));
                // A zero ends whatever the garbage left half-done (answered or not).
                node.on_bytes(&[0x00], now, &mut |f: &[u8]| sizes.push(f.len()));
                if let Some(msg) = msg {
                    let mut buf = [0u8; MAX_FRAME_LEN];
                    let frame = encode_frame(&msg, &mut buf).unwrap();
                    let mut answers = 0;
                    node.on_bytes(frame, now, &mut |f: &[u8]| { sizes.push(f.len()); answers += 1; });
                    // One ack per command; RequestHello: the hello and the 4 channels' health.
                    let expected = if msg == HubMsg::RequestHello { 5 } else { 1 };
                    prop_assert_eq!(answers, expected, "{:?}", msg);
                }
                node.poll(now, &mut |f: &[u8]| sizes.push(f.len()));
                let _ = node.led_on(now);
            }
            prop_assert!(sizes.iter().all(|&n| n <= MAX_FRAME_LEN));
        }
    }
}
