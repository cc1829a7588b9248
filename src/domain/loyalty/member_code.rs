//! Member card numbers and member QR payloads: the two ways a member id reaches the lane.
//!
//! Owns encoding a member id as a 12-digit card number (`8` + 10-digit id + Luhn check digit) or
//! a QR payload (`SHM1:<id>:<check>`), and parsing either back to the id. The check digit means a
//! mistyped card (any one wrong digit, or two neighbouring digits swapped, except 0↔9) is rejected
//! instead of finding another member. It never looks a member up; the store keys members by
//! `card/<number>`.

/// Largest member id a card number can carry (10 digits). Referral codes use the same range.
pub const MAX_MEMBER_ID: u64 = 9_999_999_999;

/// First digit of every card number, so a card is not mistaken for a phone number (which starts
/// with 1) and is easy to tell from a product code by eye.
const CARD_PREFIX: u8 = 8;
/// Digits of a card number: prefix, 10 id digits, check digit.
const CARD_DIGITS: usize = 12;
/// Scheme and version at the start of a member QR payload.
const QR_SCHEME: &str = "SHM";
const QR_VERSION: &str = "1";

/// Why a scanned or typed member code is not a member's card or QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberCodeError {
    /// Nothing was scanned or typed.
    #[error("member code is empty")]
    Empty,
    /// A card number contains something other than digits, spaces and dashes; `position` from 1.
    #[error("card number contains {ch:?} at position {position}; a card number is 12 digits")]
    NonDigit { position: usize, ch: char },
    /// A card number without 12 digits.
    #[error("card number has {len} digits, needs 12")]
    WrongLength { len: usize },
    /// A 12-digit number that does not start with 8.
    #[error("card number starts with {found}; member cards start with 8")]
    WrongPrefix { found: char },
    /// The Luhn check digit does not match: a mistyped or misread code.
    #[error("wrong check digit {found}; expected {expected} (mistyped or misread code)")]
    WrongCheckDigit { expected: u8, found: u8 },
    /// A member QR code of a version this hub does not know.
    #[error("member QR code version {version:?} is not supported; this hub reads SHM1")]
    UnsupportedQrVersion { version: String },
    /// Starts like a member QR code but is not `SHM1:<member id>:<check digit>`.
    #[error("member QR code {payload:?} is not SHM1:<member id>:<check digit>")]
    MalformedQr { payload: String },
    /// A member id above [`MAX_MEMBER_ID`] cannot be put on a card.
    #[error("member id {id} is above {MAX_MEMBER_ID}, the largest a card number can carry")]
    IdOutOfRange { id: u64 },
}

/// Luhn check digit of `body` (the check digit will be appended on the right): from the right,
/// every other digit starting with the rightmost is doubled (minus 9 if above 9), and the check
/// makes the sum a multiple of 10.
pub fn luhn_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body.iter().rev().enumerate().fold(0, |acc, (i, &d)| {
        let d = u32::from(d % 10);
        let v = if i % 2 == 0 { d * 2 } else { d };
        (acc + if v > 9 { v - 9 } else { v }) % 10
    });
    ((10 - sum) % 10) as u8
}

/// The 11 digits before the check digit: prefix and zero-padded id.
fn card_body(member_id: u64) -> Result<Vec<u8>, MemberCodeError> {
    if member_id > MAX_MEMBER_ID {
        return Err(MemberCodeError::IdOutOfRange { id: member_id });
    }
    let mut body = vec![CARD_PREFIX];
    body.extend(format!("{member_id:010}").bytes().map(|b| b - b'0'));
    Ok(body)
}

/// Card number of a member: `8` + id zero-padded to 10 digits + Luhn check digit.
/// Member 42 → `800000000426`.
pub fn card_number(member_id: u64) -> Result<String, MemberCodeError> {
    let mut body = card_body(member_id)?;
    body.push(luhn_check_digit(&body));
    Ok(body.iter().map(|&d| char::from(b'0' + d)).collect())
}

/// QR payload of a member's code: `SHM1:<id>:<check>`, the check digit being the card number's.
/// Member 42 → `SHM1:42:6`.
pub fn qr_payload(member_id: u64) -> Result<String, MemberCodeError> {
    let check = luhn_check_digit(&card_body(member_id)?);
    Ok(format!("{QR_SCHEME}{QR_VERSION}:{member_id}:{check}"))
}

/// Member id from a scanned or typed code: a card number (spaces and dashes allowed, e.g.
/// `8000 0000 0426`) or a QR payload (`SHM1:42:6`, scheme case-insensitive).
pub fn parse_member_code(input: &str) -> Result<u64, MemberCodeError> {
    let code = input.trim();
    if code.is_empty() {
        return Err(MemberCodeError::Empty);
    }
    let is_qr = code
        .get(..QR_SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(QR_SCHEME));
    if is_qr {
        parse_qr(code)
    } else {
        parse_card(input)
    }
}

/// Card-number branch of [`parse_member_code`].
fn parse_card(input: &str) -> Result<u64, MemberCodeError> {
    let mut digits = Vec::with_capacity(CARD_DIGITS);
    for (i, ch) in input.chars().enumerate() {
        match ch {
            '0'..='9' => digits.push(ch as u8 - b'0'),
            '-' => {}
            c if c.is_whitespace() => {}
            _ => {
                return Err(MemberCodeError::NonDigit {
                    position: i + 1,
                    ch,
                })
            }
        }
    }
    if digits.len() != CARD_DIGITS {
        return Err(MemberCodeError::WrongLength { len: digits.len() });
    }
    let Some((&found, body)) = digits.split_last() else {
        return Err(MemberCodeError::Empty);
    };
    if body.first() != Some(&CARD_PREFIX) {
        let first = body.first().map_or('?', |&d| char::from(b'0' + d));
        return Err(MemberCodeError::WrongPrefix { found: first });
    }
    let expected = luhn_check_digit(body);
    if found != expected {
        return Err(MemberCodeError::WrongCheckDigit { expected, found });
    }
    Ok(body
        .iter()
        .skip(1)
        .fold(0u64, |id, &d| id * 10 + u64::from(d)))
}

/// QR branch of [`parse_member_code`]; `code` starts with the scheme.
fn parse_qr(code: &str) -> Result<u64, MemberCodeError> {
    let malformed = || MemberCodeError::MalformedQr {
        payload: code.chars().take(40).collect(),
    };
    let mut parts = code.split(':');
    let head = parts.next().unwrap_or_default();
    let version = head.get(QR_SCHEME.len()..).unwrap_or_default();
    if version != QR_VERSION {
        return Err(MemberCodeError::UnsupportedQrVersion {
            version: version.chars().take(10).collect(),
        });
    }
    let (Some(id), Some(check), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(id) || id.len() > 10 || check.len() != 1 || !all_digits(check) {
        return Err(malformed());
    }
    let id: u64 = id.parse().map_err(|_| malformed())?;
    let found = check.as_bytes().first().map_or(10, |b| b - b'0');
    let expected = luhn_check_digit(&card_body(id)?);
    if found != expected {
        return Err(MemberCodeError::WrongCheckDigit { expected, found });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn member_42_card_and_qr() {
        // Body 8 0000000042. Luhn from the right: 2 doubled = 4, 4 as is, zeros, and the 8
        // (11th from the right, doubled) = 16 → 1 + 6 = 7. Sum 4 + 4 + 7 = 15 → check 5.
        assert_eq!(card_number(42), Ok("800000000425".into()));
        assert_eq!(qr_payload(42), Ok("SHM1:42:5".into()));
        assert_eq!(parse_member_code("800000000425"), Ok(42));
        assert_eq!(parse_member_code("8000 0000 0425"), Ok(42));
        assert_eq!(parse_member_code("8000-0000-0425\r\n"), Ok(42));
        assert_eq!(parse_member_code("SHM1:42:5"), Ok(42));
        assert_eq!(parse_member_code("shm1:42:5"), Ok(42));
    }

    #[test]
    fn luhn_worked_example() {
        // The textbook Luhn example: 7992739871 → check 3.
        assert_eq!(luhn_check_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
    }

    #[test]
    fn one_mistyped_digit_is_rejected_not_another_member() {
        // Member 42's card is 800000000425. Typing 3 for the 2 reads as member 43, whose check
        // digit is 3 (3 doubled = 6, 4, 8 doubled → 7: sum 17 → 3), not 5: rejected.
        assert_eq!(
            parse_member_code("800000000435"),
            Err(MemberCodeError::WrongCheckDigit {
                expected: 3,
                found: 5
            })
        );
        assert_eq!(
            parse_member_code("SHM1:43:5"),
            Err(MemberCodeError::WrongCheckDigit {
                expected: 3,
                found: 5
            })
        );
        // Swapping neighbouring digits 4 and 2 is caught too.
        assert!(parse_member_code("800000000245").is_err());
    }

    #[test]
    fn too_short_card() {
        assert_eq!(
            parse_member_code("80000000042"),
            Err(MemberCodeError::WrongLength { len: 11 })
        );
        assert_eq!(
            parse_member_code("80000000042").unwrap_err().to_string(),
            "card number has 11 digits, needs 12"
        );
    }

    #[test]
    fn phone_number_typed_into_the_card_field() {
        assert_eq!(
            parse_member_code("138001380001"),
            Err(MemberCodeError::WrongPrefix { found: '1' })
        );
    }

    #[test]
    fn letters_in_a_card_number() {
        assert_eq!(
            parse_member_code("8000O0000425"),
            Err(MemberCodeError::NonDigit {
                position: 5,
                ch: 'O'
            })
        );
        assert_eq!(parse_member_code("   "), Err(MemberCodeError::Empty));
    }

    #[test]
    fn bad_qr_payloads() {
        assert_eq!(
            parse_member_code("SHM2:42:5"),
            Err(MemberCodeError::UnsupportedQrVersion {
                version: "2".into()
            })
        );
        for bad in [
            "SHM1:42",
            "SHM1:42:5:7",
            "SHM1::5",
            "SHM1:+42:5",
            "SHM1:42:55",
            "SHM1:12345678901:0",
            "SHM1:4x:5",
        ] {
            assert_eq!(
                parse_member_code(bad),
                Err(MemberCodeError::MalformedQr {
                    payload: bad.into()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn ids_beyond_ten_digits_have_no_card() {
        // Ten 9s contribute 9 each (doubled 18 → 9), the 8 doubled → 7: 97 → check 3.
        assert_eq!(card_number(MAX_MEMBER_ID), Ok("899999999993".into()));
        assert_eq!(
            card_number(MAX_MEMBER_ID + 1),
            Err(MemberCodeError::IdOutOfRange { id: 10_000_000_000 })
        );
        assert_eq!(
            qr_payload(u64::MAX),
            Err(MemberCodeError::IdOutOfRange { id: u64::MAX })
        );
    }

    proptest! {
        #[test]
        fn both_forms_round_trip(id in 0..=MAX_MEMBER_ID) {
            let card = card_number(id).unwrap();
            prop_assert_eq!(card.len(), 12);
            prop_assert_eq!(parse_member_code(&card), Ok(id));
            prop_assert_eq!(parse_member_code(&qr_payload(id).unwrap()), Ok(id));
        }

        #[test]
        fn any_single_digit_change_is_caught(id in 0..=MAX_MEMBER_ID, pos in 1usize..12, delta in 1u8..10) {
            let mut d: Vec<u8> = card_number(id).unwrap().bytes().collect();
            d[pos] = b'0' + (d[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(d).unwrap();
            prop_assert!(parse_member_code(&typo).is_err(), "{}", typo);
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = parse_member_code(&s);
        }
    }
}
