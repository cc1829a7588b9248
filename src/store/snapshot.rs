//! Snapshots and recovery. A snapshot is a backup (see `backup.rs`) taken by the daemon every few
//! minutes into `DATA_DIR/snapshots/`, named by the last journal sequence it holds, written
//! atomically, a configured number kept. Journal files stay until the oldest kept snapshot and
//! sled's last checkpoint both cover them, so a database sled cannot open is rebuilt from the
//! newest good snapshot plus the journal after it (`storehub recover`). The damaged database is
//! moved aside, never deleted.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::backup::{build_db, read_backup, write_atomically, BackupSummary, Entry};
use super::journal::{self, ReplayStats};
use super::{db_path, journal_path, Store, StoreError};

/// Where snapshots live inside a data dir.
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

fn file_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.backup")
}

/// Snapshot files in `dir`, oldest first, with the journal sequence each holds.
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("snapshot-"))
            .and_then(|n| n.strip_suffix(".backup"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            out.push((seq, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Journal sequence of the oldest kept snapshot; `u64::MAX` when there is none (nothing to keep
/// journal files for).
pub(crate) fn oldest_kept_seq(dir: &Path) -> Result<u64, StoreError> {
    Ok(list(dir)?.first().map(|(seq, _)| *seq).unwrap_or(u64::MAX))
}

/// What one snapshot run did.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub path: String,
    pub journal_seq: u64,
    pub entries: u64,
    pub bytes: u64,
    pub removed: usize,
}

impl Store {
    /// Writes a consistent snapshot into `DATA_DIR/snapshots/` and keeps the newest `keep`.
    pub fn snapshot(&self, keep: usize) -> Result<SnapshotInfo, StoreError> {
        let dir = snapshot_dir(self.path());
        super::create_dir_durable(&dir)?;
        let mut buf = Vec::new();
        let summary = {
            let _quiet = self.quiesce()?;
            self.backup_locked(&mut buf)?
        };
        let path = dir.join(file_name(summary.journal_seq));
        write_atomically(&path, &buf)?;
        let all = list(&dir)?;
        let excess = all.len().saturating_sub(keep.max(1));
        for (_, old) in &all[..excess] {
            std::fs::remove_file(old)?;
        }
        if let Some(cp) = &self.checkpointer {
            cp.set_oldest_snapshot(oldest_kept_seq(&dir)?);
        }
        Ok(SnapshotInfo {
            path: path.display().to_string(),
            journal_seq: summary.journal_seq,
            entries: summary.entries,
            bytes: summary.bytes,
            removed: excess,
        })
    }
}

/// What `storehub recover` will do (or did).
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryPlan {
    /// The snapshot it starts from.
    pub snapshot: String,
    pub snapshot_journal_seq: u64,
    pub snapshot_created_at: String,
    /// Newer snapshots that failed their checks and were skipped, with why.
    pub skipped_snapshots: Vec<String>,
    /// Journal records after the snapshot that will be re-applied, and their sequence range.
    pub journal_records: u64,
    pub journal_first_seq: Option<u64>,
    pub journal_last_seq: Option<u64>,
    pub torn_journal_bytes: u64,
}

/// Finds the newest snapshot that reads back whole and the journal records after it. Changes
/// nothing.
pub fn plan_recovery(data_dir: &Path) -> Result<(RecoveryPlan, Vec<Entry>), StoreError> {
    let mut skipped = Vec::new();
    let mut chosen: Option<(PathBuf, Vec<Entry>, BackupSummary)> = None;
    for (_, path) in list(&snapshot_dir(data_dir))?.into_iter().rev() {
        let read = std::fs::File::open(&path)
            .map_err(StoreError::from)
            .and_then(|mut f| read_backup(&mut std::io::BufReader::new(&mut f)));
        match read {
            Ok((entries, summary)) => {
                chosen = Some((path, entries, summary));
                break;
            }
            Err(e) => skipped.push(format!("{}: {e}", path.display())),
        }
    }
    let Some((path, entries, summary)) = chosen else {
        return Err(StoreError::Backup(format!(
            "no usable snapshot in {}{}; restore a backup with `storehub restore --force FILE`",
            snapshot_dir(data_dir).display(),
            if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join("; ")) }
        )));
    };
    let mut first = None;
    let mut last = None;
    let stats: ReplayStats = journal::scan(&journal_path(data_dir), summary.journal_seq, |r| {
        first.get_or_insert(r.seq);
        last = Some(r.seq);
        Ok(())
    })?;
    if let Some(first) = first {
        if first != summary.journal_seq + 1 {
            return Err(StoreError::Backup(format!(
                "the journal after snapshot {} starts at sequence {first}, not {}: commits {}..{} are in neither; recovering from it would lose them. Restore a backup instead",
                path.display(),
                summary.journal_seq + 1,
                summary.journal_seq + 1,
                first - 1
            )));
        }
    }
    let plan = RecoveryPlan {
        snapshot: path.display().to_string(),
        snapshot_journal_seq: summary.journal_seq,
        snapshot_created_at: summary.created_at,
        skipped_snapshots: skipped,
        journal_records: stats.records,
        journal_first_seq: first,
        journal_last_seq: last,
        torn_journal_bytes: stats.torn_bytes,
    };
    Ok((plan, entries))
}

/// Moves the database aside (to `db.damaged-<time>`) and rebuilds it from the plan's snapshot.
/// Opening the store afterwards re-applies the journal after the snapshot. Returns where the
/// damaged database went.
pub fn rebuild_from_snapshot(data_dir: &Path, plan: &RecoveryPlan, entries: Vec<Entry>) -> Result<PathBuf, StoreError> {
    let db = db_path(data_dir);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let mut aside = data_dir.join(format!("db.damaged-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = data_dir.join(format!("db.damaged-{stamp}-{n}"));
    }
    if db.exists() {
        std::fs::rename(&db, &aside)?;
        std::fs::File::open(data_dir)?.sync_all()?;
    }
    build_db(data_dir, entries, Some(plan.snapshot_journal_seq))?;
    Ok(aside)
}
