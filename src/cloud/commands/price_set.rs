//! `price.set` `{"sku", "price_fen", "member_price_fen"?}`: one product's shelf price, and its
//! member price (absent: kept; `null`: dropped; a number: set). Usually sent ahead with the
//! envelope's `effective_at` (the new price from opening time); applied through
//! `catalog::upsert_in_tx`, so the till sees it at once and HQ gets `product_upserted`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{self, typed, Refusal};
use crate::catalog::{self, Product};
use crate::store::{TreeId, Tx, TxError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pub sku: String,
    #[serde(deserialize_with = "args::fen")]
    pub price_fen: i64,
    /// Absent: keep; `Some(None)`: drop; `Some(Some(fen))`: set.
    #[serde(default, deserialize_with = "args::nullable_fen")]
    pub member_price_fen: Option<Option<i64>>,
}

/// Typed and within the catalog's price range; the member price is checked against the price.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    let a: Args = typed(args)?;
    if a.sku.trim().is_empty() {
        return Err(Refusal::at("args.sku", "empty; expected a sku"));
    }
    if a.price_fen > catalog::csv::MAX_FEN {
        return Err(Refusal::at("args.price_fen", format!("expected integer fen from 0 to {} (¥999,999.99), got {}", catalog::csv::MAX_FEN, a.price_fen)));
    }
    if let Some(Some(m)) = a.member_price_fen {
        if m > a.price_fen {
            return Err(Refusal::at("args.member_price_fen", format!("{m} is greater than price_fen {}", a.price_fen)));
        }
    }
    Ok(a)
}

/// Sets the price inside `tx`; the reply has the new and the previous prices.
pub fn apply(tx: &Tx, a: &Args) -> Result<Map<String, Value>, TxError<Refusal>> {
    let old: Product = tx
        .get(TreeId::Products, a.sku.as_bytes())?
        .ok_or_else(|| TxError::Rejected(Refusal::at("args.sku", format!("no product has sku {:?} in this store", a.sku))))?;
    let member_price_fen = a.member_price_fen.unwrap_or(old.member_price_fen);
    if let Some(m) = member_price_fen.filter(|m| *m > a.price_fen) {
        return Err(TxError::Rejected(Refusal::at(
            "args.member_price_fen",
            format!("the product's member price {m} would be above the new price {}; send member_price_fen (or null to drop it)", a.price_fen),
        )));
    }
    let new = Product { price_fen: a.price_fen, member_price_fen, ..old.clone() };
    catalog::upsert_in_tx(tx, &new, &|_, _| false).map_err(|e| e.map_rejected(|e| Refusal::at("args.sku", e.to_string())))?;
    let mut m = Map::new();
    m.insert("sku".into(), json!(a.sku));
    m.insert("price_fen".into(), json!(new.price_fen));
    m.insert("member_price_fen".into(), json!(new.member_price_fen));
    m.insert("previous_price_fen".into(), json!(old.price_fen));
    m.insert("previous_member_price_fen".into(), json!(old.member_price_fen));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_with_and_without_a_member_price() {
        let a = parse(&json!({"sku": "SKU-1", "price_fen": 250})).unwrap();
        assert_eq!((a.price_fen, a.member_price_fen), (250, None));
        let a = parse(&json!({"sku": "SKU-1", "price_fen": 250, "member_price_fen": null})).unwrap();
        assert_eq!(a.member_price_fen, Some(None));
        let a = parse(&json!({"sku": "SKU-1", "price_fen": 250, "member_price_fen": 220})).unwrap();
        assert_eq!(a.member_price_fen, Some(Some(220)));
    }

    #[test]
    fn bad_prices_are_named() {
        let e = |v: Value| parse(&v).unwrap_err().error_text();
        assert_eq!(e(json!({"sku": "SKU-1", "price_fen": 2.5})), "args.price_fen: expected integer fen ≥ 0, got 2.5");
        assert_eq!(e(json!({"sku": "SKU-1", "price_fen": 250, "member_price_fen": 260})), "args.member_price_fen: 260 is greater than price_fen 250");
        assert_eq!(e(json!({"sku": "SKU-1"})), "args.price_fen: missing; it is required");
        assert_eq!(e(json!({"sku": " ", "price_fen": 1})), "args.sku: empty; expected a sku");
        assert!(e(json!({"sku": "SKU-1", "price_fen": 1, "price": 2})).starts_with("args.price: unknown field"));
    }
}
