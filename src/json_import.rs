//! JSON import files: `storehub promotions import FILE` and `storehub coupons template-add FILE`.
//! Owns turning a file holding an array of records (or one record) into typed values, or into a
//! report naming the file, the array index, the record's id and the field at fault, for every bad
//! record at once, so an import writes all or nothing. Fields the type does not know are errors
//! (a misspelt optional field would otherwise be dropped in silence). It never touches the store,
//! never prints and never panics; what each record type accepts is its [`JsonRecord`] impl.
//!
//! ```text
//! promos.json: [1] (id "P-2"): kind.bp: 12000 bp is more than 100% (10000 bp)
//! promos.json: [2]: window.end: premature end of input
//! ```

use std::collections::HashMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Errors kept in a [`JsonFileReport`]; the rest are only counted.
pub const MAX_ERRORS: usize = 100;

/// A bad value in a record: the field (dotted path inside the record) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// A record type that can be imported from JSON.
pub trait JsonRecord: DeserializeOwned {
    /// What a record is called in messages: "promotion", "coupon template".
    const WHAT: &'static str;
    /// The record's id (unique in a file).
    fn id(&self) -> &str;
    /// Paths of the fields in `value` (one record as JSON) that the type does not know.
    fn unknown_fields(value: &Value) -> Vec<String>;
    /// The record's own rules, beyond its JSON shape.
    fn check(&self) -> Result<(), FieldError>;
}

/// One problem in an import file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonFileError {
    /// Index in the top-level array; `None` for problems of the file as a whole or a file
    /// holding one record.
    pub index: Option<usize>,
    /// Id of the record, when it could be read.
    pub id: Option<String>,
    /// Dotted path of the field inside the record (`kind.bp`), when one is at fault.
    pub field: Option<String>,
    pub message: String,
}

/// Everything wrong with an import file. `Display` writes one error per line,
/// `file: [index] (id "…"): field: message`, and "… and N more errors" when some were cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonFileReport {
    pub file_name: String,
    pub errors: Vec<JsonFileError>,
    /// Errors found beyond those in `errors`.
    pub omitted: usize,
}

impl JsonFileReport {
    fn push(&mut self, e: JsonFileError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.omitted += 1;
        }
    }
}

impl fmt::Display for JsonFileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:", self.file_name)?;
            if let Some(index) = e.index {
                write!(f, " [{index}]")?;
            }
            if let Some(id) = &e.id {
                write!(f, " (id {id:?})")?;
            }
            if e.index.is_some() || e.id.is_some() {
                write!(f, ":")?;
            }
            if let Some(field) = &e.field {
                write!(f, " {field}:")?;
            }
            write!(f, " {}", e.message)?;
        }
        if self.omitted > 0 {
            write!(f, "\n… and {} more errors", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for JsonFileReport {}

/// Reads every record of `bytes` (a JSON array of records, or one record) or reports every bad
/// one. Ids must be unique in the file.
pub fn parse_records<T: JsonRecord>(bytes: &[u8], file_name: &str) -> Result<Vec<T>, JsonFileReport> {
    let mut report = JsonFileReport { file_name: file_name.to_string(), errors: Vec::new(), omitted: 0 };
    let whole = |message: String| JsonFileError { index: None, id: None, field: None, message };
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let message = format!("line {} column {}: not valid JSON: {e}", e.line(), e.column());
            report.push(whole(message));
            return Err(report);
        }
    };
    let items: Vec<(Option<usize>, Value)> = match value {
        Value::Array(items) => items.into_iter().enumerate().map(|(i, v)| (Some(i), v)).collect(),
        obj @ Value::Object(_) => vec![(None, obj)],
        other => {
            report.push(whole(format!(
                "expected an array of {what}s (or one {what} object), found {}",
                kind_of(&other),
                what = T::WHAT
            )));
            return Err(report);
        }
    };
    if items.is_empty() {
        report.push(whole(format!("the file holds no {}s", T::WHAT)));
        return Err(report);
    }
    let mut out = Vec::with_capacity(items.len());
    let mut seen: HashMap<String, Option<usize>> = HashMap::new();
    for (index, item) in items {
        let id = item.get("id").and_then(Value::as_str).map(str::to_string);
        let err = |field: Option<String>, message: String| JsonFileError { index, id: id.clone(), field, message };
        if !item.is_object() {
            report.push(err(None, format!("expected a {} object, found {}", T::WHAT, kind_of(&item))));
            continue;
        }
        let unknown = T::unknown_fields(&item);
        if !unknown.is_empty() {
            for field in unknown {
                report.push(err(Some(field), format!("unknown field (a typo?); see the {} format", T::WHAT)));
            }
            continue;
        }
        let record: T = match serde_path_to_error::deserialize(&item) {
            Ok(r) => r,
            Err(e) => {
                let (field, message) = serde_field(&e);
                report.push(err(field, message));
                continue;
            }
        };
        if let Err(e) = record.check() {
            report.push(err(Some(e.field), e.message));
            continue;
        }
        if let Some(first) = seen.get(record.id()) {
            let first = first.map_or_else(String::new, |i| format!(" [{i}]"));
            report.push(err(Some("id".into()), format!("duplicate of{first}: ids must be unique in the file")));
            continue;
        }
        seen.insert(record.id().to_string(), index);
        out.push(record);
    }
    if report.errors.is_empty() && report.omitted == 0 {
        Ok(out)
    } else {
        Err(report)
    }
}

/// Field path and message of a serde error; "missing field `x`" names `x` as the field.
fn serde_field(e: &serde_path_to_error::Error<serde_json::Error>) -> (Option<String>, String) {
    let path = e.path().to_string();
    let message = e.inner().to_string();
    let base = if path == "." || path.is_empty() { None } else { Some(path) };
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        let field = match &base {
            Some(b) => format!("{b}.{name}"),
            None => name.to_string(),
        };
        return (Some(field), "missing; it is required".to_string());
    }
    (base, message)
}

/// "a string", "an array" … for error messages about a JSON value.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Appends to `out` the keys of `value` (if an object) not in `allowed`, as `prefix` + key.
pub fn unknown_keys(value: &Value, allowed: &[&str], prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                out.push(format!("{prefix}{key}"));
            }
        }
    }
}

/// Checks an id used as a store key and typed at the CLI: 1–64 characters, no whitespace or
/// control characters.
pub fn check_id(id: &str) -> Result<(), FieldError> {
    let n = id.chars().count();
    if n == 0 {
        return Err(FieldError::new("id", "is empty"));
    }
    if n > 64 {
        return Err(FieldError::new("id", format!("is {n} characters long; at most 64")));
    }
    if let Some(ch) = id.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new("id", format!("{id:?} contains {ch:?}; ids have no spaces or control characters")));
    }
    Ok(())
}

/// Checks a receipt name: at most 100 characters.
pub fn check_name(field: &str, name: &str) -> Result<(), FieldError> {
    let n = name.chars().count();
    if n > 100 {
        return Err(FieldError::new(field, format!("is {n} characters long; at most 100")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Thing {
        id: String,
        qty: u32,
    }
    impl JsonRecord for Thing {
        const WHAT: &'static str = "thing";
        fn id(&self) -> &str {
            &self.id
        }
        fn unknown_fields(value: &Value) -> Vec<String> {
            let mut out = Vec::new();
            unknown_keys(value, &["id", "qty"], "", &mut out);
            out
        }
        fn check(&self) -> Result<(), FieldError> {
            if self.qty > 10 {
                return Err(FieldError::new("qty", format!("{} is more than 10", self.qty)));
            }
            check_id(&self.id)
        }
    }

    fn report(text: &str) -> String {
        match parse_records::<Thing>(text.as_bytes(), "t.json") {
            Ok(v) => panic!("accepted {} things", v.len()),
            Err(r) => r.to_string(),
        }
    }

    #[test]
    fn every_bad_record_is_named_by_index_id_and_field() {
        let text = r#"[{"id":"a","qty":1},{"id":"b","qty":"x"},{"id":"c"},{"id":"d","qty":11},{"id":"a","qty":2},{"id":"e","qtty":1}]"#;
        let lines: Vec<String> = report(text).lines().map(str::to_string).collect();
        assert_eq!(
            lines,
            vec![
                r#"t.json: [1] (id "b"): qty: invalid type: string "x", expected u32"#,
                r#"t.json: [2] (id "c"): qty: missing; it is required"#,
                r#"t.json: [3] (id "d"): qty: 11 is more than 10"#,
                r#"t.json: [4] (id "a"): id: duplicate of [0]: ids must be unique in the file"#,
                r#"t.json: [5] (id "e"): qtty: unknown field (a typo?); see the thing format"#,
            ]
        );
    }

    #[test]
    fn a_file_that_is_not_an_array_of_records_is_refused() {
        assert!(report("[{\"id\":").starts_with("t.json: line 1 column 7: not valid JSON"), "{}", report("[{\"id\":"));
        assert_eq!(report("[]"), "t.json: the file holds no things");
        assert_eq!(report("3"), "t.json: expected an array of things (or one thing object), found a number");
        assert_eq!(report("[3]"), "t.json: [0]: expected a thing object, found a number");
        let one = parse_records::<Thing>(br#"{"id":"z","qty":3}"#, "t.json").unwrap();
        assert_eq!((one[0].id.as_str(), one[0].qty), ("z", 3));
    }
}
