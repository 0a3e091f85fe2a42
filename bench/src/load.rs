//! The load generator: keep-alive HTTP/1.1 connections, each sending one request at a time,
//! either as fast as answers come (closed loop) or on a fixed schedule (open loop, with latency
//! measured from the scheduled time so a stalled server cannot hide its queue).

use std::fmt;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::targets::Target;

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// One event per request, as fast as the server answers.
    Single,
    /// This many events per request.
    Batch(usize),
    /// One event per request at this many requests per second in total.
    FixedRate(u64),
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Single => write!(f, "1 event/req, max"),
            Mode::Batch(n) => write!(f, "{n} events/req, max"),
            Mode::FixedRate(rate) => write!(f, "1 event/req, {rate} req/s"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub requests: u64,
    pub events: u64,
    pub errors: u64,
    pub elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Outcome {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    /// In milliseconds.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

const WARM_UP: Duration = Duration::from_secs(1);

pub async fn run(
    target: &Target,
    mode: Mode,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let start = Instant::now() + Duration::from_millis(100);
    let measure_from = start + WARM_UP;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (addr, host, key, skill) = (
            target.addr,
            target.host.clone(),
            target.key.clone(),
            target.skill.clone(),
        );
        tasks.push(tokio::spawn(async move {
            drive(
                addr,
                &host,
                &key,
                &skill,
                mode,
                connections,
                connection,
                run_id,
                start,
                measure_from,
                end,
            )
            .await
        }));
    }
    let mut total = Outcome {
        elapsed: duration,
        ..Outcome::default()
    };
    for task in tasks {
        let part = task.await??;
        total.requests += part.requests;
        total.events += part.events;
        total.errors += part.errors;
        total.latencies_us.extend(part.latencies_us);
    }
    total.latencies_us.sort_unstable();
    Ok(total)
}

/// Appends one realistic hook event (what relay-mcp sends for a Bash call) to `out`. Written
/// with `push_str`, not `format!`: the generator shares the machine with the server, and the
/// less it spends, the more the figures say about the server.
fn push_event(out: &mut String, skill: &str, prefix: &str, i: u64) {
    let mut number = itoa(i);
    out.push_str(r#"{"event_id":"ev_"#);
    out.push_str(prefix);
    out.push_str(&number);
    out.push_str(r#"","skill_id":""#);
    out.push_str(skill);
    out.push_str(r#"","kind":"tool_use","session_id":"session-"#);
    out.push_str(prefix);
    number = itoa(i / 50);
    out.push_str(&number);
    out.push_str(r#"","tool_use_id":"toolu_"#);
    out.push_str(prefix);
    out.push_str(&itoa(i));
    out.push_str(
        r#"","tool_name":"Bash","duration_ms":12,"source":"hook","client":"relay-mcp/0.1.0"}"#,
    );
}

fn itoa(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    String::from_utf8_lossy(&digits[at..]).into_owned()
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    addr: std::net::SocketAddr,
    host: &str,
    key: &str,
    skill: &str,
    mode: Mode,
    connections: usize,
    connection: usize,
    run_id: u128,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut stream = connect(addr).await?;
    let mut buffer = Vec::with_capacity(4096);
    let interval = match mode {
        Mode::FixedRate(rate) => Some(Duration::from_secs_f64(
            connections as f64 / rate.max(1) as f64,
        )),
        _ => None,
    };
    let events_per_request = match mode {
        Mode::Batch(n) => n,
        _ => 1,
    };
    tokio::time::sleep_until(start.into()).await;
    let prefix = format!("{run_id:x}-{connection}-");
    let mut body = String::with_capacity(events_per_request * 300 + 32);
    let mut request = Vec::with_capacity(events_per_request * 300 + 256);
    let head = format!(
        "POST /api/track HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: "
    );
    let mut counter = 0u64;
    let mut sent = 0u64;
    loop {
        // Open loop: the request's time comes from the schedule, whenever the last one ended.
        let scheduled = match interval {
            Some(interval) => {
                let at =
                    start + interval.mul_f64(sent as f64 + connection as f64 / connections as f64);
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        if scheduled >= end {
            break;
        }
        sent += 1;
        body.clear();
        if events_per_request == 1 {
            counter += 1;
            push_event(&mut body, skill, &prefix, counter);
        } else {
            body.push_str(r#"{"events":["#);
            for n in 0..events_per_request {
                if n > 0 {
                    body.push(',');
                }
                counter += 1;
                push_event(&mut body, skill, &prefix, counter);
            }
            body.push_str("]}");
        }
        request.clear();
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(itoa(body.len() as u64).as_bytes());
        request.extend_from_slice(b"\r\n\r\n");
        request.extend_from_slice(body.as_bytes());
        let ok = exchange(&mut stream, &request, &mut buffer).await;
        let done = Instant::now();
        if scheduled >= measure_from {
            match ok {
                Ok(202) => {
                    outcome.requests += 1;
                    outcome.events += events_per_request as u64;
                    outcome.latencies_us.push(
                        done.duration_since(scheduled)
                            .as_micros()
                            .min(u128::from(u32::MAX)) as u32,
                    );
                }
                _ => outcome.errors += 1,
            }
        }
        if ok.is_err() {
            stream = connect(addr).await?;
        }
    }
    Ok(outcome)
}

async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes one request and reads its whole answer; returns the status code.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> anyhow::Result<u16> {
    stream.write_all(request).await?;
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end])?;
            let status: u16 = head.split_whitespace().nth(1).unwrap_or("0").parse()?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await?;
                anyhow::ensure!(read > 0, "connection closed mid-answer");
                buffer.extend_from_slice(&chunk[..read]);
            }
            return Ok(status);
        }
        let read = stream.read(&mut chunk).await?;
        anyhow::ensure!(read > 0, "connection closed");
        buffer.extend_from_slice(&chunk[..read]);
    }
}
