//! `GET /api/analytics/*` answers. With the `store` feature, built from relay-store's analytics
//! (trackd and relay-admin); relay-mcp only reads them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplianceJson {
    pub deployed_installs: i64,
    pub reporting_installs: i64,
    /// reporting / deployed; `null` when nothing is deployed.
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryJson {
    pub from: String,
    pub to: String,
    /// `tenant` (an admin's default) or `me`.
    pub scope: String,
    pub skill_sessions: i64,
    pub invocations: i64,
    pub tool_uses: i64,
    pub tool_failures: i64,
    pub active_users: i64,
    pub active_skills: i64,
    pub hours_saved: f64,
    pub fte_days_saved: f64,
    pub compliance: ComplianceJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillUsageJson {
    pub slug: String,
    pub name: String,
    pub skill_sessions: i64,
    pub invocations: i64,
    pub tool_uses: i64,
    pub users: i64,
    pub hours_saved: f64,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillsJson {
    pub from: String,
    pub to: String,
    pub scope: String,
    pub skills: Vec<SkillUsageJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserUsageJson {
    pub id: String,
    pub email: String,
    pub role: String,
    pub skill_sessions: i64,
    pub invocations: i64,
    pub tool_uses: i64,
    pub skills: i64,
    pub hours_saved: f64,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersJson {
    pub from: String,
    pub to: String,
    pub users: Vec<UserUsageJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointJson {
    pub start: String,
    pub skill_sessions: i64,
    pub tool_uses: i64,
    pub active_users: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesJson {
    pub from: String,
    pub to: String,
    pub scope: String,
    pub bucket: String,
    pub points: Vec<PointJson>,
}

/// Hours with at most two decimals, as people read them (and JSON keeps them).
pub fn round_hours(hours: f64) -> f64 {
    (hours * 100.0).round() / 100.0
}

#[cfg(feature = "store")]
mod from_store {
    use relay_store::analytics::{Point, Scope, SkillUsage, Summary, UserUsage};

    use super::*;

    fn scope_name(scope: &Scope) -> String {
        match scope {
            Scope::Tenant => "tenant",
            Scope::User(_) => "me",
        }
        .to_owned()
    }

    impl SummaryJson {
        pub fn new(summary: &Summary, scope: &Scope) -> Self {
            Self {
                from: summary.period.from.to_string(),
                to: summary.period.to.to_string(),
                scope: scope_name(scope),
                skill_sessions: summary.totals.skill_sessions,
                invocations: summary.totals.invocations,
                tool_uses: summary.totals.tool_uses,
                tool_failures: summary.totals.tool_failures,
                active_users: summary.active_users,
                active_skills: summary.active_skills,
                hours_saved: round_hours(summary.totals.hours_saved),
                fte_days_saved: round_hours(summary.totals.fte_days_saved()),
                compliance: ComplianceJson {
                    deployed_installs: summary.compliance.deployed_installs,
                    reporting_installs: summary.compliance.reporting_installs,
                    rate: summary
                        .compliance
                        .rate()
                        .map(|rate| (rate * 10_000.0).round() / 10_000.0),
                },
            }
        }
    }

    impl From<&SkillUsage> for SkillUsageJson {
        fn from(usage: &SkillUsage) -> Self {
            Self {
                slug: usage.slug.to_string(),
                name: usage.name.clone(),
                skill_sessions: usage.totals.skill_sessions,
                invocations: usage.totals.invocations,
                tool_uses: usage.totals.tool_uses,
                users: usage.users,
                hours_saved: round_hours(usage.totals.hours_saved),
                last_used_at: usage.last_used_at.map(|at| at.to_string()),
            }
        }
    }

    impl From<&UserUsage> for UserUsageJson {
        fn from(usage: &UserUsage) -> Self {
            Self {
                id: usage.user_id.to_string(),
                email: usage.email.clone(),
                role: usage.role.as_str().to_owned(),
                skill_sessions: usage.totals.skill_sessions,
                invocations: usage.totals.invocations,
                tool_uses: usage.totals.tool_uses,
                skills: usage.skills,
                hours_saved: round_hours(usage.totals.hours_saved),
                last_used_at: usage.last_used_at.map(|at| at.to_string()),
            }
        }
    }

    impl From<&Point> for PointJson {
        fn from(point: &Point) -> Self {
            Self {
                start: point.start.to_string(),
                skill_sessions: point.skill_sessions,
                tool_uses: point.tool_uses,
                active_users: point.active_users,
            }
        }
    }

    pub fn scope_label(scope: &Scope) -> String {
        scope_name(scope)
    }
}

#[cfg(feature = "store")]
pub use from_store::scope_label;
