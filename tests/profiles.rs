//! Member preference profiles (会员画像) end to end: real lane sales (a promotion on one line),
//! an order of another channel, a partial return, each updating the profile in its own commit;
//! the shares in worked numbers; the same categories as `category_preferences` over every stored
//! line; rebuild and rebuild_all giving back what the commits kept; the member page, the API and
//! the CLI.

mod common;

use reqwest::StatusCode;
use storehub::domain::channel::SalesChannel;
use storehub::domain::pricing::{Promotion, PromotionKind};
use storehub::domain::profile::{category_preferences, CategoryShare, SpendLine};
use storehub::domain::tender::{Tender, TenderKind};
use storehub::members::profile;
use storehub::store::{Store, TreeId};

use common::channel_sales::{commit_channel_sale, till, Till};
use common::web::{body, text, WebShop};
use common::*;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// A ¥100 face cream (护肤, 20 % off this week) and a ¥10 snack (零食).
fn products() -> Vec<storehub::catalog::Product> {
    let mut cream = drink("SKU-CREAM", "Face cream", &[], None);
    (cream.category, cream.price_fen) = ("护肤".into(), 10_000);
    let mut snack = drink("SKU-SNACK", "Rice cracker", &[], None);
    (snack.category, snack.price_fen) = ("零食".into(), 1_000);
    vec![cream, snack]
}

const PHONE: &str = "13812345678";

/// Wed 25 Nov 17:00: cream (¥80 after the promotion) and 2 snacks, ¥100. Wed 2 Dec 17:00: 3
/// snacks, ¥30. 18:00: the same 3 snacks as a delivery order. 18:30: one snack of the 2 Dec lane
/// sale comes back (¥10). A guest buys a snack too. Gives the till and the member.
fn the_month() -> (Till, u64) {
    let cream_week = Promotion { id: "P-CREAM".into(), name_zh: "护肤周".into(), name_en: "Skincare week".into(), window: None, members_only: false, kind: PromotionKind::ItemPercent { sku: "SKU-CREAM".into(), bp: 2_000 } };
    let t = till(&products(), vec![cream_week]);
    let member = t.register(PHONE, "张三");
    assert_eq!(t.sell(&[("SKU-CREAM", 1), ("SKU-SNACK", 2)], Some(PHONE)).priced.total_fen, 10_000);
    t.sell(&[("SKU-SNACK", 1)], None);
    t.clock.advance(chrono::Duration::days(7));
    let second = t.sell(&[("SKU-SNACK", 3)], Some(PHONE));
    assert_eq!(second.priced.total_fen, 3_000);
    t.clock.advance(chrono::Duration::hours(1));
    commit_channel_sale(&t.store, &second, SalesChannel::Delivery, &t.rules.loyalty);
    t.clock.advance(chrono::Duration::minutes(30));
    assert_eq!(t.give_back(&second, 1, 1).refund_fen, 1_000);
    (t, member)
}

/// The member's lines as `category_preferences` takes them: every stored sale line of the
/// member, refunds of that line netted, days before `today`.
fn spend_lines(store: &Store, member: u64, today: chrono::NaiveDate) -> Vec<SpendLine> {
    let mut out = Vec::new();
    for s in storehub::checkout::sale::all_sales(store).unwrap().into_iter().filter(|s| s.member_id == Some(member)) {
        let day = storehub::clock::local(s.at, TZ).date();
        for l in &s.priced.lines {
            let refunded: i64 = s.returned.iter().filter(|r| r.line_no == l.line_no).map(|r| r.refunded_fen).sum();
            out.push(SpendLine { days_ago: (today - day).num_days() as u32, category: l.category.clone(), net_fen: l.net_fen - refunded });
        }
    }
    out
}

/// Spend ¥150 (¥100 + ¥30 + ¥30 − ¥10) over 3 tickets. On a promotion: the cream's ¥80 = 53.33 %;
/// 1 of 4 lines = 25 %. Wednesday: all 3 tickets; 17 h: 2 of 3. In store 2, delivery 1. Average
/// basket ¥50.00, items (1 + 2 + 3 + 3 − 1) ÷ 3 = 2.67. Categories, half-life 90 days, decayed to
/// 2 Dec: 护肤 ¥80 × 0.5^(7/90) = ¥75.80; 零食 ¥20 × 0.5^(7/90) + ¥30 + ¥30 − ¥10 = ¥68.95 →
/// 52.37 % and 47.63 %.
#[test]
fn the_profile_follows_sales_and_returns_as_they_commit() {
    let (t, member) = the_month();
    let p = profile::view(&t.store, member).unwrap();
    let s = &p.summary;
    assert_eq!(s.categories, vec![CategoryShare { category: "护肤".into(), share_bp: 5_237 }, CategoryShare { category: "零食".into(), share_bp: 4_763 }]);
    let ps = s.price_sensitivity;
    assert_eq!((ps.deal_share_bp, ps.promotion_share_bp, ps.coupon_share_bp, ps.deal_lines_share_bp), (5_333, 5_333, 0, 2_500));
    assert_eq!((s.preferred_weekday, s.preferred_weekday_share_bp, s.preferred_hour, s.preferred_hour_share_bp), (Some(3), 10_000, Some(17), 6_667));
    let mix: Vec<(SalesChannel, u32, i64)> = s.channels.iter().map(|c| (c.channel, c.tickets, c.share_bp)).collect();
    assert_eq!(mix, vec![(SalesChannel::InStore, 2, 6_667), (SalesChannel::Delivery, 1, 3_333)]);
    assert_eq!((s.visits, s.spend_fen, s.average_basket_fen, s.average_items), (3, 15_000, 5_000, 2.67));
    assert_eq!(s.last_purchase.map(|t| t.to_string()), Some("2026-12-02 18:00:00".into()));

    // The same categories as category_preferences over every stored line, returns netted.
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    assert_eq!(s.categories, category_preferences(&spend_lines(&t.store, member, today), profile::view(&t.store, member).unwrap().summary.half_life_days));

    // A guest's sale makes no profile; only the member has one.
    assert_eq!(t.store.count(TreeId::MemberProfiles), 1);
}

#[test]
fn rebuild_derives_the_same_profile_from_the_stored_sales() {
    let (t, member) = the_month();
    let kept = profile::view(&t.store, member).unwrap();
    assert_eq!(profile::rebuild(&t.store, member, TZ).unwrap(), kept);
    // Sales made before profiles existed: no profile stored, rebuild_all makes it.
    t.store.commit(|tx| tx.remove::<std::convert::Infallible>(TreeId::MemberProfiles, &storehub::store::codec::u64_key(member))).unwrap();
    assert_eq!(profile::view(&t.store, member).unwrap().summary.visits, 0);
    // The daemon's daily jobs derive them once per database.
    assert_eq!(profile::build_once(&t.store, TZ).unwrap(), Some(1));
    assert_eq!(profile::view(&t.store, member).unwrap(), kept);
    assert_eq!(profile::build_once(&t.store, TZ).unwrap(), None);
    assert_eq!(profile::rebuild_all(&t.store, TZ).unwrap(), 1);
    assert_eq!(profile::view(&t.store, member).unwrap(), kept);
    // A member who does not exist is refused by name.
    let err = profile::rebuild(&t.store, 99, TZ).unwrap_err().to_string();
    assert!(err.contains("no member 99"), "{err}");
}

/// A member merged into another: the survivor's profile counts both members' tickets.
#[test]
fn a_merged_members_profile_moves_to_the_survivor() {
    let (t, member) = the_month();
    let other = t.register("13900000009", "李四");
    t.sell(&[("SKU-CREAM", 2)], Some("13900000009"));
    let before = profile::view(&t.store, member).unwrap().summary;
    t.store.commit(|tx| profile::merge_tx::<std::convert::Infallible>(tx, other, member)).unwrap();
    let after = profile::view(&t.store, member).unwrap().summary;
    assert_eq!((after.visits, after.spend_fen), (before.visits + 1, before.spend_fen + 16_000));
    assert_eq!(after.categories[0].category, "护肤");
    assert_eq!(profile::profile(&t.store, other).unwrap(), None);
    // The merge marks the merged member; a rebuild then counts their sales for the survivor.
    let mut gone = storehub::members::member(&t.store, other).unwrap().unwrap();
    gone.merged_into = Some(member);
    t.store.commit(|tx| tx.put::<_, std::convert::Infallible>(TreeId::Members, &storehub::store::codec::u64_key(other), &gone)).unwrap();
    assert_eq!(profile::rebuild(&t.store, member, TZ).unwrap().summary, after);
    assert_eq!(profile::rebuild_all(&t.store, TZ).unwrap(), 1, "only the survivor has a profile");
    assert_eq!(profile::view(&t.store, member).unwrap().summary, after);
}

/// `storehub member profile` without a daemon: by phone, by id, --rebuild, --rebuild --all, and
/// someone unknown.
#[test]
fn the_cli_shows_and_rebuilds_a_profile() {
    let (t, member) = the_month();
    let dir = t.close();
    let data = dir.path().to_str().unwrap();
    let shown = ok_json(storehub_cmd(&["--data-dir", data, "member", "profile", "13812345678"]));
    assert_eq!(shown["member_id"], member);
    assert_eq!(shown["visits"], 3);
    assert_eq!(shown["average_basket_fen"], 5_000);
    assert_eq!(shown["price_sensitivity"]["deal_share_bp"], 5_333);
    assert_eq!(shown["categories"][0]["category"], "护肤");
    assert_eq!(shown["channels"][1]["channel"], "delivery");
    let rebuilt = ok_json(storehub_cmd(&["--data-dir", data, "member", "profile", &member.to_string(), "--rebuild"]));
    assert_eq!(rebuilt, shown);
    let all = ok_json(storehub_cmd(&["--data-dir", data, "member", "profile", "--rebuild", "--all"]));
    assert_eq!(all["profiles"], 1);
    refused(storehub_cmd(&["--data-dir", data, "member", "profile", "13900000000"]), "no member has phone, card or id \"13900000000\"");
    let usage = storehub_cmd(&["--data-dir", data, "member", "profile", "--all"]);
    assert_eq!(usage.status.code(), Some(2), "--all needs --rebuild: {}", stderr(&usage));
}

/// The member page's profile section and `GET /api/v1/members/{id}/profile` after a lane sale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_page_and_the_api_show_the_profile() {
    use storehub::control::lanes::LaneAction;
    use storehub::control::Request;
    let shop = WebShop::start().await;
    load(&shop.store, &products());
    let m = shop.login("manager1", None).await;
    let (_, v) = body(shop.post_json(&m, "/api/v1/members", &serde_json::json!({ "phone": "13800138000", "name": "王小明" })).await).await;
    let id = v["member"]["id"].as_u64().unwrap();
    // Before any purchase: an empty profile, said so on the page.
    let (status, page) = text(shop.get(&m, &format!("/members/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("会员画像") && page.contains("还没有消费"), "{page}");

    let lane = |action: LaneAction| storehub::control::ops::handle(&shop.store, &shop.state.ctx, Request::Lane { lane: "lane-1".into(), action }).unwrap_or_else(|e| panic!("{e}"));
    lane(LaneAction::SignIn { staff: "cashier1".into(), pin: storehub::config::Secret::new(common::web::PIN.into()) });
    lane(LaneAction::Add { sku: "SKU-SNACK".into(), qty: 2 });
    lane(LaneAction::Member { query: "13800138000".into() });
    let paid = lane(LaneAction::Pay { tenders: vec![Tender { kind: TenderKind::Cash, amount_fen: 10_000, reference: None, points: None }] });
    let total = paid.result["sale"]["priced"]["total_fen"].as_i64().unwrap();

    let (status, p) = body(shop.get(&m, &format!("/api/v1/members/{id}/profile")).await).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!((p["member_id"].as_u64(), p["visits"].as_u64(), p["average_basket_fen"].as_i64()), (Some(id), Some(1), Some(total)));
    assert_eq!(p["categories"], serde_json::json!([{ "category": "零食", "share_bp": 10_000 }]));
    assert_eq!(p["channels"][0]["channel"], "in_store");
    assert_eq!(p["preferred_hour"], 17, "opening time is 17:00 in Shanghai");
    let (status, page) = text(shop.get(&m, &format!("/members/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    for label in ["偏好品类", "价格敏感度", "常来时段", "渠道构成", "客单价", "零食", "门店", "周三"] {
        assert!(page.contains(label), "{label} missing from the member page");
    }
    // A cashier may look members up; a technician may not; nobody is 404.
    let c = shop.login("cashier1", Some("lane-1")).await;
    assert_eq!(shop.get(&c, &format!("/api/v1/members/{id}/profile")).await.status(), StatusCode::OK);
    let tech = shop.login("tech1", None).await;
    assert_eq!(shop.get(&tech, &format!("/api/v1/members/{id}/profile")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(shop.get(&m, "/api/v1/members/9999/profile").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(shop.get(&m, "/api/v1/members/abc/profile").await.status(), StatusCode::NOT_FOUND);
}
