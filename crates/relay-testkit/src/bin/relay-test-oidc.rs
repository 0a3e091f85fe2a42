//! Runs the test OpenID Connect provider (`relay_testkit::oidc`) until killed, for manual trials
//! and browser tests.
//!
//! `relay-test-oidc [--listen 127.0.0.1:PORT] [--email alice@acme.com]` prints one line,
//! `issuer http://127.0.0.1:PORT client_id relay-test-client client_secret relay-test-secret`,
//! then serves. `/authorize` approves at once as `--email` (or the request's `login_hint`).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use relay_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, DEFAULT_EMAIL, Identity, OidcProvider};

const USAGE: &str = "usage: relay-test-oidc [--listen 127.0.0.1:PORT] [--email alice@acme.com]

Runs a test OpenID Connect provider until killed. --listen defaults to 127.0.0.1:0 (a free port);
/authorize approves at once as --email (default alice@acme.com) unless the request has a login_hint.
Prints: issuer URL client_id ID client_secret SECRET";

struct Options {
    listen: SocketAddr,
    email: String,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        email: DEFAULT_EMAIL.to_owned(),
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                let listen = value()?;
                options.listen = listen
                    .parse()
                    .map_err(|err| format!("--listen {listen:?}: {err} (want IP:PORT)"))?;
            }
            "--email" => {
                options.email = value()?;
                if options.email.is_empty() {
                    return Err("--email must not be empty".to_owned());
                }
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("relay-test-oidc: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let provider = match OidcProvider::start_on(options.listen) {
        Ok(provider) => provider,
        Err(err) => {
            eprintln!(
                "relay-test-oidc: cannot listen on {}: {err}",
                options.listen
            );
            return ExitCode::FAILURE;
        }
    };
    provider.sign_in_as(Identity::new(&options.email));
    let mut stdout = std::io::stdout().lock();
    let printed = writeln!(
        stdout,
        "issuer {} client_id {CLIENT_ID} client_secret {CLIENT_SECRET}",
        provider.issuer()
    )
    .and_then(|()| stdout.flush());
    if let Err(err) = printed {
        eprintln!("relay-test-oidc: cannot write to stdout: {err}");
        return ExitCode::FAILURE;
    }
    drop(stdout);
    loop {
        std::thread::park();
    }
}
