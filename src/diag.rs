//! The diagnostic bundle a technician or HQ asks for (`storehub diag collect`, the `diag.collect`
//! HQ command): versions, the config with its secrets replaced by `"<redacted>"`, devices and
//! their health, recent log lines, outbox and store figures, the `/healthz` verdict, the disk
//! guard's level and the clock's verdict, as one
//! JSON document; and its split into bounded parts with a manifest (sizes, SHA-256) for MQTT.
//! It only reads: nothing here writes to the store. It never holds member data (no member, sale
//! or staff record is read) and never a secret (see [`redact_config`]).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::cloud::CloudState;
use crate::devices::health::DeviceHealth;
use crate::store::Store;

/// The bundle's `format` field; a reader refuses another one.
pub const FORMAT: &str = "storehub.diag/1";
/// What replaces every secret value of the config.
pub const REDACTED: &str = "<redacted>";
/// Log lines in a bundle (the newest; the ring keeps [`crate::logring::CAPACITY`]).
pub const LOG_LINES: usize = 500;
/// Largest part published on MQTT, in bytes (well under the broker's and client's packet limit).
pub const PART_BYTES: usize = 48 * 1024;
/// Most parts of one bundle: 128 × 48 KiB = 6 MiB. A bundle is far smaller (500 log lines of at
/// most 2 KiB are 1 MiB at worst); a bigger one is refused rather than flooding the link.
pub const MAX_PARTS: usize = 128;

/// Key names (or parts of them) whose values are secrets: the value is replaced, the key kept,
/// so the technician sees that it is set. Matched case-insensitively on every level of the
/// config, in tables and in arrays of tables. `key` also catches `key_file` and HQ's public
/// keys: a path to a key says where the key is, which a bundle need not.
const SECRET_KEY_PARTS: [&str; 8] = ["password", "passwd", "secret", "token", "key", "pin", "credential", "psk"];

/// What the bundle is made from. Everything is optional but the store: the CLI without a daemon
/// has no device board or relay status, and a box may run without a config file (demo).
pub struct Sources<'a> {
    pub store: &'a Store,
    /// The devices as the daemon's health board knows them (None without a running daemon).
    pub devices: Option<Vec<DeviceHealth>>,
    /// The relay's last status (None when no relay runs).
    pub cloud: Option<CloudState>,
    /// The config file's text, redacted here; None when there is none or it is added later.
    pub config_text: Option<&'a str>,
    /// `[mqtt].outbox_budget_mb` in bytes, for the health verdict.
    pub outbox_budget_bytes: u64,
    /// When the daemon started (None outside it).
    pub started_at: Option<DateTime<Utc>>,
    /// The newest log lines (oldest first): [`crate::logring::recent`] in the daemon.
    pub log_lines: Vec<String>,
}

/// Builds the bundle. Blocking (store reads, file sizes, statvfs); a read that fails is reported
/// in place (`{"error": …}`) rather than failing the whole bundle: a box in trouble is exactly
/// when the bundle is wanted.
pub fn collect(src: &Sources) -> Value {
    let store = src.store;
    let now = store.clock().now();
    let data = store.path();
    let firmware: Vec<Value> = src
        .devices
        .iter()
        .flatten()
        .filter(|d| d.firmware.is_some() || d.model.is_some())
        .map(|d| json!({ "device": d.id, "model": d.model, "firmware": d.firmware }))
        .collect();
    let config = match src.config_text {
        Some(text) => redact_config(text).unwrap_or_else(|e| json!({ "error": e })),
        None => Value::Null,
    };
    let usage = store.outbox_usage();
    let oldest = match store.outbox_batch(0, 1) {
        Ok(first) => json!(first.first().map(|e| (now - e.time).num_seconds().max(0))),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let dropped = match store.outbox_dropped_total() {
        Ok(n) => json!(n),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let snapshots = crate::store::snapshot::list(&crate::store::snapshot::snapshot_dir(data)).unwrap_or_default();
    let disk = crate::cloud::telemetry::disk_space(data);
    let health = crate::web::healthz::check_with(store, src.cloud.clone(), src.outbox_budget_bytes);
    json!({
        "format": FORMAT,
        "generated_at": crate::cloud::commands::rfc3339(now),
        "versions": {
            "binary": env!("CARGO_PKG_VERSION"),
            "schema": crate::store::SCHEMA_VERSION,
            "firmware": firmware,
        },
        "uptime_s": src.started_at.map(|s| (now - s).num_seconds().max(0)),
        "config": config,
        "devices": src.devices,
        "logs": src.log_lines,
        "outbox": {
            "events": usage.count,
            "bytes": usage.bytes,
            "budget_bytes": src.outbox_budget_bytes,
            "oldest_age_s": oldest,
            "dropped_total": dropped,
        },
        "cloud": src.cloud,
        "store": {
            "db_bytes": crate::web::metrics::dir_bytes(&crate::store::db_path(data), 2),
            "journal_bytes": crate::web::metrics::dir_bytes(&crate::store::journal_path(data), 1),
            "journal_written_bytes": store.journal_bytes_written(),
            "journal_replayed_records": store.replayed().records,
            "write_failure": store.write_failure().map(|e| e.to_string()),
            "snapshots": snapshots.len(),
            "disk_free_bytes": disk.map(|d| d.0),
            "disk_size_bytes": disk.map(|d| d.1),
        },
        "health": health.to_json(),
        "disk_level": store.disk_level(),
        "clock": crate::clock_watch::peek(store).map_or_else(|e| json!({ "error": e.to_string() }), |v| json!({ "verdict": v, "message": v.describe() })),
    })
}

/// Whether a config key's value is a secret (see [`SECRET_KEY_PARTS`]).
pub fn is_secret_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|p| lower.contains(p))
}

/// The config file's text as JSON with every secret value (see [`is_secret_key`]) replaced by
/// [`REDACTED`]. A file that is not TOML gives an error naming why; its text is never echoed
/// (it may hold a password).
pub fn redact_config(text: &str) -> Result<Value, String> {
    let parsed: toml::Value = toml::from_str(text).map_err(|e| format!("the config file is not valid TOML ({} at {:?}); run `storehub check-config`", e.message(), e.span()))?;
    let as_json = serde_json::to_value(&parsed).map_err(|e| format!("the config file cannot be shown as JSON: {e}"))?;
    Ok(redact(as_json))
}

fn redact(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) { json!(REDACTED) } else { redact(v) };
                    (k, v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// A bundle cut for MQTT: the parts in order and the manifest that describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub manifest: Value,
    pub parts: Vec<Vec<u8>>,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Cuts `bundle` (the JSON bytes) into parts of at most `part_bytes`, with the manifest:
/// `{"format", "content_type", "bytes", "sha256", "part_bytes", "parts": [{"index", "bytes",
/// "sha256"}]}`. Refused when it would need more than [`MAX_PARTS`] parts.
pub fn split(bundle: &[u8], part_bytes: usize) -> Result<Upload, String> {
    if part_bytes == 0 {
        return Err("part size must be at least 1 byte".into());
    }
    let parts: Vec<Vec<u8>> = bundle.chunks(part_bytes).map(<[u8]>::to_vec).collect();
    if parts.len() > MAX_PARTS {
        return Err(format!("the bundle is {} bytes: more than {MAX_PARTS} parts of {part_bytes} bytes; collect it locally with `storehub diag collect --out FILE`", bundle.len()));
    }
    let listed: Vec<Value> = parts.iter().enumerate().map(|(i, p)| json!({ "index": i, "bytes": p.len(), "sha256": sha256_hex(p) })).collect();
    let manifest = json!({
        "format": FORMAT,
        "content_type": "application/json",
        "bytes": bundle.len(),
        "sha256": sha256_hex(bundle),
        "part_bytes": part_bytes,
        "parts": listed,
    });
    Ok(Upload { manifest, parts })
}

/// Puts the parts back together and checks them against the manifest (each part's size and
/// hash, then the whole): what HQ does, and what the tests do. The error names the part.
pub fn reassemble(manifest: &Value, parts: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    if manifest["format"] != FORMAT {
        return Err(format!("manifest format is {}, expected {FORMAT:?}", manifest["format"]));
    }
    let listed = manifest["parts"].as_array().ok_or("manifest has no parts array")?;
    if listed.len() != parts.len() {
        return Err(format!("manifest lists {} parts, {} received", listed.len(), parts.len()));
    }
    let mut whole = Vec::new();
    for (i, (entry, part)) in listed.iter().zip(parts).enumerate() {
        if entry["bytes"].as_u64() != Some(part.len() as u64) {
            return Err(format!("part {i}: {} bytes, manifest says {}", part.len(), entry["bytes"]));
        }
        if entry["sha256"].as_str() != Some(sha256_hex(part).as_str()) {
            return Err(format!("part {i}: SHA-256 does not match the manifest"));
        }
        whole.extend_from_slice(part);
    }
    if manifest["sha256"].as_str() != Some(sha256_hex(&whole).as_str()) {
        return Err("the reassembled bundle's SHA-256 does not match the manifest".into());
    }
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_every_level_and_the_rest_kept() {
        let text = r#"
[store]
chain_id = "huamei"
[mqtt]
url = "mqtts://hq.example:8883"
username = "hub-1"
password = "hunter2-mqtt"
key_file = "/etc/storehub/hub.key"
[commands]
hq_public_keys = ["AAAA"]
[[devices]]
id = "scale-1"
pin = "4711"
"#;
        let v = redact_config(text).unwrap();
        let shown = v.to_string();
        assert!(!shown.contains("hunter2-mqtt") && !shown.contains("4711") && !shown.contains("hub.key") && !shown.contains("AAAA"), "{shown}");
        assert_eq!(v["mqtt"]["password"], REDACTED);
        assert_eq!(v["mqtt"]["key_file"], REDACTED);
        assert_eq!(v["devices"][0]["pin"], REDACTED);
        assert_eq!(v["mqtt"]["username"], "hub-1");
        assert_eq!(v["store"]["chain_id"], "huamei");
    }

    #[test]
    fn a_config_that_is_not_toml_is_refused_without_echoing_it() {
        let e = redact_config("password = \"hunter2\n").unwrap_err();
        assert!(e.contains("not valid TOML") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn a_bundle_of_100_bytes_in_parts_of_40_is_three_parts_that_reassemble() {
        // 100 = 40 + 40 + 20.
        let bundle: Vec<u8> = (0..100u8).collect();
        let up = split(&bundle, 40).unwrap();
        assert_eq!(up.parts.iter().map(Vec::len).collect::<Vec<_>>(), vec![40, 40, 20]);
        assert_eq!(up.manifest["bytes"], 100);
        assert_eq!(reassemble(&up.manifest, &up.parts).unwrap(), bundle);
        let mut bad = up.parts.clone();
        bad[1][0] ^= 1;
        assert_eq!(reassemble(&up.manifest, &bad).unwrap_err(), "part 1: SHA-256 does not match the manifest");
        assert!(reassemble(&up.manifest, &up.parts[..2]).unwrap_err().contains("lists 3 parts, 2 received"));
    }

    #[test]
    fn sha256_of_abc_is_the_fips_180_example() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_bundle_over_the_part_limit_is_refused() {
        // 129 parts of 1 byte: one more than MAX_PARTS.
        let e = split(&[0u8; MAX_PARTS + 1], 1).unwrap_err();
        assert!(e.contains("storehub diag collect --out FILE"), "{e}");
    }
}
