//! Benchmark of `storehub analytics members`: builds N synthetic members with two years of
//! imported purchase history in a store and times the analytics over all of them. Deterministic
//! (a fixed-seed generator), so runs compare. Nothing here is used by the daemon.

use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::domain::rfm::RfmParams;
use crate::members::history::{put_imported_in_tx, ImportedPurchase};
use crate::members::{self, LoyaltyRules, NewMember};
use crate::store::{Store, TreeId, TxError};

/// Categories the synthetic history buys from.
const CATEGORIES: [&str; 8] = ["milk", "bread", "rice", "oil", "snacks", "drinks", "fruit", "household"];

/// splitmix64: a small, fixed-seed generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What [`build_members`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltMembers {
    pub members: usize,
    pub purchases: usize,
}

/// Registers `n` members (phones 139xxxxxxxx, in commits of 1000) and gives each a history over
/// the 730 days ending at `as_of`: 0–48 purchases on random days, ¥5–¥500 each, one category
/// each. Purchases are written as imported rows (commits of 10,000).
pub fn build_members(store: &Store, n: usize, as_of: NaiveDate, rules: &LoyaltyRules) -> anyhow::Result<BuiltMembers> {
    let today = rules.today(store.clock().now());
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        let batch: Vec<u64> = store
            .commit(|tx| {
                let mut out = Vec::new();
                for i in start..end {
                    let new = NewMember::in_store(format!("139{i:08}"), format!("会员{i}"));
                    let checked =
                        members::check_new_member(&new, today).map_err(TxError::Rejected)?;
                    out.push(members::register_in_tx(tx, &new, &checked, rules)?.id);
                }
                Ok(out)
            })
            .map_err(|e| anyhow::anyhow!("registering members: {e}"))?;
        ids.extend(batch);
    }
    let mut rng = Rng(0x5EED_2026);
    let mut rows = Vec::new();
    for id in &ids {
        let count = rng.below(49);
        for _ in 0..count {
            let back = i64::try_from(rng.below(730)).unwrap_or(0);
            rows.push((
                *id,
                as_of - chrono::Duration::days(back),
                500 + i64::try_from(rng.below(49_500)).unwrap_or(0),
                CATEGORIES[usize::try_from(rng.below(CATEGORIES.len() as u64)).unwrap_or(0)],
            ));
        }
    }
    for chunk in rows.chunks(10_000) {
        store
            .commit(|tx| {
                let mut stored = Vec::with_capacity(chunk.len());
                for (member_id, date, amount_fen, category) in chunk {
                    stored.push(ImportedPurchase {
                        id: tx.next_seq(TreeId::History)?,
                        member_id: *member_id,
                        date: *date,
                        at: None,
                        amount_fen: *amount_fen,
                        category: Some((*category).to_string()),
                        sku: None,
                        qty: None,
                        file: "bench".into(),
                        line: 0,
                    });
                }
                put_imported_in_tx::<std::convert::Infallible>(tx, &stored)
            })
            .map_err(|e| anyhow::anyhow!("writing history: {e}"))?;
    }
    Ok(BuiltMembers { members: ids.len(), purchases: rows.len() })
}

/// Times `analytics members` (history read, rules, rows) at `as_of`; returns the time and the
/// number of rows.
pub fn time_member_analytics(
    store: &Store,
    tz: chrono_tz::Tz,
    as_of: NaiveDate,
    params: &RfmParams,
) -> anyhow::Result<(Duration, usize)> {
    let t = Instant::now();
    let rows = members::analytics::member_rows(store, tz, as_of, params)?;
    Ok((t.elapsed(), rows.len()))
}
