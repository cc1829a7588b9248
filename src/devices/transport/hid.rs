//! USB HID transport: whole input reports from `/dev/hidrawN`, or from a device found by
//! `usb:VID:PID[:SERIAL]` through hidapi. Drivers read through [`ReportSource`], so tests feed
//! them recorded report bytes.

use std::io;
use std::time::Duration;

use super::ReadOutcome;

/// A source of HID input reports.
pub trait ReportSource: Send {
    /// Reads one input report into `buf` (the report id first when the device numbers its
    /// reports, as hidraw delivers them). `Idle` when none arrived within `timeout`.
    fn read_report(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<ReadOutcome>;
}
