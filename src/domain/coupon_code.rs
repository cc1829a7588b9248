//! Printable coupon codes: the 13 digits a cashier scans from a receipt or phone, or types in.
//! Owns turning a coupon id into its code and a scanned or typed code back into the id, with a
//! GS1 mod-10 check digit so a mistyped digit is caught here and never finds another coupon.
//! It never looks a coupon up (that is `coupons`) and never panics on any input.
//!
//! Layout: `99` + the coupon id zero-padded to 10 digits + the GS1 check digit = 13 digits, an
//! EAN-13 any scanner and label printer handles. GS1 keeps prefix 99 for coupons, so a coupon
//! never reads as a product's EAN; a `9` + 11-digit layout would start small ids with `900`–`919`,
//! which are real product prefixes (GS1 Austria). Ten digits hold ids up to 9 999 999 999.
//!
//! The check digit catches every single wrong digit and every swap of two neighbouring digits
//! except those differing by 5 (`0`↔`5`, `1`↔`6` …), the known blind spot of GS1 mod-10.

use super::barcode::gs1_check_digit;

/// The two digits every coupon code starts with (GS1: coupon identification).
pub const COUPON_PREFIX: &str = "99";
/// Digits of a coupon code.
pub const COUPON_CODE_LEN: usize = 13;
/// Digits of the id inside a code.
const ID_DIGITS: usize = 10;
/// Largest coupon id a code can carry.
pub const MAX_COUPON_ID: u64 = 9_999_999_999;

/// Why a string is not a coupon code. Each variant says what the cashier should look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponCodeError {
    /// Nothing was scanned or typed.
    #[error("empty coupon code")]
    Empty,
    /// A character that is not a digit (spaces and hyphens between digit groups are allowed).
    #[error("character {ch:?} at position {position} is not a digit")]
    NonDigit { position: usize, ch: char },
    /// All digits, but not 13 of them.
    #[error("{len} digits; a coupon code has 13")]
    WrongLength { len: usize },
    /// Thirteen digits that do not start with 99: a product barcode, not a coupon.
    #[error("starts with {found}, not 99: this is not a coupon code (a product barcode?)")]
    WrongPrefix { found: String },
    /// The last digit does not match the others: a digit was mistyped or misread.
    #[error("wrong check digit {found}; expected {expected}: a digit is mistyped, check it against the coupon")]
    WrongCheckDigit { expected: u8, found: u8 },
    /// An id too large for the 10 digits of a code (never handed out).
    #[error("coupon id {id} does not fit in a coupon code (at most {MAX_COUPON_ID})")]
    IdTooLarge { id: u64 },
}

/// The printable code of coupon `id`: `99`, the id in 10 digits, the GS1 check digit.
/// `coupon_code(12)` is `"9900000000127"`.
pub fn coupon_code(id: u64) -> Result<String, CouponCodeError> {
    if id > MAX_COUPON_ID {
        return Err(CouponCodeError::IdTooLarge { id });
    }
    let body = format!("{COUPON_PREFIX}{id:0width$}", width = ID_DIGITS);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    Ok(format!("{body}{}", gs1_check_digit(&digits)))
}

/// The coupon id in a scanned or typed code. Surrounding whitespace, and spaces or hyphens
/// between digit groups (`99 0000000012 7`, as printed), are ignored; everything else must be
/// right: 13 digits, prefix 99, check digit.
pub fn parse_coupon_code(code: &str) -> Result<u64, CouponCodeError> {
    let trimmed = code.trim();
    if trimmed.is_empty() {
        return Err(CouponCodeError::Empty);
    }
    let mut digits = Vec::with_capacity(COUPON_CODE_LEN);
    for (i, ch) in trimmed.chars().enumerate() {
        match ch {
            '0'..='9' => digits.push(ch as u8 - b'0'),
            ' ' | '-' => {}
            _ => return Err(CouponCodeError::NonDigit { position: i + 1, ch }),
        }
    }
    if digits.len() != COUPON_CODE_LEN {
        return Err(CouponCodeError::WrongLength { len: digits.len() });
    }
    if digits[..2] != [9, 9] {
        return Err(CouponCodeError::WrongPrefix { found: format!("{}{}", digits[0], digits[1]) });
    }
    let (body, found) = (&digits[..COUPON_CODE_LEN - 1], digits[COUPON_CODE_LEN - 1]);
    let expected = gs1_check_digit(body);
    if found != expected {
        return Err(CouponCodeError::WrongCheckDigit { expected, found });
    }
    Ok(body[2..].iter().fold(0u64, |id, &d| id * 10 + u64::from(d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn coupon_12_prints_as_9900000000127() {
        // 9 9 0 0 0 0 0 0 0 0 1 2, weights from the right 3,1,3,…: 2·3 + 1·1 + 9·1 + 9·3 = 43 → 7.
        assert_eq!(coupon_code(12).unwrap(), "9900000000127");
        assert_eq!(parse_coupon_code("9900000000127"), Ok(12));
        assert_eq!(parse_coupon_code(" 99 0000000012 7 "), Ok(12));
        assert_eq!(parse_coupon_code("99-0000000012-7"), Ok(12));
    }

    #[test]
    fn the_largest_id_fits_and_the_next_does_not() {
        let code = coupon_code(MAX_COUPON_ID).unwrap();
        assert_eq!(code.len(), 13);
        assert!(code.starts_with("999999999999"));
        assert_eq!(parse_coupon_code(&code), Ok(MAX_COUPON_ID));
        assert_eq!(coupon_code(MAX_COUPON_ID + 1), Err(CouponCodeError::IdTooLarge { id: 10_000_000_000 }));
    }

    #[test]
    fn each_fault_is_named() {
        assert_eq!(parse_coupon_code("  "), Err(CouponCodeError::Empty));
        assert_eq!(parse_coupon_code("99000000001x7"), Err(CouponCodeError::NonDigit { position: 12, ch: 'x' }));
        assert_eq!(parse_coupon_code("990000000012"), Err(CouponCodeError::WrongLength { len: 12 }));
        // A real product EAN-13 (Coca-Cola China): right length and check digit, wrong prefix.
        assert_eq!(parse_coupon_code("6901028075831"), Err(CouponCodeError::WrongPrefix { found: "69".into() }));
        assert_eq!(parse_coupon_code("9900000000128"), Err(CouponCodeError::WrongCheckDigit { expected: 7, found: 8 }));
        let msg = parse_coupon_code("9900000000128").unwrap_err().to_string();
        assert!(msg.contains("wrong check digit 8; expected 7"), "{msg}");
    }

    #[test]
    fn a_mistyped_digit_of_coupon_12_is_refused_not_read_as_coupon_13_or_22() {
        // Typing 13 or 22 instead of 12 without fixing the check digit.
        assert!(matches!(parse_coupon_code("9900000000137"), Err(CouponCodeError::WrongCheckDigit { .. })));
        assert!(matches!(parse_coupon_code("9900000000227"), Err(CouponCodeError::WrongCheckDigit { .. })));
        // Swapping the neighbours 1 and 2.
        assert!(matches!(parse_coupon_code("9900000000217"), Err(CouponCodeError::WrongCheckDigit { .. })));
    }

    proptest! {
        #[test]
        fn every_code_round_trips(id in 0u64..=MAX_COUPON_ID) {
            let code = coupon_code(id).unwrap();
            prop_assert_eq!(code.len(), 13);
            prop_assert_eq!(parse_coupon_code(&code), Ok(id));
        }

        #[test]
        fn any_single_wrong_digit_is_caught(id in 0u64..=MAX_COUPON_ID, pos in 0usize..13, add in 1u8..10) {
            let mut digits: Vec<u8> = coupon_code(id).unwrap().bytes().map(|b| b - b'0').collect();
            digits[pos] = (digits[pos] + add) % 10;
            let typed: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            prop_assert!(parse_coupon_code(&typed).is_err(), "{} read as a coupon", typed);
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse_coupon_code(&s);
        }
    }
}
