//! The disk guard's decision: from the free bytes on the data dir's filesystem and the
//! thresholds of `[disk]`, the level (ok, low, critical), and which writes each level allows.
//! Pure; `disk_guard` samples statvfs and applies it. Sales and every other business write are
//! never refused here: they go on while any space remains (the journal's file is allocated ahead).

/// How full the disk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskLevel {
    Ok,
    /// Below `[disk].low_free_mb`: optional writes stop (telemetry events, snapshots).
    Low,
    /// Below `[disk].critical_free_mb`: as low, and the alarm says sales will soon fail.
    Critical,
}

impl DiskLevel {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(v: u8) -> DiskLevel {
        match v {
            0 => DiskLevel::Ok,
            1 => DiskLevel::Low,
            _ => DiskLevel::Critical,
        }
    }
}

/// `[disk]` in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskThresholds {
    pub low_bytes: u64,
    pub critical_bytes: u64,
}

/// A write the guard may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Sales, returns, stock, members, every business-class event: always allowed.
    Business,
    /// Telemetry-class events (`domain::events::class_of`): shelf, beam, device.
    Telemetry,
    /// Automatic snapshots (DATA_DIR/snapshots).
    Snapshot,
}

/// The level for `free` bytes, given the level before: leaving a level needs 10 % more than its
/// threshold, so a disk hovering at the line does not flap the alarm.
pub fn level(free: u64, t: &DiskThresholds, before: DiskLevel) -> DiskLevel {
    let margin = |b: u64| b.saturating_add(b / 10);
    let critical = if before == DiskLevel::Critical { free < margin(t.critical_bytes) } else { free < t.critical_bytes };
    if critical {
        return DiskLevel::Critical;
    }
    let low = if before >= DiskLevel::Low { free < margin(t.low_bytes) } else { free < t.low_bytes };
    if low {
        DiskLevel::Low
    } else {
        DiskLevel::Ok
    }
}

/// Whether `write` may happen at `level`.
pub fn allows(level: DiskLevel, write: Write) -> bool {
    match write {
        Write::Business => true,
        Write::Telemetry | Write::Snapshot => level == DiskLevel::Ok,
    }
}

/// The alarm in Chinese and English for the level, `free` bytes left (None when ok). Shown on
/// every staff page and sent to HQ.
pub fn alarm_text(level: DiskLevel, free: u64) -> Option<(String, String)> {
    let mb = free / (1024 * 1024);
    match level {
        DiskLevel::Ok => None,
        DiskLevel::Low => Some((
            format!("磁盘空间不足：数据盘仅剩 {mb} MB。已暂停遥测和快照，收银照常。请清理旧备份或日志，或联系技术人员。"),
            format!("Disk almost full: {mb} MB left on the data disk. Telemetry and snapshots are paused; sales continue. Remove old backups or logs, or call the technician."),
        )),
        DiskLevel::Critical => Some((
            format!("磁盘即将写满：数据盘仅剩 {mb} MB。写满后将无法记录销售！请立即清理空间或联系技术人员。"),
            format!("Disk nearly full: {mb} MB left on the data disk. Sales cannot be recorded once it is full! Free space now or call the technician."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;
    // low 64 MB, critical 16 MB: leaving low needs 70.4 MB, leaving critical 17.6 MB.
    const T: DiskThresholds = DiskThresholds { low_bytes: 64 * MB, critical_bytes: 16 * MB };

    #[test]
    fn levels_fall_with_free_space_and_rise_only_past_the_margin() {
        assert_eq!(level(100 * MB, &T, DiskLevel::Ok), DiskLevel::Ok);
        assert_eq!(level(63 * MB, &T, DiskLevel::Ok), DiskLevel::Low);
        assert_eq!(level(15 * MB, &T, DiskLevel::Low), DiskLevel::Critical);
        // 17 MB free after critical: below 17.6 MB, still critical; 18 MB: low.
        assert_eq!(level(17 * MB, &T, DiskLevel::Critical), DiskLevel::Critical);
        assert_eq!(level(18 * MB, &T, DiskLevel::Critical), DiskLevel::Low);
        // 65 MB after low: below 70.4 MB, still low; 71 MB: ok.
        assert_eq!(level(65 * MB, &T, DiskLevel::Low), DiskLevel::Low);
        assert_eq!(level(71 * MB, &T, DiskLevel::Low), DiskLevel::Ok);
        // 65 MB coming from ok stays ok (only the way back has the margin).
        assert_eq!(level(65 * MB, &T, DiskLevel::Ok), DiskLevel::Ok);
    }

    #[test]
    fn sales_are_always_allowed_optional_writes_only_when_ok() {
        for l in [DiskLevel::Ok, DiskLevel::Low, DiskLevel::Critical] {
            assert!(allows(l, Write::Business));
            assert_eq!(allows(l, Write::Telemetry), l == DiskLevel::Ok);
            assert_eq!(allows(l, Write::Snapshot), l == DiskLevel::Ok);
        }
        assert_eq!(DiskLevel::from_u8(DiskLevel::Critical.as_u8()), DiskLevel::Critical);
    }
}
