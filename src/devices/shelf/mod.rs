//! Shelf sensors: storehub nodes over serial, an HX711 on GPIO, beam-break / door inputs, and
//! the tracker that turns shelf weights into units and outbox events.
//!
//! - [`node`]: the hub's side of the `storehub-wire` protocol (COBS + postcard + CRC-32 frames);
//!   a node is opened by its path or found by its id ([`crate::devices::discover`]).
//! - [`hx711`]: a load-cell amplifier bit-banged over [`crate::devices::transport::gpio`].
//! - [`beam`]: debounced beam-break and door inputs.
//! - [`tracker`]: (device, channel) → product; readings → picked / restocked / low / empty.
//! - [`firmware`]: `storehub firmware update` of a node (bootloader, RPI-RP2 drive, UF2 copy).
//!
//! Drivers only report grams and levels; products and units are the tracker's business.
//! [`drive`] is the device manager's entry point for every shelf device.

pub mod beam;
pub mod firmware;
pub mod hx711;
pub mod node;
pub mod tracker;

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

pub use beam::run_beam;
pub use hx711::run_hx711;
pub use node::{run_node, run_node_with, NodeCommands};
pub use tracker::{ChannelState, Shelves};

use crate::config::{DeviceConfig, DeviceProtocol};
use crate::devices::transport::gpio::RppalGpio;
use crate::devices::discover::{find_node, parse_node_id, Roots, HELLO_TIMEOUT};
use crate::devices::transport::{open_link, open_serial};
use crate::devices::{DriverCtx, DriverExit};

/// The command handle of the storehub node configured as `device`: tare and calibrate commands
/// queued here reach the node whenever its driver runs (across reconnects). The same handle is
/// returned for the same id for the life of the process.
pub fn node_commands(device: &str) -> NodeCommands {
    static HANDLES: OnceLock<Mutex<BTreeMap<String, NodeCommands>>> = OnceLock::new();
    let mut handles = HANDLES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    handles.entry(device.to_string()).or_default().clone()
}

/// Opens a shelf device as configured and runs its driver (the device manager's `DriveFn` for
/// devices of kind `shelf`). `Err` when it cannot be opened: the message names the device and
/// what to check.
pub fn drive(cfg: &DeviceConfig, ctx: &DriverCtx) -> Result<DriverExit, String> {
    drive_with(cfg, ctx, &Roots::system())
}

/// [`drive`] with the sysfs and /dev roots a node named by `[devices.shelf].node_id` is looked
/// for under (a fake tree in tests). The search runs on every (re)connect, so a node that moved
/// to another port is found there.
pub fn drive_with(cfg: &DeviceConfig, ctx: &DriverCtx, roots: &Roots) -> Result<DriverExit, String> {
    let id = cfg.id.as_str();
    match cfg.protocol() {
        Some(DeviceProtocol::StorehubNode) => {
            let wanted = cfg.shelf_settings().node_id.as_deref().map(|n| parse_node_id(n).ok_or_else(|| format!("device {id}: [devices.shelf].node_id {n:?} is not 16 hex digits")));
            let mut link = match (wanted.transpose()?, &cfg.path) {
                (Some(node_id), None) => {
                    let path = find_node(roots, node_id, HELLO_TIMEOUT).map_err(|e| format!("device {id}: {e}"))?;
                    let port = open_serial(id, &path, &cfg.serial_settings(), node::READ_TIMEOUT).map_err(|e| e.to_string())?;
                    Box::new(port) as Box<dyn crate::devices::transport::Link>
                }
                _ => open_link(cfg, node::READ_TIMEOUT).map_err(|e| e.to_string())?,
            };
            Ok(run_node_with(link.as_mut(), ctx, &node_commands(id)))
        }
        Some(DeviceProtocol::Hx711) => {
            let (data, clock) = match cfg.pins[..] {
                [data, clock] => (data, clock),
                _ => return Err(format!("device {id}: an hx711 needs pins = [data, clock], got {:?}", cfg.pins)),
            };
            let mut gpio = RppalGpio::new().map_err(|e| format!("device {id}: {e}"))?;
            Ok(run_hx711(&mut gpio, (data, clock), ctx))
        }
        Some(DeviceProtocol::Beam) => {
            let pin = match cfg.pins[..] {
                [pin] => pin,
                _ => return Err(format!("device {id}: a beam input needs one pin, pins = [N], got {:?}", cfg.pins)),
            };
            let mut gpio = RppalGpio::new().map_err(|e| format!("device {id}: {e}"))?;
            Ok(run_beam(&mut gpio, pin, ctx))
        }
        other => Err(format!("device {id}: protocol {:?} is not a shelf sensor's", other.map(|p| p.as_str()))),
    }
}
