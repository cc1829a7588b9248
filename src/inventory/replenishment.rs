//! The daily replenishment run (智能补货提醒): demand rolled up, a forecast per SKU, the
//! order-up-to suggestion (`domain::replenish`), stored as the latest suggestion list, with
//! `storehub.replenishment.suggested` in the outbox and an alert for each urgent SKU.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::abc::AbcClass;
use crate::domain::forecast::{DemandClass, Method};
use crate::domain::replenish::{SkuPolicy, Suggestion};
use crate::store::{Record, Store, StoreError, TreeId};

/// One SKU of the latest run's suggestion list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestionLine {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Who supplies it (policy override, else the catalog's supplier).
    pub supplier: Option<String>,
    /// Cost per unit (catalog), for the purchase order's value.
    pub unit_cost_fen: Option<i64>,
    pub abc: AbcClass,
    pub demand_class: DemandClass,
    /// The forecast method that won (or was asked for).
    pub method: Method,
    /// The policy the suggestion used (defaults filled in).
    pub policy: SkuPolicy,
    /// The numbers: safety stock, order-up-to, suggested quantity, stock-out day, urgent, and
    /// the explanation's inputs (forecast, σ, on hand, on order).
    pub suggestion: Suggestion,
}
impl Record for SuggestionLine {
    const NAME: &'static str = "suggestion line";
}

/// The summary of a run (`meta` `replenishment_run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplenishmentRun {
    /// Shop-local day the run was for (its demand ends the day before).
    pub day: NaiveDate,
    pub run_at: DateTime<Utc>,
    /// SKUs forecast.
    pub skus: u32,
    /// SKUs with a suggested quantity above 0.
    pub to_order: u32,
    /// SKUs projected to run out before an order placed today can arrive.
    pub urgent: u32,
    /// Wall time the run took, milliseconds.
    pub took_ms: u64,
}
impl Record for ReplenishmentRun {
    const NAME: &'static str = "replenishment run";
}

/// `meta` key of the latest run's summary.
pub const RUN_KEY: &[u8] = b"replenishment_run";

/// The latest run's summary, if any run happened.
pub fn latest_run(store: &Store) -> Result<Option<ReplenishmentRun>, StoreError> {
    store.get::<ReplenishmentRun>(TreeId::Meta, RUN_KEY)
}

/// The latest run's suggestion list, by sku (every SKU forecast, also those with nothing to
/// order).
pub fn suggestions(store: &Store) -> Result<Vec<SuggestionLine>, StoreError> {
    store.scan::<SuggestionLine>(TreeId::Suggestions).map(|r| r.map(|(_, s)| s)).collect()
}
