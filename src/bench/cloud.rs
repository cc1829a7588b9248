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
