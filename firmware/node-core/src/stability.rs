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
    /// Values the window looks back over: `K`, or fewer when chosen at run time.
    len: usize,
}

impl<const K: usize> Stability<K> {
    pub fn new(band: u32) -> Self {
        Stability { values: [0; K], next: 0, count: 0, band, len: K }
    }

    /// A window of the last `len` values (clamped to 1..=K), for a length chosen at run time
    /// (the hub's `[devices.shelf].stable_readings` for a GPIO HX711).
    pub fn with_len(band: u32, len: usize) -> Self {
        Stability { len: len.clamp(1, K.max(1)).min(K), ..Self::new(band) }
    }

    /// Adds a filtered value; true when the last `K` are within the band.
    pub fn push(&mut self, value: i32) -> bool {
        if self.len == 0 {
            return true;
        }
        self.values[self.next] = value;
        self.next = (self.next + 1) % self.len;
        self.count = (self.count + 1).min(self.len);
        self.is_stable()
    }

    pub fn is_stable(&self) -> bool {
        if self.count < self.len {
            return false;
        }
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for &v in &self.values[..self.len] {
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

    /// A window of 2 chosen at run time in room for 16, band 5: 500 (too few), 503 (500..503: 3,
    /// stable), 510 (503..510: 7 > 5, not stable), 512 (510..512: 2, stable). A length of 0 is
    /// taken as 1 (every value stable), 40 as the room there is (16).
    #[test]
    fn a_shorter_window_chosen_at_run_time() {
        let mut s = Stability::<16>::with_len(5, 2);
        let got: [bool; 4] = [500, 503, 510, 512].map(|v| s.push(v));
        assert_eq!(got, [false, true, false, true]);
        let mut one = Stability::<16>::with_len(0, 0);
        assert!(one.push(7));
        assert!(one.push(9), "a window of one value is always within the band");
        let mut all = Stability::<16>::with_len(0, 40);
        let pushed: usize = (0..16).filter(|_| all.push(1)).count();
        assert_eq!(pushed, 1, "stable only once 16 values are in");
    }
}
