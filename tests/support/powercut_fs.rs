//! A FUSE filesystem that forgets what was not synced: the disk under the power-cut tests.
//!
//! It owns an in-memory tree of files and directories, mounted with the real kernel FUSE driver
//! (`fuser`, no libfuse), and a [`PowerCutFs::power_cut`] that unmounts, throws away everything
//! a real disk could lose, and mounts again. It never touches the host filesystem beyond the
//! mount point.
//!
//! # The durability model
//!
//! - **File contents** (bytes *and* length) exist twice: the current content, which every read
//!   sees, and the durable content. `fsync` and `fdatasync` of a file (the FUSE `fsync` op, either
//!   flavour) make the current content durable. Nothing else does: not `close`, not `flush`, and
//!   not `sync_file_range`, which the kernel never forwards to a FUSE server (files are opened
//!   with `FOPEN_DIRECT_IO`, so there is no page cache for it to write back either). That is the
//!   honest reading of `sync_file_range(2)`: it starts and waits for writeback of data pages but
//!   writes no metadata and sends no cache flush, so it promises nothing about a power cut.
//! - **Truncate / set size** changes the file's content (its length), so it becomes durable with
//!   the file's next `fsync`/`fdatasync` (POSIX: `fdatasync` must persist the size needed to read
//!   the data back). This deviates on purpose from treating it as a namespace change: a length is
//!   a property of the file, not of a directory entry.
//! - **Names** (create, mkdir, unlink, rmdir, rename) exist twice per directory too: the current
//!   entries and the durable entries. `fsync` of the directory (FUSE `fsyncdir`) makes that
//!   directory's current entries durable; nothing else does, not even `fsync` of the file the
//!   entry names. A rename touches two directories when it moves between them; each side becomes
//!   durable with its own directory's `fsync` (so a cut between the two may show the file in
//!   both or neither: POSIX promises no more). A new directory's own entries start empty in
//!   both versions. The root is always durable.
//! - **Metadata** other than length (mode, owner, times) is not modelled: it is kept as is.
//! - **A power cut** ([`Cut::Clean`]) makes every file's and directory's current version equal
//!   to its durable version, and drops the inodes that no durable name reaches. A torn cut
//!   ([`Cut::Torn`]) also keeps, for every file whose last write since its last `fsync` is not
//!   durable, a random prefix (0 to all bytes) of that one write on top of the durable content
//!   (the earlier unsynced writes are lost), like a disk that was mid-way through the write when
//!   the power went.
//! - Every mount is a fresh kernel mount (the test unmounts and mounts again around each cut), and
//!   files are opened with direct I/O, so no page cache of the kernel hides a lost write.
//!
//! Not modelled: hard links and symlinks (refused), extended attributes, file locks (the kernel
//! keeps `flock`s locally), `fallocate`, ENOSPC. A `readdir` that races with changes in the same
//! directory may repeat or skip a name (offsets are positions in the current listing).

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};

/// How long the kernel may cache names and attributes. Only the kernel changes the tree while
/// it is mounted, and every power cut remounts, so caching cannot show stale data.
const TTL: Duration = Duration::from_secs(1);
const ROOT: u64 = 1;
/// Largest file this filesystem accepts (bounded memory if a writer runs away).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// What a power cut keeps of the unsynced state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Only what was synced.
    Clean,
    /// What was synced, plus a random prefix of each file's last unsynced write (seeded).
    Torn { seed: u64 },
}

/// A write that a torn cut kept part of.
#[derive(Debug, Clone)]
pub struct TornWrite {
    /// The file's path from the mount root, by its names before the cut.
    pub path: String,
    pub offset: u64,
    /// Bytes kept of the write's `len`.
    pub kept: usize,
    pub len: usize,
}

/// What one power cut threw away.
#[derive(Debug, Default, Clone)]
pub struct CutReport {
    /// Paths (names before the cut) of the files that lost unsynced changes.
    pub reverted: Vec<String>,
    /// The writes a torn cut kept a non-empty prefix of.
    pub torn: Vec<TornWrite>,
    /// Files whose current content differed from the durable one.
    pub files_reverted: usize,
    /// Bytes those files had written (or zero-extended) since their last sync.
    pub unsynced_bytes: u64,
    /// Directories whose current entries differed from the durable ones.
    pub dirs_reverted: usize,
    /// Files that kept a non-empty prefix of their last unsynced write (torn cut), and its bytes.
    pub torn_files: usize,
    pub torn_bytes: u64,
    /// Inodes that no durable name reached any more.
    pub inodes_dropped: usize,
}

struct FileData {
    cur: Vec<u8>,
    dur: Vec<u8>,
    /// The byte range changed since the last sync (clamped to the current length at sync).
    dirty: Option<(u64, u64)>,
    /// The last write since the last sync: offset and length (its bytes are in `cur`).
    last_write: Option<(u64, usize)>,
    /// Bytes written or zero-extended since the last sync (for the cut report).
    unsynced: u64,
}

impl FileData {
    fn new() -> FileData {
        FileData { cur: Vec::new(), dur: Vec::new(), dirty: None, last_write: None, unsynced: 0 }
    }

    fn mark(&mut self, lo: u64, hi: u64) {
        self.dirty = Some(match self.dirty {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Errno> {
        let end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE_BYTES {
            return Err(Errno::EFBIG);
        }
        let old_len = self.cur.len() as u64;
        if end as usize > self.cur.len() {
            self.cur.resize(end as usize, 0);
        }
        self.cur[offset as usize..end as usize].copy_from_slice(data);
        // Bytes between the old end and the write read back as zeros: they changed too.
        self.mark(offset.min(old_len), end);
        self.unsynced += end - offset.min(old_len);
        self.last_write = Some((offset, data.len()));
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<(), Errno> {
        if len > MAX_FILE_BYTES {
            return Err(Errno::EFBIG);
        }
        let old_len = self.cur.len() as u64;
        self.cur.resize(len as usize, 0);
        self.mark(len.min(old_len), len.max(old_len));
        self.unsynced += len.saturating_sub(old_len);
        // The last write may be cut or moved past the end: no longer tearable as written.
        self.last_write = None;
        Ok(())
    }

    fn sync(&mut self) {
        if let Some((lo, hi)) = self.dirty.take() {
            let len = self.cur.len();
            self.dur.resize(len, 0);
            let (lo, hi) = ((lo as usize).min(len), (hi as usize).min(len));
            self.dur[lo..hi].copy_from_slice(&self.cur[lo..hi]);
        }
        self.last_write = None;
        self.unsynced = 0;
    }

    /// Reverts to the durable content (plus a torn prefix of the last write when `rng` is
    /// given). Returns whether anything was lost, and the torn write kept: (offset, kept, len).
    fn cut(&mut self, rng: Option<&mut fastrand::Rng>, report: &mut CutReport) -> (bool, Option<(u64, usize, usize)>) {
        let mut torn = None;
        let lost = self.dirty.take().is_some();
        if lost {
            report.files_reverted += 1;
            report.unsynced_bytes += self.unsynced;
            let mut kept = self.dur.clone();
            if let (Some(rng), Some((off, len))) = (rng, self.last_write) {
                let n = rng.usize(0..=len);
                let (start, end) = (off as usize, off as usize + n);
                if n > 0 && end <= self.cur.len() {
                    if kept.len() < end {
                        kept.resize(end, 0);
                    }
                    kept[start..end].copy_from_slice(&self.cur[start..end]);
                    report.torn_files += 1;
                    report.torn_bytes += n as u64;
                    self.dur = kept.clone();
                    torn = Some((off, n, len));
                }
            }
            self.cur = kept;
        }
        self.last_write = None;
        self.unsynced = 0;
        (lost, torn)
    }
}

struct DirData {
    cur: BTreeMap<OsString, u64>,
    dur: BTreeMap<OsString, u64>,
    /// Parent in the current tree (for "..").
    parent: u64,
}

enum Body {
    File(FileData),
    Dir(DirData),
}

struct Node {
    body: Body,
    perm: u16,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
    ctime: SystemTime,
}

impl Node {
    fn kind(&self) -> FileType {
        match self.body {
            Body::File(_) => FileType::RegularFile,
            Body::Dir(_) => FileType::Directory,
        }
    }

    fn file(&mut self) -> Result<&mut FileData, Errno> {
        match &mut self.body {
            Body::File(f) => Ok(f),
            Body::Dir(_) => Err(Errno::EISDIR),
        }
    }

    fn dir(&mut self) -> Result<&mut DirData, Errno> {
        match &mut self.body {
            Body::Dir(d) => Ok(d),
            Body::File(_) => Err(Errno::ENOTDIR),
        }
    }
}

/// The whole filesystem state, shared by the FUSE server thread and the test.
struct Model {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
}

impl Model {
    fn new() -> Model {
        let now = SystemTime::now();
        let root = Node {
            body: Body::Dir(DirData { cur: BTreeMap::new(), dur: BTreeMap::new(), parent: ROOT }),
            perm: 0o755,
            uid: 0,
            gid: 0,
            mtime: now,
            ctime: now,
        };
        Model { nodes: HashMap::from([(ROOT, root)]), next_ino: ROOT + 1 }
    }

    fn node(&mut self, ino: u64) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn attr(&self, ino: u64) -> Result<FileAttr, Errno> {
        let n = self.nodes.get(&ino).ok_or(Errno::ENOENT)?;
        let (size, nlink) = match &n.body {
            Body::File(f) => (f.cur.len() as u64, 1),
            Body::Dir(d) => (4096, 2 + d.cur.len() as u32),
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.ctime,
            crtime: n.ctime,
            kind: n.kind(),
            perm: n.perm,
            nlink,
            uid: n.uid,
            gid: n.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn lookup(&mut self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        self.node(parent)?.dir()?.cur.get(name).copied().ok_or(Errno::ENOENT)
    }

    fn add(&mut self, parent: u64, name: &OsStr, body: Body, mode: u32, req: &Request) -> Result<u64, Errno> {
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.node(parent)?.dir()?.cur.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let now = SystemTime::now();
        self.nodes.insert(
            ino,
            Node { body, perm: (mode & 0o7777) as u16, uid: req.uid(), gid: req.gid(), mtime: now, ctime: now },
        );
        let p = self.node(parent)?;
        p.mtime = now;
        p.dir()?.cur.insert(name.to_os_string(), ino);
        Ok(ino)
    }

    fn remove(&mut self, parent: u64, name: &OsStr, want_dir: bool) -> Result<(), Errno> {
        let ino = self.lookup(parent, name)?;
        match (&self.node(ino)?.body, want_dir) {
            (Body::Dir(d), true) if !d.cur.is_empty() => return Err(Errno::ENOTEMPTY),
            (Body::Dir(_), false) => return Err(Errno::EISDIR),
            (Body::File(_), true) => return Err(Errno::ENOTDIR),
            _ => {}
        }
        let p = self.node(parent)?;
        p.mtime = SystemTime::now();
        p.dir()?.cur.remove(name);
        Ok(())
    }

    fn rename(&mut self, parent: u64, name: &OsStr, newparent: u64, newname: &OsStr, flags: RenameFlags) -> Result<(), Errno> {
        if flags.contains(RenameFlags::RENAME_EXCHANGE) || flags.contains(RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let ino = self.lookup(parent, name)?;
        self.node(newparent)?.dir()?;
        if let Ok(target) = self.lookup(newparent, newname) {
            if target == ino {
                return Ok(());
            }
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            let moving_dir = matches!(self.node(ino)?.body, Body::Dir(_));
            match &self.node(target)?.body {
                Body::Dir(d) if !moving_dir => return Err(if d.cur.is_empty() { Errno::EISDIR } else { Errno::ENOTEMPTY }),
                Body::Dir(d) if !d.cur.is_empty() => return Err(Errno::ENOTEMPTY),
                Body::File(_) if moving_dir => return Err(Errno::ENOTDIR),
                _ => {}
            }
        }
        // A directory must not move below itself.
        if matches!(self.node(ino)?.body, Body::Dir(_)) {
            let mut at = newparent;
            while at != ROOT {
                if at == ino {
                    return Err(Errno::EINVAL);
                }
                at = match &self.node(at)?.body {
                    Body::Dir(d) => d.parent,
                    Body::File(_) => return Err(Errno::ENOTDIR),
                };
            }
        }
        let now = SystemTime::now();
        let p = self.node(parent)?;
        p.mtime = now;
        p.dir()?.cur.remove(name);
        let np = self.node(newparent)?;
        np.mtime = now;
        np.dir()?.cur.insert(newname.to_os_string(), ino);
        let moved = self.node(ino)?;
        moved.ctime = now;
        if let Body::Dir(d) = &mut moved.body {
            d.parent = newparent;
        }
        Ok(())
    }

    /// Every reachable inode's path by the current names ("/" for the root).
    fn paths(&self) -> HashMap<u64, String> {
        let mut out = HashMap::from([(ROOT, "/".to_string())]);
        let mut todo = vec![(ROOT, String::new())];
        while let Some((dir, prefix)) = todo.pop() {
            if let Some(Node { body: Body::Dir(d), .. }) = self.nodes.get(&dir) {
                for (name, child) in &d.cur {
                    let path = format!("{prefix}/{}", name.to_string_lossy());
                    if !out.contains_key(child) {
                        out.insert(*child, path.clone());
                        todo.push((*child, path));
                    }
                }
            }
        }
        out
    }

    fn power_cut(&mut self, mut rng: Option<fastrand::Rng>) -> CutReport {
        let mut report = CutReport::default();
        let names = self.paths();
        let name = |ino: &u64| names.get(ino).cloned().unwrap_or_else(|| format!("(unlinked inode {ino})"));
        // Every inode in a stable order, so a seeded torn cut is reproducible.
        let mut inos: Vec<u64> = self.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in &inos {
            let Some(node) = self.nodes.get_mut(ino) else { continue };
            match &mut node.body {
                Body::File(f) => {
                    let (lost, torn) = f.cut(rng.as_mut(), &mut report);
                    if lost {
                        report.reverted.push(name(ino));
                    }
                    if let Some((offset, kept, len)) = torn {
                        report.torn.push(TornWrite { path: name(ino), offset, kept, len });
                    }
                }
                Body::Dir(d) => {
                    if d.cur != d.dur {
                        report.dirs_reverted += 1;
                        d.cur = d.dur.clone();
                    }
                }
            }
        }
        // Keep what the durable names reach; fix up "..".
        let mut reached = HashSet::from([ROOT]);
        let mut todo = vec![ROOT];
        let mut parents = Vec::new();
        while let Some(dir) = todo.pop() {
            if let Some(Node { body: Body::Dir(d), .. }) = self.nodes.get(&dir) {
                for child in d.cur.values() {
                    if reached.insert(*child) {
                        todo.push(*child);
                        parents.push((*child, dir));
                    }
                }
            }
        }
        let before = self.nodes.len();
        self.nodes.retain(|ino, _| reached.contains(ino));
        report.inodes_dropped = before - self.nodes.len();
        for (child, parent) in parents {
            if let Some(Node { body: Body::Dir(d), .. }) = self.nodes.get_mut(&child) {
                d.parent = parent;
            }
        }
        report
    }
}

/// The FUSE server: every request locks the model once.
struct Server {
    model: Arc<Mutex<Model>>,
}

impl Server {
    fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn entry(reply: ReplyEntry, r: Result<FileAttr, Errno>) {
    match r {
        Ok(a) => reply.entry(&TTL, &a, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn empty(reply: ReplyEmpty, r: Result<(), Errno>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for Server {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut m = self.model();
        entry(reply, m.lookup(parent.0, name).and_then(|ino| m.attr(ino)));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.model().attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut m = self.model();
        let r = (|| {
            let n = m.node(ino.0)?;
            if let Some(len) = size {
                n.file()?.set_len(len)?;
                n.mtime = SystemTime::now();
            }
            if let Some(mode) = mode {
                n.perm = (mode & 0o7777) as u16;
            }
            if let Some(uid) = uid {
                n.uid = uid;
            }
            if let Some(gid) = gid {
                n.gid = gid;
            }
            match mtime {
                Some(TimeOrNow::SpecificTime(t)) => n.mtime = t,
                Some(TimeOrNow::Now) => n.mtime = SystemTime::now(),
                None => {}
            }
            n.ctime = SystemTime::now();
            m.attr(ino.0)
        })();
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let mut m = self.model();
        let body = Body::Dir(DirData { cur: BTreeMap::new(), dur: BTreeMap::new(), parent: parent.0 });
        entry(reply, m.add(parent.0, name, body, mode & !umask, req).and_then(|ino| m.attr(ino)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.model().remove(parent.0, name, false));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.model().remove(parent.0, name, true));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.model().rename(parent.0, name, newparent.0, newname, flags));
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.model().node(ino.0).and_then(|n| n.file().map(|_| ())) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn create(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, _flags: i32, reply: ReplyCreate) {
        let mut m = self.model();
        match m.add(parent.0, name, Body::File(FileData::new()), mode & !umask, req).and_then(|ino| m.attr(ino)) {
            Ok(a) => reply.created(&TTL, &a, Generation(0), FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut m = self.model();
        match m.node(ino.0).and_then(|n| n.file()) {
            Ok(f) => {
                let start = (offset as usize).min(f.cur.len());
                let end = start.saturating_add(size as usize).min(f.cur.len());
                reply.data(&f.cur[start..end]);
            }
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut m = self.model();
        let r = m.node(ino.0).and_then(|n| {
            n.file()?.write(offset, data)?;
            n.mtime = SystemTime::now();
            Ok(())
        });
        match r {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        // close() makes nothing durable.
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let mut m = self.model();
        empty(reply, m.node(ino.0).and_then(|n| n.file().map(FileData::sync)));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.model().node(ino.0).and_then(|n| n.dir().map(|_| ())) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let mut m = self.model();
        let listing: Vec<(u64, OsString)> = match m.node(ino.0).and_then(|n| n.dir()) {
            Ok(d) => {
                let mut l = vec![(ino.0, OsString::from(".")), (d.parent, OsString::from(".."))];
                l.extend(d.cur.iter().map(|(name, ino)| (*ino, name.clone())));
                l
            }
            Err(e) => return reply.error(e),
        };
        for (i, (child, name)) in listing.into_iter().enumerate().skip(offset as usize) {
            let kind = m.nodes.get(&child).map_or(FileType::RegularFile, Node::kind);
            if reply.add(INodeNo(child), i as u64 + 1, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let mut m = self.model();
        let r = m.node(ino.0).and_then(|n| {
            let d = n.dir()?;
            d.dur = d.cur.clone();
            Ok(())
        });
        empty(reply, r);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // 4 GiB free in 4 KiB blocks; a million inodes.
        reply.statfs(1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}

/// The mounted filesystem and its state. Unmounts when dropped.
pub struct PowerCutFs {
    model: Arc<Mutex<Model>>,
    mountpoint: PathBuf,
    session: Option<BackgroundSession>,
    /// How many times the filesystem has been mounted.
    pub mounts: usize,
}

impl PowerCutFs {
    /// Mounts an empty filesystem on `mountpoint` (an existing empty directory). Needs
    /// `/dev/fuse` and either root or the `fusermount3` helper (Debian package `fuse3`).
    pub fn mount(mountpoint: &Path) -> io::Result<PowerCutFs> {
        let mut fs = PowerCutFs {
            model: Arc::new(Mutex::new(Model::new())),
            mountpoint: mountpoint.to_path_buf(),
            session: None,
            mounts: 0,
        };
        fs.attach()?;
        Ok(fs)
    }

    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    fn attach(&mut self) -> io::Result<()> {
        let mut config = Config::default();
        config.mount_options = vec![MountOption::FSName("powercut".into()), MountOption::Subtype("powercut".into())];
        let server = Server { model: Arc::clone(&self.model) };
        let session = fuser::spawn_mount(server, &self.mountpoint, &config).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot mount the power-cut FUSE filesystem on {}: {e} (needs /dev/fuse, and root or fusermount3 from the Debian package fuse3)",
                    self.mountpoint.display()
                ),
            )
        })?;
        self.session = Some(session);
        self.mounts += 1;
        Ok(())
    }

    /// Unmounts (waiting while a closing process still holds files) and stops the server.
    fn detach(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else { return Ok(()) };
        let c_path = std::ffi::CString::new(self.mountpoint.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mount point contains NUL"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // SAFETY: umount2 reads a NUL-terminated path that lives across the call.
            if unsafe { libc::umount2(c_path.as_ptr(), 0) } == 0 {
                break;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EBUSY) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                // Not root: fuser unmounts through fusermount3 below.
                Some(libc::EPERM) => return session.umount_and_join(),
                _ => {
                    return Err(io::Error::new(
                        err.kind(),
                        format!("cannot unmount {}: {err}", self.mountpoint.display()),
                    ))
                }
            }
        }
        session.join()
    }

    /// Cuts the power: unmounts, throws away every unsynced change (see the module doc), mounts
    /// again. Every process using the filesystem must be gone first.
    pub fn power_cut(&mut self, cut: Cut) -> io::Result<CutReport> {
        self.detach()?;
        let rng = match cut {
            Cut::Clean => None,
            Cut::Torn { seed } => Some(fastrand::Rng::with_seed(seed)),
        };
        let report = self.model.lock().unwrap_or_else(|e| e.into_inner()).power_cut(rng);
        self.attach()?;
        Ok(report)
    }

    /// Unmounts and mounts again without losing anything (a clean shutdown and boot).
    pub fn remount(&mut self) -> io::Result<()> {
        self.detach()?;
        self.attach()
    }
}

impl Drop for PowerCutFs {
    fn drop(&mut self) {
        if let Err(e) = self.detach() {
            eprintln!("power-cut filesystem: {e}");
        }
    }
}
