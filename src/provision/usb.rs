//! Zero-touch provisioning from a USB stick: udev starts `storehub-usb-provision@DEV.service`
//! when a stick's partition appears, which runs `storehub provision usb /dev/DEV`. The
//! partition is mounted read-only (nosuid, nodev, noexec) on a private directory, its
//! `storehub-provision.toml` applied with the same code as `provision --file` (actor `usb`; CA
//! and certificate files are read from the stick), and unmounted. The result is one line on
//! stdout (the journal) and in `DATA/provision-usb.log`; the audit entry and its event are
//! written by `provision::apply`. A stick without the file is left alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{apply, plan, Outcome, Target};

/// The file looked for at the stick's root.
pub const FILE_NAME: &str = "storehub-provision.toml";

/// What happened, as the one-line report.
#[derive(Debug)]
pub enum UsbResult {
    /// No provision file on this stick: nothing done.
    NoFile,
    Applied { plan: Box<plan::Plan>, outcome: Box<Outcome> },
}

/// Checks the device argument: a `/dev/…` path of a block device (as udev's `%I` gives it).
pub fn check_device(dev: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::FileTypeExt as _;
    if !dev.starts_with("/dev/") {
        anyhow::bail!("{}: expected a block device under /dev, e.g. /dev/sdb1", dev.display());
    }
    let meta = std::fs::metadata(dev).map_err(|e| anyhow::anyhow!("{}: {e}; is the stick still plugged in?", dev.display()))?;
    if !meta.file_type().is_block_device() {
        anyhow::bail!("{}: not a block device", dev.display());
    }
    Ok(())
}

/// Applies `dir/storehub-provision.toml` (a mounted stick, or a directory standing in for one).
/// A box that is already provisioned is refused (a stick never overwrites a store's config).
pub fn apply_dir(dir: &Path, target: &Target) -> anyhow::Result<UsbResult> {
    let file = dir.join(FILE_NAME);
    let text = match std::fs::read(&file) {
        Ok(b) => String::from_utf8(b).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text; save it as UTF-8", file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UsbResult::NoFile),
        Err(e) => anyhow::bail!("cannot read {}: {e}", file.display()),
    };
    let p = plan::parse_file(&text, FILE_NAME, dir).map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;
    let outcome = apply(&p, target, false, "usb")?;
    Ok(UsbResult::Applied { plan: Box::new(p), outcome: Box::new(outcome) })
}

/// Unmounts and removes the mount point when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().map(|s| s.success()).unwrap_or(false);
        if ok {
            let _ = std::fs::remove_dir(&self.0);
        } else {
            eprintln!("storehub: could not unmount {}; unmount it by hand (umount {})", self.0.display(), self.0.display());
        }
    }
}

/// Mounts `dev` read-only on a fresh directory under `run_dir`, applies, unmounts.
pub fn apply_device(dev: &Path, run_dir: &Path, target: &Target) -> anyhow::Result<UsbResult> {
    check_device(dev)?;
    std::fs::create_dir_all(run_dir)?;
    let mnt = run_dir.join(format!("usb-provision-{}", std::process::id()));
    std::fs::create_dir(&mnt).map_err(|e| anyhow::anyhow!("cannot create the mount point {}: {e}", mnt.display()))?;
    let out = Command::new("mount")
        .args(["-o", "ro,nosuid,nodev,noexec"])
        .arg(dev)
        .arg(&mnt)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run mount: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir(&mnt);
        anyhow::bail!("cannot mount {} read-only: {}", dev.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let _mounted = Mounted(mnt.clone());
    apply_dir(&mnt, target)
}

/// The report line (journal and `DATA/provision-usb.log`).
pub fn report_line(dev: &str, r: &anyhow::Result<UsbResult>) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match r {
        Ok(UsbResult::NoFile) => format!("{now} usb-provision {dev}: no {FILE_NAME} on the stick; nothing done"),
        Ok(UsbResult::Applied { plan, outcome }) => format!(
            "{now} usb-provision {dev}: OK chain={} store={} hub={} admin={} config={} doctor={}",
            plan.chain_id,
            plan.store_id,
            plan.hub_id,
            plan.admin_id,
            outcome.config.display(),
            if outcome.doctor_ok { "ok" } else { "fail" }
        ),
        Err(e) => format!("{now} usb-provision {dev}: FAILED {e:#}"),
    }
}

/// Appends the line to `DATA/provision-usb.log` (when the data dir is known).
pub fn log_line(data_dir: &Path, line: &str) {
    use std::io::Write as _;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("provision-usb.log")) {
        let _ = writeln!(f, "{line}");
    }
}
