//! The statistics of a campaign: who is held out (a deterministic random share of the targets,
//! per campaign and member) and how much the campaign moved conversion compared with the
//! held-out group (uplift with a 95 % confidence interval and a two-proportion z-test). Pure.

/// 100 % in basis points.
const BP: u64 = 10_000;

/// Whether `member_id` is in the held-out group of `campaign_id` at `holdout_bp` (1000 = 10 %).
/// Deterministic: the same campaign and member always land in the same group, on any machine and
/// build (FNV-1a over the ids, then the splitmix64 finaliser, so neighbouring ids spread).
pub fn held_out(campaign_id: &str, member_id: u64, holdout_bp: u32) -> bool {
    bucket(campaign_id, member_id) < u64::from(holdout_bp.min(BP as u32))
}

/// The member's bucket in 0..10 000 for this campaign.
pub fn bucket(campaign_id: &str, member_id: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in campaign_id.as_bytes().iter().chain([0u8].iter()).chain(member_id.to_be_bytes().iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64 finaliser.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    h % BP
}

/// Conversion of the targeted and the held-out group, and what the difference means.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Uplift {
    pub treated: u64,
    pub treated_converted: u64,
    pub holdout: u64,
    pub holdout_converted: u64,
    /// Conversion rates, 0..=1.
    pub treated_rate: f64,
    pub holdout_rate: f64,
    /// treated_rate − holdout_rate.
    pub uplift: f64,
    /// 95 % confidence interval of the uplift (unpooled standard error, normal approximation).
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-proportion z statistic (pooled standard error) and its two-sided p-value.
    pub z: f64,
    pub p_value: f64,
}

/// z of a two-sided 95 % interval.
const Z_95: f64 = 1.959_963_984_540_054;

/// The uplift of a campaign; `None` when either group is empty or a count exceeds its group.
pub fn uplift(treated: u64, treated_converted: u64, holdout: u64, holdout_converted: u64) -> Option<Uplift> {
    if treated == 0 || holdout == 0 || treated_converted > treated || holdout_converted > holdout {
        return None;
    }
    let (nt, nc) = (treated as f64, holdout as f64);
    let (pt, pc) = (treated_converted as f64 / nt, holdout_converted as f64 / nc);
    let diff = pt - pc;
    let se = (pt * (1.0 - pt) / nt + pc * (1.0 - pc) / nc).sqrt();
    let pooled = (treated_converted + holdout_converted) as f64 / (nt + nc);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc)).sqrt();
    let z = if se0 > 0.0 { diff / se0 } else { 0.0 };
    let p_value = if se0 > 0.0 { erfc(z.abs() / std::f64::consts::SQRT_2) } else { 1.0 };
    Some(Uplift {
        treated,
        treated_converted,
        holdout,
        holdout_converted,
        treated_rate: pt,
        holdout_rate: pc,
        uplift: diff,
        ci_low: diff - Z_95 * se,
        ci_high: diff + Z_95 * se,
        z,
        p_value,
    })
}

/// The complementary error function, |error| < 1.2e-7 (Numerical Recipes' Chebyshev fit).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06 + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holdout_is_stable_and_close_to_its_share_on_100k_members() {
        let campaign = "dormant-2026-11";
        let held: u64 = (1..=100_000u64).filter(|m| held_out(campaign, *m, 1000)).count() as u64;
        // 10 % of 100 000 = 10 000; a binomial's standard deviation here is 95, so ±500 is > 5 σ.
        assert!((9_500..=10_500).contains(&held), "{held} held out of 100 000 at 10 %");
        // Pinned by an independent Python implementation of the same hash: a change to the hash
        // would move members between groups of running campaigns.
        let pinned: Vec<u64> = (1..=5).map(|m| bucket("c1", m)).collect();
        assert_eq!(pinned, [8196, 7419, 6510, 7329, 9245]);
        // Another campaign draws another group.
        let both = (1..=100_000u64).filter(|m| held_out(campaign, *m, 1000) && held_out("birthday-2026-12", *m, 1000)).count();
        assert!((700..=1_300).contains(&both), "{both}: the groups of two campaigns should be independent (≈ 1 000)");
        assert!(!held_out(campaign, 7, 0));
        assert!(held_out(campaign, 7, 10_000));
    }

    #[test]
    fn uplift_and_its_interval_match_a_hand_computation() {
        // Treated 1000, 120 converted (12 %); held out 250, 20 converted (8 %).
        // uplift = 0.04; SE = √(0.12·0.88/1000 + 0.08·0.92/250) = √(0.0001056 + 0.0002944) = 0.02;
        // 95 % CI = 0.04 ± 1.96·0.02 = [0.000801, 0.079199].
        // Pooled p = 140/1250 = 0.112; SE₀ = √(0.112·0.888·(1/1000 + 1/250)) = 0.0222998;
        // z = 0.04 / 0.0222998 = 1.79374; two-sided p = erfc(1.79374/√2) = 0.072855.
        let u = uplift(1000, 120, 250, 20).unwrap_or_else(|| panic!("groups are not empty"));
        assert!((u.uplift - 0.04).abs() < 1e-12);
        assert!((u.ci_low - 0.000_800_72).abs() < 1e-7, "{}", u.ci_low);
        assert!((u.ci_high - 0.079_199_28).abs() < 1e-7, "{}", u.ci_high);
        assert!((u.z - 1.793_740_008).abs() < 1e-6, "{}", u.z);
        assert!((u.p_value - 0.072_854_68).abs() < 1e-6, "{}", u.p_value);
        assert_eq!(uplift(0, 0, 10, 1), None);
        assert_eq!(uplift(10, 11, 10, 1), None);
        // Nobody converted anywhere: no effect, p = 1.
        let none = uplift(100, 0, 100, 0).unwrap_or_else(|| panic!("groups are not empty"));
        assert_eq!((none.uplift, none.p_value), (0.0, 1.0));
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [(0.0, 1.0), (0.5, 0.479_500_122), (1.0, 0.157_299_207), (2.0, 0.004_677_735), (-1.0, 1.842_700_793)] {
            assert!((erfc(x) - want).abs() < 2e-7, "erfc({x}) = {} want {want}", erfc(x));
        }
    }
}
