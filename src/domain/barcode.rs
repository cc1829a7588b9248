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

/// Why a code is not a valid barcode. Each variant names the specific fault so a cashier's screen
/// or an import report can say what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("empty barcode")]
    Empty,
    #[error("character {ch:?} at position {position} is not a digit")]
    NonDigit { position: usize, ch: char },
    #[error("{len} digits is not a barcode length; expected 8 (EAN-8), 12 (UPC-A) or 13 (EAN-13)")]
    WrongLength { len: usize },
    #[error("wrong check digit {found}; expected {expected}")]
    WrongCheckDigit { expected: u8, found: u8 },
    #[error("wrong price check digit {found}; expected {expected}")]
    WrongPriceCheckDigit { expected: u8, found: u8 },
    #[error("{len} digits is not a catalog code; expected a GTIN (8, 12 or 13 digits) or a scale PLU item code (4 to 7 digits)")]
    NotACatalogCode { len: usize },
}

/// A code as a catalog may list it for a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum CatalogCode {
    /// EAN-13, EAN-8 or UPC-A with a valid check digit.
    Gtin(String),
    /// Item code of a label scale (the item digits of in-store price/weight codes).
    Plu(String),
}

/// Checks that every character is an ASCII digit and returns the digit values.
pub fn digits(code: &str) -> Result<Vec<u8>, BarcodeError> {
    if code.is_empty() {
        return Err(BarcodeError::Empty);
    }
    code.chars()
        .enumerate()
        .map(|(i, ch)| {
            ch.to_digit(10)
                .filter(|_| ch.is_ascii_digit())
                .map(|d| d as u8)
                .ok_or(BarcodeError::NonDigit { position: i + 1, ch })
        })
        .collect()
}

/// GS1 mod-10 check digit of `body` (all digits but the check digit): weights 3,1,3,1… from the
/// right, check = (10 − sum mod 10) mod 10. Same rule for EAN-13, EAN-8, UPC-A, GTIN-14.
pub fn gs1_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| d as u32 * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Validates a GTIN (8, 12 or 13 digits) including its check digit.
pub fn validate_gtin(code: &str) -> Result<(), BarcodeError> {
    let d = digits(code)?;
    if !matches!(d.len(), 8 | 12 | 13) {
        return Err(BarcodeError::WrongLength { len: d.len() });
    }
    let (body, check) = d.split_at(d.len() - 1);
    let expected = gs1_check_digit(body);
    if check[0] != expected {
        return Err(BarcodeError::WrongCheckDigit { expected, found: check[0] });
    }
    Ok(())
}

/// Classifies a code written in a catalog: a GTIN (validated) or a scale PLU item code.
pub fn classify_catalog_code(code: &str) -> Result<CatalogCode, BarcodeError> {
    let d = digits(code)?;
    match d.len() {
        4..=7 => Ok(CatalogCode::Plu(code.to_string())),
        8 | 12 | 13 => validate_gtin(code).map(|()| CatalogCode::Gtin(code.to_string())),
        len => Err(BarcodeError::NotACatalogCode { len }),
    }
}
