//! Purchase orders (采购单), pure part: which state allows which change, what one scan at
//! receiving adds and whether it may, the state an order reaches after a receipt, an order's
//! value in fen and its expected delivery day. `inventory::purchase` keeps the orders and calls
//! these rules inside its commits; nothing here does I/O, reads the clock or panics.
//!
//! States: `draft` → `sent` → `partially_received` → `received` → `closed`; a draft, or a sent
//! order with nothing received, may be `cancelled`; a partially received order may be closed
//! (what is outstanding is no longer expected). Rules are also in docs/stock-intelligence.md,
//! "Purchase orders and receiving".

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoState {
    /// Being put together: lines, quantities and supplier may change.
    Draft,
    /// Sent to the supplier: its outstanding quantities are on order.
    Sent,
    /// Some goods arrived, some are still expected.
    PartiallyReceived,
    /// Every line arrived in full.
    Received,
    /// Finished: nothing more is expected (outstanding quantities, if any, were given up).
    Closed,
    /// Withdrawn before anything arrived.
    Cancelled,
}

impl PoState {
    pub const ALL: [PoState; 6] =
        [PoState::Draft, PoState::Sent, PoState::PartiallyReceived, PoState::Received, PoState::Closed, PoState::Cancelled];

    /// The name used in the API, the CLI and events.
    pub fn as_str(self) -> &'static str {
        match self {
            PoState::Draft => "draft",
            PoState::Sent => "sent",
            PoState::PartiallyReceived => "partially_received",
            PoState::Received => "received",
            PoState::Closed => "closed",
            PoState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PoState> {
        PoState::ALL.into_iter().find(|st| st.as_str() == s.trim())
    }

    /// Page label: (zh-CN, en).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            PoState::Draft => ("草稿", "Draft"),
            PoState::Sent => ("已发送", "Sent"),
            PoState::PartiallyReceived => ("部分到货", "Partially received"),
            PoState::Received => ("已到齐", "Received"),
            PoState::Closed => ("已关闭", "Closed"),
            PoState::Cancelled => ("已取消", "Cancelled"),
        }
    }

    /// Draft, sent or partially received: the order still holds SKUs (a new order from the
    /// suggestions skips them).
    pub fn is_open(self) -> bool {
        matches!(self, PoState::Draft | PoState::Sent | PoState::PartiallyReceived)
    }

    /// Sent or partially received: its outstanding quantities count as on order.
    pub fn is_on_order(self) -> bool {
        matches!(self, PoState::Sent | PoState::PartiallyReceived)
    }
}

/// A change asked of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoAction {
    /// Lines, quantities, unit costs or supplier.
    EditLines,
    /// Notes or the expected delivery day.
    EditNotes,
    Send,
    Receive,
    Close,
    /// `received_any`: some goods of the order arrived already.
    Cancel { received_any: bool },
}

impl PoAction {
    fn as_str(self) -> &'static str {
        match self {
            PoAction::EditLines => "change the lines or supplier of",
            PoAction::EditNotes => "change the notes or expected day of",
            PoAction::Send => "send",
            PoAction::Receive => "receive goods on",
            PoAction::Close => "close",
            PoAction::Cancel { .. } => "cancel",
        }
    }
}

/// Why a rule refused; each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoRuleError {
    /// The state does not allow the change.
    #[error("cannot {} a {} order{}", .action.as_str(), .state.as_str(), hint(*.action, *.state))]
    State { state: PoState, action: PoAction },
    /// A receipt quantity of 0 or below.
    #[error("qty: must be at least 1, got {0}")]
    Qty(i64),
    /// More than ordered, without the explicit allowance.
    #[error("qty: receiving {qty} of {sku} would make {after} of {ordered} ordered ({over} over); count again, or allow over-receipt")]
    Over { sku: String, qty: i64, ordered: i64, after: i64, over: i64 },
    /// A quantity beyond what the ledger can hold.
    #[error("qty: {0} is too large")]
    TooLarge(i64),
}

fn hint(action: PoAction, state: PoState) -> &'static str {
    match (action, state) {
        (PoAction::EditLines, PoState::Sent | PoState::PartiallyReceived) => "; a sent order's notes and expected day may still change",
        (PoAction::Send, _) => "; only a draft is sent",
        (PoAction::Receive, PoState::Draft) => "; send it first",
        (PoAction::Close, PoState::Draft | PoState::Sent) => "; nothing arrived yet: cancel it instead",
        (PoAction::Cancel { received_any: true }, _) => "; goods arrived already: close it instead",
        _ => "",
    }
}

/// Whether `action` is allowed on an order in `state`.
///
/// | action | allowed in |
/// |---|---|
/// | edit lines, supplier | draft |
/// | edit notes, expected day | draft, sent, partially received |
/// | send | draft |
/// | receive | sent, partially received |
/// | close | partially received, received |
/// | cancel | draft; sent with nothing received |
pub fn check(state: PoState, action: PoAction) -> Result<(), PoRuleError> {
    use PoState::*;
    let ok = match action {
        PoAction::EditLines | PoAction::Send => state == Draft,
        PoAction::EditNotes => state.is_open(),
        PoAction::Receive => state.is_on_order(),
        PoAction::Close => matches!(state, PartiallyReceived | Received),
        PoAction::Cancel { received_any } => state == Draft || (state == Sent && !received_any),
    };
    if ok {
        Ok(())
    } else {
        Err(PoRuleError::State { state, action })
    }
}

/// The quantity one scan adds to a line already holding `received` of `ordered`: `qty` units
/// (or grams), which must be ≥ 1; more than ordered only when `allow_over`. Returns the line's
/// new received figure.
pub fn receive_qty(sku: &str, ordered: i64, received: i64, qty: i64, allow_over: bool) -> Result<i64, PoRuleError> {
    if qty < 1 {
        return Err(PoRuleError::Qty(qty));
    }
    let after = received.checked_add(qty).ok_or(PoRuleError::TooLarge(qty))?;
    if after > ordered && !allow_over {
        return Err(PoRuleError::Over { sku: sku.to_string(), qty, ordered, after, over: after - ordered.max(received) });
    }
    Ok(after)
}

/// The state after a receipt: `received` when every line has at least what was ordered,
/// otherwise `partially_received`. `lines` are (ordered, received).
pub fn state_after_receipt(lines: &[(i64, i64)]) -> PoState {
    if lines.iter().all(|(ordered, received)| received >= ordered) {
        PoState::Received
    } else {
        PoState::PartiallyReceived
    }
}

/// Still expected on a line: ordered − received, never below 0.
pub fn outstanding(ordered: i64, received: i64) -> i64 {
    ordered.saturating_sub(received).max(0)
}

/// A line's value in fen: ordered × unit cost; for weighed goods (`per_kg`: quantity in grams,
/// cost per kilogram, as the catalog keeps it) grams × cost / 1000 rounded half up. 0 without a
/// cost. Saturating (a real order is far below i64).
pub fn line_value_fen(ordered: i64, unit_cost_fen: Option<i64>, per_kg: bool) -> i64 {
    match (unit_cost_fen, per_kg) {
        (None, _) => 0,
        (Some(c), false) => ordered.saturating_mul(c),
        (Some(c), true) => ordered.saturating_mul(c).saturating_add(500) / 1000,
    }
}

/// The day the goods are expected: the shop-local day the order is sent + the lead time in days
/// (`None` when the day would leave the calendar or the lead time is negative).
pub fn expected_on(sent_day: NaiveDate, lead_time_days: i64) -> Option<NaiveDate> {
    u64::try_from(lead_time_days).ok().and_then(|d| sent_day.checked_add_days(chrono::Days::new(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_table() {
        use PoState::*;
        let cancel = PoAction::Cancel { received_any: false };
        let cancel_after_goods = PoAction::Cancel { received_any: true };
        let table = [
            // (state, edit lines, edit notes, send, receive, close, cancel, cancel after goods)
            (Draft, true, true, true, false, false, true, true),
            (Sent, false, true, false, true, false, true, false),
            (PartiallyReceived, false, true, false, true, true, false, false),
            (Received, false, false, false, false, true, false, false),
            (Closed, false, false, false, false, false, false, false),
            (Cancelled, false, false, false, false, false, false, false),
        ];
        for (state, lines, notes, send, receive, close, c, c_goods) in table {
            assert_eq!(check(state, PoAction::EditLines).is_ok(), lines, "{state:?} edit lines");
            assert_eq!(check(state, PoAction::EditNotes).is_ok(), notes, "{state:?} edit notes");
            assert_eq!(check(state, PoAction::Send).is_ok(), send, "{state:?} send");
            assert_eq!(check(state, PoAction::Receive).is_ok(), receive, "{state:?} receive");
            assert_eq!(check(state, PoAction::Close).is_ok(), close, "{state:?} close");
            assert_eq!(check(state, cancel).is_ok(), c, "{state:?} cancel");
            assert_eq!(check(state, cancel_after_goods).is_ok(), c_goods, "{state:?} cancel after goods");
        }
        assert_eq!(
            check(Sent, PoAction::EditLines).unwrap_err().to_string(),
            "cannot change the lines or supplier of a sent order; a sent order's notes and expected day may still change"
        );
        assert_eq!(check(Sent, PoAction::Close).unwrap_err().to_string(), "cannot close a sent order; nothing arrived yet: cancel it instead");
        assert_eq!(check(Draft, PoAction::Receive).unwrap_err().to_string(), "cannot receive goods on a draft order; send it first");
    }

    #[test]
    fn twenty_four_ordered_twenty_received_then_five_more_is_one_over() {
        // 24 bottles ordered, 20 scanned in, then a case of 5: 25 > 24.
        assert_eq!(receive_qty("W", 24, 0, 20, false), Ok(20));
        assert_eq!(
            receive_qty("W", 24, 20, 5, false),
            Err(PoRuleError::Over { sku: "W".into(), qty: 5, ordered: 24, after: 25, over: 1 })
        );
        assert_eq!(
            receive_qty("W", 24, 20, 5, false).unwrap_err().to_string(),
            "qty: receiving 5 of W would make 25 of 24 ordered (1 over); count again, or allow over-receipt"
        );
        assert_eq!(receive_qty("W", 24, 20, 5, true), Ok(25));
        assert_eq!(receive_qty("W", 24, 20, 4, false), Ok(24));
        assert_eq!(receive_qty("W", 24, 20, 0, false), Err(PoRuleError::Qty(0)));
        assert_eq!(receive_qty("W", 24, 20, -3, true), Err(PoRuleError::Qty(-3)));
        assert_eq!(receive_qty("W", 24, i64::MAX, 1, true), Err(PoRuleError::TooLarge(1)));
        // Already over (allowed earlier): one more counts as over by one.
        assert_eq!(receive_qty("W", 24, 25, 1, false).unwrap_err(), PoRuleError::Over { sku: "W".into(), qty: 1, ordered: 24, after: 26, over: 1 });
    }

    #[test]
    fn state_after_receipts_outstanding_and_value() {
        assert_eq!(state_after_receipt(&[(24, 24), (12, 0)]), PoState::PartiallyReceived);
        assert_eq!(state_after_receipt(&[(24, 24), (12, 13)]), PoState::Received);
        assert_eq!(outstanding(24, 20), 4);
        assert_eq!(outstanding(24, 25), 0);
        // 24 × ¥1.50 = ¥36.00; 12 × ¥3.20 = ¥38.40; no cost → 0.
        assert_eq!(line_value_fen(24, Some(150), false), 3600);
        assert_eq!(line_value_fen(12, Some(320), false), 3840);
        assert_eq!(line_value_fen(6, None, false), 0);
        // 2 450 g of bananas at ¥5.00/kg = ¥12.25; 1 g at ¥4.99/kg = 0.499 fen → 0; 1 g at ¥5.00/kg → 1 fen (half up).
        assert_eq!(line_value_fen(2450, Some(500), true), 1225);
        assert_eq!(line_value_fen(1, Some(499), true), 0);
        assert_eq!(line_value_fen(1, Some(500), true), 1);
        assert_eq!(line_value_fen(i64::MAX, Some(2), false), i64::MAX);
    }

    #[test]
    fn expected_day_is_the_sent_day_plus_the_lead_time() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        assert_eq!(expected_on(d, 3), NaiveDate::from_ymd_opt(2026, 11, 29));
        assert_eq!(expected_on(d, 0), Some(d));
        assert_eq!(expected_on(d, 6), NaiveDate::from_ymd_opt(2026, 12, 2));
        assert_eq!(expected_on(d, -1), None);
        assert_eq!(PoState::parse("partially_received"), Some(PoState::PartiallyReceived));
        assert_eq!(PoState::parse("open"), None);
    }
}
