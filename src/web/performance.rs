//! Staff performance (员工绩效) and commission (提成) on the LAN. `/staff/performance`: a period
//! picker (day, ISO week, month), the ranked table with progress against targets and the
//! targets form for managers (`ManageStaffTargets`); everyone else (`ClockIn`) sees only their
//! own figures and rank ("第 3 名 / 8"). `/staff/commission` (`ManageCommission`): the rules
//! form, the period's commission per staff member and the payroll CSV. The same under
//! `/api/v1/staff/performance`, `/api/v1/staff/targets`, `/api/v1/staff/commission/rules` and
//! `/api/v1/staff/commission`.
//!
//! Figures, visibility and arithmetic are `staff::performance`, `staff::commission` and their
//! domain modules'; this module reads forms and queries and renders.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, text};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::commission::{CommissionRules, RulesError};
use crate::domain::performance::{StaffPeriod, Target, TargetError};
use crate::domain::reports::{parse_date, Period};
use crate::domain::staff::Action;
use crate::staff::commission::{self, CommissionError, CommissionReport, CommissionRuleSet};
use crate::staff::performance::{self, PerformanceError, PerformanceReport, PerformanceRow, StaffTarget};
use crate::store::CommitError;

pub fn routes() -> Vec<RouteDef> {
    let own = Need::May(Action::ClockIn);
    let targets = Need::May(Action::ManageStaffTargets);
    let comm = Need::May(Action::ManageCommission);
    vec![
        RouteDef::get("/staff/performance", own, "Staff performance (员工绩效): the ranked table with targets (managers) or one's own row and rank", performance_page),
        RouteDef::post("/staff/performance/targets", targets, "Set a staff member's target for a period (form)", target_submit),
        RouteDef::get("/staff/commission", comm, "Commission (提成): the rules, the period's commission per staff member, the CSV", commission_page),
        RouteDef::post("/staff/commission/rules", comm, "Replace the commission rules (form)", rules_submit),
        RouteDef::get(
            "/api/v1/staff/performance",
            own,
            "Performance of a period, ranked by sales (ties by tickets); without ManageStaffTargets only the caller's own row and rank. Query: period (2026-11-25, 2026-W48 or 2026-11; default this month)",
            api_performance,
        )
        .returns::<PerformanceReport>(),
        RouteDef::get("/api/v1/staff/targets", targets, "Targets set for a period. Query: period", api_targets).returns::<TargetList>(),
        RouteDef::post("/api/v1/staff/targets", targets, "Set a staff member's target for the current or a future period", api_target_set).body::<TargetBody>().returns::<StaffTarget>(),
        RouteDef::get("/api/v1/staff/commission/rules", comm, "The commission rules", api_rules).returns::<CommissionRuleSet>(),
        RouteDef::put("/api/v1/staff/commission/rules", comm, "Replace the commission rules", api_rules_set).body::<CommissionRules>().returns::<CommissionRuleSet>(),
        RouteDef::get(
            "/api/v1/staff/commission",
            comm,
            "Commission per staff member for a period. Query: period (default this month), format (json|csv: the payroll CSV)",
            api_commission,
        )
        .returns::<CommissionReport>(),
    ]
}

// --- periods ---------------------------------------------------------------------------------

/// The period picker's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PeriodQuery {
    /// `2026-11-25`, `2026-W48` or `2026-11`: wins over the two below.
    period: Option<String>,
    /// `day`, `week` or `month`, with `date`.
    kind: Option<String>,
    date: Option<String>,
    format: Option<String>,
}

fn today(state: &AppState) -> NaiveDate {
    crate::clock::local(state.store.clock().now(), state.ctx.tz).date()
}

fn period_of(state: &AppState, lang: Lang, q: &PeriodQuery) -> Result<StaffPeriod, WebError> {
    if let Some(p) = text(&q.period) {
        return StaffPeriod::parse(p).map_err(|e| {
            forms::field(lang, "period", format!("期间格式：日 2026-11-25、周 2026-W48 或月 2026-11，现为“{}”", e.0), e.to_string())
        });
    }
    let kind = match text(&q.kind) {
        None => Period::Month,
        Some(k) => Period::parse(k).ok_or_else(|| forms::field(lang, "kind", "须为 day、week 或 month", format!("expected day, week or month, got {k:?}")))?,
    };
    let date = match text(&q.date) {
        None => today(state),
        Some(d) => parse_date(d).ok_or_else(|| forms::field(lang, "date", "日期格式须为 YYYY-MM-DD", format!("expected a date as YYYY-MM-DD, got {d:?}")))?,
    };
    Ok(StaffPeriod::containing(kind, date))
}

fn picker(lang: Lang, action: &str, p: &StaffPeriod) -> Markup {
    let link = |q: &StaffPeriod| forms::url(action, &[("period", &q.label())]);
    html! {
        form.toolbar method="get" action=(action) {
            label {
                (lang.pick("期间", "Period"))
                select name="kind" {
                    @for (k, zh, en) in [(Period::Day, "日", "Day"), (Period::Week, "周", "Week"), (Period::Month, "月", "Month")] {
                        option value=(k.as_str()) selected[k == p.kind] { (lang.pick(zh, en)) }
                    }
                }
            }
            label { (lang.pick("含日期", "Containing")) input type="date" name="date" value=(p.from.to_string()); }
            button type="submit" { (lang.pick("查看", "Show")) }
            " "
            a href=(link(&p.previous())) { "← " (p.previous().label()) }
            " · " strong { (p.label()) } " (" (p.from) " – " (p.to) ") · "
            a href=(link(&p.next())) { (p.next().label()) " →" }
        }
    }
}

/// Basis points as a percentage: 1 798 → `17.98%`, −50 → `-0.50%`.
fn pct(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}%", bp.unsigned_abs() / 100, bp.unsigned_abs() % 100)
}

/// Thousandths with two decimals, half up: 2 995 → `3.00`, 2 500 → `2.50`.
fn milli(v: i64) -> String {
    let h = crate::domain::reports::div_half_up(v, 10);
    let sign = if h < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", h.unsigned_abs() / 100, h.unsigned_abs() % 100)
}

fn bar(lang: Lang, label: (&str, &str), bp: Option<i64>) -> Markup {
    html! {
        @if let Some(bp) = bp {
            div.progress {
                span { (lang.pick(label.0, label.1)) " " (pct(bp)) }
                progress max="10000" value=(bp.clamp(0, 10_000)) { (pct(bp)) }
            }
        }
    }
}

fn progress_cell(lang: Lang, r: &PerformanceRow) -> Markup {
    html! {
        @match (&r.target, &r.progress) {
            (Some(t), Some(p)) => {
                (bar(lang, ("销售", "Sales"), p.sales_bp))
                @if let Some(v) = t.sales_fen { span.muted { (lang.pick("目标 ", "target ")) (yuan(v)) } }
                (bar(lang, ("单数", "Tickets"), p.tickets_bp))
                (bar(lang, ("新会员", "New members"), p.new_members_bp))
            }
            _ => { span.muted { "—" } }
        }
    }
}

// --- errors ----------------------------------------------------------------------------------

fn target_error(lang: Lang, e: CommitError<PerformanceError>) -> WebError {
    match e {
        CommitError::Rejected(PerformanceError::Target(t)) => {
            let zh = match &t {
                TargetError::PastPeriod { period, ended } => format!("期间 {period} 已于 {ended} 结束：只能为本期或以后的期间设定目标"),
                TargetError::Empty => "请至少填写销售额、单数或新会员数中的一项".to_string(),
                TargetError::OutOfRange { field, max, got } => format!("目标 {field} 须大于 0 且不超过 {max}，现为 {got}"),
            };
            forms::field(lang, t.field(), zh, t.to_string())
        }
        CommitError::Rejected(PerformanceError::UnknownStaff(id)) => {
            forms::field(lang, "staff", format!("没有员工账号 {id}"), format!("no staff account {id}"))
        }
        CommitError::Rejected(PerformanceError::Staff(other)) => WebError::forbidden(other.to_string()),
        CommitError::Store(e) => WebError::internal(e.to_string()),
    }
}

fn rules_error(lang: Lang, e: CommitError<CommissionError>) -> WebError {
    match e {
        CommitError::Rejected(CommissionError::Rules(r)) => {
            let zh = match &r {
                RulesError::Rate { field, got } => format!("{field}：比例须在 0 到 10000 bp（0–100%）之间，现为 {got}"),
                RulesError::PerMember(v) => format!("每位新会员提成须在 0 到 ¥1,000.00 之间，现为 {v} 分"),
                RulesError::Category(c) => format!("品类名称须为 1 到 32 个字符，现为“{c}”"),
                RulesError::TooMany(n) => format!("最多 100 个品类，现为 {n}"),
            };
            forms::field(lang, r.field(), zh, r.to_string())
        }
        CommitError::Rejected(CommissionError::Staff(other)) => WebError::forbidden(other.to_string()),
        CommitError::Store(e) => WebError::internal(e.to_string()),
    }
}

// --- performance -----------------------------------------------------------------------------

async fn load_report(state: &AppState, me: &Identity, period: StaffPeriod) -> Result<PerformanceReport, WebError> {
    let viewer = me.staff.clone();
    state.blocking(move |store, ctx| Ok(performance::report(store, ctx.tz, &period)?.seen_by(&viewer))).await
}

async fn api_performance(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let q: PeriodQuery = forms::parse_query(q.as_deref())?;
    let period = period_of(&state, me.lang, &q)?;
    Ok(Json(load_report(&state, &me, period).await?).into_response())
}

/// The targets of a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TargetList {
    pub period: String,
    pub targets: Vec<StaffTarget>,
}

async fn api_targets(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let q: PeriodQuery = forms::parse_query(q.as_deref())?;
    let period = period_of(&state, me.lang, &q)?;
    let targets = state.blocking(move |store, _| Ok(performance::targets(store, &period)?)).await?;
    Ok(Json(TargetList { period: period.label(), targets }).into_response())
}

/// A target for a staff member and period (at least one figure).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    pub staff: String,
    /// `2026-11-25`, `2026-W48` or `2026-11`: the current or a future period.
    pub period: String,
    #[serde(default)]
    pub sales_fen: Option<i64>,
    #[serde(default)]
    pub tickets: Option<u64>,
    #[serde(default)]
    pub new_members: Option<u64>,
}

async fn save_target(state: &AppState, me: &Identity, b: TargetBody) -> Result<StaffTarget, WebError> {
    let lang = me.lang;
    let period = period_of(state, lang, &PeriodQuery { period: Some(b.period.clone()), ..PeriodQuery::default() })?;
    let target = Target { sales_fen: b.sales_fen, tickets: b.tickets, new_members: b.new_members };
    let by = me.staff.id.clone();
    let day = today(state);
    state.blocking(move |store, _| performance::set_target(store, &by, &b.staff, &period, target, day).map_err(|e| target_error(lang, e))).await
}

async fn api_target_set(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<TargetBody>) -> Result<Response, WebError> {
    Ok(Json(save_target(&state, &me, b).await?).into_response())
}

/// The targets form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TargetForm {
    staff: Option<String>,
    period: Option<String>,
    sales: Option<String>,
    tickets: Option<String>,
    new_members: Option<String>,
}

fn count(lang: Lang, name: &str, typed: &Option<String>) -> Result<Option<u64>, WebError> {
    match forms::opt_int(lang, name, typed)? {
        None => Ok(None),
        Some(v) => u64::try_from(v).map(Some).map_err(|_| forms::field(lang, name, "须为正整数", "must be a positive whole number")),
    }
}

async fn target_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: TargetForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let period_text = text(&f.period).unwrap_or_default().to_string();
    let result = async {
        let b = TargetBody {
            staff: text(&f.staff).unwrap_or_default().to_string(),
            period: period_text.clone(),
            sales_fen: forms::opt_yuan(lang, "sales_fen", &f.sales)?,
            tickets: count(lang, "tickets", &f.tickets)?,
            new_members: count(lang, "new_members", &f.new_members)?,
        };
        save_target(&state, &me, b).await
    }
    .await;
    match result {
        Ok(t) => Ok(Redirect::to(&forms::url("/staff/performance", &[("period", &t.period)])).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            let q = PeriodQuery { period: Some(period_text), ..PeriodQuery::default() };
            let period = period_of(&state, lang, &q).unwrap_or_else(|_| StaffPeriod::containing(Period::Month, today(&state)));
            let page = render_performance(&state, &me, period, Some(&e)).await?;
            Ok((e.status, page).into_response())
        }
    }
}

async fn performance_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let q: PeriodQuery = forms::parse_query(q.as_deref())?;
    let period = period_of(&state, me.lang, &q)?;
    Ok(render_performance(&state, &me, period, None).await?.into_response())
}

async fn render_performance(state: &AppState, me: &Identity, period: StaffPeriod, error: Option<&WebError>) -> Result<Markup, WebError> {
    let lang = me.lang;
    let report = load_report(state, me, period).await?;
    let title = lang.pick("员工绩效", "Staff performance");
    let manager = me.staff.may(Action::ManageStaffTargets);
    let sat = |r: &PerformanceRow| r.figures.satisfaction_milli.map_or("—".to_string(), milli);
    let body = html! {
        h1 { (title) }
        (picker(lang, "/staff/performance", &period))
        @if let Some(e) = error { p.error role="alert" { (e.message) } }
        @if me.staff.may(Action::ManageCommission) { p { a href=(forms::url("/staff/commission", &[("period", &report.period)])) { (lang.pick("提成", "Commission")) " →" } } }
        @if report.full {
            div style="overflow-x:auto" {
                table {
                    thead { tr {
                        th.num { (lang.pick("名次", "Rank")) } th { (lang.pick("员工", "Staff")) }
                        th.num { (lang.pick("销售额", "Sales")) } th.num { (lang.pick("单数", "Tickets")) } th.num { (lang.pick("客单价", "Avg ticket")) }
                        th.num { (lang.pick("件/单", "Items/ticket")) } th.num { (lang.pick("新会员", "New members")) } th.num { (lang.pick("用券", "Coupons")) }
                        th.num { (lang.pick("退货", "Returns")) } th.num { (lang.pick("作废", "Voids")) } th.num { (lang.pick("满意度", "Satisfaction")) }
                        th.num { (lang.pick("储值充值", "Top-ups")) } th { (lang.pick("目标进度", "Target progress")) }
                    } }
                    tbody {
                        @for r in &report.rows {
                            tr {
                                td.num { (r.rank) }
                                td { (r.name) " " span.muted { (r.figures.staff) } }
                                td.num { (yuan(r.figures.sales_fen)) }
                                td.num { (r.figures.tickets) }
                                td.num { (yuan(r.figures.average_ticket_fen)) }
                                td.num { (milli(r.figures.items_per_ticket_milli)) }
                                td.num { (r.figures.members_registered) }
                                td.num { (r.figures.coupons_redeemed) }
                                td.num { (r.figures.returns) " / " (yuan(r.figures.returns_fen)) }
                                td.num { (r.figures.voids) " / " (yuan(r.figures.void_value_fen)) }
                                td.num { (sat(r)) }
                                td.num { (yuan(r.figures.topup_fen)) }
                                td { (progress_cell(lang, r)) }
                            }
                        }
                    }
                }
            }
        } @else {
            @match report.rows.first() {
                Some(r) => {
                    p.big { strong { (lang.pick(&format!("第 {} 名 / {}", r.rank, report.ranked), &format!("Rank {} of {}", r.rank, report.ranked))) } }
                    table {
                        tbody {
                            tr { th { (lang.pick("销售额", "Sales")) } td.num { (yuan(r.figures.sales_fen)) } }
                            tr { th { (lang.pick("单数", "Tickets")) } td.num { (r.figures.tickets) } }
                            tr { th { (lang.pick("客单价", "Average ticket")) } td.num { (yuan(r.figures.average_ticket_fen)) } }
                            tr { th { (lang.pick("件/单", "Items per ticket")) } td.num { (milli(r.figures.items_per_ticket_milli)) } }
                            tr { th { (lang.pick("新会员", "Members registered")) } td.num { (r.figures.members_registered) } }
                            tr { th { (lang.pick("用券", "Coupons redeemed")) } td.num { (r.figures.coupons_redeemed) } }
                            tr { th { (lang.pick("退货", "Returns")) } td.num { (r.figures.returns) " / " (yuan(r.figures.returns_fen)) } }
                            tr { th { (lang.pick("作废", "Voids")) } td.num { (r.figures.voids) " / " (yuan(r.figures.void_value_fen)) } }
                            tr { th { (lang.pick("满意度", "Satisfaction")) } td.num { (sat(r)) } }
                            tr { th { (lang.pick("储值充值", "Top-ups taken")) } td.num { (yuan(r.figures.topup_fen)) } }
                            tr { th { (lang.pick("目标进度", "Target progress")) } td { (progress_cell(lang, r)) } }
                        }
                    }
                }
                None => p.muted { (lang.pick("本期没有你的业绩排名（收银员和店长才参与排名）。", "You are not ranked in this period (cashiers and managers are).")) }
            }
        }
        @if manager {
            section.card {
                h2 { (lang.pick("设定目标", "Set a target")) " · " (report.period) }
                form method="post" action="/staff/performance/targets" {
                    (forms::csrf(me))
                    input type="hidden" name="period" value=(report.period);
                    label { (lang.pick("员工", "Staff"))
                        select name="staff" { @for r in &report.rows { option value=(r.figures.staff) { (r.name) " (" (r.figures.staff) ")" } } }
                    }
                    label { (lang.pick("销售额目标（元）", "Sales target (yuan)")) input name="sales" inputmode="decimal"; }
                    label { (lang.pick("单数目标", "Tickets target")) input name="tickets" inputmode="numeric"; }
                    label { (lang.pick("新会员目标", "New members target")) input name="new_members" inputmode="numeric"; }
                    button type="submit" { (lang.pick("保存目标", "Save target")) }
                }
            }
        }
    };
    Ok(super::page::render(state, Some(me), title, body))
}

// --- commission ------------------------------------------------------------------------------

async fn api_rules(State(state): State<AppState>) -> Result<Response, WebError> {
    Ok(Json(state.blocking(|store, _| Ok(commission::rules(store)?)).await?).into_response())
}

async fn save_rules(state: &AppState, me: &Identity, rules: CommissionRules) -> Result<CommissionRuleSet, WebError> {
    let (lang, by) = (me.lang, me.staff.id.clone());
    state.blocking(move |store, _| commission::set_rules(store, &by, rules).map_err(|e| rules_error(lang, e))).await
}

async fn api_rules_set(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(rules): JsonBody<CommissionRules>) -> Result<Response, WebError> {
    Ok(Json(save_rules(&state, &me, rules).await?).into_response())
}

async fn api_commission(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let q: PeriodQuery = forms::parse_query(q.as_deref())?;
    let period = period_of(&state, me.lang, &q)?;
    let csv = match text(&q.format) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(forms::field(me.lang, "format", "须为 json 或 csv", format!("expected json or csv, got {other:?}"))),
    };
    let report = state.blocking(move |store, ctx| Ok(commission::report(store, ctx.tz, &period)?)).await?;
    if csv {
        let mut body = Vec::new();
        commission::write_csv(&report, &mut body).map_err(|e| WebError::internal(format!("csv: {e}")))?;
        return Ok(forms::csv_attachment(&format!("commission-{}.csv", report.period), body));
    }
    Ok(Json(report).into_response())
}

/// The rules form's fields as typed: rates in percent (`3`, `5.5`), the per-member amount in
/// yuan, the category rates one `category=percent` per line.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RulesForm {
    default_rate: Option<String>,
    category_rates: Option<String>,
    per_new_member: Option<String>,
    topup_rate: Option<String>,
    period: Option<String>,
}

fn percent(lang: Lang, name: &str, typed: &str) -> Result<i64, WebError> {
    crate::inventory::policy::percent_bp(typed.trim())
        .map(i64::from)
        .ok_or_else(|| forms::field(lang, name, format!("“{typed}”不是百分比：请输入如 3 或 5.5 的数字"), format!("{typed:?} is not a percentage; type e.g. 3 or 5.5")))
}

fn rules_of(lang: Lang, f: &RulesForm) -> Result<CommissionRules, WebError> {
    let mut rules = CommissionRules {
        default_rate_bp: text(&f.default_rate).map(|t| percent(lang, "default_rate_bp", t)).transpose()?.unwrap_or(0),
        per_new_member_fen: forms::opt_yuan(lang, "per_new_member_fen", &f.per_new_member)?.unwrap_or(0),
        topup_rate_bp: text(&f.topup_rate).map(|t| percent(lang, "topup_rate_bp", t)).transpose()?.unwrap_or(0),
        ..CommissionRules::default()
    };
    for (i, line) in text(&f.category_rates).unwrap_or_default().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((category, rate)) = line.split_once('=') else {
            return Err(forms::field(
                lang,
                "category_rates",
                format!("第 {} 行“{line}”：请写成 品类=百分比，如 饮料=3", i + 1),
                format!("line {} {line:?}: write category=percent, e.g. 饮料=3", i + 1),
            ));
        };
        let category = category.trim().to_string();
        if rules.category_rates.contains_key(&category) {
            return Err(forms::field(lang, "category_rates", format!("第 {} 行：品类“{category}”重复", i + 1), format!("line {}: category {category:?} is given twice", i + 1)));
        }
        rules.category_rates.insert(category, percent(lang, "category_rates", rate)?);
    }
    Ok(rules)
}

async fn rules_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: RulesForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let q = PeriodQuery { period: f.period.clone(), ..PeriodQuery::default() };
    let result = async { save_rules(&state, &me, rules_of(lang, &f)?).await }.await;
    match result {
        Ok(_) => Ok(Redirect::to(&forms::url("/staff/commission", &[("period", text(&f.period).unwrap_or_default())])).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            let period = period_of(&state, lang, &q).unwrap_or_else(|_| StaffPeriod::containing(Period::Month, today(&state)));
            Ok((e.status, render_commission(&state, &me, period, Some(&e)).await?).into_response())
        }
    }
}

async fn commission_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let q: PeriodQuery = forms::parse_query(q.as_deref())?;
    let period = period_of(&state, me.lang, &q)?;
    Ok(render_commission(&state, &me, period, None).await?.into_response())
}

fn percent_text(bp: i64) -> String {
    let s = format!("{}.{:02}", bp / 100, bp % 100);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn rule_label(lang: Lang, rule: &str) -> String {
    match rule {
        "other_categories" => lang.pick("其他品类", "Other categories").to_string(),
        "new_members" => lang.pick("新会员", "New members").to_string(),
        "topups" => lang.pick("储值充值", "Top-ups").to_string(),
        other => other.strip_prefix("category:").unwrap_or(other).to_string(),
    }
}

async fn render_commission(state: &AppState, me: &Identity, period: StaffPeriod, error: Option<&WebError>) -> Result<Markup, WebError> {
    let lang = me.lang;
    let (report, set) = state.blocking(move |store, ctx| Ok((commission::report(store, ctx.tz, &period)?, commission::rules(store)?))).await?;
    let title = lang.pick("提成", "Commission");
    let r = &set.rules;
    let categories: String = r.category_rates.iter().map(|(c, bp)| format!("{c}={}\n", percent_text(*bp))).collect();
    let names = crate::domain::commission::rule_names(r);
    let csv = forms::url("/api/v1/staff/commission", &[("period", &report.period), ("format", "csv")]);
    let body = html! {
        h1 { (title) }
        (picker(lang, "/staff/commission", &period))
        p { a href=(forms::url("/staff/performance", &[("period", &report.period)])) { "← " (lang.pick("员工绩效", "Staff performance")) } " " a.badge href=(csv) download { "⬇ CSV" } }
        @if let Some(e) = error { p.error role="alert" { (e.message) } }
        section.card {
            h2 { (lang.pick("本期提成", "Commission of the period")) " · " (report.period) }
            div style="overflow-x:auto" {
                table {
                    thead { tr {
                        th { (lang.pick("员工", "Staff")) }
                        @for n in &names { th.num { (rule_label(lang, n)) } }
                        th.num { (lang.pick("合计", "Total")) }
                    } }
                    tbody {
                        @for row in &report.rows {
                            tr {
                                td { (row.name) " " span.muted { (row.staff) } }
                                @for l in &row.commission.lines {
                                    td.num title=(format!("{} × {}", l.base, l.rate)) { (yuan(l.amount_fen)) }
                                }
                                td.num { strong { (yuan(row.commission.total_fen)) } }
                            }
                        }
                    }
                }
            }
            p { (lang.pick("合计 ", "Total ")) strong { (yuan(report.total_fen)) } }
            p.muted { (lang.pick(
                "净销售 = 本人收银的销售 − 本期从其销售中退回的商品；每位员工每条规则四舍五入到分。",
                "Net sales = the sales they rang up − what came back from them in the period; rounded half up to the fen per staff member and rule.",
            )) }
        }
        section.card {
            h2 { (lang.pick("提成规则", "Rules")) }
            @if let (Some(by), Some(at)) = (&set.changed_by, set.changed_at) {
                p.muted { (lang.pick("最后修改：", "Last changed by ")) (by) " · " (forms::local_time(at, state.ctx.tz)) }
            }
            form method="post" action="/staff/commission/rules" {
                (forms::csrf(me))
                input type="hidden" name="period" value=(report.period);
                label { (lang.pick("其他品类提成（%）", "Other categories (%)")) input name="default_rate" value=(percent_text(r.default_rate_bp)) inputmode="decimal"; }
                label { (lang.pick("品类提成（每行 品类=%）", "Category rates (one category=% per line)")) textarea name="category_rates" rows="4" { (categories) } }
                label { (lang.pick("每位新会员（元）", "Per new member (yuan)")) input name="per_new_member" value=(yuan(r.per_new_member_fen).trim_start_matches('¥').replace(',', "")) inputmode="decimal"; }
                label { (lang.pick("储值充值提成（%）", "Stored-value top-ups (%)")) input name="topup_rate" value=(percent_text(r.topup_rate_bp)) inputmode="decimal"; }
                button type="submit" { (lang.pick("保存规则", "Save rules")) }
            }
        }
    };
    Ok(super::page::render(state, Some(me), title, body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_and_thousandths_as_shown() {
        assert_eq!((super::pct(1_798), super::pct(12_500), super::pct(-50)), ("17.98%".to_string(), "125.00%".to_string(), "-0.50%".to_string()));
        assert_eq!((super::milli(2_995), super::milli(2_500), super::milli(4_000), super::milli(0)), ("3.00".into(), "2.50".into(), "4.00".into(), "0.00".into()));
    }
}
