//! The dashboard in a real browser: headless Chromium signs in through the test OIDC provider
//! (the whole redirect dance, cookies and all), lands on the dashboard, and shows the figures
//! the API gives. A screenshot is saved for people to look at (`RELAY_ARTIFACT_DIR`, by default
//! `target/artifacts`).
//!
//! Runs where Chromium is installed (`RELAY_CHROMIUM_BIN`, else `chromium` on the PATH); in CI
//! it must run (`.ci/run` installs Debian's `chromium`).

use std::path::{Path, PathBuf};
use std::process::Command;

use relay_core::{Domain, Timestamp};
use relay_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, Identity, OidcProvider};

use crate::support::Server;

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RELAY_CHROMIUM_BIN") {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            !relay_testkit::in_ci(),
            "Chromium must be installed in CI (.ci/run installs Debian's chromium)"
        );
        eprintln!("chromium is not installed: skipping the dashboard browser test");
    }
    found
}

/// Runs headless Chromium with a fresh profile on `url`, with `extra` flags; its stdout.
fn run_chromium(binary: &Path, profile: &Path, url: &str, extra: &[String]) -> String {
    let output = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The text of the first element marked `data-figure="<name>"`.
fn figure(html: &str, name: &str) -> String {
    let marker = format!("data-figure=\"{name}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} on the page:\n{html}"))
        + marker.len();
    html[at..].split('<').next().unwrap_or("").to_owned()
}

fn artifact_dir() -> PathBuf {
    std::env::var_os("RELAY_ARTIFACT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts"))
}

#[test]
fn chromium_signs_in_and_sees_the_apis_figures_on_the_dashboard() {
    let Some(binary) = chromium() else {
        return;
    };
    let idp = OidcProvider::start();
    idp.sign_in_as(Identity::new("admin@acme.com"));
    let issuer = idp.issuer();
    let server = Server::start_with(relay_testkit::TestDatabase::sqlite(), |config| {
        config.sso =
            Some(trackd::SsoConfig::new(&issuer, CLIENT_ID, Some(CLIENT_SECRET.into())).unwrap());
    });
    server
        .store
        .add_domain(&server.acme.id, &Domain::parse("acme.com").unwrap())
        .unwrap();
    // demo saves 0.5 hours a use; a week of use by both of acme's people.
    crate::support::set_hours_saved(&*server.store, &server.acme.id, &server.acme.skill, "0.5");
    let today = Timestamp::now().day();
    for (who, key) in [
        ("a", &server.acme.admin_key),
        ("m", &server.acme.member_key),
    ] {
        let mut events = Vec::new();
        for day in 0..7 {
            let at = Timestamp::from_millis(today.plus_days(-day).start().as_millis() + 3_600_000);
            for n in 0..=(day % 3) {
                events.push(serde_json::json!({
                "skill_id": server.acme.skill.to_string(), "kind": "invocation",
                "session_id": format!("{who}{day}-{n}"), "tool_use_id": "t0", "tool_name": "Skill",
                "occurred_at": at.to_string(),
            }));
                events.push(serde_json::json!({
                "skill_id": server.acme.skill.to_string(), "kind": "tool_use",
                "session_id": format!("{who}{day}-{n}"), "tool_use_id": "t1", "tool_name": "Bash",
                "occurred_at": at.to_string(),
            }));
            }
        }
        {
            let answer = server.client().post(
                "/api/track",
                "acme.localhost",
                key,
                &serde_json::json!({ "events": events }).to_string(),
            );
            assert_eq!(answer.status, 202, "{}", answer.json);
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let login = format!("http://acme.localhost:{}/auth/login", server.addr.port());
    let dom = run_chromium(
        &binary,
        &dir.path().join("profile"),
        &login,
        &["--dump-dom".into()],
    );
    assert!(
        dom.contains("Signed in as <strong>admin@acme.com</strong>"),
        "{dom}"
    );

    let api = server
        .client()
        .get(
            "/api/analytics/summary",
            "acme.localhost",
            &server.acme.admin_key,
        )
        .json;
    assert!(api["skill_sessions"].as_i64().unwrap() > 0);
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
        let shown: f64 = figure(&dom, name).parse().unwrap();
        assert_eq!(Some(shown), api[name].as_f64(), "{name}");
    }
    assert!(dom.contains("<svg"), "the chart");
    assert!(
        dom.contains("data-user=\"dev@acme.com\""),
        "the admin's people table"
    );

    // A picture for people, from a second run (its own fresh profile, its own sign-in).
    let shots = artifact_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &binary,
        &dir.path().join("profile-2"),
        &login,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1366,1400".into(),
            "--virtual-time-budget=2000".into(),
        ],
    );
    let bytes = std::fs::read(&shot).expect("the screenshot was written");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        bytes.len() > 20_000,
        "a real page, not a blank one ({} bytes)",
        bytes.len()
    );
    eprintln!("dashboard screenshot: {}", shot.display());
}
