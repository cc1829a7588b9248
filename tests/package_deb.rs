//! The .deb on this machine, for real (root only; skipped with a message otherwise): build it
//! with scripts/package-deb.sh (the dev-profile binary, see docs/packaging.md), `dpkg -i`,
//! `/usr/bin/storehub version`, `systemd-analyze verify` of the installed unit, the `storehub`
//! user and its groups, `storehub provision` as root handing the data dir to that user, an upgrade to a second package version taking its pre-upgrade backup,
//! then `dpkg --purge` removing /etc/storehub and keeping /var/lib/storehub. The machine is left
//! as it was: package purged, data dir, user and the groups the package created removed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a command; (success, stdout + stderr).
fn run(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).env("DEBIAN_FRONTEND", "noninteractive").output().unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn must(cmd: &str, args: &[&str]) -> String {
    let (ok, out) = run(cmd, args);
    assert!(ok, "{cmd} {args:?} failed:\n{out}");
    out
}

fn exists(db: &str, name: &str) -> bool {
    run("getent", &[db, name]).0
}

/// Why this machine cannot take the test, if it cannot.
fn unsuitable() -> Option<String> {
    if !nix_is_root() {
        return Some("not root: installing a .deb needs root (CI and the test command run as root)".into());
    }
    for tool in ["dpkg", "dpkg-deb", "systemd-analyze", "adduser"] {
        if !run("sh", &["-c", &format!("command -v {tool}")]).0 {
            return Some(format!("{tool} is missing: this test needs a Debian system"));
        }
    }
    if run("dpkg-query", &["-W", "-f=${Status}", "storehub"]).1.contains("installed") {
        return Some("a storehub package is installed on this machine; the test would replace and purge it".into());
    }
    for (db, name) in [("passwd", "storehub"), ("group", "storehub")] {
        if exists(db, name) {
            return Some(format!("{db} entry {name} already exists; the test would delete it afterwards"));
        }
    }
    for dir in ["/etc/storehub", "/var/lib/storehub"] {
        if Path::new(dir).exists() {
            return Some(format!("{dir} exists; the test would delete it afterwards"));
        }
    }
    None
}

fn nix_is_root() -> bool {
    run("id", &["-u"]).1.trim() == "0"
}

/// Puts the machine back however the test ends: purges the package, deletes the data dir, the
/// user, its group and the gpio group when the package created it.
struct Restore {
    had_gpio: bool,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = run("dpkg", &["--purge", "storehub"]);
        let _ = std::fs::remove_dir_all("/var/lib/storehub");
        let _ = std::fs::remove_dir_all("/etc/storehub");
        if exists("passwd", "storehub") {
            let _ = run("userdel", &["storehub"]);
        }
        if exists("group", "storehub") {
            let _ = run("groupdel", &["storehub"]);
        }
        if !self.had_gpio && exists("group", "gpio") {
            let _ = run("groupdel", &["gpio"]);
        }
    }
}

/// scripts/package-deb.sh --dev --no-build at `version`, into `out`: the .deb's path.
fn package(version: &str, out: &Path) -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/package-deb.sh");
    let built = Command::new("bash").args([script, "--dev", "--no-build", "--deb-version", version, "--output", out.to_str().unwrap()]).output().expect("run package-deb.sh");
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "package-deb.sh failed:\n{stderr}");
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert!(deb.is_file(), "package-deb.sh printed {deb:?}, no file:\n{stderr}");
    deb
}

#[test]
fn the_deb_installs_upgrades_with_a_backup_and_purges_keeping_data() {
    if let Some(why) = unsuitable() {
        eprintln!("SKIPPED package_deb: {why}");
        return;
    }
    // The binary the package takes must be this build's: the one cargo built for these tests.
    assert!(Path::new(env!("CARGO_BIN_EXE_storehub")).is_file());
    let _restore = Restore { had_gpio: exists("group", "gpio") };
    let tmp = tempfile::tempdir().expect("temp dir");
    let v1 = package("0.1.0-1", &tmp.path().join("v1"));
    let v2 = package("0.1.0-2", &tmp.path().join("v2"));
    let arch = must("dpkg", &["--print-architecture"]);
    assert_eq!(v1.file_name().and_then(|n| n.to_str()), Some(format!("storehub_0.1.0-1_{}.deb", arch.trim()).as_str()));

    // Install. No systemd runs here (a container): the postinst says so and starts nothing.
    let installed = must("dpkg", &["-i", v1.to_str().unwrap()]);
    assert!(installed.contains("not started") || installed.contains("systemd is not running"), "{installed}");
    let version = must("/usr/bin/storehub", &["version"]);
    assert!(version.starts_with(&format!("storehub {}\n", env!("CARGO_PKG_VERSION"))), "{version}");
    // Exit 0, and no remark but, before systemd 254, the two keys of the backoff drop-in it
    // does not know yet (systemd/storehub.service.d/10-restart-backoff.conf says why).
    let verify = must("systemd-analyze", &["verify", "/lib/systemd/system/storehub.service"]);
    let systemd: u32 = must("systemctl", &["--version"]).split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("systemd version");
    let remarks: Vec<&str> = verify
        .lines()
        .filter(|l| !(systemd < 254 && l.contains("10-restart-backoff.conf") && (l.contains("Unknown key 'RestartSteps'") || l.contains("Unknown key 'RestartMaxDelaySec'"))))
        .filter(|l| l.contains("storehub"))
        .collect();
    assert!(remarks.is_empty(), "systemd-analyze verify (systemd {systemd}) had remarks about the unit:\n{verify}");
    for f in ["/lib/udev/rules.d/99-storehub.rules", "/lib/udev/rules.d/98-storehub-usb-provision.rules", "/lib/systemd/system/storehub-usb-provision@.service", "/etc/storehub/storehub.example.toml", "/lib/systemd/system/storehub.service.d/10-restart-backoff.conf", "/usr/share/doc/storehub/packaging.md"] {
        assert!(Path::new(f).is_file(), "{f} not installed");
    }
    let conffiles = must("dpkg-query", &["-W", "-f=${Conffiles}", "storehub"]);
    assert!(conffiles.contains("/etc/storehub/storehub.example.toml"), "{conffiles}");
    // The user, its groups, and who owns what.
    let passwd = must("getent", &["passwd", "storehub"]);
    assert!(passwd.trim_end().ends_with(":/var/lib/storehub:/usr/sbin/nologin"), "{passwd}");
    let groups = must("id", &["-nG", "storehub"]);
    let groups: Vec<&str> = groups.split_whitespace().collect();
    for g in ["storehub", "dialout", "plugdev", "lp", "gpio"] {
        assert!(groups.contains(&g), "storehub is not in {g}: {groups:?}");
    }
    assert_eq!(must("stat", &["-c", "%U:%G %a", "/etc/storehub"]).trim(), "root:storehub 750");
    // The PII key, made by the postinst: 32 bytes the daemon's group may read.
    assert_eq!(must("stat", &["-c", "%U:%G %a %s", "/etc/storehub/pii.key"]).trim(), "root:storehub 640 32");
    assert_eq!(must("stat", &["-c", "%U:%G %a", "/var/lib/storehub"]).trim(), "storehub:storehub 750");
    // Enabled for the next boot, through deb-systemd-helper (no systemd needed for that).
    assert!(Path::new("/etc/systemd/system/multi-user.target.wants/storehub.service").exists(), "not enabled");

    // A technician provisions as root with the user present: the data dir it creates, and the
    // database and admin account in it, are handed to the daemon's user.
    let prov_data = tmp.path().join("provisioned-data");
    let prov_file = tmp.path().join("provision.toml");
    std::fs::write(
        &prov_file,
        format!(
            "[store]\nchain_id = \"huamei\"\nstore_id = \"sh-xuhui-001\"\nhub_id = \"hub-1\"\n\n[hq]\nbroker = \"mqtt://127.0.0.1:1883\"\nauth = \"none\"\n\n[admin]\nid = \"boss\"\npassword = \"correct horse battery\"\n\n[data]\ndir = \"{}\"\n",
            prov_data.display()
        ),
    )
    .unwrap();
    let prov_etc = tmp.path().join("etc");
    let provisioned = must("env", &["STOREHUB_LOG=warn", "/usr/bin/storehub", "--config", prov_etc.join("storehub.toml").to_str().unwrap(), "provision", "--file", prov_file.to_str().unwrap()]);
    assert!(provisioned.contains("hub-1"), "{provisioned}");
    assert!(prov_data.join("db").is_dir(), "{provisioned}");
    assert_eq!(must("find", &[prov_data.to_str().unwrap(), "-not", "-user", "storehub"]).trim(), "", "left to root under the data dir");

    // Some data for the upgrade to keep: a two-product catalog, as the installed binary writes it.
    let csv = tmp.path().join("catalog.csv");
    std::fs::write(
        &csv,
        "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n\
         A-1,6901028075831,可乐,Cola,饮料,piece,300,,,1300,,\n\
         A-2,,富士苹果,Fuji apple,水果,kg,1196,,,900,,\n",
    )
    .unwrap();
    let imported = must("env", &["STOREHUB_DATA_DIR=/var/lib/storehub", "STOREHUB_LOG=warn", "/usr/bin/storehub", "import", "catalog", csv.to_str().unwrap()]);
    assert!(imported.contains("imported 2 products"), "{imported}");

    // Upgrade: the preinst backs up with the old binary before the new files land.
    let upgraded = must("dpkg", &["-i", v2.to_str().unwrap()]);
    assert!(upgraded.contains("pre-upgrade backup of storehub 0.1.0-1 written to /var/lib/storehub/upgrades/pre-upgrade-0.1.0-1-"), "{upgraded}");
    assert_eq!(must("dpkg-query", &["-W", "-f=${Version}", "storehub"]), "0.1.0-2");
    let backups: Vec<PathBuf> = std::fs::read_dir("/var/lib/storehub/upgrades").expect("upgrades dir").map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let name = backups[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("pre-upgrade-0.1.0-1-") && name.ends_with("Z.backup"), "{name}");
    // Everything under the data dir is the daemon's again, and the backup restores the catalog.
    assert_eq!(must("find", &["/var/lib/storehub", "-not", "-user", "storehub"]).trim(), "");
    let restored = tmp.path().join("restored");
    must("/usr/bin/storehub", &["--data-dir", restored.to_str().unwrap(), "restore", backups[0].to_str().unwrap()]);
    let exported = Command::new("/usr/bin/storehub").args(["--data-dir", restored.to_str().unwrap(), "export", "catalog", "--format", "json"]).env("STOREHUB_LOG", "warn").output().expect("export");
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let products: serde_json::Value = serde_json::from_slice(&exported.stdout).expect("catalog JSON");
    assert_eq!(products.as_array().map(|a| a.len()), Some(2), "{products}");

    // Purge: config gone, data kept (and said so), unit no longer enabled.
    let purged = must("dpkg", &["--purge", "storehub"]);
    assert!(purged.contains("kept /var/lib/storehub"), "{purged}");
    assert!(purged.contains("kept /etc/storehub/pii.key"), "{purged}");
    // Only the PII key stays in /etc/storehub, with the data it unlocks.
    let left: Vec<String> = std::fs::read_dir("/etc/storehub").expect("/etc/storehub").map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, vec!["pii.key".to_string()], "purge left more than the key in /etc/storehub");
    assert!(!Path::new("/usr/bin/storehub").exists());
    assert!(Path::new("/var/lib/storehub/db").is_dir(), "purge removed the data");
    assert!(Path::new(&backups[0]).is_file(), "purge removed the pre-upgrade backup");
    assert!(!Path::new("/etc/systemd/system/multi-user.target.wants/storehub.service").exists(), "still enabled after purge");
    assert!(!Path::new("/etc/systemd/system/storehub.service").exists(), "left masked after purge");
}
