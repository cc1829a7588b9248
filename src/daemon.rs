//! The long-running process behind `storehub run` and `storehub demo`: opens the store, serves
//! the control socket, tells systemd it is ready and keeps its watchdog fed, and shuts down
//! cleanly on SIGTERM / Ctrl-C. Later parts (devices, cloud relay, web) start here too.

use std::sync::Arc;
use std::time::Duration;

use crate::control::ops::Context;
use crate::control::server::ControlServer;
use crate::control::socket_path;
use crate::store::Store;

/// Automatic snapshots.
pub struct Snapshots {
    pub every: Duration,
    pub keep: usize,
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(store: Arc<Store>, ctx: Context, snapshots: Option<Snapshots>) -> anyhow::Result<()> {
    let sock = socket_path(store.path());
    let server = ControlServer::bind(&sock)
        .map_err(|e| anyhow::anyhow!("cannot open the control socket {}: {e}", sock.display()))?;
    tracing::info!(socket = %sock.display(), "control socket ready");
    let serve = tokio::spawn(server.serve(Arc::clone(&store), Arc::new(ctx)));

    notify_systemd("READY=1\nSTATUS=serving");
    let watchdog = watchdog_interval().map(|every| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                notify_systemd("WATCHDOG=1");
            }
        })
    });

    let snapshotter = snapshots.map(|cfg| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.every);
            loop {
                // The first tick fires at once: a snapshot at start covers what the journal
                // replay restored.
                tick.tick().await;
                let s = Arc::clone(&store);
                match tokio::task::spawn_blocking(move || s.snapshot(cfg.keep)).await {
                    Ok(Ok(info)) => tracing::info!(path = %info.path, journal_seq = info.journal_seq, bytes = info.bytes, "snapshot written"),
                    Ok(Err(e)) => tracing::error!(error = %e, "snapshot failed"),
                    Err(e) => tracing::error!(error = %e, "snapshot task failed"),
                }
            }
        })
    });

    wait_for_shutdown().await;
    if let Some(s) = snapshotter {
        s.abort();
    }
    tracing::info!("shutting down");
    notify_systemd("STOPPING=1");
    serve.abort();
    let _ = serve.await;
    if let Some(w) = watchdog {
        w.abort();
    }
    let flush = Arc::clone(&store);
    tokio::task::spawn_blocking(move || flush.flush()).await??;
    Ok(())
}

async fn wait_for_shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
}

/// Sends a state line to systemd when started with `Type=notify` (no-op otherwise).
pub fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let sock = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(_) => return,
    };
    let bytes = path.as_encoded_bytes();
    let result = if let Some(abstract_name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name)
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// Half of systemd's `WATCHDOG_USEC`, when the watchdog is on for this process.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(100)))
}
