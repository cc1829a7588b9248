//! Group commit for `durable` mode. Writers commit their sled transaction, take a ticket and wait;
//! one syncer thread repeatedly takes the newest ticket, syncs once, and releases every writer at
//! or below it. So N concurrent commits share one sync instead of paying N.
//!
//! The sync step is one `fdatasync` of the commit journal (see `journal.rs`), which every
//! covered commit was appended to before it was applied.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest a sync waits for writers that are mid-commit to join it. Short against one sync
/// (~100 µs), long against one commit (~15 µs).
const GROUP_WAIT: Duration = Duration::from_micros(300);

use super::journal::Journal;
use super::StoreError;

#[derive(Default)]
struct State {
    /// Highest ticket handed out (= number of commits applied to sled).
    committed: u64,
    /// Highest ticket known to be on disk.
    synced: u64,
    /// Writers that started a commit and have not yet taken a ticket (or given up). The syncer
    /// waits for them (briefly) so one sync covers the whole group.
    entering: usize,
    /// A sync failed: every waiter from now on gets this error.
    failed: Option<String>,
    stop: bool,
    /// Syncs done and time spent in them (for `storehub bench` and telemetry).
    syncs: u64,
    sync_time: Duration,
}

pub(crate) struct GroupSync {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupSync {
    pub(crate) fn start(journal: Arc<Journal>) -> Arc<GroupSync> {
        let sync = Arc::new(GroupSync {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            thread: Mutex::new(None),
        });
        let worker = Arc::clone(&sync);
        let handle = std::thread::Builder::new()
            .name("storehub-sync".into())
            .spawn(move || worker.run(journal))
            .ok();
        if handle.is_none() {
            sync.lock().failed = Some("could not start the sync thread".into());
        }
        *sync.thread.lock().unwrap_or_else(|e| e.into_inner()) = handle;
        sync
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A writer starts a commit; it must end with [`committed`](Self::committed) or
    /// [`abandoned`](Self::abandoned).
    pub(crate) fn entering(&self) {
        self.lock().entering += 1;
    }

    /// A writer that called `entering` wrote nothing.
    pub(crate) fn abandoned(&self) {
        let mut st = self.lock();
        st.entering = st.entering.saturating_sub(1);
        drop(st);
        self.work.notify_one();
    }

    /// Records that one more transaction has been applied and returns its ticket. Must be called
    /// after the transaction committed, so a sync started later covers it.
    pub(crate) fn committed(&self) -> u64 {
        let mut st = self.lock();
        st.entering = st.entering.saturating_sub(1);
        st.committed += 1;
        let ticket = st.committed;
        drop(st);
        self.work.notify_one();
        ticket
    }

    /// Blocks until a sync covering `ticket` finished.
    pub(crate) fn wait_synced(&self, ticket: u64) -> Result<(), StoreError> {
        let mut st = self.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(StoreError::SyncFailed(e.clone()));
            }
            if st.synced >= ticket {
                return Ok(());
            }
            if st.stop {
                return Err(StoreError::SyncFailed("store is closing".into()));
            }
            st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn run(&self, journal: Arc<Journal>) {
        loop {
            let target = {
                let mut st = self.lock();
                while st.committed == st.synced && !st.stop {
                    st = self.work.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.committed == st.synced && st.stop {
                    return;
                }
                // Let writers already inside their commit join this sync, up to GROUP_WAIT.
                let deadline = Instant::now() + GROUP_WAIT;
                while st.entering > 0 && !st.stop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    st = self.work.wait_timeout(st, left).unwrap_or_else(|e| e.into_inner()).0;
                }
                st.committed
            };
            let started = Instant::now();
            let result = journal.current_file().sync_data();
            let took = started.elapsed();
            let mut st = self.lock();
            st.syncs += 1;
            st.sync_time += took;
            match result {
                Ok(_) => st.synced = st.synced.max(target),
                Err(e) => {
                    tracing::error!(error = %e, "durability sync failed");
                    st.failed = Some(e.to_string());
                }
            }
            drop(st);
            self.done.notify_all();
            if self.lock().failed.is_some() {
                return;
            }
        }
    }

    /// (commits, syncs, total time in syncs) so far.
    pub(crate) fn stats(&self) -> (u64, u64, Duration) {
        let st = self.lock();
        (st.committed, st.syncs, st.sync_time)
    }

    /// Finishes pending syncs and stops the thread.
    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        self.work.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        self.done.notify_all();
    }
}
