//! Replenishment terms per SKU and per supplier (lead time, review period, pack size, MOQ,
//! service level), over the `[stock]` defaults; the service level defaults per ABC class.
//!
//! Stored in `TreeId::ReplenishmentPolicies`: `sku/<sku>` → [`SkuSettings`] (a supplier
//! override and any of the five numbers), `supplier/<id>` → [`SupplierTerms`] (lead time, review
//! period, MOQ). Every field is optional; the effective value ([`effective`]) is the SKU's own,
//! else its supplier's (the override, else the catalog's supplier), else `[stock]`'s default;
//! the service level is the SKU's own, else the `[stock]` value of its ABC class
//! (`service_level_{a,b,c}_bp`). Each effective value says where it came from, so the
//! suggestion list can show it. `storehub replenishment policy set|show|import` and
//! `GET/PUT /api/v1/stock/policies/{sku}` reach it; the CSV import is all or nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::csv::CsvReport;
use crate::config::StockConfig;
use crate::domain::abc::AbcClass;
use crate::domain::replenish::SkuPolicy;
use crate::store::{CommitError, Record, Store, StoreError, TreeId, TxError};

/// A SKU's own replenishment terms (`None`: not set, the supplier's or the default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuSettings {
    /// Supplier id overriding the catalog's supplier for ordering.
    #[serde(default)]
    pub supplier: Option<String>,
    #[serde(default)]
    pub lead_time_days: Option<u32>,
    #[serde(default)]
    pub review_period_days: Option<u32>,
    #[serde(default)]
    pub pack_size: Option<u32>,
    #[serde(default)]
    pub moq: Option<u32>,
    /// Target service level, bp (5000–9999).
    #[serde(default)]
    pub service_level_bp: Option<u32>,
}
impl Record for SkuSettings {
    const NAME: &'static str = "sku replenishment settings";
}

/// A supplier's terms (`None`: the `[stock]` default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierTerms {
    #[serde(default)]
    pub lead_time_days: Option<u32>,
    #[serde(default)]
    pub review_period_days: Option<u32>,
    #[serde(default)]
    pub moq: Option<u32>,
}
impl Record for SupplierTerms {
    const NAME: &'static str = "supplier terms";
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The SKU's own setting.
    Sku,
    /// The supplier's terms.
    Supplier,
    /// The catalog (the product's supplier).
    Catalog,
    /// `[stock]`'s default.
    Default,
    /// `[stock]`'s service level of the SKU's ABC class.
    AbcClass,
}

/// Where each effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources {
    pub supplier: Source,
    pub lead_time_days: Source,
    pub review_period_days: Source,
    pub pack_size: Source,
    pub moq: Source,
    pub service_level_bp: Source,
}

/// The terms a SKU is replenished with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectivePolicy {
    pub sku: String,
    pub supplier: Option<String>,
    pub policy: SkuPolicy,
    pub sources: Sources,
}

/// Why a policy change was refused (nothing written).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown sku {0}; `storehub stock show` lists the products")]
    UnknownSku(String),
    #[error("{field}: {message}")]
    Field { field: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PolicyError {
    /// The field at fault, when one is (for the API's 400).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            PolicyError::Field { field, .. } => Some(field),
            PolicyError::UnknownSku(_) => Some("sku"),
            PolicyError::Store(_) => None,
        }
    }
}

fn sku_key(sku: &str) -> Vec<u8> {
    format!("sku/{sku}").into_bytes()
}

fn supplier_key(id: &str) -> Vec<u8> {
    format!("supplier/{id}").into_bytes()
}

fn range(field: &'static str, value: Option<u32>, lo: u32, hi: u32, what: &str) -> Result<(), PolicyError> {
    match value {
        Some(v) if v < lo || v > hi => Err(PolicyError::Field { field, message: format!("{what} must be {lo} to {hi}, got {v}") }),
        _ => Ok(()),
    }
}

fn check_supplier_id(field: &'static str, id: &str) -> Result<(), PolicyError> {
    if id.trim().is_empty() || id.chars().count() > 64 || id.chars().any(char::is_control) || id != id.trim() {
        return Err(PolicyError::Field { field, message: format!("a supplier id of 1 to 64 characters without surrounding spaces, got {id:?}") });
    }
    Ok(())
}

/// Checks a SKU's settings; the error names the field.
pub fn check_sku_settings(s: &SkuSettings) -> Result<(), PolicyError> {
    if let Some(id) = &s.supplier {
        check_supplier_id("supplier", id)?;
    }
    range("lead_time_days", s.lead_time_days, 0, 365, "days")?;
    range("review_period_days", s.review_period_days, 1, 365, "days")?;
    range("pack_size", s.pack_size, 1, 100_000, "units per pack")?;
    range("moq", s.moq, 0, 1_000_000_000, "units")?;
    range("service_level_bp", s.service_level_bp, 5000, 9999, "basis points (98 % = 9800)")?;
    Ok(())
}

/// Checks a supplier's terms; the error names the field.
pub fn check_supplier_terms(t: &SupplierTerms) -> Result<(), PolicyError> {
    range("lead_time_days", t.lead_time_days, 0, 365, "days")?;
    range("review_period_days", t.review_period_days, 1, 365, "days")?;
    range("moq", t.moq, 0, 1_000_000_000, "units")?;
    Ok(())
}

/// The `[stock]` service level of an ABC class, bp.
pub fn class_service_level_bp(class: AbcClass, cfg: &StockConfig) -> u32 {
    match class {
        AbcClass::A => cfg.service_level_a_bp,
        AbcClass::B => cfg.service_level_b_bp,
        AbcClass::C => cfg.service_level_c_bp,
    }
}

/// The effective terms of one SKU: its own setting, else its supplier's (the SKU's supplier
/// override, else `catalog_supplier`), else `[stock]`'s default; the service level from the SKU,
/// else from its ABC class. Pure.
pub fn effective(
    sku: &str,
    own: Option<&SkuSettings>,
    catalog_supplier: Option<&str>,
    suppliers: &BTreeMap<String, SupplierTerms>,
    cfg: &StockConfig,
    abc: AbcClass,
) -> EffectivePolicy {
    let empty = SkuSettings::default();
    let own = own.unwrap_or(&empty);
    let (supplier, supplier_src) = match (&own.supplier, catalog_supplier) {
        (Some(s), _) => (Some(s.clone()), Source::Sku),
        (None, Some(s)) => (Some(s.to_string()), Source::Catalog),
        (None, None) => (None, Source::Default),
    };
    let terms = supplier.as_ref().and_then(|s| suppliers.get(s));
    let pick = |own: Option<u32>, sup: Option<u32>, default: u32| match (own, sup) {
        (Some(v), _) => (v, Source::Sku),
        (None, Some(v)) => (v, Source::Supplier),
        (None, None) => (default, Source::Default),
    };
    let (lead, lead_src) = pick(own.lead_time_days, terms.and_then(|t| t.lead_time_days), cfg.lead_time_days);
    let (review, review_src) = pick(own.review_period_days, terms.and_then(|t| t.review_period_days), cfg.review_period_days);
    let (moq, moq_src) = pick(own.moq, terms.and_then(|t| t.moq), cfg.moq);
    let (pack, pack_src) = pick(own.pack_size, None, cfg.pack_size);
    let (service, service_src) = match own.service_level_bp {
        Some(v) => (v, Source::Sku),
        None => (class_service_level_bp(abc, cfg), Source::AbcClass),
    };
    EffectivePolicy {
        sku: sku.to_string(),
        supplier,
        policy: SkuPolicy {
            // Both at most 365 (checked above and by the config), so they fit an i32.
            lead_time_days: i32::try_from(lead).unwrap_or(i32::MAX),
            review_period_days: i32::try_from(review).unwrap_or(i32::MAX),
            pack_size: pack.max(1),
            moq,
            service_level_bp: service,
        },
        sources: Sources {
            supplier: supplier_src,
            lead_time_days: lead_src,
            review_period_days: review_src,
            pack_size: pack_src,
            moq: moq_src,
            service_level_bp: service_src,
        },
    }
}

/// A SKU's own settings.
pub fn sku_settings(store: &Store, sku: &str) -> Result<Option<SkuSettings>, StoreError> {
    store.get(TreeId::ReplenishmentPolicies, &sku_key(sku))
}

/// A supplier's terms.
pub fn supplier_terms(store: &Store, id: &str) -> Result<Option<SupplierTerms>, StoreError> {
    store.get(TreeId::ReplenishmentPolicies, &supplier_key(id))
}

/// Every SKU's own settings, by sku.
pub fn all_sku_settings(store: &Store) -> Result<BTreeMap<String, SkuSettings>, StoreError> {
    store
        .scan_prefix::<SkuSettings>(TreeId::ReplenishmentPolicies, b"sku/")
        .map(|r| r.map(|(k, v)| (String::from_utf8_lossy(&k[4..]).into_owned(), v)))
        .collect()
}

/// Every supplier's terms, by supplier id.
pub fn all_supplier_terms(store: &Store) -> Result<BTreeMap<String, SupplierTerms>, StoreError> {
    store
        .scan_prefix::<SupplierTerms>(TreeId::ReplenishmentPolicies, b"supplier/")
        .map(|r| r.map(|(k, v)| (String::from_utf8_lossy(&k[9..]).into_owned(), v)))
        .collect()
}

fn commit_err(e: CommitError<PolicyError>) -> PolicyError {
    match e {
        CommitError::Rejected(p) => p,
        CommitError::Store(s) => PolicyError::Store(s),
    }
}

/// Replaces the SKU's own settings (all fields; an all-`None` record removes them). The SKU must
/// be in the catalog.
pub fn set_sku(store: &Store, sku: &str, settings: &SkuSettings) -> Result<SkuSettings, PolicyError> {
    import(store, &[(sku.to_string(), settings.clone())])?;
    Ok(settings.clone())
}

/// Replaces a supplier's terms (an all-`None` record removes them).
pub fn set_supplier(store: &Store, id: &str, terms: &SupplierTerms) -> Result<SupplierTerms, PolicyError> {
    check_supplier_id("supplier", id)?;
    check_supplier_terms(terms)?;
    store
        .commit(|tx| {
            if *terms == SupplierTerms::default() {
                tx.remove(TreeId::ReplenishmentPolicies, &supplier_key(id))?;
            } else {
                tx.put(TreeId::ReplenishmentPolicies, &supplier_key(id), terms)?;
            }
            Ok(())
        })
        .map_err(commit_err)?;
    Ok(terms.clone())
}

/// Writes many SKUs' settings in one commit, all or nothing: every row is checked and every SKU
/// must be in the catalog. Returns the number written.
pub fn import(store: &Store, rows: &[(String, SkuSettings)]) -> Result<usize, PolicyError> {
    for (_, s) in rows {
        check_sku_settings(s)?;
    }
    store
        .commit(|tx| {
            for (sku, s) in rows {
                if tx.get::<crate::catalog::Product, PolicyError>(TreeId::Products, sku.as_bytes())?.is_none() {
                    return Err(TxError::Rejected(PolicyError::UnknownSku(sku.clone())));
                }
                if *s == SkuSettings::default() {
                    tx.remove(TreeId::ReplenishmentPolicies, &sku_key(sku))?;
                } else {
                    tx.put(TreeId::ReplenishmentPolicies, &sku_key(sku), s)?;
                }
            }
            Ok(rows.len())
        })
        .map_err(commit_err)
}

/// The columns of a policy file, in the order `storehub replenishment policy import` documents.
pub const POLICY_COLUMNS: [&str; 7] = ["sku", "supplier", "lead_time_days", "review_period_days", "pack_size", "moq", "service_level"];

/// Reads a CSV file into rows of the given columns' values (in `columns` order; "" for a column
/// the file does not have), each with its 1-based line. The header names columns in any order
/// (ASCII case ignored); with `header_optional`, a first line that is not a header is data in
/// `columns` order. Blank rows are skipped. Errors name file, line and column
/// ([`CsvReport`]), all of them, and no rows come back then.
pub(crate) fn read_csv(
    input: &[u8],
    file_name: &str,
    columns: &[&'static str],
    required: &[&'static str],
    header_optional: bool,
) -> Result<Vec<(u64, Vec<String>)>, CsvReport> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(input);
    let mut report = CsvReport::new(file_name);
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut records = reader.byte_records();
    let line_of = |r: &::csv::ByteRecord| r.position().map_or(1, |p| p.line());
    let first = match records.next() {
        None => {
            report.push(1, None, format!("empty file; expected {}", columns.join(",")));
            return Err(report);
        }
        Some(Err(e)) => {
            report.push(e.position().map_or(1, |p| p.line()), None, format!("unreadable CSV: {e}"));
            return Err(report);
        }
        Some(Ok(r)) => r,
    };
    let names: Vec<String> = first.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
    let is_header = names.iter().any(|n| columns.iter().any(|c| c.eq_ignore_ascii_case(n)));
    let mut positions: Vec<Option<usize>> = vec![None; columns.len()];
    let mut rows = Vec::new();
    let mut pending_first = None;
    if is_header {
        for (i, name) in names.iter().enumerate() {
            match columns.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                Some(c) if positions[c].is_some() => report.push(1, None, format!("column {} appears twice", columns[c])),
                Some(c) => positions[c] = Some(i),
                None => report.push(1, None, format!("unknown column {name:?}; expected {}", columns.join(","))),
            }
        }
        for name in required {
            if let Some(c) = columns.iter().position(|c| c == name) {
                if positions[c].is_none() {
                    report.push(1, None, format!("missing required column {name}"));
                }
            }
        }
    } else if header_optional {
        positions = (0..columns.len()).map(Some).collect();
        pending_first = Some(first);
    } else {
        report.push(1, None, format!("expected a header line: {}", columns.join(",")));
    }
    if report.error_count() > 0 {
        return Err(report);
    }
    let width = columns.len();
    let mut handle = |record: ::csv::ByteRecord, report: &mut CsvReport| {
        let line = line_of(&record);
        if record.iter().all(|v| v.iter().all(u8::is_ascii_whitespace)) {
            return;
        }
        let mut values = vec![String::new(); width];
        for (c, pos) in positions.iter().enumerate() {
            let Some(pos) = pos else { continue };
            match record.get(*pos).map(std::str::from_utf8) {
                Some(Ok(v)) => values[c] = v.trim().to_string(),
                Some(Err(_)) => report.push(line, Some(columns[c]), "not valid UTF-8; save the file as UTF-8".into()),
                None => {}
            }
        }
        if record.len() > positions.iter().flatten().max().map_or(0, |m| m + 1) {
            report.push(line, None, format!("expected at most {} fields, found {}", positions.iter().flatten().count(), record.len()));
        }
        rows.push((line, values));
    };
    if let Some(first) = pending_first {
        handle(first, &mut report);
    }
    for record in records {
        match record {
            Ok(r) => handle(r, &mut report),
            Err(e) => {
                report.push(e.position().map_or(1, |p| p.line()), None, format!("unreadable CSV: {e}"));
                break;
            }
        }
    }
    report.result(rows)
}

/// A service level written as a percentage: `98`, `97.5` or `97.5%` → bp.
pub fn percent_bp(v: &str) -> Option<u32> {
    let v = v.strip_suffix('%').unwrap_or(v).trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty() || frac.len() > 2 || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = int.parse().ok()?;
    let frac: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    whole.checked_mul(100)?.checked_add(frac)
}

/// Parses a policy file: `sku,supplier,lead_time_days,review_period_days,pack_size,moq,
/// service_level` (header required, columns in any order, only `sku` required; an empty value
/// = not set; `service_level` a percentage such as `98` or `97.5`). Every error names file,
/// line and column; a SKU twice is an error. Does not touch the store.
pub fn parse_policy_csv(input: &[u8], file_name: &str) -> Result<Vec<(String, SkuSettings)>, CsvReport> {
    let rows = read_csv(input, file_name, &POLICY_COLUMNS, &["sku"], false)?;
    let mut report = CsvReport::new(file_name);
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for (line, v) in rows {
        if v[0].is_empty() {
            report.push(line, Some("sku"), "required".into());
            continue;
        }
        if let Some(first) = seen.insert(v[0].clone(), line) {
            report.push(line, Some("sku"), format!("{} appears twice (first on line {first})", v[0]));
        }
        let mut num = |c: usize| -> Option<u32> {
            if v[c].is_empty() {
                return None;
            }
            let n = v[c].parse::<u32>().ok();
            if n.is_none() {
                report.push(line, Some(POLICY_COLUMNS[c]), format!("expected a whole number ≥ 0, got {:?}", v[c]));
            }
            n
        };
        let mut s = SkuSettings {
            supplier: (!v[1].is_empty()).then(|| v[1].clone()),
            lead_time_days: num(2),
            review_period_days: num(3),
            pack_size: num(4),
            moq: num(5),
            service_level_bp: None,
        };
        if !v[6].is_empty() {
            match percent_bp(&v[6]) {
                Some(bp) => s.service_level_bp = Some(bp),
                None => report.push(line, Some("service_level"), format!("expected a percentage such as 98 or 97.5, got {:?}", v[6])),
            }
        }
        if let Err(PolicyError::Field { field, message }) = check_sku_settings(&s) {
            let column = match field {
                "service_level_bp" => "service_level",
                f => POLICY_COLUMNS.iter().copied().find(|c| *c == f).unwrap_or("sku"),
            };
            report.push(line, Some(column), message);
        }
        out.push((v[0].clone(), s));
    }
    report.result(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> StockConfig {
        StockConfig { lead_time_days: 3, review_period_days: 1, pack_size: 1, moq: 0, ..StockConfig::default() }
    }

    #[test]
    fn sku_over_supplier_over_default_and_service_level_by_class() {
        let mut suppliers = BTreeMap::new();
        suppliers.insert("S1".to_string(), SupplierTerms { lead_time_days: Some(5), review_period_days: Some(7), moq: Some(24) });
        // Nothing set: defaults, catalog supplier without terms, class B's 95 %.
        let e = effective("A", None, Some("S9"), &suppliers, &cfg(), AbcClass::B);
        assert_eq!(e.supplier.as_deref(), Some("S9"));
        assert_eq!(e.policy, SkuPolicy { lead_time_days: 3, review_period_days: 1, pack_size: 1, moq: 0, service_level_bp: 9500 });
        assert_eq!(e.sources.lead_time_days, Source::Default);
        assert_eq!(e.sources.service_level_bp, Source::AbcClass);
        // The catalog's supplier S1 has terms: they apply.
        let e = effective("A", None, Some("S1"), &suppliers, &cfg(), AbcClass::A);
        assert_eq!((e.policy.lead_time_days, e.policy.review_period_days, e.policy.moq, e.policy.service_level_bp), (5, 7, 24, 9800));
        assert_eq!(e.sources.moq, Source::Supplier);
        // The SKU's own lead time and an override to S1 win over the catalog's S9.
        let own = SkuSettings { supplier: Some("S1".into()), lead_time_days: Some(2), pack_size: Some(12), service_level_bp: Some(9900), ..SkuSettings::default() };
        let e = effective("A", Some(&own), Some("S9"), &suppliers, &cfg(), AbcClass::C);
        assert_eq!(e.supplier.as_deref(), Some("S1"));
        assert_eq!(e.policy, SkuPolicy { lead_time_days: 2, review_period_days: 7, pack_size: 12, moq: 24, service_level_bp: 9900 });
        assert_eq!(e.sources.supplier, Source::Sku);
        assert_eq!(e.sources.review_period_days, Source::Supplier);
    }

    #[test]
    fn policy_file_errors_name_line_and_column() {
        let good = b"sku,supplier,lead_time_days,review_period_days,pack_size,moq,service_level\nA,S1,2,7,12,24,97.5\nB,,,,,,\n";
        let rows = parse_policy_csv(good, "p.csv").unwrap();
        assert_eq!(rows[0].1.service_level_bp, Some(9750));
        assert_eq!(rows[0].1.pack_size, Some(12));
        assert_eq!(rows[1].1, SkuSettings::default());
        let bad = b"sku,pack_size,service_level\nA,0,98\nB,x,101\nA,1,90\n";
        let e = parse_policy_csv(bad, "p.csv").unwrap_err().to_string();
        assert!(e.contains("p.csv:2: pack_size: units per pack must be 1 to 100000, got 0"), "{e}");
        assert!(e.contains("p.csv:3: pack_size: expected a whole number ≥ 0, got \"x\""), "{e}");
        assert!(e.contains("p.csv:3: service_level: basis points (98 % = 9800) must be 5000 to 9999, got 10100"), "{e}");
        assert!(e.contains("p.csv:4: sku: A appears twice (first on line 2)"), "{e}");
        let e = parse_policy_csv(b"sku,lead\nA,1\n", "p.csv").unwrap_err().to_string();
        assert!(e.starts_with("p.csv:1: unknown column \"lead\""), "{e}");
    }
}
