//! `cargo run --release -p relay-bench`: drives `POST /api/track` on a real trackd over SQLite
//! and over PostgreSQL, and the same load against a no-op hyper handler in the same run, and
//! prints requests and events per second with p50/p99 latency, and the ratio to the no-op.
//!
//! It measures; it asserts nothing. Figures go in the README with the date and the machine.

mod analytics;
mod load;
mod mcp;
mod targets;

use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Benchmark trackd's ingest against a no-op hyper handler")]
struct Args {
    /// `ingest` (trackd's POST /api/track), `mcp` (relay-mcp's start-up, memory and hook) or
    /// `analytics` (the analytics answers over millions of events).
    #[arg(default_value = "ingest")]
    what: String,
    /// Open connections driving the load.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds each measured run lasts (after a one-second warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Events per request in the batched run.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Requests per second in the fixed-rate run.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// PostgreSQL server to benchmark against (a schema is made and dropped); without it the
    /// PostgreSQL rows are skipped.
    #[arg(long, env = "RELAY_TEST_DATABASE_URL")]
    postgres: Option<String>,
    /// Events to seed for `analytics`.
    #[arg(long, default_value_t = 10_000_000)]
    events: usize,
    /// Only these targets (noop, sqlite, postgres), e.g. to profile one.
    #[arg(long, value_delimiter = ',', default_value = "noop,sqlite,postgres")]
    targets: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.what.as_str() {
        "ingest" => {}
        "mcp" => return mcp::run(&runtime),
        "analytics" => return analytics::run(args.events, args.postgres.as_deref()),
        other => anyhow::bail!("unknown benchmark {other:?}: use ingest, mcp or analytics"),
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "relay-bench: POST /api/track, {} connections, {} s per run, {cores} cores, {}",
        args.connections,
        args.seconds,
        relay_core::Timestamp::now().day()
    );

    let plan = [
        load::Mode::Single,
        load::Mode::Batch(args.batch),
        load::Mode::FixedRate(args.rate),
    ];
    let duration = Duration::from_secs(args.seconds);
    let mut baseline = Vec::new();
    let wanted = |name: &str| args.targets.iter().any(|t| t == name);
    if wanted("noop") {
        let noop = runtime.block_on(targets::Target::noop())?;
        for mode in plan {
            let result = runtime.block_on(load::run(&noop, mode, args.connections, duration))?;
            baseline.push(result);
        }
        runtime.block_on(noop.stop());
    }
    let mut rows: Vec<(String, load::Mode, load::Outcome, Option<f64>)> = plan
        .iter()
        .zip(&baseline)
        .map(|(mode, outcome)| ("no-op hyper".to_owned(), *mode, outcome.clone(), None))
        .collect();

    let mut databases = Vec::new();
    if wanted("sqlite") {
        databases.push(("trackd sqlite", relay_testkit::TestDatabase::sqlite()));
    }
    if let Some(url) = args.postgres.as_ref().filter(|_| wanted("postgres")) {
        databases.push((
            "trackd postgres",
            relay_testkit::TestDatabase::postgres_on(url),
        ));
    }
    for (name, database) in &databases {
        let target = targets::Target::trackd(&runtime, &database.url)?;
        for (n, mode) in plan.iter().enumerate() {
            let outcome =
                runtime.block_on(load::run(&target, *mode, args.connections, duration))?;
            let ratio = baseline.get(n).map(|base: &load::Outcome| {
                outcome.requests_per_second() / base.requests_per_second()
            });
            rows.push(((*name).to_owned(), *mode, outcome, ratio));
        }
        runtime.block_on(target.stop());
    }

    println!();
    println!(
        "{:<16} {:<22} {:>10} {:>11} {:>8} {:>8} {:>8}  vs no-op (req/s)",
        "target", "run", "req/s", "events/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, mode, outcome, ratio) in rows {
        println!(
            "{:<16} {:<22} {:>10.0} {:>11.0} {:>8.2} {:>8.2} {:>8}  {}",
            name,
            mode.to_string(),
            outcome.requests_per_second(),
            outcome.events_per_second(),
            outcome.percentile(0.50),
            outcome.percentile(0.99),
            outcome.errors,
            ratio.map_or("-".to_owned(), |r| format!("{r:.2}x")),
        );
    }
    Ok(())
}
