//! The dashboard (概览): today's sales, tickets, average ticket and members' share, the hourly
//! chart, top products, low-stock alerts, the device health board, the link to HQ and the
//! outbox, and the member service tickets (open, overdue, the most overdue; `web::tickets`). The figures come from `reports::dashboard` (cached until the next commit); devices
//! and the link are read live. The page updates itself from `GET /api/v1/dashboard/events`
//! (server-sent events: the same fragments, pushed when the store commits, at most once a
//! second, and every 15 s for the devices and the link; each stream ends after 30 s and the
//! browser reconnects at once, so no stream holds a stopping server open) — no polling.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};
use serde::Serialize;

use super::auth::Identity;
use super::chart::{self, Unit};
use super::i18n::yuan;
use super::routes::{Need, RouteDef};
use super::{page, AppState, Lang, WebError};
use crate::devices::health::DeviceHealth;
use crate::domain::reports::{LowStockRow, ProductRow};
use crate::domain::staff::Action;
use crate::reports::dashboard::Cached;
use crate::reports::{DashboardFigures, ReportSetup};

/// Pushes of the event stream are at least this far apart.
pub const MIN_PUSH_GAP: Duration = Duration::from_secs(1);
/// With no commit, the stream still pushes this often (devices and the link change without
/// one).
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A stream ends after this long and the browser opens the next one at once (`retry`), so a
/// stopping server waits for no dashboard longer than this.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(30);
/// What the browser waits before it reconnects.
const RETRY: Duration = Duration::from_millis(500);

pub fn routes() -> Vec<RouteDef> {
    vec![
        RouteDef::get("/dashboard", Need::May(Action::ViewSales), "The dashboard (概览)", dashboard_page),
        RouteDef::get("/api/v1/dashboard/summary", Need::May(Action::ViewSales), "Today's figures, the devices and the link to HQ", summary).returns::<DashboardSummary>(),
        RouteDef::get(
            "/api/v1/dashboard/events",
            Need::May(Action::ViewSales),
            "Server-sent events: `summary` with the figures and the page's fragments, after each commit (at most once a second) and every 15 s",
            events,
        ),
    ]
}

/// One device on the health board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceRow {
    pub id: String,
    pub kind: String,
    pub protocol: String,
    pub lane: Option<String>,
    pub online: bool,
    /// When it came online or went offline.
    pub since: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub events: u64,
    pub errors: u64,
    /// A condition to look at (`paper_out`, `no_answer` …).
    pub status: Option<String>,
    pub last_error: Option<String>,
}

impl DeviceRow {
    fn of(h: &DeviceHealth) -> DeviceRow {
        DeviceRow {
            id: h.id.clone(),
            kind: h.kind.clone(),
            protocol: h.protocol.clone(),
            lane: h.lane.clone(),
            online: h.connected,
            since: h.since,
            last_event_at: h.last_event_at,
            events: h.events,
            errors: h.error_count(),
            status: h.status.clone(),
            last_error: h.last_error.clone(),
        }
    }
}

/// The link to HQ and what waits for it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkState {
    /// The MQTT relay runs in this process (`storehub run` starts it).
    pub relay: bool,
    /// `[mqtt].enabled`.
    pub enabled: bool,
    pub connected: bool,
    pub since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Events waiting in the outbox now, and their bytes.
    pub outbox_depth: u64,
    pub outbox_bytes: u64,
    /// Age of the oldest waiting event at the relay's last look.
    pub oldest_age_s: Option<i64>,
    /// The backlog alarm (business events alone over the disk budget).
    pub alarm: Option<String>,
}

/// `GET /api/v1/dashboard/summary`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DashboardSummary {
    pub figures: DashboardFigures,
    pub link: LinkState,
    /// `None` when no device hub runs in this process.
    pub devices: Option<Vec<DeviceRow>>,
    /// Member service tickets: unresolved, overdue, the most overdue (`web::tickets`).
    pub tickets: crate::members::tickets::TicketSummary,
}

/// The answer as sent: the cached figures' JSON spliced in as it is.
#[derive(Serialize)]
struct SummaryOut<'a> {
    figures: &'a serde_json::value::RawValue,
    link: LinkState,
    devices: Option<Vec<DeviceRow>>,
    tickets: crate::members::tickets::TicketSummary,
}

/// The devices now, or `None` without a device hub.
pub fn device_rows(state: &AppState) -> Option<Vec<DeviceRow>> {
    state.ctx.devices.get().map(|b| b.snapshot().iter().map(DeviceRow::of).collect())
}

/// The link now.
pub fn link_state(state: &AppState) -> LinkState {
    let usage = state.store.outbox_usage();
    let cloud = state.ctx.cloud.get().map(|c| c.snapshot());
    LinkState {
        relay: cloud.is_some(),
        enabled: cloud.as_ref().is_some_and(|c| c.enabled),
        connected: cloud.as_ref().is_some_and(|c| c.connected),
        since: cloud.as_ref().and_then(|c| c.since),
        last_error: cloud.as_ref().and_then(|c| c.last_error.clone()),
        outbox_depth: usage.count,
        outbox_bytes: usage.bytes,
        oldest_age_s: cloud.as_ref().and_then(|c| c.oldest_age_s),
        alarm: cloud.and_then(|c| c.alarm),
    }
}

/// Today's figures: from the cache when nothing was committed since, else computed (once, on a
/// blocking thread).
pub async fn current(state: &AppState) -> Result<Arc<Cached>, WebError> {
    if let Some(c) = state.summary.fresh(state.summary.key(&state.store)) {
        return Ok(c);
    }
    let cache = Arc::clone(&state.summary);
    state.blocking(move |store, ctx| Ok(cache.get(store, &ReportSetup::of(ctx))?)).await
}

async fn summary(State(state): State<AppState>) -> Result<Response, WebError> {
    let cached = current(&state).await?;
    let tickets = super::tickets::card(&state).await?;
    let out = SummaryOut { figures: &cached.json, link: link_state(&state), devices: device_rows(&state), tickets };
    let body = serde_json::to_vec(&out).map_err(|e| WebError::internal(format!("summary: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response())
}

/// Shop-local time of `t`: `14:05:09` today, `11-24 14:05` another day.
pub fn local_time(t: DateTime<Utc>, tz: chrono_tz::Tz, today: NaiveDate) -> String {
    let l = crate::clock::local(t, tz);
    if l.date() == today {
        l.format("%H:%M:%S").to_string()
    } else {
        l.format("%m-%d %H:%M").to_string()
    }
}

/// A count with thousands separators.
fn count(n: u64) -> String {
    Unit::Count.format(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The page's parts, each in its own element so the event stream can replace it.
struct Parts<'a> {
    lang: Lang,
    tz: chrono_tz::Tz,
    figures: &'a DashboardFigures,
    link: &'a LinkState,
    devices: &'a Option<Vec<DeviceRow>>,
    tickets: &'a crate::members::tickets::TicketSummary,
}

impl Parts<'_> {
    fn pick<'s>(&self, zh: &'s str, en: &'s str) -> &'s str {
        self.lang.pick(zh, en)
    }

    fn kpis(&self) -> Markup {
        let t = &self.figures.totals;
        let kpi = |label: &str, value: String, note: Option<String>| {
            html! {
                div.card.kpi {
                    div.label { (label) }
                    div.value { (value) }
                    @if let Some(n) = note { div.label { (n) } }
                }
            }
        };
        html! {
            (kpi(self.pick("今日销售额（净）", "Today's net sales"), yuan(t.net_sales_fen), Some(format!("{} {} · {} {}", self.pick("销售", "sales"), yuan(t.sales_fen), self.pick("退款", "refunds"), yuan(t.refunds_fen)))))
            (kpi(self.pick("客单数", "Tickets"), count(t.tickets), Some(format!("{} {} · {} {}", self.pick("退货", "returns"), count(t.returns), self.pick("作废", "voids"), count(t.voids)))))
            (kpi(self.pick("客单价", "Average ticket"), yuan(t.average_ticket_fen), None))
            (kpi(self.pick("会员销售占比", "Members' share of sales"), Unit::Bp.format(t.member_share_bp), Some(format!("{} {}", self.pick("会员销售", "member sales"), yuan(t.member_sales_fen)))))
        }
    }

    fn hourly(&self) -> Markup {
        let labels: Vec<String> = self.figures.hourly.iter().map(|h| h.hour.to_string()).collect();
        let values: Vec<i64> = self.figures.hourly.iter().map(|h| h.sales_fen).collect();
        page::trusted(chart::bars(self.pick("每小时销售额", "Sales by hour"), &labels, &values, Unit::Fen, chart::Size { width: 720, height: 180 }))
    }

    fn products(&self, rows: &[ProductRow], by_pieces: bool) -> Markup {
        html! {
            @if rows.is_empty() {
                p.muted { (self.pick("今天还没有销售", "No sales yet today")) }
            } @else {
                table {
                    thead { tr {
                        th { (self.pick("商品", "Product")) }
                        th.num { (if by_pieces { self.pick("件数", "Pieces") } else { self.pick("销量", "Sold") }) }
                        th.num { (self.pick("净销售额", "Net sales")) }
                    } }
                    tbody {
                        @for p in rows {
                            tr {
                                td { (self.lang.pick(&p.name_zh, &p.name_en)) " " span.muted { (p.sku) } }
                                td.num { (qty_text(p)) }
                                td.num { (yuan(p.net_fen)) }
                            }
                        }
                    }
                }
            }
        }
    }

    fn top(&self) -> Markup {
        html! {
            div.card {
                h2 { (self.pick("畅销商品（按销售额）", "Top products by sales")) }
                (self.products(&self.figures.top_by_sales, false))
            }
            div.card {
                h2 { (self.pick("畅销商品（按件数）", "Top products by pieces")) }
                (self.products(&self.figures.top_by_pieces, true))
            }
        }
    }

    fn low_stock(&self) -> Markup {
        let rows: &[LowStockRow] = &self.figures.low_stock;
        html! {
            h2 {
                (self.pick("库存预警", "Low stock"))
                @if self.figures.low_stock_total > 0 { " " span.badge.warn { (self.figures.low_stock_total) } }
            }
            @if rows.is_empty() {
                p.ok { (self.pick("没有低于补货点的商品", "Nothing is at or below its reorder point")) }
            } @else {
                table {
                    thead { tr {
                        th { (self.pick("商品", "Product")) }
                        th.num { (self.pick("现有库存", "On hand")) }
                        th.num { (self.pick("补货点", "Reorder point")) }
                    } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { (self.lang.pick(&r.name_zh, &r.name_en)) " " span.muted { (r.sku) } }
                                td.num.warn { (stock_text(r.on_hand, r.grams)) }
                                td.num { (stock_text(r.reorder_point, r.grams)) }
                            }
                        }
                    }
                }
                @if self.figures.low_stock_total > rows.len() as u64 {
                    p.muted { (self.pick("另有更多，见库存页", "More on the stock page")) }
                }
            }
        }
    }

    fn devices(&self) -> Markup {
        let today = self.figures.date;
        html! {
            h2 { (self.pick("设备状态", "Devices")) }
            @match self.devices {
                None => p.muted { (self.pick("本进程没有运行设备中心（storehub run 会启动它）", "No device hub runs in this process (storehub run starts it)")) },
                Some(list) if list.is_empty() => p.muted { (self.pick("没有配置设备", "No devices are configured")) },
                Some(list) => table {
                    thead { tr {
                        th { (self.pick("设备", "Device")) }
                        th { (self.pick("状态", "State")) }
                        th { (self.pick("最近事件", "Last event")) }
                    } }
                    tbody {
                        @for d in list {
                            tr {
                                td { (d.id) " " span.muted { (d.kind) @if let Some(l) = &d.lane { " · " (l) } } }
                                td {
                                    @if d.online { span.badge.ok { (self.pick("在线", "online")) } } @else { span.badge.bad { (self.pick("离线", "offline")) } }
                                    @if let Some(s) = &d.status { " " span.badge.warn { (s) } }
                                }
                                td { @match d.last_event_at { Some(t) => (local_time(t, self.tz, today)), None => span.muted { "—" } } }
                            }
                        }
                    }
                },
            }
        }
    }

    fn link(&self) -> Markup {
        let l = self.link;
        let today = self.figures.date;
        html! {
            h2 style="margin-top:.8rem" { (self.pick("云端连接与待发事件", "Link to HQ and outbox")) }
            @if let Some(alarm) = &l.alarm {
                p.error role="alert" { strong { (self.pick("告警：", "Alarm: ")) } (alarm) }
            }
            p {
                "MQTT: "
                @if !l.relay || !l.enabled {
                    span.badge { (self.pick("未启用", "off")) }
                } @else if l.connected {
                    span.badge.ok { (self.pick("已连接", "connected")) }
                } @else {
                    span.badge.bad { (self.pick("已断开", "disconnected")) }
                }
                @if let Some(t) = l.since { " " span.muted { (self.pick("自 ", "since ")) (local_time(t, self.tz, today)) } }
            }
            @if let Some(e) = &l.last_error { @if !l.connected { p.muted { (e) } } }
            p {
                (self.pick("待发事件：", "Waiting events: ")) strong { (count(l.outbox_depth)) }
                " (" (kib(l.outbox_bytes)) ")"
                @if let Some(age) = l.oldest_age_s { " · " (self.pick("最早 ", "oldest ")) (crate::cloud::backlog::format_age(age)) }
            }
        }
    }

    fn title(&self) -> Markup {
        html! { (self.pick("概览", "Dashboard")) " · " (self.figures.date.format("%Y-%m-%d")) }
    }

    /// Element id → fragment, for the page and the event stream alike.
    fn fragments(&self) -> [(&'static str, Markup); 7] {
        [
            ("dash-title", self.title()),
            ("dash-kpis", self.kpis()),
            ("dash-hourly", self.hourly()),
            ("dash-top", self.top()),
            ("dash-low", self.low_stock()),
            ("dash-devices", html! { (self.devices()) (self.link()) }),
            ("dash-tickets", super::tickets::card_fragment(self.lang, self.tz, self.figures.date, self.tickets)),
        ]
    }
}

fn kib(bytes: u64) -> String {
    if bytes < 10 * 1024 {
        format!("{bytes} B")
    } else {
        format!("{} KB", bytes / 1024)
    }
}

/// `3`, or `1.250 kg` for weighed goods.
fn qty_text(p: &ProductRow) -> String {
    match (p.pieces, p.grams) {
        (n, 0) => count(u64::try_from(n).unwrap_or(0)),
        (0, g) => grams_text(g),
        (n, g) => format!("{} + {}", count(u64::try_from(n).unwrap_or(0)), grams_text(g)),
    }
}

/// `1.250 kg`
pub fn grams_text(g: i64) -> String {
    let sign = if g < 0 { "-" } else { "" };
    let a = g.unsigned_abs();
    format!("{sign}{}.{:03} kg", a / 1000, a % 1000)
}

fn stock_text(v: i64, grams: bool) -> String {
    if grams {
        grams_text(v)
    } else {
        Unit::Count.format(v)
    }
}

async fn dashboard_page(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Result<Response, WebError> {
    let cached = current(&state).await?;
    let (link, devices) = (link_state(&state), device_rows(&state));
    let tickets = super::tickets::card(&state).await?;
    let parts = Parts { lang: me.lang, tz: state.ctx.tz, figures: &cached.figures, link: &link, devices: &devices, tickets: &tickets };
    let [title, kpis, hourly, top, low, devs, tix] = parts.fragments();
    let body = html! {
        h1 id=(title.0) { (title.1) }
        p.muted id="dash-live" data-live-text=(me.lang.pick("实时更新中", "Live")) data-lost-text=(me.lang.pick("连接中断，正在重连…", "Connection lost, reconnecting…")) {}
        section.grid id=(kpis.0) { (kpis.1) }
        section.card style="margin-top:.8rem" {
            h2 { (me.lang.pick("每小时销售额", "Sales by hour")) }
            div id=(hourly.0) { (hourly.1) }
        }
        section.grid style="margin-top:.8rem" id=(top.0) { (top.1) }
        section.grid style="margin-top:.8rem" {
            div.card id=(low.0) { (low.1) }
            div.card id=(devs.0) { (devs.1) }
        }
        @if crate::domain::staff::allows(me.staff.role, crate::domain::staff::Action::ManageCampaigns) {
            section.card style="margin-top:.8rem" id="campaigns-card" { (super::campaigns::dashboard_card(&state, me.lang).await?) }
        }
        section.card style="margin-top:.8rem" id=(tix.0) { (tix.1) }
        @if crate::domain::staff::allows(me.staff.role, crate::domain::staff::Action::WorkRestockTasks) {
            section.card style="margin-top:.8rem" id="stock-alerts-card" { (super::stock_tasks::dashboard_card(&state, &me).await?) }
        }
        @if crate::domain::staff::allows(me.staff.role, crate::domain::staff::Action::ViewStock) {
            section.card style="margin-top:.8rem" id="replenishment-card" { (super::replenishment::dashboard_card(&state, me.lang).await?) }
        }
        @if crate::domain::staff::allows(me.staff.role, crate::domain::staff::Action::ManageAttendance) {
            section.card style="margin-top:.8rem" id="attendance-card" { (super::attendance::dashboard_card(&state, &me).await?) }
        }
    };
    let title = me.lang.pick("概览", "Dashboard");
    Ok(page::render_with(&state, Some(&me), title, body, &["dashboard.js"]).into_response())
}

/// One push of the event stream: the figures, the link, the devices and the page's fragments
/// in the caller's language.
async fn payload(state: &AppState, lang: Lang) -> Result<String, WebError> {
    let cached = current(state).await?;
    let (link, devices) = (link_state(state), device_rows(state));
    let tickets = super::tickets::card(state).await?;
    let parts = Parts { lang, tz: state.ctx.tz, figures: &cached.figures, link: &link, devices: &devices, tickets: &tickets };
    let html: serde_json::Map<String, serde_json::Value> = parts.fragments().into_iter().map(|(id, m)| (id.to_string(), serde_json::Value::String(m.into_string()))).collect();
    #[derive(Serialize)]
    struct Push<'a> {
        figures: &'a serde_json::value::RawValue,
        link: &'a LinkState,
        devices: &'a Option<Vec<DeviceRow>>,
        tickets: &'a crate::members::tickets::TicketSummary,
        html: serde_json::Map<String, serde_json::Value>,
    }
    serde_json::to_string(&Push { figures: &cached.json, link: &link, devices: &devices, tickets: &tickets, html }).map_err(|e| WebError::internal(format!("dashboard event: {e}")))
}

struct Stream {
    state: AppState,
    lang: Lang,
    outbox: tokio::sync::watch::Receiver<u64>,
    opened: Instant,
    last: Option<Instant>,
}

async fn events(State(state): State<AppState>, Extension(me): Extension<Identity>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let outbox = state.store.watch_outbox();
    let start = Stream { state, lang: me.lang, outbox, opened: Instant::now(), last: None };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        if let Some(last) = s.last {
            // A commit, or the heartbeat; then no sooner than a second after the last push.
            let left = STREAM_LIFETIME.saturating_sub(s.opened.elapsed());
            match tokio::time::timeout(HEARTBEAT.min(left), s.outbox.changed()).await {
                Ok(Err(_)) => return None, // the store is gone: the server is stopping
                Err(_) if s.opened.elapsed() >= STREAM_LIFETIME => return None,
                _ => {}
            }
            let since = last.elapsed();
            if since < MIN_PUSH_GAP {
                tokio::time::sleep(MIN_PUSH_GAP - since).await;
            }
            s.outbox.borrow_and_update();
        }
        s.last = Some(Instant::now());
        let event = match payload(&s.state, s.lang).await {
            Ok(json) => Event::default().event("summary").retry(RETRY).data(json),
            Err(e) => Event::default().event("failed").retry(RETRY).data(e.message),
        };
        Some((Ok(event), s))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn weights_print_in_kilograms() {
        assert_eq!(super::grams_text(1_250), "1.250 kg");
        assert_eq!(super::grams_text(5), "0.005 kg");
        assert_eq!(super::grams_text(-2_000), "-2.000 kg");
        assert_eq!(super::kib(2_048), "2048 B");
        assert_eq!(super::kib(20_480), "20 KB");
    }
}
