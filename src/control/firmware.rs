//! The control request of `storehub firmware update NODE FILE.uf2`: the daemon runs the update
//! (`devices::shelf::firmware::run_update`) over its health board and the node's command handle,
//! then records `storehub.device.firmware_updated` in the outbox. Only a running daemon can do
//! it: it owns the node's serial port. The CLI has checked the image already; it is checked
//! again here, as any bytes from outside are.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::ops::Context;
use super::Reply;
use crate::devices::health::{DeviceHealth, HealthBoard};
use crate::devices::shelf::firmware::{run_update, NodeAccess, UpdatePlan, EVENT_FIRMWARE_UPDATED};
use crate::devices::shelf::node::{Ack, CommandError, NodeCommands};
use crate::store::{CommitError, Store, StoreError, TxError};

/// `storehub firmware update`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// The `[[devices]]` id of the node.
    pub device: String,
    /// The file the image came from (messages and the event).
    pub file: String,
    /// The UF2 image, base64 (standard alphabet). Sent rather than read by the daemon, which may
    /// run as another user than the person at the CLI.
    pub image_base64: String,
    pub force: bool,
    /// `[firmware].boot_drive_roots` as the CLI read the config.
    pub boot_drive_roots: Vec<PathBuf>,
    /// Seconds per waiting step (`[firmware].timeout_s` or `--timeout`).
    pub timeout_s: u32,
}

/// Data of `storehub.device.firmware_updated` (subject: the device id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareUpdatedData {
    pub device: String,
    pub from: String,
    pub to: String,
    pub file: String,
    pub blocks: usize,
    /// Milliseconds from the command to the hello with the new version.
    pub took_ms: u64,
}

struct DaemonNode {
    board: Arc<HealthBoard>,
    id: String,
    commands: NodeCommands,
}

impl NodeAccess for DaemonNode {
    fn health(&self) -> Option<DeviceHealth> {
        self.board.get(&self.id)
    }
    fn enter_bootloader(&self) -> Result<u16, CommandError> {
        self.commands.enter_bootloader()
    }
    fn wait_ack(&self, seq: u16, timeout: Duration) -> Result<Ack, CommandError> {
        self.commands.wait(seq, timeout)
    }
}

pub fn handle(store: &Arc<Store>, ctx: &Context, req: UpdateRequest) -> Result<Reply, String> {
    let Some(board) = ctx.devices.get() else {
        return Err("固件更新需要运行中的 storehub 守护进程（storehub run），它掌管节点的串口\nfirmware updates go through the running daemon (storehub run), which owns the node's serial port; none runs on this data dir".into());
    };
    let image = base64::engine::general_purpose::STANDARD
        .decode(req.image_base64.as_bytes())
        .map_err(|e| format!("firmware update request: image_base64 is not base64: {e}"))?;
    let plan = UpdatePlan {
        device: &req.device,
        file: &req.file,
        image: &image,
        force: req.force,
        roots: &req.boot_drive_roots,
        timeout: Duration::from_secs(u64::from(req.timeout_s)),
    };
    // The command handle is made only for a device the health board knows as a node, so an
    // unknown id leaves no handle behind.
    let known_node = board.get(&req.device).is_some_and(|h| h.kind == "shelf" && h.protocol == "storehub-node");
    let commands = if known_node { crate::devices::shelf::node_commands(&req.device) } else { NodeCommands::new() };
    let node = DaemonNode { board: Arc::clone(board), id: req.device.clone(), commands };
    let started = std::time::Instant::now();
    let updated = run_update(&plan, &node, |step| tracing::info!(device = %req.device, "firmware update: {step}")).map_err(|e| {
        tracing::warn!(device = %req.device, step = e.step.as_str(), "firmware update stopped");
        e.to_string()
    })?;
    let data = FirmwareUpdatedData {
        device: updated.device.clone(),
        from: updated.from.clone(),
        to: updated.to.clone(),
        file: updated.file.clone(),
        blocks: updated.blocks,
        took_ms: started.elapsed().as_millis() as u64,
    };
    // The node runs the new firmware whatever happens to the event: a store error is reported
    // next to the result, not as a failed update.
    let event = store
        .commit(|tx| -> Result<u64, TxError<StoreError>> { tx.emit(EVENT_FIRMWARE_UPDATED, Some(&data.device), &data) })
        .map_err(|e| match e {
            CommitError::Rejected(e) | CommitError::Store(e) => e.to_string(),
        });
    let mut result = serde_json::to_value(&updated).unwrap_or_default();
    if let Some(obj) = result.as_object_mut() {
        match event {
            Ok(_) => {
                obj.insert("event".into(), EVENT_FIRMWARE_UPDATED.into());
            }
            Err(e) => {
                obj.insert("event_error".into(), format!("the update worked, but {EVENT_FIRMWARE_UPDATED} could not be recorded: {e}").into());
            }
        }
    }
    Ok(Reply { result, payload: None })
}
