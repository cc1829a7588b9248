//! Members (会员): registration and lookup by phone, card or QR code, profiles and consent, points
//! (lots, ledger, debt), tiers, stored value (储值) and referrals, kept in the store.
//!
//! The rules are pure and live in `domain::loyalty` (and `domain::phone`); this module keeps their
//! state and applies their decisions, each change in one `Store::commit` with the events that
//! describe it. Store-level functions commit; `*_tx` functions run inside a caller's commit
//! (checkout's sale and return commits) and never commit themselves.
//!
//! State kept together: a [`Member`] holds its balance, its debt and its open point lots (a `Tx`
//! has no scans, so the lots live inside the member record; merged per expiry date, so bounded);
//! `PointsLedger` and `StoredValue` hold the entries, `MemberLedger` indexes them per member,
//! `MemberKeys` indexes phone, card and referral code. `members::check` verifies that they agree.
//! Boundary: PII (phone, name, birthday) never goes into an event or a log; events carry the
//! member id and a masked phone only.

pub mod analytics;
pub mod campaigns;
pub mod channel_report;
pub mod export;
pub mod history;
pub mod jobs;
pub mod merge;
pub mod messages;
pub mod online_orders;
mod points;
pub mod profile;
mod purchase;
pub mod recommend;
pub mod rules;
mod stored_value;
pub mod tickets;
mod verify;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::loyalty::lots::{self, ExpiringLot, PointLot};
use crate::domain::loyalty::member_code::{self, MemberCodeError};
use crate::domain::loyalty::referral::{self, ReferralError, ReferralState};
use crate::domain::loyalty::stored_value::StoredValueError;
use crate::domain::loyalty::PointsError;
use crate::domain::phone::{self, PhoneError};
use crate::staff::StaffError;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub use jobs::{
    birthday_rewards, evaluate_tiers, expire_points, BirthdaySummary, ExpiredSummary, MemberJob, TierJobSummary,
};
pub use points::{
    adjust_points, earn_tx, ledger, redeem_points_tx, restore_redeemed_tx, reverse_for_return_tx, Adjusted, Earned,
    PointsAdjusted, PointsEarned, PointsExpired, PointsLedgerEntry, PointsRedeemed, PointsRestored, PointsReversed,
    PointsSource, Redeemed, Restored, Reversed,
};
pub use purchase::record_purchase_tx;
pub use rules::LoyaltyRules;
pub use stored_value::{
    stored_value_ledger, stored_value_refund_tx, stored_value_spend_tx, topup, StoredValueChanged, StoredValueMoved,
    ToppedUp, TopUpDone,
};
pub use verify::check;

/// A member registered (data: [`MemberRegistered`]).
pub const EVENT_MEMBER_REGISTERED: &str = "storehub.member.registered";
/// A member's tier changed (data: [`TierChanged`]).
pub const EVENT_TIER_CHANGED: &str = "storehub.member.tier_changed";
/// Consent to SMS or WeChat messages was given or withdrawn (data: [`ConsentChanged`]).
pub const EVENT_CONSENT_CHANGED: &str = "storehub.member.consent_changed";
/// Profile fields changed (data: [`ProfileUpdated`]: the names of the fields, never the values).
pub const EVENT_PROFILE_UPDATED: &str = "storehub.member.profile_updated";
/// Points were credited: a sale, a referral, a birthday (data: [`PointsEarned`]).
pub const EVENT_POINTS_EARNED: &str = "storehub.points.earned";
/// Points paid part of a sale (data: [`PointsRedeemed`]).
pub const EVENT_POINTS_REDEEMED: &str = "storehub.points.redeemed";
/// Points expired (data: [`PointsExpired`]).
pub const EVENT_POINTS_EXPIRED: &str = "storehub.points.expired";
/// A return took back earned points, any shortfall becoming debt (data: [`PointsReversed`]).
pub const EVENT_POINTS_REVERSED: &str = "storehub.points.reversed";
/// A return gave back points that paid for the goods (data: [`PointsRestored`]).
pub const EVENT_POINTS_RESTORED: &str = "storehub.points.restored";
/// Staff added or removed points by hand (data: [`PointsAdjusted`]).
pub const EVENT_POINTS_ADJUSTED: &str = "storehub.points.adjusted";
/// Money and its bonus were put on a member's card (data: [`ToppedUp`]).
pub const EVENT_STORED_VALUE_TOPPED_UP: &str = "storehub.stored_value.topped_up";
/// Stored value paid part of a sale (data: [`StoredValueChanged`]).
pub const EVENT_STORED_VALUE_SPENT: &str = "storehub.stored_value.spent";
/// A return put stored value back (data: [`StoredValueChanged`]).
pub const EVENT_STORED_VALUE_REFUNDED: &str = "storehub.stored_value.refunded";

/// Longest member name, in characters.
const NAME_MAX_CHARS: usize = 64;
/// Longest reason of a points adjustment or reference of a top-up, in characters.
const NOTE_MAX_CHARS: usize = 200;

/// Gender, when the member gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
}

impl Gender {
    /// `f` / `female` / `m` / `male`, any case.
    pub fn parse(s: &str) -> Option<Gender> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f" | "female" => Some(Gender::Female),
            "m" | "male" => Some(Gender::Male),
            _ => None,
        }
    }
}

/// How the member joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// At the till or the service desk.
    InStore,
    /// In the shop's WeChat mini program.
    MiniProgram,
    /// Through another member's referral code.
    Referral,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::InStore, Channel::MiniProgram, Channel::Referral];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InStore => "in_store",
            Channel::MiniProgram => "mini_program",
            Channel::Referral => "referral",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// When the member consented to marketing messages; `None` = not given (or withdrawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Consent {
    pub sms: Option<DateTime<Utc>>,
    pub wechat: Option<DateTime<Utc>>,
}

/// A member's own referral code, who referred them, and what that referral has paid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// The code this member shares (`domain::loyalty::referral` format).
    pub code: String,
    /// The member whose code this member registered with.
    pub referred_by: Option<u64>,
    /// Rewards already given for this member's referral (exactly once each).
    pub state: ReferralState,
}

/// Spend and visits of one shop-local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    pub date: NaiveDate,
    pub spend_fen: i64,
    pub visits: u32,
}

/// Purchase statistics. `days` covers the rolling 12 months only (older days are dropped on each
/// write), which is what tiers look at.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemberStats {
    /// Lifetime visits.
    pub visits: u32,
    /// Lifetime spend, fen.
    pub spend_fen: i64,
    pub first_purchase_at: Option<DateTime<Utc>>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    /// Per-day totals of the rolling 12 months, oldest first.
    pub days: Vec<DayStats>,
}

/// A member as stored. Invariants (checked by [`check`]): `points` = Σ `lots[].remaining` = Σ of
/// the member's points ledger deltas ≥ 0; `points_debt` = Σ of their debt changes ≥ 0;
/// `stored_value_fen` = Σ of their stored-value entries ≥ 0; `lots` holds open lots only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// From 1, in registration order.
    pub id: u64,
    /// 11 digits (normalized).
    pub phone: String,
    pub name: String,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub channel: Channel,
    pub consent: Consent,
    pub registered_at: DateTime<Utc>,
    /// Tier id from the ladder; "" when the shop has no tiers.
    pub tier: String,
    /// Shop-local day the member entered the tier.
    pub tier_since: NaiveDate,
    /// First day the tier job found the member below their tier (grace running).
    pub below_tier_since: Option<NaiveDate>,
    pub referral: Referral,
    /// Points balance: Σ lots' remaining.
    pub points: i64,
    /// Points taken back by returns that the balance could not cover; settled by future credits.
    pub points_debt: i64,
    /// Open lots (remaining > 0), at most one per expiry date.
    pub lots: Vec<PointLot>,
    /// Card balance, fen.
    pub stored_value_fen: i64,
    pub stats: MemberStats,
    /// Year of the last birthday reward.
    pub birthday_reward_year: Option<i32>,
    /// The staff id who registered the member at the hub (`None`: imported, HQ or before
    /// version 2). Counts as "members registered" in staff performance.
    pub registered_by: Option<String>,
    /// Set when this member was merged into another (`storehub member merge`): the surviving
    /// member's id. A merged member keeps no points, lots or stored value (they moved to the
    /// survivor); its phone, card and referral keys lead to the survivor (`members::merge`).
    pub merged_into: Option<u64>,
    /// Set when the member's personal data was erased (`storehub member erase`,
    /// `privacy::subject`): phone, name, birthday and gender are empty, the lookup keys gone; the
    /// record stays so sales and ledgers keep their member id, anonymised.
    pub erased_at: Option<DateTime<Utc>>,
}

impl Record for Member {
    const VERSION: u8 = 3;
    const NAME: &'static str = "member";

    /// Version 1 had neither `registered_by` nor `merged_into`; version 2 no `erased_at`.
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, crate::store::StoreError> {
        match version {
            1 => codec::upgrade_by_appending(bytes, &(None::<String>, None::<u64>, None::<DateTime<Utc>>)),
            2 => codec::upgrade_by_appending(bytes, &(None::<DateTime<Utc>>,)),
            _ => Err(crate::store::StoreError::Corrupt(format!("member record has unknown version tag {version}"))),
        }
    }
}

impl std::fmt::Debug for Member {
    /// PII stays out of logs: the phone is masked, name and birthday hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.id)
            .field("phone", &phone::mask(&self.phone))
            .field("name", &"***")
            .field("gender", &self.gender)
            .field("birthday", &self.birthday.map(|_| "***"))
            .field("channel", &self.channel)
            .field("consent", &self.consent)
            .field("registered_at", &self.registered_at)
            .field("tier", &self.tier)
            .field("tier_since", &self.tier_since)
            .field("below_tier_since", &self.below_tier_since)
            .field("referral", &self.referral)
            .field("points", &self.points)
            .field("points_debt", &self.points_debt)
            .field("lots", &self.lots)
            .field("stored_value_fen", &self.stored_value_fen)
            .field("stats", &self.stats)
            .field("birthday_reward_year", &self.birthday_reward_year)
            .field("registered_by", &self.registered_by)
            .field("merged_into", &self.merged_into)
            .field("erased_at", &self.erased_at)
            .finish()
    }
}

impl Member {
    /// The member's card number (`8` + 10-digit id + check digit).
    pub fn card_number(&self) -> Result<String, MemberCodeError> {
        member_code::card_number(self.id)
    }

    /// The payload of the member's QR code.
    pub fn qr_payload(&self) -> Result<String, MemberCodeError> {
        member_code::qr_payload(self.id)
    }

    /// `138****5678`.
    pub fn masked_phone(&self) -> String {
        phone::mask(&self.phone)
    }

    /// The tier id, `None` when the shop has no tiers.
    pub fn tier_id(&self) -> Option<&str> {
        (!self.tier.is_empty()).then_some(self.tier.as_str())
    }

    /// Points usable on `today` (lots not yet expired; the expiry job removes the others).
    pub fn available_points(&self, today: NaiveDate) -> i64 {
        lots::available(&self.lots, today)
    }

    /// Spend and visits over the rolling 12 months ending `today`.
    pub fn rolling(&self, today: NaiveDate) -> (i64, u32) {
        let totals: Vec<(NaiveDate, i64)> = self.stats.days.iter().map(|d| (d.date, d.spend_fen)).collect();
        let spend = crate::domain::loyalty::tiers::rolling_spend(&totals, today);
        let (first, last) = crate::domain::loyalty::tiers::rolling_window(today);
        let visits = self
            .stats
            .days
            .iter()
            .filter(|d| first <= d.date && d.date <= last)
            .fold(0u32, |s, d| s.saturating_add(d.visits));
        (spend, visits)
    }
}

/// A member as registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// Any accepted format (`+86 138-1234-5678`, …).
    pub phone: String,
    pub name: String,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub channel: Channel,
    pub consent_sms: bool,
    pub consent_wechat: bool,
    /// The referral code of the member who referred this one.
    pub referral_code: Option<String>,
}

impl NewMember {
    /// A member signed up at the till with only a phone and a name: no gender, birthday,
    /// consents or referrer.
    pub fn in_store(phone: impl Into<String>, name: impl Into<String>) -> NewMember {
        NewMember {
            phone: phone.into(),
            name: name.into(),
            gender: None,
            birthday: None,
            channel: Channel::InStore,
            consent_sms: false,
            consent_wechat: false,
            referral_code: None,
        }
    }
}

/// A change of profile: `None` leaves a field as it is; `Some(None)` clears an optional one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileUpdate {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub gender: Option<Option<Gender>>,
    pub birthday: Option<Option<NaiveDate>>,
}

/// Data of `storehub.member.registered`: no name, birthday or full phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRegistered {
    pub id: u64,
    /// `138****5678`.
    pub phone: String,
    pub channel: Channel,
    pub tier: String,
    pub referred_by: Option<u64>,
}

/// Data of `storehub.member.tier_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChanged {
    pub member_id: u64,
    pub from: String,
    pub to: String,
    pub reason: crate::domain::loyalty::tiers::TierChangeReason,
}

/// Data of `storehub.member.consent_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChanged {
    pub member_id: u64,
    pub sms: bool,
    pub wechat: bool,
}

/// Data of `storehub.member.profile_updated`: which fields changed, never their values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdated {
    pub member_id: u64,
    pub fields: Vec<String>,
    /// The new masked phone, when the phone changed.
    pub phone: Option<String>,
}

/// Why a member operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error("phone number {phone} is already registered (member {member_id})")]
    DuplicatePhone { phone: String, member_id: u64 },
    #[error("member name: must be 1 to 64 characters without control characters, got {0} characters")]
    BadName(usize),
    #[error("birthday {0} is in the future")]
    FutureBirthday(NaiveDate),
    #[error(transparent)]
    ReferralCode(#[from] ReferralError),
    #[error("referral code {0} belongs to no member of this shop")]
    UnknownReferralCode(String),
    #[error("member code: {0}")]
    Code(#[from] MemberCodeError),
    #[error("no member {0}")]
    Unknown(u64),
    /// What was typed is not echoed: it may be a mistyped phone number.
    #[error("not a phone number ({phone}) nor a member card or QR code ({code})")]
    BadQuery { phone: PhoneError, code: MemberCodeError },
    #[error("no member with {0}")]
    NotFound(String),
    #[error("member {member_id}: {source}")]
    Points { member_id: u64, source: PointsError },
    #[error("member {member_id}: {source}")]
    StoredValue { member_id: u64, source: StoredValueError },
    #[error("a points adjustment must add or remove at least 1 point")]
    ZeroAdjustment,
    #[error("{what}: must be 1 to 200 characters without control characters, got {len} characters")]
    BadNote { what: &'static str, len: usize },
    #[error(transparent)]
    Staff(#[from] StaffError),
    /// The member was merged into another (`members::merge`) and is closed.
    #[error("member {id} was merged into member {into} and is closed; use member {into}")]
    Merged { id: u64, into: u64 },
}

fn rejected<T>(e: MemberError) -> Result<T, TxError<MemberError>> {
    Err(TxError::Rejected(e))
}

// --- keys ---------------------------------------------------------------------------------------

/// `MemberKeys` key of a normalized phone: a keyed hash under the PII key
/// (`privacy::phone_index_key`), so the index holds no phone number.
pub(crate) fn phone_key(phone: &str) -> Vec<u8> {
    crate::privacy::phone_index_key(phone)
}

/// `MemberKeys` key of a card number.
pub(crate) fn card_key(card: &str) -> Vec<u8> {
    format!("card/{card}").into_bytes()
}

/// `MemberKeys` key of a referral code.
pub(crate) fn ref_key(code: &str) -> Vec<u8> {
    format!("ref/{code}").into_bytes()
}

/// `MemberLedger` prefix of a member's points entries.
pub(crate) const POINTS_INDEX: u8 = b'P';
/// `MemberLedger` prefix of a member's stored-value entries.
pub(crate) const STORED_VALUE_INDEX: u8 = b'S';

/// `MemberLedger` key: kind ++ member id ++ entry id.
pub(crate) fn ledger_index_key(kind: u8, member_id: u64, entry_id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(kind);
    k.extend_from_slice(&codec::u64_key(member_id));
    k.extend_from_slice(&codec::u64_key(entry_id));
    k
}

/// `MemberLedger` prefix of one member's entries of one kind.
pub(crate) fn ledger_index_prefix(kind: u8, member_id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(kind);
    k.extend_from_slice(&codec::u64_key(member_id));
    k
}

// --- reading ------------------------------------------------------------------------------------

/// The member `id` inside a commit, refused when unknown or merged into another (a merged
/// member is closed: nothing may change it again).
pub fn member_tx(tx: &Tx, id: u64) -> Result<Member, TxError<MemberError>> {
    let m = tx.get::<Member, MemberError>(TreeId::Members, &codec::u64_key(id))?.ok_or(TxError::Rejected(MemberError::Unknown(id)))?;
    match m.merged_into {
        Some(into) => Err(TxError::Rejected(MemberError::Merged { id, into })),
        None => Ok(m),
    }
}

/// Writes a member back inside a commit.
pub(crate) fn put_member(tx: &Tx, m: &Member) -> Result<(), TxError<MemberError>> {
    tx.put(TreeId::Members, &codec::u64_key(m.id), m)
}

/// The member `id`.
pub fn member(store: &Store, id: u64) -> Result<Option<Member>, StoreError> {
    store.get::<Member>(TreeId::Members, &codec::u64_key(id))
}

/// How a typed or scanned query names a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberQuery {
    /// A normalized phone number.
    Phone(String),
    /// A member id read from a card number or QR payload (check digit verified).
    Code(u64),
}

impl MemberQuery {
    /// Reads a phone (any accepted format), a card number or a QR payload. A mistyped card
    /// (wrong check digit) is refused rather than read as another member.
    pub fn parse(query: &str) -> Result<MemberQuery, MemberError> {
        let phone_err = match phone::normalize(query) {
            Ok(p) => return Ok(MemberQuery::Phone(p)),
            Err(e) => e,
        };
        match member_code::parse_member_code(query) {
            Ok(id) => Ok(MemberQuery::Code(id)),
            Err(code) => Err(MemberError::BadQuery { phone: phone_err, code }),
        }
    }

    /// What was asked for, safe to show and log (a phone is masked).
    pub fn describe(&self) -> String {
        match self {
            MemberQuery::Phone(p) => format!("phone {}", phone::mask(p)),
            MemberQuery::Code(id) => match member_code::card_number(*id) {
                Ok(card) => format!("card {card}"),
                Err(_) => format!("member code for id {id}"),
            },
        }
    }

    /// The `MemberKeys` key to look up.
    fn key(&self) -> Option<Vec<u8>> {
        match self {
            MemberQuery::Phone(p) => Some(phone_key(p)),
            MemberQuery::Code(id) => member_code::card_number(*id).ok().map(|c| card_key(&c)),
        }
    }
}

/// The member a phone (any accepted format), card number or QR payload names; `None` when the
/// query is none of these or names nobody.
pub fn find(store: &Store, query: &str) -> Result<Option<Member>, StoreError> {
    match MemberQuery::parse(query) {
        Ok(q) => find_by(store, &q),
        Err(_) => Ok(None),
    }
}

/// The member a parsed query names.
pub fn find_by(store: &Store, q: &MemberQuery) -> Result<Option<Member>, StoreError> {
    let Some(key) = q.key() else { return Ok(None) };
    match store.get_raw(TreeId::MemberKeys, &key)? {
        Some(id) => member(store, codec::key_u64(&id)?),
        None => Ok(None),
    }
}

/// [`find`] that says why nobody was found: the query is malformed, or names nobody.
pub fn find_or_explain(store: &Store, query: &str) -> Result<Member, CommitError<MemberError>> {
    let q = MemberQuery::parse(query).map_err(CommitError::Rejected)?;
    find_by(store, &q)?.ok_or_else(|| CommitError::Rejected(MemberError::NotFound(q.describe())))
}

/// Every member in id order.
pub fn all_members(store: &Store) -> Result<Vec<Member>, StoreError> {
    store.scan::<Member>(TreeId::Members).map(|r| r.map(|(_, m)| m)).collect()
}

/// Number of members.
pub fn member_count(store: &Store) -> usize {
    store.count(TreeId::Members)
}

/// Lots of member `id` with points expiring within `within_days` of `today` (both inclusive).
pub fn expiring_soon(
    store: &Store,
    member_id: u64,
    within_days: u32,
    today: NaiveDate,
) -> Result<Vec<ExpiringLot>, CommitError<MemberError>> {
    let m = member(store, member_id)?.ok_or(CommitError::Rejected(MemberError::Unknown(member_id)))?;
    Ok(lots::expiring_soon(&m.lots, today, within_days))
}

// --- registration and profile -------------------------------------------------------------------

fn check_name(name: &str) -> Result<String, MemberError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(MemberError::BadName(n));
    }
    Ok(name.to_string())
}

/// Checks a free-text note (adjustment reason, top-up reference) and returns it trimmed.
pub(crate) fn check_note(what: &'static str, note: &str) -> Result<String, MemberError> {
    let note = note.trim();
    let len = note.chars().count();
    if len == 0 || len > NOTE_MAX_CHARS || note.chars().any(char::is_control) {
        return Err(MemberError::BadNote { what, len });
    }
    Ok(note.to_string())
}

/// A new member's fields as they will be stored, checked before anything is written: the
/// normalized phone, the trimmed name, a birthday not after `today`, and the referrer's id from
/// the referral code's own check (whether that member exists is checked in the commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedMember {
    pub phone: String,
    pub name: String,
    pub referrer: Option<u64>,
}

/// Checks a registration without the store (the CLI does this before it opens a database).
pub fn check_new_member(new: &NewMember, today: NaiveDate) -> Result<CheckedMember, MemberError> {
    let phone = phone::normalize(&new.phone)?;
    let name = check_name(&new.name)?;
    if let Some(b) = new.birthday.filter(|b| *b > today) {
        return Err(MemberError::FutureBirthday(b));
    }
    let referrer = match new.referral_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Some(referral::parse_referral_code(code)?),
        None => None,
    };
    Ok(CheckedMember { phone, name, referrer })
}

/// Registers a member: checks the phone (refusing one already registered, naming it masked),
/// assigns the next id, card number and referral code, starts them in the ladder's first tier, and
/// with a referral code gives both members their sign-up rewards (once). A refused registration
/// writes nothing.
pub fn register(store: &Store, new: &NewMember, rules: &LoyaltyRules) -> Result<Member, CommitError<MemberError>> {
    register_by(store, new, rules, None)
}

/// [`register`] by a staff member at the till or the dashboard (`by`: their staff id, an
/// active account allowed to register members, checked in the same commit). The id is kept as
/// the member's `registered_by`, which `staff::performance` credits ("members registered") and
/// `staff::commission` pays for.
pub fn register_by(store: &Store, new: &NewMember, rules: &LoyaltyRules, by: Option<&str>) -> Result<Member, CommitError<MemberError>> {
    let today = rules.today(store.clock().now());
    let checked = check_new_member(new, today).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        if let Some(staff) = by {
            crate::staff::authorize_in_tx::<MemberError>(tx, staff, crate::domain::staff::Action::RegisterMembers)?;
        }
        register_in_tx_by(tx, new, &checked, rules, by)
    })
}

/// [`register`] inside a caller's commit; `checked` is [`check_new_member`]'s result for `new`.
pub fn register_in_tx(
    tx: &Tx,
    new: &NewMember,
    checked: &CheckedMember,
    rules: &LoyaltyRules,
) -> Result<Member, TxError<MemberError>> {
    register_in_tx_by(tx, new, checked, rules, None)
}

/// [`register_in_tx`] naming the staff who registered the member (not checked here).
fn register_in_tx_by(
    tx: &Tx,
    new: &NewMember,
    checked: &CheckedMember,
    rules: &LoyaltyRules,
    by: Option<&str>,
) -> Result<Member, TxError<MemberError>> {
    let now = tx.now();
    let today = rules.today(now);
    if let Some(owner) = tx.get_raw::<MemberError>(TreeId::MemberKeys, &phone_key(&checked.phone))? {
        return rejected(MemberError::DuplicatePhone { phone: phone::mask(&checked.phone), member_id: codec::key_u64(&owner)? });
    }
    let referrer = match checked.referrer {
        Some(referrer_id) => {
            let code = referral::referral_code(referrer_id).map_err(|e| TxError::Rejected(e.into()))?;
            let Some(raw) = tx.get_raw::<MemberError>(TreeId::MemberKeys, &ref_key(&code))? else {
                return rejected(MemberError::UnknownReferralCode(code));
            };
            Some(member_tx(tx, codec::key_u64(&raw)?)?)
        }
        None => None,
    };
    let id = tx.next_seq::<MemberError>(TreeId::Members)?;
    let card = member_code::card_number(id).map_err(|e| TxError::Rejected(e.into()))?;
    let code = referral::referral_code(id).map_err(|e| TxError::Rejected(e.into()))?;
    if let Some(r) = &referrer {
        referral::check_referral(r.id, id).map_err(|e| TxError::Rejected(e.into()))?;
    }
    let stamp = |given: bool| given.then_some(now);
    let mut member = Member {
        id,
        phone: checked.phone.clone(),
        name: checked.name.clone(),
        gender: new.gender,
        birthday: new.birthday,
        channel: new.channel,
        consent: Consent { sms: stamp(new.consent_sms), wechat: stamp(new.consent_wechat) },
        registered_at: now,
        tier: rules.base_tier(),
        tier_since: today,
        below_tier_since: None,
        referral: Referral { code: code.clone(), referred_by: referrer.as_ref().map(|r| r.id), state: ReferralState::default() },
        points: 0,
        points_debt: 0,
        lots: Vec::new(),
        stored_value_fen: 0,
        stats: MemberStats::default(),
        birthday_reward_year: None,
        registered_by: by.map(str::to_string),
        merged_into: None,
        erased_at: None,
    };
    let id_bytes = codec::u64_key(id);
    tx.put_raw::<MemberError>(TreeId::MemberKeys, &phone_key(&member.phone), &id_bytes)?;
    tx.put_raw::<MemberError>(TreeId::MemberKeys, &card_key(&card), &id_bytes)?;
    tx.put_raw::<MemberError>(TreeId::MemberKeys, &ref_key(&code), &id_bytes)?;
    tx.emit::<MemberError>(
        EVENT_MEMBER_REGISTERED,
        Some(&id.to_string()),
        &MemberRegistered {
            id,
            phone: member.masked_phone(),
            channel: member.channel,
            tier: member.tier.clone(),
            referred_by: member.referral.referred_by,
        },
    )?;
    if let Some(mut referrer) = referrer {
        let (award, state) = member.referral.state.on_signup(&rules.referral);
        member.referral.state = state;
        let reference = format!("referral:{id}");
        points::credit_and_announce(tx, &mut member, award.referee_points, PointsSource::ReferralSignup, &reference, rules)?;
        points::credit_and_announce(tx, &mut referrer, award.referrer_points, PointsSource::ReferralSignup, &reference, rules)?;
        put_member(tx, &referrer)?;
    }
    put_member(tx, &member)?;
    let source = match (by, new.channel) {
        (Some(staff), _) => ConsentSource::new(staff, "registration"),
        (None, Channel::MiniProgram) => ConsentSource::new("member", "mini_program"),
        (None, _) => ConsentSource::new("system", "registration"),
    };
    record_consent_tx(tx, &member, &source)?;
    Ok(member)
}

/// Gives (`Some(true)`) or withdraws (`Some(false)`) consent to SMS and WeChat messages; `None`
/// leaves one as it is. Giving consent already given keeps its original time.
/// Recorded in the consent history as by `system` through `api` (a library caller).
pub fn set_consent(
    store: &Store,
    member_id: u64,
    sms: Option<bool>,
    wechat: Option<bool>,
) -> Result<Member, CommitError<MemberError>> {
    store.commit(|tx| set_consent_in_tx(tx, member_id, sms, wechat, &ConsentSource::new("system", "api")))
}

/// [`set_consent`] inside a caller's commit; a change is kept in the member's consent history
/// with `source` (who, through which channel).
pub fn set_consent_in_tx(
    tx: &Tx,
    member_id: u64,
    sms: Option<bool>,
    wechat: Option<bool>,
    source: &ConsentSource,
) -> Result<Member, TxError<MemberError>> {
    let mut m = member_tx(tx, member_id)?;
    let now = tx.now();
    let before = m.consent;
    let apply = |slot: &mut Option<DateTime<Utc>>, given: Option<bool>| match given {
        Some(true) if slot.is_none() => *slot = Some(now),
        Some(false) => *slot = None,
        _ => {}
    };
    apply(&mut m.consent.sms, sms);
    apply(&mut m.consent.wechat, wechat);
    if m.consent != before {
        put_member(tx, &m)?;
        let data = ConsentChanged { member_id, sms: m.consent.sms.is_some(), wechat: m.consent.wechat.is_some() };
        tx.emit::<MemberError>(EVENT_CONSENT_CHANGED, Some(&member_id.to_string()), &data)?;
        record_consent_tx(tx, &m, source)?;
    }
    Ok(m)
}

/// Who changed a member's consent and through which channel: `by` a staff id, `hq`, `cli`,
/// `system`; `via` `registration`, `page`, `hq`, `api`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentSource {
    pub by: String,
    pub via: String,
}

impl ConsentSource {
    pub fn new(by: &str, via: &str) -> ConsentSource {
        ConsentSource { by: by.to_string(), via: via.to_string() }
    }
}

/// One consent change: the state after it, when, by whom and through which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChange {
    pub at: DateTime<Utc>,
    pub sms: bool,
    pub wechat: bool,
    pub by: String,
    pub via: String,
}

/// A member's consent history, oldest first (`TreeId::ConsentHistory`, key = member id): every
/// consent state since registration. Holds no personal data beyond the member id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentHistory(pub Vec<ConsentChange>);

impl Record for ConsentHistory {
    const NAME: &'static str = "consent history";
}

/// Appends the member's current consent state to their history.
pub fn record_consent_tx<E>(tx: &Tx, m: &Member, source: &ConsentSource) -> Result<(), TxError<E>> {
    let key = codec::u64_key(m.id);
    let mut h: ConsentHistory = tx.get(TreeId::ConsentHistory, &key)?.unwrap_or_default();
    h.0.push(ConsentChange {
        at: tx.now(),
        sms: m.consent.sms.is_some(),
        wechat: m.consent.wechat.is_some(),
        by: source.by.clone(),
        via: source.via.clone(),
    });
    tx.put(TreeId::ConsentHistory, &key, &h)
}

/// A member's consent history, oldest first (empty for members registered before it was kept).
pub fn consent_history(store: &Store, member_id: u64) -> Result<Vec<ConsentChange>, StoreError> {
    Ok(store.get::<ConsentHistory>(TreeId::ConsentHistory, &codec::u64_key(member_id))?.unwrap_or_default().0)
}

/// Changes profile fields. A new phone is checked like at registration, refused when another
/// member has it, and re-keyed in the same commit.
pub fn update_profile(
    store: &Store,
    member_id: u64,
    update: &ProfileUpdate,
    rules: &LoyaltyRules,
) -> Result<Member, CommitError<MemberError>> {
    let today = rules.today(store.clock().now());
    let checked = check_profile_update(update, today).map_err(CommitError::Rejected)?;
    store.commit(|tx| update_profile_in_tx(tx, member_id, &checked))
}

/// A profile change checked without the store: the phone normalized, the name trimmed and
/// checked like at registration, a birthday not after shop-local `today`.
pub fn check_profile_update(update: &ProfileUpdate, today: NaiveDate) -> Result<ProfileUpdate, MemberError> {
    let phone = match &update.phone {
        Some(p) => Some(phone::normalize(p)?),
        None => None,
    };
    let name = match &update.name {
        Some(n) => Some(check_name(n)?),
        None => None,
    };
    if let Some(Some(b)) = update.birthday.filter(|b| b.is_some_and(|b| b > today)) {
        return Err(MemberError::FutureBirthday(b));
    }
    Ok(ProfileUpdate { phone, name, gender: update.gender, birthday: update.birthday })
}

/// [`update_profile`] inside a caller's commit; `checked` comes from [`check_profile_update`].
/// Emits `storehub.member.profile_updated` (field names only) when something changed.
pub fn update_profile_in_tx(tx: &Tx, member_id: u64, checked: &ProfileUpdate) -> Result<Member, TxError<MemberError>> {
    let (phone, name, update) = (&checked.phone, &checked.name, checked);
    let mut m = member_tx(tx, member_id)?;
    let mut fields = Vec::new();
    if let Some(p) = phone.as_ref().filter(|p| **p != m.phone) {
        if let Some(owner) = tx.get_raw::<MemberError>(TreeId::MemberKeys, &phone_key(p))? {
            return rejected(MemberError::DuplicatePhone { phone: phone::mask(p), member_id: codec::key_u64(&owner)? });
        }
        tx.remove::<MemberError>(TreeId::MemberKeys, &phone_key(&m.phone))?;
        tx.put_raw::<MemberError>(TreeId::MemberKeys, &phone_key(p), &codec::u64_key(member_id))?;
        m.phone = p.clone();
        fields.push("phone");
    }
    if let Some(n) = name.as_ref().filter(|n| **n != m.name) {
        m.name = n.clone();
        fields.push("name");
    }
    if let Some(g) = update.gender.filter(|g| *g != m.gender) {
        m.gender = g;
        fields.push("gender");
    }
    if let Some(b) = update.birthday.filter(|b| *b != m.birthday) {
        m.birthday = b;
        fields.push("birthday");
    }
    if !fields.is_empty() {
        put_member(tx, &m)?;
        let data = ProfileUpdated {
            member_id,
            phone: fields.contains(&"phone").then(|| m.masked_phone()),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        tx.emit::<MemberError>(EVENT_PROFILE_UPDATED, Some(&member_id.to_string()), &data)?;
    }
    Ok(m)
}

// --- views --------------------------------------------------------------------------------------

/// Days ahead that "expiring soon" looks by default (screens, `storehub member points`).
pub const EXPIRING_SOON_DAYS: u32 = 30;

/// A member as shown to shop staff (CLI, dashboard): the phone masked, the codes spelled out,
/// the balances and the rolling 12 months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub id: u64,
    pub phone: String,
    pub name: String,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    pub channel: Channel,
    pub card_number: String,
    pub qr_payload: String,
    pub referral_code: String,
    pub referred_by: Option<u64>,
    pub tier: String,
    pub tier_since: NaiveDate,
    pub below_tier_since: Option<NaiveDate>,
    pub points: i64,
    pub points_available: i64,
    pub points_debt: i64,
    pub stored_value_fen: i64,
    pub visits: u32,
    pub spend_fen: i64,
    pub spend_12m_fen: i64,
    pub visits_12m: u32,
    pub registered_at: DateTime<Utc>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    pub sms_consent: bool,
    pub wechat_consent: bool,
}

impl MemberView {
    pub fn of(m: &Member, today: NaiveDate) -> MemberView {
        let (spend_12m_fen, visits_12m) = m.rolling(today);
        MemberView {
            id: m.id,
            phone: m.masked_phone(),
            name: m.name.clone(),
            gender: m.gender,
            birthday: m.birthday,
            channel: m.channel,
            card_number: m.card_number().unwrap_or_default(),
            qr_payload: m.qr_payload().unwrap_or_default(),
            referral_code: m.referral.code.clone(),
            referred_by: m.referral.referred_by,
            tier: m.tier.clone(),
            tier_since: m.tier_since,
            below_tier_since: m.below_tier_since,
            points: m.points,
            points_available: m.available_points(today),
            points_debt: m.points_debt,
            stored_value_fen: m.stored_value_fen,
            visits: m.stats.visits,
            spend_fen: m.stats.spend_fen,
            spend_12m_fen,
            visits_12m,
            registered_at: m.registered_at,
            last_purchase_at: m.stats.last_purchase_at,
            sms_consent: m.consent.sms.is_some(),
            wechat_consent: m.consent.wechat.is_some(),
        }
    }
}

/// A member's points as shown at the desk: balance, what is usable today, debt, the lots, and
/// what expires within [`EXPIRING_SOON_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsView {
    pub member_id: u64,
    pub phone: String,
    pub points: i64,
    pub points_available: i64,
    pub points_debt: i64,
    pub lots: Vec<PointLot>,
    pub expiring_soon: Vec<ExpiringLot>,
}

impl PointsView {
    pub fn of(m: &Member, today: NaiveDate) -> PointsView {
        PointsView {
            member_id: m.id,
            phone: m.masked_phone(),
            points: m.points,
            points_available: m.available_points(today),
            points_debt: m.points_debt,
            lots: m.lots.clone(),
            expiring_soon: lots::expiring_soon(&m.lots, today, EXPIRING_SOON_DAYS),
        }
    }
}

// --- staff screens: search, tiers, one-commit edits ---------------------------------------------

/// One page of a member search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSearch {
    pub members: Vec<Member>,
    /// More members match after this page.
    pub more: bool,
}

/// Longest search text, in characters; longer text matches nobody.
pub const SEARCH_MAX_CHARS: usize = 64;

/// Finds members for the staff screens. A whole phone number (any accepted format), card number
/// or QR payload finds its member by key, one read. Other text walks the members newest first
/// and matches names (contains) and, when it is 4 to 10 digits, the end of phone numbers
/// (手机尾号). Empty text lists the newest members. `offset` and `limit` page the matches.
pub fn search(store: &Store, query: &str, offset: usize, limit: usize) -> Result<MemberSearch, StoreError> {
    let q = query.trim();
    if q.chars().count() > SEARCH_MAX_CHARS {
        return Ok(MemberSearch { members: Vec::new(), more: false });
    }
    if let Ok(parsed) = MemberQuery::parse(q) {
        let found = find_by(store, &parsed)?;
        let members: Vec<Member> = found.into_iter().skip(offset).take(limit).collect();
        return Ok(MemberSearch { members, more: false });
    }
    let tail = (q.len() >= 4 && q.len() <= 10 && q.bytes().all(|b| b.is_ascii_digit())).then_some(q);
    let mut members = Vec::new();
    let mut skipped = 0;
    for item in store.scan_rev::<Member>(TreeId::Members) {
        let (_, m) = item?;
        let hit = q.is_empty() || m.name.contains(q) || tail.is_some_and(|t| m.phone.ends_with(t));
        if !hit {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        if members.len() == limit {
            return Ok(MemberSearch { members, more: true });
        }
        members.push(m);
    }
    Ok(MemberSearch { members, more: false })
}

/// How many members hold one tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCount {
    /// Tier id; "" for members of a shop without tiers.
    pub tier: String,
    /// Whether the ladder still has this tier (a tier removed from `[loyalty]` keeps its members
    /// until the tier job moves them).
    pub in_ladder: bool,
    pub members: usize,
}

/// Members per tier: every tier of the ladder, lowest first (zero counts included), then any
/// tier members hold that the ladder no longer has. Walks the members.
pub fn tier_counts(store: &Store, rules: &LoyaltyRules) -> Result<Vec<TierCount>, StoreError> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for item in store.scan::<Member>(TreeId::Members) {
        let (_, m) = item?;
        *counts.entry(m.tier).or_default() += 1;
    }
    let mut out: Vec<TierCount> = rules
        .ladder
        .iter()
        .map(|t| TierCount { tier: t.id.clone(), in_ladder: true, members: counts.remove(&t.id).unwrap_or(0) })
        .collect();
    out.extend(counts.into_iter().map(|(tier, members)| TierCount { tier, in_ladder: false, members }));
    Ok(out)
}

/// The member page's edit: profile fields and consents in one commit, so a refused change (a
/// phone another member has) changes nothing. `None` leaves a consent as it is.
pub fn edit(
    store: &Store,
    member_id: u64,
    update: &ProfileUpdate,
    sms: Option<bool>,
    wechat: Option<bool>,
    rules: &LoyaltyRules,
    by: &str,
) -> Result<Member, CommitError<MemberError>> {
    let today = rules.today(store.clock().now());
    let checked = check_profile_update(update, today).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        update_profile_in_tx(tx, member_id, &checked)?;
        set_consent_in_tx(tx, member_id, sms, wechat, &ConsentSource::new(by, "page"))
    })
}

/// Ids of one member's ledger entries of one kind, oldest first (index keys only).
fn ledger_ids(store: &Store, kind: u8, member_id: u64) -> Result<Vec<u64>, StoreError> {
    store
        .keys_with_prefix(TreeId::MemberLedger, &ledger_index_prefix(kind, member_id))
        .map(|k| codec::key_u64(k?.get(9..).unwrap_or_default()))
        .collect()
}

/// One page of a member's points ledger, newest first (`offset` counts from the newest), and
/// how many entries the member has. Reads the index keys, then only the page's entries.
pub fn points_ledger_page(
    store: &Store,
    member_id: u64,
    offset: usize,
    limit: usize,
) -> Result<(Vec<PointsLedgerEntry>, usize), StoreError> {
    let ids = ledger_ids(store, POINTS_INDEX, member_id)?;
    let mut page = Vec::new();
    for id in ids.iter().rev().skip(offset).take(limit) {
        match store.get::<PointsLedgerEntry>(TreeId::PointsLedger, &codec::u64_key(*id))? {
            Some(e) => page.push(e),
            None => return Err(StoreError::Corrupt(format!("member {member_id}: points ledger index names entry {id}, which does not exist"))),
        }
    }
    Ok((page, ids.len()))
}

/// One page of a member's stored-value ledger, newest first, and how many entries there are.
pub fn stored_value_page(
    store: &Store,
    member_id: u64,
    offset: usize,
    limit: usize,
) -> Result<(Vec<crate::domain::loyalty::stored_value::StoredValueEntry>, usize), StoreError> {
    let ids = ledger_ids(store, STORED_VALUE_INDEX, member_id)?;
    let mut page = Vec::new();
    for id in ids.iter().rev().skip(offset).take(limit) {
        match store.get(TreeId::StoredValue, &codec::u64_key(*id))? {
            Some(e) => page.push(e),
            None => return Err(StoreError::Corrupt(format!("member {member_id}: stored-value index names entry {id}, which does not exist"))),
        }
    }
    Ok((page, ids.len()))
}
