//! Shifts (班次) and their cash: a shift opens at a lane with a float, collects the cash that
//! checkout takes and pays back ([`record_cash_tx`], called inside checkout's own sale commit),
//! and closes with the counted drawer, reconciled against the expected cash (交班对账) by
//! `domain::staff::expected_cash`. At most one shift is open per lane.
//!
//! Storage: `shifts` holds shift id (u64 BE, from `next_seq`) → [`Shift`]; the open shift of each
//! lane is indexed in `meta` under `open_shift/<lane>`, written and removed in the same commit
//! as the shift it points to, so "is a shift open on this lane" is one read inside a commit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{authorize_in_tx, check_id, StaffError};
use crate::domain::staff::{cash_difference, describe_difference, expected_cash, may_close_shift, Action};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// A shift was opened (data: the [`Shift`]).
pub const EVENT_SHIFT_OPENED: &str = "storehub.shift.opened";
/// A shift was closed and reconciled (data: the [`Shift`] with its `closed` part).
pub const EVENT_SHIFT_CLOSED: &str = "storehub.shift.closed";

/// Prefix of the open-shift index keys in `meta`.
const OPEN_PREFIX: &str = "open_shift/";

/// One person's shift at one lane, with the cash that went through its drawer. Money in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub id: u64,
    pub lane: String,
    /// Staff id of the person who opened it.
    pub staff: String,
    pub opened_at: DateTime<Utc>,
    /// Cash put in the drawer at the start (备用金).
    pub float_fen: i64,
    pub cash_sales_fen: i64,
    pub cash_refunds_fen: i64,
    /// Cash put in during the shift (change brought from the safe).
    pub paid_in_fen: i64,
    /// Cash taken out during the shift (paid to a supplier, dropped to the safe).
    pub paid_out_fen: i64,
    pub closed: Option<ShiftClose>,
}

impl Record for Shift {
    const NAME: &'static str = "shift";
}

impl Shift {
    /// Cash the drawer should hold now.
    pub fn expected_cash_fen(&self) -> i64 {
        expected_cash(self.float_fen, self.cash_sales_fen, self.cash_refunds_fen, self.paid_in_fen, self.paid_out_fen)
    }
}

/// How a shift ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftClose {
    pub at: DateTime<Utc>,
    pub counted_fen: i64,
    pub expected_fen: i64,
    /// Counted − expected: positive over (长款), negative short (短款).
    pub difference_fen: i64,
    /// Staff id of the person who counted and closed.
    pub closed_by: String,
}

/// Cash moving through a shift's drawer. Amounts are positive fen; the kind gives the direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashFlow {
    /// Cash taken for a sale (net of change given).
    Sale(i64),
    /// Cash paid back for a return.
    Refund(i64),
    /// Cash put into the drawer.
    PaidIn(i64),
    /// Cash taken out of the drawer.
    PaidOut(i64),
}

impl CashFlow {
    fn fen(self) -> i64 {
        match self {
            CashFlow::Sale(f) | CashFlow::Refund(f) | CashFlow::PaidIn(f) | CashFlow::PaidOut(f) => f,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CashFlow::Sale(_) => "cash sale",
            CashFlow::Refund(_) => "cash refund",
            CashFlow::PaidIn(_) => "paid-in",
            CashFlow::PaidOut(_) => "paid-out",
        }
    }
}

/// Index entry in `meta`: the open shift of one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct OpenShift {
    shift: u64,
}

impl Record for OpenShift {
    const NAME: &'static str = "open shift index";
}

fn open_key(lane: &str) -> Vec<u8> {
    format!("{OPEN_PREFIX}{lane}").into_bytes()
}

/// Why a shift change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ShiftError {
    #[error("lane id: {0}")]
    BadLane(String),
    #[error(
        "lane {lane} already has shift {shift} open (opened by {staff} at {}); close it first with `storehub shift close {shift} --counted-fen N --by STAFF`",
        .opened_at.format("%Y-%m-%d %H:%M UTC")
    )]
    AlreadyOpen { lane: String, shift: u64, staff: String, opened_at: DateTime<Utc> },
    #[error("no shift {0}; `storehub shift show` lists the open ones")]
    Unknown(u64),
    #[error("shift {id} was already closed at {} by {by}", .at.format("%Y-%m-%d %H:%M UTC"))]
    Closed { id: u64, at: DateTime<Utc>, by: String },
    #[error("{what} must not be negative, got {fen} fen")]
    Negative { what: &'static str, fen: i64 },
    #[error("shift {0}: the cash totals would leave the representable range")]
    Overflow(u64),
    #[error("staff {by} may not close shift {shift} of {owner}: a {role} closes only their own shift; a manager or admin closes anyone's")]
    NotOwnShift { shift: u64, owner: String, by: String, role: &'static str },
    #[error(transparent)]
    Staff(#[from] StaffError),
}

fn rejected<T>(e: ShiftError) -> Result<T, TxError<ShiftError>> {
    Err(TxError::Rejected(e))
}

fn not_negative(what: &'static str, fen: i64) -> Result<(), ShiftError> {
    if fen < 0 {
        return Err(ShiftError::Negative { what, fen });
    }
    Ok(())
}

/// Opens a shift at `lane` for `staff_id` (an active account whose role may open shifts) with
/// `float_fen` in the drawer. Refused, writing nothing, while the lane has an open shift.
pub fn open_shift(store: &Store, lane: &str, staff_id: &str, float_fen: i64) -> Result<Shift, CommitError<ShiftError>> {
    check_id(lane).map_err(|e| CommitError::Rejected(ShiftError::BadLane(e)))?;
    not_negative("the float", float_fen).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        authorize_in_tx::<ShiftError>(tx, staff_id, Action::OpenShift)?;
        if let Some(open) = open_shift_in_tx::<ShiftError>(tx, lane)? {
            return rejected(ShiftError::AlreadyOpen {
                lane: lane.to_string(),
                shift: open.id,
                staff: open.staff,
                opened_at: open.opened_at,
            });
        }
        let id = tx.next_seq(TreeId::Shifts)?;
        let shift = Shift {
            id,
            lane: lane.to_string(),
            staff: staff_id.to_string(),
            opened_at: tx.now(),
            float_fen,
            cash_sales_fen: 0,
            cash_refunds_fen: 0,
            paid_in_fen: 0,
            paid_out_fen: 0,
            closed: None,
        };
        tx.put(TreeId::Shifts, &codec::u64_key(id), &shift)?;
        tx.put(TreeId::Meta, &open_key(lane), &OpenShift { shift: id })?;
        tx.emit(EVENT_SHIFT_OPENED, Some(lane), &shift)?;
        Ok(shift)
    })
}

/// The open shift of `lane`, read inside `tx` (what checkout looks up in its sale commit).
pub fn open_shift_in_tx<E>(tx: &Tx, lane: &str) -> Result<Option<Shift>, TxError<E>> {
    match tx.get::<OpenShift, E>(TreeId::Meta, &open_key(lane))? {
        Some(open) => tx.get::<Shift, E>(TreeId::Shifts, &codec::u64_key(open.shift)),
        None => Ok(None),
    }
}

/// Adds cash to an open shift's totals inside `tx`: checkout calls it in the commit that records
/// the sale or return, so the drawer's figures and the sale never disagree. Writes no event (the
/// sale's own event carries the payment). Returns the shift as it now stands.
pub fn record_cash_tx(tx: &Tx, shift_id: u64, flow: CashFlow) -> Result<Shift, TxError<ShiftError>> {
    not_negative(flow.as_str(), flow.fen()).map_err(TxError::Rejected)?;
    let key = codec::u64_key(shift_id);
    let Some(mut shift) = tx.get::<Shift, ShiftError>(TreeId::Shifts, &key)? else {
        return rejected(ShiftError::Unknown(shift_id));
    };
    if let Some(c) = &shift.closed {
        return rejected(ShiftError::Closed { id: shift_id, at: c.at, by: c.closed_by.clone() });
    }
    let total = match flow {
        CashFlow::Sale(_) => &mut shift.cash_sales_fen,
        CashFlow::Refund(_) => &mut shift.cash_refunds_fen,
        CashFlow::PaidIn(_) => &mut shift.paid_in_fen,
        CashFlow::PaidOut(_) => &mut shift.paid_out_fen,
    };
    *total = total.checked_add(flow.fen()).ok_or(TxError::Rejected(ShiftError::Overflow(shift_id)))?;
    tx.put(TreeId::Shifts, &key, &shift)?;
    Ok(shift)
}

/// Closes a shift with the cash counted in its drawer: computes expected cash and the difference,
/// frees the lane for the next shift and emits `storehub.shift.closed`. `closed_by` must be an
/// active account; a cashier closes only their own shift, a manager or admin any.
pub fn close_shift(store: &Store, shift_id: u64, counted_fen: i64, closed_by: &str) -> Result<Shift, CommitError<ShiftError>> {
    not_negative("the counted cash", counted_fen).map_err(CommitError::Rejected)?;
    let closed = store.commit(|tx| {
        let key = codec::u64_key(shift_id);
        let Some(mut shift) = tx.get::<Shift, ShiftError>(TreeId::Shifts, &key)? else {
            return rejected(ShiftError::Unknown(shift_id));
        };
        if let Some(c) = &shift.closed {
            return rejected(ShiftError::Closed { id: shift_id, at: c.at, by: c.closed_by.clone() });
        }
        let closer = authorize_in_tx::<ShiftError>(tx, closed_by, Action::CloseShift)?;
        if !may_close_shift(closer.role, closer.id == shift.staff) {
            return rejected(ShiftError::NotOwnShift {
                shift: shift_id,
                owner: shift.staff.clone(),
                by: closer.id,
                role: closer.role.as_str(),
            });
        }
        let expected_fen = shift.expected_cash_fen();
        shift.closed = Some(ShiftClose {
            at: tx.now(),
            counted_fen,
            expected_fen,
            difference_fen: cash_difference(counted_fen, expected_fen),
            closed_by: closer.id,
        });
        tx.put(TreeId::Shifts, &key, &shift)?;
        let index = open_key(&shift.lane);
        if tx.get::<OpenShift, ShiftError>(TreeId::Meta, &index)?.is_some_and(|o| o.shift == shift_id) {
            tx.remove::<ShiftError>(TreeId::Meta, &index)?;
        }
        tx.emit(EVENT_SHIFT_CLOSED, Some(&shift.lane), &shift)?;
        Ok(shift)
    })?;
    if let Some(c) = &closed.closed {
        tracing::info!(
            shift = closed.id,
            lane = %closed.lane,
            expected_fen = c.expected_fen,
            counted_fen = c.counted_fen,
            result = %describe_difference(c.difference_fen),
            "shift closed"
        );
    }
    Ok(closed)
}

/// One shift.
pub fn shift(store: &Store, id: u64) -> Result<Option<Shift>, StoreError> {
    store.get::<Shift>(TreeId::Shifts, &codec::u64_key(id))
}

/// The open shift of `lane`, if any.
pub fn open_shift_for_lane(store: &Store, lane: &str) -> Result<Option<Shift>, StoreError> {
    match store.get::<OpenShift>(TreeId::Meta, &open_key(lane))? {
        Some(open) => shift(store, open.shift),
        None => Ok(None),
    }
}

/// The open shift of every lane, in lane order.
pub fn open_shifts(store: &Store) -> Result<Vec<Shift>, StoreError> {
    let mut out = Vec::new();
    for entry in store.scan_prefix::<OpenShift>(TreeId::Meta, OPEN_PREFIX.as_bytes()) {
        let (_, open) = entry?;
        if let Some(s) = shift(store, open.shift)? {
            out.push(s);
        }
    }
    Ok(out)
}

/// The newest `limit` closed shifts, newest first, looking at no more than `scan_at_most`
/// shifts (the shifts page's history).
pub fn recent_closed_shifts(store: &Store, limit: usize, scan_at_most: usize) -> Result<Vec<Shift>, StoreError> {
    let mut out = Vec::new();
    for item in store.scan_rev::<Shift>(TreeId::Shifts).take(scan_at_most) {
        let (_, s) = item?;
        if s.closed.is_some() {
            out.push(s);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}
