//! Checkout: the lanes (收银台) and their carts. A lane has at most one open cart; scans,
//! weights and cashier actions change it, and paying turns it into a sale in one commit.
//!
//! Boundaries: prices, discounts, tenders and points are decided in `domain` (pure); members,
//! coupons and shifts are changed through their modules' `_tx` functions inside the sale's
//! commit. Carts live in memory, one lock per lane; a flusher writes what changed every 20 ms
//! (`Store::commit_write_behind`) and a clean stop writes the rest, so a restarted daemon finds
//! every cart as it was; only the sale itself waits for the disk.

pub mod cart;
pub mod lanes;
pub mod receipt;
pub mod returns;
pub mod sale;

pub use cart::{AddHow, Cart, CartError, CartLine, PriceOverride};
pub use lanes::{CheckoutError, LaneEvent, LaneEvents, LaneNotice, LaneSnapshot, LaneUpdate, Lanes, ScaleReading, ScanOutcome};
pub use sale::{PayRequest, Sale, SaleRules, EVENT_SALE_COMPLETED};
