//! Parsing the frontmatter into YAML, safely, and reading the fields Relay catalogues.

use relay_core::{SkillSlug, ValidationError};
use yaml_serde::{Mapping, Value};

use crate::{SkillFileError, split};

/// More than any real skill needs, little enough that parsing it is cheap.
pub const MAX_FRONTMATTER_BYTES: usize = 64 * 1024;
/// Claude Code's limit for `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// A parsed frontmatter: the uploader's whole mapping, kept as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Frontmatter {
    pub fields: Mapping,
}

impl Frontmatter {
    /// Parses frontmatter YAML. Size is checked before parsing; an alias bomb (a small file whose
    /// anchors expand into a huge value) is stopped by the parser's own repetition limit.
    pub fn parse(yaml: &str) -> Result<Self, SkillFileError> {
        if yaml.len() > MAX_FRONTMATTER_BYTES {
            return Err(SkillFileError::TooLarge {
                size: yaml.len(),
                limit: MAX_FRONTMATTER_BYTES,
            });
        }
        let value: Value =
            yaml_serde::from_str(yaml).map_err(|err| SkillFileError::Yaml(err.to_string()))?;
        match value {
            Value::Mapping(fields) => Ok(Self { fields }),
            // An empty frontmatter parses as null: a mapping with no keys.
            Value::Null => Ok(Self {
                fields: Mapping::new(),
            }),
            _ => Err(SkillFileError::NotAMapping),
        }
    }

    /// A top-level string field, if present.
    pub fn get_str(&self, key: &'static str) -> Result<Option<&str>, SkillFileError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(SkillFileError::Invalid {
                field: key,
                reason: "it must be a text".to_owned(),
            }),
        }
    }
}

/// What Relay catalogues from a SKILL.md.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillMeta {
    /// The frontmatter `name`: the skill's slug, folder and slash command.
    pub slug: SkillSlug,
    /// The body's first `# heading`, else the slug.
    pub title: String,
    pub description: String,
    pub frontmatter: Frontmatter,
}

impl SkillMeta {
    /// Reads a whole SKILL.md: frontmatter present and valid, `name` a safe skill name,
    /// `description` present and within Claude Code's limit.
    pub fn read(text: &str) -> Result<Self, SkillFileError> {
        let parts = split(text)?;
        let frontmatter = Frontmatter::parse(parts.frontmatter)?;
        let name = frontmatter
            .get_str("name")?
            .ok_or(SkillFileError::Missing("name"))?;
        let slug = SkillSlug::parse(name.trim()).map_err(|err: ValidationError| {
            SkillFileError::Invalid {
                field: "name",
                reason: format!("{:?}: {}", err.value, err.rule),
            }
        })?;
        let description = frontmatter
            .get_str("description")?
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .ok_or(SkillFileError::Missing("description"))?;
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(SkillFileError::Invalid {
                field: "description",
                reason: format!("keep it under {MAX_DESCRIPTION_CHARS} characters"),
            });
        }
        let title = first_heading(parts.body).unwrap_or_else(|| slug.to_string());
        Ok(Self {
            slug,
            title,
            description: description.to_owned(),
            frontmatter,
        })
    }
}

/// The text of the first level-1 Markdown heading, outside code fences.
fn first_heading(body: &str) -> Option<String> {
    let mut in_fence = false;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence && let Some(title) = line.strip_prefix("# ") {
            let title = title.trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return Some(title.chars().take(200).collect());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_description_and_title() {
        let meta = SkillMeta::read(
            "---\nname: code-review\ndescription: >\n  Reviews a diff.\nallowed-tools: Read\n---\n\n```\n# not this\n```\n# Code Review\n",
        )
        .unwrap();
        assert_eq!(meta.slug.as_str(), "code-review");
        assert_eq!(meta.description, "Reviews a diff.");
        assert_eq!(meta.title, "Code Review");
        assert!(meta.frontmatter.fields.contains_key("allowed-tools"));

        let untitled =
            SkillMeta::read("---\nname: lint\ndescription: x\n---\nno heading\n").unwrap();
        assert_eq!(untitled.title, "lint");
    }

    #[test]
    fn refuses_what_claude_code_or_relay_cannot_use() {
        let read = |text: &str| SkillMeta::read(text).unwrap_err();
        assert_eq!(read("no frontmatter"), SkillFileError::NoFrontmatter);
        assert_eq!(
            read("---\ndescription: x\n---\n"),
            SkillFileError::Missing("name")
        );
        assert_eq!(
            read("---\nname: lint\n---\n"),
            SkillFileError::Missing("description")
        );
        assert_eq!(read("---\n- a\n- b\n---\n"), SkillFileError::NotAMapping);
        assert!(matches!(
            read("---\nname: Bad Name\ndescription: x\n---\n"),
            SkillFileError::Invalid { field: "name", .. }
        ));
        assert!(matches!(
            read("---\nname: [1]\ndescription: x\n---\n"),
            SkillFileError::Invalid { field: "name", .. }
        ));
        assert!(matches!(
            read("---\nname: a: b: c\n---\n"),
            SkillFileError::Yaml(_)
        ));
        let long = format!("---\nname: a\ndescription: {}\n---\n", "x".repeat(1025));
        assert!(matches!(
            read(&long),
            SkillFileError::Invalid {
                field: "description",
                ..
            }
        ));
    }

    #[test]
    fn refuses_alias_bombs_and_huge_frontmatter_before_parsing() {
        // Nine levels of nine: 387 million nodes from a few hundred bytes.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let previous = format!("*a{}", level - 1);
            bomb.push_str(&format!(
                "a{level}: &a{level} [{}]\n",
                vec![previous; 9].join(", ")
            ));
        }
        let started = std::time::Instant::now();
        assert!(matches!(
            Frontmatter::parse(&bomb),
            Err(SkillFileError::Yaml(_))
        ));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the bomb went off"
        );
        let huge = format!(
            "name: a\ndescription: {}\n",
            "x".repeat(MAX_FRONTMATTER_BYTES)
        );
        assert!(matches!(
            Frontmatter::parse(&huge),
            Err(SkillFileError::TooLarge { .. })
        ));
        // Ampersands and stars in plain text are just text.
        let fine =
            Frontmatter::parse("description: Review & fix *carefully*\nnote: a&b\n").unwrap();
        assert_eq!(
            fine.get_str("description").unwrap(),
            Some("Review & fix *carefully*")
        );
    }
}
