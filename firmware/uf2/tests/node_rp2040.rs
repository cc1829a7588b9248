//! Host checks of the RP2040 firmware's pure parts (firmware/node-rp2040 is its own workspace
//! and only builds for thumbv6m, so its hardware-free files are compiled here): the tests inside
//! board.rs (pin table, flash region, version tag, serial number) and outq.rs (the USB frame
//! queue), plus what ties the firmware to this crate and to its linker script: the copied
//! version tag equals [`storehub_uf2::FW_TAG`], the tag carries the version in the firmware's
//! Cargo.toml, and memory.x ends the program's FLASH before the calibration sectors.

#[allow(dead_code)]
#[path = "../../node-rp2040/src/board.rs"]
mod board;
#[allow(dead_code)]
#[path = "../../node-rp2040/src/outq.rs"]
mod outq;

const FIRMWARE_CARGO_TOML: &str = include_str!("../../node-rp2040/Cargo.toml");
const MEMORY_X: &str = include_str!("../../node-rp2040/memory.x");

#[test]
fn the_firmware_copy_of_the_tag_is_the_one_the_uf2_reader_looks_for() {
    assert_eq!(&board::FW_TAG, storehub_uf2::FW_TAG);
}

/// The firmware's Cargo.toml `version = "a.b.c"` (its first `version` line, in [package]) gives
/// the tag bytes; an image built from it is read back as (a, b, c) by `Image::fw_version`.
#[test]
fn the_tag_carries_the_firmware_crate_version_and_the_uf2_reader_finds_it() {
    let line = FIRMWARE_CARGO_TOML
        .lines()
        .find(|l| l.starts_with("version = \""))
        .expect("firmware/node-rp2040/Cargo.toml has a version line");
    let version = line.trim_start_matches("version = \"").trim_end_matches('"');
    let parts: Vec<&str> = version.split('.').collect();
    assert_eq!(parts.len(), 3, "version {version:?} is not major.minor.patch");
    let tag = board::version_tag(parts[0], parts[1], parts[2]);
    let want: Vec<u8> = parts.iter().map(|p| p.parse::<u8>().unwrap()).collect();
    assert_eq!(&tag[16..], want.as_slice());

    // Put the tag at 100 bytes before a page end so it straddles two UF2 pages, as it may in
    // a real image, and read it back from the encoded file.
    let mut flash = vec![0xA5u8; 512];
    flash[156..175].copy_from_slice(&tag);
    let pages: Vec<(u32, [u8; 256])> = flash
        .chunks(256)
        .enumerate()
        .map(|(i, c)| (storehub_uf2::FLASH_START + 256 * i as u32, c.try_into().unwrap()))
        .collect();
    let img = storehub_uf2::Image::parse(&storehub_uf2::encode(&pages)).unwrap();
    assert_eq!(img.fw_version(), Some((want[0], want[1], want[2])));
}

/// A hex number after `key = ` on the memory.x line that starts with `region`.
fn memory_x_field(region: &str, key: &str) -> u32 {
    let line = MEMORY_X
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(region) && l[region.len()..].trim_start().starts_with(':'))
        .unwrap_or_else(|| panic!("memory.x has no {region} region"));
    let at = line.find(key).unwrap_or_else(|| panic!("memory.x {region} has no {key}"));
    let rest = line[at + key.len()..].trim_start().trim_start_matches('=').trim_start();
    let hex: String = rest.trim_start_matches("0x").chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u32::from_str_radix(&hex, 16).unwrap_or_else(|e| panic!("memory.x {region} {key}: {e}"))
}

/// BOOT2 0x10000000 + 0x100; FLASH 0x10000100 + 0x1FDF00 = 0x101FE000, which is where the
/// calibration region starts (0x10000000 + 0x1FE000) and CALIBRATION runs 0x2000 to 0x10200000.
#[test]
fn memory_x_keeps_the_program_out_of_the_calibration_sectors() {
    let boot2 = (memory_x_field("BOOT2", "ORIGIN"), memory_x_field("BOOT2", "LENGTH"));
    let flash = (memory_x_field("FLASH", "ORIGIN"), memory_x_field("FLASH", "LENGTH"));
    let cal = (memory_x_field("CALIBRATION", "ORIGIN"), memory_x_field("CALIBRATION", "LENGTH"));
    let cal_start = board::XIP_BASE + board::CALIBRATION_OFFSET;
    assert_eq!(boot2, (board::XIP_BASE, 0x100), "memory.x: BOOT2 must be the first 256 bytes of flash");
    assert_eq!(flash.0, boot2.0 + boot2.1, "memory.x: FLASH must start right after BOOT2");
    assert_eq!(
        flash.0 + flash.1,
        cal_start,
        "memory.x: FLASH ends at {:#X}, it must end where the calibration sectors start, {cal_start:#X}",
        flash.0 + flash.1
    );
    assert_eq!(cal, (cal_start, board::CALIBRATION_LEN), "memory.x: CALIBRATION must match src/board.rs");
    assert_eq!(cal.0 + cal.1, board::XIP_BASE + board::FLASH_SIZE, "memory.x: CALIBRATION must end at the end of the 2 MiB flash");
}
