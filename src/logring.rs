//! The daemon's recent log lines, kept in memory for the technician's system page: every line
//! the logger writes also lands in a bounded ring (the newest [`CAPACITY`] lines, each cut at
//! [`MAX_LINE`] bytes), with terminal colour codes removed. journald keeps the full log; this is
//! what a technician at the shop's screen sees without a terminal.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Mutex;

/// Lines kept.
pub const CAPACITY: usize = 1000;
/// Longest line kept, in bytes (longer ones are cut at a character boundary).
pub const MAX_LINE: usize = 2048;

static RING: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Adds one written line.
pub fn push(line: &str) {
    let mut clean = strip_ansi(line.trim_end());
    if clean.is_empty() {
        return;
    }
    if clean.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !clean.is_char_boundary(cut) {
            cut -= 1;
        }
        clean.truncate(cut);
        clean.push('…');
    }
    let mut ring = RING.lock().unwrap_or_else(|e| e.into_inner());
    if ring.len() >= CAPACITY {
        ring.pop_front();
    }
    ring.push_back(clean);
}

/// The newest `n` lines, oldest first, optionally only those containing `needle`.
pub fn recent(n: usize, needle: Option<&str>) -> Vec<String> {
    let ring = RING.lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<String> = ring.iter().rev().filter(|l| needle.is_none_or(|s| l.contains(s))).take(n).cloned().collect();
    out.reverse();
    out
}

/// Removes `ESC [ … letter` sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A writer for the logger: writes to stderr and copies each complete line into the ring.
pub struct Tee {
    pending: Vec<u8>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stderr().write_all(buf)?;
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            push(&String::from_utf8_lossy(&line));
        }
        if self.pending.len() > MAX_LINE * 4 {
            let rest = std::mem::take(&mut self.pending);
            push(&String::from_utf8_lossy(&rest));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            push(&String::from_utf8_lossy(&rest));
        }
        std::io::stderr().flush()
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// `tracing_subscriber::fmt().with_writer(logring::tee)`.
pub fn tee() -> Tee {
    Tee { pending: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_clean_and_bounded() {
        for i in 0..(CAPACITY + 5) {
            push(&format!("\u{1b}[32m INFO\u{1b}[0m ring-test line {i}\n"));
        }
        let last = recent(2, Some("ring-test"));
        assert_eq!(last, [format!(" INFO ring-test line {}", CAPACITY + 3), format!(" INFO ring-test line {}", CAPACITY + 4)]);
        assert!(recent(usize::MAX, None).len() <= CAPACITY);
        push(&"长".repeat(MAX_LINE));
        let long = recent(1, None).pop().unwrap_or_default();
        assert!(long.len() <= MAX_LINE + '…'.len_utf8() && long.ends_with('…'));
    }
}
