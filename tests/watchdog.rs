//! The systemd watchdog as systemd sees it: `storehub run` started with `NOTIFY_SOCKET` pointing
//! at a datagram socket this test binds and `WATCHDOG_USEC` set, as systemd does for
//! `Type=notify` + `WatchdogSec=`. It must say `READY=1`, then send `WATCHDOG=1` keep-alives, and
//! stop them (saying why in `STATUS=`) once its data dir's filesystem (a 64 MiB tmpfs, so root
//! only, like tests/web_metrics.rs) is full and commits fail.

mod common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use storehub::control::{client, Request};

/// The daemon, stopped with SIGTERM when dropped (before the tmpfs under it goes).
struct Hub(Child);

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

/// The notify messages that arrive within `limit` (each datagram one message).
fn messages_within(sock: &UnixDatagram, limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        sock.set_read_timeout(Some(left)).expect("timeout");
        match sock.recv(&mut buf) {
            Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => break,
        }
    }
    got
}

/// Waits up to `limit` for a message containing `what`; returns every message seen up to it.
fn wait_for(sock: &UnixDatagram, what: &str, limit: Duration) -> Vec<String> {
    let end = Instant::now() + limit;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()).unwrap_or_else(|| panic!("no {what:?} within {limit:?}; saw {seen:?}"));
        sock.set_read_timeout(Some(left)).expect("timeout");
        match sock.recv(&mut buf) {
            Ok(n) => {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = m.contains(what);
                seen.push(m);
                if done {
                    return seen;
                }
            }
            Err(e) => panic!("no {what:?} within {limit:?} ({e}); saw {seen:?}"),
        }
    }
}

#[test]
fn keep_alives_flow_while_healthy_and_stop_when_commits_meet_a_full_disk() {
    let outer = tempfile::tempdir().expect("temp dir");
    let mnt = outer.path().join("full-disk");
    let _tmpfs = common::Tmpfs::mount(&mnt, "64m");
    let data = mnt.join("data");
    let cfg = common::hub::config(outer.path(), "enabled = false", "");
    let notify_path = outer.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind the notify socket");

    // WATCHDOG_USEC = 1 s, so a keep-alive every 500 ms (half, as sd_watchdog_enabled advises).
    let log = std::fs::File::create(outer.path().join("hub.log")).expect("log");
    let hub = Hub(
        Command::new(env!("CARGO_BIN_EXE_storehub"))
            .args(["--config", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "run", "--listen", "127.0.0.1:0"])
            .env("STOREHUB_LOG", "warn")
            .env("NOTIFY_SOCKET", &notify_path)
            .env("WATCHDOG_USEC", "1000000")
            .env_remove("WATCHDOG_PID")
            .env_remove("STOREHUB_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the hub"),
    );

    let first = wait_for(&notify, "READY=1", Duration::from_secs(60));
    assert!(first.iter().all(|m| !m.contains("WATCHDOG=1")), "a keep-alive before READY=1: {first:?}");
    // In 3 s at one per 500 ms: 6 keep-alives, give or take the first tick. At least 3, so that
    // a probe slowed past its 250 ms bound by a loaded test machine does not fail the test.
    let healthy = messages_within(&notify, Duration::from_secs(3));
    let fed = healthy.iter().filter(|m| m.as_str() == "WATCHDOG=1").count();
    assert!(fed >= 3, "expected a keep-alive every 500 ms while healthy; saw {healthy:?}");
    assert!(matches!(client::try_call(&data.join("control.sock"), &Request::Status), client::Attempt::Answered(Ok(_))));

    // Fill the filesystem to the last byte, then import catalogs through the daemon until a
    // commit fails (the journal file is allocated ahead, so it is sled's files that hit ENOSPC).
    {
        let mut f = std::fs::File::create(mnt.join("filler")).expect("filler");
        let chunk = vec![0u8; 1 << 16];
        while f.write_all(&chunk).is_ok() {}
    }
    let header = "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n";
    let mut status = Vec::new();
    for batch in 0..100 {
        let mut csv = String::from(header);
        for j in 0..200 {
            csv.push_str(&format!("W-{batch:03}{j:03},,矿泉水 {j},Mineral water with a long name {j},饮料,piece,200,,,1300,,\n"));
        }
        let file = outer.path().join("batch.csv");
        std::fs::write(&file, csv).expect("csv");
        let _ = common::hub::cli(&cfg, &data, &["import", "catalog", file.to_str().unwrap()]);
        status.extend(messages_within(&notify, Duration::from_millis(600)));
        if status.iter().any(|m| m.starts_with("STATUS=unhealthy: the database refuses writes")) {
            break;
        }
    }
    let why = status
        .iter()
        .find(|m| m.starts_with("STATUS=unhealthy: the database refuses writes"))
        .unwrap_or_else(|| panic!("100 imports onto a full disk and the watchdog never said the database refuses writes; saw {status:?}"));
    assert!(why.contains("No space left on device"), "{why}");

    // Now silence: 3 s without one keep-alive (systemd would kill it after WatchdogSec=1 s).
    let after = messages_within(&notify, Duration::from_secs(3));
    assert!(after.iter().all(|m| m.as_str() != "WATCHDOG=1"), "keep-alives went on while unhealthy: {after:?}");
    drop(hub);
}
