//! The route table: every route the web serves, with the permission it needs and a line for the
//! OpenAPI document. [`build`] makes the router from it (each route behind
//! [`auth::guard`](super::auth::guard)); `openapi` documents the `/api/v1` part of it; the
//! route × role test walks it. Each page module contributes its own rows (`routes()`).

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

use super::AppState;
use crate::domain::staff::{allows, Action, Role};

/// What a route needs from whoever calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, logged in or not: the login page, assets, health.
    Public,
    /// Any logged-in account.
    Login,
    /// An account whose role may do this ([`domain::staff::allows`](crate::domain::staff::allows)).
    May(Action),
    /// `May(action)`, and the login is for the lane named by the path's `{lane}`: a cashier
    /// works only the lane they logged in at.
    Lane(Action),
}

impl Need {
    /// Whether `role` passes this need (a lane need also checks the login's lane, elsewhere).
    pub fn role_allowed(self, role: Role) -> bool {
        match self {
            Need::Public | Need::Login => true,
            Need::May(a) | Need::Lane(a) => allows(role, a),
        }
    }
}

/// A JSON body or answer type for the OpenAPI document: its name, its schema and the schemas
/// it refers to.
#[derive(Clone, Copy)]
pub struct SchemaRef {
    pub name: fn() -> String,
    pub schema: fn() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    pub components: fn(&mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>),
}

impl SchemaRef {
    pub fn of<T: utoipa::ToSchema>() -> SchemaRef {
        SchemaRef { name: || T::name().into_owned(), schema: T::schema, components: T::schemas }
    }
}

/// One row of the table.
pub struct RouteDef {
    pub method: Method,
    /// axum path syntax: `/api/v1/lanes/{lane}/scan`.
    pub path: &'static str,
    pub need: Need,
    /// One line for the OpenAPI document and the route list.
    pub summary: &'static str,
    /// JSON body (API routes).
    pub request: Option<SchemaRef>,
    /// JSON answer (API routes).
    pub response: Option<SchemaRef>,
    pub handler: MethodRouter<AppState>,
}

impl RouteDef {
    fn new(method: Method, path: &'static str, need: Need, summary: &'static str, handler: MethodRouter<AppState>) -> RouteDef {
        RouteDef { method, path, need, summary, request: None, response: None, handler }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, need: Need, summary: &'static str, h: H) -> RouteDef {
        RouteDef::new(Method::GET, path, need, summary, axum::routing::get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, need: Need, summary: &'static str, h: H) -> RouteDef {
        RouteDef::new(Method::POST, path, need, summary, axum::routing::post(h))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(path: &'static str, need: Need, summary: &'static str, h: H) -> RouteDef {
        RouteDef::new(Method::PUT, path, need, summary, axum::routing::put(h))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(path: &'static str, need: Need, summary: &'static str, h: H) -> RouteDef {
        RouteDef::new(Method::DELETE, path, need, summary, axum::routing::delete(h))
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(path: &'static str, need: Need, summary: &'static str, h: H) -> RouteDef {
        RouteDef::new(Method::PATCH, path, need, summary, axum::routing::patch(h))
    }

    /// Documents the JSON body.
    pub fn body<T: utoipa::ToSchema>(mut self) -> RouteDef {
        self.request = Some(SchemaRef::of::<T>());
        self
    }

    /// Documents the JSON answer.
    pub fn returns<T: utoipa::ToSchema>(mut self) -> RouteDef {
        self.response = Some(SchemaRef::of::<T>());
        self
    }

    /// API routes answer errors as JSON and never redirect to the login page.
    pub fn is_api(&self) -> bool {
        is_api_path(self.path)
    }

    /// API and machine routes ([`is_machine_path`]): a caller without a login gets 401, never
    /// the login page.
    pub fn answers_401(&self) -> bool {
        self.is_api() || is_machine_path(self.path)
    }
}

pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
}

/// Routes for machines outside `/api` (`/metrics`, `/healthz`): like the API, they answer a
/// missing or wrong login with 401 and never redirect to the login page.
pub fn is_machine_path(path: &str) -> bool {
    path == "/metrics" || path == "/healthz"
}

/// Every route, from every page module.
pub fn table() -> Vec<RouteDef> {
    let mut t = Vec::new();
    t.extend(super::auth::routes());
    t.extend(super::assets::routes());
    t.extend(super::openapi::routes());
    t.extend(super::cashier::routes());
    t.extend(super::dashboard::routes());
    t.extend(super::reports::routes());
    t.extend(super::members::routes());
    t.extend(super::member_merge::routes());
    t.extend(super::member_privacy::routes());
    t.extend(super::audit::routes());
    t.extend(super::catalog::routes());
    t.extend(super::stock::routes());
    t.extend(super::devices::routes());
    t.extend(super::system::routes());
    t.extend(super::staff::routes());
    t.extend(super::campaigns::routes());
    t.extend(super::messages::routes());
    t.extend(super::tickets::routes());
    t.extend(super::analytics::routes());
    t.extend(super::stocktake::routes());
    t.extend(super::purchase::routes());
    t.extend(super::stock_tasks::routes());
    t.extend(super::stock_analysis::routes());
    t.extend(super::replenishment::routes());
    t.extend(super::member_profile::routes());
    t.extend(super::attendance::routes());
    t.extend(super::performance::routes());
    t.extend(super::recommend::routes());
    t.extend(super::metrics::routes());
    t.extend(super::healthz::routes());
    t
}

/// The router: each route behind its guard, then the body limit and the 404 page.
pub fn build(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for def in table() {
        let guard = axum::middleware::from_fn_with_state((state.clone(), def.need), super::auth::guard);
        router = router.route(def.path, def.handler.route_layer(guard));
    }
    router
        .fallback(super::error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(super::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(super::error::payload_too_large))
        // gzip for browsers that ask (pages, scripts, CSV); never for event streams.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(state.http.clone(), super::metrics::count_requests))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_and_api_routes_are_versioned() {
        let t = table();
        let mut seen = std::collections::HashSet::new();
        for r in &t {
            assert!(seen.insert((r.method.clone(), r.path)), "{} {} is listed twice", r.method, r.path);
            if r.is_api() {
                assert!(r.path.starts_with("/api/v1/"), "{} is not under /api/v1", r.path);
            }
            if r.path.contains("{lane}") {
                assert!(matches!(r.need, Need::Lane(_) | Need::Public), "{} names a lane but does not check it", r.path);
            }
            assert!(!r.summary.is_empty(), "{} {} has no summary", r.method, r.path);
        }
    }
}
