//! The catalog: products, their barcodes, categories and suppliers. Owns the rules a product must
//! satisfy before it is stored and the barcode → product lookup the lanes use; persistence goes
//! through `store`, CSV in and out through `catalog::csv`.

pub mod csv;

use serde::{Deserialize, Serialize};

/// How a product is sold and counted in stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Sold by the piece; stock counted in pieces; price per piece.
    Piece,
    /// Weighed goods; stock counted in grams; price per kilogram.
    Kg,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Piece => "piece",
            Unit::Kg => "kg",
        }
    }
}

/// A product as the store sells it. Money in fen, tax in basis points, reorder point in the
/// product's stock unit (pieces, or grams for `Unit::Kg`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    /// GTINs (EAN-13, EAN-8, UPC-A) and scale PLU item codes (4–7 digits) of this product.
    pub barcodes: Vec<String>,
    pub name_zh: String,
    pub name_en: String,
    /// Category id (its name as written in the catalog).
    pub category: String,
    pub unit: Unit,
    /// Price per piece, or per kilogram for weighed goods.
    pub price_fen: i64,
    pub member_price_fen: Option<i64>,
    pub cost_fen: Option<i64>,
    pub tax_bp: u32,
    /// Supplier id (its name as written in the catalog).
    pub supplier: Option<String>,
    pub reorder_point: Option<i64>,
    pub active: bool,
}

/// A product category. Categories are created on demand by catalog imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A supplier of products. Suppliers are created on demand by catalog imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    pub id: String,
    pub name: String,
}
