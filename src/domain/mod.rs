//! Pure decisions of the store: money, barcodes (GS1), coupon codes, stock, basket pricing and
//! tenders, and later loyalty, analytics and forecasting. Nothing here does I/O, reads the clock
//! or is async: callers pass in everything a decision needs, so every rule can be tested with
//! worked numbers.

pub mod barcode;
pub mod coupon_code;
pub mod money;
pub mod pricing;
pub mod stock;
pub mod tender;
