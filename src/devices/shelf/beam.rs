//! Beam-break and door inputs on one GPIO pin, debounced.
//!
//! Owns the sans-I/O [`Debouncer`] (a level must hold `debounce_ms` before it counts, so contact
//! bounce and a hand brushing the beam for a few ms are not events) and [`run_beam`], the
//! driver loop that polls the pin through [`Gpio`] and emits [`DeviceEvent::Beam`] on each
//! debounced change. `active` is always "beam broken / door open", whatever the wiring.

use crate::devices::transport::gpio::{Gpio, PinMode};
use crate::devices::{DeviceEvent, DriverCtx, DriverExit};

/// How often [`run_beam`] samples the pin.
pub const POLL_US: u64 = 2_000;

/// Turns timed samples of a noisy level into debounced changes.
#[derive(Debug, Clone)]
pub struct Debouncer {
    hold_us: u64,
    /// The level last reported (`None` before the first one settles).
    stable: Option<bool>,
    /// A different level seen since this time.
    candidate: Option<(bool, u64)>,
}

impl Debouncer {
    /// A level must hold `hold_us` µs to count.
    pub fn new(hold_us: u64) -> Debouncer {
        Debouncer { hold_us, stable: None, candidate: None }
    }

    /// Feeds the level sampled at `now_us`. Returns the new level when it has just held long
    /// enough (the first settled level counts as a change too).
    pub fn sample(&mut self, level: bool, now_us: u64) -> Option<bool> {
        if self.stable == Some(level) {
            self.candidate = None;
            return None;
        }
        let since = match self.candidate {
            Some((l, since)) if l == level => since,
            _ => {
                self.candidate = Some((level, now_us));
                now_us
            }
        };
        if now_us.saturating_sub(since) >= self.hold_us {
            self.stable = Some(level);
            self.candidate = None;
            return Some(level);
        }
        None
    }

    pub fn level(&self) -> Option<bool> {
        self.stable
    }
}

/// Polls `pin` until stopped, emitting `Beam { active }` on every debounced change
/// (`[devices.shelf].debounce_ms`, default 20 ms; `active_low` when the input reads low while
/// the beam is broken). The input gets the pull-up for active-low wiring (open-collector
/// sensors), else the pull-down.
pub fn run_beam(gpio: &mut dyn Gpio, pin: u8, ctx: &DriverCtx) -> DriverExit {
    let s = ctx.device.shelf_settings();
    let mode = if s.active_low { PinMode::InputPullUp } else { PinMode::InputPullDown };
    if let Err(e) = gpio.configure(pin, mode) {
        return DriverExit::Other(format!("device {}: {e}", ctx.id()));
    }
    ctx.health.set_connected(ctx.id(), true, ctx.clock.now());
    let mut debouncer = Debouncer::new(s.debounce_ms.saturating_mul(1000));
    loop {
        if ctx.stopping() {
            return DriverExit::Stopped;
        }
        let level = match gpio.read(pin) {
            Ok(l) => l,
            Err(e) => {
                ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
                return DriverExit::Other(format!("device {}: {e}", ctx.id()));
            }
        };
        let now = gpio.now_us();
        if let Some(level) = debouncer.sample(level, now) {
            let active = level != s.active_low;
            let at = ctx.clock.now();
            ctx.health.event(ctx.id(), at);
            (ctx.emit)(DeviceEvent::Beam { device: ctx.id().to_string(), pin, active, at });
        }
        gpio.delay_us(POLL_US);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds (time in ms, level) samples; returns (time in ms, level) of each reported change.
    fn run(d: &mut Debouncer, samples: &[(u64, bool)]) -> Vec<(u64, bool)> {
        samples.iter().filter_map(|&(ms, l)| d.sample(l, ms * 1000).map(|l| (ms, l))).collect()
    }

    #[test]
    fn first_level_counts_once_it_has_held_20_ms() {
        let mut d = Debouncer::new(20_000);
        assert_eq!(run(&mut d, &[(0, false), (10, false), (19, false), (20, false), (30, false)]), vec![(20, false)]);
        assert_eq!(d.level(), Some(false));
    }

    #[test]
    fn bounces_shorter_than_the_hold_are_ignored() {
        let mut d = Debouncer::new(20_000);
        run(&mut d, &[(0, false), (20, false)]);
        // A switch bouncing for 8 ms, then back to where it was.
        let bounce = [(100, true), (102, false), (104, true), (106, false), (108, true), (110, false), (140, false)];
        assert_eq!(run(&mut d, &bounce), vec![]);
        // A real break: bounces, then holds from 206 ms; counts at 226 ms.
        let real = [(200, true), (202, false), (204, true), (205, false), (206, true), (216, true), (225, true), (226, true), (300, true)];
        assert_eq!(run(&mut d, &real), vec![(226, true)]);
        // And back.
        assert_eq!(run(&mut d, &[(400, false), (419, false), (420, false)]), vec![(420, false)]);
    }

    #[test]
    fn a_zero_hold_reports_every_change_at_once() {
        let mut d = Debouncer::new(0);
        assert_eq!(run(&mut d, &[(0, true), (1, false), (2, false), (3, true)]), vec![(0, true), (1, false), (3, true)]);
    }
}
