//! Writing what provisioning produces, with owner-only permissions: the config (0640
//! root:storehub when the `storehub` group exists — the daemon runs as that user and only reads
//! it — else 0600), private keys (0600, owned by the `storehub` user when it exists, else by
//! whoever runs provision), certificates and CSRs (0644: public). Every file is written to a
//! temporary name in the same directory, synced and renamed, so a power cut leaves the old file
//! or the new one, never half of one.

use std::ffi::CString;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The account the packaged daemon runs as (the deb creates it).
pub const SERVICE_USER: &str = "storehub";

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The config: 0640 root:storehub, or 0600 when there is no `storehub` group.
    Config,
    /// A private key: 0600, owned by the `storehub` user when there is one.
    Secret,
    /// Certificates, CSRs: 0644.
    Public,
}

fn uid_of(user: &str) -> Option<libc::uid_t> {
    let name = CString::new(user).ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to static storage, read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    (!pw.is_null()).then(|| unsafe { (*pw).pw_uid })
}

fn gid_of(group: &str) -> Option<libc::gid_t> {
    let name = CString::new(group).ok()?;
    // SAFETY: as above, for getgrnam.
    let gr = unsafe { libc::getgrnam(name.as_ptr()) };
    (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
}

/// A new owner for a file: (uid, gid), `None` parts left as they are.
pub type Owner = (Option<u32>, Option<u32>);

/// The mode and owner a file of this access gets on this machine (`None`: leave as is).
pub fn mode_and_owner(access: Access) -> (u32, Option<Owner>) {
    match access {
        Access::Config => match gid_of(SERVICE_USER) {
            Some(g) => (0o640, Some((None, Some(g)))),
            None => (0o600, None),
        },
        Access::Secret => match (uid_of(SERVICE_USER), gid_of(SERVICE_USER)) {
            (Some(u), g) => (0o600, Some((Some(u), g))),
            _ => (0o600, None),
        },
        Access::Public => (0o644, None),
    }
}

/// Creates `dir` (and parents) with mode 0750 when missing.
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}; run provision as root or pass --etc-dir", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750));
        if let Some(g) = gid_of(SERVICE_USER) {
            let _ = std::os::unix::fs::chown(dir, None, Some(g));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically with the access's mode and owner.
pub fn write(path: &Path, bytes: &[u8], access: Access) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_dir(dir)?;
    let (mode, owner) = mode_and_owner(access);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        // The mode given to open is filtered by the umask; set it exactly.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        if let Some((u, g)) = owner {
            std::os::unix::fs::fchown(&f, u, g)?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("cannot write {}: {e}; run provision as root or point --etc-dir at a writable directory", path.display());
    }
    Ok(())
}

/// Gives the data dir and everything in it to the `storehub` user and group when provisioning
/// ran as root and that user exists (the daemon runs as it and must write its database); a
/// no-op otherwise. Returns whether it did.
pub fn give_to_service_user(dir: &Path) -> anyhow::Result<bool> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(false);
    }
    let (Some(u), Some(g)) = (uid_of(SERVICE_USER), gid_of(SERVICE_USER)) else { return Ok(false) };
    std::os::unix::fs::lchown(dir, Some(u), Some(g))
        .and_then(|()| crate::store::owner::chown_tree(dir, u, g))
        .map_err(|e| anyhow::anyhow!("cannot give {} to the {SERVICE_USER} user: {e}; run `chown -R {SERVICE_USER}: {}`", dir.display(), dir.display()))?;
    Ok(true)
}

/// Copies an existing file to `FILE.bak` (same mode) before it is replaced; returns the copy's path.
pub fn backup(path: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let mut bak = path.as_os_str().to_owned();
    bak.push(".bak");
    let bak = PathBuf::from(bak);
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {} to keep a copy: {e}", path.display()))?;
    write(&bak, &bytes, Access::Config)?;
    Ok(Some(bak))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_get_exact_modes_whatever_the_umask() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("tls/hub.key");
        write(&key, b"k", Access::Secret).unwrap();
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let cert = d.path().join("tls/hub.pem");
        write(&cert, b"c", Access::Public).unwrap();
        assert_eq!(std::fs::metadata(&cert).unwrap().permissions().mode() & 0o777, 0o644);
        let cfg = d.path().join("storehub.toml");
        write(&cfg, b"a", Access::Config).unwrap();
        let expected = mode_and_owner(Access::Config).0;
        assert_eq!(std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777, expected);
        let bak = backup(&cfg).unwrap().unwrap();
        assert_eq!(std::fs::read(&bak).unwrap(), b"a");
        assert!(backup(&d.path().join("none")).unwrap().is_none());
    }
}
