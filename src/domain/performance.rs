//! Staff performance (员工绩效) figures per staff member and period: sales, tickets, average
//! ticket, items per ticket, members registered, coupons redeemed, returns and voids,
//! satisfaction, progress against targets, and the ranking. Pure; `staff::performance` gathers
//! the inputs from sales, returns, voids, members and service tickets.
