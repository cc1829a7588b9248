//! What each control request does to the store. Shared by the daemon (requests from the socket)
//! and by the CLI when no daemon runs (requests applied directly).

use serde_json::json;

use super::{Reply, Request};
use crate::catalog::{self, CatalogError};
use crate::coupons;
use crate::domain::barcode::InStoreLayout;
use crate::inventory;
use crate::members::{self, LoyaltyRules, MemberView, PointsView};
use crate::staff::{self, HashCost, NewStaff};
use crate::promotions;
use crate::store::Store;

/// Everything a request may need besides the store.
pub struct Context {
    pub layouts: Vec<InStoreLayout>,
    /// Snapshots kept ([data].snapshots_keep).
    pub snapshots_keep: usize,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Lanes, money rules and receipt header from config (None without a config).
    pub checkout: Option<super::lanes::CheckoutSetup>,
    /// The lanes with their carts, opened on first use.
    pub lanes: super::lanes::LanesCell,
    /// The shop's time zone ([store].timezone; Asia/Shanghai without a config).
    pub tz: chrono_tz::Tz,
    /// `[loyalty]` in the shop's time zone (defaults when no config is given).
    pub loyalty: LoyaltyRules,
    /// The devices' health board, set by the daemon once its devices are started.
    pub devices: std::sync::OnceLock<std::sync::Arc<crate::devices::health::HealthBoard>>,
    /// The link to HQ, set by the daemon when it starts the cloud relay.
    pub cloud: std::sync::OnceLock<std::sync::Arc<crate::cloud::CloudStatus>>,
    /// `[campaigns]`, `[analytics]` and the rules a launch needs (defaults without a config).
    pub campaigns: crate::members::campaigns::CampaignSettings,
    /// `[messages]` with the store name and tier names (defaults when no config is given).
    pub messages: crate::members::messages::MessageRules,
    /// `[tickets]` and the tier ladder (defaults when no config is given).
    pub tickets: members::tickets::TicketRules,
    /// `[stock]` (defaults when no config is given).
    pub stock: crate::config::StockConfig,
    /// `[attendance]` (defaults when no config is given).
    pub attendance: crate::config::AttendanceConfig,
    /// `[recommend]` with the time zone (defaults when no config is given).
    pub recommend: crate::members::recommend::RecommendSettings,
}

/// Applies one request. Errors are messages for the person at the CLI.
pub fn handle(store: &std::sync::Arc<Store>, ctx: &Context, req: Request) -> Result<Reply, String> {
    let s = |e: crate::store::StoreError| e.to_string();
    match req {
        Request::Status => {
            let outbox = store.outbox_stats().map_err(s)?;
            Ok(Reply::json(json!({
                "pid": std::process::id(),
                "data_dir": store.path().display().to_string(),
                "database_id": store.database_id().map_err(s)?,
                "source": store.source(),
                "durability": store.options().durability,
                "products": catalog::product_count(store),
                "stock_levels": inventory::stock_levels(store).map_err(s)?.len(),
                "members": members::member_count(store),
                // The PII key's id, or null: members' personal data is then stored unencrypted.
                "pii_key": crate::privacy::current().map(|k| k.id_hex()),
                "outbox": outbox,
                "cloud": ctx.cloud.get().map(|c| c.snapshot()),
                "started_at": ctx.started_at.to_rfc3339(),
            })))
        }
        Request::Cloud => match ctx.cloud.get() {
            Some(status) => Ok(Reply::json(status.snapshot())),
            None => Err("the link to HQ is known only to the running daemon (storehub run); none runs on this data dir. `storehub outbox stats` shows what waits for HQ".into()),
        },
        Request::DiagCollect { outbox_budget_bytes } => {
            let bundle = crate::diag::collect(&crate::diag::Sources {
                store,
                devices: ctx.devices.get().map(|b| b.snapshot()),
                cloud: ctx.cloud.get().map(|c| c.snapshot()),
                config_text: None,
                outbox_budget_bytes,
                started_at: Some(ctx.started_at),
                log_lines: crate::logring::recent(crate::diag::LOG_LINES, None),
            });
            crate::audit::record(store, "cli", crate::audit::AuditAction::DiagCollected, None, "local bundle (storehub diag collect)").map_err(|e| e.to_string())?;
            Ok(Reply::json(bundle))
        }
        Request::Devices => match ctx.devices.get() {
            Some(board) => {
                // Printers also show their queue: jobs waiting for paper or for the printer to return.
                let mut list = serde_json::to_value(board.snapshot()).unwrap_or_default();
                if let Some(items) = list.as_array_mut() {
                    for item in items.iter_mut().filter(|d| d["kind"] == "printer") {
                        let id = item["id"].as_str().unwrap_or_default().to_string();
                        let q = crate::devices::printer::queue_status(store, Some(board), &id).map_err(s)?;
                        item["print_queue"] = json!({ "queued": q.queued, "oldest_created_at": q.oldest_created_at });
                    }
                }
                Ok(Reply::json(list))
            }
            None => Err("device health is known only to the running daemon (storehub run); none runs on this data dir. `storehub doctor` checks devices without it".into()),
        },
        Request::Backup => {
            let mut buf = Vec::new();
            let summary = store.backup_to(&mut buf).map_err(s)?;
            Ok(Reply { result: serde_json::to_value(summary).unwrap_or_default(), payload: Some(buf) })
        }
        Request::ExportCatalog => Ok(Reply::json(catalog::all_products(store).map_err(s)?)),
        Request::ImportCatalog { products } => {
            let conflicts = catalog::conflicts_with_store(store, &products).map_err(s)?;
            if !conflicts.is_empty() {
                let lines: Vec<String> = conflicts.iter().map(|c| c.to_string()).collect();
                return Err(format!("nothing imported:\n{}", lines.join("\n")));
            }
            let summary = catalog::upsert_products(store, &products, 1000, |_| {})
                .map_err(|e| e.to_string())?;
            Ok(Reply::json(summary))
        }
        Request::Lookup { code } => {
            let (decoded, product) = catalog::lookup(store, &code, &ctx.layouts)
                .map_err(|e| match e {
                    CatalogError::Barcode { code, source } => format!("{code}: {source}"),
                    other => other.to_string(),
                })?
                .ok_or_else(|| CatalogError::UnknownBarcode(code.clone()).to_string())?;
            let on_hand = inventory::on_hand(store, &product.sku).map_err(s)?;
            Ok(Reply::json(json!({ "barcode": decoded, "product": product, "on_hand": on_hand })))
        }
        Request::StockShow { sku: Some(sku) } => {
            let product = catalog::product(store, &sku)
                .map_err(s)?
                .ok_or_else(|| format!("unknown sku {sku}"))?;
            let on_hand = inventory::on_hand(store, &sku).map_err(s)?;
            Ok(Reply::json(json!([{ "sku": sku, "name_zh": product.name_zh, "unit": product.unit, "on_hand": on_hand, "reorder_point": product.reorder_point }])))
        }
        Request::StockShow { sku: None } => {
            let levels = inventory::stock_levels(store).map_err(s)?;
            let rows: Vec<_> = levels
                .into_iter()
                .map(|l| {
                    let p = catalog::product(store, &l.sku).ok().flatten();
                    json!({
                        "sku": l.sku,
                        "name_zh": p.as_ref().map(|p| p.name_zh.clone()),
                        "unit": p.as_ref().map(|p| p.unit),
                        "on_hand": l.on_hand,
                        "reorder_point": p.and_then(|p| p.reorder_point),
                    })
                })
                .collect();
            Ok(Reply::json(rows))
        }
        Request::StockMove { movement } => {
            let mv = inventory::move_stock(store, &movement).map_err(|e| e.to_string())?;
            Ok(Reply::json(mv))
        }
        Request::StockMoves { sku, limit } => {
            Ok(Reply::json(inventory::recent_moves(store, sku.as_deref(), limit).map_err(s)?))
        }
        Request::OutboxStats => Ok(Reply::json(store.outbox_stats().map_err(s)?)),
        Request::Verify => Ok(Reply::json(crate::verify::verify(store).map_err(s)?)),
        Request::Snapshot => Ok(Reply::json(store.snapshot(ctx.snapshots_keep).map_err(s)?)),
        Request::Lane { lane, action } => super::lanes::lane(store, ctx, &lane, action),
        Request::Return { request } => super::lanes::return_items(store, ctx, request),
        Request::SaleShow { id } => super::lanes::sale_show(store, ctx, id),
        Request::ProductSearch { query, limit } => Ok(Reply::json(catalog::search(store, &query, limit).map_err(s)?)),
        Request::ExportSales { from, to } => super::lanes::export_sales(store, ctx, from, to),
        Request::PromotionsImport { promotions } => {
            let summary = promotions::upsert_promotions(store, &promotions).map_err(|e| e.to_string())?;
            Ok(Reply::json(summary))
        }
        Request::PromotionsList { active: false } => Ok(Reply::json(promotions::list_promotions(store).map_err(s)?)),
        Request::PromotionsList { active: true } => {
            let now = crate::clock::local(store.clock().now(), ctx.tz);
            Ok(Reply::json(json!({
                "shop_local_time": now,
                "promotions": promotions::active_promotions(store, now).map_err(s)?,
            })))
        }
        Request::PromotionRemove { id } => {
            Ok(Reply::json(promotions::remove_promotion(store, &id).map_err(|e| e.to_string())?))
        }
        Request::CouponTemplatesAdd { templates } => {
            Ok(Reply::json(coupons::upsert_templates(store, &templates).map_err(|e| e.to_string())?))
        }
        Request::CouponTemplates => {
            let mut stats = coupons::all_template_stats(store).map_err(s)?;
            let rows: Vec<_> = coupons::templates(store)
                .map_err(s)?
                .into_iter()
                .map(|t| {
                    let usage = stats.remove(&t.id).unwrap_or_default();
                    json!({ "template": t, "usage": usage })
                })
                .collect();
            Ok(Reply::json(rows))
        }
        Request::CouponsIssue { template_id, member_ids, campaign } => {
            let today = crate::clock::local(store.clock().now(), ctx.tz).date();
            let summary = coupons::issue(store, &template_id, &member_ids, campaign.as_deref(), today)
                .map_err(|e| e.to_string())?;
            Ok(Reply::json(summary))
        }
        Request::CouponsList { member_id, include_used } => {
            Ok(Reply::json(coupons::member_coupons(store, member_id, include_used).map_err(s)?))
        }
        Request::CouponShow { code } => {
            let coupon = coupons::coupon_by_code(store, &code)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| coupons::CouponError::UnknownCode(code.trim().to_string()).to_string())?;
            let template = coupons::template(store, &coupon.template_id).map_err(s)?;
            Ok(Reply::json(json!({ "coupon": coupon, "template": template })))
        }
        Request::CouponVoid { code, by, reason } => {
            let coupon = coupons::coupon_by_code(store, &code)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| coupons::CouponError::UnknownCode(code.trim().to_string()).to_string())?;
            Ok(Reply::json(coupons::void(store, coupon.id, &by, &reason).map_err(|e| e.to_string())?))
        }
        Request::CouponsExpire => {
            let today = crate::clock::local(store.clock().now(), ctx.tz).date();
            let expired = coupons::expire_due(store, today).map_err(|e| e.to_string())?;
            Ok(Reply::json(json!({ "today": today, "expired": expired })))
        }
        req @ (Request::StaffAdd { .. }
        | Request::StaffList
        | Request::TokenAdd { .. }
        | Request::TokenList
        | Request::TokenRemove { .. }
        | Request::StaffPasswd { .. }
        | Request::StaffPin { .. }
        | Request::StaffUnlock { .. }
        | Request::StaffRole { .. }
        | Request::StaffDeactivate { .. }) => staff_request(store, req),
        req @ (Request::ShiftOpen { .. } | Request::ShiftClose { .. } | Request::ShiftShow { .. }) => {
            shift_request(store, req)
        }
        req @ (Request::MemberAdd { .. }
        | Request::MemberShow { .. }
        | Request::MemberTopup { .. }
        | Request::MemberPoints { .. }
        | Request::MemberAdjust { .. }
        | Request::JobRun { .. }
        | Request::ExportMembers { .. }
        | Request::ExportPointsLedger { .. }
        | Request::ImportTransactions { .. }
        | Request::AnalyticsMembers { .. }
        | Request::AnalyticsFit { .. }) => member_request(store, ctx, req),
        req @ (Request::MessageTemplatesImport { .. }
        | Request::MessageTemplates
        | Request::MessageTemplateShow { .. }
        | Request::MessageTemplateRemove { .. }
        | Request::MessagePreview { .. }
        | Request::MessageSend { .. }
        | Request::MessageList { .. }
        | Request::MessagesRelease) => message_request(store, ctx, req),
        req @ (Request::CampaignCreate { .. }
        | Request::CampaignPlaybook { .. }
        | Request::CampaignList
        | Request::CampaignShow { .. }
        | Request::CampaignLaunch { .. }
        | Request::CampaignFinish { .. }
        | Request::CampaignReport { .. }) => campaign_request(store, ctx, req),
        req @ (Request::TicketOpen { .. }
        | Request::TicketList { .. }
        | Request::TicketShow { .. }
        | Request::TicketAssign { .. }
        | Request::TicketNote { .. }
        | Request::TicketResolve { .. }
        | Request::TicketRate { .. }) => ticket_request(store, ctx, req),
        Request::Stocktake { request } => super::stocktake::handle(store, ctx, request),
        req @ (Request::PoList { .. }
        | Request::PoShow { .. }
        | Request::PoCreate { .. }
        | Request::PoFromSuggestions { .. }
        | Request::PoEdit { .. }
        | Request::PoSend { .. }
        | Request::PoReceive { .. }
        | Request::PoClose { .. }
        | Request::PoCancel { .. }) => purchase_request(store, ctx, req),
        req @ (Request::AlertsList { .. }
        | Request::AlertAck { .. }
        | Request::RestockList { .. }
        | Request::RestockDone { .. }
        | Request::StockAnalysis { .. }) => shelf_request(store, ctx, req),
        req @ (Request::Forecast { .. }
        | Request::ReplenishmentRun { .. }
        | Request::ReplenishmentList { .. }
        | Request::PolicyShow { .. }
        | Request::PolicySet { .. }
        | Request::SupplierTermsSet { .. }
        | Request::PolicyImport { .. }) => replenishment_request(store, ctx, req),
        req @ Request::MemberAddBy { .. } => member_request(store, ctx, req),
        Request::Performance { request } => super::performance::handle(store, ctx, request),
        Request::MemberMerge { from, into, staff } => member_merge(store, ctx, &from, &into, &staff),
        Request::MemberExport { query, staff } => {
            let id = resolve_member(store, &query, "nothing exported")?;
            let out = crate::privacy::subject::export(store, &staff, id).map_err(|e| format!("{e}; nothing exported"))?;
            Ok(Reply::json(out))
        }
        Request::AuditList { action, subject, limit } => {
            let action = match action.as_deref() {
                None => None,
                Some(a) => Some(crate::audit::AuditAction::parse(a).ok_or_else(|| {
                    let names: Vec<&str> = crate::audit::AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                    format!("--action {a:?}: no such action; one of {}", names.join(", "))
                })?),
            };
            let f = crate::audit::AuditFilter { action, subject, before: None, limit };
            Ok(Reply::json(crate::audit::list(store, &f).map_err(|e| e.to_string())?))
        }
        Request::MemberErase { query, staff } => {
            let id = resolve_member(store, &query, "nothing erased")?;
            let out = crate::privacy::subject::erase(store, &staff, id).map_err(|e| format!("{e}; nothing erased"))?;
            Ok(Reply::json(out))
        }
        req @ (Request::MemberProfile { .. } | Request::MemberProfilesRebuild | Request::Report { .. }) => profile_request(store, ctx, req),
        Request::Attendance { request } => super::attendance::handle(store, ctx, request),
        Request::Recommend { request } => super::recommend::handle(store, ctx, request),
        Request::FirmwareUpdate { request } => super::firmware::handle(store, ctx, request),
        Request::ClockStatus => Ok(Reply::json(crate::clock_watch::status(store).map_err(s)?)),
        Request::ClockResetMark => match crate::clock_watch::reset_mark(store, "cli") {
            Ok(done) => Ok(Reply::json(done)),
            Err(crate::store::CommitError::Rejected(refused)) => Err(format!("the mark was not reset: {refused}")),
            Err(crate::store::CommitError::Store(e)) => Err(e.to_string()),
        },
    }
}

/// Member preference profiles (read, rebuild) and the reports (the channel report's CLI).
fn profile_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use crate::domain::reports::{DateRange, Period};
    use crate::reports::{ReportKind, ReportSetup};
    let s = |e: crate::store::StoreError| e.to_string();
    match req {
        Request::MemberProfile { query, rebuild } => {
            let id = members::history::resolve_ref(store, &query)
                .map_err(s)?
                .ok_or_else(|| format!("no member has phone, card or id {query:?}; check it with `storehub member show`"))?;
            let view = if rebuild {
                members::profile::rebuild(store, id, ctx.tz).map_err(|e| e.to_string())?
            } else {
                members::profile::view(store, id).map_err(s)?
            };
            Ok(Reply::json(view))
        }
        Request::MemberProfilesRebuild => {
            let n = members::profile::rebuild_all(store, ctx.tz).map_err(s)?;
            Ok(Reply::json(json!({ "profiles": n })))
        }
        Request::Report { kind, from, to, period, csv } => {
            let kind = ReportKind::parse(&kind).ok_or_else(|| {
                format!("no report {kind:?}; reports are {}", ReportKind::ALL.iter().map(|k| k.slug()).collect::<Vec<_>>().join(", "))
            })?;
            let to = to.unwrap_or_else(|| crate::clock::local(store.clock().now(), ctx.tz).date());
            let from = from.unwrap_or(to - chrono::Duration::days(29));
            let range = DateRange::new(from, to).map_err(|e| format!("--from/--to: {e}"))?;
            let period = match period.as_deref() {
                None => None,
                Some(p) => Some(Period::parse(p).ok_or_else(|| format!("--period: expected day, week or month, got {p:?}"))?),
            };
            let table = crate::reports::run(store, &ReportSetup::of(ctx), kind, range, period).map_err(s)?;
            let mut reply = Reply::json(json!({ "file_name": table.file_name(), "report": table.to_json() }));
            if csv {
                reply.payload = Some(table.to_csv().map_err(|e| format!("csv: {e}"))?);
            }
            Ok(reply)
        }
        other => Err(format!("{} is not a profile or report request", other.name())),
    }
}

/// `storehub member merge A B --staff S`: members named by phone, card number or id.
/// The member a phone, card number, QR payload or member id names.
fn resolve_member(store: &Store, query: &str, outcome: &str) -> Result<u64, String> {
    members::history::resolve_ref(store, query)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no member has phone, card or id {}; {outcome}", crate::domain::phone::mask(query)))
}

fn member_merge(store: &Store, ctx: &Context, from: &str, into: &str, staff: &str) -> Result<Reply, String> {
    let resolve = |what: &str, r: &str| -> Result<u64, String> {
        members::history::resolve_ref(store, r)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{what}: no member has phone, card or id {r:?}; nothing merged"))
    };
    let (a, b) = (resolve("from", from)?, resolve("into", into)?);
    let done = members::merge::merge(store, a, b, staff, &ctx.loyalty).map_err(|e| format!("{e}; nothing merged"))?;
    Ok(Reply::json(done))
}

/// Forecasts, the replenishment run and list, replenishment policies.
fn replenishment_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use crate::inventory::{demand, policy, replenishment as rep};
    let s = |e: crate::store::StoreError| e.to_string();
    let today = crate::clock::local(store.clock().now(), ctx.tz).date();
    match req {
        Request::Forecast { sku, method, horizon, alpha, alpha_d, alpha_p } => {
            let mut opts = rep::forecast_options(&ctx.stock);
            opts.alpha = alpha.unwrap_or(opts.alpha);
            opts.alpha_d = alpha_d.unwrap_or(opts.alpha_d);
            opts.alpha_p = alpha_p.unwrap_or(opts.alpha_p);
            let horizon = usize::try_from(horizon).unwrap_or(usize::MAX);
            let ask = rep::ForecastAsk { method, horizon, opts };
            let report = rep::forecast_sku(store, &ctx.stock, ctx.tz, demand::member_day_of(&ctx.loyalty), today, &sku, &ask)?;
            Ok(Reply::json(report))
        }
        Request::ReplenishmentRun { date } => {
            let day = date.unwrap_or(today);
            let summary = rep::run(store, &ctx.stock, ctx.tz, &ctx.loyalty, day).map_err(|e| e.to_string())?;
            Ok(Reply::json(summary))
        }
        Request::ReplenishmentList { urgent, supplier } => {
            let run = rep::latest_run(store).map_err(s)?;
            let lines = rep::sorted_lines(rep::suggestions(store).map_err(s)?, urgent, supplier.as_deref());
            Ok(Reply::json(json!({ "run": run, "lines": lines })))
        }
        Request::PolicyShow { sku } => {
            let product = catalog::product(store, &sku).map_err(s)?.ok_or_else(|| policy::PolicyError::UnknownSku(sku.clone()).to_string())?;
            let own = policy::sku_settings(store, &sku).map_err(s)?;
            let suppliers = policy::all_supplier_terms(store).map_err(s)?;
            // The ABC class of the latest run, else C (no run yet).
            let line = store.get::<rep::SuggestionLine>(crate::store::TreeId::Suggestions, sku.as_bytes()).map_err(s)?;
            let abc = line.as_ref().map_or(crate::domain::abc::AbcClass::C, |l| l.abc);
            let eff = policy::effective(&sku, own.as_ref(), product.supplier.as_deref(), &suppliers, &ctx.stock, abc);
            let terms = eff.supplier.as_ref().and_then(|id| suppliers.get(id)).cloned();
            Ok(Reply::json(json!({ "sku": sku, "own": own, "supplier_terms": terms, "abc": abc, "abc_from_run": line.is_some(), "effective": eff })))
        }
        Request::PolicySet { sku, patch, reset } => {
            let mut settings = if reset { policy::SkuSettings::default() } else { policy::sku_settings(store, &sku).map_err(s)?.unwrap_or_default() };
            let merge = |old: &mut Option<u32>, new: Option<u32>| {
                if new.is_some() {
                    *old = new;
                }
            };
            if patch.supplier.is_some() {
                settings.supplier = patch.supplier;
            }
            merge(&mut settings.lead_time_days, patch.lead_time_days);
            merge(&mut settings.review_period_days, patch.review_period_days);
            merge(&mut settings.pack_size, patch.pack_size);
            merge(&mut settings.moq, patch.moq);
            merge(&mut settings.service_level_bp, patch.service_level_bp);
            let saved = policy::set_sku(store, &sku, &settings).map_err(|e| e.to_string())?;
            Ok(Reply::json(json!({ "sku": sku, "own": saved })))
        }
        Request::SupplierTermsSet { supplier, terms } => {
            let saved = policy::set_supplier(store, &supplier, &terms).map_err(|e| e.to_string())?;
            Ok(Reply::json(json!({ "supplier": supplier, "terms": saved })))
        }
        Request::PolicyImport { file_name, rows } => {
            let n = policy::import(store, &rows).map_err(|e| format!("{file_name}: nothing imported: {e}"))?;
            Ok(Reply::json(json!({ "file": file_name, "imported": n })))
        }
        other => Err(format!("{} is not a replenishment request", other.name())),
    }
}

/// Purchase orders (采购单): list, show, create (by hand or from the suggestions), edit, send,
/// receive by scanning, close, cancel. Answers are [`inventory::purchase::PoView`]s.
fn purchase_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use inventory::purchase::{self as po, PoFilter, PoView};
    let s = |e: crate::store::StoreError| e.to_string();
    let e = |e: crate::store::CommitError<po::PurchaseError>| match e {
        crate::store::CommitError::Rejected(r) => format!("{r}; nothing written"),
        other => other.to_string(),
    };
    let view = |o: po::PurchaseOrder| Reply::json(PoView::of(o));
    match req {
        Request::PoList { state, all } => {
            let filter = match (state, all) {
                (Some(st), _) => PoFilter::State(st),
                (None, true) => PoFilter::All,
                (None, false) => PoFilter::Open,
            };
            let list: Vec<PoView> = po::list(store, filter).map_err(s)?.into_iter().map(PoView::of).collect();
            Ok(Reply::json(list))
        }
        Request::PoShow { id } => Ok(view(po::order(store, id).map_err(s)?.ok_or_else(|| po::PurchaseError::UnknownOrder(id).to_string())?)),
        Request::PoCreate { order, by } => Ok(view(po::create(store, &order, &by).map_err(e)?)),
        Request::PoFromSuggestions { by } => Ok(Reply::json(po::from_suggestions(store, &by).map_err(e)?)),
        Request::PoEdit { id, edit, by } => Ok(view(po::edit(store, id, &edit, ctx.tz, &by).map_err(e)?)),
        Request::PoSend { id, by } => Ok(view(po::send(store, id, ctx.tz, ctx.stock.lead_time_days, &by).map_err(e)?)),
        Request::PoReceive { id, scan, by } => Ok(Reply::json(po::receive(store, id, &scan, &ctx.layouts, &by).map_err(e)?)),
        Request::PoClose { id, by } => Ok(view(po::close(store, id, &by).map_err(e)?)),
        Request::PoCancel { id, by } => Ok(view(po::cancel(store, id, &by).map_err(e)?)),
        other => Err(format!("{} is not a purchase-order request", other.name())),
    }
}

/// Newest closed alerts and done tasks listed with `all`.
pub const RECENT_SHOWN: usize = 50;

/// Stock alerts, restock tasks and the stock analysis.
fn shelf_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use crate::inventory::{alerts, analysis, shelf_triggers};
    let s = |e: crate::store::StoreError| e.to_string();
    match req {
        Request::AlertsList { all } => {
            let open = alerts::open_alerts(store).map_err(s)?;
            let recent = if all { alerts::recent_alerts(store, RECENT_SHOWN).map_err(s)? } else { Vec::new() };
            Ok(Reply::json(json!({ "open": open, "recent": recent })))
        }
        Request::AlertAck { id, staff } => {
            crate::staff::authorize(store, &staff, crate::domain::staff::Action::WorkRestockTasks).map_err(|e| e.to_string())?;
            Ok(Reply::json(alerts::acknowledge(store, id, &staff).map_err(|e| e.to_string())?))
        }
        Request::RestockList { all } => {
            let open = shelf_triggers::open_tasks(store).map_err(s)?;
            let recent = if all { shelf_triggers::recent_tasks(store, RECENT_SHOWN).map_err(s)? } else { Vec::new() };
            Ok(Reply::json(json!({ "open": open, "recent": recent })))
        }
        Request::RestockDone { id, staff, note } => {
            Ok(Reply::json(shelf_triggers::mark_done(store, id, &staff, note.as_deref()).map_err(|e| e.to_string())?))
        }
        Request::StockAnalysis { list } => {
            let list = list.as_deref().map(analysis::check_list).transpose()?;
            let today = crate::clock::local(store.clock().now(), ctx.tz).date();
            let params = analysis::AnalysisParams::from_config(&ctx.stock);
            let a = analysis::analyse(store, ctx.tz, crate::inventory::demand::member_day_of(&ctx.loyalty), today, &params).map_err(|e| e.to_string())?;
            let v = serde_json::to_value(&a).map_err(|e| e.to_string())?;
            Ok(Reply::json(match list {
                None => v,
                Some(l) => json!({ "as_of": a.as_of, "from": a.from, "to": a.to, "list": l, "rows": analysis_rows(&v, l), "note": if l == "overstock" { a.overstock_note.clone() } else { None } }),
            }))
        }
        other => Err(format!("{} is not a stock request", other.name())),
    }
}

/// The rows of one analysis list in the analysis' JSON (`abc` and `xyz` are both the classes).
pub fn analysis_rows(v: &serde_json::Value, list: &str) -> serde_json::Value {
    let key = match list {
        "abc" | "xyz" => "classes",
        other => other,
    };
    v.get(key).cloned().unwrap_or_else(|| json!([]))
}

/// Campaigns: create (from a file or a playbook), list, show, launch, finish, report.
fn campaign_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use crate::members::campaigns as camp;
    let settings = &ctx.campaigns;
    let e = |e: camp::CampaignError| e.to_string();
    let launch_ctx = camp::LaunchContext::from_settings(settings);
    match req {
        Request::CampaignCreate { campaign } => Ok(Reply::json(camp::create(store, &campaign, None, settings).map_err(e)?)),
        Request::CampaignPlaybook { name, start_at, holdout_bp } => {
            let c = camp::create_playbook(store, &name, start_at, holdout_bp, settings).map_err(e)?;
            if c.start_at.is_some() {
                return Ok(Reply::json(json!({ "campaign": c, "launch": null })));
            }
            let launched = camp::launch(store, settings, &launch_ctx, &c.id, None).map_err(e)?;
            let c = camp::campaign(store, &c.id).map_err(|e| e.to_string())?;
            Ok(Reply::json(json!({ "campaign": c, "launch": launched })))
        }
        Request::CampaignList => Ok(Reply::json(camp::reports(store).map_err(e)?)),
        Request::CampaignShow { id } => Ok(Reply::json(camp::report(store, &id, false).map_err(e)?)),
        Request::CampaignLaunch { id } => Ok(Reply::json(camp::launch(store, settings, &launch_ctx, &id, None).map_err(e)?)),
        Request::CampaignFinish { id } => Ok(Reply::json(camp::finish(store, &id).map_err(e)?)),
        Request::CampaignReport { id, members } => Ok(Reply::json(camp::report(store, &id, members).map_err(e)?)),
        other => Err(format!("{} is not a campaign request", other.name())),
    }
}

/// Member messages: templates, preview, one-off send, list, release of held messages.
fn message_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use crate::members::messages::{self, MessageFilter, Outgoing};
    let s = |e: crate::store::StoreError| e.to_string();
    let e = |e: crate::store::CommitError<messages::MessageError>| e.to_string();
    let member_id = |r: &str| -> Result<u64, String> {
        members::history::resolve_ref(store, r)
            .map_err(s)?
            .ok_or_else(|| format!("member: no member has phone, card or id {r:?}"))
    };
    let rules = &ctx.messages;
    match req {
        Request::MessageTemplatesImport { templates } => {
            let changed = messages::upsert_templates(store, &templates).map_err(e)?;
            Ok(Reply::json(json!({ "templates": templates.len(), "changed": changed })))
        }
        Request::MessageTemplates => Ok(Reply::json(messages::templates(store).map_err(s)?)),
        Request::MessageTemplateShow { id } => {
            let t = messages::template(store, &id).map_err(s)?;
            Ok(Reply::json(t.ok_or_else(|| messages::MessageError::UnknownTemplate(id).to_string())?))
        }
        Request::MessageTemplateRemove { id } => Ok(Reply::json(messages::remove_template(store, &id).map_err(e)?)),
        Request::MessagePreview { template_id, member, vars } => {
            let member_id = member.as_deref().map(member_id).transpose()?;
            let now = store.clock().now();
            Ok(Reply::json(messages::preview(store, rules, now, &template_id, member_id, &vars).map_err(e)?))
        }
        Request::MessageSend { template_id, member, vars } => {
            let out = Outgoing { member_id: member_id(&member)?, template_id, campaign_id: None, vars };
            Ok(Reply::json(messages::request(store, rules, &out).map_err(e)?))
        }
        Request::MessageList { member, campaign_id, state, limit } => {
            let member_id = member.as_deref().map(member_id).transpose()?;
            let f = MessageFilter { member_id, campaign_id, state, limit };
            Ok(Reply::json(messages::list(store, &f).map_err(s)?))
        }
        Request::MessagesRelease => {
            let released = messages::release_due(store, store.clock().now()).map_err(s)?;
            Ok(Reply::json(json!({ "released": released })))
        }
        other => Err(format!("{} is not a message request", other.name())),
    }
}

/// Member service tickets: open, list, show, assign, note, resolve, rate. Replies are
/// [`members::tickets::TicketView`]s (member phones masked).
fn ticket_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    use members::tickets::{self, NewTicket, TicketFilter, TicketView};
    let s = |e: crate::store::StoreError| e.to_string();
    let e = |e: crate::store::CommitError<tickets::TicketError>| match e {
        crate::store::CommitError::Rejected(r) => format!("{r}; nothing written"),
        other => other.to_string(),
    };
    let find = |query: &str| members::find_or_explain(store, query).map_err(|e| format!("member: {e}"));
    let view = |t: tickets::Ticket| -> Result<Reply, String> {
        let m = members::member(store, t.member_id).map_err(s)?;
        Ok(Reply::json(TicketView::of(t, m.as_ref(), store.clock().now())))
    };
    match req {
        Request::TicketOpen { member, kind, channel, subject, note, by } => {
            let m = find(&member)?;
            let new = NewTicket { member_id: m.id, kind, channel, subject, note, opened_by: by, campaign_id: None };
            view(tickets::open(store, &ctx.tickets, &new).map_err(e)?)
        }
        Request::TicketList { open, overdue, member } => {
            let filter = match (member, overdue, open) {
                (Some(q), _, _) => TicketFilter::Member(find(&q)?.id),
                (None, true, _) => TicketFilter::Overdue,
                (None, false, true) => TicketFilter::Open,
                (None, false, false) => TicketFilter::All,
            };
            let now = store.clock().now();
            let list = tickets::list(store, filter, now).map_err(s)?;
            Ok(Reply::json(TicketView::all(store, list, now).map_err(s)?))
        }
        Request::TicketShow { id } => {
            let t = tickets::ticket(store, id).map_err(s)?.ok_or_else(|| tickets::TicketError::UnknownTicket(id).to_string())?;
            view(t)
        }
        Request::TicketAssign { id, staff, priority, by } => {
            view(tickets::assign(store, &ctx.tickets, id, &by, &staff, priority).map_err(e)?)
        }
        Request::TicketNote { id, text, by } => view(tickets::add_note(store, id, &by, &text).map_err(e)?),
        Request::TicketResolve { id, resolution, satisfaction, by } => {
            view(tickets::resolve(store, id, &by, &resolution, satisfaction).map_err(e)?)
        }
        Request::TicketRate { id, score, by } => view(tickets::rate(store, id, &by, score).map_err(e)?),
        other => Err(format!("{} is not a ticket request", other.name())),
    }
}

/// Members: register, show, top up, points, adjust; member jobs; member exports. Replies show
/// phones masked (only `export members --full-phone` gives full numbers).
fn member_request(store: &Store, ctx: &Context, req: Request) -> Result<Reply, String> {
    let rules = &ctx.loyalty;
    let e = |e: crate::store::CommitError<members::MemberError>| e.to_string();
    let s = |e: crate::store::StoreError| e.to_string();
    let today = rules.today(store.clock().now());
    match req {
        Request::MemberAdd { member } => {
            let m = members::register(store, &member, rules).map_err(e)?;
            Ok(Reply::json(MemberView::of(&m, today)))
        }
        Request::MemberAddBy { member, staff } => {
            let m = members::register_by(store, &member, rules, Some(&staff)).map_err(e)?;
            Ok(Reply::json(MemberView::of(&m, today)))
        }
        Request::MemberShow { query } => {
            let m = members::find_or_explain(store, &query).map_err(e)?;
            Ok(Reply::json(MemberView::of(&m, today)))
        }
        Request::MemberTopup { query, fen, by, reference } => {
            let m = members::find_or_explain(store, &query).map_err(e)?;
            let done = members::topup(store, m.id, fen, &by, reference.as_deref(), rules).map_err(e)?;
            Ok(Reply::json(json!({ "member_id": m.id, "phone": m.masked_phone(), "topup": done })))
        }
        Request::MemberPoints { query } => {
            let m = members::find_or_explain(store, &query).map_err(e)?;
            Ok(Reply::json(PointsView::of(&m, today)))
        }
        Request::MemberAdjust { query, points, reason, by } => {
            let m = members::find_or_explain(store, &query).map_err(e)?;
            let done = members::adjust_points(store, m.id, points, &reason, &by, rules).map_err(e)?;
            Ok(Reply::json(json!({ "member_id": m.id, "phone": m.masked_phone(), "adjusted": done })))
        }
        Request::JobRun { job } => {
            let summary = job.run(store, today, rules).map_err(e)?;
            Ok(Reply::json(json!({ "job": job.as_str(), "today": today, "summary": summary })))
        }
        Request::ExportMembers { full_phone } => {
            Ok(Reply::json(members::export::member_rows(store, full_phone).map_err(s)?))
        }
        Request::ExportPointsLedger { from, to } => {
            Ok(Reply::json(members::export::ledger_rows(store, from, to).map_err(s)?))
        }
        Request::ImportTransactions { file_name, sha256, rows, count_for_tiers } => {
            let today = crate::clock::local(store.clock().now(), ctx.tz).date();
            let tiers = count_for_tiers.then_some((rules, ctx.tz));
            let summary = members::history::import_history(store, &file_name, &sha256, &rows, today, tiers)
                .map_err(|e| e.to_string())?;
            Ok(Reply::json(summary))
        }
        Request::AnalyticsMembers { as_of, params } => {
            let as_of = as_of.unwrap_or_else(|| crate::clock::local(store.clock().now(), ctx.tz).date());
            let rows = members::analytics::member_rows(store, ctx.tz, as_of, &params).map_err(s)?;
            Ok(Reply::json(json!({ "as_of": as_of, "rows": rows })))
        }
        Request::AnalyticsFit { until, unit_days, model } => {
            let until = until.unwrap_or_else(|| crate::clock::local(store.clock().now(), ctx.tz).date());
            let unit = match unit_days {
                1 => "days",
                7 => "weeks",
                other => return Err(format!("time unit: expected days (1) or weeks (7), got {other} days")),
            };
            let customers = members::analytics::customers(store, ctx.tz, until, f64::from(unit_days)).map_err(s)?;
            let base = json!({ "model": model, "until": until, "time_unit": unit });
            let fitted = match model.as_str() {
                "bgnbd" => crate::domain::clv::fit_bgnbd(&customers).map(|f| {
                    json!({ "r": f.params.r, "alpha": f.params.alpha, "a": f.params.a, "b": f.params.b,
                            "log_likelihood": f.log_likelihood, "customers": f.customers, "converged": f.converged,
                            "iterations": f.iterations, "note": f.note,
                            "std_errors": f.std_errors.map(|e| json!({ "r": e.r, "alpha": e.alpha, "a": e.a, "b": e.b })) })
                }),
                "gamma-gamma" => crate::domain::clv::fit_gamma_gamma(&customers).map(|f| {
                    json!({ "p": f.params.p, "q": f.params.q, "v": f.params.v,
                            "log_likelihood": f.log_likelihood, "customers": f.customers, "converged": f.converged,
                            "iterations": f.iterations, "note": f.note,
                            "std_errors": f.std_errors.map(|e| json!({ "p": e.p, "q": e.q, "v": e.v })) })
                }),
                other => return Err(format!("model: expected bgnbd or gamma-gamma, got {other:?}")),
            }
            .map_err(|e| format!("{model} fit on {} customers: {e}", customers.len()))?;
            let mut out = base;
            if let (Some(o), Some(f)) = (out.as_object_mut(), fitted.as_object()) {
                o.extend(f.clone());
            }
            Ok(Reply::json(out))
        }
        other => Err(format!("{} is not a member request", other.name())),
    }
}

/// Staff accounts. Hashes always use the standard Argon2id cost; replies never carry hashes.
fn staff_request(store: &Store, req: Request) -> Result<Reply, String> {
    let cost = HashCost::standard();
    let info = match req {
        Request::StaffAdd { id, name, role, password, pin } => staff::create_staff(
            store,
            &NewStaff { id, name, role },
            password.expose(),
            pin.as_ref().map(|p| p.expose()),
            &cost,
        ),
        Request::StaffList => return Ok(Reply::json(staff::list_staff(store).map_err(|e| e.to_string())?)),
        Request::TokenAdd { name, role } => {
            crate::config::Id::try_from(name.clone()).map_err(|e| format!("token name: {e}"))?;
            let token = crate::web::auth::add_token(store, &name, role).map_err(|e| e.to_string())?;
            return Ok(Reply::json(json!({ "name": name, "role": role, "token": token })));
        }
        Request::TokenList => return Ok(Reply::json(crate::web::auth::list_tokens(store).map_err(|e| e.to_string())?)),
        Request::TokenRemove { name } => {
            let removed = crate::web::auth::remove_tokens(store, &name).map_err(|e| e.to_string())?;
            if removed == 0 {
                return Err(format!("no API token named {name}; `storehub token list` shows them"));
            }
            return Ok(Reply::json(json!({ "removed": removed })));
        }
        Request::StaffPasswd { id, password } => staff::set_password(store, &id, password.expose(), &cost),
        Request::StaffPin { id, pin } => staff::set_pin(store, &id, pin.as_ref().map(|p| p.expose()), &cost),
        Request::StaffUnlock { id } => staff::unlock(store, &id),
        Request::StaffRole { id, role } => staff::set_role(store, &id, role),
        Request::StaffDeactivate { id } => staff::deactivate(store, &id),
        other => return Err(format!("{} is not a staff request", other.name())),
    };
    Ok(Reply::json(info.map_err(|e| e.to_string())?))
}

/// Shifts: open, close, show.
fn shift_request(store: &Store, req: Request) -> Result<Reply, String> {
    let s = |e: crate::store::StoreError| e.to_string();
    match req {
        Request::ShiftOpen { lane, staff: who, float_fen } => {
            Ok(Reply::json(staff::open_shift(store, &lane, &who, float_fen).map_err(|e| e.to_string())?))
        }
        Request::ShiftClose { id, counted_fen, by } => {
            Ok(Reply::json(staff::close_shift(store, id, counted_fen, &by).map_err(|e| e.to_string())?))
        }
        Request::ShiftShow { id: Some(id), .. } => {
            let shift = staff::shift(store, id).map_err(s)?;
            Ok(Reply::json(shift.ok_or_else(|| format!("no shift {id}; `storehub shift show` lists the open ones"))?))
        }
        Request::ShiftShow { id: None, lane: Some(lane) } => {
            let shift = staff::open_shift_for_lane(store, &lane).map_err(s)?;
            Ok(Reply::json(shift.ok_or_else(|| {
                format!("no open shift on lane {lane}; open one with `storehub shift open --lane {lane} --staff ID --float-fen N`")
            })?))
        }
        Request::ShiftShow { id: None, lane: None } => Ok(Reply::json(staff::open_shifts(store).map_err(s)?)),
        other => Err(format!("{} is not a shift request", other.name())),
    }
}
