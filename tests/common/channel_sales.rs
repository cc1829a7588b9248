//! Sales of channels other than the lanes (小程序, 外卖平台 …) for tests written before
//! `order.ingest` exists: a copy of a real lane sale, committed as HQ's online order would be —
//! a new sale id, the clock's time, its own channel and order id, no stock moves — with the
//! member's purchase statistics and preference profile updated in the same commit, as checkout
//! does for a lane sale.
#![allow(dead_code)]

use storehub::checkout::sale::Sale;
use storehub::domain::channel::SalesChannel;
use storehub::members::{LoyaltyRules, MemberError};
use storehub::store::{codec, Store, TreeId};

/// Commits a copy of `template` sold through `channel` (order id `T-<sale id>`) and returns it.
pub fn commit_channel_sale(store: &Store, template: &Sale, channel: SalesChannel, rules: &LoyaltyRules) -> Sale {
    store
        .commit(|tx| {
            let id = tx.next_seq(TreeId::Sales)?;
            let mut s = template.clone();
            s.id = id;
            s.receipt_no = format!("{}-{id}", channel.as_str());
            s.lane = channel.as_str().to_string();
            s.shift_id = None;
            s.at = tx.now();
            s.stock_moves = Vec::new();
            s.returned = Vec::new();
            s.refunded_fen = 0;
            s.channel = channel;
            s.order_id = Some(format!("T-{id}"));
            if let Some(m) = s.member_id {
                storehub::members::record_purchase_tx(tx, m, s.priced.total_fen, rules)?;
            }
            storehub::members::profile::record_sale_tx::<MemberError>(tx, &s, rules.timezone)?;
            tx.put(TreeId::Sales, &codec::u64_key(id), &s)?;
            Ok::<Sale, storehub::store::TxError<MemberError>>(s)
        })
        .unwrap_or_else(|e| panic!("committing a {channel:?} sale: {e:?}"))
}
