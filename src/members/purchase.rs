//! What a completed purchase does to a member besides points: visit and spend statistics (the
//! rolling 12 months the tiers read), the referrer's first-purchase reward (once), and the
//! immediate tier upgrade.
//!
//! Runs inside checkout's sale commit. Downgrades never happen here: they wait for the tier job
//! and its grace period (`jobs::evaluate_tiers`).

use chrono::Days;

use super::points::{credit_and_announce, PointsSource};
use super::{member_tx, put_member, DayStats, LoyaltyRules, Member, MemberError, TierChanged, EVENT_TIER_CHANGED};
use crate::domain::loyalty::tiers::{self, TierChange, ROLLING_DAYS};
use crate::store::{Tx, TxError};

/// Records a purchase paying `paid_fen` at the commit's time: one visit, the spend, first and last
/// purchase time, the day's totals (days older than the rolling 12 months are dropped). The
/// member's first purchase pays their referrer the first-purchase reward, exactly once. If the
/// rolling spend or visits now reach a higher tier, the member moves up at once and
/// `storehub.member.tier_changed` is emitted; the change is returned.
pub fn record_purchase_tx(
    tx: &Tx,
    member_id: u64,
    paid_fen: i64,
    rules: &LoyaltyRules,
) -> Result<Option<TierChange>, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    let now = tx.now();
    let today = rules.today(now);
    let paid = paid_fen.max(0);
    let s = &mut m.stats;
    s.visits = s.visits.saturating_add(1);
    s.spend_fen = s.spend_fen.saturating_add(paid);
    s.first_purchase_at.get_or_insert(now);
    s.last_purchase_at = Some(now);
    match s.days.iter_mut().find(|d| d.date == today) {
        Some(d) => {
            d.spend_fen = d.spend_fen.saturating_add(paid);
            d.visits = d.visits.saturating_add(1);
        }
        None => {
            s.days.push(DayStats { date: today, spend_fen: paid, visits: 1 });
            s.days.sort_by_key(|d| d.date);
        }
    }
    prune_days(&mut m, today);

    if let Some(referrer_id) = m.referral.referred_by {
        let (award, state) = m.referral.state.on_purchase(paid, &rules.referral, rules.earn.points_per_yuan);
        if state != m.referral.state {
            m.referral.state = state;
            // A referrer who is gone (never, as members are not deleted) simply gets nothing.
            if let Ok(mut referrer) = member_tx(tx, referrer_id) {
                let reference = format!("referral:{member_id}");
                credit_and_announce(
                    tx,
                    &mut referrer,
                    award.referrer_points,
                    PointsSource::ReferralFirstPurchase,
                    &reference,
                    rules,
                )?;
                put_member(tx, &referrer)?;
            }
        }
    }

    let change = upgrade(&mut m, rules, today);
    if let Some(c) = &change {
        emit_tier_change(tx, m.id, c)?;
    }
    put_member(tx, &m)?;
    Ok(change)
}

/// Drops day totals older than the rolling window ending `today`.
pub(crate) fn prune_days(m: &mut Member, today: chrono::NaiveDate) {
    let first = today.checked_sub_days(Days::new(ROLLING_DAYS - 1)).unwrap_or(chrono::NaiveDate::MIN);
    m.stats.days.retain(|d| d.date >= first);
}

/// The member's index in the ladder; a tier no longer in the ladder counts as the base tier.
pub(crate) fn current_index(m: &Member, rules: &LoyaltyRules) -> usize {
    rules.tier_index(&m.tier).unwrap_or(0)
}

/// Moves the member up if their rolling spend or visits entitle them to a higher tier.
pub(crate) fn upgrade(m: &mut Member, rules: &LoyaltyRules, today: chrono::NaiveDate) -> Option<TierChange> {
    let (spend, visits) = m.rolling(today);
    let mut change = tiers::upgrade(&rules.ladder, current_index(m, rules), spend, visits)?;
    change.from = m.tier.clone();
    m.tier = change.to.clone();
    m.tier_since = today;
    m.below_tier_since = None;
    Some(change)
}

/// Emits `storehub.member.tier_changed`.
pub(crate) fn emit_tier_change(tx: &Tx, member_id: u64, c: &TierChange) -> Result<(), TxError<MemberError>> {
    let data = TierChanged { member_id, from: c.from.clone(), to: c.to.clone(), reason: c.reason.clone() };
    tx.emit::<MemberError>(EVENT_TIER_CHANGED, Some(&member_id.to_string()), &data)?;
    Ok(())
}
