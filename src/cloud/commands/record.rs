//! What the hub remembers of each command, in `TreeId::Commands`: one [`CommandRecord`] per
//! command id (`cmd/{id}`), written in the same commit as the command's effect, so a command is
//! never applied without its record nor recorded as applied without its effect; and the index
//! of held commands in the order they fall due (`held/{effective_at}{seq}` → id).
//!
//! A record is kept after the command is decided: its id can never be used again, and a
//! repeat gets the first reply back. Content is compared by a SHA-256 of the name and the
//! command object in a canonical JSON form (keys sorted), so HQ re-serialising the same command
//! is still the same command.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Record, Store, StoreError, TreeId, Tx, TxError};

pub const RECORD_PREFIX: &[u8] = b"cmd/";
/// Prefix of the held index.
pub const HELD_PREFIX: &[u8] = b"held/";
const NEXT_SEQ_KEY: &[u8] = b"next_seq";

/// Where a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Checked and waiting for its effective time.
    Held,
    Applied,
    Refused,
}

/// One command as the hub remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub id: String,
    /// The command name (its topic's last level).
    pub name: String,
    /// Order of receipt, from 1: held commands due at the same time apply in this order.
    pub seq: u64,
    pub received_at: DateTime<Utc>,
    pub effective_at: Option<DateTime<Utc>>,
    pub state: CommandState,
    /// When it was applied or refused.
    pub decided_at: Option<DateTime<Utc>>,
    /// SHA-256 of the name and the canonical command object: "the same command".
    pub digest: [u8; 32],
    /// While held: the canonical command object, parsed again when it falls due.
    pub command_json: Option<String>,
    /// The reply (JSON text; postcard cannot hold a JSON value).
    pub reply_json: String,
    /// The `[mqtt].command_keys` entry that verified it; `None` when unsigned.
    pub signed_by: Option<String>,
}

impl Record for CommandRecord {
    const NAME: &'static str = "HQ command";
}

impl CommandRecord {
    /// The stored reply.
    pub fn reply(&self) -> Value {
        serde_json::from_str(&self.reply_json).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct NextSeq(u64);

impl Record for NextSeq {
    const NAME: &'static str = "HQ command counter";
}

fn record_key(id: &str) -> Vec<u8> {
    [RECORD_PREFIX, id.as_bytes()].concat()
}

/// Held-index key: effective time (µs since 1970, sign bit flipped so bytes sort as numbers),
/// then receipt order.
pub fn held_key(effective_at: DateTime<Utc>, seq: u64) -> Vec<u8> {
    let micros = effective_at.timestamp_micros() as u64 ^ (1 << 63);
    [HELD_PREFIX, &micros.to_be_bytes(), &seq.to_be_bytes()].concat()
}

/// The effective time a held-index key sorts by.
pub fn held_key_time(key: &[u8]) -> Option<DateTime<Utc>> {
    let t = key.strip_prefix(HELD_PREFIX)?.get(..8)?;
    let micros = (u64::from_be_bytes(t.try_into().ok()?) ^ (1 << 63)) as i64;
    DateTime::from_timestamp_micros(micros)
}

/// The record of `id`, outside a commit.
pub fn get(store: &Store, id: &str) -> Result<Option<CommandRecord>, StoreError> {
    store.get(TreeId::Commands, &record_key(id))
}

/// The record of `id`, inside a commit.
pub fn get_tx<E>(tx: &Tx, id: &str) -> Result<Option<CommandRecord>, TxError<E>> {
    tx.get(TreeId::Commands, &record_key(id))
}

/// Writes a record.
pub fn put<E>(tx: &Tx, r: &CommandRecord) -> Result<(), TxError<E>> {
    tx.put(TreeId::Commands, &record_key(&r.id), r)
}

/// The next receipt number.
pub fn next_seq<E>(tx: &Tx) -> Result<u64, TxError<E>> {
    let next = tx.get::<NextSeq, E>(TreeId::Commands, NEXT_SEQ_KEY)?.map_or(1, |n| n.0);
    tx.put(TreeId::Commands, NEXT_SEQ_KEY, &NextSeq(next + 1))?;
    Ok(next)
}

/// Adds a held command to the index.
pub fn hold<E>(tx: &Tx, r: &CommandRecord, effective_at: DateTime<Utc>) -> Result<(), TxError<E>> {
    tx.put_raw(TreeId::Commands, &held_key(effective_at, r.seq), r.id.as_bytes())
}

/// Removes a command from the held index.
pub fn unhold<E>(tx: &Tx, key: &[u8]) -> Result<(), TxError<E>> {
    tx.remove(TreeId::Commands, key).map(|_| ())
}

/// Held commands whose effective time is at or before `now`, earliest first (then in receipt
/// order), at most `limit`: (index key, command id).
pub fn due(store: &Store, now: DateTime<Utc>, limit: usize) -> Result<Vec<(Vec<u8>, String)>, StoreError> {
    let mut out = Vec::new();
    for item in store.range_from(TreeId::Commands, HELD_PREFIX) {
        let (key, id) = item?;
        if !key.starts_with(HELD_PREFIX) || out.len() >= limit {
            break;
        }
        match held_key_time(&key) {
            Some(at) if at <= now => out.push((key.to_vec(), String::from_utf8_lossy(&id).into_owned())),
            Some(_) => break,
            // A key this build did not write: skip it rather than stall the queue.
            None => continue,
        }
    }
    Ok(out)
}

/// The earliest effective time of a held command.
pub fn next_due(store: &Store) -> Result<Option<DateTime<Utc>>, StoreError> {
    match store.range_from(TreeId::Commands, HELD_PREFIX).next() {
        Some(item) => {
            let (key, _) = item?;
            Ok(if key.starts_with(HELD_PREFIX) { held_key_time(&key) } else { None })
        }
        None => Ok(None),
    }
}

/// Every record (for `storehub verify` style checks and tests), in id order.
pub fn all(store: &Store) -> Result<Vec<CommandRecord>, StoreError> {
    store.scan_prefix::<CommandRecord>(TreeId::Commands, RECORD_PREFIX).map(|r| r.map(|(_, c)| c)).collect()
}

/// `value` as JSON with every object's keys sorted and no spaces: equal for equal JSON
/// values whatever the key order or spacing they were written with.
pub fn canonical_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&map[k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// SHA-256 of `name`, a newline and the canonical command object.
pub fn digest(name: &str, canonical_command: &str) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(canonical_command.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn key_order_and_spacing_do_not_change_the_canonical_form() {
        let a: Value = serde_json::from_str(r#"{"id":"c-1", "args": {"sku":"A","price_fen":350}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"args":{"price_fen":350,"sku":"A"},"id":"c-1"}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"args":{"price_fen":350,"sku":"A"},"id":"c-1"}"#);
        assert_eq!(digest("price.set", &canonical_json(&a)), digest("price.set", &canonical_json(&b)));
        assert_ne!(digest("price.set", &canonical_json(&a)), digest("ping", &canonical_json(&a)));
        let c = json!({"id": "c-1", "args": {"sku": "A", "price_fen": 351}});
        assert_ne!(canonical_json(&a), canonical_json(&c));
        assert_eq!(canonical_json(&json!({"k": ["x\"y", null, 1.5, true]})), r#"{"k":["x\"y",null,1.5,true]}"#);
    }

    #[test]
    fn held_keys_sort_by_time_then_receipt() {
        let at = |h| Utc.with_ymd_and_hms(2026, 11, 26, h, 0, 0).unwrap();
        let before_1970 = Utc.with_ymd_and_hms(1969, 1, 1, 0, 0, 0).unwrap();
        let mut keys = vec![held_key(at(8), 1), held_key(at(7), 5), held_key(at(7), 2), held_key(before_1970, 9)];
        keys.sort();
        assert_eq!(keys, vec![held_key(before_1970, 9), held_key(at(7), 2), held_key(at(7), 5), held_key(at(8), 1)]);
        assert_eq!(held_key_time(&held_key(at(7), 2)), Some(at(7)));
        assert_eq!(held_key_time(&held_key(before_1970, 2)), Some(before_1970));
        assert_eq!(held_key_time(b"held/x"), None);
    }
}
