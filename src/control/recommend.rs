//! Control requests for recommendations (`storehub recommend …`, `storehub analytics
//! recommend-eval`): run the mining now, list stored rules, suggestions for a member or a SKU,
//! the offline evaluation. The CLI sends them to the daemon or applies them itself, through this
//! one handler; the rules and the reading are `members::recommend`'s.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ops::Context;
use super::Reply;
use crate::domain::assoc::ItemKey;
use crate::members::recommend as reco;
use crate::store::Store;

/// One recommendation request. Days are shop-local; `None` = today.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RecommendRequest {
    /// The nightly mining run, now.
    Mine { date: Option<chrono::NaiveDate> },
    /// The latest run and the stored rules: one SKU's or category's, else the first `limit` sets.
    Rules { sku: Option<String>, category: Option<String>, limit: usize },
    /// Personal suggestions for a member.
    ForMember { member_id: u64, date: Option<chrono::NaiveDate> },
    /// "Also bought" for a SKU.
    AlsoBought { sku: String },
    /// Time-split holdout evaluation: the last `split_days` days are the holdout.
    Eval { split_days: u32, date: Option<chrono::NaiveDate> },
}

/// Applies one recommendation request.
pub fn handle(store: &Store, ctx: &Context, req: RecommendRequest) -> Result<Reply, String> {
    let s = &ctx.recommend;
    let today = |d: Option<chrono::NaiveDate>| d.unwrap_or_else(|| crate::clock::local(store.clock().now(), s.tz).date());
    let e = |e: crate::store::StoreError| e.to_string();
    match req {
        RecommendRequest::Mine { date } => Ok(Reply::json(reco::run(store, s, today(date)).map_err(e)?)),
        RecommendRequest::Rules { sku, category, limit } => {
            let run = reco::latest_run(store).map_err(e)?;
            let key = match (sku, category) {
                (Some(_), Some(_)) => return Err("give --sku or --category, not both".into()),
                (Some(sku), None) => Some(ItemKey::Sku(sku)),
                (None, Some(c)) => Some(ItemKey::Category(c)),
                (None, None) => None,
            };
            let sets = match key {
                Some(k) => {
                    let rules = reco::rules_for(store, &k).map_err(e)?;
                    vec![reco::RuleSet { antecedent: k, rules }]
                }
                None => reco::rule_sets(store, limit).map_err(e)?,
            };
            let shown: Vec<serde_json::Value> = sets
                .iter()
                .map(|set| {
                    let rules: Vec<serde_json::Value> = set
                        .rules
                        .iter()
                        .map(|r| json!({ "consequent": r.consequent, "both": r.both, "support_bp": r.support_bp(), "confidence_bp": r.confidence_bp(), "lift_milli": r.lift_milli() }))
                        .collect();
                    json!({ "antecedent": set.antecedent, "rules": rules })
                })
                .collect();
            if run.is_none() {
                return Err("no rules mined yet; `storehub recommend mine` runs the mining now".into());
            }
            Ok(Reply::json(json!({ "run": run, "rule_sets": shown })))
        }
        RecommendRequest::ForMember { member_id, date } => {
            let list = reco::member_suggestions(store, s, member_id, today(date), reco::SUGGESTIONS_SHOWN).map_err(|e| e.to_string())?;
            Ok(Reply::json(json!({ "member_id": member_id, "suggestions": list })))
        }
        RecommendRequest::AlsoBought { sku } => {
            let list = reco::also_bought(store, &sku, reco::SUGGESTIONS_SHOWN).map_err(|e| e.to_string())?;
            Ok(Reply::json(json!({ "sku": sku, "suggestions": list })))
        }
        RecommendRequest::Eval { split_days, date } => {
            if split_days == 0 || split_days > 365 {
                return Err(format!("--split-days: expected 1 to 365 days, got {split_days}"));
            }
            Ok(Reply::json(reco::evaluate(store, s, today(date), split_days, reco::SUGGESTIONS_SHOWN).map_err(e)?))
        }
    }
}
