//! Member merge (会员合并, 线上线下会员打通): one person, one member. `storehub member merge A B`
//! and the dashboard fold member A into member B keeping every ledger entry, coupon and sale,
//! with an audit record (`TreeId::MemberMerges`) and an outbox event, in one commit.
