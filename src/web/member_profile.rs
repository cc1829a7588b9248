//! The member preference profile (会员画像) on the LAN: its section on the member page
//! (`web::members` shows [`section`]) and `GET /api/v1/members/{id}/profile` (`LookupMembers`).
//! The profile itself is `members::profile` (kept up to date by every sale and return); this
//! module only reads and shows it, in zh-CN and English.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use maud::{html, Markup};

use super::auth::Identity;
use super::chart::{self, Unit};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::domain::staff::Action;
use crate::members::profile::ProfileView;

/// Categories shown in the chart.
const CATEGORIES_SHOWN: usize = 8;

pub fn routes() -> Vec<RouteDef> {
    vec![RouteDef::get(
        "/api/v1/members/{id}/profile",
        Need::May(Action::LookupMembers),
        "A member's preference profile: preferred categories, price sensitivity, preferred weekday and hour, channel mix, average basket, visits, last purchase",
        api_profile,
    )
    .returns::<ProfileView>()]
}

fn no_member(lang: Lang, typed: &str) -> WebError {
    WebError::not_found(lang.pick(&format!("没有会员 {typed}"), &format!("no member {typed}")))
}

/// The profile of member `id` (404 when there is no such member).
pub async fn load(state: &AppState, lang: Lang, id: u64) -> Result<ProfileView, WebError> {
    state
        .blocking(move |store, _| {
            if crate::members::member(store, id)?.is_none() {
                return Err(no_member(lang, &id.to_string()));
            }
            Ok(crate::members::profile::view(store, id)?)
        })
        .await
}

async fn api_profile(State(state): State<AppState>, Extension(me): Extension<Identity>, Path(id): Path<String>) -> Result<Json<ProfileView>, WebError> {
    let n = id.parse::<u64>().map_err(|_| no_member(me.lang, &id))?;
    load(&state, me.lang, n).await.map(Json)
}

fn weekday_text(lang: Lang, d: u32) -> &'static str {
    const ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    const EN: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    let i = (d.clamp(1, 7) - 1) as usize;
    lang.pick(ZH[i], EN[i])
}

fn pct(bp: i64) -> String {
    Unit::Bp.format(bp)
}

/// The profile section of the member page.
pub fn section(lang: Lang, p: &ProfileView) -> Markup {
    let s = &p.summary;
    let ps = &s.price_sensitivity;
    let shown: Vec<_> = s.categories.iter().take(CATEGORIES_SHOWN).collect();
    let labels: Vec<String> = shown.iter().map(|c| c.category.clone()).collect();
    let values: Vec<i64> = shown.iter().map(|c| i64::from(c.share_bp)).collect();
    html! {
        section.card #profile {
            h2 { (lang.pick("会员画像", "Preference profile")) }
            @if s.visits == 0 {
                p.muted { (lang.pick("还没有消费，暂无画像。", "No purchases yet, so no profile.")) }
            } @else {
                div.grid {
                    div {
                        h3 { (lang.pick("偏好品类", "Preferred categories")) }
                        @if shown.is_empty() {
                            p.muted { (lang.pick("无", "None")) }
                        } @else {
                            (page::trusted(chart::hbars(lang.pick("近期消费占比", "Share of recent spend"), &labels, &values, Unit::Bp, 480)))
                            p.muted {
                                (lang.pick(&format!("按消费金额，{} 天前的消费按一半计。", s.half_life_days), &format!("By spend; spend from {} days ago counts half.", s.half_life_days)))
                            }
                        }
                    }
                    dl.facts {
                        dt { (lang.pick("价格敏感度", "Price sensitivity")) }
                        dd {
                            strong { (pct(ps.deal_share_bp)) }
                            " " (lang.pick("的消费享受促销或用券", "of spend on a promotion or with a coupon"))
                            br;
                            span.muted {
                                (lang.pick("促销", "promotion")) " " (pct(ps.promotion_share_bp)) " · "
                                (lang.pick("用券", "coupon")) " " (pct(ps.coupon_share_bp)) " · "
                                (lang.pick("按商品行", "by lines")) " " (pct(ps.deal_lines_share_bp))
                            }
                        }
                        dt { (lang.pick("常来时段", "Usual time")) }
                        dd {
                            @if let Some(d) = s.preferred_weekday {
                                (weekday_text(lang, d)) " " span.muted { "(" (pct(s.preferred_weekday_share_bp)) ")" }
                            }
                            @if let Some(h) = s.preferred_hour {
                                " · " (format!("{h:02}:00–{:02}:00", (h + 1) % 24)) " " span.muted { "(" (pct(s.preferred_hour_share_bp)) ")" }
                            }
                        }
                        dt { (lang.pick("渠道构成", "Channel mix")) }
                        dd {
                            @for (i, c) in s.channels.iter().enumerate() {
                                @if i > 0 { " · " }
                                (lang.pick(c.channel.label_zh(), c.channel.label_en())) " " (pct(c.share_bp))
                                span.muted { " (" (c.tickets) ")" }
                            }
                        }
                        dt { (lang.pick("客单价", "Average basket")) }
                        dd { strong { (yuan(s.average_basket_fen)) } " · " (format!("{:.2}", s.average_items)) " " (lang.pick("件", "items")) }
                        dt { (lang.pick("消费次数", "Visits")) }
                        dd { (s.visits) " · " (lang.pick("净消费", "net spend")) " " (yuan(s.spend_fen)) }
                        dt { (lang.pick("最近消费", "Last purchase")) }
                        dd { (s.last_purchase.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "—".into())) }
                    }
                }
            }
        }
    }
}
