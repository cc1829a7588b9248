//! Replenishment terms per SKU and per supplier (lead time, review period, pack size, MOQ,
//! service level), over the `[stock]` defaults; the service level defaults per ABC class.
