//! Pure decisions of the store: money, barcodes (GS1), printable coupon codes, stock, basket
//! pricing and tenders, event classes (what the outbox's disk budget may drop), loyalty (points,
//! tiers, stored value, referrals, member codes), phone numbers, staff rules (roles, lockout,
//! shift cash), shelf counts from weights, sales figures for the dashboard and reports
//! (`reports`), customer-lifetime models (`clv`: BG/NBD, Gamma-Gamma), and demand forecasts (`forecast`).
//! Nothing here does I/O, reads the clock or is async: callers pass in everything a decision
//! needs, so every rule can be tested with worked numbers.

pub mod abc;
pub mod barcode;
pub mod clock_sanity;
pub mod disk;
pub mod assoc;
pub mod attendance;
pub mod campaign;
pub mod channel;
pub mod commission;
pub mod clv;
pub mod coupon_code;
pub mod events;
pub mod forecast;
pub mod loyalty;
pub mod message;
pub mod money;
pub mod optimize;
pub mod performance;
pub mod phone;
pub mod pricing;
pub mod profile;
pub mod purchase;
pub mod replenish;
pub mod rfm;
pub mod reports;
pub mod service;
pub mod shelf;
pub mod staff;
pub mod stock;
pub mod stocktake;
pub mod tender;
pub mod throttle;
