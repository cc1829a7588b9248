//! Tare and two-point calibration: grams = (raw − offset) × grams_ref ÷ counts_ref, rounded half
//! up. The offset is the raw reading of the empty (tared) shelf; the ratio comes from one known
//! weight placed on it: counts_ref = raw with the weight − raw empty, grams_ref = its grams.
//!
//! Rounding is half up (towards +∞ on an exact .5) everywhere a node or the hub's GPIO HX711
//! driver (which uses this module) turns counts into grams. Half up and half away from zero only
//! differ below zero at exactly .5 (−0.5 g: 0 here, −1 half-away); half up is kept because it
//! commutes with whole-gram shifts (round(x + n) = round(x) + n), so a tare or an item moves every
//! reading by the same grams whichever side of zero the shelf drifts to, and the filter's averages
//! use the same rule.

use crate::filter::div_round_half_up;

/// A channel's calibration, as the node keeps it in flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Raw counts of the empty shelf.
    pub offset: i32,
    /// The reference weight, grams (> 0).
    pub grams_ref: i32,
    /// What the reference weight read above the offset, counts (≠ 0; negative when the cell is
    /// wired the other way round).
    pub counts_ref: i32,
}

/// Why a calibration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationError {
    /// The known weight must be at least one gram.
    WeightNotPositive,
    /// The weight read the same as the empty shelf: nothing on the cell, or a broken wire.
    NoChange,
}

impl Calibration {
    /// Before calibration: 1 count = 1 gram, no offset.
    pub const UNCALIBRATED: Calibration = Calibration { offset: 0, grams_ref: 1, counts_ref: 1 };

    /// Two points: the empty reading and the reading with `known_grams` on the shelf.
    pub fn two_point(raw_empty: i32, raw_loaded: i32, known_grams: i32) -> Result<Calibration, CalibrationError> {
        if known_grams <= 0 {
            return Err(CalibrationError::WeightNotPositive);
        }
        let counts = i64::from(raw_loaded) - i64::from(raw_empty);
        if counts == 0 {
            return Err(CalibrationError::NoChange);
        }
        let counts_ref = counts.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        Ok(Calibration { offset: raw_empty, grams_ref: known_grams, counts_ref })
    }

    /// Keeps the ratio and takes `raw` as the new zero (tare).
    pub fn tare(self, raw: i32) -> Calibration {
        Calibration { offset: raw, ..self }
    }

    /// Calibrates against `known_grams` placed on the tared shelf reading `raw_loaded` now.
    pub fn with_known_weight(self, raw_loaded: i32, known_grams: i32) -> Result<Calibration, CalibrationError> {
        Calibration::two_point(self.offset, raw_loaded, known_grams)
    }

    /// The weight of a raw reading, grams (may be negative: less than at the tare).
    pub fn grams(&self, raw: i32) -> i32 {
        if self.counts_ref == 0 {
            return 0;
        }
        let num = (i64::from(raw) - i64::from(self.offset)) * i64::from(self.grams_ref);
        let den = i64::from(self.counts_ref);
        // Rounding half up needs a positive divisor.
        if den < 0 {
            div_round_half_up(-num, -den)
        } else {
            div_round_half_up(num, den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Empty shelf reads 8 400 counts; a 500 g weight reads 229 400 → 442 counts a gram.
    /// 1 114 900 counts = (1 114 900 − 8 400) / 442 = 2 503.39… → 2 503 g; 8 621 → 0.5 → 1 g;
    /// 8 179 → −0.5 → 0 g (half up).
    #[test]
    fn two_point_calibration_in_worked_numbers() {
        let c = Calibration::two_point(8_400, 229_400, 500).unwrap();
        assert_eq!(c, Calibration { offset: 8_400, grams_ref: 500, counts_ref: 221_000 });
        assert_eq!(c.grams(229_400), 500);
        assert_eq!(c.grams(1_114_900), 2_503);
        assert_eq!(c.grams(8_621), 1);
        assert_eq!(c.grams(8_179), 0);
        assert_eq!(c.grams(8_400 - 4_420), -10);
        // A cell wired the other way round reads down as weight goes on.
        let r = Calibration::two_point(-8_400, -229_400, 500).unwrap();
        assert_eq!((r.grams(-229_400), r.grams(-1_114_900)), (500, 2_503));
    }

    /// A tare keeps the ratio: after a 350 g tray is tared (raw 163 100), 663 100 reads 1 131 g.
    #[test]
    fn tare_moves_the_zero_and_keeps_the_ratio() {
        let c = Calibration::two_point(8_400, 229_400, 500).unwrap().tare(163_100);
        assert_eq!(c.grams(163_100), 0);
        assert_eq!(c.grams(663_100), 1_131); // 500 000 / 442 = 1 131.22
        let again = Calibration::UNCALIBRATED.tare(1_000).with_known_weight(222_000, 500).unwrap();
        assert_eq!(again, Calibration { offset: 1_000, grams_ref: 500, counts_ref: 221_000 });
    }

    #[test]
    fn bad_calibrations_are_refused() {
        assert_eq!(Calibration::two_point(1, 2, 0), Err(CalibrationError::WeightNotPositive));
        assert_eq!(Calibration::two_point(5, 5, 500), Err(CalibrationError::NoChange));
        // Extremes saturate instead of overflowing.
        let c = Calibration::two_point(i32::MIN, i32::MAX, i32::MAX).unwrap();
        assert!(c.grams(i32::MAX) > 0);
    }
}
