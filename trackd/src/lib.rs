//! trackd, Relay's server. [`run`] serves on a bound listener until a shutdown future completes,
//! so tests start a real server on `127.0.0.1:0` and stop it when they are done.

mod auth;
mod background;
mod cache;
mod config;
mod http;
mod ingest;
mod metrics;
mod routes;
mod sso;
mod tenancy;

use std::sync::Arc;

use relay_store::{Store, StoreError};

pub use background::Background;
pub use config::{Config, IpNet, Limits};
pub use sso::{DEFAULT_ISSUER, PublicUrl, SsoConfig};

use crate::http::ApiError;

/// Sign-in requests (`/auth/login`, `/auth/callback`, `/auth/session`, `/auth/token`) each
/// client address may make per minute. Behind a proxy every client shares the proxy's address,
/// so this is generous: it stops floods, not people.
const SIGN_IN_RATE_PER_MINUTE: u32 = 1200;

/// What every request handler can reach.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) tenants: tenancy::TenantCache,
    pub(crate) keys: auth::KeyCache,
    pub(crate) writer: ingest::Writer,
    pub(crate) limiter: ingest::RateLimiter,
    /// Sign-in requests per client address: they write to the database without a key.
    pub(crate) sign_in_limiter: ingest::RateLimiter<std::net::IpAddr>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Where browsers are sent: the base domain and tenant hosts, with scheme and port.
    pub(crate) public_url: PublicUrl,
    /// The OIDC provider, when single sign-on is configured.
    pub(crate) sso: Option<Arc<sso::Oidc>>,
}

impl AppState {
    /// Runs a store call on the blocking pool: the store is synchronous, and the PostgreSQL
    /// client must never run on a tokio worker.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(&*store))
            .await
            .map_err(|err| {
                tracing::error!("a database call panicked: {err}");
                ApiError::internal()
            })?
            .map_err(ApiError::from)
    }
}

/// Serves HTTP on `listener` until `shutdown` completes, then drains open requests and flushes
/// the event writer: every event answered 202 is committed before this returns.
pub async fn run(
    config: Config,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let metrics = Arc::new(metrics::Metrics::default());
    let drain_timeout = config.limits.drain_timeout;
    let public_url = match &config.public_url {
        Some(url) => PublicUrl::parse(url, &config.base_domain)?,
        None => PublicUrl::local(&config.base_domain, listener.local_addr()?.port()),
    };
    let oidc = config.sso.clone().map(|sso| Arc::new(sso::Oidc::new(sso)));
    if let Some(oidc) = &oidc {
        tracing::info!(
            issuer = %oidc.config().issuer,
            callback = %public_url.callback(),
            "single sign-on on"
        );
    }
    let (writer, writer_thread) = ingest::Writer::start(store.clone(), metrics.clone())?;
    let state = Arc::new(AppState {
        limiter: ingest::RateLimiter::new(config.track_rate_per_minute),
        sign_in_limiter: ingest::RateLimiter::new(SIGN_IN_RATE_PER_MINUTE),
        keys: auth::KeyCache::new(config.limits.key_cache_ttl),
        config,
        store,
        tenants: tenancy::TenantCache::default(),
        writer,
        metrics,
        public_url,
        sso: oidc,
    });
    let served = http::serve(state, listener, shutdown).await;
    // Every connection has ended, so the last handle on the writer is gone with them: the writer
    // drains its queue and stops.
    let flushed = tokio::task::spawn_blocking(move || writer_thread.join());
    if tokio::time::timeout(drain_timeout, flushed).await.is_err() {
        // The database is stalled; nothing still queued was acknowledged, so nothing is lost.
        tracing::warn!("the writer did not finish within {drain_timeout:?}: stopping anyway");
    }
    served
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(err) => {
                    tracing::warn!("cannot listen for SIGTERM: {err}");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down: draining open requests");
}
