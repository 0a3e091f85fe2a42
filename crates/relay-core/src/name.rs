//! Names people choose: tenant slugs (they become subdomains), skill slugs (they become folder
//! names and slash commands), DNS domains and email addresses.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Subdomains Relay keeps for itself; no tenant may take them.
const RESERVED_TENANT_SLUGS: &[&str] =
    &["www", "api", "admin", "auth", "app", "static", "internal"];

fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from Relay's own database, which holds only valid values.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A tenant's slug, which is also its subdomain: `acme` serves at `acme.<base domain>`.
///
/// 1–63 characters of `a-z0-9-`, not starting or ending with `-`, and not one of the names Relay
/// reserves for itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);
string_newtype!(TenantSlug);

impl TenantSlug {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "tenant slug";
        let rule = "use 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'";
        if value.is_empty()
            || value.len() > 63
            || !value.chars().all(is_slug_char)
            || value.starts_with('-')
            || value.ends_with('-')
        {
            return Err(ValidationError::new(WHAT, value, rule));
        }
        if RESERVED_TENANT_SLUGS.contains(&value) {
            return Err(ValidationError::new(
                WHAT,
                value,
                format!(
                    "it is reserved by Relay (reserved: {})",
                    RESERVED_TENANT_SLUGS.join(", ")
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

/// A skill's slug: the frontmatter `name`, the folder under `.claude/skills/` and the slash command.
///
/// Claude Code's safe names: 1–64 characters of `a-z0-9-`, no leading, trailing or doubled `-`,
/// and not containing "anthropic" or "claude".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SkillSlug(String);
string_newtype!(SkillSlug);

impl SkillSlug {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "skill name";
        if value.is_empty()
            || value.len() > 64
            || !value.chars().all(is_slug_char)
            || value.starts_with('-')
            || value.ends_with('-')
            || value.contains("--")
        {
            return Err(ValidationError::new(
                WHAT,
                value,
                "use 1-64 characters of a-z, 0-9 and single '-' between words",
            ));
        }
        if value.contains("anthropic") || value.contains("claude") {
            return Err(ValidationError::new(
                WHAT,
                value,
                "Claude Code refuses skill names containing \"anthropic\" or \"claude\"",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

/// A DNS domain, lower-cased: the email domain that maps people to their tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Domain(String);
string_newtype!(Domain);

impl Domain {
    /// Accepts any case and one trailing dot; stores the lower-case form.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "domain";
        let normal = value.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = normal.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(is_slug_char)
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if normal.is_empty() || normal.len() > 253 || !labels.iter().all(label_ok) {
            return Err(ValidationError::new(
                WHAT,
                value,
                "expected a DNS name such as example.com (letters, digits, '-' and dots)",
            ));
        }
        if labels.len() < 2 {
            return Err(ValidationError::new(
                WHAT,
                value,
                "expected a domain with at least one dot, such as example.com",
            ));
        }
        let top = labels[labels.len() - 1];
        if top.chars().all(|c| c.is_ascii_digit()) {
            return Err(ValidationError::new(
                WHAT,
                value,
                "an IP address is not a domain; use the company's DNS name",
            ));
        }
        Ok(Self(normal))
    }
}

/// An email address, lower-cased so that `Alice@Acme.com` and `alice@acme.com` are one person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        const WHAT: &str = "email";
        let trimmed = value.trim();
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(ValidationError::new(
                WHAT,
                value,
                "expected an address such as alice@example.com",
            ));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(
                        c,
                        '@' | '"' | '(' | ')' | ',' | ';' | '<' | '>' | '[' | ']' | '\\'
                    )
            });
        if !local_ok {
            return Err(ValidationError::new(
                WHAT,
                value,
                "the part before '@' must be 1-64 plain characters",
            ));
        }
        let domain = Domain::parse(domain).map_err(|err| {
            ValidationError::new(
                WHAT,
                value,
                format!("the part after '@' is not a domain: {}", err.rule),
            )
        })?;
        Ok(Self(format!("{}@{}", local.to_ascii_lowercase(), domain)))
    }

    /// The domain part, which decides the tenant at sign-in.
    pub fn domain(&self) -> Domain {
        let (_, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        Domain(domain.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_slugs_follow_the_subdomain_rules() {
        for ok in ["acme", "a", "acme-corp", "a1", &"x".repeat(63)] {
            TenantSlug::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "-acme",
            "acme-",
            "Acme",
            "ac me",
            "acme.com",
            "ac_me",
            &"x".repeat(64),
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let err = TenantSlug::parse("admin").unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }

    #[test]
    fn skill_slugs_follow_claude_codes_rules() {
        SkillSlug::parse("code-review").unwrap();
        for bad in [
            "",
            "code--review",
            "-x",
            "x-",
            "Code",
            "claude-helper",
            "my-anthropic",
            "a b",
        ] {
            assert!(SkillSlug::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(SkillSlug::parse(&"x".repeat(64)).is_ok());
        assert!(SkillSlug::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn domains_are_lower_cased_and_checked() {
        assert_eq!(Domain::parse("Acme.COM.").unwrap().as_str(), "acme.com");
        for bad in [
            "",
            "localhost",
            "acme..com",
            "-acme.com",
            "acme.com/x",
            "10.0.0.1",
            "a b.com",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn emails_are_lower_cased_and_know_their_domain() {
        let email = Email::parse(" Alice.Smith+x@Acme.com ").unwrap();
        assert_eq!(email.as_str(), "alice.smith+x@acme.com");
        assert_eq!(email.domain().as_str(), "acme.com");
        for bad in [
            "",
            "alice",
            "@acme.com",
            "alice@",
            "alice@localhost",
            "a lice@acme.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
