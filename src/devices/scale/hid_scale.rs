//! USB HID scales (usage page 0x8D, "Scale Page"): every input report is 6 bytes,
//! `[report id 0x03, status, unit, exponent (i8), weight LSB, weight MSB]`, the weight
//! `(MSB·256 + LSB) · 10^exponent` in the unit. Other report ids (attributes, control) are not
//! weights and are skipped. Conversion to grams follows [`super::units`]: exact for g and kg,
//! ounces and pounds by their exact definitions, rounded half away from zero.

use super::units::{to_grams, WeightUnit};
use super::ScaleError;
use crate::devices::{WeightReading, WeightState};

/// The report id of a weight data report.
pub const DATA_REPORT: u8 = 0x03;
/// Bytes of a data report.
pub const REPORT_LEN: usize = 6;

/// What a report says.
fn state_of(status: u8) -> Result<(WeightState, bool), ScaleError> {
    Ok(match status {
        1 => (WeightState::Error, false), // fault
        2 => (WeightState::Ok, true),     // stable at zero
        3 => (WeightState::Motion, false),
        4 => (WeightState::Ok, true),
        5 => (WeightState::UnderZero, false),
        6 => (WeightState::Overload, false),
        7 => (WeightState::Error, false), // requires calibration
        8 => (WeightState::Error, false), // requires re-zeroing
        other => {
            return Err(ScaleError::BadFrame {
                protocol: "hid-scale",
                frame: format!("status {other}"),
                why: "unknown scale status; expected 1..=8".into(),
            })
        }
    })
}

/// The HID unit code's unit: 1 mg, 2 g, 3 kg, 11 oz, 12 lb. Carats, taels, grains,
/// pennyweights, tons and troy ounces are refused.
fn unit_of(code: u8) -> Result<WeightUnit, ScaleError> {
    Ok(match code {
        1 => WeightUnit::Milligram,
        2 => WeightUnit::Gram,
        3 => WeightUnit::Kilogram,
        11 => WeightUnit::Ounce,
        12 => WeightUnit::Pound,
        other => return Err(ScaleError::UnknownUnit { unit: format!("HID unit code {other}") }),
    })
}

/// Decodes one input report as hidraw delivers it (report id first). `Ok(None)` for reports
/// that are not weight data. Under zero is reported as the negative of the magnitude the scale
/// sends.
pub fn decode_report(report: &[u8]) -> Result<Option<WeightReading>, ScaleError> {
    match report.first() {
        None => return Err(ScaleError::BadFrame { protocol: "hid-scale", frame: String::new(), why: "empty report".into() }),
        Some(&id) if id != DATA_REPORT => return Ok(None),
        _ => {}
    }
    if report.len() < REPORT_LEN {
        return Err(ScaleError::BadFrame {
            protocol: "hid-scale",
            frame: super::framing::show(report),
            why: format!("a data report has {REPORT_LEN} bytes, got {}", report.len()),
        });
    }
    let (state, stable) = state_of(report[1])?;
    let unit = unit_of(report[2])?;
    let exponent = report[3] as i8;
    let raw = i128::from(u16::from_le_bytes([report[4], report[5]]));
    let grams = match report[1] {
        2 => 0,
        5 => -to_grams(raw, i32::from(exponent), unit)?,
        _ => to_grams(raw, i32::from(exponent), unit)?,
    };
    Ok(Some(WeightReading { grams, stable, state }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(bytes: [u8; 6]) -> WeightReading {
        decode_report(&bytes).unwrap().unwrap()
    }

    #[test]
    fn the_reference_examples() {
        // 03 04 02 00 E8 03: stable, grams, 10^0, 0x03E8 = 1000 → 1000 g.
        assert_eq!(r([0x03, 0x04, 0x02, 0x00, 0xE8, 0x03]), WeightReading { grams: 1000, stable: true, state: WeightState::Ok });
        // 03 04 0B FF 2C 01: stable, ounces, 10^-1, 0x012C = 300 → 30.0 oz = 850.48569375 g → 850 g.
        assert_eq!(r([0x03, 0x04, 0x0B, 0xFF, 0x2C, 0x01]), WeightReading { grams: 850, stable: true, state: WeightState::Ok });
    }

    #[test]
    fn states_units_and_exponents() {
        // In motion, kg, 10^-3, 1234 → 1.234 kg.
        assert_eq!(r([0x03, 0x03, 0x03, 0xFD, 0xD2, 0x04]), WeightReading { grams: 1234, stable: false, state: WeightState::Motion });
        // Over weight, g, 10^0, 0xFFFF.
        assert_eq!(r([0x03, 0x06, 0x02, 0x00, 0xFF, 0xFF]).state, WeightState::Overload);
        // Stable at zero.
        assert_eq!(r([0x03, 0x02, 0x02, 0x00, 0x00, 0x00]), WeightReading { grams: 0, stable: true, state: WeightState::Ok });
        // Under zero, g, 10^-1, 55 → -5.5 g → -6 g (half away from zero).
        assert_eq!(r([0x03, 0x05, 0x02, 0xFF, 0x37, 0x00]), WeightReading { grams: -6, stable: false, state: WeightState::UnderZero });
        // Pounds, 10^-2, 250 → 2.50 lb = 1133.980925 g → 1134 g.
        assert_eq!(r([0x03, 0x04, 0x0C, 0xFE, 0xFA, 0x00]).grams, 1134);
        // Fault, calibration, re-zeroing are errors.
        for s in [1u8, 7, 8] {
            assert_eq!(r([0x03, s, 0x02, 0x00, 0x00, 0x00]).state, WeightState::Error);
        }
        // A positive exponent: 10^1 g, 12 → 120 g.
        assert_eq!(r([0x03, 0x04, 0x02, 0x01, 0x0C, 0x00]).grams, 120);
    }

    #[test]
    fn other_reports_and_bad_ones() {
        assert_eq!(decode_report(&[0x05, 0x00, 0x00]).unwrap(), None);
        let e = decode_report(&[0x03, 0x04, 0x02]).unwrap_err().to_string();
        assert!(e.contains("has 6 bytes, got 3"), "{e}");
        let e = decode_report(&[0x03, 0x09, 0x02, 0x00, 0x00, 0x00]).unwrap_err().to_string();
        assert!(e.contains("status 9"), "{e}");
        let e = decode_report(&[0x03, 0x04, 0x04, 0x00, 0x01, 0x00]).unwrap_err().to_string();
        assert!(e.contains("HID unit code 4"), "{e}");
        let e = decode_report(&[0x03, 0x04, 0x02, 0x7F, 0x01, 0x00]).unwrap_err().to_string();
        assert!(e.contains("power of ten 127 is out of range"), "{e}");
        assert!(decode_report(&[]).is_err());
    }
}
