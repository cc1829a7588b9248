//! The long-running process behind `storehub run` and `storehub demo`: opens the store, serves
//! the control socket, tells systemd it is ready and keeps its watchdog fed while healthy
//! (`crate::watchdog`), and shuts down
//! cleanly on SIGTERM / Ctrl-C. The cloud relay runs on its runtime and stops first at shutdown
//! (it publishes `offline` and records what the broker acknowledged). Later parts (web) start
//! here too.

use std::sync::Arc;
use std::time::Duration;

use crate::control::ops::Context;
use crate::control::server::ControlServer;
use crate::control::socket_path;
use crate::store::Store;

/// Automatic snapshots.
pub struct Snapshots {
    pub every: Duration,
    pub keep: usize,
}

/// The LAN web server to start: its socket, bound before the daemon starts so a taken port is
/// reported at once, and its settings.
pub struct Web {
    pub listener: std::net::TcpListener,
    pub settings: crate::web::Settings,
    /// HTTPS ([web].https); plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Runs until SIGTERM or SIGINT. `relay` (when `[mqtt].enabled`) is started here, on the
/// daemon's runtime, and its status published in `ctx.cloud`; so is the web server.
pub async fn run(store: Arc<Store>, ctx: Context, snapshots: Option<Snapshots>, relay: Option<crate::cloud::relay::Relay>, web: Option<Web>) -> anyhow::Result<()> {
    let sock = socket_path(store.path());
    let server = ControlServer::bind(&sock)
        .map_err(|e| anyhow::anyhow!("cannot open the control socket {}: {e}", sock.display()))?;
    tracing::info!(socket = %sock.display(), "control socket ready");
    if crate::privacy::current().is_none() {
        // The till works without it, but a stolen SD card would show members' phones and names.
        tracing::warn!("no PII key is loaded: members' personal data is stored unencrypted; run `storehub privacy init-key` (docs/privacy.md)");
    }
    let relay = match relay {
        Some(relay) => {
            let _ = ctx.cloud.set(relay.status());
            tracing::info!("MQTT relay started");
            Some(relay.start())
        }
        None => {
            // Off: `storehub cloud status` says so; events wait in the outbox.
            let _ = ctx.cloud.set(Arc::new(crate::cloud::CloudStatus::new(crate::cloud::CloudState::default())));
            None
        }
    };
    let loyalty = ctx.loyalty.clone();
    let campaign_settings = ctx.campaigns.clone();
    let ctx = Arc::new(ctx);
    let (web_stop, web_stopped) = tokio::sync::oneshot::channel::<()>();
    let web = match web {
        Some(w) => {
            w.listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(w.listener)?;
            let addr = listener.local_addr()?;
            let state = crate::web::AppState::new(Arc::clone(&store), Arc::clone(&ctx), w.settings);
            tracing::info!(%addr, https = w.tls.is_some(), "web server listening");
            Some(tokio::spawn(crate::web::serve_with(listener, w.tls, state, async move {
                let _ = web_stopped.await;
            })))
        }
        None => None,
    };
    let replenishment = tokio::spawn(replenishment_daily(Arc::clone(&store), Arc::clone(&ctx)));
    let rule_mining = tokio::spawn(rule_mining_daily(Arc::clone(&store), Arc::clone(&ctx)));
    let serve = tokio::spawn(server.serve(Arc::clone(&store), ctx));
    let nightly = tokio::spawn(nightly_jobs(Arc::clone(&store), loyalty));
    let campaigns = tokio::spawn(campaign_ticks(Arc::clone(&store), campaign_settings));
    let release = tokio::spawn(release_held_messages(Arc::clone(&store)));

    notify_systemd("READY=1\nSTATUS=serving");
    // Keep-alives only while healthy (crate::watchdog): a hung or write-failing hub is restarted.
    let watchdog = crate::watchdog::interval_from_env().map(|every| tokio::spawn(crate::watchdog::keep_alive(Arc::clone(&store), every, notify_systemd)));

    let snapshotter = snapshots.map(|cfg| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.every);
            loop {
                // The first tick fires at once: a snapshot at start covers what the journal
                // replay restored.
                tick.tick().await;
                if !crate::domain::disk::allows(store.disk_level(), crate::domain::disk::Write::Snapshot) {
                    tracing::warn!("snapshot skipped: the disk is almost full (the disk guard); sales go on");
                    continue;
                }
                let s = Arc::clone(&store);
                match tokio::task::spawn_blocking(move || s.snapshot(cfg.keep)).await {
                    Ok(Ok(info)) => tracing::info!(path = %info.path, journal_seq = info.journal_seq, bytes = info.bytes, "snapshot written"),
                    Ok(Err(e)) => tracing::error!(error = %e, "snapshot failed"),
                    Err(e) => tracing::error!(error = %e, "snapshot task failed"),
                }
            }
        })
    });

    wait_for_shutdown().await;
    if let Some(s) = snapshotter {
        s.abort();
    }
    nightly.abort();
    replenishment.abort();
    rule_mining.abort();
    campaigns.abort();
    release.abort();
    tracing::info!("shutting down");
    notify_systemd("STOPPING=1");
    if let Some(relay) = relay {
        relay.stop().await;
    }
    let _ = web_stop.send(());
    if let Some(w) = web {
        // Open event streams (cashier screens) never end by themselves: give requests a moment.
        if tokio::time::timeout(Duration::from_secs(2), w).await.is_err() {
            tracing::info!("web connections closed at shutdown");
        }
    }
    serve.abort();
    let _ = serve.await;
    if let Some(w) = watchdog {
        w.abort();
    }
    let flush = Arc::clone(&store);
    tokio::task::spawn_blocking(move || flush.flush()).await??;
    Ok(())
}

/// The daily member and coupon jobs (points expiry, tier downgrades with their grace period,
/// birthday rewards, coupon expiry): run at start and again whenever the shop-local date changes.
/// Each job is idempotent for a day, so a restart that runs them twice changes nothing.
async fn nightly_jobs(store: Arc<Store>, loyalty: crate::members::LoyaltyRules) {
    let mut ran_for: Option<chrono::NaiveDate> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if ran_for == Some(loyalty.today(store.clock().now())) {
            continue;
        }
        let (s, rules) = (Arc::clone(&store), loyalty.clone());
        match tokio::task::spawn_blocking(move || daily_jobs_tick(&s, ran_for, &rules)).await {
            Ok(Some(day)) => ran_for = Some(day),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "daily jobs task failed"),
        }
    }
}

/// One tick of the daily jobs: runs them ([`run_daily_jobs`]) when the shop-local date is not
/// `ran_for` and the clock is sane (`clock_watch::jobs_may_run`); the date it ran them for, or
/// None when it did not. A tick skipped for the clock is not lost: the next tick with a sane
/// clock runs today's jobs, and each job catches up everything due by that date.
pub fn daily_jobs_tick(store: &Store, ran_for: Option<chrono::NaiveDate>, rules: &crate::members::LoyaltyRules) -> Option<chrono::NaiveDate> {
    let today = rules.today(store.clock().now());
    if ran_for == Some(today) || !crate::clock_watch::jobs_may_run(store, "daily member and coupon jobs") {
        return None;
    }
    run_daily_jobs(store, today, rules);
    Some(today)
}

/// The daily replenishment run (`inventory::replenishment::run`) at `[stock].replenishment_at`
/// shop-local, checked each minute; also at start when today's run is missing and the time has
/// passed (`replenishment::due`). A failed run is logged and tried again a minute later.
async fn replenishment_daily(store: Arc<Store>, ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let now = crate::clock::local(store.clock().now(), ctx.tz);
        let last = match crate::inventory::replenishment::latest_run(&store) {
            Ok(run) => run.map(|r| r.day),
            Err(e) => {
                tracing::error!(error = %e, "replenishment: cannot read the last run");
                continue;
            }
        };
        let Some(day) = crate::inventory::replenishment::due(now, ctx.stock.replenishment_at, last) else { continue };
        let s = Arc::clone(&store);
        if !matches!(tokio::task::spawn_blocking(move || crate::clock_watch::jobs_may_run(&s, "replenishment")).await, Ok(true)) {
            continue;
        }
        let (s, c) = (Arc::clone(&store), Arc::clone(&ctx));
        let done = tokio::task::spawn_blocking(move || crate::inventory::replenishment::run(&s, &c.stock, c.tz, &c.loyalty, day)).await;
        match done {
            Ok(Ok(r)) => tracing::info!(day = %r.day, skus = r.skus, to_order = r.to_order, urgent = r.urgent, took_ms = r.took_ms, "replenishment run"),
            Ok(Err(e)) => tracing::error!(error = %e, "replenishment run failed"),
            Err(e) => tracing::error!(error = %e, "replenishment task failed"),
        }
    }
}

/// The nightly association-rule mining (`members::recommend::run`) at `[recommend].mine_at`
/// shop-local, checked each minute; also at start when today's run is missing and the time has
/// passed (the same rule as replenishment's, `replenishment::due`). A failed run is logged and
/// tried again a minute later.
async fn rule_mining_daily(store: Arc<Store>, ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let now = crate::clock::local(store.clock().now(), ctx.recommend.tz);
        let last = match crate::members::recommend::latest_run(&store) {
            Ok(run) => run.map(|r| r.day),
            Err(e) => {
                tracing::error!(error = %e, "rule mining: cannot read the last run");
                continue;
            }
        };
        let Some(day) = crate::inventory::replenishment::due(now, ctx.recommend.config.mine_at, last) else { continue };
        let s = Arc::clone(&store);
        if !matches!(tokio::task::spawn_blocking(move || crate::clock_watch::jobs_may_run(&s, "rule mining")).await, Ok(true)) {
            continue;
        }
        let (s, c) = (Arc::clone(&store), Arc::clone(&ctx));
        match tokio::task::spawn_blocking(move || crate::members::recommend::run(&s, &c.recommend, day)).await {
            Ok(Ok(r)) => tracing::info!(day = %r.day, baskets = r.baskets, sku_rules = r.sku_rules, category_rules = r.category_rules, took_ms = r.took_ms, "association rules mined"),
            Ok(Err(e)) => tracing::error!(error = %e, "rule mining failed"),
            Err(e) => tracing::error!(error = %e, "rule mining task failed"),
        }
    }
}

/// Campaigns each minute (`members::campaigns::tick`): scheduled ones launched when their start
/// comes, launches cut short resumed, running ones finished when their response window ends.
async fn campaign_ticks(store: Arc<Store>, settings: crate::members::campaigns::CampaignSettings) {
    let settings = Arc::new(settings);
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let (s, settings) = (Arc::clone(&store), Arc::clone(&settings));
        let done = tokio::task::spawn_blocking(move || {
            if !crate::clock_watch::jobs_may_run(&s, "campaign tick") {
                return Ok(None);
            }
            let ctx = crate::members::campaigns::LaunchContext::from_settings(&settings);
            crate::members::campaigns::tick(&s, &settings, &ctx).map(Some)
        })
        .await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "campaign tick failed"),
            Err(e) => tracing::error!(error = %e, "campaign tick task failed"),
        }
    }
}

/// Each minute, member messages held for the quiet hours whose time came go to the outbox
/// (`members::messages::release_due`, idempotent; the first run is at start). Runs one second
/// into each wall-clock minute, since quiet hours end on a whole minute: a message held until
/// 09:00 leaves at 09:00:01, not up to a minute later.
async fn release_held_messages(store: Arc<Store>) {
    loop {
        let s = Arc::clone(&store);
        let done = tokio::task::spawn_blocking(move || crate::members::messages::release_due(&s, s.clock().now())).await;
        match done {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(released = n, "held messages released"),
            Ok(Err(e)) => tracing::error!(error = %e, "releasing held messages failed"),
            Err(e) => tracing::error!(error = %e, "message release task failed"),
        }
        tokio::time::sleep(until_next_minute(store.clock().now())).await;
    }
}

/// From `now` to one second past the next whole minute (1.001–61 s).
fn until_next_minute(now: chrono::DateTime<chrono::Utc>) -> Duration {
    use chrono::Timelike;
    let into_minute = u64::from(now.second().min(59)) * 1_000 + u64::from(now.timestamp_subsec_millis().min(999));
    Duration::from_millis(61_000 - into_minute)
}

/// One day's jobs; each failure is logged and the others still run.
pub fn run_daily_jobs(store: &Store, today: chrono::NaiveDate, rules: &crate::members::LoyaltyRules) {
    use crate::members::MemberJob;
    for job in [MemberJob::ExpirePoints, MemberJob::Tiers, MemberJob::Birthdays] {
        match job.run(store, today, rules) {
            Ok(summary) => tracing::info!(job = job.as_str(), %today, summary = %serde_json::to_string(&summary).unwrap_or_default(), "daily job done"),
            Err(e) => tracing::error!(job = job.as_str(), %today, error = %e, "daily job failed"),
        }
    }
    match crate::coupons::expire_due(store, today) {
        Ok(n) => tracing::info!(job = "expire_coupons", %today, expired = n, "daily job done"),
        Err(e) => tracing::error!(job = "expire_coupons", %today, error = %e, "daily job failed"),
    }
    // Member profiles of sales made before profiles existed: derived once per database.
    match crate::members::profile::build_once(store, rules.timezone) {
        Ok(Some(n)) => tracing::info!(job = "member_profiles", profiles = n, "member profiles derived from the stored sales"),
        Ok(None) => {}
        Err(e) => tracing::error!(job = "member_profiles", error = %e, "deriving member profiles failed"),
    }
}

async fn wait_for_shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
}

/// Sends a state line to systemd when started with `Type=notify` (no-op otherwise).
pub fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(_) => return,
    };
    let bytes = path.as_encoded_bytes();
    let result = if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// Starts the configured devices: scanners and scales feed their lanes, shelf sensors feed the
/// shelf tracker (its outbox events), lane results refresh the customer displays, and the
/// health board is published in `ctx` for `storehub devices`. None when no device is
/// configured.
pub fn start_devices(cfg: &crate::config::Config, store: &Arc<Store>, ctx: &Context) -> anyhow::Result<Option<crate::devices::hub::DeviceHub>> {
    use crate::devices::display::DisplayUpdate;
    use crate::devices::{drive, health::HealthBoard, hub::DeviceHub, shelf::Shelves, DeviceEvent};
    if cfg.devices.is_empty() {
        // No shelf to watch; the alert output still follows the alerts.
        if cfg.stock.alert_gpio_pin.is_some() {
            let health = Arc::new(HealthBoard::new());
            start_stock_triggers(&cfg.stock, store, None, Arc::clone(&health));
            let _ = ctx.devices.set(health);
        }
        return Ok(None);
    }
    let health = Arc::new(HealthBoard::new());
    let lanes = match &ctx.checkout {
        Some(setup) if !setup.lane_ids.is_empty() => Some(ctx.lanes.get(store, setup, &ctx.layouts).map_err(|e| anyhow::anyhow!(e))?),
        _ => None,
    };
    let shelves = Arc::new(Shelves::from_config(&cfg.devices).with_health(Arc::clone(&health)));
    let other = {
        let (store, shelves) = (Arc::clone(store), Arc::clone(&shelves));
        Arc::new(move |ev: &DeviceEvent| match ev {
            DeviceEvent::ShelfWeight { .. } => {
                // Errors are counted in the device's health by the tracker.
                if let Err(e) = shelves.handle(&store, ev) {
                    tracing::debug!(error = %e, "shelf reading not recorded");
                }
            }
            DeviceEvent::Beam { .. } => {
                if let Err(e) = crate::devices::shelf::tracker::record_beam(&store, ev) {
                    tracing::error!(error = %e, "beam event not recorded");
                }
            }
            _ => tracing::debug!(?ev, "device event for no lane"),
        })
    };
    // Customer displays: after each scan, the line and the cart's total with its discounts.
    let displays: Vec<(String, String)> = cfg
        .devices
        .iter()
        .filter(|d| d.kind == crate::config::DeviceKind::Display)
        .filter_map(|d| Some((d.lane.as_ref()?.as_str().to_string(), d.id.as_str().to_string())))
        .collect();
    let on_update: crate::devices::hub::OnLaneUpdate = {
        let (store, lanes, setup, loyalty) = (Arc::clone(store), lanes.clone(), ctx.checkout.clone(), ctx.loyalty.clone());
        Box::new(move |u: crate::checkout::LaneUpdate| {
            let (Some(lanes), Some(setup)) = (&lanes, &setup) else { return };
            for (_, display) in displays.iter().filter(|(lane, _)| *lane == u.lane) {
                let Some(Ok(crate::checkout::ScanOutcome::Added { line })) = &u.outcome else { continue };
                let Ok(rules) = crate::control::lanes::rules(&store, setup, &loyalty) else { continue };
                let Ok(priced) = lanes.quote(&u.lane, &rules) else { continue };
                let net = priced.lines.iter().find(|l| l.line_no == line.line_no).map(|l| l.gross_fen).unwrap_or(0);
                let update = DisplayUpdate::Cart { last: Some((line.name_en.clone(), net)), total_fen: priced.total_fen };
                // A display that lags loses this view; the next scan sends a fresh one.
                let _ = drive::display_channel(display).0.try_send(update);
            }
        })
    };
    let hub = DeviceHub::start(&cfg.devices, drive::drive, Arc::clone(&health), Arc::clone(store.clock()), Arc::clone(store), lanes, other, on_update);
    start_stock_triggers(&cfg.stock, store, Some(shelves), Arc::clone(&health));
    let _ = ctx.devices.set(health);
    tracing::info!(devices = cfg.devices.len(), "devices started");
    Ok(Some(hub))
}

/// Health-board id of the alert output (`[stock].alert_gpio_pin`).
pub const ALERT_OUTPUT_ID: &str = "alert-output";

/// The stock triggers' thread (`stock-triggers`): each minute the shelf-gap check
/// (`inventory::shelf_triggers::check_gaps`) when shelves are configured, and each second the
/// alert output on `[stock].alert_gpio_pin` follows the open alerts. A GPIO that cannot be opened
/// or written is logged and shown on the health board (`alert-output`), and the daemon goes on.
/// The thread ends when the store is dropped.
pub fn start_stock_triggers(stock: &crate::config::StockConfig, store: &Arc<Store>, shelves: Option<Arc<crate::devices::shelf::Shelves>>, health: Arc<crate::devices::health::HealthBoard>) {
    start_stock_triggers_with(stock, store, shelves, health, crate::devices::transport::gpio::RppalGpio::new);
}

/// [`start_stock_triggers`] with the GPIO opened by `open_gpio` (the simulated pin bank in tests).
pub fn start_stock_triggers_with<G: crate::devices::transport::gpio::Gpio + 'static>(
    stock: &crate::config::StockConfig,
    store: &Arc<Store>,
    shelves: Option<Arc<crate::devices::shelf::Shelves>>,
    health: Arc<crate::devices::health::HealthBoard>,
    open_gpio: impl FnOnce() -> Result<G, crate::devices::transport::gpio::GpioError>,
) {
    use crate::devices::health::DeviceHealth;
    use crate::inventory::shelf_triggers::{check_gaps, AlertLamp};
    let now = store.clock().now();
    let lamp = stock.alert_gpio_pin.and_then(|pin| {
        health.register(DeviceHealth::new(ALERT_OUTPUT_ID, "alert_output", "gpio", "gpio", &format!("BCM {pin}"), None));
        match open_gpio().and_then(|g| AlertLamp::open(g, pin)) {
            Ok(lamp) => {
                health.set_connected(ALERT_OUTPUT_ID, true, now);
                Some(lamp)
            }
            Err(e) => {
                tracing::error!(pin, error = %e, "the alert output ([stock].alert_gpio_pin) cannot be opened; alerts show on the dashboard only");
                health.error(ALERT_OUTPUT_ID, "gpio", &e.to_string(), now);
                health.set_status(ALERT_OUTPUT_ID, Some("gpio_unavailable"));
                None
            }
        }
    });
    if shelves.is_none() && lamp.is_none() {
        return;
    }
    let (weak, stock) = (Arc::downgrade(store), *stock);
    let spawned = std::thread::Builder::new().name("stock-triggers".into()).spawn(move || {
        let mut lamp = lamp;
        let mut last_gap_check: Option<std::time::Instant> = None;
        loop {
            let Some(store) = weak.upgrade() else { return };
            let now = store.clock().now();
            if let Some(shelves) = &shelves {
                if last_gap_check.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    last_gap_check = Some(std::time::Instant::now());
                    match check_gaps(&store, shelves, now, &stock) {
                        Ok(r) if r.raised.is_empty() && r.cleared.is_empty() => {}
                        Ok(r) => tracing::info!(raised = r.raised.len(), cleared = r.cleared.len(), "shelf gap check"),
                        Err(e) => tracing::error!(error = %e, "shelf gap check failed"),
                    }
                }
            }
            if let Some(l) = &mut lamp {
                match l.update(&store) {
                    Ok(_) => health.set_status(ALERT_OUTPUT_ID, None),
                    Err(e) => {
                        if health.error(ALERT_OUTPUT_ID, "gpio", &e.to_string(), now) {
                            tracing::warn!(error = %e, "alert output not updated");
                        }
                        health.set_status(ALERT_OUTPUT_ID, Some("write_failed"));
                    }
                }
            }
            drop(store);
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the stock triggers thread; shelf gaps are not checked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn held_messages_are_checked_one_second_into_each_minute() {
        let at = |s: u32, ms: i64| chrono::Utc.with_ymd_and_hms(2026, 11, 26, 8, 59, s).unwrap() + chrono::Duration::milliseconds(ms);
        assert_eq!(until_next_minute(at(0, 0)), Duration::from_millis(61_000));
        assert_eq!(until_next_minute(at(0, 500)), Duration::from_millis(60_500));
        assert_eq!(until_next_minute(at(30, 0)), Duration::from_millis(31_000));
        assert_eq!(until_next_minute(at(59, 999)), Duration::from_millis(1_001));
    }
}
