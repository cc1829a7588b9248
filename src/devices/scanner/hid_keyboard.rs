//! USB HID keyboard-wedge scanners: 8-byte boot keyboard input reports
//! `[modifiers, reserved, key1..key6]` (HID 1.11 appendix B.1) typed with the US layout, ended by
//! Enter. [`KeyboardDecoder`] is sans-I/O: reports in, [`Decoded`] out.
//!
//! Key state follows HID semantics: a report lists the keys down now, so a key that stays in the
//! list across reports is held (one press), an all-zero key list is key-up, and when several keys
//! are down (rollover) the newly pressed ones are typed in slot order. Some scanners number their
//! reports; a 9-byte report is taken as a report id followed by the boot report.

use crate::config::{ScannerSettings, Terminator};

use super::{kind, preview, Bounded, Decoded, Framing};

/// Length of a boot keyboard input report.
pub const BOOT_REPORT_LEN: usize = 8;

/// Modifier bits (byte 0): left control, left shift, right control, right shift.
const LEFT_CTRL: u8 = 0x01;
const LEFT_SHIFT: u8 = 0x02;
const RIGHT_CTRL: u8 = 0x10;
const RIGHT_SHIFT: u8 = 0x20;

/// Usage ids of the Keyboard/Keypad page (0x07) the decoder acts on.
const KEY_ERROR_ROLLOVER: u8 = 0x01;
const KEY_ENTER: u8 = 0x28;
const KEY_TAB: u8 = 0x2B;
const KEY_KEYPAD_ENTER: u8 = 0x58;

/// The character a key types with the US layout, unshifted and shifted.
pub fn us_char(usage: u8, shift: bool) -> Option<u8> {
    const DIGITS: &[u8; 10] = b"1234567890";
    const SHIFTED_DIGITS: &[u8; 10] = b"!@#$%^&*()";
    // 0x2C..=0x38: space - = [ ] \ (non-US # at 0x32) ; ' ` , . /
    const PUNCT: &[u8; 13] = b" -=[]\\#;'`,./";
    const SHIFTED_PUNCT: &[u8; 13] = b" _+{}|~:\"~<>?";
    // Keypad 0x54..=0x57: / * - +, 0x59..=0x62: 1..9 0, 0x63: .
    Some(match usage {
        0x04..=0x1D => {
            let c = b'a' + (usage - 0x04);
            if shift {
                c.to_ascii_uppercase()
            } else {
                c
            }
        }
        0x1E..=0x27 => {
            let i = usize::from(usage - 0x1E);
            if shift {
                SHIFTED_DIGITS[i]
            } else {
                DIGITS[i]
            }
        }
        KEY_TAB => b'\t',
        0x2C..=0x38 => {
            let i = usize::from(usage - 0x2C);
            if shift {
                SHIFTED_PUNCT[i]
            } else {
                PUNCT[i]
            }
        }
        0x54 => b'/',
        0x55 => b'*',
        0x56 => b'-',
        0x57 => b'+',
        0x59..=0x62 => DIGITS[usize::from(usage - 0x59)],
        0x63 => b'.',
        _ => return None,
    })
}

/// Control characters typed as Ctrl + key (scanners send GS, the GS1 separator, as Ctrl+]).
fn ctrl_char(usage: u8) -> Option<u8> {
    match usage {
        0x04..=0x1D => Some(usage - 0x04 + 1),
        0x2F => Some(0x1B), // Ctrl+[ ESC
        0x31 => Some(0x1C), // Ctrl+\ FS
        0x30 => Some(0x1D), // Ctrl+] GS
        _ => None,
    }
}

/// Decodes boot keyboard reports into codes.
#[derive(Debug)]
pub struct KeyboardDecoder {
    framing: Framing,
    tab_ends: bool,
    /// The keys down in the previous report.
    down: [u8; 6],
    code: Bounded,
    /// A key with no character was typed into this code: the detail of why it is rejected.
    bad: Option<String>,
}

impl KeyboardDecoder {
    pub fn new(settings: &ScannerSettings) -> KeyboardDecoder {
        KeyboardDecoder {
            framing: Framing::from_settings(settings),
            tab_ends: settings.terminator == Terminator::Tab,
            down: [0; 6],
            code: Bounded::default(),
            bad: None,
        }
    }

    /// Feeds one input report (8 bytes, or 9 with a leading report id).
    pub fn push_report(&mut self, report: &[u8], mut out: impl FnMut(Decoded)) {
        let boot: &[u8] = match report.len() {
            BOOT_REPORT_LEN => report,
            9 => &report[1..],
            n => {
                out(Decoded::Rejected {
                    kind: kind::GARBAGE,
                    detail: format!("a keyboard report has 8 bytes (9 with a report id), got {n}: {:?}", preview(report)),
                });
                return;
            }
        };
        let modifiers = boot[0];
        let mut keys = [0u8; 6];
        keys.copy_from_slice(&boot[2..8]);
        if keys.iter().all(|&k| k == KEY_ERROR_ROLLOVER) {
            // Too many keys down to tell which: the state is unknown until the next report.
            return;
        }
        let shift = modifiers & (LEFT_SHIFT | RIGHT_SHIFT) != 0;
        let ctrl = modifiers & (LEFT_CTRL | RIGHT_CTRL) != 0;
        for &k in &keys {
            if k == 0 || self.down.contains(&k) {
                continue;
            }
            if let Some(d) = self.press(k, shift, ctrl) {
                out(d);
            }
        }
        self.down = keys;
    }

    fn press(&mut self, usage: u8, shift: bool, ctrl: bool) -> Option<Decoded> {
        if usage == KEY_ENTER || usage == KEY_KEYPAD_ENTER || (usage == KEY_TAB && self.tab_ends) {
            return self.end();
        }
        let c = if ctrl { ctrl_char(usage) } else { us_char(usage, shift) };
        match c {
            Some(c) => self.code.push(c),
            None => {
                if self.bad.is_none() {
                    self.bad = Some(format!(
                        "key usage 0x{usage:02x}{} types no character (after {:?}); is the scanner set to the US keyboard layout?",
                        if ctrl { " with Ctrl" } else { "" },
                        preview(&self.code.buf)
                    ));
                }
            }
        }
        None
    }

    fn end(&mut self) -> Option<Decoded> {
        if let Some(detail) = self.bad.take() {
            self.code.clear();
            return Some(Decoded::Rejected { kind: kind::GARBAGE, detail });
        }
        self.code.take(&self.framing, None)
    }

    /// Characters typed without Enter yet.
    pub fn has_partial(&self) -> bool {
        !self.code.is_empty() || self.bad.is_some()
    }

    /// Drops an unfinished code (no Enter came), reporting it as `truncated`, and forgets held
    /// keys.
    pub fn abandon(&mut self) -> Option<Decoded> {
        self.down = [0; 6];
        if !self.has_partial() {
            return None;
        }
        let detail = format!(
            "{} character(s) typed with no Enter after them: {:?}; check the scanner's suffix setting",
            self.code.buf.len() + self.code.dropped,
            preview(&self.code.buf)
        );
        self.code.clear();
        self.bad = None;
        Some(Decoded::Rejected { kind: kind::TRUNCATED, detail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::scanner::{Code, MAX_CODE_LEN};

    const UP: [u8; 8] = [0; 8];

    fn key(k: u8) -> [u8; 8] {
        [0, 0, k, 0, 0, 0, 0, 0]
    }

    fn shifted(k: u8) -> [u8; 8] {
        [LEFT_SHIFT, 0, k, 0, 0, 0, 0, 0]
    }

    fn run(settings: &ScannerSettings, reports: &[&[u8]]) -> Vec<Decoded> {
        let mut d = KeyboardDecoder::new(settings);
        let mut out = Vec::new();
        for r in reports {
            d.push_report(r, |x| out.push(x));
        }
        out
    }

    fn code(c: &str) -> Decoded {
        Decoded::Code(Code { code: c.to_string(), symbology: None })
    }

    /// The usage id of a digit: '1'..'9' are 0x1E..0x26, '0' is 0x27.
    fn digit(c: u8) -> u8 {
        if c == b'0' {
            0x27
        } else {
            0x1E + (c - b'1')
        }
    }

    #[test]
    fn ean13_typed_with_key_ups_then_enter() {
        // 6901234567892 as a wedge scanner types it: each key down, then an all-zero key-up.
        let mut reports: Vec<[u8; 8]> = Vec::new();
        for c in b"6901234567892" {
            reports.push(key(digit(*c)));
            reports.push(UP);
        }
        reports.push(key(KEY_ENTER));
        reports.push(UP);
        let refs: Vec<&[u8]> = reports.iter().map(|r| &r[..]).collect();
        assert_eq!(reports[0], [0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x00, 0x00]); // '6'
        assert_eq!(reports[2], [0x00, 0x00, 0x26, 0x00, 0x00, 0x00, 0x00, 0x00]); // '9'
        assert_eq!(reports[4], [0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00]); // '0'
        assert_eq!(run(&ScannerSettings::default(), &refs), vec![code("6901234567892")]);
    }

    #[test]
    fn shift_bits_give_capitals_and_symbols() {
        let s = ScannerSettings::default();
        let reports: [&[u8]; 10] = [
            &shifted(0x04),                          // A (left shift)
            &UP,
            &[RIGHT_SHIFT, 0, 0x05, 0, 0, 0, 0, 0], // B (right shift)
            &UP,
            &key(0x2D), // -
            &UP,
            &shifted(0x1F), // @
            &UP,
            &[0, 0, KEY_KEYPAD_ENTER, 0, 0, 0, 0, 0],
            &UP,
        ];
        assert_eq!(run(&s, &reports), vec![code("AB-@")]);
        let mut all = Vec::new();
        for u in [0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x2C] {
            all.push(us_char(u, false).unwrap());
        }
        assert_eq!(&all, b"-=[]\\;'`,./ ");
        let mut all = Vec::new();
        for u in [0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38] {
            all.push(us_char(u, true).unwrap());
        }
        assert_eq!(&all, b"_+{}|:\"~<>?");
        assert_eq!((0x1E..=0x27).map(|u| us_char(u, true).unwrap()).collect::<Vec<_>>(), b"!@#$%^&*()");
    }

    #[test]
    fn a_held_key_is_one_press_and_down_up_down_is_two() {
        let s = ScannerSettings::default();
        let one = run(&s, &[&key(0x1E), &key(0x1E), &key(0x1E), &UP, &key(KEY_ENTER), &UP]);
        assert_eq!(one, vec![code("1")]);
        let two = run(&s, &[&key(0x1E), &UP, &key(0x1E), &UP, &key(KEY_ENTER), &UP]);
        assert_eq!(two, vec![code("11")]);
        // A shift-only change between presses is a key-up too.
        let shift_up = run(&s, &[&shifted(0x04), &[LEFT_SHIFT, 0, 0, 0, 0, 0, 0, 0], &shifted(0x04), &UP, &key(KEY_ENTER)]);
        assert_eq!(shift_up, vec![code("AA")]);
    }

    #[test]
    fn rollover_types_newly_pressed_keys_in_slot_order() {
        let s = ScannerSettings::default();
        let out = run(
            &s,
            &[
                &[0, 0, 0x1E, 0, 0, 0, 0, 0],       // 1
                &[0, 0, 0x1E, 0x1F, 0x20, 0, 0, 0], // 1 held, 2 3 new
                &[0, 0, 0x20, 0, 0, 0, 0, 0],       // 3 still held
                &[0, 0, 0x20, 0x21, KEY_ENTER, 0, 0, 0], // 4 then Enter
                &UP,
            ],
        );
        assert_eq!(out, vec![code("1234")]);
        // ErrorRollOver reports are skipped without disturbing the state.
        let out = run(&s, &[&key(0x1E), &[0, 0, 1, 1, 1, 1, 1, 1], &key(0x1E), &UP, &key(KEY_ENTER)]);
        assert_eq!(out, vec![code("1")]);
    }

    #[test]
    fn numbered_nine_byte_reports_are_accepted() {
        let s = ScannerSettings::default();
        let out = run(&s, &[&[0x01, 0, 0, 0x1E, 0, 0, 0, 0, 0], &[0x01, 0, 0, 0, 0, 0, 0, 0, 0], &[0x01, 0, 0, KEY_ENTER, 0, 0, 0, 0, 0]]);
        assert_eq!(out, vec![code("1")]);
    }

    #[test]
    fn wrong_length_and_unmapped_keys_are_garbage_and_the_next_code_decodes() {
        let s = ScannerSettings::default();
        let out = run(
            &s,
            &[
                &[0, 0, 0x1E, 0, 0, 0],         // 6 bytes
                &key(0x3A),                     // F1: no character
                &UP,
                &key(0x1F),
                &UP,
                &key(KEY_ENTER),
                &UP,
                &key(0x20),
                &UP,
                &key(KEY_ENTER),
                &UP,
            ],
        );
        assert!(matches!(&out[0], Decoded::Rejected { kind: "garbage", detail } if detail.contains("got 6")), "{out:?}");
        assert!(matches!(&out[1], Decoded::Rejected { kind: "garbage", detail } if detail.contains("0x3a")), "{out:?}");
        assert_eq!(out[2], code("3"));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn ctrl_bracket_types_the_gs1_separator_and_aim_ids_apply() {
        let s = ScannerSettings { aim_ids: true, ..ScannerSettings::default() };
        let out = run(
            &s,
            &[&[0, 0, 0x30, 0, 0, 0, 0, 0], &UP, &shifted(0x07), &UP, &key(0x1E), &UP, &key(0x27), &UP, &[LEFT_CTRL, 0, 0x30, 0, 0, 0, 0, 0], &UP, &key(0x1E), &UP, &key(KEY_ENTER)],
        );
        assert_eq!(out, vec![Decoded::Code(Code { code: "0\u{1d}1".into(), symbology: Some("]D1".into()) })]);
    }

    #[test]
    fn tab_ends_a_code_when_configured_and_overlong_is_bounded() {
        let tab = ScannerSettings { terminator: Terminator::Tab, ..ScannerSettings::default() };
        assert_eq!(run(&tab, &[&key(0x1E), &UP, &key(KEY_TAB), &UP]), vec![code("1")]);
        let mut d = KeyboardDecoder::new(&ScannerSettings::default());
        let mut out = Vec::new();
        for _ in 0..MAX_CODE_LEN + 5 {
            d.push_report(&key(0x1E), |x| out.push(x));
            d.push_report(&UP, |x| out.push(x));
        }
        assert!(out.is_empty());
        assert!(d.code.buf.len() <= MAX_CODE_LEN);
        d.push_report(&key(KEY_ENTER), |x| out.push(x));
        assert!(matches!(&out[..], [Decoded::Rejected { kind: "overlong", .. }]), "{out:?}");
    }

    #[test]
    fn abandon_drops_a_code_without_enter() {
        let mut d = KeyboardDecoder::new(&ScannerSettings::default());
        d.push_report(&key(0x1E), |_| {});
        assert!(d.has_partial());
        assert!(matches!(d.abandon(), Some(Decoded::Rejected { kind: "truncated", .. })));
        // The held '1' was forgotten: the same report types it again.
        let mut out = Vec::new();
        d.push_report(&key(0x1E), |x| out.push(x));
        d.push_report(&key(KEY_ENTER), |x| out.push(x));
        assert_eq!(out, vec![code("1")]);
    }
}
