//! Member messages, the pure part: template text with `{{variables}}` (parsing, checking,
//! rendering), the member's salutation, SMS segments, the quiet-hours window (which may wrap
//! midnight) and the weekly cap. No I/O, no clock: callers pass shop-local times and the
//! member's values. Storage, consent and sending through HQ live in `members::messages`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

/// How a message reaches the member. HQ holds the vendor secrets and sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A WeChat official-account template message (模板消息).
    Wechat,
    /// An SMS through the SMS vendor's approved template (短信模板).
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Wechat, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s.trim().to_ascii_lowercase())
    }
}

/// Variables every template may use; the member's own are filled by `members::messages`, the
/// coupon ones by the caller (a campaign, `message send --var`).
pub const KNOWN_VARIABLES: [&str; 8] =
    ["name", "tier", "points", "expiring_points", "expiring_date", "coupon", "coupon_code", "store"];

/// A WeChat template field holds at most this many characters (rendered).
pub const WECHAT_FIELD_MAX_CHARS: usize = 200;
/// Characters of one SMS segment; a longer text is sent as parts of [`SMS_PART_CHARS`] each.
pub const SMS_SEGMENT_CHARS: usize = 70;
/// Characters of each part of a long (concatenated) SMS.
pub const SMS_PART_CHARS: usize = 67;
/// Longest rendered SMS (signature included) the vendors accept.
pub const SMS_MAX_CHARS: usize = 500;

/// One piece of a template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Var(String),
}

/// What is wrong with a template text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("`{{{{` at character {at} is not closed by `}}}}`")]
    Unclosed { at: usize },
    #[error("unknown variable {{{{{name}}}}}; known: {known}")]
    UnknownVariable { name: String, known: String },
    #[error("empty variable `{{{{}}}}` at character {at}")]
    EmptyVariable { at: usize },
    #[error("is {chars} characters long; at most {max}")]
    TooLong { chars: usize, max: usize },
    #[error("variable {{{{{name}}}}} has no value here (a campaign or `--var {name}=…` gives it)")]
    NoValue { name: String },
}

/// Splits `text` into literal text and `{{variable}}` pieces (spaces inside the braces are
/// ignored). Every variable must be in `known`.
pub fn parse_text(text: &str, known: &[&str]) -> Result<Vec<Piece>, TextError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0usize; // characters consumed so far
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let at = offset + rest[..open].chars().count();
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TextError::Unclosed { at })?;
        let name = after[..close].trim();
        if name.is_empty() {
            return Err(TextError::EmptyVariable { at });
        }
        if !known.contains(&name) {
            return Err(TextError::UnknownVariable { name: name.to_string(), known: known.join(", ") });
        }
        out.push(Piece::Var(name.to_string()));
        offset = at + 2 + after[..close].chars().count() + 2;
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

/// Renders `text` with `vars`; a variable without a value is an error naming it.
pub fn render_text(text: &str, known: &[&str], vars: &BTreeMap<String, String>) -> Result<String, TextError> {
    let mut out = String::new();
    for piece in parse_text(text, known)? {
        match piece {
            Piece::Text(t) => out.push_str(&t),
            Piece::Var(name) => match vars.get(&name) {
                Some(v) => out.push_str(v),
                None => return Err(TextError::NoValue { name }),
            },
        }
    }
    Ok(out)
}

/// Two-character surnames (复姓) common enough to matter for a salutation.
const COMPOUND_SURNAMES: [&str; 20] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文", "司徒", "夏侯",
    "轩辕", "端木", "南宫", "独孤", "西门", "澹台",
];

/// How a message addresses the member (`{{name}}`): surname + 先生/女士 when the gender is
/// known (`Some(true)` = male), else 会员. The full name is never used. The surname of a
/// Chinese name is its first character (or a known 复姓); of a Latin-script name its first word
/// (pinyin order, "Wang Wei" → "Wang").
pub fn salutation(name: &str, male: Option<bool>) -> String {
    let name = name.trim();
    let Some(male) = male else { return "会员".to_string() };
    let surname: String = match name.chars().next() {
        None => return "会员".to_string(),
        Some(c) if c.is_ascii() => name.split_whitespace().next().unwrap_or_default().to_string(),
        Some(c) => COMPOUND_SURNAMES
            .iter()
            .find(|s| name.starts_with(*s) && name.chars().count() > 2)
            .map_or_else(|| c.to_string(), |s| s.to_string()),
    };
    if surname.is_empty() {
        return "会员".to_string();
    }
    format!("{surname}{}", if male { "先生" } else { "女士" })
}

/// Segments an SMS of `chars` characters costs: one up to 70, else parts of 67.
pub fn sms_segments(chars: usize) -> u32 {
    if chars <= SMS_SEGMENT_CHARS {
        1
    } else {
        u32::try_from(chars.div_ceil(SMS_PART_CHARS)).unwrap_or(u32::MAX)
    }
}

/// When a message written at shop-local `now` may go: `None` = now; `Some(t)` = held until
/// shop-local `t`, the end of the quiet window. The window is `[start, end)`; `start > end`
/// wraps midnight (21:00–09:00 covers 21:00…23:59 and 00:00…08:59); `start == end` means no
/// quiet hours.
pub fn quiet_until(now: NaiveDateTime, start: NaiveTime, end: NaiveTime) -> Option<NaiveDateTime> {
    let t = now.time();
    let today = now.date();
    if start == end {
        return None;
    }
    if start < end {
        return (start <= t && t < end).then(|| today.and_time(end));
    }
    if t >= start {
        today.succ_opt().map(|d| d.and_time(end))
    } else if t < end {
        Some(today.and_time(end))
    } else {
        None
    }
}

/// Length of the weekly cap's window.
pub fn cap_window() -> Duration {
    Duration::days(7)
}

/// Of `sent` (when earlier messages to the member were requested or held), those inside the cap
/// window ending at `now`: after `now - 7×24 h`, not after `now`.
pub fn within_cap_window(sent: &[DateTime<Utc>], now: DateTime<Utc>) -> usize {
    let from = now - cap_window();
    sent.iter().filter(|t| **t > from && **t <= now).count()
}

/// True when one more message would exceed the cap. `cap == 0` means no cap.
pub fn over_weekly_cap(sent: &[DateTime<Utc>], now: DateTime<Utc>, cap: u32) -> bool {
    cap > 0 && within_cap_window(sent, now) >= cap as usize
}

/// The WeChat field names in display order: `first`, `keyword1`…`keywordN`, `remark`; `None`
/// for a name WeChat templates do not have.
pub fn wechat_field_rank(name: &str) -> Option<u32> {
    match name {
        "first" => Some(0),
        "remark" => Some(u32::MAX),
        _ => name.strip_prefix("keyword").and_then(|n| {
            let k: u32 = n.parse().ok()?;
            (1..=20).contains(&k).then_some(k).filter(|_| !n.starts_with('0'))
        }),
    }
}

/// The `${param}` names of an SMS vendor text, in order of appearance.
pub fn sms_placeholders(text: &str) -> Result<Vec<String>, TextError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut consumed = 0usize;
    while let Some(open) = rest.find("${") {
        let at = consumed + rest[..open].chars().count();
        let after = &rest[open + 2..];
        let close = after.find('}').ok_or(TextError::Unclosed { at })?;
        let name = after[..close].trim();
        if name.is_empty() {
            return Err(TextError::EmptyVariable { at });
        }
        out.push(name.to_string());
        consumed = at + 2 + after[..close].chars().count() + 1;
        rest = &after[close + 1..];
    }
    Ok(out)
}

/// The SMS as the member reads it: `【signature】` + the vendor text with each `${param}`
/// replaced by its rendered value.
pub fn sms_full_text(signature: &str, text: &str, params: &BTreeMap<String, String>) -> String {
    let mut body = text.to_string();
    for (name, value) in params {
        body = body.replace(&format!("${{{name}}}"), value);
    }
    format!("【{signature}】{body}")
}

/// A mini-program page a WeChat template message opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniProgramPage {
    /// The mini program's AppID (`wx` + 16 characters).
    pub appid: String,
    /// Page path with query, e.g. `pages/coupon/index?id=123`.
    pub pagepath: String,
}

/// A message template, as imported (JSON) and stored. WeChat: `wechat_template_id` and `fields`
/// named `first`, `keyword1`…`keywordN`, `remark`, optionally `url` and/or `miniprogram`. SMS:
/// `sms_template_code`, `signature`, `sms_text` (the vendor-approved text with `${param}`
/// placeholders) and `fields` = one entry per param. Field texts use `{{variables}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTemplate {
    pub id: String,
    /// What staff see in lists, e.g. "休眠唤醒 满200减50".
    #[serde(default)]
    pub name: String,
    pub channel: Channel,
    #[serde(default)]
    pub wechat_template_id: Option<String>,
    #[serde(default)]
    pub sms_template_code: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub sms_text: Option<String>,
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub miniprogram: Option<MiniProgramPage>,
    /// Variables beyond [`KNOWN_VARIABLES`] that callers of this template supply.
    #[serde(default)]
    pub extra_vars: Vec<String>,
}

/// A template field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFault {
    pub field: String,
    pub message: String,
}

fn fault<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, TemplateFault> {
    Err(TemplateFault { field: field.into(), message: message.into() })
}

fn is_param_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl MessageTemplate {
    /// The variables this template may use.
    pub fn known_variables(&self) -> Vec<&str> {
        KNOWN_VARIABLES.iter().copied().chain(self.extra_vars.iter().map(String::as_str)).collect()
    }

    /// The vendor's template id (WeChat) or code (SMS).
    pub fn vendor_template(&self) -> &str {
        match self.channel {
            Channel::Wechat => self.wechat_template_id.as_deref().unwrap_or_default(),
            Channel::Sms => self.sms_template_code.as_deref().unwrap_or_default(),
        }
    }

    /// Field names in the order the member reads them.
    pub fn ordered_fields(&self) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if self.channel == Channel::Wechat {
            v.sort_by_key(|(k, _)| wechat_field_rank(k).unwrap_or(u32::MAX - 1));
        }
        v
    }

    /// Checks the content (everything but the id and name, which the caller checks as store
    /// keys): the channel's required parts present and the other channel's absent, field names,
    /// every `{{variable}}` known and closed, WeChat fields at most 200 characters, every SMS
    /// `${param}` given and every param used.
    pub fn check_content(&self) -> Result<(), TemplateFault> {
        for (i, v) in self.extra_vars.iter().enumerate() {
            if !is_param_name(v) || KNOWN_VARIABLES.contains(&v.as_str()) {
                return fault(
                    format!("extra_vars[{i}]"),
                    format!("{v:?}: expected a new name of letters, digits and _ (not one of {})", KNOWN_VARIABLES.join(", ")),
                );
            }
        }
        if self.fields.is_empty() {
            return fault("fields", "is empty: a template needs at least one field");
        }
        let known = self.known_variables();
        let blank = |o: &Option<String>| o.as_deref().is_none_or(|s| s.trim().is_empty());
        match self.channel {
            Channel::Wechat => {
                if blank(&self.wechat_template_id) {
                    return fault("wechat_template_id", "missing; the template id from the official account's template library");
                }
                for (name, present) in [
                    ("sms_template_code", self.sms_template_code.is_some()),
                    ("signature", self.signature.is_some()),
                    ("sms_text", self.sms_text.is_some()),
                ] {
                    if present {
                        return fault(name, "is for SMS templates; remove it or set channel \"sms\"");
                    }
                }
                let mut keywords = Vec::new();
                for (name, text) in &self.fields {
                    let field = format!("fields.{name}");
                    match wechat_field_rank(name) {
                        None => return fault(field, "unknown WeChat field; expected first, keyword1…keyword20 or remark"),
                        Some(k) if k != 0 && k != u32::MAX => keywords.push(k),
                        Some(_) => {}
                    }
                    parse_text(text, &known).map_err(|e| TemplateFault { field: field.clone(), message: e.to_string() })?;
                    let chars = text.chars().count();
                    if chars > WECHAT_FIELD_MAX_CHARS {
                        return fault(field, TextError::TooLong { chars, max: WECHAT_FIELD_MAX_CHARS }.to_string());
                    }
                }
                keywords.sort_unstable();
                if let Some(missing) = (1..=keywords.len() as u32).find(|k| !keywords.contains(k)) {
                    return fault(format!("fields.keyword{missing}"), "missing; keywords are numbered from keyword1 without gaps");
                }
                if let Some(url) = &self.url {
                    if !(url.starts_with("https://") || url.starts_with("http://")) || url.chars().any(char::is_whitespace) {
                        return fault("url", format!("{url:?} is not an http(s) address"));
                    }
                }
                if let Some(mp) = &self.miniprogram {
                    if !mp.appid.starts_with("wx") || mp.appid.len() != 18 || !mp.appid.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return fault("miniprogram.appid", format!("{:?} is not a mini-program AppID (wx + 16 letters or digits)", mp.appid));
                    }
                    if mp.pagepath.trim().is_empty() || mp.pagepath.chars().any(char::is_whitespace) {
                        return fault("miniprogram.pagepath", "expected a page path like pages/index/index");
                    }
                }
            }
            Channel::Sms => {
                if blank(&self.sms_template_code) {
                    return fault("sms_template_code", "missing; the template code the SMS vendor approved (e.g. SMS_123456789)");
                }
                match self.signature.as_deref().map(str::trim) {
                    None | Some("") => return fault("signature", "missing; the approved SMS signature (签名), e.g. 华美超市"),
                    Some(s) if !(2..=12).contains(&s.chars().count()) || s.contains(['【', '】']) => {
                        return fault("signature", format!("{s:?}: expected 2 to 12 characters without 【】"));
                    }
                    Some(_) => {}
                }
                let Some(text) = self.sms_text.as_deref().filter(|t| !t.trim().is_empty()) else {
                    return fault("sms_text", "missing; the approved text with ${param} placeholders");
                };
                for (name, present) in [
                    ("wechat_template_id", self.wechat_template_id.is_some()),
                    ("url", self.url.is_some()),
                    ("miniprogram", self.miniprogram.is_some()),
                ] {
                    if present {
                        return fault(name, "is for WeChat templates; remove it or set channel \"wechat\"");
                    }
                }
                let used = sms_placeholders(text).map_err(|e| TemplateFault { field: "sms_text".into(), message: e.to_string() })?;
                for p in &used {
                    if !self.fields.contains_key(p) {
                        return fault("sms_text", format!("${{{p}}} has no entry in fields; add fields.{p}"));
                    }
                }
                for (name, value) in &self.fields {
                    let field = format!("fields.{name}");
                    if !is_param_name(name) {
                        return fault(field, "a param name has letters, digits and _ only");
                    }
                    if !used.contains(name) {
                        return fault(field, format!("is not used by sms_text (no ${{{name}}} there)"));
                    }
                    parse_text(value, &known).map_err(|e| TemplateFault { field, message: e.to_string() })?;
                }
            }
        }
        Ok(())
    }

    /// Renders the template with `vars`. WeChat fields longer than 200 characters and SMS
    /// longer than 500 are refused, naming the field.
    pub fn render(&self, vars: &BTreeMap<String, String>) -> Result<Rendered, TemplateFault> {
        let known = self.known_variables();
        let mut fields = Vec::new();
        for (name, text) in self.ordered_fields() {
            let field = format!("fields.{name}");
            let value = render_text(text, &known, vars).map_err(|e| TemplateFault { field: field.clone(), message: e.to_string() })?;
            let chars = value.chars().count();
            if self.channel == Channel::Wechat && chars > WECHAT_FIELD_MAX_CHARS {
                return fault(field, format!("rendered {}", TextError::TooLong { chars, max: WECHAT_FIELD_MAX_CHARS }));
            }
            fields.push((name.to_string(), value));
        }
        let (text, segments) = match self.channel {
            Channel::Wechat => (fields.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join("\n"), 1),
            Channel::Sms => {
                let params: BTreeMap<String, String> = fields.iter().cloned().collect();
                let text = sms_full_text(
                    self.signature.as_deref().unwrap_or_default(),
                    self.sms_text.as_deref().unwrap_or_default(),
                    &params,
                );
                let chars = text.chars().count();
                if chars > SMS_MAX_CHARS {
                    return fault("sms_text", format!("rendered {}", TextError::TooLong { chars, max: SMS_MAX_CHARS }));
                }
                let segments = sms_segments(chars);
                (text, segments)
            }
        };
        let chars = text.chars().count();
        Ok(Rendered { fields, text, chars, segments })
    }
}

/// A template rendered for one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// Field (WeChat) or param (SMS) → rendered value, in reading order.
    pub fields: Vec<(String, String)>,
    /// What the member reads: WeChat fields one per line; the whole SMS with its 【signature】.
    pub text: String,
    pub chars: usize,
    /// SMS segments billed (1 for WeChat).
    pub segments: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap().and_hms_opt(h, m, 0).unwrap()
    }
    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn quiet_window_21_to_9_wraps_midnight() {
        let (s, e) = (hm(21, 0), hm(9, 0));
        assert_eq!(quiet_until(at(26, 20, 59), s, e), None, "20:59 is before the window");
        assert_eq!(quiet_until(at(26, 21, 0), s, e), Some(at(27, 9, 0)), "21:00 holds to tomorrow 09:00");
        assert_eq!(quiet_until(at(26, 23, 59), s, e), Some(at(27, 9, 0)));
        assert_eq!(quiet_until(at(27, 0, 0), s, e), Some(at(27, 9, 0)), "midnight holds to the same morning");
        assert_eq!(quiet_until(at(27, 8, 59), s, e), Some(at(27, 9, 0)), "08:59 holds one minute");
        assert_eq!(quiet_until(at(27, 9, 0), s, e), None, "09:00 sends");
        // Month end: 30 Nov 22:00 → 1 Dec 09:00.
        let nov30 = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap().and_hms_opt(22, 0, 0).unwrap();
        let dec1 = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap().and_hms_opt(9, 0, 0).unwrap();
        assert_eq!(quiet_until(nov30, s, e), Some(dec1));
    }

    #[test]
    fn quiet_window_inside_one_day_and_none() {
        let (s, e) = (hm(12, 0), hm(14, 0));
        assert_eq!(quiet_until(at(26, 11, 59), s, e), None);
        assert_eq!(quiet_until(at(26, 12, 0), s, e), Some(at(26, 14, 0)));
        assert_eq!(quiet_until(at(26, 13, 59), s, e), Some(at(26, 14, 0)));
        assert_eq!(quiet_until(at(26, 14, 0), s, e), None);
        assert_eq!(quiet_until(at(26, 3, 0), hm(0, 0), hm(0, 0)), None, "start = end: no quiet hours");
    }

    #[test]
    fn weekly_cap_counts_the_last_seven_days() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let sent = [
            now - Duration::days(7),                           // exactly 7×24 h ago: outside
            now - Duration::days(7) + Duration::seconds(1),    // inside
            now - Duration::hours(1),                          // inside
        ];
        assert_eq!(within_cap_window(&sent, now), 2);
        assert!(over_weekly_cap(&sent, now, 2), "2 sent, cap 2: a third is over");
        assert!(!over_weekly_cap(&sent, now, 3));
        assert!(!over_weekly_cap(&sent, now, 0), "cap 0 = no cap");
        assert!(!over_weekly_cap(&sent, now + Duration::seconds(1), 2), "a second later one left the window");
    }

    #[test]
    fn renders_member_variables() {
        let vars: BTreeMap<String, String> = [
            ("name", "张先生"),
            ("coupon", "满200减50"),
            ("expiring_points", "300"),
            ("expiring_date", "2026-12-31"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let text = "{{name}}，您的{{ expiring_points }}积分将于{{expiring_date}}过期，送您{{coupon}}";
        assert_eq!(
            render_text(text, &KNOWN_VARIABLES, &vars).unwrap(),
            "张先生，您的300积分将于2026-12-31过期，送您满200减50"
        );
        assert_eq!(
            render_text("{{store}}欢迎您", &KNOWN_VARIABLES, &vars),
            Err(TextError::NoValue { name: "store".into() })
        );
    }

    #[test]
    fn refuses_unknown_unclosed_and_empty_variables() {
        assert!(matches!(parse_text("您好{{nmae}}", &KNOWN_VARIABLES), Err(TextError::UnknownVariable { name, .. }) if name == "nmae"));
        assert_eq!(parse_text("您好{{name", &KNOWN_VARIABLES), Err(TextError::Unclosed { at: 2 }));
        assert_eq!(parse_text("a{{ }}", &KNOWN_VARIABLES), Err(TextError::EmptyVariable { at: 1 }));
        assert_eq!(parse_text("纯文本", &KNOWN_VARIABLES).unwrap(), vec![Piece::Text("纯文本".into())]);
    }

    #[test]
    fn salutation_uses_surname_and_gender_only() {
        assert_eq!(salutation("张伟", Some(true)), "张先生");
        assert_eq!(salutation("李娜", Some(false)), "李女士");
        assert_eq!(salutation("欧阳娜娜", Some(false)), "欧阳女士");
        assert_eq!(salutation("欧阳", Some(true)), "欧先生", "a two-character name is surname + given name");
        assert_eq!(salutation("Wang Wei", Some(true)), "Wang先生");
        assert_eq!(salutation("张伟", None), "会员", "gender unknown");
        assert_eq!(salutation("  ", Some(true)), "会员");
    }

    #[test]
    fn sms_segments_70_then_67() {
        assert_eq!(sms_segments(0), 1);
        assert_eq!(sms_segments(70), 1);
        assert_eq!(sms_segments(71), 2);
        assert_eq!(sms_segments(134), 2);
        assert_eq!(sms_segments(135), 3);
    }

    #[test]
    fn sms_text_and_placeholders() {
        let text = "${name}您好，送您${coupon}，回T退订";
        assert_eq!(sms_placeholders(text).unwrap(), vec!["name".to_string(), "coupon".to_string()]);
        assert_eq!(sms_placeholders("${name"), Err(TextError::Unclosed { at: 0 }));
        let params: BTreeMap<String, String> =
            [("name".to_string(), "张先生".to_string()), ("coupon".to_string(), "满200减50".to_string())].into();
        assert_eq!(sms_full_text("华美超市", text, &params), "【华美超市】张先生您好，送您满200减50，回T退订");
    }

    fn wechat_template() -> MessageTemplate {
        MessageTemplate {
            id: "wake".into(),
            name: "休眠唤醒".into(),
            channel: Channel::Wechat,
            wechat_template_id: Some("OPENTM207940503".into()),
            sms_template_code: None,
            signature: None,
            sms_text: None,
            fields: [
                ("first", "{{name}}，好久不见"),
                ("keyword1", "{{coupon}}"),
                ("keyword2", "{{store}}"),
                ("remark", "您有{{points}}积分"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            url: None,
            miniprogram: Some(MiniProgramPage { appid: "wx1234567890abcdef".into(), pagepath: "pages/coupon/index".into() }),
            extra_vars: vec![],
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn wechat_template_checks_and_renders_in_reading_order() {
        let t = wechat_template();
        assert_eq!(t.check_content(), Ok(()));
        let r = t
            .render(&vars(&[("name", "张先生"), ("coupon", "满200减50"), ("store", "华美超市 徐汇店"), ("points", "1280")]))
            .unwrap();
        assert_eq!(r.text, "张先生，好久不见\n满200减50\n华美超市 徐汇店\n您有1280积分");
        assert_eq!(r.fields[0].0, "first");
        assert_eq!(r.fields[3].0, "remark");

        let mut gap = t.clone();
        gap.fields.remove("keyword1");
        assert_eq!(gap.check_content().unwrap_err().field, "fields.keyword1");
        let mut long = t.clone();
        long.fields.insert("keyword1".into(), "好".repeat(201));
        let e = long.check_content().unwrap_err();
        assert_eq!((e.field.as_str(), e.message.as_str()), ("fields.keyword1", "is 201 characters long; at most 200"));
        let mut unknown = t.clone();
        unknown.fields.insert("remark".into(), "{{birthday}}快乐".into());
        assert_eq!(unknown.check_content().unwrap_err().field, "fields.remark");
        // A caller-given coupon of 201 characters renders keyword1 over 200.
        let e = t.render(&vars(&[("name", "x"), ("coupon", &"券".repeat(201)), ("store", "s"), ("points", "1")])).unwrap_err();
        assert_eq!(e.field, "fields.keyword1");
    }

    #[test]
    fn sms_template_counts_segments() {
        let t = MessageTemplate {
            id: "wake_sms".into(),
            name: String::new(),
            channel: Channel::Sms,
            wechat_template_id: None,
            sms_template_code: Some("SMS_123456789".into()),
            signature: Some("华美超市".into()),
            sms_text: Some("${name}您好，送您${coupon}，回T退订".into()),
            fields: vars(&[("name", "{{name}}"), ("coupon", "{{coupon}}")]),
            url: None,
            miniprogram: None,
            extra_vars: vec![],
        };
        assert_eq!(t.check_content(), Ok(()));
        let r = t.render(&vars(&[("name", "李女士"), ("coupon", "满200减50")])).unwrap();
        assert_eq!(r.text, "【华美超市】李女士您好，送您满200减50，回T退订");
        assert_eq!((r.chars, r.segments), (26, 1));
        let r = t.render(&vars(&[("name", "李女士"), ("coupon", &"券".repeat(60))])).unwrap();
        assert_eq!((r.chars, r.segments), (79, 2));
        let mut unused = t.clone();
        unused.fields.insert("store".into(), "{{store}}".into());
        assert_eq!(unused.check_content().unwrap_err().field, "fields.store");
        let mut missing = t.clone();
        missing.fields.remove("coupon");
        assert_eq!(missing.check_content().unwrap_err().field, "sms_text");
    }

    #[test]
    fn wechat_field_order() {
        assert_eq!(wechat_field_rank("first"), Some(0));
        assert_eq!(wechat_field_rank("keyword3"), Some(3));
        assert_eq!(wechat_field_rank("remark"), Some(u32::MAX));
        assert_eq!(wechat_field_rank("keyword0"), None);
        assert_eq!(wechat_field_rank("keyword01"), None);
        assert_eq!(wechat_field_rank("title"), None);
    }
}
