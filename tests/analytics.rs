//! Member analytics through the CLI: `storehub import transactions` (a good file stored and
//! reported; a bad file names file, line and column and stores nothing) and `storehub analytics
//! members` CSV and JSON rows for four members with known histories, checked against values
//! worked out by hand in the comments (as of 2026-06-30, default `[analytics]` rules).

mod common;

use common::*;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: std::process::Output) -> String {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn json(o: std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

#[test]
fn imported_history_gives_hand_computed_rfm_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("shop");
    let d = d.to_str().unwrap();
    let mut cards = Vec::new();
    for (phone, name) in [("13800000001", "甲"), ("13800000002", "乙"), ("13800000003", "丙"), ("13800000004", "丁")] {
        let m = json(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", phone, "--name", name]));
        cards.push(m["card_number"].as_str().unwrap().to_string());
    }

    // Member 1 by phone, 2 by card, 3 by id. Member 1 buys twice on 06-20 (one occasion of 800)
    // and once after the analysis date (left out).
    let good = format!(
        "member_ref,date,amount_fen,category\n\
         13800000001,2026-05-01,1000,milk\n\
         13800000001,2026-06-01,1000,milk\n\
         13800000001,2026-06-20,500,milk\n\
         138-0000-0001,2026-06-20T10:00:00+08:00,300,bread\n\
         13800000001,2026-07-05,9999,milk\n\
         {c2},2025-09-01,5000,rice\n\
         {c2},2025-10-01,5000,rice\n\
         {c2},2025-10-31,5000,rice\n\
         {c2},2025-12-01,5000,rice\n\
         3,2026-06-25,200,milk\n",
        c2 = cards[1]
    );
    let good_path = tmp.path().join("history.csv");
    std::fs::write(&good_path, good).unwrap();
    let summary = json(storehub_cmd(&["--data-dir", d, "import", "transactions", good_path.to_str().unwrap()]));
    assert_eq!((summary["rows"].as_u64(), summary["members"].as_u64()), (Some(10), Some(3)), "{summary}");
    assert_eq!(summary["amount_fen"].as_i64(), Some(1000 + 1000 + 500 + 300 + 9999 + 20_000 + 200));

    // Without --count-for-tiers the member's visits and spend stay as they were.
    let shown = json(storehub_cmd(&["--data-dir", d, "member", "show", "13800000001"]));
    assert_eq!((shown["visits"].as_u64(), shown["spend_fen"].as_i64()), (Some(0), Some(0)));

    // A format error on line 4: named with its column; the good rows for member 4 are not stored.
    let bad = "member_ref,date,amount_fen\n4,2026-06-01,100\n4,2026-06-02,100\n4,2026-02-30,100\n";
    let bad_path = tmp.path().join("bad.csv");
    std::fs::write(&bad_path, bad).unwrap();
    let o = storehub_cmd(&["--data-dir", d, "import", "transactions", bad_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let msg = stderr(&o);
    assert!(msg.contains("bad.csv:4: date: expected YYYY-MM-DD or an RFC 3339 time, got \"2026-02-30\""), "{msg}");
    assert!(msg.contains("nothing imported"), "{msg}");
    // An unknown member on line 4, found against the store: likewise nothing stored.
    let unknown = "member_ref,date,amount_fen\n4,2026-06-01,100\n4,2026-06-02,100\n13900000009,2026-06-03,100\n";
    std::fs::write(&bad_path, unknown).unwrap();
    let o = storehub_cmd(&["--data-dir", d, "import", "transactions", bad_path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let msg = stderr(&o);
    assert!(msg.contains("bad.csv:4: member_ref: no member has phone, card or id \"13900000009\""), "{msg}");

    // Window 2025-07-01..=2026-06-30. Occasions: m1 05-01 1000, 06-01 1000, 06-20 800;
    // m2 09-01, 10-01, 10-31, 12-01 (5000 each); m3 06-25 200; m4 none.
    // Days since last: m1 10, m2 211, m3 5 → recency keys sorted −211, −10, −5 → r = 2, 1, 4
    // (1 + ⌊5·lo/3⌋ with lo = 1, 0, 2). Occasions 3, 4, 1 → f = 2, 4, 1. Spend 2800, 20000, 200
    // → m = 2, 4, 1. Segments (high = ≥ 3): m1 (2,2,2) hibernating, m2 (1,4,4) cant_lose_them,
    // m3 (4,1,1) promising.
    // m2: dormant (211 ≥ 60), natural; churn: recent period from 04-02 has 0 occasions, earlier
    // 213 days with 4 → 0 < 0.5·rate → churn_warning. Rice gaps 30, 30, 31 → median 30, expected
    // 12-31 → due. m3: first occasion 5 days ago → new; milk (1 occasion) takes the category
    // median of m1's gaps 31, 19 → 25: expected 07-20, not due. m1: own milk median 25 →
    // expected 07-15, reminder from 07-12: not due.
    let out = json(storehub_cmd(&["--data-dir", d, "analytics", "members", "--as-of", "2026-06-30", "--format", "json"]));
    let rows = out.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let row = |i: usize| &rows[i];
    let brief = |i: usize| {
        let r = row(i);
        (
            r["frequency"].as_u64(),
            r["recency"].as_i64(),
            r["T"].as_i64(),
            r["monetary_fen"].as_i64(),
            r["days_since_last"].as_i64(),
            (r["r"].as_u64(), r["f"].as_u64(), r["m"].as_u64()),
            r["segment"].as_str().map(str::to_string),
        )
    };
    assert_eq!(brief(0), (Some(2), Some(50), Some(60), Some(2800), Some(10), (Some(2), Some(2), Some(2)), Some("hibernating".into())));
    assert_eq!(brief(1), (Some(3), Some(91), Some(302), Some(20_000), Some(211), (Some(1), Some(4), Some(4)), Some("cant_lose_them".into())));
    assert_eq!(brief(2), (Some(0), Some(0), Some(5), Some(200), Some(5), (Some(4), Some(1), Some(1)), Some("promising".into())));
    assert_eq!(brief(3), (Some(0), Some(0), Some(0), Some(0), None, (None, None, None), None));
    assert_eq!(row(1)["segment_zh"], "重要保持");
    assert_eq!(row(1)["tags"], serde_json::json!(["churn_warning"]));
    assert_eq!((row(1)["dormant"].as_bool(), row(1)["dormant_reason"].as_str()), (Some(true), Some("natural")));
    assert_eq!(row(1)["repurchase_due"], serde_json::json!(["rice"]));
    assert_eq!(row(2)["tags"], serde_json::json!(["new"]));
    assert_eq!(row(0)["tags"], serde_json::json!([]));
    assert_eq!(row(0)["repurchase_due"], serde_json::json!([]));
    assert_eq!((row(0)["dormant"].as_bool(), row(3)["dormant"].as_bool()), (Some(false), Some(false)));
    assert_eq!(row(1)["member_ref"].as_str(), Some(cards[1].as_str()));

    let csv = ok(storehub_cmd(&["--data-dir", d, "analytics", "members", "--as-of", "2026-06-30"]));
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("member_ref,member_id,frequency,recency,T,monetary_fen,"), "{}", lines[0]);
    // The RFM columns, then the model columns (p_alive, expected purchases, expected spend: the
    // BG/NBD fit on three buyers is checked in the next test, not pinned here), then as_of.
    let prefix = format!("{},2,3,91,302,20000,4,211,1,4,4,cant_lose_them,重要保持,churn_warning,true,natural,rice,", cards[1]);
    assert!(lines[2].starts_with(&prefix) && lines[2].ends_with(",2026-06-30"), "{}", lines[2]);
    assert_eq!(lines[2].split(',').count(), 21, "{}", lines[2]);
    // Never bought: no model columns.
    assert_eq!(lines[4], format!("{},4,0,0,0,0,0,,,,,,,,false,,,,,,2026-06-30", cards[3]));
}

#[test]
fn count_for_tiers_adds_the_rows_to_visits_and_spend() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("shop");
    let d = d.to_str().unwrap();
    ok(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13800000001", "--name", "甲"]));
    let path = tmp.path().join("h.csv");
    let rows = "member_ref,date,amount_fen\n1,2026-06-01,1000\n1,2026-06-01,500\n1,2026-06-10T02:00:00Z,250\n";
    std::fs::write(&path, rows).unwrap();
    let p = path.to_str().unwrap();
    ok(storehub_cmd(&["--data-dir", d, "import", "transactions", p, "--count-for-tiers"]));
    let shown = json(storehub_cmd(&["--data-dir", d, "member", "show", "13800000001"]));
    // Three rows: three visits, ¥17.50; the last purchase is the RFC 3339 one.
    assert_eq!((shown["visits"].as_u64(), shown["spend_fen"].as_i64()), (Some(3), Some(1750)), "{shown}");
    assert_eq!(shown["last_purchase_at"], "2026-06-10T02:00:00Z");
}

/// The benchmark: `STOREHUB_BENCH_MEMBERS=100000 cargo test --release --test analytics --
/// --ignored --nocapture` (default 10,000 members, two years of history each).
#[test]
#[ignore]
fn bench_member_analytics() {
    use storehub::store::{Durability, Store, StoreOptions};
    let n: usize = std::env::var("STOREHUB_BENCH_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(StoreOptions {
        path: tmp.path().join("db"),
        durability: Durability::Relaxed,
        relaxed_flush_ms: 200,
        source: None,
        clock: storehub::clock::system(),
    })
    .unwrap();
    let config = storehub::config::Config::demo().unwrap();
    let rules = storehub::members::LoyaltyRules::for_shop(&config);
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let t = std::time::Instant::now();
    let built = storehub::bench::analytics::build_members(&store, n, as_of, &rules).unwrap();
    eprintln!("built {} members, {} purchases in {:.1?}", built.members, built.purchases, t.elapsed());
    let params = storehub::domain::rfm::RfmParams::default();
    for _ in 0..2 {
        let scan = storehub::bench::analytics::bare_scan(&store, &storehub::bench::analytics::ANALYTICS_TREES).unwrap();
        eprintln!("bare sled scan: {} records, {} bytes in {:.2?}", scan.records, scan.bytes, scan.took);
    }
    let t = std::time::Instant::now();
    let h = storehub::members::history::member_histories(&store, config.timezone(), as_of).unwrap();
    eprintln!("history read: {} members in {:.2?}", h.len(), t.elapsed());
    let t = std::time::Instant::now();
    let all = storehub::members::all_members(&store).unwrap();
    eprintln!("all members: {} in {:.2?}", all.len(), t.elapsed());
    let t = std::time::Instant::now();
    let occ: Vec<Vec<storehub::domain::rfm::Occasion>> =
        h.into_values().map(|h| storehub::domain::rfm::occasions(h.purchases, as_of)).collect();
    eprintln!("occasions: {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    let inputs: Vec<storehub::domain::rfm::MemberInput> =
        occ.iter().map(|o| storehub::domain::rfm::MemberInput { occasions: o.clone(), ..Default::default() }).collect();
    let analysed = storehub::domain::rfm::analyse(&inputs, as_of, &params);
    eprintln!("analyse (with a clone): {:.2?}", t.elapsed());
    let t = std::time::Instant::now();
    let rep = storehub::domain::rfm::repurchase(&occ, as_of, &params);
    eprintln!("repurchase: {:.2?}", t.elapsed());
    let customers: Vec<storehub::domain::clv::Customer> =
        occ.iter().filter_map(|o| storehub::members::analytics::customer(o, as_of, 1.0)).collect();
    let t = std::time::Instant::now();
    let bg = storehub::domain::clv::fit_bgnbd(&customers).unwrap();
    eprintln!("BG/NBD fit: {:.2?}, {} evaluations", t.elapsed(), bg.evaluations);
    let t = std::time::Instant::now();
    let gg = storehub::domain::clv::fit_gamma_gamma(&customers).unwrap();
    eprintln!("Gamma-Gamma fit: {:.2?}, {} evaluations", t.elapsed(), gg.evaluations);
    drop((all, analysed, rep));
    let (took, rows) =
        storehub::bench::analytics::time_member_analytics(&store, config.timezone(), as_of, &params).unwrap();
    assert_eq!(rows, n);
    eprintln!("analytics members: {rows} members in {took:.2?}");
}

#[test]
fn the_models_are_fitted_to_the_stores_history_and_score_each_member() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("shop");
    let d = d.to_str().unwrap();
    // 30 members with varied habits: member i buys every (i % 6 + 1) weeks for a while, some stop.
    let mut csv = String::from("member_ref,date,amount_fen\n");
    let start = chrono::NaiveDate::from_ymd_opt(2025, 6, 2).unwrap();
    for i in 0..30u32 {
        let phone = format!("1390000{i:04}");
        ok(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", &phone, "--name", &format!("会员{i}")]));
        let every = i64::from(i % 6 + 1) * 7;
        let stops_after = if i % 3 == 0 { 60 } else { 330 };
        let mut day = i64::from(i % 5);
        while day < stops_after {
            csv.push_str(&format!("{phone},{},{}\n", start + chrono::Duration::days(day), 2000 + 300 * i64::from(i % 4) + 10 * day));
            day += every;
        }
    }
    let file = tmp.path().join("history.csv");
    std::fs::write(&file, csv).unwrap();
    ok(storehub_cmd(&["--data-dir", d, "import", "transactions", file.to_str().unwrap()]));

    let fit = json(storehub_cmd(&["--data-dir", d, "analytics", "fit", "--time-unit", "weeks", "--until", "2026-05-31"]));
    assert_eq!((fit["model"].as_str(), fit["time_unit"].as_str(), fit["customers"].as_u64()), (Some("bgnbd"), Some("weeks"), Some(30)), "{fit}");
    for k in ["r", "alpha", "a", "b", "log_likelihood"] {
        assert!(fit[k].as_f64().is_some_and(f64::is_finite), "{k} in {fit}");
    }
    assert!(fit["log_likelihood"].as_f64().unwrap() < 0.0);
    // The same history in days: alpha scales by 7 (the model is the same).
    let days = json(storehub_cmd(&["--data-dir", d, "analytics", "fit", "--until", "2026-05-31"]));
    let ratio = days["alpha"].as_f64().unwrap() / fit["alpha"].as_f64().unwrap();
    assert!((ratio - 7.0).abs() < 0.7, "alpha in days ÷ alpha in weeks = {ratio}");
    let gg = json(storehub_cmd(&["--data-dir", d, "analytics", "fit", "--model", "gamma-gamma", "--until", "2026-05-31"]));
    for k in ["p", "q", "v"] {
        assert!(gg[k].as_f64().is_some_and(|v| v.is_finite() && v > 0.0), "{k} in {gg}");
    }
    let bad = storehub_cmd(&["--data-dir", d, "analytics", "fit", "--model", "pareto-nbd"]);
    assert!(!bad.status.success());

    // Every member who bought gets a P(alive) in (0, 1]; those who stopped after 60 days score
    // lower on average than those who kept buying.
    let rows = json(storehub_cmd(&["--data-dir", d, "analytics", "members", "--as-of", "2026-05-31", "--format", "json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 30);
    let p = |r: &serde_json::Value| r["p_alive"].as_f64().unwrap_or(-1.0);
    assert!(rows.iter().all(|r| p(r) > 0.0 && p(r) <= 1.0), "{rows:?}");
    let mean = |stopped: bool| {
        let v: Vec<f64> = rows.iter().enumerate().filter(|(i, _)| (i % 3 == 0) == stopped).map(|(_, r)| p(r)).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(true) < mean(false), "stopped {} vs buying {}", mean(true), mean(false));
    assert!(rows.iter().all(|r| r["expected_purchases_30"].as_f64().is_some_and(|e| e >= 0.0)));
}

/// The schema version meta record as storehub 1 wrote it (same encoding as the store's own).
#[derive(serde::Serialize, serde::Deserialize)]
struct OldSchemaVersion(u32);
impl storehub::store::Record for OldSchemaVersion {
    const NAME: &'static str = "schema version";
}

/// A schema-1 database holds imported rows but no packed histories: opening it packs them
/// (migration 1 → 2) so analytics see the same history; running the packing again (a crash
/// before the version was bumped) rebuilds the same records, never doubles them.
#[test]
fn a_schema_1_database_gets_its_imported_rows_packed_at_open() {
    use storehub::clock::ManualClock;
    use storehub::members::history::{member_histories, ImportedPurchase, PackedHistory, PackedRow};
    use storehub::store::{codec, db_path, Durability, TreeId, TxError};
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
    let rows = [(1u64, 1, 1000, Some("milk")), (2, 3, 500, None), (1, 5, 700, Some("bread")), (1, 9, 300, Some("milk"))];
    {
        let store = open_store(dir.path(), &clock, Durability::Durable);
        // Rows written the way storehub 1 wrote them: History only.
        store
            .commit(|tx| {
                for (line, (member_id, d, amount_fen, category)) in rows.iter().enumerate() {
                    let id = tx.next_seq(TreeId::History)?;
                    let p = ImportedPurchase {
                        id,
                        member_id: *member_id,
                        date: day(*d),
                        at: None,
                        amount_fen: *amount_fen,
                        category: category.map(str::to_string),
                        sku: None,
                        qty: None,
                        file: "old.csv".into(),
                        line: line as u64 + 2,
                    };
                    tx.put(TreeId::History, &codec::u64_key(id), &p)?;
                }
                Ok::<_, TxError<std::convert::Infallible>>(())
            })
            .unwrap();
        store.checkpoint().unwrap();
    }
    let set_schema_1 = || {
        let db = open_raw_sled(&db_path(dir.path()));
        db.open_tree("meta").unwrap().insert(b"schema_version", codec::encode(&OldSchemaVersion(1)).unwrap()).unwrap();
        let packed = db.open_tree("history_by_member").unwrap().len();
        db.flush().unwrap();
        packed
    };
    assert_eq!(set_schema_1(), 0, "storehub 1 wrote no packed histories");

    let expect_packed = |store: &storehub::store::Store| {
        let one: PackedHistory = store.get(TreeId::HistoryByMember, &codec::u64_key(1)).unwrap().unwrap();
        assert_eq!(one.categories, ["milk", "bread"]);
        let days: Vec<i32> = [1, 5, 9].iter().map(|d| chrono::Datelike::num_days_from_ce(&day(*d))).collect();
        assert_eq!(
            one.rows,
            [
                PackedRow { day: days[0], amount_fen: 1000, category: 1 },
                PackedRow { day: days[1], amount_fen: 700, category: 2 },
                PackedRow { day: days[2], amount_fen: 300, category: 1 },
            ]
        );
        let h = member_histories(store, chrono_tz::Asia::Shanghai, day(5)).unwrap();
        let one: Vec<(chrono::NaiveDate, i64)> = h[&1].purchases.iter().map(|o| (o.date, o.amount_fen)).collect();
        assert_eq!(one, [(day(1), 1000), (day(5), 700)], "rows after the day are left out");
        assert_eq!(h[&2].purchases.len(), 1);
        assert!(h[&2].purchases[0].categories.is_empty());
        assert_eq!(store.count(TreeId::HistoryByMember), 2);
    };
    {
        let store = open_store(dir.path(), &clock, Durability::Durable);
        expect_packed(&store);
        store.checkpoint().unwrap();
    }
    // Schema back at 1 with the packed records present: packing again gives the same records.
    assert_eq!(set_schema_1(), 2);
    let store = open_store(dir.path(), &clock, Durability::Durable);
    expect_packed(&store);
}

/// The same file imported twice: the second import is refused, naming the first (file, time,
/// rows), and stores nothing; a file of only the new rows is then imported.
#[test]
fn a_file_imported_before_is_refused_naming_the_earlier_import() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("shop");
    let d = d.to_str().unwrap();
    ok(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13800000001", "--name", "甲"]));
    let first = tmp.path().join("june.csv");
    std::fs::write(&first, "member_ref,date,amount_fen\n1,2026-06-01,1000\n1,2026-06-02,500\n").unwrap();
    let summary = json(storehub_cmd(&["--data-dir", d, "import", "transactions", first.to_str().unwrap()]));
    assert_eq!(summary["rows"].as_u64(), Some(2));
    // The same bytes under another name: still the same file.
    let again = tmp.path().join("june-copy.csv");
    std::fs::copy(&first, &again).unwrap();
    for path in [&first, &again] {
        let o = storehub_cmd(&["--data-dir", d, "import", "transactions", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        let msg = stderr(&o);
        assert!(msg.contains("this file was imported before"), "{msg}");
        assert!(msg.contains(&format!("as {}, 2 rows, ids 1–2", first.display())), "{msg}");
        assert!(msg.contains("nothing imported") && msg.contains("import a file holding only the new rows"), "{msg}");
    }
    let july = tmp.path().join("july.csv");
    std::fs::write(&july, "member_ref,date,amount_fen\n1,2026-07-01,700\n").unwrap();
    ok(storehub_cmd(&["--data-dir", d, "import", "transactions", july.to_str().unwrap()]));
    let rows = json(storehub_cmd(&["--data-dir", d, "analytics", "members", "--as-of", "2026-07-31", "--format", "json"]));
    // Three occasions (not five): 06-01, 06-02, 07-01.
    assert_eq!((rows[0]["frequency"].as_u64(), rows[0]["monetary_fen"].as_i64()), (Some(2), Some(2200)), "{rows}");
}

/// A dormant member's reason is `natural` until a service ticket of theirs is open: then it is
/// `experience` (an unresolved complaint explains the silence better than habit does).
#[test]
fn an_open_ticket_makes_a_dormant_members_reason_experience() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("shop");
    let d = d.to_str().unwrap();
    ok(storehub_cmd(&["--data-dir", d, "member", "add", "--phone", "13800000001", "--name", "甲"]));
    let file = tmp.path().join("h.csv");
    // Monthly rice until 2025-12-01: 211 days before 2026-06-30, dormant (≥ 60 days).
    std::fs::write(&file, "member_ref,date,amount_fen,category\n1,2025-09-01,5000,rice\n1,2025-10-01,5000,rice\n1,2025-10-31,5000,rice\n1,2025-12-01,5000,rice\n").unwrap();
    ok(storehub_cmd(&["--data-dir", d, "import", "transactions", file.to_str().unwrap()]));
    let reason = || {
        let rows = json(storehub_cmd(&["--data-dir", d, "analytics", "members", "--as-of", "2026-06-30", "--format", "json"]));
        assert_eq!(rows[0]["dormant"].as_bool(), Some(true), "{rows}");
        rows[0]["dormant_reason"].as_str().map(str::to_string)
    };
    assert_eq!(reason().as_deref(), Some("natural"));
    let added = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--name", "李经理", "--role", "manager", "--password-stdin"], "correct horse\n");
    assert!(added.status.success(), "{}", stderr(&added));
    ok(storehub_cmd(&[
        "--data-dir", d, "ticket", "open", "--member", "13800000001", "--kind", "complaint", "--channel", "phone",
        "--subject", "米有虫", "--by", "li",
    ]));
    assert_eq!(reason().as_deref(), Some("experience"));
}
