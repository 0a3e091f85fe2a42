//! The one error of this crate: a value from outside did not pass a rule.

/// A value failed validation. The message is written for the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {rule}")]
pub struct ValidationError {
    /// What kind of value it was ("tenant slug", "email", …).
    pub what: &'static str,
    /// The value as given, cut to a readable length.
    pub value: String,
    /// The rule it broke, phrased as what to do.
    pub rule: String,
}

impl ValidationError {
    pub fn new(what: &'static str, value: &str, rule: impl Into<String>) -> Self {
        const SHOWN: usize = 80;
        let value = if value.chars().count() > SHOWN {
            let cut: String = value.chars().take(SHOWN).collect();
            format!("{cut}…")
        } else {
            value.to_owned()
        };
        Self {
            what,
            value,
            rule: rule.into(),
        }
    }
}
