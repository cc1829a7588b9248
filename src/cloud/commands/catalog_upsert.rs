//! `catalog.upsert` `{"products": [Product, …]}`: up to [`MAX_PRODUCTS`] products in the
//! catalog's JSON shape, checked with the catalog import's rules (`catalog::check_product`),
//! skus and codes unique in the batch, then written in one commit with `catalog::upsert_in_tx`
//! (a barcode still held by a product outside the batch is refused, naming its owner).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{self, batch, only_fields, typed_item, Refusal};
use crate::catalog::{self, CatalogError, Product, Unit};
use crate::domain::barcode::classify_catalog_code;
use crate::store::{Tx, TxError};

/// Most products one command carries.
pub const MAX_PRODUCTS: usize = 1000;

/// A product as HQ sends it: `catalog::Product`'s fields; optional ones may be left out
/// (`barcodes` [], `name_en` "", `active` true, the rest none).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductArgs {
    sku: String,
    #[serde(default)]
    barcodes: Vec<String>,
    name_zh: String,
    #[serde(default)]
    name_en: String,
    category: String,
    unit: Unit,
    #[serde(deserialize_with = "args::fen")]
    price_fen: i64,
    #[serde(default, deserialize_with = "args::opt_fen")]
    member_price_fen: Option<i64>,
    #[serde(default, deserialize_with = "args::opt_fen")]
    cost_fen: Option<i64>,
    #[serde(deserialize_with = "args::basis_points")]
    tax_bp: u32,
    #[serde(default)]
    supplier: Option<String>,
    #[serde(default, deserialize_with = "args::opt_quantity")]
    reorder_point: Option<i64>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

impl From<ProductArgs> for Product {
    fn from(a: ProductArgs) -> Product {
        Product {
            sku: a.sku,
            barcodes: a.barcodes,
            name_zh: a.name_zh,
            name_en: a.name_en,
            category: a.category,
            unit: a.unit,
            price_fen: a.price_fen,
            member_price_fen: a.member_price_fen,
            cost_fen: a.cost_fen,
            tax_bp: a.tax_bp,
            supplier: a.supplier,
            reorder_point: a.reorder_point,
            active: a.active,
        }
    }
}

/// The checked batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub products: Vec<Product>,
}

/// Every product typed and checked, skus and codes unique in the batch.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    only_fields(args, &["products"], "args")?;
    let items = batch(args, "products", "products", MAX_PRODUCTS)?;
    let mut products = Vec::with_capacity(items.len());
    let mut skus: HashMap<String, usize> = HashMap::new();
    let mut codes: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("args.products[{i}]");
        let p: Product = typed_item::<ProductArgs>(item, &at)?.into();
        catalog::check_product(&p).map_err(|e| Refusal::at(format!("{at}.{}", e.field), e.message))?;
        if let Some(first) = skus.insert(p.sku.clone(), i) {
            return Err(Refusal::at(format!("{at}.sku"), format!("{:?} is also args.products[{first}].sku; one entry per sku", p.sku)));
        }
        for (k, code) in p.barcodes.iter().enumerate() {
            let Ok(parsed) = classify_catalog_code(code) else { continue };
            if let Some((pi, ck)) = codes.insert(catalog::code_identity(&parsed), (i, k)) {
                return Err(Refusal::at(
                    format!("{at}.barcodes[{k}]"),
                    format!("{code:?} is also args.products[{pi}].barcodes[{ck}]; a code belongs to one product"),
                ));
            }
        }
        products.push(p);
    }
    Ok(Args { products })
}

/// Upserts the batch inside `tx`. A code may move between two products of the batch; a code
/// held by a product outside it is refused.
pub fn apply(tx: &Tx, a: &Args) -> Result<Map<String, Value>, TxError<Refusal>> {
    let future: HashMap<&str, Vec<String>> = a
        .products
        .iter()
        .map(|p| {
            let keys = p.barcodes.iter().filter_map(|b| classify_catalog_code(b).ok()).map(|c| catalog::index_key(&c)).collect();
            (p.sku.as_str(), keys)
        })
        .collect();
    let releasing = |owner: &str, key: &str| future.get(owner).is_some_and(|keys| !keys.iter().any(|k| k == key));
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for (i, p) in a.products.iter().enumerate() {
        let outcome = catalog::upsert_in_tx(tx, p, &releasing).map_err(|e| e.map_rejected(|e| refusal(i, p, e)))?;
        match outcome {
            Some(true) => created += 1,
            Some(false) => updated += 1,
            None => unchanged += 1,
        }
    }
    let mut m = Map::new();
    m.insert("created".into(), json!(created));
    m.insert("updated".into(), json!(updated));
    m.insert("unchanged".into(), json!(unchanged));
    Ok(m)
}

fn refusal(i: usize, p: &Product, e: CatalogError) -> Refusal {
    let at = format!("args.products[{i}]");
    match e {
        CatalogError::BarcodeTaken { code, owner, .. } => {
            let k = p.barcodes.iter().position(|b| *b == code).unwrap_or(0);
            Refusal::at(
                format!("{at}.barcodes[{k}]"),
                format!("{code:?} belongs to sku {owner:?}; move it in the same batch (send {owner:?} without it) or delist {owner:?} first"),
            )
        }
        CatalogError::Barcode { code, source } => {
            let k = p.barcodes.iter().position(|b| *b == code).unwrap_or(0);
            Refusal::at(format!("{at}.barcodes[{k}]"), format!("{code:?}: {source}"))
        }
        other => Refusal::at(at, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cola() -> Value {
        json!({"sku": "SKU-030001", "barcodes": ["6954767423456"], "name_zh": "可口可乐 330ml", "name_en": "Coca-Cola 330ml",
               "category": "饮料", "unit": "piece", "price_fen": 350, "member_price_fen": 300, "tax_bp": 1300})
    }

    fn refusal(products: Value) -> String {
        parse(&json!({ "products": products })).unwrap_err().error_text()
    }

    #[test]
    fn a_product_with_only_the_required_fields() {
        let a = parse(&json!({"products": [cola()]})).unwrap();
        let p = &a.products[0];
        assert_eq!((p.price_fen, p.member_price_fen, p.tax_bp, p.active), (350, Some(300), 1300, true));
        assert_eq!((p.cost_fen, p.supplier.as_deref(), p.reorder_point), (None, None, None));
    }

    #[test]
    fn each_rule_names_its_field() {
        let with = |k: &str, v: Value| {
            let mut p = cola();
            p[k] = v;
            p
        };
        assert_eq!(refusal(json!([cola(), with("price_fen", json!(-1))])), "args.products[1].price_fen: expected integer fen ≥ 0, got -1");
        assert_eq!(
            refusal(json!([with("member_price_fen", json!(400))])),
            "args.products[0].member_price_fen: 400 is greater than price_fen 350"
        );
        assert_eq!(
            refusal(json!([with("price_fen", json!(100_000_000))])),
            "args.products[0].price_fen: expected integer fen from 0 to 99999999 (¥999,999.99), got 100000000"
        );
        assert_eq!(
            refusal(json!([with("tax_bp", json!(13.0))])),
            "args.products[0].tax_bp: expected basis points, an integer from 0 to 10000 (1300 = 13%), got 13.0"
        );
        assert!(refusal(json!([with("unit", json!("box"))])).starts_with("args.products[0].unit: unknown variant `box`"));
        assert_eq!(refusal(json!([with("name_zh", json!(" "))])), "args.products[0].name_zh: empty; it is required");
        assert_eq!(
            refusal(json!([with("barcodes", json!(["6954767423456", "6954767423450"]))])),
            "args.products[0].barcodes[1]: \"6954767423450\": wrong check digit 0; expected 6"
        );
        assert!(refusal(json!([with("colour", json!("red"))])).starts_with("args.products[0].colour: unknown field"));
        let mut no_sku = cola();
        no_sku.as_object_mut().unwrap().remove("sku");
        assert_eq!(refusal(json!([no_sku])), "args.products[0].sku: missing; it is required");
    }

    #[test]
    fn skus_and_codes_are_unique_in_a_batch() {
        let mut other = cola();
        other["sku"] = json!("SKU-030002");
        assert_eq!(
            refusal(json!([cola(), other])),
            "args.products[1].barcodes[0]: \"6954767423456\" is also args.products[0].barcodes[0]; a code belongs to one product"
        );
        let mut same_sku = cola();
        same_sku["barcodes"] = json!([]);
        assert_eq!(
            refusal(json!([cola(), same_sku])),
            "args.products[1].sku: \"SKU-030001\" is also args.products[0].sku; one entry per sku"
        );
    }

    #[test]
    fn a_batch_has_at_most_a_thousand_products() {
        let many: Vec<Value> = (0..1001).map(|i| json!({"sku": format!("S{i}")})).collect();
        assert_eq!(refusal(json!(many)), "args.products: 1001 products; at most 1000 per command: split the batch");
        assert_eq!(refusal(json!([])), "args.products: no products given");
    }
}
