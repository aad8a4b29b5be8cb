//! The load generator: N workers, each with its own keep-alive connection,
//! send signed requests back to back (a closed loop) for a fixed duration
//! after a warm-up, or until a fixed count is reached. Latency is measured
//! from just before a request is written until its whole response is read,
//! so it includes the generator's own scheduling delay; with a closed loop
//! a slow server lowers throughput rather than growing a queue (no
//! coordinated-omission correction is applied).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Barrier;

use crate::api::{Failure, failure_of};
use crate::histogram::Histogram;
use crate::procfs;
use crate::signer::Signer;
use crate::transport::{Answer, Connection, Endpoint};
use crate::workload::{Prepared, Rng};

/// A request slower than this is reported on its own (issue 10: none may be).
pub const SLOW: Duration = Duration::from_secs(1);

/// How long, or how much, to run.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// Run for a duration after a warm-up whose requests are not recorded.
    Duration {
        /// Unrecorded warm-up.
        warmup: Duration,
        /// Recorded part.
        measure: Duration,
    },
    /// Send exactly this many requests (all recorded, no warm-up).
    Count(u64),
}

/// A run's settings.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where to send requests.
    pub endpoint: Endpoint,
    /// Concurrent connections (one worker each).
    pub connections: usize,
    /// Duration or count.
    pub amount: Amount,
    /// The server's pid, to read its CPU time.
    pub server_pid: Option<u32>,
    /// Keep the `KeyMetadata.KeyId` of successful responses (CreateKey).
    pub collect_key_ids: bool,
    /// Open loop: send this many requests per second in total, on a fixed
    /// schedule, and measure latency from when each request was due (so a
    /// stalled server is charged for the requests it delayed). `None`: a
    /// closed loop, as fast as answers come.
    pub rate: Option<f64>,
}

/// Latency quantiles, in microseconds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    fn of(h: &Histogram) -> Self {
        let us = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
        Self {
            p50: us(h.quantile(0.5)),
            p90: us(h.quantile(0.9)),
            p99: us(h.quantile(0.99)),
            p999: us(h.quantile(0.999)),
            max: us(h.max()),
            mean: us(h.mean()),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunStats {
    /// Concurrent connections.
    pub connections: usize,
    /// Recorded requests (answered or failed).
    pub requests: u64,
    /// Requests answered with 200.
    pub ok: u64,
    /// Length of the recorded window, in seconds.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub rps: f64,
    /// Latency of every recorded request.
    pub latency_us: Latency,
    /// Failed requests by error name.
    pub errors: BTreeMap<String, u64>,
    /// A few failure messages, to tell what went wrong.
    pub error_samples: Vec<String>,
    /// Requests slower than [`SLOW`].
    pub slower_than_1s: u64,
    /// Generator CPU time per recorded request (all of this process), µs.
    pub client_cpu_us_per_request: f64,
    /// Of which signing, µs per request.
    pub sign_us_per_request: f64,
    /// Server CPU time per recorded request, µs (from /proc).
    pub server_cpu_us_per_request: Option<f64>,
    /// Server CPU use during the window, in cores.
    pub server_cores_busy: Option<f64>,
    /// Generator CPU use during the window, in cores.
    pub client_cores_busy: f64,
    /// CPU use of everything else on the machine during the window, in
    /// cores (busy time from /proc/stat less server and generator): other
    /// work that competed with this run.
    pub other_cores_busy: Option<f64>,
    /// Key ids from successful CreateKey responses (when collected).
    #[serde(skip)]
    pub key_ids: Vec<String>,
}

/// When the recorded window starts and ends (set once every worker is connected).
#[derive(Debug)]
struct Window {
    start: Instant,
    record_from: Instant,
    end: Option<Instant>,
}

#[derive(Debug)]
struct Shared {
    endpoint: Endpoint,
    prepared: Arc<Prepared>,
    window: OnceLock<Window>,
    remaining: Option<AtomicI64>,
    connected: Barrier,
    go: Barrier,
    collect_key_ids: bool,
    /// Per-worker interval between requests (open loop).
    interval: Option<Duration>,
    workers: usize,
}

#[derive(Debug, Default)]
struct WorkerStats {
    histogram: Histogram,
    ok: u64,
    errors: BTreeMap<String, u64>,
    samples: Vec<String>,
    sign: Duration,
    key_ids: Vec<String>,
}

impl WorkerStats {
    fn fail(&mut self, failure: Failure) {
        *self.errors.entry(failure.name.clone()).or_default() += 1;
        if self.samples.len() < 3 {
            self.samples.push(failure.to_string());
        }
    }
}

/// Runs a load against a prepared workload.
pub async fn run(config: &LoadConfig, signer: &Signer, prepared: Arc<Prepared>) -> RunStats {
    let n = config.connections.max(1);
    let shared = Arc::new(Shared {
        endpoint: config.endpoint.clone(),
        prepared,
        window: OnceLock::new(),
        remaining: match config.amount {
            Amount::Count(c) => Some(AtomicI64::new(i64::try_from(c).unwrap_or(i64::MAX))),
            Amount::Duration { .. } => None,
        },
        connected: Barrier::new(n + 1),
        go: Barrier::new(n + 1),
        collect_key_ids: config.collect_key_ids,
        interval: config
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(n as f64 / r)),
        workers: n,
    });
    let workers: Vec<_> = (0..n)
        .map(|i| tokio::spawn(worker(i as u64, shared.clone(), signer.clone())))
        .collect();
    shared.connected.wait().await;
    let start = Instant::now();
    let (record_from, end) = match config.amount {
        Amount::Duration { warmup, measure } => (start + warmup, Some(start + warmup + measure)),
        Amount::Count(_) => (start, None),
    };
    let _ = shared.window.set(Window {
        start,
        record_from,
        end,
    });
    shared.go.wait().await;
    tokio::time::sleep_until(record_from.into()).await;
    let cpu_before = cpu_now(config.server_pid);
    if let Some(end) = end {
        tokio::time::sleep_until(end.into()).await;
    }
    let mut total = WorkerStats::default();
    let mut cpu_after = None;
    for handle in workers {
        if cpu_after.is_none() && end.is_some() {
            // Duration mode: the window closed at `end`, read CPU there.
            cpu_after = Some(cpu_now(config.server_pid));
        }
        match handle.await {
            Ok(stats) => merge(&mut total, stats),
            Err(e) => total.fail(Failure::transport(format!("worker panicked: {e}"))),
        }
    }
    let finished = end.unwrap_or_else(Instant::now);
    let cpu_after = cpu_after.unwrap_or_else(|| cpu_now(config.server_pid));
    summarize(
        n,
        total,
        finished.duration_since(record_from),
        cpu_before,
        cpu_after,
    )
}

fn merge(total: &mut WorkerStats, stats: WorkerStats) {
    total.histogram.merge(&stats.histogram);
    total.ok += stats.ok;
    for (name, count) in stats.errors {
        *total.errors.entry(name).or_default() += count;
    }
    for sample in stats.samples {
        if total.samples.len() < 3 {
            total.samples.push(sample);
        }
    }
    total.sign += stats.sign;
    total.key_ids.extend(stats.key_ids);
}

/// (generator, server, whole machine) CPU seconds.
type CpuPair = (Option<f64>, Option<f64>, Option<f64>);

fn cpu_now(server_pid: Option<u32>) -> CpuPair {
    (
        procfs::cpu_seconds(0),
        server_pid.and_then(procfs::cpu_seconds),
        procfs::machine_busy_seconds(),
    )
}

fn summarize(
    connections: usize,
    total: WorkerStats,
    window: Duration,
    before: CpuPair,
    after: CpuPair,
) -> RunStats {
    let requests = total.histogram.count();
    let elapsed_s = window.as_secs_f64().max(1e-9);
    let per_request = |seconds: f64| {
        if requests == 0 {
            0.0
        } else {
            round1(seconds * 1e6 / requests as f64)
        }
    };
    let client_cpu = after.0.zip(before.0).map_or(0.0, |(a, b)| a - b);
    let server_cpu = after.1.zip(before.1).map(|(a, b)| a - b);
    let slow_ns = SLOW.as_nanos() as u64;
    RunStats {
        connections,
        requests,
        ok: total.ok,
        elapsed_s: round1(elapsed_s * 1000.0) / 1000.0,
        rps: round1(total.ok as f64 / elapsed_s),
        latency_us: Latency::of(&total.histogram),
        slower_than_1s: if total.histogram.max() >= slow_ns {
            count_slow(&total.histogram)
        } else {
            0
        },
        errors: total.errors,
        error_samples: total.samples,
        client_cpu_us_per_request: per_request(client_cpu),
        sign_us_per_request: per_request(total.sign.as_secs_f64()),
        server_cpu_us_per_request: server_cpu.map(per_request),
        server_cores_busy: server_cpu.map(|s| round1(s / elapsed_s * 100.0) / 100.0),
        client_cores_busy: round1(client_cpu / elapsed_s * 100.0) / 100.0,
        other_cores_busy: after.2.zip(before.2).map(|(a, b)| {
            let other = (a - b) - client_cpu - server_cpu.unwrap_or(0.0);
            round1(other.max(0.0) / elapsed_s * 100.0) / 100.0
        }),
        key_ids: total.key_ids,
    }
}

/// Requests at or above one second: the histogram's count above the
/// quantile at which values cross [`SLOW`].
fn count_slow(h: &Histogram) -> u64 {
    let slow = SLOW.as_nanos() as u64;
    let (mut low, mut high) = (0.0f64, 1.0f64);
    for _ in 0..40 {
        let mid = (low + high) / 2.0;
        if h.quantile(mid) >= slow {
            high = mid
        } else {
            low = mid
        }
    }
    ((1.0 - low) * h.count() as f64).round().max(1.0) as u64
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

async fn connect(endpoint: &Endpoint, stats: &mut WorkerStats) -> Option<Connection> {
    match Connection::open(endpoint).await {
        Ok(c) => Some(c),
        Err(e) => {
            stats.fail(Failure::transport(e));
            None
        }
    }
}

async fn worker(id: u64, shared: Arc<Shared>, mut signer: Signer) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut rng = Rng::new(id + 1);
    let mut connection = connect(&shared.endpoint, &mut stats).await;
    shared.connected.wait().await;
    shared.go.wait().await;
    let Some(window) = shared.window.get() else {
        return stats;
    };
    let absolute = shared.endpoint.absolute_uri();
    // Open loop: workers' schedules are staggered evenly over one interval.
    let mut due = shared
        .interval
        .map(|i| window.start + i.mul_f64(id as f64 / shared.workers as f64));
    let mut previous_done = window.start;
    loop {
        let mut due_at = None;
        if let (Some(next), Some(interval)) = (due.as_mut(), shared.interval) {
            if window.end.is_some_and(|end| *next >= end) {
                break;
            }
            tokio::time::sleep_until((*next).into()).await;
            due_at = Some(*next);
            *next += interval;
        }
        if window.end.is_some_and(|end| Instant::now() >= end) {
            break;
        }
        if let Some(remaining) = &shared.remaining
            && remaining.fetch_sub(1, Ordering::Relaxed) <= 0
        {
            break;
        }
        let Some(conn) = connection.as_mut() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            connection = connect(&shared.endpoint, &mut stats).await;
            continue;
        };
        let (operation, body) = shared.prepared.next(&mut rng);
        let signing = Instant::now();
        let request = signer.request(operation, body, absolute);
        let started = Instant::now();
        // Open loop: latency counts from when the request was due if the
        // previous answer on this connection came after that (the server
        // delayed it), else from the send (the timer's own lateness, up to a
        // millisecond in tokio, is the generator's, not the server's).
        let started_at = match due_at {
            Some(due) if previous_done > due => due,
            _ => started,
        };
        let recording = started_at >= window.record_from;
        if recording {
            stats.sign += started - signing;
        }
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                stats.fail(Failure::transport(format!("signing: {e}")));
                break;
            }
        };
        let outcome = conn.exchange(request).await.map_err(Failure::transport);
        if outcome.as_ref().is_ok_and(|a| !a.keep_alive) {
            connection = None;
        }
        let done = Instant::now();
        previous_done = done;
        if window.end.is_some_and(|end| done > end) {
            break;
        }
        if !recording {
            if outcome.is_err() {
                connection = None;
            }
            continue;
        }
        stats
            .histogram
            .record(u64::try_from((done - started_at).as_nanos()).unwrap_or(u64::MAX));
        match outcome {
            Ok(Answer {
                status: 200, body, ..
            }) => {
                stats.ok += 1;
                if shared.collect_key_ids
                    && let Some(id) = key_id_of(&body)
                {
                    stats.key_ids.push(id);
                }
            }
            Ok(Answer { status, body, .. }) => stats.fail(failure_of(status, &body)),
            Err(failure) => {
                stats.fail(failure);
                connection = None;
            }
        }
    }
    stats
}

fn key_id_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .pointer("/KeyMetadata/KeyId")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_requests_are_counted() {
        let mut h = Histogram::default();
        for _ in 0..990 {
            h.record(1_000_000);
        }
        for _ in 0..10 {
            h.record(2_000_000_000);
        }
        assert_eq!(count_slow(&h), 10);
    }
}
