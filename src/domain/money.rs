//! Money is integer fen (i64), weights integer grams, rates basis points. Formatting and rounding
//! helpers live here so no other module ever touches a float for money.
//!
//! Rounding is "half away from zero" everywhere, so a refund computes exactly the negative of the
//! sale it reverses. Products are taken in i128, which cannot overflow for i64 inputs; results
//! that do not fit back into i64 saturate (documented on each function). Nothing here panics.

/// 1 kg in grams: prices of weighed goods are per kilogram, weights are grams.
const GRAMS_PER_KG: i128 = 1000;
/// 100% in basis points.
const BP_PER_WHOLE: i128 = 10_000;

/// Formats fen as yuan for receipts and screens: `¥1,234.50`, `¥0.05`, `-¥12.00`.
/// Thousands are grouped with commas; the sign goes before `¥`. Works for every i64, including
/// `i64::MIN` (`-¥92,233,720,368,547,758.08`).
pub fn format_yuan(fen: i64) -> String {
    let abs = fen.unsigned_abs();
    let yuan = (abs / 100).to_string();
    let cents = abs % 100;
    let mut grouped = String::with_capacity(yuan.len() + yuan.len() / 3);
    for (i, ch) in yuan.chars().enumerate() {
        if i > 0 && (yuan.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}¥{grouped}.{cents:02}")
}

/// `numerator / denominator` rounded to the nearest integer, ties away from zero:
/// 5/2 → 3, −5/2 → −3, 7/3 → 2, −7/3 → −2. Symmetric, so `f(−n, d) == −f(n, d)`.
///
/// Total function: `denominator == 0` returns 0 (callers divide by constants such as 1000 or
/// 10 000; use [`checked_round_half_up_div`] to detect it), and `i128::MIN / −1` saturates to
/// `i128::MAX`.
pub fn round_half_up_div(numerator: i128, denominator: i128) -> i128 {
    match checked_round_half_up_div(numerator, denominator) {
        Some(q) => q,
        None if denominator == 0 => 0,
        None => i128::MAX,
    }
}

/// Like [`round_half_up_div`] but `None` when `denominator == 0` or the quotient overflows
/// (only `i128::MIN / −1`).
pub fn checked_round_half_up_div(numerator: i128, denominator: i128) -> Option<i128> {
    let q = numerator.checked_div(denominator)?;
    let r = numerator.checked_rem(denominator)?;
    if r == 0 {
        return Some(q);
    }
    // |r| < |d|, so neither |r| nor |d| − |r| overflows in u128; "|r| ≥ |d| − |r|" is "2|r| ≥ |d|".
    let r_abs = r.unsigned_abs();
    let d_abs = denominator.unsigned_abs();
    if r_abs < d_abs - r_abs {
        return Some(q);
    }
    // r ≠ 0 means |d| ≥ 2, so |q| ≤ 2^126 and a step of one cannot overflow.
    if (numerator < 0) != (denominator < 0) {
        q.checked_sub(1)
    } else {
        q.checked_add(1)
    }
}

/// Saturates an i128 amount into i64 fen.
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Price of weighed goods: `grams × price_per_kg_fen / 1000`, rounded half away from zero to the
/// fen. 1 250 g at ¥12.80/kg = 1600 fen; 333 g at 999 fen/kg = 332.667 → 333 fen;
/// 500 g at 1 fen/kg = 0.5 → 1 fen; 1 g at 1 fen/kg = 0.001 → 0 fen.
/// Negative weights or prices (returns, corrections) round symmetrically. The product is exact in
/// i128; a result beyond i64 saturates to `i64::MAX` / `i64::MIN` (unreachable for real goods:
/// it needs more than 9.2 × 10^15 yuan).
pub fn weighed_price_fen(price_per_kg_fen: i64, grams: i64) -> i64 {
    let exact = i128::from(price_per_kg_fen) * i128::from(grams);
    saturate(round_half_up_div(exact, GRAMS_PER_KG))
}

/// `bp` basis points (1 bp = 0.01%) of an amount, rounded half away from zero to the fen:
/// 950 bp (9.5%) of ¥100.00 = 950 fen; 1 bp of 50 fen = 0.005 → 0; 1 bp of ¥50.00 = 0.5 → 1.
/// Used for tax, discounts and commission rates. Exact in i128; a result beyond i64 saturates.
pub fn apply_bp(amount_fen: i64, bp: i64) -> i64 {
    let exact = i128::from(amount_fen) * i128::from(bp);
    saturate(round_half_up_div(exact, BP_PER_WHOLE))
}

/// Why typed yuan text (`12.50`) is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YuanParseError {
    #[error("empty; type an amount in yuan such as 12.50")]
    Empty,
    #[error("{0:?} is not an amount in yuan; type digits with at most one decimal point, such as 12.50")]
    NotANumber(String),
    #[error("{0:?} has more than 2 decimals; yuan have fen (0.01) as their smallest unit")]
    TooManyDecimals(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Reads an amount typed in yuan into exact fen, without floats: `12.50` → 1250, `12.5` →
/// 1250, `12` → 1200, `0.05` → 5, `.5` → 50, `¥1,234.50` → 123 450, `-3.20` → −320. A leading
/// `¥` (or full-width `￥`), spaces around it and thousands commas in the whole part (groups of
/// three) are allowed; a third decimal (`12.345`) is refused, never rounded. Whether a negative
/// or zero amount makes sense is the caller's rule.
pub fn parse_yuan(text: &str) -> Result<i64, YuanParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(YuanParseError::Empty);
    }
    let bad = || YuanParseError::NotANumber(t.to_string());
    let (negative, rest) = match t.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    let rest = rest.strip_prefix('¥').or_else(|| rest.strip_prefix('￥')).unwrap_or(rest).trim_start();
    let (whole, frac) = match rest.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (rest, None),
    };
    let whole_digits: String = if whole.contains(',') {
        let groups: Vec<&str> = whole.split(',').collect();
        let first_ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()));
        if !first_ok || groups.iter().skip(1).any(|g| g.len() != 3) {
            return Err(bad());
        }
        groups.concat()
    } else {
        whole.to_string()
    };
    if !whole_digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let frac = frac.unwrap_or("");
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if whole_digits.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if frac.len() > 2 {
        return Err(YuanParseError::TooManyDecimals(t.to_string()));
    }
    let too_large = || YuanParseError::TooLarge(t.to_string());
    let mut fen: i64 = 0;
    for b in whole_digits.bytes() {
        fen = fen.checked_mul(10).and_then(|f| f.checked_add(i64::from(b - b'0'))).ok_or_else(too_large)?;
    }
    fen = fen.checked_mul(100).ok_or_else(too_large)?;
    let cents = match frac.as_bytes() {
        [] => 0,
        [d] => i64::from(d - b'0') * 10,
        [d, e] => i64::from(d - b'0') * 10 + i64::from(e - b'0'),
        _ => return Err(YuanParseError::TooManyDecimals(t.to_string())),
    };
    fen = fen.checked_add(cents).ok_or_else(too_large)?;
    Ok(if negative { -fen } else { fen })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_yuan_receipt_amounts() {
        assert_eq!(format_yuan(123_450), "¥1,234.50");
        assert_eq!(format_yuan(5), "¥0.05");
        assert_eq!(format_yuan(0), "¥0.00");
        assert_eq!(format_yuan(-1200), "-¥12.00");
        assert_eq!(format_yuan(-5), "-¥0.05");
        assert_eq!(format_yuan(99_999), "¥999.99");
        assert_eq!(format_yuan(100_000), "¥1,000.00");
        assert_eq!(format_yuan(12_345_678_900), "¥123,456,789.00");
    }

    #[test]
    fn format_yuan_extremes_do_not_overflow() {
        assert_eq!(format_yuan(i64::MIN), "-¥92,233,720,368,547,758.08");
        assert_eq!(format_yuan(i64::MAX), "¥92,233,720,368,547,758.07");
    }

    #[test]
    fn round_half_up_div_ties_go_away_from_zero() {
        assert_eq!(round_half_up_div(5, 2), 3); // 2.5 → 3
        assert_eq!(round_half_up_div(-5, 2), -3); // −2.5 → −3
        assert_eq!(round_half_up_div(5, -2), -3);
        assert_eq!(round_half_up_div(-5, -2), 3);
        assert_eq!(round_half_up_div(7, 3), 2); // 2.333 → 2
        assert_eq!(round_half_up_div(8, 3), 3); // 2.667 → 3
        assert_eq!(round_half_up_div(-8, 3), -3);
        assert_eq!(round_half_up_div(499, 1000), 0);
        assert_eq!(round_half_up_div(500, 1000), 1);
        assert_eq!(round_half_up_div(0, 7), 0);
    }

    #[test]
    fn round_half_up_div_edge_cases_are_total() {
        assert_eq!(round_half_up_div(10, 0), 0);
        assert_eq!(checked_round_half_up_div(10, 0), None);
        assert_eq!(round_half_up_div(i128::MIN, -1), i128::MAX);
        assert_eq!(checked_round_half_up_div(i128::MIN, -1), None);
        assert_eq!(round_half_up_div(i128::MIN, 2), i128::MIN / 2);
        assert_eq!(round_half_up_div(i128::MAX, 2), i128::MAX / 2 + 1); // …x.5 rounds up
        assert_eq!(round_half_up_div(i128::MIN + 1, i128::MIN), 1); // just under 1 → 1
        assert_eq!(round_half_up_div(i128::MAX, i128::MIN), -1);
    }

    #[test]
    fn weighed_price_worked_examples() {
        // 1.250 kg of pork at ¥12.80/kg: 1250 × 1280 / 1000 = 1600 fen = ¥16.00.
        assert_eq!(weighed_price_fen(1280, 1250), 1600);
        // 333 g at ¥9.99/kg: 333 × 999 / 1000 = 332.667 → 333 fen.
        assert_eq!(weighed_price_fen(999, 333), 333);
        // 1 g at 1 fen/kg: 0.001 → 0 fen.
        assert_eq!(weighed_price_fen(1, 1), 0);
        // 500 g at 1 fen/kg: 0.5 → 1 fen (half up).
        assert_eq!(weighed_price_fen(1, 500), 1);
        // 499 g at 1 fen/kg: 0.499 → 0 fen.
        assert_eq!(weighed_price_fen(1, 499), 0);
        // Returning the same 333 g refunds exactly −333 fen.
        assert_eq!(weighed_price_fen(999, -333), -333);
        assert_eq!(weighed_price_fen(1, -500), -1);
    }

    #[test]
    fn weighed_price_saturates() {
        assert_eq!(weighed_price_fen(i64::MAX, i64::MAX), i64::MAX);
        assert_eq!(weighed_price_fen(i64::MIN, i64::MAX), i64::MIN);
        assert_eq!(weighed_price_fen(i64::MIN, i64::MIN), i64::MAX);
    }

    #[test]
    fn apply_bp_worked_examples() {
        // 9.5% VAT of ¥100.00 = 950 bp × 10 000 fen / 10 000 = 950 fen.
        assert_eq!(apply_bp(10_000, 950), 950);
        // 1 bp of 50 fen = 0.005 fen → 0.
        assert_eq!(apply_bp(50, 1), 0);
        // 1 bp of ¥50.00 = 0.5 fen → 1 (half up).
        assert_eq!(apply_bp(5_000, 1), 1);
        // 13% of ¥12.34 = 160.42 → 160 fen.
        assert_eq!(apply_bp(1_234, 1_300), 160);
        // 100% is the amount itself; a refund mirrors the sale.
        assert_eq!(apply_bp(1_234, 10_000), 1_234);
        assert_eq!(apply_bp(-5_000, 1), -1);
        assert_eq!(apply_bp(i64::MAX, i64::MAX), i64::MAX);
        assert_eq!(apply_bp(i64::MIN, i64::MAX), i64::MIN);
    }

    #[test]
    fn yuan_typed_by_a_manager_becomes_exact_fen() {
        assert_eq!(parse_yuan("12.50"), Ok(1250));
        assert_eq!(parse_yuan("12.5"), Ok(1250));
        assert_eq!(parse_yuan("12"), Ok(1200));
        assert_eq!(parse_yuan("12."), Ok(1200));
        assert_eq!(parse_yuan("0.05"), Ok(5));
        assert_eq!(parse_yuan(".5"), Ok(50));
        assert_eq!(parse_yuan(" ¥1,234.50 "), Ok(123_450));
        assert_eq!(parse_yuan("￥8"), Ok(800));
        assert_eq!(parse_yuan("-3.20"), Ok(-320));
        assert_eq!(parse_yuan("0"), Ok(0));
        // 0.1 + 0.2 is exactly 30 fen here, never 30.000000000000004.
        assert_eq!(parse_yuan("0.30"), Ok(30));
    }

    #[test]
    fn yuan_text_that_is_not_an_amount_is_refused_with_the_reason() {
        assert_eq!(parse_yuan("12.345"), Err(YuanParseError::TooManyDecimals("12.345".into())));
        assert_eq!(parse_yuan(""), Err(YuanParseError::Empty));
        assert_eq!(parse_yuan("  "), Err(YuanParseError::Empty));
        for bad in ["abc", "1.2.3", "12,5", "1,23,456", ".", "-", "¥", "1e3", "+5", "12 .50", "1_000"] {
            assert!(matches!(parse_yuan(bad), Err(YuanParseError::NotANumber(_))), "{bad:?} was accepted");
        }
        assert!(matches!(parse_yuan("92233720368547758.08"), Err(YuanParseError::TooLarge(_))));
        assert_eq!(parse_yuan("92233720368547758.07"), Ok(i64::MAX));
        assert!(parse_yuan("12.345").unwrap_err().to_string().contains("more than 2 decimals"));
    }

    proptest! {
        #[test]
        fn rounding_is_symmetric_and_within_half(n in -(1i128 << 100)..(1i128 << 100), d in 1i128..1_000_000) {
            let q = round_half_up_div(n, d);
            prop_assert_eq!(round_half_up_div(-n, d), -q);
            prop_assert_eq!(round_half_up_div(n, -d), -q);
            // |q·d − n| ≤ d/2, i.e. 2|q·d − n| ≤ d.
            prop_assert!(2 * (q * d - n).abs() <= d);
        }

        #[test]
        fn money_helpers_never_panic(a in any::<i64>(), b in any::<i64>(), n in any::<i128>(), d in any::<i128>()) {
            let _ = weighed_price_fen(a, b);
            let _ = apply_bp(a, b);
            let _ = format_yuan(a);
            let _ = round_half_up_div(n, d);
        }

        #[test]
        fn parse_yuan_reads_back_what_format_yuan_wrote(fen in any::<i64>(), text in ".{0,24}") {
            let _ = parse_yuan(&text);
            prop_assume!(fen != i64::MIN);
            prop_assert_eq!(parse_yuan(&format_yuan(fen)), Ok(fen));
        }

        #[test]
        fn format_yuan_round_trips_digits(fen in any::<i64>()) {
            let s = format_yuan(fen);
            let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            prop_assert_eq!(digits.trim_start_matches('0').to_string(), fen.unsigned_abs().to_string().trim_start_matches('0').to_string());
            prop_assert_eq!(s.starts_with('-'), fen < 0);
        }
    }
}
