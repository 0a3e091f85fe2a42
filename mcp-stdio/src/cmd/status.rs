//! `relay-mcp status`: where this machine reports to, as whom, what waits in the outbox, and how
//! the Relay skills of this project and of the user stand.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::Client;
use crate::outbox::Outbox;
use crate::{Credentials, Paths, Settings};

/// The project's skills folder: `CLAUDE_PROJECT_DIR`, else the working directory.
pub fn project_skills() -> PathBuf {
    let project = std::env::var_os("CLAUDE_PROJECT_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    project.join(".claude").join("skills")
}

/// The user's skills folder, `~/.claude/skills`.
pub fn user_skills() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.home_dir().join(".claude").join("skills"))
}

/// `(slug, status)` of every Relay-managed skill in a skills folder.
pub fn scan(skills: &Path) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(skills) else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("SKILL.md")) else {
            continue;
        };
        if let Ok(Some(inspection)) = relay_skillfile::inspect(&text) {
            found.push((
                entry.file_name().to_string_lossy().into_owned(),
                inspection.status.as_str(),
            ));
        }
    }
    found.sort();
    found
}

pub fn run(paths: &Paths) -> anyhow::Result<()> {
    let server = Settings::server(paths)?;
    let api_key = Credentials::api_key(paths)?;
    match (&server, &api_key) {
        (Some(server), Some(key)) => {
            println!("server:   {server}");
            let client = Client::new(server, Some(key.clone()), Duration::from_secs(3))?;
            match client.get_json("/api/me") {
                Some((200, me)) => println!(
                    "user:     {} ({}) in {}",
                    me["user"]["email"].as_str().unwrap_or("?"),
                    me["user"]["role"].as_str().unwrap_or("?"),
                    me["tenant"]["slug"].as_str().unwrap_or("?")
                ),
                Some((_, answer)) => println!(
                    "user:     not signed in: {}",
                    answer["error"]["message"]
                        .as_str()
                        .unwrap_or("the server refused the key")
                ),
                None => println!("user:     unknown: the server cannot be reached"),
            }
        }
        (Some(server), None) => {
            println!("server:   {server}");
            println!("user:     no API key: run `relay-mcp login`");
        }
        (None, _) => println!("server:   none: run `relay-mcp login --server URL`"),
    }
    let outbox = Outbox::open(&paths.outbox_file(), Duration::from_secs(2))?;
    let counts = outbox.counts()?;
    println!(
        "outbox:   {} waiting ({} sent, {} refused, {} dropped when full)",
        outbox.len()?,
        counts.sent,
        counts.rejected,
        counts.dropped_full
    );
    let mut places = vec![("project", project_skills())];
    places.extend(user_skills().map(|dir| ("user", dir)));
    for (scope, dir) in places {
        for (slug, status) in scan(&dir) {
            println!("skill:    {slug} ({scope}): {status}");
        }
    }
    Ok(())
}
