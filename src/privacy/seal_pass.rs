//! The sealing pass: brings every value of the PII trees and every phone index key under the
//! current key. One pass serves three cases: schema migration 2 → 3 (plaintext values and
//! `phone/<digits>` keys), the first key on a database that ran without one, and key rotation
//! (values and index keys under the old key). It is idempotent — a value already sealed with the
//! current key is skipped — so a pass cut short by a crash or power cut is finished by the next
//! run. It writes in bounded sled batches (at most [`BATCH`] entries each) straight to sled, at
//! open, before any commit can run.

use sled::Batch;

use super::{PiiKey, PII_TREES};
use crate::members::Member;
use crate::store::{codec, StoreError, TreeId};

/// Entries per sled batch.
pub const BATCH: usize = 256;

/// What a pass changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassStats {
    /// Values sealed that were plaintext.
    pub sealed_plaintext: u64,
    /// Values re-sealed from another key.
    pub resealed: u64,
    /// Phone index keys rewritten.
    pub index_keys: u64,
}

impl PassStats {
    /// Whether plaintext personal data was sealed (its old bytes may linger in sled's log and
    /// in the journal: the database is then rewritten fresh).
    pub fn wiped_plaintext(&self) -> bool {
        self.sealed_plaintext > 0 || self.index_keys > 0
    }
}

/// Runs the pass over the store's trees (indexed by `TreeId as usize`). Opening a value sealed
/// with another key needs that key in the process keyring (`privacy::install_old`).
pub(crate) fn run(trees: &[sled::Tree], key: &PiiKey) -> Result<PassStats, StoreError> {
    let mut stats = PassStats::default();
    for tree_id in PII_TREES {
        let tree = &trees[tree_id as usize];
        let mut batch = Batch::default();
        let mut pending = 0usize;
        for item in tree.iter() {
            let (k, v) = item?;
            if super::is_raw_index(tree_id, &k) {
                continue;
            }
            let plain = match super::sealed_key_id(&v) {
                Some(id) if id == key.id() => continue,
                Some(_) => {
                    stats.resealed += 1;
                    super::open(&v).map_err(|e| StoreError::Corrupt(format!("{}: {e}", tree_id.name())))?
                }
                None => {
                    stats.sealed_plaintext += 1;
                    v.to_vec()
                }
            };
            let nonce = random_nonce()?;
            batch.insert(k, key.seal_with_nonce(nonce, &plain).map_err(|e| StoreError::Encode(format!("{}: {e}", tree_id.name())))?);
            pending += 1;
            if pending == BATCH {
                tree.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        if pending > 0 {
            tree.apply_batch(batch)?;
        }
    }
    stats.index_keys = rekey_phone_index(trees, key)?;
    Ok(stats)
}

fn random_nonce() -> Result<[u8; 12], StoreError> {
    use ring::rand::SecureRandom;
    let mut nonce = [0u8; 12];
    ring::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| StoreError::Encode("the system random generator failed; no nonce to seal with".into()))?;
    Ok(nonce)
}

/// Moves every phone index entry to the current key: `phone/<11 digits>` (plaintext, before
/// schema 3) straight from its key, and `phone/<other key id>/<hash>` through the members' phones
/// (a hash cannot be inverted; every index entry is a member's phone, a merged member's leading
/// to the survivor). Returns the keys rewritten.
fn rekey_phone_index(trees: &[sled::Tree], key: &PiiKey) -> Result<u64, StoreError> {
    let keys = &trees[TreeId::MemberKeys as usize];
    let current_prefix = format!("phone/{}/", key.id_hex()).into_bytes();
    let mut moves: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut stale_hashed = false;
    for item in keys.scan_prefix(b"phone/") {
        let (k, _) = item?;
        if k.starts_with(&current_prefix) {
            continue;
        }
        let rest = &k[b"phone/".len()..];
        if rest.iter().all(u8::is_ascii_digit) {
            let phone = std::str::from_utf8(rest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            moves.push((k.to_vec(), key.phone_index_key(phone)));
        } else {
            stale_hashed = true;
        }
    }
    if stale_hashed {
        let held = super::ring_read().all.clone();
        for item in trees[TreeId::Members as usize].iter() {
            let (_, v) = item?;
            let m: Member = codec::decode(&v)?;
            if m.phone.is_empty() {
                continue;
            }
            for old in held.iter().filter(|k| k.id() != key.id()) {
                let old_key = old.phone_index_key(&m.phone);
                if keys.contains_key(&old_key)? {
                    moves.push((old_key, key.phone_index_key(&m.phone)));
                }
            }
        }
    }
    let mut n = 0u64;
    for chunk in moves.chunks(BATCH) {
        let mut batch = Batch::default();
        for (old, new) in chunk {
            if let Some(owner) = keys.get(old)? {
                batch.insert(new.as_slice(), owner);
                batch.remove(old.as_slice());
                n += 1;
            }
        }
        keys.apply_batch(batch)?;
    }
    Ok(n)
}
