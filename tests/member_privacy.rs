//! A member's PIPL rights end to end (`privacy::subject`, docs/privacy.md): export and erase over
//! HTTP (`/api/v1/members/{id}/export|erase`, the member page's buttons) and with the CLI
//! (`storehub member export|erase`, a sealed database with a PII key file), both refused to a
//! cashier, both audited; after an erasure the member's phone registers anew, their points
//! ledger is kept, and `storehub.member.erased` waits for HQ. Consent changes are kept with who
//! made them and through which channel.

mod common;

use common::web::{body, text, WebShop};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use storehub::audit::{self, AuditAction, AuditFilter};
use storehub::privacy::subject::EVENT_MEMBER_ERASED;

fn audited(store: &storehub::store::Store, action: AuditAction) -> Vec<audit::AuditEntry> {
    audit::list(store, &AuditFilter { action: Some(action), ..Default::default() }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_exports_and_erases_a_member_over_http_a_cashier_may_not() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;
    let (status, v) = body(shop.post_json(&m, "/api/v1/members", &json!({ "phone": "13800138000", "name": "王小明", "birthday": "1990-05-20", "consent_sms": true })).await).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["member"]["id"].as_u64().unwrap();
    // A consent change on the page: WeChat given by manager1.
    let (status, _) = body(shop.send_json(&m, Method::PUT, &format!("/api/v1/members/{id}"), &json!({ "consent_wechat": true })).await).await;
    assert_eq!(status, StatusCode::OK);
    let rules = shop.state.ctx.loyalty.clone();
    storehub::members::adjust_points(&shop.store, id, 120, "开业补偿", "manager1", &rules).unwrap();

    // A cashier may do neither.
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, &format!("/api/v1/members/{id}/export")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.post_json(&c, &format!("/api/v1/members/{id}/erase"), &json!({})).await.status(), StatusCode::FORBIDDEN);
    assert!(audited(&shop.store, AuditAction::MemberExported).is_empty());

    // The export: the whole profile, the consent history (registration by manager1 with SMS,
    // then WeChat on the page), the 120-point adjustment.
    let res = shop.get(&m, &format!("/api/v1/members/{id}/export")).await;
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains(&format!("member-{id}-export.json")));
    let (status, x) = body(res).await;
    assert_eq!(status, StatusCode::OK, "{x}");
    assert_eq!((x["member"]["phone"].as_str(), x["member"]["name"].as_str(), x["member"]["birthday"].as_str()), (Some("13800138000"), Some("王小明"), Some("1990-05-20")));
    let history = x["consent_history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{x}");
    assert_eq!((history[0]["sms"].as_bool(), history[0]["wechat"].as_bool(), history[0]["by"].as_str(), history[0]["via"].as_str()), (Some(true), Some(false), Some("manager1"), Some("registration")));
    assert_eq!((history[1]["wechat"].as_bool(), history[1]["by"].as_str(), history[1]["via"].as_str()), (Some(true), Some("manager1"), Some("page")));
    assert_eq!(x["points_ledger"].as_array().unwrap().len(), 1);
    for section in ["coupons", "sales", "returns", "messages", "tickets", "imported_history", "campaigns", "merges", "stored_value_ledger"] {
        assert!(x[section].is_array(), "{section} missing: {x}");
    }
    let exported = audited(&shop.store, AuditAction::MemberExported);
    assert_eq!((exported.len(), exported[0].actor.as_str(), exported[0].subject.as_deref()), (1, "manager1", Some(id.to_string().as_str())));
    assert!(!exported[0].detail.contains("13800138000") && !exported[0].detail.contains("王小明"));

    // The page shows the consent history and both buttons.
    // No key in this process: the system page says members are not encrypted.
    let admin = shop.login("admin1", None).await;
    let (_, system) = text(shop.get(&admin, "/system").await).await;
    assert!(system.contains("会员个人信息") && system.contains("未加密") && system.contains("storehub privacy init-key"), "{system}");
    let (_, page) = text(shop.get(&m, &format!("/members/{id}")).await).await;
    assert!(page.contains("授权记录") && page.contains(&format!("/members/{id}/erase")) && page.contains(&format!("/api/v1/members/{id}/export")), "{page}");

    // The erasure: personal data gone, the phone free again, the ledger kept, HQ told.
    let (status, e) = body(shop.post_json(&m, &format!("/api/v1/members/{id}/erase"), &json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{e}");
    let after = storehub::members::member(&shop.store, id).unwrap().unwrap();
    assert!(after.phone.is_empty() && after.name.is_empty() && after.birthday.is_none() && after.erased_at.is_some());
    assert!(after.consent.sms.is_none() && after.consent.wechat.is_none());
    assert_eq!(after.points, 120, "balances kept for accounting");
    assert!(storehub::members::find(&shop.store, "13800138000").unwrap().is_none());
    assert_eq!(storehub::members::points_ledger_page(&shop.store, id, 0, 10).unwrap().1, 1);
    let events = common::events_of_type(&shop.store, EVENT_MEMBER_ERASED);
    assert_eq!(events.len(), 1);
    let data: Value = serde_json::from_str(&events[0].data_json).unwrap();
    assert_eq!(data["member_id"], id);
    let erased = audited(&shop.store, AuditAction::MemberErased);
    assert_eq!((erased.len(), erased[0].actor.as_str()), (1, "manager1"));
    assert!(storehub::verify::verify(&shop.store).unwrap().ok(), "an erased member without lookup keys is consistent");
    // Erasing twice is refused; the number registers anew as a new member.
    assert_eq!(shop.post_json(&m, &format!("/api/v1/members/{id}/erase"), &json!({})).await.status(), StatusCode::CONFLICT);
    let (status, again) = body(shop.post_json(&m, "/api/v1/members", &json!({ "phone": "13800138000", "name": "王小明" })).await).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_ne!(again["member"]["id"].as_u64(), Some(id));
    let (_, page) = text(shop.get(&m, &format!("/members/{id}")).await).await;
    assert!(page.contains("个人信息已于") && !page.contains("13800138000"), "{page}");
}

#[test]
fn the_cli_exports_and_erases_on_a_sealed_database() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::hub::config(dir.path(), "enabled = false", "");
    let data = dir.path().join("data");
    let run = |args: &[&str]| common::hub::cli(&cfg, &data, args);
    let ok = |args: &[&str]| common::hub::ok(&cfg, &data, args);
    let made: Value = serde_json::from_str(&ok(&["privacy", "init-key"])).unwrap();
    assert_eq!(made["key_file"].as_str().unwrap(), dir.path().join("pii.key").to_str().unwrap());
    for (id, role) in [("mgr", "manager"), ("cash", "cashier")] {
        let args = ["--config", cfg.to_str().unwrap(), "--data-dir", data.to_str().unwrap(), "staff", "add", id, "--role", role, "--password-stdin"];
        let out = common::storehub_with_stdin(&args, "correct horse battery\n");
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    let m: Value = serde_json::from_str(&ok(&["member", "add", "--phone", "13912345678", "--name", "欧阳娜娜", "--birthday", "1990-02-03", "--staff", "mgr"])).unwrap();
    let id = m["id"].as_u64().unwrap();

    let (success, _, err) = run(&["member", "export", "13912345678", "--staff", "cash"]);
    assert!(!success && err.contains("may not manage members; nothing exported"), "{err}");
    let x: Value = serde_json::from_str(&ok(&["member", "export", "13912345678", "--staff", "mgr"])).unwrap();
    assert_eq!((x["member"]["name"].as_str(), x["member"]["id"].as_u64()), (Some("欧阳娜娜"), Some(id)));
    assert_eq!(x["consent_history"][0]["via"], "registration");

    let (success, _, err) = run(&["member", "erase", "13912345678", "--staff", "cash"]);
    assert!(!success && err.contains("nothing erased"), "{err}");
    let e: Value = serde_json::from_str(&ok(&["member", "erase", "13912345678", "--staff", "mgr"])).unwrap();
    assert_eq!(e["member_id"].as_u64(), Some(id));
    let (success, _, err) = run(&["member", "show", "13912345678"]);
    assert!(!success && err.contains("139****5678"), "{err}");
    let x: Value = serde_json::from_str(&ok(&["member", "export", &id.to_string(), "--staff", "mgr"])).unwrap();
    assert_eq!((x["member"]["phone"].as_str(), x["member"]["name"].as_str()), (Some(""), Some("")));
    let again: Value = serde_json::from_str(&ok(&["member", "add", "--phone", "13912345678", "--name", "新会员"])).unwrap();
    assert_ne!(again["id"].as_u64(), Some(id));
    let status: Value = serde_json::from_str(&ok(&["privacy", "status"])).unwrap();
    assert_eq!(status["database_sealed_with"], made["key_id"]);

    // The running daemon says which key seals members and does not warn about a missing one.
    let daemon = common::hub::HubDaemon::start(&cfg, &data);
    let status: Value = serde_json::from_str(&ok(&["status"])).unwrap();
    assert_eq!(status["pii_key"], made["key_id"], "{status}");
    drop(daemon);
    let log = std::fs::read_to_string(data.with_extension("log")).unwrap();
    assert!(!log.contains("no PII key is loaded"), "{log}");
}

#[test]
fn a_daemon_without_a_pii_key_warns_and_says_so_in_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::hub::config(dir.path(), "enabled = false", "");
    let data = dir.path().join("data");
    let daemon = common::hub::HubDaemon::start(&cfg, &data);
    let status: Value = serde_json::from_str(&common::hub::ok(&cfg, &data, &["status"])).unwrap();
    assert!(status.get("pii_key").is_some_and(Value::is_null), "{status}");
    drop(daemon);
    let log = std::fs::read_to_string(data.with_extension("log")).unwrap();
    assert!(log.contains("no PII key is loaded: members' personal data is stored unencrypted; run `storehub privacy init-key`"), "{log}");
}
