//! Sales of channels other than the lanes (小程序, 外卖平台 …) for tests written before
//! `order.ingest` exists: a copy of a real lane sale, committed as HQ's online order would be —
//! a new sale id, the clock's time, its own channel and order id, no stock moves — with the
//! member's purchase statistics and preference profile updated in the same commit, as checkout
//! does for a lane sale.
#![allow(dead_code)]

use storehub::checkout::sale::Sale;
use storehub::domain::channel::SalesChannel;
use storehub::members::{LoyaltyRules, MemberError};
use storehub::store::{codec, Store, TreeId};

/// Commits a copy of `template` sold through `channel` (order id `T-<sale id>`) and returns it.
pub fn commit_channel_sale(store: &Store, template: &Sale, channel: SalesChannel, rules: &LoyaltyRules) -> Sale {
    store
        .commit(|tx| {
            let id = tx.next_seq(TreeId::Sales)?;
            let mut s = template.clone();
            s.id = id;
            s.receipt_no = format!("{}-{id}", channel.as_str());
            s.lane = channel.as_str().to_string();
            s.shift_id = None;
            s.at = tx.now();
            s.stock_moves = Vec::new();
            s.returned = Vec::new();
            s.refunded_fen = 0;
            s.channel = channel;
            s.order_id = Some(format!("T-{id}"));
            if let Some(m) = s.member_id {
                storehub::members::record_purchase_tx(tx, m, s.priced.total_fen, rules)?;
            }
            storehub::members::profile::record_sale_tx::<MemberError>(tx, &s, rules.timezone)?;
            tx.put(TreeId::Sales, &codec::u64_key(id), &s)?;
            Ok::<Sale, storehub::store::TxError<MemberError>>(s)
        })
        .unwrap_or_else(|e| panic!("committing a {channel:?} sale: {e:?}"))
}

/// A till on a durable store in a temp dir, on a manual clock at opening time (Wed 25 Nov 2026,
/// 17:00 in Shanghai): `products` loaded, a cashier (`wang`, signed in at lane-1) and a manager
/// (`li`), no tiers (so the only discounts are `promotions`), paid by bank card.
pub struct Till {
    pub dir: tempfile::TempDir,
    pub clock: storehub::clock::ManualClock,
    pub store: std::sync::Arc<Store>,
    pub lanes: std::sync::Arc<storehub::checkout::Lanes>,
    pub rules: storehub::checkout::SaleRules,
}

pub fn till(products: &[storehub::catalog::Product], promotions: Vec<storehub::domain::pricing::Promotion>) -> Till {
    use storehub::domain::staff::Role;
    let dir = tempfile::tempdir().unwrap();
    let clock = storehub::clock::ManualClock::new(super::opening_time());
    let store = std::sync::Arc::new(super::open_store(dir.path(), &clock, storehub::store::Durability::Durable));
    super::load(&store, products);
    let cost = storehub::staff::HashCost::minimal_for_tests();
    for (id, role) in [("wang", Role::Cashier), ("li", Role::Manager)] {
        storehub::staff::create_staff(&store, &storehub::staff::NewStaff { id: id.into(), name: id.into(), role }, "correct horse", None, &cost).unwrap();
    }
    let lanes = storehub::checkout::Lanes::open(std::sync::Arc::clone(&store), &["lane-1".to_string()], Vec::new(), 300).unwrap();
    lanes.sign_in("lane-1", &storehub::staff::StaffRef { id: "wang".into(), name: "王芳".into(), role: Role::Cashier }).unwrap();
    let mut loyalty = LoyaltyRules::default();
    loyalty.ladder.clear();
    let rules = storehub::checkout::SaleRules { cash_rounding: storehub::domain::tender::CashRounding::None, promotions, tz: chrono_tz::Asia::Shanghai, loyalty };
    Till { dir, clock, store, lanes, rules }
}

impl Till {
    /// Registers a member (in store) and gives their id.
    pub fn register(&self, phone: &str, name: &str) -> u64 {
        storehub::members::register(&self.store, &storehub::members::NewMember::in_store(phone, name), &self.rules.loyalty).unwrap().id
    }

    /// Sells `lines` (sku, pieces) at lane-1 to the member with `phone` (a guest without),
    /// paid in full by bank card.
    pub fn sell(&self, lines: &[(&str, i64)], phone: Option<&str>) -> Sale {
        for (sku, qty) in lines {
            self.lanes.add_sku("lane-1", sku, *qty).unwrap();
        }
        if let Some(p) = phone {
            self.lanes.attach_member("lane-1", p).unwrap();
        }
        let total = self.lanes.quote("lane-1", &self.rules).unwrap().total_fen;
        let pay = storehub::checkout::PayRequest {
            tenders: vec![storehub::domain::tender::Tender { kind: storehub::domain::tender::TenderKind::BankCard, amount_fen: total, reference: Some("POS-1".into()), points: None }],
        };
        self.lanes.pay("lane-1", &pay, &self.rules).unwrap()
    }

    /// Takes `qty` of line `line_no` of `sale` back (the manager, restocked).
    pub fn give_back(&self, sale: &Sale, line_no: u32, qty: i64) -> storehub::checkout::returns::SaleReturn {
        use storehub::checkout::returns::{return_items, ReturnLineRequest, ReturnOf, ReturnRequest};
        let req = ReturnRequest { of: ReturnOf::Sale { sale_id: sale.id, lines: vec![ReturnLineRequest { line_no, qty }] }, lane: "lane-1".into(), by: "li".into(), restock: true, reason: "broken".into() };
        return_items(&self.store, &req, &self.rules.loyalty).unwrap()
    }

    /// Closes the lanes and the store (so the CLI can open the data dir) and gives the dir.
    pub fn close(self) -> tempfile::TempDir {
        let Till { dir, lanes, store, .. } = self;
        drop(lanes);
        drop(store);
        std::thread::sleep(std::time::Duration::from_millis(100));
        dir
    }
}
