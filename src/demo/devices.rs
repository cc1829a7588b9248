//! The demo's simulated devices and the scripted shopper who uses them. `config/demo.toml` names
//! lane 1's scanner, scale, printer, customer display and a shelf node under
//! `/tmp/storehub-demo/`; the demo moves that directory into the data dir
//! ([`relocate`]), makes each device on a pseudo-terminal there ([`DemoDevices::start`], with
//! `devices::sim`), and the daemon opens them by path like real ones. The shopper then runs the
//! whole path: codes typed by the scanner reach the cart through the device drivers, the scale's
//! settled weight prices a weighed line, paying queues the receipt, and the printer driver writes
//! its ESC/POS bytes into `receipts.escpos`. The shelf node is `storehub-node-sim` (the real node
//! firmware core on a pty): at start it is calibrated through the hub as staff would (tare empty,
//! a 1 000 g reference, calibrate, take it off) and then stocked, so taking water off the shelf
//! shows up as shelf events in grams the node computed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{self, Product, Unit};
use crate::checkout::{CheckoutError, Lanes, PayRequest};
use crate::config::{Config, DeviceKind};
use crate::control::lanes::CheckoutSetup;
use crate::devices::shelf::node::{CommandError, NodeCommands};
use crate::devices::sim::{PtyDevice, ScriptedScanner, ToledoScale};
use crate::domain::tender::{Tender, TenderKind};
use crate::members::LoyaltyRules;
use crate::store::Store;
use storehub_node_sim::{SimConfig, SimNode};
use storehub_wire::AckCode;

/// Where `config/demo.toml` puts the simulated devices.
pub const DEMO_DEVICE_DIR: &str = "/tmp/storehub-demo";

/// Points the demo devices' paths into `dir` (the data dir's `devices/`), so two demos in two
/// data dirs do not share devices.
pub fn relocate(cfg: &mut Config, dir: &Path) {
    for d in &mut cfg.devices {
        if let Some(p) = &d.path {
            if let Some(rest) = p.strip_prefix(DEMO_DEVICE_DIR) {
                d.path = Some(format!("{}{rest}", dir.display()));
            }
        }
    }
}

/// The simulated devices of the demo config.
pub struct DemoDevices {
    pub scanner: Option<ScriptedScanner>,
    pub scale: Option<ToledoScale>,
    pub shelf: Option<DemoShelf>,
    /// The file the demo printer writes to.
    pub receipts: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    drains: Vec<std::thread::JoinHandle<()>>,
}

impl DemoDevices {
    /// Makes every device of `cfg` whose path is under `dir`.
    pub fn start(cfg: &Config, dir: &Path) -> anyhow::Result<DemoDevices> {
        std::fs::create_dir_all(dir)?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut me = DemoDevices { scanner: None, scale: None, shelf: None, receipts: None, stop: Arc::clone(&stop), drains: Vec::new() };
        for d in &cfg.devices {
            let Some(path) = d.path.as_deref().map(Path::new).filter(|p| p.starts_with(dir)) else { continue };
            match d.kind {
                DeviceKind::Scanner => me.scanner = Some(ScriptedScanner::create(path)?),
                DeviceKind::Scale => me.scale = Some(ToledoScale::start(path)?),
                DeviceKind::Printer => {
                    std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                    me.receipts = Some(path.to_path_buf());
                }
                DeviceKind::Display => {
                    // The pole display: read and dropped (its bytes are tested elsewhere).
                    let mut dev = PtyDevice::create(path)?;
                    let stop = Arc::clone(&stop);
                    me.drains.push(std::thread::spawn(move || {
                        let mut buf = [0u8; 256];
                        while !stop.load(Ordering::Relaxed) {
                            if std::io::Read::read(&mut dev.master, &mut buf).is_err() {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }));
                }
                DeviceKind::Shelf => {
                    let settings = d.shelf_settings();
                    if let Some(ch) = settings.channels.first() {
                        let unit_grams = i32::try_from(ch.unit_grams).map_err(|_| anyhow::anyhow!("device {}: unit_grams {} is too large for a shelf node", d.id, ch.unit_grams))?;
                        // RATE high (80 samples/s): the node's filter settles in about a second,
                        // so a bottle taken shows up while the demo is watched.
                        let config = SimConfig { samples_per_s: 80, ..SimConfig::default() };
                        let node = Arc::new(SimNode::start(path, config).map_err(|e| anyhow::anyhow!("device {}: cannot start the simulated shelf node at {}: {e}", d.id, path.display()))?);
                        let shelf = DemoShelf { node: Arc::clone(&node), channel: ch.channel, sku: ch.sku.clone(), unit_grams, ready: Arc::new(AtomicBool::new(false)), last_pick: Default::default() };
                        let (ready, commands, id, channel, stop) = (Arc::clone(&shelf.ready), crate::devices::shelf::node_commands(d.id.as_str()), d.id.clone(), ch.channel, Arc::clone(&stop));
                        me.drains.push(std::thread::spawn(move || {
                            match calibrate_sim_node(&commands, &node, channel, REFERENCE_GRAMS, &stop, CALIBRATION_LIMIT) {
                                Ok(()) => {
                                    node.set_grams(channel, STOCKED_UNITS * unit_grams);
                                    ready.store(true, Ordering::Relaxed);
                                    tracing::info!(device = %id, "demo shelf node calibrated and stocked");
                                }
                                Err(e) => tracing::warn!(device = %id, error = %e, "demo shelf node not calibrated; its shelf stays empty"),
                            }
                        }));
                        me.shelf = Some(shelf);
                    }
                }
            }
        }
        Ok(me)
    }
}

/// The weight the demo calibrates its shelf node with, grams.
pub const REFERENCE_GRAMS: i32 = 1_000;

/// Units the demo shelf holds when stocked.
const STOCKED_UNITS: i32 = 24;

/// How long the demo waits for the daemon's driver to calibrate its shelf node.
const CALIBRATION_LIMIT: Duration = Duration::from_secs(60);

/// The demo's shelf node and the product on its first channel, in units.
pub struct DemoShelf {
    pub node: Arc<SimNode>,
    pub channel: u8,
    pub sku: String,
    pub unit_grams: i32,
    /// Calibrated and stocked: shoppers may take from it.
    ready: Arc<AtomicBool>,
    /// When a shopper last took from it.
    last_pick: std::sync::Mutex<Option<Instant>>,
}

/// Shoppers take from the shelf at most this often, so the load lies still long enough between
/// two picks for the node to call it stable (its window is half a second at 80 samples/s) and the
/// tracker to count the change.
const PICK_GAP: Duration = Duration::from_secs(2);

impl DemoShelf {
    /// Whether the node is calibrated and the shelf stocked.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Units on the shelf now.
    pub fn units(&self) -> i32 {
        self.node.grams(self.channel) / self.unit_grams.max(1)
    }

    /// A shopper takes `n` units (never more than there are, none before the shelf is ready or
    /// within [`PICK_GAP`] of the last pick); returns how many were taken.
    pub fn pick(&self, n: i32) -> i32 {
        if !self.ready() {
            return 0;
        }
        let mut last = self.last_pick.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < PICK_GAP) {
            return 0;
        }
        *last = Some(Instant::now());
        let taken = n.clamp(0, self.units());
        self.node.add_grams(self.channel, -taken * self.unit_grams);
        taken
    }

    /// Staff fill the shelf to `n` units.
    pub fn restock(&self, n: i32) {
        if self.ready() {
            self.node.set_grams(self.channel, n * self.unit_grams);
        }
    }
}

/// Calibrates `channel` of a simulated node through the hub, as staff do on the device page:
/// with the shelf empty a tare, then `reference_grams` placed and a calibrate, then the reference
/// taken off. The commands go through `commands` (the node's driver must be running to send
/// them); a command answered "not stable" or "channel fault" (no filtered value yet) is sent again
/// until `limit` has passed. Stops early when `stop` is set.
pub fn calibrate_sim_node(commands: &NodeCommands, node: &SimNode, channel: u8, reference_grams: i32, stop: &AtomicBool, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    node.set_grams(channel, 0);
    command_until_ok(commands, "tare", |c| c.tare(channel), &[AckCode::NotStable, AckCode::ChannelFault], stop, deadline)?;
    node.set_grams(channel, reference_grams);
    // Calibrating before the node's filter has moved off the empty reading would be refused as
    // "no change" (BadValue): wait for it, and send again while it is still refused so.
    std::thread::sleep(Duration::from_secs(1));
    command_until_ok(
        commands,
        "calibrate",
        |c| c.calibrate(channel, reference_grams),
        &[AckCode::NotStable, AckCode::ChannelFault, AckCode::BadValue],
        stop,
        deadline,
    )?;
    node.set_grams(channel, 0);
    Ok(())
}

/// Sends a command until it is acknowledged, again after each refusal in `retry`.
fn command_until_ok(
    commands: &NodeCommands,
    what: &str,
    send: impl Fn(&NodeCommands) -> Result<u16, CommandError>,
    retry: &[AckCode],
    stop: &AtomicBool,
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        let seq = send(commands).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
        let ack = loop {
            anyhow::ensure!(!stop.load(Ordering::Relaxed), "{what}: stopped");
            match commands.wait(seq, Duration::from_millis(200)) {
                Ok(ack) => break ack,
                Err(CommandError::Timeout { .. }) if Instant::now() < deadline => continue,
                Err(e) => anyhow::bail!("{what}: {e}"),
            }
        };
        if ack.ok {
            return Ok(());
        }
        let reason = ack.reason();
        let refused = reason.map_or_else(|| format!("code {}", ack.code), |r| r.as_str().to_string());
        anyhow::ensure!(reason.is_some_and(|r| retry.contains(&r)) && Instant::now() < deadline, "{what}: the node refused ({refused})");
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Drop for DemoDevices {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.drains.drain(..) {
            let _ = t.join();
        }
    }
}

/// What the scripted shopper did.
#[derive(Debug, Default)]
pub struct ShopperCounters {
    pub sales: AtomicU64,
    pub failed: AtomicU64,
}

/// Waits up to `limit` for `done`, checking every 10 ms.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

/// One shopper at `lane` every `every` until `stop`: 1–3 scanned items (water from the shelf now
/// and then), one weighed item when the scale is there, paid in cash; the receipt is queued on
/// the lane's printer.
#[allow(clippy::too_many_arguments)]
pub fn run_shopper(
    store: Arc<Store>,
    lanes: Arc<Lanes>,
    setup: CheckoutSetup,
    loyalty: LoyaltyRules,
    devices: Arc<DemoDevices>,
    lane: String,
    every: Duration,
    stop: Arc<AtomicBool>,
    counters: Arc<ShopperCounters>,
) -> anyhow::Result<()> {
    super::simulate::prepare(&store, &lanes, &loyalty)?;
    let products: Vec<Product> = catalog::all_products(&store)?.into_iter().filter(|p| p.active).collect();
    let scanned: Vec<&Product> = products.iter().filter(|p| p.unit == Unit::Piece && !p.barcodes.is_empty()).collect();
    let weighed: Vec<&Product> = products.iter().filter(|p| p.unit == Unit::Kg).collect();
    anyhow::ensure!(!scanned.is_empty(), "the demo catalog has no products with barcodes");
    let mut rng = fastrand::Rng::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() < next {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        next = Instant::now() + every;
        match one_shopper(&store, &lanes, &setup, &loyalty, &devices, &lane, &scanned, &weighed, &mut rng) {
            Ok(sale) => {
                counters.sales.fetch_add(1, Ordering::Relaxed);
                tracing::info!(lane = %lane, sale, "demo shopper paid at the device lane");
            }
            Err(e) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(lane = %lane, error = %e, "demo shopper gave up");
                let _ = lanes.void(&lane);
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn one_shopper(
    store: &Store,
    lanes: &Lanes,
    setup: &CheckoutSetup,
    loyalty: &LoyaltyRules,
    devices: &DemoDevices,
    lane: &str,
    scanned: &[&Product],
    weighed: &[&Product],
    rng: &mut fastrand::Rng,
) -> anyhow::Result<u64> {
    lanes.void(lane)?;
    let scanner = devices.scanner.as_ref().ok_or_else(|| anyhow::anyhow!("the demo has no scanner"))?;
    let mut lines = 0usize;
    for _ in 0..rng.usize(1..=3) {
        // Every other shopper takes a bottle of water off the watched shelf.
        let shelf_item = devices.shelf.as_ref().filter(|_| rng.bool()).and_then(|shelf| {
            let p = scanned.iter().find(|p| p.sku == shelf.sku)?;
            (shelf.pick(1) == 1).then_some(*p)
        });
        let p = shelf_item.unwrap_or_else(|| scanned[rng.usize(..scanned.len())]);
        let before = lanes.cart(lane)?.lines.len();
        scanner.scan(&p.barcodes[0])?;
        // The scan travels pty → driver → lanes; a repeat of a product merges into its line.
        wait_for(Duration::from_secs(3), || lanes.cart(lane).map(|c| c.lines.len() > before || c.lines.iter().any(|l| l.sku == p.sku)).unwrap_or(false));
        lines += 1;
    }
    anyhow::ensure!(!lanes.cart(lane)?.lines.is_empty(), "no scan reached the cart within 3 s");
    if let (Some(scale), false) = (&devices.scale, weighed.is_empty()) {
        let p = weighed[rng.usize(..weighed.len())];
        scale.put(rng.i64(200..=1_800));
        let added = wait_for(Duration::from_secs(3), || match lanes.add_weighed(lane, &p.sku) {
            Ok(_) => true,
            Err(CheckoutError::NoWeight | CheckoutError::UnstableWeight) => false,
            Err(_) => true,
        });
        scale.put(0);
        anyhow::ensure!(added, "the scale's weight did not reach the lane within 3 s");
    }
    if let Some(shelf) = &devices.shelf {
        if shelf.ready() && shelf.units() <= 2 {
            shelf.restock(STOCKED_UNITS);
        }
    }
    let rules = crate::control::lanes::rules(store, setup, loyalty).map_err(|e| anyhow::anyhow!(e))?;
    let total = lanes.quote(lane, &rules)?.total_fen;
    let cash = Tender { kind: TenderKind::Cash, amount_fen: total.div_euclid(1_000) * 1_000 + 1_000, reference: None, points: None };
    let sale = lanes.pay(lane, &PayRequest { tenders: vec![cash] }, &rules)?;
    crate::control::lanes::print_receipt(store, setup, lane, &sale);
    tracing::debug!(lines, "demo shopper done");
    Ok(sale.id)
}
