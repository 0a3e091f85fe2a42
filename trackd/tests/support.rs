//! A real trackd on a loopback port, and a plain HTTP/1.1 client that can also send what a
//! well-behaved client would not.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use relay_testkit::TestDatabase;

pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    _database: TestDatabase,
}

impl Server {
    pub fn start(database: TestDatabase) -> Self {
        let url = relay_store::DatabaseUrl::parse(&database.url).unwrap();
        // Opened here, off the runtime: the PostgreSQL client must not run on a tokio worker.
        let store = relay_store::open(&url).unwrap();
        let config = trackd::Config::new("localhost").unwrap();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                trackd::run(config, store, listener, async {
                    let _ = rx.await;
                })
                .await
            })
        });
        Self {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
            _database: database,
        }
    }

    /// Stops the server and waits until it has drained.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("server thread")
                .expect("server result");
        }
    }

    /// Sends raw bytes and reads the whole answer (the request should say `Connection: close`).
    pub fn raw(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// A request with the usual headers; returns status and parsed JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        host: &str,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        parse(&self.raw(request.as_bytes()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Status code and JSON body of an HTTP/1.1 answer.
pub fn parse(answer: &str) -> (u16, serde_json::Value) {
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Runs a test body against a trackd on each backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name($crate::support::Server::start(relay_testkit::TestDatabase::sqlite()));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(database) = relay_testkit::TestDatabase::postgres() {
                        super::$name($crate::support::Server::start(database));
                    }
                }
            )*
        }
    };
}
pub(crate) use on_every_backend;
