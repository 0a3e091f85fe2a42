//! What the load is driven against: a no-op hyper handler, or a real trackd with a tenant.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use relay_core::{ApiKeySecret, Email, Role, TenantSlug};
use relay_store::{DatabaseUrl, NewSkillVersion};
use tokio::sync::oneshot;

pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub key: String,
    pub skill: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Target {
    /// A hyper server, built like trackd's, whose handler reads the body and answers 202.
    pub async fn noop() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new());
            loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted { Ok((stream, _)) => stream, Err(_) => continue },
                    _ = &mut stop => break,
                };
                let _ = stream.set_nodelay(true);
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = request.into_body().collect().await;
                        let mut response = Response::new(Full::new(Bytes::from_static(
                            br#"{"accepted":1,"duplicates":0,"rejected":[]}"#,
                        )));
                        *response.status_mut() = StatusCode::ACCEPTED;
                        Ok::<_, Infallible>(response)
                    },
                );
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        Ok(Self {
            addr,
            host: "acme.localhost".to_owned(),
            key: "rly_noop".to_owned(),
            skill: "sk_noop".to_owned(),
            shutdown,
            task,
        })
    }

    /// A real trackd on `database_url`, with one tenant, user, key and skill.
    pub fn trackd(runtime: &tokio::runtime::Runtime, database_url: &str) -> anyhow::Result<Self> {
        // Opened off the runtime: the PostgreSQL client must not run on a tokio worker.
        let store = relay_store::open(&DatabaseUrl::parse(database_url)?)?;
        let tenant = store.create_tenant(&TenantSlug::parse("acme")?, "Acme", &[])?;
        let user = store.create_user(&tenant.id, &Email::parse("dev@acme.com")?, Role::Member)?;
        let secret = ApiKeySecret::generate();
        store.create_api_key(&tenant.id, &user.id, "bench", &secret)?;
        let skill = store.publish_skill(
            &tenant.id,
            &NewSkillVersion {
                slug: "code-review".parse()?,
                name: "Code Review".into(),
                description: "Reviews diffs".into(),
                category: None,
                hours_saved: None,
                skill_md:
                    "---\nname: code-review\ndescription: Reviews diffs\n---\n# Code Review\n"
                        .into(),
                files: Vec::new(),
                author: None,
            },
        )?;
        let mut config = trackd::Config::new("localhost")?;
        config.track_rate_per_minute = u32::MAX;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            if let Err(err) = trackd::run(config, store, listener, async {
                let _ = stop.await;
            })
            .await
            {
                eprintln!("trackd stopped: {err:#}");
            }
        });
        Ok(Self {
            addr,
            host: "acme.localhost".to_owned(),
            key: secret.expose().to_owned(),
            skill: skill.skill.id.to_string(),
            shutdown,
            task,
        })
    }

    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
