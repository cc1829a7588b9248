//! `storehub doctor`: what hardware this box can see, for a technician provisioning it. Serial
//! ports (with their stable `/dev/serial/by-id` names, which the config should use), USB HID
//! devices (vid:pid, usage page, product), USB printers (`/dev/usb/lp*`) and GPIO. Checking the
//! configured devices themselves (one weight, a test page, one scan) is done by the command in
//! `main.rs` with the same drivers the daemon uses.

use std::path::Path;

use serde::Serialize;

/// One serial port.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SerialPort {
    /// `/dev/ttyUSB0`, `/dev/ttyACM0`, `/dev/ttyAMA0` …
    pub path: String,
    /// The stable names pointing at it (`/dev/serial/by-id/usb-FTDI_…`): use these in the config.
    pub by_id: Vec<String>,
    /// `usb 0403:6001 FTDI FT232R USB UART`, `pci`, `bluetooth`, `unknown`.
    pub kind: String,
}

/// What the GPIO header offers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GpioInfo {
    pub available: bool,
    /// The board model when known, or why GPIO is not available.
    pub detail: String,
}

/// Everything attached that storehub could drive.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub serial: Vec<SerialPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_error: Option<String>,
    pub hid: Vec<super::transport::hid::HidInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hid_error: Option<String>,
    pub lp: Vec<String>,
    pub gpio: GpioInfo,
}

/// Looks at the machine.
pub fn inventory() -> Inventory {
    let (serial, serial_error) = match serial_ports() {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (hid, hid_error) = super::transport::hid::list_hid();
    Inventory { serial, serial_error, hid, hid_error, lp: lp_devices(Path::new("/dev/usb")), gpio: gpio_info() }
}

fn serial_ports() -> Result<Vec<SerialPort>, String> {
    // serialport scans /sys/class/tty and panics when it is missing (some containers).
    if !Path::new("/sys/class/tty").is_dir() {
        return Err("/sys/class/tty is missing: cannot list serial ports here".into());
    }
    let by_id = links_into(Path::new("/dev/serial/by-id"));
    let ports = serialport::available_ports().map_err(|e| format!("cannot list serial ports: {e}"))?;
    let mut out: Vec<SerialPort> = ports
        .into_iter()
        .map(|p| {
            let kind = match &p.port_type {
                serialport::SerialPortType::UsbPort(u) => format!(
                    "usb {:04x}:{:04x} {} {}",
                    u.vid,
                    u.pid,
                    u.manufacturer.clone().unwrap_or_default(),
                    u.product.clone().unwrap_or_default()
                )
                .trim_end()
                .to_string(),
                serialport::SerialPortType::PciPort => "pci".into(),
                serialport::SerialPortType::BluetoothPort => "bluetooth".into(),
                serialport::SerialPortType::Unknown => "unknown".into(),
            };
            let names = by_id.iter().filter(|(_, target)| *target == p.port_name).map(|(l, _)| l.clone()).collect();
            SerialPort { path: p.port_name, by_id: names, kind }
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `(link, resolved target)` for each symlink in `dir`.
fn links_into(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let link = e.path();
            let target = std::fs::canonicalize(&link).ok()?;
            Some((link.to_string_lossy().into_owned(), target.to_string_lossy().into_owned()))
        })
        .collect();
    out.sort();
    out
}

/// `/dev/usb/lp*` character devices.
pub fn lp_devices(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("lp"))
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

fn gpio_info() -> GpioInfo {
    match rppal::system::DeviceInfo::new() {
        Ok(info) => GpioInfo { available: true, detail: format!("{}", info.model()) },
        Err(e) => GpioInfo { available: false, detail: format!("no Raspberry Pi GPIO here ({e}); HX711 and beam sensors need a Pi") },
    }
}

/// The inventory as a technician reads it.
pub fn render(inv: &Inventory) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "Serial ports ({}):", inv.serial.len());
    if let Some(e) = &inv.serial_error {
        let _ = writeln!(s, "  {e}");
    }
    for p in &inv.serial {
        let _ = writeln!(s, "  {}  {}", p.path, p.kind);
        for l in &p.by_id {
            let _ = writeln!(s, "      {l}   ← use this path in [[devices]]");
        }
    }
    let _ = writeln!(s, "USB HID devices ({}):", inv.hid.len());
    if let Some(e) = &inv.hid_error {
        let _ = writeln!(s, "  {e}");
    }
    for h in &inv.hid {
        let _ = writeln!(s, "  {}", h.describe());
    }
    let _ = writeln!(s, "USB printers ({}):", inv.lp.len());
    for l in &inv.lp {
        let _ = writeln!(s, "  {l}");
    }
    let _ = writeln!(s, "GPIO: {}", if inv.gpio.available { format!("yes, {}", inv.gpio.detail) } else { inv.gpio.detail.clone() });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lp_devices_lists_only_printers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["lp1", "lp0", "hiddev0"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let got = lp_devices(dir.path());
        assert_eq!(got.len(), 2);
        assert!(got[0].ends_with("/lp0") && got[1].ends_with("/lp1"));
        assert!(lp_devices(Path::new("/nonexistent/usb")).is_empty());
    }

    #[test]
    fn inventory_never_panics_here() {
        let inv = inventory();
        let text = render(&inv);
        assert!(text.contains("Serial ports"));
        assert!(text.contains("GPIO:"));
    }
}
