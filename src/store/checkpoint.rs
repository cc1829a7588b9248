//! Checkpoints: make everything committed so far durable in sled's own files
//! (`flush`, then `fsync` of every file, since sled's flush is only `sync_file_range`) and drop
//! the journal files that covered it. A background thread runs one when the journal file is
//! three-quarters full or a minute old; commits only ever wait for the moment the journal
//! switches files.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::commit::GroupSync;
use super::journal::{Journal, SEGMENT_BYTES};
use super::{backup, Seqs, StoreError};

/// A checkpoint runs when the current journal file holds this much …
pub(crate) const CHECKPOINT_BYTES: u64 = SEGMENT_BYTES / 4 * 3;
/// … or when the last one is this old and something was committed since.
const CHECKPOINT_AGE: Duration = Duration::from_secs(60);

struct State {
    last: Instant,
    stop: bool,
}

pub(crate) struct Checkpointer {
    db: sled::Db,
    meta: sled::Tree,
    /// Journal sequence of the oldest snapshot kept: journal files are kept until it covers them,
    /// so `storehub recover` can start from any kept snapshot.
    oldest_snapshot: std::sync::atomic::AtomicU64,
    db_dir: PathBuf,
    gate: Arc<Mutex<Seqs>>,
    journal: Arc<Journal>,
    /// Durable mode: write sets waiting to be applied after their sync.
    sync: Option<Arc<GroupSync>>,
    /// Relaxed mode: how often the background thread `fdatasync`s the journal.
    sync_every: Option<Duration>,
    /// Held for the whole of one checkpoint, so two never interleave.
    running: Mutex<()>,
    state: Mutex<State>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        db: sled::Db,
        meta: sled::Tree,
        db_dir: PathBuf,
        gate: Arc<Mutex<Seqs>>,
        journal: Arc<Journal>,
        sync: Option<Arc<GroupSync>>,
        sync_every: Option<Duration>,
        oldest_snapshot: u64,
    ) -> Arc<Checkpointer> {
        let cp = Arc::new(Checkpointer {
            db,
            meta,
            oldest_snapshot: std::sync::atomic::AtomicU64::new(oldest_snapshot),
            db_dir,
            gate,
            journal,
            sync,
            sync_every,
            running: Mutex::new(()),
            state: Mutex::new(State { last: Instant::now(), stop: false }),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        });
        let worker = Arc::clone(&cp);
        let handle = std::thread::Builder::new().name("storehub-checkpoint".into()).spawn(move || worker.background()).ok();
        *cp.thread.lock().unwrap_or_else(|e| e.into_inner()) = handle;
        cp
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the journal is large or old enough for a checkpoint.
    pub(crate) fn due(&self) -> bool {
        let bytes = self.journal.current_bytes();
        bytes >= CHECKPOINT_BYTES || (bytes > 0 && self.state().last.elapsed() >= CHECKPOINT_AGE)
    }

    /// Records the journal sequence of the oldest snapshot now kept.
    pub(crate) fn set_oldest_snapshot(&self, seq: u64) {
        self.oldest_snapshot.store(seq, std::sync::atomic::Ordering::Release);
    }

    /// Asks the background thread to look now (after a commit filled the journal).
    pub(crate) fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Runs one checkpoint now.
    pub(crate) fn run(&self) -> Result<(), StoreError> {
        let _one = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let next = self.journal.prepare_next()?;
        let (last_seq, last_ticket) = {
            let _commits = self.gate.lock().unwrap_or_else(|e| e.into_inner());
            (self.journal.rotate(next)?, self.sync.as_ref().map(|s| s.last_ticket()))
        };
        // Everything journaled in the old files must be in sled before sled is made durable.
        if let (Some(sync), Some(ticket)) = (&self.sync, last_ticket) {
            sync.wait_applied(ticket)?;
        }
        self.meta.insert(super::META_JOURNAL_APPLIED, &super::codec::u64_key(last_seq))?;
        self.db.flush()?;
        backup::fsync_tree(&self.db_dir)?;
        let snap = self.oldest_snapshot.load(std::sync::atomic::Ordering::Acquire);
        self.journal.remove_covered(last_seq.min(snap))?;
        self.state().last = Instant::now();
        Ok(())
    }

    fn background(&self) {
        loop {
            {
                let st = self.state();
                if st.stop {
                    return;
                }
                let tick = self.sync_every.unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1));
                let (st, _) = self.wake.wait_timeout(st, tick).unwrap_or_else(|e| e.into_inner());
                if st.stop {
                    return;
                }
            }
            if self.sync_every.is_some() {
                // Relaxed mode: the periodic sync that bounds what a power cut can take.
                if let Err(e) = self.journal.sync() {
                    tracing::error!(error = %e, "journal sync failed");
                }
            }
            if self.due() {
                if let Err(e) = self.run() {
                    tracing::error!(error = %e, "checkpoint failed; the journal keeps every commit meanwhile");
                }
            }
        }
    }

    /// Stops the background thread (the caller runs a last checkpoint itself).
    pub(crate) fn stop(&self) {
        self.state().stop = true;
        self.wake.notify_all();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}
