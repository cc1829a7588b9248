//! Points earned by a ticket: which lines earn, on how much of what was paid, and with which
//! multipliers (tier, member day, campaign).
//!
//! Owns the earning formula and its rounding. It never creates lots or ledger entries (see
//! [`super::lots`] and [`super::ledger`]) and never decides the member's tier: the caller passes the
//! tier's multiplier.
//!
//! **Rounding rule.** For each line:
//! 1. eligible fen = ⌊net_paid_fen × (total − paid with points − paid with stored value) / total⌋
//!    (0 for an excluded category or a line paid ≤ 0), so the part paid with points or stored
//!    value earns nothing;
//! 2. combined multiplier (bp) = ⌊tier_bp × member_day_bp × campaign_bp / 10 000²⌋, each factor
//!    10 000 when it does not apply (exact for whole-percent multipliers such as ×1.5 or ×2);
//! 3. points = ⌊eligible fen × points_per_yuan × combined bp / (100 × 10 000)⌋.
//!
//! All in integer arithmetic, rounding down (a member is never credited a fraction they did not
//! pay for); the ticket earns the sum of its lines, never negative. Because each line is rounded
//! down on its own, two ¥3.50 lines earn 3 + 3 = 6 points at 1 point per yuan, not 7.

use chrono::{Datelike, NaiveDateTime, Weekday};
use serde::{Deserialize, Serialize};

use super::{mul_div_floor, BP_ONE};

/// Fen per yuan.
const FEN_PER_YUAN: u128 = 100;

/// Member day (会员日): one weekday on which every earning line is multiplied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberDay {
    /// The shop-local weekday, e.g. `Wed`.
    pub weekday: Weekday,
    /// Multiplier in bp: 20 000 = double points.
    pub multiplier_bp: u32,
}

/// What a points campaign applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum CampaignTarget {
    /// One SKU.
    Sku(String),
    /// Every SKU of a category.
    Category(String),
    /// Every line: a member's own campaign offer (`members::campaigns`, a points-multiplier
    /// offer for the treated members of a running campaign).
    Every,
}

/// A points campaign (积分活动): a multiplier on some goods for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsCampaign {
    /// Stable id, reported on the lines it applied to.
    pub id: String,
    /// The SKU or category it covers.
    pub target: CampaignTarget,
    /// Multiplier in bp: 30 000 = triple points.
    pub multiplier_bp: u32,
    /// First moment it applies (shop-local, inclusive).
    pub starts_at: NaiveDateTime,
    /// First moment it no longer applies (shop-local, exclusive).
    pub ends_at: NaiveDateTime,
}

impl PointsCampaign {
    /// Whether the campaign covers this line at this time.
    fn applies(&self, line: &EarnLine, at: NaiveDateTime) -> bool {
        let target = match &self.target {
            CampaignTarget::Sku(sku) => *sku == line.sku,
            CampaignTarget::Category(c) => *c == line.category,
            CampaignTarget::Every => true,
        };
        target && self.starts_at <= at && at < self.ends_at
    }
}

/// How a shop earns points: the base rate and what changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnRules {
    /// Points per yuan paid (`[loyalty].points_per_yuan`).
    pub points_per_yuan: u32,
    /// Categories that never earn (tobacco, infant formula, …); exact, case-sensitive ids.
    pub excluded_categories: Vec<String>,
    /// The weekly member day, if any.
    pub member_day: Option<MemberDay>,
    /// Campaigns; for each line only the best applicable one counts (highest multiplier, the
    /// first listed on a tie).
    pub campaigns: Vec<PointsCampaign>,
}

/// One ticket line as earning sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnLine {
    /// The SKU sold.
    pub sku: String,
    /// Its category id.
    pub category: String,
    /// What the shopper paid for the line after every discount, in fen.
    pub net_paid_fen: i64,
}

/// A finished ticket as earning sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnTicket {
    /// Every line, including those of excluded categories.
    pub lines: Vec<EarnLine>,
    /// Ticket total in fen (the sum of the lines' `net_paid_fen`).
    pub total_fen: i64,
    /// Part of the total paid with points, in fen.
    pub paid_with_points_fen: i64,
    /// Part of the total paid with stored value, in fen.
    pub paid_with_stored_value_fen: i64,
    /// When the ticket was paid, shop-local (decides member day and campaigns).
    pub at: NaiveDateTime,
}

/// Points one line earned, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineEarning {
    /// The line's SKU.
    pub sku: String,
    /// Whether its category is excluded from earning.
    pub excluded: bool,
    /// The fen that earned points (step 1 of the rounding rule).
    pub eligible_fen: i64,
    /// The campaign that applied, if any.
    pub campaign_id: Option<String>,
    /// That campaign's multiplier, 10 000 when none applied.
    pub campaign_bp: u32,
    /// Tier × member day × campaign, in bp (step 2).
    pub combined_bp: u64,
    /// Points this line earned (step 3).
    pub points: i64,
}

/// Points a ticket earned, with the breakdown shown on the receipt and sent in the sale event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earning {
    /// Sum of the lines' points; never negative.
    pub points: i64,
    /// The tier multiplier used.
    pub tier_bp: u32,
    /// The member-day multiplier used, 10 000 when it is not member day.
    pub member_day_bp: u32,
    /// One entry per ticket line, in ticket order.
    pub lines: Vec<LineEarning>,
}

/// Points a ticket earns under `rules` for a member whose tier multiplies by `tier_multiplier_bp`
/// (10 000 = ×1). Total: inconsistent inputs (payments above the total, a total ≤ 0) earn
/// nothing rather than fail; see the module doc for the rounding rule.
pub fn earn(rules: &EarnRules, ticket: &EarnTicket, tier_multiplier_bp: u32) -> Earning {
    let member_day_bp = match &rules.member_day {
        Some(md) if md.weekday == ticket.at.weekday() => md.multiplier_bp,
        _ => BP_ONE,
    };
    let lines: Vec<LineEarning> = ticket
        .lines
        .iter()
        .map(|line| {
            let excluded = rules.excluded_categories.contains(&line.category);
            let eligible_fen = if excluded {
                0
            } else {
                eligible_fen(line.net_paid_fen, ticket)
            };
            let campaign = best_campaign(&rules.campaigns, line, ticket.at);
            let campaign_bp = campaign.map_or(BP_ONE, |c| c.multiplier_bp);
            let combined_bp = combine_bp(tier_multiplier_bp, member_day_bp, campaign_bp);
            let points = mul_div_floor(
                eligible_fen,
                u128::from(rules.points_per_yuan),
                u128::from(combined_bp),
                FEN_PER_YUAN * u128::from(BP_ONE),
            );
            LineEarning {
                sku: line.sku.clone(),
                excluded,
                eligible_fen,
                campaign_id: campaign.map(|c| c.id.clone()),
                campaign_bp,
                combined_bp,
                points,
            }
        })
        .collect();
    Earning {
        points: lines.iter().fold(0i64, |s, l| s.saturating_add(l.points)),
        tier_bp: tier_multiplier_bp,
        member_day_bp,
        lines,
    }
}

/// Step 1: the part of a line's net paid that was paid with money that earns points.
fn eligible_fen(net_paid_fen: i64, ticket: &EarnTicket) -> i64 {
    if net_paid_fen <= 0 || ticket.total_fen <= 0 {
        return 0;
    }
    let non_earning = i128::from(ticket.paid_with_points_fen.max(0))
        + i128::from(ticket.paid_with_stored_value_fen.max(0));
    let earning = (i128::from(ticket.total_fen) - non_earning).max(0);
    let share = i128::from(net_paid_fen) * earning / i128::from(ticket.total_fen);
    i64::try_from(share).unwrap_or(i64::MAX)
}

/// Step 2: the product of three bp multipliers, back in bp, rounded down, saturating.
fn combine_bp(a: u32, b: u32, c: u32) -> u64 {
    let one = u128::from(BP_ONE);
    let product = u128::from(a) * u128::from(b) * u128::from(c) / (one * one);
    u64::try_from(product).unwrap_or(u64::MAX)
}

/// The applicable campaign with the highest multiplier; the first listed wins a tie.
fn best_campaign<'a>(
    campaigns: &'a [PointsCampaign],
    line: &EarnLine,
    at: NaiveDateTime,
) -> Option<&'a PointsCampaign> {
    campaigns.iter().filter(|c| c.applies(line, at)).fold(
        None,
        |best: Option<&PointsCampaign>, c| match best {
            Some(b) if b.multiplier_bp >= c.multiplier_bp => Some(b),
            _ => Some(c),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    /// 2026-06-03 is a Wednesday.
    fn wed(h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 6, 3)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .unwrap()
    }

    fn line(sku: &str, category: &str, fen: i64) -> EarnLine {
        EarnLine {
            sku: sku.into(),
            category: category.into(),
            net_paid_fen: fen,
        }
    }

    fn ticket(lines: Vec<EarnLine>, points_fen: i64, sv_fen: i64) -> EarnTicket {
        EarnTicket {
            total_fen: lines.iter().map(|l| l.net_paid_fen).sum(),
            lines,
            paid_with_points_fen: points_fen,
            paid_with_stored_value_fen: sv_fen,
            at: wed(10),
        }
    }

    fn rules() -> EarnRules {
        EarnRules {
            points_per_yuan: 1,
            excluded_categories: vec!["tobacco".into()],
            member_day: None,
            campaigns: vec![],
        }
    }

    #[test]
    fn regular_member_earns_one_point_per_whole_yuan() {
        // ¥236.40 at 1 point per yuan, ×1: ⌊23640 × 1 × 10000 / 1 000 000⌋ = 236.
        let e = earn(
            &rules(),
            &ticket(vec![line("rice", "grain", 23_640)], 0, 0),
            10_000,
        );
        assert_eq!(e.points, 236);
        assert_eq!(e.lines[0].eligible_fen, 23_640);
        assert_eq!(e.lines[0].combined_bp, 10_000);
        assert_eq!(e.member_day_bp, 10_000);
    }

    #[test]
    fn gold_member_on_member_day_earns_double() {
        // Gold earns ×1.5 (15 000 bp); Wednesday is member day, ×2 (20 000 bp).
        let r = EarnRules {
            member_day: Some(MemberDay {
                weekday: Weekday::Wed,
                multiplier_bp: 20_000,
            }),
            ..rules()
        };
        let t = ticket(vec![line("oil", "grocery", 8_880)], 0, 0);
        // Thursday: ¥88.80 × 1.5 = 133.2 → 133 points.
        let thu = EarnTicket {
            at: wed(10) + chrono::Duration::days(1),
            ..t.clone()
        };
        let e = earn(&r, &thu, 15_000);
        assert_eq!((e.points, e.member_day_bp), (133, 10_000));
        // Wednesday: 15 000 × 20 000 / 10 000 = 30 000 bp; ¥88.80 × 3 = 266.4 → 266 = 2 × 133.
        let e = earn(&r, &t, 15_000);
        assert_eq!(e.member_day_bp, 20_000);
        assert_eq!(e.lines[0].combined_bp, 30_000);
        assert_eq!(e.points, 266);
        // A regular member (×1) on member day: ¥88.80 × 2 = 177.6 → 177.
        assert_eq!(earn(&r, &t, 10_000).points, 177);
    }

    #[test]
    fn points_paid_part_of_the_ticket_earns_nothing() {
        // ¥100.00 ticket, ¥30.00 paid with points, ¥20.00 with stored value: only ¥50.00 earns.
        let t = ticket(
            vec![line("a", "snacks", 6_000), line("b", "drinks", 4_000)],
            3_000,
            2_000,
        );
        let e = earn(&rules(), &t, 10_000);
        // 6000 × 5000 / 10000 = 3000 fen → 30 points; 4000 × 0.5 = 2000 fen → 20 points.
        assert_eq!(e.lines[0].eligible_fen, 3_000);
        assert_eq!(e.lines[1].eligible_fen, 2_000);
        assert_eq!(e.points, 50);
        // Paid entirely with points: nothing. More than the total (bad input): still nothing.
        assert_eq!(
            earn(&rules(), &ticket(vec![line("a", "x", 500)], 500, 0), 10_000).points,
            0
        );
        assert_eq!(
            earn(
                &rules(),
                &ticket(vec![line("a", "x", 500)], 400, 400),
                10_000
            )
            .points,
            0
        );
    }

    #[test]
    fn tobacco_category_earns_no_points() {
        // ¥25.00 cigarettes and ¥12.50 beer: only the beer earns, 12 points.
        let t = ticket(
            vec![
                line("zhonghua", "tobacco", 2_500),
                line("beer", "drinks", 1_250),
            ],
            0,
            0,
        );
        let e = earn(&rules(), &t, 10_000);
        assert!(e.lines[0].excluded);
        assert_eq!((e.lines[0].eligible_fen, e.lines[0].points), (0, 0));
        assert_eq!(e.points, 12);
        // Tobacco paid part of the points share too: ¥37.50 ticket, ¥7.50 paid with points,
        // the beer's eligible fen is 1250 × 3000 / 3750 = 1000 → 10 points.
        let t = ticket(
            vec![
                line("zhonghua", "tobacco", 2_500),
                line("beer", "drinks", 1_250),
            ],
            750,
            0,
        );
        assert_eq!(earn(&rules(), &t, 10_000).points, 10);
    }

    #[test]
    fn triple_points_campaign_on_milk_only_in_its_window() {
        let camp = |id: &str, target: CampaignTarget, bp: u32| PointsCampaign {
            id: id.into(),
            target,
            multiplier_bp: bp,
            starts_at: wed(9),
            ends_at: wed(12),
        };
        let r = EarnRules {
            campaigns: vec![
                camp("dairy-x2", CampaignTarget::Category("dairy".into()), 20_000),
                camp("milk-x3", CampaignTarget::Sku("milk-1l".into()), 30_000),
                camp(
                    "milk-x3-again",
                    CampaignTarget::Sku("milk-1l".into()),
                    30_000,
                ),
            ],
            ..rules()
        };
        let mut t = ticket(
            vec![
                line("milk-1l", "dairy", 1_590),
                line("yogurt", "dairy", 990),
            ],
            0,
            0,
        );
        let e = earn(&r, &t, 10_000);
        // Milk: best is ×3 (first of the tie) → ⌊15.90 × 3⌋ = 47; yogurt ×2 → ⌊9.90 × 2⌋ = 19.
        assert_eq!(e.lines[0].campaign_id.as_deref(), Some("milk-x3"));
        assert_eq!(e.lines[0].points, 47);
        assert_eq!(e.lines[1].campaign_id.as_deref(), Some("dairy-x2"));
        assert_eq!(e.lines[1].points, 19);
        // At 12:00 the window has closed (end is exclusive): 15 + 9 = 24.
        t.at = wed(12);
        let e = earn(&r, &t, 10_000);
        assert_eq!((e.points, e.lines[0].campaign_id.clone()), (24, None));
    }

    #[test]
    fn each_line_rounds_down_on_its_own() {
        // Two ¥3.50 lines at 1 point per yuan: 3 + 3 = 6 (not 7).
        let t = ticket(vec![line("a", "x", 350), line("b", "x", 350)], 0, 0);
        assert_eq!(earn(&rules(), &t, 10_000).points, 6);
        // 0 points per yuan, a refund-like negative line, an empty ticket: nothing.
        let none = EarnRules {
            points_per_yuan: 0,
            ..rules()
        };
        assert_eq!(earn(&none, &t, 10_000).points, 0);
        assert_eq!(
            earn(&rules(), &ticket(vec![line("a", "x", -500)], 0, 0), 10_000).points,
            0
        );
        assert_eq!(earn(&rules(), &ticket(vec![], 0, 0), 10_000).points, 0);
    }

    #[test]
    fn earning_serializes_for_the_sale_event() {
        let e = earn(&rules(), &ticket(vec![line("a", "x", 350)], 0, 0), 10_000);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Earning>(&json).unwrap(), e);
        let md = MemberDay {
            weekday: Weekday::Wed,
            multiplier_bp: 20_000,
        };
        assert_eq!(
            serde_json::to_string(&md).unwrap(),
            r#"{"weekday":"Wed","multiplier_bp":20000}"#
        );
        assert_eq!(
            serde_json::to_string(&CampaignTarget::Sku("milk".into())).unwrap(),
            r#"{"kind":"sku","id":"milk"}"#
        );
    }

    proptest! {
        #[test]
        fn earn_is_monotonic_in_paid_amount(
            fens in proptest::collection::vec(0i64..1_000_000, 1..6),
            extra in 0i64..1_000_000,
            idx in 0usize..6,
            points_fen in 0i64..100_000,
            sv_fen in 0i64..100_000,
            tier in 0u32..50_000,
            ppy in 0u32..=1000,
        ) {
            let r = EarnRules { points_per_yuan: ppy, ..rules() };
            let lines: Vec<EarnLine> = fens.iter().map(|&f| line("s", "c", f)).collect();
            let before = ticket(lines.clone(), points_fen, sv_fen);
            let mut more = lines;
            let i = idx % more.len();
            more[i].net_paid_fen += extra;
            let after = ticket(more, points_fen, sv_fen);
            let (a, b) = (earn(&r, &before, tier), earn(&r, &after, tier));
            prop_assert!(a.points >= 0);
            prop_assert!(b.points >= a.points, "{} < {}", b.points, a.points);
            prop_assert!(b.lines[i].points >= a.lines[i].points);
        }

        #[test]
        fn earn_never_panics_or_goes_negative(
            fens in proptest::collection::vec(any::<i64>(), 0..4),
            total in any::<i64>(), p in any::<i64>(), s in any::<i64>(),
            tier in any::<u32>(), ppy in any::<u32>(), md in any::<u32>(),
        ) {
            let r = EarnRules {
                points_per_yuan: ppy,
                member_day: Some(MemberDay { weekday: Weekday::Wed, multiplier_bp: md }),
                ..rules()
            };
            let t = EarnTicket {
                lines: fens.iter().map(|&f| line("s", "c", f)).collect(),
                total_fen: total, paid_with_points_fen: p, paid_with_stored_value_fen: s, at: wed(10),
            };
            prop_assert!(earn(&r, &t, tier).points >= 0);
        }
    }
}
