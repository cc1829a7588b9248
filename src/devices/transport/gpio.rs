//! GPIO transport: the box's header pins, behind the [`Gpio`] trait so drivers run against a
//! simulated pin bank in tests and on machines that are not a Raspberry Pi.
//!
//! The trait is levels and time only: configure a pin, set an output, read an input, wait some
//! microseconds, read a monotonic microsecond clock. Drivers take their timing from
//! [`Gpio::now_us`] and [`Gpio::delay_us`], never from the wall clock, so [`SimPins`] can run a
//! bit-banged protocol in virtual time. `RppalGpio` is the real thing (rppal, `/dev/gpiomem`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a pin is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinMode {
    /// Output, driven low at first.
    Output,
    Input,
    InputPullUp,
    InputPullDown,
}

#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("no GPIO on this machine (not a Raspberry Pi?): {0}; GPIO devices (hx711, beam) only run on the box")]
    Unavailable(String),
    #[error("GPIO pin {pin}: {detail}; check that no other program (or a device-tree overlay) uses it")]
    Pin { pin: u8, detail: String },
    #[error("GPIO pin {pin} is used before it was configured as {wanted}")]
    NotConfigured { pin: u8, wanted: &'static str },
}

/// Pin levels and time, as a bit-banging driver needs them.
pub trait Gpio: Send {
    fn configure(&mut self, pin: u8, mode: PinMode) -> Result<(), GpioError>;
    /// Drives an output pin high (`true`) or low.
    fn write(&mut self, pin: u8, high: bool) -> Result<(), GpioError>;
    /// Reads an input pin's level.
    fn read(&mut self, pin: u8) -> Result<bool, GpioError>;
    /// Waits at least `us` microseconds (busy-waits for short waits, sleeps for long ones).
    fn delay_us(&mut self, us: u64);
    /// Microseconds on a monotonic clock.
    fn now_us(&mut self) -> u64;
}

/// The Raspberry Pi's GPIO through rppal.
pub struct RppalGpio {
    gpio: rppal::gpio::Gpio,
    outputs: BTreeMap<u8, rppal::gpio::OutputPin>,
    inputs: BTreeMap<u8, rppal::gpio::InputPin>,
    epoch: Instant,
}

impl RppalGpio {
    /// Opens the GPIO peripheral. Fails off a Pi with [`GpioError::Unavailable`].
    pub fn new() -> Result<RppalGpio, GpioError> {
        let gpio = rppal::gpio::Gpio::new().map_err(|e| GpioError::Unavailable(e.to_string()))?;
        Ok(RppalGpio { gpio, outputs: BTreeMap::new(), inputs: BTreeMap::new(), epoch: Instant::now() })
    }
}

impl Gpio for RppalGpio {
    fn configure(&mut self, pin: u8, mode: PinMode) -> Result<(), GpioError> {
        let p = self.gpio.get(pin).map_err(|e| GpioError::Pin { pin, detail: e.to_string() })?;
        self.outputs.remove(&pin);
        self.inputs.remove(&pin);
        match mode {
            PinMode::Output => {
                self.outputs.insert(pin, p.into_output_low());
            }
            PinMode::Input => {
                self.inputs.insert(pin, p.into_input());
            }
            PinMode::InputPullUp => {
                self.inputs.insert(pin, p.into_input_pullup());
            }
            PinMode::InputPullDown => {
                self.inputs.insert(pin, p.into_input_pulldown());
            }
        }
        Ok(())
    }

    fn write(&mut self, pin: u8, high: bool) -> Result<(), GpioError> {
        let p = self.outputs.get_mut(&pin).ok_or(GpioError::NotConfigured { pin, wanted: "an output" })?;
        if high {
            p.set_high();
        } else {
            p.set_low();
        }
        Ok(())
    }

    fn read(&mut self, pin: u8) -> Result<bool, GpioError> {
        let p = self.inputs.get(&pin).ok_or(GpioError::NotConfigured { pin, wanted: "an input" })?;
        Ok(p.is_high())
    }

    fn delay_us(&mut self, us: u64) {
        // Sleeping costs ~60 µs of scheduler latency or more; short waits spin.
        if us >= 1000 {
            std::thread::sleep(Duration::from_micros(us));
        } else {
            let until = Instant::now() + Duration::from_micros(us);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
    }

    fn now_us(&mut self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// Virtual microseconds one pin write or read takes in [`SimPins`] (a Pi's GPIO access is
/// well under a microsecond; one keeps virtual time moving).
pub const SIM_ACCESS_US: u64 = 1;

/// A simulated HX711 wired to two pins of a [`SimPins`] bank.
///
/// Behaves as the datasheet says: DOUT low means a conversion is ready; each PD_SCK rising edge
/// shifts out the next bit, MSB first, of the 24-bit two's-complement sample; after the 24th,
/// one to three more pulses (25: channel A gain 128, 26: channel B gain 32, 27: channel A
/// gain 64) select the input of the *next* conversion and DOUT goes high. PD_SCK held high for
/// more than 60 µs powers the chip down; when it goes low again the chip resets to channel A,
/// gain 128, and the interrupted read is lost.
#[derive(Debug, Default)]
struct SimHx711 {
    data: u8,
    clock: u8,
    /// Conversions waiting, for channel A and channel B.
    samples_a: VecDeque<i32>,
    samples_b: VecDeque<i32>,
    /// The sample being shifted out, and how many pulses the current read has seen.
    current: Option<i32>,
    pulses: u8,
    /// Input selected for the next conversion: 25, 26 or 27 pulses.
    selected: u8,
    clock_high: bool,
    clock_high_since: u64,
    /// Every selection the host made (25, 26 or 27), in order.
    selections: Vec<u8>,
    power_downs: u32,
    /// Samples the host read completely.
    delivered: u32,
}

impl SimHx711 {
    fn queue(&mut self) -> &mut VecDeque<i32> {
        if self.selected == 26 {
            &mut self.samples_b
        } else {
            &mut self.samples_a
        }
    }

    /// Ends a finished read (when the host looks at DOUT again) and loads the next conversion.
    fn settle(&mut self) {
        if self.pulses >= 25 {
            let sel = self.pulses.min(27);
            self.selections.push(sel);
            self.selected = sel;
            self.delivered += 1;
            self.pulses = 0;
            self.current = None;
        }
        if self.current.is_none() && self.pulses == 0 {
            self.current = self.queue().pop_front();
        }
    }

    fn dout(&mut self) -> bool {
        if self.clock_high && self.pulses == 0 {
            return true;
        }
        match (self.current, self.pulses) {
            (None, _) => true,
            (Some(_), 0) => false,
            (Some(s), p @ 1..=24) => (s >> (24 - p)) & 1 == 1,
            (Some(_), _) => true,
        }
    }

    fn clock(&mut self, high: bool, now: u64) {
        if high && !self.clock_high {
            self.clock_high = true;
            self.clock_high_since = now;
            if self.current.is_some() {
                self.pulses = self.pulses.saturating_add(1);
            }
        } else if !high && self.clock_high {
            self.clock_high = false;
            if now.saturating_sub(self.clock_high_since) > 60 {
                // Powered down while high; reset as it comes back.
                self.power_downs += 1;
                if let Some(s) = self.current.take() {
                    if self.pulses < 25 {
                        // The chip converts the same load again after the reset.
                        self.queue().push_front(s);
                    }
                }
                self.selected = 25;
                self.pulses = 0;
            }
        }
    }
}

/// A simulated pin bank: inputs follow a script of (time, level) steps, and an optional HX711
/// sits on two pins. Time is virtual ([`Gpio::delay_us`] advances it without sleeping), so tests
/// run bit-banged protocols at full speed and deterministically.
#[derive(Debug, Default)]
pub struct SimPins {
    now: u64,
    modes: BTreeMap<u8, PinMode>,
    outputs: BTreeMap<u8, bool>,
    scripts: BTreeMap<u8, Vec<(u64, bool)>>,
    hx711: Option<SimHx711>,
    stop: Option<(u64, Arc<AtomicBool>)>,
    /// Real time to sleep per virtual millisecond waited (0: none), so a driver thread in a test
    /// does not spin a core.
    real_sleep_per_ms: Duration,
}

impl SimPins {
    pub fn new() -> SimPins {
        SimPins::default()
    }

    /// Puts a simulated HX711 on `data` (its DOUT) and `clock` (its PD_SCK).
    pub fn with_hx711(mut self, data: u8, clock: u8) -> SimPins {
        self.hx711 = Some(SimHx711 { data, clock, selected: 25, ..SimHx711::default() });
        self
    }

    /// Queues conversions of channel A (raw 24-bit two's-complement values,
    /// -8 388 608..=8 388 607), delivered while channel A is selected.
    pub fn push_hx711_a(&mut self, raw: &[i32]) {
        if let Some(h) = &mut self.hx711 {
            h.samples_a.extend(raw.iter().copied());
        }
    }

    /// Queues conversions of channel B.
    pub fn push_hx711_b(&mut self, raw: &[i32]) {
        if let Some(h) = &mut self.hx711 {
            h.samples_b.extend(raw.iter().copied());
        }
    }

    /// The input selections the host made after each complete read: 25 (A ×128), 26 (B ×32),
    /// 27 (A ×64).
    pub fn hx711_selections(&self) -> Vec<u8> {
        let Some(h) = &self.hx711 else { return Vec::new() };
        let mut out = h.selections.clone();
        // The last read's pulses, before the host looks at DOUT again.
        if h.pulses >= 25 {
            out.push(h.pulses.min(27));
        }
        out
    }

    pub fn hx711_power_downs(&self) -> u32 {
        self.hx711.as_ref().map(|h| h.power_downs).unwrap_or(0)
    }

    /// Conversions of either channel still queued.
    pub fn hx711_queued(&self) -> usize {
        self.hx711.as_ref().map(|h| h.samples_a.len() + h.samples_b.len()).unwrap_or(0)
    }

    /// The level of input `pin` over time: each step `(at_us, level)` holds until the next.
    /// Before the first step the pin reads its pull (high with a pull-up, else low).
    pub fn script_input(&mut self, pin: u8, steps: &[(u64, bool)]) {
        let mut steps = steps.to_vec();
        steps.sort_by_key(|s| s.0);
        self.scripts.insert(pin, steps);
    }

    /// Sets `flag` once virtual time reaches `at_us` (ends a driver loop in a test).
    pub fn stop_at(&mut self, at_us: u64, flag: Arc<AtomicBool>) {
        self.stop = Some((at_us, flag));
    }

    /// Sleeps this much real time per virtual millisecond of [`Gpio::delay_us`].
    pub fn real_sleep_per_ms(&mut self, d: Duration) {
        self.real_sleep_per_ms = d;
    }

    /// The virtual time, in µs.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The level last written to an output pin.
    pub fn output(&self, pin: u8) -> Option<bool> {
        self.outputs.get(&pin).copied()
    }

    fn advance(&mut self, us: u64) {
        self.now = self.now.saturating_add(us);
        if let Some((at, flag)) = &self.stop {
            if self.now >= *at {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl Gpio for SimPins {
    fn configure(&mut self, pin: u8, mode: PinMode) -> Result<(), GpioError> {
        if pin > 27 {
            return Err(GpioError::Pin { pin, detail: "no such BCM pin (0..=27)".to_string() });
        }
        self.modes.insert(pin, mode);
        if mode == PinMode::Output {
            self.outputs.insert(pin, false);
        }
        Ok(())
    }

    fn write(&mut self, pin: u8, high: bool) -> Result<(), GpioError> {
        if self.modes.get(&pin) != Some(&PinMode::Output) {
            return Err(GpioError::NotConfigured { pin, wanted: "an output" });
        }
        self.advance(SIM_ACCESS_US);
        self.outputs.insert(pin, high);
        let now = self.now;
        if let Some(h) = &mut self.hx711 {
            if h.clock == pin {
                h.clock(high, now);
            }
        }
        Ok(())
    }

    fn read(&mut self, pin: u8) -> Result<bool, GpioError> {
        let mode = match self.modes.get(&pin) {
            Some(m) if *m != PinMode::Output => *m,
            _ => return Err(GpioError::NotConfigured { pin, wanted: "an input" }),
        };
        self.advance(SIM_ACCESS_US);
        if let Some(h) = &mut self.hx711 {
            if h.data == pin {
                h.settle();
                return Ok(h.dout());
            }
        }
        let now = self.now;
        let level = self
            .scripts
            .get(&pin)
            .and_then(|steps| steps.iter().rev().find(|(at, _)| *at <= now).map(|(_, l)| *l))
            .unwrap_or(mode == PinMode::InputPullUp);
        Ok(level)
    }

    fn delay_us(&mut self, us: u64) {
        self.advance(us);
        if !self.real_sleep_per_ms.is_zero() && us >= 1000 {
            std::thread::sleep(self.real_sleep_per_ms * (us / 1000) as u32);
        }
    }

    fn now_us(&mut self) -> u64 {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_pi_rppal_says_there_is_no_gpio() {
        // CI and developer machines are not Raspberry Pis; on a Pi this test is skipped.
        if std::path::Path::new("/dev/gpiomem").exists() {
            return;
        }
        let err = RppalGpio::new().err().expect("no GPIO here");
        assert!(err.to_string().starts_with("no GPIO on this machine (not a Raspberry Pi?)"), "{err}");
    }

    #[test]
    fn scripted_inputs_follow_virtual_time_and_pulls() {
        let mut pins = SimPins::new();
        pins.configure(17, PinMode::InputPullUp).unwrap();
        pins.configure(27, PinMode::Input).unwrap();
        pins.script_input(17, &[(1_000, false), (5_000, true)]);
        assert!(pins.read(17).unwrap(), "pull-up before the first step");
        assert!(!pins.read(27).unwrap());
        pins.delay_us(1_000);
        assert!(!pins.read(17).unwrap());
        pins.delay_us(4_000);
        assert!(pins.read(17).unwrap());
        assert!(matches!(pins.write(17, true), Err(GpioError::NotConfigured { pin: 17, .. })));
        assert!(matches!(pins.read(4), Err(GpioError::NotConfigured { pin: 4, .. })));
    }

    #[test]
    fn the_simulated_hx711_shifts_out_msb_first_and_takes_the_gain_pulses() {
        let (data, clock) = (5, 6);
        let mut pins = SimPins::new().with_hx711(data, clock);
        pins.configure(data, PinMode::Input).unwrap();
        pins.configure(clock, PinMode::Output).unwrap();
        pins.push_hx711_a(&[0x80_0001u32 as i32 - 0x100_0000]); // -8388607
        assert!(!pins.read(data).unwrap(), "DOUT low: ready");
        let mut bits = Vec::new();
        for _ in 0..24 {
            pins.write(clock, true).unwrap();
            bits.push(pins.read(data).unwrap());
            pins.write(clock, false).unwrap();
        }
        let mut expected = vec![true];
        expected.extend(std::iter::repeat_n(false, 22));
        expected.push(true);
        assert_eq!(bits, expected, "0x800001 MSB first");
        for _ in 0..2 {
            pins.write(clock, true).unwrap();
            pins.write(clock, false).unwrap();
        }
        assert!(pins.read(data).unwrap(), "no conversion queued: DOUT high");
        assert_eq!(pins.hx711_selections(), vec![26]);
    }
}
