//! Member messages (WeChat template messages and SMS through HQ): the gate on a real store with
//! the manual clock (quiet hours at 20:59 / 21:00 / 08:59 / 09:00 shop time, the weekly cap,
//! one campaign per member across a restart, consent withdrawn while held), the CLI (template
//! import with its errors, preview, send, list, remove), and end to end: a hub daemon with a
//! real Mosquitto, `storehub message send` → HQ sees `storehub.message.requested` → HQ's signed
//! `message.status` delivered and clicked → `storehub message list` shows them, and
//! `storehub.message.status_changed` reaches HQ; bad command args are refused naming the field.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026 (17:00 in Shanghai).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Timelike, Utc};
use common::hub::{cli, ok, HubDaemon as Daemon};
use common::{events_of_type, Shop};
use serde_json::Value;
use storehub::config::Config;
use storehub::members::messages::{
    self, MessageRules, MessageState, Outgoing, Queued, SkipReason, EVENT_REQUESTED, EVENT_STATUS_CHANGED,
};
use storehub::members::{self, Gender, LoyaltyRules, NewMember};
use storehub::store::Store;

const ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";

const TEMPLATES: &str = r#"[
  {"id": "wake", "name": "休眠唤醒", "channel": "wechat", "wechat_template_id": "OPENTM207940503",
   "fields": {"first": "{{name}}，好久不见", "keyword1": "{{coupon}}", "keyword2": "{{expiring_points}}积分{{expiring_date}}到期",
              "remark": "{{store}}等您回来"},
   "miniprogram": {"appid": "wx1234567890abcdef", "pagepath": "pages/coupon/index"}},
  {"id": "wake_sms", "name": "休眠唤醒短信", "channel": "sms", "sms_template_code": "SMS_123456789", "signature": "华美超市",
   "sms_text": "${name}您好，送您${coupon}，7天内有效。回T退订", "fields": {"name": "{{name}}", "coupon": "{{coupon}}"}}
]"#;

fn templates() -> Vec<messages::MessageTemplate> {
    messages::parse_templates_json(TEMPLATES.as_bytes(), "templates.json").unwrap()
}

fn loyalty() -> LoyaltyRules {
    LoyaltyRules::for_shop(&Config::demo().unwrap())
}

fn rules() -> MessageRules {
    MessageRules::from_config(&Config::demo().unwrap())
}

fn add_member(store: &Store, phone: &str, sms: bool, wechat: bool) -> u64 {
    let mut new = NewMember::in_store(phone, "王芳");
    new.gender = Some(Gender::Female);
    new.consent_sms = sms;
    new.consent_wechat = wechat;
    members::register(store, &new, &loyalty()).unwrap().id
}

fn wake(member_id: u64, campaign: Option<&str>) -> Outgoing {
    Outgoing {
        member_id,
        template_id: "wake".into(),
        campaign_id: campaign.map(str::to_string),
        vars: [("coupon".to_string(), "满200减50".to_string())].into(),
    }
}

fn send(store: &Store, out: &Outgoing) -> Queued {
    messages::request(store, &rules(), out).unwrap()
}

/// Shanghai wall time on 25/26 November 2026 as UTC.
fn shanghai(day: u32, h: u32, m: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap() - chrono::Duration::hours(8)
}

#[test]
fn quiet_hours_hold_from_2100_to_0900_shop_time_and_the_release_is_idempotent() {
    let shop = Shop::open();
    messages::upsert_templates(&shop.store, &templates()).unwrap();
    let ids: Vec<u64> = (1..=4).map(|i| add_member(&shop.store, &format!("1380000000{i}"), false, true)).collect();

    shop.clock.set(shanghai(25, 20, 59));
    assert_eq!(send(&shop.store, &wake(ids[0], None)), Queued::Requested { message_id: 1 }, "20:59 goes at once");
    shop.clock.set(shanghai(25, 21, 0));
    let nine = shanghai(26, 9, 0);
    assert_eq!(send(&shop.store, &wake(ids[1], None)), Queued::Held { message_id: 2, until: nine }, "21:00 waits for 09:00");
    shop.clock.set(shanghai(26, 8, 59));
    assert_eq!(send(&shop.store, &wake(ids[2], None)), Queued::Held { message_id: 3, until: nine }, "08:59 waits a minute");
    assert_eq!(events_of_type(&shop.store, EVENT_REQUESTED).len(), 1);

    assert_eq!(messages::release_due(&shop.store, shanghai(26, 8, 59)).unwrap(), 0);
    assert_eq!(storehub::verify::verify(&shop.store).unwrap().violations, Vec::<String>::new());
    shop.clock.set(nine);
    assert_eq!(send(&shop.store, &wake(ids[3], None)), Queued::Requested { message_id: 4 }, "09:00 goes at once");
    assert_eq!(messages::release_due(&shop.store, nine).unwrap(), 2);
    assert_eq!(messages::release_due(&shop.store, nine).unwrap(), 0, "a second run releases nothing");
    let requested = events_of_type(&shop.store, EVENT_REQUESTED);
    assert_eq!(requested.len(), 4);
    let ids_in_events: Vec<u64> =
        requested.iter().map(|e| serde_json::from_str::<Value>(&e.data_json).unwrap()["message_id"].as_u64().unwrap()).collect();
    assert_eq!(ids_in_events, vec![1, 4, 2, 3]);
    let m = messages::message(&shop.store, 2).unwrap().unwrap();
    assert_eq!((m.state, m.requested_at, m.held_until), (MessageState::Requested, Some(nine), None));
    assert_eq!(storehub::verify::verify(&shop.store).unwrap().violations, Vec::<String>::new());
}

#[test]
fn consent_withdrawn_while_held_sends_nothing() {
    let shop = Shop::open();
    messages::upsert_templates(&shop.store, &templates()).unwrap();
    let id = add_member(&shop.store, "13800000001", false, true);
    shop.clock.set(shanghai(25, 22, 30));
    assert!(matches!(send(&shop.store, &wake(id, None)), Queued::Held { .. }));
    members::set_consent(&shop.store, id, None, Some(false)).unwrap();
    assert_eq!(messages::release_due(&shop.store, shanghai(26, 9, 0)).unwrap(), 0);
    let m = messages::message(&shop.store, 1).unwrap().unwrap();
    assert_eq!((m.state, m.failure.as_deref()), (MessageState::Failed, Some("consent withdrawn while held")));
    assert!(events_of_type(&shop.store, EVENT_REQUESTED).is_empty());
}

#[test]
fn weekly_cap_consent_per_channel_and_one_campaign_per_member_across_a_restart() {
    let shop = Shop::open();
    messages::upsert_templates(&shop.store, &templates()).unwrap();
    let wechat_only = add_member(&shop.store, "13800000001", false, true);
    shop.clock.set(shanghai(25, 10, 0));
    assert_eq!(send(&shop.store, &wake(wechat_only, Some("dormant-1"))), Queued::Requested { message_id: 1 });
    let mut sms = wake(wechat_only, Some("dormant-1"));
    sms.template_id = "wake_sms".into();
    assert_eq!(send(&shop.store, &Outgoing { campaign_id: Some("sms-1".into()), ..sms }), Queued::Skipped { reason: SkipReason::NoConsent });

    let shop = shop.reopen();
    assert_eq!(
        send(&shop.store, &wake(wechat_only, Some("dormant-1"))),
        Queued::Skipped { reason: SkipReason::AlreadySent },
        "the de-duplication is stored: a restart does not forget it"
    );
    shop.clock.set(shanghai(26, 10, 0));
    assert_eq!(send(&shop.store, &wake(wechat_only, None)), Queued::Requested { message_id: 2 });
    shop.clock.set(shanghai(27, 10, 0));
    assert_eq!(send(&shop.store, &wake(wechat_only, None)), Queued::Skipped { reason: SkipReason::FrequencyCap }, "2 in 7 days");
    // Exactly 7 × 24 h after the first one it has left the window.
    shop.clock.set(shanghai(25, 10, 0) + chrono::Duration::days(7));
    assert_eq!(send(&shop.store, &wake(wechat_only, Some("dormant-2"))), Queued::Requested { message_id: 3 });
    assert_eq!(messages::campaign_messages(&shop.store, "dormant-1").unwrap().len(), 1);

    // Unknown template or member: refused, nothing stored.
    let mut unknown = wake(wechat_only, None);
    unknown.template_id = "nope".into();
    let e = messages::request(&shop.store, &rules(), &unknown).unwrap_err();
    assert_eq!(e.to_string(), "no message template \"nope\"; see `storehub message templates list`");
    assert!(messages::request(&shop.store, &rules(), &wake(99, None)).unwrap_err().to_string().contains("no member 99"));
    // A template variable with no value names the template and field.
    let other = add_member(&shop.store, "13800000002", false, true);
    let mut no_coupon = wake(other, Some("dormant-3"));
    no_coupon.vars.clear();
    let e = messages::request(&shop.store, &rules(), &no_coupon).unwrap_err().to_string();
    assert!(e.starts_with("template \"wake\": fields.keyword1: variable {{coupon}} has no value"), "{e}");
    assert_eq!(messages::list(&shop.store, &Default::default()).unwrap().len(), 3);
}

// ------------------------------------------------------------------------------------------------
// CLI and the daemon
// ------------------------------------------------------------------------------------------------

/// config/demo.toml without its simulated devices, `mqtt` as `[mqtt]`, and no quiet hours (the
/// daemon reads the wall clock; the quiet window is tested on the manual clock above).
fn config_file(dir: &Path, mqtt: &str) -> PathBuf {
    config_with(dir, mqtt, "quiet_start = \"00:00\"\nquiet_end = \"00:00\"\nweekly_cap = 5\n")
}

/// [`config_file`] with `messages` as the `[messages]` section.
fn config_with(dir: &Path, mqtt: &str, messages: &str) -> PathBuf {
    common::hub::config(dir, mqtt, &format!("\n[messages]\n{messages}"))
}

#[test]
fn cli_imports_previews_sends_lists_and_removes_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_file(tmp.path(), "enabled = false");
    let data = tmp.path().join("data");
    let bad = tmp.path().join("bad.json");
    let long = "好".repeat(201);
    std::fs::write(
        &bad,
        format!(
            r#"[{{"id": "a", "channel": "wechat", "wechat_template_id": "T1", "fields": {{"first": "{{{{name}}}}"}}}},
                {{"id": "b", "channel": "wechat", "wechat_template_id": "T1", "fields": {{"first": "x", "keyword1": "{long}"}}}},
                {{"id": "c", "channel": "sms", "sms_template_code": "S", "signature": "华美超市", "sms_text": "${{x}}", "fields": {{"x": "{{{{birthday}}}}"}}}}]"#
        ),
    )
    .unwrap();
    let (success, _, err) = cli(&cfg, &data, &["message", "templates", "import", bad.to_str().unwrap()]);
    assert!(!success);
    let file = bad.display().to_string();
    assert!(err.contains(&format!("{file}: [1] (id \"b\"): fields.keyword1: is 201 characters long; at most 200")), "{err}");
    assert!(err.contains(&format!("{file}: [2] (id \"c\"): fields.x: unknown variable {{{{birthday}}}}")), "{err}");
    assert!(err.contains("nothing imported"), "{err}");

    let good = tmp.path().join("templates.json");
    std::fs::write(&good, TEMPLATES).unwrap();
    ok(&cfg, &data, &["message", "templates", "import", good.to_str().unwrap()]);
    let listed: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "templates", "list"])).unwrap();
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|t| t["template"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["wake", "wake_sms"], "nothing of the bad file (its valid [0] \"a\" included) was written");

    // Preview with the sample member, then with a real one.
    let sample = ok(&cfg, &data, &["message", "preview", "wake_sms"]);
    assert_eq!(sample, "【华美超市】张先生您好，送您满200减50，7天内有效。回T退订\n(32 characters, 1 SMS segment(s))\n");
    ok(&cfg, &data, &["member", "add", "--phone", "13800138000", "--name", "李娜", "--gender", "f", "--wechat-consent"]);
    let real = ok(&cfg, &data, &["message", "preview", "wake", "--member", "13800138000", "--var", "coupon=满100减20"]);
    assert!(real.starts_with("李女士，好久不见\n满100减20\n0积分无到期\n"), "{real}");

    // Send: requested (WeChat consent), skipped (no SMS consent).
    let sent = ok(&cfg, &data, &["message", "send", "wake", "--member", "13800138000", "--var", "coupon=满100减20"]);
    assert_eq!(sent, "Requested: message 1 is in the outbox for HQ\n");
    let skipped = ok(&cfg, &data, &["message", "send", "wake_sms", "--member", "1", "--var", "coupon=满100减20"]);
    assert_eq!(skipped, "Skipped: no_consent\n");
    let (success, _, err) = cli(&cfg, &data, &["message", "send", "wake", "--member", "13900000000"]);
    assert!(!success && err.contains("no member has phone, card or id"), "{err}");

    let list: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "list", "--member", "13800138000"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["state"], "requested");
    assert_eq!(list[0]["rendered"], "李女士，好久不见\n满100减20\n0积分无到期\n华美超市 徐汇店 (演示)等您回来");
    let none: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "list", "--state", "delivered"])).unwrap();
    assert_eq!(none, serde_json::json!([]));

    let (success, _, err) = cli(&cfg, &data, &["message", "templates", "remove", "wake"]);
    assert!(!success && err.contains("template \"wake\" is used by 1 stored message(s)"), "{err}");
    ok(&cfg, &data, &["message", "templates", "remove", "wake_sms"]);
    ok(&cfg, &data, &["verify"]);
    let listed: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "templates", "list"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn end_to_end_send_through_hq_and_status_callbacks_over_mosquitto() {
    use storehub::cloud::commands::signature;
    let tmp = tempfile::tempdir().unwrap();
    let common::hub::SignedHq { broker: _broker, hq, key, mqtt } = common::hub::signed_hq(ROOT);
    let cfg = config_file(tmp.path(), &mqtt);
    let data = tmp.path().join("hub");
    let _hub = Daemon::start(&cfg, &data);
    hq.wait_until(Duration::from_secs(20), "the hub online", |msgs| msgs.iter().any(|m| m.topic.ends_with("/status") && m.payload == b"online"));

    let file = tmp.path().join("templates.json");
    std::fs::write(&file, TEMPLATES).unwrap();
    ok(&cfg, &data, &["message", "templates", "import", file.to_str().unwrap()]);
    ok(&cfg, &data, &["member", "add", "--phone", "13800138000", "--name", "赵磊", "--gender", "m", "--wechat-consent"]);
    let sent = ok(&cfg, &data, &["message", "send", "wake", "--member", "13800138000", "--var", "coupon=满200减50"]);
    assert_eq!(sent, "Requested: message 1 is in the outbox for HQ\n");

    // HQ sees the request: member id and card, rendered fields, no phone, no full name.
    let requested = format!("{ROOT}/evt/{EVENT_REQUESTED}");
    hq.wait_until(Duration::from_secs(20), "storehub.message.requested", |msgs| msgs.iter().any(|m| m.topic == requested));
    let event = hq.on(&format!("/evt/{EVENT_REQUESTED}"))[0].json();
    let data_json = &event["data"];
    assert_eq!(data_json["message_id"], 1);
    assert_eq!(data_json["member_id"], 1);
    assert_eq!(data_json["card_number"].as_str().unwrap().len(), 12);
    assert_eq!(data_json["wechat_template_id"], "OPENTM207940503");
    assert_eq!(data_json["fields"]["first"], "赵先生，好久不见");
    assert_eq!(data_json["miniprogram"]["pagepath"], "pages/coupon/index");
    let text = event.to_string();
    assert!(!text.contains("13800138000") && !text.contains("赵磊"), "no phone or full name in the event: {text}");

    let topic = format!("{ROOT}/cmd/message.status");
    let status = |id: &str, args: &str| signature::envelope(&key, "message.status", &format!(r#"{{"id":"{id}","args":{args}}}"#));
    // Bad args: refused, naming the field; nothing changes.
    hq.publish(&topic, status("ms-bad-1", r#"{"message_id":1,"status":"read"}"#));
    let r = hq.reply(ROOT, "ms-bad-1");
    assert_eq!((r["status"].as_str(), r["field"].as_str()), (Some("refused"), Some("args.status")), "{r}");
    hq.publish(&topic, status("ms-bad-2", r#"{"message_id":42,"status":"delivered"}"#));
    let r = hq.reply(ROOT, "ms-bad-2");
    assert_eq!((r["status"].as_str(), r["field"].as_str()), (Some("refused"), Some("args.message_id")), "{r}");
    hq.publish(&topic, status("ms-bad-3", r#"{"message_id":1,"status":"failed"}"#));
    assert_eq!(hq.reply(ROOT, "ms-bad-3")["field"], "args.reason");

    hq.publish(&topic, status("ms-1", r#"{"message_id":1,"status":"delivered","at":"2026-11-26T02:00:00Z"}"#));
    let r = hq.reply(ROOT, "ms-1");
    assert_eq!((r["status"].as_str(), r["state"].as_str(), r["changed"].as_bool()), (Some("applied"), Some("delivered"), Some(true)), "{r}");
    hq.publish(&topic, status("ms-2", r#"{"message_id":1,"status":"clicked"}"#));
    let r = hq.reply(ROOT, "ms-2");
    assert_eq!((r["status"].as_str(), r["clicked"].as_bool()), (Some("applied"), Some(true)), "{r}");
    // Delivered again: a success that changes nothing.
    hq.publish(&topic, status("ms-3", r#"{"message_id":1,"status":"delivered"}"#));
    assert_eq!(hq.reply(ROOT, "ms-3")["changed"], false);
    // Failed after delivered: refused.
    hq.publish(&topic, status("ms-4", r#"{"message_id":1,"status":"failed","reason":"用户拒收"}"#));
    let r = hq.reply(ROOT, "ms-4");
    assert_eq!((r["status"].as_str(), r["field"].as_str()), (Some("refused"), Some("args.status")), "{r}");

    let list: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "list"])).unwrap();
    assert_eq!(list[0]["state"], "delivered");
    assert_eq!(list[0]["delivered_at"], "2026-11-26T02:00:00Z");
    assert!(list[0]["clicked_at"].is_string(), "{list}");

    let changed = format!("/evt/{EVENT_STATUS_CHANGED}");
    hq.wait_until(Duration::from_secs(20), "two status_changed events", |msgs| msgs.iter().filter(|m| m.topic.ends_with(&changed)).count() == 2);
    let events: Vec<Value> = hq.on(&changed).iter().map(|m| m.json()["data"].clone()).collect();
    assert_eq!((events[0]["status"].as_str(), events[0]["state"].as_str()), (Some("delivered"), Some("delivered")));
    assert_eq!((events[1]["status"].as_str(), events[1]["clicked"].as_bool()), (Some("clicked"), Some(true)));
}

#[test]
fn the_daemon_releases_a_held_message_when_the_quiet_hours_end() {
    // Quiet hours from the minute before now to the next whole minute at least 20 s away (shop
    // time): a message sent now is held, and the daemon's check one second into each minute
    // sends it once the window is over.
    let tmp = tempfile::tempdir().unwrap();
    let now = storehub::clock::local(Utc::now(), chrono_tz::Asia::Shanghai);
    let minute = now.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let ahead = if now.second() < 40 { 1 } else { 2 };
    let (start, end) = (minute - chrono::Duration::minutes(1), minute + chrono::Duration::minutes(ahead));
    let messages = format!("quiet_start = \"{}\"\nquiet_end = \"{}\"\n", start.format("%H:%M"), end.format("%H:%M"));
    let cfg = config_with(tmp.path(), "enabled = false", &messages);
    let data = tmp.path().join("hub");
    let _hub = Daemon::start(&cfg, &data);
    let file = tmp.path().join("templates.json");
    std::fs::write(&file, TEMPLATES).unwrap();
    ok(&cfg, &data, &["message", "templates", "import", file.to_str().unwrap()]);
    ok(&cfg, &data, &["member", "add", "--phone", "13800138000", "--name", "赵磊", "--wechat-consent"]);
    let sent = ok(&cfg, &data, &["message", "send", "wake", "--member", "1", "--var", "coupon=满200减50"]);
    assert_eq!(sent, format!("Held: message 1 waits for the end of the quiet hours, {} (shop time)\n", end.format("%Y-%m-%d %H:%M")));
    let state = || {
        let list: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "list"])).unwrap();
        list[0]["state"].as_str().unwrap().to_string()
    };
    assert_eq!(state(), "held");
    // The window ends within 80 s; the check comes a second later.
    let deadline = Instant::now() + Duration::from_secs(240);
    while state() != "requested" {
        assert!(Instant::now() < deadline, "the daemon did not release the held message");
        std::thread::sleep(Duration::from_secs(2));
    }
    let list: Value = serde_json::from_str(&ok(&cfg, &data, &["message", "list"])).unwrap();
    assert!(list[0]["held_until"].is_null() && list[0]["requested_at"].is_string(), "{list}");
}

/// `cargo test --test messages -- --ignored --nocapture measure` (add `--release` for release
/// figures): the gate's cost for a
/// campaign of N members (`STOREHUB_BENCH_MEMBERS`, default 10,000) in one commit, then the
/// release of as many held messages.
#[test]
#[ignore]
fn measure_request_and_release_for_a_campaign() {
    let n: u64 = std::env::var("STOREHUB_BENCH_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let shop = Shop::open_with(storehub::store::Durability::Relaxed);
    messages::upsert_templates(&shop.store, &templates()).unwrap();
    let rules = loyalty();
    for i in 0..n {
        let mut new = NewMember::in_store(format!("139{i:08}"), "王芳");
        new.consent_wechat = true;
        members::register(&shop.store, &new, &rules).unwrap();
    }
    let mrules = rules_for_bench();
    for (label, at) in [("requested", shanghai(25, 10, 0)), ("held", shanghai(25, 22, 0))] {
        shop.clock.set(at);
        let started = Instant::now();
        let queued = shop
            .store
            .commit(|tx| {
                let mut k = 0;
                for id in 1..=n {
                    let q = messages::request_in_tx(tx, &mrules, at, &wake(id, Some(label)))?;
                    k += usize::from(q.message_id().is_some());
                }
                Ok::<_, storehub::store::TxError<messages::MessageError>>(k)
            })
            .unwrap();
        println!("{label}: {queued} of {n} members in one commit: {:?}", started.elapsed());
    }
    let started = Instant::now();
    let released = messages::release_due(&shop.store, shanghai(26, 9, 0)).unwrap();
    println!("release_due: {released} held messages: {:?}", started.elapsed());
}

/// No weekly cap, so both rounds of the measurement reach every member.
fn rules_for_bench() -> MessageRules {
    MessageRules { weekly_cap: 0, ..rules() }
}
