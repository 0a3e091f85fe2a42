//! `relay-mcp login --api-key-stdin` stores the server and a private key file; `logout` forgets it.

use std::io::Write;
use std::process::{Command, Stdio};

fn relay_mcp(config: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relay-mcp"))
        .args(args)
        .env("RELAY_CONFIG_DIR", config)
        .env_remove("RELAY_SERVER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // relay-mcp may exit before reading its input (a refused argument): a closed pipe is fine.
    if let Err(err) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
    }
    child.wait_with_output().unwrap()
}

#[test]
fn login_stores_a_private_key_and_logout_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = "rly_abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    let out = relay_mcp(
        dir.path(),
        &[
            "login",
            "--server",
            "http://acme.localhost:8080/",
            "--api-key-stdin",
        ],
        &format!("{key}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(settings["server"], "http://acme.localhost:8080");
    assert!(
        !String::from_utf8_lossy(&std::fs::read(dir.path().join("config.json")).unwrap())
            .contains(key)
    );
    let credentials = dir.path().join("credentials.json");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&credentials).unwrap()).unwrap();
    assert_eq!(stored["api_key"], key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credentials)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the key file must be private");
    }

    let out = relay_mcp(dir.path(), &["logout"], "");
    assert!(out.status.success());
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&credentials).unwrap()).unwrap();
    assert!(stored["api_key"].is_null());
}

#[test]
fn login_refuses_what_is_not_a_key_or_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = relay_mcp(
        dir.path(),
        &[
            "login",
            "--server",
            "http://acme.localhost:8080",
            "--api-key-stdin",
        ],
        "password123\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Relay API key"));
    let out = relay_mcp(
        dir.path(),
        &["login", "--server", "acme.example.com", "--api-key-stdin"],
        "rly_abcdefghijklmnopqrstuvwxyz\n",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with https://"));
    let out = relay_mcp(
        dir.path(),
        &["login", "--server", "http://relay.example.com"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plain http"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.path().join("credentials.json").exists(),
        "nothing is written on a refused login"
    );
}

/// What a new user does: `relay-mcp login --server http://acme.localhost:<port>` against a
/// trackd whose SSO is the test OIDC provider, the browser carrying the sign-in through the
/// provider and back to relay-mcp's loopback. The key it stores works on acme's host, and only
/// there.
#[test]
fn login_signs_in_through_the_browser_and_stores_a_working_key() {
    use relay_testkit::browser::Browser;

    let setup = sso_setup("alice@acme.com");
    let addr = setup.addr;
    let server = format!("http://acme.localhost:{}", addr.port());
    let dir = tempfile::tempdir().unwrap();
    // relay-mcp prints the address to open; the test is the person's browser.
    let LoginRun { child, url, .. } = start_login(dir.path(), &server);
    assert!(
        url.starts_with(&format!(
            "{server}/auth/login?redirect_uri=http%3A%2F%2F127.0.0.1%3A"
        )),
        "{url}"
    );
    // Whatever else reaches the loopback port (a stale tab, a favicon, garbage) is answered
    // and ignored; the real answer still completes the sign-in.
    let loopback = relay_testkit::browser::query_of(&url)["redirect_uri"].clone();
    let port = loopback
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let at = format!("127.0.0.1:{port}");
    let stale = relay_testkit::browser::exchange(
        &at,
        b"GET /callback?state=someone-else&code=stolen HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(stale.status, 404);
    let favicon = relay_testkit::browser::exchange(
        &at,
        b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(favicon.status, 404);
    let mut garbage = std::net::TcpStream::connect(&at).unwrap();
    garbage
        .write_all(b"\x00\xff not http at all\r\n\r\n")
        .unwrap();
    drop(garbage);
    let visit = Browser::new().visit(&url, None);
    assert_eq!(visit.page.status, 200, "{:?}", visit.trail);
    assert!(
        visit.page.body.contains("Signed in to Relay"),
        "{}",
        visit.page.body
    );
    assert!(
        visit.trail.last().unwrap().starts_with("http://127.0.0.1:"),
        "{:?}",
        visit.trail
    );

    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Signed in as alice@acme.com (member) to Acme (acme)"),
        "{stdout}"
    );

    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(settings["server"], server.as_str());
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("credentials.json")).unwrap())
            .unwrap();
    let key = stored["api_key"].as_str().unwrap();

    let me = |host: &str| {
        let raw = format!(
            "GET /api/me HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
        );
        relay_testkit::browser::exchange(&addr.to_string(), raw.as_bytes())
    };
    let acme = me("acme.localhost");
    assert_eq!(acme.status, 200);
    assert_eq!(acme.json()["user"]["email"], "alice@acme.com");
    assert_eq!(acme.json()["tenant"]["slug"], "acme");
    let globex = me("globex.localhost");
    assert_eq!(
        (globex.status, globex.error_code().as_str()),
        (403, "wrong_tenant")
    );

    // `relay-mcp status` (what a person checks next) sees the same user.
    let status = Command::new(env!("CARGO_BIN_EXE_relay-mcp"))
        .arg("status")
        .env("RELAY_CONFIG_DIR", dir.path())
        .env("RELAY_DATA_DIR", dir.path())
        .env_remove("RELAY_SERVER")
        .env_remove("RELAY_API_KEY")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("alice@acme.com"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// A refusal on the server side reaches the terminal as a sentence, and nothing is stored.
#[test]
fn a_refused_sign_in_is_explained_and_stores_nothing() {
    use relay_testkit::browser::Browser;

    let setup = sso_setup("mallory@elsewhere.example");
    let dir = tempfile::tempdir().unwrap();
    let server = format!("http://acme.localhost:{}", setup.addr.port());
    let LoginRun {
        mut child,
        mut stderr,
        url,
    } = start_login(dir.path(), &server);
    let visit = Browser::new().visit(&url, None);
    assert_eq!(visit.page.status, 403);
    assert!(
        visit.page.body.contains("belongs to no organization"),
        "{}",
        visit.page.body
    );
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        rest.contains("mallory@elsewhere.example belongs to no organization on this server"),
        "{rest}"
    );
    assert!(!dir.path().join("credentials.json").exists());
}

/// trackd (in this process) whose SSO is a test OIDC provider that signs people in as `email`;
/// acme owns acme.com, globex globex.com.
struct SsoSetup {
    addr: std::net::SocketAddr,
    // Held for the test's length, and dropped in this order: trackd, its database, the provider.
    _trackd: trackd::Background,
    _seeded: crate::support::Seeded,
    _idp: relay_testkit::oidc::OidcProvider,
}

fn sso_setup(email: &str) -> SsoSetup {
    use relay_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, Identity, OidcProvider};
    let seeded = crate::support::seed("A demo skill", "", Vec::new());
    seeded
        .store
        .add_domain(&seeded.tenant.id, &"acme.com".parse().unwrap())
        .unwrap();
    seeded
        .store
        .create_tenant(
            &"globex".parse().unwrap(),
            "Globex",
            &["globex.com".parse().unwrap()],
        )
        .unwrap();
    let idp = OidcProvider::start();
    idp.sign_in_as(Identity::new(email));
    let mut config = trackd::Config::new("localhost").unwrap();
    config.sso =
        Some(trackd::SsoConfig::new(&idp.issuer(), CLIENT_ID, Some(CLIENT_SECRET.into())).unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let trackd = crate::support::Trackd::serve(seeded.store.clone(), listener, config);
    SsoSetup {
        addr,
        _trackd: trackd,
        _seeded: seeded,
        _idp: idp,
    }
}

/// `relay-mcp login --no-browser` running, and the sign-in address it printed.
struct LoginRun {
    child: std::process::Child,
    stderr: std::io::BufReader<std::process::ChildStderr>,
    url: String,
}

fn start_login(config_dir: &std::path::Path, server: &str) -> LoginRun {
    let mut child = Command::new(env!("CARGO_BIN_EXE_relay-mcp"))
        .args([
            "login",
            "--server",
            server,
            "--no-browser",
            "--timeout",
            "60",
        ])
        .env("RELAY_CONFIG_DIR", config_dir)
        .env_remove("RELAY_SERVER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0,
            "relay-mcp printed no address"
        );
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    LoginRun { child, stderr, url }
}
