//! Pure decisions of the store: money, barcodes (GS1), and later pricing, loyalty, analytics and
//! forecasting. Nothing here does I/O, reads the clock or is async: callers pass in everything a
//! decision needs, so every rule can be tested with worked numbers.

pub mod barcode;
pub mod money;
pub mod staff;
pub mod stock;
