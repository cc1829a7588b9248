//! Stocktakes (盘点): full or cycle counts, counted by scanning, variance, approval.
//!
//! Owns the `Stocktakes` and `StocktakeLines` trees, the count zones (`meta` `stock_zone/<id>`),
//! the index of unfinished stocktakes (`meta` `stocktake_open`) and the lanes put into count
//! mode (`meta` `stocktake_lane/<lane>`). It never changes stock itself except through
//! `inventory::record_move` at approval; the arithmetic (scope, overlap, booking, variance) is
//! `domain::stocktake`'s.
//!
//! Rules (docs/stock-intelligence.md, "Stocktakes"): at most one unfinished stocktake per
//! overlapping scope; each line keeps the on-hand at the moment it was last counted and approval
//! books `counted − on_hand_at_count` as a change, so sales and receipts during the count stay in
//! the books; uncounted SKUs are left unchanged unless the approval says `zero_uncounted`; a
//! line is marked booked in the same commit as its move, so an approval cut short resumes and
//! never books twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{record_move, InventoryError, NewMove, StockLevel};
use crate::catalog::{self, CatalogError, Product, Unit};
use crate::domain::barcode::{Barcode, InStoreLayout};
use crate::domain::staff::Action;
use crate::domain::stocktake::{booking, scopes_overlap, variance_report, Scope, ValueBasis, VarianceInput, VarianceRow, VarianceTotals};
use crate::staff::{self, StaffError};
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub const EVENT_OPENED: &str = "storehub.stocktake.opened";
/// One per submit (the count's totals), never one per scan.
pub const EVENT_COUNTED: &str = "storehub.stocktake.counted";
pub const EVENT_APPROVED: &str = "storehub.stocktake.approved";
pub const EVENT_CANCELLED: &str = "storehub.stocktake.cancelled";

/// Lines booked per commit at approval.
pub const APPROVE_CHUNK: usize = 200;
/// Largest quantity one count may add or set (pieces or grams): 1 000 000 000.
pub const MAX_QTY: i64 = 1_000_000_000;
const NOTE_MAX: usize = 200;

/// Where a stocktake is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StocktakeState {
    /// Counting.
    Open,
    /// Counting closed; waiting for a manager's approval.
    Submitted,
    /// Variances booked.
    Approved,
    /// Given up; nothing booked.
    Cancelled,
}

impl StocktakeState {
    pub fn as_str(self) -> &'static str {
        match self {
            StocktakeState::Open => "open",
            StocktakeState::Submitted => "submitted",
            StocktakeState::Approved => "approved",
            StocktakeState::Cancelled => "cancelled",
        }
    }

    /// Still holds its scope (open or submitted).
    pub fn unfinished(self) -> bool {
        matches!(self, StocktakeState::Open | StocktakeState::Submitted)
    }
}

/// An approval under way: set by its first commit, so a second call resumes with the same rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    pub started_at: DateTime<Utc>,
    /// Uncounted SKUs in scope are counted as 0 (written off).
    pub zero_uncounted: bool,
}

/// One stocktake (`Stocktakes`, key: id u64 BE).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stocktake {
    pub id: u64,
    pub scope: Scope,
    /// Counters (without `ManageStocktakes`) do not see expected quantities.
    pub blind: bool,
    pub state: StocktakeState,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approval: Option<Approval>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub note: String,
}
impl Record for Stocktake {
    const NAME: &'static str = "stocktake";
}

/// One counted SKU (`StocktakeLines`, key: stocktake id u64 BE ++ sku).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StocktakeLine {
    pub sku: String,
    /// Pieces, or grams for weighed goods.
    pub counted: i64,
    /// Scans and typed counts that made it.
    pub scans: u32,
    /// The ledger's on-hand at the line's last count: the variance is measured against it.
    pub on_hand_at_count: i64,
    pub last_counted_at: DateTime<Utc>,
    pub counted_by: String,
    /// The move that booked it at approval (`None`: not booked; also for a line that agreed).
    pub booked_move: Option<u64>,
    /// Booking is done for this line (with or without a move).
    pub booked: bool,
}
impl Record for StocktakeLine {
    const NAME: &'static str = "stocktake line";
}

/// A count zone: named categories and SKUs (`meta` `stock_zone/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub categories: Vec<String>,
    pub skus: Vec<String>,
}
impl Record for Zone {
    const NAME: &'static str = "stock zone";
}

/// Unfinished stocktake ids (`meta` `stocktake_open`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OpenIndex(Vec<u64>);
impl Record for OpenIndex {
    const NAME: &'static str = "open stocktakes";
}

/// A lane whose scanner counts into a stocktake (`meta` `stocktake_lane/<lane>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneCount {
    pub lane: String,
    pub stocktake: u64,
    pub by: String,
    pub since: DateTime<Utc>,
}
impl Record for LaneCount {
    const NAME: &'static str = "lane count mode";
}

const OPEN_KEY: &[u8] = b"stocktake_open";
const ZONE_PREFIX: &str = "stock_zone/";
const LANE_PREFIX: &str = "stocktake_lane/";

fn zone_key(id: &str) -> Vec<u8> {
    format!("{ZONE_PREFIX}{id}").into_bytes()
}

fn lane_key(lane: &str) -> Vec<u8> {
    format!("{LANE_PREFIX}{lane}").into_bytes()
}

fn line_key(id: u64, sku: &str) -> Vec<u8> {
    let mut k = codec::u64_key(id).to_vec();
    k.extend_from_slice(sku.as_bytes());
    k
}

/// What a stocktake is opened on, as asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ScopeRequest {
    Full,
    Categories(Vec<String>),
    Zone(String),
    Skus(Vec<String>),
}

/// A stocktake to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStocktake {
    pub scope: ScopeRequest,
    /// `None`: `[stock].stocktake_blind`.
    pub blind: Option<bool>,
    #[serde(default)]
    pub note: String,
    pub by: String,
}

/// How a count changes a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", content = "qty", rename_all = "snake_case")]
pub enum CountHow {
    /// Adds this many (1 for a plain scan; grams for a weighed product typed by hand; may be
    /// negative to take back a mis-scan, as long as the line stays ≥ 0). `None`: 1 piece, or
    /// the grams a weight label carries.
    Add(Option<i64>),
    /// Sets the line to this figure (a recount).
    Set(i64),
}

/// Why a stocktake action was refused. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum StocktakeError {
    #[error("stocktake #{0} does not exist; `storehub stocktake list` shows them")]
    Unknown(u64),
    #[error("stocktake #{id} is {state}; {what}")]
    WrongState { id: u64, state: &'static str, what: String },
    #[error("code: {code:?} is not a known product barcode or sku; check the code, or count it by sku")]
    UnknownCode { code: String },
    #[error("code: {code:?} is {sku}, which is outside stocktake #{id} ({scope}); count it in its own stocktake")]
    OutOfScope { code: String, sku: String, id: u64, scope: String },
    #[error("qty: {sku} is weighed; scan its scale label (weight barcode) or give the grams with --qty/--set")]
    NeedsGrams { sku: String },
    #[error("code: {code:?} is a price label of {sku}, which is stocked in grams; scan a weight label or give the grams")]
    PriceLabel { code: String, sku: String },
    #[error("{field}: {message}")]
    BadField { field: &'static str, message: String },
    #[error("scope: {0}")]
    BadScope(String),
    #[error("scope: overlaps stocktake #{other} ({scope}), which is still {state}; finish or cancel it first")]
    Overlap { other: u64, scope: String, state: &'static str },
    #[error("zone: no zone {0:?}; `storehub stocktake zone list` shows them")]
    UnknownZone(String),
    #[error("lane: no lane {0:?}; lanes come from [[lanes]] in the config")]
    UnknownLane(String),
    #[error("lane: {lane} has a cart with {lines} line(s); pay or void it before counting there")]
    LaneBusy { lane: String, lines: usize },
    #[error("zero_uncounted: the approval of stocktake #{id} was started with zero_uncounted = {started}; resume it the same way")]
    ApprovalMismatch { id: u64, started: bool },
    #[error("{0}")]
    Staff(#[from] StaffError),
    #[error("{0}")]
    Inventory(#[from] InventoryError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl StocktakeError {
    /// The field a form or API body should mark.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            StocktakeError::UnknownCode { .. } | StocktakeError::OutOfScope { .. } | StocktakeError::PriceLabel { .. } => Some("code"),
            StocktakeError::NeedsGrams { .. } => Some("qty"),
            StocktakeError::BadField { field, .. } => Some(field),
            StocktakeError::BadScope(_) | StocktakeError::Overlap { .. } => Some("scope"),
            StocktakeError::UnknownZone(_) => Some("zone"),
            StocktakeError::UnknownLane(_) | StocktakeError::LaneBusy { .. } => Some("lane"),
            StocktakeError::ApprovalMismatch { .. } => Some("zero_uncounted"),
            _ => None,
        }
    }
}

type Refused<T> = Result<T, CommitError<StocktakeError>>;

fn reject<T>(e: StocktakeError) -> Result<T, TxError<StocktakeError>> {
    Err(TxError::Rejected(e))
}

fn bad(field: &'static str, message: impl Into<String>) -> StocktakeError {
    StocktakeError::BadField { field, message: message.into() }
}

fn staff_tx(tx: &Tx, id: &str, action: Action) -> Result<crate::staff::StaffRef, TxError<StocktakeError>> {
    staff::authorize_in_tx::<StocktakeError>(tx, id, action)
}

fn get_tx(tx: &Tx, id: u64) -> Result<Stocktake, TxError<StocktakeError>> {
    tx.get::<Stocktake, StocktakeError>(TreeId::Stocktakes, &codec::u64_key(id))?.map_or_else(|| reject(StocktakeError::Unknown(id)), Ok)
}

fn wrong_state(st: &Stocktake, what: impl Into<String>) -> StocktakeError {
    StocktakeError::WrongState { id: st.id, state: st.state.as_str(), what: what.into() }
}

fn check_note(note: &str) -> Result<(), StocktakeError> {
    let n = note.chars().count();
    if n > NOTE_MAX || note.chars().any(char::is_control) {
        return Err(bad("note", format!("at most {NOTE_MAX} characters without control characters, got {n}")));
    }
    Ok(())
}

// --- zones ----------------------------------------------------------------------------------------

/// Creates or replaces a zone (`ManageStocktakes`). Its categories must exist in the catalog and
/// its SKUs be products; open counts keep the copy they were opened with.
pub fn set_zone(store: &Store, zone: &Zone, by: &str) -> Refused<Zone> {
    crate::config::Id::try_from(zone.id.clone()).map_err(|e| CommitError::Rejected(bad("id", e)))?;
    let name = zone.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(CommitError::Rejected(bad("name", "1 to 64 characters")));
    }
    if zone.categories.is_empty() && zone.skus.is_empty() {
        return Err(CommitError::Rejected(bad("categories", "a zone needs at least one category or sku")));
    }
    let zone = Zone { id: zone.id.clone(), name: name.to_string(), categories: dedup(&zone.categories), skus: dedup(&zone.skus) };
    check_categories(store, &zone.categories).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        staff_tx(tx, by, Action::ManageStocktakes)?;
        check_skus_tx(tx, &zone.skus)?;
        tx.put(TreeId::Meta, &zone_key(&zone.id), &zone)?;
        Ok(zone.clone())
    })
}

/// Every zone, by id.
pub fn zones(store: &Store) -> Result<Vec<Zone>, StoreError> {
    store.scan_prefix::<Zone>(TreeId::Meta, ZONE_PREFIX.as_bytes()).map(|r| r.map(|(_, z)| z)).collect()
}

/// Removes a zone (`ManageStocktakes`); stocktakes opened on it keep their copy.
pub fn remove_zone(store: &Store, id: &str, by: &str) -> Refused<Zone> {
    store.commit(|tx| {
        staff_tx(tx, by, Action::ManageStocktakes)?;
        let Some(z) = tx.get::<Zone, StocktakeError>(TreeId::Meta, &zone_key(id))? else {
            return reject(StocktakeError::UnknownZone(id.to_string()));
        };
        tx.remove::<StocktakeError>(TreeId::Meta, &zone_key(id))?;
        Ok(z)
    })
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    out
}

fn check_categories(store: &Store, cats: &[String]) -> Result<(), StocktakeError> {
    if cats.is_empty() {
        return Ok(());
    }
    let known: Vec<String> = catalog::categories(store)?.into_iter().map(|c| c.id).collect();
    for c in cats {
        if !known.contains(c) {
            return Err(StocktakeError::BadScope(format!("no category {c:?} in the catalog (known: {})", known.join(", "))));
        }
    }
    Ok(())
}

fn check_skus_tx(tx: &Tx, skus: &[String]) -> Result<(), TxError<StocktakeError>> {
    for s in skus {
        if tx.get_raw::<StocktakeError>(TreeId::Products, s.as_bytes())?.is_none() {
            return reject(StocktakeError::BadScope(format!("no product with sku {s:?}")));
        }
    }
    Ok(())
}

// --- open -----------------------------------------------------------------------------------------

/// Data of `storehub.stocktake.opened`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenedEvent {
    pub id: u64,
    pub scope: Scope,
    pub blind: bool,
    pub opened_by: String,
}

/// Opens a stocktake (`ManageStocktakes`). Refused when its scope overlaps an unfinished one.
pub fn open(store: &Store, new: &NewStocktake, default_blind: bool) -> Refused<Stocktake> {
    check_note(&new.note).map_err(CommitError::Rejected)?;
    let scope = match &new.scope {
        ScopeRequest::Full => Scope::Full,
        ScopeRequest::Categories(c) => {
            let categories = dedup(c);
            if categories.is_empty() {
                return Err(CommitError::Rejected(StocktakeError::BadScope("name at least one category".into())));
            }
            check_categories(store, &categories).map_err(CommitError::Rejected)?;
            Scope::Categories { categories }
        }
        ScopeRequest::Zone(z) => {
            let zone = store.get::<Zone>(TreeId::Meta, &zone_key(z.trim()))?.ok_or_else(|| CommitError::Rejected(StocktakeError::UnknownZone(z.trim().to_string())))?;
            Scope::Zone { zone: zone.id, categories: zone.categories, skus: zone.skus }
        }
        ScopeRequest::Skus(s) => {
            let skus = dedup(s);
            if skus.is_empty() {
                return Err(CommitError::Rejected(StocktakeError::BadScope("name at least one sku".into())));
            }
            Scope::Skus { skus }
        }
    };
    store.commit(|tx| {
        staff_tx(tx, &new.by, Action::ManageStocktakes)?;
        if let Scope::Skus { skus } = &scope {
            check_skus_tx(tx, skus)?;
        }
        let mut index = tx.get::<OpenIndex, StocktakeError>(TreeId::Meta, OPEN_KEY)?.unwrap_or_default();
        for other_id in &index.0 {
            let other = get_tx(tx, *other_id)?;
            let category_of = |sku: &str| tx.get::<Product, StocktakeError>(TreeId::Products, sku.as_bytes()).ok().flatten().map(|p| p.category);
            if other.state.unfinished() && scopes_overlap(&scope, &other.scope, category_of) {
                return reject(StocktakeError::Overlap { other: other.id, scope: other.scope.describe(), state: other.state.as_str() });
            }
        }
        let id = tx.next_seq(TreeId::Stocktakes)?;
        let st = Stocktake {
            id,
            scope: scope.clone(),
            blind: new.blind.unwrap_or(default_blind),
            state: StocktakeState::Open,
            opened_by: new.by.clone(),
            opened_at: tx.now(),
            submitted_by: None,
            submitted_at: None,
            approval: None,
            approved_by: None,
            approved_at: None,
            cancelled_by: None,
            cancelled_at: None,
            note: new.note.trim().to_string(),
        };
        tx.put(TreeId::Stocktakes, &codec::u64_key(id), &st)?;
        index.0.push(id);
        tx.put(TreeId::Meta, OPEN_KEY, &index)?;
        tx.emit(EVENT_OPENED, Some(&id.to_string()), &OpenedEvent { id, scope: st.scope.clone(), blind: st.blind, opened_by: st.opened_by.clone() })?;
        Ok(st)
    })
}

// --- counting -------------------------------------------------------------------------------------

/// What one count did. `expected` is the on-hand the line is measured against: callers hide it
/// from counters of a blind stocktake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountOutcome {
    pub stocktake: u64,
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: Unit,
    /// What this count added (negative: taken back), or for a recount the new figure minus the old.
    pub change: i64,
    pub counted: i64,
    pub scans: u32,
    pub expected: i64,
    pub at: DateTime<Utc>,
}

/// Finds the product of a scanned or typed code: a barcode by the catalog index (an in-store
/// weight label gives its grams), else a scale PLU or a sku typed by hand.
fn resolve(store: &Store, layouts: &[InStoreLayout], code: &str) -> Result<(Product, Option<Barcode>), StocktakeError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(bad("code", "is empty; scan or type a barcode or sku"));
    }
    match catalog::lookup(store, code, layouts) {
        Ok(Some((b, p))) => return Ok((p, Some(b))),
        Ok(None) | Err(CatalogError::Barcode { .. }) => {}
        Err(e) => return Err(StocktakeError::BadField { field: "code", message: e.to_string() }),
    }
    // A scale PLU typed by hand (4 to 7 digits), then a sku.
    if let Ok(plu @ crate::domain::barcode::CatalogCode::Plu(_)) = crate::domain::barcode::classify_catalog_code(code) {
        if let Some(p) = catalog::product_by_code(store, &plu)? {
            return Ok((p, None));
        }
    }
    match catalog::product(store, code)? {
        Some(p) => Ok((p, None)),
        None => Err(StocktakeError::UnknownCode { code: code.to_string() }),
    }
}

/// Counts one scanned (or typed) code into an open stocktake (`CountStock`): a plain scan adds
/// one piece, a weight label its grams; `how` may add another quantity or set a recount. A code
/// outside the scope or unknown is refused, naming it.
pub fn count(store: &Store, layouts: &[InStoreLayout], id: u64, code: &str, how: CountHow, by: &str) -> Refused<CountOutcome> {
    let (product, barcode) = resolve(store, layouts, code).map_err(CommitError::Rejected)?;
    let code = code.trim();
    let weighed = product.unit == Unit::Kg;
    let label_grams = match &barcode {
        Some(Barcode::WeightEmbedded { weight_g, .. }) => Some(*weight_g),
        Some(Barcode::PriceEmbedded { .. }) if weighed && !matches!(how, CountHow::Set(_) | CountHow::Add(Some(_))) => {
            return Err(CommitError::Rejected(StocktakeError::PriceLabel { code: code.to_string(), sku: product.sku }));
        }
        _ => None,
    };
    let change_of = |old: i64| -> Result<(i64, i64), StocktakeError> {
        let (new, change) = match how {
            CountHow::Set(n) => {
                if !(0..=MAX_QTY).contains(&n) {
                    return Err(bad("set", format!("a recount must be 0 to {MAX_QTY}, got {n}")));
                }
                (n, n - old)
            }
            CountHow::Add(q) => {
                let q = match (q, label_grams) {
                    (Some(q), _) => q,
                    (None, Some(g)) => g,
                    (None, None) if weighed => return Err(StocktakeError::NeedsGrams { sku: product.sku.clone() }),
                    (None, None) => 1,
                };
                if q == 0 || q.abs() > MAX_QTY {
                    return Err(bad("qty", format!("must be 1 to {MAX_QTY} (negative to take back), got {q}")));
                }
                let new = old + q;
                if new < 0 {
                    return Err(bad("qty", format!("{} would go below 0 (counted {old}, change {q})", product.sku)));
                }
                (new, q)
            }
        };
        Ok((new, change))
    };
    store.commit(|tx| {
        staff_tx(tx, by, Action::CountStock)?;
        let st = get_tx(tx, id)?;
        if st.state != StocktakeState::Open {
            return reject(wrong_state(&st, "counting is closed"));
        }
        if !st.scope.contains(&product.sku, &product.category) {
            return reject(StocktakeError::OutOfScope { code: code.to_string(), sku: product.sku.clone(), id, scope: st.scope.describe() });
        }
        let key = line_key(id, &product.sku);
        let old = tx.get::<StocktakeLine, StocktakeError>(TreeId::StocktakeLines, &key)?;
        let (counted, change) = change_of(old.as_ref().map_or(0, |l| l.counted)).map_err(TxError::Rejected)?;
        let on_hand = tx.get::<StockLevel, StocktakeError>(TreeId::Stock, product.sku.as_bytes())?.map_or(0, |l| l.on_hand);
        let line = StocktakeLine {
            sku: product.sku.clone(),
            counted,
            scans: old.as_ref().map_or(0, |l| l.scans).saturating_add(1),
            on_hand_at_count: on_hand,
            last_counted_at: tx.now(),
            counted_by: by.to_string(),
            booked_move: None,
            booked: false,
        };
        tx.put(TreeId::StocktakeLines, &key, &line)?;
        Ok(CountOutcome {
            stocktake: id,
            sku: product.sku.clone(),
            name_zh: product.name_zh.clone(),
            name_en: product.name_en.clone(),
            unit: product.unit,
            change,
            counted,
            scans: line.scans,
            expected: on_hand,
            at: line.last_counted_at,
        })
    })
}

// --- submit, cancel -------------------------------------------------------------------------------

/// Data of `storehub.stocktake.counted` (one per submit).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CountedEvent {
    pub id: u64,
    pub lines: usize,
    pub scans: u64,
    pub submitted_by: String,
}

/// Closes counting (`ManageStocktakes`): open → submitted, with one `storehub.stocktake.counted`.
pub fn submit(store: &Store, id: u64, by: &str) -> Refused<Stocktake> {
    let lines = lines(store, id)?;
    store.commit(|tx| {
        staff_tx(tx, by, Action::ManageStocktakes)?;
        let mut st = get_tx(tx, id)?;
        if st.state != StocktakeState::Open {
            return reject(wrong_state(&st, "only an open stocktake can be submitted"));
        }
        st.state = StocktakeState::Submitted;
        st.submitted_by = Some(by.to_string());
        st.submitted_at = Some(tx.now());
        tx.put(TreeId::Stocktakes, &codec::u64_key(id), &st)?;
        let scans = lines.iter().map(|l| u64::from(l.scans)).sum();
        tx.emit(EVENT_COUNTED, Some(&id.to_string()), &CountedEvent { id, lines: lines.len(), scans, submitted_by: by.to_string() })?;
        Ok(st)
    })
}

/// Data of `storehub.stocktake.cancelled`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelledEvent {
    pub id: u64,
    pub cancelled_by: String,
}

fn close_index_tx(tx: &Tx, id: u64) -> Result<(), TxError<StocktakeError>> {
    let mut index = tx.get::<OpenIndex, StocktakeError>(TreeId::Meta, OPEN_KEY)?.unwrap_or_default();
    index.0.retain(|x| *x != id);
    tx.put(TreeId::Meta, OPEN_KEY, &index)
}

/// Gives a stocktake up (`ManageStocktakes`): nothing is booked. Refused once approval started.
pub fn cancel(store: &Store, id: u64, by: &str) -> Refused<Stocktake> {
    store.commit(|tx| {
        staff_tx(tx, by, Action::ManageStocktakes)?;
        let mut st = get_tx(tx, id)?;
        if !st.state.unfinished() {
            return reject(wrong_state(&st, "it can no longer be cancelled"));
        }
        if st.approval.is_some() {
            return reject(wrong_state(&st, "its approval has started; run approve again to finish it"));
        }
        st.state = StocktakeState::Cancelled;
        st.cancelled_by = Some(by.to_string());
        st.cancelled_at = Some(tx.now());
        tx.put(TreeId::Stocktakes, &codec::u64_key(id), &st)?;
        close_index_tx(tx, id)?;
        tx.emit(EVENT_CANCELLED, Some(&id.to_string()), &CancelledEvent { id, cancelled_by: by.to_string() })?;
        Ok(st)
    })
}

// --- approval -------------------------------------------------------------------------------------

/// Data of `storehub.stocktake.approved`, and what `approve` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedEvent {
    pub id: u64,
    pub approved_by: String,
    /// Moves booked (SKUs whose count differed from the books).
    pub moves: usize,
    /// Uncounted SKUs written off to 0 (`zero_uncounted`).
    pub zeroed: usize,
    /// Σ of the booked changes' value at cost (price when no cost), fen.
    pub shrinkage_fen: i64,
    pub surplus_fen: i64,
}

/// Approves a submitted stocktake (`ManageStocktakes`): one ledger move per SKU whose count
/// differs (reason `stocktake #<id>`, reference `stocktake-<id>`), in commits of
/// [`APPROVE_CHUNK`] lines, each line marked booked in its move's commit. Cut short, calling it
/// again resumes; an approved stocktake is refused.
pub fn approve(store: &Store, id: u64, by: &str, zero_uncounted: bool) -> Refused<ApprovedEvent> {
    approve_chunked(store, id, by, zero_uncounted, APPROVE_CHUNK, usize::MAX)?
        .ok_or_else(|| CommitError::Rejected(StocktakeError::BadField { field: "id", message: format!("the approval of stocktake #{id} stopped early; run approve again to finish it") }))
}

/// [`approve`] with the chunk size and, for tests of resuming, at most `max_chunks` commits of
/// lines before it returns `None` (the stocktake then stays submitted, its approval started).
pub fn approve_chunked(store: &Store, id: u64, by: &str, zero_uncounted: bool, chunk: usize, max_chunks: usize) -> Refused<Option<ApprovedEvent>> {
    let chunk = chunk.max(1);
    // 1. Mark the approval started (or check a started one matches).
    let st = store.commit(|tx| {
        staff_tx(tx, by, Action::ManageStocktakes)?;
        let mut st = get_tx(tx, id)?;
        match st.state {
            StocktakeState::Submitted => {}
            StocktakeState::Open => return reject(wrong_state(&st, "submit it first (`storehub stocktake submit`)")),
            StocktakeState::Approved => {
                let when = st.approved_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                return reject(wrong_state(&st, format!("it was approved by {} at {when}; nothing more to book", st.approved_by.clone().unwrap_or_default())));
            }
            StocktakeState::Cancelled => return reject(wrong_state(&st, "a cancelled stocktake books nothing")),
        }
        match &st.approval {
            Some(a) if a.zero_uncounted != zero_uncounted => return reject(StocktakeError::ApprovalMismatch { id, started: a.zero_uncounted }),
            Some(_) => {}
            None => {
                st.approval = Some(Approval { by: by.to_string(), started_at: tx.now(), zero_uncounted });
                tx.put(TreeId::Stocktakes, &codec::u64_key(id), &st)?;
            }
        }
        Ok(st)
    })?;
    // 2. What is left to book: unbooked counted lines, then (zero_uncounted) uncounted SKUs with stock.
    let mut todo: Vec<String> = lines(store, id)?.into_iter().filter(|l| !l.booked).map(|l| l.sku).collect();
    if zero_uncounted {
        let counted: std::collections::BTreeSet<String> = lines(store, id)?.into_iter().map(|l| l.sku).collect();
        for p in catalog::all_products(store)? {
            if st.scope.contains(&p.sku, &p.category) && !counted.contains(&p.sku) && super::on_hand(store, &p.sku)? != 0 {
                todo.push(p.sku);
            }
        }
    }
    let reason = format!("stocktake #{id}");
    let reference = format!("stocktake-{id}");
    for (n, part) in todo.chunks(chunk).enumerate() {
        if n >= max_chunks {
            return Ok(None);
        }
        store.commit(|tx| {
            for sku in part {
                let key = line_key(id, sku);
                let on_hand = tx.get::<StockLevel, StocktakeError>(TreeId::Stock, sku.as_bytes())?.map_or(0, |l| l.on_hand);
                let mut line = match tx.get::<StocktakeLine, StocktakeError>(TreeId::StocktakeLines, &key)? {
                    Some(l) if l.booked => continue,
                    Some(l) => l,
                    // An uncounted SKU written off: counted 0 against the books now.
                    None => StocktakeLine { sku: sku.clone(), counted: 0, scans: 0, on_hand_at_count: on_hand, last_counted_at: tx.now(), counted_by: by.to_string(), booked_move: None, booked: false },
                };
                if let Some((kind, qty)) = booking(line.counted, line.on_hand_at_count, on_hand) {
                    let mv = record_move(tx, &NewMove { sku: sku.clone(), kind, qty, reason: reason.clone(), user: by.to_string(), reference: Some(reference.clone()) })
                        .map_err(|e| e.map_rejected(StocktakeError::Inventory))?;
                    line.booked_move = Some(mv.id);
                }
                line.booked = true;
                tx.put(TreeId::StocktakeLines, &key, &line)?;
            }
            Ok(())
        })?;
    }
    // 3. Done: approved, with the totals of what was booked.
    let all = lines(store, id)?;
    let report = variance_of(store, &st, &all, false)?;
    let moves = all.iter().filter(|l| l.booked_move.is_some()).count();
    let zeroed = all.iter().filter(|l| l.scans == 0).count();
    store.commit(|tx| {
        let mut st = get_tx(tx, id)?;
        if st.state == StocktakeState::Approved {
            return reject(wrong_state(&st, "it was approved meanwhile"));
        }
        st.state = StocktakeState::Approved;
        st.approved_by = Some(by.to_string());
        st.approved_at = Some(tx.now());
        tx.put(TreeId::Stocktakes, &codec::u64_key(id), &st)?;
        close_index_tx(tx, id)?;
        let ev = ApprovedEvent { id, approved_by: by.to_string(), moves, zeroed, shrinkage_fen: report.totals.shrinkage_fen, surplus_fen: report.totals.surplus_fen };
        tx.emit(EVENT_APPROVED, Some(&id.to_string()), &ev)?;
        Ok(Some(ev))
    })
}

// --- reading --------------------------------------------------------------------------------------

/// One stocktake.
pub fn stocktake(store: &Store, id: u64) -> Result<Option<Stocktake>, StoreError> {
    store.get(TreeId::Stocktakes, &codec::u64_key(id))
}

/// Every stocktake, newest first.
pub fn list(store: &Store) -> Result<Vec<Stocktake>, StoreError> {
    store.scan_rev::<Stocktake>(TreeId::Stocktakes).map(|r| r.map(|(_, s)| s)).collect()
}

/// A stocktake's lines, by sku.
pub fn lines(store: &Store, id: u64) -> Result<Vec<StocktakeLine>, StoreError> {
    store.scan_prefix::<StocktakeLine>(TreeId::StocktakeLines, &codec::u64_key(id)).map(|r| r.map(|(_, l)| l)).collect()
}

/// One line as the pages, the API and the CLI show it. `expected` is `None` for whoever may not
/// see it (a counter on a blind stocktake).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit: Option<Unit>,
    pub counted: i64,
    pub scans: u32,
    pub last_counted_at: DateTime<Utc>,
    pub counted_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    pub booked_move: Option<u64>,
}

/// A stocktake with its progress and lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StocktakeView {
    pub stocktake: Stocktake,
    /// Products in scope now.
    pub in_scope: usize,
    /// Lines counted (of those in scope).
    pub counted: usize,
    /// Whether `expected` figures are shown to this viewer.
    pub shows_expected: bool,
    /// Lanes counting into it.
    pub lanes: Vec<String>,
    pub lines: Vec<LineView>,
}

/// Whether a role sees expected quantities of this stocktake: managers always, counters only on
/// an open (not blind) count.
pub fn sees_expected(role: crate::domain::staff::Role, st: &Stocktake) -> bool {
    crate::domain::staff::allows(role, Action::ManageStocktakes) || !st.blind
}

/// Names and units of products (one read each).
fn products_of(store: &Store, skus: impl Iterator<Item = String>) -> Result<BTreeMap<String, Product>, StoreError> {
    let mut out = BTreeMap::new();
    for s in skus {
        if let Some(p) = catalog::product(store, &s)? {
            out.insert(s, p);
        }
    }
    Ok(out)
}

/// The stocktake as `viewer` (a staff id) may see it: expected figures only if [`sees_expected`].
pub fn view(store: &Store, id: u64, viewer_sees_expected: impl Fn(&Stocktake) -> bool) -> Result<StocktakeView, StocktakeError> {
    let st = stocktake(store, id)?.ok_or(StocktakeError::Unknown(id))?;
    let shows = viewer_sees_expected(&st);
    let lines = lines(store, id)?;
    let products = products_of(store, lines.iter().map(|l| l.sku.clone()))?;
    let in_scope = catalog::all_products(store)?.iter().filter(|p| st.scope.contains(&p.sku, &p.category)).count();
    let views = lines
        .iter()
        .map(|l| {
            let p = products.get(&l.sku);
            LineView {
                sku: l.sku.clone(),
                name_zh: p.map(|p| p.name_zh.clone()).unwrap_or_default(),
                name_en: p.map(|p| p.name_en.clone()).unwrap_or_default(),
                unit: p.map(|p| p.unit),
                counted: l.counted,
                scans: l.scans,
                last_counted_at: l.last_counted_at,
                counted_by: l.counted_by.clone(),
                expected: shows.then_some(l.on_hand_at_count),
                booked_move: l.booked_move,
            }
        })
        .collect();
    let lanes = lane_modes(store)?.into_iter().filter(|m| m.stocktake == id).map(|m| m.lane).collect();
    Ok(StocktakeView { in_scope, counted: lines.iter().filter(|l| l.scans > 0).count(), shows_expected: shows, lanes, lines: views, stocktake: st })
}

/// One row of the variance report, with the product's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceLine {
    #[serde(flatten)]
    pub row: VarianceRow,
    pub name_zh: String,
    pub name_en: String,
    pub unit: Option<Unit>,
    /// The move that booked it, after approval.
    pub booked_move: Option<u64>,
}

/// An uncounted SKU in scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncountedLine {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    pub on_hand: i64,
}

/// The variance report (managers only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceReport {
    pub id: u64,
    pub state: StocktakeState,
    pub lines: Vec<VarianceLine>,
    pub uncounted: Vec<UncountedLine>,
    pub totals: VarianceTotals,
    /// What approval does with uncounted SKUs.
    pub uncounted_rule: String,
}

fn variance_of(store: &Store, st: &Stocktake, lines: &[StocktakeLine], with_uncounted: bool) -> Result<VarianceReport, StoreError> {
    let products = products_of(store, lines.iter().map(|l| l.sku.clone()))?;
    let value = |p: Option<&Product>| match p {
        Some(Product { cost_fen: Some(c), .. }) => (*c, ValueBasis::Cost),
        Some(p) => (p.price_fen, ValueBasis::Price),
        None => (0, ValueBasis::Price),
    };
    let mut inputs: Vec<VarianceInput> = lines
        .iter()
        .map(|l| {
            let p = products.get(&l.sku);
            let (unit_value_fen, basis) = value(p);
            VarianceInput { sku: l.sku.clone(), expected: l.on_hand_at_count, counted: Some(l.counted), unit_value_fen, basis, weighed: p.is_some_and(|p| p.unit == Unit::Kg) }
        })
        .collect();
    let mut uncounted = Vec::new();
    if with_uncounted {
        let counted: std::collections::BTreeSet<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
        for p in catalog::all_products(store)? {
            if st.scope.contains(&p.sku, &p.category) && !counted.contains(p.sku.as_str()) {
                let on_hand = super::on_hand(store, &p.sku)?;
                let (unit_value_fen, basis) = value(Some(&p));
                inputs.push(VarianceInput { sku: p.sku.clone(), expected: on_hand, counted: None, unit_value_fen, basis, weighed: p.unit == Unit::Kg });
                uncounted.push(UncountedLine { sku: p.sku, name_zh: p.name_zh, name_en: p.name_en, on_hand });
            }
        }
    }
    let (rows, _, totals) = variance_report(&inputs);
    let booked: BTreeMap<&str, u64> = lines.iter().filter_map(|l| l.booked_move.map(|m| (l.sku.as_str(), m))).collect();
    let lines = rows
        .into_iter()
        .map(|row| {
            let p = products.get(&row.sku);
            let booked_move = booked.get(row.sku.as_str()).copied();
            VarianceLine { name_zh: p.map(|p| p.name_zh.clone()).unwrap_or_default(), name_en: p.map(|p| p.name_en.clone()).unwrap_or_default(), unit: p.map(|p| p.unit), booked_move, row }
        })
        .collect();
    let uncounted_rule = match &st.approval {
        Some(a) if a.zero_uncounted => "uncounted SKUs are written off to 0 (approval with zero_uncounted)".to_string(),
        _ => "uncounted SKUs are left unchanged unless approved with zero_uncounted".to_string(),
    };
    Ok(VarianceReport { id: st.id, state: st.state, lines, uncounted, totals, uncounted_rule })
}

/// The variance report: per counted SKU expected (on hand at its count), counted, variance in
/// units and in fen at cost (at price when the product has no cost), the uncounted SKUs in scope
/// with their on-hand now, and the totals.
pub fn variance(store: &Store, id: u64) -> Result<VarianceReport, StocktakeError> {
    let st = stocktake(store, id)?.ok_or(StocktakeError::Unknown(id))?;
    let lines = lines(store, id)?;
    Ok(variance_of(store, &st, &lines, true)?)
}

/// The variance report's CSV columns.
pub const VARIANCE_CSV_HEADER: &str = "sku,name_zh,expected,counted,variance,unit_value_fen,value_basis,variance_fen";

/// The variance report as CSV: one row per counted SKU, then each uncounted SKU (counted empty).
pub fn write_variance_csv(r: &VarianceReport, out: &mut Vec<u8>) -> Result<(), csv::Error> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    w.write_record(VARIANCE_CSV_HEADER.split(','))?;
    for l in &r.lines {
        let basis = match l.row.basis {
            ValueBasis::Cost => "cost",
            ValueBasis::Price => "price",
        };
        w.write_record([
            l.row.sku.as_str(),
            l.name_zh.as_str(),
            &l.row.expected.to_string(),
            &l.row.counted.to_string(),
            &l.row.variance.to_string(),
            &l.row.unit_value_fen.to_string(),
            basis,
            &l.row.variance_fen.to_string(),
        ])?;
    }
    for u in &r.uncounted {
        w.write_record([u.sku.as_str(), u.name_zh.as_str(), &u.on_hand.to_string(), "", "", "", "", ""])?;
    }
    w.flush()?;
    Ok(())
}

// --- lanes in count mode --------------------------------------------------------------------------

/// Puts a lane into count mode for an open stocktake, or (`None`) back to selling
/// (`ManageStocktakes`). The caller checks the lane exists and its cart is empty.
pub fn set_lane(store: &Store, lane: &str, stocktake_id: Option<u64>, by: &str) -> Refused<Option<LaneCount>> {
    store.commit(|tx| {
        staff_tx(tx, by, Action::ManageStocktakes)?;
        let key = lane_key(lane);
        let Some(id) = stocktake_id else {
            tx.remove::<StocktakeError>(TreeId::Meta, &key)?;
            return Ok(None);
        };
        let st = get_tx(tx, id)?;
        if st.state != StocktakeState::Open {
            return reject(wrong_state(&st, "a lane can count only into an open stocktake"));
        }
        let mode = LaneCount { lane: lane.to_string(), stocktake: id, by: by.to_string(), since: tx.now() };
        tx.put(TreeId::Meta, &key, &mode)?;
        Ok(Some(mode))
    })
}

/// The lane's count mode, if it counts into a stocktake that is still open (a submitted,
/// approved or cancelled stocktake ends it: the lane sells again).
pub fn lane_mode(store: &Store, lane: &str) -> Result<Option<LaneCount>, StoreError> {
    let Some(mode) = store.get::<LaneCount>(TreeId::Meta, &lane_key(lane))? else { return Ok(None) };
    Ok(stocktake(store, mode.stocktake)?.filter(|s| s.state == StocktakeState::Open).map(|_| mode))
}

/// Every lane in count mode (into an open stocktake).
pub fn lane_modes(store: &Store) -> Result<Vec<LaneCount>, StoreError> {
    let mut out = Vec::new();
    for item in store.scan_prefix::<LaneCount>(TreeId::Meta, LANE_PREFIX.as_bytes()) {
        let (_, m) = item?;
        if stocktake(store, m.stocktake)?.is_some_and(|s| s.state == StocktakeState::Open) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Every violation of the stocktake invariants, one line each (for `storehub verify`): a line
/// marked booked with a move that is missing or is not this stocktake's move of this sku, a
/// stock move with reference `stocktake-<id>` that no line of that stocktake names (a double
/// booking), an approved stocktake with a line not booked, and an unfinished index that differs
/// from the stocktakes' states. `moves` is the whole ledger. Reads only.
pub fn check(store: &Store, moves: &[super::StockMove]) -> Result<Vec<String>, StoreError> {
    let mut v = Vec::new();
    let by_id: BTreeMap<u64, &super::StockMove> = moves.iter().map(|m| (m.id, m)).collect();
    let mut named = std::collections::BTreeSet::new();
    let mut unfinished = std::collections::BTreeSet::new();
    for item in store.scan::<Stocktake>(TreeId::Stocktakes) {
        let (_, st) = item?;
        if st.state.unfinished() {
            unfinished.insert(st.id);
        }
        let reference = format!("stocktake-{}", st.id);
        for l in lines(store, st.id)? {
            if st.state == StocktakeState::Approved && !l.booked {
                v.push(format!("stocktake {}: approved but {} is not booked", st.id, l.sku));
            }
            if let Some(m) = l.booked_move {
                named.insert(m);
                match by_id.get(&m) {
                    Some(mv) if mv.sku == l.sku && mv.reference.as_deref() == Some(reference.as_str()) => {}
                    Some(mv) => v.push(format!("stocktake {}: {} names move {m}, which moves {} with reference {:?}", st.id, l.sku, mv.sku, mv.reference)),
                    None => v.push(format!("stocktake {}: {} names move {m}, which does not exist", st.id, l.sku)),
                }
            }
        }
    }
    for m in moves.iter().filter(|m| m.reference.as_deref().is_some_and(|r| r.starts_with("stocktake-"))) {
        if !named.contains(&m.id) {
            v.push(format!("stock move {} ({}, {:?}) is no stocktake line's booking: booked twice?", m.id, m.sku, m.reference));
        }
    }
    let indexed: std::collections::BTreeSet<u64> = store.get::<OpenIndex>(TreeId::Meta, OPEN_KEY)?.unwrap_or_default().0.into_iter().collect();
    if indexed != unfinished {
        v.push(format!("stocktakes: the unfinished index lists {indexed:?} but the unfinished stocktakes are {unfinished:?}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::staff::Role;

    fn product(sku: &str, barcode: &str, category: &str, unit: Unit, cost: Option<i64>) -> Product {
        Product {
            sku: sku.into(),
            barcodes: vec![barcode.into()],
            name_zh: format!("{sku} 中"),
            name_en: sku.into(),
            category: category.into(),
            unit,
            price_fen: 200,
            member_price_fen: None,
            cost_fen: cost,
            tax_bp: 1300,
            supplier: None,
            reorder_point: None,
            active: true,
        }
    }

    fn shop() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(DateTime::from_timestamp(1_795_597_200, 0).unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        let products = [
            product("W", "6907674936533", "饮料", Unit::Piece, Some(150)),
            product("C", "6955406993705", "饮料", Unit::Piece, None),
            product("B", "5000", "水果", Unit::Kg, Some(500)),
        ];
        catalog::upsert_products(&store, &products, 100, |_| {}).unwrap();
        let cost = crate::staff::HashCost::minimal_for_tests();
        for (id, role) in [("m", Role::Manager), ("c", Role::Cashier)] {
            crate::staff::create_staff(&store, &crate::staff::NewStaff { id: id.into(), name: id.into(), role }, "correct-horse-1", Some("1357"), &cost).unwrap();
        }
        for (sku, qty) in [("W", 20), ("C", 5), ("B", 2_000)] {
            super::super::move_stock(&store, &NewMove { sku: sku.into(), kind: crate::domain::stock::MoveKind::Receipt, qty, reason: "r".into(), user: "m".into(), reference: None }).unwrap();
        }
        (dir, store)
    }

    fn drinks(store: &Store) -> Stocktake {
        open(store, &NewStocktake { scope: ScopeRequest::Categories(vec!["饮料".into()]), blind: None, note: String::new(), by: "m".into() }, true).unwrap()
    }

    #[test]
    fn a_drinks_count_is_booked_once_and_keeps_the_sales_made_during_it() {
        let (_d, store) = shop();
        let st = drinks(&store);
        for _ in 0..17 {
            count(&store, &[], st.id, "6907674936533", CountHow::Add(None), "c").unwrap();
        }
        // Two waters sold after the count: the books fall to 18, the count still says 17 of 20.
        super::super::move_stock(&store, &NewMove { sku: "W".into(), kind: crate::domain::stock::MoveKind::Sale, qty: 2, reason: "sale".into(), user: "c".into(), reference: None }).unwrap();
        count(&store, &[], st.id, "C", CountHow::Set(6), "c").unwrap();
        // Bananas are fruit: outside the scope, refused naming the code.
        let e = count(&store, &[], st.id, "5000", CountHow::Add(Some(300)), "c").unwrap_err();
        assert!(e.to_string().contains("\"5000\"") && e.to_string().contains("outside stocktake"), "{e}");
        let r = variance(&store, st.id).unwrap();
        assert_eq!(r.lines.iter().map(|l| (l.row.sku.as_str(), l.row.variance, l.row.variance_fen)).collect::<Vec<_>>(), vec![("C", 1, 200), ("W", -3, -450)]);
        assert_eq!((r.totals.shrinkage_fen, r.totals.surplus_fen), (450, 200));
        assert!(approve(&store, st.id, "m", false).unwrap_err().to_string().contains("submit it first"));
        submit(&store, st.id, "m").unwrap();
        let done = approve(&store, st.id, "m", false).unwrap();
        assert_eq!(done.moves, 2);
        // 20 − 2 sold − 3 short = 15; C 5 + 1 = 6.
        assert_eq!(super::super::on_hand(&store, "W").unwrap(), 15);
        assert_eq!(super::super::on_hand(&store, "C").unwrap(), 6);
        let again = approve(&store, st.id, "m", false).unwrap_err().to_string();
        assert!(again.contains("approved by m"), "{again}");
        assert_eq!(super::super::on_hand(&store, "W").unwrap(), 15);
    }

    #[test]
    fn an_approval_cut_short_resumes_without_booking_twice() {
        let (_d, store) = shop();
        let st = open(&store, &NewStocktake { scope: ScopeRequest::Full, blind: Some(false), note: String::new(), by: "m".into() }, true).unwrap();
        count(&store, &[], st.id, "W", CountHow::Set(19), "c").unwrap();
        count(&store, &[], st.id, "C", CountHow::Set(4), "c").unwrap();
        submit(&store, st.id, "m").unwrap();
        // One chunk of one line, then stop: W booked, C not, still submitted.
        assert_eq!(approve_chunked(&store, st.id, "m", true, 1, 1).unwrap(), None);
        assert_eq!(stocktake(&store, st.id).unwrap().unwrap().state, StocktakeState::Submitted);
        assert!(approve(&store, st.id, "m", false).unwrap_err().to_string().contains("zero_uncounted = true"));
        let done = approve(&store, st.id, "m", true).unwrap();
        // C −1, W −1, bananas written off (uncounted, zero_uncounted).
        assert_eq!((done.moves, done.zeroed), (3, 1));
        assert_eq!(super::super::on_hand(&store, "W").unwrap(), 19);
        assert_eq!(super::super::on_hand(&store, "C").unwrap(), 4);
        assert_eq!(super::super::on_hand(&store, "B").unwrap(), 0);
        let booked = super::super::all_moves(&store).unwrap().into_iter().filter(|m| m.reference.as_deref() == Some("stocktake-1")).count();
        assert_eq!(booked, 3);
        assert_eq!(check(&store, &super::super::all_moves(&store).unwrap()).unwrap(), Vec::<String>::new());
        // A line forgetting its booking (as a double booking would leave it) is found.
        let mut w = lines(&store, 1).unwrap().into_iter().find(|l| l.sku == "W").unwrap();
        w.booked_move = None;
        store.commit(|tx| tx.put::<_, std::convert::Infallible>(TreeId::StocktakeLines, &line_key(1, "W"), &w)).unwrap();
        let found = check(&store, &super::super::all_moves(&store).unwrap()).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("is no stocktake line's booking"), "{found:?}");
    }

    #[test]
    fn overlapping_scopes_and_bad_input_are_refused() {
        let (_d, store) = shop();
        let st = drinks(&store);
        let e = open(&store, &NewStocktake { scope: ScopeRequest::Skus(vec!["W".into()]), blind: None, note: String::new(), by: "m".into() }, true).unwrap_err();
        assert!(e.to_string().contains("overlaps stocktake #1"), "{e}");
        open(&store, &NewStocktake { scope: ScopeRequest::Skus(vec!["B".into()]), blind: None, note: String::new(), by: "m".into() }, true).unwrap();
        let e = open(&store, &NewStocktake { scope: ScopeRequest::Categories(vec!["玩具".into()]), blind: None, note: String::new(), by: "m".into() }, true).unwrap_err();
        assert!(e.to_string().starts_with("scope: no category \"玩具\""), "{e}");
        let e = open(&store, &NewStocktake { scope: ScopeRequest::Full, blind: None, note: String::new(), by: "c".into() }, true).unwrap_err();
        assert!(e.to_string().contains("may not manage stocktakes"), "{e}");
        let e = count(&store, &[], st.id, "6900000000000", CountHow::Add(None), "c").unwrap_err();
        assert!(e.to_string().starts_with("code: \"6900000000000\""), "{e}");
        let e = count(&store, &[], st.id, "W", CountHow::Set(-1), "c").unwrap_err();
        assert!(matches!(&e, CommitError::Rejected(r) if r.field() == Some("set")), "{e}");
        let e = count(&store, &[], st.id, "W", CountHow::Add(Some(-1)), "c").unwrap_err();
        assert!(e.to_string().starts_with("qty: W would go below 0"), "{e}");
        assert!(lines(&store, st.id).unwrap().is_empty(), "refusals wrote nothing");
    }
}
