//! Money is integer fen (i64), weights integer grams, rates basis points. Formatting and rounding
//! helpers live here so no other module ever touches a float for money.
