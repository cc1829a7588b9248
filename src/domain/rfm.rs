//! Member analytics rules (pure): purchase occasions, RFM values and quintile scores, the 8-way
//! RFM segment table, tags (高净值, 价格敏感, 新客, 流失预警), dormancy and its reason, the
//! repurchase cycle per member × category, and the churn warning.
//!
//! Everything is in shop-local dates and whole fen; callers (`members::history`,
//! `analytics`) gather the occasions and pass `as_of`. Definitions (also in
//! docs/members-analytics.md, "RFM, dormancy, repurchase and churn"):
//!
//! - An **occasion** is one shop-local day with purchases: several purchases of one member on
//!   one day are merged (amounts summed, categories united). Only occasions on or before `as_of`
//!   count.
//! - The **window** is the `window_days` days ending at `as_of` (both ends inclusive).
//! - **Recency** (RFM) = days from the last occasion to `as_of`; **frequency** = occasions in the
//!   window; **monetary** = Σ amount in the window, fen.
//! - **Quintile score** of a value among the n ranked members: `1 + ⌊5·lo / n⌋` where `lo` is the
//!   number of members with a strictly worse value. Ties share the lowest score of their group.
//!   Worse = older last occasion (recency), fewer occasions (frequency), less spend (monetary).
//!   Ranked: members with at least one occasion up to `as_of`; others get no scores.
//! - **Segment**: high = score ≥ 3, see [`Segment`] for the table.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Rule parameters (`[analytics]` in config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmParams {
    /// Days of the RFM window ending at `as_of`.
    pub window_days: u32,
    /// A member is dormant when their last occasion is at least this many days before `as_of`.
    pub dormant_after_days: u32,
    /// 价格敏感 when coupon + promotion discounts are at least this share (bp) of list spend.
    pub price_sensitive_bp: u32,
    /// 新客 when the first occasion is fewer than this many days before `as_of`.
    pub new_member_days: u32,
    /// Recent period of the churn warning, days ending at `as_of`.
    pub churn_window_days: u32,
    /// 流失预警 when the recent rate is below this fraction (bp) of the earlier rate.
    pub churn_fraction_bp: u32,
    /// A repurchase reminder is due this many days before the expected date.
    pub remind_days_before: u32,
}

impl Default for RfmParams {
    fn default() -> Self {
        RfmParams {
            window_days: 365,
            dormant_after_days: 60,
            price_sensitive_bp: 3000,
            new_member_days: 30,
            churn_window_days: 90,
            churn_fraction_bp: 5000,
            remind_days_before: 3,
        }
    }
}

/// One purchase (or a merged day of purchases) of one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occasion {
    /// Shop-local date.
    pub date: NaiveDate,
    /// Paid, fen (returns netted by the caller).
    pub amount_fen: i64,
    /// Taken off by coupons, fen.
    pub coupon_fen: i64,
    /// Taken off by promotions, fen.
    pub promo_fen: i64,
    /// Categories bought, sorted, each once ([`occasions`] sorts and merges them). A short
    /// vector, not a set: millions of occasions with one category each are read per run.
    pub categories: Vec<String>,
}

/// Merges purchases into occasions: one per date (amounts summed, categories united), sorted by
/// date; purchases after `as_of` are left out.
pub fn occasions(purchases: impl IntoIterator<Item = Occasion>, as_of: NaiveDate) -> Vec<Occasion> {
    let mut by_day: BTreeMap<NaiveDate, Occasion> = BTreeMap::new();
    for mut p in purchases.into_iter().filter(|p| p.date <= as_of) {
        match by_day.get_mut(&p.date) {
            Some(o) => {
                o.amount_fen = o.amount_fen.saturating_add(p.amount_fen);
                o.coupon_fen = o.coupon_fen.saturating_add(p.coupon_fen);
                o.promo_fen = o.promo_fen.saturating_add(p.promo_fen);
                o.categories.append(&mut p.categories);
                o.categories.sort_unstable();
                o.categories.dedup();
            }
            None => {
                if p.categories.len() > 1 {
                    p.categories.sort_unstable();
                    p.categories.dedup();
                }
                by_day.insert(p.date, p);
            }
        }
    }
    by_day.into_values().collect()
}

/// What one member brings to the rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInput {
    /// Occasions up to `as_of`, sorted by date, one per date (see [`occasions`]).
    pub occasions: Vec<Occasion>,
    /// Shop-local dates of the member's returns.
    pub returns: Vec<NaiveDate>,
    /// An open service ticket (tickets do not exist yet: callers pass `false`).
    pub has_open_ticket: bool,
}

/// RFM values and the lifetime figures of the BG/NBD paper, before scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RfmValues {
    /// Days from the last occasion to `as_of`; `None` without occasions.
    pub days_since_last: Option<i64>,
    /// Occasions in the window.
    pub window_occasions: u32,
    /// Σ amount in the window, fen.
    pub monetary_fen: i64,
    /// Σ coupon + promotion discounts in the window, fen.
    pub discount_fen: i64,
    /// Repeat occasions (all occasions after the first), as in Fader, Hardie & Lee (2005).
    pub repeat_frequency: u32,
    /// Days from the first to the last occasion (paper's recency); 0 without occasions.
    pub recency_span_days: i64,
    /// Days from the first occasion to `as_of` (paper's T); 0 without occasions.
    pub age_days: i64,
}

/// First day of the `days`-long period ending at `as_of` (inclusive).
fn period_start(as_of: NaiveDate, days: u32) -> NaiveDate {
    as_of - chrono::Duration::days(i64::from(days.max(1)) - 1)
}

/// The values of one member.
pub fn values(input: &MemberInput, as_of: NaiveDate, p: &RfmParams) -> RfmValues {
    let start = period_start(as_of, p.window_days);
    let occ: Vec<&Occasion> = input.occasions.iter().filter(|o| o.date <= as_of).collect();
    let in_window = occ.iter().filter(|o| o.date >= start);
    let (mut n, mut money, mut disc) = (0u32, 0i64, 0i64);
    for o in in_window {
        n += 1;
        money = money.saturating_add(o.amount_fen);
        disc = disc.saturating_add(o.coupon_fen).saturating_add(o.promo_fen);
    }
    let first = occ.first().map(|o| o.date);
    let last = occ.last().map(|o| o.date);
    RfmValues {
        days_since_last: last.map(|d| (as_of - d).num_days()),
        window_occasions: n,
        monetary_fen: money,
        discount_fen: disc,
        repeat_frequency: u32::try_from(occ.len().saturating_sub(1)).unwrap_or(u32::MAX),
        recency_span_days: match (first, last) {
            (Some(f), Some(l)) => (l - f).num_days(),
            _ => 0,
        },
        age_days: first.map_or(0, |f| (as_of - f).num_days()),
    }
}

/// Quintile scores of `keys` (higher key = better): `1 + ⌊5·lo / n⌋`, `lo` = keys strictly lower.
pub fn quintile_scores(keys: &[i64]) -> Vec<u8> {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    keys.iter()
        .map(|k| {
            let lo = sorted.partition_point(|x| x < k);
            // lo < n, so the score is 1..=5.
            u8::try_from(1 + 5 * lo / n).unwrap_or(5)
        })
        .collect()
}

/// R, F and M scores, 1–5 each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scores {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

/// Scores of every member with an occasion (others `None`), ranked among those members.
pub fn score_all(values: &[RfmValues]) -> Vec<Option<Scores>> {
    let ranked: Vec<(usize, &RfmValues)> =
        values.iter().enumerate().filter(|(_, v)| v.days_since_last.is_some()).collect();
    let r_keys: Vec<i64> = ranked.iter().map(|(_, v)| -v.days_since_last.unwrap_or(0)).collect();
    let f_keys: Vec<i64> = ranked.iter().map(|(_, v)| i64::from(v.window_occasions)).collect();
    let m_keys: Vec<i64> = ranked.iter().map(|(_, v)| v.monetary_fen).collect();
    let (r, f, m) = (quintile_scores(&r_keys), quintile_scores(&f_keys), quintile_scores(&m_keys));
    let mut out = vec![None; values.len()];
    for (k, (i, _)) in ranked.iter().enumerate() {
        out[*i] = Some(Scores { r: r[k], f: f[k], m: m[k] });
    }
    out
}

/// The 8-way RFM segment (high = score ≥ 3):
///
/// | R | F | M | 中文 | English | id |
/// |---|---|---|---|---|---|
/// | high | high | high | 重要价值 | Champions | `champions` |
/// | high | low | high | 重要发展 | Potential loyalists | `potential_loyalists` |
/// | low | high | high | 重要保持 | Can't lose them | `cant_lose_them` |
/// | low | low | high | 重要挽留 | At risk – big spenders | `at_risk_big_spenders` |
/// | high | high | low | 一般价值 | Loyal | `loyal` |
/// | high | low | low | 一般发展 | Promising | `promising` |
/// | low | high | low | 一般保持 | Need attention | `need_attention` |
/// | low | low | low | 一般挽留 | Hibernating | `hibernating` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    PotentialLoyalists,
    CantLoseThem,
    AtRiskBigSpenders,
    Loyal,
    Promising,
    NeedAttention,
    Hibernating,
}

impl Segment {
    /// Every segment, in the order of the table above.
    pub const ALL: [Segment; 8] = [
        Segment::Champions,
        Segment::PotentialLoyalists,
        Segment::CantLoseThem,
        Segment::AtRiskBigSpenders,
        Segment::Loyal,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::Hibernating,
    ];

    /// Segment of the scores per the table above.
    pub fn of(s: Scores) -> Segment {
        match (s.r >= 3, s.f >= 3, s.m >= 3) {
            (true, true, true) => Segment::Champions,
            (true, false, true) => Segment::PotentialLoyalists,
            (false, true, true) => Segment::CantLoseThem,
            (false, false, true) => Segment::AtRiskBigSpenders,
            (true, true, false) => Segment::Loyal,
            (true, false, false) => Segment::Promising,
            (false, true, false) => Segment::NeedAttention,
            (false, false, false) => Segment::Hibernating,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::PotentialLoyalists => "potential_loyalists",
            Segment::CantLoseThem => "cant_lose_them",
            Segment::AtRiskBigSpenders => "at_risk_big_spenders",
            Segment::Loyal => "loyal",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need_attention",
            Segment::Hibernating => "hibernating",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Segment::Champions => "重要价值",
            Segment::PotentialLoyalists => "重要发展",
            Segment::CantLoseThem => "重要保持",
            Segment::AtRiskBigSpenders => "重要挽留",
            Segment::Loyal => "一般价值",
            Segment::Promising => "一般发展",
            Segment::NeedAttention => "一般保持",
            Segment::Hibernating => "一般挽留",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::PotentialLoyalists => "Potential loyalists",
            Segment::CantLoseThem => "Can't lose them",
            Segment::AtRiskBigSpenders => "At risk – big spenders",
            Segment::Loyal => "Loyal",
            Segment::Promising => "Promising",
            Segment::NeedAttention => "Need attention",
            Segment::Hibernating => "Hibernating",
        }
    }
}

/// Automatic tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// 高净值: M score 5.
    HighValue,
    /// 价格敏感: coupon + promotion discounts ≥ `price_sensitive_bp` of list spend
    /// (paid + those discounts) in the window.
    PriceSensitive,
    /// 新客: first occasion fewer than `new_member_days` days before `as_of`.
    New,
    /// 流失预警: see [`churn_warning`].
    ChurnWarning,
}

impl Tag {
    pub fn id(self) -> &'static str {
        match self {
            Tag::HighValue => "high_value",
            Tag::PriceSensitive => "price_sensitive",
            Tag::New => "new",
            Tag::ChurnWarning => "churn_warning",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Tag::HighValue => "高净值",
            Tag::PriceSensitive => "价格敏感",
            Tag::New => "新客",
            Tag::ChurnWarning => "流失预警",
        }
    }
}

/// 价格敏感: `discount · 10000 ≥ bp · (paid + discount)`, with list spend > 0.
pub fn price_sensitive(v: &RfmValues, p: &RfmParams) -> bool {
    let list = i128::from(v.monetary_fen) + i128::from(v.discount_fen);
    list > 0 && i128::from(v.discount_fen) * 10_000 >= i128::from(p.price_sensitive_bp) * list
}

/// Churn warning. Recent period = the `churn_window_days` days ending at `as_of`; earlier period =
/// from the first occasion to the day before the recent period (E days). Recent rate = recent
/// occasions ÷ `churn_window_days`; earlier rate = earlier occasions ÷ E. Warned when E ≥
/// `churn_window_days` (enough history), the earlier period has at least 2 occasions (an
/// established rate), and recent rate < `churn_fraction_bp`/10000 × earlier rate, i.e.
/// `recent · E · 10000 < bp · earlier · churn_window_days`.
pub fn churn_warning(occ: &[Occasion], as_of: NaiveDate, p: &RfmParams) -> bool {
    let w = i64::from(p.churn_window_days.max(1));
    let recent_start = period_start(as_of, p.churn_window_days);
    let Some(first) = occ.first().map(|o| o.date) else { return false };
    let earlier_days = (recent_start - first).num_days();
    if earlier_days < w {
        return false;
    }
    let recent = occ.iter().filter(|o| o.date >= recent_start && o.date <= as_of).count() as i128;
    let earlier = occ.iter().filter(|o| o.date < recent_start).count() as i128;
    earlier >= 2
        && recent * i128::from(earlier_days) * 10_000 < i128::from(p.churn_fraction_bp) * earlier * i128::from(w)
}

/// Why a dormant member stopped buying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DormantReason {
    /// A return in the window, or an open service ticket.
    Experience,
    /// Tagged 价格敏感.
    Price,
    /// Everything else.
    Natural,
}

impl DormantReason {
    /// Every reason.
    pub const ALL: [DormantReason; 3] = [DormantReason::Experience, DormantReason::Price, DormantReason::Natural];

    /// Name for people, Chinese and English.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            DormantReason::Experience => ("体验问题", "Experience"),
            DormantReason::Price => ("价格因素", "Price"),
            DormantReason::Natural => ("自然流失", "Natural"),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            DormantReason::Experience => "experience",
            DormantReason::Price => "price",
            DormantReason::Natural => "natural",
        }
    }
}

/// Everything the rules say about one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberRfm {
    pub values: RfmValues,
    pub scores: Option<Scores>,
    pub segment: Option<Segment>,
    pub tags: Vec<Tag>,
    /// Last occasion ≥ `dormant_after_days` before `as_of` (never for a member without occasions).
    pub dormant: bool,
    /// Set when dormant: experience if a return in the window or an open ticket, else price if
    /// 价格敏感, else natural.
    pub dormant_reason: Option<DormantReason>,
}

/// The rules for every member (scores are ranked among them).
pub fn analyse(inputs: &[MemberInput], as_of: NaiveDate, p: &RfmParams) -> Vec<MemberRfm> {
    let vals: Vec<RfmValues> = inputs.iter().map(|i| values(i, as_of, p)).collect();
    let scores = score_all(&vals);
    let window_start = period_start(as_of, p.window_days);
    inputs
        .iter()
        .zip(vals)
        .zip(scores)
        .map(|((input, v), s)| {
            let mut tags = Vec::new();
            if s.is_some_and(|s| s.m == 5) {
                tags.push(Tag::HighValue);
            }
            let price = price_sensitive(&v, p);
            if price {
                tags.push(Tag::PriceSensitive);
            }
            if v.days_since_last.is_some() && v.age_days < i64::from(p.new_member_days) {
                tags.push(Tag::New);
            }
            if churn_warning(&input.occasions, as_of, p) {
                tags.push(Tag::ChurnWarning);
            }
            let dormant = v.days_since_last.is_some_and(|d| d >= i64::from(p.dormant_after_days));
            let returned = input.returns.iter().any(|d| *d >= window_start && *d <= as_of);
            let dormant_reason = dormant.then_some({
                if returned || input.has_open_ticket {
                    DormantReason::Experience
                } else if price {
                    DormantReason::Price
                } else {
                    DormantReason::Natural
                }
            });
            MemberRfm { values: v, scores: s, segment: s.map(Segment::of), tags, dormant, dormant_reason }
        })
        .collect()
}

/// Median of whole days; an even count takes the mean of the two middle values, rounded down.
pub fn median_days(gaps: &[i64]) -> Option<i64> {
    let mut g = gaps.to_vec();
    g.sort_unstable();
    let n = g.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(g[n / 2]),
        _ => Some((g[n / 2 - 1] + g[n / 2]).div_euclid(2)),
    }
}

/// Gaps in days between consecutive occasions of one member in `category`.
fn category_dates(occ: &[Occasion], category: &str) -> Vec<NaiveDate> {
    occ.iter().filter(|o| o.categories.iter().any(|c| c == category)).map(|o| o.date).collect()
}

fn gaps(dates: &[NaiveDate]) -> Vec<i64> {
    dates.windows(2).map(|w| (w[1] - w[0]).num_days()).collect()
}

/// Where a repurchase interval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalSource {
    /// The member's own median gap (≥ 3 occasions in the category).
    Member,
    /// The median gap of all members in the category.
    Category,
}

/// One member × category repurchase expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repurchase {
    pub member: usize,
    pub category: String,
    pub last: NaiveDate,
    pub interval_days: i64,
    pub source: IntervalSource,
    /// `last + interval_days`.
    pub expected: NaiveDate,
    /// `expected − remind_days_before`.
    pub remind_from: NaiveDate,
    /// `as_of ≥ remind_from` (the member has not bought the category since `last`, by
    /// definition of `last`).
    pub due: bool,
}

/// Repurchase cycle per member (index into `members`) × category. The interval is the member's
/// median gap when they have ≥ 3 occasions in the category, else the category's median over
/// every gap of every member; a category with no gap at all gives no expectation.
pub fn repurchase(members: &[Vec<Occasion>], as_of: NaiveDate, p: &RfmParams) -> Vec<Repurchase> {
    let mut pooled: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut per: Vec<BTreeMap<&str, Vec<NaiveDate>>> = Vec::with_capacity(members.len());
    for occ in members {
        let cats: BTreeSet<&str> = occ.iter().flat_map(|o| o.categories.iter().map(String::as_str)).collect();
        let mut mine = BTreeMap::new();
        for c in cats {
            let dates: Vec<NaiveDate> = category_dates(occ, c).into_iter().filter(|d| *d <= as_of).collect();
            pooled.entry(c).or_default().extend(gaps(&dates));
            mine.insert(c, dates);
        }
        per.push(mine);
    }
    let cat_median: BTreeMap<&str, Option<i64>> = pooled.iter().map(|(c, g)| (*c, median_days(g))).collect();
    let mut out = Vec::new();
    for (member, mine) in per.iter().enumerate() {
        for (c, dates) in mine {
            let Some(last) = dates.last().copied() else { continue };
            let (interval, source) = if dates.len() >= 3 {
                (median_days(&gaps(dates)), IntervalSource::Member)
            } else {
                (cat_median.get(c).copied().flatten(), IntervalSource::Category)
            };
            let Some(interval_days) = interval else { continue };
            let expected = last + chrono::Duration::days(interval_days);
            let remind_from = expected - chrono::Duration::days(i64::from(p.remind_days_before));
            out.push(Repurchase {
                member,
                category: (*c).to_string(),
                last,
                interval_days,
                source,
                expected,
                remind_from,
                due: as_of >= remind_from,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn occ(date: &str, amount: i64, cats: &[&str]) -> Occasion {
        Occasion {
            date: d(date),
            amount_fen: amount,
            coupon_fen: 0,
            promo_fen: 0,
            categories: cats.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn same_day_purchases_are_one_occasion_and_later_ones_are_left_out() {
        let o = occasions(
            vec![occ("2026-03-02", 500, &["milk"]), occ("2026-03-01", 100, &[]), occ("2026-03-02", 250, &["bread"]),
                 occ("2026-03-09", 999, &[])],
            d("2026-03-05"),
        );
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].amount_fen, 100);
        assert_eq!(o[1].amount_fen, 750);
        assert_eq!(o[1].categories.len(), 2);
    }

    #[test]
    fn quintile_edges_and_ties() {
        // 10 distinct values: lo = 0..9 → 1 + ⌊5·lo/10⌋ = 1,1,2,2,3,3,4,4,5,5.
        assert_eq!(quintile_scores(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Ties share the lowest score: [10,10,10,20,30]: 10 → lo 0 → 1; 20 → lo 3 → 1+15/5 = 4;
        // 30 → lo 4 → 5.
        assert_eq!(quintile_scores(&[10, 20, 10, 30, 10]), vec![1, 4, 1, 5, 1]);
        // 3 members: lo 0,1,2 → 1, 1+5/3 = 2, 1+10/3 = 4.
        assert_eq!(quintile_scores(&[7, 8, 9]), vec![1, 2, 4]);
        assert_eq!(quintile_scores(&[5]), vec![1]);
    }

    #[test]
    fn values_recency_counts_recent_days_higher() {
        let p = RfmParams { window_days: 30, ..RfmParams::default() };
        let as_of = d("2026-03-31");
        let m = MemberInput {
            occasions: vec![occ("2026-01-10", 1000, &[]), occ("2026-03-01", 2000, &[]), occ("2026-03-21", 3000, &[])],
            ..MemberInput::default()
        };
        let v = values(&m, as_of, &p);
        // Window 2026-03-02..=03-31 holds only 03-21; 03-01 is one day outside.
        assert_eq!(v.window_occasions, 1);
        assert_eq!(v.monetary_fen, 3000);
        assert_eq!(v.days_since_last, Some(10));
        assert_eq!(v.repeat_frequency, 2);
        assert_eq!(v.recency_span_days, 70);
        assert_eq!(v.age_days, 80);
        // Recency scores: 5 members 1,5,10,20,40 days ago → most recent scores 5.
        let vals: Vec<RfmValues> = [1, 5, 10, 20, 40]
            .iter()
            .map(|days| RfmValues { days_since_last: Some(*days), ..v })
            .collect();
        let s = score_all(&vals);
        let r: Vec<u8> = s.iter().map(|s| s.unwrap().r).collect();
        assert_eq!(r, vec![5, 4, 3, 2, 1]);
        let none = RfmValues { days_since_last: None, ..v };
        assert_eq!(score_all(&[none, v]), vec![None, Some(Scores { r: 1, f: 1, m: 1 })]);
    }

    #[test]
    fn segment_table() {
        let s = |r, f, m| Segment::of(Scores { r, f, m });
        assert_eq!(s(5, 3, 3), Segment::Champions);
        assert_eq!(s(3, 2, 5), Segment::PotentialLoyalists);
        assert_eq!(s(2, 5, 4), Segment::CantLoseThem);
        assert_eq!(s(1, 1, 3), Segment::AtRiskBigSpenders);
        assert_eq!(s(4, 4, 2), Segment::Loyal);
        assert_eq!(s(3, 1, 1), Segment::Promising);
        assert_eq!(s(2, 3, 2), Segment::NeedAttention);
        assert_eq!(s(2, 2, 2), Segment::Hibernating);
        assert_eq!(Segment::AtRiskBigSpenders.name_zh(), "重要挽留");
        assert_eq!(Segment::Champions.name_zh(), "重要价值");
    }

    #[test]
    fn price_sensitive_edge() {
        let p = RfmParams::default();
        let base = values(&MemberInput::default(), d("2026-01-01"), &p);
        // Paid 7000 + discounts 3000 = list 10000: share exactly 3000 bp → tagged.
        let v = RfmValues { monetary_fen: 7000, discount_fen: 3000, ..base };
        assert!(price_sensitive(&v, &p));
        // Paid 7001: 3000·10000 = 30,000,000 < 3000 · 10001 → not tagged.
        let v = RfmValues { monetary_fen: 7001, discount_fen: 3000, ..base };
        assert!(!price_sensitive(&v, &p));
        assert!(!price_sensitive(&base, &p));
    }

    #[test]
    fn churn_warning_worked_numbers() {
        let p = RfmParams::default(); // 90 days, 5000 bp
        let as_of = d("2026-06-30");
        // Recent period 2026-04-02..=06-30. First occasion 2025-12-03: E = 120 days.
        let earlier: Vec<Occasion> =
            ["2025-12-03", "2026-01-02", "2026-02-01", "2026-03-03"].iter().map(|x| occ(x, 100, &[])).collect();
        // 4 earlier in 120 days; recent 1 in 90: 1·120·10000 = 1.2M < 5000·4·90 = 1.8M → warned.
        let mut o = earlier.clone();
        o.push(occ("2026-05-01", 100, &[]));
        assert!(churn_warning(&o, as_of, &p));
        // Recent 2: 2.4M ≥ 1.8M → not warned.
        o.push(occ("2026-06-01", 100, &[]));
        assert!(!churn_warning(&o, as_of, &p));
        // Only one earlier occasion: no established rate.
        assert!(!churn_warning(&[occ("2025-12-03", 1, &[])], as_of, &p));
        // Earlier period shorter than the recent one (first 2026-02-01: E = 60 days).
        let short: Vec<Occasion> = ["2026-02-01", "2026-03-01"].iter().map(|x| occ(x, 1, &[])).collect();
        assert!(!churn_warning(&short, as_of, &p));
    }

    #[test]
    fn tags_dormancy_and_reason() {
        let p = RfmParams::default();
        let as_of = d("2026-06-30");
        let mut discounted = occ("2026-04-01", 600, &[]);
        discounted.coupon_fen = 300;
        discounted.promo_fen = 100; // 400 of list 1000 = 4000 bp ≥ 3000
        let inputs = vec![
            // 0: bought 2026-06-20 (10 days ago), first ever → new, not dormant.
            MemberInput { occasions: vec![occ("2026-06-20", 100_000, &[])], ..MemberInput::default() },
            // 1: last 2026-05-01 (60 days) → dormant; a return in the window → experience.
            MemberInput {
                occasions: vec![occ("2026-05-01", 500, &[])],
                returns: vec![d("2026-05-02")],
                has_open_ticket: false,
            },
            // 2: last 2026-04-01 (90 days), price sensitive → price.
            MemberInput { occasions: vec![discounted], ..MemberInput::default() },
            // 3: last 2026-05-02 (59 days): not dormant yet.
            MemberInput { occasions: vec![occ("2026-05-02", 500, &[])], ..MemberInput::default() },
            // 4: last 2026-03-01, nothing else → natural; an open ticket would make it experience.
            MemberInput { occasions: vec![occ("2026-03-01", 500, &[])], ..MemberInput::default() },
            // 5: never bought.
            MemberInput::default(),
        ];
        let out = analyse(&inputs, as_of, &p);
        assert_eq!(out[0].tags, vec![Tag::HighValue, Tag::New]);
        assert!(!out[0].dormant);
        assert!(out[1].dormant);
        assert_eq!(out[1].dormant_reason, Some(DormantReason::Experience));
        assert_eq!(out[2].tags, vec![Tag::PriceSensitive]);
        assert_eq!(out[2].dormant_reason, Some(DormantReason::Price));
        assert!(!out[3].dormant);
        assert_eq!(out[4].dormant_reason, Some(DormantReason::Natural));
        assert_eq!(out[5].scores, None);
        assert!(!out[5].dormant);
        let mut ticket = inputs.clone();
        ticket[4].has_open_ticket = true;
        assert_eq!(analyse(&ticket, as_of, &p)[4].dormant_reason, Some(DormantReason::Experience));
        // Scores among members 0–4: monetary 100000, 500, 600, 500, 500 → keys sorted
        // [500,500,500,600,100000]: 500 → 1, 600 → lo 3 → 4, 100000 → lo 4 → 5.
        let m: Vec<u8> = out.iter().take(5).map(|o| o.scores.unwrap().m).collect();
        assert_eq!(m, vec![5, 1, 4, 1, 1]);
    }

    #[test]
    fn repurchase_rule() {
        let p = RfmParams::default(); // remind 3 days before
        let as_of = d("2026-03-20");
        let a = vec![
            occ("2026-01-01", 1, &["milk"]),
            occ("2026-01-11", 1, &["milk"]),
            occ("2026-01-25", 1, &["milk", "rice"]),
            occ("2026-02-06", 1, &["milk"]),
        ];
        // a's milk gaps 10, 14, 12 → median 12 (own, 4 occasions); last 02-06 → expected 02-18.
        let b = vec![occ("2026-03-01", 1, &["milk"]), occ("2026-03-09", 1, &["milk"])];
        // b has 2 milk occasions → category median of all gaps [10,14,12,8] → (10+12)/2 = 11;
        // last 03-09 → expected 03-20, remind from 03-17 ≤ 03-20 → due.
        let c = vec![occ("2026-03-19", 1, &["rice"])]; // rice: a has one, c one → no gap at all
        let r = repurchase(&[a, b, c], as_of, &p);
        let find = |m: usize, cat: &str| r.iter().find(|x| x.member == m && x.category == cat).cloned();
        let am = find(0, "milk").unwrap();
        assert_eq!((am.interval_days, am.source, am.expected), (12, IntervalSource::Member, d("2026-02-18")));
        assert!(am.due);
        let bm = find(1, "milk").unwrap();
        assert_eq!((bm.interval_days, bm.source), (11, IntervalSource::Category));
        assert_eq!((bm.expected, bm.remind_from, bm.due), (d("2026-03-20"), d("2026-03-17"), true));
        assert!(find(2, "rice").is_none());
        // One day earlier than the reminder: not due.
        let r2 = repurchase(&[vec![], vec![occ("2026-03-01", 1, &["milk"]), occ("2026-03-09", 1, &["milk"])]], d("2026-03-16"), &p);
        // Only b's gap 8 pooled now → interval 8, expected 03-17, remind 03-14 → due on 03-16.
        assert_eq!((r2[0].interval_days, r2[0].due), (8, true));
        let r3 = repurchase(&[vec![occ("2026-03-01", 1, &["milk"]), occ("2026-03-09", 1, &["milk"])]], d("2026-03-13"), &p);
        assert!(!r3[0].due);
        assert_eq!(median_days(&[3, 1, 2]), Some(2));
        assert_eq!(median_days(&[]), None);
    }
}
