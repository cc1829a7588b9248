//! Members' personal data at rest (PIPL): the PII key, sealing and opening stored values, and the
//! keyed hash of the phone index. Owns the key file format and the sealed-value layout.
//!
//! Boundary: the store calls [`seal`] on every value written to a tree of [`PII_TREES`] and
//! `codec::decode` calls [`open`] on every sealed value it meets, so the rest of the code reads
//! and writes plaintext records and never sees a key. The key lives in a process-wide keyring
//! ([`install`]) set before the store opens (by `main` from `[privacy].key_file`); a process
//! without a key writes plaintext, and a database sealed with a key this process does not hold
//! refuses to open ([`crate::store::StoreError::PiiKeyMissing`]).

pub mod seal_pass;
pub mod subject;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};

use crate::store::TreeId;

/// Bytes of a PII key file: exactly 32 random bytes, nothing else.
pub const KEY_LEN: usize = 32;
/// First byte of a sealed value. Record version tags are small numbers (1, 2, …), so a value
/// starting with this byte is never a plaintext record.
pub const SEALED_TAG: u8 = 0xFE;
/// Bytes of a key id (first bytes of SHA-256 over a label and the key).
pub const KEY_ID_LEN: usize = 4;
/// `[SEALED_TAG][key id][nonce]` in front of the ciphertext.
pub const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// The Poly1305 tag after the ciphertext.
pub const TAG_LEN: usize = 16;

/// Trees whose values hold a member's personal data (phone, name, birthday, or free text that
/// may name them): every value written to them is sealed whole. Keys of every tree are free of
/// PII (the phone index key is a keyed hash, see [`phone_index_key`]).
/// - `members`: the profile (phone, name, birthday, card, referral code).
/// - `messages`: the rendered text greets the member by name.
/// - `tickets`: free-text notes a clerk typed.
/// - `commands`: HQ commands as received (`member.upsert` carries a phone and a name,
///   `order.ingest` a phone).
/// - `online_orders`: the reply given to an ingested order.
pub const PII_TREES: [TreeId; 5] = [TreeId::Members, TreeId::Messages, TreeId::Tickets, TreeId::Commands, TreeId::OnlineOrders];

/// Whether values of `tree` are sealed (records written with `Tx::put`; raw index values
/// written with `Tx::put_raw` are not).
pub fn is_pii_tree(tree: TreeId) -> bool {
    PII_TREES.contains(&tree)
}

/// Whether the value at `key` of a PII tree is a raw index value, not a record (left plaintext
/// by the sealing pass): the held-command index of `commands` (`held/…` → command id).
pub fn is_raw_index(tree: TreeId, key: &[u8]) -> bool {
    tree == TreeId::Commands && key.starts_with(crate::cloud::commands::record::HELD_PREFIX)
}

/// Errors of the key and of sealed values.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("PII key file {path}: {what}")]
    KeyFile { path: String, what: String },
    #[error("PII key file {path} already exists; it protects the members already stored, keep it (use `storehub privacy rotate-key` to replace it)")]
    KeyExists { path: String },
    #[error("the system random generator failed; the PII key cannot be made")]
    Random,
}

/// One PII key: its id, the AEAD key and the HMAC key of the phone index (derived from it).
pub struct PiiKey {
    id: [u8; KEY_ID_LEN],
    aead: LessSafeKey,
    index: hmac::Key,
}

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiKey").field("id", &self.id_hex()).finish_non_exhaustive()
    }
}

impl PiiKey {
    /// A key from its 32 bytes. The id is the first 4 bytes of SHA-256("storehub pii key id" ‖ key);
    /// the phone index key is HMAC-SHA256(key, "storehub phone index").
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> PiiKey {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"storehub pii key id");
        ctx.update(bytes);
        let d = ctx.finish();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&d.as_ref()[..KEY_ID_LEN]);
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("32 bytes is the ChaCha20-Poly1305 key length");
        let master = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let index_bytes = hmac::sign(&master, b"storehub phone index");
        PiiKey { id, aead: LessSafeKey::new(unbound), index: hmac::Key::new(hmac::HMAC_SHA256, index_bytes.as_ref()) }
    }

    /// Reads a key file: exactly [`KEY_LEN`] bytes.
    pub fn load(path: &Path) -> Result<PiiKey, PrivacyError> {
        let bad = |what: String| PrivacyError::KeyFile { path: path.display().to_string(), what };
        let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let arr: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            bad(format!("holds {} bytes, a PII key is exactly {KEY_LEN}; restore the box's key file from where it was kept", bytes.len()))
        })?;
        Ok(PiiKey::from_bytes(&arr))
    }

    /// The key id, 4 bytes.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        self.id
    }

    /// The key id in hex (8 characters), as shown to people and stored in the phone index keys.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// Seals `plaintext`: `[0xFE][key id: 4][nonce: 12][ciphertext][tag: 16]`, the first 5 bytes
    /// authenticated as associated data. `nonce` must never repeat under one key: [`seal`] takes
    /// it from the system random generator (96 random bits per value).
    /// Errs only when ring refuses the length (far beyond any record); nothing is sealed then.
    pub fn seal_with_nonce(&self, nonce: [u8; NONCE_LEN], plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(SEALED_TAG);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        let aad = [SEALED_TAG, self.id[0], self.id[1], self.id[2], self.id[3]];
        self.aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body)
            .map_err(|_| format!("a value of {} bytes is too long to seal; nothing was written", plaintext.len()))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a value this key sealed; `None` when it was altered or sealed by another key.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != SEALED_TAG || sealed[1..1 + KEY_ID_LEN] != self.id {
            return None;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        let aad = [SEALED_TAG, self.id[0], self.id[1], self.id[2], self.id[3]];
        let mut body = sealed[HEADER_LEN..].to_vec();
        let plain = self.aead.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body).ok()?;
        let n = plain.len();
        body.truncate(n);
        Some(body)
    }

    /// The phone index key of a normalized phone under this key:
    /// `phone/<key id hex>/<HMAC-SHA256(index key, phone) hex>`.
    pub fn phone_index_key(&self, phone: &str) -> Vec<u8> {
        let tag = hmac::sign(&self.index, phone.as_bytes());
        format!("phone/{}/{}", self.id_hex(), hex(tag.as_ref())).into_bytes()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys this process holds: the current one (seals new values, keys the phone index) and
/// older ones that may still open values (during a key rotation).
#[derive(Default)]
struct Keyring {
    current: Option<Arc<PiiKey>>,
    all: Vec<Arc<PiiKey>>,
}

static KEYRING: RwLock<Keyring> = RwLock::new(Keyring { current: None, all: Vec::new() });

fn ring_read() -> std::sync::RwLockReadGuard<'static, Keyring> {
    KEYRING.read().unwrap_or_else(|e| e.into_inner())
}

fn ring_write() -> std::sync::RwLockWriteGuard<'static, Keyring> {
    KEYRING.write().unwrap_or_else(|e| e.into_inner())
}

/// Makes `key` the current key of this process (new values are sealed with it); keys installed
/// before stay able to open what they sealed.
pub fn install(key: PiiKey) -> Arc<PiiKey> {
    let key = Arc::new(key);
    let mut ring = ring_write();
    if !ring.all.iter().any(|k| k.id == key.id) {
        ring.all.push(Arc::clone(&key));
    }
    ring.current = Some(Arc::clone(&key));
    key
}

/// Adds a key that may open values but seals nothing (the old key during a rotation).
pub fn install_old(key: PiiKey) {
    let mut ring = ring_write();
    if !ring.all.iter().any(|k| k.id == key.id) {
        ring.all.push(Arc::new(key));
    }
}

/// Drops every key this process holds (tests that play several boxes in one process).
pub fn forget_all() {
    let mut ring = ring_write();
    ring.current = None;
    ring.all.clear();
}

/// The current key, if this process holds one.
pub fn current() -> Option<Arc<PiiKey>> {
    ring_read().current.clone()
}

/// Whether this process holds the key with this id.
pub fn holds(id: [u8; KEY_ID_LEN]) -> bool {
    ring_read().all.iter().any(|k| k.id == id)
}

/// Seals `value` with the current key; returns it unchanged when the process holds no key.
pub fn seal(value: Vec<u8>) -> Result<Vec<u8>, String> {
    let Some(key) = current() else { return Ok(value) };
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| "the system random generator failed; personal data cannot be sealed, nothing was written".to_string())?;
    key.seal_with_nonce(nonce, &value)
}

/// The key id a sealed value names, `None` for a plaintext value.
pub fn sealed_key_id(value: &[u8]) -> Option<[u8; KEY_ID_LEN]> {
    if value.len() >= HEADER_LEN + TAG_LEN && value[0] == SEALED_TAG {
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&value[1..1 + KEY_ID_LEN]);
        Some(id)
    } else {
        None
    }
}

/// Opens a sealed value with the key it names. Errors name the key id so a technician knows
/// which key file is needed.
pub fn open(value: &[u8]) -> Result<Vec<u8>, String> {
    let Some(id) = sealed_key_id(value) else {
        return Err("a sealed value is shorter than its header and tag".into());
    };
    let ring = ring_read();
    let key = ring.all.iter().find(|k| k.id == id).ok_or_else(|| {
        format!("a member record is sealed with PII key {}, which this process does not hold; put that key file at [privacy].key_file", hex(&id))
    })?;
    key.open(value).ok_or_else(|| format!("a value sealed with PII key {} fails its authentication (altered or damaged)", hex(&id)))
}

/// The `member_keys` key of a normalized phone: the keyed hash under the current key, or
/// `phone/<11 digits>` when the process holds no key (a database that has never been sealed).
pub fn phone_index_key(phone: &str) -> Vec<u8> {
    match current() {
        Some(k) => k.phone_index_key(phone),
        None => format!("phone/{phone}").into_bytes(),
    }
}

/// Where the key file is: `[privacy].key_file`, else `pii.key` next to the config file, else
/// `/etc/storehub/pii.key`.
pub fn key_path(configured: Option<&Path>, config_file: Option<&Path>) -> PathBuf {
    if let Some(p) = configured {
        return p.to_path_buf();
    }
    match config_file.and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("pii.key"),
        Some(_) => PathBuf::from("pii.key"),
        None => PathBuf::from("/etc/storehub/pii.key"),
    }
}

/// Creates a new key file at `path` (mode 0640, refused when one exists) from the system random
/// generator, and returns the new key's id. For `storehub privacy init-key` (run by
/// `storehub provision` and the package's postinst: the daemon cannot write /etc).
pub fn init_key(path: &Path) -> Result<String, PrivacyError> {
    if path.exists() {
        return Err(PrivacyError::KeyExists { path: path.display().to_string() });
    }
    let bytes = random_key()?;
    write_key_file(path, &bytes, false)?;
    Ok(PiiKey::from_bytes(&bytes).id_hex())
}

/// 32 bytes from the system random generator.
pub fn random_key() -> Result<[u8; KEY_LEN], PrivacyError> {
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new().fill(&mut bytes).map_err(|_| PrivacyError::Random)?;
    Ok(bytes)
}

/// Writes a key file durably (fsync of the file and its directory), mode 0640. `replace`
/// allows an existing file to be overwritten (via a temporary file and a rename).
pub fn write_key_file(path: &Path, bytes: &[u8; KEY_LEN], replace: bool) -> Result<(), PrivacyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let bad = |what: String| PrivacyError::KeyFile { path: path.display().to_string(), what };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| bad(format!("cannot create its directory: {e}")))?;
    let tmp = if replace { path.with_extension("key.tmp") } else { path.to_path_buf() };
    if replace {
        let _ = std::fs::remove_file(&tmp);
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(&tmp)
        .map_err(|e| bad(format!("cannot create it: {e}")))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| bad(format!("cannot write it: {e}")))?;
    drop(f);
    if replace {
        std::fs::rename(&tmp, path).map_err(|e| bad(format!("cannot put it in place: {e}")))?;
    }
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| bad(format!("cannot sync its directory: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layout of a sealed value, worked by hand: key = 32 × 0x01, nonce = 0..11, plaintext
    /// `[1, 'a', 'b']` (a version-1 record of 2 bytes). Output = 1 tag byte + 4 id bytes +
    /// 12 nonce bytes + 3 ciphertext bytes + 16 Poly1305 bytes = 36 bytes.
    #[test]
    fn sealed_value_layout() {
        let key = PiiKey::from_bytes(&[1u8; KEY_LEN]);
        let nonce: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        let sealed = key.seal_with_nonce(nonce, &[1, b'a', b'b']).unwrap();
        assert_eq!(sealed.len(), 36);
        assert_eq!(sealed[0], 0xFE);
        assert_eq!(&sealed[1..5], &key.id());
        assert_eq!(&sealed[5..17], &nonce);
        assert_ne!(&sealed[17..20], &[1, b'a', b'b'], "the body is enciphered");
        assert_eq!(key.open(&sealed).unwrap(), vec![1, b'a', b'b']);
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
        assert_eq!(sealed_key_id(&[1, b'a', b'b']), None, "a plaintext record is not sealed");
    }

    /// Any flipped bit (header, nonce, body or tag) makes the value unopenable; another key
    /// cannot open it either.
    #[test]
    fn altered_or_foreign_values_do_not_open() {
        let key = PiiKey::from_bytes(&[7u8; KEY_LEN]);
        let other = PiiKey::from_bytes(&[8u8; KEY_LEN]);
        let sealed = key.seal_with_nonce([3u8; 12], b"\x01hello").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(key.open(&bad), None, "byte {i} flipped");
        }
        assert_eq!(other.open(&sealed), None);
        assert_ne!(key.id(), other.id());
    }

    /// The phone index key: prefix, key id, 64 hex digits of HMAC-SHA256; deterministic for
    /// one key, different under another, and free of the digits.
    #[test]
    fn phone_index_key_is_keyed_and_hides_the_number() {
        let a = PiiKey::from_bytes(&[1u8; KEY_LEN]);
        let b = PiiKey::from_bytes(&[2u8; KEY_LEN]);
        let ka = String::from_utf8(a.phone_index_key("13800001234")).unwrap();
        assert_eq!(ka, String::from_utf8(a.phone_index_key("13800001234")).unwrap());
        assert!(ka.starts_with(&format!("phone/{}/", a.id_hex())));
        assert_eq!(ka.len(), "phone/".len() + 8 + 1 + 64);
        assert!(!ka.contains("13800001234"));
        assert_ne!(ka, String::from_utf8(b.phone_index_key("13800001234")).unwrap());
        assert_ne!(ka, String::from_utf8(a.phone_index_key("13800001235")).unwrap());
    }

    #[test]
    fn key_files_are_exactly_32_bytes_and_never_overwritten_by_init() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pii.key");
        let id = init_key(&path).unwrap();
        assert_eq!(id.len(), 8);
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(PiiKey::load(&path).unwrap().id_hex(), id);
        assert!(matches!(init_key(&path), Err(PrivacyError::KeyExists { .. })));
        std::fs::write(&path, b"short").unwrap();
        let err = PiiKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("holds 5 bytes, a PII key is exactly 32"), "{err}");
    }

    #[test]
    fn key_path_defaults_next_to_the_config() {
        assert_eq!(key_path(None, Some(Path::new("/etc/storehub/storehub.toml"))), PathBuf::from("/etc/storehub/pii.key"));
        assert_eq!(key_path(Some(Path::new("/k/pii.key")), Some(Path::new("/etc/x.toml"))), PathBuf::from("/k/pii.key"));
        assert_eq!(key_path(None, None), PathBuf::from("/etc/storehub/pii.key"));
    }
}
