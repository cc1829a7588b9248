//! Stored value (会员卡余额) on the member record and in the `StoredValue` ledger: top-ups with their
//! bonus (two entries, so the bonus stays distinguishable from money paid in), spending at the
//! till and refunds on returns.
//!
//! Keeps `member.stored_value_fen` = Σ of the member's entries ≥ 0 in every commit. The bonus
//! choice and the never-negative rule are `domain::loyalty::stored_value`'s. Moving real money is
//! the payment terminal's job, never this module's.

use serde::{Deserialize, Serialize};

use super::{
    check_note, ledger_index_key, ledger_index_prefix, member_tx, put_member, LoyaltyRules, Member, MemberError,
    STORED_VALUE_INDEX,
};
use crate::domain::loyalty::stored_value::{self as sv, StoredValueEntry, StoredValueError, StoredValueKind};
use crate::domain::staff::Action;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

impl Record for StoredValueEntry {
    const VERSION: u8 = 2;
    const NAME: &'static str = "stored value entry";

    /// Version 1 did not keep who took a top-up.
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, StoreError> {
        match version {
            1 => codec::upgrade_by_appending(bytes, &(None::<String>,)),
            _ => Err(StoreError::Corrupt(format!("stored value entry has unknown version tag {version}"))),
        }
    }
}

/// Data of `storehub.stored_value.topped_up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToppedUp {
    pub member_id: u64,
    pub amount_fen: i64,
    pub bonus_fen: i64,
    pub balance_fen: i64,
    pub by: String,
    pub reference: Option<String>,
    pub topup_entry_id: u64,
    pub bonus_entry_id: Option<u64>,
}

/// Data of `storehub.stored_value.spent` and `storehub.stored_value.refunded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValueChanged {
    pub member_id: u64,
    /// Signed change of the balance, fen.
    pub delta_fen: i64,
    pub balance_fen: i64,
    /// `sale:12` or `return:3`.
    pub reference: String,
    pub entry_id: u64,
}

/// A top-up as credited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpDone {
    pub amount_fen: i64,
    pub bonus_fen: i64,
    pub balance_fen: i64,
}

/// A spend or refund as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValueMoved {
    pub entry_id: u64,
    pub balance_fen: i64,
}

/// Writes one entry, its per-member index key, and moves the member's balance.
fn record(
    tx: &Tx,
    m: &mut Member,
    kind: StoredValueKind,
    delta_fen: i64,
    reference: Option<String>,
    by: Option<&str>,
    rules: &LoyaltyRules,
) -> Result<u64, TxError<MemberError>> {
    let id = tx.next_seq::<MemberError>(TreeId::StoredValue)?;
    let entry = StoredValueEntry { id, member_id: m.id, kind, delta_fen, at: rules.local(tx.now()), reference, by: by.map(str::to_string) };
    tx.put::<_, MemberError>(TreeId::StoredValue, &codec::u64_key(id), &entry)?;
    tx.put_raw::<MemberError>(TreeId::MemberLedger, &ledger_index_key(STORED_VALUE_INDEX, m.id, id), &[])?;
    m.stored_value_fen = m.stored_value_fen.saturating_add(delta_fen);
    Ok(id)
}

fn refused(member_id: u64, source: StoredValueError) -> TxError<MemberError> {
    TxError::Rejected(MemberError::StoredValue { member_id, source })
}

/// Puts `amount_fen` paid in on the member's card, plus the best top-up bonus that applies
/// (`TopUp` and `Bonus` entries). `by_staff` must be an active account allowed to sell (who took
/// the money); `reference` is the payment's receipt or transaction number.
pub fn topup(
    store: &Store,
    member_id: u64,
    amount_fen: i64,
    by_staff: &str,
    reference: Option<&str>,
    rules: &LoyaltyRules,
) -> Result<TopUpDone, CommitError<MemberError>> {
    let t = sv::topup(amount_fen, &rules.topup_bonus)
        .map_err(|source| CommitError::Rejected(MemberError::StoredValue { member_id, source }))?;
    let reference = match reference {
        Some(r) => Some(check_note("reference", r).map_err(CommitError::Rejected)?),
        None => None,
    };
    store.commit(|tx| {
        let who = crate::staff::authorize_in_tx::<MemberError>(tx, by_staff, Action::Sell)?;
        let mut m = member_tx(tx, member_id)?;
        let topup_entry_id = record(tx, &mut m, StoredValueKind::TopUp, t.amount_fen, reference.clone(), Some(&who.id), rules)?;
        let bonus_entry_id = if t.bonus_fen > 0 {
            Some(record(tx, &mut m, StoredValueKind::Bonus, t.bonus_fen, reference.clone(), Some(&who.id), rules)?)
        } else {
            None
        };
        put_member(tx, &m)?;
        let data = ToppedUp {
            member_id,
            amount_fen: t.amount_fen,
            bonus_fen: t.bonus_fen,
            balance_fen: m.stored_value_fen,
            by: who.id,
            reference: reference.clone(),
            topup_entry_id,
            bonus_entry_id,
        };
        tx.emit::<MemberError>(super::EVENT_STORED_VALUE_TOPPED_UP, Some(&member_id.to_string()), &data)?;
        Ok(TopUpDone { amount_fen: t.amount_fen, bonus_fen: t.bonus_fen, balance_fen: m.stored_value_fen })
    })
}

/// Pays `fen` of a sale from the member's card, inside the sale's commit; refused
/// ([`MemberError::StoredValue`] with `Insufficient`) when the balance does not cover it.
pub fn stored_value_spend_tx(
    tx: &Tx,
    member_id: u64,
    fen: i64,
    sale_id: u64,
    rules: &LoyaltyRules,
) -> Result<StoredValueMoved, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    sv::spend(m.stored_value_fen, fen).map_err(|e| refused(member_id, e))?;
    let reference = format!("sale:{sale_id}");
    let entry_id = record(tx, &mut m, StoredValueKind::Spend, -fen, Some(reference.clone()), None, rules)?;
    put_member(tx, &m)?;
    let data = StoredValueChanged { member_id, delta_fen: -fen, balance_fen: m.stored_value_fen, reference, entry_id };
    tx.emit::<MemberError>(super::EVENT_STORED_VALUE_SPENT, Some(&member_id.to_string()), &data)?;
    Ok(StoredValueMoved { entry_id, balance_fen: m.stored_value_fen })
}

/// Puts `fen` back on the member's card for returned goods that stored value paid, inside the
/// return's commit. How much of a return goes back to the card is checkout's decision
/// (`domain::tender::refund_split`).
pub fn stored_value_refund_tx(
    tx: &Tx,
    member_id: u64,
    fen: i64,
    return_id: u64,
    rules: &LoyaltyRules,
) -> Result<StoredValueMoved, TxError<MemberError>> {
    if fen <= 0 {
        return Err(refused(member_id, StoredValueError::NotPositive { amount_fen: fen }));
    }
    let mut m = member_tx(tx, member_id)?;
    let reference = format!("return:{return_id}");
    let entry_id = record(tx, &mut m, StoredValueKind::Refund, fen, Some(reference.clone()), None, rules)?;
    put_member(tx, &m)?;
    let data = StoredValueChanged { member_id, delta_fen: fen, balance_fen: m.stored_value_fen, reference, entry_id };
    tx.emit::<MemberError>(super::EVENT_STORED_VALUE_REFUNDED, Some(&member_id.to_string()), &data)?;
    Ok(StoredValueMoved { entry_id, balance_fen: m.stored_value_fen })
}

/// A member's stored-value ledger, oldest first.
pub fn stored_value_ledger(store: &Store, member_id: u64) -> Result<Vec<StoredValueEntry>, StoreError> {
    let mut out = Vec::new();
    for key in store.keys_with_prefix(TreeId::MemberLedger, &ledger_index_prefix(STORED_VALUE_INDEX, member_id)) {
        let key = key?;
        let entry_id = codec::key_u64(key.get(9..).unwrap_or_default())?;
        match store.get::<StoredValueEntry>(TreeId::StoredValue, &codec::u64_key(entry_id))? {
            Some(e) => out.push(e),
            None => {
                return Err(StoreError::Corrupt(format!(
                    "member {member_id}: stored-value index names entry {entry_id}, which does not exist"
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry written before top-ups kept their staff (version 1) reads with `by: None`.
    #[test]
    fn a_version_1_entry_reads_without_staff() {
        #[derive(Serialize)]
        struct V1 {
            id: u64,
            member_id: u64,
            kind: StoredValueKind,
            delta_fen: i64,
            at: chrono::NaiveDateTime,
            reference: Option<String>,
        }
        let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).and_then(|d| d.and_hms_opt(9, 30, 0)).unwrap();
        let old = V1 { id: 7, member_id: 3, kind: StoredValueKind::TopUp, delta_fen: 50_000, at, reference: Some("POS-9".into()) };
        let mut bytes = vec![1u8];
        bytes.extend(postcard::to_allocvec(&old).unwrap());
        let e: StoredValueEntry = codec::decode(&bytes).unwrap();
        assert_eq!((e.id, e.member_id, e.delta_fen, e.reference.as_deref(), e.by), (7, 3, 50_000, Some("POS-9"), None));
        let now = StoredValueEntry { by: Some("wang".into()), ..e };
        assert_eq!(codec::decode::<StoredValueEntry>(&codec::encode(&now).unwrap()).unwrap(), now);
    }
}
