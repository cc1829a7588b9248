//! Stocktakes (盘点) on the LAN: the list and the open form, a stocktake's progress (with its
//! variance, submit, approve, cancel and lane count mode for managers), the handheld count page
//! (a keyboard-wedge scanner types into an autofocused field; `stocktake.js` posts each code
//! without a reload), and the same under `/api/v1/stock/stocktakes`.
//!
//! Everything goes through `inventory::stocktake` (lane count mode through
//! `control::stocktake`, the CLI's path). Blind counts: whoever may count but not manage
//! stocktakes never gets expected quantities or variances, on a page or in the API
//! (`inventory::stocktake::sees_expected`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, text, ticked};
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::control::stocktake::{handle as control_handle, StocktakeRequest};
use crate::domain::staff::{allows, Action};
use crate::domain::stocktake::Scope;
use crate::inventory::stocktake::{self as st, CountHow, NewStocktake, ScopeRequest, Stocktake, StocktakeError, StocktakeState, Zone};
use crate::store::CommitError;

pub fn routes() -> Vec<RouteDef> {
    use Action::{CountStock, ManageStocktakes, ViewStock};
    vec![
        RouteDef::get("/stock/stocktakes", Need::May(ViewStock), "Stocktakes (盘点): the list and the open form", list_page),
        RouteDef::post("/stock/stocktakes", Need::May(ManageStocktakes), "Open a stocktake (form)", open_submit),
        RouteDef::get("/stock/stocktakes/counting", Need::May(CountStock), "Open stocktakes to count (for counters)", counting_page),
        RouteDef::get("/stock/stocktakes/{id}", Need::May(CountStock), "A stocktake: progress; variance and approval for managers", detail_page),
        RouteDef::get("/stock/stocktakes/{id}/count", Need::May(CountStock), "The handheld count page", count_page),
        RouteDef::post("/stock/stocktakes/{id}/submit", Need::May(ManageStocktakes), "Close counting (form)", submit_form),
        RouteDef::post("/stock/stocktakes/{id}/approve", Need::May(ManageStocktakes), "Approve: book the variances (form)", approve_form),
        RouteDef::post("/stock/stocktakes/{id}/cancel", Need::May(ManageStocktakes), "Cancel a stocktake (form)", cancel_form),
        RouteDef::post("/stock/stocktakes/{id}/lane", Need::May(ManageStocktakes), "Put a lane into count mode or back (form)", lane_form),
        RouteDef::get("/api/v1/stock/stocktakes", Need::May(ViewStock), "Every stocktake, newest first", api_list),
        RouteDef::post("/api/v1/stock/stocktakes", Need::May(ManageStocktakes), "Open a stocktake", api_open).body::<OpenBody>(),
        RouteDef::get("/api/v1/stock/stocktakes/{id}", Need::May(CountStock), "A stocktake with its lines (expected figures only for whoever may see them)", api_show),
        RouteDef::post("/api/v1/stock/stocktakes/{id}/count", Need::May(CountStock), "Count a scanned code: adds 1 (a weight label its grams), qty adds, set recounts", api_count).body::<CountBody>(),
        RouteDef::post("/api/v1/stock/stocktakes/{id}/submit", Need::May(ManageStocktakes), "Close counting", api_submit),
        RouteDef::get("/api/v1/stock/stocktakes/{id}/variance", Need::May(ManageStocktakes), "The variance report: ?format=csv for CSV", api_variance),
        RouteDef::post("/api/v1/stock/stocktakes/{id}/approve", Need::May(ManageStocktakes), "Book the variances as stock moves", api_approve).body::<ApproveBody>(),
        RouteDef::post("/api/v1/stock/stocktakes/{id}/cancel", Need::May(ManageStocktakes), "Cancel a stocktake", api_cancel),
        RouteDef::post("/api/v1/stock/stocktake-lanes", Need::May(ManageStocktakes), "Put a lane into count mode (stocktake id) or back (null)", api_lane).body::<LaneBody>(),
        RouteDef::get("/api/v1/stock/zones", Need::May(ViewStock), "Count zones", api_zones),
        RouteDef::put("/api/v1/stock/zones/{zone}", Need::May(ManageStocktakes), "Create or replace a count zone", api_zone_set).body::<ZoneBody>(),
        RouteDef::delete("/api/v1/stock/zones/{zone}", Need::May(ManageStocktakes), "Remove a count zone", api_zone_remove),
    ]
}

// --- bodies -----------------------------------------------------------------------------------------

/// A stocktake to open.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenBody {
    /// `full`, `categories`, `zone` or `skus`.
    pub scope: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    /// Default: `[stock].stocktake_blind`.
    #[serde(default)]
    pub blind: Option<bool>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One count: a scanned or typed code; `qty` adds that many (grams for weighed goods), `set`
/// recounts the line to that figure.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountBody {
    pub code: String,
    #[serde(default)]
    pub qty: Option<i64>,
    #[serde(default)]
    pub set: Option<i64>,
}

/// Approval options.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Write uncounted SKUs in scope off to 0 (default: leave them unchanged).
    #[serde(default)]
    pub zero_uncounted: bool,
}

/// A lane into count mode for an open stocktake, or (`stocktake` null) back to selling.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneBody {
    pub lane: String,
    pub stocktake: Option<u64>,
}

/// A count zone.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneBody {
    pub name: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
}

// --- errors and helpers -------------------------------------------------------------------------------

/// A refusal in Chinese (the English is the error's own message).
fn zh(e: &StocktakeError) -> String {
    match e {
        StocktakeError::Unknown(id) => format!("盘点单 #{id} 不存在"),
        StocktakeError::WrongState { id, state, .. } => match *state {
            "open" => format!("盘点单 #{id} 仍在盘点中：请先结束盘点并提交"),
            "submitted" => format!("盘点单 #{id} 已提交，盘点已结束"),
            "approved" => format!("盘点单 #{id} 已审核，不能再更改"),
            _ => format!("盘点单 #{id} 已取消"),
        },
        StocktakeError::UnknownCode { code } => format!("“{code}”不是已知的商品条码或 SKU，请检查条码"),
        StocktakeError::OutOfScope { code, sku, id, scope } => format!("“{code}”是 {sku}，不在盘点单 #{id} 的范围内（{scope}）"),
        StocktakeError::NeedsGrams { sku } => format!("{sku} 是称重商品：请扫描秤签条码，或按克填写数量"),
        StocktakeError::PriceLabel { code, sku } => format!("“{code}”是 {sku} 的价格秤签，该商品按克计库存：请扫描重量秤签或填写克数"),
        StocktakeError::BadField { message, .. } => format!("填写有误：{message}"),
        StocktakeError::BadScope(m) => format!("盘点范围有误：{m}"),
        StocktakeError::Overlap { other, scope, .. } => format!("与盘点单 #{other}（{scope}）的范围重叠，该单尚未完成：请先完成或取消它"),
        StocktakeError::UnknownZone(z) => format!("没有区域“{z}”"),
        StocktakeError::UnknownLane(l) => format!("没有收银台“{l}”"),
        StocktakeError::LaneBusy { lane, lines } => format!("{lane} 的购物车还有 {lines} 行商品：请先收款或作废，再进入盘点模式"),
        StocktakeError::ApprovalMismatch { id, started } => {
            format!("盘点单 #{id} 的审核开始时“未盘商品清零”为{}：请按相同方式继续", if *started { "是" } else { "否" })
        }
        other => other.to_string(),
    }
}

/// A stocktake refusal as HTTP: 404 unknown, 403 permission, 409 state, else 400 naming the field.
fn st_error(lang: Lang, e: StocktakeError) -> WebError {
    let field = e.field();
    // The CLI's message starts with the field; the API names it in `field` instead.
    let full = e.to_string();
    let en = field.and_then(|f| full.strip_prefix(&format!("{f}: ")).map(str::to_string)).unwrap_or(full);
    let msg = match lang {
        Lang::Zh => zh(&e),
        Lang::En => en,
    };
    let mut w = match &e {
        StocktakeError::Unknown(_) => WebError::not_found(msg),
        StocktakeError::Staff(_) => WebError::forbidden(msg),
        StocktakeError::Store(_) => WebError::internal(msg),
        StocktakeError::WrongState { .. } | StocktakeError::Overlap { .. } | StocktakeError::LaneBusy { .. } | StocktakeError::ApprovalMismatch { .. } | StocktakeError::Inventory(_) => {
            WebError::conflict(msg)
        }
        _ => WebError::bad_request(msg),
    };
    w.field = field.map(str::to_string);
    if w.field.is_some() && w.status == StatusCode::BAD_REQUEST {
        w.code = "invalid_field";
    }
    w
}

fn commit_error(lang: Lang, e: CommitError<StocktakeError>) -> WebError {
    match e {
        CommitError::Rejected(e) => st_error(lang, e),
        CommitError::Store(e) => WebError::internal(e.to_string()),
    }
}

fn id_of(lang: Lang, typed: &str) -> Result<u64, WebError> {
    typed.trim().parse::<u64>().map_err(|_| forms::field(lang, "id", format!("盘点单号须为整数，现为“{typed}”"), format!("expected a stocktake number, got {typed:?}")))
}

fn state_text(lang: Lang, s: StocktakeState) -> &'static str {
    match s {
        StocktakeState::Open => lang.pick("盘点中", "Counting"),
        StocktakeState::Submitted => lang.pick("待审核", "Submitted"),
        StocktakeState::Approved => lang.pick("已审核", "Approved"),
        StocktakeState::Cancelled => lang.pick("已取消", "Cancelled"),
    }
}

fn scope_text(lang: Lang, s: &Scope) -> String {
    match s {
        Scope::Full => lang.pick("全盘", "Full count").to_string(),
        Scope::Categories { categories } => format!("{}：{}", lang.pick("品类", "Categories"), categories.join("、")),
        Scope::Zone { zone, .. } => format!("{}：{zone}", lang.pick("区域", "Zone")),
        Scope::Skus { skus } => format!("SKU：{}", skus.join("、")),
    }
}

/// The stock pages' tabs for whoever may read stock, and the way to the counts for everyone.
fn subnav(lang: Lang, me: &Identity) -> Markup {
    html! {
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/stocktakes"))
        nav.toolbar { a href="/stock/stocktakes/counting" { (lang.pick("去盘点", "Count")) } }
    }
}

fn scope_request(lang: Lang, scope: &str, categories: Vec<String>, zone: Option<String>, skus: Vec<String>) -> Result<ScopeRequest, WebError> {
    match scope.trim() {
        "full" => Ok(ScopeRequest::Full),
        "categories" => Ok(ScopeRequest::Categories(categories)),
        "zone" => zone.filter(|z| !z.trim().is_empty()).map(ScopeRequest::Zone).ok_or_else(|| forms::field(lang, "zone", "必填：选择区域", "required: pick a zone")),
        "skus" => Ok(ScopeRequest::Skus(skus)),
        other => Err(forms::field(lang, "scope", format!("范围须为 full、categories、zone 或 skus，现为“{other}”"), format!("expected full, categories, zone or skus, got {other:?}"))),
    }
}

fn split_list(v: &Option<String>) -> Vec<String> {
    v.as_deref().unwrap_or_default().split([',', '，', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

// --- API ------------------------------------------------------------------------------------------

async fn api_list(State(state): State<AppState>) -> Result<Json<Vec<Stocktake>>, WebError> {
    state.blocking(|store, _| Ok(Json(st::list(store)?))).await
}

async fn api_open(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<OpenBody>) -> Result<Json<Stocktake>, WebError> {
    let lang = me.lang;
    let scope = scope_request(me.lang, &b.scope, b.categories, b.zone, b.skus)?;
    let new = NewStocktake { scope, blind: b.blind, note: b.note.unwrap_or_default(), by: me.staff.id.clone() };
    state.blocking(move |store, ctx| st::open(store, &new, ctx.stock.stocktake_blind).map(Json).map_err(|e| commit_error(lang, e))).await
}

async fn api_show(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<st::StocktakeView>, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let role = me.staff.role;
    state.blocking(move |store, _| st::view(store, id, |t| st::sees_expected(role, t)).map(Json).map_err(|e| st_error(lang, e))).await
}

fn count_how(lang: Lang, qty: Option<i64>, set: Option<i64>) -> Result<CountHow, WebError> {
    match (qty, set) {
        (Some(_), Some(_)) => Err(forms::field(lang, "set", "数量和复盘数量只填一个", "give either qty or set, not both")),
        (_, Some(n)) => Ok(CountHow::Set(n)),
        (q, None) => Ok(CountHow::Add(q)),
    }
}

async fn api_count(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<CountBody>) -> Result<Json<serde_json::Value>, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let how = count_how(me.lang, b.qty, b.set)?;
    let (who, role) = (me.staff.id.clone(), me.staff.role);
    state
        .blocking(move |store, ctx| {
            let c = st::count(store, &ctx.layouts, id, &b.code, how, &who).map_err(|e| commit_error(lang, e))?;
            let shows = st::stocktake(store, id)?.is_some_and(|t| st::sees_expected(role, &t));
            let mut v = serde_json::to_value(&c).map_err(|e| WebError::internal(e.to_string()))?;
            if !shows {
                if let Some(o) = v.as_object_mut() {
                    o.remove("expected");
                }
            }
            Ok(Json(v))
        })
        .await
}

async fn api_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<Stocktake>, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let who = me.staff.id.clone();
    state.blocking(move |store, _| st::submit(store, id, &who).map(Json).map_err(|e| commit_error(lang, e))).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct VarianceQuery {
    format: Option<String>,
}

async fn api_variance(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let q: VarianceQuery = forms::parse_query(raw.as_deref())?;
    let csv = match text(&q.format) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(forms::field(me.lang, "format", format!("格式须为 json 或 csv，现为“{other}”"), format!("expected json or csv, got {other:?}"))),
    };
    let report = state.blocking(move |store, _| st::variance(store, id).map_err(|e| st_error(lang, e))).await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let mut buf = Vec::new();
    st::write_variance_csv(&report, &mut buf).map_err(|e| WebError::internal(e.to_string()))?;
    let disposition = format!("attachment; filename=\"stocktake-{id}-variance.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], buf).into_response())
}

async fn api_approve(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<st::ApprovedEvent>, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let b: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) { ApproveBody::default() } else { super::error::parse_json(&body)? };
    let who = me.staff.id.clone();
    state.blocking(move |store, _| st::approve(store, id, &who, b.zero_uncounted).map(Json).map_err(|e| commit_error(lang, e))).await
}

async fn api_cancel(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<Stocktake>, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let who = me.staff.id.clone();
    state.blocking(move |store, _| st::cancel(store, id, &who).map(Json).map_err(|e| commit_error(lang, e))).await
}

/// Count mode through the CLI's own path (`control::stocktake`), which checks the lane and its cart.
async fn set_lane(state: &AppState, me: &Identity, lane: String, stocktake: Option<u64>) -> Result<serde_json::Value, WebError> {
    let who = me.staff.id.clone();
    state
        .blocking(move |store, ctx| {
            control_handle(store, ctx, StocktakeRequest::Lane { lane, stocktake, staff: who }).map(|r| r.result).map_err(|m| {
                let mut e = WebError::conflict(m.trim_end_matches("; nothing written").to_string());
                if m.starts_with("lane:") {
                    e.field = Some("lane".into());
                }
                e
            })
        })
        .await
}

async fn api_lane(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<LaneBody>) -> Result<Json<serde_json::Value>, WebError> {
    set_lane(&state, &me, b.lane.trim().to_string(), b.stocktake).await.map(Json)
}

async fn api_zones(State(state): State<AppState>) -> Result<Json<Vec<Zone>>, WebError> {
    state.blocking(|store, _| Ok(Json(st::zones(store)?))).await
}

async fn api_zone_set(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(zone): Path<String>, JsonBody(b): JsonBody<ZoneBody>) -> Result<Json<Zone>, WebError> {
    let lang = me.lang;
    let z = Zone { id: zone, name: b.name, categories: b.categories, skus: b.skus };
    let who = me.staff.id.clone();
    state.blocking(move |store, _| st::set_zone(store, &z, &who).map(Json).map_err(|e| commit_error(lang, e))).await
}

async fn api_zone_remove(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(zone): Path<String>) -> Result<Json<Zone>, WebError> {
    let lang = me.lang;
    let who = me.staff.id.clone();
    state.blocking(move |store, _| st::remove_zone(store, &zone, &who).map(Json).map_err(|e| commit_error(lang, e))).await
}

// --- pages -----------------------------------------------------------------------------------------

/// The open form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OpenForm {
    scope: Option<String>,
    categories: Option<String>,
    zone: Option<String>,
    skus: Option<String>,
    blind: Option<String>,
    note: Option<String>,
}

async fn list_view(state: &AppState, me: &Identity, f: &OpenForm, error: Option<&WebError>) -> Result<Response, WebError> {
    let lang = me.lang;
    let (list, zones, categories) = state.blocking(|store, _| Ok((st::list(store)?, st::zones(store)?, crate::catalog::categories(store)?))).await?;
    let may_manage = allows(me.staff.role, Action::ManageStocktakes);
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let scope = f.scope.clone().unwrap_or_else(|| "categories".into());
    let blind_default = state.ctx.stock.stocktake_blind;
    let blind = f.blind.as_deref().map_or(blind_default, |b| b == "true");
    let tz = state.ctx.tz;
    let title = lang.pick("盘点", "Stocktakes");
    let body = html! {
        h1 { (title) }
        (subnav(lang, me))
        (forms::form_message(error))
        @if list.is_empty() {
            p.muted { (lang.pick("还没有盘点单。", "No stocktakes yet.")) }
        } @else {
            table {
                thead { tr {
                    th { "#" } th { (lang.pick("范围", "Scope")) } th { (lang.pick("状态", "State")) } th { (lang.pick("盲盘", "Blind")) }
                    th { (lang.pick("开单", "Opened")) } th { (lang.pick("审核", "Approved")) }
                } }
                tbody {
                    @for s in &list {
                        tr {
                            td { a href=(format!("/stock/stocktakes/{}", s.id)) { "#" (s.id) } }
                            td { (scope_text(lang, &s.scope)) }
                            td { (state_text(lang, s.state)) }
                            td { @if s.blind { (lang.pick("是", "yes")) } @else { (lang.pick("否", "no")) } }
                            td { (forms::local_time(s.opened_at, tz)) " · " (s.opened_by) }
                            td { @if let (Some(at), Some(by)) = (s.approved_at, &s.approved_by) { (forms::local_time(at, tz)) " · " (by) } }
                        }
                    }
                }
            }
        }
        @if may_manage {
            h2 { (lang.pick("新建盘点", "Open a stocktake")) }
            form.card method="post" action="/stock/stocktakes" {
                (forms::csrf(me))
                label data-field="scope" { (lang.pick("范围", "Scope"))
                    select name="scope" {
                        option value="full" selected[scope == "full"] { (lang.pick("全盘", "Full count")) }
                        option value="categories" selected[scope == "categories"] { (lang.pick("按品类（循环盘点）", "By category (cycle count)")) }
                        option value="zone" selected[scope == "zone"] { (lang.pick("按区域", "By zone")) }
                        option value="skus" selected[scope == "skus"] { (lang.pick("指定 SKU", "Chosen SKUs")) }
                    }
                    (page::field_error(&errors, "scope"))
                }
                label data-field="categories" { (lang.pick("品类（逗号分隔）", "Categories (comma separated)"))
                    input name="categories" value=(f.categories.clone().unwrap_or_default()) list="stocktake-categories";
                    datalist id="stocktake-categories" { @for c in &categories { option value=(c.id) {} } }
                }
                label data-field="zone" { (lang.pick("区域", "Zone"))
                    select name="zone" {
                        option value="" { "—" }
                        @for z in &zones { option value=(z.id) selected[f.zone.as_deref() == Some(z.id.as_str())] { (z.name) " (" (z.id) ")" } }
                    }
                    (page::field_error(&errors, "zone"))
                }
                label data-field="skus" { (lang.pick("SKU（逗号分隔）", "SKUs (comma separated)"))
                    input name="skus" value=(f.skus.clone().unwrap_or_default());
                }
                label.check { input type="checkbox" name="blind" value="true" checked[blind]; " " (lang.pick("盲盘：盘点员看不到账面数量", "Blind: counters do not see the expected quantity")) }
                label data-field="note" { (lang.pick("备注", "Note")) input name="note" value=(f.note.clone().unwrap_or_default()) maxlength="200"; (page::field_error(&errors, "note")) }
                button type="submit" { (lang.pick("开始盘点", "Open the stocktake")) }
            }
        }
        h2 { (lang.pick("盘点区域", "Count zones")) }
        @if zones.is_empty() {
            p.muted { (lang.pick("没有区域（storehub stocktake zone set 或 API 添加）。", "No zones (add with `storehub stocktake zone set` or the API).")) }
        } @else {
            ul { @for z in &zones { li { strong { (z.name) } " (" (z.id) ")：" (z.categories.join("、")) @if !z.skus.is_empty() { " + " (z.skus.join("、")) } } } }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok((status, forms::render(state, me, title, body)).into_response())
}

async fn list_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    list_view(&state, &me, &OpenForm::default(), None).await
}

async fn open_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: OpenForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async {
        let scope = scope_request(lang, f.scope.as_deref().unwrap_or("full"), split_list(&f.categories), f.zone.clone(), split_list(&f.skus))?;
        let new = NewStocktake { scope, blind: Some(ticked(&f.blind)), note: f.note.clone().unwrap_or_default(), by: me.staff.id.clone() };
        state.blocking(move |store, ctx| st::open(store, &new, ctx.stock.stocktake_blind).map_err(|e| commit_error(lang, e))).await
    }
    .await;
    match result {
        Ok(s) => Ok(Redirect::to(&format!("/stock/stocktakes/{}", s.id)).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => list_view(&state, &me, &f, Some(&e)).await,
    }
}

async fn counting_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let lang = me.lang;
    let open: Vec<Stocktake> = state.blocking(|store, _| Ok(st::list(store)?.into_iter().filter(|s| s.state == StocktakeState::Open).collect())).await?;
    let title = lang.pick("去盘点", "Count stock");
    let body = html! {
        h1 { (title) }
        (subnav(lang, &me))
        @if open.is_empty() {
            p.muted { (lang.pick("现在没有进行中的盘点。", "No stocktake is open for counting now.")) }
        } @else {
            ul {
                @for s in &open {
                    li { a.button href=(format!("/stock/stocktakes/{}/count", s.id)) { (lang.pick("盘点", "Count")) " #" (s.id) } " " (scope_text(lang, &s.scope)) }
                }
            }
        }
    };
    Ok(forms::render(&state, &me, title, body).into_response())
}

async fn detail_view(state: &AppState, me: &Identity, id: u64, error: Option<&WebError>, flash: Option<&str>) -> Result<Response, WebError> {
    let lang = me.lang;
    let role = me.staff.role;
    let may_manage = allows(role, Action::ManageStocktakes);
    let (view, report) = state
        .blocking(move |store, _| {
            let view = st::view(store, id, |t| st::sees_expected(role, t)).map_err(|e| st_error(lang, e))?;
            let report = if may_manage { Some(st::variance(store, id).map_err(|e| st_error(lang, e))?) } else { None };
            Ok((view, report))
        })
        .await?;
    let s = &view.stocktake;
    let tz = state.ctx.tz;
    let lane_ids = state.ctx.checkout.as_ref().map(|c| c.lane_ids.clone()).unwrap_or_default();
    let title = format!("{} #{}", lang.pick("盘点", "Stocktake"), s.id);
    let body = html! {
        h1 { (title) " · " (state_text(lang, s.state)) }
        (subnav(lang, me))
        @if let Some(f) = flash { p.flash { (f) } }
        // The detail page's forms have no fields to mark: every refusal shows at the top.
        @if let Some(e) = error { p.error role="alert" { (e) } }
        p {
            (scope_text(lang, &s.scope)) " · "
            @if s.blind { (lang.pick("盲盘", "Blind count")) } @else { (lang.pick("明盘", "Open count")) } " · "
            (lang.pick("开单", "Opened")) " " (forms::local_time(s.opened_at, tz)) " " (s.opened_by)
            @if !s.note.is_empty() { " · " (s.note) }
        }
        p { strong { (view.counted) " / " (view.in_scope) } " " (lang.pick("个商品已盘", "products counted")) }
        @if !view.lanes.is_empty() {
            p.flash { (lang.pick("盘点中的收银台：", "Lanes counting: ")) (view.lanes.join(", ")) }
        }
        @if s.state == StocktakeState::Open {
            p { a.button href=(format!("/stock/stocktakes/{}/count", s.id)) { (lang.pick("扫码盘点", "Count by scanning")) } }
        }
        table {
            thead { tr {
                th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("实盘", "Counted")) } th.num { (lang.pick("扫描次数", "Scans")) }
                @if view.shows_expected { th.num { (lang.pick("账面", "Expected")) } }
                @if may_manage { th.num { (lang.pick("差异", "Variance")) } }
                th { (lang.pick("最后盘点", "Last counted")) }
            } }
            tbody {
                @for l in &view.lines {
                    tr {
                        td { (l.sku) }
                        td { (lang.pick(&l.name_zh, &l.name_en)) }
                        td.num { (forms::qty(l.unit, l.counted)) }
                        td.num { (l.scans) }
                        @if let Some(e) = l.expected { td.num { (forms::qty(l.unit, e)) } }
                        @if may_manage { td.num { @if let Some(e) = l.expected { (forms::qty(l.unit, l.counted - e)) } } }
                        td { (forms::local_time(l.last_counted_at, tz)) " " (l.counted_by) }
                    }
                }
            }
        }
        @if let Some(r) = &report {
            h2 { (lang.pick("差异报告", "Variance report")) }
            p {
                (lang.pick("盘亏", "Shrinkage")) " " strong { (super::i18n::yuan(r.totals.shrinkage_fen)) } " · "
                (lang.pick("盘盈", "Surplus")) " " strong { (super::i18n::yuan(r.totals.surplus_fen)) } " · "
                (lang.pick("净额", "Net")) " " strong { (super::i18n::yuan(r.totals.net_fen)) }
                " " span.muted { (lang.pick("（按成本计价，无成本按售价）", "(at cost; at price when no cost)")) }
                " " a href=(format!("/api/v1/stock/stocktakes/{}/variance?format=csv", s.id)) { "CSV" }
            }
            table {
                thead { tr { th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("账面", "Expected")) } th.num { (lang.pick("实盘", "Counted")) } th.num { (lang.pick("差异", "Variance")) } th.num { (lang.pick("金额", "Value")) } } }
                tbody {
                    @for l in r.lines.iter().filter(|l| l.row.variance != 0) {
                        tr { td { (l.row.sku) } td { (lang.pick(&l.name_zh, &l.name_en)) } td.num { (forms::qty(l.unit, l.row.expected)) } td.num { (forms::qty(l.unit, l.row.counted)) } td.num { (forms::qty(l.unit, l.row.variance)) } td.num { (super::i18n::yuan(l.row.variance_fen)) } }
                    }
                }
            }
            @if !r.uncounted.is_empty() {
                h3 { (lang.pick("未盘商品", "Not counted")) " (" (r.uncounted.len()) ")" }
                p.muted { (lang.pick("审核时保持不变，除非勾选“未盘商品清零”。", "Left unchanged at approval unless \"write off uncounted\" is ticked.")) }
                ul { @for u in r.uncounted.iter().take(200) { li { (u.sku) " " (lang.pick(&u.name_zh, &u.name_en)) " · " (lang.pick("账面", "books")) " " (u.on_hand) } } }
            }
            div.toolbar {
                @if s.state == StocktakeState::Open {
                    form.inline method="post" action=(format!("/stock/stocktakes/{}/submit", s.id)) { (forms::csrf(me)) button type="submit" { (lang.pick("结束盘点，提交审核", "Close counting and submit")) } }
                }
                @if s.state == StocktakeState::Submitted {
                    form.inline method="post" action=(format!("/stock/stocktakes/{}/approve", s.id)) {
                        (forms::csrf(me))
                        label.check { input type="checkbox" name="zero_uncounted" value="true"; " " (lang.pick("未盘商品清零", "Write off uncounted (set to 0)")) }
                        button type="submit" { (lang.pick("审核并调整库存", "Approve and book the variances")) }
                    }
                }
                @if s.state.unfinished() && s.approval.is_none() {
                    form.inline method="post" action=(format!("/stock/stocktakes/{}/cancel", s.id)) { (forms::csrf(me)) button.secondary type="submit" { (lang.pick("取消盘点", "Cancel the stocktake")) } }
                }
            }
            @if s.state == StocktakeState::Open && !lane_ids.is_empty() {
                h3 { (lang.pick("收银台扫码盘点", "Count with a lane's scanner")) }
                form.inline method="post" action=(format!("/stock/stocktakes/{}/lane", s.id)) {
                    (forms::csrf(me))
                    select name="lane" { @for l in &lane_ids { option value=(l) { (l) } } }
                    button type="submit" name="mode" value="on" { (lang.pick("进入盘点模式", "Start count mode")) }
                    button.secondary type="submit" name="mode" value="off" { (lang.pick("恢复收银", "Back to selling")) }
                }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok((status, forms::render(state, me, &title, body)).into_response())
}

async fn detail_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = id_of(me.lang, &id)?;
    detail_view(&state, &me, id, None, None).await
}

/// A manager's form on the detail page: redirect on success, the page with the message otherwise.
async fn after(state: &AppState, me: &Identity, id: u64, result: Result<(), WebError>) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/stock/stocktakes/{id}")).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR || e.status == StatusCode::NOT_FOUND => Err(e),
        Err(e) => detail_view(state, me, id, Some(&e), None).await,
    }
}

async fn submit_form(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let who = me.staff.id.clone();
    let r = state.blocking(move |store, _| st::submit(store, id, &who).map(|_| ()).map_err(|e| commit_error(lang, e))).await;
    after(&state, &me, id, r).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActionForm {
    zero_uncounted: Option<String>,
    lane: Option<String>,
    mode: Option<String>,
}

async fn approve_form(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let f: ActionForm = forms::parse_pairs(&body)?;
    let (who, zero) = (me.staff.id.clone(), ticked(&f.zero_uncounted));
    let r = state.blocking(move |store, _| st::approve(store, id, &who, zero).map(|_| ()).map_err(|e| commit_error(lang, e))).await;
    after(&state, &me, id, r).await
}

async fn cancel_form(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = id_of(me.lang, &id)?;
    let who = me.staff.id.clone();
    let r = state.blocking(move |store, _| st::cancel(store, id, &who).map(|_| ()).map_err(|e| commit_error(lang, e))).await;
    after(&state, &me, id, r).await
}

async fn lane_form(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let id = id_of(me.lang, &id)?;
    let f: ActionForm = forms::parse_pairs(&body)?;
    let lane = text(&f.lane).unwrap_or_default().to_string();
    let on = f.mode.as_deref() != Some("off");
    let r = set_lane(&state, &me, lane, on.then_some(id)).await.map(|_| ());
    after(&state, &me, id, r).await
}

async fn count_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = id_of(lang, &id)?;
    let role = me.staff.role;
    let view = state.blocking(move |store, _| st::view(store, id, |t| st::sees_expected(role, t)).map_err(|e| st_error(lang, e))).await?;
    let s = &view.stocktake;
    let title = format!("{} #{}", lang.pick("扫码盘点", "Count"), s.id);
    let mut recent = view.lines.clone();
    recent.sort_by_key(|l| std::cmp::Reverse(l.last_counted_at));
    let body = html! {
        h1 { (title) }
        (subnav(lang, &me))
        p { (scope_text(lang, &s.scope)) " · " (state_text(lang, s.state)) " · " a href=(format!("/stock/stocktakes/{}", s.id)) { (lang.pick("进度", "Progress")) } }
        @if s.state != StocktakeState::Open {
            p.error role="alert" { (lang.pick("这张盘点单已不在盘点中，不能再计数。", "This stocktake is no longer open for counting.")) }
        } @else {
            form.card id="count-form" data-id=(s.id) data-counted=(lang.pick("已盘", "counted")) data-expected=(lang.pick("账面", "expected")) {
                label data-field="code" { (lang.pick("扫码或输入条码 / SKU", "Scan or type a barcode / sku"))
                    input id="count-code" name="code" autofocus autocomplete="off" required;
                }
                label data-field="qty" { (lang.pick("数量（默认 1；称重商品按克）", "Quantity (default 1; grams for weighed goods)"))
                    input id="count-qty" name="qty" inputmode="numeric" autocomplete="off";
                }
                label.check { input id="count-set" type="checkbox" name="set" value="true"; " " (lang.pick("复盘：把数量设为实盘数", "Recount: set the line to this quantity")) }
                button type="submit" { (lang.pick("计数", "Count")) }
            }
            p id="count-message" role="status" {}
        }
        h2 { (lang.pick("最近盘点", "Last counts")) }
        ul id="count-recent" {
            @for l in recent.iter().take(20) {
                li { (l.sku) " " (lang.pick(&l.name_zh, &l.name_en)) " · " (lang.pick("已盘", "counted")) " " (forms::qty(l.unit, l.counted))
                    @if let Some(e) = l.expected { " · " (lang.pick("账面", "expected")) " " (forms::qty(l.unit, e)) } }
            }
        }
    };
    Ok(page::render_with(&state, Some(&me), &title, html! { (forms::styles()) (body) }, &["stocktake.js"]).into_response())
}
