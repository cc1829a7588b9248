//! A technician's root shell that opens the database itself (the daemon stopped) must leave
//! nothing the daemon's own user cannot write: the CLI gives every file below the data dir back
//! to the dir's owner on its way out (`store::owner`). Root only (skipped with a message
//! otherwise); `nobody` (uid 65534) stands in for the `storehub` user, and `setpriv` runs the
//! binary as it, as systemd would.

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::process::Command;

use common::*;

const NOBODY: u32 = 65534;

#[test]
fn a_root_shell_opening_the_database_leaves_it_writable_for_the_daemons_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED data_dir_owner: not root (CI and the test command run as root)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = t.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let d = dir.to_str().unwrap();

    // As root, no daemon running: the CLI creates the database (sled's files, the journal).
    let csv = t.path().join("catalog.csv");
    std::fs::write(&csv, "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\nA-1,6901028075831,可乐,Cola,饮料,piece,300,,,1300,,\n").unwrap();
    let imported = storehub_cmd(&["--data-dir", d, "import", "catalog", csv.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(dir.join("db").is_dir());
    let mut not_given: Vec<String> = Vec::new();
    let mut walk = vec![dir.clone()];
    while let Some(p) = walk.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let path = e.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            if (m.uid(), m.gid()) != (NOBODY, NOBODY) {
                not_given.push(format!("{} ({}:{})", path.display(), m.uid(), m.gid()));
            }
            if m.is_dir() {
                walk.push(path);
            }
        }
    }
    assert!(not_given.is_empty(), "left to another owner: {not_given:?}");

    // The daemon's user opens and writes it (a stock move is a durable commit).
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", env!("CARGO_BIN_EXE_storehub"), "--data-dir", d])
            .args(args)
            .env("STOREHUB_LOG", "warn")
            .env_remove("STOREHUB_CONFIG")
            .output()
            .expect("setpriv (util-linux)")
    };
    let moved = as_nobody(&["stock", "move", "A-1", "5", "--kind", "receipt", "--user", "wang"]);
    assert!(moved.status.success(), "the daemon's user cannot write what root left: {}", stderr(&moved));
    let shown = as_nobody(&["stock", "show", "A-1"]);
    assert!(shown.status.success() && String::from_utf8_lossy(&shown.stdout).contains("\"on_hand\": 5"), "{}{}", String::from_utf8_lossy(&shown.stdout), stderr(&shown));
}
