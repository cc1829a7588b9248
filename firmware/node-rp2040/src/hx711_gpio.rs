//! The HX711 channels on their GPIO pins (`board::HX711_PINS`): drives node-core's
//! [`hx711::Reader`] by bit-banging PD_SCK and sampling DOUT, with µs timing from the RP2040's
//! 1 MHz timer.
//!
//! Each read (24 data pulses and the gain pulse, 25 × 2–4 µs) runs in one critical section,
//! so no interrupt can stretch a clock-high phase past the HX711's 60 µs power-down limit; a read
//! in which one still stayed high more than `board::SCK_HIGH_MAX_US` is thrown away and counted.
//! 50–100 µs with interrupts off is short next to USB's 1 ms frames (the USB controller answers the
//! host by itself; the main loop polls it). Reads are only started when DOUT says a conversion is
//! ready, so a channel with no HX711 (DOUT pulled up) costs one pin read per loop. At boot,
//! [`Hx711Channels::detect`] finds how many channels have an HX711 fitted.

use embedded_hal::digital::{InputPin, OutputPin};
use rp2040_hal::gpio::{
    new_pin, DynBankId, DynPinId, FunctionSioInput, FunctionSioOutput, Pin, PullNone, PullUp,
};
use rp2040_hal::{Timer, Watchdog};
use storehub_node_core::hx711::{Gain, Reader, Step};

use crate::board::{self, Hx711Pins};

type Dout = Pin<DynPinId, FunctionSioInput, PullUp>;
type Sck = Pin<DynPinId, FunctionSioOutput, PullNone>;

struct Channel {
    dout: Dout,
    sck: Sck,
    reader: Reader,
}

/// Every channel of the board.
pub struct Hx711Channels {
    channels: [Option<Channel>; board::HX711_PINS.len()],
    /// Reads thrown away because a clock-high phase ran past the limit.
    overlong: u32,
}

/// Bank-0 GPIO `num`, configured by the caller.
///
/// # Safety
/// No other handle to pin `num` may exist: `board::HX711_PINS` has no duplicates and none of
/// the board's own pins (checked by the host test), and main.rs drops the typed `Pins` handles
/// of these GPIOs before calling [`Hx711Channels::new`].
unsafe fn gpio(num: u8) -> Pin<DynPinId, rp2040_hal::gpio::DynFunction, rp2040_hal::gpio::DynPullType> {
    new_pin(DynPinId { bank: DynBankId::Bank0, num })
}

fn channel(pins: Hx711Pins) -> Option<Channel> {
    // SAFETY: see `gpio`.
    let dout = unsafe { gpio(pins.dout) }.try_into_function::<FunctionSioInput>().ok()?.into_pull_type::<PullUp>();
    // SAFETY: see `gpio`.
    let mut sck = unsafe { gpio(pins.sck) }.try_into_function::<FunctionSioOutput>().ok()?.into_pull_type::<PullNone>();
    // Infallible on the RP2040. Low: a high clock for 60 µs would power the chip down.
    let _ = sck.set_low();
    Some(Channel { dout, sck, reader: Reader::new(Gain::A128) })
}

/// Busy-waits until `ticks` µs have passed since `since` (the timer's low word; wraps safely).
fn wait_ticks(timer: &Timer, since: u32, ticks: u32) {
    while timer.get_counter_low().wrapping_sub(since) < ticks {}
}

impl Hx711Channels {
    /// Sets up every channel's pins (see [`gpio`] for why this is sound). A pin the HAL would not
    /// switch to SIO leaves its channel unread (it reports no data).
    pub fn new() -> Hx711Channels {
        Hx711Channels { channels: board::HX711_PINS.map(channel), overlong: 0 }
    }

    /// Watches every DOUT for `board::DETECT_MS` (feeding the watchdog) and returns the channel
    /// count to announce (`board::channels_to_announce`). Reads nothing: a ready conversion
    /// waits for the first [`Hx711Channels::read`].
    pub fn detect(&mut self, timer: &Timer, watchdog: &Watchdog) -> u8 {
        let mut seen = [false; board::HX711_PINS.len()];
        let start = timer.get_counter_low();
        while timer.get_counter_low().wrapping_sub(start) < board::DETECT_MS * 1000 {
            watchdog.feed();
            for (c, s) in self.channels.iter_mut().zip(seen.iter_mut()) {
                if let Some(c) = c {
                    *s |= c.dout.is_low().unwrap_or(false);
                }
            }
        }
        board::channels_to_announce(&seen)
    }

    /// Reads channel `ch` if its HX711 has a conversion ready: `Some(raw count)`.
    pub fn read(&mut self, ch: usize, timer: &Timer) -> Option<i32> {
        let c = self.channels.get_mut(ch)?.as_mut()?;
        // A DOUT read is infallible on the RP2040; treat an error as "not ready".
        if c.dout.is_high().unwrap_or(true) {
            return None;
        }
        let (sample, longest_high) = critical_section::with(|_| {
            let mut step = c.reader.poll(false);
            let mut longest_high = 0u32;
            loop {
                match step {
                    Step::Wait => return (None, longest_high),
                    Step::Sample(raw) => return (Some(raw), longest_high),
                    Step::Pulse => {
                        let _ = c.sck.set_high();
                        let rose = timer.get_counter_low();
                        wait_ticks(timer, rose, board::SCK_HALF_TICKS);
                        let _ = c.sck.set_low();
                        let fell = timer.get_counter_low();
                        longest_high = longest_high.max(fell.wrapping_sub(rose));
                        wait_ticks(timer, fell, board::SCK_HALF_TICKS);
                        // DOUT holds the next bit from the rising edge to the next one.
                        step = c.reader.after_pulse(c.dout.is_high().unwrap_or(false));
                    }
                }
            }
        });
        if longest_high > board::SCK_HIGH_MAX_US {
            self.overlong = self.overlong.saturating_add(1);
            return None;
        }
        sample
    }

    /// Reads thrown away since boot because the clock stayed high too long.
    pub fn overlong(&self) -> u32 {
        self.overlong
    }
}
