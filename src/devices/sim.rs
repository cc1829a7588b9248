//! Simulated devices on pseudo-terminals, for `storehub demo` and `storehub bench`: each holds
//! the master side of a pty pair and speaks the device's real protocol on it, while the hub
//! opens the slave side by path exactly as it opens a real `/dev/serial/by-id/…` port. A stable
//! symlink (the path in the config) points at the slave.
//!
//! Shelf nodes are not here: `storehub_node_sim::SimNode` (`firmware/node-sim`) runs the real
//! node firmware core on a pty instead of a fake.
//!
//! Not used by the daemon on a real box.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serialport::TTYPort;

/// A pty pair whose slave is reachable at `link`.
pub struct PtyDevice {
    pub master: TTYPort,
    /// Kept open so the slave does not hang up between the hub's opens.
    _slave: TTYPort,
    pub link: PathBuf,
}

impl PtyDevice {
    /// Makes a pty pair (close-on-exec, so a spawned hub process does not keep the line up) and
    /// points `link` (replacing what was there) at its slave.
    pub fn create(link: &Path) -> anyhow::Result<PtyDevice> {
        let (master, slave) = storehub_node_sim::pty::linked_pair(link, Duration::from_millis(50))?;
        Ok(PtyDevice { master, _slave: slave, link: link.to_path_buf() })
    }
}

/// A scanner: each [`ScriptedScanner::scan`] writes one code and CR LF, as a USB-CDC scanner does.
pub struct ScriptedScanner {
    dev: Mutex<PtyDevice>,
}

impl ScriptedScanner {
    pub fn create(link: &Path) -> anyhow::Result<ScriptedScanner> {
        Ok(ScriptedScanner { dev: Mutex::new(PtyDevice::create(link)?) })
    }

    /// Sends one code; returns when its last byte is written.
    pub fn scan(&self, code: &str) -> std::io::Result<()> {
        let mut dev = self.dev.lock().unwrap_or_else(|e| e.into_inner());
        let mut frame = Vec::with_capacity(code.len() + 2);
        frame.extend_from_slice(code.as_bytes());
        frame.extend_from_slice(b"\r\n");
        dev.master.write_all(&frame)?;
        dev.master.flush()
    }

    /// Sends one code like [`ScriptedScanner::scan`], but writes the code and its CR LF
    /// terminator with two writes and returns the instant taken just before the terminator's
    /// write: the start of a scan-to-lane latency measurement (`storehub bench`).
    pub fn scan_timed(&self, code: &str) -> std::io::Result<std::time::Instant> {
        let mut dev = self.dev.lock().unwrap_or_else(|e| e.into_inner());
        dev.master.write_all(code.as_bytes())?;
        let before_terminator = std::time::Instant::now();
        dev.master.write_all(b"\r\n")?;
        dev.master.flush()?;
        Ok(before_terminator)
    }
}

/// A Mettler Toledo 8217 scale: answers `W` with the weight on its pan (STX, kg with three
/// decimals, CR), or the status frame `STX ? s CR` with the motion bit while the load settles;
/// `Z` zeroes, `T` tares. The pan's load is set with [`ToledoScale::put`].
pub struct ToledoScale {
    grams: Arc<AtomicI64>,
    moving: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub link: PathBuf,
}

/// The 8217 answer to `W` for a load in grams, or the status frame while moving.
pub fn toledo_answer(grams: i64, moving: bool) -> Vec<u8> {
    if moving {
        return vec![0x02, b'?', 0x20 | 0x01, b'\r'];
    }
    if grams < 0 {
        return vec![0x02, b'?', 0x20 | 0x04, b'\r'];
    }
    let mut v = vec![0x02];
    v.extend_from_slice(format!("{:02}.{:03}", grams / 1000, grams % 1000).as_bytes());
    v.push(b'\r');
    v
}

impl ToledoScale {
    pub fn start(link: &Path) -> anyhow::Result<ToledoScale> {
        let mut dev = PtyDevice::create(link)?;
        let link = dev.link.clone();
        let (grams, moving, stop) = (Arc::new(AtomicI64::new(0)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (g, m, s) = (Arc::clone(&grams), Arc::clone(&moving), Arc::clone(&stop));
        let thread = std::thread::Builder::new().name("sim-scale".into()).spawn(move || {
            let mut tare = 0i64;
            let mut buf = [0u8; 64];
            while !s.load(Ordering::Relaxed) {
                let n = match dev.master.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                for &b in &buf[..n] {
                    let answer = match b {
                        b'W' => Some(toledo_answer(g.load(Ordering::Relaxed) - tare, m.load(Ordering::Relaxed))),
                        b'T' => {
                            tare = g.load(Ordering::Relaxed);
                            None
                        }
                        b'Z' | b'C' => {
                            tare = 0;
                            None
                        }
                        _ => None,
                    };
                    if let Some(a) = answer {
                        let _ = dev.master.write_all(&a);
                    }
                }
            }
        })?;
        Ok(ToledoScale { grams, moving, stop, thread: Some(thread), link })
    }

    /// Puts a load on the pan (0 = empty).
    pub fn put(&self, grams: i64) {
        self.grams.store(grams, Ordering::Relaxed);
    }

    /// Makes the load move (answers are status frames with the motion bit) or settle.
    pub fn moving(&self, moving: bool) {
        self.moving.store(moving, Ordering::Relaxed);
    }
}

impl Drop for ToledoScale {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toledo_frames_are_byte_exact() {
        assert_eq!(toledo_answer(1250, false), b"\x0201.250\r");
        assert_eq!(toledo_answer(0, false), b"\x0200.000\r");
        assert_eq!(toledo_answer(25_005, false), b"\x0225.005\r");
        assert_eq!(toledo_answer(500, true), b"\x02?\x21\r");
        assert_eq!(toledo_answer(-5, false), b"\x02?\x24\r");
    }
}
