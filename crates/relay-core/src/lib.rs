//! Relay's domain: the types every program shares and the rules that make a value valid.
//!
//! Nothing here does I/O. A value of a type from this crate has passed its validation, so code
//! further in (the store, the HTTP handlers) never checks a slug or a domain again.

mod apikey;
mod deployment;
mod error;
mod event;
mod id;
mod name;
mod skill;
mod tenant;
mod time;
mod user;

pub use apikey::{ApiKey, ApiKeyHash, ApiKeySecret};
pub use deployment::{DeployScope, Deployment, NewDeployment};
pub use error::ValidationError;
pub use event::{Event, EventBatch, EventId, EventKind, NewEvent};
pub use id::{ApiKeyId, DeploymentId, SkillId, TenantId, UserId};
pub use name::{Domain, Email, SkillSlug, TenantSlug};
pub use skill::{
    Category, HoursSaved, Rating, RatingSummary, Skill, SkillFile, SkillFilePath, SkillVersion,
    SkillVersionInfo, Stars, content_sha256,
};
pub use tenant::{Tenant, TenantDomain};
pub use time::{Day, Timestamp};
pub use user::{Role, User};
