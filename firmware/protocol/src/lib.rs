//! The wire protocol between the storehub hub and its shelf-sensor nodes (issue 12).
//!
//! It will hold the frame types both ends share, postcard-encoded, COBS-framed and protected by a
//! CRC, so a node and the hub decode the same bytes with the same code. It must stay `no_std`,
//! never allocate and never depend on the hub: the firmware links it on a microcontroller, the hub
//! reads it through its serial transport. Today it only fixes the protocol version.
#![no_std]
#![forbid(unsafe_code)]

/// The protocol version a node will announce in its hello frame, so the hub can refuse a node that
/// speaks another version instead of guessing at its frame layout.
pub const PROTOCOL_VERSION: u8 = 1;

#[cfg(test)]
mod tests {
    use super::PROTOCOL_VERSION;

    #[test]
    fn first_release_speaks_version_one() {
        assert_eq!(PROTOCOL_VERSION, 1);
    }
}
