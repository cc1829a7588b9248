//! Sales reports and the dashboard's figures: reads the store (`facts`), feeds the pure
//! accumulators of `domain::reports`, and hands back tables (`table`) the web shows, downloads as
//! CSV and serves as JSON. The dashboard's day is cached (`dashboard`): it is computed again only
//! when something was committed (the outbox's newest sequence moved) or the shop-local date
//! changed.
//!
//! Read-only: nothing here writes to the store. What each figure means is written once, in
//! `domain::reports` and docs/web.md ("Dashboard and reports").

pub mod dashboard;
pub mod facts;
pub mod table;

use std::collections::HashMap;

use crate::domain::reports::{self as r, DateRange, Period};
use crate::store::{Store, StoreError};
use table::{col, Cell, CellKind, ChartSpec, ChartStyle, Column, Table};

pub use dashboard::{DashboardFigures, SummaryCache};

/// Rows a report shows at most (a product ranking of a large catalog); the rest are cut and the
/// table says so.
pub const MAX_ROWS: usize = 2_000;

/// What the reports need from the shop's configuration.
#[derive(Debug, Clone)]
pub struct ReportSetup {
    pub tz: chrono_tz::Tz,
    /// Tier ids, lowest first (`[[loyalty.tiers]]`).
    pub ladder: Vec<String>,
}

impl ReportSetup {
    pub fn of(ctx: &crate::control::ops::Context) -> ReportSetup {
        ReportSetup { tz: ctx.tz, ladder: ctx.loyalty.ladder.iter().map(|t| t.id.clone()).collect() }
    }
}

/// The reports there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    SalesTrend,
    Products,
    Categories,
    MembersByTier,
    Repurchase,
    NewMembers,
    Cashiers,
    Shifts,
    /// Sales channels (渠道分析): `members::channel_report`.
    Channels,
}

impl ReportKind {
    pub const ALL: [ReportKind; 9] = [
        ReportKind::SalesTrend,
        ReportKind::Products,
        ReportKind::Categories,
        ReportKind::MembersByTier,
        ReportKind::Repurchase,
        ReportKind::NewMembers,
        ReportKind::Cashiers,
        ReportKind::Shifts,
        ReportKind::Channels,
    ];

    /// The name in URLs.
    pub fn slug(self) -> &'static str {
        match self {
            ReportKind::SalesTrend => "sales-trend",
            ReportKind::Products => "products",
            ReportKind::Categories => "categories",
            ReportKind::MembersByTier => "members-by-tier",
            ReportKind::Repurchase => "repurchase",
            ReportKind::NewMembers => "new-members",
            ReportKind::Cashiers => "cashiers",
            ReportKind::Shifts => "shifts",
            ReportKind::Channels => "channels",
        }
    }

    pub fn parse(s: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// Title (zh, en).
    pub fn title(self) -> (&'static str, &'static str) {
        match self {
            ReportKind::SalesTrend => ("销售趋势", "Sales trend"),
            ReportKind::Products => ("商品排行", "Product ranking"),
            ReportKind::Categories => ("品类占比", "Category share"),
            ReportKind::MembersByTier => ("会员贡献（按等级）", "Member contribution by tier"),
            ReportKind::Repurchase => ("复购率", "Repurchase rate"),
            ReportKind::NewMembers => ("新增会员", "New members"),
            ReportKind::Cashiers => ("收银员业绩", "Cashier performance"),
            ReportKind::Shifts => ("交班报表", "Shift reports"),
            ReportKind::Channels => ("渠道分析", "Sales channels"),
        }
    }

    /// One line on what it shows (zh, en).
    pub fn about(self) -> (&'static str, &'static str) {
        match self {
            ReportKind::SalesTrend => ("每日、每周或每月的销售额、退款、净销售额、客单数、客单价和会员占比", "Sales, refunds, net sales, tickets, average ticket and members' share per day, week or month"),
            ReportKind::Products => ("各商品的销量和净销售额（已扣除退货）", "Quantity and net sales of each product, returns taken off"),
            ReportKind::Categories => ("各品类的净销售额及占比", "Net sales of each category and its share"),
            ReportKind::MembersByTier => ("各会员等级（付款时的等级）及非会员的销售", "Sales by the member's tier when they paid, and of guests"),
            ReportKind::Repurchase => ("期间内有购买的会员中，在两天或以上有购买的比例", "Of the members who bought in the range, those who bought on two days or more"),
            ReportKind::NewMembers => ("期间内注册的会员，以及其中已购买的人数", "Members registered in the range, and how many of them bought"),
            ReportKind::Cashiers => ("每位员工的客单数、销售额、作废和退货", "Tickets, sales, voids and returns of each person"),
            ReportKind::Shifts => ("期间内开班的班次：备用金、现金收支、应有现金、实点与差额", "Shifts opened in the range: float, cash in and out, expected, counted and the difference"),
            ReportKind::Channels => (
                "各销售渠道（门店、小程序、外卖平台、线上商城、电话订单）的销售额（扣除退款）、客单数、会员数、新会员、复购率和客单价，先全期后分期",
                "Per sales channel (in store, mini program, delivery, online mall, phone): sales net of refunds, tickets, members, new members, repeat rate and average ticket; the whole range first, then each period",
            ),
        }
    }

    /// Whether the report is cut into days, weeks or months.
    pub fn uses_period(self) -> bool {
        matches!(self, ReportKind::SalesTrend | ReportKind::NewMembers | ReportKind::Channels)
    }
}

/// One report over `range` (by `period` where the report has periods; `Day` when `None`).
pub fn run(store: &Store, setup: &ReportSetup, kind: ReportKind, range: DateRange, period: Option<Period>) -> Result<Table, StoreError> {
    let period = kind.uses_period().then(|| period.unwrap_or(Period::Day));
    let tz = setup.tz;
    let mut table = Table { kind, range, period, columns: Vec::new(), rows: Vec::new(), truncated: false, chart: None };
    match kind {
        ReportKind::SalesTrend => {
            let acc = std::cell::RefCell::new(r::TrendAcc::new(&range, period.unwrap_or(Period::Day)));
            let mut on_sale = |s: &r::SaleFact| acc.borrow_mut().sale(s);
            let mut on_ret = |x: &r::ReturnFact| acc.borrow_mut().ret(x);
            facts::feed(store, tz, &range, facts::Sinks { sale: Some(&mut on_sale), ret: Some(&mut on_ret), ..Default::default() })?;
            table.columns = TREND_COLUMNS.to_vec();
            table.rows = acc
                .into_inner()
                .finish()
                .into_iter()
                .map(|t| vec![Cell::Text(t.label), Cell::Date(t.start), Cell::Int(t.tickets as i64), Cell::Fen(t.sales_fen), Cell::Fen(t.refunds_fen), Cell::Fen(t.net_sales_fen), Cell::Fen(t.average_ticket_fen), Cell::Bp(t.member_share_bp)])
                .collect();
            let style = if period == Some(Period::Day) && table.rows.len() > 1 { ChartStyle::Line } else { ChartStyle::Bars };
            table.chart = Some(ChartSpec { style, label: 0, value: 5, limit: MAX_ROWS });
        }
        ReportKind::Products | ReportKind::Categories => {
            let rows = products(store, tz, &range)?;
            if kind == ReportKind::Products {
                table.columns = PRODUCT_COLUMNS.to_vec();
                table.truncated = rows.len() > MAX_ROWS;
                table.rows = rows
                    .into_iter()
                    .take(MAX_ROWS)
                    .enumerate()
                    .map(|(i, p)| {
                        vec![Cell::Int(i as i64 + 1), Cell::Text(p.sku), Cell::Text(p.name_zh), Cell::Text(p.name_en), Cell::Text(p.category), Cell::Int(p.pieces), Cell::Grams(p.grams), Cell::Int(p.tickets as i64), Cell::Fen(p.sales_fen), Cell::Fen(p.refunds_fen), Cell::Fen(p.net_fen)]
                    })
                    .collect();
                table.chart = Some(ChartSpec { style: ChartStyle::HBars, label: 2, value: 10, limit: 10 });
            } else {
                table.columns = CATEGORY_COLUMNS.to_vec();
                table.rows = r::categories(&rows)
                    .into_iter()
                    .map(|c| vec![Cell::Text(c.category), Cell::Fen(c.sales_fen), Cell::Fen(c.refunds_fen), Cell::Fen(c.net_fen), Cell::Bp(c.share_bp)])
                    .collect();
                table.chart = Some(ChartSpec { style: ChartStyle::HBars, label: 0, value: 4, limit: 20 });
            }
        }
        ReportKind::MembersByTier => {
            let acc = std::cell::RefCell::new(r::TiersAcc::default());
            let mut on_sale = |s: &r::SaleFact| acc.borrow_mut().sale(s);
            let mut on_ret = |x: &r::ReturnFact| acc.borrow_mut().ret(x);
            facts::feed(store, tz, &range, facts::Sinks { sale: Some(&mut on_sale), ret: Some(&mut on_ret), ..Default::default() })?;
            table.columns = TIER_COLUMNS.to_vec();
            table.rows = acc
                .into_inner()
                .finish(&setup.ladder)
                .into_iter()
                .map(|t| {
                    let (group, tier) = match t.group {
                        r::TierGroup::Tier(id) => (Cell::Term { value: "tier", zh: "会员等级", en: "tier" }, Cell::Text(id)),
                        r::TierGroup::NoTier => (Cell::Term { value: "no_tier", zh: "无等级会员", en: "members without a tier" }, Cell::Empty),
                        r::TierGroup::Guests => (Cell::Term { value: "guests", zh: "非会员", en: "guests" }, Cell::Empty),
                    };
                    vec![group, tier, Cell::Int(t.members as i64), Cell::Int(t.tickets as i64), Cell::Fen(t.sales_fen), Cell::Fen(t.refunds_fen), Cell::Fen(t.net_fen), Cell::Fen(t.average_ticket_fen), Cell::Bp(t.share_bp)]
                })
                .collect();
            table.chart = Some(ChartSpec { style: ChartStyle::HBars, label: 1, value: 8, limit: 20 });
        }
        ReportKind::Repurchase => {
            let mut acc = r::RepurchaseAcc::default();
            let mut on_sale = |s: &r::SaleFact| acc.sale(s);
            facts::feed(store, tz, &range, facts::Sinks { sale: Some(&mut on_sale), ..Default::default() })?;
            table.columns = REPURCHASE_COLUMNS.to_vec();
            table.rows = acc
                .finish(&setup.ladder)
                .into_iter()
                .map(|x| {
                    let (scope, tier) = match x.tier {
                        None => (Cell::Term { value: "all", zh: "全部会员", en: "all members" }, Cell::Empty),
                        Some(t) if t.is_empty() => (Cell::Term { value: "no_tier", zh: "无等级会员", en: "members without a tier" }, Cell::Empty),
                        Some(t) => (Cell::Term { value: "tier", zh: "会员等级", en: "tier" }, Cell::Text(t)),
                    };
                    vec![scope, tier, Cell::Int(x.buyers as i64), Cell::Int(x.repeat_buyers as i64), Cell::Bp(x.rate_bp)]
                })
                .collect();
        }
        ReportKind::NewMembers => {
            let acc = std::cell::RefCell::new(r::NewMembersAcc::new(&range, period.unwrap_or(Period::Day)));
            let mut on_sale = |s: &r::SaleFact| acc.borrow_mut().sale(s);
            let mut on_member = |id: u64, day: chrono::NaiveDate| acc.borrow_mut().registered(id, day);
            facts::feed(store, tz, &range, facts::Sinks { sale: Some(&mut on_sale), member: Some(&mut on_member), ..Default::default() })?;
            table.columns = NEW_MEMBER_COLUMNS.to_vec();
            table.rows = acc.into_inner().finish().into_iter().map(|n| vec![Cell::Text(n.label), Cell::Date(n.start), Cell::Int(n.new_members as i64), Cell::Int(n.bought as i64)]).collect();
            table.chart = Some(ChartSpec { style: ChartStyle::Bars, label: 0, value: 2, limit: MAX_ROWS });
        }
        ReportKind::Cashiers => {
            let acc = std::cell::RefCell::new(r::CashiersAcc::default());
            let mut on_sale = |s: &r::SaleFact| acc.borrow_mut().sale(s);
            let mut on_ret = |x: &r::ReturnFact| acc.borrow_mut().ret(x);
            let mut on_void = |v: &r::VoidFact| acc.borrow_mut().void(v);
            facts::feed(store, tz, &range, facts::Sinks { sale: Some(&mut on_sale), ret: Some(&mut on_ret), void: Some(&mut on_void), ..Default::default() })?;
            table.columns = CASHIER_COLUMNS.to_vec();
            let mut names: HashMap<String, String> = HashMap::new();
            let mut rows = Vec::new();
            for c in acc.into_inner().finish() {
                if !names.contains_key(&c.staff) {
                    let name = crate::staff::staff_info(store, &c.staff)?.map(|i| i.name).unwrap_or_default();
                    names.insert(c.staff.clone(), name);
                }
                let name = names.get(&c.staff).cloned().unwrap_or_default();
                rows.push(vec![Cell::Text(c.staff), Cell::Text(name), Cell::Int(c.tickets as i64), Cell::Fen(c.sales_fen), Cell::Fen(c.average_ticket_fen), Cell::Int(c.voids as i64), Cell::Fen(c.void_value_fen), Cell::Int(c.returns as i64), Cell::Fen(c.refunds_fen)]);
            }
            table.rows = rows;
            table.chart = Some(ChartSpec { style: ChartStyle::HBars, label: 1, value: 3, limit: 20 });
        }
        ReportKind::Shifts => {
            let mut rows = Vec::new();
            let mut on_shift = |s: &r::ShiftFact| rows.push(r::shift_row(s));
            facts::feed(store, tz, &range, facts::Sinks { shift: Some(&mut on_shift), ..Default::default() })?;
            table.columns = SHIFT_COLUMNS.to_vec();
            table.truncated = rows.len() > MAX_ROWS;
            let opt_time = |t: Option<chrono::NaiveDateTime>| t.map_or(Cell::Empty, Cell::DateTime);
            let opt_fen = |f: Option<i64>| f.map_or(Cell::Empty, Cell::Fen);
            table.rows = rows
                .into_iter()
                .take(MAX_ROWS)
                .map(|s| {
                    vec![
                        Cell::Int(s.id as i64),
                        Cell::Text(s.lane),
                        Cell::Text(s.staff),
                        Cell::DateTime(s.opened_at),
                        opt_time(s.closed_at),
                        s.closed_by.map_or(Cell::Empty, Cell::Text),
                        Cell::Fen(s.float_fen),
                        Cell::Fen(s.cash_sales_fen),
                        Cell::Fen(s.cash_refunds_fen),
                        Cell::Fen(s.paid_in_fen),
                        Cell::Fen(s.paid_out_fen),
                        Cell::Fen(s.expected_fen),
                        opt_fen(s.counted_fen),
                        opt_fen(s.difference_fen),
                    ]
                })
                .collect();
        }
        ReportKind::Channels => {
            table.columns = CHANNEL_COLUMNS.to_vec();
            table.rows = crate::members::channel_report::rows(store, tz, &range, period.unwrap_or(Period::Day))?
                .into_iter()
                .map(|r| {
                    let period = match r.label {
                        Some(l) => Cell::Text(l),
                        None => Cell::Term { value: "all", zh: "全期", en: "whole range" },
                    };
                    let channel = Cell::Term { value: r.channel.as_str(), zh: r.channel.label_zh(), en: r.channel.label_en() };
                    vec![
                        period,
                        Cell::Date(r.start),
                        channel,
                        Cell::Int(r.tickets as i64),
                        Cell::Fen(r.sales_fen),
                        Cell::Fen(r.refunds_fen),
                        Cell::Fen(r.net_sales_fen),
                        Cell::Int(r.members as i64),
                        Cell::Int(r.new_members as i64),
                        Cell::Int(r.repeat_members as i64),
                        Cell::Bp(r.repeat_rate_bp),
                        Cell::Fen(r.average_ticket_fen),
                    ]
                })
                .collect();
            // The first rows are the whole range, one per channel: net sales per channel.
            table.chart = Some(ChartSpec { style: ChartStyle::HBars, label: 2, value: 6, limit: crate::domain::channel::SalesChannel::ALL.len() });
        }
    }
    Ok(table)
}

/// Every product sold or returned in `range`, best net sales first; names of products only
/// returned come from the catalog.
fn products(store: &Store, tz: chrono_tz::Tz, range: &DateRange) -> Result<Vec<r::ProductRow>, StoreError> {
    let acc = std::cell::RefCell::new(r::ProductsAcc::default());
    let mut on_sale = |s: &r::SaleFact| acc.borrow_mut().sale(s);
    let mut on_ret = |x: &r::ReturnFact| acc.borrow_mut().ret(x);
    facts::feed(store, tz, range, facts::Sinks { sale: Some(&mut on_sale), ret: Some(&mut on_ret), ..Default::default() })?;
    let mut rows = acc.into_inner().finish();
    for p in rows.iter_mut().filter(|p| p.name_zh.is_empty() && p.name_en.is_empty()) {
        if let Some(found) = crate::catalog::product(store, &p.sku)? {
            p.name_zh = found.name_zh;
            p.name_en = found.name_en;
        }
    }
    Ok(rows)
}

const TREND_COLUMNS: [Column; 8] = [
    col("period", "期间", "Period", CellKind::Text),
    col("start", "起始日", "Starts", CellKind::Date),
    col("tickets", "客单数", "Tickets", CellKind::Int),
    col("sales_fen", "销售额", "Sales", CellKind::Fen),
    col("refunds_fen", "退款", "Refunds", CellKind::Fen),
    col("net_sales_fen", "净销售额", "Net sales", CellKind::Fen),
    col("average_ticket_fen", "客单价", "Average ticket", CellKind::Fen),
    col("member_share_bp", "会员占比", "Members' share", CellKind::Bp),
];

const PRODUCT_COLUMNS: [Column; 11] = [
    col("rank", "排名", "Rank", CellKind::Int),
    col("sku", "货号", "SKU", CellKind::Text),
    col("name_zh", "品名", "Name (zh)", CellKind::Text),
    col("name_en", "英文名", "Name (en)", CellKind::Text),
    col("category", "品类", "Category", CellKind::Text),
    col("pieces", "件数", "Pieces", CellKind::Int),
    col("grams", "重量", "Weight", CellKind::Grams),
    col("tickets", "客单数", "Tickets", CellKind::Int),
    col("sales_fen", "销售额", "Sales", CellKind::Fen),
    col("refunds_fen", "退款", "Refunds", CellKind::Fen),
    col("net_fen", "净销售额", "Net sales", CellKind::Fen),
];

const CATEGORY_COLUMNS: [Column; 5] = [
    col("category", "品类", "Category", CellKind::Text),
    col("sales_fen", "销售额", "Sales", CellKind::Fen),
    col("refunds_fen", "退款", "Refunds", CellKind::Fen),
    col("net_fen", "净销售额", "Net sales", CellKind::Fen),
    col("share_bp", "占比", "Share", CellKind::Bp),
];

const TIER_COLUMNS: [Column; 9] = [
    col("group", "类别", "Group", CellKind::Text),
    col("tier", "等级", "Tier", CellKind::Text),
    col("members", "购买会员数", "Members who bought", CellKind::Int),
    col("tickets", "客单数", "Tickets", CellKind::Int),
    col("sales_fen", "销售额", "Sales", CellKind::Fen),
    col("refunds_fen", "退款", "Refunds", CellKind::Fen),
    col("net_fen", "净销售额", "Net sales", CellKind::Fen),
    col("average_ticket_fen", "客单价", "Average ticket", CellKind::Fen),
    col("share_bp", "占比", "Share", CellKind::Bp),
];

const REPURCHASE_COLUMNS: [Column; 5] = [
    col("scope", "范围", "Scope", CellKind::Text),
    col("tier", "等级", "Tier", CellKind::Text),
    col("buyers", "购买会员数", "Members who bought", CellKind::Int),
    col("repeat_buyers", "复购会员数", "Bought on ≥ 2 days", CellKind::Int),
    col("rate_bp", "复购率", "Repurchase rate", CellKind::Bp),
];

const NEW_MEMBER_COLUMNS: [Column; 4] = [
    col("period", "期间", "Period", CellKind::Text),
    col("start", "起始日", "Starts", CellKind::Date),
    col("new_members", "新增会员", "New members", CellKind::Int),
    col("bought", "其中已购买", "Of them, bought", CellKind::Int),
];

const CASHIER_COLUMNS: [Column; 9] = [
    col("staff", "工号", "Staff id", CellKind::Text),
    col("name", "姓名", "Name", CellKind::Text),
    col("tickets", "客单数", "Tickets", CellKind::Int),
    col("sales_fen", "销售额", "Sales", CellKind::Fen),
    col("average_ticket_fen", "客单价", "Average ticket", CellKind::Fen),
    col("voids", "作废单数", "Voids", CellKind::Int),
    col("void_value_fen", "作废金额", "Voided value", CellKind::Fen),
    col("returns", "退货笔数", "Returns taken", CellKind::Int),
    col("refunds_fen", "退款金额", "Refunded", CellKind::Fen),
];

const SHIFT_COLUMNS: [Column; 14] = [
    col("shift", "班次", "Shift", CellKind::Int),
    col("lane", "收银台", "Lane", CellKind::Text),
    col("staff", "开班人", "Opened by", CellKind::Text),
    col("opened_at", "开班时间", "Opened", CellKind::DateTime),
    col("closed_at", "交班时间", "Closed", CellKind::DateTime),
    col("closed_by", "交班人", "Closed by", CellKind::Text),
    col("float_fen", "备用金", "Float", CellKind::Fen),
    col("cash_sales_fen", "现金销售", "Cash sales", CellKind::Fen),
    col("cash_refunds_fen", "现金退款", "Cash refunds", CellKind::Fen),
    col("paid_in_fen", "存入", "Paid in", CellKind::Fen),
    col("paid_out_fen", "取出", "Paid out", CellKind::Fen),
    col("expected_fen", "应有现金", "Expected cash", CellKind::Fen),
    col("counted_fen", "实点现金", "Counted", CellKind::Fen),
    col("difference_fen", "差额", "Difference", CellKind::Fen),
];

const CHANNEL_COLUMNS: [Column; 12] = [
    col("period", "期间", "Period", CellKind::Text),
    col("start", "起始日", "Starts", CellKind::Date),
    col("channel", "渠道", "Channel", CellKind::Text),
    col("tickets", "客单数", "Tickets", CellKind::Int),
    col("sales_fen", "销售额", "Sales", CellKind::Fen),
    col("refunds_fen", "退款", "Refunds", CellKind::Fen),
    col("net_sales_fen", "净销售额", "Net sales", CellKind::Fen),
    col("members", "购买会员数", "Members who bought", CellKind::Int),
    col("new_members", "新会员", "New members", CellKind::Int),
    col("repeat_members", "复购会员数", "Members with ≥ 2 tickets", CellKind::Int),
    col("repeat_rate_bp", "复购率", "Repeat rate", CellKind::Bp),
    col("average_ticket_fen", "客单价", "Average ticket", CellKind::Fen),
];
