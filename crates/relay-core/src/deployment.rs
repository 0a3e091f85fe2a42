//! Deployments: a skill written into a project or a user's skills folder by relay-mcp.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{DeploymentId, SkillId, TenantId, Timestamp, UserId, ValidationError};

/// Where a skill was deployed: one project's `.claude/skills`, or the user's `~/.claude/skills`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployScope {
    Project,
    User,
}

impl DeployScope {
    pub fn as_str(self) -> &'static str {
        match self {
            DeployScope::Project => "project",
            DeployScope::User => "user",
        }
    }
}

impl fmt::Display for DeployScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeployScope {
    type Err = ValidationError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "project" => Ok(DeployScope::Project),
            "user" => Ok(DeployScope::User),
            _ => Err(ValidationError::new(
                "scope",
                value,
                "expected project or user",
            )),
        }
    }
}

/// What relay-mcp reports when it deploys a skill.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeployment {
    pub skill_id: SkillId,
    pub user_id: UserId,
    pub version: i64,
    pub scope: DeployScope,
    /// Identifies one install (a machine and folder), stable across redeploys of it.
    pub install_id: String,
    /// The version of the hook format written into the skill.
    pub hooks_version: i64,
}

impl NewDeployment {
    /// Checks the free-form parts: an install id is 1-128 printable characters.
    pub fn validate_install_id(value: &str) -> Result<String, ValidationError> {
        if value.is_empty() || value.len() > 128 || !value.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ValidationError::new(
                "install id",
                value,
                "use 1-128 printable ASCII characters",
            ));
        }
        Ok(value.to_owned())
    }
}

/// One install as recorded; redeploying the same install updates it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub tenant_id: TenantId,
    pub skill_id: SkillId,
    pub user_id: UserId,
    pub version: i64,
    pub scope: DeployScope,
    pub install_id: String,
    pub hooks_version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
