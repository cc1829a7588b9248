//! Mettler Toledo 8217 ("Toledo") protocol: the host sends one ASCII byte — `W` weigh, `Z` zero,
//! `T` tare, `C` clear tare — and the scale answers STX, body, CR. The body is a settled weight
//! (`01.250`, `01.250N` when net, some scales add a unit) or `?` and a status byte when it cannot
//! give one (moving, over capacity, under zero …). Zero, tare and clear tare are answered with a
//! status frame. This module only turns bodies into [`Reply`]s; the driver does the I/O.

use super::units::{text_to_grams, WeightUnit};
use super::{Reply, ScaleError};
use crate::devices::{WeightReading, WeightState};

/// Ask for a weight.
pub const POLL: &[u8] = b"W";
pub const ZERO: &[u8] = b"Z";
pub const TARE: &[u8] = b"T";
pub const CLEAR_TARE: &[u8] = b"C";
/// The longest body accepted between STX and CR (a weight with unit and net flag is ~10).
pub const MAX_FRAME: usize = 32;

/// The status byte of a `?` frame (DIVA service manual, "Scale Status Byte Bit Definitions").
/// Bit 6 is always 1 and bit 7 is parity on a 7E1 line; both are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u8);

impl Status {
    pub fn motion(self) -> bool {
        self.0 & 0x01 != 0
    }
    pub fn over_capacity(self) -> bool {
        self.0 & 0x02 != 0
    }
    pub fn under_zero(self) -> bool {
        self.0 & 0x04 != 0
    }
    pub fn outside_zero_capture(self) -> bool {
        self.0 & 0x08 != 0
    }
    pub fn centre_of_zero(self) -> bool {
        self.0 & 0x10 != 0
    }
    pub fn net(self) -> bool {
        self.0 & 0x20 != 0
    }

    /// What the status says about the weight. Over capacity and under zero win over motion;
    /// "outside zero capture range" (the scale could not zero at power-up) is an error; a scale
    /// at centre of zero with nothing else set weighs a stable 0 g.
    pub fn reading(self) -> WeightReading {
        let (state, stable) = if self.over_capacity() {
            (WeightState::Overload, false)
        } else if self.under_zero() {
            (WeightState::UnderZero, false)
        } else if self.outside_zero_capture() {
            (WeightState::Error, false)
        } else if self.motion() {
            (WeightState::Motion, false)
        } else if self.centre_of_zero() {
            (WeightState::Ok, true)
        } else {
            (WeightState::Error, false)
        };
        WeightReading { grams: 0, stable, state }
    }

    /// The set bits in words, for logs and `storehub doctor`.
    pub fn describe(self) -> String {
        let names = [
            (self.motion(), "in motion"),
            (self.over_capacity(), "over capacity"),
            (self.under_zero(), "under zero"),
            (self.outside_zero_capture(), "outside zero capture range"),
            (self.centre_of_zero(), "centre of zero"),
            (self.net(), "net"),
        ];
        let set: Vec<&str> = names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
        let bits = format!("status 0x{:02x}", self.0 & 0x7f);
        if set.is_empty() {
            format!("{bits}: no condition set")
        } else {
            format!("{bits}: {}", set.join(", "))
        }
    }
}

/// Decodes one frame body (the bytes between STX and CR). Weights without a unit are in
/// `default_unit` (kg on a scale set to metric).
pub fn decode(body: &[u8], default_unit: WeightUnit) -> Result<Reply, ScaleError> {
    let bad = |why: String| ScaleError::BadFrame { protocol: "toledo-8217", frame: super::framing::show(body), why };
    match body {
        [b'?', status] => Ok(Reply::Status { reading: Status(*status).reading(), detail: Status(*status).describe() }),
        [b'?', ..] => Err(bad("a status frame has exactly one status byte after '?'".into())),
        // The echo test (`E`): the scale answers STX E CR and then echoes; not a weight.
        [b'E'] => Ok(Reply::Other("echo mode".into())),
        _ => {
            let text = std::str::from_utf8(body).map_err(|_| bad("not ASCII".into()))?;
            let mut rest = text.trim();
            // Net weight: an N after the digits. The reading is the same.
            if let Some(r) = rest.strip_suffix('N') {
                rest = r.trim_end();
            }
            let split = rest.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let (number, unit_text) = rest.split_at(split);
            if number.trim().is_empty() {
                return Err(bad("expected a weight like 01.250 or a status frame ?<byte>".into()));
            }
            let unit = if unit_text.trim().is_empty() { default_unit } else { WeightUnit::parse(unit_text)? };
            let grams = text_to_grams(number, unit)?;
            let state = if grams < 0 { WeightState::UnderZero } else { WeightState::Ok };
            Ok(Reply::Reading(WeightReading { grams, stable: true, state }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(body: &[u8]) -> WeightReading {
        match decode(body, WeightUnit::Kilogram).unwrap() {
            Reply::Reading(r) | Reply::Status { reading: r, .. } => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settled_weights_in_kilograms() {
        // STX "01.250" CR → 1.250 kg.
        assert_eq!(reading(b"01.250"), WeightReading { grams: 1250, stable: true, state: WeightState::Ok });
        // Net weight: an N after the digits.
        assert_eq!(reading(b"00.350N").grams, 350);
        // Leading spaces and a unit some emulations add.
        assert_eq!(reading(b" 2.000KG").grams, 2000);
        assert_eq!(reading(b"0.500 kg").grams, 500);
        // A scale set to pounds, configured with unit = "lb": 1.00 lb = 453.59237 g → 454 g.
        assert!(matches!(decode(b"01.00", WeightUnit::Pound), Ok(Reply::Reading(WeightReading { grams: 454, stable: true, .. }))));
    }

    #[test]
    fn status_bytes() {
        // '@' = 0x40: bit 6 (always 1) only. 'A' = 0x41 motion. 'B' = 0x42 over capacity.
        // 'D' = 0x44 under zero. 'H' = 0x48 outside zero capture. 'P' = 0x50 centre of zero.
        // 0xC1 = 'A' with the parity bit set on an 8-bit read of a 7E1 line.
        assert_eq!(reading(b"?A").state, WeightState::Motion);
        assert_eq!(reading(&[b'?', 0xC1]).state, WeightState::Motion);
        assert_eq!(reading(b"?B").state, WeightState::Overload);
        assert_eq!(reading(b"?C").state, WeightState::Overload);
        assert_eq!(reading(b"?D").state, WeightState::UnderZero);
        assert_eq!(reading(b"?E").state, WeightState::UnderZero);
        assert_eq!(reading(b"?H").state, WeightState::Error);
        assert_eq!(reading(b"?P"), WeightReading { grams: 0, stable: true, state: WeightState::Ok });
        assert_eq!(reading(b"?@").state, WeightState::Error);
        assert_eq!(Status(b'a').describe(), "status 0x61: in motion, net");
    }

    #[test]
    fn bad_bodies_say_what_was_wrong() {
        let e = decode(b"?AB", WeightUnit::Kilogram).unwrap_err().to_string();
        assert!(e.contains("exactly one status byte"), "{e}");
        let e = decode(b"01.2x50", WeightUnit::Kilogram).unwrap_err().to_string();
        assert!(e.contains("\"x50\""), "{e}");
        let e = decode(b"\xff\xfe", WeightUnit::Kilogram).unwrap_err().to_string();
        assert!(e.contains("not ASCII") && e.contains("\\xff"), "{e}");
        let e = decode(b"KG", WeightUnit::Kilogram).unwrap_err().to_string();
        assert!(e.contains("expected a weight"), "{e}");
        assert!(matches!(decode(b"E", WeightUnit::Kilogram), Ok(Reply::Other(_))));
    }
}
