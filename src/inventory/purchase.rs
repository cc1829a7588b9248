//! Purchase orders (采购单): created by hand or from the suggestion list grouped by supplier,
//! edited, sent (an outbox event with the full lines for HQ's or the supplier's systems),
//! received fully or partly by scanning (each receipt a stock move through the ledger, in the same
//! commit as the order's update and its event), closed or cancelled. Open orders' outstanding
//! quantities are the "on order" of the next suggestion ([`on_order_by_sku`]).
//!
//! Orders live in `TreeId::PurchaseOrders` (`id BE` → [`PurchaseOrder`]). `meta`
//! `purchase_orders_open` holds the ids of the orders still open (draft, sent, partially
//! received), written in the same commit as each order's change, so "which SKUs are already on
//! an open order" and "what is on order" read a handful of records, not every order ever made,
//! and a commit can read them (a `Tx` has point reads only). The rules (which state allows what,
//! over-receipt, the state after a receipt, value, expected day) are `domain::purchase`'s.
//!
//! Boundary: events carry ids, skus, quantities, costs and staff ids; notes are free text and
//! stay in the hub. Nothing here reads the clock: commits use `tx.now()`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{record_move, InventoryError, NewMove};
use crate::catalog::{self, CatalogError, Product, Unit};
use crate::domain::barcode::{Barcode, InStoreLayout};
use crate::domain::purchase::{self as rules, PoAction, PoRuleError};
use crate::domain::staff::Action;
use crate::domain::stock::MoveKind;
use crate::staff::StaffError;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub use crate::domain::purchase::PoState;

/// A draft was created (data: [`PoEvent`] with every line).
pub const EVENT_CREATED: &str = "storehub.purchase_order.created";
/// A draft's lines or supplier, or an order's notes or expected day, changed ([`PoEvent`]).
pub const EVENT_UPDATED: &str = "storehub.purchase_order.updated";
/// An order was sent to its supplier ([`PoEvent`] with every line and the expected day).
pub const EVENT_SENT: &str = "storehub.purchase_order.sent";
/// Goods arrived: one scan ([`PoEvent`] with the line and the receipt).
pub const EVENT_RECEIVED: &str = "storehub.purchase_order.received";
/// An order was closed; what was outstanding is no longer expected ([`PoEvent`]).
pub const EVENT_CLOSED: &str = "storehub.purchase_order.closed";
/// An order was cancelled before anything arrived ([`PoEvent`]).
pub const EVENT_CANCELLED: &str = "storehub.purchase_order.cancelled";

/// Most lines one order holds (a supplier's list longer than that becomes several drafts).
pub const MAX_LINES: usize = 500;
/// Receipts kept on the order record, newest last; the ledger (moves with reference `po-<id>`)
/// keeps every one.
pub const RECEIPTS_KEPT: usize = 200;
/// Longest notes, characters.
pub const NOTES_MAX_CHARS: usize = 500;
/// Longest supplier id, characters (the catalog's supplier names).
pub const SUPPLIER_MAX_CHARS: usize = 64;

/// `meta` key of the open orders' ids.
const OPEN_KEY: &[u8] = b"purchase_orders_open";

/// One SKU of an order. Quantities are in the product's stock unit (pieces, or grams when
/// `weighed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoLine {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Stock in grams (weighed goods), not pieces.
    pub weighed: bool,
    pub ordered: i64,
    /// Arrived so far (may exceed `ordered` when over-receipt was allowed).
    pub received: i64,
    /// Cost per unit in fen (per kilogram for weighed goods, as the catalog keeps it); `None`
    /// when unknown.
    pub unit_cost_fen: Option<i64>,
    /// The SKU's lead time from its replenishment policy, when the line came from a suggestion.
    pub lead_time_days: Option<u32>,
}

impl PoLine {
    /// Still expected: ordered − received, never below 0.
    pub fn outstanding(&self) -> i64 {
        rules::outstanding(self.ordered, self.received)
    }

    /// The line's value in fen: ordered × unit cost (weighed goods: grams × cost per kg / 1000,
    /// rounded half up), 0 without a cost.
    pub fn value_fen(&self) -> i64 {
        rules::line_value_fen(self.ordered, self.unit_cost_fen, self.weighed)
    }
}

/// One scan at receiving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoReceipt {
    pub at: DateTime<Utc>,
    /// Staff id.
    pub by: String,
    pub sku: String,
    /// Units, or grams for weighed goods.
    pub qty: i64,
    /// The stock move that booked it (reference `po-<id>`).
    pub move_id: u64,
    /// The code as scanned (or the sku typed).
    pub code: String,
}

/// A stored purchase order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PurchaseOrder {
    /// From 1, in creation order.
    pub id: u64,
    /// Supplier id (the catalog's supplier name); a draft may have none, a sent order has one.
    pub supplier: Option<String>,
    pub state: PoState,
    pub lines: Vec<PoLine>,
    pub notes: String,
    /// Made by "create from suggestions".
    pub from_suggestions: bool,
    /// Staff id.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_by: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Shop-local day the goods are expected: the day sent + the longest lead time of its lines
    /// (the `[stock].lead_time_days` default for lines without one); editable once sent.
    pub expected_on: Option<NaiveDate>,
    /// Staff id and time of the close or the cancellation.
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The newest receipts (at most [`RECEIPTS_KEPT`]), oldest first.
    pub receipts: Vec<PoReceipt>,
    /// Receipts ever booked on this order (the ledger has each one).
    pub receipts_total: u64,
}

impl Record for PurchaseOrder {
    const VERSION: u8 = 1;
    const NAME: &'static str = "purchase order";
}

impl PurchaseOrder {
    /// Σ the lines' values, fen (lines without a cost count 0; see [`PoView`]).
    pub fn value_fen(&self) -> i64 {
        self.lines.iter().map(PoLine::value_fen).fold(0, i64::saturating_add)
    }

    /// The stock-move reference of its receipts.
    pub fn reference(&self) -> String {
        reference(self.id)
    }

    fn line_index(&self, sku: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.sku == sku)
    }
}

/// The stock-move reference of order `id`'s receipts: `po-<id>`.
pub fn reference(id: u64) -> String {
    format!("po-{id}")
}

/// An order as the CLI and the API show it: the order with its value and outstanding total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PoView {
    #[serde(flatten)]
    pub order: PurchaseOrder,
    /// Σ ordered × unit cost, fen, over the lines with a cost.
    pub value_fen: i64,
    /// Lines without a unit cost (their value is not in `value_fen`).
    pub lines_without_cost: usize,
    /// Σ outstanding over the lines (units and grams added as they are).
    pub outstanding: i64,
}

impl PoView {
    pub fn of(order: PurchaseOrder) -> PoView {
        PoView {
            value_fen: order.value_fen(),
            lines_without_cost: order.lines.iter().filter(|l| l.unit_cost_fen.is_none()).count(),
            outstanding: order.lines.iter().map(PoLine::outstanding).fold(0, i64::saturating_add),
            order,
        }
    }
}

/// Data of the `storehub.purchase_order.*` events (subject: the order id). `lines` holds every
/// line, except in `received`, where it holds the line the scan booked; `receipt` is that scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoEvent {
    pub po_id: u64,
    pub supplier: Option<String>,
    pub state: PoState,
    pub lines: Vec<PoLine>,
    pub value_fen: i64,
    pub expected_on: Option<NaiveDate>,
    pub receipt: Option<PoReceipt>,
    /// For `updated`: `lines`, `supplier`, `notes`, `expected_on` (comma-separated).
    pub change: Option<String>,
    /// Staff id of who did it.
    pub by: String,
}

impl PoEvent {
    fn of(o: &PurchaseOrder, change: Option<String>, by: &str) -> PoEvent {
        PoEvent {
            po_id: o.id,
            supplier: o.supplier.clone(),
            state: o.state,
            lines: o.lines.clone(),
            value_fen: o.value_fen(),
            expected_on: o.expected_on,
            receipt: None,
            change,
            by: by.to_string(),
        }
    }
}

/// Why a purchase-order operation was refused. Each message names the field (and line) and
/// says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error(transparent)]
    Rule(#[from] PoRuleError),
    #[error("no purchase order {0}; `storehub po list` shows the orders")]
    UnknownOrder(u64),
    #[error("lines[{line}].sku: no product {sku} in the catalog; check the sku (`storehub search`)")]
    UnknownSku { line: usize, sku: String },
    #[error("lines[{line}].qty: {sku}: must be at least 1, got {qty}")]
    BadQty { line: usize, sku: String, qty: i64 },
    #[error("lines[{line}].unit_cost_fen: {sku}: must be 0 or more fen, got {cost}")]
    BadCost { line: usize, sku: String, cost: i64 },
    #[error("lines[{line}].sku: {sku} is on the order twice; give each sku once")]
    DuplicateSku { line: usize, sku: String },
    #[error("lines: an order needs at least one line")]
    NoLines,
    #[error("lines: {0} lines; an order holds at most {MAX_LINES}, split it into several orders")]
    TooManyLines(usize),
    #[error("lines[{line}].sku: {sku} is not on order {id}; add it with a quantity above 0")]
    RemoveUnknown { line: usize, sku: String, id: u64 },
    #[error("supplier: must be 1 to {SUPPLIER_MAX_CHARS} characters without control characters, got {0:?}")]
    BadSupplier(String),
    #[error("notes: at most {NOTES_MAX_CHARS} characters, got {0}")]
    BadNotes(usize),
    #[error("supplier: order {0} has no supplier; set one (`storehub po edit {0} --supplier NAME`) before sending it")]
    NoSupplier(u64),
    #[error("expected_on: {expected} is before the day order {id} was sent ({sent})")]
    ExpectedBeforeSent { id: u64, expected: NaiveDate, sent: NaiveDate },
    #[error("expected_on: only a sent order has an expected day; send order {0} first")]
    ExpectedOnDraft(u64),
    #[error("code {code}: {sku} is not on purchase order {id}; put it aside and check the delivery note")]
    NotOnOrder { code: String, sku: String, id: u64 },
    #[error("code {code}: {reason}; scan the product's barcode again or type its sku")]
    UnknownCode { code: String, reason: String },
    #[error("qty: code {0} carries its own weight; scan without a quantity")]
    WeightWithQty(String),
    #[error("qty: {sku} is weighed (stock in grams); scan its weight label or give the grams received as qty")]
    WeighedNeedsQty { sku: String },
    #[error("no suggestion list yet: run the replenishment (`storehub replenishment run`) first")]
    NoSuggestions,
    #[error("receipt: {0}")]
    Inventory(InventoryError),
    #[error(transparent)]
    Staff(#[from] StaffError),
}

impl PurchaseError {
    /// The input field at fault, for the web's `{code, message, field}` errors.
    pub fn field(&self) -> Option<String> {
        match self {
            PurchaseError::Rule(PoRuleError::Qty(_) | PoRuleError::Over { .. } | PoRuleError::TooLarge(_)) => Some("qty".into()),
            PurchaseError::UnknownSku { line, .. } | PurchaseError::DuplicateSku { line, .. } | PurchaseError::RemoveUnknown { line, .. } => {
                Some(format!("lines[{line}].sku"))
            }
            PurchaseError::BadQty { line, .. } => Some(format!("lines[{line}].qty")),
            PurchaseError::BadCost { line, .. } => Some(format!("lines[{line}].unit_cost_fen")),
            PurchaseError::NoLines | PurchaseError::TooManyLines(_) => Some("lines".into()),
            PurchaseError::BadSupplier(_) | PurchaseError::NoSupplier(_) => Some("supplier".into()),
            PurchaseError::BadNotes(_) => Some("notes".into()),
            PurchaseError::ExpectedBeforeSent { .. } | PurchaseError::ExpectedOnDraft(_) => Some("expected_on".into()),
            PurchaseError::NotOnOrder { .. } | PurchaseError::UnknownCode { .. } => Some("code".into()),
            PurchaseError::WeightWithQty(_) | PurchaseError::WeighedNeedsQty { .. } => Some("qty".into()),
            _ => None,
        }
    }
}

fn rejected<T>(e: impl Into<PurchaseError>) -> Result<T, TxError<PurchaseError>> {
    Err(TxError::Rejected(e.into()))
}

fn rule(r: Result<(), PoRuleError>) -> Result<(), TxError<PurchaseError>> {
    r.map_err(|e| TxError::Rejected(PurchaseError::Rule(e)))
}

/// The ids of open orders, stored in `meta`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OpenOrders(BTreeSet<u64>);
impl Record for OpenOrders {
    const NAME: &'static str = "open purchase orders";
}

fn open_ids_tx(tx: &Tx) -> Result<OpenOrders, TxError<PurchaseError>> {
    Ok(tx.get::<OpenOrders, PurchaseError>(TreeId::Meta, OPEN_KEY)?.unwrap_or_default())
}

/// Stores `o`, keeps the open index in step with its state, emits `event`.
fn save(tx: &Tx, o: &PurchaseOrder, event: &str, data: &PoEvent) -> Result<(), TxError<PurchaseError>> {
    tx.put(TreeId::PurchaseOrders, &codec::u64_key(o.id), o)?;
    let mut open = open_ids_tx(tx)?;
    let changed = if o.state.is_open() { open.0.insert(o.id) } else { open.0.remove(&o.id) };
    if changed {
        tx.put(TreeId::Meta, OPEN_KEY, &open)?;
    }
    tx.emit(event, Some(&o.id.to_string()), data)?;
    Ok(())
}

fn order_tx(tx: &Tx, id: u64) -> Result<PurchaseOrder, TxError<PurchaseError>> {
    tx.get::<PurchaseOrder, PurchaseError>(TreeId::PurchaseOrders, &codec::u64_key(id))?
        .ok_or(TxError::Rejected(PurchaseError::UnknownOrder(id)))
}

fn check_supplier(s: &str) -> Result<String, PurchaseError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > SUPPLIER_MAX_CHARS || t.chars().any(char::is_control) {
        return Err(PurchaseError::BadSupplier(s.to_string()));
    }
    Ok(t.to_string())
}

fn check_notes(s: &str) -> Result<String, PurchaseError> {
    let n = s.trim().chars().count();
    if n > NOTES_MAX_CHARS {
        return Err(PurchaseError::BadNotes(n));
    }
    Ok(s.trim().to_string())
}

// --- creating -------------------------------------------------------------------------------------

/// A line as asked for: the sku, the quantity (units, or grams for weighed goods) and,
/// optionally, the unit cost (else the catalog's cost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPoLine {
    pub sku: String,
    pub qty: i64,
    #[serde(default)]
    pub unit_cost_fen: Option<i64>,
}

/// An order as asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Supplier id; may be left out for a draft (it must be set before sending).
    #[serde(default)]
    pub supplier: Option<String>,
    pub lines: Vec<NewPoLine>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A checked line from the catalog's product.
fn line_from_product(tx: &Tx, index: usize, l: &NewPoLine) -> Result<PoLine, TxError<PurchaseError>> {
    let sku = l.sku.trim();
    let product: Option<Product> = tx.get(TreeId::Products, sku.as_bytes())?;
    let Some(p) = product else {
        return rejected(PurchaseError::UnknownSku { line: index, sku: sku.to_string() });
    };
    if l.qty < 1 {
        return rejected(PurchaseError::BadQty { line: index, sku: p.sku, qty: l.qty });
    }
    if let Some(c) = l.unit_cost_fen.filter(|c| *c < 0) {
        return rejected(PurchaseError::BadCost { line: index, sku: p.sku, cost: c });
    }
    Ok(PoLine {
        weighed: p.unit == Unit::Kg,
        unit_cost_fen: l.unit_cost_fen.or(p.cost_fen),
        sku: p.sku,
        name_zh: p.name_zh,
        name_en: p.name_en,
        ordered: l.qty,
        received: 0,
        lead_time_days: None,
    })
}

fn check_line_count(n: usize) -> Result<(), TxError<PurchaseError>> {
    match n {
        0 => rejected(PurchaseError::NoLines),
        n if n > MAX_LINES => rejected(PurchaseError::TooManyLines(n)),
        _ => Ok(()),
    }
}

/// Stores a new draft with its `created` event.
fn insert_draft(tx: &Tx, supplier: Option<String>, lines: Vec<PoLine>, notes: String, from_suggestions: bool, by: &str) -> Result<PurchaseOrder, TxError<PurchaseError>> {
    let id = tx.next_seq(TreeId::PurchaseOrders)?;
    let now = tx.now();
    let o = PurchaseOrder {
        id,
        supplier,
        state: PoState::Draft,
        lines,
        notes,
        from_suggestions,
        created_by: by.to_string(),
        created_at: now,
        updated_at: now,
        sent_by: None,
        sent_at: None,
        expected_on: None,
        closed_by: None,
        closed_at: None,
        receipts: Vec::new(),
        receipts_total: 0,
    };
    save(tx, &o, EVENT_CREATED, &PoEvent::of(&o, None, by))?;
    Ok(o)
}

/// Creates a draft from `new`: every sku a product of the catalog, each once, quantities ≥ 1,
/// 1 to [`MAX_LINES`] lines; names and (unless given) unit costs from the catalog. `by` needs
/// [`Action::ManagePurchaseOrders`]. One commit with `storehub.purchase_order.created`.
pub fn create(store: &Store, new: &NewOrder, by: &str) -> Result<PurchaseOrder, CommitError<PurchaseError>> {
    let supplier = new.supplier.as_deref().filter(|s| !s.trim().is_empty()).map(check_supplier).transpose().map_err(CommitError::Rejected)?;
    let notes = check_notes(new.notes.as_deref().unwrap_or_default()).map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<PurchaseError>(tx, by, Action::ManagePurchaseOrders)?;
        check_line_count(new.lines.len())?;
        let mut lines: Vec<PoLine> = Vec::with_capacity(new.lines.len());
        for (i, l) in new.lines.iter().enumerate() {
            let line = line_from_product(tx, i, l)?;
            if lines.iter().any(|x| x.sku == line.sku) {
                return rejected(PurchaseError::DuplicateSku { line: i, sku: line.sku });
            }
            lines.push(line);
        }
        insert_draft(tx, supplier.clone(), lines, notes.clone(), false, by)
    })
}

/// A SKU "create from suggestions" left out because an open order holds it already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkippedSku {
    pub sku: String,
    /// The open order (draft, sent or partially received) that has it.
    pub po_id: u64,
    pub state: PoState,
}

/// What "create from suggestions" did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FromSuggestions {
    /// The new drafts, one per supplier (several when a supplier has more than [`MAX_LINES`]
    /// SKUs); SKUs without a supplier in one draft with none.
    pub created: Vec<PoView>,
    /// SKUs with a suggested quantity that an open order holds already.
    pub skipped: Vec<SkippedSku>,
}

/// Turns the latest suggestion list's lines with a suggested quantity above 0 into drafts, one
/// per supplier (SKUs without a supplier go to one draft with none, which must get a supplier
/// before it is sent). A SKU already on an open order (draft, sent, partially received) is
/// skipped and reported. Names, unit cost and lead time come from the suggestion line. `by`
/// needs [`Action::ManagePurchaseOrders`]. One commit: every draft with its `created` event, or
/// nothing. Nothing to order is not an error (no draft); no suggestion list at all is.
pub fn from_suggestions(store: &Store, by: &str) -> Result<FromSuggestions, CommitError<PurchaseError>> {
    let list = super::replenishment::suggestions(store)?;
    if list.is_empty() {
        return Err(CommitError::Rejected(PurchaseError::NoSuggestions));
    }
    let units: BTreeMap<String, bool> = list
        .iter()
        .map(|s| Ok((s.sku.clone(), catalog::product(store, &s.sku)?.is_some_and(|p| p.unit == Unit::Kg))))
        .collect::<Result<_, StoreError>>()?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<PurchaseError>(tx, by, Action::ManagePurchaseOrders)?;
        let mut held: BTreeMap<String, (u64, PoState)> = BTreeMap::new();
        for id in open_ids_tx(tx)?.0 {
            let o = order_tx(tx, id)?;
            for l in &o.lines {
                held.entry(l.sku.clone()).or_insert((o.id, o.state));
            }
        }
        let mut skipped = Vec::new();
        let mut groups: BTreeMap<Option<String>, Vec<PoLine>> = BTreeMap::new();
        for s in list.iter().filter(|s| s.suggestion.suggested_qty > 0) {
            if let Some((po_id, state)) = held.get(&s.sku) {
                skipped.push(SkippedSku { sku: s.sku.clone(), po_id: *po_id, state: *state });
                continue;
            }
            let supplier = s.supplier.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
            groups.entry(supplier).or_default().push(PoLine {
                sku: s.sku.clone(),
                name_zh: s.name_zh.clone(),
                name_en: s.name_en.clone(),
                weighed: units.get(&s.sku).copied().unwrap_or(false),
                ordered: s.suggestion.suggested_qty,
                received: 0,
                unit_cost_fen: s.unit_cost_fen,
                lead_time_days: u32::try_from(s.policy.lead_time_days).ok(),
            });
        }
        let mut created = Vec::new();
        // Named suppliers first (BTreeMap puts None first; the supplierless draft goes last).
        let (none, named): (Vec<_>, Vec<_>) = groups.into_iter().partition(|(s, _)| s.is_none());
        for (supplier, lines) in named.into_iter().chain(none) {
            let mut rest = lines;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(MAX_LINES));
                let o = insert_draft(tx, supplier.clone(), rest, String::new(), true, by)?;
                created.push(PoView::of(o));
                rest = tail;
            }
        }
        Ok(FromSuggestions { created, skipped })
    })
}

// --- editing ----------------------------------------------------------------------------------------

/// A change to an order. A draft takes every field; a sent or partially received order only
/// `notes` and `expected_on`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoEdit {
    /// New supplier id; an empty string removes it (drafts only).
    #[serde(default)]
    pub supplier: Option<String>,
    /// New notes (replace the old ones; empty clears them).
    #[serde(default)]
    pub notes: Option<String>,
    /// Lines to add or change: a sku on the order gets the new quantity (0 removes it), a sku
    /// not on it is added (drafts only).
    #[serde(default)]
    pub lines: Vec<NewPoLine>,
    /// New expected delivery day (sent orders only; not before the day it was sent).
    #[serde(default)]
    pub expected_on: Option<NaiveDate>,
}

/// Applies `edit` to order `id`. `by` needs [`Action::ManagePurchaseOrders`]. One commit with
/// `storehub.purchase_order.updated` (its `change` names what changed).
pub fn edit(store: &Store, id: u64, edit: &PoEdit, tz: chrono_tz::Tz, by: &str) -> Result<PurchaseOrder, CommitError<PurchaseError>> {
    let supplier = match edit.supplier.as_deref() {
        None => None,
        Some(s) if s.trim().is_empty() => Some(None),
        Some(s) => Some(Some(check_supplier(s).map_err(CommitError::Rejected)?)),
    };
    let notes = edit.notes.as_deref().map(check_notes).transpose().map_err(CommitError::Rejected)?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<PurchaseError>(tx, by, Action::ManagePurchaseOrders)?;
        let mut o = order_tx(tx, id)?;
        let mut changed = Vec::new();
        if supplier.is_some() || !edit.lines.is_empty() {
            rule(rules::check(o.state, PoAction::EditLines))?;
        } else {
            rule(rules::check(o.state, PoAction::EditNotes))?;
        }
        if let Some(s) = &supplier {
            o.supplier = s.clone();
            changed.push("supplier");
        }
        for (i, l) in edit.lines.iter().enumerate() {
            let sku = l.sku.trim();
            if edit.lines[..i].iter().any(|x| x.sku.trim() == sku) {
                return rejected(PurchaseError::DuplicateSku { line: i, sku: sku.to_string() });
            }
            match (o.line_index(sku), l.qty) {
                (Some(at), 0) => {
                    o.lines.remove(at);
                }
                (None, 0) => return rejected(PurchaseError::RemoveUnknown { line: i, sku: sku.to_string(), id }),
                (Some(at), q) if q > 0 => {
                    if let Some(c) = l.unit_cost_fen.filter(|c| *c < 0) {
                        return rejected(PurchaseError::BadCost { line: i, sku: sku.to_string(), cost: c });
                    }
                    let line = &mut o.lines[at];
                    line.ordered = q;
                    if l.unit_cost_fen.is_some() {
                        line.unit_cost_fen = l.unit_cost_fen;
                    }
                }
                (Some(_), q) => return rejected(PurchaseError::BadQty { line: i, sku: sku.to_string(), qty: q }),
                (None, _) => o.lines.push(line_from_product(tx, i, l)?),
            }
        }
        if !edit.lines.is_empty() {
            check_line_count(o.lines.len())?;
            changed.push("lines");
        }
        if let Some(n) = &notes {
            o.notes = n.clone();
            changed.push("notes");
        }
        if let Some(day) = edit.expected_on {
            let Some(sent) = o.sent_at.map(|at| crate::clock::local(at, tz).date()) else {
                return rejected(PurchaseError::ExpectedOnDraft(id));
            };
            if day < sent {
                return rejected(PurchaseError::ExpectedBeforeSent { id, expected: day, sent });
            }
            o.expected_on = Some(day);
            changed.push("expected_on");
        }
        o.updated_at = tx.now();
        save(tx, &o, EVENT_UPDATED, &PoEvent::of(&o, Some(changed.join(",")), by))?;
        Ok(o)
    })
}

/// Sends a draft: it must have a supplier and at least one line. The expected day is the
/// shop-local day today + the longest lead time of its lines (`default_lead_days`, the
/// `[stock].lead_time_days`, for lines without one). `by` needs
/// [`Action::ManagePurchaseOrders`]. One commit with `storehub.purchase_order.sent` carrying
/// every line, for HQ's or the supplier's systems.
pub fn send(store: &Store, id: u64, tz: chrono_tz::Tz, default_lead_days: u32, by: &str) -> Result<PurchaseOrder, CommitError<PurchaseError>> {
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<PurchaseError>(tx, by, Action::ManagePurchaseOrders)?;
        let mut o = order_tx(tx, id)?;
        rule(rules::check(o.state, PoAction::Send))?;
        if o.supplier.is_none() {
            return rejected(PurchaseError::NoSupplier(id));
        }
        check_line_count(o.lines.len())?;
        let now = tx.now();
        let lead = o.lines.iter().map(|l| l.lead_time_days.unwrap_or(default_lead_days)).max().unwrap_or(default_lead_days);
        o.state = PoState::Sent;
        o.sent_by = Some(by.to_string());
        o.sent_at = Some(now);
        o.expected_on = rules::expected_on(crate::clock::local(now, tz).date(), i64::from(lead));
        o.updated_at = now;
        save(tx, &o, EVENT_SENT, &PoEvent::of(&o, None, by))?;
        Ok(o)
    })
}

// --- receiving --------------------------------------------------------------------------------------

/// One scan at receiving: the code a scanner typed (any of the product's barcodes, a GS1
/// in-store weight label, or the sku typed by hand) and, optionally, the quantity (default 1
/// unit; a weight label gives its grams).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    pub code: String,
    #[serde(default)]
    pub qty: Option<i64>,
    /// Accept more than ordered.
    #[serde(default)]
    pub allow_over: bool,
}

/// A booked scan: the order after it, the receipt and the line it went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Received {
    pub order: PoView,
    pub receipt: PoReceipt,
    pub line: PoLine,
    /// The line's outstanding quantity after the scan.
    pub outstanding: i64,
}

/// What a scanned code names, decided outside the commit with the catalog's lookup.
enum Found {
    /// A product's code; `weight_g` when it was a weight label.
    Product { sku: String, weight_g: Option<i64> },
    /// Not a barcode, or a barcode no product has: maybe a sku typed by hand.
    Nothing { reason: String },
}

fn find(store: &Store, code: &str, layouts: &[InStoreLayout]) -> Result<Found, StoreError> {
    match catalog::lookup(store, code, layouts) {
        Ok(Some((decoded, p))) => {
            let weight_g = match decoded {
                Barcode::WeightEmbedded { weight_g, .. } => Some(weight_g),
                _ => None,
            };
            Ok(Found::Product { sku: p.sku, weight_g })
        }
        Ok(None) => Ok(Found::Nothing { reason: "no product has this code".into() }),
        Err(CatalogError::Barcode { source, .. }) => Ok(Found::Nothing { reason: format!("not a barcode ({source}) and no sku on the order") }),
        Err(CatalogError::Store(e)) => Err(e),
        Err(other) => Ok(Found::Nothing { reason: other.to_string() }),
    }
}

/// Books one scan on order `id` (sent or partially received): the code must name a SKU on the
/// order (a code no product has, or a product not on the order, is refused naming the code);
/// the quantity is 1 unit unless given, a weight label's grams for weighed goods (which need a
/// weight label or a quantity); more than ordered is refused unless `allow_over`. One commit:
/// the `MoveKind::Receipt` stock move (reference `po-<id>`, through `inventory::record_move`),
/// the order's received figures and state (`received` once every line is complete), the
/// receipt, and `storehub.purchase_order.received`. `by` needs [`Action::ReceiveGoods`].
pub fn receive(store: &Store, id: u64, scan: &Scan, layouts: &[InStoreLayout], by: &str) -> Result<Received, CommitError<PurchaseError>> {
    let code = scan.code.trim().to_string();
    let found = find(store, &code, layouts)?;
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<PurchaseError>(tx, by, Action::ReceiveGoods)?;
        let mut o = order_tx(tx, id)?;
        rule(rules::check(o.state, PoAction::Receive))?;
        let (at, weight_g) = match &found {
            Found::Product { sku, weight_g } => match o.line_index(sku) {
                Some(at) => (at, *weight_g),
                None => return rejected(PurchaseError::NotOnOrder { code: code.clone(), sku: sku.clone(), id }),
            },
            Found::Nothing { reason } => match o.line_index(&code) {
                Some(at) => (at, None),
                None => return rejected(PurchaseError::UnknownCode { code: code.clone(), reason: reason.clone() }),
            },
        };
        let line = &o.lines[at];
        let qty = match (weight_g, scan.qty, line.weighed) {
            (Some(_), Some(_), true) => return rejected(PurchaseError::WeightWithQty(code.clone())),
            (Some(g), None, true) => g,
            (_, None, true) => return rejected(PurchaseError::WeighedNeedsQty { sku: line.sku.clone() }),
            (_, q, _) => q.unwrap_or(1),
        };
        let after = rules::receive_qty(&line.sku, line.ordered, line.received, qty, scan.allow_over).map_err(|e| TxError::Rejected(e.into()))?;
        let mv = record_move(
            tx,
            &NewMove {
                sku: line.sku.clone(),
                kind: MoveKind::Receipt,
                qty,
                reason: format!("purchase order {id}"),
                user: by.to_string(),
                reference: Some(reference(id)),
            },
        )
        .map_err(|e| e.map_rejected(PurchaseError::Inventory))?;
        let now = tx.now();
        o.lines[at].received = after;
        let receipt = PoReceipt { at: now, by: by.to_string(), sku: o.lines[at].sku.clone(), qty, move_id: mv.id, code: code.clone() };
        o.receipts.push(receipt.clone());
        if o.receipts.len() > RECEIPTS_KEPT {
            let extra = o.receipts.len() - RECEIPTS_KEPT;
            o.receipts.drain(..extra);
        }
        o.receipts_total = o.receipts_total.saturating_add(1);
        let figures: Vec<(i64, i64)> = o.lines.iter().map(|l| (l.ordered, l.received)).collect();
        o.state = rules::state_after_receipt(&figures);
        o.updated_at = now;
        let line = o.lines[at].clone();
        let mut data = PoEvent::of(&o, None, by);
        data.lines = vec![line.clone()];
        data.receipt = Some(receipt.clone());
        save(tx, &o, EVENT_RECEIVED, &data)?;
        Ok(Received { outstanding: line.outstanding(), order: PoView::of(o), receipt, line })
    })
}

// --- ending -----------------------------------------------------------------------------------------

/// Closes a received or partially received order: what is outstanding is no longer expected
/// (it leaves "on order"). `by` needs [`Action::ManagePurchaseOrders`]. One commit with
/// `storehub.purchase_order.closed`.
pub fn close(store: &Store, id: u64, by: &str) -> Result<PurchaseOrder, CommitError<PurchaseError>> {
    end(store, id, by, false)
}

/// Cancels a draft, or a sent order nothing has arrived on. `by` needs
/// [`Action::ManagePurchaseOrders`]. One commit with `storehub.purchase_order.cancelled`.
pub fn cancel(store: &Store, id: u64, by: &str) -> Result<PurchaseOrder, CommitError<PurchaseError>> {
    end(store, id, by, true)
}

fn end(store: &Store, id: u64, by: &str, cancelling: bool) -> Result<PurchaseOrder, CommitError<PurchaseError>> {
    store.commit(|tx| {
        crate::staff::authorize_in_tx::<PurchaseError>(tx, by, Action::ManagePurchaseOrders)?;
        let mut o = order_tx(tx, id)?;
        let (action, state, event) = if cancelling {
            (PoAction::Cancel { received_any: o.receipts_total > 0 || o.lines.iter().any(|l| l.received > 0) }, PoState::Cancelled, EVENT_CANCELLED)
        } else {
            (PoAction::Close, PoState::Closed, EVENT_CLOSED)
        };
        rule(rules::check(o.state, action))?;
        let now = tx.now();
        o.state = state;
        o.closed_by = Some(by.to_string());
        o.closed_at = Some(now);
        o.updated_at = now;
        save(tx, &o, event, &PoEvent::of(&o, None, by))?;
        Ok(o)
    })
}

// --- reading ----------------------------------------------------------------------------------------

/// Order `id`.
pub fn order(store: &Store, id: u64) -> Result<Option<PurchaseOrder>, StoreError> {
    store.get(TreeId::PurchaseOrders, &codec::u64_key(id))
}

/// Which orders a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoFilter {
    /// Draft, sent, partially received.
    #[default]
    Open,
    All,
    State(PoState),
}

/// Orders matching `filter`, newest first. Open ones come from the open index; the others walk
/// the orders (a shop makes a few a day).
pub fn list(store: &Store, filter: PoFilter) -> Result<Vec<PurchaseOrder>, StoreError> {
    let mut out = Vec::new();
    if filter == PoFilter::Open {
        for id in open_ids(store)?.into_iter().rev() {
            if let Some(o) = order(store, id)? {
                out.push(o);
            }
        }
        return Ok(out);
    }
    for item in store.scan_rev::<PurchaseOrder>(TreeId::PurchaseOrders) {
        let (_, o) = item?;
        if filter == PoFilter::All || filter == PoFilter::State(o.state) {
            out.push(o);
        }
    }
    Ok(out)
}

/// Ids of the open orders (draft, sent, partially received), oldest first.
pub fn open_ids(store: &Store) -> Result<Vec<u64>, StoreError> {
    Ok(store.get::<OpenOrders>(TreeId::Meta, OPEN_KEY)?.unwrap_or_default().0.into_iter().collect())
}

/// Units on open purchase orders not yet received, per sku (SKUs with none are absent):
/// Σ (ordered − received, never below 0) over sent and partially received orders.
pub fn on_order_by_sku(store: &Store) -> Result<BTreeMap<String, i64>, StoreError> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for id in open_ids(store)? {
        let Some(o) = order(store, id)? else {
            return Err(StoreError::Corrupt(format!("the open purchase-order index names missing order {id}")));
        };
        if !o.state.is_on_order() {
            continue;
        }
        for l in &o.lines {
            let n = l.outstanding();
            if n > 0 {
                let e = out.entry(l.sku.clone()).or_default();
                *e = e.saturating_add(n);
            }
        }
    }
    Ok(out)
}

/// Every violation of the purchase-order invariants, one line each (for `storehub verify`):
/// a line's received figure that is not the sum of its order's receipt moves (reference
/// `po-<id>`) for that sku, a receipt move naming an order that does not exist or does not list
/// the sku, and an open-order index that differs from the orders' states. `moves` is the whole
/// ledger (verify reads it once). Reads only.
pub fn check(store: &Store, moves: &[super::StockMove]) -> Result<Vec<String>, StoreError> {
    let mut v = Vec::new();
    let mut booked: BTreeMap<(u64, String), i64> = BTreeMap::new();
    for m in moves.iter().filter(|m| m.kind == MoveKind::Receipt) {
        if let Some(id) = m.reference.as_deref().and_then(|r| r.strip_prefix("po-")).and_then(|n| n.parse::<u64>().ok()) {
            let e = booked.entry((id, m.sku.clone())).or_default();
            *e = e.saturating_add(m.delta);
        }
    }
    let mut open = BTreeSet::new();
    for item in store.scan::<PurchaseOrder>(TreeId::PurchaseOrders) {
        let (_, o) = item?;
        if o.state.is_open() {
            open.insert(o.id);
        }
        for l in &o.lines {
            let sum = booked.remove(&(o.id, l.sku.clone())).unwrap_or(0);
            if sum != l.received {
                v.push(format!("purchase order {}: {} received {} but its receipt moves (po-{}) sum to {sum}", o.id, l.sku, l.received, o.id));
            }
        }
    }
    for ((id, sku), sum) in booked {
        v.push(format!("stock moves with reference po-{id} receive {sum} of {sku}, which purchase order {id} does not list"));
    }
    let indexed: BTreeSet<u64> = open_ids(store)?.into_iter().collect();
    if indexed != open {
        v.push(format!("purchase orders: the open index lists {indexed:?} but the open orders are {open:?}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn nothing_is_on_order_in_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-26T02:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        assert!(on_order_by_sku(&store).unwrap().is_empty());
        assert!(list(&store, PoFilter::All).unwrap().is_empty());
    }
}
