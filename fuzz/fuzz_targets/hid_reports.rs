//! Fuzzes the HID report decoders: the input is cut into reports (each prefixed by its length
//! byte, as many as fit), fed to the boot-keyboard scanner decoder, the HID POS scanner decoder
//! and the HID scale decoder. Nothing may panic; scanner codes are non-empty printable ASCII (or
//! GS) of at most `MAX_CODE_LEN` bytes; a scale reading is within what 16 bits times 10^exponent
//! can say.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storehub::config::ScannerSettings;
use storehub::devices::scale::hid_scale;
use storehub::devices::scanner::{hid_keyboard::KeyboardDecoder, hid_pos::PosDecoder, is_code_byte, Decoded, MAX_CODE_LEN, MAX_REPORT};

fn check(d: Decoded) {
    if let Decoded::Code(c) = d {
        assert!(!c.code.is_empty() && c.code.len() <= MAX_CODE_LEN, "{:?}", c.code);
        assert!(c.code.bytes().all(is_code_byte), "{:?}", c.code);
    }
}

fuzz_target!(|data: &[u8]| {
    let aim_ids = data.first().is_some_and(|b| b & 1 != 0);
    let settings = ScannerSettings { aim_ids, ..ScannerSettings::default() };
    let mut keyboard = KeyboardDecoder::new(&settings);
    let mut pos = PosDecoder::new(&settings);
    let mut rest = data.get(1..).unwrap_or(&[]);
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len()).min(MAX_REPORT);
        let (report, after) = tail.split_at(n);
        keyboard.push_report(report, check);
        pos.push_report(report, check);
        if let Ok(Some(r)) = hid_scale::decode_report(report) {
            // 65535 · 10^exponent in pounds is the most a report can say; far below this bound.
            assert!(r.grams.unsigned_abs() < 1_000_000_000_000_000, "{r:?} from {report:?}");
        }
        rest = after;
    }
    for d in [keyboard.abandon(), pos.abandon()].into_iter().flatten() {
        check(d);
    }
    assert!(!keyboard.has_partial() && !pos.has_partial());
});
