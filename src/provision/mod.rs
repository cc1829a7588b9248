//! Provisioning (开通): turning a freshly imaged box into a store's hub. Owns `storehub
//! provision` (a [`plan::Plan`] from a file, flags or prompts → config, TLS key and CSR, HQ's CA,
//! first admin, doctor, a summary to photograph), `provision cert` (installing the certificate
//! HQ signed), the USB stick's zero-touch path (`usb`), and pairing with HQ over MQTT
//! (`pairing`). It writes only the files it names and the store through the staff and audit
//! services; it never edits the daemon's state behind its back (the store must not be open).

pub mod files;
pub mod pairing;
pub mod pairing_mode;
pub mod plan;
pub mod prompt;
pub mod tls;
pub mod usb;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::audit::{self, AuditAction};
use crate::config::Config;
use crate::store::{CommitError, Durability, Store, StoreOptions};
use files::Access;
use plan::{Auth, Plan, TlsPaths};

/// Where provisioning writes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The config file (default `/etc/storehub/storehub.toml`).
    pub config: PathBuf,
    /// The directory of TLS files (`ETC/tls/…`); default the config's directory.
    pub etc_dir: PathBuf,
}

/// What happened to the first admin account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOutcome {
    Created,
    /// An account with that id was already there (re-provisioning with `--force`): kept as is.
    Kept,
}

/// What provisioning did, for the summary.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub config: PathBuf,
    pub config_mode: u32,
    pub backup: Option<PathBuf>,
    /// Mutual TLS: the key's fingerprint and where its CSR is.
    pub fingerprint: Option<String>,
    pub csr: Option<PathBuf>,
    pub cert_installed: bool,
    pub admin: AdminOutcome,
    pub doctor_ok: bool,
    pub doctor_text: String,
    /// The PII key file (docs/privacy.md) and whether provisioning made it (`false`: kept).
    pub pii_key: PathBuf,
    pub pii_key_created: bool,
}

/// Applies a plan: refuses a provisioned box unless `force`, writes the TLS files, the config
/// (checked as the daemon will load it, before anything is written), creates the first admin,
/// records the audit entry (`actor`: `cli` or `usb`) and runs doctor.
pub fn apply(plan: &Plan, target: &Target, force: bool, actor: &str) -> anyhow::Result<Outcome> {
    if target.config.exists() && !force {
        anyhow::bail!(
            "this box is already provisioned ({} exists); run again with --force to replace it (the old file is kept as {}.bak)",
            target.config.display(),
            target.config.display()
        );
    }
    let tls_paths = TlsPaths::under(&target.etc_dir);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Check the config before writing anything (files named in it need not exist yet).
    let cert_installed = plan.cert_pem.is_some();
    let text = plan::render_config(plan, &tls_paths, cert_installed, &now);
    let cfg = plan::check_rendered(&text, &target.config.display().to_string())
        .map_err(|e| anyhow::anyhow!("the config provision would write does not load: {e}"))?;

    // The PII key before the store opens, so nothing about members is ever written in the clear
    // on a provisioned box (an existing key is kept: it may already seal members).
    let (pii_key, pii_key_created) = ensure_pii_key(&cfg, &target.config)?;

    // The store first: a daemon holding it (or a data dir that cannot be made) stops us
    // before any file is written.
    std::fs::create_dir_all(&plan.data_dir).with_context(|| format!("cannot create the data dir {}", plan.data_dir.display()))?;
    let store = Store::open(store_options(&cfg)).map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;

    let (mut fingerprint, mut csr) = (None, None);
    if plan.auth == Auth::Tls {
        let cn = tls::common_name(plan.chain_id.as_str(), plan.store_id.as_str(), plan.hub_id.as_str());
        // An existing key is kept, so a certificate HQ already signed for it stays valid.
        let made = match std::fs::read_to_string(&tls_paths.key) {
            Ok(pem) => tls::csr_for_key_pem(&pem, &cn, plan.hub_id.as_str()),
            Err(_) => tls::new_key_and_csr(&cn, plan.hub_id.as_str()),
        }
        .map_err(anyhow::Error::msg)?;
        files::write(&tls_paths.key, made.key_pem.as_bytes(), Access::Secret)?;
        files::write(&tls_paths.csr, made.csr_pem.as_bytes(), Access::Public)?;
        fingerprint = Some(made.fingerprint);
        csr = Some(tls_paths.csr.clone());
    }
    if let Some(ca) = &plan.ca_pem {
        files::write(&tls_paths.ca, ca.as_bytes(), Access::Public)?;
    }
    if let Some(cert) = &plan.cert_pem {
        files::write(&tls_paths.cert, cert.as_bytes(), Access::Public)?;
        crate::cloud::tls::client_config(&cfg.mqtt).map_err(|e| anyhow::anyhow!("[hq].cert_file: {e}"))?;
    }
    let backup = if force { files::backup(&target.config)? } else { None };
    files::write(&target.config, text.as_bytes(), Access::Config)?;

    let admin = first_admin_and_audit(plan, &store, actor)?;
    drop(store);
    files::give_to_service_user(&plan.data_dir)?;
    let mut out = Vec::new();
    let opts = crate::devices::doctor::CheckOptions { timeout: std::time::Duration::from_secs(3), ..Default::default() };
    let report = crate::devices::doctor::command(Some(&cfg), None, &opts, false, &mut out)?;
    Ok(Outcome {
        config: target.config.clone(),
        config_mode: files::mode_and_owner(Access::Config).0,
        backup,
        fingerprint,
        csr,
        cert_installed,
        admin,
        doctor_ok: report.ok,
        doctor_text: String::from_utf8_lossy(&out).into_owned(),
        pii_key,
        pii_key_created,
    })
}

/// Makes the PII key at `[privacy].key_file` (default `pii.key` beside the config) when there is
/// none, readable by the service's group only (root:storehub 0640, as the config), and loads it
/// into this process. Returns the path and whether it was made here.
fn ensure_pii_key(cfg: &Config, config: &Path) -> anyhow::Result<(PathBuf, bool)> {
    use crate::privacy;
    let path = privacy::key_path(cfg.privacy.key_file.as_deref(), Some(config));
    let created = !path.exists();
    if created {
        privacy::init_key(&path).map_err(|e| anyhow::anyhow!("[privacy].key_file: {e}"))?;
        if let (_, Some((_, Some(g)))) = files::mode_and_owner(Access::Config) {
            std::os::unix::fs::chown(&path, None, Some(g))
                .with_context(|| format!("cannot give {} to the storehub group; run `chgrp storehub {}`", path.display(), path.display()))?;
        }
    }
    let key = privacy::PiiKey::load(&path).map_err(|e| anyhow::anyhow!("[privacy].key_file: {e}"))?;
    privacy::install(key);
    Ok((path, created))
}

/// Creates the admin through the staff service and writes the `provisioned` audit entry.
fn first_admin_and_audit(plan: &Plan, store: &Store, actor: &str) -> anyhow::Result<AdminOutcome> {
    let new = crate::staff::NewStaff { id: plan.admin_id.clone(), name: plan.admin_name.clone(), role: crate::domain::staff::Role::Admin };
    let admin = match crate::staff::create_staff(store, &new, plan.admin_password.expose(), None, &crate::staff::HashCost::standard()) {
        Ok(_) => AdminOutcome::Created,
        Err(CommitError::Rejected(crate::staff::StaffError::Exists(_))) => AdminOutcome::Kept,
        Err(e) => return Err(anyhow::anyhow!("[admin]: {e}")),
    };
    let detail = format!(
        "chain={} store={} hub={} broker={} auth={} admin={}",
        plan.chain_id, plan.store_id, plan.hub_id, plan.broker, plan.auth.as_str(), plan.admin_id
    );
    audit::record(store, actor, AuditAction::Provisioned, Some(plan.hub_id.as_str()), &detail)?;
    Ok(admin)
}

/// Store options for a config (as the daemon opens it).
pub fn store_options(cfg: &Config) -> StoreOptions {
    StoreOptions {
        path: cfg.data.dir.clone(),
        durability: match cfg.data.durability {
            crate::config::Durability::Durable => Durability::Durable,
            crate::config::Durability::Relaxed => Durability::Relaxed,
        },
        relaxed_flush_ms: u64::from(cfg.data.relaxed_flush_ms),
        source: Some(format!("/storehub/{}/{}/{}", cfg.store.chain_id, cfg.store.store_id, cfg.store.hub_id)),
        clock: crate::clock::system(),
    }
}

/// `storehub provision cert FILE`: installs the certificate HQ signed for this box's CSR and
/// switches the config's mutual TLS on. The certificate must match the box's key and, unless
/// `skip_ca_check` (a broker whose client CA is not the `[mqtt].ca_file` the box trusts), chain
/// to HQ's CA and be valid now. Nothing is written when a check fails.
pub fn install_cert(target: &Target, cert_file: &Path, skip_ca_check: bool) -> anyhow::Result<PathBuf> {
    let pem = std::fs::read_to_string(cert_file).with_context(|| format!("cannot read the certificate {}", cert_file.display()))?;
    tls::check_certificates_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", cert_file.display()))?;
    let tls_paths = TlsPaths::under(&target.etc_dir);
    if !tls_paths.key.exists() {
        anyhow::bail!("no box key at {}: run `storehub provision` with auth = \"tls\" first", tls_paths.key.display());
    }
    let text = std::fs::read_to_string(&target.config).with_context(|| format!("cannot read {}: provision the box first", target.config.display()))?;
    let mut table: toml::Table = text.parse().with_context(|| format!("{} is not TOML", target.config.display()))?;
    let mqtt = table.get_mut("mqtt").and_then(|m| m.as_table_mut()).ok_or_else(|| anyhow::anyhow!("{} has no [mqtt] section: provision the box first", target.config.display()))?;
    mqtt.insert("cert_file".into(), tls_paths.cert.display().to_string().into());
    mqtt.insert("key_file".into(), tls_paths.key.display().to_string().into());
    let new_text = format!("# Rewritten by `storehub provision cert` (the previous file is kept as .bak).\n{}", toml::to_string(&table)?);
    let cfg = Config::from_str(&new_text, &target.config.display().to_string())?;
    if let (Some(ca_file), false) = (&cfg.mqtt.ca_file, skip_ca_check) {
        let ca = std::fs::read_to_string(ca_file).with_context(|| format!("cannot read HQ's CA {} ([mqtt].ca_file)", ca_file.display()))?;
        tls::check_client_chain(&pem, &ca, std::time::SystemTime::now()).map_err(|e| {
            anyhow::anyhow!("{}: {e} (checked against {}; if HQ's broker trusts another CA for clients, add --skip-ca-check)", cert_file.display(), ca_file.display())
        })?;
    }
    // Check the pair before the config points at it: write the cert beside, try, then rename.
    let trial = tls_paths.cert.with_extension("pem.new");
    files::write(&trial, pem.as_bytes(), Access::Public)?;
    let mut m = cfg.mqtt.clone();
    m.cert_file = Some(trial.clone());
    if let Err(e) = crate::cloud::tls::client_config(&m) {
        let _ = std::fs::remove_file(&trial);
        anyhow::bail!("{}: {e}; ask HQ to sign this box's CSR ({})", cert_file.display(), tls_paths.csr.display());
    }
    std::fs::rename(&trial, &tls_paths.cert)?;
    files::backup(&target.config)?;
    files::write(&target.config, new_text.as_bytes(), Access::Config)?;
    Ok(tls_paths.cert)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "THIS-BOX".into())
}

/// The web address a technician types: the configured IP, or the box's host name when the
/// dashboard listens on every address.
pub fn web_url(listen: std::net::SocketAddr) -> String {
    let host = if listen.ip().is_unspecified() { hostname() } else { listen.ip().to_string() };
    format!("http://{host}:{}/", listen.port())
}

/// The summary a technician photographs: zh-CN first, then English, one fact a line.
pub fn summary(plan: &Plan, o: &Outcome) -> String {
    let mut s = String::new();
    let line = |s: &mut String, zh: &str, en: &str, v: &str| s.push_str(&format!("  {zh} / {en}: {v}\n"));
    s.push_str("storehub 开通完成 / provisioning done\n");
    line(&mut s, "连锁", "chain", plan.chain_id.as_str());
    line(&mut s, "门店", "store", &format!("{} ({})", plan.store_id, plan.store_name));
    line(&mut s, "主机", "hub", plan.hub_id.as_str());
    line(&mut s, "总部消息服务器", "HQ broker", &plan.broker.to_string());
    let auth = match plan.auth {
        Auth::Password => format!("用户名密码 / password (user {})", plan.username.as_deref().unwrap_or("")),
        Auth::Tls => "双向TLS证书 / mutual TLS".to_string(),
        Auth::None => "无 / none".to_string(),
    };
    line(&mut s, "认证", "auth", &auth);
    if let Some(fp) = &o.fingerprint {
        line(&mut s, "本机密钥指纹", "key fingerprint", fp);
        let csr = o.csr.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        if o.cert_installed {
            line(&mut s, "证书", "certificate", "已安装 / installed");
        } else {
            line(&mut s, "证书", "certificate", &format!("待总部签发: 把 {csr} 交给总部, 再运行 storehub provision cert 文件 / pending: send {csr} to HQ, then run `storehub provision cert FILE`"));
        }
    }
    line(&mut s, "HQ指令签名公钥", "HQ command keys", &plan.command_keys.len().to_string());
    line(&mut s, "网页后台", "web", &web_url(plan.listen));
    let admin = match o.admin {
        AdminOutcome::Created => "新建 / created",
        AdminOutcome::Kept => "已存在, 未改 / existed, kept",
    };
    line(&mut s, "管理员", "admin", &format!("{} ({admin})", plan.admin_id));
    let made = if o.pii_key_created { "新建 / created" } else { "已存在, 未改 / existed, kept" };
    line(&mut s, "会员数据密钥", "PII key", &format!("{} ({made}; 请另行备份 / back it up apart from the data)", o.pii_key.display()));
    line(&mut s, "配置文件", "config", &format!("{} ({:04o})", o.config.display(), o.config_mode));
    if let Some(b) = &o.backup {
        line(&mut s, "旧配置备份", "old config kept as", &b.display().to_string());
    }
    line(&mut s, "设备自检", "doctor", if o.doctor_ok { "通过 / OK" } else { "有设备未响应 / FAIL: see `storehub doctor`" });
    s
}
