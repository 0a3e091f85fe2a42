//! People: each user belongs to one tenant and has one role there.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Email, TenantId, Timestamp, UserId, ValidationError};

/// What a user may do in their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the whole tenant's analytics, manages users and keys.
    Admin,
    /// Uses and publishes skills, sees their own usage.
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            _ => Err(ValidationError::new(
                "role",
                value,
                "expected admin or member",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub role: Role,
    /// The OIDC `sub` once the user has signed in with SSO.
    pub oidc_subject: Option<String>,
    pub disabled: bool,
    pub created_at: Timestamp,
}
