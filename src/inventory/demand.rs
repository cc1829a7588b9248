//! Daily demand per SKU, the input of every forecast: units (or grams) sold per shop-local day,
//! returns netted, with a flag byte per day saying whether the day's figure can be trusted as
//! demand (a stock-out day sold less than was wanted; a promotion or member day sold more than
//! usual).
//!
//! The series is packed per SKU in one record (`TreeId::DemandSeries`), appended by the daily
//! rollup from the stock ledger, so the nightly forecast of 20 000 SKUs reads 20 000 records
//! instead of every sale of two years.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::store::{Record, Store, StoreError, TreeId};

/// Bits of a day's flag byte.
pub mod flags {
    /// On hand was zero or below at some point of the day: sales were cut short.
    pub const STOCKOUT: u8 = 1;
    /// A promotion lowered the SKU's price that day.
    pub const PROMOTION: u8 = 2;
    /// A member day (points multiplier) ran that day.
    pub const MEMBER_DAY: u8 = 4;
}

/// One SKU's daily demand, oldest day first: `qty[i]` and `flags[i]` belong to
/// `first_day + i`. Days without sales are 0. Quantities are in the product's stock unit
/// (pieces, or grams for weighed goods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemandSeries {
    pub sku: String,
    pub first_day: NaiveDate,
    pub qty: Vec<i64>,
    pub flags: Vec<u8>,
}
impl Record for DemandSeries {
    const NAME: &'static str = "demand series";
}

impl DemandSeries {
    /// The newest day in the series (`None` when empty).
    pub fn last_day(&self) -> Option<NaiveDate> {
        let n = self.qty.len();
        if n == 0 {
            return None;
        }
        self.first_day.checked_add_days(chrono::Days::new(n as u64 - 1))
    }
}

/// One SKU's series.
pub fn series(store: &Store, sku: &str) -> Result<Option<DemandSeries>, StoreError> {
    store.get::<DemandSeries>(TreeId::DemandSeries, sku.as_bytes())
}

/// Every SKU's series, by sku.
pub fn all_series(store: &Store) -> Result<Vec<DemandSeries>, StoreError> {
    store.scan::<DemandSeries>(TreeId::DemandSeries).map(|r| r.map(|(_, s)| s)).collect()
}
