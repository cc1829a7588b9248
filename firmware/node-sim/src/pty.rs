//! The simulated node's USB CDC port: a pseudo-terminal pair whose slave is reachable at a
//! stable symlink (as `/dev/serial/by-id/…` is for a real node). The node side reads and writes
//! the master; the hub opens the link. Dropping a [`Pty`] closes both sides and removes the
//! link, which is what the hub sees when a node is unplugged (reads on its open slave fail with
//! EIO) or restarts into its bootloader.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

/// How long one read of the master waits for bytes from the hub; also the longest a frame write
/// waits for room when the hub is not reading.
pub const IO_WAIT: Duration = Duration::from_millis(5);

/// A pty pair, both ends close-on-exec, the master reading with `timeout`, and `link` (replacing a
/// link or file already there) pointing at the slave: a simulated serial device at a stable path,
/// for this simulator and the hub's own simulated scanners and scales (`devices::sim`).
pub fn linked_pair(link: &Path, timeout: Duration) -> io::Result<(TTYPort, TTYPort)> {
    let (mut master, slave) = TTYPort::pair().map_err(|e| io::Error::other(format!("cannot create a pseudo-terminal: {e}")))?;
    // serialport opens both without O_CLOEXEC: a process the caller spawns (a hub under test,
    // its CLI) would inherit the master and keep the line from hanging up when the device goes
    // away (the hub would never see EIO).
    for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
        // SAFETY: fcntl on a descriptor this function owns; no memory is passed.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == -1 {
            return Err(io::Error::other(format!("cannot make the pseudo-terminal close-on-exec: {}", io::Error::last_os_error())));
        }
    }
    master.set_timeout(timeout).map_err(|e| io::Error::other(format!("cannot set the pseudo-terminal's timeout: {e}")))?;
    let name = slave.name().ok_or_else(|| io::Error::other("the pseudo-terminal's slave has no name"))?;
    if let Some(dir) = link.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display())))?;
    }
    match std::fs::remove_file(link) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("cannot replace {}: {e}", link.display()))),
    }
    std::os::unix::fs::symlink(&name, link).map_err(|e| io::Error::new(e.kind(), format!("cannot link {} to {name}: {e}", link.display())))?;
    Ok((master, slave))
}

/// A pty pair and the link to its slave.
pub struct Pty {
    master: TTYPort,
    /// Held open so the line does not hang up between the hub's opens.
    _slave: TTYPort,
    link: PathBuf,
    /// A frame was cut short (no room): the next write starts with a 0x00 so the hub drops the
    /// fragment as one bad frame instead of gluing it to the next.
    cut: bool,
}

impl Pty {
    /// Makes a pty pair and points `link` at its slave, replacing a link (or file) already there.
    pub fn create(link: &Path) -> io::Result<Pty> {
        let (master, slave) = linked_pair(link, IO_WAIT)?;
        Ok(Pty { master, _slave: slave, link: link.to_path_buf(), cut: false })
    }

    /// Bytes from the hub, waiting at most [`IO_WAIT`]; `Ok(0)` when none came.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.master.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Writes one whole frame, or drops it when the hub has not read for so long that the line's
    /// buffer stays full (as a USB CDC device drops what the host does not take). Returns whether
    /// the frame went out whole.
    pub fn write_frame(&mut self, frame: &[u8]) -> bool {
        if self.cut {
            if !matches!(self.master.write(&[0]), Ok(1)) {
                return false;
            }
            self.cut = false;
        }
        let deadline = Instant::now() + IO_WAIT;
        let mut rest = frame;
        while !rest.is_empty() {
            match self.master.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if rest.is_empty() {
            return true;
        }
        self.cut = rest.len() != frame.len();
        false
    }

    /// Waits up to `limit` for the hub to read what was written (the slave's input queue to
    /// empty), as a node's last frames reach the host before it drops off the bus. Returns
    /// whether they were read.
    pub fn drain(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        // The kernel moves written bytes into the slave's queue on a work queue, a moment after
        // the write: give it that moment before asking how much is left.
        std::thread::sleep(Duration::from_millis(20));
        loop {
            match self._slave.bytes_to_read() {
                Ok(0) => return true,
                Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                _ => return false,
            }
        }
    }

    pub fn link(&self) -> &Path {
        &self.link
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Only our own link: a later pty may already point it elsewhere.
        if let Ok(target) = std::fs::read_link(&self.link) {
            if Some(target.as_os_str()) == self._slave.name().as_deref().map(std::ffi::OsStr::new) {
                let _ = std::fs::remove_file(&self.link);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes written to the master come out of the link, and back; dropping the pty removes the
    /// link and a reader of the slave then gets EIO (end of line).
    #[test]
    fn the_link_reaches_the_master_and_goes_away_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("sub").join("node");
        let mut pty = Pty::create(&link).unwrap();
        let mut hub = serialport::new(link.to_string_lossy(), 115_200).timeout(Duration::from_secs(2)).open_native().unwrap();
        assert!(pty.write_frame(b"\x01\x02\x00"));
        let mut got = [0u8; 3];
        hub.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"\x01\x02\x00");
        hub.write_all(b"hi").unwrap();
        let mut buf = [0u8; 8];
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut n = 0;
        while n == 0 && Instant::now() < deadline {
            n = pty.read(&mut buf).unwrap();
        }
        assert_eq!(&buf[..n], b"hi");
        // A second pty on the same link replaces it.
        let pty2 = Pty::create(&link).unwrap();
        drop(pty);
        assert!(link.exists(), "the first pty's drop left the second's link alone");
        drop(pty2);
        assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");
        let mut buf = [0u8; 1];
        let e = hub.read(&mut buf).unwrap_err();
        assert!(e.raw_os_error() == Some(5) || e.kind() == io::ErrorKind::BrokenPipe || e.to_string().contains("I/O"), "{e:?}");
    }
}
