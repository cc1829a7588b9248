//! Purchase orders (采购单): created from the suggestion list grouped by supplier, edited, sent
//! (an outbox event for HQ's or the supplier's systems), received fully or partly by scanning
//! (each receipt a stock move through the ledger), closed. Open orders' outstanding quantities
//! are the "on order" of the next suggestion.

use std::collections::BTreeMap;

use crate::store::{Store, StoreError};

/// Units on open purchase orders not yet received, per sku (SKUs with none are absent).
pub fn on_order_by_sku(store: &Store) -> Result<BTreeMap<String, i64>, StoreError> {
    // Filled by the purchase-order work (wip-purchase); nothing is on order until then.
    let _ = store;
    Ok(BTreeMap::new())
}
