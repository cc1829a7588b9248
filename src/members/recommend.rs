//! Recommendations (推荐): the association-rule store and what reads it. The nightly mining run
//! (`[recommend]`) turns the window's sales baskets into rules (`domain::assoc`) and stores them
//! per antecedent in `TreeId::AssociationRules` (`i/<sku>`, `c/<category>` → [`RuleSet`]);
//! "also bought" for a SKU, add-on suggestions for an open cart and personal suggestions for a
//! member read them back. Every suggestion carries its reason in zh-CN and English.

use serde::{Deserialize, Serialize};

use crate::domain::assoc::{ItemKey, Rule};
use crate::store::{Record, Store, StoreError, TreeId, Tx, TxError};

/// The rules whose antecedent is one SKU or category, strongest first (as the miner ordered
/// them), stored as one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    pub antecedent: ItemKey,
    pub rules: Vec<Rule>,
}

impl Record for RuleSet {
    const NAME: &'static str = "association rule set";
}

/// The key of an antecedent's rule set: `i/<sku>` or `c/<category>`.
pub fn rule_key(antecedent: &ItemKey) -> Vec<u8> {
    match antecedent {
        ItemKey::Sku(sku) => format!("i/{sku}").into_bytes(),
        ItemKey::Category(c) => format!("c/{c}").into_bytes(),
    }
}

/// Stores (replaces) one antecedent's rules; an empty list removes the record.
pub fn put_rule_set_tx<E>(tx: &Tx, set: &RuleSet) -> Result<(), TxError<E>> {
    let key = rule_key(&set.antecedent);
    if set.rules.is_empty() {
        tx.remove(TreeId::AssociationRules, &key)?;
    } else {
        tx.put(TreeId::AssociationRules, &key, set)?;
    }
    Ok(())
}

/// The stored rules with `antecedent` on the left (empty when there are none).
pub fn rules_for(store: &Store, antecedent: &ItemKey) -> Result<Vec<Rule>, StoreError> {
    Ok(store
        .get::<RuleSet>(TreeId::AssociationRules, &rule_key(antecedent))?
        .map(|s| s.rules)
        .unwrap_or_default())
}
