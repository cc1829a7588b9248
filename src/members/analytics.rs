//! `storehub analytics members`: one row per member with RFM values and scores, segment, tags,
//! dormancy and its reason, and the categories whose repurchase reminder is due. Gathers the
//! history (`members::history`) and applies the pure rules of `domain::rfm`; writes CSV or JSON.
//!
//! The row is a plain struct: later models (BG/NBD p_alive, expected purchases) add fields.

use std::io::Write;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::clv::{self, BgNbdParams, Customer, GammaGammaParams};
use crate::domain::rfm::{self, MemberInput, RfmParams};
use crate::store::{Store, StoreError};

/// One member's analytics. `frequency`, `recency` and `t_days` follow Fader, Hardie & Lee (2005)
/// over the whole history up to `as_of` (repeat occasions; days first → last; days first →
/// `as_of`); `monetary_fen`, `window_occasions` and `days_since_last` are the RFM window values
/// the scores rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberAnalyticsRow {
    /// The member's card number (no PII; accepted back as `member_ref` by imports).
    pub member_ref: String,
    pub member_id: u64,
    pub frequency: u32,
    pub recency: i64,
    #[serde(rename = "T")]
    pub t_days: i64,
    pub monetary_fen: i64,
    pub window_occasions: u32,
    pub days_since_last: Option<i64>,
    pub r: Option<u8>,
    pub f: Option<u8>,
    pub m: Option<u8>,
    /// Segment id (`champions` …), `None` without purchases.
    pub segment: Option<String>,
    pub segment_zh: Option<String>,
    /// Tag ids (`high_value`, `price_sensitive`, `new`, `churn_warning`).
    pub tags: Vec<String>,
    pub dormant: bool,
    /// `experience`, `price` or `natural` when dormant.
    pub dormant_reason: Option<String>,
    /// Categories whose repurchase reminder is due at `as_of`.
    pub repurchase_due: Vec<String>,
    /// BG/NBD (fitted in days to every member's history up to `as_of`): probability the member
    /// is still buying; `None` when the fit failed or the member never bought.
    #[serde(default)]
    pub p_alive: Option<f64>,
    /// Expected purchase occasions in the next [`HORIZON_DAYS`] days (BG/NBD).
    #[serde(default)]
    pub expected_purchases_30: Option<f64>,
    /// Expected spend per occasion, fen (Gamma-Gamma; members with repeat purchases).
    #[serde(default)]
    pub expected_spend_fen: Option<i64>,
}

/// The horizon of `expected_purchases_30`, days.
pub const HORIZON_DAYS: f64 = 30.0;

/// One member's BG/NBD summary from their occasions (sorted, merged per day) up to `as_of`, in
/// units of `unit_days` days (1 or 7): x = occasions after the first, t_x = first → last,
/// T = first → `as_of`, mean spend of the repeat occasions. `None` without occasions.
pub fn customer(occ: &[rfm::Occasion], as_of: NaiveDate, unit_days: f64) -> Option<Customer> {
    let (first, last) = (occ.first()?.date, occ.last()?.date);
    let repeat = &occ[1..];
    let mean = if repeat.is_empty() { 0 } else { repeat.iter().map(|o| o.amount_fen).sum::<i64>() / repeat.len() as i64 };
    Some(Customer {
        frequency: u32::try_from(repeat.len()).unwrap_or(u32::MAX),
        recency: (last - first).num_days().max(0) as f64 / unit_days,
        t: (as_of - first).num_days().max(0) as f64 / unit_days,
        mean_spend_fen: mean.max(0),
    })
}

/// Every member's summary (members who bought) up to `until`, for `storehub analytics fit`.
pub fn customers(store: &Store, tz: chrono_tz::Tz, until: NaiveDate, unit_days: f64) -> Result<Vec<Customer>, StoreError> {
    let histories = super::history::member_histories(store, tz, until)?;
    Ok(histories.into_values().filter_map(|h| customer(&rfm::occasions(h.purchases, until), until, unit_days)).collect())
}

/// The fitted models of `member_rows`; a failed fit leaves its columns empty and is logged.
/// The two fits are independent and run on two threads (the same numbers as one after the other).
fn fit_models(customers: &[Customer]) -> (Option<BgNbdParams>, Option<GammaGammaParams>) {
    let bgnbd = || match clv::fit_bgnbd(customers) {
        Ok(f) => {
            if !f.converged {
                tracing::warn!(note = ?f.note, "BG/NBD fit did not converge; p_alive is shown from the best parameters found");
            }
            Some(f.params)
        }
        Err(e) => {
            tracing::info!(error = %e, "no BG/NBD model: p_alive and expected purchases left empty");
            None
        }
    };
    let gamma_gamma = || match clv::fit_gamma_gamma(customers) {
        Ok(f) => Some(f.params),
        Err(e) => {
            tracing::info!(error = %e, "no Gamma-Gamma model: expected spend left empty");
            None
        }
    };
    std::thread::scope(|scope| {
        let gg = scope.spawn(gamma_gamma);
        (bgnbd(), join(gg))
    })
}

/// The result of a scoped thread; a panic in it (a bug) goes on in the caller, as it would
/// have without the thread.
fn join<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// CSV columns, in [`write_csv`] order.
pub const CSV_COLUMNS: [&str; 21] = [
    "member_ref",
    "member_id",
    "frequency",
    "recency",
    "T",
    "monetary_fen",
    "window_occasions",
    "days_since_last",
    "r",
    "f",
    "m",
    "segment",
    "segment_zh",
    "tags",
    "dormant",
    "dormant_reason",
    "repurchase_due",
    "p_alive",
    "expected_purchases_30",
    "expected_spend_fen",
    "as_of",
];

/// Analytics of every member (id order) at the shop-local day `as_of`.
pub fn member_rows(
    store: &Store,
    tz: chrono_tz::Tz,
    as_of: NaiveDate,
    params: &RfmParams,
) -> Result<Vec<MemberAnalyticsRow>, StoreError> {
    // Independent reads and computations run on two threads (the numbers are the same).
    let (histories, members) = std::thread::scope(|scope| {
        let histories = scope.spawn(|| super::history::member_histories(store, tz, as_of));
        let members = super::all_members(store);
        (join(histories), members)
    });
    let (mut histories, members) = (histories?, members?);
    // An unresolved service ticket makes a dormant member's reason `experience`.
    let open_tickets = super::tickets::members_with_open_tickets(store)?;
    let inputs: Vec<MemberInput> = members
        .iter()
        .map(|m| {
            let h = histories.remove(&m.id).unwrap_or_default();
            MemberInput {
                occasions: rfm::occasions(h.purchases, as_of),
                returns: h.returns,
                has_open_ticket: open_tickets.contains(&m.id),
            }
        })
        .collect();
    let analysed = rfm::analyse(&inputs, as_of, params);
    let occ: Vec<Vec<rfm::Occasion>> = inputs.into_iter().map(|i| i.occasions).collect();
    let summaries: Vec<Option<Customer>> = occ.iter().map(|o| customer(o, as_of, 1.0)).collect();
    let fitted: Vec<Customer> = summaries.iter().flatten().cloned().collect();
    let ((bg, gg), repurchase) = std::thread::scope(|scope| {
        let repurchase = scope.spawn(|| rfm::repurchase(&occ, as_of, params));
        (fit_models(&fitted), join(repurchase))
    });
    let mut due: Vec<Vec<String>> = vec![Vec::new(); members.len()];
    for r in repurchase.into_iter().filter(|r| r.due) {
        if let Some(d) = due.get_mut(r.member) {
            d.push(r.category);
        }
    }
    Ok(members
        .iter()
        .zip(analysed)
        .zip(due)
        .zip(summaries)
        .map(|(((m, a), repurchase_due), c)| MemberAnalyticsRow {
            p_alive: c.as_ref().zip(bg.as_ref()).map(|(c, p)| p.p_alive(c.frequency, c.recency, c.t)),
            expected_purchases_30: c.as_ref().zip(bg.as_ref()).map(|(c, p)| p.expected_purchases(HORIZON_DAYS, c.frequency, c.recency, c.t)),
            expected_spend_fen: c.as_ref().filter(|c| c.frequency > 0 && c.mean_spend_fen > 0).zip(gg.as_ref()).map(|(c, p)| p.expected_spend_fen(c.frequency, c.mean_spend_fen)),
            member_ref: m.card_number().unwrap_or_else(|_| m.id.to_string()),
            member_id: m.id,
            frequency: a.values.repeat_frequency,
            recency: a.values.recency_span_days,
            t_days: a.values.age_days,
            monetary_fen: a.values.monetary_fen,
            window_occasions: a.values.window_occasions,
            days_since_last: a.values.days_since_last,
            r: a.scores.map(|s| s.r),
            f: a.scores.map(|s| s.f),
            m: a.scores.map(|s| s.m),
            segment: a.segment.map(|s| s.id().to_string()),
            segment_zh: a.segment.map(|s| s.name_zh().to_string()),
            tags: a.tags.iter().map(|t| t.id().to_string()).collect(),
            dormant: a.dormant,
            dormant_reason: a.dormant_reason.map(|d| d.id().to_string()),
            repurchase_due,
        })
        .collect())
}

/// Writes rows as CSV (UTF-8 with BOM for Excel): [`CSV_COLUMNS`]; lists joined with `|`,
/// absent values empty.
pub fn write_csv<W: Write>(rows: &[MemberAnalyticsRow], as_of: NaiveDate, mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(CSV_COLUMNS)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        w.write_record([
            r.member_ref.clone(),
            r.member_id.to_string(),
            r.frequency.to_string(),
            r.recency.to_string(),
            r.t_days.to_string(),
            r.monetary_fen.to_string(),
            r.window_occasions.to_string(),
            opt(r.days_since_last.map(|d| d.to_string())),
            opt(r.r.map(|s| s.to_string())),
            opt(r.f.map(|s| s.to_string())),
            opt(r.m.map(|s| s.to_string())),
            r.segment.clone().unwrap_or_default(),
            r.segment_zh.clone().unwrap_or_default(),
            r.tags.join("|"),
            r.dormant.to_string(),
            r.dormant_reason.clone().unwrap_or_default(),
            r.repurchase_due.join("|"),
            opt(r.p_alive.map(|v| format!("{v:.4}"))),
            opt(r.expected_purchases_30.map(|v| format!("{v:.4}"))),
            opt(r.expected_spend_fen.map(|v| v.to_string())),
            as_of.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// One segment's members and their spend in the RFM window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SegmentFigures {
    /// Segment id (`champions` …).
    pub segment: String,
    pub segment_zh: String,
    pub segment_en: String,
    pub members: u64,
    /// Share of the members who bought in the window, basis points (rounded down).
    pub share_bp: u32,
    /// Their spend in the RFM window (`monetary_fen` summed), fen.
    pub revenue_fen: i64,
}

/// Dormant members with one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DormantFigures {
    /// `experience`, `price` or `natural`.
    pub reason: String,
    pub reason_zh: String,
    pub reason_en: String,
    pub members: u64,
}

/// A member named in a list (card number, no phone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListedMember {
    pub member_ref: String,
    pub member_id: u64,
    pub segment: Option<String>,
    pub days_since_last: Option<i64>,
    /// The categories due (repurchase list); empty in the churn list.
    pub categories: Vec<String>,
}

/// The shop's analytics at a glance (`GET /api/v1/analytics/segments`, the `/analytics` page):
/// counts and spend per segment, dormant members per reason, the churn warnings and the
/// repurchase reminders due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnalyticsSummary {
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub members: u64,
    /// Members with a segment (bought in the window).
    pub segmented: u64,
    /// Every segment, in `domain::rfm::Segment::ALL` order, empty ones included.
    pub segments: Vec<SegmentFigures>,
    pub dormant: u64,
    /// Every reason, in `domain::rfm::DormantReason::ALL` order.
    pub dormant_by_reason: Vec<DormantFigures>,
    /// Members tagged `churn_warning`, in member id order.
    pub churn_warning: Vec<ListedMember>,
    /// Members with a repurchase reminder due, in member id order.
    pub repurchase_due: Vec<ListedMember>,
}

/// Sums `rows` (from [`member_rows`] at `as_of`) into an [`AnalyticsSummary`].
pub fn summarise(rows: &[MemberAnalyticsRow], as_of: NaiveDate) -> AnalyticsSummary {
    let segmented = rows.iter().filter(|r| r.segment.is_some()).count() as u64;
    let segments = rfm::Segment::ALL
        .iter()
        .map(|s| {
            let of: Vec<&MemberAnalyticsRow> = rows.iter().filter(|r| r.segment.as_deref() == Some(s.id())).collect();
            let members = of.len() as u64;
            SegmentFigures {
                segment: s.id().to_string(),
                segment_zh: s.name_zh().to_string(),
                segment_en: s.name_en().to_string(),
                members,
                share_bp: if segmented == 0 { 0 } else { u32::try_from(members * 10_000 / segmented).unwrap_or(10_000) },
                revenue_fen: of.iter().fold(0i64, |a, r| a.saturating_add(r.monetary_fen)),
            }
        })
        .collect();
    let dormant_by_reason = rfm::DormantReason::ALL
        .iter()
        .map(|d| DormantFigures {
            reason: d.id().to_string(),
            reason_zh: d.names().0.to_string(),
            reason_en: d.names().1.to_string(),
            members: rows.iter().filter(|r| r.dormant && r.dormant_reason.as_deref() == Some(d.id())).count() as u64,
        })
        .collect();
    let listed = |r: &MemberAnalyticsRow, categories: Vec<String>| ListedMember {
        member_ref: r.member_ref.clone(),
        member_id: r.member_id,
        segment: r.segment.clone(),
        days_since_last: r.days_since_last,
        categories,
    };
    AnalyticsSummary {
        as_of,
        members: rows.len() as u64,
        segmented,
        segments,
        dormant: rows.iter().filter(|r| r.dormant).count() as u64,
        dormant_by_reason,
        churn_warning: rows.iter().filter(|r| r.tags.iter().any(|t| t == rfm::Tag::ChurnWarning.id())).map(|r| listed(r, Vec::new())).collect(),
        repurchase_due: rows.iter().filter(|r| !r.repurchase_due.is_empty()).map(|r| listed(r, r.repurchase_due.clone())).collect(),
    }
}
