//! Single sign-on state on every backend: provisioning by subject, sign-ins taken once, one-time
//! codes spent once, sessions that end.

use relay_core::{Role, Timestamp};
use relay_store::{AuthCode, CliLogin, CodePurpose, LoginFlow, Redemption, Store, StoreError};

use crate::story::{domain, email, slug};
use crate::support::on_every_backend;

on_every_backend!(
    first_sign_in_provisions_a_member_keyed_on_subject,
    a_sign_in_is_taken_once_and_not_after_it_expires,
    one_time_codes_redeem_once_for_their_purpose,
    sessions_end_on_logout_expiry_and_disabling,
    hd_requirement_is_per_tenant,
    racing_redemptions_spend_a_code_and_a_sign_in_once,
    the_last_admin_stays_whatever_the_order,
);

fn first_sign_in_provisions_a_member_keyed_on_subject(store: &dyn Store) {
    let acme = store
        .create_tenant(&slug("acme"), "Acme", &[domain("acme.com")])
        .unwrap();
    let globex = store.create_tenant(&slug("globex"), "Globex", &[]).unwrap();

    let alice = store
        .provision_user(&acme.id, &email("alice@acme.com"), "sub-alice")
        .unwrap();
    assert_eq!(alice.role, Role::Member);
    assert_eq!(alice.oidc_subject.as_deref(), Some("sub-alice"));
    // Signing in again finds the same user; a changed address follows the subject.
    let again = store
        .provision_user(&acme.id, &email("alice@acme.com"), "sub-alice")
        .unwrap();
    assert_eq!(again.id, alice.id);
    let renamed = store
        .provision_user(&acme.id, &email("alice.smith@acme.com"), "sub-alice")
        .unwrap();
    assert_eq!(renamed.id, alice.id);
    assert_eq!(renamed.email.as_str(), "alice.smith@acme.com");

    // A user the operator added (and made admin) is linked on first sign-in, keeping the role.
    let bob = store
        .create_user(&acme.id, &email("bob@acme.com"), Role::Admin)
        .unwrap();
    let linked = store
        .provision_user(&acme.id, &email("bob@acme.com"), "sub-bob")
        .unwrap();
    assert_eq!((linked.id.clone(), linked.role), (bob.id, Role::Admin));
    // Another subject claiming bob's address is refused and changes nothing.
    let err = store
        .provision_user(&acme.id, &email("bob@acme.com"), "sub-mallory")
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.list_users(&acme.id).unwrap().len(), 2);

    // The same subject in another tenant is another user.
    let elsewhere = store
        .provision_user(&globex.id, &email("alice@acme.com"), "sub-alice")
        .unwrap();
    assert_ne!(elsewhere.id, alice.id);
    assert_eq!(elsewhere.tenant_id, globex.id);
}

fn flow(state_hash: &str, now: Timestamp, cli: bool) -> LoginFlow {
    LoginFlow {
        state_hash: state_hash.into(),
        tenant: None,
        browser_hash: "browser".into(),
        handoff_hash: (!cli).then(|| "handoff".into()),
        nonce: "nonce".into(),
        pkce_verifier: "verifier".into(),
        cli: cli.then(|| CliLogin {
            redirect_uri: "http://127.0.0.1:5000/callback".into(),
            state: "client-state".into(),
            code_challenge: "challenge".into(),
        }),
        created_at: now,
        expires_at: Timestamp::from_millis(now.as_millis() + 600_000),
    }
}

fn a_sign_in_is_taken_once_and_not_after_it_expires(store: &dyn Store) {
    let now = Timestamp::now();
    let cli = flow("s1", now, true);
    store.start_login(&cli).unwrap();
    store.start_login(&flow("s2", now, false)).unwrap();
    assert_eq!(store.take_login("s1", now).unwrap(), Some(cli));
    assert_eq!(store.take_login("s1", now).unwrap(), None, "single use");
    assert_eq!(store.take_login("unknown", now).unwrap(), None);
    let later = Timestamp::from_millis(now.as_millis() + 600_001);
    assert_eq!(store.take_login("s2", later).unwrap(), None, "expired");
}

fn code(
    hash: &str,
    tenant: &relay_core::TenantId,
    user: &relay_core::UserId,
    purpose: CodePurpose,
    now: Timestamp,
) -> AuthCode {
    AuthCode {
        code_hash: hash.into(),
        tenant_id: tenant.clone(),
        user_id: user.clone(),
        purpose,
        code_challenge: Some("challenge".into()),
        redirect_uri: Some("http://127.0.0.1:5000/callback".into()),
        handoff_hash: (purpose == CodePurpose::Web).then(|| "handoff".into()),
        created_at: now,
        expires_at: Timestamp::from_millis(now.as_millis() + 300_000),
    }
}

fn one_time_codes_redeem_once_for_their_purpose(store: &dyn Store) {
    let acme = store.create_tenant(&slug("acme"), "Acme", &[]).unwrap();
    let alice = store
        .provision_user(&acme.id, &email("alice@acme.com"), "sub-alice")
        .unwrap();
    let now = Timestamp::now();
    let cli = code("c1", &acme.id, &alice.id, CodePurpose::Cli, now);
    store.issue_auth_code(&cli).unwrap();
    store
        .issue_auth_code(&code("w1", &acme.id, &alice.id, CodePurpose::Web, now))
        .unwrap();

    // A web code is no CLI code and the reverse.
    assert_eq!(
        store.redeem_auth_code("w1", CodePurpose::Cli, now).unwrap(),
        Redemption::Unknown
    );
    assert_eq!(
        store.redeem_auth_code("c1", CodePurpose::Cli, now).unwrap(),
        Redemption::Redeemed(cli)
    );
    assert_eq!(
        store.redeem_auth_code("c1", CodePurpose::Cli, now).unwrap(),
        Redemption::AlreadyUsed
    );
    let late = Timestamp::from_millis(now.as_millis() + 300_000);
    assert_eq!(
        store
            .redeem_auth_code("w1", CodePurpose::Web, late)
            .unwrap(),
        Redemption::Expired
    );
    assert_eq!(
        store
            .redeem_auth_code("nope", CodePurpose::Web, now)
            .unwrap(),
        Redemption::Unknown
    );
}

fn sessions_end_on_logout_expiry_and_disabling(store: &dyn Store) {
    let acme = store.create_tenant(&slug("acme"), "Acme", &[]).unwrap();
    let alice = store
        .provision_user(&acme.id, &email("alice@acme.com"), "sub-alice")
        .unwrap();
    let now = Timestamp::now();
    let expires = Timestamp::from_millis(now.as_millis() + 3_600_000);
    store
        .create_web_session(&acme.id, &alice.id, "h1", expires)
        .unwrap();
    let session = store.web_session("h1", now).unwrap().unwrap();
    assert_eq!(
        (session.user.id.clone(), session.tenant.slug.as_str()),
        (alice.id.clone(), "acme")
    );
    assert_eq!(store.web_session("h1", expires).unwrap(), None, "expired");
    assert!(store.end_web_session("h1").unwrap());
    assert!(!store.end_web_session("h1").unwrap());
    assert_eq!(store.web_session("h1", now).unwrap(), None);

    store
        .create_web_session(&acme.id, &alice.id, "h2", expires)
        .unwrap();
    let disabled = store.set_user_disabled(&acme.id, &alice.id, true).unwrap();
    assert!(disabled.disabled);
    assert_eq!(store.web_session("h2", now).unwrap(), None);
    assert!(
        !store
            .set_user_disabled(&acme.id, &alice.id, false)
            .unwrap()
            .disabled
    );

    // Deleting the tenant takes its sign-in state with it.
    store
        .create_web_session(&acme.id, &alice.id, "h3", expires)
        .unwrap();
    store
        .issue_auth_code(&code("c9", &acme.id, &alice.id, CodePurpose::Web, now))
        .unwrap();
    let mut started = flow("s9", now, false);
    started.tenant = Some(acme.id.clone());
    store.start_login(&started).unwrap();
    store.delete_tenant(&acme.id).unwrap();
    assert_eq!(store.web_session("h3", now).unwrap(), None);
    assert_eq!(
        store.redeem_auth_code("c9", CodePurpose::Web, now).unwrap(),
        Redemption::Unknown
    );
    assert_eq!(store.take_login("s9", now).unwrap(), None);
}

fn hd_requirement_is_per_tenant(store: &dyn Store) {
    let acme = store.create_tenant(&slug("acme"), "Acme", &[]).unwrap();
    let globex = store.create_tenant(&slug("globex"), "Globex", &[]).unwrap();
    assert!(!store.tenant_requires_hd(&acme.id).unwrap());
    store.set_tenant_requires_hd(&acme.id, true).unwrap();
    assert!(store.tenant_requires_hd(&acme.id).unwrap());
    assert!(!store.tenant_requires_hd(&globex.id).unwrap());
    let gone = relay_core::TenantId::generate();
    assert!(matches!(
        store.set_tenant_requires_hd(&gone, true),
        Err(StoreError::NotFound(_))
    ));
}

fn racing_redemptions_spend_a_code_and_a_sign_in_once(store: &dyn Store) {
    let acme = store.create_tenant(&slug("acme"), "Acme", &[]).unwrap();
    let alice = store
        .provision_user(&acme.id, &email("alice@acme.com"), "sub-alice")
        .unwrap();
    let now = Timestamp::now();
    store
        .issue_auth_code(&code("race", &acme.id, &alice.id, CodePurpose::Cli, now))
        .unwrap();
    store.start_login(&flow("race-state", now, true)).unwrap();
    let (codes, flows) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let code = store
                        .redeem_auth_code("race", CodePurpose::Cli, now)
                        .unwrap();
                    let flow = store.take_login("race-state", now).unwrap();
                    (code, flow)
                })
            })
            .collect();
        let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let codes = results
            .iter()
            .filter(|(code, _)| matches!(code, Redemption::Redeemed(_)))
            .count();
        let flows = results.iter().filter(|(_, flow)| flow.is_some()).count();
        (codes, flows)
    });
    assert_eq!((codes, flows), (1, 1));
}

fn the_last_admin_stays_whatever_the_order(store: &dyn Store) {
    let acme = store.create_tenant(&slug("acme"), "Acme", &[]).unwrap();
    let a = store
        .create_user(&acme.id, &email("a@acme.com"), Role::Admin)
        .unwrap();
    let b = store
        .create_user(&acme.id, &email("b@acme.com"), Role::Admin)
        .unwrap();
    // Two admins demote each other at once: one succeeds, one is refused.
    let outcomes = std::thread::scope(|scope| {
        let first =
            scope.spawn(|| store.update_user_guarded(&acme.id, &a.id, Some(Role::Member), None));
        let second = scope.spawn(|| store.update_user_guarded(&acme.id, &b.id, None, Some(true)));
        [first.join().unwrap(), second.join().unwrap()]
    });
    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(StoreError::Conflict(_))))
        .count();
    assert_eq!(refused, 1, "{outcomes:?}");
    let active_admins = store
        .list_users(&acme.id)
        .unwrap()
        .into_iter()
        .filter(|user| user.role == Role::Admin && !user.disabled)
        .count();
    assert_eq!(active_admins, 1);
}
