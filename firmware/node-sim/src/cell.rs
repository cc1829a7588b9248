//! The simulated load cell behind one HX711 channel: what raw count the converter reports for
//! the grams lying on the shelf. Pure arithmetic on integers; the noise value is drawn by the
//! caller (a seeded [`Noise`]), so the model is reproducible in tests.
//!
//! raw = zero_counts + grams × counts_per_gram + drift + noise, clamped to the HX711's 24-bit
//! range ([`hx711::MIN`]..=[`hx711::MAX`]), where drift = drift_counts_per_min × minutes since
//! the simulator started (whole counts, rounded toward zero).

use storehub_node_core::hx711;

/// One load cell and its amplifier, as the node's HX711 sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadCell {
    /// Raw counts one gram adds (negative for a cell wired the other way round).
    pub counts_per_gram: i32,
    /// Raw counts of the empty shelf (the cell's and the shelf board's own weight).
    pub zero_counts: i32,
    /// Each sample is off by a uniform whole number of counts in ±noise_counts (≥ 0).
    pub noise_counts: i32,
    /// Zero drift, counts per minute since the simulator started (temperature, creep).
    pub drift_counts_per_min: i32,
}

impl Default for LoadCell {
    /// A 5 kg bar cell on an HX711 at gain 128: about 42 counts a gram, 8 000 counts of dead
    /// weight, ±20 counts (about ±0.5 g) of noise, no drift.
    fn default() -> Self {
        LoadCell { counts_per_gram: 42, zero_counts: 8_000, noise_counts: 20, drift_counts_per_min: 0 }
    }
}

impl LoadCell {
    /// The raw count for `grams` on the cell, `elapsed_ms` after the simulator started, with
    /// `noise` counts of noise (drawn in ±[`LoadCell::noise_counts`]).
    pub fn raw(&self, grams: i32, elapsed_ms: u64, noise: i32) -> i32 {
        let elapsed_ms = i64::try_from(elapsed_ms).unwrap_or(i64::MAX);
        let drift = i64::from(self.drift_counts_per_min).saturating_mul(elapsed_ms) / 60_000;
        let raw = i64::from(self.zero_counts)
            .saturating_add(i64::from(grams).saturating_mul(i64::from(self.counts_per_gram)))
            .saturating_add(drift)
            .saturating_add(i64::from(noise));
        raw.clamp(i64::from(hx711::MIN), i64::from(hx711::MAX)) as i32
    }
}

/// Seeded noise: uniform whole counts in ±amplitude.
#[derive(Debug, Clone)]
pub struct Noise {
    rng: fastrand::Rng,
}

impl Noise {
    pub fn new(seed: u64) -> Noise {
        Noise { rng: fastrand::Rng::with_seed(seed) }
    }

    /// One draw in `-amplitude..=amplitude` (0 when `amplitude` ≤ 0).
    pub fn draw(&mut self, amplitude: i32) -> i32 {
        if amplitude <= 0 {
            return 0;
        }
        self.rng.i32(-amplitude..=amplitude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 570 g × 42 counts/g + 8 000 = 31 940 counts; 1 000 g → 50 000; an empty shelf reads its
    /// zero; noise adds as given.
    #[test]
    fn raw_counts_in_worked_numbers() {
        let cell = LoadCell::default();
        assert_eq!(cell.raw(570, 0, 0), 31_940);
        assert_eq!(cell.raw(1_000, 0, 0), 50_000);
        assert_eq!(cell.raw(0, 0, 0), 8_000);
        assert_eq!(cell.raw(570, 0, -20), 31_920);
        // Wired the other way round: 8 000 − 570 × 42 = −15 940.
        let reversed = LoadCell { counts_per_gram: -42, ..cell };
        assert_eq!(reversed.raw(570, 0, 0), -15_940);
    }

    /// 120 counts a minute: after 90 s, 180 counts; after 59 999 ms, 119.998 → 119 (toward zero);
    /// −120 a minute after 30 s: −60.
    #[test]
    fn drift_grows_with_time() {
        let cell = LoadCell { drift_counts_per_min: 120, noise_counts: 0, ..LoadCell::default() };
        assert_eq!(cell.raw(0, 90_000, 0), 8_180);
        assert_eq!(cell.raw(0, 59_999, 0), 8_119);
        let down = LoadCell { drift_counts_per_min: -120, ..cell };
        assert_eq!(down.raw(0, 30_000, 0), 7_940);
    }

    /// 200 kg × 42 = 8 400 000 + 8 000 is past 2^23 − 1 = 8 388 607: the converter's rail.
    #[test]
    fn the_24_bit_range_clamps() {
        let cell = LoadCell::default();
        assert_eq!(cell.raw(200_000, 0, 0), hx711::MAX);
        assert_eq!(cell.raw(-200_000, 0, 0), hx711::MIN);
        assert_eq!(cell.raw(i32::MAX, u64::MAX, i32::MAX), hx711::MAX);
    }

    #[test]
    fn noise_stays_in_its_band_and_repeats_with_the_seed() {
        let (mut a, mut b) = (Noise::new(7), Noise::new(7));
        let draws: Vec<i32> = (0..1_000).map(|_| a.draw(20)).collect();
        assert!(draws.iter().all(|d| (-20..=20).contains(d)));
        assert!(draws.iter().any(|&d| d != draws[0]), "not constant");
        assert_eq!(draws, (0..1_000).map(|_| b.draw(20)).collect::<Vec<_>>());
        assert_eq!(a.draw(0), 0);
        assert_eq!(a.draw(-5), 0);
    }
}
