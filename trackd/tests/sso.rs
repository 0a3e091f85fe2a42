//! Single sign-on against a real OIDC provider over real HTTP (relay-testkit's, with RS256 and
//! ES256 keys made at test time): the browser flow, the CLI flow with PKCE, token exchange, and
//! every refusal, on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::time::Duration;

use relay_core::{Domain, Timestamp};
use relay_store::{AuthCode, CodePurpose};
use relay_testkit::browser::{Browser, percent_encode as encode, query_of};
use relay_testkit::oidc::{CLIENT_ID, Identity, OidcProvider, Signing, Tamper, TokenSpec};

use crate::support::{Answer, Client, Server, parse};

macro_rules! with_sso {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let (server, idp) = super::start(relay_testkit::TestDatabase::sqlite());
                    super::$name(server, idp);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(database) = relay_testkit::TestDatabase::postgres() {
                        let (server, idp) = super::start(database);
                        super::$name(server, idp);
                    }
                }
            )*
        }
    };
}

with_sso!(
    a_browser_signs_in_and_lands_on_its_tenant,
    the_cli_trades_its_one_time_code_for_a_key,
    one_time_codes_are_single_use_pkce_bound_and_expire,
    login_takes_only_loopback_redirects,
    the_callback_refuses_what_it_cannot_trust,
    token_exchange_verifies_every_claim,
    unknown_keys_refetch_the_jwks_at_most_once,
    a_tenant_can_require_its_workspace_domain,
    admins_manage_users_and_keys_of_their_tenant_only,
    the_session_hand_off_belongs_to_the_browser_that_signed_in,
    sign_in_goes_on_with_known_keys_while_the_provider_is_down,
);

fn start(database: relay_testkit::TestDatabase) -> (Server, OidcProvider) {
    let idp = OidcProvider::start();
    let issuer = idp.issuer();
    let server = Server::start_with(database, |config| {
        config.sso = Some(
            trackd::SsoConfig::new(
                &issuer,
                CLIENT_ID,
                Some(relay_testkit::oidc::CLIENT_SECRET.into()),
            )
            .unwrap(),
        );
    });
    for (tenant, domain) in [
        (&server.acme.id, "acme.com"),
        (&server.globex.id, "globex.com"),
    ] {
        server
            .store
            .add_domain(tenant, &Domain::parse(domain).unwrap())
            .unwrap();
    }
    (server, idp)
}

fn base(server: &Server) -> String {
    format!("http://localhost:{}", server.addr.port())
}

fn tenant_url(server: &Server, slug: &str) -> String {
    format!("http://{slug}.localhost:{}", server.addr.port())
}

const VERIFIER: &str = "cli-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
const LOOPBACK: &str = "http://127.0.0.1:45678/callback";

/// base64url(SHA-256(VERIFIER)), computed the way a client would.
fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// Runs the CLI's browser part: login on `host_url`, through the provider, to the loopback.
/// Returns the loopback URL's query (code and state, or error and error_description).
fn cli_sign_in(browser: &mut Browser, host_url: &str) -> HashMap<String, String> {
    let url = format!(
        "{host_url}/auth/login?redirect_uri={}&state=cli-state-1&code_challenge={}&code_challenge_method=S256",
        encode(LOOPBACK),
        challenge(VERIFIER)
    );
    let visit = browser.visit(&url, Some("http://127.0.0.1:45678/"));
    let stopped = visit.stopped_at.unwrap_or_else(|| {
        panic!(
            "never reached the loopback: {:?} {}",
            visit.trail,
            visit.page.json()
        )
    });
    query_of(&stopped)
}

fn token(client: &Client, host: &str, form: &[(&str, &str)]) -> Answer {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let body = body.join("&");
    let request = format!(
        "POST /auth/token HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    parse(&client.raw(request.as_bytes()))
}

fn redeem(client: &Client, host: &str, code: &str, verifier: &str) -> Answer {
    token(
        client,
        host,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", LOOPBACK),
        ],
    )
}

fn exchange(client: &Client, host: &str, id_token: &str) -> Answer {
    token(
        client,
        host,
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", id_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ],
    )
}

fn a_browser_signs_in_and_lands_on_its_tenant(server: Server, idp: OidcProvider) {
    idp.sign_in_as(Identity::new("alice@acme.com"));
    let mut browser = Browser::new();
    let visit = browser.visit(&format!("{}/auth/login", tenant_url(&server, "acme")), None);
    let trail = visit.trail.join("\n");
    // Moved to the base domain, through the provider, back to the one callback, handed to the
    // tenant host, landed on its page.
    assert!(
        visit.trail[1].starts_with(&format!("{}/auth/login?tenant=acme", base(&server))),
        "{trail}"
    );
    assert!(
        visit.trail[2].starts_with(&format!("{}/authorize?", idp.issuer())),
        "{trail}"
    );
    assert!(
        visit.trail[3].starts_with(&format!("{}/auth/callback?", base(&server))),
        "{trail}"
    );
    assert!(
        visit.trail[4].starts_with(&format!(
            "{}/auth/session?code=",
            tenant_url(&server, "acme")
        )),
        "{trail}"
    );
    assert_eq!(visit.trail[5], format!("{}/", tenant_url(&server, "acme")));
    assert_eq!(visit.page.status, 200, "{trail}");
    let page = parse_body(&browser, &server, "acme.localhost", "/");
    assert!(
        page.contains("Signed in as <strong>alice@acme.com</strong> (member)"),
        "{page}"
    );

    // The cookie is HttpOnly and SameSite=Lax, and works only on its own tenant.
    let me = browser.request("GET", &format!("{}/api/me", tenant_url(&server, "acme")));
    assert_eq!(
        (me.status, me.json()["user"]["email"].as_str()),
        (200, Some("alice@acme.com"))
    );
    assert_eq!(me.json()["user"]["role"], "member");
    let session = browser.cookie("acme.localhost", "relay_session").unwrap();
    let elsewhere = server
        .client()
        .send("GET", "/api/me", "globex.localhost", None, None);
    assert_eq!(elsewhere.status, 401);
    let raw = format!(
        "GET /api/me HTTP/1.1\r\nHost: globex.localhost\r\nCookie: relay_session={session}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(parse(&server.client().raw(raw.as_bytes())).status, 401);
    // A session cookie changes nothing by itself: a write still takes a key.
    let raw = format!(
        "POST /api/track HTTP/1.1\r\nHost: acme.localhost\r\nCookie: relay_session={session}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    assert_eq!(parse(&server.client().raw(raw.as_bytes())).status, 401);

    // Provisioned as a member, keyed on the provider's subject.
    let user = server
        .store
        .user_by_email(&server.acme.id, &"alice@acme.com".parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(user.oidc_subject, Some(Identity::new("alice@acme.com").sub));

    // Logging out ends the session on the server, not only in this browser.
    let out = browser.request(
        "POST",
        &format!("{}/auth/logout", tenant_url(&server, "acme")),
    );
    assert_eq!((out.status, out.header("location")), (303, Some("/")));
    assert_eq!(browser.cookie("acme.localhost", "relay_session"), None);
    // An API client gets JSON (and there is no session left to end).
    let again = server
        .client()
        .send("POST", "/auth/logout", "acme.localhost", None, Some(""));
    assert_eq!(
        (again.status, &again.json["signed_out"]),
        (200, &serde_json::json!(false))
    );
    assert_eq!(parse(&server.client().raw(
        format!("GET /api/me HTTP/1.1\r\nHost: acme.localhost\r\nCookie: relay_session={session}\r\nConnection: close\r\n\r\n").as_bytes()
    )).status, 401);

    // A disabled user cannot sign in.
    server
        .store
        .set_user_disabled(&server.acme.id, &user.id, true)
        .unwrap();
    let mut browser = Browser::new();
    let refused = browser.visit(&format!("{}/auth/login", tenant_url(&server, "acme")), None);
    assert_eq!(
        (refused.page.status, refused.page.error_code().as_str()),
        (403, "user_disabled")
    );
}

fn parse_body(browser: &Browser, server: &Server, host: &str, path: &str) -> String {
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(session) = browser.cookie(host, "relay_session") {
        head.push_str(&format!("Cookie: relay_session={session}\r\n"));
    }
    head.push_str("\r\n");
    server.client().raw(head.as_bytes())
}

fn the_cli_trades_its_one_time_code_for_a_key(server: Server, idp: OidcProvider) {
    idp.sign_in_as(Identity::new("carol@acme.com"));
    let mut browser = Browser::new();
    let back = cli_sign_in(&mut browser, &tenant_url(&server, "acme"));
    assert_eq!(back["state"], "cli-state-1", "{back:?}");
    let client = server.client();
    let answer = redeem(&client, "acme.localhost", &back["code"], VERIFIER);
    assert_eq!(answer.status, 200, "{}", answer.json);
    assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(answer.json["token_type"], "Bearer");
    assert_eq!(
        answer.json["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(answer.json["tenant"]["slug"], "acme");
    assert_eq!(answer.json["user"]["email"], "carol@acme.com");
    let key = answer.json["access_token"].as_str().unwrap().to_owned();
    assert!(key.starts_with("rly_"));

    let me = client.get("/api/me", "acme.localhost", &key);
    assert_eq!(
        (me.status, me.json["user"]["email"].as_str()),
        (200, Some("carol@acme.com"))
    );
    let other = client.get("/api/me", "globex.localhost", &key);
    assert_eq!((other.status, other.code()), (403, "wrong_tenant"));

    // The key is an ordinary key, labelled with where it came from.
    let keys = server.store.list_api_keys(&server.acme.id).unwrap();
    assert!(
        keys.iter().any(|k| k.name == "sso: relay-mcp login"),
        "{keys:?}"
    );
}

fn one_time_codes_are_single_use_pkce_bound_and_expire(server: Server, idp: OidcProvider) {
    idp.sign_in_as(Identity::new("dave@acme.com"));
    let client = server.client();
    let keys_before = server.store.list_api_keys(&server.acme.id).unwrap().len();

    let code = cli_sign_in(&mut Browser::new(), &tenant_url(&server, "acme"))["code"].clone();
    assert_eq!(
        redeem(&client, "acme.localhost", &code, VERIFIER).status,
        200
    );
    let replay = redeem(&client, "acme.localhost", &code, VERIFIER);
    assert_eq!((replay.status, replay.code()), (400, "invalid_grant"));
    assert!(
        replay.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    // A wrong verifier is refused, and spends the code: no second guess.
    let code = cli_sign_in(&mut Browser::new(), &tenant_url(&server, "acme"))["code"].clone();
    let wrong = redeem(
        &client,
        "acme.localhost",
        &code,
        &VERIFIER.replace('0', "1"),
    );
    assert_eq!((wrong.status, wrong.code()), (400, "invalid_grant"));
    assert!(
        wrong.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );
    assert_eq!(
        redeem(&client, "acme.localhost", &code, VERIFIER).status,
        400
    );

    // Another redirect_uri than the sign-in's.
    let code = cli_sign_in(&mut Browser::new(), &tenant_url(&server, "acme"))["code"].clone();
    let moved = token(
        &client,
        "acme.localhost",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ],
    );
    assert_eq!((moved.status, moved.code()), (400, "invalid_grant"));

    // Redeemed on another tenant's host.
    let code = cli_sign_in(&mut Browser::new(), &tenant_url(&server, "acme"))["code"].clone();
    let elsewhere = redeem(&client, "globex.localhost", &code, VERIFIER);
    assert_eq!((elsewhere.status, elsewhere.code()), (403, "wrong_tenant"));

    // An expired code (issued six minutes ago).
    let dave = server
        .store
        .user_by_email(&server.acme.id, &"dave@acme.com".parse().unwrap())
        .unwrap()
        .unwrap();
    let then = Timestamp::from_millis(Timestamp::now().as_millis() - 360_000);
    server
        .store
        .issue_auth_code(&AuthCode {
            code_hash: hex_sha256("old-code"),
            tenant_id: server.acme.id.clone(),
            user_id: dave.id,
            purpose: CodePurpose::Cli,
            code_challenge: Some(challenge(VERIFIER)),
            redirect_uri: Some(LOOPBACK.into()),
            handoff_hash: None,
            created_at: then,
            expires_at: Timestamp::from_millis(then.as_millis() + 300_000),
        })
        .unwrap();
    let expired = redeem(&client, "acme.localhost", "old-code", VERIFIER);
    assert_eq!((expired.status, expired.code()), (400, "invalid_grant"));
    assert!(
        expired.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let unknown = redeem(&client, "acme.localhost", "never-issued", VERIFIER);
    assert_eq!((unknown.status, unknown.code()), (400, "invalid_grant"));

    // Only the first redemption made a key.
    assert_eq!(
        server.store.list_api_keys(&server.acme.id).unwrap().len(),
        keys_before + 1
    );
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text))
}

fn login_takes_only_loopback_redirects(server: Server, _idp: OidcProvider) {
    let client = server.client();
    let good_challenge = challenge(VERIFIER);
    for (query, why) in [
        (
            format!(
                "redirect_uri={}&state=s&code_challenge={good_challenge}",
                encode("https://evil.example.com/cb")
            ),
            "loopback",
        ),
        (
            format!(
                "redirect_uri={}&state=s&code_challenge={good_challenge}",
                encode("http://127.0.0.1.evil.example.com/cb")
            ),
            "loopback",
        ),
        (
            format!(
                "redirect_uri={}&state=s&code_challenge={good_challenge}",
                encode("http://user@127.0.0.1:5/cb")
            ),
            "loopback",
        ),
        (
            format!("redirect_uri={}&state=s", encode(LOOPBACK)),
            "code_challenge",
        ),
        (
            format!(
                "redirect_uri={}&code_challenge={good_challenge}",
                encode(LOOPBACK)
            ),
            "state",
        ),
        (
            format!(
                "redirect_uri={}&state=s&code_challenge={good_challenge}&code_challenge_method=plain",
                encode(LOOPBACK)
            ),
            "S256",
        ),
        (
            format!("state=s&code_challenge={good_challenge}"),
            "redirect_uri",
        ),
        // A name, even localhost, could resolve elsewhere: IP literals only (RFC 8252).
        (
            format!(
                "redirect_uri={}&state=s&code_challenge={good_challenge}",
                encode("http://localhost:45678/callback")
            ),
            "loopback",
        ),
        (
            format!(
                "redirect_uri={}&state=s&code_challenge={good_challenge}",
                encode("http://127.0.0.1:45678/cb\r\nSet-Cookie: x=1")
            ),
            "loopback",
        ),
    ] {
        let answer = client.send(
            "GET",
            &format!("/auth/login?{query}"),
            "localhost",
            None,
            None,
        );
        assert_eq!(
            (answer.status, answer.code()),
            (400, "invalid_request"),
            "{query}"
        );
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{query}: {message}");
    }
    let unknown = client.send("GET", "/auth/login?tenant=initech", "localhost", None, None);
    assert_eq!(unknown.status, 404);
    // A browser sign-in on the base domain is sent to its tenant's host, found by email.
    let nobody = client.send("GET", "/auth/login", "localhost", None, None);
    assert_eq!((nobody.status, nobody.code()), (400, "invalid_request"));
    assert!(
        nobody.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("organization's address")
    );
    let bob = client.send(
        "GET",
        "/auth/login?login_hint=bob%40globex.com",
        "localhost",
        None,
        None,
    );
    assert_eq!(bob.status, 302);
    assert_eq!(
        bob.header("location").unwrap(),
        format!(
            "{}/auth/login?login_hint=bob%40globex.com",
            tenant_url(&server, "globex")
        )
    );
    let stranger = client.send(
        "GET",
        "/auth/login?login_hint=x%40other.com",
        "localhost",
        None,
        None,
    );
    assert_eq!((stranger.status, stranger.code()), (403, "unknown_domain"));
}

fn the_callback_refuses_what_it_cannot_trust(server: Server, idp: OidcProvider) {
    let acme_login = format!("{}/auth/login", tenant_url(&server, "acme"));
    let refusal = |identity: Identity, tamper: Option<Tamper>, start: &str| {
        idp.sign_in_as(identity);
        if let Some(tamper) = tamper {
            idp.tamper_next(tamper);
        }
        let visit = Browser::new().visit(start, None);
        (
            visit.page.status,
            visit.page.error_code(),
            visit.page.json()["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };

    let (status, code, message) = refusal(Identity::new("x@other.com"), None, &acme_login);
    assert_eq!((status, code.as_str()), (403, "unknown_domain"));
    assert!(
        message.contains("x@other.com belongs to no organization on this server"),
        "{message}"
    );

    let (status, code, message) = refusal(Identity::new("bob@globex.com"), None, &acme_login);
    assert_eq!((status, code.as_str()), (403, "wrong_tenant"), "{message}");
    assert!(
        message.contains(&tenant_url(&server, "globex")),
        "{message}"
    );

    let (status, code, _) = refusal(
        Identity::new("eve@acme.com").unverified(),
        None,
        &acme_login,
    );
    assert_eq!((status, code.as_str()), (403, "email_unverified"));

    let nonce = Tamper {
        nonce: Some("another-nonce".into()),
        ..Tamper::default()
    };
    let (status, code, message) =
        refusal(Identity::new("alice@acme.com"), Some(nonce), &acme_login);
    assert_eq!((status, code.as_str()), (401, "invalid_token"));
    assert!(message.contains("nonce"), "{message}");

    let audience = Tamper {
        aud: Some("someone-else".into()),
        ..Tamper::default()
    };
    let (status, _, message) =
        refusal(Identity::new("alice@acme.com"), Some(audience), &acme_login);
    assert_eq!(status, 401);
    assert!(message.contains("another application"), "{message}");

    let forged = Tamper {
        signing: Some(Signing::Hs256WithPublicKey),
        ..Tamper::default()
    };
    let (status, _, message) = refusal(Identity::new("alice@acme.com"), Some(forged), &acme_login);
    assert_eq!(status, 401);
    assert!(message.contains("RS256"), "{message}");

    // On the base domain, where people choose no tenant, the email's domain decides.
    let (status, _, _) = refusal(
        Identity::new("bob@globex.com"),
        None,
        &format!("{}/auth/login?login_hint=bob%40globex.com", base(&server)),
    );
    assert_eq!(status, 200, "bob lands on globex's page");

    // No nonce at all is no better than a wrong one.
    let no_nonce = Tamper {
        drop_nonce: true,
        ..Tamper::default()
    };
    let (status, _, message) =
        refusal(Identity::new("alice@acme.com"), Some(no_nonce), &acme_login);
    assert_eq!(status, 401);
    assert!(message.contains("nonce"), "{message}");

    // The state ties the callback to one sign-in, once, in the browser that started it.
    let client = server.client();
    let unknown = client.send(
        "GET",
        "/auth/callback?state=made-up&code=x",
        "localhost",
        None,
        None,
    );
    assert_eq!((unknown.status, unknown.code()), (400, "invalid_state"));
    let mut starter = Browser::new();
    let authorize = starter
        .visit(&acme_login, Some(&format!("{}/authorize", idp.issuer())))
        .stopped_at
        .unwrap();
    let back = Browser::new()
        .request("GET", &authorize)
        .header("location")
        .unwrap()
        .to_owned();
    // Another browser (no sign-in cookie) brings the provider's answer back: refused.
    let mut other = Browser::new();
    let stolen = other.request("GET", &back);
    assert_eq!(
        (stolen.status, stolen.error_code().as_str()),
        (400, "state_mismatch")
    );
    // ... and the sign-in is gone, even for the browser that started it.
    let replay = starter.request("GET", &back);
    assert_eq!(
        (replay.status, replay.error_code().as_str()),
        (400, "invalid_state")
    );

    // The callback lives on the base domain only.
    let misplaced = client.send(
        "GET",
        "/auth/callback?state=x",
        "acme.localhost",
        None,
        None,
    );
    assert_eq!(misplaced.status, 404);

    // A CLI hears about a refusal on its loopback, the OAuth way.
    idp.sign_in_as(Identity::new("x@other.com"));
    let back = cli_sign_in(&mut Browser::new(), &tenant_url(&server, "acme"));
    assert_eq!(back["error"], "unknown_domain", "{back:?}");
    assert_eq!(back["state"], "cli-state-1");
    assert!(back["error_description"].contains("x@other.com"));
    assert!(!back.contains_key("code"));
}

fn token_exchange_verifies_every_claim(server: Server, idp: OidcProvider) {
    let client = server.client();
    let alice = Identity::new("alice@acme.com");
    let spec = || TokenSpec::for_identity(&alice, CLIENT_ID);
    let keys_before = server.store.list_api_keys(&server.acme.id).unwrap().len();

    let ok = exchange(&client, "acme.localhost", &idp.mint(&spec()));
    assert_eq!(ok.status, 200, "{}", ok.json);
    let key = ok.json["access_token"].as_str().unwrap();
    assert_eq!(
        client.get("/api/me", "acme.localhost", key).json["user"]["email"],
        "alice@acme.com"
    );
    let es256 = exchange(
        &client,
        "localhost",
        &idp.mint(&spec().with_signing(Signing::Es256)),
    );
    assert_eq!(
        (es256.status, es256.json["tenant"]["slug"].as_str()),
        (200, Some("acme"))
    );

    let refusals: Vec<(&str, TokenSpec, u16, &str)> = vec![
        (
            "another audience",
            spec().with_audiences(&["someone-else"]),
            401,
            "another application",
        ),
        (
            "another issuer",
            spec().with_issuer("https://accounts.evil.example.com"),
            401,
            "another provider",
        ),
        (
            "expired",
            spec().with_iat_offset(-900).with_exp_offset(-300),
            401,
            "expired",
        ),
        (
            "not yet valid",
            spec().with_nbf_offset(600),
            401,
            "not valid yet",
        ),
        (
            "issued in the future",
            spec().with_iat_offset(600).with_exp_offset(1200),
            401,
            "future",
        ),
        (
            "bad signature",
            spec().with_signing(Signing::BadSignature),
            401,
            "signature",
        ),
        ("alg none", spec().with_signing(Signing::None), 401, "RS256"),
        (
            "HS256 with the public key",
            spec().with_signing(Signing::Hs256WithPublicKey),
            401,
            "RS256",
        ),
        (
            "issued long ago (not yet expired)",
            spec().with_iat_offset(-900).with_exp_offset(600),
            401,
            "more than 10 minutes ago",
        ),
        (
            "unknown kid",
            spec().with_signing(Signing::UnknownKey),
            401,
            "does not publish",
        ),
        (
            "unverified email",
            TokenSpec::for_identity(&Identity::new("alice@acme.com").unverified(), CLIENT_ID),
            403,
            "not verified",
        ),
        (
            "a domain no tenant owns",
            TokenSpec::for_identity(&Identity::new("alice@other.com"), CLIENT_ID),
            403,
            "belongs to no organization",
        ),
        (
            "several audiences, not for us",
            spec()
                .with_audiences(&[CLIENT_ID, "other"])
                .with_azp("other"),
            401,
            "azp",
        ),
    ];
    for (why, token_spec, status, text) in refusals {
        let answer = exchange(&client, "acme.localhost", &idp.mint(&token_spec));
        assert_eq!(answer.status, status, "{why}: {}", answer.json);
        let message = answer.json["error"]["message"].as_str().unwrap();
        assert!(message.contains(text), "{why}: {message}");
    }
    // A token of a globex person, on acme's host.
    let bob = exchange(
        &client,
        "acme.localhost",
        &idp.mint(&TokenSpec::for_identity(
            &Identity::new("bob@globex.com"),
            CLIENT_ID,
        )),
    );
    assert_eq!((bob.status, bob.code()), (403, "wrong_tenant"));

    for (form, code) in [
        (
            vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", "x"),
            ],
            "invalid_request",
        ),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![], "invalid_request"),
    ] {
        let answer = token(&client, "acme.localhost", &form);
        assert_eq!((answer.status, answer.code()), (400, code), "{form:?}");
    }
    // Only the two good tokens made keys.
    assert_eq!(
        server.store.list_api_keys(&server.acme.id).unwrap().len(),
        keys_before + 2
    );
}

fn unknown_keys_refetch_the_jwks_at_most_once(server: Server, idp: OidcProvider) {
    let client = server.client();
    let spec = TokenSpec::for_identity(&Identity::new("alice@acme.com"), CLIENT_ID);
    assert_eq!(
        exchange(&client, "acme.localhost", &idp.mint(&spec)).status,
        200
    );
    let fetched = idp.jwks_fetches();

    // The provider rotates its key: the first token with the new kid re-reads the keys.
    // Re-reads are spaced 10 s apart, so wait out the first read.
    std::thread::sleep(Duration::from_secs(10));
    idp.rotate_key(false);
    assert_eq!(
        exchange(&client, "acme.localhost", &idp.mint(&spec)).status,
        200
    );
    assert_eq!(idp.jwks_fetches(), fetched + 1);

    // Forged kids right after do not make trackd hammer the provider.
    for _ in 0..5 {
        let forged = exchange(
            &client,
            "acme.localhost",
            &idp.mint(&spec.clone().with_signing(Signing::UnknownKey)),
        );
        assert_eq!(forged.status, 401);
    }
    assert_eq!(idp.jwks_fetches(), fetched + 1);
}

fn a_tenant_can_require_its_workspace_domain(server: Server, idp: OidcProvider) {
    let client = server.client();
    server
        .store
        .set_tenant_requires_hd(&server.acme.id, true)
        .unwrap();
    let plain = TokenSpec::for_identity(&Identity::new("alice@acme.com"), CLIENT_ID);
    let refused = exchange(&client, "acme.localhost", &idp.mint(&plain));
    assert_eq!((refused.status, refused.code()), (403, "hd_mismatch"));
    let managed = TokenSpec::for_identity(
        &Identity::new("alice@acme.com").with_hd("acme.com"),
        CLIENT_ID,
    );
    assert_eq!(
        exchange(&client, "acme.localhost", &idp.mint(&managed)).status,
        200
    );
    let foreign = TokenSpec::for_identity(
        &Identity::new("alice@acme.com").with_hd("globex.com"),
        CLIENT_ID,
    );
    assert_eq!(
        exchange(&client, "acme.localhost", &idp.mint(&foreign)).status,
        403
    );
    // Globex does not require it.
    let bob = TokenSpec::for_identity(&Identity::new("bob@globex.com"), CLIENT_ID);
    assert_eq!(
        exchange(&client, "globex.localhost", &idp.mint(&bob)).status,
        200
    );
}

fn admins_manage_users_and_keys_of_their_tenant_only(server: Server, _idp: OidcProvider) {
    let client = server.client();
    let (acme, globex) = (&server.acme, &server.globex);
    let send = |method: &str, path: &str, key: &str, body: Option<&str>| {
        client.send(method, path, "acme.localhost", Some(key), body)
    };
    // Members are refused everywhere here.
    for (method, path) in [
        ("GET", "/api/admin/users"),
        ("GET", "/api/admin/keys"),
        ("PATCH", "/api/admin/users/usr_x"),
        ("DELETE", "/api/admin/keys/key_x"),
    ] {
        let answer = send(method, path, &acme.member_key, Some(r#"{"role":"admin"}"#));
        assert_eq!(answer.status, 403, "{method} {path}");
    }
    let users = send("GET", "/api/admin/users", &acme.admin_key, None);
    assert_eq!(users.status, 200);
    let emails: Vec<&str> = users.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@acme.com", "dev@acme.com"]);
    let dev_id = users.json["users"][1]["id"].as_str().unwrap().to_owned();
    let admin_id = users.json["users"][0]["id"].as_str().unwrap().to_owned();

    // The last admin cannot demote themselves.
    let last = send(
        "PATCH",
        &format!("/api/admin/users/{admin_id}"),
        &acme.admin_key,
        Some(r#"{"role":"member"}"#),
    );
    assert_eq!(last.status, 409, "{}", last.json);
    let promoted = send(
        "PATCH",
        &format!("/api/admin/users/{dev_id}"),
        &acme.admin_key,
        Some(r#"{"role":"admin"}"#),
    );
    assert_eq!(
        (promoted.status, &promoted.json["user"]["role"]),
        (200, &serde_json::json!("admin"))
    );
    let bad = send(
        "PATCH",
        &format!("/api/admin/users/{dev_id}"),
        &acme.admin_key,
        Some(r#"{"role":"owner"}"#),
    );
    assert_eq!(bad.status, 400);

    // Another tenant's user and key are not found from here.
    let globex_users = client.get("/api/admin/users", "globex.localhost", &globex.admin_key);
    let globex_dev = globex_users.json["users"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let across = send(
        "PATCH",
        &format!("/api/admin/users/{globex_dev}"),
        &acme.admin_key,
        Some(r#"{"role":"admin"}"#),
    );
    assert_eq!(across.status, 404);
    let globex_keys = client.get("/api/admin/keys", "globex.localhost", &globex.admin_key);
    let globex_key = globex_keys.json["keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(
            "DELETE",
            &format!("/api/admin/keys/{globex_key}"),
            &acme.admin_key,
            None
        )
        .status,
        404
    );
    assert_eq!(
        client
            .get("/api/me", "globex.localhost", &globex.admin_key)
            .status,
        200
    );

    // Revoking a key holds within a second.
    let keys = send("GET", "/api/admin/keys", &acme.admin_key, None);
    let listed: Vec<&str> = keys.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["user_email"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["admin@acme.com", "dev@acme.com"]);
    assert!(
        !keys.json.to_string().contains(&acme.member_key),
        "keys are never shown"
    );
    let member_key_id = keys.json["keys"][1]["id"].as_str().unwrap().to_owned();
    let revoked = send(
        "DELETE",
        &format!("/api/admin/keys/{member_key_id}"),
        &acme.admin_key,
        None,
    );
    assert_eq!(revoked.status, 200);
    assert!(revoked.json["key"]["revoked_at"].is_string());
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        client
            .get("/api/me", "acme.localhost", &acme.member_key)
            .status,
        401
    );
}

#[test]
fn without_a_provider_sign_in_says_how_to_turn_it_on() {
    let server = Server::start(relay_testkit::TestDatabase::sqlite());
    let answer = server
        .client()
        .send("GET", "/auth/login", "localhost", None, None);
    assert_eq!((answer.status, answer.code()), (404, "sso_disabled"));
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("RELAY_OIDC_CLIENT_ID")
    );
}

/// Login CSRF: a one-time hand-off code someone else obtained (their own sign-in, sent as a
/// link) does not sign this browser in.
fn the_session_hand_off_belongs_to_the_browser_that_signed_in(server: Server, idp: OidcProvider) {
    idp.sign_in_as(Identity::new("mallory@acme.com"));
    let acme = tenant_url(&server, "acme");
    let session_prefix = format!("{acme}/auth/session");
    let mut mallory = Browser::new();
    let link = mallory
        .visit(&format!("{acme}/auth/login"), Some(&session_prefix))
        .stopped_at
        .unwrap();
    let mut alice = Browser::new();
    let lured = alice.request("GET", &link);
    assert_eq!(
        (lured.status, lured.error_code().as_str()),
        (400, "state_mismatch")
    );
    assert_eq!(alice.cookie("acme.localhost", "relay_session"), None);
    // The code is spent: nobody can use it any more.
    let replay = mallory.request("GET", &link);
    assert_eq!(
        (replay.status, replay.error_code().as_str()),
        (400, "invalid_grant")
    );

    // A hand-off on another tenant's host, and a code nobody issued.
    let link = mallory
        .visit(&format!("{acme}/auth/login"), Some(&session_prefix))
        .stopped_at
        .unwrap();
    let moved = link.replace("acme.localhost", "globex.localhost");
    let elsewhere = mallory.request("GET", &moved);
    assert_eq!(
        (elsewhere.status, elsewhere.error_code().as_str()),
        (403, "wrong_tenant")
    );
    let unknown = mallory.request("GET", &format!("{session_prefix}?code=made-up"));
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (400, "invalid_grant")
    );

    // The browser that signed in gets its session, with the cookie attributes it needs.
    let own = mallory.visit(&format!("{acme}/auth/login"), None);
    assert_eq!(own.page.status, 200, "{:?}", own.trail);
    let mut fresh = Browser::new();
    let handoff_url = fresh
        .visit(&format!("{acme}/auth/login"), Some(&session_prefix))
        .stopped_at
        .unwrap();
    let handed = fresh.request("GET", &handoff_url);
    assert_eq!(handed.status, 302);
    let cookie = handed
        .headers
        .iter()
        .find(|(name, value)| {
            name.eq_ignore_ascii_case("set-cookie") && value.starts_with("relay_session=")
        })
        .map(|(_, value)| value.clone())
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
}

/// The provider's keys are cached: while it is down, people whose tokens carry a known key
/// still sign in, and a token with an unknown key is refused at once.
fn sign_in_goes_on_with_known_keys_while_the_provider_is_down(server: Server, idp: OidcProvider) {
    let client = server.client();
    let spec = TokenSpec::for_identity(&Identity::new("alice@acme.com"), CLIENT_ID);
    assert_eq!(
        exchange(&client, "acme.localhost", &idp.mint(&spec)).status,
        200
    );
    let later = idp.mint(&spec);
    let forged = idp.mint(&spec.clone().with_signing(Signing::UnknownKey));
    drop(idp);
    assert_eq!(exchange(&client, "acme.localhost", &later).status, 200);
    let started = std::time::Instant::now();
    let refused = exchange(&client, "acme.localhost", &forged);
    assert_eq!(refused.status, 401, "{}", refused.json);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait on the provider"
    );
}

#[test]
fn behind_https_cookies_are_secure_and_redirects_use_the_public_url() {
    let idp = OidcProvider::start();
    let issuer = idp.issuer();
    let server = Server::start_with(relay_testkit::TestDatabase::sqlite(), |config| {
        config.public_url = Some("https://localhost".into());
        config.sso = Some(
            trackd::SsoConfig::new(
                &issuer,
                CLIENT_ID,
                Some(relay_testkit::oidc::CLIENT_SECRET.into()),
            )
            .unwrap(),
        );
    });
    let client = server.client();
    let start = client.send("GET", "/auth/login", "acme.localhost", None, None);
    assert_eq!(start.status, 302);
    let location = start.header("location").unwrap();
    assert!(
        location.starts_with("https://localhost/auth/login?"),
        "{location}"
    );
    let handoff = start.header("set-cookie").unwrap();
    for attribute in [
        "relay_handoff=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth",
        "Secure",
    ] {
        assert!(handoff.contains(attribute), "{handoff}");
    }
    let path = location.trim_start_matches("https://localhost");
    let to_provider = client.send("GET", path, "localhost", None, None);
    assert_eq!(to_provider.status, 302, "{}", to_provider.json);
    let authorize = to_provider.header("location").unwrap();
    assert!(
        authorize.contains(&format!(
            "redirect_uri={}",
            encode("https://localhost/auth/callback")
        )),
        "{authorize}"
    );
    let login = to_provider.header("set-cookie").unwrap();
    for attribute in [
        "relay_login=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/auth",
        "Secure",
    ] {
        assert!(login.contains(attribute), "{login}");
    }
}

/// Sign-in routes write without a key; a flood from one address is slowed down.
#[test]
fn a_flood_of_sign_in_requests_is_rate_limited() {
    let (server, _idp) = start(relay_testkit::TestDatabase::sqlite());
    let client = server.client();
    let limited = (0..1300)
        .map(|_| client.send("POST", "/auth/token", "localhost", None, Some("{}")))
        .find(|answer| answer.status == 429)
        .expect("1,300 sign-in requests in a row are not all served");
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.header("retry-after").is_some());
    // Keyed requests are not affected.
    assert_eq!(
        client
            .get("/api/me", "acme.localhost", &server.acme.member_key)
            .status,
        200
    );
}

/// Behind a trusted proxy, the client's address comes from X-Forwarded-For: one flooding
/// client does not lock out the others. From anyone else the header is ignored.
#[test]
fn the_proxy_says_who_the_client_is_only_when_trusted() {
    let flood = |server: &Server, from: &str, requests: usize| {
        (0..requests)
            .map(|_| {
                let request = format!(
                    "POST /auth/token HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: {from}\r\n\
                     Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
                parse(&server.client().raw(request.as_bytes())).status
            })
            .any(|status| status == 429)
    };
    let behind = Server::start_with(relay_testkit::TestDatabase::sqlite(), |config| {
        config.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    });
    assert!(flood(&behind, "203.0.113.7", 1300), "one client is limited");
    assert!(!flood(&behind, "198.51.100.9", 5), "another is not");

    let exposed = Server::start(relay_testkit::TestDatabase::sqlite());
    assert!(flood(&exposed, "203.0.113.7", 1300));
    assert!(
        flood(&exposed, "198.51.100.9", 5),
        "an untrusted peer's header changes nothing"
    );
}
