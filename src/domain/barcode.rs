//! GS1 barcodes: EAN-13, EAN-8, UPC-A check digits, and in-store (prefix 20–29) price- or
//! weight-embedded EAN-13 codes decoded by a configurable layout.

use serde::{Deserialize, Serialize};

/// What an in-store code's value digits carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddedValue {
    /// Price in fen (after applying `decimals`, see [`InStoreLayout`]).
    Price,
    /// Weight in grams (after applying `decimals`).
    Weight,
}

/// Layout of an in-store EAN-13 for a set of two-digit prefixes (20–29).
/// Digits: `prefix(2) item(item_digits) [price check digit] value(value_digits) check(1)` = 13.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InStoreLayout {
    /// Two-digit prefixes this layout applies to, each in 20..=29.
    pub prefixes: Vec<u8>,
    pub item_digits: u8,
    pub value_digits: u8,
    pub value: EmbeddedValue,
    /// Number of implied decimals of the value digits in its natural unit:
    /// for a price, 2 means the digits are fen (yuan with 2 decimals), 1 means jiao, 0 yuan;
    /// for a weight, 3 means grams (kg with 3 decimals), 0 means kilograms.
    pub decimals: u8,
    /// Whether a price/weight check digit (GS1 4-digit or 5-digit weighting) sits between item
    /// code and value.
    pub value_check_digit: bool,
}
