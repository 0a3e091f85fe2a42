//! `trackd`: read the configuration, open the database, serve until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use relay_store::DatabaseUrl;

#[derive(Debug, Parser)]
#[command(
    name = "trackd",
    version,
    about = "Relay's server: skills API and usage tracking"
)]
struct Cli {
    /// Address to listen on.
    #[arg(
        long,
        env = "TRACKD_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// The database: sqlite:///path/relay.db or postgres://user@host/db
    /// [default: sqlite://<data dir>/relay/relay.db]
    #[arg(
        long,
        env = "RELAY_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    database_url: Option<String>,
    /// A file holding the database URL (Docker and systemd secrets: the URL has the password);
    /// when set, it wins over RELAY_DATABASE_URL.
    #[arg(long, env = "RELAY_DATABASE_URL_FILE", global = true)]
    database_url_file: Option<std::path::PathBuf>,
    /// Tenants are served at <slug>.<base domain>.
    #[arg(
        long,
        env = "RELAY_BASE_DOMAIN",
        default_value = "localhost",
        global = true
    )]
    base_domain: String,
    /// Tracked events each API key may send per minute.
    #[arg(
        long,
        env = "RELAY_TRACK_RATE_PER_MINUTE",
        default_value_t = 600,
        global = true
    )]
    track_rate_per_minute: u32,
    /// How browsers reach the base domain, e.g. https://relay.example.com
    /// [default: http://<base domain>:<listening port>]
    #[arg(long, env = "RELAY_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// The OpenID Connect provider people sign in with.
    #[arg(long, env = "RELAY_OIDC_ISSUER", default_value = trackd::DEFAULT_ISSUER, global = true)]
    oidc_issuer: String,
    /// The OAuth client id registered with the provider; single sign-on is off without it.
    #[arg(long, env = "RELAY_OIDC_CLIENT_ID", global = true)]
    oidc_client_id: Option<String>,
    /// The client's secret (prefer RELAY_OIDC_CLIENT_SECRET_FILE).
    #[arg(
        long,
        env = "RELAY_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    oidc_client_secret: Option<String>,
    /// A file holding the client's secret (Docker and systemd secrets).
    #[arg(
        long,
        env = "RELAY_OIDC_CLIENT_SECRET_FILE",
        global = true,
        conflicts_with = "oidc_client_secret"
    )]
    oidc_client_secret_file: Option<std::path::PathBuf>,
    /// Reverse proxies whose X-Forwarded-For is believed, e.g. 127.0.0.1/32,172.16.0.0/12
    #[arg(
        long,
        env = "RELAY_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    trusted_proxies: Vec<trackd::IpNet>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database and serve HTTP (the default).
    Serve,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Whatever RUST_LOG asks for, the database driver and the HTTP internals stay at info:
    // at debug they log statement parameters and raw frames, which hold people's data.
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for quiet in [
        "tokio_postgres=info",
        "postgres=info",
        "hyper=info",
        "hyper_util=info",
        "h2=info",
    ] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match serve(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(cli: Cli) -> anyhow::Result<()> {
    // `serve` is the only command, and the default.
    let (Some(Command::Serve) | None) = cli.command;
    let mut config = trackd::Config::new(&cli.base_domain)?;
    anyhow::ensure!(
        cli.track_rate_per_minute > 0,
        "RELAY_TRACK_RATE_PER_MINUTE must be at least 1"
    );
    config.track_rate_per_minute = cli.track_rate_per_minute;
    config.public_url = cli.public_url.clone();
    config.trusted_proxies = cli.trusted_proxies.clone();
    if let Some(client_id) = cli.oidc_client_id.as_deref() {
        let secret = match &cli.oidc_client_secret_file {
            Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                format!("reading RELAY_OIDC_CLIENT_SECRET_FILE {}", path.display())
            })?),
            None => cli.oidc_client_secret.clone(),
        };
        config.sso = Some(trackd::SsoConfig::new(&cli.oidc_issuer, client_id, secret)?);
    } else {
        tracing::info!("single sign-on is off: set RELAY_OIDC_CLIENT_ID to turn it on");
    }
    let from_file = match &cli.database_url_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading RELAY_DATABASE_URL_FILE {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let url = DatabaseUrl::from_setting(from_file.as_deref().or(cli.database_url.as_deref()))?;
    // Opened before the runtime starts: the PostgreSQL client must not run on a tokio worker.
    let store = relay_store::open(&url).with_context(|| format!("opening {url}"))?;
    tracing::info!(database = %url, "database ready");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("listening on {}", cli.listen))?;
        let local = listener.local_addr()?;
        tracing::info!(
            "trackd listening on http://{local} (tenants at http://<slug>.{}:{})",
            config.base_domain,
            local.port()
        );
        trackd::run(config, store, listener, trackd::shutdown_signal()).await
    })
}
