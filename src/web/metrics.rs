//! `GET /metrics`: what the daemon already tracks, in the Prometheus text exposition format
//! 0.0.4, for HQ's Prometheus (docs/operations.md lists every metric).
//!
//! It exposes only figures the daemon keeps anyway (the outbox usage the store counts as it
//! commits, the relay's [`CloudState`](crate::cloud::CloudState), the device health board, the
//! store's journal and files, the open shifts) and invents none: a part that does not run in
//! this process (the relay, the device hub) leaves its families out. No member data, no error
//! texts (they may quote what was scanned). The sales families need a role that may see sales
//! figures ([`Action::ViewSales`]); the rest needs [`Action::ViewDevices`], so a scraper's
//! token (`storehub token add prometheus --role technician`) sees the box, not the takings.
//!
//! The format is small enough to write by hand ([`encode`], with its escaping tested below);
//! integers only, like every figure of the hub.

use std::path::Path;
use std::sync::Mutex;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::auth::Identity;
use super::routes::{Need, RouteDef};
use super::{AppState, Settings, WebError};
use crate::control::ops::Context;
use crate::domain::staff::{allows, Action};
use crate::store::{codec, Store, StoreError, TreeId};

/// The `Content-Type` of the text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> Vec<RouteDef> {
    vec![RouteDef::get(
        "/metrics",
        Need::May(Action::ViewDevices),
        "Prometheus metrics (text format 0.0.4): outbox, link to HQ, devices, store, lanes; sales for roles that see sales",
        metrics,
    )]
}

// --- the text format ---------------------------------------------------------------------------

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (from 0 when the daemon starts, unless its HELP says otherwise); the name
    /// ends in `_total`.
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// One sample: its labels (name, value) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: i64,
}

/// One metric family: `# HELP`, `# TYPE` and its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family { name, kind, help, samples: Vec::new() }
    }

    /// A family of one sample without labels.
    pub fn single(name: &'static str, kind: Kind, help: &'static str, value: i64) -> Family {
        Family::new(name, kind, help).with(&[], value)
    }

    /// Adds a sample.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: i64) -> Family {
        self.push(labels, value);
        self
    }

    pub fn push(&mut self, labels: &[(&'static str, &str)], value: i64) {
        self.samples.push(Sample { labels: labels.iter().map(|(k, v)| (*k, v.to_string())).collect(), value });
    }
}

/// A counter or gauge value from a `u64` (saturating: no figure of the hub comes near 2⁶³).
pub fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__") && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label value as the format wants it: `\` → `\\`, `"` → `\"`, newline → `\n`.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A HELP text as the format wants it: `\` → `\\`, newline → `\n`.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The families in the text format 0.0.4. Families without samples are left out.
pub fn encode(families: &[Family]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for f in families.iter().filter(|f| !f.samples.is_empty()) {
        debug_assert!(valid_metric_name(f.name), "metric name {}", f.name);
        debug_assert!(f.kind != Kind::Counter || f.name.ends_with("_total"), "counter {} must end in _total", f.name);
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
        for s in &f.samples {
            out.push_str(f.name);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    debug_assert!(valid_label_name(k), "label name {k}");
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape_label_value(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", s.value);
        }
    }
    out
}

// --- what the daemon tracks --------------------------------------------------------------------

/// Sales committed since this web server started, found by reading the sales written after the
/// last one counted (sale ids are handed out in order, without gaps): a scrape decodes only the
/// sales made since the previous one, and the checkout path is not touched.
#[derive(Debug)]
pub struct SalesTally {
    inner: Mutex<Tally>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    /// The last sale id counted (or present at start).
    last_id: u64,
    count: u64,
    amount_fen: i64,
}

impl SalesTally {
    /// Starts counting after the newest sale in `store`.
    pub fn starting_at(store: &Store) -> SalesTally {
        let last_id = match store.scan_rev::<crate::checkout::Sale>(TreeId::Sales).next() {
            Some(Ok((k, _))) => codec::key_u64(&k).unwrap_or(0),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "metrics: the newest sale does not read; sales are counted from the first");
                0
            }
            None => 0,
        };
        SalesTally { inner: Mutex::new(Tally { last_id, ..Tally::default() }) }
    }

    /// (sales, Σ their totals in fen) since start, after counting the sales committed since the
    /// last call.
    pub fn update(&self, store: &Store) -> Result<(u64, i64), StoreError> {
        let mut t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let from = t.last_id.saturating_add(1);
        for item in store.range_from(TreeId::Sales, &codec::u64_key(from)) {
            let (k, v) = item?;
            let sale: crate::checkout::Sale = codec::decode(&v)?;
            t.last_id = codec::key_u64(&k)?;
            t.count += 1;
            t.amount_fen = t.amount_fen.saturating_add(sale.priced.total_fen);
        }
        Ok((t.count, t.amount_fen))
    }
}

/// Answers the web gave since start, by status class (1xx … 5xx): five atomics bumped by a layer
/// around the router ([`count_requests`]).
#[derive(Debug, Default)]
pub struct HttpCounts {
    by_class: [std::sync::atomic::AtomicU64; 5],
}

impl HttpCounts {
    pub fn record(&self, status: axum::http::StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// (class, count): `("2xx", n)` …
    pub fn counts(&self) -> [(&'static str, u64); 5] {
        let n = |i: usize| self.by_class[i].load(std::sync::atomic::Ordering::Relaxed);
        [("1xx", n(0)), ("2xx", n(1)), ("3xx", n(2)), ("4xx", n(3)), ("5xx", n(4))]
    }
}

/// The layer that counts every answer (the router's outermost, so 404s and 413s count too).
pub async fn count_requests(State(counts): State<std::sync::Arc<HttpCounts>>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let res = next.run(req).await;
    counts.record(res.status());
    res
}

/// Bytes of the files under `dir` (its subdirectories too, up to `depth` levels); 0 when it does
/// not exist.
pub fn dir_bytes(dir: &Path, depth: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.path(), e.metadata().ok()?)))
        .map(|(path, meta)| match meta.is_dir() {
            true if depth > 0 => dir_bytes(&path, depth - 1),
            true => 0,
            false => meta.len(),
        })
        .sum()
}

/// The value of a store read, or `None` (logged) when the store cannot answer: the scrape still
/// answers, with that family left out and `storehub_healthy` 0, when the box is in trouble.
fn read<T>(what: &str, r: Result<T, StoreError>) -> Option<T> {
    r.map_err(|e| tracing::debug!(error = %e, "metrics: {what} not read")).ok()
}

/// Every family, read from the store and the daemon's shared state. Blocking (store reads, file
/// sizes, statvfs). `with_sales`: the caller may see sales figures. A store read that fails
/// leaves its family out rather than failing the scrape.
pub fn gather(store: &Store, ctx: &Context, settings: &Settings, sales: &SalesTally, http: &HttpCounts, with_sales: bool) -> Vec<Family> {
    use Kind::{Counter, Gauge};
    let now = store.clock().now();
    let mut out = vec![
        Family::new("storehub_build_info", Gauge, "The running storehub's version (always 1).").with(&[("version", env!("CARGO_PKG_VERSION"))], 1),
        Family::single("storehub_uptime_seconds", Gauge, "Seconds since the daemon started (by the hub's clock).", (now - ctx.started_at).num_seconds().max(0)),
    ];
    let health = super::healthz::check(store, ctx, settings);
    out.push(Family::single("storehub_healthy", Gauge, "1 when /healthz answers 200, 0 when it answers 503 (its body says why).", i64::from(health.problems.is_empty())));

    // The outbox: what waits for HQ.
    let usage = store.outbox_usage();
    out.push(Family::single("storehub_outbox_events", Gauge, "Events waiting in the outbox for HQ's acknowledgement.", int(usage.count)));
    out.push(Family::single("storehub_outbox_bytes", Gauge, "Encoded bytes of the events waiting in the outbox.", int(usage.bytes)));
    out.push(Family::single("storehub_outbox_budget_bytes", Gauge, "The outbox disk budget ([mqtt].outbox_budget_mb) in bytes.", int(settings.outbox_budget_bytes)));
    if let Some(first) = read("the oldest outbox event", store.outbox_batch(0, 1)) {
        let oldest = first.first().map_or(0, |e| (now - e.time).num_seconds().max(0));
        out.push(Family::single("storehub_outbox_oldest_age_seconds", Gauge, "Age of the oldest event waiting in the outbox (0 when none waits).", oldest));
    }
    if let Some(dropped) = read("the outbox drop count", store.outbox_dropped_total()) {
        out.push(Family::single("storehub_outbox_dropped_total", Counter, "Telemetry-class events the disk budget dropped from the outbox since the database was made (business events are never dropped).", int(dropped)));
    }

    // The link to HQ, as the relay last saw it.
    if let Some(cloud) = ctx.cloud.get() {
        let c = cloud.snapshot();
        out.push(Family::single("storehub_mqtt_enabled", Gauge, "1 when [mqtt].enabled: the relay publishes the outbox to HQ.", i64::from(c.enabled)));
        out.push(Family::single("storehub_mqtt_connected", Gauge, "1 while the relay is connected to the broker.", i64::from(c.connected)));
        out.push(Family::single("storehub_mqtt_connects_total", Counter, "Connections to the broker since start (the first one included).", int(c.connects)));
        out.push(Family::single("storehub_events_published_total", Counter, "Outbox events handed to the broker since start (a retry after a reconnect counts again).", int(c.published)));
        out.push(Family::single("storehub_events_acknowledged_total", Counter, "Outbox events the broker acknowledged (PUBACK) and the relay deleted, since start.", int(c.acknowledged)));
        out.push(Family::single("storehub_events_in_flight", Gauge, "Events published and not yet acknowledged.", int(c.in_flight)));
        out.push(Family::single("storehub_outbox_alarm", Gauge, "1 while business events alone exceed the outbox budget (the hub keeps selling).", i64::from(c.alarm.is_some())));
        out.push(Family::single("storehub_telemetry_messages_total", Counter, "Telemetry messages sent to HQ since start.", int(c.telemetry_sent)));
        out.push(
            Family::new("storehub_hq_commands_total", Counter, "HQ commands received since start, by what became of them.")
                .with(&[("outcome", "applied")], int(c.commands_applied))
                .with(&[("outcome", "refused")], int(c.commands_refused))
                .with(&[("outcome", "duplicate")], int(c.commands_duplicate))
                .with(&[("outcome", "held")], int(c.commands_held)),
        );
    }

    // Sales, for those who may see them.
    if let Some((count, amount)) = with_sales.then(|| read("the sales", sales.update(store))).flatten() {
        out.push(Family::single("storehub_sales_total", Counter, "Sales committed since the daemon started (every lane and the online channel).", int(count)));
        out.push(Family::single("storehub_sales_amount_fen_total", Counter, "Sum of the totals (as priced, before cash rounding) of the sales committed since the daemon started, in fen.", amount));
    }

    // Lanes: configured, and whether a shift is open on each.
    if let Some((setup, shifts)) = ctx.checkout.as_ref().zip(read("the open shifts", crate::staff::open_shifts(store))) {
        let open: Vec<String> = shifts.into_iter().map(|s| s.lane).collect();
        let mut f = Family::new("storehub_lane_shift_open", Gauge, "1 when the lane has an open shift (a cashier can sell there), per configured lane.");
        for lane in &setup.lane_ids {
            f.push(&[("lane", lane)], i64::from(open.contains(lane)));
        }
        out.push(f);
    }

    // Devices, as the health board knows them.
    if let Some(board) = ctx.devices.get() {
        let list = board.snapshot();
        let mut connected = Family::new("storehub_device_connected", Gauge, "1 while the device is connected, per configured device.");
        let mut events = Family::new("storehub_device_events_total", Counter, "Events (scans, weights, prints, readings) from the device since start.");
        let mut errors = Family::new("storehub_device_errors_total", Counter, "Errors from the device since start, by kind (garbage, crc, timeout, io, …).");
        let mut reconnects = Family::new("storehub_device_reconnects_total", Counter, "Times the device came back after a disconnect, since start.");
        for d in &list {
            let labels = [("device", d.id.as_str()), ("kind", d.kind.as_str())];
            connected.push(&labels, i64::from(d.connected));
            events.push(&labels, int(d.events));
            reconnects.push(&labels, int(d.reconnects));
            for (kind, n) in &d.errors {
                errors.push(&[("device", d.id.as_str()), ("kind", d.kind.as_str()), ("error", kind.as_str())], int(*n));
            }
        }
        out.extend([connected, events, errors, reconnects]);
    }

    // The web itself.
    let mut requests = Family::new("storehub_http_requests_total", Counter, "Answers of the LAN web since start, by status class (this scrape not yet counted).");
    for (class, n) in http.counts() {
        requests.push(&[("code", class)], int(n));
    }
    out.push(requests);

    // The store: files, journal, snapshots, commits, disk.
    let data = store.path();
    out.push(Family::single("storehub_db_size_bytes", Gauge, "Bytes of the sled database's files (DATA_DIR/db).", int(dir_bytes(&crate::store::db_path(data), 2))));
    out.push(Family::single("storehub_journal_size_bytes", Gauge, "Bytes of the commit journal's files (DATA_DIR/journal); a file is allocated whole, so this grows in steps.", int(dir_bytes(&crate::store::journal_path(data), 1))));
    out.push(Family::single("storehub_journal_written_bytes_total", Counter, "Bytes of commit journal records written since the store opened.", int(store.journal_bytes_written())));
    out.push(Family::single("storehub_journal_replayed_records", Gauge, "Journal records re-applied when the store opened (non-zero after an abrupt stop).", int(store.replayed().records)));
    if let Some((commits, syncs, _)) = store.sync_stats() {
        out.push(Family::single("storehub_store_commits_total", Counter, "Durable commits since the store opened.", int(commits)));
        out.push(Family::single("storehub_store_syncs_total", Counter, "Journal syncs (fdatasync) since the store opened; concurrent commits share one.", int(syncs)));
    }
    let snapshots = read("the snapshots", crate::store::snapshot::list(&crate::store::snapshot::snapshot_dir(data))).unwrap_or_default();
    out.push(Family::single("storehub_snapshots", Gauge, "Snapshots kept in DATA_DIR/snapshots.", int(snapshots.len() as u64)));
    if let Some((_, newest)) = snapshots.last() {
        let age = std::fs::metadata(newest).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).map_or(0, |d| int(d.as_secs()));
        out.push(Family::single("storehub_snapshot_newest_age_seconds", Gauge, "Seconds since the newest snapshot was written (by its file time).", age));
    }
    if let Some((free, total)) = crate::cloud::telemetry::disk_space(data) {
        out.push(Family::single("storehub_data_dir_free_bytes", Gauge, "Bytes free (to storehub) on the filesystem of the data dir.", int(free)));
        out.push(Family::single("storehub_data_dir_size_bytes", Gauge, "Size in bytes of the filesystem of the data dir.", int(total)));
    }
    out
}

async fn metrics(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let with_sales = allows(me.staff.role, Action::ViewSales);
    let (settings, sales, http) = (state.settings.clone(), state.sales.clone(), state.http.clone());
    let families = state.blocking(move |store, ctx| Ok(gather(store, ctx, &settings, &sales, &http, with_sales))).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")], encode(&families)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        // A device id as a technician might type it: C:\ports\"scanner"<newline>2.
        let f = Family::new("storehub_device_connected", Kind::Gauge, "1 while connected.\nPer device \\ id.").with(&[("device", "C:\\ports\\\"scanner\"\n2"), ("kind", "scanner")], 1);
        assert_eq!(
            encode(&[f]),
            "# HELP storehub_device_connected 1 while connected.\\nPer device \\\\ id.\n\
             # TYPE storehub_device_connected gauge\n\
             storehub_device_connected{device=\"C:\\\\ports\\\\\\\"scanner\\\"\\n2\",kind=\"scanner\"} 1\n"
        );
    }

    #[test]
    fn a_counter_without_labels_and_an_empty_family() {
        let families = [
            Family::single("storehub_sales_total", Kind::Counter, "Sales.", 3),
            Family::new("storehub_device_errors_total", Kind::Counter, "No device has erred: no lines at all."),
            Family::single("storehub_sales_amount_fen_total", Kind::Counter, "Fen.", -250),
        ];
        assert_eq!(
            encode(&families),
            "# HELP storehub_sales_total Sales.\n# TYPE storehub_sales_total counter\nstorehub_sales_total 3\n\
             # HELP storehub_sales_amount_fen_total Fen.\n# TYPE storehub_sales_amount_fen_total counter\nstorehub_sales_amount_fen_total -250\n"
        );
    }

    #[test]
    fn names_follow_the_format() {
        assert!(valid_metric_name("storehub_outbox_bytes") && valid_metric_name("a:b_c9") && valid_metric_name("_x"));
        assert!(!valid_metric_name("9lives") && !valid_metric_name("storehub-outbox") && !valid_metric_name(""));
        assert!(valid_label_name("device") && !valid_label_name("__name") && !valid_label_name("a:b") && !valid_label_name("1a"));
        assert_eq!(int(u64::MAX), i64::MAX);
        assert_eq!(int(42), 42);
    }

    #[test]
    fn answers_are_counted_by_status_class() {
        let c = HttpCounts::default();
        // Two pages, a redirect to the login, a 404, a 503 from /healthz.
        for code in [200, 200, 303, 404, 503] {
            c.record(axum::http::StatusCode::from_u16(code).unwrap_or_else(|e| panic!("{e}")));
        }
        assert_eq!(c.counts(), [("1xx", 0), ("2xx", 2), ("3xx", 1), ("4xx", 1), ("5xx", 1)]);
    }

    #[test]
    fn file_bytes_add_up_below_the_depth() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // 10 bytes at the top, 5 one level down, 7 two levels down (counted only with depth 2).
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("b/x"), [0u8; 5]).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("b/c/y"), [0u8; 7]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dir_bytes(dir.path(), 0), 10);
        assert_eq!(dir_bytes(dir.path(), 1), 15);
        assert_eq!(dir_bytes(dir.path(), 2), 22);
        assert_eq!(dir_bytes(&dir.path().join("missing"), 2), 0);
    }
}
