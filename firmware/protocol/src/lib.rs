//! The wire protocol between the storehub hub and its shelf-sensor nodes.
//!
//! Both ends link this crate, so a node and the hub encode and decode the same bytes with the same
//! code. It owns the message types ([`NodeMsg`] node → hub, [`HubMsg`] hub → node), the frame
//! format and a bounded [`FrameAccumulator`]. It must stay `no_std`, never allocate and never
//! depend on the hub: the firmware links it on a microcontroller.
//!
//! # Frame format
//! `COBS(postcard(message) ++ CRC-32(postcard(message)) as 4 bytes little-endian) ++ 0x00`
//!
//! - postcard: variant index and integers as varints (signed ones zigzag), `u8` and `bool` as one
//!   byte, struct fields in declaration order. Variant indices and field order are the protocol:
//!   append new variants and fields at the end, never reorder.
//! - CRC-32/ISO-HDLC (the zlib / Ethernet CRC; check value `0xCBF43926` for `"123456789"`), over
//!   the postcard bytes only.
//! - COBS removes every 0x00 from the frame body, so a single 0x00 ends each frame and a reader
//!   that starts mid-stream resynchronises at the next one. Empty frames (0x00 0x00) are ignored,
//!   so a node may send a lone 0x00 at boot to flush a half-received frame at the hub.
//!
//! A whole frame, sentinel included, is at most [`MAX_FRAME_LEN`] bytes.
//!
//! # Versions
//! [`NodeMsg::Hello`] is variant 0 and its first field is the protocol version, in every version
//! of this protocol: a hub can always read which version a node speaks and refuse another one.
//! Decoders ignore bytes after the last field they know, so a later version may append fields.
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;

use postcard::ser_flavors::{Cobs, Flavor, Slice};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The protocol version a node announces in its hello, so the hub can refuse a node that speaks
/// another version instead of guessing at its frame layout.
///
/// Version 2 (firmware issue): 64-bit node ids (the RP2040 flash's unique id), the raw count in
/// readings, per-channel health, rejected-frame answers, and the identify (blink), sample-rate,
/// reboot and enter-bootloader commands. Version 1 never left the test bench.
pub const PROTOCOL_VERSION: u8 = 2;

/// The longest frame either end sends or accepts, 0x00 sentinel included. Today's largest
/// message is 22 bytes framed; the rest is room for fields a later version appends.
pub const MAX_FRAME_LEN: usize = 64;

/// Bytes of the CRC after the postcard body.
pub const CRC_LEN: usize = 4;

/// The USB vendor and product id a node's CDC serial port enumerates with, which the hub's
/// discovery looks for before it asks the port for a hello. 0x1209 is pid.codes' open-hardware
/// vendor id and 0x0001 its test product id: a product id of our own is registered there before
/// nodes ship in numbers (a change here is a change on both ends, made in this one place).
pub const USB_VID: u16 = 0x1209;
pub const USB_PID: u16 = 0x0001;

/// The most load-cell channels one node has (one HX711 each).
pub const MAX_CHANNELS: u8 = 4;

/// A node's firmware version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FwVersion {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
}

impl fmt::Display for FwVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What a node sends to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeMsg {
    /// Sent at boot and in answer to [`HubMsg::RequestHello`]. Variant 0, `protocol` first: see
    /// the crate docs on versions. `node_id` is the node's flash unique id (64 bits on the
    /// RP2040), so it survives reflashing.
    Hello { protocol: u8, node_id: u64, fw_version: FwVersion, channels: u8 },
    /// One load-cell channel's weight. `seq` counts readings of this node (wrapping), so the hub
    /// can tell lost frames; `stable` is the node's own settling judgement; `raw` is the filtered
    /// HX711 count the grams were computed from (for calibration checks and diagnosis).
    Reading { seq: u16, channel: u8, grams: i32, stable: bool, raw: i32 },
    /// Sent when the node has nothing else to say for a while (nodes send one every 2 s), so a
    /// silent node is told apart from an idle shelf.
    Heartbeat { uptime_s: u32 },
    /// The answer to a [`HubMsg`] command with that `seq`; `code` is an [`AckCode`] as a byte
    /// (0 when `ok`).
    Ack { command_seq: u16, ok: bool, code: u8 },
    /// One channel's health, sent when it changes and after every heartbeat. `state` is a
    /// [`ChannelState`] as a byte. The counters count since boot and wrap: `timeouts` are samples
    /// the HX711 did not deliver in time, `saturated` samples at the converter's rail.
    ChannelHealth { channel: u8, state: u8, calibrated: bool, timeouts: u16, saturated: u16 },
    /// The node's answer to a frame it could not use: `kind` is the [`FrameError::code`] of what
    /// was wrong, `total` how many frames it has rejected since boot.
    FrameRejected { kind: u8, total: u32 },
}

/// What the hub sends to a node. Every command but [`HubMsg::RequestHello`] carries a `seq` and
/// is answered by a [`NodeMsg::Ack`] with that `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HubMsg {
    /// Zero the channel at its current load.
    Tare { seq: u16, channel: u8 },
    /// The channel now carries `known_grams` (after a tare with the shelf empty): the node derives
    /// its scale factor and keeps it in flash.
    Calibrate { seq: u16, channel: u8, known_grams: i32 },
    /// Asks the node to send its [`NodeMsg::Hello`] again (the hub reopened the port). Not acked:
    /// the hello is the answer.
    RequestHello,
    /// Blink the node's LED for `seconds` so a technician can find it on the shelf.
    Identify { seq: u16, seconds: u8 },
    /// Report each channel `per_s` times a second (1..=10; an HX711 with RATE low samples at
    /// 10 Hz). The node keeps the rate until it reboots.
    SetSampleRate { seq: u16, per_s: u8 },
    /// Restart the node (after the ack is sent).
    Reboot { seq: u16 },
    /// Restart into the RP2040's USB boot ROM (the RPI-RP2 drive) for a UF2 update, after the
    /// ack is sent.
    EnterBootloader { seq: u16 },
}

impl HubMsg {
    /// The sequence number an ack will carry, for commands that are acknowledged.
    pub fn seq(&self) -> Option<u16> {
        match self {
            HubMsg::Tare { seq, .. }
            | HubMsg::Calibrate { seq, .. }
            | HubMsg::Identify { seq, .. }
            | HubMsg::SetSampleRate { seq, .. }
            | HubMsg::Reboot { seq }
            | HubMsg::EnterBootloader { seq } => Some(*seq),
            HubMsg::RequestHello => None,
        }
    }
}

/// Why a node refused a command (the `code` byte of [`NodeMsg::Ack`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AckCode {
    Ok = 0,
    /// The node has no such channel.
    UnknownChannel = 1,
    /// The load was moving; try again once it settles.
    NotStable = 2,
    /// The argument is out of range (e.g. calibrating with 0 g or a negative weight, or a sample
    /// rate the node cannot do).
    BadValue = 3,
    /// The node is busy with another command.
    Busy = 4,
    /// The node does not know this command (an older firmware).
    UnknownCommand = 5,
    /// The new calibration could not be written to flash; the node keeps using the old one.
    StorageFailed = 6,
    /// The channel's HX711 is not delivering samples (check its wiring), so there is nothing to
    /// tare or calibrate against.
    ChannelFault = 7,
}

impl AckCode {
    pub const ALL: [AckCode; 8] = [
        AckCode::Ok,
        AckCode::UnknownChannel,
        AckCode::NotStable,
        AckCode::BadValue,
        AckCode::Busy,
        AckCode::UnknownCommand,
        AckCode::StorageFailed,
        AckCode::ChannelFault,
    ];

    pub fn from_u8(code: u8) -> Option<AckCode> {
        AckCode::ALL.get(code as usize).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Ok => "ok",
            AckCode::UnknownChannel => "unknown_channel",
            AckCode::NotStable => "not_stable",
            AckCode::BadValue => "bad_value",
            AckCode::Busy => "busy",
            AckCode::UnknownCommand => "unknown_command",
            AckCode::StorageFailed => "storage_failed",
            AckCode::ChannelFault => "channel_fault",
        }
    }
}

/// The health of one load-cell channel (the `state` byte of [`NodeMsg::ChannelHealth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ChannelState {
    /// Samples arrive and are inside the converter's range.
    Ok = 0,
    /// No sample for longer than the HX711 needs (unplugged, unpowered or broken wiring).
    NoData = 1,
    /// Samples sit at the converter's rail (overloaded cell or a broken bridge wire).
    Saturated = 2,
}

impl ChannelState {
    pub const ALL: [ChannelState; 3] = [ChannelState::Ok, ChannelState::NoData, ChannelState::Saturated];

    pub fn from_u8(code: u8) -> Option<ChannelState> {
        ChannelState::ALL.get(code as usize).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Ok => "ok",
            ChannelState::NoData => "no_data",
            ChannelState::Saturated => "saturated",
        }
    }
}

/// Why bytes did not make a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// More than the accumulator holds arrived without a 0x00; the bytes up to the next 0x00
    /// are dropped.
    Overlong,
    /// The frame is not valid COBS (a code byte points past the end of the frame).
    Cobs,
    /// The decoded frame is shorter than its CRC.
    Truncated,
    /// The CRC over the body does not match the one sent.
    Crc { expected: u32, found: u32 },
    /// The CRC matched but the body is not a message of this protocol.
    Postcard(postcard::Error),
}

impl FrameError {
    /// The kinds by their [`FrameError::code`] byte (index 0 is unused).
    pub const KINDS: [&'static str; 6] = ["", "overlong", "cobs", "truncated", "crc", "postcard"];

    /// The byte a node sends in [`NodeMsg::FrameRejected`] for this kind of error.
    pub fn code(&self) -> u8 {
        match self {
            FrameError::Overlong => 1,
            FrameError::Cobs => 2,
            FrameError::Truncated => 3,
            FrameError::Crc { .. } => 4,
            FrameError::Postcard(_) => 5,
        }
    }

    /// The kind named by a [`FrameError::code`] byte, `None` for a byte this version does not know.
    pub fn kind_of_code(code: u8) -> Option<&'static str> {
        match code {
            1..=5 => Some(FrameError::KINDS[code as usize]),
            _ => None,
        }
    }

    /// A short name for counting errors by kind.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::Overlong => "overlong",
            FrameError::Cobs => "cobs",
            FrameError::Truncated => "truncated",
            FrameError::Crc { .. } => "crc",
            FrameError::Postcard(_) => "postcard",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Overlong => write!(f, "frame longer than {MAX_FRAME_LEN} bytes without a 0x00 end; dropped up to the next 0x00"),
            FrameError::Cobs => write!(f, "frame is not valid COBS"),
            FrameError::Truncated => write!(f, "frame shorter than its {CRC_LEN}-byte CRC"),
            FrameError::Crc { expected, found } => write!(f, "CRC mismatch: body gives {expected:#010x}, frame says {found:#010x}"),
            FrameError::Postcard(e) => write!(f, "CRC ok but not a message of protocol {PROTOCOL_VERSION}: {e}"),
        }
    }
}

/// A postcard flavor that feeds every byte to a CRC-32 and hands it on, then appends the CRC
/// (little-endian) before finishing the inner flavor.
struct Crc32<B: Flavor> {
    inner: B,
    hasher: crc32fast::Hasher,
}

impl<B: Flavor> Flavor for Crc32<B> {
    type Output = B::Output;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.hasher.update(&[data]);
        self.inner.try_push(data)
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.hasher.update(data);
        self.inner.try_extend(data)
    }

    fn finalize(mut self) -> postcard::Result<Self::Output> {
        let crc = self.hasher.finalize();
        self.inner.try_extend(&crc.to_le_bytes())?;
        self.inner.finalize()
    }
}

/// Encodes `msg` as one frame into `buf` and returns the frame, 0x00 sentinel included.
/// Fails with [`postcard::Error::SerializeBufferFull`] when `buf` is too small
/// ([`MAX_FRAME_LEN`] is always enough for this protocol's messages).
pub fn encode_frame<'b, T: Serialize>(msg: &T, buf: &'b mut [u8]) -> Result<&'b [u8], postcard::Error> {
    let flavor = Crc32 { inner: Cobs::try_new(Slice::new(buf))?, hasher: crc32fast::Hasher::new() };
    let frame: &'b mut [u8] = postcard::serialize_with_flavor(msg, flavor)?;
    Ok(frame)
}

/// Decodes one frame in place: `frame` is the COBS bytes, with or without the trailing 0x00
/// (decoding stops at the first 0x00). The buffer is overwritten with the decoded body.
pub fn decode_frame<T: DeserializeOwned>(frame: &mut [u8]) -> Result<T, FrameError> {
    let len = cobs::decode_in_place(frame).map_err(|_| FrameError::Cobs)?;
    let body = &frame[..len];
    if body.len() < CRC_LEN {
        return Err(FrameError::Truncated);
    }
    let (payload, crc) = body.split_at(body.len() - CRC_LEN);
    let found = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let expected = crc32fast::hash(payload);
    if expected != found {
        return Err(FrameError::Crc { expected, found });
    }
    postcard::from_bytes(payload).map_err(FrameError::Postcard)
}

/// What one [`FrameAccumulator::feed`] call found. `rest` is the input after the frame (or
/// error) found: feed it again.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'i, T> {
    /// The whole input was taken; no frame ended in it.
    Consumed,
    Message(T, &'i [u8]),
    Error(FrameError, &'i [u8]),
}

/// Collects frames from a byte stream that arrives in chunks of any size. Holds at most `N`
/// bytes of one frame (use [`MAX_FRAME_LEN`]); a longer run without 0x00 is reported once as
/// [`FrameError::Overlong`] and dropped up to the next 0x00. Never allocates.
#[derive(Debug, Clone)]
pub struct FrameAccumulator<const N: usize> {
    buf: [u8; N],
    len: usize,
    /// Dropping an overlong frame until the next 0x00.
    skipping: bool,
}

impl<const N: usize> Default for FrameAccumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameAccumulator<N> {
    pub const fn new() -> Self {
        FrameAccumulator { buf: [0; N], len: 0, skipping: false }
    }

    /// Forgets a half-received frame (after a reconnect).
    pub fn reset(&mut self) {
        self.len = 0;
        self.skipping = false;
    }

    /// Bytes of an unfinished frame held.
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Takes bytes until a frame ends (a message or an error) or the input runs out.
    pub fn feed<'i, T: DeserializeOwned>(&mut self, input: &'i [u8]) -> Feed<'i, T> {
        for (i, &b) in input.iter().enumerate() {
            let rest = &input[i + 1..];
            if b == 0 {
                if self.skipping {
                    self.skipping = false;
                    self.len = 0;
                    continue;
                }
                if self.len == 0 {
                    continue;
                }
                let len = self.len;
                self.len = 0;
                return match decode_frame(&mut self.buf[..len]) {
                    Ok(msg) => Feed::Message(msg, rest),
                    Err(e) => Feed::Error(e, rest),
                };
            }
            if self.skipping {
                continue;
            }
            if self.len == N {
                self.skipping = true;
                self.len = 0;
                return Feed::Error(FrameError::Overlong, rest);
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Feed::Consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of<T: Serialize>(msg: &T) -> ([u8; MAX_FRAME_LEN], usize) {
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = encode_frame(msg, &mut buf).unwrap().len();
        (buf, len)
    }

    fn assert_frame<T: Serialize>(msg: &T, expected: &[u8]) {
        let (buf, len) = frame_of(msg);
        assert_eq!(&buf[..len], expected);
    }

    #[test]
    fn crc32fast_is_the_iso_hdlc_crc_with_the_standard_check_value() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
    }

    // Each expected frame below was worked out by hand: postcard body, CRC-32 of the body
    // (zlib.crc32) little-endian, COBS (each code byte = distance to the next zero, a zero
    // ends the frame).

    #[test]
    fn heartbeat_of_300_s_is_these_nine_bytes() {
        // body 02 (variant 2) AC 02 (varint 300); CRC 0x10799FB5 → B5 9F 79 10; no zeros inside,
        // so COBS puts one code byte 08 in front.
        assert_frame(&NodeMsg::Heartbeat { uptime_s: 300 }, &[0x08, 0x02, 0xAC, 0x02, 0xB5, 0x9F, 0x79, 0x10, 0x00]);
    }

    #[test]
    fn hello_from_node_12345_with_firmware_1_2_3_and_four_channels() {
        // body 00 (variant 0) 01 (protocol) B9 60 (varint 12345) 01 02 03 (fw) 04 (channels);
        // CRC 0xF0DAC5FC. The body starts with a zero: COBS code 01, then 0C for the other 11.
        // (Protocol 1's hello: the layout of variant 0's first fields never changes, and a
        // 64-bit id of 12345 is the same varint as a 32-bit one.)
        let hello = NodeMsg::Hello { protocol: 1, node_id: 12345, fw_version: FwVersion { major: 1, minor: 2, patch: 3 }, channels: 4 };
        assert_frame(
            &hello,
            &[0x01, 0x0C, 0x01, 0xB9, 0x60, 0x01, 0x02, 0x03, 0x04, 0xFC, 0xC5, 0xDA, 0xF0, 0x00],
        );
    }

    #[test]
    fn stable_reading_of_500_g_on_channel_0() {
        // body 01 07 00 E8 07 01 80 89 0F: variant 1, seq 7, channel 0, zigzag(500) = 1000 =
        // E8 07, stable, zigzag(123456) = 246912 = 80 89 0F; CRC 0x90F70E7D.
        assert_frame(
            &NodeMsg::Reading { seq: 7, channel: 0, grams: 500, stable: true, raw: 123_456 },
            &[0x03, 0x01, 0x07, 0x0B, 0xE8, 0x07, 0x01, 0x80, 0x89, 0x0F, 0x7D, 0x0E, 0xF7, 0x90, 0x00],
        );
    }

    #[test]
    fn unsettled_reading_of_minus_10_g_on_channel_1() {
        // body 01 00 01 13 00 FF 1F: zigzag(-10) = 19 = 0x13, not stable, zigzag(-2048) = 4095 =
        // FF 1F; CRC 0x5AFBF58C.
        assert_frame(
            &NodeMsg::Reading { seq: 0, channel: 1, grams: -10, stable: false, raw: -2048 },
            &[0x02, 0x01, 0x03, 0x01, 0x13, 0x07, 0xFF, 0x1F, 0x8C, 0xF5, 0xFB, 0x5A, 0x00],
        );
    }

    #[test]
    fn hello_with_a_64_bit_flash_unique_id() {
        // body 00 02, varint(0xE6604CB02B3A1F25) = A5 BE E8 D9 82 96 93 B0 E6 01, 01 02 03, 04;
        // CRC 0x59F78FF7.
        let hello = NodeMsg::Hello { protocol: 2, node_id: 0xE660_4CB0_2B3A_1F25, fw_version: FwVersion { major: 1, minor: 2, patch: 3 }, channels: 4 };
        assert_frame(
            &hello,
            &[0x01, 0x14, 0x02, 0xA5, 0xBE, 0xE8, 0xD9, 0x82, 0x96, 0x93, 0xB0, 0xE6, 0x01, 0x01, 0x02, 0x03, 0x04, 0xF7, 0x8F, 0xF7, 0x59, 0x00],
        );
    }

    #[test]
    fn tare_ack_and_hello_request() {
        assert_frame(&HubMsg::Tare { seq: 5, channel: 2 }, &[0x01, 0x07, 0x05, 0x02, 0x7B, 0x4C, 0x38, 0x6C, 0x00]);
        assert_frame(&NodeMsg::Ack { command_seq: 5, ok: true, code: 0 }, &[0x04, 0x03, 0x05, 0x01, 0x05, 0x58, 0x83, 0x21, 0x2C, 0x00]);
        assert_frame(&HubMsg::RequestHello, &[0x06, 0x02, 0xA1, 0x8E, 0x0C, 0x3C, 0x00]);
        assert_eq!(HubMsg::Tare { seq: 5, channel: 2 }.seq(), Some(5));
        assert_eq!(HubMsg::RequestHello.seq(), None);
    }

    #[test]
    fn the_version_2_commands_and_answers() {
        // Identify: body 03 09 05 (seq 9, 5 s), CRC 0x5CAF288D.
        assert_frame(&HubMsg::Identify { seq: 9, seconds: 5 }, &[0x08, 0x03, 0x09, 0x05, 0x8D, 0x28, 0xAF, 0x5C, 0x00]);
        // EnterBootloader: body 06 0C (variant 6, seq 12), CRC 0x1E35F952.
        assert_frame(&HubMsg::EnterBootloader { seq: 12 }, &[0x07, 0x06, 0x0C, 0x52, 0xF9, 0x35, 0x1E, 0x00]);
        assert_eq!(HubMsg::EnterBootloader { seq: 12 }.seq(), Some(12));
        // Channel 2 saturated, not calibrated, 300 timeouts, 0 saturated samples:
        // body 04 02 02 00 AC 02 00, CRC 0xBC7FCF80.
        assert_frame(
            &NodeMsg::ChannelHealth { channel: 2, state: ChannelState::Saturated as u8, calibrated: false, timeouts: 300, saturated: 0 },
            &[0x04, 0x04, 0x02, 0x02, 0x03, 0xAC, 0x02, 0x05, 0x80, 0xCF, 0x7F, 0xBC, 0x00],
        );
        // The third rejected frame, a CRC error: body 05 04 03, CRC 0x04EF8F47.
        assert_frame(&NodeMsg::FrameRejected { kind: 4, total: 3 }, &[0x08, 0x05, 0x04, 0x03, 0x47, 0x8F, 0xEF, 0x04, 0x00]);
        assert_eq!(FrameError::kind_of_code(FrameError::Crc { expected: 0, found: 1 }.code()), Some("crc"));
        assert_eq!(FrameError::kind_of_code(0), None);
        assert_eq!(FrameError::kind_of_code(6), None);
    }

    #[test]
    fn a_worked_frame_decodes_with_or_without_its_sentinel() {
        let mut with = [0x08, 0x02, 0xAC, 0x02, 0xB5, 0x9F, 0x79, 0x10, 0x00];
        assert_eq!(decode_frame::<NodeMsg>(&mut with), Ok(NodeMsg::Heartbeat { uptime_s: 300 }));
        let mut without = [0x08, 0x02, 0xAC, 0x02, 0xB5, 0x9F, 0x79, 0x10];
        assert_eq!(decode_frame::<NodeMsg>(&mut without), Ok(NodeMsg::Heartbeat { uptime_s: 300 }));
    }

    #[test]
    fn one_flipped_bit_is_a_crc_error() {
        // 300 s became 301 s (AC → AD): the body's CRC no longer matches.
        let mut bad = [0x08, 0x02, 0xAD, 0x02, 0xB5, 0x9F, 0x79, 0x10];
        assert!(matches!(decode_frame::<NodeMsg>(&mut bad), Err(FrameError::Crc { found: 0x10799FB5, .. })));
    }

    #[test]
    fn broken_cobs_short_frames_and_unknown_variants() {
        // The code byte says 9 bytes follow; only 3 do.
        assert_eq!(decode_frame::<NodeMsg>(&mut [0x0A, 0x02, 0xAC, 0x02]), Err(FrameError::Cobs));
        // Three bytes cannot carry a 4-byte CRC.
        assert_eq!(decode_frame::<NodeMsg>(&mut [0x04, 0x01, 0x02, 0x03]), Err(FrameError::Truncated));
        // Variant 9 with a correct CRC: 09 → CRC over [09].
        let crc = crc32fast::hash(&[0x09]).to_le_bytes();
        let body = [0x09, crc[0], crc[1], crc[2], crc[3]];
        let mut frame = [0u8; 8];
        let n = cobs::encode(&body, &mut frame);
        assert!(matches!(decode_frame::<NodeMsg>(&mut frame[..n]), Err(FrameError::Postcard(_))));
    }

    #[test]
    fn encoding_into_a_too_small_buffer_fails_instead_of_truncating() {
        let mut buf = [0u8; 8];
        assert_eq!(encode_frame(&NodeMsg::Heartbeat { uptime_s: 300 }, &mut buf), Err(postcard::Error::SerializeBufferFull));
    }

    #[test]
    fn the_largest_messages_fit_max_frame_len() {
        let hello = NodeMsg::Hello { protocol: 255, node_id: u64::MAX, fw_version: FwVersion { major: 255, minor: 255, patch: 255 }, channels: 255 };
        let reading = NodeMsg::Reading { seq: u16::MAX, channel: 255, grams: i32::MIN, stable: true, raw: i32::MIN };
        let health = NodeMsg::ChannelHealth { channel: 255, state: 255, calibrated: true, timeouts: u16::MAX, saturated: u16::MAX };
        let rejected = NodeMsg::FrameRejected { kind: 255, total: u32::MAX };
        let cal = HubMsg::Calibrate { seq: u16::MAX, channel: 255, known_grams: i32::MIN };
        assert_eq!(frame_of(&hello).1, 22);
        assert_eq!(frame_of(&reading).1, 22);
        assert!(frame_of(&health).1 <= 22);
        assert!(frame_of(&rejected).1 <= 22);
        assert!(frame_of(&cal).1 <= 22);
    }

    #[test]
    fn accumulator_takes_frames_split_anywhere_and_back_to_back() {
        let a = frame_of(&NodeMsg::Heartbeat { uptime_s: 300 });
        let b = frame_of(&NodeMsg::Reading { seq: 1, channel: 3, grams: -1234, stable: true, raw: -99 });
        let mut stream = [0u8; 2 * MAX_FRAME_LEN];
        stream[..a.1].copy_from_slice(&a.0[..a.1]);
        stream[a.1..a.1 + b.1].copy_from_slice(&b.0[..b.1]);
        let stream = &stream[..a.1 + b.1];
        for split in 0..=stream.len() {
            let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
            let mut got = [None; 2];
            let mut n = 0;
            for part in [&stream[..split], &stream[split..]] {
                let mut window = part;
                loop {
                    match acc.feed::<NodeMsg>(window) {
                        Feed::Consumed => break,
                        Feed::Message(m, rest) => {
                            got[n] = Some(m);
                            n += 1;
                            window = rest;
                        }
                        Feed::Error(e, _) => panic!("split at {split}: {e}"),
                    }
                }
            }
            assert_eq!(got, [Some(NodeMsg::Heartbeat { uptime_s: 300 }), Some(NodeMsg::Reading { seq: 1, channel: 3, grams: -1234, stable: true, raw: -99 })]);
            assert_eq!(acc.pending(), 0);
        }
    }

    #[test]
    fn accumulator_drops_an_overlong_run_once_and_recovers_at_the_next_zero() {
        let mut acc = FrameAccumulator::<16>::new();
        let garbage = [0x55u8; 40];
        match acc.feed::<NodeMsg>(&garbage) {
            Feed::Error(FrameError::Overlong, rest) => assert_eq!(rest.len(), 40 - 17),
            other => panic!("{other:?}"),
        }
        // The rest of the run is dropped silently, then the next frame decodes.
        assert_eq!(acc.feed::<NodeMsg>(&garbage[17..]), Feed::Consumed);
        let (f, n) = frame_of(&NodeMsg::Heartbeat { uptime_s: 300 });
        let mut input = [0u8; 10];
        input[0] = 0x00; // ends the overlong run
        input[1..1 + n].copy_from_slice(&f[..n]);
        match acc.feed::<NodeMsg>(&input[..1 + n]) {
            Feed::Message(m, rest) => {
                assert_eq!(m, NodeMsg::Heartbeat { uptime_s: 300 });
                assert!(rest.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_frames_are_ignored() {
        let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
        assert_eq!(acc.feed::<NodeMsg>(&[0, 0, 0]), Feed::Consumed);
    }

    #[test]
    fn ack_codes_round_trip_their_byte() {
        for code in 0..=7u8 {
            assert_eq!(AckCode::from_u8(code).map(|c| c as u8), Some(code));
        }
        assert_eq!(AckCode::from_u8(8), None);
        for code in 0..=2u8 {
            assert_eq!(ChannelState::from_u8(code).map(|c| c as u8), Some(code));
        }
        assert_eq!(ChannelState::from_u8(3), None);
        assert_eq!(AckCode::NotStable.as_str(), "not_stable");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn node_msg() -> impl Strategy<Value = NodeMsg> {
        prop_oneof![
            (any::<u8>(), any::<u64>(), any::<(u8, u8, u8)>(), any::<u8>()).prop_map(|(protocol, node_id, (major, minor, patch), channels)| {
                NodeMsg::Hello { protocol, node_id, fw_version: FwVersion { major, minor, patch }, channels }
            }),
            (any::<u16>(), any::<u8>(), any::<i32>(), any::<bool>(), any::<i32>())
                .prop_map(|(seq, channel, grams, stable, raw)| NodeMsg::Reading { seq, channel, grams, stable, raw }),
            any::<u32>().prop_map(|uptime_s| NodeMsg::Heartbeat { uptime_s }),
            (any::<u16>(), any::<bool>(), any::<u8>()).prop_map(|(command_seq, ok, code)| NodeMsg::Ack { command_seq, ok, code }),
            (any::<u8>(), any::<u8>(), any::<bool>(), any::<u16>(), any::<u16>()).prop_map(|(channel, state, calibrated, timeouts, saturated)| {
                NodeMsg::ChannelHealth { channel, state, calibrated, timeouts, saturated }
            }),
            (any::<u8>(), any::<u32>()).prop_map(|(kind, total)| NodeMsg::FrameRejected { kind, total }),
        ]
    }

    fn hub_msg() -> impl Strategy<Value = HubMsg> {
        prop_oneof![
            (any::<u16>(), any::<u8>()).prop_map(|(seq, channel)| HubMsg::Tare { seq, channel }),
            (any::<u16>(), any::<u8>(), any::<i32>()).prop_map(|(seq, channel, known_grams)| HubMsg::Calibrate { seq, channel, known_grams }),
            Just(HubMsg::RequestHello),
            (any::<u16>(), any::<u8>()).prop_map(|(seq, seconds)| HubMsg::Identify { seq, seconds }),
            (any::<u16>(), any::<u8>()).prop_map(|(seq, per_s)| HubMsg::SetSampleRate { seq, per_s }),
            any::<u16>().prop_map(|seq| HubMsg::Reboot { seq }),
            any::<u16>().prop_map(|seq| HubMsg::EnterBootloader { seq }),
        ]
    }

    proptest! {
        #[test]
        fn every_node_message_round_trips_through_one_frame(msg in node_msg()) {
            let mut buf = [0u8; MAX_FRAME_LEN];
            let frame = encode_frame(&msg, &mut buf).unwrap();
            prop_assert!(frame.len() <= MAX_FRAME_LEN);
            prop_assert_eq!(frame.last(), Some(&0));
            prop_assert!(!frame[..frame.len() - 1].contains(&0));
            let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
            let copy: [u8; MAX_FRAME_LEN] = buf;
            let n = copy.iter().position(|b| *b == 0).unwrap() + 1;
            prop_assert_eq!(acc.feed::<NodeMsg>(&copy[..n]), Feed::Message(msg, &[][..]));
        }

        #[test]
        fn every_hub_message_round_trips(msg in hub_msg()) {
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = encode_frame(&msg, &mut buf).unwrap().len();
            prop_assert_eq!(decode_frame::<HubMsg>(&mut buf[..n]), Ok(msg));
        }

        #[test]
        fn random_bytes_never_panic_and_never_leave_more_than_n_pending(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..20)
        ) {
            let mut acc = FrameAccumulator::<32>::new();
            for chunk in &chunks {
                let mut window = &chunk[..];
                loop {
                    match acc.feed::<NodeMsg>(window) {
                        Feed::Consumed => break,
                        Feed::Message(_, rest) | Feed::Error(_, rest) => {
                            prop_assert!(rest.len() < window.len());
                            window = rest;
                        }
                    }
                }
                prop_assert!(acc.pending() <= 32);
            }
        }

        #[test]
        fn a_corrupted_byte_never_yields_a_different_message(msg in node_msg(), at in 0usize..16, flip in 1u8..=255) {
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = encode_frame(&msg, &mut buf).unwrap().len();
            let at = at % (n - 1);
            buf[at] ^= flip;
            // A flipped byte may become 0x00 and split the frame; every piece must fail or be
            // the original message, never another one.
            let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
            let mut window = &buf[..n];
            loop {
                match acc.feed::<NodeMsg>(window) {
                    Feed::Consumed => break,
                    Feed::Message(m, rest) => { prop_assert_eq!(m, msg); window = rest; }
                    Feed::Error(_, rest) => window = rest,
                }
            }
        }
    }
}
