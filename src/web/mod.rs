//! The LAN web: the cashier screen, the dashboard and the manager pages, and the versioned JSON
//! API under `/api/v1` (docs/web.md).
//!
//! One table ([`routes::table`]) lists every route with the permission it needs; the router,
//! the permission check, the OpenAPI document and the route × role test are all built from it,
//! so a route cannot exist without a rule. Pages are rendered on the server with maud; the only
//! scripts are small embedded files for the live parts (the cashier's cart arrives by
//! server-sent events). Every asset is compiled into the binary: the box needs no internet.
//!
//! Handlers stay thin: they check the request, call the same services the CLI uses (often
//! through `control::ops`, on a blocking thread, since the store is synchronous) and render.

pub mod analytics;
pub mod assets;
pub mod audit;
pub mod attendance;
pub mod auth;
pub mod campaigns;
pub mod cashier;
pub mod catalog;
pub mod chart;
pub mod dashboard;
pub mod devices;
pub mod error;
pub mod forms;
pub mod healthz;
pub mod i18n;
pub mod members;
pub mod member_merge;
pub mod member_privacy;
pub mod member_profile;
pub mod messages;
pub mod metrics;
pub mod performance;
pub mod openapi;
pub mod page;
pub mod purchase;
pub mod replenishment;
pub mod recommend;
pub mod reports;
pub mod routes;
pub mod staff;
pub mod stock;
pub mod stock_analysis;
pub mod stock_tasks;
pub mod stocktake;
pub mod system;
pub mod tickets;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::control::ops::Context;
use crate::store::Store;

pub use error::WebError;
pub use i18n::Lang;

/// Largest request body accepted (413 above it). A product edit or a member form is a few KB;
/// the largest legitimate body is a catalog CSV upload.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub ctx: Arc<Context>,
    pub auth: Arc<auth::Auth>,
    pub settings: Arc<Settings>,
    /// Today's dashboard figures, computed again only after a commit (`reports::dashboard`).
    pub summary: Arc<crate::reports::SummaryCache>,
    /// Sales committed since this web started, counted for `/metrics` (`metrics::SalesTally`).
    pub sales: Arc<metrics::SalesTally>,
    /// The web's answers by status class, for `/metrics`.
    pub http: Arc<metrics::HttpCounts>,
}

/// The parts of `[web]` and `[store]` the pages need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store_name: String,
    /// Language of a page before anyone logs in, and of a new account.
    pub default_lang: Lang,
    /// Serving HTTPS: cookies get `Secure` and the `__Host-` prefix.
    pub https: bool,
    pub session_ttl: std::time::Duration,
    /// The configuration as the technician's system page shows it: no password, no key.
    pub config_summary: serde_json::Value,
    /// `[analytics]`: the RFM rules of the analytics pages and API.
    pub analytics: crate::domain::rfm::RfmParams,
    /// `[mqtt].outbox_budget_mb` in bytes: `/healthz` and `/metrics` compare the outbox with it.
    pub outbox_budget_bytes: u64,
}

impl Settings {
    pub fn from_config(cfg: &crate::config::Config, https: bool) -> Settings {
        Settings {
            store_name: cfg.store.name.clone(),
            default_lang: Lang::from_config(cfg.store.language),
            https,
            session_ttl: std::time::Duration::from_secs(u64::from(cfg.web.session_ttl_minutes) * 60),
            config_summary: system::config_summary(cfg),
            analytics: cfg.analytics.params(),
            outbox_budget_bytes: crate::cloud::backlog::budget_bytes(cfg.mqtt.outbox_budget_mb),
        }
    }
}

impl AppState {
    pub fn new(store: Arc<Store>, ctx: Arc<Context>, settings: Settings) -> AppState {
        let auth = Arc::new(auth::Auth::new(Arc::clone(store.clock()), settings.session_ttl));
        let summary = Arc::new(crate::reports::SummaryCache::new(&store, ctx.tz));
        let sales = Arc::new(metrics::SalesTally::starting_at(&store));
        AppState { store, ctx, auth, settings: Arc::new(settings), summary, sales, http: Arc::default() }
    }

    /// Runs blocking store work off the async threads.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, WebError>
    where
        F: FnOnce(&Arc<Store>, &Context) -> Result<T, WebError> + Send + 'static,
        T: Send + 'static,
    {
        let (store, ctx) = (Arc::clone(&self.store), Arc::clone(&self.ctx));
        tokio::task::spawn_blocking(move || f(&store, &ctx)).await.map_err(|e| WebError::internal(format!("task failed: {e}")))?
    }
}

/// The whole application: every route of [`routes::table`] behind its permission check, the
/// body limit, the 404 page.
pub fn router(state: AppState) -> axum::Router {
    routes::build(state)
}

/// The client's address, as the connection gave it (for login throttling and logs).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for ClientAddr {
    fn connect_info(s: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> ClientAddr {
        ClientAddr(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::TlsListener>> for ClientAddr {
    fn connect_info(s: axum::serve::IncomingStream<'_, tls::TlsListener>) -> ClientAddr {
        ClientAddr(*s.remote_addr())
    }
}

/// Serves the web on `listener` until `shutdown` resolves: plain HTTP, or HTTPS with `tls`.
pub async fn serve_with(listener: tokio::net::TcpListener, tls: Option<Arc<rustls::ServerConfig>>, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<ClientAddr>();
    match tls {
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown).await,
        Some(cfg) => axum::serve(tls::TlsListener::new(listener, cfg)?, app).with_graceful_shutdown(shutdown).await,
    }
}

/// [`serve_with`] over plain HTTP.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    serve_with(listener, None, state, shutdown).await
}
