//! The technician's system page: what this box is (version, ids, uptime, data dir and
//! durability), its configuration without secrets, the database's health (outbox, verify on
//! request), the link to HQ, and the daemon's recent log lines (`logring`). `storehub doctor`
//! stays a CLI tool: it opens device ports the running daemon holds.

use axum::extract::{Query, State};
use axum::Extension;
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Identity;
use super::routes::{Need, RouteDef};
use super::{page, AppState, WebError};
use crate::domain::clock_sanity::{ClockVerdict, ResetRefused};
use crate::domain::staff::Action;

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/system", Need::May(Action::Configure), "System page: version, configuration, database, HQ link, recent logs", system_page),
        RouteDef::get("/api/v1/system/status", Need::May(Action::Configure), "Version, ids, uptime, outbox, HQ link and configuration (no secrets)", status_json),
        RouteDef::get("/api/v1/system/logs", Need::May(Action::Configure), "The daemon's recent log lines (?limit=200&contains=WARN)", logs_json),
        RouteDef::post("/api/v1/system/verify", Need::May(Action::Configure), "Check the database's invariants now (storehub verify)", verify),
        RouteDef::get("/api/v1/system/clock", Need::May(Action::Configure), "The clock's reading, its high-water mark and the verdict (storehub clock status)", clock_json)
            .returns::<crate::clock_watch::ClockStatus>(),
        RouteDef::post("/api/v1/system/clock/reset-mark", Need::May(Action::Configure), "Lower the clock's high-water mark to now when it was written by a clock that ran ahead; audited", clock_reset_json)
            .returns::<crate::clock_watch::MarkReset>(),
        RouteDef::post("/system/clock/reset-mark", Need::May(Action::Configure), "Lower the clock's high-water mark to now (form)", clock_reset_submit),
    ]
}

/// The parts of the config a technician needs to see; secrets (passwords, keys) are left out,
/// file paths of keys are shown as set or not.
pub fn config_summary(cfg: &crate::config::Config) -> Value {
    json!({
        "store": {
            "chain_id": cfg.store.chain_id.as_str(), "store_id": cfg.store.store_id.as_str(), "hub_id": cfg.store.hub_id.as_str(),
            "name": cfg.store.name, "timezone": cfg.store.timezone,
        },
        "data": { "dir": cfg.data.dir.display().to_string(), "snapshots_keep": cfg.data.snapshots_keep, "snapshot_interval_minutes": cfg.data.snapshot_interval_minutes },
        "lanes": cfg.lanes.iter().map(|l| json!({ "id": l.id.as_str(), "name": l.name })).collect::<Vec<_>>(),
        "devices": cfg.devices.iter().map(|d| json!({
            "id": d.id.as_str(), "kind": d.kind.as_str(), "transport": d.transport.as_str(),
            "path": d.path, "address": d.address, "lane": d.lane.as_ref().map(|l| l.as_str()),
        })).collect::<Vec<_>>(),
        "mqtt": {
            "enabled": cfg.mqtt.enabled, "url": cfg.mqtt.url.as_ref().map(|u| u.to_string()), "client_id": cfg.mqtt.client_id,
            "username": cfg.mqtt.username, "password_set": cfg.mqtt.password.is_some(),
            "ca_file": cfg.mqtt.ca_file.as_ref().map(|p| p.display().to_string()), "client_certificate_set": cfg.mqtt.cert_file.is_some(),
            "inflight": cfg.mqtt.inflight, "outbox_budget_mb": cfg.mqtt.outbox_budget_mb, "telemetry_interval_s": cfg.mqtt.telemetry_interval_s,
        },
        "web": { "listen": cfg.web.listen.to_string(), "https": cfg.web.https, "session_ttl_minutes": cfg.web.session_ttl_minutes },
    })
}

async fn status(state: &AppState) -> Result<Value, WebError> {
    let mut status = state
        .blocking(|store, ctx| {
            let reply = crate::control::ops::handle(store, ctx, crate::control::Request::Status).map_err(WebError::internal)?;
            Ok(reply.result)
        })
        .await?;
    status["version"] = json!(env!("CARGO_PKG_VERSION"));
    let up = state.store.clock().now() - state.ctx.started_at;
    status["uptime_s"] = json!(up.num_seconds().max(0));
    status["config"] = state.settings.config_summary.clone();
    Ok(status)
}

async fn status_json(State(state): State<AppState>) -> Result<axum::Json<Value>, WebError> {
    Ok(axum::Json(status(&state).await?))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    contains: Option<String>,
    /// The page only: which action just succeeded (`clock`).
    #[serde(default)]
    done: Option<String>,
}

/// Most lines one answer carries.
const MAX_LOG_LINES: usize = crate::logring::CAPACITY;

async fn logs_json(Query(q): Query<LogQuery>) -> axum::Json<Value> {
    let lines = crate::logring::recent(q.limit.unwrap_or(200).min(MAX_LOG_LINES), q.contains.as_deref().filter(|s| !s.is_empty()));
    axum::Json(json!({ "lines": lines }))
}

async fn verify(State(state): State<AppState>) -> Result<axum::Json<Value>, WebError> {
    let report = state
        .blocking(|store, ctx| crate::control::ops::handle(store, ctx, crate::control::Request::Verify).map_err(WebError::internal).map(|r| r.result))
        .await?;
    Ok(axum::Json(report))
}

async fn clock_status(state: &AppState) -> Result<crate::clock_watch::ClockStatus, WebError> {
    state.blocking(|store, _| crate::clock_watch::status(store).map_err(WebError::from)).await
}

async fn clock_json(State(state): State<AppState>) -> Result<axum::Json<crate::clock_watch::ClockStatus>, WebError> {
    Ok(axum::Json(clock_status(&state).await?))
}

/// Resets the mark for `me`; a refusal is a 409 that says why in `me`'s language.
async fn clock_reset(state: &AppState, me: &Identity) -> Result<crate::clock_watch::MarkReset, WebError> {
    let actor = me.staff.id.clone();
    let lang = me.lang;
    state
        .blocking(move |store, _| match crate::clock_watch::reset_mark(store, &actor) {
            Ok(done) => Ok(done),
            Err(crate::store::CommitError::Rejected(refused)) => Err(WebError::conflict(match refused {
                ResetRefused::Sane => lang.pick("时钟正常，无需重置高水位", "the clock is sane; the mark needs no reset").to_string(),
                ResetRefused::Unsynced { now } => match lang {
                    crate::web::i18n::Lang::Zh => format!("时钟显示 {}，开机后尚未对时：请先校正时间（NTP：timedatectl），再看是否需要重置高水位", now.format("%Y-%m-%d %H:%M:%SZ")),
                    _ => refused.to_string(),
                },
            })),
            Err(crate::store::CommitError::Store(e)) => Err(WebError::from(e)),
        })
        .await
}

async fn clock_reset_json(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<axum::Json<crate::clock_watch::MarkReset>, WebError> {
    Ok(axum::Json(clock_reset(&state, &me).await?))
}

async fn clock_reset_submit(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<axum::response::Response, WebError> {
    use axum::response::IntoResponse;
    clock_reset(&state, &me).await?;
    Ok(axum::response::Redirect::to("/system?done=clock").into_response())
}

async fn system_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Query(q): Query<LogQuery>) -> Result<maud::Markup, WebError> {
    let lang = me.lang;
    let s = status(&state).await?;
    let clock = clock_status(&state).await?;
    let tz = state.ctx.tz;
    let contains = q.contains.clone().unwrap_or_default();
    let lines = crate::logring::recent(q.limit.unwrap_or(200).min(MAX_LOG_LINES), Some(contains.as_str()).filter(|c| !c.is_empty()));
    let cloud = &s["cloud"];
    let body = html! {
        h1 { (lang.pick("系统", "System")) }
        @if q.done.as_deref() == Some("clock") {
            p.flash role="status" { (lang.pick("时钟高水位已重置为当前时间，日期任务恢复运行。", "The clock's mark is reset to now; the date-driven jobs run again.")) }
        }
        div.grid {
            div.card {
                h2 { (lang.pick("本机", "This box")) }
                table {
                    tr { th { (lang.pick("版本", "Version")) } td { (s["version"].as_str().unwrap_or_default()) } }
                    tr { th { (lang.pick("运行时间", "Up for")) } td { (format_uptime(s["uptime_s"].as_i64().unwrap_or(0))) } }
                    tr { th { (lang.pick("数据目录", "Data dir")) } td { code { (s["data_dir"].as_str().unwrap_or_default()) } } }
                    tr { th { (lang.pick("持久化模式", "Durability")) } td { (s["durability"].as_str().unwrap_or_default()) } }
                    tr { th { (lang.pick("数据库编号", "Database id")) } td { code { (s["database_id"].as_str().unwrap_or_default()) } } }
                    tr { th { (lang.pick("商品 / 会员", "Products / members")) } td { (s["products"]) " / " (s["members"]) } }
                    tr { th { (lang.pick("会员个人信息", "Members' personal data")) } td {
                        @if let Some(id) = s["pii_key"].as_str() { span.badge.ok { (lang.pick("已加密", "encrypted")) } " " code { (id) } }
                        @else { span.badge.bad { (lang.pick("未加密", "not encrypted")) } " " (lang.pick("请技术员运行 storehub privacy init-key", "a technician runs `storehub privacy init-key`")) }
                    } }
                }
            }
            (clock_card(&me, &clock, tz))
            div.card {
                h2 { (lang.pick("总部连接", "Link to HQ")) }
                table {
                    tr { th { (lang.pick("状态", "State")) } td {
                        @if cloud["connected"].as_bool() == Some(true) { span.badge.ok { (lang.pick("已连接", "connected")) } }
                        @else { span.badge.bad { (lang.pick("未连接", "not connected")) } }
                    } }
                    tr { th { (lang.pick("待发送事件", "Events waiting")) } td.num { (s["outbox"]["count"]) } }
                    @if let Some(alarm) = cloud["alarm"].as_str() {
                        tr { th { (lang.pick("警报", "Alarm")) } td.error { (alarm) } }
                    }
                    @if let Some(err) = cloud["last_error"].as_str() {
                        tr { th { (lang.pick("最近错误", "Last error")) } td { (err) } }
                    }
                }
            }
        }
        div.card {
            h2 { (lang.pick("配置 (不含密码和密钥)", "Configuration (no passwords or keys)")) }
            pre { (serde_json::to_string_pretty(&s["config"]).unwrap_or_default()) }
        }
        div.card {
            h2 { (lang.pick("最近日志", "Recent log")) }
            form.toolbar method="get" action="/system" {
                label { (lang.pick("包含", "Containing")) input name="contains" value=(contains); }
                button type="submit" { (lang.pick("筛选", "Filter")) }
            }
            pre.log { @for l in &lines { (l) "\n" } }
            p.muted { (lang.pick("完整日志: journalctl -u storehub", "Full log: journalctl -u storehub")) }
        }
    };
    Ok(page::render(&state, Some(&me), lang.pick("系统", "System"), body))
}

/// The clock: its reading, the high-water mark, the verdict and, when it reads as stepped back,
/// the reset for a mark that a clock running ahead left in the future.
fn clock_card(me: &Identity, clock: &crate::clock_watch::ClockStatus, tz: chrono_tz::Tz) -> maud::Markup {
    let lang = me.lang;
    html! {
        div.card #clock {
            h2 { (lang.pick("时钟", "Clock")) }
            table {
                tr { th { (lang.pick("当前时间", "Now")) } td { (super::forms::local_time(clock.now, tz)) } }
                tr { th { (lang.pick("已记录的最晚时间", "Newest time recorded")) } td {
                    @match clock.mark { Some(m) => (super::forms::local_time(m, tz)), None => span.muted { "—" } }
                } }
                tr { th { (lang.pick("状态", "State")) } td {
                    @match clock.verdict {
                        ClockVerdict::Sane => span.badge.ok { (lang.pick("正常", "sane")) },
                        ClockVerdict::Unsynced { .. } => span.badge.bad { (lang.pick("未对时", "not synced")) },
                        ClockVerdict::SteppedBack { .. } => span.badge.bad { (lang.pick("被调回", "stepped back")) },
                    }
                } }
            }
            @if !clock.verdict.is_sane() { p.error { (clock.message) } }
            @if matches!(clock.verdict, ClockVerdict::SteppedBack { .. }) {
                form method="post" action="/system/clock/reset-mark" {
                    (super::page::csrf_field(me))
                    p.muted { (lang.pick(
                        "若当前时间正确、而“已记录的最晚时间”是时钟走快时写下的，可把它重置为当前时间（记入审计日志）。若是时钟被调慢了，请先校正时钟。",
                        "If now is right and the newest time recorded was written while the clock ran ahead, reset it to now (audited). If the clock itself is slow, set the clock instead."
                    )) }
                    button type="submit" #reset-clock-mark { (lang.pick("重置高水位", "Reset the mark")) }
                }
            }
        }
    }
}

/// `3 d 04:05:06`
fn format_uptime(s: i64) -> String {
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d} d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_reads_in_days_and_clock_time() {
        assert_eq!(super::format_uptime(59), "00:00:59");
        assert_eq!(super::format_uptime(3 * 86_400 + 4 * 3600 + 5 * 60 + 6), "3 d 04:05:06");
    }

    #[test]
    fn the_summary_has_no_secret() {
        let mut cfg = crate::config::Config::demo().unwrap_or_else(|e| panic!("{e}"));
        cfg.mqtt.password = Some(crate::config::Secret::new("hunter2-secret".into()));
        cfg.mqtt.username = Some("hub".into());
        let text = super::config_summary(&cfg).to_string();
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("\"password_set\":true"));
    }
}
