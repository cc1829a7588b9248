//! The local control socket. sled locks its directory to one process, so while the daemon runs,
//! CLI subcommands that need the database (backup, import, export, stock …) send a [`Request`] to
//! the daemon over a Unix socket in the data dir (owner-only permissions); when no daemon runs
//! they open the database themselves and call the same [`ops::handle`]. The user never has to
//! know which.
//!
//! Wire format: one JSON request line; one JSON response line
//! `{"ok":true,"result":…,"payload_len":N}` followed by N raw bytes (backups), or
//! `{"ok":false,"error":"…"}`.

pub mod client;
pub mod firmware;
pub mod lanes;
pub mod ops;
pub mod performance;
pub mod server;
pub mod stocktake;
pub mod attendance;
pub mod recommend;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::Product;
use crate::config::Secret;
use crate::domain::staff::Role;
use crate::coupons::CouponTemplate;
use crate::domain::pricing::Promotion;
use crate::inventory::NewMove;
use crate::members::{MemberJob, NewMember};

/// Largest request line accepted (a catalog import of 100k products is ~40 MB of JSON).
pub const MAX_REQUEST_BYTES: u64 = 128 * 1024 * 1024;

/// Name of the socket inside the data dir.
pub const SOCKET_NAME: &str = "control.sock";

/// Path of the control socket of a data dir.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// What a CLI subcommand asks of the store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Identity, counts and outbox depth.
    Status,
    /// Health of every configured device (connected, last event, errors); only a running daemon
    /// knows it.
    Devices,
    /// The link to HQ: connected or not, outbox depth and age, budget alarm, command counts;
    /// only a running daemon knows it.
    Cloud,
    /// The diagnostic bundle (`crate::diag`), without the config (the CLI adds it, redacted,
    /// from the file it reads). Audited as `diag_collected` by `cli`.
    DiagCollect { outbox_budget_bytes: u64 },
    /// A consistent backup; the bytes come back as the payload.
    Backup,
    /// Every product.
    ExportCatalog,
    /// Upsert products (already validated by the CLI).
    ImportCatalog { products: Vec<Product> },
    /// A barcode decoded and looked up in the catalog.
    Lookup { code: String },
    /// On-hand of one product or all products.
    StockShow { sku: Option<String> },
    /// Record one stock move.
    StockMove { movement: NewMove },
    /// Newest moves, optionally of one product.
    StockMoves { sku: Option<String>, limit: usize },
    /// Outbox depth.
    OutboxStats,
    /// Check the invariants (`storehub verify`).
    Verify,
    /// Take a snapshot now.
    Snapshot,
    /// A cashier action on a lane (scan, pay, …).
    Lane { lane: String, action: lanes::LaneAction },
    /// A return against a sale or without receipt.
    Return { request: crate::checkout::returns::ReturnRequest },
    /// One sale with its receipt.
    SaleShow { id: u64 },
    /// Products by sku prefix or part of a name.
    ProductSearch { query: String, limit: usize },
    /// Sales by shop-local date, as export rows.
    ExportSales { from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDate> },
    /// Create a staff account (secrets already read from stdin by the CLI, never from argv).
    StaffAdd { id: String, name: String, role: Role, password: Secret, pin: Option<Secret> },
    /// Every staff account, without hashes.
    StaffList,
    /// A new API token for HQ's tools (`/api/v1` with `Authorization: Bearer`); the answer holds
    /// the token, shown once.
    TokenAdd { name: String, role: Role },
    /// API tokens by name and role (never the tokens).
    TokenList,
    /// Revoke every API token with this name.
    TokenRemove { name: String },
    /// Set a staff account's password.
    StaffPasswd { id: String, password: Secret },
    /// Set (or, with `None`, clear) a staff account's PIN.
    StaffPin { id: String, pin: Option<Secret> },
    /// Clear a staff account's failed logins and lock.
    StaffUnlock { id: String },
    /// Give a staff account another role.
    StaffRole { id: String, role: Role },
    /// Stop a staff account from logging in.
    StaffDeactivate { id: String },
    /// Open a shift at a lane.
    ShiftOpen { lane: String, staff: String, float_fen: i64 },
    /// Close a shift with the counted cash.
    ShiftClose { id: u64, counted_fen: i64, by: String },
    /// One shift, the open shift of a lane, or (neither given) every open shift.
    ShiftShow { id: Option<u64>, lane: Option<String> },
    /// Upsert promotions (already checked by the CLI; checked again before writing).
    PromotionsImport { promotions: Vec<Promotion> },
    /// Every promotion, or only those active now (shop-local time).
    PromotionsList { active: bool },
    /// Remove one promotion.
    PromotionRemove { id: String },
    /// Upsert coupon templates.
    CouponTemplatesAdd { templates: Vec<CouponTemplate> },
    /// Every coupon template with its usage counts.
    CouponTemplates,
    /// Issue coupons of a template to members (today = shop-local date of the handler).
    CouponsIssue { template_id: String, member_ids: Vec<u64>, campaign: Option<String> },
    /// A member's coupons: usable ones, or all.
    CouponsList { member_id: u64, include_used: bool },
    /// One coupon by its printable code, with its template.
    CouponShow { code: String },
    /// Void one coupon by its printable code.
    CouponVoid { code: String, by: String, reason: String },
    /// Run the coupon expiry job now.
    CouponsExpire,
    /// Register a member (already checked by the CLI).
    MemberAdd { member: NewMember },
    /// One member, by phone, card number or QR payload.
    MemberShow { query: String },
    /// Put money on a member's card (with the top-up bonus).
    MemberTopup { query: String, fen: i64, by: String, reference: Option<String> },
    /// A member's points: balance, debt, lots, what expires soon.
    MemberPoints { query: String },
    /// Add (positive) or remove (negative) points by hand.
    MemberAdjust { query: String, points: i64, reason: String, by: String },
    /// Run a member job now, for the shop-local today.
    JobRun { job: MemberJob },
    /// Every member (phones masked unless `full_phone`).
    ExportMembers { full_phone: bool },
    /// Points ledger entries dated from..=to (shop-local days).
    ExportPointsLedger { from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDate> },
    /// Store purchase history from an old till (rows already format-checked by the CLI; the
    /// members and dates are checked here, all rows before any write).
    ImportTransactions {
        file_name: String,
        /// SHA-256 of the file's bytes (hex): a file imported before is refused. Empty: not checked.
        #[serde(default)]
        sha256: String,
        rows: Vec<crate::members::history::HistoryRow>,
        /// Count the rows in members' statistics and tiers too.
        #[serde(default)]
        count_for_tiers: bool,
    },
    /// Member analytics at a shop-local day (today when `None`), with `[analytics]` rules.
    AnalyticsMembers { as_of: Option<chrono::NaiveDate>, params: crate::domain::rfm::RfmParams },
    /// Fit BG/NBD (`model` "bgnbd") or Gamma-Gamma ("gamma-gamma") to every member's history up
    /// to `until` (default today), times in units of `unit_days` days (1 or 7).
    AnalyticsFit { until: Option<chrono::NaiveDate>, unit_days: u32, model: String },
    /// Create a campaign (draft, or scheduled with a start time).
    CampaignCreate { campaign: crate::members::campaigns::NewCampaign },
    /// Create a built-in playbook's campaign; launched at once unless it has a start time.
    CampaignPlaybook { name: String, start_at: Option<chrono::DateTime<chrono::Utc>>, holdout_bp: Option<u32> },
    /// Every campaign with its funnel.
    CampaignList,
    /// One campaign with its funnel.
    CampaignShow { id: String },
    /// Launch a draft or scheduled campaign now (or resume a launch cut short).
    CampaignLaunch { id: String },
    /// End a running campaign's window now.
    CampaignFinish { id: String },
    /// A campaign's funnel and uplift; `members` adds one row per targeted member.
    CampaignReport { id: String, members: bool },
    /// Upsert message templates (checked by the CLI; checked again before writing).
    MessageTemplatesImport { templates: Vec<crate::members::messages::MessageTemplate> },
    /// Every message template with its use count.
    MessageTemplates,
    /// One message template.
    MessageTemplateShow { id: String },
    /// Remove a message template no message used.
    MessageTemplateRemove { id: String },
    /// Render a template for a member (phone, card, QR or id) or the sample member.
    MessagePreview { template_id: String, member: Option<String>, vars: std::collections::BTreeMap<String, String> },
    /// A one-off message to one member through the gate (consent, cap, quiet hours).
    MessageSend { template_id: String, member: String, vars: std::collections::BTreeMap<String, String> },
    /// Messages, newest first, filtered.
    MessageList {
        member: Option<String>,
        campaign_id: Option<String>,
        state: Option<crate::members::messages::MessageState>,
        limit: usize,
    },
    /// Release held messages whose quiet hours ended (the daemon does it each minute).
    MessagesRelease,
    /// Open a member service ticket; `member` is a phone, card number or QR payload, `by` the
    /// staff who opens it.
    TicketOpen {
        member: String,
        kind: crate::members::tickets::TicketKind,
        channel: crate::members::tickets::TicketChannel,
        subject: String,
        note: Option<String>,
        by: String,
    },
    /// Tickets: all, unresolved (`open`), overdue, or one member's (`member` query).
    TicketList { open: bool, overdue: bool, member: Option<String> },
    /// One ticket with its notes.
    TicketShow { id: u64 },
    /// Give a ticket to a staff member, optionally raising its priority.
    TicketAssign { id: u64, staff: String, priority: Option<crate::members::tickets::Priority>, by: String },
    /// Add a note to a ticket.
    TicketNote { id: u64, text: String, by: String },
    /// Resolve a ticket, optionally with the member's satisfaction (1–5).
    TicketResolve { id: u64, resolution: String, satisfaction: Option<i64>, by: String },
    /// Record the member's satisfaction (1–5) on a resolved ticket.
    TicketRate { id: u64, score: i64, by: String },
    /// A stocktake request (`storehub stocktake …`, `control::stocktake`).
    Stocktake { request: stocktake::StocktakeRequest },
    /// Purchase orders: open ones (`state` None and not `all`), all, or one state's; newest first.
    PoList { state: Option<crate::domain::purchase::PoState>, all: bool },
    /// One purchase order with its lines and receipts.
    PoShow { id: u64 },
    /// A draft purchase order from lines typed by hand.
    PoCreate { order: crate::inventory::purchase::NewOrder, by: String },
    /// Drafts from the latest suggestion list, one per supplier.
    PoFromSuggestions { by: String },
    /// Change a draft's lines, supplier or notes, or a sent order's notes or expected day.
    PoEdit { id: u64, edit: crate::inventory::purchase::PoEdit, by: String },
    /// Send a draft to its supplier.
    PoSend { id: u64, by: String },
    /// Book one scan of goods arriving on a sent order.
    PoReceive { id: u64, scan: crate::inventory::purchase::Scan, by: String },
    /// Close a (partially) received order.
    PoClose { id: u64, by: String },
    /// Cancel a draft, or a sent order nothing arrived on.
    PoCancel { id: u64, by: String },
    /// Open stock alerts; with `all`, also the newest closed ones.
    AlertsList { all: bool },
    /// Staff `staff` acknowledges (closes) alert `id`.
    AlertAck { id: u64, staff: String },
    /// Open restock tasks; with `all`, also the newest done ones.
    RestockList { all: bool },
    /// Staff `staff` marks restock task `id` done, with an optional note.
    RestockDone { id: u64, staff: String, note: Option<String> },
    /// Stock analysis for today with `[stock]`'s rules: everything, or one list
    /// (`inventory::analysis::LISTS`).
    StockAnalysis { list: Option<String> },
    /// `storehub forecast --sku`: the stored series (rolled up to yesterday, cleaned,
    /// `[stock].history_days`); `method` `None` = auto; α's `None` = `[stock]`'s.
    Forecast {
        sku: String,
        method: Option<crate::domain::forecast::Method>,
        horizon: u32,
        alpha: Option<f64>,
        alpha_d: Option<f64>,
        alpha_p: Option<f64>,
    },
    /// The replenishment run for a shop-local day (today when `None`).
    ReplenishmentRun { date: Option<chrono::NaiveDate> },
    /// The latest run's summary and suggestion list (urgent first), optionally only urgent lines
    /// or one supplier's.
    ReplenishmentList { urgent: bool, supplier: Option<String> },
    /// A SKU's own settings, its supplier's terms and the effective policy.
    PolicyShow { sku: String },
    /// Change a SKU's own settings: the given fields (`reset`: remove all first).
    PolicySet { sku: String, patch: crate::inventory::policy::SkuSettings, reset: bool },
    /// Replace a supplier's terms.
    SupplierTermsSet { supplier: String, terms: crate::inventory::policy::SupplierTerms },
    /// Write many SKUs' settings, all or nothing (rows already format-checked by the CLI).
    PolicyImport { file_name: String, rows: Vec<(String, crate::inventory::policy::SkuSettings)> },
    /// Merge member `from` into member `into` (each a phone, card number or member id) for staff
    /// `staff` (`members::merge`).
    MemberMerge { from: String, into: String, staff: String },
    /// Everything stored about a member (phone, card number or member id), for staff `staff`
    /// (`privacy::subject::export`, audited).
    MemberExport { query: String, staff: String },
    /// Erase a member's personal data for staff `staff` (`privacy::subject::erase`, audited).
    MemberErase { query: String, staff: String },
    /// Audit entries, newest first (`audit::list`); `action` by its snake_case name.
    AuditList { action: Option<String>, subject: Option<String>, limit: Option<usize> },
    /// A member's preference profile, by phone, card number, QR payload or member id; with
    /// `rebuild`, derived again from the stored sales and returns first.
    MemberProfile { query: String, rebuild: bool },
    /// Every member's preference profile derived again from the stored sales and returns.
    MemberProfilesRebuild,
    /// A report (`reports::ReportKind` slug, e.g. `channels`) over a shop-local range (`to`:
    /// today, `from`: 30 days ending at `to` when not given), by `period` (day, week, month)
    /// where the report has periods; `csv` adds the CSV file as the reply's payload.
    Report { kind: String, from: Option<chrono::NaiveDate>, to: Option<chrono::NaiveDate>, period: Option<String>, csv: bool },
    /// An attendance request (`storehub attendance …`, `control::attendance`).
    Attendance { request: attendance::AttendanceRequest },
    /// Register a member on behalf of staff `staff` (kept as the member's `registered_by`).
    MemberAddBy { member: NewMember, staff: String },
    /// Staff performance, targets and commission (`storehub staff performance|target|commission`).
    Performance { request: performance::PerfRequest },
    /// A recommendation request (`storehub recommend …`, `control::recommend`).
    Recommend { request: recommend::RecommendRequest },
    /// Flash a shelf node with a UF2 image (`storehub firmware update`, `control::firmware`); a
    /// long request (up to twice `timeout_s` and some seconds), answered when the node is back.
    FirmwareUpdate { request: firmware::UpdateRequest },
    /// The clock as the store judges it (`clock_watch::status`).
    ClockStatus,
    /// Lower the clock's high-water mark to now (`clock_watch::reset_mark`), audited as `cli`.
    ClockResetMark,
}

impl Request {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Devices => "devices",
            Request::Cloud => "cloud",
            Request::DiagCollect { .. } => "diag_collect",
            Request::Backup => "backup",
            Request::ExportCatalog => "export_catalog",
            Request::ImportCatalog { .. } => "import_catalog",
            Request::Lookup { .. } => "lookup",
            Request::StockShow { .. } => "stock_show",
            Request::StockMove { .. } => "stock_move",
            Request::StockMoves { .. } => "stock_moves",
            Request::OutboxStats => "outbox_stats",
            Request::Verify => "verify",
            Request::Snapshot => "snapshot",
            Request::Lane { .. } => "lane",
            Request::Return { .. } => "return",
            Request::SaleShow { .. } => "sale_show",
            Request::ProductSearch { .. } => "product_search",
            Request::ExportSales { .. } => "export_sales",
            Request::StaffAdd { .. } => "staff_add",
            Request::StaffList => "staff_list",
            Request::TokenAdd { .. } => "token_add",
            Request::TokenList => "token_list",
            Request::TokenRemove { .. } => "token_remove",
            Request::StaffPasswd { .. } => "staff_passwd",
            Request::StaffPin { .. } => "staff_pin",
            Request::StaffUnlock { .. } => "staff_unlock",
            Request::StaffRole { .. } => "staff_role",
            Request::StaffDeactivate { .. } => "staff_deactivate",
            Request::ShiftOpen { .. } => "shift_open",
            Request::ShiftClose { .. } => "shift_close",
            Request::ShiftShow { .. } => "shift_show",
            Request::PromotionsImport { .. } => "promotions_import",
            Request::PromotionsList { .. } => "promotions_list",
            Request::PromotionRemove { .. } => "promotion_remove",
            Request::CouponTemplatesAdd { .. } => "coupon_templates_add",
            Request::CouponTemplates => "coupon_templates",
            Request::CouponsIssue { .. } => "coupons_issue",
            Request::CouponsList { .. } => "coupons_list",
            Request::CouponShow { .. } => "coupon_show",
            Request::CouponVoid { .. } => "coupon_void",
            Request::CouponsExpire => "coupons_expire",
            Request::MemberAdd { .. } => "member_add",
            Request::MemberShow { .. } => "member_show",
            Request::MemberTopup { .. } => "member_topup",
            Request::MemberPoints { .. } => "member_points",
            Request::MemberAdjust { .. } => "member_adjust",
            Request::JobRun { .. } => "job_run",
            Request::ExportMembers { .. } => "export_members",
            Request::ExportPointsLedger { .. } => "export_points_ledger",
            Request::ImportTransactions { .. } => "import_transactions",
            Request::AnalyticsMembers { .. } => "analytics_members",
            Request::AnalyticsFit { .. } => "analytics_fit",
            Request::CampaignCreate { .. } => "campaign_create",
            Request::CampaignPlaybook { .. } => "campaign_playbook",
            Request::CampaignList => "campaign_list",
            Request::CampaignShow { .. } => "campaign_show",
            Request::CampaignLaunch { .. } => "campaign_launch",
            Request::CampaignFinish { .. } => "campaign_finish",
            Request::CampaignReport { .. } => "campaign_report",
            Request::MessageTemplatesImport { .. } => "message_templates_import",
            Request::MessageTemplates => "message_templates",
            Request::MessageTemplateShow { .. } => "message_template_show",
            Request::MessageTemplateRemove { .. } => "message_template_remove",
            Request::MessagePreview { .. } => "message_preview",
            Request::MessageSend { .. } => "message_send",
            Request::MessageList { .. } => "message_list",
            Request::MessagesRelease => "messages_release",
            Request::TicketOpen { .. } => "ticket_open",
            Request::TicketList { .. } => "ticket_list",
            Request::TicketShow { .. } => "ticket_show",
            Request::TicketAssign { .. } => "ticket_assign",
            Request::TicketNote { .. } => "ticket_note",
            Request::TicketResolve { .. } => "ticket_resolve",
            Request::TicketRate { .. } => "ticket_rate",
            Request::Stocktake { .. } => "stocktake",
            Request::PoList { .. } => "po_list",
            Request::PoShow { .. } => "po_show",
            Request::PoCreate { .. } => "po_create",
            Request::PoFromSuggestions { .. } => "po_from_suggestions",
            Request::PoEdit { .. } => "po_edit",
            Request::PoSend { .. } => "po_send",
            Request::PoReceive { .. } => "po_receive",
            Request::PoClose { .. } => "po_close",
            Request::PoCancel { .. } => "po_cancel",
            Request::AlertsList { .. } => "alerts_list",
            Request::AlertAck { .. } => "alert_ack",
            Request::RestockList { .. } => "restock_list",
            Request::RestockDone { .. } => "restock_done",
            Request::StockAnalysis { .. } => "stock_analysis",
            Request::Forecast { .. } => "forecast",
            Request::ReplenishmentRun { .. } => "replenishment_run",
            Request::ReplenishmentList { .. } => "replenishment_list",
            Request::PolicyShow { .. } => "policy_show",
            Request::PolicySet { .. } => "policy_set",
            Request::SupplierTermsSet { .. } => "supplier_terms_set",
            Request::PolicyImport { .. } => "policy_import",
            Request::MemberMerge { .. } => "member_merge",
            Request::MemberExport { .. } => "member_export",
            Request::MemberErase { .. } => "member_erase",
            Request::AuditList { .. } => "audit_list",
            Request::MemberProfile { .. } => "member_profile",
            Request::MemberProfilesRebuild => "member_profiles_rebuild",
            Request::Report { .. } => "report",
            Request::Attendance { .. } => "attendance",
            Request::MemberAddBy { .. } => "member_add_by",
            Request::Performance { .. } => "performance",
            Request::Recommend { .. } => "recommend",
            Request::FirmwareUpdate { .. } => "firmware_update",
            Request::ClockStatus => "clock_status",
            Request::ClockResetMark => "clock_reset_mark",
        }
    }
}

/// A reply: JSON result plus an optional binary payload.
#[derive(Debug)]
pub struct Reply {
    pub result: serde_json::Value,
    pub payload: Option<Vec<u8>>,
}

impl Reply {
    pub fn json(result: impl Serialize) -> Reply {
        Reply { result: serde_json::to_value(result).unwrap_or(serde_json::Value::Null), payload: None }
    }
}
