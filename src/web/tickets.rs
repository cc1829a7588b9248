//! Member service tickets (会员专属客服) on the LAN: the list with overdue tickets highlighted
//! and filters, a ticket's page with its notes and the forms to assign, note, resolve and rate it
//! (ManageTickets), the form to open one (OpenTickets: cashiers too), the dashboard's service
//! card, and the same as JSON under `/api/v1/tickets`.
//!
//! Every rule is `members::tickets`' and `domain::service`'s (priority, due time, overdue, texts,
//! scores, states); this module reads forms and bodies, calls them as the logged-in staff and
//! shows the result. Member phones are shown masked.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, field, refused, text};
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::service::{ServiceError, NOTES_MAX, SUBJECT_MAX_CHARS, TEXT_MAX_CHARS};
use crate::domain::staff::{allows, Action};
use crate::members::tickets::{
    self, NewTicket, Priority, Ticket, TicketChannel, TicketError, TicketFilter, TicketKind, TicketState, TicketSummary,
    TicketView,
};
use crate::staff::StaffError;
use crate::store::CommitError;

/// Overdue tickets the dashboard card lists.
pub const CARD_MOST_OVERDUE: usize = 5;

pub fn routes() -> Vec<RouteDef> {
    use Action::{ManageTickets, OpenTickets};
    vec![
        RouteDef::get("/tickets", Need::May(ManageTickets), "Member service tickets: ?filter=open|overdue|all &member=ID", list_page),
        RouteDef::get("/tickets/new", Need::May(OpenTickets), "Open a ticket for a member: the form (?member=ID)", new_page),
        RouteDef::post("/tickets/new", Need::May(OpenTickets), "Open a ticket for a member (form)", new_submit),
        RouteDef::get("/tickets/{id}", Need::May(ManageTickets), "A ticket with its notes and forms", ticket_page),
        RouteDef::post("/tickets/{id}/assign", Need::May(ManageTickets), "Assign a ticket (form)", assign_submit),
        RouteDef::post("/tickets/{id}/notes", Need::May(ManageTickets), "Add a note to a ticket (form)", note_submit),
        RouteDef::post("/tickets/{id}/resolve", Need::May(ManageTickets), "Resolve a ticket (form)", resolve_submit),
        RouteDef::post("/tickets/{id}/rate", Need::May(ManageTickets), "Record the member's satisfaction (form)", rate_submit),
        RouteDef::get("/api/v1/tickets", Need::May(ManageTickets), "Tickets: ?filter=open|overdue|all &member=ID; unresolved first, most overdue first", api_list)
            .returns::<TicketList>(),
        RouteDef::post("/api/v1/tickets", Need::May(OpenTickets), "Open a ticket for a member (priority from the tier, due time from [tickets])", api_open)
            .body::<OpenTicketBody>()
            .returns::<TicketView>(),
        RouteDef::get("/api/v1/tickets/{id}", Need::May(ManageTickets), "One ticket with its notes", api_ticket).returns::<TicketView>(),
        RouteDef::post("/api/v1/tickets/{id}/assign", Need::May(ManageTickets), "Assign a ticket to a staff member, optionally raising its priority", api_assign)
            .body::<AssignBody>()
            .returns::<TicketView>(),
        RouteDef::post("/api/v1/tickets/{id}/notes", Need::May(ManageTickets), "Add a note to an unresolved ticket", api_note).body::<NoteBody>().returns::<TicketView>(),
        RouteDef::post("/api/v1/tickets/{id}/resolve", Need::May(ManageTickets), "Resolve a ticket, optionally with the member's satisfaction (1–5)", api_resolve)
            .body::<ResolveBody>()
            .returns::<TicketView>(),
        RouteDef::post("/api/v1/tickets/{id}/rate", Need::May(ManageTickets), "Record the member's satisfaction (1–5) on a resolved ticket", api_rate)
            .body::<RateBody>()
            .returns::<TicketView>(),
    ]
}

// --- bodies and answers ----------------------------------------------------------------------------

/// A new ticket.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenTicketBody {
    pub member_id: u64,
    pub kind: TicketKind,
    pub channel: TicketChannel,
    /// One line, up to 120 characters.
    pub subject: String,
    /// A first note, up to 1000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// An assignment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// Staff id of the assignee (an active account).
    pub staff: String,
    /// A higher priority; lowering is refused.
    #[serde(default)]
    pub priority: Option<Priority>,
}

/// A note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// Up to 1000 characters, newlines allowed.
    pub text: String,
}

/// A resolution.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// What was done, up to 1000 characters.
    pub resolution: String,
    /// The member's satisfaction, 1–5, when known.
    #[serde(default)]
    pub satisfaction: Option<i64>,
}

/// A satisfaction score.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    /// 1–5.
    pub satisfaction: i64,
}

/// A list of tickets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketList {
    pub tickets: Vec<TicketView>,
    /// The counts of the dashboard's card at the same time.
    pub summary: TicketSummary,
}

// --- words -----------------------------------------------------------------------------------------

fn pick2(lang: Lang, (zh, en): (&'static str, &'static str)) -> &'static str {
    lang.pick(zh, en)
}

pub fn priority_text(lang: Lang, p: Priority) -> &'static str {
    match p {
        Priority::Urgent => lang.pick("紧急", "Urgent"),
        Priority::High => lang.pick("高", "High"),
        Priority::Normal => lang.pick("普通", "Normal"),
        Priority::Low => lang.pick("低", "Low"),
    }
}

fn state_text(lang: Lang, s: TicketState) -> &'static str {
    match s {
        TicketState::Open => lang.pick("待处理", "Open"),
        TicketState::InProgress => lang.pick("处理中", "In progress"),
        TicketState::Resolved => lang.pick("已解决", "Resolved"),
    }
}

/// `2 小时 5 分` / `2 h 5 min`.
fn minutes_text(lang: Lang, minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, lang) {
        (0, Lang::Zh) => format!("{m} 分钟"),
        (0, Lang::En) => format!("{m} min"),
        (h, Lang::Zh) => format!("{h} 小时 {m} 分"),
        (h, Lang::En) => format!("{h} h {m} min"),
    }
}

fn service_zh(e: &ServiceError) -> String {
    match e {
        ServiceError::BadText { max, len, multiline, .. } => {
            format!("须为 1–{max} 个字符{}，现为 {len} 个字符", if *multiline { "" } else { "（单行）" })
        }
        ServiceError::BadScore(s) => format!("满意度须为 1 到 5 分，现为 {s}"),
        ServiceError::AlreadyResolved => "工单已解决；会员还需要帮助时请新开工单".into(),
        ServiceError::NotResolved => "工单解决后才能记录满意度".into(),
        ServiceError::AlreadyRated(s) => format!("工单已有满意度 {s} 分"),
        ServiceError::PriorityLowered { from, to } => format!("优先级只能提高：现为 {from}，{to} 更低"),
        ServiceError::TooManyNotes(n) => format!("工单已有 {n} 条备注（上限）；请解决它或新开工单"),
    }
}

/// A ticket service's refusal as a web error: 400 naming the field for bad input, 404 for an
/// unknown ticket, 409 for a state that refuses the change.
fn ticket_error(lang: Lang, e: CommitError<TicketError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let en = e.to_string();
    match &e {
        TicketError::UnknownTicket(id) => WebError::not_found(lang.pick(&format!("没有工单 {id}"), &en)),
        TicketError::Service(s @ (ServiceError::AlreadyResolved | ServiceError::NotResolved | ServiceError::AlreadyRated(_) | ServiceError::TooManyNotes(_))) => {
            refused(lang, service_zh(s), en)
        }
        TicketError::Service(s) => field(lang, e.field().unwrap_or("body"), service_zh(s), en),
        TicketError::UnknownMember(id) => field(lang, "member_id", format!("没有会员 {id}"), en),
        TicketError::Assignee(StaffError::Unknown(id)) => field(lang, "staff", format!("没有员工账号 {id}"), en),
        TicketError::Assignee(StaffError::Inactive(id)) => field(lang, "staff", format!("员工 {id} 已停用"), en),
        TicketError::Assignee(_) => field(lang, "staff", en.clone(), en),
        TicketError::Staff(StaffError::Forbidden { .. }) => WebError::forbidden(en),
        _ => refused(lang, format!("操作被拒绝：{en}"), en),
    }
}

/// The ticket id of a path; anything but a number names no ticket (404).
fn ticket_id(lang: Lang, typed: &str) -> Result<u64, WebError> {
    typed.parse::<u64>().map_err(|_| WebError::not_found(lang.pick(&format!("没有工单 {typed}"), &format!("no ticket {typed}"))))
}

// --- service calls ---------------------------------------------------------------------------------

async fn view_of(state: &AppState, t: Ticket) -> Result<TicketView, WebError> {
    state
        .blocking(move |store, _| {
            let m = crate::members::member(store, t.member_id)?;
            Ok(TicketView::of(t, m.as_ref(), store.clock().now()))
        })
        .await
}

async fn load(state: &AppState, lang: Lang, id: u64) -> Result<TicketView, WebError> {
    let t = state
        .blocking(move |store, _| tickets::ticket(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有工单 {id}"), &format!("no ticket {id}")))))
        .await?;
    view_of(state, t).await
}

/// Runs a ticket change as `me` and answers the changed ticket.
async fn change(state: &AppState, me: &Identity, f: impl FnOnce(&crate::store::Store, &crate::control::ops::Context, &str) -> Result<Ticket, CommitError<TicketError>> + Send + 'static) -> Result<TicketView, WebError> {
    let (lang, who) = (me.lang, me.staff.id.clone());
    let t = state.blocking(move |store, ctx| Ok(f(store, ctx, &who).map_err(|e| ticket_error(lang, e)))).await??;
    tracing::info!(ticket = t.id, by = %me.staff.id, state = t.state.as_str(), "ticket changed on the web");
    view_of(state, t).await
}

async fn open(state: &AppState, me: &Identity, b: OpenTicketBody) -> Result<TicketView, WebError> {
    let new = NewTicket {
        member_id: b.member_id,
        kind: b.kind,
        channel: b.channel,
        subject: b.subject,
        note: b.note,
        opened_by: me.staff.id.clone(),
        campaign_id: None,
    };
    change(state, me, move |store, ctx, _| tickets::open(store, &ctx.tickets, &new)).await
}

async fn assign(state: &AppState, me: &Identity, id: u64, staff: String, priority: Option<Priority>) -> Result<TicketView, WebError> {
    change(state, me, move |store, ctx, by| tickets::assign(store, &ctx.tickets, id, by, staff.trim(), priority)).await
}

async fn note(state: &AppState, me: &Identity, id: u64, text: String) -> Result<TicketView, WebError> {
    change(state, me, move |store, _, by| tickets::add_note(store, id, by, &text)).await
}

async fn resolve(state: &AppState, me: &Identity, id: u64, resolution: String, satisfaction: Option<i64>) -> Result<TicketView, WebError> {
    change(state, me, move |store, _, by| tickets::resolve(store, id, by, &resolution, satisfaction)).await
}

async fn rate(state: &AppState, me: &Identity, id: u64, score: i64) -> Result<TicketView, WebError> {
    change(state, me, move |store, _, by| tickets::rate(store, id, by, score)).await
}

/// The list's filter from `?filter=` and `?member=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    filter: Option<String>,
    member: Option<String>,
}

impl ListQuery {
    fn filter(&self, lang: Lang) -> Result<TicketFilter, WebError> {
        if let Some(m) = text(&self.member) {
            let id = m.parse::<u64>().map_err(|_| field(lang, "member", format!("会员号须为数字，现为“{m}”"), format!("expected a member id, got {m:?}")))?;
            return Ok(TicketFilter::Member(id));
        }
        match text(&self.filter) {
            None | Some("open") => Ok(TicketFilter::Open),
            Some("overdue") => Ok(TicketFilter::Overdue),
            Some("all") => Ok(TicketFilter::All),
            Some(f) => Err(field(lang, "filter", format!("须为 open、overdue 或 all，现为“{f}”"), format!("expected open, overdue or all, got {f:?}"))),
        }
    }
}

async fn list(state: &AppState, filter: TicketFilter) -> Result<TicketList, WebError> {
    state
        .blocking(move |store, _| {
            let now = store.clock().now();
            let found = tickets::list(store, filter, now)?;
            Ok(TicketList { tickets: TicketView::all(store, found, now)?, summary: tickets::summary(store, now, CARD_MOST_OVERDUE)? })
        })
        .await
}

/// The dashboard card's data now (also `tickets` in `GET /api/v1/dashboard/summary`).
pub async fn card(state: &AppState) -> Result<TicketSummary, WebError> {
    state.blocking(|store, _| Ok(tickets::summary(store, store.clock().now(), CARD_MOST_OVERDUE)?)).await
}

// --- API -------------------------------------------------------------------------------------------

async fn api_list(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<TicketList>, WebError> {
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    list(&state, q.filter(me.lang)?).await.map(Json)
}

async fn api_open(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<OpenTicketBody>) -> Result<Json<TicketView>, WebError> {
    open(&state, &me, b).await.map(Json)
}

async fn api_ticket(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<TicketView>, WebError> {
    let id = ticket_id(me.lang, &id)?;
    load(&state, me.lang, id).await.map(Json)
}

async fn api_assign(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<AssignBody>) -> Result<Json<TicketView>, WebError> {
    let id = ticket_id(me.lang, &id)?;
    assign(&state, &me, id, b.staff, b.priority).await.map(Json)
}

async fn api_note(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<NoteBody>) -> Result<Json<TicketView>, WebError> {
    let id = ticket_id(me.lang, &id)?;
    note(&state, &me, id, b.text).await.map(Json)
}

async fn api_resolve(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<ResolveBody>) -> Result<Json<TicketView>, WebError> {
    let id = ticket_id(me.lang, &id)?;
    resolve(&state, &me, id, b.resolution, b.satisfaction).await.map(Json)
}

async fn api_rate(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<RateBody>) -> Result<Json<TicketView>, WebError> {
    let id = ticket_id(me.lang, &id)?;
    rate(&state, &me, id, b.satisfaction).await.map(Json)
}

// --- pages -----------------------------------------------------------------------------------------

fn due_cell(lang: Lang, tz: chrono_tz::Tz, v: &TicketView) -> Markup {
    html! {
        (forms::local_time(v.ticket.due_at, tz))
        @if v.overdue {
            " " span.badge.bad { (lang.pick("已超时", "overdue")) " " (minutes_text(lang, v.overdue_minutes)) }
        }
    }
}

fn tickets_table(lang: Lang, tz: chrono_tz::Tz, rows: &[TicketView]) -> Markup {
    html! {
        table {
            thead { tr {
                th { (lang.pick("工单", "Ticket")) } th { (lang.pick("会员", "Member")) } th { (lang.pick("类型", "Kind")) }
                th { (lang.pick("主题", "Subject")) } th { (lang.pick("优先级", "Priority")) } th { (lang.pick("状态", "State")) }
                th { (lang.pick("处理人", "Assignee")) } th { (lang.pick("截止时间", "Due")) }
            } }
            tbody {
                @for v in rows {
                    @let t = &v.ticket;
                    tr class=[v.overdue.then_some("overdue")] {
                        td { a href=(format!("/tickets/{}", t.id)) { "#" (t.id) } }
                        td { a href=(format!("/members/{}", t.member_id)) { (t.member_id) } " " span.muted { (v.member_phone.clone().unwrap_or_default()) } }
                        td { (pick2(lang, t.kind.label())) }
                        td { a href=(format!("/tickets/{}", t.id)) { (t.subject) } }
                        td { @if t.priority >= Priority::High { strong { (priority_text(lang, t.priority)) } } @else { (priority_text(lang, t.priority)) } }
                        td { (state_text(lang, t.state)) }
                        td { (t.assignee.clone().unwrap_or_else(|| "—".into())) }
                        td { @if t.state.is_unresolved() { (due_cell(lang, tz, v)) } @else { span.muted { (lang.pick("已解决 ", "resolved ")) (t.resolved_at.map(|r| forms::local_time(r, tz)).unwrap_or_default()) } } }
                    }
                }
            }
        }
    }
}

async fn list_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let filter = q.filter(lang)?;
    let data = list(&state, filter).await?;
    let tz = state.ctx.tz;
    let tab = |f: TicketFilter, href: &str, zh: &str, en: &str| -> Markup {
        html! { @if filter == f { strong { (lang.pick(zh, en)) } } @else { a href=(href) { (lang.pick(zh, en)) } } }
    };
    let s = &data.summary;
    let body = html! {
        h1 { (lang.pick("会员服务工单", "Member service tickets")) }
        @if s.overdue > 0 {
            p.error role="alert" { strong { (lang.pick("告警：", "Alarm: ")) } (s.overdue) (lang.pick(" 张工单已超过处理时限", " tickets are past their due time")) }
        }
        nav.toolbar {
            (tab(TicketFilter::Open, "/tickets?filter=open", "未解决", "Unresolved")) " (" (s.open) ") · "
            (tab(TicketFilter::Overdue, "/tickets?filter=overdue", "已超时", "Overdue")) " (" (s.overdue) ") · "
            (tab(TicketFilter::All, "/tickets?filter=all", "全部", "All"))
            @if let TicketFilter::Member(m) = filter { " · " strong { (lang.pick("会员 ", "Member ")) (m) } }
            " · " a.button href="/tickets/new" { (lang.pick("新开工单", "Open a ticket")) }
        }
        form.toolbar method="get" action="/tickets" {
            label { (lang.pick("会员号", "Member no."))
                input type="number" name="member" min="1" value=(q.member.clone().unwrap_or_default());
            }
            button type="submit" { (lang.pick("筛选", "Filter")) }
        }
        @if data.tickets.is_empty() {
            p.muted { (lang.pick("没有工单。", "No tickets.")) }
        } @else {
            (tickets_table(lang, tz, &data.tickets))
        }
    };
    Ok(forms::render(&state, &me, lang.pick("会员服务工单", "Member service tickets"), body).into_response())
}

/// The open form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OpenForm {
    member: Option<String>,
    kind: Option<String>,
    channel: Option<String>,
    subject: Option<String>,
    note: Option<String>,
}

fn open_form(me: &Identity, f: &OpenForm, error: Option<&WebError>) -> Markup {
    let lang = me.lang;
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let kind = f.kind.clone().unwrap_or_else(|| "complaint".into());
    let channel = f.channel.clone().unwrap_or_else(|| "in_store".into());
    html! {
        (forms::form_message(error))
        form.card method="post" action="/tickets/new" {
            (forms::csrf(me))
            label data-field="member_id" { (lang.pick("会员号", "Member no.")) " *"
                input name="member" type="number" min="1" value=(v(&f.member)) required;
                (page::field_error(&errors, "member_id"))
            }
            label data-field="kind" { (lang.pick("类型", "Kind")) " *"
                select name="kind" {
                    @for k in TicketKind::ALL { option value=(k.as_str()) selected[kind == k.as_str()] { (pick2(lang, k.label())) } }
                }
                (page::field_error(&errors, "kind"))
            }
            label data-field="channel" { (lang.pick("渠道", "Channel")) " *"
                select name="channel" {
                    @for c in TicketChannel::ALL { option value=(c.as_str()) selected[channel == c.as_str()] { (pick2(lang, c.label())) } }
                }
                (page::field_error(&errors, "channel"))
            }
            label data-field="subject" { (lang.pick("主题", "Subject")) " *"
                input name="subject" value=(v(&f.subject)) required maxlength=(SUBJECT_MAX_CHARS) autofocus;
                (page::field_error(&errors, "subject"))
            }
            label data-field="note" { (lang.pick("备注（选填）", "Note (optional)"))
                textarea name="note" rows="3" maxlength=(TEXT_MAX_CHARS) { (v(&f.note)) }
                (page::field_error(&errors, "note"))
            }
            p.muted { (lang.pick("优先级按会员等级自动确定，处理时限见 [tickets.sla_hours]。", "The priority follows the member's tier; the due time comes from [tickets.sla_hours].")) }
            button type="submit" { (lang.pick("开工单", "Open ticket")) }
        }
    }
}

fn open_page(state: &AppState, me: &Identity, f: &OpenForm, error: Option<&WebError>, status: StatusCode) -> Response {
    let lang = me.lang;
    let title = lang.pick("新开服务工单", "Open a service ticket");
    let body = html! {
        h1 { (title) }
        @if let Some(m) = text(&f.member) { p { a href=(format!("/members/{}", forms::enc(m))) { "‹ " (lang.pick("会员 ", "Member ")) (m) } } }
        (open_form(me, f, error))
    };
    (status, forms::render(state, me, title, body)).into_response()
}

async fn new_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let f: OpenForm = forms::parse_query(raw.as_deref())?;
    Ok(open_page(&state, &me, &f, None, StatusCode::OK))
}

/// A typed choice of a form: the value's parse, or a 400 naming `name`.
fn choice<T>(lang: Lang, name: &str, typed: &Option<String>, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<T, WebError> {
    let t = text(typed).unwrap_or_default();
    parse(t).ok_or_else(|| field(lang, name, format!("须为 {} 之一，现为“{t}”", all.join("、")), format!("expected one of {}, got {t:?}", all.join(", "))))
}

async fn new_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: OpenForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async {
        let typed = text(&f.member).unwrap_or_default();
        let member_id = typed
            .parse::<u64>()
            .map_err(|_| field(lang, "member_id", format!("会员号须为数字，现为“{typed}”"), format!("expected a member id, got {typed:?}")))?;
        let kinds: Vec<&str> = TicketKind::ALL.iter().map(|k| k.as_str()).collect();
        let channels: Vec<&str> = TicketChannel::ALL.iter().map(|c| c.as_str()).collect();
        let b = OpenTicketBody {
            member_id,
            kind: choice(lang, "kind", &f.kind, TicketKind::parse, &kinds)?,
            channel: choice(lang, "channel", &f.channel, TicketChannel::parse, &channels)?,
            subject: f.subject.clone().unwrap_or_default(),
            note: text(&f.note).map(str::to_string),
        };
        open(&state, &me, b).await
    }
    .await;
    match result {
        Ok(v) if allows(me.staff.role, Action::ManageTickets) => Ok(Redirect::to(&format!("/tickets/{}", v.ticket.id)).into_response()),
        Ok(v) => Ok(Redirect::to(&format!("/members/{}", v.ticket.member_id)).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => Ok(open_page(&state, &me, &f, Some(&e), e.status)),
    }
}

fn ticket_body(state: &AppState, me: &Identity, v: &TicketView, staff: &[crate::staff::StaffInfo], error: Option<(&str, &WebError)>) -> Markup {
    let lang = me.lang;
    let tz = state.ctx.tz;
    let t = &v.ticket;
    let errors_for = |form: &str| -> Vec<(String, String)> { error.filter(|(f, _)| *f == form).map(|(_, e)| forms::errors_of(e)).unwrap_or_default() };
    let message_for = |form: &str| -> Markup { forms::form_message(error.filter(|(f, _)| *f == form).map(|(_, e)| e)) };
    let unresolved = t.state.is_unresolved();
    html! {
        h1 { (lang.pick("工单", "Ticket")) " #" (t.id) " · " (t.subject) }
        p {
            a href="/tickets" { "‹ " (lang.pick("工单列表", "Tickets")) }
            " · " a href=(format!("/members/{}", t.member_id)) { (lang.pick("会员 ", "Member ")) (t.member_id) }
            " · " a href=(format!("/tickets?member={}", t.member_id)) { (lang.pick("该会员的全部工单", "All of this member's tickets")) }
        }
        @if v.overdue {
            p.error role="alert" { strong { (lang.pick("已超时：", "Overdue: ")) } (minutes_text(lang, v.overdue_minutes)) }
        }
        div.grid {
            div.card {
                h2 { (lang.pick("概况", "Summary")) }
                dl.facts {
                    dt { (lang.pick("会员", "Member")) } dd { a href=(format!("/members/{}", t.member_id)) { (t.member_id) } " " span.muted { (v.member_phone.clone().unwrap_or_default()) } }
                    dt { (lang.pick("类型", "Kind")) } dd { (pick2(lang, t.kind.label())) " · " (pick2(lang, t.channel.label())) }
                    dt { (lang.pick("优先级", "Priority")) } dd { strong { (priority_text(lang, t.priority)) } @if !t.tier.is_empty() { " " span.muted { "(" (t.tier) ")" } } }
                    dt { (lang.pick("状态", "State")) } dd { (state_text(lang, t.state)) }
                    dt { (lang.pick("处理人", "Assignee")) } dd { (t.assignee.clone().unwrap_or_else(|| "—".into())) }
                    dt { (lang.pick("开单", "Opened")) } dd { (forms::local_time(t.opened_at, tz)) " · " (t.opened_by) }
                    dt { (lang.pick("截止时间", "Due")) } dd { (due_cell(lang, tz, v)) }
                    @if let Some(c) = &t.campaign_id { dt { (lang.pick("营销活动", "Campaign")) } dd { (c) } }
                    @if let Some(r) = &t.resolution {
                        dt { (lang.pick("处理结果", "Resolution")) } dd { (r) }
                        dt { (lang.pick("解决", "Resolved")) } dd { (t.resolved_at.map(|r| forms::local_time(r, tz)).unwrap_or_default()) " · " (t.resolved_by.clone().unwrap_or_default()) }
                    }
                    dt { (lang.pick("满意度", "Satisfaction")) } dd { @match t.satisfaction { Some(s) => { strong { (s) } " / 5" }, None => span.muted { "—" } } }
                }
            }
            div.card {
                h2 { (lang.pick("备注", "Notes")) " " span.muted { "(" (t.notes.len()) "/" (NOTES_MAX) ")" } }
                @if t.notes.is_empty() { p.muted { (lang.pick("无", "None")) } }
                @for n in &t.notes {
                    div.note {
                        p.muted { (forms::local_time(n.at, tz)) " · " (n.author) }
                        p style="white-space:pre-wrap" { (n.text) }
                    }
                }
                @if unresolved {
                    (message_for("notes"))
                    form method="post" action=(format!("/tickets/{}/notes", t.id)) {
                        (forms::csrf(me))
                        label data-field="text" { (lang.pick("添加备注", "Add a note"))
                            textarea name="text" rows="3" maxlength=(TEXT_MAX_CHARS) required {}
                            (page::field_error(&errors_for("notes"), "text"))
                        }
                        button type="submit" { (lang.pick("添加", "Add")) }
                    }
                }
            }
        }
        @if unresolved {
            div.grid style="margin-top:.8rem" {
                section.card {
                    h2 { (lang.pick("分派", "Assign")) }
                    (message_for("assign"))
                    form method="post" action=(format!("/tickets/{}/assign", t.id)) {
                        (forms::csrf(me))
                        label data-field="staff" { (lang.pick("处理人", "Assignee"))
                            select name="staff" {
                                @for s in staff.iter().filter(|s| s.active) {
                                    option value=(s.id) selected[t.assignee.as_deref() == Some(s.id.as_str())] { (s.name) " (" (s.id) ")" }
                                }
                            }
                            (page::field_error(&errors_for("assign"), "staff"))
                        }
                        label data-field="priority" { (lang.pick("优先级（只能提高）", "Priority (raise only)"))
                            select name="priority" {
                                @for p in Priority::ALL.iter().rev().filter(|p| **p >= t.priority) {
                                    option value=(p.as_str()) selected[*p == t.priority] { (priority_text(lang, *p)) }
                                }
                            }
                            (page::field_error(&errors_for("assign"), "priority"))
                        }
                        button type="submit" { (lang.pick("分派", "Assign")) }
                    }
                }
                section.card {
                    h2 { (lang.pick("解决", "Resolve")) }
                    (message_for("resolve"))
                    form method="post" action=(format!("/tickets/{}/resolve", t.id)) {
                        (forms::csrf(me))
                        label data-field="resolution" { (lang.pick("处理结果", "Resolution")) " *"
                            textarea name="resolution" rows="3" maxlength=(TEXT_MAX_CHARS) required {}
                            (page::field_error(&errors_for("resolve"), "resolution"))
                        }
                        (satisfaction_select(lang, &errors_for("resolve"), true))
                        button type="submit" { (lang.pick("标记为已解决", "Mark resolved")) }
                    }
                }
            }
        } @else if t.satisfaction.is_none() {
            section.card style="margin-top:.8rem" {
                h2 { (lang.pick("记录满意度", "Record satisfaction")) }
                (message_for("rate"))
                form method="post" action=(format!("/tickets/{}/rate", t.id)) {
                    (forms::csrf(me))
                    (satisfaction_select(lang, &errors_for("rate"), false))
                    button type="submit" { (lang.pick("保存", "Save")) }
                }
            }
        }
    }
}

fn satisfaction_select(lang: Lang, errors: &[(String, String)], optional: bool) -> Markup {
    html! {
        label data-field="satisfaction" { (lang.pick("会员满意度", "Member's satisfaction"))
            select name="satisfaction" {
                @if optional { option value="" { (lang.pick("暂不记录", "Not yet")) } }
                @for s in (1..=5).rev() { option value=(s) { (s) " / 5" } }
            }
            (page::field_error(errors, "satisfaction"))
        }
    }
}

async fn render_ticket(state: &AppState, me: &Identity, id: u64, error: Option<(&str, &WebError)>, status: StatusCode) -> Result<Response, WebError> {
    let v = load(state, me.lang, id).await?;
    let staff = state.blocking(|store, _| Ok(crate::staff::list_staff(store)?)).await?;
    let title = format!("{} #{}", me.lang.pick("工单", "Ticket"), id);
    Ok((status, forms::render(state, me, &title, ticket_body(state, me, &v, &staff, error))).into_response())
}

async fn ticket_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let id = ticket_id(me.lang, &id)?;
    render_ticket(&state, &me, id, None, StatusCode::OK).await
}

/// A form's answer: back to the ticket, or the ticket page with the error next to `form`.
async fn after_form(state: &AppState, me: &Identity, id: u64, form: &str, result: Result<TicketView, WebError>) -> Result<Response, WebError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/tickets/{id}")).into_response()),
        Err(e) if matches!(e.status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) => Err(e),
        Err(e) => render_ticket(state, me, id, Some((form, &e)), e.status).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChangeForm {
    staff: Option<String>,
    priority: Option<String>,
    text: Option<String>,
    resolution: Option<String>,
    satisfaction: Option<String>,
}

async fn assign_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = ticket_id(lang, &id)?;
    let f: ChangeForm = forms::parse_pairs(&body)?;
    let result = async {
        let priority = match text(&f.priority) {
            None => None,
            Some(_) => Some(choice(lang, "priority", &f.priority, Priority::parse, &["low", "normal", "high", "urgent"])?),
        };
        assign(&state, &me, id, f.staff.clone().unwrap_or_default(), priority).await
    }
    .await;
    after_form(&state, &me, id, "assign", result).await
}

async fn note_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let id = ticket_id(me.lang, &id)?;
    let f: ChangeForm = forms::parse_pairs(&body)?;
    let result = note(&state, &me, id, f.text.clone().unwrap_or_default()).await;
    after_form(&state, &me, id, "notes", result).await
}

async fn resolve_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = ticket_id(lang, &id)?;
    let f: ChangeForm = forms::parse_pairs(&body)?;
    let result = async {
        let score = forms::opt_int(lang, "satisfaction", &f.satisfaction)?;
        resolve(&state, &me, id, f.resolution.clone().unwrap_or_default(), score).await
    }
    .await;
    after_form(&state, &me, id, "resolve", result).await
}

async fn rate_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = ticket_id(lang, &id)?;
    let f: ChangeForm = forms::parse_pairs(&body)?;
    let result = async {
        let score = forms::int(lang, "satisfaction", text(&f.satisfaction).unwrap_or_default())?;
        rate(&state, &me, id, score).await
    }
    .await;
    after_form(&state, &me, id, "rate", result).await
}

// --- the dashboard card and the member profile -------------------------------------------------------

/// The dashboard's service card: unresolved and overdue counts, the most overdue tickets, and
/// an alert (like the outbox alarm) when any ticket is overdue.
pub fn card_fragment(lang: Lang, tz: chrono_tz::Tz, today: NaiveDate, s: &TicketSummary) -> Markup {
    html! {
        h2 {
            a href="/tickets" { (lang.pick("会员服务工单", "Member service tickets")) }
            @if s.overdue > 0 { " " span.badge.bad { (s.overdue) } }
        }
        @if s.overdue > 0 {
            p.error role="alert" data-overdue=(s.overdue) { strong { (lang.pick("告警：", "Alarm: ")) } (s.overdue) (lang.pick(" 张工单已超时", " tickets overdue")) }
        }
        p {
            (lang.pick("未解决：", "Unresolved: ")) strong data-open=(s.open) { (s.open) }
            " · " (lang.pick("处理中：", "In progress: ")) (s.in_progress)
            " · " (lang.pick("已超时：", "Overdue: ")) strong { (s.overdue) }
        }
        @if s.most_overdue.is_empty() {
            @if s.open > 0 { p.ok { (lang.pick("没有超时的工单", "No ticket is overdue")) } } @else { p.muted { (lang.pick("没有未解决的工单", "No unresolved tickets")) } }
        } @else {
            table {
                thead { tr { th { (lang.pick("工单", "Ticket")) } th { (lang.pick("优先级", "Priority")) } th { (lang.pick("截止", "Due")) } th.num { (lang.pick("超时", "Overdue by")) } } }
                tbody {
                    @for o in &s.most_overdue {
                        tr.overdue {
                            td { a href=(format!("/tickets/{}", o.id)) { "#" (o.id) } " " span.muted { (pick2(lang, o.kind.label())) } }
                            td { (priority_text(lang, o.priority)) }
                            td { (super::dashboard::local_time(o.due_at, tz, today)) }
                            td.num.warn { (minutes_text(lang, o.overdue_minutes)) }
                        }
                    }
                }
            }
        }
    }
}

/// The member profile's service section: the member's tickets and the "open a ticket" link.
pub fn profile_section(lang: Lang, me: &Identity, member_id: u64, rows: &[TicketView], tz: chrono_tz::Tz) -> Markup {
    html! {
        section.card {
            h2 { (lang.pick("服务工单", "Service tickets")) }
            p {
                @if allows(me.staff.role, Action::OpenTickets) {
                    a.button href=(format!("/tickets/new?member={member_id}")) { (lang.pick("新开工单", "Open a ticket")) }
                }
                @if allows(me.staff.role, Action::ManageTickets) {
                    " " a href=(format!("/tickets?member={member_id}")) { (lang.pick("全部工单", "All tickets")) }
                }
            }
            @if allows(me.staff.role, Action::ManageTickets) {
                @if rows.is_empty() { p.muted { (lang.pick("没有工单。", "No tickets.")) } } @else { (tickets_table(lang, tz, rows)) }
            }
        }
    }
}

/// A member's tickets for the profile (newest first is not needed: unresolved first).
pub fn member_rows(store: &crate::store::Store, member_id: u64, now: DateTime<Utc>) -> Result<Vec<TicketView>, crate::store::StoreError> {
    let list = tickets::list(store, TicketFilter::Member(member_id), now)?;
    TicketView::all(store, list, now)
}
