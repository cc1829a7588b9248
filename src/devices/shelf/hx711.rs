//! An HX711 load-cell amplifier on two GPIO pins, read by bit-banging through [`Gpio`].
//!
//! Owns the HX711 read-out (ready wait, 24 clock pulses MSB first, sign extension of the 24-bit
//! two's-complement sample, 1–3 extra pulses choosing channel and gain for the next
//! conversion), the integer calibration (raw counts → grams) and the stability window, and
//! [`run_hx711`], the driver loop that emits [`DeviceEvent::ShelfWeight`] on channel 0.
//! Grams are integers throughout: `(raw − zero_counts) × 1000 / counts_per_kg`, rounded half
//! away from zero; no floats.

use crate::devices::transport::gpio::{Gpio, GpioError, PinMode};
use crate::devices::{DeviceEvent, DriverCtx, DriverExit};

/// Channel and gain of the next conversion, as the number of PD_SCK pulses that select it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gain {
    /// Channel A, gain 128: 25 pulses.
    A128,
    /// Channel B, gain 32: 26 pulses.
    B32,
    /// Channel A, gain 64: 27 pulses.
    A64,
}

impl Gain {
    /// From the config's `gain` (128, 64 or 32).
    pub fn from_config(gain: u8) -> Option<Gain> {
        match gain {
            128 => Some(Gain::A128),
            64 => Some(Gain::A64),
            32 => Some(Gain::B32),
            _ => None,
        }
    }

    /// PD_SCK pulses per read, the 24 data pulses included.
    pub fn pulses(self) -> u8 {
        match self {
            Gain::A128 => 25,
            Gain::B32 => 26,
            Gain::A64 => 27,
        }
    }
}

/// The most negative and most positive samples: the HX711 clamps to these when the input is
/// out of range, so they mean "check the wiring", not a weight.
pub const RAW_MIN: i32 = -0x80_0000;
pub const RAW_MAX: i32 = 0x7F_FFFF;

/// PD_SCK high longer than this may power the chip down (datasheet: 60 µs); a pulse this long
/// (the reading thread was preempted) makes the read unreliable.
pub const MAX_HIGH_US: u64 = 50;

/// How long to wait for DOUT to go low: two conversion periods at 10 samples/s.
pub const READY_TIMEOUT_US: u64 = 250_000;

/// Sign-extends the 24 bits clocked out into an `i32`.
pub fn sign_extend_24(bits: u32) -> i32 {
    ((bits << 8) as i32) >> 8
}

/// `n / d` rounded to the nearest integer, halves away from zero. `d` must not be 0.
pub fn div_round(n: i64, d: i64) -> i64 {
    let (n, d) = if d < 0 { (-n, -d) } else { (n, d) };
    if n >= 0 {
        (n + d / 2) / d
    } else {
        -((-n + d / 2) / d)
    }
}

/// Raw counts to grams: `(raw − zero_counts) × 1000 / counts_per_kg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    pub zero_counts: i64,
    /// Counts per 1000 g; never 0 (config validation refuses it).
    pub counts_per_kg: i64,
}

impl Calibration {
    pub fn grams(&self, raw: i64) -> i64 {
        div_round((raw - self.zero_counts) * 1000, self.counts_per_kg)
    }

    /// The raw reading at the current load becomes zero (tare).
    pub fn tare(&mut self, raw: i64) {
        self.zero_counts = raw;
    }
}

/// Most readings a stability window looks back over.
pub const MAX_STABLE_READINGS: usize = 16;

/// A reading is stable when the last `needed` readings lie within `band_g` of each other.
#[derive(Debug, Clone)]
pub struct Stability {
    band_g: i64,
    needed: usize,
    last: [i64; MAX_STABLE_READINGS],
    len: usize,
    next: usize,
}

impl Stability {
    pub fn new(band_g: i64, needed: u8) -> Stability {
        Stability { band_g, needed: (needed as usize).clamp(1, MAX_STABLE_READINGS), last: [0; MAX_STABLE_READINGS], len: 0, next: 0 }
    }

    /// Adds a reading; true when it makes the window stable.
    pub fn push(&mut self, grams: i64) -> bool {
        self.last[self.next] = grams;
        self.next = (self.next + 1) % self.needed;
        self.len = (self.len + 1).min(self.needed);
        if self.len < self.needed {
            return false;
        }
        let window = &self.last[..self.needed];
        let (min, max) = window.iter().fold((i64::MAX, i64::MIN), |(lo, hi), g| (lo.min(*g), hi.max(*g)));
        max - min <= self.band_g
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Hx711Error {
    #[error("no conversion ready within {0} ms (DOUT stayed high); check the data pin wiring and the HX711's power")]
    NotReady(u64),
    #[error("a clock pulse lasted {0} µs (over {MAX_HIGH_US} µs: the reading thread was preempted); sample dropped")]
    Timing(u64),
    #[error("raw reading {0} is at the 24-bit limit; the load cell is overloaded or miswired")]
    Saturated(i32),
    #[error(transparent)]
    Gpio(#[from] GpioError),
}

impl Hx711Error {
    /// The health error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Hx711Error::NotReady(_) => "not_ready",
            Hx711Error::Timing(_) => "timing",
            Hx711Error::Saturated(_) => "saturated",
            Hx711Error::Gpio(_) => "io",
        }
    }
}

/// One HX711 on a data (DOUT) and a clock (PD_SCK) pin.
#[derive(Debug, Clone)]
pub struct Hx711 {
    data: u8,
    clock: u8,
    gain: Gain,
}

impl Hx711 {
    /// Configures the pins and selects `gain`: a chip comes out of reset on channel A ×128, and
    /// the pulses of a read choose the input of the next conversion, so for another gain one
    /// conversion is read and thrown away.
    pub fn begin(gpio: &mut dyn Gpio, data: u8, clock: u8, gain: Gain) -> Result<Hx711, Hx711Error> {
        gpio.configure(data, PinMode::Input)?;
        gpio.configure(clock, PinMode::Output)?;
        gpio.write(clock, false)?;
        let hx = Hx711 { data, clock, gain };
        if gain != Gain::A128 {
            hx.read_raw(gpio)?;
        }
        Ok(hx)
    }

    /// Waits for a conversion and clocks it out. Returns the signed sample.
    pub fn read_raw(&self, gpio: &mut dyn Gpio) -> Result<i32, Hx711Error> {
        let start = gpio.now_us();
        while gpio.read(self.data)? {
            let waited = gpio.now_us().saturating_sub(start);
            if waited >= READY_TIMEOUT_US {
                return Err(Hx711Error::NotReady(waited / 1000));
            }
            gpio.delay_us(1000);
        }
        let mut bits: u32 = 0;
        let mut longest = 0;
        for pulse in 0..self.gain.pulses() {
            let rise = gpio.now_us();
            gpio.write(self.clock, true)?;
            gpio.delay_us(1);
            if pulse < 24 {
                bits = (bits << 1) | gpio.read(self.data)? as u32;
            }
            gpio.write(self.clock, false)?;
            longest = longest.max(gpio.now_us().saturating_sub(rise));
            gpio.delay_us(1);
        }
        if longest > MAX_HIGH_US {
            return Err(Hx711Error::Timing(longest));
        }
        let raw = sign_extend_24(bits);
        if raw == RAW_MIN || raw == RAW_MAX {
            return Err(Hx711Error::Saturated(raw));
        }
        Ok(raw)
    }

    /// The mean of `n` conversions (at least 1), rounded.
    pub fn read_average(&self, gpio: &mut dyn Gpio, n: u8) -> Result<i64, Hx711Error> {
        let n = n.max(1);
        let mut sum: i64 = 0;
        for _ in 0..n {
            sum += self.read_raw(gpio)? as i64;
        }
        Ok(div_round(sum, n as i64))
    }
}

/// Reads an HX711 on `pins` = (data, clock) until stopped, emitting `ShelfWeight { channel: 0 }`
/// every `[devices.shelf].sample_ms` with the mean of `samples` conversions in grams, stable when
/// the last `stable_readings` lie within `stable_band_g`.
pub fn run_hx711(gpio: &mut dyn Gpio, pins: (u8, u8), ctx: &DriverCtx) -> DriverExit {
    let s = ctx.device.shelf_settings();
    let Some(counts_per_kg) = s.counts_per_kg.filter(|c| *c != 0) else {
        return DriverExit::Other(format!(
            "device {}: [devices.shelf].counts_per_kg is required for an hx711: put a known weight on the empty shelf and set it to (raw − zero_counts) × 1000 / grams",
            ctx.id()
        ));
    };
    let Some(gain) = Gain::from_config(s.gain) else {
        return DriverExit::Other(format!("device {}: [devices.shelf].gain must be 128, 64 or 32, got {}", ctx.id(), s.gain));
    };
    let cal = Calibration { zero_counts: s.zero_counts, counts_per_kg };
    let hx = match Hx711::begin(gpio, pins.0, pins.1, gain) {
        Ok(hx) => hx,
        Err(Hx711Error::Gpio(e)) => return DriverExit::Other(format!("device {}: {e}", ctx.id())),
        Err(e) => {
            // The chip did not answer the gain selection; the loop below retries and counts.
            ctx.input_error(e.kind(), &e.to_string());
            Hx711 { data: pins.0, clock: pins.1, gain }
        }
    };
    ctx.health.set_connected(ctx.id(), true, ctx.clock.now());
    let mut window = Stability::new(s.stable_band_g, s.stable_readings);
    let period_us = s.sample_ms.saturating_mul(1000);
    let mut not_ready = false;
    loop {
        if ctx.stopping() {
            return DriverExit::Stopped;
        }
        let started = gpio.now_us();
        match hx.read_average(gpio, s.samples) {
            Ok(raw) => {
                if not_ready {
                    not_ready = false;
                    ctx.health.set_status(ctx.id(), None);
                }
                let grams = cal.grams(raw);
                let stable = window.push(grams);
                let at = ctx.clock.now();
                ctx.health.event(ctx.id(), at);
                (ctx.emit)(DeviceEvent::ShelfWeight { device: ctx.id().to_string(), channel: 0, grams, stable, at });
            }
            Err(Hx711Error::Gpio(e)) => {
                ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
                return DriverExit::Other(format!("device {}: {e}", ctx.id()));
            }
            Err(e) => {
                if matches!(e, Hx711Error::NotReady(_)) && !not_ready {
                    not_ready = true;
                    ctx.health.set_status(ctx.id(), Some("not_ready"));
                }
                ctx.input_error(e.kind(), &e.to_string());
            }
        }
        let spent = gpio.now_us().saturating_sub(started);
        if spent < period_us {
            gpio.delay_us(period_us - spent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::transport::gpio::SimPins;

    #[test]
    fn sign_extension_of_24_bit_samples() {
        assert_eq!(sign_extend_24(0x00_0000), 0);
        assert_eq!(sign_extend_24(0x00_0001), 1);
        assert_eq!(sign_extend_24(0x7F_FFFF), 8_388_607);
        assert_eq!(sign_extend_24(0xFF_FFFF), -1);
        assert_eq!(sign_extend_24(0x80_0000), -8_388_608);
        assert_eq!(sign_extend_24(0xFF_FC18), -1000);
    }

    #[test]
    fn rounding_division_goes_half_away_from_zero() {
        assert_eq!(div_round(7, 2), 4);
        assert_eq!(div_round(-7, 2), -4);
        assert_eq!(div_round(5, 3), 2);
        assert_eq!(div_round(-5, 3), -2);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(7, -2), -4);
    }

    #[test]
    fn calibration_turns_counts_into_grams_without_floats() {
        // Zero at 8 432 counts, 421 000 counts per kg (421 per gram).
        let cal = Calibration { zero_counts: 8_432, counts_per_kg: 421_000 };
        assert_eq!(cal.grams(8_432), 0);
        assert_eq!(cal.grams(8_432 + 421_000), 1000);
        // 250 g of water bottle: 105 250 counts above zero.
        assert_eq!(cal.grams(8_432 + 105_250), 250);
        // Half a gram rounds away from zero; below zero reads negative.
        assert_eq!(cal.grams(8_432 + 210), 0);
        assert_eq!(cal.grams(8_432 + 211), 1);
        assert_eq!(cal.grams(8_432 - 4_210), -10);
        // A cell wired the other way round: negative counts per kg.
        let flipped = Calibration { zero_counts: 0, counts_per_kg: -421_000 };
        assert_eq!(flipped.grams(-421_000), 1000);
        let mut tared = cal;
        tared.tare(8_432 + 42_100);
        assert_eq!(tared.grams(8_432 + 42_100 + 421_000), 1000);
    }

    #[test]
    fn stability_needs_k_readings_within_the_band() {
        let mut s = Stability::new(5, 3);
        assert!(!s.push(500));
        assert!(!s.push(503));
        assert!(s.push(498)); // 498..503: 5 g apart
        assert!(!s.push(520)); // 498, 503 … 520: moving
        assert!(!s.push(521));
        assert!(s.push(519));
        let mut one = Stability::new(0, 1);
        assert!(one.push(7));
    }

    #[test]
    fn reads_known_counts_including_negative_ones() {
        let mut pins = SimPins::new().with_hx711(5, 6);
        let hx = Hx711::begin(&mut pins, 5, 6, Gain::A128).unwrap();
        pins.push_hx711_a(&[0, 1, -1, 105_250, -4_210, 8_388_606]);
        let got: Vec<i32> = (0..6).map(|_| hx.read_raw(&mut pins).unwrap()).collect();
        assert_eq!(got, vec![0, 1, -1, 105_250, -4_210, 8_388_606]);
        // 25 pulses each: channel A, gain 128 stays selected.
        assert_eq!(pins.hx711_selections(), vec![25; 6]);
        // No conversion queued: DOUT stays high and the read gives up after the timeout.
        let before = pins.now();
        assert!(matches!(hx.read_raw(&mut pins), Err(Hx711Error::NotReady(250))));
        assert!(pins.now() - before >= READY_TIMEOUT_US);
    }

    #[test]
    fn saturated_samples_are_refused() {
        let mut pins = SimPins::new().with_hx711(5, 6);
        let hx = Hx711::begin(&mut pins, 5, 6, Gain::A128).unwrap();
        pins.push_hx711_a(&[RAW_MAX, RAW_MIN]);
        assert!(matches!(hx.read_raw(&mut pins), Err(Hx711Error::Saturated(RAW_MAX))));
        assert!(matches!(hx.read_raw(&mut pins), Err(Hx711Error::Saturated(RAW_MIN))));
    }

    #[test]
    fn channel_b_takes_26_pulses_and_a_throwaway_read_to_select() {
        let mut pins = SimPins::new().with_hx711(5, 6);
        // The first conversion after reset is channel A; then channel B's come.
        pins.push_hx711_a(&[111]);
        pins.push_hx711_b(&[-2_000, -2_002]);
        let hx = Hx711::begin(&mut pins, 5, 6, Gain::B32).unwrap();
        assert_eq!(hx.read_average(&mut pins, 2).unwrap(), -2_001);
        assert_eq!(pins.hx711_selections(), vec![26, 26, 26]);
        let mut pins = SimPins::new().with_hx711(5, 6);
        pins.push_hx711_a(&[1, 2]);
        let hx = Hx711::begin(&mut pins, 5, 6, Gain::A64).unwrap();
        assert_eq!(hx.read_raw(&mut pins).unwrap(), 2);
        assert_eq!(pins.hx711_selections(), vec![27, 27]);
        assert_eq!(pins.hx711_power_downs(), 0);
    }
}
