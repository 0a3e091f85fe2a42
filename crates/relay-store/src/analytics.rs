//! What Relay's analytics count, defined once. Every figure is read from the daily rollup
//! (`usage_daily`), never from the raw events, and equals what the raw events say:
//!
//! - Only skill uses count: events of kind `invocation`, `tool_use` and `tool_failure`
//!   (`session_start` does not).
//! - A **skill session** is one (session, skill): the first proof that a skill was used in a
//!   Claude Code session. It is dated by, and belongs to the user of, its earliest use (by
//!   `occurred_at`; of equal times, the lowest user id), and counts in a period when that day
//!   is in it.
//! - **Invocations**, **tool uses** and **tool failures** count those events by the day they
//!   occurred.
//! - **Active users** and **active skills** are the distinct users and skills with at least one
//!   skill use in the period.
//! - **Hours saved** = skill sessions × the skill's `hours_saved` (its current value);
//!   **FTE days saved** = hours saved / 8.
//! - **Compliance**: of the deployed installs (deployments recorded by the end of the period),
//!   those whose user reported a use of that skill in the period. An install is known by its
//!   user and skill: events do not carry the install, so two machines of one person count as
//!   reporting when either does.
//!
//! Periods are whole UTC days, both ends included. A [`Scope`] of one user counts only that
//! user's uses (a member sees their own figures).

use relay_core::{Day, Role, SkillId, SkillSlug, Timestamp, UserId};

/// Whose use is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everyone in the tenant.
    Tenant,
    /// One person.
    User(UserId),
}

/// Days `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Day,
    pub to: Day,
}

impl Period {
    /// The longest period analytics answer for: about ten years of days.
    pub const MAX_DAYS: i64 = 3660;

    /// `from..=to`, or why not.
    pub fn new(from: Day, to: Day) -> Result<Self, relay_core::ValidationError> {
        if to < from {
            return Err(relay_core::ValidationError::new(
                "period",
                &format!("{from}..{to}"),
                "`from` must not be after `to`",
            ));
        }
        if from.days_until(to) >= Self::MAX_DAYS {
            return Err(relay_core::ValidationError::new(
                "period",
                &format!("{from}..{to}"),
                "ask for at most 3660 days at a time",
            ));
        }
        Ok(Self { from, to })
    }

    /// The period a query asks for: `from` and `to` as given, either defaulting from the other
    /// (`to`: today, or `from` if later; `from`: 29 days before `to`), both to the 30 days that
    /// end `today`.
    pub fn from_parts(
        from: Option<Day>,
        to: Option<Day>,
        today: Day,
    ) -> Result<Self, relay_core::ValidationError> {
        const DEFAULT_DAYS: i64 = 30;
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, today.max(from)),
            (None, Some(to)) => (to.plus_days(1 - DEFAULT_DAYS), to),
            (None, None) => (today.plus_days(1 - DEFAULT_DAYS), today),
        };
        Self::new(from, to)
    }

    /// The `days` days that end with `today`.
    pub fn last_days(today: Day, days: i64) -> Self {
        let days = days.clamp(1, Self::MAX_DAYS);
        Self {
            from: today.plus_days(1 - days),
            to: today,
        }
    }

    pub fn contains(&self, day: Day) -> bool {
        self.from <= day && day <= self.to
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compliance {
    pub deployed_installs: i64,
    pub reporting_installs: i64,
}

impl Compliance {
    /// reporting / deployed, or `None` when nothing is deployed.
    pub fn rate(&self) -> Option<f64> {
        (self.deployed_installs > 0)
            .then(|| self.reporting_installs as f64 / self.deployed_installs as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Totals {
    pub skill_sessions: i64,
    pub invocations: i64,
    pub tool_uses: i64,
    pub tool_failures: i64,
    pub hours_saved: f64,
}

impl Totals {
    pub fn fte_days_saved(&self) -> f64 {
        self.hours_saved / 8.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub period: Period,
    pub totals: Totals,
    pub active_users: i64,
    pub active_skills: i64,
    pub compliance: Compliance,
}

/// One skill's use in a period (every skill of the tenant, used or not).
#[derive(Debug, Clone, PartialEq)]
pub struct SkillUsage {
    pub skill_id: SkillId,
    pub slug: SkillSlug,
    pub name: String,
    pub totals: Totals,
    pub users: i64,
    pub last_used_at: Option<Timestamp>,
}

/// One person's use in a period (every user of the tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct UserUsage {
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub totals: Totals,
    pub skills: i64,
    pub last_used_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }

    /// The start of the bucket `day` falls in.
    pub fn start_of(self, day: Day) -> Day {
        match self {
            Bucket::Day => day,
            Bucket::Week => day.week_start(),
        }
    }

    /// Every bucket start that overlaps the period, in order.
    pub fn starts(self, period: Period) -> Vec<Day> {
        let step = match self {
            Bucket::Day => 1,
            Bucket::Week => 7,
        };
        let mut starts = Vec::new();
        let mut start = self.start_of(period.from);
        while start <= period.to {
            starts.push(start);
            start = start.plus_days(step);
        }
        starts
    }
}

impl std::str::FromStr for Bucket {
    type Err = relay_core::ValidationError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "day" => Ok(Bucket::Day),
            "week" => Ok(Bucket::Week),
            _ => Err(relay_core::ValidationError::new(
                "bucket",
                value,
                "use day or week",
            )),
        }
    }
}

/// One bucket of a time series; every bucket of the period is there, empty ones with zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub start: Day,
    pub skill_sessions: i64,
    pub tool_uses: i64,
    pub active_users: i64,
}
