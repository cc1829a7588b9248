//! Member messages on the LAN over real HTTP: templates added through the API (bad ones refused
//! naming index and field, nothing written) and the page form, previews for the sample member
//! and a real one, the messages list with its filters, the `/messages` page in both languages,
//! and `ManageMessages` kept from cashiers and technicians.

mod common;

use common::web::{body, text, WebShop};
use reqwest::StatusCode;
use serde_json::{json, Value};
use storehub::members::messages::{self, MessageRules, Outgoing, Queued};
use storehub::members::{self, Gender, LoyaltyRules, NewMember};

fn templates() -> Value {
    json!([
        {"id": "wake", "name": "休眠唤醒", "channel": "wechat", "wechat_template_id": "OPENTM207940503",
         "fields": {"first": "{{name}}，好久不见", "keyword1": "{{coupon}}", "remark": "您有{{points}}积分"},
         "url": "https://shop.example.cn/coupon"},
        {"id": "expiring_sms", "name": "积分到期提醒", "channel": "sms", "sms_template_code": "SMS_987654321", "signature": "华美超市",
         "sms_text": "${name}，您有${points}积分将于${date}到期，请尽快使用。回T退订",
         "fields": {"name": "{{name}}", "points": "{{expiring_points}}", "date": "{{expiring_date}}"}}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_adds_templates_previews_and_sees_the_messages() {
    let shop = WebShop::start().await;
    let m = shop.login("manager1", None).await;

    // A bad template refuses the whole body, naming the index and the field.
    let mut bad = templates();
    bad[1]["fields"]["date"] = json!("{{expiring_date");
    let (status, v) = body(shop.post_json(&m, "/api/v1/message-templates", &bad).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "[1].fields.date", "{v}");
    assert!(v["message"].as_str().unwrap().contains("(id \"expiring_sms\"): fields.date: `{{` at character 0 is not closed"), "{v}");
    let (_, list) = body(shop.get(&m, "/api/v1/message-templates").await).await;
    assert_eq!(list, json!([]), "nothing written");

    let (status, v) = body(shop.post_json(&m, "/api/v1/message-templates", &templates()).await).await;
    assert_eq!((status, v["changed"].as_u64()), (StatusCode::OK, Some(2)), "{v}");

    // Preview: the sample member, then a real one.
    let (status, p) = body(shop.get(&m, "/api/v1/message-templates/wake/preview").await).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["text"], "张先生，好久不见\n满200减50\n您有1280积分");
    let mut new = NewMember::in_store("13800138000", "陈静");
    new.gender = Some(Gender::Female);
    new.consent_wechat = true;
    let rules = LoyaltyRules::for_shop(&storehub::config::Config::demo().unwrap());
    let member = members::register(&shop.store, &new, &rules).unwrap();
    let (status, p) = body(shop.get(&m, "/api/v1/message-templates/wake/preview?member=13800138000&coupon=%E6%BB%A1100%E5%87%8F10").await).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["text"], "陈女士，好久不见\n满100减10\n您有0积分");
    assert_eq!(p["member_id"], member.id);
    let (status, p) = body(shop.get(&m, "/api/v1/message-templates/expiring_sms/preview").await).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!((p["segments"].as_u64(), p["chars"].as_u64()), (Some(1), Some(43)), "{p}");
    let (status, e) = body(shop.get(&m, "/api/v1/message-templates/wake/preview?member=13999999999").await).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("member")), "{e}");
    let (status, _) = body(shop.get(&m, "/api/v1/message-templates/nope/preview").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A message sent (as a campaign would), then listed with filters.
    let mrules = MessageRules::from_config(&storehub::config::Config::demo().unwrap());
    let out = Outgoing {
        member_id: member.id,
        template_id: "wake".into(),
        campaign_id: Some("dormant-natural-1".into()),
        vars: [("coupon".to_string(), "满200减50".to_string())].into(),
    };
    assert_eq!(messages::request(&shop.store, &mrules, &out).unwrap(), Queued::Requested { message_id: 1 });
    let (status, list) = body(shop.get(&m, "/api/v1/messages?campaign=dormant-natural-1").await).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["state"], "requested");
    assert_eq!(list[0]["member_id"], member.id);
    let (_, none) = body(shop.get(&m, "/api/v1/messages?state=delivered").await).await;
    assert_eq!(none, json!([]));
    let (status, e) = body(shop.get(&m, "/api/v1/messages?state=sent").await).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::BAD_REQUEST, Some("state")), "{e}");

    // The page: templates with their previews, the message with its state, in Chinese …
    let (status, page) = text(shop.get(&m, "/messages").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("会员消息") && page.contains("张先生，好久不见") && page.contains("已提交总部") && page.contains("dormant-natural-1"), "{page}");
    let (_, page) = text(shop.get(&m, "/messages?preview=wake&member=13800138000").await).await;
    assert!(page.contains("陈女士，好久不见") && page.contains("按该会员预览"), "{page}");
    let (_, page) = text(shop.get(&m, "/messages?state=delivered").await).await;
    assert!(page.contains("没有符合条件的消息") && !page.contains("dormant-natural-1"), "filtered out: {page}");
    let (status, page) = text(shop.get(&m, "/messages?state=sent").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("状态应为 held、requested、delivered 或 failed"), "{page}");
    // … and in English.
    let res = shop.post_form(&m, "/lang", &[("lang", "en")]).await;
    assert!(res.status().is_redirection() || res.status().is_success());
    let (_, page) = text(shop.get(&m, "/messages").await).await;
    assert!(page.contains("Member messages") && page.contains("Requested"), "{page}");

    // The page form: a bad paste is shown again with the error; a good one saved.
    let res = shop.post_form(&m, "/messages/templates", &[("json", r#"{"id": "x", "channel": "wechat", "fields": {"first": "hi"}}"#)]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("wechat_template_id: missing"), "{page}");
    let res = shop.post_form(&m, "/messages/templates", &[("json", r#"{"id": "x", "channel": "wechat", "wechat_template_id": "T1", "fields": {"first": "hi {{tier}}"}}"#)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(messages::template(&shop.store, "x").unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashiers_and_technicians_may_not_manage_messages() {
    let shop = WebShop::start().await;
    for (who, lane) in [("cashier1", Some("lane-1")), ("tech1", None)] {
        let l = shop.login(who, lane).await;
        assert_eq!(shop.get(&l, "/messages").await.status(), StatusCode::FORBIDDEN, "{who}");
        assert_eq!(shop.post_json(&l, "/api/v1/message-templates", &templates()).await.status(), StatusCode::FORBIDDEN, "{who}");
        assert_eq!(shop.get(&l, "/api/v1/messages").await.status(), StatusCode::FORBIDDEN, "{who}");
    }
    assert!(messages::templates(&shop.store).unwrap().is_empty());
    let a = shop.login("admin1", None).await;
    assert_eq!(shop.get(&a, "/messages").await.status(), StatusCode::OK);
}
