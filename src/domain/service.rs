//! Member service (会员专属客服) decisions: a ticket's priority from the member's tier, its SLA
//! due time, when it is overdue, the checks on its texts and satisfaction score, and which state
//! changes are allowed. Pure: the caller (`members::tickets`) passes the time, the tier ladder and
//! the SLA hours; nothing here reads the clock or the store.
//!
//! **Priority table** (ladder lowest first, as in `[[loyalty.tiers]]`; the base tier is where
//! every member starts, so it counts as no tier):
//!
//! | member's tier                               | priority |
//! |---------------------------------------------|----------|
//! | the top tier (ladder of 2 or more)          | urgent   |
//! | the one below the top (ladder of 3 or more) | high     |
//! | any other tier, the base tier, or no tier   | normal   |
//!
//! A `follow_up` ticket (the shop reaching out, e.g. after a campaign: no customer is waiting)
//! starts one step lower (urgent → high, high → normal, normal → low). Staff may raise a
//! priority, never lower it; the due time then follows the new priority from the opening time.
//!
//! **SLA**: due = opened at + `[tickets].sla_hours` of the priority, in clock hours (the promise
//! runs day and night, so a ticket opened at 22:00 with 4 hours is due at 02:00). A ticket that
//! is open or in progress is overdue once the time is *past* its due time: at exactly the due
//! time it is not yet overdue.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How fast a ticket must be handled, lowest first (so `Ord` compares urgency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }

    /// One step lower (low stays low).
    pub fn lower(self) -> Priority {
        match self {
            Priority::Urgent => Priority::High,
            Priority::High => Priority::Normal,
            Priority::Normal | Priority::Low => Priority::Low,
        }
    }
}

/// Where a ticket is in its life: `open` → `in_progress` (assigned) → `resolved`; `open` →
/// `resolved` directly is allowed (answered on the spot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    InProgress,
    Resolved,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::InProgress => "in_progress",
            TicketState::Resolved => "resolved",
        }
    }

    /// Open or in progress: someone still owes the member an answer.
    pub fn is_unresolved(self) -> bool {
        self != TicketState::Resolved
    }
}

/// `[tickets.sla_hours]`: hours to handle a ticket of each priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaHours {
    pub urgent: u32,
    pub high: u32,
    pub normal: u32,
    pub low: u32,
}

impl Default for SlaHours {
    fn default() -> Self {
        SlaHours { urgent: 4, high: 12, normal: 24, low: 72 }
    }
}

impl SlaHours {
    pub fn hours(&self, p: Priority) -> u32 {
        match p {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// Longest SLA accepted by the config, hours (one year).
pub const SLA_HOURS_MAX: u32 = 8760;

/// The priority of a new ticket from the member's tier: `tier_index` is the position of the
/// member's tier in a ladder of `ladder_len` tiers (lowest first), `None` for no tier or a tier no
/// longer in the ladder. See the module's table.
pub fn priority_for(tier_index: Option<usize>, ladder_len: usize, follow_up: bool) -> Priority {
    let from_tier = match tier_index {
        Some(i) if i < ladder_len && ladder_len >= 2 && i == ladder_len - 1 => Priority::Urgent,
        Some(i) if i < ladder_len && ladder_len >= 3 && i == ladder_len - 2 => Priority::High,
        _ => Priority::Normal,
    };
    if follow_up {
        from_tier.lower()
    } else {
        from_tier
    }
}

/// When a ticket of `priority` opened at `opened_at` is due.
pub fn due_at(opened_at: DateTime<Utc>, priority: Priority, sla: &SlaHours) -> DateTime<Utc> {
    let hours = sla.hours(priority).min(SLA_HOURS_MAX);
    opened_at + Duration::hours(i64::from(hours))
}

/// Whether a ticket in `state` due at `due` is overdue at `now`: unresolved and strictly past due.
pub fn is_overdue(state: TicketState, due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state.is_unresolved() && now > due
}

/// How long past due at `now` (zero when not overdue).
pub fn overdue_by(state: TicketState, due: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    if is_overdue(state, due, now) {
        now - due
    } else {
        Duration::zero()
    }
}

/// Longest subject, characters.
pub const SUBJECT_MAX_CHARS: usize = 120;
/// Longest note or resolution, characters.
pub const TEXT_MAX_CHARS: usize = 1000;
/// Most notes one ticket keeps (the record stays bounded).
pub const NOTES_MAX: usize = 100;

/// Why a service decision refused something. `field` names the input at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("{field}: must be 1 to {max} characters{extra}, got {len}", extra = if *.multiline { "" } else { " on one line" })]
    BadText { field: &'static str, max: usize, len: usize, multiline: bool },
    #[error("satisfaction: expected a score from 1 to 5, got {0}")]
    BadScore(i64),
    #[error("the ticket is already resolved; open a new ticket if the member needs more help")]
    AlreadyResolved,
    #[error("satisfaction can be recorded only once the ticket is resolved (resolve it first)")]
    NotResolved,
    #[error("the ticket already has a satisfaction score of {0}")]
    AlreadyRated(u8),
    #[error("priority: a ticket's priority can only be raised, it is {from} and {to} is lower")]
    PriorityLowered { from: &'static str, to: &'static str },
    #[error("notes: the ticket already has {0} notes, the most it keeps; resolve it or open a new ticket")]
    TooManyNotes(usize),
}

/// Checks a free text and returns it trimmed: 1 to `max` characters, no control characters
/// (newlines allowed when `multiline`).
pub fn check_text(field: &'static str, text: &str, max: usize, multiline: bool) -> Result<String, ServiceError> {
    let t = text.trim();
    let len = t.chars().count();
    let bad_char = t.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')));
    if len == 0 || len > max || bad_char {
        return Err(ServiceError::BadText { field, max, len, multiline });
    }
    Ok(t.to_string())
}

/// Checks a satisfaction score (1–5).
pub fn check_score(score: i64) -> Result<u8, ServiceError> {
    match u8::try_from(score) {
        Ok(s @ 1..=5) => Ok(s),
        _ => Err(ServiceError::BadScore(score)),
    }
}

/// What staff do to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketAction {
    /// Give it to someone (and possibly raise its priority).
    Assign,
    /// Add a note.
    Note { notes_now: usize },
    /// Close it with a resolution.
    Resolve,
    /// Record the member's satisfaction.
    Rate { current: Option<u8> },
}

/// The state after `action` on a ticket in `state`, or why it is refused.
pub fn transition(state: TicketState, action: TicketAction) -> Result<TicketState, ServiceError> {
    match (state, action) {
        (TicketState::Resolved, TicketAction::Assign | TicketAction::Note { .. } | TicketAction::Resolve) => {
            Err(ServiceError::AlreadyResolved)
        }
        (_, TicketAction::Note { notes_now }) if notes_now >= NOTES_MAX => Err(ServiceError::TooManyNotes(notes_now)),
        (s, TicketAction::Note { .. }) => Ok(s),
        (_, TicketAction::Assign) => Ok(TicketState::InProgress),
        (_, TicketAction::Resolve) => Ok(TicketState::Resolved),
        (TicketState::Resolved, TicketAction::Rate { current: Some(s) }) => Err(ServiceError::AlreadyRated(s)),
        (TicketState::Resolved, TicketAction::Rate { current: None }) => Ok(TicketState::Resolved),
        (_, TicketAction::Rate { .. }) => Err(ServiceError::NotResolved),
    }
}

/// A new priority chosen by staff: the same or higher, never lower.
pub fn raise(current: Priority, wanted: Priority) -> Result<Priority, ServiceError> {
    if wanted < current {
        return Err(ServiceError::PriorityLowered { from: current.as_str(), to: wanted.as_str() });
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn priority_table_on_a_four_tier_ladder() {
        // 普通 (base) < 银卡 < 金卡 < 钻石
        assert_eq!(priority_for(Some(3), 4, false), Priority::Urgent); // 钻石
        assert_eq!(priority_for(Some(2), 4, false), Priority::High); // 金卡
        assert_eq!(priority_for(Some(1), 4, false), Priority::Normal); // 银卡
        assert_eq!(priority_for(Some(0), 4, false), Priority::Normal); // 普通
        assert_eq!(priority_for(None, 4, false), Priority::Normal);
        // A tier index outside the ladder (tier removed from the config) is no tier.
        assert_eq!(priority_for(Some(7), 4, false), Priority::Normal);
    }

    #[test]
    fn priority_table_on_short_ladders() {
        // Two tiers: the top is urgent, the base normal; nobody is high.
        assert_eq!(priority_for(Some(1), 2, false), Priority::Urgent);
        assert_eq!(priority_for(Some(0), 2, false), Priority::Normal);
        // One tier is everyone's base: normal. No ladder at all: normal.
        assert_eq!(priority_for(Some(0), 1, false), Priority::Normal);
        assert_eq!(priority_for(None, 0, false), Priority::Normal);
        // Three tiers: top urgent, middle high, base normal.
        assert_eq!(priority_for(Some(2), 3, false), Priority::Urgent);
        assert_eq!(priority_for(Some(1), 3, false), Priority::High);
        assert_eq!(priority_for(Some(0), 3, false), Priority::Normal);
    }

    #[test]
    fn follow_up_starts_one_step_lower() {
        assert_eq!(priority_for(Some(3), 4, true), Priority::High);
        assert_eq!(priority_for(Some(2), 4, true), Priority::Normal);
        assert_eq!(priority_for(None, 4, true), Priority::Low);
        assert_eq!(Priority::Low.lower(), Priority::Low);
    }

    #[test]
    fn sla_due_times_with_default_hours() {
        let sla = SlaHours::default();
        let opened = utc(2026, 3, 10, 2, 0); // 10:00 in Shanghai
        assert_eq!(due_at(opened, Priority::Urgent, &sla), utc(2026, 3, 10, 6, 0));
        assert_eq!(due_at(opened, Priority::High, &sla), utc(2026, 3, 10, 14, 0));
        assert_eq!(due_at(opened, Priority::Normal, &sla), utc(2026, 3, 11, 2, 0));
        assert_eq!(due_at(opened, Priority::Low, &sla), utc(2026, 3, 13, 2, 0));
    }

    #[test]
    fn sla_due_across_midnight_and_month_end() {
        let sla = SlaHours::default();
        // Opened 21:30 Shanghai (13:30 UTC) on 31 March, urgent (4 h): due 01:30 Shanghai on 1 April.
        let opened = utc(2026, 3, 31, 13, 30);
        let due = due_at(opened, Priority::Urgent, &sla);
        assert_eq!(due, utc(2026, 3, 31, 17, 30));
        let local = due.with_timezone(&chrono_tz::Asia::Shanghai);
        assert_eq!(local.format("%Y-%m-%d %H:%M").to_string(), "2026-04-01 01:30");
        // Opened 23:00 UTC on 31 December, high (12 h): due 11:00 UTC on 1 January.
        assert_eq!(due_at(utc(2026, 12, 31, 23, 0), Priority::High, &sla), utc(2027, 1, 1, 11, 0));
        // Configured hours are used as given.
        let custom = SlaHours { urgent: 1, high: 2, normal: 48, low: 168 };
        assert_eq!(due_at(utc(2026, 1, 1, 0, 0), Priority::Low, &custom), utc(2026, 1, 8, 0, 0));
    }

    #[test]
    fn overdue_only_strictly_past_the_due_time() {
        let due = utc(2026, 3, 10, 6, 0);
        let second = Duration::seconds(1);
        assert!(!is_overdue(TicketState::Open, due, due - second));
        assert!(!is_overdue(TicketState::Open, due, due), "at exactly the due time it is not yet overdue");
        assert!(is_overdue(TicketState::Open, due, due + second));
        assert!(is_overdue(TicketState::InProgress, due, due + Duration::hours(5)));
        assert!(!is_overdue(TicketState::Resolved, due, due + Duration::hours(5)));
        assert_eq!(overdue_by(TicketState::Open, due, due + Duration::minutes(90)), Duration::minutes(90));
        assert_eq!(overdue_by(TicketState::Open, due, due), Duration::zero());
        assert_eq!(overdue_by(TicketState::Resolved, due, due + Duration::hours(1)), Duration::zero());
    }

    #[test]
    fn satisfaction_scores() {
        assert_eq!(check_score(1), Ok(1));
        assert_eq!(check_score(5), Ok(5));
        assert_eq!(check_score(0), Err(ServiceError::BadScore(0)));
        assert_eq!(check_score(6), Err(ServiceError::BadScore(6)));
        assert_eq!(check_score(-3), Err(ServiceError::BadScore(-3)));
        assert_eq!(check_score(261), Err(ServiceError::BadScore(261)));
        assert_eq!(ServiceError::BadScore(6).to_string(), "satisfaction: expected a score from 1 to 5, got 6");
    }

    #[test]
    fn texts() {
        assert_eq!(check_text("subject", "  会员卡积分没到账 ", SUBJECT_MAX_CHARS, false).unwrap(), "会员卡积分没到账");
        let e = check_text("subject", "   ", SUBJECT_MAX_CHARS, false).unwrap_err();
        assert_eq!(e.to_string(), "subject: must be 1 to 120 characters on one line, got 0");
        assert!(check_text("subject", "a\nb", SUBJECT_MAX_CHARS, false).is_err());
        assert_eq!(check_text("note", "第一行\n第二行", TEXT_MAX_CHARS, true).unwrap(), "第一行\n第二行");
        assert!(check_text("note", "bell\u{7}", TEXT_MAX_CHARS, true).is_err());
        let long: String = "字".repeat(1001);
        let e = check_text("note", &long, TEXT_MAX_CHARS, true).unwrap_err();
        assert_eq!(e.to_string(), "note: must be 1 to 1000 characters, got 1001");
        assert!(check_text("note", &"字".repeat(1000), TEXT_MAX_CHARS, true).is_ok());
    }

    #[test]
    fn state_transitions() {
        use TicketAction::*;
        use TicketState::*;
        assert_eq!(transition(Open, Assign), Ok(InProgress));
        assert_eq!(transition(InProgress, Assign), Ok(InProgress));
        assert_eq!(transition(Open, Note { notes_now: 0 }), Ok(Open));
        assert_eq!(transition(InProgress, Note { notes_now: 99 }), Ok(InProgress));
        assert_eq!(transition(InProgress, Note { notes_now: 100 }), Err(ServiceError::TooManyNotes(100)));
        assert_eq!(transition(Open, Resolve), Ok(Resolved));
        assert_eq!(transition(InProgress, Resolve), Ok(Resolved));
        assert_eq!(transition(Resolved, Resolve), Err(ServiceError::AlreadyResolved));
        assert_eq!(transition(Resolved, Assign), Err(ServiceError::AlreadyResolved));
        assert_eq!(transition(Resolved, Note { notes_now: 0 }), Err(ServiceError::AlreadyResolved));
        assert_eq!(transition(Open, Rate { current: None }), Err(ServiceError::NotResolved));
        assert_eq!(transition(InProgress, Rate { current: None }), Err(ServiceError::NotResolved));
        assert_eq!(transition(Resolved, Rate { current: None }), Ok(Resolved));
        assert_eq!(transition(Resolved, Rate { current: Some(4) }), Err(ServiceError::AlreadyRated(4)));
    }

    #[test]
    fn priority_can_only_be_raised() {
        assert_eq!(raise(Priority::Normal, Priority::Urgent), Ok(Priority::Urgent));
        assert_eq!(raise(Priority::High, Priority::High), Ok(Priority::High));
        assert_eq!(
            raise(Priority::High, Priority::Low),
            Err(ServiceError::PriorityLowered { from: "high", to: "low" })
        );
        assert_eq!(Priority::parse("urgent"), Some(Priority::Urgent));
        assert_eq!(Priority::parse("asap"), None);
    }
}
