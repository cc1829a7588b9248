//! Scheduled member jobs: expiring points, tier downgrades after their grace period, birthday
//! rewards. Each walks the members with a scan and commits per member that needs a change
//! (bounded work per commit; the till is never held up by a whole run).
//!
//! Exactly once, however often a job runs: each commit re-reads the member and decides again
//! from what is stored (expired lots are gone after the first run, the grace start and the
//! birthday year are on the member), so a second run on the same day changes nothing.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::points::{credit_and_announce, take_and_record, EntryInfo, PointsExpired, PointsSource};
use super::purchase::{emit_tier_change, prune_days};
use super::{member_tx, put_member, LoyaltyRules, Member, MemberError, EVENT_POINTS_EXPIRED};
use crate::domain::loyalty::ledger::PointsEntryKind;
use crate::domain::loyalty::lots;
use crate::domain::loyalty::tiers::{self, DowngradeDecision, TierChange, TierChangeReason};
use crate::store::{CommitError, Store, TreeId, Tx, TxError};

/// What an expiry run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExpiredSummary {
    /// Members looked at.
    pub members: usize,
    /// Members whose points expired.
    pub members_expired: usize,
    /// Points expired in total.
    pub points: i64,
}

/// What a tier run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TierJobSummary {
    pub members: usize,
    /// Members found below their tier for the first time (grace started).
    pub grace_started: usize,
    /// Members back at their tier's level whose grace was cleared.
    pub grace_cleared: usize,
    /// Members moved down after their grace.
    pub downgraded: usize,
    /// Members moved up (a ladder that changed, or a tier no longer in the ladder).
    pub upgraded: usize,
}

/// What a birthday run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BirthdaySummary {
    pub members: usize,
    /// Members given their birthday points.
    pub rewarded: usize,
    pub points: i64,
}

/// Runs `change` in one commit (on the member re-read inside it) for each member the scan finds
/// that `needs` one, and hands each result to `done`; returns how many members were scanned.
fn per_member<T: Default>(
    store: &Store,
    needs: impl Fn(&Member) -> bool,
    mut change: impl FnMut(&Tx, Member) -> Result<T, TxError<MemberError>>,
    mut done: impl FnMut(T),
) -> Result<usize, CommitError<MemberError>> {
    let mut seen = 0;
    for item in store.scan::<Member>(TreeId::Members) {
        let (_, m) = item?;
        seen += 1;
        // A merged member is closed (`members::merge`): no job touches it.
        if m.merged_into.is_some() || !needs(&m) {
            continue;
        }
        let id = m.id;
        let out = store.commit(|tx| {
            // Decide again on the member as it is now: a sale may have changed it since the scan.
            let m = match member_tx(tx, id) {
                Err(TxError::Rejected(MemberError::Merged { .. })) => return Ok(T::default()),
                other => other?,
            };
            change(tx, m)
        })?;
        done(out);
    }
    Ok(seen)
}

/// Expires the points of every lot whose last day is before `today` (`expire_due`): one
/// `Expire` ledger entry and one `storehub.points.expired` event per member.
pub fn expire_points(store: &Store, today: NaiveDate, rules: &LoyaltyRules) -> Result<ExpiredSummary, CommitError<MemberError>> {
    let mut summary = ExpiredSummary::default();
    let reference = format!("expiry:{today}");
    summary.members = per_member(
        store,
        |m| !lots::expire_due(&m.lots, today).is_empty(),
        |tx, mut m| {
            let takes = lots::expire_due(&m.lots, today);
            let info = EntryInfo { reference: Some(reference.clone()), ..EntryInfo::default() };
            let (points, entry_id) =
                take_and_record::<MemberError>(tx, &mut m, takes.clone(), PointsEntryKind::Expire, 0, info, rules)?;
            if let Some(entry_id) = entry_id {
                put_member(tx, &m)?;
                let data = PointsExpired { member_id: m.id, points, lots: takes, entry_id, balance: m.points };
                tx.emit::<MemberError>(EVENT_POINTS_EXPIRED, Some(&m.id.to_string()), &data)?;
            }
            Ok(points)
        },
        |points| {
            if points > 0 {
                summary.members_expired += 1;
                summary.points += points;
            }
        },
    )?;
    Ok(summary)
}

/// What the tier job does to one member on `today`.
enum TierStep {
    Nothing,
    StartGrace(NaiveDate),
    ClearGrace,
    Change(TierChange),
}

fn tier_step(m: &Member, today: NaiveDate, rules: &LoyaltyRules) -> TierStep {
    if rules.ladder.is_empty() {
        return TierStep::Nothing;
    }
    let (spend, visits) = m.rolling(today);
    let entitled = tiers::entitled_tier(&rules.ladder, spend, visits);
    let Some(current) = rules.tier_index(&m.tier) else {
        // A tier no longer in the ladder (or none yet): the member takes the tier they are entitled to.
        let to = rules.ladder.get(entitled).map(|t| t.id.clone()).unwrap_or_default();
        let reason = TierChangeReason::Spend { spend_12m_fen: spend, min_spend_fen: rules.ladder.get(entitled).map_or(0, |t| t.min_spend_fen) };
        return TierStep::Change(TierChange { from: m.tier.clone(), to, reason });
    };
    if entitled > current {
        return match tiers::upgrade(&rules.ladder, current, spend, visits) {
            Some(c) => TierStep::Change(c),
            None => TierStep::Nothing,
        };
    }
    match tiers::evaluate_downgrade(current, entitled, m.below_tier_since, today, rules.grace_days) {
        DowngradeDecision::Keep if m.below_tier_since.is_some() => TierStep::ClearGrace,
        DowngradeDecision::Keep | DowngradeDecision::StillInGrace { .. } => TierStep::Nothing,
        DowngradeDecision::StartGrace { since } => TierStep::StartGrace(since),
        DowngradeDecision::Downgrade { to } => TierStep::Change(TierChange {
            from: m.tier.clone(),
            to: rules.ladder.get(to).map(|t| t.id.clone()).unwrap_or_default(),
            reason: TierChangeReason::GraceEnded {
                below_since: m.below_tier_since.unwrap_or(today),
                grace_days: rules.grace_days,
            },
        }),
    }
}

/// Evaluates every member's tier on `today`: below their tier's level, a member keeps it through
/// the grace period (`[loyalty].tier_grace_days`) and moves down on the day after it
/// (`evaluate_downgrade`), emitting `storehub.member.tier_changed`; back at the level, the grace
/// is cleared. Also drops day totals older than the rolling window.
pub fn evaluate_tiers(store: &Store, today: NaiveDate, rules: &LoyaltyRules) -> Result<TierJobSummary, CommitError<MemberError>> {
    let mut summary = TierJobSummary::default();
    let needs = |m: &Member| !matches!(tier_step(m, today, rules), TierStep::Nothing);
    summary.members = per_member(
        store,
        needs,
        |tx, mut m| {
            let step = tier_step(&m, today, rules);
            match &step {
                TierStep::Nothing => return Ok(None),
                TierStep::StartGrace(since) => m.below_tier_since = Some(*since),
                TierStep::ClearGrace => m.below_tier_since = None,
                TierStep::Change(c) => {
                    m.tier = c.to.clone();
                    m.tier_since = today;
                    m.below_tier_since = None;
                    emit_tier_change(tx, m.id, c)?;
                }
            }
            prune_days(&mut m, today);
            put_member(tx, &m)?;
            Ok(Some(step))
        },
        |step| match step {
            Some(TierStep::StartGrace(_)) => summary.grace_started += 1,
            Some(TierStep::ClearGrace) => summary.grace_cleared += 1,
            Some(TierStep::Change(c)) => {
                if rules.tier_index(&c.to) < rules.tier_index(&c.from) {
                    summary.downgraded += 1;
                } else {
                    summary.upgraded += 1;
                }
            }
            Some(TierStep::Nothing) | None => {}
        },
    )?;
    Ok(summary)
}

/// Gives each member whose birthday is today (or up to 7 days ago, if missed) their tier's
/// birthday points, once a year (`birthday_reward_year`), as a ledger `Adjust` entry and a
/// `storehub.points.earned` event with source `birthday`.
pub fn birthday_rewards(store: &Store, today: NaiveDate, rules: &LoyaltyRules) -> Result<BirthdaySummary, CommitError<MemberError>> {
    let mut summary = BirthdaySummary::default();
    let due = |m: &Member| -> i64 {
        let Some(b) = m.birthday else { return 0 };
        let points = rules.tier(&m.tier).map_or(0, |t| t.birthday_points);
        if points > 0 && tiers::birthday_due((b.month(), b.day()), today, m.birthday_reward_year) {
            points
        } else {
            0
        }
    };
    let reference = format!("birthday:{}", today.year());
    summary.members = per_member(
        store,
        |m| due(m) > 0,
        |tx, mut m| {
            let points = due(&m);
            if points == 0 {
                return Ok(0);
            }
            m.birthday_reward_year = Some(today.year());
            credit_and_announce(tx, &mut m, points, PointsSource::Birthday, &reference, rules)?;
            put_member(tx, &m)?;
            Ok(points)
        },
        |points| {
            if points > 0 {
                summary.rewarded += 1;
                summary.points += points;
            }
        },
    )?;
    Ok(summary)
}

/// A member job, as named on the command line (`storehub jobs run expire-points|tiers|birthdays`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberJob {
    ExpirePoints,
    Tiers,
    Birthdays,
}

impl MemberJob {
    pub const ALL: [MemberJob; 3] = [MemberJob::ExpirePoints, MemberJob::Tiers, MemberJob::Birthdays];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberJob::ExpirePoints => "expire-points",
            MemberJob::Tiers => "tiers",
            MemberJob::Birthdays => "birthdays",
        }
    }

    pub fn parse(s: &str) -> Option<MemberJob> {
        MemberJob::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Runs the job for the shop-local `today`; the summary as JSON.
    pub fn run(self, store: &Store, today: NaiveDate, rules: &LoyaltyRules) -> Result<serde_json::Value, CommitError<MemberError>> {
        let value = match self {
            MemberJob::ExpirePoints => serde_json::to_value(expire_points(store, today, rules)?),
            MemberJob::Tiers => serde_json::to_value(evaluate_tiers(store, today, rules)?),
            MemberJob::Birthdays => serde_json::to_value(birthday_rewards(store, today, rules)?),
        };
        Ok(value.unwrap_or(serde_json::Value::Null))
    }
}
