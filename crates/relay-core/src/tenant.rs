//! A tenant is one company on a Relay server; its domains map its people's emails to it.

use serde::Serialize;

use crate::{Domain, TenantId, TenantSlug, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub created_at: Timestamp,
}

/// An email domain owned by a tenant. A domain belongs to at most one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantDomain {
    pub tenant_id: TenantId,
    pub domain: Domain,
    pub created_at: Timestamp,
}

impl Tenant {
    /// Checks a display name: what people see in the dashboard and CLI tables.
    pub fn validate_name(name: &str) -> Result<String, crate::ValidationError> {
        let trimmed = name.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > 200
            || trimmed.chars().any(char::is_control)
        {
            return Err(crate::ValidationError::new(
                "tenant name",
                name,
                "use 1-200 printable characters",
            ));
        }
        Ok(trimmed.to_owned())
    }
}
