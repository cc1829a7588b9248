//! Staff rules with no I/O: which role may do what, what a PIN and a password must look like,
//! when failed logins lock an account, and the cash reconciliation of a shift (交班对账). The
//! accounts, their hashes and the shifts themselves live in `crate::staff`; nothing here hashes,
//! stores or reads the clock (callers pass `now`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::money::format_yuan;

/// What a staff account is for. Permissions follow from the role alone (see [`allows`]): there
/// are no per-account grants, so a technician can never be given the right to sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 收银员: sells at a lane and runs their own shift.
    Cashier,
    /// 店长: a cashier who may also void, refund, override prices and look after members.
    Manager,
    /// 技术员: installs, configures and repairs the box; never handles money.
    Technician,
    /// 管理员: everything, including staff accounts.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Cashier, Role::Manager, Role::Technician, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Technician => "technician",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Something a person at the hub may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Scan, weigh and take payment.
    Sell,
    /// Remove one line from the open cart.
    VoidLine,
    /// Cancel a whole cart.
    VoidSession,
    /// Sell at a price other than the catalog's.
    PriceOverride,
    /// Take back goods against a receipt.
    Return,
    /// Take back goods without a receipt.
    ReturnWithoutReceipt,
    /// Open a shift at a lane (with its cash float).
    OpenShift,
    /// Count the drawer and close one's own shift.
    CloseShift,
    /// Close a shift someone else opened.
    CloseAnyShift,
    /// Create staff accounts, change roles, reset passwords and PINs.
    ManageStaff,
    /// Register and edit members.
    ManageMembers,
    /// Add or remove points by hand.
    AdjustPoints,
    /// Change the hub's configuration.
    Configure,
    /// Attach, test and replace scanners, scales, printers and shelf sensors.
    ManageDevices,
    /// Restore backups, recover a damaged database.
    Recover,
    /// See sales figures: the dashboard, reports and their CSV downloads.
    ViewSales,
    /// Find a member and see their panel (tier, points, coupons) at the till.
    LookupMembers,
    /// Register a new member (at the till).
    RegisterMembers,
    /// See products and prices.
    ViewCatalog,
    /// Create and edit products and prices.
    EditCatalog,
    /// See stock on hand and the stock ledger.
    ViewStock,
    /// Record stock adjustments (count corrections, damage, write-offs).
    AdjustStock,
    /// See the devices' health.
    ViewDevices,
    /// Work member service tickets: see, assign, note, resolve, rate (会员专属客服).
    ManageTickets,
    /// Open a service ticket for a member (at the till or the service desk).
    OpenTickets,
    /// Create, launch and measure campaigns (营销活动).
    ManageCampaigns,
    /// Member messages: edit templates, preview, see what was sent.
    ManageMessages,
    /// See member analytics: segments, dormancy, churn warnings, repurchase reminders, model fits.
    ViewAnalytics,
    /// Replenishment policies and purchase orders: create, edit, send, close (采购).
    ManagePurchaseOrders,
    /// Receive goods against a sent purchase order, by scanning (收货).
    ReceiveGoods,
    /// Scan counts into an open stocktake (盘点录入).
    CountStock,
    /// Open, close and approve stocktakes; the approval books the variance (盘点审核).
    ManageStocktakes,
    /// See and complete restock tasks, acknowledge shelf and stock alerts (补货任务).
    WorkRestockTasks,
    /// Merge two member records of one person (会员合并).
    MergeMembers,
    /// Clock oneself in and out, see one's own attendance and performance row and rank (考勤打卡).
    ClockIn,
    /// Edit schedules, correct anyone's clock times, see everyone's attendance (考勤管理).
    ManageAttendance,
    /// See every staff member's performance and set targets (员工绩效).
    ManageStaffTargets,
    /// Edit commission rules and export commission for payroll (提成).
    ManageCommission,
}

impl Action {
    pub const ALL: [Action; 38] = [
        Action::Sell,
        Action::VoidLine,
        Action::VoidSession,
        Action::PriceOverride,
        Action::Return,
        Action::ReturnWithoutReceipt,
        Action::OpenShift,
        Action::CloseShift,
        Action::CloseAnyShift,
        Action::ManageStaff,
        Action::ManageMembers,
        Action::AdjustPoints,
        Action::Configure,
        Action::ManageDevices,
        Action::Recover,
        Action::ViewSales,
        Action::LookupMembers,
        Action::RegisterMembers,
        Action::ViewCatalog,
        Action::EditCatalog,
        Action::ViewStock,
        Action::AdjustStock,
        Action::ViewDevices,
        Action::ManageTickets,
        Action::OpenTickets,
        Action::ManageCampaigns,
        Action::ManageMessages,
        Action::ViewAnalytics,
        Action::ManagePurchaseOrders,
        Action::ReceiveGoods,
        Action::CountStock,
        Action::ManageStocktakes,
        Action::WorkRestockTasks,
        Action::MergeMembers,
        Action::ClockIn,
        Action::ManageAttendance,
        Action::ManageStaffTargets,
        Action::ManageCommission,
    ];

    /// Words for messages: "may not {as_phrase}".
    pub fn as_phrase(self) -> &'static str {
        match self {
            Action::Sell => "sell",
            Action::VoidLine => "void a line",
            Action::VoidSession => "void a whole sale",
            Action::PriceOverride => "override a price",
            Action::Return => "take a return",
            Action::ReturnWithoutReceipt => "take a return without receipt",
            Action::OpenShift => "open a shift",
            Action::CloseShift => "close a shift",
            Action::CloseAnyShift => "close another person's shift",
            Action::ManageStaff => "manage staff accounts",
            Action::ManageMembers => "manage members",
            Action::AdjustPoints => "adjust points",
            Action::Configure => "change the configuration",
            Action::ManageDevices => "manage devices",
            Action::Recover => "restore or recover the database",
            Action::ViewSales => "see sales figures",
            Action::LookupMembers => "look up members",
            Action::RegisterMembers => "register members",
            Action::ViewCatalog => "see the catalog",
            Action::EditCatalog => "edit the catalog",
            Action::ViewStock => "see stock",
            Action::AdjustStock => "adjust stock",
            Action::ViewDevices => "see device health",
            Action::ManageTickets => "work member service tickets",
            Action::OpenTickets => "open member service tickets",
            Action::ManageCampaigns => "manage campaigns",
            Action::ManageMessages => "manage member messages",
            Action::ViewAnalytics => "see member analytics",
            Action::ManagePurchaseOrders => "manage purchase orders",
            Action::ReceiveGoods => "receive goods",
            Action::CountStock => "count stock",
            Action::ManageStocktakes => "manage stocktakes",
            Action::WorkRestockTasks => "work restock tasks",
            Action::MergeMembers => "merge members",
            Action::ClockIn => "clock in and out",
            Action::ManageAttendance => "manage attendance",
            Action::ManageStaffTargets => "manage staff performance and targets",
            Action::ManageCommission => "manage commission",
        }
    }
}

const Y: bool = true;
const N: bool = false;

/// Who may do what: one row per action, one column per role. The `match` is exhaustive, so a new
/// action does not compile until its row is written.
#[rustfmt::skip]
fn permissions(action: Action) -> [bool; 4] {
    match action {
        //                                  cashier manager technician admin
        Action::Sell                 => [Y,      Y,      N,         Y],
        Action::VoidLine             => [Y,      Y,      N,         Y],
        Action::VoidSession          => [N,      Y,      N,         Y],
        Action::PriceOverride        => [N,      Y,      N,         Y],
        Action::Return               => [N,      Y,      N,         Y],
        Action::ReturnWithoutReceipt => [N,      Y,      N,         Y],
        Action::OpenShift            => [Y,      Y,      N,         Y],
        Action::CloseShift           => [Y,      Y,      N,         Y],
        Action::CloseAnyShift        => [N,      Y,      N,         Y],
        Action::ManageStaff          => [N,      N,      N,         Y],
        Action::ManageMembers        => [N,      Y,      N,         Y],
        Action::AdjustPoints         => [N,      Y,      N,         Y],
        Action::Configure            => [N,      N,      Y,         Y],
        Action::ManageDevices        => [N,      N,      Y,         Y],
        Action::Recover              => [N,      N,      Y,         Y],
        Action::ViewSales            => [N,      Y,      N,         Y],
        Action::LookupMembers        => [Y,      Y,      N,         Y],
        Action::RegisterMembers      => [Y,      Y,      N,         Y],
        Action::ViewCatalog          => [Y,      Y,      Y,         Y],
        Action::EditCatalog          => [N,      Y,      N,         Y],
        Action::ViewStock            => [N,      Y,      N,         Y],
        Action::AdjustStock          => [N,      Y,      N,         Y],
        Action::ViewDevices          => [N,      Y,      Y,         Y],
        Action::ManageTickets        => [N,      Y,      N,         Y],
        Action::OpenTickets          => [Y,      Y,      N,         Y],
        Action::ManageCampaigns      => [N,      Y,      N,         Y],
        Action::ManageMessages       => [N,      Y,      N,         Y],
        Action::ViewAnalytics        => [N,      Y,      N,         Y],
        Action::ManagePurchaseOrders => [N,      Y,      N,         Y],
        Action::ReceiveGoods         => [Y,      Y,      N,         Y],
        Action::CountStock           => [Y,      Y,      N,         Y],
        Action::ManageStocktakes     => [N,      Y,      N,         Y],
        Action::WorkRestockTasks     => [Y,      Y,      N,         Y],
        Action::MergeMembers         => [N,      Y,      N,         Y],
        Action::ClockIn              => [Y,      Y,      Y,         Y],
        Action::ManageAttendance     => [N,      Y,      N,         Y],
        Action::ManageStaffTargets   => [N,      Y,      N,         Y],
        Action::ManageCommission     => [N,      Y,      N,         Y],
    }
}

/// Whether `role` may do `action`.
pub fn allows(role: Role, action: Action) -> bool {
    let column = match role {
        Role::Cashier => 0,
        Role::Manager => 1,
        Role::Technician => 2,
        Role::Admin => 3,
    };
    permissions(action)[column]
}

/// Whether a person with `role` may close a shift: their own with [`Action::CloseShift`],
/// anyone else's only with [`Action::CloseAnyShift`].
pub fn may_close_shift(role: Role, own_shift: bool) -> bool {
    if own_shift {
        allows(role, Action::CloseShift)
    } else {
        allows(role, Action::CloseAnyShift)
    }
}

// --- credentials -------------------------------------------------------------------------------

/// Shortest and longest PIN, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=6;
/// Shortest password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest password, in characters: a bound on the work one login attempt can ask of the hasher.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Why a PIN or password is refused. The messages state the rule and never repeat the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("PIN: must be 4 to 6 digits (0-9), got {0} characters")]
    PinLength(usize),
    #[error("PIN: must be 4 to 6 digits (0-9), got a character that is not a digit")]
    PinNotDigits,
    #[error("password: must have at least 8 characters, got {0}")]
    PasswordTooShort(usize),
    #[error("password: must have at most 128 characters, got {0}")]
    PasswordTooLong(usize),
}

/// A PIN is 4 to 6 ASCII digits. PINs are short on purpose (typed on a till many times a day);
/// what keeps them safe is the lockout, not their length.
pub fn check_pin(pin: &str) -> Result<(), CredentialError> {
    let n = pin.chars().count();
    if !PIN_DIGITS.contains(&n) {
        return Err(CredentialError::PinLength(n));
    }
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialError::PinNotDigits);
    }
    Ok(())
}

/// A password has 8 to 128 characters (any characters, spaces and Chinese included).
pub fn check_password(password: &str) -> Result<(), CredentialError> {
    let n = password.chars().count();
    if n < PASSWORD_MIN_CHARS {
        return Err(CredentialError::PasswordTooShort(n));
    }
    if n > PASSWORD_MAX_CHARS {
        return Err(CredentialError::PasswordTooLong(n));
    }
    Ok(())
}

// --- lockout -----------------------------------------------------------------------------------

/// Failed logins of one account since its last success or unlock, and the lock they caused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockoutState {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

/// How many failed logins lock an account, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock: Duration,
}

impl Default for LockoutPolicy {
    /// 5 failures lock for 5 minutes: a 4-digit PIN then takes, on average, 5 000 attempts ≈
    /// 3½ days of uninterrupted guessing per account, while a cashier who mistypes waits briefly.
    fn default() -> Self {
        LockoutPolicy { max_failures: 5, lock: Duration::minutes(5) }
    }
}

impl LockoutPolicy {
    /// The end of the lock if the account is locked at `now` (a lock ends at `until` exactly).
    pub fn is_locked(&self, state: &LockoutState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        state.locked_until.filter(|until| *until > now)
    }

    /// The state after one more failed attempt at `now`. The `max_failures`-th failure locks
    /// until `now + lock`; a lock that has run out starts a fresh count. Called on a locked
    /// account (which a caller should refuse before checking the secret), it changes nothing:
    /// attempts during a lock neither count nor lengthen it.
    pub fn on_failure(&self, state: LockoutState, now: DateTime<Utc>) -> LockoutState {
        if self.is_locked(&state, now).is_some() {
            return state;
        }
        let before = if state.locked_until.is_some() { 0 } else { state.failures };
        let failures = before.saturating_add(1);
        if failures >= self.max_failures.max(1) {
            let until = now.checked_add_signed(self.lock).unwrap_or(DateTime::<Utc>::MAX_UTC);
            LockoutState { failures, locked_until: Some(until) }
        } else {
            LockoutState { failures, locked_until: None }
        }
    }

    /// The state after a successful login (or an unlock): no failures, no lock.
    pub fn on_success(&self, _state: LockoutState) -> LockoutState {
        LockoutState::default()
    }
}

// --- shift reconciliation ----------------------------------------------------------------------

/// Saturates an exact i128 sum into i64 fen (unreachable for real drawers: it needs more than
/// 9.2 × 10^16 yuan).
fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Cash that should be in the drawer at the end of a shift: the opening float, plus cash taken
/// for sales, minus cash paid back for refunds, plus cash put in (change from the safe), minus
/// cash taken out (paid-outs to suppliers, drops to the safe). Exact; saturates at the i64 range.
pub fn expected_cash(
    float_fen: i64,
    cash_sales_fen: i64,
    cash_refunds_fen: i64,
    paid_in_fen: i64,
    paid_out_fen: i64,
) -> i64 {
    saturate(
        i128::from(float_fen) + i128::from(cash_sales_fen) - i128::from(cash_refunds_fen)
            + i128::from(paid_in_fen)
            - i128::from(paid_out_fen),
    )
}

/// Counted minus expected: positive when the drawer is over (长款), negative when it is short
/// (短款). Saturates at the i64 range.
pub fn cash_difference(counted_fen: i64, expected_fen: i64) -> i64 {
    saturate(i128::from(counted_fen) - i128::from(expected_fen))
}

/// A difference in words for the person closing the shift: `exact`, `over ¥2.50`, `short ¥1.00`.
pub fn describe_difference(difference_fen: i64) -> String {
    match difference_fen {
        0 => "exact".to_string(),
        d if d > 0 => format!("over {}", format_yuan(d)),
        d => format!("short {}", format_yuan(d).trim_start_matches('-')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn nine() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_cashier_sells_and_voids_a_line_but_needs_a_manager_for_a_whole_sale_or_a_return() {
        for a in [Action::Sell, Action::VoidLine, Action::OpenShift, Action::CloseShift] {
            assert!(allows(Role::Cashier, a), "{a:?}");
        }
        for a in [
            Action::VoidSession,
            Action::PriceOverride,
            Action::Return,
            Action::ReturnWithoutReceipt,
            Action::CloseAnyShift,
            Action::ManageMembers,
            Action::AdjustPoints,
            Action::ManageStaff,
            Action::Configure,
            Action::Recover,
        ] {
            assert!(!allows(Role::Cashier, a), "{a:?}");
            assert_eq!(allows(Role::Manager, a), !matches!(a, Action::ManageStaff | Action::Configure | Action::Recover), "{a:?}");
        }
    }

    #[test]
    fn a_technician_configures_and_recovers_but_never_sells_or_takes_returns() {
        for a in [Action::Configure, Action::ManageDevices, Action::Recover] {
            assert!(allows(Role::Technician, a), "{a:?}");
        }
        for a in [Action::Sell, Action::Return, Action::ReturnWithoutReceipt, Action::OpenShift, Action::ManageStaff] {
            assert!(!allows(Role::Technician, a), "{a:?}");
        }
    }

    #[test]
    fn an_admin_may_do_everything_and_only_an_admin_manages_staff() {
        for a in Action::ALL {
            assert!(allows(Role::Admin, a), "{a:?}");
        }
        let managers: Vec<Role> = Role::ALL.into_iter().filter(|r| allows(*r, Action::ManageStaff)).collect();
        assert_eq!(managers, vec![Role::Admin]);
    }

    #[test]
    fn a_cashier_closes_only_their_own_shift_a_manager_any() {
        assert!(may_close_shift(Role::Cashier, true));
        assert!(!may_close_shift(Role::Cashier, false));
        assert!(may_close_shift(Role::Manager, false));
        assert!(!may_close_shift(Role::Technician, true));
    }

    #[test]
    fn roles_read_and_write_as_snake_case() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Role::parse("Cashier"), None);
    }

    #[test]
    fn pins_are_four_to_six_digits_and_the_message_never_repeats_the_pin() {
        for ok in ["0000", "1234", "12345", "987654"] {
            assert_eq!(check_pin(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_pin("123"), Err(CredentialError::PinLength(3)));
        assert_eq!(check_pin("1234567"), Err(CredentialError::PinLength(7)));
        assert_eq!(check_pin(""), Err(CredentialError::PinLength(0)));
        assert_eq!(check_pin("12a4"), Err(CredentialError::PinNotDigits));
        assert_eq!(check_pin("１２３４"), Err(CredentialError::PinNotDigits), "full-width digits are not ASCII");
        let msg = check_pin("987").unwrap_err().to_string();
        assert_eq!(msg, "PIN: must be 4 to 6 digits (0-9), got 3 characters");
        assert!(!msg.contains("987"));
    }

    #[test]
    fn passwords_have_eight_to_128_characters_counted_as_characters_not_bytes() {
        assert_eq!(check_password("correct horse"), Ok(()));
        assert_eq!(check_password("收银台一号密码"), Err(CredentialError::PasswordTooShort(7)));
        assert_eq!(check_password("收银台一号密码!"), Ok(()));
        assert_eq!(check_password("1234567"), Err(CredentialError::PasswordTooShort(7)));
        assert_eq!(check_password(&"x".repeat(129)), Err(CredentialError::PasswordTooLong(129)));
        assert_eq!(
            check_password("short").unwrap_err().to_string(),
            "password: must have at least 8 characters, got 5"
        );
    }

    #[test]
    fn five_wrong_pins_lock_for_five_minutes_and_the_lock_ends_on_time() {
        let policy = LockoutPolicy::default();
        let mut s = LockoutState::default();
        for i in 1..=4 {
            s = policy.on_failure(s, nine() + Duration::seconds(i));
            assert_eq!(s, LockoutState { failures: i as u32, locked_until: None });
            assert_eq!(policy.is_locked(&s, nine() + Duration::seconds(i)), None);
        }
        let fifth = nine() + Duration::seconds(5);
        s = policy.on_failure(s, fifth);
        let until = fifth + Duration::minutes(5);
        assert_eq!(s, LockoutState { failures: 5, locked_until: Some(until) });
        assert_eq!(policy.is_locked(&s, fifth), Some(until));
        assert_eq!(policy.is_locked(&s, until - Duration::seconds(1)), Some(until));
        assert_eq!(policy.is_locked(&s, until), None, "the lock ends at 09:05:05 exactly");

        // Attempts during the lock neither count nor lengthen it.
        assert_eq!(policy.on_failure(s, fifth + Duration::minutes(2)), s);

        // After it ran out, one more failure starts a fresh count instead of locking again.
        let after = policy.on_failure(s, until + Duration::seconds(1));
        assert_eq!(after, LockoutState { failures: 1, locked_until: None });
    }

    #[test]
    fn a_success_forgets_earlier_failures() {
        let policy = LockoutPolicy::default();
        let mut s = LockoutState::default();
        for _ in 0..4 {
            s = policy.on_failure(s, nine());
        }
        s = policy.on_success(s);
        assert_eq!(s, LockoutState::default());
        s = policy.on_failure(s, nine());
        assert_eq!(s.failures, 1, "four more tries before a lock, not zero");
    }

    #[test]
    fn a_lock_at_the_end_of_time_does_not_overflow() {
        let policy = LockoutPolicy { max_failures: 1, lock: Duration::minutes(5) };
        let s = policy.on_failure(LockoutState::default(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(s.locked_until, Some(DateTime::<Utc>::MAX_UTC));
        let zero = LockoutPolicy { max_failures: 0, lock: Duration::minutes(1) };
        assert!(zero.on_failure(LockoutState::default(), nine()).locked_until.is_some(), "0 means every failure locks");
    }

    #[test]
    fn float_500_sales_1236_40_refunds_36_40_counted_1699_is_one_yuan_short() {
        let expected = expected_cash(50_000, 123_640, 3_640, 0, 0);
        assert_eq!(expected, 170_000, "¥500 + ¥1,236.40 − ¥36.40 = ¥1,700.00");
        let diff = cash_difference(169_900, expected);
        assert_eq!(diff, -100);
        assert_eq!(describe_difference(diff), "short ¥1.00");
    }

    #[test]
    fn paid_in_change_and_a_paid_out_delivery_move_the_expected_cash() {
        // Float ¥300, ¥2,000.00 of cash sales, ¥200 of change brought from the safe, ¥150.50 paid
        // to the egg supplier from the drawer: ¥2,349.50 expected; ¥2,352.00 counted is ¥2.50 over.
        let expected = expected_cash(30_000, 200_000, 0, 20_000, 15_050);
        assert_eq!(expected, 234_950);
        assert_eq!(describe_difference(cash_difference(235_200, expected)), "over ¥2.50");
        assert_eq!(describe_difference(cash_difference(expected, expected)), "exact");
    }

    #[test]
    fn reconciliation_never_overflows() {
        assert_eq!(expected_cash(i64::MAX, i64::MAX, 0, 0, 0), i64::MAX);
        assert_eq!(expected_cash(0, 0, i64::MAX, 0, i64::MAX), i64::MIN);
        assert_eq!(cash_difference(i64::MIN, i64::MAX), i64::MIN);
        assert_eq!(describe_difference(i64::MIN), "short ¥92,233,720,368,547,758.08");
    }
}
