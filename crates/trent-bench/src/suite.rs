//! `trent-bench suite`: every measurement of issue 10 in one run, against
//! the release `trent` binary, the bare-hyper baseline and (if installed)
//! moto_server, with the same generator; then the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::api::{Api, Failure};
use crate::load::{self, Amount, LoadConfig, RunStats};
use crate::primitives;
use crate::process::{Server, free_port};
use crate::procfs;
use crate::report::{Memory, RunRecord, SuiteReport};
use crate::signer::{Credentials, HeaderStyle, Signer};
use crate::transport::{Endpoint, Transport};
use crate::workload::{self, Prepared, Workload};

/// What to run.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The `trent` binary.
    pub trent: PathBuf,
    /// This binary (it runs the baseline server).
    pub this_binary: PathBuf,
    /// moto_server, if it is to be run.
    pub moto: Option<PathBuf>,
    /// Why moto is not run, when it is not.
    pub moto_note: String,
    /// Scratch space for data dirs and logs (on the real disk: fsync matters).
    pub work_dir: PathBuf,
    /// Unrecorded warm-up per run.
    pub warmup: Duration,
    /// Recorded time per run.
    pub duration: Duration,
    /// Connections for the main runs.
    pub connections: usize,
    /// The concurrency sweep.
    pub sweep: Vec<usize>,
    /// Keys to create (CreateKey run) and spread Encrypt over.
    pub keys: usize,
    /// Keys to touch after a restart before reading RSS.
    pub warm_keys: usize,
    /// Workloads for the main runs.
    pub workloads: Vec<Workload>,
    /// Headers to sign.
    pub style: HeaderStyle,
    /// The mode name for the report (`full`, `quick`, `smoke`).
    pub mode: String,
    /// The command line, for the report.
    pub command: String,
}

/// Runs the suite; the report, and whether a workload that should have
/// worked failed (what `--smoke` fails on).
pub async fn run(config: &SuiteConfig) -> Result<(SuiteReport, Vec<String>), String> {
    std::fs::create_dir_all(&config.work_dir)
        .map_err(|e| format!("creating {}: {e}", config.work_dir.display()))?;
    let mut report = SuiteReport::new(config);
    eprintln!("== primitives");
    let budget = if config.mode == "full" {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(200)
    };
    report.primitives = primitives::run(budget)?;
    eprintln!("== bare hyper");
    run_baseline(config, &mut report).await?;
    eprintln!("== trent");
    run_trent(config, &mut report).await?;
    match &config.moto {
        Some(path) => {
            eprintln!("== moto");
            if let Err(e) = run_moto(config, path, &mut report).await {
                report.moto = format!("not measured: {e}");
            }
        }
        None => report.moto = config.moto_note.clone(),
    }
    report.tls = tls_status(&config.trent).await;
    if report.tls.starts_with("measured") && config.workloads.contains(&Workload::Encrypt1k) {
        eprintln!("== trent over TLS");
        if let Err(e) = run_trent_tls(config, &mut report).await {
            report.tls = format!("not measured: {e}");
        }
    }
    report.evaluate();
    let failures = report
        .runs
        .iter()
        .filter(|r| {
            r.target != "moto"
                && (r.status == "failed" || r.stats.as_ref().is_some_and(|s| !s.errors.is_empty()))
        })
        .map(|r| {
            format!(
                "{} {} @{}: {}",
                r.target,
                r.workload,
                r.connections,
                r.note.clone().unwrap_or_else(|| "errors".into())
            )
        })
        .collect();
    Ok((report, failures))
}

fn amount(config: &SuiteConfig) -> Amount {
    Amount::Duration {
        warmup: config.warmup,
        measure: config.duration,
    }
}

fn print_run(record: &RunRecord) {
    match &record.stats {
        Some(s) => eprintln!(
            "   {:<8} {:<18} c={:<3} keys={:<6} {:>9.0} req/s  p50 {:>7.0}µs  p99 {:>7.0}µs  max {:>8.0}µs  srv {:>6.1}µs/req  errors {}  other load {:.2} cores",
            record.target,
            record.workload,
            record.connections,
            record.distinct_keys,
            s.rps,
            s.latency_us.p50,
            s.latency_us.p99,
            s.latency_us.max,
            s.server_cpu_us_per_request.unwrap_or(0.0),
            s.errors.values().sum::<u64>(),
            s.other_cores_busy.unwrap_or(0.0)
        ),
        None => eprintln!(
            "   {:<8} {:<18} {}: {}",
            record.target,
            record.workload,
            record.status,
            record.note.clone().unwrap_or_default()
        ),
    }
}

async fn run_baseline(config: &SuiteConfig, report: &mut SuiteReport) -> Result<(), String> {
    let mut command = Command::new(&config.this_binary);
    command.args(["baseline-server", "--listen", "127.0.0.1:0"]);
    let server = Server::start_announcing(command, &config.work_dir.join("baseline.log")).await?;
    let endpoint = Endpoint::loopback(server.addr);
    let signer = Signer::new(
        Credentials {
            access_key_id: "AKIDBASELINE".into(),
            secret_access_key: "baseline-secret".into(),
        },
        "us-east-1",
        &endpoint.host,
        config.style,
    );
    let prepared = Arc::new(Prepared::baseline());
    let mut levels = config.sweep.clone();
    if !levels.contains(&config.connections) {
        levels.push(config.connections);
    }
    for connections in levels {
        let load = LoadConfig {
            endpoint: endpoint.clone(),
            connections,
            amount: amount(config),
            server_pid: Some(server.pid),
            collect_key_ids: false,
            rate: None,
        };
        let stats = load::run(&load, &signer, prepared.clone()).await;
        let group = if connections == config.connections {
            "main"
        } else {
            "concurrency"
        };
        let record = RunRecord::measured("bare-hyper", "encrypt-1k", group, 1, stats);
        print_run(&record);
        report.runs.push(record);
    }
    server.stop().await;
    Ok(())
}

/// A started trent with a client for it.
struct Trent {
    server: Server,
    endpoint: Endpoint,
    signer: Signer,
}

async fn start_trent(
    config: &SuiteConfig,
    data_dir: &Path,
    log_name: &str,
    tls: bool,
) -> Result<Trent, String> {
    let mut command = Command::new(&config.trent);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"]);
    if tls {
        command.arg("--tls-self-signed");
    }
    let server = Server::start_announcing(command, &config.work_dir.join(log_name)).await?;
    let credentials_path = data_dir.join("bootstrap-credentials");
    let text = std::fs::read_to_string(&credentials_path)
        .map_err(|e| format!("reading {}: {e}", credentials_path.display()))?;
    let credentials = Credentials::from_credentials_file(&text)
        .ok_or("bootstrap-credentials has no [default] profile")?;
    let mut endpoint = Endpoint::loopback(server.addr);
    if tls {
        endpoint.transport = Transport::Tls;
        endpoint = endpoint.with_ca_file(&data_dir.join("tls").join("ca.pem"))?;
    }
    let signer = Signer::new(credentials, "us-east-1", &endpoint.host, config.style);
    Ok(Trent {
        server,
        endpoint,
        signer,
    })
}

impl Trent {
    fn api(&self) -> Api {
        Api::new(self.endpoint.clone(), self.signer.clone())
    }

    fn load(&self, connections: usize, amount: Amount, collect_key_ids: bool) -> LoadConfig {
        LoadConfig {
            endpoint: self.endpoint.clone(),
            connections,
            amount,
            server_pid: Some(self.server.pid),
            collect_key_ids,
            rate: None,
        }
    }
}

async fn run_trent(config: &SuiteConfig, report: &mut SuiteReport) -> Result<(), String> {
    let data_dir = config.work_dir.join("trent-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let trent = start_trent(config, &data_dir, "trent.log", false).await?;
    let mut memory = Memory {
        cold_start_empty_ms: ms(trent.server.start_time),
        ..Memory::default()
    };
    let mut api = trent.api();
    let symmetric = workload::create_key(&mut api, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
        .await
        .map_err(|e| format!("trent cannot create a symmetric key: {e}"))?;
    for &w in config
        .workloads
        .iter()
        .filter(|w| **w != Workload::CreateKey)
    {
        let record = run_workload(
            &trent,
            &mut api,
            w,
            config,
            config.connections,
            Some(vec![symmetric.clone()]),
            "main",
        )
        .await;
        print_run(&record);
        let signed =
            record.status == "ok" && matches!(w, Workload::SignEccP256 | Workload::SignRsa2048);
        report.runs.push(record);
        if signed {
            // The primitive again, right after the run, so the ratio compares
            // like with like on a machine whose load changes (another
            // process on the sibling hyperthread halves RSA's rate).
            let adjacent = primitives::run(Duration::from_millis(300))?;
            report
                .primitives_adjacent
                .retain(|t| primitives::find(&adjacent, &t.name).is_none());
            report.primitives_adjacent.extend(adjacent);
        }
    }
    if let Some(max) = report
        .runs
        .iter()
        .find(|r| r.target == "trent" && r.workload == "encrypt-1k" && r.group == "main")
        .and_then(|r| r.stats.as_ref())
        .map(|s| s.rps)
        .filter(|rps| *rps > 0.0)
    {
        let record = run_half_load(&trent, &mut api, config, max, &symmetric).await;
        print_run(&record);
        report.runs.push(record);
    }
    if config.workloads.contains(&Workload::Encrypt1k) {
        for &c in config.sweep.iter().filter(|c| **c != config.connections) {
            let record = run_workload(
                &trent,
                &mut api,
                Workload::Encrypt1k,
                config,
                c,
                Some(vec![symmetric.clone()]),
                "concurrency",
            )
            .await;
            print_run(&record);
            report.runs.push(record);
        }
    }
    // CreateKey, durable, at the main concurrency: also fills the store for
    // the memory, cold-start and distinct-keys measurements.
    let count = config.keys.saturating_sub(1) as u64;
    let prepared = workload::prepare(&mut api, Workload::CreateKey, None)
        .await
        .map_err(|e| e.to_string())?;
    let stats = load::run(
        &trent.load(config.connections, Amount::Count(count), true),
        &trent.signer,
        Arc::new(prepared),
    )
    .await;
    let mut keys = stats.key_ids.clone();
    keys.push(symmetric.clone());
    let record = RunRecord::measured("trent", "create-key", "main", 1, stats);
    print_run(&record);
    report.runs.push(record);
    trent.server.stop().await;

    // Restart on the filled store: cold start, RSS, warm-up, distinct keys.
    memory.keys_in_store = keys.len();
    let trent = start_trent(config, &data_dir, "trent-restart.log", false).await?;
    memory.cold_start_ms = ms(trent.server.start_time);
    let mut api = trent.api();
    let first = Instant::now();
    let _ = api
        .call("DescribeKey", &serde_json::json!({"KeyId": symmetric}))
        .await;
    memory.first_request_ms = ms(trent.server.start_time + first.elapsed());
    memory.rss_after_start_mib = rss_mib(trent.server.pid);
    memory.warmed_keys = warm_up(&mut api, &keys, config.warm_keys).await?;
    memory.rss_after_warmup_mib = rss_mib(trent.server.pid);
    for distinct in distinct_levels(keys.len()) {
        let chosen = keys[..distinct].to_vec();
        let record = run_workload(
            &trent,
            &mut api,
            Workload::Encrypt1k,
            config,
            config.connections,
            Some(chosen),
            "distinct-keys",
        )
        .await;
        print_run(&record);
        report.runs.push(record);
    }
    memory.rss_after_sweep_mib = rss_mib(trent.server.pid);
    report.memory = Some(memory);
    trent.server.stop().await;
    Ok(())
}

/// Encrypt 1 KiB at the main concurrency in an open loop at half the
/// closed loop's throughput: latency at a load the server can carry, which
/// a saturated closed loop cannot show (there, mean latency = connections /
/// throughput by Little's law).
async fn run_half_load(
    trent: &Trent,
    api: &mut Api,
    config: &SuiteConfig,
    max_rps: f64,
    key: &str,
) -> RunRecord {
    let w = Workload::Encrypt1k;
    let prepared = match workload::prepare(api, w, Some(vec![key.to_owned()])).await {
        Ok(p) => p,
        Err(failure) => {
            return RunRecord::not_run(
                "trent",
                w.name(),
                "half-load",
                config.connections,
                &failure,
                false,
            );
        }
    };
    let mut load = trent.load(config.connections, amount(config), false);
    load.rate = Some((max_rps / 2.0).round());
    let stats = load::run(&load, &trent.signer, Arc::new(prepared)).await;
    RunRecord::measured("trent", w.name(), "half-load", 1, stats)
}

fn distinct_levels(available: usize) -> Vec<usize> {
    let mut levels: Vec<usize> = [1, 1000, 100_000]
        .into_iter()
        .filter(|n| *n <= available)
        .collect();
    if available > 1 && !levels.contains(&available) {
        levels.push(available);
    }
    levels
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn rss_mib(pid: u32) -> f64 {
    procfs::rss_kib(pid).map_or(0.0, |kib| (kib as f64 / 102.4).round() / 10.0)
}

/// Encrypts once under each of the first `n` keys; how many succeeded.
async fn warm_up(api: &mut Api, keys: &[String], n: usize) -> Result<usize, String> {
    let mut ok = 0;
    for key in keys.iter().take(n) {
        if api
            .call(
                "Encrypt",
                &serde_json::json!({"KeyId": key, "Plaintext": "AAAA"}),
            )
            .await
            .is_ok()
        {
            ok += 1;
        }
    }
    Ok(ok)
}

async fn run_workload(
    trent: &Trent,
    api: &mut Api,
    w: Workload,
    config: &SuiteConfig,
    connections: usize,
    keys: Option<Vec<String>>,
    group: &str,
) -> RunRecord {
    let prepared = match workload::prepare(api, w, keys).await {
        Ok(p) => p,
        Err(failure) => {
            return RunRecord::not_run(
                "trent",
                w.name(),
                group,
                connections,
                &failure,
                w.may_be_unsupported(),
            );
        }
    };
    let distinct = prepared.distinct_keys;
    let stats = load::run(
        &trent.load(connections, amount(config), false),
        &trent.signer,
        Arc::new(prepared),
    )
    .await;
    unsupported_at_run_time(
        RunRecord::measured("trent", w.name(), group, distinct, stats),
        w,
    )
}

/// A may-be-unsupported workload whose every request failed as
/// unsupported is a skip, not a failure.
fn unsupported_at_run_time(mut record: RunRecord, w: Workload) -> RunRecord {
    let all_unsupported = record.stats.as_ref().is_some_and(|s| {
        s.ok == 0
            && s.errors
                .keys()
                .all(|k| k == "UnsupportedOperationException")
            && !s.errors.is_empty()
    });
    if w.may_be_unsupported() && all_unsupported {
        record.status = "skipped".into();
        record.note = Some("the server answers UnsupportedOperationException".into());
        record.stats = None;
    }
    record
}

const MOTO_WORKLOADS: [Workload; 4] = [
    Workload::Encrypt1k,
    Workload::Decrypt,
    Workload::GenerateDataKey,
    Workload::SignEccP256,
];

async fn run_moto(
    config: &SuiteConfig,
    moto: &Path,
    report: &mut SuiteReport,
) -> Result<(), String> {
    let addr = free_port()?;
    let mut command = Command::new(moto);
    command.args(["-H", "127.0.0.1", "-p", &addr.port().to_string()]);
    let server = Server::start_at(command, addr, &config.work_dir.join("moto.log")).await?;
    let endpoint = Endpoint::loopback(addr);
    let credentials = Credentials {
        access_key_id: "AKIDMOTO".into(),
        secret_access_key: "moto-secret".into(),
    };
    let signer = Signer::new(credentials, "us-east-1", &endpoint.host, config.style);
    let mut api = Api::new(endpoint.clone(), signer.clone());
    // moto is far slower: a shorter run is plenty for a ratio.
    let measure = config.duration.min(Duration::from_secs(5));
    for w in MOTO_WORKLOADS {
        let record = match workload::prepare(&mut api, w, None).await {
            Ok(prepared) => {
                let distinct = prepared.distinct_keys;
                let load = LoadConfig {
                    endpoint: endpoint.clone(),
                    connections: config.connections,
                    amount: Amount::Duration {
                        warmup: Duration::from_secs(1),
                        measure,
                    },
                    server_pid: Some(server.pid),
                    collect_key_ids: false,
                    rate: None,
                };
                RunRecord::measured(
                    "moto",
                    w.name(),
                    "main",
                    distinct,
                    load::run(&load, &signer, Arc::new(prepared)).await,
                )
            }
            Err(failure) => {
                RunRecord::not_run("moto", w.name(), "main", config.connections, &failure, true)
            }
        };
        print_run(&record);
        report.runs.push(record);
    }
    report.moto = format!(
        "moto_server at {} ({})",
        moto.display(),
        moto_version(moto).await
    );
    server.stop().await;
    Ok(())
}

async fn moto_version(moto: &Path) -> String {
    let python = moto.with_file_name("python");
    let output = Command::new(python)
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .await;
    match output {
        Ok(o) if o.status.success() => {
            format!("moto {}", String::from_utf8_lossy(&o.stdout).trim())
        }
        _ => "version unknown".into(),
    }
}

/// Whether `trent serve` can serve TLS (`--tls-self-signed`).
async fn tls_status(trent: &Path) -> String {
    let help = Command::new(trent).args(["serve", "--help"]).output().await;
    match help {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("--tls-self-signed") => {
            "measured: trent --tls-self-signed, TLS 1.3 via rustls (aws-lc-rs) on both sides, certificate verified against the dev CA".into()
        }
        _ => "not supported yet: trent serve has no TLS listener (issue 7); `--endpoint https://…` reports this".into(),
    }
}

/// Encrypt 1 KiB over TLS at the main concurrency, on a fresh data dir.
async fn run_trent_tls(config: &SuiteConfig, report: &mut SuiteReport) -> Result<(), String> {
    let data_dir = config.work_dir.join("trent-tls-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    let trent = start_trent(config, &data_dir, "trent-tls.log", true).await?;
    let mut api = trent.api();
    let mut record = run_workload(
        &trent,
        &mut api,
        Workload::Encrypt1k,
        config,
        config.connections,
        None,
        "main",
    )
    .await;
    record.target = "trent-tls".into();
    print_run(&record);
    report.runs.push(record);
    trent.server.stop().await;
    Ok(())
}

impl RunRecord {
    fn not_run(
        target: &str,
        workload: &str,
        group: &str,
        connections: usize,
        failure: &Failure,
        may_be_unsupported: bool,
    ) -> Self {
        let skipped = may_be_unsupported && failure.is_unsupported();
        Self {
            target: target.into(),
            workload: workload.into(),
            group: group.into(),
            connections,
            distinct_keys: 0,
            status: if skipped { "skipped" } else { "failed" }.into(),
            note: Some(format!("set-up: {failure}")),
            stats: None,
        }
    }

    fn measured(
        target: &str,
        workload: &str,
        group: &str,
        distinct_keys: usize,
        stats: RunStats,
    ) -> Self {
        Self {
            target: target.into(),
            workload: workload.into(),
            group: group.into(),
            connections: stats.connections,
            distinct_keys,
            status: "ok".into(),
            note: None,
            stats: Some(stats),
        }
    }
}
