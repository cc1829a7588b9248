//! Printed documents laid out for the paper: the sale receipt (from the checkout's
//! [`Receipt`] model plus what only the printer shows: the tier, the points balance, the QR
//! code of the sale id, the drawer kick), the shift report (交班报表) and the test page.
//! Renderers produce a [`Layout`]; the bytes come from [`Layout::encode`].
//!
//! Also the sample sale of `storehub receipt render --sample`: priced, settled and earned
//! through the real domain functions, not typed in.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::escpos::{text_width, Align, Size};
use super::layout::Layout;
use crate::checkout::receipt::Receipt;
use crate::checkout::{CartLine, Sale};
use crate::config::Language;
use crate::domain::money::format_yuan;
use crate::domain::tender::TenderKind;
use crate::staff::Shift;

/// What may be printed about the member of a sale, looked up when the receipt is printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// `138****5678`, never the full number.
    pub masked_phone: String,
    /// The points balance at print time (after this sale's points).
    pub points_balance: i64,
}

/// Everything a sale receipt shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleReceipt {
    pub receipt: Receipt,
    pub sale_id: u64,
    pub tier: Option<String>,
    pub points_balance: Option<i64>,
    /// Some of the sale was paid in cash (the drawer opens).
    pub paid_cash: bool,
    pub lang: LangTag,
}

/// [`Language`] as stored in a print job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LangTag {
    ZhCn,
    En,
}

impl From<Language> for LangTag {
    fn from(l: Language) -> Self {
        match l {
            Language::ZhCn => LangTag::ZhCn,
            Language::En => LangTag::En,
        }
    }
}

impl SaleReceipt {
    /// The receipt of a committed sale.
    pub fn of(sale: &Sale, store_name: &str, tz: chrono_tz::Tz, lang: Language, member: Option<&MemberInfo>) -> SaleReceipt {
        let receipt = Receipt::of(sale, store_name, tz, lang, member.map(|m| m.masked_phone.clone()));
        SaleReceipt {
            receipt,
            sale_id: sale.id,
            tier: sale.tier.clone(),
            points_balance: member.map(|m| m.points_balance),
            paid_cash: sale.settlement.tenders.iter().any(|t| t.kind == TenderKind::Cash),
            lang: lang.into(),
        }
    }

    /// The QR code's payload: the sale id, in decimal.
    pub fn qr_payload(&self) -> String {
        self.sale_id.to_string()
    }
}

struct Labels {
    receipt_no: &'static str,
    time: &'static str,
    lane: &'static str,
    cashier: &'static str,
    member: &'static str,
    tier: &'static str,
    item: &'static str,
    amount: &'static str,
    subtotal: &'static str,
    discounts: &'static str,
    total: &'static str,
    rounding: &'static str,
    change: &'static str,
    points_earned: &'static str,
    points_balance: &'static str,
    thanks: &'static str,
}

const ZH: Labels = Labels {
    receipt_no: "单号",
    time: "时间",
    lane: "收银台",
    cashier: "收银员",
    member: "会员",
    tier: "会员等级",
    item: "商品",
    amount: "金额",
    subtotal: "合计",
    discounts: "优惠合计",
    total: "应付",
    rounding: "抹零",
    change: "找零",
    points_earned: "本次积分",
    points_balance: "积分余额",
    thanks: "谢谢惠顾，欢迎再次光临",
};

const EN: Labels = Labels {
    receipt_no: "Receipt",
    time: "Time",
    lane: "Lane",
    cashier: "Cashier",
    member: "Member",
    tier: "Tier",
    item: "Item",
    amount: "Amount",
    subtotal: "Subtotal",
    discounts: "Discounts",
    total: "Total",
    rounding: "Rounding",
    change: "Change",
    points_earned: "Points earned",
    points_balance: "Points balance",
    thanks: "Thank you, see you again",
};

fn labels(lang: LangTag) -> &'static Labels {
    match lang {
        LangTag::ZhCn => &ZH,
        LangTag::En => &EN,
    }
}

/// Lays out a sale receipt for `columns`; `drawer` = a cash drawer hangs off this printer
/// (kicked, at the start of the job, when some of the sale was paid in cash).
pub fn render_sale(r: &SaleReceipt, columns: usize, drawer: bool) -> Layout {
    let t = labels(r.lang);
    let rc = &r.receipt;
    let mut l = Layout::new(columns);
    if drawer && r.paid_cash {
        l.drawer_kick();
    }
    l.text(&rc.store_name, Align::Center, true, Size::Double);
    l.row(t.receipt_no, &rc.receipt_no);
    l.row(t.time, &rc.time);
    l.row(t.lane, &rc.lane);
    l.row(t.cashier, &rc.cashier);
    if let Some(m) = &rc.member {
        l.row(t.member, m);
        if let Some(tier) = &r.tier {
            l.row(t.tier, tier);
        }
    }
    l.rule('-');
    // Every amount of the table right-aligned in one column as wide as the widest.
    let amounts = rc.lines.iter().map(|x| format_yuan(x.amount_fen)).chain(rc.lines.iter().flat_map(|x| x.discounts.iter().map(|(_, f)| format_yuan(-f))));
    let amount_cols = amounts.map(|a| text_width(&a)).max().unwrap_or(0).max(text_width(t.amount));
    l.item(t.item, t.amount, amount_cols);
    for line in &rc.lines {
        l.item(&line.name, &format_yuan(line.amount_fen), amount_cols);
        l.left(&format!("  {}", line.qty_text));
        for (why, fen) in &line.discounts {
            l.row(&format!("  {why}"), &format_yuan(-fen));
        }
    }
    l.rule('-');
    l.row(t.subtotal, &format_yuan(rc.subtotal_fen));
    for (why, fen) in &rc.discounts {
        l.row(why, &format_yuan(-fen));
    }
    if rc.discount_total_fen != 0 {
        l.row(t.discounts, &format_yuan(-rc.discount_total_fen));
    }
    l.row_styled(t.total, &format_yuan(rc.total_fen), true, Size::DoubleHeight);
    if rc.rounding_fen != 0 {
        l.row(t.rounding, &format_yuan(rc.rounding_fen));
    }
    for (name, fen) in &rc.tenders {
        l.row(name, &format_yuan(*fen));
    }
    if rc.change_fen != 0 {
        l.row(t.change, &format_yuan(rc.change_fen));
    }
    if rc.member.is_some() {
        l.row(t.points_earned, &rc.points_earned.to_string());
        if let Some(b) = r.points_balance {
            l.row(t.points_balance, &b.to_string());
        }
    }
    l.rule('-');
    l.qr(&r.qr_payload());
    l.center(&rc.receipt_no);
    l.center(t.thanks);
    l.feed(2);
    l.cut();
    l
}

/// Lays out a shift report (交班报表): float, cash in and out, expected, counted and the
/// difference of a (closed or open) shift.
pub fn render_shift(shift: &Shift, store_name: &str, tz: chrono_tz::Tz, lang: Language, columns: usize) -> Layout {
    let zh = lang == Language::ZhCn;
    let at = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
    let mut l = Layout::new(columns);
    l.text(store_name, Align::Center, true, Size::Double);
    l.text(if zh { "交班报表" } else { "Shift report" }, Align::Center, true, Size::Normal);
    l.rule('=');
    let label = |zh_s: &'static str, en_s: &'static str| if zh { zh_s } else { en_s };
    l.row(label("班次", "Shift"), &shift.id.to_string());
    l.row(label("收银台", "Lane"), &shift.lane);
    l.row(label("收银员", "Staff"), &shift.staff);
    l.row(label("开班", "Opened"), &at(shift.opened_at));
    if let Some(c) = &shift.closed {
        l.row(label("交班", "Closed"), &at(c.at));
    }
    l.rule('-');
    l.row(label("备用金", "Float"), &format_yuan(shift.float_fen));
    l.row(label("现金销售", "Cash sales"), &format_yuan(shift.cash_sales_fen));
    l.row(label("现金退款", "Cash refunds"), &format_yuan(-shift.cash_refunds_fen));
    l.row(label("存入", "Paid in"), &format_yuan(shift.paid_in_fen));
    l.row(label("取出", "Paid out"), &format_yuan(-shift.paid_out_fen));
    l.row_styled(label("应有现金", "Expected cash"), &format_yuan(shift.expected_cash_fen()), true, Size::Normal);
    match &shift.closed {
        Some(c) => {
            l.row(label("实点现金", "Counted"), &format_yuan(c.counted_fen));
            let diff = match c.difference_fen {
                0 => label("无差异", "exact").to_string(),
                d if d > 0 => format!("{}{}", label("长款 ", "over "), format_yuan(d)),
                d => format!("{}{}", label("短款 ", "short "), format_yuan(-d)),
            };
            l.row_styled(label("差额", "Difference"), &diff, true, Size::Normal);
            l.row(label("交班人", "Closed by"), &c.closed_by);
        }
        None => {
            l.center(label("(班次未结束)", "(shift still open)"));
        }
    }
    l.rule('-');
    l.left(label("签名:", "Signature:"));
    l.feed(3);
    l.cut();
    l
}

/// The test page: store name, Chinese sample text, a column ruler (digits and full-width
/// characters) for the configured width, a QR code, cut.
pub fn render_test_page(store_name: &str, columns: usize) -> Layout {
    let mut l = Layout::new(columns);
    let cols = l.columns;
    l.text(store_name, Align::Center, true, Size::Double);
    l.center("storehub 打印测试页 / test page");
    l.rule('=');
    l.left("中文测试：收银小票打印正常。");
    l.left("GB18030: 农夫山泉 车厘子 ￥12.50 ×3");
    l.left(&format!("{cols} columns / {cols} 列:"));
    let digits: String = (1..=cols).map(|i| char::from(b'0' + (i % 10) as u8)).collect();
    l.left(&digits);
    let wide: String = "一二三四五六七八九十".chars().cycle().take(cols / 2).collect();
    l.left(&wide);
    l.text("Bold 粗体", Align::Left, true, Size::Normal);
    l.text("Double 倍宽高", Align::Left, false, Size::Double);
    l.rule('-');
    l.qr("storehub test page");
    l.feed(2);
    l.cut();
    l
}

/// The sample sale behind `storehub receipt render --sample`: Chinese names, a long name that
/// wraps, a weighed item, a member price and a 满减 promotion, a gold member earning points,
/// cash with change. Priced by `domain::pricing`, settled by `domain::tender`, points by
/// `domain::loyalty::earn`.
pub fn sample_sale() -> (Sale, MemberInfo) {
    use crate::domain::loyalty::earn::{earn, EarnLine, EarnTicket};
    use crate::domain::pricing::{self, Promotion, PromotionKind, Quantity, Shopper};
    use crate::domain::tender::{self, CashRounding, Tender, TenderRules};

    let tz = chrono_tz::Asia::Shanghai;
    let at = tz.with_ymd_and_hms(2026, 11, 25, 10, 30, 15).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default();
    let line = |no: u32, sku: &str, zh: &str, en: &str, category: &str, qty: Quantity, price: i64, member: Option<i64>| CartLine {
        line_no: no,
        sku: sku.to_string(),
        name_zh: zh.to_string(),
        name_en: en.to_string(),
        category: category.to_string(),
        qty,
        unit_price_fen: price,
        member_price_fen: member,
        label_price_fen: None,
        barcode: None,
    };
    let lines = vec![
        line(1, "SKU-000101", "农夫山泉饮用天然水550ml", "Nongfu Spring water 550ml", "drinks", Quantity::Units(3), 200, None),
        line(
            2,
            "SKU-000202",
            "进口智利车厘子JJ级大果礼盒装约2.5公斤（顺丰冷链直发）",
            "Imported Chilean cherries JJ grade gift box about 2.5 kg (cold chain)",
            "fruit",
            Quantity::Units(1),
            29_900,
            Some(27_900),
        ),
        line(3, "SKU-020001", "香蕉", "Bananas", "fruit", Quantity::Grams(1_234), 798, None),
        line(4, "SKU-000404", "可口可乐 Coca-Cola 330ml", "Coca-Cola 330ml", "drinks", Quantity::Units(2), 350, None),
    ];
    let basket: Vec<pricing::BasketLine> = lines.iter().map(CartLine::basket_line).collect();
    let promotions = vec![Promotion {
        id: "P-MJ100".to_string(),
        name_zh: "满100减10".to_string(),
        name_en: "¥10 off ¥100".to_string(),
        window: None,
        members_only: false,
        kind: PromotionKind::Threshold { min_spend_fen: 10_000, off_fen: 1_000, stacked: false, categories: Vec::new() },
    }];
    let shopper = Shopper { member: true, tier_discount_bp: 0, tier_id: Some("金卡".to_string()) };
    let local = at.with_timezone(&tz).naive_local();
    let priced = pricing::price_basket(&basket, &shopper, &promotions, &[], local).unwrap_or_else(|e| unreachable_sample("pricing", &e));
    // Cash, rounded up to the next ¥50 note: change comes back.
    let cash = (priced.total_fen / 5_000 + 1) * 5_000;
    let tenders = [Tender { kind: TenderKind::Cash, amount_fen: cash, reference: None, points: None }];
    let rules = TenderRules { cash_rounding: CashRounding::None, max_points_fen: 0, stored_value_balance_fen: 0 };
    let settlement = tender::settle(priced.total_fen, &tenders, &rules).unwrap_or_else(|e| unreachable_sample("tender", &e));
    let ticket = EarnTicket {
        lines: priced.lines.iter().map(|l| EarnLine { sku: l.sku.clone(), category: l.category.clone(), net_paid_fen: l.net_fen }).collect(),
        total_fen: priced.total_fen,
        paid_with_points_fen: 0,
        paid_with_stored_value_fen: 0,
        at: local,
    };
    let earning = earn(&crate::members::LoyaltyRules::default().earn, &ticket, 10_000);
    let sale = Sale {
        id: 1024,
        receipt_no: "lane-1-1024".to_string(),
        lane: "lane-1".to_string(),
        cashier: "王芳".to_string(),
        shift_id: Some(7),
        member_id: Some(42),
        at,
        lines,
        priced,
        settlement,
        stock_moves: vec![1, 2, 3, 4],
        points_earned: earning.points,
        points_redeemed: 0,
        coupons: Vec::new(),
        tier: Some("金卡".to_string()),
        points_lot: None,
        points_eligible_fen: earning.lines.iter().filter(|l| !l.excluded).map(|l| l.eligible_fen).sum(),
        points_reversed: 0,
        points_restored: 0,
        returned: Vec::new(),
        refunded_fen: 0,
        channel: crate::domain::channel::SalesChannel::InStore,
        order_id: None,
        clock_unsynced: false,
        price_overrides: Vec::new(),
    };
    let member = MemberInfo { masked_phone: "138****5678".to_string(), points_balance: 1_280 + earning.points };
    (sale, member)
}

/// The sample's inputs are fixed and valid; a domain change that refuses them is a bug here.
fn unreachable_sample(what: &str, e: &dyn std::fmt::Display) -> ! {
    panic!("the sample sale no longer passes {what}: {e}")
}

/// The sample receipt as the CLI renders it.
pub fn sample_receipt(store_name: &str, lang: Language) -> SaleReceipt {
    let (sale, member) = sample_sale();
    SaleReceipt::of(&sale, store_name, chrono_tz::Asia::Shanghai, lang, Some(&member))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::printer::escpos::chinese_runs;
    use crate::devices::printer::layout::Line;

    #[test]
    fn the_sample_sale_has_what_the_cli_promises() {
        let (sale, member) = sample_sale();
        assert_eq!(sale.lines.len(), 4);
        assert!(sale.priced.ticket_discounts.iter().any(|d| d.reason_zh.contains("满100减10")), "{:?}", sale.priced.ticket_discounts);
        assert!(sale.settlement.change_fen > 0);
        assert!(sale.points_earned > 0);
        assert_eq!(member.points_balance, 1_280 + sale.points_earned);
    }

    #[test]
    fn a_sale_survives_the_json_of_the_control_reply() {
        // `storehub receipt render --sale` reads the sale from `sale show`'s JSON.
        let (sale, _) = sample_sale();
        let json = serde_json::to_value(&sale).unwrap();
        assert_eq!(serde_json::from_value::<Sale>(json).unwrap(), sale);
    }

    #[test]
    fn no_receipt_line_exceeds_the_paper_in_either_language_or_width() {
        for lang in [Language::ZhCn, Language::En] {
            let r = sample_receipt("华美超市 徐汇店", lang);
            for cols in [32, 42, 48] {
                for drawer in [false, true] {
                    let l = render_sale(&r, cols, drawer);
                    assert!(l.widest() <= cols, "{cols} columns:\n{}", l.plain_text());
                    assert_eq!(l.lines.contains(&Line::DrawerKick), drawer);
                }
            }
        }
    }

    #[test]
    fn the_receipt_decodes_back_and_carries_the_sale_id_in_its_qr() {
        let r = sample_receipt("华美超市 徐汇店", Language::ZhCn);
        let layout = render_sale(&r, 32, false);
        let bytes = layout.encode().unwrap();
        let runs = chinese_runs(&bytes).join("\n");
        for want in ["华美超市 徐汇店", "农夫山泉", "香蕉", "满100减10", "找零", "积分余额", "138****5678", "金卡"] {
            assert!(runs.contains(want), "{want} missing from {runs}");
        }
        assert!(layout.lines.contains(&Line::Qr("1024".to_string())));
        let store = [0x1D, 0x28, 0x6B, 0x07, 0x00, 0x31, 0x50, 0x30, b'1', b'0', b'2', b'4'];
        assert!(bytes.windows(store.len()).any(|w| w == store));
    }

    #[test]
    fn the_shift_report_and_test_page_fit() {
        let shift = Shift {
            id: 7,
            lane: "lane-1".into(),
            staff: "王芳".into(),
            opened_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            float_fen: 30_000,
            cash_sales_fen: 123_456_789,
            cash_refunds_fen: 1_000,
            paid_in_fen: 0,
            paid_out_fen: 15_050,
            closed: Some(crate::staff::ShiftClose {
                at: DateTime::from_timestamp(1_790_030_000, 0).unwrap(),
                counted_fen: 123_470_000,
                expected_fen: 123_460_739,
                difference_fen: 9_261,
                closed_by: "李经理".into(),
            }),
        };
        for cols in [32, 48] {
            let l = render_shift(&shift, "华美超市 徐汇店", chrono_tz::Asia::Shanghai, Language::ZhCn, cols);
            assert!(l.widest() <= cols, "{}", l.plain_text());
            assert!(l.plain_text().contains("长款"));
            let t = render_test_page("华美超市", cols);
            assert!(t.widest() <= cols, "{}", t.plain_text());
            assert!(t.plain_text().contains(&"1234567890".repeat(3)[..cols.min(30)]));
        }
    }
}
