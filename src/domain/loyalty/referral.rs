//! Member referrals (推荐有礼): the code a member shares, and the points a referral pays out —
//! each reward exactly once.
//!
//! Owns the referral code format and the reward arithmetic. "Exactly once" is state the caller
//! stores with the referee ([`ReferralState`]); the transitions here return what to award and the
//! new state, and a repeated call awards nothing. It never looks a code up (the store keys
//! members by `ref/<code>`).
//!
//! **Code format.** 8 characters from `23456789ABCDEFGHJKLMNPQRSTUVWXYZ` (no 0/O/1/I): 7 carry the
//! member id (35 bits, shuffled by a fixed bijection so neighbouring members get unrelated
//! codes), the 8th is a Luhn mod 32 check character that catches any one wrong character and most
//! swaps of neighbours. Parsing ignores case, spaces and dashes.

use serde::{Deserialize, Serialize};

use super::member_code::MAX_MEMBER_ID;
use super::{mul_div_floor, BP_ONE};

/// The 32 characters of a referral code, in value order.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters carrying the id (5 bits each).
const DATA_CHARS: usize = 7;
/// Bits carried by the data characters.
const BITS: u32 = 35;
const MASK: u64 = (1 << BITS) - 1;
/// Odd multipliers of the id shuffle, and their inverses mod 2^35.
const K1: u64 = 0x5_DEEC_E66D;
const K2: u64 = 0x2_9E37_79B9;
const K1_INV: u64 = inverse(K1);
const K2_INV: u64 = inverse(K2);
/// Shift of the shuffle's xorshift step.
const SHIFT: u32 = 17;

/// Why a typed referral code is not a member's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferralError {
    /// Nothing was typed.
    #[error("referral code is empty")]
    Empty,
    /// A character outside the code alphabet; `position` counts from 1.
    #[error("referral code contains {ch:?} at position {position}; codes use 2–9 and A–Z without I and O")]
    InvalidChar { ch: char, position: usize },
    /// Not 8 code characters.
    #[error("referral code has {len} characters, needs 8")]
    WrongLength { len: usize },
    /// The check character does not match: a mistyped code.
    #[error("referral code check character is {found:?}, expected {expected:?} (mistyped code)")]
    WrongCheckChar { expected: char, found: char },
    /// Well-formed, but no member id gives this code.
    #[error("referral code {code} does not belong to any member")]
    NotAMemberCode { code: String },
    /// A member id above [`MAX_MEMBER_ID`] gets no code.
    #[error("member id {id} is above {MAX_MEMBER_ID}, the largest a referral code can carry")]
    IdOutOfRange { id: u64 },
    /// A member cannot refer themselves.
    #[error("member {member_id} cannot refer themselves")]
    SelfReferral { member_id: u64 },
}

/// Inverse of an odd `k` modulo 2^35 (Newton's iteration: each step doubles the correct bits).
const fn inverse(k: u64) -> u64 {
    let mut x = k;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(k.wrapping_mul(x)));
        i += 1;
    }
    x & MASK
}

/// The fixed bijection on 35-bit values: multiply, xorshift, multiply (all mod 2^35).
fn shuffle(x: u64) -> u64 {
    let y = x.wrapping_mul(K1) & MASK;
    let y = y ^ (y >> SHIFT);
    y.wrapping_mul(K2) & MASK
}

/// Inverse of [`shuffle`]; `x ^ x >> 17` on 35 bits is undone by `y ^ y >> 17 ^ y >> 34`.
fn unshuffle(y: u64) -> u64 {
    let x = y.wrapping_mul(K2_INV) & MASK;
    let x = x ^ (x >> SHIFT) ^ (x >> (2 * SHIFT));
    x.wrapping_mul(K1_INV) & MASK
}

/// Luhn mod 32 check value of code values (the check is appended on the right).
fn check_value(values: &[u8]) -> u8 {
    let n = ALPHABET.len() as u32;
    let sum = values.iter().rev().enumerate().fold(0u32, |acc, (i, &v)| {
        let addend = u32::from(v) * if i % 2 == 0 { 2 } else { 1 };
        acc + addend / n + addend % n
    });
    ((n - sum % n) % n) as u8
}

/// The alphabet character of a value 0..32.
fn char_of(v: u8) -> char {
    ALPHABET.get(usize::from(v)).map_or('?', |&b| char::from(b))
}

/// A member's referral code: 8 characters, member 42 → `2SSHXBEE`, member 43 → `6NH228UD`.
/// Error: [`ReferralError::IdOutOfRange`].
pub fn referral_code(member_id: u64) -> Result<String, ReferralError> {
    if member_id > MAX_MEMBER_ID {
        return Err(ReferralError::IdOutOfRange { id: member_id });
    }
    let y = shuffle(member_id);
    let mut values: Vec<u8> = (0..DATA_CHARS)
        .rev()
        .map(|i| ((y >> (5 * i)) & 31) as u8)
        .collect();
    values.push(check_value(&values));
    Ok(values.into_iter().map(char_of).collect())
}

/// The member id behind a typed referral code (case, spaces and dashes ignored).
pub fn parse_referral_code(input: &str) -> Result<u64, ReferralError> {
    let mut values = Vec::with_capacity(DATA_CHARS + 1);
    for (i, ch) in input.chars().enumerate() {
        if ch.is_whitespace() || ch == '-' {
            continue;
        }
        let up = ch.to_ascii_uppercase();
        let v = ALPHABET.iter().position(|&b| char::from(b) == up).ok_or(
            ReferralError::InvalidChar {
                ch,
                position: i + 1,
            },
        )?;
        values.push(v as u8);
    }
    if values.is_empty() {
        return Err(ReferralError::Empty);
    }
    if values.len() != DATA_CHARS + 1 {
        return Err(ReferralError::WrongLength { len: values.len() });
    }
    let Some((&found, data)) = values.split_last() else {
        return Err(ReferralError::Empty);
    };
    let expected = check_value(data);
    if found != expected {
        return Err(ReferralError::WrongCheckChar {
            expected: char_of(expected),
            found: char_of(found),
        });
    }
    let y = data.iter().fold(0u64, |acc, &v| (acc << 5) | u64::from(v));
    let id = unshuffle(y);
    if id > MAX_MEMBER_ID {
        return Err(ReferralError::NotAMemberCode {
            code: values.into_iter().map(char_of).collect(),
        });
    }
    Ok(id)
}

/// Refuses a member referring themselves. Error: [`ReferralError::SelfReferral`].
pub fn check_referral(referrer_id: u64, referee_id: u64) -> Result<(), ReferralError> {
    if referrer_id == referee_id {
        return Err(ReferralError::SelfReferral {
            member_id: referrer_id,
        });
    }
    Ok(())
}

/// What a referral pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRules {
    /// Points to the referrer when the referee signs up.
    pub referrer_points_on_signup: i64,
    /// Points to the new member when they sign up with a code.
    pub referee_points_on_signup: i64,
    /// Share, bp, of the points the referee's first purchase would earn at the base rate that the
    /// referrer gets (1000 = 10%).
    pub referrer_pct_bp_of_first_purchase: u32,
}

/// Points to award now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferralAward {
    /// To the referrer.
    pub referrer_points: i64,
    /// To the referee.
    pub referee_points: i64,
}

/// What a referee's referral has already paid out; stored with the referee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferralState {
    /// The sign-up rewards were given.
    pub signup_rewarded: bool,
    /// The first-purchase reward was given.
    pub first_purchase_rewarded: bool,
}

/// The referrer's points for a first purchase paying `paid_fen`:
/// ⌊paid_fen × points_per_yuan × pct_bp / (100 × 10 000)⌋, rounded down like earning; 0 for
/// `paid_fen ≤ 0`. ¥200.00 at 1 point per yuan and 10%: 20 points.
pub fn first_purchase_reward(paid_fen: i64, rules: &ReferralRules, points_per_yuan: u32) -> i64 {
    mul_div_floor(
        paid_fen,
        u128::from(points_per_yuan),
        u128::from(rules.referrer_pct_bp_of_first_purchase),
        100 * u128::from(BP_ONE),
    )
}

impl ReferralState {
    /// The referee signed up: both sign-up rewards the first time, nothing after.
    pub fn on_signup(self, rules: &ReferralRules) -> (ReferralAward, ReferralState) {
        if self.signup_rewarded {
            return (ReferralAward::default(), self);
        }
        let award = ReferralAward {
            referrer_points: rules.referrer_points_on_signup.max(0),
            referee_points: rules.referee_points_on_signup.max(0),
        };
        let state = ReferralState {
            signup_rewarded: true,
            ..self
        };
        (award, state)
    }

    /// The referee completed a purchase: the first one pays the referrer
    /// [`first_purchase_reward`] (even if that rounds to 0), later ones nothing. A purchase
    /// that is later returned is not taken back.
    pub fn on_purchase(
        self,
        paid_fen: i64,
        rules: &ReferralRules,
        points_per_yuan: u32,
    ) -> (ReferralAward, ReferralState) {
        if self.first_purchase_rewarded {
            return (ReferralAward::default(), self);
        }
        let award = ReferralAward {
            referrer_points: first_purchase_reward(paid_fen, rules, points_per_yuan),
            referee_points: 0,
        };
        let state = ReferralState {
            first_purchase_rewarded: true,
            ..self
        };
        (award, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> ReferralRules {
        ReferralRules {
            referrer_points_on_signup: 200,
            referee_points_on_signup: 100,
            referrer_pct_bp_of_first_purchase: 1_000,
        }
    }

    #[test]
    fn shuffle_constants_are_inverses() {
        assert_eq!(K1.wrapping_mul(K1_INV) & MASK, 1);
        assert_eq!(K2.wrapping_mul(K2_INV) & MASK, 1);
        assert_eq!(unshuffle(shuffle(42)), 42);
    }

    #[test]
    fn member_codes_are_8_unambiguous_characters() {
        let code = referral_code(42).unwrap();
        assert_eq!(code, "2SSHXBEE");
        assert_eq!(referral_code(43), Ok("6NH228UD".into()));
        assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
        assert_eq!(parse_referral_code(&code), Ok(42));
        assert_eq!(parse_referral_code(&code.to_lowercase()), Ok(42));
        let spaced = format!("{}-{} ", &code[..4], &code[4..]);
        assert_eq!(parse_referral_code(&spaced), Ok(42));
        // Neighbouring members get codes that differ in more than the last characters.
        let next = referral_code(43).unwrap();
        assert_ne!(code[..4], next[..4]);
    }

    #[test]
    fn mistyped_codes_say_what_is_wrong() {
        let code = referral_code(42).unwrap();
        // Change the first character to another letter of the alphabet.
        let first = code.as_bytes()[0];
        let other = if first == b'A' { 'B' } else { 'A' };
        let typo = format!("{other}{}", &code[1..]);
        assert!(matches!(
            parse_referral_code(&typo),
            Err(ReferralError::WrongCheckChar { .. })
        ));
        assert_eq!(
            parse_referral_code("AB0CDEFG"),
            Err(ReferralError::InvalidChar {
                ch: '0',
                position: 3
            })
        );
        assert_eq!(
            parse_referral_code("ABCDEFG"),
            Err(ReferralError::WrongLength { len: 7 })
        );
        assert_eq!(
            parse_referral_code("ABCDEFG").unwrap_err().to_string(),
            "referral code has 7 characters, needs 8"
        );
        assert_eq!(parse_referral_code(" - "), Err(ReferralError::Empty));
        assert_eq!(
            referral_code(MAX_MEMBER_ID + 1),
            Err(ReferralError::IdOutOfRange { id: 10_000_000_000 })
        );
    }

    #[test]
    fn a_well_formed_code_of_no_member_is_refused() {
        // The 35-bit value of the first id above the member range, with a valid check character.
        let y = shuffle(MAX_MEMBER_ID + 1);
        let mut values: Vec<u8> = (0..DATA_CHARS)
            .rev()
            .map(|i| ((y >> (5 * i)) & 31) as u8)
            .collect();
        values.push(check_value(&values));
        let code: String = values.into_iter().map(char_of).collect();
        assert_eq!(
            parse_referral_code(&code),
            Err(ReferralError::NotAMemberCode { code: code.clone() })
        );
    }

    #[test]
    fn referral_rewards_only_once() {
        let s = ReferralState::default();
        let (award, s) = s.on_signup(&rules());
        assert_eq!(
            award,
            ReferralAward {
                referrer_points: 200,
                referee_points: 100
            }
        );
        let (again, s2) = s.on_signup(&rules());
        assert_eq!(again, ReferralAward::default());
        assert_eq!(s2, s);
        // First purchase ¥200.00 at 1 point per yuan, 10% to the referrer: 20 points.
        let (award, s) = s.on_purchase(20_000, &rules(), 1);
        assert_eq!(
            award,
            ReferralAward {
                referrer_points: 20,
                referee_points: 0
            }
        );
        assert_eq!(
            s,
            ReferralState {
                signup_rewarded: true,
                first_purchase_rewarded: true
            }
        );
        // The second purchase pays nothing.
        let (again, _) = s.on_purchase(90_000, &rules(), 1);
        assert_eq!(again, ReferralAward::default());
    }

    #[test]
    fn first_purchase_reward_rounds_down() {
        // ¥56.70 × 10% = 5.67 → 5; at 2 points per yuan 11.34 → 11.
        assert_eq!(first_purchase_reward(5_670, &rules(), 1), 5);
        assert_eq!(first_purchase_reward(5_670, &rules(), 2), 11);
        assert_eq!(first_purchase_reward(-100, &rules(), 1), 0);
    }

    #[test]
    fn nobody_refers_themselves() {
        assert_eq!(check_referral(42, 43), Ok(()));
        assert_eq!(
            check_referral(42, 42),
            Err(ReferralError::SelfReferral { member_id: 42 })
        );
    }

    proptest! {
        #[test]
        fn every_member_code_round_trips(id in 0..=MAX_MEMBER_ID) {
            let code = referral_code(id).unwrap();
            prop_assert_eq!(code.len(), 8);
            prop_assert_eq!(parse_referral_code(&code), Ok(id));
        }

        #[test]
        fn any_single_character_change_is_caught(id in 0..=MAX_MEMBER_ID, pos in 0usize..8, delta in 1u8..32) {
            let code = referral_code(id).unwrap();
            let mut v: Vec<u8> = code.bytes()
                .map(|b| ALPHABET.iter().position(|&a| a == b).unwrap() as u8).collect();
            v[pos] = (v[pos] + delta) % 32;
            let typo: String = v.into_iter().map(char_of).collect();
            let caught = matches!(parse_referral_code(&typo), Err(ReferralError::WrongCheckChar { .. }));
            prop_assert!(caught, "{} → {}", code, typo);
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = parse_referral_code(&s);
        }
    }
}
