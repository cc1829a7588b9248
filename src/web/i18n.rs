//! Languages of the pages: zh-CN first, English second. Strings stay next to the code that shows
//! them, both languages side by side (`lang.pick("今日销售", "Today's sales")`), so a page reads
//! in one place and a missing translation cannot compile. Money is `¥1,234.50` in both
//! (`domain::money::format_yuan`).

use serde::{Deserialize, Serialize};

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    pub fn from_config(l: crate::config::Language) -> Lang {
        match l {
            crate::config::Language::ZhCn => Lang::Zh,
            crate::config::Language::En => Lang::En,
        }
    }

    /// The string in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The `lang` attribute of `<html>`.
    pub fn html_tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `zh-CN`/`zh`/`en` as typed in a form or a query; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" => Some(Lang::Zh),
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// Money as pages show it: `¥1,234.50`.
pub fn yuan(fen: i64) -> String {
    crate::domain::money::format_yuan(fen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_pick() {
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("EN"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::Zh.pick("会员", "Members"), "会员");
        assert_eq!(Lang::En.pick("会员", "Members"), "Members");
        assert_eq!(yuan(123_450), "¥1,234.50");
    }
}
