//! The catalogue over HTTP: search, read, publish, rate, deploy.

use crate::support::{Server, on_every_backend};

on_every_backend!(
    skills_are_listed_searched_and_read,
    publishing_makes_versions_for_authors_and_admins,
    bad_skills_are_refused_with_reasons,
    ratings_and_deployments_are_recorded,
);

fn publish(
    server: &Server,
    key: &str,
    name: &str,
    body: &str,
    extra: &str,
) -> crate::support::Answer {
    let skill_md =
        format!("---\nname: {name}\ndescription: {name} does {body}\n---\n# {name}\n\n{body}\n");
    let request = serde_json::json!({ "skill_md": skill_md }).to_string();
    let request = if extra.is_empty() {
        request
    } else {
        format!("{},{extra}}}", &request[..request.len() - 1])
    };
    server
        .client()
        .post("/api/skills", "acme.localhost", key, &request)
}

fn skills_are_listed_searched_and_read(server: Server) {
    let client = server.client();
    let key = &server.acme.member_key;
    for (name, body, category) in [
        ("code-review", "reviews", "quality"),
        ("deploy-app", "shipping", "ops"),
        ("lint", "lints", "quality"),
    ] {
        let answer = publish(
            &server,
            key,
            name,
            body,
            &format!(r#""category":"{category}","hours_saved":0.5"#),
        );
        assert_eq!(answer.status, 201, "{}", answer.json);
    }
    let list = client.get("/api/skills", "acme.localhost", key);
    assert_eq!(list.status, 200);
    let slugs: Vec<&str> = list.json["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["code-review", "demo", "deploy-app", "lint"]);
    let first = &list.json["skills"][0];
    for field in [
        "id",
        "slug",
        "name",
        "description",
        "category",
        "hours_saved",
        "latest_version",
        "rating",
        "updated_at",
    ] {
        assert!(
            !first[field].is_null() || field == "category",
            "missing {field}: {first}"
        );
    }
    assert_eq!(
        first["rating"],
        serde_json::json!({"average": null, "count": 0})
    );

    let found = client.get("/api/skills?q=SHIPPING", "acme.localhost", key);
    assert_eq!(found.json["skills"].as_array().unwrap().len(), 1);
    assert_eq!(found.json["skills"][0]["slug"], "deploy-app");
    let quality = client.get(
        "/api/skills?category=quality&limit=1",
        "acme.localhost",
        key,
    );
    assert_eq!(quality.json["skills"][0]["slug"], "code-review");
    let cursor = quality.json["next_cursor"].as_str().unwrap().to_owned();
    let next = client.get(
        &format!("/api/skills?category=quality&limit=1&cursor={cursor}"),
        "acme.localhost",
        key,
    );
    assert_eq!(next.json["skills"][0]["slug"], "lint");
    assert!(next.json["next_cursor"].is_null());
    assert_eq!(
        client
            .get("/api/skills?limit=0", "acme.localhost", key)
            .status,
        400
    );
    assert_eq!(
        client
            .get("/api/skills?cursor=..%2F", "acme.localhost", key)
            .status,
        400
    );

    // Another tenant's catalogue is its own.
    let theirs = client.get("/api/skills", "globex.localhost", &server.globex.member_key);
    assert_eq!(theirs.json["skills"].as_array().unwrap().len(), 1);
    assert_eq!(
        client
            .get(
                "/api/skills/lint",
                "globex.localhost",
                &server.globex.member_key
            )
            .status,
        404
    );

    let detail = client.get("/api/skills/lint", "acme.localhost", key);
    assert_eq!(detail.status, 200);
    assert_eq!(detail.json["skill"]["hours_saved"], 0.5);
    assert_eq!(detail.json["versions"][0]["version"], 1);
    assert_eq!(
        detail.json["versions"][0]["sha256"].as_str().unwrap().len(),
        64
    );

    let latest = client.get("/api/skills/lint/versions/latest", "acme.localhost", key);
    assert_eq!(latest.status, 200);
    assert_eq!(latest.json["version"], 1);
    assert!(
        latest.json["skill_md"]
            .as_str()
            .unwrap()
            .starts_with("---\nname: lint\n")
    );
    assert_eq!(latest.json["files"], serde_json::json!([]));
    assert_eq!(
        client
            .get("/api/skills/lint/versions/1", "acme.localhost", key)
            .json["sha256"],
        latest.json["sha256"]
    );
    let missing = client.get("/api/skills/lint/versions/2", "acme.localhost", key);
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    assert_eq!(
        client
            .get("/api/skills/lint/versions/zero", "acme.localhost", key)
            .status,
        400
    );
    assert_eq!(
        client.get("/api/skills/nope", "acme.localhost", key).status,
        404
    );
}

fn publishing_makes_versions_for_authors_and_admins(server: Server) {
    let client = server.client();
    let (member, admin) = (&server.acme.member_key, &server.acme.admin_key);
    let files = r#""files":[{"path":"scripts/check.py","content":"print(1)\n"}]"#;
    let created = publish(&server, member, "review", "v1", files);
    assert_eq!(
        (
            created.status,
            created.json["outcome"].as_str(),
            created.json["version"].as_i64()
        ),
        (201, Some("created"), Some(1))
    );
    let same = publish(&server, member, "review", "v1", files);
    assert_eq!(
        (
            same.status,
            same.json["outcome"].as_str(),
            same.json["version"].as_i64()
        ),
        (200, Some("unchanged"), Some(1))
    );
    let second = publish(&server, member, "review", "v2", "");
    assert_eq!(
        (
            second.status,
            second.json["outcome"].as_str(),
            second.json["version"].as_i64()
        ),
        (200, Some("new_version"), Some(2))
    );

    // Someone else's skill: members may not, admins may.
    let globex_like = crate::support::seed_tenant(&*server.store, "initech");
    let _ = globex_like;
    let other_member = {
        let user = server
            .store
            .create_user(
                &server.acme.id,
                &relay_core::Email::parse("eve@acme.com").unwrap(),
                relay_core::Role::Member,
            )
            .unwrap();
        let secret = relay_core::ApiKeySecret::generate();
        server
            .store
            .create_api_key(&server.acme.id, &user.id, "t", &secret)
            .unwrap();
        secret.expose().to_owned()
    };
    let refused = publish(&server, &other_member, "review", "hijack", "");
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let by_admin = publish(&server, admin, "review", "v3", "");
    assert_eq!(by_admin.json["version"], 3);
    // The operator-imported demo skill has no author: only admins publish it.
    assert_eq!(publish(&server, member, "demo", "x", "").status, 403);

    let v1 = client.get("/api/skills/review/versions/1", "acme.localhost", member);
    assert_eq!(
        v1.json["files"],
        serde_json::json!([{"path": "scripts/check.py", "content": "print(1)\n"}])
    );
    assert!(
        v1.json["skill_md"].as_str().unwrap().contains("v1"),
        "version 1 never changes"
    );
}

fn bad_skills_are_refused_with_reasons(server: Server) {
    let client = server.client();
    let key = &server.acme.member_key;
    let post = |body: &str| client.post("/api/skills", "acme.localhost", key, body);
    let no_front = post(r##"{"skill_md":"# no frontmatter"}"##);
    assert_eq!((no_front.status, no_front.code()), (400, "invalid_skill"));
    assert!(
        no_front.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("frontmatter")
    );
    let no_name = post(r#"{"skill_md":"---\ndescription: x\n---\n"}"#);
    assert!(
        no_name.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("name")
    );
    let escape = post(
        r#"{"skill_md":"---\nname: x\ndescription: x\n---\n","files":[{"path":"../../.bashrc","content":"evil"}]}"#,
    );
    assert_eq!((escape.status, escape.code()), (400, "invalid"));
    assert_eq!(
        post(r#"{"skill_md":"---\nname: x\ndescription: x\n---\n","hours_saved":-1}"#).status,
        400
    );
    assert_eq!(post("{not json").status, 400);
    assert_eq!(
        client
            .send("POST", "/api/skills", "acme.localhost", Some(key), None)
            .status,
        400
    );
    let nul = post(r#"{"skill_md":"---\nname: x\ndescription: x\n---\nnul \u0000 here"}"#);
    assert_eq!((nul.status, nul.code()), (400, "invalid"), "{}", nul.json);
    let twice = post(
        r#"{"skill_md":"---\nname: x\ndescription: x\n---\n","files":[{"path":"a.md","content":"1"},{"path":"a.md","content":"2"}]}"#,
    );
    assert_eq!(
        (twice.status, twice.code()),
        (400, "invalid"),
        "{}",
        twice.json
    );
    // A NUL in a search is no match, not an error.
    assert_eq!(
        client
            .get("/api/skills?q=%00", "acme.localhost", key)
            .status,
        200
    );
    let list = client.get("/api/skills", "acme.localhost", key);
    assert_eq!(
        list.json["skills"].as_array().unwrap().len(),
        1,
        "nothing was published"
    );
}

fn ratings_and_deployments_are_recorded(server: Server) {
    let client = server.client();
    let host = "acme.localhost";
    let rate = |key: &str, body: &str| {
        client.send(
            "PUT",
            "/api/skills/demo/rating",
            host,
            Some(key),
            Some(body),
        )
    };
    assert_eq!(rate(&server.acme.member_key, r#"{"stars":2}"#).status, 200);
    let again = rate(
        &server.acme.member_key,
        r#"{"stars":4,"comment":"better now"}"#,
    );
    assert_eq!(again.json["rating"]["stars"], 4);
    rate(&server.acme.admin_key, r#"{"stars":5}"#);
    let skill = client.get("/api/skills/demo", host, &server.acme.member_key);
    assert_eq!(
        skill.json["skill"]["rating"],
        serde_json::json!({"average": 4.5, "count": 2})
    );
    assert_eq!(rate(&server.acme.member_key, r#"{"stars":6}"#).status, 400);
    assert_eq!(
        rate(
            &server.acme.member_key,
            r#"{"stars":3,"comment":"nul \u0000"}"#
        )
        .status,
        400
    );
    assert_eq!(
        client
            .send(
                "PUT",
                "/api/skills/nope/rating",
                host,
                Some(&server.acme.member_key),
                Some(r#"{"stars":3}"#)
            )
            .status,
        404
    );

    let deploy =
        |body: String| client.post("/api/deployments", host, &server.acme.member_key, &body);
    let body = |skill: &str, version: i64| {
        format!(
            r#"{{"skill_id":"{skill}","version":{version},"scope":"project","install_id":"laptop:/src/app","hooks_version":1}}"#
        )
    };
    let created = deploy(body(server.acme.skill.as_str(), 1));
    assert_eq!(created.status, 201, "{}", created.json);
    assert_eq!(created.json["install_id"], "laptop:/src/app");
    let again = deploy(body(server.acme.skill.as_str(), 1));
    assert_eq!(again.json["id"], created.json["id"]);
    assert_eq!(
        server
            .store
            .list_deployments(&server.acme.id)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        deploy(body(server.globex.skill.as_str(), 1)).status,
        404,
        "another tenant's skill"
    );
    assert_eq!(deploy(body(server.acme.skill.as_str(), 9)).status, 404);
    assert_eq!(deploy(body("not-an-id", 1)).status, 400);
    assert_eq!(
        deploy(body(server.acme.skill.as_str(), 1).replace("project", "galaxy")).status,
        400
    );
}
