//! Reports (报表): the index, one page per report (a date form, a chart where one fits, the
//! table, a CSV link) and the same report as JSON or CSV under `/api/v1/reports/{kind}`
//! (`{kind}.csv` or `?format=csv` for the file). The reports themselves are `crate::reports`;
//! this module parses the query (`from`, `to`: `YYYY-MM-DD`, shop-local, both included, at most
//! 366 days; `by`: `day` | `week` | `month`) and renders.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{Duration, NaiveDate};
use maud::{html, Markup};

use super::auth::Identity;
use super::chart::{self, Unit};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::reports::{parse_date, DateRange, Period, RangeError, MAX_RANGE_DAYS};
use crate::domain::staff::Action;
use crate::reports::table::{Cell, CellKind, ChartStyle, ReportJson, Table};
use crate::reports::{ReportKind, ReportSetup};

/// Days a report covers when no `from` is given (ending at `to`, today by default).
pub const DEFAULT_DAYS: i64 = 30;

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/reports", Need::May(Action::ViewSales), "The reports (报表)", index_page),
        RouteDef::get("/reports/{kind}", Need::May(Action::ViewSales), "One report: form, chart, table and CSV link", report_page),
        RouteDef::get(
            "/api/v1/reports/{kind}",
            Need::May(Action::ViewSales),
            "A report as JSON; `{kind}.csv` or `?format=csv` downloads it as CSV. Query: from, to (YYYY-MM-DD), by or period (day|week|month)",
            report_api,
        )
        .returns::<ReportJson>(),
    ]
}

/// A report's query, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub range: DateRange,
    pub period: Option<Period>,
    pub csv: bool,
}

/// A query parameter at fault, with what to say in each language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub field: &'static str,
    pub zh: String,
    pub en: String,
}

impl QueryError {
    pub fn message(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }

    fn web(&self) -> WebError {
        WebError::field(self.field, self.en.clone())
    }
}

/// The raw values as given (to fill the form again).
#[derive(Debug, Clone, Default)]
struct Raw {
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    format: Option<String>,
    /// Typed as `period=` rather than `by=` (errors name the parameter typed).
    by_as_period: bool,
}

fn raw_params(query: Option<&str>) -> Raw {
    let pairs: Vec<(String, String)> = query.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    let mut raw = Raw::default();
    for (k, v) in pairs {
        let v = v.trim().to_string();
        if k == "period" {
            raw.by_as_period = true;
        }
        let slot = match k.as_str() {
            "from" => &mut raw.from,
            "to" => &mut raw.to,
            // `period` is the channel report's word for it (`storehub report --period`).
            "by" | "period" => &mut raw.by,
            "format" => &mut raw.format,
            _ => continue,
        };
        *slot = (!v.is_empty()).then_some(v);
    }
    raw
}

fn bad_date(field: &'static str, got: &str) -> QueryError {
    let shown: String = got.chars().take(40).collect();
    QueryError { field, zh: format!("日期格式应为 YYYY-MM-DD（如 2026-11-25），收到 “{shown}”"), en: format!("expected a date as YYYY-MM-DD (e.g. 2026-11-25), got {shown:?}") }
}

/// Checks a query: `to` defaults to `today`, `from` to [`DEFAULT_DAYS`] days ending at `to`.
pub fn parse_query(query: Option<&str>, today: NaiveDate, kind: ReportKind) -> Result<ReportQuery, QueryError> {
    check(&raw_params(query), today, kind)
}

fn check(raw: &Raw, today: NaiveDate, kind: ReportKind) -> Result<ReportQuery, QueryError> {
    let to = match &raw.to {
        Some(s) => parse_date(s).ok_or_else(|| bad_date("to", s))?,
        None => today,
    };
    let from = match &raw.from {
        Some(s) => parse_date(s).ok_or_else(|| bad_date("from", s))?,
        None => to - Duration::days(DEFAULT_DAYS - 1),
    };
    let range = DateRange::new(from, to).map_err(|e| match e {
        RangeError::Reversed { .. } => QueryError { field: "from", zh: format!("开始日期 {from} 晚于结束日期 {to}"), en: format!("from ({from}) is after to ({to})") },
        RangeError::TooLong { days } => QueryError { field: "from", zh: format!("日期范围为 {days} 天，最多 {MAX_RANGE_DAYS} 天"), en: format!("the range covers {days} days; at most {MAX_RANGE_DAYS}") },
    })?;
    let period = match &raw.by {
        Some(s) => Some(Period::parse(s).ok_or_else(|| QueryError { field: if raw.by_as_period { "period" } else { "by" }, zh: "应为 day、week 或 month".into(), en: format!("expected day, week or month, got {:?}", s.chars().take(20).collect::<String>()) })?),
        None => None,
    };
    let csv = match raw.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(QueryError { field: "format", zh: "应为 csv 或 json".into(), en: format!("expected csv or json, got {:?}", other.chars().take(20).collect::<String>()) }),
    };
    Ok(ReportQuery { range, period: if kind.uses_period() { Some(period.unwrap_or(Period::Day)) } else { None }, csv })
}

fn today(state: &AppState) -> NaiveDate {
    crate::clock::local(state.store.clock().now(), state.ctx.tz).date()
}

async fn compute(state: &AppState, kind: ReportKind, q: &ReportQuery) -> Result<Table, WebError> {
    let (range, period) = (q.range, q.period);
    state.blocking(move |store, ctx| Ok(crate::reports::run(store, &ReportSetup::of(ctx), kind, range, period)?)).await
}

fn query_string(kind: ReportKind, range: &DateRange, period: Option<Period>) -> String {
    let mut q = vec![("from", range.from.to_string()), ("to", range.to.to_string())];
    if let (true, Some(p)) = (kind.uses_period(), period) {
        q.push(("by", p.as_str().to_string()));
    }
    serde_urlencoded::to_string(q).unwrap_or_default()
}

async fn report_api(State(state): State<AppState>, Path(kind): Path<String>, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    let (slug, csv_path) = match kind.strip_suffix(".csv") {
        Some(s) => (s, true),
        None => (kind.as_str(), false),
    };
    let kind = ReportKind::parse(slug).ok_or_else(|| WebError::not_found(format!("no report {slug:?}; reports are {}", kinds_list())))?;
    let q = parse_query(query.as_deref(), today(&state), kind).map_err(|e| e.web())?;
    let table = compute(&state, kind, &q).await?;
    if csv_path || q.csv {
        let body = table.to_csv().map_err(|e| WebError::internal(format!("csv: {e}")))?;
        let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", table.file_name())).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
        return Ok((
            [(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")), (header::CONTENT_DISPOSITION, disposition), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            body,
        )
            .into_response());
    }
    Ok(axum::Json(table.to_json()).into_response())
}

fn kinds_list() -> String {
    ReportKind::ALL.iter().map(|k| k.slug()).collect::<Vec<_>>().join(", ")
}

async fn index_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Response {
    let lang = me.lang;
    let to = today(&state);
    let range = DateRange { from: to - Duration::days(DEFAULT_DAYS - 1), to };
    let body = html! {
        h1 { (lang.pick("报表", "Reports")) }
        p.muted { (lang.pick("默认显示最近 30 天（店铺当地日期）；每份报表都可下载 CSV。", "Each report shows the last 30 days (shop-local dates) unless asked otherwise, and downloads as CSV.")) }
        div.grid {
            @for k in ReportKind::ALL {
                div.card {
                    h2 { a href=(format!("/reports/{}?{}", k.slug(), query_string(k, &range, Some(Period::Day)))) { (lang.pick(k.title().0, k.title().1)) } }
                    p { (lang.pick(k.about().0, k.about().1)) }
                    p { a href=(format!("/api/v1/reports/{}.csv?{}", k.slug(), query_string(k, &range, Some(Period::Day)))) { "CSV" } }
                }
            }
        }
    };
    page::render(&state, Some(&me), lang.pick("报表", "Reports"), body).into_response()
}

async fn report_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(kind): Path<String>, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let Some(kind) = ReportKind::parse(&kind) else {
        let body = html! {
            h1 { (lang.pick("没有这个报表", "No such report")) }
            p { a href="/reports" { (lang.pick("全部报表", "All reports")) } }
        };
        return Ok((StatusCode::NOT_FOUND, page::render(&state, Some(&me), lang.pick("报表", "Reports"), body)).into_response());
    };
    let raw = raw_params(query.as_deref());
    let title = lang.pick(kind.title().0, kind.title().1);
    match check(&raw, today(&state), kind) {
        Err(e) => {
            let body = html! {
                h1 { (title) }
                (form(lang, kind, &raw, Some(&e)))
            };
            Ok((StatusCode::BAD_REQUEST, page::render(&state, Some(&me), title, body)).into_response())
        }
        Ok(q) => {
            let table = compute(&state, kind, &q).await?;
            let shown = Raw { from: Some(q.range.from.to_string()), to: Some(q.range.to.to_string()), by: q.period.map(|p| p.as_str().to_string()), format: None, by_as_period: false };
            let csv = format!("/api/v1/reports/{}.csv?{}", kind.slug(), query_string(kind, &q.range, q.period));
            let body = html! {
                h1 { (title) }
                p.muted { (lang.pick(kind.about().0, kind.about().1)) }
                (form(lang, kind, &shown, None))
                p { a.badge href=(csv) download { "⬇ CSV" } }
                @if let Some(svg) = chart_of(&table, lang) {
                    section.card { (svg) }
                }
                (table_markup(&table, lang))
                @if table.truncated {
                    p.warn { (lang.pick("只显示前 2000 行；请缩小日期范围", "Only the first 2,000 rows are shown; narrow the dates")) }
                }
            };
            Ok(page::render(&state, Some(&me), title, body).into_response())
        }
    }
}

/// The date form; `error` is shown next to its field.
fn form(lang: Lang, kind: ReportKind, raw: &Raw, error: Option<&QueryError>) -> Markup {
    let errors: Vec<(String, String)> = error.map(|e| vec![(e.field.to_string(), e.message(lang).to_string())]).unwrap_or_default();
    let by = raw.by.as_deref().unwrap_or("day");
    html! {
        form.toolbar method="get" action=(format!("/reports/{}", kind.slug())) {
            label {
                (lang.pick("开始日期", "From"))
                input type="date" name="from" value=(raw.from.as_deref().unwrap_or("")) aria-invalid=[error.filter(|e| e.field == "from").map(|_| "true")];
                (page::field_error(&errors, "from"))
            }
            label {
                (lang.pick("结束日期", "To"))
                input type="date" name="to" value=(raw.to.as_deref().unwrap_or("")) aria-invalid=[error.filter(|e| e.field == "to").map(|_| "true")];
                (page::field_error(&errors, "to"))
            }
            @if kind.uses_period() {
                label {
                    (lang.pick("按", "By"))
                    select name="by" {
                        @for (v, zh, en) in [("day", "日", "day"), ("week", "周", "week"), ("month", "月", "month")] {
                            option value=(v) selected[by == v] { (lang.pick(zh, en)) }
                        }
                    }
                    (page::field_error(&errors, "by"))
                    (page::field_error(&errors, "period"))
                }
            }
            button type="submit" { (lang.pick("查看", "Show")) }
            (page::field_error(&errors, "format"))
        }
    }
}

/// A cell as the page shows it.
fn cell_text(c: &Cell, lang: Lang) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        Cell::Term { zh, en, .. } => lang.pick(zh, en).to_string(),
        Cell::Int(n) => Unit::Count.format(*n),
        Cell::Fen(f) => yuan(*f),
        Cell::Bp(b) => Unit::Bp.format(*b),
        Cell::Grams(0) => "—".into(),
        Cell::Grams(g) => super::dashboard::grams_text(*g),
        Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
        Cell::DateTime(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        Cell::Empty => "—".into(),
    }
}

fn table_markup(t: &Table, lang: Lang) -> Markup {
    let numeric = |k: CellKind| matches!(k, CellKind::Int | CellKind::Fen | CellKind::Bp | CellKind::Grams);
    html! {
        @if t.rows.is_empty() {
            p.muted { (lang.pick("这段时间没有数据", "Nothing in this range")) }
        } @else {
            div style="overflow-x:auto" {
                table {
                    thead { tr { @for c in &t.columns { th.num[numeric(c.kind)] { (lang.pick(c.zh, c.en)) } } } }
                    tbody {
                        @for row in &t.rows {
                            tr { @for (c, v) in t.columns.iter().zip(row) { td.num[numeric(c.kind)] { (cell_text(v, lang)) } } }
                        }
                    }
                }
            }
        }
    }
}

/// `2026-11-25` → `11-25` under a chart (the table and the form carry the year).
fn short_day(label: &str) -> String {
    match parse_date(label) {
        Some(d) => d.format("%m-%d").to_string(),
        None => label.to_string(),
    }
}

/// The report's chart, as its [`ChartSpec`](crate::reports::table::ChartSpec) says.
fn chart_of(t: &Table, lang: Lang) -> Option<Markup> {
    let spec = t.chart?;
    let rows: Vec<&Vec<Cell>> = t.rows.iter().take(spec.limit).collect();
    if rows.is_empty() {
        return None;
    }
    let col = t.columns.get(spec.value)?;
    let unit = match col.kind {
        CellKind::Fen => Unit::Fen,
        CellKind::Bp => Unit::Bp,
        _ => Unit::Count,
    };
    let labels: Vec<String> = rows
        .iter()
        .map(|r| r.get(spec.label).map(|c| cell_text(c, lang)).filter(|s| s != "—").or_else(|| r.first().map(|c| cell_text(c, lang))).unwrap_or_default())
        .map(|l| short_day(&l))
        .collect();
    let values: Vec<i64> = rows.iter().map(|r| r.get(spec.value).and_then(Cell::number).unwrap_or(0)).collect();
    let title = lang.pick(col.zh, col.en);
    let svg = match spec.style {
        ChartStyle::Bars => chart::bars(title, &labels, &values, unit, chart::Size::default()),
        ChartStyle::Line => chart::line(title, &labels, &values, unit, chart::Size::default()),
        ChartStyle::HBars => chart::hbars(title, &labels, &values, unit, 720),
    };
    Some(page::trusted(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn a_query_defaults_to_the_last_30_days_and_names_what_is_wrong() {
        let today = d(11, 25);
        let q = parse_query(None, today, ReportKind::SalesTrend).unwrap();
        assert_eq!((q.range.from, q.range.to, q.period, q.csv), (d(10, 27), today, Some(Period::Day), false));
        let q = parse_query(Some("from=2026-11-01&to=2026-11-30&by=week&format=csv"), today, ReportKind::SalesTrend).unwrap();
        assert_eq!((q.range.days(), q.period, q.csv), (30, Some(Period::Week), true));
        assert_eq!(parse_query(Some("by=week"), today, ReportKind::Products).unwrap().period, None, "products have no periods");
        assert_eq!(parse_query(Some("from=2026-13-01"), today, ReportKind::Products).unwrap_err().field, "from");
        assert_eq!(parse_query(Some("from=yesterday"), today, ReportKind::Products).unwrap_err().field, "from");
        assert_eq!(parse_query(Some("to=2026/11/25"), today, ReportKind::Products).unwrap_err().field, "to");
        assert_eq!(parse_query(Some("from=2026-11-26&to=2026-11-25"), today, ReportKind::Products).unwrap_err().field, "from");
        let long = parse_query(Some("from=2025-01-01&to=2026-11-25"), today, ReportKind::Products).unwrap_err();
        assert_eq!(long.field, "from");
        assert!(long.en.contains("at most 366"), "{}", long.en);
        assert_eq!(parse_query(Some("by=year"), today, ReportKind::SalesTrend).unwrap_err().field, "by");
        assert_eq!(parse_query(Some("format=xlsx"), today, ReportKind::SalesTrend).unwrap_err().field, "format");
        // Empty values are as good as absent; unknown parameters are ignored.
        assert!(parse_query(Some("from=&x=1"), today, ReportKind::Shifts).is_ok());
    }
}
