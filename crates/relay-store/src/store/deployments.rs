//! Deployments: which installs carry which skill, as relay-mcp reports them.

use relay_core::{
    DeployScope, Deployment, DeploymentId, NewDeployment, SkillId, TenantId, Timestamp, UserId,
};

use crate::sql::{Conn, Row, params};
use crate::store::{skills, users};
use crate::{Result, StoreError};

const DEPLOYMENT_COLUMNS: &str = "id, tenant_id, skill_id, user_id, version, scope, install_id, \
                                  hooks_version, created_at, updated_at";

fn deployment_from_row(row: &Row) -> Result<Deployment> {
    Ok(Deployment {
        id: DeploymentId::from_stored(row.text(0)?),
        tenant_id: TenantId::from_stored(row.text(1)?),
        skill_id: SkillId::from_stored(row.text(2)?),
        user_id: UserId::from_stored(row.text(3)?),
        version: row.int(4)?,
        scope: row
            .text(5)?
            .parse::<DeployScope>()
            .map_err(|err| StoreError::Database(err.to_string()))?,
        install_id: row.text(6)?,
        hooks_version: row.int(7)?,
        created_at: Timestamp::from_millis(row.int(8)?),
        updated_at: Timestamp::from_millis(row.int(9)?),
    })
}

pub(super) fn record(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    new: &NewDeployment,
) -> Result<Deployment> {
    let skill = skills::by_id(conn, tenant, &new.skill_id)?
        .ok_or_else(|| StoreError::not_found(format!("skill {}", new.skill_id)))?;
    if new.version < 1 || new.version > skill.latest_version {
        return Err(StoreError::not_found(format!(
            "version {} of skill {} (latest is {})",
            new.version, skill.slug, skill.latest_version
        )));
    }
    users::require(conn, tenant, &new.user_id)?;
    let install_id = NewDeployment::validate_install_id(&new.install_id)?;
    let sql = format!(
        "INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
         ON CONFLICT (tenant_id, skill_id, install_id) DO UPDATE \
            SET user_id = excluded.user_id, version = excluded.version, scope = excluded.scope, \
                hooks_version = excluded.hooks_version, updated_at = excluded.updated_at \
         RETURNING {DEPLOYMENT_COLUMNS}"
    );
    let row = conn.query_one(
        &sql,
        params![
            DeploymentId::generate().as_str(),
            tenant.as_str(),
            new.skill_id.as_str(),
            new.user_id.as_str(),
            new.version,
            new.scope.as_str(),
            install_id.as_str(),
            new.hooks_version,
            Timestamp::now().as_millis()
        ],
    )?;
    deployment_from_row(&row)
}

pub(super) fn list(conn: &mut dyn Conn, tenant: &TenantId) -> Result<Vec<Deployment>> {
    let sql = format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE tenant_id = ?1 ORDER BY created_at, id"
    );
    conn.query(&sql, params![tenant.as_str()])?
        .iter()
        .map(deployment_from_row)
        .collect()
}
