//! Decimal weight text and scale units → integer grams, without floats.
//!
//! A scale sends a decimal string (`01.250`, `+  1.500`, `-0.0082`) in some unit. We parse it to
//! an integer mantissa and a power of ten, multiply by the unit's exact size in grams as a
//! fraction (1 lb = 45359237/100000 g, 1 oz = 28349523125/1000000000 g, both exact by the 1959
//! international definition), and round once, half away from zero, to whole grams. Kilograms
//! with up to 3 decimals and grams without decimals are exact; anything finer (a 0.01 g lab
//! balance, pounds, ounces) is rounded by that one rule. Text that is not a plain decimal, has
//! more than [`MAX_DIGITS`] digits or weighs more than [`MAX_GRAMS`] is rejected.

use super::ScaleError;

/// Digits a weight may have (integer and decimal together).
pub const MAX_DIGITS: usize = 15;
/// Decimals a weight may have.
pub const MAX_DECIMALS: u32 = 9;
/// The heaviest reading accepted, in grams (100 t): anything beyond is a misread.
pub const MAX_GRAMS: i64 = 100_000_000;

/// A unit a scale may weigh in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightUnit {
    Milligram,
    Gram,
    Kilogram,
    Ounce,
    Pound,
}

impl WeightUnit {
    /// Parses the unit text scales send (`g`, `kg`, `KG`, `lb`, `LB`, `lbs`, `oz`, `mg`),
    /// ignoring case and surrounding spaces.
    pub fn parse(text: &str) -> Result<WeightUnit, ScaleError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mg" => Ok(WeightUnit::Milligram),
            "g" => Ok(WeightUnit::Gram),
            "kg" => Ok(WeightUnit::Kilogram),
            "oz" => Ok(WeightUnit::Ounce),
            "lb" | "lbs" => Ok(WeightUnit::Pound),
            _ => Err(ScaleError::UnknownUnit { unit: text.trim().to_string() }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WeightUnit::Milligram => "mg",
            WeightUnit::Gram => "g",
            WeightUnit::Kilogram => "kg",
            WeightUnit::Ounce => "oz",
            WeightUnit::Pound => "lb",
        }
    }

    /// The unit's size in grams as an exact fraction (numerator, denominator).
    fn grams_fraction(self) -> (i128, i128) {
        match self {
            WeightUnit::Milligram => (1, 1000),
            WeightUnit::Gram => (1, 1),
            WeightUnit::Kilogram => (1000, 1),
            WeightUnit::Ounce => (28_349_523_125, 1_000_000_000),
            WeightUnit::Pound => (45_359_237, 100_000),
        }
    }
}

/// A decimal number as `mantissa × 10^-decimals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: i128,
    pub decimals: u32,
}

/// Parses a scale's weight text: optional spaces, an optional sign (`+`/`-`, spaces may follow
/// it, as in CAS `+  1.500`), digits with at most one decimal point, optional trailing spaces.
pub fn parse_decimal(text: &str) -> Result<Decimal, ScaleError> {
    let bad = |why: &str| ScaleError::BadWeight { text: text.to_string(), why: why.to_string() };
    let mut rest = text.trim();
    let mut negative = false;
    if let Some(r) = rest.strip_prefix('-') {
        negative = true;
        rest = r.trim_start();
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r.trim_start();
    }
    if rest.is_empty() {
        return Err(bad("no digits"));
    }
    let mut mantissa: i128 = 0;
    let mut digits = 0usize;
    let mut decimals: Option<u32> = None;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                digits += 1;
                if digits > MAX_DIGITS {
                    return Err(bad(&format!("more than {MAX_DIGITS} digits")));
                }
                mantissa = mantissa * 10 + i128::from(c as u8 - b'0');
                if let Some(d) = decimals.as_mut() {
                    *d += 1;
                }
            }
            '.' if decimals.is_none() => decimals = Some(0),
            '.' => return Err(bad("two decimal points")),
            _ => return Err(bad(&format!("unexpected character {c:?}; expected digits and one decimal point"))),
        }
    }
    if digits == 0 {
        return Err(bad("no digits"));
    }
    let decimals = decimals.unwrap_or(0);
    if decimals > MAX_DECIMALS {
        return Err(bad(&format!("more than {MAX_DECIMALS} decimals")));
    }
    Ok(Decimal { mantissa: if negative { -mantissa } else { mantissa }, decimals })
}

/// `value × 10^exponent` of `unit`, in whole grams (rounded half away from zero).
pub fn to_grams(mantissa: i128, exponent: i32, unit: WeightUnit) -> Result<i64, ScaleError> {
    let too_big = || ScaleError::BadWeight {
        text: format!("{mantissa}e{exponent} {}", unit.as_str()),
        why: format!("heavier than {} t; not a real reading", MAX_GRAMS / 1_000_000),
    };
    if !(-(MAX_DECIMALS as i32)..=9).contains(&exponent) {
        return Err(ScaleError::BadWeight {
            text: format!("{mantissa}e{exponent} {}", unit.as_str()),
            why: format!("the power of ten {exponent} is out of range; expected -{MAX_DECIMALS}..=9"),
        });
    }
    let (num, den) = unit.grams_fraction();
    let ten = |e: i32| 10i128.pow(e.unsigned_abs());
    let (num, den) = if exponent >= 0 { (num * ten(exponent), den) } else { (num, den * ten(exponent)) };
    let scaled = mantissa.checked_mul(num).ok_or_else(too_big)?;
    let grams = div_round_half_away(scaled, den);
    if grams.abs() > i128::from(MAX_GRAMS) {
        return Err(too_big());
    }
    Ok(grams as i64)
}

/// Parses weight text in `unit` to whole grams.
pub fn text_to_grams(text: &str, unit: WeightUnit) -> Result<i64, ScaleError> {
    let d = parse_decimal(text)?;
    to_grams(d.mantissa, -(d.decimals as i32), unit).map_err(|e| match e {
        ScaleError::BadWeight { why, .. } => ScaleError::BadWeight { text: format!("{} {}", text.trim(), unit.as_str()), why },
        other => other,
    })
}

fn div_round_half_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if 2 * r.abs() >= d {
        q + n.signum()
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kilograms_with_three_decimals_are_exact() {
        assert_eq!(text_to_grams("01.250", WeightUnit::Kilogram).unwrap(), 1250);
        assert_eq!(text_to_grams("+  1.500", WeightUnit::Kilogram).unwrap(), 1500);
        assert_eq!(text_to_grams("000013.5", WeightUnit::Kilogram).unwrap(), 13_500);
        assert_eq!(text_to_grams("-0.005", WeightUnit::Kilogram).unwrap(), -5);
        assert_eq!(text_to_grams("  100.00", WeightUnit::Gram).unwrap(), 100);
        assert_eq!(text_to_grams("7", WeightUnit::Gram).unwrap(), 7);
    }

    #[test]
    fn finer_than_a_gram_rounds_half_away_from_zero() {
        // A 0.01 g balance: 100.49 g → 100 g, 100.50 g → 101 g, -0.5 g → -1 g.
        assert_eq!(text_to_grams("100.49", WeightUnit::Gram).unwrap(), 100);
        assert_eq!(text_to_grams("100.50", WeightUnit::Gram).unwrap(), 101);
        assert_eq!(text_to_grams("-0.5", WeightUnit::Gram).unwrap(), -1);
        assert_eq!(text_to_grams("1.2345", WeightUnit::Kilogram).unwrap(), 1235);
    }

    #[test]
    fn pounds_and_ounces_use_the_exact_international_definitions() {
        // 1 lb = 453.59237 g → 454 g; 2.20 lb = 997.903214 g → 998 g.
        assert_eq!(text_to_grams("1", WeightUnit::Pound).unwrap(), 454);
        assert_eq!(text_to_grams("2.20", WeightUnit::Pound).unwrap(), 998);
        // 30.0 oz = 850.48569375 g → 850 g; 1 oz = 28.349523125 g → 28 g.
        assert_eq!(to_grams(300, -1, WeightUnit::Ounce).unwrap(), 850);
        assert_eq!(to_grams(1, 0, WeightUnit::Ounce).unwrap(), 28);
        // 1000 × 10^0 g, 1 × 10^3 g, 125 × 10^-3 kg.
        assert_eq!(to_grams(1000, 0, WeightUnit::Gram).unwrap(), 1000);
        assert_eq!(to_grams(1, 3, WeightUnit::Gram).unwrap(), 1000);
        assert_eq!(to_grams(125, -3, WeightUnit::Kilogram).unwrap(), 125);
    }

    #[test]
    fn bad_text_is_rejected_with_the_reason() {
        for (text, why) in [
            ("", "no digits"),
            ("-", "no digits"),
            ("1.2.3", "two decimal points"),
            ("12a", "unexpected character 'a'"),
            ("1 2", "unexpected character ' '"),
            ("1234567890123456", "more than 15 digits"),
            ("0.0000000001", "more than 9 decimals"),
        ] {
            let e = parse_decimal(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        let e = text_to_grams("999999999", WeightUnit::Kilogram).unwrap_err().to_string();
        assert!(e.contains("heavier than 100 t"), "{e}");
        assert!(WeightUnit::parse("斤").unwrap_err().to_string().contains("\"斤\""));
        assert_eq!(WeightUnit::parse(" KG").unwrap(), WeightUnit::Kilogram);
        assert_eq!(WeightUnit::parse("lbs").unwrap(), WeightUnit::Pound);
    }
}
