//! `promotion.upsert` `{"promotions": [Promotion, …]}`: up to [`MAX_PROMOTIONS`] promotions in
//! the promotions import file's JSON shape (`domain::pricing::Promotion`), checked by the same
//! code as `storehub promotions import` (unknown fields, `promotions::check_promotion`), ids
//! unique, then written whole with `promotions::upsert_in_tx`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::args::{batch, from_path_error, only_fields, Refusal};
use crate::domain::pricing::Promotion;
use crate::json_import::JsonRecord;
use crate::promotions::{self, PromotionError};
use crate::store::{Tx, TxError};

/// Most promotions one command carries.
pub const MAX_PROMOTIONS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub promotions: Vec<Promotion>,
}

/// Every promotion typed and checked.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    only_fields(args, &["promotions"], "args")?;
    let items = batch(args, "promotions", "promotions", MAX_PROMOTIONS)?;
    let mut out = Vec::with_capacity(items.len());
    let mut ids = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("args.promotions[{i}]");
        if !item.is_object() {
            return Err(Refusal::at(at, format!("expected a promotion object, got {}", super::args::kind_of(item))));
        }
        if let Some(field) = Promotion::unknown_fields(item).into_iter().next() {
            return Err(Refusal::at(format!("{at}.{field}"), "unknown field; see the promotions import format"));
        }
        let p: Promotion = serde_path_to_error::deserialize(item).map_err(|e| from_path_error(&e, &at))?;
        p.check().map_err(|e| Refusal::at(format!("{at}.{}", e.field), e.message))?;
        if let Some(first) = ids.insert(p.id.clone(), i) {
            return Err(Refusal::at(format!("{at}.id"), format!("{:?} is also args.promotions[{first}].id", p.id)));
        }
        out.push(p);
    }
    Ok(Args { promotions: out })
}

/// Upserts the batch inside `tx`.
pub fn apply(tx: &Tx, a: &Args) -> Result<Map<String, Value>, TxError<Refusal>> {
    let summary = promotions::upsert_in_tx(tx, &a.promotions).map_err(|e| {
        e.map_rejected(|e| match e {
            PromotionError::Invalid { index, field, message, .. } => Refusal::at(format!("args.promotions[{index}].{field}"), message),
            PromotionError::Duplicate { index, .. } => Refusal::at(format!("args.promotions[{index}].id"), "duplicate id"),
            other => Refusal::at("args.promotions", other.to_string()),
        })
    })?;
    let mut m = Map::new();
    m.insert("created".into(), json!(summary.created));
    m.insert("updated".into(), json!(summary.updated));
    m.insert("unchanged".into(), json!(summary.unchanged));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden_week() -> Value {
        json!({"id": "P-GW", "name_zh": "国庆满200减30", "name_en": "Spend ¥200, save ¥30",
               "window": {"start": "2026-10-01T00:00:00", "end": "2026-10-08T00:00:00"}, "members_only": false,
               "kind": {"kind": "threshold", "min_spend_fen": 20000, "off_fen": 3000, "stacked": true, "categories": []}})
    }

    #[test]
    fn the_import_files_shape_is_accepted() {
        let a = parse(&json!({"promotions": [golden_week()]})).unwrap();
        assert_eq!(a.promotions[0].id, "P-GW");
    }

    #[test]
    fn a_bad_promotion_is_named_by_index_and_field() {
        let mut p = golden_week();
        p["kind"] = json!({"kind": "category_percent", "category": "饮料", "bp": 12000});
        let e = parse(&json!({"promotions": [golden_week(), p]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.promotions[1].kind.bp"));
        let mut p = golden_week();
        p["kind"]["colour"] = json!(1);
        assert_eq!(parse(&json!({"promotions": [p]})).unwrap_err().field.as_deref(), Some("args.promotions[0].kind.colour"));
        let e = parse(&json!({"promotions": [golden_week(), golden_week()]})).unwrap_err();
        assert_eq!(e.error_text(), "args.promotions[1].id: \"P-GW\" is also args.promotions[0].id");
        let mut p = golden_week();
        p.as_object_mut().unwrap().remove("members_only");
        assert_eq!(parse(&json!({"promotions": [p]})).unwrap_err().error_text(), "args.promotions[0].members_only: missing; it is required");
    }
}
