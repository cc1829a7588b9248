//! Receipt printers: ESC/POS encoding ([`escpos`]), layouts cut to the paper ([`layout`]),
//! the sale receipt, shift report and test page ([`receipt`]), real-time status ([`status`]),
//! the durable print queue ([`queue`]) and the driver loop ([`run`]) that drains the queue of
//! one printer over any byte transport (serial, raw TCP 9100, `/dev/usb/lp*`, a plain file).
//!
//! The driver never drops a job: a printer that is offline, out of paper or has its cover open
//! keeps its jobs queued (durably), its condition is shown in health (`paper_out`,
//! `cover_open`, `offline`) and through [`queue::queue_status`], and the jobs print, oldest
//! first, once it answers ready again. Transports that cannot answer DLE EOT (`lp`, files) are
//! written without asking (`[devices.printer].status_query`).

pub mod cli;
pub mod escpos;
pub mod layout;
pub mod queue;
pub mod receipt;
pub mod status;

use std::io;
use std::time::{Duration, Instant};

use crate::config::{DeviceConfig, PrinterSettings, Transport};
use crate::devices::transport::{read_some, Link, ReadOutcome};
use crate::devices::{DriverCtx, DriverExit};
use status::{PrinterStatus, StatusKind};

pub use queue::{queue_status, JobKind, PrintJob, QueueStatus};
pub use receipt::{render_sale, render_shift, render_test_page, MemberInfo, SaleReceipt};

/// How long the printer has to answer one DLE EOT.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(500);
/// How often an idle driver looks for new jobs.
pub const IDLE_POLL: Duration = Duration::from_millis(100);
/// How often an idle driver asks the printer's status (so the cashier screen learns of
/// "paper out" before the next sale).
pub const STATUS_EVERY: Duration = Duration::from_secs(2);
/// How often a driver with a job waiting asks a printer that was not ready.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);
/// Most unsolicited bytes read (and dropped) before a status request.
const MAX_DRAIN: usize = 4096;

/// Column count of a printer: `[devices.printer].columns`, else by paper width (58 → 32, 80 → 48).
pub fn columns(settings: &PrinterSettings) -> usize {
    match settings.columns {
        Some(c) => usize::from(c).clamp(layout::MIN_COLUMNS, layout::MAX_COLUMNS),
        None => layout::columns_for_paper(settings.paper_mm),
    }
}

/// Whether the driver asks this printer for its status: as configured, else on serial and TCP
/// only (a `/dev/usb/lp*` node or a file may never answer).
pub fn queries_status(cfg: &DeviceConfig) -> bool {
    cfg.printer_settings().status_query.unwrap_or(!matches!(cfg.transport, Transport::Lp))
}

/// Renders `receipt` for printer `cfg` and queues it (durable commit). The lead calls this
/// after a sale commits; the driver prints it.
pub fn queue_sale_receipt(store: &crate::store::Store, cfg: &DeviceConfig, receipt: &SaleReceipt) -> Result<PrintJob, PrintError> {
    let s = cfg.printer_settings();
    let bytes = render_sale(receipt, columns(&s), s.drawer).encode()?;
    Ok(queue::enqueue(store, cfg.id.as_str(), JobKind::SaleReceipt { sale_id: receipt.sale_id }, bytes)?)
}

/// Renders a shift report for printer `cfg` and queues it.
pub fn queue_shift_report(
    store: &crate::store::Store,
    cfg: &DeviceConfig,
    shift: &crate::staff::Shift,
    store_name: &str,
    tz: chrono_tz::Tz,
    lang: crate::config::Language,
) -> Result<PrintJob, PrintError> {
    let bytes = render_shift(shift, store_name, tz, lang, columns(&cfg.printer_settings())).encode()?;
    Ok(queue::enqueue(store, cfg.id.as_str(), JobKind::ShiftReport { shift_id: shift.id }, bytes)?)
}

/// Why a job could not be rendered or queued, or a technician command failed.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(transparent)]
    Encode(#[from] escpos::EscPosError),
    #[error("print queue: {0}")]
    Queue(#[from] crate::store::CommitError<queue::QueueError>),
    #[error("print queue: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Open(#[from] crate::devices::transport::OpenError),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{0}")]
    Spec(String),
    #[error("the printer went away while {0}")]
    Gone(&'static str),
}

fn link_exit(e: io::Error) -> DriverExit {
    if crate::devices::transport::is_gone(&e) {
        DriverExit::Closed
    } else {
        DriverExit::Io(e)
    }
}

/// Reads and drops what the printer sent unasked (late answers to an earlier request that
/// timed out), so the next answer belongs to the next request. Bounded.
fn drain(link: &mut dyn Link) -> Result<(), DriverExit> {
    link.set_read_timeout(Duration::from_millis(1)).map_err(link_exit)?;
    let mut buf = [0u8; 64];
    let mut total = 0;
    while total < MAX_DRAIN {
        match read_some(link, &mut buf).map_err(link_exit)? {
            ReadOutcome::Data(n) => total += n,
            ReadOutcome::Idle => break,
            ReadOutcome::Closed => return Err(DriverExit::Closed),
        }
    }
    Ok(())
}

/// Sends `DLE EOT n` and waits up to `timeout` for a byte with the fixed bits of an answer.
/// Other bytes are reported to `bad` (as garbage) and skipped. `Ok(None)`: no answer.
pub fn ask_status(link: &mut dyn Link, kind: StatusKind, timeout: Duration, bad: &mut dyn FnMut(&str, &str)) -> Result<Option<u8>, DriverExit> {
    link.write_all(&status::request(kind)).map_err(link_exit)?;
    link.flush().map_err(link_exit)?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 16];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bad("timeout", &format!("no answer to DLE EOT {} within {} ms", kind as u8, timeout.as_millis()));
            return Ok(None);
        }
        link.set_read_timeout(left).map_err(link_exit)?;
        match read_some(link, &mut buf).map_err(link_exit)? {
            ReadOutcome::Data(n) => {
                if let Some(b) = buf[..n].iter().copied().find(|b| status::is_status_byte(*b)) {
                    if buf[..n].iter().any(|b| !status::is_status_byte(*b)) {
                        bad("garbage", &format!("bytes that are not a DLE EOT {} answer: {:02x?}", kind as u8, &buf[..n]));
                    }
                    return Ok(Some(b));
                }
                bad("garbage", &format!("bytes that are not a DLE EOT {} answer: {:02x?}", kind as u8, &buf[..n]));
            }
            ReadOutcome::Idle => {}
            ReadOutcome::Closed => return Err(DriverExit::Closed),
        }
    }
}

/// Asks DLE EOT 1 (online?), DLE EOT 2 when offline (why), and DLE EOT 4 (paper). No answer
/// to the first is "offline".
pub fn query_status(link: &mut dyn Link, timeout: Duration, bad: &mut dyn FnMut(&str, &str)) -> Result<PrinterStatus, DriverExit> {
    drain(link)?;
    let Some(p) = ask_status(link, StatusKind::Printer, timeout, bad)? else {
        return Ok(PrinterStatus::unanswered());
    };
    let mut s = PrinterStatus::default();
    s.apply_printer(p);
    if s.offline {
        if let Some(c) = ask_status(link, StatusKind::OfflineCause, timeout, bad)? {
            s.apply_offline_cause(c);
        }
    }
    if let Some(paper) = ask_status(link, StatusKind::Paper, timeout, bad)? {
        s.apply_paper(paper);
    }
    Ok(s)
}

/// Sleeps up to `d`, waking early when the hub stops.
fn pause(ctx: &DriverCtx, d: Duration) {
    let end = Instant::now() + d;
    while !ctx.stopping() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(25)));
    }
}

/// The printer driver: prints this device's queued jobs, oldest first, each exactly once
/// (marked printed in a durable commit right after its last byte went out). Returns
/// [`DriverExit::Closed`] when the printer goes away (the job being sent stays queued and is
/// sent whole on the next run), [`DriverExit::Stopped`] when asked to stop.
pub fn run(link: &mut dyn Link, ctx: &DriverCtx) -> DriverExit {
    match drive(link, ctx) {
        Ok(never) => match never {},
        Err(exit) => {
            ctx.health.set_connected(ctx.id(), false, ctx.clock.now());
            exit
        }
    }
}

fn drive(link: &mut dyn Link, ctx: &DriverCtx) -> Result<std::convert::Infallible, DriverExit> {
    let store = ctx.store.ok_or_else(|| DriverExit::Other(format!("printer {}: the driver needs the store (its print queue)", ctx.id())))?;
    let ask = queries_status(ctx.device);
    let id = ctx.id().to_string();
    let store_err = |e: crate::store::StoreError| DriverExit::Other(format!("printer {id}: print queue: {e}"));
    ctx.health.set_connected(&id, true, ctx.clock.now());
    let mut status = PrinterStatus::assumed_ready();
    let mut asked_at: Option<Instant> = None;
    let mut last_condition: Option<&'static str> = None;
    loop {
        if ctx.stopping() {
            return Err(DriverExit::Stopped);
        }
        let job = queue::oldest(store, &id).map_err(store_err)?;
        let due = asked_at.is_none_or(|t| t.elapsed() >= if job.is_some() { RETRY_EVERY } else { STATUS_EVERY });
        if ask && (due || (job.is_some() && status.ready())) {
            status = query_status(link, STATUS_TIMEOUT, &mut |kind, detail| ctx.input_error(kind, detail))?;
            asked_at = Some(Instant::now());
            let condition = status.condition();
            if condition != last_condition {
                match condition {
                    Some(c) => tracing::warn!(device = %id, condition = c, "printer needs attention; its jobs wait in the queue"),
                    None => tracing::info!(device = %id, "printer ready"),
                }
                last_condition = condition;
            }
            ctx.health.set_status(&id, condition);
        }
        match job {
            Some(job) if status.ready() => {
                if let Err(e) = link.write_all(&job.bytes).and_then(|()| link.flush()) {
                    let _ = queue::record_attempt(store, job.id, &e.to_string());
                    ctx.input_error("io", &format!("job {} not sent: {e}", job.id));
                    return Err(link_exit(e));
                }
                queue::mark_printed(store, job.id).map_err(store_err)?;
                ctx.health.event(&id, ctx.clock.now());
                tracing::info!(device = %id, job = job.id, kind = ?job.kind, bytes = job.bytes.len(), "printed");
            }
            Some(_) => pause(ctx, RETRY_EVERY),
            None => pause(ctx, IDLE_POLL),
        }
    }
}
