//! Devices (设备): the health board in detail (each device online or offline and since when, its
//! last event, counts of events, errors by kind, reconnects, the model it reported, a printer's
//! queue, a shelf node's firmware and channels: product, grams, raw count, stable, state,
//! calibrated), and the commands a technician sends from it: zero / tare / clear tare for serial
//! scales that take them (Toledo 8217, MT-SICS); for a storehub shelf node a guided calibration
//! (tare the empty channel, then calibrate with a known weight), identify (blink), sample rate and
//! reboot, each answered with the node's ack in words. Commands go through the drivers' own handles
//! (`devices::scale::commands_for`, `devices::shelf::node_commands`); the board is the running
//! daemon's (`ctx.devices`), so without a device hub the page says so.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::devices::health::DeviceHealth;
use crate::devices::scale::ScaleCommand;
use crate::domain::staff::{allows, Action};

/// How long a shelf command waits for the node's acknowledgement.
pub const ACK_WAIT: Duration = Duration::from_secs(2);
/// The heaviest known weight a calibration takes (grams).
pub const MAX_CALIBRATION_GRAMS: i32 = 1_000_000;
/// How long a node blinks for `identify` when the body does not say.
pub const IDENTIFY_SECONDS: u8 = 10;
/// The longest blink `identify` asks for.
pub const MAX_IDENTIFY_SECONDS: u8 = 60;
/// The sample rates a node takes, readings per channel per second.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u8> = 1..=10;

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/devices", Need::May(Action::ViewDevices), "The devices and their health", devices_page),
        RouteDef::post("/devices/{id}/{command}", Need::May(Action::ManageDevices), "A device command from the devices page (form)", command_form),
        RouteDef::post(
            "/api/v1/devices/{id}/{command}",
            Need::May(Action::ManageDevices),
            "A device command: zero, tare, clear-tare (scales); tare, calibrate (shelf nodes, with channel and known_grams), identify (seconds, default 10), sample-rate (per_s, 1–10), reboot (shelf nodes)",
            command_api,
        )
        .body::<CommandBody>()
        .returns::<CommandDone>(),
    ]
}

/// What a command needs besides its name (shelf nodes only).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    /// The node's channel (shelf commands).
    pub channel: Option<u8>,
    /// The weight on the channel for `calibrate`, grams.
    pub known_grams: Option<i32>,
    /// How long the node blinks for `identify`, seconds (1–60; default 10).
    pub seconds: Option<u8>,
    /// Readings per channel per second for `sample-rate` (1–10).
    pub per_s: Option<u8>,
}

/// A command that was sent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommandDone {
    pub device: String,
    pub command: String,
    /// Scales: queued for the driver, which sends it between polls and logs the answer.
    pub queued: bool,
    /// Shelf nodes: the node acknowledged it.
    pub acknowledged: bool,
}

/// A command checked against the device it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Scale(ScaleCommand),
    ShelfTare { channel: u8 },
    ShelfCalibrate { channel: u8, known_grams: i32 },
    ShelfIdentify { seconds: u8 },
    ShelfSampleRate { per_s: u8 },
    ShelfReboot,
}

/// Why a command cannot be sent: (status, field, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub field: Option<&'static str>,
    pub zh: String,
    pub en: String,
}

impl Refused {
    fn web(&self) -> WebError {
        let mut e = WebError::new(self.status, if self.field.is_some() { "invalid_field" } else if self.status == StatusCode::NOT_FOUND { "not_found" } else { "refused" }, self.en.clone());
        e.field = self.field.map(str::to_string);
        e
    }
}

fn refused(status: StatusCode, field: Option<&'static str>, zh: impl Into<String>, en: impl Into<String>) -> Refused {
    Refused { status, field, zh: zh.into(), en: en.into() }
}

/// Scales whose protocol has zero / tare commands.
fn scale_takes_commands(protocol: &str) -> bool {
    matches!(protocol, "toledo-8217" | "mt-sics")
}

/// The commands a device takes (for the page's buttons).
pub fn commands_of(d: &DeviceHealth) -> &'static [&'static str] {
    match d.kind.as_str() {
        "scale" if scale_takes_commands(&d.protocol) => &["zero", "tare", "clear-tare"],
        "shelf" if d.protocol == "storehub-node" => &["tare", "calibrate", "identify", "sample-rate", "reboot"],
        _ => &[],
    }
}

/// Checks `command` with `body` against the device.
pub fn plan(d: &DeviceHealth, command: &str, body: &CommandBody) -> Result<Plan, Refused> {
    let takes = commands_of(d);
    if !takes.contains(&command) {
        let (zh, en) = if takes.is_empty() {
            (format!("设备 {} 不接受远程命令（请在设备上操作）", d.id), format!("device {} takes no commands from the hub (use its own keys)", d.id))
        } else {
            (format!("设备 {} 没有命令 “{command}”；可用：{}", d.id, takes.join("、")), format!("device {} has no command {command:?}; it takes {}", d.id, takes.join(", ")))
        };
        return Err(refused(StatusCode::NOT_FOUND, None, zh, en));
    }
    let channel = || body.channel.ok_or_else(|| refused(StatusCode::BAD_REQUEST, Some("channel"), "请填写通道号（0–255）", "give the channel (0–255)"));
    Ok(match command {
        "zero" => Plan::Scale(ScaleCommand::Zero),
        "tare" if d.kind == "scale" => Plan::Scale(ScaleCommand::Tare),
        "clear-tare" => Plan::Scale(ScaleCommand::ClearTare),
        "tare" => Plan::ShelfTare { channel: channel()? },
        "identify" => match body.seconds.unwrap_or(IDENTIFY_SECONDS) {
            s @ 1..=MAX_IDENTIFY_SECONDS => Plan::ShelfIdentify { seconds: s },
            _ => return Err(refused(StatusCode::BAD_REQUEST, Some("seconds"), format!("闪灯时间为 1–{MAX_IDENTIFY_SECONDS} 秒"), format!("blink for 1 to {MAX_IDENTIFY_SECONDS} seconds"))),
        },
        "sample-rate" => match body.per_s {
            Some(r) if SAMPLE_RATES.contains(&r) => Plan::ShelfSampleRate { per_s: r },
            _ => {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    Some("per_s"),
                    format!("请填写每秒读数次数（{}–{}）", SAMPLE_RATES.start(), SAMPLE_RATES.end()),
                    format!("give the readings per second, {} to {}", SAMPLE_RATES.start(), SAMPLE_RATES.end()),
                ))
            }
        },
        "reboot" => Plan::ShelfReboot,
        _ => {
            let channel = channel()?;
            match body.known_grams {
                Some(g) if (1..=MAX_CALIBRATION_GRAMS).contains(&g) => Plan::ShelfCalibrate { channel, known_grams: g },
                _ => {
                    return Err(refused(
                        StatusCode::BAD_REQUEST,
                        Some("known_grams"),
                        format!("请填写放在秤上的已知重量（1–{MAX_CALIBRATION_GRAMS} 克）"),
                        format!("give the known weight on the channel, 1 to {MAX_CALIBRATION_GRAMS} grams"),
                    ))
                }
            }
        }
    })
}

fn find(state: &AppState, id: &str) -> Result<DeviceHealth, Refused> {
    let Some(board) = state.ctx.devices.get() else {
        return Err(refused(StatusCode::CONFLICT, None, "本进程没有运行设备中心（storehub run 会启动它）", "no device hub runs in this process (storehub run starts it)"));
    };
    board.snapshot().into_iter().find(|d| d.id == id).ok_or_else(|| refused(StatusCode::NOT_FOUND, None, format!("没有设备 {id}"), format!("no device {id:?}")))
}

/// Sends a planned command: a scale's is queued; a shelf node's waits for its ack.
async fn send(state: &AppState, id: &str, command: &str, plan: Plan) -> Result<CommandDone, Refused> {
    let done = |queued, acknowledged| CommandDone { device: id.to_string(), command: command.to_string(), queued, acknowledged };
    match plan {
        Plan::Scale(c) => {
            crate::devices::scale::commands_for(id).send(c).map_err(|e| refused(StatusCode::CONFLICT, None, format!("秤的命令队列已满：{e}"), e.to_string()))?;
            tracing::info!(device = id, command, "scale command queued from the web");
            Ok(done(true, false))
        }
        Plan::ShelfTare { .. } | Plan::ShelfCalibrate { .. } | Plan::ShelfIdentify { .. } | Plan::ShelfSampleRate { .. } | Plan::ShelfReboot => {
            let handle = crate::devices::shelf::node_commands(id);
            let seq = match plan {
                Plan::ShelfTare { channel } => handle.tare(channel),
                Plan::ShelfCalibrate { channel, known_grams } => handle.calibrate(channel, known_grams),
                Plan::ShelfIdentify { seconds } => handle.identify(seconds),
                Plan::ShelfSampleRate { per_s } => handle.set_sample_rate(per_s),
                Plan::ShelfReboot => handle.reboot(),
                Plan::Scale(_) => return Ok(done(true, false)),
            }
            .map_err(|e| refused(StatusCode::CONFLICT, None, format!("命令未发送：{e}"), e.to_string()))?;
            let ack = state.blocking(move |_, _| Ok(handle.wait(seq, ACK_WAIT))).await.map_err(|e| refused(StatusCode::INTERNAL_SERVER_ERROR, None, e.message.clone(), e.message))?;
            match ack {
                Ok(a) if a.ok => {
                    tracing::info!(device = id, command, "shelf node command acknowledged");
                    Ok(done(true, true))
                }
                Ok(a) => {
                    let (zh, en) = a.explain();
                    let code = a.reason().map_or_else(|| a.code.to_string(), |r| r.as_str().to_string());
                    Err(refused(StatusCode::CONFLICT, None, format!("节点拒绝了命令：{zh}（{code}）"), format!("the node refused the command: {en} ({code})")))
                }
                Err(e) => Err(refused(StatusCode::GATEWAY_TIMEOUT, None, format!("节点没有应答：{e}"), e.to_string())),
            }
        }
    }
}

async fn command_api(State(state): State<AppState>, Path((id, command)): Path<(String, String)>, body: Bytes) -> Result<Response, WebError> {
    let body: CommandBody = if body.iter().all(u8::is_ascii_whitespace) { CommandBody::default() } else { super::error::parse_json(&body)? };
    let device = find(&state, &id).map_err(|r| r.web())?;
    let plan = plan(&device, &command, &body).map_err(|r| r.web())?;
    let done = send(&state, &id, &command, plan).await.map_err(|r| r.web())?;
    Ok(axum::Json(done).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct CommandForm {
    channel: Option<String>,
    known_grams: Option<String>,
    seconds: Option<String>,
    per_s: Option<String>,
}

async fn command_form(State(state): State<AppState>, Extension(me): Extension<Identity>, Path((id, command)): Path<(String, String)>, body: Bytes) -> Response {
    let form: CommandForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let num = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut parsed = CommandBody::default();
    let mut bad: Option<Refused> = None;
    if let Some(c) = num(&form.channel) {
        match c.parse::<u8>() {
            Ok(c) => parsed.channel = Some(c),
            Err(_) => bad = Some(refused(StatusCode::BAD_REQUEST, Some("channel"), "通道号应为 0–255 的整数", "the channel is a whole number 0–255")),
        }
    }
    if let Some(g) = num(&form.known_grams) {
        match g.parse::<i32>() {
            Ok(g) => parsed.known_grams = Some(g),
            Err(_) => bad = Some(refused(StatusCode::BAD_REQUEST, Some("known_grams"), "重量应为整数克", "the weight is a whole number of grams")),
        }
    }
    for (field, value, slot, zh, en) in [
        ("seconds", &form.seconds, &mut parsed.seconds, "闪灯时间应为 1–60 的整数秒", "the blink time is a whole number of seconds, 1–60"),
        ("per_s", &form.per_s, &mut parsed.per_s, "采样率应为 1–10 的整数", "the sample rate is a whole number, 1–10"),
    ] {
        if let Some(v) = num(value) {
            match v.parse::<u8>() {
                Ok(v) => *slot = Some(v),
                Err(_) => bad = Some(refused(StatusCode::BAD_REQUEST, Some(field), zh, en)),
            }
        }
    }
    let outcome = match bad {
        Some(r) => Err(r),
        None => match find(&state, &id).and_then(|d| plan(&d, &command, &parsed)) {
            Ok(p) => send(&state, &id, &command, p).await,
            Err(r) => Err(r),
        },
    };
    match outcome {
        Ok(d) => {
            let what = if d.acknowledged { format!("{id}:{command}:ack") } else { format!("{id}:{command}") };
            Redirect::to(&format!("/devices?done={}", serde_urlencoded::to_string([("", what)]).unwrap_or_default().trim_start_matches('='))).into_response()
        }
        Err(r) => {
            let status = r.status;
            (status, render(&state, &me, Some((&id, &command, &r)), None)).into_response()
        }
    }
}

async fn devices_page(State(state): State<AppState>, Extension(me): Extension<Identity>, axum::extract::RawQuery(query): axum::extract::RawQuery) -> Response {
    let done: Option<String> = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "done").map(|(_, v)| v.chars().take(80).collect()));
    render(&state, &me, None, done.as_deref()).into_response()
}

fn render(state: &AppState, me: &Identity, error: Option<(&str, &str, &Refused)>, done: Option<&str>) -> Markup {
    let lang = me.lang;
    let may_command = allows(me.staff.role, Action::ManageDevices);
    let tz = state.ctx.tz;
    let today = crate::clock::local(state.store.clock().now(), tz).date();
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or_else(|| "—".to_string(), |t| super::dashboard::local_time(t, tz, today));
    let body = html! {
        h1 { (lang.pick("设备", "Devices")) }
        @if let Some(d) = done {
            p.ok role="status" { (lang.pick("已发送：", "Sent: ")) (d) @if d.contains(":ack") { " · " (lang.pick("节点已确认", "the node acknowledged it")) } }
        }
        @if let Some((id, command, r)) = error {
            @if r.field.is_none() {
                p.error role="alert" { (id) " · " (command) ": " (lang.pick(&r.zh, &r.en)) }
            }
        }
        @match state.ctx.devices.get() {
            None => p.muted { (lang.pick("本进程没有运行设备中心：设备状态只有运行中的 storehub run 才知道。storehub doctor 可以在不运行守护进程时检查设备。", "No device hub runs in this process: device health is known only to a running `storehub run`. `storehub doctor` checks devices without it.")) },
            Some(board) => {
                @let list = board.snapshot();
                @if list.is_empty() {
                    p.muted { (lang.pick("没有配置设备（[[devices]]）", "No devices are configured ([[devices]])")) }
                }
                @for d in &list {
                    section.card style="margin-bottom:.8rem" {
                        h2 {
                            (d.id) " "
                            @if d.connected { span.badge.ok { (lang.pick("在线", "online")) } } @else { span.badge.bad { (lang.pick("离线", "offline")) } }
                            @if let Some(s) = &d.status { " " span.badge.warn { (s) } }
                        }
                        table {
                            tbody {
                                tr { th { (lang.pick("类型", "Kind")) } td { (d.kind) " · " (d.protocol) " · " (d.transport) } }
                                tr { th { (lang.pick("连接", "Target")) } td { code { (d.target) } } }
                                @if let Some(l) = &d.lane { tr { th { (lang.pick("收银台", "Lane")) } td { (l) } } }
                                tr { th { (lang.pick("状态变化于", "Since")) } td { (when(d.since)) } }
                                tr { th { (lang.pick("最近事件", "Last event")) } td { (when(d.last_event_at)) " · " (d.events) " " (lang.pick("个事件", "events")) } }
                                tr { th { (lang.pick("重连次数", "Reconnects")) } td { (d.reconnects) } }
                                tr {
                                    th { (lang.pick("错误", "Errors")) }
                                    td {
                                        @if d.errors.is_empty() { "0" } @else {
                                            @for (k, n) in &d.errors { span.badge { (k) " " (n) } " " }
                                        }
                                    }
                                }
                                @if let Some(e) = &d.last_error { tr { th { (lang.pick("最近错误", "Last error")) } td { (e) " · " (when(d.last_error_at)) } } }
                                @if d.model.is_some() || d.firmware.is_some() {
                                    tr { th { (lang.pick("型号 / 固件", "Model / firmware")) } td { (d.model.as_deref().unwrap_or("—")) " / " (d.firmware.as_deref().unwrap_or("—")) } }
                                }
                                @if d.kind == "printer" {
                                    @if let Ok(q) = crate::devices::printer::queue_status(&state.store, Some(board), &d.id) {
                                        tr { th { (lang.pick("待打印", "Print queue")) } td { (q.queued) } }
                                    }
                                }
                            }
                        }
                        @if !d.channels.is_empty() {
                            (channel_table(lang, d))
                        }
                        @if may_command && !commands_of(d).is_empty() {
                            (command_forms(lang, me, d, error.filter(|(id, _, _)| *id == d.id)))
                        }
                    }
                }
            }
        }
    };
    page::render(state, Some(me), lang.pick("设备", "Devices"), body)
}

fn command_forms(lang: Lang, me: &Identity, d: &DeviceHealth, error: Option<(&str, &str, &Refused)>) -> Markup {
    let errors: Vec<(String, String)> = error.and_then(|(_, _, r)| r.field.map(|f| (f.to_string(), lang.pick(&r.zh, &r.en).to_string()))).into_iter().collect();
    let action = |c: &str| format!("/devices/{}/{c}", d.id);
    let label = |c: &str| match c {
        "zero" => lang.pick("置零", "Zero"),
        "tare" => lang.pick("去皮", "Tare"),
        "clear-tare" => lang.pick("清除皮重", "Clear tare"),
        _ => lang.pick("校准", "Calibrate"),
    };
    html! {
        @if d.kind == "scale" {
            div.toolbar {
                @for c in commands_of(d) {
                    form.inline method="post" action=(action(c)) {
                        (page::csrf_field(me))
                        button.secondary type="submit" { (label(c)) }
                    }
                }
            }
        } @else {
            section {
                h3 { (lang.pick("校准", "Calibration")) }
                ol {
                    li {
                        (lang.pick("清空货架（通道上不放任何东西），按“去皮”。", "Empty the shelf (nothing on the channel) and press Tare."))
                        form.toolbar method="post" action=(action("tare")) {
                            (page::csrf_field(me))
                            label { (lang.pick("通道", "Channel")) input type="number" name="channel" min="0" max="255" value="0" required; }
                            button.secondary type="submit" { (label("tare")) }
                        }
                    }
                    li {
                        (lang.pick("放上已知重量的物品，输入它的克数，按“校准”。重量稳定后节点才会接受。", "Place a known weight, enter its grams and press Calibrate. The node takes it once the weight is stable."))
                        form.toolbar method="post" action=(action("calibrate")) {
                            (page::csrf_field(me))
                            label { (lang.pick("通道", "Channel")) input type="number" name="channel" min="0" max="255" value="0" required; (page::field_error(&errors, "channel")) }
                            label { (lang.pick("已知重量（克）", "Known weight (g)")) input type="number" name="known_grams" min="1" max=(MAX_CALIBRATION_GRAMS) required; (page::field_error(&errors, "known_grams")) }
                            button.secondary type="submit" { (label("calibrate")) }
                        }
                    }
                }
            }
            div.toolbar {
                form.inline method="post" action=(action("identify")) {
                    (page::csrf_field(me))
                    input type="hidden" name="seconds" value=(IDENTIFY_SECONDS);
                    button.secondary type="submit" { (lang.pick("闪灯识别（10 秒）", "Identify (blink 10 s)")) }
                }
                form.toolbar method="post" action=(action("sample-rate")) {
                    (page::csrf_field(me))
                    label { (lang.pick("每秒读数", "Readings per second")) input type="number" name="per_s" min=(SAMPLE_RATES.start()) max=(SAMPLE_RATES.end()) value="5" required; (page::field_error(&errors, "per_s")) }
                    button.secondary type="submit" { (lang.pick("设置采样率", "Set sample rate")) }
                }
                form.inline method="post" action=(action("reboot")) {
                    (page::csrf_field(me))
                    button.secondary type="submit" { (lang.pick("重启节点", "Reboot node")) }
                }
            }
        }
    }
}

/// A shelf node's channels: the product on each, its last reading and the node's health report.
fn channel_table(lang: Lang, d: &DeviceHealth) -> Markup {
    let state = |s: &str| match s {
        "ok" => lang.pick("正常", "ok"),
        "no_data" => lang.pick("无数据（检查接线）", "no data (check wiring)"),
        "saturated" => lang.pick("超量程", "saturated"),
        _ => lang.pick("未知", "unknown"),
    };
    let yes_no = |b: Option<bool>, yes: (&'static str, &'static str), no: (&'static str, &'static str)| match b {
        Some(true) => lang.pick(yes.0, yes.1).to_string(),
        Some(false) => lang.pick(no.0, no.1).to_string(),
        None => "—".to_string(),
    };
    let dash = |v: Option<String>| v.unwrap_or_else(|| "—".to_string());
    html! {
        table.channels {
            thead {
                tr {
                    th { (lang.pick("通道", "Channel")) } th { (lang.pick("商品", "Product")) } th { (lang.pick("重量（克）", "Grams")) }
                    th { (lang.pick("原始值", "Raw")) } th { (lang.pick("稳定", "Stable")) } th { (lang.pick("状态", "State")) } th { (lang.pick("已校准", "Calibrated")) }
                }
            }
            tbody {
                @for c in &d.channels {
                    tr {
                        td { (c.channel) }
                        td { (dash(c.sku.clone())) }
                        td { (dash(c.grams.map(|g| g.to_string()))) }
                        td { (dash(c.raw.map(|r| r.to_string()))) }
                        td { (yes_no(c.stable, ("稳定", "stable"), ("变化中", "moving"))) }
                        td { (state(&c.state)) }
                        td { (yes_no(c.calibrated, ("是", "yes"), ("否", "no"))) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(kind: &str, protocol: &str) -> DeviceHealth {
        DeviceHealth::new("dev-1", kind, protocol, "serial", "/dev/ttyUSB0", None)
    }

    #[test]
    fn scales_and_shelf_nodes_take_their_own_commands_only() {
        let toledo = device("scale", "toledo-8217");
        assert_eq!(plan(&toledo, "tare", &CommandBody::default()), Ok(Plan::Scale(ScaleCommand::Tare)));
        assert_eq!(plan(&toledo, "clear-tare", &CommandBody::default()), Ok(Plan::Scale(ScaleCommand::ClearTare)));
        assert_eq!(plan(&toledo, "calibrate", &CommandBody::default()).unwrap_err().status, StatusCode::NOT_FOUND);
        let cas = device("scale", "cas");
        assert!(commands_of(&cas).is_empty(), "a CAS stream takes zero and tare at its keys");
        assert_eq!(plan(&cas, "zero", &CommandBody::default()).unwrap_err().status, StatusCode::NOT_FOUND);
        let node = device("shelf", "storehub-node");
        assert_eq!(plan(&node, "tare", &CommandBody { channel: Some(2), ..CommandBody::default() }), Ok(Plan::ShelfTare { channel: 2 }));
        assert_eq!(plan(&node, "tare", &CommandBody::default()).unwrap_err().field, Some("channel"));
        assert_eq!(plan(&node, "calibrate", &CommandBody { channel: Some(0), known_grams: Some(500), ..CommandBody::default() }), Ok(Plan::ShelfCalibrate { channel: 0, known_grams: 500 }));
        for g in [None, Some(0), Some(-5), Some(MAX_CALIBRATION_GRAMS + 1)] {
            assert_eq!(plan(&node, "calibrate", &CommandBody { channel: Some(0), known_grams: g, ..CommandBody::default() }).unwrap_err().field, Some("known_grams"), "{g:?}");
        }
        assert_eq!(plan(&node, "identify", &CommandBody::default()), Ok(Plan::ShelfIdentify { seconds: 10 }));
        assert_eq!(plan(&node, "identify", &CommandBody { seconds: Some(0), ..CommandBody::default() }).unwrap_err().field, Some("seconds"));
        assert_eq!(plan(&node, "sample-rate", &CommandBody { per_s: Some(10), ..CommandBody::default() }), Ok(Plan::ShelfSampleRate { per_s: 10 }));
        for r in [None, Some(0), Some(11)] {
            assert_eq!(plan(&node, "sample-rate", &CommandBody { per_s: r, ..CommandBody::default() }).unwrap_err().field, Some("per_s"), "{r:?}");
        }
        assert_eq!(plan(&node, "reboot", &CommandBody::default()), Ok(Plan::ShelfReboot));
        assert_eq!(plan(&node, "enter-bootloader", &CommandBody::default()).unwrap_err().status, StatusCode::NOT_FOUND, "updates go through storehub firmware update");
        assert!(commands_of(&device("shelf", "hx711")).is_empty());
        assert!(commands_of(&device("printer", "escpos")).is_empty());
    }
}
