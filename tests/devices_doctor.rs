//! `storehub doctor` end to end: the real binary, a config whose devices are pseudo-terminals
//! with simulators speaking the real protocols on the other side (a Toledo 8217 scale, a line
//! scanner, a CD5220 display), a USB printer node simulated by a file, and one device whose
//! path does not exist.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storehub::devices::display;
use storehub::devices::printer::render_test_page;
use storehub::devices::sim::{PtyDevice, ScriptedScanner, ToledoScale};

const STORE_NAME: &str = "华美超市 测试店";
const MISSING: &str = "/nonexistent/serial/by-id/usb-Toledo_missing-scale";

fn base(data: &Path) -> String {
    format!(
        r#"[store]
chain_id = "huamei"
store_id = "sh-test-001"
hub_id = "hub-1"
name = "{STORE_NAME}"

[data]
dir = "{}"
"#,
        data.display()
    )
}

fn device(id: &str, kind: &str, transport: &str, protocol: Option<&str>, path: &Path) -> String {
    let protocol = protocol.map(|p| format!("protocol = \"{p}\"\n")).unwrap_or_default();
    format!("\n[[devices]]\nid = \"{id}\"\nkind = \"{kind}\"\ntransport = \"{transport}\"\n{protocol}path = \"{}\"\n", path.display())
}

fn doctor(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storehub"))
        .arg("--config")
        .arg(config)
        .arg("doctor")
        .args(args)
        .env_remove("STOREHUB_DATA_DIR")
        .env("STOREHUB_LOG", "warn")
        .output()
        .expect("run storehub")
}

/// Scans `code` every 200 ms until dropped: the doctor opens the port (clearing what was
/// waiting) at a moment the test does not know.
struct Scanning {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scanning {
    fn start(scanner: ScriptedScanner, code: &'static str) -> Scanning {
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let _ = scanner.scan(code);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Scanning { stop, thread: Some(thread) }
    }
}

impl Drop for Scanning {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads what the display was sent until `want` bytes arrived (or 5 s passed).
fn read_display(dev: &mut PtyDevice, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want && Instant::now() < deadline {
        match dev.master.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("reading the display's pty: {e}"),
        }
    }
    got
}

#[test]
fn every_configured_device_is_checked_and_a_missing_one_fails_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let scale = ToledoScale::start(&dir.path().join("by-id/usb-Toledo_8217-scale")).unwrap();
    scale.put(1250);
    let scanner_link = dir.path().join("by-id/usb-Scanner-line");
    let scanning = Scanning::start(ScriptedScanner::create(&scanner_link).unwrap(), "6901234567892");
    let mut pole = PtyDevice::create(&dir.path().join("by-id/usb-Pole_display")).unwrap();
    let lp = dir.path().join("lp0");
    std::fs::write(&lp, b"").unwrap();

    let mut text = base(&dir.path().join("data"));
    text += &device("scale-1", "scale", "serial", Some("toledo-8217"), &scale.link);
    text += &device("scanner-1", "scanner", "serial", Some("line"), &scanner_link);
    text += &device("display-1", "display", "serial", None, &pole.link);
    text += &device("printer-1", "printer", "lp", None, &lp);
    text += &device("scale-2", "scale", "serial", Some("toledo-8217"), Path::new(MISSING));
    let config = dir.path().join("storehub.toml");
    std::fs::write(&config, text).unwrap();

    let started = Instant::now();
    let out = doctor(&config, &["--scan", "8", "--print-test"]);
    let took = started.elapsed();
    drop(scanning);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("doctor took {took:?}\n{stdout}\n{stderr}");

    assert_eq!(out.status.code(), Some(1), "one device is missing: exit 1");
    let line = |id: &str| stdout.lines().find(|l| l.contains(&format!(" {id} ("))).unwrap_or_else(|| panic!("no line for {id} in\n{stdout}")).to_string();
    let s1 = line("scale-1");
    assert!(s1.starts_with("OK") && s1.contains("1250 g, stable, ok"), "{s1}");
    let sc = line("scanner-1");
    assert!(sc.starts_with("OK") && sc.contains("\"6901234567892\""), "{sc}");
    let d = line("display-1");
    assert!(d.starts_with("OK"), "{d}");
    let p = line("printer-1");
    assert!(p.starts_with("OK") && p.contains("test page sent"), "{p}");
    let s2 = line("scale-2");
    assert!(s2.starts_with("FAIL") && s2.contains(MISSING) && s2.contains("/dev/serial/by-id"), "the failure names the path and what to check: {s2}");
    assert!(stderr.contains("1 configured device(s) did not answer"), "{stderr}");
    // The inventory comes first.
    assert!(stdout.starts_with("Serial ports"), "{stdout}");

    // What reached the devices is byte for byte what their codecs make.
    let mut want = display::INIT.to_vec();
    want.extend_from_slice(&display::render_text("storehub doctor", "display test OK"));
    assert_eq!(read_display(&mut pole, want.len()), want);
    // The default paper is 80 mm: 48 columns.
    let columns = storehub::devices::printer::columns(&storehub::config::PrinterSettings::default());
    assert_eq!(columns, 48);
    let page = render_test_page(STORE_NAME, columns).encode().unwrap();
    assert_eq!(std::fs::read(&lp).unwrap(), page, "the test page, for the configured paper, with the configured store name");
}

#[test]
fn json_report_and_exit_zero_when_all_answer() {
    let dir = tempfile::tempdir().unwrap();
    let scale = ToledoScale::start(&dir.path().join("by-id/usb-Toledo_8217-scale")).unwrap();
    scale.put(25_005);
    let scanner_link = dir.path().join("by-id/usb-Scanner-line");
    let _scanner = ScriptedScanner::create(&scanner_link).unwrap();
    let mut text = base(&dir.path().join("data"));
    text += &device("scale-1", "scale", "serial", Some("toledo-8217"), &scale.link);
    text += &device("scanner-1", "scanner", "serial", Some("line"), &scanner_link);
    let config = dir.path().join("storehub.toml");
    std::fs::write(&config, &text).unwrap();

    let out = doctor(&config, &["--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["ok"], true);
    assert!(v["inventory"]["serial"].is_array() && v["inventory"]["gpio"]["available"].is_boolean(), "{v}");
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["id"], "scale-1");
    assert_eq!(devices[0]["ok"], true);
    assert!(devices[0]["detail"].as_str().unwrap().contains("25005 g, stable, ok"), "{}", devices[0]);
    // Without --scan a scanner is only opened, and says how to see a scan.
    assert_eq!(devices[1]["ok"], true);
    assert!(devices[1]["detail"].as_str().unwrap().contains("--scan"), "{}", devices[1]);

    // The same config plus a device that is not there: exit 1, its entry names the path.
    std::fs::write(&config, text + &device("scale-2", "scale", "serial", Some("toledo-8217"), Path::new(MISSING))).unwrap();
    let out = doctor(&config, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let missing = &v["devices"][2];
    assert_eq!((missing["id"].as_str(), missing["ok"].as_bool(), missing["target"].as_str()), (Some("scale-2"), Some(false), Some(MISSING)));
    assert!(missing["detail"].as_str().unwrap().contains(MISSING), "{missing}");
}

#[test]
fn with_a_daemon_running_its_health_is_shown_and_no_device_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The daemon holds scale-2; doctor must not try to open the path (it does not exist here,
    // so opening it would FAIL).
    let config = dir.path().join("storehub.toml");
    std::fs::write(&config, base(&data) + &device("scale-2", "scale", "serial", Some("toledo-8217"), Path::new(MISSING))).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(storehub::control::socket_path(&data)).unwrap();
    let daemon = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        reader.read_line(&mut request).unwrap();
        let mut h = storehub::devices::health::DeviceHealth::new("scale-2", "scale", "toledo-8217", "serial", MISSING, None);
        h.connected = true;
        h.events = 42;
        let reply = serde_json::json!({ "ok": true, "result": [h] });
        let mut stream = stream;
        writeln!(stream, "{reply}").unwrap();
        request
    });
    let out = doctor(&config, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let request = daemon.join().unwrap();
    assert!(request.contains("devices"), "doctor asked the daemon for its devices: {request}");
    assert!(stdout.contains("daemon runs on this data dir"), "{stdout}");
    let line = stdout.lines().find(|l| l.contains(" scale-2 (")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.starts_with("OK") && line.contains("42 event(s)"), "{line}");
}

#[test]
fn the_hardware_list_runs_without_a_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_storehub"))
        .current_dir(dir.path())
        .arg("doctor")
        .env_remove("STOREHUB_CONFIG")
        .env_remove("STOREHUB_DATA_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if Path::new("/etc/storehub/storehub.toml").exists() {
        // An installed box checks its own config; only the listing is asserted then.
        assert!(stdout.contains("Serial ports"), "{stdout}");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for section in ["Serial ports (", "USB HID devices (", "USB printers (", "GPIO: "] {
        assert!(stdout.contains(section), "{section} missing in\n{stdout}");
    }
    assert!(stdout.contains("no config"), "{stdout}");
}
