//! Sales channels (销售渠道): where a sale came from. Every sale carries one; the in-store lanes
//! sell as [`SalesChannel::InStore`], online orders that HQ forwards (`order.ingest`) carry the
//! channel the order names. One name per channel everywhere: the wire and storage word
//! ([`SalesChannel::as_str`]), and a zh-CN and an English label for pages and reports.

use serde::{Deserialize, Serialize};

/// Where a sale was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SalesChannel {
    /// At one of the shop's checkout lanes (门店收银).
    #[default]
    InStore,
    /// The chain's WeChat mini program (小程序).
    MiniProgram,
    /// A delivery platform such as 美团 or 饿了么 (外卖平台).
    Delivery,
    /// The chain's online mall (线上商城).
    OnlineMall,
    /// An order taken by phone (电话订单).
    Phone,
}

impl SalesChannel {
    pub const ALL: [SalesChannel; 5] = [
        SalesChannel::InStore,
        SalesChannel::MiniProgram,
        SalesChannel::Delivery,
        SalesChannel::OnlineMall,
        SalesChannel::Phone,
    ];

    /// The word used in storage, events, the API, the CLI and CSV files.
    pub fn as_str(self) -> &'static str {
        match self {
            SalesChannel::InStore => "in_store",
            SalesChannel::MiniProgram => "mini_program",
            SalesChannel::Delivery => "delivery",
            SalesChannel::OnlineMall => "online_mall",
            SalesChannel::Phone => "phone",
        }
    }

    /// Reads [`SalesChannel::as_str`]'s word; `None` for anything else.
    pub fn parse(word: &str) -> Option<SalesChannel> {
        SalesChannel::ALL.into_iter().find(|c| c.as_str() == word)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SalesChannel::InStore => "门店",
            SalesChannel::MiniProgram => "小程序",
            SalesChannel::Delivery => "外卖平台",
            SalesChannel::OnlineMall => "线上商城",
            SalesChannel::Phone => "电话订单",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            SalesChannel::InStore => "In store",
            SalesChannel::MiniProgram => "Mini program",
            SalesChannel::Delivery => "Delivery platform",
            SalesChannel::OnlineMall => "Online mall",
            SalesChannel::Phone => "Phone order",
        }
    }

    /// The words [`SalesChannel::parse`] accepts, for error messages.
    pub fn expected() -> String {
        SalesChannel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_channel_reads_back_from_its_word_and_serde_agrees() {
        for c in SalesChannel::ALL {
            assert_eq!(SalesChannel::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        assert_eq!(SalesChannel::parse("meituan"), None);
        assert_eq!(SalesChannel::expected(), "in_store, mini_program, delivery, online_mall, phone");
    }
}
