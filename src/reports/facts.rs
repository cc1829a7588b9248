//! Reading the store for the reports: sales, returns, voids, new members and shifts of a
//! shop-local date range, turned into `domain::reports` facts one record at a time.
//!
//! All five trees are keyed by an id handed out in commit order, so their times grow with the
//! id. The first record of a range is found by a binary search on ids (about 20 point reads
//! for a million sales) and the range is read from there until the first record past its end;
//! nothing before the range is decoded. (A clock set back by hand can place a record at the
//! edge of a range on the wrong side, by as much as it was set back.)

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::checkout::lanes::CartVoid;
use crate::checkout::returns::SaleReturn;
use crate::checkout::sale::Sale;
use crate::domain::pricing::Quantity;
use crate::domain::reports::{DateRange, LineFact, Qty, ReturnFact, ReturnLineFact, ReturnedSale, SaleFact, ShiftFact, VoidFact};
use crate::members::Member;
use crate::staff::Shift;
use crate::store::{codec, Record, Store, StoreError, TreeId};

/// The UTC instant of shop-local midnight starting `d` (the first instant of the day when a
/// time zone skips midnight).
pub fn local_midnight(d: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let mut naive = d.and_time(chrono::NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&naive).earliest() {
            return t.with_timezone(&Utc);
        }
        naive += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

/// `[start, end)` in UTC of a shop-local range.
pub fn bounds(range: &DateRange, tz: chrono_tz::Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    (local_midnight(range.from, tz), local_midnight(range.to + chrono::Duration::days(1), tz))
}

/// The smallest id whose record is at or after `start`; `None` when every record is before it
/// (or the tree is empty). A hole in the ids (never made by the store) falls back to the first.
fn first_at_or_after<T: Record>(store: &Store, tree: TreeId, start: DateTime<Utc>, at: &impl Fn(&T) -> DateTime<Utc>) -> Result<Option<u64>, StoreError> {
    let Some(last) = store.scan_rev::<T>(tree).next() else { return Ok(None) };
    let (last_key, last_rec) = last?;
    if at(&last_rec) < start {
        return Ok(None);
    }
    let Some(first) = store.range_from(tree, &[]).next() else { return Ok(None) };
    let first_id = codec::key_u64(&first?.0)?;
    let (mut lo, mut hi) = (first_id, codec::key_u64(&last_key)?);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match store.get::<T>(tree, &codec::u64_key(mid))? {
            Some(r) if at(&r) < start => lo = mid + 1,
            Some(_) => hi = mid,
            None => return Ok(Some(first_id)),
        }
    }
    Ok(Some(lo))
}

/// Calls `f` with every record of `tree` whose time is in `[start, end)`, in id order.
fn each_between<T: Record>(store: &Store, tree: TreeId, (start, end): (DateTime<Utc>, DateTime<Utc>), at: impl Fn(&T) -> DateTime<Utc>, mut f: impl FnMut(T)) -> Result<(), StoreError> {
    let Some(first) = first_at_or_after(store, tree, start, &at)? else { return Ok(()) };
    for item in store.range_from(tree, &codec::u64_key(first)) {
        let (_, v) = item?;
        let rec: T = codec::decode(&v)?;
        let t = at(&rec);
        if t >= end {
            break;
        }
        if t >= start {
            f(rec);
        }
    }
    Ok(())
}

fn qty(q: Quantity) -> Qty {
    match q {
        Quantity::Units(n) => Qty::Pieces(n),
        Quantity::Grams(g) => Qty::Grams(g),
    }
}

/// A sale as a fact.
pub fn sale_fact(s: &Sale, tz: chrono_tz::Tz) -> SaleFact {
    let lines = s
        .lines
        .iter()
        .map(|l| {
            let net_fen = s.priced.lines.iter().find(|p| p.line_no == l.line_no).map_or(0, |p| p.net_fen);
            LineFact { sku: l.sku.clone(), name_zh: l.name_zh.clone(), name_en: l.name_en.clone(), category: l.category.clone(), qty: qty(l.qty), net_fen }
        })
        .collect();
    SaleFact {
        id: s.id,
        at: crate::clock::local(s.at, tz),
        lane: s.lane.clone(),
        cashier: s.cashier.clone(),
        member_id: s.member_id,
        tier: s.tier.clone(),
        total_fen: s.priced.total_fen,
        lines,
        channel: s.channel,
    }
}

/// Reads what a return needs from its sale and the catalog, remembering products.
struct ReturnLookup<'a> {
    store: &'a Store,
    products: HashMap<String, Option<crate::catalog::Product>>,
}

impl ReturnLookup<'_> {
    fn product(&mut self, sku: &str) -> Result<Option<&crate::catalog::Product>, StoreError> {
        if !self.products.contains_key(sku) {
            let p = crate::catalog::product(self.store, sku)?;
            self.products.insert(sku.to_string(), p);
        }
        Ok(self.products.get(sku).and_then(Option::as_ref))
    }

    fn fact(&mut self, r: &SaleReturn, tz: chrono_tz::Tz) -> Result<ReturnFact, StoreError> {
        let sale = match r.sale_id {
            Some(id) => crate::checkout::sale::sale(self.store, id)?,
            None => None,
        };
        let mut lines = Vec::with_capacity(r.lines.len());
        for l in &r.lines {
            let sold = sale.as_ref().and_then(|s| s.lines.iter().find(|x| Some(x.line_no) == l.line_no));
            let (category, q) = match sold {
                Some(x) => (x.category.clone(), match x.qty {
                    Quantity::Grams(_) => Qty::Grams(l.qty),
                    Quantity::Units(_) => Qty::Pieces(l.qty),
                }),
                None => match self.product(&l.sku)? {
                    Some(p) => (p.category.clone(), if p.unit == crate::catalog::Unit::Kg { Qty::Grams(l.qty) } else { Qty::Pieces(l.qty) }),
                    None => (String::new(), Qty::Pieces(l.qty)),
                },
            };
            lines.push(ReturnLineFact { sku: l.sku.clone(), category, qty: q, refund_fen: l.refund_fen });
        }
        Ok(ReturnFact {
            id: r.id,
            at: crate::clock::local(r.at, tz),
            by: r.by.clone(),
            lane: r.lane.clone(),
            refund_fen: r.refund_fen,
            sale: sale.map(|s| ReturnedSale { id: s.id, cashier: s.cashier, member_id: s.member_id, tier: s.tier, channel: s.channel }),
            lines,
        })
    }
}

/// What a report reads, and where each fact goes.
#[derive(Default)]
pub struct Sinks<'f> {
    pub sale: Option<&'f mut dyn FnMut(&SaleFact)>,
    pub ret: Option<&'f mut dyn FnMut(&ReturnFact)>,
    pub void: Option<&'f mut dyn FnMut(&VoidFact)>,
    /// (member id, shop-local registration day)
    pub member: Option<&'f mut dyn FnMut(u64, NaiveDate)>,
    pub shift: Option<&'f mut dyn FnMut(&ShiftFact)>,
}

/// Feeds the facts of `range` to the sinks that are set (each tree is read only if asked for).
pub fn feed(store: &Store, tz: chrono_tz::Tz, range: &DateRange, sinks: Sinks<'_>) -> Result<(), StoreError> {
    let b = bounds(range, tz);
    if let Some(f) = sinks.sale {
        each_between::<Sale>(store, TreeId::Sales, b, |s| s.at, |s| f(&sale_fact(&s, tz)))?;
    }
    if let Some(f) = sinks.ret {
        let mut returns = Vec::new();
        each_between::<SaleReturn>(store, TreeId::Returns, b, |r| r.at, |r| returns.push(r))?;
        let mut lookup = ReturnLookup { store, products: HashMap::new() };
        for r in &returns {
            f(&lookup.fact(r, tz)?);
        }
    }
    if let Some(f) = sinks.void {
        each_between::<CartVoid>(store, TreeId::Voids, b, |v| v.at, |v| {
            f(&VoidFact { at: crate::clock::local(v.at, tz), lane: v.lane, cashier: v.cashier, lines: v.lines, value_fen: v.value_fen })
        })?;
    }
    if let Some(f) = sinks.member {
        each_between::<Member>(store, TreeId::Members, b, |m| m.registered_at, |m| f(m.id, crate::clock::local(m.registered_at, tz).date()))?;
    }
    if let Some(f) = sinks.shift {
        each_between::<Shift>(store, TreeId::Shifts, b, |s| s.opened_at, |s| {
            f(&ShiftFact {
                id: s.id,
                lane: s.lane.clone(),
                staff: s.staff.clone(),
                opened_at: crate::clock::local(s.opened_at, tz),
                float_fen: s.float_fen,
                cash_sales_fen: s.cash_sales_fen,
                cash_refunds_fen: s.cash_refunds_fen,
                paid_in_fen: s.paid_in_fen,
                paid_out_fen: s.paid_out_fen,
                closed: s.closed.as_ref().map(|c| (crate::clock::local(c.at, tz), c.counted_fen, c.closed_by.clone())),
            })
        })?;
    }
    Ok(())
}
