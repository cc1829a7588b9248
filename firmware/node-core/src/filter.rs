//! Filtering raw HX711 counts: the median of each `N` samples removes single spikes (a knock on
//! the shelf, a bad bit), then a moving average of the last `M` medians smooths the noise. One
//! filtered value comes out per `N` samples (at 80 samples/s and N = 5: 16 values a second).

/// Median of `N`, then moving average of `M` medians; integer counts, rounded half up.
#[derive(Debug, Clone)]
pub struct MedianThenAverage<const N: usize, const M: usize> {
    window: [i32; N],
    filled: usize,
    medians: [i32; M],
    next: usize,
    count: usize,
}

impl<const N: usize, const M: usize> Default for MedianThenAverage<N, M> {
    fn default() -> Self {
        MedianThenAverage { window: [0; N], filled: 0, medians: [0; M], next: 0, count: 0 }
    }
}

impl<const N: usize, const M: usize> MedianThenAverage<N, M> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a raw sample; returns the filtered value when it completes a group of `N`.
    pub fn push(&mut self, sample: i32) -> Option<i32> {
        if N == 0 || M == 0 {
            return Some(sample);
        }
        self.window[self.filled] = sample;
        self.filled += 1;
        if self.filled < N {
            return None;
        }
        self.filled = 0;
        let median = median(&mut self.window);
        self.medians[self.next] = median;
        self.next = (self.next + 1) % M;
        self.count = (self.count + 1).min(M);
        let sum: i64 = self.medians[..self.count].iter().map(|&m| i64::from(m)).sum();
        Some(div_round_half_up(sum, self.count as i64))
    }

    /// Forgets everything (after a tare or a sample-rate change).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The median of `values` (sorted in place); for an even count, the mean of the two middle values
/// rounded half up.
pub fn median<const N: usize>(values: &mut [i32; N]) -> i32 {
    values.sort_unstable();
    match N {
        0 => 0,
        n if n % 2 == 1 => values[n / 2],
        n => div_round_half_up(i64::from(values[n / 2 - 1]) + i64::from(values[n / 2]), 2),
    }
}

/// `num / den` rounded half up (towards +∞ on a tie), for den > 0 (0 otherwise); saturates to
/// i32 and never overflows.
pub fn div_round_half_up(num: i64, den: i64) -> i32 {
    if den <= 0 {
        return 0;
    }
    let (num, den) = (i128::from(num), i128::from(den));
    let q = (2 * num + den).div_euclid(2 * den);
    q.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_rounding() {
        assert_eq!(median(&mut [5, 1, 900, 3, 2]), 3);
        assert_eq!(median(&mut [4, 1, 3, 2]), 3); // (2 + 3) / 2 = 2.5 → 3
        assert_eq!(median(&mut [-4, -1, -3, -2]), -2); // (−3 − 2) / 2 = −2.5 → −2
        assert_eq!(div_round_half_up(7, 2), 4);
        assert_eq!(div_round_half_up(-7, 2), -3);
        assert_eq!(div_round_half_up(10, 3), 3);
        assert_eq!(div_round_half_up(1, 0), 0);
    }

    /// N = 3, M = 2 on 100, 102, 5000 (a spike) | 104, 98, 101 | 110, 109, 111:
    /// medians 102, 101, 110; outputs 102, (102 + 101) / 2 = 101.5 → 102, (101 + 110) / 2 = 105.5 → 106.
    #[test]
    fn a_spike_is_removed_and_the_medians_are_averaged() {
        let mut f = MedianThenAverage::<3, 2>::new();
        let samples = [100, 102, 5000, 104, 98, 101, 110, 109, 111];
        let out: [Option<i32>; 9] = core::array::from_fn(|i| f.push(samples[i]));
        assert_eq!(out, [None, None, Some(102), None, None, Some(102), None, None, Some(106)]);
        f.reset();
        assert_eq!((f.push(7), f.push(7), f.push(7)), (None, None, Some(7)));
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut f = MedianThenAverage::<1, 4>::new();
        for _ in 0..8 {
            assert_eq!(f.push(i32::MAX), Some(i32::MAX));
        }
        let mut g = MedianThenAverage::<2, 2>::new();
        assert_eq!((g.push(i32::MIN), g.push(i32::MIN)), (None, Some(i32::MIN)));
    }
}
