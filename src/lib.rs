//! storehub: the in-store edge hub. See docs/architecture.md for the map of this crate.

pub mod bench;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod domain;
pub mod inventory;
pub mod members;
pub mod staff;
pub mod store;
pub mod verify;
