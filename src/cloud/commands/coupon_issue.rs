//! `coupon.issue` `{"template_id", "member_ids": [id, …], "campaign"?}`: one coupon of a
//! template to each of up to `coupons::MAX_ISSUE_BATCH` members of this store, in one commit
//! (`coupons::issue_in_tx`, which applies the template's per-member limit and reports who was
//! skipped). Every member id must exist here; an unknown one refuses the whole command. Coupon
//! codes reach HQ in the `storehub.coupon.issued` events, not in the reply.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::args::{batch, typed, Refusal};
use super::Context;
use crate::coupons::{self, CouponError, MAX_ISSUE_BATCH};
use crate::store::{codec, TreeId, Tx, TxError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    pub template_id: String,
    pub member_ids: Vec<u64>,
    #[serde(default)]
    pub campaign: Option<String>,
}

/// A template id and 1 to `MAX_ISSUE_BATCH` member ids.
pub fn parse(args: &Value) -> Result<Args, Refusal> {
    batch(args, "member_ids", "member ids", MAX_ISSUE_BATCH)?;
    let a: Args = typed(args)?;
    if a.template_id.trim().is_empty() {
        return Err(Refusal::at("args.template_id", "empty; expected a coupon template id"));
    }
    if let Some(c) = &a.campaign {
        if c.trim().is_empty() || c.chars().count() > 200 || c.chars().any(char::is_control) {
            return Err(Refusal::at("args.campaign", "expected 1 to 200 characters without control characters"));
        }
    }
    Ok(a)
}

/// Issues inside `tx`: `{"template_id", "issued": n, "skipped": [{"member_id", "reason", …}]}`.
pub fn apply(tx: &Tx, a: &Args, ctx: &Context) -> Result<Map<String, Value>, TxError<Refusal>> {
    for (i, id) in a.member_ids.iter().enumerate() {
        if tx.get_raw::<Refusal>(TreeId::Members, &codec::u64_key(*id))?.is_none() {
            return Err(TxError::Rejected(Refusal::at(format!("args.member_ids[{i}]"), format!("no member {id} in this store"))));
        }
    }
    let today = ctx.rules.today(tx.now());
    let summary = coupons::issue_in_tx(tx, &a.template_id, &a.member_ids, a.campaign.as_deref(), today).map_err(|e| {
        e.map_rejected(|e| match e {
            e @ (CouponError::UnknownTemplate(_)
            | CouponError::TemplateInactive(_)
            | CouponError::TemplateWindowOver { .. }
            | CouponError::DatesOutOfRange { .. }) => Refusal::at("args.template_id", e.to_string()),
            CouponError::Invalid { what: "campaign", message } => Refusal::at("args.campaign", message),
            other => Refusal::whole(other.to_string()),
        })
    })?;
    let mut m = Map::new();
    m.insert("template_id".into(), json!(a.template_id));
    m.insert("issued".into(), json!(summary.issued.len()));
    m.insert("skipped".into(), json!(summary.skipped));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_numbers() {
        let a = parse(&json!({"template_id": "T-10", "member_ids": [1, 2, 3]})).unwrap();
        assert_eq!(a.member_ids, vec![1, 2, 3]);
        assert_eq!(
            parse(&json!({"template_id": "T-10", "member_ids": [1, "2"]})).unwrap_err().error_text(),
            "args.member_ids[1]: invalid type: string \"2\", expected u64"
        );
        assert_eq!(parse(&json!({"template_id": "T-10", "member_ids": []})).unwrap_err().error_text(), "args.member_ids: no member ids given");
        assert_eq!(parse(&json!({"template_id": "", "member_ids": [1]})).unwrap_err().field.as_deref(), Some("args.template_id"));
        let many: Vec<u64> = (1..=10_001).collect();
        assert_eq!(
            parse(&json!({"template_id": "T-10", "member_ids": many})).unwrap_err().error_text(),
            "args.member_ids: 10001 member ids; at most 10000 per command: split the batch"
        );
    }
}
