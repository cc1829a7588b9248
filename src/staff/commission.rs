//! Commission (提成): stored rules (`TreeId::CommissionRules`), computed per staff member and
//! period, exported as CSV for payroll. Arithmetic in `domain::commission`.
