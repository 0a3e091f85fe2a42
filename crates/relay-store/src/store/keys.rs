//! API keys: stored by hash, listed without secrets, revoked in place.

use relay_core::{
    ApiKey, ApiKeyHash, ApiKeyId, ApiKeySecret, Tenant, TenantId, TenantSlug, Timestamp, UserId,
};

use crate::sql::{Conn, Row, params};
use crate::store::users::{self, user_from_row};
use crate::{Principal, Result, StoreError};

const KEY_COLUMNS: &str = "id, tenant_id, user_id, name, prefix, created_at, revoked_at";

/// Reads the seven [`KEY_COLUMNS`] starting at `at`.
fn key_from_row(row: &Row, at: usize) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId::from_stored(row.text(at)?),
        tenant_id: TenantId::from_stored(row.text(at + 1)?),
        user_id: UserId::from_stored(row.text(at + 2)?),
        name: row.text(at + 3)?,
        prefix: row.text(at + 4)?,
        created_at: Timestamp::from_millis(row.int(at + 5)?),
        revoked_at: row.opt_int(at + 6)?.map(Timestamp::from_millis),
    })
}

fn by_id(conn: &mut dyn Conn, tenant: &TenantId, key: &ApiKeyId) -> Result<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 AND id = ?2");
    conn.query_opt(&sql, params![tenant.as_str(), key.as_str()])?
        .map(|row| key_from_row(&row, 0))
        .transpose()
}

pub(super) fn create(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    user: &UserId,
    name: &str,
    secret: &ApiKeySecret,
) -> Result<ApiKey> {
    users::require(conn, tenant, user)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(relay_core::ValidationError::new(
            "key name",
            name,
            "use 1-100 printable characters",
        )
        .into());
    }
    let key = ApiKey {
        id: ApiKeyId::generate(),
        tenant_id: tenant.clone(),
        user_id: user.clone(),
        name: name.to_owned(),
        prefix: secret.display_prefix(),
        created_at: Timestamp::now(),
        revoked_at: None,
    };
    conn.execute(
        "INSERT INTO api_keys (id, tenant_id, user_id, name, key_hash, prefix, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            key.id.as_str(),
            key.tenant_id.as_str(),
            key.user_id.as_str(),
            key.name.as_str(),
            secret.hash().as_str(),
            key.prefix.as_str(),
            key.created_at.as_millis()
        ],
    )?;
    Ok(key)
}

pub(super) fn list(conn: &mut dyn Conn, tenant: &TenantId) -> Result<Vec<ApiKey>> {
    let sql =
        format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at, id");
    conn.query(&sql, params![tenant.as_str()])?
        .iter()
        .map(|row| key_from_row(row, 0))
        .collect()
}

pub(super) fn revoke(conn: &mut dyn Conn, tenant: &TenantId, key: &ApiKeyId) -> Result<ApiKey> {
    conn.execute(
        "UPDATE api_keys SET revoked_at = ?1 \
         WHERE tenant_id = ?2 AND id = ?3 AND revoked_at IS NULL",
        params![Timestamp::now().as_millis(), tenant.as_str(), key.as_str()],
    )?;
    by_id(conn, tenant, key)?.ok_or_else(|| StoreError::not_found(format!("key {key}")))
}

pub(super) fn authenticate(conn: &mut dyn Conn, hash: &ApiKeyHash) -> Result<Option<Principal>> {
    const SQL: &str = "SELECT k.id, k.tenant_id, k.user_id, k.name, k.prefix, k.created_at, \
               k.revoked_at, u.id, u.tenant_id, u.email, u.role, u.oidc_subject, u.disabled, \
               u.created_at, t.slug, t.name, t.created_at \
        FROM api_keys k \
        JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id \
        JOIN tenants t ON t.id = k.tenant_id \
        WHERE k.key_hash = ?1 AND k.revoked_at IS NULL AND NOT u.disabled";
    let Some(row) = conn.query_opt(SQL, params![hash.as_str()])? else {
        return Ok(None);
    };
    let key = key_from_row(&row, 0)?;
    // Columns 7..14 are the user in `USER_COLUMNS` order.
    let user = user_from_row(&row, 7)?;
    let tenant = Tenant {
        id: key.tenant_id.clone(),
        slug: TenantSlug::from_stored(row.text(14)?),
        name: row.text(15)?,
        created_at: Timestamp::from_millis(row.int(16)?),
    };
    Ok(Some(Principal { key, user, tenant }))
}
