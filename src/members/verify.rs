//! The member invariants `storehub verify` checks: balances against lots and ledgers, nothing
//! negative, and the lookup and ledger indexes pointing where they should. Reads only.

use std::collections::{BTreeMap, BTreeSet};

use super::points::all_entries;
use super::{card_key, ledger_index_key, phone_key, ref_key, Member, POINTS_INDEX, STORED_VALUE_INDEX};
use crate::domain::loyalty::stored_value::StoredValueEntry;
use crate::store::{codec, Store, StoreError, TreeId};

/// Sums of one member's ledgers.
#[derive(Default)]
struct Sums {
    points: i128,
    debt: i128,
    stored_value: i128,
}

/// Every violation of the member invariants, one line each, naming the member:
/// `points` ≠ Σ lots' remaining, `points` ≠ Σ points ledger deltas, `points_debt` ≠ Σ debt
/// changes, a negative balance, debt or stored value, a lot outside `1..=original`,
/// `stored_value_fen` ≠ Σ stored-value entries, a ledger entry of no member or missing from the
/// per-member index (or an index key naming no entry), and a lookup key pointing to a missing
/// member or to one whose phone, card or referral code is not the key's.
pub fn check(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut v = Vec::new();
    let mut sums: BTreeMap<u64, Sums> = BTreeMap::new();
    let mut indexed: BTreeSet<Vec<u8>> = BTreeSet::new();
    for key in store.keys_with_prefix(TreeId::MemberLedger, b"") {
        indexed.insert(key?);
    }

    for e in all_entries(store) {
        let e = e?;
        let s = sums.entry(e.entry.member_id).or_default();
        s.points += i128::from(e.entry.delta);
        s.debt += i128::from(e.debt_delta);
        if !indexed.remove(&ledger_index_key(POINTS_INDEX, e.entry.member_id, e.entry.id)) {
            v.push(format!("points ledger entry {}: missing from member {}'s ledger index", e.entry.id, e.entry.member_id));
        }
    }
    for item in store.scan::<StoredValueEntry>(TreeId::StoredValue) {
        let (_, e) = item?;
        sums.entry(e.member_id).or_default().stored_value += i128::from(e.delta_fen);
        if !indexed.remove(&ledger_index_key(STORED_VALUE_INDEX, e.member_id, e.id)) {
            v.push(format!("stored value entry {}: missing from member {}'s ledger index", e.id, e.member_id));
        }
    }
    for key in indexed {
        let (kind, member, entry) = match (key.first(), key.get(1..9), key.get(9..)) {
            (Some(k), Some(m), Some(e)) => (char::from(*k), codec::key_u64(m).unwrap_or(0), codec::key_u64(e).unwrap_or(0)),
            _ => ('?', 0, 0),
        };
        v.push(format!("member ledger index: key {kind}/{member}/{entry} names no ledger entry"));
    }

    let mut members: BTreeMap<u64, Member> = BTreeMap::new();
    for item in store.scan::<Member>(TreeId::Members) {
        let (key, m) = item?;
        if codec::key_u64(&key).ok() != Some(m.id) {
            v.push(format!("member {}: stored under another key", m.id));
        }
        check_member(&m, &sums.remove(&m.id).unwrap_or_default(), &mut v);
        members.insert(m.id, m);
    }
    for (id, s) in sums {
        v.push(format!(
            "member {id}: has ledger entries (points {}, stored value {} fen) but no member record",
            s.points, s.stored_value
        ));
    }

    let mut keyed: BTreeSet<(u64, &'static str)> = BTreeSet::new();
    // The lookup keys of merged members, by key: they point to the survivor, not to themselves.
    let mut merged_owner: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    for m in members.values().filter(|m| m.merged_into.is_some()) {
        merged_owner.insert(phone_key(&m.phone), m.id);
        if let Ok(c) = m.card_number() {
            merged_owner.insert(card_key(&c), m.id);
        }
        merged_owner.insert(ref_key(&m.referral.code), m.id);
    }
    for m in members.values() {
        if let Some(into) = m.merged_into {
            match members.get(&into) {
                Some(s) if s.merged_into.is_none() => {}
                Some(_) => v.push(format!("member {}: merged into member {into}, which was merged too", m.id)),
                None => v.push(format!("member {}: merged into member {into}, which does not exist", m.id)),
            }
            if m.points != 0 || m.points_debt != 0 || m.stored_value_fen != 0 || !m.lots.is_empty() {
                v.push(format!("member {}: merged into member {into} but still holds points, debt, lots or stored value", m.id));
            }
        }
    }
    for item in store.range_from(TreeId::MemberKeys, b"") {
        let (key, value) = item?;
        let key = String::from_utf8_lossy(&key).into_owned();
        let Ok(id) = codec::key_u64(&value) else {
            v.push(format!("member key {}: value is not a member id", shown_key(&key)));
            continue;
        };
        let Some(m) = members.get(&id) else {
            v.push(format!("member key {}: points to member {id}, which does not exist", shown_key(&key)));
            continue;
        };
        let key_of = |m: &Member| match key.split_once('/') {
            Some(("phone", _)) => ("phone", Some(phone_key(&m.phone))),
            Some(("card", _)) => ("card", m.card_number().ok().map(|c| card_key(&c))),
            Some(("ref", _)) => ("ref", Some(ref_key(&m.referral.code))),
            _ => ("?", None),
        };
        let (kind, expected) = key_of(m);
        if expected.as_deref() == Some(key.as_bytes()) {
            keyed.insert((id, kind));
            continue;
        }
        // A merged member's keys lead to the member it was merged into (`members::merge`).
        let merged = merged_owner.get(key.as_bytes()).copied();
        match merged.and_then(|from| members.get(&from).map(|f| (from, f.merged_into))) {
            Some((from, Some(into))) if into == id => {
                keyed.insert((from, kind));
            }
            _ => v.push(format!("member key {}: points to member {id}, whose {kind} does not match", shown_key(&key))),
        }
    }
    // An erased member has no lookup keys left (`privacy::subject::erase`).
    for id in members.values().filter(|m| m.erased_at.is_none()).map(|m| &m.id) {
        for kind in ["phone", "card", "ref"] {
            if !keyed.contains(&(*id, kind)) {
                v.push(format!("member {id}: no {kind} lookup key"));
            }
        }
    }
    Ok(v)
}

/// A lookup key as it may be shown: phone numbers masked.
fn shown_key(key: &str) -> String {
    match key.strip_prefix("phone/") {
        Some(p) => format!("phone/{}", crate::domain::phone::mask(p)),
        None => key.to_string(),
    }
}

fn check_member(m: &Member, s: &Sums, v: &mut Vec<String>) {
    let id = m.id;
    let in_lots: i128 = m.lots.iter().map(|l| i128::from(l.remaining)).sum();
    if i128::from(m.points) != in_lots {
        v.push(format!("member {id}: points {} but its lots hold {in_lots}", m.points));
    }
    if i128::from(m.points) != s.points {
        v.push(format!("member {id}: points {} but its points ledger sums to {}", m.points, s.points));
    }
    if i128::from(m.points_debt) != s.debt {
        v.push(format!("member {id}: points debt {} but its ledger's debt changes sum to {}", m.points_debt, s.debt));
    }
    if i128::from(m.stored_value_fen) != s.stored_value {
        v.push(format!(
            "member {id}: stored value {} fen but its stored-value ledger sums to {} fen",
            m.stored_value_fen, s.stored_value
        ));
    }
    if m.points < 0 {
        v.push(format!("member {id}: negative points balance {}", m.points));
    }
    if m.points_debt < 0 {
        v.push(format!("member {id}: negative points debt {}", m.points_debt));
    }
    if m.stored_value_fen < 0 {
        v.push(format!("member {id}: negative stored value {} fen", m.stored_value_fen));
    }
    for l in &m.lots {
        if l.remaining <= 0 || l.remaining > l.original {
            v.push(format!("member {id}: lot {} has {} of {} points left", l.id, l.remaining, l.original));
        }
    }
}
