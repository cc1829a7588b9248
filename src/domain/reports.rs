//! Sales figures from plain facts: the dashboard's day and the reports (sales trend, products,
//! categories, members by tier, repurchase, new members, cashiers, shifts). Pure: the caller
//! (`crate::reports`) reads the store, turns records into the facts below (times already
//! shop-local) and feeds them to accumulators, one fact at a time, so a year of sales never has
//! to sit in memory; each accumulator's `finish` gives the rows.
//!
//! The rules, worded once (docs/web.md, "Dashboard and reports", says the same):
//! - **Sales** of a ticket = its total after every discount (`priced.total_fen`), before cash
//!   rounding (抹零). A ticket counts on the shop-local day and hour it was paid.
//! - **Refunds** count on the day of the return, as paid back (`refund_fen`), whatever day the
//!   sale was. **Net sales** = sales − refunds of the same period.
//! - **Average ticket** = sales ÷ tickets, rounded half up (returns do not change it).
//! - **Members' share** = sales of tickets with a member ÷ sales, in basis points, half up.
//! - **Repurchase rate** = members with purchases on ≥ 2 different shop-local days in the range
//!   ÷ members with ≥ 1 purchase in the range, in basis points. Returns do not undo a purchase.
//! - Shares of a whole (categories, tiers) are split by largest remainder over the positive
//!   values, so they add up to exactly 10 000 bp; a value ≤ 0 has a share of 0.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

use super::money::round_half_up_div;

/// The longest range a report covers.
pub const MAX_RANGE_DAYS: i64 = 366;

/// 100 % in basis points.
const WHOLE_BP: i64 = 10_000;

/// A shop-local date range, both ends included, at most [`MAX_RANGE_DAYS`] days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("`to` ({to}) is before `from` ({from})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the range covers {days} days; a report covers at most {MAX_RANGE_DAYS}")]
    TooLong { days: i64 },
}

impl DateRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<DateRange, RangeError> {
        if to < from {
            return Err(RangeError::Reversed { from, to });
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_RANGE_DAYS {
            return Err(RangeError::TooLong { days });
        }
        Ok(DateRange { from, to })
    }

    /// One day.
    pub fn day(d: NaiveDate) -> DateRange {
        DateRange { from: d, to: d }
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// `YYYY-MM-DD`, nothing else.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The buckets of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    /// ISO 8601 week, Monday to Sunday.
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s.trim() {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The first day of the bucket holding `d`.
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
            Period::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// The first day of the next bucket after the one starting at `start`.
    fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => start + Duration::days(1),
            Period::Week => start + Duration::days(7),
            Period::Month => start.checked_add_months(chrono::Months::new(1)).unwrap_or(start + Duration::days(31)),
        }
    }

    /// `2026-11-25`, `2026-W48` (ISO week-numbering year), `2026-11`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Day => start.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => start.format("%Y-%m").to_string(),
        }
    }

    /// The buckets covering `range`, in order: (first day of the bucket, label).
    pub fn buckets(self, range: &DateRange) -> Vec<(NaiveDate, String)> {
        let mut out = Vec::new();
        let mut start = self.start_of(range.from);
        while start <= range.to {
            out.push((start, self.label(start)));
            start = self.next(start);
        }
        out
    }
}

/// How much of a product: pieces (a label-priced pack is one piece) or grams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Qty {
    Pieces(i64),
    Grams(i64),
}

/// One sold line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFact {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub qty: Qty,
    /// What the shopper paid for the line, after its discounts and its share of ticket ones.
    pub net_fen: i64,
}

/// One paid ticket. `at` is shop-local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleFact {
    pub id: u64,
    pub at: NaiveDateTime,
    pub lane: String,
    pub cashier: String,
    pub member_id: Option<u64>,
    /// The member's tier when they paid.
    pub tier: Option<String>,
    pub total_fen: i64,
    pub lines: Vec<LineFact>,
    /// Where the ticket was sold (the lanes: in store).
    pub channel: super::channel::SalesChannel,
}

/// The sale a return was made against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnedSale {
    pub id: u64,
    pub cashier: String,
    pub member_id: Option<u64>,
    pub tier: Option<String>,
    pub channel: super::channel::SalesChannel,
}

/// One returned line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnLineFact {
    pub sku: String,
    pub category: String,
    pub qty: Qty,
    pub refund_fen: i64,
}

/// One return. `at` is shop-local; `by` is the staff who took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnFact {
    pub id: u64,
    pub at: NaiveDateTime,
    pub by: String,
    pub lane: String,
    pub refund_fen: i64,
    /// `None` for a return without receipt.
    pub sale: Option<ReturnedSale>,
    pub lines: Vec<ReturnLineFact>,
}

/// A cart emptied with lines on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidFact {
    pub at: NaiveDateTime,
    pub lane: String,
    /// Who was signed in on the lane.
    pub cashier: Option<String>,
    pub lines: u32,
    pub value_fen: i64,
}

fn div_half_up(n: i64, d: i64) -> i64 {
    if d == 0 {
        return 0;
    }
    i64::try_from(round_half_up_div(i128::from(n), i128::from(d))).unwrap_or(i64::MAX)
}

/// `part` of `whole` in basis points, half up; 0 when `whole` ≤ 0.
pub fn share_bp(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    i64::try_from(round_half_up_div(i128::from(part) * i128::from(WHOLE_BP), i128::from(whole))).unwrap_or(0)
}

/// Each value's share of the sum of the positive values, in basis points, by largest
/// remainder: the shares of positive values add up to exactly 10 000 (ties to the earlier
/// value); values ≤ 0 get 0. All zero when nothing is positive.
pub fn shares_bp(values: &[i64]) -> Vec<i64> {
    let total: i128 = values.iter().filter(|v| **v > 0).map(|v| i128::from(*v)).sum();
    if total <= 0 {
        return vec![0; values.len()];
    }
    let mut shares = Vec::with_capacity(values.len());
    let mut rems = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        if *v <= 0 {
            shares.push(0i64);
            continue;
        }
        let scaled = i128::from(*v) * i128::from(WHOLE_BP);
        shares.push(i64::try_from(scaled / total).unwrap_or(0));
        rems.push((scaled % total, i));
    }
    let given: i64 = shares.iter().sum();
    let mut left = WHOLE_BP - given;
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left <= 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

/// Sales, refunds, tickets and their ratios over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Σ ticket totals.
    pub sales_fen: i64,
    /// Σ refunds of returns in the period.
    pub refunds_fen: i64,
    /// sales − refunds.
    pub net_sales_fen: i64,
    pub tickets: u64,
    /// sales ÷ tickets, half up.
    pub average_ticket_fen: i64,
    /// Σ totals of tickets with a member.
    pub member_sales_fen: i64,
    /// member sales ÷ sales, bp.
    pub member_share_bp: i64,
    pub member_tickets: u64,
    pub returns: u64,
    pub voids: u64,
}

/// Accumulates [`Totals`].
#[derive(Debug, Clone, Default)]
pub struct TotalsAcc {
    t: Totals,
}

impl TotalsAcc {
    pub fn sale(&mut self, s: &SaleFact) {
        self.t.sales_fen = self.t.sales_fen.saturating_add(s.total_fen);
        self.t.tickets += 1;
        if s.member_id.is_some() {
            self.t.member_sales_fen = self.t.member_sales_fen.saturating_add(s.total_fen);
            self.t.member_tickets += 1;
        }
    }

    pub fn ret(&mut self, r: &ReturnFact) {
        self.t.refunds_fen = self.t.refunds_fen.saturating_add(r.refund_fen);
        self.t.returns += 1;
    }

    pub fn void(&mut self, _v: &VoidFact) {
        self.t.voids += 1;
    }

    pub fn finish(self) -> Totals {
        let mut t = self.t;
        t.net_sales_fen = t.sales_fen.saturating_sub(t.refunds_fen);
        t.average_ticket_fen = div_half_up(t.sales_fen, i64::try_from(t.tickets).unwrap_or(i64::MAX));
        t.member_share_bp = share_bp(t.member_sales_fen, t.sales_fen);
        t
    }
}

/// Sales of one hour of the day (shop-local), by the hour the ticket was paid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HourBucket {
    /// 0–23.
    pub hour: u32,
    pub sales_fen: i64,
    pub tickets: u64,
}

/// Accumulates 24 [`HourBucket`]s.
#[derive(Debug, Clone)]
pub struct HourlyAcc {
    hours: [HourBucket; 24],
}

impl Default for HourlyAcc {
    fn default() -> Self {
        let mut hours = [HourBucket::default(); 24];
        for (h, b) in hours.iter_mut().enumerate() {
            b.hour = h as u32;
        }
        HourlyAcc { hours }
    }
}

impl HourlyAcc {
    pub fn sale(&mut self, s: &SaleFact) {
        let b = &mut self.hours[(s.at.hour() as usize).min(23)];
        b.sales_fen = b.sales_fen.saturating_add(s.total_fen);
        b.tickets += 1;
    }

    pub fn finish(self) -> Vec<HourBucket> {
        self.hours.to_vec()
    }
}

/// One product's figures over a period. `pieces` and `grams` are net of returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProductRow {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    pub pieces: i64,
    pub grams: i64,
    /// Σ line nets.
    pub sales_fen: i64,
    /// Σ refunds of its returned lines.
    pub refunds_fen: i64,
    /// sales − refunds.
    pub net_fen: i64,
    /// Tickets with the product on them.
    pub tickets: u64,
}

/// Accumulates [`ProductRow`]s by sku.
#[derive(Debug, Clone, Default)]
pub struct ProductsAcc {
    rows: HashMap<String, ProductRow>,
}

fn add_qty(row: &mut ProductRow, q: Qty, sign: i64) {
    match q {
        Qty::Pieces(n) => row.pieces = row.pieces.saturating_add(sign * n),
        Qty::Grams(g) => row.grams = row.grams.saturating_add(sign * g),
    }
}

impl ProductsAcc {
    pub fn sale(&mut self, s: &SaleFact) {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for l in &s.lines {
            let row = self.rows.entry(l.sku.clone()).or_insert_with(|| ProductRow { sku: l.sku.clone(), ..ProductRow::default() });
            // Names and category as last sold.
            row.name_zh.clone_from(&l.name_zh);
            row.name_en.clone_from(&l.name_en);
            row.category.clone_from(&l.category);
            add_qty(row, l.qty, 1);
            row.sales_fen = row.sales_fen.saturating_add(l.net_fen);
            if seen.insert(l.sku.as_str()) {
                row.tickets += 1;
            }
        }
    }

    pub fn ret(&mut self, r: &ReturnFact) {
        for l in &r.lines {
            let row = self.rows.entry(l.sku.clone()).or_insert_with(|| ProductRow { sku: l.sku.clone(), category: l.category.clone(), ..ProductRow::default() });
            add_qty(row, l.qty, -1);
            row.refunds_fen = row.refunds_fen.saturating_add(l.refund_fen);
        }
    }

    /// Every product, best net sales first (then sku).
    pub fn finish(self) -> Vec<ProductRow> {
        let mut rows: Vec<ProductRow> = self
            .rows
            .into_values()
            .map(|mut r| {
                r.net_fen = r.sales_fen.saturating_sub(r.refunds_fen);
                r
            })
            .collect();
        rows.sort_by(|a, b| b.net_fen.cmp(&a.net_fen).then_with(|| a.sku.cmp(&b.sku)));
        rows
    }
}

/// The `n` best by net sales (rows as [`ProductsAcc::finish`] sorts them), positive only.
pub fn top_by_net(rows: &[ProductRow], n: usize) -> Vec<ProductRow> {
    rows.iter().filter(|r| r.net_fen > 0).take(n).cloned().collect()
}

/// The `n` products sold in the most pieces (weighed goods, counted in grams, are ranked by net
/// sales only), then by net sales, then sku.
pub fn top_by_pieces(rows: &[ProductRow], n: usize) -> Vec<ProductRow> {
    let mut v: Vec<&ProductRow> = rows.iter().filter(|r| r.pieces > 0).collect();
    v.sort_by(|a, b| b.pieces.cmp(&a.pieces).then(b.net_fen.cmp(&a.net_fen)).then_with(|| a.sku.cmp(&b.sku)));
    v.into_iter().take(n).cloned().collect()
}

/// One category's net sales and its share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CategoryRow {
    pub category: String,
    pub sales_fen: i64,
    pub refunds_fen: i64,
    pub net_fen: i64,
    /// Share of the categories' net sales ([`shares_bp`]).
    pub share_bp: i64,
}

/// Categories from product rows, biggest net first.
pub fn categories(products: &[ProductRow]) -> Vec<CategoryRow> {
    let mut by: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for p in products {
        let e = by.entry(p.category.as_str()).or_default();
        e.0 = e.0.saturating_add(p.sales_fen);
        e.1 = e.1.saturating_add(p.refunds_fen);
    }
    let mut rows: Vec<CategoryRow> = by
        .into_iter()
        .map(|(c, (s, r))| CategoryRow { category: c.to_string(), sales_fen: s, refunds_fen: r, net_fen: s.saturating_sub(r), share_bp: 0 })
        .collect();
    rows.sort_by(|a, b| b.net_fen.cmp(&a.net_fen).then_with(|| a.category.cmp(&b.category)));
    let shares = shares_bp(&rows.iter().map(|r| r.net_fen).collect::<Vec<_>>());
    for (r, s) in rows.iter_mut().zip(shares) {
        r.share_bp = s;
    }
    rows
}

/// One row of a trend: a day, an ISO week or a month (clipped to the range).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TrendRow {
    /// First day of the bucket (may lie before the range for a partial first week or month).
    pub start: NaiveDate,
    pub label: String,
    pub tickets: u64,
    pub sales_fen: i64,
    pub refunds_fen: i64,
    pub net_sales_fen: i64,
    pub average_ticket_fen: i64,
    pub member_share_bp: i64,
}

/// Accumulates a trend over `range` by `period`; every bucket appears, empty ones as zeros.
#[derive(Debug, Clone)]
pub struct TrendAcc {
    period: Period,
    buckets: Vec<(NaiveDate, String, TotalsAcc)>,
}

impl TrendAcc {
    pub fn new(range: &DateRange, period: Period) -> TrendAcc {
        TrendAcc { period, buckets: period.buckets(range).into_iter().map(|(d, l)| (d, l, TotalsAcc::default())).collect() }
    }

    fn bucket(&mut self, at: NaiveDateTime) -> Option<&mut TotalsAcc> {
        let start = self.period.start_of(at.date());
        let i = self.buckets.binary_search_by(|b| b.0.cmp(&start)).ok()?;
        self.buckets.get_mut(i).map(|b| &mut b.2)
    }

    pub fn sale(&mut self, s: &SaleFact) {
        if let Some(b) = self.bucket(s.at) {
            b.sale(s);
        }
    }

    pub fn ret(&mut self, r: &ReturnFact) {
        if let Some(b) = self.bucket(r.at) {
            b.ret(r);
        }
    }

    pub fn finish(self) -> Vec<TrendRow> {
        self.buckets
            .into_iter()
            .map(|(start, label, acc)| {
                let t = acc.finish();
                TrendRow {
                    start,
                    label,
                    tickets: t.tickets,
                    sales_fen: t.sales_fen,
                    refunds_fen: t.refunds_fen,
                    net_sales_fen: t.net_sales_fen,
                    average_ticket_fen: t.average_ticket_fen,
                    member_share_bp: t.member_share_bp,
                }
            })
            .collect()
    }
}

/// Who a row of the tier report is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(tag = "group", content = "tier", rename_all = "snake_case")]
pub enum TierGroup {
    /// Members of this tier (as they were when they paid).
    Tier(String),
    /// Members while the shop had no tiers.
    NoTier,
    /// Tickets without a member.
    Guests,
}

/// Sales of one tier (members' tier when they paid), refunds by the returned sale's tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TierRow {
    pub group: TierGroup,
    /// Different members who bought (0 for guests).
    pub members: u64,
    pub tickets: u64,
    pub sales_fen: i64,
    pub refunds_fen: i64,
    pub net_fen: i64,
    pub average_ticket_fen: i64,
    /// Share of all net sales ([`shares_bp`]).
    pub share_bp: i64,
}

fn group_of(member: Option<u64>, tier: &Option<String>) -> TierGroup {
    match (member, tier) {
        (None, _) => TierGroup::Guests,
        (Some(_), Some(t)) if !t.is_empty() => TierGroup::Tier(t.clone()),
        (Some(_), _) => TierGroup::NoTier,
    }
}

/// Accumulates [`TierRow`]s; the ladder's tiers come first (in ladder order, even when empty),
/// then tiers no longer in the ladder, members without a tier, and guests.
#[derive(Debug, Clone, Default)]
pub struct TiersAcc {
    by: BTreeMap<TierGroup, (BTreeSet<u64>, TotalsAcc)>,
}

impl TiersAcc {
    pub fn sale(&mut self, s: &SaleFact) {
        let e = self.by.entry(group_of(s.member_id, &s.tier)).or_default();
        if let Some(m) = s.member_id {
            e.0.insert(m);
        }
        e.1.sale(s);
    }

    pub fn ret(&mut self, r: &ReturnFact) {
        let group = match &r.sale {
            Some(s) => group_of(s.member_id, &s.tier),
            None => TierGroup::Guests,
        };
        self.by.entry(group).or_default().1.ret(r);
    }

    pub fn finish(mut self, ladder: &[String]) -> Vec<TierRow> {
        let mut order: Vec<TierGroup> = ladder.iter().map(|t| TierGroup::Tier(t.clone())).collect();
        for g in self.by.keys() {
            if matches!(g, TierGroup::Tier(_)) && !order.contains(g) {
                order.push(g.clone());
            }
        }
        order.push(TierGroup::NoTier);
        order.push(TierGroup::Guests);
        let mut rows = Vec::new();
        for g in order {
            let (members, acc) = self.by.remove(&g).unwrap_or_default();
            let t = acc.finish();
            // Members without a tier appear only when there were some.
            if g == TierGroup::NoTier && t.tickets == 0 && t.returns == 0 {
                continue;
            }
            rows.push(TierRow {
                group: g,
                members: members.len() as u64,
                tickets: t.tickets,
                sales_fen: t.sales_fen,
                refunds_fen: t.refunds_fen,
                net_fen: t.net_sales_fen,
                average_ticket_fen: t.average_ticket_fen,
                share_bp: 0,
            });
        }
        let shares = shares_bp(&rows.iter().map(|r| r.net_fen).collect::<Vec<_>>());
        for (r, s) in rows.iter_mut().zip(shares) {
            r.share_bp = s;
        }
        rows
    }
}

/// Repurchase over a range: of the members who bought, how many bought on two days or more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RepurchaseRow {
    /// `None`: all members; else the tier of each member's last purchase in the range.
    pub tier: Option<String>,
    pub buyers: u64,
    pub repeat_buyers: u64,
    pub rate_bp: i64,
}

/// Accumulates purchase days per member.
#[derive(Debug, Clone, Default)]
pub struct RepurchaseAcc {
    /// member → (first purchase day, bought on another day too, tier of the last purchase).
    members: HashMap<u64, (NaiveDate, bool, Option<String>)>,
}

impl RepurchaseAcc {
    pub fn sale(&mut self, s: &SaleFact) {
        let Some(m) = s.member_id else { return };
        let day = s.at.date();
        let e = self.members.entry(m).or_insert((day, false, None));
        if e.0 != day {
            e.1 = true;
        }
        e.2.clone_from(&s.tier);
    }

    /// The whole first, then one row per tier (ladder order, then others), tiers with buyers.
    pub fn finish(self, ladder: &[String]) -> Vec<RepurchaseRow> {
        let row = |tier: Option<String>, buyers: u64, repeat: u64| RepurchaseRow { tier, buyers, repeat_buyers: repeat, rate_bp: share_bp(i64::try_from(repeat).unwrap_or(0), i64::try_from(buyers).unwrap_or(0)) };
        let buyers = self.members.len() as u64;
        let repeat = self.members.values().filter(|m| m.1).count() as u64;
        let mut rows = vec![row(None, buyers, repeat)];
        let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (_, again, tier) in self.members.values() {
            let e = by.entry(tier.clone().unwrap_or_default()).or_default();
            e.0 += 1;
            if *again {
                e.1 += 1;
            }
        }
        for t in ladder {
            if let Some((b, r)) = by.remove(t) {
                rows.push(row(Some(t.clone()), b, r));
            }
        }
        for (t, (b, r)) in by {
            rows.push(row(Some(t), b, r));
        }
        rows
    }
}

/// Members registered in a bucket, and how many of them bought in the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NewMembersRow {
    pub start: NaiveDate,
    pub label: String,
    pub new_members: u64,
    /// Of those, members with a purchase in the range (any day of it).
    pub bought: u64,
}

/// Accumulates registrations by bucket and the members who bought.
#[derive(Debug, Clone)]
pub struct NewMembersAcc {
    period: Period,
    buckets: Vec<(NaiveDate, String, Vec<u64>)>,
    bought: BTreeSet<u64>,
}

impl NewMembersAcc {
    pub fn new(range: &DateRange, period: Period) -> NewMembersAcc {
        NewMembersAcc { period, buckets: period.buckets(range).into_iter().map(|(d, l)| (d, l, Vec::new())).collect(), bought: BTreeSet::new() }
    }

    /// A member registered on `day` (shop-local).
    pub fn registered(&mut self, member: u64, day: NaiveDate) {
        let start = self.period.start_of(day);
        if let Ok(i) = self.buckets.binary_search_by(|b| b.0.cmp(&start)) {
            self.buckets[i].2.push(member);
        }
    }

    pub fn sale(&mut self, s: &SaleFact) {
        if let Some(m) = s.member_id {
            self.bought.insert(m);
        }
    }

    pub fn finish(self) -> Vec<NewMembersRow> {
        let bought = &self.bought;
        self.buckets
            .into_iter()
            .map(|(start, label, ids)| NewMembersRow { start, label, new_members: ids.len() as u64, bought: ids.iter().filter(|m| bought.contains(m)).count() as u64 })
            .collect()
    }
}

/// One person's figures at the tills.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CashierRow {
    pub staff: String,
    /// Tickets they rang up.
    pub tickets: u64,
    pub sales_fen: i64,
    pub average_ticket_fen: i64,
    /// Carts voided with lines on them while they were signed in, and their list value.
    pub voids: u64,
    pub void_value_fen: i64,
    /// Returns they took, and what those paid back.
    pub returns: u64,
    pub refunds_fen: i64,
}

/// Accumulates [`CashierRow`]s by staff id. A void with nobody signed in counts under "".
#[derive(Debug, Clone, Default)]
pub struct CashiersAcc {
    rows: BTreeMap<String, CashierRow>,
}

impl CashiersAcc {
    fn row(&mut self, staff: &str) -> &mut CashierRow {
        self.rows.entry(staff.to_string()).or_insert_with(|| CashierRow { staff: staff.to_string(), ..CashierRow::default() })
    }

    pub fn sale(&mut self, s: &SaleFact) {
        let r = self.row(&s.cashier);
        r.tickets += 1;
        r.sales_fen = r.sales_fen.saturating_add(s.total_fen);
    }

    pub fn ret(&mut self, x: &ReturnFact) {
        let r = self.row(&x.by);
        r.returns += 1;
        r.refunds_fen = r.refunds_fen.saturating_add(x.refund_fen);
    }

    pub fn void(&mut self, v: &VoidFact) {
        let r = self.row(v.cashier.as_deref().unwrap_or(""));
        r.voids += 1;
        r.void_value_fen = r.void_value_fen.saturating_add(v.value_fen);
    }

    /// Most sales first, then staff id.
    pub fn finish(self) -> Vec<CashierRow> {
        let mut rows: Vec<CashierRow> = self
            .rows
            .into_values()
            .map(|mut r| {
                r.average_ticket_fen = div_half_up(r.sales_fen, i64::try_from(r.tickets).unwrap_or(i64::MAX));
                r
            })
            .collect();
        rows.sort_by(|a, b| b.sales_fen.cmp(&a.sales_fen).then_with(|| a.staff.cmp(&b.staff)));
        rows
    }
}

/// A shift as the report needs it (times shop-local).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftFact {
    pub id: u64,
    pub lane: String,
    pub staff: String,
    pub opened_at: NaiveDateTime,
    pub float_fen: i64,
    pub cash_sales_fen: i64,
    pub cash_refunds_fen: i64,
    pub paid_in_fen: i64,
    pub paid_out_fen: i64,
    /// (closed at, counted, closed by) once closed.
    pub closed: Option<(NaiveDateTime, i64, String)>,
}

/// One shift's cash: what the drawer should hold and what was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShiftRow {
    pub id: u64,
    pub lane: String,
    pub staff: String,
    pub opened_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub closed_by: Option<String>,
    pub float_fen: i64,
    pub cash_sales_fen: i64,
    pub cash_refunds_fen: i64,
    pub paid_in_fen: i64,
    pub paid_out_fen: i64,
    /// float + cash sales − cash refunds + paid in − paid out (now, for an open shift).
    pub expected_fen: i64,
    pub counted_fen: Option<i64>,
    /// counted − expected: positive over (长款), negative short (短款).
    pub difference_fen: Option<i64>,
}

/// A shift's row: expected cash by `domain::staff::expected_cash`.
pub fn shift_row(s: &ShiftFact) -> ShiftRow {
    let expected = super::staff::expected_cash(s.float_fen, s.cash_sales_fen, s.cash_refunds_fen, s.paid_in_fen, s.paid_out_fen);
    ShiftRow {
        id: s.id,
        lane: s.lane.clone(),
        staff: s.staff.clone(),
        opened_at: s.opened_at,
        closed_at: s.closed.as_ref().map(|c| c.0),
        closed_by: s.closed.as_ref().map(|c| c.2.clone()),
        float_fen: s.float_fen,
        cash_sales_fen: s.cash_sales_fen,
        cash_refunds_fen: s.cash_refunds_fen,
        paid_in_fen: s.paid_in_fen,
        paid_out_fen: s.paid_out_fen,
        expected_fen: expected,
        counted_fen: s.closed.as_ref().map(|c| c.1),
        difference_fen: s.closed.as_ref().map(|c| super::staff::cash_difference(c.1, expected)),
    }
}

/// A product with a reorder point and its stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockFact {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Stock counted in grams (weighed goods), else pieces.
    pub grams: bool,
    pub on_hand: i64,
    pub reorder_point: i64,
}

/// A product at or below its reorder point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LowStockRow {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub grams: bool,
    pub on_hand: i64,
    pub reorder_point: i64,
}

/// Products with on-hand ≤ reorder point, emptiest first (on-hand ÷ reorder point, then sku),
/// at most `limit`; and how many there are in all.
pub fn low_stock(items: Vec<StockFact>, limit: usize) -> (Vec<LowStockRow>, u64) {
    let mut low: Vec<StockFact> = items.into_iter().filter(|s| s.on_hand <= s.reorder_point).collect();
    let total = low.len() as u64;
    // Compare on_hand_a / rp_a with on_hand_b / rp_b without dividing (rp ≥ 1 after the max).
    low.sort_by(|a, b| {
        let (ra, rb) = (i128::from(a.reorder_point.max(1)), i128::from(b.reorder_point.max(1)));
        (i128::from(a.on_hand) * rb).cmp(&(i128::from(b.on_hand) * ra)).then_with(|| a.sku.cmp(&b.sku))
    });
    let rows = low
        .into_iter()
        .take(limit)
        .map(|s| LowStockRow { sku: s.sku, name_zh: s.name_zh, name_en: s.name_en, grams: s.grams, on_hand: s.on_hand, reorder_point: s.reorder_point })
        .collect();
    (rows, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(day: NaiveDate, h: u32, min: u32) -> NaiveDateTime {
        day.and_hms_opt(h, min, 0).unwrap()
    }

    fn line(sku: &str, category: &str, qty: Qty, net_fen: i64) -> LineFact {
        LineFact { sku: sku.into(), name_zh: format!("{sku}中"), name_en: sku.into(), category: category.into(), qty, net_fen }
    }

    fn sale(id: u64, when: NaiveDateTime, cashier: &str, member: Option<u64>, tier: Option<&str>, lines: Vec<LineFact>) -> SaleFact {
        let total_fen = lines.iter().map(|l| l.net_fen).sum();
        SaleFact { id, at: when, lane: "lane-1".into(), cashier: cashier.into(), member_id: member, tier: tier.map(str::to_string), total_fen, lines, channel: Default::default() }
    }

    fn water(n: i64, net: i64) -> LineFact {
        line("WATER", "饮料", Qty::Pieces(n), net)
    }

    fn bananas(g: i64, net: i64) -> LineFact {
        line("BANANA", "水果", Qty::Grams(g), net)
    }

    /// The day of the worked examples, Wednesday 25 November 2026:
    /// - 09:15 guest, cashier A: 3 waters ¥6.00 → ¥6.00
    /// - 09:40 member 7 (silver), cashier A: 2 waters ¥4.00 + 1.250 kg bananas ¥9.98 → ¥13.98
    /// - 14:05 member 8 (regular), cashier B: 1.000 kg bananas ¥7.98 → ¥7.98
    /// - 16:30 return of 1 water of the 09:15 sale by manager M: ¥2.00 back
    fn day() -> (Vec<SaleFact>, Vec<ReturnFact>, Vec<VoidFact>) {
        let t = d(2026, 11, 25);
        let sales = vec![
            sale(1, at(t, 9, 15), "A", None, None, vec![water(3, 600)]),
            sale(2, at(t, 9, 40), "A", Some(7), Some("silver"), vec![water(2, 400), bananas(1_250, 998)]),
            sale(3, at(t, 14, 5), "B", Some(8), Some("regular"), vec![bananas(1_000, 798)]),
        ];
        let returns = vec![ReturnFact {
            id: 1,
            at: at(t, 16, 30),
            by: "M".into(),
            lane: "lane-1".into(),
            refund_fen: 200,
            sale: Some(ReturnedSale { id: 1, cashier: "A".into(), member_id: None, tier: None, channel: Default::default() }),
            lines: vec![ReturnLineFact { sku: "WATER".into(), category: "饮料".into(), qty: Qty::Pieces(1), refund_fen: 200 }],
        }];
        let voids = vec![VoidFact { at: at(t, 11, 0), lane: "lane-1".into(), cashier: Some("A".into()), lines: 2, value_fen: 1_050 }];
        (sales, returns, voids)
    }

    #[test]
    fn the_day_sells_2796_fen_nets_2596_over_three_tickets_with_members_at_7854_bp() {
        let (sales, returns, voids) = day();
        let mut acc = TotalsAcc::default();
        sales.iter().for_each(|s| acc.sale(s));
        returns.iter().for_each(|r| acc.ret(r));
        voids.iter().for_each(|v| acc.void(v));
        let t = acc.finish();
        // 600 + 1398 + 798 = 2796 sold; 200 back.
        assert_eq!(t.sales_fen, 2_796);
        assert_eq!(t.refunds_fen, 200);
        assert_eq!(t.net_sales_fen, 2_596);
        assert_eq!(t.tickets, 3);
        // 2796 / 3 = 932.
        assert_eq!(t.average_ticket_fen, 932);
        // Members: 1398 + 798 = 2196; 2196 / 2796 = 0.78540… → 7854 bp.
        assert_eq!(t.member_sales_fen, 2_196);
        assert_eq!(t.member_share_bp, 7_854);
        assert_eq!((t.returns, t.voids, t.member_tickets), (1, 1, 2));
    }

    #[test]
    fn hours_hold_their_tickets() {
        let (sales, _, _) = day();
        let mut acc = HourlyAcc::default();
        sales.iter().for_each(|s| acc.sale(s));
        let h = acc.finish();
        assert_eq!(h.len(), 24);
        assert_eq!((h[9].sales_fen, h[9].tickets), (1_998, 2));
        assert_eq!((h[14].sales_fen, h[14].tickets), (798, 1));
        assert_eq!(h.iter().map(|b| b.sales_fen).sum::<i64>(), 2_796);
        assert_eq!(h[23].hour, 23);
    }

    #[test]
    fn products_net_their_returns_and_rank_by_sales_and_pieces() {
        let (sales, returns, _) = day();
        let mut acc = ProductsAcc::default();
        sales.iter().for_each(|s| acc.sale(s));
        returns.iter().for_each(|r| acc.ret(r));
        let rows = acc.finish();
        // Bananas 998 + 798 = 1796; water 600 + 400 − 200 = 800.
        assert_eq!(rows[0].sku, "BANANA");
        assert_eq!((rows[0].net_fen, rows[0].grams, rows[0].pieces, rows[0].tickets), (1_796, 2_250, 0, 2));
        assert_eq!(rows[1].sku, "WATER");
        assert_eq!((rows[1].sales_fen, rows[1].refunds_fen, rows[1].net_fen, rows[1].pieces), (1_000, 200, 800, 4));
        assert_eq!(top_by_net(&rows, 1)[0].sku, "BANANA");
        let by_pieces = top_by_pieces(&rows, 5);
        assert_eq!(by_pieces.len(), 1, "weighed goods are not ranked by pieces");
        assert_eq!(by_pieces[0].sku, "WATER");
    }

    #[test]
    fn categories_share_by_largest_remainder() {
        let (sales, returns, _) = day();
        let mut acc = ProductsAcc::default();
        sales.iter().for_each(|s| acc.sale(s));
        returns.iter().for_each(|r| acc.ret(r));
        let cats = categories(&acc.finish());
        // 水果 1796, 饮料 800 of 2596: 6918.33… and 3081.66… → 6918 + 3082 = 10000.
        assert_eq!(cats[0].category, "水果");
        assert_eq!((cats[0].net_fen, cats[0].share_bp), (1_796, 6_918));
        assert_eq!((cats[1].net_fen, cats[1].share_bp), (800, 3_082));
    }

    #[test]
    fn shares_add_up_and_ignore_values_at_or_below_zero() {
        assert_eq!(shares_bp(&[1, 1, 1]), vec![3_334, 3_333, 3_333]);
        assert_eq!(shares_bp(&[500, -100, 0, 500]), vec![5_000, 0, 0, 5_000]);
        assert_eq!(shares_bp(&[0, -5]), vec![0, 0]);
        assert_eq!(shares_bp(&[]), Vec::<i64>::new());
        assert_eq!(share_bp(1, 3), 3_333);
        assert_eq!(share_bp(2, 3), 6_667);
        assert_eq!(share_bp(5, 0), 0);
    }

    #[test]
    fn a_week_trend_buckets_by_iso_week_and_keeps_empty_weeks() {
        // Sunday 29 Nov closes W48; Monday 30 Nov opens W49; nothing in W50.
        let range = DateRange::new(d(2026, 11, 25), d(2026, 12, 9)).unwrap();
        let mut acc = TrendAcc::new(&range, Period::Week);
        acc.sale(&sale(1, at(d(2026, 11, 29), 20, 0), "A", None, None, vec![water(1, 200)]));
        acc.sale(&sale(2, at(d(2026, 11, 30), 8, 0), "A", Some(1), None, vec![water(3, 600)]));
        acc.ret(&ReturnFact { id: 1, at: at(d(2026, 12, 1), 9, 0), by: "M".into(), lane: "lane-1".into(), refund_fen: 200, sale: None, lines: vec![] });
        let rows = acc.finish();
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["2026-W48", "2026-W49", "2026-W50"]);
        assert_eq!(rows[0].start, d(2026, 11, 23));
        assert_eq!((rows[0].sales_fen, rows[0].member_share_bp), (200, 0));
        assert_eq!((rows[1].sales_fen, rows[1].refunds_fen, rows[1].net_sales_fen, rows[1].member_share_bp), (600, 200, 400, 10_000));
        assert_eq!((rows[2].tickets, rows[2].sales_fen), (0, 0));
    }

    #[test]
    fn periods_label_days_weeks_and_months() {
        let range = DateRange::new(d(2026, 12, 30), d(2027, 2, 2)).unwrap();
        let months: Vec<String> = Period::Month.buckets(&range).into_iter().map(|b| b.1).collect();
        assert_eq!(months, ["2026-12", "2027-01", "2027-02"]);
        // 1 January 2027 is a Friday of ISO week 2026-W53.
        assert_eq!(Period::Week.label(Period::Week.start_of(d(2027, 1, 1))), "2026-W53");
        assert_eq!(Period::Day.buckets(&DateRange::day(d(2026, 11, 25))).len(), 1);
        assert_eq!(Period::parse("week"), Some(Period::Week));
        assert_eq!(Period::parse("year"), None);
    }

    #[test]
    fn ranges_are_ordered_and_at_most_366_days() {
        assert!(DateRange::new(d(2026, 1, 1), d(2026, 12, 31)).is_ok());
        assert_eq!(DateRange::new(d(2026, 1, 1), d(2027, 1, 2)), Err(RangeError::TooLong { days: 367 }));
        assert!(matches!(DateRange::new(d(2026, 2, 1), d(2026, 1, 31)), Err(RangeError::Reversed { .. })));
        assert_eq!(parse_date("2026-11-25"), Some(d(2026, 11, 25)));
        for bad in ["2026-13-01", "25/11/2026", "2026-11-5", "", "2026-11-25T00:00"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn tiers_come_in_ladder_order_with_guests_last_and_returns_on_the_sales_tier() {
        let (sales, returns, _) = day();
        let mut acc = TiersAcc::default();
        sales.iter().for_each(|s| acc.sale(s));
        returns.iter().for_each(|r| acc.ret(r));
        let ladder = ["regular".to_string(), "silver".to_string(), "gold".to_string()];
        let rows = acc.finish(&ladder);
        let groups: Vec<TierGroup> = rows.iter().map(|r| r.group.clone()).collect();
        assert_eq!(groups, [TierGroup::Tier("regular".into()), TierGroup::Tier("silver".into()), TierGroup::Tier("gold".into()), TierGroup::Guests]);
        // regular 798, silver 1398, gold 0, guests 600 − 200 = 400; of 2596.
        assert_eq!((rows[0].members, rows[0].net_fen), (1, 798));
        assert_eq!((rows[1].members, rows[1].net_fen), (1, 1_398));
        assert_eq!((rows[2].tickets, rows[2].net_fen, rows[2].share_bp), (0, 0, 0));
        assert_eq!((rows[3].refunds_fen, rows[3].net_fen), (200, 400));
        // 798/2596 = 3073.96, 1398/2596 = 5385.21, 400/2596 = 1540.83 → 3074 + 5385 + 1541.
        assert_eq!(rows.iter().map(|r| r.share_bp).collect::<Vec<_>>(), [3_074, 5_385, 0, 1_541]);
    }

    #[test]
    fn repurchase_counts_members_with_two_purchase_days() {
        let t = d(2026, 11, 25);
        let mut acc = RepurchaseAcc::default();
        // Member 1: two tickets the same day (not a repeat); member 2: two days; member 3: once;
        // a guest does not count.
        acc.sale(&sale(1, at(t, 9, 0), "A", Some(1), Some("regular"), vec![water(1, 200)]));
        acc.sale(&sale(2, at(t, 18, 0), "A", Some(1), Some("regular"), vec![water(1, 200)]));
        acc.sale(&sale(3, at(t, 10, 0), "A", Some(2), Some("regular"), vec![water(1, 200)]));
        acc.sale(&sale(4, at(t + Duration::days(3), 10, 0), "A", Some(2), Some("silver"), vec![water(1, 200)]));
        acc.sale(&sale(5, at(t, 11, 0), "A", Some(3), Some("regular"), vec![water(1, 200)]));
        acc.sale(&sale(6, at(t, 12, 0), "A", None, None, vec![water(1, 200)]));
        let rows = acc.finish(&["regular".into(), "silver".into()]);
        // 1 of 3 → 3333 bp.
        assert_eq!(rows[0], RepurchaseRow { tier: None, buyers: 3, repeat_buyers: 1, rate_bp: 3_333 });
        // By the tier of the last purchase: regular {1, 3}, silver {2}.
        assert_eq!(rows[1], RepurchaseRow { tier: Some("regular".into()), buyers: 2, repeat_buyers: 0, rate_bp: 0 });
        assert_eq!(rows[2], RepurchaseRow { tier: Some("silver".into()), buyers: 1, repeat_buyers: 1, rate_bp: 10_000 });
    }

    #[test]
    fn new_members_by_day_and_who_of_them_bought() {
        let t = d(2026, 11, 25);
        let range = DateRange::new(t, t + Duration::days(1)).unwrap();
        let mut acc = NewMembersAcc::new(&range, Period::Day);
        acc.registered(10, t);
        acc.registered(11, t);
        acc.registered(12, t + Duration::days(1));
        acc.registered(13, t + Duration::days(5));
        acc.sale(&sale(1, at(t + Duration::days(1), 9, 0), "A", Some(11), None, vec![water(1, 200)]));
        let rows = acc.finish();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].label.as_str(), rows[0].new_members, rows[0].bought), ("2026-11-25", 2, 1));
        assert_eq!((rows[1].new_members, rows[1].bought), (1, 0));
    }

    #[test]
    fn cashiers_get_their_tickets_voids_and_the_returns_they_took() {
        let (sales, returns, voids) = day();
        let mut acc = CashiersAcc::default();
        sales.iter().for_each(|s| acc.sale(s));
        returns.iter().for_each(|r| acc.ret(r));
        voids.iter().for_each(|v| acc.void(v));
        let rows = acc.finish();
        let a = rows.iter().find(|r| r.staff == "A").unwrap();
        // A: 600 + 1398 = 1998 over 2 → 999; one void of ¥10.50.
        assert_eq!((a.tickets, a.sales_fen, a.average_ticket_fen, a.voids, a.void_value_fen, a.returns), (2, 1_998, 999, 1, 1_050, 0));
        let m = rows.iter().find(|r| r.staff == "M").unwrap();
        assert_eq!((m.tickets, m.returns, m.refunds_fen), (0, 1, 200));
        assert_eq!(rows[0].staff, "A", "most sales first");
    }

    #[test]
    fn a_shift_counted_50_fen_short() {
        let t = d(2026, 11, 25);
        let f = ShiftFact {
            id: 4,
            lane: "lane-1".into(),
            staff: "A".into(),
            opened_at: at(t, 8, 0),
            float_fen: 20_000,
            cash_sales_fen: 13_450,
            cash_refunds_fen: 200,
            paid_in_fen: 0,
            paid_out_fen: 5_000,
            closed: Some((at(t, 16, 0), 28_200, "M".into())),
        };
        let r = shift_row(&f);
        // 200.00 + 134.50 − 2.00 − 50.00 = 282.50 expected; 282.00 counted.
        assert_eq!(r.expected_fen, 28_250);
        assert_eq!(r.difference_fen, Some(-50));
        let open = shift_row(&ShiftFact { closed: None, ..f });
        assert_eq!((open.counted_fen, open.difference_fen, open.closed_at), (None, None, None));
    }

    #[test]
    fn low_stock_lists_the_emptiest_first() {
        let item = |sku: &str, on_hand: i64, rp: i64| StockFact { sku: sku.into(), name_zh: String::new(), name_en: String::new(), grams: false, on_hand, reorder_point: rp };
        let (rows, total) = low_stock(vec![item("A", 10, 24), item("B", 30, 24), item("C", 0, 5), item("D", 5, 5), item("E", -2, 10)], 3);
        assert_eq!(total, 4);
        let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
        // E −0.2, C 0, A 0.42, D 1.0.
        assert_eq!(skus, ["E", "C", "A"]);
    }
}
