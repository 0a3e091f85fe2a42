//! `relay-mcp login` and `logout`: sign in with the company's SSO in a browser (or take a key on
//! standard input), and remember the server and the key.
//!
//! The browser sign-in is OAuth for native apps (RFC 8252): relay-mcp listens on a loopback
//! port of 127.0.0.1, opens `<server>/auth/login` with that redirect URI, a random `state` and a
//! PKCE challenge, waits for the browser to come back with a one-time code, and trades the code
//! and its PKCE verifier for an API key at `<server>/auth/token`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::{Credentials, Paths, Settings};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The tenant's Relay URL, e.g. https://acme.relay.example.com [default: the stored one]
    #[arg(long, env = "RELAY_SERVER")]
    server: Option<String>,
    /// Read an API key (from `relay-admin key create`) from standard input instead of signing in
    /// with the browser.
    #[arg(long)]
    api_key_stdin: bool,
    /// Do not open a browser; print the sign-in address to open on any browser of this machine.
    #[arg(long)]
    no_browser: bool,
    /// Give up when the browser has not come back within this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

fn check_server(server: &str) -> anyhow::Result<String> {
    let server = server.trim().trim_end_matches('/');
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .with_context(|| {
            format!("server {server:?} must start with https:// (or http:// for a local test)")
        })?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        bail!("server {server:?} must be a bare URL such as https://acme.relay.example.com");
    }
    Ok(server.to_owned())
}

pub fn run(paths: &Paths, args: &LoginArgs) -> anyhow::Result<()> {
    let server = match &args.server {
        Some(server) => server.clone(),
        None => Settings::load(paths)?.server.context(
            "which Relay server? give it once: relay-mcp login --server https://<your organization>.<relay domain>",
        )?,
    };
    let server = check_server(&server)?;
    let local = server.strip_prefix("http://").is_some_and(|authority| {
        let name = authority
            .rsplit_once(':')
            .map_or(authority, |(name, _)| name);
        matches!(name, "127.0.0.1" | "[::1]" | "localhost") || name.ends_with(".localhost")
    });
    if server.starts_with("http://") && !local {
        bail!(
            "{server} is plain http: a sign-in code and an API key would cross the network \
             unencrypted; use https:// (http:// is for a server on this machine)"
        );
    }
    if args.api_key_stdin {
        key_from_stdin(paths, &server)
    } else {
        browser_sign_in(paths, &server, args)
    }
}

fn key_from_stdin(paths: &Paths, server: &str) -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("reading the API key from standard input")?;
    let key = input.trim();
    if !key.starts_with("rly_") || key.len() < 20 || key.chars().any(char::is_whitespace) {
        bail!(
            "that is not a Relay API key (they start with rly_); create one with `relay-admin key create`"
        );
    }
    remember(paths, server, key)?;
    println!(
        "Saved the key for {server} in {}.",
        paths.credentials_file().display()
    );
    Ok(())
}

fn remember(paths: &Paths, server: &str, key: &str) -> anyhow::Result<()> {
    Credentials {
        api_key: Some(key.to_owned()),
    }
    .save(paths)?;
    let mut settings = Settings::load(paths)?;
    settings.server = Some(server.to_owned());
    settings.save(paths)
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| anyhow::anyhow!("the system's random generator failed: {err}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn browser_sign_in(paths: &Paths, server: &str, args: &LoginArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .context("opening a loopback port for the browser to come back to")?;
    let port = listener.local_addr()?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let state = random_token()?;
    let verifier = random_token()?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let url = relay_api::query::with_query(
        &format!("{server}/auth/login"),
        &[
            ("redirect_uri", redirect_uri.as_str()),
            ("state", state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    );
    eprintln!(
        "Sign in to Relay in your browser. If it does not open, open this address:\n\n  {url}\n"
    );
    if !args.no_browser {
        open_browser(&url);
    }
    let code = wait_for_code(&listener, &state, Duration::from_secs(args.timeout))?;

    let client = Client::new(server, None, Duration::from_secs(30))?;
    let (status, answer) = client
        .post_form(
            "/auth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", verifier.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
            ],
        )
        .with_context(|| format!("{server} could not be reached to finish the sign-in"))?;
    if status != 200 {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or("the server refused the sign-in");
        bail!("{message} ({status})");
    }
    let key = answer["access_token"]
        .as_str()
        .filter(|key| key.starts_with("rly_"))
        .context("the server's answer holds no Relay API key")?;
    remember(paths, server, key)?;
    let who = |field: &str| answer["user"][field].as_str().unwrap_or("?").to_owned();
    let tenant = |field: &str| answer["tenant"][field].as_str().unwrap_or("?").to_owned();
    println!(
        "Signed in as {} ({}) to {} ({}) at {server}.\nThe key is saved in {}.",
        who("email"),
        who("role"),
        tenant("name"),
        tenant("slug"),
        paths.credentials_file().display()
    );
    Ok(())
}

/// Opens `url` in the person's browser: `$BROWSER` if set, else the platform's opener. Failure
/// is fine: the address is printed.
fn open_browser(url: &str) {
    let command = match std::env::var("BROWSER") {
        Ok(browser) if !browser.trim().is_empty() => browser,
        _ if cfg!(target_os = "macos") => "open".to_owned(),
        _ if cfg!(windows) => "explorer".to_owned(),
        _ => "xdg-open".to_owned(),
    };
    let spawned = std::process::Command::new(&command)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(err) = spawned {
        tracing::debug!("could not start {command}: {err}");
    }
}

/// Answers browsers on the loopback port until one brings back this sign-in's code (or its
/// refusal), or `timeout` passes.
fn wait_for_code(listener: &TcpListener, state: &str, timeout: Duration) -> anyhow::Result<String> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now()
        .checked_add(timeout)
        .context("--timeout is too large")?;
    loop {
        if Instant::now() >= deadline {
            bail!(
                "the browser did not come back within {} s: run relay-mcp login again",
                timeout.as_secs()
            );
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(outcome) = answer_browser(stream, state) {
                    return outcome;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => return Err(err).context("waiting for the browser"),
        }
    }
}

/// Reads one request on the loopback. `None` when it is not this sign-in's answer (a favicon,
/// a stale tab): keep waiting.
fn answer_browser(stream: TcpStream, state: &str) -> Option<anyhow::Result<String>> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    // At most 16 KiB and 5 s for the whole head: a client that dawdles is dropped.
    let started = Instant::now();
    let mut reader = BufReader::new(stream.try_clone().ok()?).take(16 * 1024);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    // The rest of the head is not needed; read it so the browser sees a clean answer.
    let mut line = String::new();
    while reader.read_line(&mut line).ok()? > 2 {
        if started.elapsed() > Duration::from_secs(5) {
            return None;
        }
        line.clear();
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = relay_api::query::parse(query);
    let mut stream = stream;
    if path != "/callback" || params.get("state").map(String::as_str) != Some(state) {
        respond(
            &mut stream,
            404,
            "This is not a Relay sign-in answer for this terminal.",
        );
        return None;
    }
    if let Some(error) = params.get("error") {
        let description = params.get("error_description").cloned().unwrap_or_default();
        respond(
            &mut stream,
            403,
            &format!("Relay did not sign you in: {description} You can close this tab."),
        );
        return Some(Err(anyhow::anyhow!("{description} ({error})")));
    }
    match params.get("code").filter(|code| !code.is_empty()) {
        Some(code) => {
            respond(
                &mut stream,
                200,
                "Signed in to Relay. You can close this tab and return to the terminal.",
            );
            Some(Ok(code.clone()))
        }
        None => {
            respond(&mut stream, 400, "The sign-in answer carries no code.");
            Some(Err(anyhow::anyhow!(
                "the server sent the browser back without a code"
            )))
        }
    }
}

fn respond(stream: &mut TcpStream, status: u16, message: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Relay</title></head>\
         <body style=\"font-family:system-ui,sans-serif;margin:3rem\"><p>{escaped}</p></body></html>"
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

pub fn logout(paths: &Paths) -> anyhow::Result<()> {
    let credentials = Credentials::load(paths)?;
    if credentials.api_key.is_none() {
        println!("No key was stored.");
        return Ok(());
    }
    Credentials::default().save(paths)?;
    println!("Forgot the stored key.");
    Ok(())
}
