//! The only code that touches sled. Owns the trees (one per entity), record encoding, the commit
//! path (one sled transaction per state change, then a durability step shared by concurrent
//! commits), the transactional outbox, schema migrations and backups.
//!
//! Other parts describe a state change as a closure over [`Tx`]; they never see sled types.
//! Commits are serialised by the store (sled serialises its transactions anyway); a closure's
//! writes are buffered and applied in one sled transaction over only the trees it touched, which
//! measured ~2× faster than a transaction spanning every tree.

pub mod backup;
mod checkpoint;
pub mod codec;
mod commit;
mod journal;
pub mod outbox;
pub mod owner;
pub mod snapshot;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
pub use codec::Record;
use checkpoint::{Checkpointer, CHECKPOINT_BYTES};
use commit::GroupSync;
use journal::Journal;
pub use journal::ReplayStats;

/// sled's log segment (and IO buffer) size. sled writes and `sync_file_range`s each IO buffer
/// as it fills; the default 512 KiB made its IO threads take most of the CPU of a commit-heavy
/// run here. Fixed when a database is created.
const SLED_SEGMENT_BYTES: usize = 8 << 20;

/// Last sequence number handed out per sequence-keyed tree (guarded by the commit lock).
pub(crate) type Seqs = BTreeMap<TreeId, u64>;
pub use outbox::{OutboxEvent, OutboxStats, OutboxUsage};

/// Schema version this build writes. Opening a database with a newer version is refused; an
/// older one is migrated at open ([`MIGRATIONS`]). 2: packed member histories. 3: members'
/// personal data sealed (`privacy`), the phone index keyed by HMAC.
pub const SCHEMA_VERSION: u32 = 3;

/// The trees of the database. A state change can touch any of them and the outbox atomically.
/// The discriminants are written in journal records: append new trees at the end, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TreeId {
    /// Schema version, sequence counters, database id.
    Meta = 0,
    /// sku → Product.
    Products,
    /// barcode or PLU code → sku (index of Products).
    Barcodes,
    /// category id → Category.
    Categories,
    /// supplier id → Supplier.
    Suppliers,
    /// sku → StockLevel (on-hand derived from moves, kept in the same transaction).
    Stock,
    /// move id (u64 BE) → StockMove.
    Moves,
    /// sequence (u64 BE) → OutboxEvent.
    Outbox,
    /// staff id → StaffAccount (roles, password and PIN hashes, lockout state).
    Staff,
    /// shift id (u64 BE) → Shift (float, cash in and out, counted cash).
    Shifts,
    /// member id (u64 BE) → Member (profile, tier, stats, points balance and debt, its open point
    /// lots, stored-value balance).
    Members,
    /// "phone/<11 digits>", "card/<number>", "ref/<code>" → member id (u64 BE): the member
    /// lookup keys.
    MemberKeys,
    /// Per-member index of the two member ledgers, so a member's history is a prefix scan (a
    /// `Tx` has point reads only, and the ledgers are keyed by entry id): `P` ++ member id (u64
    /// BE) ++ points entry id (u64 BE) → empty, and `S` ++ member id ++ stored-value entry id →
    /// empty. Written in the same commit as the entry it indexes.
    MemberLedger,
    /// entry id (u64 BE) → PointsLedgerEntry (earn, redeem, expire, adjust, reverse; with the lot
    /// takes and the debt change).
    PointsLedger,
    /// template id → CouponTemplate.
    CouponTemplates,
    /// coupon id (u64 BE) → Coupon (issued to one member; state and redemption).
    Coupons,
    /// entry id (u64 BE) → StoredValueEntry (top-up, bonus, spend, refund).
    StoredValue,
    /// lane id → Session (the open cart of a lane).
    Sessions,
    /// sale id (u64 BE) → Sale.
    Sales,
    /// return id (u64 BE) → SaleReturn.
    Returns,
    /// promotion id → Promotion (price rules the tills apply, with their time windows).
    Promotions,
    /// member id (u64 BE) ++ coupon id (u64 BE) → (): a member's coupons.
    CouponsByMember,
    /// print job id (u64 BE) → PrintJob (receipts and reports waiting for their printer;
    /// removed once printed). See `devices::printer::queue`.
    PrintJobs,
    /// command id → CommandRecord: every HQ command this hub has received (held until its
    /// effective time, applied, or refused), so a command delivered twice is applied once. See
    /// `cloud::commands`.
    Commands,
    /// sha256 of an API token (hex) → ApiToken (name, role): the keys HQ's tools use for
    /// `/api/v1`. See `web::auth`.
    ApiTokens,
    /// staff id → StaffPrefs (page language).
    StaffPrefs,
    /// void id (u64 BE) → CartVoid: carts emptied with lines on them (`checkout::lanes`), for
    /// the cashier report. Written with the cart's clearing and `storehub.sale.voided`.
    Voids,
    /// row id (u64 BE, sequence) → ImportedPurchase: purchase history imported from an old till
    /// (`storehub import transactions`, `members::history`). Never touches stock.
    History,
    /// template id → MessageTemplate (WeChat template message or SMS, with member variables).
    /// See `members::messages`.
    MessageTemplates,
    /// message id (u64 BE) → Message: one message to one member (held for quiet hours,
    /// requested from HQ, delivered, failed, clicked). See `members::messages`.
    Messages,
    /// member id (u64 BE) ++ message id (u64 BE) → (): a member's messages (frequency cap,
    /// per-campaign de-duplication).
    MessagesByMember,
    /// campaign id → Campaign (target, offer, template, schedule, holdout, response window,
    /// state). See `members::campaigns`.
    Campaigns,
    /// campaign id ++ 0 ++ member id (u64 BE) → CampaignMember: who was targeted or held out and
    /// what they were sent.
    CampaignMembers,
    /// ticket id (u64 BE) → Ticket: a member service ticket (会员专属客服). See `members::tickets`.
    Tickets,
    /// member id (u64 BE) ++ ticket id (u64 BE) → (): a member's tickets.
    TicketsByMember,
    /// member id (u64 BE) → the member's imported history packed in one record, for analytics.
    /// See `members::history`.
    HistoryByMember,
    /// sku → DemandSeries: the SKU's daily demand (returns netted) with a flag byte per day
    /// (stock-out, promotion, member day), packed in one record, appended by the daily rollup.
    /// See `inventory::demand`.
    DemandSeries,
    /// `sku/<sku>` → SkuSettings and `supplier/<id>` → SupplierTerms: replenishment parameters
    /// (lead time, review period, pack size, MOQ, service level). See `inventory::policy`.
    ReplenishmentPolicies,
    /// sku → SuggestionLine of the latest replenishment run (the run's summary is in `meta`
    /// `replenishment_run`). See `inventory::replenishment`.
    Suggestions,
    /// purchase order id (u64 BE) → PurchaseOrder (lines, ordered and received quantities,
    /// state). See `inventory::purchase`.
    PurchaseOrders,
    /// stocktake id (u64 BE) → Stocktake (scope, blind, state, approval). See
    /// `inventory::stocktake`.
    Stocktakes,
    /// stocktake id (u64 BE) ++ sku → StocktakeLine (expected, counted, scans). See
    /// `inventory::stocktake`.
    StocktakeLines,
    /// task id (u64 BE) → RestockTask (bring a SKU from the backroom to its shelf). See
    /// `inventory::shelf_triggers`.
    RestockTasks,
    /// alert id (u64 BE) → Alert (urgent replenishment, shelf gap …; raised, acknowledged,
    /// cleared). See `inventory::alerts`.
    Alerts,
    /// `i/<sku>` or `c/<category>` → the association rules whose antecedent it is, packed in one
    /// record (`members::recommend::RuleSet`), written by the nightly mining run; its summary
    /// is `meta` `assoc_run`, its best sellers `meta` `assoc_popular`. See `members::recommend`.
    AssociationRules,
    /// member id (u64 BE) → MemberProfile (preferred categories, price sensitivity, weekday and
    /// hour, channel mix, average basket). See `members::profile`.
    MemberProfiles,
    /// online order id (HQ's, UTF-8) → the sale it became and the reply given, so a repeated
    /// `order.ingest` is a no-op with the same reply. See `members::online_orders`.
    OnlineOrders,
    /// merge id (u64 BE) → MemberMerge (who was merged into whom, what moved, by whom: the
    /// audit record). See `members::merge`.
    MemberMerges,
    /// staff id ++ 0 ++ shop-local date (`YYYY-MM-DD`) → the planned shift of that day. See
    /// `staff::attendance`.
    StaffSchedules,
    /// staff id ++ 0 ++ the original clock-in time (u64 BE, Unix ms; the record's id) →
    /// AttendanceRecord (clock in/out, corrections). See `staff::attendance`.
    Attendance,
    /// period (`2026-11-25`, `2026-W48` or `2026-11`) ++ 0 ++ staff id → StaffTarget. See
    /// `staff::performance`.
    StaffTargets,
    /// `current` → CommissionRuleSet: the shop's whole set of commission rules, written whole.
    /// See `staff::commission`.
    CommissionRules,
    /// entry id (u64 BE) → AuditEntry: the audit log of privileged actions (staff changes, price
    /// overrides, refunds without a receipt, member exports and erasures …). Append-only. See
    /// `audit`.
    Audit,
    /// member id (u64 BE) → ConsentHistory: every consent change of the member (state after it,
    /// time, by whom, channel). See `members::record_consent_tx`.
    ConsentHistory,
}

impl TreeId {
    pub const ALL: [TreeId; 54] = [
        TreeId::Meta,
        TreeId::Products,
        TreeId::Barcodes,
        TreeId::Categories,
        TreeId::Suppliers,
        TreeId::Stock,
        TreeId::Moves,
        TreeId::Outbox,
        TreeId::Staff,
        TreeId::Shifts,
        TreeId::Members,
        TreeId::MemberKeys,
        TreeId::MemberLedger,
        TreeId::PointsLedger,
        TreeId::CouponTemplates,
        TreeId::Coupons,
        TreeId::StoredValue,
        TreeId::Sessions,
        TreeId::Sales,
        TreeId::Returns,
        TreeId::Promotions,
        TreeId::CouponsByMember,
        TreeId::PrintJobs,
        TreeId::Commands,
        TreeId::ApiTokens,
        TreeId::StaffPrefs,
        TreeId::Voids,
        TreeId::History,
        TreeId::MessageTemplates,
        TreeId::Messages,
        TreeId::MessagesByMember,
        TreeId::Campaigns,
        TreeId::CampaignMembers,
        TreeId::Tickets,
        TreeId::TicketsByMember,
        TreeId::HistoryByMember,
        TreeId::DemandSeries,
        TreeId::ReplenishmentPolicies,
        TreeId::Suggestions,
        TreeId::PurchaseOrders,
        TreeId::Stocktakes,
        TreeId::StocktakeLines,
        TreeId::RestockTasks,
        TreeId::Alerts,
        TreeId::AssociationRules,
        TreeId::MemberProfiles,
        TreeId::OnlineOrders,
        TreeId::MemberMerges,
        TreeId::StaffSchedules,
        TreeId::Attendance,
        TreeId::StaffTargets,
        TreeId::CommissionRules,
        TreeId::Audit,
        TreeId::ConsentHistory,
    ];

    /// Name of the sled tree (stable on disk; never rename).
    pub fn name(self) -> &'static str {
        match self {
            TreeId::Meta => "meta",
            TreeId::Products => "products",
            TreeId::Barcodes => "barcodes",
            TreeId::Categories => "categories",
            TreeId::Suppliers => "suppliers",
            TreeId::Stock => "stock",
            TreeId::Moves => "moves",
            TreeId::Outbox => "outbox",
            TreeId::Staff => "staff",
            TreeId::Shifts => "shifts",
            TreeId::Members => "members",
            TreeId::MemberKeys => "member_keys",
            TreeId::MemberLedger => "member_ledger",
            TreeId::PointsLedger => "points_ledger",
            TreeId::CouponTemplates => "coupon_templates",
            TreeId::Coupons => "coupons",
            TreeId::StoredValue => "stored_value",
            TreeId::Sessions => "sessions",
            TreeId::Sales => "sales",
            TreeId::Returns => "returns",
            TreeId::Promotions => "promotions",
            TreeId::CouponsByMember => "coupons_by_member",
            TreeId::PrintJobs => "print_jobs",
            TreeId::Commands => "commands",
            TreeId::ApiTokens => "api_tokens",
            TreeId::StaffPrefs => "staff_prefs",
            TreeId::Voids => "voids",
            TreeId::History => "history",
            TreeId::MessageTemplates => "message_templates",
            TreeId::Messages => "messages",
            TreeId::MessagesByMember => "messages_by_member",
            TreeId::Campaigns => "campaigns",
            TreeId::CampaignMembers => "campaign_members",
            TreeId::Tickets => "tickets",
            TreeId::TicketsByMember => "tickets_by_member",
            TreeId::HistoryByMember => "history_by_member",
            TreeId::DemandSeries => "demand_series",
            TreeId::ReplenishmentPolicies => "replenishment_policies",
            TreeId::Suggestions => "suggestions",
            TreeId::PurchaseOrders => "purchase_orders",
            TreeId::Stocktakes => "stocktakes",
            TreeId::StocktakeLines => "stocktake_lines",
            TreeId::RestockTasks => "restock_tasks",
            TreeId::Alerts => "alerts",
            TreeId::AssociationRules => "association_rules",
            TreeId::MemberProfiles => "member_profiles",
            TreeId::OnlineOrders => "online_orders",
            TreeId::MemberMerges => "member_merges",
            TreeId::StaffSchedules => "staff_schedules",
            TreeId::Attendance => "attendance",
            TreeId::StaffTargets => "staff_targets",
            TreeId::CommissionRules => "commission_rules",
            TreeId::Audit => "audit",
            TreeId::ConsentHistory => "consent_history",
        }
    }

    pub fn from_name(name: &str) -> Option<TreeId> {
        TreeId::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// A relaxed store in `path` on a manual clock, for unit tests beside the code.
#[cfg(test)]
pub(crate) fn open_for_tests(path: &std::path::Path, clock: &crate::clock::ManualClock) -> Store {
    let opts = StoreOptions {
        path: path.to_path_buf(),
        durability: Durability::Relaxed,
        relaxed_flush_ms: 50,
        source: Some("/storehub/t/s/h".into()),
        clock: std::sync::Arc::new(clock.clone()),
    };
    match Store::open(opts) {
        Ok(s) => s,
        Err(e) => panic!("test store: {e}"),
    }
}

/// How commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// A commit returns only after a sync that covers it; concurrent commits share one sync
    /// (group commit).
    Durable,
    /// Commits return at once; a background flush runs every `relaxed_flush_ms`.
    Relaxed,
}

/// What the store needs to open.
#[derive(Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    pub durability: Durability,
    pub relaxed_flush_ms: u64,
    /// CloudEvents `source` of every event this store emits, e.g. `/storehub/huamei/sh-001/hub-1`.
    /// `None` (CLI run without a config) uses the source the daemon last recorded in the database.
    pub source: Option<String>,
    pub clock: SharedClock,
}

/// Errors of the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database in {path} could not be opened: {source}. If another storehub process runs on this data dir, stop it; if the database is damaged, run `storehub --data-dir {path} recover` (it keeps the damaged copy)")]
    Open { path: String, source: sled::Error },
    #[error("the database holds commits up to journal sequence {held} but the journal resumes at {resumes}")]
    JournalGap { held: u64, resumes: u64 },
    #[error("database in {path} fails its checks at open: {what}. Run `storehub --data-dir {path} recover` (it keeps the damaged copy)")]
    Damaged { path: String, what: String },
    #[error("database in {path} has schema version {found}, newer than this build's {supported}; install a newer storehub or restore a backup made by this version")]
    NewerSchema { path: String, found: u32, supported: u32 },
    #[error("database in {path} holds members' personal data sealed with PII key {key_id}, and this process has no key{held}. Put the box's key file at [privacy].key_file (default pii.key next to the config, /etc/storehub/pii.key); without it the members cannot be read")]
    PiiKeyMissing { path: String, key_id: String, held: String },
    #[error("database error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("cannot encode record: {0}")]
    Encode(String),
    #[error("the durability sync failed earlier ({0}); stop storehub and check the disk")]
    SyncFailed(String),
    #[error("{0}")]
    Backup(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A commit that failed either because the change itself was refused (`Rejected`) or because the
/// store could not write it.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<E> {
    #[error("{0}")]
    Rejected(E),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CommitError<std::convert::Infallible> {
    /// The store error of a commit that cannot be rejected.
    pub fn into_store(self) -> StoreError {
        match self {
            CommitError::Store(e) => e,
            CommitError::Rejected(never) => match never {},
        }
    }
}

impl<E> CommitError<E> {
    /// Maps the rejection type.
    pub fn map_rejected<F>(self, f: impl FnOnce(E) -> F) -> CommitError<F> {
        match self {
            CommitError::Rejected(e) => CommitError::Rejected(f(e)),
            CommitError::Store(e) => CommitError::Store(e),
        }
    }
}

/// Failure inside a state change.
#[derive(Debug)]
pub enum TxError<E> {
    /// The change is refused; nothing is written.
    Rejected(E),
    /// Reading, decoding or encoding failed; nothing is written.
    Store(StoreError),
}

impl<E> From<StoreError> for TxError<E> {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

impl<E> TxError<E> {
    /// Maps the rejection type, so one module's Tx-level function can run inside another's
    /// commit: `shift::record_cash_tx(tx, …).map_err(|e| e.map_rejected(CheckoutError::Shift))?`.
    pub fn map_rejected<F>(self, f: impl FnOnce(E) -> F) -> TxError<F> {
        match self {
            TxError::Rejected(e) => TxError::Rejected(f(e)),
            TxError::Store(e) => TxError::Store(e),
        }
    }
}

impl<E> From<sled::Error> for TxError<E> {
    fn from(e: sled::Error) -> Self {
        TxError::Store(e.into())
    }
}

/// One pending write of a transaction: `None` deletes the key.
pub(crate) type WriteSet = BTreeMap<(TreeId, Vec<u8>), Option<Vec<u8>>>;

/// The view a state change gets: typed reads and writes over every tree, and `emit` for outbox
/// events. Reads see the transaction's own writes. Everything written through one `Tx` is
/// applied atomically when the change returns `Ok`, or not at all.
pub struct Tx<'a> {
    store: &'a Store,
    writes: RefCell<WriteSet>,
    /// Sequence counters taken by this transaction (tree → last value taken).
    seqs: RefCell<BTreeMap<TreeId, u64>>,
    committed_seqs: &'a BTreeMap<TreeId, u64>,
    now: chrono::DateTime<chrono::Utc>,
}

impl<'a> Tx<'a> {
    /// The time of this commit (one value for the whole transaction).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now
    }

    pub fn get<T: Record, E>(&self, tree: TreeId, key: &[u8]) -> Result<Option<T>, TxError<E>> {
        match self.get_raw::<E>(tree, key)? {
            Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    pub fn get_raw<E>(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, TxError<E>> {
        {
            let writes = self.writes.borrow();
            // Most reads come before the change writes anything: skip the lookup (and its key copy).
            if !writes.is_empty() {
                if let Some(pending) = writes.get(&(tree, key.to_vec())) {
                    return Ok(pending.clone());
                }
            }
        }
        if let Some(sync) = &self.store.sync {
            if let Some(queued) = sync.pending_value(tree, key) {
                return Ok(queued);
            }
        }
        Ok(self.store.tree(tree).get(key)?.map(|v| v.to_vec()))
    }

    /// Writes a record; in a tree holding personal data (`privacy::PII_TREES`) it is sealed
    /// first, so the journal and sled only ever see the sealed bytes.
    pub fn put<T: Record, E>(&self, tree: TreeId, key: &[u8], value: &T) -> Result<(), TxError<E>> {
        let bytes = seal_for(tree, codec::encode(value)?)?;
        self.writes.borrow_mut().insert((tree, key.to_vec()), Some(bytes));
        Ok(())
    }

    /// Writes bytes as they are (index values, never sealed: they must not hold personal data).
    pub fn put_raw<E>(&self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<(), TxError<E>> {
        self.writes.borrow_mut().insert((tree, key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    pub fn remove<E>(&self, tree: TreeId, key: &[u8]) -> Result<bool, TxError<E>> {
        let existed = self.get_raw::<E>(tree, key)?.is_some();
        self.writes.borrow_mut().insert((tree, key.to_vec()), None);
        Ok(existed)
    }

    /// Takes the next sequence number of a tree keyed by u64 (big-endian) whose keys are handed
    /// out in order and never reused: outbox sequences, stock move ids. First value 1, no gaps
    /// (a rejected transaction takes nothing). No counter record is written: the value is
    /// derived from the tree's last key at open (and, for the outbox, the acknowledged floor).
    pub fn next_seq<E>(&self, tree: TreeId) -> Result<u64, TxError<E>> {
        let mut seqs = self.seqs.borrow_mut();
        let last = match seqs.get(&tree) {
            Some(v) => *v,
            None => match self.committed_seqs.get(&tree) {
                Some(v) => *v,
                None => self.store.last_seq(tree)?,
            },
        };
        let next = last + 1;
        seqs.insert(tree, next);
        Ok(next)
    }

    /// Writes a CloudEvent into the outbox in this transaction and returns its sequence number.
    /// While the disk guard's level is not ok, a telemetry-class event
    /// (`domain::events::class_of`) is not written and 0 is returned (no event has sequence 0).
    pub fn emit<E>(
        &self,
        event_type: &str,
        subject: Option<&str>,
        data: &impl Serialize,
    ) -> Result<u64, TxError<E>> {
        let level = self.store.disk_level();
        if !crate::domain::disk::allows(level, crate::domain::disk::Write::Telemetry)
            && crate::domain::events::class_of(event_type) == crate::domain::events::EventClass::Telemetry
        {
            self.store.telemetry_skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(0);
        }
        let seq = self.next_seq(TreeId::Outbox)?;
        let data_json = serde_json::to_string(data)
            .map_err(|e| StoreError::Encode(format!("event {event_type}: {e}")))?;
        let id = uuid::Uuid::new_v4();
        let mut id_buf = uuid::Uuid::encode_buffer();
        // Encoded from borrowed fields: the same bytes as an `OutboxEvent`, without copying them.
        let event = outbox::OutboxEventRef {
            seq,
            id: id.hyphenated().encode_lower(&mut id_buf),
            source: &self.store.source,
            event_type,
            subject,
            time: &self.now,
            data_json: &data_json,
        };
        let bytes = codec::encode_as::<OutboxEvent, _>(&event)?;
        self.writes.borrow_mut().insert((TreeId::Outbox, codec::u64_key(seq).to_vec()), Some(bytes));
        Ok(seq)
    }
}

/// Seals a value bound for a tree of personal data; other trees' values pass unchanged.
fn seal_for(tree: TreeId, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if crate::privacy::is_pii_tree(tree) && bytes.first() != Some(&crate::privacy::SEALED_TAG) {
        crate::privacy::seal(bytes).map_err(StoreError::Encode)
    } else {
        Ok(bytes)
    }
}

/// Meta record holding the schema version.
#[derive(Debug, Serialize, Deserialize)]
struct SchemaVersion(u32);
impl Record for SchemaVersion {
    const NAME: &'static str = "schema version";
}

/// Meta record identifying one database (kept across backups and restores).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseId(pub String);
impl Record for DatabaseId {
    const NAME: &'static str = "database id";
}

/// Meta record: the CloudEvents source the daemon runs with.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventSource(String);
impl Record for EventSource {
    const NAME: &'static str = "event source";
}

const META_SOURCE: &[u8] = b"event_source";
/// Meta key: the last journal sequence whose writes sled's files hold durably.
pub(crate) const META_JOURNAL_APPLIED: &[u8] = b"journal_applied";
const META_SCHEMA: &[u8] = b"schema_version";
const META_DB_ID: &[u8] = b"database_id";

/// A migration from `from` to `from + 1`, run once at open inside one transaction-free pass
/// (migrations rewrite trees and then bump the version with a flush).
struct Migration {
    from: u32,
    run: fn(&sled::Db) -> Result<(), StoreError>,
}

/// Migrations in order.
const MIGRATIONS: &[Migration] = &[
    // 1 → 2: packed member histories (`TreeId::HistoryByMember`) for rows imported before they existed.
    Migration { from: 1, run: migrate_pack_history },
    // 2 → 3: members' personal data sealed. The sealing itself is `Store::seal_pii`, run at every
    // open whose key differs from the one the database is sealed with (it needs the key, which a
    // process may not hold yet; a v3 database without a key is plaintext until one is installed).
    Migration { from: 2, run: |_| Ok(()) },
];

/// Meta key: the id (4 bytes) of the PII key every sealed value and phone index key is under.
/// Absent: nothing is sealed yet.
const META_PII_KEY: &[u8] = b"pii_key_id";

/// Schema 1 → 2: builds `history_by_member` from `history` (`members::history::pack_history_trees`).
fn migrate_pack_history(db: &sled::Db) -> Result<(), StoreError> {
    let history = db.open_tree(TreeId::History.name())?;
    let packed = db.open_tree(TreeId::HistoryByMember.name())?;
    let members = crate::members::history::pack_history_trees(&history, &packed)?;
    tracing::info!(members, "packed imported purchase history per member");
    Ok(())
}

/// The open database.
pub struct Store {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    opts: StoreOptions,
    source: String,
    /// Durable mode: the write-ahead journal and the thread that syncs it for waiting commits.
    journal: Option<Arc<Journal>>,
    sync: Option<Arc<GroupSync>>,
    checkpointer: Option<Arc<Checkpointer>>,
    replayed: ReplayStats,
    /// Serialises commits (sled's own transactions serialise too) and backups, and holds the
    /// last sequence number handed out per sequence-keyed tree.
    gate: Arc<Mutex<Seqs>>,
    /// The newest outbox sequence a returned commit holds, for the cloud relay to wake on.
    outbox_newest: tokio::sync::watch::Sender<u64>,
    /// Events and bytes in the outbox, counted once at open and kept by every commit since, so
    /// the disk budget can be checked without walking the tree (see [`Store::outbox_usage`]).
    outbox_usage: Mutex<outbox::OutboxUsage>,
    /// The store error of the last commit that failed to write, cleared by the next commit that
    /// writes ([`Store::write_failure`]). A change refused by its own rules does not count.
    last_write_error: Mutex<Option<String>>,
    /// The disk guard's level (`domain::disk::DiskLevel` as a u8), set by `disk_guard`; while
    /// not ok, telemetry-class events are not written ([`Tx::emit`]).
    disk_level: std::sync::atomic::AtomicU8,
    /// Telemetry-class events not written because of the disk guard, since the store opened.
    telemetry_skipped: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (or creates) the database in `opts.path`, runs migrations and starts the durability
    /// machinery.
    pub fn open(opts: StoreOptions) -> Result<Store, StoreError> {
        create_dir_durable(&opts.path)?;
        let path_str = opts.path.display().to_string();
        // sled never flushes on its own: the journal carries durability, checkpoints flush sled.
        let db = open_sled(sled_config(&db_path(&opts.path)).flush_every_ms(None))
            .map_err(|source| StoreError::Open { path: path_str.clone(), source })?;
        let trees = TreeId::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut store = Store {
            db,
            trees,
            opts,
            source: String::new(),
            journal: None,
            sync: None,
            gate: Arc::new(Mutex::new(BTreeMap::new())),
            checkpointer: None,
            replayed: ReplayStats::default(),
            outbox_newest: tokio::sync::watch::channel(0).0,
            outbox_usage: Mutex::new(outbox::OutboxUsage::default()),
            last_write_error: Mutex::new(None),
            disk_level: std::sync::atomic::AtomicU8::new(0),
            telemetry_skipped: std::sync::atomic::AtomicU64::new(0),
        };
        // The journal records after the last sequence sled holds are re-applied in order,
        // completing or redoing whatever sled kept of them.
        let journal_dir = journal_path(&store.opts.path);
        // Replay refuses a journal that does not continue exactly where the database ends (sled
        // fell back to an older state than the retained journal reaches): the commits in between
        // are lost to replay, recovery from a snapshot is needed.
        let damaged = |e: StoreError| match e {
            e @ (StoreError::NewerSchema { .. } | StoreError::Io(_)) => e,
            other => StoreError::Damaged { path: path_str.clone(), what: other.to_string() },
        };
        let applied = store.journal_applied().map_err(damaged)?;
        // The journal must continue exactly where the database ends; if the database fell back
        // to an older state than the journal reaches (a damaged file sled opened anyway), the
        // commits in between are lost to replay: recovery from a snapshot is needed.
        store.replayed = Journal::replay(&journal_dir, applied, true, |writes| apply_plain(&store.trees, &writes)).map_err(damaged)?;
        if store.replayed.records > 0 {
            tracing::info!(records = store.replayed.records, after = applied, files = store.replayed.files, "replayed commit journal");
        }
        let last_seq = applied.max(store.replayed.last_seq);
        store.prepare_schema(&path_str).map_err(damaged)?;
        if store.seal_pii(&path_str)? {
            // Plaintext personal data was sealed: its old bytes linger in sled's log segments
            // and in the journal and snapshots written before. Rewrite the database fresh and
            // drop those (docs/privacy.md "What is wiped").
            store.set_journal_applied(last_seq)?;
            store.make_sled_durable()?;
            store.rewrite_fresh()?;
        }
        store.source = store.resolve_source().map_err(damaged)?;
        store.set_journal_applied(last_seq)?;
        store.make_sled_durable()?;
        let mapped = store.opts.durability == Durability::Relaxed;
        let journal = Arc::new(Journal::open(&journal_dir, mapped, last_seq)?);
        // The names `db` and `journal` live in the data dir: only its own fsync makes them
        // durable (a power cut could otherwise take both directories, every commit with them).
        sync_dir(&store.opts.path)?;
        let sync_every = match store.opts.durability {
            Durability::Durable => {
                store.sync = Some(GroupSync::start(Arc::clone(&journal), store.trees.clone()));
                None
            }
            Durability::Relaxed => Some(Duration::from_millis(store.opts.relaxed_flush_ms.max(1))),
        };
        store.checkpointer = Some(Checkpointer::start(
            store.db.clone(),
            store.trees[TreeId::Meta as usize].clone(),
            db_path(&store.opts.path),
            Arc::clone(&store.gate),
            Arc::clone(&journal),
            store.sync.clone(),
            sync_every,
            snapshot::oldest_kept_seq(&snapshot::snapshot_dir(&store.opts.path))?,
        ));
        store.journal = Some(journal);
        // After replay and before any commit: sled holds the whole outbox now.
        let usage = outbox::count_usage(store.tree(TreeId::Outbox))?;
        *store.outbox_usage.lock().unwrap_or_else(|e| e.into_inner()) = usage;
        Ok(store)
    }

    /// Holds off commits and waits until every queued write set is applied: while the guards
    /// live, sled holds exactly the commits up to the journal's last sequence.
    pub(crate) fn quiesce(&self) -> Result<(std::sync::MutexGuard<'_, Seqs>, Option<std::sync::MutexGuard<'_, ()>>), StoreError> {
        let gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let applying = match &self.sync {
            Some(sync) => {
                sync.wait_applied(sync.last_ticket())?;
                Some(sync.apply_lock.lock().unwrap_or_else(|e| e.into_inner()))
            }
            None => None,
        };
        Ok((gate, applying))
    }

    /// Keys whose value in sled differs from the value the retained journal says its last write
    /// left (each "table/key: what"), checked with commits held off. Empty when every journaled
    /// commit is applied. At most `limit` are listed.
    pub fn journal_mismatches(&self, limit: usize) -> Result<(u64, Vec<String>), StoreError> {
        let _quiet = self.quiesce()?;
        let mut last: BTreeMap<(TreeId, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
        let stats = journal::scan(&journal_path(self.path()), 0, |r| {
            last.extend(r.writes);
            Ok(())
        })?;
        let mut out = Vec::new();
        for ((tree, key), want) in last {
            let have = self.tree(tree).get(&key)?.map(|v| v.to_vec());
            if have != want {
                out.push(format!(
                    "{}/{}: {} in the database, the journal's last write {}",
                    tree.name(),
                    String::from_utf8_lossy(&key).escape_debug(),
                    if have.is_some() { "present" } else { "absent" },
                    if want.is_some() { "puts it" } else { "deletes it" }
                ));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok((stats.records, out))
    }

    /// Bytes of journal records written since this store was opened.
    pub fn journal_bytes_written(&self) -> u64 {
        self.journal.as_ref().map_or(0, |j| j.appended())
    }

    /// Watches the newest outbox sequence committed through this handle: it changes after every
    /// commit that emitted events has returned (in durable mode, once it is on disk). The cloud
    /// relay waits on it instead of polling.
    pub fn watch_outbox(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outbox_newest.subscribe()
    }

    /// The outbox sequence floor: the highest sequence ever acknowledged and deleted.
    pub fn outbox_floor(&self) -> Result<u64, StoreError> {
        match self.read_tree(TreeId::Meta)?.get(seq_floor_key(TreeId::Outbox))? {
            Some(v) => codec::key_u64(&v),
            None => Ok(0),
        }
    }

    /// The last journal sequence sled's files hold (recorded at each checkpoint).
    pub fn journal_applied(&self) -> Result<u64, StoreError> {
        match self.tree(TreeId::Meta).get(META_JOURNAL_APPLIED)? {
            Some(v) => codec::key_u64(&v),
            None => Ok(0),
        }
    }

    fn set_journal_applied(&self, seq: u64) -> Result<(), StoreError> {
        self.tree(TreeId::Meta).insert(META_JOURNAL_APPLIED, &codec::u64_key(seq))?;
        Ok(())
    }

    /// sled's `flush` writes its buffers with `sync_file_range`; fsync every file too.
    fn make_sled_durable(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        backup::fsync_tree(&db_path(&self.opts.path))
    }

    /// What the journal replay at open applied.
    pub fn replayed(&self) -> ReplayStats {
        self.replayed
    }

    /// Makes everything committed so far durable in sled's own files and drops the journal files
    /// that covered it. Runs by itself in the background; cheap to call when idle.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.checkpointer {
            Some(cp) => cp.run(),
            None => self.make_sled_durable(),
        }
    }

    fn prepare_schema(&self, path: &str) -> Result<(), StoreError> {
        let meta = self.tree(TreeId::Meta);
        let found = match meta.get(META_SCHEMA)? {
            Some(v) => Some(codec::decode::<SchemaVersion>(&v)?.0),
            None => None,
        };
        match found {
            None => {
                meta.insert(META_SCHEMA, codec::encode(&SchemaVersion(SCHEMA_VERSION))?)?;
                let id = DatabaseId(uuid::Uuid::new_v4().to_string());
                meta.insert(META_DB_ID, codec::encode(&id)?)?;
                self.db.flush()?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: path.to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(mut v) => {
                while v < SCHEMA_VERSION {
                    let m = MIGRATIONS.iter().find(|m| m.from == v).ok_or_else(|| {
                        StoreError::Corrupt(format!("no migration from schema version {v}"))
                    })?;
                    tracing::info!(from = v, to = v + 1, "migrating database schema");
                    (m.run)(&self.db)?;
                    v += 1;
                    meta.insert(META_SCHEMA, codec::encode(&SchemaVersion(v))?)?;
                    self.db.flush()?;
                }
            }
        }
        Ok(())
    }

    /// Checks the PII key against the database and runs the sealing pass when the database is
    /// not (wholly) under the current key. Returns whether plaintext personal data was sealed.
    fn seal_pii(&self, path: &str) -> Result<bool, StoreError> {
        let meta = self.tree(TreeId::Meta);
        let sealed_with: Option<[u8; crate::privacy::KEY_ID_LEN]> =
            meta.get(META_PII_KEY)?.and_then(|v| v.as_ref().try_into().ok());
        let Some(key) = crate::privacy::current() else {
            return match sealed_with {
                Some(id) => Err(StoreError::PiiKeyMissing {
                    path: path.to_string(),
                    key_id: id.iter().map(|b| format!("{b:02x}")).collect(),
                    held: String::new(),
                }),
                None => Ok(false),
            };
        };
        if sealed_with == Some(key.id()) {
            return Ok(false);
        }
        if let Some(id) = sealed_with.filter(|id| !crate::privacy::holds(*id)) {
            return Err(StoreError::PiiKeyMissing {
                path: path.to_string(),
                key_id: id.iter().map(|b| format!("{b:02x}")).collect(),
                held: format!(" (it holds key {} only)", key.id_hex()),
            });
        }
        let stats = crate::privacy::seal_pass::run(&self.trees, &key)?;
        meta.insert(META_PII_KEY, &key.id())?;
        self.db.flush()?;
        tracing::info!(key = %key.id_hex(), sealed = stats.sealed_plaintext, resealed = stats.resealed, index_keys = stats.index_keys, "members' personal data sealed");
        Ok(stats.wiped_plaintext())
    }

    /// The id of the PII key the database is sealed with (hex), `None` when nothing is sealed.
    pub fn pii_key_id(&self) -> Result<Option<String>, StoreError> {
        Ok(self.tree(TreeId::Meta).get(META_PII_KEY)?.map(|v| v.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// Rewrites the database into a fresh sled (only live values, none of the old log
    /// segments), then removes the journal segments and snapshots written before: after the
    /// sealing pass, the only copies of plaintext personal data this data dir held. Runs at open,
    /// before the journal and the checkpointer start.
    fn rewrite_fresh(&mut self) -> Result<(), StoreError> {
        let dir = self.opts.path.clone();
        let fresh = dir.join("db.sealing");
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh)?;
        }
        {
            let new_db = open_sled(sled_config(&fresh))?;
            for id in TreeId::ALL {
                let to = new_db.open_tree(id.name())?;
                let mut batch = sled::Batch::default();
                let mut n = 0;
                for item in self.tree(id).iter() {
                    let (k, v) = item?;
                    batch.insert(k, v);
                    n += 1;
                    if n % 1024 == 0 {
                        to.apply_batch(std::mem::take(&mut batch))?;
                    }
                }
                to.apply_batch(batch)?;
            }
            new_db.flush()?;
        }
        backup::fsync_tree(&fresh)?;
        // Close the old database: every handle to it must go before its files do.
        let placeholder = sled::Config::new().temporary(true).open()?;
        self.trees = Vec::new();
        self.db = placeholder;
        let old = dir.join("db.plaintext");
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(db_path(&dir), &old)?;
        std::fs::rename(&fresh, db_path(&dir))?;
        sync_dir(&dir)?;
        std::fs::remove_dir_all(&old)?;
        for sub in [journal_path(&dir), snapshot::snapshot_dir(&dir)] {
            if sub.exists() {
                for entry in std::fs::read_dir(&sub)? {
                    let p = entry?.path();
                    if p.is_file() {
                        std::fs::remove_file(&p)?;
                    }
                }
                sync_dir(&sub)?;
            }
        }
        sync_dir(&dir)?;
        self.db = open_sled(sled_config(&db_path(&dir)).flush_every_ms(None))
            .map_err(|source| StoreError::Open { path: dir.display().to_string(), source })?;
        self.trees = TreeId::ALL.iter().map(|t| self.db.open_tree(t.name())).collect::<Result<Vec<_>, _>>()?;
        tracing::info!(dir = %dir.display(), "database rewritten fresh; journal segments and snapshots from before the sealing removed");
        Ok(())
    }

    fn resolve_source(&self) -> Result<String, StoreError> {
        let meta = self.tree(TreeId::Meta);
        let stored = match meta.get(META_SOURCE)? {
            Some(v) => Some(codec::decode::<EventSource>(&v)?.0),
            None => None,
        };
        match (&self.opts.source, stored) {
            (Some(s), Some(old)) if *s == old => Ok(old),
            (Some(s), _) => {
                meta.insert(META_SOURCE, codec::encode(&EventSource(s.clone()))?)?;
                Ok(s.clone())
            }
            (None, Some(old)) => Ok(old),
            (None, None) => Ok("/storehub/unprovisioned".to_string()),
        }
    }

    /// CloudEvents `source` of this store's events.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    pub fn path(&self) -> &Path {
        &self.opts.path
    }

    pub fn clock(&self) -> &SharedClock {
        &self.opts.clock
    }

    /// The id given to this database when it was created.
    pub fn database_id(&self) -> Result<String, StoreError> {
        Ok(self
            .get::<DatabaseId>(TreeId::Meta, META_DB_ID)?
            .map(|d| d.0)
            .unwrap_or_default())
    }

    fn tree(&self, id: TreeId) -> &sled::Tree {
        &self.trees[id as usize]
    }

    /// Applies `change` atomically and returns once the commit is as durable as the configured
    /// mode promises. `change` runs once, with commits serialised; its writes are buffered in the
    /// [`Tx`], appended to the journal, then applied to sled: in `relaxed` mode at once, in
    /// `durable` mode by the sync thread after the `fdatasync` that covers them.
    pub fn commit<T, E>(
        &self,
        change: impl FnOnce(&Tx) -> Result<T, TxError<E>>,
    ) -> Result<T, CommitError<E>> {
        self.commit_as(change, true)
    }

    /// Like [`commit`](Self::commit), but in durable mode returns as soon as the commit is
    /// journaled and queued, without waiting for its `fdatasync` (write-behind). Later commits
    /// see it at once; reads outside a commit see it once it is synced, one sync later. A power
    /// cut may lose it, and only it and later ones: never part of it, never an earlier commit.
    /// For changes whose loss costs a repeat, not money: a cart line, an outbox acknowledgement.
    pub fn commit_write_behind<T, E>(
        &self,
        change: impl FnOnce(&Tx) -> Result<T, TxError<E>>,
    ) -> Result<T, CommitError<E>> {
        self.commit_as(change, false)
    }

    fn commit_as<T, E>(
        &self,
        change: impl FnOnce(&Tx) -> Result<T, TxError<E>>,
        wait: bool,
    ) -> Result<T, CommitError<E>> {
        let result = self.commit_recorded(change, wait);
        match &result {
            Ok(_) => {
                let mut last = self.last_write_error.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some() {
                    *last = None;
                }
            }
            Err(CommitError::Store(e)) => {
                let at = self.opts.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                *self.last_write_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("the commit at {at} failed: {e}"));
            }
            Err(CommitError::Rejected(_)) => {}
        }
        result
    }

    /// Why the store cannot be trusted to write now: the journal sync or the applying of a synced
    /// commit to sled failed (both sticky until a restart), or the last commit that tried to
    /// write failed. `None` when the last
    /// commit wrote. Cheap (two locks, no I/O): `/healthz` asks it every few seconds.
    /// The disk guard's level (ok until `disk_guard` says otherwise).
    pub fn disk_level(&self) -> crate::domain::disk::DiskLevel {
        crate::domain::disk::DiskLevel::from_u8(self.disk_level.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Sets the disk guard's level (`disk_guard` only).
    pub fn set_disk_level(&self, level: crate::domain::disk::DiskLevel) {
        self.disk_level.store(level.as_u8(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Telemetry-class events the disk guard kept out of the outbox since the store opened.
    pub fn telemetry_skipped(&self) -> u64 {
        self.telemetry_skipped.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn write_failure(&self) -> Option<String> {
        if let Some(e) = self.sync.as_ref().and_then(|s| s.failure()) {
            return Some(format!("{e}; free disk space if the disk is full, then restart storehub"));
        }
        self.last_write_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn commit_recorded<T, E>(
        &self,
        change: impl FnOnce(&Tx) -> Result<T, TxError<E>>,
        wait: bool,
    ) -> Result<T, CommitError<E>> {
        if let Some(sync) = &self.sync {
            sync.entering();
        }
        let (value, ticket, emitted) = match self.commit_locked(change, wait) {
            Ok(v) => v,
            Err(e) => {
                if let Some(sync) = &self.sync {
                    sync.abandoned();
                }
                return Err(e);
            }
        };
        if let Some(sync) = &self.sync {
            match ticket {
                Some(t) if wait => sync.wait(t).map_err(CommitError::Store)?,
                Some(_) => {}
                None => sync.abandoned(),
            }
        }
        if let Some(seq) = emitted {
            self.outbox_newest.send_if_modified(|newest| {
                let newer = seq > *newest;
                *newest = (*newest).max(seq);
                newer
            });
        }
        if let (Some(journal), Some(cp)) = (&self.journal, &self.checkpointer) {
            if journal.current_bytes() >= CHECKPOINT_BYTES {
                cp.nudge();
            }
        }
        Ok(value)
    }

    /// Runs `change` under the commit lock and journals its writes; returns the value, in
    /// durable mode the ticket to wait for (None when nothing was written), and the last outbox
    /// sequence the commit emitted.
    #[allow(clippy::type_complexity)]
    fn commit_locked<T, E>(
        &self,
        change: impl FnOnce(&Tx) -> Result<T, TxError<E>>,
        may_lead: bool,
    ) -> Result<(T, Option<commit::Ticket>, Option<u64>), CommitError<E>> {
        let mut seqs = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let tx = Tx {
            store: self,
            writes: RefCell::new(BTreeMap::new()),
            seqs: RefCell::new(BTreeMap::new()),
            committed_seqs: &seqs,
            now: self.opts.clock.now(),
        };
        let value = match change(&tx) {
            Ok(v) => v,
            Err(TxError::Rejected(e)) => return Err(CommitError::Rejected(e)),
            Err(TxError::Store(e)) => return Err(CommitError::Store(e)),
        };
        let Tx { writes, seqs: taken, .. } = tx;
        let writes = writes.into_inner();
        if writes.is_empty() {
            return Ok((value, None, None));
        }
        let outbox_delta = self.outbox_delta(&writes, seqs.get(&TreeId::Outbox).copied())?;
        if let Some(journal) = &self.journal {
            journal.append(&writes)?;
        }
        let ticket = match &self.sync {
            Some(sync) => Some(sync.queue(writes, true, may_lead)),
            None => {
                apply_plain(&self.trees, &writes)?;
                None
            }
        };
        let taken = taken.into_inner();
        let emitted = taken.get(&TreeId::Outbox).copied();
        seqs.extend(taken);
        if outbox_delta != (0, 0) {
            let mut usage = self.outbox_usage.lock().unwrap_or_else(|e| e.into_inner());
            usage.count = usage.count.saturating_add_signed(outbox_delta.0);
            usage.bytes = usage.bytes.saturating_add_signed(outbox_delta.1);
        }
        Ok((value, ticket, emitted))
    }

    /// How a write set changes the outbox's event count and bytes (key + value, as
    /// [`Store::outbox_stats`] counts them). Runs under the commit lock, before the writes are
    /// applied. A put under a sequence above `issued_before` (the last one handed out before
    /// this commit, `None` when not yet known) is a new event and needs no read; a delete, or a
    /// put over an older sequence, reads the value it replaces.
    fn outbox_delta(&self, writes: &WriteSet, issued_before: Option<u64>) -> Result<(i64, i64), StoreError> {
        let mut delta = (0i64, 0i64);
        let start = (TreeId::Outbox, Vec::new());
        for ((tree, key), value) in writes.range(start..) {
            if *tree != TreeId::Outbox {
                break;
            }
            let fresh = match (value, issued_before) {
                (Some(_), Some(issued)) => codec::key_u64(key).is_ok_and(|seq| seq > issued),
                _ => false,
            };
            let old = if fresh { None } else { self.committed_len(*tree, key)? };
            if let Some(len) = old {
                delta.0 -= 1;
                delta.1 -= (key.len() + len) as i64;
            }
            if let Some(v) = value {
                delta.0 += 1;
                delta.1 += (key.len() + v.len()) as i64;
            }
        }
        Ok(delta)
    }

    /// Length of a key's value as the commits made so far left it (queued ones included).
    fn committed_len(&self, tree: TreeId, key: &[u8]) -> Result<Option<usize>, StoreError> {
        if let Some(sync) = &self.sync {
            if let Some(queued) = sync.pending_value(tree, key) {
                return Ok(queued.map(|v| v.len()));
            }
        }
        Ok(self.tree(tree).get(key)?.map(|v| v.len()))
    }

    /// Last sequence number of a sequence-keyed tree as stored on disk.
    fn last_seq(&self, tree: TreeId) -> Result<u64, StoreError> {
        let last_key = match self.tree(tree).last()? {
            Some((k, _)) => codec::key_u64(&k)?,
            None => 0,
        };
        let floor = match self.tree(TreeId::Meta).get(seq_floor_key(tree))? {
            Some(v) => codec::key_u64(&v)?,
            None => 0,
        };
        Ok(last_key.max(floor))
    }

    /// Deletes sequence-keyed entries (acknowledged outbox events), recording the highest
    /// sequence deleted so numbering never restarts even when the tree becomes empty. Runs under
    /// the commit lock (so a backup sees entries and floor together) and is journaled in durable
    /// mode, but not waited for: losing an acknowledgement only means a duplicate publish.
    pub(crate) fn delete_seqs(&self, tree: TreeId, seqs: &[u64]) -> Result<(), StoreError> {
        let Some(&max) = seqs.iter().max() else { return Ok(()) };
        self.commit_write_behind(|tx| {
            // Never raise the floor past what was issued (an ack for an unknown sequence).
            let issued = match tx.committed_seqs.get(&tree) {
                Some(v) => *v,
                None => self.last_seq(tree)?,
            };
            let max = max.min(issued);
            let floor = match tx.get_raw::<StoreError>(TreeId::Meta, &seq_floor_key(tree))? {
                Some(v) => codec::key_u64(&v)?,
                None => 0,
            };
            if max > floor {
                tx.put_raw::<StoreError>(TreeId::Meta, &seq_floor_key(tree), &codec::u64_key(max))?;
            }
            for &s in seqs {
                tx.remove::<StoreError>(tree, &codec::u64_key(s))?;
            }
            Ok(())
        })
        .map_err(|e| match e {
            CommitError::Rejected(e) | CommitError::Store(e) => e,
        })
    }

    /// Group-commit figures in durable mode: (commits, syncs, time spent syncing).
    pub fn sync_stats(&self) -> Option<(u64, u64, std::time::Duration)> {
        self.sync.as_ref().map(|s| s.stats())
    }

    /// A tree to read outside a transaction, once every acknowledged commit is applied to it
    /// (in durable mode, sled trails the writers by a moment; see `commit.rs`).
    pub(crate) fn read_tree(&self, tree: TreeId) -> Result<&sled::Tree, StoreError> {
        if let Some(sync) = &self.sync {
            sync.wait_visible()?;
        }
        Ok(self.tree(tree))
    }

    /// Waits until every commit made so far, write-behind ones included, is synced and applied,
    /// so the next read sees them all. The outbox reader calls it: its acknowledgements are
    /// write-behind, and it must never read an event it has acknowledged.
    pub fn read_barrier(&self) -> Result<(), StoreError> {
        match &self.sync {
            Some(sync) => sync.wait_applied(sync.last_ticket()),
            None => Ok(()),
        }
    }

    /// Reads one record outside a transaction.
    pub fn get<T: Record>(&self, tree: TreeId, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.get_raw(tree, key)? {
            Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Reads a raw value (index entries) outside a transaction. A key no queued commit touches
    /// is read from sled at once; a read never waits for sled to catch up with commits to other
    /// keys (a scan on one lane does not wait for the previous scan's cart line to be applied).
    pub fn get_raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        if let Some(sync) = &self.sync {
            match sync.point_read(tree, key) {
                commit::PointRead::Value(v) => return Ok(v.map(sled::IVec::from)),
                commit::PointRead::Sled => return Ok(self.tree(tree).get(key)?),
                commit::PointRead::Wait => {}
            }
        }
        Ok(self.read_tree(tree)?.get(key)?)
    }

    /// All records of a tree in key order.
    pub fn scan<T: Record>(&self, tree: TreeId) -> impl Iterator<Item = Result<(Vec<u8>, T), StoreError>> + '_ {
        self.scan_prefix(tree, b"")
    }

    /// Records whose key starts with `prefix`, in key order.
    pub fn scan_prefix<T: Record>(
        &self,
        tree: TreeId,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, T), StoreError>> + '_ {
        let prefix = prefix.to_vec();
        read_iter(self.read_tree(tree), move |t| t.scan_prefix(prefix)).map(|item| {
            let (k, v) = item?;
            Ok((k.to_vec(), codec::decode(&v)?))
        })
    }

    /// All records of a tree in reverse key order (newest first for sequence-keyed trees).
    pub fn scan_rev<T: Record>(&self, tree: TreeId) -> impl Iterator<Item = Result<(Vec<u8>, T), StoreError>> + '_ {
        read_iter(self.read_tree(tree), |t| t.iter().rev()).map(|item| {
            let (k, v) = item?;
            Ok((k.to_vec(), codec::decode(&v)?))
        })
    }

    /// Raw keys with `prefix` (for index trees).
    pub fn keys_with_prefix(&self, tree: TreeId, prefix: &[u8]) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        let prefix = prefix.to_vec();
        read_iter(self.read_tree(tree), move |t| t.scan_prefix(prefix)).map(|item| Ok(item?.0.to_vec()))
    }

    /// Raw range of a tree starting at `from` (inclusive), in key order.
    pub fn range_from(&self, tree: TreeId, from: &[u8]) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), StoreError>> + '_ {
        let from = from.to_vec();
        read_iter(self.read_tree(tree), move |t| t.range(from..))
    }

    /// Number of records in a tree (walks the tree).
    pub fn count(&self, tree: TreeId) -> usize {
        match self.read_tree(tree) {
            Ok(t) => t.len(),
            Err(_) => self.tree(tree).len(),
        }
    }

    /// Forces everything committed so far into sled's files and fsyncs them.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.checkpoint()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(sync) = &self.sync {
            sync.stop();
        }
        if let Some(cp) = &self.checkpointer {
            cp.stop();
        }
        if let Err(e) = self.checkpoint() {
            tracing::error!(error = %e, "final checkpoint failed; the journal will be replayed at next open");
        }
    }
}

/// The items of `iter(tree)`, or the one error that kept the tree from being read.
fn read_iter<'a, I>(
    tree: Result<&'a sled::Tree, StoreError>,
    iter: impl FnOnce(&'a sled::Tree) -> I,
) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), StoreError>> + 'a
where
    I: Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 'a,
{
    let (items, failed) = match tree {
        Ok(t) => (Some(iter(t)), None),
        Err(e) => (None, Some(Err(e))),
    };
    failed.into_iter().chain(items.into_iter().flatten().map(|r| r.map_err(StoreError::from)))
}

/// Where the commit journal lives inside a data dir.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

fn seq_floor_key(tree: TreeId) -> Vec<u8> {
    format!("seq_floor/{}", tree.name()).into_bytes()
}

/// The sled settings every database of ours is created and opened with (a segment size that
/// differs from the one a database was created with is refused by sled).
pub fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new().path(path).segment_size(SLED_SEGMENT_BYTES)
}

/// Applies a write set to sled key by key, in tree order (the outbox last, so an event never
/// shows before the state it describes). Atomicity across a crash comes from the journal: a write
/// set reaches sled only after its journal record (durable: after its `fdatasync`), and replay
/// at open redoes whole write sets.
pub(crate) fn apply_plain(trees: &[sled::Tree], writes: &WriteSet) -> Result<(), StoreError> {
    for ((tree, key), value) in writes {
        let t = &trees[*tree as usize];
        match value {
            Some(v) => {
                t.insert(key.as_slice(), v.as_slice())?;
            }
            None => {
                t.remove(key.as_slice())?;
            }
        }
    }
    Ok(())
}

/// Opens sled, retrying for a moment while another handle in this process is still closing
/// (sled's background threads release the directory lock shortly after the last `Db` drops).
fn open_sled(config: sled::Config) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// fsyncs a directory: the names created, renamed or removed in it become durable (the fsync of
/// a file or directory does not cover its own name in its parent).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// `create_dir_all` whose result survives a power cut: the parent of every directory it creates
/// is fsynced, so the new names are durable.
pub fn create_dir_durable(dir: &Path) -> Result<(), StoreError> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d);
        at = d.parent();
    }
    std::fs::create_dir_all(dir)?;
    for d in missing.iter().rev() {
        match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => sync_dir(p)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(())
}

/// Where sled's files live inside a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("db")
}

