//! Typed identifiers. Each id is a short prefix naming its kind and a time-ordered UUIDv7 in hex,
//! so ids sort by creation and a stray id in a log says what it points at.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, unique id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Checks an id that came from outside (a command line, a request).
            pub fn parse(value: &str) -> Result<Self, ValidationError> {
                let rest = value.strip_prefix($prefix).ok_or_else(|| {
                    ValidationError::new($what, value, concat!("it must start with `", $prefix, "`"))
                })?;
                let well_formed = !rest.is_empty()
                    && rest.len() <= 64
                    && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !well_formed {
                    return Err(ValidationError::new(
                        $what,
                        value,
                        concat!("expected `", $prefix, "` followed by lower-case letters and digits"),
                    ));
                }
                Ok(Self(value.to_owned()))
            }

            /// Wraps an id read back from Relay's own database, which only ever holds valid ids.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
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
    };
}

id_type!(
    /// A tenant: one company on this server.
    TenantId, "tn_", "tenant id"
);
id_type!(
    /// A user within one tenant.
    UserId, "usr_", "user id"
);
id_type!(
    /// An API key (its id, never the secret).
    ApiKeyId, "key_", "key id"
);
id_type!(
    /// A skill in a tenant's catalogue; this id is written into deployed SKILL.md files.
    SkillId, "sk_", "skill id"
);
id_type!(
    /// One install of a skill, as recorded by `POST /api/deployments`.
    DeploymentId, "dep_", "deployment id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_sort_by_creation() {
        let first = SkillId::generate();
        let second = SkillId::generate();
        assert_eq!(SkillId::parse(first.as_str()).unwrap(), first);
        assert!(first < second, "{first} should sort before {second}");
    }

    #[test]
    fn ids_of_another_kind_or_with_odd_characters_are_refused() {
        let tenant = TenantId::generate();
        let err = SkillId::parse(tenant.as_str()).unwrap_err();
        assert!(err.to_string().contains("must start with `sk_`"), "{err}");
        assert!(SkillId::parse("sk_").is_err());
        assert!(SkillId::parse("sk_ABC").is_err());
        assert!(SkillId::parse("sk_abc'; drop table skills").is_err());
    }
}
