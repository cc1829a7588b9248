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
