//! A real Mosquitto broker for the MQTT tests, started on a free loopback port from a config file
//! written here, killed with SIGKILL to make outages and restarted on the same port; and `Hq`, a
//! subscriber standing in for HQ with its own rumqttc client. No broker is mocked.
//!
//! The broker keeps its sessions on disk (`persistence true`, saved every second), so HQ's
//! persistent subscription survives a kill the way it would on a clustered production broker:
//! without it, events the hub publishes between the broker's restart and HQ's re-subscription
//! would reach nobody. `max_queued_messages 0` lifts Mosquitto's default cap of 1000 queued
//! messages per client, which would drop events for a slow HQ during a backlog drain.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running (or killed) mosquitto on 127.0.0.1.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    conf: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// A free TCP port on 127.0.0.1 (bound and released; mosquitto binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Broker {
    /// A plain-TCP broker on a free loopback port.
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// A plain-TCP broker with extra lines in its config file.
    pub fn start_with(extra: &str) -> Broker {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let port = free_port();
        let listener = format!("listener {port} 127.0.0.1\nallow_anonymous true\n");
        Broker::start_in(dir, Some(tmp), port, &format!("{listener}{extra}"))
    }

    /// A broker in `dir` on `port` whose config is `listener_and_extra` plus the common settings.
    pub fn start_in(dir: PathBuf, tmp: Option<tempfile::TempDir>, port: u16, listener_and_extra: &str) -> Broker {
        let conf = dir.join("mosquitto.conf");
        let mut f = std::fs::File::create(&conf).unwrap();
        // Started as root, mosquitto would switch to the `mosquitto` user, which cannot write
        // its sessions or log into the test's private temp dir.
        if unsafe { libc::geteuid() } == 0 {
            writeln!(f, "user root").unwrap();
        }
        write!(
            f,
            "{listener_and_extra}\nset_tcp_nodelay true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest file {}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\n",
            dir.display(),
            dir.display()
        )
        .unwrap();
        let mut b = Broker { child: None, port, dir, conf, _tmp: tmp };
        b.restart();
        b
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGKILL: the broker vanishes without a word (no DISCONNECT, no will handling by us).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker (again) on the same port with the same config and waits until it
    /// accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the broker is already running");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut child = Command::new(mosquitto_bin())
                .arg("-c")
                .arg(&self.conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mosquitto (scripts/test.sh installs it)");
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    self.child = Some(child);
                    return;
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was not free yet (TIME_WAIT); try again
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(Instant::now() < deadline, "mosquitto did not start on port {}; its log:\n{}", self.port, self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The broker's log file, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Debian installs mosquitto in /usr/sbin, which is not on every user's PATH.
pub fn mosquitto_bin() -> PathBuf {
    for p in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("mosquitto")
}

/// One message HQ received.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.topic, String::from_utf8_lossy(&self.payload)))
    }
}

/// HQ: a rumqttc client with a persistent session subscribed (QoS 1) to `filter`, collecting
/// every message in arrival order, reconnecting on its own through broker outages.
pub struct Hq {
    pub client: rumqttc::Client,
    received: Arc<Mutex<Vec<Received>>>,
    connected: Arc<Mutex<bool>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Hq {
    /// Connects to the broker on `port` and subscribes to `filter`; returns once subscribed.
    pub fn subscribe(port: u16, filter: &str) -> Hq {
        let id = format!("hq-test-{}", fastrand::u64(..));
        let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        opts.set_clean_session(false).set_keep_alive(Duration::from_secs(5)).set_max_packet_size(16 << 20, 16 << 20);
        let (client, mut connection) = rumqttc::Client::new(opts, 1000);
        let received = Arc::new(Mutex::new(Vec::new()));
        let connected = Arc::new(Mutex::new(false));
        let subscribed = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (client, received, connected, subscribed, stop, filter) =
                (client.clone(), Arc::clone(&received), Arc::clone(&connected), Arc::clone(&subscribed), Arc::clone(&stop), filter.to_string());
            std::thread::spawn(move || {
                use rumqttc::{Event, Packet};
                for ev in connection.iter() {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    match ev {
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            *connected.lock().unwrap() = true;
                            if !ack.session_present {
                                let _ = client.try_subscribe(filter.clone(), rumqttc::QoS::AtLeastOnce);
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            *subscribed.0.lock().unwrap() = true;
                            subscribed.1.notify_all();
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            received.lock().unwrap().push(Received { topic: p.topic.clone(), payload: p.payload.to_vec(), retain: p.retain, at: Instant::now() });
                        }
                        Ok(_) => {}
                        Err(_) => {
                            *connected.lock().unwrap() = false;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            });
        }
        let (lock, cv) = &*subscribed;
        let guard = lock.lock().unwrap();
        let (guard, timeout) = cv.wait_timeout_while(guard, Duration::from_secs(15), |s| !*s).unwrap();
        assert!(*guard && !timeout.timed_out(), "HQ could not subscribe to {filter} on port {port}");
        Hq { client, received, connected, stop }
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Messages whose topic ends with `suffix`.
    pub fn on(&self, suffix: &str) -> Vec<Received> {
        self.messages().into_iter().filter(|m| m.topic.ends_with(suffix)).collect()
    }

    pub fn is_connected(&self) -> bool {
        *self.connected.lock().unwrap()
    }

    /// Waits until `done(messages)` holds, up to `timeout`; panics with `what` otherwise.
    pub fn wait_until(&self, timeout: Duration, what: &str, done: impl Fn(&[Received]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.received.lock().unwrap()) {
                return;
            }
            assert!(Instant::now() < deadline, "HQ waited {timeout:?} for {what}; received {} messages", self.received.lock().unwrap().len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The newest reply to command `id` under the topic root `root` (waits up to 20 s).
    pub fn reply(&self, root: &str, id: &str) -> serde_json::Value {
        let topic = format!("{root}/cmd-reply/{id}");
        self.wait_until(Duration::from_secs(20), &format!("a reply on {topic}"), |msgs| msgs.iter().any(|m| m.topic == topic));
        self.messages().into_iter().rev().find(|m| m.topic == topic).map(|m| m.json()).unwrap_or_default()
    }

    /// Publishes as HQ (commands down to the hub), QoS 1.
    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.into()).unwrap();
    }
}

impl Drop for Hq {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.client.try_disconnect();
    }
}
