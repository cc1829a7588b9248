//! Catalog CSV: the file format of `storehub import catalog FILE.csv` and `storehub export catalog`.
//! Owns the columns, how each value is spelled, and the line-numbered report a bad file gets.
//! [`parse_catalog`] checks a whole file and returns either every product or every error (so an
//! import writes all or nothing); it never touches the store, never prints, and never panics,
//! whatever bytes it is given. Progress bars and the "nothing was imported" summary belong to the
//! caller.
//!
//! # Format
//!
//! UTF-8, with or without a byte-order mark; LF, CRLF or CR line ends; comma-separated and
//! `"`-quoted as Excel and WPS write it. Line 1 is the header, which names each of these columns
//! exactly once, in any order (ASCII case ignored; an unknown column is an error):
//!
//! | column             | required | value                                                        |
//! |--------------------|----------|--------------------------------------------------------------|
//! | `sku`              | yes      | up to 64 characters, no whitespace or control characters; unique in the file |
//! | `barcodes`         | no       | codes separated by `\|`: GTINs (EAN-13, EAN-8, UPC-A, check digit validated) or 4–7 digit scale PLU codes; at most 16; unique in the file (UPC-A `012345678905` and EAN-13 `0012345678905` are the same code) |
//! | `name_zh`          | yes      | up to 100 characters                                         |
//! | `name_en`          | no       | up to 100 characters                                         |
//! | `category`         | yes      | category id = its name, up to 32 characters                  |
//! | `unit`             | yes      | `piece` or `kg`, any case (kg: weighed, priced per kg, stocked in grams) |
//! | `price_fen`        | yes      | integer fen, 0 to 99999999 (¥999,999.99); per kg for `kg`   |
//! | `member_price_fen` | no       | integer fen, not greater than `price_fen`                    |
//! | `cost_fen`         | no       | integer fen, 0 to 99999999                                   |
//! | `tax_bp`           | yes      | VAT in basis points, 0 to 10000 (1300 = 13 %, 900 = 9 %)    |
//! | `supplier`         | no       | supplier id = its name, up to 64 characters                  |
//! | `reorder_point`    | no       | integer 0 to 1000000000, in pieces (grams for `kg`)          |
//!
//! `tax_bp` is required rather than defaulting to 0: a forgotten rate would silently book sales
//! VAT-free, and "0" for an exempt product costs one character to write. Surrounding whitespace is
//! trimmed from every value except `sku`, where it is an error (a SKU must match HQ's exactly).
//! An empty optional value means "none". Rows whose every value is blank (Excel leaves them after
//! deleted rows) are skipped. Every imported product is active; the file has no active column.
//!
//! # Errors
//!
//! One per bad value, each naming file, line (1-based; the header is line 1; a quoted value
//! spanning lines counts from the line the row starts on), column and what is wrong:
//!
//! ```text
//! catalog.csv:14: price_fen: expected a non-negative integer number of fen, got "12.5"
//! catalog.csv:7: barcodes: "6901234567890": wrong check digit 0; expected 2
//! catalog.csv:9: sku: duplicate of line 3
//! ```
//!
//! At most [`MAX_ERRORS`] are kept; the report ends with "… and N more errors" beyond that.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;

use serde::Serialize;

use super::{Category, Product, Supplier, Unit};
use crate::domain::barcode::{classify_catalog_code, CatalogCode};

/// The columns, in the order [`write_catalog`] writes them.
pub const COLUMNS: [&str; 12] = [
    "sku",
    "barcodes",
    "name_zh",
    "name_en",
    "category",
    "unit",
    "price_fen",
    "member_price_fen",
    "cost_fen",
    "tax_bp",
    "supplier",
    "reorder_point",
];

/// Errors kept in a [`CatalogCsvReport`]; the rest are only counted.
pub const MAX_ERRORS: usize = 100;
pub const MAX_SKU_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_CATEGORY_CHARS: usize = 32;
pub const MAX_SUPPLIER_CHARS: usize = 64;
pub const MAX_BARCODES: usize = 16;
/// Largest price or cost a file may carry: ¥999,999.99.
pub const MAX_FEN: i64 = 99_999_999;
pub const MAX_TAX_BP: u32 = 10_000;
pub const MAX_REORDER_POINT: i64 = 1_000_000_000;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Values quoted in messages are cut to this many characters.
const QUOTE_CHARS: usize = 40;

// Column indexes into `COLUMNS`.
const SKU: usize = 0;
const BARCODES: usize = 1;
const NAME_ZH: usize = 2;
const NAME_EN: usize = 3;
const CATEGORY: usize = 4;
const UNIT: usize = 5;
const PRICE: usize = 6;
const MEMBER_PRICE: usize = 7;
const COST: usize = 8;
const TAX: usize = 9;
const SUPPLIER: usize = 10;
const REORDER: usize = 11;

/// One problem in a catalog file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvError {
    /// 1-based line number; the header is line 1.
    pub line: u64,
    /// The column the bad value is in, or `None` for header and row-shape problems.
    pub column: Option<&'static str>,
    /// What is wrong, quoting the value where there is one.
    pub message: String,
}

/// Everything wrong with a CSV file (a catalog, a purchase history). `Display` writes one error
/// per line, `file:line: column: message`, and a last line "… and N more errors" when some were
/// cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvReport {
    pub file_name: String,
    /// The first [`MAX_ERRORS`] errors, in file order.
    pub errors: Vec<CsvError>,
    /// Errors found beyond those in `errors`.
    pub omitted: usize,
}

/// The report of a catalog file.
pub type CatalogCsvReport = CsvReport;

impl CsvReport {
    pub(crate) fn new(file_name: &str) -> Self {
        CsvReport { file_name: file_name.to_string(), errors: Vec::new(), omitted: 0 }
    }

    /// All errors found, including the omitted ones.
    pub fn error_count(&self) -> usize {
        self.errors.len() + self.omitted
    }

    pub(crate) fn push(&mut self, line: u64, column: Option<&'static str>, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(CsvError { line, column, message });
        } else {
            self.omitted += 1;
        }
    }

    /// `ok` when nothing was wrong, else the report.
    pub(crate) fn result<T>(self, ok: T) -> Result<T, CsvReport> {
        if self.error_count() == 0 {
            Ok(ok)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for CsvReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: ", self.file_name, e.line)?;
            if let Some(column) = e.column {
                write!(f, "{column}: ")?;
            }
            f.write_str(&e.message)?;
        }
        match self.omitted {
            0 => Ok(()),
            1 => write!(f, "\n… and 1 more error"),
            n => write!(f, "\n… and {n} more errors"),
        }
    }
}

impl std::error::Error for CsvReport {}

/// Parses and validates a whole catalog file (see the module docs for the format). Returns every
/// product, all active, in file order; or, if anything is wrong, a report of every error and no
/// products.
pub fn parse_catalog(input: &[u8], file_name: &str) -> Result<Vec<Product>, CatalogCsvReport> {
    let input = input.strip_prefix(UTF8_BOM).unwrap_or(input);
    // The CSV reader counts lines by LF; a file with bare CR line ends (old Mac Excel) would be
    // all "line 1", so read its CRs as LFs.
    let cr_only: Vec<u8>;
    let input = if input.contains(&b'\r') && !input.contains(&b'\n') {
        cr_only = input.iter().map(|&b| if b == b'\r' { b'\n' } else { b }).collect();
        &cr_only[..]
    } else {
        input
    };
    let mut report = CatalogCsvReport::new(file_name);
    let mut reader =
        ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut record = ::csv::ByteRecord::new();

    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            let message = format!("empty file; expected a header line: {}", COLUMNS.join(","));
            report.push(1, None, message);
            return Err(report);
        }
        Err(e) => {
            report.push(error_line(&e), None, format!("unreadable CSV: {e}"));
            return Err(report);
        }
    }
    let header_line = record_line(&record);
    let Some(positions) = parse_header(&record, header_line, &mut report) else {
        return Err(report);
    };
    let width = record.len();

    let mut state = Uniqueness::default();
    let mut products = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                report.push(error_line(&e), None, format!("unreadable CSV: {e}"));
                break;
            }
        }
        let line = record_line(&record);
        if record.iter().all(|v| v.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        if record.len() != width {
            let message =
                format!("expected {width} fields as in the header, found {}", record.len());
            report.push(line, None, message);
            continue;
        }
        let mut values: [Option<&str>; 12] = [None; 12];
        for (column, &position) in positions.iter().enumerate() {
            let raw = record.get(position).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok(v) => values[column] = Some(v),
                Err(e) => report.push(line, Some(COLUMNS[column]), not_utf8(raw, &e)),
            }
        }
        let product = parse_row(line, &values, &mut state, &mut report);
        // Once the file is known bad, only its errors matter.
        if let (Some(product), 0) = (product, report.error_count()) {
            products.push(product);
        }
    }

    if report.error_count() == 0 {
        Ok(products)
    } else {
        Err(report)
    }
}

/// Writes `products` as a catalog file: a UTF-8 byte-order mark (so Excel on a zh-CN Windows
/// reads the names as UTF-8 rather than GBK), the header in [`COLUMNS`] order, one row per
/// product. `parse_catalog` reads it back to the same products, provided they satisfy its rules
/// and are active (the file has no active column).
pub fn write_catalog<W: Write>(products: &[Product], mut out: W) -> Result<(), ::csv::Error> {
    out.write_all(UTF8_BOM)?;
    let mut writer = ::csv::Writer::from_writer(out);
    writer.write_record(COLUMNS)?;
    for p in products {
        let optional = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        writer.write_record([
            p.sku.as_str(),
            &p.barcodes.join("|"),
            &p.name_zh,
            &p.name_en,
            &p.category,
            p.unit.as_str(),
            &p.price_fen.to_string(),
            &optional(p.member_price_fen),
            &optional(p.cost_fen),
            &p.tax_bp.to_string(),
            p.supplier.as_deref().unwrap_or_default(),
            &optional(p.reorder_point),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// The distinct categories and suppliers `products` name, in order of first appearance, as the
/// records an import creates for them: the id is the name as written; a category's `name_zh` is
/// its id and its `name_en` empty, a supplier's `name` is its id.
pub fn categories_and_suppliers(products: &[Product]) -> (Vec<Category>, Vec<Supplier>) {
    let mut seen_categories = HashSet::new();
    let mut seen_suppliers = HashSet::new();
    let mut categories = Vec::new();
    let mut suppliers = Vec::new();
    for p in products {
        if seen_categories.insert(p.category.as_str()) {
            categories.push(Category {
                id: p.category.clone(),
                name_zh: p.category.clone(),
                name_en: String::new(),
            });
        }
        if let Some(s) = &p.supplier {
            if seen_suppliers.insert(s.as_str()) {
                suppliers.push(Supplier { id: s.clone(), name: s.clone() });
            }
        }
    }
    (categories, suppliers)
}

/// Maps each column to its field position in a row, or reports what is wrong with the header.
fn parse_header(
    record: &::csv::ByteRecord,
    line: u64,
    report: &mut CatalogCsvReport,
) -> Option<[usize; 12]> {
    let before = report.error_count();
    let mut positions: [Option<usize>; 12] = [None; 12];
    for (i, raw) in record.iter().enumerate() {
        let name = match std::str::from_utf8(raw) {
            Ok(name) => name.trim(),
            Err(e) => {
                report.push(line, None, format!("header field {}: {}", i + 1, not_utf8(raw, &e)));
                continue;
            }
        };
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(c) => match positions[c] {
                Some(first) => {
                    let message = format!(
                        "column {} appears twice (fields {} and {})",
                        COLUMNS[c],
                        first + 1,
                        i + 1
                    );
                    report.push(line, None, message);
                }
                None => positions[c] = Some(i),
            },
            None => {
                let message = format!(
                    "unknown column {} (field {}); expected only {}",
                    quote(name),
                    i + 1,
                    COLUMNS.join(",")
                );
                report.push(line, None, message);
            }
        }
    }
    for (c, position) in positions.iter().enumerate() {
        if position.is_none() {
            report.push(line, None, format!("missing column {}", COLUMNS[c]));
        }
    }
    if report.error_count() != before {
        return None;
    }
    let mut out = [0; 12];
    for (o, p) in out.iter_mut().zip(positions) {
        *o = p.unwrap_or_default();
    }
    Some(out)
}

/// SKUs and barcodes seen so far, to report duplicates against their first line.
#[derive(Default)]
struct Uniqueness {
    /// sku → line.
    skus: HashMap<String, u64>,
    /// Normalised code (GTINs padded to 14 digits, PLUs as written) → first use.
    codes: HashMap<String, CodeUse>,
}

struct CodeUse {
    /// The SKU of the row, if it was valid.
    sku: Option<String>,
    line: u64,
    written: String,
}

/// Validates one row; reports each bad value. `values[c]` is `None` when column `c` was not
/// UTF-8 (already reported).
fn parse_row(
    line: u64,
    values: &[Option<&str>; 12],
    state: &mut Uniqueness,
    report: &mut CatalogCsvReport,
) -> Option<Product> {
    let before = report.error_count();
    let sku = field(report, line, SKU, values, |v| check_sku(v).map(str::to_string));
    let name_zh = field(report, line, NAME_ZH, values, |v| {
        text(v, Some("every product needs a Chinese name"), MAX_NAME_CHARS)
    });
    let name_en = field(report, line, NAME_EN, values, |v| text(v, None, MAX_NAME_CHARS));
    let category = field(report, line, CATEGORY, values, |v| {
        text(v, Some("every product needs a category"), MAX_CATEGORY_CHARS)
    });
    let unit = field(report, line, UNIT, values, unit);
    let price = field(report, line, PRICE, values, |v| fen(v, true));
    let member_price = field(report, line, MEMBER_PRICE, values, |v| fen(v, false));
    let cost = field(report, line, COST, values, |v| fen(v, false));
    let tax = field(report, line, TAX, values, tax_bp);
    let supplier = field(report, line, SUPPLIER, values, |v| text(v, None, MAX_SUPPLIER_CHARS));
    let reorder = field(report, line, REORDER, values, reorder_point);

    if let (Some(Some(p)), Some(Some(m))) = (price, member_price) {
        if m > p {
            let message = format!("{m} is greater than {} {p}", COLUMNS[PRICE]);
            report.push(line, Some(COLUMNS[MEMBER_PRICE]), message);
        }
    }
    if let Some(s) = &sku {
        match state.skus.get(s) {
            Some(first) => {
                report.push(line, Some(COLUMNS[SKU]), format!("duplicate of line {first}"));
            }
            None => {
                state.skus.insert(s.clone(), line);
            }
        }
    }
    let barcodes = values[BARCODES].and_then(|v| barcodes(v, line, sku.as_deref(), state, report));

    if report.error_count() != before {
        return None;
    }
    Some(Product {
        sku: sku?,
        barcodes: barcodes?,
        name_zh: name_zh??,
        name_en: name_en?.unwrap_or_default(),
        category: category??,
        unit: unit?,
        price_fen: price??,
        member_price_fen: member_price?,
        cost_fen: cost?,
        tax_bp: tax?,
        supplier: supplier?,
        reorder_point: reorder?,
        active: true,
    })
}

/// Checks the value of `column` with `f`, reporting its error; `None` when the value is bad or
/// was not UTF-8.
fn field<T>(
    report: &mut CatalogCsvReport,
    line: u64,
    column: usize,
    values: &[Option<&str>; 12],
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let value = values[column]?;
    f(value).map_err(|message| report.push(line, Some(COLUMNS[column]), message)).ok()
}

fn check_sku(raw: &str) -> Result<&str, String> {
    if raw.is_empty() {
        return Err("empty; every product needs a SKU".to_string());
    }
    let chars = raw.chars().count();
    if chars > MAX_SKU_CHARS {
        return Err(format!("{chars} characters; the limit is {MAX_SKU_CHARS}"));
    }
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(format!("{} contains control character U+{:04X}", quote(raw), c as u32));
    }
    if raw.chars().any(char::is_whitespace) {
        return Err(format!("{} contains whitespace; a SKU is one word", quote(raw)));
    }
    Ok(raw)
}

/// A text value, trimmed. `required` is the reason given when it is empty; optional empty
/// values are `None`.
fn text(raw: &str, required: Option<&str>, max: usize) -> Result<Option<String>, String> {
    let v = raw.trim();
    if v.is_empty() {
        return match required {
            Some(why) => Err(format!("empty; {why}")),
            None => Ok(None),
        };
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(format!("{} contains control character U+{:04X}", quote(v), c as u32));
    }
    let chars = v.chars().count();
    if chars > max {
        return Err(format!("{chars} characters; the limit is {max}"));
    }
    Ok(Some(v.to_string()))
}

fn unit(raw: &str) -> Result<Unit, String> {
    let v = raw.trim();
    if v.eq_ignore_ascii_case("piece") {
        Ok(Unit::Piece)
    } else if v.eq_ignore_ascii_case("kg") {
        Ok(Unit::Kg)
    } else if v.is_empty() {
        Err("empty; expected piece or kg".to_string())
    } else {
        Err(format!("expected piece or kg, got {}", quote(v)))
    }
}

enum UintError {
    Empty,
    NotUint,
    TooLarge,
}

/// A non-negative integer of plain ASCII digits (no sign, no separators) up to `max`.
fn uint(v: &str, max: i64) -> Result<i64, UintError> {
    if v.is_empty() {
        return Err(UintError::Empty);
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UintError::NotUint);
    }
    match v.parse::<i64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(UintError::TooLarge),
    }
}

fn fen(raw: &str, required: bool) -> Result<Option<i64>, String> {
    const EXPECTED: &str = "expected a non-negative integer number of fen";
    let v = raw.trim();
    match uint(v, MAX_FEN) {
        Ok(n) => Ok(Some(n)),
        Err(UintError::Empty) if !required => Ok(None),
        Err(UintError::Empty) => Err(format!("empty; {EXPECTED}")),
        Err(UintError::NotUint) => Err(format!("{EXPECTED}, got {}", quote(v))),
        Err(UintError::TooLarge) => {
            Err(format!("expected at most {MAX_FEN} fen (¥999,999.99), got {}", quote(v)))
        }
    }
}

fn tax_bp(raw: &str) -> Result<u32, String> {
    const EXPECTED: &str = "expected basis points from 0 to 10000 (1300 = 13%)";
    let v = raw.trim();
    match uint(v, i64::from(MAX_TAX_BP)) {
        Ok(n) => u32::try_from(n).map_err(|_| format!("{EXPECTED}, got {}", quote(v))),
        Err(UintError::Empty) => Err(format!("empty; {EXPECTED}")),
        Err(UintError::NotUint | UintError::TooLarge) => {
            Err(format!("{EXPECTED}, got {}", quote(v)))
        }
    }
}

fn reorder_point(raw: &str) -> Result<Option<i64>, String> {
    let v = raw.trim();
    match uint(v, MAX_REORDER_POINT) {
        Ok(n) => Ok(Some(n)),
        Err(UintError::Empty) => Ok(None),
        Err(UintError::NotUint) => Err(format!(
            "expected a non-negative integer (pieces, or grams for kg goods), got {}",
            quote(v)
        )),
        Err(UintError::TooLarge) => {
            Err(format!("expected at most {MAX_REORDER_POINT}, got {}", quote(v)))
        }
    }
}

/// The `|`-separated codes of one row; reports bad and duplicate codes. Valid codes are
/// registered even when the row has other errors, so later duplicates point at their first use.
fn barcodes(
    raw: &str,
    line: u64,
    sku: Option<&str>,
    state: &mut Uniqueness,
    report: &mut CatalogCsvReport,
) -> Option<Vec<String>> {
    const COLUMN: Option<&str> = Some(COLUMNS[BARCODES]);
    let v = raw.trim();
    if v.is_empty() {
        return Some(Vec::new());
    }
    let parts: Vec<&str> = v.split('|').map(str::trim).collect();
    if parts.len() > MAX_BARCODES {
        report.push(line, COLUMN, format!("{} codes; the limit is {MAX_BARCODES}", parts.len()));
        return None;
    }
    let mut ok = true;
    if parts.iter().any(|p| p.is_empty()) {
        report.push(
            line,
            COLUMN,
            format!("empty code in {}; separate codes with one \"|\"", quote(v)),
        );
        ok = false;
    }
    let mut row_keys = HashSet::new();
    let mut codes = Vec::with_capacity(parts.len());
    for code in parts.into_iter().filter(|p| !p.is_empty()) {
        let key = match classify_catalog_code(code) {
            // A GTIN is the same whether written as 8, 12, 13 or 14 digits with leading zeros.
            Ok(CatalogCode::Gtin(gtin)) => format!("{gtin:0>14}"),
            Ok(_) => code.to_string(),
            Err(e) => {
                report.push(line, COLUMN, format!("{}: {e}", quote(code)));
                ok = false;
                continue;
            }
        };
        if !row_keys.insert(key.clone()) {
            report.push(line, COLUMN, format!("{} is listed twice", quote(code)));
            ok = false;
            continue;
        }
        if let Some(first) = state.codes.get(&key) {
            let by = first.sku.as_deref().map(|s| format!(" by sku {s}")).unwrap_or_default();
            let spelled = if first.written == code {
                String::new()
            } else {
                format!(" (written there as {})", quote(&first.written))
            };
            let message =
                format!("{} already used{by} on line {}{spelled}", quote(code), first.line);
            report.push(line, COLUMN, message);
            ok = false;
            continue;
        }
        let first_use = CodeUse { sku: sku.map(str::to_string), line, written: code.to_string() };
        state.codes.insert(key, first_use);
        codes.push(code.to_string());
    }
    ok.then_some(codes)
}

/// `"value"` with control characters escaped, cut to [`QUOTE_CHARS`] characters.
fn quote(v: &str) -> String {
    match v.char_indices().nth(QUOTE_CHARS) {
        None => format!("{v:?}"),
        Some((cut, _)) => format!("{:?}…", &v[..cut]),
    }
}

fn not_utf8(raw: &[u8], e: &std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let byte = raw.get(at).map(|b| format!(" 0x{b:02X}")).unwrap_or_default();
    format!(
        "not valid UTF-8 (byte{byte} at offset {at}); save the file as UTF-8 (Excel: \"CSV UTF-8\")"
    )
}

fn record_line(record: &::csv::ByteRecord) -> u64 {
    record.position().map_or(1, ::csv::Position::line)
}

fn error_line(e: &::csv::Error) -> u64 {
    e.position().map_or(1, ::csv::Position::line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "sku,barcodes,name_zh,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n";

    fn messages(input: &str) -> Vec<String> {
        let report = parse_catalog(input.as_bytes(), "t.csv").unwrap_err();
        report.to_string().lines().map(str::to_string).collect()
    }

    #[test]
    fn quote_cuts_long_values_and_escapes_controls() {
        assert_eq!(quote("可乐"), "\"可乐\"");
        assert_eq!(quote("a\tb"), "\"a\\tb\"");
        let long = "码".repeat(50);
        assert_eq!(quote(&long), format!("\"{}\"…", "码".repeat(40)));
    }

    #[test]
    fn upc_a_and_ean_13_spellings_of_one_gtin_are_duplicates() {
        let input = format!(
            "{HEADER}A-1,012345678905,甲,,饮料,piece,100,,,1300,,\nA-2,0012345678905,乙,,饮料,piece,100,,,1300,,\n"
        );
        assert_eq!(
            messages(&input),
            [
                r#"t.csv:3: barcodes: "0012345678905" already used by sku A-1 on line 2 (written there as "012345678905")"#
            ]
        );
    }

    #[test]
    fn plu_and_gtin_never_collide() {
        let body = [0, 0, 0, 1, 0, 0, 0];
        let check = crate::domain::barcode::gs1_check_digit(&body);
        let ean8 = format!("0001000{check}");
        let input = format!(
            "{HEADER}A-1,10001,苹果,,水果,kg,1196,,,900,,\nA-2,{ean8}|1000,乙,,饮料,piece,100,,,1300,,\n"
        );
        let products = parse_catalog(input.as_bytes(), "t.csv").unwrap();
        assert_eq!(products[1].barcodes, [ean8, "1000".to_string()]);
    }

    #[test]
    fn blank_rows_are_skipped_and_header_case_is_ignored() {
        let input = "SKU,Barcodes,NAME_ZH,name_en,category,unit,price_fen,member_price_fen,cost_fen,tax_bp,supplier,reorder_point\n,,,,,,,,,,,\nA-1,,甲,,饮料,PIECE,100,,,1300,,\n , ,,,,,,,,,,\n";
        let products = parse_catalog(input.as_bytes(), "t.csv").unwrap();
        assert_eq!(products.len(), 1);
        assert_eq!(products[0].unit, Unit::Piece);
    }

    #[test]
    fn old_mac_line_ends_still_number_lines() {
        let input = HEADER.replace('\n', "\r")
            + "A-1,,甲,,饮料,piece,100,,,1300,,\rA-2,,乙,,饮料,box,100,,,1300,,\r";
        assert_eq!(messages(&input), ["t.csv:3: unit: expected piece or kg, got \"box\""]);
    }

    #[test]
    fn errors_beyond_the_cap_are_counted() {
        let mut input = HEADER.to_string();
        for _ in 0..150 {
            input.push_str("A 1,,甲,,饮料,piece,100,,,1300,,\n");
        }
        let report = parse_catalog(input.as_bytes(), "t.csv").unwrap_err();
        assert_eq!(report.errors.len(), MAX_ERRORS);
        assert_eq!(report.error_count(), 150);
        assert!(report.to_string().ends_with("\n… and 50 more errors"));
    }

    #[test]
    fn a_quoted_value_spanning_lines_counts_from_its_first_line() {
        let input = format!(
            "{HEADER}A-1,,\"甲\n乙\",,饮料,piece,100,,,1300,,\nA-2,,丙,,饮料,box,100,,,1300,,\n"
        );
        assert_eq!(
            messages(&input),
            [
                "t.csv:2: name_zh: \"甲\\n乙\" contains control character U+000A",
                "t.csv:4: unit: expected piece or kg, got \"box\"",
            ]
        );
    }
}
