//! Firmware updates of storehub shelf nodes (`storehub firmware update NODE FILE.uf2`): check the
//! UF2 image, send the node into its USB bootloader, find the RPI-RP2 drive the boot ROM shows,
//! copy the image onto it, and wait for the node's hello with the new version.
//!
//! The pure parts — the image check, boot drives in a directory tree ([`find_boot_drives`]) and
//! each step's decisions ([`check_node`], [`new_drive`], [`hello_state`]) — stand apart from
//! [`run_update`], which drives them over a [`NodeAccess`] (the daemon's health board and the
//! node's command handle) and the file system. This module never touches the store: the control
//! op (`control::firmware`) records the outbox event.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use storehub_uf2::{Image, BLOCK_LEN, FLASH_MAX_LEN, PAYLOAD_LEN};
use storehub_wire::{AckCode, FwVersion};

use super::node::{Ack, CommandError};
use crate::devices::health::DeviceHealth;

/// A node came back with the firmware it was given (subject: the device id).
pub const EVENT_FIRMWARE_UPDATED: &str = "storehub.device.firmware_updated";
/// The file the RP2040's boot ROM shows on its drive.
pub const INFO_FILE: &str = "INFO_UF2.TXT";
/// The `Board-ID:` of the RP2040's boot ROM in [`INFO_FILE`].
pub const BOARD_ID: &str = "RPI-RP2";
/// The largest UF2 file read: one 512-byte block per 256-byte page of a 16 MiB flash (32 MiB).
pub const MAX_UF2_BYTES: u64 = (FLASH_MAX_LEN as u64 / PAYLOAD_LEN as u64) * BLOCK_LEN as u64;
/// Levels below each root searched for a boot drive (`/media/RPI-RP2` is 1,
/// `/media/pi/RPI-RP2` is 2).
pub const SCAN_DEPTH: usize = 2;
/// Entries looked at per directory while scanning, so a crowded root cannot stall a scan.
const MAX_ENTRIES_PER_DIR: usize = 256;
/// Bytes of [`INFO_FILE`] read (the ROM's is about 60).
const MAX_INFO_BYTES: u64 = 4096;
/// How often a waiting step looks again.
pub const POLL: Duration = Duration::from_millis(100);
/// How long the node may take to acknowledge enter-bootloader (it answers at once).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A refusal or failure for the person at the CLI, in zh-CN and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub zh: String,
    pub en: String,
}

impl Refusal {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Refusal {
        Refusal { zh: zh.into(), en: en.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.zh, self.en)
    }
}

fn version_string<S: serde::Serializer>(v: &FwVersion, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// What a checked UF2 image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub blocks: usize,
    /// Bytes of flash the image writes.
    pub flash_bytes: usize,
    /// The version tagged in the image (`storehub_uf2::FW_TAG` + 3 bytes).
    #[serde(serialize_with = "version_string")]
    pub version: FwVersion,
}

/// Checks a UF2 image the way a node's boot ROM will take it (every block; see
/// `storehub_uf2::Image::parse`) and reads its tagged version. `file` names it in the refusal,
/// which names the bad block.
pub fn check_image(bytes: &[u8], file: &str) -> Result<ImageInfo, Refusal> {
    let image = Image::parse(bytes).map_err(|e| {
        Refusal::new(
            format!("固件文件 {file} 有误（未向节点发送任何内容）：{e}"),
            format!("{file}: {e}; nothing was sent to the node. Use the whole .uf2 file scripts/build-firmware.sh wrote"),
        )
    })?;
    let blocks = image.pages.len();
    let (major, minor, patch) = image.fw_version().ok_or_else(|| {
        Refusal::new(
            format!("固件文件 {file} 的 {blocks} 个块中没有 storehub 节点固件版本标记，不是货架节点固件（未向节点发送任何内容）"),
            format!(
                "{file}: none of its {blocks} blocks carries the storehub-node-fw version tag: it is not a storehub shelf-node firmware (another RP2040 program?); nothing was sent to the node"
            ),
        )
    })?;
    Ok(ImageInfo { blocks, flash_bytes: image.flash_bytes(), version: FwVersion { major, minor, patch } })
}

/// Reads (at most [`MAX_UF2_BYTES`]) and checks a UF2 file.
pub fn read_image(path: &Path) -> Result<(Vec<u8>, ImageInfo), Refusal> {
    let file = path.display().to_string();
    let unreadable = |e: std::io::Error| Refusal::new(format!("读不到固件文件 {file}：{e}"), format!("{file}: cannot read it: {e}"));
    let f = File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    f.take(MAX_UF2_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_UF2_BYTES {
        return Err(Refusal::new(
            format!("固件文件 {file} 超过 {MAX_UF2_BYTES} 字节，不是货架节点固件"),
            format!("{file}: larger than {MAX_UF2_BYTES} bytes (a UF2 image of a whole 16 MiB flash); it is not a shelf-node firmware"),
        ));
    }
    let info = check_image(&bytes, &file)?;
    Ok((bytes, info))
}

/// Whether `dir` is an RP2040 boot drive: it holds [`INFO_FILE`] with a `Board-ID: RPI-RP2` line.
pub fn is_boot_drive(dir: &Path) -> bool {
    let Ok(f) = File::open(dir.join(INFO_FILE)) else { return false };
    let mut text = Vec::new();
    if f.take(MAX_INFO_BYTES).read_to_end(&mut text).is_err() {
        return false;
    }
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Board-ID:"))
        .any(|id| id.trim() == BOARD_ID)
}

/// Every boot drive in `roots` (each root itself and up to [`SCAN_DEPTH`] levels below it),
/// sorted. Unreadable or missing directories are skipped; a boot drive is not searched inside.
pub fn find_boot_drives(roots: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if is_boot_drive(dir) {
            out.push(dir.to_path_buf());
            return;
        }
        if depth == SCAN_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten().take(MAX_ENTRIES_PER_DIR) {
            let path = entry.path();
            // Follows symlinks: udisks2 and automounts give plain directories, but a link to a
            // mount point is fine too. The depth bound ends any loop.
            if std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
                walk(&path, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    for root in roots {
        walk(root, 0, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// One step of an update, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CheckImage,
    CheckNode,
    EnterBootloader,
    WaitDrive,
    Copy,
    WaitHello,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CheckImage => "check_image",
            Step::CheckNode => "check_node",
            Step::EnterBootloader => "enter_bootloader",
            Step::WaitDrive => "wait_drive",
            Step::Copy => "copy",
            Step::WaitHello => "wait_hello",
        }
    }

    /// The step's number (1–6) and its name for people.
    pub fn title(self) -> (u8, &'static str, &'static str) {
        match self {
            Step::CheckImage => (1, "检查固件文件", "check the image"),
            Step::CheckNode => (2, "检查节点", "check the node"),
            Step::EnterBootloader => (3, "进入引导模式", "enter the bootloader"),
            Step::WaitDrive => (4, "等待 RPI-RP2 盘", "wait for the RPI-RP2 drive"),
            Step::Copy => (5, "复制固件", "copy the image"),
            Step::WaitHello => (6, "等待节点以新版本上线", "wait for the node's hello"),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    pub step: Step,
    pub detail: String,
    /// Milliseconds the step took.
    pub ms: u64,
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, zh, en) = self.step.title();
        write!(f, "{n}. {zh} / {en}: {} ({} ms)", self.detail, self.ms)
    }
}

/// Why an update stopped: the step, what to check, and the steps done before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFailure {
    pub step: Step,
    pub refusal: Refusal,
    pub done: Vec<StepReport>,
}

impl fmt::Display for UpdateFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, zh, en) = self.step.title();
        write!(f, "固件更新在第 {n} 步（{zh}）停止 / the firmware update stopped at step {n} ({en}):\n{}", self.refusal)?;
        for s in &self.done {
            write!(f, "\n  done: {s}")?;
        }
        Ok(())
    }
}

/// A finished update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Updated {
    pub device: String,
    /// The firmware the node announced before.
    pub from: String,
    /// The firmware it announces now.
    pub to: String,
    pub file: String,
    pub blocks: usize,
    /// The boot drive the image was copied to.
    pub drive: PathBuf,
    pub steps: Vec<StepReport>,
}

/// Step 2's decision: may `device` (its health, `None` when not configured) take an image of
/// `version`? Returns the firmware it runs now.
pub fn check_node(device: &str, health: Option<&DeviceHealth>, version: FwVersion, force: bool) -> Result<String, Refusal> {
    let Some(h) = health else {
        return Err(Refusal::new(
            format!("未知设备 {device}：配置的 [[devices]] 中没有它（`storehub devices` 列出所有设备）"),
            format!("unknown device {device}: no [[devices]] entry has this id; `storehub devices` lists them"),
        ));
    };
    if h.kind != "shelf" || h.protocol != "storehub-node" {
        return Err(Refusal::new(
            format!("设备 {device} 是 {}（{}），不是 storehub 货架节点，不能刷写 UF2 固件", h.kind, h.protocol),
            format!(
                "device {device} is a {} speaking {}, not a storehub shelf node; only shelf devices with protocol storehub-node take UF2 firmware",
                h.kind, h.protocol
            ),
        ));
    }
    if !h.connected {
        return Err(Refusal::new(
            format!("货架节点 {device} 未连接：检查 USB 线（`storehub devices`），连上后再试"),
            format!("shelf node {device} is not connected: check its USB cable (`storehub devices` shows it), then try again"),
        ));
    }
    let Some(current) = h.firmware.clone() else {
        return Err(Refusal::new(
            format!("货架节点 {device} 已连接但还没有报告版本（hello），稍等几秒再试"),
            format!("shelf node {device} is connected but has not said hello (no firmware version yet); wait a few seconds and try again"),
        ));
    };
    if current == version.to_string() && !force {
        return Err(Refusal::new(
            format!("货架节点 {device} 已经运行固件 {current}；要重新刷写请加 --force"),
            format!("shelf node {device} already runs firmware {current}; pass --force to flash it again"),
        ));
    }
    Ok(current)
}

/// Step 2's other decision: boot drives already mounted before the node is sent into its
/// bootloader belong to some other node, and the update could not tell them from its own.
pub fn check_no_drive_yet(found: &[PathBuf]) -> Result<(), Refusal> {
    if found.is_empty() {
        return Ok(());
    }
    let list = found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Err(Refusal::new(
        format!("已有 RPI-RP2 盘挂载在 {list}：另一个节点正处于引导模式。先给它复制固件或拔掉它，再试"),
        format!("an RPI-RP2 drive is already mounted at {list}: another node waits in its bootloader. Copy its firmware onto it or unplug it, then try again"),
    ))
}

/// What step 4 sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveSeen {
    None,
    One(PathBuf),
    /// More than one new drive: another node went into its bootloader at the same time.
    Many(Vec<PathBuf>),
}

/// Step 4's decision: the drives in `now` that were not in `before`.
pub fn new_drive(before: &[PathBuf], now: &[PathBuf]) -> DriveSeen {
    let mut new: Vec<PathBuf> = now.iter().filter(|p| !before.contains(p)).cloned().collect();
    match new.len() {
        0 => DriveSeen::None,
        1 => DriveSeen::One(new.remove(0)),
        _ => DriveSeen::Many(new),
    }
}

/// What step 6 sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloState {
    /// The node has not reconnected since it entered its bootloader.
    Waiting,
    /// Reconnected, and its hello carries the expected version.
    Back,
    /// Reconnected, announcing this other version (so far: its new hello may still come).
    Other(String),
}

/// Step 6's decision. `reconnects_before` is the device's reconnect count when the update began:
/// the node must have gone away and come back, so a `--force` update to the same version is not
/// taken as done before the node even rebooted.
pub fn hello_state(health: Option<&DeviceHealth>, reconnects_before: u64, expected: FwVersion) -> HelloState {
    match health {
        Some(h) if h.connected && h.reconnects > reconnects_before => match &h.firmware {
            Some(f) if *f == expected.to_string() => HelloState::Back,
            Some(f) => HelloState::Other(f.clone()),
            None => HelloState::Waiting,
        },
        _ => HelloState::Waiting,
    }
}

/// The file name given to the image on the drive (the boot ROM takes any `*.uf2` name).
pub fn drive_file_name(version: FwVersion) -> String {
    format!("storehub-node-{version}.uf2")
}

/// Writes `image` as `drive/name`, then fsyncs the file and the directory, so the boot ROM has
/// every block before the update waits for the node.
pub fn copy_uf2(drive: &Path, name: &str, image: &[u8]) -> std::io::Result<PathBuf> {
    let path = drive.join(name);
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&path)?;
    f.write_all(image)?;
    f.sync_all()?;
    File::open(drive)?.sync_all()?;
    Ok(path)
}

/// What the update needs of the node (the daemon's health board and the node's commands).
pub trait NodeAccess {
    fn health(&self) -> Option<DeviceHealth>;
    fn enter_bootloader(&self) -> Result<u16, CommandError>;
    fn wait_ack(&self, seq: u16, timeout: Duration) -> Result<Ack, CommandError>;
}

/// One update.
#[derive(Debug, Clone)]
pub struct UpdatePlan<'a> {
    pub device: &'a str,
    /// The file name the image came from, for messages and the event.
    pub file: &'a str,
    pub image: &'a [u8],
    /// Flash even when the node already runs the image's version.
    pub force: bool,
    /// Where boot drives are searched (`[firmware].boot_drive_roots`).
    pub roots: &'a [PathBuf],
    /// How long each waiting step (drive, hello) may take (`[firmware].timeout_s`).
    pub timeout: Duration,
}

fn roots_text(roots: &[PathBuf]) -> String {
    roots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Runs the six steps, calling `on_step` after each. Nothing is sent to the node unless the
/// image and the node pass steps 1 and 2.
pub fn run_update(plan: &UpdatePlan<'_>, node: &dyn NodeAccess, mut on_step: impl FnMut(&StepReport)) -> Result<Updated, UpdateFailure> {
    let mut done: Vec<StepReport> = Vec::new();
    let mut started = Instant::now();
    let device = plan.device;
    macro_rules! fail {
        ($step:expr, $refusal:expr) => {
            return Err(UpdateFailure { step: $step, refusal: $refusal, done })
        };
    }
    let mut finish = |step: Step, detail: String, started: &mut Instant, done: &mut Vec<StepReport>| {
        let r = StepReport { step, detail, ms: started.elapsed().as_millis() as u64 };
        on_step(&r);
        done.push(r);
        *started = Instant::now();
    };

    // 1. The image.
    let info = match check_image(plan.image, plan.file) {
        Ok(i) => i,
        Err(r) => fail!(Step::CheckImage, r),
    };
    let to = info.version;
    finish(Step::CheckImage, format!("{}: {} blocks, {} bytes of flash, firmware {to}", plan.file, info.blocks, info.flash_bytes), &mut started, &mut done);

    // 2. The node, and no other node's drive in the way.
    let health = node.health();
    let from = match check_node(device, health.as_ref(), to, plan.force) {
        Ok(f) => f,
        Err(r) => fail!(Step::CheckNode, r),
    };
    let reconnects_before = health.as_ref().map_or(0, |h| h.reconnects);
    let drives_before = find_boot_drives(plan.roots);
    if let Err(r) = check_no_drive_yet(&drives_before) {
        fail!(Step::CheckNode, r);
    }
    let model = health.as_ref().and_then(|h| h.model.clone()).unwrap_or_else(|| "storehub-node".into());
    finish(Step::CheckNode, format!("{model} runs firmware {from}; no RPI-RP2 drive under {}", roots_text(plan.roots)), &mut started, &mut done);

    // 3. Enter the bootloader: the ack, or the port going away (the ack can be lost with it).
    let seq = match node.enter_bootloader() {
        Ok(seq) => seq,
        Err(e) => fail!(Step::EnterBootloader, Refusal::new(format!("无法向节点 {device} 发送命令：{e}"), format!("cannot send the command to node {device}: {e}"))),
    };
    let deadline = Instant::now() + ACK_TIMEOUT;
    let how = loop {
        match node.wait_ack(seq, POLL) {
            Ok(Ack { ok: true, .. }) => break "acknowledged".to_string(),
            Ok(ack) => {
                let reason = ack.reason().map_or_else(|| format!("code {}", ack.code), |c| c.as_str().to_string());
                let hint = if ack.reason() == Some(AckCode::UnknownCommand) {
                    "its firmware predates enter-bootloader: hold BOOTSEL while plugging it in and copy the file onto the RPI-RP2 drive by hand"
                } else {
                    "check `storehub devices` for the node's state and try again"
                };
                fail!(
                    Step::EnterBootloader,
                    Refusal::new(format!("节点 {device} 拒绝进入引导模式（{reason}）"), format!("node {device} refused to enter its bootloader ({reason}); {hint}"))
                );
            }
            Err(CommandError::Timeout { .. }) => {
                let gone = node.health().is_some_and(|h| !h.connected || h.reconnects > reconnects_before);
                if gone {
                    break "its serial port went away before the ack arrived (the reset)".to_string();
                }
                if Instant::now() >= deadline {
                    fail!(
                        Step::EnterBootloader,
                        Refusal::new(
                            format!("节点 {device} 在 {} 秒内没有回应进入引导模式的命令：检查连接（`storehub devices`）", ACK_TIMEOUT.as_secs()),
                            format!("node {device} did not acknowledge enter-bootloader within {} s: check it is connected (`storehub devices`) and runs protocol 2 firmware", ACK_TIMEOUT.as_secs())
                        )
                    );
                }
            }
            Err(e) => fail!(Step::EnterBootloader, Refusal::new(format!("节点 {device}：{e}"), format!("node {device}: {e}"))),
        }
    };
    finish(Step::EnterBootloader, format!("command {seq} {how}"), &mut started, &mut done);

    // 4. The boot drive, seen in two scans in a row (a drive being mounted settles first).
    let deadline = Instant::now() + plan.timeout;
    let mut last_seen = DriveSeen::None;
    let drive = loop {
        let seen = new_drive(&drives_before, &find_boot_drives(plan.roots));
        match seen.clone() {
            DriveSeen::One(d) if last_seen == seen => break d,
            DriveSeen::One(_) => {
                last_seen = seen;
                std::thread::sleep(POLL);
            }
            DriveSeen::Many(list) => fail!(
                Step::WaitDrive,
                Refusal::new(
                    format!("出现了多个 RPI-RP2 盘（{}），无法确定哪个是 {device}：拔掉其他节点后再试", roots_text(&list)),
                    format!("several RPI-RP2 drives appeared ({}), so which is {device}'s cannot be told: unplug the other nodes and try again", roots_text(&list))
                )
            ),
            DriveSeen::None if Instant::now() >= deadline => fail!(
                Step::WaitDrive,
                Refusal::new(
                    format!(
                        "{} 秒内在 {} 下没有出现 RPI-RP2 盘。节点已处于引导模式：确认该盘已自动挂载（udisks2 或 fstab 中 LABEL=RPI-RP2 的自动挂载，见 docs/devices.md），或手动挂载后把固件复制上去",
                        plan.timeout.as_secs(),
                        roots_text(plan.roots)
                    ),
                    format!(
                        "no RPI-RP2 drive appeared under {} within {} s. The node waits in its bootloader: on a headless box the drive must be auto-mounted (udisks2, or an fstab automount of LABEL=RPI-RP2; docs/devices.md \"Shelf-node firmware updates\"). Mount it by hand (`sudo mount -L RPI-RP2 /mnt/rpi-rp2`) and copy {} onto it, or add its mount point to [firmware].boot_drive_roots and run the update again after replugging the node",
                        roots_text(plan.roots),
                        plan.timeout.as_secs(),
                        plan.file
                    )
                )
            ),
            DriveSeen::None => {
                last_seen = seen;
                std::thread::sleep(POLL);
            }
        }
    };
    finish(Step::WaitDrive, format!("RPI-RP2 at {}", drive.display()), &mut started, &mut done);

    // 5. Copy. The boot ROM reboots once it has every block, so on a real drive the final sync
    // may fail because the drive is already gone: that is success, which step 6 confirms.
    let name = drive_file_name(to);
    let copied = match copy_uf2(&drive, &name, plan.image) {
        Ok(path) => format!("{} bytes written to {} and synced", plan.image.len(), path.display()),
        Err(e) if !is_boot_drive(&drive) => format!("{} bytes written; the drive went away during the sync ({e}): the node took the image", plan.image.len()),
        Err(e) => fail!(
            Step::Copy,
            Refusal::new(
                format!("无法把固件写到 {}：{e}。检查该盘是否可写（挂载选项），或手动复制", drive.display()),
                format!("cannot write the image to {}: {e}. Check the drive is mounted writable for the storehub user, or copy {} onto it by hand", drive.display(), plan.file)
            )
        ),
    };
    finish(Step::Copy, copied, &mut started, &mut done);

    // 6. The hello with the new version.
    let deadline = Instant::now() + plan.timeout;
    loop {
        match hello_state(node.health().as_ref(), reconnects_before, to) {
            HelloState::Back => break,
            state if Instant::now() >= deadline => {
                let (zh, en) = match state {
                    HelloState::Other(v) => (
                        format!("节点 {device} 重新上线但报告固件 {v}，不是 {to}：引导程序没有接受该文件"),
                        format!("node {device} came back announcing firmware {v}, not {to}: its boot ROM did not take the image; check the file and try again"),
                    ),
                    _ => (
                        format!("节点 {device} 在 {} 秒内没有以新固件重新上线：查看 `storehub devices`；若 {} 仍在，节点还在引导模式", plan.timeout.as_secs(), drive.display()),
                        format!(
                            "node {device} did not come back within {} s: check `storehub devices` and the hub's log; if {} is still mounted the node is still in its bootloader (copy the file again or replug it)",
                            plan.timeout.as_secs(),
                            drive.display()
                        ),
                    ),
                };
                fail!(Step::WaitHello, Refusal::new(zh, en));
            }
            _ => std::thread::sleep(POLL),
        }
    }
    finish(Step::WaitHello, format!("the node is back with firmware {to}"), &mut started, &mut done);
    Ok(Updated { device: device.to_string(), from, to: to.to_string(), file: plan.file.to_string(), blocks: info.blocks, drive, steps: done })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use storehub_uf2::{encode, FLASH_START, FW_TAG};

    /// A two-page image tagged `version`: page 0 holds 0xAA bytes then the tag at offset 100.
    fn image(version: [u8; 3]) -> Vec<u8> {
        let mut p0 = [0xAAu8; PAYLOAD_LEN];
        p0[100..116].copy_from_slice(FW_TAG);
        p0[116..119].copy_from_slice(&version);
        encode(&[(FLASH_START, p0), (FLASH_START + 256, [0u8; PAYLOAD_LEN])])
    }

    const ROM_INFO: &str = "UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n";

    fn drive_at(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(INFO_FILE), ROM_INFO).unwrap();
    }

    fn node_health(firmware: Option<&str>) -> DeviceHealth {
        let mut h = DeviceHealth::new("shelf-a1", "shelf", "storehub-node", "serial", "/dev/ttyACM0", None);
        h.connected = true;
        h.firmware = firmware.map(str::to_string);
        h
    }

    const V110: FwVersion = FwVersion { major: 1, minor: 1, patch: 0 };

    #[test]
    fn a_tagged_image_is_read_and_damage_names_the_block() {
        let good = image([1, 1, 0]);
        // 2 pages → 2 blocks of 512 bytes, 2 × 256 = 512 bytes of flash.
        let info = check_image(&good, "new.uf2").unwrap();
        assert_eq!(info, ImageInfo { blocks: 2, flash_bytes: 512, version: V110 });
        assert_eq!(serde_json::to_value(info).unwrap()["version"], "1.1.0");

        // One byte of block 1's start magic flipped (offset 512).
        let mut bad = good.clone();
        bad[512] ^= 0xFF;
        let e = check_image(&bad, "new.uf2").unwrap_err();
        assert!(e.en.starts_with("new.uf2: block 1 lacks the UF2 magic numbers"), "{e}");
        assert!(e.en.contains("nothing was sent to the node"), "{e}");
        assert!(e.zh.contains("未向节点发送任何内容"), "{e}");
        // Cut short: 1 000 bytes is not whole blocks.
        let e = check_image(&good[..1000], "new.uf2").unwrap_err();
        assert!(e.en.contains("1000 bytes is not a whole number of 512-byte UF2 blocks"), "{e}");
        // A valid RP2040 image without the tag (another program).
        let untagged = encode(&[(FLASH_START, [0x11u8; PAYLOAD_LEN])]);
        let e = check_image(&untagged, "blink.uf2").unwrap_err();
        assert!(e.en.contains("none of its 1 blocks carries the storehub-node-fw version tag"), "{e}");
    }

    #[test]
    fn read_image_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.uf2");
        let e = read_image(&path).unwrap_err();
        assert!(e.en.starts_with(&format!("{}: cannot read it:", path.display())), "{e}");
        std::fs::write(&path, image([2, 0, 1])).unwrap();
        let (bytes, info) = read_image(&path).unwrap();
        assert_eq!((bytes.len(), info.version.to_string()), (1024, "2.0.1".to_string()));
    }

    #[test]
    fn boot_drives_are_found_up_to_two_levels_below_a_root() {
        let t = tempfile::tempdir().unwrap();
        let media = t.path().join("media");
        let mnt = t.path().join("mnt");
        // /media/pi/RPI-RP2 (depth 2, udisks2's layout) and /mnt itself holding the drive (depth 0).
        drive_at(&media.join("pi/RPI-RP2"));
        drive_at(&mnt);
        // Depth 3: not searched.
        drive_at(&media.join("a/b/RPI-RP2"));
        // Another board's UF2 drive, and a look-alike without the file.
        std::fs::create_dir_all(media.join("CIRCUITPY")).unwrap();
        std::fs::write(media.join("CIRCUITPY").join(INFO_FILE), "UF2 Bootloader 3.1\nModel: Feather\nBoard-ID: SAMD21G18A-Feather-v0\n").unwrap();
        std::fs::create_dir_all(media.join("pi/RPI-RP2-not")).unwrap();
        let missing = t.path().join("run/media");
        let found = find_boot_drives(&[media.clone(), missing, mnt.clone()]);
        assert_eq!(found, vec![media.join("pi/RPI-RP2"), mnt.clone()]);
        // The same drive through two roots is listed once.
        assert_eq!(find_boot_drives(&[mnt.clone(), mnt.clone()]), vec![mnt]);
    }

    #[test]
    fn the_node_check_refuses_unknown_other_kinds_absent_silent_and_same_version() {
        let ok = node_health(Some("1.0.0"));
        assert_eq!(check_node("shelf-a1", Some(&ok), V110, false), Ok("1.0.0".to_string()));
        let e = check_node("nope", None, V110, false).unwrap_err();
        assert!(e.en.starts_with("unknown device nope: no [[devices]] entry"), "{e}");
        assert!(e.zh.starts_with("未知设备 nope"), "{e}");
        let scanner = DeviceHealth::new("scanner-1", "scanner", "line", "serial", "/dev/ttyUSB0", None);
        let e = check_node("scanner-1", Some(&scanner), V110, false).unwrap_err();
        assert_eq!(e.en, "device scanner-1 is a scanner speaking line, not a storehub shelf node; only shelf devices with protocol storehub-node take UF2 firmware");
        let hx = DeviceHealth::new("w", "shelf", "hx711", "gpio", "gpio5,gpio6", None);
        assert!(check_node("w", Some(&hx), V110, false).unwrap_err().en.contains("not a storehub shelf node"));
        let absent = DeviceHealth { connected: false, ..ok.clone() };
        assert!(check_node("shelf-a1", Some(&absent), V110, false).unwrap_err().en.contains("is not connected"));
        let silent = node_health(None);
        assert!(check_node("shelf-a1", Some(&silent), V110, false).unwrap_err().en.contains("has not said hello"));
        let same = node_health(Some("1.1.0"));
        assert_eq!(check_node("shelf-a1", Some(&same), V110, false).unwrap_err().en, "shelf node shelf-a1 already runs firmware 1.1.0; pass --force to flash it again");
        assert_eq!(check_node("shelf-a1", Some(&same), V110, true), Ok("1.1.0".to_string()));
    }

    #[test]
    fn drive_and_hello_decisions() {
        let (a, b, c) = (PathBuf::from("/media/a"), PathBuf::from("/media/b"), PathBuf::from("/mnt/c"));
        assert!(check_no_drive_yet(&[]).is_ok());
        assert!(check_no_drive_yet(std::slice::from_ref(&a)).unwrap_err().en.starts_with("an RPI-RP2 drive is already mounted at /media/a"));
        assert_eq!(new_drive(&[], &[]), DriveSeen::None);
        assert_eq!(new_drive(std::slice::from_ref(&a), std::slice::from_ref(&a)), DriveSeen::None);
        assert_eq!(new_drive(std::slice::from_ref(&a), &[a.clone(), b.clone()]), DriveSeen::One(b.clone()));
        assert_eq!(new_drive(&[], &[b.clone(), c.clone()]), DriveSeen::Many(vec![b, c]));

        // Before: connected, 1.0.0, 2 reconnects so far.
        let mut h = node_health(Some("1.0.0"));
        h.reconnects = 2;
        assert_eq!(hello_state(Some(&h), 2, V110), HelloState::Waiting, "not gone yet");
        h.connected = false;
        assert_eq!(hello_state(Some(&h), 2, V110), HelloState::Waiting, "in the bootloader");
        // Back (reconnect 3), the old hello still shown until the new one arrives.
        h.connected = true;
        h.reconnects = 3;
        assert_eq!(hello_state(Some(&h), 2, V110), HelloState::Other("1.0.0".into()));
        h.firmware = Some("1.1.0".into());
        assert_eq!(hello_state(Some(&h), 2, V110), HelloState::Back);
        // --force to the version it already ran: only a reconnect makes it done.
        assert_eq!(hello_state(Some(&h), 3, V110), HelloState::Waiting);
        assert_eq!(hello_state(None, 0, V110), HelloState::Waiting);
    }

    /// A node that goes into its bootloader on command: the "boot ROM" thread shows the drive
    /// under `root`, waits for a UF2 there, then comes back announcing the file's version.
    struct FakeNode {
        health: Arc<Mutex<DeviceHealth>>,
        root: PathBuf,
        ack: Option<Ack>,
        entered: Arc<Mutex<u32>>,
    }

    impl NodeAccess for FakeNode {
        fn health(&self) -> Option<DeviceHealth> {
            Some(self.health.lock().unwrap().clone())
        }
        fn enter_bootloader(&self) -> Result<u16, CommandError> {
            *self.entered.lock().unwrap() += 1;
            if self.ack.is_some_and(|a| !a.ok) {
                return Ok(7);
            }
            let (health, drive) = (Arc::clone(&self.health), self.root.join("pi/RPI-RP2"));
            std::thread::spawn(move || {
                health.lock().unwrap().connected = false;
                std::thread::sleep(Duration::from_millis(150));
                drive_at(&drive);
                let version = loop {
                    // The test is over when its temp dir is gone.
                    let Ok(entries) = std::fs::read_dir(&drive) else { return };
                    let uf2 = entries.flatten().find(|e| e.path().extension().is_some_and(|x| x == "uf2"));
                    if let Some(e) = uf2 {
                        let bytes = std::fs::read(e.path()).unwrap();
                        break check_image(&bytes, "drive").unwrap().version;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                std::fs::remove_dir_all(&drive).unwrap();
                let mut h = health.lock().unwrap();
                h.connected = true;
                h.reconnects += 1;
                h.firmware = Some(version.to_string());
            });
            Ok(7)
        }
        fn wait_ack(&self, seq: u16, timeout: Duration) -> Result<Ack, CommandError> {
            match self.ack {
                Some(a) => Ok(a),
                None => {
                    std::thread::sleep(timeout);
                    Err(CommandError::Timeout { seq })
                }
            }
        }
    }

    fn fake(root: &Path, ack: Option<Ack>) -> FakeNode {
        FakeNode { health: Arc::new(Mutex::new(node_health(Some("1.0.0")))), root: root.to_path_buf(), ack, entered: Default::default() }
    }

    #[test]
    fn an_update_runs_six_steps_and_the_ack_may_be_lost_with_the_port() {
        let t = tempfile::tempdir().unwrap();
        let roots = vec![t.path().to_path_buf()];
        let img = image([1, 1, 0]);
        let plan = UpdatePlan { device: "shelf-a1", file: "new.uf2", image: &img, force: false, roots: &roots, timeout: Duration::from_secs(10) };
        // No ack ever arrives: the port going away counts as the reset.
        let node = fake(t.path(), None);
        let mut seen = Vec::new();
        let up = run_update(&plan, &node, |s| seen.push(s.step)).unwrap();
        assert_eq!(seen, [Step::CheckImage, Step::CheckNode, Step::EnterBootloader, Step::WaitDrive, Step::Copy, Step::WaitHello]);
        assert_eq!((up.from.as_str(), up.to.as_str(), up.blocks), ("1.0.0", "1.1.0", 2));
        assert_eq!(up.drive, t.path().join("pi/RPI-RP2"));
        assert!(up.steps[2].detail.contains("went away before the ack"), "{:?}", up.steps[2]);
        assert_eq!(up.steps[0].detail, "new.uf2: 2 blocks, 512 bytes of flash, firmware 1.1.0");
        let h = node.health().unwrap();
        assert_eq!((h.firmware.as_deref(), h.reconnects), (Some("1.1.0"), 1));
    }

    #[test]
    fn failures_name_the_step_and_nothing_is_sent_for_a_bad_image_or_node() {
        let t = tempfile::tempdir().unwrap();
        let roots = vec![t.path().to_path_buf()];
        let mut img = image([1, 1, 0]);
        fn plan<'a>(img: &'a [u8], roots: &'a [PathBuf], timeout: Duration) -> UpdatePlan<'a> {
            UpdatePlan { device: "shelf-a1", file: "new.uf2", image: img, force: false, roots, timeout }
        }
        // Damaged: step 1, the node is never told anything.
        img[512 + 508] ^= 1;
        let node = fake(t.path(), Some(Ack { ok: true, code: 0 }));
        let e = run_update(&plan(&img, &roots, Duration::from_secs(1)), &node, |_| {}).unwrap_err();
        assert_eq!((e.step, e.done.len()), (Step::CheckImage, 0));
        assert!(e.to_string().contains("stopped at step 1 (check the image)"), "{e}");
        assert_eq!(*node.entered.lock().unwrap(), 0);
        img[512 + 508] ^= 1;
        // Another node's drive already mounted: step 2, nothing sent.
        drive_at(&t.path().join("other"));
        let e = run_update(&plan(&img, &roots, Duration::from_secs(1)), &node, |_| {}).unwrap_err();
        assert_eq!((e.step, e.done.len()), (Step::CheckNode, 1));
        assert_eq!(*node.entered.lock().unwrap(), 0);
        std::fs::remove_dir_all(t.path().join("other")).unwrap();
        // The node refuses (code 4, busy): step 3 names the reason.
        let busy = fake(t.path(), Some(Ack { ok: false, code: 4 }));
        let e = run_update(&plan(&img, &roots, Duration::from_secs(1)), &busy, |_| {}).unwrap_err();
        assert_eq!(e.step, Step::EnterBootloader);
        assert!(e.refusal.en.contains("refused to enter its bootloader (busy)"), "{e}");
    }

    #[test]
    fn a_drive_that_never_appears_fails_step_4_with_what_to_do() {
        let t = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let roots = vec![t.path().to_path_buf()];
        let img = image([1, 1, 0]);
        // The drive appears outside the configured roots.
        let node = fake(elsewhere.path(), Some(Ack { ok: true, code: 0 }));
        let plan = UpdatePlan { device: "shelf-a1", file: "new.uf2", image: &img, force: false, roots: &roots, timeout: Duration::from_millis(600) };
        let e = run_update(&plan, &node, |_| {}).unwrap_err();
        assert_eq!((e.step, e.done.len()), (Step::WaitDrive, 3));
        assert!(e.refusal.en.contains("must be auto-mounted"), "{e}");
        assert!(e.refusal.en.contains("sudo mount -L RPI-RP2 /mnt/rpi-rp2"), "{e}");
    }

    #[test]
    fn copy_writes_the_whole_file() {
        let t = tempfile::tempdir().unwrap();
        let img = image([1, 1, 0]);
        let path = copy_uf2(t.path(), &drive_file_name(V110), &img).unwrap();
        assert_eq!(path, t.path().join("storehub-node-1.1.0.uf2"));
        assert_eq!(std::fs::read(&path).unwrap(), img);
        let e = copy_uf2(&t.path().join("gone"), "x.uf2", &img).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
