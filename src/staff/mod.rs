//! Staff accounts and logins: who works in the shop, their role, their password and PIN (as
//! salted Argon2id hashes) and the lockout after failed attempts; shifts and their cash live in
//! [`shift`]. The rules (roles, PIN and password shapes, lockout, reconciliation) are pure and
//! live in `domain::staff`; this module stores and enforces them through `Store::commit`.
//!
//! Boundary: no secret leaves this module. Hashes are never returned by anything user-facing
//! ([`StaffInfo`] has none), never logged (`StaffAccount`'s `Debug` hides them) and never put in
//! an event; a PIN or password is checked and hashed here and then dropped. Argon2 is slow on
//! purpose, so hashing and verifying happen outside the commit closure (which holds the store's
//! commit lock); the commit then re-checks that the account did not change meanwhile.

pub mod attendance;
pub mod commission;
pub mod performance;
pub mod shift;

use std::convert::Infallible;
use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Id;
use crate::domain::staff::{
    allows, check_password, check_pin, Action, CredentialError, LockoutPolicy, LockoutState, Role,
};
use crate::audit::{self, AuditAction};
use crate::store::{CommitError, Record, Store, StoreError, TreeId, Tx, TxError};

pub use shift::{
    close_shift, open_shift, open_shift_for_lane, open_shift_in_tx, open_shifts, record_cash_tx, recent_closed_shifts,
    shift, CashFlow, Shift, ShiftClose, ShiftError, EVENT_SHIFT_CLOSED, EVENT_SHIFT_OPENED,
};

/// A staff account was created (data: [`StaffInfo`]).
pub const EVENT_STAFF_CREATED: &str = "storehub.staff.created";
/// A password was set (data: `{"id"}`; never the hash).
pub const EVENT_STAFF_PASSWORD_CHANGED: &str = "storehub.staff.password_changed";
/// A PIN was set or cleared (data: `{"id","has_pin"}`; never the PIN or its hash).
pub const EVENT_STAFF_PIN_CHANGED: &str = "storehub.staff.pin_changed";
/// A role changed (data: [`RoleChanged`]).
pub const EVENT_STAFF_ROLE_CHANGED: &str = "storehub.staff.role_changed";
/// An account was deactivated (data: `{"id"}`).
pub const EVENT_STAFF_DEACTIVATED: &str = "storehub.staff.deactivated";
/// Failed logins locked an account (data: [`StaffLocked`]).
pub const EVENT_STAFF_LOCKED: &str = "storehub.staff.locked";
/// An account's failures and lock were cleared by hand (data: `{"id"}`).
pub const EVENT_STAFF_UNLOCKED: &str = "storehub.staff.unlocked";

/// Longest staff name, in characters.
const NAME_MAX_CHARS: usize = 64;

/// Cost of the Argon2id hashes this hub writes. Verifying always uses the parameters written in
/// the stored hash itself, so a cost change affects only hashes made after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashCost(argon2::Params);

impl HashCost {
    /// What every production path uses: the argon2 crate's defaults, Argon2id v19 with 19 MiB of
    /// memory, 2 passes, 1 lane and a 16-byte random salt (OWASP's first recommended setting).
    /// One hash or verification measured ~25 ms on this project's x86 dev box (argon2 built
    /// optimised, as `[profile.dev.package]` does for debug builds too); a Raspberry Pi 4 is
    /// expected to stay well under 100 ms, not measured here yet.
    pub fn standard() -> HashCost {
        HashCost(argon2::Params::DEFAULT)
    }

    /// The smallest Argon2id the crate accepts (8 KiB, 1 pass): for tests that create many
    /// accounts, never for a real shop's accounts. Logins verify such hashes just as well, only
    /// faster; nothing on the CLI or the control socket can choose it.
    pub fn minimal_for_tests() -> HashCost {
        match argon2::Params::new(argon2::Params::MIN_M_COST, argon2::Params::MIN_T_COST, 1, None) {
            Ok(p) => HashCost(p),
            Err(_) => HashCost::standard(),
        }
    }
}

/// A staff account as stored. The hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`)
/// and only this module reads them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAccount {
    /// Login name: 1 to 64 lowercase letters, digits, `-` or `_` (like every id of the hub).
    pub id: String,
    pub name: String,
    pub role: Role,
    password_hash: String,
    pin_hash: Option<String>,
    pub active: bool,
    /// Failed logins since the last success or unlock.
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Record for StaffAccount {
    const NAME: &'static str = "staff account";
}

impl std::fmt::Debug for StaffAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffAccount")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password_hash", &"***")
            .field("pin_hash", &self.pin_hash.as_ref().map(|_| "***"))
            .field("active", &self.active)
            .field("failures", &self.failures)
            .field("locked_until", &self.locked_until)
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl StaffAccount {
    fn lockout(&self) -> LockoutState {
        LockoutState { failures: self.failures, locked_until: self.locked_until }
    }

    fn set_lockout(&mut self, s: LockoutState) {
        self.failures = s.failures;
        self.locked_until = s.locked_until;
    }

    /// The stored password hash (PHC string), for audits of the hashing itself.
    pub fn password_phc(&self) -> &str {
        &self.password_hash
    }

    /// The stored PIN hash (PHC string), if a PIN is set.
    pub fn pin_phc(&self) -> Option<&str> {
        self.pin_hash.as_deref()
    }

    /// What may be shown of this account: everything but the hashes. `locked_until` is the
    /// stored value; [`list_staff`] and [`staff_info`] show it only while the lock holds.
    pub fn info(&self) -> StaffInfo {
        StaffInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            active: self.active,
            has_pin: self.pin_hash.is_some(),
            failures: self.failures,
            locked_until: self.locked_until,
            created_at: self.created_at,
        }
    }

    fn staff_ref(&self) -> StaffRef {
        StaffRef { id: self.id.clone(), name: self.name.clone(), role: self.role }
    }
}

/// A staff account as shown to people and sent in events: no hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub has_pin: bool,
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Who logged in: the result of a successful login, and what permission checks look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRef {
    pub id: String,
    pub name: String,
    pub role: Role,
}

impl StaffRef {
    /// Whether this person's role allows `action`.
    pub fn may(&self, action: Action) -> bool {
        allows(self.role, action)
    }
}

/// A new account, before its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStaff {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// Data of `storehub.staff.role_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChanged {
    pub id: String,
    pub from: Role,
    pub to: Role,
}

/// Data of `storehub.staff.locked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffLocked {
    pub id: String,
    pub failures: u32,
    pub until: DateTime<Utc>,
}

#[derive(Serialize)]
struct IdOnly<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct PinChanged<'a> {
    id: &'a str,
    has_pin: bool,
}

/// Why a staff change or permission check was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("staff id: {0}")]
    BadId(String),
    #[error("staff name: must be 1 to 64 characters without control characters, got {0} characters")]
    BadName(usize),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("staff {0} already exists; use `storehub staff passwd {0}` or `storehub staff pin {0}` to change its secrets")]
    Exists(String),
    #[error("no staff account {0}; `storehub staff list` shows the accounts")]
    Unknown(String),
    #[error("staff {0} is deactivated")]
    Inactive(String),
    #[error("staff {id} is a {role} and may not {}", .action.as_phrase())]
    Forbidden { id: String, role: &'static str, action: Action },
    #[error("cannot hash the {what}: {reason}")]
    Hash { what: &'static str, reason: String },
}

/// Why a login failed. A wrong id and a wrong secret read the same, so the message does not tell
/// which ids exist.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong staff id or password")]
    WrongPassword,
    #[error("wrong staff id or PIN")]
    WrongPin,
    #[error(
        "staff {id} is locked after {failures} failed attempts until {}; try again then, or ask an admin to run `storehub staff unlock {id}`",
        .until.format("%Y-%m-%d %H:%M:%S UTC")
    )]
    Locked { id: String, failures: u32, until: DateTime<Utc> },
    #[error("staff {0} is deactivated; ask an admin")]
    Inactive(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks an id against the hub's id rule (`config::Id`: 1 to 64 of `a-z 0-9 - _`).
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    Id::try_from(id.to_string()).map(|_| ())
}

/// Checks a new account's id and name (before anyone types a password for it) and returns the
/// name as it will be stored (trimmed).
pub fn check_new_staff(new: &NewStaff) -> Result<String, StaffError> {
    check_id(&new.id).map_err(StaffError::BadId)?;
    check_name(&new.name)
}

fn check_name(name: &str) -> Result<String, StaffError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(StaffError::BadName(n));
    }
    Ok(name.to_string())
}

/// Hashes a secret with Argon2id and a fresh random salt into a PHC string.
fn hash_secret(secret: &str, cost: &HashCost, what: &'static str) -> Result<String, StaffError> {
    Argon2::from(cost.0.clone())
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StaffError::Hash { what, reason: e.to_string() })
}

/// Whether `secret` matches the PHC string `phc` (with the parameters stored in it).
fn verify_secret(secret: &str, phc: &str) -> bool {
    Argon2::default().verify_password(secret.as_bytes(), phc).is_ok()
}

/// Spends about the time of one real verification, so a login for an id that does not exist
/// (or has no PIN) takes as long as one with a wrong secret.
fn verify_nothing(secret: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_secret("not a real secret", &HashCost::standard(), "dummy").ok());
    if let Some(phc) = dummy {
        let _ = verify_secret(secret, phc);
    }
}

fn refused<T>(e: StaffError) -> Result<T, CommitError<StaffError>> {
    Err(CommitError::Rejected(e))
}

fn account_in_tx<E: From<StaffError>>(tx: &Tx, id: &str) -> Result<StaffAccount, TxError<E>> {
    tx.get::<StaffAccount, E>(TreeId::Staff, id.as_bytes())?
        .ok_or_else(|| TxError::Rejected(StaffError::Unknown(id.to_string()).into()))
}

/// Whether an account may do `action`: it must be active and its role must allow it.
pub(crate) fn check_allowed(account: &StaffAccount, action: Action) -> Result<StaffRef, StaffError> {
    if !account.active {
        return Err(StaffError::Inactive(account.id.clone()));
    }
    if !allows(account.role, action) {
        return Err(StaffError::Forbidden { id: account.id.clone(), role: account.role.as_str(), action });
    }
    Ok(account.staff_ref())
}

/// The active account `id`, read inside `tx`, if its role allows `action`: what a service checks
/// before doing something on someone's behalf, in the same commit as the change.
pub fn authorize_in_tx<E: From<StaffError>>(tx: &Tx, id: &str, action: Action) -> Result<StaffRef, TxError<E>> {
    let account = account_in_tx::<E>(tx, id)?;
    check_allowed(&account, action).map_err(|e| TxError::Rejected(e.into()))
}

/// [`authorize_in_tx`] outside a commit.
pub fn authorize(store: &Store, id: &str, action: Action) -> Result<StaffRef, CommitError<StaffError>> {
    let account = store
        .get::<StaffAccount>(TreeId::Staff, id.as_bytes())?
        .ok_or_else(|| CommitError::Rejected(StaffError::Unknown(id.to_string())))?;
    check_allowed(&account, action).map_err(CommitError::Rejected)
}

/// Creates an account with its password and, optionally, a PIN. Everything is checked before
/// anything is hashed or written; a refused account writes nothing.
pub fn create_staff(
    store: &Store,
    new: &NewStaff,
    password: &str,
    pin: Option<&str>,
    cost: &HashCost,
) -> Result<StaffInfo, CommitError<StaffError>> {
    create_staff_by(store, new, password, pin, cost, "cli")
}

/// [`create_staff`] done by `by` (a staff id, `cli`, `hq`), recorded in the audit log.
pub fn create_staff_by(
    store: &Store,
    new: &NewStaff,
    password: &str,
    pin: Option<&str>,
    cost: &HashCost,
    by: &str,
) -> Result<StaffInfo, CommitError<StaffError>> {
    let name = check_new_staff(new).map_err(CommitError::Rejected)?;
    check_password(password).map_err(|e| CommitError::Rejected(e.into()))?;
    if let Some(pin) = pin {
        check_pin(pin).map_err(|e| CommitError::Rejected(e.into()))?;
    }
    if store.get::<StaffAccount>(TreeId::Staff, new.id.as_bytes())?.is_some() {
        return refused(StaffError::Exists(new.id.clone()));
    }
    let password_hash = hash_secret(password, cost, "password").map_err(CommitError::Rejected)?;
    let pin_hash = match pin {
        Some(p) => Some(hash_secret(p, cost, "PIN").map_err(CommitError::Rejected)?),
        None => None,
    };
    store.commit(|tx| {
        if tx.get::<StaffAccount, StaffError>(TreeId::Staff, new.id.as_bytes())?.is_some() {
            return Err(TxError::Rejected(StaffError::Exists(new.id.clone())));
        }
        let account = StaffAccount {
            id: new.id.clone(),
            name: name.clone(),
            role: new.role,
            password_hash: password_hash.clone(),
            pin_hash: pin_hash.clone(),
            active: true,
            failures: 0,
            locked_until: None,
            created_at: tx.now(),
        };
        tx.put(TreeId::Staff, account.id.as_bytes(), &account)?;
        let info = account.info();
        tx.emit(EVENT_STAFF_CREATED, Some(&account.id), &info)?;
        audit::record_tx(tx, by, AuditAction::StaffCreated, Some(&account.id), &format!("role {}", role_name(account.role)))?;
        Ok(info)
    })
}

/// Reads an account outside a commit, refusing an unknown id (admin operations may say which ids
/// exist; logins may not).
fn existing(store: &Store, id: &str) -> Result<StaffAccount, CommitError<StaffError>> {
    store
        .get::<StaffAccount>(TreeId::Staff, id.as_bytes())?
        .ok_or_else(|| CommitError::Rejected(StaffError::Unknown(id.to_string())))
}

/// Changes one account in a commit: `change` edits it and emits what describes the change.
fn update(
    store: &Store,
    id: &str,
    change: impl FnOnce(&Tx, &mut StaffAccount) -> Result<(), TxError<StaffError>>,
) -> Result<StaffInfo, CommitError<StaffError>> {
    store.commit(|tx| {
        let mut account = account_in_tx::<StaffError>(tx, id)?;
        change(tx, &mut account)?;
        tx.put(TreeId::Staff, id.as_bytes(), &account)?;
        Ok(account.info())
    })
}

/// Sets a new password. Failures and a lock stay as they are ([`unlock`] clears them).
pub fn set_password(store: &Store, id: &str, password: &str, cost: &HashCost) -> Result<StaffInfo, CommitError<StaffError>> {
    set_password_by(store, id, password, cost, "cli")
}

/// [`set_password`] done by `by`; a reset by someone other than the account's owner is audited.
pub fn set_password_by(store: &Store, id: &str, password: &str, cost: &HashCost, by: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    check_password(password).map_err(|e| CommitError::Rejected(e.into()))?;
    existing(store, id)?;
    let hash = hash_secret(password, cost, "password").map_err(CommitError::Rejected)?;
    update(store, id, |tx, account| {
        account.password_hash = hash;
        tx.emit(EVENT_STAFF_PASSWORD_CHANGED, Some(id), &IdOnly { id })?;
        if by != id {
            audit::record_tx(tx, by, AuditAction::StaffCredentialReset, Some(id), "password")?;
        }
        Ok(())
    })
}

/// Sets a PIN, or clears it with `None` (the account then logs in by password only).
pub fn set_pin(store: &Store, id: &str, pin: Option<&str>, cost: &HashCost) -> Result<StaffInfo, CommitError<StaffError>> {
    set_pin_by(store, id, pin, cost, "cli")
}

/// [`set_pin`] done by `by`; a reset by someone other than the account's owner is audited.
pub fn set_pin_by(store: &Store, id: &str, pin: Option<&str>, cost: &HashCost, by: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    if let Some(pin) = pin {
        check_pin(pin).map_err(|e| CommitError::Rejected(e.into()))?;
    }
    existing(store, id)?;
    let hash = match pin {
        Some(p) => Some(hash_secret(p, cost, "PIN").map_err(CommitError::Rejected)?),
        None => None,
    };
    update(store, id, |tx, account| {
        account.pin_hash = hash;
        tx.emit(EVENT_STAFF_PIN_CHANGED, Some(id), &PinChanged { id, has_pin: account.pin_hash.is_some() })?;
        if by != id {
            audit::record_tx(tx, by, AuditAction::StaffCredentialReset, Some(id), if account.pin_hash.is_some() { "pin" } else { "pin cleared" })?;
        }
        Ok(())
    })
}

/// Gives an account another role (and with it another set of permissions).
pub fn set_role(store: &Store, id: &str, role: Role) -> Result<StaffInfo, CommitError<StaffError>> {
    set_role_by(store, id, role, "cli")
}

/// [`set_role`] done by `by`, audited.
pub fn set_role_by(store: &Store, id: &str, role: Role, by: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    update(store, id, |tx, account| {
        if account.role != role {
            let from = std::mem::replace(&mut account.role, role);
            tx.emit(EVENT_STAFF_ROLE_CHANGED, Some(id), &RoleChanged { id: id.to_string(), from, to: role })?;
            audit::record_tx(tx, by, AuditAction::StaffRoleChanged, Some(id), &format!("{} → {}", role_name(from), role_name(role)))?;
        }
        Ok(())
    })
}

/// Stops an account from logging in or being named on shifts. It stays stored (shifts and
/// sales keep naming it).
pub fn deactivate(store: &Store, id: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    deactivate_by(store, id, "cli")
}

/// [`deactivate`] done by `by`, audited.
pub fn deactivate_by(store: &Store, id: &str, by: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    update(store, id, |tx, account| {
        if account.active {
            account.active = false;
            tx.emit(EVENT_STAFF_DEACTIVATED, Some(id), &IdOnly { id })?;
            audit::record_tx(tx, by, AuditAction::StaffDeactivated, Some(id), "")?;
        }
        Ok(())
    })
}

/// Clears failed attempts and any lock.
pub fn unlock(store: &Store, id: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    unlock_by(store, id, "cli")
}

/// [`unlock`] done by `by`, audited.
pub fn unlock_by(store: &Store, id: &str, by: &str) -> Result<StaffInfo, CommitError<StaffError>> {
    update(store, id, |tx, account| {
        if account.failures != 0 || account.locked_until.is_some() {
            account.set_lockout(LockoutState::default());
            tx.emit(EVENT_STAFF_UNLOCKED, Some(id), &IdOnly { id })?;
            audit::record_tx(tx, by, AuditAction::StaffUnlocked, Some(id), "")?;
        }
        Ok(())
    })
}

/// The role's name in audit details.
fn role_name(role: Role) -> String {
    serde_json::to_value(role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| format!("{role:?}"))
}

/// What may be shown of an account at `now`: a lock that ran out is not shown.
fn shown(account: &StaffAccount, now: DateTime<Utc>) -> StaffInfo {
    let mut info = account.info();
    info.locked_until = LockoutPolicy::default().is_locked(&account.lockout(), now);
    info
}

/// Every account in id order, without hashes.
pub fn list_staff(store: &Store) -> Result<Vec<StaffInfo>, StoreError> {
    let now = store.clock().now();
    store.scan::<StaffAccount>(TreeId::Staff).map(|r| r.map(|(_, a)| shown(&a, now))).collect()
}

/// One account without hashes.
pub fn staff_info(store: &Store, id: &str) -> Result<Option<StaffInfo>, StoreError> {
    let now = store.clock().now();
    Ok(store.get::<StaffAccount>(TreeId::Staff, id.as_bytes())?.map(|a| shown(&a, now)))
}

/// The stored account (with its hashes, which only its accessors expose).
pub fn account(store: &Store, id: &str) -> Result<Option<StaffAccount>, StoreError> {
    store.get::<StaffAccount>(TreeId::Staff, id.as_bytes())
}

/// Which secret a login checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Password,
    Pin,
}

impl Credential {
    fn hash_of(self, account: &StaffAccount) -> Option<&str> {
        match self {
            Credential::Password => Some(&account.password_hash),
            Credential::Pin => account.pin_hash.as_deref(),
        }
    }

    fn wrong(self) -> LoginError {
        match self {
            Credential::Password => LoginError::WrongPassword,
            Credential::Pin => LoginError::WrongPin,
        }
    }
}

/// Logs in with the account's password.
pub fn login_password(store: &Store, id: &str, password: &str) -> Result<StaffRef, LoginError> {
    login(store, id, password, Credential::Password, &LockoutPolicy::default())
}

/// Logs in with the account's PIN (the quick login at a lane).
pub fn login_pin(store: &Store, id: &str, pin: &str) -> Result<StaffRef, LoginError> {
    login(store, id, pin, Credential::Pin, &LockoutPolicy::default())
}

/// What the commit of a login attempt found.
enum Attempt {
    Accepted(StaffRef),
    Wrong,
    Locked { failures: u32, until: DateTime<Utc> },
    Inactive,
}

/// A login: read the account, refuse it while locked, verify the secret outside the commit, then
/// record the outcome in a commit that re-reads the account (a lock, a deactivation or a new
/// secret that came in meanwhile wins). Every wrong secret counts one failure, whichever kind;
/// the failure that reaches the policy's limit locks the account and emits `storehub.staff.locked`.
fn login(store: &Store, id: &str, secret: &str, kind: Credential, policy: &LockoutPolicy) -> Result<StaffRef, LoginError> {
    let stored = match check_id(id) {
        Ok(()) => store.get::<StaffAccount>(TreeId::Staff, id.as_bytes())?,
        Err(_) => None,
    };
    let Some(stored) = stored else {
        verify_nothing(secret);
        return Err(kind.wrong());
    };
    if let Some(until) = policy.is_locked(&stored.lockout(), store.clock().now()) {
        return Err(LoginError::Locked { id: id.to_string(), failures: stored.failures, until });
    }
    let checked = kind.hash_of(&stored);
    let matches = match checked {
        Some(phc) => verify_secret(secret, phc),
        None => {
            verify_nothing(secret);
            false
        }
    };
    let attempt = store.commit(|tx| -> Result<Attempt, TxError<Infallible>> {
        let Some(mut account) = tx.get::<StaffAccount, Infallible>(TreeId::Staff, id.as_bytes())? else {
            return Ok(Attempt::Wrong);
        };
        let now = tx.now();
        if let Some(until) = policy.is_locked(&account.lockout(), now) {
            return Ok(Attempt::Locked { failures: account.failures, until });
        }
        if kind.hash_of(&account) != checked {
            // The secret changed while this attempt was being checked: neither a success nor a
            // failure of the new one.
            return Ok(Attempt::Wrong);
        }
        if matches {
            if !account.active {
                return Ok(Attempt::Inactive);
            }
            if account.lockout() != LockoutState::default() {
                account.set_lockout(policy.on_success(account.lockout()));
                tx.put(TreeId::Staff, id.as_bytes(), &account)?;
            }
            return Ok(Attempt::Accepted(account.staff_ref()));
        }
        let after = policy.on_failure(account.lockout(), now);
        account.set_lockout(after);
        tx.put(TreeId::Staff, id.as_bytes(), &account)?;
        match policy.is_locked(&after, now) {
            Some(until) => {
                let data = StaffLocked { id: id.to_string(), failures: after.failures, until };
                tx.emit(EVENT_STAFF_LOCKED, Some(id), &data)?;
                Ok(Attempt::Locked { failures: after.failures, until })
            }
            None => Ok(Attempt::Wrong),
        }
    });
    match attempt {
        Ok(Attempt::Accepted(who)) => Ok(who),
        Ok(Attempt::Wrong) => Err(kind.wrong()),
        Ok(Attempt::Inactive) => Err(LoginError::Inactive(id.to_string())),
        Ok(Attempt::Locked { failures, until }) => {
            tracing::warn!(staff = id, failures, until = %until, "staff account locked after failed logins");
            Err(LoginError::Locked { id: id.to_string(), failures, until })
        }
        Err(CommitError::Store(e)) => Err(LoginError::Store(e)),
        Err(CommitError::Rejected(never)) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_cost_writes_salted_argon2id_phc_strings() {
        let a = hash_secret("1234", &HashCost::standard(), "PIN").unwrap();
        let b = hash_secret("1234", &HashCost::standard(), "PIN").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt, so equal PINs do not show");
        assert!(verify_secret("1234", &a) && verify_secret("1234", &b));
        assert!(!verify_secret("1235", &a));
        assert!(!verify_secret("1234", "not a phc string"));
    }

    #[test]
    fn minimal_test_hashes_verify_with_the_parameters_stored_in_them() {
        let h = hash_secret("correct horse", &HashCost::minimal_for_tests(), "password").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{h}");
        assert!(verify_secret("correct horse", &h));
        assert_ne!(HashCost::minimal_for_tests(), HashCost::standard());
    }

    #[test]
    fn debug_output_of_an_account_hides_both_hashes() {
        let account = StaffAccount {
            id: "li-na".into(),
            name: "李娜".into(),
            role: Role::Cashier,
            password_hash: hash_secret("correct horse", &HashCost::minimal_for_tests(), "password").unwrap(),
            pin_hash: Some(hash_secret("4321", &HashCost::minimal_for_tests(), "PIN").unwrap()),
            active: true,
            failures: 0,
            locked_until: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let shown = format!("{account:?}");
        assert!(!shown.contains("argon2"), "{shown}");
        assert!(shown.contains("li-na") && shown.contains("***"), "{shown}");
        let info = serde_json::to_string(&account.info()).unwrap();
        assert!(!info.contains("argon2") && info.contains("\"has_pin\":true"), "{info}");
    }
}
