//! Stock (库存) on the LAN: on hand per product with low-stock marking, the stock ledger, and
//! hand adjustments with a reason from a fixed list (盘点差异, 损坏, 过期, 丢失, 其他); the same
//! under `/api/v1/stock`.
//!
//! Every change goes through `inventory` (`inventory::adjust` → `move_stock`, one commit with its
//! events, the user recorded); which move kind a reason makes is `domain::stock::adjustment`'s.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, field, text, ticked};
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::catalog::{self, Unit};
use crate::domain::stock::{AdjustError, AdjustReason, MoveKind, QtyError, StockChange};
use crate::domain::staff::{allows, Action};
use crate::inventory::{self, InventoryError, StockMove};
use crate::store::CommitError;

/// Moves one ledger walk looks at before it stops (a sku filter over a long ledger).
const MOVES_SCANNED: usize = 50_000;

pub fn routes() -> Vec<RouteDef> {
    use Action::{AdjustStock, ViewStock};
    vec![
        RouteDef::get("/stock", Need::May(ViewStock), "Stock on hand per product, low stock marked", stock_page),
        RouteDef::get("/stock/moves", Need::May(ViewStock), "The stock ledger, newest first, by sku", moves_page),
        RouteDef::get("/stock/adjust", Need::May(AdjustStock), "Adjust stock: the form", adjust_page),
        RouteDef::post("/stock/adjust", Need::May(AdjustStock), "Adjust stock (form)", adjust_submit),
        RouteDef::get("/api/v1/stock", Need::May(ViewStock), "On hand per product: ?q= &low=true &limit= &offset=", api_stock).returns::<StockList>(),
        RouteDef::get("/api/v1/stock/moves", Need::May(ViewStock), "Stock moves, newest first: ?sku= &limit= &before= (a move id)", api_moves).returns::<MoveList>(),
        RouteDef::post("/api/v1/stock/adjustments", Need::May(AdjustStock), "Record a hand adjustment with its reason", api_adjust).body::<AdjustmentBody>().returns::<MoveJson>(),
    ]
}

// --- JSON ------------------------------------------------------------------------------------------

/// On hand of one sku.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockJson {
    pub sku: String,
    /// Null for a delisted sku that still has stock.
    pub name_zh: Option<String>,
    /// `piece` or `kg`.
    pub unit: Option<String>,
    /// Pieces, or grams for `kg` goods.
    pub on_hand: i64,
    pub reorder_point: Option<i64>,
    /// At or below the reorder point.
    pub low: bool,
}

/// A page of on-hand rows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StockList {
    pub rows: Vec<StockJson>,
    pub total: usize,
}

/// One stock move.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MoveJson {
    pub id: u64,
    pub sku: String,
    /// `sale`, `return`, `receipt`, `adjustment`, `stocktake`, `transfer`.
    pub kind: String,
    pub delta: i64,
    pub on_hand_after: i64,
    pub reason: String,
    pub user: String,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<&StockMove> for MoveJson {
    fn from(m: &StockMove) -> MoveJson {
        MoveJson {
            id: m.id,
            sku: m.sku.clone(),
            kind: m.kind.as_str().to_string(),
            delta: m.delta,
            on_hand_after: m.on_hand_after,
            reason: m.reason.clone(),
            user: m.user.clone(),
            reference: m.reference.clone(),
            at: m.at,
        }
    }
}

/// A page of the ledger.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MoveList {
    pub moves: Vec<MoveJson>,
    /// Ask again with `before` = this for older moves; null at the oldest.
    pub next_before: Option<u64>,
    /// The walk stopped before filling the page (a sku rarely moved in a long ledger).
    pub truncated: bool,
}

/// A hand adjustment: the reason, and either `qty` (signed change) or `counted` (the shelf's
/// count, count corrections only).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    pub sku: String,
    /// `count_correction`, `damage`, `expired`, `theft`, `other`.
    pub reason: String,
    /// Required for `other`; at most 160 characters.
    #[serde(default)]
    pub note: Option<String>,
    /// Signed change: pieces, or grams for weighed goods.
    #[serde(default)]
    pub qty: Option<i64>,
    /// What the shelf holds (count corrections only).
    #[serde(default)]
    pub counted: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StockQuery {
    q: Option<String>,
    low: Option<String>,
    sku: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    before: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

// --- words ----------------------------------------------------------------------------------------

fn kind_text(lang: Lang, k: MoveKind) -> &'static str {
    match k {
        MoveKind::Sale => lang.pick("销售", "Sale"),
        MoveKind::Return => lang.pick("退货", "Return"),
        MoveKind::Receipt => lang.pick("收货", "Receipt"),
        MoveKind::Adjustment => lang.pick("调整", "Adjustment"),
        MoveKind::Stocktake => lang.pick("盘点", "Stocktake"),
        MoveKind::Transfer => lang.pick("调拨", "Transfer"),
    }
}

fn reason_text(lang: Lang, r: AdjustReason) -> &'static str {
    match r {
        AdjustReason::CountCorrection => lang.pick("盘点差异", "Count correction"),
        AdjustReason::Damage => lang.pick("损坏", "Damage"),
        AdjustReason::Expired => lang.pick("过期", "Expired"),
        AdjustReason::Theft => lang.pick("丢失", "Theft / loss"),
        AdjustReason::Other => lang.pick("其他", "Other"),
    }
}

/// A stored move reason for people: a hand adjustment's code in words, then its note.
fn move_reason(lang: Lang, reason: &str) -> String {
    match AdjustReason::of_move_reason(reason) {
        Some(r) => match reason.split_once(':') {
            Some((_, note)) => format!("{}：{}", reason_text(lang, r), note.trim()),
            None => reason_text(lang, r).to_string(),
        },
        None => reason.to_string(),
    }
}

/// The ledger's rows; `unit_of` gives each sku's unit for the quantities.
pub fn moves_table(lang: Lang, tz: chrono_tz::Tz, moves: &[StockMove], unit_of: impl Fn(&str) -> Option<Unit>) -> Markup {
    html! {
        @if moves.is_empty() {
            p.muted { (lang.pick("没有库存变动。", "No stock moves.")) }
        } @else {
            table {
                thead { tr {
                    th { "#" } th { (lang.pick("时间", "When")) } th { "SKU" } th { (lang.pick("类型", "Kind")) }
                    th.num { (lang.pick("变动", "Change")) } th.num { (lang.pick("变动后", "After")) } th { (lang.pick("原因", "Reason")) }
                    th { (lang.pick("操作人", "By")) } th { (lang.pick("关联", "Reference")) }
                } }
                tbody {
                    @for m in moves {
                        tr {
                            td { (m.id) }
                            td { (forms::local_time(m.at, tz)) }
                            td { a href=(format!("/products/{}", forms::enc(&m.sku))) { (m.sku) } }
                            td { (kind_text(lang, m.kind)) }
                            td.num { @if m.delta > 0 { "+" } (forms::qty(unit_of(&m.sku), m.delta)) }
                            td.num { (forms::qty(unit_of(&m.sku), m.on_hand_after)) }
                            td { (move_reason(lang, &m.reason)) }
                            td { (m.user) }
                            td { (m.reference.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

fn qty_zh(e: &QtyError) -> String {
    match e {
        QtyError::MustBePositive { qty, .. } => format!("数量须大于 0，现为 {qty}"),
        QtyError::Zero => "数量不能为 0".into(),
        QtyError::NegativeCount(c) => format!("盘点数量不能为负数，现为 {c}"),
        QtyError::Overflow => "库存数量超出范围".into(),
    }
}

fn adjust_zh(e: &AdjustError) -> String {
    match e {
        AdjustError::ZeroChange => "数量不能为 0：填写变动数量，减少用负数（称重商品按克）".into(),
        AdjustError::NegativeCount(c) => format!("实盘数量不能为负数，现为 {c}"),
        AdjustError::CountNeedsCountCorrection => "只有“盘点差异”可以填写实盘数量".into(),
        AdjustError::NoteRequired => "原因为“其他”时须填写说明".into(),
        AdjustError::BadNote(n) => format!("说明最多 160 个字符，不含控制字符，现为 {n} 个字符"),
    }
}

/// An inventory refusal as a web error naming the field.
fn inventory_error(lang: Lang, e: CommitError<InventoryError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let en = e.to_string();
    match &e {
        InventoryError::UnknownSku(sku) => field(lang, "sku", format!("没有 SKU 为 {sku} 的商品"), en),
        InventoryError::Qty { source, .. } => field(lang, "qty", qty_zh(source), en),
        InventoryError::ReasonTooLong(n) => field(lang, "note", format!("原因太长（{n} 个字符）"), en),
        InventoryError::Adjust(a) => field(lang, a.field(), adjust_zh(a), a.to_string()),
    }
}

fn parse_reason(lang: Lang, typed: &str) -> Result<AdjustReason, WebError> {
    AdjustReason::parse(typed).ok_or_else(|| {
        field(
            lang,
            "reason",
            format!("原因须为 count_correction（盘点差异）、damage（损坏）、expired（过期）、theft（丢失）或 other（其他），现为“{}”", typed.trim()),
            format!("expected count_correction, damage, expired, theft or other, got {:?}", typed.trim()),
        )
    })
}

/// The change an adjustment states: exactly one of `qty` and `counted`.
fn change_of(lang: Lang, qty: Option<i64>, counted: Option<i64>) -> Result<StockChange, WebError> {
    match (qty, counted) {
        (Some(q), None) => Ok(StockChange::By(q)),
        (None, Some(c)) => Ok(StockChange::CountedAt(c)),
        (None, None) => Err(field(lang, "qty", "必填：变动数量（减少用负数），或盘点时的实盘数量", "required: the change (negative to take off), or for a count correction the counted figure")),
        (Some(_), Some(_)) => Err(field(lang, "counted", "变动数量和实盘数量只填一个", "give either qty or counted, not both")),
    }
}

async fn adjust(state: &AppState, me: &Identity, sku: String, reason: AdjustReason, note: String, change: StockChange) -> Result<StockMove, WebError> {
    let lang = me.lang;
    let user = me.staff.id.clone();
    state.blocking(move |store, _| Ok(inventory::adjust(store, &sku, reason, &note, change, &user).map_err(|e| inventory_error(lang, e)))).await?
}

/// Units of the skus of some moves (one read per distinct sku).
fn units_of(store: &crate::store::Store, moves: &[StockMove]) -> Result<HashMap<String, Unit>, crate::store::StoreError> {
    let mut units = HashMap::new();
    for m in moves {
        if !units.contains_key(&m.sku) {
            if let Some(p) = catalog::product(store, &m.sku)? {
                units.insert(m.sku.clone(), p.unit);
            }
        }
    }
    Ok(units)
}

fn before_of(lang: Lang, typed: &Option<String>) -> Result<Option<u64>, WebError> {
    text(typed)
        .map(|t| t.parse::<u64>().map_err(|_| field(lang, "before", format!("须为库存变动编号（整数），现为“{t}”"), format!("expected a move id, got {t:?}"))))
        .transpose()
}

// --- API -------------------------------------------------------------------------------------------

async fn api_stock(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<StockList>, WebError> {
    let q: StockQuery = forms::parse_query(raw.as_deref())?;
    let limit = forms::limit(me.lang, &q.limit, 100)?;
    let offset = forms::offset(me.lang, &q.offset)?;
    let (query, low) = (q.q.unwrap_or_default(), ticked(&q.low));
    state
        .blocking(move |store, _| {
            let page = inventory::stock_page(store, &query, low, offset, limit)?;
            let rows = page
                .rows
                .into_iter()
                .map(|r| StockJson { sku: r.sku, name_zh: r.name_zh, unit: r.unit.map(|u| u.as_str().to_string()), on_hand: r.on_hand, reorder_point: r.reorder_point, low: r.low })
                .collect();
            Ok(Json(StockList { rows, total: page.total }))
        })
        .await
}

async fn api_moves(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<MoveList>, WebError> {
    let q: StockQuery = forms::parse_query(raw.as_deref())?;
    let limit = forms::limit(me.lang, &q.limit, 50)?;
    let before = before_of(me.lang, &q.before)?;
    let sku = text(&q.sku).map(str::to_string);
    state
        .blocking(move |store, _| {
            let page = inventory::moves_page(store, sku.as_deref(), before, limit, MOVES_SCANNED)?;
            Ok(Json(MoveList { moves: page.moves.iter().map(MoveJson::from).collect(), next_before: page.next_before, truncated: page.truncated }))
        })
        .await
}

async fn api_adjust(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<AdjustmentBody>) -> Result<Json<MoveJson>, WebError> {
    let lang = me.lang;
    let reason = parse_reason(lang, &b.reason)?;
    let change = change_of(lang, b.qty, b.counted)?;
    let sku = b.sku.trim().to_string();
    if sku.is_empty() {
        return Err(field(lang, "sku", "必填", "required"));
    }
    let mv = adjust(&state, &me, sku, reason, b.note.unwrap_or_default(), change).await?;
    tracing::info!(sku = %mv.sku, delta = mv.delta, by = %mv.user, "stock adjusted on the web");
    Ok(Json(MoveJson::from(&mv)))
}

// --- pages -----------------------------------------------------------------------------------------

async fn stock_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: StockQuery = forms::parse_query(raw.as_deref())?;
    let page_no = forms::page_number(&q.page);
    let (query, low) = (q.q.clone().unwrap_or_default(), ticked(&q.low));
    let query2 = query.clone();
    let page = state.blocking(move |store, _| Ok(inventory::stock_page(store, &query2, low, (page_no - 1) * forms::PER_PAGE, forms::PER_PAGE)?)).await?;
    let more = page_no * forms::PER_PAGE < page.total;
    let may_adjust = allows(me.staff.role, Action::AdjustStock);
    let body = html! {
        h1 { (lang.pick("库存", "Stock")) }
        (stock_tabs(lang, me.staff.role, "/stock"))
        form.toolbar method="get" action="/stock" {
            label { (lang.pick("名称 / SKU", "Name / sku")) input type="search" name="q" value=(query) autofocus; }
            label.check { input type="checkbox" name="low" value="true" checked[low]; " " (lang.pick("只看低库存", "Low stock only")) }
            button type="submit" { (lang.pick("查找", "Search")) }
            a href="/stock/moves" { (lang.pick("库存流水", "Stock ledger")) }
            @if may_adjust { a.button href="/stock/adjust" { (lang.pick("调整库存", "Adjust stock")) } }
        }
        p.muted { (lang.pick("共", "")) (page.total) (lang.pick(" 项", " items")) }
        table {
            thead { tr {
                th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("现有库存", "On hand")) } th.num { (lang.pick("补货点", "Reorder point")) } th { "" }
            } }
            tbody {
                @for r in &page.rows {
                    tr.low[r.low] {
                        td { a href=(format!("/products/{}", forms::enc(&r.sku))) { (r.sku) } }
                        td { (r.name_zh.clone().unwrap_or_else(|| lang.pick("（已下架）", "(delisted)").to_string())) }
                        td.num { (forms::qty(r.unit, r.on_hand)) }
                        td.num { (r.reorder_point.map(|p| forms::qty(r.unit, p)).unwrap_or_else(|| "—".into())) }
                        td {
                            @if r.low { span.badge.bad { (lang.pick("低库存", "Low")) } " " }
                            @if may_adjust { a href=(forms::url("/stock/adjust", &[("sku", &r.sku)])) { (lang.pick("调整", "Adjust")) } }
                        }
                    }
                }
            }
        }
        (forms::pager(lang, "/stock", &[("q", &query), ("low", if low { "true" } else { "" })], page_no, more))
    };
    Ok(forms::render(&state, &me, lang.pick("库存", "Stock"), body).into_response())
}

async fn moves_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: StockQuery = forms::parse_query(raw.as_deref())?;
    let sku = text(&q.sku).unwrap_or_default().to_string();
    let before = before_of(lang, &q.before)?;
    let sku2 = sku.clone();
    let (page, units) = state
        .blocking(move |store, _| {
            let page = inventory::moves_page(store, Some(sku2.as_str()).filter(|s| !s.is_empty()), before, forms::PER_PAGE, MOVES_SCANNED)?;
            let units = units_of(store, &page.moves)?;
            Ok((page, units))
        })
        .await?;
    let body = html! {
        h1 { (lang.pick("库存流水", "Stock ledger")) }
        @if q.done.is_some() { p.flash { (lang.pick("库存已调整。", "Stock adjusted.")) } }
        form.toolbar method="get" action="/stock/moves" {
            label { "SKU" input type="search" name="sku" value=(sku); }
            button type="submit" { (lang.pick("筛选", "Filter")) }
            a href="/stock" { (lang.pick("库存", "Stock")) }
        }
        (moves_table(lang, state.ctx.tz, &page.moves, |s| units.get(s).copied()))
        @if page.truncated {
            p.muted { (lang.pick(&format!("已查看 {MOVES_SCANNED} 条变动，未找到更多。"), &format!("Looked at {MOVES_SCANNED} moves without filling the page."))) }
        }
        nav.pager {
            @if before.is_some() { a href=(forms::url("/stock/moves", &[("sku", &sku)])) { "« " (lang.pick("最新", "Newest")) } " " }
            @if let Some(next) = page.next_before {
                a href=(forms::url("/stock/moves", &[("sku", &sku), ("before", &next.to_string())])) { (lang.pick("更早", "Older")) " ›" }
            }
        }
    };
    Ok(forms::render(&state, &me, lang.pick("库存流水", "Stock ledger"), body).into_response())
}

/// The adjustment form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AdjustForm {
    sku: Option<String>,
    reason: Option<String>,
    qty: Option<String>,
    counted: Option<String>,
    note: Option<String>,
}

async fn adjust_form(state: &AppState, me: &Identity, f: &AdjustForm, error: Option<&WebError>) -> Result<Response, WebError> {
    let lang = me.lang;
    let sku = text(&f.sku).unwrap_or_default().to_string();
    let current = if sku.is_empty() {
        None
    } else {
        let sku2 = sku.clone();
        state.blocking(move |store, _| Ok(match catalog::product(store, &sku2)? { Some(p) => Some((inventory::on_hand(store, &sku2)?, p)), None => None })).await?
    };
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let reason = f.reason.clone().unwrap_or_default();
    let title = lang.pick("调整库存", "Adjust stock");
    let body = html! {
        h1 { (title) }
        p { a href="/stock" { "‹ " (lang.pick("库存", "Stock")) } }
        @if let Some((on_hand, p)) = &current {
            p { (p.name_zh) " · " (lang.pick("现有库存", "On hand")) " " strong { (forms::qty(Some(p.unit), *on_hand)) }
                @if p.unit == Unit::Kg { " " span.muted { (lang.pick("（数量按克填写）", "(quantities in grams)")) } } }
        }
        (forms::form_message(error))
        form.card method="post" action="/stock/adjust" {
            (forms::csrf(me))
            label data-field="sku" { "SKU *" input name="sku" value=(sku) required autofocus[sku.is_empty()]; (page::field_error(&errors, "sku")) }
            label data-field="reason" { (lang.pick("原因", "Reason")) " *"
                select name="reason" required {
                    @for r in AdjustReason::ALL {
                        option value=(r.as_str()) selected[reason == r.as_str()] { (reason_text(lang, r)) }
                    }
                }
                (page::field_error(&errors, "reason"))
            }
            label data-field="qty" { (lang.pick("变动数量（减少用负数；称重商品按克）", "Change (negative to take off; grams for weighed goods)"))
                input name="qty" value=(v(&f.qty)) inputmode="numeric" placeholder="-2" autofocus[!sku.is_empty()];
                (page::field_error(&errors, "qty"))
            }
            label data-field="counted" { (lang.pick("或：实盘数量（仅盘点差异）", "Or: counted on the shelf (count corrections only)"))
                input name="counted" value=(v(&f.counted)) inputmode="numeric";
                (page::field_error(&errors, "counted"))
            }
            label data-field="note" { (lang.pick("说明（原因为“其他”时必填）", "Note (required for \"other\")"))
                input name="note" value=(v(&f.note)) maxlength="160";
                (page::field_error(&errors, "note"))
            }
            button type="submit" { (lang.pick("记录调整", "Record the adjustment")) }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok((status, forms::render(state, me, title, body)).into_response())
}

async fn adjust_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: StockQuery = forms::parse_query(raw.as_deref())?;
    adjust_form(&state, &me, &AdjustForm { sku: q.sku, ..AdjustForm::default() }, None).await
}

async fn adjust_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let f: AdjustForm = forms::parse_pairs(&body)?;
    let result = async {
        let sku = text(&f.sku).ok_or_else(|| field(lang, "sku", "必填", "required"))?.to_string();
        let reason = parse_reason(lang, f.reason.as_deref().unwrap_or_default())?;
        let change = change_of(lang, forms::opt_int(lang, "qty", &f.qty)?, forms::opt_int(lang, "counted", &f.counted)?)?;
        adjust(&state, &me, sku, reason, f.note.clone().unwrap_or_default(), change).await
    }
    .await;
    match result {
        Ok(mv) => Ok(Redirect::to(&forms::url("/stock/moves", &[("sku", &mv.sku), ("done", "1")])).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => adjust_form(&state, &me, &f, Some(&e)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_reasons_read_in_the_users_language() {
        assert_eq!(move_reason(Lang::Zh, "damage: 摔碎 2 瓶"), "损坏：摔碎 2 瓶");
        assert_eq!(move_reason(Lang::En, "count_correction"), "Count correction");
        assert_eq!(move_reason(Lang::Zh, "sale of 3"), "sale of 3");
    }

    #[test]
    fn an_adjustment_states_one_change() {
        assert_eq!(change_of(Lang::En, Some(-2), None).ok(), Some(StockChange::By(-2)));
        assert_eq!(change_of(Lang::En, None, Some(17)).ok(), Some(StockChange::CountedAt(17)));
        assert_eq!(change_of(Lang::En, None, None).unwrap_err().field.as_deref(), Some("qty"));
        assert_eq!(change_of(Lang::En, Some(1), Some(1)).unwrap_err().field.as_deref(), Some("counted"));
    }
}

/// The stock pages' tabs, those `role` may open (the `/stock` nav entry leads to all of them;
/// staff who may not see stock but receive goods, count or restock reach theirs through the
/// `/stock/tasks` nav entry): stock, suggestions, orders, stocktakes, analysis, tasks and alerts,
/// receiving, counting.
pub fn stock_tabs(lang: Lang, role: crate::domain::staff::Role, current: &str) -> Markup {
    let tabs = [
        ("/stock", "库存", "Stock", Action::ViewStock),
        ("/stock/replenishment", "补货建议", "Replenishment", Action::ViewStock),
        ("/stock/purchase-orders", "采购单", "Purchase orders", Action::ViewStock),
        ("/stock/stocktakes", "盘点", "Stocktakes", Action::ViewStock),
        ("/stock/analysis", "库存分析", "Analysis", Action::ViewStock),
        ("/stock/tasks", "补货任务与告警", "Tasks and alerts", Action::WorkRestockTasks),
        ("/stock/purchase-orders/receiving", "收货", "Receiving", Action::ReceiveGoods),
        ("/stock/stocktakes/counting", "盘点录入", "Counting", Action::CountStock),
    ];
    html! {
        nav.toolbar.stock-tabs {
            @for (href, zh, en, need) in tabs {
                @if allows(role, need) {
                    @if href == current { strong { (lang.pick(zh, en)) } } @else { a href=(href) { (lang.pick(zh, en)) } }
                }
            }
        }
    }
}
