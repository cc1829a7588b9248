//! The configured lanes and their open carts: scanning, weighing, changing lines, voiding, and
//! keeping each cart persisted so it survives a restart.
//!
//! Persisted layout in `TreeId::Sessions`: `<lane>` → [`CartHeader`], `<lane>\0<line no, u32 BE>`
//! → [`CartLine`]. A change marks the lines (and header) it touched; a flusher thread writes what
//! changed every [`FLUSH_EVERY`] in one write-behind commit per lane, and dropping the lanes
//! (a clean stop) writes the rest. So a scan does no commit at all, and a power cut can cost at
//! most the last few scans (a rescan), never a sale: paying is its own durable commit.
//!
//! Every change to a lane's cart, whoever makes it (the lane's scanner thread, the web, the
//! CLI), bumps the lane's version, a `tokio::sync::watch` value that async code (the cashier
//! screen's event stream) waits on with [`Lanes::watch`]. Bumping never blocks the till.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::cart::{AddHow, Cart, CartError, CartLine};
use crate::catalog::{self, Product, Unit};
use crate::domain::barcode::{self, Barcode, BarcodeError, CatalogCode, InStoreLayout};
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// Outbox event of a cart voided with lines on it (data: the [`CartVoid`]).
pub const EVENT_SALE_VOIDED: &str = "storehub.sale.voided";

/// A cart emptied with lines on it (the shopper walked away), as stored in `TreeId::Voids`
/// (key: id, u64 BE, in time order) and sent as `storehub.sale.voided`. No personal data: the
/// member is an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartVoid {
    pub id: u64,
    pub lane: String,
    /// The staff signed in on the lane when it was voided (`None`: nobody was).
    pub cashier: Option<String>,
    pub member_id: Option<u64>,
    pub opened_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub lines: u32,
    /// What the lines came to at list price (Σ gross, before any discount); 0 when the cart
    /// could not be priced.
    pub value_fen: i64,
}

impl Record for CartVoid {
    const NAME: &'static str = "cart void";
}

/// The cart's lines at list price: the pricing engine's subtotal for a guest, no promotions.
fn list_value_fen(cart: &Cart) -> i64 {
    let guest = crate::domain::pricing::Shopper::guest();
    crate::domain::pricing::price_basket(&cart.basket_lines(), &guest, &[], &[], cart.opened_at.naive_utc()).map_or(0, |p| p.subtotal_fen)
}

/// How often changed carts are written.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// A weight older than this is not "the current stable weight" any more.
const WEIGHT_FRESH_FOR: Duration = Duration::seconds(2);

/// The persisted part of a cart besides its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartHeader {
    pub opened_at: DateTime<Utc>,
    pub cashier: Option<String>,
    pub member_id: Option<u64>,
    pub coupons: Vec<String>,
    pub next_line_no: u32,
    /// Managers' price overrides on the cart's lines.
    pub overrides: Vec<super::cart::PriceOverride>,
}

impl Record for CartHeader {
    const VERSION: u8 = 2;
    const NAME: &'static str = "cart header";

    /// Version 1 had no price overrides.
    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, StoreError> {
        match version {
            1 => crate::store::codec::upgrade_by_appending(bytes, &(Vec::<super::cart::PriceOverride>::new(),)),
            _ => Err(StoreError::Corrupt(format!("cart header record has unknown version tag {version}"))),
        }
    }
}

impl Record for CartLine {
    const NAME: &'static str = "cart line";
}

/// The last reading of a lane's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleReading {
    pub grams: i64,
    pub stable: bool,
    pub at: DateTime<Utc>,
}

/// What a scan did. Not finding the product is an outcome the cashier screen shows, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ScanOutcome {
    /// The product was added (or merged into an existing line).
    Added { line: CartLine },
    /// No product has this code; nothing was added.
    UnknownBarcode { code: String },
    /// A weighed product scanned by its own code: put it on the scale and weigh it.
    NeedsWeight { sku: String, name_zh: String, name_en: String },
    /// The lane is in count mode (盘点中): the scan was counted into a stocktake, not sold.
    Counted { count: crate::inventory::stocktake::CountOutcome },
}

/// A lane action that was refused; the cart is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no lane {0:?}; configured lanes are in [[lanes]]")]
    UnknownLane(String),
    #[error("barcode {code:?} cannot be read: {source}")]
    Barcode { code: String, source: BarcodeError },
    #[error("no product with sku {0:?}")]
    UnknownSku(String),
    #[error("the scale shows no stable weight; wait until it settles (or weigh again)")]
    UnstableWeight,
    #[error("the scale has sent no weight in the last 2 seconds; check the scale")]
    NoWeight,
    #[error("{0}")]
    Cart(#[from] CartError),
    #[error("the cart is empty; scan something first")]
    EmptyCart,
    #[error("no cashier is signed in on this lane; sign in with your PIN first")]
    NotSignedIn,
    #[error("no shift is open on {lane}, so there is no drawer for cash; open a shift with its float first (`storehub shift open`)")]
    NoShift { lane: String },
    #[error("{0}")]
    Pricing(crate::domain::pricing::PricingError),
    #[error("{0}")]
    Tender(crate::domain::tender::TenderError),
    #[error("{0}")]
    Shift(crate::staff::ShiftError),
    #[error("{0}")]
    Stock(crate::inventory::InventoryError),
    #[error("{0}")]
    Return(super::returns::ReturnError),
    #[error("{0}")]
    Member(crate::members::MemberError),
    #[error("{0}")]
    Coupon(crate::coupons::CouponError),
    #[error("{0}")]
    Points(crate::domain::loyalty::PointsError),
    #[error("no member matches {0:?}; check the phone number or scan the card again")]
    NoMember(String),
    #[error("{0}")]
    Staff(#[from] crate::staff::StaffError),
    #[error("{lane} is counting stock for stocktake #{stocktake} (盘点中); selling is refused until a manager ends count mode (`storehub stocktake lane {lane} --off`)")]
    Counting { lane: String, stocktake: u64 },
    #[error("{0}")]
    Stocktake(crate::inventory::stocktake::StocktakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CommitError<CheckoutError>> for CheckoutError {
    fn from(e: CommitError<CheckoutError>) -> Self {
        match e {
            CommitError::Rejected(e) => e,
            CommitError::Store(e) => CheckoutError::Store(e),
        }
    }
}

/// What the cashier screen should say about the lane's last scan when it added nothing: the scan
/// may have come from the lane's scanner, so the screen learns of it only from the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaneNotice {
    /// No product has this code.
    UnknownBarcode { code: String },
    /// A weighed product scanned by its own code: weigh it.
    NeedsWeight { sku: String, name_zh: String, name_en: String },
    /// The scan was refused (unreadable code, inactive product, full cart …).
    Refused { code: String, message: String },
    /// Count mode: the scan was counted into a stocktake (the counted figure only, never the
    /// expected one: the lane's screen is a counter's).
    Counted { stocktake: u64, sku: String, name_zh: String, name_en: String, counted: i64 },
}

/// A consistent view of one lane: its cart, version and what the screen shows beside the cart.
#[derive(Debug, Clone)]
pub struct LaneSnapshot {
    pub cart: Cart,
    /// The lane's change counter at the moment of this snapshot (see [`Lanes::watch`]).
    pub version: u64,
    /// The last scan's notice, when that scan was the lane's last change.
    pub notice: Option<LaneNotice>,
    /// The last sale paid at this lane since the daemon started.
    pub last_sale: Option<u64>,
    /// The open stocktake the lane counts into (count mode, 盘点中), if any.
    pub counting: Option<u64>,
}

struct LaneState {
    cart: Cart,
    scale: Option<ScaleReading>,
    /// Set by a scan that added nothing; cleared by the next change.
    notice: Option<LaneNotice>,
    last_sale: Option<u64>,
    /// Line numbers whose keys are in the store now.
    persisted: BTreeSet<u32>,
    /// Lines added or changed since the last flush.
    changed: BTreeSet<u32>,
    header_dirty: bool,
}

impl LaneState {
    fn dirty(&self) -> bool {
        self.header_dirty || !self.changed.is_empty() || self.persisted.iter().any(|n| self.cart.line(*n).is_none())
    }
}

/// Every configured lane with its cart.
pub struct Lanes {
    store: Arc<Store>,
    layouts: Vec<InStoreLayout>,
    max_lines: u32,
    lanes: HashMap<String, Mutex<LaneState>>,
    /// Per lane: bumped after every change to its cart.
    versions: HashMap<String, watch::Sender<u64>>,
}

fn line_key(lane: &str, line_no: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(lane.len() + 5);
    k.extend_from_slice(lane.as_bytes());
    k.push(0);
    k.extend_from_slice(&line_no.to_be_bytes());
    k
}

fn lines_prefix(lane: &str) -> Vec<u8> {
    let mut k = lane.as_bytes().to_vec();
    k.push(0);
    k
}

impl Lanes {
    /// The lanes named in config, each with the cart it had when the daemon stopped (or an empty
    /// one). `layouts` are the in-store barcode layouts (empty: the defaults).
    pub fn open(store: Arc<Store>, lane_ids: &[String], layouts: Vec<InStoreLayout>, max_lines: u32) -> Result<Arc<Lanes>, StoreError> {
        let layouts = if layouts.is_empty() { barcode::default_layouts() } else { layouts };
        // Cart changes are write-behind: make sure the newest are readable.
        store.read_barrier()?;
        let now = store.clock().now();
        let mut lanes = HashMap::new();
        for id in lane_ids {
            let cart = match store.get::<CartHeader>(TreeId::Sessions, id.as_bytes())? {
                Some(h) => {
                    let lines = store
                        .scan_prefix::<CartLine>(TreeId::Sessions, &lines_prefix(id))
                        .map(|r| r.map(|(_, l)| l))
                        .collect::<Result<Vec<_>, _>>()?;
                    Cart { lane: id.clone(), opened_at: h.opened_at, cashier: h.cashier, member_id: h.member_id, coupons: h.coupons, lines, next_line_no: h.next_line_no, overrides: h.overrides }
                }
                None => Cart::new(id, now),
            };
            let persisted = cart.lines.iter().map(|l| l.line_no).collect();
            lanes.insert(id.clone(), Mutex::new(LaneState { cart, scale: None, notice: None, last_sale: None, persisted, changed: BTreeSet::new(), header_dirty: false }));
        }
        let versions = lane_ids.iter().map(|id| (id.clone(), watch::Sender::new(0))).collect();
        let lanes = Arc::new(Lanes { store, layouts, max_lines, lanes, versions });
        let weak: Weak<Lanes> = Arc::downgrade(&lanes);
        // The flusher holds the lanes only while it writes; it ends when they are dropped.
        std::thread::Builder::new().name("storehub-carts".into()).spawn(move || loop {
            std::thread::sleep(FLUSH_EVERY);
            let Some(lanes) = weak.upgrade() else { return };
            if let Err(e) = lanes.flush() {
                tracing::error!(error = %e, "writing the carts failed; they are kept in memory and tried again");
            }
        })?;
        Ok(lanes)
    }

    /// Writes every changed cart (one write-behind commit per changed lane).
    pub fn flush(&self) -> Result<(), CheckoutError> {
        for m in self.lanes.values() {
            let mut state = m.lock().unwrap_or_else(|e| e.into_inner());
            if !state.dirty() {
                continue;
            }
            let st = &mut *state;
            let current: BTreeSet<u32> = st.cart.lines.iter().map(|l| l.line_no).collect();
            let cart = &st.cart;
            self.store.commit_write_behind(|tx| {
                for gone in st.persisted.difference(&current) {
                    tx.remove::<CheckoutError>(TreeId::Sessions, &line_key(&cart.lane, *gone))?;
                }
                if st.header_dirty {
                    put_header(tx, cart)?;
                }
                for n in st.changed.intersection(&current) {
                    if let Some(line) = cart.line(*n) {
                        tx.put(TreeId::Sessions, &line_key(&cart.lane, *n), line)?;
                    }
                }
                Ok(())
            })?;
            st.persisted = current;
            st.changed.clear();
            st.header_dirty = false;
        }
        Ok(())
    }

    fn lane(&self, lane: &str) -> Result<MutexGuard<'_, LaneState>, CheckoutError> {
        let m = self.lanes.get(lane).ok_or_else(|| CheckoutError::UnknownLane(lane.to_string()))?;
        Ok(m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Records a change of `lane` (the caller holds its state): sets or clears the notice and
    /// bumps the version, waking whoever watches the lane. Never blocks: a watch send only
    /// swaps a number under the channel's own short lock.
    fn changed(&self, lane: &str, state: &mut LaneState, notice: Option<LaneNotice>) {
        state.notice = notice;
        if let Some(v) = self.versions.get(lane) {
            v.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The lane's change counter: it moves after every change to the lane's cart (scan, add,
    /// weigh, quantity, removal, member, coupon, payment, void, sign in or out) and after a scan
    /// that added nothing (see [`LaneSnapshot::notice`]). Async code awaits `changed()` on it;
    /// a burst of changes wakes it once.
    pub fn watch(&self, lane: &str) -> Result<watch::Receiver<u64>, CheckoutError> {
        self.versions.get(lane).map(watch::Sender::subscribe).ok_or_else(|| CheckoutError::UnknownLane(lane.to_string()))
    }

    /// The lane's cart with its version and notice, all read under the lane's lock.
    pub fn snapshot(&self, lane: &str) -> Result<LaneSnapshot, CheckoutError> {
        let state = self.lane(lane)?;
        let version = self.versions.get(lane).map_or(0, |v| *v.borrow());
        let counting = crate::inventory::stocktake::lane_mode(&self.store, lane)?.map(|m| m.stocktake);
        Ok(LaneSnapshot { cart: state.cart.clone(), version, notice: state.notice.clone(), last_sale: state.last_sale, counting })
    }

    /// Lane ids, sorted.
    pub fn lane_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lanes.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// A copy of the lane's cart.
    pub fn cart(&self, lane: &str) -> Result<Cart, CheckoutError> {
        Ok(self.lane(lane)?.cart.clone())
    }

    /// A reading from the lane's scale (the device driver sends every one).
    pub fn scale_reading(&self, lane: &str, reading: ScaleReading) -> Result<(), CheckoutError> {
        self.lane(lane)?.scale = Some(reading);
        Ok(())
    }

    /// A scanned or typed barcode: GTIN, in-store price- or weight-embedded label. A scan that
    /// adds nothing leaves a [`LaneNotice`] for the cashier screen.
    pub fn scan(&self, lane: &str, code: &str) -> Result<ScanOutcome, CheckoutError> {
        let result = self.scan_inner(lane, code);
        let notice = match &result {
            Ok(ScanOutcome::Added { .. }) | Err(CheckoutError::UnknownLane(_)) => None,
            Ok(ScanOutcome::UnknownBarcode { code }) => Some(LaneNotice::UnknownBarcode { code: code.clone() }),
            Ok(ScanOutcome::NeedsWeight { sku, name_zh, name_en }) => Some(LaneNotice::NeedsWeight { sku: sku.clone(), name_zh: name_zh.clone(), name_en: name_en.clone() }),
            Ok(ScanOutcome::Counted { count: c }) => {
                Some(LaneNotice::Counted { stocktake: c.stocktake, sku: c.sku.clone(), name_zh: c.name_zh.clone(), name_en: c.name_en.clone(), counted: c.counted })
            }
            Err(e) => Some(LaneNotice::Refused { code: code.trim().to_string(), message: e.to_string() }),
        };
        if let Some(n) = notice {
            let mut state = self.lane(lane)?;
            self.changed(lane, &mut state, Some(n));
        }
        result
    }

    fn scan_inner(&self, lane: &str, code: &str) -> Result<ScanOutcome, CheckoutError> {
        let code = code.trim();
        if let Some(mode) = crate::inventory::stocktake::lane_mode(&self.store, lane)? {
            return self.count_scan(lane, code, &mode);
        }
        let decoded = barcode::decode(code, &self.layouts).map_err(|source| CheckoutError::Barcode { code: code.to_string(), source })?;
        let (lookup, how) = match &decoded {
            Barcode::Ean13 { gtin } | Barcode::Ean8 { gtin } | Barcode::Upca { gtin } => (CatalogCode::Gtin(gtin.clone()), None),
            Barcode::PriceEmbedded { item_code, price_fen, .. } => (CatalogCode::Plu(item_code.clone()), Some(AddHow::Label { price_fen: *price_fen })),
            Barcode::WeightEmbedded { item_code, weight_g, .. } => (CatalogCode::Plu(item_code.clone()), Some(AddHow::Grams(*weight_g))),
        };
        let Some(product) = catalog::product_by_code(&self.store, &lookup)? else {
            return Ok(ScanOutcome::UnknownBarcode { code: code.to_string() });
        };
        let how = match how {
            Some(h) => h,
            None if product.unit == Unit::Kg => {
                return Ok(ScanOutcome::NeedsWeight { sku: product.sku, name_zh: product.name_zh, name_en: product.name_en });
            }
            None => AddHow::Units(1),
        };
        let line = self.add(lane, &product, how, Some(code))?;
        Ok(ScanOutcome::Added { line })
    }

    /// Count mode: the code is counted into the lane's stocktake (one piece, or a weight label's
    /// grams) by the cashier signed in, else by the manager who started count mode.
    fn count_scan(&self, lane: &str, code: &str, mode: &crate::inventory::stocktake::LaneCount) -> Result<ScanOutcome, CheckoutError> {
        use crate::inventory::stocktake::{self, CountHow};
        let by = self.lane(lane)?.cart.cashier.clone().unwrap_or_else(|| mode.by.clone());
        let count = stocktake::count(&self.store, &self.layouts, mode.stocktake, code, CountHow::Add(None), &by).map_err(|e| match e {
            CommitError::Rejected(e) => CheckoutError::Stocktake(e),
            CommitError::Store(e) => CheckoutError::Store(e),
        })?;
        Ok(ScanOutcome::Counted { count })
    }

    /// Refuses selling on a lane in count mode.
    fn not_counting(&self, lane: &str) -> Result<(), CheckoutError> {
        match crate::inventory::stocktake::lane_mode(&self.store, lane)? {
            Some(m) => Err(CheckoutError::Counting { lane: lane.to_string(), stocktake: m.stocktake }),
            None => Ok(()),
        }
    }

    /// Tells whoever watches the lane that something beside its cart changed (count mode).
    pub fn touch(&self, lane: &str) -> Result<(), CheckoutError> {
        let mut state = self.lane(lane)?;
        self.changed(lane, &mut state, None);
        Ok(())
    }

    /// Adds `qty` pieces of a product found by sku (typed or picked from a search).
    pub fn add_sku(&self, lane: &str, sku: &str, qty: i64) -> Result<CartLine, CheckoutError> {
        let product = catalog::product(&self.store, sku)?.ok_or_else(|| CheckoutError::UnknownSku(sku.to_string()))?;
        self.add(lane, &product, AddHow::Units(qty), None)
    }

    /// Adds a weighed product at the lane scale's current stable weight.
    pub fn add_weighed(&self, lane: &str, sku: &str) -> Result<CartLine, CheckoutError> {
        let product = catalog::product(&self.store, sku)?.ok_or_else(|| CheckoutError::UnknownSku(sku.to_string()))?;
        if product.unit != Unit::Kg {
            return Err(CartError::NotWeighed { sku: product.sku }.into());
        }
        let grams = {
            let state = self.lane(lane)?;
            let now = self.store.clock().now();
            match state.scale {
                None => return Err(CheckoutError::NoWeight),
                Some(r) if now - r.at > WEIGHT_FRESH_FOR => return Err(CheckoutError::NoWeight),
                Some(r) if !r.stable || r.grams <= 0 => return Err(CheckoutError::UnstableWeight),
                Some(r) => r.grams,
            }
        };
        self.add(lane, &product, AddHow::Grams(grams), None)
    }

    fn add(&self, lane: &str, product: &Product, how: AddHow, code: Option<&str>) -> Result<CartLine, CheckoutError> {
        self.not_counting(lane)?;
        let mut state = self.lane(lane)?;
        let next_before = state.cart.next_line_no;
        let line_no = state.cart.add(product, how, code, self.max_lines)?;
        let line = state.cart.line(line_no).cloned().ok_or(CartError::NoSuchLine { line_no })?;
        state.header_dirty |= state.cart.next_line_no != next_before;
        state.changed.insert(line_no);
        self.changed(lane, &mut state, None);
        Ok(line)
    }

    /// Sets the number of pieces on a line.
    pub fn set_units(&self, lane: &str, line_no: u32, qty: i64) -> Result<CartLine, CheckoutError> {
        let mut state = self.lane(lane)?;
        state.cart.set_units(line_no, qty)?;
        let line = state.cart.line(line_no).cloned().ok_or(CartError::NoSuchLine { line_no })?;
        state.changed.insert(line_no);
        self.changed(lane, &mut state, None);
        Ok(line)
    }

    /// Removes one line (and its price override).
    pub fn remove_line(&self, lane: &str, line_no: u32) -> Result<CartLine, CheckoutError> {
        let mut state = self.lane(lane)?;
        let had_override = state.cart.override_of(line_no).is_some();
        let line = state.cart.remove(line_no)?;
        state.changed.remove(&line_no);
        state.header_dirty |= had_override;
        self.changed(lane, &mut state, None);
        Ok(line)
    }

    /// A manager's price override (改价) of one line: `by` (already checked to be allowed
    /// `Action::PriceOverride`) sets its price per piece or per kg below the list price, with a
    /// reason. Unlike other cart changes this is one durable commit: the cart header with the
    /// override and its audit entry, so the audit log never misses an override that priced a
    /// sale. Refused (nothing changed) on a label-priced line, a price not below list, no reason.
    pub fn override_price(&self, lane: &str, line_no: u32, price_fen: i64, by: &str, reason: &str) -> Result<super::cart::PriceOverride, CheckoutError> {
        self.not_counting(lane)?;
        let mut state = self.lane(lane)?;
        let mut cart = state.cart.clone();
        let o = cart.override_price(line_no, price_fen, by, reason, self.store.clock().now())?;
        // The reason is typed by hand, so it stays on the override (cart, sale, sale event) and
        // out of the append-only audit log, which holds no free text (`audit`'s contract).
        let line = cart.line(line_no).ok_or(CartError::NoSuchLine { line_no })?;
        let detail = format!(
            "{lane} line {line_no} {} {}: {} → {} fen{}{}",
            o.sku,
            line.name_zh,
            o.list_price_fen,
            o.price_fen,
            if matches!(line.qty, crate::domain::pricing::Quantity::Grams(_)) { "/kg" } else { "" },
            o.cashier.as_deref().map(|c| format!(" (cashier {c})")).unwrap_or_default()
        );
        self.store.commit(|tx| {
            put_header(tx, &cart)?;
            crate::audit::record_tx::<CheckoutError>(tx, by, crate::audit::AuditAction::PriceOverride, Some(&o.sku), &detail)
        })?;
        state.cart = cart;
        state.header_dirty = false;
        self.changed(lane, &mut state, None);
        Ok(o)
    }

    /// A cashier signs in on the lane (after `staff::login_pin`); the lane's sales are theirs.
    pub fn sign_in(&self, lane: &str, cashier: &crate::staff::StaffRef) -> Result<(), CheckoutError> {
        self.set_header(lane, |c| c.cashier = Some(cashier.id.clone()))
    }

    /// The cashier leaves the lane.
    pub fn sign_out(&self, lane: &str) -> Result<(), CheckoutError> {
        self.set_header(lane, |c| c.cashier = None)
    }

    fn set_header(&self, lane: &str, change: impl FnOnce(&mut Cart)) -> Result<(), CheckoutError> {
        let mut state = self.lane(lane)?;
        change(&mut state.cart);
        state.header_dirty = true;
        self.changed(lane, &mut state, None);
        Ok(())
    }

    /// Prices the lane's cart as it stands (what the cashier screen shows), for its member and
    /// with its coupons, through a commit that writes nothing.
    pub fn quote(&self, lane: &str, rules: &super::sale::SaleRules) -> Result<crate::domain::pricing::PricedBasket, CheckoutError> {
        let cart = self.cart(lane)?;
        self.quote_cart(&cart, rules)
    }

    /// Prices a copy of a cart (e.g. from [`Lanes::snapshot`]) as [`Lanes::quote`] does.
    pub fn quote_cart(&self, cart: &Cart, rules: &super::sale::SaleRules) -> Result<crate::domain::pricing::PricedBasket, CheckoutError> {
        Ok(self.store.commit(|tx| super::sale::price_cart_tx(tx, cart, rules).map(|p| p.priced))?)
    }

    /// The shopper shows their member card, QR code or phone number.
    pub fn attach_member(&self, lane: &str, query: &str) -> Result<crate::members::Member, CheckoutError> {
        let member = crate::members::find(&self.store, query)?.ok_or_else(|| CheckoutError::NoMember(query.trim().to_string()))?;
        self.set_header(lane, |c| c.member_id = Some(member.id))?;
        Ok(member)
    }

    /// The member is taken off the sale (and with them their coupons).
    pub fn detach_member(&self, lane: &str) -> Result<(), CheckoutError> {
        self.set_header(lane, |c| {
            c.member_id = None;
            c.coupons.clear();
        })
    }

    /// A coupon handed over (checked for owner and validity when the cart is priced).
    pub fn add_coupon(&self, lane: &str, code: &str) -> Result<(), CheckoutError> {
        let code = code.trim().to_string();
        crate::domain::coupon_code::parse_coupon_code(&code).map_err(|source| CheckoutError::Coupon(crate::coupons::CouponError::BadCode { code: code.clone(), source }))?;
        self.set_header(lane, |c| {
            if !c.coupons.contains(&code) {
                c.coupons.push(code.clone());
            }
        })
    }

    /// A coupon handed over at the cashier screen, checked now (code, owner, dates, state,
    /// template) against the lane's member as [`add_coupon`](Self::add_coupon) leaves to the
    /// pricing: a refused coupon never enters the cart. Returns the coupon's code as stored.
    pub fn add_coupon_checked(&self, lane: &str, code: &str, rules: &super::sale::SaleRules) -> Result<String, CheckoutError> {
        let code = code.trim().to_string();
        let mut state = self.lane(lane)?;
        let member_id = state.cart.member_id;
        let today = rules.loyalty.today(self.store.clock().now());
        let coupon = self.store.commit(|tx| crate::coupons::check_for_sale_tx(tx, &code, member_id, today).map_err(|e| e.map_rejected(CheckoutError::Coupon)))?.0;
        if !state.cart.coupons.contains(&coupon.code) {
            state.cart.coupons.push(coupon.code.clone());
        }
        state.header_dirty = true;
        self.changed(lane, &mut state, None);
        Ok(coupon.code)
    }

    /// A coupon taken back.
    pub fn remove_coupon(&self, lane: &str, code: &str) -> Result<(), CheckoutError> {
        self.set_header(lane, |c| c.coupons.retain(|x| x != code.trim()))
    }

    /// The shopper pays: one durable commit of the whole sale (see `checkout::sale`). On success
    /// the lane starts an empty cart with the same cashier signed in.
    pub fn pay(&self, lane: &str, req: &super::sale::PayRequest, rules: &super::sale::SaleRules) -> Result<super::sale::Sale, CheckoutError> {
        self.not_counting(lane)?;
        let mut state = self.lane(lane)?;
        let cart = state.cart.clone();
        let persisted = state.persisted.clone();
        let sale = self.store.commit(|tx| {
            let sale = super::sale::commit_sale_tx(tx, &cart, req, rules)?;
            // Lines removed from the cart but not yet flushed go too.
            for n in &persisted {
                tx.remove::<CheckoutError>(TreeId::Sessions, &line_key(lane, *n))?;
            }
            let mut next = Cart::new(lane, tx.now());
            next.cashier = cart.cashier.clone();
            put_header(tx, &next)?;
            Ok(sale)
        })?;
        let mut next = Cart::new(lane, sale.at);
        next.cashier = cart.cashier;
        state.cart = next;
        state.persisted.clear();
        state.changed.clear();
        state.header_dirty = false;
        state.last_sale = Some(sale.id);
        self.changed(lane, &mut state, None);
        Ok(sale)
    }

    /// Empties the cart (the shopper walks away); returns what it held. A cart with lines is
    /// cleared in one durable commit that also records the void ([`CartVoid`], `TreeId::Voids`)
    /// and emits `storehub.sale.voided`, so the cashier report counts it; an empty cart (a member
    /// or coupons only) is just reset, like any other cart change.
    pub fn void(&self, lane: &str) -> Result<Cart, CheckoutError> {
        let mut state = self.lane(lane)?;
        let old = state.cart.clone();
        if old.is_empty() {
            let mut fresh = Cart::new(lane, self.store.clock().now());
            fresh.cashier = old.cashier.clone();
            state.cart = fresh;
            state.changed.clear();
            state.header_dirty = true;
            self.changed(lane, &mut state, None);
            return Ok(old);
        }
        let persisted = state.persisted.clone();
        let value_fen = list_value_fen(&old);
        let fresh = self.store.commit(|tx| {
            let id = tx.next_seq(TreeId::Voids)?;
            let void = CartVoid {
                id,
                lane: lane.to_string(),
                cashier: old.cashier.clone(),
                member_id: old.member_id,
                opened_at: old.opened_at,
                at: tx.now(),
                lines: u32::try_from(old.lines.len()).unwrap_or(u32::MAX),
                value_fen,
            };
            for n in &persisted {
                tx.remove::<CheckoutError>(TreeId::Sessions, &line_key(lane, *n))?;
            }
            let mut next = Cart::new(lane, tx.now());
            next.cashier = old.cashier.clone();
            put_header(tx, &next)?;
            tx.put(TreeId::Voids, &crate::store::codec::u64_key(id), &void)?;
            tx.emit(EVENT_SALE_VOIDED, Some(lane), &void)?;
            Ok(next)
        })?;
        state.cart = fresh;
        state.persisted.clear();
        state.changed.clear();
        state.header_dirty = false;
        self.changed(lane, &mut state, None);
        Ok(old)
    }
}

impl Drop for Lanes {
    /// A clean stop writes what the flusher has not yet.
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "writing the carts at stop failed");
        }
    }
}

fn put_header(tx: &Tx, cart: &Cart) -> Result<(), TxError<CheckoutError>> {
    let header = CartHeader {
        opened_at: cart.opened_at,
        cashier: cart.cashier.clone(),
        member_id: cart.member_id,
        coupons: cart.coupons.clone(),
        next_line_no: cart.next_line_no,
        overrides: cart.overrides.clone(),
    };
    tx.put(TreeId::Sessions, cart.lane.as_bytes(), &header)
}

/// Deletes a cart's persisted header and lines (voided, or paid inside the sale's commit).
pub fn clear_cart_tx<E>(tx: &Tx, cart: &Cart) -> Result<(), TxError<E>> {
    tx.remove(TreeId::Sessions, cart.lane.as_bytes())?;
    for l in &cart.lines {
        tx.remove(TreeId::Sessions, &line_key(&cart.lane, l.line_no))?;
    }
    Ok(())
}

/// What a lane's devices send: scans from the scanner, readings from the scale. The device
/// drivers (a later part) hold a [`LaneEvents`] sender; tests and the CLI call [`Lanes`]
/// directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LaneEvent {
    Scanned { code: String },
    Weighed(ScaleReading),
}

/// The result of one event, for whoever shows the lane (cashier screen, customer display).
#[derive(Debug)]
pub struct LaneUpdate {
    pub lane: String,
    pub event: LaneEvent,
    /// A scan's outcome, or why the event was refused; `None` for a scale reading.
    pub outcome: Option<Result<ScanOutcome, String>>,
}

/// The typed channel into the lanes: events go in on a bounded channel (a scanner that floods
/// it waits, memory stays bounded), one thread applies them in order, and each result comes out
/// on `updates`.
pub struct LaneEvents {
    pub sender: std::sync::mpsc::SyncSender<(String, LaneEvent)>,
    pub updates: std::sync::mpsc::Receiver<LaneUpdate>,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// Events waiting per channel before a sender blocks.
const EVENT_QUEUE: usize = 256;

impl LaneEvents {
    /// Starts the thread that applies events to `lanes`. It stops when every sender is dropped.
    pub fn start(lanes: Arc<Lanes>) -> LaneEvents {
        let (sender, events) = std::sync::mpsc::sync_channel::<(String, LaneEvent)>(EVENT_QUEUE);
        let (tx, updates) = std::sync::mpsc::sync_channel(EVENT_QUEUE);
        let worker = std::thread::spawn(move || {
            for (lane, event) in events {
                let outcome = match &event {
                    LaneEvent::Scanned { code } => Some(lanes.scan(&lane, code).map_err(|e| e.to_string())),
                    LaneEvent::Weighed(r) => lanes.scale_reading(&lane, *r).err().map(|e| Err(e.to_string())),
                };
                // Nobody listening is fine: the cart changed either way.
                let _ = tx.try_send(LaneUpdate { lane, event, outcome });
            }
        });
        LaneEvents { sender, updates, worker: Some(worker) }
    }

    /// Closes the channel and waits for the events already sent to be applied.
    pub fn close(mut self) {
        let LaneEvents { sender, worker, .. } = &mut self;
        let (dead, _) = std::sync::mpsc::sync_channel(0);
        drop(std::mem::replace(sender, dead));
        if let Some(w) = worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Product, Unit};
    use crate::store::{Durability, StoreOptions};

    fn shop() -> (tempfile::TempDir, Arc<Lanes>) {
        let dir = tempfile::tempdir().unwrap();
        let clock = crate::clock::ManualClock::new(DateTime::from_timestamp(1_795_597_200, 0).unwrap());
        let opts = StoreOptions { path: dir.path().to_path_buf(), durability: Durability::Durable, relaxed_flush_ms: 50, source: Some("/storehub/t/s/h".into()), clock: Arc::new(clock) };
        let store = Arc::new(Store::open(opts).unwrap());
        let water = Product {
            sku: "SKU-010001".into(),
            barcodes: vec!["6907674936533".into()],
            name_zh: "农夫山泉 550ml".into(),
            name_en: "Nongfu Spring 550ml".into(),
            category: "饮料".into(),
            unit: Unit::Piece,
            price_fen: 200,
            member_price_fen: None,
            cost_fen: None,
            tax_bp: 1300,
            supplier: None,
            reorder_point: None,
            active: true,
        };
        let bananas = Product { sku: "SKU-020001".into(), barcodes: vec!["6901234567892".into()], name_zh: "香蕉".into(), name_en: "Bananas".into(), unit: Unit::Kg, ..water.clone() };
        crate::catalog::upsert_products(&store, &[water, bananas], 100, |_| {}).unwrap();
        let lanes = Lanes::open(store, &["lane-1".into(), "lane-2".into()], Vec::new(), 300).unwrap();
        (dir, lanes)
    }

    #[test]
    fn a_scan_bumps_the_lane_version_and_wakes_its_watcher_only() {
        let (_dir, lanes) = shop();
        let mut one = lanes.watch("lane-1").unwrap();
        let two = lanes.watch("lane-2").unwrap();
        assert_eq!(*one.borrow_and_update(), 0);
        lanes.scan("lane-1", "6907674936533").unwrap();
        assert!(one.has_changed().unwrap(), "the scan woke lane-1's watcher");
        assert_eq!(*one.borrow_and_update(), 1);
        assert!(!two.has_changed().unwrap(), "lane-2 did not change");
        // A second scan merges into line 1 and still counts as a change; the snapshot agrees.
        lanes.scan("lane-1", "6907674936533").unwrap();
        let snap = lanes.snapshot("lane-1").unwrap();
        assert_eq!((snap.version, snap.cart.lines.len(), snap.notice), (2, 1, None));
        assert!(matches!(lanes.watch("lane-9"), Err(CheckoutError::UnknownLane(_))));
    }

    #[test]
    fn a_scan_that_adds_nothing_leaves_a_notice_until_the_next_change() {
        let (_dir, lanes) = shop();
        assert!(matches!(lanes.scan("lane-1", "6900000000014").unwrap(), ScanOutcome::UnknownBarcode { .. }));
        let snap = lanes.snapshot("lane-1").unwrap();
        assert_eq!(snap.version, 1);
        assert_eq!(snap.notice, Some(LaneNotice::UnknownBarcode { code: "6900000000014".into() }));
        lanes.scan("lane-1", "6901234567892").unwrap();
        assert!(matches!(lanes.snapshot("lane-1").unwrap().notice, Some(LaneNotice::NeedsWeight { .. })));
        assert!(lanes.scan("lane-1", "12x").is_err());
        assert!(matches!(lanes.snapshot("lane-1").unwrap().notice, Some(LaneNotice::Refused { .. })));
        lanes.add_sku("lane-1", "SKU-010001", 2).unwrap();
        let snap = lanes.snapshot("lane-1").unwrap();
        assert_eq!((snap.version, snap.notice), (4, None));
        // Member, coupon, void and sign-in change it too.
        lanes.remove_coupon("lane-1", "X").unwrap();
        lanes.void("lane-1").unwrap();
        lanes.sign_out("lane-1").unwrap();
        assert_eq!(lanes.snapshot("lane-1").unwrap().version, 7);
    }
}
