//! Fuzzes the shelf-node frame decoder: arbitrary bytes, delivered in chunks of a size the input
//! chooses, through the bounded `FrameAccumulator` and `decode_frame`. Nothing may panic, the
//! accumulator must never hold more than its bound, and every message it accepts must re-encode
//! to a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use storehub_wire::{decode_frame, encode_frame, Feed, FrameAccumulator, HubMsg, NodeMsg, MAX_FRAME_LEN};

fuzz_target!(|data: &[u8]| {
    let chunk = data.first().map(|b| (*b as usize % 17) + 1).unwrap_or(1);
    let mut acc = FrameAccumulator::<MAX_FRAME_LEN>::new();
    for part in data.chunks(chunk) {
        let mut window = part;
        loop {
            match acc.feed::<NodeMsg>(window) {
                Feed::Consumed => break,
                Feed::Message(msg, rest) => {
                    let mut buf = [0u8; MAX_FRAME_LEN];
                    let n = encode_frame(&msg, &mut buf).expect("a decoded message fits one frame").len();
                    assert_eq!(decode_frame::<NodeMsg>(&mut buf[..n]), Ok(msg));
                    assert!(rest.len() < window.len());
                    window = rest;
                }
                Feed::Error(_, rest) => {
                    assert!(rest.len() < window.len());
                    window = rest;
                }
            }
            assert!(acc.pending() <= MAX_FRAME_LEN);
        }
    }
    // The whole input as one frame, in the hub → node direction too (what a node decodes).
    let mut copy = [0u8; 1024];
    let n = data.len().min(copy.len());
    copy[..n].copy_from_slice(&data[..n]);
    let _ = decode_frame::<HubMsg>(&mut copy[..n]);
});
