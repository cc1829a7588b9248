//! Restock tasks and stock alerts on the LAN (`/stock/tasks`): the open restock-from-backroom
//! tasks the shelf sensors opened (with "done" buttons), the open alerts (urgent replenishment,
//! shelf gaps; with "acknowledge" buttons) and the recent ones; the dashboard's card; the same
//! under `/api/v1/stock/tasks` and `/api/v1/stock/alerts`.
//!
//! Everything goes through `inventory::shelf_triggers` and `inventory::alerts` (the CLI's
//! `storehub restock …` and `storehub alerts …` use the same functions through `control::ops`).
//! Every route needs `WorkRestockTasks` (cashiers, managers, admins: everyone who sees stock
//! may work them).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::forms::{self, field, text};
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::staff::Action;
use crate::inventory::alerts::{self, Alert, AlertError};
use crate::inventory::shelf_triggers::{self, RestockTask, TaskError, TaskState};

/// Closed alerts and done tasks shown under the open ones.
const RECENT: usize = 20;

pub fn routes() -> Vec<RouteDef> {
    use Action::WorkRestockTasks;
    vec![
        RouteDef::get("/stock/tasks", Need::May(WorkRestockTasks), "Restock tasks and stock alerts: open and recent", tasks_page),
        RouteDef::post("/stock/tasks/{id}/done", Need::May(WorkRestockTasks), "Mark a restock task done (form)", done_submit),
        RouteDef::post("/stock/alerts/{id}/ack", Need::May(WorkRestockTasks), "Acknowledge a stock alert (form)", ack_submit),
        RouteDef::get("/api/v1/stock/tasks", Need::May(WorkRestockTasks), "Restock tasks: the open ones and the newest done ones", api_tasks).returns::<TaskList>(),
        RouteDef::post("/api/v1/stock/tasks/{id}/done", Need::May(WorkRestockTasks), "Mark a restock task done (optional body {\"note\": …})", api_done)
            .body::<DoneBody>()
            .returns::<RestockTask>(),
        RouteDef::get("/api/v1/stock/alerts", Need::May(WorkRestockTasks), "Stock alerts: the open ones and the newest closed ones", api_alerts).returns::<AlertList>(),
        RouteDef::post("/api/v1/stock/alerts/{id}/ack", Need::May(WorkRestockTasks), "Acknowledge (close) a stock alert", api_ack).returns::<Alert>(),
    ]
}

// --- JSON ------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    pub open: Vec<RestockTask>,
    /// Newest first, open or done.
    pub recent: Vec<RestockTask>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertList {
    pub open: Vec<Alert>,
    /// Newest first, open or closed.
    pub recent: Vec<Alert>,
}

/// Marking a task done: an optional note.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoneBody {
    /// What was done (at most 160 characters).
    #[serde(default)]
    pub note: Option<String>,
}

// --- service calls ---------------------------------------------------------------------------------

fn id_of(lang: Lang, what: (&str, &str), typed: &str) -> Result<u64, WebError> {
    typed.parse::<u64>().map_err(|_| WebError::not_found(lang.pick(&format!("没有{} {typed}", what.0), &format!("no {} {typed}", what.1))))
}

fn task_error(lang: Lang, e: TaskError) -> WebError {
    let en = e.to_string();
    match e {
        TaskError::Unknown(id) => WebError::not_found(lang.pick(&format!("没有补货任务 {id}"), &en)),
        TaskError::AlreadyDone { id, .. } => WebError::conflict(lang.pick(&format!("补货任务 {id} 已完成"), &en)),
        TaskError::BadNote(n) => field(lang, "note", format!("说明最多 160 个字符，不含控制字符，现为 {n} 个字符"), en),
        TaskError::Staff(_) => WebError::forbidden(lang.pick("此账号不能处理补货任务", &en)),
        TaskError::Store(e) => WebError::internal(e.to_string()),
    }
}

fn alert_error(lang: Lang, e: AlertError) -> WebError {
    let en = e.to_string();
    match e {
        AlertError::Unknown(id) => WebError::not_found(lang.pick(&format!("没有告警 {id}"), &en)),
        AlertError::AlreadyClosed { id, .. } => WebError::conflict(lang.pick(&format!("告警 {id} 已关闭"), &en)),
        AlertError::Store(e) => WebError::internal(e.to_string()),
    }
}

async fn done(state: &AppState, me: &Identity, id: u64, note: Option<String>) -> Result<RestockTask, WebError> {
    let (lang, staff) = (me.lang, me.staff.id.clone());
    state.blocking(move |store, _| shelf_triggers::mark_done(store, id, &staff, note.as_deref()).map_err(|e| task_error(lang, e))).await
}

async fn ack(state: &AppState, me: &Identity, id: u64) -> Result<Alert, WebError> {
    let (lang, staff) = (me.lang, me.staff.id.clone());
    state.blocking(move |store, _| alerts::acknowledge(store, id, &staff).map_err(|e| alert_error(lang, e))).await
}

/// Open and recent tasks and alerts.
pub struct Board {
    pub tasks: Vec<RestockTask>,
    pub recent_tasks: Vec<RestockTask>,
    pub alerts: Vec<Alert>,
    pub recent_alerts: Vec<Alert>,
}

pub async fn board(state: &AppState, recent: usize) -> Result<Board, WebError> {
    state
        .blocking(move |store, _| {
            Ok(Board {
                tasks: shelf_triggers::open_tasks(store)?,
                recent_tasks: shelf_triggers::recent_tasks(store, recent)?,
                alerts: alerts::open_alerts(store)?,
                recent_alerts: alerts::recent_alerts(store, recent)?,
            })
        })
        .await
}

// --- API -------------------------------------------------------------------------------------------

async fn api_tasks(State(state): State<AppState>) -> Result<Json<TaskList>, WebError> {
    let b = board(&state, RECENT).await?;
    Ok(Json(TaskList { open: b.tasks, recent: b.recent_tasks }))
}

async fn api_alerts(State(state): State<AppState>) -> Result<Json<AlertList>, WebError> {
    let b = board(&state, RECENT).await?;
    Ok(Json(AlertList { open: b.alerts, recent: b.recent_alerts }))
}

async fn api_done(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Json<RestockTask>, WebError> {
    let lang = me.lang;
    let id = id_of(lang, ("补货任务", "restock task"), &id)?;
    let b: DoneBody = if body.iter().all(u8::is_ascii_whitespace) {
        DoneBody::default()
    } else {
super::error::parse_json(&body)?
    };
    let t = done(&state, &me, id, b.note).await?;
    tracing::info!(task = t.id, sku = %t.sku, by = %me.staff.id, "restock task done on the web");
    Ok(Json(t))
}

async fn api_ack(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<Alert>, WebError> {
    let id = id_of(me.lang, ("告警", "alert"), &id)?;
    let a = ack(&state, &me, id).await?;
    tracing::info!(alert = a.id, sku = %a.sku, by = %me.staff.id, "alert acknowledged on the web");
    Ok(Json(a))
}

// --- pages -----------------------------------------------------------------------------------------


fn kind_title(lang: Lang, a: &Alert) -> &'static str {
    let (zh, en) = a.kind.title();
    lang.pick(zh, en)
}

/// Where a form goes back to: the dashboard or the tasks page.
fn back_to(typed: &Option<String>) -> &'static str {
    match text(typed) {
        Some("/dashboard") => "/dashboard",
        _ => "/stock/tasks",
    }
}

/// A one-button form posting to `action`, then back to `back`.
fn button(me: &Identity, action: &str, back: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (forms::csrf(me))
            input type="hidden" name="back" value=(back);
            button type="submit" { (label) }
        }
    }
}

/// The open tasks with their done buttons.
pub fn tasks_table(lang: Lang, tz: chrono_tz::Tz, me: &Identity, tasks: &[RestockTask], back: &str) -> Markup {
    html! {
        @if tasks.is_empty() {
            p.ok { (lang.pick("没有待补货的货架", "No shelf waits for restocking")) }
        } @else {
            table {
                thead { tr {
                    th { "#" } th { "SKU" } th { (lang.pick("货架", "Shelf")) } th.num { (lang.pick("货架上", "On shelf")) }
                    th.num { (lang.pick("最低", "Minimum")) } th.num { (lang.pick("后仓", "Backroom")) } th { (lang.pick("开始", "Opened")) } th { "" }
                } }
                tbody {
                    @for t in tasks {
                        tr data-task=(t.id) {
                            td { (t.id) }
                            td { a href=(format!("/products/{}", forms::enc(&t.sku))) { (t.sku) } }
                            td { (t.device) " #" (t.channel) }
                            td.num { (t.on_shelf) }
                            td.num { (t.shelf_min) }
                            td.num {
                                @if t.backroom > 0 { (t.backroom) } @else {
                                    span.badge.warn { (lang.pick("后仓无货", "none in the backroom")) } " "
                                    a href="/stock/replenishment" { (lang.pick("去订货", "order instead")) }
                                }
                            }
                            td { (forms::local_time(t.opened_at, tz)) }
                            td { (button(me, &format!("/stock/tasks/{}/done", t.id), back, lang.pick("已补货", "Done"))) }
                        }
                    }
                }
            }
        }
    }
}

/// The open alerts with their acknowledge buttons.
pub fn alerts_table(lang: Lang, tz: chrono_tz::Tz, me: &Identity, list: &[Alert], back: &str) -> Markup {
    html! {
        @if list.is_empty() {
            p.ok { (lang.pick("没有未处理的告警", "No open alerts")) }
        } @else {
            table {
                thead { tr { th { "#" } th { (lang.pick("类型", "Kind")) } th { "SKU" } th { (lang.pick("详情", "Detail")) } th { (lang.pick("时间", "Raised")) } th { "" } } }
                tbody {
                    @for a in list {
                        tr data-alert=(a.id) {
                            td { (a.id) }
                            td { span.badge.bad { (kind_title(lang, a)) } }
                            td { a href=(format!("/products/{}", forms::enc(&a.sku))) { (a.sku) } }
                            td { (lang.pick(&a.detail_zh, &a.detail_en)) }
                            td { (forms::local_time(a.raised_at, tz)) }
                            td { (button(me, &format!("/stock/alerts/{}/ack", a.id), back, lang.pick("确认", "Acknowledge"))) }
                        }
                    }
                }
            }
        }
    }
}

/// The dashboard's card: open alerts and open restock tasks, with their buttons.
pub async fn dashboard_card(state: &AppState, me: &Identity) -> Result<Markup, WebError> {
    let lang = me.lang;
    let b = board(state, 0).await?;
    Ok(html! {
        h2 {
            a href="/stock/tasks" { (lang.pick("库存告警与补货任务", "Stock alerts and restock tasks")) }
            @if !b.alerts.is_empty() { " " span.badge.bad data-open-alerts=(b.alerts.len()) { (b.alerts.len()) } }
            @if !b.tasks.is_empty() { " " span.badge.warn data-open-tasks=(b.tasks.len()) { (b.tasks.len()) } }
        }
        (alerts_table(lang, state.ctx.tz, me, &b.alerts, "/dashboard"))
        (tasks_table(lang, state.ctx.tz, me, &b.tasks, "/dashboard"))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ButtonForm {
    back: Option<String>,
    note: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    done: Option<String>,
}

async fn tasks_page(State(state): State<AppState>, Extension(me): Extension<Identity>, axum::extract::RawQuery(raw): axum::extract::RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: PageQuery = forms::parse_query(raw.as_deref())?;
    let b = board(&state, RECENT).await?;
    let tz = state.ctx.tz;
    let title = lang.pick("补货任务与告警", "Restock tasks and alerts");
    let body = html! {
        h1 { (title) }
        (super::stock::stock_tabs(lang, me.staff.role, "/stock/tasks"))
        @if q.done.is_some() { p.flash { (lang.pick("已记录。", "Recorded.")) } }
        h2 { (lang.pick("未处理的告警", "Open alerts")) }
        (alerts_table(lang, tz, &me, &b.alerts, "/stock/tasks"))
        h2 { (lang.pick("待补货的货架", "Shelves to restock")) }
        (tasks_table(lang, tz, &me, &b.tasks, "/stock/tasks"))
        h2 { (lang.pick("最近的告警", "Recent alerts")) }
        table {
            thead { tr { th { "#" } th { (lang.pick("类型", "Kind")) } th { "SKU" } th { (lang.pick("时间", "Raised")) } th { (lang.pick("关闭", "Closed")) } th { (lang.pick("原因", "Why")) } } }
            tbody {
                @for a in &b.recent_alerts {
                    tr {
                        td { (a.id) } td { (kind_title(lang, a)) } td { (a.sku) } td { (forms::local_time(a.raised_at, tz)) }
                        td { @match a.closed_at { Some(t) => (forms::local_time(t, tz)), None => span.badge.bad { (lang.pick("未处理", "open")) } } }
                        td { (a.closed_reason.clone().unwrap_or_default()) @if let Some(by) = &a.acknowledged_by { " · " (by) } }
                    }
                }
            }
        }
        h2 { (lang.pick("最近的补货任务", "Recent restock tasks")) }
        table {
            thead { tr { th { "#" } th { "SKU" } th { (lang.pick("货架", "Shelf")) } th { (lang.pick("开始", "Opened")) } th { (lang.pick("完成", "Done")) } th { (lang.pick("原因", "Why")) } } }
            tbody {
                @for t in &b.recent_tasks {
                    tr {
                        td { (t.id) } td { (t.sku) } td { (t.device) " #" (t.channel) } td { (forms::local_time(t.opened_at, tz)) }
                        td { @match (t.state, t.done_at) { (TaskState::Done, Some(at)) => (forms::local_time(at, tz)), _ => span.badge.warn { (lang.pick("待补货", "open")) } } }
                        td { (t.done_reason.clone().unwrap_or_default()) @if let Some(by) = &t.done_by { " · " (by) } }
                    }
                }
            }
        }
    };
    Ok(forms::render(&state, &me, title, body).into_response())
}

async fn done_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: ButtonForm = forms::parse_pairs(&body)?;
    let id = id_of(me.lang, ("补货任务", "restock task"), &id)?;
    done(&state, &me, id, text(&f.note).map(str::to_string)).await?;
    Ok(Redirect::to(&format!("{}?done=1", back_to(&f.back))).into_response())
}

async fn ack_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: ButtonForm = forms::parse_pairs(&body)?;
    let id = id_of(me.lang, ("告警", "alert"), &id)?;
    ack(&state, &me, id).await?;
    Ok(Redirect::to(&format!("{}?done=1", back_to(&f.back))).into_response())
}
