//! Soak: mixed traffic for a long time against one server, with a
//! controller that keeps disabling, enabling and rotating keys. Sampled
//! every interval: requests, unexpected errors, latency (p50/p99), and the
//! server's RSS, threads and open file descriptors.
//!
//! Verdict: zero unexpected errors; file descriptors and threads do not
//! grow; RSS is flat (the last quarter's mean within 25% + 16 MiB of the
//! second quarter's); the last quarter's p99 latency within 3× (+5 ms) of
//! the second quarter's.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client::{Client, Credentials, Reply, b64};
use crate::procfs;
use crate::rng::Rng;

/// What a soak run does.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// How long.
    pub duration: Duration,
    /// Traffic clients.
    pub workers: usize,
    /// Time between samples.
    pub sample_every: Duration,
    /// Time between controller actions (disable/enable/rotate).
    pub churn_every: Duration,
    /// Seed.
    pub seed: u64,
}

/// One sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Seconds since the start.
    pub at_secs: f64,
    /// Requests completed in the interval.
    pub requests: u64,
    /// Unexpected errors in the interval.
    pub errors: u64,
    /// Median latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
    /// The server's usage (zeros if unavailable).
    pub usage: Option<procfs::Usage>,
}

/// What a soak run measured.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// The samples.
    pub samples: Vec<Sample>,
    /// Requests in total.
    pub requests: u64,
    /// Expected refusals (DisabledException on a key being churned).
    pub expected_refusals: u64,
    /// Controller actions done.
    pub churn_actions: u64,
    /// The first unexpected errors, verbatim.
    pub errors: Vec<String>,
    /// Broken verdict rules.
    pub failures: Vec<String>,
}

impl SoakReport {
    /// The samples as CSV.
    pub fn csv(&self) -> String {
        let mut out = String::from("seconds,requests,errors,p50_us,p99_us,rss_kib,threads,fds\n");
        for s in &self.samples {
            let u = s.usage.unwrap_or(procfs::Usage {
                rss_kib: 0,
                threads: 0,
                fds: 0,
            });
            out.push_str(&format!(
                "{:.1},{},{},{},{},{},{},{}\n",
                s.at_secs, s.requests, s.errors, s.p50_us, s.p99_us, u.rss_kib, u.threads, u.fds
            ));
        }
        out
    }
}

#[derive(Debug, Default)]
struct Shared {
    latencies: Mutex<Vec<u32>>,
    requests: AtomicU64,
    errors: AtomicU64,
    refusals: AtomicU64,
    messages: Mutex<Vec<String>>,
}

impl Shared {
    fn record(&self, started: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        if let Ok(mut l) = self.latencies.lock() {
            l.push(us);
        }
    }

    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.messages.lock()
            && m.len() < 20
        {
            m.push(what);
        }
    }
}

/// Runs a soak against the server at `addr` (process `pid`, for usage).
pub fn run(
    addr: SocketAddr,
    pid: Option<u32>,
    credentials: &Credentials,
    config: &SoakConfig,
    mut on_sample: impl FnMut(&Sample),
) -> Result<SoakReport, String> {
    let region = crate::process::REGION;
    let mut setup = Client::new(addr, credentials.clone(), region).map_err(|e| e.to_string())?;
    let mut create = |description: &str| -> Result<String, String> {
        let v = setup
            .call("CreateKey", &json!({"Description": description}))
            .map_err(|e| e.to_string())?;
        v["KeyMetadata"]["KeyId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "CreateKey without KeyId".to_owned())
    };
    let stable: Vec<String> = (0..4)
        .map(|i| create(&format!("soak stable {i}")))
        .collect::<Result<_, _>>()?;
    let churn: Vec<String> = (0..2)
        .map(|i| create(&format!("soak churn {i}")))
        .collect::<Result<_, _>>()?;

    let shared = Arc::new(Shared::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut rng = Rng::new(config.seed);
    let mut handles = Vec::new();
    for _ in 0..config.workers.max(1) {
        let client = Client::new(addr, credentials.clone(), region).map_err(|e| e.to_string())?;
        let (shared, stop, stable, churn) =
            (shared.clone(), stop.clone(), stable.clone(), churn.clone());
        let rng = rng.fork();
        handles.push(std::thread::spawn(move || {
            traffic(client, rng, &stable, &churn, &shared, &stop)
        }));
    }
    let churn_actions = Arc::new(AtomicU64::new(0));
    {
        let client = Client::new(addr, credentials.clone(), region).map_err(|e| e.to_string())?;
        let (shared, stop, churn, every, actions) = (
            shared.clone(),
            stop.clone(),
            churn.clone(),
            config.churn_every,
            churn_actions.clone(),
        );
        handles.push(std::thread::spawn(move || {
            controller(client, &churn, every, &shared, &stop, &actions)
        }));
    }

    let started = Instant::now();
    let mut report = SoakReport::default();
    let mut next = started + config.sample_every;
    let end = started + config.duration;
    let mut last_requests = 0;
    let mut last_errors = 0;
    while Instant::now() < end {
        std::thread::sleep(
            next.saturating_duration_since(Instant::now())
                .min(end.saturating_duration_since(Instant::now())),
        );
        next += config.sample_every;
        let mut lat = shared
            .latencies
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        lat.sort_unstable();
        let pct = |p: f64| -> u64 {
            if lat.is_empty() {
                0
            } else {
                u64::from(lat[((lat.len() - 1) as f64 * p) as usize])
            }
        };
        let requests = shared.requests.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        let sample = Sample {
            at_secs: started.elapsed().as_secs_f64(),
            requests: requests - last_requests,
            errors: errors - last_errors,
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            usage: pid.and_then(procfs::usage),
        };
        last_requests = requests;
        last_errors = errors;
        on_sample(&sample);
        report.samples.push(sample);
    }
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    report.requests = shared.requests.load(Ordering::Relaxed);
    report.expected_refusals = shared.refusals.load(Ordering::Relaxed);
    report.churn_actions = churn_actions.load(Ordering::Relaxed);
    report.errors = shared
        .messages
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    judge(&mut report, shared.errors.load(Ordering::Relaxed));
    Ok(report)
}

fn traffic(
    mut client: Client,
    mut rng: Rng,
    stable: &[String],
    churn: &[String],
    shared: &Shared,
    stop: &AtomicBool,
) {
    let mut ciphertexts: Vec<(Vec<u8>, Vec<u8>, bool)> = Vec::new();
    // Bounded by `stop`, and by a count that no soak reaches.
    for n in 0..u64::MAX / 2 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let started = Instant::now();
        let mut on_churn = rng.chance(0.2);
        let key = if on_churn {
            &churn[rng.index(churn.len())]
        } else {
            &stable[rng.index(stable.len())]
        };
        let result = match rng.below(10) {
            0..=3 => {
                let len = 1 + rng.index(1024);
                let plaintext = rng.bytes(len);
                client
                    .call("Encrypt", &json!({"KeyId": key, "Plaintext": b64(&plaintext), "EncryptionContext": {"n": n.to_string()}}))
                    .map(|v| {
                        if let Some(blob) = Reply::blob(&v, "CiphertextBlob") {
                            if ciphertexts.len() >= 256 {
                                ciphertexts.swap_remove(rng.index(256));
                            }
                            let mut context = n.to_string().into_bytes();
                            context.push(0);
                            context.extend(plaintext);
                            ciphertexts.push((blob, context, on_churn));
                        }
                    })
            }
            4..=6 if !ciphertexts.is_empty() => {
                let (blob, tagged, churned) = &ciphertexts[rng.index(ciphertexts.len())];
                // Ciphertexts of churned keys were made before rotations:
                // they must still decrypt (when the key is enabled).
                on_churn = *churned;
                let split = tagged.iter().position(|b| *b == 0).unwrap_or(0);
                let n = String::from_utf8_lossy(&tagged[..split]).into_owned();
                let plaintext = &tagged[split + 1..];
                client
                    .call(
                        "Decrypt",
                        &json!({"CiphertextBlob": b64(blob), "EncryptionContext": {"n": n}}),
                    )
                    .and_then(|v| {
                        if Reply::blob(&v, "Plaintext").as_deref() == Some(plaintext) {
                            Ok(())
                        } else {
                            Err(crate::client::CallError::Transport(
                                "Decrypt returned other bytes".into(),
                            ))
                        }
                    })
            }
            7 => client
                .call(
                    "GenerateDataKey",
                    &json!({"KeyId": key, "KeySpec": "AES_256"}),
                )
                .map(|_| ()),
            8 => client
                .call("DescribeKey", &json!({"KeyId": key}))
                .map(|_| ()),
            _ => client.call("ListKeys", &json!({"Limit": 10})).map(|_| ()),
        };
        match result {
            Ok(()) => shared.record(started),
            Err(e) if on_churn && e.error_type() == Some("DisabledException") => {
                shared.record(started);
                shared.refusals.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => shared.error(e.to_string()),
        }
    }
}

fn controller(
    mut client: Client,
    churn: &[String],
    every: Duration,
    shared: &Shared,
    stop: &AtomicBool,
    actions: &AtomicU64,
) {
    let mut step = 0u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(every);
        let key = &churn[(step as usize / 3) % churn.len()];
        // Disable, enable, rotate (while on-demand rotations remain; then
        // toggle automatic rotation instead).
        let result = match step % 3 {
            0 => client.call("DisableKey", &json!({"KeyId": key})),
            1 => client.call("EnableKey", &json!({"KeyId": key})),
            _ => match client.call("RotateKeyOnDemand", &json!({"KeyId": key})) {
                Err(e) if e.error_type() == Some("LimitExceededException") => client.call(
                    "EnableKeyRotation",
                    &json!({"KeyId": key, "RotationPeriodInDays": 90}),
                ),
                other => other,
            },
        };
        match result {
            Ok(_) => {
                actions.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => shared.error(format!("controller: {e}")),
        }
        step += 1;
    }
}

fn judge(report: &mut SoakReport, errors: u64) {
    if errors > 0 {
        report.failures.push(format!("{errors} unexpected errors"));
    }
    let usage: Vec<procfs::Usage> = report.samples.iter().filter_map(|s| s.usage).collect();
    if usage.len() < 4 {
        return;
    }
    let q = usage.len() / 4;
    let (second, last) = (&usage[q..2 * q], &usage[usage.len() - q..]);
    let mean = |s: &[procfs::Usage], f: fn(&procfs::Usage) -> u64| {
        s.iter().map(f).sum::<u64>() as f64 / s.len().max(1) as f64
    };
    let (rss2, rss4) = (mean(second, |u| u.rss_kib), mean(last, |u| u.rss_kib));
    if rss4 > rss2 * 1.25 + 16.0 * 1024.0 {
        report
            .failures
            .push(format!("RSS grew: {rss2:.0} KiB → {rss4:.0} KiB"));
    }
    let max =
        |s: &[procfs::Usage], f: fn(&procfs::Usage) -> u64| s.iter().map(f).max().unwrap_or(0);
    let (fd2, fd4) = (max(&usage[..2 * q], |u| u.fds), max(last, |u| u.fds));
    if fd4 > fd2 + 8 {
        report
            .failures
            .push(format!("file descriptors grew: {fd2} → {fd4}"));
    }
    let (th2, th4) = (
        max(&usage[..2 * q], |u| u.threads),
        max(last, |u| u.threads),
    );
    if th4 > th2 + 8 {
        report.failures.push(format!("threads grew: {th2} → {th4}"));
    }
    let samples = &report.samples;
    let sq = samples.len() / 4;
    let p99 = |s: &[Sample]| s.iter().map(|x| x.p99_us).sum::<u64>() as f64 / s.len().max(1) as f64;
    let (l2, l4) = (
        p99(&samples[sq..2 * sq]),
        p99(&samples[samples.len() - sq..]),
    );
    if l4 > l2 * 3.0 + 5000.0 {
        report
            .failures
            .push(format!("p99 latency grew: {l2:.0} µs → {l4:.0} µs"));
    }
}
