//! Which database to use: parsed once from `RELAY_DATABASE_URL`, with the embedded SQLite file in
//! the platform data dir as the default.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::StoreError;

/// A parsed database URL. `Display` never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:///absolute/path.db` or `sqlite://relative/path.db`.
    Sqlite(PathBuf),
    /// `postgres://user:password@host:port/dbname?options=…` (also `postgresql://`).
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::Invalid(relay_core::ValidationError::new(
                    "database URL",
                    url,
                    "name the file, e.g. sqlite:///var/lib/relay/relay.db",
                )));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Checked now, so that a malformed URL is a usage error before anything connects.
            postgres::Config::from_str(url).map_err(|err| {
                StoreError::Invalid(relay_core::ValidationError::new(
                    "PostgreSQL URL",
                    // Never echo the URL: it may hold a password.
                    "postgres://…",
                    format!("{err}; expected postgres://user:password@host:port/dbname"),
                ))
            })?;
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        Err(StoreError::UnknownScheme(scheme.to_owned()))
    }

    /// `sqlite://<platform data dir>/relay/relay.db`.
    pub fn default_sqlite() -> Result<Self, StoreError> {
        let dirs = directories::BaseDirs::new().ok_or_else(|| {
            StoreError::Unavailable(
                "no home directory to keep the database in: set RELAY_DATABASE_URL".to_owned(),
            )
        })?;
        Ok(DatabaseUrl::Sqlite(
            dirs.data_dir().join("relay").join("relay.db"),
        ))
    }

    /// The URL from the given setting, else the default.
    pub fn from_setting(setting: Option<&str>) -> Result<Self, StoreError> {
        match setting {
            Some(url) if !url.trim().is_empty() => Self::parse(url),
            _ => Self::default_sqlite(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `postgres://user@host:port/dbname`, rebuilt from the parsed URL: no password, no parameters
/// (which may hold `password=` too).
fn redact_password(url: &str) -> String {
    let Ok(config) = postgres::Config::from_str(url) else {
        return "postgres://…".to_owned();
    };
    let user = config
        .get_user()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let dbname = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{dbname}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_a_file() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/relay.db").unwrap(),
            DatabaseUrl::Sqlite("/var/lib/relay.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://relay.db").unwrap(),
            DatabaseUrl::Sqlite("relay.db".into())
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn unknown_schemes_name_the_known_engines_and_hide_credentials() {
        let err = DatabaseUrl::parse("mysql://root:hunter2@db/relay").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`mysql`"), "{text}");
        assert!(
            text.contains("sqlite://") && text.contains("postgres://"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn postgres_passwords_never_show() {
        for secret in [
            "postgres://relay:hunter2@db:5432/relay",
            "postgres://relay:hun%2Fter2@db:5432/relay",
            "postgres://relay@db:5432/relay?password=hunter2",
            "postgresql://relay:hunter2@db/relay?sslmode=disable",
        ] {
            let url = DatabaseUrl::parse(secret).unwrap();
            assert!(
                url.to_string()
                    .starts_with("postgres://relay@db:5432/relay"),
                "{url}"
            );
            assert!(
                !url.to_string().contains("hunter2") && !url.to_string().contains("hun"),
                "{url}"
            );
            assert!(!format!("{url:?}").contains("hunter2"));
        }
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h:notaport/db"),
            Err(StoreError::Invalid(_))
        ));
    }
}
