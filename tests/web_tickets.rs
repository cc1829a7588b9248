//! Member service tickets on the LAN over real HTTP: a cashier opens a ticket (API and form) but
//! may not work it, a manager assigns, notes, resolves and rates it, every bad field is named in a
//! 400 and changes nothing, and the dashboard (JSON, page and event stream) shows the overdue count
//! once the manual clock passes the due time.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026 (17:00 in Shanghai). The demo ladder is
//! regular < silver < gold < diamond: a diamond member's complaint is urgent, due 4 hours later.

mod common;

use common::web::{body, text, WebShop};
use reqwest::StatusCode;
use serde_json::{json, Value};
use storehub::store::{codec, TreeId};

/// Registers 王芳 through the API as the cashier and makes her a diamond member (as the tier job
/// would after enough spend); returns her id.
async fn diamond_member(shop: &WebShop, c: &common::web::Login) -> u64 {
    let (status, v) = body(shop.post_json(c, "/api/v1/members", &json!({ "phone": "13812345678", "name": "王芳" })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["member"]["id"].as_u64().unwrap();
    let mut m = storehub::members::member(&shop.store, id).unwrap().unwrap();
    m.tier = "diamond".into();
    shop.store.commit::<_, std::convert::Infallible>(|tx| tx.put(TreeId::Members, &codec::u64_key(id), &m)).unwrap();
    id
}

fn complaint(member_id: u64) -> Value {
    json!({ "member_id": member_id, "kind": "complaint", "channel": "in_store", "subject": "积分没有到账", "note": "昨天消费 ¥236.40" })
}

/// The 400 of a bad body: its field and message.
async fn field_error(res: reqwest::Response) -> (String, String) {
    let (status, v) = body(res).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    (v["field"].as_str().unwrap_or_default().to_string(), v["message"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cashier_opens_a_ticket_and_a_manager_works_it_to_a_rating() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let fang = diamond_member(&shop, &c).await;

    let (status, t) = body(shop.post_json(&c, "/api/v1/tickets", &complaint(fang)).await).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["id"].as_u64(), t["priority"].as_str(), t["state"].as_str()), (Some(1), Some("urgent"), Some("open")));
    assert_eq!((t["opened_by"].as_str(), t["member_phone"].as_str()), (Some("cashier1"), Some("138****5678")));
    assert_eq!(t["due_at"], "2026-11-25T13:00:00Z");

    // A cashier opens tickets but does not work them; a technician does neither.
    assert_eq!(shop.get(&c, "/api/v1/tickets").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&c, "/api/v1/tickets/1").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.post_json(&c, "/api/v1/tickets/1/assign", &json!({ "staff": "cashier1" })).await.status(), StatusCode::FORBIDDEN);
    let tech = shop.login("tech1", None).await;
    assert_eq!(shop.post_json(&tech, "/api/v1/tickets", &complaint(fang)).await.status(), StatusCode::FORBIDDEN);

    let m = shop.login("manager1", None).await;
    let (f, msg) = field_error(shop.post_json(&m, "/api/v1/tickets/1/assign", &json!({ "staff": "nobody" })).await).await;
    assert_eq!(f, "staff");
    assert!(msg.contains("nobody"), "{msg}");
    let (f, _) = field_error(shop.post_json(&m, "/api/v1/tickets/1/assign", &json!({ "staff": "manager1", "priority": "low" })).await).await;
    assert_eq!(f, "priority");
    let (status, t) = body(shop.post_json(&m, "/api/v1/tickets/1/assign", &json!({ "staff": "manager1" })).await).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["state"].as_str(), t["assignee"].as_str()), (Some("in_progress"), Some("manager1")));
    let (status, t) = body(shop.post_json(&m, "/api/v1/tickets/1/notes", &json!({ "text": "查到小票，系统漏记" })).await).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["notes"][1]["author"], "manager1");
    let (f, _) = field_error(shop.post_json(&m, "/api/v1/tickets/1/notes", &json!({ "text": "  " })).await).await;
    assert_eq!(f, "text");

    let (f, msg) = field_error(shop.post_json(&m, "/api/v1/tickets/1/resolve", &json!({ "resolution": "补发积分", "satisfaction": 9 })).await).await;
    assert_eq!(f, "satisfaction");
    assert!(msg.contains('9'), "{msg}");
    let stored = storehub::members::tickets::ticket(&shop.store, 1).unwrap().unwrap();
    assert_eq!(stored.state, storehub::members::tickets::TicketState::InProgress, "a refused resolution changes nothing");

    let (status, t) = body(shop.post_json(&m, "/api/v1/tickets/1/resolve", &json!({ "resolution": "补发积分 236 分并致歉" })).await).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!((t["state"].as_str(), t["resolved_by"].as_str()), (Some("resolved"), Some("manager1")));
    let (status, again) = body(shop.post_json(&m, "/api/v1/tickets/1/resolve", &json!({ "resolution": "again" })).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (f, _) = field_error(shop.post_json(&m, "/api/v1/tickets/1/rate", &json!({ "satisfaction": 0 })).await).await;
    assert_eq!(f, "satisfaction");
    let (status, t) = body(shop.post_json(&m, "/api/v1/tickets/1/rate", &json!({ "satisfaction": 4 })).await).await;
    assert_eq!((status, t["satisfaction"].as_u64()), (StatusCode::OK, Some(4)));
    assert_eq!(shop.post_json(&m, "/api/v1/tickets/1/rate", &json!({ "satisfaction": 5 })).await.status(), StatusCode::CONFLICT);

    let (status, list) = body(shop.get(&m, "/api/v1/tickets?filter=all").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["tickets"][0]["satisfaction"], 4);
    assert_eq!(list["summary"]["open"], 0);
    let (status, mine) = body(shop.get(&m, &format!("/api/v1/tickets?member={fang}")).await).await;
    assert_eq!((status, mine["tickets"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    assert_eq!(shop.get(&m, "/api/v1/tickets/99").await.status(), StatusCode::NOT_FOUND);

    let events: Vec<String> = common::outbox(&shop.store)
        .into_iter()
        .filter(|e| e.event_type.starts_with("storehub.ticket."))
        .map(|e| e.event_type)
        .collect();
    assert_eq!(events, ["storehub.ticket.opened", "storehub.ticket.updated", "storehub.ticket.updated", "storehub.ticket.resolved", "storehub.ticket.updated"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tickets_are_refused_naming_the_field_and_write_nothing() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let fang = diamond_member(&shop, &c).await;
    let before = common::newest_seq(&shop.store);
    let mut bad_kind = complaint(fang);
    bad_kind["kind"] = json!("praise");
    let (f, msg) = field_error(shop.post_json(&c, "/api/v1/tickets", &bad_kind).await).await;
    assert_eq!(f, "kind");
    assert!(msg.contains("praise"), "{msg}");
    let mut no_subject = complaint(fang);
    no_subject["subject"] = json!("   ");
    let (f, msg) = field_error(shop.post_json(&c, "/api/v1/tickets", &no_subject).await).await;
    assert_eq!(f, "subject");
    assert!(msg.contains("120"), "{msg}");
    let (f, _) = field_error(shop.post_json(&c, "/api/v1/tickets", &complaint(999)).await).await;
    assert_eq!(f, "member_id");
    let mut extra = complaint(fang);
    extra["priority"] = json!("urgent");
    let (status, v) = body(shop.post_json(&c, "/api/v1/tickets", &extra).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the priority comes from the tier, not the body: {v}");
    let m = shop.login("manager1", None).await;
    let (f, _) = field_error(shop.get(&m, "/api/v1/tickets?filter=late").await).await;
    assert_eq!(f, "filter");

    assert_eq!(common::newest_seq(&shop.store), before, "no refused ticket wrote an event");
    assert!(storehub::members::tickets::all_tickets(&shop.store).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_overdue_tickets_once_the_clock_passes_the_due_time() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let fang = diamond_member(&shop, &c).await;
    assert_eq!(shop.post_json(&c, "/api/v1/tickets", &complaint(fang)).await.status(), StatusCode::OK);

    let m = shop.login("manager1", None).await;
    let (status, v) = body(shop.get(&m, "/api/v1/dashboard/summary").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((v["tickets"]["open"].as_u64(), v["tickets"]["overdue"].as_u64()), (Some(1), Some(0)));
    let (_, page) = text(shop.get(&m, "/dashboard").await).await;
    assert!(page.contains("id=\"dash-tickets\"") && page.contains("没有超时的工单"), "{page}");

    // Exactly at the due time (13:00 UTC) it is not overdue yet; an hour later it is.
    shop.clock.set(chrono::DateTime::parse_from_rfc3339("2026-11-25T13:00:00Z").unwrap().into());
    let m = shop.login("manager1", None).await;
    let (_, v) = body(shop.get(&m, "/api/v1/dashboard/summary").await).await;
    assert_eq!(v["tickets"]["overdue"], 0);
    shop.clock.advance(chrono::Duration::hours(1));
    let (_, v) = body(shop.get(&m, "/api/v1/dashboard/summary").await).await;
    assert_eq!((v["tickets"]["open"].as_u64(), v["tickets"]["overdue"].as_u64()), (Some(1), Some(1)));
    assert_eq!((v["tickets"]["most_overdue"][0]["id"].as_u64(), v["tickets"]["most_overdue"][0]["overdue_minutes"].as_i64()), (Some(1), Some(60)));

    // The page's card raises the alert, like the outbox alarm.
    let (_, page) = text(shop.get(&m, "/dashboard").await).await;
    assert!(page.contains("role=\"alert\" data-overdue=\"1\""), "{page}");
    assert!(page.contains("1 小时 0 分"), "{page}");
    // The event stream carries the same card.
    let mut res = shop.get(&m, "/api/v1/dashboard/events").await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut buf = String::new();
    let pushed = loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), res.chunk()).await.expect("no event in time").expect("stream").expect("stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:"))) {
                break serde_json::from_str::<Value>(data).unwrap();
            }
        }
    };
    assert_eq!(pushed["tickets"]["overdue"], 1);
    assert!(pushed["html"]["dash-tickets"].as_str().unwrap().contains("data-overdue=\"1\""));

    // The list page highlights it; the overdue filter finds it.
    let (status, page) = text(shop.get(&m, "/tickets?filter=overdue").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("class=\"overdue\"") && page.contains("积分没有到账") && page.contains("已超时"), "{page}");
    let (_, list) = body(shop.get(&m, "/api/v1/tickets?filter=overdue").await).await;
    assert_eq!((list["tickets"][0]["overdue"].as_bool(), list["tickets"][0]["overdue_minutes"].as_i64()), (Some(true), Some(60)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_open_and_work_a_ticket_with_forms() {
    let shop = WebShop::start().await;
    let c = shop.login("cashier1", Some("lane-1")).await;
    let fang = diamond_member(&shop, &c).await;

    // The member profile links to the form; the cashier opens a ticket there.
    let (_, profile) = text(shop.get(&c, &format!("/members/{fang}")).await).await;
    assert!(profile.contains(&format!("/tickets/new?member={fang}")), "{profile}");
    let (status, form) = text(shop.get(&c, &format!("/tickets/new?member={fang}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("name=\"subject\"") && form.contains("投诉"), "{form}");
    let member = fang.to_string();
    let res = shop.post_form(&c, "/tickets/new", &[("member", &member), ("kind", "after_sales"), ("channel", "phone"), ("subject", "")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("须为 1–120 个字符"), "{page}");
    let res = shop.post_form(&c, "/tickets/new", &[("member", &member), ("kind", "after_sales"), ("channel", "phone"), ("subject", "电饭煲不加热"), ("note", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], format!("/members/{fang}"), "a cashier goes back to the member");
    assert_eq!(shop.get(&c, "/tickets").await.status(), StatusCode::FORBIDDEN);

    let m = shop.login("manager1", None).await;
    let (status, page) = text(shop.get(&m, "/tickets").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("电饭煲不加热") && page.contains("紧急"), "{page}");
    let (status, page) = text(shop.get(&m, "/tickets/1").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/tickets/1/assign\"") && page.contains("action=\"/tickets/1/resolve\""), "{page}");

    let res = shop.post_form(&m, "/tickets/1/assign", &[("staff", "manager1"), ("priority", "urgent")]).await;
    assert_eq!((res.status(), res.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/tickets/1"));
    let res = shop.post_form(&m, "/tickets/1/notes", &[("text", "已安排上门检修\n周六上午")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = shop.post_form(&m, "/tickets/1/resolve", &[("resolution", "更换加热盘"), ("satisfaction", "6")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("满意度须为 1 到 5 分，现为 6"), "{page}");
    let res = shop.post_form(&m, "/tickets/1/resolve", &[("resolution", "更换加热盘"), ("satisfaction", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = text(shop.get(&m, "/tickets/1").await).await;
    assert!(page.contains("更换加热盘") && page.contains("action=\"/tickets/1/rate\"") && page.contains("已安排上门检修"), "{page}");
    let res = shop.post_form(&m, "/tickets/1/rate", &[("satisfaction", "5")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let t = storehub::members::tickets::ticket(&shop.store, 1).unwrap().unwrap();
    assert_eq!((t.satisfaction, t.assignee.as_deref(), t.notes.len()), (Some(5), Some("manager1"), 1));
    // The profile lists the member's tickets for the manager.
    let (_, profile) = text(shop.get(&m, &format!("/members/{fang}")).await).await;
    assert!(profile.contains("服务工单") && profile.contains("/tickets/1"), "{profile}");
}
