//! A member's PIPL rights on the web (`privacy::subject`): `GET /api/v1/members/{id}/export`
//! (everything stored about the member, JSON) and `POST /api/v1/members/{id}/erase` for roles
//! allowed `ManageMembers`, the same two as buttons on the member page, and the member's consent
//! history there. Nothing here writes to the store but through `privacy::subject`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};

use super::auth::Identity;
use super::forms;
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::staff::{allows, Action};
use crate::members::{ConsentChange, Member};
use crate::privacy::subject::{self, ErasureSummary, SubjectError};
use crate::store::CommitError;

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/api/v1/members/{id}/export", Need::May(Action::ManageMembers), "Everything stored about a member (PIPL access request): profile, consent history, ledgers, coupons, sales, returns, messages, tickets, imported history, campaigns. Audited", api_export),
        RouteDef::post("/api/v1/members/{id}/erase", Need::May(Action::ManageMembers), "Erase a member's personal data (PIPL deletion request); sales and ledgers kept, anonymised; HQ is told with storehub.member.erased. Audited", api_erase),
        RouteDef::post("/members/{id}/erase", Need::May(Action::ManageMembers), "Erase this member's personal data (form)", form_erase),
    ]
}

fn member_id(lang: Lang, id: &str) -> Result<u64, WebError> {
    id.parse().map_err(|_| WebError::not_found(lang.pick(&format!("没有会员 {id}"), &format!("no member {id}"))))
}

fn subject_error(lang: Lang, e: CommitError<SubjectError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        CommitError::Store(e) => return WebError::internal(e.to_string()),
    };
    let en = e.to_string();
    match &e {
        SubjectError::NoMember(id) => WebError::not_found(lang.pick(&format!("本店没有会员 {id}"), &en)),
        SubjectError::AlreadyErased(id) => WebError::conflict(lang.pick(&format!("会员 {id} 的个人信息已删除"), &en)),
        SubjectError::Staff(_) => WebError::forbidden(lang.pick(&format!("不允许：{en}"), &en)),
    }
}

async fn api_export(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = member_id(lang, &id)?;
    let by = me.staff.id.clone();
    let out = state.blocking(move |store, _| Ok(subject::export_authorized(store, &by, id).map_err(|e| subject_error(lang, e)))).await??;
    tracing::info!(member = id, by = %me.staff.id, "member data exported on the web");
    let disposition = format!("attachment; filename=\"member-{id}-export.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(out)).into_response())
}

async fn erase(state: &AppState, me: &Identity, id: u64) -> Result<ErasureSummary, WebError> {
    let (lang, by) = (me.lang, me.staff.id.clone());
    let done = state.blocking(move |store, _| Ok(subject::erase_authorized(store, &by, id).map_err(|e| subject_error(lang, e)))).await??;
    tracing::info!(member = id, by = %me.staff.id, "member data erased on the web");
    Ok(done)
}

async fn api_erase(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<ErasureSummary>, WebError> {
    let id = member_id(me.lang, &id)?;
    erase(&state, &me, id).await.map(Json)
}

async fn form_erase(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = member_id(lang, &id)?;
    match erase(&state, &me, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}")).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            let body = html! {
                h1 { (lang.pick("删除个人信息", "Erase personal data")) }
                p.error { (e.to_string()) }
                p { a href=(format!("/members/{id}")) { "‹ " (lang.pick("返回会员", "Back to the member")) } }
            };
            Ok((e.status, forms::render(&state, &me, lang.pick("删除个人信息", "Erase personal data"), body)).into_response())
        }
    }
}

/// The "个人信息" section of member `m`'s page: the consent history, and the export and erase
/// buttons for roles allowed to manage members.
pub fn section(me: &Identity, m: &Member, history: &[ConsentChange]) -> Markup {
    let lang = me.lang;
    let yes_no = |b: bool| if b { lang.pick("同意", "given") } else { lang.pick("未同意", "not given") };
    html! {
        section.card {
            h2 { (lang.pick("个人信息与授权", "Personal data and consent")) }
            @if let Some(at) = m.erased_at {
                p { (lang.pick("该会员的个人信息已于 ", "This member's personal data was erased at ")) (at.format("%Y-%m-%d %H:%M UTC")) (lang.pick(" 删除；销售和积分记录已匿名保留。", "; sales and ledgers are kept, anonymised.")) }
            }
            h3 { (lang.pick("授权记录", "Consent history")) }
            @if history.is_empty() {
                p.muted { (lang.pick("没有记录（授权记录功能上线前注册的会员）。", "None kept (registered before the consent history was kept).")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("时间", "When")) } th { (lang.pick("短信", "SMS")) } th { (lang.pick("微信", "WeChat")) } th { (lang.pick("操作人", "By")) } th { (lang.pick("渠道", "Channel")) } } }
                    tbody {
                        @for c in history {
                            tr { td { (c.at.format("%Y-%m-%d %H:%M")) } td { (yes_no(c.sms)) } td { (yes_no(c.wechat)) } td { (c.by) } td { (c.via) } }
                        }
                    }
                }
            }
            @if allows(me.staff.role, Action::ManageMembers) {
                p { a.button href=(format!("/api/v1/members/{}/export", m.id)) { (lang.pick("导出全部数据 (JSON)", "Export all data (JSON)")) } }
                @if m.erased_at.is_none() {
                    p.muted { (lang.pick(
                        "应会员要求删除其个人信息：手机号、姓名、生日、会员卡和推荐码、消息和工单内容。销售、积分和储值记录匿名保留用于对账；总部会收到通知一并删除。不能撤销。",
                        "On the member's request, erase their personal data: phone, name, birthday, card and referral keys, message and ticket texts. Sales, points and stored value are kept, anonymised, for accounting; HQ is told to erase too. Cannot be undone.")) }
                    form method="post" action=(format!("/members/{}/erase", m.id)) {
                        button type="submit" { (lang.pick("删除个人信息", "Erase personal data")) }
                    }
                }
            }
        }
    }
}
