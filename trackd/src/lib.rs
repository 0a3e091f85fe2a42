//! trackd, Relay's server. [`run`] serves on a bound listener until a shutdown future completes,
//! so tests start a real server on `127.0.0.1:0` and stop it when they are done.

mod config;
mod http;
mod routes;

use std::sync::Arc;

use relay_store::Store;

pub use config::{Config, Limits};

/// What every request handler can reach.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
}

/// Serves HTTP on `listener` until `shutdown` completes, then drains open requests.
pub async fn run(
    config: Config,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let state = Arc::new(AppState { config, store });
    http::serve(state, listener, shutdown).await
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
