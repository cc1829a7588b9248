//! The HX711 load-cell amplifier (../shared/PROTOCOLS.md, "Shelf weight (HX711)"): a conversion is
//! ready when DOUT goes low; 24 PD_SCK pulses clock the sample out MSB first, as 24-bit two's
//! complement; 1–3 more pulses choose the next conversion's input and gain (25 pulses in all:
//! channel A ×128, 26: B ×32, 27: A ×64).
//!
//! [`Reader`] is the read as a state machine: the caller raises and lowers PD_SCK when it answers
//! [`Step::Pulse`], samples DOUT after each falling edge and feeds it back, so the timing (and the
//! rule that PD_SCK high for more than 60 µs powers the chip down) stays with the caller.

/// Input channel and gain of the next conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gain {
    /// Channel A, gain 128 (25 pulses).
    A128,
    /// Channel B, gain 32 (26 pulses).
    B32,
    /// Channel A, gain 64 (27 pulses).
    A64,
}

impl Gain {
    /// PD_SCK pulses after the 24 data bits.
    pub fn extra_pulses(self) -> u8 {
        match self {
            Gain::A128 => 1,
            Gain::B32 => 2,
            Gain::A64 => 3,
        }
    }
}

/// Smallest and largest sample; the chip saturates at these (0x800000 and 0x7FFFFF).
pub const MIN: i32 = -0x80_0000;
pub const MAX: i32 = 0x7F_FFFF;

/// A 24-bit two's-complement sample (the low 24 bits of `raw`) as a signed count.
pub fn decode(raw: u32) -> i32 {
    ((raw << 8) as i32) >> 8
}

/// Whether a sample sits at either saturation limit (input out of range or a broken wire).
pub fn saturated(sample: i32) -> bool {
    sample == MIN || sample == MAX
}

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// DOUT is high: no conversion ready yet; ask again later.
    Wait,
    /// Give one PD_SCK pulse, then call [`Reader::after_pulse`] with DOUT.
    Pulse,
    /// A whole sample was read (the gain pulses included).
    Sample(i32),
}

/// One sample read at a time.
#[derive(Debug, Clone)]
pub struct Reader {
    gain: Gain,
    bits: u32,
    pulses: u8,
    reading: bool,
}

impl Reader {
    pub fn new(gain: Gain) -> Reader {
        Reader { gain, bits: 0, pulses: 0, reading: false }
    }

    /// Starts or continues a read given DOUT now (before the next pulse).
    pub fn poll(&mut self, dout_high: bool) -> Step {
        if !self.reading {
            if dout_high {
                return Step::Wait;
            }
            self.reading = true;
            self.bits = 0;
            self.pulses = 0;
        }
        Step::Pulse
    }

    /// After a pulse: DOUT carries the next bit while data bits are being read.
    pub fn after_pulse(&mut self, dout_high: bool) -> Step {
        if !self.reading {
            return Step::Wait;
        }
        self.pulses = self.pulses.saturating_add(1);
        if self.pulses <= 24 {
            self.bits = (self.bits << 1) | u32::from(dout_high);
        }
        if self.pulses >= 24 + self.gain.extra_pulses() {
            self.reading = false;
            return Step::Sample(decode(self.bits));
        }
        Step::Pulse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twos_complement_24_bit_samples() {
        assert_eq!(decode(0x00_0000), 0);
        assert_eq!(decode(0x00_0001), 1);
        assert_eq!(decode(0x7F_FFFF), 8_388_607);
        assert_eq!(decode(0x80_0000), -8_388_608);
        assert_eq!(decode(0xFF_FFFF), -1);
        assert_eq!(decode(0xFF_FF38), -200);
        assert_eq!(decode(0xFF_FC18), -1000);
        // Bits above the 24th are ignored.
        assert_eq!(decode(0xAB_00_01_00), 256);
        assert!(saturated(decode(0x80_0000)) && saturated(decode(0x7F_FFFF)) && !saturated(decode(0x7F_FFFE)));
    }

    /// Clocks 0xFFFF38 (−200) out MSB first with gain A×128: 24 data pulses and one more.
    #[test]
    fn the_reader_clocks_a_sample_and_the_gain_pulses() {
        for (gain, extra) in [(Gain::A128, 1), (Gain::B32, 2), (Gain::A64, 3)] {
            let mut r = Reader::new(gain);
            assert_eq!(r.poll(true), Step::Wait, "DOUT high: not ready");
            assert_eq!(r.poll(false), Step::Pulse);
            let raw: u32 = 0xFF_FF38;
            let mut last = Step::Pulse;
            let mut pulses = 0;
            while last == Step::Pulse {
                pulses += 1;
                let bit = if pulses <= 24 { raw >> (24 - pulses) & 1 == 1 } else { true };
                last = r.after_pulse(bit);
            }
            assert_eq!(last, Step::Sample(-200));
            assert_eq!(pulses, 24 + extra);
            // The next read starts only when DOUT is low again.
            assert_eq!(r.poll(true), Step::Wait);
        }
    }
}
