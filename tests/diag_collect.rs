//! `diag.collect` end to end: a real Mosquitto, a running hub, HQ sends the signed command,
//! receives the manifest and the parts on `…/diag/{id}/…`, reassembles and checks them against
//! the manifest's SHA-256 sums, and finds the device list, log lines and the config without any
//! of its secrets. Also `storehub diag collect --out FILE` on the same box.

mod common;

use std::time::Duration;

use common::hub::{config, HubDaemon};
use serde_json::{json, Value};
use storehub::cloud::commands::signature;

const ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";
/// The MQTT password in the hub's config: must never leave the box.
const MQTT_PASSWORD: &str = "pw-diag-7c1e9f";

#[test]
fn hq_collects_a_bundle_in_parts_that_match_the_manifest_and_hold_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let common::hub::SignedHq { broker: _broker, hq, key, mqtt } = common::hub::signed_hq(ROOT);
    // The broker allows anonymous clients and ignores the credentials the hub sends.
    let mqtt = format!("{mqtt}username = \"hub-1\"\npassword = \"{MQTT_PASSWORD}\"\n");
    // A scanner on a port that does not exist: listed, never connected, logging its failure.
    let device = "\n[[devices]]\nid = \"scanner-diag\"\nkind = \"scanner\"\ntransport = \"serial\"\nprotocol = \"line\"\npath = \"/dev/storehub-test-no-such-port\"\n";
    let cfg = config(tmp.path(), &mqtt, device);
    let data = tmp.path().join("hub");
    let _hub = HubDaemon::start(&cfg, &data);
    hq.wait_until(Duration::from_secs(20), "the hub online", |msgs| msgs.iter().any(|m| m.topic.ends_with("/status") && m.payload == b"online"));
    let command_key = std::fs::read_to_string(&cfg).unwrap().lines().find(|l| l.starts_with("command_keys")).unwrap().split('"').nth(1).unwrap().to_string();

    let id = "diag-1";
    hq.publish(&format!("{ROOT}/cmd/diag.collect"), signature::envelope(&key, "diag.collect", &json!({"id": id, "args": {}}).to_string()));
    let reply = hq.reply(ROOT, id);
    assert_eq!(reply["status"], "applied", "{reply}");
    let manifest_topic = format!("{ROOT}/diag/{id}/manifest");
    assert_eq!(reply["topic"], manifest_topic.as_str());

    // The reply comes after the manifest and every part (one client, QoS 1: in order).
    let msgs = hq.messages();
    let manifest = msgs.iter().find(|m| m.topic == manifest_topic).expect("the manifest").json();
    let n = manifest["parts"].as_array().unwrap().len();
    assert_eq!(reply["parts"], n);
    assert_eq!(reply["sha256"], manifest["sha256"]);
    let parts: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let topic = format!("{ROOT}/diag/{id}/{i}");
            msgs.iter().find(|m| m.topic == topic).unwrap_or_else(|| panic!("part {i} on {topic}")).payload.clone()
        })
        .collect();
    assert!(parts.iter().all(|p| p.len() <= storehub::diag::PART_BYTES));
    let whole = storehub::diag::reassemble(&manifest, &parts).unwrap();
    assert_eq!(whole.len() as u64, manifest["bytes"].as_u64().unwrap());
    let bundle: Value = serde_json::from_slice(&whole).unwrap();

    assert_eq!(bundle["format"], "storehub.diag/1");
    assert_eq!(bundle["versions"]["binary"], env!("CARGO_PKG_VERSION"));
    let devices = bundle["devices"].as_array().expect("the device list");
    let scanner = devices.iter().find(|d| d["id"] == "scanner-diag").unwrap_or_else(|| panic!("scanner-diag in {devices:?}"));
    assert_eq!(scanner["connected"], false);
    assert!(!bundle["logs"].as_array().unwrap().is_empty(), "log lines: {}", bundle["logs"]);
    assert_eq!(bundle["health"]["status"], "ok", "{}", bundle["health"]);
    assert_eq!(bundle["cloud"]["connected"], true);
    assert!(bundle["store"]["disk_free_bytes"].as_u64().unwrap() > 0);
    assert_eq!((bundle["disk_level"].as_str(), bundle["clock"]["verdict"]["state"].as_str()), (Some("ok"), Some("sane")), "{}", bundle["clock"]);
    // The config is there, its secrets are not.
    assert_eq!(bundle["config"]["mqtt"]["username"], "hub-1");
    assert_eq!(bundle["config"]["mqtt"]["password"], "<redacted>");
    assert_eq!(bundle["config"]["mqtt"]["command_keys"], "<redacted>");
    let text = String::from_utf8(whole).unwrap();
    for secret in [MQTT_PASSWORD, command_key.as_str()] {
        assert!(!text.contains(secret), "the bundle holds the secret {secret}");
    }
    for m in hq.messages() {
        assert!(!String::from_utf8_lossy(&m.payload).contains(MQTT_PASSWORD), "{} holds the password", m.topic);
    }

    // The technician's local bundle, from the running daemon.
    let audit = common::hub::cli(&cfg, &data, &["diag", "collect", "--out", tmp.path().join("local.json").to_str().unwrap()]);
    assert!(audit.0, "storehub diag collect failed: {}", audit.2);
    let local: Value = serde_json::from_str(&std::fs::read_to_string(tmp.path().join("local.json")).unwrap()).unwrap();
    assert_eq!(local["format"], "storehub.diag/1");
    assert_eq!(local["config"]["mqtt"]["password"], "<redacted>");
    assert!(local["devices"].as_array().unwrap().iter().any(|d| d["id"] == "scanner-diag"));
    let local_text = std::fs::read_to_string(tmp.path().join("local.json")).unwrap();
    assert!(!local_text.contains(MQTT_PASSWORD));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(tmp.path().join("local.json")).unwrap().permissions().mode() & 0o777, 0o600);

    // A second command with the same id answers as a duplicate and uploads nothing again.
    let parts_before = hq.messages().iter().filter(|m| m.topic.contains("/diag/")).count();
    let replies = |msgs: &[common::broker::Received]| msgs.iter().filter(|m| m.topic.ends_with(&format!("/cmd-reply/{id}"))).count();
    hq.publish(&format!("{ROOT}/cmd/diag.collect"), signature::envelope(&key, "diag.collect", &json!({"id": id, "args": {}}).to_string()));
    hq.wait_until(Duration::from_secs(20), "the duplicate's reply", |msgs| replies(msgs) == 2);
    assert_eq!(hq.reply(ROOT, id)["duplicate"], true);
    assert_eq!(hq.messages().iter().filter(|m| m.topic.contains("/diag/")).count(), parts_before);

    // Audited: HQ's command and the technician's local bundle, each an event HQ receives.
    let audited = |msgs: &[common::broker::Received]| -> Vec<String> {
        msgs.iter()
            .filter(|m| m.topic.ends_with("/evt/storehub.audit.recorded"))
            .map(|m| m.json()["data"].clone())
            .filter(|d| d["action"] == "diag_collected")
            .map(|d| d["actor"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    hq.wait_until(Duration::from_secs(20), "two diag_collected audit events", |msgs| audited(msgs).len() == 2);
    assert_eq!(audited(&hq.messages()), ["hq", "cli"]);
}
