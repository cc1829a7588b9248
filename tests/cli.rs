//! The `storehub` binary as a technician uses it: the demo daemon, backups of a running daemon
//! restored to an identical catalog and stock, barcode decoding, imports that refuse bad files,
//! and config errors that stop the program with the file and key named.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::Duration;

mod common;

use common::start_demo;

fn storehub(args: &[&str]) -> Output {
    common::storehub_cmd(args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn demo_stays_up_and_its_backup_restores_to_the_same_catalog_and_stock() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let d = live.to_str().unwrap();
    let mut daemon = start_demo(&live);

    // Stays up.
    std::thread::sleep(Duration::from_secs(2));
    assert!(daemon.0.try_wait().unwrap().is_none(), "demo exited");
    let mode = std::fs::metadata(live.join("control.sock")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "control socket must be owner-only");

    // Works through the daemon while it runs (sled's lock would refuse a second opener).
    let status = storehub(&["--data-dir", d, "status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let status: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["products"], 257);
    assert_eq!(status["pid"], daemon.0.id());
    let mv = storehub(&["--data-dir", d, "stock", "move", "SKU-010001", "5", "--kind", "sale", "--reason", "test"]);
    assert!(mv.status.success(), "{}", stderr(&mv));

    let backup = tmp.path().join("demo.backup");
    let out = storehub(&["--data-dir", d, "backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let catalog_live = stdout(&storehub(&["--data-dir", d, "export", "catalog", "--format", "json"]));
    let stock_live = stdout(&storehub(&["--data-dir", d, "stock", "show"]));
    assert!(stock_live.contains("\"on_hand\": 67"), "72 opening − 5 sold");

    // Restore elsewhere (no daemon there: direct mode) and compare.
    let restored = tmp.path().join("restored");
    let r = restored.to_str().unwrap();
    let out = storehub(&["--data-dir", r, "restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let same = |what: &str, restored: String, live: &str| {
        assert!(live.len() > 10, "{what}: the live export is empty");
        assert!(restored == live, "{what} differs after restore: {} bytes restored, {} live", restored.len(), live.len());
    };
    same("catalog", stdout(&storehub(&["--data-dir", r, "export", "catalog", "--format", "json"])), &catalog_live);
    same("stock", stdout(&storehub(&["--data-dir", r, "stock", "show"])), &stock_live);
    let outbox_live = stdout(&storehub(&["--data-dir", d, "outbox", "stats"]));
    same("outbox", stdout(&storehub(&["--data-dir", r, "outbox", "stats"])), &outbox_live);

    // A second restore into the same dir is refused without --force, accepted with it.
    let again = storehub(&["--data-dir", r, "restore", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("restore refuses to overwrite it. Use --force"), "{}", stderr(&again));
    let forced = storehub(&["--data-dir", r, "restore", "--force", backup.to_str().unwrap()]);
    assert!(forced.status.success(), "{}", stderr(&forced));

    // Restoring into the running daemon's dir is refused.
    let busy = storehub(&["--data-dir", d, "restore", "--force", backup.to_str().unwrap()]);
    assert!(stderr(&busy).contains("stop it before restoring"), "{}", stderr(&busy));
    assert!(daemon.0.try_wait().unwrap().is_none(), "demo must still run");
}

#[test]
fn barcode_decode_prints_one_json_object_or_names_the_fault() {
    let ok = storehub(&["barcode", "decode", "2305000123451"]);
    assert!(ok.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(v["kind"], "price_embedded");
    assert_eq!(v["item_code"], "05000");
    assert_eq!(v["price_fen"], 12345);

    let w = storehub(&["barcode", "decode", "2510001012509"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&w)).unwrap();
    assert_eq!((v["kind"].as_str(), v["weight_g"].as_i64()), (Some("weight_embedded"), Some(1250)));

    let e = storehub(&["barcode", "decode", "6901028075831"]);
    assert_eq!(stdout(&e).trim(), r#"{"kind":"ean13","gtin":"6901028075831"}"#);

    for (code, message) in [
        ("6901028075832", "wrong check digit 2; expected 1"),
        ("690102807583", "wrong check digit"),
        ("6901028", "7 digits is not a barcode length"),
        ("69010280758X1", "character 'X' at position 12 is not a digit"),
    ] {
        let bad = storehub(&["barcode", "decode", code]);
        assert_eq!(bad.status.code(), Some(1), "{code}");
        assert!(stdout(&bad).is_empty());
        assert!(stderr(&bad).contains(message), "{code}: {}", stderr(&bad));
    }
}

#[test]
fn a_bad_catalog_file_is_reported_by_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    let good = tmp.path().join("good.csv");
    std::fs::write(
        &good,
        "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n\
         A-1,6901028075831,可口可乐 330ml,Coca-Cola 330ml,饮料,piece,300,280,200,1300,华东饮料批发,12\n\
         A-2,10001,富士苹果,Fuji apple,水果,kg,1196,,,900,本地果蔬合作社,5000\n",
    )
    .unwrap();
    let out = storehub(&["--data-dir", d, "import", "catalog", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("imported 2 products"), "{}", stderr(&out));

    let bad = tmp.path().join("bad.csv");
    std::fs::write(
        &bad,
        "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n\
         B-1,6901234567892,好丽友派,Orion pie,零食,piece,1290,,,1300,,\n\
         B-2,6901028075832,雪碧,Sprite,饮料,piece,300,,,1300,,\n\
         B-3,,大米,Rice,粮油,box,12.5,,,1300,,\n",
    )
    .unwrap();
    let out = storehub(&["--data-dir", d, "import", "catalog", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("bad.csv:3: barcodes:"), "{err}");
    assert!(err.contains("bad.csv:4: unit: expected piece or kg, got \"box\""), "{err}");
    assert!(err.contains("bad.csv:4: price_fen:"), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    let exported = stdout(&storehub(&["--data-dir", d, "export", "catalog", "--format", "json"]));
    let products: serde_json::Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(products.as_array().unwrap().len(), 2, "B-1 must not have been written");

    // A barcode already owned by another product in the store: refused before writing.
    let clash = tmp.path().join("clash.csv");
    std::fs::write(
        &clash,
        "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n\
         C-1,6901234567892,好丽友派,Orion pie,零食,piece,1290,,,1300,,\n\
         C-2,6901028075831,可乐,Cola,饮料,piece,300,,,1300,,\n",
    )
    .unwrap();
    let out = storehub(&["--data-dir", d, "import", "catalog", clash.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("barcode 6901028075831 of sku C-2 already belongs to sku A-1"), "{}", stderr(&out));
    let exported = stdout(&storehub(&["--data-dir", d, "export", "catalog", "--format", "json"]));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&exported).unwrap().as_array().unwrap().len(), 2);
}

#[test]
fn a_bad_config_stops_the_daemon_with_the_file_and_key_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("storehub.toml");
    let text = storehub::config::DEMO_TOML.replace("durability = \"durable\"", "durability = \"fast\"");
    std::fs::write(&cfg, text).unwrap();
    let out = storehub(&["--config", cfg.to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG, so systemd does not restart it");
    let line = format!(
        "storehub: {}:16: [data].durability: expected \"durable\" or \"relaxed\", got \"fast\"",
        cfg.display()
    );
    assert_eq!(stderr(&out).trim(), line);
}

#[test]
fn data_dir_comes_from_flag_or_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("env-dir");
    let out = Command::new(env!("CARGO_BIN_EXE_storehub"))
        .args(["stock", "move", "NOPE", "1", "--kind", "receipt"])
        .env("STOREHUB_DATA_DIR", &d)
        .env("STOREHUB_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown sku NOPE"), "{}", stderr(&out));
    assert!(d.join("db").exists(), "STOREHUB_DATA_DIR must choose the data dir");

    let none = storehub(&["stock", "show"]);
    assert_eq!(none.status.code(), Some(78));
    assert!(stderr(&none).contains("no data dir: pass --data-dir DIR, set STOREHUB_DATA_DIR"), "{}", stderr(&none));
}
