//! The store's story, told once and run on every backend: what an operator, trackd and relay-mcp
//! do with it, including what it refuses.

use relay_core::{
    ApiKeyHash, ApiKeyId, ApiKeySecret, Category, DeployScope, Domain, Email, EventBatch, EventId,
    EventKind, HoursSaved, NewDeployment, NewEvent, Role, SkillFile, SkillFilePath, SkillId,
    SkillSlug, Stars, Tenant, TenantId, TenantSlug, Timestamp, User, UserId,
};
use relay_store::{NewSkillVersion, PublishOutcome, RejectReason, SkillQuery, Store, StoreError};

use crate::support::on_every_backend;

on_every_backend!(
    opens_migrated_and_answers,
    tenants_are_created_renamed_and_deleted,
    bad_tenant_input_changes_nothing,
    domains_belong_to_one_tenant,
    users_live_in_one_tenant,
    keys_are_found_by_hash_until_revoked,
    skill_versions_are_immutable,
    catalogue_is_searched_and_paged,
    ratings_replace_earlier_ones,
    deployments_are_recorded_per_install,
    events_are_stored_once_and_rolled_up,
);

pub fn slug(s: &str) -> TenantSlug {
    TenantSlug::parse(s).unwrap()
}

pub fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

pub fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub fn skill_slug(s: &str) -> SkillSlug {
    SkillSlug::parse(s).unwrap()
}

pub fn skill_md(name: &str, body: &str) -> String {
    format!("---\nname: {name}\ndescription: {name} helps\n---\n# {name}\n\n{body}\n")
}

pub fn new_version(name: &str, body: &str, author: Option<&UserId>) -> NewSkillVersion {
    NewSkillVersion {
        slug: skill_slug(name),
        name: format!("The {name} skill"),
        description: format!("{name} helps with {body}"),
        category: None,
        hours_saved: None,
        skill_md: skill_md(name, body),
        files: Vec::new(),
        author: author.cloned(),
    }
}

fn tenant_with_user(store: &dyn Store, name: &str) -> (Tenant, User) {
    let tenant = store.create_tenant(&slug(name), name, &[]).unwrap();
    let user = store
        .create_user(&tenant.id, &email(&format!("dev@{name}.com")), Role::Member)
        .unwrap();
    (tenant, user)
}

fn is_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::NotFound(_)))
}

fn opens_migrated_and_answers(store: &dyn Store) {
    store.ping().unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        relay_store::latest_version()
    );
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

fn tenants_are_created_renamed_and_deleted(store: &dyn Store) {
    let acme = store
        .create_tenant(
            &slug("acme"),
            "Acme Corp",
            &[domain("acme.com"), domain("acme.io")],
        )
        .unwrap();
    let globex = store.create_tenant(&slug("globex"), "Globex", &[]).unwrap();
    assert_eq!(acme.name, "Acme Corp");

    let slugs: Vec<_> = store
        .list_tenants()
        .unwrap()
        .into_iter()
        .map(|t| t.slug)
        .collect();
    assert_eq!(slugs, [slug("acme"), slug("globex")]);
    assert_eq!(
        store.tenant_by_slug(&slug("acme")).unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        store.tenant_by_id(&globex.id).unwrap(),
        Some(globex.clone())
    );
    assert_eq!(
        store.tenant_by_domain(&domain("acme.io")).unwrap(),
        Some(acme.clone())
    );
    assert_eq!(store.tenant_by_domain(&domain("globex.com")).unwrap(), None);
    assert_eq!(store.tenant_by_slug(&slug("initech")).unwrap(), None);

    let renamed = store.rename_tenant(&acme.id, "  Acme Inc.  ").unwrap();
    assert_eq!(renamed.name, "Acme Inc.");
    assert_eq!(
        store.tenant_by_id(&acme.id).unwrap().unwrap().name,
        "Acme Inc."
    );

    // Deleting a tenant takes everything it owns with it, and nothing of anyone else's.
    let user = store
        .create_user(&acme.id, &email("a@acme.com"), Role::Admin)
        .unwrap();
    let key = ApiKeySecret::generate();
    store
        .create_api_key(&acme.id, &user.id, "laptop", &key)
        .unwrap();
    let published = store
        .publish_skill(&acme.id, &new_version("review", "v1", Some(&user.id)))
        .unwrap();
    record(
        store,
        &acme.id,
        &user.id,
        &published.skill.id,
        &[("s1", "t1", EventKind::Invocation)],
    );
    let (_, globex_user) = (
        globex.clone(),
        store
            .create_user(&globex.id, &email("g@globex.com"), Role::Member)
            .unwrap(),
    );

    store.delete_tenant(&acme.id).unwrap();
    assert_eq!(store.tenant_by_id(&acme.id).unwrap(), None);
    let all_time = (
        Timestamp::from_millis(0),
        Timestamp::parse_rfc3339("2100-01-01T00:00:00Z").unwrap(),
    );
    assert!(
        store
            .list_events(&acme.id, all_time.0, all_time.1, 10)
            .unwrap()
            .is_empty()
    );
    let day = relay_core::Day::parse("2026-12-04").unwrap();
    assert!(store.daily_usage(&acme.id, day, day).unwrap().is_empty());
    assert!(
        store
            .skill_version(&acme.id, &published.skill.id, Some(1))
            .unwrap()
            .is_none()
    );
    assert!(store.list_api_keys(&acme.id).unwrap().is_empty());
    assert_eq!(store.tenant_by_domain(&domain("acme.com")).unwrap(), None);
    assert!(store.authenticate(&key.hash()).unwrap().is_none());
    assert!(store.list_users(&acme.id).unwrap().is_empty());
    assert!(
        store
            .list_skills(&acme.id, &SkillQuery::default())
            .unwrap()
            .skills
            .is_empty()
    );
    assert_eq!(store.list_users(&globex.id).unwrap(), [globex_user]);
    // The domain is free again.
    store.add_domain(&globex.id, &domain("acme.com")).unwrap();

    assert!(is_not_found(store.delete_tenant(&acme.id)));
    assert!(is_not_found(store.rename_tenant(&acme.id, "Ghost")));
}

fn bad_tenant_input_changes_nothing(store: &dyn Store) {
    let acme = store
        .create_tenant(&slug("acme"), "Acme", &[domain("acme.com")])
        .unwrap();

    let duplicate = store.create_tenant(&slug("acme"), "Acme again", &[domain("other.com")]);
    assert!(
        matches!(&duplicate, Err(StoreError::Conflict(m)) if m.contains("acme already exists")),
        "{duplicate:?}"
    );
    assert_eq!(store.tenant_by_domain(&domain("other.com")).unwrap(), None);

    // A domain owned elsewhere refuses the whole tenant: no half-made tenant is left behind.
    let taken = store.create_tenant(
        &slug("globex"),
        "Globex",
        &[domain("globex.com"), domain("acme.com")],
    );
    assert!(
        matches!(&taken, Err(StoreError::Conflict(m)) if m.contains("acme.com already belongs to tenant acme")),
        "{taken:?}"
    );
    assert_eq!(store.tenant_by_slug(&slug("globex")).unwrap(), None);
    assert_eq!(store.tenant_by_domain(&domain("globex.com")).unwrap(), None);

    assert!(matches!(
        store.create_tenant(&slug("blank"), "   ", &[]),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.rename_tenant(&acme.id, ""),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_tenants().unwrap(), std::slice::from_ref(&acme));
    assert_eq!(store.tenant_by_id(&acme.id).unwrap().unwrap().name, "Acme");
}

fn domains_belong_to_one_tenant(store: &dyn Store) {
    let acme = store
        .create_tenant(&slug("acme"), "Acme", &[domain("acme.com")])
        .unwrap();
    let globex = store.create_tenant(&slug("globex"), "Globex", &[]).unwrap();

    store.add_domain(&acme.id, &domain("acme.co.uk")).unwrap();
    let domains: Vec<_> = store
        .list_domains(&acme.id)
        .unwrap()
        .into_iter()
        .map(|d| d.domain)
        .collect();
    assert_eq!(domains, [domain("acme.co.uk"), domain("acme.com")]);

    let stolen = store.add_domain(&globex.id, &domain("acme.com"));
    assert!(
        matches!(&stolen, Err(StoreError::Conflict(m)) if m.contains("tenant acme")),
        "{stolen:?}"
    );
    let again = store.add_domain(&acme.id, &domain("acme.com"));
    assert!(
        matches!(&again, Err(StoreError::Conflict(m)) if m.contains("this tenant")),
        "{again:?}"
    );
    assert!(store.list_domains(&globex.id).unwrap().is_empty());

    // A tenant cannot remove another tenant's domain.
    assert!(is_not_found(
        store.remove_domain(&globex.id, &domain("acme.com"))
    ));
    assert_eq!(
        store.tenant_by_domain(&domain("acme.com")).unwrap(),
        Some(acme.clone())
    );

    store.remove_domain(&acme.id, &domain("acme.com")).unwrap();
    assert_eq!(store.tenant_by_domain(&domain("acme.com")).unwrap(), None);
    let ghost = TenantId::generate();
    assert!(is_not_found(store.add_domain(&ghost, &domain("ghost.com"))));
    assert!(store.list_domains(&ghost).unwrap().is_empty());
}

fn users_live_in_one_tenant(store: &dyn Store) {
    let acme = store.create_tenant(&slug("acme"), "Acme", &[]).unwrap();
    let globex = store.create_tenant(&slug("globex"), "Globex", &[]).unwrap();

    let bob = store
        .create_user(&acme.id, &email("Bob@Acme.com"), Role::Member)
        .unwrap();
    let alice = store
        .create_user(&acme.id, &email("alice@acme.com"), Role::Admin)
        .unwrap();
    // The same address in another tenant is another person.
    let alice_g = store
        .create_user(&globex.id, &email("alice@acme.com"), Role::Member)
        .unwrap();
    assert_ne!(alice.id, alice_g.id);

    assert_eq!(bob.email.as_str(), "bob@acme.com");
    assert!(!bob.disabled && bob.oidc_subject.is_none());
    assert_eq!(
        store.list_users(&acme.id).unwrap(),
        [alice.clone(), bob.clone()]
    );
    assert_eq!(
        store
            .user_by_email(&acme.id, &email("BOB@acme.com"))
            .unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        store.user_by_id(&acme.id, &alice.id).unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_id(&globex.id, &alice.id).unwrap(), None);

    let dup = store.create_user(&acme.id, &email("alice@acme.com"), Role::Member);
    assert!(
        matches!(&dup, Err(StoreError::Conflict(m)) if m.contains("alice@acme.com already exists")),
        "{dup:?}"
    );
    assert!(is_not_found(store.create_user(
        &TenantId::generate(),
        &email("x@y.com"),
        Role::Member
    )));

    let promoted = store.set_user_role(&acme.id, &bob.id, Role::Admin).unwrap();
    assert_eq!(promoted.role, Role::Admin);
    // Another tenant's user cannot be reached through this tenant.
    assert!(is_not_found(store.set_user_role(
        &globex.id,
        &bob.id,
        Role::Member
    )));
    assert_eq!(
        store.user_by_id(&acme.id, &bob.id).unwrap().unwrap().role,
        Role::Admin
    );
}

fn keys_are_found_by_hash_until_revoked(store: &dyn Store) {
    let (acme, alice) = tenant_with_user(store, "acme");
    let (globex, _) = tenant_with_user(store, "globex");

    let secret = ApiKeySecret::generate();
    let key = store
        .create_api_key(&acme.id, &alice.id, "laptop", &secret)
        .unwrap();
    assert_eq!(key.prefix, secret.display_prefix());
    assert!(!key.is_revoked());

    let principal = store
        .authenticate(&ApiKeyHash::of_presented(secret.expose()))
        .unwrap()
        .unwrap();
    assert_eq!(principal.key, key);
    assert_eq!(principal.user, alice);
    assert_eq!(principal.tenant, acme);
    assert!(
        store
            .authenticate(&ApiKeyHash::of_presented("rly_not-a-key"))
            .unwrap()
            .is_none()
    );

    assert_eq!(
        store.list_api_keys(&acme.id).unwrap(),
        std::slice::from_ref(&key)
    );
    assert!(store.list_api_keys(&globex.id).unwrap().is_empty());

    // Another tenant can neither make keys for this tenant's users nor revoke its keys.
    assert!(is_not_found(store.create_api_key(
        &globex.id,
        &alice.id,
        "x",
        &ApiKeySecret::generate()
    )));
    assert!(is_not_found(store.revoke_api_key(&globex.id, &key.id)));
    assert!(store.authenticate(&secret.hash()).unwrap().is_some());
    assert!(matches!(
        store.create_api_key(&acme.id, &alice.id, " ", &ApiKeySecret::generate()),
        Err(StoreError::Invalid(_))
    ));

    let revoked = store.revoke_api_key(&acme.id, &key.id).unwrap();
    let revoked_at = revoked.revoked_at.expect("revoked");
    assert!(store.authenticate(&secret.hash()).unwrap().is_none());
    let again = store.revoke_api_key(&acme.id, &key.id).unwrap();
    assert_eq!(
        again.revoked_at,
        Some(revoked_at),
        "a second revoke keeps the first time"
    );
    assert!(is_not_found(
        store.revoke_api_key(&acme.id, &ApiKeyId::generate())
    ));

    // A second key keeps working.
    let other = ApiKeySecret::generate();
    store
        .create_api_key(&acme.id, &alice.id, "ci", &other)
        .unwrap();
    assert!(store.authenticate(&other.hash()).unwrap().is_some());
    assert_eq!(store.list_api_keys(&acme.id).unwrap().len(), 2);
}

fn skill_versions_are_immutable(store: &dyn Store) {
    let (acme, alice) = tenant_with_user(store, "acme");
    let mut v1 = new_version("review", "first", Some(&alice.id));
    v1.category = Some(Category::parse("Quality").unwrap());
    v1.hours_saved = Some(HoursSaved::new(0.5).unwrap());
    v1.files = vec![
        SkillFile {
            path: SkillFilePath::parse("scripts/check.py").unwrap(),
            content: "print(1)\n".into(),
        },
        SkillFile {
            path: SkillFilePath::parse("reference.md").unwrap(),
            content: "# Ref\n".into(),
        },
    ];

    let created = store.publish_skill(&acme.id, &v1).unwrap();
    assert_eq!(
        (created.outcome, created.version),
        (PublishOutcome::Created, 1)
    );
    let skill = created.skill.clone();
    assert_eq!(skill.slug, skill_slug("review"));
    assert_eq!(
        skill.category.as_ref().map(Category::as_str),
        Some("quality")
    );
    assert_eq!(skill.hours_saved.get(), 0.5);
    assert_eq!(skill.author_id, Some(alice.id.clone()));
    assert_eq!(skill.latest_version, 1);

    let same = store.publish_skill(&acme.id, &v1).unwrap();
    assert_eq!((same.outcome, same.version), (PublishOutcome::Unchanged, 1));
    assert_eq!(same.sha256, created.sha256);

    let mut v2 = new_version("review", "second", None);
    v2.files = v1.files[..1].to_vec();
    let second = store.publish_skill(&acme.id, &v2).unwrap();
    assert_eq!(
        (second.outcome, second.version),
        (PublishOutcome::NewVersion, 2)
    );
    assert_ne!(second.sha256, created.sha256);
    // Fields not given keep their values.
    assert_eq!(second.skill.hours_saved.get(), 0.5);
    assert_eq!(second.skill.category, skill.category);

    let first = store
        .skill_version(&acme.id, &skill.id, Some(1))
        .unwrap()
        .unwrap();
    assert_eq!(
        first.skill_md, v1.skill_md,
        "version 1 is unchanged by version 2"
    );
    assert_eq!(first.sha256, created.sha256);
    let paths: Vec<_> = first.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["reference.md", "scripts/check.py"]);
    assert_eq!(first.created_by, Some(alice.id.clone()));

    let latest = store
        .skill_version(&acme.id, &skill.id, None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.version, latest.skill_md.as_str()),
        (2, v2.skill_md.as_str())
    );
    assert_eq!(latest.files.len(), 1);
    assert!(
        store
            .skill_version(&acme.id, &skill.id, Some(3))
            .unwrap()
            .is_none()
    );

    let versions = store.list_skill_versions(&acme.id, &skill.id).unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[0].sha256, created.sha256);

    // Republishing version 1's content makes version 3, not a rewrite of version 1.
    let back = store.publish_skill(&acme.id, &v1).unwrap();
    assert_eq!(
        (back.outcome, back.version),
        (PublishOutcome::NewVersion, 3)
    );
    assert_eq!(
        store
            .skill_version(&acme.id, &skill.id, Some(2))
            .unwrap()
            .unwrap()
            .skill_md,
        v2.skill_md
    );

    // The same content with new catalogue fields changes the fields, not the versions.
    let mut retimed = v1.clone();
    retimed.hours_saved = Some(HoursSaved::new(2.0).unwrap());
    let retimed = store.publish_skill(&acme.id, &retimed).unwrap();
    assert_eq!(
        (retimed.outcome, retimed.version),
        (PublishOutcome::Unchanged, 3)
    );
    assert_eq!(retimed.skill.hours_saved.get(), 2.0);

    assert_eq!(
        store
            .skill_by_slug(&acme.id, &skill_slug("review"))
            .unwrap()
            .unwrap()
            .id,
        skill.id
    );
    assert_eq!(
        store
            .skill_by_id(&acme.id, &skill.id)
            .unwrap()
            .unwrap()
            .latest_version,
        3
    );
    assert!(is_not_found(store.publish_skill(
        &acme.id,
        &new_version("other", "x", Some(&UserId::generate()))
    )));
    assert!(
        store
            .skill_by_slug(&acme.id, &skill_slug("other"))
            .unwrap()
            .is_none()
    );
}

fn catalogue_is_searched_and_paged(store: &dyn Store) {
    let (acme, _) = tenant_with_user(store, "acme");
    for (name, body, category) in [
        ("code-review", "pull requests", "quality"),
        ("deploy", "shipping to production", "ops"),
        ("lint", "100% clean code", "quality"),
        ("release-notes", "changelogs", "docs"),
    ] {
        let mut new = new_version(name, body, None);
        new.category = Some(Category::parse(category).unwrap());
        store.publish_skill(&acme.id, &new).unwrap();
    }
    let slugs = |query: SkillQuery| -> Vec<String> {
        store
            .list_skills(&acme.id, &query)
            .unwrap()
            .skills
            .into_iter()
            .map(|s| s.slug.to_string())
            .collect()
    };
    assert_eq!(
        slugs(SkillQuery::default()),
        ["code-review", "deploy", "lint", "release-notes"]
    );
    assert_eq!(
        slugs(SkillQuery {
            text: Some("PRODUCTION".into()),
            ..Default::default()
        }),
        ["deploy"]
    );
    assert_eq!(
        slugs(SkillQuery {
            text: Some("review".into()),
            ..Default::default()
        }),
        ["code-review"]
    );
    // LIKE's wildcards are matched literally.
    assert_eq!(
        slugs(SkillQuery {
            text: Some("100%".into()),
            ..Default::default()
        }),
        ["lint"]
    );
    assert!(
        slugs(SkillQuery {
            text: Some("_".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        slugs(SkillQuery {
            category: Some(Category::parse("quality").unwrap()),
            ..Default::default()
        }),
        ["code-review", "lint"]
    );

    let first = store
        .list_skills(
            &acme.id,
            &SkillQuery {
                limit: 3,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(first.skills.len(), 3);
    assert_eq!(first.next, Some(skill_slug("lint")));
    let second = store
        .list_skills(
            &acme.id,
            &SkillQuery {
                limit: 3,
                after: first.next.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        second
            .skills
            .iter()
            .map(|s| s.slug.as_str())
            .collect::<Vec<_>>(),
        ["release-notes"]
    );
    assert_eq!(second.next, None);
}

fn ratings_replace_earlier_ones(store: &dyn Store) {
    let (acme, alice) = tenant_with_user(store, "acme");
    let bob = store
        .create_user(&acme.id, &email("bob@acme.com"), Role::Member)
        .unwrap();
    let skill = store
        .publish_skill(&acme.id, &new_version("review", "x", None))
        .unwrap()
        .skill;
    assert_eq!((skill.rating.average, skill.rating.count), (None, 0));

    store
        .rate_skill(
            &acme.id,
            &skill.id,
            &alice.id,
            Stars::new(2).unwrap(),
            Some("meh"),
        )
        .unwrap();
    let rating = store
        .rate_skill(&acme.id, &skill.id, &alice.id, Stars::new(5).unwrap(), None)
        .unwrap();
    assert_eq!((rating.stars.get(), rating.comment.as_deref()), (5, None));
    store
        .rate_skill(
            &acme.id,
            &skill.id,
            &bob.id,
            Stars::new(4).unwrap(),
            Some(" great "),
        )
        .unwrap();

    let ratings = store.list_ratings(&acme.id, &skill.id).unwrap();
    assert_eq!(ratings.len(), 2);
    assert_eq!(
        ratings
            .iter()
            .find(|r| r.user_id == bob.id)
            .unwrap()
            .comment
            .as_deref(),
        Some("great")
    );
    let summary = store
        .skill_by_id(&acme.id, &skill.id)
        .unwrap()
        .unwrap()
        .rating;
    assert_eq!((summary.average, summary.count), (Some(4.5), 2));

    let (globex, gina) = tenant_with_user(store, "globex");
    assert!(is_not_found(store.rate_skill(
        &globex.id,
        &skill.id,
        &gina.id,
        Stars::new(1).unwrap(),
        None
    )));
    assert!(is_not_found(store.rate_skill(
        &acme.id,
        &skill.id,
        &gina.id,
        Stars::new(1).unwrap(),
        None
    )));
    assert!(
        store
            .list_ratings(&globex.id, &skill.id)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_ratings(&acme.id, &skill.id).unwrap().len(), 2);
}

fn deployments_are_recorded_per_install(store: &dyn Store) {
    let (acme, alice) = tenant_with_user(store, "acme");
    let skill = store
        .publish_skill(&acme.id, &new_version("review", "x", None))
        .unwrap()
        .skill;
    store
        .publish_skill(&acme.id, &new_version("review", "y", None))
        .unwrap();
    let deploy = |version: i64, install: &str, scope: DeployScope| NewDeployment {
        skill_id: skill.id.clone(),
        user_id: alice.id.clone(),
        version,
        scope,
        install_id: install.to_owned(),
        hooks_version: 1,
    };

    let first = store
        .record_deployment(
            &acme.id,
            &deploy(1, "laptop:/src/app", DeployScope::Project),
        )
        .unwrap();
    let again = store
        .record_deployment(
            &acme.id,
            &deploy(2, "laptop:/src/app", DeployScope::Project),
        )
        .unwrap();
    assert_eq!(
        again.id, first.id,
        "the same install is updated, not duplicated"
    );
    assert_eq!((again.version, again.created_at), (2, first.created_at));
    store
        .record_deployment(&acme.id, &deploy(2, "laptop:~", DeployScope::User))
        .unwrap();

    let all = store.list_deployments(&acme.id).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].scope, DeployScope::User);

    assert!(is_not_found(store.record_deployment(
        &acme.id,
        &deploy(3, "x", DeployScope::Project)
    )));
    assert!(matches!(
        store.record_deployment(&acme.id, &deploy(1, "", DeployScope::Project)),
        Err(StoreError::Invalid(_))
    ));
    let (globex, _) = tenant_with_user(store, "globex");
    assert!(is_not_found(store.record_deployment(
        &globex.id,
        &deploy(1, "x", DeployScope::Project)
    )));
    assert!(store.list_deployments(&globex.id).unwrap().is_empty());
}

/// Records hook-style events `(session, tool_use_id, kind)` for one user and skill.
pub fn record(
    store: &dyn Store,
    tenant: &TenantId,
    user: &UserId,
    skill: &SkillId,
    events: &[(&str, &str, EventKind)],
) -> relay_store::IngestOutcome {
    let events = events
        .iter()
        .map(|(session, tool_use, kind)| {
            hook_event(skill, session, tool_use, *kind, "2026-12-04T10:00:00Z")
        })
        .collect();
    let batch = EventBatch {
        tenant_id: tenant.clone(),
        user_id: user.clone(),
        events,
    };
    store.record_events(&[batch]).unwrap().remove(0)
}

pub fn hook_event(
    skill: &SkillId,
    session: &str,
    tool_use: &str,
    kind: EventKind,
    at: &str,
) -> NewEvent {
    NewEvent {
        event_id: EventId::derive(session, tool_use, kind, skill),
        skill_id: skill.clone(),
        kind,
        session_id: Some(session.to_owned()),
        tool_name: Some(
            if kind == EventKind::Invocation {
                "Skill"
            } else {
                "Bash"
            }
            .to_owned(),
        ),
        tool_use_id: Some(tool_use.to_owned()),
        invoked_skill: None,
        duration_ms: Some(12),
        occurred_at: Timestamp::parse_rfc3339(at).unwrap(),
        source: Some("hook".to_owned()),
        client: Some("relay-mcp/test".to_owned()),
    }
}

fn events_are_stored_once_and_rolled_up(store: &dyn Store) {
    let (acme, alice) = tenant_with_user(store, "acme");
    let bob = store
        .create_user(&acme.id, &email("bob@acme.com"), Role::Member)
        .unwrap();
    let review = store
        .publish_skill(&acme.id, &new_version("review", "x", None))
        .unwrap()
        .skill;
    let (globex, gina) = tenant_with_user(store, "globex");
    let theirs = store
        .publish_skill(&globex.id, &new_version("review", "x", None))
        .unwrap()
        .skill;

    let day1 = "2026-12-03T23:59:00Z";
    let day2 = "2026-12-04T00:01:00Z";
    let alice_batch = EventBatch {
        tenant_id: acme.id.clone(),
        user_id: alice.id.clone(),
        events: vec![
            hook_event(&review.id, "s1", "t1", EventKind::Invocation, day1),
            hook_event(&review.id, "s1", "t2", EventKind::ToolUse, day1),
            hook_event(&review.id, "s1", "t3", EventKind::ToolFailure, day2),
            hook_event(&review.id, "s1", "t2", EventKind::ToolUse, day1), // resent
            hook_event(&theirs.id, "s1", "t4", EventKind::ToolUse, day1), // another tenant's skill
            hook_event(&review.id, "s2", "t5", EventKind::ToolUse, day2), // a second session
            hook_event(&review.id, "s3", "t6", EventKind::SessionStart, day2), // not a use
        ],
    };
    let bob_batch = EventBatch {
        tenant_id: acme.id.clone(),
        user_id: bob.id.clone(),
        events: vec![hook_event(
            &review.id,
            "s9",
            "t9",
            EventKind::Invocation,
            day2,
        )],
    };
    let outcomes = store
        .record_events(&[alice_batch.clone(), bob_batch])
        .unwrap();
    assert_eq!((outcomes[0].accepted, outcomes[0].duplicates), (5, 1));
    assert_eq!(outcomes[0].rejected.len(), 1);
    assert_eq!(
        (
            outcomes[0].rejected[0].index,
            outcomes[0].rejected[0].reason
        ),
        (4, RejectReason::UnknownSkill)
    );
    assert_eq!(outcomes[1].accepted, 1);

    // Sending the whole batch again stores nothing.
    let resent = store.record_events(&[alice_batch]).unwrap().remove(0);
    assert_eq!(
        (resent.accepted, resent.duplicates, resent.rejected.len()),
        (0, 6, 1)
    );

    let from = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let to = Timestamp::parse_rfc3339("2026-12-05T00:00:00Z").unwrap();
    let events = store.list_events(&acme.id, from, to, 100).unwrap();
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|e| e.tenant_id == acme.id));
    assert!(
        events
            .windows(2)
            .all(|w| w[0].event.occurred_at <= w[1].event.occurred_at)
    );
    assert_eq!(store.list_events(&acme.id, from, to, 2).unwrap().len(), 2);
    assert!(
        store
            .list_events(&globex.id, from, to, 100)
            .unwrap()
            .is_empty()
    );

    let d1 = relay_core::Day::parse("2026-12-03").unwrap();
    let d2 = relay_core::Day::parse("2026-12-04").unwrap();
    let rollup = store.daily_usage(&acme.id, d1, d2).unwrap();
    let row = |day, user: &UserId| {
        rollup
            .iter()
            .find(|r| r.day == day && &r.user_id == user)
            .cloned()
    };
    let alice_d1 = row(d1, &alice.id).unwrap();
    assert_eq!(
        (
            alice_d1.skill_sessions,
            alice_d1.invocations,
            alice_d1.tool_uses,
            alice_d1.tool_failures
        ),
        (1, 1, 1, 0)
    );
    let alice_d2 = row(d2, &alice.id).unwrap();
    // s1 continued (a failure), s2 opened; s3's heartbeat is no use of the skill.
    assert_eq!(
        (
            alice_d2.skill_sessions,
            alice_d2.invocations,
            alice_d2.tool_uses,
            alice_d2.tool_failures
        ),
        (1, 0, 1, 1)
    );
    assert_eq!(
        alice_d2.last_event_at,
        Timestamp::parse_rfc3339(day2).unwrap()
    );
    assert_eq!(row(d2, &bob.id).unwrap().skill_sessions, 1);
    assert_eq!(rollup.len(), 3);
    assert!(
        store
            .daily_usage(&acme.id, d2.next(), d2.next())
            .unwrap()
            .is_empty()
    );
    assert!(store.daily_usage(&globex.id, d1, d2).unwrap().is_empty());

    // The same event id in another tenant is that tenant's own event, not a duplicate.
    let mut same_id = hook_event(&theirs.id, "s1", "t1", EventKind::Invocation, day1);
    same_id.event_id = EventId::derive("s1", "t1", EventKind::Invocation, &review.id);
    let batch = EventBatch {
        tenant_id: globex.id.clone(),
        user_id: gina.id.clone(),
        events: vec![same_id],
    };
    assert_eq!(store.record_events(&[batch]).unwrap()[0].accepted, 1);
    assert_eq!(store.list_events(&acme.id, from, to, 100).unwrap().len(), 6);
}
