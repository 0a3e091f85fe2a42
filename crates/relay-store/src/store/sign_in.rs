//! Single sign-on: sign-ins in progress, provisioning, one-time codes and browser sessions.

use relay_core::{Email, Role, Tenant, TenantId, TenantSlug, Timestamp, User, UserId};

use crate::sql::{Conn, Row, params};
use crate::store::{tenants, users};
use crate::{
    AuthCode, CliLogin, CodePurpose, LoginFlow, Redemption, Result, StoreError, WebSession,
};

pub(super) fn requires_hd(conn: &mut dyn Conn, tenant: &TenantId) -> Result<bool> {
    conn.query_opt(
        "SELECT sso_require_hd FROM tenants WHERE id = ?1",
        params![tenant.as_str()],
    )?
    .ok_or_else(|| StoreError::not_found(format!("tenant {tenant}")))?
    .boolean(0)
}

pub(super) fn set_requires_hd(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    required: bool,
) -> Result<()> {
    let changed = conn.execute(
        "UPDATE tenants SET sso_require_hd = ?1 WHERE id = ?2",
        params![required, tenant.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("tenant {tenant}")));
    }
    Ok(())
}

pub(super) fn provision(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    email: &Email,
    subject: &str,
) -> Result<User> {
    tenants::require(conn, tenant)?;
    if let Some(user) = users::by_subject(conn, tenant, subject)? {
        if user.email != *email {
            // The provider says this person's address changed; follow it unless it is taken.
            if users::by_email(conn, tenant, email)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{email} is already the address of another user: ask an admin to remove one"
                )));
            }
            conn.execute(
                "UPDATE users SET email = ?1 WHERE tenant_id = ?2 AND id = ?3",
                params![email.as_str(), tenant.as_str(), user.id.as_str()],
            )?;
            return users::require(conn, tenant, &user.id);
        }
        return Ok(user);
    }
    match users::by_email(conn, tenant, email)? {
        Some(user) if user.oidc_subject.is_some() => Err(StoreError::Conflict(format!(
            "{email} is linked to another account of the sign-in provider: ask an admin"
        ))),
        Some(user) => {
            users::link_subject(conn, tenant, &user.id, subject)?;
            users::require(conn, tenant, &user.id)
        }
        None => {
            let user = users::create(conn, tenant, email, Role::Member)?;
            users::link_subject(conn, tenant, &user.id, subject)?;
            users::require(conn, tenant, &user.id)
        }
    }
}

pub(super) fn start_login(conn: &mut dyn Conn, flow: &LoginFlow) -> Result<()> {
    purge_expired(conn, flow.created_at)?;
    let cli = flow.cli.as_ref();
    conn.execute(
        "INSERT INTO login_flows (state_hash, tenant_id, browser_hash, nonce, pkce_verifier, \
             client_redirect_uri, client_state, client_challenge, created_at, expires_at, \
             handoff_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            flow.state_hash.as_str(),
            flow.tenant.as_ref().map(TenantId::as_str),
            flow.browser_hash.as_str(),
            flow.nonce.as_str(),
            flow.pkce_verifier.as_str(),
            cli.map(|cli| cli.redirect_uri.as_str()),
            cli.map(|cli| cli.state.as_str()),
            cli.map(|cli| cli.code_challenge.as_str()),
            flow.created_at.as_millis(),
            flow.expires_at.as_millis(),
            flow.handoff_hash.as_deref()
        ],
    )?;
    Ok(())
}

/// Sign-ins, codes and sessions past their time are of no use to anyone; codes are kept until
/// then so that a replay is told apart from a typo.
fn purge_expired(conn: &mut dyn Conn, now: Timestamp) -> Result<()> {
    for table in ["login_flows", "auth_codes", "web_sessions"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE expires_at <= ?1"),
            params![now.as_millis()],
        )?;
    }
    Ok(())
}

pub(super) fn take_login(
    conn: &mut dyn Conn,
    state_hash: &str,
    now: Timestamp,
) -> Result<Option<LoginFlow>> {
    // DELETE … RETURNING: of two callbacks racing with the same state, one gets the row.
    let row = conn.query_opt(
        "DELETE FROM login_flows WHERE state_hash = ?1 \
         RETURNING state_hash, tenant_id, browser_hash, nonce, pkce_verifier, \
             client_redirect_uri, client_state, client_challenge, created_at, expires_at, \
             handoff_hash",
        params![state_hash],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let flow = login_from_row(&row)?;
    Ok((flow.expires_at > now).then_some(flow))
}

fn login_from_row(row: &Row) -> Result<LoginFlow> {
    let cli = match (row.opt_text(5)?, row.opt_text(6)?, row.opt_text(7)?) {
        (Some(redirect_uri), Some(state), Some(code_challenge)) => Some(CliLogin {
            redirect_uri,
            state,
            code_challenge,
        }),
        _ => None,
    };
    Ok(LoginFlow {
        state_hash: row.text(0)?,
        tenant: row.opt_text(1)?.map(TenantId::from_stored),
        browser_hash: row.text(2)?,
        handoff_hash: row.opt_text(10)?,
        nonce: row.text(3)?,
        pkce_verifier: row.text(4)?,
        cli,
        created_at: Timestamp::from_millis(row.int(8)?),
        expires_at: Timestamp::from_millis(row.int(9)?),
    })
}

pub(super) fn issue_code(conn: &mut dyn Conn, code: &AuthCode) -> Result<()> {
    users::require(conn, &code.tenant_id, &code.user_id)?;
    conn.execute(
        "INSERT INTO auth_codes (code_hash, tenant_id, user_id, purpose, code_challenge, \
             redirect_uri, created_at, expires_at, handoff_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            code.code_hash.as_str(),
            code.tenant_id.as_str(),
            code.user_id.as_str(),
            code.purpose.as_str(),
            code.code_challenge.as_deref(),
            code.redirect_uri.as_deref(),
            code.created_at.as_millis(),
            code.expires_at.as_millis(),
            code.handoff_hash.as_deref()
        ],
    )?;
    Ok(())
}

pub(super) fn redeem_code(
    conn: &mut dyn Conn,
    code_hash: &str,
    purpose: CodePurpose,
    now: Timestamp,
) -> Result<Redemption> {
    // One UPDATE both checks and spends the code, so two redemptions cannot both succeed.
    let spent = conn.query_opt(
        "UPDATE auth_codes SET used_at = ?1 \
         WHERE code_hash = ?2 AND purpose = ?3 AND used_at IS NULL AND expires_at > ?1 \
         RETURNING tenant_id, user_id, code_challenge, redirect_uri, created_at, expires_at, \
             handoff_hash",
        params![now.as_millis(), code_hash, purpose.as_str()],
    )?;
    if let Some(row) = spent {
        return Ok(Redemption::Redeemed(AuthCode {
            code_hash: code_hash.to_owned(),
            tenant_id: TenantId::from_stored(row.text(0)?),
            user_id: UserId::from_stored(row.text(1)?),
            purpose,
            code_challenge: row.opt_text(2)?,
            redirect_uri: row.opt_text(3)?,
            handoff_hash: row.opt_text(6)?,
            created_at: Timestamp::from_millis(row.int(4)?),
            expires_at: Timestamp::from_millis(row.int(5)?),
        }));
    }
    let row = conn.query_opt(
        "SELECT used_at FROM auth_codes WHERE code_hash = ?1 AND purpose = ?2",
        params![code_hash, purpose.as_str()],
    )?;
    Ok(match row {
        None => Redemption::Unknown,
        Some(row) if row.opt_int(0)?.is_some() => Redemption::AlreadyUsed,
        Some(_) => Redemption::Expired,
    })
}

pub(super) fn create_session(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    user: &UserId,
    id_hash: &str,
    expires_at: Timestamp,
) -> Result<()> {
    users::require(conn, tenant, user)?;
    conn.execute(
        "INSERT INTO web_sessions (id_hash, tenant_id, user_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id_hash,
            tenant.as_str(),
            user.as_str(),
            Timestamp::now().as_millis(),
            expires_at.as_millis()
        ],
    )?;
    Ok(())
}

pub(super) fn session(
    conn: &mut dyn Conn,
    id_hash: &str,
    now: Timestamp,
) -> Result<Option<WebSession>> {
    let sql = format!(
        "SELECT s.expires_at, t.slug, t.name, t.created_at, {} \
         FROM web_sessions s \
         JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
         JOIN tenants t ON t.id = s.tenant_id \
         WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND NOT u.disabled",
        users::USER_COLUMNS
            .split(", ")
            .map(|column| format!("u.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Some(row) = conn.query_opt(&sql, params![id_hash, now.as_millis()])? else {
        return Ok(None);
    };
    let user = users::user_from_row(&row, 4)?;
    let tenant = Tenant {
        id: user.tenant_id.clone(),
        slug: TenantSlug::from_stored(row.text(1)?),
        name: row.text(2)?,
        created_at: Timestamp::from_millis(row.int(3)?),
    };
    Ok(Some(WebSession {
        user,
        tenant,
        expires_at: Timestamp::from_millis(row.int(0)?),
    }))
}

pub(super) fn end_session(conn: &mut dyn Conn, id_hash: &str) -> Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM web_sessions WHERE id_hash = ?1",
        params![id_hash],
    )?;
    Ok(deleted > 0)
}
