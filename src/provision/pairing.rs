//! Pairing with HQ (配对), the pure part: the pairing code, the request the box publishes, the
//! signed config bundle HQ replies with, how the box checks it, and the config overlay it
//! writes. The MQTT loop, files and page are in `provision::pairing_mode`.
//!
//! Threat model, in three lines:
//! 1. Anyone who can publish on the pairing broker can answer a box: a bundle is taken only with
//!    an Ed25519 signature by HQ's pairing key (`[pairing].hq_key`, shipped in the box's config).
//! 2. HQ could sign for the wrong box (an operator's slip, a replayed reply): the signed bundle
//!    names the box id and carries the code shown on this box's screen; both must match.
//! 3. Whoever may subscribe to the reply topic reads the bundle: its broker password travels
//!    sealed to the box (`password_sealed`: libsodium's `crypto_box_seal` to the request's
//!    `seal_key`, an X25519 key whose secret never leaves `DATA/pairing/seal.key`). Not covered:
//!    a plain `password`, still taken for brokers that restrict `storehub/pairing/reply/#`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::config::{Id, MqttUrl};

/// Scheme and version; the first line of every signed or hashed input.
pub const DOMAIN: &str = "storehub-pair/1\n";
/// Unambiguous code alphabet: digits and capitals without 0, 1, I, L and O.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a pairing code (31^8 ≈ 8.5e11 codes).
pub const CODE_LEN: usize = 8;
/// Largest reply read; a bigger one is refused unread.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// First topic levels of pairing messages (fixed: the box has no config prefix yet).
pub const TOPIC_ROOT: &str = "storehub/pairing";

/// Topic of a box's request (retained, QoS 1).
pub fn request_topic(box_id: &str) -> String {
    format!("{TOPIC_ROOT}/request/{box_id}")
}

/// Topic HQ answers a box on.
pub fn reply_topic(box_id: &str) -> String {
    format!("{TOPIC_ROOT}/reply/{box_id}")
}

/// A new pairing code from 8 random bytes (each taken modulo 31; the bias, 8/256 towards the
/// first 8 letters, costs under 0.2 bit of the code's 39.6).
pub fn new_code(random: [u8; CODE_LEN]) -> String {
    random.iter().map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char).collect()
}

/// A code as shown: `ABCD-EFGH`.
pub fn show_code(code: &str) -> String {
    if code.len() == CODE_LEN {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_string()
    }
}

/// A code as typed (any case, with or without the dash or spaces) made canonical.
pub fn normalize_code(typed: &str) -> String {
    typed.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// A new box id, `box-` and 12 lowercase letters and digits (a valid topic level and [`Id`]).
pub fn new_box_id(random: [u8; 12]) -> String {
    const A: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let tail: String = random.iter().map(|b| A[usize::from(*b) % A.len()] as char).collect();
    format!("box-{tail}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `code_hash` of the request: hex SHA-256 of `storehub-pair/1\n{box_id}\n{code}`. HQ finds the
/// box an operator means by hashing the typed code with each waiting box's id.
pub fn code_hash(box_id: &str, code: &str) -> String {
    let input = format!("{DOMAIN}{box_id}\n{code}");
    hex(ring::digest::digest(&ring::digest::SHA256, input.as_bytes()).as_ref())
}

/// What the box publishes on [`request_topic`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingRequest {
    pub v: u32,
    pub box_id: String,
    pub code_hash: String,
    /// Fingerprint of the box's key (see `provision::tls::fingerprint`), shown beside the code.
    pub fingerprint: String,
    /// A CSR for the box's key (CN = box id), for HQ to sign when it uses mutual TLS.
    pub csr_pem: String,
    /// The box's X25519 public key (base64, 32 bytes) that HQ seals the broker password to
    /// ([`SealKey`]).
    pub seal_key: String,
    /// storehub's version.
    pub version: String,
}

/// The config HQ sends (signed). `code` is what the operator typed at HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub v: u32,
    pub box_id: String,
    pub code: String,
    pub chain_id: String,
    pub store_id: String,
    pub hub_id: String,
    pub store_name: String,
    /// The store's broker (where the relay connects after pairing).
    pub broker: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The broker password in clear: only for a pairing broker that lets nobody else read
    /// `storehub/pairing/reply/#`; else [`Bundle::password_sealed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The broker password sealed to the request's `seal_key` (base64 of libsodium's
    /// `crypto_box_seal`). [`accept`] opens it into `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_sealed: Option<String>,
    /// The CA that signed the store broker's certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The box's certificate, signed for the request's CSR (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    /// HQ's command-signing public keys (base64 of 32 bytes).
    pub command_keys: Vec<String>,
    pub issued_at: String,
}

/// What HQ publishes on [`reply_topic`]: the bundle as JSON *text* and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingReply {
    pub bundle: String,
    pub signature: String,
}

/// The bytes HQ signs: `storehub-pair/1\n{box_id}\n{bundle text}`.
pub fn signed_input(box_id: &str, bundle: &str) -> Vec<u8> {
    format!("{DOMAIN}{box_id}\n{bundle}").into_bytes()
}

/// HQ's side (and the tests'): signs a bundle with a PKCS#8 Ed25519 key.
pub fn sign_reply(pkcs8: &[u8], box_id: &str, bundle: &str) -> Result<PairingReply, String> {
    let key = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|e| format!("not a PKCS#8 Ed25519 key: {e}"))?;
    let sig = key.sign(&signed_input(box_id, bundle));
    Ok(PairingReply { bundle: bundle.to_string(), signature: STANDARD.encode(sig.as_ref()) })
}

/// The box's key for secrets HQ sends it (X25519; libsodium sealed boxes, so HQ's side is one
/// `crypto_box_seal` call in any language). The secret is 32 random bytes kept in
/// `DATA/pairing/seal.key`; `Debug` never shows it.
pub struct SealKey(crypto_box::SecretKey);

impl SealKey {
    pub fn from_bytes(secret: [u8; 32]) -> SealKey {
        SealKey(crypto_box::SecretKey::from_bytes(secret))
    }

    /// The public key as the request carries it (base64 of 32 bytes).
    pub fn public_b64(&self) -> String {
        STANDARD.encode(self.0.public_key().as_bytes())
    }

    /// Opens a sealed box (`crypto_box_seal_open`); `None` when it was not sealed to this key
    /// or was changed.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        self.0.unseal(sealed).ok()
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKey({})", self.public_b64())
    }
}

/// Why a reply was refused (nothing is written for any of them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("reply of {0} bytes is over the {MAX_REPLY_BYTES}-byte limit")]
    TooBig(usize),
    #[error("reply is not the pairing reply JSON {{\"bundle\": TEXT, \"signature\": BASE64}}: {0}")]
    Malformed(String),
    #[error("signature is not base64 of 64 bytes")]
    BadSignature,
    #[error("signature does not verify with [pairing].hq_key (not signed by HQ, or changed after signing)")]
    NotHq,
    #[error("bundle is not valid: {0}")]
    BadBundle(String),
    #[error("bundle is for box {0}, not this one")]
    OtherBox(String),
    #[error("bundle carries a different pairing code than this box shows (the operator typed another box's code?)")]
    WrongCode,
}

/// Checks a reply against this box's id and code and HQ's pairing key; the bundle on success,
/// with a sealed password opened with `seal` into `password`.
pub fn accept(payload: &[u8], box_id: &str, code: &str, hq_key: &[u8; 32], seal: &SealKey) -> Result<Bundle, Refused> {
    if payload.len() > MAX_REPLY_BYTES {
        return Err(Refused::TooBig(payload.len()));
    }
    let reply: PairingReply = serde_json::from_slice(payload).map_err(|e| Refused::Malformed(e.to_string()))?;
    let sig = STANDARD.decode(reply.signature.trim()).map_err(|_| Refused::BadSignature)?;
    if sig.len() != 64 {
        return Err(Refused::BadSignature);
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, hq_key)
        .verify(&signed_input(box_id, &reply.bundle), &sig)
        .map_err(|_| Refused::NotHq)?;
    let mut b: Bundle = serde_json::from_str(&reply.bundle).map_err(|e| Refused::BadBundle(e.to_string()))?;
    if b.v != 1 {
        return Err(Refused::BadBundle(format!("v: expected 1, got {}", b.v)));
    }
    if b.box_id != box_id {
        return Err(Refused::OtherBox(b.box_id));
    }
    if normalize_code(&b.code) != code {
        return Err(Refused::WrongCode);
    }
    for (k, v) in [("chain_id", &b.chain_id), ("store_id", &b.store_id), ("hub_id", &b.hub_id)] {
        Id::try_from(v.clone()).map_err(|e| Refused::BadBundle(format!("{k}: {e}")))?;
    }
    if b.store_name.trim().is_empty() {
        return Err(Refused::BadBundle("store_name: empty".into()));
    }
    MqttUrl::try_from(b.broker.clone()).map_err(|e| Refused::BadBundle(format!("broker: {e}")))?;
    if let Some(sealed) = b.password_sealed.take() {
        if b.password.is_some() {
            return Err(Refused::BadBundle("password and password_sealed: give one of them".into()));
        }
        let bytes = STANDARD.decode(sealed.trim()).map_err(|_| Refused::BadBundle("password_sealed: not base64".into()))?;
        let opened = seal.open(&bytes).ok_or_else(|| {
            Refused::BadBundle("password_sealed: does not open with this box's seal key (sealed to another box's seal_key, or changed)".into())
        })?;
        b.password = Some(String::from_utf8(opened).map_err(|_| Refused::BadBundle("password_sealed: the password is not UTF-8".into()))?);
    }
    if b.username.is_some() != b.password.is_some() {
        return Err(Refused::BadBundle("username and password (or password_sealed) go together".into()));
    }
    for (i, k) in b.command_keys.iter().enumerate() {
        crate::cloud::commands::parse_public_key(k).map_err(|e| Refused::BadBundle(format!("command_keys[{i}]: {e}")))?;
    }
    for (k, pem) in [("ca_pem", &b.ca_pem), ("cert_pem", &b.cert_pem)] {
        if let Some(p) = pem {
            super::tls::check_certificates_pem(p).map_err(|e| Refused::BadBundle(format!("{k}: {e}")))?;
        }
    }
    Ok(b)
}

/// Where the overlay's TLS files go (under `DATA/pairing/`).
pub struct OverlayPaths {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// The overlay (`DATA/pairing/paired.toml`): the `[store]` and `[mqtt]` sections a bundle gives,
/// laid over the box's config at load.
pub fn render_overlay(b: &Bundle, p: &OverlayPaths) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut s = format!(
        "# Written by pairing with HQ (box {}, issued {}). Laid over the [pairing] config at load;\n\
         # delete this file (and restart) to pair again.\n\n[store]\nchain_id = {}\nstore_id = {}\nhub_id = {}\nname = {}\n\n[mqtt]\nenabled = true\nurl = {}\n",
        b.box_id,
        b.issued_at,
        q(&b.chain_id),
        q(&b.store_id),
        q(&b.hub_id),
        q(&b.store_name),
        q(&b.broker)
    );
    if let (Some(u), Some(pw)) = (&b.username, &b.password) {
        s.push_str(&format!("username = {}\npassword = {}\n", q(u), q(pw)));
    }
    if b.ca_pem.is_some() {
        s.push_str(&format!("ca_file = {}\n", q(&p.ca.display().to_string())));
    }
    if b.cert_pem.is_some() {
        s.push_str(&format!("cert_file = {}\nkey_file = {}\n", q(&p.cert.display().to_string()), q(&p.key.display().to_string())));
    }
    if !b.command_keys.is_empty() {
        let keys: Vec<String> = b.command_keys.iter().map(|k| q(k)).collect();
        s.push_str(&format!("require_signed_commands = true\ncommand_keys = [{}]\n", keys.join(", ")));
    }
    s
}

/// Lays an overlay's tables over a base config's: its top-level tables replace the base's, and
/// `[pairing]` is dropped (the result is a provisioned box's config).
pub fn merge(mut base: toml::Table, overlay: toml::Table) -> toml::Table {
    base.remove("pairing");
    for (k, v) in overlay {
        base.insert(k, v);
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HQ's test pairing key: the Ed25519 key of the 32-byte seed 0x01 0x02 … 0x20 (RFC 8032
    /// keys are seeds; ring takes the seed through a PKCS#8 v1 wrapper built below).
    pub(crate) fn hq_key() -> (Vec<u8>, [u8; 32]) {
        let seed: Vec<u8> = (1u8..=32).collect();
        // PKCS#8 v1 for Ed25519 is a fixed 16-byte prefix followed by the seed.
        let mut pkcs8 = vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        pkcs8.extend_from_slice(&seed);
        let kp = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap();
        let public: [u8; 32] = ring::signature::KeyPair::public_key(&kp).as_ref().try_into().unwrap();
        (pkcs8, public)
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        // Bytes 0..8 pick the first 8 letters; 31 wraps to the first again.
        assert_eq!(new_code([0, 1, 2, 3, 4, 5, 6, 31]), "23456782");
        assert_eq!(show_code("23456782"), "2345-6782");
        assert_eq!(normalize_code(" 2345-6782 "), "23456782");
        assert_eq!(normalize_code("abcd efgh"), "ABCDEFGH");
        for c in ["0", "1", "I", "L", "O"] {
            assert!(!CODE_ALPHABET.contains(&c.as_bytes()[0]));
        }
        let id = new_box_id([0; 12]);
        assert_eq!(id, "box-aaaaaaaaaaaa");
        assert!(Id::try_from(id).is_ok());
    }

    #[test]
    fn code_hash_is_sha256_of_the_domain_box_and_code() {
        // echo -n 'storehub-pair/1\nbox-aaaaaaaaaaaa\n23456782' | sha256sum (with real newlines)
        let expected = hex(ring::digest::digest(&ring::digest::SHA256, b"storehub-pair/1\nbox-aaaaaaaaaaaa\n23456782").as_ref());
        assert_eq!(code_hash("box-aaaaaaaaaaaa", "23456782"), expected);
        assert_eq!(code_hash("box-aaaaaaaaaaaa", "23456782").len(), 64);
    }

    /// The box's test seal key: the secret 0x21 0x22 … 0x40.
    fn seal() -> SealKey {
        SealKey::from_bytes(std::array::from_fn(|i| 0x21 + i as u8))
    }

    #[test]
    fn a_password_sealed_by_libsodium_opens_with_the_box_seal_key_only() {
        // libsodium 1.0.18 (Python ctypes): crypto_scalarmult_base of the secret 0x21..0x40,
        // then crypto_box_seal(b"s3cret-from-hq", pk). Sealing is randomised, so these are the
        // bytes of one run, as docs/provisioning.md shows them.
        assert_eq!(seal().public_b64(), "WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=");
        let sealed = "f4RrZEGyrZAagl5lgfEpUrli1lvRrhTcnyGtFh2ClHkrfWECkEi6e6Fe6oH5D8rBNSGYUdhhRqv5EuK/DsU=";
        let (pkcs8, public) = hq_key();
        let with = |password: Option<&str>, sealed: Option<&str>| {
            let mut b: Bundle = serde_json::from_str(&bundle("box-a", "23456782")).unwrap();
            b.username = Some("hub-1".into());
            b.password = password.map(str::to_string);
            b.password_sealed = sealed.map(str::to_string);
            serde_json::to_vec(&sign_reply(&pkcs8, "box-a", &serde_json::to_string(&b).unwrap()).unwrap()).unwrap()
        };
        let b = accept(&with(None, Some(sealed)), "box-a", "23456782", &public, &seal()).unwrap();
        assert_eq!((b.password.as_deref(), b.password_sealed), (Some("s3cret-from-hq"), None));
        // Another box's key, a changed byte, both fields, neither: refused, saying which.
        let other = SealKey::from_bytes([7; 32]);
        let refused = |r: Result<Bundle, Refused>| match r {
            Err(Refused::BadBundle(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused(accept(&with(None, Some(sealed)), "box-a", "23456782", &public, &other)).contains("does not open with this box's seal key"));
        let mut bytes = STANDARD.decode(sealed).unwrap();
        bytes[40] ^= 1;
        let changed = STANDARD.encode(&bytes);
        assert!(refused(accept(&with(None, Some(&changed)), "box-a", "23456782", &public, &seal())).contains("does not open"));
        assert!(refused(accept(&with(Some("x"), Some(sealed)), "box-a", "23456782", &public, &seal())).contains("give one of them"));
        assert!(refused(accept(&with(None, Some("%%")), "box-a", "23456782", &public, &seal())).contains("not base64"));
        assert!(refused(accept(&with(None, None), "box-a", "23456782", &public, &seal())).contains("go together"));
        assert_eq!(format!("{:?}", seal()), "SealKey(WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=)", "Debug shows the public half only");
    }

    fn bundle(box_id: &str, code: &str) -> String {
        serde_json::to_string(&Bundle {
            v: 1,
            box_id: box_id.into(),
            code: code.into(),
            chain_id: "huamei".into(),
            store_id: "sh-xuhui-001".into(),
            hub_id: "hub-1".into(),
            store_name: "华美超市 徐汇店".into(),
            broker: "mqtt://127.0.0.1:1883".into(),
            username: None,
            password: None,
            password_sealed: None,
            ca_pem: None,
            cert_pem: None,
            command_keys: vec![],
            issued_at: "2026-11-26T08:00:00Z".into(),
        })
        .unwrap()
    }

    #[test]
    fn only_a_bundle_signed_by_hq_for_this_box_and_code_is_taken() {
        let (pkcs8, public) = hq_key();
        let good = sign_reply(&pkcs8, "box-a", &bundle("box-a", "23456782")).unwrap();
        let bytes = serde_json::to_vec(&good).unwrap();
        assert_eq!(accept(&bytes, "box-a", "23456782", &public, &seal()).unwrap().hub_id, "hub-1");
        // The code as the operator typed it, in lower case with a dash, is the same code.
        let typed = sign_reply(&pkcs8, "box-a", &bundle("box-a", "2345-6782")).unwrap();
        assert!(accept(&serde_json::to_vec(&typed).unwrap(), "box-a", "23456782", &public, &seal()).is_ok());

        let wrong_code = sign_reply(&pkcs8, "box-a", &bundle("box-a", "99999999")).unwrap();
        assert_eq!(accept(&serde_json::to_vec(&wrong_code).unwrap(), "box-a", "23456782", &public, &seal()), Err(Refused::WrongCode));
        // Signed for box-b: the signature covers box-b's id, so box-a refuses it as not HQ's.
        let other = sign_reply(&pkcs8, "box-b", &bundle("box-b", "23456782")).unwrap();
        assert_eq!(accept(&serde_json::to_vec(&other).unwrap(), "box-a", "23456782", &public, &seal()), Err(Refused::NotHq));
        // Signed for box-a but naming box-b inside.
        let inside = sign_reply(&pkcs8, "box-a", &bundle("box-b", "23456782")).unwrap();
        assert_eq!(accept(&serde_json::to_vec(&inside).unwrap(), "box-a", "23456782", &public, &seal()), Err(Refused::OtherBox("box-b".into())));
        // Changed after signing.
        let mut forged = good.clone();
        forged.bundle = forged.bundle.replace("hub-1", "hub-9");
        assert_eq!(accept(&serde_json::to_vec(&forged).unwrap(), "box-a", "23456782", &public, &seal()), Err(Refused::NotHq));
        // Signed by another key.
        let mut other_pkcs8 = pkcs8.clone();
        other_pkcs8[16] ^= 1;
        let by_other = sign_reply(&other_pkcs8, "box-a", &bundle("box-a", "23456782")).unwrap();
        assert_eq!(accept(&serde_json::to_vec(&by_other).unwrap(), "box-a", "23456782", &public, &seal()), Err(Refused::NotHq));
        // Unsigned, not JSON, too big.
        let unsigned = format!("{{\"bundle\":{},\"signature\":\"\"}}", serde_json::to_string(&bundle("box-a", "23456782")).unwrap());
        assert_eq!(accept(unsigned.as_bytes(), "box-a", "23456782", &public, &seal()), Err(Refused::BadSignature));
        assert!(matches!(accept(b"hello", "box-a", "23456782", &public, &seal()), Err(Refused::Malformed(_))));
        assert_eq!(accept(&vec![b' '; MAX_REPLY_BYTES + 1], "box-a", "x", &public, &seal()), Err(Refused::TooBig(MAX_REPLY_BYTES + 1)));
    }

    #[test]
    fn the_overlay_makes_a_provisioned_config_of_the_pairing_config() {
        let (pkcs8, public) = hq_key();
        let r = sign_reply(&pkcs8, "box-a", &bundle("box-a", "23456782")).unwrap();
        let b = accept(&serde_json::to_vec(&r).unwrap(), "box-a", "23456782", &public, &seal()).unwrap();
        let p = OverlayPaths { ca: "/d/ca.pem".into(), cert: "/d/hub.pem".into(), key: "/d/box.key".into() };
        let overlay: toml::Table = render_overlay(&b, &p).parse().unwrap();
        let base: toml::Table = "[pairing]\nbroker = \"mqtt://127.0.0.1:1\"\n[data]\ndir = \"/d\"\n".parse().unwrap();
        let merged = merge(base, overlay);
        let cfg = crate::config::Config::from_str(&toml::to_string(&merged).unwrap(), "merged").unwrap();
        assert_eq!(cfg.store.store_id.as_str(), "sh-xuhui-001");
        assert_eq!(cfg.store.name, "华美超市 徐汇店");
        assert!(cfg.mqtt.enabled);
    }
}
