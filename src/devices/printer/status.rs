//! ESC/POS real-time status: the `DLE EOT n` requests and the decoding of their one-byte
//! answers into [`PrinterStatus`]. Sans-I/O; the driver sends, waits and feeds bytes here.
//!
//! Bit sources (Epson ESC/POS reference, DLE EOT; the same table in Bixolon SRP-350 and
//! Citizen manuals, see docs/devices.md): every answer has bit 0 = 0, bit 1 = 1, bit 4 = 1 and
//! bit 7 = 0, which is how an answer is told from garbage.
//! - n = 1 printer status: bit 2 drawer pin 3 high, bit 3 offline.
//! - n = 2 offline cause: bit 2 cover open, bit 3 paper fed by the FEED button, bit 5 printing
//!   stopped by paper end, bit 6 error.
//! - n = 4 roll paper sensor: bits 2–3 paper near end, bits 5–6 paper end.

use super::escpos::{DLE, EOT};

/// Which status `DLE EOT n` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Printer = 1,
    OfflineCause = 2,
    Error = 3,
    Paper = 4,
}

/// The request bytes `10 04 n`.
pub fn request(kind: StatusKind) -> [u8; 3] {
    [DLE, EOT, kind as u8]
}

/// Whether `b` has the fixed bits of a DLE EOT answer (bit 1 and 4 on, bits 0 and 7 off).
pub fn is_status_byte(b: u8) -> bool {
    b & 0x93 == 0x12
}

/// What the printer said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PrinterStatus {
    /// DLE EOT 1 bit 3 (or no answer at all).
    pub offline: bool,
    /// DLE EOT 2 bit 2.
    pub cover_open: bool,
    /// DLE EOT 4 bits 2–3.
    pub paper_near_end: bool,
    /// DLE EOT 4 bits 5–6, or DLE EOT 2 bit 5.
    pub paper_out: bool,
    /// DLE EOT 2 bit 6 (cutter jam, head overheated…).
    pub error: bool,
    /// DLE EOT 1 bit 2: the drawer-kick connector's pin 3 (the drawer switch on most drawers).
    pub drawer_pin3_high: bool,
    /// The printer did not answer (a timeout): counted as offline.
    pub no_answer: bool,
}

impl PrinterStatus {
    /// A printer that never answers status (lp / file transports): assumed ready.
    pub fn assumed_ready() -> PrinterStatus {
        PrinterStatus::default()
    }

    /// No answer within the timeout.
    pub fn unanswered() -> PrinterStatus {
        PrinterStatus { offline: true, no_answer: true, ..PrinterStatus::default() }
    }

    /// Applies the answer to DLE EOT 1.
    pub fn apply_printer(&mut self, b: u8) {
        self.offline = b & 0x08 != 0;
        self.drawer_pin3_high = b & 0x04 != 0;
    }

    /// Applies the answer to DLE EOT 2.
    pub fn apply_offline_cause(&mut self, b: u8) {
        self.cover_open = b & 0x04 != 0;
        self.paper_out |= b & 0x20 != 0;
        self.error = b & 0x40 != 0;
    }

    /// Applies the answer to DLE EOT 4.
    pub fn apply_paper(&mut self, b: u8) {
        self.paper_near_end = b & 0x0C != 0;
        self.paper_out |= b & 0x60 != 0;
    }

    /// Decodes answers to DLE EOT 1, 2 and 4 (2 may be absent when the printer is online).
    pub fn decode(printer: u8, offline_cause: Option<u8>, paper: u8) -> PrinterStatus {
        let mut s = PrinterStatus::default();
        s.apply_printer(printer);
        if let Some(c) = offline_cause {
            s.apply_offline_cause(c);
        }
        s.apply_paper(paper);
        s
    }

    /// Whether a job may be sent now.
    pub fn ready(&self) -> bool {
        !(self.offline || self.paper_out || self.cover_open || self.error || self.no_answer)
    }

    /// The condition staff should see (health status), most actionable first; `None` when the
    /// printer is fine.
    pub fn condition(&self) -> Option<&'static str> {
        if self.paper_out {
            Some("paper_out")
        } else if self.cover_open {
            Some("cover_open")
        } else if self.error {
            Some("error")
        } else if self.offline {
            Some("offline")
        } else if self.paper_near_end {
            Some("paper_near_end")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_dle_eot_n() {
        assert_eq!(request(StatusKind::Printer), [0x10, 0x04, 0x01]);
        assert_eq!(request(StatusKind::OfflineCause), [0x10, 0x04, 0x02]);
        assert_eq!(request(StatusKind::Paper), [0x10, 0x04, 0x04]);
    }

    #[test]
    fn an_idle_printer_answers_0x12_everywhere_and_is_ready() {
        assert!(is_status_byte(0x12));
        let s = PrinterStatus::decode(0x12, None, 0x12);
        assert!(s.ready());
        assert_eq!(s.condition(), None);
    }

    #[test]
    fn paper_out_cover_open_and_near_end_decode_from_their_bits() {
        // Offline (0x1A), stopped by paper end (0x32), paper-end sensor bits 5–6 and near-end 2–3 (0x7E).
        let s = PrinterStatus::decode(0x1A, Some(0x32), 0x7E);
        assert!(s.offline && s.paper_out && s.paper_near_end && !s.cover_open);
        assert_eq!(s.condition(), Some("paper_out"));
        assert!(!s.ready());
        // Cover open: offline, cause bit 2.
        let s = PrinterStatus::decode(0x1A, Some(0x16), 0x12);
        assert_eq!(s.condition(), Some("cover_open"));
        // Near end only: still prints.
        let s = PrinterStatus::decode(0x12, None, 0x1E);
        assert!(s.ready());
        assert_eq!(s.condition(), Some("paper_near_end"));
        // Drawer switch.
        assert!(PrinterStatus::decode(0x16, None, 0x12).drawer_pin3_high);
    }

    #[test]
    fn garbage_is_not_a_status_byte() {
        for b in [0x00, 0xFF, b'A', 0x13, 0x92, 0x10, 0x02] {
            assert!(!is_status_byte(b), "{b:#04x}");
        }
        assert!(PrinterStatus::unanswered().offline);
        assert_eq!(PrinterStatus::unanswered().condition(), Some("offline"));
    }
}
