//! Member merge (会员合并, 线上线下会员打通): one person, one member. `storehub member merge A B`,
//! `POST /api/v1/members/merge` and the member page fold member A into member B keeping every
//! ledger entry, coupon and sale, with an audit record (`TreeId::MemberMerges`) and an outbox
//! event, in one commit.
//!
//! What moves to B: every points and stored-value ledger entry (its member id and its
//! `MemberLedger` index key), A's open lots (joined to B's lot of the same expiry date), balance,
//! debt and stored value, the stats (visits, spend, days), coupons with their per-member index
//! and template counts, service tickets, messages (index, campaign marks, the weekly-cap log),
//! imported history rows (and B's packed history, rebuilt in id order), campaign records (one
//! per campaign and person: where B has its own, A's is dropped and counted) and sales (same
//! id, `member_id` → B); B's preference profile absorbs A's. A keeps its record with
//! `merged_into = Some(B)` and nothing on it; its phone, card and referral keys lead to B, so
//! lookups find the survivor. Members merged into A earlier follow it to B (their keys too), so
//! there are no chains of merged members.
//!
//! A `Tx` reads by key only, so the keys to move are listed by scans before the commit; the
//! commit refuses when A changed meanwhile (its record is compared), and never runs partly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::history::{ImportedPurchase, PackedHistory};
use super::{card_key, ledger_index_key, ledger_index_prefix, phone_key, ref_key, LoyaltyRules, Member, MemberError, POINTS_INDEX, STORED_VALUE_INDEX};
use crate::domain::loyalty::stored_value::StoredValueEntry;
use crate::domain::staff::Action;
use crate::staff::StaffError;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// Outbox event of a merge (data: [`MemberMerged`]).
pub const EVENT_MEMBER_MERGED: &str = "storehub.member.merged";

/// Why a merge was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot merge member {0} into itself; name the duplicate first, then the member to keep")]
    SameMember(u64),
    #[error("no member {0} in this store; look the member up with `storehub member show`")]
    Unknown(u64),
    #[error("member {id} was merged into member {into} already (merged members are closed); merge into member {into} instead")]
    AlreadyMerged { id: u64, into: u64 },
    #[error("member {0} changed while the merge was being prepared (a sale or top-up meanwhile); run the merge again")]
    Changed(u64),
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error(transparent)]
    Member(#[from] MemberError),
}

/// Counts and sums that moved from A to B.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Moved {
    pub points: i64,
    pub points_debt: i64,
    pub stored_value_fen: i64,
    pub visits: u32,
    pub spend_fen: i64,
    pub points_entries: u64,
    pub stored_value_entries: u64,
    pub lots: u64,
    pub coupons: u64,
    pub tickets: u64,
    pub messages: u64,
    pub history_rows: u64,
    pub campaign_records: u64,
    /// A's campaign records dropped because B has its own for that campaign (one record per
    /// campaign and person; A's coupon and message of it moved to B all the same).
    pub campaign_records_dropped: u64,
    pub sales: u64,
}

/// The audit record (`TreeId::MemberMerges`, key = merge id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberMerge {
    pub id: u64,
    /// The duplicate, closed by the merge.
    pub from: u64,
    /// The member kept.
    pub into: u64,
    /// Staff id who merged.
    pub by: String,
    pub at: DateTime<Utc>,
    pub moved: Moved,
}

impl Record for MemberMerge {
    const NAME: &'static str = "member merge";
}

/// The `storehub.member.merged` event: ids, counts and sums; no names or phones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMerged {
    pub merge_id: u64,
    pub from_member_id: u64,
    pub into_member_id: u64,
    pub by: String,
    pub moved: Moved,
    /// B's balances after the merge.
    pub points: i64,
    pub stored_value_fen: i64,
}

/// The keys the commit moves, listed before it.
#[derive(Default)]
struct Plan {
    points: Vec<u64>,
    stored_value: Vec<u64>,
    coupon_keys: Vec<Vec<u8>>,
    ticket_ids: Vec<u64>,
    message_keys: Vec<Vec<u8>>,
    /// Imported rows of A and of B.
    history: Vec<u64>,
    campaign_keys: Vec<Vec<u8>>,
    sales: Vec<u64>,
    /// Members merged into A earlier: they follow A to B (no chains; `verify` checks).
    earlier: Vec<u64>,
}

fn ids_after_prefix(store: &Store, tree: TreeId, prefix: &[u8]) -> Result<Vec<u64>, StoreError> {
    store.keys_with_prefix(tree, prefix).map(|k| k.and_then(|k| codec::key_u64(k.get(prefix.len()..).unwrap_or_default()))).collect()
}

fn plan(store: &Store, from: u64, into: u64) -> Result<Plan, StoreError> {
    let a = codec::u64_key(from);
    let mut p = Plan {
        points: ids_after_prefix(store, TreeId::MemberLedger, &ledger_index_prefix(POINTS_INDEX, from))?,
        stored_value: ids_after_prefix(store, TreeId::MemberLedger, &ledger_index_prefix(STORED_VALUE_INDEX, from))?,
        coupon_keys: store.keys_with_prefix(TreeId::CouponsByMember, &a).collect::<Result<_, _>>()?,
        ticket_ids: ids_after_prefix(store, TreeId::TicketsByMember, &a)?,
        message_keys: store.keys_with_prefix(TreeId::MessagesByMember, &a).collect::<Result<_, _>>()?,
        ..Plan::default()
    };
    for row in store.scan::<ImportedPurchase>(TreeId::History) {
        let (_, r) = row?;
        if r.member_id == from || r.member_id == into {
            p.history.push(r.id);
        }
    }
    for key in store.keys_with_prefix(TreeId::CampaignMembers, b"") {
        let key = key?;
        if key.len() > 9 && key[key.len() - 9] == 0 && key[key.len() - 8..] == a {
            p.campaign_keys.push(key);
        }
    }
    for sale in store.scan_rev::<crate::checkout::sale::Sale>(TreeId::Sales) {
        let (_, s) = sale?;
        if s.member_id == Some(from) {
            p.sales.push(s.id);
        }
    }
    for m in store.scan::<Member>(TreeId::Members) {
        let (_, m) = m?;
        if m.merged_into == Some(from) {
            p.earlier.push(m.id);
        }
    }
    Ok(p)
}

fn corrupt<E>(what: String) -> TxError<E> {
    TxError::Store(StoreError::Corrupt(what))
}

/// Merges member `from` (A) into member `into` (B) for staff `by` (needs `MergeMembers`), in one
/// commit; the audit record. Refused, with nothing changed: A = B, either unknown or already
/// merged, the staff member not allowed, or A changed while the merge was prepared.
pub fn merge(store: &Store, from: u64, into: u64, by: &str, rules: &LoyaltyRules) -> Result<MemberMerge, CommitError<MergeError>> {
    if from == into {
        return Err(CommitError::Rejected(MergeError::SameMember(from)));
    }
    let a_before = super::member(store, from)?.ok_or(CommitError::Rejected(MergeError::Unknown(from)))?;
    let plan = plan(store, from, into)?;
    store.commit(|tx| merge_tx(tx, &a_before, into, by, rules, &plan))
}

fn merge_tx(tx: &Tx, a_before: &Member, into: u64, by: &str, rules: &LoyaltyRules, plan: &Plan) -> Result<MemberMerge, TxError<MergeError>> {
    let reject = |e: MergeError| TxError::Rejected(e);
    let staff = crate::staff::authorize_in_tx::<MergeError>(tx, by, Action::MergeMembers)?;
    let from = a_before.id;
    let get_member = |id: u64| -> Result<Member, TxError<MergeError>> {
        let m = tx.get::<Member, MergeError>(TreeId::Members, &codec::u64_key(id))?.ok_or(TxError::Rejected(MergeError::Unknown(id)))?;
        match m.merged_into {
            Some(to) => Err(TxError::Rejected(MergeError::AlreadyMerged { id, into: to })),
            None => Ok(m),
        }
    };
    let mut a = get_member(from)?;
    let mut b = get_member(into)?;
    if a != *a_before {
        return Err(reject(MergeError::Changed(from)));
    }
    let now = tx.now();
    let mut moved = Moved {
        points: a.points,
        points_debt: a.points_debt,
        stored_value_fen: a.stored_value_fen,
        visits: a.stats.visits,
        spend_fen: a.stats.spend_fen,
        lots: a.lots.len() as u64,
        ..Moved::default()
    };

    // Ledgers: each entry now names B, under B's index.
    for &id in &plan.points {
        let key = codec::u64_key(id);
        let mut e = tx.get::<super::PointsLedgerEntry, MergeError>(TreeId::PointsLedger, &key)?.ok_or_else(|| corrupt(format!("member {from}'s ledger index names missing points entry {id}")))?;
        e.entry.member_id = into;
        tx.put(TreeId::PointsLedger, &key, &e)?;
        tx.remove::<MergeError>(TreeId::MemberLedger, &ledger_index_key(POINTS_INDEX, from, id))?;
        tx.put_raw::<MergeError>(TreeId::MemberLedger, &ledger_index_key(POINTS_INDEX, into, id), &[])?;
        moved.points_entries += 1;
    }
    for &id in &plan.stored_value {
        let key = codec::u64_key(id);
        let mut e = tx.get::<StoredValueEntry, MergeError>(TreeId::StoredValue, &key)?.ok_or_else(|| corrupt(format!("member {from}'s ledger index names missing stored-value entry {id}")))?;
        e.member_id = into;
        tx.put(TreeId::StoredValue, &key, &e)?;
        tx.remove::<MergeError>(TreeId::MemberLedger, &ledger_index_key(STORED_VALUE_INDEX, from, id))?;
        tx.put_raw::<MergeError>(TreeId::MemberLedger, &ledger_index_key(STORED_VALUE_INDEX, into, id), &[])?;
        moved.stored_value_entries += 1;
    }

    // Balances, lots (one per expiry date), stats.
    b.points += a.points;
    b.points_debt += a.points_debt;
    b.stored_value_fen += a.stored_value_fen;
    for lot in a.lots.drain(..) {
        match b.lots.iter_mut().find(|l| l.expires_on == lot.expires_on) {
            Some(l) => {
                l.original += lot.original;
                l.remaining += lot.remaining;
            }
            None => b.lots.push(lot),
        }
    }
    b.lots.sort_by_key(|l| (l.expires_on.is_none(), l.expires_on, l.id));
    let sa = std::mem::take(&mut a.stats);
    b.stats.visits = b.stats.visits.saturating_add(sa.visits);
    b.stats.spend_fen += sa.spend_fen;
    b.stats.first_purchase_at = [b.stats.first_purchase_at, sa.first_purchase_at].into_iter().flatten().min();
    b.stats.last_purchase_at = [b.stats.last_purchase_at, sa.last_purchase_at].into_iter().flatten().max();
    let mut days: BTreeMap<chrono::NaiveDate, super::DayStats> = b.stats.days.iter().map(|d| (d.date, *d)).collect();
    for d in sa.days {
        let e = days.entry(d.date).or_insert(super::DayStats { date: d.date, spend_fen: 0, visits: 0 });
        e.spend_fen += d.spend_fen;
        e.visits = e.visits.saturating_add(d.visits);
    }
    b.stats.days = days.into_values().collect();
    let today = rules.today(now);
    let tier_change = super::purchase::upgrade(&mut b, rules, today);

    // Coupons, tickets, messages.
    for key in &plan.coupon_keys {
        moved.coupons += u64::from(crate::coupons::move_member_key_tx::<MergeError>(tx, key, into)?);
    }
    for &id in &plan.ticket_ids {
        let key = codec::u64_key(id);
        let mut t = tx.get::<super::tickets::Ticket, MergeError>(TreeId::Tickets, &key)?.ok_or_else(|| corrupt(format!("member {from}'s ticket index names missing ticket {id}")))?;
        t.member_id = into;
        tx.put(TreeId::Tickets, &key, &t)?;
        let index = |m: u64| [codec::u64_key(m), key].concat();
        tx.remove::<MergeError>(TreeId::TicketsByMember, &index(from))?;
        tx.put_raw::<MergeError>(TreeId::TicketsByMember, &index(into), &[])?;
        moved.tickets += 1;
    }
    for key in &plan.message_keys {
        moved.messages += u64::from(super::messages::move_member_key_tx::<MergeError>(tx, key, into)?);
    }

    // Imported history: A's rows name B; B's packed history rebuilt in id order.
    let mut packed = PackedHistory::default();
    for &id in &plan.history {
        let key = codec::u64_key(id);
        let Some(mut row) = tx.get::<ImportedPurchase, MergeError>(TreeId::History, &key)? else { continue };
        if row.member_id == from {
            row.member_id = into;
            tx.put(TreeId::History, &key, &row)?;
            moved.history_rows += 1;
        }
        packed.push(&row);
    }
    if !plan.history.is_empty() {
        tx.remove::<MergeError>(TreeId::HistoryByMember, &codec::u64_key(from))?;
        tx.put(TreeId::HistoryByMember, &codec::u64_key(into), &packed)?;
    }

    // Campaign records: one per campaign and member.
    for key in &plan.campaign_keys {
        let mut to_key = key[..key.len() - 8].to_vec();
        to_key.extend_from_slice(&codec::u64_key(into));
        let Some(mut rec) = tx.get::<super::campaigns::CampaignMember, MergeError>(TreeId::CampaignMembers, key)? else { continue };
        tx.remove::<MergeError>(TreeId::CampaignMembers, key)?;
        if tx.get_raw::<MergeError>(TreeId::CampaignMembers, &to_key)?.is_some() {
            moved.campaign_records_dropped += 1;
            continue;
        }
        rec.member_id = into;
        tx.put(TreeId::CampaignMembers, &to_key, &rec)?;
        moved.campaign_records += 1;
    }

    // Sales keep their id; their member is B.
    for &id in &plan.sales {
        let key = codec::u64_key(id);
        let Some(mut s) = tx.get::<crate::checkout::sale::Sale, MergeError>(TreeId::Sales, &key)? else { continue };
        if s.member_id == Some(from) {
            s.member_id = Some(into);
            tx.put(TreeId::Sales, &key, &s)?;
            moved.sales += 1;
        }
    }

    // B's preference profile counts A's purchases too.
    super::profile::merge_tx::<MergeError>(tx, from, into)?;

    // A: closed, nothing on it; its lookup keys lead to B.
    a.merged_into = Some(into);
    a.points = 0;
    a.points_debt = 0;
    a.stored_value_fen = 0;
    let card = a.card_number().map_err(|e| TxError::Rejected(MergeError::Member(e.into())))?;
    for key in [phone_key(&a.phone), card_key(&card), ref_key(&a.referral.code)] {
        tx.put_raw::<MergeError>(TreeId::MemberKeys, &key, &codec::u64_key(into))?;
    }
    super::put_member(tx, &a).map_err(|e| e.map_rejected(MergeError::Member))?;
    // Members merged into A before now lead to B too, so no lookup stops at a closed member.
    for &id in &plan.earlier {
        let Some(mut d) = tx.get::<Member, MergeError>(TreeId::Members, &codec::u64_key(id))? else { continue };
        if d.merged_into != Some(from) {
            continue;
        }
        d.merged_into = Some(into);
        if d.erased_at.is_none() {
            let card = d.card_number().map_err(|e| TxError::Rejected(MergeError::Member(e.into())))?;
            for key in [phone_key(&d.phone), card_key(&card), ref_key(&d.referral.code)] {
                tx.put_raw::<MergeError>(TreeId::MemberKeys, &key, &codec::u64_key(into))?;
            }
        }
        super::put_member(tx, &d).map_err(|e| e.map_rejected(MergeError::Member))?;
    }
    super::put_member(tx, &b).map_err(|e| e.map_rejected(MergeError::Member))?;
    if let Some(c) = &tier_change {
        super::purchase::emit_tier_change(tx, into, c).map_err(|e| e.map_rejected(MergeError::Member))?;
    }

    let id = tx.next_seq(TreeId::MemberMerges)?;
    let record = MemberMerge { id, from, into, by: staff.id.clone(), at: now, moved: moved.clone() };
    tx.put(TreeId::MemberMerges, &codec::u64_key(id), &record)?;
    let event = MemberMerged { merge_id: id, from_member_id: from, into_member_id: into, by: staff.id, moved, points: b.points, stored_value_fen: b.stored_value_fen };
    tx.emit(EVENT_MEMBER_MERGED, Some(&into.to_string()), &event)?;
    Ok(record)
}

/// Every merge, oldest first (the audit trail).
pub fn merges(store: &Store) -> Result<Vec<MemberMerge>, StoreError> {
    store.scan::<MemberMerge>(TreeId::MemberMerges).map(|r| r.map(|(_, m)| m)).collect()
}
