//! `storehub provision` end to end with the real binary into a temporary etc dir: from a file,
//! from flags, from piped answers; bad input names the key or flag and writes nothing; the CSR
//! is signed by openssl playing HQ's CA and installed with `provision cert`; the USB path on a
//! directory standing in for the stick and on a loop-mounted image; the prompts in a pty.

mod common;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use storehub::audit::{self, AuditAction, AuditFilter};
use storehub::config::Config;
use storehub::provision::files::{mode_and_owner, Access};

const ADMIN_PW: &str = "letmein-2026";

fn provision_file(dir: &Path, data: &Path, hq: &str) -> PathBuf {
    let text = format!(
        "[store]\nchain_id = \"huamei\"\nstore_id = \"sh-xuhui-001\"\nhub_id = \"hub-1\"\nname = \"华美超市 徐汇店\"\n\n[hq]\n{hq}\n\n[admin]\nid = \"boss\"\npassword = \"{ADMIN_PW}\"\n\n[data]\ndir = \"{}\"\n\n[web]\nlisten = \"127.0.0.1:18080\"\n",
        data.display()
    );
    let p = dir.join("provision.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `storehub --config ETC/storehub.toml provision ARGS` with `stdin`: (success, stdout, stderr).
fn provision(etc: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_storehub"))
        .arg("--config")
        .arg(etc.join("storehub.toml"))
        .arg("provision")
        .args(args)
        .env_remove("STOREHUB_CONFIG")
        .env_remove("STOREHUB_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Loads the config provisioning wrote, with the PII key it made (`pii.key` beside the config)
/// held by this process, as `main` does before it opens the store.
fn load_provisioned(cfg_path: &Path) -> Config {
    let cfg = Config::load(cfg_path).unwrap();
    let key = storehub::privacy::key_path(cfg.privacy.key_file.as_deref(), Some(cfg_path));
    assert_eq!(mode(&key), 0o640, "the PII key is for root and the storehub group only");
    storehub::privacy::install(storehub::privacy::PiiKey::load(&key).unwrap());
    cfg
}

/// The admin logs in with the password, the audit log has the `provisioned` entry by `actor`.
fn check_store(data: &Path, cfg: &Config, actor: &str) {
    let store = storehub::store::Store::open(storehub::provision::store_options(cfg)).unwrap();
    assert_eq!(cfg.data.dir, data);
    storehub::staff::login_password(&store, "boss", ADMIN_PW).expect("the first admin logs in");
    assert!(storehub::staff::login_password(&store, "boss", "wrong-password").is_err());
    let entries = audit::list(&store, &AuditFilter::default()).unwrap();
    let e = entries.iter().find(|e| e.action == AuditAction::Provisioned).expect("a provisioned audit entry");
    assert_eq!(e.actor, actor);
    assert_eq!(e.subject.as_deref(), Some("hub-1"));
    let events = common::events_of_type(&store, audit::EVENT_AUDIT_RECORDED);
    assert!(!events.is_empty(), "the audit entry's event is in the outbox");
}

#[test]
fn from_a_file_with_password_auth() {
    let t = tempfile::tempdir().unwrap();
    let (etc, data) = (t.path().join("etc"), t.path().join("data"));
    let file = provision_file(t.path(), &data, "broker = \"mqtts://mqtt.huamei.example.cn:8883\"\nauth = \"password\"\nusername = \"hub-1\"\npassword = \"broker-pw-1\"\ncommand_keys = [\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"]");
    let (ok, out, err) = provision(&etc, &["--file", file.to_str().unwrap()], "");
    assert!(ok, "{err}");
    let cfg_path = etc.join("storehub.toml");
    assert_eq!(mode(&cfg_path), mode_and_owner(Access::Config).0);
    let cfg = load_provisioned(&cfg_path);
    assert_eq!((cfg.store.chain_id.as_str(), cfg.store.store_id.as_str(), cfg.store.hub_id.as_str()), ("huamei", "sh-xuhui-001", "hub-1"));
    assert_eq!(cfg.mqtt.url.as_ref().unwrap().to_string(), "mqtts://mqtt.huamei.example.cn:8883");
    assert_eq!(cfg.mqtt.password.as_ref().unwrap().expose(), "broker-pw-1");
    assert!(cfg.mqtt.require_signed_commands);
    check_store(&data, &cfg, "cli");
    // Doctor ran (its hardware list), then the summary, Chinese before English.
    assert!(out.contains("Serial ports"), "{out}");
    for want in ["开通完成 / provisioning done", "连锁 / chain: huamei", "hub-1", "mqtts://mqtt.huamei.example.cn:8883", "boss (新建 / created)", "设备自检 / doctor: 通过 / OK", "http://127.0.0.1:18080/"] {
        assert!(out.contains(want), "summary lacks {want:?}:\n{out}");
    }
    assert!(!out.contains("broker-pw-1") && !out.contains(ADMIN_PW), "no secret in the summary");

    // A second run refuses; with --force it replaces the config and keeps the old one.
    let before = std::fs::read_to_string(&cfg_path).unwrap();
    let (ok, _, err) = provision(&etc, &["--file", file.to_str().unwrap()], "");
    assert!(!ok && err.contains("already provisioned") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&cfg_path).unwrap(), before);
    // While another process holds the database (a running daemon), even --force writes nothing.
    {
        let _held = storehub::store::Store::open(storehub::provision::store_options(&Config::load(&cfg_path).unwrap())).unwrap();
        let (ok, _, err) = provision(&etc, &["--file", file.to_str().unwrap(), "--force"], "");
        assert!(!ok && err.contains("nothing was written"), "{err}");
        assert!(!etc.join("storehub.toml.bak").exists());
    }
    let (ok, out, err) = provision(&etc, &["--file", file.to_str().unwrap(), "--force"], "");
    assert!(ok, "{err}");
    assert!(out.contains("已存在, 未改 / existed, kept"), "{out}");
    assert_eq!(std::fs::read_to_string(etc.join("storehub.toml.bak")).unwrap(), before);
}

#[test]
fn bad_files_name_the_line_and_key_and_write_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (etc, data) = (t.path().join("etc"), t.path().join("data"));
    // Line 9 is the second line of [hq] (provision_file: [store] on lines 1-5, a blank, [hq] on 7).
    let file = provision_file(t.path(), &data, "auth = \"password\"\nbroker = \"tcp://10.0.0.5\"\nusername = \"u\"\npassword = \"p\"");
    let (ok, _, err) = provision(&etc, &["--file", file.to_str().unwrap()], "");
    assert!(!ok);
    assert!(err.contains("provision.toml:9: [hq].broker") && err.contains("mqtt://"), "{err}");
    assert!(!etc.exists() && !data.exists(), "nothing written");
    let file = provision_file(t.path(), &data, "broker = \"mqtts://h.example.cn\"\nauth = \"tls\"\nca_file = \"missing-ca.pem\"");
    let (ok, _, err) = provision(&etc, &["--file", file.to_str().unwrap()], "");
    assert!(!ok && err.contains("[hq].ca_file") && err.contains("missing-ca.pem"), "{err}");
    let file = provision_file(t.path(), &data, "broker = \"mqtts://h.example.cn\"\nauth = \"kerberos\"");
    let (ok, _, err) = provision(&etc, &["--file", file.to_str().unwrap()], "");
    assert!(!ok && err.contains(":9: [hq].auth"), "{err}");
    assert!(!etc.exists() && !data.exists(), "nothing written");
}

#[test]
fn from_flags_with_secrets_on_stdin() {
    let t = tempfile::tempdir().unwrap();
    let (etc, data) = (t.path().join("etc"), t.path().join("data"));
    let base = ["--chain-id", "huamei", "--store-id", "sh-xuhui-001", "--hub-id", "hub-1", "--broker", "mqtts://mqtt.huamei.example.cn", "--auth", "password", "--username", "hub-1", "--admin-id", "boss", "--listen", "127.0.0.1:18081"];
    // A bad store id names its flag; nothing is written.
    let mut bad = base.to_vec();
    bad[3] = "SH 1";
    let (ok, _, err) = provision(&etc, &[&bad[..], &["--admin-password-stdin", "--mqtt-password-stdin"]].concat(), &format!("{ADMIN_PW}\nbroker-pw\n"));
    assert!(!ok && err.contains("--store-id") && err.contains("lowercase"), "{err}");
    // The broker password missing names the flag that gives it.
    let (ok, _, err) = provision(&etc, &[&base[..], &["--admin-password-stdin"]].concat(), &format!("{ADMIN_PW}\n"));
    assert!(!ok && err.contains("--mqtt-password-stdin"), "{err}");
    assert!(!etc.exists(), "nothing written");

    let mut args = base.to_vec();
    args.extend(["--admin-password-stdin", "--mqtt-password-stdin"]);
    let with_data = [vec!["--data-dir", data.to_str().unwrap()], args.clone()].concat();
    let mut child = Command::new(env!("CARGO_BIN_EXE_storehub"));
    child.arg("--config").arg(etc.join("storehub.toml")).args(&with_data[..2]).arg("provision").args(&with_data[2..]);
    let out = child
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(format!("{ADMIN_PW}\nbroker-pw\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    assert_eq!(cfg.mqtt.password.as_ref().unwrap().expose(), "broker-pw");
    assert_eq!(cfg.store.name, "门店 sh-xuhui-001", "the default name");
    check_store(&data, &cfg, "cli");
}

#[test]
fn interactive_from_piped_answers_with_defaults_and_a_retry() {
    let t = tempfile::tempdir().unwrap();
    let (etc, data) = (t.path().join("etc"), t.path().join("data"));
    // chain, store, hub [default], name [default], broker (first wrong, then right), auth
    // [password], user [hub-1], broker password, CA [none], command key [none], admin [admin],
    // password twice, data dir, listen.
    let answers = format!(
        "huamei\nsh-xuhui-001\n\n\ntcp://nope\nmqtts://mqtt.huamei.example.cn\n\n\nbroker-pw\n\n\n\n{ADMIN_PW}\n{ADMIN_PW}\n{}\n127.0.0.1:18082\n",
        data.display()
    );
    let (ok, out, err) = provision(&etc, &[], &answers);
    assert!(ok, "{err}\n{out}");
    assert!(out.contains("主机编号 / hub id [hub-1]:"), "{out}");
    assert!(out.contains("✗ expected an mqtt:// or mqtts:// URL"), "the wrong broker is refused with the reason:\n{out}");
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    assert_eq!(cfg.store.hub_id.as_str(), "hub-1");
    assert_eq!(cfg.mqtt.username.as_deref(), Some("hub-1"));
    let store = storehub::store::Store::open(storehub::provision::store_options(&cfg)).unwrap();
    storehub::staff::login_password(&store, "admin", ADMIN_PW).expect("the default admin id logs in");
    // Input that ends early writes nothing.
    let t2 = tempfile::tempdir().unwrap();
    let (ok, _, err) = provision(&t2.path().join("etc"), &[], "huamei\n");
    assert!(!ok && err.contains("input ended") && err.contains("nothing was written"), "{err}");
    assert!(!t2.path().join("etc").exists());
}

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn mutual_tls_key_csr_and_the_certificate_hq_signs() {
    let t = tempfile::tempdir().unwrap();
    let (etc, data, hq) = (t.path().join("etc"), t.path().join("data"), t.path().join("hq"));
    std::fs::create_dir_all(&hq).unwrap();
    // HQ's CA, made with openssl.
    openssl(&["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=HQ test CA", "-days", "2"], &hq);
    let file = provision_file(t.path(), &data, &format!("broker = \"mqtts://mqtt.huamei.example.cn\"\nauth = \"tls\"\nca_file = \"{}\"", hq.join("ca.pem").display()));
    let (ok, out, err) = provision(&etc, &["--file", file.to_str().unwrap()], "");
    assert!(ok, "{err}");
    let tls = etc.join("tls");
    assert_eq!(mode(&tls.join("hub.key")), 0o600);
    assert_eq!(std::fs::read(tls.join("ca.pem")).unwrap(), std::fs::read(hq.join("ca.pem")).unwrap(), "HQ's CA installed");
    // The CSR parses and carries the hub: CN storehub-{chain}-{store}-{hub}, DNS name hub-1.
    let csr = Command::new("openssl").args(["req", "-in"]).arg(tls.join("hub.csr")).args(["-noout", "-text", "-verify"]).output().unwrap();
    let text = String::from_utf8_lossy(&csr.stdout).into_owned() + &String::from_utf8_lossy(&csr.stderr);
    assert!(csr.status.success(), "{text}");
    assert!(text.contains("CN = storehub-huamei-sh-xuhui-001-hub-1") && text.contains("DNS:hub-1"), "{text}");
    // The summary's fingerprint is the key's: SHA-256 of the public key DER, first 16 bytes.
    let der = Command::new("openssl").args(["pkey", "-pubout", "-outform", "DER", "-in"]).arg(tls.join("hub.key")).output().unwrap();
    let fp = storehub::provision::tls::fingerprint(&der.stdout);
    assert!(out.contains(&fp), "summary shows {fp}:\n{out}");
    assert!(out.contains("pending"), "{out}");
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    assert!(cfg.mqtt.cert_file.is_none(), "no client cert before HQ signs");

    // HQ signs the CSR; a certificate for another key is refused, the right one installed.
    std::fs::copy(tls.join("hub.csr"), hq.join("hub.csr")).unwrap();
    openssl(&["x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-copy_extensions", "copyall", "-out", "hub.pem", "-days", "2"], &hq);
    openssl(&["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=other", "-days", "2"], &hq);
    let (ok, _, err) = provision(&etc, &["cert", hq.join("other.pem").to_str().unwrap()], "");
    assert!(!ok && err.contains("other.pem"), "{err}");
    assert!(!tls.join("hub.pem").exists());
    // The box's own key, signed by a CA that is not HQ's: refused before anything is written,
    // saying so and how to override it.
    openssl(&["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "rogue.key", "-out", "rogue.pem", "-subj", "/CN=rogue CA", "-days", "2"], &hq);
    openssl(&["x509", "-req", "-in", "hub.csr", "-CA", "rogue.pem", "-CAkey", "rogue.key", "-CAcreateserial", "-copy_extensions", "copyall", "-out", "hub-rogue.pem", "-days", "2"], &hq);
    let config_before = std::fs::read(etc.join("storehub.toml")).unwrap();
    let (ok, _, err) = provision(&etc, &["cert", hq.join("hub-rogue.pem").to_str().unwrap()], "");
    assert!(!ok && err.contains("not signed by HQ's CA") && err.contains("--skip-ca-check"), "{err}");
    assert!(!tls.join("hub.pem").exists() && !tls.join("hub.pem.new").exists());
    assert_eq!(std::fs::read(etc.join("storehub.toml")).unwrap(), config_before, "nothing written");
    // A technician whose broker trusts that CA for clients overrides the check; HQ's own
    // certificate then replaces it.
    let (ok, _, err) = provision(&etc, &["cert", "--skip-ca-check", hq.join("hub-rogue.pem").to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(tls.join("hub.pem")).unwrap(), std::fs::read(hq.join("hub-rogue.pem")).unwrap());
    let (ok, out, err) = provision(&etc, &["cert", hq.join("hub.pem").to_str().unwrap()], "");
    assert!(ok, "{err}");
    assert!(out.contains("certificate installed"), "{out}");
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    assert_eq!(cfg.mqtt.cert_file.as_deref(), Some(tls.join("hub.pem").as_path()));
    assert_eq!(cfg.mqtt.key_file.as_deref(), Some(tls.join("hub.key").as_path()));
    storehub::cloud::tls::client_config(&cfg.mqtt).expect("the installed pair loads");
    assert!(etc.join("storehub.toml.bak").exists());
}

#[test]
fn usb_stick_file_applied_from_a_directory() {
    let t = tempfile::tempdir().unwrap();
    let (stick, etc, data) = (t.path().join("stick"), t.path().join("etc"), t.path().join("data"));
    std::fs::create_dir_all(&stick).unwrap();
    let target = storehub::provision::Target { config: etc.join("storehub.toml"), etc_dir: etc.clone() };
    // No file on the stick: nothing done.
    assert!(matches!(storehub::provision::usb::apply_dir(&stick, &target).unwrap(), storehub::provision::usb::UsbResult::NoFile));
    let f = provision_file(&stick, &data, "broker = \"mqtt://127.0.0.1:1883\"\nauth = \"none\"");
    std::fs::rename(f, stick.join("storehub-provision.toml")).unwrap();
    let r = storehub::provision::usb::apply_dir(&stick, &target);
    let line = storehub::provision::usb::report_line("/dev/sdz1", &r);
    assert!(line.contains("usb-provision /dev/sdz1: OK chain=huamei store=sh-xuhui-001 hub=hub-1"), "{line}");
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    check_store(&data, &cfg, "usb");
    // A second stick never overwrites a provisioned box.
    let r = storehub::provision::usb::apply_dir(&stick, &target);
    assert!(storehub::provision::usb::report_line("/dev/sdz1", &r).contains("FAILED this box is already provisioned"));
    // The CLI refuses what is not a block device, naming it.
    let (ok, _, err) = provision(&etc, &["usb", "/tmp"], "");
    assert!(!ok && err.contains("/tmp: expected a block device under /dev"), "{err}");
}

/// Detaches a loop device (and unmounts its scratch mount) when dropped.
struct Loop {
    dev: String,
    mnt: PathBuf,
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real stick image on a loop device (we run as root here and in CI): `provision usb` mounts
/// it read-only, applies its file, unmounts it, and reports one line. The image is ext4, not
/// vfat as most sticks are: this machine's kernel has no vfat (see /proc/filesystems), and
/// `provision usb` lets mount(8) detect the filesystem, so the path taken is the same.
#[test]
fn usb_stick_on_a_loop_mounted_image() {
    let t = tempfile::tempdir().unwrap();
    let (etc, data, img, mnt) = (t.path().join("etc"), t.path().join("data"), t.path().join("stick.img"), t.path().join("mnt"));
    std::fs::File::create(&img).unwrap().set_len(8 << 20).unwrap();
    run("mkfs.ext4", &["-q", "-L", "STOREHUB", img.to_str().unwrap()]);
    let dev = run("losetup", &["--find", "--show", img.to_str().unwrap()]);
    std::fs::create_dir_all(&mnt).unwrap();
    let lo = Loop { dev: dev.clone(), mnt: mnt.clone() };
    run("mount", &[&dev, mnt.to_str().unwrap()]);
    let f = provision_file(t.path(), &data, "broker = \"mqtt://127.0.0.1:1883\"\nauth = \"none\"");
    std::fs::copy(f, mnt.join("storehub-provision.toml")).unwrap();
    run("umount", &[mnt.to_str().unwrap()]);

    let run_dir = t.path().join("run");
    let (ok, out, err) = provision(&etc, &["usb", "--run-dir", run_dir.to_str().unwrap(), &dev], "");
    assert!(ok, "{err}");
    assert!(out.contains(&format!("usb-provision {dev}: OK chain=huamei store=sh-xuhui-001 hub=hub-1 admin=boss")), "{out}");
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    check_store(&data, &cfg, "usb");
    let log = std::fs::read_to_string(data.join("provision-usb.log")).unwrap();
    assert!(log.contains(&format!("usb-provision {dev}: OK")), "{log}");
    // Unmounted again: the mount point is gone and the device is in no mount.
    assert_eq!(std::fs::read_dir(&run_dir).unwrap().count(), 0, "mount point removed");
    assert!(!std::fs::read_to_string("/proc/self/mounts").unwrap().contains(&format!("{dev} ")), "the stick is unmounted");
    drop(lo);
}

/// The prompts in a real terminal (a pty): each answer is typed after its question appears,
/// and the passwords are not echoed back (the terminal's echo is off while they are typed).
#[test]
fn interactive_in_a_terminal_does_not_echo_passwords() {
    use std::os::fd::{FromRawFd as _, OwnedFd};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let t = tempfile::tempdir().unwrap();
    let (etc, data) = (t.path().join("etc"), t.path().join("data"));
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills two new descriptors, owned below.
    assert_eq!(unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) }, 0);
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = Command::new(env!("CARGO_BIN_EXE_storehub"))
        .arg("--config")
        .arg(etc.join("storehub.toml"))
        .arg("provision")
        .env_remove("STOREHUB_CONFIG")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let mut reader = std::fs::File::from(master.try_clone().unwrap());
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut writer = std::fs::File::from(master);
    let mut answered = 0;
    let data_text = data.display().to_string();
    let steps: [(&str, &str); 15] = [
        ("chain id:", "huamei"),
        ("store id:", "sh-xuhui-001"),
        ("hub id [hub-1]:", ""),
        ("store name [", ""),
        ("HQ broker URL:", "mqtts://mqtt.huamei.example.cn"),
        ("auth [password]:", ""),
        ("broker user [hub-1]:", ""),
        ("broker password:", "secret-broker-pw"),
        ("HQ CA file (optional)", ""),
        ("HQ command key (optional)", ""),
        ("admin id [admin]:", ""),
        ("admin password:", ADMIN_PW),
        ("admin password again:", ADMIN_PW),
        ("data dir [", &data_text),
        ("web listen address [", "127.0.0.1:18083"),
    ];
    for (prompt, answer) in steps {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = seen.lock().unwrap().clone();
            if text.matches(prompt).count() > 0 && text.rfind(prompt).unwrap() >= answered {
                answered = text.len();
                break;
            }
            assert!(Instant::now() < deadline, "no prompt {prompt:?}; the terminal shows:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
        writer.write_all(format!("{answer}\r").as_bytes()).unwrap();
    }
    let status = child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let screen = seen.lock().unwrap().clone();
    assert!(status.success(), "{screen}");
    assert!(screen.contains("开通完成 / provisioning done"), "{screen}");
    assert!(screen.contains("mqtts://mqtt.huamei.example.cn"), "typed answers are echoed: {screen}");
    assert!(!screen.contains("secret-broker-pw") && !screen.contains(ADMIN_PW), "a password was echoed:\n{screen}");
    let cfg = load_provisioned(&etc.join("storehub.toml"));
    assert_eq!(cfg.mqtt.password.as_ref().unwrap().expose(), "secret-broker-pw");
}
