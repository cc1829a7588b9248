//! HQ's `order.ingest` command: an online order (mini program, delivery platform, online mall,
//! phone) for this store, validated against its schema and handed to `members::online_orders`.
//!
//! `{"order_id", "channel", "platform"?, "member", "at", "lines": [{"sku", "qty",
//! "unit_price_fen", "net_fen"}, …], "total_fen", "paid_fen", "fulfilment": "elsewhere" |
//! "from_store"}`; unknown fields refused, every bad field named by its path
//! (`args.lines[2].qty`). Idempotent by order id, whatever the command id: the same order again
//! changes nothing and answers the first reply's fields with `"duplicate_order": true`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{self, typed, Refusal};
use super::Context;
use crate::domain::channel::SalesChannel;
use crate::members::online_orders::{self, Fulfilment, OnlineOrder, OrderError, OrderLine, MAX_LINES};
use crate::store::{Tx, TxError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineArgs {
    sku: String,
    qty: i64,
    #[serde(deserialize_with = "args::fen")]
    unit_price_fen: i64,
    #[serde(deserialize_with = "args::fen")]
    net_fen: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderArgs {
    order_id: String,
    channel: String,
    #[serde(default)]
    platform: Option<String>,
    member: Value,
    at: DateTime<Utc>,
    lines: Vec<LineArgs>,
    #[serde(deserialize_with = "args::fen")]
    total_fen: i64,
    #[serde(deserialize_with = "args::fen")]
    paid_fen: i64,
    fulfilment: Fulfilment,
}

/// The order typed and checked (everything that needs no store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub order: OnlineOrder,
}

/// Reads and checks the order; refusals name the field under `args`.
pub fn parse(value: &Value) -> Result<Args, Refusal> {
    if let Some(Value::Array(lines)) = value.get("lines") {
        if lines.len() > MAX_LINES {
            return Err(Refusal::at("args.lines", format!("{} lines; at most {MAX_LINES} per order", lines.len())));
        }
    }
    let a: OrderArgs = typed(value)?;
    let channel = SalesChannel::parse(&a.channel)
        .ok_or_else(|| Refusal::at("args.channel", format!("unknown channel {}; expected one of {}", args::quote(&json!(a.channel)), SalesChannel::expected())))?;
    let member = online_orders::parse_member_ref(&a.member).map_err(|m| Refusal::at("args.member", m))?;
    let order = OnlineOrder {
        order_id: a.order_id,
        channel,
        platform: a.platform,
        member,
        at: a.at,
        lines: a.lines.into_iter().map(|l| OrderLine { sku: l.sku, qty: l.qty, unit_price_fen: l.unit_price_fen, net_fen: l.net_fen }).collect(),
        total_fen: a.total_fen,
        paid_fen: a.paid_fen,
        fulfilment: a.fulfilment,
    };
    online_orders::check_order(&order).map_err(refusal)?;
    Ok(Args { order })
}

fn refusal(e: OrderError) -> Refusal {
    Refusal::at(format!("args.{}", e.field), e.message)
}

/// Ingests the order inside `tx`: `{"order_id", "sale_id", "receipt_no", "member_id",
/// "channel", "fulfilment", "total_fen", "points_earned", "stock_moves"}` (+
/// `"duplicate_order": true` when the order was ingested before).
pub fn apply(tx: &Tx, a: &Args, ctx: &Context) -> Result<Map<String, Value>, TxError<Refusal>> {
    let done = online_orders::ingest_tx(tx, &a.order, &ctx.rules).map_err(|e| e.map_rejected(refusal))?;
    let mut fields = done.fields;
    if done.duplicate {
        fields.insert("duplicate_order".into(), json!(true));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Value {
        json!({"order_id": "MT-1", "channel": "delivery", "platform": "meituan", "member": "13800138000",
               "at": "2026-11-25T08:30:00Z", "lines": [{"sku": "SKU-1", "qty": 2, "unit_price_fen": 350, "net_fen": 600}],
               "total_fen": 600, "paid_fen": 600, "fulfilment": "from_store"})
    }

    fn with(field: &str, v: Value) -> Value {
        let mut a = valid();
        a[field] = v;
        a
    }

    #[test]
    fn a_valid_order_reads_and_bad_fields_are_named() {
        let a = parse(&valid()).unwrap();
        assert_eq!(a.order.channel, SalesChannel::Delivery);
        assert_eq!(a.order.fulfilment, Fulfilment::FromStore);
        let e = parse(&with("lines", json!([{"sku": "A", "qty": 1, "unit_price_fen": 1, "net_fen": 1}, {"sku": "B", "qty": 1, "unit_price_fen": 1, "net_fen": 1}, {"sku": "C", "qty": -1, "unit_price_fen": 1, "net_fen": 1}]))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.lines[2].qty"), "{e:?}");
        let e = parse(&with("channel", json!("taobao"))).unwrap_err();
        assert_eq!(e.error_text(), "args.channel: unknown channel \"taobao\"; expected one of in_store, mini_program, delivery, online_mall, phone");
        assert_eq!(parse(&with("channel", json!("in_store"))).unwrap_err().field.as_deref(), Some("args.channel"));
        assert_eq!(parse(&with("fulfilment", json!("drone"))).unwrap_err().field.as_deref(), Some("args.fulfilment"));
        assert_eq!(parse(&with("total_fen", json!(500))).unwrap_err().field.as_deref(), Some("args.total_fen"));
        assert_eq!(parse(&with("member", json!("12345"))).unwrap_err().field.as_deref(), Some("args.member"));
        assert_eq!(parse(&with("coupon", json!("X"))).unwrap_err().field.as_deref(), Some("args.coupon"));
        let e = parse(&with("lines", json!([{"sku": "A", "qty": 1, "unit_price_fen": 1, "net_fen": 1, "discount": 0}]))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.lines[0].discount"));
        let e = parse(&with("lines", json!([{"sku": "A", "qty": 1, "unit_price_fen": 1.5, "net_fen": 1}]))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.lines[0].unit_price_fen"));
    }
}
