//! `/metrics` and `/healthz` over HTTP, on the real router: a Prometheus scrape with an API
//! token before and after a sale at lane 1 (parsed line by line as the text format 0.0.4 says),
//! a scanner on a pseudo-terminal seen connected, who may scrape what, and `/healthz` going from
//! 200 to 503 when the outbox outgrows its budget with `[mqtt]` off, and back once HQ has it.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use common::web::{body, WebShop};
use common::{drink, load, wait_until, water};
use serde_json::json;
use serialport::{SerialPort, TTYPort};
use storehub::domain::staff::Role;


/// One sample of a scrape: name and labels → value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), i64>;

fn valid_metric_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':') && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

/// Label values: `"…"` with `\\`, `\"` and `\n` escapes. Returns the labels and the rest.
fn parse_labels(s: &str) -> (BTreeMap<String, String>, &str) {
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return (labels, r);
        }
        rest = rest.strip_prefix(',').unwrap_or(rest);
        let (name, r) = rest.split_once("=\"").unwrap_or_else(|| panic!("label without =\": {s}"));
        assert!(valid_metric_name(name) && !name.contains(':'), "label name {name:?} in {s}");
        let mut value = String::new();
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => panic!("bad escape {other:?} in {s}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {s}"),
            }
        };
        labels.insert(name.to_string(), value);
        rest = &r[end + 1..];
    }
}

/// Parses a scrape: every line is `# HELP name text`, `# TYPE name counter|gauge`, or a sample
/// `name{labels} value` of a family whose TYPE came before; counters end in `_total`.
fn parse(text: &str) -> Samples {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            let (name, text) = help.split_once(' ').unwrap_or_else(|| panic!("HELP without text: {line}"));
            assert!(valid_metric_name(name) && !text.is_empty(), "{line}");
        } else if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap_or_else(|| panic!("TYPE without type: {line}"));
            assert!(valid_metric_name(name), "{line}");
            assert!(kind == "counter" || kind == "gauge", "{line}");
            assert!(kind != "counter" || name.ends_with("_total"), "a counter's name ends in _total: {line}");
            assert!(types.insert(name.to_string(), kind.to_string()).is_none(), "TYPE twice: {line}");
        } else {
            let split = line.find(['{', ' ']).unwrap_or_else(|| panic!("not a sample: {line:?}"));
            let name = &line[..split];
            assert!(valid_metric_name(name), "sample name {name:?}: {line}");
            assert!(types.contains_key(name), "sample before its TYPE: {line}");
            let (labels, rest) = match line[split..].strip_prefix('{') {
                Some(r) => parse_labels(r),
                None => (BTreeMap::new(), &line[split..]),
            };
            let value: i64 = rest.trim_start_matches(' ').parse().unwrap_or_else(|e| panic!("value of {line:?}: {e}"));
            assert!(samples.insert((name.to_string(), labels), value).is_none(), "sample twice: {line}");
        }
    }
    samples
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<i64> {
    let labels: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples.get(&(name.to_string(), labels)).copied()
}

async fn scrape(shop: &WebShop, token: &str) -> Samples {
    let res = shop.http.get(shop.url("/metrics")).bearer_auth(token).send().await.expect("scrape");
    assert_eq!(res.status(), 200);
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    parse(&res.text().await.expect("scrape text"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_after_a_sale_counts_it_and_shows_the_outbox_and_the_scanner() {
    // The demo's lane-1 scanner, on a pseudo-terminal instead of the demo's simulator path.
    let (mut master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    let path = slave.name().expect("the pty's path");
    let shop = WebShop::start_with(|cfg| {
        let mut scanner = storehub::config::Config::demo().expect("demo").devices.into_iter().find(|d| d.id.as_str() == "scanner-1").expect("scanner-1");
        scanner.path = Some(path.clone());
        cfg.devices.push(scanner);
    })
    .await;
    load(&shop.store, &[water()]);
    let manager = storehub::web::auth::add_token(&shop.store, "prometheus-hq", Role::Manager).expect("token");
    let technician = storehub::web::auth::add_token(&shop.store, "prometheus-box", Role::Technician).expect("token");

    // 90 s after start (the shop's clock started with the daemon at 09:00:00).
    shop.clock.advance(chrono::Duration::seconds(90));
    let before = scrape(&shop, &manager).await;
    assert_eq!(value(&before, "storehub_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), Some(1));
    assert_eq!(value(&before, "storehub_uptime_seconds", &[]), Some(90));
    assert_eq!(value(&before, "storehub_healthy", &[]), Some(1));
    assert_eq!(value(&before, "storehub_sales_total", &[]), Some(0));
    assert_eq!(value(&before, "storehub_sales_amount_fen_total", &[]), Some(0));
    assert_eq!(value(&before, "storehub_lane_shift_open", &[("lane", "lane-1")]), Some(1), "the harness opened lane-1's shift");
    assert_eq!(value(&before, "storehub_lane_shift_open", &[("lane", "lane-2")]), Some(0));
    assert_eq!(value(&before, "storehub_outbox_budget_bytes", &[]), Some(512 * 1_048_576), "the demo's 512 MB budget");
    assert!(value(&before, "storehub_db_size_bytes", &[]).unwrap_or(0) > 0, "{before:?}");
    let depth_before = value(&before, "storehub_outbox_events", &[]).expect("outbox depth");
    assert_eq!(depth_before, shop.store.outbox_usage().count as i64);

    // The scanner's port opens: its gauge goes to 1.
    let scanner = [("device", "scanner-1"), ("kind", "scanner")];
    let mut connected = None;
    for _ in 0..100 {
        connected = value(&scrape(&shop, &technician).await, "storehub_device_connected", &scanner);
        if connected == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(connected, Some(1), "scanner-1 on {path} never showed connected");

    // Two bottles of water at ¥2.00, paid in cash: one sale of 400 fen.
    common::web::sell_two_waters(&shop).await;
    shop.clock.advance(chrono::Duration::seconds(30));

    let after = scrape(&shop, &manager).await;
    assert_eq!(value(&after, "storehub_sales_total", &[]), Some(1));
    assert_eq!(value(&after, "storehub_sales_amount_fen_total", &[]), Some(400));
    let depth_after = value(&after, "storehub_outbox_events", &[]).expect("outbox depth");
    assert!(depth_after > depth_before, "the sale's events wait for HQ: {depth_before} → {depth_after}");
    assert_eq!(depth_after, shop.store.outbox_usage().count as i64);
    // Nothing was acknowledged: the oldest event waiting is at least the 30 s since the sale.
    assert!(value(&after, "storehub_outbox_oldest_age_seconds", &[]).unwrap_or(0) >= 30, "{after:?}");
    assert_eq!(value(&after, "storehub_uptime_seconds", &[]), Some(120));
    // A scrape counts each sale once.
    let again = scrape(&shop, &manager).await;
    assert_eq!((value(&again, "storehub_sales_total", &[]), value(&again, "storehub_sales_amount_fen_total", &[])), (Some(1), Some(400)));
    // The web counted its answers: the scrapes, the login, two scans and the payment at least.
    let ok = value(&again, "storehub_http_requests_total", &[("code", "2xx")]).unwrap_or(0);
    assert!(ok >= 6, "{again:?}");
    assert_eq!(value(&again, "storehub_http_requests_total", &[("code", "5xx")]), Some(0));

    // Line noise from the scanner (a code with two bytes that are not digits): counted by
    // kind on the scanner's error counter.
    master.write_all(b"69\xff\xfe0123\r").expect("write to the scanner's pty");
    let garbage = [("device", "scanner-1"), ("kind", "scanner"), ("error", "garbage")];
    let mut errors = None;
    for _ in 0..100 {
        errors = value(&scrape(&shop, &technician).await, "storehub_device_errors_total", &garbage);
        if errors == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(errors, Some(1), "the garbage line was not counted");

    // A technician's token sees the box, not the takings.
    let box_only = scrape(&shop, &technician).await;
    assert_eq!(value(&box_only, "storehub_sales_total", &[]), None);
    assert_eq!(value(&box_only, "storehub_outbox_events", &[]), Some(depth_after));

    // No member or staff data, whoever scrapes.
    let rules = shop.state.ctx.loyalty.clone();
    storehub::members::register(&shop.store, &storehub::members::NewMember::in_store("13812345678", "张三"), &rules).expect("member");
    let res = shop.http.get(shop.url("/metrics")).bearer_auth(&manager).send().await.expect("scrape");
    let text = res.text().await.expect("text");
    for secret in ["13812345678", "张三", "cashier1", "prometheus-hq"] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }

    // Without a token: 401 (a scraper is not sent to the login page); a cashier: 403.
    let anon = shop.http.get(shop.url("/metrics")).send().await.expect("anon");
    assert_eq!(anon.status(), 401);
    let cashier = shop.login("cashier1", Some("lane-1")).await;
    let (s, _) = body(shop.get(&cashier, "/metrics").await).await;
    assert_eq!(s, 403);
    let wrong = shop.http.get(shop.url("/metrics")).bearer_auth("shk_not-a-token").send().await.expect("wrong token");
    assert_eq!(wrong.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_turns_503_when_the_outbox_outgrows_its_budget_and_200_once_hq_has_it() {
    // The smallest budget [mqtt].outbox_budget_mb allows, 1 MB = 1 048 576 bytes; [mqtt] is off
    // in the demo config, so nothing publishes or drops.
    let shop = WebShop::start_with(|cfg| cfg.mqtt.outbox_budget_mb = 1).await;
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["status"], "ok");
    assert_eq!(h["checks"], json!({"store": "ok", "store_write": "ok", "outbox": "ok", "disk": "ok"}));
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));

    // A catalog import: each product is a business event (storehub.product.upserted) waiting for HQ.
    let mut n = 0;
    while shop.store.outbox_usage().bytes <= 1_048_576 {
        let batch: Vec<_> = (n..n + 500).map(|i| drink(&format!("SKU-9{i:05}"), &format!("Test drink number {i} with a long English name"), &[], None)).collect();
        load(&shop.store, &batch);
        n += 500;
        assert!(n <= 20_000, "20 000 products and the outbox still holds only {} bytes", shop.store.outbox_usage().bytes);
    }
    let usage = shop.store.outbox_usage();
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!(s, 503, "{h}");
    assert_eq!(h["status"], "unhealthy");
    assert_eq!(h["checks"]["outbox"], "failing");
    assert_eq!(h["checks"]["store"], "ok");
    assert_eq!(h["reasons"][0]["check"], "outbox");
    let reason = h["reasons"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(&format!("holds {} events", usage.count)) && reason.contains("over its 1 MB budget") && reason.contains("[mqtt]"), "{reason}");

    // /metrics says the same.
    let token = storehub::web::auth::add_token(&shop.store, "prometheus", Role::Technician).expect("token");
    let m = scrape(&shop, &token).await;
    assert_eq!(value(&m, "storehub_healthy", &[]), Some(0));
    assert!(value(&m, "storehub_outbox_bytes", &[]).unwrap_or(0) > 1_048_576, "{m:?}");

    // HQ acknowledges everything (what the relay does on PUBACK): healthy again.
    let seqs: Vec<u64> = common::outbox_seqs(&shop.store);
    shop.store.outbox_ack(&seqs).expect("ack");
    wait_until("the outbox is empty", Duration::from_secs(5), || shop.store.outbox_usage().count == 0);
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!((s.as_u16(), h["status"].as_str()), (200, Some("ok")), "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_the_disk_when_the_data_dirs_filesystem_is_nearly_full() {
    // The data dir on a 64 MiB tmpfs; the health check wants 32 MiB (33 554 432 bytes) free.
    let outer = tempfile::tempdir().expect("temp dir");
    let mnt = outer.path().join("small-disk");
    let _tmpfs = common::Tmpfs::mount(&mnt, "64m");
    let shop = WebShop::start_in(tempfile::tempdir_in(&mnt).expect("data dir"), |_| {}).await;
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!((s.as_u16(), h["checks"]["disk"].as_str()), (200, Some("ok")), "{h}");

    // Fill it until 16 MiB are left: under the 32 MiB the check wants.
    let (free, _) = storehub::cloud::telemetry::disk_space(&mnt).expect("statvfs");
    let filler = mnt.join("filler");
    {
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..free.saturating_sub(16 << 20) >> 20 {
            f.write_all(&chunk).expect("fill");
        }
    }
    let (free, _) = storehub::cloud::telemetry::disk_space(&mnt).expect("statvfs");
    assert!(free < 32 << 20, "{free} bytes still free");
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!(s, 503, "{h}");
    assert_eq!((h["checks"]["disk"].as_str(), h["checks"]["store"].as_str()), (Some("failing"), Some("ok")), "{h}");
    assert_eq!(h["reasons"][0]["check"], "disk");
    assert!(h["reasons"][0]["reason"].as_str().unwrap_or_default().contains("MB free on the data dir's filesystem (at least 32 MB needed)"), "{h}");
    let token = storehub::web::auth::add_token(&shop.store, "prometheus", Role::Technician).expect("token");
    let m = scrape(&shop, &token).await;
    assert_eq!(value(&m, "storehub_healthy", &[]), Some(0));
    assert!(value(&m, "storehub_data_dir_free_bytes", &[]).unwrap_or(i64::MAX) < 32 << 20, "{m:?}");

    // Space freed: healthy again.
    std::fs::remove_file(&filler).expect("remove the filler");
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!((s.as_u16(), h["status"].as_str()), (200, Some("ok")), "{h}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_names_store_write_when_commits_meet_a_full_disk() {
    // The data dir on a 64 MiB tmpfs filled to the last byte: the journal's file is allocated
    // ahead, so commits still journal, but applying them to sled's files fails (ENOSPC).
    let outer = tempfile::tempdir().expect("temp dir");
    let mnt = outer.path().join("full-disk");
    let _tmpfs = common::Tmpfs::mount(&mnt, "64m");
    let shop = WebShop::start_in(tempfile::tempdir_in(&mnt).expect("data dir"), |_| {}).await;
    {
        let mut f = std::fs::File::create(mnt.join("filler")).expect("filler");
        let chunk = vec![0u8; 1 << 16];
        while f.write_all(&chunk).is_ok() {}
    }
    assert_eq!(storehub::cloud::telemetry::disk_space(&mnt).map(|(free, _)| free), Some(0));
    // Catalog imports of 200 products a commit until the store reports the failed write.
    let mut commits = 0;
    while shop.store.write_failure().is_none() {
        let batch: Vec<_> = (0..200).map(|j| drink(&format!("SKU-8{commits:03}{j:03}"), "A drink with a name", &[], None)).collect();
        let _ = storehub::catalog::upsert_products(&shop.store, &batch, 200, |_| {});
        commits += 1;
        assert!(commits <= 100, "100 commits onto a full disk and the store reports nothing");
    }
    let (s, h) = body(shop.http.get(shop.url("/healthz")).send().await.expect("healthz")).await;
    assert_eq!(s, 503, "{h}");
    assert_eq!((h["checks"]["store_write"].as_str(), h["checks"]["disk"].as_str()), (Some("failing"), Some("failing")), "{h}");
    assert_eq!(h["reasons"][0]["check"], "store_write");
    let reason = h["reasons"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("the database refuses writes: ") && reason.contains("No space left on device"), "{reason}");
    // /metrics still answers, saying so, though some store reads now fail (those families, the
    // oldest event's age and the open shifts, are left out). The token's commit still journals.
    let token = storehub::web::auth::add_token(&shop.store, "prometheus", Role::Technician).expect("token");
    let m = scrape(&shop, &token).await;
    assert_eq!(value(&m, "storehub_healthy", &[]), Some(0), "{m:?}");
    assert_eq!(value(&m, "storehub_data_dir_free_bytes", &[]), Some(0));
}
