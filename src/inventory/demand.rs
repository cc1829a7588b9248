//! Daily demand per SKU, the input of every forecast: units (or grams) sold per shop-local day,
//! returns netted, with a flag byte per day saying whether the day's figure can be trusted as
//! demand (a stock-out day sold less than was wanted; a promotion or member day sold more than
//! usual).
//!
//! The series is packed per SKU in one record (`TreeId::DemandSeries`), appended by the daily
//! rollup from the stock ledger, so the nightly forecast of 20 000 SKUs reads 20 000 records
//! instead of every sale of two years.
//!
//! The rollup ([`rollup`]) walks the ledger (`TreeId::Moves`, ids in time order) from a cursor
//! in `meta` (`demand_rollup`: the last move id rolled up and the last shop-local day closed),
//! committed with the series it produced, one commit per day of moves (a day of more than
//! 20 000 moves is split), so it resumes where it stopped and running it again for a day
//! changes nothing. A `Sale` move adds its quantity to its shop-local day, a `Return` takes it
//! off the day of the return; a day is never below 0 (clamped when its commit is written). Days
//! without moves between two written days are written as 0; days after a SKU's last written
//! day are padded by the reader ([`window`], [`daily`]) up to the last closed day.
//!
//! Flags: STOCKOUT when on hand was ≤ 0 at the start of the day or fell to ≤ 0 during it (also
//! every day without moves while it stays ≤ 0, in the rollup's gap days and in the reader's
//! padding, from `end_on_hand`); PROMOTION when a sale line of the SKU that day carried a
//! promotion's line discount or a share of a promotion's ticket discount (the sale is read by
//! the move's reference, its receipt number); MEMBER_DAY on the loyalty member day's weekday
//! (written days only: a padded day sold nothing, so there is no spike to discount).
//!
//! Revenue: each day also carries its net revenue in fen (the sold lines' net amounts, minus
//! the refunds of returns booked back into stock that day), so every ABC classification reads
//! one figure: the replenishment run's service levels and the stock analysis alike.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::checkout::returns::SaleReturn;
use crate::checkout::sale::Sale;
use crate::domain::pricing::DiscountSource;
use crate::domain::stock::MoveKind;
use crate::store::{codec, Record, Store, StoreError, TreeId};

use super::StockMove;

/// Bits of a day's flag byte.
pub mod flags {
    /// On hand was zero or below at some point of the day: sales were cut short.
    pub const STOCKOUT: u8 = 1;
    /// A promotion lowered the SKU's price that day.
    pub const PROMOTION: u8 = 2;
    /// A member day (points multiplier) ran that day.
    pub const MEMBER_DAY: u8 = 4;
}

/// One SKU's daily demand, oldest day first: `qty[i]`, `flags[i]` and `revenue_fen[i]` belong
/// to `first_day + i`. Days without sales are 0. Quantities are in the product's stock unit
/// (pieces, or grams for weighed goods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemandSeries {
    pub sku: String,
    pub first_day: NaiveDate,
    pub qty: Vec<i64>,
    pub flags: Vec<u8>,
    /// On hand at the end of the last day written (`None`: unknown, e.g. a series written by
    /// hand or by version 1): the reader flags padded days as stock-outs when it is ≤ 0.
    pub end_on_hand: Option<i64>,
    /// Net revenue of the day, fen: the sale lines' net amounts (after every discount) minus the
    /// refunds of returns that came back into stock that day, never below 0. Both ABC
    /// classifications (the replenishment run's service levels and the stock analysis) read it.
    /// Days written before version 3 have 0.
    pub revenue_fen: Vec<i64>,
}
impl Record for DemandSeries {
    const VERSION: u8 = 3;
    const NAME: &'static str = "demand series";

    fn upgrade(version: u8, bytes: &[u8]) -> Result<Self, StoreError> {
        let mut s: DemandSeries = match version {
            1 => codec::upgrade_by_appending(bytes, &(None::<i64>, Vec::<i64>::new()))?,
            2 => codec::upgrade_by_appending(bytes, &(Vec::<i64>::new(),))?,
            _ => return Err(StoreError::Corrupt(format!("demand series record has version tag {version}, this build reads 1 to 3"))),
        };
        s.revenue_fen.resize(s.qty.len(), 0);
        Ok(s)
    }
}

impl DemandSeries {
    /// A series of given days (on hand at its end unknown).
    pub fn new(sku: &str, first_day: NaiveDate, qty: Vec<i64>, flags: Vec<u8>) -> DemandSeries {
        let revenue_fen = vec![0; qty.len()];
        DemandSeries { sku: sku.to_string(), first_day, qty, flags, end_on_hand: None, revenue_fen }
    }

    /// Net revenue of the series' last `days` days, fen.
    pub fn revenue_of_last(&self, days: usize) -> i64 {
        self.revenue_fen.iter().rev().take(days).fold(0i64, |a, &r| a.saturating_add(r.max(0)))
    }

    /// The newest day in the series (`None` when empty).
    pub fn last_day(&self) -> Option<NaiveDate> {
        let n = self.qty.len();
        if n == 0 {
            return None;
        }
        self.first_day.checked_add_days(chrono::Days::new(n as u64 - 1))
    }

    /// Whether day `i` is censored for forecasting: a stock-out, promotion or member day.
    pub fn censored(&self) -> Vec<bool> {
        self.flags.iter().map(|&f| f & (flags::STOCKOUT | flags::PROMOTION | flags::MEMBER_DAY) != 0).collect()
    }
}

/// One SKU's series as stored (not padded).
pub fn series(store: &Store, sku: &str) -> Result<Option<DemandSeries>, StoreError> {
    store.get::<DemandSeries>(TreeId::DemandSeries, sku.as_bytes())
}

/// Every SKU's series as stored, by sku.
pub fn all_series(store: &Store) -> Result<Vec<DemandSeries>, StoreError> {
    store.scan::<DemandSeries>(TreeId::DemandSeries).map(|r| r.map(|(_, s)| s)).collect()
}

/// Where the rollup stands (`meta` `demand_rollup`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupCursor {
    /// Id of the last stock move rolled up (0: none).
    pub last_move: u64,
    /// Last shop-local day whose moves are all rolled up.
    pub closed_through: Option<NaiveDate>,
}
impl Record for RollupCursor {
    const NAME: &'static str = "demand rollup cursor";
}

/// `meta` key of the rollup cursor.
pub const CURSOR_KEY: &[u8] = b"demand_rollup";

/// Moves per commit at most (a day is split only when it has more).
const MAX_MOVES_PER_COMMIT: usize = 20_000;

/// The rollup's cursor (default: nothing rolled up).
pub fn cursor(store: &Store) -> Result<RollupCursor, StoreError> {
    Ok(store.get::<RollupCursor>(TreeId::Meta, CURSOR_KEY)?.unwrap_or_default())
}

/// What one rollup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupSummary {
    /// Moves read and rolled up.
    pub moves: u64,
    /// Series written (a SKU written in two commits counts twice).
    pub series_written: u64,
    pub commits: u32,
    /// Last closed day afterwards.
    pub closed_through: Option<NaiveDate>,
}

/// Why a rollup stopped (what it committed before stays; it resumes from there).
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another rollup committed while this one ran (its last batch was not written).
    #[error("another demand rollup committed while this one ran; this one's last batch was not written, run it again")]
    Raced,
}

/// The loyalty rules' member day, as the rollup wants it.
pub fn member_day_of(loyalty: &crate::members::LoyaltyRules) -> Option<Weekday> {
    loyalty.earn.member_day.as_ref().map(|m| m.weekday)
}

fn day_flags(day: NaiveDate, on_hand_start: Option<i64>, member_day: Option<Weekday>) -> u8 {
    let mut f = 0;
    if on_hand_start.is_some_and(|h| h <= 0) {
        f |= flags::STOCKOUT;
    }
    if member_day == Some(day.weekday()) {
        f |= flags::MEMBER_DAY;
    }
    f
}

/// Appends days (0 demand, flags from the on hand carried over) until `day` is the last day.
fn extend_to(s: &mut DemandSeries, day: NaiveDate, member_day: Option<Weekday>) {
    loop {
        let next = match s.last_day() {
            None => s.first_day,
            Some(last) if last >= day => return,
            Some(last) => match last.succ_opt() {
                Some(d) => d,
                None => return,
            },
        };
        s.qty.push(0);
        s.flags.push(day_flags(next, s.end_on_hand, member_day));
        s.revenue_fen.push(0);
    }
}

/// The sale line that move `m` sold (by the move's position in the sale, else the first line of
/// its SKU).
fn line_of<'a>(sale: &'a Sale, m: &StockMove) -> Option<&'a crate::domain::pricing::PricedLine> {
    match sale.stock_moves.iter().position(|&id| id == m.id).and_then(|i| sale.priced.lines.get(i)) {
        Some(line) if line.sku == m.sku => Some(line),
        // Lines not in move order: a line of the SKU.
        _ => sale.priced.lines.iter().find(|l| l.sku == m.sku),
    }
}

/// Whether the sale line of move `m` carried a promotion (line discount or ticket share).
fn promoted(sale: &Sale, m: &StockMove) -> bool {
    let is_promo = |d: &crate::domain::pricing::Discount| matches!(d.source, DiscountSource::Promotion(_));
    let line_promoted = |l: &crate::domain::pricing::PricedLine| l.line_discounts.iter().chain(&l.ticket_shares).any(is_promo);
    match sale.stock_moves.iter().position(|&id| id == m.id).and_then(|i| sale.priced.lines.get(i)) {
        Some(line) if line.sku == m.sku => line_promoted(line),
        // Lines not in move order: any line of the SKU.
        _ => sale.priced.lines.iter().filter(|l| l.sku == m.sku).any(line_promoted),
    }
}

/// The refund of return move `m` (reference `return <id>`), fen; 0 when the return is gone.
fn refund_of(store: &Store, m: &StockMove) -> Result<i64, StoreError> {
    let Some(id) = m.reference.as_deref().and_then(|r| r.strip_prefix("return ")).and_then(|n| n.parse::<u64>().ok()) else {
        return Ok(0);
    };
    let Some(ret) = store.get::<SaleReturn>(TreeId::Returns, &codec::u64_key(id))? else {
        return Ok(0);
    };
    Ok(ret.lines.iter().filter(|l| l.stock_move == Some(m.id)).map(|l| l.refund_fen).sum())
}

/// The sale a move's reference names (`<lane>-<id>`), if it still exists.
fn sale_of(store: &Store, cache: &mut HashMap<u64, Option<Sale>>, m: &StockMove) -> Result<Option<Sale>, StoreError> {
    let Some(id) = m.reference.as_deref().and_then(|r| r.rsplit('-').next()).and_then(|n| n.parse::<u64>().ok()) else {
        return Ok(None);
    };
    if let Some(s) = cache.get(&id) {
        return Ok(s.clone());
    }
    let sale = store.get::<Sale>(TreeId::Sales, &codec::u64_key(id))?;
    cache.insert(id, sale.clone());
    Ok(sale)
}

/// Rolls the ledger up into the daily series through shop-local day `through` (normally
/// yesterday). Moves are read from the cursor on, in id order, until the first move of a day
/// after `through`. A move dated before the cursor's closed day (a clock set back) counts on the
/// first open day. Idempotent: a second run for the same day reads nothing and writes nothing.
pub fn rollup(store: &Store, tz: chrono_tz::Tz, member_day: Option<Weekday>, through: NaiveDate) -> Result<RollupSummary, RollupError> {
    // One rollup at a time in this process (the daemon's run, a web or CLI run); each commit
    // also checks that the cursor is still the one it started from.
    static RUNNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = cursor(store)?;
    let mut expected = start;
    let mut summary = RollupSummary { closed_through: start.closed_through, ..RollupSummary::default() };
    if start.closed_through.is_some_and(|c| c >= through) {
        return Ok(summary);
    }
    let first_open = start.closed_through.and_then(|c| c.succ_opt());
    let mut batch: BTreeMap<String, DemandSeries> = BTreeMap::new();
    let mut sales: HashMap<u64, Option<Sale>> = HashMap::new();
    let mut last_move = start.last_move;
    let mut batch_moves = 0usize;
    let mut batch_day: Option<NaiveDate> = None;
    for item in store.range_from(TreeId::Moves, &codec::u64_key(start.last_move.saturating_add(1))) {
        let (_, v) = item?;
        let m: StockMove = codec::decode(&v)?;
        let local = crate::clock::local(m.at, tz).date();
        let day = first_open.map_or(local, |f| local.max(f));
        if day > through {
            break;
        }
        if batch_moves > 0 && (batch_day != Some(day) || batch_moves >= MAX_MOVES_PER_COMMIT) {
            let next = RollupCursor { last_move, closed_through: start.closed_through };
            write_batch(store, &mut batch, expected, next, &mut summary)?;
            expected = next;
            sales.clear();
            batch_moves = 0;
        }
        let s = match batch.get_mut(&m.sku) {
            Some(s) => s,
            None => {
                let loaded = series(store, &m.sku)?.unwrap_or_else(|| DemandSeries {
                    sku: m.sku.clone(),
                    first_day: day,
                    qty: Vec::new(),
                    flags: Vec::new(),
                    end_on_hand: Some(m.on_hand_after.saturating_sub(m.delta)),
                    revenue_fen: Vec::new(),
                });
                batch.entry(m.sku.clone()).or_insert(loaded)
            }
        };
        // A clock set back cannot put a move before the series' last day.
        let day = s.last_day().map_or(day, |l| l.max(day));
        extend_to(s, day, member_day);
        let i = s.qty.len() - 1;
        match m.kind {
            MoveKind::Sale | MoveKind::Return => s.qty[i] = s.qty[i].saturating_sub(m.delta),
            _ => {}
        }
        if m.on_hand_after <= 0 {
            s.flags[i] |= flags::STOCKOUT;
        }
        s.end_on_hand = Some(m.on_hand_after);
        match m.kind {
            MoveKind::Sale => {
                if let Some(sale) = sale_of(store, &mut sales, &m)? {
                    if let Some(line) = line_of(&sale, &m) {
                        s.revenue_fen[i] = s.revenue_fen[i].saturating_add(line.net_fen);
                    }
                    if s.flags[i] & flags::PROMOTION == 0 && promoted(&sale, &m) {
                        s.flags[i] |= flags::PROMOTION;
                    }
                }
            }
            MoveKind::Return => s.revenue_fen[i] = s.revenue_fen[i].saturating_sub(refund_of(store, &m)?),
            _ => {}
        }
        last_move = m.id;
        batch_moves += 1;
        batch_day = Some(day);
        summary.moves += 1;
    }
    write_batch(store, &mut batch, expected, RollupCursor { last_move, closed_through: Some(through) }, &mut summary)?;
    summary.closed_through = Some(through);
    Ok(summary)
}

/// Writes the batch's series (each day clamped at 0) with the cursor, in one commit, provided
/// the stored cursor is still `expected` (else nothing is written: another rollup got there
/// first, and this one's series would count its moves twice).
fn write_batch(store: &Store, batch: &mut BTreeMap<String, DemandSeries>, expected: RollupCursor, cur: RollupCursor, summary: &mut RollupSummary) -> Result<(), RollupError> {
    for s in batch.values_mut() {
        for q in s.qty.iter_mut().chain(s.revenue_fen.iter_mut()) {
            *q = (*q).max(0);
        }
    }
    store
        .commit(|tx| {
            let stored = tx.get::<RollupCursor, ()>(TreeId::Meta, CURSOR_KEY)?.unwrap_or_default();
            if stored != expected {
                return Err(crate::store::TxError::Rejected(()));
            }
            for s in batch.values() {
                tx.put::<DemandSeries, ()>(TreeId::DemandSeries, s.sku.as_bytes(), s)?;
            }
            tx.put::<RollupCursor, ()>(TreeId::Meta, CURSOR_KEY, &cur)
        })
        .map_err(|e| match e {
            crate::store::CommitError::Rejected(()) => RollupError::Raced,
            crate::store::CommitError::Store(e) => RollupError::Store(e),
        })?;
    summary.series_written += batch.len() as u64;
    summary.commits += 1;
    batch.clear();
    Ok(())
}

/// The series for days `from..=to`, padded: starts at the later of `from` and the SKU's first
/// day; days after the last written day up to `closed_through` (the rollup's last closed day)
/// are 0, flagged STOCKOUT when the on hand at the end of the last written day was ≤ 0. Days
/// after `closed_through` are not known yet and left out. `None` when the window is empty.
pub fn window(s: &DemandSeries, closed_through: Option<NaiveDate>, from: NaiveDate, to: NaiveDate) -> Option<DemandSeries> {
    let start = from.max(s.first_day);
    let end = match closed_through {
        Some(c) => to.min(c.max(s.last_day().unwrap_or(c))),
        None => to.min(s.last_day()?),
    };
    if start > end {
        return None;
    }
    let n = usize::try_from((end - start).num_days()).ok()? + 1;
    let offset = usize::try_from((start - s.first_day).num_days()).ok()?;
    let pad_flag = if s.end_on_hand.is_some_and(|h| h <= 0) { flags::STOCKOUT } else { 0 };
    let mut qty = Vec::with_capacity(n);
    let mut fl = Vec::with_capacity(n);
    let mut revenue_fen = Vec::with_capacity(n);
    for i in offset..offset + n {
        qty.push(s.qty.get(i).copied().unwrap_or(0));
        fl.push(s.flags.get(i).copied().unwrap_or(pad_flag));
        revenue_fen.push(s.revenue_fen.get(i).copied().unwrap_or(0));
    }
    Some(DemandSeries { sku: s.sku.clone(), first_day: start, qty, flags: fl, end_on_hand: s.end_on_hand, revenue_fen })
}

/// One SKU's daily demand for `from..=to` with its flags, padded to the last closed day (see
/// [`window`]). `None` when the SKU has no series or the window holds none of its days.
pub fn daily(store: &Store, sku: &str, from: NaiveDate, to: NaiveDate) -> Result<Option<DemandSeries>, StoreError> {
    let closed = cursor(store)?.closed_through;
    Ok(series(store, sku)?.and_then(|s| window(&s, closed, from, to)))
}

/// A series file for `storehub forecast --series-file`: `date,qty` rows (`YYYY-MM-DD`, a
/// quantity ≥ 0, decimals allowed; header line optional), dates strictly increasing; days
/// missing between two rows are zero demand. Every error names file, line and column (a date
/// twice, a date out of order, a bad date or number); nothing comes back then. Returns the first
/// day and one quantity per day.
pub fn parse_series_file(input: &[u8], file_name: &str) -> Result<(NaiveDate, Vec<f64>), crate::catalog::csv::CsvReport> {
    let rows = super::policy::read_csv(input, file_name, &["date", "qty"], &["date", "qty"], true)?;
    let mut report = crate::catalog::csv::CsvReport::new(file_name);
    let mut days: Vec<(u64, NaiveDate, f64)> = Vec::new();
    let mut seen: HashMap<NaiveDate, u64> = HashMap::new();
    for (line, v) in rows {
        let date = NaiveDate::parse_from_str(&v[0], "%Y-%m-%d").ok();
        if date.is_none() {
            report.push(line, Some("date"), format!("expected YYYY-MM-DD, got {:?}", v[0]));
        }
        let qty = v[1].parse::<f64>().ok().filter(|q| q.is_finite() && *q >= 0.0);
        if qty.is_none() {
            report.push(line, Some("qty"), format!("expected a quantity ≥ 0, got {:?}", v[1]));
        }
        let (Some(date), Some(qty)) = (date, qty) else { continue };
        if let Some(first) = seen.insert(date, line) {
            report.push(line, Some("date"), format!("{date} appears twice (first on line {first})"));
            continue;
        }
        if let Some(&(prev_line, prev, _)) = days.last() {
            if date < prev {
                report.push(line, Some("date"), format!("{date} comes after {prev} (line {prev_line}); sort the file by date"));
                continue;
            }
        }
        days.push((line, date, qty));
    }
    if days.is_empty() && report.error_count() == 0 {
        report.push(1, None, "no rows; expected date,qty lines".into());
    }
    if report.error_count() > 0 {
        return Err(report);
    }
    let first = days[0].1;
    let span = (days[days.len() - 1].1 - first).num_days();
    if span > 36_500 {
        report.push(days[days.len() - 1].0, Some("date"), format!("the file spans {span} days; at most 100 years"));
        return Err(report);
    }
    let mut qty = vec![0.0; usize::try_from(span).unwrap_or(0) + 1];
    for (_, d, q) in days {
        if let Some(slot) = usize::try_from((d - first).num_days()).ok().and_then(|i| qty.get_mut(i)) {
            *slot = q;
        }
    }
    Ok((first, qty))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::catalog::{Product, Unit};
    use crate::clock::ManualClock;
    use crate::inventory::{move_stock, NewMove};
    use chrono::Duration;

    /// A piece product at ¥2.00 (cost ¥1.20), no supplier.
    pub(crate) fn product(sku: &str) -> Product {
        Product {
            sku: sku.into(),
            barcodes: vec![],
            name_zh: "矿泉水".into(),
            name_en: "Water".into(),
            category: "饮料".into(),
            unit: Unit::Piece,
            price_fen: 200,
            member_price_fen: None,
            cost_fen: Some(120),
            tax_bp: 900,
            supplier: None,
            reorder_point: None,
            active: true,
        }
    }

    fn mv(store: &Store, sku: &str, kind: MoveKind, qty: i64) {
        move_stock(store, &NewMove { sku: sku.into(), kind, qty, reason: "test".into(), user: "t".into(), reference: None }).unwrap();
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Shanghai: 2026-11-02 is a Monday; the clock starts at 10:00 local that day.
    #[test]
    fn worked_days_sale_return_stockout_and_idempotent_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-02T02:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        crate::catalog::upsert_products(&store, &[product("W"), product("X")], 100, |_| {}).unwrap();
        let tz = chrono_tz::Asia::Shanghai;
        // Mon 11-02: receive 5, sell 2 then 1 → demand 3, on hand 2.
        mv(&store, "W", MoveKind::Receipt, 5);
        mv(&store, "W", MoveKind::Sale, 2);
        clock.advance(Duration::hours(13)); // 23:00 local, still Monday
        mv(&store, "W", MoveKind::Sale, 1);
        // Tue 11-03: return 1 (of Monday's), sell 3 → net 2; on hand 2 + 1 − 3 = 0: stock-out.
        clock.advance(Duration::hours(2)); // 01:00 Tuesday local
        mv(&store, "W", MoveKind::Return, 1);
        mv(&store, "W", MoveKind::Sale, 3);
        // Wed 11-04: nothing moves, on hand stays 0 → padded stock-out day.
        // Thu 11-05: a return of 2 and nothing sold → 0, never −2; on hand 2 (start 0: stock-out).
        clock.advance(Duration::days(2));
        mv(&store, "W", MoveKind::Return, 2);
        // Fri 11-06: sell 1 (not rolled up yet: the rollup closes Thursday).
        clock.advance(Duration::days(1));
        mv(&store, "W", MoveKind::Sale, 1);

        let sum = rollup(&store, tz, Some(Weekday::Tue), d("2026-11-05")).unwrap();
        assert_eq!(sum.moves, 6);
        assert_eq!(sum.closed_through, Some(d("2026-11-05")));
        let s = series(&store, "W").unwrap().unwrap();
        assert_eq!(s.first_day, d("2026-11-02"));
        assert_eq!(s.qty, vec![3, 2, 0, 0]);
        use flags::{MEMBER_DAY, STOCKOUT};
        // Monday started at 0 on hand (before the receipt): a stock-out day too.
        assert_eq!(s.flags, vec![STOCKOUT, STOCKOUT | MEMBER_DAY, STOCKOUT, STOCKOUT]);
        assert_eq!(s.end_on_hand, Some(2));
        let cur = cursor(&store).unwrap();
        assert_eq!(cur.last_move, 6);

        // Running it again for the same day changes nothing.
        let again = rollup(&store, tz, Some(Weekday::Tue), d("2026-11-05")).unwrap();
        assert_eq!(again.moves, 0);
        assert_eq!(series(&store, "W").unwrap().unwrap(), s);

        // Saturday: Friday's sale lands on Friday; Saturday is padded by the reader (on hand 1).
        rollup(&store, tz, None, d("2026-11-07")).unwrap();
        let w = daily(&store, "W", d("2026-11-01"), d("2026-11-09")).unwrap().unwrap();
        assert_eq!(w.first_day, d("2026-11-02"));
        assert_eq!(w.qty, vec![3, 2, 0, 0, 1, 0]);
        assert_eq!(w.flags[4..], [0, 0]);
        assert!(daily(&store, "X", d("2026-11-01"), d("2026-11-09")).unwrap().is_none(), "X never moved");
    }

    #[test]
    fn a_batch_is_not_written_when_the_cursor_moved() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new("2026-11-02T02:00:00Z".parse().unwrap());
        let store = crate::store::open_for_tests(dir.path(), &clock);
        let mut batch = BTreeMap::new();
        batch.insert("A".to_string(), DemandSeries::new("A", d("2026-11-01"), vec![1], vec![0]));
        let mut summary = RollupSummary::default();
        let moved = RollupCursor { last_move: 7, closed_through: None };
        let e = write_batch(&store, &mut batch, moved, RollupCursor { last_move: 9, closed_through: None }, &mut summary).unwrap_err();
        assert!(matches!(e, RollupError::Raced));
        assert!(series(&store, "A").unwrap().is_none());
        assert_eq!(cursor(&store).unwrap(), RollupCursor::default());
    }

    #[test]
    fn the_reader_flags_padded_days_while_on_hand_stays_at_zero() {
        let s = DemandSeries { end_on_hand: Some(0), ..DemandSeries::new("A", d("2026-01-01"), vec![4, 1], vec![0, flags::STOCKOUT]) };
        let w = window(&s, Some(d("2026-01-05")), d("2026-01-02"), d("2026-01-10")).unwrap();
        assert_eq!(w.first_day, d("2026-01-02"));
        assert_eq!(w.qty, vec![1, 0, 0, 0]);
        assert_eq!(w.flags, vec![flags::STOCKOUT; 4]);
        let s = DemandSeries { end_on_hand: Some(3), ..s };
        let w = window(&s, Some(d("2026-01-03")), d("2026-01-01"), d("2026-01-10")).unwrap();
        assert_eq!(w.flags, vec![0, flags::STOCKOUT, 0]);
        assert!(window(&s, Some(d("2026-01-03")), d("2026-01-04"), d("2026-01-10")).is_none());
    }

    #[test]
    fn series_files_fill_missing_days_and_name_bad_lines() {
        let (first, qty) = parse_series_file(b"date,qty\n2026-01-01,3\n2026-01-04,1.5\n", "s.csv").unwrap();
        assert_eq!(first, d("2026-01-01"));
        assert_eq!(qty, vec![3.0, 0.0, 0.0, 1.5]);
        // No header is fine too.
        assert_eq!(parse_series_file(b"2026-01-01,2\n2026-01-02,0\n", "s.csv").unwrap().1, vec![2.0, 0.0]);
        let e = parse_series_file(b"date,qty\n2026-01-02,1\n2026-01-02,2\n2026-01-01,1\n2026-01-05,-1\n2026-13-01,1\n", "s.csv").unwrap_err().to_string();
        assert_eq!(
            e,
            "s.csv:3: date: 2026-01-02 appears twice (first on line 2)\n\
             s.csv:4: date: 2026-01-01 comes after 2026-01-02 (line 2); sort the file by date\n\
             s.csv:5: qty: expected a quantity ≥ 0, got \"-1\"\n\
             s.csv:6: date: expected YYYY-MM-DD, got \"2026-13-01\""
        );
    }

    #[test]
    fn version_1_records_are_upgraded() {
        #[derive(Serialize)]
        struct V1<'a> {
            sku: &'a str,
            first_day: NaiveDate,
            qty: Vec<i64>,
            flags: Vec<u8>,
        }
        let mut bytes = vec![1u8];
        bytes.extend(postcard::to_allocvec(&V1 { sku: "A", first_day: d("2026-01-01"), qty: vec![2], flags: vec![0] }).unwrap());
        let s: DemandSeries = codec::decode(&bytes).unwrap();
        assert_eq!(s, DemandSeries::new("A", d("2026-01-01"), vec![2], vec![0]));

        // Version 2 added the end-of-day on hand; its days read back with revenue 0.
        let mut v2 = vec![2u8];
        v2.extend(postcard::to_allocvec(&(V1 { sku: "A", first_day: d("2026-01-01"), qty: vec![2, 3], flags: vec![0, 0] }, Some(4i64))).unwrap());
        let s: DemandSeries = codec::decode(&v2).unwrap();
        assert_eq!((s.end_on_hand, s.revenue_fen), (Some(4), vec![0, 0]));
    }
}
