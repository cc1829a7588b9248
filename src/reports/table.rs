//! A report as a table of typed cells, and its two machine forms: JSON (rows as objects keyed by
//! column) and CSV (a header row of the column keys, then the rows). Money stays integer fen and
//! shares basis points in both; the pages format them (`¥1,234.50`, `12.34%`). Times are
//! shop-local, `YYYY-MM-DDTHH:MM:SS`.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use serde_json::{json, Value};

use super::ReportKind;
use crate::domain::reports::{DateRange, Period};

/// What a column holds (how pages format it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CellKind {
    Text,
    Int,
    /// Integer fen.
    Fen,
    /// Basis points (10 000 = 100 %).
    Bp,
    /// Integer grams.
    Grams,
    Date,
    /// Shop-local date and time.
    DateTime,
}

/// One column: its key (JSON field, CSV header) and its titles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Column {
    pub key: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    #[serde(rename = "type")]
    pub kind: CellKind,
}

pub const fn col(key: &'static str, zh: &'static str, en: &'static str, kind: CellKind) -> Column {
    Column { key, zh, en, kind }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// A fixed term: its machine value (JSON, CSV) and its words (pages).
    Term { value: &'static str, zh: &'static str, en: &'static str },
    Int(i64),
    Fen(i64),
    Bp(i64),
    Grams(i64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Empty,
}

impl Cell {
    /// The value as JSON.
    pub fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Term { value, .. } => Value::String((*value).to_string()),
            Cell::Int(n) | Cell::Fen(n) | Cell::Bp(n) | Cell::Grams(n) => json!(n),
            Cell::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Cell::DateTime(t) => Value::String(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
            Cell::Empty => Value::Null,
        }
    }

    /// The value as CSV text.
    pub fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Term { value, .. } => (*value).to_string(),
            Cell::Int(n) | Cell::Fen(n) | Cell::Bp(n) | Cell::Grams(n) => n.to_string(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::DateTime(t) => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            Cell::Empty => String::new(),
        }
    }

    /// The number in the cell (for charts).
    pub fn number(&self) -> Option<i64> {
        match self {
            Cell::Int(n) | Cell::Fen(n) | Cell::Bp(n) | Cell::Grams(n) => Some(*n),
            _ => None,
        }
    }
}

/// How a report is best drawn: which column labels the points and which gives the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSpec {
    pub style: ChartStyle,
    pub label: usize,
    pub value: usize,
    /// At most this many rows (the first ones).
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartStyle {
    /// Vertical bars, one per row.
    Bars,
    /// A line through the rows.
    Line,
    /// Horizontal bars with their labels (rankings, shares).
    HBars,
}

/// A computed report.
#[derive(Debug, Clone)]
pub struct Table {
    pub kind: ReportKind,
    pub range: DateRange,
    pub period: Option<Period>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows were cut at [`super::MAX_ROWS`].
    pub truncated: bool,
    pub chart: Option<ChartSpec>,
}

/// The JSON form of a report (`GET /api/v1/reports/{kind}`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportJson {
    /// `sales-trend`, `products`, `categories`, `members-by-tier`, `repurchase`, `new-members`,
    /// `cashiers`, `shifts`, `channels`.
    pub kind: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `day`, `week` or `month` for the reports that have periods.
    pub by: Option<String>,
    pub columns: Vec<Column>,
    /// One object per row, keyed by column key.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, Value>>,
    pub truncated: bool,
}

impl Table {
    pub fn to_json(&self) -> ReportJson {
        ReportJson {
            kind: self.kind.slug().to_string(),
            from: self.range.from,
            to: self.range.to,
            by: self.period.map(|p| p.as_str().to_string()),
            columns: self.columns.clone(),
            rows: self.rows.iter().map(|r| self.columns.iter().zip(r).map(|(c, v)| (c.key.to_string(), v.json())).collect()).collect(),
            truncated: self.truncated,
        }
    }

    /// UTF-8 CSV: the column keys, then one line per row.
    pub fn to_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        w.write_record(self.columns.iter().map(|c| c.key))?;
        for r in &self.rows {
            w.write_record(r.iter().map(Cell::csv))?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// `sales-trend_2026-11-01_2026-11-30.csv`
    pub fn file_name(&self) -> String {
        format!("{}_{}_{}.csv", self.kind.slug(), self.range.from, self.range.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_the_keys_then_quoted_rows_and_json_objects_by_key() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let t = Table {
            kind: ReportKind::Categories,
            range: DateRange::day(d),
            period: None,
            columns: vec![col("category", "品类", "Category", CellKind::Text), col("net_fen", "净销售额", "Net sales", CellKind::Fen), col("share_bp", "占比", "Share", CellKind::Bp)],
            rows: vec![vec![Cell::Text("饮料, 冷藏".into()), Cell::Fen(123_450), Cell::Bp(6_918)], vec![Cell::Term { value: "none", zh: "无", en: "none" }, Cell::Fen(-5), Cell::Empty]],
            truncated: false,
            chart: None,
        };
        let csv = String::from_utf8(t.to_csv().unwrap()).unwrap();
        assert_eq!(csv, "category,net_fen,share_bp\n\"饮料, 冷藏\",123450,6918\nnone,-5,\n");
        let j = serde_json::to_value(t.to_json()).unwrap();
        assert_eq!(j["rows"][0]["net_fen"], 123_450);
        assert_eq!(j["rows"][1]["share_bp"], Value::Null);
        assert_eq!(j["columns"][2]["type"], "bp");
        assert_eq!(j["from"], "2026-11-25");
        assert_eq!(t.file_name(), "categories_2026-11-25_2026-11-25.csv");
    }
}
