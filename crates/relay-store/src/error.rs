//! What can go wrong in the store, in terms a caller can act on.

use relay_core::ValidationError;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (in this tenant). The text names it.
    #[error("{0}")]
    NotFound(String),
    /// The change would break a rule of the data: a duplicate slug, a domain owned elsewhere.
    #[error("{0}")]
    Conflict(String),
    /// A value did not pass its rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The database URL names no engine Relay knows.
    #[error(
        "unknown database URL scheme `{0}`: use sqlite:///path/to/relay.db or postgres://user@host/dbname"
    )]
    UnknownScheme(String),
    /// The database cannot be reached (down, refused, timed out). Worth retrying later.
    #[error("cannot reach the database: {0}")]
    Unavailable(String),
    /// Anything else the database said. Not for showing to an HTTP client.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn not_found(what: impl std::fmt::Display) -> Self {
        StoreError::NotFound(format!("{what} not found"))
    }
}
