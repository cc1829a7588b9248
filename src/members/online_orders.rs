//! Online orders (线上订单) forwarded by HQ's `order.ingest` command: an order from a sales
//! channel other than the lanes becomes a sale of that channel, earning points and updating the
//! member exactly like an in-store sale, moving this store's stock only when this store fulfils
//! it. Idempotent by order id (`TreeId::OnlineOrders`).
