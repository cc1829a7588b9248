//! The dashboard's figures for today (shop-local), and the cache that keeps them.
//!
//! **Cache rule.** The figures are kept with the key (newest outbox sequence committed, shop-local
//! date) they were computed at. Every commit that changes a sale, return, void, stock level,
//! product or member emits an outbox event in the same commit, and the store moves its outbox
//! watch (`Store::watch_outbox`) before the commit returns; so figures whose key still matches
//! are exactly what a new computation would give. A request with a matching key is answered
//! from the cache (a lock and a compare); otherwise one caller computes (others wait for it and
//! take its result) and the key is read *before* the store is, so a commit that lands during the
//! computation makes the next request compute again rather than be missed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use super::{facts, ReportSetup};
use crate::domain::reports::{self as r, DateRange, HourBucket, LowStockRow, ProductRow, StockFact, Totals};
use crate::store::{Store, StoreError};

/// Products in each top list.
pub const TOP_N: usize = 10;
/// Low-stock products listed (the total is given too).
pub const LOW_STOCK_LIMIT: usize = 20;

/// Today's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DashboardFigures {
    /// Shop-local date.
    pub date: NaiveDate,
    /// The newest outbox sequence the figures include (the cache key).
    pub version: u64,
    pub computed_at: DateTime<Utc>,
    pub totals: Totals,
    /// 24 hours, 0–23, by the hour a ticket was paid.
    pub hourly: Vec<HourBucket>,
    /// Best net sales today.
    pub top_by_sales: Vec<ProductRow>,
    /// Most pieces today (weighed goods are ranked by sales only).
    pub top_by_pieces: Vec<ProductRow>,
    /// Products at or below their reorder point, emptiest first.
    pub low_stock: Vec<LowStockRow>,
    pub low_stock_total: u64,
}

/// Computes today's figures (no cache).
pub fn compute(store: &Store, setup: &ReportSetup, date: NaiveDate, version: u64) -> Result<DashboardFigures, StoreError> {
    let range = DateRange::day(date);
    let totals = std::cell::RefCell::new(r::TotalsAcc::default());
    let hourly = std::cell::RefCell::new(r::HourlyAcc::default());
    let products = std::cell::RefCell::new(r::ProductsAcc::default());
    let mut on_sale = |s: &r::SaleFact| {
        totals.borrow_mut().sale(s);
        hourly.borrow_mut().sale(s);
        products.borrow_mut().sale(s);
    };
    let mut on_ret = |x: &r::ReturnFact| {
        totals.borrow_mut().ret(x);
        products.borrow_mut().ret(x);
    };
    let mut on_void = |v: &r::VoidFact| totals.borrow_mut().void(v);
    facts::feed(store, setup.tz, &range, facts::Sinks { sale: Some(&mut on_sale), ret: Some(&mut on_ret), void: Some(&mut on_void), ..Default::default() })?;
    let rows = products.into_inner().finish();
    let (low_stock, low_stock_total) = r::low_stock(stock_facts(store)?, LOW_STOCK_LIMIT);
    Ok(DashboardFigures {
        date,
        version,
        computed_at: store.clock().now(),
        totals: totals.into_inner().finish(),
        hourly: hourly.into_inner().finish(),
        top_by_sales: r::top_by_net(&rows, TOP_N),
        top_by_pieces: r::top_by_pieces(&rows, TOP_N),
        low_stock,
        low_stock_total,
    })
}

/// Active products with a reorder point, with their on-hand (0 when never stocked).
fn stock_facts(store: &Store) -> Result<Vec<StockFact>, StoreError> {
    let on_hand: HashMap<String, i64> = crate::inventory::stock_levels(store)?.into_iter().map(|l| (l.sku, l.on_hand)).collect();
    Ok(crate::catalog::all_products(store)?
        .into_iter()
        .filter(|p| p.active)
        .filter_map(|p| {
            let rp = p.reorder_point?;
            Some(StockFact { on_hand: on_hand.get(&p.sku).copied().unwrap_or(0), sku: p.sku, name_zh: p.name_zh, name_en: p.name_en, grams: p.unit == crate::catalog::Unit::Kg, reorder_point: rp })
        })
        .collect())
}

/// The cache key: (newest outbox sequence committed, shop-local date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub version: u64,
    pub date: NaiveDate,
}

/// Figures with their JSON, made once per key.
#[derive(Debug)]
pub struct Cached {
    pub key: Key,
    pub figures: DashboardFigures,
    /// `figures` serialized, spliced into answers without serializing again.
    pub json: Box<RawValue>,
}

/// The dashboard's cache (one per web server).
pub struct SummaryCache {
    outbox: tokio::sync::watch::Receiver<u64>,
    tz: chrono_tz::Tz,
    slot: Mutex<Option<Arc<Cached>>>,
    computing: Mutex<()>,
    computed: AtomicU64,
}

impl SummaryCache {
    pub fn new(store: &Store, tz: chrono_tz::Tz) -> SummaryCache {
        SummaryCache { outbox: store.watch_outbox(), tz, slot: Mutex::new(None), computing: Mutex::new(()), computed: AtomicU64::new(0) }
    }

    /// The key as of now.
    pub fn key(&self, store: &Store) -> Key {
        Key { version: *self.outbox.borrow(), date: crate::clock::local(store.clock().now(), self.tz).date() }
    }

    /// The cached figures if they are still current for `key` (cheap: no store access).
    pub fn fresh(&self, key: Key) -> Option<Arc<Cached>> {
        let slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().filter(|c| c.key.date == key.date && c.key.version >= key.version).cloned()
    }

    /// Current figures: from the cache, or computed now (blocking: call off the async threads).
    pub fn get(&self, store: &Store, setup: &ReportSetup) -> Result<Arc<Cached>, StoreError> {
        let key = self.key(store);
        if let Some(c) = self.fresh(key) {
            return Ok(c);
        }
        let _one_at_a_time = self.computing.lock().unwrap_or_else(|e| e.into_inner());
        // Someone may have computed while this caller waited; the key is read again so a commit
        // made meanwhile is included.
        let key = self.key(store);
        if let Some(c) = self.fresh(key) {
            return Ok(c);
        }
        let figures = compute(store, setup, key.date, key.version)?;
        let json = serde_json::value::to_raw_value(&figures).map_err(|e| StoreError::Encode(format!("dashboard figures: {e}")))?;
        let cached = Arc::new(Cached { key, figures, json });
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&cached));
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok(cached)
    }

    /// How many times the figures were computed (tests and benchmarks look).
    pub fn computations(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}
