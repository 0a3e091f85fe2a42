//! Relay's storage: one [`Store`] trait, implemented over SQLite (the embedded default) and
//! PostgreSQL, with every query written once (see `sql.rs`).
//!
//! Tenant scoping is part of every signature: a method that reads or writes tenant data takes the
//! [`TenantId`], and its SQL filters on it. The few methods without one are the operator's view
//! of tenants themselves and [`Store::authenticate`], where the key is what names the tenant.

pub mod analytics;
mod backup;
mod error;
mod migrate;
mod model;
mod postgres;
mod sql;
mod sqlite;
mod store;
mod url;

use std::sync::Arc;

use relay_core::{
    ApiKey, ApiKeyHash, ApiKeyId, ApiKeySecret, Day, Deployment, Domain, Email, Event, EventBatch,
    NewDeployment, Rating, Role, Skill, SkillId, SkillSlug, SkillVersion, SkillVersionInfo, Stars,
    Tenant, TenantDomain, TenantId, TenantSlug, Timestamp, User, UserId,
};

pub use backup::{BackupReport, backup_sqlite};
pub use error::{Result, StoreError};
pub use migrate::{SCHEMA_SQL, latest_version};
pub use model::{
    AuthCode, CliLogin, CodePurpose, DailyUsage, IngestOutcome, LoginFlow, NewSkillVersion,
    Principal, PublishOutcome, Published, Redemption, RejectReason, RejectedEvent, SkillPage,
    SkillQuery, WebSession,
};
pub use url::DatabaseUrl;

/// Everything Relay keeps. Synchronous and object-safe: share it as `Arc<dyn Store>`; async code
/// calls it through `spawn_blocking`.
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers.
    fn ping(&self) -> Result<()>;

    /// The schema version the database is at.
    fn schema_version(&self) -> Result<i64>;

    // --- Tenants: the operator's view, across tenants. ---

    /// Creates a tenant with its email domains, all or nothing.
    fn create_tenant(&self, slug: &TenantSlug, name: &str, domains: &[Domain]) -> Result<Tenant>;
    fn list_tenants(&self) -> Result<Vec<Tenant>>;
    fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>>;
    fn tenant_by_id(&self, tenant: &TenantId) -> Result<Option<Tenant>>;
    /// The tenant that owns an email domain (how SSO finds a person's tenant).
    fn tenant_by_domain(&self, domain: &Domain) -> Result<Option<Tenant>>;
    fn rename_tenant(&self, tenant: &TenantId, name: &str) -> Result<Tenant>;
    /// Deletes a tenant and everything it owns.
    fn delete_tenant(&self, tenant: &TenantId) -> Result<()>;

    // --- Domains ---

    fn add_domain(&self, tenant: &TenantId, domain: &Domain) -> Result<TenantDomain>;
    fn remove_domain(&self, tenant: &TenantId, domain: &Domain) -> Result<()>;
    fn list_domains(&self, tenant: &TenantId) -> Result<Vec<TenantDomain>>;

    // --- Users ---

    fn create_user(&self, tenant: &TenantId, email: &Email, role: Role) -> Result<User>;
    fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>>;
    fn user_by_id(&self, tenant: &TenantId, user: &UserId) -> Result<Option<User>>;
    fn user_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<User>>;
    fn set_user_role(&self, tenant: &TenantId, user: &UserId, role: Role) -> Result<User>;
    /// A disabled user cannot sign in, and their keys and sessions stop working.
    fn set_user_disabled(&self, tenant: &TenantId, user: &UserId, disabled: bool) -> Result<User>;
    /// Changes a user's role and/or disabled state as a tenant admin does: refused (`Conflict`)
    /// when it would leave the tenant without an active admin, checked and changed in one
    /// transaction so two admins demoting each other cannot both succeed.
    fn update_user_guarded(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User>;

    // --- API keys ---

    /// Stores the hash of `secret` for `user`; the secret itself is never stored.
    fn create_api_key(
        &self,
        tenant: &TenantId,
        user: &UserId,
        name: &str,
        secret: &ApiKeySecret,
    ) -> Result<ApiKey>;
    fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>>;
    /// Revokes a key of this tenant; revoking a revoked key keeps its first revocation time.
    fn revoke_api_key(&self, tenant: &TenantId, key: &ApiKeyId) -> Result<ApiKey>;
    /// The live key with this hash, its user and tenant. `None` for unknown and revoked keys and
    /// for keys of disabled users. Not scoped by tenant: the key is what names the tenant.
    fn authenticate(&self, hash: &ApiKeyHash) -> Result<Option<Principal>>;

    // --- Single sign-on ---

    /// Whether sign-in to this tenant requires Google Workspace's `hd` claim to name one of its
    /// domains.
    fn tenant_requires_hd(&self, tenant: &TenantId) -> Result<bool>;
    fn set_tenant_requires_hd(&self, tenant: &TenantId, required: bool) -> Result<()>;
    /// The user the provider knows by `subject`, provisioned on first sign-in: an existing user
    /// with this email and no subject yet (added by an operator) is linked, else a member is
    /// created. `Conflict` when the email belongs to a user linked to another subject.
    /// Disabled users are returned as they are: the caller refuses them.
    fn provision_user(&self, tenant: &TenantId, email: &Email, subject: &str) -> Result<User>;
    /// Saves a sign-in in progress, and forgets expired flows, codes and sessions.
    fn start_login(&self, flow: &LoginFlow) -> Result<()>;
    /// Takes (and deletes) the sign-in with this state hash; `None` when unknown or expired.
    fn take_login(&self, state_hash: &str, now: Timestamp) -> Result<Option<LoginFlow>>;
    fn issue_auth_code(&self, code: &AuthCode) -> Result<()>;
    /// Spends a one-time code: it redeems once, before it expires, for its own purpose.
    fn redeem_auth_code(
        &self,
        code_hash: &str,
        purpose: CodePurpose,
        now: Timestamp,
    ) -> Result<Redemption>;
    fn create_web_session(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id_hash: &str,
        expires_at: Timestamp,
    ) -> Result<()>;
    /// The live session with this id hash; `None` when unknown, expired or the user is disabled.
    /// Not scoped by tenant: the session names it (the caller checks it against the Host).
    fn web_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<WebSession>>;
    /// Ends a session; `false` when there was none.
    fn end_web_session(&self, id_hash: &str) -> Result<bool>;

    // --- Skills ---

    /// Publishes a version: a new slug makes a skill, new content a new version, and the same
    /// content as the latest version changes nothing.
    fn publish_skill(&self, tenant: &TenantId, new: &NewSkillVersion) -> Result<Published>;
    fn list_skills(&self, tenant: &TenantId, query: &SkillQuery) -> Result<SkillPage>;
    fn skill_by_slug(&self, tenant: &TenantId, slug: &SkillSlug) -> Result<Option<Skill>>;
    fn skill_by_id(&self, tenant: &TenantId, skill: &SkillId) -> Result<Option<Skill>>;
    fn list_skill_versions(
        &self,
        tenant: &TenantId,
        skill: &SkillId,
    ) -> Result<Vec<SkillVersionInfo>>;
    /// One version with its content; `None` as `version` means the latest.
    fn skill_version(
        &self,
        tenant: &TenantId,
        skill: &SkillId,
        version: Option<i64>,
    ) -> Result<Option<SkillVersion>>;

    // --- Ratings ---

    /// Sets a user's rating of a skill, replacing their earlier one.
    fn rate_skill(
        &self,
        tenant: &TenantId,
        skill: &SkillId,
        user: &UserId,
        stars: Stars,
        comment: Option<&str>,
    ) -> Result<Rating>;
    fn list_ratings(&self, tenant: &TenantId, skill: &SkillId) -> Result<Vec<Rating>>;

    // --- Deployments ---

    /// Records an install; the same install of the same skill updates its row.
    fn record_deployment(&self, tenant: &TenantId, new: &NewDeployment) -> Result<Deployment>;
    fn list_deployments(&self, tenant: &TenantId) -> Result<Vec<Deployment>>;

    // --- Usage ---

    /// Stores the batches' events in one transaction, each at most once per tenant, and updates
    /// the daily rollup with them. Returns one outcome per batch, in order.
    fn record_events(&self, batches: &[EventBatch]) -> Result<Vec<IngestOutcome>>;
    /// Raw events that occurred in `[from, to)`, oldest first, at most `limit`.
    fn list_events(
        &self,
        tenant: &TenantId,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>>;
    /// Rollup rows for the days `from..=to`.
    fn daily_usage(&self, tenant: &TenantId, from: Day, to: Day) -> Result<Vec<DailyUsage>>;

    // --- Analytics (read from the rollup; definitions in `analytics`) ---

    fn analytics_summary(
        &self,
        tenant: &TenantId,
        scope: &analytics::Scope,
        period: analytics::Period,
    ) -> Result<analytics::Summary>;
    /// Every skill of the tenant with its use, most skill sessions first.
    fn analytics_skills(
        &self,
        tenant: &TenantId,
        scope: &analytics::Scope,
        period: analytics::Period,
    ) -> Result<Vec<analytics::SkillUsage>>;
    /// Every user of the tenant with their use, most skill sessions first.
    fn analytics_users(
        &self,
        tenant: &TenantId,
        period: analytics::Period,
    ) -> Result<Vec<analytics::UserUsage>>;
    /// Every bucket of the period, empty ones included.
    fn analytics_timeseries(
        &self,
        tenant: &TenantId,
        scope: &analytics::Scope,
        period: analytics::Period,
        bucket: analytics::Bucket,
    ) -> Result<Vec<analytics::Point>>;
}

/// Opens the database the URL names, bringing its schema up to date.
pub fn open(url: &DatabaseUrl) -> Result<Arc<dyn Store>> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(store::SqlStore::open(sqlite::Sqlite::open(
            path,
        )?)?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(store::SqlStore::open(
            postgres::Postgres::open(url)?,
        )?)),
    }
}
