//! A hub daemon for end-to-end tests: `storehub run` on the demo config without its simulated
//! devices, with the test's `[mqtt]` (and any further sections), its CLI called with that config
//! and data dir, stopped with SIGTERM when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ring::signature::Ed25519KeyPair;
use storehub::cloud::commands::signature;
use storehub::control::{client, Request};

use super::broker::{Broker, Hq};

/// Writes `hub.toml` in `dir`: config/demo.toml without the simulated devices, `[mqtt]` set to
/// `mqtt`, then `extra` (more sections) appended.
pub fn config(dir: &Path, mqtt: &str, extra: &str) -> PathBuf {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
    let (start, end) = (demo.find("# Simulated devices").unwrap(), demo.find("[web]").unwrap());
    let text = format!("{}[mqtt]\n{mqtt}\n\n{}{extra}", &demo[..start], &demo[end..]);
    let path = dir.join("hub.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A test Mosquitto, HQ subscribed to everything under `root`, HQ's command-signing key, and
/// the `[mqtt]` lines of a hub on that broker that takes only commands signed with that key.
pub struct SignedHq {
    pub broker: Broker,
    pub hq: Hq,
    pub key: Ed25519KeyPair,
    pub mqtt: String,
}

pub fn signed_hq(root: &str) -> SignedHq {
    let broker = Broker::start();
    let hq = Hq::subscribe(broker.port, &format!("{root}/#"));
    let (pem, public) = signature::generate_pem().unwrap();
    let key = signature::load_pem(pem.as_bytes()).unwrap();
    let mqtt = format!(
        "enabled = true\nurl = \"{}\"\nreconnect_min_ms = 200\nreconnect_max_ms = 1000\nkeepalive_s = 5\nrequire_signed_commands = true\ncommand_keys = [\"{public}\"]\n",
        broker.url()
    );
    SignedHq { broker, hq, key, mqtt }
}

/// `storehub --config CFG --data-dir DATA args…`: (success, stdout, stderr).
pub fn cli(cfg: &Path, data: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--config", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = super::storehub_cmd(&all);
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// [`cli`] that must succeed: its stdout.
pub fn ok(cfg: &Path, data: &Path, args: &[&str]) -> String {
    let (success, out, err) = cli(cfg, data, args);
    assert!(success, "storehub {args:?} failed: {err}");
    out
}

/// A running `storehub run` with its data dir; stopped with SIGTERM on drop.
pub struct HubDaemon {
    child: Child,
    pub data: PathBuf,
}

impl HubDaemon {
    /// Starts the hub and waits (up to 60 s) until its control socket answers.
    pub fn start(cfg: &Path, data: &Path) -> HubDaemon {
        std::fs::create_dir_all(data).unwrap();
        let log = std::fs::File::create(data.with_extension("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_storehub"))
            .args(["--config", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "run", "--listen", "127.0.0.1:0"])
            .env("STOREHUB_LOG", "warn")
            .env_remove("STOREHUB_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start the hub");
        let mut d = HubDaemon { child, data: data.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(client::try_call(&d.data.join("control.sock"), &Request::Status), client::Attempt::Answered(Ok(_))) {
            let log = std::fs::read_to_string(d.data.with_extension("log")).unwrap_or_default();
            assert!(d.child.try_wait().unwrap().is_none(), "the hub exited:\n{log}");
            assert!(Instant::now() < deadline, "the hub did not open its control socket:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}

impl Drop for HubDaemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}
