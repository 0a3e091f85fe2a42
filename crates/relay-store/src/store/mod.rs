//! The one implementation of [`Store`], over any [`Backend`]. Each area's SQL lives in its own
//! file; this file only routes each method into a read or a write transaction.

mod analytics;
mod deployments;
mod keys;
mod sign_in;
mod skills;
mod tenants;
mod usage;
mod users;

use relay_core::{
    ApiKey, ApiKeyHash, ApiKeyId, ApiKeySecret, Day, Deployment, Domain, Email, Event, EventBatch,
    NewDeployment, Rating, Role, Skill, SkillId, SkillSlug, SkillVersion, SkillVersionInfo, Stars,
    Tenant, TenantDomain, TenantId, TenantSlug, Timestamp, User, UserId,
};

use crate::sql::Backend;
use crate::{
    AuthCode, CodePurpose, DailyUsage, IngestOutcome, LoginFlow, NewSkillVersion, Principal,
    Published, Redemption, Result, SkillPage, SkillQuery, Store, WebSession, migrate,
};

pub(crate) struct SqlStore<B> {
    backend: B,
}

impl<B: Backend> SqlStore<B> {
    /// Wraps a backend after bringing its schema up to date.
    pub(crate) fn open(backend: B) -> Result<Self> {
        let version = backend.write(|conn| migrate::migrate(conn, Timestamp::now().as_millis()))?;
        tracing::debug!(backend = B::NAME, version, "database ready");
        Ok(Self { backend })
    }
}

impl<B: Backend> Store for SqlStore<B> {
    fn backend(&self) -> &'static str {
        B::NAME
    }

    fn ping(&self) -> Result<()> {
        self.backend
            .read(|conn| conn.query_one("SELECT 1", &[]).map(drop))
    }

    fn schema_version(&self) -> Result<i64> {
        self.backend
            .read(|conn| migrate::current_version(conn).map(Option::unwrap_or_default))
    }

    fn create_tenant(&self, slug: &TenantSlug, name: &str, domains: &[Domain]) -> Result<Tenant> {
        self.backend
            .write(|conn| tenants::create(conn, slug, name, domains))
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.backend.read(tenants::list)
    }

    fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        self.backend.read(|conn| tenants::by_slug(conn, slug))
    }

    fn tenant_by_id(&self, tenant: &TenantId) -> Result<Option<Tenant>> {
        self.backend.read(|conn| tenants::by_id(conn, tenant))
    }

    fn tenant_by_domain(&self, domain: &Domain) -> Result<Option<Tenant>> {
        self.backend.read(|conn| tenants::by_domain(conn, domain))
    }

    fn rename_tenant(&self, tenant: &TenantId, name: &str) -> Result<Tenant> {
        self.backend
            .write(|conn| tenants::rename(conn, tenant, name))
    }

    fn delete_tenant(&self, tenant: &TenantId) -> Result<()> {
        self.backend.write(|conn| tenants::delete(conn, tenant))
    }

    fn add_domain(&self, tenant: &TenantId, domain: &Domain) -> Result<TenantDomain> {
        self.backend
            .write(|conn| tenants::add_domain_to(conn, tenant, domain))
    }

    fn remove_domain(&self, tenant: &TenantId, domain: &Domain) -> Result<()> {
        self.backend
            .write(|conn| tenants::remove_domain(conn, tenant, domain))
    }

    fn list_domains(&self, tenant: &TenantId) -> Result<Vec<TenantDomain>> {
        self.backend
            .read(|conn| tenants::list_domains(conn, tenant))
    }

    fn create_user(&self, tenant: &TenantId, email: &Email, role: Role) -> Result<User> {
        self.backend
            .write(|conn| users::create(conn, tenant, email, role))
    }

    fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>> {
        self.backend.read(|conn| users::list(conn, tenant))
    }

    fn user_by_id(&self, tenant: &TenantId, user: &UserId) -> Result<Option<User>> {
        self.backend.read(|conn| users::by_id(conn, tenant, user))
    }

    fn user_by_email(&self, tenant: &TenantId, email: &Email) -> Result<Option<User>> {
        self.backend
            .read(|conn| users::by_email(conn, tenant, email))
    }

    fn set_user_role(&self, tenant: &TenantId, user: &UserId, role: Role) -> Result<User> {
        self.backend
            .write(|conn| users::set_role(conn, tenant, user, role))
    }

    fn set_user_disabled(&self, tenant: &TenantId, user: &UserId, disabled: bool) -> Result<User> {
        self.backend
            .write(|conn| users::set_disabled(conn, tenant, user, disabled))
    }

    fn update_user_guarded(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<User> {
        self.backend
            .write(|conn| users::update_guarded(conn, tenant, user, role, disabled))
    }

    fn tenant_requires_hd(&self, tenant: &TenantId) -> Result<bool> {
        self.backend.read(|conn| sign_in::requires_hd(conn, tenant))
    }

    fn set_tenant_requires_hd(&self, tenant: &TenantId, required: bool) -> Result<()> {
        self.backend
            .write(|conn| sign_in::set_requires_hd(conn, tenant, required))
    }

    fn provision_user(&self, tenant: &TenantId, email: &Email, subject: &str) -> Result<User> {
        self.backend
            .write(|conn| sign_in::provision(conn, tenant, email, subject))
    }

    fn start_login(&self, flow: &LoginFlow) -> Result<()> {
        self.backend.write(|conn| sign_in::start_login(conn, flow))
    }

    fn take_login(&self, state_hash: &str, now: Timestamp) -> Result<Option<LoginFlow>> {
        self.backend
            .write(|conn| sign_in::take_login(conn, state_hash, now))
    }

    fn issue_auth_code(&self, code: &AuthCode) -> Result<()> {
        self.backend.write(|conn| sign_in::issue_code(conn, code))
    }

    fn redeem_auth_code(
        &self,
        code_hash: &str,
        purpose: CodePurpose,
        now: Timestamp,
    ) -> Result<Redemption> {
        self.backend
            .write(|conn| sign_in::redeem_code(conn, code_hash, purpose, now))
    }

    fn create_web_session(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id_hash: &str,
        expires_at: Timestamp,
    ) -> Result<()> {
        self.backend
            .write(|conn| sign_in::create_session(conn, tenant, user, id_hash, expires_at))
    }

    fn web_session(&self, id_hash: &str, now: Timestamp) -> Result<Option<WebSession>> {
        self.backend
            .read(|conn| sign_in::session(conn, id_hash, now))
    }

    fn end_web_session(&self, id_hash: &str) -> Result<bool> {
        self.backend
            .write(|conn| sign_in::end_session(conn, id_hash))
    }

    fn create_api_key(
        &self,
        tenant: &TenantId,
        user: &UserId,
        name: &str,
        secret: &ApiKeySecret,
    ) -> Result<ApiKey> {
        self.backend
            .write(|conn| keys::create(conn, tenant, user, name, secret))
    }

    fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        self.backend.read(|conn| keys::list(conn, tenant))
    }

    fn revoke_api_key(&self, tenant: &TenantId, key: &ApiKeyId) -> Result<ApiKey> {
        self.backend.write(|conn| keys::revoke(conn, tenant, key))
    }

    fn authenticate(&self, hash: &ApiKeyHash) -> Result<Option<Principal>> {
        self.backend.read(|conn| keys::authenticate(conn, hash))
    }

    fn publish_skill(&self, tenant: &TenantId, new: &NewSkillVersion) -> Result<Published> {
        self.backend
            .write(|conn| skills::publish(conn, tenant, new))
    }

    fn list_skills(&self, tenant: &TenantId, query: &SkillQuery) -> Result<SkillPage> {
        self.backend.read(|conn| skills::list(conn, tenant, query))
    }

    fn skill_by_slug(&self, tenant: &TenantId, slug: &SkillSlug) -> Result<Option<Skill>> {
        self.backend
            .read(|conn| skills::by_slug(conn, tenant, slug))
    }

    fn skill_by_id(&self, tenant: &TenantId, skill: &SkillId) -> Result<Option<Skill>> {
        self.backend.read(|conn| skills::by_id(conn, tenant, skill))
    }

    fn list_skill_versions(
        &self,
        tenant: &TenantId,
        skill: &SkillId,
    ) -> Result<Vec<SkillVersionInfo>> {
        self.backend
            .read(|conn| skills::versions(conn, tenant, skill))
    }

    fn skill_version(
        &self,
        tenant: &TenantId,
        skill: &SkillId,
        version: Option<i64>,
    ) -> Result<Option<SkillVersion>> {
        self.backend
            .read(|conn| skills::version(conn, tenant, skill, version))
    }

    fn rate_skill(
        &self,
        tenant: &TenantId,
        skill: &SkillId,
        user: &UserId,
        stars: Stars,
        comment: Option<&str>,
    ) -> Result<Rating> {
        self.backend
            .write(|conn| skills::rate(conn, tenant, skill, user, stars, comment))
    }

    fn list_ratings(&self, tenant: &TenantId, skill: &SkillId) -> Result<Vec<Rating>> {
        self.backend
            .read(|conn| skills::ratings(conn, tenant, skill))
    }

    fn record_deployment(&self, tenant: &TenantId, new: &NewDeployment) -> Result<Deployment> {
        self.backend
            .write(|conn| deployments::record(conn, tenant, new))
    }

    fn list_deployments(&self, tenant: &TenantId) -> Result<Vec<Deployment>> {
        self.backend.read(|conn| deployments::list(conn, tenant))
    }

    fn record_events(&self, batches: &[EventBatch]) -> Result<Vec<IngestOutcome>> {
        self.backend.write(|conn| usage::record(conn, batches))
    }

    fn list_events(
        &self,
        tenant: &TenantId,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<Event>> {
        self.backend
            .read(|conn| usage::list(conn, tenant, from, to, limit))
    }

    fn analytics_summary(
        &self,
        tenant: &TenantId,
        scope: &crate::analytics::Scope,
        period: crate::analytics::Period,
    ) -> Result<crate::analytics::Summary> {
        self.backend
            .read(|conn| analytics::summary(conn, tenant, scope, period))
    }

    fn analytics_skills(
        &self,
        tenant: &TenantId,
        scope: &crate::analytics::Scope,
        period: crate::analytics::Period,
    ) -> Result<Vec<crate::analytics::SkillUsage>> {
        self.backend
            .read(|conn| analytics::skills(conn, tenant, scope, period))
    }

    fn analytics_users(
        &self,
        tenant: &TenantId,
        period: crate::analytics::Period,
    ) -> Result<Vec<crate::analytics::UserUsage>> {
        self.backend
            .read(|conn| analytics::users(conn, tenant, period))
    }

    fn analytics_timeseries(
        &self,
        tenant: &TenantId,
        scope: &crate::analytics::Scope,
        period: crate::analytics::Period,
        bucket: crate::analytics::Bucket,
    ) -> Result<Vec<crate::analytics::Point>> {
        self.backend
            .read(|conn| analytics::timeseries(conn, tenant, scope, period, bucket))
    }

    fn daily_usage(&self, tenant: &TenantId, from: Day, to: Day) -> Result<Vec<DailyUsage>> {
        self.backend
            .read(|conn| usage::daily(conn, tenant, from, to))
    }
}
