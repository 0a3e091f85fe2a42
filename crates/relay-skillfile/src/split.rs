//! Finding the frontmatter: the text between a first line `---` and the next line `---`.

use crate::SkillFileError;

/// A SKILL.md cut in two. Both parts borrow from the file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split<'a> {
    /// The YAML between the `---` lines, without them.
    pub frontmatter: &'a str,
    /// Everything after the closing `---` line.
    pub body: &'a str,
}

/// Splits a SKILL.md. A UTF-8 byte-order mark and Windows line endings are accepted.
pub fn split(text: &str) -> Result<Split<'_>, SkillFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or(SkillFileError::NoFrontmatter)?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            return Ok(Split {
                frontmatter: &rest[..offset],
                body: &rest[offset + line.len()..],
            });
        }
        offset += line.len();
    }
    // A closing `---` on the very last line without a newline.
    if rest[offset..].trim_end_matches('\r') == "---" {
        return Ok(Split {
            frontmatter: &rest[..offset],
            body: "",
        });
    }
    Err(SkillFileError::Unclosed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_closing_line() {
        let parts = split("---\nname: a\n---\n# A\n\nbody --- here\n---\n").unwrap();
        assert_eq!(parts.frontmatter, "name: a\n");
        assert_eq!(parts.body, "# A\n\nbody --- here\n---\n");
        let crlf = split("\u{feff}---\r\nname: a\r\n---\r\nbody").unwrap();
        assert_eq!((crlf.frontmatter, crlf.body), ("name: a\r\n", "body"));
        assert_eq!(split("---\nname: a\n---").unwrap().body, "");
        assert_eq!(split("---\n---\nbody").unwrap().frontmatter, "");
    }

    #[test]
    fn refuses_files_without_a_frontmatter() {
        assert_eq!(
            split("# Just markdown\n"),
            Err(SkillFileError::NoFrontmatter)
        );
        assert_eq!(
            split(" ---\nname: a\n---\n"),
            Err(SkillFileError::NoFrontmatter)
        );
        assert_eq!(split("---\nname: a\n"), Err(SkillFileError::Unclosed));
    }
}
