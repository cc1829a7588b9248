//! Technician commands that work without a daemon: `storehub receipt render` (the exact
//! ESC/POS bytes of a sale's receipt, or of the sample sale) and `storehub print test-page
//! --device SPEC` straight on a port. `main.rs` only parses arguments and calls these.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::receipt::{render_sale, render_test_page, sample_receipt, MemberInfo, SaleReceipt};
use super::status::PrinterStatus;
use super::{layout, query_status, PrintError, STATUS_TIMEOUT};
use crate::checkout::Sale;
use crate::config::{Language, SerialSettings};
use crate::devices::transport::{self, FileLink, Link};
use crate::devices::DriverExit;

/// The store name of the sample receipt and test page when no config names the store.
pub const SAMPLE_STORE_NAME: &str = "华美超市 示例店";

/// The bytes `storehub receipt render --sample` writes.
pub fn sample_bytes(store_name: &str, lang: Language, paper_mm: u16, drawer: bool) -> Result<Vec<u8>, PrintError> {
    let r = sample_receipt(store_name, lang);
    Ok(render_sale(&r, layout::columns_for_paper(paper_mm), drawer).encode()?)
}

/// The bytes of a stored sale's receipt (`storehub receipt render --sale ID`).
pub fn sale_bytes(
    sale: &Sale,
    member: Option<&MemberInfo>,
    store_name: &str,
    tz: chrono_tz::Tz,
    lang: Language,
    paper_mm: u16,
    drawer: bool,
) -> Result<Vec<u8>, PrintError> {
    let r = SaleReceipt::of(sale, store_name, tz, lang, member);
    Ok(render_sale(&r, layout::columns_for_paper(paper_mm), drawer).encode()?)
}

/// Writes `bytes` to `out` (created or truncated).
pub fn write_out(out: &Path, bytes: &[u8]) -> Result<(), PrintError> {
    std::fs::write(out, bytes).map_err(|source| PrintError::Io { what: format!("cannot write {}", out.display()), source })
}

/// Where `print test-page` sends its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// `tcp:HOST:PORT` (raw TCP, usually port 9100).
    Tcp(String),
    /// `serial:PATH[:BAUD]` (default 9600 8N1).
    Serial { path: String, baud: u32 },
    /// `lp:PATH` (`/dev/usb/lp0`): written, not asked for status.
    Lp(String),
    /// `file:PATH`: appended to (created when missing), not asked for status.
    File(String),
}

impl DeviceSpec {
    pub fn parse(spec: &str) -> Result<DeviceSpec, PrintError> {
        let bad = |why: &str| PrintError::Spec(format!("--device {spec:?}: {why}; expected tcp:HOST:PORT, serial:PATH[:BAUD], lp:PATH or file:PATH"));
        let (kind, rest) = spec.split_once(':').ok_or_else(|| bad("no transport prefix"))?;
        if rest.is_empty() {
            return Err(bad("nothing after the prefix"));
        }
        match kind {
            "tcp" => {
                let (_, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
                port.parse::<u16>().map_err(|_| bad("the port is not a number 1..65535"))?;
                Ok(DeviceSpec::Tcp(rest.to_string()))
            }
            "serial" => match rest.rsplit_once(':') {
                Some((path, baud)) if !path.is_empty() && baud.bytes().all(|b| b.is_ascii_digit()) => {
                    let baud = baud.parse::<u32>().map_err(|_| bad("the baud rate is not a number"))?;
                    Ok(DeviceSpec::Serial { path: path.to_string(), baud })
                }
                _ => Ok(DeviceSpec::Serial { path: rest.to_string(), baud: 9600 }),
            },
            "lp" => Ok(DeviceSpec::Lp(rest.to_string())),
            "file" => Ok(DeviceSpec::File(rest.to_string())),
            _ => Err(bad("unknown transport")),
        }
    }

    /// Whether this transport can answer DLE EOT.
    pub fn answers_status(&self) -> bool {
        matches!(self, DeviceSpec::Tcp(_) | DeviceSpec::Serial { .. })
    }

    /// Opens the byte stream.
    pub fn open(&self, timeout: Duration) -> Result<Box<dyn Link>, PrintError> {
        const NAME: &str = "test-page";
        Ok(match self {
            DeviceSpec::Tcp(addr) => Box::new(transport::open_tcp(NAME, addr, timeout)?),
            DeviceSpec::Serial { path, baud } => {
                let s = SerialSettings { baud: *baud, ..SerialSettings::default() };
                Box::new(transport::open_serial(NAME, path, &s, timeout)?)
            }
            DeviceSpec::Lp(path) => Box::new(FileLink::open(NAME, path, timeout)?),
            DeviceSpec::File(path) => {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| PrintError::Io { what: format!("cannot create {path}"), source })?;
                Box::new(FileLink::open(NAME, path, timeout)?)
            }
        })
    }
}

/// What `print test-page` reports.
#[derive(Debug, Clone, Serialize)]
pub struct TestPageReport {
    pub device: String,
    pub columns: usize,
    pub bytes_sent: usize,
    /// The printer's answer to DLE EOT 1/2/4, when the transport can answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<PrinterStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<&'static str>,
    /// Problems seen while asking (timeouts, garbage).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Prints a test page on `spec`: asks its status first where the transport can answer (and
/// sends the page anyway: a technician wants to see what happens), then writes the page.
pub fn print_test_page(spec_text: &str, store_name: &str, columns: usize) -> Result<TestPageReport, PrintError> {
    let spec = DeviceSpec::parse(spec_text)?;
    let mut link = spec.open(Duration::from_secs(3))?;
    let mut notes = Vec::new();
    let gone = |e: DriverExit, when: &'static str| match e {
        DriverExit::Io(source) => PrintError::Io { what: format!("{spec_text}: {when}"), source },
        _ => PrintError::Gone(when),
    };
    let status = if spec.answers_status() {
        let s = query_status(link.as_mut(), STATUS_TIMEOUT, &mut |kind, detail| notes.push(format!("{kind}: {detail}"))).map_err(|e| gone(e, "asking its status"))?;
        Some(s)
    } else {
        None
    };
    let layout = render_test_page(store_name, columns);
    let bytes = layout.encode()?;
    link.write_all(&bytes).and_then(|()| link.flush()).map_err(|source| PrintError::Io { what: format!("{spec_text}: sending the test page"), source })?;
    Ok(TestPageReport {
        device: spec_text.to_string(),
        columns: layout.columns,
        bytes_sent: bytes.len(),
        condition: status.and_then(|s| s.condition()),
        status,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_parse() {
        assert_eq!(DeviceSpec::parse("tcp:192.168.1.50:9100").unwrap(), DeviceSpec::Tcp("192.168.1.50:9100".into()));
        assert_eq!(DeviceSpec::parse("serial:/dev/ttyUSB0:19200").unwrap(), DeviceSpec::Serial { path: "/dev/ttyUSB0".into(), baud: 19200 });
        assert_eq!(DeviceSpec::parse("serial:/dev/serial/by-id/usb-x").unwrap(), DeviceSpec::Serial { path: "/dev/serial/by-id/usb-x".into(), baud: 9600 });
        assert_eq!(DeviceSpec::parse("lp:/dev/usb/lp0").unwrap(), DeviceSpec::Lp("/dev/usb/lp0".into()));
        assert_eq!(DeviceSpec::parse("file:/tmp/x.bin").unwrap(), DeviceSpec::File("/tmp/x.bin".into()));
        for bad in ["", "tcp:", "tcp:host", "tcp:host:port", "usb:1:2", "/dev/usb/lp0"] {
            assert!(DeviceSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_test_page_to_a_file_is_the_rendered_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.bin");
        let report = print_test_page(&format!("file:{}", path.display()), "华美超市", 32).unwrap();
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written, render_test_page("华美超市", 32).encode().unwrap());
        assert_eq!(report.bytes_sent, written.len());
        assert!(report.status.is_none());
    }
}
