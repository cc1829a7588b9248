//! Purchase orders (采购单) and receiving (收货) on the LAN: the list by state with supplier and
//! value and the "create from suggestions" button, an order's page (lines ordered / received /
//! outstanding, the draft's edit form, send / close / cancel, and the receive-by-scanning box a
//! handheld scanner in keyboard mode types into), and the same under
//! `/api/v1/stock/purchase-orders`.
//!
//! Every rule is `inventory::purchase`'s and `domain::purchase`'s; this module reads forms and
//! bodies, calls them as the logged-in staff and shows the result. The receive box posts each
//! scan to the API from `assets/purchase.js` (no page reload); without scripts it is a plain
//! form that posts and comes back to the page.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, field, refused, text, ticked};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::purchase::PoRuleError;
use crate::domain::staff::{allows, Action};
use crate::inventory::purchase::{
    self as po, FromSuggestions, NewOrder, NewPoLine, PoEdit, PoFilter, PoLine, PoState, PoView, PurchaseError, PurchaseOrder, Received, Scan,
};
use crate::staff::StaffError;
use crate::store::CommitError;

/// Receipts an order's page lists (newest first).
const RECEIPTS_SHOWN: usize = 20;

pub fn routes() -> Vec<RouteDef> {
    use Action::{ManagePurchaseOrders, ReceiveGoods, ViewStock};
    vec![
        RouteDef::get("/stock/purchase-orders", Need::May(ViewStock), "Purchase orders by state: ?state=open|all|draft|sent|partially_received|received|closed|cancelled", list_page),
        RouteDef::post("/stock/purchase-orders/new", Need::May(ManagePurchaseOrders), "Create a draft purchase order (form)", new_submit),
        RouteDef::post("/stock/purchase-orders/from-suggestions", Need::May(ManagePurchaseOrders), "Drafts from the latest suggestions, one per supplier (form)", from_suggestions_submit),
        RouteDef::get("/stock/purchase-orders/{id}", Need::May(ViewStock), "A purchase order: lines, receipts, forms and the receive-by-scanning box", order_page),
        RouteDef::post("/stock/purchase-orders/{id}/edit", Need::May(ManagePurchaseOrders), "Change a purchase order (form)", edit_submit),
        RouteDef::post("/stock/purchase-orders/{id}/send", Need::May(ManagePurchaseOrders), "Send a draft purchase order (form)", send_submit),
        RouteDef::post("/stock/purchase-orders/{id}/close", Need::May(ManagePurchaseOrders), "Close a received or partially received order (form)", close_submit),
        RouteDef::post("/stock/purchase-orders/{id}/cancel", Need::May(ManagePurchaseOrders), "Cancel a draft or an order nothing arrived on (form)", cancel_submit),
        RouteDef::get("/stock/purchase-orders/receiving", Need::May(ReceiveGoods), "Orders waiting for goods (sent, partially received), for receiving", receiving_page),
        RouteDef::get("/stock/purchase-orders/{id}/receive", Need::May(ReceiveGoods), "Receive an order by scanning: its lines and the scan box (no costs)", receive_page),
        RouteDef::post("/stock/purchase-orders/{id}/receive", Need::May(ReceiveGoods), "Receive one scan of goods (form; the page's script uses the API)", receive_submit),
        RouteDef::get("/api/v1/stock/purchase-orders", Need::May(ViewStock), "Purchase orders, newest first: ?state=open (default)|all|draft|sent|partially_received|received|closed|cancelled", api_list)
            .returns::<PoList>(),
        RouteDef::post("/api/v1/stock/purchase-orders", Need::May(ManagePurchaseOrders), "Create a draft purchase order from lines (sku, qty, optional unit cost)", api_create)
            .body::<NewOrder>()
            .returns::<PoView>(),
        RouteDef::post("/api/v1/stock/purchase-orders/from-suggestions", Need::May(ManagePurchaseOrders), "Drafts from the latest suggestion list, one per supplier; SKUs on open orders are skipped and listed", api_from_suggestions)
            .returns::<FromSuggestions>(),
        RouteDef::get("/api/v1/stock/purchase-orders/{id}", Need::May(ViewStock), "One purchase order with its lines and receipts", api_order).returns::<PoView>(),
        RouteDef::patch("/api/v1/stock/purchase-orders/{id}", Need::May(ManagePurchaseOrders), "Change a draft (lines, supplier, notes) or a sent order (notes, expected_on)", api_edit)
            .body::<PoEdit>()
            .returns::<PoView>(),
        RouteDef::post("/api/v1/stock/purchase-orders/{id}/send", Need::May(ManagePurchaseOrders), "Send a draft to its supplier (storehub.purchase_order.sent with every line)", api_send).returns::<PoView>(),
        RouteDef::post("/api/v1/stock/purchase-orders/{id}/receive", Need::May(ReceiveGoods), "Receive one scan: a barcode, weight label or sku, 1 unit unless qty; a stock receipt with reference po-<id> (without costs for staff who may not see stock)", api_receive)
            .body::<Scan>()
            .returns::<Received>(),
        RouteDef::post("/api/v1/stock/purchase-orders/{id}/close", Need::May(ManagePurchaseOrders), "Close a received or partially received order", api_close).returns::<PoView>(),
        RouteDef::post("/api/v1/stock/purchase-orders/{id}/cancel", Need::May(ManagePurchaseOrders), "Cancel a draft, or a sent order nothing arrived on", api_cancel).returns::<PoView>(),
    ]
}

/// A list of orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoList {
    pub orders: Vec<PoView>,
}

// --- words and errors ----------------------------------------------------------------------------

fn state_text(lang: Lang, s: PoState) -> &'static str {
    let (zh, en) = s.label();
    lang.pick(zh, en)
}

fn state_badge(lang: Lang, s: PoState) -> Markup {
    let class = match s {
        PoState::Draft => "badge",
        PoState::Sent | PoState::PartiallyReceived => "badge warn",
        PoState::Received | PoState::Closed => "badge ok",
        PoState::Cancelled => "badge bad",
    };
    html! { span class=(class) data-state=(s.as_str()) { (state_text(lang, s)) } }
}

fn line_qty(l: &PoLine, n: i64) -> String {
    forms::qty(Some(if l.weighed { crate::catalog::Unit::Kg } else { crate::catalog::Unit::Piece }), n)
}

/// The refusal in Chinese (the English is the error's own message).
fn zh_of(e: &PurchaseError) -> String {
    match e {
        PurchaseError::Rule(PoRuleError::State { state, .. }) => format!("采购单当前为“{}”，不能这样操作", state.label().0),
        PurchaseError::Rule(PoRuleError::Qty(q)) => format!("数量须至少为 1，现为 {q}"),
        PurchaseError::Rule(PoRuleError::Over { sku, qty, ordered, after, over }) => {
            format!("再收 {qty} 个 {sku} 将到 {after}，超过订购数 {ordered}（多 {over}）；请重点数量，或勾选“允许超收”")
        }
        PurchaseError::Rule(PoRuleError::TooLarge(q)) => format!("数量 {q} 太大"),
        PurchaseError::UnknownOrder(id) => format!("没有采购单 {id}"),
        PurchaseError::UnknownSku { sku, .. } => format!("商品库中没有 {sku}，请核对 SKU"),
        PurchaseError::BadQty { sku, qty, .. } => format!("{sku} 的数量须至少为 1，现为 {qty}"),
        PurchaseError::BadCost { sku, cost, .. } => format!("{sku} 的单价不能为负数：{cost} 分"),
        PurchaseError::DuplicateSku { sku, .. } => format!("{sku} 在单中出现两次，每个 SKU 只写一次"),
        PurchaseError::NoLines => "采购单至少需要一行商品".into(),
        PurchaseError::TooManyLines(n) => format!("共 {n} 行，一张采购单最多 {} 行，请拆分", po::MAX_LINES),
        PurchaseError::RemoveUnknown { sku, .. } => format!("{sku} 不在此采购单中"),
        PurchaseError::BadSupplier(_) => format!("供应商须为 1–{} 个字符", po::SUPPLIER_MAX_CHARS),
        PurchaseError::BadNotes(n) => format!("备注最多 {} 个字符，现为 {n}", po::NOTES_MAX_CHARS),
        PurchaseError::NoSupplier(_) => "发送前请先填写供应商".into(),
        PurchaseError::ExpectedBeforeSent { expected, sent, .. } => format!("预计到货日 {expected} 早于发送日 {sent}"),
        PurchaseError::ExpectedOnDraft(_) => "采购单发送后才有预计到货日".into(),
        PurchaseError::NotOnOrder { code, sku, .. } => format!("条码 {code} 是 {sku}，不在此采购单中；请放在一边并核对送货单"),
        PurchaseError::UnknownCode { code, .. } => format!("条码 {code} 找不到商品，请重新扫描或输入 SKU"),
        PurchaseError::WeightWithQty(code) => format!("条码 {code} 已含重量，请不要另填数量"),
        PurchaseError::WeighedNeedsQty { sku } => format!("{sku} 按重量计（克）：请扫描称重标签，或填写收到的克数"),
        PurchaseError::NoSuggestions => "还没有补货建议：请先运行补货计算".into(),
        PurchaseError::Inventory(i) => format!("入库失败：{i}"),
        PurchaseError::Staff(s) => s.to_string(),
    }
}

/// A service refusal as a web error: 404 for an unknown order, 403 for a staff refusal, 400
/// naming the field for bad input, 409 for a state that refuses the change.
fn po_error(lang: Lang, e: CommitError<PurchaseError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let (zh, en) = (zh_of(&e), e.to_string());
    match &e {
        PurchaseError::UnknownOrder(_) => WebError::not_found(lang.pick(&zh, &en)),
        PurchaseError::Staff(StaffError::Forbidden { .. } | StaffError::Unknown(_) | StaffError::Inactive(_)) => WebError::forbidden(en),
        _ => match e.field() {
            Some(f) => field(lang, f, zh, en),
            None => refused(lang, zh, en),
        },
    }
}

/// The order id of a path; anything but a number names no order (404).
fn order_id(lang: Lang, typed: &str) -> Result<u64, WebError> {
    typed.parse::<u64>().map_err(|_| WebError::not_found(lang.pick(&format!("没有采购单 {typed}"), &format!("no purchase order {typed}"))))
}

fn filter_of(lang: Lang, typed: &Option<String>) -> Result<PoFilter, WebError> {
    match text(typed) {
        None | Some("open") => Ok(PoFilter::Open),
        Some("all") => Ok(PoFilter::All),
        Some(t) => PoState::parse(t).map(PoFilter::State).ok_or_else(|| {
            let all: Vec<&str> = PoState::ALL.iter().map(|s| s.as_str()).collect();
            field(lang, "state", format!("须为 open、all 或 {} 之一，现为“{t}”", all.join("、")), format!("expected open, all or one of {}, got {t:?}", all.join(", ")))
        }),
    }
}

// --- service calls ---------------------------------------------------------------------------------

async fn load(state: &AppState, lang: Lang, id: u64) -> Result<PurchaseOrder, WebError> {
    state
        .blocking(move |store, _| po::order(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有采购单 {id}"), &format!("no purchase order {id}")))))
        .await
}

/// Runs a purchase-order operation as `me`.
async fn run<T: Send + 'static>(
    state: &AppState,
    me: &Identity,
    f: impl FnOnce(&crate::store::Store, &crate::control::ops::Context, &str) -> Result<T, CommitError<PurchaseError>> + Send + 'static,
) -> Result<T, WebError> {
    let (lang, who) = (me.lang, me.staff.id.clone());
    state.blocking(move |store, ctx| Ok(f(store, ctx, &who).map_err(|e| po_error(lang, e)))).await?
}

async fn change(state: &AppState, me: &Identity, what: &'static str, f: impl FnOnce(&crate::store::Store, &crate::control::ops::Context, &str) -> Result<PurchaseOrder, CommitError<PurchaseError>> + Send + 'static) -> Result<PoView, WebError> {
    let o = run(state, me, f).await?;
    tracing::info!(po = o.id, by = %me.staff.id, state = o.state.as_str(), what, "purchase order changed on the web");
    Ok(PoView::of(o))
}

async fn send(state: &AppState, me: &Identity, id: u64) -> Result<PoView, WebError> {
    change(state, me, "send", move |store, ctx, by| po::send(store, id, ctx.tz, ctx.stock.lead_time_days, by)).await
}

async fn close(state: &AppState, me: &Identity, id: u64) -> Result<PoView, WebError> {
    change(state, me, "close", move |store, _, by| po::close(store, id, by)).await
}

async fn cancel(state: &AppState, me: &Identity, id: u64) -> Result<PoView, WebError> {
    change(state, me, "cancel", move |store, _, by| po::cancel(store, id, by)).await
}

async fn edit(state: &AppState, me: &Identity, id: u64, e: PoEdit) -> Result<PoView, WebError> {
    change(state, me, "edit", move |store, ctx, by| po::edit(store, id, &e, ctx.tz, by)).await
}

async fn create(state: &AppState, me: &Identity, order: NewOrder) -> Result<PoView, WebError> {
    change(state, me, "create", move |store, _, by| po::create(store, &order, by)).await
}

async fn receive(state: &AppState, me: &Identity, id: u64, scan: Scan) -> Result<Received, WebError> {
    let r = run(state, me, move |store, ctx, by| po::receive(store, id, &scan, &ctx.layouts, by)).await?;
    tracing::info!(po = id, by = %me.staff.id, sku = %r.receipt.sku, qty = r.receipt.qty, move_id = r.receipt.move_id, "goods received on the web");
    Ok(r)
}

async fn from_suggestions(state: &AppState, me: &Identity) -> Result<FromSuggestions, WebError> {
    run(state, me, |store, _, by| po::from_suggestions(store, by)).await
}

async fn list(state: &AppState, filter: PoFilter) -> Result<Vec<PoView>, WebError> {
    state.blocking(move |store, _| Ok(po::list(store, filter)?.into_iter().map(PoView::of).collect())).await
}

// --- API -------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    state: Option<String>,
    made: Option<String>,
    skipped: Option<String>,
}

async fn api_list(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<PoList>, WebError> {
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let filter = filter_of(me.lang, &q.state)?;
    Ok(Json(PoList { orders: list(&state, filter).await? }))
}

async fn api_create(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<NewOrder>) -> Result<Json<PoView>, WebError> {
    create(&state, &me, b).await.map(Json)
}

async fn api_from_suggestions(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Json<FromSuggestions>, WebError> {
    from_suggestions(&state, &me).await.map(Json)
}

async fn api_order(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<PoView>, WebError> {
    let id = order_id(me.lang, &id)?;
    Ok(Json(PoView::of(load(&state, me.lang, id).await?)))
}

async fn api_edit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<PoEdit>) -> Result<Json<PoView>, WebError> {
    let id = order_id(me.lang, &id)?;
    edit(&state, &me, id, b).await.map(Json)
}

async fn api_send(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<PoView>, WebError> {
    let id = order_id(me.lang, &id)?;
    send(&state, &me, id).await.map(Json)
}

async fn api_close(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<PoView>, WebError> {
    let id = order_id(me.lang, &id)?;
    close(&state, &me, id).await.map(Json)
}

async fn api_cancel(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<PoView>, WebError> {
    let id = order_id(me.lang, &id)?;
    cancel(&state, &me, id).await.map(Json)
}

async fn api_receive(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<Scan>) -> Result<Json<serde_json::Value>, WebError> {
    let id = order_id(me.lang, &id)?;
    let received = receive(&state, &me, id, b).await?;
    let mut answer = serde_json::to_value(&received).map_err(|e| WebError::internal(format!("receipt answer: {e}")))?;
    if !allows(me.staff.role, Action::ViewStock) {
        hide_costs(&mut answer);
    }
    Ok(Json(answer))
}

/// Staff who receive goods but may not see stock figures (cashiers) get the receipt without what
/// the goods cost: no unit costs, no order value (the receiving page shows none either).
fn hide_costs(answer: &mut serde_json::Value) {
    if let Some(order) = answer.get_mut("order").and_then(|o| o.as_object_mut()) {
        order.remove("value_fen");
        order.remove("lines_without_cost");
        if let Some(lines) = order.get_mut("lines").and_then(|l| l.as_array_mut()) {
            for line in lines.iter_mut().filter_map(|l| l.as_object_mut()) {
                line.remove("unit_cost_fen");
            }
        }
    }
    if let Some(line) = answer.get_mut("line").and_then(|l| l.as_object_mut()) {
        line.remove("unit_cost_fen");
    }
}

// --- pages -----------------------------------------------------------------------------------------

fn render(state: &AppState, me: &Identity, title: &str, body: Markup) -> Markup {
    page::render_with(state, Some(me), title, html! { (forms::styles()) (body) }, &["purchase.js"])
}

/// The "new order" form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewForm {
    supplier: Option<String>,
    lines: Option<String>,
    notes: Option<String>,
}

/// `SKU QTY` per line (also `SKU:QTY` or `SKU,QTY`); the error names the line.
fn parse_lines(lang: Lang, typed: &str) -> Result<Vec<NewPoLine>, WebError> {
    let mut out = Vec::new();
    for (i, raw) in typed.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() {
            continue;
        }
        let parts: Vec<&str> = t.split(|c: char| c.is_whitespace() || c == ',' || c == '，').filter(|p| !p.is_empty()).collect();
        let (sku, qty) = match parts.as_slice() {
            [sku, qty] => (*sku, *qty),
            [one] => match one.rsplit_once(':') {
                Some((sku, qty)) => (sku, qty),
                None => (*one, ""),
            },
            _ => ("", ""),
        };
        let qty = qty.parse::<i64>().map_err(|_| {
            field(lang, "lines", format!("第 {} 行“{t}”：请写成“SKU 数量”，如 SKU-010001 24", i + 1), format!("line {}: {t:?}: write \"SKU QTY\", e.g. SKU-010001 24", i + 1))
        })?;
        out.push(NewPoLine { sku: sku.to_string(), qty, unit_cost_fen: None });
    }
    Ok(out)
}

fn new_form(me: &Identity, f: &NewForm, error: Option<&WebError>) -> Markup {
    let lang = me.lang;
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let line_error = errors.iter().any(|(f, _)| f.starts_with("lines"));
    html! {
        details.card open[error.is_some()] {
            summary { (lang.pick("手工新建采购单", "New order by hand")) }
            (forms::form_message(error))
            form method="post" action="/stock/purchase-orders/new" {
                (forms::csrf(me))
                label data-field="supplier" { (lang.pick("供应商", "Supplier"))
                    input name="supplier" value=(v(&f.supplier)) maxlength=(po::SUPPLIER_MAX_CHARS);
                    (page::field_error(&errors, "supplier"))
                }
                label data-field="lines" { (lang.pick("商品（每行“SKU 数量”，称重商品填克数）", "Lines (one \"SKU QTY\" per line; grams for weighed goods)")) " *"
                    textarea name="lines" rows="4" required placeholder="SKU-010001 24" { (v(&f.lines)) }
                    @if line_error { @for (_, msg) in errors.iter().filter(|(f, _)| f.starts_with("lines")) { span.field-error role="alert" { (msg) } } }
                }
                label data-field="notes" { (lang.pick("备注", "Notes"))
                    textarea name="notes" rows="2" maxlength=(po::NOTES_MAX_CHARS) { (v(&f.notes)) }
                    (page::field_error(&errors, "notes"))
                }
                button type="submit" { (lang.pick("新建草稿", "Create draft")) }
            }
        }
    }
}

async fn render_list(state: &AppState, me: &Identity, q: &ListQuery, new: &NewForm, error: Option<&WebError>, status: StatusCode) -> Result<Response, WebError> {
    let lang = me.lang;
    let filter = filter_of(lang, &q.state)?;
    let orders = list(state, filter).await?;
    let may_manage = allows(me.staff.role, Action::ManagePurchaseOrders);
    let tab = |f: PoFilter, key: &str, zh: &str, en: &str| -> Markup {
        html! { @if filter == f { strong { (lang.pick(zh, en)) } } @else { a href=(forms::url("/stock/purchase-orders", &[("state", key)])) { (lang.pick(zh, en)) } } }
    };
    let tz = state.ctx.tz;
    let body = html! {
        h1 { (lang.pick("采购单", "Purchase orders")) }
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/purchase-orders"))
        @if let Some(made) = text(&q.made) {
            p.flash role="status" {
                (lang.pick("已从补货建议生成草稿：", "Drafts made from the suggestions: ")) strong { (made) }
                @if let Some(s) = text(&q.skipped).filter(|s| *s != "0") { (lang.pick("；已在未完成采购单中而跳过的 SKU：", "; SKUs skipped (already on an open order): ")) strong { (s) } }
            }
        }
        (forms::form_message(error))
        nav.toolbar {
            (tab(PoFilter::Open, "open", "未完成", "Open")) " · "
            @for s in PoState::ALL { (tab(PoFilter::State(s), s.as_str(), s.label().0, s.label().1)) " · " }
            (tab(PoFilter::All, "all", "全部", "All"))
        }
        p { a href="/stock/purchase-orders/receiving" { (lang.pick("收货（待收货的采购单）", "Receiving (orders waiting for goods)")) } }
        @if may_manage {
            form.toolbar method="post" action="/stock/purchase-orders/from-suggestions" {
                (forms::csrf(me))
                button type="submit" { (lang.pick("从补货建议生成采购单", "Create from suggestions")) }
                span.muted { (lang.pick("按供应商各生成一张草稿；已在未完成采购单中的 SKU 会跳过。", "One draft per supplier; SKUs already on an open order are skipped.")) }
            }
        }
        @if orders.is_empty() {
            p.muted { (lang.pick("没有采购单。", "No purchase orders.")) }
        } @else {
            table #po-list {
                thead { tr {
                    th { (lang.pick("单号", "Order")) } th { (lang.pick("供应商", "Supplier")) } th { (lang.pick("状态", "State")) }
                    th.num { (lang.pick("行数", "Lines")) } th.num { (lang.pick("金额", "Value")) } th { (lang.pick("创建", "Created")) } th { (lang.pick("预计到货", "Expected")) }
                } }
                tbody {
                    @for v in &orders {
                        @let o = &v.order;
                        tr data-po=(o.id) {
                            td { a href=(format!("/stock/purchase-orders/{}", o.id)) { "#" (o.id) } }
                            td { @match &o.supplier { Some(s) => (s), None => span.warn { (lang.pick("（未填供应商）", "(no supplier)")) } } }
                            td { (state_badge(lang, o.state)) }
                            td.num { (o.lines.len()) }
                            td.num { (yuan(v.value_fen)) @if v.lines_without_cost > 0 { " " span.muted title=(lang.pick("有商品没有成本价", "some lines have no cost")) { "*" } } }
                            td { (forms::local_time(o.created_at, tz)) }
                            td { (o.expected_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
        }
        @if may_manage { (new_form(me, new, error.filter(|e| e.field.is_some()))) }
    };
    Ok((status, render(state, me, lang.pick("采购单", "Purchase orders"), body)).into_response())
}

async fn list_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    render_list(&state, &me, &q, &NewForm::default(), None, StatusCode::OK).await
}

/// A form's refusal shown on the page (4xx), or passed on (5xx, 404, 403).
fn shown(e: &WebError) -> bool {
    !matches!(e.status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND | StatusCode::FORBIDDEN)
}

async fn new_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: NewForm = forms::parse_pairs(&body)?;
    let result = async {
        let lines = parse_lines(me.lang, f.lines.as_deref().unwrap_or_default())?;
        create(&state, &me, NewOrder { supplier: text(&f.supplier).map(str::to_string), lines, notes: f.notes.clone() }).await
    }
    .await;
    match result {
        Ok(v) => Ok(Redirect::to(&format!("/stock/purchase-orders/{}", v.order.id)).into_response()),
        Err(e) if shown(&e) => render_list(&state, &me, &ListQuery::default(), &f, Some(&e), e.status).await,
        Err(e) => Err(e),
    }
}

async fn from_suggestions_submit(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    match from_suggestions(&state, &me).await {
        Ok(r) => Ok(Redirect::to(&format!("/stock/purchase-orders?made={}&skipped={}", r.created.len(), r.skipped.len())).into_response()),
        Err(e) if shown(&e) => render_list(&state, &me, &ListQuery::default(), &NewForm::default(), Some(&e), e.status).await,
        Err(e) => Err(e),
    }
}

fn facts(lang: Lang, tz: chrono_tz::Tz, v: &PoView) -> Markup {
    let o = &v.order;
    html! {
        dl.facts {
            dt { (lang.pick("供应商", "Supplier")) } dd { @match &o.supplier { Some(s) => (s), None => span.warn { (lang.pick("未填写（发送前必填）", "none (needed before sending)")) } } }
            dt { (lang.pick("状态", "State")) } dd #po-state { (state_badge(lang, o.state)) }
            dt { (lang.pick("金额", "Value")) } dd { (yuan(v.value_fen)) @if v.lines_without_cost > 0 { " " span.muted { "(" (v.lines_without_cost) (lang.pick(" 行无成本价", " lines without cost")) ")" } } }
            dt { (lang.pick("创建", "Created")) } dd { (forms::local_time(o.created_at, tz)) " · " (o.created_by) @if o.from_suggestions { " · " (lang.pick("来自补货建议", "from suggestions")) } }
            @if let Some(at) = o.sent_at { dt { (lang.pick("发送", "Sent")) } dd { (forms::local_time(at, tz)) " · " (o.sent_by.clone().unwrap_or_default()) } }
            dt { (lang.pick("预计到货", "Expected")) } dd { (o.expected_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
            @if let Some(at) = o.closed_at { dt { (lang.pick("结束", "Ended")) } dd { (forms::local_time(at, tz)) " · " (o.closed_by.clone().unwrap_or_default()) } }
            @if !o.notes.is_empty() { dt { (lang.pick("备注", "Notes")) } dd style="white-space:pre-wrap" { (o.notes) } }
        }
    }
}

fn lines_table(lang: Lang, o: &PurchaseOrder, editable: bool, costs: bool) -> Markup {
    html! {
        table #po-lines {
            thead { tr {
                th { "SKU" } th { (lang.pick("名称", "Name")) } th.num { (lang.pick("订购", "Ordered")) } th.num { (lang.pick("已收", "Received")) }
                th.num { (lang.pick("未到", "Outstanding")) }
                @if costs { th.num { (lang.pick("单价", "Unit cost")) } th.num { (lang.pick("金额", "Value")) } }
            } }
            tbody {
                @for (i, l) in o.lines.iter().enumerate() {
                    tr data-sku=(l.sku) data-weighed=(l.weighed) .done[l.received >= l.ordered] {
                        td { (l.sku) }
                        td { (lang.pick(&l.name_zh, &l.name_en)) }
                        td.num {
                            @if editable {
                                input type="hidden" name=(format!("sku_{i}")) value=(l.sku);
                                input.qty type="number" name=(format!("qty_{i}")) value=(l.ordered) min="0" step="1" aria-label=(lang.pick("订购数量（0 删除）", "Quantity (0 removes)"));
                            } @else { (line_qty(l, l.ordered)) }
                        }
                        td.num.received { (line_qty(l, l.received)) }
                        td.num.outstanding { (line_qty(l, l.outstanding())) }
                        @if costs {
                            td.num { (l.unit_cost_fen.map(yuan).unwrap_or_else(|| "—".into())) @if l.weighed && l.unit_cost_fen.is_some() { span.muted { "/kg" } } }
                            td.num { (yuan(l.value_fen())) }
                        }
                    }
                }
            }
        }
    }
}

fn receive_box(me: &Identity, o: &PurchaseOrder, error: Option<&WebError>) -> Markup {
    let lang = me.lang;
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let labels: serde_json::Map<String, serde_json::Value> = PoState::ALL.iter().map(|s| (s.as_str().to_string(), state_text(lang, *s).into())).collect();
    html! {
        section.card #po-receive-card {
            h2 { (lang.pick("扫码收货", "Receive by scanning")) }
            p.muted { (lang.pick("用扫码枪扫描商品条码（每扫一次记 1 件，可先填数量）；称重商品扫描称重标签。", "Scan each item's barcode (1 unit per scan unless a quantity is typed first); weighed goods: scan the weight label.")) }
            form #po-receive method="post" action=(format!("/stock/purchase-orders/{}/receive", o.id))
                data-api=(format!("/api/v1/stock/purchase-orders/{}/receive", o.id)) data-states=(serde_json::Value::Object(labels).to_string()) {
                (forms::csrf(me))
                label data-field="code" { (lang.pick("条码 / SKU", "Barcode / sku"))
                    input #po-scan name="code" autocomplete="off" autofocus required inputmode="numeric";
                    (page::field_error(&errors, "code"))
                }
                p #po-notice .notice role="status" aria-live="polite" { @if let Some(e) = error.filter(|e| e.field.is_none()) { span.error { (e.message) } } }
                label data-field="qty" { (lang.pick("数量（可选）", "Quantity (optional)"))
                    input #po-qty name="qty" type="number" min="1" step="1";
                    (page::field_error(&errors, "qty"))
                }
                label.check { input #po-over type="checkbox" name="allow_over" value="true"; " " (lang.pick("允许超收", "Allow over-receipt")) }
                button type="submit" { (lang.pick("收货", "Receive")) }
            }
        }
    }
}

fn order_body(state: &AppState, me: &Identity, v: &PoView, error: Option<(&str, &WebError)>, received_flash: bool) -> Markup {
    let lang = me.lang;
    let tz = state.ctx.tz;
    let o = &v.order;
    let may_manage = allows(me.staff.role, Action::ManagePurchaseOrders);
    let may_receive = allows(me.staff.role, Action::ReceiveGoods) && o.state.is_on_order();
    let draft_edit = may_manage && o.state == PoState::Draft;
    let err_for = |form: &str| error.filter(|(f, _)| *f == form).map(|(_, e)| e);
    let errors_for = |form: &str| err_for(form).map(forms::errors_of).unwrap_or_default();
    let nothing_received = o.receipts_total == 0 && o.lines.iter().all(|l| l.received == 0);
    html! {
        h1 { (lang.pick("采购单", "Purchase order")) " #" (o.id) @if let Some(s) = &o.supplier { " · " (s) } }
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/purchase-orders"))
        p {
            a href="/stock/purchase-orders" { "‹ " (lang.pick("采购单列表", "Purchase orders")) }
            @if may_receive { " · " a href=(format!("/stock/purchase-orders/{}/receive", o.id)) { (lang.pick("收货页面", "Receiving page")) } }
        }
        @if received_flash { p.flash role="status" { (lang.pick("已收货。", "Received.")) } }
        @if let Some(e) = err_for("actions") { (forms::form_message(Some(e))) }
        div.grid {
            div.card { h2 { (lang.pick("概况", "Summary")) } (facts(lang, tz, v)) }
            @if may_receive { (receive_box(me, o, err_for("receive"))) }
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("商品", "Lines")) " " span.muted { "(" (o.lines.len()) ")" } }
            @if draft_edit {
                (forms::form_message(err_for("edit")))
                form method="post" action=(format!("/stock/purchase-orders/{}/edit", o.id)) {
                    (forms::csrf(me))
                    (lines_table(lang, o, true, true))
                    @let errors = errors_for("edit");
                    @for (_, msg) in errors.iter().filter(|(f, _)| f.starts_with("lines")) { p.field-error role="alert" { (msg) } }
                    div.grid {
                        label data-field="add_sku" { (lang.pick("添加商品 SKU", "Add sku")) input name="add_sku"; }
                        label data-field="add_qty" { (lang.pick("数量", "Quantity")) input name="add_qty" type="number" min="1" step="1"; }
                    }
                    label data-field="supplier" { (lang.pick("供应商", "Supplier"))
                        input name="supplier" value=(o.supplier.clone().unwrap_or_default()) maxlength=(po::SUPPLIER_MAX_CHARS);
                        (page::field_error(&errors, "supplier"))
                    }
                    label data-field="notes" { (lang.pick("备注", "Notes"))
                        textarea name="notes" rows="2" maxlength=(po::NOTES_MAX_CHARS) { (o.notes) }
                        (page::field_error(&errors, "notes"))
                    }
                    button type="submit" { (lang.pick("保存修改（数量填 0 删除该行）", "Save (quantity 0 removes a line)")) }
                }
            } @else {
                (lines_table(lang, o, false, true))
            }
        }
        @if may_manage && o.state.is_on_order() {
            section.card style="margin-top:.8rem" {
                h2 { (lang.pick("备注与预计到货", "Notes and expected day")) }
                (forms::form_message(err_for("edit")))
                @let errors = errors_for("edit");
                form method="post" action=(format!("/stock/purchase-orders/{}/edit", o.id)) {
                    (forms::csrf(me))
                    label data-field="expected_on" { (lang.pick("预计到货日", "Expected on"))
                        input type="date" name="expected_on" value=(o.expected_on.map(|d| d.to_string()).unwrap_or_default());
                        (page::field_error(&errors, "expected_on"))
                    }
                    label data-field="notes" { (lang.pick("备注", "Notes"))
                        textarea name="notes" rows="2" maxlength=(po::NOTES_MAX_CHARS) { (o.notes) }
                        (page::field_error(&errors, "notes"))
                    }
                    button type="submit" { (lang.pick("保存", "Save")) }
                }
            }
        }
        @if may_manage {
            div.toolbar style="margin-top:.8rem" {
                @if o.state == PoState::Draft {
                    form.inline method="post" action=(format!("/stock/purchase-orders/{}/send", o.id)) { (forms::csrf(me)) button type="submit" { (lang.pick("发送给供应商", "Send to supplier")) } }
                }
                @if matches!(o.state, PoState::PartiallyReceived | PoState::Received) {
                    form.inline method="post" action=(format!("/stock/purchase-orders/{}/close", o.id)) { (forms::csrf(me)) button type="submit" { (lang.pick("关闭采购单", "Close order")) } }
                }
                @if o.state == PoState::Draft || (o.state == PoState::Sent && nothing_received) {
                    form.inline method="post" action=(format!("/stock/purchase-orders/{}/cancel", o.id)) { (forms::csrf(me)) button.secondary type="submit" { (lang.pick("取消采购单", "Cancel order")) } }
                }
            }
        }
        @if !o.receipts.is_empty() {
            section.card style="margin-top:.8rem" {
                h2 { (lang.pick("收货记录", "Receipts")) " " span.muted { "(" (o.receipts_total) ")" } }
                table {
                    thead { tr { th { (lang.pick("时间", "Time")) } th { "SKU" } th.num { (lang.pick("数量", "Qty")) } th { (lang.pick("条码", "Code")) } th { (lang.pick("收货人", "By")) } th { (lang.pick("流水号", "Move")) } } }
                    tbody {
                        @for r in o.receipts.iter().rev().take(RECEIPTS_SHOWN) {
                            tr {
                                td { (forms::local_time(r.at, tz)) } td { (r.sku) } td.num { (r.qty) } td { (r.code) } td { (r.by) }
                                td { a href=(forms::url("/stock/moves", &[("sku", &r.sku)])) { "#" (r.move_id) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render_order(state: &AppState, me: &Identity, id: u64, error: Option<(&str, &WebError)>, status: StatusCode, flash: bool) -> Result<Response, WebError> {
    let v = PoView::of(load(state, me.lang, id).await?);
    let title = format!("{} #{id}", me.lang.pick("采购单", "Purchase order"));
    Ok((status, render(state, me, &title, order_body(state, me, &v, error, flash))).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    received: Option<String>,
}

async fn order_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let q: PageQuery = forms::parse_query(raw.as_deref())?;
    render_order(&state, &me, id, None, StatusCode::OK, q.received.is_some()).await
}

/// A form's answer: back to the order, or the order's page with the error next to `form`.
async fn after_form<T>(state: &AppState, me: &Identity, id: u64, form: &str, result: Result<T, WebError>, back: &str) -> Result<Response, WebError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/stock/purchase-orders/{id}{back}")).into_response()),
        Err(e) if shown(&e) => render_order(state, me, id, Some((form, &e)), e.status, false).await,
        Err(e) => Err(e),
    }
}

/// The edit form as typed: `sku_N`/`qty_N` per line, `add_sku`/`add_qty`, supplier, notes,
/// expected_on. Only what differs from the order becomes part of the change.
fn edit_of(lang: Lang, o: &PurchaseOrder, pairs: &[(String, String)]) -> Result<PoEdit, WebError> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
    let mut e = PoEdit::default();
    for (i, l) in o.lines.iter().enumerate() {
        if let (Some(sku), Some(q)) = (get(&format!("sku_{i}")), get(&format!("qty_{i}"))) {
            let qty = forms::int(lang, &format!("lines[{i}].qty"), &q)?;
            if sku == l.sku && qty != l.ordered {
                e.lines.push(NewPoLine { sku, qty, unit_cost_fen: None });
            }
        }
    }
    if let Some(sku) = get("add_sku").filter(|s| !s.is_empty()) {
        let qty = forms::int(lang, "add_qty", &get("add_qty").unwrap_or_default())?;
        e.lines.push(NewPoLine { sku, qty, unit_cost_fen: None });
    }
    if let Some(s) = get("supplier") {
        if Some(s.as_str()) != o.supplier.as_deref() && !(s.is_empty() && o.supplier.is_none()) {
            e.supplier = Some(s);
        }
    }
    if let Some(n) = get("notes").filter(|n| *n != o.notes) {
        e.notes = Some(n);
    }
    if let Some(d) = get("expected_on").filter(|d| !d.is_empty()) {
        let day = chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .map_err(|_| field(lang, "expected_on", format!("“{d}”不是日期，请写成 2026-12-01"), format!("{d:?} is not a date; write e.g. 2026-12-01")))?;
        if Some(day) != o.expected_on {
            e.expected_on = Some(day);
        }
    }
    Ok(e)
}

async fn edit_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let pairs: Vec<(String, String)> = forms::parse_pairs(&body)?;
    let o = load(&state, me.lang, id).await?;
    let result = async {
        let e = edit_of(me.lang, &o, &pairs)?;
        if e == PoEdit::default() {
            return Ok(PoView::of(o.clone()));
        }
        edit(&state, &me, id, e).await
    }
    .await;
    after_form(&state, &me, id, "edit", result, "").await
}

async fn send_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let result = send(&state, &me, id).await;
    after_form(&state, &me, id, "actions", result, "").await
}

async fn close_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let result = close(&state, &me, id).await;
    after_form(&state, &me, id, "actions", result, "").await
}

async fn cancel_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let result = cancel(&state, &me, id).await;
    after_form(&state, &me, id, "actions", result, "").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReceiveForm {
    code: Option<String>,
    qty: Option<String>,
    allow_over: Option<String>,
}

async fn receive_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let f: ReceiveForm = forms::parse_pairs(&body)?;
    let result = async {
        let qty = forms::opt_int(me.lang, "qty", &f.qty)?;
        receive(&state, &me, id, Scan { code: f.code.clone().unwrap_or_default(), qty, allow_over: ticked(&f.allow_over) }).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/stock/purchase-orders/{id}/receive?received=1")).into_response()),
        Err(e) if shown(&e) => render_receive(&state, &me, id, Some(&e), e.status, false).await,
        Err(e) => Err(e),
    }
}

/// The receiving pages' header: the way back to the orders waiting for goods.
fn receiving_nav(lang: Lang, me: &Identity) -> Markup {
    html! {
        p {
            a href="/stock/purchase-orders/receiving" { "‹ " (lang.pick("待收货的采购单", "Orders waiting for goods")) }
            @if allows(me.staff.role, Action::ViewStock) { " · " a href="/stock/purchase-orders" { (lang.pick("全部采购单", "All purchase orders")) } }
        }
    }
}

async fn receiving_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let lang = me.lang;
    let mut orders = list(&state, PoFilter::Open).await?;
    orders.retain(|v| v.order.state.is_on_order());
    let body = html! {
        h1 { (lang.pick("收货", "Receiving")) }
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/purchase-orders/receiving"))
        @if orders.is_empty() {
            p.muted { (lang.pick("没有待收货的采购单。", "No order is waiting for goods.")) }
        } @else {
            table #po-receiving {
                thead { tr { th { (lang.pick("单号", "Order")) } th { (lang.pick("供应商", "Supplier")) } th { (lang.pick("状态", "State")) } th.num { (lang.pick("行数", "Lines")) } th { (lang.pick("预计到货", "Expected")) } } }
                tbody {
                    @for v in &orders {
                        @let o = &v.order;
                        tr data-po=(o.id) {
                            td { a href=(format!("/stock/purchase-orders/{}/receive", o.id)) { "#" (o.id) } }
                            td { (o.supplier.clone().unwrap_or_default()) }
                            td { (state_badge(lang, o.state)) }
                            td.num { (o.lines.len()) }
                            td { (o.expected_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
                        }
                    }
                }
            }
        }
    };
    Ok(render(&state, &me, lang.pick("收货", "Receiving"), body).into_response())
}

async fn render_receive(state: &AppState, me: &Identity, id: u64, error: Option<&WebError>, status: StatusCode, flash: bool) -> Result<Response, WebError> {
    let lang = me.lang;
    let o = load(state, lang, id).await?;
    let title = format!("{} #{id}", lang.pick("收货", "Receiving"));
    let body = html! {
        h1 { (title) @if let Some(s) = &o.supplier { " · " (s) } }
        (receiving_nav(lang, me))
        @if flash { p.flash role="status" { (lang.pick("已收货。", "Received.")) } }
        dl.facts {
            dt { (lang.pick("状态", "State")) } dd #po-state { (state_badge(lang, o.state)) }
            dt { (lang.pick("预计到货", "Expected")) } dd { (o.expected_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into())) }
        }
        @if o.state.is_on_order() {
            (receive_box(me, &o, error))
        } @else {
            p.muted { (lang.pick("这张采购单不在待收货状态。", "This order is not waiting for goods.")) }
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("商品", "Lines")) }
            (lines_table(lang, &o, false, false))
        }
    };
    Ok((status, render(state, me, &title, body)).into_response())
}

async fn receive_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let id = order_id(me.lang, &id)?;
    let q: PageQuery = forms::parse_query(raw.as_deref())?;
    render_receive(&state, &me, id, None, StatusCode::OK, q.received.is_some()).await
}
