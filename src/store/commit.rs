//! Group commit for `durable` mode, write-ahead style. A commit computes its write set under the
//! commit lock, appends it to the journal and queues it here (its writes become visible to later
//! commits through [`GroupSync::pending_value`]), then waits. A sync thread repeatedly runs one
//! `fdatasync` of the journal covering every write set queued so far; an apply thread applies
//! synced write sets to sled in order and releases their writers, while the next sync already
//! runs. So N concurrent commits share one sync, and sled
//! never holds a write whose journal record is not on disk: after a power cut the journal can
//! always complete or redo whatever sled kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::journal::Journal;
use super::{StoreError, TreeId, WriteSet};

/// Longest a sync waits for writers that are mid-commit to join it. Short against one
/// `fdatasync` (~130 µs here) so a lone writer is not delayed much.
const GROUP_WAIT: Duration = Duration::from_micros(50);

#[derive(Default)]
struct State {
    /// Highest ticket handed out (= number of write sets queued).
    committed: u64,
    /// Highest ticket whose journal record is on disk.
    durable: u64,
    /// Highest ticket whose write set is synced and applied.
    synced: u64,
    /// Writers that started a commit and have not yet queued (or given up). The syncer waits for
    /// them (briefly) so one sync covers the whole group.
    entering: usize,
    /// A sync or apply failed: every waiter from now on gets this error.
    failed: Option<String>,
    stop: bool,
    /// Syncs done and time spent in them (for `storehub bench` and telemetry).
    syncs: u64,
    sync_time: Duration,
}

/// The newest queued value of one key, with the ticket of the write set that wrote it.
type Latest = (u64, Option<Vec<u8>>);

/// Write sets journaled but not yet applied, and the newest pending value of each key they write.
#[derive(Default)]
struct Pending {
    queue: VecDeque<(u64, WriteSet)>,
    latest: HashMap<(TreeId, Vec<u8>), Latest>,
}

pub(crate) struct GroupSync {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    pending: Mutex<Pending>,
    /// Held while write sets are applied to sled, so a backup sees whole commits only.
    pub(crate) apply_lock: Mutex<()>,
    /// Wakes the apply thread when `durable` moves.
    apply_work: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl GroupSync {
    pub(crate) fn start(journal: Arc<Journal>, trees: Vec<sled::Tree>) -> Arc<GroupSync> {
        let sync = Arc::new(GroupSync {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            pending: Mutex::new(Pending::default()),
            apply_lock: Mutex::new(()),
            apply_work: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        let syncer = Arc::clone(&sync);
        let applier = Arc::clone(&sync);
        let sync_trees = trees.clone();
        let handles = [
            std::thread::Builder::new().name("storehub-sync".into()).spawn(move || syncer.run(&journal, &sync_trees)),
            std::thread::Builder::new().name("storehub-apply".into()).spawn(move || applier.run_apply(&trees)),
        ];
        for h in handles {
            match h {
                Ok(h) => lock(&sync.threads).push(h),
                Err(_) => lock(&sync.state).failed = Some("could not start the sync threads".into()),
            }
        }
        sync
    }

    /// A writer starts a commit; it must end with [`queue`](Self::queue) or
    /// [`abandoned`](Self::abandoned).
    pub(crate) fn entering(&self) {
        lock(&self.state).entering += 1;
    }

    /// A writer that called `entering` wrote nothing.
    pub(crate) fn abandoned(&self) {
        let mut st = lock(&self.state);
        st.entering = st.entering.saturating_sub(1);
        drop(st);
        self.work.notify_one();
    }

    /// The newest queued value of a key: `Some(None)` if a pending write deletes it, `None` if no
    /// pending write touches it.
    pub(crate) fn pending_value(&self, tree: TreeId, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let pending = lock(&self.pending);
        pending.latest.get(&(tree, key.to_vec())).map(|(_, v)| v.clone())
    }

    /// Queues a journaled write set and returns its ticket. Called under the commit lock, so
    /// tickets follow commit order. `counts` says whether a writer that called `entering` queues it.
    pub(crate) fn queue(&self, writes: WriteSet, counts: bool) -> u64 {
        let mut st = lock(&self.state);
        if counts {
            st.entering = st.entering.saturating_sub(1);
        }
        st.committed += 1;
        let ticket = st.committed;
        {
            let mut pending = lock(&self.pending);
            for (k, v) in &writes {
                pending.latest.insert(k.clone(), (ticket, v.clone()));
            }
            pending.queue.push_back((ticket, writes));
        }
        drop(st);
        self.work.notify_one();
        ticket
    }

    /// The newest ticket handed out.
    pub(crate) fn last_ticket(&self) -> u64 {
        lock(&self.state).committed
    }

    /// Blocks until the write set of `ticket` is synced and applied.
    pub(crate) fn wait_synced(&self, ticket: u64) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        loop {
            if st.synced >= ticket {
                return Ok(());
            }
            if let Some(e) = &st.failed {
                return Err(StoreError::SyncFailed(e.clone()));
            }
            st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn fail(&self, st: &mut State, what: &str, e: &StoreError) {
        tracing::error!(error = %e, "{what} failed");
        st.failed = Some(format!("{what}: {e}"));
    }

    /// The sync thread: one `fdatasync` for everything queued, again and again.
    fn run(&self, journal: &Journal, trees: &[sled::Tree]) {
        loop {
            let target = {
                let mut st = lock(&self.state);
                while st.committed == st.durable && !st.stop && st.failed.is_none() {
                    st = self.work.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                if st.failed.is_some() || (st.committed == st.durable && st.stop) {
                    drop(st);
                    self.apply_work.notify_all();
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
            let mut st = lock(&self.state);
            st.syncs += 1;
            st.sync_time += took;
            if let Err(e) = result {
                self.fail(&mut st, "journal sync", &e.into());
                drop(st);
                self.apply_work.notify_all();
                self.done.notify_all();
                continue;
            }
            st.durable = st.durable.max(target);
            if st.committed > target {
                // More commits are queued: hand this group to the apply thread and start their
                // sync at once.
                drop(st);
                self.apply_work.notify_one();
            } else {
                // Nobody else waits: apply here and spare a lone writer one thread hand-off.
                drop(st);
                let applied = self.apply_up_to(target, trees);
                let mut st = lock(&self.state);
                match applied {
                    Ok(()) => st.synced = st.synced.max(target),
                    Err(e) => self.fail(&mut st, "applying a synced commit", &e),
                }
                drop(st);
                self.done.notify_all();
            }
        }
    }

    /// The apply thread: applies synced write sets to sled in order and releases their writers.
    fn run_apply(&self, trees: &[sled::Tree]) {
        loop {
            let target = {
                let mut st = lock(&self.state);
                loop {
                    if st.durable > st.synced {
                        break st.durable;
                    }
                    if st.failed.is_some() || (st.stop && st.committed == st.synced) {
                        return;
                    }
                    st = self.apply_work.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            };
            let result = self.apply_up_to(target, trees);
            let mut st = lock(&self.state);
            match result {
                Ok(()) => st.synced = st.synced.max(target),
                Err(e) => self.fail(&mut st, "applying a synced commit", &e),
            }
            drop(st);
            self.done.notify_all();
        }
    }

    /// Applies queued write sets with tickets up to `target` to sled, in order.
    fn apply_up_to(&self, target: u64, trees: &[sled::Tree]) -> Result<(), StoreError> {
        let _applying = lock(&self.apply_lock);
        loop {
            let next = {
                let mut pending = lock(&self.pending);
                match pending.queue.front() {
                    Some((t, _)) if *t <= target => pending.queue.pop_front(),
                    _ => None,
                }
            };
            let Some((ticket, writes)) = next else { return Ok(()) };
            super::apply_plain(trees, &writes)?;
            let mut pending = lock(&self.pending);
            for key in writes.into_keys() {
                if pending.latest.get(&key).is_some_and(|(t, _)| *t == ticket) {
                    pending.latest.remove(&key);
                }
            }
        }
    }

    /// (commits, syncs, total time in syncs) so far.
    pub(crate) fn stats(&self) -> (u64, u64, Duration) {
        let st = lock(&self.state);
        (st.committed, st.syncs, st.sync_time)
    }

    /// Syncs and applies everything queued, then stops the thread.
    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.work.notify_all();
        self.apply_work.notify_all();
        let handles: Vec<_> = lock(&self.threads).drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
        self.done.notify_all();
    }
}
