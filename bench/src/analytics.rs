//! `cargo run --release -p relay-bench -- analytics`: seeds a tenant with millions of events
//! through the store's own ingest (so the rollup is the one trackd keeps), then times the
//! analytics answers, which read the rollup only.
//!
//! The data: 1,000 people, 100 skills, a year of days; sessions of 20 events (an invocation,
//! tool uses, now and then a failure) for a person and a skill, people and skills chosen with a
//! skew (a few skills and people do most of the work), 2,000 deployed installs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_core::{
    DeployScope, Email, EventBatch, EventId, EventKind, HoursSaved, NewDeployment, NewEvent, Role,
    SkillId, TenantId, TenantSlug, Timestamp, UserId,
};
use relay_store::analytics::{Bucket, Period, Scope};
use relay_store::{NewSkillVersion, Store};

const USERS: usize = 1000;
const SKILLS: usize = 100;
const DAYS: i64 = 365;
const EVENTS_PER_SESSION: usize = 20;
const SESSIONS_PER_CALL: usize = 250;

/// A small, fast, deterministic generator (xorshift64*): the same data on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Skewed towards 0: the square of a uniform draw.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u) * n as f64) as usize % n
    }
}

struct Seeded {
    tenant: TenantId,
    users: Vec<UserId>,
}

fn seed(store: &Arc<dyn Store>, events: usize) -> anyhow::Result<Seeded> {
    let tenant = store.create_tenant(&TenantSlug::parse("bench")?, "Bench", &[])?;
    let mut users = Vec::with_capacity(USERS);
    for n in 0..USERS {
        let role = if n == 0 { Role::Admin } else { Role::Member };
        users.push(
            store
                .create_user(
                    &tenant.id,
                    &Email::parse(&format!("p{n}@bench.example"))?,
                    role,
                )?
                .id,
        );
    }
    let mut skills: Vec<SkillId> = Vec::with_capacity(SKILLS);
    for n in 0..SKILLS {
        let hours = format!("{}", (n % 8) as f64 * 0.25 + 0.25);
        let new = NewSkillVersion {
            slug: format!("skill-{n}").parse()?,
            name: format!("Skill {n}"),
            description: format!("Benchmark skill {n}"),
            category: None,
            hours_saved: Some(HoursSaved::parse(&hours)?),
            skill_md: format!(
                "---\nname: skill-{n}\ndescription: Benchmark skill {n}\n---\n# Skill {n}\n"
            ),
            files: Vec::new(),
            author: None,
        };
        skills.push(store.publish_skill(&tenant.id, &new)?.skill.id);
    }
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for n in 0..2000 {
        store.record_deployment(
            &tenant.id,
            &NewDeployment {
                skill_id: skills[rng.skewed(SKILLS)].clone(),
                user_id: users[rng.below(USERS)].clone(),
                version: 1,
                scope: DeployScope::Project,
                install_id: format!("install-{n}"),
                hooks_version: 1,
            },
        )?;
    }

    let today = Timestamp::now().day();
    let sessions = events.div_ceil(EVENTS_PER_SESSION);
    let started = Instant::now();
    let mut sent = 0usize;
    let mut session = 0usize;
    while session < sessions {
        let mut batches = Vec::with_capacity(SESSIONS_PER_CALL);
        for _ in 0..SESSIONS_PER_CALL.min(sessions - session) {
            let user = users[rng.skewed(USERS)].clone();
            let skill = &skills[rng.skewed(SKILLS)];
            let day = today.plus_days(-(rng.below(DAYS as usize) as i64));
            let start = day.start().as_millis() + (rng.below(20 * 3600) as i64) * 1000;
            let id = format!("bench-{session}");
            let events: Vec<NewEvent> = (0..EVENTS_PER_SESSION)
                .map(|n| {
                    let kind = match n {
                        0 => EventKind::Invocation,
                        n if n % 9 == 0 => EventKind::ToolFailure,
                        _ => EventKind::ToolUse,
                    };
                    let tool_use = format!("t{n}");
                    NewEvent {
                        event_id: EventId::derive(&id, &tool_use, kind, skill),
                        skill_id: skill.clone(),
                        kind,
                        session_id: Some(id.clone()),
                        tool_name: Some(if n == 0 { "Skill" } else { "Bash" }.into()),
                        tool_use_id: Some(tool_use),
                        invoked_skill: None,
                        duration_ms: Some(40),
                        occurred_at: Timestamp::from_millis(start + n as i64 * 30_000),
                        source: Some("hook".into()),
                        client: Some("relay-bench".into()),
                    }
                })
                .collect();
            sent += events.len();
            batches.push(EventBatch {
                tenant_id: tenant.id.clone(),
                user_id: user,
                events,
            });
            session += 1;
        }
        store.record_events(&batches)?;
        if session % 50_000 < SESSIONS_PER_CALL {
            eprint!(
                "\r  seeded {sent} events ({:.0}/s)   ",
                sent as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let took = started.elapsed();
    eprintln!();
    println!(
        "  seeded {sent} events in {:.0} s ({:.0} events/s, through the store's ingest)",
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64()
    );
    Ok(Seeded {
        tenant: tenant.id,
        users,
    })
}

/// One analytics call, timed again and again.
type Query<'a> = Box<dyn FnMut() -> anyhow::Result<()> + 'a>;

/// Median and p95 of `runs` calls.
fn time(
    runs: usize,
    mut call: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(Duration, Duration)> {
    call()?; // warm the caches once
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call()?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times[runs / 2], times[(runs * 95 / 100).min(runs - 1)]))
}

fn measure(name: &str, store: &Arc<dyn Store>, seeded: &Seeded) -> anyhow::Result<()> {
    let today = Timestamp::now().day();
    let month = Period::last_days(today, 30);
    let year = Period::new(today.plus_days(-(DAYS - 1)), today)?;
    let tenant = &seeded.tenant;
    let busiest = Scope::User(seeded.users[0].clone());
    let summary = store.analytics_summary(tenant, &Scope::Tenant, year)?;
    println!(
        "  the year holds {} skill sessions, {} tool uses, {} people, {:.0} hours saved",
        summary.totals.skill_sessions,
        summary.totals.tool_uses,
        summary.active_users,
        summary.totals.hours_saved
    );
    println!("\n  | {name} | median | p95 |\n  |---|---:|---:|");
    let rows: Vec<(&str, Query<'_>)> = vec![
        (
            "summary, tenant, last 30 days (the default)",
            Box::new(|| {
                store
                    .analytics_summary(tenant, &Scope::Tenant, month)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "summary, tenant, a year",
            Box::new(|| {
                store
                    .analytics_summary(tenant, &Scope::Tenant, year)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "summary, one person, a year",
            Box::new(|| {
                store
                    .analytics_summary(tenant, &busiest, year)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "skills, tenant, last 30 days",
            Box::new(|| {
                store
                    .analytics_skills(tenant, &Scope::Tenant, month)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "users, last 30 days",
            Box::new(|| {
                store
                    .analytics_users(tenant, month)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "timeseries by day, last 30 days",
            Box::new(|| {
                store
                    .analytics_timeseries(tenant, &Scope::Tenant, month, Bucket::Day)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "timeseries by week, a year",
            Box::new(|| {
                store
                    .analytics_timeseries(tenant, &Scope::Tenant, year, Bucket::Week)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
    ];
    for (what, mut call) in rows {
        let (median, p95) = time(15, &mut call)?;
        println!(
            "  | {what} | {:.1} ms | {:.1} ms |",
            median.as_secs_f64() * 1000.0,
            p95.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

pub fn run(events: usize, postgres: Option<&str>) -> anyhow::Result<()> {
    println!(
        "relay-bench analytics: {events} events, {USERS} people, {SKILLS} skills, {DAYS} days, {} cores, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        Timestamp::now().day()
    );
    let sqlite = relay_testkit::TestDatabase::sqlite();
    println!("\nSQLite");
    let store = relay_store::open(&relay_store::DatabaseUrl::parse(&sqlite.url)?)?;
    let seeded = seed(&store, events)?;
    measure("SQLite", &store, &seeded)?;
    drop(store);
    if let Some(url) = postgres {
        let database = relay_testkit::TestDatabase::postgres_on(url);
        println!("\nPostgreSQL");
        let store = relay_store::open(&relay_store::DatabaseUrl::parse(&database.url)?)?;
        let seeded = seed(&store, events)?;
        // What autovacuum does on its own a little later: planner statistics for the new rows.
        postgres::Client::connect(&database.url, postgres::NoTls)?.batch_execute("ANALYZE")?;
        measure("PostgreSQL", &store, &seeded)?;
    } else {
        println!("\n(no --postgres URL or RELAY_TEST_DATABASE_URL: PostgreSQL skipped)");
    }
    Ok(())
}
