//! The skills and deployments routes.

use relay_core::{Skill, SkillFile, SkillVersionInfo};
use serde::{Deserialize, Serialize};

/// A catalogue entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillSummary {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub hours_saved: f64,
    pub latest_version: i64,
    pub rating: Rating,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    pub average: Option<f64>,
    pub count: i64,
}

impl From<&Skill> for SkillSummary {
    fn from(skill: &Skill) -> Self {
        Self {
            id: skill.id.to_string(),
            slug: skill.slug.to_string(),
            name: skill.name.clone(),
            description: skill.description.clone(),
            category: skill.category.as_ref().map(|c| c.as_str().to_owned()),
            hours_saved: skill.hours_saved.get(),
            latest_version: skill.latest_version,
            rating: Rating {
                average: skill.rating.average,
                count: skill.rating.count,
            },
            updated_at: skill.updated_at.to_string(),
        }
    }
}

/// `GET /api/skills`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillList {
    pub skills: Vec<SkillSummary>,
    pub next_cursor: Option<String>,
}

/// `GET /api/skills/{slug}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillDetail {
    pub skill: SkillSummary,
    pub versions: Vec<VersionInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: i64,
    pub sha256: String,
    pub created_at: String,
}

impl From<&SkillVersionInfo> for VersionInfo {
    fn from(info: &SkillVersionInfo) -> Self {
        Self {
            version: info.version,
            sha256: info.sha256.clone(),
            created_at: info.created_at.to_string(),
        }
    }
}

/// A supporting file on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileContent {
    pub path: String,
    pub content: String,
}

impl From<&SkillFile> for FileContent {
    fn from(file: &SkillFile) -> Self {
        Self {
            path: file.path.as_str().to_owned(),
            content: file.content.clone(),
        }
    }
}

/// `GET /api/skills/{slug}/versions/{n|latest}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionContent {
    pub skill: SkillSummary,
    pub version: i64,
    pub sha256: String,
    pub skill_md: String,
    pub files: Vec<FileContent>,
}

/// `POST /api/skills`: the slug is the frontmatter `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishRequest {
    pub skill_md: String,
    #[serde(default)]
    pub files: Vec<FileContent>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub hours_saved: Option<f64>,
}

/// The answer to a publish: 201 for a new skill, 200 for a new version or unchanged content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishResponse {
    pub skill: SkillSummary,
    pub version: i64,
    pub sha256: String,
    /// `created`, `new_version` or `unchanged`.
    pub outcome: String,
}

/// `PUT /api/skills/{slug}/rating`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingRequest {
    pub stars: i64,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentRequest {
    pub skill_id: String,
    pub version: i64,
    #[serde(default = "default_scope")]
    pub scope: String,
    pub install_id: String,
    pub hooks_version: i64,
}

fn default_scope() -> String {
    "project".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentResponse {
    pub id: String,
    pub skill_id: String,
    pub version: i64,
    pub scope: String,
    pub install_id: String,
    pub hooks_version: i64,
    pub created_at: String,
    pub updated_at: String,
}
