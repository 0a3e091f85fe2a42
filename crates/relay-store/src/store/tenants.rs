//! Tenants and their email domains.

use relay_core::{Domain, Tenant, TenantDomain, TenantId, TenantSlug, Timestamp};

use crate::sql::{Conn, Row, params};
use crate::{Result, StoreError};

const SELECT_TENANT: &str = "SELECT id, slug, name, created_at FROM tenants";

fn tenant_from_row(row: &Row) -> Result<Tenant> {
    Ok(Tenant {
        id: TenantId::from_stored(row.text(0)?),
        slug: TenantSlug::from_stored(row.text(1)?),
        name: row.text(2)?,
        created_at: Timestamp::from_millis(row.int(3)?),
    })
}

fn one_tenant(conn: &mut dyn Conn, filter: &str, value: &str) -> Result<Option<Tenant>> {
    let sql = format!("{SELECT_TENANT} WHERE {filter} = ?1");
    conn.query_opt(&sql, params![value])?
        .as_ref()
        .map(tenant_from_row)
        .transpose()
}

pub(super) fn by_slug(conn: &mut dyn Conn, slug: &TenantSlug) -> Result<Option<Tenant>> {
    one_tenant(conn, "slug", slug.as_str())
}

pub(super) fn by_id(conn: &mut dyn Conn, tenant: &TenantId) -> Result<Option<Tenant>> {
    one_tenant(conn, "id", tenant.as_str())
}

/// The tenant, or `NotFound`: for writes that must not create rows under a missing tenant.
pub(super) fn require(conn: &mut dyn Conn, tenant: &TenantId) -> Result<Tenant> {
    by_id(conn, tenant)?.ok_or_else(|| StoreError::not_found(format!("tenant {tenant}")))
}

pub(super) fn by_domain(conn: &mut dyn Conn, domain: &Domain) -> Result<Option<Tenant>> {
    let row = conn.query_opt(
        "SELECT t.id, t.slug, t.name, t.created_at FROM tenants t \
         JOIN tenant_domains d ON d.tenant_id = t.id WHERE d.domain = ?1",
        params![domain.as_str()],
    )?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub(super) fn list(conn: &mut dyn Conn) -> Result<Vec<Tenant>> {
    let sql = format!("{SELECT_TENANT} ORDER BY slug{}", conn.dialect().bytewise());
    conn.query(&sql, &[])?.iter().map(tenant_from_row).collect()
}

pub(super) fn create(
    conn: &mut dyn Conn,
    slug: &TenantSlug,
    name: &str,
    domains: &[Domain],
) -> Result<Tenant> {
    let name = Tenant::validate_name(name)?;
    if by_slug(conn, slug)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "tenant {slug} already exists"
        )));
    }
    let tenant = Tenant {
        id: TenantId::generate(),
        slug: slug.clone(),
        name,
        created_at: Timestamp::now(),
    };
    conn.execute(
        "INSERT INTO tenants (id, slug, name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            tenant.id.as_str(),
            tenant.slug.as_str(),
            tenant.name.as_str(),
            tenant.created_at.as_millis()
        ],
    )?;
    let mut seen = Vec::new();
    for domain in domains {
        if !seen.contains(&domain) {
            add_domain(conn, &tenant, domain)?;
            seen.push(domain);
        }
    }
    Ok(tenant)
}

pub(super) fn rename(conn: &mut dyn Conn, tenant: &TenantId, name: &str) -> Result<Tenant> {
    let name = Tenant::validate_name(name)?;
    let changed = conn.execute(
        "UPDATE tenants SET name = ?1 WHERE id = ?2",
        params![name.as_str(), tenant.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("tenant {tenant}")));
    }
    require(conn, tenant)
}

pub(super) fn delete(conn: &mut dyn Conn, tenant: &TenantId) -> Result<()> {
    // Every tenant table cascades from `tenants` (directly or through skills and users).
    let changed = conn.execute(
        "DELETE FROM tenants WHERE id = ?1",
        params![tenant.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!("tenant {tenant}")));
    }
    Ok(())
}

fn domain_from_row(row: &Row) -> Result<TenantDomain> {
    Ok(TenantDomain {
        tenant_id: TenantId::from_stored(row.text(0)?),
        domain: Domain::from_stored(row.text(1)?),
        created_at: Timestamp::from_millis(row.int(2)?),
    })
}

fn add_domain(conn: &mut dyn Conn, tenant: &Tenant, domain: &Domain) -> Result<TenantDomain> {
    if let Some(owner) = by_domain(conn, domain)? {
        let whose = if owner.id == tenant.id {
            "this tenant".to_owned()
        } else {
            format!("tenant {}", owner.slug)
        };
        return Err(StoreError::Conflict(format!(
            "domain {domain} already belongs to {whose}"
        )));
    }
    let row = TenantDomain {
        tenant_id: tenant.id.clone(),
        domain: domain.clone(),
        created_at: Timestamp::now(),
    };
    conn.execute(
        "INSERT INTO tenant_domains (tenant_id, domain, created_at) VALUES (?1, ?2, ?3)",
        params![
            row.tenant_id.as_str(),
            row.domain.as_str(),
            row.created_at.as_millis()
        ],
    )?;
    Ok(row)
}

pub(super) fn add_domain_to(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    domain: &Domain,
) -> Result<TenantDomain> {
    let tenant = require(conn, tenant)?;
    add_domain(conn, &tenant, domain)
}

pub(super) fn remove_domain(conn: &mut dyn Conn, tenant: &TenantId, domain: &Domain) -> Result<()> {
    require(conn, tenant)?;
    let changed = conn.execute(
        "DELETE FROM tenant_domains WHERE tenant_id = ?1 AND domain = ?2",
        params![tenant.as_str(), domain.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::not_found(format!(
            "domain {domain} in this tenant"
        )));
    }
    Ok(())
}

pub(super) fn list_domains(conn: &mut dyn Conn, tenant: &TenantId) -> Result<Vec<TenantDomain>> {
    let sql = format!(
        "SELECT tenant_id, domain, created_at FROM tenant_domains \
         WHERE tenant_id = ?1 ORDER BY domain{}",
        conn.dialect().bytewise()
    );
    conn.query(&sql, params![tenant.as_str()])?
        .iter()
        .map(domain_from_row)
        .collect()
}
