//! Scan-to-lane latency, measured the way the issue asks: a simulated scanner writes codes into
//! a pseudo-terminal, the real [`run_line`](super::run_line) driver reads the other end opened by
//! path (as the daemon opens `/dev/serial/by-id/…`), and the time from the write of each code's
//! last byte to the moment its [`ScanEvent`](crate::devices::ScanEvent) is received on the lane's
//! side of a channel is recorded. Shared by the scanner test and the benchmark.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::ScannerSettings;
use crate::devices::health::{DeviceHealth, HealthBoard};
use crate::devices::{transport, DeviceEvent, DriverCtx, DriverExit};

use super::{line_scanner_config, run_line, READ_TIMEOUT};

/// Latencies of one run, sorted ascending.
#[derive(Debug, Clone)]
pub struct Latency {
    pub samples: Vec<Duration>,
}

impl Latency {
    /// The `p`-th percentile (0..=100), nearest rank.
    pub fn percentile(&self, p: u32) -> Duration {
        if self.samples.is_empty() {
            return Duration::ZERO;
        }
        let rank = (self.samples.len() * p.min(100) as usize).div_ceil(100).max(1);
        self.samples[rank - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99)
    }

    pub fn max(&self) -> Duration {
        self.samples.last().copied().unwrap_or_default()
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "{} scans: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            self.samples.len(),
            us(self.p50()),
            us(self.p99()),
            us(self.max())
        )
    }
}

/// How long to wait for one event before the measurement fails.
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// Scans `scans` EAN-13-length codes through a fresh pseudo-terminal pair, `gap` apart, and
/// returns the latency of each from its last byte's write to its event's receipt.
pub fn measure_line_latency(scans: usize, gap: Duration) -> Result<Latency, String> {
    let (mut master, slave) = serialport::TTYPort::pair().map_err(|e| format!("cannot create a pseudo-terminal pair: {e}"))?;
    let path = serialport::SerialPort::name(&slave).ok_or("the pseudo-terminal has no path")?;
    let cfg = line_scanner_config("latency-scanner", &path, 115_200, ScannerSettings::default())?;
    let health = HealthBoard::new();
    health.register(DeviceHealth::from_config(&cfg));
    let clock = crate::clock::SystemClock;
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(String, Instant)>();
    let emit = move |ev: DeviceEvent| {
        if let DeviceEvent::Scan(s) = ev {
            let _ = tx.send((s.code, Instant::now()));
        }
    };
    std::thread::scope(|scope| {
        let driver = scope.spawn(|| {
            let mut link = transport::open_serial(cfg.id.as_str(), &path, &cfg.serial_settings(), READ_TIMEOUT).map_err(|e| e.to_string())?;
            let ctx = DriverCtx { device: &cfg, health: &health, clock: &clock, stop: &stop, emit: &emit, store: None };
            Ok::<DriverExit, String>(run_line(&mut link, &ctx))
        });
        let result = (|| {
            // Until the driver has the port open, written bytes may be flushed by its open:
            // repeat a warm-up code until one arrives.
            let started = Instant::now();
            loop {
                master.write_all(b"WARMUP\r").map_err(|e| format!("writing the pseudo-terminal: {e}"))?;
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(_) => break,
                    Err(_) if started.elapsed() < EVENT_WAIT && !driver.is_finished() => continue,
                    Err(_) => return Err("the driver never delivered the warm-up scan".to_string()),
                }
            }
            while rx.recv_timeout(Duration::from_millis(50)).is_ok() {}
            let mut samples = Vec::with_capacity(scans);
            for i in 0..scans {
                let code = format!("{:013}", 6_900_000_000_000u64 + i as u64);
                master.write_all(code.as_bytes()).map_err(|e| format!("writing the pseudo-terminal: {e}"))?;
                let written = Instant::now();
                master.write_all(b"\r").map_err(|e| format!("writing the pseudo-terminal: {e}"))?;
                let (got, received) = rx.recv_timeout(EVENT_WAIT).map_err(|_| format!("scan {i} ({code}) never reached the lane"))?;
                if got != code {
                    return Err(format!("scan {i}: sent {code}, the lane got {got}"));
                }
                samples.push(received.saturating_duration_since(written));
                std::thread::sleep(gap);
            }
            samples.sort();
            Ok(Latency { samples })
        })();
        stop.store(true, Ordering::Relaxed);
        match driver.join() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("the driver thread panicked".to_string()),
        }
        drop(slave);
        result
    })
}
