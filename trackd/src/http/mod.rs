//! The HTTP server: accept loop, per-connection hardening, graceful shutdown.

pub(crate) mod body;
mod error;
mod idle;
mod router;

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub(crate) use body::{read_json, read_json_bytes};
pub(crate) use error::{
    ApiError, Body, empty_response, json_response, rate_limited, text_response,
};
/// The query string's pairs, percent-decoded.
pub(crate) fn parse_query(query: Option<&str>) -> std::collections::HashMap<String, String> {
    relay_api::query::parse(query.unwrap_or(""))
}

use crate::AppState;

pub(crate) async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let limits = state.config.limits.clone();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Without a timer hyper silently ignores header_read_timeout.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let mut tasks = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        while tasks.try_join_next().is_some() {}
        // Waiting for a free slot before accepting keeps the kernel's backlog as the queue.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(router::handle(state, request, peer).await) }
        });
        let stream =
            idle::IdleTimeout::new(stream, limits.header_read_timeout, limits.idle_timeout);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tasks.spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, "connection ended: {err}");
            }
            drop(permit);
        });
    }

    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(limits.drain_timeout) => {
            tracing::warn!("drain timeout: closing the remaining connections");
        }
    }
    // Whatever is left is cut; its clients got no answer and will send again.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(())
}
