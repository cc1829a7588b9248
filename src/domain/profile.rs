//! Member preference profiles (会员画像): the pure arithmetic behind "会员A偏好高端护肤品":
//! category preferences as a recency-weighted share of spend, price sensitivity (share of spend
//! on a promotion or with a coupon), preferred weekday and hour, channel mix, average basket.
//! [`ProfileState`] is the incremental form `members::profile` stores per member and updates in
//! every sale's and return's commit: per-category decayed spend with the day it was last decayed
//! (the same shares as [`category_preferences`] over all lines, proved in the tests), weekday ×
//! hour counts, channel counts, deal spend and totals. [`ProfileState::summary`] turns it into the
//! shares pages and the API show. Personal suggestions (`members::recommend`) read the same
//! category preferences.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

use super::channel::SalesChannel;
use super::reports::{share_bp, shares_bp};

/// Half-life of the category preferences a stored profile keeps: spend 90 days old counts half.
pub const HALF_LIFE_DAYS: u32 = 90;

/// Weekday × hour slots a profile counts tickets in (Monday 00:00–00:59 is slot 0).
pub const SLOTS: usize = 7 * 24;

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
    let mut weighted: BTreeMap<&str, f64> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.net_fen > 0) {
        *weighted.entry(l.category.as_str()).or_insert(0.0) += decay(i64::from(l.days_ago), half_life_days) * l.net_fen as f64;
    }
    shares_of_weighted(weighted)
}

/// `0.5^(days / half_life)`: the weight of spend `days` old (`half_life_days` of 0 counts as 1).
pub fn decay(days: i64, half_life_days: u32) -> f64 {
    0.5f64.powf(days as f64 / f64::from(half_life_days.max(1)))
}

/// Shares of positive weighted spend, largest first then by name (see [`category_preferences`]).
fn shares_of_weighted(weighted: BTreeMap<&str, f64>) -> Vec<CategoryShare> {
    let weighted: BTreeMap<&str, f64> = weighted.into_iter().filter(|(_, w)| *w > 0.0).collect();
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

/// One sold line as a profile counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileLine {
    pub category: String,
    /// What the shopper paid for the line, fen (after every discount).
    pub net_fen: i64,
    /// Pieces; a weighed line counts as one item.
    pub items: i64,
    /// A promotion took something off the line (its own discount or its share of a 满减).
    pub promotion: bool,
    /// A coupon took something off the line (its share of the coupon).
    pub coupon: bool,
}

/// One paid ticket of the member. `at` is shop-local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileTicket {
    pub at: NaiveDateTime,
    pub channel: SalesChannel,
    pub lines: Vec<ProfileLine>,
}

/// One returned line: what was refunded of a sold line, and that line's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRefundLine {
    pub category: String,
    /// Shop-local day of the sale the line belongs to (its spend decayed from that day).
    pub sale_day: NaiveDate,
    pub refund_fen: i64,
    /// Items that came back (pieces; a weighed line counts 1 when it came back whole).
    pub items: i64,
    pub promotion: bool,
    pub coupon: bool,
}

/// One return against the member's sale. `day` is the return's shop-local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRefund {
    pub day: NaiveDate,
    pub lines: Vec<ProfileRefundLine>,
}

/// A category's spend in a profile: net (refunds taken off) and decayed to
/// [`ProfileState::decayed_to`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategorySpend {
    pub category: String,
    pub net_fen: i64,
    /// Σ net × 0.5^(days from the line's sale day to `decayed_to` ÷ half-life). A statistic
    /// (f64), never shown as money.
    pub weighted_fen: f64,
}

/// What a profile keeps, updated one ticket or refund at a time. Order-free: the same tickets
/// and refunds in any order give the same state (up to float rounding in `weighted_fen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileState {
    pub half_life_days: u32,
    /// The shop-local day every `weighted_fen` is decayed to: the latest day seen.
    pub decayed_to: Option<NaiveDate>,
    /// By category name.
    pub categories: Vec<CategorySpend>,
    pub tickets: u32,
    /// Σ line nets − Σ refunds, fen.
    pub spend_fen: i64,
    /// Items bought − items returned.
    pub items: i64,
    /// Lines bought, and those on a promotion or with a coupon (returns do not change these).
    pub lines: u32,
    pub deal_lines: u32,
    /// Net spend on lines with a promotion, with a coupon, with either (fen, refunds netted).
    pub promotion_fen: i64,
    pub coupon_fen: i64,
    pub deal_fen: i64,
    /// Tickets per weekday × hour: index = (ISO weekday − 1) × 24 + hour ([`SLOTS`] entries).
    pub slots: Vec<u32>,
    /// Tickets per channel, in [`SalesChannel::ALL`] order.
    pub channels: Vec<u32>,
    /// Shop-local time of the latest ticket.
    pub last_purchase: Option<NaiveDateTime>,
}

/// The member's price sensitivity (价格敏感度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PriceSensitivity {
    /// Net spend on lines with a promotion or a coupon ÷ net spend, bp: the headline figure.
    pub deal_share_bp: i64,
    pub promotion_share_bp: i64,
    pub coupon_share_bp: i64,
    /// Lines with a promotion or a coupon ÷ lines, bp.
    pub deal_lines_share_bp: i64,
}

/// Tickets of one channel and their share of the member's tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelShare {
    #[schema(value_type = String)]
    pub channel: SalesChannel,
    pub tickets: u32,
    /// Largest remainder: the shares of a member add up to 10 000.
    pub share_bp: i64,
}

/// The profile as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileSummary {
    /// Preferred categories (偏好品类), largest share first.
    #[schema(value_type = Vec<Object>)]
    pub categories: Vec<CategoryShare>,
    pub price_sensitivity: PriceSensitivity,
    /// ISO weekday (1 = Monday … 7 = Sunday) with the most tickets; the earliest on a tie.
    pub preferred_weekday: Option<u32>,
    pub preferred_weekday_share_bp: i64,
    /// Shop-local hour (0–23) with the most tickets; the earliest on a tie.
    pub preferred_hour: Option<u32>,
    pub preferred_hour_share_bp: i64,
    /// Channel mix (渠道构成): channels with tickets, most first.
    pub channels: Vec<ChannelShare>,
    /// Net spend ÷ tickets, half up (客单价).
    pub average_basket_fen: i64,
    /// Net items ÷ tickets, two decimals.
    pub average_items: f64,
    /// Tickets (visits).
    pub visits: u32,
    pub spend_fen: i64,
    /// Shop-local time of the last purchase.
    #[schema(value_type = Option<String>)]
    pub last_purchase: Option<NaiveDateTime>,
    pub half_life_days: u32,
}

impl ProfileState {
    /// An empty profile whose category spend halves every `half_life_days`.
    pub fn new(half_life_days: u32) -> ProfileState {
        ProfileState {
            half_life_days: half_life_days.max(1),
            decayed_to: None,
            categories: Vec::new(),
            tickets: 0,
            spend_fen: 0,
            items: 0,
            lines: 0,
            deal_lines: 0,
            promotion_fen: 0,
            coupon_fen: 0,
            deal_fen: 0,
            slots: vec![0; SLOTS],
            channels: vec![0; SalesChannel::ALL.len()],
            last_purchase: None,
        }
    }

    /// Decays every category to `day` if it is later than `decayed_to`; gives the day the
    /// weights now refer to.
    fn decay_to(&mut self, day: NaiveDate) -> NaiveDate {
        match self.decayed_to {
            Some(d) if d >= day => d,
            Some(d) => {
                let f = decay((day - d).num_days(), self.half_life_days);
                for c in &mut self.categories {
                    c.weighted_fen *= f;
                }
                self.decayed_to = Some(day);
                day
            }
            None => {
                self.decayed_to = Some(day);
                day
            }
        }
    }

    fn category(&mut self, name: &str) -> &mut CategorySpend {
        let i = match self.categories.binary_search_by(|c| c.category.as_str().cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                self.categories.insert(i, CategorySpend { category: name.to_string(), net_fen: 0, weighted_fen: 0.0 });
                i
            }
        };
        &mut self.categories[i]
    }

    /// Counts a paid ticket.
    pub fn add_ticket(&mut self, t: &ProfileTicket) {
        let day = t.at.date();
        let reference = self.decay_to(day);
        let w = decay((reference - day).num_days(), self.half_life_days);
        self.tickets = self.tickets.saturating_add(1);
        let slot = t.at.weekday().num_days_from_monday() as usize * 24 + t.at.hour() as usize;
        if let Some(s) = self.slots.get_mut(slot) {
            *s = s.saturating_add(1);
        }
        if let Some(i) = SalesChannel::ALL.iter().position(|c| *c == t.channel) {
            if let Some(n) = self.channels.get_mut(i) {
                *n = n.saturating_add(1);
            }
        }
        if self.last_purchase.is_none_or(|l| l < t.at) {
            self.last_purchase = Some(t.at);
        }
        for l in &t.lines {
            let net = l.net_fen.max(0);
            self.spend_fen = self.spend_fen.saturating_add(net);
            self.items = self.items.saturating_add(l.items);
            self.lines = self.lines.saturating_add(1);
            if l.promotion {
                self.promotion_fen = self.promotion_fen.saturating_add(net);
            }
            if l.coupon {
                self.coupon_fen = self.coupon_fen.saturating_add(net);
            }
            if l.promotion || l.coupon {
                self.deal_fen = self.deal_fen.saturating_add(net);
                self.deal_lines = self.deal_lines.saturating_add(1);
            }
            if net > 0 {
                let c = self.category(&l.category);
                c.net_fen = c.net_fen.saturating_add(net);
                c.weighted_fen += net as f64 * w;
            }
        }
    }

    /// Takes a refund off: spend, items, deal spend and the category's decayed spend (decayed
    /// from the sale's day, so the category ends as if the line had been bought for less).
    pub fn add_refund(&mut self, r: &ProfileRefund) {
        let reference = self.decay_to(r.day);
        for l in &r.lines {
            let refund = l.refund_fen.max(0);
            self.spend_fen -= refund;
            self.items -= l.items;
            if l.promotion {
                self.promotion_fen -= refund;
            }
            if l.coupon {
                self.coupon_fen -= refund;
            }
            if l.promotion || l.coupon {
                self.deal_fen -= refund;
            }
            if refund > 0 {
                let w = decay((reference - l.sale_day).num_days().max(0), self.half_life_days);
                let c = self.category(&l.category);
                c.net_fen -= refund;
                c.weighted_fen -= refund as f64 * w;
                if c.net_fen <= 0 || c.weighted_fen < 0.0 {
                    c.weighted_fen = c.weighted_fen.max(0.0);
                }
                if c.net_fen <= 0 {
                    c.weighted_fen = 0.0;
                }
            }
        }
        self.categories.retain(|c| c.net_fen > 0);
    }

    /// Adds `other`'s tickets and refunds to this profile, as if they had all been counted here
    /// (a member merged into this one): categories decayed to the later of both days and summed,
    /// counts summed, the later last purchase. Both must have the same half-life (every stored
    /// profile has [`HALF_LIFE_DAYS`]).
    pub fn absorb(&mut self, other: &ProfileState) {
        if let Some(d) = other.decayed_to {
            let reference = self.decay_to(d);
            let f = decay((reference - d).num_days(), self.half_life_days);
            for c in &other.categories {
                let mine = self.category(&c.category);
                mine.net_fen = mine.net_fen.saturating_add(c.net_fen);
                mine.weighted_fen += c.weighted_fen * f;
            }
            self.categories.retain(|c| c.net_fen > 0);
        }
        self.tickets = self.tickets.saturating_add(other.tickets);
        self.spend_fen = self.spend_fen.saturating_add(other.spend_fen);
        self.items = self.items.saturating_add(other.items);
        self.lines = self.lines.saturating_add(other.lines);
        self.deal_lines = self.deal_lines.saturating_add(other.deal_lines);
        self.promotion_fen = self.promotion_fen.saturating_add(other.promotion_fen);
        self.coupon_fen = self.coupon_fen.saturating_add(other.coupon_fen);
        self.deal_fen = self.deal_fen.saturating_add(other.deal_fen);
        for (mine, theirs) in self.slots.iter_mut().zip(&other.slots) {
            *mine = mine.saturating_add(*theirs);
        }
        for (mine, theirs) in self.channels.iter_mut().zip(&other.channels) {
            *mine = mine.saturating_add(*theirs);
        }
        if other.last_purchase > self.last_purchase {
            self.last_purchase = other.last_purchase;
        }
    }

    /// The shares and averages of the profile.
    pub fn summary(&self) -> ProfileSummary {
        let weighted: BTreeMap<&str, f64> = self.categories.iter().map(|c| (c.category.as_str(), c.weighted_fen)).collect();
        let weekdays: Vec<i64> = (0..7).map(|d| self.slots.iter().skip(d * 24).take(24).map(|n| i64::from(*n)).sum()).collect();
        let hours: Vec<i64> = (0..24).map(|h| (0..7).map(|d| self.slots.get(d * 24 + h).map_or(0, |n| i64::from(*n))).sum()).collect();
        let busiest = |v: &[i64]| -> Option<usize> {
            let max = *v.iter().max()?;
            (max > 0).then(|| v.iter().position(|x| *x == max)).flatten()
        };
        let tickets = i64::from(self.tickets);
        let (weekday, hour) = (busiest(&weekdays), busiest(&hours));
        let counts: Vec<i64> = (0..SalesChannel::ALL.len()).map(|i| self.channels.get(i).map_or(0, |n| i64::from(*n))).collect();
        let shares = shares_bp(&counts);
        let mut channels: Vec<ChannelShare> = SalesChannel::ALL
            .iter()
            .zip(counts.iter().zip(&shares))
            .filter(|(_, (n, _))| **n > 0)
            .map(|(c, (n, s))| ChannelShare { channel: *c, tickets: u32::try_from(*n).unwrap_or(u32::MAX), share_bp: *s })
            .collect();
        channels.sort_by(|a, b| b.tickets.cmp(&a.tickets).then(a.channel.cmp(&b.channel)));
        ProfileSummary {
            categories: shares_of_weighted(weighted),
            price_sensitivity: PriceSensitivity {
                deal_share_bp: share_bp(self.deal_fen, self.spend_fen),
                promotion_share_bp: share_bp(self.promotion_fen, self.spend_fen),
                coupon_share_bp: share_bp(self.coupon_fen, self.spend_fen),
                deal_lines_share_bp: share_bp(i64::from(self.deal_lines), i64::from(self.lines)),
            },
            preferred_weekday: weekday.map(|d| d as u32 + 1),
            preferred_weekday_share_bp: weekday.map_or(0, |d| share_bp(weekdays[d], tickets)),
            preferred_hour: hour.map(|h| h as u32),
            preferred_hour_share_bp: hour.map_or(0, |h| share_bp(hours[h], tickets)),
            channels,
            average_basket_fen: if tickets > 0 { i64::try_from(super::money::round_half_up_div(i128::from(self.spend_fen), i128::from(tickets))).unwrap_or(0) } else { 0 },
            average_items: if tickets > 0 { (self.items as f64 / tickets as f64 * 100.0).round() / 100.0 } else { 0.0 },
            visits: self.tickets,
            spend_fen: self.spend_fen,
            last_purchase: self.last_purchase,
            half_life_days: self.half_life_days,
        }
    }
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
    fn at(day: u32, hour: u32, minute: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap().and_hms_opt(hour, minute, 0).unwrap()
    }

    fn pl(category: &str, net_fen: i64, items: i64, promotion: bool, coupon: bool) -> ProfileLine {
        ProfileLine { category: category.into(), net_fen, items, promotion, coupon }
    }

    /// Three tickets: Monday 2 Nov 10:15 in store (护肤 ¥100 on a promotion, 零食 ¥20 × 2),
    /// Monday 9 Nov 10:40 in store (护肤 ¥60 with a coupon), Saturday 14 Nov 19:05 by delivery
    /// (零食 ¥20, 4 items). Spend ¥200; on a deal ¥160 = 80 %, promotion ¥100 = 50 %, coupon ¥60
    /// = 30 %, 2 of 4 lines = 50 %. Monday and 10 h: 2 of 3 tickets = 66.67 %. In store 2 of 3
    /// (66.67 %), delivery 33.33 %. Average basket ¥200 ÷ 3 = ¥66.67, items 8 ÷ 3 = 2.67.
    #[test]
    fn a_member_profile_in_worked_numbers() {
        let mut p = ProfileState::new(90);
        p.add_ticket(&ProfileTicket { at: at(2, 10, 15), channel: SalesChannel::InStore, lines: vec![pl("护肤", 10_000, 1, true, false), pl("零食", 2_000, 2, false, false)] });
        p.add_ticket(&ProfileTicket { at: at(9, 10, 40), channel: SalesChannel::InStore, lines: vec![pl("护肤", 6_000, 1, false, true)] });
        p.add_ticket(&ProfileTicket { at: at(14, 19, 5), channel: SalesChannel::Delivery, lines: vec![pl("零食", 2_000, 4, false, false)] });
        let s = p.summary();
        assert_eq!(s.price_sensitivity, PriceSensitivity { deal_share_bp: 8_000, promotion_share_bp: 5_000, coupon_share_bp: 3_000, deal_lines_share_bp: 5_000 });
        assert_eq!((s.preferred_weekday, s.preferred_weekday_share_bp), (Some(1), 6_667));
        assert_eq!((s.preferred_hour, s.preferred_hour_share_bp), (Some(10), 6_667));
        assert_eq!(
            s.channels,
            vec![
                ChannelShare { channel: SalesChannel::InStore, tickets: 2, share_bp: 6_667 },
                ChannelShare { channel: SalesChannel::Delivery, tickets: 1, share_bp: 3_333 },
            ]
        );
        assert_eq!((s.average_basket_fen, s.average_items, s.visits, s.spend_fen), (6_667, 2.67, 3, 20_000));
        assert_eq!(s.last_purchase, Some(at(14, 19, 5)));
        // 护肤 and 零食 as category_preferences weighs them, 14 Nov being "today".
        let lines = [line(12, "护肤", 10_000), line(12, "零食", 2_000), line(5, "护肤", 6_000), line(0, "零食", 2_000)];
        assert_eq!(s.categories, category_preferences(&lines, 90));
        assert_eq!(s.categories[0].category, "护肤");
    }

    /// Half-life 7 days. 1 Nov: 护肤 ¥100; 15 Nov (two half-lives later): 零食 ¥75. Decayed to
    /// 15 Nov: 护肤 ¥25, 零食 ¥75 → 25 % / 75 %. A ¥50 refund of the 零食 line on 15 Nov leaves
    /// ¥25 each → 50 % / 50 %; refunding the rest of it leaves 护肤 alone at 100 %.
    #[test]
    fn category_spend_decays_by_half_lives_and_refunds_net_it() {
        let mut p = ProfileState::new(7);
        p.add_ticket(&ProfileTicket { at: at(1, 9, 0), channel: SalesChannel::InStore, lines: vec![pl("护肤", 10_000, 1, false, false)] });
        p.add_ticket(&ProfileTicket { at: at(15, 9, 0), channel: SalesChannel::MiniProgram, lines: vec![pl("零食", 7_500, 3, false, true)] });
        let share = |p: &ProfileState| p.summary().categories.iter().map(|c| (c.category.clone(), c.share_bp)).collect::<Vec<_>>();
        assert_eq!(share(&p), vec![("零食".to_string(), 7_500), ("护肤".to_string(), 2_500)]);
        let refund = |fen: i64, items: i64| ProfileRefund {
            day: NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(),
            lines: vec![ProfileRefundLine { category: "零食".into(), sale_day: NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(), refund_fen: fen, items, promotion: false, coupon: true }],
        };
        p.add_refund(&refund(5_000, 2));
        assert_eq!(share(&p), vec![("护肤".to_string(), 5_000), ("零食".to_string(), 5_000)]);
        assert_eq!((p.spend_fen, p.items, p.coupon_fen), (12_500, 2, 2_500));
        assert_eq!(p.summary().price_sensitivity.coupon_share_bp, 2_000);
        p.add_refund(&refund(2_500, 1));
        assert_eq!(share(&p), vec![("护肤".to_string(), 10_000)]);
        assert_eq!(p.summary().visits, 2, "a refund is no fewer visits");
        assert_eq!(ProfileState::new(30).summary().categories, vec![]);
        assert_eq!(ProfileState::new(30).summary().preferred_weekday, None);
    }

    /// The incremental profile gives category_preferences' shares over every line (returns
    /// netted per line), whatever order tickets and refunds arrive in: 300 tickets over 400 days
    /// in 6 categories, a third of them partly or wholly refunded days later.
    #[test]
    fn incremental_category_shares_equal_category_preferences_over_all_lines() {
        let mut seed: u64 = 0x5eed;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let start = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
        let cats = ["护肤", "零食", "饮料", "奶粉", "日化", "生鲜"];
        let mut p = ProfileState::new(30);
        let mut lines: Vec<(NaiveDate, String, i64)> = Vec::new();
        let mut pending_refunds = Vec::new();
        for _ in 0..300 {
            let day = start + chrono::Duration::days(next(400) as i64);
            let cat = cats[next(cats.len() as u64) as usize].to_string();
            let net = 100 + next(20_000) as i64;
            let t = ProfileTicket { at: day.and_hms_opt(8 + next(12) as u32, 0, 0).unwrap(), channel: SalesChannel::InStore, lines: vec![pl(&cat, net, 1, false, false)] };
            p.add_ticket(&t);
            let refund = match next(3) {
                0 => net,
                1 => net / 3,
                _ => 0,
            };
            if refund > 0 {
                let later = day + chrono::Duration::days(next(20) as i64);
                pending_refunds.push(ProfileRefund { day: later, lines: vec![ProfileRefundLine { category: cat.clone(), sale_day: day, refund_fen: refund, items: 1, promotion: false, coupon: false }] });
            }
            lines.push((day, cat, net - refund));
        }
        for r in &pending_refunds {
            p.add_refund(r);
        }
        let today = p.decayed_to.unwrap();
        let spend: Vec<SpendLine> = lines.iter().map(|(d, c, n)| SpendLine { days_ago: (today - *d).num_days() as u32, category: c.clone(), net_fen: *n }).collect();
        let expected = category_preferences(&spend, 30);
        assert_eq!(expected.len(), 6);
        assert_eq!(p.summary().categories, expected);
        // Each category's decayed spend agrees to a millionth of a fen.
        for c in &p.categories {
            let direct: f64 = spend.iter().filter(|l| l.category == c.category && l.net_fen > 0).map(|l| l.net_fen as f64 * decay(i64::from(l.days_ago), 30)).sum();
            assert!((c.weighted_fen - direct).abs() < 1e-6, "{}: {} vs {direct}", c.category, c.weighted_fen);
        }
    }
    /// Two members' profiles absorbed into one equal one profile that counted every ticket.
    #[test]
    fn absorbing_a_merged_members_profile_is_counting_their_tickets_here() {
        let t1 = ProfileTicket { at: at(2, 10, 15), channel: SalesChannel::InStore, lines: vec![pl("护肤", 10_000, 1, true, false)] };
        let t2 = ProfileTicket { at: at(20, 19, 5), channel: SalesChannel::Delivery, lines: vec![pl("零食", 2_000, 4, false, true)] };
        let t3 = ProfileTicket { at: at(9, 10, 40), channel: SalesChannel::MiniProgram, lines: vec![pl("护肤", 6_000, 1, false, false), pl("饮料", 500, 2, false, false)] };
        let mut all = ProfileState::new(30);
        for t in [&t1, &t2, &t3] {
            all.add_ticket(t);
        }
        let (mut a, mut b) = (ProfileState::new(30), ProfileState::new(30));
        a.add_ticket(&t1);
        a.add_ticket(&t2);
        b.add_ticket(&t3);
        let mut b_first = b.clone();
        a.absorb(&b);
        assert_eq!(a.summary(), all.summary());
        // The other way round: the older profile absorbs the newer one.
        let mut a2 = ProfileState::new(30);
        a2.add_ticket(&t1);
        a2.add_ticket(&t2);
        b_first.absorb(&a2);
        assert_eq!(b_first.summary(), all.summary());
        // An empty profile changes nothing.
        let before = all.summary();
        all.absorb(&ProfileState::new(30));
        assert_eq!(all.summary(), before);
    }
}
