//! Shelf triggers end to end. The storehub shelf node simulator (`storehub_node_sim::SimNode`: the
//! real node firmware core over simulated load cells, the real wire protocol on a pty) is first
//! calibrated through the hub (tare empty, 1 000 g, calibrate, as the device page does), then
//! feeds the real node driver, whose readings go to the shelf
//! tracker as the daemon wires it: items taken off → low → one restock task opened in the same
//! commit as the shelf event, restocked → closed. A shelf left empty while the ledger has stock
//! for `[stock].shelf_gap_minutes` on the manual clock → one shelf-gap alert, the simulated GPIO
//! pin high; acknowledged or cleared → low. Staff act through `control::ops`, the code path of
//! `storehub alerts …` and `storehub restock …`, and the web routes.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::web::{body, WebShop};
use common::*;
use storehub::clock::{Clock, ManualClock};
use storehub::config::{Config, DeviceConfig, StockConfig};
use storehub::control::ops::{self, Context};
use storehub::control::Request;
use storehub::devices::health::HealthBoard;
use storehub::devices::shelf::{NodeCommands, Shelves};
use storehub::devices::transport::gpio::SimPins;
use storehub::devices::{DeviceEvent, DriverCtx};
use storehub::domain::stock::MoveKind;
use storehub::domain::staff::Role;
use storehub::inventory::alerts::{self, AlertKind, EVENT_ALERT_CLEARED, EVENT_ALERT_RAISED};
use storehub::inventory::shelf_triggers::{self, AlertLamp, TaskState, EVENT_TASK_DONE, EVENT_TASK_OPENED};
use storehub::store::Store;
use storehub_node_sim::{SimConfig, SimNode};

const WAIT: Duration = Duration::from_secs(20);
const SKU: &str = "SKU-010001";
const LAMP_PIN: u8 = 17;
/// A bottle of water, grams.
const BOTTLE: i32 = 570;

/// A simulated node (the default load cell: 42 counts a gram over 8 000 counts, ±20 counts of
/// noise) sampling 80 times a second, so its filter settles in about a second.
fn sim_node(dir: &tempfile::TempDir, node_id: u64) -> SimNode {
    let config = SimConfig { node_id, samples_per_s: 80, seed: node_id, ..SimConfig::default() };
    SimNode::start(&dir.path().join("shelf-node"), config).expect("node simulator")
}

/// A shopper takes `n` bottles off channel 0.
fn pick(node: &SimNode, n: i32) {
    node.add_grams(0, -n * BOTTLE);
}

/// Staff fill channel 0 to `n` bottles.
fn restock(node: &SimNode, n: i32) {
    node.set_grams(0, n * BOTTLE);
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    common::wait_until(what, WAIT, cond)
}

/// A shop with the water on one shelf channel (570 g a bottle, minimum 3), two staff accounts
/// and the context the CLI uses.
struct Rig {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    store: Arc<Store>,
    ctx: Context,
    cfg: DeviceConfig,
    shelves: Shelves,
    stock: StockConfig,
}

fn rig(link: &std::path::Path) -> Rig {
    let Shop { dir, clock, store, .. } = Shop::open();
    let store = Arc::new(store);
    load(&store, &[water()]);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    for (id, role) in [("cashier1", Role::Cashier), ("manager1", Role::Manager), ("tech1", Role::Technician)] {
        let new = storehub::staff::NewStaff { id: id.into(), name: format!("{id} 名"), role };
        storehub::staff::create_staff(&store, &new, "correct-horse-1", None, &cost).expect("staff");
    }
    let toml_text = format!(
        "id = \"shelf-a1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"{}\"\n\
         [[shelf.channels]]\nchannel = 0\nsku = \"{SKU}\"\nunit_grams = 570\nlow_units = 3\n",
        link.display()
    );
    let cfg: DeviceConfig = toml::from_str(&toml_text).expect("device config");
    let shelves = Shelves::from_config(std::slice::from_ref(&cfg)).with_health(Arc::new(HealthBoard::new()));
    let mut demo = Config::demo().expect("demo config");
    demo.devices.clear();
    let stock = StockConfig { shelf_gap_minutes: 30, alert_gpio_pin: Some(LAMP_PIN), ..StockConfig::default() };
    let ctx = Context {
        layouts: demo.barcode_layouts(),
        snapshots_keep: 2,
        started_at: opening_time(),
        checkout: None,
        lanes: Default::default(),
        tz: demo.timezone(),
        loyalty: storehub::members::LoyaltyRules::for_shop(&demo),
        devices: Default::default(),
        cloud: Default::default(),
        campaigns: storehub::members::campaigns::CampaignSettings::from_config(&demo),
        messages: storehub::members::messages::MessageRules::from_config(&demo),
        tickets: storehub::members::tickets::TicketRules::from_config(&demo),
        stock,
        attendance: Default::default(),
        recommend: storehub::members::recommend::RecommendSettings::from_config(&demo),
    };
    Rig { _dir: dir, clock, store, ctx, cfg, shelves, stock }
}

impl Rig {
    fn on_shelf(&self) -> Option<i64> {
        self.shelves.shelf_state()[0].on_shelf
    }

    /// Runs the node driver against the simulator while `f` runs; readings go to the tracker.
    fn with_driver<R>(&self, f: impl FnOnce() -> R) -> R {
        self.with_driver_to(
            &|ev: DeviceEvent| {
                // As the daemon's hub does: a reading not recorded is retried by the next one.
                let _ = self.shelves.handle(&self.store, &ev);
            },
            None,
            f,
        )
    }

    /// Calibrates the node through the hub's driver, as staff do on the device page (the
    /// readings meanwhile, uncalibrated counts and the reference weight, go nowhere), and leaves
    /// the shelf empty. The commands go through a handle of this test's own (not the process-wide
    /// `node_commands`), so tests running side by side in one process never trade commands.
    fn calibrate(&self, node: &SimNode) {
        let commands = NodeCommands::new();
        self.with_driver_to(&|_| {}, Some(&commands), || {
            storehub::demo::devices::calibrate_sim_node(&commands, node, 0, 1_000, &AtomicBool::new(false), WAIT).expect("the node calibrated through the hub");
        });
    }

    /// The driver as the device manager runs it (`drive`), or with `commands` on the same link.
    fn with_driver_to<R>(&self, emit: &(dyn Fn(DeviceEvent) + Sync), commands: Option<&NodeCommands>, f: impl FnOnce() -> R) -> R {
        let stop = AtomicBool::new(false);
        let health = HealthBoard::new();
        health.register(storehub::devices::health::DeviceHealth::from_config(&self.cfg));
        thread::scope(|s| {
            let driver = s.spawn(|| {
                let ctx = DriverCtx { device: &self.cfg, health: &health, clock: &self.clock, stop: &stop, emit, store: None };
                match commands {
                    None => storehub::devices::shelf::drive(&self.cfg, &ctx),
                    Some(commands) => storehub::devices::transport::open_link(&self.cfg, storehub::devices::shelf::node::READ_TIMEOUT)
                        .map(|mut link| storehub::devices::shelf::run_node_with(link.as_mut(), &ctx, commands))
                        .map_err(|e| e.to_string()),
                }
            });
            let out = f();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let exit = driver.join().expect("driver thread");
            assert!(exit.is_ok(), "the driver could not open the node: {exit:?}");
            out
        })
    }

    fn ops(&self, req: Request) -> Result<serde_json::Value, String> {
        ops::handle(&self.store, &self.ctx, req).map(|r| r.result)
    }

    fn events(&self, event_type: &str) -> Vec<storehub::store::OutboxEvent> {
        events_of_type(&self.store, event_type)
    }
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

#[test]
fn items_taken_off_open_one_restock_task_and_a_restock_above_the_minimum_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = sim_node(&dir, 4242);
    let r = rig(node.link());
    r.calibrate(&node);
    restock(&node, 12);
    // 40 bottles in the shop: 12 on the shelf, the rest in the backroom.
    apply(&r.store, MoveKind::Receipt, SKU, 40);

    r.with_driver(|| {
        wait_for("the baseline of 12", || r.on_shelf() == Some(12));
        pick(&node, 4);
        wait_for("8 on the shelf", || r.on_shelf() == Some(8));
        assert!(shelf_triggers::open_tasks(&r.store).unwrap().is_empty(), "above the minimum: no task");
        // Down to the minimum (3): low → one task.
        pick(&node, 5);
        wait_for("3 on the shelf", || r.on_shelf() == Some(3));
        // Further down and empty: still the one task.
        pick(&node, 2);
        wait_for("1 on the shelf", || r.on_shelf() == Some(1));
        pick(&node, 1);
        wait_for("an empty shelf", || r.on_shelf() == Some(0));
        let open = shelf_triggers::open_tasks(&r.store).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        let t = &open[0];
        assert_eq!((t.sku.as_str(), t.device.as_str(), t.channel, t.on_shelf, t.shelf_min), (SKU, "shelf-a1", 0, 3, 3));
        assert_eq!(t.backroom, 37, "ledger 40 − 3 on the shelf");
        assert_eq!(t.state, TaskState::Open);
        // The task was written in the commit of the low event.
        let low = events_of_type(&r.store, storehub::devices::shelf::tracker::EVENT_SHELF_LOW);
        let opened = r.events(EVENT_TASK_OPENED);
        assert_eq!((low.len(), opened.len()), (1, 1));
        assert_eq!(low[0].time, opened[0].time);
        assert_eq!(opened[0].subject.as_deref(), Some(SKU));
        assert_eq!(opened[0].data().unwrap()["backroom"], 37);

        // Staff fill the shelf to 24: the task closes itself.
        restock(&node, 24);
        wait_for("24 on the shelf", || r.on_shelf() == Some(24));
        wait_for("the task closed", || shelf_triggers::open_tasks(&r.store).unwrap().is_empty());
        let t = shelf_triggers::recent_tasks(&r.store, 10).unwrap().remove(0);
        assert_eq!((t.state, t.done_reason.as_deref(), t.done_by.as_deref()), (TaskState::Done, Some("shelf restocked"), None));
        assert_eq!(r.events(EVENT_TASK_DONE).len(), 1);

        // Down to the minimum again: a new task; this time staff mark it done (the CLI's path).
        pick(&node, 21);
        wait_for("3 on the shelf again", || r.on_shelf() == Some(3));
        wait_for("a second task", || shelf_triggers::open_tasks(&r.store).unwrap().len() == 1);
    });
    let id = shelf_triggers::open_tasks(&r.store).unwrap()[0].id;
    let refused = r.ops(Request::RestockDone { id, staff: "tech1".into(), note: None }).unwrap_err();
    assert!(refused.contains("tech1"), "{refused}");
    let refused = r.ops(Request::RestockDone { id: 99, staff: "cashier1".into(), note: None }).unwrap_err();
    assert_eq!(refused, "restock task 99 does not exist; `storehub restock list` shows the open ones");
    let done = r.ops(Request::RestockDone { id, staff: "cashier1".into(), note: Some("搬了 2 箱".into()) }).unwrap();
    assert_eq!((done["state"].as_str(), done["done_by"].as_str(), done["done_reason"].as_str()), (Some("done"), Some("cashier1"), Some("搬了 2 箱")));
    let again = r.ops(Request::RestockDone { id, staff: "cashier1".into(), note: None }).unwrap_err();
    assert!(again.starts_with(&format!("restock task {id} was already done")), "{again}");
    let list = r.ops(Request::RestockList { all: true }).unwrap();
    assert_eq!(list["open"].as_array().map(Vec::len), Some(0));
    assert_eq!(list["recent"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.events(EVENT_TASK_OPENED).len(), 2);
    assert_eq!(r.events(EVENT_TASK_DONE).len(), 2);
    // Shelf readings never moved stock.
    assert_eq!(storehub::inventory::on_hand(&r.store, SKU).unwrap(), 40);
}

#[test]
fn a_shelf_empty_with_stock_in_the_ledger_raises_one_gap_alert_and_drives_the_alert_output() {
    let dir = tempfile::tempdir().unwrap();
    let node = sim_node(&dir, 4243);
    let r = rig(node.link());
    r.calibrate(&node);
    restock(&node, 6);
    apply(&r.store, MoveKind::Receipt, SKU, 40);
    let mut lamp = AlertLamp::open(SimPins::new(), LAMP_PIN).unwrap();
    let pin = |lamp: &AlertLamp<SimPins>| lamp.gpio().output(LAMP_PIN);
    let check = |at: DateTime<Utc>| shelf_triggers::check_gaps(&r.store, &r.shelves, at, &r.stock).unwrap();

    let emptied_at = r.clock.now();
    r.with_driver(|| {
        wait_for("the baseline of 6", || r.on_shelf() == Some(6));
        pick(&node, 6);
        wait_for("an empty shelf", || r.on_shelf() == Some(0));
    });
    assert_eq!(r.shelves.shelf_state()[0].empty_since, Some(emptied_at));

    // 29 minutes: not yet a gap.
    r.clock.advance(minutes(29));
    assert_eq!(check(r.clock.now()).raised.len(), 0);
    assert!(!lamp.update(&r.store).unwrap());
    assert_eq!(pin(&lamp), Some(false));
    // 30 minutes: one alert, the lamp on.
    r.clock.advance(minutes(1));
    let report = check(r.clock.now());
    assert_eq!(report.raised.len(), 1);
    let a = &report.raised[0];
    assert_eq!((a.kind, a.sku.as_str()), (AlertKind::ShelfGap, SKU));
    assert_eq!(
        a.detail_en,
        "shelf shelf-a1 channel 0 has read empty for 30 minutes while the ledger has 40 on hand: look for misplaced or lost goods, or restock from the backroom"
    );
    assert!(a.detail_zh.contains("货架 shelf-a1 第 0 道已空 30 分钟，账面库存 40"), "{}", a.detail_zh);
    assert!(lamp.update(&r.store).unwrap());
    assert_eq!(pin(&lamp), Some(true));
    // Checked again and again: still the one alert.
    for _ in 0..3 {
        r.clock.advance(minutes(1));
        assert_eq!(check(r.clock.now()), Default::default());
    }
    assert_eq!(r.events(EVENT_ALERT_RAISED).len(), 1);

    // A manager acknowledges it (the CLI's path): the lamp goes off, and the same empty spell
    // raises nothing new.
    let refused = r.ops(Request::AlertAck { id: a.id, staff: "tech1".into() }).unwrap_err();
    assert!(refused.contains("tech1"), "{refused}");
    let acked = r.ops(Request::AlertAck { id: a.id, staff: "manager1".into() }).unwrap();
    assert_eq!((acked["acknowledged_by"].as_str(), acked["closed_reason"].as_str()), (Some("manager1"), Some("acknowledged")));
    assert!(!lamp.update(&r.store).unwrap());
    assert_eq!(pin(&lamp), Some(false));
    r.clock.advance(minutes(30));
    assert_eq!(check(r.clock.now()), Default::default());
    assert!(alerts::open_alerts(&r.store).unwrap().is_empty());

    // Refilled, emptied again and left: a new spell, a new alert. A restock clears it in the
    // commit of the shelf's restock.
    r.with_driver(|| {
        restock(&node, 5);
        wait_for("5 on the shelf", || r.on_shelf() == Some(5));
        pick(&node, 5);
        wait_for("empty again", || r.on_shelf() == Some(0));
    });
    r.clock.advance(minutes(31));
    assert_eq!(check(r.clock.now()).raised.len(), 1);
    assert!(lamp.update(&r.store).unwrap());
    r.with_driver(|| {
        restock(&node, 8);
        wait_for("8 on the shelf", || r.on_shelf() == Some(8));
    });
    assert!(alerts::open_alerts(&r.store).unwrap().is_empty());
    let cleared = r.events(EVENT_ALERT_CLEARED);
    assert_eq!(cleared.len(), 2);
    assert_eq!(cleared[1].data().unwrap()["closed_reason"], "shelf restocked");
    let restocked = events_of_type(&r.store, storehub::devices::shelf::tracker::EVENT_SHELF_RESTOCKED);
    assert_eq!(restocked.last().map(|e| e.time), Some(cleared[1].time), "cleared in the restock's commit");
    assert!(!lamp.update(&r.store).unwrap());

    // Empty for an hour while the ledger says 40: raised; then the ledger sells out (the goods
    // were gone after all): the check clears it.
    r.with_driver(|| {
        pick(&node, 8);
        wait_for("empty a third time", || r.on_shelf() == Some(0));
    });
    r.clock.advance(minutes(60));
    assert_eq!(check(r.clock.now()).raised.len(), 1);
    assert!(lamp.update(&r.store).unwrap());
    apply(&r.store, MoveKind::Sale, SKU, 40);
    let report = check(r.clock.now());
    assert_eq!((report.raised.len(), report.cleared.len()), (0, 1));
    assert_eq!(report.cleared[0].closed_reason.as_deref(), Some("ledger on hand is 0"));
    assert!(!lamp.update(&r.store).unwrap());
    assert_eq!(pin(&lamp), Some(false));
    // No ledger stock, empty shelf: not a gap.
    r.clock.advance(minutes(120));
    assert_eq!(check(r.clock.now()), Default::default());
    let list = r.ops(Request::AlertsList { all: true }).unwrap();
    assert_eq!((list["open"].as_array().map(Vec::len), list["recent"].as_array().map(Vec::len)), (Some(0), Some(3)));
}

/// The web: the tasks page, the API, the dashboard card, and who may use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_and_work_tasks_and_alerts_on_the_web() {
    let shop = WebShop::start().await;
    load(&shop.store, &[water()]);
    apply(&shop.store, MoveKind::Receipt, SKU, 20);
    let (alert, task) = {
        let tracker = Shelves::from_config(&[toml::from_str::<DeviceConfig>(&format!(
            "id = \"shelf-a1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"/dev/null\"\n\
             [[shelf.channels]]\nchannel = 0\nsku = \"{SKU}\"\nunit_grams = 570\nlow_units = 3\n"
        ))
        .unwrap()]);
        let at = shop.clock.now();
        let weight = |grams| DeviceEvent::ShelfWeight { device: "shelf-a1".into(), channel: 0, grams, stable: true, at };
        for grams in [5_700, 5_700, 5_700, 5_700, 0, 0, 0, 0] {
            tracker.handle(&shop.store, &weight(grams)).unwrap();
        }
        let stock = StockConfig::default();
        let raised = shelf_triggers::check_gaps(&shop.store, &tracker, at + minutes(30), &stock).unwrap().raised;
        (raised[0].id, shelf_triggers::open_tasks(&shop.store).unwrap()[0].id)
    };

    let cashier = shop.login("cashier1", Some("lane-1")).await;
    let tech = shop.login("tech1", None).await;
    let (status, list) = body(shop.get(&cashier, "/api/v1/stock/tasks").await).await;
    assert_eq!(status, 200);
    assert_eq!(list["open"][0]["id"], task);
    assert_eq!(list["open"][0]["backroom"], 20, "ledger 20 − 0 on the shelf");
    let (status, alerts) = body(shop.get(&cashier, "/api/v1/stock/alerts").await).await;
    assert_eq!((status, alerts["open"][0]["kind"].as_str()), (reqwest::StatusCode::OK, Some("shelf_gap")));
    assert_eq!(shop.get(&tech, "/api/v1/stock/tasks").await.status(), 403);
    assert_eq!(shop.post_json(&tech, &format!("/api/v1/stock/alerts/{alert}/ack"), &serde_json::json!({})).await.status(), 403);

    // The dashboard's card shows both, with their buttons (a manager sees the dashboard).
    let manager = shop.login("manager1", None).await;
    let (status, html) = common::web::text(shop.get(&manager, "/dashboard").await).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"stock-alerts-card\""), "no card");
    assert!(html.contains(&format!("action=\"/stock/alerts/{alert}/ack\"")));
    assert!(html.contains(&format!("action=\"/stock/tasks/{task}/done\"")));
    let (status, html) = common::web::text(shop.get(&cashier, "/stock/tasks").await).await;
    assert_eq!(status, 200);
    assert!(html.contains("补货任务与告警"), "zh page title");
    assert!(html.contains(&format!("data-task=\"{task}\"")));

    // Bad input changes nothing.
    let res = shop.post_json(&cashier, &format!("/api/v1/stock/tasks/{task}/done"), &serde_json::json!({ "note": "x".repeat(161) })).await;
    let (status, err) = body(res).await;
    assert_eq!((status, err["field"].as_str()), (reqwest::StatusCode::BAD_REQUEST, Some("note")));
    let res = shop.post_json(&cashier, &format!("/api/v1/stock/tasks/{task}/done"), &serde_json::json!({ "colour": "red" })).await;
    assert_eq!(res.status(), 400);
    assert_eq!(shop.post_json(&cashier, "/api/v1/stock/tasks/777/done", &serde_json::json!({})).await.status(), 404);
    assert_eq!(shelf_triggers::open_tasks(&shop.store).unwrap().len(), 1);

    // The cashier restocks and acknowledges through the dashboard's forms.
    let res = shop.post_form(&cashier, &format!("/stock/tasks/{task}/done"), &[("back", "/dashboard")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard?done=1");
    let (status, acked) = body(shop.post_json(&cashier, &format!("/api/v1/stock/alerts/{alert}/ack"), &serde_json::json!({})).await).await;
    assert_eq!((status, acked["acknowledged_by"].as_str()), (reqwest::StatusCode::OK, Some("cashier1")));
    assert_eq!(shop.post_json(&cashier, &format!("/api/v1/stock/alerts/{alert}/ack"), &serde_json::json!({})).await.status(), 409);
    assert!(shelf_triggers::open_tasks(&shop.store).unwrap().is_empty());
    assert!(alerts::open_alerts(&shop.store).unwrap().is_empty());
    let done = shelf_triggers::recent_tasks(&shop.store, 1).unwrap().remove(0);
    assert_eq!((done.done_by.as_deref(), done.done_reason.as_deref()), (Some("cashier1"), Some("done by staff")));
}

/// A pin bank the daemon's thread drives and the test reads: the simulated bank behind a lock.
#[derive(Clone, Default)]
struct SharedPins(Arc<std::sync::Mutex<SimPins>>);

impl storehub::devices::transport::gpio::Gpio for SharedPins {
    fn configure(&mut self, pin: u8, mode: storehub::devices::transport::gpio::PinMode) -> Result<(), storehub::devices::transport::gpio::GpioError> {
        self.0.lock().unwrap().configure(pin, mode)
    }
    fn write(&mut self, pin: u8, high: bool) -> Result<(), storehub::devices::transport::gpio::GpioError> {
        self.0.lock().unwrap().write(pin, high)
    }
    fn read(&mut self, pin: u8) -> Result<bool, storehub::devices::transport::gpio::GpioError> {
        self.0.lock().unwrap().read(pin)
    }
    fn delay_us(&mut self, us: u64) {
        self.0.lock().unwrap().delay_us(us)
    }
    fn now_us(&mut self) -> u64 {
        self.0.lock().unwrap().now_us()
    }
}

#[test]
fn the_daemon_drives_the_alert_output_and_shows_a_gpio_it_cannot_open_in_health() {
    use storehub::daemon::{start_stock_triggers_with, ALERT_OUTPUT_ID};
    use storehub::devices::transport::gpio::GpioError;
    let Shop { dir: _dir, store, .. } = Shop::open();
    let store = Arc::new(store);
    let stock = StockConfig { alert_gpio_pin: Some(LAMP_PIN), ..StockConfig::default() };

    // The simulated pin bank: the thread follows the alerts within about a second.
    let pins = SharedPins::default();
    let health = Arc::new(HealthBoard::new());
    let opened = pins.clone();
    start_stock_triggers_with(&stock, &store, None, Arc::clone(&health), move || Ok(opened));
    let level = || pins.0.lock().unwrap().output(LAMP_PIN);
    assert!(health.get(ALERT_OUTPUT_ID).unwrap().connected);
    wait_for("the output configured low", || level() == Some(false));
    let a = store.commit(|tx| alerts::raise_tx::<()>(tx, AlertKind::ShelfGap, SKU, "空", "empty")).unwrap().unwrap();
    wait_for("the output high", || level() == Some(true));
    alerts::acknowledge(&store, a.id, "manager1").unwrap();
    wait_for("the output low again", || level() == Some(false));

    // No GPIO: logged, shown on the health board, and the daemon goes on.
    let health = Arc::new(HealthBoard::new());
    start_stock_triggers_with::<SimPins>(&stock, &store, None, Arc::clone(&health), || Err(GpioError::Unavailable("no /dev/gpiomem".into())));
    let h = health.get(ALERT_OUTPUT_ID).unwrap();
    assert!(!h.connected);
    assert_eq!(h.status.as_deref(), Some("gpio_unavailable"));
    assert_eq!(h.errors.get("gpio"), Some(&1));
    assert!(h.last_error.unwrap().contains("no /dev/gpiomem"));
    assert_eq!(h.target, "BCM 17");
}
