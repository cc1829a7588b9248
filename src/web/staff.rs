//! Staff (员工) and shifts (班次) on the LAN. Accounts (ManageStaff): the list, new accounts,
//! role changes, password and PIN resets, unlocking and deactivation; a change of role or
//! password, or a deactivation, ends the account's web sessions at once. Shifts: the open shift
//! of each lane and the recent closed ones, opening with a float, closing with the counted
//! drawer and its close-out (expected, counted, difference). The same under `/api/v1/staff` and
//! `/api/v1/shifts`.
//!
//! Rules are `staff`'s and `domain::staff`'s (id, name, password and PIN rules; who may close
//! which shift). Secrets are read from forms and bodies and handed to `staff` only: no response,
//! log line or event carries one, and no refused form is sent back with them filled in.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, field, refused, text};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::staff::{allows, may_close_shift, Action, CredentialError, Role};
use crate::staff::{self, HashCost, NewStaff, Shift, ShiftError, StaffError, StaffInfo};
use crate::store::CommitError;

/// Closed shifts shown on the shifts page, and how many shifts are looked at for them.
const CLOSED_SHOWN: usize = 30;
const CLOSED_SCANNED: usize = 2_000;
/// Accounts shown on the staff page (a shop has tens).
const STAFF_SHOWN: usize = 500;

pub fn routes() -> Vec<RouteDef> {
    use Action::{CloseShift, ManageStaff, OpenShift};
    let m = Need::May(ManageStaff);
    vec![
        RouteDef::get("/staff", m, "Staff accounts", staff_page),
        RouteDef::get("/staff/new", m, "New staff account: the form", new_page),
        RouteDef::post("/staff/new", m, "New staff account (form)", new_submit),
        RouteDef::get("/staff/{id}", m, "One account with its actions", account_page),
        RouteDef::post("/staff/{id}/role", m, "Change an account's role (form); ends its sessions", role_submit),
        RouteDef::post("/staff/{id}/password", m, "Reset an account's password (form); ends its sessions", password_submit),
        RouteDef::post("/staff/{id}/pin", m, "Set a new PIN (form)", pin_submit),
        RouteDef::post("/staff/{id}/unlock", m, "Clear failed logins and a lock (form)", unlock_submit),
        RouteDef::post("/staff/{id}/deactivate", m, "Deactivate an account (form); ends its sessions", deactivate_submit),
        RouteDef::get("/shifts", Need::May(OpenShift), "Open shifts per lane and recent closed ones; open and close", shifts_page),
        RouteDef::post("/shifts/open", Need::May(OpenShift), "Open a shift at a lane with a float (form)", open_submit),
        RouteDef::get("/shifts/{id}", Need::May(OpenShift), "A shift and its close-out", shift_page),
        RouteDef::post("/shifts/{id}/close", Need::May(CloseShift), "Close a shift with the counted cash (form)", close_submit),
        RouteDef::get("/api/v1/staff", m, "Staff accounts (never a secret)", api_list).returns::<StaffList>(),
        RouteDef::post("/api/v1/staff", m, "Create an account with its password and optional PIN", api_create).body::<NewStaffBody>().returns::<StaffJson>(),
        RouteDef::put("/api/v1/staff/{id}", m, "Change an account's role; ends its sessions", api_role).body::<RoleBody>().returns::<StaffJson>(),
        RouteDef::post("/api/v1/staff/{id}/password", m, "Reset the password; ends its sessions", api_password).body::<PasswordBody>().returns::<StaffJson>(),
        RouteDef::post("/api/v1/staff/{id}/pin", m, "Set a new PIN, or clear it with null", api_pin).body::<PinBody>().returns::<StaffJson>(),
        RouteDef::post("/api/v1/staff/{id}/unlock", m, "Clear failed logins and a lock", api_unlock).returns::<StaffJson>(),
        RouteDef::post("/api/v1/staff/{id}/deactivate", m, "Deactivate an account; ends its sessions", api_deactivate).returns::<StaffJson>(),
        RouteDef::get("/api/v1/shifts", Need::May(OpenShift), "Open shifts and recent closed ones (a cashier sees their own)", api_shifts).returns::<ShiftList>(),
        RouteDef::post("/api/v1/shifts", Need::May(OpenShift), "Open a shift at a lane with a float", api_open).body::<OpenShiftBody>().returns::<ShiftJson>(),
        RouteDef::post("/api/v1/shifts/{id}/close", Need::May(CloseShift), "Close a shift with the counted cash: its close-out", api_close).body::<CloseShiftBody>().returns::<ShiftJson>(),
    ]
}

// --- JSON ------------------------------------------------------------------------------------------

/// An account as shown: never a hash, password or PIN.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffJson {
    pub id: String,
    pub name: String,
    /// `cashier`, `manager`, `technician`, `admin`.
    pub role: String,
    pub active: bool,
    /// Whether a PIN is set (lane logins).
    pub has_pin: bool,
    /// Failed logins since the last success or unlock.
    pub failures: u32,
    /// Locked until then (null: not locked).
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<&StaffInfo> for StaffJson {
    fn from(s: &StaffInfo) -> StaffJson {
        StaffJson {
            id: s.id.clone(),
            name: s.name.clone(),
            role: s.role.as_str().to_string(),
            active: s.active,
            has_pin: s.has_pin,
            failures: s.failures,
            locked_until: s.locked_until,
            created_at: s.created_at,
        }
    }
}

/// The accounts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffList {
    pub staff: Vec<StaffJson>,
}

/// A new account. (No `Debug`: it holds secrets.)
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffBody {
    /// 1 to 64 of `a-z 0-9 - _`.
    pub id: String,
    pub name: String,
    /// `cashier`, `manager`, `technician`, `admin`.
    pub role: String,
    /// 8 to 128 characters.
    pub password: String,
    /// 4 to 6 digits (lane logins).
    #[serde(default)]
    pub pin: Option<String>,
}

/// A new role.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: String,
}

/// A new password. (No `Debug`: it holds a secret.)
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub password: String,
}

/// A new PIN, or null to clear it. (No `Debug`: it holds a secret.)
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    pub pin: Option<String>,
}

/// How a shift ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CloseJson {
    pub at: DateTime<Utc>,
    pub counted_fen: i64,
    pub expected_fen: i64,
    /// Counted − expected: positive over (长款), negative short (短款).
    pub difference_fen: i64,
    pub closed_by: String,
}

/// A shift with its cash. Money in fen.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShiftJson {
    pub id: u64,
    pub lane: String,
    pub staff: String,
    pub opened_at: DateTime<Utc>,
    pub float_fen: i64,
    pub cash_sales_fen: i64,
    pub cash_refunds_fen: i64,
    pub paid_in_fen: i64,
    pub paid_out_fen: i64,
    /// What the drawer should hold now (float + sales − refunds + paid in − paid out).
    pub expected_fen: i64,
    /// Null while open.
    pub closed: Option<CloseJson>,
}

impl From<&Shift> for ShiftJson {
    fn from(s: &Shift) -> ShiftJson {
        ShiftJson {
            id: s.id,
            lane: s.lane.clone(),
            staff: s.staff.clone(),
            opened_at: s.opened_at,
            float_fen: s.float_fen,
            cash_sales_fen: s.cash_sales_fen,
            cash_refunds_fen: s.cash_refunds_fen,
            paid_in_fen: s.paid_in_fen,
            paid_out_fen: s.paid_out_fen,
            expected_fen: s.expected_cash_fen(),
            closed: s.closed.as_ref().map(|c| CloseJson { at: c.at, counted_fen: c.counted_fen, expected_fen: c.expected_fen, difference_fen: c.difference_fen, closed_by: c.closed_by.clone() }),
        }
    }
}

/// Open shifts (one per lane at most) and the newest closed ones.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShiftList {
    pub open: Vec<ShiftJson>,
    pub closed: Vec<ShiftJson>,
}

/// Opening a shift.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenShiftBody {
    pub lane: String,
    /// Cash put in the drawer, fen.
    pub float_fen: i64,
    /// Whose shift; default the caller. Another person's needs a role that may close anyone's.
    #[serde(default)]
    pub staff: Option<String>,
}

/// Closing a shift.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseShiftBody {
    /// Cash counted in the drawer, fen.
    pub counted_fen: i64,
}

// --- words and refusals ----------------------------------------------------------------------------

fn role_text(lang: Lang, r: Role) -> &'static str {
    page::role_name(lang, r)
}

fn parse_role(lang: Lang, typed: &str) -> Result<Role, WebError> {
    Role::parse(typed.trim()).ok_or_else(|| {
        field(lang, "role", format!("角色须为 cashier、manager、technician 或 admin，现为“{}”", typed.trim()), format!("expected cashier, manager, technician or admin, got {:?}", typed.trim()))
    })
}

fn credential_zh(e: &CredentialError) -> String {
    match e {
        CredentialError::PinLength(n) => format!("PIN 须为 4–6 位数字，现为 {n} 个字符"),
        CredentialError::PinNotDigits => "PIN 须为 4–6 位数字（0-9），含有非数字字符".into(),
        CredentialError::PasswordTooShort(n) => format!("密码至少 8 个字符，现为 {n} 个"),
        CredentialError::PasswordTooLong(n) => format!("密码最多 128 个字符，现为 {n} 个"),
    }
}

/// A staff service's refusal as a web error naming the field.
fn staff_error(lang: Lang, e: CommitError<StaffError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let en = e.to_string();
    match &e {
        StaffError::BadId(why) => field(lang, "id", format!("工号须为 1–64 个字符，只含 a-z、0-9、- 和 _（{why}）"), en),
        StaffError::BadName(n) => field(lang, "name", format!("姓名须为 1–64 个字符，不含控制字符，现为 {n} 个字符"), en),
        StaffError::Credential(c) => {
            let f = if matches!(c, CredentialError::PinLength(_) | CredentialError::PinNotDigits) { "pin" } else { "password" };
            field(lang, f, credential_zh(c), en)
        }
        StaffError::Exists(id) => field(lang, "id", format!("工号 {id} 已存在"), en),
        StaffError::Unknown(id) => WebError::not_found(lang.pick(&format!("没有员工账号 {id}"), &en)),
        StaffError::Inactive(id) => refused(lang, format!("员工 {id} 已停用"), en),
        StaffError::Forbidden { id, action, .. } => refused(lang, format!("员工 {id} 的角色不能{}", action_zh(*action)), en),
        StaffError::Hash { .. } => WebError::internal(en),
    }
}

fn action_zh(a: Action) -> &'static str {
    match a {
        Action::OpenShift => "开班",
        Action::CloseShift => "交班",
        Action::CloseAnyShift => "替别人交班",
        _ => "做这件事",
    }
}

/// A shift service's refusal; `names` are the form's or the body's names of (lane, float,
/// counted, staff).
fn shift_error(lang: Lang, e: CommitError<ShiftError>, names: [&str; 4]) -> WebError {
    let [lane_f, float_f, counted_f, staff_f] = names;
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let en = e.to_string();
    match &e {
        ShiftError::BadLane(why) => field(lang, lane_f, format!("收银台编号无效：{why}"), en),
        ShiftError::AlreadyOpen { lane, shift, staff, .. } => field(lang, lane_f, format!("收银台 {lane} 已有未交班的班次 {shift}（{staff}）；请先交班"), en),
        ShiftError::Unknown(id) => WebError::not_found(lang.pick(&format!("没有班次 {id}"), &en)),
        ShiftError::Closed { id, by, .. } => refused(lang, format!("班次 {id} 已由 {by} 交班"), en),
        ShiftError::Negative { what, fen } => {
            let f = if what.contains("float") { float_f } else { counted_f };
            field(lang, f, format!("金额不能为负数，现为 {}", yuan(*fen)), en)
        }
        ShiftError::Overflow(_) => WebError::internal(en),
        ShiftError::NotOwnShift { owner, .. } => WebError::forbidden(lang.pick(&format!("只能交自己的班次；这是 {owner} 的班次，需店长或管理员交班"), &en)),
        ShiftError::Staff(s) => {
            let zh = match s {
                StaffError::Unknown(id) => format!("没有员工账号 {id}"),
                StaffError::Inactive(id) => format!("员工 {id} 已停用"),
                StaffError::Forbidden { id, action, .. } => format!("员工 {id} 的角色不能{}", action_zh(*action)),
                other => other.to_string(),
            };
            field(lang, staff_f, zh, en)
        }
    }
}

/// A close-out's difference in words: 无差异, 长款 ¥x (over), 短款 ¥x (short).
fn difference_text(lang: Lang, difference_fen: i64) -> String {
    match difference_fen {
        0 => lang.pick("无差异", "Exact").to_string(),
        d if d > 0 => format!("{} {}", lang.pick("长款", "Over"), yuan(d)),
        d => format!("{} {}", lang.pick("短款", "Short"), yuan(d).trim_start_matches('-')),
    }
}

/// Whether `me` sees `shift` (their own, or any with CloseAnyShift).
fn sees_shift(me: &Identity, shift: &Shift) -> bool {
    shift.staff == me.staff.id || allows(me.staff.role, Action::CloseAnyShift)
}

/// Ends the web sessions of an account whose role or password changed, or that was deactivated.
fn end_sessions(state: &AppState, me: &Identity, id: &str, what: &str) {
    state.auth.end_all_of(id);
    tracing::info!(staff = %id, by = %me.staff.id, change = what, "staff account changed on the web; its sessions ended");
}

/// Refuses changes that would lock the caller out of staff administration.
fn not_self(me: &Identity, id: &str) -> Result<(), WebError> {
    if me.staff.id == id {
        return Err(refused(me.lang, "不能停用自己的账号或更改自己的角色；请让另一位管理员操作", "you may not deactivate your own account or change your own role; ask another admin"));
    }
    Ok(())
}

// --- staff actions (shared by the API and the pages) ------------------------------------------------

async fn run_staff<F>(state: &AppState, lang: Lang, f: F) -> Result<StaffInfo, WebError>
where
    F: FnOnce(&crate::store::Store, &HashCost) -> Result<StaffInfo, CommitError<StaffError>> + Send + 'static,
{
    state.blocking(move |store, _| Ok(f(store, &HashCost::standard()).map_err(|e| staff_error(lang, e)))).await?
}

async fn create(state: &AppState, me: &Identity, id: String, name: String, role: Role, password: String, pin: Option<String>) -> Result<StaffInfo, WebError> {
    let by = me.staff.id.clone();
    let info = run_staff(state, me.lang, move |store, cost| staff::create_staff_by(store, &NewStaff { id, name, role }, &password, pin.as_deref(), cost, &by)).await?;
    tracing::info!(staff = %info.id, role = info.role.as_str(), by = %me.staff.id, "staff account created on the web");
    Ok(info)
}

async fn set_role(state: &AppState, me: &Identity, id: String, role: Role) -> Result<StaffInfo, WebError> {
    not_self(me, &id)?;
    let id2 = id.clone();
    let by = me.staff.id.clone();
    let info = run_staff(state, me.lang, move |store, _| staff::set_role_by(store, &id2, role, &by)).await?;
    end_sessions(state, me, &id, "role");
    Ok(info)
}

async fn set_password(state: &AppState, me: &Identity, id: String, password: String) -> Result<StaffInfo, WebError> {
    let id2 = id.clone();
    let by = me.staff.id.clone();
    let info = run_staff(state, me.lang, move |store, cost| staff::set_password_by(store, &id2, &password, cost, &by)).await?;
    end_sessions(state, me, &id, "password");
    Ok(info)
}

async fn set_pin(state: &AppState, me: &Identity, id: String, pin: Option<String>) -> Result<StaffInfo, WebError> {
    let id2 = id.clone();
    let by = me.staff.id.clone();
    let info = run_staff(state, me.lang, move |store, cost| staff::set_pin_by(store, &id2, pin.as_deref(), cost, &by)).await?;
    tracing::info!(staff = %id, by = %me.staff.id, has_pin = info.has_pin, "staff PIN changed on the web");
    Ok(info)
}

async fn unlock(state: &AppState, me: &Identity, id: String) -> Result<StaffInfo, WebError> {
    let by = me.staff.id.clone();
    let info = run_staff(state, me.lang, move |store, _| staff::unlock_by(store, &id, &by)).await?;
    tracing::info!(staff = %info.id, by = %me.staff.id, "staff account unlocked on the web");
    Ok(info)
}

async fn deactivate(state: &AppState, me: &Identity, id: String) -> Result<StaffInfo, WebError> {
    not_self(me, &id)?;
    let id2 = id.clone();
    let by = me.staff.id.clone();
    let info = run_staff(state, me.lang, move |store, _| staff::deactivate_by(store, &id2, &by)).await?;
    end_sessions(state, me, &id, "deactivated");
    Ok(info)
}

// --- staff API -------------------------------------------------------------------------------------

async fn api_list(State(state): State<AppState>) -> Result<Json<StaffList>, WebError> {
    state.blocking(|store, _| Ok(Json(StaffList { staff: staff::list_staff(store)?.iter().take(STAFF_SHOWN).map(StaffJson::from).collect() }))).await
}

/// A body holding a secret: like `JsonBody`, but a malformed `password` or `pin` (a number, say)
/// is reported without echoing what was sent.
fn secret_body<T: serde::de::DeserializeOwned>(lang: Lang, bytes: &[u8]) -> Result<T, WebError> {
    super::error::parse_json(bytes).map_err(|e| match e.field.as_deref() {
        Some(f @ ("password" | "pin")) => field(lang, f.to_string(), "须为文本（字符串）", "must be a string"),
        _ => e,
    })
}

async fn api_create(State(state): State<AppState>, Extension(me): Extension<Identity>, bytes: axum::body::Bytes) -> Result<Json<StaffJson>, WebError> {
    let b: NewStaffBody = secret_body(me.lang, &bytes)?;
    let role = parse_role(me.lang, &b.role)?;
    create(&state, &me, b.id.trim().to_string(), b.name, role, b.password, b.pin).await.map(|i| Json(StaffJson::from(&i)))
}

async fn api_role(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<RoleBody>) -> Result<Json<StaffJson>, WebError> {
    let role = parse_role(me.lang, &b.role)?;
    set_role(&state, &me, id, role).await.map(|i| Json(StaffJson::from(&i)))
}

async fn api_password(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, bytes: axum::body::Bytes) -> Result<Json<StaffJson>, WebError> {
    let b: PasswordBody = secret_body(me.lang, &bytes)?;
    set_password(&state, &me, id, b.password).await.map(|i| Json(StaffJson::from(&i)))
}

async fn api_pin(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, bytes: axum::body::Bytes) -> Result<Json<StaffJson>, WebError> {
    let b: PinBody = secret_body(me.lang, &bytes)?;
    set_pin(&state, &me, id, b.pin).await.map(|i| Json(StaffJson::from(&i)))
}

async fn api_unlock(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<StaffJson>, WebError> {
    unlock(&state, &me, id).await.map(|i| Json(StaffJson::from(&i)))
}

async fn api_deactivate(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<StaffJson>, WebError> {
    deactivate(&state, &me, id).await.map(|i| Json(StaffJson::from(&i)))
}

// --- staff pages -----------------------------------------------------------------------------------

fn locked_text(lang: Lang, tz: chrono_tz::Tz, s: &StaffInfo) -> Markup {
    html! {
        @match s.locked_until {
            Some(until) => span.badge.bad { (lang.pick("锁定至", "Locked until")) " " (forms::local_time(until, tz)) },
            None => @if s.failures > 0 { span.muted { (s.failures) (lang.pick(" 次失败", " failed")) } },
        }
    }
}

async fn staff_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let lang = me.lang;
    let list = state.blocking(|store, _| Ok(staff::list_staff(store)?)).await?;
    let tz = state.ctx.tz;
    let body = html! {
        h1 { (lang.pick("员工", "Staff")) }
        p { a.button href="/staff/new" { (lang.pick("新增员工", "New account")) } " " a href="/shifts" { (lang.pick("班次", "Shifts")) } " " a href="/staff/attendance" { (lang.pick("考勤", "Attendance")) } " " a href="/staff/performance" { (lang.pick("员工绩效", "Performance")) } " " a href="/staff/commission" { (lang.pick("提成", "Commission")) } }
        table {
            thead { tr {
                th { (lang.pick("工号", "Id")) } th { (lang.pick("姓名", "Name")) } th { (lang.pick("角色", "Role")) } th { (lang.pick("状态", "State")) }
                th { "PIN" } th { (lang.pick("锁定", "Lock")) }
            } }
            tbody {
                @for s in list.iter().take(STAFF_SHOWN) {
                    tr {
                        td { a href=(format!("/staff/{}", forms::enc(&s.id))) { (s.id) } }
                        td { (s.name) }
                        td { (role_text(lang, s.role)) }
                        td { @if s.active { span.badge.ok { (lang.pick("在职", "Active")) } } @else { span.badge { (lang.pick("已停用", "Deactivated")) } } }
                        td { @if s.has_pin { (lang.pick("已设置", "Set")) } @else { span.muted { (lang.pick("未设置", "None")) } } }
                        td { (locked_text(lang, tz, s)) }
                    }
                }
            }
        }
    };
    Ok(forms::render(&state, &me, lang.pick("员工", "Staff"), body).into_response())
}

/// The new-account form's fields as typed. (No `Debug`: it holds secrets.)
#[derive(Default, Deserialize)]
#[serde(default)]
struct NewStaffForm {
    id: Option<String>,
    name: Option<String>,
    role: Option<String>,
    password: Option<String>,
    pin: Option<String>,
}

fn role_select(lang: Lang, selected: &str) -> Markup {
    html! {
        select name="role" {
            @for r in Role::ALL {
                option value=(r.as_str()) selected[selected == r.as_str()] { (role_text(lang, r)) }
            }
        }
    }
}

fn new_form(state: &AppState, me: &Identity, f: &NewStaffForm, error: Option<&WebError>) -> Response {
    let lang = me.lang;
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let title = lang.pick("新增员工", "New staff account");
    let body = html! {
        h1 { (title) }
        p { a href="/staff" { "‹ " (lang.pick("员工", "Staff")) } }
        (forms::form_message(error))
        form.card method="post" action="/staff/new" autocomplete="off" {
            (forms::csrf(me))
            label data-field="id" { (lang.pick("工号（a-z、0-9、-、_）", "Staff id (a-z, 0-9, -, _)")) " *" input name="id" value=(v(&f.id)) required maxlength="64" autofocus; (page::field_error(&errors, "id")) }
            label data-field="name" { (lang.pick("姓名", "Name")) " *" input name="name" value=(v(&f.name)) required maxlength="64"; (page::field_error(&errors, "name")) }
            label data-field="role" { (lang.pick("角色", "Role")) (role_select(lang, f.role.as_deref().unwrap_or("cashier"))) (page::field_error(&errors, "role")) }
            label data-field="password" { (lang.pick("密码（8–128 个字符）", "Password (8–128 characters)")) " *" input name="password" type="password" autocomplete="new-password" required; (page::field_error(&errors, "password")) }
            label data-field="pin" { (lang.pick("收银 PIN（4–6 位数字，选填）", "Till PIN (4–6 digits, optional)")) input name="pin" type="password" inputmode="numeric" autocomplete="new-password"; (page::field_error(&errors, "pin")) }
            button type="submit" { (lang.pick("创建", "Create")) }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    (status, forms::render(state, me, title, body)).into_response()
}

async fn new_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Response {
    new_form(&state, &me, &NewStaffForm::default(), None)
}

async fn new_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let mut f: NewStaffForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async {
        let role = parse_role(lang, f.role.as_deref().unwrap_or_default())?;
        let pin = text(&f.pin).map(str::to_string);
        create(&state, &me, text(&f.id).unwrap_or_default().to_string(), f.name.clone().unwrap_or_default(), role, f.password.clone().unwrap_or_default(), pin).await
    }
    .await;
    match result {
        Ok(info) => Ok(Redirect::to(&format!("/staff/{}", forms::enc(&info.id))).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            // The secrets are never sent back.
            f.password = None;
            f.pin = None;
            Ok(new_form(&state, &me, &f, Some(&e)))
        }
    }
}

async fn account_view(state: &AppState, me: &Identity, id: String, done: Option<&str>, error: Option<&WebError>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id2 = id.clone();
    let info = state
        .blocking(move |store, _| staff::staff_info(store, &id2)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有员工账号 {id2}"), &format!("no staff account {id2}")))))
        .await?;
    let tz = state.ctx.tz;
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let base = format!("/staff/{}", forms::enc(&info.id));
    let itself = info.id == me.staff.id;
    let body = html! {
        h1 { (lang.pick("员工", "Staff")) " " (info.id) " · " (info.name) }
        p { a href="/staff" { "‹ " (lang.pick("员工", "Staff")) } }
        @if let Some(done) = done { p.flash { (done) } }
        (forms::form_message(error))
        div.card {
            dl.facts {
                dt { (lang.pick("角色", "Role")) } dd { (role_text(lang, info.role)) }
                dt { (lang.pick("状态", "State")) } dd { @if info.active { (lang.pick("在职", "Active")) } @else { (lang.pick("已停用", "Deactivated")) } }
                dt { "PIN" } dd { @if info.has_pin { (lang.pick("已设置", "Set")) } @else { (lang.pick("未设置", "None")) } }
                dt { (lang.pick("锁定", "Lock")) } dd { (locked_text(lang, tz, &info)) }
                dt { (lang.pick("创建于", "Created")) } dd { (forms::local_time(info.created_at, tz)) }
            }
        }
        div.actions {
            @if !itself {
                form.card method="post" action=(format!("{base}/role")) {
                    (forms::csrf(me))
                    h2 { (lang.pick("更改角色", "Change role")) }
                    label data-field="role" { (role_select(lang, info.role.as_str())) (page::field_error(&errors, "role")) }
                    p.muted { (lang.pick("该账号的网页登录将全部退出。", "The account's web sessions end.")) }
                    button type="submit" { (lang.pick("更改", "Change")) }
                }
            }
            form.card method="post" action=(format!("{base}/password")) autocomplete="off" {
                (forms::csrf(me))
                h2 { (lang.pick("重设密码", "Reset password")) }
                label data-field="password" { (lang.pick("新密码（8–128 个字符）", "New password (8–128 characters)")) input name="password" type="password" autocomplete="new-password" required; (page::field_error(&errors, "password")) }
                p.muted { (lang.pick("该账号的网页登录将全部退出。", "The account's web sessions end.")) }
                button type="submit" { (lang.pick("重设", "Reset")) }
            }
            form.card method="post" action=(format!("{base}/pin")) autocomplete="off" {
                (forms::csrf(me))
                h2 { (lang.pick("设置新 PIN", "Set a new PIN")) }
                label data-field="pin" { (lang.pick("新 PIN（4–6 位数字）", "New PIN (4–6 digits)")) input name="pin" type="password" inputmode="numeric" autocomplete="new-password" required; (page::field_error(&errors, "pin")) }
                button type="submit" { (lang.pick("设置", "Set")) }
            }
            @if info.failures > 0 || info.locked_until.is_some() {
                form.card method="post" action=(format!("{base}/unlock")) {
                    (forms::csrf(me))
                    h2 { (lang.pick("解锁", "Unlock")) }
                    button type="submit" { (lang.pick("清除失败次数并解锁", "Clear failures and unlock")) }
                }
            }
            @if info.active && !itself {
                form.card method="post" action=(format!("{base}/deactivate")) {
                    (forms::csrf(me))
                    h2 { (lang.pick("停用账号", "Deactivate")) }
                    p.muted { (lang.pick("停用后不能再登录，网页登录立即退出；历史记录保留。", "It can no longer log in and its web sessions end; its history stays.")) }
                    button.danger type="submit" { (lang.pick("停用", "Deactivate")) }
                }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok((status, forms::render(state, me, &format!("{} {}", lang.pick("员工", "Staff"), info.id), body)).into_response())
}

async fn account_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Q {
        done: Option<String>,
    }
    let q: Q = forms::parse_query(raw.as_deref())?;
    let lang = me.lang;
    let done = q.done.as_deref().map(|d| match d {
        "role" => lang.pick("角色已更改，该账号的网页登录已退出。", "Role changed; the account's web sessions ended."),
        "password" => lang.pick("密码已重设，该账号的网页登录已退出。", "Password reset; the account's web sessions ended."),
        "pin" => lang.pick("PIN 已设置。", "PIN set."),
        "unlock" => lang.pick("已解锁。", "Unlocked."),
        "deactivate" => lang.pick("账号已停用，网页登录已退出。", "Deactivated; its web sessions ended."),
        _ => lang.pick("已保存。", "Saved."),
    });
    account_view(&state, &me, id, done, None).await
}

/// The fields of the account actions' forms. (No `Debug`: they hold secrets.)
#[derive(Default, Deserialize)]
#[serde(default)]
struct ActionForm {
    role: Option<String>,
    password: Option<String>,
    pin: Option<String>,
}

/// Runs one account action from its form: back to the account's page, with the outcome.
async fn account_action(state: AppState, me: Identity, id: String, body: axum::body::Bytes, what: &'static str) -> Result<Response, WebError> {
    let f: ActionForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = match what {
        "role" => match parse_role(lang, f.role.as_deref().unwrap_or_default()) {
            Ok(role) => set_role(&state, &me, id.clone(), role).await,
            Err(e) => Err(e),
        },
        "password" => set_password(&state, &me, id.clone(), f.password.unwrap_or_default()).await,
        "pin" => match text(&f.pin) {
            Some(pin) => set_pin(&state, &me, id.clone(), Some(pin.to_string())).await,
            None => Err(field(lang, "pin", "必填：4–6 位数字", "required: 4 to 6 digits")),
        },
        "unlock" => unlock(&state, &me, id.clone()).await,
        _ => deactivate(&state, &me, id.clone()).await,
    };
    match result {
        Ok(info) => Ok(Redirect::to(&forms::url(&format!("/staff/{}", forms::enc(&info.id)), &[("done", what)])).into_response()),
        Err(e) if matches!(e.status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND) => Err(e),
        Err(e) => account_view(&state, &me, id, None, Some(&e)).await,
    }
}

async fn role_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    account_action(state, me, id, body, "role").await
}

async fn password_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    account_action(state, me, id, body, "password").await
}

async fn pin_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    account_action(state, me, id, body, "pin").await
}

async fn unlock_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    account_action(state, me, id, body, "unlock").await
}

async fn deactivate_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    account_action(state, me, id, body, "deactivate").await
}

// --- shifts ----------------------------------------------------------------------------------------

/// Open shifts and the newest closed ones that `me` may see.
async fn shift_list(state: &AppState, me: &Identity) -> Result<(Vec<Shift>, Vec<Shift>), WebError> {
    let me2 = me.clone();
    state
        .blocking(move |store, _| {
            let open: Vec<Shift> = staff::open_shifts(store)?.into_iter().filter(|s| sees_shift(&me2, s)).collect();
            let closed: Vec<Shift> = staff::recent_closed_shifts(store, CLOSED_SHOWN, CLOSED_SCANNED)?.into_iter().filter(|s| sees_shift(&me2, s)).collect();
            Ok((open, closed))
        })
        .await
}

async fn open(state: &AppState, me: &Identity, lane: String, float_fen: i64, staff_id: Option<String>, names: [&'static str; 4]) -> Result<Shift, WebError> {
    let lang = me.lang;
    let lane = lane.trim().to_string();
    if let Some(known) = state.ctx.checkout.as_ref().map(|c| &c.lane_ids) {
        if !known.contains(&lane) {
            return Err(field(lang, names[0], format!("没有收银台“{lane}”；本店收银台：{}", known.join("、")), format!("no lane {lane:?}; this shop's lanes: {}", known.join(", "))));
        }
    }
    if me.lane.as_ref().is_some_and(|l| *l != lane) {
        return Err(WebError::forbidden(lang.pick("这次登录是在另一个收银台；只能为该收银台开班", "this login is for another lane; open shifts only at your lane")));
    }
    let who = staff_id.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| me.staff.id.clone());
    if who != me.staff.id && !allows(me.staff.role, Action::CloseAnyShift) {
        return Err(WebError::forbidden(lang.pick("只能为自己开班；替别人开班需店长或管理员", "you may open only your own shift; a manager or admin opens one for someone else")));
    }
    let shift = state.blocking(move |store, _| Ok(staff::open_shift(store, &lane, &who, float_fen).map_err(|e| shift_error(lang, e, names)))).await??;
    tracing::info!(shift = shift.id, lane = %shift.lane, staff = %shift.staff, by = %me.staff.id, "shift opened on the web");
    Ok(shift)
}

async fn close(state: &AppState, me: &Identity, id: u64, counted_fen: i64, names: [&'static str; 4]) -> Result<Shift, WebError> {
    let lang = me.lang;
    let (me_id, role) = (me.staff.id.clone(), me.staff.role);
    state
        .blocking(move |store, _| {
            let shift = staff::shift(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有班次 {id}"), &format!("no shift {id}"))))?;
            // Who may close depends on the shift's owner, known only now: a cashier closes their
            // own, a manager or admin anyone's (`domain::staff::may_close_shift`).
            if !may_close_shift(role, shift.staff == me_id) {
                return Err(WebError::forbidden(lang.pick(&format!("只能交自己的班次；这是 {} 的班次，需店长或管理员交班", shift.staff), &format!("you may close only your own shift; this is {}'s, a manager or admin closes it", shift.staff))));
            }
            Ok(staff::close_shift(store, id, counted_fen, &me_id).map_err(|e| shift_error(lang, e, names)))
        })
        .await?
}

const API_NAMES: [&str; 4] = ["lane", "float_fen", "counted_fen", "staff"];
const FORM_NAMES: [&str; 4] = ["lane", "float", "counted", "staff"];

fn shift_id(lang: Lang, typed: &str) -> Result<u64, WebError> {
    typed.parse::<u64>().map_err(|_| WebError::not_found(lang.pick(&format!("没有班次 {typed}"), &format!("no shift {typed}"))))
}

async fn api_shifts(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Json<ShiftList>, WebError> {
    let (open, closed) = shift_list(&state, &me).await?;
    Ok(Json(ShiftList { open: open.iter().map(ShiftJson::from).collect(), closed: closed.iter().map(ShiftJson::from).collect() }))
}

async fn api_open(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<OpenShiftBody>) -> Result<Json<ShiftJson>, WebError> {
    open(&state, &me, b.lane, b.float_fen, b.staff, API_NAMES).await.map(|s| Json(ShiftJson::from(&s)))
}

async fn api_close(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<CloseShiftBody>) -> Result<Json<ShiftJson>, WebError> {
    let id = shift_id(me.lang, &id)?;
    close(&state, &me, id, b.counted_fen, API_NAMES).await.map(|s| Json(ShiftJson::from(&s)))
}

/// The open and close forms' fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ShiftForm {
    lane: Option<String>,
    float: Option<String>,
    staff: Option<String>,
    counted: Option<String>,
}

async fn shifts_view(state: &AppState, me: &Identity, f: &ShiftForm, error: Option<&WebError>, close_error: Option<(u64, &WebError)>) -> Result<Response, WebError> {
    let lang = me.lang;
    let tz = state.ctx.tz;
    let (open_list, closed) = shift_list(state, me).await?;
    let any = allows(me.staff.role, Action::CloseAnyShift);
    let people = if any {
        state.blocking(|store, _| Ok(staff::list_staff(store)?.into_iter().filter(|s| s.active && allows(s.role, Action::OpenShift)).take(STAFF_SHOWN).collect::<Vec<_>>())).await?
    } else {
        Vec::new()
    };
    let lanes: Vec<String> = state.ctx.checkout.as_ref().map(|c| c.lane_ids.clone()).unwrap_or_default();
    let busy: Vec<&str> = open_list.iter().map(|s| s.lane.as_str()).collect();
    let free: Vec<&String> = lanes.iter().filter(|l| !busy.contains(&l.as_str()) && me.lane.as_ref().is_none_or(|m| m == *l)).collect();
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let chosen_lane = f.lane.clone().or_else(|| me.lane.clone()).unwrap_or_default();
    let chosen_staff = f.staff.clone().unwrap_or_else(|| me.staff.id.clone());
    let body = html! {
        h1 { (lang.pick("班次", "Shifts")) }
        (forms::form_message(error))
        section.card {
            h2 { (lang.pick("当前班次", "Open shifts")) }
            @if open_list.is_empty() {
                p.muted { (lang.pick("没有未交班的班次。", "No shift is open.")) }
            } @else {
                table {
                    thead { tr {
                        th { (lang.pick("收银台", "Lane")) } th { (lang.pick("班次", "Shift")) } th { (lang.pick("收银员", "Cashier")) } th { (lang.pick("开班", "Opened")) }
                        th.num { (lang.pick("备用金", "Float")) } th.num { (lang.pick("现金销售", "Cash sales")) } th.num { (lang.pick("现金退款", "Cash refunds")) }
                        th.num { (lang.pick("应有现金", "Expected cash")) } th { (lang.pick("交班（清点现金，元）", "Close (counted cash, yuan)")) }
                    } }
                    tbody {
                        @for s in &open_list {
                            tr {
                                td { (s.lane) }
                                td { a href=(format!("/shifts/{}", s.id)) { (s.id) } }
                                td { (s.staff) }
                                td { (forms::local_time(s.opened_at, tz)) }
                                td.num { (yuan(s.float_fen)) }
                                td.num { (yuan(s.cash_sales_fen)) }
                                td.num { (yuan(s.cash_refunds_fen)) }
                                td.num { strong { (yuan(s.expected_cash_fen())) } }
                                td {
                                    @if may_close_shift(me.staff.role, s.staff == me.staff.id) {
                                        form.inline-close method="post" action=(format!("/shifts/{}/close", s.id)) {
                                            (forms::csrf(me))
                                            input name="counted" inputmode="decimal" placeholder="0.00" required aria-label=(lang.pick("清点现金", "Counted cash"));
                                            button type="submit" { (lang.pick("交班", "Close")) }
                                        }
                                        @if let Some((id, e)) = close_error.filter(|(id, _)| *id == s.id) {
                                            @let _ = id;
                                            span.field-error role="alert" { (e.message) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !free.is_empty() {
            form.card method="post" action="/shifts/open" {
                (forms::csrf(me))
                h2 { (lang.pick("开班", "Open a shift")) }
                label data-field="lane" { (lang.pick("收银台", "Lane"))
                    select name="lane" { @for l in &free { option value=(l) selected[**l == chosen_lane] { (l) } } }
                    (page::field_error(&errors, "lane"))
                }
                @if any {
                    label data-field="staff" { (lang.pick("收银员", "Cashier"))
                        select name="staff" { @for p in &people { option value=(p.id) selected[p.id == chosen_staff] { (p.id) " · " (p.name) } } }
                        (page::field_error(&errors, "staff"))
                    }
                }
                label data-field="float" { (lang.pick("备用金（元）", "Float (yuan)"))
                    input name="float" value=(f.float.clone().unwrap_or_else(|| "200.00".into())) inputmode="decimal" required;
                    (page::field_error(&errors, "float"))
                }
                button type="submit" { (lang.pick("开班", "Open")) }
            }
        }
        section.card {
            h2 { (lang.pick("最近交班", "Recently closed")) }
            @if closed.is_empty() {
                p.muted { (lang.pick("无", "None")) }
            } @else {
                table {
                    thead { tr {
                        th { (lang.pick("班次", "Shift")) } th { (lang.pick("收银台", "Lane")) } th { (lang.pick("收银员", "Cashier")) } th { (lang.pick("交班时间", "Closed")) }
                        th.num { (lang.pick("应有", "Expected")) } th.num { (lang.pick("实点", "Counted")) } th { (lang.pick("差异", "Difference")) }
                    } }
                    tbody {
                        @for s in &closed {
                            @if let Some(c) = &s.closed {
                                tr {
                                    td { a href=(format!("/shifts/{}", s.id)) { (s.id) } }
                                    td { (s.lane) }
                                    td { (s.staff) }
                                    td { (forms::local_time(c.at, tz)) }
                                    td.num { (yuan(c.expected_fen)) }
                                    td.num { (yuan(c.counted_fen)) }
                                    td.bad[c.difference_fen < 0] { (difference_text(lang, c.difference_fen)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = error.or(close_error.map(|(_, e)| e)).map_or(StatusCode::OK, |e| e.status);
    Ok((status, forms::render(state, me, lang.pick("班次", "Shifts"), body)).into_response())
}

async fn shifts_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    shifts_view(&state, &me, &ShiftForm::default(), None, None).await
}

async fn open_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: ShiftForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async {
        let float = forms::yuan(lang, "float", f.float.as_deref().unwrap_or_default())?;
        open(&state, &me, text(&f.lane).unwrap_or_default().to_string(), float, f.staff.clone(), FORM_NAMES).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/shifts").into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => shifts_view(&state, &me, &f, Some(&e), None).await,
    }
}

async fn close_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = shift_id(lang, &id)?;
    let f: ShiftForm = forms::parse_pairs(&body)?;
    let result = async {
        let counted = forms::yuan(lang, "counted", f.counted.as_deref().unwrap_or_default())?;
        close(&state, &me, id, counted, FORM_NAMES).await
    }
    .await;
    match result {
        Ok(s) => Ok(Redirect::to(&format!("/shifts/{}", s.id)).into_response()),
        Err(e) if matches!(e.status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND) => Err(e),
        Err(e) => shifts_view(&state, &me, &ShiftForm::default(), None, Some((id, &e))).await,
    }
}

async fn shift_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = shift_id(lang, &id)?;
    let s = state.blocking(move |store, _| staff::shift(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有班次 {id}"), &format!("no shift {id}"))))).await?;
    if !sees_shift(&me, &s) {
        return Err(WebError::forbidden(lang.pick("只能查看自己的班次", "you may see only your own shifts")));
    }
    let tz = state.ctx.tz;
    let title = format!("{} {}", lang.pick("班次", "Shift"), s.id);
    let body = html! {
        h1 { (title) " · " (s.lane) }
        p { a href="/shifts" { "‹ " (lang.pick("班次", "Shifts")) } }
        div.grid {
            div.card {
                h2 { (lang.pick("班次", "Shift")) }
                dl.facts {
                    dt { (lang.pick("收银员", "Cashier")) } dd { (s.staff) }
                    dt { (lang.pick("开班", "Opened")) } dd { (forms::local_time(s.opened_at, tz)) }
                    @if let Some(c) = &s.closed {
                        dt { (lang.pick("交班", "Closed")) } dd { (forms::local_time(c.at, tz)) " · " (c.closed_by) }
                    } @else {
                        dt { (lang.pick("状态", "State")) } dd { span.badge.warn { (lang.pick("未交班", "Open")) } }
                    }
                }
            }
            div.card {
                h2 { (lang.pick("交班对账", "Close-out")) }
                dl.facts {
                    dt { (lang.pick("备用金", "Float")) } dd { (yuan(s.float_fen)) }
                    dt { (lang.pick("+ 现金销售", "+ cash sales")) } dd { (yuan(s.cash_sales_fen)) }
                    dt { (lang.pick("− 现金退款", "− cash refunds")) } dd { (yuan(s.cash_refunds_fen)) }
                    dt { (lang.pick("+ 存入", "+ paid in")) } dd { (yuan(s.paid_in_fen)) }
                    dt { (lang.pick("− 取出", "− paid out")) } dd { (yuan(s.paid_out_fen)) }
                    dt { (lang.pick("= 应有现金", "= expected cash")) } dd { strong { (yuan(s.expected_cash_fen())) } }
                    @if let Some(c) = &s.closed {
                        dt { (lang.pick("实点现金", "Counted cash")) } dd { strong { (yuan(c.counted_fen)) } }
                        dt { (lang.pick("差异", "Difference")) } dd.bad[c.difference_fen < 0] { strong { (difference_text(lang, c.difference_fen)) } }
                    }
                }
            }
        }
    };
    Ok(forms::render(&state, &me, &title, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_out_difference_reads_as_over_short_or_exact() {
        assert_eq!(difference_text(Lang::Zh, 0), "无差异");
        assert_eq!(difference_text(Lang::Zh, 150), "长款 ¥1.50");
        assert_eq!(difference_text(Lang::Zh, -1_000), "短款 ¥10.00");
        assert_eq!(difference_text(Lang::En, -5), "Short ¥0.05");
    }
}
