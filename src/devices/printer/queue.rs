//! The durable print queue: receipts, shift reports and test pages waiting for their printer.
//! A job holds the exact ESC/POS bytes (rendered for that printer's paper when it was queued),
//! so what prints after a power cut or a week of "paper out" is what the cashier saw then.
//!
//! Storage: `print_jobs` holds job id (u64 BE) → [`PrintJob`]; ids come from a counter in
//! `meta` (`print_jobs/next_id`) written in the same commit, so they never repeat even after
//! the queue empties. Enqueueing and "printed" are durable commits: a job acknowledged as
//! queued survives a power cut, and a job marked printed is never printed again after a
//! restart. The one window left is between the last byte reaching the printer and that commit
//! returning (milliseconds): a power cut there prints the job again, never loses it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

const NEXT_ID_KEY: &[u8] = b"print_jobs/next_id";

/// Largest job accepted (a receipt is 2–4 KiB; a 300-line sale about 30 KiB).
pub const MAX_JOB_BYTES: usize = 256 * 1024;
/// Most jobs one printer may have waiting: past this the printer has been down for a long
/// time and the oldest receipts are worth less than the disk; enqueue refuses.
pub const MAX_QUEUED_PER_DEVICE: usize = 1_000;

/// What a job prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    SaleReceipt { sale_id: u64 },
    ShiftReport { shift_id: u64 },
    TestPage,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its printer (new, or the printer was offline / out of paper).
    Queued,
    /// Sending failed at least once (the link dropped mid-job); it is sent again whole.
    Retrying,
}

/// One print job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrintJob {
    pub id: u64,
    /// The printer's device id (`[[devices]].id`).
    pub device: String,
    pub kind: JobKind,
    /// The ESC/POS bytes, complete (init … cut).
    pub bytes: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// Times sending was started and did not complete.
    pub attempts: u32,
    pub state: JobState,
    pub last_error: Option<String>,
}

impl Record for PrintJob {
    const NAME: &'static str = "print job";
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct NextId(u64);

impl Record for NextId {
    const NAME: &'static str = "print job counter";
}

/// Why a job was not queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("print job for {device} is {len} bytes, more than {MAX_JOB_BYTES}; this is a bug in the renderer")]
    TooLarge { device: String, len: usize },
    #[error("print job for {device} is empty")]
    Empty { device: String },
    #[error("printer {device} already has {MAX_QUEUED_PER_DEVICE} jobs waiting; fix the printer (paper, cover, cable) or clear its queue")]
    Full { device: String },
}

/// Queues a job inside `tx` (e.g. in the sale's own commit, so a paid sale always has its
/// receipt queued).
pub fn enqueue_tx(tx: &Tx, device: &str, kind: JobKind, bytes: Vec<u8>) -> Result<PrintJob, TxError<QueueError>> {
    if bytes.is_empty() {
        return Err(TxError::Rejected(QueueError::Empty { device: device.to_string() }));
    }
    if bytes.len() > MAX_JOB_BYTES {
        return Err(TxError::Rejected(QueueError::TooLarge { device: device.to_string(), len: bytes.len() }));
    }
    let next = tx.get::<NextId, QueueError>(TreeId::Meta, NEXT_ID_KEY)?.map_or(1, |n| n.0);
    let job = PrintJob {
        id: next,
        device: device.to_string(),
        kind,
        bytes,
        created_at: tx.now(),
        attempts: 0,
        state: JobState::Queued,
        last_error: None,
    };
    tx.put(TreeId::Meta, NEXT_ID_KEY, &NextId(next + 1))?;
    tx.put(TreeId::PrintJobs, &codec::u64_key(job.id), &job)?;
    Ok(job)
}

/// Queues a job in its own durable commit.
pub fn enqueue(store: &Store, device: &str, kind: JobKind, bytes: Vec<u8>) -> Result<PrintJob, CommitError<QueueError>> {
    if queued(store, device)?.len() >= MAX_QUEUED_PER_DEVICE {
        return Err(CommitError::Rejected(QueueError::Full { device: device.to_string() }));
    }
    store.commit(|tx| enqueue_tx(tx, device, kind, bytes))
}

/// The jobs waiting for `device`, oldest first.
pub fn queued(store: &Store, device: &str) -> Result<Vec<PrintJob>, StoreError> {
    store.scan::<PrintJob>(TreeId::PrintJobs).filter_map(|r| r.map(|(_, j)| (j.device == device).then_some(j)).transpose()).collect()
}

/// The oldest job waiting for `device`.
pub fn oldest(store: &Store, device: &str) -> Result<Option<PrintJob>, StoreError> {
    for r in store.scan::<PrintJob>(TreeId::PrintJobs) {
        let (_, j) = r?;
        if j.device == device {
            return Ok(Some(j));
        }
    }
    Ok(None)
}

/// Removes a printed job, durably (it must not print twice after a restart).
pub fn mark_printed(store: &Store, id: u64) -> Result<(), StoreError> {
    store
        .commit(|tx| tx.remove::<std::convert::Infallible>(TreeId::PrintJobs, &codec::u64_key(id)).map(|_| ()))
        .map_err(|e| match e {
            CommitError::Store(e) => e,
            CommitError::Rejected(never) => match never {},
        })
}

/// Records a failed send (write-behind: losing it loses a counter, not a job).
pub fn record_attempt(store: &Store, id: u64, error: &str) -> Result<(), StoreError> {
    store
        .commit_write_behind(|tx| {
            let key = codec::u64_key(id);
            if let Some(mut j) = tx.get::<PrintJob, std::convert::Infallible>(TreeId::PrintJobs, &key)? {
                j.attempts = j.attempts.saturating_add(1);
                j.state = JobState::Retrying;
                j.last_error = Some(error.chars().take(200).collect());
                tx.put(TreeId::PrintJobs, &key, &j)?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            CommitError::Store(e) => e,
            CommitError::Rejected(never) => match never {},
        })
}

/// What the cashier screen shows about one printer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    pub device: String,
    /// Jobs waiting.
    pub queued: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_created_at: Option<DateTime<Utc>>,
    /// The printer's condition from its last status answer (`paper_out`, `cover_open`,
    /// `offline`, `paper_near_end`), `None` when fine or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Whether the driver is connected to the printer (false when unknown).
    pub connected: bool,
}

/// The queue of `device` and, when a health board is given, its last known condition.
pub fn queue_status(store: &Store, health: Option<&crate::devices::health::HealthBoard>, device: &str) -> Result<QueueStatus, StoreError> {
    let jobs = queued(store, device)?;
    let h = health.and_then(|h| h.get(device));
    Ok(QueueStatus {
        device: device.to_string(),
        queued: jobs.len(),
        oldest_created_at: jobs.first().map(|j| j.created_at),
        status: h.as_ref().and_then(|h| h.status.clone()),
        connected: h.is_some_and(|h| h.connected),
    })
}
