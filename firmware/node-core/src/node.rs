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

use storehub_wire::{FwVersion, NodeMsg};

use crate::calibration::Calibration;
use crate::flash::{Flash, Store, CHANNELS};

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

/// A shelf node's logic. `F` is the flash the calibrations live in.
pub struct Node<F: Flash> {
    config: NodeConfig,
    store: Store<F>,
    calibrations: [Calibration; CHANNELS],
    // The implementation adds per-channel filters, stability, health counters, the reading
    // sequence, the report period, the heartbeat clock, the frame accumulator and the identify
    // (blink) deadline.
}

impl<F: Flash> Node<F> {
    /// A node with the calibrations found in `store` (uncalibrated channels when none).
    pub fn new(config: NodeConfig, store: Store<F>) -> Node<F> {
        let _ = (config, store);
        todo!("issue 12 skeleton: filled in by the node-core engineer")
    }

    /// Call once at boot: emits a lone 0x00 (ends any half-frame at the hub) and the hello.
    pub fn start(&mut self, now_ms: u64, out: &mut dyn FnMut(&[u8])) {
        let _ = (now_ms, out);
        todo!("issue 12 skeleton")
    }

    /// A raw sample (already decoded from 24 bits) from `channel`'s HX711.
    pub fn on_sample(&mut self, channel: u8, raw: i32, now_ms: u64) {
        let _ = (channel, raw, now_ms);
        todo!("issue 12 skeleton")
    }

    /// Bytes from the hub, in any chunking. Answers every frame; returns the effect a command
    /// asked for (carry it out after writing the frames).
    pub fn on_bytes(&mut self, bytes: &[u8], now_ms: u64, out: &mut dyn FnMut(&[u8])) -> Option<Effect> {
        let _ = (bytes, now_ms, out);
        todo!("issue 12 skeleton")
    }

    /// Call at least every few milliseconds: emits due readings, heartbeats and health.
    pub fn poll(&mut self, now_ms: u64, out: &mut dyn FnMut(&[u8])) {
        let _ = (now_ms, out);
        todo!("issue 12 skeleton")
    }

    /// Whether the board's LED should be lit now (identify blinks fast; a healthy node blinks
    /// briefly once a second; a channel fault keeps it lit).
    pub fn led_on(&self, now_ms: u64) -> bool {
        let _ = now_ms;
        todo!("issue 12 skeleton")
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
}

/// Encodes `msg` into a frame and hands it to `out` (drops nothing: every message fits).
pub(crate) fn send(msg: &NodeMsg, out: &mut dyn FnMut(&[u8])) {
    let mut buf = [0u8; storehub_wire::MAX_FRAME_LEN];
    if let Ok(frame) = storehub_wire::encode_frame(msg, &mut buf) {
        out(frame);
    }
}
