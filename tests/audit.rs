//! The audit log (`audit`, docs/privacy.md "Audit log"): an entry for each wired privileged
//! action — staff created, role changed, deactivated, unlocked, password and PIN reset by
//! another (not by the owner), a refund without a receipt, a member export and erasure, a PII
//! key rotation — each with its `storehub.audit.recorded` event; the page `/system/audit` and
//! `GET /api/v1/audit` with filters for admins, refused to managers and cashiers; `storehub audit --action`.

mod common;

use common::web::{body, text, WebShop};
use reqwest::StatusCode;
use serde_json::Value;
use storehub::audit::{self, AuditAction, AuditEntry, AuditFilter, EVENT_AUDIT_RECORDED};
use storehub::checkout::returns::{self, ReceiptlessItem, ReturnOf, ReturnRequest};
use storehub::domain::staff::Role;
use storehub::staff::{self, HashCost, NewStaff};
use storehub::store::Store;

use common::*;

fn entries(store: &Store, action: AuditAction) -> Vec<AuditEntry> {
    audit::list(store, &AuditFilter { action: Some(action), ..Default::default() }).unwrap()
}

fn one(store: &Store, action: AuditAction) -> AuditEntry {
    let all = entries(store, action);
    assert_eq!(all.len(), 1, "{action:?}: {all:?}");
    all.into_iter().next().unwrap()
}

#[test]
fn staff_changes_are_audited_with_who_did_them() {
    let shop = Shop::open();
    let s = &shop.store;
    let cost = HashCost::minimal_for_tests();
    staff::create_staff_by(s, &NewStaff { id: "li".into(), name: "李经理".into(), role: Role::Manager }, "correct horse", None, &cost, "cli").unwrap();
    staff::create_staff_by(s, &NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }, "correct horse", None, &cost, "li").unwrap();
    let created = entries(s, AuditAction::StaffCreated);
    assert_eq!(created.iter().map(|e| (e.actor.as_str(), e.subject.as_deref())).collect::<Vec<_>>(), vec![("li", Some("wang")), ("cli", Some("li"))]);
    assert_eq!(created[0].detail, "role cashier");

    staff::set_role_by(s, "wang", Role::Manager, "li").unwrap();
    let e = one(s, AuditAction::StaffRoleChanged);
    assert_eq!((e.actor.as_str(), e.subject.as_deref(), e.detail.as_str()), ("li", Some("wang"), "cashier → manager"));
    // The same role again changes nothing and records nothing.
    staff::set_role_by(s, "wang", Role::Manager, "li").unwrap();
    assert_eq!(entries(s, AuditAction::StaffRoleChanged).len(), 1);

    // Her own password and PIN: not a reset. By li: a reset each.
    staff::set_password_by(s, "wang", "another horse", &cost, "wang").unwrap();
    staff::set_pin_by(s, "wang", Some("2468"), &cost, "wang").unwrap();
    assert!(entries(s, AuditAction::StaffCredentialReset).is_empty());
    staff::set_password_by(s, "wang", "third horse!", &cost, "li").unwrap();
    staff::set_pin_by(s, "wang", Some("1357"), &cost, "li").unwrap();
    let resets = entries(s, AuditAction::StaffCredentialReset);
    assert_eq!(resets.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(), vec!["pin", "password"]);

    // Five wrong passwords lock the account; li unlocks it, then deactivates it.
    for _ in 0..5 {
        let _ = staff::login_password(s, "wang", "wrong horse");
    }
    staff::unlock_by(s, "wang", "li").unwrap();
    assert_eq!(one(s, AuditAction::StaffUnlocked).actor, "li");
    staff::deactivate_by(s, "wang", "li").unwrap();
    assert_eq!(one(s, AuditAction::StaffDeactivated).subject.as_deref(), Some("wang"));

    // 2 created + 1 role + 2 resets + 1 unlock + 1 deactivate = 7 entries, 7 events for HQ.
    assert_eq!(audit::list(s, &AuditFilter::default()).unwrap().len(), 7);
    assert_eq!(events_of_type(s, EVENT_AUDIT_RECORDED).len(), 7);
}

#[test]
fn a_refund_without_receipt_is_audited_with_its_return_id() {
    let shop = Shop::open();
    let s = &shop.store;
    load(s, &[water()]);
    let cost = HashCost::minimal_for_tests();
    staff::create_staff(s, &NewStaff { id: "li".into(), name: "李经理".into(), role: Role::Manager }, "correct horse", None, &cost).unwrap();
    staff::open_shift(s, "lane-1", "li", 50_000).unwrap();
    // Two bottles back without a receipt, ¥2.00 each in cash: 400 fen.
    let req = ReturnRequest {
        of: ReturnOf::NoReceipt { items: vec![ReceiptlessItem { sku: water().sku, qty: 2, refund_fen: 400 }] },
        lane: "lane-1".into(),
        by: "li".into(),
        restock: true,
        reason: "customer".into(),
    };
    let ret = returns::return_items(s, &req, &Default::default()).unwrap();
    let e = one(s, AuditAction::RefundWithoutReceipt);
    assert_eq!((e.actor.as_str(), e.subject.clone()), ("li", Some(ret.id.to_string())));
    assert_eq!(e.detail, format!("return {} at lane-1: 1 items, 400 fen cash", ret.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_the_log_on_the_page_and_the_api_managers_and_cashiers_do_not() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    let (_, v) = body(shop.post_json(&m, "/api/v1/members", &serde_json::json!({ "phone": "13800138000", "name": "王小明" })).await).await;
    let id = v["member"]["id"].as_u64().unwrap();
    assert_eq!(shop.get(&m, &format!("/api/v1/members/{id}/export")).await.status(), StatusCode::OK);
    assert_eq!(shop.post_json(&m, &format!("/api/v1/members/{id}/erase"), &serde_json::json!({})).await.status(), StatusCode::OK);

    // The log is the admin's (ManageStaff): the manager whose actions it records cannot read it.
    assert_eq!(shop.get(&m, "/api/v1/audit").await.status(), StatusCode::FORBIDDEN);
    let m = shop.login("admin1", None).await;
    let (status, all) = body(shop.get(&m, "/api/v1/audit").await).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let actions: Vec<&str> = all["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..2], &["member_erased", "member_exported"], "newest first: {all}");
    let (_, only) = body(shop.get(&m, "/api/v1/audit?action=member_exported").await).await;
    assert_eq!(only["entries"].as_array().unwrap().len(), 1);
    assert_eq!(only["entries"][0]["subject"], id.to_string());
    let (status, bad) = body(shop.get(&m, "/api/v1/audit?action=dance").await).await;
    assert_eq!((status, bad["field"].as_str()), (StatusCode::BAD_REQUEST, Some("action")), "{bad}");

    let (status, page) = text(shop.get(&m, "/system/audit?action=member_erased").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("审计日志") && page.contains("删除会员个人信息") && !page.contains("13800138000"), "{page}");

    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, "/api/v1/audit").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&c, "/system/audit").await.status(), StatusCode::FORBIDDEN);
}

#[test]
fn a_key_rotation_is_audited_and_the_cli_lists_by_action() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::hub::config(dir.path(), "enabled = false", "");
    let data = dir.path().join("data");
    let ok = |args: &[&str]| common::hub::ok(&cfg, &data, args);
    let first: Value = serde_json::from_str(&ok(&["privacy", "init-key"])).unwrap();
    ok(&["member", "add", "--phone", "13912345678", "--name", "欧阳娜娜"]);
    let rotated: Value = serde_json::from_str(&ok(&["privacy", "rotate-key"])).unwrap();
    assert_eq!(rotated["old_key_id"], first["key_id"]);
    assert_ne!(rotated["key_id"], first["key_id"]);
    assert!(!dir.path().join("pii.key.new").exists(), "the new key took the old one's place");
    let status: Value = serde_json::from_str(&ok(&["privacy", "status"])).unwrap();
    assert_eq!((&status["key_id"], &status["database_sealed_with"]), (&rotated["key_id"], &rotated["key_id"]));
    let m: Value = serde_json::from_str(&ok(&["member", "show", "13912345678"])).unwrap();
    assert_eq!(m["name"], "欧阳娜娜");

    let listed: Value = serde_json::from_str(&ok(&["audit", "--action", "pii_key_rotated"])).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["actor"], "cli");
    assert_eq!(listed[0]["detail"], format!("key {} replaced by key {}", first["key_id"].as_str().unwrap(), rotated["key_id"].as_str().unwrap()));
    let (success, _, err) = common::hub::cli(&cfg, &data, &["audit", "--action", "dance"]);
    assert!(!success && err.contains("--action \"dance\": no such action; one of staff_created"), "{err}");
}
