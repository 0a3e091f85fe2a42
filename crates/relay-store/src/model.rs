//! What goes into and comes out of the store beyond the domain types themselves.

use relay_core::{
    ApiKey, Category, Day, HoursSaved, Skill, SkillFile, SkillId, SkillSlug, Tenant, TenantId,
    Timestamp, User, UserId,
};

/// A version to publish. The slug decides whether it is a new skill or a new version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSkillVersion {
    pub slug: SkillSlug,
    pub name: String,
    pub description: String,
    /// `None` keeps the skill's category (or leaves a new skill without one).
    pub category: Option<Category>,
    /// `None` keeps the skill's value (or 0 for a new skill).
    pub hours_saved: Option<HoursSaved>,
    pub skill_md: String,
    pub files: Vec<SkillFile>,
    pub author: Option<UserId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// A new skill, at version 1.
    Created,
    /// A new version of an existing skill.
    NewVersion,
    /// The content equals the latest version's: nothing was written.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub skill: Skill,
    pub version: i64,
    pub sha256: String,
    pub outcome: PublishOutcome,
}

/// A page of the catalogue, ordered by slug.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkillQuery {
    /// Matched case-insensitively against slug, name and description.
    pub text: Option<String>,
    pub category: Option<Category>,
    /// At most this many (1–200; 0 means the default of 50).
    pub limit: usize,
    /// Start after this slug (the previous page's `next`).
    pub after: Option<SkillSlug>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SkillPage {
    pub skills: Vec<Skill>,
    /// The cursor for the next page, when there is one.
    pub next: Option<SkillSlug>,
}

/// A key that authenticated, with its owner and tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub key: ApiKey,
    pub user: User,
    pub tenant: Tenant,
}

/// What became of one [`relay_core::EventBatch`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestOutcome {
    /// Newly stored.
    pub accepted: usize,
    /// Already stored earlier (same tenant and event id): not stored again.
    pub duplicates: usize,
    /// Refused, by their index in the batch.
    pub rejected: Vec<RejectedEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectedEvent {
    pub index: usize,
    pub reason: RejectReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The skill id names no skill of the batch's tenant.
    UnknownSkill,
    /// A slash-command invocation that names another skill than the one it is reported for.
    OtherSkill,
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::UnknownSkill => "unknown_skill",
            RejectReason::OtherSkill => "other_skill",
        }
    }
}

/// One row of the daily rollup: one user's use of one skill on one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyUsage {
    pub day: Day,
    pub skill_id: SkillId,
    pub user_id: UserId,
    pub skill_sessions: i64,
    pub invocations: i64,
    pub tool_uses: i64,
    pub tool_failures: i64,
    pub last_event_at: Timestamp,
}

/// A sign-in between `/auth/login` and `/auth/callback`. Secrets are kept as SHA-256 hashes
/// where the store only has to recognise them (`state`, the browser binding).
#[derive(Debug, Clone, PartialEq)]
pub struct LoginFlow {
    /// SHA-256 (hex) of the `state` sent to the provider; the flow's key.
    pub state_hash: String,
    /// The tenant whose host the sign-in started on, if any.
    pub tenant: Option<TenantId>,
    /// SHA-256 (hex) of the random value in the browser's sign-in cookie.
    pub browser_hash: String,
    /// For a browser sign-in: SHA-256 (hex) of the random value in its cookie on the tenant
    /// host, which the session hand-off there must present.
    pub handoff_hash: Option<String>,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// trackd's own PKCE verifier towards the provider.
    pub pkce_verifier: String,
    /// Set when a CLI started the sign-in and waits on its loopback.
    pub cli: Option<CliLogin>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// The CLI side of a sign-in: where to send its one-time code, and the PKCE challenge that code
/// must be redeemed with.
#[derive(Debug, Clone, PartialEq)]
pub struct CliLogin {
    pub redirect_uri: String,
    pub state: String,
    /// base64url(SHA-256(verifier)), the S256 method.
    pub code_challenge: String,
}

/// What a one-time code may be redeemed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// An API key at `POST /auth/token`, with the PKCE verifier.
    Cli,
    /// A dashboard session on the tenant host.
    Web,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Cli => "cli",
            CodePurpose::Web => "web",
        }
    }
}

/// A one-time code: single use, short-lived, stored as its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthCode {
    pub code_hash: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub purpose: CodePurpose,
    pub code_challenge: Option<String>,
    pub redirect_uri: Option<String>,
    /// For a browser hand-off: the hash its tenant-host cookie must match.
    pub handoff_hash: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What redeeming a one-time code came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Redemption {
    /// First use within its lifetime: the code is now spent.
    Redeemed(AuthCode),
    /// The code was redeemed before: a replay.
    AlreadyUsed,
    Expired,
    /// No such code (for this purpose).
    Unknown,
}

/// A signed-in browser: its user and tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSession {
    pub user: User,
    pub tenant: Tenant,
    pub expires_at: Timestamp,
}
