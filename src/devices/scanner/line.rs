//! Line scanners (serial, USB-CDC, TCP): ASCII codes each ended by the configured terminator.
//! [`LineDecoder`] is sans-I/O: bytes in any chunking, [`Decoded`] out. Its buffer is bounded
//! by [`MAX_CODE_LEN`]; an overlong line is dropped up to its terminator and reported once.

use crate::config::{ScannerSettings, Terminator};

use super::{kind, preview, Bounded, Decoded, Framing, MAX_CODE_LEN};

/// Splits a byte stream into codes.
#[derive(Debug)]
pub struct LineDecoder {
    terminator: Terminator,
    framing: Framing,
    pub(super) line: Bounded,
    /// The previous byte was a CR: with `crlf` it may be the first half of the terminator; with
    /// `any` a LF right after it belongs to the same terminator.
    after_cr: bool,
}

impl LineDecoder {
    pub fn new(settings: &ScannerSettings) -> LineDecoder {
        LineDecoder { terminator: settings.terminator, framing: Framing::from_settings(settings), line: Bounded::default(), after_cr: false }
    }

    /// Feeds bytes as they arrived; every finished code or reject goes to `out`.
    pub fn push(&mut self, bytes: &[u8], mut out: impl FnMut(Decoded)) {
        for &b in bytes {
            if let Some(d) = self.push_byte(b) {
                out(d);
            }
        }
    }

    /// Feeds one byte; returns a result when it ended a code.
    pub fn push_byte(&mut self, b: u8) -> Option<Decoded> {
        let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
        match (self.terminator, b) {
            (Terminator::Any, b'\r') => self.end(),
            // The LF of a CR LF: the code already ended at the CR.
            (Terminator::Any, b'\n') if after_cr => None,
            (Terminator::Any, b'\n') | (Terminator::Cr, b'\r') | (Terminator::Lf, b'\n') | (Terminator::Tab, b'\t') => self.end(),
            // With `crlf` the CR is held back until we see whether a LF follows.
            (Terminator::Crlf, b'\r') => {
                if after_cr {
                    self.line.push(b'\r');
                }
                None
            }
            (Terminator::Crlf, b'\n') if after_cr => self.end(),
            (Terminator::Crlf, _) => {
                if after_cr {
                    self.line.push(b'\r');
                }
                self.line.push(b);
                None
            }
            _ => {
                self.line.push(b);
                None
            }
        }
    }

    fn end(&mut self) -> Option<Decoded> {
        self.line.take(&self.framing, None)
    }

    /// Bytes of an unfinished code are waiting for their terminator.
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || (self.terminator == Terminator::Crlf && self.after_cr)
    }

    /// Drops an unfinished code (nothing more came for a while), reporting it as `truncated`.
    pub fn abandon(&mut self) -> Option<Decoded> {
        if !self.has_partial() {
            return None;
        }
        let n = self.line.buf.len() + self.line.dropped;
        let detail = format!(
            "{n} byte(s) with no {} terminator after them: {:?}; check the scanner's suffix setting",
            terminator_name(self.terminator),
            preview(&self.line.buf)
        );
        self.line.clear();
        self.after_cr = false;
        Some(Decoded::Rejected { kind: kind::TRUNCATED, detail })
    }
}

fn terminator_name(t: Terminator) -> &'static str {
    match t {
        Terminator::Any => "CR or LF",
        Terminator::Cr => "CR",
        Terminator::Lf => "LF",
        Terminator::Crlf => "CR LF",
        Terminator::Tab => "TAB",
    }
}

const _: () = assert!(MAX_CODE_LEN >= 64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::scanner::Code;

    fn settings(terminator: Terminator) -> ScannerSettings {
        ScannerSettings { terminator, ..ScannerSettings::default() }
    }

    fn decode(s: &ScannerSettings, input: &[u8]) -> Vec<Decoded> {
        let mut d = LineDecoder::new(s);
        let mut out = Vec::new();
        d.push(input, |x| out.push(x));
        out
    }

    fn code(c: &str) -> Decoded {
        Decoded::Code(Code { code: c.to_string(), symbology: None })
    }

    fn kinds(v: &[Decoded]) -> Vec<&str> {
        v.iter()
            .map(|d| match d {
                Decoded::Code(c) => c.code.as_str(),
                Decoded::Rejected { kind, .. } => kind,
            })
            .collect()
    }

    #[test]
    fn any_terminator_takes_cr_lf_and_crlf_without_empty_codes() {
        let s = settings(Terminator::Any);
        let out = decode(&s, b"6901234567892\r\n4006381333931\r9787111213823\n\r\n\n");
        assert_eq!(out, vec![code("6901234567892"), code("4006381333931"), code("9787111213823")]);
    }

    #[test]
    fn each_single_terminator_splits_only_on_itself() {
        assert_eq!(decode(&settings(Terminator::Cr), b"123\r456\r"), vec![code("123"), code("456")]);
        assert_eq!(decode(&settings(Terminator::Lf), b"123\n456\n"), vec![code("123"), code("456")]);
        assert_eq!(decode(&settings(Terminator::Tab), b"123\t456\t"), vec![code("123"), code("456")]);
        // A CR where LF ends lines is a byte of the code, and not a printable one.
        assert_eq!(kinds(&decode(&settings(Terminator::Lf), b"12\r3\n456\n")), vec!["garbage", "456"]);
    }

    #[test]
    fn crlf_needs_both_bytes_in_any_chunking() {
        let s = settings(Terminator::Crlf);
        let mut d = LineDecoder::new(&s);
        let mut out = Vec::new();
        for chunk in [&b"69012345"[..], b"67892\r", b"\n", b"400638133393", b"1\r\n"] {
            d.push(chunk, |x| out.push(x));
        }
        assert_eq!(out, vec![code("6901234567892"), code("4006381333931")]);
        // A lone CR stays in the code (and makes it garbage); a lone LF too.
        assert_eq!(kinds(&decode(&s, b"12\r34\r\n56\n78\r\n9\r\r\n")), vec!["garbage", "garbage", "garbage"]);
    }

    #[test]
    fn prefix_suffix_and_aim_identifier_are_stripped() {
        let s = ScannerSettings { terminator: Terminator::Cr, strip_prefix: "\u{2}".into(), strip_suffix: "\u{3}".into(), aim_ids: true };
        let out = decode(&s, b"\x02]E06901234567892\x03\r\x02]C1(01)09501101530003\x03\r]Q1HELLO\r");
        assert_eq!(
            out,
            vec![
                Decoded::code("6901234567892", Some("]E0")),
                Decoded::code("(01)09501101530003", Some("]C1")),
                Decoded::code("HELLO", Some("]Q1")),
            ]
        );
        // Without aim_ids the identifier is part of the code.
        let plain = settings(Terminator::Cr);
        assert_eq!(decode(&plain, b"]E06901234567892\r"), vec![code("]E06901234567892")]);
    }

    #[test]
    fn garbage_is_rejected_and_the_next_code_still_decodes() {
        let s = settings(Terminator::Any);
        let out = decode(&s, b"69\xff0123\r\x00\x01\x02\r\xe5\x8d\x8e\r4006381333931\r");
        assert_eq!(kinds(&out), vec!["garbage", "garbage", "garbage", "4006381333931"]);
        match &out[0] {
            Decoded::Rejected { detail, .. } => assert!(detail.contains("0xff at offset 2"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gs1_group_separator_is_kept() {
        let s = ScannerSettings { aim_ids: true, ..settings(Terminator::Cr) };
        let out = decode(&s, b"]d2010950110153000317250101\x1d10ABC123\r");
        assert_eq!(out, vec![Decoded::code("010950110153000317250101\u{1d}10ABC123", Some("]d2"))]);
    }

    #[test]
    fn overlong_line_is_dropped_to_its_terminator_once() {
        let s = settings(Terminator::Any);
        let mut input = vec![b'7'; MAX_CODE_LEN + 100];
        input.extend_from_slice(b"\r\n6901234567892\r\n");
        let out = decode(&s, &input);
        assert_eq!(kinds(&out), vec!["overlong", "6901234567892"]);
        // Exactly MAX_CODE_LEN fits.
        let mut input = vec![b'1'; MAX_CODE_LEN];
        input.push(b'\n');
        assert_eq!(kinds(&decode(&s, &input)), vec!["1".repeat(MAX_CODE_LEN).as_str()]);
    }

    #[test]
    fn an_unterminated_fragment_can_be_abandoned() {
        let mut d = LineDecoder::new(&settings(Terminator::Crlf));
        assert!(!d.has_partial());
        assert_eq!(d.abandon(), None);
        d.push(b"690123\r", |_| panic!("nothing ends here"));
        assert!(d.has_partial());
        assert!(matches!(d.abandon(), Some(Decoded::Rejected { kind: "truncated", .. })));
        assert!(!d.has_partial());
        let mut out = Vec::new();
        d.push(b"4006381333931\r\n", |x| out.push(x));
        assert_eq!(out, vec![code("4006381333931")]);
    }

    #[test]
    fn empty_codes_are_ignored() {
        let s = ScannerSettings { strip_prefix: "#".into(), ..settings(Terminator::Any) };
        assert_eq!(decode(&s, b"\r\r#\r\n\n"), vec![]);
    }
}
