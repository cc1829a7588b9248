//! Recommendations (推荐): the association-rule store and what reads it. The nightly mining run
//! (`[recommend]`) turns the window's sales baskets into rules (`domain::assoc`) and stores them
//! per antecedent in `TreeId::AssociationRules` (`i/<sku>`, `c/<category>` → [`RuleSet`]);
//! "also bought" for a SKU, add-on suggestions for an open cart and personal suggestions for a
//! member read them back. Every suggestion carries its reason in zh-CN and English. Also here:
//! the window reader every part shares (returns netted), what members ever bought (the campaign
//! target "bought X but never Y") and the offline evaluation. The arithmetic is
//! `domain::assoc`'s; this module reads, stores and words it. Docs: members-analytics.md
//! "Recommendations".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::checkout::sale::Sale;
use crate::config::RecommendConfig;
use crate::domain::assoc::{
    cart_addons, mine_ids, name_rules, personal, popular_for, Baskets, Interner, ItemKey, MineParams, PastLine, PersonalInput, Popular, Rule,
    Scored, Why,
};
use crate::domain::rfm::Occasion;
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

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

// --- Settings --------------------------------------------------------------------------------------

/// `[recommend]` with the shop's time zone and the repurchase reminder lead of `[analytics]`
/// (which SKUs count as due again).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendSettings {
    pub config: RecommendConfig,
    pub tz: chrono_tz::Tz,
    pub remind_days_before: u32,
}

impl Default for RecommendSettings {
    fn default() -> Self {
        RecommendSettings {
            config: RecommendConfig::default(),
            tz: chrono_tz::Asia::Shanghai,
            remind_days_before: crate::domain::rfm::RfmParams::default().remind_days_before,
        }
    }
}

impl RecommendSettings {
    pub fn from_config(c: &crate::config::Config) -> RecommendSettings {
        RecommendSettings { config: c.recommend, tz: c.timezone(), remind_days_before: c.analytics.remind_days_before }
    }

    /// The mining thresholds.
    pub fn params(&self) -> MineParams {
        MineParams {
            min_support_bp: self.config.min_support_bp,
            min_confidence_bp: self.config.min_confidence_bp,
            min_lift_milli: self.config.min_lift_milli,
            max_rules_per_item: self.config.max_rules_per_item as usize,
        }
    }

    /// First day of the `window_days` ending at `to` (both included).
    fn window_from(&self, to: NaiveDate) -> NaiveDate {
        to - chrono::Days::new(u64::from(self.config.window_days.max(1) - 1))
    }
}

/// Suggestions shown per list (cashier add-ons, member page, API default).
pub const SUGGESTIONS_SHOWN: usize = 5;

// --- Reading the window ----------------------------------------------------------------------------

/// One line of a sale as the recommendations see it: what is left after returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasketLine<'a> {
    pub sku: &'a str,
    pub category: &'a str,
    /// Net paid for the line minus what its returns refunded, fen.
    pub net_fen: i64,
}

/// One sale in the window with the lines that did not all come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketView<'a> {
    pub sale_id: u64,
    pub member_id: Option<u64>,
    /// Shop-local day of the sale.
    pub day: NaiveDate,
    pub lines: Vec<BasketLine<'a>>,
}

/// A scan from the newest sale back stops after this many sales in a row dated before the
/// window: sales are keyed by id in commit order, so older ones follow; the slack covers sales
/// committed a little out of time order (online orders carrying their order time).
pub const OLDER_IN_A_ROW: usize = 1000;

/// Calls `f` with every sale of the shop-local days `from..=to` whose lines did not all come
/// back (a line returned in full leaves the basket; a partly returned line stays, its net
/// reduced by its refunds). Reads newest first and stops [`OLDER_IN_A_ROW`] sales past the
/// window, so the cost is the window's sales, not the whole history. Returns the sales read.
pub fn for_each_basket(
    store: &Store,
    tz: chrono_tz::Tz,
    from: NaiveDate,
    to: NaiveDate,
    mut f: impl FnMut(&BasketView),
) -> Result<u64, StoreError> {
    let mut read = 0u64;
    let mut older = 0usize;
    for item in store.scan_rev::<Sale>(TreeId::Sales) {
        let (_, sale) = item?;
        read += 1;
        let day = crate::clock::local(sale.at, tz).date();
        if day < from {
            older += 1;
            if older >= OLDER_IN_A_ROW {
                break;
            }
            continue;
        }
        older = 0;
        if day > to {
            continue;
        }
        let mut lines = Vec::with_capacity(sale.lines.len());
        for l in &sale.lines {
            let back = sale.returned.iter().find(|r| r.line_no == l.line_no);
            if back.is_some_and(|r| r.qty >= l.qty.amount()) {
                continue;
            }
            let net = sale.priced.lines.iter().find(|p| p.line_no == l.line_no).map_or(0, |p| p.net_fen);
            lines.push(BasketLine { sku: &l.sku, category: &l.category, net_fen: net - back.map_or(0, |r| r.refunded_fen) });
        }
        if !lines.is_empty() {
            f(&BasketView { sale_id: sale.id, member_id: sale.member_id, day, lines });
        }
    }
    Ok(read)
}

// --- The nightly run -------------------------------------------------------------------------------

/// Outbox event of a finished mining run (data: [`RulesMinedEvent`], counts only).
pub const EVENT_RULES_MINED: &str = "storehub.recommend.rules_mined";
/// `meta` key of the latest run's summary.
pub const RUN_KEY: &[u8] = b"assoc_run";
/// `meta` key of the latest run's best sellers ([`Popular`]).
pub const POPULAR_KEY: &[u8] = b"assoc_popular";
/// Rule sets written per commit: a run never holds the commit lock for long.
pub const SETS_PER_COMMIT: usize = 500;
/// Best sellers kept overall and per category.
const POPULAR_OVERALL: usize = 50;
const POPULAR_PER_CATEGORY: usize = 10;

/// The summary of a mining run (`meta` `assoc_run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssocRun {
    /// The shop-local day the run was for (the window ends on it).
    pub day: NaiveDate,
    pub run_at: DateTime<Utc>,
    pub window_from: NaiveDate,
    /// Sales decoded (the window's plus the few past it that end the scan).
    pub sales_read: u64,
    /// Baskets in the window (N of the rules).
    pub baskets: u32,
    /// Σ distinct SKUs over baskets.
    pub lines: u64,
    /// Distinct SKUs and categories sold in the window.
    pub skus: u32,
    pub categories: u32,
    /// SKUs at or above the support floor (whose pairs were counted) and the pairs counted.
    pub frequent_skus: u32,
    pub sku_pairs: u64,
    pub sku_rules: u32,
    pub category_rules: u32,
    /// Rule sets stored (one per antecedent) and stale ones removed.
    pub rule_sets: u32,
    pub removed: u32,
    /// Reading and interning, mining, writing; and the whole run, ms.
    pub read_ms: u64,
    pub mine_ms: u64,
    pub took_ms: u64,
}

impl Record for AssocRun {
    const NAME: &'static str = "association rule run";
}

impl Record for Popular {
    const NAME: &'static str = "best sellers";
}

/// Data of `storehub.recommend.rules_mined`: counts only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesMinedEvent {
    pub day: NaiveDate,
    pub window_days: u32,
    pub baskets: u32,
    pub sku_rules: u32,
    pub category_rules: u32,
    pub rule_sets: u32,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn inf(e: CommitError<Infallible>) -> StoreError {
    e.into_store()
}

/// The nightly run for the shop-local `day`: reads the window's baskets, mines SKU and category
/// rules, replaces every stored rule set (commits of [`SETS_PER_COMMIT`]; stale sets removed),
/// stores the best sellers and the summary and emits `storehub.recommend.rules_mined` in the
/// last commit. Readers between two commits see some sets new and some old, never a torn one.
pub fn run(store: &Store, s: &RecommendSettings, day: NaiveDate) -> Result<AssocRun, StoreError> {
    let started = Instant::now();
    let from = s.window_from(day);
    let (mut skus, mut cats) = (Interner::default(), Interner::default());
    let (mut sku_baskets, mut cat_baskets) = (Baskets::default(), Baskets::default());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut sku_category: Vec<u32> = Vec::new();
    let sales_read = for_each_basket(store, s.tz, from, day, |basket| {
        for l in &basket.lines {
            let id = skus.id(l.sku);
            a.push(id);
            if !l.category.is_empty() {
                let c = cats.id(l.category);
                b.push(c);
                if sku_category.len() <= id as usize {
                    sku_category.resize(id as usize + 1, u32::MAX);
                }
                sku_category[id as usize] = c;
            }
        }
        sku_baskets.push(&mut a);
        cat_baskets.push(&mut b);
    })?;
    let read_ms = ms(started.elapsed());
    let t = Instant::now();
    let p = s.params();
    let mined = mine_ids(&sku_baskets, skus.len(), &p);
    let cat_mined = mine_ids(&cat_baskets, cats.len(), &p);
    let mut sets: Vec<RuleSet> = name_rules(&mined, skus.names(), ItemKey::Sku, p.max_rules_per_item)
        .into_iter()
        .chain(name_rules(&cat_mined, cats.names(), ItemKey::Category, p.max_rules_per_item))
        .map(|(antecedent, rules)| RuleSet { antecedent, rules })
        .collect();
    let counts = mined
        .single
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let cat = sku_category.get(i).and_then(|c| cats.names().get(*c as usize)).cloned().unwrap_or_default();
            (skus.names()[i].clone(), cat, *n)
        })
        .collect();
    let popular = Popular::from_counts(counts, POPULAR_OVERALL, POPULAR_PER_CATEGORY);
    let mine_ms = ms(t.elapsed());
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let rules_of = |kind: fn(&ItemKey) -> bool| sets.iter().filter(|s| kind(&s.antecedent)).map(|s| s.rules.len()).sum::<usize>();
    let (sku_rules, category_rules) = (rules_of(|k| matches!(k, ItemKey::Sku(_))), rules_of(|k| matches!(k, ItemKey::Category(_))));
    let new_keys: HashSet<Vec<u8>> = sets.iter().map(|s| rule_key(&s.antecedent)).collect();
    let stale: Vec<Vec<u8>> = store.keys_with_prefix(TreeId::AssociationRules, b"").filter(|k| k.as_ref().map_or(true, |k| !new_keys.contains(k))).collect::<Result<_, _>>()?;
    let rule_sets = count(sets.len());
    while sets.len() > SETS_PER_COMMIT {
        let chunk: Vec<RuleSet> = sets.drain(..SETS_PER_COMMIT).collect();
        store.commit(|tx| chunk.iter().try_for_each(|set| put_rule_set_tx::<Infallible>(tx, set))).map_err(inf)?;
    }
    let (head, last) = stale.split_at(stale.len().saturating_sub(SETS_PER_COMMIT));
    for chunk in head.chunks(SETS_PER_COMMIT) {
        store.commit(|tx| chunk.iter().try_for_each(|k| tx.remove::<Infallible>(TreeId::AssociationRules, k).map(|_| ()))).map_err(inf)?;
    }
    let event = RulesMinedEvent { day, window_days: s.config.window_days, baskets: mined.baskets, sku_rules: count(sku_rules), category_rules: count(category_rules), rule_sets };
    store
        .commit(|tx| {
            for set in &sets {
                put_rule_set_tx::<Infallible>(tx, set)?;
            }
            for k in last {
                tx.remove::<Infallible>(TreeId::AssociationRules, k)?;
            }
            let summary = AssocRun {
                day,
                run_at: tx.now(),
                window_from: from,
                sales_read,
                baskets: mined.baskets,
                lines: sku_baskets.lines() as u64,
                skus: count(skus.len()),
                categories: count(cats.len()),
                frequent_skus: mined.frequent_items,
                sku_pairs: mined.pairs_counted,
                sku_rules: event.sku_rules,
                category_rules: event.category_rules,
                rule_sets,
                removed: count(stale.len()),
                read_ms,
                mine_ms,
                took_ms: ms(started.elapsed()),
            };
            tx.put(TreeId::Meta, POPULAR_KEY, &popular)?;
            tx.put(TreeId::Meta, RUN_KEY, &summary)?;
            tx.emit(EVENT_RULES_MINED, None, &event)?;
            Ok(summary)
        })
        .map_err(inf)
}

/// The latest run's summary, if any.
pub fn latest_run(store: &Store) -> Result<Option<AssocRun>, StoreError> {
    store.get(TreeId::Meta, RUN_KEY)
}

/// The latest run's best sellers (empty before the first run).
pub fn popular(store: &Store) -> Result<Popular, StoreError> {
    Ok(store.get(TreeId::Meta, POPULAR_KEY)?.unwrap_or_default())
}

/// Stored rule sets, antecedent order; at most `limit`.
pub fn rule_sets(store: &Store, limit: usize) -> Result<Vec<RuleSet>, StoreError> {
    store.scan::<RuleSet>(TreeId::AssociationRules).take(limit).map(|r| r.map(|(_, s)| s)).collect()
}

// --- Suggestions -----------------------------------------------------------------------------------

/// One suggested product with its reason in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub sku: String,
    pub name_zh: String,
    pub name_en: String,
    /// Higher first; comparable within one list only.
    pub score: u64,
    /// `rule`, `category_rule`, `due`, `preferred` or `popular`.
    pub kind: String,
    pub reason_zh: String,
    pub reason_en: String,
}

/// Why a suggestion request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("no product {0}; check the SKU (`storehub catalog show`)")]
    UnknownSku(String),
    #[error("no member {0}; check the member id")]
    UnknownMember(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Names of products and categories, looked up once each.
struct Names<'a> {
    store: &'a Store,
    products: HashMap<String, (String, String)>,
    categories: Option<HashMap<String, (String, String)>>,
}

impl<'a> Names<'a> {
    fn new(store: &'a Store) -> Names<'a> {
        Names { store, products: HashMap::new(), categories: None }
    }

    fn product(&mut self, sku: &str) -> Result<(String, String), StoreError> {
        if let Some(n) = self.products.get(sku) {
            return Ok(n.clone());
        }
        let n = match crate::catalog::product(self.store, sku)? {
            Some(p) => (p.name_zh.clone(), if p.name_en.is_empty() { p.name_zh } else { p.name_en }),
            None => (sku.to_string(), sku.to_string()),
        };
        self.products.insert(sku.to_string(), n.clone());
        Ok(n)
    }

    fn category(&mut self, id: &str) -> Result<(String, String), StoreError> {
        if self.categories.is_none() {
            let all = crate::catalog::categories(self.store)?;
            self.categories = Some(
                all.into_iter()
                    .map(|c| {
                        let en = if c.name_en.is_empty() { c.name_zh.clone() } else { c.name_en };
                        let zh = if c.name_zh.is_empty() { c.id.clone() } else { c.name_zh };
                        (c.id, (zh, en))
                    })
                    .collect(),
            );
        }
        Ok(self.categories.as_ref().and_then(|m| m.get(id).cloned()).unwrap_or_else(|| (id.to_string(), id.to_string())))
    }

    fn item(&mut self, k: &ItemKey) -> Result<(String, String), StoreError> {
        match k {
            ItemKey::Sku(s) => self.product(s),
            ItemKey::Category(c) => self.category(c),
        }
    }
}

/// Lift 4100 → "4.1".
fn lift_text(milli: u32) -> String {
    format!("{}.{}", milli / 1000, milli % 1000 / 100)
}

/// Words for a scored suggestion: "买了 婴儿奶粉 的顾客 38% 也买 奶瓶, lift 4.1".
fn render(names: &mut Names, s: Scored) -> Result<Suggestion, StoreError> {
    let (name_zh, name_en) = names.product(&s.sku)?;
    let (kind, reason_zh, reason_en) = match &s.why {
        Why::Rule { rule } => {
            let (az, ae) = names.item(&rule.antecedent)?;
            let pct = rule.confidence_bp() / 100;
            let lift = lift_text(rule.lift_milli());
            ("rule", format!("买了 {az} 的顾客 {pct}% 也买 {name_zh}, lift {lift}"), format!("{pct}% of shoppers who bought {ae} also buy {name_en}, lift {lift}"))
        }
        Why::CategoryRule { rule } => {
            let ((az, ae), (cz, ce)) = (names.item(&rule.antecedent)?, names.item(&rule.consequent)?);
            let pct = rule.confidence_bp() / 100;
            let lift = lift_text(rule.lift_milli());
            (
                "category_rule",
                format!("买了 {az} 类商品的顾客 {pct}% 也买 {cz} 类, lift {lift}; {name_zh} 是该类热销"),
                format!("{pct}% of shoppers who bought {ae} also buy {ce}, lift {lift}; {name_en} sells best there"),
            )
        }
        Why::Due { interval_days } => (
            "due",
            format!("按购买周期（约 {interval_days} 天）该再买 {name_zh} 了"),
            format!("Due again: bought about every {interval_days} days"),
        ),
        Why::Preferred { category, share_bp } => {
            let (cz, ce) = names.category(category)?;
            let pct = share_bp / 100;
            ("preferred", format!("偏好 {cz}（消费占比 {pct}%），该类热销"), format!("Prefers {ce} ({pct}% of spend); a best seller there"))
        }
        Why::Popular { baskets } => ("popular", format!("本店热销（{baskets} 单）"), format!("A best seller here ({baskets} baskets)")),
    };
    Ok(Suggestion { sku: s.sku, name_zh, name_en, score: s.score, kind: kind.into(), reason_zh, reason_en })
}

fn render_all(store: &Store, scored: Vec<Scored>) -> Result<Vec<Suggestion>, StoreError> {
    let mut names = Names::new(store);
    scored.into_iter().map(|s| render(&mut names, s)).collect()
}

/// The stored rule sets of these antecedents.
fn rules_of(store: &Store, keys: impl IntoIterator<Item = ItemKey>) -> Result<BTreeMap<ItemKey, Vec<Rule>>, StoreError> {
    let mut out = BTreeMap::new();
    for k in keys {
        if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(k) {
            let rules = rules_for(store, slot.key())?;
            slot.insert(rules);
        }
    }
    Ok(out)
}

/// Add-ons for a cart holding `skus` (`domain::assoc::cart_addons`): SKU rules by lift, then
/// category rules' best sellers.
pub fn cart_suggestions(store: &Store, skus: &[String], k: usize) -> Result<Vec<Suggestion>, StoreError> {
    let mut cats = Vec::new();
    for s in skus {
        if let Some(p) = crate::catalog::product(store, s)? {
            if !p.category.is_empty() && !cats.contains(&p.category) {
                cats.push(p.category);
            }
        }
    }
    let keys = skus.iter().cloned().map(ItemKey::Sku).chain(cats.iter().cloned().map(ItemKey::Category));
    let rules = rules_of(store, keys.collect::<Vec<_>>())?;
    let scored = cart_addons(skus, &cats, &rules, &popular(store)?, k);
    render_all(store, scored)
}

/// "Also bought" for one SKU: the add-ons of a cart holding only it.
pub fn also_bought(store: &Store, sku: &str, k: usize) -> Result<Vec<Suggestion>, RecommendError> {
    if crate::catalog::product(store, sku)?.is_none() {
        return Err(RecommendError::UnknownSku(sku.to_string()));
    }
    Ok(cart_suggestions(store, &[sku.to_string()], k)?)
}

/// Member purchase lines in a window, every member: (member, day, sku, category, net).
struct MemberLines(BTreeMap<u64, Vec<(NaiveDate, String, String, i64)>>);

impl MemberLines {
    fn read(store: &Store, tz: chrono_tz::Tz, from: NaiveDate, to: NaiveDate) -> Result<MemberLines, StoreError> {
        let mut out: BTreeMap<u64, Vec<(NaiveDate, String, String, i64)>> = BTreeMap::new();
        for_each_basket(store, tz, from, to, |b| {
            if let Some(m) = b.member_id {
                let v = out.entry(m).or_default();
                v.extend(b.lines.iter().map(|l| (b.day, l.sku.to_string(), l.category.to_string(), l.net_fen)));
            }
        })?;
        Ok(MemberLines(out))
    }

    /// Per member (in map order), the SKUs bought per day as `rfm` occasions ("categories" =
    /// SKUs), so `rfm::repurchase` gives each member × SKU its repurchase cycle.
    fn sku_occasions(&self, until: NaiveDate) -> (Vec<u64>, Vec<Vec<Occasion>>) {
        let mut ids = Vec::with_capacity(self.0.len());
        let mut occ = Vec::with_capacity(self.0.len());
        for (m, lines) in &self.0 {
            ids.push(*m);
            let purchases = lines.iter().map(|(d, sku, _, net)| Occasion { date: *d, amount_fen: *net, coupon_fen: 0, promo_fen: 0, categories: vec![sku.clone()] });
            occ.push(crate::domain::rfm::occasions(purchases, until));
        }
        (ids, occ)
    }
}

/// SKUs due again per member at `as_of`, with their interval in days.
fn due_by_member(lines: &MemberLines, as_of: NaiveDate, remind_days_before: u32) -> HashMap<u64, BTreeMap<String, i64>> {
    let (ids, occ) = lines.sku_occasions(as_of);
    let params = crate::domain::rfm::RfmParams { remind_days_before, ..Default::default() };
    let mut out: HashMap<u64, BTreeMap<String, i64>> = HashMap::new();
    for r in crate::domain::rfm::repurchase(&occ, as_of, &params).into_iter().filter(|r| r.due) {
        if let Some(m) = ids.get(r.member) {
            out.entry(*m).or_default().insert(r.category, r.interval_days);
        }
    }
    out
}

fn past_lines(lines: &[(NaiveDate, String, String, i64)], as_of: NaiveDate) -> Vec<PastLine> {
    lines
        .iter()
        .filter(|(d, ..)| *d <= as_of)
        .map(|(d, sku, cat, net)| PastLine {
            days_ago: u32::try_from((as_of - *d).num_days().max(0)).unwrap_or(u32::MAX),
            sku: sku.clone(),
            category: cat.clone(),
            net_fen: *net,
        })
        .collect()
}

/// The rule sets a member's recent lines fire.
fn recent_keys(lines: &[PastLine], recent_days: u32) -> Vec<ItemKey> {
    let mut keys: Vec<ItemKey> = lines
        .iter()
        .filter(|l| l.days_ago < recent_days)
        .flat_map(|l| [Some(ItemKey::Sku(l.sku.clone())), (!l.category.is_empty()).then(|| ItemKey::Category(l.category.clone()))])
        .flatten()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Personal suggestions for a member on the shop-local `today` (`domain::assoc::personal`):
/// their window's purchase lines, the stored rules their recent lines fire, the stored best
/// sellers, and the SKUs whose repurchase cycle (over every member's window) says due.
pub fn member_suggestions(store: &Store, s: &RecommendSettings, member_id: u64, today: NaiveDate, k: usize) -> Result<Vec<Suggestion>, RecommendError> {
    if super::member(store, member_id)?.is_none() {
        return Err(RecommendError::UnknownMember(member_id));
    }
    let all = MemberLines::read(store, s.tz, s.window_from(today), today)?;
    let mine = all.0.get(&member_id).map(|l| past_lines(l, today)).unwrap_or_default();
    let due = due_by_member(&all, today, s.remind_days_before).remove(&member_id).unwrap_or_default();
    let rules = rules_of(store, recent_keys(&mine, s.config.recent_days))?;
    let popular = popular(store)?;
    let input = PersonalInput { lines: &mine, rules: &rules, popular: &popular, due: &due, recent_days: s.config.recent_days, half_life_days: s.config.half_life_days };
    Ok(render_all(store, personal(&input, k))?)
}

// --- Offline evaluation ----------------------------------------------------------------------------

/// What `storehub analytics recommend-eval` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub train_from: NaiveDate,
    pub train_to: NaiveDate,
    pub holdout_from: NaiveDate,
    pub holdout_to: NaiveDate,
    /// Baskets the training rules were mined from, and the SKU rules found.
    pub train_baskets: u32,
    pub sku_rules: u32,
    /// Members with purchases in both periods (the ones scored).
    pub members: u32,
    pub k: u32,
    pub personal_hits: u32,
    pub popular_hits: u32,
    /// Hits over members, bp.
    pub personal_hit_rate_bp: u32,
    pub popular_hit_rate_bp: u32,
    pub took_ms: u64,
}

/// Time-split holdout: the last `split_days` days up to `today` are the holdout, the
/// `window_days` before them the training period. Rules and best sellers are mined from the
/// training baskets only; each member who bought in both periods gets `k` personal suggestions
/// and the `k` best sellers they did not buy in the last `recent_days` (the popularity
/// baseline), both as of the training period's last day; a hit is any suggested SKU bought in
/// the holdout. Writes nothing.
pub fn evaluate(store: &Store, s: &RecommendSettings, today: NaiveDate, split_days: u32, k: usize) -> Result<EvalReport, StoreError> {
    let started = Instant::now();
    let holdout_from = today - chrono::Days::new(u64::from(split_days.max(1) - 1));
    let train_to = holdout_from - chrono::Days::new(1);
    let train_from = s.window_from(train_to);
    let mut skus = Interner::default();
    let mut cats = Interner::default();
    let (mut sku_b, mut cat_b, mut a, mut c) = (Baskets::default(), Baskets::default(), Vec::new(), Vec::new());
    let mut sku_category: HashMap<String, String> = HashMap::new();
    let mut train: BTreeMap<u64, Vec<(NaiveDate, String, String, i64)>> = BTreeMap::new();
    let mut holdout: BTreeMap<u64, HashSet<String>> = BTreeMap::new();
    for_each_basket(store, s.tz, train_from, today, |b| {
        if b.day >= holdout_from {
            if let Some(m) = b.member_id {
                holdout.entry(m).or_default().extend(b.lines.iter().map(|l| l.sku.to_string()));
            }
            return;
        }
        for l in &b.lines {
            a.push(skus.id(l.sku));
            if !l.category.is_empty() {
                c.push(cats.id(l.category));
                sku_category.entry(l.sku.to_string()).or_insert_with(|| l.category.to_string());
            }
        }
        sku_b.push(&mut a);
        cat_b.push(&mut c);
        if let Some(m) = b.member_id {
            train.entry(m).or_default().extend(b.lines.iter().map(|l| (b.day, l.sku.to_string(), l.category.to_string(), l.net_fen)));
        }
    })?;
    let p = s.params();
    let mined = mine_ids(&sku_b, skus.len(), &p);
    let cat_mined = mine_ids(&cat_b, cats.len(), &p);
    let sku_rules: Vec<(ItemKey, Vec<Rule>)> = name_rules(&mined, skus.names(), ItemKey::Sku, p.max_rules_per_item);
    let rule_count = sku_rules.iter().map(|(_, r)| r.len()).sum::<usize>();
    let rules: BTreeMap<ItemKey, Vec<Rule>> = sku_rules.into_iter().chain(name_rules(&cat_mined, cats.names(), ItemKey::Category, p.max_rules_per_item)).collect();
    let counts = mined.single.iter().enumerate().map(|(i, n)| (skus.names()[i].clone(), sku_category.get(&skus.names()[i]).cloned().unwrap_or_default(), *n)).collect();
    let popular = Popular::from_counts(counts, POPULAR_OVERALL, POPULAR_PER_CATEGORY);
    let train = MemberLines(train);
    let mut due = due_by_member(&train, train_to, s.remind_days_before);
    let (mut members, mut personal_hits, mut popular_hits) = (0u32, 0u32, 0u32);
    let none = BTreeMap::new();
    for (m, bought) in &holdout {
        let Some(lines) = train.0.get(m) else { continue };
        let past = past_lines(lines, train_to);
        let due_m = due.remove(m);
        let input = PersonalInput {
            lines: &past,
            rules: &rules,
            popular: &popular,
            due: due_m.as_ref().unwrap_or(&none),
            recent_days: s.config.recent_days,
            half_life_days: s.config.half_life_days,
        };
        members += 1;
        if personal(&input, k).iter().any(|x| bought.contains(&x.sku)) {
            personal_hits += 1;
        }
        if popular_for(&past, &popular, s.config.recent_days, k).iter().any(|x| bought.contains(x)) {
            popular_hits += 1;
        }
    }
    let rate = |hits: u32| if members == 0 { 0 } else { u32::try_from(u64::from(hits) * 10_000 / u64::from(members)).unwrap_or(0) };
    Ok(EvalReport {
        train_from,
        train_to,
        holdout_from,
        holdout_to: today,
        train_baskets: mined.baskets,
        sku_rules: u32::try_from(rule_count).unwrap_or(u32::MAX),
        members,
        k: u32::try_from(k).unwrap_or(u32::MAX),
        personal_hits,
        popular_hits,
        personal_hit_rate_bp: rate(personal_hits),
        popular_hit_rate_bp: rate(popular_hits),
        took_ms: ms(started.elapsed()),
    })
}

// --- Campaign targets ------------------------------------------------------------------------------

/// What every member ever bought, as sorted SKU and category keys: member sales (lines returned
/// in full left out) and imported history rows (their category). For the campaign target
/// "bought X but never Y" (`domain::campaign::BoughtButNever`); scans every sale.
pub fn items_bought_by_members(store: &Store, tz: chrono_tz::Tz) -> Result<HashMap<u64, Vec<ItemKey>>, StoreError> {
    let mut sets: HashMap<u64, std::collections::BTreeSet<ItemKey>> = HashMap::new();
    for_each_basket(store, tz, NaiveDate::MIN, NaiveDate::MAX, |b| {
        if let Some(m) = b.member_id {
            let set = sets.entry(m).or_default();
            for l in &b.lines {
                set.insert(ItemKey::Sku(l.sku.to_string()));
                if !l.category.is_empty() {
                    set.insert(ItemKey::Category(l.category.to_string()));
                }
            }
        }
    })?;
    for p in store.scan::<super::history::PackedHistory>(TreeId::HistoryByMember) {
        let (key, packed) = p?;
        let member = crate::store::codec::key_u64(&key)?;
        for r in &packed.rows {
            if let Some(c) = packed.category(r)? {
                sets.entry(member).or_default().insert(ItemKey::Category(c.to_string()));
            }
        }
    }
    Ok(sets.into_iter().map(|(m, s)| (m, s.into_iter().collect())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule set (adjacently tagged `ItemKey`s inside) and the best sellers survive the record
    /// encoding.
    #[test]
    fn rule_sets_and_best_sellers_round_trip_through_the_codec() {
        let rule = Rule { antecedent: ItemKey::Sku("F".into()), consequent: ItemKey::Category("奶瓶".into()), both: 4, antecedent_baskets: 5, consequent_baskets: 5, baskets: 10 };
        let set = RuleSet { antecedent: ItemKey::Sku("F".into()), rules: vec![rule] };
        let bytes = crate::store::codec::encode(&set).unwrap();
        assert_eq!(crate::store::codec::decode::<RuleSet>(&bytes).unwrap(), set);
        let p = Popular::from_counts(vec![("A".into(), "c".into(), 3)], 5, 5);
        assert_eq!(crate::store::codec::decode::<Popular>(&crate::store::codec::encode(&p).unwrap()).unwrap(), p);
    }
}
