//! Member analytics in the web (会员分析), for owners and managers (`Action::ViewAnalytics`):
//! the page `/analytics` (segments with counts, share and window spend; dormant members by
//! reason; the churn warnings and repurchase reminders due, by card number; a CSV link) and the
//! API `GET /api/v1/analytics/members` (the rows of `storehub analytics members`, JSON or a CSV
//! download), `/api/v1/analytics/fit` (the JSON of `storehub analytics fit`) and
//! `/api/v1/analytics/segments` (the page's figures, [`AnalyticsSummary`]). The rows come from
//! `members::analytics` with the shop's `[analytics]` rules; every request reads every member's
//! history, so the work runs on a blocking thread.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::NaiveDate;
use maud::html;

use super::auth::Identity;
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, WebError};
use crate::control::{ops, Request};
use crate::domain::reports::parse_date;
use crate::domain::staff::Action;
use crate::members::analytics::{self, AnalyticsSummary, MemberAnalyticsRow};

/// Members listed by name on the page per list (all of them are in the API and the CSV).
pub const PAGE_LIST_LIMIT: usize = 200;

pub fn routes() -> Vec<RouteDef> {
    let need = Need::May(Action::ViewAnalytics);
    vec![
        RouteDef::get("/analytics", need, "Member analytics (会员分析): segments, dormancy, churn warnings, repurchase reminders", analytics_page),
        RouteDef::get(
            "/api/v1/analytics/members",
            need,
            "Every member's analytics row, as `storehub analytics members`. Query: as_of (YYYY-MM-DD, default today), format (json|csv)",
            members_api,
        ),
        RouteDef::get(
            "/api/v1/analytics/fit",
            need,
            "A model fitted to every member's history, as `storehub analytics fit`. Query: model (bgnbd|gamma-gamma), time_unit (days|weeks), until (YYYY-MM-DD)",
            fit_api,
        ),
        RouteDef::get(
            "/api/v1/analytics/segments",
            need,
            "Members and window spend per segment, dormant members per reason, churn warnings, repurchase reminders due. Query: as_of (YYYY-MM-DD)",
            segments_api,
        )
        .returns::<AnalyticsSummary>(),
    ]
}

/// The query parameters as given (blank values count as absent).
fn params(query: Option<&str>) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = query.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    pairs.into_iter().map(|(k, v)| (k, v.trim().to_string())).filter(|(_, v)| !v.is_empty()).collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn shown(v: &str) -> String {
    v.chars().take(40).collect()
}

/// A date parameter, or `None` when absent.
fn date_param(pairs: &[(String, String)], name: &'static str) -> Result<Option<NaiveDate>, WebError> {
    match param(pairs, name) {
        None => Ok(None),
        Some(v) => parse_date(v)
            .map(Some)
            .ok_or_else(|| WebError::field(name, format!("expected a date as YYYY-MM-DD (e.g. 2026-06-30), got {:?}", shown(v)))),
    }
}

/// One of `allowed` (the first is the default).
fn choice(pairs: &[(String, String)], name: &'static str, allowed: &[&'static str]) -> Result<&'static str, WebError> {
    match param(pairs, name) {
        None => Ok(allowed[0]),
        Some(v) => allowed
            .iter()
            .find(|a| **a == v)
            .copied()
            .ok_or_else(|| WebError::field(name, format!("expected {}, got {:?}", allowed.join(" or "), shown(v)))),
    }
}

fn today(state: &AppState) -> NaiveDate {
    crate::clock::local(state.store.clock().now(), state.ctx.tz).date()
}

/// Every member's row at `as_of`, on a blocking thread.
async fn rows(state: &AppState, as_of: NaiveDate) -> Result<Vec<MemberAnalyticsRow>, WebError> {
    let params = state.settings.analytics;
    state.blocking(move |store, ctx| Ok(analytics::member_rows(store, ctx.tz, as_of, &params)?)).await
}

async fn members_api(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    let pairs = params(query.as_deref());
    let as_of = date_param(&pairs, "as_of")?.unwrap_or_else(|| today(&state));
    let csv = choice(&pairs, "format", &["json", "csv"])? == "csv";
    let rows = rows(&state, as_of).await?;
    if csv {
        let mut body = Vec::new();
        analytics::write_csv(&rows, as_of, &mut body).map_err(|e| WebError::internal(format!("csv: {e}")))?;
        return Ok(super::forms::csv_attachment(&format!("member-analytics-{as_of}.csv"), body));
    }
    Ok(axum::Json(serde_json::json!({ "as_of": as_of, "rows": rows })).into_response())
}

async fn fit_api(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    let pairs = params(query.as_deref());
    let model = choice(&pairs, "model", &["bgnbd", "gamma-gamma"])?;
    let unit_days = match choice(&pairs, "time_unit", &["days", "weeks"])? {
        "weeks" => 7,
        _ => 1,
    };
    let until = date_param(&pairs, "until")?;
    let req = Request::AnalyticsFit { until, unit_days, model: model.to_string() };
    // The CLI's own request: the same fit, the same JSON. A fit that cannot be made (no repeat
    // buyers yet) is a 409 saying why.
    let fitted = state.blocking(move |store, ctx| ops::handle(store, ctx, req).map_err(WebError::conflict)).await?;
    Ok(axum::Json(fitted.result).into_response())
}

async fn summary(state: &AppState, query: Option<&str>) -> Result<AnalyticsSummary, WebError> {
    let pairs = params(query);
    let as_of = date_param(&pairs, "as_of")?.unwrap_or_else(|| today(state));
    Ok(analytics::summarise(&rows(state, as_of).await?, as_of))
}

async fn segments_api(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    Ok(axum::Json(summary(&state, query.as_deref()).await?).into_response())
}

async fn analytics_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(query): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let s = summary(&state, query.as_deref()).await?;
    let title = lang.pick("会员分析", "Member analytics");
    let pct = |bp: u32| format!("{}.{:02}%", bp / 100, bp % 100);
    let csv = format!("/api/v1/analytics/members?as_of={}&format=csv", s.as_of);
    let list = |members: &[analytics::ListedMember], due: bool| {
        html! {
            @if members.is_empty() {
                p.muted { (lang.pick("无", "None")) }
            } @else {
                div style="overflow-x:auto" {
                    table {
                        thead { tr {
                            th { (lang.pick("会员卡号", "Card number")) }
                            th { (lang.pick("分群", "Segment")) }
                            th.num { (lang.pick("距上次消费（天）", "Days since last purchase")) }
                            @if due { th { (lang.pick("该回购的品类", "Categories due")) } }
                        } }
                        tbody {
                            @for m in members.iter().take(PAGE_LIST_LIMIT) {
                                tr {
                                    td { (m.member_ref) }
                                    td { (m.segment.as_deref().and_then(|id| s.segments.iter().find(|f| f.segment == id)).map_or("—", |f| lang.pick(&f.segment_zh, &f.segment_en))) }
                                    td.num { (m.days_since_last.map_or("—".to_string(), |d| d.to_string())) }
                                    @if due { td { (m.categories.join("、")) } }
                                }
                            }
                        }
                    }
                }
                @if members.len() > PAGE_LIST_LIMIT {
                    p.muted { (lang.pick(&format!("另有 {} 位，见 CSV", members.len() - PAGE_LIST_LIMIT), &format!("{} more in the CSV", members.len() - PAGE_LIST_LIMIT))) }
                }
            }
        }
    };
    let body = html! {
        h1 { (title) }
        form.toolbar method="get" action="/analytics" {
            label {
                (lang.pick("分析日期", "As of"))
                input type="date" name="as_of" value=(s.as_of.to_string());
            }
            button type="submit" { (lang.pick("查看", "Show")) }
        }
        p.muted {
            (lang.pick(
                &format!("{} 位会员，其中 {} 位在统计期内有消费；{} 位沉睡。", s.members, s.segmented, s.dormant),
                &format!("{} members, {} bought in the window; {} dormant.", s.members, s.segmented, s.dormant),
            ))
        }
        p { a.badge href=(csv) download { "⬇ CSV" } }
        section.card {
            h2 { (lang.pick("会员分群", "Segments")) }
            table {
                thead { tr {
                    th { (lang.pick("分群", "Segment")) }
                    th.num { (lang.pick("人数", "Members")) }
                    th.num { (lang.pick("占比", "Share")) }
                    th.num { (lang.pick("统计期消费", "Spend in the window")) }
                } }
                tbody {
                    @for f in &s.segments {
                        tr {
                            td { (lang.pick(&f.segment_zh, &f.segment_en)) }
                            td.num { (f.members) }
                            td.num { (pct(f.share_bp)) }
                            td.num { (yuan(f.revenue_fen)) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.pick("沉睡会员（按原因）", "Dormant members by reason")) }
            table {
                thead { tr { th { (lang.pick("原因", "Reason")) } th.num { (lang.pick("人数", "Members")) } } }
                tbody {
                    @for d in &s.dormant_by_reason {
                        tr { td { (lang.pick(&d.reason_zh, &d.reason_en)) } td.num { (d.members) } }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.pick("流失预警", "Churn warnings")) " (" (s.churn_warning.len()) ")" }
            (list(&s.churn_warning, false))
        }
        section.card {
            h2 { (lang.pick("回购提醒", "Repurchase reminders due")) " (" (s.repurchase_due.len()) ")" }
            (list(&s.repurchase_due, true))
        }
    };
    Ok(page::render(&state, Some(&me), title, body).into_response())
}
