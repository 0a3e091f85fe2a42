//! SKILL.md files: a YAML frontmatter between `---` lines, then a Markdown body.
//!
//! Apart from loading a skill folder (`bundle.rs`), this crate is pure: it reads and checks text.
//! It splits a file, parses its frontmatter (capped in size before any parsing), reads the fields
//! Relay needs to catalogue a skill, merges Relay's metadata and tracking hooks into an
//! uploader's frontmatter (`relay.rs`), and inspects a deployed file for compliance.

mod bundle;
mod frontmatter;
mod relay;
mod split;

pub use bundle::{BundleError, SkillBundle};
pub use frontmatter::{Frontmatter, SkillMeta};
pub use relay::{
    Deploy, HOOKS_VERSION, HookStatus, Inspection, hook_command, inject, inspect, render, repair,
};
pub use split::{Split, split};

/// Why a SKILL.md could not be read. Every message says what to change in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkillFileError {
    #[error("SKILL.md has no frontmatter: it must start with a line `---`, then YAML, then `---`")]
    NoFrontmatter,
    #[error("SKILL.md's frontmatter is not closed: add a line `---` after the YAML")]
    Unclosed,
    #[error("SKILL.md's frontmatter is {size} bytes; keep it under {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("SKILL.md's frontmatter is not valid YAML: {0}")]
    Yaml(String),
    #[error("SKILL.md's frontmatter must be a YAML mapping of keys to values")]
    NotAMapping,
    #[error("SKILL.md's frontmatter has no `{0}`: add `{0}: …`")]
    Missing(&'static str),
    #[error("SKILL.md's frontmatter `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}
