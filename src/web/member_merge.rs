//! Member merge on the web (`members::merge`): `POST /api/v1/members/merge {from, into}` for
//! HQ's tools and the "合并会员" form on a member's page, both for roles allowed
//! `MergeMembers`. The form sits on the duplicate's page and names the member to keep by
//! phone, card number or id; the merge itself, its checks and its audit record are the members
//! module's. Nothing here writes to the store but through `members::merge::merge`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, text};
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::staff::{allows, Action};
use crate::members::merge::{self, MemberMerge, MergeError};
use crate::members::{self, Member};
use crate::store::CommitError;

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::post("/api/v1/members/merge", Need::May(Action::MergeMembers), "Merge duplicate member `from` into member `into` (ids): ledgers, coupons, tickets, sales move; `from` is closed", api_merge)
            .body::<MergeBody>()
            .returns::<MemberMerge>(),
        RouteDef::post("/members/{id}/merge", Need::May(Action::MergeMembers), "Merge this member into another (form)", form_merge),
    ]
}

/// `POST /api/v1/members/merge`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The duplicate: closed by the merge.
    pub from: u64,
    /// The member kept.
    pub into: u64,
}

fn merge_error(lang: Lang, from: u64, e: CommitError<MergeError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        CommitError::Store(e) => return WebError::internal(e.to_string()),
    };
    let en = e.to_string();
    match &e {
        MergeError::SameMember(id) => WebError::field("into", lang.pick(&format!("不能把会员 {id} 合并到自己；请填写要保留的另一位会员"), &en)),
        MergeError::Unknown(id) => {
            let mut w = WebError::not_found(lang.pick(&format!("本店没有会员 {id}"), &en));
            w.field = Some(if *id == from { "from" } else { "into" }.to_string());
            w
        }
        MergeError::AlreadyMerged { id, into } => {
            WebError::conflict(lang.pick(&format!("会员 {id} 已合并到会员 {into}，已关闭；请合并到会员 {into}"), &en))
        }
        MergeError::Changed(id) => WebError::conflict(lang.pick(&format!("准备合并时会员 {id} 有新的交易；请再合并一次"), &en)),
        MergeError::Staff(_) => WebError::forbidden(lang.pick(&format!("不允许合并会员：{en}"), &en)),
        MergeError::Member(_) => WebError::conflict(lang.pick(&format!("合并被拒绝：{en}"), &en)),
    }
}

async fn run(state: &AppState, me: &Identity, from: u64, into: u64) -> Result<MemberMerge, WebError> {
    let (lang, by) = (me.lang, me.staff.id.clone());
    let done = state
        .blocking(move |store, ctx| Ok(merge::merge(store, from, into, &by, &ctx.loyalty).map_err(|e| merge_error(lang, from, e))))
        .await??;
    tracing::info!(merge = done.id, from, into, by = %me.staff.id, "members merged on the web");
    Ok(done)
}

async fn api_merge(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<MergeBody>) -> Result<Json<MemberMerge>, WebError> {
    run(&state, &me, b.from, b.into).await.map(Json)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MergeForm {
    into: Option<String>,
}

async fn form_merge(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let from: u64 = id.parse().map_err(|_| WebError::not_found(lang.pick(&format!("没有会员 {id}"), &format!("no member {id}"))))?;
    let f: MergeForm = forms::parse_pairs(&body)?;
    let typed = text(&f.into).unwrap_or_default().to_string();
    let result = async {
        if typed.is_empty() {
            return Err(WebError::field("into", lang.pick("请填写要保留的会员：手机号、卡号或会员编号", "enter the member to keep: phone, card number or member id")));
        }
        let r = typed.clone();
        let into = state
            .blocking(move |store, _| Ok(members::history::resolve_ref(store, &r)?))
            .await?
            .ok_or_else(|| WebError::field("into", lang.pick(&format!("没有手机号、卡号或编号为“{typed}”的会员"), &format!("no member has phone, card or id {typed:?}"))))?;
        run(&state, &me, from, into).await
    };
    match result.await {
        Ok(done) => Ok(Redirect::to(&format!("/members/{}", done.into)).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            let body = html! {
                h1 { (lang.pick("合并会员", "Merge member")) }
                p.error { (e.to_string()) }
                p { a href=(format!("/members/{from}")) { "‹ " (lang.pick("返回会员", "Back to the member")) } }
            };
            Ok((e.status, forms::render(&state, &me, lang.pick("合并会员", "Merge member"), body)).into_response())
        }
    }
}

/// The "合并会员" section of member `m`'s page: the form for roles that may merge, or where a
/// merged member went.
pub fn section(me: &Identity, m: &Member) -> Markup {
    let lang = me.lang;
    html! {
        @if let Some(into) = m.merged_into {
            section.card {
                h2 { (lang.pick("合并会员", "Merge member")) }
                p { (lang.pick("该会员已合并到 ", "This member was merged into ")) a href=(format!("/members/{into}")) { (lang.pick("会员 ", "member ")) (into) } (lang.pick("，积分、储值、优惠券和消费记录都在那里。", "; points, stored value, coupons and purchases are there.")) }
            }
        } @else if allows(me.staff.role, Action::MergeMembers) {
            section.card {
                h2 { (lang.pick("合并会员", "Merge member")) }
                p.muted { (lang.pick(
                    "同一个人有两个会员号时（如线上注册和门店注册），把本会员合并到要保留的会员：积分、储值、优惠券、服务工单和消费记录全部转过去，本会员关闭，其手机号和卡号以后找到保留的会员。不能撤销。",
                    "When one person has two member accounts (e.g. online and in store), merge this one into the account to keep: points, stored value, coupons, tickets and purchases move there; this account is closed and its phone and card find the kept one. Cannot be undone.")) }
                form method="post" action=(format!("/members/{}/merge", m.id)) {
                    label { (lang.pick("保留的会员（手机号、卡号或编号）", "Member to keep (phone, card or id)")) " " input type="text" name="into" required; }
                    " "
                    button type="submit" { (lang.pick("合并到该会员", "Merge into that member")) }
                }
            }
        }
    }
}
