//! The demo's simulated devices and the scripted shopper who uses them. `config/demo.toml` names
//! lane 1's scanner, scale, printer, customer display and a shelf node under
//! `/tmp/storehub-demo/`; the demo moves that directory into the data dir
//! ([`relocate`]), makes each device on a pseudo-terminal there ([`DemoDevices::start`], with
//! `devices::sim`), and the daemon opens them by path like real ones. The shopper then runs the
//! whole path: codes typed by the scanner reach the cart through the device drivers, the scale's
//! settled weight prices a weighed line, paying queues the receipt, and the printer driver writes
//! its ESC/POS bytes into `receipts.escpos`. Taking water off the shelf shows up as shelf events.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{self, Product, Unit};
use crate::checkout::{CheckoutError, Lanes, PayRequest};
use crate::config::{Config, DeviceKind};
use crate::control::lanes::CheckoutSetup;
use crate::devices::sim::{PtyDevice, ScriptedScanner, ShelfNode, ToledoScale};
use crate::domain::tender::{Tender, TenderKind};
use crate::members::LoyaltyRules;
use crate::store::Store;

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
    pub shelf: Option<(ShelfNode, String)>,
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
                        let node = ShelfNode::start(path, 1, ch.unit_grams, 24, Duration::from_millis(100))?;
                        me.shelf = Some((node, ch.sku.clone()));
                    }
                }
            }
        }
        Ok(me)
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
        let shelf_item = devices.shelf.as_ref().filter(|_| rng.bool()).and_then(|(node, sku)| {
            let p = scanned.iter().find(|p| &p.sku == sku)?;
            (node.pick(1) == 1).then_some(*p)
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
    if let Some((node, _)) = &devices.shelf {
        if node.units() <= 2 {
            node.restock(24);
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
