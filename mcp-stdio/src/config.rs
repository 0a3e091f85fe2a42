//! Where relay-mcp keeps its settings and key: `RELAY_CONFIG_DIR`, else the platform config dir.
//! The key lives in its own file, readable by its owner only (mode 0600).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    /// Where the outbox lives (`RELAY_DATA_DIR`, else the platform data dir).
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn from_env() -> anyhow::Result<Self> {
        let dir = |name: &str| {
            std::env::var_os(name)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
        };
        let project = || {
            directories::ProjectDirs::from("", "", "relay").context(
                "no home directory for relay-mcp's files: set RELAY_CONFIG_DIR and RELAY_DATA_DIR",
            )
        };
        let config_dir = match dir("RELAY_CONFIG_DIR") {
            Some(dir) => dir,
            None => project()?.config_dir().to_owned(),
        };
        let data_dir = match dir("RELAY_DATA_DIR") {
            Some(dir) => dir,
            None => project()?.data_dir().to_owned(),
        };
        Ok(Self {
            config_dir,
            data_dir,
        })
    }

    pub fn outbox_file(&self) -> PathBuf {
        self.data_dir.join("outbox.db")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join("config.json")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.config_dir.join("credentials.json")
    }
}

/// Non-secret settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The tenant's Relay URL, e.g. `https://acme.relay.example.com`.
    pub server: Option<String>,
}

/// The API key. `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    pub api_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.api_key.as_ref().map(|_| "rly_…");
        f.debug_struct("Credentials")
            .field("api_key", &shown)
            .finish()
    }
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> anyhow::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid: fix or delete it", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes through a temp file and a rename, so a crash never leaves half a file; `private`
/// files are created with mode 0600 before anything is written to them.
fn write_json<T: Serialize>(path: &Path, value: &T, private: bool) -> anyhow::Result<()> {
    let dir = path.parent().context("a settings file needs a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&temp)
        .with_context(|| format!("writing {}", temp.display()))?;
    file.write_all(&serde_json::to_vec_pretty(value)?)?;
    file.sync_all()?;
    std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

impl Settings {
    pub fn load(paths: &Paths) -> anyhow::Result<Self> {
        read_json(&paths.settings_file())
    }

    /// The server to use: `RELAY_SERVER`, else the one `relay-mcp login` stored.
    pub fn server(paths: &Paths) -> anyhow::Result<Option<String>> {
        if let Ok(server) = std::env::var("RELAY_SERVER")
            && !server.trim().is_empty()
        {
            return Ok(Some(server.trim().trim_end_matches('/').to_owned()));
        }
        Ok(Self::load(paths)?.server)
    }

    pub fn save(&self, paths: &Paths) -> anyhow::Result<()> {
        write_json(&paths.settings_file(), self, false)
    }
}

impl Credentials {
    pub fn load(paths: &Paths) -> anyhow::Result<Self> {
        read_json(&paths.credentials_file())
    }

    /// The key to use: `RELAY_API_KEY`, else the one `relay-mcp login` stored.
    pub fn api_key(paths: &Paths) -> anyhow::Result<Option<String>> {
        if let Ok(key) = std::env::var("RELAY_API_KEY")
            && !key.trim().is_empty()
        {
            return Ok(Some(key.trim().to_owned()));
        }
        Ok(Self::load(paths)?.api_key)
    }

    pub fn save(&self, paths: &Paths) -> anyhow::Result<()> {
        write_json(&paths.credentials_file(), self, true)
    }
}
