//! Control requests for stocktakes (`storehub stocktake …`): open, count, submit, variance,
//! approve, cancel, list, show, lanes in count mode, zones. The CLI sends them to the daemon
//! or applies them itself, through this one handler.
//!
//! Every request names the staff who acts (`--staff`); the permission is checked in the
//! service's commit, and what a reply shows follows the same rule as the pages: a counter
//! (`CountStock` without `ManageStocktakes`) never gets expected quantities or variances of a
//! blind stocktake.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ops::Context;
use super::Reply;
use crate::domain::staff::Action;
use crate::inventory::stocktake::{self as st, CountHow, NewStocktake, StocktakeError, Zone};
use crate::store::{CommitError, Store};

/// One stocktake request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum StocktakeRequest {
    Open { new: NewStocktake },
    Count { id: u64, code: String, how: CountHow, staff: String },
    Submit { id: u64, staff: String },
    Variance { id: u64, staff: String },
    Approve { id: u64, zero_uncounted: bool, staff: String },
    Cancel { id: u64, staff: String },
    List { staff: String },
    Show { id: u64, staff: String },
    /// Count mode on (`stocktake: Some`) or off for a lane.
    Lane { lane: String, stocktake: Option<u64>, staff: String },
    ZoneSet { zone: Zone, staff: String },
    ZoneList { staff: String },
    ZoneRemove { id: String, staff: String },
}

fn refused(e: CommitError<StocktakeError>) -> String {
    match e {
        CommitError::Rejected(e) => format!("{e}; nothing written"),
        CommitError::Store(e) => e.to_string(),
    }
}

/// The staff's role, if the account is active and may do one of `actions`.
fn role_of(store: &Store, staff: &str, actions: &[Action]) -> Result<crate::domain::staff::Role, String> {
    let mut last = String::new();
    for a in actions {
        match crate::staff::authorize(store, staff, *a) {
            Ok(who) => return Ok(who.role),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Applies one stocktake request.
pub fn handle(store: &Arc<Store>, ctx: &Context, req: StocktakeRequest) -> Result<Reply, String> {
    let s = |e: crate::store::StoreError| e.to_string();
    match req {
        StocktakeRequest::Open { new } => Ok(Reply::json(st::open(store, &new, ctx.stock.stocktake_blind).map_err(refused)?)),
        StocktakeRequest::Count { id, code, how, staff } => {
            let role = role_of(store, &staff, &[Action::CountStock])?;
            let c = st::count(store, &ctx.layouts, id, &code, how, &staff).map_err(refused)?;
            let shows = st::stocktake(store, id).map_err(s)?.is_some_and(|t| st::sees_expected(role, &t));
            let mut v = serde_json::to_value(&c).unwrap_or_default();
            if !shows {
                if let Some(o) = v.as_object_mut() {
                    o.remove("expected");
                }
            }
            Ok(Reply::json(v))
        }
        StocktakeRequest::Submit { id, staff } => Ok(Reply::json(st::submit(store, id, &staff).map_err(refused)?)),
        StocktakeRequest::Variance { id, staff } => {
            role_of(store, &staff, &[Action::ManageStocktakes])?;
            Ok(Reply::json(st::variance(store, id).map_err(|e| e.to_string())?))
        }
        StocktakeRequest::Approve { id, zero_uncounted, staff } => Ok(Reply::json(st::approve(store, id, &staff, zero_uncounted).map_err(refused)?)),
        StocktakeRequest::Cancel { id, staff } => Ok(Reply::json(st::cancel(store, id, &staff).map_err(refused)?)),
        StocktakeRequest::List { staff } => {
            role_of(store, &staff, &[Action::ViewStock, Action::CountStock])?;
            Ok(Reply::json(st::list(store).map_err(s)?))
        }
        StocktakeRequest::Show { id, staff } => {
            let role = role_of(store, &staff, &[Action::CountStock, Action::ViewStock])?;
            Ok(Reply::json(st::view(store, id, |t| st::sees_expected(role, t)).map_err(|e| e.to_string())?))
        }
        StocktakeRequest::Lane { lane, stocktake, staff } => {
            let setup = ctx.checkout.as_ref().ok_or("no lanes: lanes come from [[lanes]] in the config; pass --config FILE")?;
            if !setup.lane_ids.contains(&lane) {
                return Err(StocktakeError::UnknownLane(lane).to_string());
            }
            let lanes = ctx.lanes.get(store, setup, &ctx.layouts)?;
            if stocktake.is_some() {
                let lines = lanes.cart(&lane).map_err(|e| e.to_string())?.lines.len();
                if lines > 0 {
                    return Err(StocktakeError::LaneBusy { lane, lines }.to_string());
                }
            }
            let mode = st::set_lane(store, &lane, stocktake, &staff).map_err(refused)?;
            // The cashier screen shows (or drops) 盘点中 at once.
            let _ = lanes.touch(&lane);
            Ok(Reply::json(json!({ "lane": lane, "counting": mode })))
        }
        StocktakeRequest::ZoneSet { zone, staff } => Ok(Reply::json(st::set_zone(store, &zone, &staff).map_err(refused)?)),
        StocktakeRequest::ZoneList { staff } => {
            role_of(store, &staff, &[Action::ViewStock, Action::CountStock])?;
            Ok(Reply::json(st::zones(store).map_err(s)?))
        }
        StocktakeRequest::ZoneRemove { id, staff } => Ok(Reply::json(st::remove_zone(store, &id, &staff).map_err(refused)?)),
    }
}
