//! Shelf weights → units on the shelf → what changed (picked, restocked, low, empty).
//!
//! Pure: a channel's unit weight, tolerance and low mark plus a stable gram reading give a unit
//! count or "ambiguous"; a [`ShelfState`] turns a sequence of counts into [`ShelfChange`]s with
//! hysteresis, so sensor noise and a hand resting on the shelf do not flap events. No I/O, no
//! clock: the tracker (`devices::shelf::tracker`) feeds it readings and writes the events.
//!
//! Rules, in grams and units a shopkeeper can check:
//! - The tolerance defaults to a third of a unit, rounded down ([`default_tolerance`]): with
//!   250 g bottles, 1 080 g reads as 4 units (1 000 g + 80 g, within ±83 g), 1 125 g is
//!   ambiguous (between 4 and 5 units by more than 83 g either way).
//! - Only stable readings count, and a new count must be seen on [`CONFIRM_READINGS`]
//!   consecutive stable readings before it replaces the old one; an ambiguous or unstable
//!   reading in between starts the confirmation over.
//! - The first confirmed count after start is a baseline: no event (the hub does not know what
//!   happened while it was off).
//! - `Low` when the count falls to `low_units` or below (from above), once, until a restock
//!   lifts it above `low_units` again; `Empty` when it falls to 0, once, until it rises above 0.
//!   When a pick empties the shelf, `Empty` is sent and not `Low` as well.

use serde::Serialize;

/// Consecutive stable readings that must agree on a new count before it counts.
pub const CONFIRM_READINGS: u8 = 2;

/// What a channel holds and when it is low.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSpec {
    /// Weight of one unit, in grams (> 0).
    pub unit_grams: i64,
    /// A reading within this many grams of a whole number of units counts as that number.
    pub tolerance_grams: i64,
    /// At or below this many units the shelf is low.
    pub low_units: i64,
}

/// A third of a unit, rounded down, at least 1 g: readings nearer the middle between two counts
/// than that are ambiguous rather than guessed.
pub fn default_tolerance(unit_grams: i64) -> i64 {
    (unit_grams / 3).max(1)
}

impl ChannelSpec {
    /// A channel with the default tolerance.
    pub fn new(unit_grams: i64, low_units: i64) -> ChannelSpec {
        ChannelSpec { unit_grams, tolerance_grams: default_tolerance(unit_grams), low_units }
    }
}

/// Units on the shelf, read from grams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    Units(i64),
    /// Not within tolerance of a whole number of units (something else on the shelf, a hand,
    /// a wrong unit weight); `nearest` is the closest count.
    Ambiguous { grams: i64, nearest: i64 },
}

/// The count `grams` means on a channel. Slightly negative readings within tolerance of zero
/// are 0 units (a scale drifting below its tare).
pub fn units_on_shelf(spec: &ChannelSpec, grams: i64) -> Count {
    let unit = spec.unit_grams.max(1);
    // Nearest whole count, halves up.
    let nearest = if grams >= 0 { (grams + unit / 2) / unit } else { -((-grams + unit / 2) / unit) };
    let nearest = nearest.max(0);
    let residual = grams - nearest * unit;
    if residual.abs() <= spec.tolerance_grams {
        Count::Units(nearest)
    } else {
        Count::Ambiguous { grams, nearest }
    }
}

/// A change worth telling the stock triggers and HQ about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ShelfChange {
    /// `units` were taken off the shelf.
    ItemPicked { units: i64 },
    /// `units` were put on the shelf.
    Restocked { units: i64 },
    /// The count fell to the low mark or below.
    Low,
    /// The shelf is empty.
    Empty,
}

/// What one channel last settled on, and the count waiting to be confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShelfState {
    /// The confirmed count (`None` before the baseline).
    pub units: Option<i64>,
    /// A different count seen on this many consecutive stable readings.
    candidate: Option<(i64, u8)>,
    /// `Low` was sent and not yet re-armed by a rise above the low mark.
    pub low: bool,
    /// `Empty` was sent and not yet re-armed.
    pub empty: bool,
    /// The last reading was ambiguous.
    pub ambiguous: bool,
}

impl ShelfState {
    /// Feeds one reading; returns what changed (nothing, a baseline, or up to two changes).
    pub fn observe(&mut self, spec: &ChannelSpec, grams: i64, stable: bool) -> Vec<ShelfChange> {
        if !stable {
            self.candidate = None;
            return Vec::new();
        }
        let n = match units_on_shelf(spec, grams) {
            Count::Units(n) => {
                self.ambiguous = false;
                n
            }
            Count::Ambiguous { .. } => {
                self.ambiguous = true;
                self.candidate = None;
                return Vec::new();
            }
        };
        if self.units == Some(n) {
            self.candidate = None;
            return Vec::new();
        }
        let seen = match self.candidate {
            Some((c, k)) if c == n => k.saturating_add(1),
            _ => 1,
        };
        if seen < CONFIRM_READINGS {
            self.candidate = Some((n, seen));
            return Vec::new();
        }
        self.candidate = None;
        let before = self.units.replace(n);
        let mut changes = Vec::new();
        match before {
            None => {
                // Baseline: arm the flags as they stand, say nothing.
                self.low = n <= spec.low_units;
                self.empty = n == 0;
            }
            Some(b) if n < b => {
                changes.push(ShelfChange::ItemPicked { units: b - n });
                if n == 0 {
                    if !self.empty {
                        changes.push(ShelfChange::Empty);
                    }
                    self.empty = true;
                    self.low = true;
                } else if n <= spec.low_units && !self.low {
                    changes.push(ShelfChange::Low);
                    self.low = true;
                }
            }
            Some(b) => {
                changes.push(ShelfChange::Restocked { units: n - b });
                if n > 0 {
                    self.empty = false;
                }
                if n > spec.low_units {
                    self.low = false;
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nongfu Spring 550 ml: 570 g a full bottle; low at 3.
    fn water() -> ChannelSpec {
        ChannelSpec::new(570, 3)
    }

    /// Feeds each reading twice (stable), as a settled shelf gives.
    fn settle(state: &mut ShelfState, spec: &ChannelSpec, grams: i64) -> Vec<ShelfChange> {
        let mut out = state.observe(spec, grams, true);
        out.extend(state.observe(spec, grams, true));
        out
    }

    #[test]
    fn tolerance_is_a_third_of_a_unit() {
        assert_eq!(default_tolerance(570), 190);
        assert_eq!(default_tolerance(250), 83);
        assert_eq!(default_tolerance(2), 1);
        let bottles = ChannelSpec::new(250, 3);
        assert_eq!(units_on_shelf(&bottles, 1_000), Count::Units(4));
        assert_eq!(units_on_shelf(&bottles, 1_080), Count::Units(4)); // +80 g
        assert_eq!(units_on_shelf(&bottles, 1_083), Count::Units(4)); // +83 g: the edge
        assert_eq!(units_on_shelf(&bottles, 1_084), Count::Ambiguous { grams: 1_084, nearest: 4 });
        assert_eq!(units_on_shelf(&bottles, 1_125), Count::Ambiguous { grams: 1_125, nearest: 5 });
        assert_eq!(units_on_shelf(&bottles, 1_170), Count::Units(5)); // −80 g
        assert_eq!(units_on_shelf(&bottles, 0), Count::Units(0));
        assert_eq!(units_on_shelf(&bottles, -40), Count::Units(0)); // drifted below tare
        assert_eq!(units_on_shelf(&bottles, -200), Count::Ambiguous { grams: -200, nearest: 0 });
    }

    #[test]
    fn twelve_bottles_then_two_picked_then_down_to_three_then_empty() {
        let spec = water();
        let mut s = ShelfState::default();
        // 12 × 570 g = 6 840 g, read as 6 852 g: baseline, no event.
        assert_eq!(settle(&mut s, &spec, 6_852), vec![]);
        assert_eq!(s.units, Some(12));
        // A customer takes two: 5 700 g (reads 5 690 g).
        assert_eq!(settle(&mut s, &spec, 5_690), vec![ShelfChange::ItemPicked { units: 2 }]);
        // Down to 3 (1 710 g): picked 7, and the shelf is low.
        assert_eq!(settle(&mut s, &spec, 1_715), vec![ShelfChange::ItemPicked { units: 7 }, ShelfChange::Low]);
        // Down to 2: picked, but low was already said.
        assert_eq!(settle(&mut s, &spec, 1_140), vec![ShelfChange::ItemPicked { units: 1 }]);
        // The last two go: empty (not low again).
        assert_eq!(settle(&mut s, &spec, 6), vec![ShelfChange::ItemPicked { units: 2 }, ShelfChange::Empty]);
        // Restocked with 24: one event; low and empty re-arm.
        assert_eq!(settle(&mut s, &spec, 13_680), vec![ShelfChange::Restocked { units: 24 }]);
        assert!(!s.low && !s.empty);
        // Picked straight from 24 to 0: picked and empty.
        assert_eq!(settle(&mut s, &spec, 0), vec![ShelfChange::ItemPicked { units: 24 }, ShelfChange::Empty]);
    }

    #[test]
    fn noise_motion_and_ambiguous_readings_do_not_flap() {
        let spec = water();
        let mut s = ShelfState::default();
        settle(&mut s, &spec, 2_280); // 4 bottles
        // ±100 g noise around 4 bottles: within tolerance, no event.
        for g in [2_380, 2_180, 2_300, 2_260] {
            assert_eq!(s.observe(&spec, g, true), vec![]);
        }
        // A hand on the shelf (unstable) and a reading between 3 and 4 bottles (ambiguous).
        assert_eq!(s.observe(&spec, 1_500, false), vec![]);
        assert_eq!(s.observe(&spec, 1_995, true), vec![]);
        assert!(s.ambiguous);
        // One stable reading of 3 bottles is not enough; an unstable one in between resets.
        assert_eq!(s.observe(&spec, 1_710, true), vec![]);
        assert_eq!(s.observe(&spec, 1_900, false), vec![]);
        assert_eq!(s.observe(&spec, 1_710, true), vec![]);
        assert_eq!(s.observe(&spec, 1_712, true), vec![ShelfChange::ItemPicked { units: 1 }, ShelfChange::Low]);
        // The bottle goes back: restocked 1, above the low mark again, so low re-arms.
        assert_eq!(settle(&mut s, &spec, 2_281), vec![ShelfChange::Restocked { units: 1 }]);
        assert!(!s.low);
        assert_eq!(settle(&mut s, &spec, 1_710), vec![ShelfChange::ItemPicked { units: 1 }, ShelfChange::Low]);
    }

    #[test]
    fn a_baseline_already_low_does_not_say_low_again() {
        let spec = water();
        let mut s = ShelfState::default();
        assert_eq!(settle(&mut s, &spec, 1_140), vec![]); // 2 bottles at start
        assert!(s.low);
        assert_eq!(settle(&mut s, &spec, 570), vec![ShelfChange::ItemPicked { units: 1 }]);
        let mut e = ShelfState::default();
        assert_eq!(settle(&mut e, &spec, 0), vec![]);
        assert_eq!(settle(&mut e, &spec, 0), vec![]);
        assert!(e.empty);
    }
}
