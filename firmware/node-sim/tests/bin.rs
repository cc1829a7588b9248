//! The `storehub-node-sim` binary as a person runs it: a script moves the load, the link answers
//! with real frames, SIGTERM stops it and removes the link; a bad script or flag is refused with
//! the file, line and word.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use storehub_wire::{Feed, FrameAccumulator, NodeMsg, MAX_FRAME_LEN};

const BIN: &str = env!("CARGO_BIN_EXE_storehub-node-sim");

#[test]
fn a_script_moves_the_load_and_sigterm_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("node");
    let script = dir.path().join("shelf.txt");
    // 5 700 g at the start (8 000 + 5 700 × 42 = 247 400 counts), 570 g taken at 1.5 s
    // (223 460 counts); uncalibrated, the node reports the counts as grams.
    std::fs::write(&script, "# ten bottles, one taken\nat 0s ch0 set 5700\nat 1.5s ch0 take 570\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["--link", link.to_str().unwrap(), "--node-id", "31", "--rate", "80", "--script", script.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::symlink_metadata(&link).is_err() {
        assert!(Instant::now() < deadline, "no link");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut port = serialport::new(link.to_string_lossy(), 115_200).timeout(Duration::from_millis(50)).open_native().unwrap();
    let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
    let mut stable_raws = Vec::new();
    let mut buf = [0u8; 256];
    while !stable_raws.contains(&223_460) {
        assert!(Instant::now() < deadline, "never read 223 460 counts; stable raws seen: {stable_raws:?}");
        let n = match port.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => panic!("{e}"),
        };
        let mut window = &buf[..n];
        loop {
            match acc.feed::<NodeMsg>(window) {
                Feed::Consumed => break,
                Feed::Message(NodeMsg::Reading { raw, stable: true, .. }, rest) => {
                    // The noise is ±20 counts, so a filtered count lies within 20 of the load's.
                    stable_raws.push(if (raw - 247_400).abs() <= 20 { 247_400 } else if (raw - 223_460).abs() <= 20 { 223_460 } else { raw });
                    window = rest;
                }
                Feed::Message(_, rest) | Feed::Error(_, rest) => window = rest,
            }
        }
    }
    assert!(stable_raws.contains(&247_400), "the 5 700 g before the take: {stable_raws:?}");
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("line 3: ch0 now carries 5130 g"), "{err}");
    assert!(err.contains("stopped"), "{err}");
    assert!(std::fs::symlink_metadata(&link).is_err(), "the link was removed");
}

#[test]
fn bad_scripts_and_flags_are_refused_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("node");
    let script = dir.path().join("bad.txt");
    std::fs::write(&script, "at 1s ch0 place 5\nat 2s ch0 plase 5\n").unwrap();
    let out = Command::new(BIN).args(["--link", link.to_str().unwrap(), "--script", script.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim(), format!("storehub-node-sim: {}: line 2, word \"plase\": expected place, take or set", script.display()));

    std::fs::write(&script, "at 1s ch2 place 5\n").unwrap();
    let out = Command::new(BIN).args(["--link", link.to_str().unwrap(), "--script", script.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1 uses ch2, but the node has 1 channel(s); pass --channels 3"), "{err}");

    let out = Command::new(BIN).args(["--link", link.to_str().unwrap(), "--fw", "1.2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected MAJOR.MINOR.PATCH"));
    assert!(std::fs::symlink_metadata(&link).is_err(), "nothing was started");
}
