//! What `storehub provision` is asked to do (a [`Plan`]) and the config it writes from it.
//! One parser for the three ways in — a `provision.toml` file, command-line flags, and the
//! interactive prompts — so every way checks every value the same and names the key (or flag)
//! that is wrong. Pure: no files are written here (see `provision::files`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{Config, ConfigError, Id, MqttUrl, Secret};

/// Default data dir of an installed box.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/storehub";
/// Default web listen address (all of the LAN, as `[web].listen`'s default).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

/// A `provision.toml` (also the USB stick's `storehub-provision.toml`), as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionFile {
    pub store: StoreSection,
    pub hq: HqSection,
    pub admin: AdminSection,
    #[serde(default)]
    pub data: DataSection,
    #[serde(default)]
    pub web: WebSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub chain_id: Id,
    pub store_id: Id,
    pub hub_id: Id,
    /// Default: `门店 {store_id}`.
    #[serde(default)]
    pub name: Option<String>,
}

/// How the box authenticates to HQ's broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// Username and password (over mqtts://).
    Password,
    /// Mutual TLS: the box makes its key and a CSR; HQ signs it.
    Tls,
    /// Neither (a broker on this box or a lab broker).
    None,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Password => "password",
            Auth::Tls => "tls",
            Auth::None => "none",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HqSection {
    pub broker: MqttUrl,
    pub auth: Auth,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// HQ's CA (PEM) that signed the broker's certificate; relative to the provision file.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The box's certificate (PEM) when HQ has already signed it (auth = "tls").
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// HQ's command-signing public keys (base64 of 32 bytes).
    #[serde(default)]
    pub command_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub password: Secret,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    #[serde(default)]
    pub listen: Option<String>,
}

/// A checked plan: everything `provision` needs, with file contents already read.
#[derive(Debug, Clone)]
pub struct Plan {
    pub chain_id: Id,
    pub store_id: Id,
    pub hub_id: Id,
    pub store_name: String,
    pub broker: MqttUrl,
    pub auth: Auth,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// HQ's CA certificate, PEM text.
    pub ca_pem: Option<String>,
    /// The box's certificate, PEM text (tls only).
    pub cert_pem: Option<String>,
    pub command_keys: Vec<String>,
    pub admin_id: String,
    pub admin_name: String,
    pub admin_password: Secret,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
}

/// A provision input error: where (file:line or the flag) and what is wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{where_}: {message}")]
pub struct PlanError {
    /// `provision.toml:7: [hq].broker` or `--broker`.
    pub where_: String,
    pub message: String,
}

/// How a key of the file is spelled on the command line (for error messages of the flag form).
pub const FLAGS: &[(&str, &str)] = &[
    ("[store].chain_id", "--chain-id"),
    ("[store].store_id", "--store-id"),
    ("[store].hub_id", "--hub-id"),
    ("[store].name", "--store-name"),
    ("[hq].broker", "--broker"),
    ("[hq].auth", "--auth"),
    ("[hq].username", "--username"),
    ("[hq].password", "--mqtt-password-stdin"),
    ("[hq].ca_file", "--ca-file"),
    ("[hq].cert_file", "--cert-file"),
    ("[hq].command_keys", "--command-key"),
    ("[admin].id", "--admin-id"),
    ("[admin].name", "--admin-name"),
    ("[admin].password", "--admin-password-stdin"),
    ("[data].dir", "--data-dir"),
    ("[web].listen", "--listen"),
];

/// Parses a provision file's text. `base` is the directory relative file names are taken from;
/// `source_name` names the file in errors.
pub fn parse_file(text: &str, source_name: &str, base: &Path) -> Result<Plan, PlanError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(config_error(ConfigError::from_syntax(text, source_name, &e)));
    }
    let file: ProvisionFile = serde_path_to_error::deserialize(toml::Deserializer::new(text))
        .map_err(|e| config_error(ConfigError::from_serde(text, source_name, &e)))?;
    let at = |key: &str| match crate::config::locate_key(text, key) {
        Some(line) => format!("{source_name}:{line}: {key}"),
        None => format!("{source_name}: {key}"),
    };
    check(file, base, &at)
}

/// Parses a plan given as a TOML table built from flags or prompts; errors name the flag.
pub fn parse_table(table: toml::Table, base: &Path) -> Result<Plan, PlanError> {
    let text = toml::to_string(&table).map_err(|e| PlanError { where_: "flags".into(), message: e.to_string() })?;
    let flag = |key: &str| FLAGS.iter().find(|(k, _)| *k == key).map(|(_, f)| f.to_string()).unwrap_or_else(|| key.to_string());
    let file: ProvisionFile = serde_path_to_error::deserialize(toml::Deserializer::new(&text)).map_err(|e| {
        let ce = ConfigError::from_serde(&text, "flags", &e);
        let key = ce.key.clone().unwrap_or_default();
        let message = if ce.message.contains("missing") || ce.message.contains("required") {
            format!("required; {}", ce.message)
        } else {
            ce.message
        };
        PlanError { where_: flag(&key), message }
    })?;
    check(file, base, &flag)
}

fn config_error(e: ConfigError) -> PlanError {
    let where_ = match (e.line, &e.key) {
        (Some(l), Some(k)) => format!("{}:{l}: {k}", e.source_name),
        (Some(l), None) => format!("{}:{l}", e.source_name),
        (None, Some(k)) => format!("{}: {k}", e.source_name),
        (None, None) => e.source_name.clone(),
    };
    PlanError { where_, message: e.message }
}

/// The checks serde cannot do: combinations, files, formats.
fn check(file: ProvisionFile, base: &Path, at: &dyn Fn(&str) -> String) -> Result<Plan, PlanError> {
    let err = |key: &str, message: String| PlanError { where_: at(key), message };
    let ProvisionFile { store, hq, admin, data, web } = file;
    let store_name = match store.name {
        Some(n) if n.trim().is_empty() => return Err(err("[store].name", "expected the store's name as printed on receipts, got an empty text".into())),
        Some(n) => n.trim().to_string(),
        None => format!("门店 {}", store.store_id),
    };
    if !hq.broker.tls() && !hq.broker.is_loopback() {
        return Err(err("[hq].broker", format!("plain mqtt:// to {} would send credentials and sales in clear; use mqtts://{}", hq.broker.host(), hq.broker.host())));
    }
    match hq.auth {
        Auth::Password => {
            match &hq.username {
                Some(u) if !u.trim().is_empty() => {}
                _ => return Err(err("[hq].username", "auth = \"password\" needs the broker user name HQ gave you".into())),
            }
            match &hq.password {
                Some(p) if !p.expose().is_empty() => {}
                _ => return Err(err("[hq].password", "auth = \"password\" needs the broker password HQ gave you".into())),
            }
            if hq.cert_file.is_some() {
                return Err(err("[hq].cert_file", "a client certificate goes with auth = \"tls\", not \"password\"".into()));
            }
        }
        Auth::Tls => {
            if !hq.broker.tls() {
                return Err(err("[hq].broker", "auth = \"tls\" needs an mqtts:// broker URL".into()));
            }
            if hq.username.is_some() || hq.password.is_some() {
                return Err(err("[hq].username", "auth = \"tls\" uses the box's certificate, not a user name and password; remove them or set auth = \"password\"".into()));
            }
        }
        Auth::None => {
            if hq.username.is_some() || hq.password.is_some() {
                return Err(err("[hq].auth", "a user name or password is given: set auth = \"password\"".into()));
            }
            if hq.cert_file.is_some() {
                return Err(err("[hq].auth", "a client certificate is given: set auth = \"tls\"".into()));
            }
        }
    }
    if hq.ca_file.is_some() && !hq.broker.tls() {
        return Err(err("[hq].ca_file", "a CA is only used with an mqtts:// broker".into()));
    }
    let read_pem = |key: &str, p: &Path, what: &str| -> Result<String, PlanError> {
        let path = if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        let text = std::fs::read_to_string(&path).map_err(|e| err(key, format!("cannot read {} ({what}): {e}", path.display())))?;
        super::tls::check_certificates_pem(&text).map_err(|m| err(key, format!("{}: {m}", path.display())))?;
        Ok(text)
    };
    let ca_pem = hq.ca_file.as_deref().map(|p| read_pem("[hq].ca_file", p, "HQ's CA certificate")).transpose()?;
    let cert_pem = hq.cert_file.as_deref().map(|p| read_pem("[hq].cert_file", p, "this box's certificate")).transpose()?;
    for (i, k) in hq.command_keys.iter().enumerate() {
        crate::cloud::commands::parse_public_key(k).map_err(|e| err("[hq].command_keys", format!("key {}: {e}", i + 1)))?;
    }
    crate::staff::check_new_staff(&crate::staff::NewStaff {
        id: admin.id.clone(),
        name: admin.name.clone().unwrap_or_else(|| admin.id.clone()),
        role: crate::domain::staff::Role::Admin,
    })
    .map_err(|e| err("[admin].id", e.to_string()))?;
    crate::domain::staff::check_password(admin.password.expose()).map_err(|e| err("[admin].password", e.to_string()))?;
    let data_dir = match data.dir {
        Some(d) if !d.is_absolute() => return Err(err("[data].dir", format!("expected an absolute path like {DEFAULT_DATA_DIR}, got {}", d.display()))),
        Some(d) => d,
        None => PathBuf::from(DEFAULT_DATA_DIR),
    };
    let listen_text = web.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text
        .parse()
        .map_err(|_| err("[web].listen", format!("expected an IP address and port like \"0.0.0.0:8080\", got {listen_text:?}")))?;
    if listen.port() == 0 {
        return Err(err("[web].listen", "port 0 is not allowed; use e.g. 8080".into()));
    }
    Ok(Plan {
        chain_id: store.chain_id,
        store_id: store.store_id,
        hub_id: store.hub_id,
        store_name,
        broker: hq.broker,
        auth: hq.auth,
        username: hq.username.map(|u| u.trim().to_string()),
        password: hq.password,
        ca_pem,
        cert_pem,
        command_keys: hq.command_keys,
        admin_id: admin.id.clone(),
        admin_name: admin.name.unwrap_or(admin.id),
        admin_password: admin.password,
        data_dir,
        listen,
    })
}

/// Where the config's TLS files go.
#[derive(Debug, Clone)]
pub struct TlsPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub csr: PathBuf,
}

impl TlsPaths {
    /// `ETC/tls/{ca.pem, hub.pem, hub.key, hub.csr}`.
    pub fn under(etc: &Path) -> TlsPaths {
        let d = etc.join("tls");
        TlsPaths { ca: d.join("ca.pem"), cert: d.join("hub.pem"), key: d.join("hub.key"), csr: d.join("hub.csr") }
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The `storehub.toml` text for a plan: the ids, data dir, broker and credentials, HQ's
/// keys and the web address; every other section keeps its defaults. `cert_installed`: the
/// box's certificate is at `tls.cert` (mutual TLS can be switched on).
pub fn render_config(plan: &Plan, tls: &TlsPaths, cert_installed: bool, now: &str) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# Written by `storehub provision` at {now}. See config/storehub.example.toml for every key.\n\
         # Re-run `storehub provision --force` to change the ids or HQ's broker (the old file is kept as .bak).\n\n"
    ));
    s.push_str(&format!(
        "[store]\nchain_id = {}\nstore_id = {}\nhub_id = {}\nname = {}\n\n",
        q(plan.chain_id.as_str()),
        q(plan.store_id.as_str()),
        q(plan.hub_id.as_str()),
        q(&plan.store_name)
    ));
    s.push_str(&format!("[data]\ndir = {}\n\n", q(&plan.data_dir.display().to_string())));
    s.push_str(&format!("[mqtt]\nenabled = true\nurl = {}\n", q(&plan.broker.to_string())));
    if let (Some(u), Some(p)) = (&plan.username, &plan.password) {
        s.push_str(&format!("username = {}\npassword = {}\n", q(u), q(p.expose())));
    }
    if plan.ca_pem.is_some() {
        s.push_str(&format!("ca_file = {}\n", q(&tls.ca.display().to_string())));
    }
    if plan.auth == Auth::Tls && cert_installed {
        s.push_str(&format!("cert_file = {}\nkey_file = {}\n", q(&tls.cert.display().to_string()), q(&tls.key.display().to_string())));
    }
    if !plan.command_keys.is_empty() {
        let keys: Vec<String> = plan.command_keys.iter().map(|k| q(k)).collect();
        s.push_str(&format!("require_signed_commands = true\ncommand_keys = [{}]\n", keys.join(", ")));
    }
    s.push_str(&format!("\n[web]\nenabled = true\nlisten = {}\n", q(&plan.listen.to_string())));
    s
}

/// Checks a rendered config the way the daemon will load it.
pub fn check_rendered(text: &str, source_name: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, source_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[store]
chain_id = "huamei"
store_id = "sh-xuhui-001"
hub_id = "hub-1"
name = "华美超市 徐汇店"

[hq]
broker = "mqtts://mqtt.huamei.example.cn:8883"
auth = "password"
username = "hub-1"
password = "s3cret-pw"

[admin]
id = "boss"
password = "letmein-2026"
"#;

    #[test]
    fn a_good_file_gives_a_plan_with_defaults() {
        let p = parse_file(GOOD, "p.toml", Path::new("/")).unwrap();
        assert_eq!(p.store_id.as_str(), "sh-xuhui-001");
        assert_eq!(p.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(p.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(p.admin_name, "boss");
        let text = render_config(&p, &TlsPaths::under(Path::new("/etc/storehub")), false, "t");
        let cfg = check_rendered(&text, "rendered").unwrap();
        assert_eq!(cfg.store.hub_id.as_str(), "hub-1");
        assert_eq!(cfg.mqtt.username.as_deref(), Some("hub-1"));
        assert!(cfg.mqtt.enabled);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        // Line 4 of GOOD (counting the leading newline as line 1) is hub_id.
        let bad = GOOD.replace("hub_id = \"hub-1\"", "hub_id = \"Hub 1\"");
        let e = parse_file(&bad, "p.toml", Path::new("/")).unwrap_err();
        assert_eq!(e.where_, "p.toml:5: [store].hub_id", "{e}");
        assert!(e.message.contains("lowercase"), "{e}");
        let plain = GOOD.replace("mqtts://mqtt.huamei.example.cn:8883", "mqtt://10.0.0.5");
        let e = parse_file(&plain, "p.toml", Path::new("/")).unwrap_err();
        assert_eq!(e.where_, "p.toml:9: [hq].broker", "{e}");
        let short = GOOD.replace("letmein-2026", "abc");
        let e = parse_file(&short, "p.toml", Path::new("/")).unwrap_err();
        assert!(e.where_.ends_with("[admin].password"), "{e}");
        let nouser = GOOD.replace("username = \"hub-1\"\n", "");
        let e = parse_file(&nouser, "p.toml", Path::new("/")).unwrap_err();
        assert!(e.where_.ends_with("[hq].username"), "{e}");
        let unknown = GOOD.replace("[admin]", "[admin]\npin = \"1234\"");
        let e = parse_file(&unknown, "p.toml", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("pin"), "{e}");
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let mut t: toml::Table = GOOD.parse().unwrap();
        t["store"].as_table_mut().unwrap().insert("store_id".into(), "SH 1".into());
        let e = parse_table(t, Path::new("/")).unwrap_err();
        assert_eq!(e.where_, "--store-id", "{e}");
        let mut t: toml::Table = GOOD.parse().unwrap();
        t["hq"].as_table_mut().unwrap().remove("broker");
        let e = parse_table(t, Path::new("/")).unwrap_err();
        assert_eq!(e.where_, "--broker", "{e}");
    }
}
