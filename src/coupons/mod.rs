//! Coupons: templates (what a coupon takes off, how long it lasts, how many a member may hold) in
//! `TreeId::CouponTemplates`, and coupons issued to members in `TreeId::Coupons`, indexed by
//! member in `TreeId::CouponsByMember`. Owns issuing with per-member limits, the checks a till
//! makes before a coupon enters a sale, redemption and restore inside the sale's own commit,
//! voiding, the expiry job, usage counts for campaign measurement and the `storehub.coupon.*`
//! events. It prices nothing (`domain::pricing` does, from the [`pricing::Coupon`] view given
//! here), never reads the clock (callers pass the shop-local date) and puts no personal data
//! beyond member ids into events: free-text reasons stay in the store.
//!
//! **Life of a coupon:** `Issued` → `Redeemed` (by a sale) → `Issued` again by a full return of
//! that sale while still valid, else `Expired`; `Issued` → `Expired` (the expiry job, once its
//! last valid day is past) or `Voided` (by staff). Expired and voided coupons stay so.
//!
//! **Per-member limit without scans:** a [`Tx`] reads by key only, so each member's count of a
//! template's coupons is a small record in `CouponsByMember` under `member BE ++ "#count#" ++
//! template id`, next to the index entries `member BE ++ coupon id BE` (16 bytes). The two never
//! meet: a coupon id fits in 10 decimal digits (its code), so bytes 8–14 of an index key are
//! zero, never `#count#`. The count covers every coupon ever issued to the member from the
//! template, whatever became of it ("每人限领1张" counts what was handed out).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::coupon_code::{coupon_code, parse_coupon_code, CouponCodeError};
use crate::domain::pricing::{self, validate_coupon, CouponKind, PricingError};
use crate::json_import::{self, check_id, check_name, unknown_keys, FieldError, JsonFileReport, JsonRecord};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// Event of each coupon issued: coupon, code, template, member, campaign, validity.
pub const EVENT_COUPON_ISSUED: &str = "storehub.coupon.issued";
/// Event of a coupon used in a sale: coupon, code, template, member, campaign, sale id.
pub const EVENT_COUPON_REDEEMED: &str = "storehub.coupon.redeemed";
/// Event of a coupon given back by a full return: as redeemed, plus `restored_to`.
pub const EVENT_COUPON_RESTORED: &str = "storehub.coupon.restored";
/// Event of a coupon that expired unused (the job, or a restore after its last valid day).
pub const EVENT_COUPON_EXPIRED: &str = "storehub.coupon.expired";
/// Event of a coupon voided by staff: coupon, code, template, member, campaign, `by`.
pub const EVENT_COUPON_VOIDED: &str = "storehub.coupon.voided";
/// Event of a template created or changed; data: the template.
pub const EVENT_TEMPLATE_UPSERTED: &str = "storehub.coupon.template_upserted";

/// Most members one `issue` call takes (one commit).
pub const MAX_ISSUE_BATCH: usize = 10_000;
/// Longest `DaysAfterIssue` validity (about ten years).
pub const MAX_DAYS_AFTER_ISSUE: u32 = 3660;
/// Coupons the expiry job changes per commit.
const EXPIRE_CHUNK: usize = 1000;
/// Longest staff id, void reason, restore reason and campaign, in characters.
const MAX_TEXT_CHARS: usize = 200;
/// Tag between member id and template id in a per-member count key.
const COUNT_TAG: &[u8] = b"#count#";

// --- Types -------------------------------------------------------------------------------------

/// How long coupons of a template are valid, in shop-local days (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Valid from `from` through `to`, whenever issued. JSON: `{"window":{"from":"2026-12-01","to":"2026-12-31"}}`.
    Window { from: NaiveDate, to: NaiveDate },
    /// Valid for this many days counting the day of issue: 7 issued on 25 Nov → 25 Nov to
    /// 1 Dec. JSON: `{"days_after_issue":7}`.
    DaysAfterIssue(u32),
}

impl Validity {
    /// First and last valid day of a coupon issued on `issued_on`; `None` past the calendar's end.
    pub fn dates(&self, issued_on: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        match self {
            Validity::Window { from, to } => Some((*from, *to)),
            Validity::DaysAfterIssue(days) => {
                let last = issued_on.checked_add_days(Days::new(u64::from(days.saturating_sub(1))))?;
                Some((issued_on, last))
            }
        }
    }
}

/// What a kind of coupon takes off, for whom and for how long. Imported as JSON
/// (`storehub coupons template-add FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTemplate {
    /// Unique id, 1–64 characters without spaces, e.g. `"T-200-30"`.
    pub id: String,
    /// Chinese name, e.g. `"满200减30券"`.
    pub name_zh: String,
    pub name_en: String,
    /// What a coupon takes off (the pricing engine's kinds).
    pub kind: CouponKind,
    /// Minimum spend on eligible lines, 0 for none.
    pub min_spend_fen: i64,
    /// Categories the coupon applies to; empty = every line.
    pub categories: Vec<String>,
    pub validity: Validity,
    /// Most coupons of this template one member is ever issued; 0 = no limit.
    pub per_member_limit: u32,
    /// Inactive templates issue nothing and their coupons are refused at the till.
    pub active: bool,
}

impl CouponTemplate {
    /// The pricing engine's view of a coupon of this template; `coupon_id` names it on the
    /// receipt (the coupon's printable code).
    pub fn pricing_coupon(&self, coupon_id: &str) -> pricing::Coupon {
        pricing::Coupon {
            id: coupon_id.to_string(),
            kind: self.kind.clone(),
            min_spend_fen: self.min_spend_fen,
            categories: self.categories.clone(),
        }
    }
}

/// Where an issued coupon stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    /// Can be used within its dates.
    Issued,
    /// Used in sale `sale_id`.
    Redeemed { sale_id: u64, at: DateTime<Utc> },
    /// Its last valid day passed unused.
    Expired { at: DateTime<Utc> },
    /// Withdrawn by staff member `by`.
    Voided { at: DateTime<Utc>, by: String, reason: String },
}

impl CouponState {
    /// Short name: issued, redeemed, expired, voided.
    pub fn name(&self) -> &'static str {
        match self {
            CouponState::Issued => "issued",
            CouponState::Redeemed { .. } => "redeemed",
            CouponState::Expired { .. } => "expired",
            CouponState::Voided { .. } => "voided",
        }
    }
}

/// The last time a return gave a coupon back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    pub sale_id: u64,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// One coupon issued to one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCoupon {
    /// Sequence id (key in `TreeId::Coupons`).
    pub id: u64,
    /// What the cashier scans or types: see `domain::coupon_code`.
    pub code: String,
    pub template_id: String,
    pub member_id: u64,
    /// Campaign it was issued in, for measurement.
    pub campaign: Option<String>,
    pub issued_at: DateTime<Utc>,
    /// First valid day, shop-local.
    pub valid_from: NaiveDate,
    /// Last valid day, shop-local, inclusive.
    pub valid_to: NaiveDate,
    pub state: CouponState,
    /// The last restore by a return, if any.
    pub last_restore: Option<Restore>,
}
impl Record for IssuedCoupon {
    const NAME: &'static str = "coupon";
}

/// What a restore turned the coupon back into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoredTo {
    Issued,
    Expired,
}

/// Data of every `storehub.coupon.*` event except `template_upserted`. Only ids: no names,
/// phones or free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponEvent {
    pub coupon_id: u64,
    pub code: String,
    pub template_id: String,
    pub member_id: u64,
    pub campaign: Option<String>,
    /// Issued: first valid day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    /// Issued and expired: last valid day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<NaiveDate>,
    /// Redeemed and restored: the sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_id: Option<u64>,
    /// Voided: staff id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Restored: the state it went back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_to: Option<RestoredTo>,
}

impl CouponEvent {
    fn of(c: &IssuedCoupon) -> CouponEvent {
        CouponEvent {
            coupon_id: c.id,
            code: c.code.clone(),
            template_id: c.template_id.clone(),
            member_id: c.member_id,
            campaign: c.campaign.clone(),
            valid_from: None,
            valid_to: None,
            sale_id: None,
            by: None,
            restored_to: None,
        }
    }
}

/// Why a member got no coupon in an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The member already holds `held` coupons of the template, the limit being `limit`.
    LimitReached { limit: u32, held: u32 },
    /// The member id appears more than once in the request; the first one counted.
    ListedTwice,
    /// The member was merged into member `into` (`members::merge`) and is closed.
    Merged { into: u64 },
}

/// A member who got no coupon, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub member_id: u64,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// Result of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSummary {
    pub template_id: String,
    pub campaign: Option<String>,
    pub issued: Vec<IssuedCoupon>,
    pub skipped: Vec<Skipped>,
}

/// Counts of a template's coupons by state, for campaign measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateStats {
    /// Every coupon ever issued from the template (= the four below).
    pub issued: u64,
    /// Still usable (state issued; some may be past their last day until the expiry job runs).
    pub outstanding: u64,
    pub redeemed: u64,
    pub expired: u64,
    pub voided: u64,
}

/// Counts of a template upsert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Why a coupon operation was refused. Messages say what is wrong and, where it helps, what to do.
#[derive(Debug, thiserror::Error)]
pub enum CouponError {
    #[error("coupon code {code:?}: {source}")]
    BadCode { code: String, source: CouponCodeError },
    #[error("no coupon has code {0}; check it against the coupon, or scan it")]
    UnknownCode(String),
    #[error("no coupon has id {0}")]
    UnknownCoupon(u64),
    #[error("coupon {code} belongs to a member: identify the member (member card or phone) first")]
    MemberRequired { code: String },
    #[error("coupon {code} belongs to another member and cannot be used on this member's sale")]
    NotOwner { code: String },
    #[error("coupon {code} is not valid yet: valid from {valid_from} to {valid_to}")]
    NotYetValid { code: String, valid_from: NaiveDate, valid_to: NaiveDate },
    #[error("coupon {code} has expired: it was valid from {valid_from} to {valid_to}")]
    Expired { code: String, valid_from: NaiveDate, valid_to: NaiveDate },
    #[error("coupon {code} was already used on sale {sale_id} at {at}")]
    AlreadyRedeemed { code: String, sale_id: u64, at: DateTime<Utc> },
    #[error("coupon {code} was voided by {by} at {at}: {reason}")]
    Voided { code: String, by: String, at: DateTime<Utc>, reason: String },
    #[error("coupon {code} is {state}, not redeemed on sale {sale_id}; nothing to restore")]
    NotRedeemedOn { code: String, state: &'static str, sale_id: u64 },
    #[error("coupon {code} is {state}; only an issued coupon can be voided")]
    NotVoidable { code: String, state: &'static str },
    #[error("no coupon template has id {0:?}; `storehub coupons templates` lists them")]
    UnknownTemplate(String),
    #[error("coupon template {0:?} is not active; activate it (template-add with \"active\": true) or use another")]
    TemplateInactive(String),
    #[error("coupon template {id:?} was valid until {to}; a coupon issued today would already be expired")]
    TemplateWindowOver { id: String, to: NaiveDate },
    #[error("coupon template {id:?} validity runs past the calendar's end when issued on {today}")]
    DatesOutOfRange { id: String, today: NaiveDate },
    #[error("coupon template [{index}] (id {id:?}): {field}: {message}; nothing was written")]
    InvalidTemplate { index: usize, id: String, field: String, message: String },
    #[error("coupon template {id:?} has {issued} issued coupons, so its kind, min_spend_fen and categories are fixed; create a new template and deactivate this one")]
    TermsFixed { id: String, issued: u64 },
    #[error("no coupon templates given")]
    NoTemplates,
    #[error("no member ids given; name members with --member ID or --members-file FILE")]
    NoMembers,
    #[error("{count} member ids given; at most {MAX_ISSUE_BATCH} per issue: split the list (e.g. `split -l {MAX_ISSUE_BATCH}`) and issue each part")]
    TooManyMembers { count: usize },
    #[error("coupon ids are exhausted ({0})")]
    IdsExhausted(CouponCodeError),
    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn reject<T>(e: CouponError) -> Result<T, TxError<CouponError>> {
    Err(TxError::Rejected(e))
}

// --- Stored forms ------------------------------------------------------------------------------
// `CouponKind` is JSON-shaped (an internally tagged `kind`), which postcard cannot decode; the
// stored template is its own type, so a change to the domain type fails to compile here instead of
// silently changing what is on disk.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TemplateRecord {
    id: String,
    name_zh: String,
    name_en: String,
    kind: KindRecord,
    min_spend_fen: i64,
    categories: Vec<String>,
    validity: Validity,
    per_member_limit: u32,
    active: bool,
    /// Coupons ever issued from it (its terms are fixed once this is above 0).
    issued: u64,
    updated_at: DateTime<Utc>,
}
impl Record for TemplateRecord {
    const NAME: &'static str = "coupon template";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum KindRecord {
    Fixed { off_fen: i64 },
    Percent { bp: u32, max_off_fen: Option<i64> },
    Threshold { min_spend_fen: i64, off_fen: i64 },
    FreeItem { sku: String },
}

impl TemplateRecord {
    fn new(t: &CouponTemplate, issued: u64, updated_at: DateTime<Utc>) -> TemplateRecord {
        let kind = match t.kind.clone() {
            CouponKind::Fixed { off_fen } => KindRecord::Fixed { off_fen },
            CouponKind::Percent { bp, max_off_fen } => KindRecord::Percent { bp, max_off_fen },
            CouponKind::Threshold { min_spend_fen, off_fen } => KindRecord::Threshold { min_spend_fen, off_fen },
            CouponKind::FreeItem { sku } => KindRecord::FreeItem { sku },
        };
        TemplateRecord {
            id: t.id.clone(),
            name_zh: t.name_zh.clone(),
            name_en: t.name_en.clone(),
            kind,
            min_spend_fen: t.min_spend_fen,
            categories: t.categories.clone(),
            validity: t.validity.clone(),
            per_member_limit: t.per_member_limit,
            active: t.active,
            issued,
            updated_at,
        }
    }

    fn template(&self) -> CouponTemplate {
        let kind = match self.kind.clone() {
            KindRecord::Fixed { off_fen } => CouponKind::Fixed { off_fen },
            KindRecord::Percent { bp, max_off_fen } => CouponKind::Percent { bp, max_off_fen },
            KindRecord::Threshold { min_spend_fen, off_fen } => CouponKind::Threshold { min_spend_fen, off_fen },
            KindRecord::FreeItem { sku } => CouponKind::FreeItem { sku },
        };
        CouponTemplate {
            id: self.id.clone(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            kind,
            min_spend_fen: self.min_spend_fen,
            categories: self.categories.clone(),
            validity: self.validity.clone(),
            per_member_limit: self.per_member_limit,
            active: self.active,
        }
    }
}

/// How many coupons of one template one member was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct MemberTemplateCount {
    issued: u32,
}
impl Record for MemberTemplateCount {
    const NAME: &'static str = "member coupon count";
}

/// Index key of a member's coupon: member id BE ++ coupon id BE.
fn member_key(member_id: u64, coupon_id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&codec::u64_key(member_id));
    k[8..].copy_from_slice(&codec::u64_key(coupon_id));
    k
}

/// Key of a member's count of a template: member id BE ++ `#count#` ++ template id.
fn count_key(member_id: u64, template_id: &str) -> Vec<u8> {
    let mut k = codec::u64_key(member_id).to_vec();
    k.extend_from_slice(COUNT_TAG);
    k.extend_from_slice(template_id.as_bytes());
    k
}

/// Member merge (`members::merge`): moves one `CouponsByMember` key of a member to member
/// `into` inside the caller's commit. An index key moves with its coupon, whose owner becomes
/// `into`; a count key adds to `into`'s count of the template (the per-member limit then counts
/// both). Returns whether a coupon moved.
pub(crate) fn move_member_key_tx<E>(tx: &Tx, key: &[u8], into: u64) -> Result<bool, TxError<E>> {
    let Some(rest) = key.get(8..) else { return Ok(false) };
    let mut moved = codec::u64_key(into).to_vec();
    moved.extend_from_slice(rest);
    if let Some(id) = coupon_of_index_key(key) {
        let mut c = tx
            .get::<IssuedCoupon, E>(TreeId::Coupons, &codec::u64_key(id))?
            .ok_or_else(|| TxError::Store(StoreError::Corrupt(format!("coupon index names missing coupon {id}"))))?;
        c.member_id = into;
        tx.put(TreeId::Coupons, &codec::u64_key(id), &c)?;
        tx.remove(TreeId::CouponsByMember, key)?;
        tx.put_raw(TreeId::CouponsByMember, &member_key(into, id), &[])?;
        return Ok(true);
    }
    if rest.starts_with(COUNT_TAG) {
        let from = tx.get::<MemberTemplateCount, E>(TreeId::CouponsByMember, key)?.map_or(0, |c| c.issued);
        let held = tx.get::<MemberTemplateCount, E>(TreeId::CouponsByMember, &moved)?.map_or(0, |c| c.issued);
        tx.remove(TreeId::CouponsByMember, key)?;
        tx.put(TreeId::CouponsByMember, &moved, &MemberTemplateCount { issued: held.saturating_add(from) })?;
    }
    Ok(false)
}

/// The coupon id of a `CouponsByMember` key, or `None` for a count key.
fn coupon_of_index_key(key: &[u8]) -> Option<u64> {
    if key.len() != 16 || key[8..].starts_with(COUNT_TAG) {
        return None;
    }
    codec::key_u64(&key[8..]).ok()
}

// --- Rules -------------------------------------------------------------------------------------

/// Checks a template: `validate_coupon` on its pricing view, an id usable as a key, names of at
/// most 100 characters, a coupon worth something, and a validity that ends. Names the field.
pub fn check_template(t: &CouponTemplate) -> Result<(), FieldError> {
    check_id(&t.id)?;
    check_name("name_zh", &t.name_zh)?;
    check_name("name_en", &t.name_en)?;
    validate_coupon(&t.pricing_coupon(&t.id)).map_err(|e| {
        let message = match e {
            PricingError::InvalidCoupon { reason, .. } => reason,
            other => other.to_string(),
        };
        FieldError::new(coupon_fault_field(t), message)
    })?;
    match &t.kind {
        CouponKind::Fixed { off_fen: 0 } | CouponKind::Threshold { off_fen: 0, .. } => {
            return Err(FieldError::new("kind.off_fen", "is 0: the coupon would take off nothing"));
        }
        CouponKind::Percent { bp: 0, .. } => {
            return Err(FieldError::new("kind.bp", "is 0: the coupon would take off nothing"));
        }
        CouponKind::FreeItem { sku } if sku.trim().is_empty() => {
            return Err(FieldError::new("kind.sku", "is empty: name the product given free"));
        }
        _ => {}
    }
    if let Some(i) = t.categories.iter().position(|c| c.trim().is_empty()) {
        return Err(FieldError::new(format!("categories[{i}]"), "is empty"));
    }
    match t.validity {
        Validity::Window { from, to } if to < from => Err(FieldError::new(
            "validity.window.to",
            format!("{to} is before from ({from})"),
        )),
        Validity::DaysAfterIssue(days) if days == 0 || days > MAX_DAYS_AFTER_ISSUE => Err(FieldError::new(
            "validity.days_after_issue",
            format!("{days}: must be 1 to {MAX_DAYS_AFTER_ISSUE} (the day of issue counts as day 1)"),
        )),
        _ => Ok(()),
    }
}

/// The field `validate_coupon` refused (its errors carry a reason, not a field). Mirrors its
/// checks only to name the field; the decision stays with `validate_coupon`.
fn coupon_fault_field(t: &CouponTemplate) -> &'static str {
    if t.id.is_empty() {
        return "id";
    }
    if t.min_spend_fen < 0 {
        return "min_spend_fen";
    }
    match &t.kind {
        CouponKind::Fixed { .. } => "kind.off_fen",
        CouponKind::Percent { bp, .. } if *bp > 10_000 => "kind.bp",
        CouponKind::Percent { .. } => "kind.max_off_fen",
        CouponKind::Threshold { min_spend_fen, .. } if *min_spend_fen < 0 => "kind.min_spend_fen",
        CouponKind::Threshold { .. } => "kind.off_fen",
        CouponKind::FreeItem { .. } => "kind.sku",
    }
}

impl JsonRecord for CouponTemplate {
    const WHAT: &'static str = "coupon template";

    fn id(&self) -> &str {
        &self.id
    }

    fn unknown_fields(value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let top = [
            "id", "name_zh", "name_en", "kind", "min_spend_fen", "categories", "validity", "per_member_limit", "active",
        ];
        unknown_keys(value, &top, "", &mut out);
        if let Some(k) = value.get("kind") {
            let allowed: &[&str] = match k.get("kind").and_then(Value::as_str) {
                Some("fixed") => &["kind", "off_fen"],
                Some("percent") => &["kind", "bp", "max_off_fen"],
                Some("threshold") => &["kind", "min_spend_fen", "off_fen"],
                Some("free_item") => &["kind", "sku"],
                _ => &["kind", "off_fen", "bp", "max_off_fen", "min_spend_fen", "sku"],
            };
            unknown_keys(k, allowed, "kind.", &mut out);
        }
        if let Some(w) = value.get("validity").and_then(|v| v.get("window")) {
            unknown_keys(w, &["from", "to"], "validity.window.", &mut out);
        }
        out
    }

    fn check(&self) -> Result<(), FieldError> {
        check_template(self)
    }
}

/// Reads a template file: one template object or an array of them, every one checked; errors
/// name the file, index, id and field.
pub fn parse_templates_json(bytes: &[u8], file_name: &str) -> Result<Vec<CouponTemplate>, JsonFileReport> {
    json_import::parse_records(bytes, file_name)
}

/// Reads a members file for `coupons issue --members-file`: one member id per line; blank lines,
/// `#` comments and a `member_id` header line are skipped. Errors name file and line.
pub fn parse_member_ids(text: &str, file_name: &str) -> Result<Vec<u64>, String> {
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    let mut header_allowed = true;
    for (i, line) in text.lines().enumerate() {
        let value = line.trim().trim_start_matches('\u{feff}').trim();
        if value.is_empty() || value.starts_with('#') {
            continue;
        }
        if header_allowed && value.eq_ignore_ascii_case("member_id") {
            header_allowed = false;
            continue;
        }
        header_allowed = false;
        match value.parse::<u64>() {
            Ok(id) => ids.push(id),
            Err(_) if errors.len() < 10 => {
                errors.push(format!("{file_name}:{}: expected a member id (digits only), got {value:?}", i + 1))
            }
            Err(_) => {}
        }
    }
    if !errors.is_empty() {
        return Err(format!("{}\nnothing issued", errors.join("\n")));
    }
    if ids.is_empty() {
        return Err(format!("{file_name}: holds no member ids"));
    }
    Ok(ids)
}

fn check_text(what: &'static str, value: &str, required: bool) -> Result<(), CouponError> {
    let n = value.chars().count();
    let message = if required && value.trim().is_empty() {
        "is empty".to_string()
    } else if n > MAX_TEXT_CHARS {
        format!("is {n} characters long; at most {MAX_TEXT_CHARS}")
    } else if value.chars().any(char::is_control) {
        "contains control characters".to_string()
    } else {
        return Ok(());
    };
    Err(CouponError::Invalid { what, message })
}

// --- State transitions (pure) -------------------------------------------------------------------

impl IssuedCoupon {
    /// Whether `member_id` may use this coupon on shop-local day `today`: the refusal says why not.
    pub fn check_usable(&self, member_id: Option<u64>, today: NaiveDate) -> Result<(), CouponError> {
        let code = self.code.clone();
        match member_id {
            None => return Err(CouponError::MemberRequired { code }),
            Some(m) if m != self.member_id => return Err(CouponError::NotOwner { code }),
            Some(_) => {}
        }
        let (valid_from, valid_to) = (self.valid_from, self.valid_to);
        match &self.state {
            CouponState::Redeemed { sale_id, at } => {
                Err(CouponError::AlreadyRedeemed { code, sale_id: *sale_id, at: *at })
            }
            CouponState::Voided { at, by, reason } => {
                Err(CouponError::Voided { code, by: by.clone(), at: *at, reason: reason.clone() })
            }
            CouponState::Expired { .. } => Err(CouponError::Expired { code, valid_from, valid_to }),
            CouponState::Issued if today < valid_from => Err(CouponError::NotYetValid { code, valid_from, valid_to }),
            CouponState::Issued if today > valid_to => Err(CouponError::Expired { code, valid_from, valid_to }),
            CouponState::Issued => Ok(()),
        }
    }

    /// Issued → Redeemed on `sale_id`.
    fn redeem(&mut self, sale_id: u64, at: DateTime<Utc>) -> Result<(), CouponError> {
        let code = self.code.clone();
        match &self.state {
            CouponState::Issued => {
                self.state = CouponState::Redeemed { sale_id, at };
                Ok(())
            }
            CouponState::Redeemed { sale_id, at } => Err(CouponError::AlreadyRedeemed { code, sale_id: *sale_id, at: *at }),
            CouponState::Voided { at, by, reason } => {
                Err(CouponError::Voided { code, by: by.clone(), at: *at, reason: reason.clone() })
            }
            CouponState::Expired { .. } => {
                Err(CouponError::Expired { code, valid_from: self.valid_from, valid_to: self.valid_to })
            }
        }
    }

    /// Redeemed on `sale_id` → Issued if `today` is still within its dates, else Expired.
    fn restore(&mut self, sale_id: u64, reason: &str, today: NaiveDate, at: DateTime<Utc>) -> Result<RestoredTo, CouponError> {
        match &self.state {
            CouponState::Redeemed { sale_id: s, .. } if *s == sale_id => {}
            other => {
                return Err(CouponError::NotRedeemedOn { code: self.code.clone(), state: other.name(), sale_id });
            }
        }
        let to = if today > self.valid_to {
            self.state = CouponState::Expired { at };
            RestoredTo::Expired
        } else {
            self.state = CouponState::Issued;
            RestoredTo::Issued
        };
        self.last_restore = Some(Restore { sale_id, at, reason: reason.to_string() });
        Ok(to)
    }

    /// Issued → Voided.
    fn void(&mut self, by: &str, reason: &str, at: DateTime<Utc>) -> Result<(), CouponError> {
        match self.state {
            CouponState::Issued => {
                self.state = CouponState::Voided { at, by: by.to_string(), reason: reason.to_string() };
                Ok(())
            }
            ref other => Err(CouponError::NotVoidable { code: self.code.clone(), state: other.name() }),
        }
    }

    /// Issued and past its last day on `today` → Expired; true when it changed.
    fn expire_if_due(&mut self, today: NaiveDate, at: DateTime<Utc>) -> bool {
        if self.state == CouponState::Issued && self.valid_to < today {
            self.state = CouponState::Expired { at };
            return true;
        }
        false
    }
}

// --- Templates -----------------------------------------------------------------------------------

/// Inserts or replaces templates inside `tx`, all checked first (one bad → refused). A template
/// that has issued coupons keeps its kind, minimum spend and categories. Emits
/// `storehub.coupon.template_upserted` for each one that changed.
pub fn upsert_templates_in_tx(tx: &Tx, templates: &[CouponTemplate]) -> Result<UpsertSummary, TxError<CouponError>> {
    if templates.is_empty() {
        return reject(CouponError::NoTemplates);
    }
    let mut seen = HashSet::new();
    for (index, t) in templates.iter().enumerate() {
        let invalid = |field: String, message: String| {
            TxError::Rejected(CouponError::InvalidTemplate { index, id: t.id.clone(), field, message })
        };
        check_template(t).map_err(|e| invalid(e.field, e.message))?;
        if !seen.insert(t.id.as_str()) {
            return Err(invalid("id".into(), "appears twice in the list".into()));
        }
    }
    let mut summary = UpsertSummary::default();
    for t in templates {
        let old: Option<TemplateRecord> = tx.get(TreeId::CouponTemplates, t.id.as_bytes())?;
        let issued = old.as_ref().map_or(0, |o| o.issued);
        match old.map(|o| o.template()) {
            Some(old) if old == *t => {
                summary.unchanged += 1;
                continue;
            }
            Some(old) => {
                if issued > 0 && (old.kind != t.kind || old.min_spend_fen != t.min_spend_fen || old.categories != t.categories) {
                    return reject(CouponError::TermsFixed { id: t.id.clone(), issued });
                }
                summary.updated += 1;
            }
            None => summary.created += 1,
        }
        tx.put(TreeId::CouponTemplates, t.id.as_bytes(), &TemplateRecord::new(t, issued, tx.now()))?;
        tx.emit(EVENT_TEMPLATE_UPSERTED, Some(&t.id), t)?;
    }
    Ok(summary)
}

/// Inserts or replaces templates in one commit: all or nothing.
pub fn upsert_templates(store: &Store, templates: &[CouponTemplate]) -> Result<UpsertSummary, CommitError<CouponError>> {
    store.commit(|tx| upsert_templates_in_tx(tx, templates))
}

/// The template with this id.
pub fn template(store: &Store, id: &str) -> Result<Option<CouponTemplate>, StoreError> {
    Ok(store.get::<TemplateRecord>(TreeId::CouponTemplates, id.as_bytes())?.map(|r| r.template()))
}

/// Every template in id order.
pub fn templates(store: &Store) -> Result<Vec<CouponTemplate>, StoreError> {
    store.scan::<TemplateRecord>(TreeId::CouponTemplates).map(|r| r.map(|(_, t)| t.template())).collect()
}

// --- Issue ---------------------------------------------------------------------------------------

/// Issues one coupon of `template_id` to each member inside `tx`, valid per the template from
/// shop-local `today`. Members at the template's per-member limit, and repeats of a member id,
/// are skipped and reported. Emits `storehub.coupon.issued` per coupon.
pub fn issue_in_tx(
    tx: &Tx,
    template_id: &str,
    member_ids: &[u64],
    campaign: Option<&str>,
    today: NaiveDate,
) -> Result<IssueSummary, TxError<CouponError>> {
    if member_ids.is_empty() {
        return reject(CouponError::NoMembers);
    }
    if member_ids.len() > MAX_ISSUE_BATCH {
        return reject(CouponError::TooManyMembers { count: member_ids.len() });
    }
    if let Some(c) = campaign {
        check_text("campaign", c, true).map_err(TxError::Rejected)?;
    }
    let mut record: TemplateRecord = tx
        .get(TreeId::CouponTemplates, template_id.as_bytes())?
        .ok_or_else(|| TxError::Rejected(CouponError::UnknownTemplate(template_id.to_string())))?;
    if !record.active {
        return reject(CouponError::TemplateInactive(template_id.to_string()));
    }
    let (valid_from, valid_to) = record
        .validity
        .dates(today)
        .ok_or_else(|| TxError::Rejected(CouponError::DatesOutOfRange { id: template_id.to_string(), today }))?;
    if valid_to < today {
        return reject(CouponError::TemplateWindowOver { id: template_id.to_string(), to: valid_to });
    }
    let mut summary = IssueSummary {
        template_id: template_id.to_string(),
        campaign: campaign.map(str::to_string),
        issued: Vec::new(),
        skipped: Vec::new(),
    };
    let mut seen = HashSet::with_capacity(member_ids.len());
    for &member_id in member_ids {
        if !seen.insert(member_id) {
            summary.skipped.push(Skipped { member_id, reason: SkipReason::ListedTwice });
            continue;
        }
        if let Some(into) = tx.get::<crate::members::Member, _>(TreeId::Members, &codec::u64_key(member_id))?.and_then(|m| m.merged_into) {
            summary.skipped.push(Skipped { member_id, reason: SkipReason::Merged { into } });
            continue;
        }
        let key = count_key(member_id, template_id);
        let held = tx.get::<MemberTemplateCount, _>(TreeId::CouponsByMember, &key)?.map_or(0, |c| c.issued);
        let limit = record.per_member_limit;
        if limit > 0 && held >= limit {
            summary.skipped.push(Skipped { member_id, reason: SkipReason::LimitReached { limit, held } });
            continue;
        }
        let id = tx.next_seq(TreeId::Coupons)?;
        let code = coupon_code(id).map_err(|e| TxError::Rejected(CouponError::IdsExhausted(e)))?;
        let coupon = IssuedCoupon {
            id,
            code,
            template_id: template_id.to_string(),
            member_id,
            campaign: summary.campaign.clone(),
            issued_at: tx.now(),
            valid_from,
            valid_to,
            state: CouponState::Issued,
            last_restore: None,
        };
        tx.put(TreeId::Coupons, &codec::u64_key(id), &coupon)?;
        tx.put_raw(TreeId::CouponsByMember, &member_key(member_id, id), &[])?;
        tx.put(TreeId::CouponsByMember, &key, &MemberTemplateCount { issued: held.saturating_add(1) })?;
        let event = CouponEvent { valid_from: Some(valid_from), valid_to: Some(valid_to), ..CouponEvent::of(&coupon) };
        tx.emit(EVENT_COUPON_ISSUED, Some(&coupon.code), &event)?;
        summary.issued.push(coupon);
    }
    if !summary.issued.is_empty() {
        record.issued += summary.issued.len() as u64;
        tx.put(TreeId::CouponTemplates, template_id.as_bytes(), &record)?;
    }
    Ok(summary)
}

/// Issues coupons of a template to up to [`MAX_ISSUE_BATCH`] members in one commit; see
/// [`issue_in_tx`].
pub fn issue(
    store: &Store,
    template_id: &str,
    member_ids: &[u64],
    campaign: Option<&str>,
    today: NaiveDate,
) -> Result<IssueSummary, CommitError<CouponError>> {
    store.commit(|tx| issue_in_tx(tx, template_id, member_ids, campaign, today))
}

// --- At the till (inside the sale's commit) ------------------------------------------------------

fn load(tx: &Tx, coupon_id: u64) -> Result<IssuedCoupon, TxError<CouponError>> {
    tx.get(TreeId::Coupons, &codec::u64_key(coupon_id))?
        .ok_or_else(|| TxError::Rejected(CouponError::UnknownCoupon(coupon_id)))
}

/// Checks a scanned or typed coupon for a sale of `member_id` on shop-local `today` and returns
/// it with its pricing view (named by its code). Refuses, changing nothing: a malformed code or
/// check digit, an unknown code, no member identified, another member's coupon, outside its
/// dates, already redeemed (naming the sale), voided, or its template inactive.
pub fn check_for_sale_tx(
    tx: &Tx,
    code: &str,
    member_id: Option<u64>,
    today: NaiveDate,
) -> Result<(IssuedCoupon, pricing::Coupon), TxError<CouponError>> {
    let id = parse_coupon_code(code)
        .map_err(|source| TxError::Rejected(CouponError::BadCode { code: code.to_string(), source }))?;
    let coupon: IssuedCoupon = tx
        .get(TreeId::Coupons, &codec::u64_key(id))?
        .ok_or_else(|| TxError::Rejected(CouponError::UnknownCode(code.trim().to_string())))?;
    coupon.check_usable(member_id, today).map_err(TxError::Rejected)?;
    let template: TemplateRecord = tx
        .get(TreeId::CouponTemplates, coupon.template_id.as_bytes())?
        .ok_or_else(|| TxError::Rejected(CouponError::UnknownTemplate(coupon.template_id.clone())))?;
    if !template.active {
        return reject(CouponError::TemplateInactive(coupon.template_id.clone()));
    }
    let view = template.template().pricing_coupon(&coupon.code);
    Ok((coupon, view))
}

/// Marks a coupon redeemed on `sale_id` inside the sale's commit and emits
/// `storehub.coupon.redeemed`. Refuses a coupon that is not in state issued (a second redemption
/// in the same sale included). Call [`check_for_sale_tx`] first: this does not check owner or dates.
pub fn redeem_tx(tx: &Tx, coupon_id: u64, sale_id: u64) -> Result<IssuedCoupon, TxError<CouponError>> {
    let mut coupon = load(tx, coupon_id)?;
    coupon.redeem(sale_id, tx.now()).map_err(TxError::Rejected)?;
    tx.put(TreeId::Coupons, &codec::u64_key(coupon_id), &coupon)?;
    let event = CouponEvent { sale_id: Some(sale_id), ..CouponEvent::of(&coupon) };
    tx.emit(EVENT_COUPON_REDEEMED, Some(&coupon.code), &event)?;
    Ok(coupon)
}

/// Gives a coupon redeemed on `sale_id` back after a full return of that sale, inside the
/// return's commit: issued again if shop-local `today` is still within its dates, else expired
/// (then `storehub.coupon.expired` follows the `storehub.coupon.restored` event). `reason` is kept
/// on the coupon, not put in events.
pub fn restore_tx(
    tx: &Tx,
    coupon_id: u64,
    sale_id: u64,
    reason: &str,
    today: NaiveDate,
) -> Result<IssuedCoupon, TxError<CouponError>> {
    check_text("reason", reason, false).map_err(TxError::Rejected)?;
    let mut coupon = load(tx, coupon_id)?;
    let to = coupon.restore(sale_id, reason, today, tx.now()).map_err(TxError::Rejected)?;
    tx.put(TreeId::Coupons, &codec::u64_key(coupon_id), &coupon)?;
    let event = CouponEvent { sale_id: Some(sale_id), restored_to: Some(to), ..CouponEvent::of(&coupon) };
    tx.emit(EVENT_COUPON_RESTORED, Some(&coupon.code), &event)?;
    if to == RestoredTo::Expired {
        let event = CouponEvent { valid_to: Some(coupon.valid_to), ..CouponEvent::of(&coupon) };
        tx.emit(EVENT_COUPON_EXPIRED, Some(&coupon.code), &event)?;
    }
    Ok(coupon)
}

// --- Staff and jobs -------------------------------------------------------------------------------

/// Voids an issued coupon: staff member `by` (their staff id), with a reason kept on the coupon.
/// Emits `storehub.coupon.voided` (with `by`, without the reason).
pub fn void(store: &Store, coupon_id: u64, by: &str, reason: &str) -> Result<IssuedCoupon, CommitError<CouponError>> {
    check_text("staff id (by)", by, true).map_err(CommitError::Rejected)?;
    check_text("reason", reason, true).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        let mut coupon = load(tx, coupon_id)?;
        coupon.void(by, reason, tx.now()).map_err(TxError::Rejected)?;
        tx.put(TreeId::Coupons, &codec::u64_key(coupon_id), &coupon)?;
        let event = CouponEvent { by: Some(by.to_string()), ..CouponEvent::of(&coupon) };
        tx.emit(EVENT_COUPON_VOIDED, Some(&coupon.code), &event)?;
        Ok(coupon)
    })
}

/// The expiry job: every issued coupon whose last valid day is before shop-local `today` becomes
/// expired, with one `storehub.coupon.expired` event each; returns how many. Each coupon is
/// re-read in the commit that expires it, so one redeemed meanwhile stays redeemed and a second
/// run expires nothing. Commits in chunks of 1000.
pub fn expire_due(store: &Store, today: NaiveDate) -> Result<usize, CommitError<CouponError>> {
    let mut due = Vec::new();
    for item in store.scan::<IssuedCoupon>(TreeId::Coupons) {
        let (_, c) = item?;
        if c.state == CouponState::Issued && c.valid_to < today {
            due.push(c.id);
        }
    }
    let mut expired = 0;
    for part in due.chunks(EXPIRE_CHUNK) {
        expired += store.commit(|tx| {
            let mut n = 0;
            for &id in part {
                let mut coupon = load(tx, id)?;
                if coupon.expire_if_due(today, tx.now()) {
                    tx.put(TreeId::Coupons, &codec::u64_key(id), &coupon)?;
                    let event = CouponEvent { valid_to: Some(coupon.valid_to), ..CouponEvent::of(&coupon) };
                    tx.emit(EVENT_COUPON_EXPIRED, Some(&coupon.code), &event)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
    }
    Ok(expired)
}

// --- Reads -----------------------------------------------------------------------------------------

/// The coupon with this id.
pub fn coupon(store: &Store, id: u64) -> Result<Option<IssuedCoupon>, StoreError> {
    store.get(TreeId::Coupons, &codec::u64_key(id))
}

/// The coupon with this printable code; a malformed code is an error, an unknown one `None`.
pub fn coupon_by_code(store: &Store, code: &str) -> Result<Option<IssuedCoupon>, CouponError> {
    let id = parse_coupon_code(code).map_err(|source| CouponError::BadCode { code: code.to_string(), source })?;
    Ok(coupon(store, id)?)
}

/// A member's coupons, oldest first: only those in state issued, or all with `include_used`.
pub fn member_coupons(store: &Store, member_id: u64, include_used: bool) -> Result<Vec<IssuedCoupon>, StoreError> {
    let mut out = Vec::new();
    for key in store.keys_with_prefix(TreeId::CouponsByMember, &codec::u64_key(member_id)) {
        let Some(id) = coupon_of_index_key(&key?) else { continue };
        let c = coupon(store, id)?
            .ok_or_else(|| StoreError::Corrupt(format!("member {member_id}'s coupon index names missing coupon {id}")))?;
        if include_used || c.state == CouponState::Issued {
            out.push(c);
        }
    }
    Ok(out)
}

/// Counts by state of every template's coupons (one pass over the coupons).
pub fn all_template_stats(store: &Store) -> Result<BTreeMap<String, TemplateStats>, StoreError> {
    let mut out: BTreeMap<String, TemplateStats> = BTreeMap::new();
    for item in store.scan::<IssuedCoupon>(TreeId::Coupons) {
        let (_, c) = item?;
        let s = out.entry(c.template_id).or_default();
        s.issued += 1;
        match c.state {
            CouponState::Issued => s.outstanding += 1,
            CouponState::Redeemed { .. } => s.redeemed += 1,
            CouponState::Expired { .. } => s.expired += 1,
            CouponState::Voided { .. } => s.voided += 1,
        }
    }
    Ok(out)
}

/// Counts by state of one template's coupons, for campaign measurement.
pub fn template_stats(store: &Store, template_id: &str) -> Result<TemplateStats, CouponError> {
    if template(store, template_id)?.is_none() {
        return Err(CouponError::UnknownTemplate(template_id.to_string()));
    }
    Ok(all_template_stats(store)?.remove(template_id).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    fn noon() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 4, 0, 0).unwrap()
    }

    fn spend_200_save_30() -> CouponTemplate {
        CouponTemplate {
            id: "T-200-30".into(),
            name_zh: "满200减30券".into(),
            name_en: "¥30 off ¥200".into(),
            kind: CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000 },
            min_spend_fen: 0,
            categories: vec![],
            validity: Validity::DaysAfterIssue(7),
            per_member_limit: 1,
            active: true,
        }
    }

    /// Coupon 12 of member 1001, valid 25 Nov – 1 Dec.
    fn coupon_12() -> IssuedCoupon {
        IssuedCoupon {
            id: 12,
            code: "9900000000127".into(),
            template_id: "T-200-30".into(),
            member_id: 1001,
            campaign: Some("双十二".into()),
            issued_at: noon(),
            valid_from: day(11, 25),
            valid_to: day(12, 1),
            state: CouponState::Issued,
            last_restore: None,
        }
    }

    #[test]
    fn seven_days_after_issue_on_25_november_runs_to_1_december() {
        assert_eq!(Validity::DaysAfterIssue(7).dates(day(11, 25)), Some((day(11, 25), day(12, 1))));
        assert_eq!(Validity::DaysAfterIssue(1).dates(day(11, 25)), Some((day(11, 25), day(11, 25))));
        // Across the year end and a leap day.
        assert_eq!(
            Validity::DaysAfterIssue(30).dates(NaiveDate::from_ymd_opt(2028, 2, 15).unwrap()),
            Some((NaiveDate::from_ymd_opt(2028, 2, 15).unwrap(), NaiveDate::from_ymd_opt(2028, 3, 15).unwrap()))
        );
        let w = Validity::Window { from: day(12, 1), to: day(12, 31) };
        assert_eq!(w.dates(day(11, 25)), Some((day(12, 1), day(12, 31))));
        assert_eq!(Validity::DaysAfterIssue(2).dates(NaiveDate::MAX), None);
    }

    #[test]
    fn a_template_is_checked_field_by_field() {
        assert_eq!(check_template(&spend_200_save_30()), Ok(()));
        let field = |t: CouponTemplate| check_template(&t).unwrap_err().field;
        let base = spend_200_save_30;
        assert_eq!(field(CouponTemplate { validity: Validity::DaysAfterIssue(0), ..base() }), "validity.days_after_issue");
        assert_eq!(
            field(CouponTemplate { validity: Validity::Window { from: day(12, 31), to: day(12, 1) }, ..base() }),
            "validity.window.to"
        );
        assert_eq!(field(CouponTemplate { kind: CouponKind::Percent { bp: 12_000, max_off_fen: None }, ..base() }), "kind.bp");
        assert_eq!(field(CouponTemplate { kind: CouponKind::Fixed { off_fen: -500 }, ..base() }), "kind.off_fen");
        assert_eq!(field(CouponTemplate { kind: CouponKind::Fixed { off_fen: 0 }, ..base() }), "kind.off_fen");
        assert_eq!(field(CouponTemplate { min_spend_fen: -1, ..base() }), "min_spend_fen");
        assert_eq!(field(CouponTemplate { id: String::new(), ..base() }), "id");
        assert_eq!(field(CouponTemplate { categories: vec![" ".into()], ..base() }), "categories[0]");
    }

    #[test]
    fn the_stored_template_round_trips_every_kind() {
        for kind in [
            CouponKind::Fixed { off_fen: 500 },
            CouponKind::Percent { bp: 1000, max_off_fen: Some(2000) },
            CouponKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000 },
            CouponKind::FreeItem { sku: "SKU-010001".into() },
        ] {
            let t = CouponTemplate { kind, validity: Validity::Window { from: day(12, 1), to: day(12, 31) }, ..spend_200_save_30() };
            let bytes = codec::encode(&TemplateRecord::new(&t, 3, noon())).unwrap();
            let back = codec::decode::<TemplateRecord>(&bytes).unwrap();
            assert_eq!((back.template(), back.issued), (t, 3));
        }
        let c = coupon_12();
        assert_eq!(codec::decode::<IssuedCoupon>(&codec::encode(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn usable_only_by_its_member_within_its_dates() {
        let c = coupon_12();
        assert!(matches!(c.check_usable(None, day(11, 26)), Err(CouponError::MemberRequired { .. })));
        assert!(matches!(c.check_usable(Some(1002), day(11, 26)), Err(CouponError::NotOwner { .. })));
        assert!(matches!(c.check_usable(Some(1001), day(11, 24)), Err(CouponError::NotYetValid { .. })));
        assert!(c.check_usable(Some(1001), day(11, 25)).is_ok());
        assert!(c.check_usable(Some(1001), day(12, 1)).is_ok(), "the last day counts");
        let late = c.check_usable(Some(1001), day(12, 2)).unwrap_err().to_string();
        assert_eq!(late, "coupon 9900000000127 has expired: it was valid from 2026-11-25 to 2026-12-01");
    }

    #[test]
    fn redeem_then_restore_within_dates_gives_it_back() {
        let mut c = coupon_12();
        c.redeem(42, noon()).unwrap();
        assert_eq!(c.state, CouponState::Redeemed { sale_id: 42, at: noon() });
        let again = c.redeem(43, noon()).unwrap_err().to_string();
        assert!(again.contains("already used on sale 42"), "{again}");
        assert!(matches!(c.restore(41, "wrong sale", day(11, 27), noon()), Err(CouponError::NotRedeemedOn { .. })));
        assert_eq!(c.restore(42, "full return R-7", day(11, 27), noon()).unwrap(), RestoredTo::Issued);
        assert_eq!(c.state, CouponState::Issued);
        assert_eq!(c.last_restore.as_ref().map(|r| r.sale_id), Some(42));
        assert!(c.check_usable(Some(1001), day(11, 27)).is_ok());
    }

    #[test]
    fn a_restore_after_the_last_day_expires_it() {
        let mut c = coupon_12();
        c.redeem(42, noon()).unwrap();
        assert_eq!(c.restore(42, "full return", day(12, 2), noon()).unwrap(), RestoredTo::Expired);
        assert_eq!(c.state, CouponState::Expired { at: noon() });
        assert!(matches!(c.restore(42, "again", day(12, 2), noon()), Err(CouponError::NotRedeemedOn { state: "expired", .. })));
    }

    #[test]
    fn expiry_happens_once_and_only_after_the_last_day() {
        let mut c = coupon_12();
        assert!(!c.expire_if_due(day(12, 1), noon()), "still valid on its last day");
        assert!(c.expire_if_due(day(12, 2), noon()));
        assert!(!c.expire_if_due(day(12, 3), noon()), "already expired");
        let mut used = coupon_12();
        used.redeem(42, noon()).unwrap();
        assert!(!used.expire_if_due(day(12, 9), noon()), "a redeemed coupon never expires");
    }

    #[test]
    fn only_an_issued_coupon_can_be_voided() {
        let mut c = coupon_12();
        c.void("staff-07", "issued to the wrong member", noon()).unwrap();
        let msg = c.check_usable(Some(1001), day(11, 26)).unwrap_err().to_string();
        assert!(msg.contains("voided by staff-07") && msg.contains("issued to the wrong member"), "{msg}");
        assert!(matches!(c.void("staff-07", "again", noon()), Err(CouponError::NotVoidable { state: "voided", .. })));
        assert!(matches!(c.redeem(1, noon()), Err(CouponError::Voided { .. })));
    }

    #[test]
    fn index_and_count_keys_never_meet() {
        assert_eq!(coupon_of_index_key(&member_key(1001, 12)), Some(12));
        assert_eq!(coupon_of_index_key(&count_key(1001, "T")), None, "16 bytes, like an index key");
        assert_eq!(coupon_of_index_key(&count_key(1001, "T-200-30")), None);
        assert_eq!(
            coupon_of_index_key(&member_key(1001, crate::domain::coupon_code::MAX_COUPON_ID)),
            Some(crate::domain::coupon_code::MAX_COUPON_ID)
        );
    }

    #[test]
    fn a_members_file_names_the_bad_line() {
        assert_eq!(parse_member_ids("member_id\n1001\n\n# vip\n1002\r\n", "m.txt"), Ok(vec![1001, 1002]));
        assert_eq!(
            parse_member_ids("1001\n138****5678\n", "m.txt"),
            Err("m.txt:2: expected a member id (digits only), got \"138****5678\"\nnothing issued".to_string())
        );
        assert_eq!(parse_member_ids("\n# none\n", "m.txt"), Err("m.txt: holds no member ids".to_string()));
    }
}
