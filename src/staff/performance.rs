//! Staff performance (员工绩效): figures per staff member and period gathered from sales,
//! returns, voids, member registrations and service tickets, targets per period
//! (`TreeId::StaffTargets`), and the ranking. Arithmetic in `domain::performance`.
