//! `trent-chaos`: runs Trent's reliability harnesses at full size and
//! prints their figures (see `docs/RELIABILITY.md`).
//!
//! ```text
//! trent-chaos crash   --cycles 1000
//! trent-chaos hostile --cases 100000
//! trent-chaos soak    --duration 30m --csv soak.csv
//! trent-chaos hygiene
//! ```
//! Each finds the `trent` binary next to itself (build both with the same
//! profile), or at `--trent-bin` / `$TRENT_BIN`. Exit status 1 when a run
//! finds a violation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use trent_chaos::client::Credentials;
use trent_chaos::process::{DataDir, Trent, default_trent_bin};
use trent_chaos::rng::Rng;
use trent_chaos::{crash, hostile, hygiene, procfs, soak};

#[derive(Debug, Parser)]
#[command(name = "trent-chaos", about = "Trent's reliability harnesses")]
struct Cli {
    /// The trent binary (default: next to this one).
    #[arg(long, global = true, env = "TRENT_BIN")]
    trent_bin: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// kill -9 under mixed write load, restart, check everything.
    Crash {
        /// Kill/restart cycles.
        #[arg(long, default_value_t = 100)]
        cycles: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// Shortest run before a kill, milliseconds.
        #[arg(long, default_value_t = 50)]
        min_run_ms: u64,
        /// Longest run before a kill, milliseconds.
        #[arg(long, default_value_t = 1500)]
        max_run_ms: u64,
        /// Seed (random if absent).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Malformed requests and transport abuse against a fresh server.
    Hostile {
        /// Generated request cases.
        #[arg(long, default_value_t = 100_000)]
        cases: u64,
        /// Concurrent senders.
        #[arg(long, default_value_t = 4)]
        threads: usize,
        /// Idle connections to open.
        #[arg(long, default_value_t = 2000)]
        idle: usize,
        /// Seed (random if absent).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Long mixed traffic with key churn; RSS/threads/fds/latency sampled.
    Soak {
        /// How long: `90s`, `30m`, `1h`.
        #[arg(long, default_value = "30m", value_parser = parse_duration)]
        duration: Duration,
        /// Traffic clients.
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// Time between samples.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        sample_every: Duration,
        /// Time between disable/enable/rotate actions.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        churn_every: Duration,
        /// Write the samples here as CSV.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Every operation with recognizable secrets; scan output and store.
    Hygiene,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text}"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("unknown unit in {text} (use s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let bin = cli.trent_bin.unwrap_or_else(default_trent_bin);
    if !bin.is_file() {
        eprintln!(
            "trent-chaos: no trent binary at {} (build it: cargo build -p trent, or pass --trent-bin)",
            bin.display()
        );
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Crash {
            cycles,
            workers,
            min_run_ms,
            max_run_ms,
            seed,
        } => {
            let mut config = crash::CrashConfig::new(&bin);
            config.cycles = cycles;
            config.workers = workers;
            config.min_run = Duration::from_millis(min_run_ms);
            config.max_run = Duration::from_millis(max_run_ms.max(min_run_ms));
            config.seed = seed.unwrap_or_else(Rng::fresh_seed);
            config.verbose = true;
            run_crash(&config)
        }
        Command::Hostile {
            cases,
            threads,
            idle,
            seed,
        } => run_hostile(
            &bin,
            cases,
            threads,
            idle,
            seed.unwrap_or_else(Rng::fresh_seed),
        ),
        Command::Soak {
            duration,
            workers,
            sample_every,
            churn_every,
            csv,
        } => {
            let config = soak::SoakConfig {
                duration,
                workers,
                sample_every,
                churn_every,
                seed: Rng::fresh_seed(),
            };
            run_soak(&bin, &config, csv)
        }
        Command::Hygiene => run_hygiene(&bin),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("trent-chaos: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_crash(config: &crash::CrashConfig) -> Result<bool, String> {
    println!(
        "crash: {} cycles, {} workers, seed {}",
        config.cycles, config.workers, config.seed
    );
    let report = crash::run(config)?;
    println!("cycles completed:        {}", report.cycles);
    println!("acknowledged writes:     {}", report.acknowledged_writes);
    println!(
        "in flight at a kill:     {} ({} turned out applied)",
        report.in_flight_at_kill, report.in_flight_applied
    );
    println!("ciphertexts returned:    {}", report.ciphertexts);
    println!("decryptions checked:     {}", report.decrypts_checked);
    println!("keys at the end:         {}", report.keys);
    println!("elapsed:                 {:.0?}", report.elapsed);
    println!("violations:              {}", report.violations.len());
    for v in &report.violations {
        println!("  {v}");
    }
    Ok(report.violations.is_empty())
}

/// Starts a fresh server with the harness credentials.
fn fresh_server(
    bin: &std::path::Path,
    label: &str,
) -> Result<(DataDir, Trent, Credentials), String> {
    let dir = DataDir::new(label).map_err(|e| e.to_string())?;
    let credentials = Credentials {
        access_key_id: "CHAOSADMIN".into(),
        secret: "chaos-secret-not-for-production".into(),
    };
    let mut trent = Trent::new(bin, dir.path()).with_env("TRENT_LOG", "warn");
    trent.add_credentials(&credentials)?;
    trent.start()?;
    Ok((dir, trent, credentials))
}

fn run_hostile(
    bin: &std::path::Path,
    cases: u64,
    threads: usize,
    idle: usize,
    seed: u64,
) -> Result<bool, String> {
    println!("hostile: {cases} cases, {threads} threads, seed {seed}");
    let (_dir, mut trent, credentials) = fresh_server(bin, "hostile")?;
    let addr = trent.addr().ok_or("not running")?;
    let pid = trent.pid();
    let mut client = trent.client(&credentials)?;
    let fixtures = hostile::Fixtures::create(&mut client)?;
    // Warm up, then measure memory before.
    let _ = hostile::run_corpus(
        addr,
        &credentials,
        &fixtures,
        &hostile::HostileConfig {
            cases: 2000,
            threads,
            seed: seed ^ 1,
        },
    );
    let before = pid.and_then(procfs::usage);
    let config = hostile::HostileConfig {
        cases,
        threads,
        seed,
    };
    let report = hostile::run_corpus(addr, &credentials, &fixtures, &config);
    let (flips, flip_failures) = hostile::every_bit_flipped(&mut client, &fixtures);
    let mut rng = Rng::new(seed);
    let mut transport = vec![
        hostile::slow_headers(addr, Duration::from_millis(500), Duration::from_secs(40)),
        hostile::slow_body(&client, Duration::from_millis(500), Duration::from_secs(60)),
        hostile::short_body(&client, Duration::from_secs(60)),
        hostile::idle_connections(&mut client, idle),
    ];
    transport.extend(hostile::garbage_requests(addr, &mut rng, 200));
    let after = pid.and_then(procfs::usage);
    let alive = client
        .call("ListKeys", &serde_json::json!({"Limit": 1}))
        .is_ok();
    println!(
        "cases:                   {} in {:.1?}",
        report.cases, report.elapsed
    );
    println!("by status:               {:?}", report.by_status);
    println!("by error:                {:?}", report.by_error);
    println!("by kind:                 {:?}", report.by_kind);
    println!(
        "ciphertext bit flips:    {flips} ({} failures)",
        flip_failures.len()
    );
    let transport_failures: Vec<_> = transport.iter().filter(|t| !t.ok).collect();
    let mut by_name: std::collections::BTreeMap<&str, (u32, u32)> = Default::default();
    for t in &transport {
        let e = by_name.entry(t.name).or_default();
        e.0 += 1;
        e.1 += u32::from(t.ok);
    }
    for t in transport.iter().take(4) {
        println!(
            "transport {:<18} {} — {}",
            t.name,
            if t.ok { "ok" } else { "FAILED" },
            t.detail
        );
    }
    println!("transport checks:        {by_name:?} (total, passed)");
    println!("server memory:           {before:?} → {after:?}");
    println!("server alive after:      {alive}");
    let failures = report.failures.len() + flip_failures.len() + transport_failures.len();
    println!("failures:                {failures}");
    for f in report.failures.iter().chain(flip_failures.iter()).take(40) {
        println!("  {f}");
    }
    for t in transport_failures.iter().take(20) {
        println!("  transport {}: {}", t.name, t.detail);
    }
    let _ = trent.stop();
    Ok(failures == 0 && alive)
}

fn run_soak(
    bin: &std::path::Path,
    config: &soak::SoakConfig,
    csv: Option<PathBuf>,
) -> Result<bool, String> {
    println!("soak: {:?}, {} workers", config.duration, config.workers);
    let (_dir, mut trent, credentials) = fresh_server(bin, "soak")?;
    let addr = trent.addr().ok_or("not running")?;
    let started = Instant::now();
    let report = soak::run(addr, trent.pid(), &credentials, config, |s| {
        let u = s
            .usage
            .map(|u| {
                format!(
                    "rss {} KiB, {} threads, {} fds",
                    u.rss_kib, u.threads, u.fds
                )
            })
            .unwrap_or_default();
        println!(
            "{:>7.0}s {:>7} req {:>3} err p50 {:>6} µs p99 {:>7} µs  {u}",
            s.at_secs, s.requests, s.errors, s.p50_us, s.p99_us
        );
    })?;
    if let Some(path) = csv {
        std::fs::write(&path, report.csv()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "elapsed {:.0?}: {} requests, {} expected refusals, {} churn actions",
        started.elapsed(),
        report.requests,
        report.expected_refusals,
        report.churn_actions
    );
    for e in &report.errors {
        println!("  error: {e}");
    }
    for f in &report.failures {
        println!("  FAILED: {f}");
    }
    let stopped = trent.stop();
    if let Err(e) = &stopped {
        println!("  FAILED: graceful stop: {e}");
    }
    Ok(report.failures.is_empty() && stopped.is_ok())
}

fn run_hygiene(bin: &std::path::Path) -> Result<bool, String> {
    let report = hygiene::run(bin)?;
    println!(
        "operations exercised:    {} ({} distinct)",
        report.operations.len(),
        {
            let mut ops = report.operations.clone();
            ops.sort();
            ops.dedup();
            ops.len()
        }
    );
    println!("secrets searched for:    {}", report.secrets);
    println!("bytes scanned:           {}", report.scanned_bytes);
    println!("findings:                {}", report.findings.len());
    for f in &report.findings {
        println!("  {f}");
    }
    Ok(report.findings.is_empty())
}
