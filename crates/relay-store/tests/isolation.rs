//! Tenant isolation, attacked by generated data: several tenants get users with the same emails,
//! skills with the same slugs, events with the same ids; then every read of every tenant is
//! compared with a model of that tenant alone, and every id of another tenant is tried.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use relay_core::{
    ApiKeySecret, DeployScope, Domain, EventBatch, EventId, EventKind, NewDeployment, Role,
    SkillId, Stars, TenantId, TenantSlug, UserId,
};
use relay_store::{SkillQuery, Store, StoreError};

use crate::story::{email, hook_event, new_version, skill_slug};

const EMAILS: [&str; 3] = ["alice@shared.com", "bob@shared.com", "carol@shared.com"];
const SLUGS: [&str; 3] = ["review", "deploy", "lint"];
const TENANTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    AddUser {
        tenant: usize,
        email: usize,
        admin: bool,
    },
    AddKey {
        tenant: usize,
        email: usize,
    },
    RevokeKey {
        tenant: usize,
        key: usize,
    },
    Publish {
        tenant: usize,
        slug: usize,
        body: u8,
    },
    Rate {
        tenant: usize,
        slug: usize,
        email: usize,
        stars: i64,
    },
    Deploy {
        tenant: usize,
        slug: usize,
        email: usize,
        install: u8,
    },
    Event {
        tenant: usize,
        slug: usize,
        email: usize,
        session: u8,
        tool_use: u8,
        kind: EventKind,
    },
    /// A person signs in with SSO (subject `sub-<email>`, the same person in every tenant).
    SignIn {
        tenant: usize,
        email: usize,
    },
    /// A signed-in browser gets a session.
    Session {
        tenant: usize,
        email: usize,
    },
    /// A write into `tenant` naming the next tenant's skill: must be refused and change nothing.
    CrossWrite {
        tenant: usize,
        slug: usize,
        email: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS;
    let e = 0..EMAILS.len();
    let s = 0..SLUGS.len();
    let kind = prop::sample::select(vec![
        EventKind::Invocation,
        EventKind::ToolUse,
        EventKind::ToolFailure,
        EventKind::SessionStart,
    ]);
    prop_oneof![
        3 => (t.clone(), e.clone(), any::<bool>()).prop_map(|(tenant, email, admin)| Op::AddUser { tenant, email, admin }),
        1 => (t.clone(), e.clone()).prop_map(|(tenant, email)| Op::AddKey { tenant, email }),
        1 => (t.clone(), 0..4usize).prop_map(|(tenant, key)| Op::RevokeKey { tenant, key }),
        3 => (t.clone(), s.clone(), 0..3u8).prop_map(|(tenant, slug, body)| Op::Publish { tenant, slug, body }),
        1 => (t.clone(), s.clone(), e.clone(), 1..=5i64).prop_map(|(tenant, slug, email, stars)| Op::Rate { tenant, slug, email, stars }),
        1 => (t.clone(), s.clone(), e.clone(), 0..2u8).prop_map(|(tenant, slug, email, install)| Op::Deploy { tenant, slug, email, install }),
        4 => (t.clone(), s.clone(), e.clone(), 0..3u8, 0..4u8, kind).prop_map(|(tenant, slug, email, session, tool_use, kind)| Op::Event { tenant, slug, email, session, tool_use, kind }),
        2 => (t.clone(), e.clone()).prop_map(|(tenant, email)| Op::SignIn { tenant, email }),
        1 => (t.clone(), e.clone()).prop_map(|(tenant, email)| Op::Session { tenant, email }),
        1 => (t, s, e).prop_map(|(tenant, slug, email)| Op::CrossWrite { tenant, slug, email }),
    ]
}

/// What one tenant should hold, built without the store.
#[derive(Default)]
struct Model {
    users: BTreeMap<usize, (UserId, Role)>,
    keys: Vec<(ApiKeySecret, relay_core::ApiKeyId, bool)>,
    /// slug index → (id, bodies per version)
    skills: BTreeMap<usize, (SkillId, Vec<u8>)>,
    ratings: BTreeMap<(usize, usize), i64>,
    deployments: BTreeSet<(usize, u8)>,
    event_ids: BTreeSet<String>,
    sessions: BTreeSet<(usize, u8)>,
    uses: BTreeMap<EventKind, i64>,
    /// Emails (by index) whose user has signed in with SSO.
    signed_in: BTreeSet<usize>,
    /// Session id hashes and whose they are.
    sessions_of: Vec<(String, usize)>,
}

fn run(store: &dyn Store, ops: &[Op], run_id: usize) {
    let tenants: Vec<TenantId> = (0..TENANTS)
        .map(|i| {
            let slug = TenantSlug::parse(&format!("t{i}-{run_id}")).unwrap();
            let domain = Domain::parse(&format!("t{i}-{run_id}.example.com")).unwrap();
            store.create_tenant(&slug, "Tenant", &[domain]).unwrap().id
        })
        .collect();
    let mut models: Vec<Model> = (0..TENANTS).map(|_| Model::default()).collect();

    for op in ops {
        match op.clone() {
            Op::AddUser {
                tenant,
                email: e,
                admin,
            } => {
                let role = if admin { Role::Admin } else { Role::Member };
                let result = store.create_user(&tenants[tenant], &email(EMAILS[e]), role);
                let model = &mut models[tenant];
                match model.users.entry(e) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
                    }
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert((result.unwrap().id, role));
                    }
                }
            }
            Op::SignIn { tenant, email: e } => {
                let user = store
                    .provision_user(&tenants[tenant], &email(EMAILS[e]), &format!("sub-{e}"))
                    .unwrap();
                let model = &mut models[tenant];
                match model.users.get(&e) {
                    // Linked to the user an operator added, keeping their role.
                    Some((id, role)) => assert_eq!((&user.id, user.role), (id, *role)),
                    None => {
                        assert_eq!(user.role, Role::Member);
                        model.users.insert(e, (user.id.clone(), Role::Member));
                    }
                }
                model.signed_in.insert(e);
            }
            Op::Session { tenant, email: e } => {
                let model = &mut models[tenant];
                if let Some((user, _)) = model.users.get(&e) {
                    let hash = format!("session-{run_id}-{tenant}-{}", model.sessions_of.len());
                    let expires = relay_core::Timestamp::from_millis(i64::MAX / 2);
                    store
                        .create_web_session(&tenants[tenant], user, &hash, expires)
                        .unwrap();
                    model.sessions_of.push((hash, e));
                }
            }
            Op::AddKey { tenant, email: e } => {
                let model = &mut models[tenant];
                if let Some((user, _)) = model.users.get(&e) {
                    let secret = ApiKeySecret::generate();
                    let key = store
                        .create_api_key(&tenants[tenant], user, "k", &secret)
                        .unwrap();
                    model.keys.push((secret, key.id, false));
                }
            }
            Op::RevokeKey { tenant, key } => {
                if let Some(entry) = models[tenant].keys.get_mut(key) {
                    store.revoke_api_key(&tenants[tenant], &entry.1).unwrap();
                    entry.2 = true;
                }
            }
            Op::Publish { tenant, slug, body } => {
                let published = store
                    .publish_skill(
                        &tenants[tenant],
                        &new_version(SLUGS[slug], &format!("body {body}"), None),
                    )
                    .unwrap();
                let entry = models[tenant]
                    .skills
                    .entry(slug)
                    .or_insert_with(|| (published.skill.id.clone(), Vec::new()));
                if entry.1.last() != Some(&body) {
                    entry.1.push(body);
                }
                assert_eq!(published.version as usize, entry.1.len());
            }
            Op::Rate {
                tenant,
                slug,
                email: e,
                stars,
            } => {
                let model = &mut models[tenant];
                let (Some((skill, _)), Some((user, _))) =
                    (model.skills.get(&slug), model.users.get(&e))
                else {
                    continue;
                };
                store
                    .rate_skill(
                        &tenants[tenant],
                        skill,
                        user,
                        Stars::new(stars).unwrap(),
                        None,
                    )
                    .unwrap();
                model.ratings.insert((slug, e), stars);
            }
            Op::Deploy {
                tenant,
                slug,
                email: e,
                install,
            } => {
                let model = &mut models[tenant];
                let (Some((skill, versions)), Some((user, _))) =
                    (model.skills.get(&slug), model.users.get(&e))
                else {
                    continue;
                };
                let new = NewDeployment {
                    skill_id: skill.clone(),
                    user_id: user.clone(),
                    version: versions.len() as i64,
                    scope: DeployScope::Project,
                    install_id: format!("install-{install}"),
                    hooks_version: 1,
                };
                store.record_deployment(&tenants[tenant], &new).unwrap();
                model.deployments.insert((slug, install));
            }
            Op::CrossWrite {
                tenant,
                slug,
                email: e,
            } => {
                let other = (tenant + 1) % TENANTS;
                let (Some((theirs, _)), Some((user, _))) = (
                    models[other].skills.get(&slug),
                    models[tenant].users.get(&e),
                ) else {
                    continue;
                };
                let here = &tenants[tenant];
                let rated = store.rate_skill(here, theirs, user, Stars::new(1).unwrap(), None);
                assert!(matches!(rated, Err(StoreError::NotFound(_))), "{rated:?}");
                let deployment = NewDeployment {
                    skill_id: theirs.clone(),
                    user_id: user.clone(),
                    version: 1,
                    scope: DeployScope::User,
                    install_id: "cross".into(),
                    hooks_version: 1,
                };
                assert!(matches!(
                    store.record_deployment(here, &deployment),
                    Err(StoreError::NotFound(_))
                ));
                let event = hook_event(
                    theirs,
                    "cross",
                    "cross",
                    EventKind::Invocation,
                    "2026-12-04T10:00:00Z",
                );
                let batch = EventBatch {
                    tenant_id: here.clone(),
                    user_id: user.clone(),
                    events: vec![event],
                };
                let outcome = store.record_events(&[batch]).unwrap().remove(0);
                assert_eq!((outcome.accepted, outcome.rejected.len()), (0, 1));
            }
            Op::Event {
                tenant,
                slug,
                email: e,
                session,
                tool_use,
                kind,
            } => {
                let model = &mut models[tenant];
                let (Some((skill, _)), Some((user, _))) =
                    (model.skills.get(&slug), model.users.get(&e))
                else {
                    continue;
                };
                let mut event = hook_event(
                    skill,
                    &format!("s{session}"),
                    &format!("t{tool_use}"),
                    kind,
                    "2026-12-04T10:00:00Z",
                );
                // The same id in every tenant: each must store its own.
                event.event_id =
                    EventId::parse(&format!("e-{slug}-{session}-{tool_use}-{kind}")).unwrap();
                let batch = EventBatch {
                    tenant_id: tenants[tenant].clone(),
                    user_id: user.clone(),
                    events: vec![event.clone()],
                };
                let outcome = store.record_events(&[batch]).unwrap().remove(0);
                if model.event_ids.insert(event.event_id.to_string()) {
                    assert_eq!(outcome.accepted, 1);
                    if kind.marks_skill_use() {
                        *model.uses.entry(kind).or_default() += 1;
                        model.sessions.insert((slug, session));
                    }
                } else {
                    assert_eq!(outcome.duplicates, 1);
                }
            }
        }
    }

    for (index, tenant) in tenants.iter().enumerate() {
        check_tenant(store, tenant, &models[index], &models, index);
    }
}

fn check_tenant(store: &dyn Store, tenant: &TenantId, model: &Model, all: &[Model], me: usize) {
    let others = || {
        all.iter()
            .enumerate()
            .filter(move |(i, _)| *i != me)
            .map(|(_, m)| m)
    };

    // Users: exactly this tenant's, by every path.
    let users = store.list_users(tenant).unwrap();
    assert!(users.iter().all(|u| &u.tenant_id == tenant));
    let listed: BTreeSet<_> = users
        .iter()
        .map(|u| (u.email.to_string(), u.role))
        .collect();
    let expected: BTreeSet<_> = model
        .users
        .iter()
        .map(|(e, (_, role))| (EMAILS[*e].to_owned(), *role))
        .collect();
    assert_eq!(listed, expected);
    for (i, address) in EMAILS.iter().enumerate() {
        let found = store.user_by_email(tenant, &email(address)).unwrap();
        assert_eq!(
            found.map(|u| u.id),
            model.users.get(&i).map(|(id, _)| id.clone())
        );
    }
    for other in others() {
        for (other_user, _) in other.users.values() {
            assert_eq!(store.user_by_id(tenant, other_user).unwrap(), None);
            assert!(matches!(
                store.set_user_role(tenant, other_user, Role::Admin),
                Err(StoreError::NotFound(_))
            ));
        }
    }

    // Sign-in: subjects only on the users who signed in; sessions name this tenant and user.
    for user in &users {
        let index = EMAILS
            .iter()
            .position(|e| *e == user.email.as_str())
            .unwrap();
        let expected = model
            .signed_in
            .contains(&index)
            .then(|| format!("sub-{index}"));
        assert_eq!(user.oidc_subject, expected, "{}", user.email);
    }
    let now = relay_core::Timestamp::now();
    for (hash, e) in &model.sessions_of {
        let session = store.web_session(hash, now).unwrap().unwrap();
        assert_eq!(&session.tenant.id, tenant);
        assert_eq!(session.user.id, model.users[e].0);
    }

    // Domains.
    let domains = store.list_domains(tenant).unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!(
        store
            .tenant_by_domain(&domains[0].domain)
            .unwrap()
            .unwrap()
            .id,
        *tenant
    );

    // Keys: listed here, authenticate to here, revocable only from here.
    let keys = store.list_api_keys(tenant).unwrap();
    assert_eq!(keys.len(), model.keys.len());
    assert!(keys.iter().all(|k| &k.tenant_id == tenant));
    for (secret, id, revoked) in &model.keys {
        let principal = store.authenticate(&secret.hash()).unwrap();
        match principal {
            Some(p) => {
                assert!(!revoked);
                assert_eq!(
                    (&p.tenant.id, &p.user.tenant_id, &p.key.id),
                    (tenant, tenant, id)
                );
            }
            None => assert!(revoked),
        }
    }
    for other in others() {
        for (_, other_key, _) in &other.keys {
            assert!(matches!(
                store.revoke_api_key(tenant, other_key),
                Err(StoreError::NotFound(_))
            ));
        }
    }

    // Skills, versions, contents.
    let page = store
        .list_skills(
            tenant,
            &SkillQuery {
                limit: 200,
                ..Default::default()
            },
        )
        .unwrap();
    let listed: BTreeSet<_> = page.skills.iter().map(|s| s.slug.to_string()).collect();
    let expected: BTreeSet<_> = model.skills.keys().map(|i| SLUGS[*i].to_owned()).collect();
    assert_eq!(listed, expected);
    for skill in &page.skills {
        assert_eq!(&skill.tenant_id, tenant);
        let slug_index = SLUGS
            .iter()
            .position(|s| *s == skill.slug.as_str())
            .unwrap();
        let (id, bodies) = &model.skills[&slug_index];
        assert_eq!(&skill.id, id);
        assert_eq!(skill.latest_version as usize, bodies.len());
        let ratings: Vec<i64> = model
            .ratings
            .iter()
            .filter(|((s, _), _)| *s == slug_index)
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(skill.rating.count as usize, ratings.len());
        let average = (!ratings.is_empty())
            .then(|| ratings.iter().sum::<i64>() as f64 / ratings.len() as f64);
        assert_eq!(
            skill.rating.average.map(|a| (a * 1000.0).round()),
            average.map(|a| (a * 1000.0).round())
        );
        assert_eq!(store.list_ratings(tenant, id).unwrap().len(), ratings.len());
        let versions = store.list_skill_versions(tenant, id).unwrap();
        assert_eq!(versions.len(), bodies.len());
        for (n, body) in bodies.iter().enumerate() {
            let version = store
                .skill_version(tenant, id, Some(n as i64 + 1))
                .unwrap()
                .unwrap();
            assert!(
                version.skill_md.contains(&format!("body {body}")),
                "{}",
                version.skill_md
            );
        }
    }
    for (i, slug) in SLUGS.iter().enumerate() {
        let found = store.skill_by_slug(tenant, &skill_slug(slug)).unwrap();
        assert_eq!(
            found.map(|s| s.id),
            model.skills.get(&i).map(|(id, _)| id.clone())
        );
    }
    for other in others() {
        for (other_skill, _) in other.skills.values() {
            assert_eq!(store.skill_by_id(tenant, other_skill).unwrap(), None);
            assert_eq!(
                store.skill_version(tenant, other_skill, None).unwrap(),
                None
            );
            assert_eq!(
                store.skill_version(tenant, other_skill, Some(1)).unwrap(),
                None
            );
            assert!(
                store
                    .list_skill_versions(tenant, other_skill)
                    .unwrap()
                    .is_empty()
            );
            assert!(store.list_ratings(tenant, other_skill).unwrap().is_empty());
        }
    }

    // Deployments.
    let deployments = store.list_deployments(tenant).unwrap();
    assert_eq!(deployments.len(), model.deployments.len());
    assert!(deployments.iter().all(|d| &d.tenant_id == tenant));

    // Events and their rollup.
    let from = relay_core::Timestamp::from_millis(0);
    let to = relay_core::Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
    let events = store.list_events(tenant, from, to, 10_000).unwrap();
    let ids: BTreeSet<_> = events
        .iter()
        .map(|e| e.event.event_id.to_string())
        .collect();
    assert_eq!(ids, model.event_ids);
    assert!(events.iter().all(|e| &e.tenant_id == tenant));
    let day = relay_core::Day::parse("2026-12-04").unwrap();
    let rollup = store.daily_usage(tenant, day, day).unwrap();
    let sum = |f: fn(&relay_store::DailyUsage) -> i64| rollup.iter().map(f).sum::<i64>();
    assert_eq!(
        sum(|r| r.invocations),
        model.uses.get(&EventKind::Invocation).copied().unwrap_or(0)
    );
    assert_eq!(
        sum(|r| r.tool_uses),
        model.uses.get(&EventKind::ToolUse).copied().unwrap_or(0)
    );
    assert_eq!(
        sum(|r| r.tool_failures),
        model
            .uses
            .get(&EventKind::ToolFailure)
            .copied()
            .unwrap_or(0)
    );
    // A skill session is counted once, on its first use, whoever's rollup row it lands in.
    assert_eq!(sum(|r| r.skill_sessions), model.sessions.len() as i64);
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
    fn sqlite_tenants_never_see_each_other(ops in prop::collection::vec(op(), 1..60)) {
        thread_local!(static DB: crate::support::TestDb = crate::support::sqlite());
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run_id = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DB.with(|db| run(&*db.store, &ops, run_id));
    }

    #[test]
    fn postgres_tenants_never_see_each_other(ops in prop::collection::vec(op(), 1..60)) {
        thread_local!(static DB: Option<crate::support::TestDb> = crate::support::postgres());
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run_id = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        DB.with(|db| if let Some(db) = db { run(&*db.store, &ops, run_id) });
    }
}
