//! GS1 barcodes: EAN-13, EAN-8, UPC-A check digits, and in-store (prefix 20–29) price- or
//! weight-embedded EAN-13 codes decoded by a configurable layout.
//!
//! Owns turning the digits a scanner sends into a typed [`Barcode`]; it never looks a product up
//! (that is the catalog's job) and never does I/O. Every input, however malformed, gives either a
//! `Barcode` or a specific [`BarcodeError`] — never a panic. Money comes out as integer fen and
//! weight as integer grams; no floats anywhere.

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
/// Label scales are configured per shop, so layouts come from config; [`validate_layout`] is what
/// a config loader should call, and [`default_layouts`] is used when config names none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InStoreLayout {
    /// Two-digit prefixes this layout applies to, each in 20..=29.
    pub prefixes: Vec<u8>,
    /// Number of item-code (scale PLU) digits after the prefix.
    pub item_digits: u8,
    /// Number of price/weight digits before the final check digit.
    pub value_digits: u8,
    /// Whether the value digits are a price or a weight.
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
    /// Nothing was scanned or typed.
    #[error("empty barcode")]
    Empty,
    /// A character that is not an ASCII digit; `position` counts characters from 1.
    #[error("character {ch:?} at position {position} is not a digit")]
    NonDigit { position: usize, ch: char },
    /// All digits, but not 8, 12 or 13 of them.
    #[error("{len} digits is not a barcode length; expected 8 (EAN-8), 12 (UPC-A) or 13 (EAN-13)")]
    WrongLength { len: usize },
    /// The final GS1 mod-10 check digit does not match the other digits.
    #[error("wrong check digit {found}; expected {expected}")]
    WrongCheckDigit { expected: u8, found: u8 },
    /// The price/weight check digit inside an in-store code does not match its value digits.
    #[error("wrong price check digit {found}; expected {expected}")]
    WrongPriceCheckDigit { expected: u8, found: u8 },
    /// Neither a GTIN nor a scale PLU item code length.
    #[error("{len} digits is not a catalog code; expected a GTIN (8, 12 or 13 digits) or a scale PLU item code (4 to 7 digits)")]
    NotACatalogCode { len: usize },
    /// The in-store layout that claims this code's prefix is unusable (see [`validate_layout`]).
    #[error("invalid in-store barcode layout: {0}")]
    InvalidLayout(String),
    /// GS1 defines a price/weight check digit only for 4- and 5-digit values.
    #[error("a GS1 price/weight check digit is defined for 4 or 5 value digits, not {len}")]
    PriceCheckDigitLength { len: usize },
    /// A digit slice given to a check-digit function holds a value above 9.
    #[error("value {value} at position {position} is not a decimal digit")]
    DigitOutOfRange { position: usize, value: u8 },
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

/// A scanned code after validation: what the lane needs to look the product up and, for label-scale
/// codes, the price or weight printed into it. Serialises as one JSON object tagged by `kind`,
/// e.g. `{"kind":"price_embedded","item_code":"05000","price_fen":12345,"gtin":"2305000123451"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Barcode {
    /// A 13-digit GTIN (including an in-store prefix no layout claims).
    Ean13 {
        /// The 13 digits as scanned.
        gtin: String,
    },
    /// An 8-digit GTIN.
    Ean8 {
        /// The 8 digits as scanned.
        gtin: String,
    },
    /// A 12-digit UPC-A (kept as 12 digits, not padded to 13).
    Upca {
        /// The 12 digits as scanned.
        gtin: String,
    },
    /// In-store code carrying the price of the labelled item.
    PriceEmbedded {
        /// Scale PLU item code (the item digits, leading zeros kept).
        item_code: String,
        /// Price of this label in fen.
        price_fen: i64,
        /// The whole 13-digit code as scanned.
        gtin: String,
    },
    /// In-store code carrying the weight of the labelled item.
    WeightEmbedded {
        /// Scale PLU item code (the item digits, leading zeros kept).
        item_code: String,
        /// Net weight in grams.
        weight_g: i64,
        /// The whole 13-digit code as scanned.
        gtin: String,
    },
}

impl Barcode {
    /// The code as scanned (8, 12 or 13 digits), whatever its kind.
    pub fn gtin(&self) -> &str {
        match self {
            Barcode::Ean13 { gtin }
            | Barcode::Ean8 { gtin }
            | Barcode::Upca { gtin }
            | Barcode::PriceEmbedded { gtin, .. }
            | Barcode::WeightEmbedded { gtin, .. } => gtin,
        }
    }
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
                .ok_or(BarcodeError::NonDigit {
                    position: i + 1,
                    ch,
                })
        })
        .collect()
}

/// GS1 mod-10 check digit of `body` (all digits but the check digit): weights 3,1,3,1… from the
/// right, check = (10 − sum mod 10) mod 10. Same rule for EAN-13, EAN-8, UPC-A, GTIN-14.
/// (GS1 General Specifications §7.9.1.) The sum is reduced mod 10 as it goes, so no body length
/// can overflow it.
pub fn gs1_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body.iter().rev().enumerate().fold(0, |acc, (i, &d)| {
        (acc + u32::from(d) * if i % 2 == 0 { 3 } else { 1 }) % 10
    });
    ((10 - sum) % 10) as u8
}

/// Validates a GTIN (8, 12 or 13 digits) including its check digit.
pub fn validate_gtin(code: &str) -> Result<(), BarcodeError> {
    let d = digits(code)?;
    check_gtin_digits(&d)
}

/// Length and check-digit test on already-split digits.
fn check_gtin_digits(d: &[u8]) -> Result<(), BarcodeError> {
    if !matches!(d.len(), 8 | 12 | 13) {
        return Err(BarcodeError::WrongLength { len: d.len() });
    }
    match d.split_last() {
        Some((&found, body)) => {
            let expected = gs1_check_digit(body);
            if found != expected {
                return Err(BarcodeError::WrongCheckDigit { expected, found });
            }
            Ok(())
        }
        None => Err(BarcodeError::Empty),
    }
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

// --- GS1 price/weight check digit -------------------------------------------------------------
//
// Source: GS1 General Specifications, §7.9.2 "Check digit calculation for price/weight fields"
// (four-digit field, weighting factors 2-, 2-, 3, 5-) and §7.9.3 (five-digit field, weighting
// factors 5+, 2-, 5-, 5+, 2-); the weighted-product tables are in the same section.
// A "weighting factor" w+ / w- means: multiply the digit by w, then add (+) or subtract (-) the
// tens digit of the product to/from its units digit, keeping the units digit of that result.
// Factor 3 is a plain multiplication (only its units digit matters after the final mod 10).
// GS1's worked examples, reproduced in the tests below: 4-digit price 2875 → check 9;
// 5-digit price 14685 → check 6.

/// Weighted products for factor 2-: 2d, units digit minus tens digit, mod 10.
const TWO_MINUS: [u8; 10] = [0, 2, 4, 6, 8, 9, 1, 3, 5, 7];
/// Weighted products for factor 3: units digit of 3d.
const THREE: [u8; 10] = [0, 3, 6, 9, 2, 5, 8, 1, 4, 7];
/// Weighted products for factor 5+: 5d, units digit plus tens digit, mod 10.
const FIVE_PLUS: [u8; 10] = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
/// Weighted products for factor 5-: 5d, units digit minus tens digit, mod 10.
const FIVE_MINUS: [u8; 10] = [0, 5, 9, 4, 8, 3, 7, 2, 6, 1];

/// GS1 price/weight check digit ("price verifier digit") of a 4- or 5-digit value field.
///
/// * 4 digits (GS1 GenSpecs §7.9.2): sum the weighted products with factors 2-, 2-, 3, 5-;
///   multiply the sum by 3; the check digit is the units digit of that.
/// * 5 digits (GS1 GenSpecs §7.9.3): sum the weighted products with factors 5+, 2-, 5-, 5+, 2-;
///   subtract the units digit of the sum from 10 (mod 10); the check digit is the digit whose
///   5- weighted product equals that result.
///
/// Errors: [`BarcodeError::PriceCheckDigitLength`] for any other length,
/// [`BarcodeError::DigitOutOfRange`] if an element is above 9.
pub fn gs1_price_check_digit(value: &[u8]) -> Result<u8, BarcodeError> {
    let factors: &[&[u8; 10]] = match value.len() {
        4 => &[&TWO_MINUS, &TWO_MINUS, &THREE, &FIVE_MINUS],
        5 => &[&FIVE_PLUS, &TWO_MINUS, &FIVE_MINUS, &FIVE_PLUS, &TWO_MINUS],
        len => return Err(BarcodeError::PriceCheckDigitLength { len }),
    };
    let mut sum: u32 = 0;
    for (i, (&d, table)) in value.iter().zip(factors).enumerate() {
        let product = table
            .get(usize::from(d))
            .ok_or(BarcodeError::DigitOutOfRange {
                position: i + 1,
                value: d,
            })?;
        sum += u32::from(*product);
    }
    if value.len() == 4 {
        return Ok((sum * 3 % 10) as u8);
    }
    let target = ((10 - sum % 10) % 10) as u8;
    // FIVE_MINUS is a permutation of 0..=9, so exactly one digit maps to `target`.
    FIVE_MINUS
        .iter()
        .position(|&p| p == target)
        .map(|d| d as u8)
        .ok_or(BarcodeError::PriceCheckDigitLength { len: value.len() })
}

// --- In-store layouts --------------------------------------------------------------------------

/// The common Chinese label-scale layout (2-digit prefix, 5-digit item code, 5-digit value, check
/// digit, no price check digit), used when config names no layouts: prefixes 20–24 carry a price
/// whose digits are fen, 25–29 a weight whose digits are grams.
pub fn default_layouts() -> Vec<InStoreLayout> {
    vec![
        InStoreLayout {
            prefixes: vec![20, 21, 22, 23, 24],
            item_digits: 5,
            value_digits: 5,
            value: EmbeddedValue::Price,
            decimals: 2,
            value_check_digit: false,
        },
        InStoreLayout {
            prefixes: vec![25, 26, 27, 28, 29],
            item_digits: 5,
            value_digits: 5,
            value: EmbeddedValue::Weight,
            decimals: 3,
            value_check_digit: false,
        },
    ]
}

/// Checks one layout so a config loader can reject it with a readable message: at least one
/// prefix, every prefix in 20..=29, item and value at least one digit each,
/// `2 + item_digits + [1 if value_check_digit] + value_digits + 1 == 13`, a price/weight check digit
/// only with 4 or 5 value digits (the only lengths GS1 defines one for), and `decimals` no finer
/// than the unit (at most 2 for a price in fen, 3 for a weight in grams).
pub fn validate_layout(l: &InStoreLayout) -> Result<(), String> {
    let name = format!("layout for prefixes {:?}", l.prefixes);
    if l.prefixes.is_empty() {
        return Err(format!("{name}: no prefixes; give at least one of 20..=29"));
    }
    if let Some(p) = l.prefixes.iter().find(|p| !(20..=29).contains(*p)) {
        return Err(format!(
            "{name}: prefix {p} is not an in-store prefix; expected 20..=29"
        ));
    }
    if l.item_digits == 0 {
        return Err(format!("{name}: item_digits must be at least 1"));
    }
    if l.value_digits == 0 {
        return Err(format!("{name}: value_digits must be at least 1"));
    }
    let check = u32::from(l.value_check_digit);
    let total = 2 + u32::from(l.item_digits) + check + u32::from(l.value_digits) + 1;
    if total != 13 {
        return Err(format!(
            "{name}: 2 prefix + {} item + {check} price check + {} value + 1 check = {total} digits; an EAN-13 has 13",
            l.item_digits, l.value_digits
        ));
    }
    if l.value_check_digit && !matches!(l.value_digits, 4 | 5) {
        return Err(format!(
            "{name}: a price/weight check digit is defined by GS1 only for 4 or 5 value digits, not {}",
            l.value_digits
        ));
    }
    let max_decimals = match l.value {
        EmbeddedValue::Price => 2,
        EmbeddedValue::Weight => 3,
    };
    if l.decimals > max_decimals {
        let what = match l.value {
            EmbeddedValue::Price => "price (0 = yuan, 1 = jiao, 2 = fen)",
            EmbeddedValue::Weight => "weight (0 = kg, 3 = grams)",
        };
        return Err(format!(
            "{name}: decimals {} is finer than a {what} can hold; at most {max_decimals}",
            l.decimals
        ));
    }
    Ok(())
}

/// Checks every layout with [`validate_layout`] and that no prefix is claimed by two layouts
/// (decode would silently use the first).
pub fn validate_layouts(layouts: &[InStoreLayout]) -> Result<(), String> {
    let mut owner: [Option<usize>; 10] = [None; 10];
    for (i, l) in layouts.iter().enumerate() {
        validate_layout(l)?;
        for &p in &l.prefixes {
            // validate_layout guarantees 20..=29, so the index is 0..=9; `get_mut` keeps it total.
            if let Some(slot) = owner.get_mut(usize::from(p.wrapping_sub(20))) {
                match slot {
                    Some(first) if *first != i => {
                        return Err(format!(
                            "prefix {p} is claimed by layout {} and layout {}; give each prefix one layout",
                            *first + 1,
                            i + 1
                        ))
                    }
                    _ => *slot = Some(i),
                }
            }
        }
    }
    Ok(())
}

/// Decodes a scanned code.
///
/// Steps, each with its own error: digits only ([`BarcodeError::Empty`],
/// [`BarcodeError::NonDigit`]); 8, 12 or 13 of them ([`BarcodeError::WrongLength`]); the final
/// GS1 check digit ([`BarcodeError::WrongCheckDigit`]). A 13-digit code whose prefix (20–29) is
/// claimed by a layout is then split by it — the first layout listing the prefix wins — after
/// checking that layout ([`BarcodeError::InvalidLayout`]) and, if it has one, the price/weight
/// check digit ([`BarcodeError::WrongPriceCheckDigit`]). Only the layout that claims the code is
/// checked, so one bad layout cannot stop ordinary goods from scanning. Any 13-digit code no
/// layout claims is a plain [`Barcode::Ean13`].
///
/// The value is scaled to the unit's resolution: `price_fen = value × 10^(2 − decimals)`,
/// `weight_g = value × 10^(3 − decimals)`.
pub fn decode(code: &str, layouts: &[InStoreLayout]) -> Result<Barcode, BarcodeError> {
    let d = digits(code)?;
    check_gtin_digits(&d)?;
    let gtin = code.to_string();
    match d.len() {
        8 => return Ok(Barcode::Ean8 { gtin }),
        12 => return Ok(Barcode::Upca { gtin }),
        _ => {}
    }
    let prefix = match d.get(..2) {
        Some(&[a, b]) => a * 10 + b,
        _ => return Ok(Barcode::Ean13 { gtin }),
    };
    if !(20..=29).contains(&prefix) {
        return Ok(Barcode::Ean13 { gtin });
    }
    match layouts.iter().find(|l| l.prefixes.contains(&prefix)) {
        Some(layout) => decode_in_store(code, &d, layout),
        None => Ok(Barcode::Ean13 { gtin }),
    }
}

/// Splits a check-digit-valid 13-digit in-store code by `layout`.
fn decode_in_store(code: &str, d: &[u8], layout: &InStoreLayout) -> Result<Barcode, BarcodeError> {
    validate_layout(layout).map_err(BarcodeError::InvalidLayout)?;
    let bad = |what: &str| BarcodeError::InvalidLayout(format!("{what} lies outside the code"));

    let item_start = 2;
    let item_end = item_start + usize::from(layout.item_digits);
    let value_start = item_end + usize::from(layout.value_check_digit);
    let value_end = value_start + usize::from(layout.value_digits);

    let item_code = code
        .get(item_start..item_end)
        .ok_or_else(|| bad("item code"))?;
    let value_digits = d.get(value_start..value_end).ok_or_else(|| bad("value"))?;

    if layout.value_check_digit {
        let found = *d.get(item_end).ok_or_else(|| bad("price check digit"))?;
        let expected = gs1_price_check_digit(value_digits)?;
        if found != expected {
            return Err(BarcodeError::WrongPriceCheckDigit { expected, found });
        }
    }

    let value = value_digits
        .iter()
        .try_fold(0i64, |acc, &x| {
            acc.checked_mul(10)?.checked_add(i64::from(x))
        })
        .ok_or_else(|| BarcodeError::InvalidLayout("value digits overflow".to_string()))?;
    let resolution: u8 = match layout.value {
        EmbeddedValue::Price => 2,
        EmbeddedValue::Weight => 3,
    };
    let scaled = resolution
        .checked_sub(layout.decimals)
        .and_then(|exp| 10i64.checked_pow(u32::from(exp)))
        .and_then(|factor| value.checked_mul(factor))
        .ok_or_else(|| {
            BarcodeError::InvalidLayout(format!(
                "decimals {} is finer than the unit allows ({resolution})",
                layout.decimals
            ))
        })?;

    let item_code = item_code.to_string();
    let gtin = code.to_string();
    Ok(match layout.value {
        EmbeddedValue::Price => Barcode::PriceEmbedded {
            item_code,
            price_fen: scaled,
            gtin,
        },
        EmbeddedValue::Weight => Barcode::WeightEmbedded {
            item_code,
            weight_g: scaled,
            gtin,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dflt(code: &str) -> Result<Barcode, BarcodeError> {
        decode(code, &default_layouts())
    }

    // --- worked examples from PROTOCOLS.md, default layouts ---

    #[test]
    fn prefix_23_is_price_12345_fen_for_item_05000() {
        let b = dflt("2305000123451").unwrap();
        assert_eq!(
            b,
            Barcode::PriceEmbedded {
                item_code: "05000".into(),
                price_fen: 12345, // ¥123.45
                gtin: "2305000123451".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"kind":"price_embedded","item_code":"05000","price_fen":12345,"gtin":"2305000123451"}"#
        );
    }

    #[test]
    fn prefix_21_is_price_8000_fen_for_item_00005() {
        assert_eq!(
            dflt("2100005080002").unwrap(),
            Barcode::PriceEmbedded {
                item_code: "00005".into(),
                price_fen: 8000, // ¥80.00
                gtin: "2100005080002".into()
            }
        );
    }

    #[test]
    fn prefix_25_is_weight_1250_g_for_item_00012() {
        // 25 00012 01250 + check. EAN-13 weights 1,3,1,3… from the left on the first 12 digits:
        // 2·1 + 5·3 + 0·1 + 0·3 + 0·1 + 1·3 + 2·1 + 0·3 + 1·1 + 2·3 + 5·1 + 0·3
        // = 2 + 15 + 0 + 0 + 0 + 3 + 2 + 0 + 1 + 6 + 5 + 0 = 34 → check (10 − 4) mod 10 = 6.
        assert_eq!(gs1_check_digit(&[2, 5, 0, 0, 0, 1, 2, 0, 1, 2, 5, 0]), 6);
        let b = dflt("2500012012506").unwrap();
        assert_eq!(
            b,
            Barcode::WeightEmbedded {
                item_code: "00012".into(),
                weight_g: 1250, // 1.250 kg; at ¥12.80/kg that is ¥16.00, see money tests
                gtin: "2500012012506".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"kind":"weight_embedded","item_code":"00012","weight_g":1250,"gtin":"2500012012506"}"#
        );
    }

    #[test]
    fn weight_in_kilograms_scales_to_grams() {
        // Same digits read by a layout whose value is whole kg (decimals 0): 01250 kg = 1 250 000 g.
        let kg = InStoreLayout {
            prefixes: vec![25],
            item_digits: 5,
            value_digits: 5,
            value: EmbeddedValue::Weight,
            decimals: 0,
            value_check_digit: false,
        };
        assert!(matches!(
            decode("2500012012506", &[kg]),
            Ok(Barcode::WeightEmbedded {
                weight_g: 1_250_000,
                ..
            })
        ));
    }

    #[test]
    fn price_in_jiao_scales_to_fen() {
        // 2305000123451 with decimals 1: value 12345 jiao = ¥1234.5 = 123450 fen.
        let jiao = InStoreLayout {
            prefixes: vec![23],
            item_digits: 5,
            value_digits: 5,
            value: EmbeddedValue::Price,
            decimals: 1,
            value_check_digit: false,
        };
        assert!(matches!(
            decode("2305000123451", &[jiao]),
            Ok(Barcode::PriceEmbedded {
                price_fen: 123_450,
                ..
            })
        ));
    }

    #[test]
    fn in_store_prefix_no_layout_claims_is_plain_ean13() {
        assert_eq!(
            decode("2305000123451", &[]).unwrap(),
            Barcode::Ean13 {
                gtin: "2305000123451".into()
            }
        );
        let only_25 = InStoreLayout {
            prefixes: vec![25],
            ..default_layouts()[1].clone()
        };
        assert_eq!(
            decode("2305000123451", &[only_25]).unwrap(),
            Barcode::Ean13 {
                gtin: "2305000123451".into()
            }
        );
    }

    // --- ordinary GTINs ---

    #[test]
    fn real_ean13_ean8_upca() {
        assert_eq!(
            dflt("6901028075831").unwrap(),
            Barcode::Ean13 {
                gtin: "6901028075831".into()
            }
        );
        assert_eq!(
            dflt("4006381333931").unwrap(),
            Barcode::Ean13 {
                gtin: "4006381333931".into()
            }
        );
        assert_eq!(
            dflt("96385074").unwrap(),
            Barcode::Ean8 {
                gtin: "96385074".into()
            }
        );
        assert_eq!(
            dflt("036000291452").unwrap(),
            Barcode::Upca {
                gtin: "036000291452".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&dflt("6901028075831").unwrap()).unwrap(),
            r#"{"kind":"ean13","gtin":"6901028075831"}"#
        );
        assert_eq!(
            serde_json::to_string(&dflt("96385074").unwrap()).unwrap(),
            r#"{"kind":"ean8","gtin":"96385074"}"#
        );
        assert_eq!(
            serde_json::to_string(&dflt("036000291452").unwrap()).unwrap(),
            r#"{"kind":"upca","gtin":"036000291452"}"#
        );
    }

    // --- errors ---

    #[test]
    fn wrong_check_digit_names_expected_and_found() {
        assert_eq!(
            dflt("6901028075832"),
            Err(BarcodeError::WrongCheckDigit {
                expected: 1,
                found: 2
            })
        );
        // The overall check is tested before any layout: a bad in-store code never yields a price.
        assert_eq!(
            dflt("2305000123450"),
            Err(BarcodeError::WrongCheckDigit {
                expected: 1,
                found: 0
            })
        );
    }

    #[test]
    fn wrong_lengths() {
        assert_eq!(dflt("6901028"), Err(BarcodeError::WrongLength { len: 7 }));
        assert_eq!(
            dflt("03600029145"),
            Err(BarcodeError::WrongLength { len: 11 })
        );
        assert_eq!(
            dflt("69010280758310"),
            Err(BarcodeError::WrongLength { len: 14 })
        );
    }

    #[test]
    fn non_digit_names_position_and_char() {
        assert_eq!(
            dflt("69010280758X1"),
            Err(BarcodeError::NonDigit {
                position: 12,
                ch: 'X'
            })
        );
        // Full-width digits (as typed with a Chinese IME) are not ASCII digits.
        assert_eq!(
            dflt("６901028075831"),
            Err(BarcodeError::NonDigit {
                position: 1,
                ch: '６'
            })
        );
        assert_eq!(
            dflt("6901028075831\r"),
            Err(BarcodeError::NonDigit {
                position: 14,
                ch: '\r'
            })
        );
    }

    #[test]
    fn empty() {
        assert_eq!(dflt(""), Err(BarcodeError::Empty));
    }

    // --- GS1 price check digit ---

    #[test]
    fn gs1_price_check_digit_examples() {
        // 4 digits, factors 2-, 2-, 3, 5- on 2875:
        // 2-(2) = 4, 2-(8) = 16 → 6 − 1 = 5, 3(7) = 21 → 1, 5-(5) = 25 → 5 − 2 = 3
        // sum 4 + 5 + 1 + 3 = 13; 13 × 3 = 39 → check 9.
        assert_eq!(gs1_price_check_digit(&[2, 8, 7, 5]), Ok(9));
        // 5 digits, factors 5+, 2-, 5-, 5+, 2- on 14685:
        // 5+(1) = 5, 2-(4) = 8, 5-(6) = 30 → 0 − 3 = −3 → 7, 5+(8) = 40 → 0 + 4 = 4, 2-(5) = 10 → 0 − 1 → 9
        // sum 5 + 8 + 7 + 4 + 9 = 33; 10 − 3 = 7; the digit whose 5- product is 7 is 6 (30 → 0 − 3 → 7).
        assert_eq!(gs1_price_check_digit(&[1, 4, 6, 8, 5]), Ok(6));
        assert_eq!(
            gs1_price_check_digit(&[1, 2, 3]),
            Err(BarcodeError::PriceCheckDigitLength { len: 3 })
        );
        assert_eq!(
            gs1_price_check_digit(&[1, 2, 30, 4]),
            Err(BarcodeError::DigitOutOfRange {
                position: 3,
                value: 30
            })
        );
    }

    fn five_digit_checked_price() -> InStoreLayout {
        // 2 prefix + 4 item + 1 price check + 5 value + 1 check = 13.
        InStoreLayout {
            prefixes: vec![28],
            item_digits: 4,
            value_digits: 5,
            value: EmbeddedValue::Price,
            decimals: 2,
            value_check_digit: true,
        }
    }

    #[test]
    fn five_digit_price_check_digit_accepts_and_rejects() {
        // Item 0042, price 14685 fen (¥146.85), price check 6 (see gs1_price_check_digit_examples).
        // Body 28 0042 6 14685:
        // 2·1 + 8·3 + 0·1 + 0·3 + 4·1 + 2·3 + 6·1 + 1·3 + 4·1 + 6·3 + 8·1 + 5·3
        // = 2 + 24 + 0 + 0 + 4 + 6 + 6 + 3 + 4 + 18 + 8 + 15 = 90 → check 0.
        assert_eq!(gs1_check_digit(&[2, 8, 0, 0, 4, 2, 6, 1, 4, 6, 8, 5]), 0);
        let layouts = [five_digit_checked_price()];
        assert_eq!(
            decode("2800426146850", &layouts).unwrap(),
            Barcode::PriceEmbedded {
                item_code: "0042".into(),
                price_fen: 14685,
                gtin: "2800426146850".into()
            }
        );
        // Same code with price check 5 instead of 6; overall check redone so only the price check
        // is wrong: the sum drops by 1 (that digit has weight 1) to 89 → check 1.
        assert_eq!(gs1_check_digit(&[2, 8, 0, 0, 4, 2, 5, 1, 4, 6, 8, 5]), 1);
        assert_eq!(
            decode("2800425146851", &layouts),
            Err(BarcodeError::WrongPriceCheckDigit {
                expected: 6,
                found: 5
            })
        );
    }

    #[test]
    fn four_digit_weight_check_digit_accepts_and_rejects() {
        // 2 prefix + 5 item + 1 check + 4 value + 1 check = 13; weight 2875 g, check 9.
        let layout = InStoreLayout {
            prefixes: vec![27],
            item_digits: 5,
            value_digits: 4,
            value: EmbeddedValue::Weight,
            decimals: 3,
            value_check_digit: true,
        };
        // Body 27 00042 9 2875:
        // 2·1 + 7·3 + 0 + 0 + 0 + 4·3 + 2·1 + 9·3 + 2·1 + 8·3 + 7·1 + 5·3
        // = 2 + 21 + 12 + 2 + 27 + 2 + 24 + 7 + 15 = 112 → check 8.
        assert_eq!(gs1_check_digit(&[2, 7, 0, 0, 0, 4, 2, 9, 2, 8, 7, 5]), 8);
        assert!(matches!(
            decode("2700042928758", std::slice::from_ref(&layout)),
            Ok(Barcode::WeightEmbedded { weight_g: 2875, .. })
        ));
        // Price check 0 instead of 9: sum 112 − 27 = 85 → check 5.
        assert_eq!(
            decode("2700042028755", &[layout]),
            Err(BarcodeError::WrongPriceCheckDigit {
                expected: 9,
                found: 0
            })
        );
    }

    // --- layouts ---

    #[test]
    fn default_layouts_are_valid_and_disjoint() {
        for l in default_layouts() {
            assert_eq!(validate_layout(&l), Ok(()));
        }
        assert_eq!(validate_layouts(&default_layouts()), Ok(()));
    }

    #[test]
    fn bad_layouts_are_errors_not_panics() {
        let base = default_layouts()[0].clone();
        let cases = [
            InStoreLayout {
                prefixes: vec![],
                ..base.clone()
            },
            InStoreLayout {
                prefixes: vec![23, 30],
                ..base.clone()
            },
            InStoreLayout {
                item_digits: 0,
                value_digits: 10,
                ..base.clone()
            },
            InStoreLayout {
                item_digits: 6,
                ..base.clone()
            },
            InStoreLayout {
                item_digits: 255,
                value_digits: 255,
                ..base.clone()
            },
            InStoreLayout {
                decimals: 3,
                ..base.clone()
            },
            InStoreLayout {
                value_check_digit: true,
                item_digits: 3,
                value_digits: 6,
                ..base.clone()
            },
            InStoreLayout {
                value: EmbeddedValue::Weight,
                decimals: 4,
                ..base.clone()
            },
        ];
        for l in cases {
            assert!(validate_layout(&l).is_err(), "{l:?}");
        }
        // decode reports the claiming layout's fault.
        let too_fine = InStoreLayout {
            decimals: 3,
            ..base.clone()
        };
        match decode("2305000123451", &[too_fine]) {
            Err(BarcodeError::InvalidLayout(msg)) => assert!(msg.contains("decimals 3"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let six_digit_check = InStoreLayout {
            value_check_digit: true,
            item_digits: 3,
            value_digits: 6,
            ..base.clone()
        };
        match decode("2305000123451", &[six_digit_check]) {
            Err(BarcodeError::InvalidLayout(msg)) => assert!(msg.contains("4 or 5"), "{msg}"),
            other => panic!("{other:?}"),
        }
        // A bad layout for another prefix does not stop ordinary goods from scanning.
        let bad = InStoreLayout {
            decimals: 9,
            ..base.clone()
        };
        assert!(decode("6901028075831", &[bad]).is_ok());
        // Two layouts claiming one prefix.
        let twice = [
            base.clone(),
            InStoreLayout {
                prefixes: vec![24, 25],
                ..base
            },
        ];
        assert!(validate_layouts(&twice).unwrap_err().contains("prefix 24"));
    }

    #[test]
    fn catalog_codes_still_classify() {
        assert_eq!(
            classify_catalog_code("05000"),
            Ok(CatalogCode::Plu("05000".into()))
        );
        assert_eq!(
            classify_catalog_code("6901028075831"),
            Ok(CatalogCode::Gtin("6901028075831".into()))
        );
        assert_eq!(
            classify_catalog_code("123"),
            Err(BarcodeError::NotACatalogCode { len: 3 })
        );
    }

    fn any_layout() -> impl Strategy<Value = InStoreLayout> {
        (
            proptest::collection::vec(any::<u8>(), 0..4),
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
            any::<u8>(),
            any::<bool>(),
        )
            .prop_map(
                |(prefixes, item_digits, value_digits, w, decimals, value_check_digit)| {
                    // Mostly near-valid values, so decoding reaches the value arithmetic often.
                    InStoreLayout {
                        prefixes: prefixes.into_iter().map(|p| 18 + p % 14).collect(),
                        item_digits: item_digits % 13,
                        value_digits: value_digits % 13,
                        value: if w {
                            EmbeddedValue::Weight
                        } else {
                            EmbeddedValue::Price
                        },
                        decimals: decimals % 6,
                        value_check_digit,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_any_string(s in ".*") {
            let _ = dflt(&s);
        }

        #[test]
        fn decode_never_panics_on_digit_strings_and_any_layouts(
            s in "2[0-9]{0,14}",
            layouts in proptest::collection::vec(any_layout(), 0..3),
        ) {
            let _ = decode(&s, &layouts);
            for l in &layouts { let _ = validate_layout(l); }
            let _ = validate_layouts(&layouts);
        }

        #[test]
        fn decode_never_panics_on_valid_in_store_codes_and_any_layouts(
            body in proptest::collection::vec(0u8..10, 10),
            prefix in 20u8..30,
            layouts in proptest::collection::vec(any_layout(), 1..3),
        ) {
            let mut d = vec![prefix / 10, prefix % 10];
            d.extend(body);
            d.push(gs1_check_digit(&d));
            let code: String = d.iter().map(|&x| char::from(b'0' + x)).collect();
            let r = decode(&code, &layouts);
            // A valid layout claiming the prefix never reports a malformed layout.
            if let Some(l) = layouts.iter().find(|l| l.prefixes.contains(&prefix)) {
                if validate_layout(l).is_ok() {
                    prop_assert!(!matches!(r, Err(BarcodeError::InvalidLayout(_))), "{:?}", r);
                }
            }
        }

        #[test]
        fn twelve_digits_plus_check_digit_validate(body in proptest::collection::vec(0u8..10, 12)) {
            let check = gs1_check_digit(&body);
            let code: String = body.iter().chain(std::iter::once(&check))
                .map(|&d| char::from(b'0' + d)).collect();
            prop_assert_eq!(validate_gtin(&code), Ok(()));
            let b = dflt(&code);
            prop_assert!(b.is_ok(), "{:?}", b);
            let b = b.unwrap();
            prop_assert_eq!(b.gtin(), code.as_str());
        }

        #[test]
        fn price_check_digit_catches_every_single_digit_change(
            value in proptest::collection::vec(0u8..10, 4..=5), pos in 0usize..5, delta in 1u8..10,
        ) {
            // GS1 chose the weights so that any one mistyped value digit changes the check digit.
            let pos = pos % value.len();
            let mut changed = value.clone();
            changed[pos] = (changed[pos] + delta) % 10;
            prop_assert_ne!(gs1_price_check_digit(&value), gs1_price_check_digit(&changed));
        }
    }
}
