//! Campaigns (休眠唤醒 and more): stored campaigns (`TreeId::Campaigns`), their launch and who
//! was targeted or held out (`TreeId::CampaignMembers`), the end of the response window, and the
//! measured funnel with its uplift. The rules — targeting, holdout, playbooks, funnel arithmetic —
//! are pure in `domain::campaign`; this module gathers their inputs (analytics rows, member
//! records, messages, coupons, sales) and writes the results.
//!
//! A launch freezes the target list (meta `campaign_targets/<id>`), then treats members in chunks
//! of [`LAUNCH_CHUNK`] commits: per member the holdout draw, the coupon (`coupons::issue_in_tx`),
//! the message (`messages::request_in_tx`), the follow-up ticket (`tickets::open_in_tx`) and its
//! `CampaignMember` record commit together. A launch cut short (crash, power cut) resumes from the
//! frozen list and skips members who already have a record, so nobody is issued twice.
//!
//! Points-multiplier offers are kept in meta `campaign_points_offers` while the campaign runs;
//! `members::earn_tx` asks [`points_offers_tx`] inside the sale's commit.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::coupons::{self, CouponTemplate, Validity};
use crate::domain::assoc::ItemKey;
use crate::domain::campaign::{self as dc, Funnel, FunnelMember, Offer, Target};
use crate::domain::loyalty::earn::{CampaignTarget, PointsCampaign};
use crate::domain::rfm::RfmParams;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// A campaign was created (data: [`CampaignEvent`]).
pub const EVENT_CREATED: &str = "storehub.campaign.created";
/// A campaign's launch finished: every target treated or held out (data: [`CampaignEvent`]).
pub const EVENT_LAUNCHED: &str = "storehub.campaign.launched";
/// A campaign's response window ended (data: [`CampaignEvent`] with the funnel counts).
pub const EVENT_FINISHED: &str = "storehub.campaign.finished";

/// Members treated per launch commit.
pub const LAUNCH_CHUNK: usize = 200;
/// Longest campaign name, characters.
const MAX_NAME_CHARS: usize = 100;
/// Longest response window, days.
pub const MAX_RESPONSE_DAYS: u32 = 365;

const META_POINTS_OFFERS: &[u8] = b"campaign_points_offers";

fn targets_key(id: &str) -> Vec<u8> {
    let mut k = b"campaign_targets/".to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

fn member_key(campaign_id: &str, member_id: u64) -> Vec<u8> {
    let mut k = campaign_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&codec::u64_key(member_id));
    k
}

fn members_prefix(campaign_id: &str) -> Vec<u8> {
    let mut k = campaign_id.as_bytes().to_vec();
    k.push(0);
    k
}

// --- Types -----------------------------------------------------------------------------------------

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Created without a start time: launched by `campaign launch`.
    Draft,
    /// Launched by the daemon when its start time comes.
    Scheduled,
    /// Launched (or launching); its response window runs.
    Running,
    /// The response window ended.
    Finished,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Scheduled => "scheduled",
            CampaignState::Running => "running",
            CampaignState::Finished => "finished",
        }
    }
}

/// One campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    /// The built-in playbook it came from, if any (`None` = custom).
    pub playbook: Option<String>,
    pub target: Target,
    pub offer: Offer,
    /// Message template sent to each treated member, if any.
    pub message_template_id: Option<String>,
    /// Open a follow-up service ticket per treated member.
    pub follow_up_ticket: bool,
    /// When the daemon launches it (`None`: launched by hand).
    pub start_at: Option<DateTime<Utc>>,
    /// Share of the targets held out, bp.
    pub holdout_bp: u32,
    pub response_days: u32,
    pub state: CampaignState,
    pub created_at: DateTime<Utc>,
    pub launched_at: Option<DateTime<Utc>>,
    /// Every target treated or held out (false while a launch is under way or was cut short).
    pub launch_complete: bool,
    /// End of the response window (launch + response_days), exclusive.
    pub ends_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Targets frozen at launch.
    pub targeted: u64,
}
impl Record for Campaign {
    const VERSION: u8 = 2;
    const NAME: &'static str = "campaign";

    /// Version 1's target had no `bought_but_never`: it sits after the target's filter, inside
    /// the record, so the bytes up to the filter are read, `None` is put after them, and the
    /// rest follows unchanged.
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, StoreError> {
        type Head = (String, String, Option<String>, Vec<String>, Vec<String>, Vec<String>, Vec<String>, dc::Filter);
        let corrupt = |e: postcard::Error| StoreError::Corrupt(format!("campaign record (version {version}) does not decode: {e}"));
        match version {
            1 => {
                let (head, rest) = postcard::take_from_bytes::<Head>(bytes).map_err(corrupt)?;
                let mut out = postcard::to_allocvec(&(head, None::<dc::BoughtButNever>)).map_err(|e| StoreError::Encode(e.to_string()))?;
                out.extend_from_slice(rest);
                postcard::from_bytes(&out).map_err(corrupt)
            }
            _ => Err(StoreError::Corrupt(format!("campaign record has unknown version tag {version}"))),
        }
    }
}

/// One targeted member of a campaign and what they were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignMember {
    pub member_id: u64,
    pub held_out: bool,
    pub coupon_id: Option<u64>,
    pub coupon_code: Option<String>,
    /// Why no coupon was issued to a treated member (the template's per-member limit).
    pub coupon_skipped: Option<String>,
    pub message_id: Option<u64>,
    /// `requested`, `held` (quiet hours) or the skip reason (`no_consent`, `frequency_cap`,
    /// `already_sent`, `no_contact`).
    pub message_outcome: Option<String>,
    pub ticket_id: Option<u64>,
    pub at: DateTime<Utc>,
}
impl Record for CampaignMember {
    const NAME: &'static str = "campaign member";
}

/// The frozen target list of a launch under way.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TargetList(Vec<u64>);
impl Record for TargetList {
    const NAME: &'static str = "campaign target list";
}

/// A running points-multiplier offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsOffer {
    pub campaign_id: String,
    pub multiplier_bp: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PointsOffers(Vec<PointsOffer>);
impl Record for PointsOffers {
    const NAME: &'static str = "campaign points offers";
}

/// Data of the `storehub.campaign.*` events: ids and counts only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignEvent {
    pub campaign_id: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeted: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupons: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue_fen: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout_converted: Option<u64>,
}

/// A campaign as the CLI, a JSON file or the API asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// 1–64 characters, no spaces.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub target: Target,
    /// Default: message only.
    #[serde(default = "message_only")]
    pub offer: Offer,
    #[serde(default)]
    pub message_template_id: Option<String>,
    #[serde(default)]
    pub follow_up_ticket: bool,
    /// RFC 3339; the daemon launches it then. Absent: a draft, launched by hand.
    #[serde(default)]
    pub start_at: Option<DateTime<Utc>>,
    /// Default `[campaigns].default_holdout_bp`.
    #[serde(default)]
    pub holdout_bp: Option<u32>,
    /// Default `[campaigns].default_response_days`.
    #[serde(default)]
    pub response_days: Option<u32>,
}

fn message_only() -> Offer {
    Offer::MessageOnly
}

/// What campaigns need from config: `[campaigns]`, `[analytics]`, the shop's time zone.
#[derive(Debug, Clone)]
pub struct CampaignSettings {
    pub default_holdout_bp: u32,
    pub default_response_days: u32,
    pub rfm: RfmParams,
    pub tz: chrono_tz::Tz,
    /// `[messages]` and the store's name, for the campaign messages.
    pub messages: super::messages::MessageRules,
    /// `[tickets]`, for follow-up tickets (dormant-experience).
    pub tickets: super::tickets::TicketRules,
}

impl Default for CampaignSettings {
    /// The documented defaults (no config file): 10 % holdout, 14 days, `[analytics]` and
    /// `[messages]` defaults, Asia/Shanghai.
    fn default() -> Self {
        CampaignSettings {
            default_holdout_bp: 1000,
            default_response_days: 14,
            rfm: RfmParams::default(),
            tz: chrono_tz::Asia::Shanghai,
            messages: super::messages::MessageRules::default(),
            tickets: super::tickets::TicketRules { sla: Default::default(), tiers: Vec::new() },
        }
    }
}

impl CampaignSettings {
    pub fn from_config(cfg: &crate::config::Config) -> CampaignSettings {
        CampaignSettings {
            default_holdout_bp: cfg.campaigns.default_holdout_bp,
            default_response_days: cfg.campaigns.default_response_days,
            rfm: cfg.analytics.params(),
            tz: cfg.timezone(),
            messages: super::messages::MessageRules::from_config(cfg),
            tickets: super::tickets::TicketRules::from_config(cfg),
        }
    }
}

/// Why a campaign operation was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    #[error("campaign {0:?} already exists; choose another id")]
    Exists(String),
    #[error("no campaign has id {0:?}; `storehub campaign list` shows them")]
    Unknown(String),
    #[error("campaign {id} is {state}; {what}")]
    WrongState { id: String, state: &'static str, what: &'static str },
    #[error("no playbook named {0:?}; the playbooks are: dormant-natural, dormant-experience, dormant-price, birthday, points-expiring, repurchase-reminder, member-day")]
    UnknownPlaybook(String),
    #[error("coupon: {0}")]
    Coupon(#[from] coupons::CouponError),
    #[error("member {member_id}: {message}")]
    Member { member_id: u64, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn field(field: &str, message: impl Into<String>) -> CampaignError {
    CampaignError::Field { field: field.to_string(), message: message.into() }
}

fn flat<E: Into<CampaignError>>(e: CommitError<E>) -> CampaignError {
    match e {
        CommitError::Rejected(e) => e.into(),
        CommitError::Store(e) => CampaignError::Store(e),
    }
}

impl From<CommitError<CampaignError>> for CampaignError {
    fn from(e: CommitError<CampaignError>) -> Self {
        flat(e)
    }
}

// --- Create ----------------------------------------------------------------------------------------

/// Checks a new campaign against the rules and the store (its coupon template must exist).
pub fn check_new(store: &Store, new: &NewCampaign, settings: &CampaignSettings) -> Result<(), CampaignError> {
    crate::json_import::check_id(&new.id).map_err(|e| field("id", e.message))?;
    let n = new.name.trim().chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(field("name", format!("expected 1 to {MAX_NAME_CHARS} characters, got {n}")));
    }
    if let Some(bp) = new.holdout_bp.filter(|bp| *bp > 9_000) {
        return Err(field("holdout_bp", format!("expected 0 to 9000 bp (0 to 90 %), got {bp}")));
    }
    let days = new.response_days.unwrap_or(settings.default_response_days);
    if !(1..=MAX_RESPONSE_DAYS).contains(&days) {
        return Err(field("response_days", format!("expected 1 to {MAX_RESPONSE_DAYS} days, got {days}")));
    }
    let f = &new.target.filter;
    if let (Some(min), Some(max)) = (f.days_since_last_min, f.days_since_last_max) {
        if min > max {
            return Err(field("target.filter.days_since_last_min", format!("{min} is above days_since_last_max {max}")));
        }
    }
    if f.p_alive_below_bp.is_some_and(|bp| bp > 10_000) {
        return Err(field("target.filter.p_alive_below_bp", "expected 0 to 10000 bp"));
    }
    for (k, v) in [("segments", &new.target.segments), ("tags", &new.target.tags), ("dormant_reasons", &new.target.dormant_reasons)] {
        let known: &[&str] = match k {
            "segments" => &["champions", "potential_loyalists", "cant_lose_them", "at_risk_big_spenders", "loyal", "promising", "need_attention", "hibernating"],
            "tags" => &["high_value", "price_sensitive", "new", "churn_warning"],
            _ => &["experience", "price", "natural"],
        };
        if let Some(bad) = v.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(field(&format!("target.{k}"), format!("unknown value {bad:?}; expected one of {}", known.join(", "))));
        }
    }
    if let Some(b) = &new.target.bought_but_never {
        for (k, item) in [("bought", &b.bought), ("never", &b.never)] {
            let (ItemKey::Sku(id) | ItemKey::Category(id)) = item;
            if id.trim().is_empty() {
                return Err(field(&format!("target.bought_but_never.{k}"), "expected {\"sku\": \"…\"} or {\"category\": \"…\"} with a non-empty id"));
            }
        }
        if b.bought == b.never {
            return Err(field("target.bought_but_never.never", "is the same as bought: nobody can have bought it and never bought it"));
        }
    }
    match &new.offer {
        Offer::Coupon { template_id } => match coupons::template(store, template_id)? {
            None => return Err(field("offer.coupon.template_id", format!("no coupon template {template_id:?}; `storehub coupons templates` lists them"))),
            Some(t) if !t.active => return Err(field("offer.coupon.template_id", format!("coupon template {template_id:?} is not active"))),
            Some(_) => {}
        },
        Offer::PointsMultiplier { multiplier_bp } => {
            if !(10_001..=100_000).contains(multiplier_bp) {
                return Err(field("offer.points_multiplier.multiplier_bp", format!("expected 10001 to 100000 (×1.0001 to ×10), got {multiplier_bp}")));
            }
        }
        Offer::MessageOnly => {}
    }
    if let Some(t) = &new.message_template_id {
        crate::json_import::check_id(t).map_err(|e| field("message_template_id", e.message))?;
        if super::messages::template(store, t)?.is_none() {
            return Err(field("message_template_id", format!("no message template {t:?}; import one with `storehub messages template-add FILE`")));
        }
    }
    Ok(())
}

/// Creates a campaign (draft, or scheduled when it has a start time) and emits
/// `storehub.campaign.created`.
pub fn create(store: &Store, new: &NewCampaign, playbook: Option<&str>, settings: &CampaignSettings) -> Result<Campaign, CampaignError> {
    check_new(store, new, settings)?;
    store
        .commit(|tx| {
            if tx.get_raw::<CampaignError>(TreeId::Campaigns, new.id.as_bytes())?.is_some() {
                return Err(TxError::Rejected(CampaignError::Exists(new.id.clone())));
            }
            let c = Campaign {
                id: new.id.clone(),
                name: new.name.trim().to_string(),
                playbook: playbook.map(str::to_string),
                target: new.target.clone(),
                offer: new.offer.clone(),
                message_template_id: new.message_template_id.clone(),
                follow_up_ticket: new.follow_up_ticket,
                start_at: new.start_at,
                holdout_bp: new.holdout_bp.unwrap_or(settings.default_holdout_bp),
                response_days: new.response_days.unwrap_or(settings.default_response_days),
                state: if new.start_at.is_some() { CampaignState::Scheduled } else { CampaignState::Draft },
                created_at: tx.now(),
                launched_at: None,
                launch_complete: false,
                ends_at: None,
                finished_at: None,
                targeted: 0,
            };
            tx.put(TreeId::Campaigns, c.id.as_bytes(), &c)?;
            let ev = CampaignEvent { campaign_id: c.id.clone(), state: c.state.as_str().into(), playbook: c.playbook.clone(), ..CampaignEvent::default() };
            tx.emit(EVENT_CREATED, Some(&c.id), &ev)?;
            Ok(c)
        })
        .map_err(flat)
}

/// Creates a built-in playbook's campaign: its coupon template (and, with messages, its message
/// template) first when missing, then the campaign `<playbook>-<YYYYMMDD>` (`-2`, `-3` … when
/// taken), starting at `start` (launched by the daemon) or, without one, launched at once by the
/// caller. `holdout_bp` overrides `[campaigns].default_holdout_bp`.
pub fn create_playbook(
    store: &Store,
    name: &str,
    start: Option<DateTime<Utc>>,
    holdout_bp: Option<u32>,
    settings: &CampaignSettings,
) -> Result<Campaign, CampaignError> {
    let p = dc::playbook(name).ok_or_else(|| CampaignError::UnknownPlaybook(name.to_string()))?;
    let now = store.clock().now();
    let offer = if let Some(pc) = &p.coupon {
        ensure_coupon_template(store, pc)?;
        Offer::Coupon { template_id: pc.template_id.to_string() }
    } else if let Some(bp) = p.points_multiplier_bp {
        Offer::PointsMultiplier { multiplier_bp: bp }
    } else {
        Offer::MessageOnly
    };
    let message_template_id = outreach::ensure_playbook_template(store, &p.message)?;
    let day = crate::clock::local(start.unwrap_or(now), settings.tz).format("%Y%m%d").to_string();
    let base = format!("{}-{day}", p.id);
    let mut id = base.clone();
    let mut n = 1;
    while campaign(store, &id)?.is_some() {
        n += 1;
        id = format!("{base}-{n}");
    }
    let new = NewCampaign {
        id,
        name: p.name_zh.to_string(),
        target: p.target.clone(),
        offer,
        message_template_id,
        follow_up_ticket: p.follow_up_ticket,
        start_at: start,
        holdout_bp,
        response_days: None,
    };
    create(store, &new, Some(p.id), settings)
}

fn ensure_coupon_template(store: &Store, pc: &dc::PlaybookCoupon) -> Result<(), CampaignError> {
    if coupons::template(store, pc.template_id)?.is_some() {
        return Ok(());
    }
    let t = CouponTemplate {
        id: pc.template_id.to_string(),
        name_zh: pc.name_zh.to_string(),
        name_en: pc.name_en.to_string(),
        kind: pc.kind.clone(),
        min_spend_fen: pc.min_spend_fen,
        categories: Vec::new(),
        validity: Validity::DaysAfterIssue(pc.valid_days),
        per_member_limit: 0,
        active: true,
    };
    coupons::upsert_templates(store, &[t]).map_err(flat)?;
    Ok(())
}

// --- Read ------------------------------------------------------------------------------------------

pub fn campaign(store: &Store, id: &str) -> Result<Option<Campaign>, StoreError> {
    store.get(TreeId::Campaigns, id.as_bytes())
}

/// Every campaign, newest first.
pub fn campaigns(store: &Store) -> Result<Vec<Campaign>, StoreError> {
    let mut all: Vec<Campaign> = store.scan::<Campaign>(TreeId::Campaigns).map(|r| r.map(|(_, c)| c)).collect::<Result<_, _>>()?;
    all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
    Ok(all)
}

/// The targeted members of a campaign, in member id order.
pub fn campaign_members(store: &Store, id: &str) -> Result<Vec<CampaignMember>, StoreError> {
    store.scan_prefix::<CampaignMember>(TreeId::CampaignMembers, &members_prefix(id)).map(|r| r.map(|(_, m)| m)).collect()
}

fn load(store: &Store, id: &str) -> Result<Campaign, CampaignError> {
    campaign(store, id)?.ok_or_else(|| CampaignError::Unknown(id.to_string()))
}

// --- Targeting -------------------------------------------------------------------------------------

/// The members a target selects now (member id order), from the analytics rows at shop-local
/// `today` and the member records.
pub fn select_targets(store: &Store, target: &Target, settings: &CampaignSettings, today: NaiveDate) -> Result<Vec<u64>, StoreError> {
    let rows = super::analytics::member_rows(store, settings.tz, today, &settings.rfm)?;
    let members: HashMap<u64, super::Member> = super::all_members(store)?.into_iter().map(|m| (m.id, m)).collect();
    // Read only when a target asks "bought X but never Y": it scans every sale.
    let bought = match &target.bought_but_never {
        Some(_) => super::recommend::items_bought_by_members(store, settings.tz)?,
        None => HashMap::new(),
    };
    let mut out = Vec::new();
    for r in &rows {
        // A merged member is closed (`members::merge`): never a target.
        let Some(m) = members.get(&r.member_id).filter(|m| m.merged_into.is_none()) else { continue };
        let lots: Vec<(Option<NaiveDate>, i64)> = m.lots.iter().map(|l| (l.expires_on, l.remaining)).collect();
        let c = dc::Candidate {
            member_id: r.member_id,
            tier: &m.tier,
            segment: r.segment.as_deref(),
            tags: &r.tags,
            dormant: r.dormant,
            dormant_reason: r.dormant_reason.as_deref(),
            days_since_last: r.days_since_last,
            monetary_fen: r.monetary_fen,
            p_alive: r.p_alive,
            repurchase_due: !r.repurchase_due.is_empty(),
            birthday: m.birthday,
            lots: &lots,
            bought: bought.get(&r.member_id).map_or(&[], Vec::as_slice),
        };
        if dc::matches(target, &c, today) {
            out.push(r.member_id);
        }
    }
    Ok(out)
}

// --- Launch ----------------------------------------------------------------------------------------

/// What a launch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSummary {
    pub campaign_id: String,
    pub targeted: u64,
    /// Members recorded by this call (0 when an earlier call had done them all).
    pub recorded_now: u64,
    pub treated: u64,
    pub held_out: u64,
    pub coupons: u64,
    pub messages: u64,
    pub complete: bool,
}

/// Launches a draft or scheduled campaign now, or resumes a launch cut short; at most
/// `max_chunks` commits of [`LAUNCH_CHUNK`] members (None = all). See the module doc.
pub fn launch(store: &Store, settings: &CampaignSettings, ctx: &LaunchContext, id: &str, max_chunks: Option<usize>) -> Result<LaunchSummary, CampaignError> {
    let c = load(store, id)?;
    let now = store.clock().now();
    let today = crate::clock::local(now, settings.tz).date();
    let c = match c.state {
        CampaignState::Draft | CampaignState::Scheduled => {
            if let Offer::Coupon { template_id } = &c.offer {
                match coupons::template(store, template_id)? {
                    Some(t) if t.active => {}
                    _ => return Err(field("offer.coupon.template_id", format!("coupon template {template_id:?} is missing or inactive; add or activate it, then launch again"))),
                }
            }
            let targets = select_targets(store, &c.target, settings, today)?;
            store
                .commit(|tx| {
                    let mut c: Campaign = tx.get(TreeId::Campaigns, id.as_bytes())?.ok_or_else(|| TxError::Rejected(CampaignError::Unknown(id.to_string())))?;
                    if !matches!(c.state, CampaignState::Draft | CampaignState::Scheduled) {
                        return Err(TxError::Rejected(CampaignError::WrongState { id: id.into(), state: c.state.as_str(), what: "it was launched already" }));
                    }
                    let now = tx.now();
                    c.state = CampaignState::Running;
                    c.launched_at = Some(now);
                    c.ends_at = Some(now + Duration::days(i64::from(c.response_days)));
                    c.targeted = targets.len() as u64;
                    tx.put(TreeId::Campaigns, id.as_bytes(), &c)?;
                    tx.put(TreeId::Meta, &targets_key(id), &TargetList(targets.clone()))?;
                    if let (Offer::PointsMultiplier { multiplier_bp }, Some(to)) = (&c.offer, c.ends_at) {
                        let mut offers: PointsOffers = tx.get(TreeId::Meta, META_POINTS_OFFERS)?.unwrap_or_default();
                        offers.0.retain(|o| o.campaign_id != c.id);
                        offers.0.push(PointsOffer { campaign_id: c.id.clone(), multiplier_bp: *multiplier_bp, from: now, to });
                        tx.put(TreeId::Meta, META_POINTS_OFFERS, &offers)?;
                    }
                    Ok(c)
                })
                .map_err(flat)?
        }
        CampaignState::Running if !c.launch_complete => c,
        state => return Err(CampaignError::WrongState { id: id.into(), state: state.as_str(), what: "only a draft or scheduled campaign can be launched" }),
    };
    let targets: Vec<u64> = store.get::<TargetList>(TreeId::Meta, &targets_key(id))?.map(|t| t.0).unwrap_or_default();
    let mut summary = LaunchSummary { campaign_id: c.id.clone(), targeted: c.targeted, ..LaunchSummary::default() };
    let today = crate::clock::local(c.launched_at.unwrap_or(now), settings.tz).date();
    let coupon_name = match &c.offer {
        Offer::Coupon { template_id } => coupons::template(store, template_id)?.map(|t| t.name_zh),
        _ => None,
    };
    for (i, chunk) in targets.chunks(LAUNCH_CHUNK).enumerate() {
        if max_chunks.is_some_and(|m| i >= m) {
            return Ok(summary);
        }
        let done = store.commit(|tx| treat_chunk(tx, &c, chunk, today, coupon_name.as_deref(), ctx)).map_err(flat)?;
        summary.recorded_now += done;
    }
    // Every target has its record: count them and close the launch.
    let recorded = campaign_members(store, id)?;
    for m in &recorded {
        if m.held_out {
            summary.held_out += 1;
        } else {
            summary.treated += 1;
        }
        summary.coupons += u64::from(m.coupon_id.is_some());
        summary.messages += u64::from(m.message_id.is_some());
    }
    store
        .commit(|tx| {
            let mut c: Campaign = tx.get(TreeId::Campaigns, id.as_bytes())?.ok_or_else(|| TxError::Rejected(CampaignError::Unknown(id.to_string())))?;
            if c.launch_complete {
                return Ok(());
            }
            c.launch_complete = true;
            tx.put(TreeId::Campaigns, id.as_bytes(), &c)?;
            tx.remove::<CampaignError>(TreeId::Meta, &targets_key(id))?;
            let ev = CampaignEvent {
                campaign_id: c.id.clone(),
                state: c.state.as_str().into(),
                playbook: c.playbook.clone(),
                targeted: Some(c.targeted),
                treated: Some(summary.treated),
                held_out: Some(summary.held_out),
                coupons: Some(summary.coupons),
                messages: Some(summary.messages),
                ..CampaignEvent::default()
            };
            tx.emit(EVENT_LAUNCHED, Some(&c.id), &ev)?;
            Ok(())
        })
        .map_err(flat)?;
    summary.complete = true;
    Ok(summary)
}

/// What treating a member needs besides the campaign: the message and ticket rules.
pub struct LaunchContext {
    pub messages: super::messages::MessageRules,
    pub tickets: super::tickets::TicketRules,
}

impl LaunchContext {
    pub fn from_settings(settings: &CampaignSettings) -> LaunchContext {
        LaunchContext { messages: settings.messages.clone(), tickets: settings.tickets.clone() }
    }
}

/// Treats or holds out one chunk of targets in one commit; members with a record are skipped.
fn treat_chunk(tx: &Tx, c: &Campaign, chunk: &[u64], today: NaiveDate, coupon_name: Option<&str>, ctx: &LaunchContext) -> Result<u64, TxError<CampaignError>> {
    let mut done = 0;
    for &member_id in chunk {
        let key = member_key(&c.id, member_id);
        if tx.get_raw::<CampaignError>(TreeId::CampaignMembers, &key)?.is_some() {
            continue;
        }
        let held_out = dc::held_out(&c.id, member_id, c.holdout_bp);
        let mut rec = CampaignMember {
            member_id,
            held_out,
            coupon_id: None,
            coupon_code: None,
            coupon_skipped: None,
            message_id: None,
            message_outcome: None,
            ticket_id: None,
            at: tx.now(),
        };
        if !held_out {
            let mut vars = BTreeMap::new();
            if let Offer::Coupon { template_id } = &c.offer {
                let s = coupons::issue_in_tx(tx, template_id, &[member_id], Some(&c.id), today).map_err(|e| e.map_rejected(CampaignError::Coupon))?;
                if let Some(coupon) = s.issued.first() {
                    rec.coupon_id = Some(coupon.id);
                    rec.coupon_code = Some(coupon.code.clone());
                    vars.insert("coupon_code".to_string(), coupon.code.clone());
                    if let Some(name) = coupon_name {
                        vars.insert("coupon".to_string(), name.to_string());
                    }
                }
                if let Some(skip) = s.skipped.first() {
                    rec.coupon_skipped = Some(serde_json::to_value(&skip.reason).ok().and_then(|v| v["reason"].as_str().map(str::to_string)).unwrap_or_else(|| "skipped".into()));
                }
            }
            outreach::ticket_tx(tx, c, member_id, ctx, &mut rec)?;
            outreach::treat_tx(tx, c, member_id, vars, ctx, &mut rec)?;
        }
        tx.put(TreeId::CampaignMembers, &key, &rec)?;
        done += 1;
    }
    Ok(done)
}

// --- Points multiplier -----------------------------------------------------------------------------

/// The points campaigns a sale of `member_id` at `now` earns under: one per running
/// points-multiplier campaign that treated the member and whose window holds `now`, covering
/// every line (`CampaignTarget::Every`) from launch to the window's end. Called by
/// `members::earn_tx` inside the sale's commit; like every points campaign, per line only the
/// best multiplier counts (`domain::loyalty::earn`).
pub fn points_offers_tx<E>(tx: &Tx, member_id: u64, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Result<Vec<PointsCampaign>, TxError<E>> {
    let Some(offers) = tx.get::<PointsOffers, E>(TreeId::Meta, META_POINTS_OFFERS)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for o in offers.0.iter().filter(|o| o.from <= now && now < o.to) {
        if let Some(m) = tx.get::<CampaignMember, E>(TreeId::CampaignMembers, &member_key(&o.campaign_id, member_id))? {
            if !m.held_out {
                out.push(PointsCampaign {
                    id: o.campaign_id.clone(),
                    target: CampaignTarget::Every,
                    multiplier_bp: o.multiplier_bp,
                    starts_at: crate::clock::local(o.from, tz),
                    ends_at: crate::clock::local(o.to, tz),
                });
            }
        }
    }
    Ok(out)
}

// --- Finish ----------------------------------------------------------------------------------------

/// Finishes a running campaign (its window ended, or by hand): state finished, the points offer
/// withdrawn, `storehub.campaign.finished` with the funnel counts.
pub fn finish(store: &Store, id: &str) -> Result<Campaign, CampaignError> {
    let c = load(store, id)?;
    if c.state != CampaignState::Running {
        return Err(CampaignError::WrongState { id: id.into(), state: c.state.as_str(), what: "only a running campaign can be finished" });
    }
    if !c.launch_complete {
        return Err(CampaignError::WrongState { id: id.into(), state: "still launching", what: "finish it after its launch completes (`storehub campaign launch ID` resumes it)" });
    }
    let f = funnel(store, &c)?;
    store
        .commit(|tx| {
            let mut c: Campaign = tx.get(TreeId::Campaigns, id.as_bytes())?.ok_or_else(|| TxError::Rejected(CampaignError::Unknown(id.to_string())))?;
            if c.state != CampaignState::Running {
                return Err(TxError::Rejected(CampaignError::WrongState { id: id.into(), state: c.state.as_str(), what: "only a running campaign can be finished" }));
            }
            c.state = CampaignState::Finished;
            c.finished_at = Some(tx.now());
            tx.put(TreeId::Campaigns, id.as_bytes(), &c)?;
            if let Some(mut offers) = tx.get::<PointsOffers, CampaignError>(TreeId::Meta, META_POINTS_OFFERS)? {
                offers.0.retain(|o| o.campaign_id != c.id);
                tx.put(TreeId::Meta, META_POINTS_OFFERS, &offers)?;
            }
            let ev = CampaignEvent {
                campaign_id: c.id.clone(),
                state: c.state.as_str().into(),
                playbook: c.playbook.clone(),
                targeted: Some(f.targeted),
                treated: Some(f.treated),
                held_out: Some(f.held_out),
                reached: Some(f.reached),
                responded: Some(f.responded),
                converted: Some(f.converted),
                revenue_fen: Some(f.revenue_fen),
                holdout_converted: Some(f.holdout_converted),
                ..CampaignEvent::default()
            };
            tx.emit(EVENT_FINISHED, Some(&c.id), &ev)?;
            Ok(c)
        })
        .map_err(flat)
}

/// The daemon's minute tick: launches scheduled campaigns whose start came, resumes launches cut
/// short, finishes running campaigns whose window ended. Errors are logged per campaign.
pub fn tick(store: &Store, settings: &CampaignSettings, ctx: &LaunchContext) -> Result<usize, StoreError> {
    let now = store.clock().now();
    let mut acted = 0;
    for c in campaigns(store)? {
        let due = match c.state {
            CampaignState::Scheduled => c.start_at.is_some_and(|s| s <= now),
            CampaignState::Running => !c.launch_complete,
            _ => false,
        };
        if due {
            match launch(store, settings, ctx, &c.id, None) {
                Ok(s) => tracing::info!(campaign = %c.id, targeted = s.targeted, treated = s.treated, held_out = s.held_out, "campaign launched"),
                Err(e) => tracing::error!(campaign = %c.id, error = %e, "campaign launch failed; the next tick tries again"),
            }
            acted += 1;
            continue;
        }
        if c.state == CampaignState::Running && c.ends_at.is_some_and(|e| e <= now) {
            match finish(store, &c.id) {
                Ok(_) => tracing::info!(campaign = %c.id, "campaign finished: its response window ended"),
                Err(e) => tracing::error!(campaign = %c.id, error = %e, "campaign finish failed; the next tick tries again"),
            }
            acted += 1;
        }
    }
    Ok(acted)
}

// --- Verify --------------------------------------------------------------------------------------

/// `storehub verify`: every campaign member's coupon exists, is the member's and carries the
/// campaign; every message is the member's and the campaign's; held-out members got nothing;
/// a launch counted complete left no frozen target list; every record names a known campaign.
pub fn check(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let all: HashMap<String, Campaign> = campaigns(store)?.into_iter().map(|c| (c.id.clone(), c)).collect();
    for r in store.scan::<CampaignMember>(TreeId::CampaignMembers) {
        let (key, m) = r?;
        // id ++ 0 ++ member id (8 bytes): the separator is the ninth byte from the end.
        let Some(cut) = key.len().checked_sub(9).filter(|i| key[*i] == 0) else {
            out.push(format!("campaign members: malformed key {key:?}"));
            continue;
        };
        let id = String::from_utf8_lossy(&key[..cut]).into_owned();
        let at = format!("campaign {id} member {}", m.member_id);
        if !all.contains_key(&id) {
            out.push(format!("{at}: no such campaign"));
        }
        if m.held_out && (m.coupon_id.is_some() || m.message_id.is_some() || m.ticket_id.is_some()) {
            out.push(format!("{at}: held out but was sent something"));
        }
        if let Some(cid) = m.coupon_id {
            match coupons::coupon(store, cid)? {
                Some(cp) if cp.member_id == m.member_id && cp.campaign.as_deref() == Some(id.as_str()) => {}
                Some(_) => out.push(format!("{at}: coupon {cid} is another member's or another campaign's")),
                None => out.push(format!("{at}: coupon {cid} does not exist")),
            }
        }
        if let Some(mid) = m.message_id {
            match super::messages::message(store, mid)? {
                Some(msg) if msg.member_id == m.member_id && msg.campaign_id.as_deref() == Some(id.as_str()) => {}
                Some(_) => out.push(format!("{at}: message {mid} is another member's or another campaign's")),
                None => out.push(format!("{at}: message {mid} does not exist")),
            }
        }
    }
    for c in all.values().filter(|c| c.launch_complete) {
        if store.get_raw(TreeId::Meta, &targets_key(&c.id))?.is_some() {
            out.push(format!("campaign {}: launch complete but its frozen target list is still stored", c.id));
        }
    }
    Ok(out)
}

// --- Funnel and report -----------------------------------------------------------------------------

/// One targeted member in the report (`campaign report --members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberOutcome {
    pub member_id: u64,
    pub held_out: bool,
    pub coupon_code: Option<String>,
    pub coupon_used: bool,
    pub message_id: Option<u64>,
    pub message_outcome: Option<String>,
    /// held, requested, delivered, failed (HQ's last status).
    pub message_state: Option<String>,
    pub clicked: bool,
    /// Purchases in the window, and their net fen.
    pub purchases: u64,
    pub revenue_fen: i64,
}

fn outcomes(store: &Store, c: &Campaign) -> Result<(Vec<MemberOutcome>, Vec<FunnelMember>), StoreError> {
    let recs = campaign_members(store, &c.id)?;
    let (start, end) = window(c);
    let msgs = outreach::statuses(store, &c.id)?;
    // Member sales in the window, net of their returns.
    let wanted: std::collections::HashSet<u64> = recs.iter().map(|m| m.member_id).collect();
    let mut refunds: HashMap<u64, i64> = HashMap::new();
    for r in store.scan::<crate::checkout::returns::SaleReturn>(TreeId::Returns) {
        let (_, r) = r?;
        if let Some(sale_id) = r.sale_id {
            *refunds.entry(sale_id).or_default() += r.refund_fen;
        }
    }
    let mut sales: HashMap<u64, Vec<(DateTime<Utc>, i64)>> = HashMap::new();
    if start < end {
        for s in store.scan_rev::<crate::checkout::sale::Sale>(TreeId::Sales) {
            let (_, s) = s?;
            // Sale ids grow with time: a day before the launch ends the walk (clock slack).
            if s.at < start - Duration::days(1) {
                break;
            }
            let Some(m) = s.member_id.filter(|m| wanted.contains(m)) else { continue };
            let net = s.priced.total_fen - refunds.get(&s.id).copied().unwrap_or(0);
            sales.entry(m).or_default().push((s.at, net.max(0)));
        }
    }
    let mut out = Vec::with_capacity(recs.len());
    let mut fm = Vec::with_capacity(recs.len());
    for r in recs {
        let coupon_used = match r.coupon_id {
            Some(id) => coupons::coupon(store, id)?.is_some_and(|cp| matches!(cp.state, coupons::CouponState::Redeemed { at, .. } if at >= start && at < end)),
            None => false,
        };
        let status = r.message_id.and_then(|id| msgs.get(&id).cloned());
        let (state, delivered, clicked) = match &status {
            Some(s) => (Some(s.state.clone()), s.delivered, s.clicked),
            None => (None, false, false),
        };
        let purchases = sales.remove(&r.member_id).unwrap_or_default();
        let in_window: Vec<&(DateTime<Utc>, i64)> = purchases.iter().filter(|(at, _)| *at >= start && *at < end).collect();
        out.push(MemberOutcome {
            member_id: r.member_id,
            held_out: r.held_out,
            coupon_code: r.coupon_code.clone(),
            coupon_used,
            message_id: r.message_id,
            message_outcome: r.message_outcome.clone(),
            message_state: state,
            clicked,
            purchases: in_window.len() as u64,
            revenue_fen: in_window.iter().map(|(_, f)| *f).sum(),
        });
        fm.push(FunnelMember { held_out: r.held_out, delivered, clicked, coupon_used, purchases });
    }
    Ok((out, fm))
}

/// The campaign's window `[launch, launch + response days)`; empty before the launch.
fn window(c: &Campaign) -> (DateTime<Utc>, DateTime<Utc>) {
    match (c.launched_at, c.ends_at) {
        (Some(s), Some(e)) => (s, e),
        _ => (c.created_at, c.created_at),
    }
}

/// The measured funnel of a campaign now.
pub fn funnel(store: &Store, c: &Campaign) -> Result<Funnel, StoreError> {
    let (_, fm) = outcomes(store, c)?;
    let (s, e) = window(c);
    Ok(dc::funnel(&fm, s, e))
}

/// A campaign with its funnel: what `campaign report`, the API and the page show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    pub campaign: Campaign,
    pub funnel: Funnel,
    /// Treated members whose message was not sent, by reason.
    pub messages_skipped: BTreeMap<String, u64>,
    /// Members, with `--members`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberOutcome>,
}

/// The report of one campaign; `with_members` adds one row per targeted member.
pub fn report(store: &Store, id: &str, with_members: bool) -> Result<CampaignReport, CampaignError> {
    let c = load(store, id)?;
    let (members, fm) = outcomes(store, &c)?;
    let (s, e) = window(&c);
    let mut skipped = BTreeMap::new();
    for m in members.iter().filter(|m| !m.held_out && m.message_id.is_none()) {
        if let Some(o) = &m.message_outcome {
            *skipped.entry(o.clone()).or_insert(0) += 1;
        }
    }
    Ok(CampaignReport { funnel: dc::funnel(&fm, s, e), campaign: c, messages_skipped: skipped, members: if with_members { members } else { Vec::new() } })
}

/// Reports of every campaign, newest first.
pub fn reports(store: &Store) -> Result<Vec<CampaignReport>, CampaignError> {
    campaigns(store)?.iter().map(|c| report(store, &c.id, false)).collect()
}

/// CSV columns of [`write_reports_csv`].
pub const REPORT_COLUMNS: [&str; 22] = [
    "campaign_id", "name", "playbook", "state", "launched_at", "ends_at", "holdout_bp", "targeted", "treated", "held_out",
    "reached", "responded", "converted", "revenue_fen", "holdout_converted", "holdout_revenue_fen", "treated_rate",
    "holdout_rate", "uplift", "ci_low", "ci_high", "p_value",
];

/// One row per campaign (UTF-8 with BOM, for Excel); rates as fractions with 4 decimals.
pub fn write_reports_csv<W: Write>(reports: &[CampaignReport], mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(REPORT_COLUMNS)?;
    for r in reports {
        let (c, f) = (&r.campaign, &r.funnel);
        let u = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        let up = f.uplift.as_ref();
        w.write_record([
            c.id.clone(),
            c.name.clone(),
            c.playbook.clone().unwrap_or_default(),
            c.state.as_str().to_string(),
            c.launched_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            c.ends_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            c.holdout_bp.to_string(),
            f.targeted.to_string(),
            f.treated.to_string(),
            f.held_out.to_string(),
            f.reached.to_string(),
            f.responded.to_string(),
            f.converted.to_string(),
            f.revenue_fen.to_string(),
            f.holdout_converted.to_string(),
            f.holdout_revenue_fen.to_string(),
            u(up.map(|u| u.treated_rate)),
            u(up.map(|u| u.holdout_rate)),
            u(up.map(|u| u.uplift)),
            u(up.map(|u| u.ci_low)),
            u(up.map(|u| u.ci_high)),
            u(up.map(|u| u.p_value)),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// CSV columns of [`write_members_csv`].
pub const MEMBER_COLUMNS: [&str; 11] =
    ["campaign_id", "member_id", "held_out", "coupon_code", "coupon_used", "message_id", "message_outcome", "message_state", "clicked", "purchases", "revenue_fen"];

/// One row per targeted member of one campaign (UTF-8 with BOM).
pub fn write_members_csv<W: Write>(r: &CampaignReport, mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(MEMBER_COLUMNS)?;
    for m in &r.members {
        w.write_record([
            r.campaign.id.clone(),
            m.member_id.to_string(),
            m.held_out.to_string(),
            m.coupon_code.clone().unwrap_or_default(),
            m.coupon_used.to_string(),
            m.message_id.map(|v| v.to_string()).unwrap_or_default(),
            m.message_outcome.clone().unwrap_or_default(),
            m.message_state.clone().unwrap_or_default(),
            m.clicked.to_string(),
            m.purchases.to_string(),
            m.revenue_fen.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Parses a campaign file (`storehub campaign create FILE.json`); errors name the file and the
/// field (`offer.coupon.template_id: …`), or the line and column of malformed JSON.
pub fn parse_new_campaign(bytes: &[u8], file_name: &str) -> Result<NewCampaign, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("{file_name}: line {} column {}: not valid JSON: {e}", e.line(), e.column()))?;
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            format!("{file_name}: {}", e.inner())
        } else {
            format!("{file_name}: {path}: {}", e.inner())
        }
    })
}

/// The messages and follow-up tickets of a campaign (`members::messages`, `members::tickets`).
mod outreach {
    use std::collections::{BTreeMap, HashMap};

    use super::{Campaign, CampaignError, CampaignMember, LaunchContext};
    use crate::domain::campaign::PlaybookMessage;
    use crate::domain::message::{Channel, MessageTemplate};
    use crate::members::messages::{self, MessageState, Outgoing, Queued};
    use crate::members::tickets::{self, NewTicket, TicketChannel, TicketKind};
    use crate::store::{CommitError, Store, StoreError, Tx, TxError};

    /// A message's state as the funnel needs it.
    #[derive(Debug, Clone)]
    pub struct Status {
        pub state: String,
        pub delivered: bool,
        pub clicked: bool,
    }

    /// The playbook's message template (WeChat: the text as `first`, the store as `remark`),
    /// created when missing; its id.
    pub fn ensure_playbook_template(store: &Store, m: &PlaybookMessage) -> Result<Option<String>, CampaignError> {
        if messages::template(store, m.template_id)?.is_some() {
            return Ok(Some(m.template_id.to_string()));
        }
        let t = MessageTemplate {
            id: m.template_id.to_string(),
            name: m.name_zh.to_string(),
            channel: Channel::Wechat,
            wechat_template_id: Some(m.template_id.to_string()),
            sms_template_code: None,
            signature: None,
            sms_text: None,
            fields: BTreeMap::from([("first".to_string(), m.text_zh.to_string()), ("remark".to_string(), "{{store}}".to_string())]),
            url: None,
            miniprogram: None,
            extra_vars: Vec::new(),
        };
        messages::upsert_templates(store, &[t]).map_err(|e| match e {
            CommitError::Rejected(e) => CampaignError::Field { field: "message_template_id".into(), message: e.to_string() },
            CommitError::Store(e) => CampaignError::Store(e),
        })?;
        Ok(Some(m.template_id.to_string()))
    }

    /// Opens the campaign's follow-up ticket for a treated member (dormant-experience: the
    /// manager calls them back) and records its id.
    pub fn ticket_tx(tx: &Tx, c: &Campaign, member_id: u64, ctx: &LaunchContext, rec: &mut CampaignMember) -> Result<(), TxError<CampaignError>> {
        if !c.follow_up_ticket {
            return Ok(());
        }
        let subject: String = format!("活动回访：{}", c.name).chars().take(60).collect();
        let new = NewTicket {
            member_id,
            kind: TicketKind::FollowUp,
            channel: TicketChannel::Campaign,
            subject,
            note: None,
            opened_by: "campaign".to_string(),
            campaign_id: Some(c.id.clone()),
        };
        let t = tickets::open_in_tx(tx, &ctx.tickets, tx.now(), &new).map_err(|e| e.map_rejected(|e| CampaignError::Member { member_id, message: e.to_string() }))?;
        rec.ticket_id = Some(t.id);
        Ok(())
    }

    /// Requests the campaign's message for a treated member (gate: consent, de-duplication,
    /// weekly cap, quiet hours) and records the outcome.
    pub fn treat_tx(tx: &Tx, c: &Campaign, member_id: u64, vars: BTreeMap<String, String>, ctx: &LaunchContext, rec: &mut CampaignMember) -> Result<(), TxError<CampaignError>> {
        let Some(template_id) = &c.message_template_id else { return Ok(()) };
        let out = Outgoing { member_id, template_id: template_id.clone(), campaign_id: Some(c.id.clone()), vars };
        let queued = messages::request_in_tx(tx, &ctx.messages, tx.now(), &out)
            .map_err(|e| e.map_rejected(|e| CampaignError::Member { member_id, message: e.to_string() }))?;
        rec.message_id = queued.message_id();
        rec.message_outcome = Some(
            match queued {
                Queued::Requested { .. } => "requested",
                Queued::Held { .. } => "held",
                Queued::Skipped { reason } => reason.as_str(),
            }
            .to_string(),
        );
        Ok(())
    }

    /// The campaign's messages by id.
    pub fn statuses(store: &Store, campaign_id: &str) -> Result<HashMap<u64, Status>, StoreError> {
        Ok(messages::campaign_messages(store, campaign_id)?
            .into_iter()
            .map(|m| {
                let clicked = m.clicked_at.is_some();
                (m.id, Status { state: m.state.as_str().to_string(), delivered: m.state == MessageState::Delivered || clicked, clicked })
            })
            .collect())
    }
}

#[cfg(test)]
mod bought_but_never_tests {
    use super::*;

    /// A version 1 campaign (no `bought_but_never` in its target) reads back with `None` there
    /// and every other field as written.
    #[test]
    fn a_version_1_campaign_upgrades() {
        let at: DateTime<Utc> = "2026-11-01T02:00:00Z".parse().unwrap();
        let c = Campaign {
            id: "c1".into(),
            name: "唤醒".into(),
            playbook: Some("dormant-natural".into()),
            target: Target { segments: vec!["hibernating".into()], filter: dc::Filter { days_since_last_min: Some(60), ..Default::default() }, ..Target::default() },
            offer: Offer::MessageOnly,
            message_template_id: Some("t1".into()),
            follow_up_ticket: true,
            start_at: None,
            holdout_bp: 1000,
            response_days: 14,
            state: CampaignState::Draft,
            created_at: at,
            launched_at: None,
            launch_complete: false,
            ends_at: None,
            finished_at: None,
            targeted: 3,
        };
        let v2 = postcard::to_allocvec(&c).unwrap();
        let t = &c.target;
        let head = postcard::to_allocvec(&(&c.id, &c.name, &c.playbook, &t.segments, &t.tags, &t.dormant_reasons, &t.tiers, &t.filter)).unwrap();
        assert_eq!(v2[head.len()], 0, "the None of bought_but_never follows the filter");
        let mut v1 = v2.clone();
        v1.remove(head.len());
        assert_eq!(Campaign::upgrade(1, &v1).unwrap(), c);
    }
}
