//! A member's rights over their data (PIPL articles 45 and 47): export everything stored about
//! them, and erase their personal data. Both need a staff account allowed to manage members
//! (`Action::ManageMembers`: managers and admins) and are audited in their own commit.
//!
//! Erasure removes what identifies the member — phone, name, birthday, gender, the phone, card
//! and referral lookup keys, message texts, ticket texts, HQ command bodies naming them, their
//! preference profile — and keeps sales, returns, points and stored-value ledgers, coupons and
//! the member record itself (with its id and balances) for accounting: they are anonymised by
//! no longer leading to a person. `storehub.member.erased` tells HQ to erase its copy.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditAction};
use crate::checkout::returns::SaleReturn;
use crate::checkout::sale::Sale;
use crate::domain::staff::Action;
use crate::members::{self, card_key, phone_key, ref_key, ConsentChange, Member};
use crate::staff::StaffError;
use crate::store::{codec, CommitError, Store, StoreError, TreeId, Tx, TxError};

/// Outbox event of an erasure (data: [`MemberErased`]). HQ must erase the member's personal
/// data it holds (docs/privacy.md).
pub const EVENT_MEMBER_ERASED: &str = "storehub.member.erased";

/// Data of `storehub.member.erased`: the member id only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberErased {
    pub member_id: u64,
    pub erased_at: DateTime<Utc>,
}

/// Why an export or erasure is refused.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    #[error(transparent)]
    Staff(#[from] StaffError),
    #[error("no member {0}; check the member id, phone or card number")]
    NoMember(u64),
    #[error("member {0} was already erased")]
    AlreadyErased(u64),
}

/// Everything stored about one member, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct MemberExport {
    pub exported_at: DateTime<Utc>,
    pub member: Member,
    pub consent_history: Vec<ConsentChange>,
    pub points_ledger: Vec<members::PointsLedgerEntry>,
    pub stored_value_ledger: Vec<crate::domain::loyalty::stored_value::StoredValueEntry>,
    pub coupons: Vec<crate::coupons::IssuedCoupon>,
    pub sales: Vec<Sale>,
    pub returns: Vec<SaleReturn>,
    pub messages: Vec<members::messages::Message>,
    pub tickets: Vec<members::tickets::Ticket>,
    pub imported_history: Vec<members::history::ImportedPurchase>,
    pub campaigns: Vec<CampaignRecord>,
    pub profile: Option<members::profile::MemberProfile>,
    pub merges: Vec<members::merge::MemberMerge>,
}

/// One campaign the member was in.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignRecord {
    pub campaign_id: String,
    pub record: members::campaigns::CampaignMember,
}

/// Reads everything stored about `member_id` (no permission check; see [`export`]).
pub fn collect(store: &Store, member_id: u64) -> Result<Option<MemberExport>, StoreError> {
    let Some(member) = members::member(store, member_id)? else { return Ok(None) };
    let (points_ledger, _) = members::points_ledger_page(store, member_id, 0, usize::MAX)?;
    let (stored_value_ledger, _) = members::stored_value_page(store, member_id, 0, usize::MAX)?;
    let mut sales = Vec::new();
    for item in store.scan::<Sale>(TreeId::Sales) {
        let (_, s) = item?;
        if s.member_id == Some(member_id) {
            sales.push(s);
        }
    }
    let sale_ids: std::collections::BTreeSet<u64> = sales.iter().map(|s| s.id).collect();
    let returns = crate::checkout::returns::all_returns(store)?
        .into_iter()
        .filter(|r| r.sale_id.is_some_and(|id| sale_ids.contains(&id)))
        .collect();
    let messages = members::messages::list(store, &members::messages::MessageFilter { member_id: Some(member_id), ..Default::default() })?;
    let mut imported_history = Vec::new();
    for item in store.scan::<members::history::ImportedPurchase>(TreeId::History) {
        let (_, row) = item?;
        if row.member_id == member_id {
            imported_history.push(row);
        }
    }
    let mut campaigns = Vec::new();
    for item in store.range_from(TreeId::CampaignMembers, b"") {
        let (key, value) = item?;
        let Some(zero) = key.iter().position(|b| *b == 0) else { continue };
        if key.len() != zero + 9 || codec::key_u64(&key[zero + 1..])? != member_id {
            continue;
        }
        campaigns.push(CampaignRecord {
            campaign_id: String::from_utf8_lossy(&key[..zero]).into_owned(),
            record: codec::decode(&value)?,
        });
    }
    let merges = members::merge::merges(store)?
        .into_iter()
        .filter(|m| m.from == member_id || m.into == member_id)
        .collect();
    Ok(Some(MemberExport {
        exported_at: store.clock().now(),
        consent_history: members::consent_history(store, member_id)?,
        points_ledger,
        stored_value_ledger,
        coupons: crate::coupons::member_coupons(store, member_id, true)?,
        sales,
        returns,
        messages,
        tickets: members::tickets::member_tickets(store, member_id)?,
        imported_history,
        campaigns,
        profile: store.get(TreeId::MemberProfiles, &codec::u64_key(member_id))?,
        merges,
        member,
    }))
}

/// Exports everything stored about a member for `staff_id` (who must be allowed to manage
/// members), with a `member_exported` audit entry.
pub fn export(store: &Store, staff_id: &str, member_id: u64) -> Result<MemberExport, CommitError<SubjectError>> {
    crate::staff::authorize(store, staff_id, Action::ManageMembers).map_err(|e| e.map_rejected(SubjectError::Staff))?;
    export_authorized(store, staff_id, member_id)
}

/// [`export`] for a caller that has checked the permission itself (the web's route guard, for
/// a staff login or an API token); `actor` is recorded in the audit entry.
pub fn export_authorized(store: &Store, actor: &str, member_id: u64) -> Result<MemberExport, CommitError<SubjectError>> {
    let staff_id = actor;
    let out = collect(store, member_id)?.ok_or(CommitError::Rejected(SubjectError::NoMember(member_id)))?;
    let detail = format!(
        "{} sales, {} points entries, {} stored-value entries, {} messages, {} tickets",
        out.sales.len(),
        out.points_ledger.len(),
        out.stored_value_ledger.len(),
        out.messages.len(),
        out.tickets.len()
    );
    audit::record(store, staff_id, AuditAction::MemberExported, Some(&member_id.to_string()), &detail)?;
    Ok(out)
}

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureSummary {
    pub member_id: u64,
    pub erased_at: DateTime<Utc>,
    pub messages_cleared: usize,
    pub tickets_cleared: usize,
    pub commands_cleared: usize,
    /// Members merged into this one earlier (the same person's duplicates), erased with it.
    pub duplicates_erased: Vec<u64>,
    /// Kept, anonymised: sales, points and stored-value entries still naming the member id.
    pub sales_kept: usize,
}

/// Text left where erased free text was.
pub const ERASED_TEXT: &str = "(erased)";

/// Erases a member's personal data for `staff_id` (allowed to manage members), in one commit
/// with its audit entry and `storehub.member.erased`.
pub fn erase(store: &Store, staff_id: &str, member_id: u64) -> Result<ErasureSummary, CommitError<SubjectError>> {
    erase_as(store, staff_id, member_id, true)
}

/// [`erase`] for a caller that has checked the permission itself (the web's route guard);
/// `actor` is recorded in the audit entry.
pub fn erase_authorized(store: &Store, actor: &str, member_id: u64) -> Result<ErasureSummary, CommitError<SubjectError>> {
    erase_as(store, actor, member_id, false)
}

fn erase_as(store: &Store, staff_id: &str, member_id: u64, check: bool) -> Result<ErasureSummary, CommitError<SubjectError>> {
    // Read outside the commit (prefix scans), written inside it; the commit re-reads the member.
    let message_ids: Vec<u64> =
        members::messages::list(store, &members::messages::MessageFilter { member_id: Some(member_id), ..Default::default() })?
            .into_iter()
            .map(|m| m.id)
            .collect();
    let ticket_ids: Vec<u64> = members::tickets::member_tickets(store, member_id)?.into_iter().map(|t| t.id).collect();
    let mut sales_kept = 0;
    for item in store.scan::<Sale>(TreeId::Sales) {
        if item?.1.member_id == Some(member_id) {
            sales_kept += 1;
        }
    }
    let Some(before) = members::member(store, member_id)? else {
        return Err(CommitError::Rejected(SubjectError::NoMember(member_id)));
    };
    let duplicates = merged_into(store, member_id)?;
    let mut command_keys = Vec::new();
    if !before.phone.is_empty() {
        for item in store.scan_prefix::<crate::cloud::commands::record::CommandRecord>(TreeId::Commands, crate::cloud::commands::record::RECORD_PREFIX) {
            let (key, c) = item?;
            let names = |t: &str| t.contains(&before.phone) || (!before.name.is_empty() && t.contains(&before.name));
            if c.command_json.as_deref().is_some_and(names) || names(&c.reply_json) {
                command_keys.push(key);
            }
        }
    }
    store.commit(|tx| {
        if check {
            crate::staff::authorize_in_tx::<SubjectError>(tx, staff_id, Action::ManageMembers)?;
        }
        let key = codec::u64_key(member_id);
        let mut m: Member = tx.get(TreeId::Members, &key)?.ok_or(TxError::Rejected(SubjectError::NoMember(member_id)))?;
        if m.erased_at.is_some() {
            return Err(TxError::Rejected(SubjectError::AlreadyErased(member_id)));
        }
        let now = tx.now();
        erase_record_tx(tx, staff_id, &mut m, now)?;
        // The same person's duplicates folded into this member keep their own phone, name and
        // lookup keys (leading here): they go too. Each is re-read in the commit.
        for dup_id in &duplicates {
            let Some(mut dup) = tx.get::<Member, SubjectError>(TreeId::Members, &codec::u64_key(*dup_id))? else { continue };
            if dup.erased_at.is_none() {
                erase_record_tx(tx, staff_id, &mut dup, now)?;
            }
        }
        for id in &message_ids {
            let k = codec::u64_key(*id);
            if let Some(mut msg) = tx.get::<members::messages::Message, SubjectError>(TreeId::Messages, &k)? {
                msg.rendered = ERASED_TEXT.to_string();
                msg.card_number.clear();
                for (_, v) in msg.fields.iter_mut() {
                    *v = ERASED_TEXT.to_string();
                }
                tx.put(TreeId::Messages, &k, &msg)?;
            }
        }
        for id in &ticket_ids {
            let k = codec::u64_key(*id);
            if let Some(mut t) = tx.get::<members::tickets::Ticket, SubjectError>(TreeId::Tickets, &k)? {
                t.subject = ERASED_TEXT.to_string();
                for n in t.notes.iter_mut() {
                    n.text = ERASED_TEXT.to_string();
                }
                if t.resolution.is_some() {
                    t.resolution = Some(ERASED_TEXT.to_string());
                }
                tx.put(TreeId::Tickets, &k, &t)?;
            }
        }
        for k in &command_keys {
            if let Some(mut c) = tx.get::<crate::cloud::commands::record::CommandRecord, SubjectError>(TreeId::Commands, k)? {
                c.command_json = None;
                c.reply_json = format!("{{\"erased\":\"member {member_id}\"}}");
                tx.put(TreeId::Commands, k, &c)?;
            }
        }
        tx.emit::<SubjectError>(EVENT_MEMBER_ERASED, Some(&member_id.to_string()), &MemberErased { member_id, erased_at: now })?;
        let detail = format!(
            "{} messages, {} tickets, {} HQ commands cleared; {} merged duplicate(s) erased; {sales_kept} sales kept",
            message_ids.len(),
            ticket_ids.len(),
            command_keys.len(),
            duplicates.len()
        );
        audit::record_tx::<SubjectError>(tx, staff_id, AuditAction::MemberErased, Some(&member_id.to_string()), &detail)?;
        Ok(ErasureSummary {
            member_id,
            erased_at: now,
            messages_cleared: message_ids.len(),
            tickets_cleared: ticket_ids.len(),
            commands_cleared: command_keys.len(),
            duplicates_erased: duplicates.clone(),
            sales_kept,
        })
    })
}

/// Erases one member record inside the erasure's commit: its lookup keys (they lead to this
/// member, or to the survivor for a merged one, and go either way: they name this person), its
/// phone, name, birthday, gender and consents (withdrawn, recorded as via `erasure`), and its
/// preference profile; marks it erased.
fn erase_record_tx(tx: &Tx, staff_id: &str, m: &mut Member, now: DateTime<Utc>) -> Result<(), TxError<SubjectError>> {
    for k in [Some(phone_key(&m.phone)), m.card_number().ok().map(|c| card_key(&c)), Some(ref_key(&m.referral.code))].into_iter().flatten() {
        tx.remove::<SubjectError>(TreeId::MemberKeys, &k)?;
    }
    m.phone.clear();
    m.name.clear();
    m.birthday = None;
    m.gender = None;
    m.consent = Default::default();
    m.erased_at = Some(now);
    let key = codec::u64_key(m.id);
    tx.put(TreeId::Members, &key, &*m)?;
    members::record_consent_tx::<SubjectError>(tx, m, &members::ConsentSource::new(staff_id, "erasure"))?;
    tx.remove::<SubjectError>(TreeId::MemberProfiles, &key)?;
    Ok(())
}

/// The members merged into `member_id`, directly or through another duplicate (A into B into C
/// gives both for C), in id order.
fn merged_into(store: &Store, member_id: u64) -> Result<Vec<u64>, StoreError> {
    let mut into: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for item in store.scan::<Member>(TreeId::Members) {
        let (_, m) = item?;
        if let Some(target) = m.merged_into {
            into.entry(target).or_default().push(m.id);
        }
    }
    let mut found = Vec::new();
    let mut next = vec![member_id];
    while let Some(id) = next.pop() {
        for &dup in into.get(&id).into_iter().flatten() {
            // A cycle cannot be made by `members::merge`; a damaged store must not loop here.
            if dup != member_id && !found.contains(&dup) {
                found.push(dup);
                next.push(dup);
            }
        }
    }
    found.sort_unstable();
    Ok(found)
}
