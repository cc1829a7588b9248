//! Member preference profiles (会员画像): preferred categories, price sensitivity, preferred
//! weekday and hour, channel mix and average basket, kept in `TreeId::MemberProfiles` and
//! refreshed as the member's sales commit. Arithmetic in `domain::profile`.
//!
//! The profile is derived data, updated incrementally inside the commit that changes what it is
//! derived from: [`record_sale_tx`] in the sale's commit (checkout's lanes, and online orders
//! once ingested), [`record_return_tx`] in the return's commit (netting the refund). It emits no
//! event of its own. [`rebuild`] and [`rebuild_all`] derive it again from the stored sales and
//! returns (existing data, or after a change of rules); they read outside a commit and then, in
//! the commit that writes, pick up the sales and returns committed meanwhile (ids are handed
//! out in commit order without gaps), so no sale is ever missed.

use std::collections::HashMap;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::checkout::returns::SaleReturn;
use crate::checkout::sale::Sale;
use crate::domain::pricing::{DiscountSource, PricedLine, Quantity};
use crate::domain::profile::{ProfileLine, ProfileRefund, ProfileRefundLine, ProfileState, ProfileSummary, ProfileTicket, HALF_LIFE_DAYS};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

use super::MemberError;

/// A member's stored profile (`TreeId::MemberProfiles`, key = member id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberProfile {
    pub member_id: u64,
    pub state: ProfileState,
}

impl Record for MemberProfile {
    const NAME: &'static str = "member profile";
}

/// The profile as the API answers it: the member and the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub member_id: u64,
    #[serde(flatten)]
    pub summary: ProfileSummary,
}

/// Members rebuilt per commit in [`rebuild_all`].
const REBUILD_BATCH: usize = 500;

/// `meta` key set once every profile has been derived from the stored sales (by
/// [`rebuild_all`]); [`build_once`] looks at it.
const BUILT_KEY: &[u8] = b"member_profiles_built";

/// Whether a promotion, and whether a coupon, took something off the line.
fn deal_flags(line: &PricedLine) -> (bool, bool) {
    let sources = line.line_discounts.iter().chain(&line.ticket_shares).filter(|d| d.amount_fen > 0).map(|d| &d.source);
    let (mut promotion, mut coupon) = (false, false);
    for s in sources {
        match s {
            DiscountSource::Promotion(_) => promotion = true,
            DiscountSource::Coupon(_) => coupon = true,
            DiscountSource::MemberPrice | DiscountSource::TierDiscount | DiscountSource::PriceOverride => {}
        }
    }
    (promotion, coupon)
}

fn items(q: Quantity) -> i64 {
    match q {
        Quantity::Units(n) => n,
        Quantity::Grams(_) => 1,
    }
}

/// A sale as the profile counts it (times shop-local in `tz`).
pub fn ticket_of(sale: &Sale, tz: chrono_tz::Tz) -> ProfileTicket {
    let at = crate::clock::local(sale.at, tz);
    ProfileTicket {
        // Whole seconds: the profile shows the last purchase to the second.
        at: at.with_nanosecond(0).unwrap_or(at),
        channel: sale.channel,
        lines: sale
            .priced
            .lines
            .iter()
            .map(|l| {
                let (promotion, coupon) = deal_flags(l);
                ProfileLine { category: l.category.clone(), net_fen: l.net_fen, items: items(l.qty), promotion, coupon }
            })
            .collect(),
    }
}

/// One returned part of a sale line: `qty` (pieces or grams) refunded `refund_fen`, with
/// `returned_before` of the line already back. A weighed line counts one item when this part
/// completes it. `None` when the sale has no such line.
fn refund_line(sale: &Sale, line_no: u32, qty: i64, refund_fen: i64, returned_before: i64, tz: chrono_tz::Tz) -> Option<ProfileRefundLine> {
    let l = sale.priced.lines.iter().find(|l| l.line_no == line_no)?;
    let (promotion, coupon) = deal_flags(l);
    let items = match l.qty {
        Quantity::Units(_) => qty,
        Quantity::Grams(sold) => i64::from(returned_before < sold && returned_before + qty >= sold),
    };
    Some(ProfileRefundLine { category: l.category.clone(), sale_day: crate::clock::local(sale.at, tz).date(), refund_fen, items, promotion, coupon })
}

fn load_tx<E>(tx: &Tx, member_id: u64) -> Result<MemberProfile, TxError<E>> {
    Ok(tx
        .get::<MemberProfile, E>(TreeId::MemberProfiles, &codec::u64_key(member_id))?
        .unwrap_or_else(|| MemberProfile { member_id, state: ProfileState::new(HALF_LIFE_DAYS) }))
}

/// Counts `sale` in its member's profile, inside the sale's commit (nothing for a guest's sale).
/// `tz` is the shop's time zone (`[store].timezone`): weekday, hour and day are shop-local.
pub fn record_sale_tx<E>(tx: &Tx, sale: &Sale, tz: chrono_tz::Tz) -> Result<(), TxError<E>> {
    let Some(member_id) = sale.member_id else { return Ok(()) };
    let mut p = load_tx::<E>(tx, member_id)?;
    p.state.add_ticket(&ticket_of(sale, tz));
    tx.put(TreeId::MemberProfiles, &codec::u64_key(member_id), &p)
}

/// Nets a return in the profile of the sale's member, inside the return's commit. `sale` is the
/// sale as the return leaves it (its `returned` already counting this return); `lines` are the
/// returned parts as (line number, quantity, refund fen); `at` is the return's time.
pub fn record_return_tx<E>(tx: &Tx, sale: &Sale, lines: &[(u32, i64, i64)], at: DateTime<Utc>, tz: chrono_tz::Tz) -> Result<(), TxError<E>> {
    let Some(member_id) = sale.member_id else { return Ok(()) };
    let refund = ProfileRefund {
        day: crate::clock::local(at, tz).date(),
        lines: lines
            .iter()
            .filter_map(|(line_no, qty, refund)| {
                let now_back = sale.returned.iter().find(|r| r.line_no == *line_no).map_or(0, |r| r.qty);
                refund_line(sale, *line_no, *qty, *refund, now_back - qty, tz)
            })
            .collect(),
    };
    let mut p = load_tx::<E>(tx, member_id)?;
    p.state.add_refund(&refund);
    tx.put(TreeId::MemberProfiles, &codec::u64_key(member_id), &p)
}

/// Moves member `from`'s profile into member `into`'s (inside the merge's commit: the survivor
/// now counts the merged member's purchases) and removes `from`'s.
pub fn merge_tx<E>(tx: &Tx, from: u64, into: u64) -> Result<(), TxError<E>> {
    let Some(gone) = tx.get::<MemberProfile, E>(TreeId::MemberProfiles, &codec::u64_key(from))? else { return Ok(()) };
    let mut p = load_tx::<E>(tx, into)?;
    p.state.absorb(&gone.state);
    tx.remove::<E>(TreeId::MemberProfiles, &codec::u64_key(from))?;
    tx.put(TreeId::MemberProfiles, &codec::u64_key(into), &p)
}

/// A member's stored profile (`None` before their first purchase).
pub fn profile(store: &Store, member_id: u64) -> Result<Option<MemberProfile>, StoreError> {
    store.get(TreeId::MemberProfiles, &codec::u64_key(member_id))
}

/// What [`view`] answers for a member who never bought anything: an empty profile.
pub fn view(store: &Store, member_id: u64) -> Result<ProfileView, StoreError> {
    let state = profile(store, member_id)?.map_or_else(|| ProfileState::new(HALF_LIFE_DAYS), |p| p.state);
    Ok(ProfileView { member_id, summary: state.summary() })
}

/// Profiles being rebuilt: member → state, the cumulative returned quantity per sale line (so
/// a weighed line counts its item once), and the last sale and return ids read.
struct Rebuild {
    tz: chrono_tz::Tz,
    profiles: HashMap<u64, ProfileState>,
    returned: HashMap<(u64, u32), i64>,
    /// Sale id → member, for the returns (only sales of members being rebuilt).
    sale_member: HashMap<u64, u64>,
    /// Merged member → the member they were merged into (`Member::merged_into`, followed to the
    /// end): their sales count for the survivor.
    merged: HashMap<u64, u64>,
    last_sale: u64,
    last_return: u64,
}

impl Rebuild {
    fn new(tz: chrono_tz::Tz) -> Rebuild {
        Rebuild { tz, profiles: HashMap::new(), returned: HashMap::new(), sale_member: HashMap::new(), merged: HashMap::new(), last_sale: 0, last_return: 0 }
    }

    /// The member whose profile counts member `m`'s purchases.
    fn survivor(&self, m: u64) -> u64 {
        self.merged.get(&m).copied().unwrap_or(m)
    }

    fn sale(&mut self, s: &Sale, wanted: &impl Fn(u64) -> bool) {
        self.last_sale = self.last_sale.max(s.id);
        let Some(m) = s.member_id.map(|m| self.survivor(m)).filter(|m| wanted(*m)) else { return };
        self.sale_member.insert(s.id, m);
        self.profiles.entry(m).or_insert_with(|| ProfileState::new(HALF_LIFE_DAYS)).add_ticket(&ticket_of(s, self.tz));
    }

    /// `sale`: the return's sale, read by the caller when the sale belongs to a wanted member.
    fn ret(&mut self, r: &SaleReturn, sale: Option<&Sale>) {
        self.last_return = self.last_return.max(r.id);
        let (Some(sale), Some(member)) = (sale, sale.and_then(|s| s.member_id).map(|m| self.survivor(m))) else { return };
        let mut lines = Vec::new();
        for l in &r.lines {
            let Some(line_no) = l.line_no else { continue };
            let before = self.returned.entry((sale.id, line_no)).or_insert(0);
            if let Some(x) = refund_line(sale, line_no, l.qty, l.refund_fen, *before, self.tz) {
                lines.push(x);
            }
            *before += l.qty;
        }
        let refund = ProfileRefund { day: crate::clock::local(r.at, self.tz).date(), lines };
        self.profiles.entry(member).or_insert_with(|| ProfileState::new(HALF_LIFE_DAYS)).add_refund(&refund);
    }

    /// Reads every sale and return of the wanted members from the store.
    fn scan(&mut self, store: &Store, wanted: &impl Fn(u64) -> bool) -> Result<(), StoreError> {
        let mut into = HashMap::new();
        for item in store.scan::<super::Member>(TreeId::Members) {
            let (_, m) = item?;
            if let Some(s) = m.merged_into {
                into.insert(m.id, s);
            }
        }
        for (&from, &first) in &into {
            // Follow chains (A merged into B, B later into C); a cycle stops after as many hops
            // as there are merged members.
            let mut to = first;
            for _ in 0..into.len() {
                match into.get(&to) {
                    Some(&next) if next != from => to = next,
                    _ => break,
                }
            }
            self.merged.insert(from, to);
        }
        for item in store.scan::<Sale>(TreeId::Sales) {
            let (_, s) = item?;
            self.sale(&s, wanted);
        }
        for item in store.scan::<SaleReturn>(TreeId::Returns) {
            let (_, r) = item?;
            let sale = match r.sale_id.filter(|id| self.sale_member.contains_key(id)) {
                Some(id) => crate::checkout::sale::sale(store, id)?,
                None => None,
            };
            self.ret(&r, sale.as_ref());
        }
        Ok(())
    }

    /// Inside the commit that writes: the sales and returns committed since the scan, then the
    /// profiles of `members`.
    /// The scan's cursors stay where they were: every batch catches up from the scan.
    fn finish_tx<E>(&mut self, tx: &Tx, members: &[u64], wanted: &impl Fn(u64) -> bool) -> Result<(), TxError<E>> {
        let (last_sale, last_return) = (self.last_sale, self.last_return);
        let mut id = self.last_sale + 1;
        while let Some(s) = tx.get::<Sale, E>(TreeId::Sales, &codec::u64_key(id))? {
            self.sale(&s, wanted);
            id += 1;
        }
        let mut id = self.last_return + 1;
        while let Some(r) = tx.get::<SaleReturn, E>(TreeId::Returns, &codec::u64_key(id))? {
            let sale = match r.sale_id {
                Some(sid) => tx.get::<Sale, E>(TreeId::Sales, &codec::u64_key(sid))?.filter(|s| s.member_id.is_some_and(|m| wanted(self.survivor(m)))),
                None => None,
            };
            self.ret(&r, sale.as_ref());
            id += 1;
        }
        (self.last_sale, self.last_return) = (last_sale, last_return);
        for m in members {
            let state = self.profiles.get(m).cloned().unwrap_or_else(|| ProfileState::new(HALF_LIFE_DAYS));
            tx.put(TreeId::MemberProfiles, &codec::u64_key(*m), &MemberProfile { member_id: *m, state })?;
        }
        Ok(())
    }
}

/// Derives member `member_id`'s profile again from every stored sale and return, and stores it.
pub fn rebuild(store: &Store, member_id: u64, tz: chrono_tz::Tz) -> Result<ProfileView, CommitError<MemberError>> {
    if super::member(store, member_id)?.is_none() {
        return Err(CommitError::Rejected(MemberError::Unknown(member_id)));
    }
    let wanted = |m: u64| m == member_id;
    let mut r = Rebuild::new(tz);
    r.scan(store, &wanted)?;
    store.commit(|tx| r.finish_tx::<MemberError>(tx, &[member_id], &wanted))?;
    Ok(view(store, member_id)?)
}

/// Derives every profile again (members with sales or returns), [`REBUILD_BATCH`] members per
/// commit. Gives the number of profiles written.
pub fn rebuild_all(store: &Store, tz: chrono_tz::Tz) -> Result<usize, StoreError> {
    let all = |_: u64| true;
    let mut r = Rebuild::new(tz);
    r.scan(store, &all)?;
    let mut members: Vec<u64> = r.profiles.keys().copied().collect();
    members.sort_unstable();
    for batch in members.chunks(REBUILD_BATCH) {
        let only: std::collections::HashSet<u64> = batch.iter().copied().collect();
        let wanted = |m: u64| only.contains(&m);
        store.commit(|tx| r.finish_tx::<std::convert::Infallible>(tx, batch, &wanted)).map_err(CommitError::into_store)?;
    }
    let n = members.len();
    store.commit(|tx| tx.put_raw::<std::convert::Infallible>(TreeId::Meta, BUILT_KEY, &codec::u64_key(n as u64))).map_err(CommitError::into_store)?;
    Ok(n)
}

/// Runs [`rebuild_all`] once per database (the daemon calls it with its daily jobs at start):
/// a shop whose sales predate profiles gets them without anyone asking. `Some(profiles written)`
/// when it ran, `None` when they were built before.
pub fn build_once(store: &Store, tz: chrono_tz::Tz) -> Result<Option<usize>, StoreError> {
    if store.get_raw(TreeId::Meta, BUILT_KEY)?.is_some() {
        return Ok(None);
    }
    rebuild_all(store, tz).map(Some)
}
