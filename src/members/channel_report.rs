//! The sales channel report (渠道分析): sales, refunds, tickets, members, new members, repeat
//! rate and average ticket per channel (`domain::channel`) and period. Reads the sales and
//! returns of the range through `reports::facts` (so it is served, charted and downloaded like
//! every other report: `ReportKind::Channels`, `/reports/channels`,
//! `/api/v1/reports/channels`, `storehub report channels`), and each buying member's first
//! purchase (`stats.first_purchase_at`) for "new members". Read-only.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::domain::channel::{ChannelAcc, ChannelRow};
use crate::domain::reports::{DateRange, Period, ReturnFact, SaleFact};
use crate::reports::facts;
use crate::store::{Store, StoreError};

/// The report's rows over `range` by `period` (times shop-local in `tz`): the whole range per
/// channel first, then each period per channel.
pub fn rows(store: &Store, tz: chrono_tz::Tz, range: &DateRange, period: Period) -> Result<Vec<ChannelRow>, StoreError> {
    let acc = RefCell::new(ChannelAcc::new(range, period));
    let mut on_sale = |s: &SaleFact| acc.borrow_mut().sale(s);
    let mut on_ret = |r: &ReturnFact| acc.borrow_mut().ret(r);
    facts::feed(store, tz, range, facts::Sinks { sale: Some(&mut on_sale), ret: Some(&mut on_ret), ..Default::default() })?;
    let acc = acc.into_inner();
    let mut first = HashMap::new();
    for id in acc.members() {
        if let Some(at) = super::member(store, id)?.and_then(|m| m.stats.first_purchase_at) {
            first.insert(id, crate::clock::local(at, tz).date());
        }
    }
    Ok(acc.finish(|m| first.get(&m).copied()))
}
