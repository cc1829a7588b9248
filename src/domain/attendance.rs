//! Attendance rules (考勤): a planned shift against clock-in and clock-out times in shop-local
//! time (late, early leave, missing clock-out, hours worked per period). Pure; `staff::attendance`
//! stores schedules and clock records and asks these functions.
