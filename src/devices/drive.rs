//! Opening a configured device and running its family's driver on it: the one place that maps
//! (transport, protocol) to a driver loop. The manager calls [`drive`] in each device's
//! supervisor thread, again after every disconnect.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::config::{DeviceConfig, DeviceProtocol as P, Transport};

use super::display::{self, DisplayUpdate};
use super::transport::{self, hid};
use super::{printer, scale, scanner, shelf, DriverCtx, DriverExit};

/// Read timeout of byte-stream devices: short, so a driver notices `stop` promptly.
pub const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// Updates waiting per customer display; a display that cannot keep up loses the oldest view
/// of the cart, never the newest (the sender uses `try_send` and the next update replaces it).
const DISPLAY_QUEUE: usize = 16;

type DisplayChannel = (SyncSender<DisplayUpdate>, Arc<Mutex<Receiver<DisplayUpdate>>>);

/// The update channel of a customer display, one per device id for the life of the process
/// (a reconnected display keeps its channel).
pub fn display_channel(id: &str) -> DisplayChannel {
    static CHANNELS: OnceLock<Mutex<HashMap<String, DisplayChannel>>> = OnceLock::new();
    let mut map = CHANNELS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    map.entry(id.to_string())
        .or_insert_with(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel(DISPLAY_QUEUE);
            (tx, Arc::new(Mutex::new(rx)))
        })
        .clone()
}

/// Opens `cfg`'s device and runs its driver until the device goes away or the hub stops.
/// `Err` says why it could not be opened.
pub fn drive(cfg: &DeviceConfig, ctx: &DriverCtx) -> Result<DriverExit, String> {
    let protocol = cfg.protocol().ok_or_else(|| format!("device {}: no protocol configured", cfg.id))?;
    if protocol.kind() == crate::config::DeviceKind::Shelf {
        // Shelf sensors open their own transport (a node's port, or GPIO pins) and report their
        // own connection; a failed open puts "absent" back.
        ctx.health.set_status(ctx.id(), None);
        return shelf::drive(cfg, ctx);
    }
    match cfg.transport {
        Transport::Serial | Transport::Tcp | Transport::Lp => {
            let mut link = transport::open_link(cfg, READ_TIMEOUT).map_err(|e| e.to_string())?;
            ctx.connected();
            Ok(match protocol {
                P::Line => scanner::run_line(link.as_mut(), ctx),
                P::Toledo8217 | P::MtSics | P::Cas | P::Generic => scale::run(link.as_mut(), ctx),
                P::Escpos => printer::run(link.as_mut(), ctx),
                P::Cd5220 => {
                    let (_, rx) = display_channel(cfg.id.as_str());
                    let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
                    display::run(link.as_mut(), ctx, &rx)
                }
                other => DriverExit::Other(format!("protocol {} does not run over {}", other.as_str(), cfg.transport.as_str())),
            })
        }
        Transport::Hid => {
            let mut source = hid::open_hid(cfg).map_err(|e| e.to_string())?;
            ctx.connected();
            Ok(match protocol {
                P::HidKeyboard | P::HidPos => scanner::run_hid(source.as_mut(), ctx),
                P::HidScale => scale::run_hid(source.as_mut(), ctx),
                other => DriverExit::Other(format!("protocol {} does not run over hid", other.as_str())),
            })
        }
        Transport::Gpio => Err(format!("device {}: only shelf sensors use GPIO", cfg.id)),
    }
}
