//! Member messages on the LAN web (`Action::ManageMessages`: managers and admins): the page
//! `/messages` (templates, each previewed with the sample member or a member typed in, a box to
//! paste template JSON, and the recent messages with their state) and the API
//! `/api/v1/message-templates` (list, add or change), `/api/v1/message-templates/{id}/preview`
//! and `/api/v1/messages`. Everything goes through `members::messages`; nothing here decides.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Identity;
use super::forms::{self, text};
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::staff::Action;
use crate::json_import::JsonFileReport;
use crate::members::messages::{self, Channel, Message, MessageError, MessageFilter, MessageState, Preview, TemplateRecord};
use crate::store::CommitError;

/// Messages the page shows.
const RECENT: usize = 50;

pub fn routes() -> Vec<RouteDef> {
    let need = Need::May(Action::ManageMessages);
    vec![
        RouteDef::get("/messages", need, "Member messages: templates with preview, recent messages with their state", page),
        RouteDef::post("/messages/templates", need, "Add or change message templates (form: the JSON pasted)", templates_submit),
        RouteDef::get("/api/v1/message-templates", need, "Every message template with the number of messages that used it", api_templates),
        RouteDef::post(
            "/api/v1/message-templates",
            need,
            "Add or change message templates: one template object or an array (all or nothing; errors name index, id and field)",
            api_upsert,
        ),
        RouteDef::get(
            "/api/v1/message-templates/{id}/preview",
            need,
            "A template rendered for ?member= (phone, card, QR or id) or the sample member; &coupon= sets {{coupon}}",
            api_preview,
        ),
        RouteDef::get(
            "/api/v1/messages",
            need,
            "Messages, newest first: ?member= &campaign= &state=held|requested|delivered|failed &limit= (default 100, at most 500)",
            api_messages,
        ),
    ]
}

fn message_error(lang: Lang, e: CommitError<MessageError>) -> WebError {
    match e {
        CommitError::Store(e) => e.into(),
        CommitError::Rejected(e @ (MessageError::UnknownTemplate(_) | MessageError::UnknownMember(_))) => {
            let zh = match &e {
                MessageError::UnknownTemplate(id) => format!("没有消息模板“{id}”"),
                MessageError::UnknownMember(id) => format!("没有会员 {id}"),
                _ => String::new(),
            };
            WebError::not_found(lang.pick(&zh, &e.to_string()).to_string())
        }
        CommitError::Rejected(MessageError::Render { template, field, message }) => {
            WebError::field(field.clone(), format!("template {template:?}: {field}: {message}"))
        }
        CommitError::Rejected(e) => WebError::conflict(e.to_string()),
    }
}

/// A template file's report as one 400: the first error's field (`[1].fields.keyword1`), every
/// error in the message.
fn report_error(r: &JsonFileReport) -> WebError {
    let field = r.errors.first().map(|e| {
        let index = e.index.map(|i| format!("[{i}]")).unwrap_or_default();
        match &e.field {
            Some(f) if index.is_empty() => f.clone(),
            Some(f) => format!("{index}.{f}"),
            None if index.is_empty() => "body".to_string(),
            None => index,
        }
    });
    match field {
        Some(f) => WebError::field(f, r.to_string()),
        None => WebError::bad_request(r.to_string()),
    }
}

/// The member a typed reference names (phone, card, QR or id).
fn member_ref(store: &crate::store::Store, lang: Lang, r: &str) -> Result<u64, WebError> {
    crate::members::history::resolve_ref(store, r)?.ok_or_else(|| {
        forms::field(lang, "member", format!("没有手机号、卡号或编号为“{r}”的会员"), format!("no member has phone, card or id {r:?}"))
    })
}

async fn upsert(state: &AppState, me: &Identity, bytes: Vec<u8>) -> Result<(usize, usize), WebError> {
    let templates = messages::parse_templates_json(&bytes, "body").map_err(|r| report_error(&r))?;
    let n = templates.len();
    let lang = me.lang;
    let who = me.staff.id.clone();
    let changed = state.blocking(move |store, _| Ok(messages::upsert_templates(store, &templates).map_err(|e| message_error(lang, e)))).await??;
    tracing::info!(templates = n, changed, by = %who, "message templates saved on the web");
    Ok((n, changed))
}

async fn api_upsert(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Json<serde_json::Value>, WebError> {
    let (n, changed) = upsert(&state, &me, body.to_vec()).await?;
    Ok(Json(serde_json::json!({ "templates": n, "changed": changed })))
}

async fn api_templates(State(state): State<AppState>) -> Result<Json<Vec<TemplateRecord>>, WebError> {
    state.blocking(|store, _| Ok(Json(messages::templates(store)?))).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PreviewQuery {
    member: Option<String>,
    coupon: Option<String>,
}

async fn preview(state: &AppState, lang: Lang, id: String, member: Option<String>, coupon: Option<String>) -> Result<Preview, WebError> {
    state
        .blocking(move |store, ctx| {
            let member_id = match member.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                Some(r) => Some(member_ref(store, lang, r)?),
                None => None,
            };
            let vars: BTreeMap<String, String> = coupon.into_iter().map(|c| ("coupon".to_string(), c)).collect();
            messages::preview(store, &ctx.messages, store.clock().now(), &id, member_id, &vars).map_err(|e| message_error(lang, e))
        })
        .await
}

async fn api_preview(
    State(state): State<AppState>,
    Extension(me): Extension<Identity>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Preview>, WebError> {
    let q: PreviewQuery = forms::parse_query(raw.as_deref())?;
    preview(&state, me.lang, id, q.member, text(&q.coupon).map(str::to_string)).await.map(Json)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    member: Option<String>,
    campaign: Option<String>,
    state: Option<String>,
    limit: Option<String>,
}

fn filter(store: &crate::store::Store, lang: Lang, q: &ListQuery, default_limit: usize) -> Result<MessageFilter, WebError> {
    let state = match text(&q.state) {
        None => None,
        Some(s) => Some(MessageState::parse(s).ok_or_else(|| {
            forms::field(lang, "state", "状态应为 held、requested、delivered 或 failed", format!("expected held, requested, delivered or failed, got {s:?}"))
        })?),
    };
    Ok(MessageFilter {
        member_id: text(&q.member).map(|r| member_ref(store, lang, r)).transpose()?,
        campaign_id: text(&q.campaign).map(str::to_string),
        state,
        limit: forms::limit(lang, &q.limit, default_limit)?,
    })
}

async fn api_messages(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<Vec<Message>>, WebError> {
    let q: ListQuery = forms::parse_query(raw.as_deref())?;
    let lang = me.lang;
    state.blocking(move |store, _| Ok(Json(messages::list(store, &filter(store, lang, &q, 100)?)?))).await
}

// --- the page ------------------------------------------------------------------------------------

fn channel_text(lang: Lang, c: Channel) -> &'static str {
    match c {
        Channel::Wechat => lang.pick("微信模板消息", "WeChat template"),
        Channel::Sms => lang.pick("短信", "SMS"),
    }
}

fn state_text(lang: Lang, s: MessageState) -> &'static str {
    match s {
        MessageState::Held => lang.pick("免打扰暂缓", "Held (quiet hours)"),
        MessageState::Requested => lang.pick("已提交总部", "Requested"),
        MessageState::Delivered => lang.pick("已送达", "Delivered"),
        MessageState::Failed => lang.pick("失败", "Failed"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    /// Template to preview for `member`.
    preview: Option<String>,
    member: Option<String>,
    /// Filters of the recent messages.
    who: Option<String>,
    campaign: Option<String>,
    state: Option<String>,
}

async fn page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: PageQuery = forms::parse_query(raw.as_deref())?;
    render_page(&state, &me, &q, None, StatusCode::OK).await
}

async fn render_page(state: &AppState, me: &Identity, q: &PageQuery, error: Option<(&str, &WebError)>, status: StatusCode) -> Result<Response, WebError> {
    let lang = me.lang;
    let list_query = ListQuery { member: q.who.clone(), campaign: q.campaign.clone(), state: q.state.clone(), limit: None };
    let (templates, recent) = state
        .blocking(move |store, _| {
            let recent = match filter(store, lang, &list_query, RECENT) {
                Ok(f) => Ok(messages::list(store, &f)?),
                Err(e) => Err(e),
            };
            Ok((messages::templates(store)?, recent))
        })
        .await?;
    let (recent, filter_error) = match recent {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    // Each template previewed with the sample member, or the member asked for.
    let mut previews = Vec::new();
    for t in &templates {
        let id = t.template.id.clone();
        let member = (q.preview.as_deref() == Some(id.as_str())).then(|| q.member.clone()).flatten();
        previews.push(preview(state, lang, id, member, None).await);
    }
    let tz = state.ctx.tz;
    let filtered = [&q.who, &q.campaign, &q.state].iter().any(|v| text(v).is_some());
    let body = html! {
        h1 { (lang.pick("会员消息", "Member messages")) }
        p.muted { (lang.pick(
            "消息由总部通过微信模板消息或短信发送；门店只提交请求。免打扰时段的消息暂缓到时段结束，每位会员每周有发送上限。",
            "HQ sends the messages by WeChat template message or SMS; the shop only requests them. Messages in quiet hours wait for their end; each member has a weekly cap.")) }
        h2 { (lang.pick("模板", "Templates")) }
        @if templates.is_empty() {
            p { (lang.pick("还没有模板。在下方粘贴模板 JSON 添加。", "No templates yet. Paste template JSON below to add some.")) }
        }
        @for (t, p) in templates.iter().zip(&previews) {
            section.card id=(format!("t-{}", t.template.id)) {
                h3 { code { (t.template.id) } " " (t.template.name) }
                p.muted {
                    (channel_text(lang, t.template.channel)) " · " (t.template.vendor_template()) " · "
                    (lang.pick("已用于", "used by")) " " (t.used) " " (lang.pick("条消息", "messages"))
                }
                @match p {
                    Ok(p) => {
                        pre.preview { (p.rendered.text) }
                        @if p.rendered.segments > 1 || t.template.channel == Channel::Sms {
                            p.muted { (p.rendered.chars) " " (lang.pick("字", "characters")) " · " (p.rendered.segments) " " (lang.pick("条短信", "SMS segment(s)")) }
                        }
                        p.muted { @if p.member_id.is_some() { (lang.pick("按该会员预览", "Previewed for this member")) } @else { (lang.pick("示例会员预览", "Previewed for the sample member")) } }
                    }
                    Err(e) => p.error { (e.to_string()) }
                }
                form.inline method="get" action="/messages" {
                    input type="hidden" name="preview" value=(t.template.id);
                    input type="text" name="member" placeholder=(lang.pick("会员手机号/卡号/编号", "Member phone / card / id"));
                    button type="submit" { (lang.pick("预览", "Preview")) }
                }
            }
        }
        h2 { (lang.pick("添加或修改模板", "Add or change templates")) }
        @if let Some((typed, e)) = error {
            p.error { (e.to_string()) }
            (template_form(me, lang, typed))
        } @else {
            (template_form(me, lang, ""))
        }
        h2 { (lang.pick("最近的消息", "Recent messages")) }
        form.inline method="get" action="/messages" {
            input type="text" name="who" value=(q.who.as_deref().unwrap_or_default()) placeholder=(lang.pick("会员手机号/卡号/编号", "Member phone / card / id"));
            input type="text" name="campaign" value=(q.campaign.as_deref().unwrap_or_default()) placeholder=(lang.pick("活动编号", "Campaign id"));
            select name="state" {
                option value="" { (lang.pick("全部状态", "Any state")) }
                @for s in MessageState::ALL {
                    option value=(s.as_str()) selected[q.state.as_deref() == Some(s.as_str())] { (state_text(lang, s)) }
                }
            }
            button type="submit" { (lang.pick("筛选", "Filter")) }
        }
        @if let Some(e) = &filter_error {
            p.error { (e.to_string()) }
        }
        @if recent.is_empty() && filtered {
            p { (lang.pick("没有符合条件的消息。", "No messages match.")) }
        } @else if recent.is_empty() {
            p { (lang.pick("还没有消息。", "No messages yet.")) }
        } @else {
            table {
                thead { tr {
                    th { "#" } th { (lang.pick("会员", "Member")) } th { (lang.pick("模板", "Template")) } th { (lang.pick("活动", "Campaign")) }
                    th { (lang.pick("状态", "State")) } th { (lang.pick("创建", "Created")) } th { (lang.pick("送达", "Delivered")) } th { (lang.pick("点击", "Clicked")) }
                } }
                tbody {
                    @for m in &recent {
                        tr.message {
                            td { (m.id) }
                            td { a href=(format!("/members/{}", m.member_id)) { (m.member_id) } }
                            td { code { (m.template_id) } }
                            td { (m.campaign_id.as_deref().unwrap_or("—")) }
                            td.state {
                                (state_text(lang, m.state))
                                @if let Some(until) = m.held_until { " → " (forms::local_time(until, tz)) }
                                @if let Some(f) = &m.failure { " (" (f) ")" }
                            }
                            td { (forms::local_time(m.created_at, tz)) }
                            td { (m.delivered_at.map(|t| forms::local_time(t, tz)).unwrap_or_default()) }
                            td { (m.clicked_at.map(|t| forms::local_time(t, tz)).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    Ok((status, forms::render(state, me, lang.pick("会员消息", "Member messages"), body)).into_response())
}

fn template_form(me: &Identity, lang: Lang, typed: &str) -> Markup {
    html! {
        form method="post" action="/messages/templates" {
            input type="hidden" name="_csrf" value=(me.csrf);
            p.muted { (lang.pick(
                "一个模板对象或数组：id、name、channel（wechat 或 sms）、微信 wechat_template_id + fields（first、keyword1…、remark）+ url 或 miniprogram；短信 sms_template_code、signature、sms_text（含 ${参数}）+ fields。变量：{{name}} {{tier}} {{points}} {{expiring_points}} {{expiring_date}} {{coupon}} {{coupon_code}} {{store}}。",
                "One template object or an array: id, name, channel (wechat or sms); WeChat: wechat_template_id + fields (first, keyword1…, remark) + url or miniprogram; SMS: sms_template_code, signature, sms_text (with ${param}) + fields. Variables: {{name}} {{tier}} {{points}} {{expiring_points}} {{expiring_date}} {{coupon}} {{coupon_code}} {{store}}.")) }
            textarea name="json" rows="10" cols="80" { (typed) }
            p { button type="submit" { (lang.pick("保存", "Save")) } }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TemplateForm {
    json: Option<String>,
}

async fn templates_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: TemplateForm = forms::parse_pairs(&body)?;
    let typed = f.json.unwrap_or_default();
    match upsert(&state, &me, typed.clone().into_bytes()).await {
        Ok(_) => Ok(Redirect::to("/messages").into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            let status = e.status;
            render_page(&state, &me, &PageQuery::default(), Some((&typed, &e)), status).await
        }
    }
}
