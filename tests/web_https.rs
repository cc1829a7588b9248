//! HTTPS for the LAN pages: `storehub run` with `[web].https = true` makes a self-signed
//! certificate at first start, serves the pages over TLS with `Secure` cookies, and a client
//! that does not trust the certificate gets no page.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(dir: &Path, web: &str) -> std::path::PathBuf {
    let demo = storehub::config::DEMO_TOML;
    let (start, end) = (demo.find("# Simulated devices").unwrap(), demo.find("[web]").unwrap());
    let rest = &demo[end..];
    let after_web = &rest[rest.find("[loyalty]").unwrap()..];
    let text = format!("{}[web]\n{web}\n\n{after_web}", &demo[..start]);
    let path = dir.join("hub.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn get_over_tls(port: u16, roots: rustls::RootCertStore) -> Result<String, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap().with_root_certificates(roots).with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&out).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_serves_the_pages_with_secure_cookies() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("hub");
    let cfg = config(tmp.path(), "https = true");
    let mut child = Command::new(env!("CARGO_BIN_EXE_storehub"))
        .args(["--config", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "run", "--listen", "127.0.0.1:0"])
        .env("STOREHUB_LOG", "info")
        .env_remove("STOREHUB_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The bound port is in the log line "web server listening addr=127.0.0.1:PORT".
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ansi = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let plain = ansi.replace_all(&line, "").to_string();
            if let Some(i) = plain.find("addr=127.0.0.1:") {
                let port: String = plain[i + 15..].chars().take_while(|c| c.is_ascii_digit()).collect();
                let _ = tx.send(port.parse::<u16>().unwrap_or(0));
            }
        }
    });
    let port = rx.recv_timeout(Duration::from_secs(60)).expect("the hub says where it listens");
    let cert = data.join("web-tls/cert.pem");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cert.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(data.join("web-tls/key.pem")).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the private key is readable by others: {mode:o}");

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let page = get_over_tls(port, roots).await.expect("a page over TLS");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let cookie = page.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie: sh_pre=")).expect("pre-login cookie");
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    // A client that trusts another certificate gets nothing.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let mut wrong = rustls::RootCertStore::empty();
    wrong.add(other.cert.der().clone()).unwrap();
    let err = get_over_tls(port, wrong).await.unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_certificate_without_its_key_stops_the_daemon_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "https = true\ncert_file = \"/etc/storehub/web.pem\"");
    let out = common::storehub_cmd(&["--config", cfg.to_str().unwrap(), "--data-dir", tmp.path().join("hub").to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[web].key_file"), "{err}");
}
