//! The stock ledger: every change of stock is a [`StockMove`] (sale, return, receipt, adjustment,
//! stocktake, transfer) with its reason, user and time, and on-hand per product is derived from
//! the moves inside the same transaction. Crossing a reorder point downward writes one
//! `storehub.stock.low` event.

pub mod alerts;
pub mod analysis;
pub mod demand;
pub mod policy;
pub mod purchase;
pub mod replenishment;
pub mod shelf_triggers;
pub mod stocktake;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::Product;
use crate::domain::stock::{adjustment, crosses_reorder_point, move_delta, AdjustError, AdjustReason, MoveKind, QtyError, StockChange};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// Event written for every move.
pub const EVENT_STOCK_MOVED: &str = "storehub.stock.moved";
/// Event written when on-hand crosses the reorder point downward.
pub const EVENT_STOCK_LOW: &str = "storehub.stock.low";

/// On-hand of one product, in its stock unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub sku: String,
    pub on_hand: i64,
    /// Id of the last move applied.
    pub last_move: u64,
}
impl Record for StockLevel {
    const NAME: &'static str = "stock level";
}

/// One recorded change of stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockMove {
    pub id: u64,
    pub sku: String,
    pub kind: MoveKind,
    /// Signed change of on-hand.
    pub delta: i64,
    pub on_hand_after: i64,
    pub reason: String,
    pub user: String,
    /// Sale id, purchase order, stocktake id … when the move belongs to one.
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
}
impl Record for StockMove {
    const NAME: &'static str = "stock move";
}

/// A move as requested. `qty` follows [`move_delta`]: positive for sale/receipt/return, signed
/// for adjustment/transfer, the counted figure for stocktake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMove {
    pub sku: String,
    pub kind: MoveKind,
    pub qty: i64,
    pub reason: String,
    pub user: String,
    pub reference: Option<String>,
}

/// Why a move was refused.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("unknown sku {0}")]
    UnknownSku(String),
    #[error("sku {sku}: {source}")]
    Qty { sku: String, source: QtyError },
    #[error("reason is {0} characters long; keep it under 200")]
    ReasonTooLong(usize),
    #[error(transparent)]
    Adjust(AdjustError),
}

/// Data of `storehub.stock.low`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockLow {
    pub sku: String,
    pub on_hand: i64,
    pub reorder_point: i64,
    pub move_id: u64,
}

/// Records a move inside `tx`: the move, the new on-hand, the `stock.moved` event and, on a
/// downward reorder-point crossing, the `stock.low` event.
pub fn record_move(tx: &Tx, m: &NewMove) -> Result<StockMove, TxError<InventoryError>> {
    if m.reason.chars().count() > 200 {
        return Err(TxError::Rejected(InventoryError::ReasonTooLong(m.reason.chars().count())));
    }
    // A delisted product (`catalog::delete_in_tx`) keeps its stock level, and its stock may still
    // move (a return restocks it, a stocktake writes it off); a sku never known may not.
    let product: Option<Product> = tx.get(TreeId::Products, m.sku.as_bytes())?;
    let level: Option<StockLevel> = tx.get(TreeId::Stock, m.sku.as_bytes())?;
    if product.is_none() && level.is_none() {
        return Err(TxError::Rejected(InventoryError::UnknownSku(m.sku.clone())));
    }
    let reorder_point = product.and_then(|p| p.reorder_point);
    let before = level.map(|l| l.on_hand).unwrap_or(0);
    let qty_err = |source| TxError::Rejected(InventoryError::Qty { sku: m.sku.clone(), source });
    let delta = move_delta(m.kind, m.qty, before).map_err(qty_err)?;
    let after = before.checked_add(delta).ok_or_else(|| qty_err(QtyError::Overflow))?;
    let id = tx.next_seq(TreeId::Moves)?;
    let mv = StockMove {
        id,
        sku: m.sku.clone(),
        kind: m.kind,
        delta,
        on_hand_after: after,
        reason: m.reason.clone(),
        user: m.user.clone(),
        reference: m.reference.clone(),
        at: tx.now(),
    };
    tx.put(TreeId::Moves, &codec::u64_key(id), &mv)?;
    tx.put(TreeId::Stock, m.sku.as_bytes(), &StockLevel { sku: m.sku.clone(), on_hand: after, last_move: id })?;
    tx.emit(EVENT_STOCK_MOVED, Some(&m.sku), &mv)?;
    if crosses_reorder_point(before, after, reorder_point) {
        let low = StockLow {
            sku: m.sku.clone(),
            on_hand: after,
            reorder_point: reorder_point.unwrap_or_default(),
            move_id: id,
        };
        tx.emit(EVENT_STOCK_LOW, Some(&m.sku), &low)?;
    }
    Ok(mv)
}

/// Commits one move.
pub fn move_stock(store: &Store, m: &NewMove) -> Result<StockMove, CommitError<InventoryError>> {
    store.commit(|tx| record_move(tx, m))
}

/// Commits several moves atomically (all or none).
pub fn move_stock_all(store: &Store, moves: &[NewMove]) -> Result<Vec<StockMove>, CommitError<InventoryError>> {
    store.commit(|tx| moves.iter().map(|m| record_move(tx, m)).collect())
}

/// On-hand of one product (0 when it never moved).
pub fn on_hand(store: &Store, sku: &str) -> Result<i64, StoreError> {
    Ok(store.get::<StockLevel>(TreeId::Stock, sku.as_bytes())?.map(|l| l.on_hand).unwrap_or(0))
}

/// On-hand of every product that ever moved, in sku order.
pub fn stock_levels(store: &Store) -> Result<Vec<StockLevel>, StoreError> {
    store.scan::<StockLevel>(TreeId::Stock).map(|r| r.map(|(_, l)| l)).collect()
}

/// The newest `limit` moves, optionally of one product, newest first.
pub fn recent_moves(store: &Store, sku: Option<&str>, limit: usize) -> Result<Vec<StockMove>, StoreError> {
    let mut out = Vec::new();
    for item in store.scan_rev::<StockMove>(TreeId::Moves) {
        let (_, m) = item?;
        if sku.is_none_or(|s| s == m.sku) {
            out.push(m);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Every move in id order (for audits and tests).
pub fn all_moves(store: &Store) -> Result<Vec<StockMove>, StoreError> {
    store.scan::<StockMove>(TreeId::Moves).map(|r| r.map(|(_, m)| m)).collect()
}

// --- staff screens: on-hand list, ledger pages, hand adjustments ----------------------------------

/// On-hand of one sku as the stock screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRow {
    pub sku: String,
    /// `None` for a delisted sku that still has stock.
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub unit: Option<crate::catalog::Unit>,
    /// Pieces, or grams for weighed goods.
    pub on_hand: i64,
    pub reorder_point: Option<i64>,
    /// At or below the reorder point (`domain::stock::is_low`).
    pub low: bool,
}

/// One page of the on-hand list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockPage {
    pub rows: Vec<StockRow>,
    /// Rows matching, all pages together.
    pub total: usize,
}

/// On-hand per sku for the stock screens, in sku order: every product (0 when its stock never
/// moved) and every delisted sku that still has a stock level. `query` matches the start of the
/// sku or the Chinese or English name (contains, case ignored for English); `low_only` keeps the
/// rows at or below their reorder point. Walks the catalog and the stock levels side by side.
pub fn stock_page(store: &Store, query: &str, low_only: bool, offset: usize, limit: usize) -> Result<StockPage, StoreError> {
    let q = query.trim();
    let lower = q.to_lowercase();
    let mut products = store.scan::<Product>(TreeId::Products).peekable();
    let mut levels = store.scan::<StockLevel>(TreeId::Stock).peekable();
    let mut rows = Vec::new();
    let mut total = 0;
    loop {
        let next_product = match products.peek() {
            Some(Ok((k, _))) => Some(k.clone()),
            Some(Err(_)) => return Err(products.next().and_then(Result::err).unwrap_or_else(|| StoreError::Corrupt("product scan".into()))),
            None => None,
        };
        let next_level = match levels.peek() {
            Some(Ok((k, _))) => Some(k.clone()),
            Some(Err(_)) => return Err(levels.next().and_then(Result::err).unwrap_or_else(|| StoreError::Corrupt("stock scan".into()))),
            None => None,
        };
        let (product, level) = match (next_product, next_level) {
            (None, None) => break,
            (Some(p), Some(l)) if p == l => (products.next().and_then(Result::ok), levels.next().and_then(Result::ok)),
            (Some(p), Some(l)) if p < l => (products.next().and_then(Result::ok), None),
            (Some(_), None) => (products.next().and_then(Result::ok), None),
            (_, Some(_)) => (None, levels.next().and_then(Result::ok)),
        };
        let (product, level) = (product.map(|(_, p)| p), level.map(|(_, l)| l));
        let Some(sku) = product.as_ref().map(|p| p.sku.clone()).or_else(|| level.as_ref().map(|l| l.sku.clone())) else { continue };
        let on_hand = level.map_or(0, |l| l.on_hand);
        let reorder_point = product.as_ref().and_then(|p| p.reorder_point);
        let row = StockRow {
            low: crate::domain::stock::is_low(on_hand, reorder_point),
            name_zh: product.as_ref().map(|p| p.name_zh.clone()),
            name_en: product.as_ref().map(|p| p.name_en.clone()),
            unit: product.as_ref().map(|p| p.unit),
            sku,
            on_hand,
            reorder_point,
        };
        let text_hit = q.is_empty()
            || row.sku.starts_with(q)
            || row.name_zh.as_deref().is_some_and(|n| n.contains(q))
            || row.name_en.as_deref().is_some_and(|n| n.to_lowercase().contains(&lower));
        if text_hit && (!low_only || row.low) {
            if total >= offset && rows.len() < limit {
                rows.push(row);
            }
            total += 1;
        }
    }
    Ok(StockPage { rows, total })
}

/// One page of the stock ledger, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovesPage {
    pub moves: Vec<StockMove>,
    /// Pass as `before` for the next (older) page; `None` at the oldest move.
    pub next_before: Option<u64>,
    /// The walk stopped after `max_scanned` moves without filling the page (a rarely moved
    /// sku in a long ledger); `next_before` continues from where it stopped.
    pub truncated: bool,
}

/// Moves read per step when walking the ledger backwards.
const MOVES_WINDOW: u64 = 256;

/// Moves with ids below `before` (all when `None`), newest first, optionally of one sku, at most
/// `limit`, looking at no more than about `max_scanned` moves (whole windows of ids). Moves are
/// keyed by id, so the walk goes back in windows of ids, reading only what it needs.
pub fn moves_page(store: &Store, sku: Option<&str>, before: Option<u64>, limit: usize, max_scanned: usize) -> Result<MovesPage, StoreError> {
    let newest = match store.scan_rev::<StockMove>(TreeId::Moves).next() {
        Some(item) => item?.1.id,
        None => return Ok(MovesPage { moves: Vec::new(), next_before: None, truncated: false }),
    };
    // Ids are dense (a rejected commit takes none), so walking ids is walking moves.
    let mut top = before.unwrap_or(u64::MAX).min(newest.saturating_add(1));
    let mut moves = Vec::new();
    let mut scanned = 0usize;
    while top > 1 && moves.len() < limit {
        if scanned >= max_scanned {
            return Ok(MovesPage { moves, next_before: Some(top), truncated: true });
        }
        let start = top.saturating_sub(MOVES_WINDOW).max(1);
        let mut window = Vec::new();
        for item in store.range_from(TreeId::Moves, &codec::u64_key(start)) {
            let (k, v) = item?;
            if codec::key_u64(&k)? >= top {
                break;
            }
            window.push(codec::decode::<StockMove>(&v)?);
        }
        let mut filled = false;
        scanned = scanned.saturating_add(usize::try_from(top - start).unwrap_or(usize::MAX));
        for m in window.into_iter().rev() {
            if sku.is_none_or(|s| s == m.sku) {
                moves.push(m);
                if moves.len() == limit {
                    filled = true;
                    break;
                }
            }
        }
        if filled {
            break;
        }
        top = start;
    }
    let next_before = match moves.last() {
        Some(last) if moves.len() == limit && last.id > 1 => Some(last.id),
        _ => None,
    };
    Ok(MovesPage { moves, next_before, truncated: false })
}

/// A hand adjustment (the stock page): the reason from the fixed list, an optional note
/// (required for "other"), and either a signed change or, for a count correction, the counted
/// figure (`domain::stock::adjustment` picks the move kind). Recorded with `user` in one commit.
pub fn adjust(
    store: &Store,
    sku: &str,
    reason: AdjustReason,
    note: &str,
    change: StockChange,
    user: &str,
) -> Result<StockMove, CommitError<InventoryError>> {
    let (kind, qty, reason) = adjustment(reason, note, change).map_err(|e| CommitError::Rejected(InventoryError::Adjust(e)))?;
    move_stock(store, &NewMove { sku: sku.to_string(), kind, qty, reason, user: user.to_string(), reference: None })
}
