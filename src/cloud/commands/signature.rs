//! Ed25519 signatures of HQ commands (ring). What is signed is the bytes
//! `storehub-cmd/1\n{name}\n` followed by the exact text of the envelope's `signed` value, so
//! neither side needs a canonical JSON form, and a command signed for `cmd/ping` cannot be
//! replayed on `cmd/catalog.delete`. The hub verifies against `[mqtt].command_keys`; HQ (and the
//! `storehub cloud keygen` / `cloud sign` tools) sign with a PKCS#8 private key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};

use super::parse_public_key;
use crate::config::Config;

/// First line of every signed message: the scheme and its version.
pub const DOMAIN: &[u8] = b"storehub-cmd/1\n";

/// The bytes a signature covers.
pub fn signed_message(name: &str, command: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + name.len() + 1 + command.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(name.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(command.as_bytes());
    m
}

/// Why a command's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing: this hub accepts only commands signed by one of its [mqtt].command_keys")]
    Missing,
    #[error("{0}")]
    Malformed(String),
    #[error("does not verify with any of this hub's [mqtt].command_keys (wrong key, or the command was changed after signing)")]
    Invalid,
    #[error("this hub has no [mqtt].command_keys to verify it with")]
    NoKeys,
}

/// The hub's keys and whether a signature is required.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<[u8; 32]>,
    required: bool,
}

impl Verifier {
    pub fn new(keys: Vec<[u8; 32]>, required: bool) -> Verifier {
        Verifier { keys, required }
    }

    /// From `[mqtt].command_keys` and `require_signed_commands`.
    pub fn from_config(cfg: &Config) -> Result<Verifier, String> {
        let keys = cfg
            .mqtt
            .command_keys
            .iter()
            .enumerate()
            .map(|(i, k)| parse_public_key(k).map_err(|e| format!("[mqtt].command_keys[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if cfg.mqtt.require_signed_commands && keys.is_empty() {
            return Err("[mqtt].require_signed_commands = true needs at least one key in [mqtt].command_keys".into());
        }
        Ok(Verifier::new(keys, cfg.mqtt.require_signed_commands))
    }

    pub fn required(&self) -> bool {
        self.required
    }

    /// Checks a command's signature. `Ok(Some(key))`: verified by that key (base64);
    /// `Ok(None)`: unsigned, and signatures are not required. A signature that is present is
    /// always checked, required or not.
    pub fn check(&self, name: &str, command: &str, signature: Option<&str>) -> Result<Option<String>, SignatureError> {
        let Some(sig_b64) = signature else {
            return if self.required { Err(SignatureError::Missing) } else { Ok(None) };
        };
        let sig = STANDARD
            .decode(sig_b64.trim())
            .map_err(|e| SignatureError::Malformed(format!("expected base64 of a 64-byte Ed25519 signature: {e}")))?;
        if sig.len() != 64 {
            return Err(SignatureError::Malformed(format!("expected a 64-byte Ed25519 signature, got {} bytes", sig.len())));
        }
        if self.keys.is_empty() {
            return Err(SignatureError::NoKeys);
        }
        let message = signed_message(name, command);
        self.keys
            .iter()
            .find(|k| UnparsedPublicKey::new(&ED25519, k.as_slice()).verify(&message, &sig).is_ok())
            .map(|k| Some(STANDARD.encode(k)))
            .ok_or(SignatureError::Invalid)
    }
}

/// Signs a command (its exact text) for the topic `cmd/{name}`: the base64 signature.
pub fn sign(key: &Ed25519KeyPair, name: &str, command: &str) -> String {
    STANDARD.encode(key.sign(&signed_message(name, command)).as_ref())
}

/// The signed envelope of a command: `{"signed":<command text as given>,"signature":"…"}`.
/// `command` must be one JSON object (the caller checked it); its text is embedded unchanged.
pub fn envelope(key: &Ed25519KeyPair, name: &str, command: &str) -> String {
    let command = command.trim();
    format!("{{\"signed\":{command},\"signature\":\"{}\"}}", sign(key, name, command))
}

/// The public key of a key pair as `[mqtt].command_keys` spells it (base64 of 32 bytes).
pub fn public_key_b64(key: &Ed25519KeyPair) -> String {
    STANDARD.encode(key.public_key().as_ref())
}

/// A new key pair as a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), and its public key (base64).
pub fn generate_pem() -> Result<(String, String), String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "the system random number generator failed".to_string())?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| format!("the new key does not read back: {e}"))?;
    Ok((pem("PRIVATE KEY", pkcs8.as_ref()), public_key_b64(&pair)))
}

/// Reads an Ed25519 private key from PKCS#8 PEM: ours (`cloud keygen`, PKCS#8 v2 with the
/// public key) or OpenSSL's `openssl genpkey -algorithm ed25519` (v1, without it).
pub fn load_pem(text: &[u8]) -> Result<Ed25519KeyPair, String> {
    use rustls_pki_types::pem::PemObject as _;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(text)
        .map_err(|e| format!("expected a PEM \"PRIVATE KEY\" (PKCS#8) block: {e}"))?;
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der()).map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}"))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl genpkey -algorithm ed25519` output (PKCS#8 v1, no public key inside); its
    /// public key from `openssl pkey -pubout` is `OPENSSL_PUBLIC`.
    const OPENSSL_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFL+xBLlJ+ZmAG/OuOw8I/lXtN0931s4W+/d8dcj76tU\n-----END PRIVATE KEY-----\n";
    const OPENSSL_PUBLIC: &str = "wE8Rame7xLavVgBuFgUiGRkYSlVI+OWbB0olS/bjmi0=";

    fn pair() -> (Ed25519KeyPair, [u8; 32]) {
        let (pem, public) = generate_pem().unwrap();
        let key = load_pem(pem.as_bytes()).unwrap();
        assert_eq!(public_key_b64(&key), public);
        (key, parse_public_key(&public).unwrap())
    }

    #[test]
    fn the_message_binds_scheme_name_and_exact_text() {
        assert_eq!(signed_message("ping", "{\"id\":\"p\"}"), b"storehub-cmd/1\nping\n{\"id\":\"p\"}".to_vec());
    }

    #[test]
    fn a_signature_verifies_only_for_its_name_text_and_key() {
        let (key, public) = pair();
        let (_, other) = pair();
        let cmd = r#"{"id":"d-1","args":{"skus":["SKU-1"]}}"#;
        let sig = sign(&key, "catalog.delete", cmd);
        let v = Verifier::new(vec![other, public], true);
        assert_eq!(v.check("catalog.delete", cmd, Some(&sig)), Ok(Some(STANDARD.encode(public))));
        assert_eq!(v.check("ping", cmd, Some(&sig)), Err(SignatureError::Invalid));
        assert_eq!(v.check("catalog.delete", &cmd.replace("SKU-1", "SKU-2"), Some(&sig)), Err(SignatureError::Invalid));
        assert_eq!(v.check("catalog.delete", &cmd.replace(',', ", "), Some(&sig)), Err(SignatureError::Invalid));
        assert_eq!(Verifier::new(vec![other], true).check("catalog.delete", cmd, Some(&sig)), Err(SignatureError::Invalid));
        assert_eq!(v.check("catalog.delete", cmd, None), Err(SignatureError::Missing));
        assert!(matches!(v.check("catalog.delete", cmd, Some("!!")), Err(SignatureError::Malformed(_))));
        assert!(matches!(v.check("catalog.delete", cmd, Some("c2ln")), Err(SignatureError::Malformed(_))));
    }

    #[test]
    fn optional_signatures_still_refuse_a_bad_one() {
        let (key, public) = pair();
        let v = Verifier::new(vec![public], false);
        assert_eq!(v.check("ping", "{}", None), Ok(None));
        assert_eq!(v.check("ping", "{}", Some(&sign(&key, "ping", "{ }"))), Err(SignatureError::Invalid));
        assert_eq!(Verifier::new(vec![], false).check("ping", "{}", Some(&sign(&key, "ping", "{}"))), Err(SignatureError::NoKeys));
    }

    #[test]
    fn the_example_in_docs_cloud_md_verifies() {
        let payload = "{\"signed\":{\"id\":\"ping-20261125-0001\"},\n \"signature\":\n \"/f2ZEsI+M56wyeDM3Ipe48PgnZUhzxuhgCMXzb1nbLJquIPgXjx5I3PMpjtCYGjR0abgHoVxXqS8TuZMCph0DA==\"}";
        let split = super::super::envelope::split(payload).unwrap();
        let v = Verifier::new(vec![parse_public_key(OPENSSL_PUBLIC).unwrap()], true);
        assert_eq!(v.check("ping", split.command, split.signature.as_deref()), Ok(Some(OPENSSL_PUBLIC.to_string())));
        assert_eq!(v.check("catalog.delete", split.command, split.signature.as_deref()), Err(SignatureError::Invalid));
    }

    #[test]
    fn openssl_keys_sign_too() {
        let key = load_pem(OPENSSL_PEM.as_bytes()).unwrap();
        assert_eq!(public_key_b64(&key), OPENSSL_PUBLIC);
        let public = parse_public_key(OPENSSL_PUBLIC).unwrap();
        let env = envelope(&key, "ping", " {\"id\":\"p-1\"}\n");
        let split = super::super::envelope::split(&env).unwrap();
        assert_eq!(split.command, "{\"id\":\"p-1\"}");
        let v = Verifier::new(vec![public], true);
        assert!(v.check("ping", split.command, split.signature.as_deref()).unwrap().is_some());
        assert!(load_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    }
}
