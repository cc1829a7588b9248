//! `diag.collect` `{"log_lines"?: n}`: builds the diagnostic bundle ([`crate::diag`]: versions,
//! config without secrets, devices, recent logs, outbox, store, health) and uploads it through
//! the relay on `…/diag/{command id}/manifest` and `…/diag/{command id}/{index}` (QoS 1, before
//! the reply); the reply says where it went and what the manifest holds. Audited
//! (`diag_collected`, actor `hq`) in the command's own commit. The bundle is built before the
//! commit ([`prepare`]); a duplicate id answers with the first reply and uploads nothing again.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{typed, Refusal};
use crate::audit::{self, AuditAction};
use crate::cloud::topics::Topics;
use crate::cloud::CloudStatus;
use crate::devices::health::HealthBoard;
use crate::diag;
use crate::store::{Store, Tx, TxError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Newest log lines to include (default and most: [`diag::LOG_LINES`]).
    pub log_lines: Option<usize>,
}

/// `{}` or `{"log_lines": 0..=500}`.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    if args.is_null() {
        return Ok(Args::default());
    }
    let a: Args = typed(args)?;
    if let Some(n) = a.log_lines.filter(|n| *n > diag::LOG_LINES) {
        return Err(Refusal::at("args.log_lines", format!("{n} lines; at most {}", diag::LOG_LINES)));
    }
    Ok(a)
}

/// What the bundle is made from in the daemon, set by the relay once it is built.
#[derive(Default)]
pub struct Setup {
    pub devices: Option<Arc<HealthBoard>>,
    pub cloud: Option<Arc<CloudStatus>>,
    /// The config file's text (redacted when the bundle is built).
    pub config_text: Option<String>,
    pub outbox_budget_bytes: u64,
    pub started_at: Option<DateTime<Utc>>,
}

/// The shared setup (a lock: the relay fills it after the commands are made).
pub type SharedSetup = Arc<Mutex<Setup>>;

/// A bundle ready to publish: the messages in order (manifest first) and the reply's fields.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub messages: Vec<(String, Vec<u8>)>,
    pub fields: Map<String, Value>,
}

/// Builds and splits the bundle for command `id`. Blocking (reads the store and files).
pub fn prepare(store: &Store, setup: &SharedSetup, topics: &Topics, id: &str, args: &Args) -> Result<Prepared, Refusal> {
    if id.contains(['/', '+', '#']) {
        return Err(Refusal::at("id", "contains '/', '+' or '#', which cannot be a topic level for the bundle; use another id"));
    }
    let setup = setup.lock().unwrap_or_else(|e| e.into_inner());
    let bundle = diag::collect(&diag::Sources {
        store,
        devices: setup.devices.as_ref().map(|b| b.snapshot()),
        cloud: setup.cloud.as_ref().map(|c| c.snapshot()),
        config_text: setup.config_text.as_deref(),
        outbox_budget_bytes: setup.outbox_budget_bytes,
        started_at: setup.started_at,
        log_lines: crate::logring::recent(args.log_lines.unwrap_or(diag::LOG_LINES), None),
    });
    drop(setup);
    let bytes = serde_json::to_vec(&bundle).map_err(|e| Refusal::whole(format!("the bundle could not be written as JSON: {e}")))?;
    let upload = diag::split(&bytes, diag::PART_BYTES).map_err(Refusal::whole)?;
    let manifest_topic = topics.diag(id, "manifest");
    let mut messages = Vec::with_capacity(upload.parts.len() + 1);
    messages.push((manifest_topic.clone(), serde_json::to_vec(&upload.manifest).unwrap_or_default()));
    for (i, part) in upload.parts.into_iter().enumerate() {
        messages.push((topics.diag(id, &i.to_string()), part));
    }
    let mut fields = Map::new();
    fields.insert("topic".into(), json!(manifest_topic));
    fields.insert("parts".into(), upload.manifest["parts"].as_array().map_or(0, Vec::len).into());
    fields.insert("bytes".into(), upload.manifest["bytes"].clone());
    fields.insert("sha256".into(), upload.manifest["sha256"].clone());
    Ok(Prepared { messages, fields })
}

/// The audit entry (in the command's commit) and the reply's fields.
pub fn apply(tx: &Tx, prepared: Option<&Prepared>) -> Result<Map<String, Value>, TxError<Refusal>> {
    let Some(p) = prepared else {
        return Err(TxError::Rejected(Refusal::whole("the bundle was not built; send the command again with a new id")));
    };
    let detail = format!("bundle of {} bytes in {} parts", p.fields["bytes"], p.fields["parts"]);
    audit::record_tx(tx, "hq", AuditAction::DiagCollected, None, &detail)?;
    Ok(p.fields.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_are_empty_or_a_bounded_line_count() {
        assert_eq!(parse(&json!({})).unwrap(), Args::default());
        assert_eq!(parse(&Value::Null).unwrap(), Args::default());
        assert_eq!(parse(&json!({"log_lines": 20})).unwrap().log_lines, Some(20));
        assert_eq!(parse(&json!({"log_lines": 501})).unwrap_err().field.as_deref(), Some("args.log_lines"));
        assert!(parse(&json!({"lines": 5})).is_err());
    }
}
