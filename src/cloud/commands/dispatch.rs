//! The command names and, for each, its parse and apply (one file per command, mini-redis
//! style). Adding a command is a variant here and a file; the envelope, signature, idempotency
//! and holding logic in `commands/mod.rs` do not change.

use serde_json::{Map, Value};

use super::args::Refusal;
use super::{
    catalog_delete, catalog_upsert, config_patch, coupon_issue, member_upsert, message_status, order_ingest, ping, price_set,
    promotion_upsert, Context,
};
use crate::store::{Tx, TxError};

/// Every command name the hub knows (the last level of `…/cmd/{name}`).
pub const NAMES: [&str; 10] = [
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
            other => {
                return Err(Refusal::whole(format!(
                    "unknown command {:?}; this hub knows {}",
                    other.chars().take(64).collect::<String>(),
                    NAMES.join(", ")
                )))
            }
        })
    }

    /// The command's effect inside `tx` (the caller writes its record in the same commit);
    /// the reply's command-specific fields.
    pub fn apply(&self, tx: &Tx, ctx: &Context) -> Result<Map<String, Value>, TxError<Refusal>> {
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
        }
    }

    /// What takes effect outside the store once the commit is done.
    pub fn after_commit(&self, ctx: &Context) {
        if let Command::ConfigPatch(a) = self {
            config_patch::apply_live(a, &ctx.live);
        }
    }
}
