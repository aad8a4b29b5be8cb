//! `trent-bench`: the command line of Trent's benchmark harness. See the
//! library's crate documentation for the tour, and `docs/PERFORMANCE.md`
//! for results.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use trent_bench::api::Api;
use trent_bench::load::{self, Amount, LoadConfig};
use trent_bench::signer::{Credentials, HeaderStyle, Signer};
use trent_bench::suite::{self, SuiteConfig};
use trent_bench::transport::{Connection, Endpoint, Protocol};
use trent_bench::workload::{self, Prepared, Workload};

#[derive(Debug, Parser)]
#[command(
    name = "trent-bench",
    version,
    about = "Trent's benchmark harness: load generator, baselines, and the suite behind docs/PERFORMANCE.md"
)]
struct Cli {
    /// Threads of the generator's runtime (the server gets the other cores).
    #[arg(long, global = true, default_value_t = 1)]
    client_threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send SigV4-signed load to a running server (loopback only).
    Load(LoadArgs),
    /// Run a bare hyper server that answers any POST with a fixed body.
    BaselineServer {
        /// Address to listen on (loopback).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    /// Time the primitives (AES-256-GCM, ECDSA P-256, RSA-2048 PSS, HMAC, SigV4) in process.
    Primitives {
        /// Milliseconds to spend on each.
        #[arg(long, default_value_t = 1000)]
        budget_ms: u64,
    },
    /// Run every measurement against the release trent and write the report.
    Suite(SuiteArgs),
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The server, e.g. http://127.0.0.1:4599 (https:// once TLS lands).
    #[arg(long)]
    endpoint: String,
    /// An AWS shared credentials file; its [default] profile signs.
    #[arg(long, conflicts_with = "access_key_id")]
    credentials: Option<PathBuf>,
    /// Access key id (with --secret-access-key, or AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    /// Region to sign for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// What to send.
    #[arg(long, value_enum, default_value = "encrypt-1k")]
    workload: Workload,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Recorded seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Unrecorded warm-up seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Open loop: requests per second in total, on a fixed schedule
    /// (latency then counts from when each request was due).
    #[arg(long, conflicts_with = "count")]
    rate: Option<f64>,
    /// Send exactly this many requests instead (no warm-up).
    #[arg(long)]
    count: Option<u64>,
    /// Distinct symmetric keys to create and spread requests over.
    #[arg(long, default_value_t = 1)]
    keys: usize,
    /// PEM CA certificates to trust for an https:// endpoint (for trent
    /// --tls-self-signed: DATA_DIR/tls/ca.pem).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// HTTP version.
    #[arg(long, value_enum, default_value = "http1")]
    protocol: Protocol,
    /// Which headers to sign.
    #[arg(long, value_enum, default_value = "botocore")]
    header_style: HeaderStyle,
    /// The server's pid, to report its CPU per request.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also write the result as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No set-up calls: send the Encrypt 1 KiB shape with a made-up key id
    /// (for `baseline-server`, which answers anything).
    #[arg(long)]
    no_setup: bool,
}

#[derive(Debug, Args)]
struct SuiteArgs {
    /// A few seconds per workload and 1,000 keys, for a quick look.
    #[arg(long)]
    quick: bool,
    /// CI smoke: like --quick, no moto, fewer sweeps; exits non-zero if a
    /// workload that should work reports errors (no timing assertions).
    #[arg(long)]
    smoke: bool,
    /// The trent binary (default: next to this one).
    #[arg(long)]
    trent: Option<PathBuf>,
    /// moto_server to compare with (default: $TRENT_VENV/bin/moto_server, TRENT_VENV defaulting to .venv).
    #[arg(long)]
    moto: Option<PathBuf>,
    /// Do not run moto.
    #[arg(long)]
    no_moto: bool,
    /// Scratch directory for data dirs and logs (on the real disk).
    #[arg(long, default_value = "target/bench-work")]
    work_dir: PathBuf,
    /// Recorded seconds per run (default 10, quick 3, smoke 2).
    #[arg(long)]
    duration: Option<f64>,
    /// Warm-up seconds per run (default 2, quick/smoke 1).
    #[arg(long)]
    warmup: Option<f64>,
    /// Connections for the main runs.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Keys to create for CreateKey / memory / distinct-keys (default 100,000; quick 1,000; smoke 200).
    #[arg(long)]
    keys: Option<usize>,
    /// Workloads for the main runs (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    workloads: Vec<Workload>,
    /// Which headers to sign.
    #[arg(long, value_enum, default_value = "botocore")]
    header_style: HeaderStyle,
    /// Where to write the Markdown report (default docs/PERFORMANCE.md; smoke: under the work dir).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Where to write the JSON results (default docs/perf/suite-<mode>.json; smoke: under the work dir).
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut builder = match &cli.command {
        Command::BaselineServer { .. } => tokio::runtime::Builder::new_multi_thread(),
        _ => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(cli.client_threads.max(1));
            b
        }
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trent-bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Load(args) => run_load(args).await,
            Command::BaselineServer { listen } => trent_bench::baseline::serve(&listen)
                .await
                .map_err(|e| e.to_string()),
            Command::Primitives { budget_ms } => run_primitives(budget_ms),
            Command::Suite(args) => run_suite(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("trent-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_primitives(budget_ms: u64) -> Result<(), String> {
    let timings = trent_bench::primitives::run(Duration::from_millis(budget_ms))?;
    println!("{:<52} {:>12} {:>14}", "primitive", "ns/op", "ops/s/core");
    for t in timings {
        println!("{:<52} {:>12.1} {:>14.0}", t.name, t.ns_per_op, t.ops_per_s);
    }
    Ok(())
}

fn credentials(args: &LoadArgs) -> Result<Credentials, String> {
    if let Some(path) = &args.credentials {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        return Credentials::from_credentials_file(&text)
            .ok_or_else(|| format!("{} has no [default] profile", path.display()));
    }
    match (&args.access_key_id, &args.secret_access_key) {
        (Some(a), Some(s)) => Ok(Credentials {
            access_key_id: a.clone(),
            secret_access_key: s.clone(),
        }),
        _ => Err("give --credentials FILE, or --access-key-id and --secret-access-key".into()),
    }
}

async fn run_load(args: LoadArgs) -> Result<(), String> {
    let mut endpoint = Endpoint::parse(&args.endpoint, args.protocol)?;
    if let Some(ca_file) = &args.ca_file {
        endpoint = endpoint.with_ca_file(ca_file)?;
    }
    // Fail early and clearly on a transport the harness cannot speak yet.
    Connection::open(&endpoint)
        .await
        .map_err(|e| e.to_string())?;
    let signer = Signer::new(
        credentials(&args)?,
        &args.region,
        &endpoint.host,
        args.header_style,
    );
    let mut api = Api::new(endpoint.clone(), signer.clone());
    let keys = if args.keys > 1 && !args.no_setup {
        let mut keys = Vec::with_capacity(args.keys);
        for _ in 0..args.keys {
            keys.push(
                workload::create_key(&mut api, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
                    .await
                    .map_err(|e| format!("creating keys: {e}"))?,
            );
        }
        Some(keys)
    } else {
        None
    };
    let prepared = if args.no_setup {
        Ok(Prepared::baseline())
    } else {
        workload::prepare(&mut api, args.workload, keys).await
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(f) if f.is_unsupported() && args.workload.may_be_unsupported() => {
            println!(
                "{}: skipped: the server does not support it yet ({f})",
                args.workload.name()
            );
            return Ok(());
        }
        Err(f) => return Err(format!("{}: set-up failed: {f}", args.workload.name())),
    };
    let amount = match args.count {
        Some(c) => Amount::Count(c),
        None => Amount::Duration {
            warmup: Duration::from_secs_f64(args.warmup),
            measure: Duration::from_secs_f64(args.duration),
        },
    };
    let config = LoadConfig {
        endpoint,
        connections: args.connections,
        amount,
        server_pid: args.server_pid,
        collect_key_ids: false,
        rate: args.rate,
    };
    let stats = load::run(&config, &signer, Arc::new(prepared)).await;
    let l = &stats.latency_us;
    println!(
        "workload {} connections {} requests {} ok {} in {:.2} s",
        args.workload.name(),
        stats.connections,
        stats.requests,
        stats.ok,
        stats.elapsed_s
    );
    println!("throughput {:.0} req/s", stats.rps);
    println!(
        "latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}",
        l.p50 / 1e3,
        l.p90 / 1e3,
        l.p99 / 1e3,
        l.p999 / 1e3,
        l.max / 1e3,
        l.mean / 1e3
    );
    println!(
        "generator CPU {:.1} µs/req (signing {:.1}), {:.2} cores; server CPU {} µs/req",
        stats.client_cpu_us_per_request,
        stats.sign_us_per_request,
        stats.client_cores_busy,
        stats
            .server_cpu_us_per_request
            .map_or("?".into(), |v| format!("{v:.1}"))
    );
    println!(
        "errors {:?} slower than 1 s: {}",
        stats.errors, stats.slower_than_1s
    );
    for sample in &stats.error_samples {
        println!("  e.g. {sample}");
    }
    if let Some(path) = args.json {
        let text = serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(())
}

fn moto_choice(args: &SuiteArgs, smoke: bool) -> (Option<PathBuf>, String) {
    if smoke || args.no_moto {
        return (None, "not run (--no-moto or --smoke)".into());
    }
    if let Some(path) = &args.moto {
        return (Some(path.clone()), String::new());
    }
    let venv = std::env::var("TRENT_VENV").unwrap_or_else(|_| ".venv".into());
    let path = PathBuf::from(venv).join("bin").join("moto_server");
    if path.exists() {
        (Some(path), String::new())
    } else {
        (
            None,
            format!(
                "skipped: {} not found (scripts/bench.sh installs moto[server] into the venv)",
                path.display()
            ),
        )
    }
}

async fn run_suite(args: SuiteArgs) -> Result<(), String> {
    let smoke = args.smoke;
    let mode = if smoke {
        "smoke"
    } else if args.quick {
        "quick"
    } else {
        "full"
    };
    let this_binary = std::env::current_exe().map_err(|e| e.to_string())?;
    let trent = args
        .trent
        .clone()
        .unwrap_or_else(|| this_binary.with_file_name("trent"));
    if !trent.exists() {
        return Err(format!(
            "{} not found: build it (cargo build --release -p trent) or pass --trent",
            trent.display()
        ));
    }
    let (moto, moto_note) = moto_choice(&args, smoke);
    let (duration, warmup, keys) = match mode {
        "smoke" => (2.0, 1.0, 200),
        "quick" => (3.0, 1.0, 1000),
        _ => (10.0, 2.0, 100_000),
    };
    let workloads = if args.workloads.is_empty() {
        Workload::ALL.to_vec()
    } else {
        args.workloads.clone()
    };
    let keys = args.keys.unwrap_or(keys).max(1);
    let work_dir = args.work_dir.clone();
    let json = args.json.clone().unwrap_or_else(|| {
        if smoke {
            work_dir.join("suite-smoke.json")
        } else {
            PathBuf::from(format!("docs/perf/suite-{mode}.json"))
        }
    });
    let markdown = args.markdown.clone().unwrap_or_else(|| {
        if smoke {
            work_dir.join("PERFORMANCE.md")
        } else {
            PathBuf::from("docs/PERFORMANCE.md")
        }
    });
    let config = SuiteConfig {
        trent,
        this_binary,
        moto,
        moto_note,
        work_dir,
        warmup: Duration::from_secs_f64(args.warmup.unwrap_or(warmup)),
        duration: Duration::from_secs_f64(args.duration.unwrap_or(duration)),
        connections: args.connections,
        sweep: if smoke {
            vec![8, args.connections]
        } else {
            vec![1, 8, 64, 256]
        },
        keys,
        warm_keys: keys.min(10_000),
        workloads,
        style: args.header_style,
        mode: mode.into(),
        command: std::env::var("TRENT_BENCH_COMMAND")
            .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" ")),
    };
    let (report, failures) = suite::run(&config).await?;
    report.write_json(&json)?;
    report.write_markdown(&markdown, &json)?;
    eprintln!("wrote {} and {}", markdown.display(), json.display());
    if smoke {
        eprintln!(
            "smoke: no timing verdicts (debug build, short runs); checked only that every workload ran without errors"
        );
    }
    for t in report.targets.iter().filter(|_| !smoke) {
        eprintln!("   [{}] {} — {}", t.verdict, t.goal, t.measured);
    }
    if smoke && !failures.is_empty() {
        return Err(format!(
            "smoke: workloads that should work failed:\n  {}",
            failures.join("\n  ")
        ));
    }
    Ok(())
}
