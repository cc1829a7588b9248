//! The telemetry message (QoS 0 on `…/telemetry` every `[mqtt].telemetry_interval_s`): outbox
//! depth and age, the link, device health, CPU, memory, disk free, uptime and version. The JSON
//! schema, with an example, is in docs/cloud.md (`## Telemetry`).
//!
//! Figures are integers (CPU in permille of one core, load × 100), so the JSON is stable and
//! diffable. Every figure the system cannot give becomes `null`: telemetry never fails and never
//! panics. The /proc text is parsed by small pure functions tested on real samples. No PII: the
//! message carries no member data, device error texts are left out, and every string is passed
//! through [`scrub_phones`] before it leaves, so a mobile number that slipped into a status or
//! error text goes out masked (138****5678).

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::devices::health::{DeviceHealth, HealthBoard};
use crate::store::Store;

use super::CloudState;

/// Keeps what a rate needs between two telemetry messages (CPU time at the last sample).
#[derive(Debug, Default)]
pub struct Sampler {
    /// CPU ticks (utime + stime) of this process and when they were read.
    last_cpu: Option<(Instant, u64)>,
}

impl Sampler {
    pub fn new() -> Sampler {
        Sampler { last_cpu: None }
    }

    /// The telemetry message body (JSON). Blocking: reads the store and /proc.
    pub fn sample(
        &mut self,
        store: &Store,
        devices: Option<&HealthBoard>,
        cloud: &CloudState,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> serde_json::Value {
        let usage = store.outbox_usage();
        let oldest_age_s = match store.outbox_batch(0, 1) {
            Ok(first) => first.first().map(|e| (now - e.time).num_seconds().max(0)),
            Err(e) => {
                tracing::debug!(error = %e, "telemetry: cannot read the oldest outbox event");
                None
            }
        };
        let uptime_s = (now - started_at).num_seconds().max(0);
        let (free, total) = disk_space(store.path()).unzip();
        let mut body = json!({
            "time": now,
            "hub": store.source(),
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": uptime_s,
            "outbox": {
                "depth": usage.count,
                "bytes": usage.bytes,
                "oldest_age_s": oldest_age_s,
                "budget_bytes": cloud.budget_bytes,
                "dropped_telemetry": cloud.dropped_telemetry,
            },
            "link": link(cloud),
            "devices": devices.map(|board| board.snapshot().iter().map(device).collect::<Vec<_>>()),
            "cpu": {
                "process_permille": self.cpu_permille(uptime_s),
                "load1_x100": read("/proc/loadavg").as_deref().and_then(parse_load1_x100),
            },
            "memory": {
                "rss_bytes": read("/proc/self/statm").as_deref().and_then(parse_statm_rss_pages)
                    .and_then(|pages| pages.checked_mul(sysconf(libc::_SC_PAGESIZE)?)),
                "system_available_bytes": read("/proc/meminfo").as_deref().and_then(parse_meminfo_available),
            },
            "disk": {
                "data_dir_free_bytes": free,
                "data_dir_total_bytes": total,
            },
            "alarm": cloud.alarm,
        });
        scrub_phones_in(&mut body);
        body
    }

    /// CPU used by this process since the previous sample, in permille of one core (1000 = one
    /// core busy the whole time; two busy cores read 2000). The first sample covers the time
    /// since the daemon started (`uptime_s`).
    fn cpu_permille(&mut self, uptime_s: i64) -> Option<u64> {
        let at = Instant::now();
        let hz = sysconf(libc::_SC_CLK_TCK)?;
        let ticks = read("/proc/self/stat").as_deref().and_then(parse_stat_cpu_ticks)?;
        let previous = self.last_cpu.replace((at, ticks));
        match previous {
            Some((then, before)) => {
                let wall_ms = u64::try_from(at.duration_since(then).as_millis()).ok()?;
                cpu_permille(ticks.checked_sub(before)?, hz, wall_ms)
            }
            None => cpu_permille(ticks, hz, u64::try_from(uptime_s).ok()?.checked_mul(1_000)?),
        }
    }
}

/// The link as the relay sees it: connected, counters, commands.
fn link(c: &CloudState) -> Value {
    json!({
        "enabled": c.enabled,
        "broker": c.broker,
        "connected": c.connected,
        "since": c.since,
        "connects": c.connects,
        "last_error": c.last_error,
        "published": c.published,
        "acknowledged": c.acknowledged,
        "in_flight": c.in_flight,
        "telemetry_sent": c.telemetry_sent,
        "commands": {
            "received": c.commands_received,
            "applied": c.commands_applied,
            "refused": c.commands_refused,
            "duplicate": c.commands_duplicate,
            "held": c.commands_held,
        },
    })
}

/// One device, compact: no paths, no error texts (they may quote what was scanned).
fn device(d: &DeviceHealth) -> Value {
    json!({
        "id": d.id,
        "kind": d.kind,
        "connected": d.connected,
        "since": d.since,
        "last_event_at": d.last_event_at,
        "events": d.events,
        "errors": d.error_count(),
        "reconnects": d.reconnects,
        "status": d.status,
        "model": d.model,
        "firmware": d.firmware,
    })
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf reads a system constant; it has no preconditions.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0)
}

/// Free (for an unprivileged process) and total bytes of the filesystem holding `path`.
#[allow(clippy::unnecessary_cast)] // the statvfs field types differ between targets
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes into the struct we own; c_path is NUL-terminated and lives
    // across the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let unit = if st.f_frsize > 0 { st.f_frsize as u64 } else { st.f_bsize as u64 };
    Some(((st.f_bavail as u64).checked_mul(unit)?, (st.f_blocks as u64).checked_mul(unit)?))
}

/// utime + stime (fields 14 and 15, in clock ticks) from `/proc/<pid>/stat`. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted
/// after the last `)`.
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first, so utime (14) is the 12th.
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Resident pages (the second field) from `/proc/<pid>/statm`.
pub fn parse_statm_rss_pages(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// `MemAvailable` from `/proc/meminfo`, in bytes (the file gives kB).
pub fn parse_meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line["MemAvailable:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => value.checked_mul(1_024),
        None => Some(value),
        Some(_) => None,
    }
}

/// The one-minute load average from `/proc/loadavg`, × 100 (`"0.52 …"` → 52), without floats.
pub fn parse_load1_x100(text: &str) -> Option<u64> {
    let first = text.split_whitespace().next()?;
    let (whole, frac) = first.split_once('.').unwrap_or((first, ""));
    let whole: u64 = whole.parse().ok()?;
    let mut hundredths = 0u64;
    let mut digits = frac.bytes();
    for scale in [10, 1] {
        match digits.next() {
            Some(b) if b.is_ascii_digit() => hundredths += u64::from(b - b'0') * scale,
            Some(_) => return None,
            None => break,
        }
    }
    if !digits.all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.checked_mul(100)?.checked_add(hundredths)
}

/// CPU permille of one core: `ticks` of CPU time (at `hz` ticks a second) over `wall_ms` of
/// wall time, rounded down. None over no wall time.
pub fn cpu_permille(ticks: u64, hz: u64, wall_ms: u64) -> Option<u64> {
    if hz == 0 || wall_ms == 0 {
        return None;
    }
    let cpu_micros = u128::from(ticks) * 1_000_000 / u128::from(hz);
    u64::try_from(cpu_micros / u128::from(wall_ms)).ok()
}

/// Masks every mainland mobile number (11 digits starting with 1, not part of a longer run of
/// digits) in `text`: `call 13812345678` → `call 138****5678`.
pub fn scrub_phones(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &text[start..i];
            if run.len() == 11 && run.starts_with('1') {
                out.push_str(&run[..3]);
                out.push_str("****");
                out.push_str(&run[7..]);
            } else {
                out.push_str(run);
            }
        } else {
            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

/// [`scrub_phones`] on every string of a JSON value, keys included.
fn scrub_phones_in(v: &mut Value) {
    match v {
        Value::String(s) if s.bytes().any(|b| b.is_ascii_digit()) => *s = scrub_phones(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_phones_in),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut val) in entries {
                scrub_phones_in(&mut val);
                map.insert(scrub_phones(&k), val);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/self/stat` of a storehub process (Linux 6.1, aarch64), name with a space and a
    /// parenthesis to show fields are counted after the last `)`.
    const STAT: &str = "4242 (storehub (x) y) S 1 4242 4242 0 -1 4194560 5322 0 12 0 1234 567 0 0 20 0 \
                        9 0 118822 412340224 5120 18446744073709551615 1 1 0 0 0 0 0 4096 17475 0 0 0 \
                        17 2 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn stat_gives_user_plus_system_ticks() {
        assert_eq!(parse_stat_cpu_ticks(STAT), Some(1_234 + 567));
        let plain = "1 (systemd) S 0 1 1 0 -1 4194560 90000 0 100 0 812 1530 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_stat_cpu_ticks(plain), Some(2_342));
        assert_eq!(parse_stat_cpu_ticks("4242 (storehub) S 1 2"), None, "cut short");
        assert_eq!(parse_stat_cpu_ticks("no parenthesis at all"), None);
        assert_eq!(parse_stat_cpu_ticks(""), None);
    }

    #[test]
    fn statm_gives_resident_pages() {
        assert_eq!(parse_statm_rss_pages("100669 5120 3003 2406 0 12041 0\n"), Some(5_120));
        assert_eq!(parse_statm_rss_pages("100669\n"), None);
        assert_eq!(parse_statm_rss_pages("100669 x"), None);
    }

    #[test]
    fn meminfo_gives_available_bytes() {
        let text = "MemTotal:        3884400 kB\nMemFree:          152300 kB\n\
                    MemAvailable:    2911936 kB\nBuffers:           81232 kB\n";
        assert_eq!(parse_meminfo_available(text), Some(2_911_936 * 1_024));
        // A kernel before 3.14 has no MemAvailable.
        assert_eq!(parse_meminfo_available("MemTotal: 3884400 kB\nMemFree: 152300 kB\n"), None);
        assert_eq!(parse_meminfo_available("MemAvailable: lots kB\n"), None);
        assert_eq!(parse_meminfo_available("MemAvailable: 12 MB\n"), None);
    }

    #[test]
    fn loadavg_gives_the_one_minute_load_times_100() {
        assert_eq!(parse_load1_x100("0.52 0.58 0.59 1/191 4242\n"), Some(52));
        assert_eq!(parse_load1_x100("12.07 9.30 8.00 3/400 1\n"), Some(1_207));
        assert_eq!(parse_load1_x100("1.5 1 1 1/1 1"), Some(150));
        assert_eq!(parse_load1_x100("2 1 1 1/1 1"), Some(200));
        assert_eq!(parse_load1_x100("0.529 0 0"), Some(52), "rounded down");
        assert_eq!(parse_load1_x100("-1.00 0 0"), None);
        assert_eq!(parse_load1_x100("0.5x 0 0"), None);
        assert_eq!(parse_load1_x100(""), None);
    }

    #[test]
    fn cpu_permille_in_worked_numbers() {
        // 150 ticks at 100 Hz = 1.5 s of CPU in 60 s: 25 ‰ (2.5 % of one core).
        assert_eq!(cpu_permille(150, 100, 60_000), Some(25));
        // Two cores busy for 10 s: 2 000 ‰.
        assert_eq!(cpu_permille(2_000, 100, 10_000), Some(2_000));
        assert_eq!(cpu_permille(0, 100, 60_000), Some(0));
        assert_eq!(cpu_permille(10, 100, 0), None);
        assert_eq!(cpu_permille(10, 0, 1_000), None);
    }

    #[test]
    fn phone_numbers_are_masked_wherever_they_appear() {
        assert_eq!(scrub_phones("member 13812345678 at lane-1"), "member 138****5678 at lane-1");
        assert_eq!(scrub_phones("13812345678"), "138****5678");
        assert_eq!(scrub_phones("会员13812345678结账"), "会员138****5678结账");
        // Not a mobile: 12 digits (a barcode), 11 digits not starting with 1, 10 digits.
        assert_eq!(scrub_phones("6907674936533 23812345678 1381234567"), "6907674936533 23812345678 1381234567");
        let mut v = json!({ "a": ["x 13900001111"], "13700002222": 1, "n": 13800138000u64 });
        scrub_phones_in(&mut v);
        assert_eq!(v, json!({ "a": ["x 139****1111"], "137****2222": 1, "n": 13800138000u64 }));
    }

    #[test]
    fn disk_space_of_a_real_directory_and_of_none() {
        let dir = std::env::temp_dir();
        let (free, total) = disk_space(&dir).expect("statvfs on the temp dir");
        assert!(total > 0 && free <= total, "free {free} of {total}");
        assert_eq!(disk_space(Path::new("/no/such/dir/anywhere")), None);
    }
}
