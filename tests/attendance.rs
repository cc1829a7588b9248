//! Staff attendance (考勤) end to end: a real hub's web on a manual clock (09:00 UTC = 17:00 in
//! Shanghai on 25 November 2026), clocking by PIN through the API without a session, the page's
//! forms, schedules, flags, corrections and the payroll CSV; the CLI with and without a daemon.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::web::{body, text, WebShop, PIN};
use common::{events_of_type, newest_seq, ok_json, refused, start_demo, storehub_with_stdin};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Clocks without any login, as the cashier screen's dialog and a time clock do.
async fn clock(shop: &WebShop, dir: &str, staff: &str, pin: &str) -> (StatusCode, Value) {
    body(shop.http.post(shop.url(&format!("/api/v1/attendance/clock-{dir}"))).json(&json!({ "staff": staff, "pin": pin })).send().await.expect("clock")).await
}

fn set_to(shop: &WebShop, y: i32, m: u32, d: u32, h: u32, min: u32) {
    // Shanghai is UTC+8 all year.
    let target = Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap() - Duration::hours(8);
    let now = shop.store.clock().now();
    assert!(target >= now, "the test clock only moves forward");
    shop.clock.advance(target - now);
}

fn flags(report: &Value, staff: &str, date: &str) -> Vec<String> {
    let who = report.as_array().unwrap().iter().find(|s| s["staff"] == staff).unwrap_or_else(|| panic!("no {staff} in {report}"));
    let day = who["days"].as_array().unwrap().iter().find(|d| d["date"] == date).unwrap_or_else(|| panic!("no {date} in {who}"));
    day["flags"].as_array().unwrap().iter().map(|f| match f.get("minutes") {
        Some(m) => format!("{}:{m}", f["flag"].as_str().unwrap()),
        None => f["flag"].as_str().unwrap().to_string(),
    }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_night_shift_clocked_late_and_left_early_and_clocking_in_twice_changes_nothing() {
    let shop = WebShop::start().await;
    let manager = shop.login("manager1", None).await;
    let (s, set) = body(shop.post_json(&manager, "/api/v1/attendance/schedules", &json!({
        "staff": "cashier1", "days": [{ "date": "2026-11-25", "start": "22:00", "end": "06:00" }, { "date": "2026-11-26" }]
    })).await).await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(set.as_array().unwrap().len(), 1, "one shift, one day off: {set}");

    set_to(&shop, 2026, 11, 25, 22, 8);
    let (s, rec) = clock(&shop, "in", "cashier1", PIN).await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    let seq = newest_seq(&shop.store);
    let (s, twice) = clock(&shop, "in", "cashier1", PIN).await;
    assert_eq!(s, StatusCode::CONFLICT, "{twice}");
    assert!(twice["message"].as_str().unwrap().contains("已经上班打卡"), "{twice}");
    assert_eq!(newest_seq(&shop.store), seq, "a refused clock-in writes nothing");
    let (s, wrong) = clock(&shop, "in", "manager1", "9999").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{wrong}");

    set_to(&shop, 2026, 11, 26, 5, 50);
    let (s, out) = clock(&shop, "out", "cashier1", PIN).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(out["id"], rec["id"]);

    // Sessions end after [web].session_ttl_minutes of the hours the clock moved: log in again.
    let manager = shop.login("manager1", None).await;
    let (s, report) = body(shop.get(&manager, "/api/v1/attendance/records?staff=cashier1&from=2026-11-25&to=2026-11-26").await).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    // Default [attendance]: 5 minutes of grace each way. 22:08 is 3 minutes past 22:05; 05:50 is
    // 5 minutes before 05:55.
    assert_eq!(flags(&report, "cashier1", "2026-11-25"), vec!["late:3", "early_leave:5"]);
    assert_eq!(report[0]["totals"]["worked_minutes"], 462, "22:08 to 05:50, all on the 25th");

    let ins = events_of_type(&shop.store, "storehub.attendance.clocked_in");
    let outs = events_of_type(&shop.store, "storehub.attendance.clocked_out");
    assert_eq!((ins.len(), outs.len()), (1, 1), "one event each, none for the refused attempt");
    let data = outs[0].data().unwrap();
    assert_eq!((data["staff"].as_str(), data["minutes"].as_i64()), (Some("cashier1"), Some(462)));
    assert!(!outs[0].data_json.contains(PIN) && !ins[0].data_json.contains(PIN));
    assert_eq!(events_of_type(&shop.store, "storehub.attendance.schedule_set").len(), 1);

    // The 26th was a day off: the clock-out belongs to the 25th, nothing flags the 26th.
    assert!(report[0]["days"].as_array().unwrap().iter().all(|d| d["date"] != "2026-11-26"), "{report}");

    // Payroll CSV.
    let res = shop.get(&manager, "/api/v1/attendance/hours.csv?from=2026-11-01&to=2026-11-30&period=month").await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let (s, csv) = text(res).await;
    assert_eq!(s, StatusCode::OK);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(storehub::staff::attendance::HOURS_CSV_HEADER));
    let row = csv.lines().find(|l| l.starts_with("cashier1,")).unwrap_or_else(|| panic!("{csv}"));
    assert_eq!(row, "cashier1,cashier1 名,2026-11-01,2026-11-30,462,7:42,480,1,1,3,1,5,0,0,0");
    let manager_row = csv.lines().find(|l| l.starts_with("manager1,")).unwrap();
    assert!(manager_row.contains(",0,0:00,0,0,"), "{manager_row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_clock_out_is_flagged_after_the_shift_and_the_correction_is_audited() {
    let shop = WebShop::start().await;
    let manager = shop.login("manager1", None).await;
    let (s, _) = body(shop.post_json(&manager, "/api/v1/attendance/schedules", &json!({
        "staff": "cashier1", "days": [{ "date": "2026-11-25", "start": "18:00", "end": "22:00" }]
    })).await).await;
    assert_eq!(s, StatusCode::OK);
    set_to(&shop, 2026, 11, 25, 17, 55);
    let (s, rec) = clock(&shop, "in", "cashier1", PIN).await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    let id = rec["id"].as_u64().unwrap();

    let records = "/api/v1/attendance/records?staff=cashier1&from=2026-11-25&to=2026-11-25";
    set_to(&shop, 2026, 11, 26, 1, 59);
    let manager = shop.login("manager1", None).await;
    let (_, report) = body(shop.get(&manager, records).await).await;
    assert!(flags(&report, "cashier1", "2026-11-25").is_empty(), "22:00 + 4 h is not over yet: {report}");
    set_to(&shop, 2026, 11, 26, 2, 0);
    let (_, report) = body(shop.get(&manager, records).await).await;
    assert_eq!(flags(&report, "cashier1", "2026-11-25"), vec!["missing_clock_out"]);
    assert_eq!(report[0]["totals"]["worked_minutes"], 0);
    let (s, late_out) = clock(&shop, "out", "cashier1", PIN).await;
    assert_eq!(s, StatusCode::CONFLICT, "past the deadline a manager corrects it: {late_out}");

    // A cashier may not correct; a reason is required; then the manager's correction is kept.
    let cashier = shop.login("cashier1", None).await;
    let fix = json!({ "staff": "cashier1", "record": id, "clock_out": "2026-11-25T14:00:00Z", "reason": "忘记下班打卡，店长确认 22:00 离店" });
    let (s, _) = body(shop.post_json(&cashier, "/api/v1/attendance/corrections", &fix).await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let seq = newest_seq(&shop.store);
    let (s, e) = body(shop.post_json(&manager, "/api/v1/attendance/corrections", &json!({ "staff": "cashier1", "record": id, "clock_out": "2026-11-25T14:00:00Z", "reason": " " })).await).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")), "{e}");
    assert_eq!(newest_seq(&shop.store), seq);
    let (s, fixed) = body(shop.post_json(&manager, "/api/v1/attendance/corrections", &fix).await).await;
    assert_eq!(s, StatusCode::OK, "{fixed}");
    assert_eq!(fixed["clocked_out"], Value::Null, "what was clocked stays as it was");
    assert_eq!(fixed["clock_out"], "2026-11-25T14:00:00Z");
    let c = &fixed["corrections"][0];
    assert_eq!((c["by"].as_str(), c["clock_out_before"].clone(), c["clock_out_after"].as_str()), (Some("manager1"), Value::Null, Some("2026-11-25T14:00:00Z")));
    assert!(c["reason"].as_str().unwrap().starts_with("忘记下班打卡"));
    let ev = events_of_type(&shop.store, "storehub.attendance.corrected");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].data().unwrap()["by"], "manager1");
    assert!(!ev[0].data_json.contains("忘记"), "no free text in events: {}", ev[0].data_json);

    // A forgotten record over the same evening would count those minutes twice: refused.
    let (s, e) = body(shop.post_json(&manager, "/api/v1/attendance/corrections", &json!({
        "staff": "cashier1", "clock_in": "2026-11-25T13:00:00Z", "clock_out": "2026-11-25T15:00:00Z", "reason": "补录"
    })).await).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["message"].as_str().unwrap().contains(&format!("#{id}")), "{e}");
    let (_, report) = body(shop.get(&manager, records).await).await;
    assert!(flags(&report, "cashier1", "2026-11-25").is_empty(), "{report}");
    assert_eq!(report[0]["totals"]["worked_minutes"], 245, "17:55 to 22:00");
    // The page shows the correction with its reason.
    let (_, page) = text(shop.get(&manager, "/staff/attendance?from=2026-11-23&staff=cashier1").await).await;
    assert!(page.contains(&format!("data-correction=\"{id}\"")) && page.contains("忘记下班打卡"), "{page}");
    // Clocking in works again; the manager's dashboard shows who is clocked in today.
    let (s, _) = clock(&shop, "in", "cashier1", PIN).await;
    assert_eq!(s, StatusCode::OK);
    let (_, dash) = text(shop.get(&manager, "/dashboard").await).await;
    assert!(dash.contains("id=\"attendance-card\"") && dash.contains("data-on-shift=\"1\""), "{dash}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_for_past_days_are_refused_and_cashiers_see_only_their_own_attendance() {
    let shop = WebShop::start().await;
    let manager = shop.login("manager1", None).await;
    let seq = newest_seq(&shop.store);
    let (s, e) = body(shop.post_json(&manager, "/api/v1/attendance/schedules", &json!({
        "staff": "cashier1", "days": [{ "date": "2026-11-24", "start": "09:00", "end": "17:00" }, { "date": "2026-11-25", "start": "18:00", "end": "22:00" }]
    })).await).await;
    assert_eq!((s, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("days")), "{e}");
    assert!(e["message"].as_str().unwrap().contains("2026-11-24"), "{e}");
    let (s, e) = body(shop.post_json(&manager, "/api/v1/attendance/schedules", &json!({
        "staff": "cashier1", "days": [{ "date": "2026-11-26", "start": "09:00", "end": "17:00" }, { "date": "2026-12-03", "start": "09:00", "end": "17:00" }]
    })).await).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "more than a week: {e}");
    let (s, e) = body(shop.post_json(&manager, "/api/v1/attendance/schedules", &json!({ "staff": "cashier1", "days": [{ "date": "2026-11-26", "start": "09:00" }] })).await).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a start without an end: {e}");
    assert_eq!(newest_seq(&shop.store), seq, "refused schedules write nothing");
    let (_, days) = body(shop.get(&manager, "/api/v1/attendance/schedules?from=2026-11-20&to=2026-12-31").await).await;
    assert_eq!(days, json!([]));

    // Both work a little; each clocks with their own PIN through the page's form.
    let cashier = shop.login("cashier1", None).await;
    let res = shop.post_form(&cashier, "/staff/attendance/clock", &[("staff", "cashier1"), ("pin", PIN), ("direction", "in")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (s, page) = text(shop.post_form(&cashier, "/staff/attendance/clock", &[("staff", "cashier1"), ("pin", PIN), ("direction", "in")]).await).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(page.contains("data-problem=\"refused\""), "{page}");
    assert_eq!(clock(&shop, "in", "manager1", PIN).await.0, StatusCode::OK);
    shop.clock.advance(Duration::minutes(30));
    assert_eq!(shop.post_form(&cashier, "/staff/attendance/clock", &[("staff", "cashier1"), ("pin", PIN), ("direction", "out")]).await.status(), StatusCode::SEE_OTHER);

    let (s, _) = body(shop.get(&cashier, "/api/v1/attendance/records?staff=manager1&from=2026-11-25&to=2026-11-25").await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = body(shop.get(&cashier, "/api/v1/attendance/hours?staff=manager1&from=2026-11-25&to=2026-11-25").await).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, own) = body(shop.get(&cashier, "/api/v1/attendance/records?from=2026-11-25&to=2026-11-25").await).await;
    assert_eq!(s, StatusCode::OK);
    let who: Vec<&str> = own.as_array().unwrap().iter().map(|s| s["staff"].as_str().unwrap()).collect();
    assert_eq!(who, vec!["cashier1"]);
    assert_eq!(own[0]["totals"]["worked_minutes"], 30);
    let (_, all) = body(shop.get(&manager, "/api/v1/attendance/records?from=2026-11-25&to=2026-11-25").await).await;
    assert_eq!(all.as_array().unwrap().len(), 4, "a manager sees every account");

    let (s, page) = text(shop.get(&cashier, "/staff/attendance?from=2026-11-25&to=2026-11-25").await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-staff=\"cashier1\"") && !page.contains("data-staff=\"manager1\""), "{page}");
    assert!(!page.contains("schedule-week") && !page.contains("correction-form"));
    let (_, page) = text(shop.get(&manager, "/staff/attendance?from=2026-11-25&to=2026-11-25").await).await;
    assert!(page.contains("data-staff=\"manager1\"") && page.contains("schedule-week") && page.contains("correction-form"));

    // The manager's week form: past days are not sent (disabled), today and later are.
    let res = shop.post_form(&manager, "/staff/attendance/schedules", &[("staff", "cashier1"), ("week", "2026-11-23"), ("d2026-11-27", "22:00-06:00"), ("d2026-11-28", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, days) = body(shop.get(&cashier, "/api/v1/attendance/schedules?from=2026-11-23&to=2026-11-29").await).await;
    assert_eq!(days.as_array().unwrap().len(), 1, "{days}");
    assert_eq!((days[0]["date"].as_str(), days[0]["start"].as_str(), days[0]["end"].as_str()), (Some("2026-11-27"), Some("22:00:00"), Some("06:00:00")));

    // The cashier screen has the 打卡 button and its dialog.
    let lane = shop.login("cashier1", Some("lane-1")).await;
    let (_, till) = text(shop.get(&lane, "/cashier/lane-1").await).await;
    assert!(till.contains("id=\"clock-btn\"") && till.contains("id=\"clock-dialog\""));
    let admin = shop.login("admin1", None).await;
    let (_, staff_page) = text(shop.get(&admin, "/staff").await).await;
    assert!(staff_page.contains("href=\"/staff/attendance\""), "the staff page links to attendance");
}

fn today_in_shanghai() -> chrono::NaiveDate {
    (Utc::now() + Duration::hours(8)).date_naive()
}

/// The CLI on a data dir: the PIN on stdin, refusals with exit 1 and a message.
fn cli_round(d: &str, cashier: &str, manager: &str, pin: &str) {
    let tomorrow = (today_in_shanghai() + Duration::days(1)).to_string();
    let yesterday = (today_in_shanghai() - Duration::days(1)).to_string();
    let day = format!("{tomorrow}=09:00-17:00");
    let set = ok_json(storehub_with_stdin(&["--data-dir", d, "attendance", "schedule", "set", "--staff", cashier, "--day", &day, "--by", manager], ""));
    assert_eq!(set[0]["date"], tomorrow.as_str());
    refused(
        storehub_with_stdin(&["--data-dir", d, "attendance", "schedule", "set", "--staff", cashier, "--day", &format!("{yesterday}=09:00-17:00"), "--by", manager], ""),
        "that day is past",
    );
    refused(storehub_with_stdin(&["--data-dir", d, "attendance", "schedule", "set", "--staff", cashier, "--day", &format!("{tomorrow}=9-17"), "--by", manager], ""), "expected HH:MM-HH:MM");
    let list = ok_json(storehub_with_stdin(&["--data-dir", d, "attendance", "schedule", "list", "--from", &tomorrow, "--to", &tomorrow, "--by", cashier], ""));
    assert_eq!(list.as_array().unwrap().len(), 1);

    let rec = ok_json(storehub_with_stdin(&["--data-dir", d, "attendance", "clock-in", "--staff", cashier, "--pin-stdin"], &format!("{pin}\n")));
    assert_eq!(rec["staff"], cashier);
    refused(storehub_with_stdin(&["--data-dir", d, "attendance", "clock-in", "--staff", cashier, "--pin-stdin"], &format!("{pin}\n")), "already clocked in");
    refused(storehub_with_stdin(&["--data-dir", d, "attendance", "clock-out", "--staff", manager, "--pin-stdin"], "0000\n"), "wrong staff id or PIN");
    let out = ok_json(storehub_with_stdin(&["--data-dir", d, "attendance", "clock-out", "--staff", cashier, "--pin-stdin"], &format!("{pin}\n")));
    assert!(out["clock_out"].is_string());
    refused(storehub_with_stdin(&["--data-dir", d, "attendance", "clock-out", "--staff", cashier, "--pin-stdin"], &format!("{pin}\n")), "is not clocked in");

    let today = today_in_shanghai().to_string();
    let mine = ok_json(storehub_with_stdin(&["--data-dir", d, "attendance", "list", "--by", cashier], ""));
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["records"][0]["id"], rec["id"]);
    refused(storehub_with_stdin(&["--data-dir", d, "attendance", "list", "--staff", manager, "--by", cashier], ""), "only their own attendance");
    let id = rec["id"].as_u64().unwrap().to_string();
    refused(storehub_with_stdin(&["--data-dir", d, "attendance", "correct", "--staff", cashier, "--record", &id, "--clock-in", &format!("{today} 00:00"), "--reason", "x", "--by", cashier], ""), "may not manage attendance");
    let fixed = ok_json(storehub_with_stdin(&["--data-dir", d, "attendance", "correct", "--staff", cashier, "--record", &id, "--clock-in", &format!("{today} 00:00"), "--reason", "打卡机故障", "--by", manager], ""));
    assert_eq!(fixed["corrections"].as_array().unwrap().len(), 1);
    assert_eq!(fixed["clocked_in"], rec["clock_in"]);
    let csv = storehub_with_stdin(&["--data-dir", d, "attendance", "hours", "--from", &today, "--to", &today, "--period", "day", "--format", "csv", "--by", manager], "");
    assert!(csv.status.success(), "{}", common::stderr(&csv));
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(csv.starts_with(storehub::staff::attendance::HOURS_CSV_HEADER), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with(&format!("{cashier},"))), "{csv}");
}

#[test]
fn the_cli_without_a_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let add = storehub_with_stdin(&["--data-dir", d, "staff", "add", "wang", "--name", "王芳", "--role", "cashier", "--password-stdin", "--pin-stdin"], "correct horse\n2468\n");
    assert!(add.status.success(), "{}", common::stderr(&add));
    let add = storehub_with_stdin(&["--data-dir", d, "staff", "add", "li", "--name", "李经理", "--role", "manager", "--password-stdin", "--pin-stdin"], "correct horse\n1357\n");
    assert!(add.status.success(), "{}", common::stderr(&add));
    cli_round(d, "wang", "li", "2468");
}

#[test]
fn the_cli_with_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let _daemon = start_demo(dir.path());
    let d = dir.path().to_str().unwrap();
    cli_round(d, "demo-cashier", "demo-manager", storehub::demo::DEMO_PIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clocking_in_and_out_from_the_tills_dialog_in_a_real_browser() {
    use common::browser::Browser;
    let wait = std::time::Duration::from_secs(15);
    let shop = WebShop::start().await;
    let b = Browser::start().await;
    // The cashier is signed in at lane-1; the manager clocks in on the same screen with their
    // own id and PIN.
    b.login_pin(&shop.base, "lane-1", "cashier1", PIN).await;
    b.wait_js("document.getElementById('cashier').dataset.live === 'yes'", wait).await;
    b.click("#clock-btn").await;
    b.wait_js("document.getElementById('clock-dialog').open", wait).await;
    b.type_into("#clock-staff", "manager1").await;
    b.type_into("#clock-pin", PIN).await;
    b.click("#clock-form button[data-clock=in]").await;
    b.wait_js("document.getElementById('clock-done').textContent.includes('manager1')", wait).await;
    let said = b.js("return document.getElementById('clock-done').textContent;").await;
    assert_eq!(said, "manager1 上班打卡 17:00", "shop time (09:00 UTC is 17:00 in Shanghai)");
    let shot = b.screenshot("attendance-till-clock-in").await;
    let open = storehub::staff::attendance::records(&shop.store, chrono_tz::Asia::Shanghai, Some("manager1"), chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()).unwrap();
    assert_eq!(open.len(), 1, "the clock-in is stored ({})", shot.display());
    assert!(open[0].clock_out.is_none());
    // Again: the dialog says why it is refused.
    b.type_into("#clock-staff", "manager1").await;
    b.type_into("#clock-pin", PIN).await;
    b.click("#clock-form button[data-clock=in]").await;
    b.wait_js("document.getElementById('clock-error').textContent.includes('已经上班打卡')", wait).await;
    // Clock out: after a refusal the id stays typed, only the PIN is asked again.
    assert_eq!(b.js("return document.getElementById('clock-staff').value;").await, "manager1");
    b.type_into("#clock-pin", PIN).await;
    b.click("#clock-form button[data-clock=out]").await;
    b.wait_js("document.getElementById('clock-done').textContent.includes('下班')", wait).await;
    let done = storehub::staff::attendance::records(&shop.store, chrono_tz::Asia::Shanghai, Some("manager1"), chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()).unwrap();
    assert!(done[0].clock_out.is_some());
    b.close().await;
}
