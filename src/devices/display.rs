//! Customer pole display (VFD/LCD, 2 lines × 20 columns) speaking the CD5220 command set over
//! serial: shows the last scanned line (name and price) and the running total. The codec
//! ([`render_lines`], [`render_text`]) builds bytes with no I/O; [`run`] writes what the lane
//! sends it.
//!
//! Commands (CD5220 manual, "CD5220 standard mode command list"; see docs/devices.md):
//! `ESC @` (1B 40) initialise, `CLR` (0C) clear the screen and leave string mode,
//! `ESC Q A … CR` (1B 51 41 … 0D) write the upper line, `ESC Q B … CR` (1B 51 42 … 0D) the lower
//! line. While in string mode only CLR / CAN are understood, so each update starts with CLR.
//! ASCII only: the common CD5220 character sets are international ASCII variants, not GB2312
//! (GB-capable displays exist but speak other command sets), so non-ASCII characters of a name
//! are dropped (`可口可乐 Coca-Cola 330ml` → `Coca-Cola 330ml`; an all-Chinese name shows as
//! `Item`) and amounts show without the yuan sign.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::transport::Link;
use super::{DriverCtx, DriverExit};

/// Characters per line.
pub const COLUMNS: usize = 20;

/// `ESC @`: initialise.
pub const INIT: [u8; 2] = [0x1B, 0x40];
/// `CLR`: clear the screen and string mode.
pub const CLEAR: u8 = 0x0C;
const UPPER: [u8; 3] = [0x1B, 0x51, 0x41];
const LOWER: [u8; 3] = [0x1B, 0x51, 0x42];
const CR: u8 = 0x0D;

/// What the lane asks the display to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayUpdate {
    /// The last line scanned or changed (name, line price in fen) and the cart's total.
    Cart { last: Option<(String, i64)>, total_fen: i64 },
    /// Two free lines (a welcome text between customers; sanitised to ASCII).
    Text { upper: String, lower: String },
}

/// ASCII printable characters of `s`, runs of spaces collapsed, at most `width`.
fn ascii_fit(s: &str, width: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_graphic() || (c == ' ' && !out.ends_with(' ') && !out.is_empty()) {
            out.push(c);
        }
    }
    let out = out.trim_end();
    out.chars().take(width).collect()
}

/// `12.50`, `-3.00`, `1234.00`: yuan with two decimals, no sign for the currency.
pub fn amount(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `left` and `right` on one 20-column line, right flush; `left` is cut to make room.
fn line(left: &str, right: &str) -> String {
    let right: String = right.chars().take(COLUMNS).collect();
    let room = COLUMNS.saturating_sub(right.len() + 1);
    let left = ascii_fit(left, room);
    if left.is_empty() {
        format!("{right:>COLUMNS$}")
    } else {
        format!("{left}{}{right}", " ".repeat(COLUMNS - left.len() - right.len()))
    }
}

/// Bytes that show two free lines.
pub fn render_text(upper: &str, lower: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * (COLUMNS + 4) + 1);
    out.push(CLEAR);
    for (cmd, text) in [(UPPER, upper), (LOWER, lower)] {
        let t = ascii_fit(text, COLUMNS);
        out.extend_from_slice(&cmd);
        out.extend_from_slice(format!("{t:<COLUMNS$}").as_bytes());
        out.push(CR);
    }
    out
}

/// Bytes that show the last line (name and price) above and the total below.
pub fn render_lines(last: Option<(&str, i64)>, total_fen: i64) -> Vec<u8> {
    let upper = match last {
        Some((name, fen)) => {
            let n = ascii_fit(name, COLUMNS);
            line(if n.is_empty() { "Item" } else { &n }, &amount(fen))
        }
        None => String::new(),
    };
    let lower = line("TOTAL", &amount(total_fen));
    let mut out = Vec::with_capacity(2 * (COLUMNS + 4) + 1);
    out.push(CLEAR);
    out.extend_from_slice(&UPPER);
    out.extend_from_slice(format!("{upper:<COLUMNS$}").as_bytes());
    out.push(CR);
    out.extend_from_slice(&LOWER);
    out.extend_from_slice(lower.as_bytes());
    out.push(CR);
    out
}

fn write(link: &mut dyn Link, bytes: &[u8]) -> Result<(), DriverExit> {
    link.write_all(bytes).and_then(|()| link.flush()).map_err(|e| {
        if crate::devices::transport::is_gone(&e) {
            DriverExit::Closed
        } else {
            DriverExit::Io(e)
        }
    })
}

/// The display driver: initialises the display, then shows each update the lane sends.
/// Only the newest of several waiting updates is written (a display that is slower than the
/// scanner shows the current state, not a backlog). Returns `Stopped` when the hub stops or the
/// sender is dropped, `Closed` when the display goes away.
pub fn run(link: &mut dyn Link, ctx: &DriverCtx, updates: &Receiver<DisplayUpdate>) -> DriverExit {
    ctx.health.set_connected(ctx.id(), true, ctx.clock.now());
    let exit = drive(link, ctx, updates);
    ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
    exit
}

fn drive(link: &mut dyn Link, ctx: &DriverCtx, updates: &Receiver<DisplayUpdate>) -> DriverExit {
    let mut init = INIT.to_vec();
    init.push(CLEAR);
    if let Err(e) = write(link, &init) {
        return e;
    }
    loop {
        if ctx.stopping() {
            return DriverExit::Stopped;
        }
        let mut update = match updates.recv_timeout(Duration::from_millis(100)) {
            Ok(u) => u,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return DriverExit::Stopped,
        };
        while let Ok(newer) = updates.try_recv() {
            update = newer;
        }
        let bytes = match &update {
            DisplayUpdate::Cart { last, total_fen } => render_lines(last.as_ref().map(|(n, f)| (n.as_str(), *f)), *total_fen),
            DisplayUpdate::Text { upper, lower } => render_text(upper, lower),
        };
        if let Err(e) = write(link, &bytes) {
            return e;
        }
        ctx.health.event(ctx.id(), ctx.clock.now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper_lower(bytes: &[u8]) -> (String, String) {
        assert_eq!(bytes[0], CLEAR);
        assert_eq!(&bytes[1..4], &UPPER);
        assert_eq!(bytes[24], CR);
        assert_eq!(&bytes[25..28], &LOWER);
        assert_eq!(bytes[48], CR);
        assert_eq!(bytes.len(), 49);
        (String::from_utf8(bytes[4..24].to_vec()).unwrap(), String::from_utf8(bytes[28..48].to_vec()).unwrap())
    }

    #[test]
    fn last_line_and_total_fill_both_20_column_lines() {
        let b = render_lines(Some(("Coca-Cola 330ml", 350)), 12_345);
        assert_eq!(
            b[..24].to_vec(),
            [&[0x0C, 0x1B, 0x51, 0x41][..], b"Coca-Cola 330ml 3.50"].concat()
        );
        assert_eq!(upper_lower(&b), ("Coca-Cola 330ml 3.50".into(), "TOTAL         123.45".into()));
    }

    #[test]
    fn chinese_is_dropped_long_names_cut_and_huge_totals_still_fit() {
        let (u, l) = upper_lower(&render_lines(Some(("可口可乐 Coca-Cola Zero Sugar 330ml", 129_900)), i64::MAX));
        assert_eq!(u, "Coca-Cola Ze 1299.00");
        assert_eq!(l.len(), 20);
        assert!(l.starts_with("92233720368547758"), "{l}");
        let (u, _) = upper_lower(&render_lines(Some(("香蕉", 985)), 985));
        assert_eq!(u, "Item            9.85");
        let (u, l) = upper_lower(&render_lines(None, 0));
        assert_eq!((u.trim(), l.as_str()), ("", "TOTAL           0.00"));
    }

    #[test]
    fn free_text_is_ascii_and_padded() {
        let (u, l) = upper_lower(&render_text("Welcome 欢迎光临", "\x1b@ next please"));
        assert_eq!(u, "Welcome             ");
        assert_eq!(l, "@ next please       ");
    }
}
