//! Fuzzes the line-scanner decoder: the first two input bytes choose the settings (terminator,
//! AIM identifiers, a prefix and suffix to strip) and the chunk size, the rest is the byte
//! stream from the scanner. Nothing may panic, the decoder's buffer stays bounded, and every
//! code it delivers is non-empty printable ASCII (or GS) of at most `MAX_CODE_LEN` bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storehub::config::{ScannerSettings, Terminator};
use storehub::devices::scanner::{is_code_byte, line::LineDecoder, Decoded, MAX_CODE_LEN};

fn check(d: Decoded) {
    match d {
        Decoded::Code(c) => {
            assert!(!c.code.is_empty() && c.code.len() <= MAX_CODE_LEN, "{:?}", c.code);
            assert!(c.code.bytes().all(is_code_byte), "{:?}", c.code);
            if let Some(s) = &c.symbology {
                assert!(s.len() == 3 && s.starts_with(']'), "{s:?}");
            }
        }
        Decoded::Rejected { detail, .. } => assert!(detail.len() < 1024, "{} byte detail", detail.len()),
    }
}

fuzz_target!(|data: &[u8]| {
    let (head, stream) = data.split_at(data.len().min(2));
    let a = head.first().copied().unwrap_or(0);
    let b = head.get(1).copied().unwrap_or(0);
    let terminator = [Terminator::Any, Terminator::Cr, Terminator::Lf, Terminator::Crlf, Terminator::Tab][usize::from(a % 5)];
    let settings = ScannerSettings {
        terminator,
        aim_ids: a & 0x08 != 0,
        strip_prefix: if a & 0x10 != 0 { "\u{2}".into() } else { String::new() },
        strip_suffix: if a & 0x20 != 0 { "#".into() } else { String::new() },
    };
    let chunk = usize::from(b % 64) + 1;
    let mut decoder = LineDecoder::new(&settings);
    for part in stream.chunks(chunk) {
        decoder.push(part, check);
    }
    if let Some(d) = decoder.abandon() {
        check(d);
    }
    assert!(!decoder.has_partial());
});
