//! Shelf nodes end to end, over a pseudo-terminal with the real node firmware core
//! (`storehub_node_sim::SimNode`) on one side and the hub on the other:
//!
//! - the hub's node driver and shelf tracker as the daemon wires them (the rig of
//!   tests/shelf_triggers.rs): hello (health shows the node's model and firmware) → tare with the
//!   shelf empty and calibrate with a 1 000 g reference through the hub's command path → 12
//!   bottles of 570 g stocked → bottles taken off → the units on the shelf drop and the shelf-low
//!   trigger opens one restock task;
//! - `storehub run` and `storehub firmware update NODE FILE.uf2`: a damaged image, an unknown
//!   device and a device that is no node are refused before anything reaches the node; a UF2
//!   tagged 1.1.0 goes through the node's bootloader and its simulated RPI-RP2 drive, and the node
//!   comes back announcing 1.1.0.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::hub::{cli, config, HubDaemon};
use common::*;
use storehub::config::DeviceConfig;
use storehub::devices::health::{DeviceHealth, HealthBoard};
use storehub::devices::shelf::firmware::EVENT_FIRMWARE_UPDATED;
use storehub::devices::shelf::{node_commands, NodeCommands, Shelves};
use storehub::devices::{DeviceEvent, DriverCtx};
use storehub::domain::stock::MoveKind;
use storehub::inventory::shelf_triggers::{self, TaskState, EVENT_TASK_OPENED};
use storehub::store::Store;
use storehub_node_sim::{SimConfig, SimNode};
use storehub_wire::{AckCode, FwVersion};

const WAIT: Duration = Duration::from_secs(30);
const SKU: &str = "SKU-010001";
/// One bottle of water (`common::water`), grams.
const BOTTLE: i32 = 570;

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    common::wait_until(what, WAIT, cond)
}

/// A node on `dir/shelf-node` with the simulator's default load cell (42 counts a gram over
/// 8 000 counts at zero, ±20 counts of noise), sampling 80 times a second so its filter settles
/// in well under a second.
fn sim_node(link: &Path, node_id: u64, boot_drive: Option<&Path>) -> SimNode {
    let config = SimConfig { node_id, seed: node_id, samples_per_s: 80, boot_drive: boot_drive.map(Path::to_path_buf), ..SimConfig::default() };
    SimNode::start(link, config).expect("node simulator")
}

/// Sends one command and waits for its ack, again while the node answers not_stable (its filter
/// still settling after the load changed), as staff press the button again.
fn command_until_settled(what: &str, send: impl Fn() -> u16, commands: &NodeCommands) {
    let deadline = Instant::now() + WAIT;
    loop {
        let seq = send();
        let ack = commands.wait(seq, Duration::from_secs(5)).unwrap_or_else(|e| panic!("{what}: {e}"));
        if ack.ok {
            return;
        }
        assert_eq!(ack.reason(), Some(AckCode::NotStable), "{what}: refused with code {}", ack.code);
        assert!(Instant::now() < deadline, "{what}: the load never settled");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_calibrated_node_reports_bottles_taken_off_and_the_shelf_low_trigger_opens_a_restock_task() {
    let dir = tempfile::tempdir().unwrap();
    let node = sim_node(&dir.path().join("shelf-node"), 0xE660_4CB0_2B3A_1F25, None);
    let Shop { dir: _data, clock, store, .. } = Shop::open();
    let store = Arc::new(store);
    load(&store, &[water()]);
    // 40 bottles in the shop.
    apply(&store, MoveKind::Receipt, SKU, 40);
    let cfg: DeviceConfig = toml::from_str(&format!(
        "id = \"shelf-n1\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"{}\"\n\
         [[shelf.channels]]\nchannel = 0\nsku = \"{SKU}\"\nunit_grams = {BOTTLE}\nlow_units = 3\n",
        node.link().display()
    ))
    .unwrap();
    let shelves = Shelves::from_config(std::slice::from_ref(&cfg)).with_health(Arc::new(HealthBoard::new()));
    let health = HealthBoard::new();
    health.register(DeviceHealth::from_config(&cfg));
    // Readings reach the tracker once the reference weight is off the calibrated shelf.
    let tracking = AtomicBool::new(false);
    let emit = |ev: DeviceEvent| {
        if tracking.load(Ordering::Relaxed) {
            let _ = shelves.handle(&store, &ev);
        }
    };
    let stop = AtomicBool::new(false);
    let on_shelf = || shelves.shelf_state()[0].on_shelf;
    let last_grams = || shelves.shelf_state()[0].last_grams;

    thread::scope(|s| {
        // A failed wait below must still stop the driver, or the scope would wait for it forever.
        let _stop_on_exit = StopOnDrop(&stop);
        let driver = s.spawn(|| {
            let ctx = DriverCtx { device: &cfg, health: &health, clock: &clock, stop: &stop, emit: &emit, store: None };
            storehub::devices::shelf::drive(&cfg, &ctx)
        });

        // Hello: the node's model and firmware in health.
        wait_for("the node's hello", || health.get("shelf-n1").is_some_and(|h| h.firmware.is_some()));
        let h = health.get("shelf-n1").unwrap();
        assert!(h.connected);
        assert_eq!(h.firmware.as_deref(), Some("1.0.0"));
        let model = h.model.unwrap();
        assert!(model.contains("storehub-node"), "{model}");
        assert!(model.contains("E6604CB02B3A1F25") || model.contains(&0xE660_4CB0_2B3A_1F25u64.to_string()), "the node id in {model}");

        // Calibration through the hub's command path, as the device page does it: tare with the
        // shelf empty, then 1 000 g on it and calibrate.
        // Staff press the buttons once the page shows the load settled: the channel's filtered
        // raw count in health, 8 000 counts with the shelf empty, 8 000 + 1 000 g × 42 = 50 000
        // with the reference on it.
        let settled_near = |counts: i32| {
            wait_for(&format!("a stable raw count near {counts}"), || {
                health.get("shelf-n1").is_some_and(|h| {
                    h.channels.first().is_some_and(|c| c.stable == Some(true) && c.raw.is_some_and(|r| (r - counts).abs() < 200))
                })
            })
        };
        let commands = node_commands("shelf-n1");
        node.set_grams(0, 0);
        settled_near(8_000);
        command_until_settled("tare", || commands.tare(0).unwrap(), &commands);
        node.set_grams(0, 1_000);
        settled_near(50_000);
        command_until_settled("calibrate", || commands.calibrate(0, 1_000).unwrap(), &commands);
        wait_for("health showing channel 0 calibrated", || {
            health.get("shelf-n1").is_some_and(|h| h.channels.first().is_some_and(|c| c.calibrated == Some(true)))
        });
        node.set_grams(0, 0);
        tracking.store(true, Ordering::Relaxed);
        // ±20 counts of noise at 42 counts a gram is under ±1 g before filtering.
        wait_for("the empty shelf reading 0 ± 2 g", || last_grams().is_some_and(|g| g.abs() <= 2) && on_shelf() == Some(0));

        // Staff stock the shelf: 12 bottles = 6 840 g.
        node.set_grams(0, 12 * BOTTLE);
        wait_for("12 bottles on the shelf", || on_shelf() == Some(12));
        let g = last_grams().unwrap();
        assert!((6_838..=6_842).contains(&g), "12 × 570 g = 6 840 g, read {g}");
        assert!(shelf_triggers::open_tasks(&store).unwrap().is_empty());

        // Shoppers take 4, then 5: 8 left (above the minimum of 3), then 3 (at it: low).
        node.add_grams(0, -4 * BOTTLE);
        wait_for("8 bottles on the shelf", || on_shelf() == Some(8));
        assert!(shelf_triggers::open_tasks(&store).unwrap().is_empty(), "8 > 3: no task yet");
        node.add_grams(0, -5 * BOTTLE);
        wait_for("3 bottles on the shelf", || on_shelf() == Some(3));
        wait_for("a restock task", || shelf_triggers::open_tasks(&store).unwrap().len() == 1);
        let t = shelf_triggers::open_tasks(&store).unwrap().remove(0);
        assert_eq!((t.sku.as_str(), t.device.as_str(), t.channel, t.on_shelf, t.shelf_min, t.state), (SKU, "shelf-n1", 0, 3, 3, TaskState::Open));
        assert_eq!(t.backroom, 37, "ledger 40 − 3 on the shelf");
        let low = events_of_type(&store, storehub::devices::shelf::tracker::EVENT_SHELF_LOW);
        let picked = events_of_type(&store, storehub::devices::shelf::tracker::EVENT_SHELF_PICKED);
        assert_eq!((low.len(), events_of_type(&store, EVENT_TASK_OPENED).len()), (1, 1));
        let units: Vec<i64> = picked.iter().map(|e| e.data().unwrap()["units"].as_i64().unwrap()).collect();
        assert_eq!(units, [4, 5]);

        stop.store(true, Ordering::Relaxed);
        assert!(driver.join().unwrap().is_ok());
    });
    // Shelf readings never move stock.
    assert_eq!(storehub::inventory::on_hand(&store, SKU).unwrap(), 40);
}

/// A UF2 image tagged `version`: two flash pages, the tag in the first.
fn uf2(version: [u8; 3]) -> Vec<u8> {
    use storehub_uf2::{encode, FLASH_START, FW_TAG, PAYLOAD_LEN};
    let mut p0 = [0x5Au8; PAYLOAD_LEN];
    p0[64..80].copy_from_slice(FW_TAG);
    p0[80..83].copy_from_slice(&version);
    encode(&[(FLASH_START, p0), (FLASH_START + PAYLOAD_LEN as u32, [0u8; PAYLOAD_LEN])])
}

fn device(cfg: &Path, data: &Path, id: &str) -> serde_json::Value {
    let (ok, out, err) = cli(cfg, data, &["devices", "--json"]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    list.as_array().unwrap().iter().find(|d| d["id"] == id).cloned().unwrap_or_else(|| panic!("{id} not in {out}"))
}

#[test]
fn storehub_firmware_update_flashes_a_node_through_its_boot_drive_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    let drive = media.join("storehub").join("RPI-RP2");
    let node = sim_node(&dir.path().join("shelf-node"), 0x0123_4567_89AB_CDEF, Some(&drive));
    let extra = format!(
        "\n[[devices]]\nid = \"shelf-n9\"\nkind = \"shelf\"\ntransport = \"serial\"\npath = \"{}\"\n\
         \n[[devices]]\nid = \"printer-1\"\nkind = \"printer\"\ntransport = \"lp\"\nprotocol = \"escpos\"\npath = \"{}\"\n\
         \n[firmware]\nboot_drive_roots = [\"{}\", \"{}\"]\ntimeout_s = 30\n",
        node.link().display(),
        dir.path().join("receipts.escpos").display(),
        media.display(),
        dir.path().join("mnt").display(),
    );
    let cfg = config(dir.path(), "enabled = false", &extra);
    let data = dir.path().join("data");
    let hub = HubDaemon::start(&cfg, &data);
    wait_for("the node's hello in `storehub devices`", || device(&cfg, &data, "shelf-n9")["firmware"] == "1.0.0");

    let good = dir.path().join("node-1.1.0.uf2");
    std::fs::write(&good, uf2([1, 1, 0])).unwrap();
    // `check` reads it: 2 blocks of 256 bytes of flash.
    let (ok, out, err) = cli(&cfg, &data, &["firmware", "check", good.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(out, format!("{}: 2 blocks, 512 bytes of flash, storehub shelf-node firmware 1.1.0 (RP2040)\n", good.display()));

    // A damaged image (block 1's end magic, bytes 1 020..1 024, changed): refused naming the
    // block, and the node never left its firmware.
    let mut bytes = uf2([1, 1, 0]);
    bytes[1023] ^= 0x40;
    let damaged = dir.path().join("damaged.uf2");
    std::fs::write(&damaged, &bytes).unwrap();
    for cmd in ["check", "update"] {
        let args: Vec<&str> = if cmd == "check" { vec!["firmware", "check", damaged.to_str().unwrap()] } else { vec!["firmware", "update", "shelf-n9", damaged.to_str().unwrap()] };
        let (ok, _, err) = cli(&cfg, &data, &args);
        assert!(!ok);
        assert!(err.contains(&format!("{}: block 1 lacks the UF2 magic numbers", damaged.display())), "{err}");
        assert!(err.contains("未向节点发送任何内容"), "{err}");
    }
    // An untagged RP2040 image (some other program).
    let blink = dir.path().join("blink.uf2");
    std::fs::write(&blink, storehub_uf2::encode(&[(storehub_uf2::FLASH_START, [7u8; 256])])).unwrap();
    let (ok, _, err) = cli(&cfg, &data, &["firmware", "update", "shelf-n9", blink.to_str().unwrap()]);
    assert!(!ok && err.contains("none of its 1 blocks carries the storehub-node-fw version tag"), "{err}");

    // An unknown device, and a device that is no node.
    let (ok, _, err) = cli(&cfg, &data, &["firmware", "update", "shelf-x", good.to_str().unwrap()]);
    assert!(!ok && err.contains("unknown device shelf-x") && err.contains("未知设备 shelf-x"), "{err}");
    let (ok, _, err) = cli(&cfg, &data, &["firmware", "update", "printer-1", good.to_str().unwrap()]);
    assert!(!ok && err.contains("device printer-1 is a printer speaking escpos, not a storehub shelf node"), "{err}");
    assert!(err.contains("stopped at step 2 (check the node)"), "{err}");
    assert!(!node.in_bootloader());
    assert_eq!((node.boots(), node.fw_version()), (1, FwVersion { major: 1, minor: 0, patch: 0 }), "nothing reached the node");
    assert!(!drive.exists());

    // The update: bootloader, drive, copy, hello with 1.1.0.
    let started = Instant::now();
    let (ok, out, err) = cli(&cfg, &data, &["firmware", "update", "shelf-n9", good.to_str().unwrap()]);
    assert!(ok, "{err}\n{}", std::fs::read_to_string(data.with_extension("log")).unwrap_or_default());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    for (line, start) in lines.iter().zip(["1. ", "2. ", "3. ", "4. ", "5. ", "6. "]) {
        assert!(line.starts_with(start), "{out}");
    }
    assert!(lines[3].contains(&format!("RPI-RP2 at {}", drive.display())), "{out}");
    assert_eq!(lines[6], "shelf-n9: firmware 1.0.0 → 1.1.0");
    eprintln!("firmware update took {:?}", started.elapsed());
    assert_eq!(node.fw_version(), FwVersion { major: 1, minor: 1, patch: 0 });
    assert_eq!(node.boots(), 2);
    assert!(!node.in_bootloader());
    let h = device(&cfg, &data, "shelf-n9");
    assert_eq!((h["firmware"].as_str(), h["connected"].as_bool()), (Some("1.1.0"), Some(true)), "{h}");

    // Again without --force: it already runs 1.1.0.
    let (ok, _, err) = cli(&cfg, &data, &["firmware", "update", "shelf-n9", good.to_str().unwrap()]);
    assert!(!ok && err.contains("shelf node shelf-n9 already runs firmware 1.1.0; pass --force to flash it again"), "{err}");
    assert_eq!(node.boots(), 2);

    // The event, in the outbox once the daemon has stopped.
    drop(hub);
    // Without a daemon nobody holds the node's port: refused, saying what to start.
    let (ok, _, err) = cli(&cfg, &data, &["firmware", "update", "shelf-n9", good.to_str().unwrap(), "--force"]);
    assert!(!ok && err.contains(&format!("no storehub daemon runs on {}", data.display())) && err.contains("start `storehub run` first"), "{err}");
    let store = Store::open(storehub::store::StoreOptions {
        path: data.clone(),
        durability: storehub::store::Durability::Durable,
        relaxed_flush_ms: 200,
        source: None,
        clock: storehub::clock::system(),
    })
    .unwrap();
    let events = events_of_type(&store, EVENT_FIRMWARE_UPDATED);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject.as_deref(), Some("shelf-n9"));
    let d = events[0].data().unwrap();
    assert_eq!((d["from"].as_str(), d["to"].as_str(), d["blocks"].as_u64()), (Some("1.0.0"), Some("1.1.0"), Some(2)));
}
