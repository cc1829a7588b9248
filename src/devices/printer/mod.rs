//! Receipt printers: ESC/POS encoding, receipts rendered from the checkout's models, status,
//! and a durable print queue.
