//! Members' purchase history: rows imported from an old till (`storehub import transactions`,
//! stored in `TreeId::History`) and the reader that gives analytics every member's purchases —
//! member sales with their returns netted, plus imported rows — up to a shop-local date.
//!
//! Imported rows count for RFM and the models, never for stock or points; for tiers only when
//! asked (`--count-for-tiers`, see [`import_history`]). The file is checked
//! whole (format, then every `member_ref` against the store) before anything is written, so a
//! bad file writes nothing; every error names file, line and column.
//!
//! # Format
//!
//! UTF-8 (BOM allowed), comma-separated, lines ended by LF, CRLF or a lone CR (old Excel on
//! macOS), line 1 a header naming these columns once each, in any
//! order (ASCII case ignored; an unknown column is an error):
//!
//! | column | required | value |
//! |---|---|---|
//! | `member_ref` | yes | the member's phone (any accepted spelling), card number or QR payload, or the member id (1–10 digits); must name an existing member |
//! | `date` | yes | `YYYY-MM-DD` (a shop-local day) or RFC 3339 (converted to the shop's day); not after today |
//! | `amount_fen` | yes | integer fen paid, 0 to 9999999999 |
//! | `category` | no | category id, up to 32 characters |
//! | `sku` | no | up to 64 characters |
//! | `qty` | no | integer > 0 |
//!
//! Blank rows are skipped. Several rows of one member on one day are one purchase occasion for
//! the analytics (`domain::rfm::occasions`).
//!
//! # Importing again
//!
//! The import remembers each file's SHA-256 ([`ImportedFile`], written with its last rows); the
//! same bytes imported again, under any name, are refused with the earlier import's name, time
//! and row ids, and nothing is stored. A changed file is a new file and all its rows are stored:
//! to add purchases made since an import, export (or cut) a file holding only the new rows.
//!
//! # Packed per member
//!
//! Each row is also appended, in the same commit, to its member's [`PackedHistory`]
//! (`TreeId::HistoryByMember`): the analytics read one record per member instead of one per row.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::pricing::DiscountSource;
use crate::domain::rfm::Occasion;
use super::MemberError;
use crate::store::{codec, CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// One file of history was imported (data: [`HistoryImported`]).
pub const EVENT_HISTORY_IMPORTED: &str = "storehub.member.history_imported";

/// The columns; the first three are required.
pub const COLUMNS: [&str; 6] = ["member_ref", "date", "amount_fen", "category", "sku", "qty"];
/// Largest amount of one row: ¥99,999,999.99.
pub const MAX_AMOUNT_FEN: i64 = 9_999_999_999;
/// Rows per store commit.
pub const CHUNK_ROWS: usize = 1000;

/// One row of a history file, checked for format (not yet against the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub line: u64,
    pub member_ref: String,
    /// Shop-local day.
    pub date: NaiveDate,
    /// The instant, when the file gave one.
    pub at: Option<DateTime<Utc>>,
    pub amount_fen: i64,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub qty: Option<i64>,
}

/// An imported purchase as stored (`TreeId::History`, key = id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedPurchase {
    pub id: u64,
    pub member_id: u64,
    pub date: NaiveDate,
    pub at: Option<DateTime<Utc>>,
    pub amount_fen: i64,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub qty: Option<i64>,
    /// File name and line it came from.
    pub file: String,
    pub line: u64,
}

impl Record for ImportedPurchase {
    const NAME: &'static str = "imported_purchase";
}

/// Data of [`EVENT_HISTORY_IMPORTED`] (no PII: member count only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryImported {
    pub file: String,
    pub rows: usize,
    pub members: usize,
    pub amount_fen: i64,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// Ids of the first and last stored rows.
    pub first_id: Option<u64>,
    pub last_id: Option<u64>,
}

/// Everything wrong with a history file (the catalog import's report type).
pub type HistoryCsvReport = crate::catalog::csv::CsvReport;

fn quote(v: &str) -> String {
    match v.char_indices().nth(40) {
        None => format!("{v:?}"),
        Some((cut, _)) => format!("{:?}…", &v[..cut]),
    }
}

/// Reads a date value: `YYYY-MM-DD` as a shop-local day, or RFC 3339 converted to the shop's day.
fn parse_date(v: &str, tz: chrono_tz::Tz) -> Option<(NaiveDate, Option<DateTime<Utc>>)> {
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some((d, None));
    }
    let at = DateTime::parse_from_rfc3339(v).ok()?.with_timezone(&Utc);
    Some((crate::clock::local(at, tz).date(), Some(at)))
}

/// Line breaks in `input[from..to]`: LF, CRLF (one) and a lone CR.
fn line_breaks(input: &[u8], from: usize, to: usize) -> u64 {
    let mut n = 0;
    for i in from..to {
        match input[i] {
            b'\n' => n += 1,
            b'\r' if input.get(i + 1) != Some(&b'\n') => n += 1,
            _ => {}
        }
    }
    n
}

/// Checks the format of a whole history file: every row, or every error and no rows.
pub fn parse_history(input: &[u8], file_name: &str, tz: chrono_tz::Tz) -> Result<Vec<HistoryRow>, HistoryCsvReport> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(input);
    let mut report = HistoryCsvReport::new(file_name);
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut record = ::csv::ByteRecord::new();
    // The reader does not count blank lines, nor lines ended by a bare CR (old Excel on macOS),
    // so lines are counted here from byte offsets: LF, CRLF and a lone CR each end one line.
    let mut counted = (0usize, 1u64);
    let mut line_of = |r: &::csv::ByteRecord| -> u64 {
        let mut at = r.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX)).min(input.len());
        // The position may point at the blank lines skipped before the record.
        while at < input.len() && matches!(input[at], b'\n' | b'\r') {
            at += 1;
        }
        if at >= counted.0 {
            counted = (at, counted.1 + line_breaks(input, counted.0, at));
        }
        counted.1
    };
    let error_line = |e: &::csv::Error| {
        e.position().map_or(1, |p| 1 + line_breaks(input, 0, usize::try_from(p.byte()).unwrap_or(usize::MAX).min(input.len())))
    };
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            report.push(1, None, format!("empty file; expected a header line: {}", COLUMNS[..3].join(",")));
            return Err(report);
        }
        Err(e) => {
            report.push(error_line(&e), None, format!("unreadable CSV: {e}"));
            return Err(report);
        }
    }
    let mut positions: [Option<usize>; 6] = [None; 6];
    for (i, raw) in record.iter().enumerate() {
        let name = String::from_utf8_lossy(raw).trim().to_string();
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(&name)) {
            Some(c) if positions[c].is_some() => report.push(1, None, format!("column {} appears twice", COLUMNS[c])),
            Some(c) => positions[c] = Some(i),
            None => report.push(1, None, format!("unknown column {}; expected {}", quote(&name), COLUMNS.join(","))),
        }
    }
    for (c, name) in COLUMNS.iter().enumerate().take(3) {
        if positions[c].is_none() {
            report.push(1, None, format!("missing required column {name}"));
        }
    }
    if report.error_count() > 0 {
        return Err(report);
    }
    let width = record.len();
    let mut rows = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                report.push(error_line(&e), None, format!("unreadable CSV: {e}"));
                break;
            }
        }
        let line = line_of(&record);
        if record.iter().all(|v| v.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if record.len() != width {
            report.push(line, None, format!("expected {width} fields as in the header, found {}", record.len()));
            continue;
        }
        let mut values: [&str; 6] = [""; 6];
        let mut ok = true;
        for (c, pos) in positions.iter().enumerate() {
            let Some(pos) = pos else { continue };
            let raw = record.get(*pos).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok(v) => values[c] = v.trim(),
                Err(_) => {
                    report.push(line, Some(COLUMNS[c]), "not valid UTF-8; save the file as UTF-8".into());
                    ok = false;
                }
            }
        }
        if !ok {
            continue;
        }
        if let Some(row) = parse_row(line, &values, tz, &mut report) {
            if report.error_count() == 0 {
                rows.push(row);
            }
        }
    }
    report.result(rows)
}

fn parse_row(line: u64, v: &[&str; 6], tz: chrono_tz::Tz, report: &mut HistoryCsvReport) -> Option<HistoryRow> {
    let before = report.error_count();
    if v[0].is_empty() {
        report.push(line, Some("member_ref"), "required: the member's phone, card number or id".into());
    }
    let date = parse_date(v[1], tz);
    if date.is_none() {
        report.push(line, Some("date"), format!("expected YYYY-MM-DD or an RFC 3339 time, got {}", quote(v[1])));
    }
    let amount = v[2].parse::<i64>().ok().filter(|a| (0..=MAX_AMOUNT_FEN).contains(a));
    if amount.is_none() {
        report.push(line, Some("amount_fen"), format!("expected an integer number of fen, 0 to {MAX_AMOUNT_FEN}, got {}", quote(v[2])));
    }
    let text = |c: usize, max: usize, report: &mut HistoryCsvReport| -> Option<String> {
        if v[c].is_empty() {
            None
        } else if v[c].chars().count() > max || v[c].chars().any(char::is_control) {
            report.push(line, Some(COLUMNS[c]), format!("at most {max} characters, no control characters, got {}", quote(v[c])));
            None
        } else {
            Some(v[c].to_string())
        }
    };
    let category = text(3, 32, report);
    let sku = text(4, 64, report);
    let qty = if v[5].is_empty() {
        None
    } else {
        let q = v[5].parse::<i64>().ok().filter(|q| *q > 0);
        if q.is_none() {
            report.push(line, Some("qty"), format!("expected an integer greater than 0, got {}", quote(v[5])));
        }
        q
    };
    let (date, at) = date?;
    (report.error_count() == before).then(|| HistoryRow {
        line,
        member_ref: v[0].to_string(),
        date,
        at,
        amount_fen: amount.unwrap_or(0),
        category,
        sku,
        qty,
    })
}

/// The member id a `member_ref` names: a phone, card number or QR payload (`members::find`), or
/// a member id of 1–10 digits.
pub fn resolve_ref(store: &Store, r: &str) -> Result<Option<u64>, StoreError> {
    if let Some(m) = super::find(store, r)? {
        return Ok(Some(m.id));
    }
    if (1..=10).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = r.parse::<u64>() {
            return Ok(super::member(store, id)?.map(|m| m.id));
        }
    }
    Ok(None)
}

/// What a history import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryImportSummary {
    pub file: String,
    pub rows: usize,
    pub members: usize,
    pub amount_fen: i64,
    pub commits: usize,
    /// Rows an earlier run of the same file had stored before it was cut short (skipped now).
    pub resumed_after: usize,
}

/// A history file imported before (`TreeId::Meta`, key `history_file:` + its SHA-256 in hex),
/// written with the import's last rows: the same file imported again is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedFile {
    pub sha256: String,
    /// The file's name as given then.
    pub file: String,
    pub at: DateTime<Utc>,
    pub rows: usize,
    pub first_id: Option<u64>,
    pub last_id: Option<u64>,
}

impl Record for ImportedFile {
    const NAME: &'static str = "imported history file";
}

/// An import of a file cut short between two of its commits (`TreeId::Meta`, key
/// `history_progress:` + its SHA-256): how many of its rows are stored. Written with every
/// commit but the last, removed by the last; importing the same bytes again resumes after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProgress {
    pub file: String,
    pub rows_done: usize,
    pub first_id: Option<u64>,
}

impl Record for ImportProgress {
    const NAME: &'static str = "history import progress";
}

fn progress_key(sha256: &str) -> Vec<u8> {
    format!("history_progress:{sha256}").into_bytes()
}

fn imported_file_key(sha256: &str) -> Vec<u8> {
    format!("history_file:{sha256}").into_bytes()
}

/// SHA-256 of a history file's bytes, lower-case hex (what [`import_history`] remembers).
pub fn file_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a history import wrote nothing (or, for `Store`, stopped).
#[derive(Debug, thiserror::Error)]
pub enum HistoryImportError {
    #[error("{0}\nnothing imported")]
    Bad(HistoryCsvReport),
    #[error(
        "{file}: this file was imported before ({} as {}, {} rows, ids {}–{}; same SHA-256 {}); nothing imported. \
         To add purchases made since, import a file holding only the new rows",
        earlier.at.format("%Y-%m-%d %H:%M UTC"),
        earlier.file,
        earlier.rows,
        earlier.first_id.map_or("-".to_string(), |i| i.to_string()),
        earlier.last_id.map_or("-".to_string(), |i| i.to_string()),
        earlier.sha256
    )]
    AlreadyImported { file: String, earlier: ImportedFile },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Commit(String),
}

/// Checks every row against the store (members exist, dates not after `today`), then writes
/// the rows in commits of [`CHUNK_ROWS`], the last one carrying the one
/// [`EVENT_HISTORY_IMPORTED`] event. Nothing is written when any row is bad.
///
/// With `tiers` (`--count-for-tiers`), each row also counts in the member's purchase statistics
/// in the same commit, as a sale would (one visit, the spend, first and last purchase time —
/// noon shop time for a date-only row — and the day's totals when within the rolling 12
/// months), and a member whose rolling figures now reach a higher tier moves up at once
/// (`storehub.member.tier_changed`). Referral rewards and points are never given for history.
pub fn import_history(
    store: &Store,
    file_name: &str,
    sha256: &str,
    rows: &[HistoryRow],
    today: NaiveDate,
    tiers: Option<(&super::LoyaltyRules, chrono_tz::Tz)>,
) -> Result<HistoryImportSummary, HistoryImportError> {
    import_history_until(store, file_name, sha256, rows, today, tiers, None)
}

/// [`import_history`], stopping after `stop_after` commits when given: exactly the state a
/// crash between two commits leaves (each commit is whole), for the resume test.
fn import_history_until(
    store: &Store,
    file_name: &str,
    sha256: &str,
    rows: &[HistoryRow],
    today: NaiveDate,
    tiers: Option<(&super::LoyaltyRules, chrono_tz::Tz)>,
    stop_after: Option<usize>,
) -> Result<HistoryImportSummary, HistoryImportError> {
    let file_key = (!sha256.is_empty()).then(|| imported_file_key(sha256));
    let progress_key = (!sha256.is_empty()).then(|| progress_key(sha256));
    if let Some(key) = &file_key {
        if let Some(earlier) = store.get::<ImportedFile>(TreeId::Meta, key)? {
            return Err(HistoryImportError::AlreadyImported { file: file_name.to_string(), earlier });
        }
    }
    let progress = match &progress_key {
        Some(key) => store.get::<ImportProgress>(TreeId::Meta, key)?,
        None => None,
    };
    let skip = progress.as_ref().map_or(0, |p| p.rows_done.min(rows.len()));
    let mut report = HistoryCsvReport::new(file_name);
    let mut cache: HashMap<&str, Option<u64>> = HashMap::new();
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let id = match cache.get(row.member_ref.as_str()) {
            Some(id) => *id,
            None => {
                let id = resolve_ref(store, &row.member_ref)?;
                cache.insert(row.member_ref.as_str(), id);
                id
            }
        };
        if id.is_none() {
            report.push(row.line, Some("member_ref"), format!("no member has phone, card or id {}", quote(&row.member_ref)));
        }
        if row.date > today {
            report.push(row.line, Some("date"), format!("{} is after today ({today})", row.date));
        }
        ids.push(id.unwrap_or(0));
    }
    if report.error_count() > 0 {
        return Err(HistoryImportError::Bad(report));
    }
    let members: BTreeSet<u64> = ids.iter().copied().collect();
    let amount_fen = rows.iter().fold(0i64, |a, r| a.saturating_add(r.amount_fen));
    let mut summary = HistoryImportSummary {
        file: file_name.to_string(),
        rows: rows.len(),
        members: members.len(),
        amount_fen,
        commits: 0,
        resumed_after: skip,
    };
    let mut first_id = progress.and_then(|p| p.first_id);
    let chunks: Vec<(&[HistoryRow], &[u64])> =
        rows[skip..].chunks(CHUNK_ROWS).zip(ids[skip..].chunks(CHUNK_ROWS)).collect();
    let n_chunks = chunks.len().max(1);
    for i in 0..n_chunks {
        if stop_after.is_some_and(|n| i >= n) {
            break;
        }
        let (chunk, chunk_ids): (&[HistoryRow], &[u64]) = chunks.get(i).copied().unwrap_or((&[], &[]));
        let last_chunk = i + 1 == n_chunks;
        let (chunk_first, _) = store
            .commit(|tx| {
                let mut stored = Vec::with_capacity(chunk.len());
                for (row, member_id) in chunk.iter().zip(chunk_ids) {
                    stored.push(ImportedPurchase {
                        id: tx.next_seq(TreeId::History)?,
                        member_id: *member_id,
                        date: row.date,
                        at: row.at,
                        amount_fen: row.amount_fen,
                        category: row.category.clone(),
                        sku: row.sku.clone(),
                        qty: row.qty,
                        file: file_name.to_string(),
                        line: row.line,
                    });
                    if let Some((rules, tz)) = tiers {
                        count_for_tiers_tx(tx, *member_id, row, rules, tz)?;
                    }
                }
                put_imported_in_tx(tx, &stored)?;
                let (first, last) = (stored.first().map(|p| p.id), stored.last().map(|p| p.id));
                if let Some(key) = &progress_key {
                    if last_chunk {
                        tx.remove::<MemberError>(TreeId::Meta, key)?;
                    } else {
                        let rows_done = skip + (i + 1) * CHUNK_ROWS;
                        let p = ImportProgress { file: file_name.to_string(), rows_done, first_id: first_id.or(first) };
                        tx.put(TreeId::Meta, key, &p)?;
                    }
                }
                if last_chunk {
                    let event = HistoryImported {
                        file: file_name.to_string(),
                        rows: rows.len(),
                        members: members.len(),
                        amount_fen,
                        first_date: rows.iter().map(|r| r.date).min(),
                        last_date: rows.iter().map(|r| r.date).max(),
                        first_id: first_id.or(first),
                        last_id: last,
                    };
                    tx.emit::<MemberError>(EVENT_HISTORY_IMPORTED, None, &event)?;
                    if let Some(key) = &file_key {
                        let record = ImportedFile {
                            sha256: sha256.to_string(),
                            file: file_name.to_string(),
                            at: tx.now(),
                            rows: rows.len(),
                            first_id: event.first_id,
                            last_id: event.last_id,
                        };
                        tx.put(TreeId::Meta, key, &record)?;
                    }
                }
                Ok::<_, TxError<MemberError>>((first, last))
            })
            .map_err(|e: CommitError<MemberError>| HistoryImportError::Commit(e.to_string()))?;
        first_id = first_id.or(chunk_first);
        summary.commits += 1;
    }
    Ok(summary)
}

/// One imported row in the member's statistics and tier (see [`import_history`]).
fn count_for_tiers_tx(
    tx: &Tx,
    member_id: u64,
    row: &HistoryRow,
    rules: &super::LoyaltyRules,
    tz: chrono_tz::Tz,
) -> Result<(), TxError<MemberError>> {
    use chrono::TimeZone as _;
    let mut m = super::member_tx(tx, member_id)?;
    let today = rules.today(tx.now());
    let noon = row.date.and_hms_opt(12, 0, 0).unwrap_or_default();
    let at = row.at.unwrap_or_else(|| {
        tz.from_local_datetime(&noon).earliest().map_or_else(|| noon.and_utc(), |t| t.with_timezone(&Utc))
    });
    let s = &mut m.stats;
    s.visits = s.visits.saturating_add(1);
    s.spend_fen = s.spend_fen.saturating_add(row.amount_fen);
    s.first_purchase_at = Some(s.first_purchase_at.map_or(at, |f| f.min(at)));
    s.last_purchase_at = Some(s.last_purchase_at.map_or(at, |l| l.max(at)));
    match s.days.iter_mut().find(|d| d.date == row.date) {
        Some(d) => {
            d.spend_fen = d.spend_fen.saturating_add(row.amount_fen);
            d.visits = d.visits.saturating_add(1);
        }
        None => {
            s.days.push(super::DayStats { date: row.date, spend_fen: row.amount_fen, visits: 1 });
            s.days.sort_by_key(|d| d.date);
        }
    }
    super::purchase::prune_days(&mut m, today);
    if let Some(c) = super::purchase::upgrade(&mut m, rules, today) {
        super::purchase::emit_tier_change(tx, m.id, &c)?;
    }
    super::put_member(tx, &m)
}

/// A member's imported rows packed in one record (`TreeId::HistoryByMember`, key = member id):
/// what analytics reads instead of one `History` row per purchase (a 100,000-member shop has
/// millions of rows). Only what the analytics use is kept: the day, the amount and the category.
/// Written with the rows in the same commit ([`put_imported_in_tx`]); built for databases that
/// had rows before it existed by the store's schema migration 1 → 2 ([`pack_history_trees`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PackedHistory {
    /// The distinct categories of `rows`, each once; `PackedRow::category` counts from 1.
    pub categories: Vec<String>,
    /// The member's imported rows in import (id) order.
    pub rows: Vec<PackedRow>,
}

/// One imported row in a [`PackedHistory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedRow {
    /// The shop-local day as days from 0001-01-01 (day 1), `NaiveDate::num_days_from_ce`.
    pub day: i32,
    pub amount_fen: i64,
    /// 0: no category; n: `categories[n - 1]`.
    pub category: u32,
}

impl Record for PackedHistory {
    const NAME: &'static str = "packed member history";
}

impl PackedHistory {
    /// Appends one imported row.
    pub fn push(&mut self, p: &ImportedPurchase) {
        let category = match p.category.as_deref() {
            None => 0,
            Some(c) => match self.categories.iter().position(|k| k == c) {
                Some(i) => i + 1,
                None => {
                    self.categories.push(c.to_string());
                    self.categories.len()
                }
            },
        };
        self.rows.push(PackedRow {
            day: p.date.num_days_from_ce(),
            amount_fen: p.amount_fen,
            category: u32::try_from(category).unwrap_or(u32::MAX),
        });
    }

    /// The day of `r`.
    pub fn date(&self, r: &PackedRow) -> Result<NaiveDate, StoreError> {
        NaiveDate::from_num_days_from_ce_opt(r.day)
            .ok_or_else(|| StoreError::Corrupt(format!("packed member history: day number {} is no date", r.day)))
    }

    /// The category of `r`.
    pub fn category(&self, r: &PackedRow) -> Result<Option<&str>, StoreError> {
        match r.category {
            0 => Ok(None),
            n => self.categories.get(n as usize - 1).map(|c| Some(c.as_str())).ok_or_else(|| {
                StoreError::Corrupt(format!("packed member history: category {n} of {}", self.categories.len()))
            }),
        }
    }
}

/// Stores imported purchases (ids already taken from `next_seq(TreeId::History)`, ascending) in
/// `TreeId::History` and appends them to their members' [`PackedHistory`], in the caller's
/// transaction.
pub fn put_imported_in_tx<E>(tx: &Tx, purchases: &[ImportedPurchase]) -> Result<(), TxError<E>> {
    let mut by_member: BTreeMap<u64, Vec<&ImportedPurchase>> = BTreeMap::new();
    for p in purchases {
        tx.put(TreeId::History, &codec::u64_key(p.id), p)?;
        by_member.entry(p.member_id).or_default().push(p);
    }
    for (member_id, rows) in by_member {
        let key = codec::u64_key(member_id);
        let mut packed = tx.get::<PackedHistory, E>(TreeId::HistoryByMember, &key)?.unwrap_or_default();
        for p in rows {
            packed.push(p);
        }
        tx.put(TreeId::HistoryByMember, &key, &packed)?;
    }
    Ok(())
}

/// Builds `history_by_member` from every row of `history` (sled trees of `TreeId::History` and
/// `TreeId::HistoryByMember`), replacing what it held: the schema migration 1 → 2 for databases
/// with rows imported before packed histories existed. Idempotent. Returns the members packed.
pub fn pack_history_trees(history: &sled::Tree, packed_tree: &sled::Tree) -> Result<usize, StoreError> {
    let mut packed: BTreeMap<u64, PackedHistory> = BTreeMap::new();
    for kv in history.iter() {
        let (_, v) = kv?;
        let p: ImportedPurchase = codec::decode(&v)?;
        packed.entry(p.member_id).or_default().push(&p);
    }
    packed_tree.clear()?;
    for (member_id, h) in &packed {
        packed_tree.insert(codec::u64_key(*member_id), codec::encode(h)?)?;
    }
    Ok(packed.len())
}

/// One member's purchases and returns, as the analytics take them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberHistory {
    /// Purchases (not yet merged per day; see `domain::rfm::occasions`), up to `until`.
    pub purchases: Vec<Occasion>,
    /// Shop-local days of the member's returns, up to `until`.
    pub returns: Vec<NaiveDate>,
}

/// Every member's history up to the shop-local day `until` (inclusive): each member sale as one
/// purchase — amount = total − refunds of its returns dated up to `until` (a sale refunded in
/// full is left out), coupon and promotion discounts from its priced basket (member price and
/// tier discounts are not counted as either), categories of its lines — plus each imported row.
pub fn member_histories(
    store: &Store,
    tz: chrono_tz::Tz,
    until: NaiveDate,
) -> Result<BTreeMap<u64, MemberHistory>, StoreError> {
    let day = |at: DateTime<Utc>| crate::clock::local(at, tz).date();
    let mut refunds: HashMap<u64, i64> = HashMap::new();
    let mut return_days: Vec<(u64, NaiveDate)> = Vec::new();
    for r in store.scan::<crate::checkout::returns::SaleReturn>(TreeId::Returns) {
        let (_, r) = r?;
        if let Some(sale_id) = r.sale_id.filter(|_| day(r.at) <= until) {
            *refunds.entry(sale_id).or_default() += r.refund_fen;
            return_days.push((sale_id, day(r.at)));
        }
    }
    let mut out: BTreeMap<u64, MemberHistory> = BTreeMap::new();
    let mut sale_member: HashMap<u64, u64> = HashMap::new();
    for s in store.scan::<crate::checkout::sale::Sale>(TreeId::Sales) {
        let (_, sale) = s?;
        let Some(member_id) = sale.member_id else { continue };
        sale_member.insert(sale.id, member_id);
        let date = day(sale.at);
        if date > until {
            continue;
        }
        let amount = sale.priced.total_fen - refunds.get(&sale.id).copied().unwrap_or(0);
        if amount <= 0 {
            continue;
        }
        let (mut coupon, mut promo) = (0i64, 0i64);
        let discounts =
            sale.priced.ticket_discounts.iter().chain(sale.priced.lines.iter().flat_map(|l| l.line_discounts.iter()));
        for d in discounts {
            match d.source {
                DiscountSource::Coupon(_) => coupon += d.amount_fen,
                DiscountSource::Promotion(_) => promo += d.amount_fen,
                DiscountSource::MemberPrice | DiscountSource::TierDiscount | DiscountSource::PriceOverride => {}
            }
        }
        let mut categories: Vec<String> =
            sale.priced.lines.iter().map(|l| l.category.clone()).filter(|c| !c.is_empty()).collect();
        categories.sort_unstable();
        categories.dedup();
        out.entry(member_id).or_default().purchases.push(Occasion {
            date,
            amount_fen: amount,
            coupon_fen: coupon,
            promo_fen: promo,
            categories,
        });
    }
    for (sale_id, date) in return_days {
        if let Some(m) = sale_member.get(&sale_id) {
            out.entry(*m).or_default().returns.push(date);
        }
    }
    for p in store.scan::<PackedHistory>(TreeId::HistoryByMember) {
        let (key, packed) = p?;
        let member_id = codec::key_u64(&key)?;
        let until_day = until.num_days_from_ce();
        let mut purchases = packed.rows.iter().filter(|r| r.day <= until_day).peekable();
        if purchases.peek().is_none() {
            continue;
        }
        let entry = out.entry(member_id).or_default();
        for r in purchases {
            entry.purchases.push(Occasion {
                date: packed.date(r)?,
                amount_fen: r.amount_fen,
                coupon_fen: 0,
                promo_fen: 0,
                categories: packed.category(r)?.map(str::to_string).into_iter().collect(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn good_file_parses_with_optional_columns_and_rfc3339_dates() {
        let csv = "member_ref,date,amount_fen,category\n13800138000,2026-01-05,1250,milk\n\n8,2026-01-05T20:30:00Z,99,\n";
        let rows = parse_history(csv.as_bytes(), "h.csv", TZ).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].category.as_deref(), Some("milk"));
        // 20:30 UTC is 04:30 on the 6th in Shanghai.
        assert_eq!(rows[1].date, NaiveDate::from_ymd_opt(2026, 1, 6).unwrap());
        assert_eq!((rows[1].line, rows[1].amount_fen, rows[1].category.clone()), (4, 99, None));
    }

    #[test]
    fn bare_cr_line_endings_parse_with_their_line_numbers() {
        // Old Excel on macOS ends lines with a lone CR; a blank line (line 3) and a CRLF line mixed in.
        let csv = "member_ref,date,amount_fen\r1,2026-01-05,100\r\r2,2026-01-06,200\r\n3,2026-13-01,300\r4,2026-01-07,400\r";
        let err = parse_history(csv.as_bytes(), "mac.csv", TZ).unwrap_err();
        assert_eq!(err.error_count(), 1);
        assert!(err.to_string().contains("mac.csv:5: date: expected YYYY-MM-DD"), "{err}");
        let good = csv.replace("2026-13-01", "2026-01-08");
        let rows = parse_history(good.as_bytes(), "mac.csv", TZ).unwrap();
        let got: Vec<(u64, &str, i64)> = rows.iter().map(|r| (r.line, r.member_ref.as_str(), r.amount_fen)).collect();
        assert_eq!(got, [(2, "1", 100), (4, "2", 200), (5, "3", 300), (6, "4", 400)]);
    }

    #[test]
    fn bad_values_name_file_line_and_column() {
        let csv = "member_ref,date,amount_fen,qty\n1,2026-01-05,100,1\n2,2026-13-01,100,1\n3,2026-01-05,-5,0\n";
        let err = parse_history(csv.as_bytes(), "h.csv", TZ).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("h.csv:3: date: expected YYYY-MM-DD"), "{text}");
        assert!(text.contains("h.csv:4: amount_fen:"), "{text}");
        assert!(text.contains("h.csv:4: qty:"), "{text}");
        assert_eq!(err.error_count(), 3);
        let err = parse_history(b"member_ref,when,amount_fen\n", "h.csv", TZ).unwrap_err();
        assert!(err.to_string().contains("unknown column \"when\""));
        assert!(err.to_string().contains("missing required column date"));
    }

    #[test]
    fn an_import_cut_short_between_commits_resumes_where_it_stopped() {
        use crate::clock::ManualClock;
        use crate::store::{Durability, StoreOptions};
        use chrono::TimeZone as _;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()));
        let opts = |clock: &Arc<ManualClock>| StoreOptions {
            path: dir.path().to_path_buf(),
            durability: Durability::Durable,
            relaxed_flush_ms: 50,
            source: Some("/storehub/t/s/h".into()),
            clock: clock.clone(),
        };
        let store = Store::open(opts(&clock)).unwrap();
        let rules = crate::members::LoyaltyRules::from_config(&crate::config::Config::demo().unwrap().loyalty);
        let id = crate::members::register(&store, &crate::members::NewMember::in_store("13800000001", "甲"), &rules).unwrap().id;
        // 2 500 rows: three commits of 1 000, 1 000 and 500.
        let rows: Vec<HistoryRow> = (0..2_500u64)
            .map(|i| HistoryRow {
                line: i + 2,
                member_ref: id.to_string(),
                date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(i % 300),
                at: None,
                amount_fen: 100 + i as i64,
                category: None,
                sku: None,
                qty: None,
            })
            .collect();
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let sha = "ab".repeat(32);
        // The first run stops after one commit, as a crash between commits would leave it.
        let cut = import_history_until(&store, "h.csv", &sha, &rows, today, None, Some(1)).unwrap();
        assert_eq!(cut.commits, 1);
        drop(store);
        let store = Store::open(opts(&clock)).unwrap();
        let all = |store: &Store| store.scan::<ImportedPurchase>(TreeId::History).map(|r| r.unwrap().1).collect::<Vec<_>>();
        let count = |store: &Store| all(store).len();
        assert_eq!(count(&store), 1_000);
        // The same bytes again resume after the 1 000 stored rows: every row once.
        let done = import_history(&store, "h.csv", &sha, &rows, today, None).unwrap();
        assert_eq!((done.resumed_after, done.commits, done.rows), (1_000, 2, 2_500));
        assert_eq!(count(&store), 2_500);
        let sum: i64 = all(&store).iter().map(|p| p.amount_fen).sum();
        assert_eq!(sum, (0..2_500).map(|i| 100 + i).sum::<i64>());
        assert_eq!(store.get::<ImportProgress>(TreeId::Meta, &progress_key(&sha)).unwrap(), None);
        let file = store.get::<ImportedFile>(TreeId::Meta, &imported_file_key(&sha)).unwrap().unwrap();
        assert_eq!((file.rows, file.first_id, file.last_id), (2_500, Some(1), Some(2_500)));
        // And a third time it is refused.
        assert!(matches!(
            import_history(&store, "h.csv", &sha, &rows, today, None),
            Err(HistoryImportError::AlreadyImported { .. })
        ));
    }
}
