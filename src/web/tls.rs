//! HTTPS for the LAN pages, for owners who want it: a rustls (ring) server config from
//! `[web].cert_file`/`key_file`, or a self-signed certificate the hub makes at first start and
//! keeps in `DATA_DIR/web-tls/` (owner-only files). [`TlsListener`] accepts TCP connections and
//! runs each handshake on its own task, so a slow or broken client never holds the others up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why HTTPS could not be set up; names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("[web] {key} {path}: {reason}")]
    File { key: &'static str, path: PathBuf, reason: String },
    #[error("[web] https: {0}")]
    Config(String),
}

/// Handshakes waiting to finish at most; past it new connections wait in the kernel's backlog.
const MAX_PENDING_HANDSHAKES: usize = 64;
/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The server config: the configured files, or the self-signed pair under `data_dir`.
pub fn server_config(cert_file: Option<&Path>, key_file: Option<&Path>, data_dir: &Path, names: &[String]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert_path, key_path) = match (cert_file, key_file) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf()),
        _ => self_signed(data_dir, names)?,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::File { key: "cert_file", path: cert_path.clone(), reason: format!("not a PEM certificate chain: {e}") })?;
    if certs.is_empty() {
        return Err(TlsError::File { key: "cert_file", path: cert_path, reason: "no certificate in the file".into() });
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::File { key: "key_file", path: key_path.clone(), reason: format!("not a PEM private key: {e}") })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::File { key: "key_file", path: key_path, reason: format!("does not match the certificate: {e}") })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The self-signed certificate and key under `DATA_DIR/web-tls/`, made when missing, for
/// `names` (host names and IP addresses the pages are opened by) plus localhost.
fn self_signed(data_dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data_dir.join("web-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let file_err = |path: &Path, e: std::io::Error| TlsError::File { key: "self-signed certificate", path: path.to_path_buf(), reason: e.to_string() };
    std::fs::create_dir_all(&dir).map_err(|e| file_err(&dir, e))?;
    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    sans.extend(names.iter().filter(|n| !n.is_empty()).cloned());
    sans.dedup();
    let made = rcgen::generate_simple_self_signed(sans).map_err(|e| TlsError::Config(format!("cannot make a self-signed certificate: {e}")))?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes()).map_err(|e| file_err(&key, e))?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| file_err(&cert, e))?;
    tracing::info!(cert = %cert.display(), "made a self-signed HTTPS certificate; browsers will ask to trust it once");
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A TCP listener whose connections come out TLS-wrapped, handshakes done on their own tasks.
pub struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(tokio_rustls::server::TlsStream<tokio::net::TcpStream>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: tokio::net::TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (tx, ready) = tokio::sync::mpsc::channel(MAX_PENDING_HANDSHAKES);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
        let acceptor_task = tokio::spawn(async move {
            loop {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(client = %addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(client = %addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready, acceptor_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The acceptor task ended (the runtime is shutting down): never yield again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
