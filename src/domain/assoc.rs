//! Association rules from sales baskets (关联规则, "买了奶粉的会员也买奶瓶"): the types the miner,
//! the rule store and the suggestions share. A rule keeps the basket counts it was measured on,
//! not rounded ratios, so support, confidence and lift are exact integer arithmetic on demand and
//! a rule read back from the store explains itself with the same numbers the miner saw.
//!
//! Definitions (N = baskets in the window, n(X) = baskets containing X):
//! support(A → B) = n(A ∪ B) / N, confidence = n(A ∪ B) / n(A), lift = confidence / (n(B) / N)
//! = n(A ∪ B) · N / (n(A) · n(B)).

use serde::{Deserialize, Serialize};

/// What a rule speaks about: a product or a whole category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum ItemKey {
    Sku(String),
    Category(String),
}

/// "Baskets with `antecedent` also hold `consequent`", with the counts it was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub antecedent: ItemKey,
    pub consequent: ItemKey,
    /// n(A ∪ B): baskets holding both.
    pub both: u32,
    /// n(A).
    pub antecedent_baskets: u32,
    /// n(B).
    pub consequent_baskets: u32,
    /// N: baskets in the window.
    pub baskets: u32,
}

impl Rule {
    /// Support in basis points of all baskets (rounded down).
    pub fn support_bp(&self) -> u32 {
        ratio_bp(self.both as u64, self.baskets as u64)
    }

    /// Confidence in basis points: of the baskets with A, how many also hold B (rounded down).
    pub fn confidence_bp(&self) -> u32 {
        ratio_bp(self.both as u64, self.antecedent_baskets as u64)
    }

    /// Lift in thousandths (1000 = independent; above it, A makes B likelier), rounded down.
    pub fn lift_milli(&self) -> u32 {
        let num = self.both as u128 * self.baskets as u128 * 1000;
        let den = self.antecedent_baskets as u128 * self.consequent_baskets as u128;
        if den == 0 {
            0
        } else {
            u32::try_from(num / den).unwrap_or(u32::MAX)
        }
    }
}

/// `part / whole` in basis points, rounded down; 0 when `whole` is 0.
fn ratio_bp(part: u64, whole: u64) -> u32 {
    if whole == 0 {
        0
    } else {
        u32::try_from(part * 10_000 / whole).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 baskets; 20 hold 奶粉, 10 hold 奶瓶, 8 hold both.
    #[test]
    fn support_confidence_and_lift_from_counts() {
        let r = Rule {
            antecedent: ItemKey::Sku("MILK-POWDER".into()),
            consequent: ItemKey::Sku("BOTTLE".into()),
            both: 8,
            antecedent_baskets: 20,
            consequent_baskets: 10,
            baskets: 100,
        };
        assert_eq!(r.support_bp(), 800); // 8 %
        assert_eq!(r.confidence_bp(), 4000); // 8 of 20 = 40 %
        assert_eq!(r.lift_milli(), 4000); // 0.40 / 0.10 = 4.0
        let empty = Rule { both: 0, antecedent_baskets: 0, consequent_baskets: 0, baskets: 0, ..r };
        assert_eq!((empty.support_bp(), empty.confidence_bp(), empty.lift_milli()), (0, 0, 0));
    }
}
