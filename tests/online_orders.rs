//! Online orders end to end: a hub daemon (`storehub run`) with a real Mosquitto, HQ sending
//! signed `order.ingest` commands. A delivery order fulfilled from this store earns the member
//! points by the shop's rules, shows in `storehub sale show` with its channel and moves this
//! store's stock; a mall order fulfilled elsewhere earns points and moves none; both show in the
//! member's profile (channel mix) and the channel report. The same command again, and the same order under a new command id, change nothing and answer the same; an
//! unknown SKU, an unknown member, a negative quantity and totals that do not add up are
//! refused naming the field, with nothing changed (member, stock, events HQ receives, sales).
//!
//! The demo loyalty rules: 1 point per yuan of what was paid, double on Wednesdays (the orders
//! are dated on another day).

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::{Datelike, Utc, Weekday};
use common::broker::Hq;
use common::hub::{cli, config, ok, HubDaemon};
use serde_json::{json, Value};
use storehub::cloud::commands::signature;

const ROOT: &str = "storehub/v1/huamei/sh-xuhui-001/hub-1";
const PHONE: &str = "13800138000";

fn ok_json(cfg: &Path, data: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(cfg, data, args)).unwrap()
}

/// Everything a refused or repeated order must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    member: Value,
    water: i64,
    bananas: i64,
    chips: i64,
    next_sale: bool,
}

fn snapshot(cfg: &Path, data: &Path, next_sale_id: u64) -> Snapshot {
    let on_hand = |sku: &str| ok_json(cfg, data, &["stock", "show", sku])[0]["on_hand"].as_i64().unwrap();
    Snapshot {
        member: ok_json(cfg, data, &["member", "show", PHONE]),
        water: on_hand("SKU-010001"),
        bananas: on_hand("SKU-110003"),
        chips: on_hand("SKU-030001"),
        next_sale: cli(cfg, data, &["sale", "show", &next_sale_id.to_string()]).0,
    }
}

/// Events of `event_type` HQ has received so far.
fn received(hq: &Hq, event_type: &str) -> usize {
    hq.on(&format!("/evt/{event_type}")).len()
}

#[test]
fn hq_orders_earn_points_move_stock_only_from_store_and_are_ingested_once() {
    let tmp = tempfile::tempdir().unwrap();
    let common::hub::SignedHq { broker: _broker, hq, key, mqtt } = common::hub::signed_hq(ROOT);
    let cfg = config(tmp.path(), &mqtt, "");
    let data = tmp.path().join("hub");
    let _hub = HubDaemon::start(&cfg, &data);
    hq.wait_until(Duration::from_secs(20), "the hub online", |msgs| msgs.iter().any(|m| m.topic.ends_with("/status") && m.payload == b"online"));

    ok(&cfg, &data, &["import", "catalog", concat!(env!("CARGO_MANIFEST_DIR"), "/src/demo/catalog.csv")]);
    for (sku, qty) in [("SKU-010001", "100"), ("SKU-110003", "10000"), ("SKU-030001", "50")] {
        ok(&cfg, &data, &["stock", "move", sku, qty, "--kind", "receipt"]);
    }
    let member = ok_json(&cfg, &data, &["member", "add", "--phone", PHONE, "--name", "王芳"]);
    let member_id = member["id"].as_u64().unwrap();
    assert_eq!(member["points"], 0);

    // An hour ago, or a day earlier when that is a Wednesday (double points) in Shanghai.
    let mut at = Utc::now() - chrono::Duration::hours(1);
    if storehub::clock::local(at, chrono_tz::Asia::Shanghai).weekday() == Weekday::Wed {
        at -= chrono::Duration::days(1);
    }
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let topic = format!("{ROOT}/cmd/order.ingest");
    // Publishes a signed command and waits for a new reply on its id's topic (an id sent again
    // is answered again).
    let send = |id: &str, args: &Value| {
        let reply_topic = format!("{ROOT}/cmd-reply/{id}");
        let replies = |msgs: &[common::broker::Received]| msgs.iter().filter(|m| m.topic == reply_topic).count();
        let seen = replies(&hq.messages());
        hq.publish(&topic, signature::envelope(&key, "order.ingest", &json!({"id": id, "args": args}).to_string()));
        hq.wait_until(Duration::from_secs(20), &format!("a reply on {reply_topic}"), |msgs| replies(msgs) > seen);
        hq.reply(ROOT, id)
    };
    let order_fields = |r: &Value| -> Value {
        let mut r = r.clone();
        for k in ["id", "applied_at", "duplicate", "duplicate_order", "status", "command"] {
            r.as_object_mut().unwrap().remove(k);
        }
        r
    };

    // Meituan delivery from this store: 3 waters at ¥2.00 paid ¥5.40 (¥0.60 platform discount)
    // and 750 g of bananas at ¥6.98/kg = ¥5.235 → ¥5.24. Paid ¥10.64 → 10 points.
    let delivery = json!({
        "order_id": "MT-88001", "channel": "delivery", "platform": "meituan", "member": PHONE, "at": at,
        "lines": [{"sku": "SKU-010001", "qty": 3, "unit_price_fen": 200, "net_fen": 540},
                  {"sku": "SKU-110003", "qty": 750, "unit_price_fen": 698, "net_fen": 524}],
        "total_fen": 1064, "paid_fen": 1064, "fulfilment": "from_store"
    });
    let first = send("oi-1", &delivery);
    assert_eq!(first["status"], "applied", "{first}");
    assert_eq!(
        order_fields(&first),
        json!({"order_id": "MT-88001", "sale_id": 1, "receipt_no": "delivery-1", "member_id": member_id, "channel": "delivery",
               "fulfilment": "from_store", "total_fen": 1064, "points_earned": 10, "stock_moves": 2})
    );
    let m = ok_json(&cfg, &data, &["member", "show", PHONE]);
    assert_eq!((m["points"].as_i64(), m["visits"].as_i64(), m["spend_fen"].as_i64()), (Some(10), Some(1), Some(1064)), "{m}");
    let sale = &ok_json(&cfg, &data, &["sale", "show", "1"])["sale"];
    assert_eq!((sale["channel"].as_str(), sale["order_id"].as_str()), (Some("delivery"), Some("MT-88001")));
    assert_eq!((sale["member_id"].as_u64(), sale["cashier"].as_str(), sale["lane"].as_str()), (Some(member_id), Some("hq"), Some("delivery")));
    assert_eq!(sale["settlement"]["tenders"][0]["kind"], "online");
    assert_eq!(sale["priced"]["discount_total_fen"], 60);
    assert_eq!(sale["points_earned"], 10);
    let on_hand = |sku: &str| ok_json(&cfg, &data, &["stock", "show", sku])[0]["on_hand"].as_i64().unwrap();
    assert_eq!((on_hand("SKU-010001"), on_hand("SKU-110003")), (97, 9250), "3 waters and 750 g of bananas left the shelf");

    // The online mall ships 4 bags of chips from the warehouse: ¥30.00 → 30 points, no stock.
    let mall = json!({
        "order_id": "MALL-2026-5", "channel": "online_mall", "member": member_id, "at": at,
        "lines": [{"sku": "SKU-030001", "qty": 4, "unit_price_fen": 750, "net_fen": 3000}],
        "total_fen": 3000, "paid_fen": 3000, "fulfilment": "elsewhere"
    });
    let shipped = send("oi-2", &mall);
    assert_eq!((shipped["status"].as_str(), shipped["points_earned"].as_i64(), shipped["stock_moves"].as_i64()), (Some("applied"), Some(30), Some(0)), "{shipped}");
    assert_eq!(on_hand("SKU-030001"), 50, "fulfilled elsewhere: this store's stock does not move");
    assert_eq!(ok_json(&cfg, &data, &["member", "show", PHONE])["points"], 40);
    let sale = &ok_json(&cfg, &data, &["sale", "show", "2"])["sale"];
    assert_eq!((sale["channel"].as_str(), sale["stock_moves"].as_array().map(Vec::len)), (Some("online_mall"), Some(0)));

    // The member's profile and the channel report see both orders like any sale.
    let profile = ok_json(&cfg, &data, &["member", "profile", PHONE]);
    let mut mix: Vec<(String, u64)> = profile["channels"].as_array().unwrap().iter().map(|c| (c["channel"].as_str().unwrap().to_string(), c["tickets"].as_u64().unwrap())).collect();
    mix.sort();
    assert_eq!(mix, vec![("delivery".to_string(), 1), ("online_mall".to_string(), 1)], "{profile}");
    assert_eq!(profile["spend_fen"], 4064);
    let report = ok_json(&cfg, &data, &["report", "channels"]);
    let row = |channel: &str| report["rows"].as_array().unwrap().iter().find(|r| r["period"] == "all" && r["channel"] == channel).cloned().unwrap();
    assert_eq!((row("delivery")["tickets"].as_u64(), row("delivery")["sales_fen"].as_i64()), (Some(1), Some(1064)), "{report}");
    assert_eq!((row("online_mall")["tickets"].as_u64(), row("online_mall")["sales_fen"].as_i64()), (Some(1), Some(3000)));
    assert_eq!(row("in_store")["tickets"], 0);

    // HQ gets the sale and the order events (ids and amounts; no phone).
    hq.wait_until(Duration::from_secs(20), "two order.ingested events", |msgs| {
        msgs.iter().filter(|m| m.topic.ends_with("/evt/storehub.order.ingested")).count() == 2
    });
    let ingested = hq.on("/evt/storehub.order.ingested")[0].json();
    assert_eq!(ingested["data"]["order_id"], "MT-88001");
    assert_eq!(ingested["data"]["member_id"], member_id);
    assert_eq!(ingested["data"]["stock_moves"], 2);
    assert!(!ingested.to_string().contains(PHONE), "no phone in the event: {ingested}");
    hq.wait_until(Duration::from_secs(20), "two sale.completed events", |msgs| {
        msgs.iter().filter(|m| m.topic.ends_with("/evt/storehub.sale.completed")).count() == 2
    });

    let before = snapshot(&cfg, &data, 3);
    assert!(!before.next_sale);
    let events_before = (received(&hq, "storehub.sale.completed"), received(&hq, "storehub.order.ingested"), received(&hq, "storehub.points.earned"));

    // The same command again: the first reply, marked duplicate.
    let again = send("oi-1", &delivery);
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(order_fields(&again), order_fields(&first));
    // The same order under a new command id: the same order fields, nothing booked.
    let resent = send("oi-1-retry", &delivery);
    assert_eq!((resent["status"].as_str(), resent["duplicate_order"].as_bool()), (Some("applied"), Some(true)), "{resent}");
    assert_eq!(order_fields(&resent), order_fields(&first));
    // The same order id with other content: refused, not booked twice.
    let mut changed = delivery.clone();
    changed["lines"][0]["net_fen"] = json!(600);
    changed["total_fen"] = json!(1124);
    changed["paid_fen"] = json!(1124);
    let r = send("oi-1-changed", &changed);
    assert_eq!((r["status"].as_str(), r["field"].as_str()), (Some("refused"), Some("args.order_id")), "{r}");

    // Bad orders: refused naming the field; nothing changes.
    let bad = |id: &str, edit: &dyn Fn(&mut Value), field: &str, says: &str| {
        let mut order = delivery.clone();
        order["order_id"] = json!(format!("BAD-{id}"));
        edit(&mut order);
        let r = send(id, &order);
        assert_eq!((r["status"].as_str(), r["field"].as_str()), (Some("refused"), Some(field)), "{r}");
        let error = r["error"].as_str().unwrap_or("");
        assert!(error.contains(says), "{error:?} should say {says:?}");
    };
    bad("oi-sku", &|o| o["lines"][1]["sku"] = json!("SKU-999999"), "args.lines[1].sku", "no product \"SKU-999999\"");
    bad("oi-member", &|o| o["member"] = json!("13900139000"), "args.member", "no member with phone 139****9000");
    bad("oi-member-id", &|o| o["member"] = json!(77), "args.member", "no member with member id 77");
    bad("oi-qty", &|o| o["lines"][0]["qty"] = json!(-3), "args.lines[0].qty", "must be more than zero");
    bad("oi-total", &|o| o["total_fen"] = json!(1000), "args.total_fen", "the lines' net_fen sum to 1064");
    bad("oi-paid", &|o| o["paid_fen"] = json!(1000), "args.paid_fen", "paid in full");
    bad("oi-channel", &|o| o["channel"] = json!("in_store"), "args.channel", "made at the lanes");
    bad("oi-field", &|o| o["coupon"] = json!("C-1"), "args.coupon", "unknown field");
    bad("oi-weird-total", &|o| o["total_fen"] = json!(10.64), "args.total_fen", "integer fen");

    // Give the relay time to publish anything these commands might (wrongly) have emitted.
    hq.publish(&format!("{ROOT}/cmd/ping"), signature::envelope(&key, "ping", r#"{"id":"ping-last","args":{}}"#));
    hq.reply(ROOT, "ping-last");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(snapshot(&cfg, &data, 3), before, "duplicates and refusals changed nothing");
    let events_after = (received(&hq, "storehub.sale.completed"), received(&hq, "storehub.order.ingested"), received(&hq, "storehub.points.earned"));
    assert_eq!(events_after, events_before, "no event for a duplicate or a refused order");

    let verify: Value = serde_json::from_str(&ok(&cfg, &data, &["verify"])).unwrap();
    assert_eq!(verify["violations"], json!([]), "{verify}");
}
