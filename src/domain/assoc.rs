//! Association rules from sales baskets (关联规则, "买了奶粉的会员也买奶瓶"): the types the miner,
//! the rule store and the suggestions share. A rule keeps the basket counts it was measured on,
//! not rounded ratios, so support, confidence and lift are exact integer arithmetic on demand and
//! a rule read back from the store explains itself with the same numbers the miner saw.
//!
//! Definitions (N = baskets in the window, n(X) = baskets containing X):
//! support(A → B) = n(A ∪ B) / N, confidence = n(A ∪ B) / n(A), lift = confidence / (n(B) / N)
//! = n(A ∪ B) · N / (n(A) · n(B)).

use serde::{Deserialize, Serialize};

/// What a rule speaks about: a product or a whole category. JSON `{"sku": "…"}` or
/// `{"category": "…"}`: externally tagged, the one enum shape the stores' postcard encoding
/// can read back (an adjacently tagged enum does not decode).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKey {
    Sku(String),
    Category(String),
}

/// "Baskets with `antecedent` also hold `consequent`", with the counts it was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub antecedent: ItemKey,
    pub consequent: ItemKey,
    /// n(A ∪ B): baskets holding both.
    pub both: u32,
    /// n(A).
    pub antecedent_baskets: u32,
    /// n(B).
    pub consequent_baskets: u32,
    /// N: baskets in the window.
    pub baskets: u32,
}

impl Rule {
    /// Support in basis points of all baskets (rounded down).
    pub fn support_bp(&self) -> u32 {
        ratio_bp(self.both as u64, self.baskets as u64)
    }

    /// Confidence in basis points: of the baskets with A, how many also hold B (rounded down).
    pub fn confidence_bp(&self) -> u32 {
        ratio_bp(self.both as u64, self.antecedent_baskets as u64)
    }

    /// Lift in thousandths (1000 = independent; above it, A makes B likelier), rounded down.
    pub fn lift_milli(&self) -> u32 {
        let num = self.both as u128 * self.baskets as u128 * 1000;
        let den = self.antecedent_baskets as u128 * self.consequent_baskets as u128;
        num.checked_div(den).map_or(0, |l| u32::try_from(l).unwrap_or(u32::MAX))
    }
}

/// `part / whole` in basis points, rounded down; 0 when `whole` is 0.
fn ratio_bp(part: u64, whole: u64) -> u32 {
    (part * 10_000).checked_div(whole).map_or(0, |r| u32::try_from(r).unwrap_or(u32::MAX))
}

// --- Mining ----------------------------------------------------------------------------------------

/// The thresholds of a mining run. A rule A → B is kept when all three hold (exact integer
/// comparisons on the counts, no rounding), then only the `max_rules_per_item` strongest per
/// antecedent (by lift, then confidence, then baskets with both, then the consequent's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MineParams {
    pub min_support_bp: u32,
    pub min_confidence_bp: u32,
    pub min_lift_milli: u32,
    pub max_rules_per_item: usize,
}

/// A pair must be seen in at least this many baskets whatever `min_support_bp` says: one basket
/// is an anecdote, not an association.
pub const MIN_PAIR_BASKETS: u32 = 2;

/// Names (SKUs or categories) interned to dense `u32` ids in first-seen order, so baskets and
/// pair keys are small integers.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: std::collections::HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    /// The id of `name`, giving it the next one when new.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        // More than 4 billion distinct names cannot come from one shop's window; saturate.
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Baskets of item ids in one flat vector (each basket's ids sorted and distinct): 4 bytes per
/// basket line, nothing per basket but its end offset.
#[derive(Debug, Default, Clone)]
pub struct Baskets {
    items: Vec<u32>,
    ends: Vec<usize>,
}

impl Baskets {
    /// Adds one basket (sorted and de-duplicated here). An empty basket still counts in N: a
    /// sale whose every line came back is not added by the callers, so it does not.
    pub fn push(&mut self, items: &mut Vec<u32>) {
        items.sort_unstable();
        items.dedup();
        self.items.extend_from_slice(items);
        self.ends.push(self.items.len());
        items.clear();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Σ distinct items over baskets.
    pub fn lines(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let b = &self.items[start..end];
            start = end;
            b
        })
    }
}

/// A rule over interned ids (see [`Rule`] for the counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRule {
    pub antecedent: u32,
    pub consequent: u32,
    pub both: u32,
    pub antecedent_baskets: u32,
    pub consequent_baskets: u32,
}

/// What [`mine_ids`] found and how much it counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mined {
    /// N.
    pub baskets: u32,
    /// Items at or above the support floor (the only ones whose pairs are counted).
    pub frequent_items: u32,
    /// Distinct pairs of frequent items seen together.
    pub pairs_counted: u64,
    /// Every rule passing the thresholds, not yet cut to the top K.
    pub rules: Vec<IdRule>,
    /// Baskets holding each item, by id.
    pub single: Vec<u32>,
}

/// Multiplicative hash for the pair keys (FxHash's constant): the keys are two small ids, std's
/// SipHash would cost more than the counting.
#[derive(Default)]
struct PairHasher(u64);

impl std::hash::Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The fewest baskets a pair needs: ⌈min_support_bp × N / 10 000⌉, at least [`MIN_PAIR_BASKETS`].
pub fn support_floor(min_support_bp: u32, baskets: u32) -> u32 {
    let need = (u64::from(min_support_bp) * u64::from(baskets)).div_ceil(10_000);
    u32::try_from(need).unwrap_or(u32::MAX).max(MIN_PAIR_BASKETS)
}

/// Mines pair rules from `baskets` over `n_items` interned ids (Apriori's first two levels):
/// counts every item once per basket, drops the items below the support floor (a pair is never
/// more frequent than either of its items), counts the pairs of the remaining items per basket in
/// a hash map of `(a, b)` → baskets, and turns each pair at or above the floor into A → B and
/// B → A where confidence and lift pass. Memory: one counter per item, one entry per distinct
/// frequent pair.
pub fn mine_ids(baskets: &Baskets, n_items: usize, p: &MineParams) -> Mined {
    let n = u32::try_from(baskets.len()).unwrap_or(u32::MAX);
    let mut single = vec![0u32; n_items];
    for b in baskets.iter() {
        for &i in b {
            if let Some(c) = single.get_mut(i as usize) {
                *c += 1;
            }
        }
    }
    let floor = support_floor(p.min_support_bp, n);
    let frequent: Vec<bool> = single.iter().map(|&c| c >= floor).collect();
    let mut pairs: std::collections::HashMap<u64, u32, std::hash::BuildHasherDefault<PairHasher>> = Default::default();
    let mut keep: Vec<u32> = Vec::new();
    for b in baskets.iter() {
        keep.clear();
        keep.extend(b.iter().copied().filter(|&i| frequent.get(i as usize).copied().unwrap_or(false)));
        for (x, &a) in keep.iter().enumerate() {
            for &c in &keep[x + 1..] {
                *pairs.entry((u64::from(a) << 32) | u64::from(c)).or_insert(0) += 1;
            }
        }
    }
    let mut rules = Vec::new();
    for (&key, &both) in &pairs {
        if both < floor {
            continue;
        }
        let (a, c) = ((key >> 32) as u32, (key & 0xffff_ffff) as u32);
        let (na, nc) = (single[a as usize], single[c as usize]);
        for (ant, con, n_ant, n_con) in [(a, c, na, nc), (c, a, nc, na)] {
            let confident = u64::from(both) * 10_000 >= u64::from(p.min_confidence_bp) * u64::from(n_ant);
            let lifted = u128::from(both) * u128::from(n) * 1000 >= u128::from(p.min_lift_milli) * u128::from(n_ant) * u128::from(n_con);
            if confident && lifted {
                rules.push(IdRule { antecedent: ant, consequent: con, both, antecedent_baskets: n_ant, consequent_baskets: n_con });
            }
        }
    }
    Mined {
        baskets: n,
        frequent_items: u32::try_from(frequent.iter().filter(|f| **f).count()).unwrap_or(u32::MAX),
        pairs_counted: pairs.len() as u64,
        rules,
        single,
    }
}

/// The rules of a mining run per antecedent, named: each antecedent's rules strongest first (lift,
/// confidence, baskets with both, then the consequent's name), at most `max_rules_per_item`;
/// antecedents in name order. `key` makes the item key (`ItemKey::Sku` or `ItemKey::Category`).
pub fn name_rules(mined: &Mined, names: &[String], key: fn(String) -> ItemKey, max_rules_per_item: usize) -> Vec<(ItemKey, Vec<Rule>)> {
    let name = |i: u32| names.get(i as usize).cloned().unwrap_or_default();
    let mut by_ant: std::collections::BTreeMap<String, Vec<Rule>> = std::collections::BTreeMap::new();
    for r in &mined.rules {
        by_ant.entry(name(r.antecedent)).or_default().push(Rule {
            antecedent: key(name(r.antecedent)),
            consequent: key(name(r.consequent)),
            both: r.both,
            antecedent_baskets: r.antecedent_baskets,
            consequent_baskets: r.consequent_baskets,
            baskets: mined.baskets,
        });
    }
    by_ant
        .into_iter()
        .map(|(ant, mut rules)| {
            rules.sort_by(strongest_first);
            rules.truncate(max_rules_per_item);
            (key(ant), rules)
        })
        .collect()
}

/// Rule order: lift, confidence, baskets with both (all descending), then the consequent.
pub fn strongest_first(a: &Rule, b: &Rule) -> std::cmp::Ordering {
    b.lift_milli()
        .cmp(&a.lift_milli())
        .then(b.confidence_bp().cmp(&a.confidence_bp()))
        .then(b.both.cmp(&a.both))
        .then_with(|| a.consequent.cmp(&b.consequent))
}

/// Mines named baskets (each a list of names; duplicates in a basket count once): interning,
/// [`mine_ids`] and [`name_rules`] in one call, for callers with few baskets (tests, the
/// evaluation).
pub fn mine_named<S: AsRef<str>>(baskets: &[Vec<S>], key: fn(String) -> ItemKey, p: &MineParams) -> Vec<(ItemKey, Vec<Rule>)> {
    let mut names = Interner::default();
    let mut flat = Baskets::default();
    let mut scratch = Vec::new();
    for b in baskets {
        scratch.extend(b.iter().map(|s| names.id(s.as_ref())));
        flat.push(&mut scratch);
    }
    let mined = mine_ids(&flat, names.len(), p);
    name_rules(&mined, names.names(), key, p.max_rules_per_item)
}

// --- Suggestions -----------------------------------------------------------------------------------

/// The window's best sellers (baskets holding the SKU), most first: overall and per category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Popular {
    pub overall: Vec<(String, u32)>,
    pub by_category: std::collections::BTreeMap<String, Vec<(String, u32)>>,
}

impl Popular {
    /// Best sellers from `(sku, category, baskets)` counts: `overall` the top `top_overall`,
    /// each category its top `top_per_category` (ties by SKU).
    pub fn from_counts(mut counts: Vec<(String, String, u32)>, top_overall: usize, top_per_category: usize) -> Popular {
        counts.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut p = Popular::default();
        for (sku, cat, n) in counts {
            if p.overall.len() < top_overall {
                p.overall.push((sku.clone(), n));
            }
            let list = p.by_category.entry(cat).or_default();
            if list.len() < top_per_category {
                list.push((sku, n));
            }
        }
        p
    }
}

/// Why a SKU is suggested (rendered into words by `members::recommend`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Why {
    /// A SKU rule fired by something bought (or in the cart).
    Rule { rule: Rule },
    /// A category rule fired; the SKU is a best seller of the consequent category.
    CategoryRule { rule: Rule },
    /// Bought before, and the repurchase cycle says it is due.
    Due { interval_days: i64 },
    /// A best seller of a category the member prefers.
    Preferred { category: String, share_bp: u32 },
    /// A best seller of the shop.
    Popular { baskets: u32 },
}

/// One scored suggestion: higher scores first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scored {
    pub sku: String,
    pub score: u64,
    pub why: Why,
}

/// One entry per SKU: the best score (`sum` false) or the sum of its scores (`sum` true), with
/// the reason of its best one; returns the top `k` (score descending, then SKU).
fn top_k(cands: Vec<Scored>, k: usize, sum: bool) -> Vec<Scored> {
    let mut best: std::collections::BTreeMap<String, (Scored, u64)> = std::collections::BTreeMap::new();
    for c in cands {
        match best.get_mut(&c.sku) {
            Some((b, total)) => {
                *total += c.score;
                if c.score > b.score {
                    *b = c;
                }
            }
            None => {
                let s = c.score;
                best.insert(c.sku.clone(), (c, s));
            }
        }
    }
    let best = best.into_iter().map(|(k, (mut b, total))| {
        if sum {
            b.score = total;
        }
        (k, b)
    });
    let best: std::collections::BTreeMap<String, Scored> = best.collect();
    let mut out: Vec<Scored> = best.into_values().collect();
    out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
    out.truncate(k);
    out
}

fn key_name(k: &ItemKey) -> &str {
    match k {
        ItemKey::Sku(s) | ItemKey::Category(s) => s,
    }
}

/// Add-ons for an open cart (or "also bought" for one SKU: a cart of one): the consequents of
/// the cart's SKU rules not in the cart, by lift; then, to fill up to `k`, a best seller of each
/// consequent category of the cart's category rules, by lift, after every SKU rule. `rules`
/// holds the rule sets of the cart's SKUs and categories (absent = none).
pub fn cart_addons(
    cart_skus: &[String],
    cart_categories: &[String],
    rules: &std::collections::BTreeMap<ItemKey, Vec<Rule>>,
    popular: &Popular,
    k: usize,
) -> Vec<Scored> {
    let in_cart = |s: &str| cart_skus.iter().any(|c| c == s);
    let mut cands = Vec::new();
    for sku in cart_skus {
        for r in rules.get(&ItemKey::Sku(sku.clone())).into_iter().flatten() {
            let b = key_name(&r.consequent);
            if !in_cart(b) {
                // SKU rules rank above every category rule: lift + 2^32.
                cands.push(Scored { sku: b.to_string(), score: (1u64 << 32) + u64::from(r.lift_milli()), why: Why::Rule { rule: r.clone() } });
            }
        }
    }
    for cat in cart_categories {
        for r in rules.get(&ItemKey::Category(cat.clone())).into_iter().flatten() {
            let best = popular.by_category.get(key_name(&r.consequent)).into_iter().flatten().find(|(s, _)| !in_cart(s));
            if let Some((s, _)) = best {
                cands.push(Scored { sku: s.clone(), score: u64::from(r.lift_milli()), why: Why::CategoryRule { rule: r.clone() } });
            }
        }
    }
    top_k(cands, k, false)
}

/// One purchase line of a member, as personal suggestions read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastLine {
    /// Whole days before the day suggestions are made for (0 = that day).
    pub days_ago: u32,
    pub sku: String,
    pub category: String,
    /// Net paid, fen (returns netted).
    pub net_fen: i64,
}

/// What personal suggestions are made from.
#[derive(Debug, Clone, Copy)]
pub struct PersonalInput<'a> {
    /// The member's purchase lines in the window.
    pub lines: &'a [PastLine],
    /// Rule sets of the SKUs and categories of the member's recent lines (absent = none).
    pub rules: &'a std::collections::BTreeMap<ItemKey, Vec<Rule>>,
    pub popular: &'a Popular,
    /// SKUs the member bought whose repurchase is due, with their interval in days.
    pub due: &'a std::collections::BTreeMap<String, i64>,
    pub recent_days: u32,
    pub half_life_days: u32,
}

/// Preferred categories considered, and best sellers taken from each.
const PREFERRED_CATEGORIES: usize = 3;
const PREFERRED_SKUS: usize = 2;

/// Personal suggestions, best `k`. A SKU's score is the sum of the scores of every signal naming
/// it (signals that agree add up), its reason the strongest of them. Signals and scores:
/// - consequents of SKU rules fired by SKUs bought in the last `recent_days`: confidence (bp),
///   the best of the rules that name the SKU;
/// - SKUs whose repurchase is due: 6000 (as strong as a 60 % rule);
/// - a best seller of the consequent category of a category rule fired by a recent category:
///   half its confidence;
/// - the best sellers of the member's top three categories by recency-weighted spend
///   (`profile::category_preferences`): a quarter of the share (at most 2500);
/// - the shop's best sellers, to fill up: 1.
///
/// A SKU bought in the last `recent_days` is never suggested unless its repurchase is due.
pub fn personal(input: &PersonalInput, k: usize) -> Vec<Scored> {
    let recent: Vec<&PastLine> = input.lines.iter().filter(|l| l.days_ago < input.recent_days).collect();
    let excluded = |s: &str| recent.iter().any(|l| l.sku == s) && !input.due.contains_key(s);
    let mut cands = Vec::new();
    let mut seen_sku = std::collections::BTreeSet::new();
    let mut seen_cat = std::collections::BTreeSet::new();
    for l in &recent {
        if seen_sku.insert(l.sku.as_str()) {
            for r in input.rules.get(&ItemKey::Sku(l.sku.clone())).into_iter().flatten() {
                cands.push(Scored { sku: key_name(&r.consequent).to_string(), score: u64::from(r.confidence_bp()), why: Why::Rule { rule: r.clone() } });
            }
        }
        if !l.category.is_empty() && seen_cat.insert(l.category.as_str()) {
            for r in input.rules.get(&ItemKey::Category(l.category.clone())).into_iter().flatten() {
                let best = input.popular.by_category.get(key_name(&r.consequent)).into_iter().flatten().find(|(s, _)| !excluded(s));
                if let Some((s, _)) = best {
                    cands.push(Scored { sku: s.clone(), score: u64::from(r.confidence_bp() / 2), why: Why::CategoryRule { rule: r.clone() } });
                }
            }
        }
    }
    for (sku, interval) in input.due {
        cands.push(Scored { sku: sku.clone(), score: 6000, why: Why::Due { interval_days: *interval } });
    }
    let spend: Vec<super::profile::SpendLine> = input
        .lines
        .iter()
        .filter(|l| !l.category.is_empty())
        .map(|l| super::profile::SpendLine { days_ago: l.days_ago, category: l.category.clone(), net_fen: l.net_fen })
        .collect();
    for share in super::profile::category_preferences(&spend, input.half_life_days).into_iter().take(PREFERRED_CATEGORIES) {
        let best = input.popular.by_category.get(&share.category).into_iter().flatten().filter(|(s, _)| !excluded(s)).take(PREFERRED_SKUS);
        for (s, _) in best {
            cands.push(Scored { sku: s.clone(), score: u64::from(share.share_bp / 4), why: Why::Preferred { category: share.category.clone(), share_bp: share.share_bp } });
        }
    }
    for (s, n) in &input.popular.overall {
        cands.push(Scored { sku: s.clone(), score: 1, why: Why::Popular { baskets: *n } });
    }
    top_k(cands.into_iter().filter(|c| !excluded(&c.sku)).collect(), k, true)
}

/// The popularity baseline of the evaluation: the shop's `k` best sellers the member did not buy
/// in the last `recent_days`.
pub fn popular_for(lines: &[PastLine], popular: &Popular, recent_days: u32, k: usize) -> Vec<String> {
    let recent = |s: &str| lines.iter().any(|l| l.days_ago < recent_days && l.sku == s);
    popular.overall.iter().filter(|(s, _)| !recent(s)).take(k).map(|(s, _)| s.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 baskets; 20 hold 奶粉, 10 hold 奶瓶, 8 hold both.
    #[test]
    fn support_confidence_and_lift_from_counts() {
        let r = Rule {
            antecedent: ItemKey::Sku("MILK-POWDER".into()),
            consequent: ItemKey::Sku("BOTTLE".into()),
            both: 8,
            antecedent_baskets: 20,
            consequent_baskets: 10,
            baskets: 100,
        };
        assert_eq!(r.support_bp(), 800); // 8 %
        assert_eq!(r.confidence_bp(), 4000); // 8 of 20 = 40 %
        assert_eq!(r.lift_milli(), 4000); // 0.40 / 0.10 = 4.0
        let empty = Rule { both: 0, antecedent_baskets: 0, consequent_baskets: 0, baskets: 0, ..r };
        assert_eq!((empty.support_bp(), empty.confidence_bp(), empty.lift_milli()), (0, 0, 0));
    }

    /// Ten baskets over 奶粉 F, 奶瓶 B, 尿布 D, 面包 R:
    /// FBD, FB, FD, FBR, R, RD, R, B, FBDR, R. Counts F 5, B 5, D 4, R 6; pairs FB 4, FD 3,
    /// FR 2, BD 2, BR 2, DR 2.
    fn table() -> Vec<Vec<&'static str>> {
        let b = |s: &'static str| s.split(' ').collect::<Vec<_>>();
        vec![b("F B D"), b("F B"), b("F D"), b("F B R"), b("R"), b("R D"), b("R"), b("B"), b("F B D R"), b("R")]
    }

    fn sku(s: &str) -> ItemKey {
        ItemKey::Sku(s.into())
    }

    fn params(min_support_bp: u32, min_confidence_bp: u32, min_lift_milli: u32, k: usize) -> MineParams {
        MineParams { min_support_bp, min_confidence_bp, min_lift_milli, max_rules_per_item: k }
    }

    /// Support 25 % → floor ⌈2.5⌉ = 3 baskets: FB (4) and FD (3) pass, the rest (2) do not.
    /// F → B: support 4/10 = 40 %, confidence 4/5 = 80 %, lift 4·10/(5·5) = 1.6.
    /// F → D: confidence 3/5 = 60 %, lift 3·10/(5·4) = 1.5; D → F: confidence 3/4 = 75 %.
    #[test]
    fn mined_rules_carry_the_worked_counts() {
        let rules = mine_named(&table(), ItemKey::Sku, &params(2500, 5000, 1100, 10));
        let get = |a: &str| rules.iter().find(|(k, _)| *k == sku(a)).map(|(_, r)| r.clone()).unwrap_or_default();
        let f = get("F");
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].consequent.clone(), f[0].both, f[0].antecedent_baskets, f[0].consequent_baskets, f[0].baskets), (sku("B"), 4, 5, 5, 10));
        assert_eq!((f[0].support_bp(), f[0].confidence_bp(), f[0].lift_milli()), (4000, 8000, 1600));
        assert_eq!((f[1].consequent.clone(), f[1].support_bp(), f[1].confidence_bp(), f[1].lift_milli()), (sku("D"), 3000, 6000, 1500));
        let d = get("D");
        assert_eq!((d.len(), d[0].consequent.clone(), d[0].confidence_bp(), d[0].lift_milli()), (1, sku("F"), 7500, 1500));
        assert_eq!(get("B").iter().map(|r| r.consequent.clone()).collect::<Vec<_>>(), vec![sku("F")]);
        assert!(get("R").is_empty());
    }

    /// Each threshold is inclusive and exact: confidence 76 % drops F → D (60 %) and D → F
    /// (75 %); lift exactly 1.6 keeps F → B (1.6) and drops F → D (1.5); support 31 % (floor 4)
    /// keeps only FB; K = 1 keeps F's strongest rule only.
    #[test]
    fn thresholds_and_top_k() {
        let ants = |p: MineParams| {
            mine_named(&table(), ItemKey::Sku, &p).into_iter().flat_map(|(_, r)| r).map(|r| (r.antecedent, r.consequent)).collect::<Vec<_>>()
        };
        let fb = vec![(sku("B"), sku("F")), (sku("F"), sku("B"))];
        assert_eq!(ants(params(2500, 7600, 1000, 10)), fb);
        assert_eq!(ants(params(2500, 0, 1600, 10)), fb);
        assert_eq!(ants(params(3100, 0, 0, 10)), fb);
        let top1 = mine_named(&table(), ItemKey::Sku, &params(2500, 0, 0, 1));
        assert_eq!(top1.iter().find(|(k, _)| *k == sku("F")).map(|(_, r)| (r.len(), r[0].consequent.clone())), Some((1, sku("B"))));
    }

    /// Apriori pruning: with support 50 % (floor 5) only F (5), B (5) and R (6) are frequent, so
    /// only their three pairs are counted; a floor never goes below two baskets.
    #[test]
    fn pairs_of_infrequent_items_are_never_counted() {
        let mut names = Interner::default();
        let mut flat = Baskets::default();
        for b in table() {
            let mut ids: Vec<u32> = b.iter().map(|s| names.id(s)).collect();
            flat.push(&mut ids);
        }
        assert_eq!((flat.len(), flat.lines()), (10, 20));
        let m = mine_ids(&flat, names.len(), &params(5000, 0, 0, 10));
        assert_eq!((m.baskets, m.frequent_items, m.pairs_counted), (10, 3, 3));
        assert!(m.rules.is_empty()); // FB has 4 < 5 baskets
        assert_eq!(support_floor(1, 10), MIN_PAIR_BASKETS);
        assert_eq!(support_floor(2500, 10), 3);
    }

    fn rule(a: ItemKey, c: ItemKey, both: u32, na: u32, nc: u32) -> Rule {
        Rule { antecedent: a, consequent: c, both, antecedent_baskets: na, consequent_baskets: nc, baskets: 10 }
    }

    /// The table's rules F → B (80 %, lift 1.6) and F → D (60 %, 1.5), a category rule
    /// 母婴 → 食品 (3 of 母婴's 5 baskets = 60 %, lift 10·3/(5·6) = 1.0), best sellers R 6, F 5, B 5, D 4.
    fn world() -> (std::collections::BTreeMap<ItemKey, Vec<Rule>>, Popular) {
        let cat = |s: &str| ItemKey::Category(s.into());
        let mut rules = std::collections::BTreeMap::new();
        rules.insert(sku("F"), vec![rule(sku("F"), sku("B"), 4, 5, 5), rule(sku("F"), sku("D"), 3, 5, 4)]);
        rules.insert(cat("母婴"), vec![rule(cat("母婴"), cat("食品"), 3, 5, 6)]);
        let counts = vec![("R".into(), "食品".into(), 6), ("F".into(), "母婴".into(), 5), ("B".into(), "母婴".into(), 5), ("D".into(), "母婴".into(), 4)];
        (rules, Popular::from_counts(counts, 10, 10))
    }

    /// Cart [F]: B (lift 1.6) before D (1.5), then the category rule's best seller R.
    #[test]
    fn cart_addons_by_lift_then_category_rules() {
        let (rules, popular) = world();
        let got = cart_addons(&["F".into()], &["母婴".into()], &rules, &popular, 3);
        assert_eq!(got.iter().map(|s| s.sku.as_str()).collect::<Vec<_>>(), vec!["B", "D", "R"]);
        assert!(matches!(&got[2].why, Why::CategoryRule { rule } if rule.consequent == ItemKey::Category("食品".into())));
        assert!(cart_addons(&["F".into(), "B".into(), "D".into()], &[], &rules, &popular, 3).is_empty());
    }

    /// The member bought F 3 days ago and B 10 days ago (recent: never suggested again), R 100
    /// days ago, ¥10 each. Half-life 60 days: weights 0.966, 0.891, 0.315, so 母婴 has 85.50 % of
    /// the weighted spend (quarter: 2137) and 食品 14.50 % (362).
    /// D: F → D (60 % → 6000) + best seller of preferred 母婴 (2137) + best seller (1) = 8138.
    /// R: 母婴 → 食品 (60 %, halved → 3000) + preferred 食品 (362) + best seller (1) = 3363.
    /// With B due again (every 14 days) it comes back: F → B 8000 + due 6000 + preferred 2137 +
    /// best seller 1 = 16 138, its reason the strongest signal, F → B.
    #[test]
    fn personal_suggestions_fire_rules_and_skip_recent_buys_unless_due() {
        let (rules, popular) = world();
        let line = |days_ago, s: &str, c: &str| PastLine { days_ago, sku: s.into(), category: c.into(), net_fen: 1000 };
        let lines = vec![line(3, "F", "母婴"), line(10, "B", "母婴"), line(100, "R", "食品")];
        let none = std::collections::BTreeMap::new();
        let input = PersonalInput { lines: &lines, rules: &rules, popular: &popular, due: &none, recent_days: 30, half_life_days: 60 };
        let got = personal(&input, 5);
        assert_eq!(got.iter().map(|s| (s.sku.as_str(), s.score)).collect::<Vec<_>>(), vec![("D", 8138), ("R", 3363)]);
        assert!(matches!(&got[0].why, Why::Rule { rule } if rule.antecedent == sku("F")));
        let due: std::collections::BTreeMap<String, i64> = [("B".to_string(), 14)].into();
        let got = personal(&PersonalInput { due: &due, ..input }, 5);
        assert_eq!(got.iter().map(|s| s.sku.as_str()).collect::<Vec<_>>(), vec!["B", "D", "R"]);
        assert_eq!((got[0].score, matches!(&got[0].why, Why::Rule { rule } if rule.consequent == sku("B"))), (16_138, true));
        assert_eq!(popular_for(&lines, &popular, 30, 5), vec!["R", "D"]);
    }
}
