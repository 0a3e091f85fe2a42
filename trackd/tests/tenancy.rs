//! Which tenant a request is for, and whose key may act there.

use std::time::Duration;

use relay_core::ApiKeyHash;

use crate::support::{Server, on_every_backend};

on_every_backend!(
    the_host_names_the_tenant,
    a_key_of_another_tenant_is_refused,
    bad_hosts_and_keys_are_refused,
    revoked_keys_stop_within_a_second,
    tls_is_allowed_for_existing_tenants_only,
);

fn the_host_names_the_tenant(server: Server) {
    let client = server.client();
    let acme = &server.acme;
    for host in [
        "acme.localhost",
        "ACME.Localhost:8080",
        "acme.localhost.",
        "acme.localhost:1",
    ] {
        let me = client.get("/api/me", host, &acme.admin_key);
        assert_eq!(me.status, 200, "{host}: {}", me.json);
        assert_eq!(me.json["tenant"]["slug"], "acme");
        assert_eq!(me.json["tenant"]["name"], "acme Inc");
        assert_eq!(me.json["user"]["email"], "admin@acme.com");
        assert_eq!(me.json["user"]["role"], "admin");
    }
    // On a host that names no tenant, the key decides.
    for host in ["localhost", "127.0.0.1:9", "[::1]:8080"] {
        let me = client.get("/api/me", host, &server.globex.member_key);
        assert_eq!(
            (me.status, me.json["tenant"]["slug"].as_str()),
            (200, Some("globex")),
            "{host}"
        );
        assert_eq!(me.json["user"]["role"], "member");
    }
}

fn a_key_of_another_tenant_is_refused(server: Server) {
    let client = server.client();
    let answer = client.get("/api/me", &server.globex.host(), &server.acme.admin_key);
    assert_eq!((answer.status, answer.code()), (403, "wrong_tenant"));
    let answer = client.get(
        "/api/skills",
        &server.globex.host(),
        &server.acme.member_key,
    );
    assert_eq!((answer.status, answer.code()), (403, "wrong_tenant"));
    // Events sent with the wrong key on a tenant host are refused, and nothing is stored.
    let event = format!(
        r#"{{"skill_id":"{}","kind":"tool_use"}}"#,
        server.globex.skill
    );
    let answer = client.post(
        "/api/track",
        &server.globex.host(),
        &server.acme.member_key,
        &event,
    );
    assert_eq!((answer.status, answer.code()), (403, "wrong_tenant"));
    let day = relay_core::Timestamp::now().day();
    assert!(
        server
            .store
            .daily_usage(&server.globex.id, day, day)
            .unwrap()
            .is_empty()
    );
}

fn bad_hosts_and_keys_are_refused(server: Server) {
    let client = server.client();
    let key = &server.acme.admin_key;
    let answer = client.get("/api/me", "initech.localhost", key);
    assert_eq!((answer.status, answer.code()), (404, "unknown_tenant"));
    let answer = client.get("/api/me", "a.b.localhost", key);
    assert_eq!((answer.status, answer.code()), (404, "unknown_tenant"));
    for host in [
        "acme..localhost",
        "acme.localhost:http",
        "acme_corp.localhost",
        "[::1",
    ] {
        let answer = client.get("/api/me", host, key);
        assert_eq!((answer.status, answer.code()), (400, "bad_host"), "{host}");
    }
    // HTTP/1.0 allows leaving the Host out; Relay cannot tell the tenant then.
    let answer = crate::support::parse(
        &client
            .raw(format!("GET /api/me HTTP/1.0\r\nAuthorization: Bearer {key}\r\n\r\n").as_bytes()),
    );
    assert_eq!((answer.status, answer.code()), (400, "bad_host"));

    let answer = client.send("GET", "/api/me", "acme.localhost", None, None);
    assert_eq!((answer.status, answer.code()), (401, "unauthorized"));
    let answer = client.get("/api/me", "acme.localhost", "rly_not-a-real-key");
    assert_eq!((answer.status, answer.code()), (401, "unauthorized"));
    let answer = crate::support::parse(&client.raw(
        b"GET /api/me HTTP/1.1\r\nHost: acme.localhost\r\nAuthorization: Basic YTpi\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!((answer.status, answer.code()), (401, "unauthorized"));
}

fn revoked_keys_stop_within_a_second(server: Server) {
    let client = server.client();
    let key = &server.acme.member_key;
    assert_eq!(client.get("/api/me", "acme.localhost", key).status, 200);
    let principal = server
        .store
        .authenticate(&ApiKeyHash::of_presented(key))
        .unwrap()
        .unwrap();
    // Revoked straight in the database, as relay-admin does, not through this trackd.
    server
        .store
        .revoke_api_key(&server.acme.id, &principal.key.id)
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let answer = client.get("/api/me", "acme.localhost", key);
    assert_eq!((answer.status, answer.code()), (401, "unauthorized"));
    let event = format!(
        r#"{{"skill_id":"{}","kind":"tool_use"}}"#,
        server.acme.skill
    );
    assert_eq!(
        client
            .post("/api/track", "acme.localhost", key, &event)
            .status,
        401
    );
    // The tenant's other key still works.
    assert_eq!(
        client
            .get("/api/me", "acme.localhost", &server.acme.admin_key)
            .status,
        200
    );
}

fn tls_is_allowed_for_existing_tenants_only(server: Server) {
    let client = server.client();
    let ask = |domain: &str| {
        client
            .send(
                "GET",
                &format!("/internal/tls-allowed?domain={domain}"),
                "localhost",
                None,
                None,
            )
            .status
    };
    assert_eq!(ask("localhost"), 200);
    assert_eq!(ask("acme.localhost"), 200);
    assert_eq!(ask("GLOBEX.localhost"), 200);
    assert_eq!(ask("initech.localhost"), 404);
    assert_eq!(ask("a.acme.localhost"), 404);
    assert_eq!(ask("example.com"), 404);
    assert_eq!(ask(""), 404);
}
