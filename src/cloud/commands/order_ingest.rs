//! HQ's `order.ingest` command: an online order (mini program, delivery platform, online mall,
//! phone) for this store, validated against its schema and handed to `members::online_orders`.
