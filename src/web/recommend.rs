//! Recommendations on the LAN: "also bought" for a SKU, a member's personal suggestions, the
//! add-ons for a lane's open cart (`/api/v1/…`), the suggestions section of the member page and
//! the add-on list of the cashier screen's member panel (`assets/cashier.js`). Everything is
//! decided by `members::recommend`; this module reads paths, calls it on a blocking thread and
//! shows the result with each suggestion's reason.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use maud::{html, Markup};
use serde::Serialize;

use super::auth::Identity;
use super::routes::{Need, RouteDef};
use super::{AppState, Lang, WebError};
use crate::domain::staff::Action;
use crate::members::recommend::{self as reco, RecommendError, Suggestion};

pub fn routes() -> Vec<RouteDef> {
    use Action::LookupMembers;
    vec![
        RouteDef::get("/api/v1/products/{sku}/also-bought", Need::May(LookupMembers), "Also bought: products bought with this SKU, each with its reason (support, confidence, lift)", api_also_bought)
            .returns::<SuggestionList>(),
        RouteDef::get("/api/v1/members/{id}/suggestions", Need::May(LookupMembers), "A member's personal suggestions, each with its reason", api_member).returns::<SuggestionList>(),
        RouteDef::get("/api/v1/lanes/{lane}/suggestions", Need::Lane(LookupMembers), "Add-ons for the lane's open cart, each with its reason", api_lane).returns::<SuggestionList>(),
    ]
}

/// Suggestions, best first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SuggestionList {
    pub suggestions: Vec<Suggestion>,
}

fn refused(lang: Lang, e: RecommendError) -> WebError {
    match e {
        RecommendError::UnknownSku(s) => WebError::not_found(lang.pick(&format!("没有商品 {s}"), &format!("no product {s}"))),
        RecommendError::UnknownMember(m) => WebError::not_found(lang.pick(&format!("没有会员 {m}"), &format!("no member {m}"))),
        RecommendError::Store(e) => e.into(),
    }
}

async fn api_also_bought(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(sku): Path<String>) -> Result<Json<SuggestionList>, WebError> {
    let lang = me.lang;
    let suggestions = state.blocking(move |store, _| reco::also_bought(store, &sku, reco::SUGGESTIONS_SHOWN).map_err(|e| refused(lang, e))).await?;
    Ok(Json(SuggestionList { suggestions }))
}

/// A member's suggestions for today (blocking callers: the member page).
pub async fn for_member(state: &AppState, lang: Lang, id: u64) -> Result<Vec<Suggestion>, WebError> {
    state
        .blocking(move |store, ctx| {
            let today = crate::clock::local(store.clock().now(), ctx.recommend.tz).date();
            reco::member_suggestions(store, &ctx.recommend, id, today, reco::SUGGESTIONS_SHOWN).map_err(|e| refused(lang, e))
        })
        .await
}

async fn api_member(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<SuggestionList>, WebError> {
    let lang = me.lang;
    let id = id.parse::<u64>().map_err(|_| WebError::not_found(lang.pick(&format!("没有会员 {id}"), &format!("no member {id}"))))?;
    Ok(Json(SuggestionList { suggestions: for_member(&state, lang, id).await? }))
}

async fn api_lane(State(state): State<AppState>, Path(lane): Path<String>) -> Result<Json<SuggestionList>, WebError> {
    let suggestions = state
        .blocking(move |store, ctx| {
            let setup = ctx.checkout.as_ref().ok_or_else(|| WebError::not_found("this hub has no lanes ([[lanes]] in the config)"))?;
            let lanes = ctx.lanes.get(store, setup, &ctx.layouts).map_err(WebError::internal)?;
            let cart = lanes.cart(&lane).map_err(|e| WebError::not_found(e.to_string()))?;
            let mut skus: Vec<String> = cart.lines.iter().map(|l| l.sku.clone()).collect();
            skus.dedup();
            if skus.is_empty() {
                return Ok(Vec::new());
            }
            Ok(reco::cart_suggestions(store, &skus, reco::SUGGESTIONS_SHOWN)?)
        })
        .await?;
    Ok(Json(SuggestionList { suggestions }))
}

/// The member page's section: each suggestion with its reason.
pub fn member_section(lang: Lang, list: &[Suggestion]) -> Markup {
    html! {
        section.card #suggestions {
            h2 { (lang.pick("推荐商品", "Suggestions")) }
            @if list.is_empty() {
                p.muted { (lang.pick("暂无推荐：还没有挖掘出关联规则或该会员近期无消费。", "No suggestions yet: no rules mined, or no recent purchases.")) }
            } @else {
                table {
                    thead { tr { th { (lang.pick("商品", "Product")) } th { (lang.pick("理由", "Why")) } } }
                    tbody {
                        @for s in list {
                            tr {
                                td { (lang.pick(&s.name_zh, &s.name_en)) " " code { (s.sku) } }
                                td { (lang.pick(&s.reason_zh, &s.reason_en)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
