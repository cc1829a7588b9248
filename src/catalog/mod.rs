//! The catalog: products, their barcodes, categories and suppliers. Owns the rules a product must
//! satisfy before it is stored and the barcode → product lookup the lanes use; persistence goes
//! through `store`, CSV in and out through `catalog::csv`.

pub mod csv;

use serde::{Deserialize, Serialize};

/// How a product is sold and counted in stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Sold by the piece; stock counted in pieces; price per piece.
    Piece,
    /// Weighed goods; stock counted in grams; price per kilogram.
    Kg,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Piece => "piece",
            Unit::Kg => "kg",
        }
    }
}

/// A product as the store sells it. Money in fen, tax in basis points, reorder point in the
/// product's stock unit (pieces, or grams for `Unit::Kg`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    /// GTINs (EAN-13, EAN-8, UPC-A) and scale PLU item codes (4–7 digits) of this product.
    pub barcodes: Vec<String>,
    pub name_zh: String,
    pub name_en: String,
    /// Category id (its name as written in the catalog).
    pub category: String,
    pub unit: Unit,
    /// Price per piece, or per kilogram for weighed goods.
    pub price_fen: i64,
    pub member_price_fen: Option<i64>,
    pub cost_fen: Option<i64>,
    pub tax_bp: u32,
    /// Supplier id (its name as written in the catalog).
    pub supplier: Option<String>,
    pub reorder_point: Option<i64>,
    pub active: bool,
}

/// A product category. Categories are created on demand by catalog imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A supplier of products. Suppliers are created on demand by catalog imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub id: String,
    pub name: String,
}

use crate::domain::barcode::{classify_catalog_code, BarcodeError, CatalogCode};
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

impl Record for Product {
    const NAME: &'static str = "product";
}
impl Record for Category {
    const NAME: &'static str = "category";
}
impl Record for Supplier {
    const NAME: &'static str = "supplier";
}

/// Why a catalog change or lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("unknown barcode {0}")]
    UnknownBarcode(String),
    #[error("unknown sku {0}")]
    UnknownSku(String),
    #[error("barcode {code} of sku {sku} already belongs to sku {owner}")]
    BarcodeTaken { code: String, sku: String, owner: String },
    #[error("barcode {code}: {source}")]
    Barcode { code: String, source: BarcodeError },
    /// A product field breaks [`check_product`]'s rules.
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(crate::json_import::FieldError),
    #[error("sku {0} already exists")]
    SkuExists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Event type written when a product is created or changed.
pub const EVENT_PRODUCT_UPSERTED: &str = "storehub.catalog.product_upserted";
/// Event type written when a product is delisted ([`delete_in_tx`]); data: [`ProductDeleted`].
pub const EVENT_PRODUCT_DELETED: &str = "storehub.catalog.product_deleted";

/// Data of `storehub.catalog.product_deleted`: the sku and the codes that no longer find it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProductDeleted {
    pub sku: String,
    pub barcodes: Vec<String>,
}

/// Key of a catalog code in the barcode index. GTINs are stored as written; PLU item codes as
/// `plu:` + the number without leading zeros, so `05000` on a label and `5000` in the catalog meet.
pub fn index_key(code: &CatalogCode) -> String {
    match code {
        CatalogCode::Gtin(g) => g.clone(),
        CatalogCode::Plu(p) => plu_key(p),
    }
}

/// Index key of a scale PLU item code.
pub fn plu_key(item_code: &str) -> String {
    let trimmed = item_code.trim_start_matches('0');
    format!("plu:{}", if trimmed.is_empty() { "0" } else { trimmed })
}

fn index_keys(p: &Product) -> Result<Vec<String>, CatalogError> {
    p.barcodes
        .iter()
        .map(|b| {
            classify_catalog_code(b)
                .map(|c| index_key(&c))
                .map_err(|source| CatalogError::Barcode { code: b.clone(), source })
        })
        .collect()
}

/// Counts of an upsert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpsertSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Inserts or replaces `product` inside `tx`, keeping the barcode index consistent. A barcode
/// owned by another sku is refused unless `releasing` says that sku gives it up in the same
/// import. Emits `storehub.catalog.product_upserted` unless nothing changed.
pub fn upsert_in_tx(
    tx: &Tx,
    product: &Product,
    releasing: &dyn Fn(&str, &str) -> bool,
) -> Result<Option<bool>, TxError<CatalogError>> {
    let sku = product.sku.as_bytes();
    let old: Option<Product> = tx.get(TreeId::Products, sku)?;
    if old.as_ref() == Some(product) {
        return Ok(None);
    }
    let new_keys = index_keys(product).map_err(TxError::Rejected)?;
    for (key, code) in new_keys.iter().zip(&product.barcodes) {
        if let Some(owner) = tx.get_raw(TreeId::Barcodes, key.as_bytes())? {
            let owner = String::from_utf8_lossy(&owner).into_owned();
            if owner != product.sku && !releasing(&owner, key) {
                return Err(TxError::Rejected(CatalogError::BarcodeTaken {
                    code: code.clone(),
                    sku: product.sku.clone(),
                    owner,
                }));
            }
        }
    }
    if let Some(old) = &old {
        for key in index_keys(old).unwrap_or_default() {
            let still_mine = tx
                .get_raw(TreeId::Barcodes, key.as_bytes())?
                .is_some_and(|o| o.as_slice() == sku);
            if still_mine && !new_keys.contains(&key) {
                tx.remove(TreeId::Barcodes, key.as_bytes())?;
            }
        }
    }
    for key in &new_keys {
        tx.put_raw(TreeId::Barcodes, key.as_bytes(), sku)?;
    }
    tx.put(TreeId::Products, sku, product)?;
    if tx.get_raw(TreeId::Categories, product.category.as_bytes())?.is_none() {
        let c = Category { id: product.category.clone(), name_zh: product.category.clone(), name_en: String::new() };
        tx.put(TreeId::Categories, c.id.as_bytes(), &c)?;
    }
    if let Some(s) = &product.supplier {
        if tx.get_raw(TreeId::Suppliers, s.as_bytes())?.is_none() {
            tx.put(TreeId::Suppliers, s.as_bytes(), &Supplier { id: s.clone(), name: s.clone() })?;
        }
    }
    tx.emit(EVENT_PRODUCT_UPSERTED, Some(&product.sku), product)?;
    Ok(Some(old.is_none()))
}

/// Delists the product `sku` inside `tx`: removes it and the barcode / PLU index entries that
/// still point at it, and emits `storehub.catalog.product_deleted`. Its stock level and moves
/// stay (history, and a return may still restock it; see `inventory::record_move`), as do its
/// category and supplier. Refused, writing nothing, when no product has this sku.
pub fn delete_in_tx(tx: &Tx, sku: &str) -> Result<ProductDeleted, TxError<CatalogError>> {
    let old: Product = tx
        .get(TreeId::Products, sku.as_bytes())?
        .ok_or_else(|| TxError::Rejected(CatalogError::UnknownSku(sku.to_string())))?;
    for key in index_keys(&old).unwrap_or_default() {
        let mine = tx.get_raw(TreeId::Barcodes, key.as_bytes())?.is_some_and(|o| o.as_slice() == sku.as_bytes());
        if mine {
            tx.remove(TreeId::Barcodes, key.as_bytes())?;
        }
    }
    tx.remove(TreeId::Products, sku.as_bytes())?;
    let deleted = ProductDeleted { sku: old.sku, barcodes: old.barcodes };
    tx.emit(EVENT_PRODUCT_DELETED, Some(sku), &deleted)?;
    Ok(deleted)
}

/// Checks one product against the rules a catalog import applies (`catalog::csv`'s column
/// rules, for products that arrive as typed values, e.g. from HQ): sku of 1–64 characters
/// without whitespace or control characters; Chinese name and category required; lengths;
/// prices and cost 0 to ¥999,999.99, the member price not above the price; VAT 0–10000 bp;
/// reorder point 0 to 1e9; at most 16 barcodes, each a valid GTIN or 4–7 digit PLU code, none
/// listed twice. The error names the field (`price_fen`, `barcodes[1]`). Whether a barcode is
/// free is the store's business ([`upsert_in_tx`]).
pub fn check_product(p: &Product) -> Result<(), crate::json_import::FieldError> {
    use crate::json_import::FieldError;
    use csv::{MAX_BARCODES, MAX_CATEGORY_CHARS, MAX_FEN, MAX_NAME_CHARS, MAX_REORDER_POINT, MAX_SKU_CHARS, MAX_SUPPLIER_CHARS, MAX_TAX_BP};
    fn text(field: &str, v: &str, required: bool, max: usize) -> Result<(), FieldError> {
        if required && v.trim().is_empty() {
            return Err(FieldError::new(field, "empty; it is required"));
        }
        if v.trim() != v {
            return Err(FieldError::new(field, format!("{v:?} has spaces around it")));
        }
        if let Some(c) = v.chars().find(|c| c.is_control()) {
            return Err(FieldError::new(field, format!("contains control character U+{:04X}", c as u32)));
        }
        let n = v.chars().count();
        if n > max {
            return Err(FieldError::new(field, format!("{n} characters; the limit is {max}")));
        }
        Ok(())
    }
    let fen = |field: &str, v: i64| {
        if (0..=MAX_FEN).contains(&v) {
            Ok(())
        } else {
            Err(FieldError::new(field, format!("expected integer fen from 0 to {MAX_FEN} (¥999,999.99), got {v}")))
        }
    };
    if p.sku.is_empty() {
        return Err(FieldError::new("sku", "empty; every product needs a SKU"));
    }
    if p.sku.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new("sku", format!("{:?} contains whitespace or control characters; a SKU is one word", p.sku)));
    }
    text("sku", &p.sku, true, MAX_SKU_CHARS)?;
    text("name_zh", &p.name_zh, true, MAX_NAME_CHARS)?;
    text("name_en", &p.name_en, false, MAX_NAME_CHARS)?;
    text("category", &p.category, true, MAX_CATEGORY_CHARS)?;
    if let Some(s) = &p.supplier {
        text("supplier", s, true, MAX_SUPPLIER_CHARS)?;
    }
    fen("price_fen", p.price_fen)?;
    if let Some(m) = p.member_price_fen {
        fen("member_price_fen", m)?;
        if m > p.price_fen {
            return Err(FieldError::new("member_price_fen", format!("{m} is greater than price_fen {}", p.price_fen)));
        }
    }
    if let Some(c) = p.cost_fen {
        fen("cost_fen", c)?;
    }
    if p.tax_bp > MAX_TAX_BP {
        return Err(FieldError::new("tax_bp", format!("expected basis points from 0 to 10000 (1300 = 13%), got {}", p.tax_bp)));
    }
    if let Some(r) = p.reorder_point.filter(|r| !(0..=MAX_REORDER_POINT).contains(r)) {
        return Err(FieldError::new("reorder_point", format!("expected 0 to {MAX_REORDER_POINT} (pieces, or grams for kg goods), got {r}")));
    }
    if p.barcodes.len() > MAX_BARCODES {
        return Err(FieldError::new("barcodes", format!("{} codes; the limit is {MAX_BARCODES}", p.barcodes.len())));
    }
    let mut seen = std::collections::HashMap::new();
    for (i, code) in p.barcodes.iter().enumerate() {
        let field = format!("barcodes[{i}]");
        let parsed = classify_catalog_code(code).map_err(|e| FieldError::new(field.clone(), format!("{code:?}: {e}")))?;
        if let Some(first) = seen.insert(code_identity(&parsed), i) {
            return Err(FieldError::new(field, format!("{code:?} is the same code as barcodes[{first}]")));
        }
    }
    Ok(())
}

/// What makes two catalog codes the same code: a GTIN whatever its leading zeros (UPC-A
/// `012345678905` = EAN-13 `0012345678905`), a PLU whatever its leading zeros.
pub fn code_identity(code: &CatalogCode) -> String {
    match code {
        CatalogCode::Gtin(g) => format!("{g:0>14}"),
        CatalogCode::Plu(p) => plu_key(p),
    }
}

/// Upserts many products, `chunk` per transaction, calling `progress` with the number done.
/// Barcodes that move from one product to another inside the same list are allowed.
pub fn upsert_products(
    store: &Store,
    products: &[Product],
    chunk: usize,
    mut progress: impl FnMut(usize),
) -> Result<UpsertSummary, CommitError<CatalogError>> {
    // Which index keys each sku of this import will hold afterwards.
    let mut future: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    for p in products {
        future.insert(&p.sku, index_keys(p).map_err(CommitError::Rejected)?);
    }
    let releasing = |owner: &str, key: &str| {
        future.get(owner).is_some_and(|keys| !keys.iter().any(|k| k == key))
    };
    let mut summary = UpsertSummary::default();
    let mut done = 0;
    for part in products.chunks(chunk.max(1)) {
        let outcomes = store.commit(|tx| {
            part.iter().map(|p| upsert_in_tx(tx, p, &releasing)).collect::<Result<Vec<_>, _>>()
        })?;
        for o in outcomes {
            match o {
                Some(true) => summary.created += 1,
                Some(false) => summary.updated += 1,
                None => summary.unchanged += 1,
            }
        }
        done += part.len();
        progress(done);
    }
    Ok(summary)
}

/// Barcodes of `products` that already belong to a product outside this list (or to one in
/// the list that keeps them). Read-only; an import checks this before writing anything.
pub fn conflicts_with_store(store: &Store, products: &[Product]) -> Result<Vec<CatalogError>, StoreError> {
    let mut future: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    for p in products {
        if let Ok(keys) = index_keys(p) {
            future.insert(&p.sku, keys);
        }
    }
    let mut out = Vec::new();
    for p in products {
        for code in &p.barcodes {
            let Ok(parsed) = classify_catalog_code(code) else { continue };
            let key = index_key(&parsed);
            if let Some(owner) = store.get_raw(TreeId::Barcodes, key.as_bytes())? {
                let owner = String::from_utf8_lossy(&owner).into_owned();
                let released = future.get(owner.as_str()).is_some_and(|keys| !keys.contains(&key));
                if owner != p.sku && !released {
                    out.push(CatalogError::BarcodeTaken { code: code.clone(), sku: p.sku.clone(), owner });
                }
            }
        }
    }
    Ok(out)
}

/// The product with this sku.
pub fn product(store: &Store, sku: &str) -> Result<Option<Product>, StoreError> {
    store.get(TreeId::Products, sku.as_bytes())
}

/// The product a catalog code (GTIN or PLU) belongs to.
pub fn product_by_code(store: &Store, code: &CatalogCode) -> Result<Option<Product>, StoreError> {
    match store.get_raw(TreeId::Barcodes, index_key(code).as_bytes())? {
        Some(sku) => store.get(TreeId::Products, &sku),
        None => Ok(None),
    }
}

/// Products whose sku starts with `query` or whose Chinese or English name contains it (case
/// ignored for English), active ones first, at most `limit`: the lane's "find a product" box.
/// Walks the catalog (a shop's few thousand products take well under a millisecond per thousand).
pub fn search(store: &Store, query: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
    let q = query.trim();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let lower = q.to_lowercase();
    let mut hits = Vec::new();
    for item in store.scan::<Product>(TreeId::Products) {
        let (_, p) = item?;
        if p.sku.starts_with(q) || p.name_zh.contains(q) || p.name_en.to_lowercase().contains(&lower) {
            hits.push(p);
        }
    }
    hits.sort_by_key(|p| (!p.active, p.sku.clone()));
    hits.truncate(limit);
    Ok(hits)
}

/// Every product in sku order.
pub fn all_products(store: &Store) -> Result<Vec<Product>, StoreError> {
    store.scan::<Product>(TreeId::Products).map(|r| r.map(|(_, p)| p)).collect()
}

/// Number of products.
pub fn product_count(store: &Store) -> usize {
    store.count(TreeId::Products)
}

// --- staff screens: browse, create and edit one product, look up a scanned code -------------------

/// One page of the product list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    pub products: Vec<Product>,
    /// Products matching, all pages together.
    pub total: usize,
}

/// Longest search text, in characters; longer text matches nothing.
pub const BROWSE_MAX_CHARS: usize = 64;

/// Products for the catalog screens, in sku order: `query` matches a barcode or PLU code
/// exactly (as listed, or through the index, so `05000` finds PLU `5000`), the start of the sku,
/// or the Chinese or English name (contains, case ignored for English); empty matches all.
/// `category` keeps one category. `offset`/`limit` page the matches; `total` counts them all.
/// Walks the catalog (a shop's few thousand products).
pub fn browse(store: &Store, query: &str, category: Option<&str>, offset: usize, limit: usize) -> Result<ProductPage, StoreError> {
    let q = query.trim();
    if q.chars().count() > BROWSE_MAX_CHARS {
        return Ok(ProductPage { products: Vec::new(), total: 0 });
    }
    let indexed = match classify_catalog_code(q) {
        Ok(code) => store.get_raw(TreeId::Barcodes, index_key(&code).as_bytes())?.map(|sku| sku.to_vec()),
        Err(_) => None,
    };
    let lower = q.to_lowercase();
    let mut products = Vec::new();
    let mut total = 0;
    for item in store.scan::<Product>(TreeId::Products) {
        let (_, p) = item?;
        if category.is_some_and(|c| c != p.category) {
            continue;
        }
        let hit = q.is_empty()
            || indexed.as_deref() == Some(p.sku.as_bytes())
            || p.barcodes.iter().any(|b| b == q)
            || p.sku.starts_with(q)
            || p.name_zh.contains(q)
            || p.name_en.to_lowercase().contains(&lower);
        if hit {
            if total >= offset && products.len() < limit {
                products.push(p);
            }
            total += 1;
        }
    }
    Ok(ProductPage { products, total })
}

/// Every category, in id order.
pub fn categories(store: &Store) -> Result<Vec<Category>, StoreError> {
    store.scan::<Category>(TreeId::Categories).map(|r| r.map(|(_, c)| c)).collect()
}

/// Adds one product typed on the product form: checked by [`check_product`], refused (writing
/// nothing) when the sku exists or a barcode belongs to another product.
pub fn create_product(store: &Store, p: &Product) -> Result<(), CommitError<CatalogError>> {
    check_product(p).map_err(|e| CommitError::Rejected(CatalogError::Invalid(e)))?;
    store.commit(|tx| {
        if tx.get_raw(TreeId::Products, p.sku.as_bytes())?.is_some() {
            return Err(TxError::Rejected(CatalogError::SkuExists(p.sku.clone())));
        }
        upsert_in_tx(tx, p, &|_, _| false).map(|_| ())
    })
}

/// Replaces an existing product with `p` (same sku), checked like [`create_product`]; refused
/// when no product has the sku. `false` when nothing changed (no event is written then).
pub fn update_product(store: &Store, p: &Product) -> Result<bool, CommitError<CatalogError>> {
    check_product(p).map_err(|e| CommitError::Rejected(CatalogError::Invalid(e)))?;
    store.commit(|tx| {
        if tx.get_raw(TreeId::Products, p.sku.as_bytes())?.is_none() {
            return Err(TxError::Rejected(CatalogError::UnknownSku(p.sku.clone())));
        }
        upsert_in_tx(tx, p, &|_, _| false).map(|changed| changed.is_some())
    })
}

/// The layouts a lookup decodes with: the shop's, or the GS1 default when it configured none.
fn layouts_or_default(layouts: &[crate::domain::barcode::InStoreLayout]) -> &[crate::domain::barcode::InStoreLayout] {
    static DEFAULT: std::sync::OnceLock<Vec<crate::domain::barcode::InStoreLayout>> = std::sync::OnceLock::new();
    if layouts.is_empty() {
        DEFAULT.get_or_init(crate::domain::barcode::default_layouts)
    } else {
        layouts
    }
}

/// A scanned or typed code resolved as a lane does: decoded with the shop's in-store `layouts`
/// (the default ones when none are configured), a price- or weight-embedded label found by its
/// PLU item code, any other code by its GTIN. `Ok(None)` when no product has the code;
/// `CatalogError::Barcode` when it is not a valid code. Point reads only.
pub fn lookup(
    store: &Store,
    code: &str,
    layouts: &[crate::domain::barcode::InStoreLayout],
) -> Result<Option<(crate::domain::barcode::Barcode, Product)>, CatalogError> {
    use crate::domain::barcode::{decode, Barcode};
    let decoded = decode(code, layouts_or_default(layouts)).map_err(|source| CatalogError::Barcode { code: code.to_string(), source })?;
    let key = match &decoded {
        Barcode::PriceEmbedded { item_code, .. } | Barcode::WeightEmbedded { item_code, .. } => CatalogCode::Plu(item_code.clone()),
        other => CatalogCode::Gtin(other.gtin().to_string()),
    };
    Ok(product_by_code(store, &key)?.map(|p| (decoded, p)))
}
