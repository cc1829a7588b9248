//! A day at a lane through the `storehub` CLI (no daemon: every command opens the database, and
//! the cart waits in it between commands): staff, shift, sign-in, scans, payment, receipt,
//! return, sales export.

mod common;

use common::*;

struct Cli {
    _tmp: tempfile::TempDir,
    dir: String,
    config: String,
}

impl Cli {
    fn new() -> Cli {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data").to_str().unwrap().to_string();
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml").to_string();
        Cli { _tmp: tmp, dir, config }
    }

    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["--config", self.config.as_str(), "--data-dir", self.dir.as_str()];
        v.extend_from_slice(rest);
        v
    }

    fn ok(&self, rest: &[&str]) -> serde_json::Value {
        let out = storehub_cmd(&self.args(rest));
        assert!(out.status.success(), "storehub {rest:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    fn text(&self, rest: &[&str]) -> String {
        let out = storehub_cmd(&self.args(rest));
        assert!(out.status.success(), "storehub {rest:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, rest: &[&str]) -> String {
        let out = storehub_cmd(&self.args(rest));
        assert!(!out.status.success(), "storehub {rest:?} should have failed");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn with_stdin(&self, rest: &[&str], stdin: &str) -> std::process::Output {
        storehub_with_stdin(&self.args(rest), stdin)
    }
}

#[test]
fn a_day_at_lane_1_through_the_cli() {
    let cli = Cli::new();
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/catalog.csv");
    cli.ok(&["import", "catalog", catalog]);
    let found = cli.ok(&["search", "怡宝"]);
    assert_eq!(found[0]["sku"], "SKU-010003");
    assert_eq!(cli.ok(&["search", "nongfu spring", "--limit", "1"]).as_array().unwrap().len(), 1);
    let out = cli.with_stdin(&["staff", "add", "wang", "--name", "王芳", "--role", "cashier", "--password-stdin", "--pin-stdin"], "correct horse\n2468\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli.with_stdin(&["staff", "add", "li", "--name", "李经理", "--role", "manager", "--password-stdin"], "correct horse\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    cli.ok(&["shift", "open", "--lane", "lane-1", "--staff", "wang", "--float-fen", "50000"]);
    let promos = cli._tmp.path().join("promos.json");
    std::fs::write(
        &promos,
        r#"[{"id": "P-CESTBON", "name_zh": "怡宝八折", "name_en": "C'estbon 20% off", "window": null, "members_only": false,
             "kind": {"kind": "item_percent", "sku": "SKU-010003", "bp": 2000}}]"#,
    )
    .unwrap();
    let out = storehub_cmd(&cli.args(&["promotions", "import", promos.to_str().unwrap()]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Paying before anyone signs in is refused; a wrong PIN too.
    cli.ok(&["lane", "scan", "lane-1", "6907674936533"]);
    assert!(cli.fails(&["lane", "pay", "lane-1", "--cash", "200"]).contains("no cashier is signed in"));
    let out = cli.with_stdin(&["lane", "sign-in", "lane-1", "wang", "--pin-stdin"], "1357\n");
    assert!(!out.status.success());
    let out = cli.with_stdin(&["lane", "sign-in", "lane-1", "wang", "--pin-stdin"], "2468\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Two more waters merge into line 1; a C'estbon; an unknown code adds nothing.
    cli.ok(&["lane", "scan", "lane-1", "6907674936533"]);
    cli.ok(&["lane", "add", "lane-1", "SKU-010003", "--qty", "2"]);
    let shown = cli.ok(&["lane", "scan", "lane-1", "6900000000014"]);
    assert_eq!(shown["outcome"]["outcome"], "unknown_barcode");
    assert_eq!(shown["cart"]["lines"][0]["qty"]["units"], 2);
    // 2 × ¥2.00 + 2 × ¥2.00 × 80% = ¥4.00 + ¥3.20 = ¥7.20.
    assert_eq!(shown["quote"]["total_fen"], 720);
    assert_eq!(shown["quote"]["lines"][1]["line_discounts"][0]["reason_zh"], "怡宝八折：8折");

    let paid = cli.ok(&["lane", "pay", "lane-1", "--cash", "1000"]);
    assert_eq!(paid["sale"]["settlement"]["change_fen"], 280);
    let receipt = cli.text(&["sale", "show", "1", "--receipt"]);
    assert!(receipt.starts_with("华美超市 徐汇店 (演示)\nlane-1-1 "), "{receipt}");
    assert!(receipt.contains("找零                       ¥2.80"), "{receipt}");
    assert!(receipt.contains("  怡宝八折：8折           -¥0.80"), "{receipt}");

    // The cashier may not take returns; the manager may. One C'estbon back: half of ¥3.20.
    assert!(cli.fails(&["return", "--lane", "lane-1", "--by", "wang", "--sale", "1", "--line", "2:1"]).contains("may not"));
    let back = cli.ok(&["return", "--lane", "lane-1", "--by", "li", "--sale", "1", "--line", "2:1", "--reason", "changed mind"]);
    assert_eq!(back["refund_fen"], 160);
    assert!(cli.fails(&["return", "--lane", "lane-1", "--by", "li", "--sale", "1", "--line", "two"]).contains("expected LINE:QTY"));

    let csv = cli.text(&["export", "sales"]);
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("sale_id,time,lane,cashier,member_ref,lines,discount_fen,total_fen,tenders,points_earned,points_redeemed,returned"));
    let row = rows.next().unwrap();
    assert!(row.starts_with("1,2026-") || row.starts_with("1,20"), "{row}");
    assert!(row.ends_with(",lane-1,wang,,2,80,720,cash:720,0,0,160"), "{row}");
    // A member: registered at the desk, shown at the lane, paying part from the card.
    cli.ok(&["member", "add", "--phone", "+86 138-1234-5678", "--name", "张三"]);
    cli.ok(&["member", "topup", "13812345678", "--fen", "50000", "--by", "wang"]);
    let shown = cli.ok(&["lane", "member", "lane-1", "13812345678"]);
    assert_eq!(shown["outcome"]["member"]["phone"], "138****5678");
    cli.ok(&["lane", "add", "lane-1", "SKU-010001", "--qty", "5"]);
    let paid = cli.ok(&["lane", "pay", "lane-1", "--stored-value", "1000"]);
    assert_eq!(paid["sale"]["member_id"], 1);
    // The demo config's member day is Wednesday (×2), so ¥10.00 paid by card earns 0: stored
    // value earns no points.
    assert_eq!(paid["sale"]["points_earned"], 0);
    let m = cli.ok(&["member", "show", "13812345678"]);
    assert!(m.to_string().contains("52000") || m.to_string().contains("\"stored_value_fen\":52000"), "{m}");
    assert!(cli.ok(&["verify"])["violations"].as_array().unwrap().is_empty());
}

#[test]
fn a_managers_price_override_through_the_cli_needs_their_pin_and_is_audited() {
    let cli = Cli::new();
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/catalog.csv");
    cli.ok(&["import", "catalog", catalog]);
    for (id, role, input) in [("wang", "cashier", "correct horse\n2468\n"), ("li", "manager", "correct horse\n1357\n")] {
        let out = cli.with_stdin(&["staff", "add", id, "--role", role, "--password-stdin", "--pin-stdin"], input);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    cli.ok(&["shift", "open", "--lane", "lane-1", "--staff", "wang", "--float-fen", "50000"]);
    let out = cli.with_stdin(&["lane", "sign-in", "lane-1", "wang", "--pin-stdin"], "2468\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    cli.ok(&["lane", "scan", "lane-1", "6907674936533"]);

    let price = |who: &str, pin: &str| cli.with_stdin(&["lane", "price", "lane-1", "1", "150", "--reason", "临期", "--staff", who, "--pin-stdin"], &format!("{pin}\n"));
    let out = price("wang", "2468");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("may not override a price"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = price("li", "0000");
    assert!(!out.status.success(), "a wrong PIN is refused");
    assert!(cli.ok(&["audit", "--action", "price_override"]).as_array().unwrap().is_empty());
    let out = price("li", "1357");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((shown["outcome"]["override"]["by"].as_str(), shown["quote"]["total_fen"].as_i64()), (Some("li"), Some(150)), "{shown}");
    let audited = cli.ok(&["audit", "--action", "price_override"]);
    assert_eq!(audited[0]["actor"], "li", "{audited}");

    let paid = cli.ok(&["lane", "pay", "lane-1", "--cash", "200"]);
    assert_eq!(paid["sale"]["price_overrides"][0]["price_fen"], 150, "{paid}");
    assert_eq!(paid["sale"]["settlement"]["change_fen"], 50);
    assert!(cli.ok(&["verify"])["violations"].as_array().unwrap().is_empty());
}
