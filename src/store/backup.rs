//! Backups: one file holding every tree of the database as it was at one instant. While a backup
//! is taken, commits wait (the store's gate), so the file never shows half a transaction.
//!
//! Format (all integers little-endian): `STOREHUB-BACKUP\n` (16 bytes), then frames
//! `[u32 payload length][u32 CRC-32 of payload][payload]`, payload = postcard [`Frame`]. The first
//! frame is a `Header`, the last an `End` carrying the entry count. A file that is truncated,
//! altered or ends without `End` is refused whole.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{db_path, journal_path, Store, StoreError, TreeId, SCHEMA_VERSION};

const MAGIC: &[u8; 16] = b"STOREHUB-BACKUP\n";
/// Largest frame accepted when reading (bounded memory on a damaged file).
const MAX_FRAME: u32 = 64 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
enum Frame {
    Header { schema_version: u32, created_at: String, source: String, database_id: String, journal_seq: u64 },
    Entry { tree: String, key: Vec<u8>, value: Vec<u8> },
    End { entries: u64 },
}

/// What a backup contained, for the CLI to report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupSummary {
    pub entries: u64,
    pub bytes: u64,
    pub schema_version: u32,
    pub created_at: String,
    /// The last commit-journal sequence the backup holds.
    pub journal_seq: u64,
}

fn write_frame(out: &mut impl Write, frame: &Frame) -> Result<u64, StoreError> {
    let payload = postcard::to_allocvec(frame).map_err(|e| StoreError::Encode(e.to_string()))?;
    let len = u32::try_from(payload.len())
        .map_err(|_| StoreError::Backup("a record is too large for a backup frame".into()))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&crc32fast::hash(&payload).to_le_bytes())?;
    out.write_all(&payload)?;
    Ok(8 + payload.len() as u64)
}

impl Store {
    /// Writes a consistent backup of the whole database to `out`.
    pub fn backup_to(&self, out: &mut impl Write) -> Result<BackupSummary, StoreError> {
        let _quiet = self.quiesce()?;
        self.backup_locked(out)
    }

    /// Writes a backup; the caller holds [`Store::quiesce`].
    pub(crate) fn backup_locked(&self, out: &mut impl Write) -> Result<BackupSummary, StoreError> {
        let journal_seq = self.journal.as_ref().map(|j| j.last_seq()).unwrap_or(0);
        let created_at = self.opts.clock.now().to_rfc3339();
        let mut bytes = MAGIC.len() as u64;
        out.write_all(MAGIC)?;
        bytes += write_frame(
            out,
            &Frame::Header {
                schema_version: SCHEMA_VERSION,
                created_at: created_at.clone(),
                source: self.source.clone(),
                database_id: self.database_id()?,
                journal_seq,
            },
        )?;
        let mut entries = 0u64;
        for id in TreeId::ALL {
            for item in self.tree(id).iter() {
                let (k, v) = item?;
                bytes += write_frame(
                    out,
                    &Frame::Entry { tree: id.name().to_string(), key: k.to_vec(), value: v.to_vec() },
                )?;
                entries += 1;
            }
        }
        bytes += write_frame(out, &Frame::End { entries })?;
        out.flush()?;
        Ok(BackupSummary { entries, bytes, schema_version: SCHEMA_VERSION, created_at, journal_seq })
    }

    /// Writes a backup to `path` atomically: a temp file beside it, fsync, rename, fsync the
    /// directory. A crash leaves either the old file or the complete new one.
    pub fn backup_to_file(&self, path: &Path) -> Result<BackupSummary, StoreError> {
        let mut buf = Vec::new();
        let summary = self.backup_to(&mut buf)?;
        write_atomically(path, &buf)?;
        Ok(summary)
    }
}

/// Writes `bytes` to `path` through a temp file, fsync and rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| StoreError::Backup(format!("{}: not a file path", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| StoreError::Backup(format!("cannot write {}: {e}", path.display())))
}

/// One key/value of one tree, as a backup holds it.
pub(crate) type Entry = (TreeId, Vec<u8>, Vec<u8>);

/// Reads and checks a whole backup, returning its entries. Nothing is written.
pub(crate) fn read_backup(input: &mut impl Read) -> Result<(Vec<Entry>, BackupSummary), StoreError> {
    let bad = |what: String| StoreError::Backup(format!("not a usable storehub backup: {what}"));
    let mut magic = [0u8; 16];
    input.read_exact(&mut magic).map_err(|_| bad("file is shorter than the header".into()))?;
    if &magic != MAGIC {
        return Err(bad("it does not start with STOREHUB-BACKUP".into()));
    }
    let mut offset = 16u64;
    let mut header: Option<(u32, String, u64)> = None;
    let mut entries = Vec::new();
    loop {
        let mut head = [0u8; 8];
        input
            .read_exact(&mut head)
            .map_err(|_| bad(format!("file ends at byte {offset} before the end marker (truncated?)")))?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len > MAX_FRAME {
            return Err(bad(format!("frame at byte {offset} claims {len} bytes (damaged)")));
        }
        let mut payload = vec![0u8; len as usize];
        input
            .read_exact(&mut payload)
            .map_err(|_| bad(format!("frame at byte {offset} is cut short (truncated?)")))?;
        if crc32fast::hash(&payload) != crc {
            return Err(bad(format!("checksum mismatch in frame at byte {offset} (damaged)")));
        }
        let frame: Frame = postcard::from_bytes(&payload)
            .map_err(|e| bad(format!("frame at byte {offset} does not decode: {e}")))?;
        offset += 8 + len as u64;
        match frame {
            Frame::Header { schema_version, created_at, journal_seq, .. } => {
                if header.is_some() {
                    return Err(bad(format!("second header at byte {offset}")));
                }
                if schema_version > SCHEMA_VERSION {
                    return Err(StoreError::Backup(format!(
                        "backup has schema version {schema_version}, newer than this build's {SCHEMA_VERSION}; restore it with a newer storehub"
                    )));
                }
                header = Some((schema_version, created_at, journal_seq));
            }
            Frame::Entry { tree, key, value } => {
                if header.is_none() {
                    return Err(bad("entry before header".into()));
                }
                let id = TreeId::from_name(&tree)
                    .ok_or_else(|| bad(format!("unknown tree {tree:?} at byte {offset}")))?;
                entries.push((id, key, value));
            }
            Frame::End { entries: n } => {
                let (schema_version, created_at, journal_seq) = header.ok_or_else(|| bad("no header".into()))?;
                if n != entries.len() as u64 {
                    return Err(bad(format!("end marker counts {n} entries, file holds {}", entries.len())));
                }
                let summary = BackupSummary { entries: n, bytes: offset, schema_version, created_at, journal_seq };
                return Ok((entries, summary));
            }
        }
    }
}

/// Restores a backup into `data_dir`. Refuses a data dir that already holds a database unless
/// `force` is set, in which case the old database is moved aside to `db.replaced-<time>` first.
/// The whole file is checked before anything on disk changes.
pub fn restore(data_dir: &Path, input: &mut impl Read, force: bool) -> Result<BackupSummary, StoreError> {
    let (entries, summary) = read_backup(input)?;
    let db_dir = db_path(data_dir);
    let journal_dir = journal_path(data_dir);
    let non_empty = |d: &Path| d.exists() && std::fs::read_dir(d).map(|mut e| e.next().is_some()).unwrap_or(true);
    let occupied = non_empty(&db_dir) || non_empty(&journal_dir);
    if occupied && !force {
        return Err(StoreError::Backup(format!(
            "{} already holds a database; restore refuses to overwrite it. Use --force (the old database is kept as db.replaced-…) or choose an empty --data-dir",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir)?;
    if occupied {
        // The old journal belongs to the old database: it must never be replayed over the
        // restored one, so it moves aside with it.
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
        let mut aside = data_dir.join(format!("db.replaced-{stamp}"));
        let mut n = 1;
        while aside.exists() {
            n += 1;
            aside = data_dir.join(format!("db.replaced-{stamp}-{n}"));
        }
        std::fs::create_dir_all(&aside)?;
        if db_dir.exists() {
            std::fs::rename(&db_dir, aside.join("db"))?;
        }
        if journal_dir.exists() {
            std::fs::rename(&journal_dir, aside.join("journal"))?;
        }
        // The moved names live in `aside`; build_db's fsync of the data dir covers the rest.
        super::sync_dir(&aside)?;
    }
    build_db(data_dir, entries, None)?;
    Ok(summary)
}

/// Builds the database of `data_dir` from backup entries: in a staging dir, then renamed into
/// place, so a crash mid-way leaves no half database. `journal_applied` overrides the journal
/// sequence the new database claims to hold (recovery sets it to the snapshot's).
pub(crate) fn build_db(data_dir: &Path, entries: Vec<Entry>, journal_applied: Option<u64>) -> Result<(), StoreError> {
    let db_dir = db_path(data_dir);
    let staging = data_dir.join("db.restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    {
        let db = super::sled_config(&staging).open()?;
        let mut trees = std::collections::HashMap::new();
        for id in TreeId::ALL {
            trees.insert(id, db.open_tree(id.name())?);
        }
        for (id, key, value) in entries {
            if let Some(t) = trees.get(&id) {
                t.insert(key, value)?;
            }
        }
        if let (Some(seq), Some(meta)) = (journal_applied, trees.get(&TreeId::Meta)) {
            meta.insert(super::META_JOURNAL_APPLIED, &super::codec::u64_key(seq))?;
        }
        db.flush()?;
    }
    fsync_tree(&staging)?;
    std::fs::rename(&staging, &db_dir)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok(())
}

/// fsyncs every file below `dir` and the directories themselves (sled's flush is not an fsync).
pub fn fsync_tree(dir: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fsync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}
