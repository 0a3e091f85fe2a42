//! A real trackd on a loopback port (in this process, or as the real binary), tenants to test
//! with, and a plain HTTP/1.1 client that can also send what a well-behaved client would not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use relay_core::{ApiKeySecret, Email, Role, SkillId, TenantId, TenantSlug};
use relay_store::{DatabaseUrl, NewSkillVersion, Store};
use relay_testkit::TestDatabase;

/// The real hook inputs captured from Claude Code 2.1.328.
pub fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/reference/hook-payloads")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The string the fixtures' tool inputs and outputs carry.
pub const MARKER: &str = "SECRET-TOOL-INPUT-MARKER";

/// A skill with this slug in the tenant; its id.
pub fn seed_skill(store: &dyn Store, tenant: &TenantId, slug: &str) -> SkillId {
    let skill_md = format!("---\nname: {slug}\ndescription: {slug} helps\n---\n# {slug}\n");
    let new = NewSkillVersion {
        slug: slug.parse().unwrap(),
        name: slug.to_owned(),
        description: format!("{slug} helps"),
        category: None,
        hours_saved: None,
        skill_md,
        files: Vec::new(),
        author: None,
    };
    store.publish_skill(tenant, &new).unwrap().skill.id
}

/// Every event stored for a tenant, oldest first.
pub fn stored_events(store: &dyn Store, tenant: &TenantId) -> Vec<relay_core::Event> {
    let end = relay_core::Timestamp::parse_rfc3339("2100-01-01T00:00:00Z").unwrap();
    store
        .list_events(
            tenant,
            relay_core::Timestamp::from_millis(0),
            end,
            1_000_000,
        )
        .unwrap()
}

/// Makes `skill` save `hours` per use (publishing its content again changes only that).
pub fn set_hours_saved(store: &dyn Store, tenant: &TenantId, skill: &SkillId, hours: &str) {
    let current = store.skill_by_id(tenant, skill).unwrap().unwrap();
    let content = store.skill_version(tenant, skill, None).unwrap().unwrap();
    store
        .publish_skill(
            tenant,
            &NewSkillVersion {
                slug: current.slug,
                name: current.name,
                description: current.description,
                category: None,
                hours_saved: Some(relay_core::HoursSaved::parse(hours).unwrap()),
                skill_md: content.skill_md,
                files: content.files,
                author: None,
            },
        )
        .unwrap();
}

/// One tenant with an admin, a member, their keys and a skill.
#[derive(Clone)]
pub struct TestTenant {
    pub id: TenantId,
    pub slug: String,
    pub admin_key: String,
    pub member_key: String,
    pub skill: SkillId,
}

impl TestTenant {
    pub fn host(&self) -> String {
        format!("{}.localhost", self.slug)
    }
}

pub fn seed_tenant(store: &dyn Store, slug: &str) -> TestTenant {
    let tenant = store
        .create_tenant(
            &TenantSlug::parse(slug).unwrap(),
            &format!("{slug} Inc"),
            &[],
        )
        .unwrap();
    let mut keys = Vec::new();
    for (who, role) in [("admin", Role::Admin), ("dev", Role::Member)] {
        let user = store
            .create_user(
                &tenant.id,
                &Email::parse(&format!("{who}@{slug}.com")).unwrap(),
                role,
            )
            .unwrap();
        let secret = ApiKeySecret::generate();
        store
            .create_api_key(&tenant.id, &user.id, "test", &secret)
            .unwrap();
        keys.push(secret.expose().to_owned());
    }
    let skill = store
        .publish_skill(
            &tenant.id,
            &NewSkillVersion {
                slug: "demo".parse().unwrap(),
                name: "Demo".into(),
                description: "A demo skill".into(),
                category: None,
                hours_saved: None,
                skill_md: "---\nname: demo\ndescription: A demo skill\n---\n# Demo\n".into(),
                files: Vec::new(),
                author: None,
            },
        )
        .unwrap()
        .skill;
    TestTenant {
        id: tenant.id,
        slug: slug.to_owned(),
        admin_key: keys[0].clone(),
        member_key: keys[1].clone(),
        skill: skill.id,
    }
}

/// A trackd running in this process on 127.0.0.1:0.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub acme: TestTenant,
    pub globex: TestTenant,
    background: Option<trackd::Background>,
    _database: TestDatabase,
}

impl Server {
    pub fn start(database: TestDatabase) -> Self {
        Self::start_with(database, |_| {})
    }

    pub fn start_with(database: TestDatabase, adjust: impl FnOnce(&mut trackd::Config)) -> Self {
        let url = DatabaseUrl::parse(&database.url).unwrap();
        // Opened here, off the runtime: the PostgreSQL client must not run on a tokio worker.
        let store = relay_store::open(&url).unwrap();
        let acme = seed_tenant(&*store, "acme");
        let globex = seed_tenant(&*store, "globex");
        let mut config = trackd::Config::new("localhost").unwrap();
        config.track_rate_per_minute = 1_000_000;
        adjust(&mut config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let background = trackd::Background::start(config, store.clone(), listener).unwrap();
        Self {
            addr: background.addr(),
            store,
            acme,
            globex,
            background: Some(background),
            _database: database,
        }
    }

    /// Stops the server and waits until it has drained and flushed.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(background) = self.background.take() {
            background.stop().expect("server result");
        }
    }

    pub fn client(&self) -> Client {
        Client { addr: self.addr }
    }

    /// The database the server runs on.
    pub fn database_url(&self) -> &str {
        &self._database.url
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Talks HTTP/1.1 to a server, one connection per request.
#[derive(Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
}

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub json: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

impl Client {
    /// Sends raw bytes and reads the whole answer (the request should say `Connection: close`).
    pub fn raw(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        host: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(key) = key {
            request.push_str(&format!("Authorization: Bearer {key}\r\n"));
        }
        let body = body.unwrap_or("");
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        parse(&self.raw(request.as_bytes()))
    }

    pub fn get(&self, path: &str, host: &str, key: &str) -> Answer {
        self.send("GET", path, host, Some(key), None)
    }

    pub fn post(&self, path: &str, host: &str, key: &str, body: &str) -> Answer {
        self.send("POST", path, host, Some(key), Some(body))
    }
}

pub fn parse(answer: &str) -> Answer {
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    Answer {
        status,
        head: head.to_owned(),
        json,
    }
}

/// The real `trackd` binary, with its logs captured.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    logs: Arc<std::sync::Mutex<String>>,
}

impl Process {
    pub fn start(database_url: &str, extra_env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trackd"));
        command
            .env("RELAY_DATABASE_URL", database_url)
            .env("TRACKD_LISTEN", "127.0.0.1:0")
            .env("RELAY_BASE_DOMAIN", "localhost")
            .env("RELAY_TRACK_RATE_PER_MINUTE", "1000000")
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start trackd");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.find("listening on http://")
                    && let Some(tx) = tx.take()
                {
                    let addr = line[at + "listening on http://".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_owned();
                    let _ = tx.send(addr);
                }
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("trackd did not say where it listens")
            .parse()
            .unwrap();
        Self { child, addr, logs }
    }

    pub fn client(&self) -> Client {
        Client { addr: self.addr }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(mut self) -> String {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.logs()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a test body against an in-process trackd on each backend.
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

/// A TCP proxy to another address, to take a database away from a running server and bring it
/// back on the same port.
pub struct Proxy {
    pub addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(target: SocketAddr) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), target)
    }

    pub fn start_on(addr: SocketAddr, target: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections: Arc<std::sync::Mutex<Vec<TcpStream>>> = Arc::default();
        let (flag, open) = (stop.clone(), connections.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                open.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self {
            addr,
            stop,
            connections,
            thread: Some(thread),
        }
    }

    /// Closes the listener and cuts every open connection.
    pub fn stop(mut self) -> SocketAddr {
        self.stop_now();
        self.addr
    }

    fn stop_now(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop_now();
    }
}
