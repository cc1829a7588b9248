//! `ping`: no arguments; proves the path HQ → hub → HQ and says what the hub is running.
//! Recorded like any command, so a repeated ping id answers as a duplicate.

use serde_json::{json, Map, Value};

use super::args::{only_fields, Refusal};
use super::rfc3339;
use crate::store::Tx;

/// `args` must be empty (`{}` or absent).
pub fn parse(args: &Value) -> Result<(), Refusal> {
    only_fields(args, &[], "args")
}

/// `{"pong": true, "time": …, "version": …}`.
pub fn apply(tx: &Tx) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("pong".into(), json!(true));
    m.insert("time".into(), json!(rfc3339(tx.now())));
    m.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    m
}
