//! Who owns the data dir's files. The daemon runs as the `storehub` user; a technician's root
//! shell that opens the database itself (the daemon stopped: `storehub import`, `recover`,
//! `restore`, `rollback`, `privacy rotate-key`…) creates journal segments, snapshots and sled
//! files owned by root, which the daemon then cannot write, and it would fail at its next start.
//! [`give_back`] hands everything below the data dir to the dir's own owner; the CLI calls it
//! on the way out of every command it runs as root.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// Gives every file and directory below `dir` (not `dir` itself) the owner and group `uid`,
/// `gid`, touching only those that differ. Symbolic links are changed, not followed. Returns
/// how many were changed.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) -> std::io::Result<usize> {
    let mut changed = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let m = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Gone meanwhile (a daemon deleting an old snapshot): nothing to give.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if m.uid() != uid || m.gid() != gid {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            changed += 1;
        }
        if m.is_dir() {
            changed += chown_tree(&path, uid, gid)?;
        }
    }
    Ok(changed)
}

/// When this process runs as root and `dir` (a data dir) belongs to another user, gives
/// everything below it to that user and group; a no-op otherwise (not root, the dir root's
/// own, or missing). Returns how many files were changed.
pub fn give_back(dir: &Path) -> std::io::Result<usize> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(0);
    }
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if meta.uid() == 0 {
        return Ok(0);
    }
    chown_tree(dir, meta.uid(), meta.gid())
}

/// Gives everything below `dir` to `dir`'s owner and group, whoever runs this (a rollback
/// restores as root for the `storehub` user). Returns how many files were changed.
pub fn to_dir_owner(dir: &Path) -> std::io::Result<usize> {
    let meta = std::fs::metadata(dir)?;
    chown_tree(dir, meta.uid(), meta.gid())
}
