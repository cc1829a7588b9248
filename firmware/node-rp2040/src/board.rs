//! The board as plain numbers: which GPIO drives which HX711, the LED, where calibration lives in
//! flash, the HX711 clock limits, the firmware version tag and the USB serial-number text.
//!
//! Nothing here touches hardware and nothing here depends on a crate, so the same file is
//! compiled into the firmware and, through `#[path]`, into the host test
//! `firmware/uf2/tests/node_rp2040.rs`, which runs the tests below with the firmware workspace's
//! `cargo test` and checks the version tag against `storehub_uf2::FW_TAG` and memory.x against
//! the flash layout.

/// The GPIO pair of one HX711: its data-out and its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hx711Pins {
    /// DOUT (an input with the pull-up on: an unwired channel reads high, "not ready", forever
    /// and so reports no data instead of a made-up weight).
    pub dout: u8,
    /// PD_SCK (a push-pull output, low when idle).
    pub sck: u8,
}

/// Channel n (0-based, as on the wire) is wired to `HX711_PINS[n]`: a Pico's GP2..GP9, two
/// adjacent pins per channel (physical pins 4/5, 6/7, 9/10, 11/12).
pub const HX711_PINS: [Hx711Pins; 4] = [
    Hx711Pins { dout: 2, sck: 3 },
    Hx711Pins { dout: 4, sck: 5 },
    Hx711Pins { dout: 6, sck: 7 },
    Hx711Pins { dout: 8, sck: 9 },
];

/// How long the firmware watches the DOUT lines at boot for HX711s that are there: a fitted
/// HX711 pulls DOUT low at its first conversion, at most 400 ms after power-up at 10 samples/s
/// (the datasheet's settling time), and every 100 ms after; an unfitted channel's pull-up keeps
/// it high.
pub const DETECT_MS: u32 = 1_000;

/// The channel count the node announces, given which channels' DOUT went low during detection:
/// up to the last fitted one (a gap before it is a wiring fault, shown as that channel's missing
/// data), or all of them when none was seen (no HX711 answering is a fault too, and the hub and
/// the LED should show it rather than a node with nothing to report).
pub fn channels_to_announce(seen: &[bool]) -> u8 {
    match seen.iter().rposition(|s| *s) {
        Some(last) => (last + 1) as u8,
        None => seen.len() as u8,
    }
}

/// The Pico's on-board LED.
#[allow(dead_code)] // read by main.rs's compile-time assertions (not counted by the lint) and tests
pub const LED_PIN: u8 = 25;

/// GPIOs of bank 0 (GP0..=GP29); a Pico brings out GP0..=GP22 and GP26..=GP28 and uses the
/// rest on the board.
#[allow(dead_code)] // read by main.rs's compile-time assertions (not counted by the lint) and tests
pub const GPIO_COUNT: u8 = 30;

/// Pins the Pico board itself uses (GP23: SMPS mode, GP24: VBUS sense, GP25: LED, GP29: VSYS/3
/// sense); no HX711 may sit on them.
#[allow(dead_code)] // read by main.rs's compile-time assertions (not counted by the lint) and tests
pub const BOARD_PINS: [u8; 4] = [23, 24, LED_PIN, 29];

/// Whether every HX711 pin is a bank-0 GPIO, used once, and none of [`BOARD_PINS`]. The
/// firmware asserts it at compile time (main.rs): it is what makes handing out those pins by
/// number (hx711_gpio.rs, `new_pin`) sound.
#[allow(dead_code)] // read by main.rs's compile-time assertions (not counted by the lint) and tests
pub const fn pins_are_distinct() -> bool {
    let mut used = [false; GPIO_COUNT as usize];
    let mut i = 0;
    while i < BOARD_PINS.len() {
        used[BOARD_PINS[i] as usize] = true;
        i += 1;
    }
    let mut ch = 0;
    while ch < HX711_PINS.len() {
        let pair = [HX711_PINS[ch].dout, HX711_PINS[ch].sck];
        let mut k = 0;
        while k < 2 {
            let p = pair[k] as usize;
            if p >= GPIO_COUNT as usize || used[p] {
                return false;
            }
            used[p] = true;
            k += 1;
        }
        ch += 1;
    }
    true
}

/// The Pico's crystal.
pub const XTAL_FREQ_HZ: u32 = 12_000_000;

/// PD_SCK high for longer than 60 µs powers the HX711 down (PROTOCOLS.md); a read whose clock
/// stayed high longer than this is thrown away.
pub const SCK_HIGH_MAX_US: u32 = 50;

/// Timer ticks (µs) to wait for each clock half; the timer counts whole µs, so waiting 2 ticks
/// keeps each half at least 1 µs (the HX711 needs 0.2 µs) and at most 2 µs plus the loop.
pub const SCK_HALF_TICKS: u32 = 2;

/// Flash the Pico carries (W25Q16: 2 MiB) and where the CPU sees it (XIP).
pub const FLASH_SIZE: u32 = 2 * 1024 * 1024;
pub const XIP_BASE: u32 = 0x1000_0000;
/// The flash's erase sector and program page.
pub const SECTOR_SIZE: u32 = 4096;
pub const PAGE_SIZE: u32 = 256;

/// The calibration store's two sectors are the last two of the flash (0x1FE000..0x200000, seen
/// at 0x101FE000); memory.x ends the program's FLASH region at [`CALIBRATION_OFFSET`] so the
/// program can never be linked over them, and a UF2 update never writes them.
pub const CALIBRATION_OFFSET: u32 = FLASH_SIZE - CALIBRATION_LEN;
pub const CALIBRATION_LEN: u32 = 2 * SECTOR_SIZE;

/// Why an offset into the calibration region was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionError {
    /// Past the end of the 8 KiB region (or overflowing).
    OutOfRange,
    /// Not on an erase-sector or program-page boundary, or not whole sectors/pages.
    Unaligned,
}

/// The flash offset (from the start of flash, as the boot ROM wants it) of `len` bytes at
/// `offset` within the calibration region, checking that both are multiples of `align` (1 for
/// reads, [`SECTOR_SIZE`] for erases, [`PAGE_SIZE`] for programs).
pub fn calibration_flash_offset(offset: u32, len: u32, align: u32) -> Result<u32, RegionError> {
    let end = offset.checked_add(len).ok_or(RegionError::OutOfRange)?;
    if end > CALIBRATION_LEN {
        return Err(RegionError::OutOfRange);
    }
    if align == 0 || offset % align != 0 || len % align != 0 {
        return Err(RegionError::Unaligned);
    }
    Ok(CALIBRATION_OFFSET + offset)
}

/// The firmware tag `storehub_uf2::FW_TAG` (copied: the firmware cannot depend on that std
/// crate; the host test checks they are equal), which `Image::fw_version` looks for in a UF2.
pub const FW_TAG: [u8; 16] = *b"storehub-node-fw";

/// The 19 bytes the firmware keeps in its read-only data: [`FW_TAG`] then major, minor, patch.
/// The firmware calls it with `env!("CARGO_PKG_VERSION_MAJOR")` etc.; a version part that is
/// not a number from 0 to 255 stops the build (a const panic is a compile error).
pub const fn version_tag(major: &str, minor: &str, patch: &str) -> [u8; 19] {
    let mut tag = [0u8; 19];
    let mut i = 0;
    while i < FW_TAG.len() {
        tag[i] = FW_TAG[i];
        i += 1;
    }
    tag[16] = version_part(major);
    tag[17] = version_part(minor);
    tag[18] = version_part(patch);
    tag
}

/// A decimal version number 0..=255 ("0", "12"), at compile time.
pub const fn version_part(s: &str) -> u8 {
    let b = s.as_bytes();
    assert!(!b.is_empty(), "a version part is empty");
    let mut v: u32 = 0;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "a version part is not a decimal number");
        v = v * 10 + (b[i] - b'0') as u32;
        assert!(v <= 255, "a version part is above 255: the wire carries it as one byte");
        i += 1;
    }
    v as u8
}

/// The USB serial number: the node id as 16 upper-case hex digits, most significant first (the
/// flash unique id's bytes in the order the flash sends them, as the Pico SDK prints them).
pub fn hex_id(id: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = DIGITS[((id >> (60 - 4 * i)) & 0xF) as usize];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_used_once_and_none_is_the_boards_own() {
        let mut used = [false; GPIO_COUNT as usize];
        for p in BOARD_PINS {
            used[p as usize] = true;
        }
        for (ch, pins) in HX711_PINS.iter().enumerate() {
            for (what, p) in [("DOUT", pins.dout), ("PD_SCK", pins.sck)] {
                assert!(p < GPIO_COUNT, "channel {ch} {what} GP{p} is not a bank-0 GPIO");
                assert!(!used[p as usize], "channel {ch} {what} GP{p} is already in use");
                used[p as usize] = true;
            }
        }
        assert_eq!(HX711_PINS.len(), 4, "the wire protocol's MAX_CHANNELS");
        assert!(pins_are_distinct());
        // The check above is what makes main.rs's `new_pin` (which trusts pin numbers to be
        // unique) sound: 8 HX711 pins + 4 board pins = 12 distinct GPIOs.
        assert_eq!(used.iter().filter(|u| **u).count(), 12);
    }

    #[test]
    fn the_announced_channels_run_to_the_last_fitted_hx711() {
        assert_eq!(channels_to_announce(&[true, false, false, false]), 1);
        assert_eq!(channels_to_announce(&[true, true, true, true]), 4);
        // Channel 1 missing between 0 and 2: announced, so its missing data shows.
        assert_eq!(channels_to_announce(&[true, false, true, false]), 3);
        assert_eq!(channels_to_announce(&[false, false, false, true]), 4);
        // Nothing answered: all four, each reporting no data.
        assert_eq!(channels_to_announce(&[false; 4]), 4);
    }

    /// 2 MiB = 0x200000; two 4 KiB sectors = 0x2000, so the region is 0x1FE000..0x200000.
    #[test]
    fn calibration_is_the_last_two_sectors_of_2_mib() {
        assert_eq!(CALIBRATION_OFFSET, 0x1F_E000);
        assert_eq!(CALIBRATION_OFFSET % SECTOR_SIZE, 0);
        assert_eq!(CALIBRATION_OFFSET + CALIBRATION_LEN, FLASH_SIZE);
    }

    #[test]
    fn region_offsets_are_checked() {
        // Second sector erase: 0x1FE000 + 0x1000 = 0x1FF000.
        assert_eq!(calibration_flash_offset(4096, 4096, SECTOR_SIZE), Ok(0x1F_F000));
        // Last page of the region: 0x1FE000 + 0x1F00 = 0x1FFF00.
        assert_eq!(calibration_flash_offset(0x1F00, 256, PAGE_SIZE), Ok(0x1F_FF00));
        assert_eq!(calibration_flash_offset(8191, 1, 1), Ok(0x1F_FFFF));
        assert_eq!(calibration_flash_offset(8192, 1, 1), Err(RegionError::OutOfRange));
        assert_eq!(calibration_flash_offset(0x1F00, 512, PAGE_SIZE), Err(RegionError::OutOfRange));
        assert_eq!(calibration_flash_offset(u32::MAX, 2, 1), Err(RegionError::OutOfRange));
        assert_eq!(calibration_flash_offset(128, 256, PAGE_SIZE), Err(RegionError::Unaligned));
        assert_eq!(calibration_flash_offset(0, 100, PAGE_SIZE), Err(RegionError::Unaligned));
        assert_eq!(calibration_flash_offset(256, 256, SECTOR_SIZE), Err(RegionError::Unaligned));
        assert_eq!(calibration_flash_offset(0, 0, 0), Err(RegionError::Unaligned));
    }

    #[test]
    fn version_tags() {
        let t = version_tag("1", "12", "255");
        assert_eq!(&t[..16], b"storehub-node-fw");
        assert_eq!(&t[16..], &[1, 12, 255]);
        assert_eq!(version_part("0"), 0);
        assert_eq!(version_part("007"), 7);
    }

    #[test]
    #[should_panic(expected = "above 255")]
    fn a_version_part_above_255_is_refused() {
        version_part("256");
    }

    #[test]
    #[should_panic(expected = "not a decimal number")]
    fn a_pre_release_version_part_is_refused() {
        version_part("1-rc1");
    }

    /// 0xE660_5838_3B2A_1C2F → "E66058383B2A1C2F"; 1 → fifteen zeros and a 1.
    #[test]
    fn serial_numbers_are_16_hex_digits() {
        assert_eq!(&hex_id(0xE660_5838_3B2A_1C2F), b"E66058383B2A1C2F");
        assert_eq!(&hex_id(1), b"0000000000000001");
        assert_eq!(&hex_id(u64::MAX), b"FFFFFFFFFFFFFFFF");
    }
}
