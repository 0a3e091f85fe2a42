//! The production files, checked: docker-compose.yml (no Docker engine runs here, so it is read,
//! not started), .env.example, the Dockerfile, the systemd unit, and the Caddyfile, which the
//! real Caddy validates and then runs in front of a real trackd.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Server;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repo().join(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn compose() -> Value {
    let yaml: yaml_serde::Value = yaml_serde::from_str(&read("docker-compose.yml")).unwrap();
    serde_json::to_value(yaml).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().unwrap_or("").to_owned())
            .collect(),
        Value::String(text) => vec![text.clone()],
        _ => Vec::new(),
    }
}

#[test]
fn compose_runs_postgres_trackd_caddy_and_backups_with_volumes_and_health() {
    let compose = compose();
    let services = compose["services"].as_object().unwrap();
    let names: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    for name in ["postgres", "trackd", "caddy", "backup"] {
        assert!(services.contains_key(name), "service {name}");
    }
    let volumes = compose["volumes"].as_object().unwrap();
    for volume in ["pgdata", "caddy_data", "backups"] {
        assert!(volumes.contains_key(volume), "named volume {volume}");
    }

    let postgres = &services["postgres"];
    assert!(strings(&postgres["volumes"]).contains(&"pgdata:/var/lib/postgresql/data".into()));
    assert!(
        postgres["healthcheck"]["test"]
            .to_string()
            .contains("pg_isready")
    );
    assert!(postgres["environment"]["POSTGRES_PASSWORD_FILE"].is_string());

    let trackd = &services["trackd"];
    assert_eq!(trackd["build"]["dockerfile"], "packaging/Dockerfile");
    assert_eq!(
        trackd["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    assert_eq!(trackd["env_file"], ".env");
    assert!(
        trackd["healthcheck"]["test"]
            .to_string()
            .contains("/api/health")
    );
    let env = &trackd["environment"];
    // Secrets come from files, never from the environment file.
    assert_eq!(env["RELAY_DATABASE_URL_FILE"], "/run/secrets/database_url");
    assert_eq!(
        env["RELAY_OIDC_CLIENT_SECRET_FILE"],
        "/run/secrets/oidc_client_secret"
    );
    assert!(env["RELAY_TRUSTED_PROXIES"].is_string());
    assert!(
        trackd.get("ports").is_none(),
        "trackd is reached through Caddy only"
    );

    let caddy = &services["caddy"];
    let ports = strings(&caddy["ports"]);
    assert!(
        ports.contains(&"80:80".into()) && ports.contains(&"443:443".into()),
        "{ports:?}"
    );
    let mounts = strings(&caddy["volumes"]);
    assert!(mounts.contains(&"caddy_data:/data".into()));
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./Caddyfile:/etc/caddy/Caddyfile"))
    );
    assert_eq!(
        caddy["depends_on"]["trackd"]["condition"],
        "service_healthy"
    );

    let backup = &services["backup"];
    assert!(strings(&backup["volumes"]).contains(&"backups:/backups".into()));
    let script = backup["entrypoint"].to_string();
    for needed in [
        "pg_dump",
        "BACKUP_KEEP_DAYS",
        "BACKUP_INTERVAL_SECONDS",
        "-delete",
    ] {
        assert!(script.contains(needed), "the backup job uses {needed}");
    }
    assert_eq!(
        backup["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );

    let secrets = compose["secrets"].as_object().unwrap();
    for secret in ["postgres_password", "database_url", "oidc_client_secret"] {
        assert!(
            secrets[secret]["file"]
                .as_str()
                .unwrap()
                .starts_with("./secrets/")
        );
    }
}

/// Every variable compose reads and every setting of trackd is in .env.example, with a comment.
#[test]
fn env_example_lists_every_variable_with_a_comment() {
    let example = read(".env.example");
    let lines: Vec<&str> = example.lines().collect();
    let defined: Vec<&str> = lines
        .iter()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    for (index, line) in lines.iter().enumerate() {
        if !line.starts_with('#') && line.contains('=') {
            assert!(
                index > 0 && lines[index - 1].starts_with('#'),
                "{line} needs a comment above it"
            );
        }
    }
    let text = read("docker-compose.yml");
    let mut used: Vec<String> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split(['}', ':', '-']).next())
        .map(str::to_owned)
        .collect();
    used.extend(
        [
            "RELAY_BASE_DOMAIN",
            "RELAY_PUBLIC_URL",
            "RELAY_OIDC_ISSUER",
            "RELAY_OIDC_CLIENT_ID",
            "RELAY_TRACK_RATE_PER_MINUTE",
        ]
        .map(String::from),
    );
    for name in used {
        assert!(
            defined.contains(&name.as_str()),
            "{name} is not in .env.example"
        );
    }
    // Secrets are files, not variables.
    assert!(
        !defined
            .iter()
            .any(|name| name.contains("SECRET") || name.contains("PASSWORD"))
    );
}

#[test]
fn the_image_and_the_unit_run_unprivileged_and_report_health() {
    let dockerfile = read("packaging/Dockerfile");
    assert_eq!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")),
        2,
        "multi-stage"
    );
    assert!(dockerfile.contains("\nUSER relay"));
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/api/health"));
    assert!(dockerfile.contains("relay-admin"));

    let unit = read("packaging/systemd/trackd.service");
    for setting in [
        "User=relay",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "CapabilityBoundingSet=",
        "EnvironmentFile=/etc/relay/trackd.env",
        "ExecStart=/usr/local/bin/trackd",
    ] {
        assert!(
            unit.lines()
                .any(|line| line.trim() == setting || line.starts_with(setting)),
            "{setting}"
        );
    }
    let env = read("packaging/systemd/trackd.env");
    assert!(env.contains("RELAY_DATABASE_URL=") && env.contains("RELAY_TRUSTED_PROXIES="));
}

fn caddy() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("caddy"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            !relay_testkit::in_ci(),
            "Caddy must be installed in CI (.ci/run installs it)"
        );
        eprintln!("caddy is not installed: skipping the Caddy tests");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `curl -k` through Caddy to `host` (resolved to 127.0.0.1): status and body, or `None` when
/// the TLS handshake fails.
fn through_caddy(port: u16, host: &str, path: &str, key: Option<&str>) -> Option<(u16, String)> {
    let mut command = Command::new("curl");
    command.args([
        "-sk",
        "--max-time",
        "15",
        "--resolve",
        &format!("{host}:{port}:127.0.0.1"),
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        &format!("https://{host}:{port}{path}"),
    ]);
    if let Some(key) = key {
        command.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    let output = command.output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n')?;
    let status: u16 = status.trim().parse().ok()?;
    (output.status.success() && status != 0).then(|| (status, body.to_owned()))
}

#[test]
fn caddy_validates_the_caddyfile_and_serves_each_tenant_through_it() {
    let Some(caddy) = caddy() else {
        return;
    };
    let server = Server::start(relay_testkit::TestDatabase::sqlite());
    let upstream = format!("127.0.0.1:{}", server.addr.port());
    let dir = tempfile::tempdir().unwrap();
    let caddy_env = |command: &mut Command| {
        command
            .env("RELAY_BASE_DOMAIN", "localhost")
            .env("TRACKD_UPSTREAM", &upstream)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"));
    };

    let mut validate = Command::new(&caddy);
    validate
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(repo().join("Caddyfile"));
    caddy_env(&mut validate);
    let validated = validate.output().unwrap();
    assert!(
        validated.status.success(),
        "caddy validate: {}",
        String::from_utf8_lossy(&validated.stderr)
    );

    // The production configuration as Caddy reads it, with only what a loopback test needs
    // changed: high ports, and certificates from Caddy's own CA instead of a public one.
    let mut adapt = Command::new(&caddy);
    adapt
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(repo().join("Caddyfile"));
    caddy_env(&mut adapt);
    let adapted = adapt.output().unwrap();
    assert!(
        adapted.status.success(),
        "{}",
        String::from_utf8_lossy(&adapted.stderr)
    );
    let mut config: Value = serde_json::from_slice(&adapted.stdout).unwrap();
    let ask = config["apps"]["tls"]["automation"]["on_demand"]["ask"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ask, format!("http://{upstream}/internal/tls-allowed"));
    let (https, http) = (free_port(), free_port());
    config["admin"] = serde_json::json!({"disabled": true});
    config["apps"]["http"]["http_port"] = http.into();
    config["apps"]["http"]["https_port"] = https.into();
    for server in config["apps"]["http"]["servers"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        server["listen"] = serde_json::json!([format!("127.0.0.1:{https}")]);
    }
    for policy in config["apps"]["tls"]["automation"]["policies"]
        .as_array_mut()
        .unwrap()
    {
        policy["issuers"] = serde_json::json!([{"module": "internal"}]);
    }
    config["apps"]["pki"] =
        serde_json::json!({"certificate_authorities": {"local": {"install_trust": false}}});
    let path = dir.path().join("caddy.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let mut run = Command::new(&caddy);
    run.args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    caddy_env(&mut run);
    let _caddy = Running(run.spawn().unwrap());

    // Each tenant's host reaches its own tenant.
    let deadline = Instant::now() + Duration::from_secs(30);
    let acme = loop {
        if let Some(answer) = through_caddy(
            https,
            "acme.localhost",
            "/api/me",
            Some(&server.acme.admin_key),
        ) {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "Caddy did not answer for acme.localhost"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(acme.0, 200, "{}", acme.1);
    assert!(acme.1.contains("\"slug\":\"acme\""), "{}", acme.1);
    let globex = through_caddy(
        https,
        "globex.localhost",
        "/api/me",
        Some(&server.globex.admin_key),
    )
    .unwrap();
    assert!(globex.1.contains("\"slug\":\"globex\""), "{}", globex.1);
    let across = through_caddy(
        https,
        "acme.localhost",
        "/api/me",
        Some(&server.globex.admin_key),
    )
    .unwrap();
    assert_eq!(across.0, 403, "{}", across.1);

    // The ask endpoint gives certificates to exactly the existing tenants and the base domain:
    // an unknown subdomain gets no certificate, so no TLS at all.
    assert!(through_caddy(https, "localhost", "/api/health", None).is_some());
    assert!(through_caddy(https, "initech.localhost", "/api/health", None).is_none());
    for (domain, status) in [
        ("acme.localhost", 200),
        ("globex.localhost", 200),
        ("localhost", 200),
        ("initech.localhost", 404),
        ("example.com", 404),
    ] {
        let answer = server.client().send(
            "GET",
            &format!("/internal/tls-allowed?domain={domain}"),
            "127.0.0.1",
            None,
            None,
        );
        assert_eq!(answer.status, status, "{domain}");
    }
    // An unknown subdomain that reaches trackd anyway (a shared certificate, a wildcard) is 404.
    let mut command = Command::new("curl");
    command.args([
        "-sk",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--resolve",
        &format!("acme.localhost:{https}:127.0.0.1"),
        "-H",
        "Host: initech.localhost",
        &format!("https://acme.localhost:{https}/"),
    ]);
    let status = String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned();
    assert_eq!(status, "404");

    // Operator endpoints are not served to the public, and the security headers are set.
    let metrics = through_caddy(https, "acme.localhost", "/metrics", None).unwrap();
    assert_eq!(metrics.0, 404);
    let ask_outside = through_caddy(
        https,
        "localhost",
        "/internal/tls-allowed?domain=acme.localhost",
        None,
    )
    .unwrap();
    assert_eq!(ask_outside.0, 404);
    let headers = Command::new("curl")
        .args([
            "-skI",
            "--resolve",
            &format!("acme.localhost:{https}:127.0.0.1"),
            &format!("https://acme.localhost:{https}/api/health"),
        ])
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&headers.stdout).to_ascii_lowercase();
    for header in [
        "strict-transport-security",
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
    ] {
        assert!(headers.contains(header), "{header} in {headers}");
    }
}

/// In the image RELAY_DATABASE_URL has a SQLite default and compose adds
/// RELAY_DATABASE_URL_FILE: the file wins, for trackd and for relay-admin alike.
#[test]
fn a_database_url_in_a_file_wins_over_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("database_url");
    let real = dir.path().join("real.db");
    std::fs::write(&secret, format!("sqlite://{}\n", real.display())).unwrap();
    let decoy = format!("sqlite://{}", dir.path().join("decoy.db").display());
    let trackd = crate::support::Process::start(
        &decoy,
        &[
            ("RELAY_DATABASE_URL_FILE", secret.to_str().unwrap()),
            ("RUST_LOG", "info"),
        ],
    );
    let logs = trackd.terminate();
    assert!(logs.contains(&real.display().to_string()), "{logs}");
    assert!(real.exists() && !dir.path().join("decoy.db").exists());
}
