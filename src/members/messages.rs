//! Member messages (WeChat template messages and SMS) sent through HQ: the stored templates, the
//! gate every message passes (consent per channel, one campaign per member once, the weekly cap,
//! quiet hours), the stored [`Message`] and its state as HQ reports it (`message.status`).
//!
//! The box holds no WeChat or SMS secrets and never sends itself: a message that passes the gate
//! becomes a `storehub.message.requested` event in the outbox, in the same commit as the stored
//! message. The event carries the member id and card number, never the phone number (HQ resolves
//! the contact); rendered text may hold the salutation (surname + 先生/女士), never the full name,
//! phone or birthday. Rendering, the quiet window and the cap are pure (`domain::message`).
//!
//! Keys: `Messages` message id → [`Message`]; `MessagesByMember` member id ++ message id → ()
//! (a member's messages), member id ++ `#campaign#` ++ campaign id → message id (de-duplication),
//! member id ++ `#recent#log` → the times of the member's messages of the last 7 days (the cap;
//! a `Tx` has point reads only); `meta` `message_held/` ++ until (ms, BE) ++ message id → ()
//! (held messages in release order).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock;
use crate::domain::message as pure;
use crate::json_import::{self, check_id, check_name, unknown_keys, FieldError, JsonFileReport, JsonRecord};
use crate::members::{Gender, Member};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub use crate::domain::message::{Channel, MessageTemplate, MiniProgramPage, Rendered};

/// A message passed the gate and HQ is asked to send it (data: [`MessageRequested`]).
pub const EVENT_REQUESTED: &str = "storehub.message.requested";
/// HQ reported a message delivered, failed or clicked (data: [`MessageStatusChanged`]).
pub const EVENT_STATUS_CHANGED: &str = "storehub.message.status_changed";

const CAMPAIGN_TAG: &[u8] = b"#campaign#";
const RECENT_TAG: &[u8] = b"#recent#log";
const HELD_PREFIX: &[u8] = b"message_held/";
/// Held messages released per commit (a night's campaign of thousands costs a few syncs).
const RELEASE_BATCH: usize = 500;

/// What the caller wants sent. `vars` adds/overrides template variables (e.g. "coupon" => "满200减50",
/// "coupon_code" => "990000000123"); the member's own variables (name, tier, points, expiring points and
/// date, store) are filled by messages itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub member_id: u64,
    pub template_id: String,
    pub campaign_id: Option<String>,
    pub vars: BTreeMap<String, String>,
}

/// What became of an [`Outgoing`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Queued {
    /// `storehub.message.requested` emitted in this transaction.
    Requested { message_id: u64 },
    /// Quiet hours: stored, released (event emitted) by `release_due` at `until`.
    Held { message_id: u64, until: DateTime<Utc> },
    /// Not sent; nothing stored.
    Skipped { reason: SkipReason },
}

impl Queued {
    /// The stored message, if any.
    pub fn message_id(&self) -> Option<u64> {
        match self {
            Queued::Requested { message_id } | Queued::Held { message_id, .. } => Some(*message_id),
            Queued::Skipped { .. } => None,
        }
    }
}

/// Why a message was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The member has not consented to this channel (or withdrew).
    NoConsent,
    /// The member already had `[messages].weekly_cap` messages in the last 7 × 24 h.
    FrequencyCap,
    /// The member already has a message of this campaign.
    AlreadySent,
    /// No way to reach the member on this channel (SMS without a phone number).
    NoContact,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NoConsent => "no_consent",
            SkipReason::FrequencyCap => "frequency_cap",
            SkipReason::AlreadySent => "already_sent",
            SkipReason::NoContact => "no_contact",
        }
    }
}

/// The message rules from config `[messages]` and `[store]` (time zone, store name) and the tier
/// names of `[[loyalty.tiers]]` (for `{{tier}}`). Build it with [`MessageRules::from_config`].
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRules {
    pub quiet_start: NaiveTime,
    pub quiet_end: NaiveTime,
    pub weekly_cap: u32,
    pub tz: chrono_tz::Tz,
    /// `{{store}}`.
    pub store_name: String,
    /// Tier id → zh-CN name, for `{{tier}}`.
    pub tier_names: BTreeMap<String, String>,
}

impl Default for MessageRules {
    /// `[messages]` defaults in Asia/Shanghai, no store name, no tiers (a CLI run without config).
    fn default() -> Self {
        let d = crate::config::MessagesConfig::default();
        MessageRules {
            quiet_start: d.quiet_start,
            quiet_end: d.quiet_end,
            weekly_cap: d.weekly_cap,
            tz: chrono_tz::Asia::Shanghai,
            store_name: String::new(),
            tier_names: BTreeMap::new(),
        }
    }
}

impl MessageRules {
    pub fn from_config(cfg: &crate::config::Config) -> MessageRules {
        MessageRules {
            quiet_start: cfg.messages.quiet_start,
            quiet_end: cfg.messages.quiet_end,
            weekly_cap: cfg.messages.weekly_cap,
            tz: cfg.timezone(),
            store_name: cfg.store.name.clone(),
            tier_names: cfg.loyalty.tiers.iter().map(|t| (t.id.as_str().to_string(), t.name_zh.clone())).collect(),
        }
    }

    /// The UTC instant of shop-local `local` (the earlier one on a DST fold, an hour later in a gap).
    fn to_utc(&self, local: chrono::NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local).earliest() {
            Some(t) => t.with_timezone(&Utc),
            None => self
                .tz
                .from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
                .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc)),
        }
    }
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting for the end of the quiet hours; HQ does not know it yet.
    Held,
    /// In the outbox for HQ (or sent by HQ, no report yet).
    Requested,
    Delivered,
    Failed,
}

impl MessageState {
    pub const ALL: [MessageState; 4] =
        [MessageState::Held, MessageState::Requested, MessageState::Delivered, MessageState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Held => "held",
            MessageState::Requested => "requested",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<MessageState> {
        MessageState::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One stored message. `clicked_at` is independent of the state (a delivered message can be clicked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub member_id: u64,
    pub template_id: String,
    pub campaign_id: Option<String>,
    pub channel: Channel,
    pub state: MessageState,
    /// HQ's reason when failed.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub requested_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub clicked_at: Option<DateTime<Utc>>,
    /// The text as previewed (WeChat fields one per line; SMS with its 【signature】).
    pub rendered: String,
    /// The member's card number (what HQ's event consumers key on besides the id).
    pub card_number: String,
    /// WeChat template id or SMS template code at the vendor.
    pub vendor_template: String,
    pub signature: Option<String>,
    /// Rendered WeChat fields or SMS params, in reading order.
    pub fields: Vec<(String, String)>,
    pub url: Option<String>,
    pub miniprogram: Option<MiniProgramPage>,
    /// SMS segments (1 for WeChat).
    pub segments: u32,
    /// Set while held: when the quiet hours end.
    pub held_until: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
}

impl Record for Message {
    const NAME: &'static str = "message";
}

/// Data of `storehub.message.requested`. No phone number: HQ resolves the contact from the
/// member id. `fields` may hold the salutation (surname + 先生/女士), never the full name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRequested {
    pub message_id: u64,
    pub member_id: u64,
    pub card_number: String,
    pub channel: Channel,
    pub template_id: String,
    /// WeChat only.
    pub wechat_template_id: Option<String>,
    /// SMS only.
    pub sms_template_code: Option<String>,
    /// SMS only.
    pub signature: Option<String>,
    /// WeChat fields (`first`, `keyword1`…, `remark`) or SMS params, rendered.
    pub fields: BTreeMap<String, String>,
    pub url: Option<String>,
    pub miniprogram: Option<MiniProgramPage>,
    pub campaign_id: Option<String>,
    /// SMS segments (1 for WeChat).
    pub segments: u32,
}

impl MessageRequested {
    pub fn of(m: &Message) -> MessageRequested {
        let (wechat, sms) = match m.channel {
            Channel::Wechat => (Some(m.vendor_template.clone()), None),
            Channel::Sms => (None, Some(m.vendor_template.clone())),
        };
        MessageRequested {
            message_id: m.id,
            member_id: m.member_id,
            card_number: m.card_number.clone(),
            channel: m.channel,
            template_id: m.template_id.clone(),
            wechat_template_id: wechat,
            sms_template_code: sms,
            signature: m.signature.clone(),
            fields: m.fields.iter().cloned().collect(),
            url: m.url.clone(),
            miniprogram: m.miniprogram.clone(),
            campaign_id: m.campaign_id.clone(),
            segments: m.segments,
        }
    }
}

/// A status HQ reports (`message.status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StatusReport {
    Delivered,
    Failed { reason: String },
    Clicked,
}

impl StatusReport {
    pub fn as_str(&self) -> &'static str {
        match self {
            StatusReport::Delivered => "delivered",
            StatusReport::Failed { .. } => "failed",
            StatusReport::Clicked => "clicked",
        }
    }
}

/// Data of `storehub.message.status_changed` (HQ's free-text failure reason stays on the hub).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatusChanged {
    pub message_id: u64,
    pub member_id: u64,
    pub campaign_id: Option<String>,
    /// What HQ reported: delivered, failed or clicked.
    pub status: String,
    /// The message's state after it.
    pub state: MessageState,
    pub clicked: bool,
    pub at: DateTime<Utc>,
}

/// Why a message operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("no message template {0:?}; see `storehub message templates list`")]
    UnknownTemplate(String),
    #[error("no member {0}")]
    UnknownMember(u64),
    #[error("template {template:?}: {field}: {message}")]
    Render { template: String, field: String, message: String },
    #[error("template [{index}] {id:?}: {field}: {message}")]
    InvalidTemplate { index: usize, id: String, field: String, message: String },
    #[error("no templates given")]
    NoTemplates,
    #[error("template {id:?} is used by {messages} stored message(s); it cannot be removed (import a changed version instead)")]
    TemplateInUse { id: String, messages: u64 },
    #[error("message_id: no message {0} on this hub")]
    UnknownMessage(u64),
    #[error("{field}: {message}")]
    Status { field: &'static str, message: String },
}

fn reject<T>(e: MessageError) -> Result<T, TxError<MessageError>> {
    Err(TxError::Rejected(e))
}

// --- templates -----------------------------------------------------------------------------------

/// A stored template and how many messages used it (a used template cannot be removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub template: MessageTemplate,
    pub used: u64,
    pub updated_at: DateTime<Utc>,
}

impl Record for TemplateRecord {
    const NAME: &'static str = "message template";
}

/// Checks a template: id and name as keys and labels, then its content (`domain::message`).
pub fn check_template(t: &MessageTemplate) -> Result<(), FieldError> {
    check_id(&t.id)?;
    check_name("name", &t.name)?;
    t.check_content().map_err(|f| FieldError::new(f.field, f.message))
}

impl JsonRecord for MessageTemplate {
    const WHAT: &'static str = "message template";

    fn id(&self) -> &str {
        &self.id
    }

    fn unknown_fields(value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let top = [
            "id",
            "name",
            "channel",
            "wechat_template_id",
            "sms_template_code",
            "signature",
            "sms_text",
            "fields",
            "url",
            "miniprogram",
            "extra_vars",
        ];
        unknown_keys(value, &top, "", &mut out);
        if let Some(mp) = value.get("miniprogram") {
            unknown_keys(mp, &["appid", "pagepath"], "miniprogram.", &mut out);
        }
        out
    }

    fn check(&self) -> Result<(), FieldError> {
        check_template(self)
    }
}

/// Reads a template file (one object or an array); errors name file, index, id and field.
pub fn parse_templates_json(bytes: &[u8], file_name: &str) -> Result<Vec<MessageTemplate>, JsonFileReport> {
    json_import::parse_records(bytes, file_name)
}

/// Inserts or replaces one template inside `tx`; true when it changed.
pub fn upsert_template_in_tx(tx: &Tx, t: &MessageTemplate) -> Result<bool, TxError<MessageError>> {
    upsert_templates_in_tx(tx, std::slice::from_ref(t)).map(|n| n > 0)
}

/// Inserts or replaces templates inside `tx`, all checked first (one bad → refused). Returns how
/// many changed. A template keeps its use count.
pub fn upsert_templates_in_tx(tx: &Tx, templates: &[MessageTemplate]) -> Result<usize, TxError<MessageError>> {
    if templates.is_empty() {
        return reject(MessageError::NoTemplates);
    }
    for (index, t) in templates.iter().enumerate() {
        check_template(t).map_err(|e| {
            TxError::Rejected(MessageError::InvalidTemplate { index, id: t.id.clone(), field: e.field, message: e.message })
        })?;
    }
    let mut changed = 0;
    for t in templates {
        let old: Option<TemplateRecord> = tx.get(TreeId::MessageTemplates, t.id.as_bytes())?;
        if old.as_ref().is_some_and(|o| o.template == *t) {
            continue;
        }
        let used = old.map_or(0, |o| o.used);
        tx.put(TreeId::MessageTemplates, t.id.as_bytes(), &TemplateRecord { template: t.clone(), used, updated_at: tx.now() })?;
        changed += 1;
    }
    Ok(changed)
}

/// Inserts or replaces templates in one commit: all or nothing.
pub fn upsert_templates(store: &Store, templates: &[MessageTemplate]) -> Result<usize, CommitError<MessageError>> {
    store.commit(|tx| upsert_templates_in_tx(tx, templates))
}

/// The template with this id.
pub fn template(store: &Store, id: &str) -> Result<Option<MessageTemplate>, StoreError> {
    Ok(store.get::<TemplateRecord>(TreeId::MessageTemplates, id.as_bytes())?.map(|r| r.template))
}

/// Every template with its use count, in id order.
pub fn templates(store: &Store) -> Result<Vec<TemplateRecord>, StoreError> {
    store.scan::<TemplateRecord>(TreeId::MessageTemplates).map(|r| r.map(|(_, t)| t)).collect()
}

/// Removes a template no stored message used.
pub fn remove_template(store: &Store, id: &str) -> Result<MessageTemplate, CommitError<MessageError>> {
    store.commit(|tx| {
        let Some(rec) = tx.get::<TemplateRecord, MessageError>(TreeId::MessageTemplates, id.as_bytes())? else {
            return reject(MessageError::UnknownTemplate(id.to_string()));
        };
        if rec.used > 0 {
            return reject(MessageError::TemplateInUse { id: id.to_string(), messages: rec.used });
        }
        tx.remove::<MessageError>(TreeId::MessageTemplates, id.as_bytes())?;
        Ok(rec.template)
    })
}

// --- member variables and preview -----------------------------------------------------------------

/// The variables of one member on shop-local `today`: `name` (salutation), `tier`, `points`,
/// `expiring_points` and `expiring_date` (the member's next expiring lot; 0 and 无 when none),
/// `store`.
pub fn member_vars(m: &Member, rules: &MessageRules, today: NaiveDate) -> BTreeMap<String, String> {
    let male = m.gender.map(|g| g == Gender::Male);
    let tier = rules.tier_names.get(&m.tier).cloned().unwrap_or_else(|| "会员".to_string());
    let next_expiry = m.lots.iter().filter(|l| l.remaining > 0).filter_map(|l| l.expires_on).filter(|d| *d >= today).min();
    let (exp_points, exp_date) = match next_expiry {
        Some(d) => {
            let pts: i64 = m.lots.iter().filter(|l| l.expires_on == Some(d)).map(|l| l.remaining).sum();
            (pts.to_string(), zh_date(d))
        }
        None => ("0".to_string(), "无".to_string()),
    };
    [
        ("name", pure::salutation(&m.name, male)),
        ("tier", tier),
        ("points", m.points.to_string()),
        ("expiring_points", exp_points),
        ("expiring_date", exp_date),
        ("store", rules.store_name.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `2026年12月31日`.
pub fn zh_date(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// The variables of the sample member a preview without `--member` uses (张先生, the first
/// tier, 1280 points, 300 expiring in 30 days, coupon 满200减50), plus `[extra]` for each extra
/// variable of the template.
pub fn sample_vars(t: &MessageTemplate, rules: &MessageRules, today: NaiveDate) -> BTreeMap<String, String> {
    let tier = rules.tier_names.values().next().cloned().unwrap_or_else(|| "会员".to_string());
    let mut v: BTreeMap<String, String> = [
        ("name", "张先生".to_string()),
        ("tier", tier),
        ("points", "1280".to_string()),
        ("expiring_points", "300".to_string()),
        ("expiring_date", zh_date(today + chrono::Duration::days(30))),
        ("coupon", "满200减50".to_string()),
        ("coupon_code", "990000001233".to_string()),
        ("store", rules.store_name.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for extra in &t.extra_vars {
        v.insert(extra.clone(), format!("[{extra}]"));
    }
    v
}

/// A template rendered for a member or the sample member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub template_id: String,
    pub channel: Channel,
    /// The member previewed; `None` = the sample member.
    pub member_id: Option<u64>,
    #[serde(flatten)]
    pub rendered: Rendered,
}

/// Renders `template_id` for `member_id` (or the sample member) with `vars` on top. A preview
/// of a real member without a coupon shows 满200减50 for `{{coupon}}` unless `vars` gives one.
pub fn preview(
    store: &Store,
    rules: &MessageRules,
    now: DateTime<Utc>,
    template_id: &str,
    member_id: Option<u64>,
    vars: &BTreeMap<String, String>,
) -> Result<Preview, CommitError<MessageError>> {
    let t = template(store, template_id)?.ok_or_else(|| CommitError::Rejected(MessageError::UnknownTemplate(template_id.to_string())))?;
    let today = clock::local(now, rules.tz).date();
    let mut all = sample_vars(&t, rules, today);
    if let Some(id) = member_id {
        let m = crate::members::member(store, id)?.ok_or(CommitError::Rejected(MessageError::UnknownMember(id)))?;
        all.extend(member_vars(&m, rules, today));
    }
    all.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let rendered = t.render(&all).map_err(|f| {
        CommitError::Rejected(MessageError::Render { template: t.id.clone(), field: f.field, message: f.message })
    })?;
    Ok(Preview { template_id: t.id, channel: t.channel, member_id, rendered })
}

// --- keys ------------------------------------------------------------------------------------------

fn index_key(member_id: u64, message_id: u64) -> Vec<u8> {
    let mut k = codec::u64_key(member_id).to_vec();
    k.extend_from_slice(&codec::u64_key(message_id));
    k
}

fn campaign_key(member_id: u64, campaign_id: &str) -> Vec<u8> {
    let mut k = codec::u64_key(member_id).to_vec();
    k.extend_from_slice(CAMPAIGN_TAG);
    k.extend_from_slice(campaign_id.as_bytes());
    k
}

fn recent_key(member_id: u64) -> Vec<u8> {
    let mut k = codec::u64_key(member_id).to_vec();
    k.extend_from_slice(RECENT_TAG);
    k
}

/// Member merge (`members::merge`): moves one `MessagesByMember` key of a member to member
/// `into` inside the caller's commit. An index key moves with its message, whose member becomes
/// `into`; a campaign mark is set for `into` (so a campaign reaches the person once); the recent
/// log joins `into`'s (the weekly cap counts both). Returns whether a message moved.
pub(crate) fn move_member_key_tx<E>(tx: &Tx, key: &[u8], into: u64) -> Result<bool, TxError<E>> {
    let Some(rest) = key.get(8..) else { return Ok(false) };
    let mut moved = codec::u64_key(into).to_vec();
    moved.extend_from_slice(rest);
    if let Some(id) = message_of_index_key(key) {
        let mut m = tx
            .get::<Message, E>(TreeId::Messages, &codec::u64_key(id))?
            .ok_or_else(|| TxError::Store(StoreError::Corrupt(format!("message index names missing message {id}"))))?;
        m.member_id = into;
        tx.put(TreeId::Messages, &codec::u64_key(id), &m)?;
        tx.remove(TreeId::MessagesByMember, key)?;
        tx.put_raw(TreeId::MessagesByMember, &moved, &[])?;
        return Ok(true);
    }
    if rest == RECENT_TAG {
        let from = tx.get::<RecentLog, E>(TreeId::MessagesByMember, key)?.unwrap_or_default();
        let mut log = tx.get::<RecentLog, E>(TreeId::MessagesByMember, &moved)?.unwrap_or_default();
        log.sent.extend(from.sent);
        log.sent.sort();
        tx.remove(TreeId::MessagesByMember, key)?;
        tx.put(TreeId::MessagesByMember, &moved, &log)?;
        return Ok(false);
    }
    let value = tx.get_raw::<E>(TreeId::MessagesByMember, key)?.unwrap_or_default();
    tx.remove(TreeId::MessagesByMember, key)?;
    if tx.get_raw::<E>(TreeId::MessagesByMember, &moved)?.is_none() {
        tx.put_raw(TreeId::MessagesByMember, &moved, &value)?;
    }
    Ok(false)
}

/// The message id of a `MessagesByMember` index key, `None` for the tagged keys.
fn message_of_index_key(key: &[u8]) -> Option<u64> {
    if key.len() != 16 || key[8] == b'#' {
        return None;
    }
    codec::key_u64(&key[8..]).ok()
}

fn held_key(until: DateTime<Utc>, message_id: u64) -> Vec<u8> {
    let mut k = HELD_PREFIX.to_vec();
    // Times after 1970 only (a message is created now); clamped so the order stays numeric.
    k.extend_from_slice(&u64::try_from(until.timestamp_millis()).unwrap_or(0).to_be_bytes());
    k.extend_from_slice(&codec::u64_key(message_id));
    k
}

/// When the member's recent messages were requested or held (for the weekly cap).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
struct RecentLog {
    sent: Vec<DateTime<Utc>>,
}

impl Record for RecentLog {
    const NAME: &'static str = "member message log";
}

// --- the gate ------------------------------------------------------------------------------------

/// Checks consent (channel of the template), de-duplication (campaign_id + member), weekly cap (messages
/// to this member requested/held in the 7 days before `now`, any campaign), quiet hours; stores the
/// Message and its index; emits `storehub.message.requested` unless held. Errors: unknown template,
/// unknown member, a template that does not render for this member (TxError::Rejected(MessageError::…)).
pub fn request_in_tx(tx: &Tx, rules: &MessageRules, now: DateTime<Utc>, out: &Outgoing) -> Result<Queued, TxError<MessageError>> {
    let Some(mut rec) = tx.get::<TemplateRecord, MessageError>(TreeId::MessageTemplates, out.template_id.as_bytes())? else {
        return reject(MessageError::UnknownTemplate(out.template_id.clone()));
    };
    let Some(member) = tx.get::<Member, MessageError>(TreeId::Members, &codec::u64_key(out.member_id))? else {
        return reject(MessageError::UnknownMember(out.member_id));
    };
    let t = &rec.template;
    let consent = match t.channel {
        Channel::Sms => member.consent.sms,
        Channel::Wechat => member.consent.wechat,
    };
    if consent.is_none() {
        return Ok(Queued::Skipped { reason: SkipReason::NoConsent });
    }
    if t.channel == Channel::Sms && member.phone.trim().is_empty() {
        return Ok(Queued::Skipped { reason: SkipReason::NoContact });
    }
    if let Some(c) = &out.campaign_id {
        if tx.get_raw::<MessageError>(TreeId::MessagesByMember, &campaign_key(member.id, c))?.is_some() {
            return Ok(Queued::Skipped { reason: SkipReason::AlreadySent });
        }
    }
    let mut log: RecentLog = tx.get(TreeId::MessagesByMember, &recent_key(member.id))?.unwrap_or_default();
    log.sent.retain(|at| *at > now - pure::cap_window());
    if pure::over_weekly_cap(&log.sent, now, rules.weekly_cap) {
        return Ok(Queued::Skipped { reason: SkipReason::FrequencyCap });
    }
    let local = clock::local(now, rules.tz);
    let mut vars = member_vars(&member, rules, local.date());
    vars.extend(out.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let rendered = t.render(&vars).map_err(|f| {
        TxError::Rejected(MessageError::Render { template: t.id.clone(), field: f.field, message: f.message })
    })?;
    let card_number = member
        .card_number()
        .map_err(|e| TxError::Rejected(MessageError::Status { field: "member_id", message: e.to_string() }))?;
    let held_until = pure::quiet_until(local, rules.quiet_start, rules.quiet_end).map(|l| rules.to_utc(l));
    let id = tx.next_seq::<MessageError>(TreeId::Messages)?;
    let message = Message {
        id,
        member_id: member.id,
        template_id: t.id.clone(),
        campaign_id: out.campaign_id.clone(),
        channel: t.channel,
        state: if held_until.is_some() { MessageState::Held } else { MessageState::Requested },
        failure: None,
        created_at: now,
        requested_at: if held_until.is_some() { None } else { Some(now) },
        delivered_at: None,
        clicked_at: None,
        rendered: rendered.text.clone(),
        card_number,
        vendor_template: t.vendor_template().to_string(),
        signature: t.signature.clone(),
        fields: rendered.fields,
        url: t.url.clone(),
        miniprogram: t.miniprogram.clone(),
        segments: rendered.segments,
        held_until,
        failed_at: None,
    };
    tx.put(TreeId::Messages, &codec::u64_key(id), &message)?;
    tx.put_raw(TreeId::MessagesByMember, &index_key(member.id, id), &[])?;
    if let Some(c) = &out.campaign_id {
        tx.put_raw(TreeId::MessagesByMember, &campaign_key(member.id, c), &codec::u64_key(id))?;
    }
    log.sent.push(now);
    tx.put(TreeId::MessagesByMember, &recent_key(member.id), &log)?;
    rec.used += 1;
    tx.put(TreeId::MessageTemplates, rec.template.id.as_bytes(), &rec)?;
    match held_until {
        Some(until) => {
            tx.put_raw(TreeId::Meta, &held_key(until, id), &[])?;
            Ok(Queued::Held { message_id: id, until })
        }
        None => {
            tx.emit(EVENT_REQUESTED, Some(&id.to_string()), &MessageRequested::of(&message))?;
            Ok(Queued::Requested { message_id: id })
        }
    }
}

/// `request_in_tx` in its own commit (a one-off message: `storehub message send`).
pub fn request(store: &Store, rules: &MessageRules, out: &Outgoing) -> Result<Queued, CommitError<MessageError>> {
    store.commit(|tx| request_in_tx(tx, rules, tx.now(), out))
}

/// Releases held messages whose time came (emits their events), up to 500 per commit. Idempotent.
/// The daemon calls it each minute. A member who withdrew the channel's consent while the message was held gets nothing:
/// the message fails with reason "consent withdrawn while held".
pub fn release_due(store: &Store, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut due = Vec::new();
    for key in store.keys_with_prefix(TreeId::Meta, HELD_PREFIX) {
        let key = key?;
        let rest = &key[HELD_PREFIX.len()..];
        if rest.len() != 16 {
            continue;
        }
        let until_ms = codec::key_u64(&rest[..8])?;
        if i64::try_from(until_ms).unwrap_or(i64::MAX) > now.timestamp_millis() {
            break; // keys are in release order
        }
        due.push((key.clone(), codec::key_u64(&rest[8..])?));
    }
    let mut released = 0;
    for batch in due.chunks(RELEASE_BATCH) {
        let r = store.commit(|tx| {
            let mut n = 0;
            for (key, id) in batch {
                n += usize::from(release_one(tx, key, *id, now)?);
            }
            Ok::<_, TxError<std::convert::Infallible>>(n)
        });
        released += r.map_err(CommitError::into_store)?;
    }
    Ok(released)
}

/// Releases one held message inside `tx`: true when its event was emitted.
fn release_one(tx: &Tx, key: &[u8], id: u64, now: DateTime<Utc>) -> Result<bool, TxError<std::convert::Infallible>> {
    if tx.get_raw(TreeId::Meta, key)?.is_none() {
        return Ok(false); // released meanwhile
    }
    tx.remove(TreeId::Meta, key)?;
    let Some(mut m) = tx.get::<Message, _>(TreeId::Messages, &codec::u64_key(id))? else {
        return Ok(false);
    };
    if m.state != MessageState::Held {
        return Ok(false);
    }
    let member: Option<Member> = tx.get(TreeId::Members, &codec::u64_key(m.member_id))?;
    let consent = member.and_then(|mm| match m.channel {
        Channel::Sms => mm.consent.sms,
        Channel::Wechat => mm.consent.wechat,
    });
    m.held_until = None;
    if consent.is_none() {
        m.state = MessageState::Failed;
        m.failure = Some("consent withdrawn while held".to_string());
        m.failed_at = Some(now);
        tx.put(TreeId::Messages, &codec::u64_key(id), &m)?;
        return Ok(false);
    }
    m.state = MessageState::Requested;
    m.requested_at = Some(now);
    tx.put(TreeId::Messages, &codec::u64_key(id), &m)?;
    tx.emit(EVENT_REQUESTED, Some(&id.to_string()), &MessageRequested::of(&m))?;
    Ok(true)
}

// --- status from HQ ------------------------------------------------------------------------------

/// Applies HQ's report about message `id` inside `tx` at `at`. Returns `None` when the message
/// already was in that state (a repeat: nothing written), else the changed message, with
/// `storehub.message.status_changed` emitted.
///
/// Rules: delivered: requested or failed → delivered (a failed then delivered report is HQ's
/// retry succeeding). failed: requested → failed; refused after delivered (a delivered message
/// cannot fail). clicked: sets `clicked_at` once; a requested message becomes delivered (a click
/// proves delivery); refused on a failed message. Every report on a held message is refused: HQ
/// has not been asked yet.
pub fn apply_status_in_tx(
    tx: &Tx,
    id: u64,
    report: &StatusReport,
    at: DateTime<Utc>,
) -> Result<Option<Message>, TxError<MessageError>> {
    let Some(mut m) = tx.get::<Message, MessageError>(TreeId::Messages, &codec::u64_key(id))? else {
        return reject(MessageError::UnknownMessage(id));
    };
    let refuse = |message: String| reject(MessageError::Status { field: "status", message });
    if m.state == MessageState::Held {
        return refuse(format!("message {id} is held for quiet hours and was not requested yet"));
    }
    match (report, m.state) {
        (StatusReport::Delivered, MessageState::Delivered) => return Ok(None),
        (StatusReport::Delivered, _) => {
            m.state = MessageState::Delivered;
            m.delivered_at = Some(at);
        }
        (StatusReport::Failed { .. }, MessageState::Failed) => return Ok(None),
        (StatusReport::Failed { .. }, MessageState::Delivered) => {
            return refuse(format!("message {id} was already reported delivered; a delivered message cannot fail"));
        }
        (StatusReport::Failed { reason }, _) => {
            m.state = MessageState::Failed;
            m.failure = Some(reason.clone());
            m.failed_at = Some(at);
        }
        (StatusReport::Clicked, _) if m.clicked_at.is_some() => return Ok(None),
        (StatusReport::Clicked, MessageState::Failed) => {
            return refuse(format!("message {id} failed; it cannot have been clicked"));
        }
        (StatusReport::Clicked, _) => {
            if m.state == MessageState::Requested {
                m.state = MessageState::Delivered;
                m.delivered_at = Some(at);
            }
            m.clicked_at = Some(at);
        }
    }
    tx.put(TreeId::Messages, &codec::u64_key(id), &m)?;
    tx.emit(
        EVENT_STATUS_CHANGED,
        Some(&id.to_string()),
        &MessageStatusChanged {
            message_id: id,
            member_id: m.member_id,
            campaign_id: m.campaign_id.clone(),
            status: report.as_str().to_string(),
            state: m.state,
            clicked: m.clicked_at.is_some(),
            at,
        },
    )?;
    Ok(Some(m))
}

// --- invariants (verify) -------------------------------------------------------------------------

/// What `storehub verify` checks of messages: every message indexed under its member (and its
/// campaign), held exactly when a `message_held/` entry names it, every index entry naming a
/// message of that member, templates' use counts covering their messages.
pub fn check(store: &Store) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut held_keys = std::collections::BTreeSet::new();
    for key in store.keys_with_prefix(TreeId::Meta, HELD_PREFIX) {
        held_keys.insert(key?);
    }
    let mut per_template: BTreeMap<String, u64> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for r in store.scan::<Message>(TreeId::Messages) {
        let (_, m) = r?;
        ids.insert((m.member_id, m.id));
        *per_template.entry(m.template_id.clone()).or_default() += 1;
        if store.get_raw(TreeId::MessagesByMember, &index_key(m.member_id, m.id))?.is_none() {
            out.push(format!("message {}: not indexed under member {}", m.id, m.member_id));
        }
        if let Some(c) = &m.campaign_id {
            if store.get_raw(TreeId::MessagesByMember, &campaign_key(m.member_id, c))?.is_none() {
                out.push(format!("message {}: campaign {c:?} not recorded for member {}", m.id, m.member_id));
            }
        }
        let held = m.held_until.map(|u| held_key(u, m.id));
        match (m.state, held) {
            (MessageState::Held, Some(k)) => {
                if !held_keys.remove(&k) {
                    out.push(format!("message {}: held but not in the release index", m.id));
                }
            }
            (MessageState::Held, None) => out.push(format!("message {}: held without a release time", m.id)),
            (_, Some(_)) => out.push(format!("message {}: {} but still has a release time", m.id, m.state.as_str())),
            (_, None) => {}
        }
    }
    for k in held_keys {
        let id = k.get(HELD_PREFIX.len() + 8..).and_then(|b| codec::key_u64(b).ok()).unwrap_or(0);
        out.push(format!("release index names message {id}, which is not held"));
    }
    for key in store.keys_with_prefix(TreeId::MessagesByMember, b"") {
        let key = key?;
        if let (Some(id), Ok(member)) = (message_of_index_key(&key), codec::key_u64(&key[..8.min(key.len())])) {
            if !ids.contains(&(member, id)) {
                out.push(format!("member {member}: index names message {id}, which is not theirs or does not exist"));
            }
        }
    }
    for t in templates(store)? {
        let n = per_template.get(&t.template.id).copied().unwrap_or(0);
        if t.used < n {
            out.push(format!("message template {:?}: use count {} but {n} messages use it", t.template.id, t.used));
        }
    }
    Ok(out)
}

// --- reading -------------------------------------------------------------------------------------

pub fn message(store: &Store, id: u64) -> Result<Option<Message>, StoreError> {
    store.get(TreeId::Messages, &codec::u64_key(id))
}

/// The message with this id, inside a commit.
pub fn message_tx<E>(tx: &Tx, id: u64) -> Result<Option<Message>, TxError<E>> {
    tx.get(TreeId::Messages, &codec::u64_key(id))
}

/// Every message of one campaign (a scan of Messages filtered by campaign_id), oldest first.
pub fn campaign_messages(store: &Store, campaign_id: &str) -> Result<Vec<Message>, StoreError> {
    let mut out = Vec::new();
    for r in store.scan::<Message>(TreeId::Messages) {
        let (_, m) = r?;
        if m.campaign_id.as_deref() == Some(campaign_id) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Every message of one member, oldest first.
pub fn member_messages(store: &Store, member_id: u64) -> Result<Vec<Message>, StoreError> {
    let mut out = Vec::new();
    for key in store.keys_with_prefix(TreeId::MessagesByMember, &codec::u64_key(member_id)) {
        if let Some(id) = message_of_index_key(&key?) {
            if let Some(m) = message(store, id)? {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// Which messages `list` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFilter {
    pub member_id: Option<u64>,
    pub campaign_id: Option<String>,
    pub state: Option<MessageState>,
    /// At most this many, newest first (0 = all).
    pub limit: usize,
}

/// Messages matching `f`, newest first.
pub fn list(store: &Store, f: &MessageFilter) -> Result<Vec<Message>, StoreError> {
    let keep = |m: &Message| {
        f.campaign_id.as_deref().is_none_or(|c| m.campaign_id.as_deref() == Some(c))
            && f.state.is_none_or(|s| m.state == s)
            && f.member_id.is_none_or(|id| m.member_id == id)
    };
    let limit = if f.limit == 0 { usize::MAX } else { f.limit };
    let mut out = Vec::new();
    if let Some(member_id) = f.member_id {
        let mut all = member_messages(store, member_id)?;
        all.reverse();
        out.extend(all.into_iter().filter(|m| keep(m)).take(limit));
        return Ok(out);
    }
    for r in store.scan_rev::<Message>(TreeId::Messages) {
        let (_, m) = r?;
        if keep(&m) {
            out.push(m);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::members::{register, LoyaltyRules, NewMember};
    use crate::store::{Durability, StoreOptions};
    use chrono::Duration;
    use std::sync::Arc;

    fn setup() -> (tempfile::TempDir, Store, Arc<ManualClock>, MessageRules) {
        let dir = tempfile::tempdir().unwrap();
        // 10:00 in Shanghai.
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()));
        let opts = StoreOptions {
            path: dir.path().to_path_buf(),
            durability: Durability::Relaxed,
            relaxed_flush_ms: 50,
            source: Some("/storehub/t/s/h".into()),
            clock: clock.clone(),
        };
        let store = Store::open(opts).unwrap();
        let cfg = crate::config::Config::demo().unwrap();
        let rules = MessageRules::from_config(&cfg);
        (dir, store, clock, rules)
    }

    fn member(store: &Store, phone: &str, sms: bool, wechat: bool) -> u64 {
        let rules = LoyaltyRules::from_config(&crate::config::Config::demo().unwrap().loyalty);
        let mut new = NewMember::in_store(phone, "张伟");
        new.gender = Some(Gender::Male);
        new.consent_sms = sms;
        new.consent_wechat = wechat;
        register(store, &new, &rules).unwrap().id
    }

    fn wechat_template() -> MessageTemplate {
        let json = r#"{"id":"wake","name":"休眠唤醒","channel":"wechat","wechat_template_id":"OPENTM207940503",
            "fields":{"first":"{{name}}，好久不见","keyword1":"{{coupon}}","keyword2":"{{store}}","remark":"积分{{points}}"}}"#;
        parse_templates_json(json.as_bytes(), "t.json").unwrap().remove(0)
    }

    fn out(member_id: u64, campaign: Option<&str>) -> Outgoing {
        Outgoing {
            member_id,
            template_id: "wake".into(),
            campaign_id: campaign.map(str::to_string),
            vars: [("coupon".to_string(), "满200减50".to_string())].into(),
        }
    }

    fn events(store: &Store, ty: &str) -> Vec<serde_json::Value> {
        store
            .outbox_batch(0, 10_000)
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == ty)
            .map(|e| serde_json::from_str(&e.data_json).unwrap())
            .collect()
    }

    #[test]
    fn requested_with_consent_once_per_campaign_and_capped_per_week() {
        let (_d, store, clock, rules) = setup();
        upsert_templates(&store, &[wechat_template()]).unwrap();
        let a = member(&store, "13800000001", false, true);
        let none = member(&store, "13800000002", true, false);

        let q = request(&store, &rules, &out(a, Some("c1"))).unwrap();
        assert_eq!(q, Queued::Requested { message_id: 1 });
        assert_eq!(request(&store, &rules, &out(a, Some("c1"))).unwrap(), Queued::Skipped { reason: SkipReason::AlreadySent });
        assert_eq!(request(&store, &rules, &out(none, Some("c1"))).unwrap(), Queued::Skipped { reason: SkipReason::NoConsent });
        assert_eq!(request(&store, &rules, &out(a, Some("c2"))).unwrap(), Queued::Requested { message_id: 2 });
        // Cap 2 per 7 × 24 h (demo config).
        assert_eq!(request(&store, &rules, &out(a, Some("c3"))).unwrap(), Queued::Skipped { reason: SkipReason::FrequencyCap });
        clock.advance(Duration::days(7));
        assert_eq!(request(&store, &rules, &out(a, Some("c3"))).unwrap(), Queued::Requested { message_id: 3 });

        let ev = events(&store, EVENT_REQUESTED);
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0]["member_id"], a);
        assert_eq!(ev[0]["channel"], "wechat");
        assert_eq!(ev[0]["fields"]["first"], "张先生，好久不见");
        assert_eq!(ev[0]["fields"]["keyword1"], "满200减50");
        assert_eq!(ev[0]["campaign_id"], "c1");
        let text = ev[0].to_string();
        assert!(!text.contains("13800000001") && !text.contains("张伟"), "no phone or full name: {text}");
        let m = message(&store, 1).unwrap().unwrap();
        assert_eq!(m.state, MessageState::Requested);
        assert_eq!(campaign_messages(&store, "c1").unwrap().len(), 1);
        assert_eq!(list(&store, &MessageFilter { member_id: Some(a), ..Default::default() }).unwrap().len(), 3);
        assert!(matches!(remove_template(&store, "wake"), Err(CommitError::Rejected(MessageError::TemplateInUse { messages: 3, .. }))));
    }

    #[test]
    fn quiet_hours_hold_until_nine_and_release_once() {
        let (_d, store, clock, rules) = setup();
        upsert_templates(&store, &[wechat_template()]).unwrap();
        let a = member(&store, "13800000001", false, true);
        // 21:00 Shanghai = 13:00 UTC.
        clock.set(Utc.with_ymd_and_hms(2026, 11, 26, 13, 0, 0).unwrap());
        let nine = Utc.with_ymd_and_hms(2026, 11, 27, 1, 0, 0).unwrap();
        assert_eq!(request(&store, &rules, &out(a, None)).unwrap(), Queued::Held { message_id: 1, until: nine });
        assert!(events(&store, EVENT_REQUESTED).is_empty());
        assert_eq!(release_due(&store, nine - Duration::minutes(1)).unwrap(), 0, "08:59 still quiet");
        assert_eq!(release_due(&store, nine).unwrap(), 1);
        assert_eq!(release_due(&store, nine + Duration::minutes(1)).unwrap(), 0, "idempotent");
        assert_eq!(events(&store, EVENT_REQUESTED).len(), 1);
        let m = message(&store, 1).unwrap().unwrap();
        assert_eq!((m.state, m.requested_at), (MessageState::Requested, Some(nine)));
    }

    #[test]
    fn check_finds_a_held_message_missing_from_the_release_index() {
        let (_d, store, clock, rules) = setup();
        upsert_templates(&store, &[wechat_template()]).unwrap();
        let a = member(&store, "13800000001", false, true);
        request(&store, &rules, &out(a, Some("c1"))).unwrap();
        clock.set(Utc.with_ymd_and_hms(2026, 11, 26, 14, 0, 0).unwrap());
        let q = request(&store, &rules, &out(a, None)).unwrap();
        assert!(matches!(q, Queued::Held { message_id: 2, .. }));
        assert_eq!(check(&store).unwrap(), Vec::<String>::new());
        let until = message(&store, 2).unwrap().unwrap().held_until.unwrap();
        store.commit(|tx| tx.remove::<std::convert::Infallible>(TreeId::Meta, &held_key(until, 2))).unwrap();
        assert_eq!(check(&store).unwrap(), vec!["message 2: held but not in the release index".to_string()]);
    }

    #[test]
    fn status_reports_from_hq() {
        let (_d, store, _clock, rules) = setup();
        upsert_templates(&store, &[wechat_template()]).unwrap();
        let a = member(&store, "13800000001", false, true);
        request(&store, &rules, &out(a, Some("c1"))).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap();
        let apply = |r: StatusReport| store.commit(|tx| apply_status_in_tx(tx, 1, &r, at));
        assert!(apply(StatusReport::Delivered).unwrap().is_some());
        assert!(apply(StatusReport::Delivered).unwrap().is_none(), "repeat is a no-op");
        assert!(matches!(
            apply(StatusReport::Failed { reason: "blocked".into() }),
            Err(CommitError::Rejected(MessageError::Status { field: "status", .. }))
        ));
        let m = apply(StatusReport::Clicked).unwrap().unwrap();
        assert_eq!((m.state, m.clicked_at), (MessageState::Delivered, Some(at)));
        assert!(matches!(
            store.commit(|tx| apply_status_in_tx(tx, 99, &StatusReport::Delivered, at)),
            Err(CommitError::Rejected(MessageError::UnknownMessage(99)))
        ));
        assert_eq!(events(&store, EVENT_STATUS_CHANGED).len(), 2);
    }

    #[test]
    fn template_import_errors_name_index_id_and_field() {
        let json = r#"[{"id":"ok","channel":"wechat","wechat_template_id":"T1","fields":{"first":"hi"}},
                       {"id":"bad","channel":"wechat","wechat_template_id":"T1","fields":{"first":"{{name"}}]"#;
        let e = parse_templates_json(json.as_bytes(), "t.json").unwrap_err();
        assert_eq!(e.to_string(), "t.json: [1] (id \"bad\"): fields.first: `{{` at character 0 is not closed by `}}`");
    }
}
