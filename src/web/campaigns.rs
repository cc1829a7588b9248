//! Campaigns on the web (营销活动): the `/campaigns` page (every campaign with its state, funnel
//! and uplift ± 95 % interval, the playbook buttons, CSV links), the dashboard's card of running
//! campaigns, and the `/api/v1/campaigns` routes. Everything is `members::campaigns`; handlers
//! only check input and render.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::Identity;
use super::error::JsonBody;
use super::forms;
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::campaign::{Funnel, PLAYBOOKS};
use crate::domain::staff::Action;
use crate::members::campaigns::{self as camp, CampaignError, CampaignReport, CampaignState, LaunchContext, NewCampaign};

pub fn routes() -> Vec<RouteDef> {
    let need = Need::May(Action::ManageCampaigns);
    vec![
        RouteDef::get("/campaigns", need, "Campaigns: state, funnel, uplift, playbook buttons, CSV", campaigns_page),
        RouteDef::post("/campaigns/playbooks/{name}", need, "Start a built-in playbook now (form)", playbook_submit),
        RouteDef::post("/campaigns/{id}/launch", need, "Launch a campaign now (form)", launch_submit),
        RouteDef::get("/api/v1/campaigns", need, "Every campaign with its funnel; ?format=csv gives one row per campaign", api_list),
        RouteDef::post("/api/v1/campaigns", need, "Create a campaign (draft, or scheduled with start_at)", api_create),
        RouteDef::get("/api/v1/campaigns/{id}", need, "One campaign with its funnel", api_show),
        RouteDef::post("/api/v1/campaigns/{id}/launch", need, "Launch a campaign now (or resume a launch cut short)", api_launch),
        RouteDef::get("/api/v1/campaigns/{id}/report", need, "Funnel and uplift: ?format=json|csv, &members=1 for one row per targeted member", api_report),
        RouteDef::post("/api/v1/campaigns/playbooks/{name}", need, "Start a built-in playbook: body {start_at?, holdout_bp?}; launched now without start_at", api_playbook),
    ]
}

fn web_error(e: CampaignError) -> WebError {
    match e {
        CampaignError::Field { field, message } => WebError::field(field, message),
        e @ (CampaignError::Exists(_) | CampaignError::WrongState { .. }) => WebError::conflict(e.to_string()),
        e @ (CampaignError::Unknown(_) | CampaignError::UnknownPlaybook(_)) => WebError::not_found(e.to_string()),
        e @ (CampaignError::Coupon(_) | CampaignError::Member { .. }) => WebError::bad_request(e.to_string()),
        CampaignError::Store(e) => WebError::internal(e.to_string()),
    }
}

fn csv_response(name: &str, body: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")), (header::CONTENT_DISPOSITION, disposition), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], body).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ReportQuery {
    format: Option<String>,
    members: Option<String>,
}

/// `format`: csv or json (default json); `members`: 1/true.
fn report_query(raw: Option<&str>) -> Result<(bool, bool), WebError> {
    let q: ReportQuery = forms::parse_query(raw)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(WebError::field("format", format!("expected csv or json, got {:?}", other.chars().take(20).collect::<String>()))),
    };
    let members = match q.members.as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(other) => return Err(WebError::field("members", format!("expected 1 or 0, got {:?}", other.chars().take(20).collect::<String>()))),
    };
    Ok((csv, members))
}

// --- API -----------------------------------------------------------------------------------------

async fn api_list(State(state): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let (csv, _) = report_query(q.as_deref())?;
    let reports = state.blocking(|store, _| camp::reports(store).map_err(web_error)).await?;
    if csv {
        let mut buf = Vec::new();
        camp::write_reports_csv(&reports, &mut buf).map_err(|e| WebError::internal(format!("csv: {e}")))?;
        return Ok(csv_response("campaigns.csv", buf));
    }
    Ok(Json(reports).into_response())
}

async fn api_create(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(new): JsonBody<NewCampaign>) -> Result<Response, WebError> {
    let who = me.staff.id.clone();
    let c = state.blocking(move |store, ctx| camp::create(store, &new, None, &ctx.campaigns).map_err(web_error)).await?;
    tracing::info!(campaign = %c.id, by = %who, "campaign created on the web");
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

async fn api_show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<CampaignReport>, WebError> {
    state.blocking(move |store, _| camp::report(store, &id, false).map_err(web_error)).await.map(Json)
}

async fn api_launch(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<camp::LaunchSummary>, WebError> {
    let who = me.staff.id.clone();
    let s = state
        .blocking(move |store, ctx| camp::launch(store, &ctx.campaigns, &LaunchContext::from_settings(&ctx.campaigns), &id, None).map_err(web_error))
        .await?;
    tracing::info!(campaign = %s.campaign_id, targeted = s.targeted, by = %who, "campaign launched on the web");
    Ok(Json(s))
}

async fn api_report(State(state): State<AppState>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Result<Response, WebError> {
    let (csv, members) = report_query(q.as_deref())?;
    let r = state.blocking(move |store, _| camp::report(store, &id, members).map_err(web_error)).await?;
    if !csv {
        return Ok(Json(r).into_response());
    }
    let mut buf = Vec::new();
    let written = if members { camp::write_members_csv(&r, &mut buf) } else { camp::write_reports_csv(std::slice::from_ref(&r), &mut buf) };
    written.map_err(|e| WebError::internal(format!("csv: {e}")))?;
    let suffix = if members { "-members" } else { "" };
    Ok(csv_response(&format!("campaign-{}{suffix}.csv", r.campaign.id), buf))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookBody {
    /// RFC 3339; launched by the daemon then. Absent: launched now.
    #[serde(default)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Share held out, bp (default `[campaigns].default_holdout_bp`).
    #[serde(default)]
    pub holdout_bp: Option<u32>,
}

/// Creates the playbook's campaign and, without a start time, launches it; the campaign's report.
async fn start_playbook(state: &AppState, me: &Identity, name: String, body: PlaybookBody) -> Result<CampaignReport, WebError> {
    let who = me.staff.id.clone();
    let r = state
        .blocking(move |store, ctx| {
            let c = camp::create_playbook(store, &name, body.start_at, body.holdout_bp, &ctx.campaigns).map_err(web_error)?;
            if c.start_at.is_none() {
                camp::launch(store, &ctx.campaigns, &LaunchContext::from_settings(&ctx.campaigns), &c.id, None).map_err(web_error)?;
            }
            camp::report(store, &c.id, false).map_err(web_error)
        })
        .await?;
    tracing::info!(campaign = %r.campaign.id, targeted = r.funnel.targeted, by = %who, "playbook started on the web");
    Ok(r)
}

async fn api_playbook(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(name): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let body: PlaybookBody = if body.iter().all(u8::is_ascii_whitespace) { PlaybookBody::default() } else { super::error::parse_json(&body)? };
    let r = start_playbook(&state, &me, name, body).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

// --- Page ----------------------------------------------------------------------------------------

async fn playbook_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(name): Path<String>) -> Result<Response, WebError> {
    start_playbook(&state, &me, name, PlaybookBody::default()).await?;
    Ok(Redirect::to("/campaigns").into_response())
}

async fn launch_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let Json(_) = api_launch(State(state), Extension(me), Path(id)).await?;
    Ok(Redirect::to("/campaigns").into_response())
}

fn state_text(lang: Lang, s: CampaignState) -> &'static str {
    match s {
        CampaignState::Draft => lang.pick("草稿", "Draft"),
        CampaignState::Scheduled => lang.pick("已排期", "Scheduled"),
        CampaignState::Running => lang.pick("进行中", "Running"),
        CampaignState::Finished => lang.pick("已结束", "Finished"),
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// "+4.0 pp (0.1 … 7.9)", or "—" while a group is empty.
fn uplift_text(f: &Funnel) -> String {
    match &f.uplift {
        Some(u) => format!("{:+.1} pp ({:.1} … {:.1}), p = {:.3}", u.uplift * 100.0, u.ci_low * 100.0, u.ci_high * 100.0, u.p_value),
        None => "—".to_string(),
    }
}

fn playbook_name(lang: Lang, id: &str) -> String {
    crate::domain::campaign::playbook(id).map_or_else(|| id.to_string(), |p| lang.pick(p.name_zh, p.name_en).to_string())
}

async fn campaigns_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let lang = me.lang;
    let reports = state.blocking(|store, _| camp::reports(store).map_err(web_error)).await?;
    let tz = state.ctx.tz;
    let body = html! {
        h1 { (lang.pick("营销活动", "Campaigns")) }
        p.muted { (lang.pick(
            "对照组（随机留出）不发券不发消息，用来衡量活动带来的真实提升；转化 = 活动窗口内有消费。",
            "The held-out group gets nothing, so the uplift measures what the campaign itself did; converted = bought within the response window.")) }
        section.card {
            h2 { (lang.pick("一键启动", "Start a playbook")) }
            div.grid {
                @for id in PLAYBOOKS {
                    form.inline method="post" action=(format!("/campaigns/playbooks/{id}")) {
                        (forms::csrf(&me))
                        button type="submit" data-playbook=(id) { (playbook_name(lang, id)) }
                    }
                }
            }
        }
        section.card style="margin-top:.8rem" {
            h2 { (lang.pick("全部活动", "All campaigns")) " " a.badge href="/api/v1/campaigns?format=csv" download { "⬇ CSV" } }
            @if reports.is_empty() {
                p.muted { (lang.pick("还没有活动。点上面的按钮启动一个。", "No campaigns yet. Start one with a button above.")) }
            } @else {
                table id="campaigns" {
                    thead { tr {
                        th { (lang.pick("活动", "Campaign")) }
                        th { (lang.pick("状态", "State")) }
                        th { (lang.pick("启动", "Launched")) }
                        th.num { (lang.pick("目标", "Targeted")) }
                        th.num { (lang.pick("对照组", "Held out")) }
                        th.num { (lang.pick("触达", "Reached")) }
                        th.num { (lang.pick("响应", "Responded")) }
                        th.num { (lang.pick("转化", "Converted")) }
                        th.num { (lang.pick("收入", "Revenue")) }
                        th { (lang.pick("提升（95% 区间）", "Uplift (95% CI)")) }
                        th {}
                    } }
                    tbody {
                        @for r in &reports {
                            @let (c, f) = (&r.campaign, &r.funnel);
                            tr data-campaign=(c.id) {
                                td { (c.name) br; small.muted { (c.id) } }
                                td { (state_text(lang, c.state)) }
                                td { (c.launched_at.map(|t| forms::local_time(t, tz)).unwrap_or_else(|| c.start_at.map(|t| forms::local_time(t, tz)).unwrap_or_default())) }
                                td.num { (f.targeted) }
                                td.num { (f.held_out) }
                                td.num { (f.reached) }
                                td.num { (f.responded) }
                                td.num data-field="converted" { (f.converted) " / " (f.treated) }
                                td.num { (yuan(f.revenue_fen)) }
                                td data-field="uplift" { (uplift_text(f)) }
                                td {
                                    @if matches!(c.state, CampaignState::Draft | CampaignState::Scheduled) {
                                        form.inline method="post" action=(format!("/campaigns/{}/launch", c.id)) {
                                            (forms::csrf(&me))
                                            button type="submit" { (lang.pick("立即启动", "Launch now")) }
                                        }
                                    }
                                    a href=(format!("/api/v1/campaigns/{}/report?format=csv&members=1", c.id)) download { (lang.pick("会员明细 CSV", "Members CSV")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page::render(&state, Some(&me), lang.pick("营销活动", "Campaigns"), body).into_response())
}

/// The dashboard's card: each running campaign's conversion against its holdout.
pub async fn dashboard_card(state: &AppState, lang: Lang) -> Result<Markup, WebError> {
    let running: Vec<CampaignReport> = state
        .blocking(|store, _| {
            let running = camp::campaigns(store).map_err(|e| web_error(e.into()))?.into_iter().filter(|c| c.state == CampaignState::Running);
            running.map(|c| camp::report(store, &c.id, false).map_err(web_error)).collect()
        })
        .await?;
    Ok(html! {
        h2 { a href="/campaigns" { (lang.pick("进行中的活动", "Running campaigns")) } }
        @if running.is_empty() {
            p.muted { (lang.pick("没有进行中的活动。", "No campaign is running.")) }
        } @else {
            table id="dash-campaigns" {
                thead { tr { th { (lang.pick("活动", "Campaign")) } th.num { (lang.pick("转化率", "Conversion")) } th.num { (lang.pick("对照组", "Holdout")) } th { (lang.pick("提升", "Uplift")) } } }
                tbody {
                    @for r in &running {
                        @let f = &r.funnel;
                        tr {
                            td { (r.campaign.name) }
                            td.num { (f.uplift.map(|u| pct(u.treated_rate)).unwrap_or_else(|| format!("{} / {}", f.converted, f.treated))) }
                            td.num { (f.uplift.map(|u| pct(u.holdout_rate)).unwrap_or_else(|| "—".into())) }
                            td { (uplift_text(f)) }
                        }
                    }
                }
            }
        }
    })
}
