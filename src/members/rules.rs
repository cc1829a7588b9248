//! The one place `[loyalty]` (and the shop's time zone) becomes the domain's rule structs.
//!
//! Owns the mapping only: `points_expiry_months = 0` means never, `points_expiry` picks the
//! expiry rule, tiers become the ladder, and shop-local dates come from `[store].timezone`. The
//! rules themselves live in `domain::loyalty`; nothing here decides a number.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::config::{Config, LoyaltyConfig, PointsExpiryConfig};
use crate::domain::loyalty::cash::RedeemRules;
use crate::domain::loyalty::earn::{CampaignTarget, EarnRules, MemberDay, PointsCampaign};
use crate::domain::loyalty::lots::ExpiryRule;
use crate::domain::loyalty::referral::ReferralRules;
use crate::domain::loyalty::stored_value::TopUpBonus;
use crate::domain::loyalty::tiers::TierRule;
use crate::domain::loyalty::BP_ONE;

/// Everything the member service needs to apply the programme's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct LoyaltyRules {
    /// Earning: points per yuan, excluded categories, member day, points campaigns
    /// (`[[loyalty.points_campaigns]]`).
    pub earn: EarnRules,
    /// Paying with points: point value and the cap.
    pub redeem: RedeemRules,
    /// When earned points expire.
    pub expiry: ExpiryRule,
    /// The tier ladder, lowest first; empty = no tiers.
    pub ladder: Vec<TierRule>,
    /// Days a member below their tier keeps it.
    pub grace_days: u32,
    /// Top-up bonuses (充500送50).
    pub topup_bonus: Vec<TopUpBonus>,
    /// Referral rewards.
    pub referral: ReferralRules,
    /// The shop's time zone: dates of lots, member day, birthdays and the rolling tier window are
    /// shop-local.
    pub timezone: chrono_tz::Tz,
}

impl LoyaltyRules {
    /// The rules of `[loyalty]`, with shop-local dates in Asia/Shanghai (use [`Self::for_shop`]
    /// or set `timezone` when the shop's `[store].timezone` is known).
    pub fn from_config(c: &LoyaltyConfig) -> LoyaltyRules {
        let expiry = match c.points_expiry {
            PointsExpiryConfig::Never => ExpiryRule::Never,
            PointsExpiryConfig::EndOfFollowingYear => ExpiryRule::EndOfFollowingYear,
            PointsExpiryConfig::MonthsAfter if c.points_expiry_months == 0 => ExpiryRule::Never,
            PointsExpiryConfig::MonthsAfter => ExpiryRule::MonthsAfter(c.points_expiry_months),
        };
        LoyaltyRules {
            earn: EarnRules {
                points_per_yuan: c.points_per_yuan,
                excluded_categories: c.excluded_categories.clone(),
                member_day: c.member_day.as_ref().map(|md| MemberDay {
                    weekday: md.weekday.to_chrono(),
                    multiplier_bp: md.multiplier_bp,
                }),
                campaigns: c
                    .points_campaigns
                    .iter()
                    .map(|p| PointsCampaign {
                        id: p.id.as_str().to_string(),
                        target: match (&p.sku, &p.category) {
                            (Some(sku), _) => CampaignTarget::Sku(sku.clone()),
                            (None, category) => CampaignTarget::Category(category.clone().unwrap_or_default()),
                        },
                        multiplier_bp: p.multiplier_bp,
                        starts_at: p.starts_at,
                        ends_at: p.ends_at,
                    })
                    .collect(),
            },
            redeem: RedeemRules { point_value_fen: c.point_value_fen, redeem_cap_bp: c.redeem_cap_bp },
            expiry,
            ladder: c
                .tiers
                .iter()
                .map(|t| TierRule {
                    id: t.id.as_str().to_string(),
                    name_zh: t.name_zh.clone(),
                    name_en: t.name_en.clone(),
                    min_spend_fen: t.min_spend_fen,
                    min_visits: t.min_visits,
                    discount_bp: t.discount_bp,
                    points_multiplier_bp: t.points_multiplier_bp,
                    birthday_points: i64::from(t.birthday_points),
                })
                .collect(),
            grace_days: c.tier_grace_days,
            topup_bonus: c
                .topup_bonus
                .iter()
                .map(|b| TopUpBonus { min_topup_fen: b.min_topup_fen, bonus_fen: b.bonus_fen })
                .collect(),
            referral: ReferralRules {
                referrer_points_on_signup: i64::from(c.referral.referrer_signup_points),
                referee_points_on_signup: i64::from(c.referral.referee_signup_points),
                referrer_pct_bp_of_first_purchase: c.referral.referrer_first_purchase_bp,
            },
            timezone: chrono_tz::Asia::Shanghai,
        }
    }

    /// The rules of a whole config: `[loyalty]` in the shop's `[store].timezone`.
    pub fn for_shop(cfg: &Config) -> LoyaltyRules {
        LoyaltyRules { timezone: cfg.timezone(), ..LoyaltyRules::from_config(&cfg.loyalty) }
    }

    /// Shop-local wall time of an instant.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        crate::clock::local(at, self.timezone)
    }

    /// Shop-local date of an instant (the business day).
    pub fn today(&self, at: DateTime<Utc>) -> NaiveDate {
        self.local(at).date()
    }

    /// Index of a tier id in the ladder.
    pub fn tier_index(&self, tier: &str) -> Option<usize> {
        self.ladder.iter().position(|t| t.id == tier)
    }

    /// The rule of a tier id, if the ladder has it.
    pub fn tier(&self, tier: &str) -> Option<&TierRule> {
        self.ladder.iter().find(|t| t.id == tier)
    }

    /// Points multiplier of a tier; ×1 for a member without a tier or with one no longer in the
    /// ladder.
    pub fn tier_multiplier_bp(&self, tier: &str) -> u32 {
        self.tier(tier).map_or(BP_ONE, |t| t.points_multiplier_bp)
    }

    /// The tier a new member starts in: the ladder's first, or "" when there are no tiers.
    pub fn base_tier(&self) -> String {
        self.ladder.first().map(|t| t.id.clone()).unwrap_or_default()
    }
}

impl Default for LoyaltyRules {
    /// The rules of a default `[loyalty]` section.
    fn default() -> Self {
        LoyaltyRules::from_config(&LoyaltyConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MemberDayConfig, TopUpBonusConfig, WeekdayConfig};

    #[test]
    fn zero_months_means_never_and_end_of_following_year_is_kept() {
        let mut c = LoyaltyConfig::default();
        assert_eq!(LoyaltyRules::from_config(&c).expiry, ExpiryRule::MonthsAfter(24));
        c.points_expiry_months = 0;
        assert_eq!(LoyaltyRules::from_config(&c).expiry, ExpiryRule::Never);
        c.points_expiry = PointsExpiryConfig::EndOfFollowingYear;
        assert_eq!(LoyaltyRules::from_config(&c).expiry, ExpiryRule::EndOfFollowingYear);
        c.points_expiry = PointsExpiryConfig::Never;
        c.points_expiry_months = 12;
        assert_eq!(LoyaltyRules::from_config(&c).expiry, ExpiryRule::Never);
    }

    #[test]
    fn member_day_topups_and_shop_local_dates() {
        let c = LoyaltyConfig {
            member_day: Some(MemberDayConfig { weekday: WeekdayConfig::Wed, multiplier_bp: 20_000 }),
            topup_bonus: vec![TopUpBonusConfig { min_topup_fen: 50_000, bonus_fen: 3_000 }],
            ..LoyaltyConfig::default()
        };
        let r = LoyaltyRules::from_config(&c);
        assert_eq!(r.earn.member_day, Some(MemberDay { weekday: chrono::Weekday::Wed, multiplier_bp: 20_000 }));
        assert_eq!(r.topup_bonus, vec![TopUpBonus { min_topup_fen: 50_000, bonus_fen: 3_000 }]);
        assert_eq!(r.base_tier(), "");
        assert_eq!(r.tier_multiplier_bp("gold"), BP_ONE);
        // 17:00 UTC on 25 Nov is already 01:00 on 26 Nov in Shanghai.
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 25, 17, 0, 0).unwrap();
        assert_eq!(r.today(at), NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
    }
}
