//! An HX711 load-cell amplifier on two GPIO pins, read by bit-banging through [`Gpio`].
//!
//! Owns only the GPIO side: the ready wait, the PD_SCK pulses and their timing (a pulse held high
//! too long drops the sample), the mean of `samples` conversions, and [`run_hx711`], the driver
//! loop that emits [`DeviceEvent::ShelfWeight`] on channel 0. What the bits mean is the node
//! firmware's code (`storehub-node-core`), so a GPIO HX711 and a shelf node weigh alike: 24-bit
//! decoding and saturation, the pulses per gain and the read state machine ([`Reader`]), the
//! stability band and the calibration. The config's `zero_counts` / `counts_per_kg` become
//! `Calibration { offset: zero_counts, grams_ref: 1000, counts_ref: counts_per_kg }`; grams round
//! half up, the nodes' rule (why: node-core's `calibration` module). No floats.

use storehub_node_core::calibration::Calibration;
use storehub_node_core::filter::div_round_half_up;
use storehub_node_core::stability::Stability;

pub use storehub_node_core::hx711::{decode, saturated, Gain, Reader, Step, MAX, MIN};

use crate::devices::transport::gpio::{Gpio, GpioError, PinMode};
use crate::devices::{DeviceEvent, DriverCtx, DriverExit};

/// From the config's `gain` (128, 64 or 32).
pub fn gain_from_config(gain: u8) -> Option<Gain> {
    match gain {
        128 => Some(Gain::A128),
        64 => Some(Gain::A64),
        32 => Some(Gain::B32),
        _ => None,
    }
}

/// The config's `zero_counts` and `counts_per_kg` as a node-core calibration (1000 g read
/// `counts_per_kg` counts above `zero_counts`). `Err` names the key out of range (config
/// validation refuses those first).
pub fn calibration_from_config(zero_counts: i64, counts_per_kg: i64) -> Result<Calibration, String> {
    let offset = i32::try_from(zero_counts)
        .ok()
        .filter(|z| (MIN..=MAX).contains(z))
        .ok_or_else(|| format!("[devices.shelf].zero_counts: {zero_counts} is outside the HX711's 24-bit range {MIN}..={MAX}"))?;
    let counts_ref = i32::try_from(counts_per_kg)
        .ok()
        .filter(|c| *c != 0)
        .ok_or_else(|| format!("[devices.shelf].counts_per_kg: expected a non-zero count that fits 32 bits, got {counts_per_kg}"))?;
    Ok(Calibration { offset, grams_ref: 1000, counts_ref })
}

/// PD_SCK high longer than this may power the chip down (datasheet: 60 µs); a pulse this long
/// (the reading thread was preempted) makes the read unreliable.
pub const MAX_HIGH_US: u64 = 50;

/// How long to wait for DOUT to go low: two conversion periods at 10 samples/s.
pub const READY_TIMEOUT_US: u64 = 250_000;

/// Most readings a stability window looks back over (`stable_readings` is 1..=16).
pub const MAX_STABLE_READINGS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum Hx711Error {
    #[error("no conversion ready within {0} ms (DOUT stayed high); check the data pin wiring and the HX711's power")]
    NotReady(u64),
    #[error("a clock pulse lasted {0} µs (over {MAX_HIGH_US} µs: the reading thread was preempted); sample dropped")]
    Timing(u64),
    #[error("raw reading {0} is at the 24-bit limit; the load cell is overloaded or miswired")]
    Saturated(i32),
    #[error("{0} clock pulses gave no complete sample; check the clock pin wiring")]
    Incomplete(u8),
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
            Hx711Error::Incomplete(_) => "incomplete",
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

    /// Waits for a conversion and clocks it out through node-core's [`Reader`]. Returns the
    /// signed sample. DOUT is read while PD_SCK is high during the 24 data pulses only: after
    /// them the chip ignores it, and looking at it is what ends a read.
    pub fn read_raw(&self, gpio: &mut dyn Gpio) -> Result<i32, Hx711Error> {
        let mut reader = Reader::new(self.gain);
        let start = gpio.now_us();
        while reader.poll(gpio.read(self.data)?) == Step::Wait {
            let waited = gpio.now_us().saturating_sub(start);
            if waited >= READY_TIMEOUT_US {
                return Err(Hx711Error::NotReady(waited / 1000));
            }
            gpio.delay_us(1000);
        }
        let pulses = 24 + self.gain.extra_pulses();
        let mut longest = 0;
        let mut sample = None;
        for pulse in 1..=pulses {
            let rise = gpio.now_us();
            gpio.write(self.clock, true)?;
            gpio.delay_us(1);
            let dout = if pulse <= 24 { gpio.read(self.data)? } else { false };
            gpio.write(self.clock, false)?;
            longest = longest.max(gpio.now_us().saturating_sub(rise));
            gpio.delay_us(1);
            if let Step::Sample(s) = reader.after_pulse(dout) {
                sample = Some(s);
            }
        }
        if longest > MAX_HIGH_US {
            return Err(Hx711Error::Timing(longest));
        }
        let raw = sample.ok_or(Hx711Error::Incomplete(pulses))?;
        if saturated(raw) {
            return Err(Hx711Error::Saturated(raw));
        }
        Ok(raw)
    }

    /// The mean of `n` conversions (at least 1), rounded half up.
    pub fn read_average(&self, gpio: &mut dyn Gpio, n: u8) -> Result<i32, Hx711Error> {
        let n = n.max(1);
        let mut sum: i64 = 0;
        for _ in 0..n {
            sum += i64::from(self.read_raw(gpio)?);
        }
        Ok(div_round_half_up(sum, i64::from(n)))
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
    let cal = match calibration_from_config(s.zero_counts, counts_per_kg) {
        Ok(cal) => cal,
        Err(e) => return DriverExit::Other(format!("device {}: {e}", ctx.id())),
    };
    let Some(gain) = gain_from_config(s.gain) else {
        return DriverExit::Other(format!("device {}: [devices.shelf].gain must be 128, 64 or 32, got {}", ctx.id(), s.gain));
    };
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
    let band = u32::try_from(s.stable_band_g.max(0)).unwrap_or(u32::MAX);
    let mut window = Stability::<MAX_STABLE_READINGS>::with_len(band, usize::from(s.stable_readings));
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
                (ctx.emit)(DeviceEvent::ShelfWeight { device: ctx.id().to_string(), channel: 0, grams: i64::from(grams), stable, at });
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

    /// The hub used to round half away from zero; it now rounds half up like the nodes, which
    /// changes exactly the negative halves: −7 / 2 = −3.5 → −3 (was −4). 7 / 2 = 3.5 → 4,
    /// 5 / 3 = 1.67 → 2, −5 / 3 = −1.67 → −2 and 4 / 3 = 1.33 → 1 are the same under both rules.
    #[test]
    fn rounding_division_goes_half_up() {
        assert_eq!(div_round_half_up(7, 2), 4);
        assert_eq!(div_round_half_up(-7, 2), -3);
        assert_eq!(div_round_half_up(5, 3), 2);
        assert_eq!(div_round_half_up(-5, 3), -2);
        assert_eq!(div_round_half_up(4, 3), 1);
    }

    #[test]
    fn calibration_turns_counts_into_grams_without_floats() {
        // Zero at 8 432 counts, 421 000 counts per kg (421 per gram).
        let cal = calibration_from_config(8_432, 421_000).unwrap();
        assert_eq!(cal, Calibration { offset: 8_432, grams_ref: 1000, counts_ref: 421_000 });
        assert_eq!(cal.grams(8_432), 0);
        assert_eq!(cal.grams(8_432 + 421_000), 1000);
        // 250 g of water bottle: 105 250 counts above zero.
        assert_eq!(cal.grams(8_432 + 105_250), 250);
        // 210 × 1000 / 421 000 = 0.499 g → 0; 211 → 0.501 g → 1; below zero reads negative:
        // −4 210 × 1000 / 421 000 = −10 exactly.
        assert_eq!(cal.grams(8_432 + 210), 0);
        assert_eq!(cal.grams(8_432 + 211), 1);
        assert_eq!(cal.grams(8_432 - 4_210), -10);
        // Where the rules differ: 2 000 counts per kg is 2 counts a gram, so 1 count below zero
        // is −0.5 g → 0 g half up (half away from zero made it −1 g), and 1 above is 0.5 g → 1 g.
        // 3 below is −1.5 g → −1 g (half away: −2 g).
        let coarse = calibration_from_config(0, 2_000).unwrap();
        assert_eq!((coarse.grams(-1), coarse.grams(1), coarse.grams(-3)), (0, 1, -1));
        // A cell wired the other way round: negative counts per kg.
        let flipped = calibration_from_config(0, -421_000).unwrap();
        assert_eq!(flipped.grams(-421_000), 1000);
        let tared = cal.tare(8_432 + 42_100);
        assert_eq!(tared.grams(8_432 + 42_100 + 421_000), 1000);
        // Out of the HX711's range or 32 bits: the error names the key.
        assert!(calibration_from_config(8_388_608, 421_000).unwrap_err().starts_with("[devices.shelf].zero_counts:"));
        assert!(calibration_from_config(0, 1 << 40).unwrap_err().starts_with("[devices.shelf].counts_per_kg:"));
        assert!(calibration_from_config(0, 0).is_err());
    }

    /// The config's window of 3 readings within 5 g, on node-core's stability band.
    #[test]
    fn stability_needs_k_readings_within_the_band() {
        let mut s = Stability::<MAX_STABLE_READINGS>::with_len(5, 3);
        assert!(!s.push(500));
        assert!(!s.push(503));
        assert!(s.push(498)); // 498..503: 5 g apart
        assert!(!s.push(520)); // 498, 503 … 520: moving
        assert!(!s.push(521));
        assert!(s.push(519));
        let mut one = Stability::<MAX_STABLE_READINGS>::with_len(0, 1);
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
        pins.push_hx711_a(&[MAX, MIN]);
        assert!(matches!(hx.read_raw(&mut pins), Err(Hx711Error::Saturated(MAX))));
        assert!(matches!(hx.read_raw(&mut pins), Err(Hx711Error::Saturated(MIN))));
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
