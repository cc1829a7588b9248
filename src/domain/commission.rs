//! Commission (提成) rules and their arithmetic: percent of sales by category, an amount per new
//! member, a percent of stored-value top-ups, computed per staff member and period in fen.
//! Pure; `staff::commission` stores the rules and feeds in the period's figures.
//!
//! Rounding: each rule's amount is worked out once per staff member and period from the rule's
//! whole base (bases are summed first, then rounded), half away from zero to the fen
//! (`money::apply_bp`): half up for the usual positive base; a negative base (more of a
//! category came back in the period than was sold) gives the same amount with a minus sign.
//! The total is the sum of the rounded rule amounts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::money::apply_bp;

/// Highest rate: 100 %.
pub const MAX_RATE_BP: i64 = 10_000;
/// Highest amount per new member: ¥1,000.00.
pub const MAX_PER_MEMBER_FEN: i64 = 100_000;
/// Most categories with their own rate.
pub const MAX_CATEGORY_RULES: usize = 100;
/// Longest category name, in characters (as in the catalog).
pub const MAX_CATEGORY_CHARS: usize = 32;

/// The shop's commission rules. All zero: no commission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommissionRules {
    /// Rate on net sales of every category without its own rate, bp.
    #[serde(default)]
    pub default_rate_bp: i64,
    /// Category → rate on its net sales, bp.
    #[serde(default)]
    pub category_rates: BTreeMap<String, i64>,
    /// Paid per member registered, fen.
    #[serde(default)]
    pub per_new_member_fen: i64,
    /// Rate on stored-value top-ups taken (money paid in, not the bonus), bp.
    #[serde(default)]
    pub topup_rate_bp: i64,
}

/// Why rules were refused (nothing is changed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("{field}: a rate must be 0 to {MAX_RATE_BP} bp (0 to 100 %), got {got}")]
    Rate { field: String, got: i64 },
    #[error("per_new_member_fen: must be 0 to {MAX_PER_MEMBER_FEN} fen, got {0}")]
    PerMember(i64),
    #[error("category_rates: category name must be 1 to {MAX_CATEGORY_CHARS} characters without control characters, got {0:?}")]
    Category(String),
    #[error("category_rates: at most {MAX_CATEGORY_RULES} categories, got {0}")]
    TooMany(usize),
}

impl RulesError {
    /// The field a form should mark.
    pub fn field(&self) -> String {
        match self {
            RulesError::Rate { field, .. } => field.clone(),
            RulesError::PerMember(_) => "per_new_member_fen".into(),
            RulesError::Category(_) | RulesError::TooMany(_) => "category_rates".into(),
        }
    }
}

/// Checks every rule; the first problem is the error.
pub fn check_rules(r: &CommissionRules) -> Result<(), RulesError> {
    let rate = |field: String, got: i64| if (0..=MAX_RATE_BP).contains(&got) { Ok(()) } else { Err(RulesError::Rate { field, got }) };
    rate("default_rate_bp".into(), r.default_rate_bp)?;
    rate("topup_rate_bp".into(), r.topup_rate_bp)?;
    if !(0..=MAX_PER_MEMBER_FEN).contains(&r.per_new_member_fen) {
        return Err(RulesError::PerMember(r.per_new_member_fen));
    }
    if r.category_rates.len() > MAX_CATEGORY_RULES {
        return Err(RulesError::TooMany(r.category_rates.len()));
    }
    for (category, bp) in &r.category_rates {
        let n = category.chars().count();
        if n == 0 || n > MAX_CATEGORY_CHARS || category.trim() != category || category.chars().any(char::is_control) {
            return Err(RulesError::Category(category.chars().take(40).collect()));
        }
        rate(format!("category_rates.{category}"), *bp)?;
    }
    Ok(())
}

/// What one staff member's commission for a period is worked out from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommissionBase {
    /// Net sales per category (their tickets less what came back from them), fen.
    pub net_sales_by_category: BTreeMap<String, i64>,
    pub members_registered: u64,
    /// Money paid in by the top-ups they took, fen.
    pub topup_fen: i64,
}

/// One rule's part of a commission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionLine {
    /// `category:<name>`, `other_categories`, `new_members` or `topups`.
    pub rule: String,
    /// Fen of sales or top-ups, or a count of members.
    pub base: i64,
    /// bp, or fen per member.
    pub rate: i64,
    pub amount_fen: i64,
}

/// A staff member's commission for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Commission {
    /// One line per rule, always in the same order: categories with their own rate (by name),
    /// `other_categories`, `new_members`, `topups`.
    pub lines: Vec<CommissionLine>,
    pub total_fen: i64,
}

/// The rule names in line order, for CSV headers.
pub fn rule_names(rules: &CommissionRules) -> Vec<String> {
    let mut out: Vec<String> = rules.category_rates.keys().map(|c| format!("category:{c}")).collect();
    out.extend(["other_categories".to_string(), "new_members".to_string(), "topups".to_string()]);
    out
}

/// The commission of one staff member for one period.
pub fn compute(rules: &CommissionRules, base: &CommissionBase) -> Commission {
    let mut lines = Vec::with_capacity(rules.category_rates.len() + 3);
    for (category, bp) in &rules.category_rates {
        let b = base.net_sales_by_category.get(category).copied().unwrap_or(0);
        lines.push(CommissionLine { rule: format!("category:{category}"), base: b, rate: *bp, amount_fen: apply_bp(b, *bp) });
    }
    let other = base
        .net_sales_by_category
        .iter()
        .filter(|(c, _)| !rules.category_rates.contains_key(*c))
        .fold(0i64, |s, (_, v)| s.saturating_add(*v));
    lines.push(CommissionLine { rule: "other_categories".into(), base: other, rate: rules.default_rate_bp, amount_fen: apply_bp(other, rules.default_rate_bp) });
    let members = i64::try_from(base.members_registered).unwrap_or(i64::MAX);
    lines.push(CommissionLine {
        rule: "new_members".into(),
        base: members,
        rate: rules.per_new_member_fen,
        amount_fen: members.saturating_mul(rules.per_new_member_fen),
    });
    lines.push(CommissionLine { rule: "topups".into(), base: base.topup_fen, rate: rules.topup_rate_bp, amount_fen: apply_bp(base.topup_fen, rules.topup_rate_bp) });
    let total_fen = lines.iter().fold(0i64, |s, l| s.saturating_add(l.amount_fen));
    Commission { lines, total_fen }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop_rules() -> CommissionRules {
        // 饮料 3 %, 母婴 5.5 %, everything else 1 %; ¥5.00 per new member; 0.5 % of top-ups.
        CommissionRules {
            default_rate_bp: 100,
            category_rates: BTreeMap::from([("饮料".to_string(), 300), ("母婴".to_string(), 550)]),
            per_new_member_fen: 500,
            topup_rate_bp: 50,
        }
    }

    fn base(cats: &[(&str, i64)], members: u64, topup_fen: i64) -> CommissionBase {
        CommissionBase { net_sales_by_category: cats.iter().map(|(c, v)| (c.to_string(), *v)).collect(), members_registered: members, topup_fen }
    }

    fn amounts(c: &Commission) -> Vec<(String, i64, i64)> {
        c.lines.iter().map(|l| (l.rule.clone(), l.base, l.amount_fen)).collect()
    }

    /// The table of cases, each worked by hand with the shop's rules above.
    #[test]
    fn commission_for_a_table_of_cases() {
        let rules = shop_rules();
        struct Case {
            name: &'static str,
            base: CommissionBase,
            /// 母婴, 饮料 (line order: by name), other, members, top-ups, total.
            expect: [i64; 6],
        }
        let cases = [
            // Nothing sold: nothing paid.
            Case { name: "idle", base: base(&[], 0, 0), expect: [0, 0, 0, 0, 0, 0] },
            // ¥1,234.50 of drinks × 3 % = 3 703.5 fen → 3 704 (half up); ¥200.00 of fruit and
            // ¥99.99 of bread are "other" together: ¥299.99 × 1 % = 299.99 → 300.
            Case { name: "drinks and others", base: base(&[("饮料", 123_450), ("水果", 20_000), ("面包", 9_999)], 0, 0), expect: [0, 3_704, 300, 0, 0, 4_004] },
            // ¥333.33 of baby goods × 5.5 % = 1 833.315 → 1 833; 3 members × ¥5.00 = 1 500;
            // ¥1,000.00 of top-ups × 0.5 % = 500.
            Case { name: "baby, members, top-ups", base: base(&[("母婴", 33_333)], 3, 100_000), expect: [1_833, 0, 0, 1_500, 500, 3_833] },
            // Half a fen rounds up: ¥0.50 of drinks × 3 % = 1.5 → 2; ¥0.50 other × 1 % = 0.5 → 1;
            // a ¥0.99 top-up × 0.5 % = 0.495 → 0.
            Case { name: "half fen", base: base(&[("饮料", 50), ("水果", 50)], 0, 99), expect: [0, 2, 1, 0, 0, 3] },
            // Rounded per rule, not per category: ¥0.50 of fruit and ¥0.50 of bread are one
            // "other" base of ¥1.00 × 1 % = 1 fen (per category it would have been 1 + 1).
            Case { name: "per rule", base: base(&[("水果", 50), ("面包", 50)], 0, 0), expect: [0, 0, 1, 0, 0, 1] },
            // Returns in the period larger than sales: drinks −¥50.00 × 3 % = −150; other
            // −¥0.50 × 1 % = −0.5 → −1 (away from zero); one member +500.
            Case { name: "returns exceed sales", base: base(&[("饮料", -5_000), ("水果", -50)], 1, 0), expect: [0, -150, -1, 500, 0, 349] },
        ];
        for c in cases {
            let got = compute(&rules, &c.base);
            let a = amounts(&got);
            let just: Vec<i64> = a.iter().map(|x| x.2).chain([got.total_fen]).collect();
            assert_eq!(just, c.expect.to_vec(), "case {}: {a:?}", c.name);
            assert_eq!(a.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), rule_names(&rules), "case {}", c.name);
        }
    }

    #[test]
    fn rules_are_checked_field_by_field() {
        assert_eq!(check_rules(&shop_rules()), Ok(()));
        assert_eq!(check_rules(&CommissionRules::default()), Ok(()));
        let mut r = shop_rules();
        r.default_rate_bp = 10_001;
        assert_eq!(check_rules(&r).unwrap_err().field(), "default_rate_bp");
        let mut r = shop_rules();
        r.category_rates.insert("饮料".into(), -1);
        let e = check_rules(&r).unwrap_err();
        assert_eq!(e.to_string(), "category_rates.饮料: a rate must be 0 to 10000 bp (0 to 100 %), got -1");
        let mut r = shop_rules();
        r.category_rates.insert(String::new(), 10);
        assert_eq!(check_rules(&r).unwrap_err().field(), "category_rates");
        let mut r = shop_rules();
        r.per_new_member_fen = -5;
        assert_eq!(check_rules(&r).unwrap_err().field(), "per_new_member_fen");
        let mut r = shop_rules();
        r.topup_rate_bp = 20_000;
        assert_eq!(check_rules(&r).unwrap_err().field(), "topup_rate_bp");
    }

    #[test]
    fn rule_names_follow_the_line_order() {
        assert_eq!(rule_names(&shop_rules()), vec!["category:母婴", "category:饮料", "other_categories", "new_members", "topups"]);
    }
}
