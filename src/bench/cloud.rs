//! The cloud phase of `storehub bench`: how fast the relay drains a backlog into a local
//! Mosquitto, next to the physical limit for this client measured in the same run (a bare
//! rumqttc QoS 1 publish loop to the same broker with the same window and payload size), and the
//! latency from a commit to HQ's subscriber with no backlog.
//!
//! The broker is a real `mosquitto` process started here on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mosquitto started for the benchmark, killed when dropped.
pub struct BenchBroker {
    child: Child,
    pub port: u16,
}

impl BenchBroker {
    /// Starts `mosquitto` on a free 127.0.0.1 port with Nagle off and no per-client queue cap.
    pub fn start(dir: &Path) -> anyhow::Result<BenchBroker> {
        std::fs::create_dir_all(dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\nmax_queued_messages 0\nmax_inflight_messages 0\npersistence false\n"),
        )?;
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("mosquitto"));
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {} (install the Debian package mosquitto): {e}", bin.display()))?;
        let broker = BenchBroker { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "mosquitto did not listen on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(broker)
    }
}

impl Drop for BenchBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The physical limit for this client: `count` QoS 1 publishes of `payload_len` bytes with at
/// most `inflight` unacknowledged, from a bare rumqttc `AsyncClient`; returns publishes/s
/// counted from the first publish to the last PUBACK.
pub async fn bare_publish_rate(port: u16, count: u64, payload_len: usize, inflight: u16) -> anyhow::Result<f64> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(format!("bench-bare-{}", std::process::id()), "127.0.0.1", port);
    opts.set_inflight(inflight).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(opts, usize::from(inflight) * 2);
    // Wait for the connection before timing.
    loop {
        if let Event::Incoming(Packet::ConnAck(_)) = eventloop.poll().await? {
            break;
        }
    }
    let payload = vec![b'x'; payload_len];
    let publisher = {
        let client = client.clone();
        tokio::spawn(async move {
            for _ in 0..count {
                client.publish("storehub/bench/bare", QoS::AtLeastOnce, false, payload.clone()).await?;
            }
            Ok::<_, rumqttc::ClientError>(())
        })
    };
    let t = Instant::now();
    let mut acked = 0u64;
    while acked < count {
        if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await? {
            acked += 1;
        }
    }
    let elapsed = t.elapsed();
    publisher.await??;
    let _ = client.disconnect().await;
    Ok(count as f64 / elapsed.as_secs_f64().max(1e-9))
}

/// Events of a sale's size in the outbox: `count` `storehub.sale.completed`-shaped events
/// committed 1000 per commit. Returns the mean CloudEvents JSON length.
pub fn fill_outbox(store: &crate::store::Store, count: u64) -> anyhow::Result<usize> {
    let data = serde_json::json!({
        "sale_id": 0, "receipt_no": "L1-20261125-000001", "lane": "lane-1", "cashier": "wang", "member_id": 1042,
        "lines": [
            { "line_no": 1, "sku": "SKU-010001", "qty": { "units": 2 }, "gross_fen": 400, "net_fen": 400, "discounts": [] },
            { "line_no": 2, "sku": "SKU-020003", "qty": { "grams": 1250 }, "gross_fen": 1563, "net_fen": 1407, "discounts": [{ "source": { "member_tier": "gold" }, "amount_fen": 156 }] },
            { "line_no": 3, "sku": "SKU-030010", "qty": { "units": 1 }, "gross_fen": 1290, "net_fen": 1290, "discounts": [] }
        ],
        "subtotal_fen": 3253, "discount_fen": 156, "total_fen": 3097, "ticket_discounts": [],
        "tenders": [{ "kind": "card", "amount_fen": 3097 }], "change_fen": 0, "rounding_fen": 0,
        "points_earned": 30, "points_redeemed": 0, "coupons": []
    });
    let mut left = count;
    while left > 0 {
        let n = left.min(1000);
        store
            .commit(|tx| {
                for _ in 0..n {
                    tx.emit::<std::convert::Infallible>(crate::checkout::sale::EVENT_SALE_COMPLETED, Some("0"), &data)?;
                }
                Ok(())
            })
            .map_err(|e| anyhow::anyhow!("filling the outbox: {e}"))?;
        left -= n;
    }
    let sample = store.outbox_batch(0, 100)?;
    Ok(sample.iter().map(|e| e.to_cloudevent().to_string().len()).sum::<usize>() / sample.len().max(1))
}

/// Commit → HQ receipt with no backlog: a running relay, HQ subscribed to `…/evt/#`, one event
/// committed every `gap`; returns the latencies (commit start to HQ's receipt), in commit order.
pub async fn commit_to_hq_latency(
    store: std::sync::Arc<crate::store::Store>,
    cfg: &crate::config::Config,
    port: u16,
    count: usize,
    gap: Duration,
) -> anyhow::Result<Vec<Duration>> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let relay = crate::cloud::relay::Relay::new(cfg, Arc::clone(&store), None, store.clock().now())?;
    let handle = relay.start();
    let mut opts = MqttOptions::new(format!("bench-hq-{}", std::process::id()), "127.0.0.1", port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (hq, mut hq_loop) = AsyncClient::new(opts, 64);
    hq.subscribe(format!("{}/evt/#", cfg.topic_root()), QoS::AtLeastOnce).await?;
    let received: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let (sub_tx, sub_rx) = tokio::sync::oneshot::channel();
    let listener = {
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            let mut sub_tx = Some(sub_tx);
            loop {
                match hq_loop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(tx) = sub_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let at = Instant::now();
                        let seq = serde_json::from_slice::<serde_json::Value>(&p.payload)
                            .ok()
                            .and_then(|v| v["sequence"].as_str().and_then(|s| s.parse::<u64>().ok()));
                        if let Some(seq) = seq {
                            received.lock().unwrap_or_else(|e| e.into_inner()).entry(seq).or_insert(at);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(10), sub_rx).await.map_err(|_| anyhow::anyhow!("HQ did not subscribe within 10 s"))??;
    // Let the relay connect and drain anything left before timing.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(handle.status().snapshot().connected && store.outbox_usage().count == 0) {
        anyhow::ensure!(Instant::now() < deadline, "the relay did not connect and drain within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut sent: Vec<(u64, Instant)> = Vec::with_capacity(count);
    for i in 0..count {
        let s = Arc::clone(&store);
        let t = Instant::now();
        let seq = tokio::task::spawn_blocking(move || {
            s.commit(|tx| tx.emit::<std::convert::Infallible>("storehub.bench.ping", None, &serde_json::json!({ "i": i })))
        })
        .await?
        .map_err(|e| anyhow::anyhow!("commit: {e}"))?;
        sent.push((seq, t));
        tokio::time::sleep(gap).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = received.lock().unwrap_or_else(|e| e.into_inner()).len();
        if sent.iter().all(|(seq, _)| received.lock().unwrap_or_else(|e| e.into_inner()).contains_key(seq)) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "HQ received {got} of {count} events within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    listener.abort();
    handle.stop().await;
    let received = received.lock().unwrap_or_else(|e| e.into_inner());
    Ok(sent.iter().map(|(seq, t)| received[seq].saturating_duration_since(*t)).collect())
}

/// The figures of the cloud phase: bare publish rate, backlog drain, bare publish rate again
/// (the machine is shared: the drain is read against the mean of the two), and commit → HQ
/// latency.
pub fn figures(root: &Path, backlog: u64, log: &mut impl FnMut(&str)) -> anyhow::Result<Vec<super::Figure>> {
    use super::Figure;
    let broker = BenchBroker::start(&root.join("mosquitto"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut cfg = crate::config::Config::demo().map_err(|e| anyhow::anyhow!("{e}"))?;
    cfg.apply_mqtt_override(&format!("mqtt://127.0.0.1:{}", broker.port))?;
    cfg.mqtt.telemetry_interval_s = 0;
    let inflight = cfg.mqtt.inflight;
    let dir = root.join("cloud");
    let store = std::sync::Arc::new(super::open(&dir, crate::store::Durability::Durable)?);
    log(&format!("cloud: filling the outbox with {backlog} sale events …"));
    let payload = fill_outbox(&store, backlog)?;
    log("cloud: bare rumqttc QoS 1 publish loop …");
    let bare1 = rt.block_on(bare_publish_rate(broker.port, backlog, payload, inflight))?;
    log("cloud: relay drain …");
    let relay = crate::cloud::relay::Relay::new(&cfg, std::sync::Arc::clone(&store), None, store.clock().now())?;
    let summary = rt.block_on(relay.drain(Duration::from_secs(600))).map_err(|e| anyhow::anyhow!(e))?;
    anyhow::ensure!(store.outbox_usage().count == 0, "the outbox is not empty after the drain");
    let drain = backlog as f64 / summary.elapsed.as_secs_f64().max(1e-9);
    log("cloud: bare rumqttc QoS 1 publish loop again …");
    let bare2 = rt.block_on(bare_publish_rate(broker.port, backlog, payload, inflight))?;
    let bare = (bare1 + bare2) / 2.0;
    let mut figs = vec![
        Figure { name: format!("bare rumqttc QoS 1 publishes of {payload} bytes, {inflight} in flight (before the drain)"), value: bare1, unit: "publishes/s", note: "physical limit for this client".into() },
        Figure { name: format!("relay drain of a {backlog}-event backlog (read, CloudEvents JSON, publish, PUBACK, delete), {inflight} in flight"), value: drain, unit: "events/s", note: format!("{:.2}× the mean bare rate ({:.0}/s); {} published", drain / bare, bare, summary.published) },
        Figure { name: format!("bare rumqttc QoS 1 publishes of {payload} bytes, {inflight} in flight (after the drain)"), value: bare2, unit: "publishes/s", note: "physical limit for this client".into() },
    ];
    log("cloud: commit → HQ latency …");
    let count = 1000;
    let mut lat = rt.block_on(commit_to_hq_latency(std::sync::Arc::clone(&store), &cfg, broker.port, count, Duration::from_millis(10)))?;
    lat.sort();
    let q = |p: f64| super::quantile_us(&lat, p) / 1000.0;
    for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
        figs.push(Figure { name: format!("commit (durable) → HQ subscriber receipt, no backlog, {name} of {count}"), value: q(p), unit: "ms", note: format!("max {:.1} ms; target p99 < 50 ms", lat.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)) });
    }
    Ok(figs)
}
