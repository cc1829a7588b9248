//! `member.upsert` `{"members": [{"phone", "name"?, "gender"?, "birthday"?, "channel"?,
//! "consent"?}, …]}`: members who joined at another store of the chain or online, matched here
//! by mobile number. A phone this store does not know registers a member (`name` then
//! required; `channel` default `in_store`); a known one has its profile updated (`name`;
//! `gender` and `birthday`, where `null` clears) and its consents set. All in one commit
//! through the members module's own `*_in_tx` functions, with their events.
//!
//! Never touched: points, points debt, stored value, tier and stats (they are this store's
//! ledgers and rules), the phone of a known member (it is the match key), the card number
//! (derived from this store's member id) and referrals (they pay points). Fields for those are
//! refused by name rather than ignored, so HQ does not believe it set them.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{self, batch, only_fields, typed_item, Refusal};
use super::Context;
use crate::domain::phone;
use crate::members::{self, Channel, Gender, MemberError, NewMember, ProfileUpdate};
use crate::store::{codec, TreeId, Tx, TxError};

/// Most members one command carries.
pub const MAX_MEMBERS: usize = 1000;

/// Fields HQ might send that this command never sets, and why.
const NOT_SET_HERE: [(&str, &str); 8] = [
    ("card_no", "card numbers are derived from this store's member id; the member gets one here"),
    ("card_number", "card numbers are derived from this store's member id; the member gets one here"),
    ("tier", "tiers are earned at this store from its rolling 12-month spend (the tier job would undo an HQ tier)"),
    ("points", "points balances are this store's ledger; HQ never sets them"),
    ("points_debt", "points balances are this store's ledger; HQ never sets them"),
    ("stored_value_fen", "stored value is this store's ledger; HQ never sets it"),
    ("referral_code", "referrals pay points and happen at the till"),
    ("id", "members are matched by phone; ids are this store's own"),
];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberArgs {
    #[serde(deserialize_with = "phone_text")]
    phone: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "args::nullable")]
    gender: Option<Option<Gender>>,
    #[serde(default, deserialize_with = "args::nullable")]
    birthday: Option<Option<NaiveDate>>,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    consent: Option<ConsentArgs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentArgs {
    #[serde(default)]
    sms: Option<bool>,
    #[serde(default)]
    wechat: Option<bool>,
}

/// A phone as a string; anything else is refused without echoing it (it may be a number).
fn phone_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        other => Err(de::Error::custom(format!("expected a mobile number as a string, got {}", args::kind_of(&other)))),
    }
}

/// One member of the batch, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberUpsert {
    /// Normalized, 11 digits.
    pub phone: String,
    pub name: Option<String>,
    pub gender: Option<Option<Gender>>,
    pub birthday: Option<Option<NaiveDate>>,
    pub channel: Option<Channel>,
    pub consent_sms: Option<bool>,
    pub consent_wechat: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub members: Vec<MemberUpsert>,
}

/// Every member typed, phones normalized and unique in the batch.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    only_fields(args, &["members"], "args")?;
    let items = batch(args, "members", "members", MAX_MEMBERS)?;
    let mut out = Vec::with_capacity(items.len());
    let mut phones = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("args.members[{i}]");
        if let Some((field, why)) = NOT_SET_HERE.iter().find(|(f, _)| item.get(f).is_some()) {
            return Err(Refusal::at(format!("{at}.{field}"), format!("not accepted: {why}")));
        }
        let m: MemberArgs = typed_item(item, &at)?;
        let normalized = phone::normalize(&m.phone).map_err(|e| Refusal::at(format!("{at}.phone"), e.to_string()))?;
        if let Some(first) = phones.insert(normalized.clone(), i) {
            return Err(Refusal::at(format!("{at}.phone"), format!("{} is also args.members[{first}].phone", phone::mask(&normalized))));
        }
        if m.channel == Some(Channel::Referral) {
            return Err(Refusal::at(format!("{at}.channel"), "referral sign-ups happen at the till with a referral code; use in_store or mini_program"));
        }
        out.push(MemberUpsert {
            phone: normalized,
            name: m.name,
            gender: m.gender,
            birthday: m.birthday,
            channel: m.channel,
            consent_sms: m.consent.and_then(|c| c.sms),
            consent_wechat: m.consent.and_then(|c| c.wechat),
        });
    }
    Ok(Args { members: out })
}

/// Registers or updates every member inside `tx`: `{"members": [{"phone": masked,
/// "member_id", "result": "created" | "updated" | "unchanged"}, …]}`.
pub fn apply(tx: &Tx, a: &Args, ctx: &Context) -> Result<Map<String, Value>, TxError<Refusal>> {
    let today = ctx.rules.today(tx.now());
    let mut results = Vec::with_capacity(a.members.len());
    for (i, m) in a.members.iter().enumerate() {
        let at = format!("args.members[{i}]");
        let field_of = |e: &MemberError| match e {
            MemberError::BadName(_) => format!("{at}.name"),
            MemberError::FutureBirthday(_) => format!("{at}.birthday"),
            _ => format!("{at}.phone"),
        };
        let refuse = |e: MemberError| Refusal::at(field_of(&e), e.to_string());
        let owner = tx.get_raw::<Refusal>(TreeId::MemberKeys, &members::phone_key(&m.phone))?;
        let (member_id, result) = match owner {
            None => {
                let Some(name) = &m.name else {
                    return Err(TxError::Rejected(Refusal::at(
                        format!("{at}.name"),
                        format!("required to register {}, which no member of this store has", phone::mask(&m.phone)),
                    )));
                };
                let new = NewMember {
                    phone: m.phone.clone(),
                    name: name.clone(),
                    gender: m.gender.flatten(),
                    birthday: m.birthday.flatten(),
                    channel: m.channel.unwrap_or(Channel::InStore),
                    consent_sms: m.consent_sms.unwrap_or(false),
                    consent_wechat: m.consent_wechat.unwrap_or(false),
                    referral_code: None,
                };
                let checked = members::check_new_member(&new, today).map_err(|e| TxError::Rejected(refuse(e)))?;
                let member = members::register_in_tx(tx, &new, &checked, &ctx.rules).map_err(|e| e.map_rejected(refuse))?;
                (member.id, "created")
            }
            Some(raw) => {
                let id = codec::key_u64(&raw)?;
                let before = members::member_tx(tx, id).map_err(|e| e.map_rejected(refuse))?;
                let update = ProfileUpdate { phone: None, name: m.name.clone(), gender: m.gender, birthday: m.birthday };
                let checked = members::check_profile_update(&update, today).map_err(|e| TxError::Rejected(refuse(e)))?;
                members::update_profile_in_tx(tx, id, &checked).map_err(|e| e.map_rejected(refuse))?;
                let after = members::set_consent_in_tx(tx, id, m.consent_sms, m.consent_wechat, &members::ConsentSource::new("hq", "hq")).map_err(|e| e.map_rejected(refuse))?;
                (id, if after == before { "unchanged" } else { "updated" })
            }
        };
        results.push(json!({ "phone": phone::mask(&m.phone), "member_id": member_id, "result": result }));
    }
    let mut out = Map::new();
    out.insert("members".into(), Value::Array(results));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalized_and_unique() {
        let a = parse(&json!({"members": [{"phone": "+86 138-0013-8000", "name": "王芳"}, {"phone": "13900139000"}]})).unwrap();
        assert_eq!(a.members[0].phone, "13800138000");
        assert_eq!(a.members[1].name, None);
        let e = parse(&json!({"members": [{"phone": "13800138000"}, {"phone": "138 0013 8000"}]})).unwrap_err();
        assert_eq!(e.error_text(), "args.members[1].phone: 138****8000 is also args.members[0].phone");
        let e = parse(&json!({"members": [{"phone": 13800138000u64}]})).unwrap_err();
        assert_eq!(e.error_text(), "args.members[0].phone: expected a mobile number as a string, got a number");
        let e = parse(&json!({"members": [{"phone": "1380013800"}]})).unwrap_err();
        assert_eq!(e.error_text(), "args.members[0].phone: phone number has 10 digits, needs 11");
    }

    #[test]
    fn ledgers_tiers_and_cards_are_refused_by_name() {
        let e = parse(&json!({"members": [{"phone": "13800138000", "points": 500}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.members[0].points"));
        assert!(e.message.starts_with("not accepted: points balances"), "{}", e.message);
        let e = parse(&json!({"members": [{"phone": "13800138000", "tier": "gold"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.members[0].tier"));
        let e = parse(&json!({"members": [{"phone": "13800138000", "card_no": "80000000017"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.members[0].card_no"));
        let e = parse(&json!({"members": [{"phone": "13800138000", "nickname": "x"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.members[0].nickname"));
    }

    #[test]
    fn null_clears_and_absent_keeps() {
        let a = parse(&json!({"members": [{"phone": "13800138000", "birthday": null, "gender": "female", "consent": {"sms": true}}]})).unwrap();
        let m = &a.members[0];
        assert_eq!((m.birthday, m.gender, m.consent_sms, m.consent_wechat), (Some(None), Some(Some(Gender::Female)), Some(true), None));
        let e = parse(&json!({"members": [{"phone": "13800138000", "birthday": "1990-13-01"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.members[0].birthday"));
        let e = parse(&json!({"members": [{"phone": "13800138000", "channel": "referral"}]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("args.members[0].channel"));
    }
}
