//! Commission (提成) rules and their arithmetic: percent of sales by category, an amount per new
//! member, a percent of stored-value top-ups, computed per staff member and period in fen.
//! Pure; `staff::commission` stores the rules and feeds in the period's figures.
