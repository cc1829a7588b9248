//! Typed arguments at the edge: every command's `args` object is deserialised into its own
//! struct (unknown fields refused) and every failure becomes a [`Refusal`] naming the field by
//! its path from the command object (`args.products[2].price_fen`). Plus the value checks the
//! structs share (integer fen, basis points, batch sizes), with messages for people.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// Why a command was refused: what is wrong and, when one field is at fault, its path from the
/// command object (`id`, `effective_at`, `args.skus[3]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: Option<String>,
    pub message: String,
}

impl Refusal {
    /// A refusal naming `field`.
    pub fn at(field: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal { field: Some(field.into()), message: message.into() }
    }

    /// A refusal of the command as a whole.
    pub fn whole(message: impl Into<String>) -> Refusal {
        Refusal { field: None, message: message.into() }
    }

    /// `field: message`, or the message alone: the reply's `error`.
    pub fn error_text(&self) -> String {
        match &self.field {
            Some(f) => format!("{f}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Deserialises the command's `args` into `T`; errors name the field under `args`.
pub fn typed<T: DeserializeOwned>(args: &Value) -> Result<T, Refusal> {
    if !args.is_object() {
        return Err(Refusal::at("args", format!("expected an object, got {}", kind_of(args))));
    }
    serde_path_to_error::deserialize(args).map_err(|e| from_path_error(&e, "args"))
}

/// Deserialises one item of a batch (`args.products[2]`) into `T`.
pub fn typed_item<T: DeserializeOwned>(item: &Value, at: &str) -> Result<T, Refusal> {
    if !item.is_object() {
        return Err(Refusal::at(at, format!("expected an object, got {}", kind_of(item))));
    }
    serde_path_to_error::deserialize(item).map_err(|e| from_path_error(&e, at))
}

/// A serde error under `root` as a refusal: "missing field `x`" and "unknown field `x`" name
/// `x` itself rather than the object holding it.
pub fn from_path_error(e: &serde_path_to_error::Error<serde_json::Error>, root: &str) -> Refusal {
    let path = e.path().to_string();
    let base = if path == "." || path.is_empty() { root.to_string() } else { format!("{root}.{path}") };
    let message = e.inner().to_string();
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        return Refusal::at(format!("{base}.{name}"), "missing; it is required");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let expected = rest.split_once(", ").map(|(_, e)| format!("; {e}")).unwrap_or_default();
        // The path already ends at the unknown key.
        let field = if base.ends_with(&format!(".{name}")) { base } else { format!("{base}.{name}") };
        return Refusal::at(field, format!("unknown field{expected}"));
    }
    Refusal::at(base, message)
}

/// The items of the array `args.{field}`, 1 to `max` of them.
pub fn batch<'a>(args: &'a Value, field: &str, what: &str, max: usize) -> Result<&'a [Value], Refusal> {
    let at = format!("args.{field}");
    if !args.is_object() {
        return Err(Refusal::at("args", format!("expected an object, got {}", kind_of(args))));
    }
    let items = match args.get(field) {
        None => return Err(Refusal::at(at, "missing; it is required")),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(Refusal::at(at, format!("expected an array of {what}, got {}", kind_of(other)))),
    };
    if items.is_empty() {
        return Err(Refusal::at(at, format!("no {what} given")));
    }
    if items.len() > max {
        return Err(Refusal::at(at, format!("{} {what}; at most {max} per command: split the batch", items.len())));
    }
    Ok(items)
}

/// Refuses fields of `args` other than `allowed`, naming the first.
pub fn only_fields(value: &Value, allowed: &[&str], at: &str) -> Result<(), Refusal> {
    if let Value::Object(map) = value {
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let expected = match allowed {
                [] => "none are taken here".to_string(),
                _ => format!("expected one of {}", allowed.join(", ")),
            };
            return Err(Refusal::at(format!("{at}.{k}"), format!("unknown field; {expected}")));
        }
    }
    Ok(())
}

pub use crate::json_import::kind_of;

/// A value quoted in a message, cut to 40 characters.
pub fn quote(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(40) {
        None => text,
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

fn non_negative<'de, D: Deserializer<'de>>(d: D, expected: &str) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    match v.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(de::Error::custom(format!("expected {expected}, got {}", quote(&v)))),
    }
}

/// An amount of money: a JSON integer of fen, not negative (`1290` = ¥12.90).
pub fn fen<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    non_negative(d, "integer fen ≥ 0")
}

/// An optional amount of money: absent or `null` = none.
pub fn opt_fen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => fen(v).map(Some).map_err(de::Error::custom),
    }
}

/// A field that may be absent (outer `None`: leave as is), `null` (`Some(None)`: clear) or a
/// value. Use with `#[serde(default, deserialize_with = "args::nullable_fen")]`.
pub fn nullable_fen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    opt_fen(d).map(Some)
}

/// Basis points, a JSON integer 0..=10000 (`1300` = 13 %).
pub fn basis_points<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = Value::deserialize(d)?;
    match v.as_u64().filter(|n| *n <= 10_000) {
        Some(n) => Ok(n as u32),
        None => Err(de::Error::custom(format!("expected basis points, an integer from 0 to 10000 (1300 = 13%), got {}", quote(&v)))),
    }
}

/// An optional non-negative integer count (pieces, or grams for weighed goods).
pub fn opt_quantity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => non_negative(v, "an integer ≥ 0 (pieces, or grams for kg goods)").map(Some).map_err(de::Error::custom),
    }
}

/// Absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line {
        #[allow(dead_code)]
        sku: String,
        #[allow(dead_code)]
        #[serde(deserialize_with = "fen")]
        price_fen: i64,
        #[serde(default, deserialize_with = "nullable_fen")]
        member_price_fen: Option<Option<i64>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Lines {
        lines: Vec<Line>,
    }

    fn refusal(args: Value) -> Refusal {
        typed::<Lines>(&args).unwrap_err()
    }

    #[test]
    fn a_negative_price_is_named_by_its_path() {
        let r = refusal(json!({"lines": [{"sku": "A", "price_fen": 350}, {"sku": "B", "price_fen": 100}, {"sku": "C", "price_fen": -5}]}));
        assert_eq!(r.field.as_deref(), Some("args.lines[2].price_fen"));
        assert_eq!(r.error_text(), "args.lines[2].price_fen: expected integer fen ≥ 0, got -5");
    }

    #[test]
    fn yuan_with_decimals_are_not_fen() {
        let r = refusal(json!({"lines": [{"sku": "A", "price_fen": 12.5}]}));
        assert_eq!(r.error_text(), "args.lines[0].price_fen: expected integer fen ≥ 0, got 12.5");
        let r = refusal(json!({"lines": [{"sku": "A", "price_fen": "350"}]}));
        assert_eq!(r.error_text(), "args.lines[0].price_fen: expected integer fen ≥ 0, got \"350\"");
    }

    #[test]
    fn missing_and_unknown_fields_name_themselves() {
        let r = refusal(json!({"lines": [{"sku": "A"}]}));
        assert_eq!(r.error_text(), "args.lines[0].price_fen: missing; it is required");
        let r = refusal(json!({"lines": [{"sku": "A", "price_fen": 1, "prize_fen": 2}]}));
        assert_eq!(r.field.as_deref(), Some("args.lines[0].prize_fen"));
        assert!(r.message.starts_with("unknown field; expected one of"), "{}", r.message);
        let r = refusal(json!({"lines": [], "extra": 1}));
        assert_eq!(r.field.as_deref(), Some("args.extra"));
        assert_eq!(refusal(json!([1])).error_text(), "args: expected an object, got an array");
    }

    #[test]
    fn absent_null_and_a_value_are_three_different_things() {
        let l: Lines = typed(&json!({"lines": [
            {"sku": "A", "price_fen": 1},
            {"sku": "A", "price_fen": 1, "member_price_fen": null},
            {"sku": "A", "price_fen": 1, "member_price_fen": 90}
        ]}))
        .unwrap();
        let m: Vec<_> = l.lines.iter().map(|l| l.member_price_fen).collect();
        assert_eq!(m, vec![None, Some(None), Some(Some(90))]);
    }

    #[test]
    fn batches_have_one_to_max_items() {
        let args = json!({"skus": ["a", "b", "c"]});
        assert_eq!(batch(&args, "skus", "skus", 3).unwrap().len(), 3);
        assert_eq!(
            batch(&args, "skus", "skus", 2).unwrap_err().error_text(),
            "args.skus: 3 skus; at most 2 per command: split the batch"
        );
        assert_eq!(batch(&json!({"skus": []}), "skus", "skus", 2).unwrap_err().error_text(), "args.skus: no skus given");
        assert_eq!(batch(&json!({}), "skus", "skus", 2).unwrap_err().error_text(), "args.skus: missing; it is required");
        assert_eq!(
            batch(&json!({"skus": "a"}), "skus", "skus", 2).unwrap_err().error_text(),
            "args.skus: expected an array of skus, got a string"
        );
    }
}
