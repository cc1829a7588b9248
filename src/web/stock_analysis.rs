//! Stock analysis on the LAN (`/stock/analysis`): the ABC × XYZ matrix, a Pareto chart of the
//! revenue shares, the slow movers, dead stock, turnover and over-stock lists, each downloadable
//! as CSV (`?list=…&format=csv`); the same as JSON under `/api/v1/stock/analysis[/{list}]`.
//!
//! The figures are `inventory::analysis::analyse`'s (the CLI's `storehub stock-analysis` makes
//! the same through `control::ops`), with `[stock]`'s rules, for the days before today. Needs
//! `ViewStock`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Identity;
use super::chart::{self, Unit};
use super::forms::{self, field, text};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::staff::Action;
use crate::inventory::analysis::{self, AgedRow, StockAnalysis, ValuedAt, LISTS};

/// Rows a list shows on the page (the CSV has them all).
const SHOWN: usize = 100;
/// SKUs in the Pareto chart.
const PARETO_BARS: usize = 20;

pub fn routes() -> Vec<RouteDef> {
    use Action::ViewStock;
    vec![
        RouteDef::get("/stock/analysis", Need::May(ViewStock), "Stock analysis: ABC×XYZ, Pareto chart, slow, dead, turnover, over-stock; ?list=…&format=csv downloads a list", analysis_page),
        RouteDef::get("/api/v1/stock/analysis", Need::May(ViewStock), "Stock analysis for today with [stock]'s rules: every list", api_all),
        RouteDef::get("/api/v1/stock/analysis/{list}", Need::May(ViewStock), "One analysis list (abc, xyz, slow, dead, turnover, overstock): ?format=json|csv", api_list),
    ]
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Query {
    list: Option<String>,
    format: Option<String>,
}

fn list_of(lang: Lang, typed: &str) -> Result<&'static str, WebError> {
    LISTS.iter().copied().find(|l| *l == typed).ok_or_else(|| {
        field(lang, "list", format!("清单须为 {} 之一，现为“{typed}”", LISTS.join("、")), format!("expected one of {}, got {typed:?}", LISTS.join(", ")))
    })
}

/// `true` for CSV, `false` for JSON (the default).
fn csv_of(lang: Lang, typed: &Option<String>) -> Result<bool, WebError> {
    match text(typed) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(field(lang, "format", format!("格式须为 json 或 csv，现为“{other}”"), format!("expected json or csv, got {other:?}"))),
    }
}

async fn analyse(state: &AppState) -> Result<StockAnalysis, WebError> {
    state
        .blocking(|store, ctx| {
            let today = crate::clock::local(store.clock().now(), ctx.tz).date();
            let params = analysis::AnalysisParams::from_config(&ctx.stock);
            analysis::analyse(store, ctx.tz, crate::inventory::demand::member_day_of(&ctx.loyalty), today, &params).map_err(|e| match e {
                analysis::AnalysisFailure::Store(e) => WebError::from(e),
                rules => WebError::internal(rules.to_string()),
            })
        })
        .await
}

fn csv_response(a: &StockAnalysis, list: &str) -> Result<Response, WebError> {
    let mut body = Vec::new();
    analysis::write_csv(a, list, &mut body).map_err(|e| WebError::internal(format!("csv: {e}")))?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"stock-{list}-{}.csv\"", a.as_of)).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

async fn api_all(State(state): State<AppState>) -> Result<Response, WebError> {
    let a = analyse(&state).await?;
    Ok(axum::Json(a).into_response())
}

async fn api_list(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(list): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: Query = forms::parse_query(raw.as_deref())?;
    let list = LISTS.iter().copied().find(|l| *l == list).ok_or_else(|| WebError::not_found(me.lang.pick(&format!("没有清单 {list}"), &format!("no analysis list {list}; one of {}", LISTS.join(", ")))))?;
    let csv = csv_of(me.lang, &q.format)?;
    let a = analyse(&state).await?;
    if csv {
        return csv_response(&a, list);
    }
    let v = serde_json::to_value(&a).map_err(|e| WebError::internal(e.to_string()))?;
    let note = if list == "overstock" { a.overstock_note.clone() } else { None };
    Ok(axum::Json(serde_json::json!({ "as_of": a.as_of, "from": a.from, "to": a.to, "list": list, "rows": crate::control::ops::analysis_rows(&v, list), "note": note })).into_response())
}

// --- page ------------------------------------------------------------------------------------------

fn name(lang: Lang, zh: &Option<String>, en: &Option<String>) -> String {
    match (zh, en) {
        (Some(zh), Some(en)) => lang.pick(zh, en).to_string(),
        _ => lang.pick("（已下架）", "(delisted)").to_string(),
    }
}

fn valued(lang: Lang, v: ValuedAt) -> Markup {
    html! { @if v == ValuedAt::Price { " " span.muted title=(lang.pick("未录入成本，按售价计", "no cost recorded: valued at the price")) { "*" } } }
}

fn csv_link(lang: Lang, list: &str) -> Markup {
    html! { a.badge href=(forms::url("/stock/analysis", &[("list", list), ("format", "csv")])) download { "⬇ CSV" } " " span.muted { (lang.pick("（全部行）", "(all rows)")) } }
}

fn days_text(lang: Lang, d: Option<f64>) -> String {
    match d {
        Some(d) => format!("{d:.1} {}", lang.pick("天", "days")),
        None => lang.pick("不周转", "does not turn over").to_string(),
    }
}

fn aged_table(lang: Lang, rows: &[AgedRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.ok { (lang.pick("没有", "None")) }
        } @else {
            table {
                thead { tr { th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("现有库存", "On hand")) } th { (lang.pick("最后销售", "Last sale")) } th.num { (lang.pick("占用金额", "Value tied up")) } } }
                tbody {
                    @for r in rows.iter().take(SHOWN) {
                        tr {
                            td { (r.sku) }
                            td { (name(lang, &r.name_zh, &r.name_en)) }
                            td.num { (forms::qty(r.unit, r.on_hand)) }
                            td { @match (r.last_sale_day, r.days_since_last_sale) {
                                (Some(d), Some(n)) => { (d.format("%Y-%m-%d")) " " span.muted { "(" (n) (lang.pick(" 天前", " days ago")) ")" } },
                                _ => span.muted { (lang.pick("期间内无销售", "none in the days looked at")) },
                            } }
                            td.num { (yuan(r.value_fen)) (valued(lang, r.valued_at)) }
                        }
                    }
                }
            }
        }
    }
}

async fn analysis_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: Query = forms::parse_query(raw.as_deref())?;
    let csv = csv_of(lang, &q.format)?;
    let list = text(&q.list).map(|l| list_of(lang, l)).transpose()?;
    if csv && list.is_none() {
        return Err(field(lang, "list", format!("下载 CSV 须指定清单：{}", LISTS.join("、")), format!("a CSV download needs a list: {}", LISTS.join(", "))));
    }
    let a = analyse(&state).await?;
    if let (true, Some(list)) = (csv, list) {
        return csv_response(&a, list);
    }
    let top: Vec<_> = a.classes.iter().filter(|c| c.revenue_fen > 0).take(PARETO_BARS).collect();
    let labels: Vec<String> = top.iter().map(|c| c.sku.clone()).collect();
    let shares: Vec<i64> = top.iter().map(|c| c.share_bp).collect();
    let cumulative: Vec<i64> = top.iter().map(|c| c.cumulative_bp).collect();
    let size = chart::Size { width: 720, height: 200 };
    let abc_names = ["A", "B", "C"];
    let xyz_names = ["X", "Y", "Z"];
    let title = lang.pick("库存分析", "Stock analysis");
    let body = html! {
        h1 { (title) }
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/analysis"))
        p.muted {
            (a.from.format("%Y-%m-%d")) " – " (a.to.format("%Y-%m-%d")) " · " (a.params.days) (lang.pick(" 天", " days"))
            " · " (lang.pick("营业额 ", "revenue ")) (yuan(a.total_revenue_fen))
            " · " (lang.pick("金额按成本计；未录入成本的商品按售价计（*）", "values at cost; products without a cost at their price (*)"))
        }
        section.grid {
            div.card {
                h2 { (lang.pick("ABC × XYZ 矩阵（商品数）", "ABC × XYZ matrix (SKUs)")) }
                table.matrix {
                    thead { tr { th { "" } @for x in xyz_names { th.num { (x) } } } }
                    tbody {
                        @for (i, row) in a.matrix.iter().enumerate() {
                            tr { th { (abc_names[i]) } @for n in row { td.num { (n) } } }
                        }
                    }
                }
                p.muted { (lang.pick("A/B/C：营业额占比 ", "A/B/C: revenue shares ")) (forms::percent(a.params.abc.a_bp)) " / " (forms::percent(a.params.abc.b_bp)) " / " (forms::percent(a.params.abc.c_bp))
                    " · X/Y/Z: CV ≤ " (a.params.xyz.x_max_cv) " / ≤ " (a.params.xyz.y_max_cv) }
                p { (csv_link(lang, "abc")) }
            }
            div.card {
                h2 { (lang.pick("周转天数（全店）", "Turnover days (whole shop)")) }
                p.kpi { strong { (days_text(lang, a.shop_turnover_days)) } }
                p { (csv_link(lang, "turnover")) }
            }
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("营业额帕累托图（前 20）", "Pareto chart of revenue (top 20)")) }
            (page::trusted(chart::bars(lang.pick("营业额占比", "Share of revenue"), &labels, &shares, Unit::Bp, size)))
            (page::trusted(chart::line(lang.pick("累计占比", "Cumulative share"), &labels, &cumulative, Unit::Bp, size)))
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("呆滞库存", "Dead stock")) " " span.muted { "≥ " (a.params.age.dead_after_days) (lang.pick(" 天未售", " days without a sale")) } }
            (aged_table(lang, &a.dead)) p { (csv_link(lang, "dead")) }
            h2 { (lang.pick("滞销商品", "Slow movers")) " " span.muted { "≥ " (a.params.age.slow_after_days) (lang.pick(" 天未售", " days without a sale")) } }
            (aged_table(lang, &a.slow)) p { (csv_link(lang, "slow")) }
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("积压库存", "Over-stock")) " " span.muted { "> " (lang.pick("订货上限 × ", "order-up-to × ")) (forms::multiplier(a.params.overstock_factor_bp)) } }
            @if let Some(note) = &a.overstock_note {
                p.muted data-note="overstock" { (lang.pick("还没有补货计算：积压库存与最近一次补货计算的订货上限比较（storehub replenishment run，或每天 [stock].replenishment_at 自动运行）。", note)) }
            } @else if a.overstock.is_empty() {
                p.ok { (lang.pick("没有积压库存", "Nothing is over-stocked")) }
            } @else {
                table {
                    thead { tr { th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("现有库存", "On hand")) } th.num { (lang.pick("订货上限", "Order-up-to")) } th.num { (lang.pick("超出", "Excess")) } th.num { (lang.pick("超出金额", "Excess value")) } } }
                    tbody {
                        @for r in a.overstock.iter().take(SHOWN) {
                            tr { td { (r.sku) } td { (name(lang, &r.name_zh, &r.name_en)) } td.num { (r.on_hand) } td.num { (r.order_up_to) } td.num { (r.excess_units) } td.num { (yuan(r.excess_value_fen)) (valued(lang, r.valued_at)) } }
                        }
                    }
                }
            }
            p { (csv_link(lang, "overstock")) }
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("ABC / XYZ 分类", "ABC / XYZ classes")) }
            table {
                thead { tr { th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("营业额", "Revenue")) } th.num { (lang.pick("占比", "Share")) } th.num { (lang.pick("累计", "Cumulative")) } th { "ABC" } th { "XYZ" } th.num { "CV" } } }
                tbody {
                    @for c in a.classes.iter().take(SHOWN) {
                        tr { td { (c.sku) } td { (name(lang, &c.name_zh, &c.name_en)) } td.num { (yuan(c.revenue_fen)) } td.num { (Unit::Bp.format(c.share_bp)) } td.num { (Unit::Bp.format(c.cumulative_bp)) }
                             td { (format!("{:?}", c.abc)) } td { (format!("{:?}", c.xyz)) } td.num { (c.cv.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into())) } }
                    }
                }
            }
            @if a.classes.len() > SHOWN { p.muted { (lang.pick("只显示前 100 行；CSV 含全部。", "The first 100 rows; the CSV has them all.")) } }
        }
    };
    Ok(forms::render(&state, &me, title, body).into_response())
}
