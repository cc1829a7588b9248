//! `GET /healthz`: whether this box can take sales now, for systemd, the LAN's monitoring and
//! HQ's probes, polled every few seconds. Public (no login): it says "ok" or names what is wrong,
//! never a secret, a path of a key or anything about a member.
//!
//! Healthy means every check of [`check`] passes (docs/operations.md says the same):
//! - `store`: the database answers a read (the database id in the meta tree);
//! - `store_write`: the durability sync has not failed and the last commit that tried to write
//!   succeeded (a change refused by its own rules, an unknown barcode, does not count);
//! - `outbox`: business events alone do not exceed the outbox budget (`[mqtt].outbox_budget_mb`:
//!   the relay's alarm when it runs; with `[mqtt]` off, the outbox's own size against it);
//! - `disk`: at least [`MIN_FREE_BYTES`] free on the data dir's filesystem.
//!
//! Every check is cheap: one point read, two locks, one statvfs; nothing is written. The web
//! answering at all is the liveness part.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::routes::{Need, RouteDef};
use super::{AppState, Settings};
use crate::cloud::backlog::format_mb;
use crate::control::ops::Context;
use crate::store::Store;

/// Less free space than this on the data dir's filesystem is unhealthy: a sale's commit, its
/// journal record and the next snapshot need room.
pub const MIN_FREE_BYTES: u64 = 32 * 1024 * 1024;

/// The checks, in the order they are reported.
pub const CHECKS: [&str; 4] = ["store", "store_write", "outbox", "disk"];

pub fn routes() -> Vec<RouteDef> {
    vec![RouteDef::get("/healthz", Need::Public, "Health for monitors: 200 when the box can take sales, 503 with the reasons when not", healthz)]
}

/// A failed check and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// One of [`CHECKS`].
    pub check: &'static str,
    pub reason: String,
}

/// The result of [`check`]: healthy when there is no problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub problems: Vec<Problem>,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// The `/healthz` body: `status`, `version`, each check `ok` or `failing`, and the reasons.
    pub fn to_json(&self) -> Value {
        let checks: serde_json::Map<String, Value> = CHECKS
            .iter()
            .map(|c| {
                let failing = self.problems.iter().any(|p| p.check == *c);
                (c.to_string(), json!(if failing { "failing" } else { "ok" }))
            })
            .collect();
        let mut body = json!({
            "status": if self.healthy() { "ok" } else { "unhealthy" },
            "version": env!("CARGO_PKG_VERSION"),
            "checks": checks,
        });
        if !self.healthy() {
            body["reasons"] = self.problems.iter().map(|p| json!({ "check": p.check, "reason": p.reason })).collect();
        }
        body
    }
}

/// Runs the checks. Blocking but cheap (see the module doc).
pub fn check(store: &Store, ctx: &Context, settings: &Settings) -> Health {
    check_with(store, ctx.cloud.get().map(|c| c.snapshot()), settings.outbox_budget_bytes)
}

/// [`check`] from its parts: the relay's last status (None when no relay runs) and the outbox
/// budget in bytes. `storehub diag collect` and `diag.collect` use it outside the web.
pub fn check_with(store: &Store, cloud: Option<crate::cloud::CloudState>, outbox_budget_bytes: u64) -> Health {
    let mut problems = Vec::new();
    if let Err(e) = store.database_id() {
        problems.push(Problem { check: "store", reason: format!("the database does not answer a read: {e}") });
    }
    if let Some(e) = store.write_failure() {
        problems.push(Problem { check: "store_write", reason: format!("the database refuses writes: {e}") });
    }
    let relay = cloud.filter(|c| c.enabled);
    match relay {
        Some(c) => {
            if let Some(alarm) = c.alarm {
                problems.push(Problem { check: "outbox", reason: format!("{alarm}; see `storehub cloud status`") });
            }
        }
        None => {
            let usage = store.outbox_usage();
            if usage.bytes > outbox_budget_bytes {
                problems.push(Problem {
                    check: "outbox",
                    reason: format!(
                        "the outbox holds {} events ({} MB), over its {} MB budget, and nothing publishes them ([mqtt].enabled is off): set up [mqtt] so HQ receives them",
                        usage.count,
                        format_mb(usage.bytes),
                        format_mb(outbox_budget_bytes)
                    ),
                });
            }
        }
    }
    if let Some((free, _)) = crate::cloud::telemetry::disk_space(store.path()) {
        if free < MIN_FREE_BYTES {
            problems.push(Problem {
                check: "disk",
                reason: format!("only {} MB free on the data dir's filesystem (at least {} MB needed): free some space or sales will stop being recorded", format_mb(free), format_mb(MIN_FREE_BYTES)),
            });
        }
    }
    Health { problems }
}

async fn healthz(State(state): State<AppState>) -> Response {
    let settings = state.settings.clone();
    let health = state.blocking(move |store, ctx| Ok(check(store, ctx, &settings))).await;
    let health = match health {
        Ok(h) => h,
        Err(e) => Health { problems: vec![Problem { check: "store", reason: format!("the health check could not run: {}", e.message) }] },
    };
    let status = if health.healthy() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(health.to_json())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_body_lists_every_check_ok_and_no_reasons() {
        let body = Health::default().to_json();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["checks"], json!({ "store": "ok", "store_write": "ok", "outbox": "ok", "disk": "ok" }));
        assert!(body.get("reasons").is_none(), "{body}");
    }

    #[test]
    fn an_unhealthy_body_names_the_failing_check_and_why() {
        let h = Health { problems: vec![Problem { check: "disk", reason: "only 12 MB free".into() }] };
        let body = h.to_json();
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["checks"]["disk"], "failing");
        assert_eq!(body["checks"]["store"], "ok");
        assert_eq!(body["reasons"], json!([{ "check": "disk", "reason": "only 12 MB free" }]));
    }
}
