//! Members (会员) on the LAN: search, the profile (tier, points and their lots, both ledgers,
//! purchases, coupons, consent), registration (cashiers too), editing (ManageMembers) and the
//! tier ladder with its head counts; the same as JSON under `/api/v1/members`.
//!
//! Every rule is `members`' (phone, name, birthday, referral, consent stamps); this module reads
//! forms and bodies, calls it, and shows the result. Phones are masked for everyone whose role
//! may not manage members. The profile shows the member's service tickets and the link to open one
//! (`web::tickets`).

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Identity;
use super::error::JsonBody;
use super::forms::{self, field, refused, text, ticked};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::coupons::{self, CouponState, IssuedCoupon};
use crate::domain::loyalty::ledger::PointsEntryKind;
use crate::domain::loyalty::referral::ReferralError;
use crate::domain::loyalty::stored_value::StoredValueKind;
use crate::domain::phone::PhoneError;
use crate::domain::staff::{allows, Action};
use crate::members::{self, Channel, Gender, Member, MemberError, NewMember, ProfileUpdate};
use crate::store::CommitError;

/// Ledger lines per page on the profile.
const LEDGER_PAGE: usize = 20;
/// Purchases shown on the profile, and how many of the newest sales are searched for them.
const PURCHASES_SHOWN: usize = 20;
const PURCHASES_SCANNED: usize = 5_000;
/// Coupons shown per group (usable, used, expired) on the profile.
const COUPONS_SHOWN: usize = 50;

pub fn routes() -> Vec<RouteDef> {
    use Action::{LookupMembers, ManageMembers, RegisterMembers};
    vec![
        RouteDef::get("/members", Need::May(LookupMembers), "Member search by phone, name, phone tail, card or QR", search_page),
        RouteDef::get("/members/new", Need::May(RegisterMembers), "Register a member: the form", new_page),
        RouteDef::post("/members/new", Need::May(RegisterMembers), "Register a member (form)", new_submit),
        RouteDef::get("/members/tiers", Need::May(LookupMembers), "The tier ladder with members per tier", tiers_page),
        RouteDef::get("/members/{id}", Need::May(LookupMembers), "A member's profile", profile_page),
        RouteDef::get("/members/{id}/edit", Need::May(ManageMembers), "Edit a member: the form", edit_page),
        RouteDef::post("/members/{id}/edit", Need::May(ManageMembers), "Edit a member (form)", edit_submit),
        RouteDef::get("/api/v1/members", Need::May(LookupMembers), "Search members: ?q= (phone, card, QR, name, 4–10 digit phone tail; empty = newest) &limit= &offset=", api_search)
            .returns::<MemberList>(),
        RouteDef::post("/api/v1/members", Need::May(RegisterMembers), "Register a member", api_register).body::<NewMemberBody>().returns::<MemberDetail>(),
        RouteDef::get("/api/v1/members/tiers", Need::May(LookupMembers), "The tier ladder with members per tier", api_tiers).returns::<TierList>(),
        RouteDef::get("/api/v1/members/{id}", Need::May(LookupMembers), "One member: profile, balances, point lots, coupons", api_member).returns::<MemberDetail>(),
        RouteDef::put("/api/v1/members/{id}", Need::May(ManageMembers), "Change a member's profile and consents (fields left out stay)", api_update)
            .body::<MemberUpdateBody>()
            .returns::<MemberDetail>(),
    ]
}

// --- rules of display ------------------------------------------------------------------------------

/// Whether `me` sees whole phone numbers (roles that may manage members).
fn sees_phone(me: &Identity) -> bool {
    allows(me.staff.role, Action::ManageMembers)
}

fn phone_of(me: &Identity, m: &Member) -> String {
    if sees_phone(me) {
        m.phone.clone()
    } else {
        m.masked_phone()
    }
}

fn gender_text(lang: Lang, g: Option<Gender>) -> &'static str {
    match g {
        Some(Gender::Female) => lang.pick("女", "Female"),
        Some(Gender::Male) => lang.pick("男", "Male"),
        None => "—",
    }
}

fn channel_text(lang: Lang, c: Channel) -> &'static str {
    match c {
        Channel::InStore => lang.pick("门店", "In store"),
        Channel::MiniProgram => lang.pick("小程序", "Mini program"),
        Channel::Referral => lang.pick("推荐", "Referral"),
    }
}

/// A tier's name in `lang` (its id when the ladder no longer has it).
fn tier_text(lang: Lang, loyalty: &crate::members::LoyaltyRules, tier: &str) -> String {
    if tier.is_empty() {
        return lang.pick("无等级", "No tier").to_string();
    }
    match loyalty.tier(tier) {
        Some(t) if !t.name_zh.is_empty() => lang.pick(&t.name_zh, &t.name_en).to_string(),
        _ => tier.to_string(),
    }
}

fn points_kind_text(lang: Lang, k: PointsEntryKind) -> &'static str {
    match k {
        PointsEntryKind::Earn => lang.pick("消费积分", "Earned"),
        PointsEntryKind::Redeem => lang.pick("积分抵扣", "Redeemed"),
        PointsEntryKind::Expire => lang.pick("过期", "Expired"),
        PointsEntryKind::Adjust => lang.pick("调整/奖励", "Adjustment / reward"),
        PointsEntryKind::Reverse => lang.pick("退货", "Return"),
    }
}

fn stored_value_kind_text(lang: Lang, k: StoredValueKind) -> &'static str {
    match k {
        StoredValueKind::TopUp => lang.pick("充值", "Top-up"),
        StoredValueKind::Bonus => lang.pick("充值赠送", "Top-up bonus"),
        StoredValueKind::Spend => lang.pick("消费", "Spent"),
        StoredValueKind::Refund => lang.pick("退款", "Refund"),
    }
}

/// Which group of the profile a coupon belongs to on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CouponGroup {
    Usable,
    Used,
    Expired,
}

fn coupon_group(c: &IssuedCoupon, today: NaiveDate) -> CouponGroup {
    match &c.state {
        CouponState::Redeemed { .. } => CouponGroup::Used,
        CouponState::Issued if c.check_usable(Some(c.member_id), today).is_ok() => CouponGroup::Usable,
        // Not yet valid counts as usable later: show it with the usable ones.
        CouponState::Issued if today < c.valid_from => CouponGroup::Usable,
        CouponState::Issued | CouponState::Expired { .. } | CouponState::Voided { .. } => CouponGroup::Expired,
    }
}

fn coupon_state_text(lang: Lang, c: &IssuedCoupon, today: NaiveDate) -> &'static str {
    match &c.state {
        CouponState::Issued if today < c.valid_from => lang.pick("未到期", "Not yet valid"),
        CouponState::Issued if today > c.valid_to => lang.pick("已过期", "Expired"),
        CouponState::Issued => lang.pick("可用", "Usable"),
        CouponState::Redeemed { .. } => lang.pick("已使用", "Used"),
        CouponState::Expired { .. } => lang.pick("已过期", "Expired"),
        CouponState::Voided { .. } => lang.pick("已作废", "Voided"),
    }
}

// --- refusals in both languages --------------------------------------------------------------------

fn phone_zh(e: &PhoneError) -> String {
    match e {
        PhoneError::Empty => "手机号不能为空".into(),
        PhoneError::InvalidChar { ch, position } => format!("手机号第 {position} 个字符是“{ch}”：只能有数字、空格、短横线和开头的 +86"),
        PhoneError::ForeignCountryCode { code } => format!("手机号以 +{code} 开头：只接受中国大陆手机号（+86）"),
        PhoneError::WrongLength { digits } => format!("手机号有 {digits} 位数字，须为 11 位"),
        PhoneError::NotMobile { prefix } => format!("手机号须以 13–19 开头，现以 {prefix} 开头"),
    }
}

fn referral_zh(e: &ReferralError) -> String {
    match e {
        ReferralError::Empty => "推荐码为空".into(),
        ReferralError::InvalidChar { ch, position } => format!("推荐码第 {position} 个字符“{ch}”无效：只用 2–9 和 A–Z（不含 I、O）"),
        ReferralError::WrongLength { len } => format!("推荐码有 {len} 个字符，须为 8 个"),
        ReferralError::WrongCheckChar { .. } => "推荐码校验位不符：可能输错了".into(),
        ReferralError::NotAMemberCode { code } => format!("推荐码 {code} 不属于任何会员"),
        ReferralError::IdOutOfRange { .. } => "推荐码超出范围".into(),
        ReferralError::SelfReferral { .. } => "会员不能推荐自己".into(),
    }
}

/// A member service's refusal as a web error: a field error where one field is at fault.
fn member_error(lang: Lang, e: CommitError<MemberError>) -> WebError {
    let e = match e {
        CommitError::Rejected(e) => e,
        other => return WebError::internal(other.to_string()),
    };
    let en = e.to_string();
    match &e {
        MemberError::Phone(p) => field(lang, "phone", phone_zh(p), en),
        MemberError::DuplicatePhone { phone, member_id } => field(lang, "phone", format!("手机号 {phone} 已注册（会员 {member_id}）"), en),
        MemberError::BadName(n) => field(lang, "name", format!("姓名须为 1–64 个字符，不含控制字符，现为 {n} 个字符"), en),
        MemberError::FutureBirthday(d) => field(lang, "birthday", format!("生日 {d} 晚于今天"), en),
        MemberError::ReferralCode(r) => field(lang, "referral_code", referral_zh(r), en),
        MemberError::UnknownReferralCode(c) => field(lang, "referral_code", format!("推荐码 {c} 不属于本店任何会员"), en),
        MemberError::Unknown(id) => WebError::not_found(lang.pick(&format!("没有会员 {id}"), &en)),
        _ => refused(lang, format!("操作被拒绝：{en}"), en),
    }
}

fn parse_gender(lang: Lang, name: &str, typed: Option<&str>) -> Result<Option<Gender>, WebError> {
    match typed.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(g) => Gender::parse(g)
            .map(Some)
            .ok_or_else(|| field(lang, name, format!("性别须为 female（女）或 male（男），现为“{g}”"), format!("expected female or male, got {g:?}"))),
    }
}

fn parse_date(lang: Lang, name: &str, typed: Option<&str>) -> Result<Option<NaiveDate>, WebError> {
    match typed.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| field(lang, name, format!("日期须写成 年-月-日，如 1990-05-20，现为“{d}”"), format!("expected a date as YYYY-MM-DD, got {d:?}"))),
    }
}

fn member_id(lang: Lang, typed: &str) -> Result<u64, WebError> {
    typed.parse::<u64>().map_err(|_| WebError::not_found(lang.pick(&format!("没有会员 {typed}"), &format!("no member {typed}"))))
}

// --- JSON ------------------------------------------------------------------------------------------

/// A member as the API shows it. `phone` is masked (`138****8000`) unless the caller may manage
/// members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberJson {
    pub id: u64,
    pub phone: String,
    pub name: String,
    /// `female`, `male` or null.
    pub gender: Option<String>,
    pub birthday: Option<NaiveDate>,
    /// `in_store`, `mini_program`, `referral`.
    pub channel: String,
    pub card_number: String,
    pub referral_code: String,
    pub referred_by: Option<u64>,
    /// Tier id; "" when the shop has no tiers.
    pub tier: String,
    pub tier_since: NaiveDate,
    pub points: i64,
    /// Points usable today (lots not yet expired).
    pub points_available: i64,
    pub points_debt: i64,
    pub stored_value_fen: i64,
    pub visits: u32,
    pub spend_fen: i64,
    pub spend_12m_fen: i64,
    pub registered_at: DateTime<Utc>,
    pub last_purchase_at: Option<DateTime<Utc>>,
    /// When SMS consent was given; null = not given.
    pub consent_sms_at: Option<DateTime<Utc>>,
    pub consent_wechat_at: Option<DateTime<Utc>>,
}

impl MemberJson {
    fn of(me: &Identity, m: &Member, today: NaiveDate) -> MemberJson {
        let (spend_12m_fen, _) = m.rolling(today);
        MemberJson {
            id: m.id,
            phone: phone_of(me, m),
            name: m.name.clone(),
            gender: m.gender.map(|g| match g {
                Gender::Female => "female".to_string(),
                Gender::Male => "male".to_string(),
            }),
            birthday: m.birthday,
            channel: m.channel.as_str().to_string(),
            card_number: m.card_number().unwrap_or_default(),
            referral_code: m.referral.code.clone(),
            referred_by: m.referral.referred_by,
            tier: m.tier.clone(),
            tier_since: m.tier_since,
            points: m.points,
            points_available: m.available_points(today),
            points_debt: m.points_debt,
            stored_value_fen: m.stored_value_fen,
            visits: m.stats.visits,
            spend_fen: m.stats.spend_fen,
            spend_12m_fen,
            registered_at: m.registered_at,
            last_purchase_at: m.stats.last_purchase_at,
            consent_sms_at: m.consent.sms,
            consent_wechat_at: m.consent.wechat,
        }
    }
}

/// An open lot of points.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LotJson {
    pub earned_on: NaiveDate,
    /// Last usable day; null = never expires.
    pub expires_on: Option<NaiveDate>,
    pub original: i64,
    pub remaining: i64,
}

/// A coupon of the member.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CouponJson {
    pub code: String,
    pub template_id: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    /// `issued`, `redeemed`, `expired`, `voided`.
    pub state: String,
    /// Usable today.
    pub usable: bool,
}

/// One member with the lots and coupons of the profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberDetail {
    pub member: MemberJson,
    pub lots: Vec<LotJson>,
    /// The newest coupons, at most 150.
    pub coupons: Vec<CouponJson>,
}

/// A page of a member search.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberJson>,
    /// More match after this page (ask again with `offset` = offset + limit).
    pub more: bool,
}

/// One step of the tier ladder.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TierJson {
    pub tier: String,
    /// False for a tier members still hold that the ladder no longer has.
    pub in_ladder: bool,
    pub min_spend_fen: Option<i64>,
    pub min_visits: Option<u32>,
    pub discount_bp: Option<u32>,
    pub points_multiplier_bp: Option<u32>,
    pub birthday_points: Option<i64>,
    pub members: usize,
}

/// The ladder, lowest tier first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TierList {
    pub tiers: Vec<TierJson>,
    pub grace_days: u32,
}

/// A registration.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemberBody {
    /// Mainland mobile number, any common format (`+86 138-0013-8000`).
    pub phone: String,
    pub name: String,
    /// `female` or `male`.
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub birthday: Option<NaiveDate>,
    #[serde(default)]
    pub consent_sms: bool,
    #[serde(default)]
    pub consent_wechat: bool,
    /// The referral code of the member who brought this one.
    #[serde(default)]
    pub referral_code: Option<String>,
    /// `in_store` (default), `mini_program` or `referral`.
    #[serde(default)]
    pub channel: Option<String>,
}

/// A change of profile; fields left out stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdateBody {
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `female`, `male`, or "" to clear.
    #[serde(default)]
    pub gender: Option<String>,
    /// `YYYY-MM-DD`, or "" to clear.
    #[serde(default)]
    pub birthday: Option<String>,
    /// Give (true) or withdraw (false) consent to SMS messages.
    #[serde(default)]
    pub consent_sms: Option<bool>,
    #[serde(default)]
    pub consent_wechat: Option<bool>,
}

/// Query of the search.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    page: Option<String>,
}

fn detail(me: &Identity, m: &Member, coupons: &[IssuedCoupon], today: NaiveDate) -> MemberDetail {
    MemberDetail {
        member: MemberJson::of(me, m, today),
        lots: m.lots.iter().map(|l| LotJson { earned_on: l.earned_on, expires_on: l.expires_on, original: l.original, remaining: l.remaining }).collect(),
        coupons: coupons
            .iter()
            .rev()
            .take(COUPONS_SHOWN * 3)
            .map(|c| CouponJson {
                code: c.code.clone(),
                template_id: c.template_id.clone(),
                valid_from: c.valid_from,
                valid_to: c.valid_to,
                state: c.state.name().to_string(),
                usable: c.check_usable(Some(c.member_id), today).is_ok(),
            })
            .collect(),
    }
}

async fn load_detail(state: &AppState, me: &Identity, id: u64) -> Result<MemberDetail, WebError> {
    let (me2, lang) = (me.clone(), me.lang);
    state
        .blocking(move |store, ctx| {
            let today = ctx.loyalty.today(store.clock().now());
            let m = members::member(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有会员 {id}"), &format!("no member {id}"))))?;
            let coupons = coupons::member_coupons(store, id, true)?;
            Ok(detail(&me2, &m, &coupons, today))
        })
        .await
}

// --- API -------------------------------------------------------------------------------------------

async fn api_search(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Json<MemberList>, WebError> {
    let q: SearchQuery = forms::parse_query(raw.as_deref())?;
    let limit = forms::limit(me.lang, &q.limit, 20)?;
    let offset = forms::offset(me.lang, &q.offset)?;
    let query = q.q.unwrap_or_default();
    state
        .blocking(move |store, ctx| {
            let today = ctx.loyalty.today(store.clock().now());
            let found = members::search(store, &query, offset, limit)?;
            Ok(Json(MemberList { members: found.members.iter().map(|m| MemberJson::of(&me, m, today)).collect(), more: found.more }))
        })
        .await
}

async fn api_member(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<MemberDetail>, WebError> {
    let id = member_id(me.lang, &id)?;
    load_detail(&state, &me, id).await.map(Json)
}

/// The registration a body or form asks for, checked field by field.
fn new_member(lang: Lang, b: &NewMemberBody) -> Result<NewMember, WebError> {
    let channel = match b.channel.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => Channel::InStore,
        Some(c) => Channel::parse(c).ok_or_else(|| field(lang, "channel", format!("渠道须为 in_store、mini_program 或 referral，现为“{c}”"), format!("expected in_store, mini_program or referral, got {c:?}")))?,
    };
    Ok(NewMember {
        phone: b.phone.clone(),
        name: b.name.clone(),
        gender: parse_gender(lang, "gender", b.gender.as_deref())?,
        birthday: b.birthday,
        channel,
        consent_sms: b.consent_sms,
        consent_wechat: b.consent_wechat,
        referral_code: b.referral_code.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_string),
    })
}

async fn register(state: &AppState, me: &Identity, new: NewMember) -> Result<Member, WebError> {
    let lang = me.lang;
    let who = me.staff.id.clone();
    // A staff login registers on its own name (credited in staff performance); an API token
    // is no staff account.
    let by = (me.via == super::auth::Via::Session).then(|| who.clone());
    let m = state.blocking(move |store, ctx| Ok(members::register_by(store, &new, &ctx.loyalty, by.as_deref()).map_err(|e| member_error(lang, e)))).await??;
    tracing::info!(member = m.id, phone = %m.masked_phone(), by = %who, "member registered on the web");
    Ok(m)
}

async fn api_register(State(state): State<AppState>, Extension(me): Extension<Identity>, JsonBody(b): JsonBody<NewMemberBody>) -> Result<Json<MemberDetail>, WebError> {
    let new = new_member(me.lang, &b)?;
    let m = register(&state, &me, new).await?;
    load_detail(&state, &me, m.id).await.map(Json)
}

/// A change of profile and consents, checked field by field.
fn profile_update(lang: Lang, phone: Option<&str>, name: Option<&str>, gender: Option<&str>, birthday: Option<&str>) -> Result<ProfileUpdate, WebError> {
    Ok(ProfileUpdate {
        phone: phone.map(str::to_string),
        name: name.map(str::to_string),
        gender: match gender {
            None => None,
            Some(g) => Some(parse_gender(lang, "gender", Some(g))?),
        },
        birthday: match birthday {
            None => None,
            Some(d) => Some(parse_date(lang, "birthday", Some(d))?),
        },
    })
}

async fn edit(state: &AppState, me: &Identity, id: u64, update: ProfileUpdate, sms: Option<bool>, wechat: Option<bool>) -> Result<Member, WebError> {
    let lang = me.lang;
    let who = me.staff.id.clone();
    let by = who.clone();
    let m = state.blocking(move |store, ctx| {
        Ok(members::edit(store, id, &update, sms, wechat, &ctx.loyalty, &by).map_err(|e| member_error(lang, e)))
    }).await??;
    tracing::info!(member = m.id, by = %who, "member edited on the web");
    Ok(m)
}

async fn api_update(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, JsonBody(b): JsonBody<MemberUpdateBody>) -> Result<Json<MemberDetail>, WebError> {
    let id = member_id(me.lang, &id)?;
    let update = profile_update(me.lang, b.phone.as_deref(), b.name.as_deref(), b.gender.as_deref(), b.birthday.as_deref())?;
    edit(&state, &me, id, update, b.consent_sms, b.consent_wechat).await?;
    load_detail(&state, &me, id).await.map(Json)
}

async fn tier_list(state: &AppState) -> Result<TierList, WebError> {
    state
        .blocking(|store, ctx| {
            let counts = members::tier_counts(store, &ctx.loyalty)?;
            let tiers = counts
                .into_iter()
                .map(|c| {
                    let rule = ctx.loyalty.tier(&c.tier).filter(|_| c.in_ladder);
                    TierJson {
                        in_ladder: c.in_ladder,
                        min_spend_fen: rule.map(|r| r.min_spend_fen),
                        min_visits: rule.and_then(|r| r.min_visits),
                        discount_bp: rule.map(|r| r.discount_bp),
                        points_multiplier_bp: rule.map(|r| r.points_multiplier_bp),
                        birthday_points: rule.map(|r| r.birthday_points),
                        members: c.members,
                        tier: c.tier,
                    }
                })
                .collect();
            Ok(TierList { tiers, grace_days: ctx.loyalty.grace_days })
        })
        .await
}

async fn api_tiers(State(state): State<AppState>) -> Result<Json<TierList>, WebError> {
    tier_list(&state).await.map(Json)
}

// --- pages -----------------------------------------------------------------------------------------

fn toolbar(me: &Identity, q: &str) -> Markup {
    let lang = me.lang;
    html! {
        form.toolbar method="get" action="/members" {
            label { (lang.pick("手机号 / 姓名 / 卡号 / 手机尾号", "Phone / name / card / phone tail"))
                input type="search" name="q" value=(q) autofocus;
            }
            button type="submit" { (lang.pick("查找", "Search")) }
            @if allows(me.staff.role, Action::RegisterMembers) {
                a.button href="/members/new" { (lang.pick("登记新会员", "Register a member")) }
            }
            a href="/members/tiers" { (lang.pick("会员等级", "Tier ladder")) }
        }
    }
}

async fn search_page(State(state): State<AppState>, Extension(me): Extension<Identity>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    let q: SearchQuery = forms::parse_query(raw.as_deref())?;
    let page_no = forms::page_number(&q.page);
    let query = q.q.clone().unwrap_or_default();
    let query2 = query.clone();
    let found = state.blocking(move |store, _| Ok(members::search(store, &query2, (page_no - 1) * forms::PER_PAGE, forms::PER_PAGE)?)).await?;
    let lang = me.lang;
    let body = html! {
        h1 { (lang.pick("会员", "Members")) }
        (toolbar(&me, &query))
        @if found.members.is_empty() {
            p.muted { (lang.pick("没有找到会员。", "No member found.")) }
        } @else {
            table {
                thead { tr {
                    th { (lang.pick("会员号", "No.")) } th { (lang.pick("姓名", "Name")) } th { (lang.pick("手机号", "Phone")) }
                    th { (lang.pick("等级", "Tier")) } th.num { (lang.pick("积分", "Points")) } th.num { (lang.pick("储值余额", "Stored value")) }
                    th { (lang.pick("注册时间", "Registered")) }
                } }
                tbody {
                    @for m in &found.members {
                        tr {
                            td { a href=(format!("/members/{}", m.id)) { (m.id) } }
                            td { a href=(format!("/members/{}", m.id)) { (m.name) } }
                            td { (phone_of(&me, m)) }
                            td { (tier_text(lang, &state.ctx.loyalty, &m.tier)) }
                            td.num { (m.points) }
                            td.num { (yuan(m.stored_value_fen)) }
                            td { (forms::local_time(m.registered_at, state.ctx.tz)) }
                        }
                    }
                }
            }
            (forms::pager(lang, "/members", &[("q", &query)], page_no, found.more))
        }
    };
    Ok(forms::render(&state, &me, lang.pick("会员", "Members"), body).into_response())
}

async fn profile_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Result<Response, WebError> {
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Q {
        lp: Option<String>,
        sp: Option<String>,
    }
    let lang = me.lang;
    let id = member_id(lang, &id)?;
    let q: Q = forms::parse_query(raw.as_deref())?;
    let (lp, sp) = (forms::page_number(&q.lp), forms::page_number(&q.sp));
    let data = state
        .blocking(move |store, ctx| {
            let today = ctx.loyalty.today(store.clock().now());
            let m = members::member(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有会员 {id}"), &format!("no member {id}"))))?;
            let points = members::points_ledger_page(store, id, (lp - 1) * LEDGER_PAGE, LEDGER_PAGE)?;
            let sv = members::stored_value_page(store, id, (sp - 1) * LEDGER_PAGE, LEDGER_PAGE)?;
            let sales = crate::checkout::sale::member_sales(store, id, PURCHASES_SHOWN, PURCHASES_SCANNED)?;
            let coupons = coupons::member_coupons(store, id, true)?;
            let tickets = super::tickets::member_rows(store, id, store.clock().now())?;
            let consents = members::consent_history(store, id)?;
            let mut names: HashMap<String, String> = HashMap::new();
            for c in &coupons {
                if !names.contains_key(&c.template_id) {
                    let t = coupons::template(store, &c.template_id)?;
                    names.insert(c.template_id.clone(), t.map(|t| lang.pick(&t.name_zh, if t.name_en.is_empty() { &t.name_zh } else { &t.name_en }).to_string()).unwrap_or_default());
                }
            }
            Ok((today, m, points, sv, sales, coupons, names, tickets, consents))
        })
        .await?;
    let (today, m, (points, points_total), (sv, sv_total), (sales, sales_truncated), coupons, names, tickets, consents) = data;
    let preference_profile = super::member_profile::load(&state, lang, id).await?;
    let suggestions = super::recommend::for_member(&state, lang, m.id).await?;
    let tz = state.ctx.tz;
    let rule = state.ctx.loyalty.tier(&m.tier);
    let group = |g: CouponGroup| -> Vec<&IssuedCoupon> { coupons.iter().rev().filter(|c| coupon_group(c, today) == g).take(COUPONS_SHOWN).collect() };
    let coupon_table = |list: Vec<&IssuedCoupon>| -> Markup {
        html! {
            @if list.is_empty() {
                p.muted { (lang.pick("无", "None")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("券码", "Code")) } th { (lang.pick("券", "Coupon")) } th { (lang.pick("有效期", "Valid")) } th { (lang.pick("状态", "State")) } } }
                    tbody {
                        @for c in list {
                            tr {
                                td { code { (c.code) } }
                                td { (names.get(&c.template_id).map(String::as_str).filter(|n| !n.is_empty()).unwrap_or(&c.template_id)) }
                                td { (c.valid_from) " – " (c.valid_to) }
                                td { (coupon_state_text(lang, c, today)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let consent = |at: Option<DateTime<Utc>>| -> Markup {
        html! {
            @match at {
                Some(at) => { span.badge.ok { (lang.pick("已同意", "Given")) } " " span.muted { (forms::local_time(at, tz)) } }
                None => span.badge { (lang.pick("未同意", "Not given")) },
            }
        }
    };
    let pq = |lp: usize, sp: usize| forms::url(&format!("/members/{}", m.id), &[("lp", &lp.to_string()), ("sp", &sp.to_string())]);
    let (spend_12m, visits_12m) = m.rolling(today);
    let body = html! {
        h1 { (lang.pick("会员", "Member")) " " (m.id) " · " (m.name) }
        p {
            a href="/members" { "‹ " (lang.pick("会员查找", "Member search")) }
            @if allows(me.staff.role, Action::ManageMembers) {
                " · " a href=(format!("/members/{}/edit", m.id)) { (lang.pick("编辑", "Edit")) }
            }
        }
        div.grid {
            div.card {
                h2 { (lang.pick("资料", "Profile")) }
                dl.facts {
                    dt { (lang.pick("手机号", "Phone")) } dd { (phone_of(&me, &m)) }
                    dt { (lang.pick("会员卡号", "Card number")) } dd { code { (m.card_number().unwrap_or_default()) } }
                    dt { (lang.pick("性别", "Gender")) } dd { (gender_text(lang, m.gender)) }
                    dt { (lang.pick("生日", "Birthday")) } dd { (m.birthday.map(|b| b.to_string()).unwrap_or_else(|| "—".into())) }
                    dt { (lang.pick("注册", "Registered")) } dd { (forms::local_time(m.registered_at, tz)) " · " (channel_text(lang, m.channel)) }
                    dt { (lang.pick("推荐码", "Referral code")) } dd { code { (m.referral.code) } }
                    @if let Some(r) = m.referral.referred_by {
                        dt { (lang.pick("推荐人", "Referred by")) } dd { a href=(format!("/members/{r}")) { (r) } }
                    }
                    dt { (lang.pick("短信营销", "SMS marketing")) } dd { (consent(m.consent.sms)) }
                    dt { (lang.pick("微信营销", "WeChat marketing")) } dd { (consent(m.consent.wechat)) }
                }
            }
            div.card {
                h2 { (lang.pick("等级与余额", "Tier and balances")) }
                dl.facts {
                    dt { (lang.pick("等级", "Tier")) } dd { strong { (tier_text(lang, &state.ctx.loyalty, &m.tier)) } " " span.muted { (lang.pick("自", "since")) " " (m.tier_since) } }
                    @if let Some(r) = rule {
                        dt { (lang.pick("等级折扣", "Tier discount")) } dd { (forms::percent(r.discount_bp)) " · " (lang.pick("积分", "points")) " " (forms::multiplier(r.points_multiplier_bp)) }
                    }
                    dt { (lang.pick("积分", "Points")) } dd { strong { (m.points) } " " span.muted { (lang.pick("今日可用", "usable today")) " " (m.available_points(today)) } }
                    @if m.points_debt > 0 {
                        dt { (lang.pick("积分欠款", "Points owed")) } dd.warn { (m.points_debt) }
                    }
                    dt { (lang.pick("储值余额", "Stored value")) } dd { strong { (yuan(m.stored_value_fen)) } }
                    dt { (lang.pick("累计消费", "Lifetime spend")) } dd { (yuan(m.stats.spend_fen)) " · " (m.stats.visits) " " (lang.pick("次", "visits")) }
                    dt { (lang.pick("近 12 个月", "Last 12 months")) } dd { (yuan(spend_12m)) " · " (visits_12m) " " (lang.pick("次", "visits")) }
                }
            }
        }
        section.card {
            h2 { (lang.pick("积分批次（按到期日）", "Point lots (by expiry)")) }
            @if m.lots.is_empty() {
                p.muted { (lang.pick("没有未用完的积分。", "No open points.")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("获得日", "Earned")) } th { (lang.pick("到期日", "Expires")) } th.num { (lang.pick("获得", "Credited")) } th.num { (lang.pick("剩余", "Remaining")) } } }
                    tbody {
                        @for l in &m.lots {
                            tr {
                                td { (l.earned_on) }
                                td { (l.expires_on.map(|d| d.to_string()).unwrap_or_else(|| lang.pick("永不过期", "Never").to_string())) }
                                td.num { (l.original) }
                                td.num { (l.remaining) }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (lang.pick("积分明细", "Points ledger")) " " span.muted { "(" (points_total) ")" } }
            @if points.is_empty() {
                p.muted { (lang.pick("无", "None")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("时间", "When")) } th { (lang.pick("类型", "Kind")) } th.num { (lang.pick("变动", "Change")) } th { (lang.pick("关联", "Reference")) } th { (lang.pick("说明", "Note")) } } }
                    tbody {
                        @for e in &points {
                            tr {
                                td { (e.entry.at.format("%Y-%m-%d %H:%M")) }
                                td { (points_kind_text(lang, e.entry.kind)) }
                                td.num { (format!("{:+}", e.entry.delta)) }
                                td { (e.entry.reference.clone().unwrap_or_default()) }
                                td { (e.note.clone().unwrap_or_default()) @if let Some(by) = &e.by { " · " (by) } }
                            }
                        }
                    }
                }
                (ledger_pager(lang, lp, points_total, |p| pq(p, sp)))
            }
        }
        section.card {
            h2 { (lang.pick("储值明细", "Stored-value ledger")) " " span.muted { "(" (sv_total) ")" } }
            @if sv.is_empty() {
                p.muted { (lang.pick("无", "None")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("时间", "When")) } th { (lang.pick("类型", "Kind")) } th.num { (lang.pick("金额", "Amount")) } th { (lang.pick("关联", "Reference")) } } }
                    tbody {
                        @for e in &sv {
                            tr {
                                td { (e.at.format("%Y-%m-%d %H:%M")) }
                                td { (stored_value_kind_text(lang, e.kind)) }
                                td.num { (yuan(e.delta_fen)) }
                                td { (e.reference.clone().unwrap_or_default()) }
                            }
                        }
                    }
                }
                (ledger_pager(lang, sp, sv_total, |p| pq(lp, p)))
            }
        }
        section.card {
            h2 { (lang.pick("消费记录", "Purchases")) }
            @if sales.is_empty() {
                p.muted { (lang.pick("没有消费记录。", "No purchases.")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("小票号", "Receipt")) } th { (lang.pick("时间", "When")) } th { (lang.pick("收银台", "Lane")) } th.num { (lang.pick("金额", "Total")) } th.num { (lang.pick("积分", "Points")) } th.num { (lang.pick("已退", "Refunded")) } } }
                    tbody {
                        @for s in &sales {
                            tr {
                                td { code { (s.receipt_no) } }
                                td { (forms::local_time(s.at, tz)) }
                                td { (s.lane) }
                                td.num { (yuan(s.priced.total_fen)) }
                                td.num { (format!("{:+}", s.points_earned - s.points_redeemed)) }
                                td.num { @if s.refunded_fen > 0 { (yuan(s.refunded_fen)) } }
                            }
                        }
                    }
                }
            }
            @if sales_truncated {
                p.muted { (lang.pick(&format!("只查看了最近 {PURCHASES_SCANNED} 笔销售。"), &format!("Only the newest {PURCHASES_SCANNED} sales were searched."))) }
            }
        }
        (super::member_merge::section(&me, &m))
        (super::member_privacy::section(&me, &m, &consents))
        section.card {
            h2 { (lang.pick("优惠券", "Coupons")) }
            h3 { (lang.pick("可用", "Usable")) }
            (coupon_table(group(CouponGroup::Usable)))
            h3 { (lang.pick("已使用", "Used")) }
            (coupon_table(group(CouponGroup::Used)))
            h3 { (lang.pick("已过期 / 作废", "Expired / voided")) }
            (coupon_table(group(CouponGroup::Expired)))
        }
        (super::tickets::profile_section(lang, &me, m.id, &tickets, tz))
        (super::member_profile::section(lang, &preference_profile))
        (super::recommend::member_section(lang, &suggestions))
    };
    Ok(forms::render(&state, &me, &format!("{} {}", lang.pick("会员", "Member"), m.id), body).into_response())
}

fn ledger_pager(lang: Lang, page: usize, total: usize, link: impl Fn(usize) -> String) -> Markup {
    let more = page * LEDGER_PAGE < total;
    html! {
        nav.pager {
            @if page > 1 { a href=(link(page - 1)) { "‹ " (lang.pick("较新", "Newer")) } " " }
            span.muted { (lang.pick("第", "Page ")) (page) (lang.pick(" 页", "")) }
            @if more { " " a href=(link(page + 1)) { (lang.pick("较早", "Older")) " ›" } }
        }
    }
}

/// The register and edit form's fields as typed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemberForm {
    phone: Option<String>,
    name: Option<String>,
    gender: Option<String>,
    birthday: Option<String>,
    consent_sms: Option<String>,
    consent_wechat: Option<String>,
    referral_code: Option<String>,
}

impl MemberForm {
    fn of(m: &Member) -> MemberForm {
        MemberForm {
            phone: Some(m.phone.clone()),
            name: Some(m.name.clone()),
            gender: m.gender.map(|g| if g == Gender::Female { "female".into() } else { "male".into() }),
            birthday: m.birthday.map(|b| b.to_string()),
            consent_sms: m.consent.sms.map(|_| "on".into()),
            consent_wechat: m.consent.wechat.map(|_| "on".into()),
            referral_code: None,
        }
    }
}

fn member_form(me: &Identity, action: &str, f: &MemberForm, new: bool, error: Option<&WebError>) -> Markup {
    let lang = me.lang;
    let errors = error.map(forms::errors_of).unwrap_or_default();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let g = f.gender.as_deref().unwrap_or_default();
    html! {
        (forms::form_message(error))
        form.card method="post" action=(action) {
            (forms::csrf(me))
            label data-field="phone" { (lang.pick("手机号（中国大陆）", "Mobile number (mainland China)")) " *"
                input name="phone" type="tel" inputmode="tel" value=(v(&f.phone)) required autofocus;
                (page::field_error(&errors, "phone"))
            }
            label data-field="name" { (lang.pick("姓名", "Name")) " *"
                input name="name" value=(v(&f.name)) required maxlength="64";
                (page::field_error(&errors, "name"))
            }
            label data-field="gender" { (lang.pick("性别", "Gender"))
                select name="gender" {
                    option value="" selected[g.is_empty()] { "—" }
                    option value="female" selected[g == "female"] { (lang.pick("女", "Female")) }
                    option value="male" selected[g == "male"] { (lang.pick("男", "Male")) }
                }
                (page::field_error(&errors, "gender"))
            }
            label data-field="birthday" { (lang.pick("生日", "Birthday"))
                input name="birthday" type="date" value=(v(&f.birthday));
                (page::field_error(&errors, "birthday"))
            }
            label.check { input type="checkbox" name="consent_sms" checked[ticked(&f.consent_sms)]; " " (lang.pick("同意接收短信营销", "Agrees to marketing by SMS")) }
            label.check { input type="checkbox" name="consent_wechat" checked[ticked(&f.consent_wechat)]; " " (lang.pick("同意接收微信营销", "Agrees to marketing by WeChat")) }
            @if new {
                label data-field="referral_code" { (lang.pick("推荐码（选填）", "Referral code (optional)"))
                    input name="referral_code" value=(v(&f.referral_code)) maxlength="16";
                    (page::field_error(&errors, "referral_code"))
                }
            }
            button type="submit" { (if new { lang.pick("登记", "Register") } else { lang.pick("保存", "Save") }) }
        }
    }
}

fn form_page(state: &AppState, me: &Identity, title: &str, form: Markup, status: StatusCode) -> Response {
    let body = html! {
        h1 { (title) }
        p { a href="/members" { "‹ " (me.lang.pick("会员查找", "Member search")) } }
        (form)
    };
    (status, forms::render(state, me, title, body)).into_response()
}

async fn new_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Response {
    let title = me.lang.pick("登记新会员", "Register a member");
    form_page(&state, &me, title, member_form(&me, "/members/new", &MemberForm::default(), true, None), StatusCode::OK)
}

async fn new_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let f: MemberForm = forms::parse_pairs(&body)?;
    let lang = me.lang;
    let result = async {
        let typed = NewMemberBody {
            phone: text(&f.phone).unwrap_or_default().to_string(),
            name: text(&f.name).unwrap_or_default().to_string(),
            gender: f.gender.clone(),
            birthday: parse_date(lang, "birthday", f.birthday.as_deref())?,
            consent_sms: ticked(&f.consent_sms),
            consent_wechat: ticked(&f.consent_wechat),
            referral_code: f.referral_code.clone(),
            channel: None,
        };
        let new = new_member(lang, &typed)?;
        register(&state, &me, new).await
    }
    .await;
    match result {
        Ok(m) => Ok(Redirect::to(&format!("/members/{}", m.id)).into_response()),
        Err(e) if e.status == StatusCode::INTERNAL_SERVER_ERROR => Err(e),
        Err(e) => {
            let title = lang.pick("登记新会员", "Register a member");
            Ok(form_page(&state, &me, title, member_form(&me, "/members/new", &f, true, Some(&e)), e.status))
        }
    }
}

async fn edit_page(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = member_id(lang, &id)?;
    let m = state.blocking(move |store, _| members::member(store, id)?.ok_or_else(|| WebError::not_found(lang.pick(&format!("没有会员 {id}"), &format!("no member {id}"))))).await?;
    let title = format!("{} {} · {}", lang.pick("编辑会员", "Edit member"), m.id, m.name);
    Ok(form_page(&state, &me, &title, member_form(&me, &format!("/members/{id}/edit"), &MemberForm::of(&m), false, None), StatusCode::OK))
}

async fn edit_submit(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, WebError> {
    let lang = me.lang;
    let id = member_id(lang, &id)?;
    let f: MemberForm = forms::parse_pairs(&body)?;
    let result = async {
        // A form always sends every field: an empty gender or birthday clears it.
        let update = profile_update(lang, Some(text(&f.phone).unwrap_or_default()), Some(text(&f.name).unwrap_or_default()), Some(f.gender.as_deref().unwrap_or_default()), Some(f.birthday.as_deref().unwrap_or_default()))?;
        edit(&state, &me, id, update, Some(ticked(&f.consent_sms)), Some(ticked(&f.consent_wechat))).await
    }
    .await;
    match result {
        Ok(m) => Ok(Redirect::to(&format!("/members/{}", m.id)).into_response()),
        Err(e) if matches!(e.status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::NOT_FOUND) => Err(e),
        Err(e) => {
            let title = format!("{} {id}", lang.pick("编辑会员", "Edit member"));
            Ok(form_page(&state, &me, &title, member_form(&me, &format!("/members/{id}/edit"), &f, false, Some(&e)), e.status))
        }
    }
}

async fn tiers_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let lang = me.lang;
    let list = tier_list(&state).await?;
    let total: usize = list.tiers.iter().map(|t| t.members).sum();
    let body = html! {
        h1 { (lang.pick("会员等级", "Member tiers")) }
        p { a href="/members" { "‹ " (lang.pick("会员查找", "Member search")) } }
        @if list.tiers.is_empty() {
            p.muted { (lang.pick("本店没有设置会员等级（[loyalty] tiers）。", "This shop has no tiers ([loyalty] tiers).")) }
        } @else {
            table {
                thead { tr {
                    th { (lang.pick("等级", "Tier")) } th.num { (lang.pick("近 12 个月消费满", "12-month spend from")) } th.num { (lang.pick("或到店次数", "or visits")) }
                    th.num { (lang.pick("折扣", "Discount")) } th.num { (lang.pick("积分倍数", "Points")) } th.num { (lang.pick("生日积分", "Birthday points")) } th.num { (lang.pick("会员数", "Members")) }
                } }
                tbody {
                    @for t in &list.tiers {
                        tr {
                            td { (tier_text(lang, &state.ctx.loyalty, &t.tier)) @if !t.in_ladder { " " span.badge.warn { (lang.pick("已不在等级表中", "no longer in the ladder")) } } }
                            td.num { (t.min_spend_fen.map(yuan).unwrap_or_default()) }
                            td.num { (t.min_visits.map(|v| v.to_string()).unwrap_or_else(|| "—".into())) }
                            td.num { (t.discount_bp.map(forms::percent).unwrap_or_default()) }
                            td.num { (t.points_multiplier_bp.map(forms::multiplier).unwrap_or_default()) }
                            td.num { (t.birthday_points.map(|p| p.to_string()).unwrap_or_default()) }
                            td.num { strong { (t.members) } }
                        }
                    }
                }
                tfoot { tr { td colspan="6" { (lang.pick("合计", "Total")) } td.num { strong { (total) } } } }
            }
            p.muted { (lang.pick("低于等级门槛的会员保留等级的宽限天数：", "Days a member below their tier keeps it: ")) (list.grace_days) }
        }
    };
    Ok(forms::render(&state, &me, lang.pick("会员等级", "Member tiers"), body).into_response())
}
