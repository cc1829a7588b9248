//! Which outbox events the hub may drop when its disk budget runs out, decided from the event
//! type alone: [`class_of`]. Pure; the cloud backlog (`cloud::backlog`) acts on it.
//!
//! - **Business**: anything that records money, goods, points, people or rules — sales and
//!   returns, stock moves and the ledger's own `stock.low`, points, stored value, members,
//!   coupons, promotions, member messages (a dropped request is a message never sent), the
//!   catalog, staff and shifts. HQ's books are built from these; losing
//!   one loses money or trust. They are never dropped.
//! - **Telemetry**: readings of the shop floor that the hub derives from sensors and that go
//!   stale: `storehub.shelf.*` (picked, restocked, low, empty) and `storehub.beam.*` (beam and
//!   door changes), and future `storehub.device.*` events.
//! - **Anything unknown is business**: a type added later (or by another build) is kept until
//!   someone decides otherwise. Never drop what we do not know.
//!
//! `storehub.shelf.low` and `.empty` are telemetry on purpose, although they sound like stock:
//! the shelf tracker never changes stock on hand (a shelf weight is a signal, not a move), the
//! stock ledger raises its own `storehub.stock.low` (business) when on-hand crosses the reorder
//! point, and the shelf state itself stays live on the hub's dashboard. A shelf-empty alert
//! delivered hours late, after an outage long enough to fill the budget, helps nobody, while a
//! dropped sale would.

/// What the disk budget may do with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// Never dropped.
    Business,
    /// Dropped oldest first when the outbox is over its disk budget.
    Telemetry,
}

/// Type prefixes of telemetry-class events. Everything else is business.
pub const TELEMETRY_PREFIXES: &[&str] = &["storehub.shelf.", "storehub.beam.", "storehub.device."];

/// The class of an event type (`storehub.sale.completed` → Business). Unknown types, empty or
/// malformed ones included, are Business.
pub fn class_of(event_type: &str) -> EventClass {
    let telemetry = TELEMETRY_PREFIXES
        .iter()
        .any(|p| event_type.len() > p.len() && event_type.starts_with(p));
    if telemetry {
        EventClass::Telemetry
    } else {
        EventClass::Business
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventClass::{Business, Telemetry};

    /// Every `pub const EVENT_*` in the crate, with the class it must have. A new event constant
    /// belongs here too (the list is checked against the sources below).
    const EVERY_EVENT: &[(&str, EventClass)] = &[
        (crate::catalog::EVENT_PRODUCT_UPSERTED, Business),
        (crate::clock_watch::EVENT_CLOCK_INSANE, Business),
        (crate::clock_watch::EVENT_CLOCK_OK, Business),
        (crate::disk_guard::EVENT_DISK_LOW, Business),
        (crate::disk_guard::EVENT_DISK_OK, Business),
        (crate::catalog::EVENT_PRODUCT_DELETED, Business),
        (crate::cloud::commands::config_patch::EVENT_CONFIG_PATCHED, Business),
        (crate::staff::EVENT_STAFF_CREATED, Business),
        (crate::staff::EVENT_STAFF_PASSWORD_CHANGED, Business),
        (crate::staff::EVENT_STAFF_PIN_CHANGED, Business),
        (crate::staff::EVENT_STAFF_ROLE_CHANGED, Business),
        (crate::staff::EVENT_STAFF_DEACTIVATED, Business),
        (crate::staff::EVENT_STAFF_LOCKED, Business),
        (crate::staff::EVENT_STAFF_UNLOCKED, Business),
        (crate::staff::shift::EVENT_SHIFT_OPENED, Business),
        (crate::staff::shift::EVENT_SHIFT_CLOSED, Business),
        (crate::checkout::sale::EVENT_SALE_COMPLETED, Business),
        (crate::checkout::returns::EVENT_SALE_RETURNED, Business),
        (crate::checkout::lanes::EVENT_SALE_VOIDED, Business),
        (crate::inventory::EVENT_STOCK_MOVED, Business),
        (crate::inventory::EVENT_STOCK_LOW, Business),
        (crate::promotions::EVENT_PROMOTION_UPSERTED, Business),
        (crate::promotions::EVENT_PROMOTION_REMOVED, Business),
        (crate::members::EVENT_MEMBER_REGISTERED, Business),
        (crate::members::EVENT_TIER_CHANGED, Business),
        (crate::members::EVENT_CONSENT_CHANGED, Business),
        (crate::members::EVENT_PROFILE_UPDATED, Business),
        (crate::members::EVENT_POINTS_EARNED, Business),
        (crate::members::EVENT_POINTS_REDEEMED, Business),
        (crate::members::EVENT_POINTS_EXPIRED, Business),
        (crate::members::EVENT_POINTS_REVERSED, Business),
        (crate::members::EVENT_POINTS_RESTORED, Business),
        (crate::members::EVENT_POINTS_ADJUSTED, Business),
        (crate::members::EVENT_STORED_VALUE_TOPPED_UP, Business),
        (crate::members::EVENT_STORED_VALUE_SPENT, Business),
        (crate::members::EVENT_STORED_VALUE_REFUNDED, Business),
        (crate::members::history::EVENT_HISTORY_IMPORTED, Business),
        (crate::members::tickets::EVENT_OPENED, Business),
        (crate::members::tickets::EVENT_UPDATED, Business),
        (crate::members::tickets::EVENT_RESOLVED, Business),
        (crate::members::messages::EVENT_REQUESTED, Business),
        (crate::members::messages::EVENT_STATUS_CHANGED, Business),
        (crate::members::campaigns::EVENT_CREATED, Business),
        (crate::members::campaigns::EVENT_LAUNCHED, Business),
        (crate::members::campaigns::EVENT_FINISHED, Business),
        (crate::coupons::EVENT_COUPON_ISSUED, Business),
        (crate::coupons::EVENT_COUPON_REDEEMED, Business),
        (crate::coupons::EVENT_COUPON_RESTORED, Business),
        (crate::coupons::EVENT_COUPON_EXPIRED, Business),
        (crate::coupons::EVENT_COUPON_VOIDED, Business),
        (crate::coupons::EVENT_TEMPLATE_UPSERTED, Business),
        (crate::inventory::purchase::EVENT_CREATED, Business),
        (crate::inventory::purchase::EVENT_UPDATED, Business),
        (crate::inventory::purchase::EVENT_SENT, Business),
        (crate::inventory::purchase::EVENT_RECEIVED, Business),
        (crate::inventory::purchase::EVENT_CLOSED, Business),
        (crate::inventory::purchase::EVENT_CANCELLED, Business),
        (crate::inventory::alerts::EVENT_ALERT_RAISED, Business),
        (crate::inventory::alerts::EVENT_ALERT_CLEARED, Business),
        (crate::inventory::stocktake::EVENT_OPENED, Business),
        (crate::inventory::stocktake::EVENT_COUNTED, Business),
        (crate::inventory::stocktake::EVENT_APPROVED, Business),
        (crate::inventory::stocktake::EVENT_CANCELLED, Business),
        (crate::devices::shelf::tracker::EVENT_SHELF_PICKED, Telemetry),
        (crate::devices::shelf::tracker::EVENT_SHELF_RESTOCKED, Telemetry),
        (crate::devices::shelf::tracker::EVENT_SHELF_LOW, Telemetry),
        (crate::devices::shelf::tracker::EVENT_SHELF_EMPTY, Telemetry),
        (crate::devices::shelf::tracker::EVENT_BEAM_CHANGED, Telemetry),
        (crate::devices::shelf::firmware::EVENT_FIRMWARE_UPDATED, Telemetry),
        // A person must act on these: business, never dropped by the disk budget.
        (crate::inventory::shelf_triggers::EVENT_TASK_OPENED, Business),
        (crate::inventory::shelf_triggers::EVENT_TASK_DONE, Business),
        (crate::inventory::replenishment::EVENT_REPLENISHMENT_SUGGESTED, Business),
        (crate::staff::attendance::EVENT_CLOCKED_IN, Business),
        (crate::staff::attendance::EVENT_CLOCKED_OUT, Business),
        (crate::staff::attendance::EVENT_CORRECTED, Business),
        (crate::staff::attendance::EVENT_SCHEDULE_SET, Business),
        (crate::staff::performance::EVENT_STAFF_TARGET_SET, Business),
        (crate::staff::commission::EVENT_COMMISSION_RULES_CHANGED, Business),
        (crate::members::online_orders::EVENT_ORDER_INGESTED, Business),
        (crate::members::merge::EVENT_MEMBER_MERGED, Business),
        (crate::members::recommend::EVENT_RULES_MINED, Business),
        (crate::audit::EVENT_AUDIT_RECORDED, Business),
        (crate::privacy::subject::EVENT_MEMBER_ERASED, Business),
        (crate::provision::pairing_mode::EVENT_PAIRED, Business),
    ];

    #[test]
    fn every_event_constant_of_the_crate_has_its_class() {
        for (event_type, class) in EVERY_EVENT {
            assert_eq!(class_of(event_type), *class, "{event_type}");
        }
        // 78 business types (47 + six purchase-order, two alert, two restock, four stocktake,
        // the replenishment run's one, four attendance, the staff target, the commission rules,
        // the online order's, the member merge's, the rule mining's, the audit log's, the clock's
        // two, the disk guard's two, the member erasure's and the pairing's), 6 telemetry ones
        // (four shelf, one beam, a node's firmware update).
        let telemetry = EVERY_EVENT.iter().filter(|(_, c)| *c == Telemetry).count();
        assert_eq!((EVERY_EVENT.len() - telemetry, telemetry), (78, 6));
    }

    /// The list above names every `pub const EVENT_… = "…"` in src/, so a new event type cannot
    /// slip past a decision about its class.
    #[test]
    fn the_list_covers_every_event_constant_in_the_sources() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        collect_event_constants(&src, &mut found);
        found.sort();
        found.dedup();
        let mut listed: Vec<String> = EVERY_EVENT.iter().map(|(t, _)| t.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed, "src/ declares these event types; EVERY_EVENT lists the second set");
    }

    fn collect_event_constants(dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect_event_constants(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text.lines().map(str::trim_start).filter(|l| l.starts_with("pub const EVENT_")) {
                    if let Some(value) = line.split('"').nth(1) {
                        out.push(value.to_string());
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_and_malformed_types_are_business() {
        for t in [
            "storehub.sale.cancelled",
            "storehub.invoice.issued",
            "com.example.anything",
            "",
            "storehub.shelf.",
            "storehub.shelf",
            "storehub.beam",
            "Storehub.Shelf.picked",
            "storehub.shelfx.picked",
        ] {
            assert_eq!(class_of(t), Business, "{t:?}");
        }
    }

    #[test]
    fn device_events_to_come_are_telemetry() {
        assert_eq!(class_of("storehub.device.connected"), Telemetry);
        assert_eq!(class_of("storehub.beam.changed"), Telemetry);
        assert_eq!(class_of("storehub.shelf.empty"), Telemetry);
    }
}
