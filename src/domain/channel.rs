//! Sales channels (销售渠道): where a sale came from. Every sale carries one; the in-store lanes
//! sell as [`SalesChannel::InStore`], online orders that HQ forwards (`order.ingest`) carry the
//! channel the order names. One name per channel everywhere: the wire and storage word
//! ([`SalesChannel::as_str`]), and a zh-CN and an English label for pages and reports.
//! [`ChannelAcc`] is the pure arithmetic of the channel report (渠道分析): sales, refunds,
//! tickets, members, new members, repeat rate and average ticket per channel and period;
//! `members::channel_report` reads the store and feeds it.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::money::round_half_up_div;
use super::reports::{share_bp, DateRange, Period, ReturnFact, SaleFact};

/// Where a sale was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SalesChannel {
    /// At one of the shop's checkout lanes (门店收银).
    #[default]
    InStore,
    /// The chain's WeChat mini program (小程序).
    MiniProgram,
    /// A delivery platform such as 美团 or 饿了么 (外卖平台).
    Delivery,
    /// The chain's online mall (线上商城).
    OnlineMall,
    /// An order taken by phone (电话订单).
    Phone,
}

impl SalesChannel {
    pub const ALL: [SalesChannel; 5] = [
        SalesChannel::InStore,
        SalesChannel::MiniProgram,
        SalesChannel::Delivery,
        SalesChannel::OnlineMall,
        SalesChannel::Phone,
    ];

    /// The word used in storage, events, the API, the CLI and CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            SalesChannel::InStore => "in_store",
            SalesChannel::MiniProgram => "mini_program",
            SalesChannel::Delivery => "delivery",
            SalesChannel::OnlineMall => "online_mall",
            SalesChannel::Phone => "phone",
        }
    }

    /// Reads [`SalesChannel::as_str`]'s word; `None` for anything else.
    pub fn parse(word: &str) -> Option<SalesChannel> {
        SalesChannel::ALL.into_iter().find(|c| c.as_str() == word)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SalesChannel::InStore => "门店",
            SalesChannel::MiniProgram => "小程序",
            SalesChannel::Delivery => "外卖平台",
            SalesChannel::OnlineMall => "线上商城",
            SalesChannel::Phone => "电话订单",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            SalesChannel::InStore => "In store",
            SalesChannel::MiniProgram => "Mini program",
            SalesChannel::Delivery => "Delivery platform",
            SalesChannel::OnlineMall => "Online mall",
            SalesChannel::Phone => "Phone order",
        }
    }

    /// The words [`SalesChannel::parse`] accepts, for error messages.
    pub fn expected() -> String {
        SalesChannel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    }
}

// --- the channel report ----------------------------------------------------------------------

/// Figures of one channel over one period (or the whole range) of the channel report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRow {
    /// The period's label (`2026-11-25`, `2026-W48`, `2026-11`); `None` for the whole range.
    pub label: Option<String>,
    /// First day of the period (the range's first day for the whole range).
    pub start: NaiveDate,
    pub channel: SalesChannel,
    pub tickets: u64,
    /// Σ ticket totals.
    pub sales_fen: i64,
    /// Σ refunds of returns in the period against this channel's sales.
    pub refunds_fen: i64,
    /// sales − refunds.
    pub net_sales_fen: i64,
    /// Distinct members with a ticket.
    pub members: u64,
    /// Members whose first purchase ever is in the period (clipped to the range) and whose first
    /// ticket of the period was on this channel.
    pub new_members: u64,
    /// Members with ≥ 2 tickets on this channel in the period.
    pub repeat_members: u64,
    /// repeat members ÷ members, bp.
    pub repeat_rate_bp: i64,
    /// sales ÷ tickets, half up (returns do not change it).
    pub average_ticket_fen: i64,
}

/// How many channels there are.
const CHANNELS: usize = SalesChannel::ALL.len();

#[derive(Debug, Clone, Default)]
struct ChannelCell {
    tickets: u64,
    sales_fen: i64,
    refunds_fen: i64,
    /// Member → tickets on this channel.
    members: HashMap<u64, u32>,
}

#[derive(Debug, Clone)]
struct ChannelBucket {
    start: NaiveDate,
    label: Option<String>,
    cells: [ChannelCell; CHANNELS],
    /// Member → the channel of their first ticket in the bucket.
    first: HashMap<u64, SalesChannel>,
    /// The bucket's last day (the range's end for the whole range).
    end: NaiveDate,
}

impl ChannelBucket {
    fn new(start: NaiveDate, end: NaiveDate, label: Option<String>) -> ChannelBucket {
        ChannelBucket { start, label, cells: Default::default(), first: HashMap::new(), end }
    }

    fn sale(&mut self, channel: SalesChannel, member: Option<u64>, total_fen: i64) {
        let c = &mut self.cells[channel.index()];
        c.tickets += 1;
        c.sales_fen += total_fen;
        if let Some(m) = member {
            *c.members.entry(m).or_insert(0) += 1;
            self.first.entry(m).or_insert(channel);
        }
    }
}

/// Accumulates the channel report over a range by period: feed sales (in time order) and
/// returns, then [`ChannelAcc::finish`] with each member's first purchase day. Rows: the
/// whole range per channel first, then every period per channel ([`SalesChannel::ALL`] order),
/// empty ones as zeros.
#[derive(Debug, Clone)]
pub struct ChannelAcc {
    period: Period,
    range: DateRange,
    all: ChannelBucket,
    buckets: Vec<ChannelBucket>,
}

impl SalesChannel {
    /// Position in [`SalesChannel::ALL`].
    pub fn index(self) -> usize {
        match self {
            SalesChannel::InStore => 0,
            SalesChannel::MiniProgram => 1,
            SalesChannel::Delivery => 2,
            SalesChannel::OnlineMall => 3,
            SalesChannel::Phone => 4,
        }
    }
}

impl ChannelAcc {
    pub fn new(range: &DateRange, period: Period) -> ChannelAcc {
        let buckets = period.buckets(range);
        let ends: Vec<NaiveDate> = buckets.iter().skip(1).map(|(s, _)| *s - chrono::Duration::days(1)).chain([range.to]).collect();
        ChannelAcc {
            period,
            range: *range,
            all: ChannelBucket::new(range.from, range.to, None),
            buckets: buckets.into_iter().zip(ends).map(|((s, l), e)| ChannelBucket::new(s, e, Some(l))).collect(),
        }
    }

    fn bucket(&mut self, day: NaiveDate) -> Option<&mut ChannelBucket> {
        if !self.range.contains(day) {
            return None;
        }
        let start = self.period.start_of(day);
        let i = self.buckets.binary_search_by(|b| b.start.cmp(&start)).ok()?;
        self.buckets.get_mut(i)
    }

    /// A ticket (sales must come in time order for "first ticket of the period").
    pub fn sale(&mut self, s: &SaleFact) {
        let Some(b) = self.bucket(s.at.date()) else { return };
        b.sale(s.channel, s.member_id, s.total_fen);
        self.all.sale(s.channel, s.member_id, s.total_fen);
    }

    /// A return: its refund counts against the channel of the sale it was made against (a
    /// return without receipt was made at a lane: in store).
    pub fn ret(&mut self, r: &ReturnFact) {
        let channel = r.sale.as_ref().map_or(SalesChannel::InStore, |s| s.channel);
        let Some(b) = self.bucket(r.at.date()) else { return };
        b.cells[channel.index()].refunds_fen += r.refund_fen;
        self.all.cells[channel.index()].refunds_fen += r.refund_fen;
    }

    /// Every member with a ticket in the range (whose first purchase [`ChannelAcc::finish`]
    /// needs).
    pub fn members(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.all.first.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// The rows; `first_purchase` gives a member's first purchase day (shop-local), if known.
    pub fn finish(self, first_purchase: impl Fn(u64) -> Option<NaiveDate>) -> Vec<ChannelRow> {
        let mut rows = Vec::with_capacity((self.buckets.len() + 1) * SalesChannel::ALL.len());
        let from = self.range.from;
        for b in std::iter::once(self.all).chain(self.buckets) {
            let mut new = [0u64; CHANNELS];
            // A first week or month is clipped to the range, like its sales.
            let first_day = b.start.max(from);
            for (m, c) in &b.first {
                if first_purchase(*m).is_some_and(|d| first_day <= d && d <= b.end) {
                    new[c.index()] += 1;
                }
            }
            for (i, channel) in SalesChannel::ALL.into_iter().enumerate() {
                let c = &b.cells[i];
                let members = c.members.len() as u64;
                let repeat = c.members.values().filter(|n| **n >= 2).count() as u64;
                rows.push(ChannelRow {
                    label: b.label.clone(),
                    start: b.start,
                    channel,
                    tickets: c.tickets,
                    sales_fen: c.sales_fen,
                    refunds_fen: c.refunds_fen,
                    net_sales_fen: c.sales_fen - c.refunds_fen,
                    members,
                    new_members: new[i],
                    repeat_members: repeat,
                    repeat_rate_bp: share_bp(repeat as i64, members as i64),
                    average_ticket_fen: if c.tickets > 0 { i64::try_from(round_half_up_div(i128::from(c.sales_fen), i128::from(c.tickets))).unwrap_or(0) } else { 0 },
                });
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_reads_back_from_its_word_and_serde_agrees() {
        for c in SalesChannel::ALL {
            assert_eq!(SalesChannel::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        assert_eq!(SalesChannel::parse("meituan"), None);
        assert_eq!(SalesChannel::expected(), "in_store, mini_program, delivery, online_mall, phone");
    }
    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn sale(id: u64, d: u32, channel: SalesChannel, member: Option<u64>, total_fen: i64) -> SaleFact {
        SaleFact { id, at: day(d).and_hms_opt(10, 0, 0).unwrap(), lane: "1".into(), cashier: "c".into(), member_id: member, tier: None, total_fen, lines: vec![], channel }
    }

    fn refund(d: u32, channel: Option<SalesChannel>, refund_fen: i64) -> ReturnFact {
        ReturnFact {
            id: 1,
            at: day(d).and_hms_opt(12, 0, 0).unwrap(),
            by: "m".into(),
            lane: "1".into(),
            refund_fen,
            sale: channel.map(|channel| super::super::reports::ReturnedSale { id: 3, cashier: "c".into(), member_id: Some(2), tier: None, channel }),
            lines: vec![],
        }
    }

    /// Two ISO weeks, 2–8 and 9–15 Nov 2026. Member 1 (first purchase ever 2 Nov) buys in store
    /// on 2 and 3 Nov (¥100, ¥50) and by delivery on 10 Nov (¥60); member 2 (first purchase in
    /// October) by delivery on 3, 11 and 12 Nov (¥80, ¥40, ¥20); a guest in store on 4 Nov
    /// (¥30). ¥30 of member 2's 3 Nov order comes back on 10 Nov; ¥10 without receipt on 12 Nov.
    #[test]
    fn the_channel_report_in_worked_numbers() {
        let range = DateRange::new(day(2), day(15)).unwrap();
        let mut acc = ChannelAcc::new(&range, Period::Week);
        use SalesChannel::{Delivery, InStore};
        for s in [
            sale(1, 2, InStore, Some(1), 10_000),
            sale(2, 3, InStore, Some(1), 5_000),
            sale(3, 3, Delivery, Some(2), 8_000),
            sale(4, 4, InStore, None, 3_000),
            sale(5, 10, Delivery, Some(1), 6_000),
            sale(6, 11, Delivery, Some(2), 4_000),
            sale(7, 12, Delivery, Some(2), 2_000),
            sale(8, 16, Delivery, Some(2), 99_999),
        ] {
            acc.sale(&s);
        }
        acc.ret(&refund(10, Some(Delivery), 3_000));
        acc.ret(&refund(12, None, 1_000));
        assert_eq!(acc.members(), vec![1, 2]);
        let rows = acc.finish(|m| Some(if m == 1 { day(2) } else { NaiveDate::from_ymd_opt(2026, 10, 20).unwrap() }));
        assert_eq!(rows.len(), 15, "the whole range and two weeks, five channels each");
        let row = |label: Option<&str>, c: SalesChannel| rows.iter().find(|r| r.label.as_deref() == label && r.channel == c).unwrap().clone();
        // (tickets, sales, refunds, net, members, new, repeat, rate, average)
        let figures = |r: ChannelRow| (r.tickets, r.sales_fen, r.refunds_fen, r.net_sales_fen, r.members, r.new_members, r.repeat_members, r.repeat_rate_bp, r.average_ticket_fen);
        assert_eq!(figures(row(None, InStore)), (3, 18_000, 1_000, 17_000, 1, 1, 1, 10_000, 6_000));
        assert_eq!(figures(row(None, Delivery)), (4, 20_000, 3_000, 17_000, 2, 0, 1, 5_000, 5_000));
        assert_eq!(figures(row(Some("2026-W45"), InStore)), (3, 18_000, 0, 18_000, 1, 1, 1, 10_000, 6_000));
        assert_eq!(figures(row(Some("2026-W45"), Delivery)), (1, 8_000, 0, 8_000, 1, 0, 0, 0, 8_000));
        assert_eq!(figures(row(Some("2026-W46"), InStore)), (0, 0, 1_000, -1_000, 0, 0, 0, 0, 0));
        assert_eq!(figures(row(Some("2026-W46"), Delivery)), (3, 12_000, 3_000, 9_000, 2, 0, 1, 5_000, 4_000));
        assert_eq!(figures(row(Some("2026-W46"), SalesChannel::Phone)), (0, 0, 0, 0, 0, 0, 0, 0, 0));
        assert_eq!(rows[0].channel, InStore);
        assert_eq!((rows[0].label.clone(), rows[0].start), (None, day(2)));
    }
    /// A range starting on a Wednesday: its first week is clipped to the range, so a member
    /// whose first purchase was on the Tuesday before is not new in it; one whose first purchase
    /// is on the Thursday is.
    #[test]
    fn new_members_count_only_first_purchases_inside_the_range() {
        let range = DateRange::new(day(4), day(8)).unwrap();
        let mut acc = ChannelAcc::new(&range, Period::Week);
        acc.sale(&sale(1, 5, SalesChannel::Phone, Some(7), 1_000));
        acc.sale(&sale(2, 5, SalesChannel::Phone, Some(8), 1_000));
        let rows = acc.finish(|m| Some(if m == 7 { day(3) } else { day(5) }));
        let phone: Vec<u64> = rows.iter().filter(|r| r.channel == SalesChannel::Phone).map(|r| r.new_members).collect();
        assert_eq!(phone, vec![1, 1], "the whole range and week 45, each with member 8 only");
        assert_eq!(rows[5].start, day(2), "the week's row still says where the week starts");
    }
}
