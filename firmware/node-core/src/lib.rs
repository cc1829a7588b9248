//! The logic of a storehub shelf-sensor node, kept apart from any hardware so the RP2040 firmware
//! and the host node simulator run the same code and the host tests check it with worked numbers.
//!
//! - [`hx711`]: the HX711's 24-bit two's-complement samples and the bit-banged read as a
//!   sans-I/O state machine (the caller drives PD_SCK and reads DOUT).
//! - [`filter`]: median of N raw samples, then a moving average of M medians.
//! - [`stability`]: a reading is stable when the last K filtered values stay within a band.
//! - [`calibration`]: tare and two-point calibration from raw counts to grams.
//! - [`flash`]: calibrations in two alternating flash sectors, versioned and CRC-checked.
//! - [`node`]: the node as a state machine over samples, hub bytes and time (`storehub-wire`).
//!
//! No allocation, no floats, no panics on any input: every buffer is a fixed array.
#![no_std]
#![forbid(unsafe_code)]

pub mod calibration;
pub mod filter;
pub mod flash;
pub mod hx711;
pub mod node;
pub mod stability;
