//! Shelf triggers: restock-from-backroom tasks when a shelf falls to its minimum, shelf-gap
//! alerts when the ledger has stock but the shelf stays empty.
