//! Running a parsed command: open the store, then one file per command group.

mod analytics;
mod key;
mod skill;
mod tenant;
mod user;

use std::sync::Arc;

use anyhow::{Context, anyhow};
use relay_core::{Email, Tenant, TenantSlug, User};
use relay_store::{DatabaseUrl, Store, StoreError};

use crate::cli::{Cli, Command};
use crate::{UsageError, output};

/// What every command needs.
pub struct Ctx {
    pub store: Arc<dyn Store>,
    pub json: bool,
}

impl Ctx {
    /// The tenant with this slug, or an error that says how to find the right one.
    pub fn tenant(&self, slug: &TenantSlug) -> anyhow::Result<Tenant> {
        self.store
            .tenant_by_slug(slug)?
            .ok_or_else(|| anyhow!("no tenant {slug}: see `relay-admin tenant list`"))
    }

    /// The user with this email in the tenant, or an error that says how to add them.
    pub fn user(&self, tenant: &Tenant, email: &Email) -> anyhow::Result<User> {
        self.store.user_by_email(&tenant.id, email)?.ok_or_else(|| {
            anyhow!(
                "no user {email} in tenant {slug}: add them with `relay-admin user add --tenant {slug} {email}`",
                slug = tenant.slug
            )
        })
    }
}

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let from_file = match &cli.database_url_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading RELAY_DATABASE_URL_FILE {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let setting = from_file.as_deref().or(cli.database_url.as_deref());
    let url = DatabaseUrl::from_setting(setting).map_err(|err| match err {
        StoreError::UnknownScheme(_) | StoreError::Invalid(_) => anyhow::Error::new(UsageError(
            format!("RELAY_DATABASE_URL / --database-url: {err}"),
        )),
        other => anyhow::Error::new(other),
    })?;
    // Only commands that create something may create the database: a mistyped path for a
    // listing must fail, not leave an empty database behind.
    let creates = matches!(
        cli.command,
        Command::Migrate | Command::Tenant(crate::cli::TenantCommand::Create { .. })
    );
    if let DatabaseUrl::Sqlite(path) = &url
        && !creates
        && !path.exists()
    {
        anyhow::bail!(
            "no database at {}: check RELAY_DATABASE_URL, or create it with `relay-admin migrate`",
            path.display()
        );
    }
    if let Command::Backup { out } = &cli.command {
        return backup(&url, out, cli.json);
    }
    let store = relay_store::open(&url).with_context(|| format!("opening {url}"))?;
    let ctx = Ctx {
        store,
        json: cli.json,
    };
    match &cli.command {
        Command::Migrate => migrate(&ctx, &url),
        Command::Tenant(command) => tenant::run(&ctx, command),
        Command::User(command) => user::run(&ctx, command),
        Command::Key(command) => key::run(&ctx, command),
        Command::Skill(command) => skill::run(&ctx, command),
        // Copied above, before the store (which migrates) was opened.
        Command::Backup { .. } => Ok(()),
        Command::Analytics { tenant, from, to } => analytics::run(&ctx, &tenant.slug, *from, *to),
    }
}

/// Copies the database without opening it as a store: a backup must not migrate anything.
fn backup(url: &DatabaseUrl, out: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let report = relay_store::backup_sqlite(url, out)?;
    if json {
        return output::json(&serde_json::json!({
            "file": out.display().to_string(),
            "bytes": report.bytes,
            "schema_version": report.schema_version,
        }));
    }
    println!(
        "Backed up {url} to {} ({} bytes, schema version {}). Restore: stop trackd, put the file \
         in place of the database (removing any -wal and -shm files beside it), start trackd.",
        out.display(),
        report.bytes,
        report.schema_version
    );
    Ok(())
}

fn migrate(ctx: &Ctx, url: &DatabaseUrl) -> anyhow::Result<()> {
    // Opening the store has already migrated it.
    let version = ctx.store.schema_version()?;
    if ctx.json {
        return output::json(&serde_json::json!({
            "database": ctx.store.backend(),
            "schema_version": version,
        }));
    }
    println!("{url} is at schema version {version}.");
    Ok(())
}
