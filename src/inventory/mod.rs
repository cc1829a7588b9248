//! The stock ledger: every change of stock is a [`StockMove`] (sale, return, receipt, adjustment,
//! stocktake, transfer) with its reason, user and time, and on-hand per product is derived from
//! the moves inside the same transaction. Crossing a reorder point downward writes one
//! `storehub.stock.low` event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::Product;
use crate::domain::stock::{crosses_reorder_point, move_delta, MoveKind, QtyError};
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
