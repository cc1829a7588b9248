//! `config.patch` `{"set": {"mqtt.telemetry_interval_s": 30, …}}`: HQ changes a few whitelisted
//! settings of this hub. Each value is checked with the config file's own range for the key,
//! persisted in the `meta` tree (`config_overrides`, one commit with a `storehub.config.patched`
//! event), and applied either now (through [`LiveSettings`]) or at the next start, when the
//! daemon calls [`load_overrides`] and [`apply_overrides`] after reading the config file. An
//! override wins over the file until HQ sets another value. Keys outside [`SETTINGS`] are
//! refused by name.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::args::{kind_of, only_fields, quote, Refusal};
use crate::cloud::LiveSettings;
use crate::config::Config;
use crate::store::{Record, Store, StoreError, TreeId, Tx, TxError};

/// Meta key of the persisted overrides.
pub const META_KEY: &[u8] = b"config_overrides";
/// Event written with each accepted patch; data: `{"set": {key: value}, "applies": {key: "now" |
/// "at_restart"}}`.
pub const EVENT_CONFIG_PATCHED: &str = "storehub.config.patched";

/// When a setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// At once, through [`LiveSettings`] (and again at every start).
    Now,
    /// At the next start of the daemon.
    AtRestart,
}

impl Applies {
    pub fn as_str(self) -> &'static str {
        match self {
            Applies::Now => "now",
            Applies::AtRestart => "at_restart",
        }
    }
}

/// A setting HQ may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Dotted key: `section.name` as in the config file.
    pub key: &'static str,
    pub min: i64,
    pub max: i64,
    pub unit: &'static str,
    pub applies: Applies,
}

/// The whitelist, with the config file's ranges.
pub const SETTINGS: [Setting; 4] = [
    Setting { key: "mqtt.telemetry_interval_s", min: 0, max: 86_400, unit: "seconds (0 = no telemetry)", applies: Applies::Now },
    Setting { key: "mqtt.inflight", min: 1, max: 10_000, unit: "publishes in flight", applies: Applies::AtRestart },
    Setting { key: "mqtt.outbox_budget_mb", min: 1, max: 1_000_000, unit: "MB", applies: Applies::AtRestart },
    Setting {
        key: "data.snapshot_interval_minutes",
        min: 0,
        max: 10_080,
        unit: "minutes (0 = no automatic snapshots)",
        applies: Applies::AtRestart,
    },
];

/// The setting named `key`.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Overrides HQ has set, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigOverrides {
    /// Key → value, each within its setting's range when written.
    pub values: BTreeMap<String, i64>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Record for ConfigOverrides {
    const NAME: &'static str = "config overrides";
}

/// The checked patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub set: BTreeMap<String, i64>,
}

/// `{"set": {key: integer, …}}` with whitelisted keys and values in range.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    only_fields(args, &["set"], "args")?;
    let set = match args.get("set") {
        None => return Err(Refusal::at("args.set", "missing; it is required")),
        Some(Value::Object(map)) if map.is_empty() => return Err(Refusal::at("args.set", "no settings given")),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(Refusal::at("args.set", format!("expected an object of settings, got {}", kind_of(other)))),
    };
    let mut out = BTreeMap::new();
    for (key, value) in set {
        let at = format!("args.set.{key}");
        let Some(s) = setting(key) else {
            let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
            return Err(Refusal::at(at, format!("not a setting HQ may change; these may: {}", keys.join(", "))));
        };
        match value.as_i64().filter(|v| (s.min..=s.max).contains(v)) {
            Some(v) => out.insert(key.clone(), v),
            None => return Err(Refusal::at(at, format!("expected an integer {}..={} {}, got {}", s.min, s.max, s.unit, quote(value)))),
        };
    }
    Ok(Args { set: out })
}

/// Merges the patch into the stored overrides inside `tx`:
/// `{"set": {…}, "applies": {key: "now" | "at_restart"}}`.
pub fn apply(tx: &Tx, a: &Args) -> Result<Map<String, Value>, TxError<Refusal>> {
    let mut stored: ConfigOverrides = tx.get(TreeId::Meta, META_KEY)?.unwrap_or_default();
    for (k, v) in &a.set {
        stored.values.insert(k.clone(), *v);
    }
    stored.updated_at = Some(tx.now());
    tx.put(TreeId::Meta, META_KEY, &stored)?;
    let applies: BTreeMap<&str, &str> =
        a.set.keys().filter_map(|k| setting(k).map(|s| (s.key, s.applies.as_str()))).collect();
    let data = json!({ "set": a.set, "applies": applies });
    tx.emit(EVENT_CONFIG_PATCHED, None, &data)?;
    let mut m = Map::new();
    m.insert("set".into(), json!(a.set));
    m.insert("applies".into(), json!(applies));
    Ok(m)
}

/// After the commit: the settings that apply now.
pub fn apply_live(a: &Args, live: &LiveSettings) {
    if let Some(v) = a.set.get("mqtt.telemetry_interval_s").and_then(|v| u32::try_from(*v).ok()) {
        live.telemetry_interval_s.store(v, Ordering::Relaxed);
    }
}

/// The overrides HQ has set (none when it never sent `config.patch`).
pub fn load_overrides(store: &Store) -> Result<ConfigOverrides, StoreError> {
    Ok(store.get::<ConfigOverrides>(TreeId::Meta, META_KEY)?.unwrap_or_default())
}

/// Applies stored overrides to a config read from its file (the daemon, at start, before it
/// builds anything from the config). Returns one line per override for the log:
/// `mqtt.inflight = 200 (HQ override; the file says 100)`. A key this build does not know, or
/// a value outside its range, is skipped and said so: the file's value stays.
pub fn apply_overrides(cfg: &mut Config, overrides: &ConfigOverrides) -> Vec<String> {
    let mut notes = Vec::new();
    for (key, &value) in &overrides.values {
        let Some(s) = setting(key).filter(|s| (s.min..=s.max).contains(&value)) else {
            notes.push(format!("{key} = {value}: skipped (not a setting this build lets HQ change, or out of range)"));
            continue;
        };
        let before = match s.key {
            "mqtt.telemetry_interval_s" => set_u32(&mut cfg.mqtt.telemetry_interval_s, value),
            "mqtt.inflight" => match u16::try_from(value) {
                Ok(v) => Some(std::mem::replace(&mut cfg.mqtt.inflight, v).to_string()),
                Err(_) => None,
            },
            "mqtt.outbox_budget_mb" => set_u32(&mut cfg.mqtt.outbox_budget_mb, value),
            "data.snapshot_interval_minutes" => set_u32(&mut cfg.data.snapshot_interval_minutes, value),
            _ => None,
        };
        match before {
            Some(b) => notes.push(format!("{key} = {value} (HQ override; the file says {b})")),
            None => notes.push(format!("{key} = {value}: skipped (this build cannot apply it)")),
        }
    }
    notes
}

fn set_u32(slot: &mut u32, value: i64) -> Option<String> {
    u32::try_from(value).ok().map(|v| std::mem::replace(slot, v).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelisted_keys_in_range_only() {
        let a = parse(&json!({"set": {"mqtt.telemetry_interval_s": 30, "mqtt.inflight": 200}})).unwrap();
        assert_eq!(a.set.get("mqtt.telemetry_interval_s"), Some(&30));
        let e = |v: Value| parse(&v).unwrap_err().error_text();
        assert_eq!(
            e(json!({"set": {"mqtt.url": "mqtt://evil:1883"}})),
            "args.set.mqtt.url: not a setting HQ may change; these may: mqtt.telemetry_interval_s, mqtt.inflight, mqtt.outbox_budget_mb, data.snapshot_interval_minutes"
        );
        assert_eq!(
            e(json!({"set": {"mqtt.inflight": 0}})),
            "args.set.mqtt.inflight: expected an integer 1..=10000 publishes in flight, got 0"
        );
        assert_eq!(
            e(json!({"set": {"mqtt.telemetry_interval_s": "30"}})),
            "args.set.mqtt.telemetry_interval_s: expected an integer 0..=86400 seconds (0 = no telemetry), got \"30\""
        );
        assert_eq!(e(json!({"set": {}})), "args.set: no settings given");
        assert!(e(json!({"unset": ["mqtt.inflight"]})).starts_with("args.unset: unknown field"));
    }

    #[test]
    fn overrides_win_over_the_file_at_start() {
        let mut cfg = Config::demo().unwrap();
        let file_inflight = cfg.mqtt.inflight;
        let mut o = ConfigOverrides::default();
        o.values.insert("mqtt.inflight".into(), 250);
        o.values.insert("data.snapshot_interval_minutes".into(), 0);
        o.values.insert("web.listen".into(), 1);
        let notes = apply_overrides(&mut cfg, &o);
        assert_eq!(cfg.mqtt.inflight, 250);
        assert_eq!(cfg.data.snapshot_interval_minutes, 0);
        assert_eq!(
            notes,
            vec![
                "data.snapshot_interval_minutes = 0 (HQ override; the file says 30)".to_string(),
                format!("mqtt.inflight = 250 (HQ override; the file says {file_inflight})"),
                "web.listen = 1: skipped (not a setting this build lets HQ change, or out of range)".to_string(),
            ]
        );
    }
}
