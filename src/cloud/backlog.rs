//! The outbox's disk budget (`[mqtt].outbox_budget_mb`): while HQ is unreachable the outbox
//! grows; over budget, telemetry-class events are dropped oldest first, business events never,
//! and when business events alone exceed it the hub raises an alarm and keeps selling.
//!
//! Cheap when under budget (the common case, checked every few seconds): the store keeps the
//! outbox's count and bytes as it commits ([`Store::outbox_usage`]), so a check reads two
//! numbers, the oldest event and one meta key, and walks nothing. Only over budget does it read
//! event heads (type and size, not the data), starting at the cursor the previous pass left
//! (`Store::outbox_drop_cursor`), so a hub that stays over budget on business events alone
//! looks at each event once, not at the whole outbox every few seconds. Which events are
//! telemetry is decided in [`crate::domain::events`]; the choice of what to drop is the pure
//! [`plan_drops`]. Sales are never refused: the budget only ever deletes telemetry.

use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::events::{class_of, EventClass};
use crate::store::outbox::OutboxHead;
use crate::store::{Store, StoreError};

/// One MB of the budget: `outbox_budget_mb = 512` allows 512 × 1 048 576 bytes.
pub const MB: u64 = 1_048_576;

/// Events dropped per store commit.
const DROP_CHUNK: usize = 1_000;

/// The alarm is logged (`tracing::error!`) at most this often while it lasts.
const ALARM_LOG_EVERY_S: i64 = 600;

/// The budget in bytes of `[mqtt].outbox_budget_mb`.
pub fn budget_bytes(outbox_budget_mb: u32) -> u64 {
    u64::from(outbox_budget_mb) * MB
}

/// The outbox after one budget check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BacklogCheck {
    /// Events waiting and their encoded bytes, after any drop.
    pub depth: u64,
    pub bytes: u64,
    /// Age of the oldest waiting event.
    pub oldest_age_s: Option<i64>,
    /// Telemetry-class events dropped by this check.
    pub dropped: u64,
    /// Set when business events alone exceed the budget: what to tell the shop and HQ.
    pub alarm: Option<String>,
    /// The budget checked against, in bytes.
    pub budget_bytes: u64,
    /// Telemetry-class events the budget has dropped since the database was made.
    pub dropped_total: u64,
}

/// What one budget pass drops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropPlan {
    /// Telemetry-class events to drop, oldest first.
    pub seqs: Vec<u64>,
    /// Their bytes.
    pub freed: u64,
    /// Where the next pass starts: every waiting event below it has been looked at and kept.
    pub cursor: u64,
}

/// Chooses telemetry-class events to drop, oldest first, until `excess` bytes are freed.
/// `heads` are the events from the last pass's `cursor` on, in sequence order. The newest event
/// of the outbox (the last head) is never chosen: the store numbers the next event after it.
/// The returned cursor is past every head looked at, except that it stops at a telemetry event
/// kept back as the newest, so a later pass can drop it once newer events follow.
pub fn plan_drops<I>(heads: I, excess: u64, cursor: u64) -> Result<DropPlan, StoreError>
where
    I: IntoIterator<Item = Result<OutboxHead, StoreError>>,
{
    let mut plan = DropPlan { cursor, ..DropPlan::default() };
    let mut heads = heads.into_iter().peekable();
    while plan.freed < excess {
        let Some(head) = heads.next() else { break };
        let head = head?;
        let is_newest = heads.peek().is_none();
        let telemetry = class_of(&head.event_type) == EventClass::Telemetry;
        if telemetry && is_newest {
            plan.cursor = plan.cursor.max(head.seq);
            break;
        }
        if telemetry {
            plan.seqs.push(head.seq);
            plan.freed += head.bytes;
        }
        plan.cursor = plan.cursor.max(head.seq + 1);
    }
    Ok(plan)
}

/// Checks the outbox against `budget_bytes`, dropping telemetry-class events oldest first while
/// over it. Business events are never dropped. Called by the relay every few seconds, connected
/// or not.
pub fn enforce(store: &Store, budget_bytes: u64, now: DateTime<Utc>) -> Result<BacklogCheck, StoreError> {
    let mut usage = store.outbox_usage();
    let mut dropped = 0u64;
    if usage.bytes > budget_bytes {
        let cursor = store.outbox_drop_cursor()?;
        let plan = plan_drops(store.outbox_heads(cursor), usage.bytes - budget_bytes, cursor)?;
        let chunks: Vec<&[u64]> = plan.seqs.chunks(DROP_CHUNK).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            // A pass cut short (the daemon stopped) resumes at the first event it did not drop.
            let chunk_cursor = chunks.get(i + 1).map_or(plan.cursor, |next| next[0]);
            dropped += store.outbox_drop(chunk, chunk_cursor)?;
        }
        if plan.seqs.is_empty() && plan.cursor != cursor {
            store.outbox_drop(&[], plan.cursor)?;
        }
        usage = store.outbox_usage();
        if dropped > 0 {
            tracing::warn!(
                dropped,
                freed_bytes = plan.freed,
                budget_bytes,
                outbox_events = usage.count,
                outbox_bytes = usage.bytes,
                "outbox over its disk budget: dropped {dropped} telemetry-class events, oldest first"
            );
        }
    }
    let oldest_time = store.outbox_batch(0, 1)?.first().map(|e| e.time);
    let oldest_age_s = oldest_time.map(|t| (now - t).num_seconds().max(0));
    let alarm = (usage.bytes > budget_bytes)
        .then(|| alarm_message(usage.count, usage.bytes, budget_bytes, oldest_time, now));
    if let Some(text) = &alarm {
        if alarm_log_due(now) {
            tracing::error!(
                outbox_events = usage.count,
                outbox_bytes = usage.bytes,
                budget_bytes,
                "{text}"
            );
        }
    }
    Ok(BacklogCheck {
        depth: usage.count,
        bytes: usage.bytes,
        oldest_age_s,
        dropped,
        alarm,
        budget_bytes,
        dropped_total: store.outbox_dropped_total()?,
    })
}

/// When the alarm was last logged (one hub per process; tests with several only log less).
static ALARM_LOGGED_AT: Mutex<Option<DateTime<Utc>>> = Mutex::new(None);

fn alarm_log_due(now: DateTime<Utc>) -> bool {
    let mut last = ALARM_LOGGED_AT.lock().unwrap_or_else(|e| e.into_inner());
    let due = match *last {
        Some(at) => now < at || (now - at).num_seconds() >= ALARM_LOG_EVERY_S,
        None => true,
    };
    if due {
        *last = Some(now);
    }
    due
}

/// The alarm raised when business events alone exceed the budget, for the logs, `storehub cloud
/// status` and the telemetry: sizes, since when HQ has taken nothing (the oldest waiting event),
/// and that the hub keeps selling.
pub fn alarm_message(
    events: u64,
    bytes: u64,
    budget_bytes: u64,
    oldest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    let since = match oldest {
        Some(t) => format!(
            "{} ({} ago)",
            t.to_rfc3339_opts(SecondsFormat::Secs, true),
            format_age((now - t).num_seconds().max(0))
        ),
        None => "unknown".to_string(),
    };
    format!(
        "outbox holds {events} business events ({} MB) over its {} MB budget; HQ unreachable \
         since {since}; business events are never dropped and the hub keeps selling",
        format_mb(bytes),
        format_mb(budget_bytes),
    )
}

/// Bytes as MB with one decimal, rounded half up ("0.3", "512", "1.5"); whole numbers bare.
pub fn format_mb(bytes: u64) -> String {
    let tenths = (u128::from(bytes) * 10 + u128::from(MB) / 2) / u128::from(MB);
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// A duration in seconds the way a technician reads it: "45s", "12m 5s", "3h 20m", "2d 4h".
pub fn format_age(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn head(seq: u64, event_type: &str, bytes: u64) -> Result<OutboxHead, StoreError> {
        Ok(OutboxHead { seq, event_type: event_type.to_string(), bytes })
    }

    const SALE: &str = "storehub.sale.completed";
    const PICKED: &str = "storehub.shelf.picked";
    const BEAM: &str = "storehub.beam.changed";

    #[test]
    fn drops_the_oldest_telemetry_until_the_excess_is_freed() {
        // 10: sale 300 B, 11: picked 200 B, 12: beam 150 B, 13: picked 200 B, 14: sale 300 B.
        // Over by 300 B: picked 11 (200) then beam 12 (150) free 350 ≥ 300; 13 stays.
        let heads = vec![head(10, SALE, 300), head(11, PICKED, 200), head(12, BEAM, 150), head(13, PICKED, 200), head(14, SALE, 300)];
        let plan = plan_drops(heads, 300, 0).unwrap();
        assert_eq!(plan, DropPlan { seqs: vec![11, 12], freed: 350, cursor: 13 });
    }

    #[test]
    fn business_only_frees_nothing_and_moves_the_cursor_past_what_it_read() {
        let heads = vec![head(5, SALE, 300), head(6, "storehub.stock.moved", 120), head(7, "storehub.unknown.thing", 90)];
        let plan = plan_drops(heads, 100, 4).unwrap();
        assert_eq!(plan, DropPlan { seqs: vec![], freed: 0, cursor: 8 });
    }

    #[test]
    fn the_newest_event_is_kept_even_when_it_is_telemetry_and_the_cursor_waits_for_it() {
        // Only telemetry: 1 and 2 go, 3 is the newest and stays; the cursor stops at 3.
        let heads = vec![head(1, PICKED, 100), head(2, PICKED, 100), head(3, BEAM, 100)];
        let plan = plan_drops(heads, 1_000, 0).unwrap();
        assert_eq!(plan, DropPlan { seqs: vec![1, 2], freed: 200, cursor: 3 });
    }

    #[test]
    fn nothing_to_free_reads_nothing() {
        let heads = vec![Err(StoreError::Corrupt("must not be read".into()))];
        assert_eq!(plan_drops(heads, 0, 9).unwrap(), DropPlan { seqs: vec![], freed: 0, cursor: 9 });
        let heads = vec![Err(StoreError::Corrupt("read on purpose".into()))];
        assert!(plan_drops(heads, 1, 0).is_err(), "an unreadable event is an error, not a skip");
    }

    #[test]
    fn budget_and_sizes_in_mb() {
        assert_eq!(budget_bytes(512), 536_870_912);
        assert_eq!(format_mb(536_870_912), "512");
        assert_eq!(format_mb(1_258_291), "1.2"); // 1.19999… MB
        assert_eq!(format_mb(1_572_864), "1.5");
        assert_eq!(format_mb(52_429), "0.1"); // 0.05000… rounds up
        assert_eq!(format_mb(0), "0");
    }

    #[test]
    fn ages_read_like_a_technician_says_them() {
        assert_eq!(format_age(45), "45s");
        assert_eq!(format_age(725), "12m 5s");
        assert_eq!(format_age(12_000), "3h 20m");
        assert_eq!(format_age(187_200), "2d 4h");
        assert_eq!(format_age(-5), "0s");
    }

    #[test]
    fn the_alarm_names_sizes_budget_and_since_when() {
        let oldest = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 13, 30, 0).unwrap();
        let text = alarm_message(2_100_000, 540_016_640, budget_bytes(512), Some(oldest), now);
        assert_eq!(
            text,
            "outbox holds 2100000 business events (515 MB) over its 512 MB budget; HQ unreachable \
             since 2026-11-25T09:00:00Z (2d 4h ago); business events are never dropped and the hub \
             keeps selling"
        );
    }
}
