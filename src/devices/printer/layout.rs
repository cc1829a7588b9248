//! Receipt layout: a list of printable lines already cut to the paper's column count, between
//! the renderers (which know receipts) and the encoder (which knows bytes). Every text line a
//! [`Layout`] holds fits the paper, so "no line exceeds the paper" is checked on the layout and
//! the bytes follow from it one line per LF.

use super::escpos::{self, text_width, wrap, Align, Barcode, Cut, Encoder, EscPosError, QrEc, Size};

/// Narrowest paper layout accepted (a row needs room for a label and an amount).
pub const MIN_COLUMNS: usize = 16;
/// Widest (an 80 mm printer with font B is 64).
pub const MAX_COLUMNS: usize = 64;

/// Column count of a paper width: 58 mm → 32, 80 mm → 48 (font A).
pub fn columns_for_paper(paper_mm: u16) -> usize {
    if paper_mm <= 58 {
        32
    } else {
        48
    }
}

/// One printed line or action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Text { text: String, align: Align, bold: bool, size: Size },
    Feed(u8),
    Qr(String),
    Barcode(Barcode, String),
    Cut,
    DrawerKick,
}

impl Line {
    /// Columns the line takes (0 for non-text lines).
    pub fn columns(&self) -> usize {
        match self {
            Line::Text { text, size, .. } => text_width(text) * size.width_factor(),
            _ => 0,
        }
    }
}

/// Lines for one paper width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub columns: usize,
    pub lines: Vec<Line>,
}

impl Layout {
    pub fn new(columns: usize) -> Layout {
        Layout { columns: columns.clamp(MIN_COLUMNS, MAX_COLUMNS), lines: Vec::new() }
    }

    /// Text wrapped to the paper (at `size`'s width factor), each piece one line.
    pub fn text(&mut self, text: &str, align: Align, bold: bool, size: Size) -> &mut Self {
        for piece in wrap(text, self.columns / size.width_factor()) {
            self.lines.push(Line::Text { text: piece, align, bold, size });
        }
        self
    }

    pub fn left(&mut self, text: &str) -> &mut Self {
        self.text(text, Align::Left, false, Size::Normal)
    }

    pub fn center(&mut self, text: &str) -> &mut Self {
        self.text(text, Align::Center, false, Size::Normal)
    }

    /// A full-width rule of `c`.
    pub fn rule(&mut self, c: char) -> &mut Self {
        let w = escpos::char_width(c);
        let text: String = std::iter::repeat_n(c, self.columns / w).collect();
        self.lines.push(Line::Text { text, align: Align::Left, bold: false, size: Size::Normal });
        self
    }

    /// `left` … `right` on one line, right flush with the paper's edge; when both do not fit,
    /// `left` wraps and `right` goes at the end of its last line, or on a line of its own.
    pub fn row(&mut self, left: &str, right: &str) -> &mut Self {
        self.row_styled(left, right, false, Size::Normal)
    }

    pub fn row_styled(&mut self, left: &str, right: &str, bold: bool, size: Size) -> &mut Self {
        let cols = self.columns / size.width_factor();
        let right = escpos::sanitize(right);
        let rw = text_width(&right);
        let mut pieces = wrap(left, cols);
        let last = pieces.pop().unwrap_or_default();
        let push = |lines: &mut Vec<Line>, text: String| lines.push(Line::Text { text, align: Align::Left, bold, size });
        for p in pieces {
            push(&mut self.lines, p);
        }
        let lw = text_width(&last);
        if lw + 1 + rw <= cols {
            push(&mut self.lines, format!("{last}{}{right}", " ".repeat(cols - lw - rw)));
        } else {
            if !last.is_empty() {
                push(&mut self.lines, last);
            }
            for r in wrap(&right, cols) {
                let w = text_width(&r);
                push(&mut self.lines, format!("{}{r}", " ".repeat(cols - w)));
            }
        }
        self
    }

    /// A table row of a line item: `name` wrapped in the columns left of `amount_cols`, the
    /// amount right-aligned on the name's first line.
    pub fn item(&mut self, name: &str, amount: &str, amount_cols: usize) -> &mut Self {
        let amount = escpos::sanitize(amount);
        if text_width(&amount) + 4 > self.columns {
            return self.row(name, &amount);
        }
        let amount_cols = amount_cols.max(text_width(&amount)).min(self.columns - 4);
        let name_cols = self.columns - amount_cols - 1;
        let names = wrap(name, name_cols);
        for (i, n) in names.iter().enumerate() {
            let text = if i == 0 {
                let pad = self.columns - text_width(n) - text_width(&amount);
                format!("{n}{}{amount}", " ".repeat(pad))
            } else {
                n.clone()
            };
            self.lines.push(Line::Text { text, align: Align::Left, bold: false, size: Size::Normal });
        }
        self
    }

    pub fn feed(&mut self, n: u8) -> &mut Self {
        self.lines.push(Line::Feed(n));
        self
    }

    pub fn qr(&mut self, payload: &str) -> &mut Self {
        self.lines.push(Line::Qr(payload.to_string()));
        self
    }

    pub fn barcode(&mut self, kind: Barcode, data: &str) -> &mut Self {
        self.lines.push(Line::Barcode(kind, data.to_string()));
        self
    }

    pub fn cut(&mut self) -> &mut Self {
        self.lines.push(Line::Cut);
        self
    }

    pub fn drawer_kick(&mut self) -> &mut Self {
        self.lines.push(Line::DrawerKick);
        self
    }

    /// The widest text line, in columns (tests check it against `columns`).
    pub fn widest(&self) -> usize {
        self.lines.iter().map(Line::columns).max().unwrap_or(0)
    }

    /// The text lines as plain text (a preview, tests).
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            if let Line::Text { text, .. } = l {
                out.push_str(text);
                out.push('\n');
            }
        }
        out
    }

    /// The job's bytes: `ESC @`, then each line with the alignment, bold and size it needs
    /// (changed only when they change), QR codes and barcodes centred, and the modes reset
    /// at the end so the next job starts from defaults.
    pub fn encode(&self) -> Result<Vec<u8>, EscPosError> {
        let mut e = Encoder::new();
        e.init();
        let (mut align, mut bold, mut size) = (Align::Left, false, Size::Normal);
        for line in &self.lines {
            match line {
                Line::Text { text, align: a, bold: b, size: s } => {
                    if *a != align {
                        e.align(*a);
                        align = *a;
                    }
                    if *b != bold {
                        e.bold(*b);
                        bold = *b;
                    }
                    if *s != size {
                        e.size(*s);
                        size = *s;
                    }
                    e.text(text).newline();
                }
                Line::Feed(n) => {
                    e.feed(*n);
                }
                Line::Qr(payload) => {
                    if align != Align::Center {
                        e.align(Align::Center);
                        align = Align::Center;
                    }
                    let module = if self.columns >= 48 { 6 } else { 5 };
                    e.qr(payload.as_bytes(), module, QrEc::M)?.newline();
                }
                Line::Barcode(kind, data) => {
                    if align != Align::Center {
                        e.align(Align::Center);
                        align = Align::Center;
                    }
                    e.barcode(*kind, data)?.newline();
                }
                Line::Cut => {
                    e.cut(Cut::FeedPartial(0));
                }
                Line::DrawerKick => {
                    e.drawer_kick();
                }
            }
        }
        if align != Align::Left {
            e.align(Align::Left);
        }
        if bold {
            e.bold(false);
        }
        if size != Size::Normal {
            e.size(Size::Normal);
        }
        Ok(e.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_pads_to_the_edge_or_wraps_without_overflowing() {
        let mut l = Layout::new(32);
        l.row("合计", "¥12.50");
        assert_eq!(l.plain_text(), format!("合计{}￥12.50\n", " ".repeat(32 - 4 - 7)));
        let mut l = Layout::new(32);
        l.row("满100减20 国庆特惠 超长的促销活动名称说明文字", "-¥20.00");
        assert!(l.widest() <= 32, "{}", l.plain_text());
        assert!(l.plain_text().ends_with("-￥20.00\n"));
        for line in &l.lines {
            assert!(line.columns() <= 32);
        }
    }

    #[test]
    fn an_item_wraps_its_name_beside_the_amount() {
        let mut l = Layout::new(32);
        l.item("进口智利车厘子JJ级大果礼盒装2.5kg", "¥1,299.00", 10);
        let text = l.plain_text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("￥1,299.00"));
        assert!(lines.len() >= 2);
        assert!(l.widest() <= 32);
    }

    #[test]
    fn double_size_text_wraps_at_half_the_columns() {
        let mut l = Layout::new(32);
        l.text("华美超市徐汇店旗舰店二十个字宽", Align::Center, true, Size::Double);
        assert!(l.lines.len() == 2);
        assert!(l.widest() <= 32);
    }

    #[test]
    fn encoding_switches_modes_only_when_they_change_and_resets_at_the_end() {
        let mut l = Layout::new(32);
        l.text("AB", Align::Center, true, Size::Normal).text("CD", Align::Center, true, Size::Normal).cut();
        assert_eq!(
            l.encode().unwrap(),
            vec![0x1B, 0x40, 0x1B, 0x61, 1, 0x1B, 0x45, 1, b'A', b'B', 0x0A, b'C', b'D', 0x0A, 0x1D, 0x56, 0x42, 0x00, 0x1B, 0x61, 0, 0x1B, 0x45, 0]
        );
    }
}
