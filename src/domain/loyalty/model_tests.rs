//! Model test of the points rules working together: random sequences of earning, redeeming,
//! expiry runs, returns and restores on one member, applied the way the integrator will apply
//! them, must keep Σ ledger deltas == Σ lot remaining == balance ≥ 0, with debt only while the
//! balance is 0.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;

use super::ledger::{self, PointsEntry, PointsEntryKind};
use super::lots::{self, ExpiryRule, LotTake, PointLot};
use super::PointsError;

#[derive(Debug, Clone)]
enum Op {
    Earn(i64),
    Redeem(i64),
    /// Advance the calendar by some days, then run the expiry job (twice).
    NextDays(u64),
    /// Take back points for a return, preferring the latest lot or not.
    Return(i64, bool),
    /// Restore redeemed points for a return.
    Restore(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..500).prop_map(Op::Earn),
        (0i64..800).prop_map(Op::Redeem),
        (0u64..120).prop_map(Op::NextDays),
        ((0i64..600), any::<bool>()).prop_map(|(p, latest)| Op::Return(p, latest)),
        (0i64..300).prop_map(Op::Restore),
    ]
}

fn rule() -> impl Strategy<Value = ExpiryRule> {
    prop_oneof![
        Just(ExpiryRule::Never),
        (0u32..6).prop_map(ExpiryRule::MonthsAfter),
        Just(ExpiryRule::EndOfFollowingYear),
    ]
}

struct Member {
    lots: Vec<PointLot>,
    entries: Vec<PointsEntry>,
    debt: i64,
    today: NaiveDate,
    next_id: u64,
    rule: ExpiryRule,
}

impl Member {
    fn record(&mut self, kind: PointsEntryKind, delta: i64) {
        self.next_id += 1;
        self.entries.push(PointsEntry {
            id: self.next_id,
            member_id: 1,
            kind,
            delta,
            at: self.today.and_hms_opt(12, 0, 0).unwrap_or_default(),
            reference: None,
        });
    }

    fn apply(&mut self, takes: &[LotTake], kind: PointsEntryKind) {
        self.lots = lots::apply_takes(&self.lots, takes).unwrap();
        let taken = lots::total(takes);
        if taken > 0 {
            self.record(kind, -taken);
        }
    }

    /// Earned or restored points: debt first, the rest into a new lot.
    fn credit(&mut self, points: i64, kind: PointsEntryKind) {
        let (credited, debt) = ledger::settle_debt(points, self.debt);
        assert_eq!(credited + (self.debt - debt), points);
        self.debt = debt;
        if credited > 0 {
            self.next_id += 1;
            self.lots.push(PointLot::new(
                self.next_id,
                self.today,
                credited,
                &self.rule,
            ));
            self.record(kind, credited);
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Earn(p) => self.credit(p, PointsEntryKind::Earn),
            Op::Restore(p) => self.credit(p, PointsEntryKind::Reverse),
            Op::Redeem(p) => match lots::redeem_fifo(&self.lots, p, self.today) {
                Ok(takes) => {
                    assert_eq!(lots::total(&takes), p);
                    self.apply(&takes, PointsEntryKind::Redeem);
                }
                Err(PointsError::Insufficient { wanted, available }) => {
                    assert_eq!(wanted, p);
                    assert_eq!(available, lots::available(&self.lots, self.today));
                    assert!(available < wanted);
                }
                Err(e) => panic!("unexpected {e}"),
            },
            Op::NextDays(n) => {
                self.today = self.today + Days::new(n);
                let takes = lots::expire_due(&self.lots, self.today);
                self.apply(&takes, PointsEntryKind::Expire);
                assert!(lots::expire_due(&self.lots, self.today).is_empty());
            }
            Op::Return(p, latest) => {
                let prefer = if latest {
                    self.lots.last().map(|l| l.id)
                } else {
                    None
                };
                let tb = ledger::take_back(&self.lots, p, prefer, self.today);
                assert_eq!(tb.taken + tb.debt, p);
                self.apply(&tb.takes, PointsEntryKind::Reverse);
                self.debt += tb.debt;
            }
        }
    }
}

proptest! {
    #[test]
    fn ledger_lots_and_balance_agree_after_any_sequence(
        ops in proptest::collection::vec(op(), 0..60),
        rule in rule(),
    ) {
        let mut m = Member {
            lots: vec![],
            entries: vec![],
            debt: 0,
            today: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default(),
            next_id: 0,
            rule,
        };
        for op in &ops {
            m.step(op);
            let balance = ledger::balance(&m.entries);
            let remaining: i64 = m.lots.iter().map(|l| l.remaining).sum();
            prop_assert_eq!(balance, remaining, "after {:?}", op);
            prop_assert!(balance >= 0);
            prop_assert!(m.debt >= 0);
            prop_assert!(m.debt == 0 || balance == 0, "debt {} with balance {}", m.debt, balance);
            for l in &m.lots {
                prop_assert!(0 <= l.remaining && l.remaining <= l.original, "{:?}", l);
            }
            // The expiry job has run for today: every point left is usable.
            prop_assert_eq!(lots::available(&m.lots, m.today), balance);
        }
    }
}
