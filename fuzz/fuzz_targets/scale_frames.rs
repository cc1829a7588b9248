//! Fuzzes every serial scale protocol's sans-I/O path: arbitrary bytes, in input-chosen chunk
//! sizes, through each protocol's bounded `Framer` and its decoder (Toledo 8217, MT-SICS, CAS
//! and the generic pattern format), and each whole input straight into each decoder. Nothing may
//! panic, no frame handed to a decoder may be longer than the framer's bound, and every reading
//! a decoder returns must be in whole grams within the range a retail scale can report.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use storehub::config::{DeviceProtocol, ScaleSettings};
use storehub::devices::scale::framing::Framed;
use storehub::devices::scale::{cas, generic, mt_sics, toledo, Codec};

/// The same pattern as the scale module's property test: optional `S` for stable, a number,
/// an optional unit.
const PATTERN: &str = r"^(?P<stable>S)?(?P<weight>[-+0-9. ]+)(?P<unit>kg|g)?$";

fn check(codec: &Codec, frame: &[u8]) {
    if let Ok(reply) = codec.decode(frame) {
        let _ = reply.describe();
        if let Some(r) = reply.reading() {
            // No retail scale weighs a thousand tonnes: a reading this large is a decoding bug.
            assert!(r.grams.unsigned_abs() < 1_000_000_000_000, "{r:?} from {frame:?}");
        }
    }
}

/// The codecs, built once (compiling the generic pattern per input would dominate the run).
fn codecs() -> &'static [(DeviceProtocol, Codec)] {
    static CODECS: OnceLock<Vec<(DeviceProtocol, Codec)>> = OnceLock::new();
    CODECS.get_or_init(|| {
        let settings = ScaleSettings { pattern: Some(PATTERN.into()), ..ScaleSettings::default() };
        [DeviceProtocol::Toledo8217, DeviceProtocol::MtSics, DeviceProtocol::Cas, DeviceProtocol::Generic]
            .into_iter()
            .map(|p| (p, Codec::new(p, &settings).expect("built-in settings are valid")))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let chunk = data.first().map(|b| (*b as usize % 23) + 1).unwrap_or(1);
    for (protocol, codec) in codecs() {
        let (protocol, codec) = (*protocol, codec);
        let bound = match protocol {
            DeviceProtocol::Toledo8217 => toledo::MAX_FRAME,
            DeviceProtocol::MtSics => mt_sics::MAX_LINE,
            DeviceProtocol::Cas => cas::MAX_LINE,
            _ => generic::MAX_LINE,
        };
        let mut framer = codec.framer();
        for part in data.chunks(chunk) {
            framer.push(part, &mut |ev| {
                if let Framed::Frame(f) = ev {
                    assert!(f.len() <= bound, "a {}-byte {} frame passed the framer", f.len(), protocol.as_str());
                    check(codec, f);
                }
            });
        }
        check(codec, data);
    }
});
