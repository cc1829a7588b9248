//! The audit log on the LAN (`audit`): the page `/system/audit` with filters (action, subject)
//! and paging, and `GET /api/v1/audit` for HQ's tools, for roles allowed `ManageStaff`
//! (admins: managers are the ones most entries are about). Read-only: entries are written by
//! the actions they record.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use maud::html;
use serde::Deserialize;

use super::auth::Identity;
use super::forms;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::audit::{self, AuditAction, AuditEntry, AuditFilter};
use crate::domain::staff::Action;

/// Entries per page.
const PAGE: usize = 100;

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/system/audit", Need::May(Action::ManageStaff), "The audit log of privileged actions, newest first (?action= &subject= &before=)", audit_page),
        RouteDef::get("/api/v1/audit", Need::May(Action::ManageStaff), "Audit entries, newest first: ?action= (e.g. member_erased) &subject= &before= (id, paging) &limit= (≤ 1000)", api_audit)
            .returns::<AuditList>(),
    ]
}

/// `GET /api/v1/audit`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Q {
    action: Option<String>,
    subject: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// The filter a query asks for; a bad value names its field.
fn filter(lang: Lang, q: &Q) -> Result<AuditFilter, WebError> {
    let action = match q.action.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(a) => Some(AuditAction::parse(a).ok_or_else(|| {
            let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
            WebError::field("action", lang.pick(&format!("没有操作类型“{a}”；可选：{}", names.join(", ")), &format!("no action {a:?}; one of {}", names.join(", "))))
        })?),
    };
    let number = |field: &str, v: &Option<String>| -> Result<Option<u64>, WebError> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| WebError::field(field, lang.pick(&format!("{field} 应为正整数，收到“{s}”"), &format!("{field}: expected a whole number, got {s:?}")))),
        }
    };
    Ok(AuditFilter {
        action,
        subject: q.subject.clone().filter(|s| !s.is_empty()),
        before: number("before", &q.before)?,
        limit: number("limit", &q.limit)?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    })
}

async fn load(state: &AppState, f: AuditFilter) -> Result<Vec<AuditEntry>, WebError> {
    state.blocking(move |store, _| Ok(audit::list(store, &f)?)).await
}

async fn api_audit(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<AuditList>, WebError> {
    let q: Q = forms::parse_query(raw.as_deref())?;
    let f = filter(me.lang, &q)?;
    Ok(Json(AuditList { entries: load(&state, f).await? }))
}

/// The action's name on the page.
fn action_label(lang: Lang, a: AuditAction) -> &'static str {
    use AuditAction::*;
    let (zh, en) = match a {
        StaffCreated => ("新建员工", "Staff created"),
        StaffRoleChanged => ("更改员工角色", "Staff role changed"),
        StaffDeactivated => ("停用员工", "Staff deactivated"),
        StaffUnlocked => ("解锁员工", "Staff unlocked"),
        StaffCredentialReset => ("重置员工密码/PIN", "Staff credential reset"),
        PriceOverride => ("改价", "Price override"),
        RefundWithoutReceipt => ("无小票退款", "Refund without receipt"),
        MemberExported => ("导出会员数据", "Member data exported"),
        MemberErased => ("删除会员个人信息", "Member data erased"),
        PiiKeyRotated => ("更换个人信息密钥", "PII key rotated"),
        Provisioned => ("设备开通", "Provisioned"),
        Paired => ("与总部配对", "Paired with HQ"),
        RolledBack => ("回滚", "Rolled back"),
        BackupRestored => ("恢复备份", "Backup restored"),
        DiagCollected => ("收集诊断包", "Diagnostics collected"),
        ConfigChanged => ("更改配置", "Configuration changed"),
        ClockMarkReset => ("重置时钟高水位", "Clock mark reset"),
    };
    lang.pick(zh, en)
}

async fn audit_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let lang = me.lang;
    let q: Q = forms::parse_query(raw.as_deref())?;
    let mut f = filter(lang, &q)?;
    f.limit = Some(PAGE);
    let entries = load(&state, f.clone()).await?;
    let tz = state.ctx.tz;
    let next = (entries.len() == PAGE).then(|| entries.last().map(|e| e.id)).flatten();
    let body = html! {
        h1 { (lang.pick("审计日志", "Audit log")) }
        p.muted { (lang.pick("特权操作记录（员工变更、无小票退款、会员数据导出与删除、密钥更换等），同时上报总部。只记录编号，不含个人信息。", "Privileged actions (staff changes, refunds without receipt, member data exports and erasures, key rotation …), also sent to HQ. Ids only, never personal data.")) }
        form method="get" action="/system/audit" {
            label { (lang.pick("操作", "Action")) " "
                select name="action" {
                    option value="" { (lang.pick("全部", "All")) }
                    @for a in AuditAction::ALL {
                        option value=(a.as_str()) selected[f.action == Some(a)] { (action_label(lang, a)) }
                    }
                }
            }
            " "
            label { (lang.pick("对象编号", "Subject id")) " " input type="text" name="subject" value=(f.subject.clone().unwrap_or_default()); }
            " "
            button type="submit" { (lang.pick("筛选", "Filter")) }
        }
        @if entries.is_empty() {
            p.muted { (lang.pick("没有记录。", "No entries.")) }
        } @else {
            table {
                thead { tr { th { "#" } th { (lang.pick("时间", "When")) } th { (lang.pick("操作人", "By")) } th { (lang.pick("操作", "Action")) } th { (lang.pick("对象", "Subject")) } th { (lang.pick("说明", "Detail")) } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td.num { (e.id) }
                            td { (crate::clock::local(e.at, tz).format("%Y-%m-%d %H:%M:%S")) }
                            td { (e.actor) }
                            td { (action_label(lang, e.action)) }
                            td { (e.subject.clone().unwrap_or_default()) }
                            td { (e.detail) }
                        }
                    }
                }
            }
        }
        @if let Some(before) = next {
            p { a href=(format!("/system/audit?action={}&subject={}&before={before}", f.action.map(|a| a.as_str()).unwrap_or(""), f.subject.clone().unwrap_or_default())) { (lang.pick("更早 ›", "Older ›")) } }
        }
    };
    Ok(page::render(&state, Some(&me), lang.pick("审计日志", "Audit log"), body).into_response())
}
