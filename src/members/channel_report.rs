//! The sales channel report (渠道分析): sales, tickets, members, new members, repeat rate and
//! average basket per channel (`domain::channel`) and period.
