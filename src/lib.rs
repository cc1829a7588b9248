//! storehub: the in-store edge hub. See docs/architecture.md for the map of this crate.

pub mod audit;
pub mod bench;
pub mod catalog;
pub mod checkout;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod control;
pub mod coupons;
pub mod daemon;
pub mod demo;
pub mod devices;
pub mod domain;
pub mod inventory;
pub mod json_import;
pub mod logring;
pub mod members;
pub mod promotions;
pub mod provision;
pub mod reports;
pub mod staff;
pub mod store;
pub mod verify;
pub mod web;
