//! An upgrade at the store level and its rollback, on a real shop's database of the previous
//! schema: tests/fixtures/upgrade/schema2-demo-shop.backup (made by main's binary at schema 2;
//! its README says how). Restored, then opened by this build's `storehub verify` (which migrates
//! it to this build's SCHEMA_VERSION): every sale, return, stock move and ledger entry is there,
//! unchanged, and verify is clean. Then `storehub rollback` puts the backup back over a database
//! that has moved on, and the audit log says so. What the .deb does around it (the preinst's
//! backup) is tests/package_deb.rs.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{open_raw_sled, retry_while_locked, storehub_cmd, stderr};
use serde::{Deserialize, Serialize};
use storehub::audit::{AuditAction, AuditFilter};
use storehub::store::{codec, db_path, Record, SCHEMA_VERSION};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upgrade/schema2-demo-shop.backup");

/// Trees whose every entry must come through an upgrade byte for byte: money and stock.
const UNCHANGED: [&str; 6] = ["sales", "returns", "moves", "stock", "points_ledger", "stored_value"];
/// Trees whose every entry must still be there (a migration may re-encode members' records,
/// e.g. to encrypt personal data, so only the keys are compared).
const PRESENT: [&str; 4] = ["members", "member_ledger", "coupons", "outbox"];

type Trees = BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>;

/// The trees of `UNCHANGED` and `PRESENT`, read with sled directly (no migration, no replay).
fn read_trees(data: &Path) -> Trees {
    let db = open_raw_sled(&db_path(data));
    let mut out = Trees::new();
    for name in UNCHANGED.iter().chain(PRESENT.iter()) {
        let tree = db.open_tree(name).expect("tree");
        out.insert(name, tree.iter().map(|kv| kv.expect("entry")).map(|(k, v)| (k.to_vec(), v.to_vec())).collect());
    }
    out
}

#[derive(Serialize, Deserialize)]
struct SchemaVersion(u32);
impl Record for SchemaVersion {
    const NAME: &'static str = "schema version";
}

fn schema_of(data: &Path) -> u32 {
    let db = open_raw_sled(&db_path(data));
    let raw = db.open_tree("meta").expect("meta").get(b"schema_version").expect("read").expect("a schema version");
    codec::decode::<SchemaVersion>(&raw).expect("decode").0
}

fn restore_fixture(data: &Path) {
    let mut f = std::fs::File::open(FIXTURE).expect("fixture");
    let summary = storehub::store::backup::restore(data, &mut f, false).expect("restore the fixture");
    // As the README says it was made: 3914 entries at schema 2.
    assert_eq!((summary.entries, summary.schema_version), (3914, 2));
}

/// `storehub --data-dir DATA verify` by this build: its JSON report, which must list no violation.
fn verify_clean(data: &Path) -> serde_json::Value {
    let out = storehub_cmd(&["--data-dir", data.to_str().unwrap(), "verify"]);
    assert!(out.status.success(), "verify failed: {}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verify JSON");
    assert_eq!(report["violations"], serde_json::json!([]), "{report}");
    report
}

/// Every entry of `before` is in `after`: byte for byte in the `UNCHANGED` trees, by key in the others.
fn assert_kept(before: &Trees, after: &Trees) {
    for name in UNCHANGED {
        for (k, v) in &before[name] {
            assert_eq!(after[name].get(k), Some(v), "{name} entry {k:?} lost or changed by the upgrade");
        }
    }
    for name in PRESENT {
        for k in before[name].keys() {
            assert!(after[name].contains_key(k), "{name} entry {k:?} lost by the upgrade");
        }
    }
}

#[test]
fn a_schema_2_shop_opens_in_this_build_with_every_sale_and_ledger_entry() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    restore_fixture(&data);
    let before = read_trees(&data);
    // The fixture's README: 131 sales, 5 returns, 60 members; points earned and redeemed.
    assert_eq!((before["sales"].len(), before["returns"].len(), before["members"].len()), (131, 5, 60));
    assert!(!before["points_ledger"].is_empty() && !before["moves"].is_empty(), "the fixture lost its ledgers");
    assert_eq!(schema_of(&data), 2);

    let report = verify_clean(&data);
    assert_eq!((report["sales"].as_u64(), report["members"].as_u64()), (Some(131), Some(60)), "{report}");
    assert_eq!(schema_of(&data), SCHEMA_VERSION, "opening did not migrate to this build's schema");
    assert_kept(&before, &read_trees(&data));
}

#[test]
fn rollback_puts_the_pre_upgrade_backup_back_and_audits_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    restore_fixture(&data);
    let before = read_trees(&data);
    verify_clean(&data);
    // The preinst's backups: the fixture as version 0.1.0-1's, an older one of 0.0.9-1 (any
    // bytes: it must not be chosen).
    let upgrades = data.join("upgrades");
    std::fs::create_dir_all(&upgrades).unwrap();
    std::fs::copy(FIXTURE, upgrades.join("pre-upgrade-0.1.0-1-20261126T080000Z.backup")).unwrap();
    std::fs::write(upgrades.join("pre-upgrade-0.0.9-1-20261120T080000Z.backup"), b"not a backup").unwrap();
    // After the upgrade the shop went on: a product added.
    let csv = tmp.path().join("new.csv");
    std::fs::write(&csv, "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\nNEW-1,,新品,New thing,饮料,piece,500,,,1300,,\n").unwrap();
    let d = data.to_str().unwrap();
    let out = storehub_cmd(&["--data-dir", d, "import", "catalog", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A version with no backup is refused, naming the ones there are.
    let none = storehub_cmd(&["--data-dir", d, "rollback", "--for-version", "0.0.8-1"]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    assert!(stderr(&none).contains("no pre-upgrade backup of version 0.0.8-1 in") && stderr(&none).contains("(there are backups of: 0.0.9-1, 0.1.0-1)"), "{}", stderr(&none));

    let out = storehub_cmd(&["--data-dir", d, "rollback", "--for-version", "0.1.0-1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("pre-upgrade-0.1.0-1-20261126T080000Z.backup (3914 entries, schema 2)"), "{}", stderr(&out));
    // The database the rollback replaced is kept aside.
    let aside: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("db.replaced-")).collect();
    assert_eq!(aside.len(), 1, "{aside:?}");

    // NEW-1 is gone, every sale and ledger entry of the backup is back, verify is clean.
    let exported = storehub_cmd(&["--data-dir", d, "export", "catalog", "--format", "json"]);
    let products: serde_json::Value = serde_json::from_slice(&exported.stdout).expect("catalog JSON");
    assert!(products.as_array().expect("list").iter().all(|p| p["sku"] != "NEW-1"), "the product added after the upgrade survived the rollback");
    assert_kept(&before, &read_trees(&data));
    verify_clean(&data);

    // The audit log: one RolledBack by `cli`, naming the backup file (no personal data).
    let clock = storehub::clock::ManualClock::new(common::opening_time());
    let store = retry_while_locked(|| storehub::store::Store::open(common::options(&data, &clock, storehub::store::Durability::Durable))).expect("open");
    let entries = storehub::audit::list(&store, &AuditFilter { action: Some(AuditAction::RolledBack), ..Default::default() }).expect("audit");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].actor.as_str(), entries[0].subject.as_deref()), ("cli", Some("pre-upgrade-0.1.0-1-20261126T080000Z.backup")));
    assert!(entries[0].detail.starts_with("restored 3914 entries, schema 2, made "), "{}", entries[0].detail);
}

#[test]
fn the_daemon_refuses_a_database_of_a_newer_schema_with_exit_78() {
    // A box rolled back to this build without its database: the database says schema
    // SCHEMA_VERSION + 1. `storehub run` must not touch it and must exit 78 (EX_CONFIG), which
    // storehub.service does not restart (RestartPreventExitStatus=78).
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    restore_fixture(&data);
    {
        let db = open_raw_sled(&db_path(&data));
        db.open_tree("meta").unwrap().insert(b"schema_version", codec::encode(&SchemaVersion(SCHEMA_VERSION + 1)).unwrap()).unwrap();
        db.flush().unwrap();
    }
    let before = read_trees(&data);
    let cfg = common::hub::config(tmp.path(), "enabled = false", "");
    let d = data.to_str().unwrap();
    let run = storehub_cmd(&["--config", cfg.to_str().unwrap(), "--data-dir", d, "run", "--listen", "127.0.0.1:0"]);
    assert_eq!(run.status.code(), Some(78), "{}", stderr(&run));
    let want = format!(
        "storehub: database in {d} has schema version {}, newer than this build's {SCHEMA_VERSION}; install a newer storehub or restore a backup made by this version",
        SCHEMA_VERSION + 1
    );
    assert!(stderr(&run).lines().any(|l| l == want), "expected the line {want:?} in:\n{}", stderr(&run));
    assert_eq!(schema_of(&data), SCHEMA_VERSION + 1);
    assert_eq!(read_trees(&data), before, "the refused database was changed");
}
