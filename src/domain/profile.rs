//! Member preference profiles (会员画像): the pure arithmetic behind "会员A偏好高端护肤品":
//! category preferences as a recency-weighted share of spend, and (filled by the profile's
//! owner) price sensitivity, preferred weekday and hour, channel mix and average basket.
//! `members::profile` gathers a member's purchases and stores the result; personal suggestions
//! (`members::recommend`) read the same category preferences.

use std::collections::BTreeMap;

/// One purchase line as the profile sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendLine {
    /// Whole days between the purchase and the day the profile is computed for (0 = today).
    pub days_ago: u32,
    pub category: String,
    /// Net paid for the line, fen (returns already netted; may be 0).
    pub net_fen: i64,
}

/// A category's share of the member's recency-weighted spend.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CategoryShare {
    pub category: String,
    /// Share in basis points (all shares of a member sum to 10 000 ± rounding).
    pub share_bp: u32,
}

/// Category preferences: each line's spend weighs `0.5^(days_ago / half_life_days)` (spend from
/// one half-life ago counts half), shares are weighted spend per category over the total.
/// Lines with no positive spend are ignored; no spend at all gives an empty list. Sorted by
/// share, largest first, then by category name. `half_life_days` of 0 is treated as 1.
pub fn category_preferences(lines: &[SpendLine], half_life_days: u32) -> Vec<CategoryShare> {
    let half_life = f64::from(half_life_days.max(1));
    let mut weighted: BTreeMap<&str, f64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.net_fen > 0) {
        let w = 0.5f64.powf(f64::from(l.days_ago) / half_life);
        *weighted.entry(l.category.as_str()).or_insert(0.0) += w * l.net_fen as f64;
    }
    let total: f64 = weighted.values().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut shares: Vec<CategoryShare> = weighted
        .into_iter()
        .map(|(c, w)| CategoryShare { category: c.to_string(), share_bp: (w / total * 10_000.0).round() as u32 })
        .collect();
    shares.sort_by(|a, b| b.share_bp.cmp(&a.share_bp).then_with(|| a.category.cmp(&b.category)));
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(days_ago: u32, category: &str, net_fen: i64) -> SpendLine {
        SpendLine { days_ago, category: category.into(), net_fen }
    }

    /// Half-life 30 days. 护肤: ¥100 today (weight 1) + ¥200 60 days ago (weight 0.25) = 150;
    /// 零食: ¥50 today = 50. Total 200 → 护肤 75 %, 零食 25 %. A ¥0 line and a refund-only
    /// line (−¥10) change nothing.
    #[test]
    fn recency_weighted_share_of_spend() {
        let lines = [line(0, "护肤", 10_000), line(60, "护肤", 20_000), line(0, "零食", 5_000), line(3, "饮料", 0), line(1, "饮料", -1_000)];
        assert_eq!(
            category_preferences(&lines, 30),
            vec![
                CategoryShare { category: "护肤".into(), share_bp: 7_500 },
                CategoryShare { category: "零食".into(), share_bp: 2_500 },
            ]
        );
        assert!(category_preferences(&[], 30).is_empty());
        assert!(category_preferences(&[line(0, "x", 0)], 0).is_empty());
    }
}
