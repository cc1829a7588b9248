//! `storehub verify`: invariants a technician or HQ can trust, checked across parts. Each
//! violation is one line naming what is wrong and where. Each part contributes its own checks
//! (`members::check`: points = Σ lots = Σ points ledger per member, stored value = Σ its ledger,
//! the member lookup and ledger indexes).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory;
use crate::members;
use crate::store::{Store, StoreError};

/// Most journal mismatches listed (the count of the rest is not computed).
const MAX_LISTED: usize = 50;

/// Result of a verification.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub stock_levels: usize,
    pub moves: usize,
    pub members: usize,
    pub outbox_events: u64,
    pub journal_records: u64,
    pub violations: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks every invariant.
pub fn verify(store: &Store) -> Result<Report, StoreError> {
    let mut violations = Vec::new();

    // The stock ledger: move ids 1..=N without gaps; on-hand of each product = Σ its moves.
    let moves = inventory::all_moves(store)?;
    for (i, m) in moves.iter().enumerate() {
        if m.id != i as u64 + 1 {
            violations.push(format!("stock moves: id {} found where {} was expected (a gap or a duplicate)", m.id, i + 1));
            break;
        }
    }
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for m in &moves {
        *sums.entry(m.sku.as_str()).or_default() += m.delta;
    }
    let levels = inventory::stock_levels(store)?;
    for l in &levels {
        let sum = sums.remove(l.sku.as_str()).unwrap_or(0);
        if l.on_hand != sum {
            violations.push(format!("stock {}: on-hand {} but its moves sum to {sum}", l.sku, l.on_hand));
        }
    }
    for (sku, sum) in sums {
        violations.push(format!("stock {sku}: moves sum to {sum} but there is no stock level"));
    }

    // The outbox: contiguous from the oldest waiting event to the newest, above the floor.
    let stats = store.outbox_stats()?;
    if let (Some(oldest), Some(newest)) = (stats.oldest_seq, stats.newest_seq) {
        if newest - oldest + 1 != stats.count {
            violations.push(format!(
                "outbox: {} events between sequence {oldest} and {newest}; {} are missing",
                stats.count,
                newest - oldest + 1 - stats.count
            ));
        }
        let floor = store.outbox_floor()?;
        if oldest <= floor {
            violations.push(format!("outbox: event {oldest} waits although sequences up to {floor} were acknowledged"));
        }
    }

    // Members: balances against lots and ledgers, nothing negative, indexes consistent.
    violations.extend(members::check(store)?);

    // The journal: every record it holds is applied.
    let (journal_records, mismatches) = store.journal_mismatches(MAX_LISTED)?;
    violations.extend(mismatches.into_iter().map(|m| format!("journal not applied: {m}")));

    Ok(Report {
        stock_levels: levels.len(),
        moves: moves.len(),
        members: members::member_count(store),
        outbox_events: stats.count,
        journal_records,
        violations,
    })
}
