//! The pure rules of a campaign (休眠唤醒 and more): who it targets (segments, tags, dormancy
//! reasons, tiers and a custom filter over one member's analytics row and record), who is held
//! out (a deterministic random share of the targets, per campaign and member), the built-in
//! playbooks, the funnel arithmetic (targeted → reached → responded → converted, revenue) and how
//! much the campaign moved conversion compared with the held-out group (uplift with a 95 %
//! confidence interval and a two-proportion z-test). No I/O, no clock: the caller passes `today`
//! and the campaign's window. `members::campaigns` gathers the inputs and stores the results.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::assoc::ItemKey;
use crate::domain::pricing::CouponKind;

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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

// --- Targeting -----------------------------------------------------------------------------------

/// Whom a campaign targets. Each non-empty list must match (one of its values is enough), each
/// set filter must hold; an empty target takes every member.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    /// Segment ids (`hibernating`, `cant_lose_them` …, see `domain::rfm::Segment::id`).
    pub segments: Vec<String>,
    /// Tag ids (`high_value`, `price_sensitive`, `new`, `churn_warning`): any of them.
    pub tags: Vec<String>,
    /// Dormancy reasons (`experience`, `price`, `natural`): the member must be dormant with one.
    pub dormant_reasons: Vec<String>,
    /// Tier ids.
    pub tiers: Vec<String>,
    pub filter: Filter,
    /// "Bought X but never Y" (买了 X 但从未买过 Y), X and Y a SKU or a category each.
    pub bought_but_never: Option<BoughtButNever>,
}

/// The "bought X but never Y" target: members whose purchases (all time, lines returned in full
/// left out) include `bought` and not `never`. JSON
/// `{"bought": {"sku": "MILK-1"}, "never": {"category": "奶瓶"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoughtButNever {
    pub bought: ItemKey,
    pub never: ItemKey,
}

/// The custom filter of a target; every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filter {
    /// Dormant by the `[analytics]` rule (any reason).
    pub dormant: Option<bool>,
    /// Days since the last purchase at least this (members who never bought never match).
    pub days_since_last_min: Option<i64>,
    /// Days since the last purchase at most this.
    pub days_since_last_max: Option<i64>,
    /// Spend in the RFM window at least this many fen.
    pub min_monetary_fen: Option<i64>,
    /// BG/NBD probability alive below this, in bp (3000 = 30 %); members without a model value
    /// never match.
    pub p_alive_below_bp: Option<u32>,
    /// Birthday (month and day) within this many days from today, today included (0 = today).
    pub birthday_within_days: Option<u32>,
    /// Some points expire within this many days from today, today included.
    pub points_expiring_within_days: Option<u32>,
    /// A repurchase reminder is due (any category).
    pub repurchase_due: Option<bool>,
}

/// One member as targeting sees it: the analytics row's values and the record's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidate<'a> {
    pub member_id: u64,
    pub tier: &'a str,
    pub segment: Option<&'a str>,
    pub tags: &'a [String],
    pub dormant: bool,
    pub dormant_reason: Option<&'a str>,
    pub days_since_last: Option<i64>,
    pub monetary_fen: i64,
    pub p_alive: Option<f64>,
    pub repurchase_due: bool,
    pub birthday: Option<NaiveDate>,
    /// Open point lots: (last usable day, points remaining).
    pub lots: &'a [(Option<NaiveDate>, i64)],
    /// What the member ever bought, SKUs and categories, sorted (filled when a target asks
    /// "bought X but never Y"; empty otherwise).
    pub bought: &'a [ItemKey],
}

/// Days from `today` to the next birthday (0 when it is today). 29 February counts as
/// 28 February in years without it.
pub fn days_to_birthday(birthday: NaiveDate, today: NaiveDate) -> i64 {
    let on = |year: i32| {
        NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day().saturating_sub(1)))
    };
    match on(today.year()) {
        Some(d) if d >= today => (d - today).num_days(),
        _ => on(today.year() + 1).map_or(i64::MAX, |d| (d - today).num_days()),
    }
}

fn listed(list: &[String], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l == v))
}

/// Whether the candidate is in the target on shop-local `today`.
pub fn matches(target: &Target, c: &Candidate, today: NaiveDate) -> bool {
    let f = &target.filter;
    let within = |days: i64, limit: u32| (0..=i64::from(limit)).contains(&days);
    listed(&target.segments, c.segment)
        && (target.tags.is_empty() || c.tags.iter().any(|t| target.tags.contains(t)))
        && (target.dormant_reasons.is_empty() || (c.dormant && listed(&target.dormant_reasons, c.dormant_reason)))
        && listed(&target.tiers, Some(c.tier))
        && f.dormant.is_none_or(|d| d == c.dormant)
        && f.days_since_last_min.is_none_or(|min| c.days_since_last.is_some_and(|d| d >= min))
        && f.days_since_last_max.is_none_or(|max| c.days_since_last.is_some_and(|d| d <= max))
        && f.min_monetary_fen.is_none_or(|min| c.monetary_fen >= min)
        && f.p_alive_below_bp.is_none_or(|bp| c.p_alive.is_some_and(|p| p * 10_000.0 < f64::from(bp)))
        && f.birthday_within_days.is_none_or(|n| c.birthday.is_some_and(|b| within(days_to_birthday(b, today), n)))
        && f.points_expiring_within_days.is_none_or(|n| {
            c.lots.iter().any(|(exp, left)| *left > 0 && exp.is_some_and(|e| within((e - today).num_days(), n)))
        })
        && f.repurchase_due.is_none_or(|due| due == c.repurchase_due)
        && target.bought_but_never.as_ref().is_none_or(|b| c.bought.binary_search(&b.bought).is_ok() && c.bought.binary_search(&b.never).is_err())
}

// --- Offers and playbooks ------------------------------------------------------------------------

/// What a treated member gets besides the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Offer {
    /// One coupon of this template. JSON: `{"coupon": {"template_id": "WAKE-200-50"}}`.
    Coupon { template_id: String },
    /// Purchases in the response window earn points × `multiplier_bp / 10 000`.
    /// JSON: `{"points_multiplier": {"multiplier_bp": 20000}}`.
    PointsMultiplier { multiplier_bp: u32 },
    /// Only the message. JSON: `"message_only"`.
    MessageOnly,
}

/// The coupon template a playbook creates when it is missing (`coupons::CouponTemplate` with
/// these values, valid `valid_days` from issue, one per member, active).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookCoupon {
    pub template_id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub kind: CouponKind,
    pub min_spend_fen: i64,
    pub valid_days: u32,
}

/// The message template a playbook creates when it is missing: zh-CN text with member variables
/// in `{{…}}` (`name`, `coupon`, `points`, `expiring_points`, `expiring_date`, `store`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookMessage {
    pub template_id: &'static str,
    pub name_zh: &'static str,
    pub text_zh: &'static str,
}

/// A built-in campaign the manager starts in one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub target: Target,
    pub coupon: Option<PlaybookCoupon>,
    /// Purchases in the window earn this points multiplier (member day).
    pub points_multiplier_bp: Option<u32>,
    pub message: PlaybookMessage,
    /// Also open a follow-up service ticket per treated member (dormant-experience).
    pub follow_up_ticket: bool,
}

/// The built-in playbooks' ids, in the order the page shows them.
pub const PLAYBOOKS: [&str; 7] =
    ["dormant-natural", "dormant-experience", "dormant-price", "birthday", "points-expiring", "repurchase-reminder", "member-day"];

/// A built-in playbook by id; `None` for an unknown id.
pub fn playbook(id: &str) -> Option<Playbook> {
    let dormant = |reason: &str| Target { dormant_reasons: vec![reason.to_string()], ..Target::default() };
    let filter = |f: Filter| Target { filter: f, ..Target::default() };
    let coupon = |template_id, name_zh, name_en, kind, min_spend_fen, valid_days| {
        Some(PlaybookCoupon { template_id, name_zh, name_en, kind, min_spend_fen, valid_days })
    };
    let message = |template_id, name_zh, text_zh| PlaybookMessage { template_id, name_zh, text_zh };
    let p = match id {
        "dormant-natural" => Playbook {
            id: "dormant-natural",
            name_zh: "休眠唤醒·新品到店",
            name_en: "Dormant (natural): new items and a nearby-store offer",
            target: dormant("natural"),
            coupon: coupon("PB-WAKE-20", "老朋友回店券 满100减20", "Welcome back: ¥20 off ¥100", CouponKind::Threshold { min_spend_fen: 10_000, off_fen: 2_000 }, 10_000, 14),
            points_multiplier_bp: None,
            message: message("PB-WAKE-NEW", "新品到店提醒", "{{name}}您好，{{store}}上新啦！送您一张{{coupon}}，14天内到店可用，期待再见。"),
            follow_up_ticket: false,
        },
        "dormant-experience" => Playbook {
            id: "dormant-experience",
            name_zh: "休眠唤醒·服务回访",
            name_en: "Dormant (experience): service follow-up and an apology coupon",
            target: dormant("experience"),
            coupon: coupon("PB-SORRY-30", "致歉券 30元", "Apology coupon ¥30 off", CouponKind::Fixed { off_fen: 3_000 }, 0, 30),
            points_multiplier_bp: None,
            message: message("PB-SORRY", "服务致歉", "{{name}}您好，上次的购物体验让您失望了，非常抱歉。{{store}}为您准备了一张{{coupon}}，店长会尽快与您联系。"),
            follow_up_ticket: true,
        },
        "dormant-price" => Playbook {
            id: "dormant-price",
            name_zh: "休眠唤醒·满减优惠",
            name_en: "Dormant (price): ¥50 off ¥200",
            target: dormant("price"),
            coupon: coupon("PB-200-50", "满200减50券", "¥50 off ¥200", CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 5_000 }, 20_000, 14),
            points_multiplier_bp: None,
            message: message("PB-200-50", "满减券到账", "{{name}}您好，一张{{coupon}}已放入您的会员账户，14天内在{{store}}使用。"),
            follow_up_ticket: false,
        },
        "birthday" => Playbook {
            id: "birthday",
            name_zh: "生日关怀",
            name_en: "Birthday",
            target: filter(Filter { birthday_within_days: Some(7), ..Filter::default() }),
            coupon: coupon("PB-BDAY-20", "生日券 20元", "Birthday coupon ¥20 off", CouponKind::Fixed { off_fen: 2_000 }, 5_000, 14),
            points_multiplier_bp: None,
            message: message("PB-BDAY", "生日祝福", "{{name}}，生日快乐！{{store}}送您一张{{coupon}}，愿您天天开心。"),
            follow_up_ticket: false,
        },
        "points-expiring" => Playbook {
            id: "points-expiring",
            name_zh: "积分到期提醒",
            name_en: "Points expiring",
            target: filter(Filter { points_expiring_within_days: Some(30), ..Filter::default() }),
            coupon: None,
            points_multiplier_bp: None,
            message: message("PB-POINTS-EXP", "积分到期提醒", "{{name}}您好，您有{{expiring_points}}积分将于{{expiring_date}}到期，欢迎到{{store}}使用。"),
            follow_up_ticket: false,
        },
        "repurchase-reminder" => Playbook {
            id: "repurchase-reminder",
            name_zh: "复购提醒",
            name_en: "Repurchase reminder",
            target: filter(Filter { repurchase_due: Some(true), ..Filter::default() }),
            coupon: coupon("PB-REBUY-10", "复购券 满50减10", "Repurchase: ¥10 off ¥50", CouponKind::Threshold { min_spend_fen: 5_000, off_fen: 1_000 }, 5_000, 7),
            points_multiplier_bp: None,
            message: message("PB-REBUY", "复购提醒", "{{name}}您好，您常买的商品该补货啦，{{store}}送您一张{{coupon}}。"),
            follow_up_ticket: false,
        },
        "member-day" => Playbook {
            id: "member-day",
            name_zh: "会员日双倍积分",
            name_en: "Member day: double points",
            target: Target::default(),
            coupon: None,
            points_multiplier_bp: Some(20_000),
            message: message("PB-MEMBER-DAY", "会员日", "{{name}}您好，{{store}}会员日来啦：活动期间消费积分翻倍，当前积分{{points}}。"),
            follow_up_ticket: false,
        },
        _ => return None,
    };
    Some(p)
}

// --- Funnel --------------------------------------------------------------------------------------

/// One targeted member as the funnel sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunnelMember {
    pub held_out: bool,
    /// HQ reported the message delivered (or clicked, which implies it arrived).
    pub delivered: bool,
    pub clicked: bool,
    /// The campaign coupon was used on a sale (at any time in the window).
    pub coupon_used: bool,
    /// The member's purchases: (when, net fen).
    pub purchases: Vec<(DateTime<Utc>, i64)>,
}

/// A campaign's measured funnel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    /// Every member the target selected: treated + held out.
    pub targeted: u64,
    pub treated: u64,
    pub held_out: u64,
    /// Treated members whose message HQ reported delivered.
    pub reached: u64,
    /// Treated members who used the campaign coupon or clicked the message.
    pub responded: u64,
    /// Treated members with a purchase in [launch, launch + window).
    pub converted: u64,
    /// Net fen of those purchases.
    pub revenue_fen: i64,
    /// Held-out members with a purchase in the window, and its fen.
    pub holdout_converted: u64,
    pub holdout_revenue_fen: i64,
    /// Conversion of treated vs held out; `None` while a group is empty.
    pub uplift: Option<Uplift>,
}

/// The funnel of members over the window `[start, end)`: purchases outside it do not count.
pub fn funnel(members: &[FunnelMember], start: DateTime<Utc>, end: DateTime<Utc>) -> Funnel {
    let mut f = Funnel::default();
    for m in members {
        let in_window: Vec<i64> = m.purchases.iter().filter(|(at, _)| *at >= start && *at < end).map(|(_, fen)| *fen).collect();
        let revenue: i64 = in_window.iter().fold(0i64, |s, v| s.saturating_add(*v));
        let converted = !in_window.is_empty();
        f.targeted += 1;
        if m.held_out {
            f.held_out += 1;
            if converted {
                f.holdout_converted += 1;
                f.holdout_revenue_fen = f.holdout_revenue_fen.saturating_add(revenue);
            }
            continue;
        }
        f.treated += 1;
        f.reached += u64::from(m.delivered || m.clicked);
        f.responded += u64::from(m.coupon_used || m.clicked);
        if converted {
            f.converted += 1;
            f.revenue_fen = f.revenue_fen.saturating_add(revenue);
        }
    }
    f.uplift = uplift(f.treated, f.converted, f.held_out, f.holdout_converted);
    f
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

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_else(|| panic!("a date"))
    }

    #[test]
    fn targeting_matches_lists_and_the_custom_filter() {
        let today = d(2026, 11, 25);
        let tags = vec!["price_sensitive".to_string()];
        let lots = [(Some(d(2026, 12, 10)), 300), (None, 50)];
        // A dormant price-sensitive silver member: 90 days since the last purchase, ¥850 in the
        // window, p_alive 0.18, birthday 1 December, 300 points expiring 10 December.
        let c = Candidate {
            member_id: 7,
            tier: "silver",
            segment: Some("hibernating"),
            tags: &tags,
            dormant: true,
            dormant_reason: Some("price"),
            days_since_last: Some(90),
            monetary_fen: 85_000,
            p_alive: Some(0.18),
            repurchase_due: false,
            birthday: Some(d(1990, 12, 1)),
            lots: &lots,
            bought: &[],
        };
        assert!(matches(&Target::default(), &c, today), "an empty target takes everyone");
        let t = |f: Filter| Target { filter: f, ..Target::default() };
        assert!(matches(&Target { dormant_reasons: vec!["price".into(), "natural".into()], ..Target::default() }, &c, today));
        assert!(!matches(&Target { dormant_reasons: vec!["natural".into()], ..Target::default() }, &c, today));
        assert!(matches(&Target { segments: vec!["hibernating".into()], tiers: vec!["silver".into()], tags: tags.clone(), ..Target::default() }, &c, today));
        assert!(!matches(&Target { tiers: vec!["gold".into()], ..Target::default() }, &c, today));
        assert!(!matches(&Target { tags: vec!["high_value".into()], ..Target::default() }, &c, today));
        // Days since last: 90 is inside [60, 90] and outside [91, ∞).
        assert!(matches(&t(Filter { days_since_last_min: Some(60), days_since_last_max: Some(90), ..Filter::default() }), &c, today));
        assert!(!matches(&t(Filter { days_since_last_min: Some(91), ..Filter::default() }), &c, today));
        // ¥850 ≥ ¥800 but < ¥850.01.
        assert!(matches(&t(Filter { min_monetary_fen: Some(80_000), ..Filter::default() }), &c, today));
        assert!(!matches(&t(Filter { min_monetary_fen: Some(85_001), ..Filter::default() }), &c, today));
        // p_alive 0.18 = 1800 bp: below 2000, not below 1800.
        assert!(matches(&t(Filter { p_alive_below_bp: Some(2000), ..Filter::default() }), &c, today));
        assert!(!matches(&t(Filter { p_alive_below_bp: Some(1800), ..Filter::default() }), &c, today));
        // Birthday 1 December is 6 days after 25 November.
        assert!(matches(&t(Filter { birthday_within_days: Some(6), ..Filter::default() }), &c, today));
        assert!(!matches(&t(Filter { birthday_within_days: Some(5), ..Filter::default() }), &c, today));
        // 300 points expire 10 December, 15 days away; the never-expiring lot never counts.
        assert!(matches(&t(Filter { points_expiring_within_days: Some(15), ..Filter::default() }), &c, today));
        assert!(!matches(&t(Filter { points_expiring_within_days: Some(14), ..Filter::default() }), &c, today));
        assert!(!matches(&t(Filter { repurchase_due: Some(true), ..Filter::default() }), &c, today));
        assert!(matches(&t(Filter { dormant: Some(true), ..Filter::default() }), &c, today));
        // Never bought: no days since last, no p_alive; day filters never match.
        let never = Candidate { days_since_last: None, p_alive: None, dormant: false, dormant_reason: None, ..c.clone() };
        assert!(!matches(&t(Filter { days_since_last_max: Some(1000), ..Filter::default() }), &never, today));
        assert!(!matches(&t(Filter { p_alive_below_bp: Some(10_000), ..Filter::default() }), &never, today));
        assert!(!matches(&Target { dormant_reasons: vec!["price".into()], ..Target::default() }, &never, today));
    }

    /// Bought 奶粉 (SKU F) but never a 奶瓶 (category): a member with F and only 尿布 matches; one
    /// who also bought a 奶瓶 does not; one who never bought F does not.
    #[test]
    fn bought_x_but_never_y() {
        let today = d(2026, 11, 25);
        let t = Target {
            bought_but_never: Some(BoughtButNever { bought: ItemKey::Sku("F".into()), never: ItemKey::Category("奶瓶".into()) }),
            ..Target::default()
        };
        let mut a = vec![ItemKey::Sku("F".into()), ItemKey::Category("尿布".into())];
        a.sort();
        let mut b = vec![ItemKey::Sku("F".into()), ItemKey::Category("奶瓶".into())];
        b.sort();
        let c = vec![ItemKey::Category("奶瓶".into())];
        assert!(matches(&t, &Candidate { bought: &a, ..Candidate::default() }, today));
        assert!(!matches(&t, &Candidate { bought: &b, ..Candidate::default() }, today));
        assert!(!matches(&t, &Candidate { bought: &c, ..Candidate::default() }, today));
        assert!(!matches(&t, &Candidate::default(), today));
        let json: Target = serde_json::from_str(r#"{"bought_but_never": {"bought": {"sku": "F"}, "never": {"category": "奶瓶"}}}"#).unwrap();
        assert_eq!(json, t);
    }

    #[test]
    fn birthdays_wrap_the_year_and_29_february_falls_on_the_28th() {
        assert_eq!(days_to_birthday(d(1990, 11, 25), d(2026, 11, 25)), 0);
        assert_eq!(days_to_birthday(d(1990, 1, 3), d(2026, 12, 30)), 4);
        // 2027 has no 29 February: the 28th, 60 days after 30 December 2026.
        assert_eq!(days_to_birthday(d(2000, 2, 29), d(2026, 12, 30)), 60);
        assert_eq!(days_to_birthday(d(2000, 2, 29), d(2028, 2, 1)), 28);
    }

    #[test]
    fn every_playbook_is_defined_and_dormant_ones_target_their_reason() {
        for id in PLAYBOOKS {
            let p = playbook(id).unwrap_or_else(|| panic!("{id} is defined"));
            assert_eq!(p.id, id);
            assert!(p.message.text_zh.contains("{{name}}"), "{id}");
        }
        assert_eq!(playbook("dormant-price").and_then(|p| p.coupon).map(|c| c.kind), Some(CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 5_000 }));
        assert_eq!(playbook("dormant-experience").map(|p| (p.follow_up_ticket, p.target.dormant_reasons)), Some((true, vec!["experience".to_string()])));
        assert_eq!(playbook("member-day").and_then(|p| p.points_multiplier_bp), Some(20_000));
        assert!(playbook("spring-sale").is_none());
    }

    #[test]
    fn the_funnel_counts_each_stage_in_the_window_only() {
        use chrono::TimeZone;
        let at = |day: u32| Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).single().unwrap_or_else(|| panic!("a time"));
        let (start, end) = (at(10), at(24));
        let m = |held_out, delivered, clicked, coupon_used, purchases: Vec<(DateTime<Utc>, i64)>| FunnelMember { held_out, delivered, clicked, coupon_used, purchases };
        let members = vec![
            // Delivered, used the coupon and bought twice in the window: ¥150 + ¥80.
            m(false, true, false, true, vec![(at(12), 15_000), (at(20), 8_000)]),
            // Delivered and clicked, bought before the launch and on the window's last moment
            // (end is exclusive): no conversion.
            m(false, true, true, false, vec![(at(9), 5_000), (end, 9_900)]),
            // Clicked without a delivery report (reached all the same), bought ¥60.
            m(false, false, true, false, vec![(at(11), 6_000)]),
            // Failed message, nothing else.
            m(false, false, false, false, vec![]),
            // Held out: one bought ¥45, one did not.
            m(true, false, false, false, vec![(at(15), 4_500)]),
            m(true, false, false, false, vec![]),
        ];
        let f = funnel(&members, start, end);
        assert_eq!((f.targeted, f.treated, f.held_out), (6, 4, 2));
        assert_eq!((f.reached, f.responded, f.converted), (3, 3, 2));
        assert_eq!(f.revenue_fen, 15_000 + 8_000 + 6_000);
        assert_eq!((f.holdout_converted, f.holdout_revenue_fen), (1, 4_500));
        // 2/4 = 50 % against 1/2 = 50 %: no uplift.
        let u = f.uplift.unwrap_or_else(|| panic!("both groups have members"));
        assert_eq!((u.treated_rate, u.holdout_rate, u.uplift), (0.5, 0.5, 0.0));
        assert_eq!(funnel(&members[..4], start, end).uplift, None, "no holdout, no uplift");
    }
}
