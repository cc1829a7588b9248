//! Pairing with HQ end to end against a real Mosquitto: an unpaired box (config with
//! `[pairing]`, no `[store]`) shows its code on its page, publishes its request; HQ (this test)
//! answers with forged, unsigned and wrong-code replies, which change nothing, then with a
//! bundle signed by its pairing key; the box writes the overlay, restarts itself and its relay
//! publishes the pairing event on the store's topics. Also the worked example of
//! docs/provisioning.md, byte for byte.

mod common;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::broker::{free_port, Broker, Hq};
use ring::signature::KeyPair as _;
use storehub::provision::pairing::{self, Bundle, PairingRequest};

const STORE_ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: box\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn new_key() -> (Vec<u8>, String) {
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let kp = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    (pkcs8.as_ref().to_vec(), base64::engine::general_purpose::STANDARD.encode(kp.public_key().as_ref()))
}

fn bundle(box_id: &str, code: &str, broker: &str, command_key: &str) -> String {
    serde_json::to_string(&Bundle {
        v: 1,
        box_id: box_id.into(),
        code: code.into(),
        chain_id: "huamei".into(),
        store_id: "sh-xuhui-001".into(),
        hub_id: "hub-1".into(),
        store_name: "华美超市 徐汇店".into(),
        broker: broker.into(),
        username: None,
        password: None,
        password_sealed: None,
        ca_pem: None,
        cert_pem: None,
        command_keys: vec![command_key.into()],
        issued_at: "2026-11-26T08:00:00Z".into(),
    })
    .unwrap()
}

/// HQ's side of the sealed password, done with libsodium itself (`crypto_box_seal`, through
/// Python's ctypes; scripts/test.sh installs libsodium23 and python3): base64 of the sealed box.
fn libsodium_seal(public_b64: &str, message: &str) -> String {
    const SCRIPT: &str = r#"
import base64, ctypes, sys
s = ctypes.CDLL("libsodium.so.23")
assert s.sodium_init() >= 0
pk, m = base64.b64decode(sys.argv[1]), sys.argv[2].encode()
assert len(pk) == 32
c = ctypes.create_string_buffer(len(m) + 48)
assert s.crypto_box_seal(c, m, ctypes.c_ulonglong(len(m)), pk) == 0
print(base64.b64encode(c.raw).decode())
"#;
    let out = Command::new("python3").args(["-c", SCRIPT, public_b64, message]).output().expect("python3 (scripts/test.sh installs it)");
    assert!(out.status.success(), "libsodium's crypto_box_seal: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn cli(cfg: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_storehub")).arg("--config").arg(cfg).args(args).env_remove("STOREHUB_DATA_DIR").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_unpaired_box_pairs_with_hq_and_starts_relaying() {
    let broker = Broker::start();
    let hq = Hq::subscribe(broker.port, "storehub/#");
    let (pair_pkcs8, pair_public) = new_key();
    let (_cmd_pkcs8, cmd_public) = new_key();
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let web_port = free_port();
    let cfg = t.path().join("storehub.toml");
    std::fs::write(
        &cfg,
        format!(
            "[pairing]\nbroker = \"{}\"\nhq_key = \"{pair_public}\"\n\n[data]\ndir = \"{}\"\n\n[web]\nlisten = \"127.0.0.1:{web_port}\"\n",
            broker.url(),
            data.display()
        ),
    )
    .unwrap();
    let (ok, _, err) = cli(&cfg, &["pairing", "show"]);
    assert!(!ok && err.contains("no pairing code yet"), "{err}");
    let log = std::fs::File::create(t.path().join("daemon.log")).unwrap();
    let _daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_storehub"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .env("STOREHUB_LOG", "info")
            .env_remove("STOREHUB_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let daemon_log = || std::fs::read_to_string(t.path().join("daemon.log")).unwrap_or_default();

    // The request, retained on storehub/pairing/request/<box id>.
    hq.wait_until(Duration::from_secs(30), "a pairing request", |m| m.iter().any(|r| r.topic.starts_with("storehub/pairing/request/") && !r.payload.is_empty()));
    let req_msg = hq.messages().into_iter().find(|r| r.topic.starts_with("storehub/pairing/request/")).unwrap();
    let req: PairingRequest = serde_json::from_slice(&req_msg.payload).unwrap();
    assert_eq!(req_msg.topic, pairing::request_topic(&req.box_id));
    assert!(req.csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&req.seal_key).unwrap().len(), 32, "{}", req.seal_key);
    let seal_file = data.join("pairing/seal.key");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&seal_file).unwrap().permissions()) & 0o777, 0o600);
    // The page shows the code; its hash is the request's.
    let page = wait_for("the pairing page", Duration::from_secs(10), || http_get(web_port));
    let shown = page.split("id=\"pairing-code\"").nth(1).and_then(|r| r.split('>').nth(1)).and_then(|r| r.split('<').next()).expect("code on the page").to_string();
    let code = pairing::normalize_code(&shown);
    assert_eq!(code.len(), 8);
    assert_eq!(pairing::code_hash(&req.box_id, &code), req.code_hash, "the page's code is the one the request hashes");
    assert!(page.contains(&req.fingerprint));
    let (ok, out, err) = cli(&cfg, &["pairing", "show"]);
    assert!(ok && out.contains(&shown) && out.contains(&req.box_id), "{out}{err}");
    let (ok, out, err) = cli(&cfg, &["status"]);
    assert!(ok && out.contains(&shown) && out.contains("not paired"), "status shows the code: {out}{err}");
    let (ok, _, err) = cli(&cfg, &["stock", "show"]);
    assert!(!ok && err.contains("not paired with HQ yet") && err.contains("pairing show"), "{err}");

    // Refused replies: each shows on the page as the last refusal; nothing is written.
    let reply_topic = pairing::reply_topic(&req.box_id);
    let (other_pkcs8, _) = new_key();
    // The good bundle carries the broker password sealed by libsodium to the request's key.
    let mut good: Bundle = serde_json::from_str(&bundle(&req.box_id, &code, &broker.url(), &cmd_public)).unwrap();
    good.username = Some("hub-1".into());
    good.password_sealed = Some(libsodium_seal(&req.seal_key, "s3cret-from-hq"));
    let good = serde_json::to_string(&good).unwrap();
    // Sealed to another box's key: HQ signed it, but the box cannot open it.
    let mut missealed: Bundle = serde_json::from_str(&good).unwrap();
    missealed.password_sealed = Some(libsodium_seal("WGmv9FBUlzLLqu1eXfmzCm2jHLDldCutWtShp2jxpns=", "s3cret-from-hq"));
    let missealed = serde_json::to_vec(&pairing::sign_reply(&pair_pkcs8, &req.box_id, &serde_json::to_string(&missealed).unwrap()).unwrap()).unwrap();
    let forged = serde_json::to_vec(&pairing::sign_reply(&other_pkcs8, &req.box_id, &good).unwrap()).unwrap();
    let unsigned = serde_json::to_vec(&serde_json::json!({ "bundle": good, "signature": "" })).unwrap();
    let wrong_code = serde_json::to_vec(&pairing::sign_reply(&pair_pkcs8, &req.box_id, &bundle(&req.box_id, "ABCDEFGH", &broker.url(), &cmd_public)).unwrap()).unwrap();
    // Signed by HQ, but its certificate is not for this box's key.
    let other = rcgen::generate_simple_self_signed(vec!["hub-1".to_string()]).unwrap();
    let mut misfit: Bundle = serde_json::from_str(&bundle(&req.box_id, &code, "mqtts://127.0.0.1:8883", &cmd_public)).unwrap();
    misfit.ca_pem = Some(other.cert.pem());
    misfit.cert_pem = Some(other.cert.pem());
    let misfit = serde_json::to_vec(&pairing::sign_reply(&pair_pkcs8, &req.box_id, &serde_json::to_string(&misfit).unwrap()).unwrap()).unwrap();
    for (payload, shown_reason) in [(forged, "does not verify"), (unsigned, "not base64 of 64 bytes"), (wrong_code, "different pairing code"), (misfit, "do not work with this box"), (missealed, "does not open with this box")] {
        hq.publish(&reply_topic, payload);
        wait_for(shown_reason, Duration::from_secs(15), || http_get(web_port).filter(|p| p.contains(shown_reason)));
        for f in ["paired.toml", "hub.pem", "ca.pem"] {
            assert!(!data.join("pairing").join(f).exists(), "{f} written for a refused reply ({shown_reason})");
        }
    }
    assert!(daemon_log().contains("pairing reply refused"));

    // The signed bundle: the box pairs, restarts, and its relay publishes on the store's topics.
    hq.publish(&reply_topic, serde_json::to_vec(&pairing::sign_reply(&pair_pkcs8, &req.box_id, &good).unwrap()).unwrap());
    let paired_topic = format!("{STORE_ROOT}/evt/{}", storehub::provision::pairing_mode::EVENT_PAIRED);
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        hq.wait_until(Duration::from_secs(60), "the pairing event on the store's topic", |m| m.iter().any(|r| r.topic == paired_topic));
    }));
    assert!(waited.is_ok(), "daemon log:\n{}", daemon_log());
    let ev = hq.on(&format!("/evt/{}", storehub::provision::pairing_mode::EVENT_PAIRED))[0].json();
    assert_eq!(ev["data"]["box_id"], req.box_id.as_str());
    assert_eq!(ev["source"], "/storehub/huamei/sh-xuhui-001/hub-1");
    hq.wait_until(Duration::from_secs(20), "the audit entry's event", |m| {
        m.iter().any(|r| r.topic.ends_with("/evt/storehub.audit.recorded") && r.json()["data"]["action"] == "paired" && r.json()["data"]["actor"] == "hq")
    });
    // The retained request was taken down.
    assert!(hq.messages().iter().any(|r| r.topic == req_msg.topic && r.payload.is_empty()));
    let overlay = data.join("pairing/paired.toml");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&overlay).unwrap().permissions()) & 0o777, 0o600);
    let overlay_text = std::fs::read_to_string(&overlay).unwrap();
    assert!(overlay_text.contains("username = \"hub-1\"") && overlay_text.contains("password = \"s3cret-from-hq\""), "the sealed password, opened:\n{overlay_text}");
    let (ok, out, _) = cli(&cfg, &["pairing", "show"]);
    assert!(ok && out.contains("chain huamei store sh-xuhui-001 hub hub-1"), "{out}");
    // The restarted daemon answers on its control socket as the store's hub.
    wait_for("the paired daemon's status", Duration::from_secs(30), || cli(&cfg, &["status"]).0.then_some(()));
}

/// docs/provisioning.md's worked example: HQ's pairing key from the seed 0x01..0x20, a fixed
/// bundle; the signature and code hash in the document are what the code computes.
#[test]
fn the_documented_worked_example_is_exact() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/provisioning.md")).unwrap();
    let seed: Vec<u8> = (1u8..=32).collect();
    let mut pkcs8 = vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    pkcs8.extend_from_slice(&seed);
    let kp = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(kp.public_key().as_ref());
    let (box_id, code) = ("box-k7m2p9x4q8rt", "7KQ4M9XP");
    let bundle = r#"{"v":1,"box_id":"box-k7m2p9x4q8rt","code":"7KQ4M9XP","chain_id":"huamei","store_id":"sh-xuhui-001","hub_id":"hub-1","store_name":"华美超市 徐汇店","broker":"mqtts://mqtt.huamei.example.cn:8883","username":"hub-1","password":"s3cret-from-hq","command_keys":["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],"issued_at":"2026-11-26T08:00:00Z"}"#;
    let reply = pairing::sign_reply(&pkcs8, box_id, bundle).unwrap();
    let reply_json = serde_json::to_string(&reply).unwrap();
    let hash = pairing::code_hash(box_id, code);
    for (what, value) in [("public key", &public), ("code hash", &hash), ("bundle", &bundle.to_string()), ("signature", &reply.signature), ("reply", &reply_json)] {
        assert!(doc.contains(value.as_str()), "docs/provisioning.md lacks the {what}: {value}");
    }
    let key: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
    let b = pairing::accept(reply_json.as_bytes(), box_id, code, &key, &pairing::SealKey::from_bytes([0; 32])).unwrap();
    assert_eq!(b.hub_id, "hub-1");
    assert_eq!(pairing::signed_input(box_id, bundle)[..31], *b"storehub-pair/1\nbox-k7m2p9x4q8r");
}

/// config/pairing.example.toml (what a remotely paired box ships with) is an unpaired config.
#[test]
fn the_pairing_example_config_is_an_unpaired_box() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/pairing.example.toml"));
    let t = tempfile::tempdir().unwrap();
    match storehub::provision::pairing_mode::load(path, Some(t.path())).unwrap() {
        storehub::provision::pairing_mode::Loaded::Unpaired(u) => {
            assert_eq!(u.pairing.broker.to_string(), "mqtts://pair.huamei.example.cn:8883");
            assert_eq!(u.listen.to_string(), "0.0.0.0:8080");
            assert_eq!(u.data_dir, t.path());
        }
        storehub::provision::pairing_mode::Loaded::Config(_) => panic!("the example has no [store]: it must load as unpaired"),
    }
    // A bad key is named with its line.
    let bad = t.path().join("bad.toml");
    std::fs::write(&bad, "[pairing]\nbroker = \"mqtts://h.example.cn\"\nhq_key = \"abc\"\n[data]\ndir = \"/d\"\n").unwrap();
    let e = storehub::provision::pairing_mode::load(&bad, None).err().expect("a bad hq_key is refused");
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("[pairing].hq_key")), "{e}");
}
