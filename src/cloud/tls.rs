//! TLS for the broker connection: a rustls client config (ring provider) from `[mqtt]`'s CA,
//! client certificate and key files, or the system's trusted roots.
//!
//! Built once when the relay starts, so a missing or broken file stops the daemon at start with
//! a message naming the file and what is wrong with it, instead of a reconnect loop later. The
//! handshake itself (wrong CA, expired certificate, name mismatch) fails at connect time and is
//! reported in the cloud status like any other connection error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring as ring_provider;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::MqttConfig;

/// What kept the TLS settings from loading. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("[mqtt].{key} = {path:?}: cannot read the file: {source}")]
    Read { key: &'static str, path: PathBuf, source: std::io::Error },
    #[error("[mqtt].{key} = {path:?}: not a PEM file ({detail})")]
    NotPem { key: &'static str, path: PathBuf, detail: String },
    #[error("[mqtt].{key} = {path:?}: no {what} in it (expected a PEM block like \"-----BEGIN {marker}-----\")")]
    Empty { key: &'static str, path: PathBuf, what: &'static str, marker: &'static str },
    #[error("[mqtt].ca_file = {path:?}: certificate {index} is not a usable CA certificate: {detail}")]
    BadCa { path: PathBuf, index: usize, detail: String },
    #[error("the system has no trusted root certificates ({detail}); set [mqtt].ca_file to the broker's CA")]
    NoSystemRoots { detail: String },
    #[error("[mqtt].cert_file = {cert:?} and [mqtt].key_file = {key:?} do not go together: {detail}")]
    ClientAuth { cert: PathBuf, key: PathBuf, detail: String },
    #[error("TLS settings: {0}")]
    Rustls(String),
}

/// The rustls client config for `m` (used only for `mqtts://`). Roots from `ca_file` when set,
/// else the system's; a client certificate and key when both are set (mutual TLS).
pub fn client_config(m: &MqttConfig) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    match &m.ca_file {
        Some(path) => {
            let certs = read_certs("ca_file", path)?;
            for (i, cert) in certs.into_iter().enumerate() {
                roots.add(cert).map_err(|e| TlsError::BadCa { path: path.clone(), index: i + 1, detail: e.to_string() })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let detail = found.errors.first().map(|e| e.to_string()).unwrap_or_else(|| "none found".into());
                return Err(TlsError::NoSystemRoots { detail });
            }
        }
    }
    let provider = Arc::new(ring_provider::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&m.cert_file, &m.key_file) {
        (Some(cert_path), Some(key_path)) => {
            let chain = read_certs("cert_file", cert_path)?;
            let key = read_key(key_path)?;
            builder.with_client_auth_cert(chain, key).map_err(|e| TlsError::ClientAuth {
                cert: cert_path.clone(),
                key: key_path.clone(),
                detail: client_auth_detail(&e),
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; an error when there is none.
fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| pem_error(key, path, e))?;
    let certs = iter.collect::<Result<Vec<_>, _>>().map_err(|e| pem_error(key, path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Empty { key, path: path.to_path_buf(), what: "certificate", marker: "CERTIFICATE" });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            TlsError::Empty { key: "key_file", path: path.to_path_buf(), what: "private key", marker: "PRIVATE KEY" }
        }
        other => pem_error("key_file", path, other),
    })
}

fn pem_error(key: &'static str, path: &Path, e: pem::Error) -> TlsError {
    match e {
        pem::Error::Io(source) => TlsError::Read { key, path: path.to_path_buf(), source },
        other => TlsError::NotPem { key, path: path.to_path_buf(), detail: other.to_string() },
    }
}

fn client_auth_detail(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "the private key is not the key of the certificate (the first certificate in cert_file)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new() -> Files {
            Files { dir: tempfile::tempdir().unwrap() }
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    fn ca_and_client() -> (String, String, String, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, &ca_key);
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client = rcgen::CertificateParams::new(vec!["hub-1".to_string()]).unwrap().signed_by(&client_key, &issuer).unwrap();
        let other_key = rcgen::KeyPair::generate().unwrap();
        (ca.pem(), client.pem(), client_key.serialize_pem(), other_key.serialize_pem())
    }

    fn mqtt(ca: Option<&Path>, cert: Option<&Path>, key: Option<&Path>) -> MqttConfig {
        MqttConfig {
            ca_file: ca.map(Path::to_path_buf),
            cert_file: cert.map(Path::to_path_buf),
            key_file: key.map(Path::to_path_buf),
            ..MqttConfig::default()
        }
    }

    #[test]
    fn a_ca_file_and_a_matching_client_pair_load() {
        let f = Files::new();
        let (ca, cert, key, _) = ca_and_client();
        let (ca, cert, key) = (f.write("ca.pem", &ca), f.write("client.pem", &cert), f.write("client.key", &key));
        let cfg = client_config(&mqtt(Some(&ca), Some(&cert), Some(&key))).unwrap();
        assert!(cfg.client_auth_cert_resolver.has_certs());
        let cfg = client_config(&mqtt(Some(&ca), None, None)).unwrap();
        assert!(!cfg.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let f = Files::new();
        let (ca, cert, key, other_key) = ca_and_client();
        let (ca, cert, key, other_key) =
            (f.write("ca.pem", &ca), f.write("client.pem", &cert), f.write("client.key", &key), f.write("other.key", &other_key));
        let missing = f.dir.path().join("nope.pem");
        let e = client_config(&mqtt(Some(&missing), None, None)).unwrap_err().to_string();
        assert!(e.starts_with("[mqtt].ca_file = ") && e.contains("nope.pem") && e.contains("cannot read the file"), "{e}");

        let text = f.write("text.pem", "hello, I am not a certificate\n");
        let e = client_config(&mqtt(Some(&text), None, None)).unwrap_err().to_string();
        assert!(e.contains("text.pem") && e.contains("no certificate in it"), "{e}");

        let broken = f.write("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
        let e = client_config(&mqtt(Some(&broken), None, None)).unwrap_err().to_string();
        assert!(e.contains("broken.pem") && e.contains("not a PEM file"), "{e}");

        // A key file given as the CA: PEM, but no certificate in it.
        let e = client_config(&mqtt(Some(&key), None, None)).unwrap_err().to_string();
        assert!(e.contains("[mqtt].ca_file") && e.contains("no certificate"), "{e}");

        // A certificate given as the key.
        let e = client_config(&mqtt(Some(&ca), Some(&cert), Some(&cert))).unwrap_err().to_string();
        assert!(e.contains("[mqtt].key_file") && e.contains("no private key"), "{e}");

        let e = client_config(&mqtt(Some(&ca), Some(&cert), Some(&other_key))).unwrap_err().to_string();
        assert!(e.contains("do not go together") && e.contains("not the key of the certificate"), "{e}");
    }
}
