//! Users of a tenant.

use relay_core::{Email, Role, TenantId, Timestamp, User, UserId};

use crate::sql::{Conn, Row, params};
use crate::store::tenants;
use crate::{Result, StoreError};

pub(super) const USER_COLUMNS: &str =
    "id, tenant_id, email, role, oidc_subject, disabled, created_at";

/// Reads the seven [`USER_COLUMNS`] starting at `at`.
pub(super) fn user_from_row(row: &Row, at: usize) -> Result<User> {
    let role = row.text(at + 3)?;
    Ok(User {
        id: UserId::from_stored(row.text(at)?),
        tenant_id: TenantId::from_stored(row.text(at + 1)?),
        email: Email::from_stored(row.text(at + 2)?),
        role: role
            .parse::<Role>()
            .map_err(|err| StoreError::Database(err.to_string()))?,
        oidc_subject: row.opt_text(at + 4)?,
        disabled: row.boolean(at + 5)?,
        created_at: Timestamp::from_millis(row.int(at + 6)?),
    })
}

fn one_user(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    filter: &str,
    value: &str,
) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 AND {filter} = ?2");
    conn.query_opt(&sql, params![tenant.as_str(), value])?
        .map(|row| user_from_row(&row, 0))
        .transpose()
}

pub(super) fn by_id(conn: &mut dyn Conn, tenant: &TenantId, user: &UserId) -> Result<Option<User>> {
    one_user(conn, tenant, "id", user.as_str())
}

pub(super) fn by_email(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    email: &Email,
) -> Result<Option<User>> {
    one_user(conn, tenant, "email", email.as_str())
}

/// The user, or `NotFound`.
pub(super) fn require(conn: &mut dyn Conn, tenant: &TenantId, user: &UserId) -> Result<User> {
    by_id(conn, tenant, user)?.ok_or_else(|| StoreError::not_found(format!("user {user}")))
}

pub(super) fn list(conn: &mut dyn Conn, tenant: &TenantId) -> Result<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 ORDER BY email{}",
        conn.dialect().bytewise()
    );
    conn.query(&sql, params![tenant.as_str()])?
        .iter()
        .map(|row| user_from_row(row, 0))
        .collect()
}

pub(super) fn create(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    email: &Email,
    role: Role,
) -> Result<User> {
    tenants::require(conn, tenant)?;
    if by_email(conn, tenant, email)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "user {email} already exists in this tenant"
        )));
    }
    let user = User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        email: email.clone(),
        role,
        oidc_subject: None,
        disabled: false,
        created_at: Timestamp::now(),
    };
    conn.execute(
        "INSERT INTO users (id, tenant_id, email, role, disabled, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user.id.as_str(),
            user.tenant_id.as_str(),
            user.email.as_str(),
            user.role.as_str(),
            user.disabled,
            user.created_at.as_millis()
        ],
    )?;
    Ok(user)
}

pub(super) fn set_role(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
) -> Result<User> {
    let changed = conn.execute(
        "UPDATE users SET role = ?1 WHERE tenant_id = ?2 AND id = ?3",
        params![role.as_str(), tenant.as_str(), user.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("user {user}")));
    }
    require(conn, tenant, user)
}

pub(super) fn set_disabled(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    user: &UserId,
    disabled: bool,
) -> Result<User> {
    let changed = conn.execute(
        "UPDATE users SET disabled = ?1 WHERE tenant_id = ?2 AND id = ?3",
        params![disabled, tenant.as_str(), user.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("user {user}")));
    }
    if disabled {
        // Their browser sessions end now; their keys stop authenticating (see keys.rs).
        conn.execute(
            "DELETE FROM web_sessions WHERE tenant_id = ?1 AND user_id = ?2",
            params![tenant.as_str(), user.as_str()],
        )?;
    }
    require(conn, tenant, user)
}

pub(super) fn by_subject(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    subject: &str,
) -> Result<Option<User>> {
    one_user(conn, tenant, "oidc_subject", subject)
}

/// Records the provider's subject for a user created before their first sign-in. Only a user
/// without one: of two sign-ins racing for the same address, one links and the other gets
/// `Conflict`.
pub(super) fn link_subject(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    user: &UserId,
    subject: &str,
) -> Result<()> {
    let linked = conn.execute(
        "UPDATE users SET oidc_subject = ?1 \
         WHERE tenant_id = ?2 AND id = ?3 AND oidc_subject IS NULL",
        params![subject, tenant.as_str(), user.as_str()],
    )?;
    if linked == 0 {
        return Err(StoreError::Conflict(format!(
            "user {user} was linked to another sign-in just now: ask an admin"
        )));
    }
    Ok(())
}

pub(super) fn update_guarded(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    user: &UserId,
    role: Option<Role>,
    disabled: Option<bool>,
) -> Result<User> {
    // Lock the tenant's active admins first: a concurrent change waits, then sees ours.
    let lock = match conn.dialect() {
        crate::sql::Dialect::Postgres => " FOR UPDATE",
        crate::sql::Dialect::Sqlite => "",
    };
    let admins: Vec<String> = conn
        .query(
            &format!(
                "SELECT id FROM users WHERE tenant_id = ?1 AND role = 'admin' AND NOT disabled{lock}"
            ),
            params![tenant.as_str()],
        )?
        .iter()
        .map(|row| row.text(0))
        .collect::<Result<_>>()?;
    let current = require(conn, tenant, user)?;
    let stays_admin =
        role.unwrap_or(current.role) == Role::Admin && !disabled.unwrap_or(current.disabled);
    let is_admin = admins.iter().any(|id| id == user.as_str());
    if is_admin && !stays_admin && admins.len() == 1 {
        return Err(StoreError::Conflict(format!(
            "{} is the last admin: make someone else admin first",
            current.email
        )));
    }
    if let Some(role) = role {
        set_role(conn, tenant, user, role)?;
    }
    if let Some(disabled) = disabled {
        set_disabled(conn, tenant, user, disabled)?;
    }
    require(conn, tenant, user)
}
