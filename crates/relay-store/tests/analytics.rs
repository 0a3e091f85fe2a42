//! Analytics read the daily rollup; here random event streams for several tenants, sent in
//! random batches and orders (resends included), prove that every answer equals the same figure
//! recomputed from the raw events, and that no tenant's figures move when another's events
//! arrive.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use relay_core::{
    DeployScope, Domain, EventBatch, EventId, EventKind, HoursSaved, NewDeployment, NewEvent, Role,
    SkillId, TenantId, TenantSlug, Timestamp, UserId,
};
use relay_store::Store;
use relay_store::analytics::{Bucket, Period, Point, Scope, Summary, Totals};

use crate::story::{email, new_version};

const TENANTS: usize = 3;
const USERS: usize = 3;
const SKILLS: usize = 3;
/// Events fall on the last `DAYS` days, today included (deployments are made today).
const DAYS: i64 = 10;
const HOURS: [&str; SKILLS] = ["0.5", "1.25", "0"];

#[derive(Debug, Clone)]
struct Gen {
    tenant: usize,
    user: usize,
    skill: usize,
    session: u8,
    /// A session id another person also uses (tests the person a session is counted for).
    shared: bool,
    tool_use: u8,
    kind: EventKind,
    day: i64,
    /// Whole hours, so that uses of one session at the same time happen.
    hour: i64,
}

fn event() -> impl Strategy<Value = Gen> {
    (
        0..TENANTS,
        0..USERS,
        0..SKILLS,
        0..3u8,
        0..6u8,
        prop::sample::select(vec![
            EventKind::Invocation,
            EventKind::ToolUse,
            EventKind::ToolUse,
            EventKind::ToolFailure,
            EventKind::SessionStart,
        ]),
        0..DAYS,
        0..24i64,
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(tenant, user, skill, session, tool_use, kind, day, hour, shared)| Gen {
                tenant,
                user,
                skill,
                session,
                shared,
                tool_use,
                kind,
                day,
                hour,
            },
        )
}

struct World {
    tenants: Vec<TenantId>,
    users: Vec<Vec<UserId>>,
    skills: Vec<Vec<SkillId>>,
    today: relay_core::Day,
}

fn world(store: &dyn Store, run: usize, deployments: &[(usize, usize, usize, u8)]) -> World {
    let mut world = World {
        tenants: Vec::new(),
        users: Vec::new(),
        skills: Vec::new(),
        today: Timestamp::now().day(),
    };
    for t in 0..TENANTS {
        let slug = TenantSlug::parse(&format!("a{t}-{run}")).unwrap();
        let domain = Domain::parse(&format!("a{t}-{run}.example.com")).unwrap();
        let tenant = store.create_tenant(&slug, "Tenant", &[domain]).unwrap();
        let users: Vec<UserId> = (0..USERS)
            .map(|u| {
                let role = if u == 0 { Role::Admin } else { Role::Member };
                store
                    .create_user(&tenant.id, &email(&format!("u{u}@example.com")), role)
                    .unwrap()
                    .id
            })
            .collect();
        let skills: Vec<SkillId> = (0..SKILLS)
            .map(|s| {
                let mut version = new_version(&format!("skill-{s}"), "work", None);
                version.hours_saved = Some(HoursSaved::parse(HOURS[s]).unwrap());
                store.publish_skill(&tenant.id, &version).unwrap().skill.id
            })
            .collect();
        world.tenants.push(tenant.id);
        world.users.push(users);
        world.skills.push(skills);
    }
    for &(t, u, s, install) in deployments {
        store
            .record_deployment(
                &world.tenants[t],
                &NewDeployment {
                    skill_id: world.skills[t][s].clone(),
                    user_id: world.users[t][u].clone(),
                    version: 1,
                    scope: DeployScope::Project,
                    install_id: format!("install-{install}"),
                    hooks_version: 1,
                },
            )
            .unwrap();
    }
    world
}

impl World {
    fn batch(&self, generated: &[Gen]) -> Vec<EventBatch> {
        generated
            .iter()
            .map(|g| {
                let skill = &self.skills[g.tenant][g.skill];
                let session = if g.shared {
                    format!("shared-{}", g.session)
                } else {
                    format!("s-{}-{}", g.user, g.session)
                };
                let tool_use = format!("t{}", g.tool_use);
                let day = self.today.plus_days(g.day - (DAYS - 1));
                EventBatch {
                    tenant_id: self.tenants[g.tenant].clone(),
                    user_id: self.users[g.tenant][g.user].clone(),
                    events: vec![NewEvent {
                        // Repeats of (session, tool use, kind, skill) are resends.
                        event_id: EventId::derive(&session, &tool_use, g.kind, skill),
                        skill_id: skill.clone(),
                        kind: g.kind,
                        session_id: Some(session),
                        tool_name: Some("Bash".into()),
                        tool_use_id: Some(tool_use),
                        invoked_skill: None,
                        duration_ms: None,
                        occurred_at: Timestamp::from_millis(
                            day.start().as_millis() + g.hour * 3_600_000,
                        ),
                        source: Some("hook".into()),
                        client: None,
                    }],
                }
            })
            .collect()
    }
}

/// The figures, recomputed from the raw events and the deployments (the definitions of
/// `relay_store::analytics`, written again without the rollup).
struct Raw {
    /// (skill, user, occurred_at, kind) of every stored skill use.
    uses: Vec<(SkillId, UserId, Timestamp, EventKind)>,
    /// Per (skill, session): the earliest use's time and user (of equal times, the lowest user
    /// id), whatever order the uses arrived in.
    sessions: Vec<(SkillId, UserId, Timestamp)>,
    hours: BTreeMap<SkillId, f64>,
    deployments: Vec<(SkillId, UserId)>,
}

fn raw(store: &dyn Store, world: &World, t: usize) -> Raw {
    let tenant = &world.tenants[t];
    let events = store
        .list_events(
            tenant,
            Timestamp::from_millis(0),
            Timestamp::from_millis(i64::MAX / 2),
            1_000_000,
        )
        .unwrap();
    let mut uses = Vec::new();
    let mut first: BTreeMap<(SkillId, String), (Timestamp, UserId)> = BTreeMap::new();
    for stored in events {
        let event = &stored.event;
        if !event.kind.marks_skill_use() {
            continue;
        }
        uses.push((
            event.skill_id.clone(),
            stored.user_id.clone(),
            event.occurred_at,
            event.kind,
        ));
        if let Some(session) = &event.session_id {
            let slot = first
                .entry((event.skill_id.clone(), session.clone()))
                .or_insert((event.occurred_at, stored.user_id.clone()));
            if (event.occurred_at, stored.user_id.as_str()) < (slot.0, slot.1.as_str()) {
                *slot = (event.occurred_at, stored.user_id.clone());
            }
        }
    }
    let hours = world.skills[t]
        .iter()
        .zip(HOURS)
        .map(|(id, hours)| (id.clone(), hours.parse::<f64>().unwrap()))
        .collect();
    Raw {
        uses,
        sessions: first
            .into_iter()
            .map(|((skill, _), (at, user))| (skill, user, at))
            .collect(),
        hours,
        deployments: store
            .list_deployments(tenant)
            .unwrap()
            .into_iter()
            .map(|d| (d.skill_id, d.user_id))
            .collect(),
    }
}

impl Raw {
    fn totals(&self, period: Period, keep: impl Fn(&SkillId, &UserId) -> bool) -> Totals {
        let mut totals = Totals::default();
        for (skill, user, at) in &self.sessions {
            if period.contains(at.day()) && keep(skill, user) {
                totals.skill_sessions += 1;
                totals.hours_saved += self.hours[skill];
            }
        }
        for (skill, user, at, kind) in &self.uses {
            if period.contains(at.day()) && keep(skill, user) {
                match kind {
                    EventKind::Invocation => totals.invocations += 1,
                    EventKind::ToolUse => totals.tool_uses += 1,
                    EventKind::ToolFailure => totals.tool_failures += 1,
                    _ => {}
                }
            }
        }
        totals
    }

    fn summary(&self, period: Period, scope: &Scope) -> Summary {
        let mine = |user: &UserId| match scope {
            Scope::Tenant => true,
            Scope::User(me) => me == user,
        };
        let active = self
            .uses
            .iter()
            .filter(|(_, user, at, _)| period.contains(at.day()) && mine(user));
        let active_users: BTreeSet<_> = active.clone().map(|(_, user, _, _)| user).collect();
        let active_skills: BTreeSet<_> = active.map(|(skill, _, _, _)| skill).collect();
        let deployed: Vec<_> = self
            .deployments
            .iter()
            .filter(|(_, user)| mine(user))
            .collect();
        // Deployments are made today: they count for periods that reach today.
        let today = Timestamp::now().day();
        let deployed: Vec<_> = if period.to >= today {
            deployed
        } else {
            Vec::new()
        };
        let reporting = deployed
            .iter()
            .filter(|(skill, user)| {
                self.uses
                    .iter()
                    .any(|(s, u, at, _)| s == skill && u == user && period.contains(at.day()))
            })
            .count();
        Summary {
            period,
            totals: self.totals(period, |_, user| mine(user)),
            active_users: active_users.len() as i64,
            active_skills: active_skills.len() as i64,
            compliance: relay_store::analytics::Compliance {
                deployed_installs: deployed.len() as i64,
                reporting_installs: reporting as i64,
            },
        }
    }

    fn timeseries(&self, period: Period, scope: &Scope, bucket: Bucket) -> Vec<Point> {
        let mine = |user: &UserId| match scope {
            Scope::Tenant => true,
            Scope::User(me) => me == user,
        };
        bucket
            .starts(period)
            .into_iter()
            .map(|start| {
                // The bucket's days that are in the period.
                let in_bucket = |at: &Timestamp| {
                    let day = at.day();
                    period.contains(day) && bucket.start_of(day) == start
                };
                let skill_sessions = self
                    .sessions
                    .iter()
                    .filter(|(_, user, at)| in_bucket(at) && mine(user))
                    .count() as i64;
                let uses = self
                    .uses
                    .iter()
                    .filter(|(_, user, at, _)| in_bucket(at) && mine(user));
                Point {
                    start,
                    skill_sessions,
                    tool_uses: uses
                        .clone()
                        .filter(|(_, _, _, kind)| *kind == EventKind::ToolUse)
                        .count() as i64,
                    active_users: uses
                        .map(|(_, user, _, _)| user)
                        .collect::<BTreeSet<_>>()
                        .len() as i64,
                }
            })
            .collect()
    }
}

fn same_totals(stored: &Totals, raw: &Totals, context: &str) {
    let mut stored = stored.clone();
    assert!(
        (stored.hours_saved - raw.hours_saved).abs() < 1e-9,
        "{context}: hours {stored:?} vs {raw:?}"
    );
    stored.hours_saved = raw.hours_saved;
    assert_eq!(&stored, raw, "{context}");
}

/// Every answer of one tenant, as the store gives it (hours rounded for comparison).
fn answers(store: &dyn Store, world: &World, t: usize) -> String {
    let tenant = &world.tenants[t];
    let mut out = String::new();
    for (from, to) in periods(world) {
        let period = Period::new(from, to).unwrap();
        for scope in scopes(world, t) {
            out.push_str(&format!(
                "{:?}\n{:?}\n",
                store.analytics_summary(tenant, &scope, period).unwrap(),
                store
                    .analytics_timeseries(tenant, &scope, period, Bucket::Week)
                    .unwrap()
            ));
        }
    }
    out
}

fn periods(world: &World) -> Vec<(relay_core::Day, relay_core::Day)> {
    let day = |n: i64| world.today.plus_days(n - (DAYS - 1));
    vec![
        (day(0), day(DAYS - 1)),
        (day(3), day(3)),
        (day(2), day(6)),
        (day(-5), day(1)),
        (day(5), day(DAYS + 3)),
    ]
}

fn scopes(world: &World, t: usize) -> Vec<Scope> {
    std::iter::once(Scope::Tenant)
        .chain(world.users[t].iter().cloned().map(Scope::User))
        .collect()
}

fn check(store: &dyn Store, world: &World, t: usize) {
    let tenant = &world.tenants[t];
    let raw = raw(store, world, t);
    for (from, to) in periods(world) {
        let period = Period::new(from, to).unwrap();
        for scope in scopes(world, t) {
            let context = format!("tenant {t}, {from}..{to}, {scope:?}");
            let stored = store.analytics_summary(tenant, &scope, period).unwrap();
            let expected = raw.summary(period, &scope);
            same_totals(&stored.totals, &expected.totals, &context);
            assert_eq!(
                (stored.active_users, stored.active_skills, stored.compliance),
                (
                    expected.active_users,
                    expected.active_skills,
                    expected.compliance
                ),
                "{context}"
            );
            for bucket in [Bucket::Day, Bucket::Week] {
                assert_eq!(
                    store
                        .analytics_timeseries(tenant, &scope, period, bucket)
                        .unwrap(),
                    raw.timeseries(period, &scope, bucket),
                    "{context} by {bucket:?}"
                );
            }
            let mine = |user: &UserId| match &scope {
                Scope::Tenant => true,
                Scope::User(me) => me == user,
            };
            let skills = store.analytics_skills(tenant, &scope, period).unwrap();
            assert_eq!(skills.len(), SKILLS, "every skill, used or not");
            for usage in &skills {
                let expected =
                    raw.totals(period, |skill, user| skill == &usage.skill_id && mine(user));
                same_totals(
                    &usage.totals,
                    &expected,
                    &format!("{context} {}", usage.slug),
                );
                let users: BTreeSet<_> = raw
                    .uses
                    .iter()
                    .filter(|(s, u, at, _)| {
                        s == &usage.skill_id && mine(u) && period.contains(at.day())
                    })
                    .map(|(_, u, _, _)| u)
                    .collect();
                assert_eq!(usage.users, users.len() as i64, "{context}");
                let last = raw
                    .uses
                    .iter()
                    .filter(|(s, u, at, _)| {
                        s == &usage.skill_id && mine(u) && period.contains(at.day())
                    })
                    .map(|(_, _, at, _)| *at)
                    .max();
                assert_eq!(usage.last_used_at, last, "{context}");
            }
            let sessions: Vec<i64> = skills.iter().map(|s| s.totals.skill_sessions).collect();
            assert!(sessions.windows(2).all(|w| w[0] >= w[1]), "most used first");
        }
        let users = store.analytics_users(tenant, period).unwrap();
        assert_eq!(users.len(), USERS);
        for usage in &users {
            let expected = raw.totals(period, |_, user| user == &usage.user_id);
            same_totals(&usage.totals, &expected, &format!("user {}", usage.email));
            let used = raw
                .uses
                .iter()
                .filter(|(_, u, at, _)| u == &usage.user_id && period.contains(at.day()));
            let skills: BTreeSet<_> = used.clone().map(|(s, _, _, _)| s).collect();
            assert_eq!(usage.skills, skills.len() as i64, "user {}", usage.email);
            assert_eq!(
                usage.last_used_at,
                used.map(|(_, _, at, _)| *at).max(),
                "user {}",
                usage.email
            );
        }
    }
}

fn run(
    store: &dyn Store,
    run: usize,
    first: &[Gen],
    then: &[Gen],
    deployments: &[(usize, usize, usize, u8)],
) {
    let world = world(store, run, deployments);
    // In batches of up to 7, twice over for the first half (resends), in the given order.
    for chunk in world.batch(first).chunks(7) {
        store.record_events(chunk).unwrap();
    }
    for chunk in world.batch(first).chunks(5) {
        store.record_events(chunk).unwrap();
    }
    for t in 0..TENANTS {
        check(store, &world, t);
    }
    // Tenant 0's answers stand still while only the others get events.
    let before = answers(store, &world, 0);
    let others: Vec<Gen> = then.iter().filter(|g| g.tenant != 0).cloned().collect();
    for chunk in world.batch(&others).chunks(4) {
        store.record_events(chunk).unwrap();
    }
    assert_eq!(answers(store, &world, 0), before, "tenant 0 moved");
    for t in 0..TENANTS {
        check(store, &world, t);
    }
}

fn deployment() -> impl Strategy<Value = (usize, usize, usize, u8)> {
    (0..TENANTS, 0..USERS, 0..SKILLS, 0..2u8)
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn sqlite_rollup_answers_equal_the_raw_events(
        first in prop::collection::vec(event(), 1..80),
        then in prop::collection::vec(event(), 0..40),
        deployments in prop::collection::vec(deployment(), 0..8),
    ) {
        thread_local!(static DB: crate::support::TestDb = crate::support::sqlite());
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DB.with(|db| run(&*db.store, n, &first, &then, &deployments));
    }

    #[test]
    fn postgres_rollup_answers_equal_the_raw_events(
        first in prop::collection::vec(event(), 1..80),
        then in prop::collection::vec(event(), 0..40),
        deployments in prop::collection::vec(deployment(), 0..8),
    ) {
        thread_local!(static DB: Option<crate::support::TestDb> = crate::support::postgres());
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DB.with(|db| if let Some(db) = db { run(&*db.store, n, &first, &then, &deployments) });
    }
}

/// Two people's uses of one session at the same moment: the session is the lower user id's,
/// whichever arrived first (the raw events cannot say which did).
fn ties_go_to_the_lowest_user_id(store: &dyn Store) {
    let world = world(store, 9_000, &[]);
    let (low, high) = {
        let (a, b) = (&world.users[0][1], &world.users[0][2]);
        if a.as_str() < b.as_str() {
            (a, b)
        } else {
            (b, a)
        }
    };
    let at = Timestamp::from_millis(world.today.start().as_millis() + 3_600_000);
    let event = |tool_use: &str| NewEvent {
        event_id: EventId::random(),
        skill_id: world.skills[0][0].clone(),
        kind: EventKind::ToolUse,
        session_id: Some("together".into()),
        tool_name: Some("Bash".into()),
        tool_use_id: Some(tool_use.into()),
        invoked_skill: None,
        duration_ms: None,
        occurred_at: at,
        source: None,
        client: None,
    };
    for (user, tool_use) in [(high, "t1"), (low, "t2")] {
        store
            .record_events(&[EventBatch {
                tenant_id: world.tenants[0].clone(),
                user_id: user.clone(),
                events: vec![event(tool_use)],
            }])
            .unwrap();
    }
    let period = Period::new(world.today, world.today).unwrap();
    let sessions_of = |user: &UserId| {
        store
            .analytics_summary(&world.tenants[0], &Scope::User(user.clone()), period)
            .unwrap()
            .totals
            .skill_sessions
    };
    assert_eq!((sessions_of(low), sessions_of(high)), (1, 0));
}

#[test]
fn sqlite_ties_go_to_the_lowest_user_id() {
    let db = crate::support::sqlite();
    ties_go_to_the_lowest_user_id(&*db.store);
}

#[test]
fn postgres_ties_go_to_the_lowest_user_id() {
    if let Some(db) = crate::support::postgres() {
        ties_go_to_the_lowest_user_id(&*db.store);
    }
}
