//! `storehub demo --simulate-sales RATE`: simulated shoppers at the demo's lanes, through the
//! real checkout path (cart, scale, members, coupons, split tenders, returns), so the dashboard,
//! the stock triggers and HQ see a shop at work. Every sale is a real durable commit; stopping
//! between two sales loses nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{self, Product, Unit};
use crate::checkout::returns::{self, ReturnLineRequest, ReturnOf, ReturnRequest};
use crate::checkout::{Lanes, PayRequest, SaleRules, ScaleReading};
use crate::domain::staff::Role;
use crate::domain::tender::{Tender, TenderKind};
use crate::members::{self, LoyaltyRules, NewMember};
use crate::staff::{self, StaffRef};
use crate::store::Store;

/// Demo members the shoppers are drawn from.
const MEMBERS: u64 = 60;

/// What the simulation did so far (for the log line at the end).
#[derive(Debug, Default)]
pub struct Counters {
    pub sales: AtomicU64,
    pub returns: AtomicU64,
    pub refused: AtomicU64,
}

/// Staff, shifts and members the shoppers need; created once, kept across restarts. Safe to call
/// from several threads.
pub(crate) fn prepare(store: &Store, lanes: &Lanes, loyalty: &LoyaltyRules) -> anyhow::Result<(StaffRef, Vec<String>)> {
    // The device shopper and the simulated shoppers both prepare at start: one at a time, so
    // the second finds the staff, shifts and members made and creates nothing twice.
    static PREPARING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = PREPARING.lock().unwrap_or_else(|e| e.into_inner());
    super::seed_staff(store)?;
    let cashier = StaffRef { id: "demo-cashier".into(), name: "演示收银员".into(), role: Role::Cashier };
    let lane_ids = lanes.lane_ids();
    for lane in &lane_ids {
        if staff::open_shift_for_lane(store, lane)?.is_none() {
            staff::open_shift(store, lane, "demo-cashier", 50_000).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        lanes.sign_in(lane, &cashier)?;
    }
    for m in 1..=MEMBERS {
        let phone = format!("1860000{m:04}");
        if members::find(store, &phone)?.is_none() {
            let new = NewMember { consent_sms: m % 2 == 0, consent_wechat: m % 3 == 0, ..NewMember::in_store(phone, format!("演示会员{m}")) };
            let member = members::register(store, &new, loyalty).map_err(|e| anyhow::anyhow!("{e}"))?;
            members::topup(store, member.id, 20_000 + 10_000 * (m as i64 % 3), "demo-cashier", Some("demo"), loyalty).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    Ok((cashier, lane_ids))
}

/// Runs shoppers at `rate` sales per second (over all lanes) until `stop` is set.
/// Lanes in `skip` are left alone (the demo's device lane has its own shopper).
#[allow(clippy::too_many_arguments)]
pub fn run(store: Arc<Store>, lanes: Arc<Lanes>, rules: impl Fn() -> anyhow::Result<SaleRules>, rate: f64, skip: &[String], stop: Arc<AtomicBool>, counters: Arc<Counters>) -> anyhow::Result<()> {
    let first = rules()?;
    let (_, mut lane_ids) = prepare(&store, &lanes, &first.loyalty)?;
    lane_ids.retain(|l| !skip.contains(l));
    anyhow::ensure!(!lane_ids.is_empty(), "the demo config has no lanes");
    let products: Vec<Product> = catalog::all_products(&store)?.into_iter().filter(|p| p.active).collect();
    anyhow::ensure!(!products.is_empty(), "the demo catalog is empty");
    let mut rng = fastrand::Rng::new();
    let gap = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let mut next = Instant::now();
    let mut recent: Vec<(u64, String, Vec<(u32, i64)>)> = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        next += gap;
        while let Some(wait) = next.checked_duration_since(Instant::now()) {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            std::thread::sleep(wait.min(Duration::from_millis(100)));
        }
        n += 1;
        let lane = &lane_ids[(n as usize) % lane_ids.len()];
        let rules = rules()?;
        match one_sale(&store, &lanes, lane, &products, &rules, &mut rng) {
            Ok(Some((id, lines))) => {
                counters.sales.fetch_add(1, Ordering::Relaxed);
                recent.push((id, lane.clone(), lines));
                if recent.len() > 50 {
                    recent.remove(0);
                }
            }
            Ok(None) => {}
            Err(e) => {
                counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, lane = %lane, "simulated sale refused");
                let _ = lanes.void(lane);
            }
        }
        // Now and then a shopper brings something back.
        if n.is_multiple_of(25) && !recent.is_empty() {
            let (sale_id, lane, lines) = recent.remove(rng.usize(..recent.len()));
            let (line_no, qty) = lines[rng.usize(..lines.len())];
            let req = ReturnRequest {
                of: ReturnOf::Sale { sale_id, lines: vec![ReturnLineRequest { line_no, qty }] },
                lane,
                by: "demo-manager".into(),
                restock: rng.u8(..5) != 0,
                reason: "顾客退货（演示）".into(),
            };
            if returns::return_items(&store, &req, &rules.loyalty).is_ok() {
                counters.returns.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// One shopper: 1–8 items (some weighed), maybe a member with a coupon, a split tender.
fn one_sale(store: &Store, lanes: &Lanes, lane: &str, products: &[Product], rules: &SaleRules, rng: &mut fastrand::Rng) -> anyhow::Result<Option<(u64, Vec<(u32, i64)>)>> {
    lanes.void(lane)?;
    for _ in 0..rng.usize(1..=8) {
        let p = &products[rng.usize(..products.len())];
        if p.unit == Unit::Kg {
            lanes.scale_reading(lane, ScaleReading { grams: rng.i64(150..=2_500), stable: true, at: store.clock().now() })?;
            lanes.add_weighed(lane, &p.sku)?;
        } else {
            lanes.add_sku(lane, &p.sku, rng.i64(1..=3))?;
        }
    }
    let member = (rng.u8(..10) < 4).then(|| rng.u64(1..=MEMBERS));
    if let Some(m) = member {
        lanes.attach_member(lane, &format!("1860000{m:04}"))?;
        if rng.u8(..5) == 0 {
            if let Some(c) = crate::coupons::member_coupons(store, m, false)?.first() {
                lanes.add_coupon(lane, &c.code)?;
            }
        }
    }
    let total = match lanes.quote(lane, rules) {
        Ok(q) => q.total_fen,
        Err(_) => {
            // A coupon that does not fit this basket: the shopper keeps it.
            let codes = lanes.cart(lane)?.coupons;
            for c in &codes {
                lanes.remove_coupon(lane, c)?;
            }
            lanes.quote(lane, rules)?.total_fen
        }
    };
    if total <= 0 {
        lanes.void(lane)?;
        return Ok(None);
    }
    let mut tenders = Vec::new();
    let mut due = total;
    if let Some(m) = member.and_then(|m| members::member(store, m).ok().flatten()) {
        if rng.bool() && m.stored_value_fen > 0 {
            let sv = (due / 2).min(m.stored_value_fen);
            if sv > 0 {
                tenders.push(Tender { kind: TenderKind::StoredValue, amount_fen: sv, reference: None, points: None });
                due -= sv;
            }
        }
    }
    if due > 0 {
        let t = match rng.u8(..4) {
            0 => Tender { kind: TenderKind::Cash, amount_fen: due.div_euclid(1_000) * 1_000 + 1_000, reference: None, points: None },
            1 => Tender { kind: TenderKind::WechatPay, amount_fen: due, reference: Some(format!("WX{}", rng.u64(..u64::MAX))), points: None },
            2 => Tender { kind: TenderKind::Alipay, amount_fen: due, reference: Some(format!("ALI{}", rng.u64(..u64::MAX))), points: None },
            _ => Tender { kind: TenderKind::BankCard, amount_fen: due, reference: Some(format!("POS{}", rng.u32(..))), points: None },
        };
        tenders.push(t);
    }
    let sale = lanes.pay(lane, &PayRequest { tenders }, rules)?;
    let lines = sale.lines.iter().map(|l| (l.line_no, l.qty.amount())).collect();
    Ok(Some((sale.id, lines)))
}
