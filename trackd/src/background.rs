//! trackd on a thread of its own, with its own runtime: for programs that embed it, and for
//! tests that need a real server beside them.

use std::net::SocketAddr;
use std::sync::Arc;

use relay_store::Store;

use crate::{Config, run};

/// A running trackd. [`Background::stop`] (or dropping it) drains open requests and flushes
/// every acknowledged event before it returns.
pub struct Background {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl Background {
    /// Serves on `listener`, which the caller bound (so it knows the port before anything runs).
    /// Open `store` before: the PostgreSQL client must not be created on a runtime worker.
    pub fn start(
        config: Config,
        store: Arc<dyn Store>,
        listener: std::net::TcpListener,
    ) -> anyhow::Result<Self> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("trackd".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    run(config, store, listener, async {
                        let _ = stopped.await;
                    })
                    .await
                })
            })?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it and waits until it has drained and flushed; the server's own outcome.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stop_now()
    }

    fn stop_now(&mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow::anyhow!("the trackd thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Err(err) = self.stop_now() {
            tracing::error!("trackd stopped with an error: {err:#}");
        }
    }
}
