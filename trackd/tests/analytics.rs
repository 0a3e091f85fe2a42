//! Analytics over real HTTP, on SQLite and PostgreSQL: events go in through `POST /api/track`,
//! figures come out of `/api/analytics/*` and the dashboard, scoped by Host, key and role.

use relay_core::Timestamp;

use crate::support::{Answer, Server, on_every_backend};

on_every_backend!(
    admins_see_the_tenant_and_members_their_own_use,
    periods_buckets_and_scopes_are_checked,
    every_answer_is_scoped_to_the_hosts_tenant,
    the_dashboard_shows_what_the_api_says,
);

/// Sends `kind` events of acme's demo skill with `key`, one per (session, tool use), now.
fn track(server: &Server, key: &str, host: &str, skill: &str, events: &[(&str, &str, &str)]) {
    let now = Timestamp::now();
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|(session, tool_use, kind)| {
            serde_json::json!({
                "skill_id": skill, "kind": kind, "session_id": session,
                "tool_use_id": tool_use, "tool_name": "Bash", "occurred_at": now.to_string(),
            })
        })
        .collect();
    let answer = server.client().post(
        "/api/track",
        host,
        key,
        &serde_json::json!({ "events": events }).to_string(),
    );
    assert_eq!(answer.status, 202, "{}", answer.json);
}

/// acme: the admin in two sessions (one invocation, three tool uses, a failure), the member in
/// one session; globex: one session of its own.
fn seed(server: &Server) {
    crate::support::set_hours_saved(&*server.store, &server.acme.id, &server.acme.skill, "0.75");
    let (acme, globex) = (&server.acme, &server.globex);
    let skill = acme.skill.to_string();
    track(
        server,
        &acme.admin_key,
        "acme.localhost",
        &skill,
        &[
            ("a1", "t1", "invocation"),
            ("a1", "t2", "tool_use"),
            ("a1", "t3", "tool_use"),
            ("a2", "t4", "tool_use"),
            ("a2", "t5", "tool_failure"),
        ],
    );
    track(
        server,
        &acme.member_key,
        "acme.localhost",
        &skill,
        &[("m1", "t1", "invocation"), ("m1", "t2", "tool_use")],
    );
    track(
        server,
        &globex.member_key,
        "globex.localhost",
        globex.skill.as_ref(),
        &[("g1", "t1", "tool_use")],
    );
}

fn get(server: &Server, path: &str, host: &str, key: &str) -> Answer {
    server.client().get(path, host, key)
}

fn admins_see_the_tenant_and_members_their_own_use(server: Server) {
    seed(&server);
    let acme = &server.acme;
    let today = Timestamp::now().day();

    let tenant = get(
        &server,
        "/api/analytics/summary",
        "acme.localhost",
        &acme.admin_key,
    );
    assert_eq!(tenant.status, 200, "{}", tenant.json);
    let json = &tenant.json;
    assert_eq!(json["scope"], "tenant");
    assert_eq!(json["to"], today.to_string());
    assert_eq!(json["from"], today.plus_days(-29).to_string());
    for (field, value) in [
        ("skill_sessions", 3),
        ("invocations", 2),
        ("tool_uses", 4),
        ("tool_failures", 1),
        ("active_users", 2),
        ("active_skills", 1),
    ] {
        assert_eq!(json[field], value, "{field}: {json}");
    }
    assert_eq!(json["hours_saved"], 2.25);
    assert_eq!(json["fte_days_saved"], 0.28);
    assert_eq!(json["compliance"]["deployed_installs"], 0);
    assert!(json["compliance"]["rate"].is_null());

    let mine = get(
        &server,
        "/api/analytics/summary",
        "acme.localhost",
        &acme.member_key,
    );
    assert_eq!(mine.json["scope"], "me");
    assert_eq!(
        (
            mine.json["skill_sessions"].as_i64(),
            mine.json["tool_uses"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(mine.json["hours_saved"], 0.75);
    let admins_own = get(
        &server,
        "/api/analytics/summary?scope=me",
        "acme.localhost",
        &acme.admin_key,
    );
    assert_eq!(admins_own.json["skill_sessions"], 2);

    let skills = get(
        &server,
        "/api/analytics/skills",
        "acme.localhost",
        &acme.admin_key,
    );
    assert_eq!(skills.status, 200);
    let demo = &skills.json["skills"][0];
    assert_eq!(demo["slug"], "demo");
    assert_eq!(
        (demo["skill_sessions"].as_i64(), demo["users"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(demo["hours_saved"], 2.25);
    assert!(
        demo["last_used_at"]
            .as_str()
            .unwrap()
            .starts_with(&today.to_string())
    );

    let users = get(
        &server,
        "/api/analytics/users",
        "acme.localhost",
        &acme.admin_key,
    );
    assert_eq!(users.status, 200);
    let rows = users.json["users"].as_array().unwrap();
    assert_eq!(rows[0]["email"], "admin@acme.com");
    assert_eq!(rows[0]["skill_sessions"], 2);
    assert_eq!(rows[1]["email"], "dev@acme.com");
    let refused = get(
        &server,
        "/api/analytics/users",
        "acme.localhost",
        &acme.member_key,
    );
    assert_eq!(refused.status, 403);
    let refused = get(
        &server,
        "/api/analytics/summary?scope=tenant",
        "acme.localhost",
        &acme.member_key,
    );
    assert_eq!(refused.status, 403);

    let series = get(
        &server,
        "/api/analytics/timeseries?bucket=day",
        "acme.localhost",
        &acme.admin_key,
    );
    let points = series.json["points"].as_array().unwrap();
    assert_eq!(points.len(), 30, "every day, empty ones too");
    let last = points.last().unwrap();
    assert_eq!(last["start"], today.to_string());
    assert_eq!(
        (
            last["skill_sessions"].as_i64(),
            last["tool_uses"].as_i64(),
            last["active_users"].as_i64()
        ),
        (Some(3), Some(4), Some(2))
    );
    assert!(points[..29].iter().all(|p| p["skill_sessions"] == 0));
    let weeks = get(
        &server,
        "/api/analytics/timeseries?bucket=week",
        "acme.localhost",
        &acme.admin_key,
    );
    assert_eq!(weeks.json["bucket"], "week");
    let points = weeks.json["points"].as_array().unwrap();
    assert_eq!(
        points.last().unwrap()["start"],
        today.week_start().to_string()
    );
    assert_eq!(points.last().unwrap()["skill_sessions"], 3);

    // A deployment that reports, one that does not.
    for (key, install) in [(&acme.admin_key, "laptop"), (&acme.member_key, "desk")] {
        let answer = server.client().post(
            "/api/deployments",
            "acme.localhost",
            key,
            &serde_json::json!({"skill_id": acme.skill.to_string(), "version": 1, "scope": "project", "install_id": install, "hooks_version": 1}).to_string(),
        );
        assert_eq!(answer.status, 201, "{}", answer.json);
    }
    let globex_key = &server.globex.admin_key;
    let answer = server.client().post(
        "/api/deployments",
        "globex.localhost",
        globex_key,
        &serde_json::json!({"skill_id": server.globex.skill.to_string(), "version": 1, "scope": "user", "install_id": "x", "hooks_version": 1}).to_string(),
    );
    assert_eq!(answer.status, 201);
    let summary = get(
        &server,
        "/api/analytics/summary",
        "acme.localhost",
        &acme.admin_key,
    );
    assert_eq!(summary.json["compliance"]["deployed_installs"], 2);
    assert_eq!(summary.json["compliance"]["reporting_installs"], 2);
    assert_eq!(summary.json["compliance"]["rate"], 1.0);
    // Globex's admin has no use of globex's skill: its one install has not reported.
    let globex = get(
        &server,
        "/api/analytics/summary",
        "globex.localhost",
        globex_key,
    );
    assert_eq!(globex.json["compliance"]["reporting_installs"], 0);
    assert_eq!(globex.json["compliance"]["rate"], 0.0);
}

fn periods_buckets_and_scopes_are_checked(server: Server) {
    seed(&server);
    let key = &server.acme.admin_key;
    let today = Timestamp::now().day();
    for (query, code) in [
        ("from=yesterday", "invalid_period"),
        ("to=2026-13-01", "invalid_period"),
        ("from=2026-12-05&to=2026-12-01", "invalid_period"),
        ("from=2000-01-01&to=2026-12-01", "invalid_period"),
        ("scope=everyone", "invalid_scope"),
    ] {
        let answer = get(
            &server,
            &format!("/api/analytics/summary?{query}"),
            "acme.localhost",
            key,
        );
        assert_eq!((answer.status, answer.code()), (400, code), "{query}");
    }
    let bad = get(
        &server,
        "/api/analytics/timeseries?bucket=month",
        "acme.localhost",
        key,
    );
    assert_eq!((bad.status, bad.code()), (400, "invalid_bucket"));
    // A period before the events has none of them; one day, today, has them all.
    let before = get(
        &server,
        &format!(
            "/api/analytics/summary?from=2026-01-01&to={}",
            today.plus_days(-1)
        ),
        "acme.localhost",
        key,
    );
    assert_eq!(before.json["skill_sessions"], 0);
    let one_day = get(
        &server,
        &format!("/api/analytics/summary?from={today}&to={today}"),
        "acme.localhost",
        key,
    );
    assert_eq!(one_day.json["skill_sessions"], 3);
    let only_to = get(
        &server,
        &format!("/api/analytics/timeseries?to={today}"),
        "acme.localhost",
        key,
    );
    assert_eq!(only_to.json["points"].as_array().unwrap().len(), 30);
    let post = server
        .client()
        .post("/api/analytics/summary", "acme.localhost", key, "{}");
    assert_eq!(post.status, 405);
}

fn every_answer_is_scoped_to_the_hosts_tenant(server: Server) {
    seed(&server);
    let (acme, globex) = (&server.acme, &server.globex);
    for path in [
        "/api/analytics/summary",
        "/api/analytics/skills",
        "/api/analytics/timeseries",
        "/api/analytics/users",
    ] {
        let across = get(&server, path, "acme.localhost", &globex.admin_key);
        assert_eq!(
            (across.status, across.code()),
            (403, "wrong_tenant"),
            "{path}"
        );
        let anonymous = server
            .client()
            .send("GET", path, "acme.localhost", None, None);
        assert_eq!(anonymous.status, 401, "{path}");
    }
    let globex_summary = get(
        &server,
        "/api/analytics/summary",
        "globex.localhost",
        &globex.admin_key,
    );
    assert_eq!(
        (
            globex_summary.json["skill_sessions"].as_i64(),
            globex_summary.json["active_users"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let globex_skills = get(
        &server,
        "/api/analytics/skills",
        "globex.localhost",
        &globex.admin_key,
    );
    let slugs: Vec<&str> = globex_skills.json["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["demo"]);
    assert_eq!(globex_skills.json["skills"][0]["skill_sessions"], 1);
    let globex_users = get(
        &server,
        "/api/analytics/users",
        "globex.localhost",
        &globex.admin_key,
    );
    let emails: Vec<&str> = globex_users.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert!(
        emails.iter().all(|e| e.ends_with("@globex.com")),
        "{emails:?}"
    );
    // On a host that names no tenant, the key decides.
    let bare = get(
        &server,
        "/api/analytics/summary",
        "localhost",
        &acme.admin_key,
    );
    assert_eq!(bare.json["skill_sessions"], 3);
}

/// A dashboard session for the user of `email` in acme, as /auth/session would make it.
fn session_cookie(server: &Server, email: &str) -> String {
    use sha2::Digest;
    let user = server
        .store
        .user_by_email(&server.acme.id, &email.parse().unwrap())
        .unwrap()
        .unwrap();
    let id = format!("test-session-{email}");
    let hash = hex::encode(sha2::Sha256::digest(&id));
    let expires = Timestamp::from_millis(Timestamp::now().as_millis() + 3_600_000);
    server
        .store
        .create_web_session(&server.acme.id, &user.id, &hash, expires)
        .unwrap();
    id
}

fn page(server: &Server, host: &str, path: &str, cookie: &str) -> String {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: relay_session={cookie}\r\nConnection: close\r\n\r\n"
    );
    server.client().raw(request.as_bytes())
}

/// The text of the first element marked `data-figure="<name>"` after `from`.
fn figure(html: &str, name: &str) -> String {
    let marker = format!("data-figure=\"{name}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in the page"))
        + marker.len();
    html[at..].split('<').next().unwrap().to_owned()
}

fn the_dashboard_shows_what_the_api_says(server: Server) {
    seed(&server);
    let admin = session_cookie(&server, "admin@acme.com");
    let html = page(&server, "acme.localhost", "/", &admin);
    assert!(html.starts_with("HTTP/1.1 200"), "{html}");
    assert!(html.contains("<svg"), "a chart");
    let api = get(
        &server,
        "/api/analytics/summary",
        "acme.localhost",
        &server.acme.admin_key,
    )
    .json;
    for name in [
        "skill_sessions",
        "invocations",
        "tool_uses",
        "tool_failures",
        "active_users",
        "active_skills",
        "hours_saved",
        "fte_days_saved",
    ] {
        let shown: f64 = figure(&html, name).parse().unwrap();
        assert_eq!(Some(shown), api[name].as_f64(), "{name}");
    }
    assert!(html.contains("id=\"users\""), "admins see people");
    assert!(html.contains("data-user=\"dev@acme.com\""));
    // The same session through the API.
    let through_cookie = page(&server, "acme.localhost", "/api/analytics/summary", &admin);
    assert!(
        through_cookie.contains("\"skill_sessions\":3"),
        "{through_cookie}"
    );

    // A member sees their own use, and no one else's.
    let member = session_cookie(&server, "dev@acme.com");
    let html = page(&server, "acme.localhost", "/?bucket=week", &member);
    assert_eq!(figure(&html, "skill_sessions"), "1");
    assert!(!html.contains("id=\"users\""));
    assert!(!html.contains("admin@acme.com"));
    // The session is acme's: on globex's host it is no session at all.
    let elsewhere = page(&server, "globex.localhost", "/", &member);
    assert!(!elsewhere.contains("data-figure=\""), "{elsewhere}");
    assert!(elsewhere.contains("globex Inc"));
    // Mistakes in the form are explained on a page.
    for (query, says) in [
        ("from=nonsense", "from must be a date"),
        ("bucket=month", "use day or week"),
        ("scope=tenant", "only admins"),
    ] {
        let refused = page(&server, "acme.localhost", &format!("/?{query}"), &member);
        let status = if query.starts_with("scope") {
            "403"
        } else {
            "400"
        };
        assert!(
            refused.starts_with(&format!("HTTP/1.1 {status}")),
            "{query}: {refused}"
        );
        assert!(refused.contains("text/html"), "{query}");
        assert!(refused.contains(says), "{query}: {refused}");
    }
}
