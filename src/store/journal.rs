//! The commit journal: a write-ahead log of every write set, so an acknowledged commit never
//! depends on sled's own flush (which is `sync_file_range`, not an fsync) or on sled reopening
//! intact.
//!
//! Each commit's write set is appended, with the next journal sequence number, *before* it is
//! applied to sled, under the store's commit lock, so the journal always holds at least what sled
//! may hold. In durable mode a commit is acknowledged after one `fdatasync` of the journal that
//! covers it (group commit, see `commit.rs`). A checkpoint makes sled's files durable and records
//! in sled the last sequence they hold; at open, records after it are re-applied in order
//! (replaying a write set sets keys to their values after that commit, so replay is idempotent).
//! Files are kept until both a checkpoint and a snapshot cover them, so `storehub recover` can
//! rebuild a damaged database from the newest snapshot plus the journal after it.
//!
//! Files: `journal/<number, 16 digits>.log`, frames `[u32 len LE][u32 CRC-32 LE][record]`, a
//! record being `[sequence u64 LE]` then its writes back to back: `[tree id u8][key len u32
//! LE][key][0 = delete | 1 = put][value len u32 LE][value]` (hand-encoded: the record is built
//! once per commit on the hot path, and postcard would write byte slices element by element).
//! Each file is created filled with zeros ([`SEGMENT_BYTES`]) and written in place, so an
//! `fdatasync` need not also commit a new file size: measured here, a 3,000-byte write +
//! `fdatasync` ran at ~8,000/s in place against ~4,600/s as an append. A zero length ends the
//! data. A torn or corrupt frame (a crash mid-write) ends its file: it is never applied, and the
//! file is truncated there at open. A file that outgrows its zeros simply grows.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{StoreError, TreeId, WriteSet};

/// Size a journal file is zero-filled to when created. The store checkpoints (and starts a new
/// file) before a file fills up.
pub(crate) const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;

/// Largest frame replay accepts (bounded memory on a damaged file).
const MAX_FRAME: u32 = 256 * 1024 * 1024;


/// What replay found, for the log and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    pub files: usize,
    /// Records applied (those after the sequence the database already held).
    pub records: u64,
    /// Records found but already held by the database.
    pub skipped: u64,
    /// Bytes of torn or corrupt tails ignored (and cut off).
    pub torn_bytes: u64,
    /// Highest sequence number found in the journal.
    pub last_seq: u64,
    /// Lowest sequence applied (None when nothing was).
    pub first_applied: Option<u64>,
}

/// One journal record: a commit's sequence number and its writes.
pub(crate) struct Record {
    pub seq: u64,
    pub writes: WriteSet,
}

struct Current {
    file: Arc<File>,
    /// Relaxed mode: the zero-filled part of the file, mapped, so an append is a `memcpy` into
    /// the page cache instead of a `pwrite` (measured: the syscall was ~20% of a relaxed commit).
    /// Dirty mapped pages survive SIGKILL like written ones, and `fdatasync` on the file writes
    /// them back. Not in durable mode: a page under writeback cannot be written until its I/O
    /// ends, which stalled the next group behind every sync (8-writer rate fell from ~18k to
    /// ~11k/s when tried).
    map: Option<memmap2::MmapMut>,
    number: u64,
    bytes: u64,
    /// Sequence of the last record appended.
    last_seq: u64,
    /// Files before the current one, with the last sequence each holds.
    older: Vec<(u64, u64)>,
    /// Bytes of records appended since open.
    appended: u64,
    /// Durable mode: frames appended but not yet written to the file, starting at file offset
    /// `unwritten_at`. The sync thread writes them with one `pwrite` just before its
    /// `fdatasync`, so a commit does no syscall under the commit lock and a group of N commits
    /// costs one write instead of N.
    unwritten: Vec<u8>,
    unwritten_at: u64,
}

/// Maps a freshly created, zero-filled segment. Failing to map is not fatal: appends then use
/// `pwrite`.
fn map_segment(file: &File) -> Option<memmap2::MmapMut> {
    // SAFETY: the file is ours alone (the data dir is owner-only and sled's lock keeps a second
    // storehub out); nothing truncates it while mapped, and the map lives in `Current` next to
    // the file it maps.
    unsafe { memmap2::MmapOptions::new().len(SEGMENT_BYTES as usize).map_mut(file) }.ok()
}

/// The open journal of a data dir.
pub(crate) struct Journal {
    dir: PathBuf,
    mapped: bool,
    current: Mutex<Current>,
}

fn file_name(number: u64) -> String {
    format!("{number:016}.log")
}

/// Journal files in `dir`, oldest first.
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = number {
            out.push((n, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Creates a zero-filled journal file and makes it and its directory entry durable.
fn create_segment(dir: &Path, number: u64) -> Result<File, StoreError> {
    let path = dir.join(file_name(number));
    let mut file = File::options().create(true).truncate(true).read(true).write(true).open(&path)?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = SEGMENT_BYTES;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Encodes a write set as one frame.
fn frame(seq: u64, writes: &WriteSet) -> Result<Vec<u8>, StoreError> {
    let size: usize = writes.iter().map(|((_, k), v)| 10 + k.len() + v.as_ref().map_or(0, |v| v.len())).sum();
    let mut out = Vec::with_capacity(size + 16);
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&seq.to_le_bytes());
    for ((tree, key), value) in writes {
        out.push(*tree as u8);
        put_bytes(&mut out, key)?;
        match value {
            Some(v) => {
                out.push(1);
                put_bytes(&mut out, v)?;
            }
            None => out.push(0),
        }
    }
    let len = u32::try_from(out.len() - 8).map_err(|_| StoreError::Encode("journal record over 4 GiB".into()))?;
    let crc = crc32fast::hash(&out[8..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len()).map_err(|_| StoreError::Encode("journal value over 4 GiB".into()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Decodes one record; `None` when it does not parse (treated like a torn frame).
fn decode_record(mut rec: &[u8]) -> Option<Record> {
    fn take<'a>(rec: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if rec.len() < n {
            return None;
        }
        let (head, rest) = rec.split_at(n);
        *rec = rest;
        Some(head)
    }
    fn bytes(rec: &mut &[u8]) -> Option<Vec<u8>> {
        let len = take(rec, 4)?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        Some(take(rec, len)?.to_vec())
    }
    let seq = take(&mut rec, 8)?;
    let seq = u64::from_le_bytes(seq.try_into().ok()?);
    let mut writes = WriteSet::new();
    while !rec.is_empty() {
        let tree = *TreeId::ALL.get(*take(&mut rec, 1)?.first()? as usize)?;
        let key = bytes(&mut rec)?;
        let value = match take(&mut rec, 1)?.first()? {
            0 => None,
            1 => Some(bytes(&mut rec)?),
            _ => return None,
        };
        writes.insert((tree, key), value);
    }
    Some(Record { seq, writes })
}

/// The intact records of one journal file, and the byte length they end at.
fn read_file(path: &Path, mut each: impl FnMut(Record) -> Result<(), StoreError>) -> Result<(u64, u64), StoreError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut at = 0usize;
    let mut end_of_data = None;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 8) else { break };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if len == 0 {
            // The zero-filled rest of the file: the end of the data, not a tear.
            end_of_data = Some(at);
            break;
        }
        if len > MAX_FRAME {
            break;
        }
        let Some(payload) = bytes.get(at + 8..at + 8 + len as usize) else { break };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(record) = decode_record(payload) else { break };
        each(record)?;
        at += 8 + len as usize;
    }
    let torn = match end_of_data {
        Some(_) => 0,
        None => (bytes.len() - at) as u64,
    };
    if torn > 0 {
        tracing::warn!(file = %path.display(), offset = at, torn, "journal ends in a torn or corrupt frame (crash during a write); it is not applied");
    }
    Ok((at as u64, torn))
}

/// Every intact record of the journal in `dir` with a sequence above `after`, oldest first,
/// without changing anything (for `storehub recover` and `verify`).
pub(crate) fn scan(dir: &Path, after: u64, mut each: impl FnMut(Record) -> Result<(), StoreError>) -> Result<ReplayStats, StoreError> {
    let mut stats = ReplayStats::default();
    for (_, path) in list(dir)? {
        let (_, torn) = read_file(&path, |r| {
            stats.last_seq = stats.last_seq.max(r.seq);
            if r.seq > after {
                stats.records += 1;
                each(r)
            } else {
                stats.skipped += 1;
                Ok(())
            }
        })?;
        stats.torn_bytes += torn;
        stats.files += 1;
    }
    Ok(stats)
}

impl Journal {
    /// Applies every record after `after` through `apply`, oldest first, and cuts torn tails off
    /// so later appends never sit behind one. Deletes nothing. With `contiguous`, fails with
    /// `JournalGap`, before applying anything, when the first record after `after` is not
    /// `after + 1`.
    pub(crate) fn replay(dir: &Path, after: u64, contiguous: bool, mut apply: impl FnMut(WriteSet) -> Result<(), StoreError>) -> Result<ReplayStats, StoreError> {
        let mut stats = ReplayStats::default();
        for (_, path) in list(dir)? {
            let (good, torn) = read_file(&path, |r| {
                stats.last_seq = stats.last_seq.max(r.seq);
                if r.seq > after {
                    if contiguous && stats.first_applied.is_none() && r.seq != after + 1 {
                        return Err(StoreError::JournalGap { held: after, resumes: r.seq });
                    }
                    stats.records += 1;
                    stats.first_applied.get_or_insert(r.seq);
                    apply(r.writes)
                } else {
                    stats.skipped += 1;
                    Ok(())
                }
            })?;
            if torn > 0 {
                File::options().write(true).open(&path)?.set_len(good)?;
            }
            stats.torn_bytes += torn;
            stats.files += 1;
        }
        Ok(stats)
    }

    /// Starts a fresh journal file after the existing ones, which are kept (with their last
    /// sequence numbers from `replayed`) until [`removable`](Self::removable) says otherwise.
    /// Sequence numbers go on from `last_seq`.
    pub(crate) fn open(dir: &Path, mapped: bool, last_seq: u64) -> Result<Journal, StoreError> {
        std::fs::create_dir_all(dir)?;
        let mut older = Vec::new();
        for (n, path) in list(dir)? {
            let mut max = 0;
            read_file(&path, |r| {
                max = max.max(r.seq);
                Ok(())
            })?;
            older.push((n, max));
        }
        let number = older.last().map(|(n, _)| n + 1).unwrap_or(1);
        let file = create_segment(dir, number)?;
        let map = if mapped { map_segment(&file) } else { None };
        sync_dir(dir)?;
        Ok(Journal {
            dir: dir.to_path_buf(),
            mapped,
            current: Mutex::new(Current {
                file: Arc::new(file),
                map,
                number,
                bytes: 0,
                last_seq,
                older,
                appended: 0,
                unwritten: Vec::new(),
                unwritten_at: 0,
            }),
        })
    }

    /// Creates the file that will follow the current one (zero-filling takes a moment, so this
    /// runs outside the commit lock). Hand it to [`rotate`](Self::rotate).
    pub(crate) fn prepare_next(&self) -> Result<(u64, File), StoreError> {
        let number = self.lock().number + 1;
        Ok((number, create_segment(&self.dir, number)?))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one write set (not yet synced). Called under the store's commit lock, before the
    /// write set is applied to sled.
    pub(crate) fn append(&self, writes: &WriteSet) -> Result<u64, StoreError> {
        let mut cur = self.lock();
        let seq = cur.last_seq + 1;
        let bytes = frame(seq, writes)?;
        let at = cur.bytes as usize;
        let cur = &mut *cur;
        if !self.mapped {
            if cur.unwritten.is_empty() {
                cur.unwritten_at = at as u64;
            }
            cur.unwritten.extend_from_slice(&bytes);
        } else {
            match cur.map.as_mut().and_then(|m| m.get_mut(at..at + bytes.len())) {
                Some(dst) => dst.copy_from_slice(&bytes),
                // Past the mapped zeros (a checkpoint is late): the file simply grows.
                None => cur.file.write_all_at(&bytes, at as u64)?,
            }
        }
        cur.bytes += bytes.len() as u64;
        cur.appended += bytes.len() as u64;
        cur.last_seq = seq;
        Ok(seq)
    }

    /// Makes every record appended so far durable: writes the frames still held in memory and
    /// runs one `fdatasync` of the current file.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let (file, at, frames) = {
            let mut cur = self.lock();
            (Arc::clone(&cur.file), cur.unwritten_at, std::mem::take(&mut cur.unwritten))
        };
        if !frames.is_empty() {
            file.write_all_at(&frames, at)?;
        }
        file.sync_data()?;
        Ok(())
    }

    /// Bytes appended to the current file.
    pub(crate) fn current_bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Bytes of records appended since open.
    pub(crate) fn appended(&self) -> u64 {
        self.lock().appended
    }

    /// Sequence of the last record appended.
    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().last_seq
    }

    /// Switches to `next` (from [`prepare_next`](Self::prepare_next)), syncing the old file
    /// first so waiters on it are covered. Returns the last sequence in the old files. Call under
    /// the commit lock.
    pub(crate) fn rotate(&self, next: (u64, File)) -> Result<u64, StoreError> {
        let mut cur = self.lock();
        let frames = std::mem::take(&mut cur.unwritten);
        if !frames.is_empty() {
            cur.file.write_all_at(&frames, cur.unwritten_at)?;
        }
        cur.file.sync_data()?;
        let (number, file) = next;
        let (old_number, last) = (cur.number, cur.last_seq);
        cur.older.push((old_number, last));
        cur.map = if self.mapped { map_segment(&file) } else { None };
        cur.file = Arc::new(file);
        cur.number = number;
        cur.bytes = 0;
        Ok(last)
    }

    /// Deletes the older files whose every record is at or below `covered` (held by both sled's
    /// last checkpoint and the newest snapshot).
    pub(crate) fn remove_covered(&self, covered: u64) -> Result<usize, StoreError> {
        let doomed: Vec<u64> = {
            let mut cur = self.lock();
            let (gone, kept): (Vec<_>, Vec<_>) = cur.older.iter().partition(|(_, last)| *last <= covered);
            cur.older = kept;
            gone.into_iter().map(|(n, _)| n).collect()
        };
        for n in &doomed {
            std::fs::remove_file(self.dir.join(file_name(*n)))?;
        }
        if !doomed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(doomed.len())
    }
}

impl Drop for Journal {
    /// Writes frames still held in memory (not synced: whoever needed them durable has synced).
    fn drop(&mut self) {
        let cur = self.lock();
        if !cur.unwritten.is_empty() {
            if let Err(e) = cur.file.write_all_at(&cur.unwritten, cur.unwritten_at) {
                tracing::warn!(error = %e, "could not write the last journal frames at close");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(key: &[u8], value: Option<&[u8]>) -> WriteSet {
        let mut w = WriteSet::new();
        w.insert((TreeId::Stock, key.to_vec()), value.map(|v| v.to_vec()));
        w
    }

    #[test]
    fn a_torn_last_frame_is_ignored_and_earlier_frames_replay_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        let j = Journal::open(&dir, false, 0).unwrap();
        j.append(&ws(b"a", Some(b"1"))).unwrap();
        j.append(&ws(b"a", Some(b"2"))).unwrap();
        j.append(&ws(b"b", None)).unwrap();
        drop(j);
        // Zero the end of the last frame, as a crash during its write would leave it.
        let file = dir.join(file_name(1));
        let mut bytes = std::fs::read(&file).unwrap();
        let end = bytes.iter().rposition(|b| *b != 0).unwrap() + 1;
        bytes[end - 3..end].fill(0);
        std::fs::write(&file, bytes).unwrap();

        let mut seen = Vec::new();
        let stats = Journal::replay(&dir, 0, false, |w| {
            seen.push(w);
            Ok(())
        })
        .unwrap();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.files, 1);
        assert!(stats.torn_bytes > 0);
        assert_eq!(seen, vec![ws(b"a", Some(b"1")), ws(b"a", Some(b"2"))]);
    }

    #[test]
    fn a_corrupt_frame_ends_the_file_and_rotation_keeps_order_across_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        let j = Journal::open(&dir, false, 0).unwrap();
        j.append(&ws(b"k", Some(b"old"))).unwrap();
        let next = j.prepare_next().unwrap();
        let last = j.rotate(next).unwrap();
        assert_eq!(last, 1, "the old file ends with record 1");
        j.append(&ws(b"k", Some(b"new"))).unwrap();
        drop(j);
        let mut seen = Vec::new();
        Journal::replay(&dir, 0, false, |w| {
            seen.push(w);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![ws(b"k", Some(b"old")), ws(b"k", Some(b"new"))]);

        // Flip a byte in the first file's payload: its frame and the rest of that file are ignored.
        let first = dir.join(file_name(1));
        let mut bytes = std::fs::read(&first).unwrap();
        let last = bytes.iter().rposition(|b| *b != 0).unwrap();
        bytes[last] ^= 0xff;
        std::fs::write(&first, bytes).unwrap();
        let mut seen = Vec::new();
        Journal::replay(&dir, 0, false, |w| {
            seen.push(w);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![ws(b"k", Some(b"new"))]);

        // Opening starts a new file after the old ones and keeps them until they are covered;
        // sequences go on from the one given.
        let j = Journal::open(&dir, false, 2).unwrap();
        assert_eq!(list(&dir).unwrap().iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(j.append(&ws(b"k", Some(b"newer"))).unwrap(), 3);
        assert_eq!(j.remove_covered(1).unwrap(), 1, "file 1 holds only record 1");
        assert_eq!(list(&dir).unwrap().iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![2, 3]);
        drop(j);
        // Replay after sequence 2 applies only record 3.
        let mut seen = Vec::new();
        let stats = Journal::replay(&dir, 2, false, |w| {
            seen.push(w);
            Ok(())
        })
        .unwrap();
        assert_eq!((stats.records, stats.skipped, stats.last_seq), (1, 1, 3));
        assert_eq!(seen, vec![ws(b"k", Some(b"newer"))]);
    }

    #[test]
    fn mapped_appends_replay_like_written_ones_and_spill_past_the_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        let j = Journal::open(&dir, true, 0).unwrap();
        assert!(j.lock().map.is_some(), "relaxed mode maps the segment");
        let big = vec![7u8; 1 << 20];
        // Nine 1 MiB records: the ninth no longer fits the 8 MiB mapping and goes by pwrite.
        for i in 0..9u8 {
            j.append(&ws(&[i], Some(&big))).unwrap();
        }
        j.sync().unwrap();
        drop(j);
        let mut keys = Vec::new();
        let stats = Journal::replay(&dir, 0, false, |w| {
            keys.extend(w.into_keys().map(|(_, k)| k));
            Ok(())
        })
        .unwrap();
        assert_eq!(stats.records, 9);
        assert_eq!(keys, (0..9u8).map(|i| vec![i]).collect::<Vec<_>>());
    }
}
