//! The daemon of a box that is not paired yet (its config has `[pairing]` and no `[store]`):
//! it keeps a box id, pairing code and key under `DATA/pairing/`, shows the code on its web
//! page, publishes the pairing request and waits for HQ's signed bundle. A bundle that passes
//! `pairing::accept` is written as `DATA/pairing/paired.toml` (the only writable place under
//! systemd's ProtectSystem=strict), laid over the config at every load ([`load`]), audited
//! (`paired`, actor `hq`) with a `storehub.pairing.completed` event, and the caller restarts
//! the daemon into normal operation. Nothing is written for a refused reply.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS, TlsConfiguration, Transport};
use serde::{Deserialize, Serialize};

use super::files::{self, Access};
use super::pairing::{self, Bundle, OverlayPaths, PairingRequest};
use crate::config::{Config, ConfigError, MqttConfig, MqttUrl, Secret};

/// Event emitted when pairing finished (data: [`Paired`]).
pub const EVENT_PAIRED: &str = "storehub.pairing.completed";

/// `[pairing]`: where to ask and whose signature to trust.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingSection {
    /// The pairing broker (HQ's), `mqtts://` (or `mqtt://` on this box, for tests).
    pub broker: MqttUrl,
    /// HQ's pairing public key: base64 of the 32 raw Ed25519 bytes.
    pub hq_key: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
}

#[derive(Deserialize)]
struct PairingBase {
    pairing: PairingSection,
    data: BaseData,
    #[serde(default)]
    web: BaseWeb,
}

#[derive(Deserialize)]
struct BaseData {
    dir: PathBuf,
}

#[derive(Deserialize, Default)]
struct BaseWeb {
    #[serde(default)]
    listen: Option<SocketAddr>,
}

/// A box waiting to be paired.
#[derive(Debug, Clone)]
pub struct Unpaired {
    pub pairing: PairingSection,
    pub hq_key: [u8; 32],
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub config_path: PathBuf,
}

/// What loading the config found.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    Config(Config),
    Unpaired(Unpaired),
}

/// `DATA/pairing/`.
pub fn pairing_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pairing")
}

/// `DATA/pairing/paired.toml`, the overlay a bundle writes.
pub fn overlay_path(data_dir: &Path) -> PathBuf {
    pairing_dir(data_dir).join("paired.toml")
}

fn overlay_paths(data_dir: &Path) -> OverlayPaths {
    let d = pairing_dir(data_dir);
    OverlayPaths { ca: d.join("ca.pem"), cert: d.join("hub.pem"), key: d.join("box.key") }
}

/// Loads a config: a provisioned one as `Config::load` does; one with `[pairing]` and no
/// `[store]` is either paired (its overlay exists under the data dir: the two are laid
/// together) or [`Loaded::Unpaired`].
pub fn load(path: &Path, data_dir_override: Option<&Path>) -> Result<Loaded, ConfigError> {
    let source = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(_) => return Config::load(path).map(Loaded::Config),
    };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(_) => return Config::load(path).map(Loaded::Config),
    };
    if table.contains_key("store") || !table.contains_key("pairing") {
        return Config::load(path).map(Loaded::Config);
    }
    let base: PairingBase = serde_path_to_error::deserialize(toml::Deserializer::new(&text))
        .map_err(|e| ConfigError::from_serde(&text, &source, &e))?;
    let hq_key = crate::cloud::commands::parse_public_key(&base.pairing.hq_key).map_err(|m| {
        let mut e = error_at(&source);
        e.key = Some("[pairing].hq_key".into());
        e.line = crate::config::locate_key(&text, "[pairing].hq_key");
        e.message = m;
        e
    })?;
    let data_dir = data_dir_override.map(Path::to_path_buf).unwrap_or(base.data.dir);
    let overlay = overlay_path(&data_dir);
    if overlay.exists() {
        let otext = std::fs::read_to_string(&overlay).map_err(|e| {
            let mut err = error_at(&overlay.display().to_string());
            err.message = format!("cannot read the pairing result: {e}");
            err
        })?;
        let otable: toml::Table = otext.parse().map_err(|e| ConfigError::from_syntax(&otext, &overlay.display().to_string(), &e))?;
        let merged = pairing::merge(table, otable);
        let merged_text = toml::to_string(&merged).unwrap_or_default();
        let mut cfg = Config::from_str(&merged_text, &format!("{source} + {}", overlay.display()))?;
        if let Some(d) = data_dir_override {
            cfg.apply_data_dir_override(d.to_path_buf());
        }
        return Ok(Loaded::Config(cfg));
    }
    let listen = base.web.listen.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 8080)));
    Ok(Loaded::Unpaired(Unpaired { pairing: base.pairing, hq_key, data_dir, listen, config_path: path.to_path_buf() }))
}

/// An invalid-value error about `source`, to fill in.
fn error_at(source: &str) -> ConfigError {
    ConfigError {
        source_name: source.to_string(),
        line: None,
        key: None,
        kind: crate::config::ConfigErrorKind::Invalid,
        message: String::new(),
    }
}

/// What a box keeps while it waits (`DATA/pairing/state.json`; its key is `box.key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub box_id: String,
    pub code: String,
}

/// The box's identity as shown and published.
#[derive(Debug, Clone)]
pub struct Identity {
    pub state: State,
    pub fingerprint: String,
    pub csr_pem: String,
}

fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).map_err(|_| anyhow::anyhow!("the system's random source (getrandom) failed; check the kernel"))?;
    Ok(b)
}

/// Reads the box's pairing state, or `None` when the daemon has not made one yet.
pub fn read_identity(data_dir: &Path) -> anyhow::Result<Option<Identity>> {
    let dir = pairing_dir(data_dir);
    let (sp, kp) = (dir.join("state.json"), dir.join("box.key"));
    if !sp.exists() || !kp.exists() {
        return Ok(None);
    }
    let state: State = serde_json::from_slice(&std::fs::read(&sp)?).with_context(|| format!("{} is damaged; delete it and restart to get a new code", sp.display()))?;
    let key = std::fs::read_to_string(&kp)?;
    let k = super::tls::csr_for_key_pem(&key, &state.box_id, &state.box_id).map_err(anyhow::Error::msg)?;
    Ok(Some(Identity { state, fingerprint: k.fingerprint, csr_pem: k.csr_pem }))
}

/// The box's identity, made on first start (id, code, key) and kept until it is paired.
pub fn identity(data_dir: &Path) -> anyhow::Result<Identity> {
    if let Some(i) = read_identity(data_dir)? {
        return Ok(i);
    }
    let dir = pairing_dir(data_dir);
    let state = State { box_id: pairing::new_box_id(random()?), code: pairing::new_code(random()?) };
    let k = super::tls::new_key_and_csr(&state.box_id, &state.box_id).map_err(anyhow::Error::msg)?;
    files::write(&dir.join("box.key"), k.key_pem.as_bytes(), Access::Secret)?;
    files::write(&dir.join("state.json"), &serde_json::to_vec(&state)?, Access::Secret)?;
    Ok(Identity { state, fingerprint: k.fingerprint, csr_pem: k.csr_pem })
}

/// The box's seal key (`DATA/pairing/seal.key`, 32 secret bytes, owner-only), made on first
/// use: HQ seals the broker password to its public half (`pairing::SealKey`). Only the daemon
/// calls this (it owns the data dir; a file made by a root shell would be unreadable to it).
pub fn seal_key(data_dir: &Path) -> anyhow::Result<pairing::SealKey> {
    let path = pairing_dir(data_dir).join("seal.key");
    if path.exists() {
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| anyhow::anyhow!("{} holds {} bytes, not 32: it is damaged; delete it and restart (HQ then seals to the new key)", path.display(), b.len()))?;
        return Ok(pairing::SealKey::from_bytes(secret));
    }
    let secret = random::<32>()?;
    files::write(&path, &secret, Access::Secret)?;
    Ok(pairing::SealKey::from_bytes(secret))
}

/// The text `storehub pairing show` prints (zh-CN first).
pub fn describe(id: &Identity, u: &Unpaired) -> String {
    format!(
        "本机未配对 / this box is not paired with HQ yet\n  配对码 / pairing code: {}\n  本机编号 / box id: {}\n  密钥指纹 / key fingerprint: {}\n  配对服务器 / pairing broker: {}\n在总部系统输入配对码 / type the code into HQ's console\n",
        pairing::show_code(&id.state.code),
        id.state.box_id,
        id.fingerprint,
        u.pairing.broker
    )
}

/// Data of [`EVENT_PAIRED`] (ids only).
#[derive(Debug, Clone, Serialize)]
pub struct Paired {
    pub box_id: String,
    pub chain_id: String,
    pub store_id: String,
    pub hub_id: String,
}

/// Writes an accepted bundle: TLS files, then the overlay last (the overlay existing is what
/// makes the box paired); checks that the result loads (and that a certificate fits the box's
/// key) before the overlay is written. Then the audit entry and event.
pub fn apply_bundle(u: &Unpaired, id: &Identity, b: &Bundle) -> anyhow::Result<Config> {
    let p = overlay_paths(&u.data_dir);
    let overlay = pairing::render_overlay(b, &p);
    let base: toml::Table = std::fs::read_to_string(&u.config_path)?.parse()?;
    let merged = pairing::merge(base, overlay.parse()?);
    let mut cfg = Config::from_str(&toml::to_string(&merged)?, "the paired config")?;
    cfg.apply_data_dir_override(u.data_dir.clone());
    // The store first: if it cannot be opened nothing is written.
    let store = crate::store::Store::open(super::store_options(&cfg))?;
    let overlay_file = overlay_path(&u.data_dir);
    let undo = || {
        for f in [&overlay_file, &p.cert, &p.ca] {
            let _ = std::fs::remove_file(f);
        }
    };
    if let Some(ca) = &b.ca_pem {
        files::write(&p.ca, ca.as_bytes(), Access::Public).inspect_err(|_| undo())?;
    }
    if let Some(cert) = &b.cert_pem {
        files::write(&p.cert, cert.as_bytes(), Access::Public).inspect_err(|_| undo())?;
    }
    if cfg.mqtt.url.as_ref().is_some_and(|u| u.tls()) {
        if let Err(e) = crate::cloud::tls::client_config(&cfg.mqtt) {
            undo();
            anyhow::bail!("the bundle's TLS files do not work with this box's key: {e}");
        }
    }
    files::write(&overlay_file, overlay.as_bytes(), Access::Secret).inspect_err(|_| undo())?;
    let data = Paired { box_id: id.state.box_id.clone(), chain_id: b.chain_id.clone(), store_id: b.store_id.clone(), hub_id: b.hub_id.clone() };
    let detail = format!("box={} chain={} store={} hub={} broker={}", data.box_id, data.chain_id, data.store_id, data.hub_id, b.broker);
    let committed = store.commit(|tx| {
        crate::audit::record_tx::<std::convert::Infallible>(tx, "hq", crate::audit::AuditAction::Paired, Some(&b.hub_id), &detail)?;
        tx.emit(EVENT_PAIRED, Some(&b.hub_id), &data)?;
        Ok(())
    });
    if let Err(e) = committed {
        undo();
        anyhow::bail!("the pairing could not be recorded in the database ({e}); nothing was kept");
    }
    Ok(cfg)
}

/// What the page shows.
#[derive(Default)]
struct PageState {
    broker: String,
    connected: bool,
    last_refusal: Option<String>,
}

fn page(id: &Identity, s: &PageState) -> String {
    let m = maud::html! {
        (maud::DOCTYPE)
        html lang="zh-CN" {
            head { meta charset="utf-8"; title { "storehub 配对 / pairing" } }
            body {
                h1 { "本机等待与总部配对 / waiting to be paired with HQ" }
                p { "配对码 / pairing code:" }
                p id="pairing-code" style="font-size:3em;font-family:monospace" { (pairing::show_code(&id.state.code)) }
                p { "本机编号 / box id: " code { (id.state.box_id) } }
                p { "密钥指纹 / key fingerprint: " code { (id.fingerprint) } }
                p { "配对服务器 / pairing broker: " (s.broker) " — " (if s.connected { "已连接 / connected" } else { "未连接 / not connected" }) }
                @if let Some(r) = &s.last_refusal { p { "上次被拒的回复 / last refused reply: " (r) } }
                p { "在总部系统输入配对码; 本机收到签名配置后自动重启进入营业 / type the code into HQ's console; the box restarts into normal operation once HQ's signed config arrives." }
            }
        }
    };
    m.into_string()
}

fn mqtt_options(u: &Unpaired, box_id: &str) -> anyhow::Result<MqttOptions> {
    let url = &u.pairing.broker;
    let mut o = MqttOptions::new(format!("storehub-pairing-{box_id}"), url.host(), url.port());
    o.set_keep_alive(Duration::from_secs(30)).set_clean_session(true).set_max_packet_size(pairing::MAX_REPLY_BYTES + 1024, 64 * 1024);
    if let Some(user) = &u.pairing.username {
        o.set_credentials(user.clone(), u.pairing.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default());
    }
    if url.tls() {
        let m = MqttConfig { ca_file: u.pairing.ca_file.clone(), ..MqttConfig::default() };
        let tls = crate::cloud::tls::client_config(&m).map_err(|e| anyhow::anyhow!("[pairing].ca_file: {e}"))?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(o)
}

/// Runs until HQ's bundle is accepted and written; returns the paired config. The caller
/// restarts into normal operation.
pub fn run(u: Unpaired) -> anyhow::Result<Config> {
    let id = identity(&u.data_dir)?;
    tracing::info!(box_id = %id.state.box_id, code = %pairing::show_code(&id.state.code), broker = %u.pairing.broker, "not paired: waiting for HQ");
    eprint!("{}", describe(&id, &u));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(serve(u, id))
}

async fn serve(u: Unpaired, id: Identity) -> anyhow::Result<Config> {
    let state = Arc::new(Mutex::new(PageState { broker: u.pairing.broker.to_string(), ..Default::default() }));
    let listener = tokio::net::TcpListener::bind(u.listen).await.with_context(|| format!("cannot listen on {} ([web].listen)", u.listen))?;
    let (page_id, page_state) = (id.clone(), state.clone());
    let html = move || {
        let body = page(&page_id, &page_state.lock().unwrap_or_else(|p| p.into_inner()));
        async move { axum::response::Html(body) }
    };
    let app = axum::Router::new().route("/", axum::routing::get(html.clone())).route("/pairing", axum::routing::get(html));
    let web = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    crate::daemon::notify_systemd("READY=1\nSTATUS=waiting to be paired with HQ");
    let watchdog = crate::watchdog::interval_from_env().map(|every| {
        tokio::spawn(async move {
            loop {
                crate::daemon::notify_systemd("WATCHDOG=1");
                tokio::time::sleep(every).await;
            }
        })
    });
    let result = mqtt_loop(&u, &id, &seal_key(&u.data_dir)?, &state).await;
    web.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    result
}

async fn mqtt_loop(u: &Unpaired, id: &Identity, seal: &pairing::SealKey, state: &Mutex<PageState>) -> anyhow::Result<Config> {
    let box_id = &id.state.box_id;
    let request = PairingRequest {
        v: 1,
        box_id: box_id.clone(),
        code_hash: pairing::code_hash(box_id, &id.state.code),
        fingerprint: id.fingerprint.clone(),
        csr_pem: id.csr_pem.clone(),
        seal_key: seal.public_b64(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let request_bytes = serde_json::to_vec(&request)?;
    let (client, mut eventloop) = AsyncClient::new(mqtt_options(u, box_id)?, 16);
    let mut delay = Duration::from_millis(500);
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                delay = Duration::from_millis(500);
                state.lock().unwrap_or_else(|p| p.into_inner()).connected = true;
                client.subscribe(pairing::reply_topic(box_id), QoS::AtLeastOnce).await?;
                client.publish(pairing::request_topic(box_id), QoS::AtLeastOnce, true, request_bytes.clone()).await?;
                tracing::info!(topic = %pairing::request_topic(box_id), "pairing request published");
            }
            Ok(Event::Incoming(Incoming::Publish(p))) if p.topic == pairing::reply_topic(box_id) => {
                let accepted = pairing::accept(&p.payload, box_id, &id.state.code, &u.hq_key, seal).map_err(|e| e.to_string()).and_then(|bundle| {
                    // A signed bundle that still cannot be applied (its certificate does not fit
                    // this box's key, a field the config refuses) is refused like a bad one.
                    apply_bundle(u, id, &bundle).map(|cfg| (bundle, cfg)).map_err(|e| format!("{e:#}"))
                });
                match accepted {
                    Ok((bundle, cfg)) => {
                        tracing::info!(chain = %bundle.chain_id, store = %bundle.store_id, hub = %bundle.hub_id, "paired with HQ");
                        // Take the retained request down; the box is no longer waiting.
                        let _ = client.publish(pairing::request_topic(box_id), QoS::AtLeastOnce, true, Vec::new()).await;
                        let _ = client.disconnect().await;
                        for _ in 0..20 {
                            match tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await {
                                Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) | Err(_) => break,
                                _ => {}
                            }
                        }
                        return Ok(cfg);
                    }
                    Err(why) => {
                        tracing::warn!(reason = %why, "pairing reply refused; nothing written, still waiting");
                        state.lock().unwrap_or_else(|p| p.into_inner()).last_refusal = Some(why.to_string());
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                state.lock().unwrap_or_else(|p| p.into_inner()).connected = false;
                tracing::warn!(error = %e, broker = %u.pairing.broker, "pairing broker not reachable; retrying in {} ms", delay.as_millis());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}
