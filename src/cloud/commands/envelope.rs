//! The message around a command: the payload is either the command object itself
//! (`{"id", "effective_at"?, "args"?}`) or a signed envelope `{"signed": <command object>,
//! "signature": "<base64>"}` whose `signed` text is kept byte for byte (`RawValue`) for the
//! signature check. Owns the id rule (it becomes a topic level) and the effective time; knows
//! nothing of what a command does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use serde_json::Value;

use super::args::{kind_of, quote, Refusal};

/// Longest command id, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// A payload split into the command's exact text and its signature, if signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The command object as received: the whole payload (trimmed), or the `signed` value's
    /// exact text.
    pub command: &'a str,
    /// The base64 signature of a signed envelope.
    pub signature: Option<String>,
}

/// The command object, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandObject {
    pub id: String,
    pub effective_at: Option<DateTime<Utc>>,
    /// `{}` when absent.
    pub args: Value,
}

/// Ids are 1 to 128 of `A–Z a–z 0–9 . _ : -`: they become the reply's topic level, so no `/`,
/// `+`, `#` or spaces.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty; a command id is 1 to 128 of A-Z a-z 0-9 . _ : -".into());
    }
    let n = id.chars().count();
    if n > MAX_ID_CHARS {
        return Err(format!("{n} characters; at most {MAX_ID_CHARS}"));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))) {
        return Err(format!("{:?} contains {c:?}; a command id is 1 to 128 of A-Z a-z 0-9 . _ : -", cut(id)));
    }
    Ok(())
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(40) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

/// Splits a payload into its command text and signature. A payload with a `signed` or
/// `signature` field is a signed envelope and must have exactly those two.
pub fn split(payload: &str) -> Result<Envelope<'_>, Refusal> {
    let top: BTreeMap<String, &RawValue> = serde_json::from_str(payload).map_err(|e| {
        Refusal::whole(match serde_json::from_str::<Value>(payload) {
            Ok(v) => format!("expected a command object (or a signed envelope), got {}", kind_of(&v)),
            Err(_) => format!("not JSON: {e}"),
        })
    })?;
    if !top.contains_key("signed") && !top.contains_key("signature") {
        return Ok(Envelope { command: payload.trim(), signature: None });
    }
    if let Some(k) = top.keys().find(|k| *k != "signed" && *k != "signature") {
        return Err(Refusal::at(k.as_str(), "unknown field in a signed envelope; it has only signed and signature"));
    }
    let signed = top.get("signed").ok_or_else(|| Refusal::at("signed", "missing; a signed envelope carries the command here"))?;
    let signature = top.get("signature").ok_or_else(|| Refusal::at("signature", "missing; expected the base64 Ed25519 signature"))?;
    let signature: String = serde_json::from_str(signature.get())
        .map_err(|_| Refusal::at("signature", format!("expected a base64 string, got {}", signature.get().chars().take(40).collect::<String>())))?;
    Ok(Envelope { command: signed.get(), signature: Some(signature) })
}

/// The command text as a JSON object.
pub fn command_value(command: &str) -> Result<Value, Refusal> {
    let v: Value = serde_json::from_str(command).map_err(|e| Refusal::whole(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(Refusal::whole(format!("expected a command object {{\"id\", \"effective_at\", \"args\"}}, got {}", kind_of(&v))));
    }
    Ok(v)
}

/// The command's id, checked: what the reply's topic is named by.
pub fn read_id(command: &Value) -> Result<String, Refusal> {
    match command.get("id") {
        None => Err(Refusal::at("id", "missing; every command has an id")),
        Some(Value::String(id)) => {
            check_id(id).map_err(|e| Refusal::at("id", e))?;
            Ok(id.clone())
        }
        Some(other) => Err(Refusal::at("id", format!("expected a string, got {}", quote(other)))),
    }
}

/// The whole command object: id, optional effective time (RFC 3339 with an offset), optional
/// args object; nothing else.
pub fn parse_command(command: &Value) -> Result<CommandObject, Refusal> {
    let id = read_id(command)?;
    super::args::only_fields(command, &["id", "effective_at", "args"], "")
        .map_err(|r| Refusal { field: r.field.map(|f| f.trim_start_matches('.').to_string()), message: r.message })?;
    let effective_at = match command.get("effective_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|e| {
                    Refusal::at("effective_at", format!("expected an RFC 3339 time with offset like \"2026-11-26T07:00:00+08:00\", got {:?}: {e}", cut(s)))
                })?
                .with_timezone(&Utc),
        ),
        Some(other) => {
            return Err(Refusal::at("effective_at", format!("expected an RFC 3339 time string, got {}", quote(other))));
        }
    };
    let args = match command.get("args") {
        None => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => return Err(Refusal::at("args", format!("expected an object, got {}", kind_of(other)))),
    };
    Ok(CommandObject { id, effective_at, args })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_are_safe_topic_levels() {
        for ok in ["c-1", "2026-11-25T07:00:00Z.price:42", "A_b.C-9", &"x".repeat(128)] {
            assert_eq!(check_id(ok), Ok(()), "{ok}");
        }
        assert!(check_id("").is_err());
        assert_eq!(check_id(&"x".repeat(129)), Err("129 characters; at most 128".into()));
        for bad in ["a/b", "a+", "#", "a b", "价格"] {
            assert!(check_id(bad).unwrap_err().contains("contains"), "{bad}");
        }
    }

    #[test]
    fn an_unsigned_payload_is_its_own_command() {
        let e = split(" {\"id\":\"c-1\",\"args\":{}}\n").unwrap();
        assert_eq!(e, Envelope { command: "{\"id\":\"c-1\",\"args\":{}}", signature: None });
    }

    #[test]
    fn a_signed_payload_keeps_the_exact_command_text() {
        let payload = r#"{"signature":"c2ln","signed":  {"id":"c-1", "args":{"b":1,"a":2}} }"#;
        let e = split(payload).unwrap();
        assert_eq!(e.command, r#"{"id":"c-1", "args":{"b":1,"a":2}}"#);
        assert_eq!(e.signature.as_deref(), Some("c2ln"));
    }

    #[test]
    fn bad_envelopes_name_what_is_wrong() {
        assert_eq!(split("[1]").unwrap_err().message, "expected a command object (or a signed envelope), got an array");
        assert!(split("{\"id\":").unwrap_err().message.starts_with("not JSON"));
        assert_eq!(split(r#"{"signed":{}}"#).unwrap_err().field.as_deref(), Some("signature"));
        assert_eq!(split(r#"{"signature":"x"}"#).unwrap_err().field.as_deref(), Some("signed"));
        assert_eq!(split(r#"{"signed":{},"signature":7}"#).unwrap_err().field.as_deref(), Some("signature"));
        assert_eq!(split(r#"{"signed":{},"signature":"x","id":"c"}"#).unwrap_err().field.as_deref(), Some("id"));
    }

    #[test]
    fn the_command_object_with_and_without_an_effective_time() {
        let v = command_value(r#"{"id":"p-1","effective_at":"2026-11-26T07:00:00+08:00","args":{"sku":"A"}}"#).unwrap();
        let c = parse_command(&v).unwrap();
        assert_eq!(c.id, "p-1");
        assert_eq!(c.effective_at, Some(Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap()));
        assert_eq!(c.args["sku"], "A");
        let c = parse_command(&command_value(r#"{"id":"ping-1"}"#).unwrap()).unwrap();
        assert_eq!((c.effective_at, c.args), (None, serde_json::json!({})));
    }

    #[test]
    fn a_bad_command_object_names_the_field() {
        let refusal = |text: &str| parse_command(&command_value(text).unwrap()).unwrap_err();
        assert_eq!(refusal(r#"{"args":{}}"#).error_text(), "id: missing; every command has an id");
        assert_eq!(refusal(r#"{"id":5}"#).error_text(), "id: expected a string, got 5");
        let r = refusal(r#"{"id":"c","effective_at":"2026-11-26 07:00"}"#);
        assert_eq!(r.field.as_deref(), Some("effective_at"));
        assert!(r.message.starts_with("expected an RFC 3339 time with offset"), "{}", r.message);
        assert_eq!(refusal(r#"{"id":"c","args":[]}"#).error_text(), "args: expected an object, got an array");
        assert_eq!(refusal(r#"{"id":"c","arg":{}}"#).field.as_deref(), Some("arg"));
        assert!(command_value("3").is_err());
    }
}
