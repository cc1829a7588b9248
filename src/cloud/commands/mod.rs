//! Commands from HQ on `…/cmd/{name}`, answered on `…/cmd-reply/{id}`: parsed and checked at the
//! edge (envelope, signature, typed arguments), applied once per command id, held until their
//! effective time. docs/cloud.md ("Commands") has the message format and every command.
//!
//! The order of checks in [`Commands::handle`] is the design: a payload whose id cannot be read
//! is answered on `cmd-reply/invalid`; a signature is checked before anything is written (a
//! forged command must not burn the id HQ will use); a known id answers with the first reply
//! (`duplicate`) or is refused as reused; the arguments are typed and checked before the store
//! is touched; then the effect and the command's [`record::CommandRecord`] are one commit. A
//! refused command is recorded too (its id is spent), except when the store itself failed.
//! This module never publishes: the relay does, and acknowledges the MQTT message after
//! [`Commands::handle`] returns.

pub mod args;
pub mod catalog_delete;
pub mod catalog_upsert;
pub mod cli;
pub mod config_patch;
pub mod coupon_issue;
pub mod diag_collect;
pub mod dispatch;
pub mod envelope;
pub mod member_upsert;
pub mod message_status;
pub mod order_ingest;
pub mod ping;
pub mod price_set;
pub mod promotion_upsert;
pub mod record;
pub mod signature;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::members::LoyaltyRules;
use crate::store::{CommitError, Store, StoreError, TxError};

use super::LiveSettings;
pub use args::Refusal;
pub use config_patch::{apply_overrides, load_overrides, ConfigOverrides};
pub use dispatch::{Command, NAMES};
pub use record::{CommandRecord, CommandState};

/// An HQ public key from config: base64 (standard alphabet) of the 32 raw Ed25519 bytes.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("expected base64 of a 32-byte Ed25519 public key: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("expected a 32-byte Ed25519 public key, got {} bytes", bytes.len()))
}

/// Largest payload read; a bigger one is refused unread (1000 products are ~400 KB).
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Held commands applied by one [`Commands::run_due`] call; the rest wait for the next.
pub const MAX_DUE_PER_RUN: usize = 256;
/// Reply id (topic level) of a payload whose own id could not be read.
pub const INVALID_ID: &str = "invalid";

/// What became of one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Applied,
    /// Recorded; applied at its effective time.
    Held,
    /// Its id was seen before: nothing changed, the first reply is sent again.
    Duplicate,
    Refused,
}

/// The reply to publish on `…/cmd-reply/{id}`.
#[derive(Debug, Clone)]
pub struct CommandReply {
    /// The command's id (topic level of the reply).
    pub id: String,
    pub outcome: Outcome,
    pub body: serde_json::Value,
    /// Messages to publish before the reply (`…/diag/{id}/…` of `diag.collect`), in order.
    pub uploads: Vec<(String, Vec<u8>)>,
}

/// Counts since start, for `storehub cloud status` and telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CommandStats {
    /// Messages handled (`handle` calls).
    pub received: u64,
    /// Applied on receipt or when due.
    pub applied: u64,
    pub held: u64,
    pub duplicate: u64,
    /// Refused, for any reason (the signature refusals included).
    pub refused: u64,
    /// Refused for a missing, malformed or wrong signature.
    pub bad_signature: u64,
}

/// What the commands need besides the store.
pub struct Context {
    pub rules: LoyaltyRules,
    pub live: Arc<LiveSettings>,
    /// The hub's topics (where `diag.collect` uploads).
    pub topics: super::topics::Topics,
    /// What `diag.collect` reads besides the store (set by the relay).
    pub diag: diag_collect::SharedSetup,
}

/// The hub's command handler.
pub struct Commands {
    store: Arc<Store>,
    verifier: signature::Verifier,
    ctx: Context,
    stats: Mutex<CommandStats>,
}

/// Why a commit stopped.
enum Stop {
    /// The id has a record already (another handler got there first).
    Seen(Box<CommandRecord>),
    Refused(Refusal),
    /// A held command is no longer held (applied by a concurrent run).
    Gone,
}

/// A command as received, before it is decided.
struct Received {
    id: String,
    name: String,
    canonical: String,
    digest: [u8; 32],
    received_at: DateTime<Utc>,
    signed_by: Option<String>,
}

impl Received {
    fn record(&self, seq: u64, state: CommandState, effective_at: Option<DateTime<Utc>>, body: &Value) -> CommandRecord {
        CommandRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            seq,
            received_at: self.received_at,
            effective_at,
            state,
            decided_at: None,
            digest: self.digest,
            command_json: None,
            reply_json: body.to_string(),
            signed_by: self.signed_by.clone(),
        }
    }
}

impl Commands {
    pub fn new(store: Arc<Store>, cfg: &Config, live: Arc<LiveSettings>) -> Result<Commands, String> {
        let verifier = signature::Verifier::from_config(cfg)?;
        let diag = Arc::new(Mutex::new(diag_collect::Setup {
            outbox_budget_bytes: u64::from(cfg.mqtt.outbox_budget_mb) * 1024 * 1024,
            ..diag_collect::Setup::default()
        }));
        let ctx = Context { rules: LoyaltyRules::for_shop(cfg), live, topics: super::topics::Topics::from_config(cfg), diag };
        Ok(Commands { store, verifier, ctx, stats: Mutex::new(CommandStats::default()) })
    }

    /// One message on `…/cmd/{name}`: checked, then applied, held or refused; never panics on
    /// any payload. Blocking (it commits). The relay acknowledges the MQTT message after this
    /// returns, so a command is never lost between receipt and record.
    pub fn handle(&self, name: &str, payload: &[u8]) -> CommandReply {
        let (reply, bad_signature) = self.decide(name, payload);
        self.count(|s| {
            s.received += 1;
            s.bad_signature += u64::from(bad_signature);
        });
        self.counted(&reply);
        reply
    }

    /// Held commands whose effective time has come, applied now (earliest first, then in
    /// order of receipt; at most [`MAX_DUE_PER_RUN`] per call), with their replies.
    pub fn run_due(&self) -> Vec<CommandReply> {
        let now = self.store.clock().now();
        let due = match record::due(&self.store, now, MAX_DUE_PER_RUN) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("HQ commands: cannot read the held commands: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(due.len());
        for (key, id) in due {
            if let Some(reply) = self.apply_held(&key, &id) {
                self.counted(&reply);
                out.push(reply);
            }
        }
        out
    }

    /// When the earliest held command falls due (the relay may sleep until then).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        record::next_due(&self.store).unwrap_or_else(|e| {
            tracing::warn!("HQ commands: cannot read the held commands: {e}");
            None
        })
    }

    /// What `diag.collect` reads besides the store; the relay fills it in.
    pub fn diag_setup(&self) -> diag_collect::SharedSetup {
        Arc::clone(&self.ctx.diag)
    }

    /// Counts since start.
    pub fn stats(&self) -> CommandStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The record of command `id`, if the hub has seen it.
    pub fn record(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        record::get(&self.store, id)
    }

    fn count(&self, f: impl FnOnce(&mut CommandStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn counted(&self, reply: &CommandReply) {
        self.count(|s| match reply.outcome {
            Outcome::Applied => s.applied += 1,
            Outcome::Held => s.held += 1,
            Outcome::Duplicate => s.duplicate += 1,
            Outcome::Refused => s.refused += 1,
        });
        let status = reply.body.get("status").and_then(Value::as_str).unwrap_or("");
        match reply.outcome {
            Outcome::Refused => {
                let error = reply.body.get("error").and_then(Value::as_str).unwrap_or("");
                tracing::warn!(id = reply.id.as_str(), "HQ command refused: {error}");
            }
            _ => tracing::info!(id = reply.id.as_str(), outcome = ?reply.outcome, status, "HQ command"),
        }
    }

    /// The checks and the decision, in the order the module doc gives. The flag says whether
    /// the signature was the reason for a refusal.
    fn decide(&self, name: &str, payload: &[u8]) -> (CommandReply, bool) {
        let invalid = |r: Refusal| (refused(INVALID_ID, name, &r), false);
        if payload.len() > MAX_PAYLOAD_BYTES {
            return invalid(Refusal::whole(format!("payload is {} bytes; at most {MAX_PAYLOAD_BYTES}", payload.len())));
        }
        let Ok(text) = std::str::from_utf8(payload) else {
            return invalid(Refusal::whole("payload is not UTF-8 text"));
        };
        let envelope = match envelope::split(text) {
            Ok(e) => e,
            Err(r) => return invalid(r),
        };
        let value = match envelope::command_value(envelope.command) {
            Ok(v) => v,
            Err(r) => return invalid(r),
        };
        let id = match envelope::read_id(&value) {
            Ok(id) => id,
            Err(r) => return invalid(r),
        };
        let signed_by = match self.verifier.check(name, envelope.command, envelope.signature.as_deref()) {
            Ok(k) => k,
            Err(e) => return (refused(&id, name, &Refusal::at("signature", e.to_string())), true),
        };
        let canonical = record::canonical_json(&value);
        let digest = record::digest(name, &canonical);
        match record::get(&self.store, &id) {
            Ok(Some(rec)) => return (seen(&rec, &id, name, &digest), false),
            Ok(None) => {}
            Err(e) => return (store_failed(&id, name, &e), false),
        }
        let rx = Received { id, name: name.to_string(), canonical, digest, received_at: self.store.clock().now(), signed_by };
        let parsed = envelope::parse_command(&value).and_then(|obj| Command::parse(name, &obj.args).map(|c| (obj, c)));
        let (obj, command) = match parsed {
            Ok(p) => p,
            Err(r) => return (self.record_refusal(&rx, None, &r), false),
        };
        let reply = match obj.effective_at {
            Some(at) if at > rx.received_at => self.hold(&rx, at),
            at => self.apply_now(&rx, at, &command),
        };
        (reply, false)
    }

    fn hold(&self, rx: &Received, at: DateTime<Utc>) -> CommandReply {
        let result = self.store.commit(|tx| {
            if let Some(rec) = record::get_tx(tx, &rx.id)? {
                return Err(TxError::Rejected(Stop::Seen(Box::new(rec))));
            }
            let seq = record::next_seq(tx)?;
            let body = json!({ "id": rx.id, "command": rx.name, "status": "held", "effective_at": rfc3339(at) });
            let mut rec = rx.record(seq, CommandState::Held, Some(at), &body);
            rec.command_json = Some(rx.canonical.clone());
            record::put(tx, &rec)?;
            record::hold(tx, &rec, at)?;
            Ok(body)
        });
        match result {
            Ok(body) => CommandReply { id: rx.id.clone(), outcome: Outcome::Held, body, uploads: Vec::new() },
            Err(e) => self.stopped(rx, Some(at), e),
        }
    }

    fn apply_now(&self, rx: &Received, effective_at: Option<DateTime<Utc>>, command: &Command) -> CommandReply {
        let prepared = match command.prepare(&self.store, &self.ctx, &rx.id) {
            Ok(p) => p,
            Err(r) => return self.record_refusal(rx, effective_at, &r),
        };
        let result = self.store.commit(|tx| {
            if let Some(rec) = record::get_tx(tx, &rx.id)? {
                return Err(TxError::Rejected(Stop::Seen(Box::new(rec))));
            }
            let seq = record::next_seq(tx)?;
            let fields = command.apply(tx, &self.ctx, prepared.as_ref()).map_err(|e| e.map_rejected(Stop::Refused))?;
            let body = applied(&rx.id, &rx.name, effective_at, tx.now(), fields);
            let mut rec = rx.record(seq, CommandState::Applied, effective_at, &body);
            rec.decided_at = Some(tx.now());
            record::put(tx, &rec)?;
            Ok(body)
        });
        match result {
            Ok(body) => {
                command.after_commit(&self.ctx);
                let uploads = prepared.map(|p| p.messages).unwrap_or_default();
                CommandReply { id: rx.id.clone(), outcome: Outcome::Applied, body, uploads }
            }
            Err(e) => self.stopped(rx, effective_at, e),
        }
    }

    fn stopped(&self, rx: &Received, effective_at: Option<DateTime<Utc>>, e: CommitError<Stop>) -> CommandReply {
        match e {
            CommitError::Rejected(Stop::Seen(rec)) => seen(&rec, &rx.id, &rx.name, &rx.digest),
            CommitError::Rejected(Stop::Refused(r)) => self.record_refusal(rx, effective_at, &r),
            CommitError::Rejected(Stop::Gone) => refused(&rx.id, &rx.name, &Refusal::whole("decided by another handler meanwhile")),
            CommitError::Store(e) => store_failed(&rx.id, &rx.name, &e),
        }
    }

    /// Records a refusal (its own commit: the refused effect wrote nothing) and returns it.
    fn record_refusal(&self, rx: &Received, effective_at: Option<DateTime<Utc>>, r: &Refusal) -> CommandReply {
        let body = refused(&rx.id, &rx.name, r).body;
        let result = self.store.commit(|tx| {
            if let Some(rec) = record::get_tx(tx, &rx.id)? {
                return Err(TxError::Rejected(Stop::Seen(Box::new(rec))));
            }
            let seq = record::next_seq(tx)?;
            let mut rec = rx.record(seq, CommandState::Refused, effective_at, &body);
            rec.decided_at = Some(tx.now());
            record::put(tx, &rec)
        });
        match result {
            Ok(()) => CommandReply { id: rx.id.clone(), outcome: Outcome::Refused, body, uploads: Vec::new() },
            Err(CommitError::Rejected(Stop::Seen(rec))) => seen(&rec, &rx.id, &rx.name, &rx.digest),
            // Not recorded: the refusal stands; the id stays free.
            Err(_) => CommandReply { id: rx.id.clone(), outcome: Outcome::Refused, body, uploads: Vec::new() },
        }
    }

    /// Applies one held command that has fallen due; `None` when there is nothing to say (it
    /// was decided meanwhile, or the store failed and it stays held for the next run).
    fn apply_held(&self, key: &[u8], id: &str) -> Option<CommandReply> {
        let rec = match record::get(&self.store, id) {
            Ok(Some(r)) if r.state == CommandState::Held => r,
            Ok(_) => {
                // An index entry without its held record (cannot happen through this module).
                let _ = self.store.commit(|tx| record::unhold::<()>(tx, key));
                return None;
            }
            Err(e) => {
                tracing::warn!(id, "HQ commands: cannot read held command: {e}");
                return None;
            }
        };
        let parsed = rec
            .command_json
            .as_deref()
            .ok_or_else(|| Refusal::whole("the held command's text is missing"))
            .and_then(envelope::command_value)
            .and_then(|v| envelope::parse_command(&v))
            .and_then(|obj| Command::parse(&rec.name, &obj.args));
        let prepared = match &parsed {
            Ok(command) => command.prepare(&self.store, &self.ctx, id),
            Err(_) => Ok(None),
        };
        let result = match (&parsed, prepared.as_ref()) {
            (_, Err(r)) => Err(CommitError::Rejected(Stop::Refused(r.clone()))),
            (Ok(command), _) => self.store.commit(|tx| {
                let Some(mut current) = record::get_tx::<Stop>(tx, id)?.filter(|r| r.state == CommandState::Held && r.seq == rec.seq) else {
                    return Err(TxError::Rejected(Stop::Gone));
                };
                let fields = command.apply(tx, &self.ctx, prepared.as_ref().ok().and_then(Option::as_ref)).map_err(|e| e.map_rejected(Stop::Refused))?;
                let body = applied(id, &rec.name, rec.effective_at, tx.now(), fields);
                current.state = CommandState::Applied;
                current.decided_at = Some(tx.now());
                current.command_json = None;
                current.reply_json = body.to_string();
                record::put(tx, &current)?;
                record::unhold(tx, key)?;
                Ok(body)
            }),
            (Err(r), _) => Err(CommitError::Rejected(Stop::Refused(r.clone()))),
        };
        match result {
            Ok(body) => {
                if let Ok(command) = &parsed {
                    command.after_commit(&self.ctx);
                }
                let uploads = prepared.ok().flatten().map(|p| p.messages).unwrap_or_default();
                Some(CommandReply { id: id.to_string(), outcome: Outcome::Applied, body, uploads })
            }
            Err(CommitError::Rejected(Stop::Refused(r))) => {
                let mut body = refused(id, &rec.name, &r).body;
                if let Some(at) = rec.effective_at {
                    body["effective_at"] = json!(rfc3339(at));
                }
                let written = self.store.commit(|tx| {
                    let Some(mut current) = record::get_tx::<Stop>(tx, id)?.filter(|r| r.state == CommandState::Held) else {
                        return Err(TxError::Rejected(Stop::Gone));
                    };
                    current.state = CommandState::Refused;
                    current.decided_at = Some(tx.now());
                    current.command_json = None;
                    current.reply_json = body.to_string();
                    record::put(tx, &current)?;
                    record::unhold(tx, key)
                });
                match written {
                    Ok(()) => Some(CommandReply { id: id.to_string(), outcome: Outcome::Refused, body, uploads: Vec::new() }),
                    Err(CommitError::Rejected(_)) => None,
                    Err(CommitError::Store(e)) => {
                        tracing::warn!(id, "HQ commands: cannot record the refusal of a held command: {e}");
                        None
                    }
                }
            }
            Err(CommitError::Rejected(_)) => None,
            Err(CommitError::Store(e)) => {
                tracing::warn!(id, "HQ commands: held command not applied, will retry: {e}");
                None
            }
        }
    }
}

/// A time as replies spell it: RFC 3339, UTC, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn applied(id: &str, name: &str, effective_at: Option<DateTime<Utc>>, at: DateTime<Utc>, fields: Map<String, Value>) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), json!(id));
    body.insert("command".into(), json!(name));
    body.insert("status".into(), json!("applied"));
    body.insert("applied_at".into(), json!(rfc3339(at)));
    if let Some(e) = effective_at {
        body.insert("effective_at".into(), json!(rfc3339(e)));
    }
    body.extend(fields);
    Value::Object(body)
}

/// `{"id", "command", "status": "refused", "error", "field"?}`.
fn refused(id: &str, name: &str, r: &Refusal) -> CommandReply {
    let mut body = json!({ "id": id, "command": name.chars().take(64).collect::<String>(), "status": "refused", "error": r.error_text() });
    if let Some(f) = &r.field {
        body["field"] = json!(f);
    }
    CommandReply { id: id.to_string(), outcome: Outcome::Refused, body, uploads: Vec::new() }
}

/// A command whose id has a record: the same command again, or the id used for another one.
fn seen(rec: &CommandRecord, id: &str, name: &str, digest: &[u8; 32]) -> CommandReply {
    if rec.name == name && rec.digest == *digest {
        let mut body = rec.reply();
        if let Some(o) = body.as_object_mut() {
            o.insert("duplicate".into(), json!(true));
        }
        return CommandReply { id: id.to_string(), outcome: Outcome::Duplicate, body, uploads: Vec::new() };
    }
    let message = format!(
        "id reused: {id:?} was already used by a different {} command received at {}; every command needs a new id",
        rec.name,
        rfc3339(rec.received_at)
    );
    refused(id, name, &Refusal::at("id", message))
}

fn store_failed(id: &str, name: &str, e: &StoreError) -> CommandReply {
    refused(id, name, &Refusal::whole(format!("not applied: the hub could not use its database ({e}); send the command again with the same id")))
}
