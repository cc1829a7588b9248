//! Scripts of what happens on the simulated shelf over time: the parser (errors name the line
//! and the word) and [`ScriptRunner`], which applies the steps that are due to the grams on each
//! channel. Pure: time comes in as milliseconds since the script started. The format is
//! described in the crate docs (`lib.rs`, "Scripts").

use std::fmt;

use storehub_wire::MAX_CHANNELS;

/// What a step does to a channel's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Puts this many grams on the cell (> 0).
    Place(i32),
    /// Takes this many grams off (> 0).
    Take(i32),
    /// The cell now carries exactly this many grams.
    Set(i32),
}

/// When a step happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Once, this many ms after the start.
    At(u64),
    /// Every `period_ms` (first at `period_ms`); with `until`, only while the result does not pass
    /// `until` grams (a take stops above it, a place below it).
    Every { period_ms: u64, until: Option<i32> },
}

/// One line of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// 1-based line in the script text.
    pub line: usize,
    pub when: When,
    pub channel: u8,
    pub action: Action,
}

/// A parsed script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
}

/// Why a script line did not parse: the line, the word (empty when a word is missing) and what
/// was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub line: usize,
    pub word: String,
    pub problem: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.word.is_empty() {
            write!(f, "line {}: {}", self.line, self.problem)
        } else {
            write!(f, "line {}, word {:?}: {}", self.line, self.word, self.problem)
        }
    }
}

impl std::error::Error for ScriptError {}

/// The longest script line read; a longer one is an error, not a truncation.
pub const MAX_LINE: usize = 200;

impl Script {
    /// Parses a whole script (see the crate docs for the format).
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let mut steps = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.len() > MAX_LINE {
                return Err(ScriptError { line, word: String::new(), problem: format!("longer than {MAX_LINE} bytes; one step a line") });
            }
            let body = raw.split('#').next().unwrap_or("");
            let words: Vec<&str> = body.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            steps.push(parse_step(line, &words)?);
        }
        Ok(Script { steps })
    }

    /// The highest channel a step uses, `None` for an empty script.
    pub fn max_channel(&self) -> Option<u8> {
        self.steps.iter().map(|s| s.channel).max()
    }
}

fn err(line: usize, word: &str, problem: impl Into<String>) -> ScriptError {
    ScriptError { line, word: word.to_string(), problem: problem.into() }
}

fn parse_step(line: usize, words: &[&str]) -> Result<Step, ScriptError> {
    let mut it = words.iter().copied();
    let mut next = |what: &str, after: &str| it.next().ok_or_else(|| err(line, "", format!("{what} missing after {after:?}")));
    let verb = next("a step", "")?;
    let time_word = next("a time such as 2.5s, 300ms or 1min", verb)?;
    let time = parse_time(line, time_word)?;
    let channel_word = next("a channel ch0..ch3", time_word)?;
    let channel = parse_channel(line, channel_word)?;
    let action_word = next("place, take or set", channel_word)?;
    let grams_word = next("grams", action_word)?;
    let grams = parse_grams(line, grams_word)?;
    let action = match action_word {
        "place" | "take" if grams <= 0 => return Err(err(line, grams_word, format!("{action_word} needs a positive number of grams"))),
        "place" => Action::Place(grams),
        "take" => Action::Take(grams),
        "set" => Action::Set(grams),
        other => return Err(err(line, other, "expected place, take or set")),
    };
    let when = match verb {
        "at" => When::At(time),
        "every" => {
            if time == 0 {
                return Err(err(line, time_word, "a repeat needs a period of at least 1ms"));
            }
            let until = match next("", "") {
                Err(_) => None,
                Ok("until") => {
                    let w = next("grams", "until")?;
                    if matches!(action, Action::Set(_)) {
                        return Err(err(line, "until", "until goes with place or take, not set"));
                    }
                    Some(parse_grams(line, w)?)
                }
                Ok(other) => return Err(err(line, other, "expected until or the end of the line")),
            };
            When::Every { period_ms: time, until }
        }
        other => return Err(err(line, other, "expected at or every")),
    };
    if let Some(extra) = it.next() {
        return Err(err(line, extra, "expected the end of the line (a comment starts with #)"));
    }
    Ok(Step { line, when, channel, action })
}

/// `300ms`, `2s`, `2.5s`, `1.5min`: milliseconds (three decimals at most, no decimals on ms).
fn parse_time(line: usize, word: &str) -> Result<u64, ScriptError> {
    let bad = || err(line, word, "expected a time such as 2.5s, 300ms or 1min");
    let (number, unit_ms) = if let Some(n) = word.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = word.strip_suffix("min") {
        (n, 60_000)
    } else if let Some(n) = word.strip_suffix('s') {
        (n, 1_000)
    } else {
        return Err(bad());
    };
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!frac.is_empty() && (!digits(frac) || frac.len() > 3 || unit_ms == 1)) || number.ends_with('.') {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let mut ms = whole.checked_mul(unit_ms).ok_or_else(bad)?;
    if !frac.is_empty() {
        let scale = 10u64.pow(frac.len() as u32);
        let f: u64 = frac.parse().map_err(|_| bad())?;
        ms = ms.checked_add(f * unit_ms / scale).ok_or_else(bad)?;
    }
    Ok(ms)
}

fn parse_channel(line: usize, word: &str) -> Result<u8, ScriptError> {
    word.strip_prefix("ch")
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|&c| c < MAX_CHANNELS)
        .ok_or_else(|| err(line, word, format!("expected a channel ch0..ch{}", MAX_CHANNELS - 1)))
}

fn parse_grams(line: usize, word: &str) -> Result<i32, ScriptError> {
    let number = word.strip_suffix('g').unwrap_or(word);
    number.parse::<i32>().map_err(|_| err(line, word, "expected whole grams such as 570 or 570g"))
}

/// Plays a [`Script`]: call [`ScriptRunner::apply_due`] with the time since the start.
#[derive(Debug, Clone)]
pub struct ScriptRunner {
    steps: Vec<Step>,
    /// Per step: when it is next due, `None` once it is done.
    next_ms: Vec<Option<u64>>,
}

/// One step applied: which line, which channel, the grams on it after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub line: usize,
    pub at_ms: u64,
    pub channel: u8,
    pub grams: i32,
}

impl ScriptRunner {
    pub fn new(script: &Script) -> ScriptRunner {
        let next_ms = script
            .steps
            .iter()
            .map(|s| match s.when {
                When::At(t) => Some(t),
                When::Every { period_ms, .. } => Some(period_ms),
            })
            .collect();
        ScriptRunner { steps: script.steps.clone(), next_ms }
    }

    /// Whether every step is done (a script with a repeat without `until` never is).
    pub fn finished(&self) -> bool {
        self.next_ms.iter().all(Option::is_none)
    }

    /// Applies, in time order (ties in line order), every step due at or before `elapsed_ms` to
    /// `grams` (one entry per channel); returns what changed.
    pub fn apply_due(&mut self, elapsed_ms: u64, grams: &mut [i32]) -> Vec<Applied> {
        let mut applied = Vec::new();
        loop {
            let due = self
                .next_ms
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.filter(|&t| t <= elapsed_ms).map(|t| (t, i)))
                .min();
            let Some((at_ms, i)) = due else { return applied };
            let step = self.steps[i];
            let Some(slot) = grams.get_mut(usize::from(step.channel)) else {
                self.next_ms[i] = None;
                continue;
            };
            let after = match step.action {
                Action::Place(g) => slot.saturating_add(g),
                Action::Take(g) => slot.saturating_sub(g),
                Action::Set(g) => g,
            };
            self.next_ms[i] = match step.when {
                When::At(_) => None,
                When::Every { period_ms, until } => {
                    let passes = match (until, step.action) {
                        (Some(u), Action::Take(_)) => after < u,
                        (Some(u), Action::Place(_)) => after > u,
                        _ => false,
                    };
                    if passes {
                        self.next_ms[i] = None;
                        continue;
                    }
                    Some(at_ms.saturating_add(period_ms))
                }
            };
            *slot = after;
            applied.push(Applied { line: step.line, at_ms, channel: step.channel, grams: after });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
# water shelf: ten bottles of 570 g on ch0
at 0s ch0 set 5700
at 2.5s ch0 take 570     # a shopper takes one
at 5s ch0 place 570g
every 30s ch0 take 570 until 0

at 1.5min ch1 set 0
at 250ms ch1 place 40
";

    #[test]
    fn a_script_parses_into_steps() {
        let s = Script::parse(EXAMPLE).unwrap();
        assert_eq!(
            s.steps,
            vec![
                Step { line: 2, when: When::At(0), channel: 0, action: Action::Set(5_700) },
                Step { line: 3, when: When::At(2_500), channel: 0, action: Action::Take(570) },
                Step { line: 4, when: When::At(5_000), channel: 0, action: Action::Place(570) },
                Step { line: 5, when: When::Every { period_ms: 30_000, until: Some(0) }, channel: 0, action: Action::Take(570) },
                Step { line: 7, when: When::At(90_000), channel: 1, action: Action::Set(0) },
                Step { line: 8, when: When::At(250), channel: 1, action: Action::Place(40) },
            ]
        );
        assert_eq!(s.max_channel(), Some(1));
        assert_eq!(Script::parse("# nothing\n\n").unwrap().max_channel(), None);
    }

    #[test]
    fn errors_name_the_line_and_the_word() {
        let cases = [
            ("at 2s ch0 place 570\nat 2x ch0 take 1", "line 2, word \"2x\": expected a time such as 2.5s, 300ms or 1min"),
            ("at 2s ch4 take 1", "line 1, word \"ch4\": expected a channel ch0..ch3"),
            ("at 2s ch0 drop 1", "line 1, word \"drop\": expected place, take or set"),
            ("at 2s ch0 take lots", "line 1, word \"lots\": expected whole grams such as 570 or 570g"),
            ("at 2s ch0 take -5", "line 1, word \"-5\": take needs a positive number of grams"),
            ("soon 2s ch0 take 5", "line 1, word \"soon\": expected at or every"),
            ("\n\nat 2s ch0", "line 3: place, take or set missing after \"ch0\""),
            ("every 0s ch0 take 5", "line 1, word \"0s\": a repeat needs a period of at least 1ms"),
            ("every 1s ch0 set 5 until 0", "line 1, word \"until\": until goes with place or take, not set"),
            ("every 1s ch0 take 5 till 0", "line 1, word \"till\": expected until or the end of the line"),
            ("every 1s ch0 take 5 until", "line 1: grams missing after \"until\""),
            ("at 2s ch0 take 5 now", "line 1, word \"now\": expected the end of the line (a comment starts with #)"),
            ("at 2.5ms ch0 take 5", "line 1, word \"2.5ms\": expected a time such as 2.5s, 300ms or 1min"),
            ("at 2.0001s ch0 take 5", "line 1, word \"2.0001s\": expected a time such as 2.5s, 300ms or 1min"),
            ("at 2.s ch0 take 5", "line 1, word \"2.s\": expected a time such as 2.5s, 300ms or 1min"),
            ("at 99999999999999999999s ch0 take 5", "line 1, word \"99999999999999999999s\": expected a time such as 2.5s, 300ms or 1min"),
        ];
        for (text, want) in cases {
            assert_eq!(Script::parse(text).unwrap_err().to_string(), want, "{text:?}");
        }
        let long = format!("at 1s ch0 take 5 #{}", "x".repeat(MAX_LINE));
        assert_eq!(Script::parse(&long).unwrap_err().to_string(), "line 1: longer than 200 bytes; one step a line");
    }

    /// 1.5min = 90 000 ms; 0.25s = 250 ms; 0.001min = 60 ms.
    #[test]
    fn times_in_milliseconds() {
        assert_eq!(parse_time(1, "1.5min"), Ok(90_000));
        assert_eq!(parse_time(1, "0.25s"), Ok(250));
        assert_eq!(parse_time(1, "0.001min"), Ok(60));
        assert_eq!(parse_time(1, "300ms"), Ok(300));
        assert_eq!(parse_time(1, "7s"), Ok(7_000));
    }

    /// Ten bottles (5 700 g), one taken at 2.5 s, put back at 5 s, then one every 30 s until the
    /// shelf is empty: at 30 s 5 130, …, at 300 s (the tenth take) 0, and no eleventh.
    #[test]
    fn the_runner_applies_due_steps_in_time_order() {
        let s = Script::parse(EXAMPLE).unwrap();
        let mut r = ScriptRunner::new(&s);
        let mut grams = [0i32; 4];
        let first = r.apply_due(0, &mut grams);
        assert_eq!(first, vec![Applied { line: 2, at_ms: 0, channel: 0, grams: 5_700 }]);
        assert_eq!(r.apply_due(249, &mut grams), vec![]);
        assert_eq!(r.apply_due(2_600, &mut grams).iter().map(|a| (a.line, a.grams)).collect::<Vec<_>>(), vec![(8, 40), (3, 5_130)]);
        r.apply_due(5_000, &mut grams);
        assert_eq!(grams[0], 5_700);
        r.apply_due(30_000, &mut grams);
        assert_eq!(grams[0], 5_130);
        // Far later in one call: the remaining repeats in order, channel 1 set to 0 at 90 s.
        let rest = r.apply_due(10_000_000, &mut grams);
        let takes: Vec<(u64, i32)> = rest.iter().filter(|a| a.line == 5).map(|a| (a.at_ms, a.grams)).collect();
        assert_eq!(takes.len(), 9);
        assert_eq!(takes[0], (60_000, 4_560));
        assert_eq!(takes[8], (300_000, 0));
        assert_eq!(grams, [0, 0, 0, 0]);
        assert!(r.finished());
        assert_eq!(r.apply_due(20_000_000, &mut grams), vec![]);
    }

    /// Placing 300 g every second until 1 000: 300, 600, 900, then 1 200 would pass 1 000: stop.
    /// A step for a channel past the slice is dropped.
    #[test]
    fn place_until_stops_below_the_limit() {
        let s = Script::parse("every 1s ch0 place 300 until 1000\nat 1s ch3 set 9").unwrap();
        let mut r = ScriptRunner::new(&s);
        let mut grams = [0i32; 1];
        let applied = r.apply_due(10_000, &mut grams);
        assert_eq!(applied.iter().map(|a| a.grams).collect::<Vec<_>>(), vec![300, 600, 900]);
        assert!(r.finished());
    }
}
