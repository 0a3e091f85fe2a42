//! `relay-bench mcp`: what relay-mcp costs a developer's machine. The MCP server from spawn to an
//! answered `tools/list`, and its resident memory; `relay-mcp hook` wall time with trackd up (on
//! loopback, durable commits) and down. Runs the release relay-mcp next to this binary, building
//! it first if it is missing.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::targets::Target;

fn relay_mcp() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let binary = here.with_file_name("relay-mcp");
    if !binary.exists() {
        let profile = if here.to_string_lossy().contains("/release/") {
            vec!["--release"]
        } else {
            vec![]
        };
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "relay-mcp"])
            .args(profile)
            .status()?;
        anyhow::ensure!(status.success(), "building relay-mcp failed");
    }
    Ok(binary)
}

fn median_and_p95(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.95))
}

/// A PostToolUse input as Claude Code sends it for a Bash call with 10 KB of output.
fn hook_input(n: usize) -> String {
    let output = "x".repeat(10 * 1024);
    format!(
        r#"{{"session_id":"bench-session","transcript_path":"/home/dev/.claude/projects/x.jsonl","cwd":"/home/dev/app","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{{"command":"cargo test","description":"run tests"}},"tool_response":{{"stdout":"{output}","stderr":""}},"tool_use_id":"toolu_bench_{n}","duration_ms":1200}}"#
    )
}

fn time_hooks(
    binary: &PathBuf,
    server: &str,
    key: &str,
    skill: &str,
    runs: usize,
) -> anyhow::Result<(f64, f64)> {
    let dirs = tempfile_dir()?;
    let mut samples = Vec::with_capacity(runs);
    for n in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["hook", "--skill", skill, "--server", server])
            .env("RELAY_API_KEY", key)
            .env("RELAY_DATA_DIR", dirs.join("data"))
            .env("RELAY_CONFIG_DIR", dirs.join("config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(hook_input(n).as_bytes());
        }
        child.wait()?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median_and_p95(samples))
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "relay-bench-mcp-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn time_tools_list(binary: &PathBuf, runs: usize) -> anyhow::Result<((f64, f64), f64)> {
    let dirs = tempfile_dir()?;
    let mut samples = Vec::with_capacity(runs);
    let mut resident = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .env("RELAY_DATA_DIR", dirs.join("data"))
            .env("RELAY_CONFIG_DIR", dirs.join("config"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdin"))?;
        let mut stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
        );
        writeln!(
            stdin,
            r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"relay-bench","version":"0"}}}}}}"#
        )?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        writeln!(
            stdin,
            r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
        )?;
        writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list"}}"#)?;
        line.clear();
        stdout.read_line(&mut line)?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            line.contains("deploy_skill"),
            "tools/list did not answer: {line}"
        );
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        if let Some(kib) = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        {
            resident.push(kib / 1024.0);
        }
        drop(stdin);
        let _ = child.wait();
    }
    let rss = if resident.is_empty() {
        f64::NAN
    } else {
        median_and_p95(resident).0
    };
    Ok((median_and_p95(samples), rss))
}

pub fn run(runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let binary = relay_mcp()?;
    println!(
        "relay-bench mcp: {} ({} cores)",
        binary.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let ((tools_median, tools_p95), rss) = time_tools_list(&binary, 20)?;

    let database = relay_testkit::TestDatabase::sqlite();
    let target = Target::trackd(runtime, &database.url)?;
    let server = format!("http://acme.localhost:{}", target.addr.port());
    let (up_median, up_p95) = time_hooks(&binary, &server, &target.key, &target.skill, 50)?;
    runtime.block_on(target.stop());
    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let down = format!("http://acme.localhost:{closed}");
    let (down_median, down_p95) = time_hooks(&binary, &down, "rly_none", "sk_bench", 50)?;

    println!();
    println!("{:<44} {:>10} {:>10}", "measure", "median", "p95");
    println!(
        "{:<44} {:>8.1}ms {:>8.1}ms",
        "relay-mcp spawn to tools/list answered", tools_median, tools_p95
    );
    println!(
        "{:<44} {:>8.1}MB",
        "relay-mcp resident memory after tools/list", rss
    );
    println!(
        "{:<44} {:>8.1}ms {:>8.1}ms",
        "relay-mcp hook, trackd up (10 KB output)", up_median, up_p95
    );
    println!(
        "{:<44} {:>8.1}ms {:>8.1}ms",
        "relay-mcp hook, trackd down", down_median, down_p95
    );
    Ok(())
}
