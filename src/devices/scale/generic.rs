//! Generic continuous-stream scales: one reading per line, read with a regular expression from
//! `[devices.scale].pattern`. Named groups: `weight` (required, a decimal number), `stable`
//! (optional: the reading is stable when this group took part in the match; without such a
//! group every reading counts as stable) and `unit` (optional; else `[devices.scale].unit`,
//! default kg). Lines the pattern does not match are garbage.

use regex::{Regex, RegexBuilder};

use super::units::{text_to_grams, WeightUnit};
use super::{Reply, ScaleError};
use crate::devices::{WeightReading, WeightState};

/// The longest line accepted.
pub const MAX_LINE: usize = 128;
/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN: usize = 512;

/// A compiled generic format.
#[derive(Debug, Clone)]
pub struct GenericFormat {
    re: Regex,
    unit: WeightUnit,
    has_stable: bool,
}

/// Compiles a pattern and checks its groups; the message says what to fix.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN {
        return Err(format!("the pattern is {} bytes; keep it under {MAX_PATTERN}", pattern.len()));
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let last = text.lines().last().unwrap_or("syntax error").trim_start_matches("error: ").to_string();
            format!("not a valid regular expression: {last}")
        })?;
    if !re.capture_names().flatten().any(|n| n == "weight") {
        return Err("the pattern needs a named group (?P<weight>…) around the number, e.g. \"(?P<weight>[-+]?[0-9.]+) ?kg\"".into());
    }
    Ok(re)
}

/// Checks a configured unit (`g`, `kg`, `lb`, `oz`).
pub fn check_unit(unit: &str) -> Result<WeightUnit, String> {
    WeightUnit::parse(unit).map_err(|_| format!("expected \"g\", \"kg\", \"lb\" or \"oz\", got {unit:?}"))
}

impl GenericFormat {
    pub fn new(pattern: &str, unit: Option<&str>) -> Result<GenericFormat, ScaleError> {
        let re = compile(pattern).map_err(ScaleError::Pattern)?;
        let unit = match unit {
            Some(u) => check_unit(u).map_err(ScaleError::Pattern)?,
            None => WeightUnit::Kilogram,
        };
        let has_stable = re.capture_names().flatten().any(|n| n == "stable");
        Ok(GenericFormat { re, unit, has_stable })
    }

    /// Decodes one line (without its terminator).
    pub fn decode(&self, line: &[u8]) -> Result<Reply, ScaleError> {
        let bad = |why: &str| ScaleError::BadFrame { protocol: "generic", frame: super::framing::show(line), why: why.to_string() };
        let text = std::str::from_utf8(line).map_err(|_| bad("not UTF-8 text"))?;
        let caps = self.re.captures(text).ok_or_else(|| bad("the line does not match [devices.scale].pattern"))?;
        let weight = caps.name("weight").ok_or_else(|| bad("the weight group did not take part in the match"))?;
        let unit = match caps.name("unit") {
            Some(u) if !u.as_str().trim().is_empty() => WeightUnit::parse(u.as_str())?,
            _ => self.unit,
        };
        let grams = text_to_grams(weight.as_str(), unit)?;
        let stable = !self.has_stable || caps.name("stable").is_some();
        let state = if grams < 0 {
            WeightState::UnderZero
        } else if stable {
            WeightState::Ok
        } else {
            WeightState::Motion
        };
        Ok(Reply::Reading(WeightReading { grams, stable, state }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERN: &str = r"^(?:(?P<stable>ST)|US),GS,\s*(?P<weight>[-+]?\s*[0-9.]+)\s*(?P<unit>kg|g|lb)$";

    fn reading(f: &GenericFormat, line: &str) -> WeightReading {
        match f.decode(line.as_bytes()).unwrap() {
            Reply::Reading(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn groups_give_weight_stability_and_unit() {
        let f = GenericFormat::new(PATTERN, None).unwrap();
        assert_eq!(reading(&f, "ST,GS,  1.250kg"), WeightReading { grams: 1250, stable: true, state: WeightState::Ok });
        assert_eq!(reading(&f, "US,GS,  1.251kg"), WeightReading { grams: 1251, stable: false, state: WeightState::Motion });
        assert_eq!(reading(&f, "ST,GS,   350 g"), WeightReading { grams: 350, stable: true, state: WeightState::Ok });
        assert_eq!(reading(&f, "ST,GS,- 0.010kg").state, WeightState::UnderZero);
        let e = f.decode(b"hello").unwrap_err().to_string();
        assert!(e.contains("does not match [devices.scale].pattern") && e.contains("\"hello\""), "{e}");
    }

    #[test]
    fn without_unit_or_stable_groups_the_settings_decide() {
        let f = GenericFormat::new(r"^W(?P<weight>\d+)$", Some("g")).unwrap();
        assert_eq!(reading(&f, "W0725"), WeightReading { grams: 725, stable: true, state: WeightState::Ok });
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(compile(r"(?P<weight>[0-9.]+").unwrap_err().contains("not a valid regular expression"));
        assert!(compile(r"(?P<w>[0-9.]+)").unwrap_err().contains("(?P<weight>…)"));
        assert!(compile(&"a".repeat(600)).unwrap_err().contains("under 512"));
        assert!(check_unit("jin").unwrap_err().contains("\"jin\""));
    }
}
