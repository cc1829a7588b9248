//! HQ commands driven straight through `Commands::handle` / `run_due` on a real store in a temp
//! dir (the relay's MQTT side is tested elsewhere): each command's effect and reply, schema
//! errors that change nothing, the same id applied once, ids reused for other content, price
//! changes held until opening time on the shop clock, and Ed25519 signatures required, absent,
//! forged, tampered and valid.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026 (17:00 in Shanghai). "Opening time
//! tomorrow" is 2026-11-26T07:00:00+08:00 = 23:00 UTC on the 25th.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::{apply, bananas, cestbon, events_of_type, load, newest_seq, water, Shop};
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};
use storehub::catalog;
use storehub::clock::ManualClock;
use storehub::cloud::commands::{self, signature, CommandReply, CommandState, Commands, Outcome};
use storehub::cloud::LiveSettings;
use storehub::config::Config;
use storehub::coupons::{self, CouponTemplate, Validity};
use storehub::domain::barcode::classify_catalog_code;
use storehub::domain::pricing::CouponKind;
use storehub::domain::stock::MoveKind;
use storehub::inventory;
use storehub::members::{self, LoyaltyRules, NewMember};
use storehub::promotions;
use storehub::store::Store;
use tempfile::TempDir;

/// A hub: the demo config, a store on a manual clock, its live settings and its commands.
struct Hub {
    dir: TempDir,
    clock: ManualClock,
    store: Arc<Store>,
    cfg: Config,
    live: Arc<LiveSettings>,
    commands: Commands,
}

impl Hub {
    fn new() -> Hub {
        Hub::with(Config::demo().expect("demo config"))
    }

    fn with(cfg: Config) -> Hub {
        let Shop { dir, clock, store, .. } = Shop::open();
        let store = Arc::new(store);
        let live = Arc::new(LiveSettings::from_config(&cfg));
        let commands = Commands::new(store.clone(), &cfg, live.clone()).expect("commands");
        Hub { dir, clock, store, cfg, live, commands }
    }

    /// Closes everything and opens the same data dir again, as a restart does.
    fn restart(self) -> Hub {
        let Hub { dir, clock, store, cfg, commands, .. } = self;
        drop(commands);
        let store = Arc::try_unwrap(store).ok().expect("the only handle on the store");
        let shop = Shop { dir, clock, store, durability: storehub::store::Durability::Durable }.reopen();
        let store = Arc::new(shop.store);
        let live = Arc::new(LiveSettings::from_config(&cfg));
        let commands = Commands::new(store.clone(), &cfg, live.clone()).expect("commands");
        Hub { dir: shop.dir, clock: shop.clock, store, cfg, live, commands }
    }

    fn send(&self, name: &str, command: Value) -> CommandReply {
        self.commands.handle(name, command.to_string().as_bytes())
    }

    fn send_raw(&self, name: &str, payload: &str) -> CommandReply {
        self.commands.handle(name, payload.as_bytes())
    }

    fn rules(&self) -> LoyaltyRules {
        LoyaltyRules::for_shop(&self.cfg)
    }
}

fn status(r: &CommandReply) -> &str {
    r.body["status"].as_str().unwrap_or("")
}

fn assert_refused(r: &CommandReply, field: &str, error_contains: &str) {
    assert_eq!(r.outcome, Outcome::Refused, "{}", r.body);
    assert_eq!(status(r), "refused");
    assert_eq!(r.body["field"], json!(field), "{}", r.body);
    let error = r.body["error"].as_str().unwrap_or("");
    assert!(error.contains(error_contains), "error {error:?} should contain {error_contains:?}");
}

fn price_of(store: &Store, sku: &str) -> (i64, Option<i64>) {
    let p = catalog::product(store, sku).unwrap().expect("product");
    (p.price_fen, p.member_price_fen)
}

/// Coca-Cola 330ml as HQ sends it (only the required fields and a member price).
fn cola(sku: &str, barcode: &str) -> Value {
    json!({"sku": sku, "barcodes": [barcode], "name_zh": "可口可乐 330ml", "name_en": "Coca-Cola 330ml",
           "category": "饮料", "unit": "piece", "price_fen": 350, "member_price_fen": 300, "tax_bp": 1300})
}

const COLA_EAN: &str = "6954767423456";

fn key_pair() -> (Ed25519KeyPair, String) {
    let (pem, public) = signature::generate_pem().unwrap();
    (signature::load_pem(pem.as_bytes()).unwrap(), public)
}

fn signed_hub(keys: &[&str]) -> Hub {
    let mut cfg = Config::demo().unwrap();
    cfg.mqtt.require_signed_commands = true;
    cfg.mqtt.command_keys = keys.iter().map(|k| k.to_string()).collect();
    Hub::with(cfg)
}

// --- each command ----------------------------------------------------------------------------

#[test]
fn ping_answers_pong_with_the_shop_time_and_version() {
    let hub = Hub::new();
    let r = hub.send("ping", json!({"id": "ping-1"}));
    assert_eq!(r.outcome, Outcome::Applied);
    assert_eq!(r.id, "ping-1");
    assert_eq!(r.body["pong"], json!(true));
    assert_eq!(r.body["time"], json!("2026-11-25T09:00:00Z"));
    assert_eq!(r.body["version"], json!(env!("CARGO_PKG_VERSION")));
    assert_eq!(r.body["status"], json!("applied"));
    let again = hub.send("ping", json!({"id": "ping-1"}));
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(again.body["duplicate"], json!(true));
    assert_eq!(again.body["time"], json!("2026-11-25T09:00:00Z"), "the first reply, not a new pong");
}

#[test]
fn catalog_upsert_creates_then_updates_a_batch() {
    let hub = Hub::new();
    let r = hub.send("catalog.upsert", json!({"id": "cat-1", "args": {"products": [cola("SKU-030001", COLA_EAN), {
        "sku": "SKU-020009", "barcodes": ["5009"], "name_zh": "苹果", "category": "水果", "unit": "kg", "price_fen": 1290, "tax_bp": 900
    }]}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!((r.body["created"].clone(), r.body["updated"].clone()), (json!(2), json!(0)));
    let code = classify_catalog_code(COLA_EAN).unwrap();
    assert_eq!(catalog::product_by_code(&hub.store, &code).unwrap().unwrap().sku, "SKU-030001");
    assert_eq!(price_of(&hub.store, "SKU-020009"), (1290, None));
    assert_eq!(events_of_type(&hub.store, catalog::EVENT_PRODUCT_UPSERTED).len(), 2);

    let mut dearer = cola("SKU-030001", COLA_EAN);
    dearer["price_fen"] = json!(380);
    let r = hub.send("catalog.upsert", json!({"id": "cat-2", "args": {"products": [dearer]}}));
    assert_eq!((r.body["created"].clone(), r.body["updated"].clone()), (json!(0), json!(1)));
    assert_eq!(price_of(&hub.store, "SKU-030001"), (380, Some(300)));
}

#[test]
fn a_schema_error_in_the_third_product_changes_nothing() {
    let hub = Hub::new();
    let before = newest_seq(&hub.store);
    let mut bad = cola("SKU-030003", "6901234567892");
    bad["price_fen"] = json!(-5);
    let cmd = json!({"id": "cat-bad", "args": {"products": [
        cola("SKU-030001", COLA_EAN), cola("SKU-030002", "6920202888883"), bad
    ]}});
    let r = hub.send("catalog.upsert", cmd.clone());
    assert_refused(&r, "args.products[2].price_fen", "expected integer fen ≥ 0, got -5");
    assert_eq!(r.body["error"], json!("args.products[2].price_fen: expected integer fen ≥ 0, got -5"));
    assert_eq!(catalog::product_count(&hub.store), 0);
    assert_eq!(newest_seq(&hub.store), before, "no event");
    let rec = hub.commands.record("cat-bad").unwrap().unwrap();
    assert_eq!(rec.state, CommandState::Refused);
    let again = hub.send("catalog.upsert", cmd);
    assert_eq!(again.outcome, Outcome::Duplicate, "a refused id is spent too");
    assert_eq!(again.body["status"], json!("refused"));
}

#[test]
fn a_barcode_held_outside_the_batch_is_refused_and_may_move_inside_it() {
    let hub = Hub::new();
    load(&hub.store, &[water()]);
    let water_ean = water().barcodes[0].clone();
    let r = hub.send("catalog.upsert", json!({"id": "cat-1", "args": {"products": [cola("SKU-030001", &water_ean)]}}));
    assert_refused(&r, "args.products[0].barcodes[0]", "belongs to sku \"SKU-010001\"");
    assert!(catalog::product(&hub.store, "SKU-030001").unwrap().is_none());

    // The same code moves when its owner is sent without it in the same batch.
    let mut water_without = serde_json::to_value(water()).unwrap();
    water_without["barcodes"] = json!([]);
    let r = hub.send("catalog.upsert", json!({"id": "cat-2", "args": {"products": [water_without, cola("SKU-030001", &water_ean)]}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    let code = classify_catalog_code(&water_ean).unwrap();
    assert_eq!(catalog::product_by_code(&hub.store, &code).unwrap().unwrap().sku, "SKU-030001");
}

#[test]
fn catalog_delete_delists_keeps_stock_history_and_refuses_an_unknown_sku() {
    let hub = Hub::new();
    load(&hub.store, &[water(), cestbon(), bananas()]);
    assert_eq!(apply(&hub.store, MoveKind::Receipt, "SKU-010001", 24), 24);

    let r = hub.send("catalog.delete", json!({"id": "del-1", "args": {"skus": ["SKU-010001", "SKU-NOPE"]}}));
    assert_refused(&r, "args.skus[1]", "no product has sku \"SKU-NOPE\"");
    assert!(catalog::product(&hub.store, "SKU-010001").unwrap().is_some(), "the whole batch is refused");

    let r = hub.send("catalog.delete", json!({"id": "del-2", "args": {"skus": ["SKU-010001", "SKU-020001"]}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(r.body["deleted"][0], json!({"sku": "SKU-010001", "barcodes": ["6907674936533"], "on_hand": 24}));
    assert_eq!(r.body["deleted"][1]["on_hand"], json!(0));
    assert!(catalog::product(&hub.store, "SKU-010001").unwrap().is_none());
    let ean = classify_catalog_code("6907674936533").unwrap();
    assert!(catalog::product_by_code(&hub.store, &ean).unwrap().is_none(), "the barcode no longer finds it");
    let plu = classify_catalog_code("5000").unwrap();
    assert!(catalog::product_by_code(&hub.store, &plu).unwrap().is_none(), "nor the PLU");
    assert!(catalog::product(&hub.store, "SKU-010003").unwrap().is_some());
    let deleted = events_of_type(&hub.store, catalog::EVENT_PRODUCT_DELETED);
    assert_eq!(deleted.len(), 2);
    assert_eq!(deleted[0].subject.as_deref(), Some("SKU-010001"));

    // Stock history stays, and a return can still put a delisted product back on hand.
    assert_eq!(inventory::on_hand(&hub.store, "SKU-010001").unwrap(), 24);
    assert_eq!(apply(&hub.store, MoveKind::Return, "SKU-010001", 1), 25);
    // A sku that never existed still cannot move.
    assert!(inventory::move_stock(&hub.store, &common::request(MoveKind::Receipt, "SKU-NOPE", 1)).is_err());
}

#[test]
fn price_set_now_and_member_price_kept_dropped_or_set() {
    let hub = Hub::new();
    load(&hub.store, &[bananas()]);
    let r = hub.send("price.set", json!({"id": "p-1", "args": {"sku": "SKU-020001", "price_fen": 898}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!((r.body["previous_price_fen"].clone(), r.body["price_fen"].clone()), (json!(798), json!(898)));
    assert_eq!(price_of(&hub.store, "SKU-020001"), (898, Some(698)));
    let r = hub.send("price.set", json!({"id": "p-2", "args": {"sku": "SKU-020001", "price_fen": 650}}));
    assert_refused(&r, "args.member_price_fen", "member price 698 would be above the new price 650");
    assert_eq!(price_of(&hub.store, "SKU-020001"), (898, Some(698)));
    hub.send("price.set", json!({"id": "p-3", "args": {"sku": "SKU-020001", "price_fen": 650, "member_price_fen": null}}));
    assert_eq!(price_of(&hub.store, "SKU-020001"), (650, None));
    hub.send("price.set", json!({"id": "p-4", "args": {"sku": "SKU-020001", "price_fen": 650, "member_price_fen": 600}}));
    assert_eq!(price_of(&hub.store, "SKU-020001"), (650, Some(600)));
    let r = hub.send("price.set", json!({"id": "p-5", "args": {"sku": "SKU-999", "price_fen": 1}}));
    assert_refused(&r, "args.sku", "no product has sku \"SKU-999\"");
}

#[test]
fn promotion_upsert_stores_the_import_shape_and_refuses_a_bad_one_whole() {
    let hub = Hub::new();
    let p = json!({"id": "P-DRINK-10", "name_zh": "饮料9折", "name_en": "Drinks 10% off", "members_only": false,
                   "window": {"start": "2026-11-26T08:00:00", "end": "2026-12-01T00:00:00"},
                   "kind": {"kind": "category_percent", "category": "饮料", "bp": 1000}});
    let r = hub.send("promotion.upsert", json!({"id": "promo-1", "args": {"promotions": [p.clone()]}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(r.body["created"], json!(1));
    assert_eq!(promotions::promotion(&hub.store, "P-DRINK-10").unwrap().unwrap().name_en, "Drinks 10% off");

    let mut bad = p.clone();
    bad["id"] = json!("P-BAD");
    bad["kind"]["bp"] = json!(12000);
    let mut renamed = p;
    renamed["name_en"] = json!("Drinks: 10% off");
    let r = hub.send("promotion.upsert", json!({"id": "promo-2", "args": {"promotions": [renamed, bad]}}));
    assert_refused(&r, "args.promotions[1].kind.bp", "");
    assert_eq!(promotions::promotion(&hub.store, "P-DRINK-10").unwrap().unwrap().name_en, "Drinks 10% off");
    assert!(promotions::promotion(&hub.store, "P-BAD").unwrap().is_none());
}

#[test]
fn coupon_issue_to_members_of_this_store_only() {
    let hub = Hub::new();
    let rules = hub.rules();
    let wang = members::register(&hub.store, &NewMember::in_store("13800138000", "王芳"), &rules).unwrap();
    let li = members::register(&hub.store, &NewMember::in_store("13900139000", "李雷"), &rules).unwrap();
    let template = CouponTemplate {
        id: "T-200-30".into(),
        name_zh: "满200减30券".into(),
        name_en: "¥30 off a ¥200 spend".into(),
        kind: CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000 },
        min_spend_fen: 0,
        categories: vec![],
        validity: Validity::DaysAfterIssue(30),
        per_member_limit: 1,
        active: true,
    };
    coupons::upsert_templates(&hub.store, &[template]).unwrap();

    let r = hub.send("coupon.issue", json!({"id": "cpn-1", "args": {"template_id": "T-200-30", "member_ids": [wang.id, 99]}}));
    assert_refused(&r, "args.member_ids[1]", "no member 99 in this store");
    assert!(coupons::member_coupons(&hub.store, wang.id, true).unwrap().is_empty());

    let r = hub.send("coupon.issue", json!({"id": "cpn-2", "args": {"template_id": "T-200-30", "member_ids": [wang.id, li.id], "campaign": "双十二"}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(r.body["issued"], json!(2));
    let issued = events_of_type(&hub.store, coupons::EVENT_COUPON_ISSUED);
    assert_eq!(issued.len(), 2);
    let r = hub.send("coupon.issue", json!({"id": "cpn-3", "args": {"template_id": "T-200-30", "member_ids": [wang.id]}}));
    assert_eq!(r.body["issued"], json!(0), "one per member");
    assert_eq!(r.body["skipped"][0]["reason"], json!("limit_reached"));
    let r = hub.send("coupon.issue", json!({"id": "cpn-4", "args": {"template_id": "T-NOPE", "member_ids": [wang.id]}}));
    assert_refused(&r, "args.template_id", "T-NOPE");
}

#[test]
fn member_upsert_registers_new_phones_and_updates_known_ones() {
    let hub = Hub::new();
    let rules = hub.rules();
    let wang = members::register(&hub.store, &NewMember::in_store("13800138000", "王芳"), &rules).unwrap();

    let r = hub.send("member.upsert", json!({"id": "mem-1", "args": {"members": [
        {"phone": "+86 138-0013-8000", "name": "王芳芳", "birthday": "1990-03-08", "consent": {"sms": true}},
        {"phone": "13900139000", "name": "李雷", "channel": "mini_program", "gender": "male", "consent": {"wechat": true}},
        {"phone": "13700137000"}
    ]}}));
    assert_refused(&r, "args.members[2].name", "required to register 137****7000");
    assert_eq!(members::member_count(&hub.store), 1, "nothing registered");
    assert_eq!(members::member(&hub.store, wang.id).unwrap().unwrap().name, "王芳", "nothing updated");

    let r = hub.send("member.upsert", json!({"id": "mem-2", "args": {"members": [
        {"phone": "+86 138-0013-8000", "name": "王芳芳", "birthday": "1990-03-08", "consent": {"sms": true}},
        {"phone": "13900139000", "name": "李雷", "channel": "mini_program", "gender": "male", "consent": {"wechat": true}}
    ]}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(r.body["members"][0], json!({"phone": "138****8000", "member_id": wang.id, "result": "updated"}));
    assert_eq!(r.body["members"][1]["result"], json!("created"));
    let updated = members::member(&hub.store, wang.id).unwrap().unwrap();
    assert_eq!((updated.name.as_str(), updated.birthday.map(|b| b.to_string())), ("王芳芳", Some("1990-03-08".to_string())));
    assert!(updated.consent.sms.is_some());
    assert_eq!((updated.points, updated.points_debt, updated.stored_value_fen, &updated.tier), (wang.points, wang.points_debt, wang.stored_value_fen, &wang.tier));
    let li = members::find(&hub.store, "13900139000").unwrap().unwrap();
    assert_eq!((li.channel, li.gender), (members::Channel::MiniProgram, Some(members::Gender::Male)));
    assert!(li.consent.wechat.is_some() && li.consent.sms.is_none());
    assert_eq!(events_of_type(&hub.store, members::EVENT_MEMBER_REGISTERED).len(), 2);
    let profile = events_of_type(&hub.store, members::EVENT_PROFILE_UPDATED);
    assert_eq!(profile.len(), 1);
    assert!(!profile[0].data_json.contains("王芳芳"), "no names in events");

    let r = hub.send("member.upsert", json!({"id": "mem-3", "args": {"members": [{"phone": "13900139000", "points": 5000}]}}));
    assert_refused(&r, "args.members[0].points", "not accepted");
    let r = hub.send("member.upsert", json!({"id": "mem-4", "args": {"members": [{"phone": "13900139000", "name": "李雷"}]}}));
    assert_eq!(r.body["members"][0]["result"], json!("unchanged"));
}

#[test]
fn config_patch_applies_live_now_and_persists_for_the_next_start() {
    let hub = Hub::new();
    assert_eq!(hub.live.telemetry_interval_s.load(Ordering::Relaxed), 60);
    let r = hub.send("config.patch", json!({"id": "cfg-1", "args": {"set": {"mqtt.telemetry_interval_s": 30, "mqtt.inflight": 250}}}));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(r.body["applies"], json!({"mqtt.inflight": "at_restart", "mqtt.telemetry_interval_s": "now"}));
    assert_eq!(hub.live.telemetry_interval_s.load(Ordering::Relaxed), 30);
    assert_eq!(events_of_type(&hub.store, commands::config_patch::EVENT_CONFIG_PATCHED).len(), 1);

    let r = hub.send("config.patch", json!({"id": "cfg-2", "args": {"set": {"mqtt.telemetry_interval_s": 10, "mqtt.url": "mqtt://elsewhere"}}}));
    assert_refused(&r, "args.set.mqtt.url", "not a setting HQ may change");
    assert_eq!(hub.live.telemetry_interval_s.load(Ordering::Relaxed), 30);

    let hub = hub.restart();
    let overrides = commands::load_overrides(&hub.store).unwrap();
    let mut cfg = Config::demo().unwrap();
    let notes = commands::apply_overrides(&mut cfg, &overrides);
    assert_eq!((cfg.mqtt.telemetry_interval_s, cfg.mqtt.inflight), (30, 250));
    assert_eq!(notes.len(), 2, "{notes:?}");
}

// --- ids and idempotency ----------------------------------------------------------------------

#[test]
fn the_same_command_twice_applies_once() {
    let hub = Hub::new();
    let cmd = json!({"id": "cat-1", "args": {"products": [cola("SKU-030001", COLA_EAN)]}});
    let first = hub.send("catalog.upsert", cmd.clone());
    let events = newest_seq(&hub.store);
    // The same command as HQ might re-serialise it: other key order, other spacing.
    let respelled = r#"{ "args": {"products": [{"tax_bp":1300,"sku":"SKU-030001","barcodes":["6954767423456"],"name_zh":"可口可乐 330ml",
        "name_en":"Coca-Cola 330ml","category":"饮料","unit":"piece","price_fen":350,"member_price_fen":300}]}, "id": "cat-1" }"#;
    for second in [hub.send("catalog.upsert", cmd), hub.send_raw("catalog.upsert", respelled)] {
        assert_eq!(second.outcome, Outcome::Duplicate, "{}", second.body);
        assert_eq!(second.body["duplicate"], json!(true));
        assert_eq!(second.body["created"], first.body["created"]);
    }
    assert_eq!(newest_seq(&hub.store), events, "nothing written the second time");
    assert_eq!(hub.commands.stats().duplicate, 2);
}

#[test]
fn an_id_reused_for_other_content_or_another_command_is_refused() {
    let hub = Hub::new();
    load(&hub.store, &[water()]);
    hub.send("price.set", json!({"id": "p-1", "args": {"sku": "SKU-010001", "price_fen": 220}}));
    let r = hub.send("price.set", json!({"id": "p-1", "args": {"sku": "SKU-010001", "price_fen": 250}}));
    assert_refused(&r, "id", "id reused");
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 220);
    let r = hub.send("ping", json!({"id": "p-1"}));
    assert_refused(&r, "id", "different price.set command");
}

#[test]
fn payloads_without_a_readable_id_are_answered_on_invalid() {
    let hub = Hub::new();
    for (payload, field, error) in [
        ("not json", None, "not JSON"),
        ("[1,2]", None, "expected a command object"),
        (r#"{"args":{}}"#, Some("id"), "missing"),
        (r#"{"id":"a/b"}"#, Some("id"), "contains '/'"),
        (r#"{"id":""}"#, Some("id"), "empty"),
    ] {
        let r = hub.send_raw("ping", payload);
        assert_eq!(r.id, commands::INVALID_ID, "{payload}");
        assert_eq!(r.outcome, Outcome::Refused);
        assert_eq!(r.body["field"].as_str(), field, "{payload}");
        assert!(r.body["error"].as_str().unwrap().contains(error), "{payload}: {}", r.body);
    }
    let r = hub.commands.handle("ping", &[0xff, 0xfe]);
    assert_eq!((r.id.as_str(), r.body["error"].as_str()), ("invalid", Some("payload is not UTF-8 text")));
    let r = hub.send("price.sett", json!({"id": "x-1"}));
    assert_eq!(r.id, "x-1");
    assert!(r.body["error"].as_str().unwrap().starts_with("unknown command \"price.sett\""), "{}", r.body);
    let r = hub.send("ping", json!({"id": "x-2", "effective_at": "tomorrow"}));
    assert_eq!(r.body["field"], json!("effective_at"));
}

// --- effective time ---------------------------------------------------------------------------

#[test]
fn a_price_for_opening_time_is_held_then_applied_on_time() {
    let hub = Hub::new();
    load(&hub.store, &[water()]);
    let cmd = json!({"id": "p-open", "effective_at": "2026-11-26T07:00:00+08:00", "args": {"sku": "SKU-010001", "price_fen": 180}});
    let r = hub.send("price.set", cmd.clone());
    assert_eq!(r.outcome, Outcome::Held, "{}", r.body);
    assert_eq!(r.body, json!({"id": "p-open", "command": "price.set", "status": "held", "effective_at": "2026-11-25T23:00:00Z"}));
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 200, "not yet");
    assert_eq!(hub.commands.next_due(), Some(Utc.with_ymd_and_hms(2026, 11, 25, 23, 0, 0).unwrap()));
    assert!(hub.commands.run_due().is_empty());
    let again = hub.send("price.set", cmd.clone());
    assert_eq!((again.outcome, again.body["status"].as_str()), (Outcome::Duplicate, Some("held")));

    hub.clock.set(Utc.with_ymd_and_hms(2026, 11, 25, 22, 59, 59).unwrap());
    assert!(hub.commands.run_due().is_empty());
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 200);

    hub.clock.advance(Duration::seconds(1));
    let due = hub.commands.run_due();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].id.as_str(), due[0].outcome), ("p-open", Outcome::Applied));
    assert_eq!(due[0].body["applied_at"], json!("2026-11-25T23:00:00Z"));
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 180);
    assert!(hub.commands.run_due().is_empty(), "applied once");
    assert_eq!(hub.commands.next_due(), None);
    let again = hub.send("price.set", cmd);
    assert_eq!((again.outcome, again.body["status"].as_str()), (Outcome::Duplicate, Some("applied")));
    let rec = hub.commands.record("p-open").unwrap().unwrap();
    assert_eq!((rec.state, rec.command_json), (CommandState::Applied, None));

    // A time already past applies at once.
    let r = hub.send("price.set", json!({"id": "p-late", "effective_at": "2026-11-25T08:00:00+08:00", "args": {"sku": "SKU-010001", "price_fen": 190}}));
    assert_eq!(r.outcome, Outcome::Applied);
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 190);
}

#[test]
fn held_commands_fall_due_by_time_then_by_receipt_and_survive_a_restart() {
    let hub = Hub::new();
    load(&hub.store, &[water()]);
    let at = |h: u32| format!("2026-11-26T{h:02}:00:00+08:00");
    for (id, hour, price) in [("p-a", 8, 300), ("p-b", 7, 250), ("p-c", 8, 280)] {
        let r = hub.send("price.set", json!({"id": id, "effective_at": at(hour), "args": {"sku": "SKU-010001", "price_fen": price}}));
        assert_eq!(r.outcome, Outcome::Held);
    }
    let hub = hub.restart();
    hub.clock.set(Utc.with_ymd_and_hms(2026, 11, 26, 1, 0, 0).unwrap());
    let due = hub.commands.run_due();
    let ids: Vec<&str> = due.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["p-b", "p-a", "p-c"]);
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 280, "the last received of the 08:00 changes wins");
}

#[test]
fn a_held_command_that_no_longer_fits_is_refused_when_due() {
    let hub = Hub::new();
    load(&hub.store, &[water()]);
    let r = hub.send("price.set", json!({"id": "p-1", "effective_at": "2026-11-26T07:00:00+08:00", "args": {"sku": "SKU-010001", "price_fen": 180}}));
    assert_eq!(r.outcome, Outcome::Held);
    hub.send("catalog.delete", json!({"id": "d-1", "args": {"skus": ["SKU-010001"]}}));
    hub.clock.set(Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap());
    let due = hub.commands.run_due();
    assert_eq!(due.len(), 1);
    assert_refused(&due[0], "args.sku", "no product has sku");
    assert_eq!(due[0].body["effective_at"], json!("2026-11-25T23:00:00Z"));
    assert_eq!(hub.commands.record("p-1").unwrap().unwrap().state, CommandState::Refused);
    assert!(hub.commands.run_due().is_empty());
}

// --- signatures -------------------------------------------------------------------------------

#[test]
fn signed_commands_required_unsigned_forged_tampered_and_valid() {
    let (hq, hq_public) = key_pair();
    let (mallory, _) = key_pair();
    let hub = signed_hub(&[&hq_public]);
    load(&hub.store, &[water()]);
    let cmd = r#"{"id":"p-1","args":{"sku":"SKU-010001","price_fen":150}}"#;

    let r = hub.send_raw("price.set", cmd);
    assert_refused(&r, "signature", "missing: this hub accepts only commands signed");
    let r = hub.send_raw("price.set", &signature::envelope(&mallory, "price.set", cmd));
    assert_refused(&r, "signature", "does not verify");
    let tampered = signature::envelope(&hq, "price.set", cmd).replace("150", "1");
    assert_refused(&hub.send_raw("price.set", &tampered), "signature", "does not verify");
    let for_ping = signature::envelope(&hq, "ping", cmd);
    assert_refused(&hub.send_raw("price.set", &for_ping), "signature", "does not verify");
    let garbled = r#"{"signed":{"id":"p-1"},"signature":"not base64!"}"#;
    assert_refused(&hub.send_raw("price.set", garbled), "signature", "base64");
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 200);
    assert!(hub.commands.record("p-1").unwrap().is_none(), "a forged command does not spend the id");
    assert_eq!(hub.commands.stats().bad_signature, 5);

    let r = hub.send_raw("price.set", &signature::envelope(&hq, "price.set", cmd));
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 150);
    assert_eq!(hub.commands.record("p-1").unwrap().unwrap().signed_by, Some(hq_public));
}

#[test]
fn a_second_key_during_rotation_and_a_wrong_key() {
    let (old, old_public) = key_pair();
    let (new, new_public) = key_pair();
    let (other, _) = key_pair();
    let hub = signed_hub(&[&old_public, &new_public]);
    for (i, key) in [&old, &new].into_iter().enumerate() {
        let cmd = format!(r#"{{"id":"ping-{i}"}}"#);
        assert_eq!(hub.send_raw("ping", &signature::envelope(key, "ping", &cmd)).outcome, Outcome::Applied);
    }
    let r = hub.send_raw("ping", &signature::envelope(&other, "ping", r#"{"id":"ping-9"}"#));
    assert_refused(&r, "signature", "does not verify");
}

#[test]
fn optional_signatures_accept_unsigned_but_never_a_bad_signature() {
    let (hq, hq_public) = key_pair();
    let (mallory, _) = key_pair();
    let mut cfg = Config::demo().unwrap();
    cfg.mqtt.command_keys = vec![hq_public];
    let hub = Hub::with(cfg);
    assert_eq!(hub.send("ping", json!({"id": "u-1"})).outcome, Outcome::Applied);
    let r = hub.send_raw("ping", &signature::envelope(&mallory, "ping", r#"{"id":"u-2"}"#));
    assert_refused(&r, "signature", "does not verify");
    assert_eq!(hub.send_raw("ping", &signature::envelope(&hq, "ping", r#"{"id":"u-2"}"#)).outcome, Outcome::Applied);
}


#[test]
fn the_cli_makes_a_key_and_signs_what_the_hub_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("hq.pem");
    let out = common::storehub_cmd(&["cloud", "keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let again = common::storehub_cmd(&["cloud", "keygen", "--out", key.to_str().unwrap()]);
    assert!(!again.status.success(), "an existing key is never overwritten");

    let cmd = tmp.path().join("price.json");
    std::fs::write(&cmd, r#"{"id": "p-cli", "args": {"sku": "SKU-010001", "price_fen": 210}}"#).unwrap();
    let signed = common::storehub_cmd(&["cloud", "sign", "--key", key.to_str().unwrap(), "--name", "price.set", cmd.to_str().unwrap()]);
    assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    let hub = signed_hub(&[&public]);
    load(&hub.store, &[water()]);
    let r = hub.commands.handle("price.set", &signed.stdout);
    assert_eq!(r.outcome, Outcome::Applied, "{}", r.body);
    assert_eq!(price_of(&hub.store, "SKU-010001").0, 210);

    std::fs::write(&cmd, r#"{"id": "p-cli-2", "args": {"sku": "SKU-010001", "price_fen": -1}}"#).unwrap();
    let bad = common::storehub_cmd(&["cloud", "sign", "--key", key.to_str().unwrap(), "--name", "price.set", cmd.to_str().unwrap()]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("args.price_fen: expected integer fen ≥ 0, got -1; nothing was signed"), "{stderr}");
}
