//! Members' personal data at rest (PIPL, docs/privacy.md): with a PII key, a shop registers a
//! member (phone, name, birthday), sells to them, queues a message and opens a ticket; then every
//! file under the data dir, read as raw bytes (sled's files, the journal, snapshots), holds
//! neither the phone number as ASCII digits nor the name as UTF-8 — after a restart and after a
//! key rotation too — while the member is still found by phone. Without the key the database
//! refuses to open (exit 78, naming the key id). A schema-2 database with plaintext members is
//! migrated: sealed, its phone index rekeyed, rewritten fresh, its old journal and snapshots gone.
//!
//! The shop clock starts at 09:00 UTC on 25 November 2026.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use storehub::catalog::{Product, Unit};
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::config::Config;
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::members::messages::{self, MessageRules, Outgoing};
use storehub::members::tickets::{self, NewTicket, TicketChannel, TicketKind, TicketRules};
use storehub::members::{self, Channel, LoyaltyRules, NewMember};
use storehub::privacy::{self, PiiKey};
use storehub::store::{Durability, Store};

use common::*;

const PHONE: &str = "13912345678";
const NAME: &str = "欧阳娜娜";

/// The key ring is process-wide; under `cargo test` the tests of this file share one process.
static KEYRING: Mutex<()> = Mutex::new(());

fn fresh_key(byte: u8) -> PiiKey {
    PiiKey::from_bytes(&[byte; privacy::KEY_LEN])
}

/// Every file below `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The files below `dir` whose raw bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).unwrap().windows(needle.len()).any(|w| w == needle))
        .collect()
}

fn assert_no_pii(dir: &Path, when: &str) {
    let n = files(dir).len();
    assert!(n >= 3, "{when}: expected sled files and a journal, found {n} files");
    assert_eq!(files_containing(dir, PHONE.as_bytes()), Vec::<PathBuf>::new(), "{when}: the phone number in plain digits");
    assert_eq!(files_containing(dir, NAME.as_bytes()), Vec::<PathBuf>::new(), "{when}: the name in UTF-8");
}

fn product(sku: &str, price_fen: i64) -> Product {
    Product {
        sku: sku.into(),
        barcodes: vec![],
        name_zh: sku.into(),
        name_en: sku.into(),
        category: "grain".into(),
        unit: Unit::Piece,
        price_fen,
        member_price_fen: None,
        cost_fen: None,
        tax_bp: 900,
        supplier: None,
        reorder_point: None,
        active: true,
    }
}

const TEMPLATES: &str = r#"[
  {"id": "wake", "name": "休眠唤醒", "channel": "wechat", "wechat_template_id": "OPENTM207940503",
   "fields": {"first": "{{name}}，好久不见", "keyword1": "{{coupon}}", "remark": "{{store}}等您回来"}}
]"#;

/// A day of trade: the member registers, buys rice ¥69.90 paid by card, gets a WeChat message
/// greeting them by name, and complains in a ticket.
fn trade(store: &Arc<Store>) -> u64 {
    let cfg = Config::demo().unwrap();
    let loyalty = LoyaltyRules::for_shop(&cfg);
    load(store, &[product("rice-5kg", 6_990)]);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    storehub::staff::create_staff(store, &storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }, "correct horse", None, &cost).unwrap();
    storehub::staff::open_shift(store, "lane-1", "wang", 50_000).unwrap();
    let member = members::register(
        store,
        &NewMember {
            phone: PHONE.into(),
            name: NAME.into(),
            gender: None,
            birthday: NaiveDate::from_ymd_opt(1990, 2, 3),
            channel: Channel::InStore,
            consent_sms: true,
            consent_wechat: true,
            referral_code: None,
        },
        &loyalty,
    )
    .unwrap()
    .id;

    let lanes = Lanes::open(Arc::clone(store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    lanes.add_sku("lane-1", "rice-5kg", 1).unwrap();
    lanes.attach_member("lane-1", PHONE).unwrap();
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: vec![], tz: chrono_tz::Asia::Shanghai, loyalty };
    let total = lanes.quote("lane-1", &rules).unwrap().total_fen;
    let sale = lanes
        .pay("lane-1", &PayRequest { tenders: vec![Tender { kind: TenderKind::BankCard, amount_fen: total, reference: Some("POS-1".into()), points: None }] }, &rules)
        .unwrap();
    assert_eq!(sale.member_id, Some(member));
    drop(lanes);

    messages::upsert_templates(store, &messages::parse_templates_json(TEMPLATES.as_bytes(), "t.json").unwrap()).unwrap();
    let out = Outgoing { member_id: member, template_id: "wake".into(), campaign_id: None, vars: [("coupon".to_string(), "满200减50".to_string())].into() };
    messages::request(store, &MessageRules::from_config(&cfg), &out).unwrap();
    let m = messages::list(store, &Default::default()).unwrap();
    assert_eq!(m.len(), 1);

    tickets::open(
        store,
        &TicketRules::from_config(&cfg),
        &NewTicket {
            member_id: member,
            kind: TicketKind::Complaint,
            channel: TicketChannel::InStore,
            subject: format!("{NAME} 积分没有到账"),
            note: Some(format!("电话 {PHONE}")),
            opened_by: "wang".into(),
            campaign_id: None,
        },
    )
    .unwrap();
    store.checkpoint().unwrap();
    member
}

fn found_by_phone(store: &Store) -> members::Member {
    members::find(store, PHONE).unwrap().expect("the member is found by phone")
}

#[test]
fn raw_files_hold_neither_phone_nor_name_after_a_restart_and_a_rotation_and_need_the_key() {
    let _one = KEYRING.lock().unwrap_or_else(|e| e.into_inner());
    privacy::forget_all();
    let old = privacy::install(fresh_key(1));
    let shop = Shop::open();
    let store = Arc::new(shop.store);
    let member = trade(&store);
    let m = found_by_phone(&store);
    assert_eq!((m.id, m.name.as_str(), m.birthday), (member, NAME, NaiveDate::from_ymd_opt(1990, 2, 3)));
    assert_eq!(store.pii_key_id().unwrap(), Some(old.id_hex()));
    let store = Arc::try_unwrap(store).ok().expect("no other handle");
    drop(store);
    let dir = shop.dir;
    assert_no_pii(dir.path(), "after the day's trade");

    // A restart (the daemon's next start): nothing to seal, the member reads back.
    let clock = shop.clock;
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert_eq!(found_by_phone(&store).name, NAME);
    assert_eq!(tickets::ticket(&store, 1).unwrap().unwrap().subject, format!("{NAME} 积分没有到账"));
    drop(store);
    assert_no_pii(dir.path(), "after a restart");

    // A rotation: the old key may still open, the new one seals; the open re-seals everything.
    privacy::install_old(fresh_key(1));
    let new = privacy::install(fresh_key(2));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert_eq!(store.pii_key_id().unwrap(), Some(new.id_hex()));
    assert_eq!(found_by_phone(&store).id, member);
    assert_eq!(messages::list(&store, &Default::default()).unwrap().len(), 1);
    assert!(storehub::verify::verify(&store).unwrap().ok());
    drop(store);
    assert_no_pii(dir.path(), "after a key rotation");

    // Only the new key now: the database opens. Without any key it refuses, naming the key.
    privacy::forget_all();
    privacy::install(fresh_key(2));
    let store = open_store(dir.path(), &clock, Durability::Durable);
    assert_eq!(found_by_phone(&store).id, member);
    drop(store);
    privacy::forget_all();
    let err = retry_while_locked(|| Store::open(options(dir.path(), &clock, Durability::Durable))).err().expect("refused without the key");
    let text = err.to_string();
    assert!(text.contains(&format!("sealed with PII key {}", new.id_hex())) && text.contains("[privacy].key_file"), "{text}");
    // The binary says the same and exits 78 (a config error).
    let out = storehub_cmd(&["--data-dir", dir.path().to_str().unwrap(), "member", "show", PHONE]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains(&new.id_hex()), "{}", stderr(&out));
}

/// A schema-2 database (before sealing: plaintext members and `phone/<digits>` keys, the last
/// release's format) opened with a key: migrated to 3, sealed, rekeyed and rewritten fresh, its
/// old journal segments and snapshots removed; the member is still found by phone.
#[test]
fn a_schema_2_database_is_sealed_and_rewritten_at_open() {
    let _one = KEYRING.lock().unwrap_or_else(|e| e.into_inner());
    privacy::forget_all();
    let shop = Shop::open();
    let store = Arc::new(shop.store);
    let member = trade(&store);
    store.snapshot(4).unwrap();
    let store = Arc::try_unwrap(store).ok().expect("no other handle");
    drop(store);
    let dir = shop.dir;
    assert!(!files_containing(dir.path(), PHONE.as_bytes()).is_empty(), "without a key the data is plaintext");
    let snapshots = dir.path().join("snapshots");
    assert!(std::fs::read_dir(&snapshots).unwrap().count() > 0, "a snapshot was written");
    {
        // Mark it as written by the previous release (schema version 2: tag 1, postcard 2).
        let db = open_raw_sled(&storehub::store::db_path(dir.path()));
        db.open_tree("meta").unwrap().insert("schema_version", &[1u8, 2]).unwrap();
        db.flush().unwrap();
    }

    let key = privacy::install(fresh_key(9));
    let store = open_store(dir.path(), &shop.clock, Durability::Durable);
    assert_eq!(store.pii_key_id().unwrap(), Some(key.id_hex()));
    assert_eq!(found_by_phone(&store).id, member);
    assert!(storehub::verify::verify(&store).unwrap().ok());
    drop(store);
    assert_eq!(std::fs::read_dir(&snapshots).unwrap().count(), 0, "pre-migration snapshots removed");
    assert_no_pii(dir.path(), "after the migration");
}
