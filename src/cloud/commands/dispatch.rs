//! The command names and, for each, its parse and apply (one file per command, mini-redis
//! style). Adding a command is a variant here and a file; the envelope, signature, idempotency
//! and holding logic in `commands/mod.rs` do not change.

use serde_json::{Map, Value};

use super::args::Refusal;
use super::{
    catalog_delete, catalog_upsert, config_patch, coupon_issue, diag_collect, member_upsert, message_status, order_ingest, ping, price_set,
    promotion_upsert, Context,
};
use crate::store::{Store, Tx, TxError};

/// Every command name the hub knows (the last level of `…/cmd/{name}`).
pub const NAMES: [&str; 11] = [
    "ping",
    "catalog.upsert",
    "catalog.delete",
    "price.set",
    "promotion.upsert",
    "coupon.issue",
    "member.upsert",
    "config.patch",
    "message.status",
    "order.ingest",
    "diag.collect",
];

/// A command with its arguments typed and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Ping,
    CatalogUpsert(catalog_upsert::Args),
    CatalogDelete(catalog_delete::Args),
    PriceSet(price_set::Args),
    PromotionUpsert(promotion_upsert::Args),
    CouponIssue(coupon_issue::Args),
    MemberUpsert(member_upsert::Args),
    ConfigPatch(config_patch::Args),
    MessageStatus(message_status::Args),
    OrderIngest(order_ingest::Args),
    DiagCollect(diag_collect::Args),
}

impl Command {
    /// Types and checks `args` for the command `name`. Pure: the store is not read, so a
    /// command refused here is refused whenever it is sent.
    pub fn parse(name: &str, args: &Value) -> Result<Command, Refusal> {
        Ok(match name {
            "ping" => {
                ping::parse(args)?;
                Command::Ping
            }
            "catalog.upsert" => Command::CatalogUpsert(catalog_upsert::parse(args)?),
            "catalog.delete" => Command::CatalogDelete(catalog_delete::parse(args)?),
            "price.set" => Command::PriceSet(price_set::parse(args)?),
            "promotion.upsert" => Command::PromotionUpsert(promotion_upsert::parse(args)?),
            "coupon.issue" => Command::CouponIssue(coupon_issue::parse(args)?),
            "member.upsert" => Command::MemberUpsert(member_upsert::parse(args)?),
            "config.patch" => Command::ConfigPatch(config_patch::parse(args)?),
            "message.status" => Command::MessageStatus(message_status::parse(args)?),
            "order.ingest" => Command::OrderIngest(order_ingest::parse(args)?),
            "diag.collect" => Command::DiagCollect(diag_collect::parse(args)?),
            other => {
                return Err(Refusal::whole(format!(
                    "unknown command {:?}; this hub knows {}",
                    other.chars().take(64).collect::<String>(),
                    NAMES.join(", ")
                )))
            }
        })
    }

    /// What a command needs built before its commit (only `diag.collect`: its bundle, read
    /// from the store and files, which must not happen inside a commit). Blocking.
    pub fn prepare(&self, store: &Store, ctx: &Context, id: &str) -> Result<Option<diag_collect::Prepared>, Refusal> {
        match self {
            Command::DiagCollect(a) => diag_collect::prepare(store, &ctx.diag, &ctx.topics, id, a).map(Some),
            _ => Ok(None),
        }
    }

    /// The command's effect inside `tx` (the caller writes its record in the same commit);
    /// the reply's command-specific fields. `prepared` is what [`Command::prepare`] built.
    pub fn apply(&self, tx: &Tx, ctx: &Context, prepared: Option<&diag_collect::Prepared>) -> Result<Map<String, Value>, TxError<Refusal>> {
        match self {
            Command::Ping => Ok(ping::apply(tx)),
            Command::CatalogUpsert(a) => catalog_upsert::apply(tx, a),
            Command::CatalogDelete(a) => catalog_delete::apply(tx, a),
            Command::PriceSet(a) => price_set::apply(tx, a),
            Command::PromotionUpsert(a) => promotion_upsert::apply(tx, a),
            Command::CouponIssue(a) => coupon_issue::apply(tx, a, ctx),
            Command::MemberUpsert(a) => member_upsert::apply(tx, a, ctx),
            Command::ConfigPatch(a) => config_patch::apply(tx, a),
            Command::MessageStatus(a) => message_status::apply(tx, a),
            Command::OrderIngest(a) => order_ingest::apply(tx, a, ctx),
            Command::DiagCollect(_) => diag_collect::apply(tx, prepared),
        }
    }

    /// What takes effect outside the store once the commit is done.
    pub fn after_commit(&self, ctx: &Context) {
        if let Command::ConfigPatch(a) = self {
            config_patch::apply_live(a, &ctx.live);
        }
    }
}
