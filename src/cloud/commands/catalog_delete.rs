//! `catalog.delete` `{"skus": ["…", …]}`: delists up to [`MAX_SKUS`] products in one commit
//! (`catalog::delete_in_tx`: the product and its barcode / PLU index entries go, one
//! `storehub.catalog.product_deleted` event each). Stock history stays, and a product with stock
//! on hand may be delisted: the reply says how much is left so HQ can plan a write-off or a
//! transfer, and a return can still restock it. An unknown sku refuses the whole batch.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{batch, typed, Refusal};
use crate::catalog::{self, CatalogError};
use crate::inventory::StockLevel;
use crate::store::{TreeId, Tx, TxError};

/// Most skus one command carries.
pub const MAX_SKUS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pub skus: Vec<String>,
}

/// 1 to [`MAX_SKUS`] skus, none empty or listed twice.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    batch(args, "skus", "skus", MAX_SKUS)?;
    let a: Args = typed(args)?;
    let mut seen = HashMap::new();
    for (i, sku) in a.skus.iter().enumerate() {
        if sku.trim().is_empty() {
            return Err(Refusal::at(format!("args.skus[{i}]"), "empty; expected a sku"));
        }
        if let Some(first) = seen.insert(sku.as_str(), i) {
            return Err(Refusal::at(format!("args.skus[{i}]"), format!("{sku:?} is also args.skus[{first}]")));
        }
    }
    Ok(a)
}

/// Delists every sku inside `tx`; `{"deleted": [{"sku", "barcodes", "on_hand"}, …]}`.
pub fn apply(tx: &Tx, a: &Args) -> Result<Map<String, Value>, TxError<Refusal>> {
    let mut deleted = Vec::with_capacity(a.skus.len());
    for (i, sku) in a.skus.iter().enumerate() {
        let on_hand = tx.get::<StockLevel, Refusal>(TreeId::Stock, sku.as_bytes())?.map_or(0, |l| l.on_hand);
        let d = catalog::delete_in_tx(tx, sku).map_err(|e| {
            e.map_rejected(|e| match e {
                CatalogError::UnknownSku(_) => Refusal::at(format!("args.skus[{i}]"), format!("no product has sku {sku:?} in this store")),
                other => Refusal::at(format!("args.skus[{i}]"), other.to_string()),
            })
        })?;
        deleted.push(json!({ "sku": d.sku, "barcodes": d.barcodes, "on_hand": on_hand }));
    }
    let mut m = Map::new();
    m.insert("deleted".into(), Value::Array(deleted));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_named_when_wrong() {
        assert_eq!(parse(&json!({"skus": ["A", "B"]})).unwrap().skus, vec!["A", "B"]);
        assert_eq!(parse(&json!({"skus": ["A", ""]})).unwrap_err().error_text(), "args.skus[1]: empty; expected a sku");
        assert_eq!(parse(&json!({"skus": ["A", "B", "A"]})).unwrap_err().error_text(), "args.skus[2]: \"A\" is also args.skus[0]");
        assert_eq!(
            parse(&json!({"skus": ["A", 7]})).unwrap_err().error_text(),
            "args.skus[1]: invalid type: integer `7`, expected a string"
        );
        assert!(parse(&json!({"skus": ["A"], "force": true})).unwrap_err().error_text().starts_with("args.force: unknown field"));
    }
}
