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
    assert!(
        !dir.path().join("credentials.json").exists(),
        "nothing is written on a refused login"
    );
}
