//! The page shell every HTML page shares: head (embedded CSS, the CSRF token for scripts), the
//! navigation the login's role may use, the language switch and logout, then the page body.
//! Pages call [`render`] with their title and body.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::auth::Identity;
use super::routes::Need;
use super::{AppState, Lang};
use crate::domain::staff::Action;

/// One entry of the navigation: shown only to roles that may open it.
struct NavItem {
    href: &'static str,
    zh: &'static str,
    en: &'static str,
    need: Need,
    /// Not shown to roles that may do this (they reach the page another way).
    hidden_with: Option<Action>,
}

const NAV: &[NavItem] = &[
    NavItem { href: "/dashboard", zh: "概览", en: "Dashboard", need: Need::May(Action::ViewSales), hidden_with: None },
    NavItem { href: "/members", zh: "会员", en: "Members", need: Need::May(Action::LookupMembers), hidden_with: None },
    NavItem { href: "/messages", zh: "消息", en: "Messages", need: Need::May(Action::ManageMessages), hidden_with: None },
    NavItem { href: "/tickets", zh: "服务工单", en: "Tickets", need: Need::May(Action::ManageTickets), hidden_with: None },
    NavItem { href: "/products", zh: "商品", en: "Products", need: Need::May(Action::ViewCatalog), hidden_with: None },
    NavItem { href: "/stock", zh: "库存", en: "Stock", need: Need::May(Action::ViewStock), hidden_with: None },
    // Cashiers who receive goods, count and restock but may not see stock figures: their stock
    // work starts at the tasks page, whose tabs lead to receiving and counting.
    NavItem { href: "/stock/tasks", zh: "仓务", en: "Stockroom", need: Need::May(Action::WorkRestockTasks), hidden_with: Some(Action::ViewStock) },
    NavItem { href: "/reports", zh: "报表", en: "Reports", need: Need::May(Action::ViewSales), hidden_with: None },
    NavItem { href: "/analytics", zh: "会员分析", en: "Analytics", need: Need::May(Action::ViewAnalytics), hidden_with: None },
    NavItem { href: "/staff", zh: "员工", en: "Staff", need: Need::May(Action::ManageStaff), hidden_with: None },
    NavItem { href: "/shifts", zh: "班次", en: "Shifts", need: Need::May(Action::OpenShift), hidden_with: None },
    NavItem { href: "/devices", zh: "设备", en: "Devices", need: Need::May(Action::ViewDevices), hidden_with: None },
    NavItem { href: "/system", zh: "系统", en: "System", need: Need::May(Action::Configure), hidden_with: None },
    NavItem { href: "/campaigns", zh: "营销", en: "Campaigns", need: Need::May(Action::ManageCampaigns), hidden_with: None },
    NavItem { href: "/staff/attendance", zh: "考勤", en: "Attendance", need: Need::May(Action::ClockIn), hidden_with: None },
    NavItem { href: "/staff/performance", zh: "员工绩效", en: "Performance", need: Need::May(Action::ClockIn), hidden_with: None },
];

/// A whole page: `title` in the tab and as the heading's context, `body` inside `<main>`.
pub fn render(state: &AppState, me: Option<&Identity>, title: &str, body: Markup) -> Markup {
    render_with(state, me, title, body, &[])
}

/// [`render`] with extra scripts (paths under `/assets/`), loaded deferred at the end.
pub fn render_with(state: &AppState, me: Option<&Identity>, title: &str, body: Markup, scripts: &[&str]) -> Markup {
    let lang = me.map_or(state.settings.default_lang, |m| m.lang);
    html! {
        (DOCTYPE)
        html lang=(lang.html_tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(me) = me {
                    meta name="csrf-token" content=(me.csrf);
                }
                title { (title) " · " (state.settings.store_name) }
                link rel="stylesheet" href=(super::assets::url("app.css"));
            }
            body {
                header.top {
                    a.brand href="/" { (state.settings.store_name) }
                    @if let Some(me) = me {
                        nav {
                            @if let Some(lane) = &me.lane {
                                a href=(format!("/cashier/{lane}")) { (lang.pick("收银", "Till")) " " (lane) }
                            }
                            @for item in NAV.iter().filter(|i| i.need.role_allowed(me.staff.role) && !i.hidden_with.is_some_and(|a| crate::domain::staff::allows(me.staff.role, a))) {
                                a href=(item.href) { (lang.pick(item.zh, item.en)) }
                            }
                        }
                        span.who { (me.staff.name) " · " (role_name(lang, me.staff.role)) }
                        form.inline method="post" action="/lang" {
                            input type="hidden" name="_csrf" value=(me.csrf);
                            input type="hidden" name="lang" value=(lang.other().html_tag());
                            button.link type="submit" { (lang.other().pick("中文", "English")) }
                        }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="_csrf" value=(me.csrf);
                            button.link type="submit" { (lang.pick("退出", "Log out")) }
                        }
                    }
                }
                @if me.is_some() {
                    @for (zh, en) in alarms(state) {
                        div.alarm role="alert" style="background:#fadbd8;color:#922b21;font-weight:bold;padding:.6rem 1rem;border:2px solid #922b21;margin:.5rem" { (lang.pick(&zh, &en)) }
                    }
                }
                main { (body) }
                script src=(super::assets::url("app.js")) defer {}
                @for s in scripts {
                    script src=(super::assets::url(s)) defer {}
                }
            }
        }
    }
}

/// The box's alarms every staff page shows on top (zh, en): the disk guard's (`disk_guard`) and
/// an untrusted clock (`clock_watch`). Cheap: an atomic, one statvfs, one point read.
fn alarms(state: &AppState) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let level = state.store.disk_level();
    if level != crate::domain::disk::DiskLevel::Ok {
        let free = crate::disk_guard::free_bytes(&state.store).unwrap_or(0);
        out.extend(crate::domain::disk::alarm_text(level, free));
    }
    if let Ok(v) = crate::clock_watch::peek(&state.store) {
        if !v.is_sane() {
            out.push((format!("系统时钟不可信（{}）：到期和休眠任务暂停，销售照常并按序号记录。请检查网络对时（NTP）。", v.describe()), v.describe()));
        }
    }
    out
}

/// A role's name in `lang`.
pub fn role_name(lang: Lang, role: crate::domain::staff::Role) -> &'static str {
    use crate::domain::staff::Role;
    match role {
        Role::Cashier => lang.pick("收银员", "Cashier"),
        Role::Manager => lang.pick("店长", "Manager"),
        Role::Technician => lang.pick("技术员", "Technician"),
        Role::Admin => lang.pick("管理员", "Admin"),
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(me: &Identity) -> Markup {
    html! { input type="hidden" name="_csrf" value=(me.csrf); }
}

/// A form field's error, shown next to it.
pub fn field_error(errors: &[(String, String)], field: &str) -> Markup {
    html! {
        @for (_, msg) in errors.iter().filter(|(f, _)| f == field) {
            span.field-error role="alert" { (msg) }
        }
    }
}

/// An inline SVG or other trusted markup made on the server.
pub fn trusted(markup: String) -> Markup {
    PreEscaped(markup)
}
