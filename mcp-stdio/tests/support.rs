//! What every relay-mcp test starts from: a SQLite store with tenant `acme`, a member
//! `dev@acme.com` with an API key, and a skill `demo`.

use std::net::SocketAddr;
use std::sync::Arc;

use relay_core::{ApiKeySecret, Email, Role, Skill, SkillFile, Tenant, TenantSlug, User};
use relay_store::{DatabaseUrl, NewSkillVersion, Store};
use relay_testkit::TestDatabase;

pub struct Seeded {
    pub store: Arc<dyn Store>,
    pub tenant: Tenant,
    pub user: User,
    pub secret: ApiKeySecret,
    pub skill: Skill,
    pub database: TestDatabase,
}

/// The store, seeded; `description` and `body` make the skill's SKILL.md.
pub fn seed(description: &str, body: &str, files: Vec<SkillFile>) -> Seeded {
    let database = TestDatabase::sqlite();
    let store = relay_store::open(&DatabaseUrl::parse(&database.url).unwrap()).unwrap();
    let tenant = store
        .create_tenant(&TenantSlug::parse("acme").unwrap(), "Acme", &[])
        .unwrap();
    let user = store
        .create_user(
            &tenant.id,
            &Email::parse("dev@acme.com").unwrap(),
            Role::Member,
        )
        .unwrap();
    let secret = ApiKeySecret::generate();
    store
        .create_api_key(&tenant.id, &user.id, "laptop", &secret)
        .unwrap();
    let new = NewSkillVersion {
        slug: "demo".parse().unwrap(),
        name: "Demo".into(),
        description: description.into(),
        category: None,
        hours_saved: None,
        skill_md: format!("---\nname: demo\ndescription: {description}\n---\n# Demo\n{body}"),
        files,
        author: None,
    };
    let skill = store.publish_skill(&tenant.id, &new).unwrap().skill;
    Seeded {
        store,
        tenant,
        user,
        secret,
        skill,
        database,
    }
}

/// trackd in this process, until dropped.
pub struct Trackd;

impl Trackd {
    /// trackd with the default configuration, listening on `addr`.
    pub fn start(store: Arc<dyn Store>, addr: SocketAddr) -> trackd::Background {
        let listener = std::net::TcpListener::bind(addr).unwrap();
        Self::serve(store, listener, trackd::Config::new("localhost").unwrap())
    }

    /// trackd with `config`, serving on an already bound listener.
    pub fn serve(
        store: Arc<dyn Store>,
        listener: std::net::TcpListener,
        config: trackd::Config,
    ) -> trackd::Background {
        trackd::Background::start(config, store, listener).unwrap()
    }
}
