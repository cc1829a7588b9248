//! The device manager: one supervisor thread per configured device. A supervisor opens the
//! device by its configured identity, runs the family's driver loop over it, and when the loop
//! ends (the cable was pulled, the port vanished, the printer went away) marks the device
//! disconnected and tries again with backoff, for as long as the hub runs. Opening by path or
//! `usb:VID:PID` on every attempt is the rescan: a device that appears is attached at the next
//! attempt, one that vanishes is detached when its read fails. Nothing here restarts the
//! daemon or touches a lane's cart: a replugged scanner just starts sending again.
//!
//! Drivers hand their readings to one `emit` function (the router, built by the daemon), which
//! sends scans and scale readings to the device's lane and shelf readings to the shelf tracker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock::SharedClock;
use crate::config::DeviceConfig;
use crate::store::Store;

use super::health::{DeviceHealth, HealthBoard};
use super::{DeviceEvent, DriverCtx, DriverExit};

/// First wait after a failed open or a lost device.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(200);
/// Longest wait between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A connection that lasted this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(10);

/// Opens a device and runs its driver until the device goes away or the hub stops. `Err` means
/// the device could not be opened (the message names the device and what to check).
pub type DriveFn = fn(&DeviceConfig, &DriverCtx) -> Result<DriverExit, String>;

/// Where drivers send their events.
pub type Emit = Arc<dyn Fn(DeviceEvent) + Send + Sync>;

/// The running devices.
pub struct DeviceManager {
    health: Arc<HealthBoard>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Doubles `current` up to [`BACKOFF_MAX`].
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(BACKOFF_MAX)
}

impl DeviceManager {
    /// Starts a supervisor for each device, driving it with `drive`.
    pub fn start(devices: &[DeviceConfig], drive: DriveFn, health: Arc<HealthBoard>, clock: SharedClock, store: Option<Arc<Store>>, emit: Emit) -> DeviceManager {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for cfg in devices {
            health.register(DeviceHealth::from_config(cfg));
            let (cfg, health, stop, clock, store, emit) =
                (cfg.clone(), Arc::clone(&health), Arc::clone(&stop), Arc::clone(&clock), store.clone(), Arc::clone(&emit));
            let name = format!("dev-{}", cfg.id.as_str());
            let spawned = std::thread::Builder::new()
                .name(name.chars().take(15).collect())
                .spawn(move || supervise(&cfg, drive, &health, &stop, clock.as_ref(), store.as_ref(), emit.as_ref()));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => tracing::error!(device = %cfg_id(devices, threads.len()), error = %e, "cannot start the device's thread"),
            }
        }
        DeviceManager { health, stop, threads }
    }

    /// The health board every supervisor writes to.
    pub fn health(&self) -> Arc<HealthBoard> {
        Arc::clone(&self.health)
    }

    /// Stops every driver (each returns within its read timeout) and waits for them.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for DeviceManager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn cfg_id(devices: &[DeviceConfig], i: usize) -> String {
    devices.get(i).map(|d| d.id.as_str().to_string()).unwrap_or_default()
}

/// Sleeps up to `d`, waking early when stopping. Returns true when stopping.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
    }
    stop.load(Ordering::Relaxed)
}

fn supervise(
    cfg: &DeviceConfig,
    drive: DriveFn,
    health: &HealthBoard,
    stop: &AtomicBool,
    clock: &dyn crate::clock::Clock,
    store: Option<&Arc<Store>>,
    emit: &(dyn Fn(DeviceEvent) + Send + Sync),
) {
    let id = cfg.id.as_str();
    let mut backoff = BACKOFF_FIRST;
    let mut logged_absent = false;
    while !stop.load(Ordering::Relaxed) {
        let ctx = DriverCtx { device: cfg, health, clock, stop, emit, store };
        let began = Instant::now();
        match drive(cfg, &ctx) {
            Err(why) => {
                // An absent device is normal (unplugged, switched off): logged once until it
                // comes back, counted every time.
                health.set_connected(id, false, clock.now());
                health.set_status(id, Some("absent"));
                if health.error(id, "open", &why, clock.now()) && !logged_absent {
                    tracing::warn!(device = id, error = %why, "device not available; retrying with backoff");
                    logged_absent = true;
                }
            }
            Ok(exit) => {
                logged_absent = false;
                health.set_connected(id, false, clock.now());
                match &exit {
                    DriverExit::Stopped => break,
                    DriverExit::Closed => {
                        health.set_status(id, Some("absent"));
                        tracing::warn!(device = id, "device went away; reconnecting");
                    }
                    DriverExit::Io(e) => {
                        health.error(id, "io", &e.to_string(), clock.now());
                        tracing::warn!(device = id, error = %e, "device I/O failed; reconnecting");
                    }
                    DriverExit::Other(e) => {
                        health.error(id, "driver", e, clock.now());
                        tracing::warn!(device = id, error = %e, "device driver stopped; reconnecting");
                    }
                }
                if began.elapsed() >= STABLE_AFTER {
                    backoff = BACKOFF_FIRST;
                }
            }
        }
        if pause(backoff, stop) {
            break;
        }
        backoff = next_backoff(backoff);
    }
    health.set_connected(id, false, clock.now());
}

/// Marks a device connected; drivers call it once their transport is open (through
/// [`DriverCtx::connected`]).
impl DriverCtx<'_> {
    pub fn connected(&self) {
        self.health.set_connected(self.id(), true, self.clock.now());
        self.health.set_status(self.id(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        let mut b = BACKOFF_FIRST;
        let mut seen = vec![b];
        for _ in 0..8 {
            b = next_backoff(b);
            seen.push(b);
        }
        assert_eq!(seen[1], Duration::from_millis(400));
        assert_eq!(seen[4], Duration::from_millis(3200));
        assert_eq!(*seen.last().unwrap(), BACKOFF_MAX);
    }
}
