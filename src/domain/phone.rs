//! Mainland China mobile numbers (手机号): the member lookup key typed at the lane or on a
//! member's own phone.
//!
//! Owns turning what was typed (`+86 138-0013-8000`, `0086 13800138000`, …) into the 11 digits the
//! store keys members by, and masking a number for screens and events. It never decides whether
//! the number belongs to anyone and never sends an SMS. Landlines, Hong Kong/Macau/Taiwan and
//! foreign numbers are rejected: membership is keyed by mainland mobiles only.

/// Why a typed phone number is not a mainland China mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing but spaces and dashes was typed.
    #[error("phone number is empty")]
    Empty,
    /// A character other than a digit, space, dash or a leading `+`; `position` counts from 1.
    #[error("phone number contains {ch:?} at position {position}; only digits, spaces, dashes and a leading +86 are allowed")]
    InvalidChar { ch: char, position: usize },
    /// Starts with `+` followed by a country code other than 86.
    #[error("phone number starts with +{code}; only mainland China numbers (+86) are accepted")]
    ForeignCountryCode { code: String },
    /// Not 11 digits once any 86 / 0086 prefix is removed.
    #[error("phone number has {digits} digits, needs 11")]
    WrongLength { digits: usize },
    /// 11 digits, but not a mobile number (mobiles start with 13 to 19).
    #[error("phone number must start with 13–19, starts with {prefix}")]
    NotMobile { prefix: String },
}

/// Number of digits of a mainland mobile number.
const MOBILE_DIGITS: usize = 11;

/// Validates a mainland mobile number and returns its 11 digits.
/// Accepts spaces (also the full-width space of Chinese IMEs), dashes and a `+86`, `86` or `0086`
/// prefix: `"+86 138-0013-8000"` → `"13800138000"`. A bare `86`/`0086` is only taken as a prefix
/// when 11 digits follow it.
pub fn normalize(input: &str) -> Result<String, PhoneError> {
    let mut digits = String::with_capacity(MOBILE_DIGITS);
    let mut plus = false;
    for (i, ch) in input.chars().enumerate() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else if ch == '+' && digits.is_empty() && !plus {
            plus = true;
        } else if !(ch.is_whitespace() || ch == '-') {
            return Err(PhoneError::InvalidChar {
                ch,
                position: i + 1,
            });
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    let national = strip_country_code(&digits, plus).ok_or_else(|| foreign_code(input))?;
    if national.len() != MOBILE_DIGITS {
        return Err(PhoneError::WrongLength {
            digits: national.len(),
        });
    }
    let prefix = national.get(..2).unwrap_or(national);
    let mut p = prefix.bytes();
    if p.next() != Some(b'1') || !matches!(p.next(), Some(b'3'..=b'9')) {
        return Err(PhoneError::NotMobile {
            prefix: prefix.to_string(),
        });
    }
    Ok(national.to_string())
}

/// Removes `+86`, or `86` / `0086` when exactly 11 digits follow; `None` for another `+` code.
fn strip_country_code(digits: &str, plus: bool) -> Option<&str> {
    if plus {
        return digits.strip_prefix("86");
    }
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            if rest.len() == MOBILE_DIGITS {
                return Some(rest);
            }
        }
    }
    Some(digits)
}

/// The country code typed after `+` (the digits up to the first separator, at most 3).
fn foreign_code(input: &str) -> PhoneError {
    let after_plus = input.split_once('+').map_or("", |(_, rest)| rest);
    PhoneError::ForeignCountryCode {
        code: after_plus
            .chars()
            .take_while(char::is_ascii_digit)
            .take(3)
            .collect(),
    }
}

/// Masks a number for screens, receipts and events: `13800138000` → `138****8000`.
/// Anything that does not normalize to a mobile number becomes `****`, so a malformed value is
/// never shown in full.
pub fn mask(phone: &str) -> String {
    match normalize(phone) {
        Ok(n) => match (n.get(..3), n.get(7..)) {
            (Some(head), Some(tail)) => format!("{head}****{tail}"),
            _ => "****".to_string(),
        },
        Err(_) => "****".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_eleven_digits() {
        assert_eq!(normalize("13800138000"), Ok("13800138000".into()));
        assert_eq!(normalize("19912345678"), Ok("19912345678".into()));
    }

    #[test]
    fn plus_86_prefix_spaces_and_dashes_are_stripped() {
        assert_eq!(normalize("+86 138-0013-8000"), Ok("13800138000".into()));
        assert_eq!(normalize("+8613800138000"), Ok("13800138000".into()));
        assert_eq!(normalize("86 13800138000"), Ok("13800138000".into()));
        assert_eq!(normalize("0086-138 0013 8000"), Ok("13800138000".into()));
        // The full-width space a Chinese IME types.
        assert_eq!(
            normalize("138\u{3000}0013\u{3000}8000"),
            Ok("13800138000".into())
        );
        assert_eq!(normalize("  13800138000 \n"), Ok("13800138000".into()));
    }

    #[test]
    fn too_short_says_how_many_digits() {
        assert_eq!(
            normalize("1380013800"),
            Err(PhoneError::WrongLength { digits: 10 })
        );
        assert_eq!(
            normalize("1380013800").unwrap_err().to_string(),
            "phone number has 10 digits, needs 11"
        );
        // 12 digits that happen to start with 86 are not "86 + a 10-digit number".
        assert_eq!(
            normalize("861380013800"),
            Err(PhoneError::WrongLength { digits: 12 })
        );
        // +86 followed by only 10 digits.
        assert_eq!(
            normalize("+86 1380013800"),
            Err(PhoneError::WrongLength { digits: 10 })
        );
    }

    #[test]
    fn bad_prefix_is_not_a_mobile() {
        // 12x is not a mobile range; a Beijing landline with area code 010 neither.
        assert_eq!(
            normalize("12800138000"),
            Err(PhoneError::NotMobile {
                prefix: "12".into()
            })
        );
        assert_eq!(
            normalize("01062345678").unwrap_err().to_string(),
            "phone number must start with 13–19, starts with 01"
        );
    }

    #[test]
    fn letters_are_named_with_their_position() {
        assert_eq!(
            normalize("138x0013800"),
            Err(PhoneError::InvalidChar {
                ch: 'x',
                position: 4
            })
        );
        assert!(normalize("138x0013800")
            .unwrap_err()
            .to_string()
            .contains("contains 'x'"));
        // A + anywhere but the start, and full-width digits, are not accepted.
        assert_eq!(
            normalize("138+00138000"),
            Err(PhoneError::InvalidChar {
                ch: '+',
                position: 4
            })
        );
        assert_eq!(
            normalize("１3800138000"),
            Err(PhoneError::InvalidChar {
                ch: '１',
                position: 1
            })
        );
    }

    #[test]
    fn hong_kong_and_us_numbers_are_foreign() {
        assert_eq!(
            normalize("+852 9123 4567"),
            Err(PhoneError::ForeignCountryCode { code: "852".into() })
        );
        assert_eq!(
            normalize("+1 415 555 0100").unwrap_err().to_string(),
            "phone number starts with +1; only mainland China numbers (+86) are accepted"
        );
    }

    #[test]
    fn empty_input() {
        assert_eq!(normalize(""), Err(PhoneError::Empty));
        assert_eq!(normalize(" - "), Err(PhoneError::Empty));
        assert_eq!(normalize("+"), Err(PhoneError::Empty));
    }

    #[test]
    fn mask_keeps_first_three_and_last_four() {
        assert_eq!(mask("13812345678"), "138****5678");
        assert_eq!(mask("+86 138-1234-5678"), "138****5678");
        assert_eq!(mask("12345"), "****");
        assert_eq!(mask(""), "****");
    }

    proptest! {
        #[test]
        fn every_valid_mobile_round_trips_with_any_prefix(
            second in 3u8..=9, rest in "[0-9]{9}", prefix in prop::sample::select(vec!["", "+86", "86", "0086", "+86 ", "0086-"]),
        ) {
            let n = format!("1{second}{rest}");
            prop_assert_eq!(normalize(&format!("{prefix}{n}")), Ok(n.clone()));
            let m = mask(&n);
            prop_assert_eq!(m.len(), 11);
            prop_assert!(m.starts_with(&n[..3]) && m.ends_with(&n[7..]));
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = normalize(&s);
            let _ = mask(&s);
        }
    }
}
