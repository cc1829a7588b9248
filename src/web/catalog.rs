//! The catalog (商品) on the LAN: the product list with search and category filter, a product's
//! page (with its stock on hand and recent moves), the product form (EditCatalog; prices typed
//! in yuan, stored in exact fen), and `/api/v1/products`, including the lanes' barcode lookup.
//!
//! The rules are `catalog`'s: `check_product` for every field, the barcode index for codes that
//! already belong to another product, `catalog::lookup` for decoding a scanned code exactly as a
//! lane does. `GET /api/v1/products/{code}` is the hot path (load-tested with wrk): three point
//! reads on the request's own thread, no blocking-pool hop (docs/web.md says why).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, field, text, ticked};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::catalog::csv::{MAX_BARCODES, MAX_CATEGORY_CHARS, MAX_NAME_CHARS, MAX_SUPPLIER_CHARS};
use crate::catalog::{self, CatalogError, Product, Unit};
use crate::domain::barcode::Barcode;
use crate::domain::staff::{allows, Action};
use crate::store::CommitError;

/// Moves shown on a product's page, and how many of the newest moves are searched for them.
const PRODUCT_MOVES: usize = 20;
const PRODUCT_MOVES_SCANNED: usize = 20_000;

pub fn routes() -> Vec<RouteDef> {
    use Action::{EditCatalog, ViewCatalog};
    vec![
        RouteDef::get("/products", Need::May(ViewCatalog), "Product list: search by name, sku or barcode, filter by category", list_page),
        RouteDef::get("/products/new", Need::May(EditCatalog), "New product: the form", new_page),
        RouteDef::post("/products/new", Need::May(EditCatalog), "New product (form)", new_submit),
        RouteDef::get("/products/{sku}", Need::May(ViewCatalog), "A product with its stock on hand and recent moves", product_page),
        RouteDef::get("/products/{sku}/edit", Need::May(EditCatalog), "Edit a product: the form", edit_page),
        RouteDef::post("/products/{sku}/edit", Need::May(EditCatalog), "Edit a product (form)", edit_submit),
        RouteDef::get("/api/v1/products", Need::May(ViewCatalog), "Products: ?q= (name, sku start, barcode) &category= &limit= &offset=", api_list).returns::<ProductList>(),
        RouteDef::post("/api/v1/products", Need::May(EditCatalog), "Create a product", api_create).body::<ProductBody>().returns::<ProductJson>(),
        RouteDef::get(
            "/api/v1/products/{code}",
            Need::May(ViewCatalog),
            "Look up a scanned code as a lane does (EAN-13/8, UPC-A, PLU, price- or weight-embedded label) with stock on hand",
            api_lookup,
        )
        .returns::<LookupJson>(),
        RouteDef::put("/api/v1/products/{code}", Need::May(EditCatalog), "Change the product whose sku is {code}; fields left out stay", api_update)
            .body::<ProductPatch>()
            .returns::<ProductJson>(),
    ]
}

// --- JSON ------------------------------------------------------------------------------------------

/// A product. Money in fen; `reorder_point` in pieces, or grams for `kg` goods.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductJson {
    pub sku: String,
    pub barcodes: Vec<String>,
    pub name_zh: String,
    pub name_en: String,
    pub category: String,
    /// `piece` or `kg` (weighed, priced per kg, stocked in grams).
    pub unit: String,
    pub price_fen: i64,
    pub member_price_fen: Option<i64>,
    pub cost_fen: Option<i64>,
    pub tax_bp: u32,
    pub supplier: Option<String>,
    pub reorder_point: Option<i64>,
    pub active: bool,
}

impl From<&Product> for ProductJson {
    fn from(p: &Product) -> ProductJson {
        ProductJson {
            sku: p.sku.clone(),
            barcodes: p.barcodes.clone(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
            category: p.category.clone(),
            unit: p.unit.as_str().to_string(),
            price_fen: p.price_fen,
            member_price_fen: p.member_price_fen,
            cost_fen: p.cost_fen,
            tax_bp: p.tax_bp,
            supplier: p.supplier.clone(),
            reorder_point: p.reorder_point,
            active: p.active,
        }
    }
}

/// A page of products.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductJson>,
    /// Products matching, all pages together.
    pub total: usize,
}

/// A scanned code as decoded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BarcodeJson {
    /// `ean13`, `ean8`, `upca`, `price_embedded`, `weight_embedded`.
    pub kind: &'static str,
    /// The code as scanned.
    pub gtin: String,
    /// The scale PLU item code of an in-store label.
    pub item_code: Option<String>,
    /// The price printed into a price-embedded label, fen.
    pub price_fen: Option<i64>,
    /// The weight printed into a weight-embedded label, grams.
    pub weight_g: Option<i64>,
}

impl From<&Barcode> for BarcodeJson {
    fn from(b: &Barcode) -> BarcodeJson {
        let (kind, item_code, price_fen, weight_g) = match b {
            Barcode::Ean13 { .. } => ("ean13", None, None, None),
            Barcode::Ean8 { .. } => ("ean8", None, None, None),
            Barcode::Upca { .. } => ("upca", None, None, None),
            Barcode::PriceEmbedded { item_code, price_fen, .. } => ("price_embedded", Some(item_code.clone()), Some(*price_fen), None),
            Barcode::WeightEmbedded { item_code, weight_g, .. } => ("weight_embedded", Some(item_code.clone()), None, Some(*weight_g)),
        };
        BarcodeJson { kind, gtin: b.gtin().to_string(), item_code, price_fen, weight_g }
    }
}

/// What a code finds: the decoded code, the product and its stock on hand.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LookupJson {
    pub barcode: BarcodeJson,
    pub product: ProductJson,
    /// Pieces, or grams for `kg` goods.
    pub on_hand: i64,
}

/// A new product. Money in integer fen.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    pub sku: String,
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
    pub category: String,
    /// `piece` or `kg`.
    pub unit: String,
    pub price_fen: i64,
    #[serde(default)]
    pub member_price_fen: Option<i64>,
    #[serde(default)]
    pub cost_fen: Option<i64>,
    /// VAT in basis points (1300 = 13%).
    pub tax_bp: u32,
    #[serde(default)]
    pub barcodes: Vec<String>,
    #[serde(default)]
    pub supplier: Option<String>,
    #[serde(default)]
    pub reorder_point: Option<i64>,
    /// Default true.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A change of product: fields given replace the stored ones, fields left out stay; `clear`
/// empties optional ones. The sku is the path's.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub category: Option<String>,
    pub unit: Option<String>,
    pub price_fen: Option<i64>,
    pub member_price_fen: Option<i64>,
    pub cost_fen: Option<i64>,
    pub tax_bp: Option<u32>,
    pub barcodes: Option<Vec<String>>,
    pub supplier: Option<String>,
    pub reorder_point: Option<i64>,
    pub active: Option<bool>,
    /// Optional fields to empty: `member_price_fen`, `cost_fen`, `supplier`, `reorder_point`.
    #[serde(default)]
    pub clear: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    page: Option<String>,
}

// --- rules of display and refusals -----------------------------------------------------------------

fn unit_text(lang: Lang, u: Unit) -> &'static str {
    match u {
        Unit::Piece => lang.pick("件", "piece"),
        Unit::Kg => lang.pick("千克（称重）", "kg (weighed)"),
    }
}

fn parse_unit(lang: Lang, typed: &str) -> Result<Unit, WebError> {
    match typed.trim().to_ascii_lowercase().as_str() {
        "piece" => Ok(Unit::Piece),
        "kg" => Ok(Unit::Kg),
        other => Err(field(lang, "unit", format!("单位须为 piece（件）或 kg（称重），现为“{other}”"), format!("expected piece or kg, got {other:?}"))),
    }
}

/// The rule a field of `check_product` broke, in Chinese.
fn product_rule_zh(field: &str) -> String {
    let base = field.split('[').next().unwrap_or(field);
    match base {
        "sku" => "SKU 必填：1–64 个字符，不含空格或控制字符".into(),
        "name_zh" => format!("中文名必填：最多 {MAX_NAME_CHARS} 个字符，首尾无空格，不含控制字符"),
        "name_en" => format!("英文名最多 {MAX_NAME_CHARS} 个字符，首尾无空格，不含控制字符"),
        "category" => format!("分类必填：最多 {MAX_CATEGORY_CHARS} 个字符，首尾无空格"),
        "supplier" => format!("供应商最多 {MAX_SUPPLIER_CHARS} 个字符，首尾无空格"),
        "price_fen" => "价格须在 ¥0.00 到 ¥999,999.99 之间".into(),
        "member_price_fen" => "会员价须在 ¥0.00 到 ¥999,999.99 之间，且不高于价格".into(),
        "cost_fen" => "成本须在 ¥0.00 到 ¥999,999.99 之间".into(),
        "tax_bp" => "税率须在 0% 到 100% 之间".into(),
        "reorder_point" => "补货点须在 0 到 1,000,000,000 之间（件；称重商品按克）".into(),
        "barcodes" => format!("条码须为校验位正确的 GTIN（8、12 或 13 位）或 4–7 位秤 PLU 码，不重复，最多 {MAX_BARCODES} 个"),
        _ => "不符合规则".into(),
    }
}

/// The name of an API field on the product form.
fn form_field(api_field: &str) -> &str {
    match api_field.split('[').next().unwrap_or(api_field) {
        "price_fen" => "price",
        "member_price_fen" => "member_price",
        "cost_fen" => "cost",
        "tax_bp" => "tax",
        "barcodes" => "barcodes",
        _ => api_field,
    }
}

/// A catalog service's refusal as a web error naming the field (API names; the form renames).
fn catalog_error(lang: Lang, e: CommitError<CatalogError>, barcodes: &[String]) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let en = e.to_string();
    let at = |code: &str| barcodes.iter().position(|b| b == code).map_or_else(|| "barcodes".to_string(), |i| format!("barcodes[{i}]"));
    match &e {
        CatalogError::Invalid(fe) => field(lang, fe.field.clone(), format!("{}（{}）", product_rule_zh(&fe.field), fe.message), fe.message.clone()),
        CatalogError::SkuExists(sku) => field(lang, "sku", format!("SKU {sku} 已存在"), en),
        CatalogError::BarcodeTaken { code, owner, .. } => field(lang, at(code), format!("条码 {code} 已属于商品 {owner}"), en),
        CatalogError::Barcode { code, source } => field(lang, at(code), format!("{}（{code}: {source}）", product_rule_zh("barcodes")), en),
        CatalogError::UnknownSku(sku) => WebError::not_found(lang.pick(&format!("没有商品 {sku}"), &en)),
        CatalogError::UnknownBarcode(code) => WebError::not_found(lang.pick(&format!("没有商品使用条码 {code}"), &en)),
        CatalogError::Store(_) => WebError::internal(en),
    }
}

// --- API -------------------------------------------------------------------------------------------

async fn api_list(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<ProductList>, WebError> {
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let limit = forms::limit(me.lang, &q.limit, 50)?;
    let offset = forms::offset(me.lang, &q.offset)?;
    let (query, category) = (q.q.unwrap_or_default(), text(&q.category).map(str::to_string));
    state
        .blocking(move |store, _| {
            let page = catalog::browse(store, &query, category.as_deref(), offset, limit)?;
            Ok(Json(ProductList { products: page.products.iter().map(ProductJson::from).collect(), total: page.total }))
        })
        .await
}

/// The lanes' lookup. Three point reads (barcode index, product, stock level) run here, on the
/// request's thread: `Store::get` of keys no queued commit touches never waits, and a read of a
/// key a commit is writing waits at most for that commit's sync. Measured with wrk on the
/// 2-core box (release, demo catalog, 32 connections): ~67k req/s here against ~40k with the
/// work moved to `spawn_blocking`, p99 ~2 ms either way, also under 50 simulated sales/s
/// (docs/web.md).
async fn api_lookup(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(code): Path<String>) -> Result<Json<LookupJson>, WebError> {
    let lang = me.lang;
    let code = code.trim();
    let found = catalog::lookup(&state.store, code, &state.ctx.layouts).map_err(|e| match e {
        CatalogError::Barcode { code, source } => field(lang, "code", format!("“{code}”不是有效条码：{source}"), format!("{code:?} is not a valid code: {source}")),
        other => WebError::internal(other.to_string()),
    })?;
    let Some((barcode, product)) = found else {
        return Err(WebError::not_found(lang.pick(&format!("没有商品使用条码 {code}"), &format!("no product has code {code}"))));
    };
    let on_hand = crate::inventory::on_hand(&state.store, &product.sku)?;
    Ok(Json(LookupJson { barcode: BarcodeJson::from(&barcode), product: ProductJson::from(&product), on_hand }))
}

/// A product from the API's body, checked field by field (the rest by `check_product`).
fn product_of_body(lang: Lang, b: ProductBody) -> Result<Product, WebError> {
    Ok(Product {
        unit: parse_unit(lang, &b.unit)?,
        sku: b.sku.trim().to_string(),
        barcodes: b.barcodes.iter().map(|c| c.trim().to_string()).collect(),
        name_zh: b.name_zh,
        name_en: b.name_en,
        category: b.category,
        price_fen: b.price_fen,
        member_price_fen: b.member_price_fen,
        cost_fen: b.cost_fen,
        tax_bp: b.tax_bp,
        supplier: b.supplier.filter(|s| !s.trim().is_empty()),
        reorder_point: b.reorder_point,
        active: b.active.unwrap_or(true),
    })
}

async fn save(state: &AppState, me: &Identity, p: Product, new: bool) -> Result<Product, WebError> {
    let lang = me.lang;
    let who = me.staff.id.clone();
    let saved = state
        .blocking(move |store, _| {
            let done = if new { catalog::create_product(store, &p).map(|_| ()) } else { catalog::update_product(store, &p).map(|_| ()) };
            Ok(done.map(|_| p.clone()).map_err(|e| catalog_error(lang, e, &p.barcodes)))
        })
        .await??;
    tracing::info!(sku = %saved.sku, by = %who, new, "product saved on the web");
    Ok(saved)
}

async fn api_create(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<ProductBody>) -> Result<Json<ProductJson>, WebError> {
    let p = product_of_body(me.lang, b)?;
    let saved = save(&state, &me, p, true).await?;
    Ok(Json(ProductJson::from(&saved)))
}

async fn load(state: &AppState, lang: Lang, sku: String) -> Result<Product, WebError> {
    state
        .blocking(move |store, _| catalog::product(store, &sku)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有商品 {sku}"), &format!("no product with sku {sku}")))))
        .await
}

async fn api_update(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(sku): Path<String>, JsonBody(b): JsonBody<ProductPatch>) -> Result<Json<ProductJson>, WebError> {
    let lang = me.lang;
    let mut p = load(&state, lang, sku).await?;
    for (i, name) in b.clear.iter().enumerate() {
        match name.as_str() {
            "member_price_fen" => p.member_price_fen = None,
            "cost_fen" => p.cost_fen = None,
            "supplier" => p.supplier = None,
            "reorder_point" => p.reorder_point = None,
            other => {
                return Err(field(
                    lang,
                    format!("clear[{i}]"),
                    format!("只能清空 member_price_fen、cost_fen、supplier、reorder_point，现为“{other}”"),
                    format!("only member_price_fen, cost_fen, supplier and reorder_point can be cleared, got {other:?}"),
                ))
            }
        }
    }
    if let Some(u) = &b.unit {
        p.unit = parse_unit(lang, u)?;
    }
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = b.$f { p.$f = v; } )* };
    }
    set!(name_zh, name_en, category, price_fen, tax_bp, active);
    if let Some(v) = b.barcodes {
        p.barcodes = v.iter().map(|c| c.trim().to_string()).collect();
    }
    if b.member_price_fen.is_some() {
        p.member_price_fen = b.member_price_fen;
    }
    if b.cost_fen.is_some() {
        p.cost_fen = b.cost_fen;
    }
    if b.supplier.is_some() {
        p.supplier = b.supplier.filter(|s| !s.trim().is_empty());
    }
    if b.reorder_point.is_some() {
        p.reorder_point = b.reorder_point;
    }
    let saved = save(&state, &me, p, false).await?;
    Ok(Json(ProductJson::from(&saved)))
}

// --- pages -----------------------------------------------------------------------------------------

async fn list_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let page_no = forms::page_number(&q.page);
    let query = q.q.clone().unwrap_or_default();
    let category = text(&q.category).unwrap_or_default().to_string();
    let (query2, category2) = (query.clone(), category.clone());
    let (page, categories) = state
        .blocking(move |store, _| {
            let cat = Some(category2.as_str()).filter(|c| !c.is_empty());
            Ok((catalog::browse(store, &query2, cat, (page_no - 1) * forms::PER_PAGE, forms::PER_PAGE)?, catalog::categories(store)?))
        })
        .await?;
    let more = page_no * forms::PER_PAGE < page.total;
    let body = html! {
        h1 { (lang.pick("商品", "Products")) }
        form.toolbar method="get" action="/products" {
            label { (lang.pick("名称 / SKU / 条码", "Name / sku / barcode")) input type="search" name="q" value=(query) autofocus; }
            label { (lang.pick("分类", "Category"))
                select name="category" {
                    option value="" { (lang.pick("全部", "All")) }
                    @for c in &categories {
                        option value=(c.id) selected[c.id == category] { (c.name_zh) }
                    }
                }
            }
            button type="submit" { (lang.pick("查找", "Search")) }
            @if allows(me.staff.role, Action::EditCatalog) {
                a.button href="/products/new" { (lang.pick("新增商品", "New product")) }
            }
        }
        p.muted { (lang.pick("共", "")) (page.total) (lang.pick(" 个商品", " products")) }
        table {
            thead { tr {
                th { "SKU" } th { (lang.pick("名称", "Name")) } th { (lang.pick("分类", "Category")) } th { (lang.pick("单位", "Unit")) }
                th.num { (lang.pick("价格", "Price")) } th.num { (lang.pick("会员价", "Member price")) } th { (lang.pick("条码", "Barcodes")) } th { (lang.pick("状态", "State")) }
            } }
            tbody {
                @for p in &page.products {
                    tr {
                        td { a href=(format!("/products/{}", forms::enc(&p.sku))) { (p.sku) } }
                        td { (p.name_zh) @if !p.name_en.is_empty() { br; span.muted { (p.name_en) } } }
                        td { (p.category) }
                        td { (unit_text(lang, p.unit)) }
                        td.num { (yuan(p.price_fen)) @if p.unit == Unit::Kg { "/kg" } }
                        td.num { (p.member_price_fen.map(yuan).unwrap_or_default()) }
                        td { (p.barcodes.join(" ")) }
                        td { @if p.active { span.badge.ok { (lang.pick("在售", "Active")) } } @else { span.badge { (lang.pick("停售", "Inactive")) } } }
                    }
                }
            }
        }
        (forms::pager(lang, "/products", &[("q", &query), ("category", &category)], page_no, more))
    };
    Ok(forms::render(&state, &me, lang.pick("商品", "Products"), body).into_response())
}

async fn product_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(sku): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let sees_moves = allows(me.staff.role, Action::ViewStock);
    let (p, on_hand, moves) = state
        .blocking(move |store, _| {
            let p = catalog::product(store, &sku)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有商品 {sku}"), &format!("no product with sku {sku}"))))?;
            let on_hand = crate::inventory::on_hand(store, &sku)?;
            let moves = if sees_moves { Some(crate::inventory::moves_page(store, Some(&sku), None, PRODUCT_MOVES, PRODUCT_MOVES_SCANNED)?) } else { None };
            Ok((p, on_hand, moves))
        })
        .await?;
    let tz = state.ctx.tz;
    let unit = Some(p.unit);
    let body = html! {
        h1 { (p.name_zh) " " span.muted { (p.sku) } }
        p {
            a href="/products" { "‹ " (lang.pick("商品", "Products")) }
            @if allows(me.staff.role, Action::EditCatalog) {
                " · " a href=(format!("/products/{}/edit", forms::enc(&p.sku))) { (lang.pick("编辑", "Edit")) }
            }
            @if allows(me.staff.role, Action::AdjustStock) {
                " · " a href=(forms::url("/stock/adjust", &[("sku", &p.sku)])) { (lang.pick("调整库存", "Adjust stock")) }
            }
        }
        div.grid {
            div.card {
                h2 { (lang.pick("商品资料", "Product")) }
                dl.facts {
                    dt { (lang.pick("中文名", "Chinese name")) } dd { (p.name_zh) }
                    dt { (lang.pick("英文名", "English name")) } dd { (p.name_en) }
                    dt { (lang.pick("分类", "Category")) } dd { (p.category) }
                    dt { (lang.pick("单位", "Unit")) } dd { (unit_text(lang, p.unit)) }
                    dt { (lang.pick("价格", "Price")) } dd { strong { (yuan(p.price_fen)) } @if p.unit == Unit::Kg { " / kg" } }
                    dt { (lang.pick("会员价", "Member price")) } dd { (p.member_price_fen.map(yuan).unwrap_or_else(|| "—".into())) }
                    dt { (lang.pick("成本", "Cost")) } dd { (p.cost_fen.map(yuan).unwrap_or_else(|| "—".into())) }
                    dt { (lang.pick("税率", "VAT")) } dd { (forms::percent(p.tax_bp)) }
                    dt { (lang.pick("供应商", "Supplier")) } dd { (p.supplier.clone().unwrap_or_else(|| "—".into())) }
                    dt { (lang.pick("条码", "Barcodes")) } dd { @for b in &p.barcodes { code { (b) } " " } }
                    dt { (lang.pick("状态", "State")) } dd { @if p.active { (lang.pick("在售", "Active")) } @else { (lang.pick("停售", "Inactive")) } }
                }
            }
            div.card {
                h2 { (lang.pick("库存", "Stock")) }
                dl.facts {
                    dt { (lang.pick("现有库存", "On hand")) } dd {
                        strong { (forms::qty(unit, on_hand)) }
                        @if crate::domain::stock::is_low(on_hand, p.reorder_point) { " " span.badge.bad { (lang.pick("低库存", "Low")) } }
                    }
                    dt { (lang.pick("补货点", "Reorder point")) } dd { (p.reorder_point.map(|r| forms::qty(unit, r)).unwrap_or_else(|| "—".into())) }
                }
            }
        }
        @if let Some(moves) = &moves {
            section.card {
                h2 { (lang.pick("最近库存变动", "Recent stock moves")) " " a href=(forms::url("/stock/moves", &[("sku", &p.sku)])) { (lang.pick("全部", "All")) } }
                (super::stock::moves_table(lang, tz, &moves.moves, |_| unit))
                @if moves.truncated {
                    p.muted { (lang.pick(&format!("只查看了最近 {PRODUCT_MOVES_SCANNED} 条库存变动。"), &format!("Only the newest {PRODUCT_MOVES_SCANNED} moves were searched."))) }
                }
            }
        }
    };
    Ok(forms::render(&state, &me, &p.name_zh, body).into_response())
}

/// The product form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProductForm {
    sku: Option<String>,
    name_zh: Option<String>,
    name_en: Option<String>,
    category: Option<String>,
    unit: Option<String>,
    price: Option<String>,
    member_price: Option<String>,
    cost: Option<String>,
    tax: Option<String>,
    supplier: Option<String>,
    barcodes: Option<String>,
    reorder_point: Option<String>,
    active: Option<String>,
}

/// Fen as the form shows them: `12.50`.
fn fen_text(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

impl ProductForm {
    fn of(p: &Product) -> ProductForm {
        ProductForm {
            sku: Some(p.sku.clone()),
            name_zh: Some(p.name_zh.clone()),
            name_en: Some(p.name_en.clone()),
            category: Some(p.category.clone()),
            unit: Some(p.unit.as_str().to_string()),
            price: Some(fen_text(p.price_fen)),
            member_price: p.member_price_fen.map(fen_text),
            cost: p.cost_fen.map(fen_text),
            tax: Some(forms::percent(p.tax_bp).trim_end_matches('%').to_string()),
            supplier: p.supplier.clone(),
            barcodes: Some(p.barcodes.join(" ")),
            reorder_point: p.reorder_point.map(|r| r.to_string()),
            active: p.active.then(|| "on".to_string()),
        }
    }

    fn blank() -> ProductForm {
        ProductForm { unit: Some("piece".into()), tax: Some("13".into()), active: Some("on".into()), ..ProductForm::default() }
    }

    /// The product the form describes, each typed number read exactly; `sku` is the edited
    /// product's on the edit form.
    fn product(&self, lang: Lang, sku: Option<&str>) -> Result<Product, WebError> {
        let tax = match text(&self.tax) {
            None => 0,
            Some(t) => {
                let bp = crate::domain::money::parse_yuan(t.trim_end_matches('%'))
                    .ok()
                    .and_then(|bp| u32::try_from(bp).ok())
                    .ok_or_else(|| field(lang, "tax", format!("税率须写成百分数，如 13 或 9.5，现为“{t}”"), format!("type the rate as a percentage such as 13 or 9.5, got {t:?}")))?;
                bp
            }
        };
        Ok(Product {
            sku: sku.map(str::to_string).unwrap_or_else(|| text(&self.sku).unwrap_or_default().to_string()),
            barcodes: text(&self.barcodes)
                .unwrap_or_default()
                .split(|c: char| c.is_whitespace() || matches!(c, ',' | '，' | '、' | ';'))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            name_zh: text(&self.name_zh).unwrap_or_default().to_string(),
            name_en: text(&self.name_en).unwrap_or_default().to_string(),
            category: text(&self.category).unwrap_or_default().to_string(),
            unit: parse_unit(lang, text(&self.unit).unwrap_or("piece"))?,
            price_fen: forms::yuan(lang, "price", self.price.as_deref().unwrap_or_default())?,
            member_price_fen: forms::opt_yuan(lang, "member_price", &self.member_price)?,
            cost_fen: forms::opt_yuan(lang, "cost", &self.cost)?,
            tax_bp: tax,
            supplier: text(&self.supplier).map(str::to_string),
            reorder_point: forms::opt_int(lang, "reorder_point", &self.reorder_point)?,
            active: ticked(&self.active),
        })
    }
}

fn product_form(me: &Identity, action: &str, f: &ProductForm, new: bool, categories: &[catalog::Category], error: Option<&WebError>) -> Markup {
    let lang = me.lang;
    let errors: Vec<(String, String)> = error.map(forms::errors_of).unwrap_or_default().into_iter().map(|(k, v)| (form_field(&k).to_string(), v)).collect();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let unit = f.unit.as_deref().unwrap_or("piece");
    html! {
        (forms::form_message(error))
        form.card method="post" action=(action) {
            (forms::csrf(me))
            @if new {
                label data-field="sku" { "SKU *" input name="sku" value=(v(&f.sku)) required maxlength="64" autofocus; (page::field_error(&errors, "sku")) }
            }
            label data-field="name_zh" { (lang.pick("中文名", "Chinese name")) " *" input name="name_zh" value=(v(&f.name_zh)) required; (page::field_error(&errors, "name_zh")) }
            label data-field="name_en" { (lang.pick("英文名", "English name")) input name="name_en" value=(v(&f.name_en)); (page::field_error(&errors, "name_en")) }
            label data-field="category" { (lang.pick("分类", "Category")) " *"
                input name="category" value=(v(&f.category)) list="categories" required;
                datalist id="categories" { @for c in categories { option value=(c.id) {} } }
                (page::field_error(&errors, "category"))
            }
            label data-field="unit" { (lang.pick("单位", "Unit"))
                select name="unit" {
                    option value="piece" selected[unit == "piece"] { (unit_text(lang, Unit::Piece)) }
                    option value="kg" selected[unit == "kg"] { (unit_text(lang, Unit::Kg)) }
                }
                (page::field_error(&errors, "unit"))
            }
            label data-field="price" { (lang.pick("价格（元；称重商品为每千克）", "Price (yuan; per kg for weighed goods)")) " *"
                input name="price" value=(v(&f.price)) inputmode="decimal" placeholder="12.50" required;
                (page::field_error(&errors, "price"))
            }
            label data-field="member_price" { (lang.pick("会员价（元，选填）", "Member price (yuan, optional)"))
                input name="member_price" value=(v(&f.member_price)) inputmode="decimal";
                (page::field_error(&errors, "member_price"))
            }
            label data-field="cost" { (lang.pick("成本（元，选填）", "Cost (yuan, optional)"))
                input name="cost" value=(v(&f.cost)) inputmode="decimal";
                (page::field_error(&errors, "cost"))
            }
            label data-field="tax" { (lang.pick("税率（%）", "VAT (%)"))
                input name="tax" value=(v(&f.tax)) inputmode="decimal";
                (page::field_error(&errors, "tax"))
            }
            label data-field="supplier" { (lang.pick("供应商（选填）", "Supplier (optional)")) input name="supplier" value=(v(&f.supplier)); (page::field_error(&errors, "supplier")) }
            label data-field="barcodes" { (lang.pick("条码 / PLU（空格或逗号分隔）", "Barcodes / PLU codes (space or comma separated)"))
                textarea name="barcodes" rows="2" { (v(&f.barcodes)) }
                (page::field_error(&errors, "barcodes"))
            }
            label data-field="reorder_point" { (lang.pick("补货点（件；称重商品为克）", "Reorder point (pieces; grams for weighed goods)"))
                input name="reorder_point" value=(v(&f.reorder_point)) inputmode="numeric";
                (page::field_error(&errors, "reorder_point"))
            }
            label.check { input type="checkbox" name="active" checked[ticked(&f.active)]; " " (lang.pick("在售", "Active (sold at the tills)")) }
            button type="submit" { (lang.pick("保存", "Save")) }
        }
    }
}

async fn form_response(state: &AppState, me: &Identity, title: &str, action: &str, f: &ProductForm, new: bool, error: Option<&WebError>) -> Result<Response, WebError> {
    let categories = state.blocking(|store, _| Ok(catalog::categories(store)?)).await?;
    let status = error.map_or(StatusCode::OK, |e| e.status);
    let body = html! {
        h1 { (title) }
        p { a href="/products" { "‹ " (me.lang.pick("商品", "Products")) } }
        (product_form(me, action, f, new, &categories, error))
    };
    Ok((status, forms::render(state, me, title, body)).into_response())
}

async fn new_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    form_response(&state, &me, me.lang.pick("新增商品", "New product"), "/products/new", &ProductForm::blank(), true, None).await
}

async fn new_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: ProductForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async { save(&state, &me, f.product(lang, None)?, true).await }.await;
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/products/{}", forms::enc(&p.sku))).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => form_response(&state, &me, lang.pick("新增商品", "New product"), "/products/new", &f, true, Some(&e)).await,
    }
}

async fn edit_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(sku): Path<String>) -> Result<Response, WebError> {
    let p = load(&state, me.lang, sku).await?;
    let title = format!("{} {}", me.lang.pick("编辑商品", "Edit product"), p.sku);
    form_response(&state, &me, &title, &format!("/products/{}/edit", forms::enc(&p.sku)), &ProductForm::of(&p), false, None).await
}

async fn edit_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(sku): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: ProductForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async { save(&state, &me, f.product(lang, Some(&sku))?, false).await }.await;
    match result {
        Ok(p) => Ok(Redirect::to(&format!("/products/{}", forms::enc(&p.sku))).into_response()),
        Err(e) if matches!(e.status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND) => Err(e),
        Err(e) => {
            let title = format!("{} {sku}", lang.pick("编辑商品", "Edit product"));
            form_response(&state, &me, &title, &format!("/products/{}/edit", forms::enc(&sku)), &f, false, Some(&e)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_show_on_the_form_as_typed() {
        assert_eq!(fen_text(1250), "12.50");
        assert_eq!(fen_text(5), "0.05");
        assert_eq!(fen_text(-320), "-3.20");
    }

    #[test]
    fn a_price_typed_as_12_5_is_1250_fen_and_12_345_is_refused() {
        let mut f = ProductForm::blank();
        f.name_zh = Some("可乐".into());
        f.category = Some("饮料".into());
        f.price = Some("12.5".into());
        f.tax = Some("9.5".into());
        let p = f.product(Lang::En, Some("SKU-1")).unwrap();
        assert_eq!((p.price_fen, p.tax_bp, p.active), (1250, 950, true));
        f.price = Some("12.345".into());
        assert_eq!(f.product(Lang::Zh, Some("SKU-1")).unwrap_err().field.as_deref(), Some("price"));
        assert_eq!(form_field("barcodes[2]"), "barcodes");
        assert_eq!(form_field("price_fen"), "price");
    }
}
