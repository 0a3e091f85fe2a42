//! The command line, as clap reads it. Values are checked here by the domain's own parsers, so a
//! bad slug or email is a usage error before anything touches the database.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use relay_core::{ApiKeyId, Category, Day, Domain, Email, HoursSaved, Role, TenantSlug};

#[derive(Debug, Parser)]
#[command(
    name = "relay-admin",
    version,
    about = "Operate a Relay server: tenants, users, keys, skills, analytics"
)]
pub struct Cli {
    /// The database: sqlite:///path/relay.db or postgres://user@host/db
    /// [default: sqlite://<data dir>/relay/relay.db]
    #[arg(
        long,
        env = "RELAY_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// A file holding the database URL (container secrets); when set, it wins over
    /// RELAY_DATABASE_URL.
    #[arg(long, env = "RELAY_DATABASE_URL_FILE", global = true)]
    pub database_url_file: Option<PathBuf>,

    /// Print JSON for scripts instead of tables for people.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the database schema (every command also does this on open).
    Migrate,
    /// Tenants: one per company, each at <slug>.<base domain>.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// People in a tenant.
    #[command(subcommand)]
    User(UserCommand),
    /// API keys (shown once when created; only a hash is kept).
    #[command(subcommand)]
    Key(KeyCommand),
    /// A tenant's skill catalogue.
    #[command(subcommand)]
    Skill(SkillCommand),
    /// Copy the SQLite database to FILE while trackd runs (PostgreSQL: use pg_dump).
    Backup {
        /// Where to write the copy; must not exist yet.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// What a tenant's skills were used for and saved: skill sessions, hours and FTE days,
    /// compliance, the most used skills and the most active people.
    Analytics {
        #[command(flatten)]
        tenant: TenantArg,
        /// First day, YYYY-MM-DD [default: 29 days before --to]
        #[arg(long, value_parser = day)]
        from: Option<Day>,
        /// Last day, included, YYYY-MM-DD [default: today, UTC]
        #[arg(long, value_parser = day)]
        to: Option<Day>,
    },
}

fn day(value: &str) -> Result<Day, String> {
    Day::parse(value).map_err(|err| err.to_string())
}

fn tenant_slug(value: &str) -> Result<TenantSlug, String> {
    TenantSlug::parse(value).map_err(|err| err.to_string())
}

fn domain(value: &str) -> Result<Domain, String> {
    Domain::parse(value).map_err(|err| err.to_string())
}

fn email(value: &str) -> Result<Email, String> {
    Email::parse(value).map_err(|err| err.to_string())
}

fn role(value: &str) -> Result<Role, String> {
    value.parse::<Role>().map_err(|err| err.to_string())
}

fn key_id(value: &str) -> Result<ApiKeyId, String> {
    ApiKeyId::parse(value).map_err(|err| err.to_string())
}

fn category(value: &str) -> Result<Category, String> {
    Category::parse(value).map_err(|err| err.to_string())
}

fn tenant_name(value: &str) -> Result<String, String> {
    relay_core::Tenant::validate_name(value).map_err(|err| err.to_string())
}

fn key_name(value: &str) -> Result<String, String> {
    let name = value.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(format!(
            "invalid key name {value:?}: use 1-100 printable characters"
        ));
    }
    Ok(name.to_owned())
}

fn hours(value: &str) -> Result<HoursSaved, String> {
    HoursSaved::parse(value).map_err(|err| err.to_string())
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// The tenant's slug.
    #[arg(long = "tenant", value_name = "SLUG", value_parser = tenant_slug)]
    pub slug: TenantSlug,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant, optionally with the email domains of its people.
    Create {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
        /// The company's name, as people see it.
        #[arg(long, value_parser = tenant_name)]
        name: String,
        /// An email domain whose people sign in to this tenant (repeatable).
        #[arg(long = "domain", value_name = "DOMAIN", value_parser = domain)]
        domains: Vec<Domain>,
    },
    /// List every tenant.
    List,
    /// Show one tenant.
    Show {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
    },
    /// Change a tenant's display name.
    Rename {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
        #[arg(value_parser = tenant_name)]
        name: String,
    },
    /// Delete a tenant and all its data: users, keys, skills, usage.
    Delete {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Let people of an email domain sign in to this tenant.
    AddDomain {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
        #[arg(value_parser = domain)]
        domain: Domain,
    },
    /// Stop mapping an email domain to this tenant.
    RemoveDomain {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
        #[arg(value_parser = domain)]
        domain: Domain,
    },
    /// Accept only accounts managed by the tenant's Google Workspace at sign-in (the ID token's
    /// `hd` claim must be one of its domains), or stop requiring it.
    RequireHd {
        #[arg(value_parser = tenant_slug)]
        slug: TenantSlug,
        /// on or off
        #[arg(value_parser = on_off, action = clap::ArgAction::Set)]
        setting: bool,
    },
}

fn on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{value:?} is not on or off")),
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List a tenant's users.
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Add a user (people who sign in with SSO are added on their first sign-in).
    Add {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(value_parser = email)]
        email: Email,
        #[arg(long, default_value = "member", value_parser = role)]
        role: Role,
    },
    /// Make a user an admin or a member.
    SetRole {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(value_parser = email)]
        email: Email,
        /// admin or member
        #[arg(value_parser = role)]
        role: Role,
    },
    /// Stop a user: they cannot sign in, and their keys and sessions stop working within a
    /// second.
    Disable {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(value_parser = email)]
        email: Email,
    },
    /// Let a disabled user sign in again (their old keys work again too).
    Enable {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(value_parser = email)]
        email: Email,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key for a user and print it, once.
    Create {
        #[command(flatten)]
        tenant: TenantArg,
        /// The user's email.
        #[arg(long = "user", value_name = "EMAIL", value_parser = email)]
        user: Email,
        /// A label to tell keys apart.
        #[arg(long, value_name = "LABEL", default_value = "relay-admin", value_parser = key_name)]
        name: String,
    },
    /// List a tenant's keys (never the keys themselves).
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Revoke a key; it stops working within a second.
    Revoke {
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(value_name = "KEY_ID", value_parser = key_id)]
        key: ApiKeyId,
    },
}

#[derive(Debug, Subcommand)]
pub enum SkillCommand {
    /// Import a skill folder (SKILL.md and its files) or a single SKILL.md.
    Import {
        #[command(flatten)]
        tenant: TenantArg,
        path: PathBuf,
        #[arg(long, value_parser = category)]
        category: Option<Category>,
        /// Hours one use of the skill saves (used by analytics).
        #[arg(long, value_name = "H", value_parser = hours, allow_negative_numbers = true)]
        hours_saved: Option<HoursSaved>,
        /// The user to record as the skill's author.
        #[arg(long, value_name = "EMAIL", value_parser = email)]
        author: Option<Email>,
    },
    /// List a tenant's skills.
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
}
