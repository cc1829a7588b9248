//! The daemon side of the control socket: accepts connections, reads one bounded request line,
//! runs it on a blocking thread (store calls are synchronous) and writes the reply.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::ops::{self, Context};
use super::{Request, MAX_REQUEST_BYTES};
use crate::store::Store;

/// A bound control socket; removed from disk when dropped.
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlServer {
    /// Binds the socket at `path` with owner-only permissions. A stale socket left by a killed
    /// daemon is replaced; a live one (another daemon) is an error.
    pub fn bind(path: &Path) -> std::io::Result<ControlServer> {
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{} is in use: another storehub daemon runs on this data dir", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        // Create it owner-only from the start (umask), then make sure.
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(ControlServer { listener, path: path.to_path_buf() })
    }

    /// Serves until the task is dropped.
    pub async fn serve(self, store: Arc<Store>, ctx: Arc<Context>) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    let (store, ctx) = (Arc::clone(&store), Arc::clone(&ctx));
                    tokio::spawn(async move {
                        if let Err(e) = serve_one(stream, store, ctx).await {
                            tracing::warn!(error = %e, "control connection failed");
                        }
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "control socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_one(stream: UnixStream, store: Arc<Store>, ctx: Arc<Context>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read).take(MAX_REQUEST_BYTES);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).await?;
    let reply = if !line.ends_with(b"\n") {
        Err(format!("request too large or not terminated (limit {MAX_REQUEST_BYTES} bytes)"))
    } else {
        match serde_json::from_slice::<Request>(&line) {
            Err(e) => Err(format!("bad request: {e}")),
            Ok(req) => {
                tracing::info!(op = req.name(), "control request");
                tokio::task::spawn_blocking(move || ops::handle(&store, &ctx, req))
                    .await
                    .unwrap_or_else(|e| Err(format!("request failed: {e}")))
            }
        }
    };
    match reply {
        Ok(r) => {
            let mut head = serde_json::json!({ "ok": true, "result": r.result });
            if let (Some(p), Some(obj)) = (&r.payload, head.as_object_mut()) {
                obj.insert("payload_len".into(), p.len().into());
            }
            let mut bytes = serde_json::to_vec(&head).unwrap_or_default();
            bytes.push(b'\n');
            write.write_all(&bytes).await?;
            if let Some(p) = r.payload {
                write.write_all(&p).await?;
            }
        }
        Err(msg) => {
            let mut bytes = serde_json::to_vec(&serde_json::json!({ "ok": false, "error": msg })).unwrap_or_default();
            bytes.push(b'\n');
            write.write_all(&bytes).await?;
        }
    }
    write.shutdown().await
}
