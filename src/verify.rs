//! `storehub verify`: invariants a technician or HQ can trust, checked across parts. Each
//! violation is one line naming what is wrong and where: the stock ledger, sales (each whole:
//! its stock moves, its totals, its tenders), members (`members::check`: points = Σ lots = Σ
//! points ledger per member, stored value = Σ its ledger, the lookup and ledger indexes), member
//! service tickets (`members::tickets::check`: each indexed under its member), purchase orders
//! (`inventory::purchase::check`: received = their receipt moves), stocktakes
//! (`inventory::stocktake::check`: each booking once), the outbox, and the
//! journal.

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
    pub sales: usize,
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

    // Sales: each one whole. Its stock moves exist and name it; its total is the sum of its
    // line nets; its tenders (after rounding, less change) pay exactly that total; and every
    // move that names a sale belongs to one.
    let sales = crate::checkout::sale::all_sales(store)?;
    let by_id: BTreeMap<u64, &inventory::StockMove> = moves.iter().map(|m| (m.id, m)).collect();
    let mut sale_moves = std::collections::BTreeSet::new();
    // Online orders (`members::online_orders`): a sale names its order and the order its sale;
    // an order fulfilled elsewhere moved no stock here.
    let mut orders: BTreeMap<String, crate::members::online_orders::IngestedOrder> =
        crate::members::online_orders::all_ingested(store)?.into_iter().map(|o| (o.order_id.clone(), o)).collect();
    for sale in &sales {
        let at = format!("sale {} ({})", sale.id, sale.receipt_no);
        let mut expected_moves = sale.lines.len();
        if let Some(order_id) = &sale.order_id {
            match orders.remove(order_id) {
                Some(o) if o.sale_id == sale.id => {
                    if o.fulfilment == crate::members::online_orders::Fulfilment::Elsewhere {
                        expected_moves = 0;
                    }
                }
                Some(o) => violations.push(format!("{at}: online order {order_id:?} names sale {}", o.sale_id)),
                None => violations.push(format!("{at}: online order {order_id:?} has no order record")),
            }
        }
        if sale.stock_moves.len() != expected_moves {
            violations.push(format!("{at}: {} lines but {} stock moves", sale.lines.len(), sale.stock_moves.len()));
        }
        for (line, id) in sale.lines.iter().zip(&sale.stock_moves) {
            match by_id.get(id) {
                Some(m) if m.sku == line.sku && m.reference.as_deref() == Some(sale.receipt_no.as_str()) => {
                    sale_moves.insert(*id);
                }
                Some(m) => violations.push(format!("{at}: stock move {id} is {} for {:?}, not line {}'s {}", m.sku, m.reference, line.line_no, line.sku)),
                None => violations.push(format!("{at}: stock move {id} of line {} is missing", line.line_no)),
            }
        }
        let nets: i64 = sale.priced.lines.iter().map(|l| l.net_fen).sum();
        if nets != sale.priced.total_fen {
            violations.push(format!("{at}: total {} but its lines' nets sum to {nets}", sale.priced.total_fen));
        }
        let paid: i64 = sale.settlement.tenders.iter().map(|t| t.amount_fen).sum();
        if paid - sale.settlement.rounding_fen != sale.priced.total_fen {
            violations.push(format!(
                "{at}: tenders pay {paid} with rounding {} for a total of {}",
                sale.settlement.rounding_fen, sale.priced.total_fen
            ));
        }
    }
    for (order_id, o) in orders {
        violations.push(format!("online order {order_id:?}: names sale {}, which does not name it", o.sale_id));
    }
    // Returns: what each sale says it refunded is what its returns refunded, never more than
    // it collected.
    let mut refunded: BTreeMap<u64, i64> = BTreeMap::new();
    for r in crate::checkout::returns::all_returns(store)? {
        if let Some(id) = r.sale_id {
            *refunded.entry(id).or_default() += r.refund_fen;
        }
    }
    for sale in &sales {
        let by_returns = refunded.remove(&sale.id).unwrap_or(0);
        let collected: i64 = sale.settlement.tenders.iter().map(|t| t.amount_fen).sum();
        if by_returns != sale.refunded_fen {
            violations.push(format!("sale {} ({}): refunded {} but its returns refunded {by_returns}", sale.id, sale.receipt_no, sale.refunded_fen));
        }
        if sale.refunded_fen > collected {
            violations.push(format!("sale {} ({}): refunded {} of {collected} collected", sale.id, sale.receipt_no, sale.refunded_fen));
        }
    }
    for (id, fen) in refunded {
        violations.push(format!("returns refund {fen} against sale {id}, which does not exist"));
    }
    let sale_receipts: std::collections::BTreeSet<&str> = sales.iter().map(|s| s.receipt_no.as_str()).collect();
    for m in &moves {
        if m.kind == crate::domain::stock::MoveKind::Sale && m.reason.starts_with("sale ") && !sale_moves.contains(&m.id) {
            let r = m.reference.as_deref().unwrap_or("");
            if sale_receipts.contains(r) {
                violations.push(format!("stock move {}: names sale {r}, which does not list it", m.id));
            } else {
                violations.push(format!("stock move {}: names sale {r}, which does not exist (part of a sale without the sale)", m.id));
            }
        }
    }

    // The outbox: contiguous from the oldest waiting event to the newest, above the floor, but
    // for the telemetry-class events the disk budget dropped (counted, never more gaps than that).
    let stats = store.outbox_stats()?;
    if let (Some(oldest), Some(newest)) = (stats.oldest_seq, stats.newest_seq) {
        let missing = (newest - oldest + 1).saturating_sub(stats.count);
        let dropped = store.outbox_dropped_total()?;
        if missing > dropped {
            violations.push(format!(
                "outbox: {} events between sequence {oldest} and {newest}; {missing} are missing \
                 and the disk budget dropped only {dropped}",
                stats.count,
            ));
        }
        let floor = store.outbox_floor()?;
        if oldest <= floor {
            violations.push(format!("outbox: event {oldest} waits although sequences up to {floor} were acknowledged"));
        }
    }

    // Members: balances against lots and ledgers, nothing negative, indexes consistent.
    violations.extend(members::check(store)?);
    violations.extend(members::messages::check(store)?);
    violations.extend(members::campaigns::check(store)?);
    // Member service tickets: each indexed under its member, resolution and score consistent.
    violations.extend(members::tickets::check(store)?);
    // Purchase orders: received figures = their receipt moves, the open index = the open orders.
    violations.extend(inventory::purchase::check(store, &moves)?);
    // Stocktakes: each booked line names its own move, no move booked twice, the unfinished index.
    violations.extend(inventory::stocktake::check(store, &moves)?);

    // The journal: every record it holds is applied.
    let (journal_records, mismatches) = store.journal_mismatches(MAX_LISTED)?;
    violations.extend(mismatches.into_iter().map(|m| format!("journal not applied: {m}")));

    Ok(Report {
        stock_levels: levels.len(),
        moves: moves.len(),
        sales: sales.len(),
        members: members::member_count(store),
        outbox_events: stats.count,
        journal_records,
        violations,
    })
}
