//! A skill as it sits on disk: a folder with SKILL.md and its supporting files, or a lone
//! SKILL.md. The one part of this crate that reads the file system, shared by relay-admin's
//! `skill import` and relay-mcp's `publish_skill`.

use std::path::{Path, PathBuf};

use relay_core::{SkillFile, SkillFilePath};

/// Limits that keep an accidental `import ~` from uploading a home directory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
pub const MAX_TOTAL_BYTES: u64 = 8 * 1024 * 1024;
pub const MAX_FILES: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}: no SKILL.md in this folder; a skill folder holds SKILL.md and its files")]
    NoSkillMd(PathBuf),
    #[error("{0}: not UTF-8 text; Relay skills carry text files only")]
    NotText(PathBuf),
    #[error("{0}: a symbolic link; copy the file into the skill folder instead")]
    Symlink(PathBuf),
    #[error("{path}: {size} bytes; files may be at most {MAX_FILE_BYTES} bytes")]
    FileTooLarge { path: PathBuf, size: u64 },
    #[error(
        "the skill is over {MAX_TOTAL_BYTES} bytes or {MAX_FILES} files; is this the right folder?"
    )]
    TooLarge,
    #[error("{path}: {reason}")]
    BadPath { path: PathBuf, reason: String },
}

/// SKILL.md's text and the supporting files, with paths relative to the skill folder.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillBundle {
    pub skill_md: String,
    pub files: Vec<SkillFile>,
}

impl SkillBundle {
    /// Loads a folder (SKILL.md plus every other file below it, hidden ones excepted) or a single
    /// markdown file taken as the SKILL.md.
    pub fn load(path: &Path) -> Result<Self, BundleError> {
        let io = |error| BundleError::Io {
            path: path.to_owned(),
            error,
        };
        let meta = std::fs::symlink_metadata(path).map_err(io)?;
        if meta.is_file() {
            return Ok(Self {
                skill_md: read_text(path, meta.len())?,
                files: Vec::new(),
            });
        }
        let skill_md_path = path.join("SKILL.md");
        let skill_md_meta = match std::fs::metadata(&skill_md_path) {
            Ok(meta) if meta.is_file() => meta,
            _ => return Err(BundleError::NoSkillMd(path.to_owned())),
        };
        let skill_md = read_text(&skill_md_path, skill_md_meta.len())?;
        let mut files = Vec::new();
        let mut total = skill_md_meta.len();
        collect(path, path, &mut files, &mut total)?;
        files.sort();
        Ok(Self { skill_md, files })
    }
}

fn read_text(path: &Path, size: u64) -> Result<String, BundleError> {
    if size > MAX_FILE_BYTES {
        return Err(BundleError::FileTooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let bytes = std::fs::read(path).map_err(|error| BundleError::Io {
        path: path.to_owned(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|_| BundleError::NotText(path.to_owned()))
}

fn collect(
    root: &Path,
    dir: &Path,
    files: &mut Vec<SkillFile>,
    total: &mut u64,
) -> Result<(), BundleError> {
    let entries = std::fs::read_dir(dir).map_err(|error| BundleError::Io {
        path: dir.to_owned(),
        error,
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| BundleError::Io {
            path: dir.to_owned(),
            error,
        })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(|error| BundleError::Io {
            path: path.clone(),
            error,
        })?;
        if meta.file_type().is_symlink() {
            return Err(BundleError::Symlink(path));
        }
        if meta.is_dir() {
            collect(root, &path, files, total)?;
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let relative: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let relative = relative.join("/");
        if relative == "SKILL.md" {
            continue;
        }
        let skill_path = SkillFilePath::parse(&relative).map_err(|err| BundleError::BadPath {
            path: path.clone(),
            reason: err.rule,
        })?;
        *total += meta.len();
        if files.len() + 1 > MAX_FILES || *total > MAX_TOTAL_BYTES {
            return Err(BundleError::TooLarge);
        }
        let content = read_text(&path, meta.len())?;
        files.push(SkillFile {
            path: skill_path,
            content,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_folder_with_nested_files_and_skips_hidden_ones() {
        let dir = std::env::temp_dir().join(format!("relay-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("scripts")).unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(dir.join("SKILL.md"), "---\nname: x\n---\n").unwrap();
        std::fs::write(dir.join("reference.md"), "ref").unwrap();
        std::fs::write(dir.join("scripts/check.py"), "print()").unwrap();
        std::fs::write(dir.join(".git/config"), "secret").unwrap();
        let bundle = SkillBundle::load(&dir).unwrap();
        let paths: Vec<_> = bundle.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["reference.md", "scripts/check.py"]);
        assert_eq!(bundle.skill_md, "---\nname: x\n---\n");

        std::fs::write(dir.join("logo.png"), [0x89, 0x50, 0xff, 0xfe]).unwrap();
        assert!(matches!(
            SkillBundle::load(&dir),
            Err(BundleError::NotText(_))
        ));
        std::fs::remove_file(dir.join("logo.png")).unwrap();

        let single = SkillBundle::load(&dir.join("SKILL.md")).unwrap();
        assert!(single.files.is_empty());
        assert!(matches!(
            SkillBundle::load(&dir.join("scripts")),
            Err(BundleError::NoSkillMd(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
