//! `message.status` `{"message_id", "status": "delivered"|"failed"|"clicked", "reason"?, "at"?}`:
//! HQ reports what became of a message it was asked to send (`storehub.message.requested`). The
//! message changes in the command's commit and `storehub.message.status_changed` is emitted
//! (`members::messages::apply_status_in_tx`, which holds the state rules). A report of the state
//! the message is already in is a success that changes nothing (`"changed": false`).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{typed, Refusal};
use crate::members::messages::{self, MessageError, StatusReport};
use crate::store::{Tx, TxError};

/// Longest failure reason kept, in characters.
const REASON_MAX_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    message_id: u64,
    status: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub message_id: u64,
    pub report: StatusReport,
    /// When it happened at the vendor; the commit's time when absent.
    pub at: Option<DateTime<Utc>>,
}

/// Types the arguments: a known status, a reason exactly with `failed`.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    let raw: Raw = typed(args)?;
    let report = match (raw.status.as_str(), raw.reason) {
        ("delivered", None) => StatusReport::Delivered,
        ("clicked", None) => StatusReport::Clicked,
        ("failed", Some(reason)) => {
            let reason = reason.trim().to_string();
            let n = reason.chars().count();
            if n == 0 || n > REASON_MAX_CHARS || reason.chars().any(char::is_control) {
                return Err(Refusal::at(
                    "args.reason",
                    format!("expected 1 to {REASON_MAX_CHARS} characters without control characters, got {n}"),
                ));
            }
            StatusReport::Failed { reason }
        }
        ("failed", None) => return Err(Refusal::at("args.reason", "missing; required with status \"failed\"")),
        ("delivered" | "clicked", Some(_)) => {
            return Err(Refusal::at("args.reason", "only given with status \"failed\""));
        }
        (other, _) => {
            return Err(Refusal::at(
                "args.status",
                format!("expected \"delivered\", \"failed\" or \"clicked\", got {:?}", other.chars().take(64).collect::<String>()),
            ))
        }
    };
    Ok(Args { message_id: raw.message_id, report, at: raw.at })
}

/// Applies the report inside `tx`: `{"message_id", "state", "clicked", "changed"}`.
pub fn apply(tx: &Tx, a: &Args) -> Result<Map<String, Value>, TxError<Refusal>> {
    let now = tx.now();
    let at = a.at.unwrap_or(now);
    if at > now + Duration::hours(1) {
        return Err(TxError::Rejected(Refusal::at("args.at", format!("{} is in the future (hub time {})", at.to_rfc3339(), now.to_rfc3339()))));
    }
    let changed = messages::apply_status_in_tx(tx, a.message_id, &a.report, at).map_err(|e| {
        e.map_rejected(|e| match e {
            MessageError::UnknownMessage(id) => Refusal::at("args.message_id", format!("no message {id} on this hub")),
            MessageError::Status { field, message } => Refusal::at(format!("args.{field}"), message),
            other => Refusal::whole(other.to_string()),
        })
    })?;
    let m = match &changed {
        Some(m) => m.clone(),
        None => match messages::message_tx(tx, a.message_id)? {
            Some(m) => m,
            None => return Err(TxError::Rejected(Refusal::at("args.message_id", format!("no message {} on this hub", a.message_id)))),
        },
    };
    let mut out = Map::new();
    out.insert("message_id".into(), json!(m.id));
    out.insert("state".into(), json!(m.state));
    out.insert("clicked".into(), json!(m.clicked_at.is_some()));
    out.insert("changed".into(), json!(changed.is_some()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_reason_are_checked() {
        let a = parse(&json!({"message_id": 7, "status": "failed", "reason": "用户拒收"})).unwrap();
        assert_eq!(a.report, StatusReport::Failed { reason: "用户拒收".into() });
        assert_eq!(
            parse(&json!({"message_id": 7, "status": "read"})).unwrap_err().error_text(),
            "args.status: expected \"delivered\", \"failed\" or \"clicked\", got \"read\""
        );
        assert_eq!(parse(&json!({"message_id": 7, "status": "failed"})).unwrap_err().field.as_deref(), Some("args.reason"));
        assert_eq!(parse(&json!({"message_id": "x", "status": "delivered"})).unwrap_err().field.as_deref(), Some("args.message_id"));
        assert_eq!(parse(&json!({"message_id": 7, "status": "clicked", "at": "yesterday"})).unwrap_err().field.as_deref(), Some("args.at"));
        assert_eq!(parse(&json!({"message_id": 7})).unwrap_err().error_text(), "args.status: missing; it is required");
    }
}
