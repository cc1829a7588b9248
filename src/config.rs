//! Typed configuration of one hub, read from TOML and validated before anything else starts.
//!
//! Owns the shape of `config/*.toml`, its defaults, and every rule a value must satisfy to be
//! usable. A bad file is refused with one line naming the file, the line, the key and what is
//! expected (see [`ConfigError`]). This module never opens devices, sockets or the database: it
//! only describes them, and the parts that do trust these typed, validated values.
//!
//! Relative paths in a config (data dir, TLS files) are relative to the daemon's working
//! directory, not to the config file; production configs use absolute paths.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;

use crate::domain::barcode::{EmbeddedValue, InStoreLayout};

/// The demo configuration, compiled into the binary so `storehub demo` needs no files.
pub const DEMO_TOML: &str = include_str!("../config/demo.toml");

/// Source name used in error messages for [`DEMO_TOML`].
pub const DEMO_SOURCE_NAME: &str = "config/demo.toml";

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

/// Why a configuration was refused. Displays as exactly one line:
///
/// ```text
/// {source}:{line}: {key}: {message}
/// {source}:{line}: unknown key {key}; expected one of: a, b, c
/// {source}: {key}: {message}                  (when no line is known)
/// {source}:{line}: TOML syntax error: {message}
/// ```
///
/// `key` is written as in the file: `[mqtt].url`, `[loyalty].tiers[1].discount_bp`,
/// `lanes[0].id` (top-level arrays of tables), `[store]` (a whole section). Indexes count from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_error(.source_name, *.line, .key.as_deref(), *.kind, .message))]
pub struct ConfigError {
    /// The file name as given to [`Config::load`] / [`Config::from_str`].
    pub source_name: String,
    /// 1-based line of the offending key or table, when known.
    pub line: Option<usize>,
    /// The key path as rendered in the message, e.g. `[mqtt].url`.
    pub key: Option<String>,
    pub kind: ConfigErrorKind,
    /// What is expected and what was found (for unknown keys: the list of allowed keys).
    pub message: String,
}

/// The class of a [`ConfigError`], for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigErrorKind {
    /// The file could not be read (missing, no permission, not UTF-8).
    Read,
    /// The text is not valid TOML (including duplicate keys).
    Syntax,
    /// A key the hub does not know (a typo, or a key from another version).
    UnknownKey,
    /// A required key or section is absent.
    MissingKey,
    /// A value of the wrong type or an impossible value.
    Invalid,
}

fn render_error(
    source: &str,
    line: Option<usize>,
    key: Option<&str>,
    kind: ConfigErrorKind,
    message: &str,
) -> String {
    let mut out = match line {
        Some(l) => format!("{source}:{l}: "),
        None => format!("{source}: "),
    };
    match (kind, key) {
        (ConfigErrorKind::UnknownKey, Some(k)) => {
            out.push_str("unknown key ");
            out.push_str(k);
            out.push_str("; ");
        }
        (_, Some(k)) if !k.is_empty() => {
            out.push_str(k);
            out.push_str(": ");
        }
        _ => {}
    }
    out.push_str(message);
    out
}

/// One step of a key path: a table key or an index into an array.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Top-level keys that are arrays of tables (`[[lanes]]`), rendered `lanes[0].id`.
const ARRAY_SECTIONS: &[&str] = &["lanes", "devices"];

/// Renders a key path the way a technician finds it in the file (see [`ConfigError`]).
fn render_key(path: &[Seg]) -> String {
    let mut out = String::new();
    let mut rest = path;
    if let Some((Seg::Key(first), tail)) = path.split_first() {
        let is_array = matches!(tail.first(), Some(Seg::Index(_)))
            || (tail.is_empty() && ARRAY_SECTIONS.contains(&first.as_str()));
        if is_array {
            out.push_str(first);
        } else {
            out.push('[');
            out.push_str(first);
            out.push(']');
        }
        rest = tail;
    }
    for seg in rest {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// 1-based line containing byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// [`locate`] for a key written `[section].key` (as in messages), for other TOML files checked
/// with the same error style (e.g. `provision.toml`).
pub(crate) fn locate_key(text: &str, key: &str) -> Option<usize> {
    let path: Vec<Seg> = key
        .split(['[', ']', '.'])
        .filter(|k| !k.is_empty())
        .map(|k| Seg::Key(k.to_string()))
        .collect();
    locate(text, &path)
}

/// Finds the line that defines `target` (or, failing that, the closest enclosing table or key
/// that is written in the file) by scanning headers and `key = value` lines. Good for the usual
/// one-key-per-line style; inline tables and multi-line strings only lose precision, never panic.
fn locate(text: &str, target: &[Seg]) -> Option<usize> {
    let mut arrays: HashMap<Vec<Seg>, usize> = HashMap::new();
    let mut current: Vec<Seg> = Vec::new();
    let mut best: Option<(usize, usize)> = None; // (matched length, line)
    let mut consider = |full: &[Seg], line: usize| -> bool {
        if full.len() <= target.len() && target[..full.len()] == *full {
            if full.len() == target.len() {
                return true;
            }
            if best.is_none_or(|(len, _)| full.len() > len) {
                best = Some((full.len(), line));
            }
        }
        false
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_start();
        if let Some(inner) = line.strip_prefix("[[") {
            let Some(end) = inner.find("]]") else {
                continue;
            };
            let keys = split_dotted(&inner[..end]);
            let Some((last, parents)) = keys.split_last() else {
                continue;
            };
            let mut path = resolve(&arrays, parents);
            path.push(Seg::Key(last.clone()));
            let count = arrays.entry(path.clone()).or_insert(0);
            let index = *count;
            *count += 1;
            path.push(Seg::Index(index));
            if consider(&path, line_no) {
                return Some(line_no);
            }
            current = path;
        } else if let Some(inner) = line.strip_prefix('[') {
            let Some(end) = inner.find(']') else { continue };
            let keys = split_dotted(&inner[..end]);
            let path = resolve(&arrays, &keys);
            if consider(&path, line_no) {
                return Some(line_no);
            }
            current = path;
        } else if let Some(eq) = line.find('=') {
            let key = &line[..eq];
            if key.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut full = current.clone();
            full.extend(split_dotted(key).into_iter().map(Seg::Key));
            if consider(&full, line_no) {
                return Some(line_no);
            }
        }
    }
    best.map(|(_, line)| line)
}

fn split_dotted(key: &str) -> Vec<String> {
    key.split('.')
        .map(|k| k.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .collect()
}

/// Turns header keys into a path, inserting the current index of every array of tables met.
fn resolve(arrays: &HashMap<Vec<Seg>, usize>, keys: &[String]) -> Vec<Seg> {
    let mut path = Vec::new();
    for k in keys {
        path.push(Seg::Key(k.clone()));
        if let Some(&count) = arrays.get(&path) {
            path.push(Seg::Index(count.saturating_sub(1)));
        }
    }
    path
}

/// A post-parse validation failure: where and what. Turned into a [`ConfigError`] with the line
/// found by [`locate`].
#[derive(Debug)]
struct Invalid {
    path: Vec<Seg>,
    message: String,
}

fn invalid(path: Vec<Seg>, message: impl Into<String>) -> Invalid {
    Invalid {
        path,
        message: message.into(),
    }
}

/// `[section].key`
fn key(section: &str, key: &str) -> Vec<Seg> {
    vec![Seg::Key(section.into()), Seg::Key(key.into())]
}

/// `array[i].key` (top level), or `array[i]` when `key` is empty.
fn item(array: &str, index: usize, key: &str) -> Vec<Seg> {
    let mut p = vec![Seg::Key(array.into()), Seg::Index(index)];
    if !key.is_empty() {
        p.push(Seg::Key(key.into()));
    }
    p
}

/// `[section].array[i].key`, or `[section].array[i]` when `key` is empty.
fn nested(section: &str, array: &str, index: usize, key: &str) -> Vec<Seg> {
    let mut p = vec![Seg::Key(section.into())];
    p.extend(item(array, index, key));
    p
}

impl ConfigError {
    fn read(source_name: &str, message: String) -> Self {
        ConfigError {
            source_name: source_name.to_string(),
            line: None,
            key: None,
            kind: ConfigErrorKind::Read,
            message,
        }
    }

    pub(crate) fn from_syntax(text: &str, source_name: &str, err: &toml::de::Error) -> Self {
        let message = format!("TOML syntax error: {}", one_line(err.message()));
        ConfigError {
            source_name: source_name.to_string(),
            line: err.span().map(|s| line_of(text, s.start)),
            key: None,
            kind: ConfigErrorKind::Syntax,
            message,
        }
    }

    fn from_invalid(text: &str, source_name: &str, inv: Invalid) -> Self {
        ConfigError {
            source_name: source_name.to_string(),
            line: locate(text, &inv.path),
            key: Some(render_key(&inv.path)),
            kind: ConfigErrorKind::Invalid,
            message: inv.message,
        }
    }

    /// Turns a serde error (with its path from serde_path_to_error and its span from toml) into
    /// the one-line form, rewording serde's standard messages for people.
    pub(crate) fn from_serde(
        text: &str,
        source_name: &str,
        err: &serde_path_to_error::Error<toml::de::Error>,
    ) -> Self {
        use serde_path_to_error::Segment;
        let mut path: Vec<Seg> = err
            .path()
            .iter()
            .filter_map(|s| match s {
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect();
        let inner = err.inner();
        let raw = inner.message();
        let span = inner.span();
        let mut line = span.as_ref().map(|s| line_of(text, s.start));
        let spanned_text = span
            .as_ref()
            .and_then(|s| text.get(s.clone()))
            .map(str::trim)
            .unwrap_or("");

        let (kind, message) = if let Some(rest) = raw.strip_prefix("unknown field `") {
            let (name, expected) = split_ticked(rest);
            if path.last() != Some(&Seg::Key(name.to_string())) {
                path.push(Seg::Key(name.to_string()));
            }
            let message = if expected.is_empty() {
                "this table takes no keys".to_string()
            } else {
                format!("expected one of: {}", expected.join(", "))
            };
            (ConfigErrorKind::UnknownKey, message)
        } else if let Some(rest) = raw.strip_prefix("missing field `") {
            let name = rest.trim_end_matches('`');
            let top = path.is_empty();
            path.push(Seg::Key(name.to_string()));
            if top {
                // A missing section: no line to point at, the root spans the whole file.
                line = None;
                (
                    ConfigErrorKind::MissingKey,
                    "missing required section".to_string(),
                )
            } else {
                (
                    ConfigErrorKind::MissingKey,
                    "missing required key".to_string(),
                )
            }
        } else if let Some(rest) = raw.strip_prefix("unknown variant `") {
            let (name, expected) = split_ticked(rest);
            let quoted: Vec<String> = expected.iter().map(|e| format!("{e:?}")).collect();
            let expected = match quoted.as_slice() {
                [one] => one.clone(),
                [a, b] => format!("{a} or {b}"),
                many => format!("one of {}", many.join(", ")),
            };
            (
                ConfigErrorKind::Invalid,
                format!("expected {expected}, got {name:?}"),
            )
        } else if let Some(rest) = raw.strip_prefix("invalid type: ") {
            (ConfigErrorKind::Invalid, reword_invalid(rest))
        } else if let Some(rest) = raw.strip_prefix("invalid value: ") {
            (ConfigErrorKind::Invalid, reword_invalid(rest))
        } else if raw == "wanted string or table" {
            let got = if spanned_text.is_empty() {
                "another type"
            } else {
                spanned_text
            };
            (
                ConfigErrorKind::Invalid,
                format!("expected a string, got {got}"),
            )
        } else {
            // Our own messages (from the field checks below) are already in final form.
            (ConfigErrorKind::Invalid, one_line(raw))
        };
        ConfigError {
            source_name: source_name.to_string(),
            line,
            key: Some(render_key(&path)),
            kind,
            message,
        }
    }
}

/// Joins a multi-line message into one line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Splits serde's "`name`, expected `a`, `b` or `c`" into the name and the expected names.
fn split_ticked(rest: &str) -> (&str, Vec<String>) {
    match rest.split_once('`') {
        Some((name, tail)) => {
            let expected = tail
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            (name, expected)
        }
        None => (rest, Vec::new()),
    }
}

/// Rewords serde's "{unexpected}, expected {expected}" as "expected {what}, got {value}".
fn reword_invalid(rest: &str) -> String {
    let (unexpected, expected) = rest
        .rsplit_once(", expected ")
        .unwrap_or((rest, "another type"));
    let expected = match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u128" | "usize" | "u64" => {
            "an integer".to_string()
        }
        "u8" => "an integer between 0 and 255".to_string(),
        "u16" => "an integer between 0 and 65535".to_string(),
        "u32" => "an integer between 0 and 4294967295".to_string(),
        "a sequence" => "an array".to_string(),
        "a borrowed string" | "path string" => "a string".to_string(),
        e if e.starts_with("struct ") || e.starts_with("a map") => "a table".to_string(),
        e => e.to_string(),
    };
    let got = if let Some(s) = unexpected.strip_prefix("string ") {
        s.to_string()
    } else if unexpected == "sequence" {
        "an array".to_string()
    } else if unexpected == "map" {
        "a table".to_string()
    } else if let Some((_, v)) = unexpected.split_once('`') {
        v.trim_end_matches('`').to_string()
    } else {
        unexpected.to_string()
    };
    format!("expected {expected}, got {got}")
}

// ------------------------------------------------------------------------------------------------
// Typed values
// ------------------------------------------------------------------------------------------------

/// An identifier that is safe inside an MQTT topic level and a URL path: 1 to 64 of lowercase
/// ASCII letters, digits, `-` and `_`. Used for chain, store, hub, lane, device and tier ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Id(String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Id(s))
        } else {
            Err(format!(
                "expected 1 to 64 lowercase letters, digits, \"-\" or \"_\" (ids go into MQTT topics), got {s:?}"
            ))
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A secret (password, PIN) whose `Debug` never shows the value, so logging a config or a
/// control request is safe. `Serialize` writes the value: it exists for the owner-only control
/// socket, which carries staff passwords to the daemon.
#[derive(Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// An MQTT broker address, `mqtt://host[:port]` (plain TCP, default port 1883) or
/// `mqtts://host[:port]` (TLS, default port 8883). IPv6 hosts in brackets. No credentials, path
/// or query: those have their own keys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct MqttUrl {
    tls: bool,
    host: String,
    port: u16,
}

impl MqttUrl {
    pub fn tls(&self) -> bool {
        self.tls
    }
    /// Host name or IP address, without brackets for IPv6.
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// True for `localhost` and loopback IP addresses.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
    }
}

impl fmt::Display for MqttUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl TryFrom<String> for MqttUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(format!("expected an mqtt:// or mqtts:// URL, got {s:?}"));
        };
        if rest.contains('@') {
            // Never echo the value: it probably holds a password.
            return Err(
                "credentials do not belong in the URL; use [mqtt].username and [mqtt].password"
                    .into(),
            );
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let bad = || {
            format!("expected an mqtt:// or mqtts:// URL like \"mqtt://10.0.0.5:1883\", got {s:?}")
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad());
            }
            match after {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let host_ok = !host.is_empty()
            && (host.contains(':')
                || host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'));
        if !host_ok {
            return Err(bad());
        }
        let port = match port {
            None => {
                if tls {
                    8883
                } else {
                    1883
                }
            }
            Some(p) => parse_port(p).map_err(|e| e.unwrap_or_else(bad))?,
        };
        Ok(MqttUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

const PORT_ZERO: &str = "port 0 is not allowed; expected a port between 1 and 65535";

/// Parses a port: `Err(Some(msg))` for port 0, `Err(None)` when not a number in range.
fn parse_port(p: &str) -> Result<u16, Option<String>> {
    match p.parse::<u16>() {
        Ok(0) => Err(Some(PORT_ZERO.to_string())),
        Ok(port) if p.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(None),
    }
}

// ------------------------------------------------------------------------------------------------
// Field checks used while deserializing (so errors carry the exact line from the TOML span)
// ------------------------------------------------------------------------------------------------

mod check {
    use super::*;

    /// An integer in `lo..=hi`; the message names the unit.
    fn int_in<'de, D: Deserializer<'de>>(
        d: D,
        lo: i64,
        hi: i64,
        unit: &str,
    ) -> Result<i64, D::Error> {
        let v = i64::deserialize(d)?;
        if v < lo || v > hi {
            return Err(de::Error::custom(format!(
                "expected {lo}..={hi} {unit}, got {v}"
            )));
        }
        Ok(v)
    }

    macro_rules! ranged {
        ($name:ident, $ty:ty, $lo:expr, $hi:expr, $unit:expr) => {
            pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let v = int_in(d, $lo, $hi, $unit)?;
                <$ty>::try_from(v).map_err(de::Error::custom)
            }
        };
    }

    ranged!(basis_points, u32, 0, 10_000, "basis points");
    ranged!(flush_ms, u32, 1, 60_000, "milliseconds");
    ranged!(
        snapshot_minutes,
        u32,
        0,
        10_080,
        "minutes (0 = no automatic snapshots)"
    );
    ranged!(snapshots_keep, u32, 1, 100, "snapshots");
    ranged!(keepalive_s, u16, 5, 3_600, "seconds");
    ranged!(inflight, u16, 1, 10_000, "publishes in flight");
    ranged!(outbox_budget_mb, u32, 1, 1_000_000, "MB");
    ranged!(telemetry_interval_s, u32, 0, 86_400, "seconds (0 = no telemetry)");
    ranged!(reconnect_ms, u32, 10, 600_000, "milliseconds");
    ranged!(session_ttl_minutes, u32, 1, 10_080, "minutes");
    ranged!(points_per_yuan, u32, 0, 1_000, "points per yuan");
    ranged!(multiplier_bp, u32, 0, 100_000, "basis points (10000 = ×1)");
    ranged!(max_lines, u32, 1, 2_000, "lines");
    ranged!(grace_days, u32, 0, 365, "days");
    ranged!(
        expiry_months,
        u32,
        0,
        120,
        "months (0 = points never expire)"
    );
    ranged!(baud, u32, 50, 4_000_000, "baud");
    ranged!(data_bits, u8, 5, 8, "data bits");
    ranged!(stop_bits, u8, 1, 2, "stop bits");
    ranged!(digits, u8, 1, 11, "digits");
    ranged!(decimals, u8, 0, 3, "decimals");

    /// A list of small integers, each in `lo..=hi`, refused with `what(value)` otherwise.
    fn list_in<'de, D: Deserializer<'de>>(
        d: D,
        lo: i64,
        hi: i64,
        what: fn(i64) -> String,
    ) -> Result<Vec<u8>, D::Error> {
        Vec::<i64>::deserialize(d)?
            .into_iter()
            .map(|v| match u8::try_from(v) {
                Ok(b) if (lo..=hi).contains(&v) => Ok(b),
                _ => Err(de::Error::custom(what(v))),
            })
            .collect()
    }

    /// In-store EAN-13 prefixes, 20..=29.
    pub fn prefixes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        list_in(d, 20, 29, |v| {
            format!("prefix {v} is not an in-store prefix; expected 20..=29")
        })
    }

    /// BCM GPIO pin numbers of the 40-pin header, 0..=27.
    pub fn pins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        list_in(d, 0, 27, |v| {
            format!("expected BCM GPIO pins 0..=27, got {v}")
        })
    }

    /// Money in fen: an integer, never negative, with a hint when someone writes yuan.
    pub fn fen<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct FenVisitor;
        impl Visitor<'_> for FenVisitor {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer amount in fen (¥1.50 = 150)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                if v < 0 {
                    Err(E::custom(format!("must not be negative, got {v}")))
                } else {
                    Ok(v)
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }
        }
        d.deserialize_i64(FenVisitor)
    }

    /// A string that is not blank.
    pub fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(s)
    }

    pub fn opt_non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        non_empty(d).map(Some)
    }

    pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        non_empty(d).map(PathBuf::from)
    }

    pub fn opt_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        path(d).map(Some)
    }

    /// An IANA time zone name. Only its form is checked: the box's tz database is the authority.
    pub fn timezone<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let s = String::deserialize(d)?;
        if s.parse::<chrono_tz::Tz>().is_err() {
            return Err(de::Error::custom(format!(
                "expected an IANA time zone name like \"Asia/Shanghai\", got {s:?}"
            )));
        }
        Ok(s)
    }

    /// A socket address to listen on; port 0 is refused (it would pick a random port).
    pub fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        let s = String::deserialize(d)?;
        let addr: SocketAddr = s.parse().map_err(|_| {
            de::Error::custom(format!(
                "expected an IP address and port like \"0.0.0.0:8080\" or \"127.0.0.1:8080\", got {s:?}"
            ))
        })?;
        if addr.port() == 0 {
            return Err(de::Error::custom(PORT_ZERO));
        }
        Ok(addr)
    }

    /// `host:port` of a network device; the host may be a name or an address.
    pub fn opt_host_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let s = String::deserialize(d)?;
        let bad = || format!("expected \"host:port\" like \"192.168.1.50:9100\", got {s:?}");
        let (host, port) = s.rsplit_once(':').ok_or_else(|| de::Error::custom(bad()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(de::Error::custom(bad()));
        }
        parse_port(port).map_err(|e| de::Error::custom(e.unwrap_or_else(bad)))?;
        Ok(Some(s))
    }

    /// A `tracing` filter: a level, or comma-separated `target=level` directives.
    pub fn log_level<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
        let s = String::deserialize(d)?;
        let ok = !s.trim().is_empty()
            && s.split(',').all(|directive| {
                let level = match directive.trim().rsplit_once('=') {
                    Some((target, level)) => {
                        if target.is_empty()
                            || !target
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_:-".contains(&b))
                        {
                            return false;
                        }
                        level
                    }
                    None => directive.trim(),
                };
                LEVELS.contains(&level.to_ascii_lowercase().as_str())
            });
        if !ok {
            return Err(de::Error::custom(format!(
                "expected one of off, error, warn, info, debug, trace, or directives like \"info,storehub=debug\", got {s:?}"
            )));
        }
        Ok(s)
    }
}

// ------------------------------------------------------------------------------------------------
// The configuration
// ------------------------------------------------------------------------------------------------

/// The whole configuration of one hub. Build it with [`Config::load`], [`Config::from_str`] or
/// [`Config::demo`]; all three validate, so a `Config` in hand is always usable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub store: StoreConfig,
    pub data: DataConfig,
    #[serde(default)]
    pub barcode: BarcodeConfig,
    /// Checkout lanes (收银台), `[[lanes]]`.
    #[serde(default)]
    pub lanes: Vec<LaneConfig>,
    /// Attached devices, `[[devices]]`.
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub checkout: CheckoutConfig,
    #[serde(default)]
    pub loyalty: LoyaltyConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    #[serde(default)]
    pub campaigns: CampaignsConfig,
    #[serde(default)]
    pub messages: MessagesConfig,
    /// `[tickets]`: member service tickets (`members::tickets`).
    #[serde(default)]
    pub tickets: TicketsConfig,
    /// `[stock]`: forecasts, replenishment, stock analysis, stocktakes and shelf alerts
    /// (`inventory`, docs/stock-intelligence.md).
    #[serde(default)]
    pub stock: StockConfig,
    /// `[attendance]`: grace times of staff attendance (`staff::attendance`, docs/staff.md).
    #[serde(default)]
    pub attendance: AttendanceConfig,
    /// `[recommend]`: association-rule mining and suggestions (`members::recommend`,
    /// docs/members-analytics.md "Recommendations").
    #[serde(default)]
    pub recommend: RecommendConfig,
    /// `[firmware]`: where shelf nodes' RPI-RP2 boot drives appear during
    /// `storehub firmware update` (`devices::shelf::firmware`, docs/devices.md).
    #[serde(default)]
    pub firmware: FirmwareConfig,
    /// `[privacy]`: the key that seals members' personal data (`privacy`, docs/privacy.md).
    #[serde(default)]
    pub privacy: PrivacyConfig,
    /// `[disk]`: the disk guard's thresholds (`disk_guard`, docs/operations.md "Disk full").
    #[serde(default)]
    pub disk: DiskConfig,
}

/// `[privacy]`: where the PII key is (docs/privacy.md).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// The 32-byte key file sealing members' personal data (default `pii.key` next to the
    /// config file; made by `storehub privacy init-key`).
    pub key_file: Option<PathBuf>,
}

/// `[disk]`: below `low_free_mb` free on the data dir's filesystem, optional writes stop
/// (telemetry events, snapshots) and the alarm goes up; below `critical_free_mb` the alarm says
/// sales will soon fail. Sales are never refused by the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    /// Default 256 (MiB), 1–1048576.
    pub low_free_mb: u64,
    /// Default 64 (MiB), at least 1 and below `low_free_mb`.
    pub critical_free_mb: u64,
    /// Seconds between samples of the free space (default 10, 1–3600).
    pub check_s: u64,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig { low_free_mb: 256, critical_free_mb: 64, check_s: 10 }
    }
}

impl DiskConfig {
    pub fn thresholds(&self) -> crate::domain::disk::DiskThresholds {
        crate::domain::disk::DiskThresholds { low_bytes: self.low_free_mb * 1024 * 1024, critical_bytes: self.critical_free_mb * 1024 * 1024 }
    }
}

/// `[store]`: who this hub is. The three ids form its MQTT topics:
/// `{topic_prefix}/{chain_id}/{store_id}/{hub_id}/…`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub chain_id: Id,
    pub store_id: Id,
    pub hub_id: Id,
    /// Store name as printed on receipts and shown on pages, e.g. "华美超市 徐汇店".
    #[serde(deserialize_with = "check::non_empty")]
    pub name: String,
    /// IANA time zone of the shop (business days, reports, member day). Default "Asia/Shanghai".
    #[serde(default = "default_timezone", deserialize_with = "check::timezone")]
    pub timezone: String,
    /// Default language of pages and receipts. Default zh-CN.
    #[serde(default)]
    pub language: Language,
}

fn default_timezone() -> String {
    "Asia/Shanghai".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

/// `[data]`: where the database lives and how hard commits hold on to the disk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Directory of the database, journal and snapshots. Overridden by `--data-dir` and
    /// `STOREHUB_DATA_DIR` (see [`Config::apply_data_dir_override`]).
    #[serde(deserialize_with = "check::path")]
    pub dir: PathBuf,
    #[serde(default)]
    pub durability: Durability,
    /// In `relaxed` mode, how often commits are synced to disk. 1..=60000, default 200.
    #[serde(default = "default_flush_ms", deserialize_with = "check::flush_ms")]
    pub relaxed_flush_ms: u32,
    /// Minutes between automatic snapshots (what `storehub recover` rebuilds from). 0..=10080,
    /// 0 = none; default 30.
    #[serde(default = "default_snapshot_minutes", deserialize_with = "check::snapshot_minutes")]
    pub snapshot_interval_minutes: u32,
    /// Snapshots kept; the journal is kept back to the oldest. 1..=100, default 4.
    #[serde(default = "default_snapshots_keep", deserialize_with = "check::snapshots_keep")]
    pub snapshots_keep: u32,
}

fn default_snapshot_minutes() -> u32 {
    30
}

fn default_snapshots_keep() -> u32 {
    4
}

fn default_flush_ms() -> u32 {
    200
}

/// When a commit counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Nothing is acknowledged before it is on disk (group commit shares one sync).
    #[default]
    Durable,
    /// Acknowledged at once, synced every `relaxed_flush_ms`: a power cut may lose that window.
    Relaxed,
}

/// `[barcode]`: in-store (prefix 20–29) EAN-13 layouts of the shop's label scales.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarcodeConfig {
    /// `[[barcode.in_store]]`; empty means the built-in default layouts.
    #[serde(default)]
    pub in_store: Vec<InStoreLayoutConfig>,
}

/// One `[[barcode.in_store]]`; the same fields as [`InStoreLayout`].
/// Digits: `prefix(2) item(item_digits) [value check digit] value(value_digits) check(1)` = 13.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InStoreLayoutConfig {
    #[serde(deserialize_with = "check::prefixes")]
    pub prefixes: Vec<u8>,
    #[serde(deserialize_with = "check::digits")]
    pub item_digits: u8,
    #[serde(deserialize_with = "check::digits")]
    pub value_digits: u8,
    pub value: EmbeddedValue,
    #[serde(deserialize_with = "check::decimals")]
    pub decimals: u8,
    #[serde(default)]
    pub value_check_digit: bool,
}

impl From<&InStoreLayoutConfig> for InStoreLayout {
    fn from(c: &InStoreLayoutConfig) -> Self {
        InStoreLayout {
            prefixes: c.prefixes.clone(),
            item_digits: c.item_digits,
            value_digits: c.value_digits,
            value: c.value,
            decimals: c.decimals,
            value_check_digit: c.value_check_digit,
        }
    }
}

/// `[[lanes]]`: a checkout lane (收银台).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneConfig {
    pub id: Id,
    /// Shown on the cashier screen and receipts, e.g. "1号收银台".
    #[serde(deserialize_with = "check::non_empty")]
    pub name: String,
}

/// `[[devices]]`: one attached device. Validated now; drivers read it later.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    pub id: Id,
    pub kind: DeviceKind,
    pub transport: Transport,
    /// The protocol the driver speaks; when absent, [`DeviceConfig::protocol`] picks the usual
    /// one for the kind and transport where there is one.
    #[serde(default)]
    pub protocol: Option<DeviceProtocol>,
    /// `serial`, `hid` and `lp`: the device path (prefer `/dev/serial/by-id/…`, which survives
    /// replugging) or, for HID, `usb:VID:PID[:SERIAL]`.
    #[serde(default, deserialize_with = "check::opt_non_empty")]
    pub path: Option<String>,
    /// `tcp`: `host:port`, e.g. "192.168.1.50:9100".
    #[serde(default, deserialize_with = "check::opt_host_port")]
    pub address: Option<String>,
    /// `gpio`: BCM pin numbers (0..=27), e.g. HX711 `[data, clock]` or one beam input.
    #[serde(default, deserialize_with = "check::pins")]
    pub pins: Vec<u8>,
    /// The lane the device serves (scanner, scale, printer, display); must be a `[[lanes]]` id.
    #[serde(default)]
    pub lane: Option<Id>,
    /// `serial` only: line settings. Absent → 9600 8N1 (7E1 for Toledo 8217), no flow control.
    #[serde(default)]
    pub serial: Option<SerialSettings>,
    /// `[devices.scanner]`, scanners only: how codes are framed.
    #[serde(default)]
    pub scanner: Option<ScannerSettings>,
    /// `[devices.scale]`, scales only: polling, timeouts, the generic format.
    #[serde(default)]
    pub scale: Option<ScaleSettings>,
    /// `[devices.printer]`, printers only: paper and drawer.
    #[serde(default)]
    pub printer: Option<PrinterSettings>,
    /// `[devices.shelf]`, shelf sensors only: GPIO details and the channel → product map.
    #[serde(default)]
    pub shelf: Option<ShelfSettings>,
}

impl DeviceConfig {
    /// The configured protocol, or the usual one for this kind and transport
    /// (`None` when there is no usual one; validation makes that an error).
    pub fn protocol(&self) -> Option<DeviceProtocol> {
        self.protocol
            .or_else(|| default_protocol(self.kind, self.transport))
    }

    /// Serial settings, with defaults when the table is absent: 9600 8N1, except Toledo 8217
    /// scales, which speak 9600 7E1.
    pub fn serial_settings(&self) -> SerialSettings {
        self.serial.clone().unwrap_or_else(|| match self.protocol() {
            Some(DeviceProtocol::Toledo8217) => SerialSettings { data_bits: 7, parity: Parity::Even, ..SerialSettings::default() },
            _ => SerialSettings::default(),
        })
    }

    /// Scanner settings, with defaults when the table is absent.
    pub fn scanner_settings(&self) -> ScannerSettings {
        self.scanner.clone().unwrap_or_default()
    }

    /// Scale settings, with defaults when the table is absent.
    pub fn scale_settings(&self) -> ScaleSettings {
        self.scale.clone().unwrap_or_default()
    }

    /// Printer settings, with defaults when the table is absent.
    pub fn printer_settings(&self) -> PrinterSettings {
        self.printer.clone().unwrap_or_default()
    }

    /// Shelf settings, with defaults when the table is absent.
    pub fn shelf_settings(&self) -> ShelfSettings {
        self.shelf.clone().unwrap_or_default()
    }
}

/// `[devices.scanner]`: how a line scanner frames its codes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerSettings {
    /// What ends a code: `"cr"`, `"lf"`, `"crlf"`, `"tab"`, or `"any"` (CR, LF or CR LF; the
    /// default).
    #[serde(default)]
    pub terminator: Terminator,
    /// Removed from the start of each code when present (a scanner programmed with a prefix).
    #[serde(default)]
    pub strip_prefix: String,
    /// Removed from the end of each code when present.
    #[serde(default)]
    pub strip_suffix: String,
    /// The scanner sends an AIM symbology identifier (`]E0` …) before each code.
    #[serde(default)]
    pub aim_ids: bool,
}

impl Default for ScannerSettings {
    fn default() -> Self {
        ScannerSettings { terminator: Terminator::Any, strip_prefix: String::new(), strip_suffix: String::new(), aim_ids: false }
    }
}

impl ScannerSettings {
    /// Checks what serde cannot; returns the offending key and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        Ok(())
    }
}

/// What ends a scanned code on a line scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Terminator {
    #[default]
    Any,
    Cr,
    Lf,
    Crlf,
    Tab,
}

/// `[devices.scale]`: how the hub talks to a scale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSettings {
    /// Polled protocols (Toledo 8217, MT-SICS): ask for a weight this often, in ms.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// A polled scale that has not answered within this many ms has missed the poll.
    #[serde(default = "default_answer_timeout_ms")]
    pub answer_timeout_ms: u64,
    /// With no reading or answer for this many ms, the watchdog marks the scale offline.
    #[serde(default = "default_offline_after_ms")]
    pub offline_after_ms: u64,
    /// `generic` only: a regular expression over one line of the stream with a named group
    /// `weight` (a decimal number) and optionally `stable` (matches when the reading is stable)
    /// and `unit` (`g`, `kg`).
    #[serde(default)]
    pub pattern: Option<String>,
    /// The unit of weights the scale sends without one (`generic` without a `unit` group, a
    /// Toledo 8217 set to pounds): `"g"`, `"kg"` (default), `"lb"` or `"oz"`.
    #[serde(default)]
    pub unit: Option<String>,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        ScaleSettings {
            poll_ms: default_poll_ms(),
            answer_timeout_ms: default_answer_timeout_ms(),
            offline_after_ms: default_offline_after_ms(),
            pattern: None,
            unit: None,
        }
    }
}

fn default_poll_ms() -> u64 {
    200
}
fn default_answer_timeout_ms() -> u64 {
    500
}
fn default_offline_after_ms() -> u64 {
    3000
}

impl ScaleSettings {
    /// Checks what serde cannot; returns the offending key and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let range = |key: &'static str, value: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&value) {
                Ok(())
            } else {
                Err((key, format!("expected {lo}..={hi} ms, got {value}")))
            }
        };
        range("poll_ms", self.poll_ms, 20, 60_000)?;
        range("answer_timeout_ms", self.answer_timeout_ms, 20, 60_000)?;
        range("offline_after_ms", self.offline_after_ms, 100, 3_600_000)?;
        if self.offline_after_ms <= self.answer_timeout_ms {
            return Err((
                "offline_after_ms",
                format!(
                    "must be longer than answer_timeout_ms ({}), or one slow answer marks the scale offline; got {}",
                    self.answer_timeout_ms, self.offline_after_ms
                ),
            ));
        }
        if let Some(pattern) = &self.pattern {
            crate::devices::scale::generic::compile(pattern).map_err(|e| ("pattern", e))?;
        }
        if let Some(unit) = &self.unit {
            crate::devices::scale::generic::check_unit(unit).map_err(|e| ("unit", e))?;
        }
        Ok(())
    }
}

/// `[devices.printer]`: a receipt printer's paper and drawer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterSettings {
    /// Paper width in mm: 58 (32 columns) or 80 (48 columns, the default).
    #[serde(default = "default_paper_mm")]
    pub paper_mm: u16,
    /// Overrides the column count of the paper width (some 80 mm models print 42).
    #[serde(default)]
    pub columns: Option<u16>,
    /// A cash drawer hangs off this printer: kick it on cash sales.
    #[serde(default)]
    pub drawer: bool,
    /// Ask the printer for its status (DLE EOT) before each job. Absent: yes on serial and TCP,
    /// no on `lp` (a `/dev/usb/lp*` node or a plain file often never answers).
    #[serde(default)]
    pub status_query: Option<bool>,
}

impl Default for PrinterSettings {
    fn default() -> Self {
        PrinterSettings { paper_mm: default_paper_mm(), columns: None, drawer: false, status_query: None }
    }
}

fn default_paper_mm() -> u16 {
    80
}

impl PrinterSettings {
    /// Checks what serde cannot; returns the offending key and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if !matches!(self.paper_mm, 58 | 80) {
            return Err(("paper_mm", format!("expected 58 or 80 (mm), got {}", self.paper_mm)));
        }
        if let Some(c) = self.columns {
            if !(16..=64).contains(&c) {
                return Err(("columns", format!("expected 16..=64 columns, got {c}")));
            }
        }
        Ok(())
    }
}

/// `[devices.shelf]`: a shelf sensor's channels and, on GPIO, its wiring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShelfSettings {
    /// `[[devices.shelf.channels]]`: which product each load-cell channel weighs.
    #[serde(default)]
    pub channels: Vec<ShelfChannel>,
    /// `storehub-node`: the node's id (16 hex digits, its USB serial number, shown by `storehub
    /// doctor`) instead of a `path`: the driver finds the port whose hello carries this id, again
    /// on every reconnect.
    #[serde(default)]
    pub node_id: Option<String>,
    /// `storehub-node`: no frame for this many ms marks the node `no_heartbeat` (nodes send a
    /// heartbeat every 2 s).
    #[serde(default = "default_heartbeat_timeout_ms")]
    pub heartbeat_timeout_ms: u64,
    /// `hx711`: emit one reading this often, in ms.
    #[serde(default = "default_sample_ms")]
    pub sample_ms: u64,
    /// `hx711`: average this many conversions per reading (1..=16).
    #[serde(default = "default_samples")]
    pub samples: u8,
    /// `hx711`: channel and gain, 128 (channel A), 64 (channel A) or 32 (channel B).
    #[serde(default = "default_gain")]
    pub gain: u8,
    /// `hx711`: the raw reading with the shelf empty.
    #[serde(default)]
    pub zero_counts: i64,
    /// `hx711`: raw counts per 1000 g above `zero_counts` (negative when the cell is wired the
    /// other way round). Required for an HX711.
    #[serde(default)]
    pub counts_per_kg: Option<i64>,
    /// `hx711`: a reading is stable when the last `stable_readings` readings lie within this
    /// many grams of each other.
    #[serde(default = "default_stable_band_g")]
    pub stable_band_g: i64,
    #[serde(default = "default_stable_readings")]
    pub stable_readings: u8,
    /// `beam`: a level must hold this many ms before a change counts.
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
    /// `beam`: the input reads low when the beam is broken / the door is open.
    #[serde(default)]
    pub active_low: bool,
}

impl Default for ShelfSettings {
    fn default() -> Self {
        ShelfSettings {
            channels: Vec::new(),
            node_id: None,
            heartbeat_timeout_ms: default_heartbeat_timeout_ms(),
            sample_ms: default_sample_ms(),
            samples: default_samples(),
            gain: default_gain(),
            zero_counts: 0,
            counts_per_kg: None,
            stable_band_g: default_stable_band_g(),
            stable_readings: default_stable_readings(),
            debounce_ms: default_debounce_ms(),
            active_low: false,
        }
    }
}

fn default_heartbeat_timeout_ms() -> u64 {
    6000
}
fn default_sample_ms() -> u64 {
    200
}
fn default_samples() -> u8 {
    4
}
fn default_gain() -> u8 {
    128
}
fn default_stable_band_g() -> i64 {
    5
}
fn default_stable_readings() -> u8 {
    3
}
fn default_debounce_ms() -> u64 {
    20
}

/// One weighing channel of a shelf sensor, mapped to the product on it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShelfChannel {
    /// The node's channel number (0 for a lone HX711).
    pub channel: u8,
    /// The product on this part of the shelf.
    pub sku: String,
    /// Weight of one unit, in grams.
    pub unit_grams: i64,
    /// At or below this many units the shelf is "low".
    #[serde(default)]
    pub low_units: i64,
}

impl ShelfSettings {
    /// Checks what serde cannot; returns the offending key and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let mut seen = BTreeSet::new();
        for (i, c) in self.channels.iter().enumerate() {
            if !seen.insert(c.channel) {
                return Err(("channels", format!("channels[{i}]: channel {} is listed twice; each channel weighs one product", c.channel)));
            }
            if c.sku.trim().is_empty() {
                return Err(("channels", format!("channels[{i}].sku: empty; expected the sku of the product on channel {}", c.channel)));
            }
            if c.unit_grams <= 0 {
                return Err(("channels", format!("channels[{i}].unit_grams: expected the weight of one unit in grams, more than 0, got {}", c.unit_grams)));
            }
            if c.low_units < 0 {
                return Err(("channels", format!("channels[{i}].low_units: expected 0 or more units, got {}", c.low_units)));
            }
        }
        if let Some(id) = self.node_id.as_deref().filter(|id| crate::devices::discover::parse_node_id(id).is_none()) {
            return Err(("node_id", format!("expected the node's id in 16 hex digits like \"E6604CB02B3A1F25\" (storehub doctor lists them), got {id:?}")));
        }
        if self.heartbeat_timeout_ms == 0 {
            return Err(("heartbeat_timeout_ms", "expected more than 0 ms".to_string()));
        }
        if self.sample_ms == 0 {
            return Err(("sample_ms", "expected more than 0 ms".to_string()));
        }
        if !(1..=16).contains(&self.samples) {
            return Err(("samples", format!("expected 1..=16 conversions per reading, got {}", self.samples)));
        }
        if ![128, 64, 32].contains(&self.gain) {
            return Err(("gain", format!("expected 128 or 64 (channel A) or 32 (channel B), got {}", self.gain)));
        }
        if self.counts_per_kg == Some(0) {
            return Err(("counts_per_kg", "0 counts per kg cannot weigh anything; calibrate with a known weight".to_string()));
        }
        if let Some(c) = self.counts_per_kg.filter(|c| i32::try_from(*c).is_err()) {
            return Err(("counts_per_kg", format!("{c} does not fit 32 bits; an HX711 reads at most {} counts", storehub_node_core::hx711::MAX)));
        }
        let (lo, hi) = (storehub_node_core::hx711::MIN, storehub_node_core::hx711::MAX);
        if !(i64::from(lo)..=i64::from(hi)).contains(&self.zero_counts) {
            return Err(("zero_counts", format!("expected a raw HX711 reading, {lo}..={hi}, got {}", self.zero_counts)));
        }
        if self.stable_band_g < 0 {
            return Err(("stable_band_g", format!("expected 0 or more grams, got {}", self.stable_band_g)));
        }
        if !(1..=16).contains(&self.stable_readings) {
            return Err(("stable_readings", format!("expected 1..=16 readings, got {}", self.stable_readings)));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Scanner,
    Scale,
    Printer,
    Shelf,
    Display,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Scanner => "scanner",
            DeviceKind::Scale => "scale",
            DeviceKind::Printer => "printer",
            DeviceKind::Shelf => "shelf",
            DeviceKind::Display => "display",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// RS-232 or USB-serial (USB-CDC) line: needs `path`, optional `[devices.serial]`.
    Serial,
    /// USB HID (hidraw): needs `path`.
    Hid,
    /// Raw TCP (e.g. printers on port 9100): needs `address`.
    Tcp,
    /// Pins of the box's GPIO header: needs `pins`.
    Gpio,
    /// USB printer class character device `/dev/usb/lp*`: needs `path`.
    Lp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Serial => "serial",
            Transport::Hid => "hid",
            Transport::Tcp => "tcp",
            Transport::Gpio => "gpio",
            Transport::Lp => "lp",
        }
    }
}

/// The protocol a device speaks, named as `storehub doctor` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceProtocol {
    /// Scanner sending ASCII lines (serial / USB-CDC / TCP).
    Line,
    /// Scanner in USB HID keyboard-wedge mode (boot keyboard reports).
    HidKeyboard,
    /// Scanner in USB HID POS mode (usage page 0x8C).
    HidPos,
    /// Mettler Toledo 8217 scale protocol.
    #[serde(rename = "toledo-8217")]
    Toledo8217,
    /// Mettler Toledo MT-SICS.
    MtSics,
    /// CAS continuous stream.
    Cas,
    /// Generic continuous-stream scale, read with `[devices.scale].pattern`.
    Generic,
    /// USB HID scale (usage page 0x8D).
    HidScale,
    /// ESC/POS receipt printer.
    Escpos,
    /// CD5220 / ESC-POS customer pole display.
    Cd5220,
    /// storehub shelf-sensor node (COBS + postcard frames).
    StorehubNode,
    /// HX711 load-cell amplifier on GPIO.
    Hx711,
    /// Beam-break or door input on GPIO.
    Beam,
}

impl DeviceProtocol {
    const ALL: [DeviceProtocol; 13] = [
        DeviceProtocol::Line,
        DeviceProtocol::HidKeyboard,
        DeviceProtocol::HidPos,
        DeviceProtocol::Toledo8217,
        DeviceProtocol::MtSics,
        DeviceProtocol::Cas,
        DeviceProtocol::Generic,
        DeviceProtocol::HidScale,
        DeviceProtocol::Escpos,
        DeviceProtocol::Cd5220,
        DeviceProtocol::StorehubNode,
        DeviceProtocol::Hx711,
        DeviceProtocol::Beam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceProtocol::Line => "line",
            DeviceProtocol::HidKeyboard => "hid-keyboard",
            DeviceProtocol::HidPos => "hid-pos",
            DeviceProtocol::Toledo8217 => "toledo-8217",
            DeviceProtocol::MtSics => "mt-sics",
            DeviceProtocol::Cas => "cas",
            DeviceProtocol::Generic => "generic",
            DeviceProtocol::HidScale => "hid-scale",
            DeviceProtocol::Escpos => "escpos",
            DeviceProtocol::Cd5220 => "cd5220",
            DeviceProtocol::StorehubNode => "storehub-node",
            DeviceProtocol::Hx711 => "hx711",
            DeviceProtocol::Beam => "beam",
        }
    }

    /// The device kind this protocol belongs to.
    pub fn kind(self) -> DeviceKind {
        use DeviceProtocol::*;
        match self {
            Line | HidKeyboard | HidPos => DeviceKind::Scanner,
            Toledo8217 | MtSics | Cas | Generic | HidScale => DeviceKind::Scale,
            Escpos => DeviceKind::Printer,
            Cd5220 => DeviceKind::Display,
            StorehubNode | Hx711 | Beam => DeviceKind::Shelf,
        }
    }

    /// The transports this protocol can run over.
    pub fn transports(self) -> &'static [Transport] {
        use DeviceProtocol::*;
        use Transport::*;
        match self {
            Line | Toledo8217 | MtSics | Cas | Generic => &[Serial, Tcp],
            HidKeyboard | HidPos | HidScale => &[Hid],
            Escpos => &[Serial, Tcp, Lp],
            Cd5220 | StorehubNode => &[Serial],
            Hx711 | Beam => &[Gpio],
        }
    }
}

fn default_protocol(kind: DeviceKind, transport: Transport) -> Option<DeviceProtocol> {
    use DeviceProtocol as P;
    match (kind, transport) {
        (DeviceKind::Scanner, Transport::Serial | Transport::Tcp) => Some(P::Line),
        (DeviceKind::Scanner, Transport::Hid) => Some(P::HidKeyboard),
        (DeviceKind::Scale, Transport::Hid) => Some(P::HidScale),
        (DeviceKind::Printer, Transport::Serial | Transport::Tcp | Transport::Lp) => {
            Some(P::Escpos)
        }
        (DeviceKind::Display, Transport::Serial) => Some(P::Cd5220),
        (DeviceKind::Shelf, Transport::Serial) => Some(P::StorehubNode),
        _ => None,
    }
}

/// `[devices.serial]`: line settings of a serial device. Defaults 9600 8N1, no flow control.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialSettings {
    #[serde(default = "default_baud", deserialize_with = "check::baud")]
    pub baud: u32,
    #[serde(default = "default_data_bits", deserialize_with = "check::data_bits")]
    pub data_bits: u8,
    #[serde(default)]
    pub parity: Parity,
    #[serde(default = "default_stop_bits", deserialize_with = "check::stop_bits")]
    pub stop_bits: u8,
    #[serde(default)]
    pub flow_control: FlowControl,
}

impl Default for SerialSettings {
    fn default() -> Self {
        SerialSettings {
            baud: default_baud(),
            data_bits: default_data_bits(),
            parity: Parity::None,
            stop_bits: default_stop_bits(),
            flow_control: FlowControl::None,
        }
    }
}

fn default_baud() -> u32 {
    9600
}
fn default_data_bits() -> u8 {
    8
}
fn default_stop_bits() -> u8 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    #[default]
    None,
    Even,
    Odd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowControl {
    #[default]
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// `[mqtt]`: the link to HQ. Off unless `enabled = true`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    #[serde(default)]
    pub enabled: bool,
    /// Broker URL; required when enabled.
    #[serde(default)]
    pub url: Option<MqttUrl>,
    /// Default: `storehub-{chain_id}-{store_id}-{hub_id}` (see [`Config::mqtt_client_id`]).
    #[serde(default, deserialize_with = "check::opt_non_empty")]
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "check::opt_non_empty")]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// CA certificate (PEM) to verify the broker; `mqtts://` only. Absent → system roots.
    #[serde(default, deserialize_with = "check::opt_path")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs `key_file`.
    #[serde(default, deserialize_with = "check::opt_path")]
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS; needs `cert_file`.
    #[serde(default, deserialize_with = "check::opt_path")]
    pub key_file: Option<PathBuf>,
    /// First topic levels; default "storehub/v1".
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// MQTT keepalive in seconds, 5..=3600, default 30.
    #[serde(default = "default_keepalive", deserialize_with = "check::keepalive_s")]
    pub keepalive_s: u16,
    /// Allow plain `mqtt://` to a broker that is not on this box. Default false.
    #[serde(default)]
    pub allow_insecure: bool,
    /// Outbox events published and not yet acknowledged (PUBACK) at once, 1..=10000; default 100.
    #[serde(default = "default_inflight", deserialize_with = "check::inflight")]
    pub inflight: u16,
    /// Disk the outbox may use while HQ is unreachable, in MB; default 512. Over it, telemetry-
    /// class events are dropped oldest first; business events never are.
    #[serde(default = "default_outbox_budget_mb", deserialize_with = "check::outbox_budget_mb")]
    pub outbox_budget_mb: u32,
    /// Seconds between telemetry messages (QoS 0), 0..=86400 (0 = none); default 60.
    #[serde(default = "default_telemetry_interval_s", deserialize_with = "check::telemetry_interval_s")]
    pub telemetry_interval_s: u32,
    /// First reconnect delay after the broker is lost, in ms; it doubles (with jitter) up to
    /// `reconnect_max_ms`. Defaults 500 and 30000.
    #[serde(default = "default_reconnect_min_ms", deserialize_with = "check::reconnect_ms")]
    pub reconnect_min_ms: u32,
    #[serde(default = "default_reconnect_max_ms", deserialize_with = "check::reconnect_ms")]
    pub reconnect_max_ms: u32,
    /// Refuse HQ commands that do not carry a valid Ed25519 signature by one of `command_keys`.
    #[serde(default)]
    pub require_signed_commands: bool,
    /// HQ's Ed25519 public keys (base64 of the 32 raw bytes) that may sign commands; more than
    /// one while a key is being rotated.
    #[serde(default)]
    pub command_keys: Vec<String>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            enabled: false,
            url: None,
            client_id: None,
            username: None,
            password: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            topic_prefix: default_topic_prefix(),
            keepalive_s: default_keepalive(),
            allow_insecure: false,
            inflight: default_inflight(),
            outbox_budget_mb: default_outbox_budget_mb(),
            telemetry_interval_s: default_telemetry_interval_s(),
            reconnect_min_ms: default_reconnect_min_ms(),
            reconnect_max_ms: default_reconnect_max_ms(),
            require_signed_commands: false,
            command_keys: Vec::new(),
        }
    }
}

fn default_topic_prefix() -> String {
    "storehub/v1".to_string()
}
fn default_keepalive() -> u16 {
    30
}
fn default_inflight() -> u16 {
    100
}
fn default_outbox_budget_mb() -> u32 {
    512
}
fn default_telemetry_interval_s() -> u32 {
    60
}
fn default_reconnect_min_ms() -> u32 {
    500
}
fn default_reconnect_max_ms() -> u32 {
    30_000
}

/// `[web]`: the LAN dashboard and cashier screens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address and port to listen on; default "0.0.0.0:8080" (all interfaces of the LAN).
    #[serde(default = "default_listen", deserialize_with = "check::listen")]
    pub listen: SocketAddr,
    /// Idle minutes before a login expires; 1..=10080, default 480 (one shift).
    #[serde(
        default = "default_session_ttl",
        deserialize_with = "check::session_ttl_minutes"
    )]
    pub session_ttl_minutes: u32,
    /// Serve HTTPS instead of plain HTTP. Without `cert_file`/`key_file` the hub makes a
    /// self-signed certificate at first start (kept in DATA_DIR/web-tls/). Default false: plain
    /// HTTP on the shop's LAN.
    #[serde(default)]
    pub https: bool,
    /// PEM certificate chain for HTTPS (with `key_file`).
    #[serde(default, deserialize_with = "check::opt_path")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key for HTTPS (with `cert_file`).
    #[serde(default, deserialize_with = "check::opt_path")]
    pub key_file: Option<PathBuf>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            listen: default_listen(),
            session_ttl_minutes: default_session_ttl(),
            https: false,
            cert_file: None,
            key_file: None,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8080))
}
fn default_session_ttl() -> u32 {
    480
}

/// `[loyalty]`: the membership programme (会员). Money in fen, rates in basis points.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoyaltyConfig {
    /// Points earned per whole yuan actually paid; 0..=1000, default 1.
    #[serde(
        default = "default_points_per_yuan",
        deserialize_with = "check::points_per_yuan"
    )]
    pub points_per_yuan: u32,
    /// What one point is worth when redeemed, in fen; default 1 (100 points = ¥1).
    #[serde(default = "default_point_value", deserialize_with = "check::fen")]
    pub point_value_fen: i64,
    /// At most this share of a ticket may be paid with points, basis points; default 5000 (50%).
    #[serde(
        default = "default_redeem_cap",
        deserialize_with = "check::basis_points"
    )]
    pub redeem_cap_bp: u32,
    /// Points expire this many months after they were earned; 0 = never. Default 24.
    #[serde(
        default = "default_expiry_months",
        deserialize_with = "check::expiry_months"
    )]
    pub points_expiry_months: u32,
    /// How the expiry date of earned points is set; default months_after.
    #[serde(default)]
    pub points_expiry: PointsExpiryConfig,
    /// Category ids whose lines earn no points (e.g. tobacco, infant formula).
    #[serde(default)]
    pub excluded_categories: Vec<String>,
    /// Weekly member day with a points multiplier; none by default.
    #[serde(default)]
    pub member_day: Option<MemberDayConfig>,
    /// Days a member below their tier's level keeps it before the downgrade job lowers it. 0..=365, default 30.
    #[serde(default = "default_grace_days", deserialize_with = "check::grace_days")]
    pub tier_grace_days: u32,
    /// `[[loyalty.topup_bonus]]`.
    #[serde(default)]
    pub topup_bonus: Vec<TopUpBonusConfig>,
    /// `[[loyalty.points_campaigns]]`: extra points on a product or category for a while.
    #[serde(default)]
    pub points_campaigns: Vec<PointsCampaignConfig>,
    #[serde(default)]
    pub referral: ReferralConfig,
    /// `[[loyalty.tiers]]`, lowest first; the first starts at 0 spend. Empty: no tiers.
    #[serde(default)]
    pub tiers: Vec<TierConfig>,
}

fn default_grace_days() -> u32 {
    30
}

impl Default for LoyaltyConfig {
    fn default() -> Self {
        LoyaltyConfig {
            points_per_yuan: default_points_per_yuan(),
            point_value_fen: default_point_value(),
            redeem_cap_bp: default_redeem_cap(),
            points_expiry_months: default_expiry_months(),
            points_expiry: PointsExpiryConfig::default(),
            excluded_categories: Vec::new(),
            member_day: None,
            tier_grace_days: default_grace_days(),
            topup_bonus: Vec::new(),
            points_campaigns: Vec::new(),
            referral: ReferralConfig::default(),
            tiers: Vec::new(),
        }
    }
}

fn default_points_per_yuan() -> u32 {
    1
}
fn default_point_value() -> i64 {
    1
}
fn default_redeem_cap() -> u32 {
    5000
}
fn default_expiry_months() -> u32 {
    24
}

/// `[[loyalty.tiers]]`: one rung of the tier ladder (e.g. 普通会员 / 银卡 / 金卡 / 钻石).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Stable id stored on members and sent in events, e.g. "gold".
    pub id: Id,
    #[serde(deserialize_with = "check::non_empty")]
    pub name_zh: String,
    #[serde(deserialize_with = "check::non_empty")]
    pub name_en: String,
    /// Rolling 12-month spend in fen from which a member enters this tier.
    #[serde(deserialize_with = "check::fen")]
    pub min_spend_fen: i64,
    /// Tier discount in basis points: 500 = 5% off (95折). 0..=10000.
    #[serde(default, deserialize_with = "check::basis_points")]
    pub discount_bp: u32,
    /// Visits in 12 months that also reach this tier (spend *or* visits); none = spend only.
    #[serde(default)]
    pub min_visits: Option<u32>,
    /// Points multiplier in basis points: 15000 = ×1.5. 0..=100000, default 10000 (×1).
    #[serde(default = "default_multiplier", deserialize_with = "check::multiplier_bp")]
    pub points_multiplier_bp: u32,
    /// Points given once a year on the member's birthday; default 0.
    #[serde(default)]
    pub birthday_points: u32,
}

fn default_multiplier() -> u32 {
    10_000
}

/// `[checkout]`: how the tills sell.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutConfig {
    /// How the cash part of a ticket is rounded; default none.
    #[serde(default)]
    pub cash_rounding: CashRoundingConfig,
    /// Most lines one cart may hold (bounded memory per lane). 1..=2000, default 300.
    #[serde(default = "default_max_lines", deserialize_with = "check::max_lines")]
    pub max_lines: u32,
}

impl Default for CheckoutConfig {
    fn default() -> Self {
        CheckoutConfig { cash_rounding: CashRoundingConfig::default(), max_lines: default_max_lines() }
    }
}

fn default_max_lines() -> u32 {
    300
}

/// `[checkout].cash_rounding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashRoundingConfig {
    /// Cash pays to the fen.
    #[default]
    None,
    /// Cash rounds half up to the jiao (10 fen).
    ToJiao,
    /// Cash rounds down to the jiao (抹零).
    DownToJiao,
    /// Cash rounds down to the yuan.
    DownToYuan,
}

/// `[loyalty].points_expiry`: when earned points expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsExpiryConfig {
    /// `points_expiry_months` after the day they were earned (0 months = never).
    #[default]
    MonthsAfter,
    /// At the end of the year after the one they were earned in.
    EndOfFollowingYear,
    /// Never.
    Never,
}

/// `[loyalty.member_day]`: a weekly day with a points multiplier (会员日).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDayConfig {
    /// "mon" … "sun".
    pub weekday: WeekdayConfig,
    /// 20000 = double points. 0..=100000.
    #[serde(deserialize_with = "check::multiplier_bp")]
    pub multiplier_bp: u32,
}

/// A day of the week as written in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeekdayConfig {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl WeekdayConfig {
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            WeekdayConfig::Mon => chrono::Weekday::Mon,
            WeekdayConfig::Tue => chrono::Weekday::Tue,
            WeekdayConfig::Wed => chrono::Weekday::Wed,
            WeekdayConfig::Thu => chrono::Weekday::Thu,
            WeekdayConfig::Fri => chrono::Weekday::Fri,
            WeekdayConfig::Sat => chrono::Weekday::Sat,
            WeekdayConfig::Sun => chrono::Weekday::Sun,
        }
    }
}

/// `[[loyalty.topup_bonus]]`: stored-value top-up bonus (充500送50); the best one that applies wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopUpBonusConfig {
    #[serde(deserialize_with = "check::fen")]
    pub min_topup_fen: i64,
    #[serde(deserialize_with = "check::fen")]
    pub bonus_fen: i64,
}

/// `[[loyalty.points_campaigns]]`: a points multiplier on one product or one category between two
/// shop-local times (start inclusive, end exclusive). A line takes its best campaign.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsCampaignConfig {
    pub id: Id,
    /// Exactly one of `sku` and `category`.
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    /// 30000 = triple points. 0..=100000.
    #[serde(deserialize_with = "check::multiplier_bp")]
    pub multiplier_bp: u32,
    /// Shop-local, e.g. 2026-12-01T00:00:00.
    pub starts_at: chrono::NaiveDateTime,
    pub ends_at: chrono::NaiveDateTime,
}

/// `[loyalty.referral]`: rewards for bringing in a new member; each is given once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralConfig {
    /// Points to the referrer when the referred member registers.
    #[serde(default)]
    pub referrer_signup_points: u32,
    /// Points to the new member when they register with a referral code.
    #[serde(default)]
    pub referee_signup_points: u32,
    /// Share of the referred member's first purchase given to the referrer as points, bp.
    #[serde(default, deserialize_with = "check::basis_points")]
    pub referrer_first_purchase_bp: u32,
}

/// `[log]`: what the daemon logs and how. `STOREHUB_LOG` overrides `level`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A level or `tracing` filter directives, e.g. "info" or "info,storehub::devices=debug".
    #[serde(default = "default_log_level", deserialize_with = "check::log_level")]
    pub level: String,
    #[serde(default)]
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_log_level(),
            format: LogFormat::Text,
        }
    }
}

/// `[messages]`: when member messages may go out and how many a member gets
/// (`members::messages`, docs/members-analytics.md "Messages").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    /// Start of the quiet hours, shop-local "HH:MM" (default "21:00").
    #[serde(deserialize_with = "hh_mm")]
    pub quiet_start: chrono::NaiveTime,
    /// End of the quiet hours (default "09:00"); before `quiet_start` = the window wraps midnight;
    /// equal to it = no quiet hours.
    #[serde(deserialize_with = "hh_mm")]
    pub quiet_end: chrono::NaiveTime,
    /// Messages per member in any 7 × 24 h (default 2; 0 = no cap).
    pub weekly_cap: u32,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        MessagesConfig {
            quiet_start: chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            quiet_end: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            weekly_cap: 2,
        }
    }
}

/// `[stock]`: stock intelligence (`inventory::{demand, policy, replenishment, purchase, stocktake,
/// shelf_triggers, alerts, analysis}`, docs/stock-intelligence.md). Per-SKU and per-supplier
/// replenishment terms are data (`storehub replenishment policy …`), these are the shop's
/// defaults and schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StockConfig {
    /// Shop-local time of the daily replenishment run (default "06:30"): demand rolled up to
    /// yesterday, forecasts, suggestions, `storehub.replenishment.suggested`.
    #[serde(deserialize_with = "hh_mm")]
    pub replenishment_at: chrono::NaiveTime,
    /// Days of daily history the forecasts use, newest last (default 730, 28–3650).
    pub history_days: u32,
    /// Default lead time, days from ordering to delivery (default 3, 0–365).
    pub lead_time_days: u32,
    /// Default review period, days between two orders of a SKU (default 1: the daily run, 1–365).
    pub review_period_days: u32,
    /// Default pack size, units (default 1, 1–100000).
    pub pack_size: u32,
    /// Default minimum order quantity, units (default 0 = none).
    pub moq: u32,
    /// Target service level of ABC class A, B, C, bp (defaults 9800, 9500, 9000; 5000–9999).
    pub service_level_a_bp: u32,
    pub service_level_b_bp: u32,
    pub service_level_c_bp: u32,
    /// ABC cut-offs, share of revenue, bp (defaults 8000 / 1500; C is the rest; a + b < 10000).
    pub abc_a_bp: u32,
    pub abc_b_bp: u32,
    /// Days of sales the ABC/XYZ analysis and turnover look at (default 90, 7–3650).
    pub analysis_days: u32,
    /// XYZ cut-offs on the coefficient of variation of daily demand, bp (defaults 5000 / 10000;
    /// x < y).
    pub xyz_x_max_cv_bp: u32,
    pub xyz_y_max_cv_bp: u32,
    /// A slow mover has had no sale for this many days (default 30); dead stock for this many
    /// (default 90; more than `slow_after_days`).
    pub slow_after_days: u32,
    pub dead_after_days: u32,
    /// Over-stock when on hand > order-up-to × this, bp (default 15000 = 1.5×, ≥ 10000).
    pub overstock_factor_bp: u32,
    /// SES α and TSB's α for sizes and for the demand probability, bp (defaults 1000 = 0.1;
    /// 1–10000).
    pub ses_alpha_bp: u32,
    pub tsb_alpha_d_bp: u32,
    pub tsb_alpha_p_bp: u32,
    /// Counters do not see the expected quantity in new stocktakes unless told otherwise
    /// (default true: blind counts).
    pub stocktake_blind: bool,
    /// A shelf channel reading empty while the ledger has stock for this many minutes raises a
    /// shelf-gap alert (default 30, 1–1440).
    pub shelf_gap_minutes: u32,
    /// GPIO output (BCM pin) driven high while an alert is open: an LED or buzzer (default none).
    pub alert_gpio_pin: Option<u8>,
}

impl Default for StockConfig {
    fn default() -> Self {
        StockConfig {
            replenishment_at: chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap_or_default(),
            history_days: 730,
            lead_time_days: 3,
            review_period_days: 1,
            pack_size: 1,
            moq: 0,
            service_level_a_bp: 9800,
            service_level_b_bp: 9500,
            service_level_c_bp: 9000,
            abc_a_bp: 8000,
            abc_b_bp: 1500,
            analysis_days: 90,
            xyz_x_max_cv_bp: 5000,
            xyz_y_max_cv_bp: 10_000,
            slow_after_days: 30,
            dead_after_days: 90,
            overstock_factor_bp: 15_000,
            ses_alpha_bp: 1000,
            tsb_alpha_d_bp: 1000,
            tsb_alpha_p_bp: 1000,
            stocktake_blind: true,
            shelf_gap_minutes: 30,
            alert_gpio_pin: None,
        }
    }
}

/// `[attendance]`: staff attendance (考勤) grace times (`staff::attendance`, docs/staff.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttendanceConfig {
    /// A clock-in up to this many minutes after the shift's start is on time (default 5, 0–120).
    pub late_grace_minutes: u32,
    /// A clock-out up to this many minutes before the shift's end is not an early leave
    /// (default 5, 0–120).
    pub early_leave_grace_minutes: u32,
    /// A clock record still without clock-out this many hours after its shift's end is flagged
    /// "missing clock-out" (default 4, 1–24).
    pub missing_clock_out_hours: u32,
}

impl Default for AttendanceConfig {
    fn default() -> Self {
        AttendanceConfig { late_grace_minutes: 5, early_leave_grace_minutes: 5, missing_clock_out_hours: 4 }
    }
}

impl AttendanceConfig {
    /// The rules `domain::attendance` applies.
    pub fn rules(&self) -> crate::domain::attendance::AttendanceRules {
        crate::domain::attendance::AttendanceRules {
            late_grace_minutes: self.late_grace_minutes,
            early_leave_grace_minutes: self.early_leave_grace_minutes,
            missing_clock_out_hours: self.missing_clock_out_hours,
        }
    }
}

/// `[recommend]`: the nightly association-rule run and the suggestions that read it
/// (`domain::assoc`, `members::recommend`, docs/members-analytics.md "Recommendations").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecommendConfig {
    /// Days of sales the rules are mined from, ending today (default 90, 7–730).
    pub window_days: u32,
    /// A pair must be in at least this share of the window's baskets, bp (default 10 = 0.1 %;
    /// 0–10000; never fewer than 2 baskets).
    pub min_support_bp: u32,
    /// A rule A → B needs this share of A's baskets to hold B, bp (default 500 = 5 %; 0–10000).
    pub min_confidence_bp: u32,
    /// … and at least this lift, thousandths (default 1200 = 1.2; 1000–1000000: below 1.0, A
    /// makes B less likely).
    pub min_lift_milli: u32,
    /// Rules kept per SKU or category, strongest first (default 10, 1–100).
    pub max_rules_per_item: u32,
    /// Shop-local time of the nightly run (default "03:40").
    #[serde(deserialize_with = "hh_mm")]
    pub mine_at: chrono::NaiveTime,
    /// Half-life of a purchase in a member's category preferences, days (default 60, 1–3650).
    pub half_life_days: u32,
    /// A member's baskets of the last this many days trigger rules, and SKUs bought in them are
    /// not suggested again unless their repurchase is due (default 30, 1–365).
    pub recent_days: u32,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        RecommendConfig {
            window_days: 90,
            min_support_bp: 10,
            min_confidence_bp: 500,
            min_lift_milli: 1200,
            max_rules_per_item: 10,
            mine_at: chrono::NaiveTime::from_hms_opt(3, 40, 0).unwrap_or_default(),
            half_life_days: 60,
            recent_days: 30,
        }
    }
}

/// `[firmware]`: shelf-node firmware updates (`storehub firmware update`,
/// `devices::shelf::firmware`, docs/devices.md "Shelf-node firmware updates").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirmwareConfig {
    /// Directories searched (the directory itself and two levels below it) for the RPI-RP2 drive
    /// a node shows in its bootloader (default ["/media", "/run/media", "/mnt"]; absolute paths).
    pub boot_drive_roots: Vec<PathBuf>,
    /// Seconds each waiting step of an update may take: the drive to appear, the node to say
    /// hello with its new firmware (default 60, 5–600).
    pub timeout_s: u32,
}

impl Default for FirmwareConfig {
    fn default() -> Self {
        FirmwareConfig {
            boot_drive_roots: ["/media", "/run/media", "/mnt"].into_iter().map(PathBuf::from).collect(),
            timeout_s: 60,
        }
    }
}

/// A shop-local wall time written "HH:MM" (24-hour).
fn hh_mm<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let s = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| de::Error::custom(format!("expected a time \"HH:MM\" like \"21:00\", got {s:?}")))
}

/// `[analytics]`: the member analytics rules (`domain::rfm`, docs/members-analytics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Days of the RFM window ending at the analysis date (1–3650).
    pub window_days: u32,
    /// Dormant after this many days without a purchase (1–3650).
    pub dormant_after_days: u32,
    /// 价格敏感 when coupon + promotion discounts are at least this share of list spend (bp).
    pub price_sensitive_bp: u32,
    /// 新客 while the first purchase is fewer than this many days old.
    pub new_member_days: u32,
    /// Recent period of the churn warning, days (1–3650).
    pub churn_window_days: u32,
    /// 流失预警 when the recent purchase rate is below this share of the earlier rate (bp).
    pub churn_fraction_bp: u32,
    /// Repurchase reminders fall due this many days before the expected date.
    pub remind_days_before: u32,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig::from(crate::domain::rfm::RfmParams::default())
    }
}

impl From<crate::domain::rfm::RfmParams> for AnalyticsConfig {
    fn from(p: crate::domain::rfm::RfmParams) -> Self {
        AnalyticsConfig {
            window_days: p.window_days,
            dormant_after_days: p.dormant_after_days,
            price_sensitive_bp: p.price_sensitive_bp,
            new_member_days: p.new_member_days,
            churn_window_days: p.churn_window_days,
            churn_fraction_bp: p.churn_fraction_bp,
            remind_days_before: p.remind_days_before,
        }
    }
}

impl AnalyticsConfig {
    /// The rule parameters.
    pub fn params(&self) -> crate::domain::rfm::RfmParams {
        crate::domain::rfm::RfmParams {
            window_days: self.window_days,
            dormant_after_days: self.dormant_after_days,
            price_sensitive_bp: self.price_sensitive_bp,
            new_member_days: self.new_member_days,
            churn_window_days: self.churn_window_days,
            churn_fraction_bp: self.churn_fraction_bp,
            remind_days_before: self.remind_days_before,
        }
    }
}

/// `[campaigns]`: defaults of new campaigns (`members::campaigns`, docs/members-analytics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignsConfig {
    /// Share of a campaign's targets held out to measure its effect, bp (0–9000).
    pub default_holdout_bp: u32,
    /// Days after the launch a purchase counts as a response (1–365).
    pub default_response_days: u32,
}

impl Default for CampaignsConfig {
    fn default() -> Self {
        CampaignsConfig { default_holdout_bp: 1000, default_response_days: 14 }
    }
}

/// `[tickets]`: member service tickets (会员专属客服, `members::tickets`, `domain::service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    /// `[tickets.sla_hours]`: hours to handle a ticket of each priority (urgent 4, high 12,
    /// normal 24, low 72 by default).
    pub sla_hours: crate::domain::service::SlaHours,
}

fn default_log_level() -> String {
    "info".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (journald / HQ log shipping).
    Json,
}

// ------------------------------------------------------------------------------------------------
// Loading and validation
// ------------------------------------------------------------------------------------------------

impl Config {
    /// Reads, parses and validates the config file at `path`. Errors name `path` as given.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source_name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            ConfigError::read(&source_name, format!("cannot read the config file: {e}"))
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1;
            let mut err = ConfigError::read(
                &source_name,
                "the file is not UTF-8 text; save it as UTF-8 (Chinese text in GBK is a common cause)".into(),
            );
            err.line = Some(line);
            err
        })?;
        Config::from_str(&text, &source_name)
    }

    /// Parses and validates config text; `source_name` is the file name used in errors.
    /// A leading UTF-8 byte-order mark (as some Windows editors write) is ignored.
    pub fn from_str(text: &str, source_name: &str) -> Result<Config, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Syntax first, so a broken file gets a syntax message rather than a key error.
        if let Err(e) = text.parse::<toml::Table>() {
            return Err(ConfigError::from_syntax(text, source_name, &e));
        }
        let config: Config = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| ConfigError::from_serde(text, source_name, &e))?;
        config
            .validate()
            .map_err(|inv| ConfigError::from_invalid(text, source_name, inv))?;
        Ok(config)
    }

    /// The embedded demo configuration ([`DEMO_TOML`]), validated like any other.
    pub fn demo() -> Result<Config, ConfigError> {
        Config::from_str(DEMO_TOML, DEMO_SOURCE_NAME)
    }

    /// Replaces `[data].dir`, for `--data-dir` and `STOREHUB_DATA_DIR`.
    pub fn apply_data_dir_override(&mut self, dir: PathBuf) {
        self.data.dir = dir;
    }

    /// `--mqtt URL`: relay to this broker (turns `[mqtt].enabled` on), with the same checks as
    /// `[mqtt].url` in the file (plain mqtt:// only to this box unless `allow_insecure`).
    pub fn apply_mqtt_override(&mut self, url: &str) -> anyhow::Result<()> {
        let parsed = MqttUrl::try_from(url.to_string()).map_err(|e| anyhow::anyhow!("--mqtt: {e}"))?;
        self.mqtt.url = Some(parsed);
        self.mqtt.enabled = true;
        self.validate_mqtt().map_err(|e| anyhow::anyhow!("--mqtt {url}: {}: {}", render_key(&e.path), e.message))
    }

    /// The configured in-store barcode layouts, converted for `crate::domain::barcode`.
    ///
    /// An empty Vec means the config names none: callers then use the domain's default layouts
    /// (`crate::domain::barcode::default_layouts()`: 20–24 price in fen, 25–29 weight in grams).
    /// Configured layouts replace the defaults entirely; they are not merged.
    pub fn barcode_layouts(&self) -> Vec<InStoreLayout> {
        self.barcode
            .in_store
            .iter()
            .map(InStoreLayout::from)
            .collect()
    }

    /// The shop's time zone (`[store].timezone`, checked when the config was loaded).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.store.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    /// The MQTT client id: `[mqtt].client_id`, or `storehub-{chain_id}-{store_id}-{hub_id}`.
    pub fn mqtt_client_id(&self) -> String {
        self.mqtt.client_id.clone().unwrap_or_else(|| {
            format!(
                "storehub-{}-{}-{}",
                self.store.chain_id, self.store.store_id, self.store.hub_id
            )
        })
    }

    /// The hub's topic root: `{topic_prefix}/{chain_id}/{store_id}/{hub_id}`.
    pub fn topic_root(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.mqtt.topic_prefix, self.store.chain_id, self.store.store_id, self.store.hub_id
        )
    }

    /// Cross-field rules (a single field's rules are checked while parsing). The first failure
    /// in file order wins.
    fn validate(&self) -> Result<(), Invalid> {
        self.validate_barcode()?;
        self.validate_lanes()?;
        self.validate_devices()?;
        self.validate_mqtt()?;
        self.validate_web()?;
        self.validate_loyalty()?;
        self.validate_analytics()?;
        self.validate_campaigns()?;
        self.validate_messages()?;
        self.validate_tickets()?;
        self.validate_stock()?;
        self.validate_attendance()?;
        self.validate_recommend()?;
        self.validate_firmware()?;
        self.validate_disk()?;
        Ok(())
    }

    fn validate_disk(&self) -> Result<(), Invalid> {
        let d = &self.disk;
        if !(1..=1_048_576).contains(&d.low_free_mb) {
            return Err(invalid(key("disk", "low_free_mb"), format!("expected 1 to 1048576 (MiB), got {}", d.low_free_mb)));
        }
        if d.critical_free_mb == 0 || d.critical_free_mb >= d.low_free_mb {
            return Err(invalid(key("disk", "critical_free_mb"), format!("expected at least 1 and below low_free_mb ({}), got {}", d.low_free_mb, d.critical_free_mb)));
        }
        if !(1..=3600).contains(&d.check_s) {
            return Err(invalid(key("disk", "check_s"), format!("expected 1 to 3600 seconds, got {}", d.check_s)));
        }
        Ok(())
    }

    fn validate_firmware(&self) -> Result<(), Invalid> {
        let c = &self.firmware;
        if c.boot_drive_roots.is_empty() {
            return Err(invalid(
                key("firmware", "boot_drive_roots"),
                "empty; list where the RPI-RP2 drive is mounted, e.g. [\"/media\", \"/run/media\", \"/mnt\"]",
            ));
        }
        if let Some(p) = c.boot_drive_roots.iter().find(|p| !p.is_absolute()) {
            return Err(invalid(
                key("firmware", "boot_drive_roots"),
                format!("expected absolute directories like \"/media\", got {:?}", p.display().to_string()),
            ));
        }
        if !(5..=600).contains(&c.timeout_s) {
            return Err(invalid(key("firmware", "timeout_s"), format!("expected 5 to 600 seconds, got {}", c.timeout_s)));
        }
        Ok(())
    }

    fn validate_recommend(&self) -> Result<(), Invalid> {
        let c = &self.recommend;
        let ranges: [(&str, u32, u32, u32, &str); 7] = [
            ("window_days", c.window_days, 7, 730, "days"),
            ("min_support_bp", c.min_support_bp, 0, 10_000, "bp"),
            ("min_confidence_bp", c.min_confidence_bp, 0, 10_000, "bp"),
            ("min_lift_milli", c.min_lift_milli, 1000, 1_000_000, "thousandths"),
            ("max_rules_per_item", c.max_rules_per_item, 1, 100, "rules"),
            ("half_life_days", c.half_life_days, 1, 3650, "days"),
            ("recent_days", c.recent_days, 1, 365, "days"),
        ];
        for (k, v, lo, hi, unit) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(invalid(key("recommend", k), format!("expected {lo} to {hi} {unit}, got {v}")));
            }
        }
        if c.recent_days > c.window_days {
            return Err(invalid(
                key("recommend", "recent_days"),
                format!("{} recent days do not fit in the {}-day window; lower recent_days or raise window_days", c.recent_days, c.window_days),
            ));
        }
        Ok(())
    }

    fn validate_attendance(&self) -> Result<(), Invalid> {
        let c = &self.attendance;
        let ranges: [(&str, u32, u32, u32, &str); 3] = [
            ("late_grace_minutes", c.late_grace_minutes, 0, 120, "minutes"),
            ("early_leave_grace_minutes", c.early_leave_grace_minutes, 0, 120, "minutes"),
            ("missing_clock_out_hours", c.missing_clock_out_hours, 1, 24, "hours"),
        ];
        for (k, v, lo, hi, unit) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(invalid(key("attendance", k), format!("expected {lo} to {hi} {unit}, got {v}")));
            }
        }
        Ok(())
    }

    fn validate_stock(&self) -> Result<(), Invalid> {
        let c = &self.stock;
        let ranges: [(&str, u32, u32, u32, &str); 15] = [
            ("history_days", c.history_days, 28, 3650, "days"),
            ("lead_time_days", c.lead_time_days, 0, 365, "days"),
            ("review_period_days", c.review_period_days, 1, 365, "days"),
            ("pack_size", c.pack_size, 1, 100_000, "units"),
            ("service_level_a_bp", c.service_level_a_bp, 5000, 9999, "bp"),
            ("service_level_b_bp", c.service_level_b_bp, 5000, 9999, "bp"),
            ("service_level_c_bp", c.service_level_c_bp, 5000, 9999, "bp"),
            ("analysis_days", c.analysis_days, 7, 3650, "days"),
            ("slow_after_days", c.slow_after_days, 1, 3650, "days"),
            ("dead_after_days", c.dead_after_days, 1, 3650, "days"),
            ("overstock_factor_bp", c.overstock_factor_bp, 10_000, 1_000_000, "bp"),
            ("ses_alpha_bp", c.ses_alpha_bp, 1, 10_000, "bp"),
            ("tsb_alpha_d_bp", c.tsb_alpha_d_bp, 1, 10_000, "bp"),
            ("tsb_alpha_p_bp", c.tsb_alpha_p_bp, 1, 10_000, "bp"),
            ("shelf_gap_minutes", c.shelf_gap_minutes, 1, 1440, "minutes"),
        ];
        for (k, v, lo, hi, unit) in ranges {
            if !(lo..=hi).contains(&v) {
                return Err(invalid(key("stock", k), format!("expected {lo} to {hi} {unit}, got {v}")));
            }
        }
        if c.abc_a_bp == 0 || c.abc_a_bp + c.abc_b_bp >= 10_000 {
            return Err(invalid(
                key("stock", "abc_b_bp"),
                format!(
                    "class A ({} bp) and B ({} bp) must leave a share for class C: A > 0 and A + B < 10000",
                    c.abc_a_bp, c.abc_b_bp
                ),
            ));
        }
        if c.xyz_x_max_cv_bp == 0 || c.xyz_x_max_cv_bp >= c.xyz_y_max_cv_bp {
            return Err(invalid(
                key("stock", "xyz_y_max_cv_bp"),
                format!("expected X's cut-off ({} bp) above 0 and below Y's ({} bp)", c.xyz_x_max_cv_bp, c.xyz_y_max_cv_bp),
            ));
        }
        if c.dead_after_days <= c.slow_after_days {
            return Err(invalid(
                key("stock", "dead_after_days"),
                format!("dead stock ({} days) must wait longer than a slow mover ({} days)", c.dead_after_days, c.slow_after_days),
            ));
        }
        if let Some(pin) = c.alert_gpio_pin {
            if pin > 27 {
                return Err(invalid(key("stock", "alert_gpio_pin"), format!("expected a BCM GPIO pin 0 to 27, got {pin}")));
            }
        }
        Ok(())
    }

    fn validate_tickets(&self) -> Result<(), Invalid> {
        use crate::domain::service::{Priority, SLA_HOURS_MAX};
        let sla = &self.tickets.sla_hours;
        let at = |k: &str| vec![Seg::Key("tickets".into()), Seg::Key("sla_hours".into()), Seg::Key(k.into())];
        // Most urgent first, so each may be compared with the one before it.
        let order = [Priority::Urgent, Priority::High, Priority::Normal, Priority::Low];
        for (i, p) in order.iter().enumerate() {
            let h = sla.hours(*p);
            if !(1..=SLA_HOURS_MAX).contains(&h) {
                return Err(invalid(at(p.as_str()), format!("expected 1 to {SLA_HOURS_MAX} hours, got {h}")));
            }
            if i > 0 {
                let more_urgent = order[i - 1];
                if h < sla.hours(more_urgent) {
                    return Err(invalid(
                        at(p.as_str()),
                        format!(
                            "{h} hours is shorter than {} ({} hours); a less urgent ticket may not be due sooner",
                            more_urgent.as_str(),
                            sla.hours(more_urgent)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_campaigns(&self) -> Result<(), Invalid> {
        let c = &self.campaigns;
        if c.default_holdout_bp > 9000 {
            return Err(invalid(key("campaigns", "default_holdout_bp"), format!("expected 0 to 9000 bp (0 to 90%), got {}", c.default_holdout_bp)));
        }
        if !(1..=365).contains(&c.default_response_days) {
            return Err(invalid(key("campaigns", "default_response_days"), format!("expected 1 to 365 days, got {}", c.default_response_days)));
        }
        Ok(())
    }

    fn validate_messages(&self) -> Result<(), Invalid> {
        let cap = self.messages.weekly_cap;
        if cap > 100 {
            return Err(invalid(key("messages", "weekly_cap"), format!("expected 0 to 100 messages a week (0 = no cap), got {cap}")));
        }
        Ok(())
    }

    fn validate_analytics(&self) -> Result<(), Invalid> {
        let a = &self.analytics;
        let days = [
            ("window_days", a.window_days),
            ("dormant_after_days", a.dormant_after_days),
            ("churn_window_days", a.churn_window_days),
        ];
        for (k, v) in days {
            if !(1..=3650).contains(&v) {
                return Err(invalid(key("analytics", k), format!("expected 1 to 3650 days, got {v}")));
            }
        }
        for (k, v) in [("price_sensitive_bp", a.price_sensitive_bp), ("churn_fraction_bp", a.churn_fraction_bp)] {
            if v > 10_000 {
                return Err(invalid(key("analytics", k), format!("expected 0 to 10000 bp, got {v}")));
            }
        }
        for (k, v) in [("new_member_days", a.new_member_days), ("remind_days_before", a.remind_days_before)] {
            if v > 3650 {
                return Err(invalid(key("analytics", k), format!("expected 0 to 3650 days, got {v}")));
            }
        }
        Ok(())
    }

    fn validate_web(&self) -> Result<(), Invalid> {
        let w = &self.web;
        match (&w.cert_file, &w.key_file) {
            (Some(_), None) => Err(invalid(key("web", "key_file"), "cert_file is set: set key_file too (the PEM private key of that certificate)")),
            (None, Some(_)) => Err(invalid(key("web", "cert_file"), "key_file is set: set cert_file too (the PEM certificate chain)")),
            (Some(_), Some(_)) if !w.https => Err(invalid(key("web", "https"), "cert_file and key_file are set but https = false: set https = true to serve them")),
            _ => Ok(()),
        }
    }

    fn validate_barcode(&self) -> Result<(), Invalid> {
        let mut owner: [Option<usize>; 10] = [None; 10];
        for (i, l) in self.barcode.in_store.iter().enumerate() {
            let at = |k: &str| nested("barcode", "in_store", i, k);
            if l.prefixes.is_empty() {
                return Err(invalid(
                    at("prefixes"),
                    "expected at least one prefix in 20..=29, got []",
                ));
            }
            for &p in &l.prefixes {
                let Some(slot) = p
                    .checked_sub(20)
                    .and_then(|o| owner.get_mut(usize::from(o)))
                else {
                    return Err(invalid(
                        at("prefixes"),
                        format!("prefix {p} is not an in-store prefix; expected 20..=29"),
                    ));
                };
                match *slot {
                    Some(first) if first == i => {
                        return Err(invalid(at("prefixes"), format!("prefix {p} is listed twice")))
                    }
                    Some(first) => {
                        return Err(invalid(
                            at("prefixes"),
                            format!("prefix {p} is already claimed by in_store[{first}]; give each prefix one layout"),
                        ))
                    }
                    None => *slot = Some(i),
                }
            }
            let check = u32::from(l.value_check_digit);
            let total = 2 + u32::from(l.item_digits) + check + u32::from(l.value_digits) + 1;
            if total != 13 {
                return Err(invalid(
                    at(""),
                    format!(
                        "2 prefix + {} item + {check} value check + {} value + 1 check digits = {total}; an EAN-13 has 13",
                        l.item_digits, l.value_digits
                    ),
                ));
            }
            if l.value_check_digit && !matches!(l.value_digits, 4 | 5) {
                return Err(invalid(
                    at("value_check_digit"),
                    format!(
                        "GS1 defines a price/weight check digit only for 4 or 5 value digits, not {}",
                        l.value_digits
                    ),
                ));
            }
            let (max, units) = match l.value {
                EmbeddedValue::Price => (2, "for a price (0 = yuan, 1 = jiao, 2 = fen)"),
                EmbeddedValue::Weight => (3, "for a weight (0 = kg, 3 = grams)"),
            };
            if l.decimals > max {
                return Err(invalid(
                    at("decimals"),
                    format!("expected 0..={max} {units}, got {}", l.decimals),
                ));
            }
        }
        Ok(())
    }

    fn validate_lanes(&self) -> Result<(), Invalid> {
        let mut seen: HashMap<&Id, usize> = HashMap::new();
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(first) = seen.insert(&lane.id, i) {
                return Err(invalid(
                    item("lanes", i, "id"),
                    format!(
                        "duplicate lane id \"{}\"; lanes[{first}] already uses it",
                        lane.id
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_devices(&self) -> Result<(), Invalid> {
        let lanes: BTreeSet<&str> = self.lanes.iter().map(|l| l.id.as_str()).collect();
        let mut seen: HashMap<&Id, usize> = HashMap::new();
        for (i, d) in self.devices.iter().enumerate() {
            let at = |k: &str| item("devices", i, k);
            if let Some(first) = seen.insert(&d.id, i) {
                return Err(invalid(
                    at("id"),
                    format!(
                        "duplicate device id \"{}\"; devices[{first}] already uses it",
                        d.id
                    ),
                ));
            }
            // Where the device is: exactly the key its transport needs.
            let t = d.transport.as_str();
            let (needs, has_path, has_address, has_pins) = (
                d.transport,
                d.path.is_some(),
                d.address.is_some(),
                !d.pins.is_empty(),
            );
            // A shelf node may be named by its id instead of a path (found by discovery).
            let node_id = d.shelf.as_ref().and_then(|s| s.node_id.as_ref());
            if node_id.is_some() {
                let mut key = at("shelf");
                key.push(Seg::Key("node_id".into()));
                if d.protocol() != Some(DeviceProtocol::StorehubNode) {
                    return Err(invalid(key, "only a storehub-node (transport \"serial\") is found by its node id; remove it"));
                }
                if has_path {
                    return Err(invalid(key, "give either path or [devices.shelf].node_id, not both; remove one"));
                }
            }
            match needs {
                Transport::Serial if node_id.is_some() => {}
                Transport::Serial | Transport::Hid | Transport::Lp => {
                    if !has_path {
                        return Err(invalid(
                            at("path"),
                            if needs == Transport::Serial && d.protocol() == Some(DeviceProtocol::StorehubNode) {
                                "missing required key for transport \"serial\"; or name the node by [devices.shelf].node_id".to_string()
                            } else {
                                format!("missing required key for transport \"{t}\"")
                            },
                        ));
                    }
                }
                Transport::Tcp => {
                    if !has_address {
                        return Err(invalid(
                            at("address"),
                            "missing required key for transport \"tcp\"; expected \"host:port\"",
                        ));
                    }
                }
                Transport::Gpio => {
                    if !has_pins {
                        return Err(invalid(
                            at("pins"),
                            "missing required key for transport \"gpio\"; expected BCM pin numbers like [5, 6]",
                        ));
                    }
                }
            }
            let path_used = matches!(needs, Transport::Serial | Transport::Hid | Transport::Lp);
            if has_path && !path_used {
                return Err(invalid(
                    at("path"),
                    format!("not used with transport \"{t}\"; remove it"),
                ));
            }
            if has_address && needs != Transport::Tcp {
                return Err(invalid(
                    at("address"),
                    format!("not used with transport \"{t}\"; remove it"),
                ));
            }
            if has_pins && needs != Transport::Gpio {
                return Err(invalid(
                    at("pins"),
                    format!("not used with transport \"{t}\"; remove it"),
                ));
            }
            if d.serial.is_some() && needs != Transport::Serial {
                return Err(invalid(
                    at("serial"),
                    format!("not used with transport \"{t}\"; remove it"),
                ));
            }
            // Per-kind tables: only on their kind, and sound.
            let kind_tables: [(&str, bool, DeviceKind); 4] = [
                ("scanner", d.scanner.is_some(), DeviceKind::Scanner),
                ("scale", d.scale.is_some(), DeviceKind::Scale),
                ("printer", d.printer.is_some(), DeviceKind::Printer),
                ("shelf", d.shelf.is_some(), DeviceKind::Shelf),
            ];
            for (table, present, owner) in kind_tables {
                if present && d.kind != owner {
                    return Err(invalid(
                        at(table),
                        format!("[devices.{table}] is for {table}s, but this device is a {}; remove it", d.kind.as_str()),
                    ));
                }
            }
            let checked = [
                d.scanner.as_ref().map(|x| ("scanner", x.check())),
                d.scale.as_ref().map(|x| ("scale", x.check())),
                d.printer.as_ref().map(|x| ("printer", x.check())),
                d.shelf.as_ref().map(|x| ("shelf", x.check())),
            ];
            for (table, result) in checked.into_iter().flatten() {
                if let Err((key, message)) = result {
                    let mut path = at(table);
                    path.push(Seg::Key(key.into()));
                    return Err(invalid(path, message));
                }
            }
            let mut pins = BTreeSet::new();
            for &pin in &d.pins {
                if !pins.insert(pin) {
                    return Err(invalid(at("pins"), format!("pin {pin} is listed twice")));
                }
            }
            if let Some(path) = &d.path {
                if matches!(needs, Transport::Serial | Transport::Lp) && !path.starts_with('/') {
                    return Err(invalid(
                        at("path"),
                        format!("expected an absolute device path like \"/dev/serial/by-id/…\", got {path:?}"),
                    ));
                }
            }
            // What it speaks: a protocol of its kind, over its transport.
            let kind = d.kind.as_str();
            match d.protocol() {
                None => {
                    let options: Vec<String> = DeviceProtocol::ALL
                        .iter()
                        .filter(|p| p.kind() == d.kind && p.transports().contains(&d.transport))
                        .map(|p| format!("\"{}\"", p.as_str()))
                        .collect();
                    let message = if options.is_empty() {
                        format!("a {kind} cannot use transport \"{t}\"")
                    } else {
                        format!(
                            "missing required key for a {kind} on transport \"{t}\"; expected one of {}",
                            options.join(", ")
                        )
                    };
                    let key = if options.is_empty() {
                        "transport"
                    } else {
                        "protocol"
                    };
                    return Err(invalid(at(key), message));
                }
                Some(p) if p.kind() != d.kind => {
                    return Err(invalid(
                        at("protocol"),
                        format!(
                            "\"{}\" is a {} protocol, but this device is a {kind}",
                            p.as_str(),
                            p.kind().as_str()
                        ),
                    ));
                }
                Some(p) if !p.transports().contains(&d.transport) => {
                    let over: Vec<String> = p
                        .transports()
                        .iter()
                        .map(|t| format!("\"{}\"", t.as_str()))
                        .collect();
                    return Err(invalid(
                        at("transport"),
                        format!(
                            "protocol \"{}\" runs over {}, not \"{t}\"",
                            p.as_str(),
                            over.join(" or ")
                        ),
                    ));
                }
                Some(_) => {}
            }
            // A generic scale is read with its pattern; there is no default.
            if d.protocol() == Some(DeviceProtocol::Generic)
                && d.scale.as_ref().and_then(|s| s.pattern.as_ref()).is_none()
            {
                let mut path = at("scale");
                path.push(Seg::Key("pattern".into()));
                return Err(invalid(
                    path,
                    "missing required key for protocol \"generic\"; expected a regular expression with a (?P<weight>…) group, e.g. \"^(?P<weight>[-+]?[0-9.]+) ?kg$\"",
                ));
            }
            if let Some(lane) = &d.lane {
                if !lanes.contains(lane.as_str()) {
                    let message = if lanes.is_empty() {
                        format!(
                            "no lane \"{lane}\" is configured; add a [[lanes]] entry with this id"
                        )
                    } else {
                        let list: Vec<&str> = lanes.iter().copied().collect();
                        format!(
                            "no lane \"{lane}\" is configured; expected one of: {}",
                            list.join(", ")
                        )
                    };
                    return Err(invalid(at("lane"), message));
                }
            }
        }
        Ok(())
    }

    fn validate_mqtt(&self) -> Result<(), Invalid> {
        let m = &self.mqtt;
        let prefix_ok = !m.topic_prefix.is_empty()
            && m.topic_prefix.split('/').all(|level| {
                !level.is_empty()
                    && !level.contains(['+', '#'])
                    && !level.contains(char::is_whitespace)
            });
        if !prefix_ok {
            return Err(invalid(
                key("mqtt", "topic_prefix"),
                format!(
                    "expected topic levels separated by \"/\" without wildcards, spaces or empty levels, like \"storehub/v1\", got {:?}",
                    m.topic_prefix
                ),
            ));
        }
        if let Some(id) = &m.client_id {
            if id.len() > 128 || id.contains(char::is_whitespace) {
                return Err(invalid(
                    key("mqtt", "client_id"),
                    format!("expected at most 128 characters without spaces, got {id:?}"),
                ));
            }
        }
        if m.password.is_some() && m.username.is_none() {
            return Err(invalid(
                key("mqtt", "password"),
                "a password needs [mqtt].username",
            ));
        }
        if m.cert_file.is_some() != m.key_file.is_some() {
            let (k, other) = if m.cert_file.is_some() {
                ("cert_file", "key_file")
            } else {
                ("key_file", "cert_file")
            };
            return Err(invalid(
                key("mqtt", k),
                format!("mutual TLS needs both cert_file and key_file; add [mqtt].{other}"),
            ));
        }
        let tls = m.url.as_ref().map(MqttUrl::tls);
        for (k, set) in [
            ("ca_file", m.ca_file.is_some()),
            ("cert_file", m.cert_file.is_some()),
        ] {
            if set && tls == Some(false) {
                return Err(invalid(key("mqtt", k), "TLS files need an mqtts:// URL"));
            }
        }
        if m.reconnect_min_ms > m.reconnect_max_ms {
            return Err(invalid(
                key("mqtt", "reconnect_max_ms"),
                format!("must be at least reconnect_min_ms ({})", m.reconnect_min_ms),
            ));
        }
        for (i, k) in m.command_keys.iter().enumerate() {
            if let Err(e) = crate::cloud::commands::parse_public_key(k) {
                let mut path = key("mqtt", "command_keys");
                path.push(Seg::Index(i));
                return Err(invalid(path, e));
            }
        }
        if m.require_signed_commands && m.command_keys.is_empty() {
            return Err(invalid(
                key("mqtt", "command_keys"),
                "require_signed_commands = true needs at least one HQ public key here",
            ));
        }
        if m.enabled {
            let Some(url) = &m.url else {
                return Err(invalid(
                    key("mqtt", "url"),
                    "missing required key when [mqtt].enabled = true",
                ));
            };
            if !url.tls() && !url.is_loopback() && !m.allow_insecure {
                return Err(invalid(
                    key("mqtt", "url"),
                    format!(
                        "plain mqtt:// to {:?} would send sales unencrypted over the network; use mqtts:// or set [mqtt].allow_insecure = true",
                        url.host()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_loyalty(&self) -> Result<(), Invalid> {
        let mut seen: HashMap<&Id, usize> = HashMap::new();
        let mut previous: Option<i64> = None;
        for (i, t) in self.loyalty.tiers.iter().enumerate() {
            let at = |k: &str| nested("loyalty", "tiers", i, k);
            if let Some(first) = seen.insert(&t.id, i) {
                return Err(invalid(
                    at("id"),
                    format!(
                        "duplicate tier id \"{}\"; tiers[{first}] already uses it",
                        t.id
                    ),
                ));
            }
            match previous {
                None if t.min_spend_fen != 0 => {
                    return Err(invalid(
                        at("min_spend_fen"),
                        format!("the first tier is where every member starts; expected 0, got {}", t.min_spend_fen),
                    ))
                }
                Some(prev) if t.min_spend_fen <= prev => {
                    return Err(invalid(
                        at("min_spend_fen"),
                        format!(
                            "tiers go from lowest to highest; expected more than the previous tier's {prev}, got {}",
                            t.min_spend_fen
                        ),
                    ))
                }
                _ => {}
            }
            previous = Some(t.min_spend_fen);
        }
        for (i, b) in self.loyalty.topup_bonus.iter().enumerate() {
            if b.min_topup_fen == 0 {
                return Err(invalid(
                    nested("loyalty", "topup_bonus", i, "min_topup_fen"),
                    "a bonus needs a top-up to earn it; expected more than 0 fen, got 0",
                ));
            }
        }
        for (i, c) in self.loyalty.points_campaigns.iter().enumerate() {
            let at = |k: &str| nested("loyalty", "points_campaigns", i, k);
            if c.sku.is_some() == c.category.is_some() {
                return Err(invalid(at("sku"), "give exactly one of sku and category"));
            }
            if c.ends_at <= c.starts_at {
                return Err(invalid(at("ends_at"), format!("must be after starts_at ({}), got {}", c.starts_at, c.ends_at)));
            }
        }
        for (i, c) in self.loyalty.excluded_categories.iter().enumerate() {
            if c.trim().is_empty() {
                return Err(invalid(
                    key("loyalty", "excluded_categories"),
                    format!("entry {i} is blank; expected a category id"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[store]\nchain_id = \"c\"\nstore_id = \"s\"\nhub_id = \"h\"\nname = \"店\"\n\n[data]\ndir = \"/tmp/x\"\n";

    fn err(extra: &str) -> String {
        match Config::from_str(&format!("{MINIMAL}{extra}"), "t.toml") {
            Ok(_) => panic!("expected an error for {extra:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn minimal_config_gets_the_documented_defaults() {
        let c = Config::from_str(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.store.timezone, "Asia/Shanghai");
        assert_eq!(c.store.language, Language::ZhCn);
        assert_eq!(c.data.durability, Durability::Durable);
        assert_eq!(c.data.relaxed_flush_ms, 200);
        assert!(!c.mqtt.enabled);
        assert_eq!(c.mqtt.topic_prefix, "storehub/v1");
        assert_eq!(c.mqtt_client_id(), "storehub-c-s-h");
        assert_eq!(c.topic_root(), "storehub/v1/c/s/h");
        assert!(c.web.enabled);
        assert_eq!(c.web.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.log.level, "info");
        assert_eq!(c.log.format, LogFormat::Text);
        assert!(
            c.barcode_layouts().is_empty(),
            "empty means: use the domain defaults"
        );
    }

    #[test]
    fn mqtt_urls() {
        let u = MqttUrl::try_from("mqtts://broker.example.cn".to_string()).unwrap();
        assert_eq!(
            (u.tls(), u.host(), u.port()),
            (true, "broker.example.cn", 8883)
        );
        let u = MqttUrl::try_from("mqtt://[::1]:1884".to_string()).unwrap();
        assert_eq!((u.host(), u.port(), u.is_loopback()), ("::1", 1884, true));
        assert_eq!(u.to_string(), "mqtt://[::1]:1884");
        for bad in [
            "mqtt://",
            "mqtt://host:x",
            "mqtt://host:70000",
            "mqtt://a b:1883",
            "mqtt://h/topic",
            "http://h",
        ] {
            assert!(MqttUrl::try_from(bad.to_string()).is_err(), "{bad}");
        }
        let e = MqttUrl::try_from("mqtt://user:secret@h:1883".to_string()).unwrap_err();
        assert!(!e.contains("secret"), "never echo credentials: {e}");
        assert_eq!(
            MqttUrl::try_from("mqtt://h:0".to_string()).unwrap_err(),
            PORT_ZERO
        );
    }

    #[test]
    fn password_is_not_in_debug_output() {
        let c = Config::from_str(
            &format!("{MINIMAL}[mqtt]\nusername = \"u\"\npassword = \"hunter2\"\n"),
            "t",
        )
        .unwrap();
        assert_eq!(
            c.mqtt.password.as_ref().map(Secret::expose),
            Some("hunter2")
        );
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn key_rendering() {
        let k = |s: &[Seg]| render_key(s);
        assert_eq!(k(&key("mqtt", "url")), "[mqtt].url");
        assert_eq!(k(&item("lanes", 1, "id")), "lanes[1].id");
        assert_eq!(
            k(&nested("loyalty", "tiers", 0, "min_spend_fen")),
            "[loyalty].tiers[0].min_spend_fen"
        );
        assert_eq!(k(&[Seg::Key("store".into())]), "[store]");
        assert_eq!(k(&[Seg::Key("devices".into())]), "devices");
    }

    #[test]
    fn locate_finds_keys_in_arrays_of_tables_and_falls_back_to_the_table() {
        let text = "[store]\nname = 1\n\n[[loyalty.tiers]]\nid = \"a\"\n[[loyalty.tiers]]\n  id = \"b\"\n[mqtt]\nenabled = true\n";
        assert_eq!(locate(text, &nested("loyalty", "tiers", 1, "id")), Some(7));
        assert_eq!(locate(text, &nested("loyalty", "tiers", 0, "id")), Some(5));
        assert_eq!(locate(text, &key("mqtt", "url")), Some(8));
        assert_eq!(locate(text, &key("web", "listen")), None);
        assert_eq!(locate("", &key("web", "listen")), None);
    }

    #[test]
    fn field_checks() {
        assert_eq!(
            err("[web]\nsession_ttl_minutes = \"480\"\n"),
            "t.toml:10: [web].session_ttl_minutes: expected an integer, got \"480\""
        );
        assert_eq!(err("[web]\nlisten = \"localhost:8080\"\n"), "t.toml:10: [web].listen: expected an IP address and port like \"0.0.0.0:8080\" or \"127.0.0.1:8080\", got \"localhost:8080\"");
        assert_eq!(err("[loyalty]\npoint_value_fen = 1.5\n"), "t.toml:10: [loyalty].point_value_fen: expected an integer amount in fen (¥1.50 = 150), got 1.5");
        assert_eq!(err("[log]\nlevel = \"loud\"\n"), "t.toml:10: [log].level: expected one of off, error, warn, info, debug, trace, or directives like \"info,storehub=debug\", got \"loud\"");
        assert!(Config::from_str(
            &format!("{MINIMAL}[log]\nlevel = \"warn,storehub::devices=debug\"\n"),
            "t"
        )
        .is_ok());
        assert_eq!(err("[data]\n"), "t.toml:9: TOML syntax error: invalid table header; duplicate key `data` in document root");
        assert_eq!(
            err("[store.x\n"),
            "t.toml:9: TOML syntax error: invalid table header; expected `.`, `]`"
        );
        assert_eq!(
            err("mqtt = 5\n"),
            "t.toml:9: unknown key [data].mqtt; expected one of: dir, durability, relaxed_flush_ms, snapshot_interval_minutes, snapshots_keep"
        );
        let e = Config::from_str(&format!("mqtt = 5\n{MINIMAL}"), "t.toml").unwrap_err();
        assert_eq!(e.to_string(), "t.toml:1: [mqtt]: expected a table, got 5");
        let e = Config::from_str("[data]\ndir = \"/d\"\n", "t.toml").unwrap_err();
        assert_eq!(e.to_string(), "t.toml: [store]: missing required section");
        assert_eq!(e.kind, ConfigErrorKind::MissingKey);
    }

    #[test]
    fn store_and_data_values() {
        let base = MINIMAL.replace("[data]\ndir = \"/tmp/x\"\n", "");
        let with = |extra: &str| {
            Config::from_str(&format!("{base}{extra}"), "t.toml")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            with("timezone = \"Beijing\"\n[data]\ndir = \"/d\"\n"),
            "t.toml:7: [store].timezone: expected an IANA time zone name like \"Asia/Shanghai\", got \"Beijing\""
        );
        assert_eq!(
            with("[data]\ndir = \"\"\n"),
            "t.toml:8: [data].dir: must not be empty"
        );
        assert_eq!(
            err("[[barcode.in_store]]\nprefixes = [20, 300]\n"),
            "t.toml:10: [barcode].in_store[0].prefixes: prefix 300 is not an in-store prefix; expected 20..=29"
        );
    }

    #[test]
    fn device_rules() {
        let lanes = "[[lanes]]\nid = \"lane-1\"\nname = \"1号\"\n";
        assert_eq!(
            err(&format!("{lanes}[[devices]]\nid = \"sc\"\nkind = \"scale\"\ntransport = \"serial\"\npath = \"/dev/ttyUSB0\"\n")),
            "t.toml:12: devices[0].protocol: missing required key for a scale on transport \"serial\"; expected one of \"toledo-8217\", \"mt-sics\", \"cas\", \"generic\""
        );
        assert_eq!(
            err("[[devices]]\nid = \"p\"\nkind = \"printer\"\ntransport = \"tcp\"\npath = \"/dev/x\"\naddress = \"10.0.0.9:9100\"\n"),
            "t.toml:13: devices[0].path: not used with transport \"tcp\"; remove it"
        );
        assert_eq!(
            err("[[devices]]\nid = \"p\"\nkind = \"printer\"\ntransport = \"tcp\"\naddress = \"10.0.0.9:0\"\n"),
            "t.toml:13: devices[0].address: port 0 is not allowed; expected a port between 1 and 65535"
        );
        assert_eq!(
            err("[[devices]]\nid = \"s\"\nkind = \"scanner\"\ntransport = \"hid\"\nprotocol = \"toledo-8217\"\npath = \"usb:0c2e:0b61\"\n"),
            "t.toml:13: devices[0].protocol: \"toledo-8217\" is a scale protocol, but this device is a scanner"
        );
        assert_eq!(
            err("[[devices]]\nid = \"w\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"hx711\"\npins = [5, 40]\n"),
            "t.toml:14: devices[0].pins: expected BCM GPIO pins 0..=27, got 40"
        );
    }

    #[test]
    fn firmware_rules_name_the_key() {
        let c = Config::from_str(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.firmware.boot_drive_roots, [PathBuf::from("/media"), PathBuf::from("/run/media"), PathBuf::from("/mnt")]);
        assert_eq!(c.firmware.timeout_s, 60);
        let ok = Config::from_str(&format!("{MINIMAL}[firmware]\nboot_drive_roots = [\"/srv/drives\"]\ntimeout_s = 5\n"), "t.toml").unwrap();
        assert_eq!((ok.firmware.boot_drive_roots, ok.firmware.timeout_s), (vec![PathBuf::from("/srv/drives")], 5));
        let e = err("[firmware]\nboot_drive_roots = []\n");
        assert!(e.contains("[firmware].boot_drive_roots: empty; list where the RPI-RP2 drive is mounted"), "{e}");
        let e = err("[firmware]\nboot_drive_roots = [\"/media\", \"media\"]\n");
        assert!(e.contains("[firmware].boot_drive_roots: expected absolute directories like \"/media\", got \"media\""), "{e}");
        let e = err("[firmware]\ntimeout_s = 601\n");
        assert!(e.contains("[firmware].timeout_s: expected 5 to 600 seconds, got 601"), "{e}");
    }

    #[test]
    fn shelf_channel_rules() {
        let dev = "[[devices]]\nid = \"w\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"hx711\"\npins = [5, 6]\n";
        let ch = |channel: u8, sku: &str, unit: i64, low: i64| {
            format!("[[devices.shelf.channels]]\nchannel = {channel}\nsku = \"{sku}\"\nunit_grams = {unit}\nlow_units = {low}\n")
        };
        let good = format!("{MINIMAL}{dev}[devices.shelf]\ncounts_per_kg = 421000\n{}{}", ch(0, "SKU-1", 570, 3), ch(1, "SKU-2", 250, 0));
        let c = Config::from_str(&good, "t.toml").unwrap();
        let s = c.devices[0].shelf_settings();
        assert_eq!(s.channels.len(), 2);
        assert_eq!((s.sample_ms, s.samples, s.gain, s.counts_per_kg, s.debounce_ms), (200, 4, 128, Some(421_000), 20));
        assert_eq!(
            err(&format!("{dev}{}{}", ch(0, "SKU-1", 570, 3), ch(0, "SKU-2", 250, 0))),
            "t.toml:9: devices[0].shelf.channels: channels[1]: channel 0 is listed twice; each channel weighs one product"
        );
        assert_eq!(
            err(&format!("{dev}{}", ch(0, "SKU-1", 0, 3))),
            "t.toml:9: devices[0].shelf.channels: channels[0].unit_grams: expected the weight of one unit in grams, more than 0, got 0"
        );
        assert_eq!(
            err(&format!("{dev}{}", ch(0, " ", 570, 3))),
            "t.toml:9: devices[0].shelf.channels: channels[0].sku: empty; expected the sku of the product on channel 0"
        );
        assert_eq!(
            err(&format!("{dev}{}", ch(2, "SKU-1", 570, -1))),
            "t.toml:9: devices[0].shelf.channels: channels[0].low_units: expected 0 or more units, got -1"
        );
        assert_eq!(
            err(&format!("{dev}[devices.shelf]\ngain = 100\n")),
            "t.toml:16: devices[0].shelf.gain: expected 128 or 64 (channel A) or 32 (channel B), got 100"
        );
        assert_eq!(
            err(&format!("{dev}[devices.shelf]\ncounts_per_kg = 0\n")),
            "t.toml:16: devices[0].shelf.counts_per_kg: 0 counts per kg cannot weigh anything; calibrate with a known weight"
        );
        assert_eq!(
            err(&format!("{dev}[devices.shelf]\ncounts_per_kg = 4294967296\n")),
            "t.toml:16: devices[0].shelf.counts_per_kg: 4294967296 does not fit 32 bits; an HX711 reads at most 8388607 counts"
        );
        assert_eq!(
            err(&format!("{dev}[devices.shelf]\ncounts_per_kg = 421000\nzero_counts = 8388608\n")),
            "t.toml:17: devices[0].shelf.zero_counts: expected a raw HX711 reading, -8388608..=8388607, got 8388608"
        );
    }

    #[test]
    fn a_shelf_node_is_named_by_path_or_node_id() {
        let node = "[[devices]]\nid = \"n\"\nkind = \"shelf\"\ntransport = \"serial\"\n";
        let c = Config::from_str(&format!("{MINIMAL}{node}[devices.shelf]\nnode_id = \"E6604CB02B3A1F25\"\n"), "t.toml").unwrap();
        assert_eq!(c.devices[0].shelf_settings().node_id.as_deref(), Some("E6604CB02B3A1F25"));
        assert_eq!(
            err(&format!("{node}[devices.shelf]\nnode_id = \"E6604CB02B3A1F2\"\n")),
            "t.toml:14: devices[0].shelf.node_id: expected the node's id in 16 hex digits like \"E6604CB02B3A1F25\" (storehub doctor lists them), got \"E6604CB02B3A1F2\""
        );
        assert_eq!(
            err(&format!("{node}path = \"/dev/ttyACM0\"\n[devices.shelf]\nnode_id = \"E6604CB02B3A1F25\"\n")),
            "t.toml:15: devices[0].shelf.node_id: give either path or [devices.shelf].node_id, not both; remove one"
        );
        assert_eq!(err(node), "t.toml:9: devices[0].path: missing required key for transport \"serial\"; or name the node by [devices.shelf].node_id");
        let hx = "[[devices]]\nid = \"w\"\nkind = \"shelf\"\ntransport = \"gpio\"\nprotocol = \"hx711\"\npins = [5, 6]\n";
        assert_eq!(
            err(&format!("{hx}[devices.shelf]\nnode_id = \"E6604CB02B3A1F25\"\n")),
            "t.toml:16: devices[0].shelf.node_id: only a storehub-node (transport \"serial\") is found by its node id; remove it"
        );
    }

    #[test]
    fn scale_settings_rules() {
        let scale = |protocol: &str, table: &str| {
            err(&format!("[[devices]]\nid = \"sc\"\nkind = \"scale\"\ntransport = \"serial\"\nprotocol = \"{protocol}\"\npath = \"/dev/ttyUSB0\"\n[devices.scale]\n{table}"))
        };
        assert_eq!(
            scale("toledo-8217", "poll_ms = 5\n"),
            "t.toml:16: devices[0].scale.poll_ms: expected 20..=60000 ms, got 5"
        );
        assert_eq!(
            scale("mt-sics", "answer_timeout_ms = 500\noffline_after_ms = 400\n"),
            "t.toml:17: devices[0].scale.offline_after_ms: must be longer than answer_timeout_ms (500), or one slow answer marks the scale offline; got 400"
        );
        assert_eq!(
            scale("generic", "pattern = \"(?P<weight>[0-9.]+\"\n"),
            "t.toml:16: devices[0].scale.pattern: not a valid regular expression: unclosed group"
        );
        assert_eq!(
            scale("generic", "pattern = \"(?P<w>[0-9.]+)\"\n"),
            "t.toml:16: devices[0].scale.pattern: the pattern needs a named group (?P<weight>…) around the number, e.g. \"(?P<weight>[-+]?[0-9.]+) ?kg\""
        );
        assert_eq!(
            scale("generic", "unit = \"kg\"\n"),
            "t.toml:15: devices[0].scale.pattern: missing required key for protocol \"generic\"; expected a regular expression with a (?P<weight>…) group, e.g. \"^(?P<weight>[-+]?[0-9.]+) ?kg$\""
        );
        assert_eq!(
            scale("cas", "unit = \"jin\"\n"),
            "t.toml:16: devices[0].scale.unit: expected \"g\", \"kg\", \"lb\" or \"oz\", got \"jin\""
        );
        let ok = format!(
            "{MINIMAL}[[devices]]\nid = \"sc\"\nkind = \"scale\"\ntransport = \"serial\"\nprotocol = \"generic\"\npath = \"/dev/ttyUSB0\"\n[devices.scale]\npattern = '^(?P<stable>ST)?.*?(?P<weight>[-+]?[0-9.]+) ?(?P<unit>kg|g)$'\nunit = \"g\"\n"
        );
        let config = Config::from_str(&ok, "t.toml").unwrap();
        assert_eq!(config.devices[0].scale_settings().poll_ms, 200);
    }

    #[test]
    fn mqtt_rules() {
        assert_eq!(
            err("[mqtt]\nenabled = true\n"),
            "t.toml:9: [mqtt].url: missing required key when [mqtt].enabled = true"
        );
        assert_eq!(
            err("[mqtt]\nenabled = true\nurl = \"mqtt://10.0.0.5:1883\"\n"),
            "t.toml:11: [mqtt].url: plain mqtt:// to \"10.0.0.5\" would send sales unencrypted over the network; use mqtts:// or set [mqtt].allow_insecure = true"
        );
        assert_eq!(err("[mqtt]\ntopic_prefix = \"storehub/#\"\n"), "t.toml:10: [mqtt].topic_prefix: expected topic levels separated by \"/\" without wildcards, spaces or empty levels, like \"storehub/v1\", got \"storehub/#\"");
        assert_eq!(
            err("[mqtt]\nurl = \"mqtt://h\"\nca_file = \"/etc/ca.pem\"\n"),
            "t.toml:11: [mqtt].ca_file: TLS files need an mqtts:// URL"
        );
    }

    #[test]
    fn tier_ladder_must_rise_from_zero() {
        let tier = |id: &str, spend: i64| {
            format!("[[loyalty.tiers]]\nid = \"{id}\"\nname_zh = \"z\"\nname_en = \"e\"\nmin_spend_fen = {spend}\n")
        };
        assert_eq!(
            err(&tier("a", 100)),
            "t.toml:13: [loyalty].tiers[0].min_spend_fen: the first tier is where every member starts; expected 0, got 100"
        );
        assert_eq!(
            err(&format!("{}{}", tier("a", 0), tier("b", 0))),
            "t.toml:18: [loyalty].tiers[1].min_spend_fen: tiers go from lowest to highest; expected more than the previous tier's 0, got 0"
        );
    }

    /// Every key the structs accept is written (maybe commented out) in the example config, so
    /// the example stays the reference as sections grow. Keys are read from the parser itself.
    #[test]
    fn example_config_shows_every_key() {
        let example = include_str!("../config/storehub.example.toml");
        let probes = [
            "__probe = 1\n",
            "[store]\n__probe = 1\n",
            "[data]\n__probe = 1\n",
            "[barcode]\n__probe = 1\n",
            "[[barcode.in_store]]\n__probe = 1\n",
            "[[lanes]]\n__probe = 1\n",
            "[[devices]]\n__probe = 1\n",
            "[[devices]]\n[devices.serial]\n__probe = 1\n",
            "[[devices]]\n[devices.scanner]\n__probe = 1\n",
            "[[devices]]\n[devices.scale]\n__probe = 1\n",
            "[[devices]]\n[devices.printer]\n__probe = 1\n",
            "[[devices]]\n[devices.shelf]\n__probe = 1\n",
            "[[devices]]\n[[devices.shelf.channels]]\n__probe = 1\n",
            "[mqtt]\n__probe = 1\n",
            "[web]\n__probe = 1\n",
            "[loyalty]\n__probe = 1\n",
            "[[loyalty.tiers]]\n__probe = 1\n",
            "[log]\n__probe = 1\n",
            "[analytics]\n__probe = 1\n",
            "[campaigns]\n__probe = 1\n",
            "[tickets]\n__probe = 1\n",
            "[tickets.sla_hours]\n__probe = 1\n",
            "[messages]\n__probe = 1\n",
            "[stock]\n__probe = 1\n",
            "[firmware]\n__probe = 1\n",
            "[disk]\n__probe = 1\n",
        ];
        for probe in probes {
            let e = Config::from_str(probe, "probe").unwrap_err();
            assert_eq!(e.kind, ConfigErrorKind::UnknownKey, "{e}");
            let keys = e.message.strip_prefix("expected one of: ").unwrap();
            for k in keys.split(", ") {
                let shown = example.contains(&format!("\n{k} ="))
                    || example.contains(&format!("# {k} ="))
                    || example.contains(&format!("[{k}]"))
                    || example.contains(&format!(".{k}]"));
                assert!(
                    shown,
                    "key {k:?} (from {probe:?}) is not shown in config/storehub.example.toml"
                );
            }
        }
    }

    #[test]
    fn messages_section_parses_times_and_refuses_bad_ones() {
        let c = Config::from_str(&format!("{MINIMAL}[messages]\nquiet_start = \"22:30\"\nweekly_cap = 0\n"), "t.toml").unwrap();
        assert_eq!(c.messages.quiet_start, chrono::NaiveTime::from_hms_opt(22, 30, 0).unwrap());
        assert_eq!(c.messages.quiet_end, chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(c.messages.weekly_cap, 0);
        let e = Config::from_str(&format!("{MINIMAL}[messages]\nquiet_end = \"9am\"\n"), "t.toml").unwrap_err();
        assert!(e.to_string().contains("[messages].quiet_end: expected a time \"HH:MM\" like \"21:00\", got \"9am\""), "{e}");
        let e = Config::from_str(&format!("{MINIMAL}[messages]\nweekly_cap = 1000\n"), "t.toml").unwrap_err();
        assert!(e.to_string().contains("[messages].weekly_cap: expected 0 to 100"), "{e}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "",
            "\u{feff}",
            "[",
            "[[",
            "= 1",
            "a.b.c = 1",
            "[store]\nchain_id = \"\u{0}\"",
            "\"\\u{ffff}\" = 1",
            "[[lanes]]\n[[lanes]]\nid=1",
            "[devices]\nid = 1",
        ] {
            let _ = Config::from_str(text, "odd");
        }
    }
}
