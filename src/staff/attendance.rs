//! Attendance (考勤): schedules per staff member (`TreeId::StaffSchedules`), clock in and out with
//! a PIN at the cashier screen or the dashboard (`TreeId::Attendance`), flags (late, early
//! leave, missing clock-out) and hours per period from `domain::attendance`, and manager
//! corrections with an audit trail.
