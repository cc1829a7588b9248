//! CAS continuous output: the indicator streams one fixed-length ASCII frame per reading,
//! unasked, ending CR LF. Every layout starts `ST`/`US`/`OL` (stable, unstable, overload), a
//! comma, `GS`/`NT` (gross, net), a comma; what follows differs by model, so the layouts are a
//! table ([`LAYOUTS`]) and each frame is matched against it by length and comma positions.
//! Sources for each layout are in docs/devices.md (## Scales).

use std::ops::Range;

use super::units::{text_to_grams, WeightUnit};
use super::{Reply, ScaleError};
use crate::devices::{WeightReading, WeightState};

/// The longest line accepted (the longest layout is 20 bytes before CR LF).
pub const MAX_LINE: usize = 48;

/// Where the fields sit in one CAS frame (without CR LF).
#[derive(Debug)]
pub struct CasLayout {
    pub name: &'static str,
    /// The models whose manuals document this layout.
    pub models: &'static str,
    /// Frame length without CR LF.
    pub len: usize,
    /// Byte positions that must hold a comma.
    pub commas: &'static [usize],
    /// Device id byte (ASCII '1' = device 1), when the layout has one.
    pub device_id: Option<usize>,
    /// The 8-byte weight, right-aligned, with sign and decimal point.
    pub weight: Range<usize>,
    /// The 2-byte unit (`kg`, ` g`, `lb`).
    pub unit: Range<usize>,
}

/// The layouts this hub reads.
pub const LAYOUTS: &[CasLayout] = &[
    // "CAS 22 bytes": ST , GS , <id> <lamp> , <weight 8> <blank> <unit 2> CR LF.
    CasLayout {
        name: "cas-22",
        models: "CAS CI-150A, CI-600D, NT-200, PDS, Caston-III",
        len: 20,
        commas: &[2, 5, 8],
        device_id: Some(6),
        weight: 9..17,
        unit: 18..20,
    },
    // "AND 18 bytes" (selectable on the same CI indicators): ST , GS , <weight 8> <unit 2> CR LF.
    CasLayout {
        name: "cas-18",
        models: "CAS CI-150A, CI-600D (the \"AND\" format)",
        len: 16,
        commas: &[2, 5],
        device_id: None,
        weight: 6..14,
        unit: 14..16,
    },
];

/// The layout a frame (without CR LF) has, if any.
pub fn layout_of(frame: &[u8]) -> Option<&'static CasLayout> {
    LAYOUTS.iter().find(|l| frame.len() == l.len && l.commas.iter().all(|&i| frame[i] == b','))
}

/// Decodes one frame (a line without CR LF).
pub fn decode(frame: &[u8]) -> Result<Reply, ScaleError> {
    let bad = |why: String| ScaleError::BadFrame { protocol: "cas", frame: super::framing::show(frame), why };
    let layout = layout_of(frame).ok_or_else(|| {
        let known: Vec<String> = LAYOUTS.iter().map(|l| format!("{} ({} bytes + CR LF)", l.name, l.len)).collect();
        bad(format!("{} bytes matches no CAS layout; expected one of {}", frame.len(), known.join(", ")))
    })?;
    let (state, stable) = match &frame[0..2] {
        b"ST" => (WeightState::Ok, true),
        b"US" => (WeightState::Motion, false),
        b"OL" => (WeightState::Overload, false),
        _ => return Err(bad("expected ST, US or OL at the start".into())),
    };
    if !matches!(&frame[3..5], b"GS" | b"NT") {
        return Err(bad("expected GS or NT after the first comma".into()));
    }
    let text = |r: Range<usize>| std::str::from_utf8(&frame[r]).map_err(|_| bad("weight or unit is not ASCII".into()));
    let weight = text(layout.weight.clone())?;
    let unit = WeightUnit::parse(text(layout.unit.clone())?)?;
    let grams = match text_to_grams(weight, unit) {
        Ok(g) => g,
        // An overloaded indicator may not send digits; the state says enough.
        Err(_) if state == WeightState::Overload => 0,
        Err(e) => return Err(e),
    };
    let state = if grams < 0 && state == WeightState::Ok { WeightState::UnderZero } else { state };
    Ok(Reply::Reading(WeightReading { grams, stable, state }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(frame: &[u8]) -> WeightReading {
        match decode(frame).unwrap() {
            Reply::Reading(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_22_byte_layout() {
        // Device 1, lamp byte 0xC4 (bit 7 always 1, bit 6 stable, bit 2 gross), 13.5 kg.
        let mut f = b"ST,GS,1\xc4,000013.5 kg".to_vec();
        assert_eq!(f.len(), 20);
        assert_eq!(reading(&f), WeightReading { grams: 13_500, stable: true, state: WeightState::Ok });
        f[0..2].copy_from_slice(b"US");
        assert_eq!(reading(&f), WeightReading { grams: 13_500, stable: false, state: WeightState::Motion });
        assert_eq!(reading(b"ST,NT,1\xc4,  -0.120 kg"), WeightReading { grams: -120, stable: true, state: WeightState::UnderZero });
        assert_eq!(reading(b"ST,GS,1\xc4,   250.0  g").grams, 250);
        assert_eq!(reading(b"OL,GS,1\x84,         kg").state, WeightState::Overload);
    }

    #[test]
    fn the_18_byte_layout() {
        assert_eq!(reading(b"ST,GS,+001.500kg"), WeightReading { grams: 1500, stable: true, state: WeightState::Ok });
        assert_eq!(reading(b"US,NT,-000.020kg").state, WeightState::Motion);
    }

    #[test]
    fn frames_that_fit_no_layout() {
        let e = decode(b"ST,GS,1.500kg").unwrap_err().to_string();
        assert!(e.contains("13 bytes matches no CAS layout") && e.contains("cas-22 (20 bytes + CR LF)"), "{e}");
        let e = decode(b"XX,GS,+001.500kg").unwrap_err().to_string();
        assert!(e.contains("expected ST, US or OL"), "{e}");
        let e = decode(b"ST,GS,+001.5x0kg").unwrap_err().to_string();
        assert!(e.contains("unexpected character 'x'"), "{e}");
        let e = decode(b"ST,GS,+001.500ct").unwrap_err().to_string();
        assert!(e.contains("\"ct\""), "{e}");
    }
}
