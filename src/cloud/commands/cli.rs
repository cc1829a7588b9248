//! `storehub cloud keygen` and `storehub cloud sign`: the tools an HQ engineer (and the tests)
//! use to make a command key and sign a command the way the hub checks it. No store, no
//! daemon; main.rs only parses the arguments and prints.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{anyhow, Context as _};

use super::{dispatch::Command, envelope, signature};

/// Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600, never over an existing file) to
/// `out` and returns its public key, base64, as `[mqtt].command_keys` takes it.
pub fn keygen(out: &Path) -> anyhow::Result<String> {
    let (pem, public) = signature::generate_pem().map_err(|e| anyhow!(e))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .with_context(|| format!("{}: cannot create the key file (an existing key is never overwritten)", out.display()))?;
    file.write_all(pem.as_bytes()).and_then(|()| file.sync_all()).with_context(|| format!("{}: cannot write the key", out.display()))?;
    Ok(public)
}

/// Reads the command JSON from `input` (a file, or stdin for `None` / `-`), checks it as the
/// hub would (envelope, id, effective time, arguments of `name`), and returns the signed
/// envelope `{"signed": …, "signature": …}` signed with the PEM key in `key`.
pub fn sign(key: &Path, name: &str, input: Option<&Path>) -> anyhow::Result<String> {
    let pem = std::fs::read(key).with_context(|| format!("{}: cannot read the key", key.display()))?;
    let pair = signature::load_pem(&pem).map_err(|e| anyhow!("{}: {e}", key.display()))?;
    let (text, source) = match input.filter(|p| p.as_os_str() != "-") {
        Some(p) => (std::fs::read_to_string(p).with_context(|| format!("{}: cannot read the command", p.display()))?, p.display().to_string()),
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("stdin: cannot read the command")?;
            (s, "stdin".to_string())
        }
    };
    check(name, &text).map_err(|e| anyhow!("{source}: {e}; nothing was signed"))?;
    Ok(signature::envelope(&pair, name, &text))
}

/// The hub's own checks of a command that need no store.
pub fn check(name: &str, text: &str) -> Result<(), String> {
    let value = envelope::command_value(text.trim()).map_err(|r| r.error_text())?;
    if value.get("signed").is_some() {
        return Err("this is already a signed envelope; sign the command object itself".into());
    }
    let obj = envelope::parse_command(&value).map_err(|r| r.error_text())?;
    Command::parse(name, &obj.args).map_err(|r| r.error_text())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_checks_the_command_first() {
        assert_eq!(check("ping", r#"{"id":"p-1"}"#), Ok(()));
        assert_eq!(check("price.set", r#"{"id":"p-1","args":{"sku":"A"}}"#), Err("args.price_fen: missing; it is required".into()));
        assert!(check("price.sett", r#"{"id":"p-1"}"#).unwrap_err().starts_with("unknown command"));
        assert!(check("ping", r#"{"signed":{"id":"p"},"signature":"x"}"#).unwrap_err().contains("already a signed envelope"));
    }

    #[test]
    fn keygen_never_overwrites_and_sign_reads_the_key_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("hq.pem");
        let public = keygen(&key).unwrap();
        assert!(keygen(&key).is_err());
        let cmd = dir.path().join("ping.json");
        std::fs::write(&cmd, "{\"id\":\"p-1\"}\n").unwrap();
        let env = sign(&key, "ping", Some(&cmd)).unwrap();
        let split = envelope::split(&env).unwrap();
        let v = signature::Verifier::new(vec![super::super::parse_public_key(&public).unwrap()], true);
        assert!(v.check("ping", split.command, split.signature.as_deref()).unwrap().is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
