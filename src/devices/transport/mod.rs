//! Transports: how bytes reach a device. A [`Link`] is a byte stream with a read timeout
//! (serial port, TCP socket, USB printer character device); HID devices deliver whole reports
//! ([`hid`]); GPIO pins are levels ([`gpio`]). Opening by the config's stable identity lives
//! here too, so drivers never see paths or addresses.

pub mod gpio;
pub mod hid;

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::config::{DeviceConfig, FlowControl, Parity, SerialSettings, Transport};

/// A byte stream to one device.
pub trait Link: Read + Write + Send {
    /// How long a read waits for the first byte before [`read_some`] reports [`Read::Idle`].
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Link for serialport::TTYPort {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        serialport::SerialPort::set_timeout(self, timeout).map_err(io::Error::from)
    }
}

impl Link for TcpStream {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        TcpStream::set_read_timeout(self, Some(timeout.max(Duration::from_millis(1))))
    }
}

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// `n` bytes were read into the buffer.
    Data(usize),
    /// Nothing arrived within the read timeout.
    Idle,
    /// The device is gone (end of file, the pseudo-terminal's other side closed, the USB cable
    /// pulled); the driver returns and the supervisor reconnects.
    Closed,
}

/// Reads what is there, folding the ways platforms say "timed out" and "gone" into
/// [`ReadOutcome`]. Other errors are returned.
pub fn read_some(link: &mut dyn Read, buf: &mut [u8]) -> io::Result<ReadOutcome> {
    match link.read(buf) {
        Ok(0) => Ok(ReadOutcome::Closed),
        Ok(n) => Ok(ReadOutcome::Data(n)),
        Err(e) => match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(ReadOutcome::Idle),
            // EIO: a pty whose other side closed, a USB serial adapter unplugged. ENODEV/ENXIO: the device node is gone.
            _ if is_gone(&e) => Ok(ReadOutcome::Closed),
            _ => Err(e),
        },
    }
}

/// The link failed in a way that means "the device is gone" (unplugged, the pty's other side
/// closed): the driver returns `Closed` and the supervisor reconnects.
///
/// Besides the usual kinds and errnos (EIO from a hung-up tty, ENODEV/ENXIO from a vanished device
/// node) this takes serialport's "flush failed": its `flush` is `tcdrain`, whose errno it drops,
/// and on a port it holds open tcdrain fails only when the line hung up (EIO) or, rarely, on a
/// signal (EINTR), where one reconnect is harmless. Without it an unplugged display or printer
/// was reported as an I/O error about one time in eight.
pub fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::NotConnected | io::ErrorKind::UnexpectedEof
    ) || matches!(e.raw_os_error(), Some(libc::EIO) | Some(libc::ENODEV) | Some(libc::ENXIO))
        || (e.kind() == io::ErrorKind::Other && e.raw_os_error().is_none() && e.to_string() == "flush failed")
}

/// Why a device could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("device {device}: cannot open serial port {path}: {source}; check the path (ls -l /dev/serial/by-id/) and that the storehub user may open it (systemd/99-storehub.rules)")]
    Serial { device: String, path: String, source: serialport::Error },
    #[error("device {device}: cannot connect to {address}: {source}")]
    Tcp { device: String, address: String, source: io::Error },
    #[error("device {device}: cannot open {path}: {source}")]
    File { device: String, path: String, source: io::Error },
    #[error("device {device}: transport {transport} has no byte stream (it is opened by its own driver)")]
    NotAStream { device: String, transport: &'static str },
    #[error("device {device}: no {what} configured")]
    Missing { device: String, what: &'static str },
}

/// Opens a serial port with the configured line settings.
pub fn open_serial(device: &str, path: &str, s: &SerialSettings, timeout: Duration) -> Result<serialport::TTYPort, OpenError> {
    let err = |source| OpenError::Serial { device: device.to_string(), path: path.to_string(), source };
    let data_bits = match s.data_bits {
        5 => serialport::DataBits::Five,
        6 => serialport::DataBits::Six,
        7 => serialport::DataBits::Seven,
        _ => serialport::DataBits::Eight,
    };
    let parity = match s.parity {
        Parity::None => serialport::Parity::None,
        Parity::Even => serialport::Parity::Even,
        Parity::Odd => serialport::Parity::Odd,
    };
    let stop_bits = if s.stop_bits == 2 { serialport::StopBits::Two } else { serialport::StopBits::One };
    let flow = match s.flow_control {
        FlowControl::None => serialport::FlowControl::None,
        FlowControl::Software => serialport::FlowControl::Software,
        FlowControl::Hardware => serialport::FlowControl::Hardware,
    };
    let mut port = serialport::new(path, s.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop_bits)
        .flow_control(flow)
        .timeout(timeout)
        .open_native()
        .map_err(err)?;
    // Another process (a technician's minicom) must not share the port with the daemon.
    serialport::SerialPort::clear(&port, serialport::ClearBuffer::Input).map_err(err)?;
    port.set_exclusive(true).map_err(err)?;
    Ok(port)
}

/// Connects to a raw TCP device (`host:port`), waiting at most `timeout`.
pub fn open_tcp(device: &str, address: &str, timeout: Duration) -> Result<TcpStream, OpenError> {
    let err = |source| OpenError::Tcp { device: device.to_string(), address: address.to_string(), source };
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing");
    for addr in address.to_socket_addrs().map_err(err)? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true).map_err(err)?;
                s.set_read_timeout(Some(timeout)).map_err(err)?;
                s.set_write_timeout(Some(timeout)).map_err(err)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(err(last))
}

/// A character device (`/dev/usb/lp0`) or a plain file (a printer simulated by a file in the
/// demo): writes go straight through; reads return what the device answers (status bytes).
pub struct FileLink {
    file: std::fs::File,
    timeout: Duration,
}

impl FileLink {
    pub fn open(device: &str, path: &str, timeout: Duration) -> Result<FileLink, OpenError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(false)
            .open(path)
            .map_err(|source| OpenError::File { device: device.to_string(), path: path.to_string(), source })?;
        Ok(FileLink { file, timeout })
    }
}

impl Read for FileLink {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = self.timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.file.read(buf)
    }
}

impl Write for FileLink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Link for FileLink {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = timeout;
        Ok(())
    }
}

/// Opens the byte stream of a serial, TCP or lp device as configured.
pub fn open_link(cfg: &DeviceConfig, timeout: Duration) -> Result<Box<dyn Link>, OpenError> {
    let device = cfg.id.as_str();
    let path = || cfg.path.clone().ok_or(OpenError::Missing { device: device.to_string(), what: "path" });
    match cfg.transport {
        Transport::Serial => Ok(Box::new(open_serial(device, &path()?, &cfg.serial_settings(), timeout)?)),
        Transport::Tcp => {
            let address = cfg.address.clone().ok_or(OpenError::Missing { device: device.to_string(), what: "address" })?;
            Ok(Box::new(open_tcp(device, &address, timeout)?))
        }
        Transport::Lp => Ok(Box::new(FileLink::open(device, &path()?, timeout)?)),
        t @ (Transport::Hid | Transport::Gpio) => Err(OpenError::NotAStream { device: device.to_string(), transport: t.as_str() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_errors_are_told_apart_from_other_io_errors() {
        assert!(is_gone(&io::Error::from_raw_os_error(libc::EIO)));
        assert!(is_gone(&io::Error::from_raw_os_error(libc::ENODEV)));
        assert!(is_gone(&io::Error::from(io::ErrorKind::BrokenPipe)));
        // serialport 4's tcdrain failure, errno dropped (posix/tty.rs `flush`).
        assert!(is_gone(&io::Error::new(io::ErrorKind::Other, "flush failed")));
        assert!(!is_gone(&io::Error::new(io::ErrorKind::Other, "something else")));
        assert!(!is_gone(&io::Error::from_raw_os_error(libc::EACCES)));
        assert!(!is_gone(&io::Error::from(io::ErrorKind::TimedOut)));
    }
}
