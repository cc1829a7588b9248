//! Recommendations end to end: real sales through a lane (one returned in full), the nightly
//! mining run with the worked numbers of `domain::assoc`'s basket table, "also bought" and
//! personal suggestions with their reasons, the campaign target "bought X but never Y", the CLI
//! (`recommend …`, `analytics recommend-eval`) with its bad input, the web API and the offline
//! evaluation on a simulated shop with planted associations.

mod common;

use std::sync::Arc;

use storehub::catalog::Product;
use storehub::checkout::returns::{self, ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::checkout::{Lanes, PayRequest, SaleRules};
use storehub::clock::ManualClock;
use storehub::domain::assoc::ItemKey;
use storehub::domain::campaign::{BoughtButNever, Target};
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::members::recommend::{self as reco, RecommendSettings};
use storehub::members::{self, Channel, LoyaltyRules, NewMember};
use storehub::store::{Durability, Store};

use common::*;

/// A ¥10 product of `category` (otherwise `common::drink`).
fn product(sku: &str, name_zh: &str, name_en: &str, category: &str) -> Product {
    Product { name_zh: name_zh.into(), category: category.into(), price_fen: 1_000, ..drink(sku, name_en, &[], None) }
}

struct Till {
    dir: tempfile::TempDir,
    _clock: ManualClock,
    store: Arc<Store>,
    lanes: Arc<Lanes>,
    rules: SaleRules,
    members: Vec<u64>,
}

const PHONES: [&str; 3] = ["13800000001", "13800000002", "13800000003"];

fn till() -> Till {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    load(
        &store,
        &[
            product("F", "婴儿奶粉", "Infant formula", "母婴"),
            product("B", "奶瓶", "Baby bottle", "奶瓶"),
            product("D", "尿布", "Diapers", "母婴"),
            product("R", "面包", "Bread", "食品"),
            product("W", "矿泉水", "Water", "饮料"),
        ],
    );
    let cost = storehub::staff::HashCost::minimal_for_tests();
    storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }, "correct horse", None, &cost).unwrap();
    storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: "li".into(), name: "李经理".into(), role: Role::Manager }, "correct horse", None, &cost).unwrap();
    storehub::staff::open_shift(&store, "lane-1", "wang", 50_000).unwrap();
    let loyalty = LoyaltyRules::default();
    let members = PHONES
        .iter()
        .map(|p| {
            let new = NewMember { phone: (*p).into(), name: "张三".into(), gender: None, birthday: None, channel: Channel::InStore, consent_sms: false, consent_wechat: false, referral_code: None };
            members::register(&store, &new, &loyalty).unwrap().id
        })
        .collect();
    let lanes = Lanes::open(Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    let rules = SaleRules { cash_rounding: CashRounding::None, promotions: vec![], tz: chrono_tz::Asia::Shanghai, loyalty };
    Till { dir, _clock: clock, store, lanes, rules, members }
}

/// One sale at lane-1, by member number `member` (index into `PHONES`) or anonymous.
fn sell(t: &Till, member: Option<usize>, skus: &str) -> storehub::checkout::sale::Sale {
    if let Some(i) = member {
        t.lanes.attach_member("lane-1", PHONES[i]).unwrap();
    }
    for sku in skus.split(' ') {
        t.lanes.add_sku("lane-1", sku, 1).unwrap();
    }
    let total = t.lanes.quote_cart(&t.lanes.cart("lane-1").unwrap(), &t.rules).unwrap().total_fen;
    let card = Tender { kind: TenderKind::BankCard, amount_fen: total, reference: Some("POS-1".into()), points: None };
    t.lanes.pay("lane-1", &PayRequest { tenders: vec![card] }, &t.rules).unwrap()
}

/// `domain::assoc`'s table (FBD, FB, FD, FBR, R, RD, R, B, FBDR, R) plus two sales of R and W
/// whose W came back in full: 12 baskets, W in none. Member 0 bought FD, member 1 FB, member 2 R.
fn sell_the_table(t: &Till) {
    let plan: [(Option<usize>, &str); 10] =
        [(None, "F B D"), (Some(1), "F B"), (Some(0), "F D"), (None, "F B R"), (Some(2), "R"), (None, "R D"), (None, "R"), (None, "B"), (None, "F B D R"), (None, "R")];
    for (m, skus) in plan {
        sell(t, m, skus);
    }
    for _ in 0..2 {
        let sale = sell(t, None, "R W");
        let req = ReturnRequest { of: ReturnOf::Sale { sale_id: sale.id, lines: vec![ReturnLineRequest { line_no: 2, qty: 1 }] }, lane: "lane-1".into(), by: "li".into(), restock: true, reason: "坏了".into() };
        returns::return_items(&t.store, &req, &t.rules.loyalty).unwrap();
    }
}

/// Support 0 (floor: 2 baskets), confidence ≥ 50 %, lift ≥ 1.2.
fn settings() -> RecommendSettings {
    let mut s = RecommendSettings::default();
    s.config.min_support_bp = 0;
    s.config.min_confidence_bp = 5000;
    s.config.min_lift_milli = 1200;
    s
}

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

/// N = 12. F → B: 4 of F's 5 baskets (80 %), lift 4·12/(5·5) = 1.92; F → D: 3 of 5 (60 %),
/// lift 3·12/(5·4) = 1.8; D → F 75 %; D → B 2 of 4 (50 %), lift 2·12/(4·5) = 1.2 exactly. Had
/// the water stayed, W → R (2 of 2, lift 2·12/(2·10) = 1.2) would be a rule: it is not.
#[test]
fn nightly_run_mines_the_worked_rules_from_real_sales_with_returns_netted() {
    let t = till();
    sell_the_table(&t);
    let s = settings();
    let run = reco::run(&t.store, &s, today()).unwrap();
    assert_eq!((run.baskets, run.lines, run.skus, run.sku_rules), (12, 22, 4, 5));
    let f = reco::rules_for(&t.store, &ItemKey::Sku("F".into())).unwrap();
    let seen: Vec<(ItemKey, u32, u32, u32)> = f.iter().map(|r| (r.consequent.clone(), r.support_bp(), r.confidence_bp(), r.lift_milli())).collect();
    assert_eq!(seen, vec![(ItemKey::Sku("B".into()), 3333, 8000, 1920), (ItemKey::Sku("D".into()), 2500, 6000, 1800)]);
    let d = reco::rules_for(&t.store, &ItemKey::Sku("D".into())).unwrap();
    assert_eq!(d.iter().map(|r| (r.consequent.clone(), r.lift_milli())).collect::<Vec<_>>(), vec![(ItemKey::Sku("F".into()), 1800), (ItemKey::Sku("B".into()), 1200)]);
    assert!(reco::rules_for(&t.store, &ItemKey::Sku("W".into())).unwrap().is_empty());
    // 奶瓶 → 母婴: 4 of 奶瓶's 5 baskets, lift 4·12/(5·6) = 1.6.
    let bottle = reco::rules_for(&t.store, &ItemKey::Category("奶瓶".into())).unwrap();
    assert_eq!(bottle.first().map(|r| (r.consequent.clone(), r.confidence_bp(), r.lift_milli())), Some((ItemKey::Category("母婴".into()), 8000, 1600)));
    let events = events_of_type(&t.store, reco::EVENT_RULES_MINED);
    assert_eq!(events.len(), 1);
    let data = events[0].data().unwrap();
    assert_eq!((data["baskets"].as_u64(), data["sku_rules"].as_u64()), (Some(12), Some(5)));
    assert_eq!(reco::latest_run(&t.store).unwrap().map(|r| r.day), Some(today()));

    // A second run over fewer sales removes what no longer holds: a window that ends before
    // today's sales leaves no rules at all.
    let empty = reco::run(&t.store, &s, today() - chrono::Days::new(1)).unwrap();
    assert_eq!((empty.baskets, empty.rule_sets, empty.removed), (0, 0, run.rule_sets));
    assert!(reco::rules_for(&t.store, &ItemKey::Sku("F".into())).unwrap().is_empty());
}

#[test]
fn also_bought_and_personal_suggestions_carry_their_reasons() {
    let t = till();
    sell_the_table(&t);
    let s = settings();
    reco::run(&t.store, &s, today()).unwrap();
    let also = reco::also_bought(&t.store, "F", 5).unwrap();
    assert_eq!(also.iter().map(|x| x.sku.as_str()).collect::<Vec<_>>(), vec!["B", "D"]);
    assert_eq!(also[0].reason_zh, "买了 婴儿奶粉 的顾客 80% 也买 奶瓶, lift 1.9");
    assert_eq!(also[0].reason_en, "80% of shoppers who bought Infant formula also buy Baby bottle, lift 1.9");
    assert!(matches!(reco::also_bought(&t.store, "NOPE", 5), Err(reco::RecommendError::UnknownSku(_))));

    // Member 0 bought F and D today: both are left out (bought recently, not due); F → B
    // (80 %) comes first, then a best seller to fill up (R, 8 baskets).
    let mine = reco::member_suggestions(&t.store, &s, t.members[0], today(), 5).unwrap();
    assert_eq!(mine.iter().map(|x| (x.sku.as_str(), x.kind.as_str())).collect::<Vec<_>>(), vec![("B", "rule"), ("R", "popular")]);
    assert_eq!(mine[0].reason_zh, "买了 婴儿奶粉 的顾客 80% 也买 奶瓶, lift 1.9");
    assert!(matches!(reco::member_suggestions(&t.store, &s, 999, today(), 5), Err(reco::RecommendError::UnknownMember(999))));

    // Add-ons for a cart holding F: B and D by lift.
    t.lanes.add_sku("lane-1", "F", 1).unwrap();
    let addons = reco::cart_suggestions(&t.store, &["F".into()], 5).unwrap();
    assert_eq!(addons.iter().map(|x| x.sku.as_str()).collect::<Vec<_>>(), vec!["B", "D"]);
}

/// "Bought 婴儿奶粉 but never a 奶瓶": member 0 (FD) only; member 1 bought a bottle, member 2
/// never bought formula.
#[test]
fn campaign_target_bought_x_but_never_y() {
    let t = till();
    sell_the_table(&t);
    let target = Target {
        bought_but_never: Some(BoughtButNever { bought: ItemKey::Sku("F".into()), never: ItemKey::Category("奶瓶".into()) }),
        ..Target::default()
    };
    let settings = storehub::members::campaigns::CampaignSettings::default();
    let got = storehub::members::campaigns::select_targets(&t.store, &target, &settings, today()).unwrap();
    assert_eq!(got, vec![t.members[0]]);
}

/// The CLI without a daemon: mine, list, suggest; bad input names what was wrong.
#[test]
fn cli_mines_lists_and_suggests() {
    let t = till();
    sell_the_table(&t);
    let Till { dir: keep, store, lanes, .. } = t;
    let dir = keep.path().to_str().unwrap().to_string();
    drop(lanes);
    drop(store);
    let d = |args: &[&str]| {
        let mut all = vec!["--data-dir", dir.as_str()];
        all.extend_from_slice(args);
        storehub_cmd(&all)
    };
    refused(d(&["recommend", "rules"]), "no rules mined yet; `storehub recommend mine`");
    let run = ok_json(d(&["recommend", "mine", "--date", "2026-11-25"]));
    // Default thresholds: support ≥ 0.1 % (floor 2 baskets), confidence ≥ 5 %, lift ≥ 1.2.
    assert_eq!(run["baskets"], 12);
    let rules = ok_json(d(&["recommend", "rules", "--sku", "F"]));
    assert_eq!(rules["rule_sets"][0]["rules"][0]["consequent"]["sku"], "B");
    assert_eq!(rules["rule_sets"][0]["rules"][0]["lift_milli"], 1920);
    let also = ok_json(d(&["recommend", "also-bought", "F"]));
    assert_eq!(also["suggestions"][0]["sku"], "B");
    refused(d(&["recommend", "also-bought", "NOPE"]), "no product NOPE");
    refused(d(&["recommend", "for-member", "999"]), "no member 999");
    refused(d(&["analytics", "recommend-eval", "--split-days", "0"]), "--split-days: expected 1 to 365 days, got 0");
    let both = d(&["recommend", "rules", "--sku", "F", "--category", "母婴"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("cannot be used with"), "{}", stderr(&both));
}

/// The simulated shop of the evaluation: 600 SKUs in 30 categories, 300 members with two
/// favourite categories (70 % of their lines), 60 planted pairs at 60 %, 120 baskets a day for
/// 120 days. Deterministic.
pub const EVAL_SPEC: storehub::bench::rules::SimSpec =
    storehub::bench::rules::SimSpec { skus: 600, categories: 30, members: 300, member_share_bp: 6000, favourite_bp: 7000, planted_pairs: 60, pair_bp: 6000, seed: 0xE7A1 };

/// On the simulated shop, personal suggestions hit (@5, 28-day holdout) clearly more members
/// than the five best sellers they did not buy recently. Prints the report (docs/benchmarks.md).
#[test]
fn personal_suggestions_beat_the_popularity_baseline_on_planted_associations() {
    let shop = Shop::open_with(Durability::Relaxed);
    let (sales, lines) = storehub::bench::rules::write_simulated_sales(&shop.store, &EVAL_SPEC, today(), 120, 120, 0, 0).unwrap();
    assert_eq!(sales, 120 * 120);
    shop.store.flush().unwrap();
    let dir = shop.data_dir().to_str().unwrap().to_string();
    drop(shop.store);
    let out = ok_json(storehub_cmd(&["--data-dir", &dir, "analytics", "recommend-eval", "--split-days", "28", "--date", "2026-11-25"]));
    println!("simulated shop: {sales} sales, {lines} lines\n{}", serde_json::to_string_pretty(&out).unwrap());
    let (personal, popular) = (out["personal_hit_rate_bp"].as_u64().unwrap(), out["popular_hit_rate_bp"].as_u64().unwrap());
    assert!(out["members"].as_u64().unwrap() >= 250, "{out}");
    assert!(personal >= popular + 3000, "personal {personal} bp vs popularity {popular} bp");
}

/// Over real HTTP: sales at lane-1, the run, then "also bought", the lane's add-ons, a member's
/// suggestions, the member page's section and the cashier page's add-on list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_and_pages_show_suggestions_with_reasons() {
    use common::web::{body, text, WebShop};
    use reqwest::StatusCode;
    use serde_json::json;
    let shop = WebShop::start().await;
    load(&shop.store, &[water(), cestbon(), drink("SKU-010004", "Ganten 570ml", &["6913956064245"], None)]);
    let c = shop.login("cashier1", Some("lane-1")).await;
    let (s, v) = body(shop.post_json(&c, "/api/v1/members", &json!({ "phone": "13800138000", "name": "王小明" })).await).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let member = v["member"]["id"].as_u64().unwrap();
    // Water and C'estbon together three times (once by the member), Ganten alone twice:
    // N = 5, the pair in 3, each in 3: lift 3·5/(3·3) = 1.67, confidence 100 %.
    let baskets: [(&[&str], bool); 5] = [(&["SKU-010001", "SKU-010003"], true), (&["SKU-010001", "SKU-010003"], false), (&["SKU-010001", "SKU-010003"], false), (&["SKU-010004"], false), (&["SKU-010004"], false)];
    for (skus, by_member) in baskets {
        if by_member {
            let (s, v) = body(shop.post_json(&c, "/api/v1/lanes/lane-1/member", &json!({ "query": "13800138000" })).await).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        for sku in skus {
            let (s, v) = body(shop.post_json(&c, "/api/v1/lanes/lane-1/items", &json!({ "sku": sku, "qty": 1 })).await).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        let (s, v) = body(shop.post_json(&c, "/api/v1/lanes/lane-1/pay", &json!({ "tenders": [{ "kind": "cash", "amount_fen": 5000 }] })).await).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (store, ctx) = (shop.store.clone(), shop.state.ctx.clone());
    let run = tokio::task::spawn_blocking(move || reco::run(&store, &ctx.recommend, today())).await.unwrap().unwrap();
    assert_eq!((run.baskets, run.sku_rules), (5, 2));

    let (s, v) = body(shop.get(&c, "/api/v1/products/SKU-010001/also-bought").await).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["suggestions"][0]["sku"], "SKU-010003");
    assert!(v["suggestions"][0]["reason_zh"].as_str().unwrap().contains("的顾客 100% 也买"), "{v}");
    let (s, v) = body(shop.get(&c, "/api/v1/products/NOPE/also-bought").await).await;
    assert_eq!((s, v["message"].as_str().map(|m| m.contains("NOPE"))), (StatusCode::NOT_FOUND, Some(true)), "{v}");

    // The lane's open cart holds water: C'estbon is its add-on.
    let (_, v) = body(shop.get(&c, "/api/v1/lanes/lane-1/suggestions").await).await;
    assert_eq!(v["suggestions"].as_array().map(Vec::len), Some(0), "an empty cart has no add-ons: {v}");
    body(shop.post_json(&c, "/api/v1/lanes/lane-1/items", &json!({ "sku": "SKU-010001", "qty": 1 })).await).await;
    let (s, v) = body(shop.get(&c, "/api/v1/lanes/lane-1/suggestions").await).await;
    assert_eq!((s, v["suggestions"][0]["sku"].as_str()), (StatusCode::OK, Some("SKU-010003")), "{v}");

    let (s, v) = body(shop.get(&c, &format!("/api/v1/members/{member}/suggestions")).await).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["suggestions"].as_array().is_some_and(|l| !l.is_empty()), "{v}");
    let (s, _) = body(shop.get(&c, "/api/v1/members/999999/suggestions").await).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, page) = text(shop.get(&c, &format!("/members/{member}")).await).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains(r#"id="suggestions""#), "the member page has the suggestions section");
    let (_, till) = text(shop.get(&c, "/cashier/lane-1").await).await;
    assert!(till.contains(r#"id="addons""#), "the cashier screen has the add-on list");
}

/// The run reads only the window: 3,000 sales from 200 days ago, then 10 today; it decodes the 10,
/// then the 1,000 older ones that end the scan (`OLDER_IN_A_ROW`), never the other 2,000.
#[test]
fn the_nightly_run_reads_only_the_window() {
    let shop = Shop::open_with(Durability::Relaxed);
    let old = today() - chrono::Days::new(200);
    storehub::bench::rules::write_simulated_sales(&shop.store, &EVAL_SPEC, old, 1, 3000, 0, 0).unwrap();
    storehub::bench::rules::write_simulated_sales(&shop.store, &EVAL_SPEC, today(), 1, 10, 0, 3000).unwrap();
    let run = reco::run(&shop.store, &RecommendSettings::default(), today()).unwrap();
    assert_eq!((run.baskets, run.sales_read), (10, 10 + reco::OLDER_IN_A_ROW as u64));
}
