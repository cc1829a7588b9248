//! Staff performance (员工绩效) figures per staff member and period: sales, tickets, average
//! ticket, items per ticket, members registered, coupons redeemed, returns and voids,
//! satisfaction, progress against targets, and the ranking. Pure; `staff::performance` gathers
//! the inputs from sales, returns, voids, members and service tickets.
//!
//! Who is credited with what, worded once (docs/staff.md "Performance" says the same):
//! - **Sales** (a ticket's total after every discount) and **tickets**, **items** and
//!   **coupons redeemed** go to the cashier of the sale, on the shop-local day it was paid.
//! - **Returns** (count and refunded fen) go to the staff who took the return, on its day; they
//!   do not change the sales figures. For commission the returned lines come off the net sales
//!   of the staff who sold them (the staff who took a receipt-less return), in the period of the
//!   return ([`PerformanceAcc::ret`]).
//! - **Voids** (carts emptied with lines on them) go to whoever was signed in on the lane.
//! - **Members registered**: members whose `registered_by` names the staff.
//! - **Top-ups**: money paid in (not the bonus) by members' stored-value top-ups the staff took.
//! - **Satisfaction**: the mean rating (1–5) of service tickets rated in the period, credited to
//!   who resolved the ticket (its assignee when nobody resolved it), in thousandths.
//! - **Items per ticket**: pieces (a weighed line counts as one item) ÷ tickets, in thousandths.
//! - Averages and progress are rounded half up; progress is not capped at 100 %.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::reports::{div_half_up, DateRange, Period};

/// 100 % in basis points.
const WHOLE_BP: i64 = 10_000;
/// Largest sales target: ¥100,000,000.00.
pub const MAX_TARGET_FEN: i64 = 10_000_000_000;
/// Largest ticket or member target.
pub const MAX_TARGET_COUNT: u64 = 10_000_000;

/// The period figures and targets are for: a shop-local day, ISO week (Monday to Sunday) or
/// calendar month, written `2026-11-25`, `2026-W48`, `2026-11`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffPeriod {
    pub kind: Period,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Why a period was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period: expected a day (2026-11-25), an ISO week (2026-W48) or a month (2026-11), got {0:?}")]
pub struct PeriodError(pub String);

impl StaffPeriod {
    /// The period of `kind` holding `day`.
    pub fn containing(kind: Period, day: NaiveDate) -> StaffPeriod {
        let from = kind.start_of(day);
        let to = match kind {
            Period::Day => from,
            Period::Week => from + Duration::days(6),
            Period::Month => from.checked_add_months(chrono::Months::new(1)).map_or(from, |next| next - Duration::days(1)),
        };
        StaffPeriod { kind, from, to }
    }

    /// `2026-11-25` (day), `2026-W48` (ISO week), `2026-11` (month).
    pub fn parse(s: &str) -> Result<StaffPeriod, PeriodError> {
        let t = s.trim();
        let bad = || PeriodError(t.chars().take(40).collect());
        if let Some(d) = super::reports::parse_date(t) {
            return Ok(StaffPeriod::containing(Period::Day, d));
        }
        if let Some((y, w)) = t.split_once("-W") {
            let (Ok(year), Ok(week)) = (y.parse::<i32>(), w.parse::<u32>()) else { return Err(bad()) };
            if y.len() != 4 || w.len() != 2 {
                return Err(bad());
            }
            let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
            return Ok(StaffPeriod::containing(Period::Week, monday));
        }
        if t.len() == 7 {
            let first = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").map_err(|_| bad())?;
            return Ok(StaffPeriod::containing(Period::Month, first));
        }
        Err(bad())
    }

    /// How the period is written (and keyed).
    pub fn label(&self) -> String {
        self.kind.label(self.from)
    }

    /// Its days, both ends included.
    pub fn range(&self) -> DateRange {
        DateRange { from: self.from, to: self.to }
    }

    /// Whether the period ended before `today` (a target for it is refused).
    pub fn is_past(&self, today: NaiveDate) -> bool {
        self.to < today
    }

    /// The period of the same kind just before this one.
    pub fn previous(&self) -> StaffPeriod {
        StaffPeriod::containing(self.kind, self.from - Duration::days(1))
    }

    /// The period of the same kind just after this one.
    pub fn next(&self) -> StaffPeriod {
        StaffPeriod::containing(self.kind, self.to + Duration::days(1))
    }
}

/// One staff member's figures for a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffFigures {
    pub staff: String,
    /// Σ totals of the tickets they rang up, fen.
    pub sales_fen: i64,
    pub tickets: u64,
    /// sales ÷ tickets, half up.
    pub average_ticket_fen: i64,
    /// Pieces sold (a weighed line is one item).
    pub items: i64,
    /// items ÷ tickets in thousandths, half up (2 500 = 2.5 items).
    pub items_per_ticket_milli: i64,
    pub members_registered: u64,
    /// Coupons redeemed on their tickets.
    pub coupons_redeemed: u64,
    /// Returns they took, and what those paid back.
    pub returns: u64,
    pub returns_fen: i64,
    /// Carts voided with lines on them while they were signed in, and their list value.
    pub voids: u64,
    pub void_value_fen: i64,
    /// Service tickets rated in the period that they resolved, and the mean rating ×1000.
    pub ratings: u64,
    pub satisfaction_milli: Option<i64>,
    /// Stored-value top-ups they took, and the money paid in (bonus not counted).
    pub topups: u64,
    pub topup_fen: i64,
    /// Net sales per category of the tickets they rang up, less the lines returned from their
    /// tickets in the period: the commission base.
    pub net_sales_by_category: BTreeMap<String, i64>,
    #[serde(skip)]
    rating_sum: u64,
}

fn count_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A sold ticket as the figures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldTicket<'a> {
    pub cashier: &'a str,
    pub total_fen: i64,
    pub items: i64,
    pub coupons: u64,
    /// (category, line net fen) per line.
    pub lines: Vec<(&'a str, i64)>,
}

/// A return as the figures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenReturn<'a> {
    /// Who took it.
    pub by: &'a str,
    pub refund_fen: i64,
    /// The cashier of the sale it came from (`None`: no receipt).
    pub seller: Option<&'a str>,
    /// (category, refunded fen) per line.
    pub lines: Vec<(&'a str, i64)>,
}

/// Accumulates [`StaffFigures`] by staff id, one fact at a time.
#[derive(Debug, Clone, Default)]
pub struct PerformanceAcc {
    rows: BTreeMap<String, StaffFigures>,
}

impl PerformanceAcc {
    fn row(&mut self, staff: &str) -> &mut StaffFigures {
        self.rows.entry(staff.to_string()).or_insert_with(|| PerformanceAcc::idle(staff))
    }

    fn category(&mut self, staff: &str, category: &str, fen: i64) {
        let c = self.row(staff).net_sales_by_category.entry(category.to_string()).or_insert(0);
        *c = c.saturating_add(fen);
    }

    pub fn sale(&mut self, t: &SoldTicket<'_>) {
        let r = self.row(t.cashier);
        r.tickets += 1;
        r.sales_fen = r.sales_fen.saturating_add(t.total_fen);
        r.items = r.items.saturating_add(t.items);
        r.coupons_redeemed += t.coupons;
        for (category, net) in &t.lines {
            self.category(t.cashier, category, *net);
        }
    }

    pub fn ret(&mut self, x: &TakenReturn<'_>) {
        let r = self.row(x.by);
        r.returns += 1;
        r.returns_fen = r.returns_fen.saturating_add(x.refund_fen);
        let seller = x.seller.unwrap_or(x.by);
        for (category, refund) in &x.lines {
            self.category(seller, category, refund.saturating_neg());
        }
    }

    /// A voided cart; nobody signed in (`None`) is nobody's void.
    pub fn void(&mut self, cashier: Option<&str>, value_fen: i64) {
        if let Some(c) = cashier {
            let r = self.row(c);
            r.voids += 1;
            r.void_value_fen = r.void_value_fen.saturating_add(value_fen);
        }
    }

    pub fn registered(&mut self, staff: &str) {
        self.row(staff).members_registered += 1;
    }

    pub fn topup(&mut self, staff: &str, amount_fen: i64) {
        let r = self.row(staff);
        r.topups += 1;
        r.topup_fen = r.topup_fen.saturating_add(amount_fen);
    }

    /// A service ticket's rating (1–5) for who resolved it.
    pub fn rating(&mut self, staff: &str, score: u8) {
        let r = self.row(staff);
        r.ratings += 1;
        r.rating_sum += u64::from(score);
    }

    /// A row of zeros for `staff` (someone without activity in the period).
    pub fn idle(staff: &str) -> StaffFigures {
        StaffFigures { staff: staff.to_string(), ..StaffFigures::default() }
    }

    /// Makes sure `staff` has a row (with zeros) even without activity.
    pub fn touch(&mut self, staff: &str) {
        self.row(staff);
    }

    /// The rows by staff id, with their averages worked out.
    pub fn finish(self) -> Vec<StaffFigures> {
        self.rows
            .into_values()
            .map(|mut r| {
                let tickets = count_i64(r.tickets);
                r.average_ticket_fen = div_half_up(r.sales_fen, tickets);
                r.items_per_ticket_milli = div_half_up(r.items.saturating_mul(1000), tickets);
                r.satisfaction_milli = (r.ratings > 0).then(|| div_half_up(count_i64(r.rating_sum).saturating_mul(1000), count_i64(r.ratings)));
                r
            })
            .collect()
    }
}

/// Ranks rows by sales, ties by tickets (more first); rows equal on both share a rank (1, 2,
/// 2, 4). Within a rank, staff id order.
pub fn rank(mut rows: Vec<StaffFigures>) -> Vec<(u32, StaffFigures)> {
    rows.sort_by(|a, b| b.sales_fen.cmp(&a.sales_fen).then(b.tickets.cmp(&a.tickets)).then_with(|| a.staff.cmp(&b.staff)));
    let mut out: Vec<(u32, StaffFigures)> = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let rank = match out.last() {
            Some((prev_rank, prev)) if prev.sales_fen == r.sales_fen && prev.tickets == r.tickets => *prev_rank,
            _ => u32::try_from(i + 1).unwrap_or(u32::MAX),
        };
        out.push((rank, r));
    }
    out
}

/// A staff member's target for a period. At least one figure is set; each is more than zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    pub sales_fen: Option<i64>,
    pub tickets: Option<u64>,
    pub new_members: Option<u64>,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target for {period}: that period ended on {ended}; set targets for the current or a future period")]
    PastPeriod { period: String, ended: NaiveDate },
    #[error("target: give at least one of sales_fen, tickets, new_members")]
    Empty,
    #[error("target {field}: must be more than 0 and at most {max}, got {got}")]
    OutOfRange { field: &'static str, max: i64, got: i64 },
}

impl TargetError {
    /// The field a form should mark.
    pub fn field(&self) -> &'static str {
        match self {
            TargetError::PastPeriod { .. } => "period",
            TargetError::Empty => "sales_fen",
            TargetError::OutOfRange { field, .. } => field,
        }
    }
}

/// Checks a target for `period` set on `today` (shop-local).
pub fn check_target(target: &Target, period: &StaffPeriod, today: NaiveDate) -> Result<(), TargetError> {
    if period.is_past(today) {
        return Err(TargetError::PastPeriod { period: period.label(), ended: period.to });
    }
    if target.sales_fen.is_none() && target.tickets.is_none() && target.new_members.is_none() {
        return Err(TargetError::Empty);
    }
    if let Some(v) = target.sales_fen.filter(|v| *v <= 0 || *v > MAX_TARGET_FEN) {
        return Err(TargetError::OutOfRange { field: "sales_fen", max: MAX_TARGET_FEN, got: v });
    }
    for (field, v) in [("tickets", target.tickets), ("new_members", target.new_members)] {
        if let Some(v) = v.filter(|v| *v == 0 || *v > MAX_TARGET_COUNT) {
            return Err(TargetError::OutOfRange { field, max: count_i64(MAX_TARGET_COUNT), got: count_i64(v) });
        }
    }
    Ok(())
}

/// How far a staff member got towards each figure of their target, in basis points of it
/// (half up, not capped: 12 500 = 125 %).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub sales_bp: Option<i64>,
    pub tickets_bp: Option<i64>,
    pub new_members_bp: Option<i64>,
}

/// `actual` of `target` in basis points, half up.
pub fn progress_bp(actual: i64, target: i64) -> i64 {
    div_half_up(actual.saturating_mul(WHOLE_BP), target)
}

/// Progress of `f` against `t` (sales against the sales they rang up).
pub fn progress(f: &StaffFigures, t: &Target) -> Progress {
    Progress {
        sales_bp: t.sales_fen.map(|v| progress_bp(f.sales_fen, v)),
        tickets_bp: t.tickets.map(|v| progress_bp(count_i64(f.tickets), count_i64(v))),
        new_members_bp: t.new_members.map(|v| progress_bp(count_i64(f.members_registered), count_i64(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_parse_as_day_iso_week_and_month() {
        let day = StaffPeriod::parse("2026-11-25").unwrap();
        assert_eq!((day.kind, day.from, day.to, day.label()), (Period::Day, d(2026, 11, 25), d(2026, 11, 25), "2026-11-25".into()));
        // ISO week 48 of 2026: Monday 23 to Sunday 29 November.
        let week = StaffPeriod::parse("2026-W48").unwrap();
        assert_eq!((week.from, week.to, week.label()), (d(2026, 11, 23), d(2026, 11, 29), "2026-W48".into()));
        // Week 1 of 2027 starts on Monday 4 January 2027; week 53 of 2026 holds 1 January 2027.
        assert_eq!(StaffPeriod::parse("2027-W01").unwrap().from, d(2027, 1, 4));
        assert_eq!(StaffPeriod::parse("2026-W53").unwrap().to, d(2027, 1, 3));
        let month = StaffPeriod::parse("2026-02").unwrap();
        assert_eq!((month.kind, month.from, month.to), (Period::Month, d(2026, 2, 1), d(2026, 2, 28)));
        assert_eq!(StaffPeriod::parse("2028-02").unwrap().to, d(2028, 2, 29));
        assert_eq!(month.previous().label(), "2026-01");
        assert_eq!(month.next().label(), "2026-03");
        assert_eq!(week.next().label(), "2026-W49");
        for bad in ["", "2026", "2026-13", "2026-W60", "2026-W4", "26-11", "2026-11-31", "november"] {
            assert!(StaffPeriod::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            StaffPeriod::parse("2026/11").unwrap_err().to_string(),
            "period: expected a day (2026-11-25), an ISO week (2026-W48) or a month (2026-11), got \"2026/11\""
        );
    }

    /// Two cashiers over a day, worked by hand:
    /// - 王芳 (wang) rings ticket A ¥30.00 (3 drinks ¥10.00 each, one coupon) and ticket B
    ///   ¥15.99 (1 kg bananas as one item ¥7.99 + 2 breads ¥4.00 each): ¥45.99, 2 tickets,
    ///   average ¥23.00 (22.995 half up), 6 items → 3.000 per ticket.
    /// - 李强 (li) rings ticket C ¥8.00 (1 drink ¥8.00), takes a return of one drink ¥10.00 from
    ///   wang's ticket A and a receipt-less return of bread ¥4.00, voids a cart worth ¥12.50,
    ///   registers two members, takes a ¥500.00 top-up, resolves tickets rated 5 and 4 (4.500).
    ///
    /// Net drinks: wang 30.00 − 10.00 = 20.00; li 8.00. Bread: wang 8.00; li −4.00.
    #[test]
    fn two_cashiers_worked_by_hand() {
        let mut acc = PerformanceAcc::default();
        acc.sale(&SoldTicket { cashier: "wang", total_fen: 3_000, items: 3, coupons: 1, lines: vec![("饮料", 3_000)] });
        acc.sale(&SoldTicket { cashier: "wang", total_fen: 1_599, items: 3, coupons: 0, lines: vec![("水果", 799), ("面包", 800)] });
        acc.sale(&SoldTicket { cashier: "li", total_fen: 800, items: 1, coupons: 0, lines: vec![("饮料", 800)] });
        acc.ret(&TakenReturn { by: "li", refund_fen: 1_000, seller: Some("wang"), lines: vec![("饮料", 1_000)] });
        acc.ret(&TakenReturn { by: "li", refund_fen: 400, seller: None, lines: vec![("面包", 400)] });
        acc.void(Some("li"), 1_250);
        acc.void(None, 999);
        acc.registered("li");
        acc.registered("li");
        acc.topup("li", 50_000);
        acc.rating("li", 5);
        acc.rating("li", 4);
        acc.touch("zhao");
        let rows = acc.finish();
        assert_eq!(rows.len(), 3);
        let li = &rows[0];
        assert_eq!((li.staff.as_str(), li.sales_fen, li.tickets, li.average_ticket_fen, li.items_per_ticket_milli), ("li", 800, 1, 800, 1_000));
        assert_eq!((li.returns, li.returns_fen, li.voids, li.void_value_fen), (2, 1_400, 1, 1_250));
        assert_eq!((li.members_registered, li.topups, li.topup_fen, li.ratings, li.satisfaction_milli), (2, 1, 50_000, 2, Some(4_500)));
        assert_eq!(li.net_sales_by_category, BTreeMap::from([("饮料".to_string(), 800), ("面包".to_string(), -400)]));
        let wang = &rows[1];
        assert_eq!((wang.sales_fen, wang.tickets, wang.average_ticket_fen, wang.items, wang.items_per_ticket_milli, wang.coupons_redeemed), (4_599, 2, 2_300, 6, 3_000, 1));
        assert_eq!((wang.returns, wang.voids, wang.satisfaction_milli), (0, 0, None));
        assert_eq!(wang.net_sales_by_category, BTreeMap::from([("水果".to_string(), 799), ("面包".to_string(), 800), ("饮料".to_string(), 2_000)]));
        let zhao = &rows[2];
        assert_eq!((zhao.sales_fen, zhao.tickets, zhao.average_ticket_fen, zhao.items_per_ticket_milli), (0, 0, 0, 0));

        let ranked = rank(rows);
        let order: Vec<(u32, &str)> = ranked.iter().map(|(r, f)| (*r, f.staff.as_str())).collect();
        assert_eq!(order, vec![(1, "wang"), (2, "li"), (3, "zhao")]);
    }

    #[test]
    fn ranking_breaks_ties_by_tickets_and_shares_exact_ties() {
        let f = |staff: &str, sales_fen, tickets| StaffFigures { staff: staff.into(), sales_fen, tickets, ..StaffFigures::default() };
        let ranked = rank(vec![f("a", 10_000, 5), f("b", 10_000, 8), f("c", 20_000, 1), f("d", 10_000, 5), f("e", 0, 0)]);
        let order: Vec<(u32, &str)> = ranked.iter().map(|(r, f)| (*r, f.staff.as_str())).collect();
        assert_eq!(order, vec![(1, "c"), (2, "b"), (3, "a"), (3, "d"), (5, "e")]);
    }

    #[test]
    fn targets_for_past_periods_and_empty_or_silly_targets_are_refused() {
        let today = d(2026, 11, 25);
        let t = Target { sales_fen: Some(3_000_000), tickets: Some(400), new_members: None };
        assert_eq!(check_target(&t, &StaffPeriod::parse("2026-11").unwrap(), today), Ok(()));
        assert_eq!(check_target(&t, &StaffPeriod::parse("2026-11-25").unwrap(), today), Ok(()));
        assert_eq!(check_target(&t, &StaffPeriod::parse("2026-12").unwrap(), today), Ok(()));
        let past = check_target(&t, &StaffPeriod::parse("2026-10").unwrap(), today).unwrap_err();
        assert_eq!(past, TargetError::PastPeriod { period: "2026-10".into(), ended: d(2026, 10, 31) });
        assert_eq!(past.to_string(), "target for 2026-10: that period ended on 2026-10-31; set targets for the current or a future period");
        assert!(check_target(&t, &StaffPeriod::parse("2026-11-24").unwrap(), today).is_err());
        assert!(check_target(&t, &StaffPeriod::parse("2026-W47").unwrap(), today).is_err());
        assert_eq!(check_target(&Target::default(), &StaffPeriod::parse("2026-11").unwrap(), today), Err(TargetError::Empty));
        let zero = Target { tickets: Some(0), ..Target::default() };
        assert_eq!(check_target(&zero, &StaffPeriod::parse("2026-11").unwrap(), today).unwrap_err().field(), "tickets");
        let negative = Target { sales_fen: Some(-1), ..Target::default() };
        assert_eq!(check_target(&negative, &StaffPeriod::parse("2026-11").unwrap(), today).unwrap_err().field(), "sales_fen");
    }

    #[test]
    fn progress_in_basis_points_half_up_and_uncapped() {
        let f = StaffFigures { sales_fen: 2_345_678, tickets: 450, members_registered: 1, ..StaffFigures::default() };
        // ¥23,456.78 of ¥30,000.00 = 78.1892…% → 7 819 bp; 450 of 400 tickets = 112.5 %; 1 of 3
        // members = 33.33…% → 3 333 bp.
        let p = progress(&f, &Target { sales_fen: Some(3_000_000), tickets: Some(400), new_members: Some(3) });
        assert_eq!(p, Progress { sales_bp: Some(7_819), tickets_bp: Some(11_250), new_members_bp: Some(3_333) });
        assert_eq!(progress(&f, &Target { tickets: Some(400), ..Target::default() }).sales_bp, None);
    }
}
