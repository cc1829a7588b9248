//! A damaged database: sled's files truncated and bytes flipped after acknowledged commits. The
//! daemon must refuse to start with the documented message, `storehub recover --dry-run` must
//! change nothing, `storehub recover` must bring back every acknowledged commit from the newest
//! snapshot plus the journal, and `storehub verify` must pass.

mod common;

use std::path::Path;
use std::process::Output;

use storehub::catalog::{self, Product, Unit};
use storehub::domain::stock::MoveKind;
use storehub::inventory::{self, NewMove};
use storehub::store::{db_path, Durability, Store, StoreOptions};

fn storehub(args: &[&str]) -> Output {
    common::storehub_cmd(args)
}

fn open(dir: &Path) -> Store {
    Store::open(StoreOptions {
        path: dir.to_path_buf(),
        durability: Durability::Durable,
        relaxed_flush_ms: 200,
        source: Some("/storehub/test/recover/hub-1".into()),
        clock: storehub::clock::system(),
    })
    .expect("open store")
}

fn product(sku: &str) -> Product {
    Product {
        sku: sku.into(),
        barcodes: vec![],
        name_zh: "矿泉水".into(),
        name_en: "Water".into(),
        category: "饮料".into(),
        unit: Unit::Piece,
        price_fen: 200,
        member_price_fen: None,
        cost_fen: Some(150),
        tax_bp: 1300,
        supplier: None,
        reorder_point: Some(10),
        active: true,
    }
}

fn sell(store: &Store, sku: &str, kind: MoveKind, qty: i64) -> inventory::StockMove {
    let m = NewMove { sku: sku.into(), kind, qty, reason: "test".into(), user: "t".into(), reference: None };
    inventory::move_stock(store, &m).expect("move")
}

/// Overwrites sled's files with damage: every file under db/ truncated to a third, and bytes
/// flipped every 997 bytes of what is left.
fn damage(dir: &Path) {
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&db_path(dir), &mut files);
    for f in files {
        let mut bytes = std::fs::read(&f).unwrap();
        bytes.truncate(bytes.len() / 3);
        for i in (0..bytes.len()).step_by(997) {
            bytes[i] ^= 0x5a;
        }
        std::fs::write(&f, bytes).unwrap();
    }
}

#[test]
fn a_damaged_database_is_refused_then_recovered_from_snapshot_and_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let d = dir.to_str().unwrap();

    // Morning: 3 products, 120 acknowledged moves, a snapshot, then 180 more moves.
    let mut acked = Vec::new();
    {
        let store = open(&dir);
        let ps: Vec<Product> = ["W-1", "W-2", "W-3"].iter().map(|s| product(s)).collect();
        catalog::upsert_products(&store, &ps, 10, |_| {}).unwrap();
        for i in 0..120 {
            let sku = ps[i % 3].sku.as_str();
            acked.push(sell(&store, sku, if i % 4 == 0 { MoveKind::Receipt } else { MoveKind::Sale }, 1 + (i as i64 % 5)));
        }
        let snap = store.snapshot(4).unwrap();
        assert!(snap.journal_seq > 0);
        for i in 0..180 {
            let sku = ps[i % 3].sku.as_str();
            acked.push(sell(&store, sku, if i % 3 == 0 { MoveKind::Receipt } else { MoveKind::Sale }, 2));
        }
        store.checkpoint().unwrap();
    }

    damage(&dir);

    // The daemon refuses to start and says what to run.
    let cfg = tmp.path().join("storehub.toml");
    std::fs::write(&cfg, storehub::config::DEMO_TOML).unwrap();
    let run = storehub(&["--config", cfg.to_str().unwrap(), "--data-dir", d, "run"]);
    assert_eq!(run.status.code(), Some(78), "stderr: {}", String::from_utf8_lossy(&run.stderr));
    let msg = String::from_utf8_lossy(&run.stderr);
    assert!(msg.contains(&format!("database in {d}")), "{msg}");
    assert!(msg.contains(&format!("run `storehub --data-dir {d} recover` (it keeps the damaged copy)")), "{msg}");

    // A dry run changes nothing.
    let before: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let dry = storehub(&["--data-dir", d, "recover", "--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["plan"]["journal_records"], 180, "the 180 moves after the snapshot");
    let after: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "dry run must not touch the data dir");

    // Recover.
    let rec = storehub(&["--data-dir", d, "recover"]);
    assert!(rec.status.success(), "{}", String::from_utf8_lossy(&rec.stderr));
    let report: serde_json::Value = serde_json::from_slice(&rec.stdout).unwrap();
    assert_eq!(report["journal_records_reapplied"], 180);
    assert_eq!(report["stock_moves"], 300);
    assert_eq!(report["verify"]["violations"].as_array().unwrap().len(), 0);
    let aside = report["damaged_database_kept_at"].as_str().unwrap();
    assert!(Path::new(aside).exists(), "the damaged database is kept, not deleted");

    // verify passes on its own, and every acknowledged move is back, unchanged.
    let v = storehub(&["--data-dir", d, "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let store = open(&dir);
    let moves = inventory::all_moves(&store).unwrap();
    assert_eq!(moves.len(), acked.len());
    for (got, want) in moves.iter().zip(&acked) {
        assert_eq!(got, want, "move {} differs after recovery", want.id);
    }
    common::assert_ledger_consistent(&store, "after recovery");
}

#[test]
fn verify_names_each_violation_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    {
        let store = open(&dir);
        catalog::upsert_products(&store, &[product("W-1")], 10, |_| {}).unwrap();
        sell(&store, "W-1", MoveKind::Receipt, 10);
        sell(&store, "W-1", MoveKind::Sale, 3);
    }
    let ok = storehub(&["--data-dir", dir.to_str().unwrap(), "verify"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

    // Tamper with the stock level behind the ledger's back (as a bug or a bad disk would).
    {
        let db = storehub::store::sled_config(&db_path(&dir)).open().unwrap();
        let stock = db.open_tree("stock").unwrap();
        let level = inventory::StockLevel { sku: "W-1".into(), on_hand: 99, last_move: 2 };
        stock.insert("W-1", storehub::store::codec::encode(&level).unwrap()).unwrap();
        db.flush().unwrap();
    }
    let bad = storehub(&["--data-dir", dir.to_str().unwrap(), "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains("stock W-1: on-hand 99 but its moves sum to 7"), "{out}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("verify found"), "{}", String::from_utf8_lossy(&bad.stderr));
}
