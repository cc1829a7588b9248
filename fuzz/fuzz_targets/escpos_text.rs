//! Fuzzes the receipt printer's text path with arbitrary strings: `escpos::wrap` at every width
//! the input picks, and a `Layout` at a paper width and character size the input picks, then
//! encoded to ESC/POS. Never a line wider than its columns, never a panic, and no control byte
//! from the input reaches the printer (a line's text is ASCII, or GB18030 between FS & and FS .).
#![no_main]

use libfuzzer_sys::fuzz_target;
use storehub::devices::printer::escpos::{self, Align, Encoder, Size};
use storehub::devices::printer::layout::{Layout, Line, MAX_COLUMNS, MIN_COLUMNS};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(2));
    let a = head.first().copied().unwrap_or(0);
    let b = head.get(1).copied().unwrap_or(0);
    let text = String::from_utf8_lossy(rest);

    let width = usize::from(a % 80);
    for line in escpos::wrap(&text, width) {
        assert!(escpos::text_width(&line) <= width.max(2), "{line:?} is wider than {width}");
        assert!(!line.chars().any(char::is_control), "{line:?} keeps a control character");
    }

    let columns = MIN_COLUMNS + usize::from(b) % (MAX_COLUMNS - MIN_COLUMNS + 1);
    let size = [Size::Normal, Size::DoubleHeight, Size::DoubleWidth, Size::Double][usize::from(b >> 6)];
    let mut layout = Layout::new(columns);
    layout.text(&text, Align::Left, a & 0x80 != 0, size).row(&text, "12.50").item(&text, "¥3.00", 8);
    assert!(layout.widest() <= layout.columns, "widest {} > {} columns", layout.widest(), layout.columns);
    for line in &layout.lines {
        if let Line::Text { text, .. } = line {
            assert!(!text.chars().any(char::is_control), "{text:?} keeps a control character");
            // A line's bytes: ASCII as is, or GB18030 between FS & and FS . — no control byte
            // of the input's own reaches the printer.
            let mut e = Encoder::new();
            e.text(text);
            let b = e.finish();
            let inner = match b.strip_prefix(&escpos::CHINESE_ON[..]).and_then(|r| r.strip_suffix(&escpos::CHINESE_OFF[..])) {
                Some(inner) => inner,
                None => &b[..],
            };
            assert!(inner.iter().all(|&c| c >= 0x20), "control byte in the encoding of {text:?}: {inner:02x?}");
        }
    }
    layout.encode().expect("text lines always encode");
});
