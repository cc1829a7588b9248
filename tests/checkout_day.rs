//! A busy day through the checkout API: 4 lanes sell 500 sales each at the same time, with
//! members, coupons, points and stored value as tenders, and returns along the way. Afterwards
//! stock on hand, points, stored value, coupon states and the outbox reconcile exactly with what
//! the lanes were told.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use storehub::catalog::{Product, Unit};
use storehub::checkout::returns::{self, ReturnLineRequest, ReturnOf, ReturnRequest};
use storehub::checkout::sale::{self, Sale};
use storehub::checkout::{Lanes, PayRequest, SaleRules, EVENT_SALE_COMPLETED};
use storehub::clock::ManualClock;
use storehub::coupons::{self, CouponState, CouponTemplate, Validity};
use storehub::domain::pricing::{CouponKind, Quantity};
use storehub::domain::staff::Role;
use storehub::domain::tender::{CashRounding, Tender, TenderKind};
use storehub::members::{self, Channel, LoyaltyRules, NewMember};
use storehub::store::Durability;

use common::*;

const LANES: usize = 4;
const SALES_PER_LANE: usize = 500;
const MEMBERS_PER_LANE: u64 = 5;
const SKUS: usize = 12;

fn sku(i: usize) -> String {
    format!("DAY-{i:02}")
}

fn qty_of(q: Quantity) -> i64 {
    match q {
        Quantity::Units(n) | Quantity::Grams(n) => n,
    }
}

#[test]
fn four_lanes_sell_500_sales_each_and_everything_reconciles() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(opening_time());
    let store = Arc::new(open_store(dir.path(), &clock, Durability::Durable));
    let products: Vec<Product> = (0..SKUS)
        .map(|i| Product {
            sku: sku(i),
            barcodes: vec![],
            name_zh: format!("商品{i}"),
            name_en: format!("Item {i}"),
            category: if i % 4 == 0 { "drinks".into() } else { "grocery".into() },
            unit: if i == 0 { Unit::Kg } else { Unit::Piece },
            price_fen: 150 + 230 * i as i64,
            member_price_fen: (i % 3 == 0).then_some(120 + 200 * i as i64),
            cost_fen: None,
            tax_bp: 1300,
            supplier: None,
            reorder_point: None,
            active: true,
        })
        .collect();
    load(&store, &products);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    let loyalty = LoyaltyRules::default();
    storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: "mgr".into(), name: "经理".into(), role: Role::Manager }, "correct horse", None, &cost).unwrap();
    let lane_ids: Vec<String> = (0..LANES).map(|l| format!("lane-{l}")).collect();
    for (l, lane) in lane_ids.iter().enumerate() {
        let id = format!("cashier-{l}");
        storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: id.clone(), name: id.clone(), role: Role::Cashier }, "correct horse", None, &cost).unwrap();
        storehub::staff::open_shift(&store, lane, &id, 100_000).unwrap();
    }
    // Members 1..=20: member m shops at lane (m − 1) % 4, starts with ¥300 on the card and
    // 2,000 points, and holds 40 coupons of ¥5 off from ¥20.
    let template = CouponTemplate {
        id: "T-5".into(),
        name_zh: "满20减5".into(),
        name_en: "¥5 off ¥20".into(),
        kind: CouponKind::Fixed { off_fen: 500 },
        min_spend_fen: 2_000,
        categories: vec![],
        validity: Validity::DaysAfterIssue(30),
        per_member_limit: 0,
        active: true,
    };
    coupons::upsert_templates(&store, &[template]).unwrap();
    let members_n = LANES as u64 * MEMBERS_PER_LANE;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    for m in 1..=members_n {
        let new = NewMember { phone: format!("139{m:08}"), name: format!("会员{m}"), gender: None, birthday: None, channel: Channel::InStore, consent_sms: false, consent_wechat: false, referral_code: None };
        assert_eq!(members::register(&store, &new, &loyalty).unwrap().id, m);
        members::topup(&store, m, 30_000, "mgr", None, &loyalty).unwrap();
        members::adjust_points(&store, m, 2_000, "opening", "mgr", &loyalty).unwrap();
    }
    for _ in 0..40 {
        coupons::issue(&store, "T-5", &(1..=members_n).collect::<Vec<_>>(), Some("day-test"), today).unwrap();
    }
    let lanes = Lanes::open(Arc::clone(&store), &lane_ids, Vec::new(), 300).unwrap();
    let rules = SaleRules { cash_rounding: CashRounding::DownToJiao, promotions: vec![], tz: chrono_tz::Asia::Shanghai, loyalty: loyalty.clone() };

    // Each lane: 500 sales; every 7th sale returns part of an earlier sale of that lane.
    let results: Vec<(Vec<Sale>, Vec<storehub::checkout::returns::SaleReturn>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..LANES)
            .map(|l| {
                let (lanes, store, rules, lane) = (Arc::clone(&lanes), Arc::clone(&store), rules.clone(), lane_ids[l].clone());
                s.spawn(move || {
                    let mut rng = fastrand::Rng::with_seed(l as u64 * 7919 + 1);
                    let who = storehub::staff::StaffRef { id: format!("cashier-{l}"), name: String::new(), role: Role::Cashier };
                    lanes.sign_in(&lane, &who).unwrap();
                    let (mut sales, mut rets) = (Vec::new(), Vec::new());
                    let mut coupons_left: BTreeMap<u64, Vec<String>> = BTreeMap::new();
                    for n in 0..SALES_PER_LANE {
                        lanes.void(&lane).unwrap();
                        for _ in 0..rng.usize(1..=5) {
                            let i = rng.usize(..SKUS);
                            if i == 0 {
                                lanes.scale_reading(&lane, storehub::checkout::ScaleReading { grams: rng.i64(100..=2_000), stable: true, at: store.clock().now() }).unwrap();
                                lanes.add_weighed(&lane, &sku(0)).unwrap();
                            } else {
                                lanes.add_sku(&lane, &sku(i), rng.i64(1..=4)).unwrap();
                            }
                        }
                        let member = rng.bool().then(|| 1 + l as u64 + LANES as u64 * rng.u64(..MEMBERS_PER_LANE));
                        if let Some(m) = member {
                            lanes.attach_member(&lane, &format!("139{m:08}")).unwrap();
                            let left = coupons_left.entry(m).or_insert_with(|| {
                                coupons::member_coupons(&store, m, false).unwrap().into_iter().map(|c| c.code).collect()
                            });
                            if rng.u8(..3) == 0 {
                                if let Some(code) = left.pop() {
                                    lanes.add_coupon(&lane, &code).unwrap();
                                }
                            }
                        }
                        let total = match lanes.quote(&lane, &rules) {
                            Ok(q) => q.total_fen,
                            Err(e) if e.to_string().contains("cannot be used on this ticket") => {
                                // Coupon's minimum spend not met: hand it back.
                                let cart = lanes.cart(&lane).unwrap();
                                for c in &cart.coupons {
                                    lanes.remove_coupon(&lane, c).unwrap();
                                }
                                lanes.quote(&lane, &rules).unwrap().total_fen
                            }
                            Err(e) => panic!("lane {lane} sale {n}: {e}"),
                        };
                        let mut tenders = Vec::new();
                        let mut due = total;
                        let (points_held, card_held) = match member {
                            Some(m) => {
                                let mm = members::member(&store, m).unwrap().unwrap();
                                (mm.points, mm.stored_value_fen)
                            }
                            None => (0, 0),
                        };
                        if member.is_some() && rng.bool() {
                            let pts = (due / 10).min(500).min(points_held);
                            if pts > 0 {
                                tenders.push(Tender { kind: TenderKind::Points, amount_fen: pts, reference: None, points: None });
                                due -= pts;
                            }
                        }
                        if member.is_some() && rng.bool() {
                            let sv = (due / 3).min(2_000).min(card_held);
                            if sv > 0 {
                                tenders.push(Tender { kind: TenderKind::StoredValue, amount_fen: sv, reference: None, points: None });
                                due -= sv;
                            }
                        }
                        if rng.bool() {
                            tenders.push(Tender { kind: TenderKind::WechatPay, amount_fen: due, reference: Some(format!("WX-{l}-{n}")), points: None });
                        } else {
                            tenders.push(Tender { kind: TenderKind::Cash, amount_fen: due + rng.i64(0..=1_000), reference: None, points: None });
                        }
                        let sale = lanes.pay(&lane, &PayRequest { tenders }, &rules).unwrap_or_else(|e| panic!("lane {lane} sale {n}: {e}"));
                        sales.push(sale);
                        if n % 7 == 6 {
                            let s = &sales[rng.usize(..sales.len())];
                            let line = &s.lines[rng.usize(..s.lines.len())];
                            let done = s.returned.iter().find(|r| r.line_no == line.line_no).map_or(0, |r| r.qty);
                            let left = qty_of(line.qty) - done;
                            let q = if left > 1 { rng.i64(1..=left) } else { left };
                            if q > 0 {
                                let req = ReturnRequest {
                                    of: ReturnOf::Sale { sale_id: s.id, lines: vec![ReturnLineRequest { line_no: line.line_no, qty: q }] },
                                    lane: lane.clone(),
                                    by: "mgr".into(),
                                    restock: rng.u8(..4) != 0,
                                    reason: "day test".into(),
                                };
                                match returns::return_items(&store, &req, &rules.loyalty) {
                                    Ok(r) => rets.push(r),
                                    // Another return of this line from an older copy of the sale.
                                    Err(e) if e.to_string().contains("too many") => {}
                                    Err(e) => panic!("lane {lane} return: {e}"),
                                }
                            }
                        }
                    }
                    (sales, rets)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let acknowledged: Vec<&Sale> = results.iter().flat_map(|(s, _)| s).collect();
    let all_returns: Vec<_> = results.iter().flat_map(|(_, r)| r).collect();
    assert_eq!(acknowledged.len(), LANES * SALES_PER_LANE);

    // The store as it is now, against what the lanes were told.
    let stored = sale::all_sales(&store).unwrap();
    assert_eq!(stored.len(), LANES * SALES_PER_LANE);
    let stored_by_id: BTreeMap<u64, &Sale> = stored.iter().map(|s| (s.id, s)).collect();
    for s in &acknowledged {
        let now = stored_by_id[&s.id];
        assert_eq!((&now.priced, &now.settlement, &now.stock_moves, now.points_earned), (&s.priced, &s.settlement, &s.stock_moves, s.points_earned), "sale {}", s.id);
    }

    // Stock: every product's on-hand is −(sold) + (returned and restocked), from the receipts.
    let mut expect: BTreeMap<String, i64> = BTreeMap::new();
    for s in &stored {
        for l in &s.lines {
            *expect.entry(l.sku.clone()).or_default() -= qty_of(l.qty);
        }
    }
    for r in &all_returns {
        for l in r.lines.iter().filter(|l| l.stock_move.is_some()) {
            *expect.entry(l.sku.clone()).or_default() += l.stock_qty;
        }
    }
    for (sku, on_hand) in &expect {
        assert_eq!(storehub::inventory::on_hand(&store, sku).unwrap(), *on_hand, "{sku}");
    }

    // Points and stored value per member, from the sales as stored (returns update them).
    for m in 1..=members_n {
        let mine: Vec<&&Sale> = stored.iter().filter(|s| s.member_id == Some(m)).collect::<Vec<_>>().into_iter().map(|s| stored_by_id.get(&s.id).unwrap()).collect();
        let points: i64 = 2_000 + mine.iter().map(|s| s.points_earned - s.points_redeemed - s.points_reversed + s.points_restored).sum::<i64>();
        let member = members::member(&store, m).unwrap().unwrap();
        assert_eq!(member.points - member.points_debt, points, "member {m} points");
        let card_paid: i64 = mine.iter().flat_map(|s| &s.settlement.tenders).filter(|t| t.kind == TenderKind::StoredValue).map(|t| t.amount_fen).sum();
        let card_back: i64 = all_returns
            .iter()
            .filter(|r| r.sale_id.is_some_and(|id| stored_by_id[&id].member_id == Some(m)))
            .flat_map(|r| &r.refunds)
            .filter(|(k, _)| *k == TenderKind::StoredValue)
            .map(|(_, f)| f)
            .sum();
        // ¥300 top-up, no bonus rules by default.
        assert_eq!(member.stored_value_fen, 30_000 - card_paid + card_back, "member {m} stored value");
    }

    // Coupons: each coupon on a sale is redeemed by that sale (or back to issued after a full
    // return); every other coupon is still issued.
    let used: BTreeMap<u64, u64> = stored.iter().flat_map(|s| s.coupons.iter().map(move |c| (*c, s.id))).collect();
    assert!(used.len() > 50, "the day used coupons ({})", used.len());
    let fully_returned: BTreeSet<u64> = stored.iter().filter(|s| s.refunded_fen > 0 && s.returned.len() == s.lines.len() && s.returned.iter().all(|r| s.lines.iter().any(|l| l.line_no == r.line_no && qty_of(l.qty) == r.qty))).map(|s| s.id).collect();
    for m in 1..=members_n {
        for c in coupons::member_coupons(&store, m, true).unwrap() {
            match (used.get(&c.id), &c.state) {
                (Some(sale), CouponState::Redeemed { sale_id, .. }) => assert_eq!(sale, sale_id),
                (Some(sale), CouponState::Issued) => assert!(fully_returned.contains(sale), "coupon {} back to issued but sale {sale} was not fully returned", c.id),
                (None, CouponState::Issued) => {}
                (u, st) => panic!("coupon {} used by {u:?} is {st:?}", c.id),
            }
        }
    }

    // The outbox: one sale event per sale, one return event per return, no gaps; and verify.
    assert_eq!(events_of_type(&store, EVENT_SALE_COMPLETED).len(), LANES * SALES_PER_LANE);
    assert_eq!(events_of_type(&store, returns::EVENT_SALE_RETURNED).len(), all_returns.len());
    let seqs = outbox_seqs(&store);
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let report = storehub::verify::verify(&store).unwrap();
    assert!(report.ok(), "{:?}", report.violations);
    eprintln!("{} sales, {} returns, {} coupons used, {} events", stored.len(), all_returns.len(), used.len(), seqs.len());
}
