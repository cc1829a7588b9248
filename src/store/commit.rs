//! Group commit for `durable` mode, write-ahead style. A commit computes its write set under the
//! commit lock, appends it to the journal and queues it here, then waits. A sync thread
//! repeatedly runs one `fdatasync` of the journal covering every write set queued so far and
//! releases their writers as soon as it returns: acknowledged means on disk. Applying the synced
//! write sets to sled happens behind the writers, on an apply thread, while the next sync runs.
//! A writer that finds nobody else committing does its own sync and apply instead (a lone till
//! pays no thread hand-off, which costs tens of µs on a small box).
//!
//! Until a write set is applied its writes stay visible: commits read them through
//! [`GroupSync::pending_value`], and reads outside a commit first wait, via
//! [`GroupSync::wait_visible`], until everything acknowledged is applied (read-your-writes). So
//! N concurrent commits share one sync, no writer waits for sled, and sled never holds a write
//! whose journal record is not on disk: after a power cut the journal can always complete or redo
//! whatever sled kept.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::journal::Journal;
use super::{StoreError, TreeId, WriteSet};

/// Longest a writer stays awake (yielding) for its sync before it parks.
const WRITER_SPIN: Duration = Duration::from_micros(300);

/// Longest the sync thread stays awake (yielding) for a writer that is mid-commit when there is
/// nothing to sync yet, rather than sleep and pay a wake-up. (Making a sync *wait* for such
/// writers measured no better: while one group syncs the next one queues, so groups form by
/// themselves.)
const SPIN: Duration = Duration::from_micros(60);

#[derive(Default)]
struct State {
    /// Highest ticket handed out (= number of write sets queued).
    committed: u64,
    /// Highest ticket whose journal record is on disk; its writers are released.
    durable: u64,
    /// Highest ticket whose write set is applied to sled.
    applied: u64,
    /// Writers that started a commit and have not yet queued (or given up). The syncer waits for
    /// them (briefly) so one sync covers the whole group.
    entering: usize,
    /// A sync is running (by the sync thread or by a lone writer); no other may start.
    syncing: bool,
    /// A sync failed: every waiter from now on gets this error.
    failed: Option<String>,
    /// Applying a synced write set failed: reads can no longer trust sled (the journal still
    /// holds everything; the next open replays it).
    apply_failed: Option<String>,
    stop: bool,
    /// The sync thread sleeps on `work` (wake it), the apply thread on `apply_work`, and this many
    /// readers on `applied_cv`. A wake-up is a syscall even with nobody to wake, so each is
    /// signalled only when someone waits.
    syncer_asleep: bool,
    applier_asleep: bool,
    readers_waiting: usize,
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
    journal: Arc<Journal>,
    trees: Vec<sled::Tree>,
    state: Mutex<State>,
    /// Wakes the sync thread: a write set was queued or a writer gave up.
    work: Condvar,
    /// Wakes readers and checkpoints: `applied` moved.
    applied_cv: Condvar,
    /// Wakes the apply thread: `durable` moved past `applied`.
    apply_work: Condvar,
    /// Lock-free copies of `durable` and `applied`, so a read finds "nothing to wait for"
    /// without taking the state lock.
    durable_hint: AtomicU64,
    applied_hint: AtomicU64,
    /// Set when a sync failed, so parked writers see it without the state lock.
    failed_hint: AtomicBool,
    /// Writers parked until `durable` reaches their ticket. Each is woken alone (no herd of
    /// writers fighting for the state lock after every sync).
    parked: Mutex<Vec<(u64, std::thread::Thread)>>,
    pending: Mutex<Pending>,
    /// Held while write sets are applied to sled, so a backup sees whole commits only.
    pub(crate) apply_lock: Mutex<()>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// See [`GroupSync::point_read`].
pub(crate) enum PointRead {
    Value(Option<Vec<u8>>),
    Sled,
    Wait,
}

/// A queued commit: its number, and whether its writer runs the sync itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    pub number: u64,
    lead: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wait<'a, T>(cv: &Condvar, guard: std::sync::MutexGuard<'a, T>) -> std::sync::MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(|e| e.into_inner())
}

impl GroupSync {
    pub(crate) fn start(journal: Arc<Journal>, trees: Vec<sled::Tree>) -> Arc<GroupSync> {
        let sync = Arc::new(GroupSync {
            journal,
            trees,
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            applied_cv: Condvar::new(),
            apply_work: Condvar::new(),
            durable_hint: AtomicU64::new(0),
            applied_hint: AtomicU64::new(0),
            failed_hint: AtomicBool::new(false),
            parked: Mutex::new(Vec::new()),
            pending: Mutex::new(Pending::default()),
            apply_lock: Mutex::new(()),
            threads: Mutex::new(Vec::new()),
        });
        let syncer = Arc::clone(&sync);
        let applier = Arc::clone(&sync);
        let handles = [
            std::thread::Builder::new().name("storehub-sync".into()).spawn(move || syncer.run()),
            std::thread::Builder::new().name("storehub-apply".into()).spawn(move || applier.run_apply()),
        ];
        for h in handles {
            match h {
                Ok(h) => lock(&sync.threads).push(h),
                Err(_) => {
                    lock(&sync.state).failed = Some("could not start the sync threads".into());
                    sync.failed_hint.store(true, Ordering::SeqCst);
                }
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
        let wake = st.syncer_asleep;
        drop(st);
        if wake {
            self.work.notify_one();
        }
    }

    /// The newest queued value of a key: `Some(None)` if a pending write deletes it, `None` if no
    /// pending write touches it.
    pub(crate) fn pending_value(&self, tree: TreeId, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let pending = lock(&self.pending);
        pending.latest.get(&(tree, key.to_vec())).map(|(_, v)| v.clone())
    }

    /// What a point read outside a commit should see of one key, without waiting for sled when
    /// it need not: the acknowledged value a queued write set holds for it, or "read sled" when
    /// no queued write touches it (sled then has its newest value), or "wait" when the newest
    /// queued write is not acknowledged yet (sled may lag behind an older acknowledged one).
    pub(crate) fn point_read(&self, tree: TreeId, key: &[u8]) -> PointRead {
        let pending = lock(&self.pending);
        match pending.latest.get(&(tree, key.to_vec())) {
            None => PointRead::Sled,
            Some((ticket, v)) if *ticket <= self.durable_hint.load(Ordering::SeqCst) => PointRead::Value(v.clone()),
            Some(_) => PointRead::Wait,
        }
    }

    /// Queues a journaled write set and returns its ticket. Called under the commit lock, so
    /// tickets follow commit order. `counts` says whether a writer that called `entering` queues it.
    /// When nothing else is pending, no sync runs and no other writer is inside a commit, the
    /// ticket is the writer's to sync itself ([`Ticket::lead`]) if it `may_lead` (it will wait).
    pub(crate) fn queue(&self, writes: WriteSet, counts: bool, may_lead: bool) -> Ticket {
        let mut st = lock(&self.state);
        if counts {
            st.entering = st.entering.saturating_sub(1);
        }
        st.committed += 1;
        let ticket = st.committed;
        let lead = counts && may_lead && !st.syncing && st.durable + 1 == ticket && st.entering == 0 && st.failed.is_none() && !st.stop;
        if lead {
            st.syncing = true;
        }
        {
            let mut pending = lock(&self.pending);
            for (k, v) in &writes {
                pending.latest.insert(k.clone(), (ticket, v.clone()));
            }
            pending.queue.push_back((ticket, writes));
        }
        let wake = st.syncer_asleep && !lead;
        drop(st);
        if wake {
            self.work.notify_one();
        }
        Ticket { number: ticket, lead }
    }

    /// Returns once the commit of `ticket` is acknowledged: its journal record is on disk.
    pub(crate) fn wait(&self, ticket: Ticket) -> Result<(), StoreError> {
        if !ticket.lead {
            return self.wait_durable(ticket.number);
        }
        // Alone: sync and apply here, then hand anything queued meanwhile to the sync thread.
        let more = self.sync_through(ticket.number);
        if more {
            let st = lock(&self.state);
            if st.syncer_asleep {
                self.work.notify_one();
            }
        } else if self.durable_hint.load(Ordering::SeqCst) >= ticket.number {
            self.apply_and_publish(ticket.number);
        }
        self.wait_durable(ticket.number)
    }

    /// The newest ticket handed out.
    pub(crate) fn last_ticket(&self) -> u64 {
        lock(&self.state).committed
    }

    /// Blocks until the journal record of `ticket` is on disk (the commit is acknowledged).
    pub(crate) fn wait_durable(&self, ticket: u64) -> Result<(), StoreError> {
        let mut registered = false;
        let spin_until = Instant::now() + WRITER_SPIN;
        loop {
            if self.durable_hint.load(Ordering::SeqCst) >= ticket {
                return Ok(());
            }
            if self.failed_hint.load(Ordering::SeqCst) {
                let st = lock(&self.state);
                let e = st.failed.clone().unwrap_or_else(|| "journal sync failed".into());
                return Err(StoreError::SyncFailed(e));
            }
            if Instant::now() < spin_until {
                std::thread::yield_now();
            } else if registered {
                std::thread::park();
            } else {
                // Register, then check again: the sync thread publishes `durable` before it
                // looks at the parked list, so one of the two sees the other.
                lock(&self.parked).push((ticket, std::thread::current()));
                registered = true;
            }
        }
    }

    /// Wakes the writers whose ticket is now durable (all of them after a failure).
    fn unpark(&self, durable: u64, all: bool) {
        let mut parked = lock(&self.parked);
        parked.retain(|(t, thread)| {
            let release = all || *t <= durable;
            if release {
                thread.unpark();
            }
            !release
        });
    }

    /// Blocks until the write set of `ticket` is applied to sled.
    pub(crate) fn wait_applied(&self, ticket: u64) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        loop {
            if st.applied >= ticket {
                return Ok(());
            }
            if let Some(e) = st.apply_failed.as_ref().or(st.failed.as_ref()) {
                return Err(StoreError::SyncFailed(e.clone()));
            }
            st.readers_waiting += 1;
            st = wait(&self.applied_cv, st);
            st.readers_waiting -= 1;
        }
    }

    /// Before a read outside a commit: waits until every acknowledged commit is applied, so the
    /// reader sees its own and everybody's acknowledged writes. Free when nothing is behind.
    pub(crate) fn wait_visible(&self) -> Result<(), StoreError> {
        let durable = self.durable_hint.load(Ordering::Acquire);
        if self.applied_hint.load(Ordering::Acquire) >= durable {
            return Ok(());
        }
        self.wait_applied(durable)
    }

    fn fail(&self, slot: &mut Option<String>, what: &str, e: &StoreError) {
        tracing::error!(error = %e, "{what} failed");
        *slot = Some(format!("{what}: {e}"));
    }

    /// The sync thread: one `fdatasync` for everything queued, again and again.
    fn run(&self) {
        loop {
            let target = {
                let mut st = lock(&self.state);
                let idle_since = Instant::now();
                while (st.committed == st.durable || st.syncing) && !st.stop && st.failed.is_none() {
                    if !st.syncing && st.entering > 0 && idle_since.elapsed() < SPIN {
                        // A writer is about to queue: stay awake for it rather than pay a
                        // wake-up (tens of µs on a busy 2-core box).
                        drop(st);
                        std::thread::yield_now();
                        st = lock(&self.state);
                        continue;
                    }
                    st.syncer_asleep = true;
                    st = wait(&self.work, st);
                    st.syncer_asleep = false;
                }
                if st.failed.is_some() || (st.committed == st.durable && st.stop) {
                    drop(st);
                    self.apply_work.notify_all();
                    return;
                }
                st.syncing = true;
                st.committed
            };
            if self.sync_through(target) {
                // More commits are queued: hand this group to the apply thread and start their
                // sync at once.
                let wake_applier = lock(&self.state).applier_asleep;
                if wake_applier {
                    self.apply_work.notify_one();
                }
            } else if self.durable_hint.load(Ordering::SeqCst) >= target {
                // Nobody else waits: apply here and spare a thread hand-off.
                self.apply_and_publish(target);
            }
        }
    }

    /// Runs one journal sync covering tickets up to `target` (the caller set `syncing`),
    /// releases their writers and says whether more commits were queued meanwhile.
    fn sync_through(&self, target: u64) -> bool {
        let started = Instant::now();
        let result = self.journal.sync();
        let took = started.elapsed();
        let mut st = lock(&self.state);
        st.syncing = false;
        st.syncs += 1;
        st.sync_time += took;
        if let Err(e) = result {
            self.fail(&mut st.failed, "journal sync", &e);
            self.failed_hint.store(true, Ordering::SeqCst);
            drop(st);
            self.unpark(0, true);
            self.applied_cv.notify_all();
            self.apply_work.notify_all();
            self.work.notify_all();
            return false;
        }
        st.durable = st.durable.max(target);
        self.durable_hint.store(st.durable, Ordering::SeqCst);
        let more = st.committed > target;
        drop(st);
        // Acknowledge the group before anything else.
        self.unpark(target, false);
        more
    }

    /// The apply thread: applies synced write sets to sled in order, behind the writers.
    fn run_apply(&self) {
        loop {
            let target = {
                let mut st = lock(&self.state);
                loop {
                    if st.durable > st.applied && st.apply_failed.is_none() {
                        break st.durable;
                    }
                    if st.failed.is_some() || st.apply_failed.is_some() || (st.stop && st.committed == st.applied) {
                        return;
                    }
                    st.applier_asleep = true;
                    st = wait(&self.apply_work, st);
                    st.applier_asleep = false;
                }
            };
            self.apply_and_publish(target);
        }
    }

    /// Applies everything up to `target` and tells readers.
    fn apply_and_publish(&self, target: u64) {
        let result = self.apply_up_to(target);
        let mut st = lock(&self.state);
        match result {
            Ok(()) => {
                st.applied = st.applied.max(target);
                self.applied_hint.store(st.applied, Ordering::Release);
            }
            Err(e) => self.fail(&mut st.apply_failed, "applying a synced commit", &e),
        }
        let wake = st.readers_waiting > 0 || st.apply_failed.is_some();
        drop(st);
        if wake {
            self.applied_cv.notify_all();
        }
    }

    /// Applies queued write sets with tickets up to `target` to sled, in order.
    fn apply_up_to(&self, target: u64) -> Result<(), StoreError> {
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
            super::apply_plain(&self.trees, &writes)?;
            let mut pending = lock(&self.pending);
            for key in writes.into_keys() {
                if pending.latest.get(&key).is_some_and(|(t, _)| *t == ticket) {
                    pending.latest.remove(&key);
                }
            }
        }
    }

    /// The failed sync (or apply of a synced write set) that stops every commit from now on,
    /// if one failed. Takes the state lock: for health checks, not the commit path.
    pub(crate) fn failure(&self) -> Option<String> {
        let st = lock(&self.state);
        st.failed.clone().or_else(|| st.apply_failed.clone())
    }

    /// (commits, syncs, total time in syncs) so far.
    pub(crate) fn stats(&self) -> (u64, u64, Duration) {
        let st = lock(&self.state);
        (st.committed, st.syncs, st.sync_time)
    }

    /// Syncs and applies everything queued, then stops the threads.
    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.work.notify_all();
        self.apply_work.notify_all();
        let handles: Vec<_> = lock(&self.threads).drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
        self.unpark(0, true);
        self.applied_cv.notify_all();
    }
}
