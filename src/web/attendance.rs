//! Attendance on the LAN (`/staff/attendance`, `/api/v1/attendance/…`): clock in and out with
//! staff id + PIN (the page, the cashier screen's 打卡 button and the API), the days with their
//! plan, flags and minutes, the clock records, hours per period (CSV for payroll), and for
//! managers the schedule week view and form and the corrections form.
//!
//! Everyone with `ClockIn` sees their own attendance; `ManageAttendance` sees and edits
//! everyone's (`staff::attendance::scope`, the same rule as the CLI). Clocking needs no session:
//! the PIN proves who clocks (verified like the lane login, with its lockout, plus the web's
//! per-client throttle), so a shared screen works whoever is logged in at it.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{Datelike, Duration, NaiveDate};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::forms::{self, text};
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::attendance::{hours_text, parse_shift, Period};
use crate::domain::staff::Action;
use crate::staff::attendance::{self as att, AttendanceError, AttendanceRecord, CorrectionRequest, ScheduleDay, ScheduleEntry, StaffAttendance};
use crate::staff::LoginError;

pub fn routes() -> Vec<RouteDef> {
    use Action::{ClockIn, ManageAttendance};
    vec![
        RouteDef::get("/staff/attendance", Need::May(ClockIn), "Attendance: clock in/out, days with flags and hours; schedules and corrections for managers", attendance_page),
        RouteDef::post("/staff/attendance/clock", Need::May(ClockIn), "Clock in or out with staff id and PIN (form)", clock_submit),
        RouteDef::post("/staff/attendance/schedules", Need::May(ManageAttendance), "Set a week of one staff member's schedule (form)", schedule_submit),
        RouteDef::post("/staff/attendance/corrections", Need::May(ManageAttendance), "Correct or enter a clock record with a reason (form)", correction_submit),
        RouteDef::post("/api/v1/attendance/clock-in", Need::Public, "Clock in with staff id and PIN (no session needed)", api_clock_in).body::<ClockBody>().returns::<AttendanceRecord>(),
        RouteDef::post("/api/v1/attendance/clock-out", Need::Public, "Clock out with staff id and PIN (no session needed)", api_clock_out).body::<ClockBody>().returns::<AttendanceRecord>(),
        RouteDef::get("/api/v1/attendance/records", Need::May(ClockIn), "Days with plan, flags and minutes, and the clock records (?staff=&from=&to=; own only without ManageAttendance)", api_records),
        RouteDef::get("/api/v1/attendance/schedules", Need::May(ClockIn), "Planned days (?staff=&from=&to=; own only without ManageAttendance)", api_schedules),
        RouteDef::post("/api/v1/attendance/schedules", Need::May(ManageAttendance), "Set up to a week of one staff member's schedule (past days refused)", api_schedule_set).body::<ScheduleBody>(),
        RouteDef::post("/api/v1/attendance/corrections", Need::May(ManageAttendance), "Correct or enter a clock record; audited with the reason", api_correct)
            .body::<CorrectionRequest>()
            .returns::<AttendanceRecord>(),
        RouteDef::get("/api/v1/attendance/hours", Need::May(ClockIn), "Hours per period (?from=&to=&period=day|week|month&staff=)", api_hours),
        RouteDef::get("/api/v1/attendance/hours.csv", Need::May(ClockIn), "Hours per period as CSV for payroll (?from=&to=&period=&staff=)", api_hours_csv),
    ]
}

// --- bodies and queries ------------------------------------------------------------------------

/// Clocking in or out.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockBody {
    pub staff: String,
    pub pin: String,
}

/// A schedule change: up to 7 days of one staff member.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    pub staff: String,
    pub days: Vec<ScheduleEntry>,
}

/// `?staff=&from=&to=&period=` as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RangeQuery {
    staff: Option<String>,
    from: Option<String>,
    to: Option<String>,
    period: Option<String>,
    done: Option<String>,
}

/// A checked range query.
struct Range {
    staff: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
    period: Period,
}

fn date_field(lang: Lang, name: &str, typed: Option<&str>) -> Result<Option<NaiveDate>, WebError> {
    typed
        .map(|t| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map_err(|_| forms::field(lang, name, format!("“{t}”不是日期：请写成 2026-11-30"), format!("{t:?} is not a date; write e.g. 2026-11-30")))
        })
        .transpose()
}

/// Reads the range; without dates, the current week (Monday to Sunday, shop-local).
fn range(state: &AppState, lang: Lang, q: &RangeQuery) -> Result<Range, WebError> {
    let today = crate::domain::attendance::local_date(state.store.clock().now(), state.ctx.tz);
    let from = date_field(lang, "from", text(&q.from))?.unwrap_or_else(|| Period::Week.start_of(today));
    let to = date_field(lang, "to", text(&q.to))?.unwrap_or_else(|| crate::domain::attendance::period_end(Period::Week, from));
    let period = match text(&q.period) {
        None => Period::Month,
        Some(p) => Period::parse(p).ok_or_else(|| forms::field(lang, "period", "周期只能是 day、week 或 month", format!("period: expected day, week or month, got {p:?}")))?,
    };
    Ok(Range { staff: text(&q.staff).map(str::to_string), from, to, period })
}

// --- errors ------------------------------------------------------------------------------------

fn error(lang: Lang, e: AttendanceError) -> WebError {
    let en = e.to_string();
    match e {
        AttendanceError::Login(LoginError::WrongPin) | AttendanceError::Login(LoginError::WrongPassword) => WebError::unauthorized(lang.pick("工号或 PIN 不正确", &en)),
        AttendanceError::Login(LoginError::Locked { .. }) => WebError::new(StatusCode::TOO_MANY_REQUESTS, "locked", lang.pick("失败次数过多，账号已锁定，请稍后再试或联系管理员", &en)),
        AttendanceError::Login(LoginError::Inactive(_)) => WebError::forbidden(lang.pick("此账号已停用", &en)),
        AttendanceError::Login(LoginError::Store(e)) | AttendanceError::Store(e) => WebError::internal(e.to_string()),
        AttendanceError::Staff(crate::staff::StaffError::Unknown(id)) => forms::field(lang, "staff", format!("没有员工 {id}"), en),
        AttendanceError::Staff(_) | AttendanceError::OnlyOwn { .. } => WebError::forbidden(lang.pick("只能查看自己的考勤", &en)),
        AttendanceError::AlreadyClockedIn { since, .. } => forms::refused(lang, format!("已经上班打卡（{since}），请先下班打卡"), en),
        AttendanceError::NotClockedIn { .. } => forms::refused(lang, "还没有上班打卡，请先上班打卡；忘记打卡请找店长补录", en),
        AttendanceError::PastDeadline { since, .. } => forms::refused(lang, format!("{since} 的上班卡已过下班打卡时限，记为缺下班卡；请店长更正"), en),
        AttendanceError::PastDay { date, .. } => forms::field(lang, "days", format!("{date} 已经过去，不能再排班"), en),
        AttendanceError::Plan(_) | AttendanceError::HalfShift(_) | AttendanceError::BadWeek(_) => forms::field(lang, "days", format!("排班有误：{en}"), en.clone()),
        AttendanceError::BadReason(_) => forms::field(lang, "reason", format!("原因必填，最多 {} 个字符", att::REASON_MAX_CHARS), en),
        AttendanceError::UnknownRecord { .. } => WebError::not_found(lang.pick("没有这条打卡记录", &en)),
        AttendanceError::BadTimes(_) => forms::field(lang, "clock_out", format!("时间有误：{en}"), en.clone()),
        AttendanceError::Overlaps { other, .. } => forms::refused(lang, format!("与打卡记录 #{other} 时间重叠，请更正那条记录"), en),
        AttendanceError::BadRange(_) => forms::field(lang, "to", format!("日期范围有误：{en}"), en.clone()),
    }
}

// --- service calls -----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// Clocks with a PIN, behind the web's per-client throttle (the account's own lockout applies too).
async fn clock(state: &AppState, lang: Lang, addr: &str, dir: Direction, staff: String, pin: String) -> Result<AttendanceRecord, WebError> {
    let account_key = format!("staff:{}", staff.trim());
    if let Some(wait) = state.auth.throttled(&[addr, &account_key]) {
        return Err(WebError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", format!("too many failed attempts; try again in {} s", wait.as_secs())));
    }
    let who = staff.trim().to_string();
    let result = state
        .blocking(move |store, ctx| {
            let rules = ctx.attendance.rules();
            Ok(match dir {
                Direction::In => att::clock_in(store, &rules, ctx.tz, &who, &pin),
                Direction::Out => att::clock_out(store, &rules, ctx.tz, &who, &pin),
            })
        })
        .await?;
    match result {
        Ok(rec) => {
            state.auth.succeeded(&[&account_key]);
            tracing::info!(staff = %rec.staff, record = rec.id, direction = ?dir, "clocked on the web");
            Ok(rec)
        }
        Err(e) => {
            if matches!(e, AttendanceError::Login(LoginError::WrongPin)) {
                state.auth.failed(&[addr, &account_key]);
            }
            Err(error(lang, e))
        }
    }
}

async fn report(state: &AppState, me: &Identity, r: &Range) -> Result<Vec<StaffAttendance>, WebError> {
    let lang = me.lang;
    let who = att::scope(&me.staff, r.staff.as_deref()).map_err(|e| error(lang, e))?;
    let (from, to) = (r.from, r.to);
    state
        .blocking(move |store, ctx| att::report(store, &ctx.attendance.rules(), ctx.tz, who.as_deref(), from, to).map_err(|e| error(lang, e)))
        .await
}

async fn schedules(state: &AppState, me: &Identity, r: &Range) -> Result<Vec<ScheduleDay>, WebError> {
    let lang = me.lang;
    let who = att::scope(&me.staff, r.staff.as_deref()).map_err(|e| error(lang, e))?;
    att::check_range(r.from, r.to).map_err(|e| error(lang, e))?;
    let (from, to) = (r.from, r.to);
    state.blocking(move |store, _| Ok(att::schedules(store, who.as_deref(), from, to)?)).await
}

async fn hours_rows(state: &AppState, me: &Identity, r: &Range) -> Result<Vec<att::HoursRow>, WebError> {
    let lang = me.lang;
    let who = att::scope(&me.staff, r.staff.as_deref()).map_err(|e| error(lang, e))?;
    let (from, to, period) = (r.from, r.to, r.period);
    state
        .blocking(move |store, ctx| att::hours(store, &ctx.attendance.rules(), ctx.tz, who.as_deref(), from, to, period).map_err(|e| error(lang, e)))
        .await
}

async fn set_schedule(state: &AppState, me: &Identity, staff: String, days: Vec<ScheduleEntry>) -> Result<Vec<ScheduleDay>, WebError> {
    let (lang, by) = (me.lang, me.staff.id.clone());
    state.blocking(move |store, ctx| att::set_schedule(store, ctx.tz, &by, &staff, &days).map_err(|e| error(lang, e))).await
}

async fn correct(state: &AppState, me: &Identity, req: CorrectionRequest) -> Result<AttendanceRecord, WebError> {
    let (lang, by) = (me.lang, me.staff.id.clone());
    state.blocking(move |store, ctx| att::correct_in(store, ctx.tz, &by, &req).map_err(|e| error(lang, e))).await
}

// --- API ---------------------------------------------------------------------------------------

fn lang_of(state: &AppState, me: &Option<Extension<Identity>>) -> Lang {
    me.as_ref().map_or(state.settings.default_lang, |m| m.lang)
}

async fn api_clock(state: AppState, me: Option<Extension<Identity>>, req: axum::extract::Request, dir: Direction) -> Result<Json<AttendanceRecord>, WebError> {
    let lang = lang_of(&state, &me);
    let addr = super::auth::client_addr(&req);
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024).await.map_err(|_| WebError::bad_request("body: too large or unreadable"))?;
    let body: ClockBody = super::error::parse_json(&bytes)?;
    Ok(Json(clock(&state, lang, &addr, dir, body.staff, body.pin).await?))
}

async fn api_clock_in(State(state): State<AppState>, me: Option<Extension<Identity>>, req: axum::extract::Request) -> Result<Json<AttendanceRecord>, WebError> {
    api_clock(state, me, req, Direction::In).await
}

async fn api_clock_out(State(state): State<AppState>, me: Option<Extension<Identity>>, req: axum::extract::Request) -> Result<Json<AttendanceRecord>, WebError> {
    api_clock(state, me, req, Direction::Out).await
}

async fn api_records(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<Vec<StaffAttendance>>, WebError> {
    let q: RangeQuery = forms::parse_query(raw.as_deref())?;
    let r = range(&state, me.lang, &q)?;
    Ok(Json(report(&state, &me, &r).await?))
}

async fn api_schedules(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<Vec<ScheduleDay>>, WebError> {
    let q: RangeQuery = forms::parse_query(raw.as_deref())?;
    let r = range(&state, me.lang, &q)?;
    Ok(Json(schedules(&state, &me, &r).await?))
}

async fn api_schedule_set(State(state): State<AppState>, Extension(me): Extension<Identity>, super::error::JsonBody(b): super::error::JsonBody<ScheduleBody>) -> Result<Json<Vec<ScheduleDay>>, WebError> {
    Ok(Json(set_schedule(&state, &me, b.staff, b.days).await?))
}

async fn api_correct(State(state): State<AppState>, Extension(me): Extension<Identity>, super::error::JsonBody(b): super::error::JsonBody<CorrectionRequest>) -> Result<Json<AttendanceRecord>, WebError> {
    let rec = correct(&state, &me, b).await?;
    tracing::info!(staff = %rec.staff, record = rec.id, by = %me.staff.id, "attendance corrected on the web");
    Ok(Json(rec))
}

async fn api_hours(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<Vec<att::HoursRow>>, WebError> {
    let q: RangeQuery = forms::parse_query(raw.as_deref())?;
    let r = range(&state, me.lang, &q)?;
    Ok(Json(hours_rows(&state, &me, &r).await?))
}

async fn api_hours_csv(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: RangeQuery = forms::parse_query(raw.as_deref())?;
    let r = range(&state, me.lang, &q)?;
    let rows = hours_rows(&state, &me, &r).await?;
    let mut buf = Vec::new();
    att::write_hours_csv(&rows, &mut buf).map_err(|e| WebError::internal(e.to_string()))?;
    Ok(forms::csv_attachment(&format!("attendance-hours-{}-{}.csv", r.from, r.to), buf))
}

// --- page --------------------------------------------------------------------------------------

/// The dashboard's card for managers: today's attendance of everyone (who is clocked in now,
/// who is late, absent or missing a clock-out), linking to the page.
pub async fn dashboard_card(state: &AppState, me: &Identity) -> Result<Markup, WebError> {
    let lang = me.lang;
    let today = crate::domain::attendance::local_date(state.store.clock().now(), state.ctx.tz);
    let r = Range { staff: None, from: today, to: today, period: Period::Day };
    let list = report(state, me, &r).await?;
    let on_shift: Vec<&StaffAttendance> = list.iter().filter(|s| s.days.iter().any(|d| d.punches.iter().any(|p| p.open))).collect();
    let flagged: Vec<(&StaffAttendance, &crate::domain::attendance::Flag)> =
        list.iter().flat_map(|s| s.days.iter().flat_map(move |d| d.flags.iter().map(move |f| (s, f)))).collect();
    Ok(html! {
        h2 { a href="/staff/attendance" { (lang.pick("今日考勤", "Attendance today")) } }
        p data-on-shift=(on_shift.len()) {
            (lang.pick("上班中：", "Clocked in: "))
            @if on_shift.is_empty() { span.muted { (lang.pick("无", "nobody")) } }
            @for s in &on_shift { (s.name) " " }
        }
        @if !flagged.is_empty() {
            ul {
                @for (s, f) in &flagged {
                    li { (s.name) " · " span.badge.warn data-flag=(f.as_str()) { (if lang == Lang::Zh { f.label_zh() } else { f.label_en() }) } }
                }
            }
        }
    })
}

fn flag_badges(lang: Lang, flags: &[crate::domain::attendance::Flag]) -> Markup {
    html! {
        @for f in flags {
            span.badge.warn data-flag=(f.as_str()) { (if lang == Lang::Zh { f.label_zh() } else { f.label_en() }) } " "
        }
    }
}

fn shift_text(s: &crate::domain::attendance::PlannedShift, lang: Lang) -> String {
    let next = if s.ends_next_day() { lang.pick("（次日）", " (next day)") } else { "" };
    format!("{}–{}{}", s.start.format("%H:%M"), s.end.format("%H:%M"), next)
}

fn staff_block(lang: Lang, tz: chrono_tz::Tz, s: &StaffAttendance) -> Markup {
    let t = &s.totals;
    html! {
        section.attendance data-staff=(s.staff) {
            h2 { (s.name) " (" (s.staff) ")" }
            p {
                (lang.pick("工作", "Worked")) " " strong data-worked-minutes=(t.worked_minutes) { (hours_text(t.worked_minutes)) }
                " / " (lang.pick("排班", "planned")) " " (hours_text(t.scheduled_minutes))
                " · " (lang.pick("迟到", "late")) " " (t.late) " · " (lang.pick("早退", "early leave")) " " (t.early_leave)
                " · " (lang.pick("缺下班卡", "missing clock-out")) " " (t.missing_clock_out) " · " (lang.pick("缺勤", "absent")) " " (t.absent)
            }
            @if s.days.is_empty() {
                p.muted { (lang.pick("这段时间没有排班和打卡。", "No schedule and no clock records in this range.")) }
            } @else {
                table {
                    thead { tr {
                        th { (lang.pick("日期", "Date")) } th { (lang.pick("排班", "Plan")) } th { (lang.pick("打卡（记录号）", "Clocked (record)")) }
                        th.num { (lang.pick("工时", "Hours")) } th { (lang.pick("标记", "Flags")) }
                    } }
                    tbody {
                        @for d in &s.days {
                            tr data-date=(d.date) {
                                td { (d.date) }
                                td { @match &d.shift { Some(sh) => (shift_text(sh, lang)), None => span.muted { (lang.pick("休息", "off")) } } }
                                td {
                                    @for p in &d.punches {
                                        div {
                                            (forms::local_time(p.punch.clock_in, tz)) " → "
                                            @match p.punch.clock_out { Some(o) => (forms::local_time(o, tz)), None => @if p.open { span.badge.ok { (lang.pick("上班中", "on shift")) } } @else { "—" } }
                                            " " span.muted { "#" (p.punch.id) }
                                            @if s.records.iter().any(|r| r.id == p.punch.id && !r.corrections.is_empty()) { " " span.badge { (lang.pick("已更正", "corrected")) } }
                                        }
                                    }
                                }
                                td.num { (hours_text(d.worked_minutes)) }
                                td { (flag_badges(lang, &d.flags)) }
                            }
                        }
                    }
                }
            }
            @let corrected: Vec<&AttendanceRecord> = s.records.iter().filter(|r| !r.corrections.is_empty()).collect();
            @if !corrected.is_empty() {
                details {
                    summary { (lang.pick("更正记录", "Corrections")) }
                    ul {
                        @for r in corrected {
                            @for c in &r.corrections {
                                li data-correction=(r.id) {
                                    "#" (r.id) ": " (forms::local_time(c.at, tz)) " " (c.by) " · "
                                    (c.clock_in_before.map(|t| forms::local_time(t, tz)).unwrap_or_else(|| "—".into())) " → " (forms::local_time(c.clock_in_after, tz))
                                    ", " (c.clock_out_before.map(|t| forms::local_time(t, tz)).unwrap_or_else(|| "—".into())) " → " (c.clock_out_after.map(|t| forms::local_time(t, tz)).unwrap_or_else(|| "—".into()))
                                    " · " (c.reason)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The manager's week view: staff × the 7 days from `monday`, and a form per staff member.
fn week_block(state: &AppState, me: &Identity, monday: NaiveDate, people: &[(String, String)], days: &[ScheduleDay]) -> Markup {
    let lang = me.lang;
    let today = crate::domain::attendance::local_date(state.store.clock().now(), state.ctx.tz);
    let dates: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
    let weekday = |d: NaiveDate| {
        let zh = ["一", "二", "三", "四", "五", "六", "日"];
        let en = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let i = d.weekday().num_days_from_monday() as usize;
        if lang == Lang::Zh { format!("周{}", zh[i]) } else { en[i].to_string() }
    };
    html! {
        h2 { (lang.pick("排班（一周）", "Schedule (week)")) " " (monday) }
        p.muted { (lang.pick("每格写 09:00-17:00 或 22:00-06:00（次日结束）；留空为休息。过去的日期不能修改。", "Write 09:00-17:00 or 22:00-06:00 (ends next day) in a cell; empty is a day off. Past days cannot change.")) }
        table #schedule-week {
            thead { tr { th { (lang.pick("员工", "Staff")) } @for d in &dates { th { (weekday(*d)) " " (d.format("%m-%d")) } } th { "" } } }
            tbody {
                @for (id, name) in people {
                    tr data-staff=(id) {
                        td { (name) " (" (id) ")" }
                        @for d in &dates {
                            @let planned = days.iter().find(|s| &s.staff == id && s.date == *d);
                            td {
                                input form=(format!("week-{id}")) name=(format!("d{}", d)) size="11" disabled[*d < today]
                                    value=(planned.map(|s| format!("{}-{}", s.start.format("%H:%M"), s.end.format("%H:%M"))).unwrap_or_default());
                            }
                        }
                        td {
                            form id=(format!("week-{id}")) method="post" action="/staff/attendance/schedules" {
                                (forms::csrf(me))
                                input type="hidden" name="staff" value=(id);
                                input type="hidden" name="week" value=(monday);
                                button type="submit" { (lang.pick("保存", "Save")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn render_page(state: &AppState, me: &Identity, q: &RangeQuery, problem: Option<WebError>) -> Result<Response, WebError> {
    let lang = me.lang;
    let tz = state.ctx.tz;
    let r = range(state, lang, q)?;
    let manager = me.staff.may(Action::ManageAttendance);
    let list = report(state, me, &r).await?;
    let monday = Period::Week.start_of(r.from);
    let (people, week) = if manager {
        let week_range = Range { staff: r.staff.clone(), from: monday, to: monday + Duration::days(6), period: r.period };
        let week = schedules(state, me, &week_range).await?;
        let only = r.staff.clone();
        let people = state
            .blocking(move |store, _| {
                Ok(crate::staff::list_staff(store)?.into_iter().filter(|s| s.active && only.as_ref().is_none_or(|o| *o == s.id)).map(|s| (s.id, s.name)).collect::<Vec<_>>())
            })
            .await?;
        (people, week)
    } else {
        (Vec::new(), Vec::new())
    };
    let title = lang.pick("考勤", "Attendance");
    let csv = forms::url(
        "/api/v1/attendance/hours.csv",
        &[("from", &r.from.to_string()), ("to", &r.to.to_string()), ("period", r.period.as_str()), ("staff", r.staff.as_deref().unwrap_or(""))],
    );
    let status = problem.as_ref().map_or(StatusCode::OK, |e| e.status);
    let body = html! {
        h1 { (title) }
        @if let Some(done) = text(&q.done) { p.flash data-done=(done) { (lang.pick("已记录。", "Recorded.")) } }
        @if let Some(e) = &problem { p.error role="alert" data-problem=(e.code) { (e.to_string()) } }
        h2 { (lang.pick("打卡", "Clock in / out")) }
        form #clock-form method="post" action="/staff/attendance/clock" {
            (forms::csrf(me))
            label { (lang.pick("工号", "Staff id")) " " input name="staff" value=(me.staff.id) autocomplete="off" required; }
            " "
            label { "PIN " input name="pin" type="password" inputmode="numeric" autocomplete="off" required; }
            " "
            button type="submit" name="direction" value="in" { (lang.pick("上班打卡", "Clock in")) }
            " "
            button type="submit" name="direction" value="out" { (lang.pick("下班打卡", "Clock out")) }
        }
        form.inline method="get" action="/staff/attendance" {
            label { (lang.pick("从", "From")) " " input type="date" name="from" value=(r.from); }
            " "
            label { (lang.pick("到", "To")) " " input type="date" name="to" value=(r.to); }
            @if manager {
                " "
                label { (lang.pick("员工", "Staff")) " " input name="staff" value=(r.staff.clone().unwrap_or_default()) placeholder=(lang.pick("全部", "everyone")) size="10"; }
            }
            " "
            button type="submit" { (lang.pick("查看", "Show")) }
            " "
            a href=(csv) { (lang.pick("导出工时 CSV（按月）", "Hours CSV (by month)")) }
        }
        @for s in &list { (staff_block(lang, tz, s)) }
        @if manager {
            (week_block(state, me, monday, &people, &week))
            h2 { (lang.pick("更正打卡", "Correct a clock record")) }
            p.muted { (lang.pick("填记录号更正已有记录；不填记录号则补录（上下班时间都要填）。时间为本店时间 2026-11-25 22:00。", "Give the record number to correct it; without one a forgotten record is entered (both times needed). Shop time, e.g. 2026-11-25 22:00.")) }
            form #correction-form method="post" action="/staff/attendance/corrections" {
                (forms::csrf(me))
                label { (lang.pick("工号", "Staff id")) " " input name="staff" required size="10"; } " "
                label { (lang.pick("记录号", "Record")) " " input name="record" inputmode="numeric" size="14"; } " "
                label { (lang.pick("上班", "Clock in")) " " input name="clock_in" placeholder="2026-11-25 22:00" size="16"; } " "
                label { (lang.pick("下班", "Clock out")) " " input name="clock_out" placeholder="2026-11-26 06:00" size="16"; } " "
                label { (lang.pick("原因", "Reason")) " " input name="reason" required maxlength="200"; } " "
                button type="submit" { (lang.pick("更正", "Correct")) }
            }
        }
    };
    Ok((status, forms::render(state, me, title, body)).into_response())
}

async fn attendance_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: RangeQuery = forms::parse_query(raw.as_deref())?;
    render_page(&state, &me, &q, None).await
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
struct ClockForm {
    staff: Option<String>,
    pin: Option<String>,
    direction: Option<String>,
}

async fn clock_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, req: axum::extract::Request) -> Result<Response, WebError> {
    let addr = super::auth::client_addr(&req);
    let bytes = axum::body::to_bytes(req.into_body(), 64 * 1024).await.map_err(|_| WebError::bad_request("form: too large or unreadable"))?;
    let f: ClockForm = forms::parse_pairs(&bytes)?;
    let dir = match text(&f.direction) {
        Some("out") => Direction::Out,
        _ => Direction::In,
    };
    let lang = me.lang;
    let staff = text(&f.staff).unwrap_or_default().to_string();
    let pin = f.pin.clone().unwrap_or_default();
    // A form without its fields is a form error (400), not a wrong PIN.
    let missing = if staff.is_empty() {
        Some(forms::field(lang, "staff", "请输入工号", "staff: type your staff id"))
    } else if pin.trim().is_empty() {
        Some(forms::field(lang, "pin", "请输入 PIN", "pin: type your PIN"))
    } else {
        None
    };
    if let Some(e) = missing {
        return render_page(&state, &me, &RangeQuery::default(), Some(e)).await;
    }
    match clock(&state, lang, &addr, dir, staff, pin).await {
        Ok(_) => Ok(Redirect::to(&format!("/staff/attendance?done={}", if dir == Direction::In { "clocked_in" } else { "clocked_out" })).into_response()),
        Err(e) => render_page(&state, &me, &RangeQuery::default(), Some(e)).await,
    }
}

async fn schedule_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let pairs: Vec<(String, String)> = forms::parse_pairs(&body)?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_string());
    let staff = get("staff").unwrap_or_default();
    let mut days = Vec::new();
    for (name, value) in &pairs {
        let Some(d) = name.strip_prefix('d') else { continue };
        let date = date_field(lang, name, Some(d))?.unwrap_or_default();
        let v = value.trim();
        if v.is_empty() || v == "off" {
            days.push(ScheduleEntry { date, start: None, end: None });
        } else {
            let s = parse_shift(date, v).map_err(|e| error(lang, e.into()))?;
            days.push(ScheduleEntry { date, start: Some(s.start), end: Some(s.end) });
        }
    }
    let week = get("week").unwrap_or_default();
    let q = RangeQuery { from: Some(week.clone()), ..RangeQuery::default() };
    if days.is_empty() {
        return render_page(&state, &me, &q, Some(forms::field(lang, "days", "这一周没有可修改的日期", "no day of this week can change (past days are fixed)"))).await;
    }
    match set_schedule(&state, &me, staff, days).await {
        Ok(_) => Ok(Redirect::to(&format!("/staff/attendance?from={}&done=schedule", forms::enc(&week))).into_response()),
        Err(e) => render_page(&state, &me, &q, Some(e)).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CorrectionForm {
    staff: Option<String>,
    record: Option<String>,
    clock_in: Option<String>,
    clock_out: Option<String>,
    reason: Option<String>,
}

fn shop_time_field(state: &AppState, lang: Lang, name: &str, typed: &Option<String>) -> Result<Option<chrono::DateTime<chrono::Utc>>, WebError> {
    text(typed)
        .map(|t| {
            let naive = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M"))
                .map_err(|_| forms::field(lang, name, format!("“{t}”不是时间：请写成 2026-11-25 22:00"), format!("{t:?} is not a time; write e.g. 2026-11-25 22:00")))?;
            Ok(crate::domain::attendance::instant(state.ctx.tz, naive.date(), naive.time()))
        })
        .transpose()
}

async fn correction_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let f: CorrectionForm = forms::parse_pairs(&body)?;
    let built = (|| -> Result<CorrectionRequest, WebError> {
        let record = forms::opt_int(lang, "record", &f.record)?.map(|n| u64::try_from(n).unwrap_or(0));
        Ok(CorrectionRequest {
            staff: text(&f.staff).unwrap_or_default().to_string(),
            record,
            clock_in: shop_time_field(&state, lang, "clock_in", &f.clock_in)?,
            clock_out: shop_time_field(&state, lang, "clock_out", &f.clock_out)?,
            reason: f.reason.clone().unwrap_or_default(),
        })
    })();
    let result = match built {
        Ok(req) => correct(&state, &me, req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(rec) => {
            let day = crate::domain::attendance::local_date(rec.clock_in, state.ctx.tz);
            let from = Period::Week.start_of(day);
            Ok(Redirect::to(&format!("/staff/attendance?from={from}&staff={}&done=corrected", forms::enc(&rec.staff))).into_response())
        }
        Err(e) => render_page(&state, &me, &RangeQuery::default(), Some(e)).await,
    }
}
