//! The MQTT relay against a real Mosquitto, with HQ played by a subscriber of its own: sales made
//! at the lanes reach HQ as CloudEvents in sequence order; the retained status tells online from
//! offline (clean stop and last will); broker outages and a hub killed mid-drain lose no sale;
//! TLS with a client certificate works and a wrong CA keeps the hub selling, unconnected.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::broker::{free_port, Broker, Hq, Received};
use common::{stop_demo_and_open, storehub_cmd};
use storehub::config::Secret;
use storehub::control::lanes::LaneAction;
use storehub::control::{client, Request};
use storehub::domain::staff::Role;
use storehub::domain::tender::{Tender, TenderKind};

const ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";
const SOURCE: &str = "/storehub/huamei/sh-xuhui-001/hub-1";
const SALE_COMPLETED: &str = "storehub.sale.completed";

// ------------------------------------------------------------------------------------------------
// The hub
// ------------------------------------------------------------------------------------------------

/// A hub config: config/demo.toml without its simulated devices, with `lanes` lanes and `mqtt`
/// as its `[mqtt]` section.
fn hub_config(dir: &Path, lanes: usize, mqtt: &str) -> PathBuf {
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
    let (start, end) = (demo.find("# Simulated devices").unwrap(), demo.find("[web]").unwrap());
    let extra_lanes: String = (3..=lanes).map(|i| format!("[[lanes]]\nid = \"lane-{i}\"\nname = \"{i}号收银台\"\n\n")).collect();
    let text = format!("{}{extra_lanes}[mqtt]\n{mqtt}\n\n{}", &demo[..start], &demo[end..]);
    let path = dir.join("hub.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `[mqtt]` keys of the tests: quick reconnects, a short keepalive.
const MQTT_TEST: &str = "reconnect_min_ms = 200\nreconnect_max_ms = 1000\nkeepalive_s = 5\ntelemetry_interval_s = 2\n";

/// A running hub (`storehub demo` with a config file, no scripted shopper), its data dir and log.
struct Hub {
    child: Option<Child>,
    data: PathBuf,
}

impl Hub {
    /// Starts the hub and waits (up to 60 s) until its control socket answers.
    fn start(config: &Path, data: &Path, extra: &[&str]) -> Hub {
        std::fs::create_dir_all(data.parent().unwrap()).unwrap();
        let spawn = || {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(data.with_extension("log")).unwrap();
            Command::new(env!("CARGO_BIN_EXE_storehub"))
                .args(["--config", config.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "demo", "--shopper-every", "0", "--listen", "127.0.0.1:0"])
                .args(extra)
                .env("STOREHUB_LOG", "warn")
                .env_remove("STOREHUB_CONFIG")
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .expect("start the hub")
        };
        let mut hub = Hub { child: Some(spawn()), data: data.to_path_buf() };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let client::Attempt::Answered(Ok(_)) = client::try_call(&hub.socket(), &Request::Status) {
                return hub;
            }
            if let Some(status) = hub.child.as_mut().unwrap().try_wait().unwrap() {
                // sled releases the lock of a database the test just closed a moment later
                // (tests/common: retry_while_locked); anything else is a failure.
                let log = hub.log();
                assert!(log.contains("could not acquire lock") && Instant::now() < deadline, "the hub exited at start ({status}):\n{log}");
                std::thread::sleep(Duration::from_millis(100));
                hub.child = Some(spawn());
                continue;
            }
            assert!(Instant::now() < deadline, "the hub did not open its control socket:\n{}", hub.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn socket(&self) -> PathBuf {
        self.data.join("control.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.with_extension("log")).unwrap_or_default()
    }

    /// A request through the control socket; panics with the daemon's message on refusal.
    fn call(&self, req: Request) -> serde_json::Value {
        match client::try_call(&self.socket(), &req) {
            client::Attempt::Answered(Ok(reply)) => reply.result,
            client::Attempt::Answered(Err(e)) => panic!("{req:?} refused: {e}"),
            client::Attempt::NoDaemon => panic!("the hub is not running"),
        }
    }

    /// `storehub cloud status`, through the CLI.
    fn cloud_status(&self) -> serde_json::Value {
        let out = storehub_cmd(&["--data-dir", self.data.to_str().unwrap(), "cloud", "status", "--json"]);
        assert!(out.status.success(), "storehub cloud status failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// (events waiting, newest sequence) in the hub's outbox.
    fn outbox(&self) -> (u64, Option<u64>) {
        let stats = self.call(Request::OutboxStats);
        (stats["count"].as_u64().unwrap(), stats["newest_seq"].as_u64())
    }

    /// SIGTERM, a clean exit, and the store opened for checks.
    fn stop(mut self) -> storehub::store::Store {
        stop_demo_and_open(self.child.take().unwrap(), &self.data)
    }

    /// SIGKILL.
    fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ------------------------------------------------------------------------------------------------
// What HQ received
// ------------------------------------------------------------------------------------------------

/// The `sequence` of an event message (None for status, telemetry and replies).
fn sequence(m: &Received) -> Option<u64> {
    if !m.topic.contains("/evt/") {
        return None;
    }
    m.json()["sequence"].as_str().map(|s| s.parse().unwrap())
}

/// Follows HQ's messages as they arrive (parsing each once): the highest event sequence seen.
#[derive(Default)]
struct Tally {
    seen: usize,
    max_seq: u64,
}

impl Tally {
    fn update(&mut self, msgs: &[Received]) -> u64 {
        for m in &msgs[self.seen.min(msgs.len())..] {
            if let Some(s) = sequence(m) {
                self.max_seq = self.max_seq.max(s);
            }
        }
        self.seen = msgs.len();
        self.max_seq
    }
}

/// Waits until HQ holds every event the hub's outbox had when asked (HQ caught up), up to
/// `timeout`.
fn wait_caught_up(hq: &Hq, hub: &Hub, tally: &RefCell<Tally>, timeout: Duration) {
    let (_, newest) = hub.outbox();
    let Some(newest) = newest else { return };
    hq.wait_until(timeout, &format!("events up to sequence {newest}"), |msgs| tally.borrow_mut().update(msgs) >= newest);
}

/// Waits until the hub's outbox is empty and HQ holds the newest event it saw there.
fn wait_drained(hq: &Hq, hub: &Hub, tally: &RefCell<Tally>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut newest_seen = 0;
    loop {
        let (count, newest) = hub.outbox();
        newest_seen = newest_seen.max(newest.unwrap_or(0));
        if count == 0 && tally.borrow_mut().update(&hq.messages()) >= newest_seen {
            return;
        }
        assert!(Instant::now() < deadline, "the outbox still holds {count} events after {timeout:?}; cloud status {}", hub.cloud_status());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// After the hub stopped: waits until HQ holds every event the broker acknowledged (the
/// outbox floor), some of which may still have been on their way.
fn wait_for_acknowledged(hq: &Hq, store: &storehub::store::Store, tally: &RefCell<Tally>) {
    let floor = store.outbox_floor().unwrap();
    hq.wait_until(Duration::from_secs(10), &format!("every acknowledged event (up to {floor})"), |msgs| tally.borrow_mut().update(msgs) >= floor);
}

/// Checks per-hub order and returns the distinct sale ids HQ received: first occurrences of
/// sequence numbers increase (a retry after a reconnect may repeat events, never reorder them).
fn check_order_and_collect_sales(msgs: &[Received]) -> (BTreeSet<u64>, usize) {
    let mut first_seen = BTreeSet::new();
    let mut last_new = 0;
    let mut sales = BTreeSet::new();
    let mut repeats = 0;
    for m in msgs.iter().filter(|m| m.topic.contains("/evt/")) {
        let ce = m.json();
        let seq: u64 = ce["sequence"].as_str().unwrap().parse().unwrap();
        if first_seen.insert(seq) {
            assert!(seq > last_new, "sequence {seq} first arrived after {last_new}: per-hub order broken");
            last_new = seq;
        } else {
            repeats += 1;
        }
        if ce["type"] == SALE_COMPLETED {
            sales.insert(ce["data"]["sale_id"].as_u64().unwrap());
        }
    }
    (sales, repeats)
}

fn committed_sales(store: &storehub::store::Store) -> BTreeSet<u64> {
    storehub::checkout::sale::all_sales(store).unwrap().iter().map(|s| s.id).collect()
}

fn statuses(hq: &Hq) -> Vec<String> {
    hq.on("/status").iter().map(|m| String::from_utf8_lossy(&m.payload).into_owned()).collect()
}

/// The retained status as a newcomer to the broker sees it.
fn retained_status(port: u16) -> String {
    let hq = Hq::subscribe(port, &format!("{ROOT}/status"));
    hq.wait_until(Duration::from_secs(5), "the retained status", |m| !m.is_empty());
    let m = &hq.messages()[0];
    assert!(m.retain, "the status is retained");
    String::from_utf8_lossy(&m.payload).into_owned()
}

// ------------------------------------------------------------------------------------------------
// Round trip
// ------------------------------------------------------------------------------------------------

/// A cashier signed in at lane-1 of a running hub.
fn open_lane(hub: &Hub) {
    hub.call(Request::StaffAdd {
        id: "wang".into(),
        name: "王芳".into(),
        role: Role::Cashier,
        password: Secret::new("correct horse".into()),
        pin: Some(Secret::new("2468".into())),
    });
    hub.call(Request::ShiftOpen { lane: "lane-1".into(), staff: "wang".into(), float_fen: 50_000 });
    hub.call(Request::Lane { lane: "lane-1".into(), action: LaneAction::SignIn { staff: "wang".into(), pin: Secret::new("2468".into()) } });
}

/// One sale of `qty` bottles of water paid in cash; its id and total.
fn sell(hub: &Hub, qty: i64) -> (u64, i64) {
    hub.call(Request::Lane { lane: "lane-1".into(), action: LaneAction::Add { sku: "SKU-010001".into(), qty } });
    let tenders = vec![Tender { kind: TenderKind::Cash, amount_fen: 10_000, reference: None, points: None }];
    let paid = hub.call(Request::Lane { lane: "lane-1".into(), action: LaneAction::Pay { tenders } });
    (paid["sale"]["id"].as_u64().unwrap(), paid["sale"]["settlement"]["total_fen"].as_i64().unwrap())
}

#[test]
fn sales_reach_hq_as_cloudevents_in_order_and_the_status_follows_the_hub() {
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start();
    let hq = Hq::subscribe(broker.port, &format!("{ROOT}/#"));
    let config = hub_config(tmp.path(), 2, &format!("enabled = true\nurl = \"{}\"\n{MQTT_TEST}", broker.url()));
    let data = tmp.path().join("hub");
    let hub = Hub::start(&config, &data, &[]);
    open_lane(&hub);
    let sales: Vec<(u64, i64)> = (0..6).map(|i| sell(&hub, 1 + i % 3)).collect();
    let ids: BTreeSet<u64> = sales.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 6);

    hq.wait_until(Duration::from_secs(20), "every sale", |msgs| {
        let got: BTreeSet<u64> = msgs.iter().filter(|m| m.topic.ends_with(SALE_COMPLETED)).filter_map(|m| m.json()["data"]["sale_id"].as_u64()).collect();
        ids.is_subset(&got)
    });
    let tally = RefCell::new(Tally::default());
    wait_drained(&hq, &hub, &tally, Duration::from_secs(20));

    // Every event: CloudEvents 1.0, on the topic of its type, in sequence order, exactly once.
    let events: Vec<Received> = hq.messages().into_iter().filter(|m| m.topic.contains("/evt/")).collect();
    let mut last_seq = 0;
    let mut event_ids = BTreeSet::new();
    for m in &events {
        let ce = m.json();
        assert_eq!(ce["specversion"], "1.0");
        assert_eq!(ce["source"], SOURCE);
        let ty = ce["type"].as_str().unwrap();
        assert_eq!(m.topic, format!("{ROOT}/evt/{ty}"));
        assert!(event_ids.insert(ce["id"].as_str().unwrap().to_string()), "event id {} twice", ce["id"]);
        chrono::DateTime::parse_from_rfc3339(ce["time"].as_str().unwrap()).unwrap();
        let seq: u64 = ce["sequence"].as_str().unwrap().parse().unwrap();
        assert!(seq > last_seq, "sequence {seq} after {last_seq}");
        last_seq = seq;
    }
    let completed: Vec<serde_json::Value> = events.iter().filter(|m| m.topic.ends_with(SALE_COMPLETED)).map(Received::json).collect();
    assert_eq!(completed.len(), 6, "each sale exactly once");
    for ((id, total), ce) in sales.iter().zip(&completed) {
        assert_eq!(ce["subject"], id.to_string());
        assert_eq!(ce["data"]["sale_id"], *id);
        assert_eq!(ce["data"]["total_fen"], *total);
        assert_eq!(ce["data"]["lines"][0]["sku"], "SKU-010001");
        assert_eq!(ce["data"]["tenders"][0]["kind"], "cash", "{}", ce["data"]["tenders"]);
        assert_eq!(ce["datacontenttype"], "application/json");
    }

    // A command from HQ is handled (acked after) and answered on cmd-reply.
    hq.publish(&format!("{ROOT}/cmd/ping"), r#"{"id":"c-ping-1","args":{}}"#);
    hq.wait_until(Duration::from_secs(10), "the reply to ping", |msgs| msgs.iter().any(|m| m.topic.starts_with(&format!("{ROOT}/cmd-reply/"))));

    // The link as the technician sees it.
    let status = hub.cloud_status();
    assert_eq!(status["commands_received"], 1, "{status}");
    assert_eq!(status["enabled"], true);
    assert_eq!(status["connected"], true);
    assert_eq!(status["connects"], 1);
    assert_eq!(status["broker"], broker.url());
    assert_eq!(status["client_id"], "storehub-huamei-sh-xuhui-001-hub-1");
    assert_eq!(status["published"], events.len() as u64);
    assert_eq!(status["acknowledged"], events.len() as u64);
    assert_eq!(status["in_flight"], 0);
    hq.wait_until(Duration::from_secs(10), "telemetry", |msgs| msgs.iter().any(|m| m.topic.ends_with("/telemetry")));

    assert_eq!(retained_status(broker.port), "online");
    assert_eq!(statuses(&hq).last().map(String::as_str), Some("online"));

    // SIGTERM: offline, published by the hub itself; every event was acknowledged and deleted.
    let store = hub.stop();
    assert_eq!(store.outbox_stats().unwrap().count, 0, "the outbox is empty after a clean stop");
    drop(store);
    hq.wait_until(Duration::from_secs(5), "offline after SIGTERM", |msgs| msgs.iter().rev().find(|m| m.topic.ends_with("/status")).is_some_and(|m| m.payload == b"offline"));
    assert_eq!(retained_status(broker.port), "offline");

    // Back up: online again, and nothing that was acknowledged goes out twice. SIGKILL: the
    // broker's last will says offline.
    let onlines = statuses(&hq).iter().filter(|s| *s == "online").count();
    let hub = Hub::start(&config, &data, &[]);
    hq.wait_until(Duration::from_secs(15), "online after the restart", |msgs| {
        msgs.iter().filter(|m| m.topic.ends_with("/status") && m.payload == b"online").count() > onlines
    });
    hub.kill();
    hq.wait_until(Duration::from_secs(10), "the last will after SIGKILL", |msgs| msgs.iter().rev().find(|m| m.topic.ends_with("/status")).is_some_and(|m| m.payload == b"offline"));
    assert_eq!(retained_status(broker.port), "offline");
    let (_, repeats) = check_order_and_collect_sales(&hq.messages());
    assert_eq!(repeats, 0, "no event was published twice");
    eprintln!("round trip: {} events, statuses {:?}", events.len(), statuses(&hq));
}

// ------------------------------------------------------------------------------------------------
// Outages
// ------------------------------------------------------------------------------------------------

#[test]
fn four_lanes_sell_through_four_broker_outages_and_hq_gets_every_sale() {
    let tmp = tempfile::tempdir().unwrap();
    let mut broker = Broker::start();
    let hq = Hq::subscribe(broker.port, &format!("{ROOT}/evt/#"));
    let tally = RefCell::new(Tally::default());
    let config = hub_config(tmp.path(), 4, &format!("enabled = false\nurl = \"mqtt://127.0.0.1:1\"\n{MQTT_TEST}"));
    let data = tmp.path().join("hub");
    let hub = Hub::start(&config, &data, &["--mqtt", &broker.url(), "--simulate-sales", "20"]);
    hq.wait_until(Duration::from_secs(30), "the first sale", |msgs| msgs.iter().any(|m| m.topic.ends_with(SALE_COMPLETED)));

    // Three short outages and a long one. Before each kill HQ has caught up: events the broker
    // acknowledged but had not yet handed to HQ would die with it (see docs/cloud.md, Relay).
    let mut depth_in_long_outage = 0;
    for outage in [3, 3, 3, 60] {
        wait_caught_up(&hq, &hub, &tally, Duration::from_secs(60));
        broker.kill();
        std::thread::sleep(Duration::from_secs(outage));
        if outage == 60 {
            depth_in_long_outage = hub.outbox().0;
            let status = hub.cloud_status();
            assert_eq!(status["connected"], false);
            assert!(status["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{status}");
        }
        broker.restart();
    }
    assert!(depth_in_long_outage > 200, "the hub kept selling during the outage: {depth_in_long_outage} events waited");
    wait_caught_up(&hq, &hub, &tally, Duration::from_secs(90));
    let status = hub.cloud_status();
    assert!(status["connects"].as_u64().unwrap() >= 5, "{status}");
    assert_eq!(status["connected"], true, "{status}");
    let store = hub.stop();
    drop(store);

    // The simulated shoppers stop only with the hub: start it once more without them to send
    // what they sold meanwhile.
    let hub = Hub::start(&config, &data, &["--mqtt", &broker.url()]);
    wait_drained(&hq, &hub, &tally, Duration::from_secs(60));
    let store = hub.stop();
    assert_eq!(store.outbox_stats().unwrap().count, 0, "outbox empty");
    wait_for_acknowledged(&hq, &store, &tally);
    let committed = committed_sales(&store);
    let (on_hq, repeats) = check_order_and_collect_sales(&hq.messages());
    assert!(committed.len() > 300, "only {} sales", committed.len());
    assert_eq!(on_hq, committed, "HQ's sales and the committed sales differ (missing on HQ: {:?}; unknown: {:?})", committed.difference(&on_hq).take(10).collect::<Vec<_>>(), on_hq.difference(&committed).take(10).collect::<Vec<_>>());
    eprintln!("{} sales, {} events repeated after reconnects", committed.len(), repeats);
}

// ------------------------------------------------------------------------------------------------
// Hub killed while draining
// ------------------------------------------------------------------------------------------------

#[test]
fn a_hub_killed_while_draining_its_backlog_resends_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut broker = Broker::start();
    let hq = Hq::subscribe(broker.port, &format!("{ROOT}/evt/#"));
    let tally = RefCell::new(Tally::default());
    let config = hub_config(tmp.path(), 4, &format!("enabled = true\nurl = \"{}\"\ninflight = 20\n{MQTT_TEST}", broker.url()));
    let data = tmp.path().join("hub");

    // A backlog: the broker is down while the lanes sell.
    broker.kill();
    let hub = Hub::start(&config, &data, &["--simulate-sales", "30"]);
    std::thread::sleep(Duration::from_secs(6));
    let store = hub.stop();
    let backlog = store.outbox_stats().unwrap().count;
    assert!(backlog > 1000, "a backlog of {backlog} events");
    drop(store);

    // The broker returns; the hub drains and is killed half-way.
    broker.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !hq.is_connected() {
        assert!(Instant::now() < deadline, "HQ did not reconnect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let hub = Hub::start(&config, &data, &[]);
    // A quarter in: some events acknowledged and deleted, some in flight, most still waiting.
    let quarter = (backlog / 4) as usize;
    hq.wait_until(Duration::from_secs(30), "a quarter of the backlog", |msgs| msgs.len() >= quarter);
    hub.kill();
    let at_kill = hq.messages().len() as u64;
    assert!(at_kill < backlog, "the hub was killed after it had sent everything ({at_kill} of {backlog}); the test needs a larger backlog");

    // Restarted, it sends the rest (and some again).
    let hub = Hub::start(&config, &data, &[]);
    wait_drained(&hq, &hub, &tally, Duration::from_secs(60));
    let store = hub.stop();
    assert_eq!(store.outbox_stats().unwrap().count, 0);
    wait_for_acknowledged(&hq, &store, &tally);
    let committed = committed_sales(&store);
    let (on_hq, repeats) = check_order_and_collect_sales(&hq.messages());
    assert_eq!(on_hq, committed);
    assert!(!committed.is_empty());
    eprintln!("backlog {backlog}, {at_kill} received before the kill, {repeats} repeated");
}

// ------------------------------------------------------------------------------------------------
// TLS
// ------------------------------------------------------------------------------------------------

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign, rcgen::KeyUsagePurpose::DigitalSignature];
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

fn leaf(issuer: &rcgen::Issuer<'_, &rcgen::KeyPair>, cn: &str, sans: &[&str], usage: rcgen::ExtendedKeyUsagePurpose) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![usage];
    (params.signed_by(&key, issuer).unwrap().pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let (params, key, ca_pem) = ca("storehub test CA");
    let issuer = rcgen::Issuer::new(params, &key);
    let (server_cert, server_key) = leaf(&issuer, "broker", &["127.0.0.1", "localhost"], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let (client_cert, client_key) = leaf(&issuer, "hub-1", &[], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    Pki { ca: ca_pem, server_cert, server_key, client_cert, client_key }
}

#[test]
fn mutual_tls_carries_the_sales_and_a_wrong_ca_leaves_the_hub_selling_unconnected() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki();
    let files = tmp.path().join("pki");
    std::fs::create_dir_all(&files).unwrap();
    let write = |name: &str, text: &str| {
        let p = files.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (ca_file, server_cert, server_key) = (write("ca.pem", &pki.ca), write("broker.pem", &pki.server_cert), write("broker.key", &pki.server_key));
    let (client_cert, client_key) = (write("hub.pem", &pki.client_cert), write("hub.key", &pki.client_key));
    let wrong_ca = write("wrong-ca.pem", &ca("someone else's CA").2);

    // Mosquitto: TLS with client certificates required for the hub, plain TCP on another
    // loopback port for HQ.
    let broker_dir = tmp.path().join("broker");
    std::fs::create_dir_all(&broker_dir).unwrap();
    let (plain, tls) = (free_port(), free_port());
    let listeners = format!(
        "listener {plain} 127.0.0.1\nallow_anonymous true\nlistener {tls} 127.0.0.1\ncafile {ca_file}\ncertfile {server_cert}\nkeyfile {server_key}\nrequire_certificate true\n"
    );
    let broker = Broker::start_in(broker_dir, None, plain, &listeners);
    let hq = Hq::subscribe(broker.port, &format!("{ROOT}/#"));

    let mqtt = |ca: &str| {
        format!("enabled = true\nurl = \"mqtts://127.0.0.1:{tls}\"\nca_file = \"{ca}\"\ncert_file = \"{client_cert}\"\nkey_file = \"{client_key}\"\n{MQTT_TEST}")
    };
    let good_dir = tmp.path().join("good");
    std::fs::create_dir_all(&good_dir).unwrap();
    let config = hub_config(&good_dir, 2, &mqtt(&ca_file));
    let hub = Hub::start(&config, &good_dir.join("hub"), &["--simulate-sales", "5"]);
    hq.wait_until(Duration::from_secs(30), "sales over TLS", |msgs| msgs.iter().filter(|m| m.topic.ends_with(SALE_COMPLETED)).count() >= 3);
    let status = hub.cloud_status();
    assert_eq!(status["connected"], true, "{status}");
    assert_eq!(status["broker"], format!("mqtts://127.0.0.1:{tls}"));
    drop(hub.stop());
    let before = hq.messages().iter().filter(|m| m.topic.contains("/evt/")).count();

    // A CA that did not sign the broker's certificate: no connection, the reason in the status,
    // and the lanes keep selling.
    let wrong_dir = tmp.path().join("wrong");
    std::fs::create_dir_all(&wrong_dir).unwrap();
    let config = hub_config(&wrong_dir, 2, &mqtt(&wrong_ca));
    let hub = Hub::start(&config, &wrong_dir.join("hub"), &["--simulate-sales", "5"]);
    std::thread::sleep(Duration::from_secs(3));
    let status = hub.cloud_status();
    assert_eq!(status["connected"], false, "{status}");
    assert_eq!(status["connects"], 0, "{status}");
    let error = status["last_error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("certificate"), "the TLS error is shown: {status}");
    eprintln!("wrong CA: {error}");
    let (waiting, _) = hub.outbox();
    let store = hub.stop();
    assert!(!committed_sales(&store).is_empty(), "the hub sold without HQ");
    assert!(waiting > 0);
    let after = hq.messages().iter().filter(|m| m.topic.contains("/evt/")).count();
    assert_eq!(after, before, "no event arrived from the hub with the wrong CA");

    // A broken TLS file stops the hub at start, naming the file, before it opens the store
    // (which this test still holds).
    let missing = tmp.path().join("missing-ca.pem");
    let config = hub_config(&wrong_dir, 2, &mqtt(missing.to_str().unwrap()));
    let out = storehub_cmd(&["--config", config.to_str().unwrap(), "--data-dir", wrong_dir.join("hub").to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(78), "a config error (EX_CONFIG)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[mqtt].ca_file") && err.contains("missing-ca.pem") && err.contains("cannot read"), "{err}");
    drop(store);
}

// ------------------------------------------------------------------------------------------------
// Draining once (the bench's entry)
// ------------------------------------------------------------------------------------------------

#[test]
fn drain_publishes_the_whole_outbox_and_returns_when_it_is_empty() {
    use std::sync::Arc;
    let broker = Broker::start();
    let root = "storehub/v1/huamei/sh-001/hub-1";
    let hq = Hq::subscribe(broker.port, &format!("{root}/evt/#"));
    let common::Shop { dir, store, .. } = common::Shop::open();
    common::load(&store, &[common::water(), common::cestbon()]);
    for i in 0..300 {
        common::apply(&store, storehub::domain::stock::MoveKind::Receipt, if i % 2 == 0 { "SKU-010001" } else { "SKU-010003" }, 1 + i % 5);
    }
    let events = common::outbox(&store);
    let text = format!(
        "[store]\nchain_id = \"huamei\"\nstore_id = \"sh-001\"\nhub_id = \"hub-1\"\nname = \"t\"\n[data]\ndir = \"{}\"\n[mqtt]\nenabled = true\nurl = \"{}\"\ninflight = 7\n",
        dir.path().display(),
        broker.url()
    );
    let cfg = storehub::config::Config::from_str(&text, "t.toml").unwrap();
    let store = Arc::new(store);
    let relay = storehub::cloud::relay::Relay::new(&cfg, Arc::clone(&store), None, common::opening_time()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let summary = rt.block_on(relay.drain(Duration::from_secs(30))).unwrap();
    assert_eq!(summary.acknowledged, events.len() as u64);
    assert_eq!(store.outbox_stats().unwrap().count, 0);
    hq.wait_until(Duration::from_secs(10), "every event", |msgs| msgs.len() >= events.len());
    let ids: Vec<String> = hq.messages().iter().map(|m| m.json()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), "every event once, in order");
}


/// The price of a product as the hub's catalog holds it.
fn price_of(hub: &Hub, sku: &str) -> i64 {
    let found = hub.call(Request::ProductSearch { query: sku.into(), limit: 1 });
    assert_eq!(found[0]["sku"], sku);
    found[0]["price_fen"].as_i64().unwrap()
}

#[test]
fn hq_commands_over_the_broker_signed_forged_unsigned_invalid_repeated_and_held() {
    use storehub::cloud::commands::signature;
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start();
    let hq = Hq::subscribe(broker.port, &format!("{ROOT}/#"));
    let (pem, public) = signature::generate_pem().unwrap();
    let key = signature::load_pem(pem.as_bytes()).unwrap();
    let (forger_pem, _) = signature::generate_pem().unwrap();
    let forger = signature::load_pem(forger_pem.as_bytes()).unwrap();
    let mqtt = format!("enabled = true\nurl = \"{}\"\n{MQTT_TEST}require_signed_commands = true\ncommand_keys = [\"{public}\"]\n", broker.url());
    let config = hub_config(tmp.path(), 2, &mqtt);
    let hub = Hub::start(&config, &tmp.path().join("hub"), &[]);
    hq.wait_until(Duration::from_secs(20), "the hub online", |msgs| msgs.iter().any(|m| m.topic.ends_with("/status") && m.payload == b"online"));
    let before = price_of(&hub, "SKU-010001");
    let topic = |name: &str| format!("{ROOT}/cmd/{name}");

    // Signed by HQ's key: applied.
    let cmd = r#"{"id":"price-1","args":{"sku":"SKU-010001","price_fen":299}}"#;
    hq.publish(&topic("price.set"), signature::envelope(&key, "price.set", cmd));
    let r = hq.reply(ROOT, "price-1");
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(price_of(&hub, "SKU-010001"), 299);

    // The same command again: nothing changes, the first reply comes back marked duplicate.
    hq.publish(&topic("price.set"), signature::envelope(&key, "price.set", cmd));
    hq.wait_until(Duration::from_secs(20), "a second reply", |msgs| msgs.iter().filter(|m| m.topic.ends_with("/cmd-reply/price-1")).count() == 2);
    assert_eq!(hq.reply(ROOT, "price-1")["duplicate"], true);

    // Forged (another key), unsigned, and a schema error: refused, nothing changed.
    let forged = r#"{"id":"price-2","args":{"sku":"SKU-010001","price_fen":1}}"#;
    hq.publish(&topic("price.set"), signature::envelope(&forger, "price.set", forged));
    let r = hq.reply(ROOT, "price-2");
    assert_eq!(r["status"], "refused", "{r}");
    hq.publish(&topic("price.set"), r#"{"id":"price-3","args":{"sku":"SKU-010001","price_fen":1}}"#);
    let r = hq.reply(ROOT, "price-3");
    assert_eq!(r["status"], "refused", "{r}");
    assert!(r["error"].as_str().unwrap().contains("sign"), "{r}");
    let bad = r#"{"id":"price-4","args":{"sku":"SKU-010001","price_fen":"cheap"}}"#;
    hq.publish(&topic("price.set"), signature::envelope(&key, "price.set", bad));
    let r = hq.reply(ROOT, "price-4");
    assert_eq!((r["status"].as_str(), r["field"].as_str()), (Some("refused"), Some("args.price_fen")), "{r}");
    assert_eq!(price_of(&hub, "SKU-010001"), 299);

    // A price for three seconds from now: held, then applied on time by the hub itself.
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let held = format!(r#"{{"id":"price-5","effective_at":"{at}","args":{{"sku":"SKU-010001","price_fen":{before}}}}}"#);
    hq.publish(&topic("price.set"), signature::envelope(&key, "price.set", &held));
    assert_eq!(hq.reply(ROOT, "price-5")["status"], "held");
    assert_eq!(price_of(&hub, "SKU-010001"), 299, "held, not yet applied");
    hq.wait_until(Duration::from_secs(20), "the held command applied", |msgs| {
        msgs.iter().filter(|m| m.topic.ends_with("/cmd-reply/price-5")).any(|m| m.json()["status"] == "applied")
    });
    assert_eq!(price_of(&hub, "SKU-010001"), before);

    // HQ's view of the commands in the hub's status.
    let status = hub.cloud_status();
    assert!(status["commands_refused"].as_u64().unwrap() >= 3, "{status}");
    assert!(status["commands_applied"].as_u64().unwrap() >= 2, "{status}");
}
