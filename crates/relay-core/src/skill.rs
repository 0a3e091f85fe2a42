//! Skills: a tenant's catalogue entries, their immutable versions and supporting files, and the
//! ratings people give them.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{SkillId, SkillSlug, TenantId, Timestamp, UserId, ValidationError};

/// A catalogue entry. Its content lives in its versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skill {
    pub id: SkillId,
    pub tenant_id: TenantId,
    pub slug: SkillSlug,
    /// A human title: the body's first `# heading`, else the slug.
    pub name: String,
    pub description: String,
    pub category: Option<Category>,
    /// Hours one use of the skill saves; analytics multiply skill sessions by it.
    pub hours_saved: HoursSaved,
    pub author_id: Option<UserId>,
    pub latest_version: i64,
    pub rating: RatingSummary,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A version as listed: number, content hash, time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillVersionInfo {
    pub version: i64,
    pub sha256: String,
    pub created_at: Timestamp,
}

/// One immutable version with its whole content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillVersion {
    pub skill_id: SkillId,
    pub version: i64,
    pub sha256: String,
    pub skill_md: String,
    pub files: Vec<SkillFile>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
}

/// A supporting file beside SKILL.md (`reference.md`, `scripts/check.py`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SkillFile {
    pub path: SkillFilePath,
    pub content: String,
}

/// A relative path inside a skill folder, with `/` separators and no way out of the folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SkillFilePath(String);

impl SkillFilePath {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "skill file path";
        let fail = |rule: &str| Err(ValidationError::new(WHAT, value, rule));
        if value.is_empty() || value.len() > 255 {
            return fail("use a relative path of 1-255 characters");
        }
        if value.starts_with('/') || value.contains('\\') || value.contains(':') {
            return fail("use a relative path with '/' separators");
        }
        if value.chars().any(char::is_control) {
            return fail("control characters are not allowed in file names");
        }
        if value
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return fail("a path may not contain empty, '.' or '..' parts");
        }
        if value == "SKILL.md" {
            return fail("SKILL.md is the skill itself, not a supporting file");
        }
        Ok(Self(value.to_owned()))
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A catalogue category ("review", "testing"): lower-cased free text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Category(String);

impl Category {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let normal = value.trim().to_lowercase();
        if normal.is_empty() || normal.chars().count() > 64 || normal.chars().any(char::is_control)
        {
            return Err(ValidationError::new(
                "category",
                value,
                "use 1-64 printable characters",
            ));
        }
        Ok(Self(normal))
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hours one use of a skill saves, between 0 and 1000.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Default)]
#[serde(transparent)]
pub struct HoursSaved(f64);

impl HoursSaved {
    pub fn new(hours: f64) -> Result<Self, ValidationError> {
        if !hours.is_finite() || !(0.0..=1000.0).contains(&hours) {
            return Err(ValidationError::new(
                "hours saved",
                &hours.to_string(),
                "use a number of hours between 0 and 1000, e.g. 0.5",
            ));
        }
        Ok(Self(hours))
    }

    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let hours: f64 = value.trim().parse().map_err(|_| {
            ValidationError::new("hours saved", value, "use a number of hours, e.g. 0.5")
        })?;
        Self::new(hours)
    }

    pub fn from_stored(hours: f64) -> Self {
        Self(hours)
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// A rating, 1 to 5 stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Stars(i64);

impl Stars {
    pub fn new(stars: i64) -> Result<Self, ValidationError> {
        if !(1..=5).contains(&stars) {
            return Err(ValidationError::new(
                "stars",
                &stars.to_string(),
                "give 1 to 5 stars",
            ));
        }
        Ok(Self(stars))
    }

    pub fn from_stored(stars: i64) -> Self {
        Self(stars)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// One user's rating of one skill; a new rating replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rating {
    pub skill_id: SkillId,
    pub user_id: UserId,
    pub stars: Stars,
    pub comment: Option<String>,
    pub updated_at: Timestamp,
}

/// The average and count of a skill's ratings (`average` is `None` without ratings).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct RatingSummary {
    pub average: Option<f64>,
    pub count: i64,
}

/// The SHA-256 (hex) of a version's content: SKILL.md and every file, in path order.
///
/// Each part is length-prefixed, so no two different contents share an encoding.
pub fn content_sha256(skill_md: &str, files: &[SkillFile]) -> String {
    let mut sorted: Vec<&SkillFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    part(skill_md.as_bytes());
    for file in sorted {
        part(file.path.as_str().as_bytes());
        part(file.content.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &str) -> SkillFile {
        SkillFile {
            path: SkillFilePath::parse(path).unwrap(),
            content: content.to_owned(),
        }
    }

    #[test]
    fn paths_cannot_leave_the_skill_folder() {
        for ok in ["reference.md", "scripts/check.py", "a/b/c.txt", ".hidden"] {
            SkillFilePath::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "C:\\x",
            "a\\b",
            "SKILL.md",
        ] {
            assert!(
                SkillFilePath::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn content_hash_ignores_file_order_but_not_content_or_boundaries() {
        let a = content_sha256("md", &[file("a", "1"), file("b", "2")]);
        assert_eq!(a, content_sha256("md", &[file("b", "2"), file("a", "1")]));
        assert_ne!(a, content_sha256("md", &[file("a", "1"), file("b", "3")]));
        assert_ne!(
            content_sha256("md", &[file("ab", "c")]),
            content_sha256("md", &[file("a", "bc")])
        );
    }

    #[test]
    fn stars_hours_and_categories_are_bounded() {
        assert!(Stars::new(0).is_err() && Stars::new(6).is_err() && Stars::new(5).is_ok());
        assert!(HoursSaved::parse("0.5").is_ok());
        assert!(HoursSaved::parse("-1").is_err() && HoursSaved::parse("NaN").is_err());
        assert_eq!(Category::parse(" Review ").unwrap().as_str(), "review");
        assert!(Category::parse(" ").is_err());
    }
}
