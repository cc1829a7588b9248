//! The shop's promotions: the price rules (`domain::pricing::Promotion`) the tills load, stored
//! in `TreeId::Promotions` by id. Owns their validation before storage (one bad promotion and
//! nothing is written), the "active now" filter with the same `[start, end)` window the pricing
//! engine applies, the JSON import file and the `storehub.promotion.*` events. It never prices a
//! basket (that is `domain::pricing`) and never reads the clock: callers pass shop-local time.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::pricing::{validate_promotion, Promotion, PromotionKind, PromotionWindow};
use crate::json_import::{self, check_id, check_name, unknown_keys, FieldError, JsonFileReport, JsonRecord};
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

/// Event written when a promotion is created or changed; data: the promotion as imported.
pub const EVENT_PROMOTION_UPSERTED: &str = "storehub.promotion.upserted";
/// Event written when a promotion is removed; data: `{"id": …}`.
pub const EVENT_PROMOTION_REMOVED: &str = "storehub.promotion.removed";

/// Why a promotion change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    /// A promotion breaks a rule; `index` is its place in the list given.
    #[error("promotion [{index}] (id {id:?}): {field}: {message}; nothing was written")]
    Invalid { index: usize, id: String, field: String, message: String },
    /// Two promotions of one list share an id.
    #[error("promotion [{index}] (id {id:?}): id: duplicate of [{first}]; nothing was written")]
    Duplicate { index: usize, first: usize, id: String },
    /// No promotion has this id.
    #[error("no promotion has id {0:?}; `storehub promotions list` shows them")]
    Unknown(String),
    /// An empty list.
    #[error("no promotions given")]
    Empty,
}

/// Counts of an upsert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpsertSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Data of `storehub.promotion.removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRemoved {
    pub id: String,
}

// --- Stored form -------------------------------------------------------------------------------
// `Promotion` is JSON-shaped (an internally tagged `kind`), which postcard cannot decode, and a
// change to the domain type must not silently change what is on disk: the record is its own type,
// converted field by field, so such a change fails to compile here instead.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PromotionRecord {
    id: String,
    name_zh: String,
    name_en: String,
    window: Option<(NaiveDateTime, NaiveDateTime)>,
    members_only: bool,
    kind: KindRecord,
    updated_at: DateTime<Utc>,
}
impl Record for PromotionRecord {
    const NAME: &'static str = "promotion";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum KindRecord {
    ItemPercent { sku: String, bp: u32 },
    ItemFixed { sku: String, off_fen_per_unit: i64 },
    CategoryPercent { category: String, bp: u32 },
    BuyXGetY { sku: String, buy: u32, free: u32 },
    Threshold { min_spend_fen: i64, off_fen: i64, stacked: bool, categories: Vec<String> },
}

impl PromotionRecord {
    fn new(p: &Promotion, updated_at: DateTime<Utc>) -> PromotionRecord {
        let kind = match p.kind.clone() {
            PromotionKind::ItemPercent { sku, bp } => KindRecord::ItemPercent { sku, bp },
            PromotionKind::ItemFixed { sku, off_fen_per_unit } => KindRecord::ItemFixed { sku, off_fen_per_unit },
            PromotionKind::CategoryPercent { category, bp } => KindRecord::CategoryPercent { category, bp },
            PromotionKind::BuyXGetY { sku, buy, free } => KindRecord::BuyXGetY { sku, buy, free },
            PromotionKind::Threshold { min_spend_fen, off_fen, stacked, categories } => {
                KindRecord::Threshold { min_spend_fen, off_fen, stacked, categories }
            }
        };
        PromotionRecord {
            id: p.id.clone(),
            name_zh: p.name_zh.clone(),
            name_en: p.name_en.clone(),
            window: p.window.as_ref().map(|w| (w.start, w.end)),
            members_only: p.members_only,
            kind,
            updated_at,
        }
    }

    fn promotion(&self) -> Promotion {
        let kind = match self.kind.clone() {
            KindRecord::ItemPercent { sku, bp } => PromotionKind::ItemPercent { sku, bp },
            KindRecord::ItemFixed { sku, off_fen_per_unit } => PromotionKind::ItemFixed { sku, off_fen_per_unit },
            KindRecord::CategoryPercent { category, bp } => PromotionKind::CategoryPercent { category, bp },
            KindRecord::BuyXGetY { sku, buy, free } => PromotionKind::BuyXGetY { sku, buy, free },
            KindRecord::Threshold { min_spend_fen, off_fen, stacked, categories } => {
                PromotionKind::Threshold { min_spend_fen, off_fen, stacked, categories }
            }
        };
        Promotion {
            id: self.id.clone(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            window: self.window.map(|(start, end)| PromotionWindow { start, end }),
            members_only: self.members_only,
            kind,
        }
    }
}

// --- Rules -------------------------------------------------------------------------------------

/// Checks one promotion: `validate_promotion`'s rules, plus an id usable as a key and at the CLI
/// (1–64 characters, no whitespace) and names of at most 100 characters. The error names the
/// field at fault.
pub fn check_promotion(p: &Promotion) -> Result<(), FieldError> {
    check_id(&p.id)?;
    check_name("name_zh", &p.name_zh)?;
    check_name("name_en", &p.name_en)?;
    validate_promotion(p).map_err(|e| {
        let message = match e {
            crate::domain::pricing::PricingError::InvalidPromotion { reason, .. } => reason,
            other => other.to_string(),
        };
        FieldError::new(fault_field(p), message)
    })
}

/// The field `validate_promotion` refused (its errors carry a reason, not a field). Mirrors its
/// checks only to name the field; the decision stays with `validate_promotion`.
fn fault_field(p: &Promotion) -> &'static str {
    if p.id.is_empty() {
        return "id";
    }
    if p.window.as_ref().is_some_and(|w| w.end <= w.start) {
        return "window.end";
    }
    match &p.kind {
        PromotionKind::ItemPercent { .. } | PromotionKind::CategoryPercent { .. } => "kind.bp",
        PromotionKind::ItemFixed { .. } => "kind.off_fen_per_unit",
        PromotionKind::BuyXGetY { buy: 0, .. } => "kind.buy",
        PromotionKind::BuyXGetY { .. } => "kind.free",
        PromotionKind::Threshold { min_spend_fen, .. } if *min_spend_fen <= 0 => "kind.min_spend_fen",
        PromotionKind::Threshold { .. } => "kind.off_fen",
    }
}

/// Whether `p` applies at shop-local `now`: no window, or `start <= now < end` (the pricing
/// engine's window).
pub fn is_active(p: &Promotion, now_local: NaiveDateTime) -> bool {
    p.window.as_ref().is_none_or(|w| w.start <= now_local && now_local < w.end)
}

impl JsonRecord for Promotion {
    const WHAT: &'static str = "promotion";

    fn id(&self) -> &str {
        &self.id
    }

    fn unknown_fields(value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        unknown_keys(value, &["id", "name_zh", "name_en", "window", "members_only", "kind"], "", &mut out);
        if let Some(w) = value.get("window") {
            unknown_keys(w, &["start", "end"], "window.", &mut out);
        }
        if let Some(k) = value.get("kind") {
            let allowed: &[&str] = match k.get("kind").and_then(Value::as_str) {
                Some("item_percent") => &["kind", "sku", "bp"],
                Some("item_fixed") => &["kind", "sku", "off_fen_per_unit"],
                Some("category_percent") => &["kind", "category", "bp"],
                Some("buy_x_get_y") => &["kind", "sku", "buy", "free"],
                Some("threshold") => &["kind", "min_spend_fen", "off_fen", "stacked", "categories"],
                // An unknown or missing kind is reported by the parser, naming the choices.
                _ => return out,
            };
            unknown_keys(k, allowed, "kind.", &mut out);
        }
        out
    }

    fn check(&self) -> Result<(), FieldError> {
        check_promotion(self)
    }
}

/// Reads a promotions import file: a JSON array of promotions in the serde shape of
/// `domain::pricing::Promotion`, every one checked; errors name the file, index, id and field.
pub fn parse_promotions_json(bytes: &[u8], file_name: &str) -> Result<Vec<Promotion>, JsonFileReport> {
    json_import::parse_records(bytes, file_name)
}

// --- Changes -----------------------------------------------------------------------------------

/// Checks every promotion of a list (rules and unique ids) before anything is written.
fn check_all(promotions: &[Promotion]) -> Result<(), PromotionError> {
    if promotions.is_empty() {
        return Err(PromotionError::Empty);
    }
    let mut seen = std::collections::HashMap::new();
    for (index, p) in promotions.iter().enumerate() {
        check_promotion(p).map_err(|e| PromotionError::Invalid {
            index,
            id: p.id.clone(),
            field: e.field,
            message: e.message,
        })?;
        if let Some(&first) = seen.get(p.id.as_str()) {
            return Err(PromotionError::Duplicate { index, first, id: p.id.clone() });
        }
        seen.insert(p.id.as_str(), index);
    }
    Ok(())
}

/// Inserts or replaces `promotions` inside `tx` (all checked first: one bad one and the
/// transaction is refused). Emits `storehub.promotion.upserted` for each one that changed.
pub fn upsert_in_tx(tx: &Tx, promotions: &[Promotion]) -> Result<UpsertSummary, TxError<PromotionError>> {
    check_all(promotions).map_err(TxError::Rejected)?;
    let mut summary = UpsertSummary::default();
    for p in promotions {
        let old: Option<PromotionRecord> = tx.get(TreeId::Promotions, p.id.as_bytes())?;
        match &old {
            Some(old) if old.promotion() == *p => {
                summary.unchanged += 1;
                continue;
            }
            Some(_) => summary.updated += 1,
            None => summary.created += 1,
        }
        tx.put(TreeId::Promotions, p.id.as_bytes(), &PromotionRecord::new(p, tx.now()))?;
        tx.emit(EVENT_PROMOTION_UPSERTED, Some(&p.id), p)?;
    }
    Ok(summary)
}

/// Inserts or replaces promotions in one commit: all or nothing.
pub fn upsert_promotions(store: &Store, promotions: &[Promotion]) -> Result<UpsertSummary, CommitError<PromotionError>> {
    store.commit(|tx| upsert_in_tx(tx, promotions))
}

/// Removes a promotion; the tills stop applying it once they reload. Returns what was removed.
pub fn remove_promotion(store: &Store, id: &str) -> Result<Promotion, CommitError<PromotionError>> {
    store.commit(|tx| {
        let old: PromotionRecord = tx
            .get(TreeId::Promotions, id.as_bytes())?
            .ok_or_else(|| TxError::Rejected(PromotionError::Unknown(id.to_string())))?;
        tx.remove(TreeId::Promotions, id.as_bytes())?;
        tx.emit(EVENT_PROMOTION_REMOVED, Some(id), &PromotionRemoved { id: id.to_string() })?;
        Ok(old.promotion())
    })
}

// --- Reads -------------------------------------------------------------------------------------

/// The promotion with this id.
pub fn promotion(store: &Store, id: &str) -> Result<Option<Promotion>, StoreError> {
    Ok(store.get::<PromotionRecord>(TreeId::Promotions, id.as_bytes())?.map(|r| r.promotion()))
}

/// Every promotion in id order, whatever its window.
pub fn list_promotions(store: &Store) -> Result<Vec<Promotion>, StoreError> {
    store.scan::<PromotionRecord>(TreeId::Promotions).map(|r| r.map(|(_, p)| p.promotion())).collect()
}

/// The promotions a till applies at shop-local `now_local`, in id order: those without a window
/// and those whose `[start, end)` window contains it.
pub fn active_promotions(store: &Store, now_local: NaiveDateTime) -> Result<Vec<Promotion>, StoreError> {
    Ok(list_promotions(store)?.into_iter().filter(|p| is_active(p, now_local)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec;
    use chrono::NaiveDate;

    fn at(d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 10, d).and_then(|d| d.and_hms_opt(h, 0, 0)).unwrap()
    }

    fn golden_week() -> Promotion {
        Promotion {
            id: "P-GW".into(),
            name_zh: "国庆满200减30".into(),
            name_en: "National Day: spend ¥200, save ¥30".into(),
            window: Some(PromotionWindow { start: at(1, 0), end: at(8, 0) }),
            members_only: false,
            kind: PromotionKind::Threshold { min_spend_fen: 20_000, off_fen: 3_000, stacked: true, categories: vec![] },
        }
    }

    #[test]
    fn the_window_is_start_inclusive_end_exclusive() {
        let p = golden_week();
        assert!(!is_active(&p, at(1, 0) - chrono::Duration::seconds(1)));
        assert!(is_active(&p, at(1, 0)));
        assert!(is_active(&p, at(7, 23)));
        assert!(!is_active(&p, at(8, 0)));
        assert!(is_active(&Promotion { window: None, ..p }, at(30, 12)));
    }

    #[test]
    fn the_stored_record_round_trips_every_kind() {
        let kinds = [
            PromotionKind::ItemPercent { sku: "A".into(), bp: 1000 },
            PromotionKind::ItemFixed { sku: "A".into(), off_fen_per_unit: 50 },
            PromotionKind::CategoryPercent { category: "饮料".into(), bp: 500 },
            PromotionKind::BuyXGetY { sku: "A".into(), buy: 2, free: 1 },
            golden_week().kind,
        ];
        for kind in kinds {
            let p = Promotion { kind, ..golden_week() };
            let bytes = codec::encode(&PromotionRecord::new(&p, chrono::DateTime::UNIX_EPOCH)).unwrap();
            assert_eq!(codec::decode::<PromotionRecord>(&bytes).unwrap().promotion(), p);
        }
    }

    #[test]
    fn a_bad_promotion_names_its_field() {
        let mut p = golden_week();
        p.kind = PromotionKind::CategoryPercent { category: "饮料".into(), bp: 12_000 };
        assert_eq!(check_promotion(&p).unwrap_err().field, "kind.bp");
        p.kind = PromotionKind::BuyXGetY { sku: "A".into(), buy: 2, free: 0 };
        assert_eq!(check_promotion(&p).unwrap_err().field, "kind.free");
        let mut p = golden_week();
        p.window = Some(PromotionWindow { start: at(8, 0), end: at(1, 0) });
        assert_eq!(check_promotion(&p).unwrap_err().field, "window.end");
        p.id = "P GW".into();
        assert_eq!(check_promotion(&p).unwrap_err().field, "id");
    }
}
