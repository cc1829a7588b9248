//! The outbox's disk budget (`[mqtt].outbox_budget_mb`): while HQ is unreachable the outbox
//! grows; over budget, telemetry-class events are dropped oldest first, business events never,
//! and when business events alone exceed it the hub raises an alarm and keeps selling.
