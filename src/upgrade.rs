//! Package upgrades and `storehub rollback`. The .deb's preinst (debian/preinst) writes a backup
//! with the installed binary before an upgrade's files land, as
//! `<data dir>/upgrades/pre-upgrade-<old version>-<YYYYMMDDTHHMMSSZ>.backup`; this module reads
//! those names, chooses the newest backup of a version ([`choose`], pure) and restores it
//! ([`rollback`]): stop the service when systemd runs it, restore (the database it replaces is
//! kept aside as `db.replaced-…`), record `AuditAction::RolledBack`, start the service again.
//! Installing the older package (`--package OLD.deb`) happens in the CLI before this, so that the
//! restore and the audit entry are written by the binary of the backup's version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::audit::{self, AuditAction};
use crate::store::{Store, StoreError, StoreOptions};

/// The folder of the data dir that holds the pre-upgrade backups.
pub const UPGRADES_DIR: &str = "upgrades";
const PREFIX: &str = "pre-upgrade-";
const SUFFIX: &str = ".backup";

/// One pre-upgrade backup found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreUpgradeBackup {
    pub path: PathBuf,
    /// The package version that wrote it (as in the file name: `:` and `/` made `_`).
    pub version: String,
    /// When, UTC, as `YYYYMMDDTHHMMSSZ` (sorts as time).
    pub stamp: String,
}

/// A Debian version as the preinst puts it in a file name: `:` (epoch) and `/` become `_`.
pub fn file_version(version: &str) -> String {
    version.replace([':', '/'], "_")
}

/// `pre-upgrade-<version>-<YYYYMMDDTHHMMSSZ>.backup` → (version, stamp); `None` for any other name.
pub fn parse_name(name: &str) -> Option<(String, String)> {
    let middle = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (version, stamp) = middle.rsplit_once('-')?;
    let b = stamp.as_bytes();
    let well_formed = b.len() == 16 && b[8] == b'T' && b[15] == b'Z' && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    (well_formed && !version.is_empty()).then(|| (version.to_string(), stamp.to_string()))
}

/// The pre-upgrade backups in `data_dir/upgrades` (none when the folder does not exist).
pub fn list(data_dir: &Path) -> std::io::Result<Vec<PreUpgradeBackup>> {
    let dir = data_dir.join(UPGRADES_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some((version, stamp)) = name.to_str().and_then(parse_name) {
            found.push(PreUpgradeBackup { path: entry.path(), version, stamp });
        }
    }
    Ok(found)
}

/// The newest backup written by `version`; the error names what there is instead.
pub fn choose<'a>(backups: &'a [PreUpgradeBackup], version: &str, dir: &Path) -> Result<&'a PreUpgradeBackup, String> {
    let wanted = file_version(version);
    if let Some(b) = backups.iter().filter(|b| b.version == wanted).max_by(|a, b| a.stamp.cmp(&b.stamp)) {
        return Ok(b);
    }
    let mut versions: Vec<&str> = backups.iter().map(|b| b.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    Err(if versions.is_empty() {
        format!("no pre-upgrade backup in {}: nothing to roll back to (the .deb writes one there on each upgrade)", dir.display())
    } else {
        format!(
            "no pre-upgrade backup of version {version} in {} (there are backups of: {}); install that version's package with --package, or pick a file with --backup",
            dir.display(),
            versions.join(", ")
        )
    })
}

/// The version of the installed `storehub` package (`dpkg-query`), if dpkg knows one.
pub fn installed_package_version() -> Option<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Status}|${Version}", "storehub"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, version) = text.split_once('|')?;
    (out.status.success() && status == "install ok installed" && !version.is_empty()).then(|| version.to_string())
}

/// Whether systemd runs this machine (sd_booted's test).
pub fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolled {
    pub backup: PathBuf,
    pub entries: u64,
    pub schema_version: u32,
    /// Whether the service was started after it (it ran before, or it is enabled).
    pub restarted_service: bool,
}

/// Restores `backup` into `opts.path` in place of its database and records it in the audit log.
/// The service is stopped first and started after when systemd runs it; a daemon still answering
/// on the control socket refuses the rollback. Files made here get the data dir's owner (the
/// `storehub` user when run as root on a box).
pub fn rollback(opts: StoreOptions, backup: &Path, socket: &Path) -> anyhow::Result<Rolled> {
    use anyhow::{anyhow, Context};
    let systemctl_says = |what: &str| Command::new("systemctl").args([what, "--quiet", "storehub.service"]).status().is_ok_and(|s| s.success());
    let service_was_active = systemd_runs() && systemctl_says("is-active");
    // Started after when it ran before, or when it is enabled: after `--package`, the older
    // package's postinst may have restarted it onto the newer database, where it exits 78.
    let start_after = systemd_runs() && (service_was_active || systemctl_says("is-enabled"));
    if service_was_active {
        let stopped = Command::new("systemctl").args(["stop", "storehub.service"]).status().context("running systemctl stop storehub")?;
        if !stopped.success() {
            return Err(anyhow!("systemctl stop storehub failed ({stopped}); nothing was restored. See `systemctl status storehub`"));
        }
    }
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Err(anyhow!("a storehub daemon runs on {}; stop it (systemctl stop storehub) and run rollback again; nothing was restored", opts.path.display()));
    }
    let data_dir = opts.path.clone();
    let mut f = std::fs::File::open(backup).with_context(|| format!("cannot open the backup {}", backup.display()))?;
    let summary = crate::store::backup::restore(&data_dir, &mut f, true).with_context(|| format!("restoring {} into {}; the database there is unchanged unless it was moved to db.replaced-…", backup.display(), data_dir.display()))?;
    {
        let store = Store::open(opts).map_err(|e: StoreError| anyhow!("the restored database does not open: {e}"))?;
        let name = backup.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let detail = format!("restored {} entries, schema {}, made {}; the replaced database is kept as db.replaced-…", summary.entries, summary.schema_version, summary.created_at);
        audit::record(&store, "cli", AuditAction::RolledBack, Some(&name), &detail).context("recording the rollback in the audit log")?;
        store.flush().context("flushing the restored database")?;
    }
    crate::store::owner::to_dir_owner(&data_dir).with_context(|| format!("giving {} back to its owner", data_dir.display()))?;
    if start_after {
        let started = Command::new("systemctl").args(["start", "storehub.service"]).status().context("running systemctl start storehub")?;
        if !started.success() {
            return Err(anyhow!("restored, but systemctl start storehub failed ({started}); see `systemctl status storehub` and `journalctl -u storehub`"));
        }
    }
    Ok(Rolled { backup: backup.to_path_buf(), entries: summary.entries, schema_version: summary.schema_version, restarted_service: start_after })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(version: &str, stamp: &str) -> PreUpgradeBackup {
        PreUpgradeBackup { path: PathBuf::from(format!("/var/lib/storehub/upgrades/pre-upgrade-{version}-{stamp}.backup")), version: version.into(), stamp: stamp.into() }
    }

    #[test]
    fn names_parse_from_the_right_since_versions_hold_dashes() {
        assert_eq!(parse_name("pre-upgrade-0.1.0-1-20261126T080000Z.backup"), Some(("0.1.0-1".into(), "20261126T080000Z".into())));
        assert_eq!(parse_name("pre-upgrade-1_0.2.0~rc1-3-20270101T000000Z.backup"), Some(("1_0.2.0~rc1-3".into(), "20270101T000000Z".into())));
        // Not ours, a bad stamp, no version, a temporary file.
        assert_eq!(parse_name("snapshot-20261126T080000Z.backup"), None);
        assert_eq!(parse_name("pre-upgrade-0.1.0-1-2026-11-26.backup"), None);
        assert_eq!(parse_name("pre-upgrade--20261126T080000Z.backup"), None);
        assert_eq!(parse_name("pre-upgrade-0.1.0-1-20261126T080000Z.backup.tmp"), None);
    }

    #[test]
    fn the_newest_backup_of_the_installed_version_is_chosen() {
        let all = [b("0.1.0-1", "20261120T090000Z"), b("0.1.0-1", "20261126T080000Z"), b("0.2.0-1", "20261127T070000Z")];
        let dir = Path::new("/var/lib/storehub/upgrades");
        assert_eq!(choose(&all, "0.1.0-1", dir), Ok(&all[1]));
        assert_eq!(choose(&all, "0.2.0-1", dir), Ok(&all[2]));
        // An epoch in the version is looked up as the preinst wrote it.
        let epoch = [b("1_0.3.0-1", "20261201T000000Z")];
        assert_eq!(choose(&epoch, "1:0.3.0-1", dir), Ok(&epoch[0]));
    }

    #[test]
    fn no_backup_of_the_version_names_the_versions_there_are() {
        let dir = Path::new("/var/lib/storehub/upgrades");
        let all = [b("0.2.0-1", "20261127T070000Z"), b("0.1.0-1", "20261126T080000Z"), b("0.1.0-1", "20261120T090000Z")];
        assert_eq!(
            choose(&all, "0.0.9-1", dir),
            Err("no pre-upgrade backup of version 0.0.9-1 in /var/lib/storehub/upgrades (there are backups of: 0.1.0-1, 0.2.0-1); install that version's package with --package, or pick a file with --backup".into())
        );
        assert_eq!(
            choose(&[], "0.1.0-1", dir),
            Err("no pre-upgrade backup in /var/lib/storehub/upgrades: nothing to roll back to (the .deb writes one there on each upgrade)".into())
        );
    }
}
