//! Shelf sensors: storehub nodes over serial, an HX711 on GPIO, beam-break / door inputs, and
//! the tracker that turns shelf weights into units and outbox events.
//!
//! - [`node`]: the hub's side of the `storehub-wire` protocol (COBS + postcard + CRC-32 frames).
//! - [`hx711`]: a load-cell amplifier bit-banged over [`crate::devices::transport::gpio`].
//! - [`beam`]: debounced beam-break and door inputs.
//! - [`tracker`]: (device, channel) → product; readings → picked / restocked / low / empty.
//!
//! Drivers only report grams and levels; products and units are the tracker's business.

pub mod beam;
pub mod hx711;
pub mod node;
pub mod tracker;

pub use beam::run_beam;
pub use hx711::run_hx711;
pub use node::{run_node, run_node_with, NodeCommands};
pub use tracker::{ChannelState, Shelves};
