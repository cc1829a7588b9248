//! Staff accounts and shifts on the LAN over real HTTP: accounts made and changed by an admin,
//! sessions ended when an account's role or password changes or it is deactivated, secrets kept
//! out of every answer and event, shifts opened and closed with their cash difference.

mod common;

use common::web::{body, text};

use common::web::{WebShop, PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "lychee-season-7";

/// What the session of `login` answers now.
async fn session(shop: &WebShop, login: &common::web::Login) -> StatusCode {
    shop.get(login, "/api/v1/session").await.status()
}

/// Every outbox event as JSON text, to look for secrets in.
fn outbox_text(shop: &WebShop) -> String {
    shop.store.outbox_batch(0, usize::MAX).unwrap().iter().map(|e| format!("{} {}", e.event_type, e.data_json)).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_made_by_an_admin_logs_in_with_its_new_password() {
    let shop = WebShop::start().await;
    let a = shop.login("admin1", None).await;
    let (status, v) = body(shop.post_json(&a, "/api/v1/staff", &json!({ "id": "cashier2", "name": "陈晓", "role": "cashier", "password": NEW_PASSWORD, "pin": "2468" })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["role"].as_str(), v["has_pin"].as_bool(), v["active"].as_bool()), (Some("cashier"), Some(true), Some(true)));
    let raw = v.to_string();
    assert!(!raw.contains(NEW_PASSWORD) && !raw.contains("2468") && !raw.contains("argon2"), "a secret in the answer: {raw}");
    let who = shop.try_login("cashier2", None, NEW_PASSWORD).await.expect("the new password logs in");
    let me: Value = shop.get(&who, "/api/v1/session").await.json().await.unwrap();
    assert_eq!(me["staff"], "cashier2");
    assert!(shop.try_login("cashier2", Some("lane-2"), "2468").await.is_ok(), "the new PIN logs in at a lane");

    // Each rule is named with its field, in the admin's language.
    let cases = [
        (json!({ "id": "cashier3", "name": "甲", "role": "cashier", "password": "short" }), "password", "至少 8 个字符"),
        (json!({ "id": "cashier3", "name": "甲", "role": "cashier", "password": NEW_PASSWORD, "pin": "12a4" }), "pin", "4–6 位数字"),
        (json!({ "id": "cashier3", "name": "甲", "role": "cashier", "password": NEW_PASSWORD, "pin": "123" }), "pin", "4–6 位数字"),
        (json!({ "id": "Cashier 3", "name": "甲", "role": "cashier", "password": NEW_PASSWORD }), "id", "a-z"),
        (json!({ "id": "cashier2", "name": "甲", "role": "cashier", "password": NEW_PASSWORD }), "id", "已存在"),
        (json!({ "id": "cashier3", "name": "", "role": "cashier", "password": NEW_PASSWORD }), "name", "1–64"),
        (json!({ "id": "cashier3", "name": "甲", "role": "boss", "password": NEW_PASSWORD }), "role", "cashier"),
    ];
    for (b, field, words) in cases {
        let (status, v) = body(shop.post_json(&a, "/api/v1/staff", &b).await).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{v}");
        assert!(v["message"].as_str().unwrap().contains(words), "{v}");
        assert!(!v.to_string().contains(NEW_PASSWORD), "the message repeats the password");
    }
    assert!(storehub::staff::staff_info(&shop.store, "cashier3").unwrap().is_none());

    // The list never shows a secret; a manager may not manage staff.
    let (status, list) = body(shop.get(&a, "/api/v1/staff").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["staff"].as_array().map(Vec::len), Some(5));
    assert!(!list.to_string().contains("argon2"));
    let m = shop.login("manager1", None).await;
    assert_eq!(shop.get(&m, "/api/v1/staff").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&m, "/staff").await.status(), StatusCode::FORBIDDEN);
    let events = outbox_text(&shop);
    assert!(events.contains("storehub.staff.created") && events.contains("cashier2"), "{events}");
    assert!(!events.contains(NEW_PASSWORD) && !events.contains("argon2") && !events.contains("2468"), "a secret reached the outbox");

    // The pages: the list, the form with a rule broken (secrets not sent back), an account.
    let (status, page) = text(shop.get(&a, "/staff").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>员工</h1>") && page.contains("cashier2") && page.contains("陈晓"));
    let (status, page) = text(shop.post_form(&a, "/staff/new", &[("id", "cashier4"), ("name", "周"), ("role", "cashier"), ("password", "short-1"), ("pin", "")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("密码至少 8 个字符，现为 7 个") && !page.contains("short-1"), "{page}");
    let res = shop.post_form(&a, "/staff/new", &[("id", "cashier4"), ("name", "周"), ("role", "cashier"), ("password", NEW_PASSWORD), ("pin", "8642")]).await;
    assert_eq!((res.status(), res.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/staff/cashier4"));
    let (status, page) = text(shop.get(&a, "/staff/cashier4").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("重设密码") && page.contains("停用账号"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_or_deactivated_account_loses_its_sessions_at_once() {
    let shop = WebShop::start().await;
    let a = shop.login("admin1", None).await;

    // Deactivation: the cashier's open session answers 401 on its next call, and no login works.
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(session(&shop, &c).await, StatusCode::OK);
    let (status, v) = body(shop.post_json(&a, "/api/v1/staff/cashier1/deactivate", &json!({})).await).await;
    assert_eq!((status, v["active"].as_bool()), (StatusCode::OK, Some(false)), "{v}");
    assert_eq!(session(&shop, &c).await, StatusCode::UNAUTHORIZED);
    assert_eq!(shop.get(&c, "/api/v1/members?q=8000").await.status(), StatusCode::UNAUTHORIZED);
    assert!(shop.try_login("cashier1", None, PASSWORD).await.is_err());

    // A role change and a password reset end sessions too; the new password works.
    let m = shop.login("manager1", None).await;
    let (status, v) = body(shop.send_json(&a, Method::PUT, "/api/v1/staff/manager1", &json!({ "role": "cashier" })).await).await;
    assert_eq!((status, v["role"].as_str()), (StatusCode::OK, Some("cashier")));
    assert_eq!(session(&shop, &m).await, StatusCode::UNAUTHORIZED);
    let m = shop.login("manager1", None).await;
    let (status, v) = body(shop.post_json(&a, "/api/v1/staff/manager1/password", &json!({ "password": "short" })).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")));
    assert_eq!(session(&shop, &m).await, StatusCode::OK, "a refused reset changes nothing");
    assert_eq!(shop.post_json(&a, "/api/v1/staff/manager1/password", &json!({ "password": NEW_PASSWORD })).await.status(), StatusCode::OK);
    assert_eq!(session(&shop, &m).await, StatusCode::UNAUTHORIZED);
    assert!(shop.try_login("manager1", None, NEW_PASSWORD).await.is_ok());

    // A PIN reset, a bad PIN, clearing it; an unlock; unknown accounts; the admin's own account.
    let (status, v) = body(shop.post_json(&a, "/api/v1/staff/tech1/pin", &json!({ "pin": "12345" })).await).await;
    assert_eq!((status, v["has_pin"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, v) = body(shop.post_json(&a, "/api/v1/staff/tech1/pin", &json!({ "pin": "1" })).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("pin")));
    let (status, v) = body(shop.post_json(&a, "/api/v1/staff/tech1/pin", &json!({ "pin": 97531 })).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("pin")));
    assert!(!v.to_string().contains("97531"), "the PIN sent is echoed: {v}");
    let (_, v) = body(shop.post_json(&a, "/api/v1/staff/tech1/pin", &json!({ "pin": null })).await).await;
    assert_eq!(v["has_pin"], false);
    for _ in 0..5 {
        let _ = shop.try_login("tech1", None, "wrong-password").await;
    }
    assert!(storehub::staff::staff_info(&shop.store, "tech1").unwrap().unwrap().locked_until.is_some());
    let (_, v) = body(shop.post_json(&a, "/api/v1/staff/tech1/unlock", &json!({})).await).await;
    assert_eq!((v["failures"].as_u64(), v["locked_until"].is_null()), (Some(0), true));
    assert_eq!(shop.post_json(&a, "/api/v1/staff/nobody/unlock", &json!({})).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(shop.post_json(&a, "/api/v1/staff/admin1/deactivate", &json!({})).await.status(), StatusCode::CONFLICT);

    // The same through the account page's forms.
    let t = shop.login("tech1", None).await;
    let res = shop.post_form(&a, "/staff/tech1/role", &[("role", "manager")]).await;
    assert_eq!((res.status(), res.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/staff/tech1?done=role"));
    assert_eq!(session(&shop, &t).await, StatusCode::UNAUTHORIZED);
    let (status, page) = text(shop.get(&a, "/staff/tech1?done=role").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("角色已更改") && page.contains("店长"), "{page}");
    let (status, page) = text(shop.post_form(&a, "/staff/tech1/pin", &[("pin", "12ab")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("PIN 须为 4–6 位数字") && !page.contains("12ab"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shifts_open_and_close_with_the_difference_computed() {
    let shop = WebShop::start().await;
    let cost = storehub::staff::HashCost::minimal_for_tests();
    let new = storehub::staff::NewStaff { id: "cashier2".into(), name: "陈晓".into(), role: storehub::domain::staff::Role::Cashier };
    storehub::staff::create_staff(&shop.store, &new, PASSWORD, Some(common::web::PIN), &cost).unwrap();
    // The harness opened shift 1 at lane-1 for cashier1 with a ¥200.00 float.
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (status, v) = body(shop.get(&c, "/api/v1/shifts").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((v["open"][0]["id"].as_u64(), v["open"][0]["expected_fen"].as_i64()), (Some(1), Some(20_000)));

    // ¥199.50 counted: ¥0.50 short.
    let (status, v) = body(shop.post_json(&c, "/api/v1/shifts/1/close", &json!({ "counted_fen": 19_950 })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["closed"]["expected_fen"].as_i64(), v["closed"]["difference_fen"].as_i64(), v["closed"]["closed_by"].as_str()), (Some(20_000), Some(-50), Some("cashier1")));
    let (status, v) = body(shop.post_json(&c, "/api/v1/shifts/1/close", &json!({ "counted_fen": 19_950 })).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "closed twice: {v}");

    // Open again with a float; a second open shift on the lane is refused naming the lane.
    let (status, v) = body(shop.post_json(&c, "/api/v1/shifts", &json!({ "lane": "lane-1", "float_fen": 30_000 })).await).await;
    assert_eq!((status, v["staff"].as_str()), (StatusCode::OK, Some("cashier1")), "{v}");
    let second = v["id"].as_u64().unwrap();
    let (status, v) = body(shop.post_json(&c, "/api/v1/shifts", &json!({ "lane": "lane-1", "float_fen": 100 })).await).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("lane")), "{v}");
    for (b, field) in [(json!({ "lane": "lane-9", "float_fen": 100 }), "lane"), (json!({ "lane": "lane-1", "float_fen": "¥1" }), "float_fen")] {
        let (status, v) = body(shop.post_json(&c, "/api/v1/shifts", &b).await).await;
        assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{v}");
    }
    // A cashier works only their own lane and shift.
    assert_eq!(shop.post_json(&c, "/api/v1/shifts", &json!({ "lane": "lane-2", "float_fen": 100 })).await.status(), StatusCode::FORBIDDEN);
    let c2 = shop.login("cashier2", Some("lane-2")).await;
    let (status, v) = body(shop.post_json(&c2, "/api/v1/shifts", &json!({ "lane": "lane-2", "float_fen": 10_000, "staff": "cashier1" })).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(shop.post_json(&c2, &format!("/api/v1/shifts/{second}/close"), &json!({ "counted_fen": 30_000 })).await.status(), StatusCode::FORBIDDEN);
    let (_, mine) = body(shop.get(&c2, "/api/v1/shifts").await).await;
    assert_eq!(mine["open"].as_array().map(Vec::len), Some(0), "a cashier sees only their own shifts: {mine}");

    // A manager opens lane-2 for cashier2 by form, and closes cashier1's shift by form: ¥1.00 over.
    let m = shop.login("manager1", None).await;
    let res = shop.post_form(&m, "/shifts/open", &[("lane", "lane-2"), ("staff", "cashier2"), ("float", "150")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let lane2 = storehub::staff::open_shift_for_lane(&shop.store, "lane-2").unwrap().unwrap();
    assert_eq!((lane2.staff.as_str(), lane2.float_fen), ("cashier2", 15_000));
    let (status, page) = text(shop.post_form(&m, &format!("/shifts/{second}/close"), &[("counted", "301.005")]).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("超过两位小数"), "{page}");
    let res = shop.post_form(&m, &format!("/shifts/{second}/close"), &[("counted", "301")]).await;
    assert_eq!((res.status(), res.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, format!("/shifts/{second}").as_str()));
    let (status, page) = text(shop.get(&m, &format!("/shifts/{second}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("交班对账") && page.contains("长款 ¥1.00") && page.contains("¥300.00"), "{page}");
    let (status, page) = text(shop.get(&m, "/shifts").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>班次</h1>") && page.contains("短款 ¥0.50") && page.contains("lane-2"), "{page}");
    // cashier1 may not read cashier2's shift.
    assert_eq!(shop.get(&c, &format!("/shifts/{}", lane2.id)).await.status(), StatusCode::FORBIDDEN);
}
