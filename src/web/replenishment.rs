//! Replenishment suggestions (智能补货提醒) on the LAN: the page `/stock/replenishment` (the latest
//! run's summary; the list urgent first and highlighted, each number explained; filter by
//! supplier or urgent; "run now" for those who manage purchase orders), the dashboard card, and
//! the API `GET /api/v1/stock/suggestions` (JSON or `?format=csv`), `POST
//! /api/v1/stock/replenishment/run`, `GET/PUT /api/v1/stock/policies/{sku}`. Everything goes
//! through `control::ops` (the CLI's requests), on a blocking thread.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Identity;
use super::error::{parse_json, JsonBody};
use super::forms::{self, text, ticked};
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::control::{ops, Request};
use crate::domain::staff::{allows, Action};
use crate::inventory::policy::{self, SkuSettings};
use crate::inventory::replenishment::{self as rep, ReplenishmentRun, SuggestionLine};

/// Lines listed on the page at most (all of them are in the API and the CSV).
pub const PAGE_LINES: usize = 500;

pub fn routes() -> Vec<RouteDef> {
    use Action::{ManagePurchaseOrders, ViewStock};
    vec![
        RouteDef::get("/stock/replenishment", Need::May(ViewStock), "Replenishment suggestions (智能补货): the latest run, urgent first, each number explained", page),
        RouteDef::post("/stock/replenishment/run", Need::May(ManagePurchaseOrders), "Run the replenishment now (form)", run_form),
        RouteDef::get(
            "/api/v1/stock/suggestions",
            Need::May(ViewStock),
            "The latest replenishment run and its suggestion list, urgent first. Query: format (json|csv), urgent (true), supplier",
            suggestions_api,
        ),
        RouteDef::post(
            "/api/v1/stock/replenishment/run",
            Need::May(ManagePurchaseOrders),
            "Run the replenishment now, as `storehub replenishment run`. Body (optional): {\"date\": \"YYYY-MM-DD\"}",
            run_api,
        ),
        RouteDef::get("/api/v1/stock/policies/{sku}", Need::May(ViewStock), "A SKU's replenishment terms: its own, its supplier's and the effective policy", policy_get),
        RouteDef::put(
            "/api/v1/stock/policies/{sku}",
            Need::May(ManagePurchaseOrders),
            "Replace a SKU's own replenishment terms: supplier, lead_time_days, review_period_days, pack_size, moq, service_level_bp (each optional)",
            policy_put,
        ),
    ]
}

fn refused(e: String) -> WebError {
    if e.contains("unknown sku") {
        WebError::not_found(e)
    } else {
        WebError::conflict(e)
    }
}

/// The latest run and its lines (filtered, urgent first).
async fn list(state: &AppState, urgent: bool, supplier: Option<String>) -> Result<(Option<ReplenishmentRun>, Vec<SuggestionLine>), WebError> {
    state
        .blocking(move |store, _| {
            let run = rep::latest_run(store)?;
            Ok((run, rep::sorted_lines(rep::suggestions(store)?, urgent, supplier.as_deref())))
        })
        .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    format: Option<String>,
    urgent: Option<String>,
    supplier: Option<String>,
    done: Option<String>,
}

fn urgent_param(q: &ListQuery) -> Result<bool, WebError> {
    match text(&q.urgent) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => Err(WebError::field("urgent", format!("expected true or false, got {:?}", v.chars().take(40).collect::<String>()))),
    }
}

async fn suggestions_api(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let csv = match text(&q.format) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(v) => return Err(WebError::field("format", format!("expected json or csv, got {:?}", v.chars().take(40).collect::<String>()))),
    };
    let (run, lines) = list(&state, urgent_param(&q)?, text(&q.supplier).map(str::to_string)).await?;
    if csv {
        let mut body = Vec::new();
        rep::write_suggestions_csv(&lines, &mut body).map_err(|e| WebError::internal(format!("csv: {e}")))?;
        let day = run.map_or_else(|| "none".to_string(), |r| r.day.to_string());
        return Ok(forms::csv_attachment(&format!("replenishment-{day}.csv"), body));
    }
    Ok(Json(serde_json::json!({ "run": run, "lines": lines })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    #[serde(default)]
    date: Option<chrono::NaiveDate>,
}

async fn run_api(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let b: RunBody = if body.iter().all(u8::is_ascii_whitespace) { RunBody::default() } else { parse_json(&body)? };
    let req = Request::ReplenishmentRun { date: b.date };
    let reply = state.blocking(move |store, ctx| ops::handle(store, ctx, req).map_err(WebError::conflict)).await?;
    Ok(Json(reply.result).into_response())
}

async fn run_form(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Response, WebError> {
    // The CSRF token was checked by the guard; the form has no other field.
    let _: std::collections::HashMap<String, String> = forms::parse_pairs(&body)?;
    let req = Request::ReplenishmentRun { date: None };
    state.blocking(move |store, ctx| ops::handle(store, ctx, req).map_err(WebError::conflict)).await?;
    Ok(Redirect::to("/stock/replenishment?done=1").into_response())
}

async fn policy_show(state: &AppState, sku: String) -> Result<serde_json::Value, WebError> {
    let req = Request::PolicyShow { sku };
    Ok(state.blocking(move |store, ctx| ops::handle(store, ctx, req).map_err(refused)).await?.result)
}

async fn policy_get(State(state): State<AppState>, Path(sku): Path<String>) -> Result<Response, WebError> {
    Ok(Json(policy_show(&state, sku).await?).into_response())
}

async fn policy_put(State(state): State<AppState>, Path(sku): Path<String>, JsonBody(b): JsonBody<SkuSettings>) -> Result<Response, WebError> {
    policy::check_sku_settings(&b).map_err(|e| WebError::field(e.field().unwrap_or("body"), e.to_string()))?;
    let sku2 = sku.clone();
    state
        .blocking(move |store, _| {
            policy::set_sku(store, &sku2, &b).map_err(|e| match e {
                policy::PolicyError::UnknownSku(_) => WebError::not_found(e.to_string()),
                policy::PolicyError::Field { field, .. } => WebError::field(field, e.to_string()),
                policy::PolicyError::Store(s) => s.into(),
            })
        })
        .await?;
    Ok(Json(policy_show(&state, sku).await?).into_response())
}

fn summary_text(lang: Lang, run: &ReplenishmentRun, tz: chrono_tz::Tz) -> Markup {
    html! {
        p {
            (lang.pick("最近一次运行", "Latest run")) " " strong { (run.day) } " ("
            (forms::local_time(run.run_at, tz)) ", " (run.took_ms) " ms): "
            (lang.pick(&format!("{} 个商品，{} 个需要订货，", run.skus, run.to_order), &format!("{} SKUs, {} to order, ", run.skus, run.to_order)))
            strong style=(if run.urgent > 0 { "color:#b00020" } else { "" }) {
                (lang.pick(&format!("{} 个紧急", run.urgent), &format!("{} urgent", run.urgent)))
            }
        }
    }
}

async fn page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let urgent = ticked(&q.urgent);
    let supplier = text(&q.supplier).map(str::to_string);
    let (run, all) = list(&state, false, None).await?;
    let mut suppliers: Vec<String> = all.iter().filter_map(|l| l.supplier.clone()).collect();
    suppliers.sort();
    suppliers.dedup();
    let lines: Vec<&SuggestionLine> = all
        .iter()
        .filter(|l| (!urgent || l.suggestion.urgent) && supplier.as_deref().is_none_or(|s| l.supplier.as_deref() == Some(s)))
        .filter(|l| l.suggestion.suggested_qty > 0 || l.suggestion.urgent)
        .collect();
    let may_run = allows(me.staff.role, Action::ManagePurchaseOrders);
    let title = lang.pick("补货建议", "Replenishment suggestions");
    let csv = forms::url("/api/v1/stock/suggestions", &[("format", "csv"), ("urgent", if urgent { "true" } else { "" }), ("supplier", supplier.as_deref().unwrap_or(""))]);
    let body = html! {
        h1 { (title) }
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/replenishment"))
        @if ticked(&q.done) { p.notice { (lang.pick("已重新计算补货建议。", "The suggestions were computed again.")) } }
        @match &run {
            Some(r) => (summary_text(lang, r, state.ctx.tz)),
            None => p.muted { (lang.pick("还没有运行过补货计算；每天自动运行，也可以立即运行。", "No replenishment run yet; it runs daily, or run it now.")) },
        }
        @if may_run {
            form method="post" action="/stock/replenishment/run" {
                (forms::csrf(&me))
                button type="submit" { (lang.pick("立即运行", "Run now")) }
            }
        }
        form.toolbar method="get" action="/stock/replenishment" {
            label { (lang.pick("供应商", "Supplier"))
                select name="supplier" {
                    option value="" { (lang.pick("全部", "All")) }
                    @for s in &suppliers { option value=(s) selected[supplier.as_deref() == Some(s.as_str())] { (s) } }
                }
            }
            label.check { input type="checkbox" name="urgent" value="true" checked[urgent]; " " (lang.pick("只看紧急", "Urgent only")) }
            button type="submit" { (lang.pick("筛选", "Filter")) }
        }
        p { a.badge href=(csv) download { "⬇ CSV" } " "
            span.muted { (lang.pick("CSV 含全部商品（包括无需订货的）。", "The CSV has every SKU, also those with nothing to order.")) } }
        @if lines.is_empty() {
            p.muted { (lang.pick("没有需要订货的商品。", "Nothing to order.")) }
        } @else {
            div style="overflow-x:auto" {
                table id="suggestions" {
                    thead { tr {
                        th { "SKU" } th { (lang.pick("商品", "Product")) } th { (lang.pick("供应商", "Supplier")) }
                        th { "ABC" } th { (lang.pick("需求类型 / 方法", "Demand / method")) }
                        th.num { (lang.pick("建议订货", "Order")) } th.num { (lang.pick("预计缺货（天）", "Stock-out day")) }
                        th { (lang.pick("计算说明", "How it was computed")) }
                    } }
                    tbody {
                        @for l in lines.iter().take(PAGE_LINES) {
                            @let s = &l.suggestion;
                            tr.urgent[s.urgent] style=(if s.urgent { "background:#fde8e8" } else { "" }) data-sku=(l.sku) {
                                td { (l.sku) @if s.urgent { " " strong style="color:#b00020" { (lang.pick("紧急", "URGENT")) } } }
                                td { (lang.pick(&l.name_zh, &l.name_en)) }
                                td { (l.supplier.as_deref().unwrap_or("—")) }
                                td { (format!("{:?}", l.abc)) }
                                td { (l.demand_class.as_str()) " / " (l.method.as_str()) }
                                td.num { strong { (s.suggested_qty) } }
                                td.num { (s.projected_stockout_day.map_or("—".to_string(), |d| d.to_string())) }
                                td { code { (s.explain()) } }
                            }
                        }
                    }
                }
            }
            @if lines.len() > PAGE_LINES {
                p.muted { (lang.pick(&format!("另有 {} 行，见 CSV", lines.len() - PAGE_LINES), &format!("{} more lines in the CSV", lines.len() - PAGE_LINES))) }
            }
        }
    };
    Ok((StatusCode::OK, forms::render(&state, &me, title, body)).into_response())
}

/// The dashboard card: the latest run's counts with a link (for those who may view stock).
pub async fn dashboard_card(state: &AppState, lang: Lang) -> Result<Markup, WebError> {
    let run = state.blocking(|store, _| Ok(rep::latest_run(store)?)).await?;
    Ok(html! {
        h2 { a href="/stock/replenishment" { (lang.pick("补货建议", "Replenishment")) } }
        @match &run {
            Some(r) => p id="dash-replenishment" {
                (lang.pick(&format!("{}：{} 个商品需要订货，", r.day, r.to_order), &format!("{}: {} to order, ", r.day, r.to_order)))
                strong style=(if r.urgent > 0 { "color:#b00020" } else { "" }) { (lang.pick(&format!("{} 个紧急", r.urgent), &format!("{} urgent", r.urgent))) }
            },
            None => p.muted id="dash-replenishment" { (lang.pick("还没有补货计算。", "No replenishment run yet.")) },
        }
    })
}
