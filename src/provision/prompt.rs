//! The interactive form of `storehub provision`: one question a line, with the default in
//! brackets (Enter takes it), each answer checked at once and asked again (up to 3 times) with
//! the reason when it is wrong. Reads any `BufRead` (a terminal or a pipe), so it is tested by
//! piping answers in. Secrets are read with echo off when the input is a terminal.

use std::io::{BufRead, Write};
use std::path::Path;

use super::plan::{self, Plan, PlanError};
use crate::config::{Id, MqttUrl};

type Check = fn(&str) -> Result<(), String>;

fn id(s: &str) -> Result<(), String> {
    Id::try_from(s.to_string()).map(|_| ())
}
fn non_empty(s: &str) -> Result<(), String> {
    if s.trim().is_empty() { Err("expected some text".into()) } else { Ok(()) }
}
fn broker(s: &str) -> Result<(), String> {
    MqttUrl::try_from(s.to_string()).map(|_| ())
}
fn auth(s: &str) -> Result<(), String> {
    match s {
        "password" | "tls" | "none" => Ok(()),
        _ => Err(format!("expected password, tls or none, got {s:?}")),
    }
}
fn password(s: &str) -> Result<(), String> {
    crate::domain::staff::check_password(s).map_err(|e| e.to_string())
}
fn any(_: &str) -> Result<(), String> {
    Ok(())
}

/// Turns terminal echo off while it lives (a no-op on a pipe).
struct NoEcho(Option<libc::termios>);

impl NoEcho {
    fn new(active: bool) -> NoEcho {
        if !active {
            return NoEcho(None);
        }
        // SAFETY: termios is plain data; tcgetattr fills it or fails (then nothing is changed).
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return NoEcho(None);
            }
            let old = t;
            t.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            NoEcho(Some(old))
        }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: restores the settings read in new().
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &old) };
        }
    }
}

struct Asker<'a> {
    input: &'a mut dyn BufRead,
    out: &'a mut dyn Write,
    terminal: bool,
}

impl Asker<'_> {
    fn ask(&mut self, zh: &str, en: &str, default: Option<&str>, check: Check, secret: bool) -> anyhow::Result<String> {
        for _ in 0..3 {
            match default {
                Some(d) if !d.is_empty() => write!(self.out, "{zh} / {en} [{d}]: ")?,
                _ => write!(self.out, "{zh} / {en}: ")?,
            }
            self.out.flush()?;
            let mut line = String::new();
            let n = {
                let _guard = NoEcho::new(secret && self.terminal);
                self.input.read_line(&mut line)?
            };
            if secret && self.terminal {
                writeln!(self.out)?;
            }
            if n == 0 {
                anyhow::bail!("input ended before \"{en}\" was answered; nothing was written");
            }
            let mut answer = line.trim_end_matches(['\n', '\r']).trim().to_string();
            if answer.is_empty() {
                if let Some(d) = default {
                    answer = d.to_string();
                }
            }
            match check(&answer) {
                Ok(()) => return Ok(answer),
                Err(e) => writeln!(self.out, "  ✗ {e}")?,
            }
        }
        anyhow::bail!("\"{en}\" was refused 3 times; nothing was written. Run `storehub provision` again")
    }
}

/// Asks every question and returns the checked plan. `base` is where relative file names
/// (the CA, a certificate) are taken from.
pub fn ask(input: &mut dyn BufRead, out: &mut dyn Write, terminal: bool, base: &Path) -> anyhow::Result<Plan> {
    let mut a = Asker { input, out, terminal };
    writeln!(a.out, "storehub 开通 / provisioning — 回车使用方括号中的默认值 / Enter takes the [default]")?;
    let chain = a.ask("连锁编号", "chain id", None, id, false)?;
    let store = a.ask("门店编号", "store id", None, id, false)?;
    let hub = a.ask("主机编号", "hub id", Some("hub-1"), id, false)?;
    let name = a.ask("门店名称", "store name", Some(&format!("门店 {store}")), non_empty, false)?;
    let url = a.ask("总部消息服务器", "HQ broker URL", None, broker, false)?;
    let how = a.ask("认证方式 password/tls/none", "auth", Some("password"), auth, false)?;
    let mut hq = toml::Table::new();
    hq.insert("broker".into(), url.into());
    hq.insert("auth".into(), how.clone().into());
    if how == "password" {
        hq.insert("username".into(), a.ask("用户名", "broker user", Some(&hub), non_empty, false)?.into());
        hq.insert("password".into(), a.ask("密码", "broker password", None, non_empty, true)?.into());
    }
    let ca = a.ask("总部CA证书文件 (可空)", "HQ CA file (optional)", Some(""), any, false)?;
    if !ca.is_empty() {
        hq.insert("ca_file".into(), ca.into());
    }
    let key = a.ask("总部指令签名公钥 (可空)", "HQ command key (optional)", Some(""), any, false)?;
    if !key.is_empty() {
        hq.insert("command_keys".into(), toml::Value::Array(vec![key.into()]));
    }
    let admin_id = a.ask("管理员账号", "admin id", Some("admin"), id, false)?;
    let admin_pw = a.ask("管理员密码", "admin password", None, password, true)?;
    let again = a.ask("再输一次", "admin password again", None, any, true)?;
    if again != admin_pw {
        anyhow::bail!("the two admin passwords differ; nothing was written. Run `storehub provision` again");
    }
    let data = a.ask("数据目录", "data dir", Some(plan::DEFAULT_DATA_DIR), non_empty, false)?;
    let listen = a.ask("网页监听地址", "web listen address", Some(plan::DEFAULT_LISTEN), non_empty, false)?;

    let mut t = toml::Table::new();
    let mut st = toml::Table::new();
    st.insert("chain_id".into(), chain.into());
    st.insert("store_id".into(), store.into());
    st.insert("hub_id".into(), hub.into());
    st.insert("name".into(), name.into());
    t.insert("store".into(), st.into());
    t.insert("hq".into(), hq.into());
    let mut ad = toml::Table::new();
    ad.insert("id".into(), admin_id.into());
    ad.insert("password".into(), admin_pw.into());
    t.insert("admin".into(), ad.into());
    let mut d = toml::Table::new();
    d.insert("dir".into(), data.into());
    t.insert("data".into(), d.into());
    let mut w = toml::Table::new();
    w.insert("listen".into(), listen.into());
    t.insert("web".into(), w.into());
    plan::parse_table(t, base).map_err(|e: PlanError| anyhow::anyhow!("{e}; nothing was written"))
}
