//! ESC/POS command encoder: builds the exact bytes a receipt printer gets, with no I/O. Owns
//! the byte sequences (init, alignment, bold, size, feed, QR, 1D barcodes, cut, drawer kick),
//! the GB18030 encoding of Chinese text between FS & and FS ., and the printer's idea of
//! text width (ASCII one column, every double-byte character two).
//!
//! Chinese mode is entered and left around each text run that holds a non-ASCII character
//! (`1C 26` … `1C 2E`), never kept on for the whole job: an ASCII-only line then prints the
//! same on a printer without a Chinese font, a job never leaves the printer in a mode the next
//! job (from another program) does not expect, and a run can be decoded back on its own.
//! Text is sanitised first: control characters become spaces (a product name must not smuggle
//! commands into the job), `¥` becomes the full-width `￥` (GBK has no half-width yen), and a
//! character outside GBK (a 4-byte GB18030 code, which printers' GB2312/GBK fonts lack) becomes
//! `?`.

use encoding_rs::GB18030;

pub const ESC: u8 = 0x1B;
pub const GS: u8 = 0x1D;
pub const FS: u8 = 0x1C;
pub const DLE: u8 = 0x10;
pub const EOT: u8 = 0x04;
pub const LF: u8 = 0x0A;

/// FS & : enter Chinese (double-byte) character mode.
pub const CHINESE_ON: [u8; 2] = [FS, b'&'];
/// FS . : leave Chinese character mode.
pub const CHINESE_OFF: [u8; 2] = [FS, b'.'];

/// Most data a QR symbol (model 2, error correction L, byte mode) can hold; longer payloads
/// are refused rather than sent for the printer to drop silently.
pub const QR_MAX_BYTES: usize = 2953;
/// Longest data `GS k` function B takes (n is one byte).
pub const BARCODE_MAX_BYTES: usize = 255;

/// Horizontal alignment (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

impl Align {
    fn n(self) -> u8 {
        match self {
            Align::Left => 0,
            Align::Center => 1,
            Align::Right => 2,
        }
    }
}

/// Character size (`GS ! n`): bits 4–6 width multiplier − 1, bits 0–2 height multiplier − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Size {
    #[default]
    Normal,
    DoubleWidth,
    DoubleHeight,
    Double,
}

impl Size {
    pub fn n(self) -> u8 {
        match self {
            Size::Normal => 0x00,
            Size::DoubleWidth => 0x10,
            Size::DoubleHeight => 0x01,
            Size::Double => 0x11,
        }
    }

    /// How many columns one character column takes at this size.
    pub fn width_factor(self) -> usize {
        match self {
            Size::Normal | Size::DoubleHeight => 1,
            Size::DoubleWidth | Size::Double => 2,
        }
    }
}

/// QR error correction level (`GS ( k` function 169).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrEc {
    L,
    M,
    Q,
    H,
}

impl QrEc {
    fn n(self) -> u8 {
        match self {
            QrEc::L => 48,
            QrEc::M => 49,
            QrEc::Q => 50,
            QrEc::H => 51,
        }
    }
}

/// 1D symbologies (`GS k` function B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Barcode {
    /// 12 digits (the printer adds the check digit) or 13 (checked by the printer).
    Ean13,
    /// Code set B (printable ASCII); the encoder prefixes `{B`.
    Code128,
}

/// Where a cut happens (`GS V`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// `1D 56 00`.
    Full,
    /// `1D 56 01`.
    Partial,
    /// `1D 56 42 n`: feed n dots (to the cutter) and cut partially.
    FeedPartial(u8),
}

/// Data the encoder refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscPosError {
    #[error("QR payload of {len} bytes is longer than {QR_MAX_BYTES}; shorten it (a sale id or URL fits easily)")]
    QrTooLong { len: usize },
    #[error("QR payload is empty")]
    QrEmpty,
    #[error("EAN-13 data {data:?} must be 12 or 13 digits")]
    BadEan13 { data: String },
    #[error("CODE128 data {data:?} must be 1 to 253 printable ASCII characters")]
    BadCode128 { data: String },
    #[error("QR module size {0} is outside 1..=16")]
    QrModule(u8),
}

/// Sanitises one character for a receipt printer: what the printer prints in its place.
pub fn printable(c: char) -> char {
    match c {
        '\u{A5}' => '\u{FFE5}',
        c if c.is_control() => ' ',
        c if c.is_ascii() => c,
        c => {
            let mut buf = [0u8; 4];
            let (bytes, _, _) = GB18030.encode(c.encode_utf8(&mut buf));
            if bytes.len() == 2 {
                c
            } else {
                '?'
            }
        }
    }
}

/// The text as the printer will print it (see [`printable`]).
pub fn sanitize(s: &str) -> String {
    s.chars().map(printable).collect()
}

/// Columns one (sanitised) character takes at normal size: ASCII one, every character that
/// travels as a double-byte GB code two (Chinese mode prints those full-width, including `×`
/// and `￥`).
pub fn char_width(c: char) -> usize {
    if printable(c).is_ascii() {
        1
    } else {
        2
    }
}

/// Columns a string takes at normal size.
pub fn text_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Splits `s` into lines of at most `width` columns, never inside a character; breaks after
/// the last space of a line when there is one in its second half (ASCII words stay whole),
/// otherwise anywhere (Chinese has no spaces). `width` below 2 is treated as 2 so a double-width
/// character always fits.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(2);
    let chars: Vec<char> = sanitize(s).chars().collect();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let mut used = 0;
        let mut end = start;
        while end < chars.len() && used + char_width(chars[end]) <= width {
            used += char_width(chars[end]);
            end += 1;
        }
        if end < chars.len() {
            if let Some(sp) = (start..end).rev().find(|&i| chars[i] == ' ') {
                if sp > start && text_width(&chars[start..sp].iter().collect::<String>()) >= width / 2 {
                    end = sp + 1;
                }
            }
        }
        let line: String = chars[start..end].iter().collect();
        lines.push(line.trim_end().to_string());
        start = end;
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// An ESC/POS byte stream under construction.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// `ESC @`: clears the buffer and resets modes.
    pub fn init(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'@']);
        self
    }

    /// `ESC a n`.
    pub fn align(&mut self, a: Align) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'a', a.n()]);
        self
    }

    /// `ESC E n`.
    pub fn bold(&mut self, on: bool) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'E', u8::from(on)]);
        self
    }

    /// `GS ! n`.
    pub fn size(&mut self, s: Size) -> &mut Self {
        self.buf.extend_from_slice(&[GS, b'!', s.n()]);
        self
    }

    /// Text without a line feed. A run with non-ASCII characters is sent in Chinese mode as
    /// GB18030 between FS & and FS .; an ASCII run is sent as is.
    pub fn text(&mut self, s: &str) -> &mut Self {
        let clean = sanitize(s);
        if clean.is_ascii() {
            self.buf.extend_from_slice(clean.as_bytes());
        } else {
            let (bytes, _, _) = GB18030.encode(&clean);
            self.buf.extend_from_slice(&CHINESE_ON);
            self.buf.extend_from_slice(&bytes);
            self.buf.extend_from_slice(&CHINESE_OFF);
        }
        self
    }

    /// LF: prints the line.
    pub fn newline(&mut self) -> &mut Self {
        self.buf.push(LF);
        self
    }

    /// `ESC d n`: prints and feeds n lines.
    pub fn feed(&mut self, lines: u8) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'd', lines]);
        self
    }

    /// A QR code (model 2): functions 165 (model), 167 (module size in dots), 169 (error
    /// correction), 180 (store data, pL pH = len + 3), 181 (print).
    pub fn qr(&mut self, data: &[u8], module: u8, ec: QrEc) -> Result<&mut Self, EscPosError> {
        if data.is_empty() {
            return Err(EscPosError::QrEmpty);
        }
        if data.len() > QR_MAX_BYTES {
            return Err(EscPosError::QrTooLong { len: data.len() });
        }
        if !(1..=16).contains(&module) {
            return Err(EscPosError::QrModule(module));
        }
        let stored = data.len() + 3;
        let (pl, ph) = ((stored & 0xFF) as u8, (stored >> 8) as u8);
        self.buf.extend_from_slice(&[GS, b'(', b'k', 0x04, 0x00, 0x31, 0x41, 0x32, 0x00]);
        self.buf.extend_from_slice(&[GS, b'(', b'k', 0x03, 0x00, 0x31, 0x43, module]);
        self.buf.extend_from_slice(&[GS, b'(', b'k', 0x03, 0x00, 0x31, 0x45, ec.n()]);
        self.buf.extend_from_slice(&[GS, b'(', b'k', pl, ph, 0x31, 0x50, 0x30]);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(&[GS, b'(', b'k', 0x03, 0x00, 0x31, 0x51, 0x30]);
        Ok(self)
    }

    /// A 1D barcode with its human-readable digits below: `GS H 2`, `GS h 80`, `GS w 2`, then
    /// `GS k m n d1…dn` (function B: m = 67 EAN-13, 73 CODE128).
    pub fn barcode(&mut self, kind: Barcode, data: &str) -> Result<&mut Self, EscPosError> {
        let (m, payload): (u8, Vec<u8>) = match kind {
            Barcode::Ean13 => {
                if !(data.len() == 12 || data.len() == 13) || !data.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(EscPosError::BadEan13 { data: data.to_string() });
                }
                (67, data.as_bytes().to_vec())
            }
            Barcode::Code128 => {
                if data.is_empty() || data.len() > BARCODE_MAX_BYTES - 2 || !data.bytes().all(|b| (0x20..0x7F).contains(&b)) {
                    return Err(EscPosError::BadCode128 { data: data.to_string() });
                }
                // `{` starts a code-set selection in ESC/POS CODE128 data: a literal `{` is `{{`.
                let mut p = b"{B".to_vec();
                for b in data.bytes() {
                    p.push(b);
                    if b == b'{' {
                        p.push(b'{');
                    }
                }
                if p.len() > BARCODE_MAX_BYTES {
                    return Err(EscPosError::BadCode128 { data: data.to_string() });
                }
                (73, p)
            }
        };
        self.buf.extend_from_slice(&[GS, b'H', 2, GS, b'h', 80, GS, b'w', 2]);
        self.buf.extend_from_slice(&[GS, b'k', m, payload.len() as u8]);
        self.buf.extend_from_slice(&payload);
        Ok(self)
    }

    /// `GS V`.
    pub fn cut(&mut self, cut: Cut) -> &mut Self {
        match cut {
            Cut::Full => self.buf.extend_from_slice(&[GS, b'V', 0]),
            Cut::Partial => self.buf.extend_from_slice(&[GS, b'V', 1]),
            Cut::FeedPartial(n) => self.buf.extend_from_slice(&[GS, b'V', 66, n]),
        }
        self
    }

    /// `ESC p 0 25 250`: a 50 ms on, 500 ms off pulse on drawer pin 2.
    pub fn drawer_kick(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&[ESC, b'p', 0, 25, 250]);
        self
    }

    /// Raw bytes (already encoded commands).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// The GB18030 runs of a job decoded back to text: every stretch between FS & and FS .
/// (tests and `storehub receipt render` checks use it).
pub fn chinese_runs(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i..].starts_with(&CHINESE_ON) {
            let start = i + 2;
            match bytes[start..].windows(2).position(|w| w == CHINESE_OFF) {
                Some(len) => {
                    let (text, _, _) = GB18030.decode(&bytes[start..start + len]);
                    out.push(text.into_owned());
                    i = start + len + 2;
                }
                None => break,
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_bold_size_align_feed_cut_and_drawer_are_the_documented_bytes() {
        let mut e = Encoder::new();
        e.init().align(Align::Center).bold(true).size(Size::Double).text("AB").newline();
        e.size(Size::DoubleWidth).size(Size::DoubleHeight).size(Size::Normal).bold(false).feed(3);
        e.cut(Cut::Full).cut(Cut::Partial).cut(Cut::FeedPartial(3)).drawer_kick();
        assert_eq!(
            e.finish(),
            vec![
                0x1B, 0x40, 0x1B, 0x61, 0x01, 0x1B, 0x45, 0x01, 0x1D, 0x21, 0x11, b'A', b'B', 0x0A, //
                0x1D, 0x21, 0x10, 0x1D, 0x21, 0x01, 0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00, 0x1B, 0x64, 0x03, //
                0x1D, 0x56, 0x00, 0x1D, 0x56, 0x01, 0x1D, 0x56, 0x42, 0x03, 0x1B, 0x70, 0x00, 0x19, 0xFA,
            ]
        );
    }

    #[test]
    fn chinese_goes_as_gb18030_inside_fs_and_fs_dot() {
        let mut e = Encoder::new();
        e.text("苹果 x2");
        // 苹 = C6 BB, 果 = B9 FB in GB2312.
        assert_eq!(e.bytes(), &[0x1C, 0x26, 0xC6, 0xBB, 0xB9, 0xFB, b' ', b'x', b'2', 0x1C, 0x2E]);
        assert_eq!(chinese_runs(e.bytes()), vec!["苹果 x2".to_string()]);
        let mut e = Encoder::new();
        e.text("Cola");
        assert_eq!(e.bytes(), b"Cola");
    }

    #[test]
    fn yen_and_control_characters_are_made_printable() {
        assert_eq!(sanitize("¥1.00\x1b@"), "￥1.00 @");
        let mut e = Encoder::new();
        e.text("¥");
        assert_eq!(e.bytes(), &[0x1C, 0x26, 0xA3, 0xA4, 0x1C, 0x2E]);
        // An emoji has only a 4-byte GB18030 code: not in a printer's GBK font.
        assert_eq!(sanitize("好😀"), "好?");
    }

    #[test]
    fn widths_count_double_byte_characters_as_two() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("苹果"), 4);
        assert_eq!(text_width("3 × ¥2.00"), 1 + 1 + 2 + 1 + 2 + 4);
        assert_eq!(text_width("ＡＢ"), 4);
    }

    #[test]
    fn wrapping_never_splits_a_double_width_character_or_overflows() {
        let lines = wrap("进口智利车厘子JJ级大果礼盒装", 7);
        for l in &lines {
            assert!(text_width(l) <= 7, "{l:?}");
        }
        assert_eq!(lines.concat(), "进口智利车厘子JJ级大果礼盒装");
        assert_eq!(lines[0], "进口智");
        assert_eq!(wrap("Fresh whole milk 1L", 12), vec!["Fresh whole", "milk 1L"]);
        assert_eq!(wrap("", 10), vec![String::new()]);
    }

    #[test]
    fn qr_has_model_size_ec_store_with_len_plus_3_and_print() {
        let mut e = Encoder::new();
        e.qr(b"12345", 6, QrEc::M).unwrap();
        assert_eq!(
            e.finish(),
            vec![
                0x1D, 0x28, 0x6B, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00, //
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x43, 0x06, //
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x45, 0x31, //
                0x1D, 0x28, 0x6B, 0x08, 0x00, 0x31, 0x50, 0x30, b'1', b'2', b'3', b'4', b'5', //
                0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30,
            ]
        );
        // 300 bytes: pL pH = 303 = 0x012F.
        let mut e = Encoder::new();
        e.qr(&[b'a'; 300], 4, QrEc::L).unwrap();
        assert_eq!(&e.bytes()[25..33], &[0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30]);
        assert_eq!(Encoder::new().qr(&[b'a'; QR_MAX_BYTES + 1], 4, QrEc::L).unwrap_err(), EscPosError::QrTooLong { len: QR_MAX_BYTES + 1 });
        assert_eq!(Encoder::new().qr(b"", 4, QrEc::L).unwrap_err(), EscPosError::QrEmpty);
    }

    #[test]
    fn barcodes_use_function_b_with_a_length_byte() {
        let mut e = Encoder::new();
        e.barcode(Barcode::Ean13, "690123456789").unwrap();
        let mut want = vec![0x1D, 0x48, 0x02, 0x1D, 0x68, 0x50, 0x1D, 0x77, 0x02, 0x1D, 0x6B, 67, 12];
        want.extend_from_slice(b"690123456789");
        assert_eq!(e.finish(), want);
        let mut e = Encoder::new();
        e.barcode(Barcode::Code128, "S-1{").unwrap();
        assert_eq!(&e.bytes()[9..], &[0x1D, 0x6B, 73, 7, b'{', b'B', b'S', b'-', b'1', b'{', b'{']);
        assert!(Encoder::new().barcode(Barcode::Ean13, "69012345678X").is_err());
        assert!(Encoder::new().barcode(Barcode::Code128, "苹果").is_err());
    }
}
