//! The receipt (小票) of a sale as structured data: what a printer driver lays out in ESC/POS,
//! the cashier screen shows, and a test can read. Built only from the committed sale, so a
//! reprint is the same receipt. Amounts are fen; `text` fields are in the shop's language.

use serde::{Deserialize, Serialize};

use super::sale::Sale;
use crate::config::Language;
use crate::domain::money::format_yuan;
use crate::domain::pricing::Quantity;
use crate::domain::tender::TenderKind;

/// A receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub store_name: String,
    pub lane: String,
    pub receipt_no: String,
    /// Shop-local time, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    pub cashier: String,
    pub member: Option<String>,
    pub lines: Vec<ReceiptLine>,
    pub subtotal_fen: i64,
    /// Ticket-level discounts with their reasons (满减, coupons).
    pub discounts: Vec<(String, i64)>,
    pub discount_total_fen: i64,
    pub total_fen: i64,
    pub tenders: Vec<(String, i64)>,
    pub change_fen: i64,
    pub rounding_fen: i64,
    pub points_earned: i64,
}

/// One product line, with the discounts that apply to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub name: String,
    /// "3 × ¥2.00" or "1.234 kg × ¥7.98/kg" or "label".
    pub qty_text: String,
    pub amount_fen: i64,
    pub discounts: Vec<(String, i64)>,
}

fn tender_name(kind: TenderKind, lang: Language) -> &'static str {
    match (kind, lang) {
        (TenderKind::Cash, Language::ZhCn) => "现金",
        (TenderKind::BankCard, Language::ZhCn) => "银行卡",
        (TenderKind::WechatPay, Language::ZhCn) => "微信支付",
        (TenderKind::Alipay, Language::ZhCn) => "支付宝",
        (TenderKind::StoredValue, Language::ZhCn) => "会员卡余额",
        (TenderKind::Points, Language::ZhCn) => "积分抵扣",
        (TenderKind::Online, Language::ZhCn) => "线上支付",
        (TenderKind::Cash, Language::En) => "Cash",
        (TenderKind::BankCard, Language::En) => "Bank card",
        (TenderKind::WechatPay, Language::En) => "WeChat Pay",
        (TenderKind::Alipay, Language::En) => "Alipay",
        (TenderKind::StoredValue, Language::En) => "Stored value",
        (TenderKind::Points, Language::En) => "Points",
        (TenderKind::Online, Language::En) => "Paid online",
    }
}

impl Receipt {
    /// The receipt of a committed sale. `member` is what may be printed about the member (a
    /// masked phone and tier), never more.
    pub fn of(sale: &Sale, store_name: &str, tz: chrono_tz::Tz, lang: Language, member: Option<String>) -> Receipt {
        let zh = lang == Language::ZhCn;
        let lines = sale
            .lines
            .iter()
            .zip(&sale.priced.lines)
            .map(|(l, p)| {
                let qty_text = match (l.qty, l.label_price_fen) {
                    (_, Some(_)) => (if zh { "称重标签" } else { "scale label" }).to_string(),
                    (Quantity::Units(n), None) => format!("{n} × {}", format_yuan(l.unit_price_fen)),
                    (Quantity::Grams(g), None) => format!("{}.{:03} kg × {}/kg", g / 1000, g % 1000, format_yuan(l.unit_price_fen)),
                };
                ReceiptLine {
                    name: if zh { l.name_zh.clone() } else { l.name_en.clone() },
                    qty_text,
                    amount_fen: p.gross_fen,
                    discounts: p.line_discounts.iter().map(|d| (if zh { d.reason_zh.clone() } else { d.reason_en.clone() }, d.amount_fen)).collect(),
                }
            })
            .collect();
        Receipt {
            store_name: store_name.to_string(),
            lane: sale.lane.clone(),
            receipt_no: sale.receipt_no.clone(),
            time: sale.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
            cashier: sale.cashier.clone(),
            member,
            lines,
            subtotal_fen: sale.priced.subtotal_fen,
            discounts: sale.priced.ticket_discounts.iter().map(|d| (if zh { d.reason_zh.clone() } else { d.reason_en.clone() }, d.amount_fen)).collect(),
            discount_total_fen: sale.priced.discount_total_fen,
            total_fen: sale.priced.total_fen,
            tenders: sale.settlement.tenders.iter().map(|t| (tender_name(t.kind, lang).to_string(), t.tendered_fen)).collect(),
            change_fen: sale.settlement.change_fen,
            rounding_fen: sale.settlement.rounding_fen,
            points_earned: sale.points_earned,
        }
    }

    /// Plain text, 32 columns wide as on a 58 mm printer (CJK characters count two columns).
    pub fn to_text(&self, lang: Language) -> String {
        let zh = lang == Language::ZhCn;
        let mut out = String::new();
        let row = |out: &mut String, left: &str, right: &str| {
            let used = display_width(left) + display_width(right);
            let pad = 32usize.saturating_sub(used).max(1);
            out.push_str(left);
            out.push_str(&" ".repeat(pad));
            out.push_str(right);
            out.push('\n');
        };
        out.push_str(&self.store_name);
        out.push('\n');
        row(&mut out, &self.receipt_no, &self.time);
        row(&mut out, if zh { "收银员" } else { "Cashier" }, &self.cashier);
        if let Some(m) = &self.member {
            row(&mut out, if zh { "会员" } else { "Member" }, m);
        }
        out.push_str(&"-".repeat(32));
        out.push('\n');
        for l in &self.lines {
            out.push_str(&l.name);
            out.push('\n');
            row(&mut out, &format!("  {}", l.qty_text), &format_yuan(l.amount_fen));
            for (why, fen) in &l.discounts {
                row(&mut out, &format!("  {why}"), &format_yuan(-fen));
            }
        }
        out.push_str(&"-".repeat(32));
        out.push('\n');
        row(&mut out, if zh { "合计" } else { "Subtotal" }, &format_yuan(self.subtotal_fen));
        for (why, fen) in &self.discounts {
            row(&mut out, why, &format_yuan(-fen));
        }
        row(&mut out, if zh { "应付" } else { "Total" }, &format_yuan(self.total_fen));
        if self.rounding_fen != 0 {
            row(&mut out, if zh { "抹零" } else { "Rounding" }, &format_yuan(self.rounding_fen));
        }
        for (name, fen) in &self.tenders {
            row(&mut out, name, &format_yuan(*fen));
        }
        if self.change_fen != 0 {
            row(&mut out, if zh { "找零" } else { "Change" }, &format_yuan(self.change_fen));
        }
        if self.points_earned != 0 {
            row(&mut out, if zh { "本次积分" } else { "Points earned" }, &self.points_earned.to_string());
        }
        out
    }
}

/// Columns a string takes on a receipt printer: CJK and full-width characters two, others one.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) >= 0x1100 && !matches!(c as u32, 0x2000..=0x206F) { 2 } else { 1 }).sum()
}
