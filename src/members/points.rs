//! Points on the member record and in the points ledger: crediting (debt first, then a lot),
//! taking (FIFO by expiry, or the debt rule for returns), and one ledger entry per change.
//!
//! Every change here keeps, in the same commit: `member.points` = Σ `member.lots[].remaining` =
//! Σ of the member's ledger deltas, and `member.points_debt` = Σ of their `debt_delta`s. Which
//! lots pay and how many points a sale or return is worth are `domain::loyalty`'s decisions.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::{
    check_note, ledger_index_key, ledger_index_prefix, member_tx, put_member, LoyaltyRules, Member, MemberError,
    POINTS_INDEX,
};
use crate::domain::loyalty::earn::{earn, EarnTicket, Earning};
use crate::domain::loyalty::ledger::{self as dl, EarnedOnSale, PointsEntry, PointsEntryKind, RedeemedOnSale};
use crate::domain::loyalty::lots::{self, LotTake, PointLot};
use crate::domain::staff::Action;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// One line of the points ledger as stored: the domain entry, plus what it did to the lots and
/// to the debt, and who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsLedgerEntry {
    /// Id, member, kind, signed balance change, shop-local time, reference (`sale:12`,
    /// `return:3`, `referral:7`, `birthday:2026`, `expiry:2026-12-01`, `adjust`).
    pub entry: PointsEntry,
    /// Change of the member's `points_debt` (positive: a return the balance could not cover;
    /// negative: a credit that settled debt).
    pub debt_delta: i64,
    /// The lot credited (positive `delta`).
    pub lot_id: Option<u64>,
    /// Points taken from each lot (negative `delta`).
    pub takes: Vec<LotTake>,
    /// What a credit was for.
    pub source: Option<PointsSource>,
    /// Reason typed by staff (adjustments).
    pub note: Option<String>,
    /// Staff id behind a manual change.
    pub by: Option<String>,
}

impl Record for PointsLedgerEntry {
    const NAME: &'static str = "points ledger entry";
}

/// What credited points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsSource {
    Sale,
    ReferralSignup,
    ReferralFirstPurchase,
    Birthday,
    Restore,
    Adjustment,
}

/// Data of `storehub.points.earned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsEarned {
    pub member_id: u64,
    /// Points credited to the balance (after debt).
    pub points: i64,
    /// Points that went to settling debt instead.
    pub debt_settled: i64,
    pub source: PointsSource,
    /// `sale:12`, `referral:7`, `birthday:2026` …
    pub reference: String,
    pub entry_id: u64,
    pub lot_id: Option<u64>,
    pub expires_on: Option<NaiveDate>,
    pub balance: i64,
    pub points_debt: i64,
}

/// Data of `storehub.points.redeemed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsRedeemed {
    pub member_id: u64,
    pub points: i64,
    pub sale_id: u64,
    pub entry_id: u64,
    pub balance: i64,
}

/// Data of `storehub.points.expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsExpired {
    pub member_id: u64,
    pub points: i64,
    pub lots: Vec<LotTake>,
    pub entry_id: u64,
    pub balance: i64,
}

/// Data of `storehub.points.reversed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsReversed {
    pub member_id: u64,
    pub return_id: u64,
    /// Points the return takes back: `taken + debt_added`.
    pub points: i64,
    /// Taken from the balance.
    pub taken: i64,
    /// Recorded as debt (the balance could not cover it).
    pub debt_added: i64,
    pub entry_id: u64,
    pub balance: i64,
    pub points_debt: i64,
}

/// Data of `storehub.points.restored`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsRestored {
    pub member_id: u64,
    pub return_id: u64,
    pub points: i64,
    pub credited: i64,
    pub debt_settled: i64,
    pub entry_id: u64,
    pub balance: i64,
    pub points_debt: i64,
}

/// Data of `storehub.points.adjusted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsAdjusted {
    pub member_id: u64,
    /// Requested change.
    pub delta: i64,
    /// Of a positive change, the part that settled debt.
    pub debt_settled: i64,
    pub reason: String,
    pub by: String,
    pub entry_id: u64,
    pub balance: i64,
}

/// Points a sale earned, as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earned {
    /// The domain's breakdown (for the receipt and the sale event).
    pub earning: Earning,
    /// Points added to the balance.
    pub credited: i64,
    /// Points that settled debt.
    pub debt_settled: i64,
    /// The lot credited: keep it with the sale and pass it to [`reverse_for_return_tx`].
    pub lot_id: Option<u64>,
    pub entry_id: Option<u64>,
    pub balance: i64,
    pub points_debt: i64,
}

/// Points redeemed for a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redeemed {
    pub points: i64,
    pub takes: Vec<LotTake>,
    pub entry_id: Option<u64>,
    pub balance: i64,
}

/// What a return took back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversed {
    /// Points due back ([`crate::domain::loyalty::ledger::reverse_for_return`]): add to the
    /// sale's `reversed_before`.
    pub points: i64,
    pub taken: i64,
    pub debt_added: i64,
    pub entry_id: Option<u64>,
    pub balance: i64,
    pub points_debt: i64,
}

/// What a return gave back of the points that paid for the goods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    /// Points due back ([`crate::domain::loyalty::ledger::restore_redeemed`]): add to the
    /// sale's `restored_before`.
    pub points: i64,
    pub credited: i64,
    pub debt_settled: i64,
    pub entry_id: Option<u64>,
    pub balance: i64,
    pub points_debt: i64,
}

/// A manual adjustment, as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjusted {
    pub delta: i64,
    pub debt_settled: i64,
    pub entry_id: u64,
    pub balance: i64,
    pub points_debt: i64,
}

/// A credit as applied to a member.
pub(crate) struct Credit {
    pub credited: i64,
    pub debt_settled: i64,
    pub lot: Option<(u64, Option<NaiveDate>)>,
    pub entry_id: Option<u64>,
}

/// Everything but the entry id, kind, delta and debt of a ledger line.
#[derive(Default)]
pub(crate) struct EntryInfo {
    pub reference: Option<String>,
    pub source: Option<PointsSource>,
    pub note: Option<String>,
    pub by: Option<String>,
}

/// Writes a ledger entry and its per-member index key.
fn write_entry<E>(tx: &Tx, e: &PointsLedgerEntry) -> Result<(), TxError<E>> {
    tx.put::<_, E>(TreeId::PointsLedger, &codec::u64_key(e.entry.id), e)?;
    tx.put_raw::<E>(TreeId::MemberLedger, &ledger_index_key(POINTS_INDEX, e.entry.member_id, e.entry.id), &[])
}

impl EntryInfo {
    /// The ledger line of a change of `delta` points and `debt_delta` debt.
    fn line(self, id: u64, m: &Member, kind: PointsEntryKind, delta: i64, debt_delta: i64, at: NaiveDateTime) -> PointsLedgerEntry {
        PointsLedgerEntry {
            entry: PointsEntry { id, member_id: m.id, kind, delta, at, reference: self.reference },
            debt_delta,
            lot_id: None,
            takes: Vec::new(),
            source: self.source,
            note: self.note,
            by: self.by,
        }
    }
}

/// Credits `points` (debt first, then into the lot of the day's expiry date, merged with an open
/// lot of the same expiry date) and writes one ledger entry when anything changed. The caller
/// writes the member back.
pub(crate) fn credit<E>(
    tx: &Tx,
    m: &mut Member,
    points: i64,
    kind: PointsEntryKind,
    info: EntryInfo,
    rules: &LoyaltyRules,
) -> Result<Credit, TxError<E>> {
    let (credited, debt_left) = dl::settle_debt(points, m.points_debt);
    let debt_settled = m.points_debt - debt_left;
    if credited == 0 && debt_settled == 0 {
        return Ok(Credit { credited: 0, debt_settled: 0, lot: None, entry_id: None });
    }
    let at = rules.local(tx.now());
    let today = at.date();
    let id = tx.next_seq::<E>(TreeId::PointsLedger)?;
    let mut lot = None;
    if credited > 0 {
        let expires_on = rules.expiry.expires_on(today);
        // One lot per expiry date: lots that expire together are used and expire together, so
        // merging loses nothing and bounds the lots a member record carries (one for points
        // that never expire).
        let lot_id = match m.lots.iter_mut().find(|l| l.expires_on == expires_on) {
            Some(l) => {
                l.original = l.original.saturating_add(credited);
                l.remaining = l.remaining.saturating_add(credited);
                l.id
            }
            None => {
                m.lots.push(PointLot::new(id, today, credited, &rules.expiry));
                id
            }
        };
        lot = Some((lot_id, expires_on));
    }
    m.points = m.points.saturating_add(credited);
    m.points_debt = debt_left;
    let line = PointsLedgerEntry { lot_id: lot.map(|l| l.0), ..info.line(id, m, kind, credited, -debt_settled, at) };
    write_entry::<E>(tx, &line)?;
    Ok(Credit { credited, debt_settled, lot, entry_id: Some(id) })
}

/// Credits reward or sale points and emits `storehub.points.earned` when anything changed.
pub(crate) fn credit_and_announce(
    tx: &Tx,
    m: &mut Member,
    points: i64,
    source: PointsSource,
    reference: &str,
    rules: &LoyaltyRules,
) -> Result<Credit, TxError<MemberError>> {
    let kind = if source == PointsSource::Sale { PointsEntryKind::Earn } else { PointsEntryKind::Adjust };
    let info = EntryInfo { reference: Some(reference.to_string()), source: Some(source), ..EntryInfo::default() };
    let c = credit::<MemberError>(tx, m, points, kind, info, rules)?;
    if let Some(entry_id) = c.entry_id {
        let data = PointsEarned {
            member_id: m.id,
            points: c.credited,
            debt_settled: c.debt_settled,
            source,
            reference: reference.to_string(),
            entry_id,
            lot_id: c.lot.map(|l| l.0),
            expires_on: c.lot.and_then(|l| l.1),
            balance: m.points,
            points_debt: m.points_debt,
        };
        tx.emit::<MemberError>(super::EVENT_POINTS_EARNED, Some(&m.id.to_string()), &data)?;
    }
    Ok(c)
}

/// Applies takes to the member's lots (dropping emptied lots) and lowers the balance.
pub(crate) fn take(m: &mut Member, takes: &[LotTake]) -> Result<i64, MemberError> {
    let after = lots::apply_takes(&m.lots, takes).map_err(|source| MemberError::Points { member_id: m.id, source })?;
    let taken = lots::total(takes);
    m.lots = after.into_iter().filter(|l| l.remaining > 0).collect();
    m.points = m.points.saturating_sub(taken);
    Ok(taken)
}

/// Takes points by `takes` and writes the (negative) ledger entry; returns (points, entry id).
pub(crate) fn take_and_record<E: From<MemberError>>(
    tx: &Tx,
    m: &mut Member,
    takes: Vec<LotTake>,
    kind: PointsEntryKind,
    debt_delta: i64,
    info: EntryInfo,
    rules: &LoyaltyRules,
) -> Result<(i64, Option<u64>), TxError<E>> {
    let taken = take(m, &takes).map_err(|e| TxError::Rejected(e.into()))?;
    m.points_debt = m.points_debt.saturating_add(debt_delta);
    if taken == 0 && debt_delta == 0 {
        return Ok((0, None));
    }
    let id = tx.next_seq::<E>(TreeId::PointsLedger)?;
    let at = rules.local(tx.now());
    let line = PointsLedgerEntry { takes, ..info.line(id, m, kind, -taken, debt_delta, at) };
    write_entry::<E>(tx, &line)?;
    Ok((taken, Some(id)))
}

fn sale_ref(sale_id: u64) -> String {
    format!("sale:{sale_id}")
}

fn return_ref(return_id: u64) -> String {
    format!("return:{return_id}")
}

/// Credits the points a paid ticket earns, inside the sale's commit: `domain::loyalty::earn` at
/// the member's tier multiplier, outstanding debt settled first, the rest into a lot (keep
/// `lot_id` with the sale for returns). Call it before [`super::record_purchase_tx`] so the
/// ticket earns at the tier the member paid in. A ticket earning nothing writes nothing. A
/// running points-multiplier campaign that treated the member counts as one more points
/// campaign covering every line (`members::campaigns::points_offers_tx`, docs/members-analytics.md).
pub fn earn_tx(
    tx: &Tx,
    member_id: u64,
    ticket: &EarnTicket,
    sale_id: u64,
    rules: &LoyaltyRules,
) -> Result<Earned, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    // A running points-multiplier campaign that treated this member adds a points campaign
    // covering every line for its window (`members::campaigns::points_offers_tx`).
    let offers = super::campaigns::points_offers_tx(tx, member_id, tx.now(), rules.timezone)?;
    let earning = if offers.is_empty() {
        earn(&rules.earn, ticket, rules.tier_multiplier_bp(&m.tier))
    } else {
        let mut with_offers = rules.earn.clone();
        with_offers.campaigns.extend(offers);
        earn(&with_offers, ticket, rules.tier_multiplier_bp(&m.tier))
    };
    let c = credit_and_announce(tx, &mut m, earning.points, PointsSource::Sale, &sale_ref(sale_id), rules)?;
    if c.entry_id.is_some() {
        put_member(tx, &m)?;
    }
    Ok(Earned {
        earning,
        credited: c.credited,
        debt_settled: c.debt_settled,
        lot_id: c.lot.map(|l| l.0),
        entry_id: c.entry_id,
        balance: m.points,
        points_debt: m.points_debt,
    })
}

/// Redeems `points` for a sale, inside its commit: soonest-expiring lots first
/// (`redeem_fifo`); refused with [`MemberError::Points`] when the usable balance is short. How
/// many points a ticket may take is `domain::loyalty::cash`'s rule, applied by the caller.
pub fn redeem_points_tx(
    tx: &Tx,
    member_id: u64,
    points: i64,
    sale_id: u64,
    rules: &LoyaltyRules,
) -> Result<Redeemed, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    let today = rules.today(tx.now());
    let takes = lots::redeem_fifo(&m.lots, points, today)
        .map_err(|source| TxError::Rejected(MemberError::Points { member_id, source }))?;
    let info = EntryInfo { reference: Some(sale_ref(sale_id)), ..EntryInfo::default() };
    let (taken, entry_id) =
        take_and_record::<MemberError>(tx, &mut m, takes.clone(), PointsEntryKind::Redeem, 0, info, rules)?;
    if let Some(entry_id) = entry_id {
        put_member(tx, &m)?;
        let data = PointsRedeemed { member_id, points: taken, sale_id, entry_id, balance: m.points };
        tx.emit::<MemberError>(super::EVENT_POINTS_REDEEMED, Some(&member_id.to_string()), &data)?;
    }
    Ok(Redeemed { points: taken, takes, entry_id, balance: m.points })
}

/// Takes back the points a return is worth ([`dl::reverse_for_return`] on `sale`), inside the
/// return's commit: from the sale's lot first (`sale_lot`, from [`Earned::lot_id`]), then
/// soonest-expiring; what the balance cannot cover becomes `points_debt` (the balance never goes
/// negative), settled by the member's next credits.
pub fn reverse_for_return_tx(
    tx: &Tx,
    member_id: u64,
    sale: &EarnedOnSale,
    refunded_now_fen: i64,
    sale_lot: Option<u64>,
    return_id: u64,
    rules: &LoyaltyRules,
) -> Result<Reversed, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    let points = dl::reverse_for_return(sale, refunded_now_fen);
    let tb = dl::take_back(&m.lots, points, sale_lot, rules.today(tx.now()));
    let info = EntryInfo { reference: Some(return_ref(return_id)), ..EntryInfo::default() };
    let (taken, entry_id) =
        take_and_record::<MemberError>(tx, &mut m, tb.takes, PointsEntryKind::Reverse, tb.debt, info, rules)?;
    if let Some(entry_id) = entry_id {
        put_member(tx, &m)?;
        let data = PointsReversed {
            member_id,
            return_id,
            points,
            taken,
            debt_added: tb.debt,
            entry_id,
            balance: m.points,
            points_debt: m.points_debt,
        };
        tx.emit::<MemberError>(super::EVENT_POINTS_REVERSED, Some(&member_id.to_string()), &data)?;
    }
    Ok(Reversed { points, taken, debt_added: tb.debt, entry_id, balance: m.points, points_debt: m.points_debt })
}

/// Gives back the points that paid for returned goods ([`dl::restore_redeemed`] on `sale`),
/// inside the return's commit: debt first, the rest into a fresh lot (expiring as if earned
/// today).
pub fn restore_redeemed_tx(
    tx: &Tx,
    member_id: u64,
    sale: &RedeemedOnSale,
    refunded_now_fen: i64,
    return_id: u64,
    rules: &LoyaltyRules,
) -> Result<Restored, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    let points = dl::restore_redeemed(sale, refunded_now_fen);
    let info =
        EntryInfo { reference: Some(return_ref(return_id)), source: Some(PointsSource::Restore), ..EntryInfo::default() };
    let c = credit::<MemberError>(tx, &mut m, points, PointsEntryKind::Reverse, info, rules)?;
    if let Some(entry_id) = c.entry_id {
        put_member(tx, &m)?;
        let data = PointsRestored {
            member_id,
            return_id,
            points,
            credited: c.credited,
            debt_settled: c.debt_settled,
            entry_id,
            balance: m.points,
            points_debt: m.points_debt,
        };
        tx.emit::<MemberError>(super::EVENT_POINTS_RESTORED, Some(&member_id.to_string()), &data)?;
    }
    Ok(Restored {
        points,
        credited: c.credited,
        debt_settled: c.debt_settled,
        entry_id: c.entry_id,
        balance: m.points,
        points_debt: m.points_debt,
    })
}

/// Adds (`delta > 0`, debt first) or removes (`delta < 0`, soonest-expiring lots first, refused
/// when the usable balance is short) points by hand. `by_staff` must be an active account allowed
/// to adjust points (manager, admin); `reason` is required and kept in the ledger.
pub fn adjust_points(
    store: &Store,
    member_id: u64,
    delta: i64,
    reason: &str,
    by_staff: &str,
    rules: &LoyaltyRules,
) -> Result<Adjusted, CommitError<MemberError>> {
    if delta == 0 {
        return Err(CommitError::Rejected(MemberError::ZeroAdjustment));
    }
    let reason = check_note("reason", reason).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        let who = crate::staff::authorize_in_tx::<MemberError>(tx, by_staff, Action::AdjustPoints)?;
        let mut m = member_tx(tx, member_id)?;
        let info = || EntryInfo {
            reference: Some("adjust".to_string()),
            source: (delta > 0).then_some(PointsSource::Adjustment),
            note: Some(reason.clone()),
            by: Some(who.id.clone()),
        };
        let (entry_id, debt_settled) = if delta > 0 {
            let c = credit::<MemberError>(tx, &mut m, delta, PointsEntryKind::Adjust, info(), rules)?;
            (c.entry_id, c.debt_settled)
        } else {
            let today = rules.today(tx.now());
            let takes = lots::redeem_fifo(&m.lots, delta.saturating_neg(), today)
                .map_err(|source| TxError::Rejected(MemberError::Points { member_id, source }))?;
            let (_, id) = take_and_record::<MemberError>(tx, &mut m, takes, PointsEntryKind::Adjust, 0, info(), rules)?;
            (id, 0)
        };
        // A non-zero delta always writes an entry (credit or take); 0 only if a saturating
        // corner case changed nothing, which is refused rather than half-recorded.
        let Some(entry_id) = entry_id else {
            return Err(TxError::Rejected(MemberError::ZeroAdjustment));
        };
        put_member(tx, &m)?;
        let data = PointsAdjusted {
            member_id,
            delta,
            debt_settled,
            reason: reason.clone(),
            by: who.id.clone(),
            entry_id,
            balance: m.points,
        };
        tx.emit::<MemberError>(super::EVENT_POINTS_ADJUSTED, Some(&member_id.to_string()), &data)?;
        Ok(Adjusted { delta, debt_settled, entry_id, balance: m.points, points_debt: m.points_debt })
    })
}

/// A member's points ledger, oldest first.
pub fn ledger(store: &Store, member_id: u64) -> Result<Vec<PointsLedgerEntry>, StoreError> {
    let mut out = Vec::new();
    for key in store.keys_with_prefix(TreeId::MemberLedger, &ledger_index_prefix(POINTS_INDEX, member_id)) {
        let key = key?;
        let entry_id = codec::key_u64(key.get(9..).unwrap_or_default())?;
        match store.get::<PointsLedgerEntry>(TreeId::PointsLedger, &codec::u64_key(entry_id))? {
            Some(e) => out.push(e),
            None => {
                return Err(StoreError::Corrupt(format!(
                    "member {member_id}: points ledger index names entry {entry_id}, which does not exist"
                )))
            }
        }
    }
    Ok(out)
}

/// Every points ledger entry, in id order (exports and checks).
pub(crate) fn all_entries(store: &Store) -> impl Iterator<Item = Result<PointsLedgerEntry, StoreError>> + '_ {
    store.scan::<PointsLedgerEntry>(TreeId::PointsLedger).map(|r| r.map(|(_, e)| e))
}
