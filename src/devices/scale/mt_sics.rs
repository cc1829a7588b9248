//! Mettler Toledo MT-SICS, levels 0 and 1: ASCII commands and replies, each a line ending CR LF.
//! We send `SI` (weight now, stable or not) to poll, `S` is the blocking "stable weight" form;
//! `Z` zero, `T` tare, `TAC` clear tare. Replies name the command, a status letter, then data:
//! `S S  1.250 kg` stable, `S D  1.250 kg` dynamic, `S I` cannot now, `S +` overload,
//! `S -` underload, `Z A` zeroed, `T S  0.250 kg` tared, and the general errors `ES` (syntax),
//! `ET` (transmission), `EL` (logical). This module turns one line into a [`Reply`].

use super::units::{text_to_grams, WeightUnit};
use super::{Reply, ScaleCommand, ScaleError};
use crate::devices::{WeightReading, WeightState};

/// Weight now, stable or dynamic.
pub const POLL: &[u8] = b"SI\r\n";
/// Stable weight (the scale waits for stability, or answers `S I` on its own timeout).
pub const STABLE: &[u8] = b"S\r\n";
pub const ZERO: &[u8] = b"Z\r\n";
pub const TARE: &[u8] = b"T\r\n";
pub const CLEAR_TARE: &[u8] = b"TAC\r\n";
/// The longest reply line accepted (weights are ~20 characters; I4 serial numbers ~20).
pub const MAX_LINE: usize = 64;

fn weight(tokens: &[&str], line: &str) -> Result<i64, ScaleError> {
    match tokens {
        [value, unit, ..] => text_to_grams(value, WeightUnit::parse(unit)?),
        _ => Err(ScaleError::BadFrame { protocol: "mt-sics", frame: line.to_string(), why: "expected a weight and a unit after the status".into() }),
    }
}

fn refused(command: ScaleCommand, why: &str) -> Reply {
    Reply::Command { command, done: false, detail: why.to_string() }
}

/// Decodes one reply line (without CR LF).
pub fn decode(line: &[u8]) -> Result<Reply, ScaleError> {
    let text = std::str::from_utf8(line).map_err(|_| ScaleError::BadFrame {
        protocol: "mt-sics",
        frame: super::framing::show(line),
        why: "not ASCII".into(),
    })?;
    let tokens: Vec<&str> = text.split_whitespace().take(6).collect();
    let reading = |grams: i64, stable: bool, state: WeightState| Reply::Reading(WeightReading { grams, stable, state });
    let signed = |grams: i64, stable: bool| {
        let state = match (grams < 0, stable) {
            (true, _) => WeightState::UnderZero,
            (false, true) => WeightState::Ok,
            (false, false) => WeightState::Motion,
        };
        reading(grams, stable, state)
    };
    use ScaleCommand::*;
    Ok(match tokens.as_slice() {
        ["S", "S", rest @ ..] => signed(weight(rest, text)?, true),
        ["S", "D", rest @ ..] => signed(weight(rest, text)?, false),
        ["S", "I"] => Reply::NotReady("S I: command not executable now (the scale is busy or did not settle)".into()),
        ["S", "+"] => reading(0, false, WeightState::Overload),
        ["S", "-"] => reading(0, false, WeightState::UnderZero),
        ["ES"] => Reply::DeviceError("ES: syntax error (the scale did not recognise the command)".into()),
        ["ET"] => Reply::DeviceError("ET: transmission error (parity or framing; check the line settings)".into()),
        ["EL"] => Reply::DeviceError("EL: logical error (the command is not allowed now)".into()),
        ["Z", "A"] => Reply::Command { command: Zero, done: true, detail: "zeroed".into() },
        ["Z", "I"] => refused(Zero, "Z I: zero not executable now (moving or busy)"),
        ["Z", "+"] => refused(Zero, "Z +: upper limit of the zero setting range exceeded"),
        ["Z", "-"] => refused(Zero, "Z -: lower limit of the zero setting range exceeded"),
        ["T", "S", rest @ ..] => {
            let tare = weight(rest, text)?;
            Reply::Command { command: Tare, done: true, detail: format!("tare {tare} g") }
        }
        ["T", "I"] => refused(Tare, "T I: tare not executable now (moving or busy)"),
        ["T", "+"] => refused(Tare, "T +: upper limit of the taring range exceeded"),
        ["T", "-"] => refused(Tare, "T -: lower limit of the taring range exceeded"),
        ["TAC", "A"] => Reply::Command { command: ClearTare, done: true, detail: "tare cleared".into() },
        ["TAC", "I"] => refused(ClearTare, "TAC I: clear tare not executable now"),
        ["TAC", "L"] => refused(ClearTare, "TAC L: clear tare not allowed (logical error)"),
        _ => {
            return Err(ScaleError::BadFrame {
                protocol: "mt-sics",
                frame: text.to_string(),
                why: "not an MT-SICS reply this hub knows (S, Z, T, TAC or ES/ET/EL)".into(),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(line: &str) -> WeightReading {
        match decode(line.as_bytes()).unwrap() {
            Reply::Reading(r) => r,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn weight_replies() {
        assert_eq!(reading("S S      100.00 g"), WeightReading { grams: 100, stable: true, state: WeightState::Ok });
        assert_eq!(reading("S S     1.250 kg"), WeightReading { grams: 1250, stable: true, state: WeightState::Ok });
        assert_eq!(reading("S D      100.01 g"), WeightReading { grams: 100, stable: false, state: WeightState::Motion });
        assert_eq!(reading("S S     -0.040 kg"), WeightReading { grams: -40, stable: true, state: WeightState::UnderZero });
        assert_eq!(reading("S +").state, WeightState::Overload);
        assert_eq!(reading("S -").state, WeightState::UnderZero);
        assert!(matches!(decode(b"S I"), Ok(Reply::NotReady(_))));
    }

    #[test]
    fn errors_and_command_replies() {
        for (line, text) in [("ES", "syntax"), ("ET", "transmission"), ("EL", "logical")] {
            match decode(line.as_bytes()).unwrap() {
                Reply::DeviceError(d) => assert!(d.contains(text), "{d}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(decode(b"Z A"), Ok(Reply::Command { command: ScaleCommand::Zero, done: true, .. })));
        assert!(matches!(decode(b"Z I"), Ok(Reply::Command { command: ScaleCommand::Zero, done: false, .. })));
        match decode(b"T S      0.250 kg").unwrap() {
            Reply::Command { command: ScaleCommand::Tare, done: true, detail } => assert_eq!(detail, "tare 250 g"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode(b"TAC A"), Ok(Reply::Command { command: ScaleCommand::ClearTare, done: true, .. })));
    }

    #[test]
    fn unknown_lines_and_units_are_errors() {
        let e = decode(b"X Y 1 g").unwrap_err().to_string();
        assert!(e.contains("\"X Y 1 g\"") && e.contains("not an MT-SICS reply"), "{e}");
        let e = decode(b"S S").unwrap_err().to_string();
        assert!(e.contains("expected a weight and a unit"), "{e}");
        let e = decode(b"S S 1.0 ct").unwrap_err().to_string();
        assert!(e.contains("\"ct\""), "{e}");
    }
}
