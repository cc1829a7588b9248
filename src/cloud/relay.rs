//! The relay task: connects to the broker, drains the outbox in sequence order with a bounded
//! window of QoS 1 publishes in flight, deletes each event once its PUBACK arrives, and after a
//! reconnect resumes from the oldest unacknowledged event (at-least-once, ordered per hub).
//!
//! Shape: one tokio task owns the decisions; a second task per connection only polls rumqttc's
//! `EventLoop` and forwards its events (so keepalive and acks flow while the relay waits on the
//! store). Every connection error drops the client and event loop entirely: a fresh pair is
//! built after a backoff and draining starts again from the oldest event still in the outbox.
//! rumqttc's in-memory retransmission is never relied on; the outbox is the only queue.
//!
//! What it decides with is plain code tested below: [`Backoff`] (delays), [`Window`] (which
//! outbox sequence a packet id stands for, what the broker acknowledged), [`AlarmLog`].
//! The relay never holds the commit path: it reads with `outbox_batch`, deletes with a
//! write-behind `outbox_ack`, and nothing it does can fail a sale.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, LastWill, MqttOptions, Outgoing, Publish, QoS, TlsConfiguration, Transport};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::commands::{CommandReply, Commands, Outcome};
use super::telemetry::Sampler;
use super::tls::{self, TlsError};
use super::{CloudState, CloudStatus, LiveSettings, Topics};
use crate::config::Config;
use crate::devices::health::HealthBoard;
use crate::store::{OutboxEvent, Store};

/// A connection that stayed up this long resets the reconnect delay to its minimum.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);
/// How often the outbox is checked against its disk budget (connected or not).
const BACKLOG_EVERY: Duration = Duration::from_secs(5);
/// How often the alarm of an outbox over budget is logged again while it lasts.
const ALARM_LOG_EVERY: Duration = Duration::from_secs(60);
/// Acknowledged events are deleted at least this often, or sooner in batches of `ACK_BATCH`.
const ACK_FLUSH_EVERY: Duration = Duration::from_millis(50);
const ACK_BATCH: usize = 1024;
/// Acknowledged sequences kept for another try while the store refuses to delete them.
const MAX_PENDING_ACKS: usize = 65_536;
/// Events read from the outbox at once (at most). With the read ahead, at most twice this many
/// wait in memory.
const READ_BATCH: usize = 1024;
/// The next read starts when this few events are left to hand over, so that the read (and the
/// commits it waits behind) overlaps publishing.
const READ_AHEAD_AT: usize = READ_BATCH / 2;
/// rumqttc events handled in one pass of the session loop before the window is refilled.
const EVENT_BURST: usize = 256;
/// The outbox is read again this often even when no commit woke the relay.
const FALLBACK_EVERY: Duration = Duration::from_secs(5);
/// Largest MQTT packet either way: a catalog batch from HQ, a large sale to HQ.
const MAX_PACKET: usize = 16 << 20;
/// QoS 1 publishes other than outbox events (birth, replies) rumqttc may have in flight on top
/// of the outbox window; also the most such messages handed to the client and not yet sent.
const OTHER_HEADROOM: usize = 16;
/// Commands received and waiting their turn; more wait at the broker (they are not acked).
const MAX_QUEUED_COMMANDS: usize = 256;
/// Replies waiting for a connection.
const MAX_QUEUED_REPLIES: usize = 256;
/// How long a clean stop waits for the broker to acknowledge `offline`.
const GOODBYE_WAIT: Duration = Duration::from_secs(3);

/// Why the relay could not start. Every message names the key or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("[mqtt].url: missing required key when [mqtt].enabled = true")]
    NoUrl,
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("[mqtt]: {0}")]
    Commands(String),
}

// ------------------------------------------------------------------------------------------------
// Pure decisions
// ------------------------------------------------------------------------------------------------

/// Reconnect delays: the nominal delay starts at `min`, doubles after every failed attempt up
/// to `max`, and each actual delay is between ¾ of the nominal one and all of it (jitter, so a
/// thousand hubs that lost the same broker do not all knock at the same instant). A connection
/// that stayed up [`STABLE_AFTER`] resets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    min_ms: u64,
    max_ms: u64,
    nominal_ms: u64,
}

impl Backoff {
    pub fn new(min_ms: u64, max_ms: u64) -> Backoff {
        let min_ms = min_ms.max(1);
        let max_ms = max_ms.max(min_ms);
        Backoff { min_ms, max_ms, nominal_ms: min_ms }
    }

    /// The delay before the next attempt; `jitter` in `[0, 1)` (a random draw) takes up to a
    /// quarter off the nominal delay.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        let off = ((self.nominal_ms as f64) * jitter / 4.0) as u64;
        let delay = self.nominal_ms - off.min(self.nominal_ms);
        self.nominal_ms = self.nominal_ms.saturating_mul(2).min(self.max_ms);
        Duration::from_millis(delay)
    }

    /// A connection ended after being up `up_for` (None: it never came up).
    pub fn connection_ended(&mut self, up_for: Option<Duration>) {
        if up_for.is_some_and(|d| d >= STABLE_AFTER) {
            self.nominal_ms = self.min_ms;
        }
    }
}

/// What the relay handed to the MQTT client, in order. rumqttc reports each publish it puts on
/// the wire as `Outgoing::Publish(pkid)` in request order, which is how a packet id is tied to
/// an outbox sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handed {
    /// An outbox event (QoS 1).
    Event(u64),
    /// Anything else: birth, a command reply, telemetry (QoS 0 or 1).
    Other,
    /// The `offline` status published on a clean stop (QoS 1).
    Goodbye,
}

/// What a PUBACK acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    Event(u64),
    Other,
    Goodbye,
    /// A packet id the relay does not know (a late ack of something already settled).
    Unknown,
}

/// The relay's view of what happened to rumqttc's state does not add up; the connection is
/// dropped and draining restarts from the outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the MQTT client sent publish {pkid} but nothing was handed to it")]
    NothingHanded { pkid: u16 },
    #[error("outbox event {seq} went out as QoS 0")]
    EventWithoutPacketId { seq: u64 },
    #[error("packet id {pkid} reused while still waiting for its PUBACK")]
    PacketIdInUse { pkid: u16 },
}

/// The publishes of one connection: handed to the client, on the wire with a packet id, and
/// acknowledged. Outbox events published and not yet acknowledged form the window the relay
/// keeps at most `[mqtt].inflight` wide.
#[derive(Debug, Default)]
pub struct Window {
    handed: VecDeque<Handed>,
    on_wire: HashMap<u16, Handed>,
    unacked: BTreeSet<u64>,
}

impl Window {
    pub fn new() -> Window {
        Window::default()
    }

    /// Records a publish handed to the client, in the order of the calls.
    pub fn handed(&mut self, what: Handed) {
        if let Handed::Event(seq) = what {
            self.unacked.insert(seq);
        }
        self.handed.push_back(what);
    }

    /// rumqttc sent the next handed publish with packet id `pkid` (0 for QoS 0). Returns the
    /// outbox sequence when it was an event.
    pub fn outgoing_publish(&mut self, pkid: u16) -> Result<Option<u64>, WindowError> {
        let what = self.handed.pop_front().ok_or(WindowError::NothingHanded { pkid })?;
        if pkid == 0 {
            return match what {
                Handed::Event(seq) => Err(WindowError::EventWithoutPacketId { seq }),
                _ => Ok(None),
            };
        }
        if self.on_wire.insert(pkid, what).is_some() {
            return Err(WindowError::PacketIdInUse { pkid });
        }
        Ok(match what {
            Handed::Event(seq) => Some(seq),
            _ => None,
        })
    }

    /// The broker acknowledged packet id `pkid`.
    pub fn puback(&mut self, pkid: u16) -> Acked {
        match self.on_wire.remove(&pkid) {
            Some(Handed::Event(seq)) => {
                self.unacked.remove(&seq);
                Acked::Event(seq)
            }
            Some(Handed::Other) => Acked::Other,
            Some(Handed::Goodbye) => Acked::Goodbye,
            None => Acked::Unknown,
        }
    }

    /// Outbox events handed over in this connection and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.unacked.len()
    }

    /// Non-event publishes handed over and not yet sent by the client.
    pub fn others_waiting(&self) -> usize {
        self.handed.iter().filter(|h| !matches!(h, Handed::Event(_))).count()
    }

    /// Where the next connection starts reading: the oldest event this one published and did
    /// not see acknowledged, or `cursor` (the next unread sequence) when all were.
    pub fn resume_from(&self, cursor: u64) -> u64 {
        self.unacked.first().copied().unwrap_or(cursor).min(cursor)
    }
}

/// Logs the backlog alarm at most once a minute while it lasts (and at once when it changes).
#[derive(Debug, Default)]
pub struct AlarmLog {
    last: Option<(Instant, String)>,
}

impl AlarmLog {
    /// True when `alarm`, seen at `now`, should be logged.
    pub fn should_log(&mut self, alarm: Option<&str>, now: Instant) -> bool {
        let Some(alarm) = alarm else {
            self.last = None;
            return false;
        };
        let due = match &self.last {
            Some((at, text)) => text != alarm || now.duration_since(*at) >= ALARM_LOG_EVERY,
            None => true,
        };
        if due {
            self.last = Some((now, alarm.to_string()));
        }
        due
    }
}

/// rumqttc options for this hub: persistent session, client id, keepalive, credentials, the
/// window, manual acks for commands, the retained `offline` last will, TLS for `mqtts://`.
pub fn mqtt_options(cfg: &Config, tls: Option<Arc<rustls::ClientConfig>>) -> Result<MqttOptions, RelayError> {
    let m = &cfg.mqtt;
    let url = m.url.as_ref().ok_or(RelayError::NoUrl)?;
    let topics = Topics::from_config(cfg);
    let mut o = MqttOptions::new(cfg.mqtt_client_id(), url.host(), url.port());
    o.set_clean_session(false)
        .set_keep_alive(Duration::from_secs(u64::from(m.keepalive_s)))
        .set_manual_acks(true)
        .set_inflight(m.inflight.saturating_add(OTHER_HEADROOM as u16).max(1))
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_last_will(LastWill::new(topics.status(), "offline", QoS::AtLeastOnce, true));
    if let Some(user) = &m.username {
        let password = m.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
        o.set_credentials(user.clone(), password);
    }
    if url.tls() {
        let tls = match tls {
            Some(t) => t,
            None => tls::client_config(m)?,
        };
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(o)
}

// ------------------------------------------------------------------------------------------------
// The relay
// ------------------------------------------------------------------------------------------------

/// A relay ready to start: settings checked, TLS files loaded, commands set up. Built before the
/// runtime runs so a broken file stops the daemon at start.
pub struct Relay {
    options: MqttOptions,
    topics: Topics,
    window: usize,
    budget_bytes: u64,
    backoff: Backoff,
    store: Arc<Store>,
    devices: Option<Arc<HealthBoard>>,
    started_at: DateTime<Utc>,
    status: Arc<CloudStatus>,
    live: Arc<LiveSettings>,
    commands: Arc<Commands>,
}

impl Relay {
    pub fn new(cfg: &Config, store: Arc<Store>, devices: Option<Arc<HealthBoard>>, started_at: DateTime<Utc>) -> Result<Relay, RelayError> {
        let url = cfg.mqtt.url.as_ref().ok_or(RelayError::NoUrl)?;
        let tls = if url.tls() { Some(tls::client_config(&cfg.mqtt)?) } else { None };
        let options = mqtt_options(cfg, tls)?;
        let live = Arc::new(LiveSettings::from_config(cfg));
        let commands = Arc::new(Commands::new(Arc::clone(&store), cfg, Arc::clone(&live)).map_err(RelayError::Commands)?);
        let budget_bytes = u64::from(cfg.mqtt.outbox_budget_mb) * 1024 * 1024;
        let status = Arc::new(CloudStatus::new(CloudState {
            enabled: true,
            broker: Some(url.to_string()),
            client_id: Some(cfg.mqtt_client_id()),
            budget_bytes,
            ..CloudState::default()
        }));
        {
            let setup = commands.diag_setup();
            let mut setup = setup.lock().unwrap_or_else(|e| e.into_inner());
            setup.devices = devices.clone();
            setup.cloud = Some(Arc::clone(&status));
            setup.started_at = Some(started_at);
        }
        Ok(Relay {
            options,
            topics: Topics::from_config(cfg),
            window: usize::from(cfg.mqtt.inflight.max(1)),
            budget_bytes,
            backoff: Backoff::new(u64::from(cfg.mqtt.reconnect_min_ms), u64::from(cfg.mqtt.reconnect_max_ms)),
            store,
            devices,
            started_at,
            status,
            live,
            commands,
        })
    }

    /// The config file's text for `diag.collect` bundles (redacted when a bundle is built);
    /// without it a bundle's `config` is null.
    pub fn with_config_text(self, text: Option<String>) -> Relay {
        self.commands.diag_setup().lock().unwrap_or_else(|e| e.into_inner()).config_text = text;
        self
    }

    /// The shared status the relay keeps up to date.
    pub fn status(&self) -> Arc<CloudStatus> {
        Arc::clone(&self.status)
    }

    /// Settings HQ may change while the relay runs.
    pub fn live(&self) -> Arc<LiveSettings> {
        Arc::clone(&self.live)
    }

    /// Starts the relay and the backlog check on the current tokio runtime.
    pub fn start(self) -> RelayHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let status = self.status();
        let backlog = tokio::spawn(backlog_loop(Arc::clone(&self.store), Arc::clone(&self.status), self.budget_bytes));
        let task = tokio::spawn(RelayTask::new(self, stop_rx, false).run());
        RelayHandle { status, stop: stop_tx, task, backlog }
    }

    /// Connects, publishes every event in the outbox (and those committed meanwhile) until it
    /// is empty and all are acknowledged, then disconnects cleanly. For `storehub bench` and
    /// one-off drains; fails after `timeout`.
    pub async fn drain(self, timeout: Duration) -> Result<DrainSummary, String> {
        let started = Instant::now();
        let status = self.status();
        let (stop_tx, stop_rx) = watch::channel(false);
        let backlog = tokio::spawn(backlog_loop(Arc::clone(&self.store), Arc::clone(&self.status), self.budget_bytes));
        let task = tokio::spawn(RelayTask::new(self, stop_rx, true).run());
        let done = tokio::time::timeout(timeout, task).await;
        backlog.abort();
        let s = status.snapshot();
        match done {
            Ok(Ok(())) => Ok(DrainSummary { published: s.published, acknowledged: s.acknowledged, elapsed: started.elapsed() }),
            Ok(Err(e)) => Err(format!("the relay task failed: {e}")),
            Err(_) => {
                let _ = stop_tx.send(true);
                Err(format!(
                    "the outbox was not drained in {timeout:?}: {} published, {} acknowledged, {} still waiting; last error: {}",
                    s.published,
                    s.acknowledged,
                    s.outbox_depth,
                    s.last_error.as_deref().unwrap_or("none")
                ))
            }
        }
    }
}

/// What [`Relay::drain`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainSummary {
    pub published: u64,
    pub acknowledged: u64,
    pub elapsed: Duration,
}

/// The running relay.
pub struct RelayHandle {
    status: Arc<CloudStatus>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    backlog: JoinHandle<()>,
}

impl RelayHandle {
    pub fn status(&self) -> Arc<CloudStatus> {
        Arc::clone(&self.status)
    }

    /// Stops cleanly: publishes `offline` (retained) when connected, records what the broker
    /// acknowledged, disconnects. Gives up after a few seconds.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(GOODBYE_WAIT + Duration::from_secs(3), &mut task).await.is_err() {
            tracing::warn!("the MQTT relay did not stop in time");
            task.abort();
        }
        self.backlog.abort();
    }
}

/// Checks the outbox against its budget every few seconds, connected or not.
async fn backlog_loop(store: Arc<Store>, status: Arc<CloudStatus>, budget_bytes: u64) {
    let mut tick = tokio::time::interval(BACKLOG_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut alarm_log = AlarmLog::default();
    loop {
        tick.tick().await;
        let s = Arc::clone(&store);
        let checked = tokio::task::spawn_blocking(move || {
            let now = s.clock().now();
            super::backlog::enforce(&s, budget_bytes, now)
        })
        .await;
        match checked {
            Ok(Ok(check)) => {
                if alarm_log.should_log(check.alarm.as_deref(), Instant::now()) {
                    if let Some(alarm) = &check.alarm {
                        tracing::error!(depth = check.depth, bytes = check.bytes, budget_bytes, "OUTBOX OVER BUDGET: {alarm}");
                    }
                }
                if check.dropped > 0 {
                    tracing::warn!(dropped = check.dropped, "outbox over budget: telemetry-class events dropped");
                }
                status.update(|st| {
                    st.outbox_depth = check.depth;
                    st.outbox_bytes = check.bytes;
                    st.oldest_age_s = check.oldest_age_s;
                    st.dropped_telemetry += check.dropped;
                    st.alarm = check.alarm.clone();
                });
            }
            Ok(Err(e)) => tracing::error!(error = %e, "outbox budget check failed"),
            Err(e) => tracing::error!(error = %e, "outbox budget check task failed"),
        }
    }
}

/// How a delete of acknowledged events ended: how many, or the error and the sequences to try
/// again.
type AckResult = Result<u64, (String, Vec<u64>)>;

/// A command job: one command handled, or the held commands that came due.
enum JobDone {
    Handled { publish: Publish, generation: u64, reply: CommandReply },
    Due(Vec<CommandReply>),
}

/// How a connection ended.
enum End {
    /// Asked to stop (or, draining, the outbox is empty).
    Stopped,
    Lost(String),
}

/// The relay's state across connections.
struct RelayTask {
    r: Relay,
    stop: watch::Receiver<bool>,
    until_empty: bool,
    /// The next connection starts reading here.
    resume_from: u64,
    /// Acknowledged, not yet deleted.
    pending_acks: Vec<u64>,
    /// The delete of acknowledged events that is running, if any.
    acking: Option<JoinHandle<AckResult>>,
    /// Counts connections, so a command handled across a reconnect is not acked on the new one.
    generation: u64,
    job: Option<JoinHandle<JobDone>>,
    due_wanted: bool,
    replies: VecDeque<CommandReply>,
    sampler: Option<Sampler>,
    telemetry: Option<JoinHandle<(Sampler, serde_json::Value)>>,
    last_telemetry: Option<Instant>,
    /// The current outage was logged (reset by a connection).
    outage_logged: bool,
}

/// One connection's state.
struct Conn {
    client: AsyncClient,
    events: mpsc::Receiver<Result<Event, rumqttc::ConnectionError>>,
    poller: JoinHandle<()>,
    window: Window,
    /// Next outbox sequence to read.
    cursor: u64,
    /// Read and not yet handed to the client.
    buffer: VecDeque<OutboxEvent>,
    /// The next read, started while the buffer still held events so publishing never waits
    /// for the disk (it reads from `cursor`, which moves only when the read is taken).
    reading: Option<JoinHandle<Result<Vec<OutboxEvent>, crate::store::StoreError>>>,
    /// The last read found nothing new: wait for a commit (or the fallback tick).
    idle: bool,
    last_read_empty: bool,
    connected_at: Option<Instant>,
    commands: VecDeque<Publish>,
}

impl Conn {
    /// Where the next connection starts reading: the oldest event handed over and not
    /// acknowledged, or read and not handed over, or the next unread one.
    fn resume_from(&self) -> u64 {
        let from = self.window.resume_from(self.cursor);
        self.buffer.front().map_or(from, |ev| from.min(ev.seq))
    }
}

impl RelayTask {
    fn new(r: Relay, stop: watch::Receiver<bool>, until_empty: bool) -> RelayTask {
        RelayTask {
            r,
            stop,
            until_empty,
            resume_from: 0,
            pending_acks: Vec::new(),
            acking: None,
            generation: 0,
            job: None,
            due_wanted: false,
            replies: VecDeque::new(),
            sampler: Some(Sampler::new()),
            telemetry: None,
            last_telemetry: None,
            outage_logged: false,
        }
    }

    async fn run(mut self) {
        loop {
            // Asked to stop, or the handle is gone (nobody could ask any more).
            if *self.stop.borrow() || self.stop.has_changed().is_err() {
                break;
            }
            self.generation += 1;
            let mut conn = self.connect();
            let end = self.session(&mut conn).await;
            conn.poller.abort();
            self.resume_from = conn.resume_from();
            let up_for = conn.connected_at.map(|t| t.elapsed());
            drop(conn);
            self.flush_acks().await;
            match end {
                End::Stopped => {
                    self.mark_down(None);
                    break;
                }
                End::Lost(error) => {
                    // One warning per outage; the attempts after it are in the status.
                    if up_for.is_some() || !self.outage_logged {
                        let what = if up_for.is_some() { "MQTT connection lost" } else { "MQTT broker unreachable" };
                        tracing::warn!(broker = %self.broker(), error = %error, "{what}; retrying with backoff");
                        self.outage_logged = true;
                    } else {
                        tracing::debug!(error = %error, "MQTT connection attempt failed");
                    }
                    self.mark_down(Some(error));
                    self.r.backoff.connection_ended(up_for);
                    let delay = self.r.backoff.next_delay(fastrand::f64());
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.stop.changed() => {}
                    }
                }
            }
        }
        // A command being handled finishes (it commits). It was not acknowledged, so the broker
        // delivers it again next time and the duplicate check answers it.
        if let Some(job) = self.job.take() {
            let _ = job.await;
        }
    }

    fn broker(&self) -> String {
        self.r.status.snapshot().broker.unwrap_or_default()
    }

    /// A fresh client and event loop, with a task forwarding the loop's events.
    fn connect(&self) -> Conn {
        let cap = self.r.window + OTHER_HEADROOM * 2 + 8;
        let (client, eventloop) = AsyncClient::new(self.r.options.clone(), cap);
        let (tx, rx) = mpsc::channel(1024);
        let poller = tokio::spawn(poll_events(eventloop, tx));
        Conn {
            client,
            events: rx,
            poller,
            window: Window::new(),
            cursor: self.resume_from,
            buffer: VecDeque::new(),
            idle: false,
            reading: None,
            last_read_empty: false,
            connected_at: None,
            commands: VecDeque::new(),
        }
    }

    async fn session(&mut self, c: &mut Conn) -> End {
        let mut outbox_watch = self.r.store.watch_outbox();
        let mut watch_alive = true;
        let mut ack_tick = tokio::time::interval(ACK_FLUSH_EVERY);
        ack_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut second = tokio::time::interval(Duration::from_secs(1));
        second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_fallback = Instant::now();
        loop {
            tokio::select! {
                ev = c.events.recv() => match ev {
                    Some(Ok(ev)) => {
                        if let Err(e) = self.on_event(c, ev) {
                            return End::Lost(e);
                        }
                        // Take what else is already waiting (PUBACKs come in bursts) before
                        // refilling the window: one pass of this loop per burst, not per ack.
                        for _ in 0..EVENT_BURST {
                            match c.events.try_recv() {
                                Ok(Ok(ev)) => {
                                    if let Err(e) = self.on_event(c, ev) {
                                        return End::Lost(e);
                                    }
                                }
                                Ok(Err(e)) => return End::Lost(e.to_string()),
                                Err(_) => break,
                            }
                        }
                    }
                    Some(Err(e)) => return End::Lost(e.to_string()),
                    None => return End::Lost("the MQTT event loop ended".into()),
                },
                changed = outbox_watch.changed(), if watch_alive => {
                    if changed.is_err() {
                        watch_alive = false;
                    }
                    c.idle = false;
                }
                _ = ack_tick.tick() => self.start_acks(),
                done = wait_job(&mut self.acking), if self.acking.is_some() => {
                    self.acking = None;
                    self.acks_done(done);
                    if self.pending_acks.len() >= ACK_BATCH {
                        self.start_acks();
                    }
                }
                _ = second.tick() => {
                    self.due_wanted = true;
                    if last_fallback.elapsed() >= FALLBACK_EVERY {
                        last_fallback = Instant::now();
                        c.idle = false;
                    }
                    self.maybe_sample(c);
                }
                done = wait_job(&mut self.job), if self.job.is_some() => {
                    self.job = None;
                    match done {
                        Ok(done) => self.job_done(c, done),
                        Err(e) => tracing::error!(error = %e, "HQ command task failed"),
                    }
                }
                sampled = wait_job(&mut self.telemetry), if self.telemetry.is_some() => {
                    self.telemetry = None;
                    match sampled {
                        Ok((sampler, body)) => {
                            self.sampler = Some(sampler);
                            self.publish_telemetry(c, body);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "telemetry task failed");
                            self.sampler = Some(Sampler::new());
                        }
                    }
                }
                _ = self.stop.changed() => {
                    self.goodbye(c).await;
                    return End::Stopped;
                }
            }
            if c.connected_at.is_some() {
                self.next_job(c);
                self.send_replies(c);
                if let Err(e) = self.fill(c).await {
                    return End::Lost(e);
                }
                if self.pending_acks.len() >= ACK_BATCH {
                    self.start_acks();
                }
                if self.until_empty && c.buffer.is_empty() && c.window.in_flight() == 0 && c.last_read_empty {
                    self.flush_acks().await;
                    self.goodbye(c).await;
                    return End::Stopped;
                }
            }
        }
    }

    /// One event from rumqttc. An error ends the connection.
    fn on_event(&mut self, c: &mut Conn, ev: Event) -> Result<(), String> {
        match ev {
            Event::Incoming(Incoming::ConnAck(ack)) => {
                c.connected_at = Some(Instant::now());
                self.outage_logged = false;
                c.idle = false;
                let now = self.r.store.clock().now();
                self.r.status.update(|s| {
                    s.connected = true;
                    s.since = Some(now);
                    s.connects += 1;
                });
                tracing::info!(broker = %self.broker(), session_present = ack.session_present, resume_from = c.cursor, "MQTT connected");
                // Birth, then the command subscription (again: harmless with a kept session,
                // needed when the broker lost it).
                self.hand(c, Handed::Other, self.r.topics.status(), QoS::AtLeastOnce, true, b"online".to_vec())?;
                c.client.try_subscribe(self.r.topics.commands_filter(), QoS::AtLeastOnce).map_err(|e| format!("subscribe: {e}"))?;
                self.last_telemetry = None;
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                let event = c.window.outgoing_publish(pkid).map_err(|e| e.to_string())?;
                if event.is_some() {
                    self.r.status.update(|s| s.published += 1);
                }
            }
            Event::Incoming(Incoming::PubAck(ack)) => {
                if let Acked::Event(seq) = c.window.puback(ack.pkid) {
                    self.pending_acks.push(seq);
                    let n = c.window.in_flight() as u64;
                    self.r.status.update(|s| s.in_flight = n);
                }
            }
            Event::Incoming(Incoming::Publish(p)) => {
                if self.r.topics.command_name(&p.topic).is_some() {
                    if c.commands.len() < MAX_QUEUED_COMMANDS {
                        c.commands.push_back(p);
                    } else {
                        // Not acked: the broker keeps it and delivers it again after a reconnect.
                        tracing::warn!(topic = %p.topic, "too many HQ commands waiting; this one waits at the broker");
                    }
                } else if let Err(e) = c.client.try_ack(&p) {
                    tracing::debug!(error = %e, "ack of a stray message not sent");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Hands one publish to the client and records it in the window.
    fn hand(&self, c: &mut Conn, what: Handed, topic: String, qos: QoS, retain: bool, payload: Vec<u8>) -> Result<(), String> {
        c.client.try_publish(topic, qos, retain, payload).map_err(|e| format!("publish: {e}"))?;
        c.window.handed(what);
        Ok(())
    }

    /// Publishes outbox events while the window has room, reading more when needed.
    async fn fill(&mut self, c: &mut Conn) -> Result<(), String> {
        while c.window.in_flight() < self.r.window {
            if c.buffer.is_empty() {
                if c.idle {
                    return Ok(());
                }
                let want = READ_BATCH.max(self.r.window);
                let read = match c.reading.take() {
                    Some(read) => read,
                    None => self.start_read(c.cursor),
                };
                let batch = read.await.map_err(|e| format!("outbox read task: {e}"))?;
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        // The store is in trouble; selling decides what to do about it. Try
                        // again on the next tick.
                        tracing::error!(error = %e, "outbox read failed");
                        c.idle = true;
                        return Ok(());
                    }
                };
                c.last_read_empty = batch.is_empty();
                // Draining to empty never idles: it must see the read that finds nothing.
                c.idle = !self.until_empty && batch.len() < want;
                if let Some(last) = batch.last() {
                    c.cursor = last.seq + 1;
                }
                c.buffer.extend(batch);
                if c.buffer.is_empty() {
                    return Ok(());
                }
            }
            let Some(ev) = c.buffer.pop_front() else { return Ok(()) };
            if c.reading.is_none() && !c.idle && c.buffer.len() <= READ_AHEAD_AT.max(self.r.window) {
                c.reading = Some(self.start_read(c.cursor));
            }
            let body = ev.to_cloudevent_json();
            let (seq, topic) = (ev.seq, self.r.topics.event(&ev.event_type));
            if let Err(e) = self.hand(c, Handed::Event(seq), topic, QoS::AtLeastOnce, false, body) {
                // Not handed over: the next connection starts with it.
                c.buffer.push_front(ev);
                return Err(e);
            }
            c.last_read_empty = false;
        }
        let n = c.window.in_flight() as u64;
        self.r.status.update(|s| s.in_flight = n);
        Ok(())
    }

    /// Records the link as down (`since` moves only when it was up), with the error that ended
    /// it, if any.
    fn mark_down(&self, error: Option<String>) {
        let now = self.r.store.clock().now();
        self.r.status.update(|s| {
            if s.connected {
                s.since = Some(now);
            }
            s.connected = false;
            s.in_flight = 0;
            if error.is_some() {
                s.last_error = error;
            }
        });
    }

    /// Reads the next batch of the outbox from `from` on a blocking thread.
    fn start_read(&self, from: u64) -> JoinHandle<Result<Vec<OutboxEvent>, crate::store::StoreError>> {
        let store = Arc::clone(&self.r.store);
        let want = READ_BATCH.max(self.r.window);
        tokio::task::spawn_blocking(move || store.outbox_batch(from, want))
    }

    /// Starts deleting the acknowledged events on a blocking thread, unless a delete is already
    /// running (the next one takes everything acknowledged meanwhile). Publishing goes on while
    /// it runs: the deletes are a write-behind commit, and nothing the relay reads next depends
    /// on them (it reads from its cursor, past every acknowledged event).
    fn start_acks(&mut self) {
        if self.acking.is_some() || self.pending_acks.is_empty() {
            return;
        }
        let seqs = std::mem::take(&mut self.pending_acks);
        let store = Arc::clone(&self.r.store);
        self.acking = Some(tokio::task::spawn_blocking(move || match store.outbox_ack(&seqs) {
            Ok(()) => Ok(seqs.len() as u64),
            Err(e) => Err((e.to_string(), seqs)),
        }));
    }

    /// Records how a delete started by [`start_acks`](Self::start_acks) ended.
    fn acks_done(&mut self, result: Result<AckResult, tokio::task::JoinError>) {
        match result {
            Ok(Ok(n)) => self.r.status.update(|s| s.acknowledged += n),
            Ok(Err((e, mut seqs))) => {
                // Tried again on the next tick. Past the cap the rest stay in the outbox and go
                // out again after a restart: at-least-once still holds.
                tracing::error!(error = %e, "acknowledged outbox events not deleted; retrying");
                seqs.append(&mut self.pending_acks);
                seqs.truncate(MAX_PENDING_ACKS);
                self.pending_acks = seqs;
            }
            Err(e) => tracing::error!(error = %e, "outbox ack task failed"),
        }
    }

    /// Waits for the running delete, then deletes what is still acknowledged and waiting (one
    /// attempt: a failure leaves it for the next connection's ticks).
    async fn flush_acks(&mut self) {
        for _ in 0..2 {
            if let Some(running) = self.acking.take() {
                let done = running.await;
                self.acks_done(done);
            }
            if self.pending_acks.is_empty() {
                return;
            }
            self.start_acks();
        }
        if let Some(running) = self.acking.take() {
            let done = running.await;
            self.acks_done(done);
        }
    }

    /// Starts the next command job when none runs: the oldest command received, else the held
    /// commands due.
    fn next_job(&mut self, c: &mut Conn) {
        if self.job.is_some() {
            return;
        }
        let commands = Arc::clone(&self.r.commands);
        if let Some(publish) = c.commands.pop_front() {
            self.r.status.update(|s| s.commands_received += 1);
            let generation = self.generation;
            let name = self.r.topics.command_name(&publish.topic).unwrap_or_default().to_string();
            self.job = Some(tokio::task::spawn_blocking(move || {
                let reply = commands.handle(&name, &publish.payload);
                JobDone::Handled { publish, generation, reply }
            }));
        } else if self.due_wanted && self.replies.len() < MAX_QUEUED_REPLIES {
            self.due_wanted = false;
            self.job = Some(tokio::task::spawn_blocking(move || JobDone::Due(commands.run_due())));
        }
    }

    fn job_done(&mut self, c: &mut Conn, done: JobDone) {
        match done {
            JobDone::Handled { publish, generation, reply } => {
                self.count(&reply);
                tracing::info!(id = %reply.id, outcome = ?reply.outcome, topic = %publish.topic, "HQ command");
                self.queue_reply(reply);
                self.send_replies(c);
                // Acked only once handled, and only on the connection it came on; after a
                // reconnect the broker delivers it again and the duplicate check answers.
                if generation == self.generation && c.connected_at.is_some() {
                    if let Err(e) = c.client.try_ack(&publish) {
                        tracing::warn!(error = %e, "command ack not sent; the broker will deliver it again");
                    }
                }
            }
            JobDone::Due(replies) => {
                for reply in replies {
                    self.count(&reply);
                    tracing::info!(id = %reply.id, outcome = ?reply.outcome, "held HQ command applied");
                    self.queue_reply(reply);
                }
                self.send_replies(c);
            }
        }
    }

    fn count(&self, reply: &CommandReply) {
        self.r.status.update(|s| match reply.outcome {
            Outcome::Applied => s.commands_applied += 1,
            Outcome::Held => s.commands_held += 1,
            Outcome::Duplicate => s.commands_duplicate += 1,
            Outcome::Refused => s.commands_refused += 1,
        });
    }

    fn queue_reply(&mut self, reply: CommandReply) {
        if self.replies.len() >= MAX_QUEUED_REPLIES {
            if let Some(old) = self.replies.pop_front() {
                tracing::warn!(id = %old.id, "command reply dropped: too many waiting for the broker");
            }
        }
        self.replies.push_back(reply);
    }

    /// Publishes waiting replies (QoS 1) while connected and the client has room.
    fn send_replies(&mut self, c: &mut Conn) {
        while c.connected_at.is_some() && c.window.others_waiting() < OTHER_HEADROOM {
            let Some(mut reply) = self.replies.pop_front() else { return };
            // A diag.collect bundle goes first (manifest, then its parts), then the reply.
            if !reply.uploads.is_empty() {
                let (topic, payload) = reply.uploads.remove(0);
                if let Err(e) = self.hand(c, Handed::Other, topic.clone(), QoS::AtLeastOnce, false, payload.clone()) {
                    tracing::warn!(error = %e, id = %reply.id, "diagnostic part not handed to the client; trying again");
                    reply.uploads.insert(0, (topic, payload));
                    self.replies.push_front(reply);
                    return;
                }
                self.replies.push_front(reply);
                continue;
            }
            let body = serde_json::to_vec(&reply.body).unwrap_or_default();
            if let Err(e) = self.hand(c, Handed::Other, self.r.topics.command_reply(&reply.id), QoS::AtLeastOnce, false, body) {
                tracing::warn!(error = %e, id = %reply.id, "command reply not handed to the client; trying again");
                self.replies.push_front(reply);
                return;
            }
        }
    }

    /// Starts a telemetry sample when connected and the interval has passed.
    fn maybe_sample(&mut self, c: &Conn) {
        let interval = self.r.live.telemetry_interval_s.load(std::sync::atomic::Ordering::Relaxed);
        if interval == 0 || c.connected_at.is_none() || self.telemetry.is_some() {
            return;
        }
        if self.last_telemetry.is_some_and(|t| t.elapsed() < Duration::from_secs(u64::from(interval))) {
            return;
        }
        let Some(mut sampler) = self.sampler.take() else { return };
        self.last_telemetry = Some(Instant::now());
        let (store, devices, status, started_at) = (Arc::clone(&self.r.store), self.r.devices.clone(), Arc::clone(&self.r.status), self.r.started_at);
        self.telemetry = Some(tokio::task::spawn_blocking(move || {
            let now = store.clock().now();
            let body = sampler.sample(&store, devices.as_deref(), &status.snapshot(), started_at, now);
            (sampler, body)
        }));
    }

    fn publish_telemetry(&mut self, c: &mut Conn, body: serde_json::Value) {
        if c.connected_at.is_none() || c.window.others_waiting() >= OTHER_HEADROOM {
            return;
        }
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        match self.hand(c, Handed::Other, self.r.topics.telemetry(), QoS::AtMostOnce, false, bytes) {
            Ok(()) => self.r.status.update(|s| s.telemetry_sent += 1),
            Err(e) => tracing::debug!(error = %e, "telemetry not sent"),
        }
    }

    /// A clean stop on a live connection: `offline` (retained, QoS 1), wait for its PUBACK while
    /// still recording the outbox acks that arrive, then DISCONNECT (no last will).
    async fn goodbye(&mut self, c: &mut Conn) {
        if c.connected_at.is_none() {
            return;
        }
        if let Err(e) = self.hand(c, Handed::Goodbye, self.r.topics.status(), QoS::AtLeastOnce, true, b"offline".to_vec()) {
            tracing::warn!(error = %e, "offline status not sent");
            return;
        }
        let deadline = tokio::time::Instant::now() + GOODBYE_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, c.events.recv()).await {
                Ok(Some(Ok(Event::Incoming(Incoming::PubAck(ack))))) => match c.window.puback(ack.pkid) {
                    Acked::Goodbye => break,
                    Acked::Event(seq) => self.pending_acks.push(seq),
                    _ => {}
                },
                Ok(Some(Ok(Event::Outgoing(Outgoing::Publish(pkid))))) => {
                    if c.window.outgoing_publish(pkid).is_err() {
                        break;
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => {
                    tracing::warn!("the broker did not acknowledge the offline status");
                    return;
                }
            }
        }
        if c.client.try_disconnect().is_ok() {
            // Wait until the DISCONNECT is on the wire (or the loop ends).
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Some(Ok(ev)) = c.events.recv().await {
                    if matches!(ev, Event::Outgoing(Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
        tracing::info!("MQTT disconnected cleanly");
    }
}

/// Waits for an optional job (only polled when it is Some).
async fn wait_job<T>(job: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match job.as_mut() {
        Some(j) => j.await,
        None => std::future::pending().await,
    }
}

/// Polls rumqttc's event loop and forwards its events until the first error (which it forwards
/// too): the relay builds a new loop rather than letting this one reconnect.
async fn poll_events(mut eventloop: EventLoop, tx: mpsc::Sender<Result<Event, rumqttc::ConnectionError>>) {
    loop {
        let ev = eventloop.poll().await;
        let failed = ev.is_err();
        if tx.send(ev).await.is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_500_ms_to_30_s_with_up_to_a_quarter_off() {
        let mut b = Backoff::new(500, 30_000);
        let nominal: Vec<u64> = (0..9).map(|_| b.next_delay(0.0).as_millis() as u64).collect();
        assert_eq!(nominal, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
        let mut b = Backoff::new(500, 30_000);
        // A draw of 0.5 takes an eighth off: 500 → 438 ms, 1000 → 875 ms.
        assert_eq!(b.next_delay(0.5), Duration::from_millis(438));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(875));
        // The most jitter can take is a quarter: 2000 → 1500 ms.
        assert_eq!(b.next_delay(1.0), Duration::from_millis(1_500));
        assert_eq!(b.next_delay(f64::NAN), Duration::from_millis(4_000));
    }

    #[test]
    fn backoff_resets_only_after_a_connection_that_stayed_up() {
        let mut b = Backoff::new(500, 30_000);
        for _ in 0..4 {
            b.next_delay(0.0);
        }
        b.connection_ended(None);
        assert_eq!(b.next_delay(0.0), Duration::from_millis(8_000));
        b.connection_ended(Some(Duration::from_secs(3)));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(16_000));
        b.connection_ended(Some(STABLE_AFTER));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(500));
        // min above max: max is raised to min.
        let mut b = Backoff::new(2_000, 1_000);
        assert_eq!(b.next_delay(0.0), Duration::from_millis(2_000));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(2_000));
    }

    #[test]
    fn packet_ids_map_to_outbox_sequences_in_request_order() {
        let mut w = Window::new();
        // Birth, events 7 and 8, a QoS 0 telemetry message, event 9.
        w.handed(Handed::Other);
        w.handed(Handed::Event(7));
        w.handed(Handed::Event(8));
        w.handed(Handed::Other);
        w.handed(Handed::Event(9));
        assert_eq!(w.in_flight(), 3);
        assert_eq!(w.others_waiting(), 2);
        assert_eq!(w.outgoing_publish(1), Ok(None));
        assert_eq!(w.outgoing_publish(2), Ok(Some(7)));
        assert_eq!(w.outgoing_publish(3), Ok(Some(8)));
        assert_eq!(w.outgoing_publish(0), Ok(None));
        assert_eq!(w.others_waiting(), 0);
        assert_eq!(w.puback(1), Acked::Other);
        assert_eq!(w.puback(3), Acked::Event(8));
        // 7 is still unacknowledged: a reconnect resumes there, not after 8.
        assert_eq!(w.resume_from(10), 7);
        assert_eq!(w.in_flight(), 2);
        assert_eq!(w.puback(2), Acked::Event(7));
        // 9 was handed but not yet sent: still in flight, still the place to resume.
        assert_eq!(w.resume_from(10), 9);
        assert_eq!(w.outgoing_publish(1), Ok(Some(9)));
        assert_eq!(w.puback(1), Acked::Event(9));
        assert_eq!(w.puback(1), Acked::Unknown);
        assert_eq!(w.in_flight(), 0);
        assert_eq!(w.resume_from(10), 10);
    }

    #[test]
    fn a_window_that_does_not_add_up_is_an_error() {
        let mut w = Window::new();
        assert_eq!(w.outgoing_publish(4), Err(WindowError::NothingHanded { pkid: 4 }));
        w.handed(Handed::Event(1));
        assert_eq!(w.outgoing_publish(0), Err(WindowError::EventWithoutPacketId { seq: 1 }));
        let mut w = Window::new();
        w.handed(Handed::Event(1));
        w.handed(Handed::Event(2));
        assert_eq!(w.outgoing_publish(5), Ok(Some(1)));
        assert_eq!(w.outgoing_publish(5), Err(WindowError::PacketIdInUse { pkid: 5 }));
    }

    #[test]
    fn the_goodbye_is_told_apart() {
        let mut w = Window::new();
        w.handed(Handed::Event(3));
        w.handed(Handed::Goodbye);
        assert_eq!(w.outgoing_publish(1), Ok(Some(3)));
        assert_eq!(w.outgoing_publish(2), Ok(None));
        assert_eq!(w.puback(2), Acked::Goodbye);
        assert_eq!(w.puback(1), Acked::Event(3));
    }

    #[test]
    fn the_alarm_is_logged_once_a_minute_or_when_it_changes() {
        let mut log = AlarmLog::default();
        let t0 = Instant::now();
        assert!(!log.should_log(None, t0));
        assert!(log.should_log(Some("over budget by 3 MB"), t0));
        assert!(!log.should_log(Some("over budget by 3 MB"), t0 + Duration::from_secs(5)));
        assert!(log.should_log(Some("over budget by 4 MB"), t0 + Duration::from_secs(10)));
        assert!(!log.should_log(Some("over budget by 4 MB"), t0 + Duration::from_secs(69)));
        assert!(log.should_log(Some("over budget by 4 MB"), t0 + Duration::from_secs(70)));
        assert!(!log.should_log(None, t0 + Duration::from_secs(80)));
        assert!(log.should_log(Some("over budget by 4 MB"), t0 + Duration::from_secs(81)));
    }

    fn config(extra: &str) -> Config {
        let text = format!(
            "[store]\nchain_id = \"huamei\"\nstore_id = \"sh-001\"\nhub_id = \"hub-1\"\nname = \"t\"\n[data]\ndir = \"/tmp/x\"\n[mqtt]\nenabled = true\n{extra}"
        );
        Config::from_str(&text, "t.toml").unwrap()
    }

    #[test]
    fn options_keep_the_session_and_leave_a_will() {
        let cfg = config("url = \"mqtt://127.0.0.1:1884\"\nusername = \"hub\"\npassword = \"pw\"\ninflight = 20\nkeepalive_s = 15\n");
        let o = mqtt_options(&cfg, None).unwrap();
        assert_eq!(o.client_id(), "storehub-huamei-sh-001-hub-1");
        assert_eq!(o.broker_address(), ("127.0.0.1".to_string(), 1884));
        assert!(!o.clean_session());
        assert!(o.manual_acks());
        assert_eq!(o.keep_alive(), Duration::from_secs(15));
        assert_eq!(o.inflight(), 20 + OTHER_HEADROOM as u16);
        let will = o.last_will().unwrap();
        assert_eq!(will.topic, "storehub/v1/huamei/sh-001/hub-1/status");
        assert_eq!(&will.message[..], b"offline");
        assert!(will.retain);
        assert_eq!(will.qos, QoS::AtLeastOnce);
        let login = o.credentials().unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("hub", "pw"));
    }

    #[test]
    fn a_missing_ca_file_stops_the_relay_at_start() {
        let cfg = config("url = \"mqtts://broker.example.cn\"\nca_file = \"/nonexistent/ca.pem\"\n");
        let e = mqtt_options(&cfg, None).unwrap_err().to_string();
        assert!(e.contains("[mqtt].ca_file") && e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
