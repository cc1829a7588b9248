//! Control requests for the lanes: the cashier's actions (sign in, scan, weigh, change lines,
//! pay), returns, sales and their receipts, and the sales export. The daemon keeps one `Lanes`
//! for its life (carts in memory); the CLI without a daemon opens them per command (carts are
//! persisted, so the next command finds them).

use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Reply;
use crate::checkout::receipt::Receipt;
use crate::checkout::returns::{self, ReturnRequest};
use crate::checkout::sale::{self, PayRequest, Sale, SaleRules};
use crate::checkout::{Lanes, ScaleReading};
use crate::config::{CashRoundingConfig, Config, Language};
use crate::domain::tender::{CashRounding, Tender};
use crate::store::Store;

/// A cashier action on one lane.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LaneAction {
    Show,
    SignIn { staff: String, pin: crate::config::Secret },
    SignOut,
    Scan { code: String },
    Add { sku: String, qty: i64 },
    /// Weigh at the lane scale; `grams` is a reading typed in (a technician or a test standing
    /// in for the scale), taken as stable now.
    Weigh { sku: String, grams: Option<i64> },
    SetQty { line: u32, qty: i64 },
    Remove { line: u32 },
    Void,
    Pay { tenders: Vec<Tender> },
    /// The shopper's member card, QR code or phone number.
    Member { query: String },
    /// The member is taken off the sale.
    NoMember,
    /// A coupon code handed over.
    Coupon { code: String },
    /// A coupon taken back.
    RemoveCoupon { code: String },
    /// A manager's price override (改价) of one line, approved with their staff id and PIN.
    OverridePrice { line: u32, price_fen: i64, reason: String, staff: String, pin: crate::config::Secret },
}

/// What the lanes need from config.
#[derive(Debug, Clone)]
pub struct CheckoutSetup {
    pub lane_ids: Vec<String>,
    pub max_lines: u32,
    pub cash_rounding: CashRounding,
    pub tz: chrono_tz::Tz,
    pub store_name: String,
    pub language: Language,
    /// The receipt printer of each lane that has one (`[[devices]]` of kind printer with a lane).
    pub printers: Vec<crate::config::DeviceConfig>,
}

impl CheckoutSetup {
    pub fn from_config(c: &Config) -> CheckoutSetup {
        CheckoutSetup {
            lane_ids: c.lanes.iter().map(|l| l.id.as_str().to_string()).collect(),
            max_lines: c.checkout.max_lines,
            cash_rounding: match c.checkout.cash_rounding {
                CashRoundingConfig::None => CashRounding::None,
                CashRoundingConfig::ToJiao => CashRounding::ToJiao,
                CashRoundingConfig::DownToJiao => CashRounding::DownToJiao,
                CashRoundingConfig::DownToYuan => CashRounding::DownToYuan,
            },
            tz: c.timezone(),
            store_name: c.store.name.clone(),
            language: c.store.language,
            printers: c.devices.iter().filter(|d| d.kind == crate::config::DeviceKind::Printer && d.lane.is_some()).cloned().collect(),
        }
    }
}

/// The lanes of one process, opened on first use.
#[derive(Default)]
pub struct LanesCell(Mutex<Option<Arc<Lanes>>>);

impl LanesCell {
    pub fn get(&self, store: &Arc<Store>, setup: &CheckoutSetup, layouts: &[crate::domain::barcode::InStoreLayout]) -> Result<Arc<Lanes>, String> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = slot.as_ref() {
            return Ok(Arc::clone(l));
        }
        let lanes = Lanes::open(Arc::clone(store), &setup.lane_ids, layouts.to_vec(), setup.max_lines).map_err(|e| e.to_string())?;
        *slot = Some(Arc::clone(&lanes));
        Ok(lanes)
    }
}

/// The rules of a sale now: money rules from config, and the promotions active at this
/// shop-local moment.
pub fn rules(store: &Store, setup: &CheckoutSetup, loyalty: &crate::members::LoyaltyRules) -> Result<SaleRules, String> {
    let now = crate::clock::local(store.clock().now(), setup.tz);
    let promotions = crate::promotions::active_promotions(store, now).map_err(|e| e.to_string())?;
    Ok(SaleRules { cash_rounding: setup.cash_rounding, promotions, tz: setup.tz, loyalty: loyalty.clone() })
}

fn receipt(sale: &Sale, setup: &CheckoutSetup) -> Receipt {
    Receipt::of(sale, &setup.store_name, setup.tz, setup.language, None)
}

/// One lane action.
pub fn lane(store: &Arc<Store>, ctx: &super::ops::Context, lane: &str, action: LaneAction) -> Result<Reply, String> {
    let setup = ctx.checkout.as_ref().ok_or("no lanes: lanes come from [[lanes]] in the config; pass --config FILE")?;
    let lanes = ctx.lanes.get(store, setup, &ctx.layouts)?;
    let e = |e: crate::checkout::CheckoutError| e.to_string();
    let rules = rules(store, setup, &ctx.loyalty)?;
    let outcome = match action {
        LaneAction::Show => serde_json::Value::Null,
        LaneAction::SignIn { staff, pin } => {
            let who = crate::staff::login_pin(store, &staff, pin.expose()).map_err(|e| e.to_string())?;
            lanes.sign_in(lane, &who).map_err(e)?;
            json!({ "signed_in": who })
        }
        LaneAction::SignOut => {
            lanes.sign_out(lane).map_err(e)?;
            json!({ "signed_out": true })
        }
        LaneAction::Scan { code } => serde_json::to_value(lanes.scan(lane, &code).map_err(e)?).unwrap_or_default(),
        LaneAction::Add { sku, qty } => json!({ "added": lanes.add_sku(lane, &sku, qty).map_err(e)? }),
        LaneAction::Weigh { sku, grams } => {
            if let Some(grams) = grams {
                lanes.scale_reading(lane, ScaleReading { grams, stable: true, at: store.clock().now() }).map_err(e)?;
            }
            json!({ "added": lanes.add_weighed(lane, &sku).map_err(e)? })
        }
        LaneAction::SetQty { line, qty } => json!({ "changed": lanes.set_units(lane, line, qty).map_err(e)? }),
        LaneAction::Remove { line } => json!({ "removed": lanes.remove_line(lane, line).map_err(e)? }),
        LaneAction::OverridePrice { line, price_fen, reason, staff, pin } => {
            let who = crate::staff::login_pin(store, &staff, pin.expose()).map_err(|e| e.to_string())?;
            if !who.may(crate::domain::staff::Action::PriceOverride) {
                return Err(format!("{} is a {} and may not {}; a manager or admin approves a price override", who.id, who.role.as_str(), crate::domain::staff::Action::PriceOverride.as_phrase()));
            }
            json!({ "override": lanes.override_price(lane, line, price_fen, &who.id, &reason).map_err(e)? })
        }
        LaneAction::Void => json!({ "voided": lanes.void(lane).map_err(e)?.lines.len() }),
        LaneAction::Member { query } => {
            let m = lanes.attach_member(lane, &query).map_err(e)?;
            json!({ "member": { "id": m.id, "phone": m.masked_phone(), "tier": m.tier, "points": m.points, "stored_value_fen": m.stored_value_fen } })
        }
        LaneAction::NoMember => {
            lanes.detach_member(lane).map_err(e)?;
            json!({ "member": null })
        }
        LaneAction::Coupon { code } => {
            lanes.add_coupon(lane, &code).map_err(e)?;
            json!({ "coupon": code })
        }
        LaneAction::RemoveCoupon { code } => {
            lanes.remove_coupon(lane, &code).map_err(e)?;
            json!({ "removed_coupon": code })
        }
        LaneAction::Pay { tenders } => {
            let sale = lanes.pay(lane, &PayRequest { tenders }, &rules).map_err(e)?;
            let r = receipt(&sale, setup);
            let print_job = print_receipt(store, setup, lane, &sale);
            return Ok(Reply::json(json!({ "sale": sale, "receipt": r, "receipt_text": r.to_text(setup.language), "print_job": print_job })));
        }
    };
    let cart = lanes.cart(lane).map_err(e)?;
    let quote = if cart.is_empty() { None } else { Some(lanes.quote(lane, &rules).map_err(e)?) };
    Ok(Reply::json(json!({ "outcome": outcome, "cart": cart, "quote": quote })))
}

/// Queues the sale's receipt on the lane's printer, if it has one. The sale stands either way:
/// a receipt that cannot be queued is logged and reported, and `storehub receipt render --sale`
/// or a reprint can make it later. Returns the job id.
pub fn print_receipt(store: &Store, setup: &CheckoutSetup, lane: &str, sale: &Sale) -> Option<u64> {
    let printer = setup.printers.iter().find(|p| p.lane.as_ref().map(|l| l.as_str()) == Some(lane))?;
    let member = sale.member_id.and_then(|id| crate::members::member(store, id).ok().flatten()).map(|m| crate::devices::printer::MemberInfo {
        masked_phone: m.masked_phone(),
        points_balance: m.points,
    });
    let r = crate::devices::printer::SaleReceipt::of(sale, &setup.store_name, setup.tz, setup.language, member.as_ref());
    match crate::devices::printer::queue_sale_receipt(store, printer, &r) {
        Ok(job) => Some(job.id),
        Err(e) => {
            tracing::error!(sale = sale.id, printer = printer.id.as_str(), error = %e, "the receipt could not be queued");
            None
        }
    }
}

/// A return.
pub fn return_items(store: &Store, ctx: &super::ops::Context, req: ReturnRequest) -> Result<Reply, String> {
    Ok(Reply::json(returns::return_items(store, &req, &ctx.loyalty).map_err(|e| e.to_string())?))
}

/// One sale with its receipt.
pub fn sale_show(store: &Store, ctx: &super::ops::Context, id: u64) -> Result<Reply, String> {
    let sale = sale::sale(store, id).map_err(|e| e.to_string())?.ok_or_else(|| format!("no sale {id}"))?;
    let setup = ctx.checkout.clone().unwrap_or(CheckoutSetup {
        lane_ids: Vec::new(),
        max_lines: 300,
        cash_rounding: CashRounding::None,
        tz: chrono_tz::Asia::Shanghai,
        store_name: String::new(),
        language: Language::ZhCn,
        printers: Vec::new(),
    });
    let r = receipt(&sale, &setup);
    Ok(Reply::json(json!({ "sale": sale, "receipt": r, "receipt_text": r.to_text(setup.language) })))
}

/// One row of `storehub export sales`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaleRow {
    pub sale_id: u64,
    pub time: String,
    pub lane: String,
    pub cashier: String,
    pub member_ref: String,
    pub lines: usize,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub tenders: String,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub returned: String,
}

/// Sales whose shop-local date is within `[from, to]`, as export rows.
pub fn export_sales(store: &Store, ctx: &super::ops::Context, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Reply, String> {
    let tz = ctx.checkout.as_ref().map_or(chrono_tz::Asia::Shanghai, |s| s.tz);
    let mut rows = Vec::new();
    for sale in sale::all_sales(store).map_err(|e| e.to_string())? {
        let local = sale.at.with_timezone(&tz);
        let day = local.date_naive();
        if from.is_some_and(|f| day < f) || to.is_some_and(|t| day > t) {
            continue;
        }
        let tenders: Vec<String> = sale.settlement.tenders.iter().map(|t| format!("{}:{}", serde_json::to_value(t.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(), t.amount_fen)).collect();
        rows.push(SaleRow {
            sale_id: sale.id,
            time: local.to_rfc3339(),
            lane: sale.lane.clone(),
            cashier: sale.cashier.clone(),
            member_ref: sale.member_id.map(|m| m.to_string()).unwrap_or_default(),
            lines: sale.lines.len(),
            discount_fen: sale.priced.discount_total_fen,
            total_fen: sale.priced.total_fen,
            tenders: tenders.join(" "),
            points_earned: sale.points_earned,
            points_redeemed: sale.points_redeemed,
            returned: if sale.refunded_fen == 0 { String::new() } else { sale.refunded_fen.to_string() },
        });
    }
    Ok(Reply::json(rows))
}

/// The columns of `storehub export sales`, in order (also written when there are no rows).
pub const SALES_CSV_HEADER: &str = "sale_id,time,lane,cashier,member_ref,lines,discount_fen,total_fen,tenders,points_earned,points_redeemed,returned";

/// Sales rows as CSV with their header.
pub fn write_sales_csv(rows: &[SaleRow], out: &mut Vec<u8>) -> Result<(), csv::Error> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    w.write_record(SALES_CSV_HEADER.split(','))?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}
