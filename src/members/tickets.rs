//! Member service tickets (会员专属客服): a complaint, consultation, after-sales case, return
//! request or follow-up linked to one member, with its priority (from the member's tier), SLA due
//! time, assignee, notes, resolution and satisfaction score. Stored in `TreeId::Tickets`
//! (`id BE` → [`Ticket`]) and indexed per member in `TreeId::TicketsByMember`
//! (`member BE ++ ticket BE` → empty), the index written in the same commit as the ticket.
//!
//! The rules (priority table, due time, overdue, allowed state changes, text and score checks)
//! are pure and live in `domain::service`; this module keeps the state and emits
//! `storehub.ticket.opened|updated|resolved`. Boundary: events carry ids, kinds, states and
//! times only: subjects, notes and resolutions are free text about a person and stay in the hub.
//! Nothing here reads the clock: callers pass `now` (or the commit's `tx.now()`).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::service::{self, ServiceError, SlaHours, TicketAction, NOTES_MAX, SUBJECT_MAX_CHARS, TEXT_MAX_CHARS};
use crate::domain::staff::Action;
use crate::members::Member;
use crate::staff::{StaffAccount, StaffError};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub use crate::domain::service::{Priority, TicketState};

/// A ticket was opened (data: [`TicketEvent`]).
pub const EVENT_OPENED: &str = "storehub.ticket.opened";
/// A ticket was assigned, noted, re-prioritised or rated (data: [`TicketEvent`], `change` says which).
pub const EVENT_UPDATED: &str = "storehub.ticket.updated";
/// A ticket was resolved (data: [`TicketEvent`]).
pub const EVENT_RESOLVED: &str = "storehub.ticket.resolved";

/// What the member needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    Complaint,
    Consultation,
    AfterSales,
    ReturnRequest,
    FollowUp,
}

impl TicketKind {
    pub const ALL: [TicketKind; 5] = [
        TicketKind::Complaint,
        TicketKind::Consultation,
        TicketKind::AfterSales,
        TicketKind::ReturnRequest,
        TicketKind::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Complaint => "complaint",
            TicketKind::Consultation => "consultation",
            TicketKind::AfterSales => "after_sales",
            TicketKind::ReturnRequest => "return_request",
            TicketKind::FollowUp => "follow_up",
        }
    }

    /// Page label: (zh-CN, en).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            TicketKind::Complaint => ("投诉", "Complaint"),
            TicketKind::Consultation => ("咨询", "Consultation"),
            TicketKind::AfterSales => ("售后", "After-sales"),
            TicketKind::ReturnRequest => ("退货申请", "Return request"),
            TicketKind::FollowUp => ("回访", "Follow-up"),
        }
    }

    pub fn parse(s: &str) -> Option<TicketKind> {
        TicketKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Where the member reached the shop (or the shop the member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketChannel {
    InStore,
    Phone,
    Wechat,
    Campaign,
    Other,
}

impl TicketChannel {
    pub const ALL: [TicketChannel; 5] =
        [TicketChannel::InStore, TicketChannel::Phone, TicketChannel::Wechat, TicketChannel::Campaign, TicketChannel::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketChannel::InStore => "in_store",
            TicketChannel::Phone => "phone",
            TicketChannel::Wechat => "wechat",
            TicketChannel::Campaign => "campaign",
            TicketChannel::Other => "other",
        }
    }

    /// Page label: (zh-CN, en).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            TicketChannel::InStore => ("到店", "In store"),
            TicketChannel::Phone => ("电话", "Phone"),
            TicketChannel::Wechat => ("微信", "WeChat"),
            TicketChannel::Campaign => ("营销活动", "Campaign"),
            TicketChannel::Other => ("其他", "Other"),
        }
    }

    pub fn parse(s: &str) -> Option<TicketChannel> {
        TicketChannel::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

/// A ticket as asked for. `opened_by` is the staff id that opens it (checked against the staff
/// accounts by [`open`]; [`open_in_tx`] records it as given, so a campaign's commit can open
/// follow-ups on behalf of the staff who launched it). `campaign_id` links a follow-up to its
/// campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTicket {
    pub member_id: u64,
    pub kind: TicketKind,
    pub channel: TicketChannel,
    pub subject: String,
    pub note: Option<String>,
    pub opened_by: String,
    pub campaign_id: Option<String>,
}

/// One note on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketNote {
    /// Staff id.
    pub author: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ticket {
    /// From 1, in opening order.
    pub id: u64,
    pub member_id: u64,
    pub kind: TicketKind,
    pub channel: TicketChannel,
    pub subject: String,
    /// The member's tier when the ticket was opened ("" = none).
    pub tier: String,
    pub priority: Priority,
    /// Opened at + the priority's SLA hours.
    pub due_at: DateTime<Utc>,
    pub state: TicketState,
    /// Staff id.
    pub assignee: Option<String>,
    /// Oldest first, at most `domain::service::NOTES_MAX`.
    pub notes: Vec<TicketNote>,
    pub resolution: Option<String>,
    /// 1–5, recorded at or after resolution.
    pub satisfaction: Option<u8>,
    /// Staff id.
    pub opened_by: String,
    pub campaign_id: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Staff id of who resolved it.
    pub resolved_by: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
}

impl Record for Ticket {
    const NAME: &'static str = "ticket";
}

impl Ticket {
    /// Open or in progress and strictly past its due time at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        service::is_overdue(self.state, self.due_at, now)
    }

    /// How long past due at `now` (zero when not overdue).
    pub fn overdue_by(&self, now: DateTime<Utc>) -> Duration {
        service::overdue_by(self.state, self.due_at, now)
    }
}

/// Data of the `storehub.ticket.*` events: ids, kinds, states and times, never free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub ticket_id: u64,
    pub member_id: u64,
    pub kind: TicketKind,
    pub channel: TicketChannel,
    pub priority: Priority,
    pub state: TicketState,
    pub due_at: DateTime<Utc>,
    /// Staff id.
    pub assignee: Option<String>,
    pub campaign_id: Option<String>,
    pub satisfaction: Option<u8>,
    /// For `storehub.ticket.updated`: `assigned`, `priority_raised`, `noted` or `rated`.
    pub change: Option<String>,
    /// Staff id of who made the change.
    pub by: String,
}

impl TicketEvent {
    fn of(t: &Ticket, change: Option<&str>, by: &str) -> TicketEvent {
        TicketEvent {
            ticket_id: t.id,
            member_id: t.member_id,
            kind: t.kind,
            channel: t.channel,
            priority: t.priority,
            state: t.state,
            due_at: t.due_at,
            assignee: t.assignee.clone(),
            campaign_id: t.campaign_id.clone(),
            satisfaction: t.satisfaction,
            change: change.map(str::to_string),
            by: by.to_string(),
        }
    }
}

/// The ticket rules from config: `[tickets.sla_hours]` and the tier ladder of `[[loyalty.tiers]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketRules {
    pub sla: SlaHours,
    /// Tier ids, lowest first.
    pub tiers: Vec<String>,
}

impl TicketRules {
    pub fn from_config(cfg: &crate::config::Config) -> TicketRules {
        TicketRules {
            sla: cfg.tickets.sla_hours,
            tiers: cfg.loyalty.tiers.iter().map(|t| t.id.as_str().to_string()).collect(),
        }
    }

    /// The priority of a new ticket of `kind` for a member in `tier` (see `domain::service`).
    pub fn priority(&self, tier: &str, kind: TicketKind) -> Priority {
        let index = self.tiers.iter().position(|t| t == tier);
        service::priority_for(index, self.tiers.len(), kind == TicketKind::FollowUp)
    }
}

/// Why a ticket operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("member: no member {0}; find the member first (`storehub member show PHONE`)")]
    UnknownMember(u64),
    #[error("no ticket {0}; `storehub ticket list` shows the tickets")]
    UnknownTicket(u64),
    #[error("assignee: {0}")]
    Assignee(StaffError),
    #[error("opened_by: must be a staff id, got {0:?}")]
    BadOpenedBy(String),
    #[error("campaign_id: must be 1 to 64 characters without control characters, got {0:?}")]
    BadCampaign(String),
    #[error(transparent)]
    Staff(#[from] StaffError),
}

impl TicketError {
    /// The input field at fault, for the web's `{code, message, field}` errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            TicketError::Service(ServiceError::BadText { field, .. }) => Some(field),
            TicketError::Service(ServiceError::BadScore(_)) | TicketError::Service(ServiceError::AlreadyRated(_)) => {
                Some("satisfaction")
            }
            TicketError::Service(ServiceError::PriorityLowered { .. }) => Some("priority"),
            TicketError::Service(ServiceError::TooManyNotes(_)) => Some("text"),
            TicketError::UnknownMember(_) => Some("member"),
            TicketError::Assignee(_) => Some("assignee"),
            TicketError::BadOpenedBy(_) => Some("opened_by"),
            TicketError::BadCampaign(_) => Some("campaign_id"),
            _ => None,
        }
    }
}

fn rejected<T>(e: impl Into<TicketError>) -> Result<T, TxError<TicketError>> {
    Err(TxError::Rejected(e.into()))
}

fn service<T>(r: Result<T, ServiceError>) -> Result<T, TxError<TicketError>> {
    r.map_err(|e| TxError::Rejected(TicketError::Service(e)))
}

/// `TicketsByMember` key.
fn index_key(member_id: u64, ticket_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&codec::u64_key(member_id));
    k[8..].copy_from_slice(&codec::u64_key(ticket_id));
    k
}

// --- opening ------------------------------------------------------------------------------------

/// Opens a ticket inside the caller's commit: checks the texts and the member, takes the
/// priority from the member's tier and the due time from `[tickets]`, stores the ticket and its
/// `TicketsByMember` entry and emits `storehub.ticket.opened`. `opened_by` is recorded as given
/// (see [`NewTicket`]). Errors: unknown member, bad subject, note, opened_by or campaign id.
pub fn open_in_tx(tx: &Tx, rules: &TicketRules, now: DateTime<Utc>, new: &NewTicket) -> Result<Ticket, TxError<TicketError>> {
    let subject = service(service::check_text("subject", &new.subject, SUBJECT_MAX_CHARS, false))?;
    let note = match new.note.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(service(service::check_text("note", n, TEXT_MAX_CHARS, true))?),
    };
    if crate::staff::check_id(&new.opened_by).is_err() {
        return rejected(TicketError::BadOpenedBy(new.opened_by.clone()));
    }
    if let Some(c) = &new.campaign_id {
        if service::check_text("campaign_id", c, 64, false).is_err() {
            return rejected(TicketError::BadCampaign(c.clone()));
        }
    }
    let member: Member = tx
        .get(TreeId::Members, &codec::u64_key(new.member_id))?
        .ok_or(TxError::Rejected(TicketError::UnknownMember(new.member_id)))?;
    let priority = rules.priority(&member.tier, new.kind);
    let id = tx.next_seq(TreeId::Tickets)?;
    let ticket = Ticket {
        id,
        member_id: member.id,
        kind: new.kind,
        channel: new.channel,
        subject,
        tier: member.tier.clone(),
        priority,
        due_at: service::due_at(now, priority, &rules.sla),
        state: TicketState::Open,
        assignee: None,
        notes: note
            .map(|text| TicketNote { author: new.opened_by.clone(), at: now, text })
            .into_iter()
            .collect(),
        resolution: None,
        satisfaction: None,
        opened_by: new.opened_by.clone(),
        campaign_id: new.campaign_id.clone(),
        opened_at: now,
        updated_at: now,
        resolved_at: None,
        resolved_by: None,
        rated_at: None,
    };
    tx.put(TreeId::Tickets, &codec::u64_key(id), &ticket)?;
    tx.put_raw(TreeId::TicketsByMember, &index_key(member.id, id), &[])?;
    tx.emit(EVENT_OPENED, Some(&id.to_string()), &TicketEvent::of(&ticket, None, &new.opened_by))?;
    Ok(ticket)
}

/// Opens a ticket in its own commit, at the commit's time, after checking that `opened_by` is an
/// active account allowed to open tickets.
pub fn open(store: &Store, rules: &TicketRules, new: &NewTicket) -> Result<Ticket, CommitError<TicketError>> {
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<TicketError>(tx, &new.opened_by, Action::OpenTickets)?;
        open_in_tx(tx, rules, tx.now(), new)
    })
}

// --- changes ------------------------------------------------------------------------------------

/// Reads ticket `id` inside a commit, refused when unknown.
fn ticket_tx(tx: &Tx, id: u64) -> Result<Ticket, TxError<TicketError>> {
    tx.get::<Ticket, TicketError>(TreeId::Tickets, &codec::u64_key(id))?
        .ok_or(TxError::Rejected(TicketError::UnknownTicket(id)))
}

/// Stores a changed ticket and emits its event.
fn save(tx: &Tx, t: &Ticket, event: &str, change: Option<&str>, by: &str) -> Result<(), TxError<TicketError>> {
    tx.put(TreeId::Tickets, &codec::u64_key(t.id), t)?;
    tx.emit(event, Some(&t.id.to_string()), &TicketEvent::of(t, change, by))?;
    Ok(())
}

/// Gives ticket `id` to staff `assignee` (an active account whose role may manage tickets) and, with `priority`, raises its
/// priority (never lowers it; the due time follows from the opening time). `by` needs
/// [`Action::ManageTickets`]. The ticket becomes `in_progress`.
pub fn assign(
    store: &Store,
    rules: &TicketRules,
    id: u64,
    by: &str,
    assignee: &str,
    priority: Option<Priority>,
) -> Result<Ticket, CommitError<TicketError>> {
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<TicketError>(tx, by, Action::ManageTickets)?;
        let mut t = ticket_tx(tx, id)?;
        t.state = service(service::transition(t.state, TicketAction::Assign))?;
        let account: Option<StaffAccount> = tx.get(TreeId::Staff, assignee.as_bytes())?;
        // The assignee must be able to work the ticket: active, and a role that manages tickets.
        match account.map(|a| crate::staff::check_allowed(&a, Action::ManageTickets)) {
            None => return rejected(TicketError::Assignee(StaffError::Unknown(assignee.to_string()))),
            Some(Err(e)) => return rejected(TicketError::Assignee(e)),
            Some(Ok(_)) => {}
        }
        let raised = match priority {
            Some(p) => service(service::raise(t.priority, p))? != t.priority,
            None => false,
        };
        if let Some(p) = priority {
            t.priority = p;
            t.due_at = service::due_at(t.opened_at, p, &rules.sla);
        }
        t.assignee = Some(assignee.to_string());
        t.updated_at = tx.now();
        save(tx, &t, EVENT_UPDATED, Some(if raised { "priority_raised" } else { "assigned" }), by)?;
        Ok(t)
    })
}

/// Adds a note (1–1000 characters, newlines allowed) to an unresolved ticket. `by` needs
/// [`Action::ManageTickets`].
pub fn add_note(store: &Store, id: u64, by: &str, text: &str) -> Result<Ticket, CommitError<TicketError>> {
    let text = service::check_text("text", text, TEXT_MAX_CHARS, true).map_err(|e| CommitError::Rejected(e.into()))?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<TicketError>(tx, by, Action::ManageTickets)?;
        let mut t = ticket_tx(tx, id)?;
        t.state = service(service::transition(t.state, TicketAction::Note { notes_now: t.notes.len() }))?;
        t.notes.push(TicketNote { author: by.to_string(), at: tx.now(), text: text.clone() });
        debug_assert!(t.notes.len() <= NOTES_MAX);
        t.updated_at = tx.now();
        save(tx, &t, EVENT_UPDATED, Some("noted"), by)?;
        Ok(t)
    })
}

/// Resolves a ticket with its resolution text and, optionally, the member's satisfaction (1–5).
/// Refused on a ticket already resolved. `by` needs [`Action::ManageTickets`].
pub fn resolve(
    store: &Store,
    id: u64,
    by: &str,
    resolution: &str,
    satisfaction: Option<i64>,
) -> Result<Ticket, CommitError<TicketError>> {
    let resolution = service::check_text("resolution", resolution, TEXT_MAX_CHARS, true)
        .map_err(|e| CommitError::Rejected(e.into()))?;
    let score = satisfaction.map(service::check_score).transpose().map_err(|e| CommitError::Rejected(e.into()))?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<TicketError>(tx, by, Action::ManageTickets)?;
        let mut t = ticket_tx(tx, id)?;
        t.state = service(service::transition(t.state, TicketAction::Resolve))?;
        let now = tx.now();
        t.resolution = Some(resolution.clone());
        t.resolved_at = Some(now);
        t.resolved_by = Some(by.to_string());
        if let Some(s) = score {
            t.satisfaction = Some(s);
            t.rated_at = Some(now);
        }
        t.updated_at = now;
        save(tx, &t, EVENT_RESOLVED, None, by)?;
        Ok(t)
    })
}

/// Records the member's satisfaction (1–5) on a resolved ticket that has none yet. `by` needs
/// [`Action::ManageTickets`].
pub fn rate(store: &Store, id: u64, by: &str, score: i64) -> Result<Ticket, CommitError<TicketError>> {
    let score = service::check_score(score).map_err(|e| CommitError::Rejected(e.into()))?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<TicketError>(tx, by, Action::ManageTickets)?;
        let mut t = ticket_tx(tx, id)?;
        t.state = service(service::transition(t.state, TicketAction::Rate { current: t.satisfaction }))?;
        t.satisfaction = Some(score);
        t.rated_at = Some(tx.now());
        t.updated_at = tx.now();
        save(tx, &t, EVENT_UPDATED, Some("rated"), by)?;
        Ok(t)
    })
}

// --- reading ------------------------------------------------------------------------------------

/// Ticket `id`.
pub fn ticket(store: &Store, id: u64) -> Result<Option<Ticket>, StoreError> {
    store.get(TreeId::Tickets, &codec::u64_key(id))
}

/// Every ticket, oldest first.
pub fn all_tickets(store: &Store) -> Result<Vec<Ticket>, StoreError> {
    store.scan::<Ticket>(TreeId::Tickets).map(|r| r.map(|(_, t)| t)).collect()
}

/// A member's tickets, oldest first (through the `TicketsByMember` index).
pub fn member_tickets(store: &Store, member_id: u64) -> Result<Vec<Ticket>, StoreError> {
    let mut out = Vec::new();
    for key in store.keys_with_prefix(TreeId::TicketsByMember, &codec::u64_key(member_id)) {
        let key = key?;
        let id = key
            .get(8..16)
            .ok_or_else(|| StoreError::Corrupt(format!("tickets_by_member key of {} bytes, expected 16", key.len())))
            .and_then(codec::key_u64)?;
        let t = ticket(store, id)?
            .ok_or_else(|| StoreError::Corrupt(format!("member {member_id}'s ticket index names missing ticket {id}")))?;
        out.push(t);
    }
    Ok(out)
}

/// Members with at least one ticket not resolved (for the dormancy reason `experience`).
pub fn members_with_open_tickets(store: &Store) -> Result<BTreeSet<u64>, StoreError> {
    let mut out = BTreeSet::new();
    for item in store.scan::<Ticket>(TreeId::Tickets) {
        let (_, t) = item?;
        if t.state.is_unresolved() {
            out.insert(t.member_id);
        }
    }
    Ok(out)
}

/// Which tickets a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketFilter {
    /// Every ticket.
    #[default]
    All,
    /// Open or in progress.
    Open,
    /// Open or in progress and past due.
    Overdue,
    /// One member's.
    Member(u64),
}

/// Tickets matching `filter` at `now`: unresolved ones first, most overdue (earliest due) first;
/// then resolved ones, newest first.
pub fn list(store: &Store, filter: TicketFilter, now: DateTime<Utc>) -> Result<Vec<Ticket>, StoreError> {
    let mut out = match filter {
        TicketFilter::Member(m) => member_tickets(store, m)?,
        _ => all_tickets(store)?,
    };
    out.retain(|t| match filter {
        TicketFilter::All | TicketFilter::Member(_) => true,
        TicketFilter::Open => t.state.is_unresolved(),
        TicketFilter::Overdue => t.is_overdue(now),
    });
    out.sort_by(|a, b| {
        let (ua, ub) = (a.state.is_unresolved(), b.state.is_unresolved());
        ub.cmp(&ua).then_with(|| {
            if ua {
                a.due_at.cmp(&b.due_at).then(a.id.cmp(&b.id))
            } else {
                b.id.cmp(&a.id)
            }
        })
    });
    Ok(out)
}

/// One overdue ticket on the dashboard: ids and times only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OverdueTicket {
    pub id: u64,
    pub member_id: u64,
    pub kind: TicketKind,
    pub priority: Priority,
    pub due_at: DateTime<Utc>,
    pub assignee: Option<String>,
    /// Minutes past due.
    pub overdue_minutes: i64,
}

/// The dashboard's service card: counts and the most overdue tickets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketSummary {
    /// Not resolved (open or in progress).
    pub open: u64,
    pub in_progress: u64,
    pub overdue: u64,
    /// Up to `most` overdue tickets, most overdue first.
    pub most_overdue: Vec<OverdueTicket>,
}

/// Counts of unresolved and overdue tickets at `now`, with the `most` most overdue.
pub fn summary(store: &Store, now: DateTime<Utc>, most: usize) -> Result<TicketSummary, StoreError> {
    let mut s = TicketSummary::default();
    let mut overdue = Vec::new();
    for item in store.scan::<Ticket>(TreeId::Tickets) {
        let (_, t) = item?;
        if !t.state.is_unresolved() {
            continue;
        }
        s.open += 1;
        if t.state == TicketState::InProgress {
            s.in_progress += 1;
        }
        if t.is_overdue(now) {
            s.overdue += 1;
            overdue.push(OverdueTicket {
                id: t.id,
                member_id: t.member_id,
                kind: t.kind,
                priority: t.priority,
                due_at: t.due_at,
                assignee: t.assignee.clone(),
                overdue_minutes: t.overdue_by(now).num_minutes(),
            });
        }
    }
    overdue.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.id.cmp(&b.id)));
    overdue.truncate(most);
    s.most_overdue = overdue;
    Ok(s)
}

/// A ticket as the CLI and the API show it: the ticket, whether it is overdue at the time asked,
/// and the member's masked phone (never the full one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub overdue: bool,
    /// Minutes past due (0 when not overdue).
    pub overdue_minutes: i64,
    /// `138****5678`, when the member still exists.
    pub member_phone: Option<String>,
}

impl TicketView {
    pub fn of(ticket: Ticket, member: Option<&Member>, now: DateTime<Utc>) -> TicketView {
        TicketView {
            overdue: ticket.is_overdue(now),
            overdue_minutes: ticket.overdue_by(now).num_minutes(),
            member_phone: member.map(Member::masked_phone),
            ticket,
        }
    }

    /// Views of `tickets` at `now`, each with its member's masked phone.
    pub fn all(store: &Store, tickets: Vec<Ticket>, now: DateTime<Utc>) -> Result<Vec<TicketView>, StoreError> {
        let mut out = Vec::with_capacity(tickets.len());
        for t in tickets {
            let m = crate::members::member(store, t.member_id)?;
            out.push(TicketView::of(t, m.as_ref(), now));
        }
        Ok(out)
    }
}

/// Every violation of the ticket invariants, one line each (for `storehub verify`): a ticket
/// whose member does not exist or that is missing from `TicketsByMember`, an index entry naming
/// no ticket or another member's, a resolved ticket without its resolution or an unresolved one
/// with one, a satisfaction outside 1–5 or on an unresolved ticket. Reads only.
pub fn check(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut v = Vec::new();
    let mut indexed: BTreeSet<Vec<u8>> = BTreeSet::new();
    for key in store.keys_with_prefix(TreeId::TicketsByMember, b"") {
        indexed.insert(key?);
    }
    for item in store.scan::<Ticket>(TreeId::Tickets) {
        let (_, t) = item?;
        if crate::members::member(store, t.member_id)?.is_none() {
            v.push(format!("ticket {}: member {} does not exist", t.id, t.member_id));
        }
        if !indexed.remove(index_key(t.member_id, t.id).as_slice()) {
            v.push(format!("ticket {}: missing from member {}'s ticket index", t.id, t.member_id));
        }
        let resolved = t.state == TicketState::Resolved;
        if resolved != (t.resolution.is_some() && t.resolved_at.is_some()) {
            v.push(format!("ticket {}: state {} but resolution {}", t.id, t.state.as_str(), if t.resolution.is_some() { "set" } else { "missing" }));
        }
        if let Some(s) = t.satisfaction {
            if !(1..=5).contains(&s) || !resolved {
                v.push(format!("ticket {}: satisfaction {s} on a {} ticket", t.id, t.state.as_str()));
            }
        }
    }
    for key in indexed {
        v.push(format!("ticket index key {key:02x?} names no ticket of that member"));
    }
    Ok(v)
}
