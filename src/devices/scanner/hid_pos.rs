//! USB HID POS scanners (usage page 0x8C, "Bar Code Scanner"), in the layout Honeywell, Zebra
//! and Access-IS scanners use for their scanned-data input report (docs/devices.md, Scanners):
//!
//! ```text
//! byte 0      report id 0x02
//! byte 1      number of data bytes in this report (0..=56)
//! bytes 2..5  AIM symbology identifier, e.g. `]E0` (zeros when the scanner sends none)
//! bytes 5..61 data (56 bytes, zero-padded)
//! byte 61     vendor code id (Honeywell: `d` EAN-13 …; not used)
//! byte 62     reserved
//! byte 63     bit 0 set: more reports of this code follow
//! ```
//!
//! A code longer than 56 bytes spans several reports, each repeating the identifier; the one
//! with bit 0 of byte 63 clear ends it. Shorter reports (a device with a smaller report) carry
//! the header and data only and are single-report codes. [`PosDecoder`] is sans-I/O.

use crate::config::ScannerSettings;

use super::{kind, preview, Bounded, Decoded, Framing};

/// The report id of the scanned-data input report.
pub const REPORT_ID: u8 = 0x02;
/// Offset of the first data byte.
pub const DATA_OFFSET: usize = 5;
/// Data bytes one full-size (64-byte) report carries.
pub const DATA_PER_REPORT: usize = 56;
/// Length of the full-size report, whose last byte holds the continuation flag.
pub const FULL_REPORT_LEN: usize = 64;
/// Offset of the continuation flag in a full-size report.
pub const CONTINUATION_OFFSET: usize = 63;

/// Reassembles codes from scanned-data reports.
#[derive(Debug)]
pub struct PosDecoder {
    framing: Framing,
    data: Bounded,
    /// The identifier from the first report of the code being assembled.
    symbology: Option<String>,
    /// Reports of the code being assembled so far.
    reports: usize,
}

impl PosDecoder {
    pub fn new(settings: &ScannerSettings) -> PosDecoder {
        PosDecoder { framing: Framing::from_settings(settings), data: Bounded::default(), symbology: None, reports: 0 }
    }

    /// Feeds one input report, report id first (as hidraw and hidapi deliver numbered reports).
    pub fn push_report(&mut self, report: &[u8], mut out: impl FnMut(Decoded)) {
        let Some(&id) = report.first() else {
            out(Decoded::Rejected { kind: kind::GARBAGE, detail: "an empty HID report".into() });
            return;
        };
        if id != REPORT_ID {
            out(Decoded::Rejected {
                kind: kind::UNKNOWN_REPORT,
                detail: format!("report id 0x{id:02x} ({} bytes) is not the scanned-data report 0x02: {:?}", report.len(), preview(report)),
            });
            return;
        }
        if report.len() < DATA_OFFSET {
            self.reset();
            out(Decoded::Rejected { kind: kind::GARBAGE, detail: format!("a scanned-data report of {} bytes is shorter than its 5-byte header", report.len()) });
            return;
        }
        let full = report.len() >= FULL_REPORT_LEN;
        let capacity = if full { DATA_PER_REPORT } else { report.len() - DATA_OFFSET };
        let n = usize::from(report[1]);
        if n > capacity {
            self.reset();
            out(Decoded::Rejected {
                kind: kind::GARBAGE,
                detail: format!("the length byte says {n} data bytes but a {}-byte report carries at most {capacity}", report.len()),
            });
            return;
        }
        let aim = &report[2..DATA_OFFSET];
        if self.reports == 0 {
            self.symbology = (aim[0] == b']' && aim[1..].iter().all(u8::is_ascii_graphic)).then(|| String::from_utf8_lossy(aim).into_owned());
        }
        self.reports += 1;
        self.data.extend(&report[DATA_OFFSET..DATA_OFFSET + n]);
        let more = full && report[CONTINUATION_OFFSET] & 0x01 != 0;
        if !more {
            if let Some(d) = self.finish() {
                out(d);
            }
        }
    }

    fn finish(&mut self) -> Option<Decoded> {
        // Scanners programmed with a CR (or CR LF) suffix send it in HID POS mode too.
        while matches!(self.data.buf.last(), Some(b'\r' | b'\n')) && self.data.dropped == 0 {
            self.data.buf.pop();
        }
        let symbology = self.symbology.take();
        self.reports = 0;
        self.data.take(&self.framing, symbology)
    }

    fn reset(&mut self) {
        self.data.clear();
        self.symbology = None;
        self.reports = 0;
    }

    /// Reports of a multi-report code are waiting for the last one.
    pub fn has_partial(&self) -> bool {
        self.reports > 0
    }

    /// Drops an unfinished multi-report code (its last report never came) as `truncated`.
    pub fn abandon(&mut self) -> Option<Decoded> {
        if !self.has_partial() {
            return None;
        }
        let detail = format!(
            "{} report(s) of a code ({} bytes) with no last report: {:?}",
            self.reports,
            self.data.buf.len() + self.data.dropped,
            preview(&self.data.buf)
        );
        self.reset();
        Some(Decoded::Rejected { kind: kind::TRUNCATED, detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::scanner::{Code, MAX_CODE_LEN};

    /// A 64-byte scanned-data report as a Honeywell / Access-IS scanner sends it.
    fn report(aim: &[u8; 3], data: &[u8], code_id: u8, more: bool) -> [u8; 64] {
        assert!(data.len() <= DATA_PER_REPORT);
        let mut r = [0u8; 64];
        r[0] = 0x02;
        r[1] = data.len() as u8;
        r[2..5].copy_from_slice(aim);
        r[5..5 + data.len()].copy_from_slice(data);
        r[61] = code_id;
        r[63] = u8::from(more);
        r
    }

    fn run(settings: &ScannerSettings, reports: &[&[u8]]) -> Vec<Decoded> {
        let mut d = PosDecoder::new(settings);
        let mut out = Vec::new();
        for r in reports {
            d.push_report(r, |x| out.push(x));
        }
        out
    }

    fn code(c: &str, sym: &str) -> Decoded {
        Decoded::Code(Code { code: c.to_string(), symbology: Some(sym.to_string()) })
    }

    #[test]
    fn one_report_ean13_with_aim_id() {
        // 02 0d 5d 45 30 36 39 30 31 32 33 34 35 36 37 38 39 32 00… 64 00 00
        let r = report(b"]E0", b"6901234567892", b'd', false);
        assert_eq!(&r[..18], b"\x02\x0d]E06901234567892");
        assert_eq!(run(&ScannerSettings::default(), &[&r]), vec![code("6901234567892", "]E0")]);
    }

    #[test]
    fn a_long_code_spans_reports_until_the_flag_clears() {
        // A 60-byte QR payload: 56 bytes in the first report (flag 1), 4 in the second (flag 0),
        // as in the Access-IS manual's example.
        let payload = b"M1GATHERGOOD/MICHAEL YABCDEF LHRDURAK 3542 052Y003D23001";
        assert_eq!(payload.len(), 56);
        let first = report(b"]Q0", payload, b's', true);
        let second = report(b"]Q0", b"ABCD", b's', false);
        let mut want = payload.to_vec();
        want.extend_from_slice(b"ABCD");
        let out = run(&ScannerSettings::default(), &[&first, &second]);
        assert_eq!(out, vec![code(std::str::from_utf8(&want).unwrap(), "]Q0")]);
        // The code in progress is partial until its last report.
        let mut d = PosDecoder::new(&ScannerSettings::default());
        d.push_report(&first, |_| panic!("not finished yet"));
        assert!(d.has_partial());
        assert!(matches!(d.abandon(), Some(Decoded::Rejected { kind: "truncated", .. })));
    }

    #[test]
    fn honeywell_bytes_as_captured() {
        // The last two reports of a Honeywell Voyager's answer over HID POS, byte for byte
        // (github.com/HenkVanAsselt/python_hon_usbhid): "um: N/A\r\n" under ]X0 closing a
        // multi-report message, then a one-report "]Z6" message.
        let mut a = [0u8; 64];
        a[..14].copy_from_slice(&[2, 9, 93, 88, 48, 117, 109, 58, 32, 78, 47, 65, 13, 10]);
        a[61] = 63;
        let mut b = [0u8; 64];
        b[..13].copy_from_slice(&[2, 8, 93, 90, 54, 82, 69, 86, 73, 78, 70, 6, 46]);
        b[61] = 54;
        let out = run(&ScannerSettings::default(), &[&a, &b]);
        assert_eq!(out[0], code("um: N/A", "]X0"));
        // The ACK byte 0x06 inside is not printable: rejected, counted.
        assert!(matches!(&out[1], Decoded::Rejected { kind: "garbage", .. }), "{out:?}");
    }

    #[test]
    fn bad_reports_are_counted_and_do_not_break_the_next_code() {
        let good = report(b"]E0", b"4006381333931", b'd', false);
        let mut lying = report(b"]E0", b"123", b'd', false);
        lying[1] = 57; // more than a report can carry
        let out = run(&ScannerSettings::default(), &[&[0x04, 1, 2, 3], &lying, &[0x02, 1], &[], &good]);
        let kinds: Vec<_> = out
            .iter()
            .map(|d| match d {
                Decoded::Rejected { kind, .. } => *kind,
                Decoded::Code(c) => c.code.as_str(),
            })
            .collect();
        assert_eq!(kinds, vec!["unknown_report", "garbage", "garbage", "garbage", "4006381333931"]);
    }

    #[test]
    fn short_reports_without_aim_and_trailing_cr() {
        // A device with 20-byte reports, no AIM identifier (zeros), CR suffix configured.
        let mut r = [0u8; 20];
        r[0] = 0x02;
        r[1] = 9;
        r[5..14].copy_from_slice(b"ABC-1234\r");
        assert_eq!(run(&ScannerSettings::default(), &[&r]), vec![Decoded::Code(Code { code: "ABC-1234".into(), symbology: None })]);
    }

    #[test]
    fn a_code_of_endless_reports_is_bounded() {
        let r = report(b"]Q1", &[b'x'; 56], b's', true);
        let mut d = PosDecoder::new(&ScannerSettings::default());
        for _ in 0..(MAX_CODE_LEN / 56 + 3) {
            d.push_report(&r, |_| panic!("no end yet"));
        }
        assert!(d.data.buf.len() <= MAX_CODE_LEN);
        let mut out = Vec::new();
        d.push_report(&report(b"]Q1", b"end", b's', false), |x| out.push(x));
        assert!(matches!(&out[..], [Decoded::Rejected { kind: "overlong", .. }]), "{out:?}");
        let mut out = Vec::new();
        d.push_report(&report(b"]E0", b"6901234567892", b'd', false), |x| out.push(x));
        assert_eq!(out, vec![code("6901234567892", "]E0")]);
    }
}
