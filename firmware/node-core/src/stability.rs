//! Stability: a shelf reading is stable once the last `K` filtered values lie within `band`
//! counts of each other (max − min ≤ band). Until `K` values have arrived nothing is stable, so a
//! node never reports a settled weight straight after a start, a tare or an item placed.

/// The last `K` filtered values and the band they must stay in.
#[derive(Debug, Clone)]
pub struct Stability<const K: usize> {
    values: [i32; K],
    next: usize,
    count: usize,
    band: u32,
}

impl<const K: usize> Stability<K> {
    pub fn new(band: u32) -> Self {
        Stability { values: [0; K], next: 0, count: 0, band }
    }

    /// Adds a filtered value; true when the last `K` are within the band.
    pub fn push(&mut self, value: i32) -> bool {
        if K == 0 {
            return true;
        }
        self.values[self.next] = value;
        self.next = (self.next + 1) % K;
        self.count = (self.count + 1).min(K);
        self.is_stable()
    }

    pub fn is_stable(&self) -> bool {
        if self.count < K {
            return false;
        }
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for &v in &self.values {
            lo = lo.min(i64::from(v));
            hi = hi.max(i64::from(v));
        }
        hi - lo <= i64::from(self.band)
    }

    pub fn reset(&mut self) {
        self.count = 0;
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// K = 3, band 20: 1000, 1010 (too few), 1020 (spread 20: stable), 1021 (1010..1021: 11,
    /// stable), 1045 (1020..1045: 25 > 20, not stable), 1040, 1041 (1040..1045: 5, stable).
    #[test]
    fn stable_within_the_band_over_the_last_k() {
        let mut s = Stability::<3>::new(20);
        let got: [bool; 7] = [1000, 1010, 1020, 1021, 1045, 1040, 1041].map(|v| s.push(v));
        assert_eq!(got, [false, false, true, true, false, false, true]);
        s.reset();
        assert!(!s.push(1041));
        let mut wide = Stability::<2>::new(u32::MAX);
        assert!(!wide.push(i32::MIN) && wide.push(i32::MAX));
    }
}
