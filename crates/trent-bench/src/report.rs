//! The suite's results: a JSON document (`docs/perf/*.json`) and the
//! generated part of `docs/PERFORMANCE.md`, with issue 10's targets judged
//! from the numbers of the same run.

use std::path::Path;

use crate::load::RunStats;
use crate::primitives::{self, Timing};
use crate::procfs::{self, Machine};
use crate::suite::SuiteConfig;

/// One run of one workload against one server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRecord {
    /// `trent`, `trent-tls`, `bare-hyper` or `moto`.
    pub target: String,
    /// The workload name.
    pub workload: String,
    /// `main`, `concurrency` or `distinct-keys`.
    pub group: String,
    /// Concurrent connections.
    pub connections: usize,
    /// Distinct keys the requests used.
    pub distinct_keys: usize,
    /// `ok`, `skipped` or `failed`.
    pub status: String,
    /// Why it was skipped or failed.
    pub note: Option<String>,
    /// The measurements, when it ran.
    pub stats: Option<RunStats>,
}

/// Memory and start-up with a filled store.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Memory {
    /// Keys in the store at the restart.
    pub keys_in_store: usize,
    /// Start-up on an empty data dir (creates the root key and credentials), ms.
    pub cold_start_empty_ms: f64,
    /// Spawn to `listening` on the filled store, ms.
    pub cold_start_ms: f64,
    /// Spawn to the first answered request, ms.
    pub first_request_ms: f64,
    /// RSS right after the restart, MiB.
    pub rss_after_start_mib: f64,
    /// Keys touched (one Encrypt each) before the next reading.
    pub warmed_keys: usize,
    /// RSS after that warm-up, MiB.
    pub rss_after_warmup_mib: f64,
    /// RSS after the distinct-keys sweep (up to every key touched), MiB.
    pub rss_after_sweep_mib: f64,
}

/// One target of issue 10, judged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    /// The target as the issue states it.
    pub goal: String,
    /// What this run measured.
    pub measured: String,
    /// `met`, `missed` or `not measured`.
    pub verdict: String,
}

/// Everything one suite run found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SuiteReport {
    /// Format version of this document.
    pub format: u32,
    /// `full`, `quick` or `smoke`.
    pub mode: String,
    /// The exact command.
    pub command: String,
    /// When the run started (UTC, RFC 3339).
    pub started_utc: String,
    /// The machine.
    pub machine: Machine,
    /// 1-minute load average when the run ended.
    pub load_average_at_end: f64,
    /// Warm-up and recorded seconds per run, connections, keys.
    pub settings: serde_json::Value,
    /// Primitive timings.
    pub primitives: Vec<Timing>,
    /// Primitive timings taken right after the Sign runs (what the Sign
    /// targets compare with).
    pub primitives_adjacent: Vec<Timing>,
    /// Every run.
    pub runs: Vec<RunRecord>,
    /// Memory and cold start.
    pub memory: Option<Memory>,
    /// TLS status.
    pub tls: String,
    /// moto status.
    pub moto: String,
    /// Issue 10's targets.
    pub targets: Vec<Target>,
}

impl SuiteReport {
    /// An empty report for `config`.
    pub fn new(config: &SuiteConfig) -> Self {
        let started = time::OffsetDateTime::now_utc();
        Self {
            format: 1,
            mode: config.mode.clone(),
            command: config.command.clone(),
            started_utc: started
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            machine: procfs::machine(),
            load_average_at_end: 0.0,
            settings: serde_json::json!({
                "warmup_s": config.warmup.as_secs_f64(),
                "measure_s": config.duration.as_secs_f64(),
                "connections": config.connections,
                "concurrency_sweep": config.sweep,
                "keys": config.keys,
                "warm_keys": config.warm_keys,
                "header_style": config.style,
                "generator": "closed loop, one keep-alive HTTP/1.1 connection per worker, every request SigV4-signed as sent",
            }),
            primitives: Vec::new(),
            primitives_adjacent: Vec::new(),
            runs: Vec::new(),
            memory: None,
            tls: String::new(),
            moto: String::new(),
            targets: Vec::new(),
        }
    }

    fn stats(&self, target: &str, workload: &str, group: &str) -> Option<&RunStats> {
        self.runs
            .iter()
            .find(|r| r.target == target && r.workload == workload && r.group == group)
            .and_then(|r| r.stats.as_ref())
    }

    /// Judges issue 10's targets from this run's numbers.
    pub fn evaluate(&mut self) {
        self.load_average_at_end = procfs::load_average();
        let mut targets = Vec::new();
        let encrypt = self.stats("trent", "encrypt-1k", "main").cloned();
        let bare = self.stats("bare-hyper", "encrypt-1k", "main").cloned();
        let moto = self.stats("moto", "encrypt-1k", "main").cloned();
        targets.push(match (&encrypt, &bare) {
            (Some(e), Some(b)) if b.rps > 0.0 => {
                let ratio = e.rps / b.rps;
                judge(
                    "Encrypt 1 KiB @64: ≥ 60% of bare-hyper req/s",
                    format!(
                        "{:.0} vs {:.0} req/s = {:.0}%{}",
                        e.rps,
                        b.rps,
                        ratio * 100.0,
                        capacity_ratio(e, b)
                    ),
                    ratio >= 0.6,
                )
            }
            _ => unmeasured("Encrypt 1 KiB @64: ≥ 60% of bare-hyper req/s"),
        });
        targets.push(self.p99_target(encrypt.as_ref()));
        targets.push(match (&encrypt, &moto) {
            (Some(e), Some(m)) if m.rps > 0.0 => {
                let ratio = e.rps / m.rps;
                judge(
                    "Encrypt 1 KiB @64: ≥ 100× moto_server",
                    format!("{:.0} vs {:.0} req/s = {:.0}×", e.rps, m.rps, ratio),
                    ratio >= 100.0,
                )
            }
            _ => unmeasured("Encrypt 1 KiB @64: ≥ 100× moto_server"),
        });
        targets.push(self.ecdsa_target(encrypt.as_ref()));
        targets.push(self.rsa_target());
        targets.push(match self.stats("trent", "create-key", "main") {
            Some(c) => judge(
                "CreateKey durable @64: ≥ 2,000 keys/s (SQLite)",
                format!("{:.0} keys/s", c.rps),
                c.rps >= 2000.0,
            ),
            None => unmeasured("CreateKey durable @64: ≥ 2,000 keys/s (SQLite)"),
        });
        targets.extend(self.memory_targets());
        targets.push(self.no_errors_target());
        self.targets = targets;
    }

    /// A primitive's timing: the one taken next to the Sign runs if any.
    fn primitive(&self, prefix: &str) -> Option<&Timing> {
        primitives::find(&self.primitives_adjacent, prefix)
            .or_else(|| primitives::find(&self.primitives, prefix))
    }

    fn p99_target(&self, encrypt: Option<&RunStats>) -> Target {
        let goal = "Encrypt 1 KiB @64: p99 ≤ 2 ms";
        let half = self.stats("trent", "encrypt-1k", "half-load");
        match (encrypt, half) {
            (Some(e), Some(h)) => {
                let little = e.connections as f64 / e.rps.max(1.0) * 1000.0;
                let measured = format!(
                    "open loop at {:.0} req/s (half of max): p99 {:.2} ms; saturated closed loop: p99 {:.2} ms, where Little's law alone puts the mean at {} / {:.0} req/s = {little:.2} ms",
                    h.rps,
                    h.latency_us.p99 / 1000.0,
                    e.latency_us.p99 / 1000.0,
                    e.connections,
                    e.rps
                );
                let verdict = match (h.latency_us.p99 <= 2000.0, e.latency_us.p99 <= 2000.0) {
                    (true, true) => "met",
                    (true, false) => "met at half load; missed at saturation",
                    (false, _) => "missed",
                };
                Target {
                    goal: goal.into(),
                    measured,
                    verdict: verdict.into(),
                }
            }
            (Some(e), None) => judge(
                goal,
                format!(
                    "saturated closed loop: p99 {:.2} ms",
                    e.latency_us.p99 / 1000.0
                ),
                e.latency_us.p99 <= 2000.0,
            ),
            _ => unmeasured(goal),
        }
    }

    fn ecdsa_target(&self, encrypt: Option<&RunStats>) -> Target {
        let goal = "ECDSA P-256 Sign: server cost/request ≤ primitive + Encrypt overhead";
        let sign = self.stats("trent", "sign-ecc-p256", "main");
        let ecdsa = self.primitive("ecdsa-p256-sha256 sign");
        let aes = self.primitive("aes-256-gcm");
        match (sign, encrypt, ecdsa, aes) {
            (Some(s), Some(e), Some(p), Some(a)) => {
                let (Some(sign_us), Some(encrypt_us)) =
                    (s.server_cpu_us_per_request, e.server_cpu_us_per_request)
                else {
                    return unmeasured(goal);
                };
                let overhead = encrypt_us - a.ns_per_op / 1000.0;
                let bound = overhead + p.ns_per_op / 1000.0;
                judge(
                    goal,
                    format!(
                        "{sign_us:.1} µs vs {:.1} (primitive) + {overhead:.1} (Encrypt overhead) = {bound:.1} µs",
                        p.ns_per_op / 1000.0
                    ),
                    sign_us <= bound,
                )
            }
            _ => unmeasured(goal),
        }
    }

    fn rsa_target(&self) -> Target {
        let goal = "RSA-2048 Sign: within 10% of the primitive's rate per core";
        match (
            self.stats("trent", "sign-rsa-2048", "main"),
            self.primitive("rsa-2048"),
        ) {
            (Some(s), Some(p)) => match s.server_cpu_us_per_request {
                Some(us) if us > 0.0 => {
                    let per_core = 1e6 / us;
                    judge(
                        goal,
                        format!(
                            "{per_core:.0} signs/s per server core vs {:.0} primitive",
                            p.ops_per_s
                        ),
                        per_core >= 0.9 * p.ops_per_s,
                    )
                }
                _ => unmeasured(goal),
            },
            _ => unmeasured(goal),
        }
    }

    fn memory_targets(&self) -> Vec<Target> {
        let rss_goal = "100k keys: RSS ≤ 200 MiB after start + warm-up touching 10k keys";
        let start_goal = "100k keys: cold start ≤ 1 s";
        let Some(m) = &self.memory else {
            return vec![unmeasured(rss_goal), unmeasured(start_goal)];
        };
        let scale = if m.keys_in_store >= 100_000 {
            String::new()
        } else {
            format!(
                " (only {} keys in the store: run without --keys to judge)",
                m.keys_in_store
            )
        };
        let full = m.keys_in_store >= 100_000;
        let verdict = |ok: bool| {
            if !full {
                "not measured at 100k".to_owned()
            } else if ok {
                "met".into()
            } else {
                "missed".into()
            }
        };
        vec![
            Target {
                goal: rss_goal.into(),
                measured: format!(
                    "{:.1} MiB after start, {:.1} MiB after touching {} keys{scale}",
                    m.rss_after_start_mib, m.rss_after_warmup_mib, m.warmed_keys
                ),
                verdict: verdict(m.rss_after_warmup_mib <= 200.0),
            },
            Target {
                goal: start_goal.into(),
                measured: format!(
                    "{:.0} ms to listening, {:.0} ms to the first answer{scale}",
                    m.cold_start_ms, m.first_request_ms
                ),
                verdict: verdict(m.first_request_ms <= 1000.0),
            },
        ]
    }

    fn no_errors_target(&self) -> Target {
        let trent: Vec<&RunRecord> = self.runs.iter().filter(|r| r.target == "trent").collect();
        let errors: u64 = trent
            .iter()
            .filter_map(|r| r.stats.as_ref())
            .map(|s| s.errors.values().sum::<u64>())
            .sum();
        let slow: u64 = trent
            .iter()
            .filter_map(|r| r.stats.as_ref())
            .map(|s| s.slower_than_1s)
            .sum();
        let failed = trent.iter().filter(|r| r.status == "failed").count();
        let max = trent
            .iter()
            .filter_map(|r| r.stats.as_ref())
            .map(|s| s.latency_us.max)
            .fold(0.0, f64::max);
        judge(
            "No error and no request slower than 1 s (trent runs)",
            format!(
                "{errors} errors, {failed} failed set-ups, {slow} requests > 1 s, slowest {:.1} ms",
                max / 1000.0
            ),
            errors == 0 && slow == 0 && failed == 0,
        )
    }

    /// Writes the JSON document.
    pub fn write_json(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Writes the generated section of the Markdown report into `path`,
    /// keeping whatever the file has outside the markers.
    pub fn write_markdown(&self, path: &Path, json_path: &Path) -> Result<(), String> {
        let generated = crate::markdown::render(self, json_path);
        let existing = std::fs::read_to_string(path).unwrap_or_default();
        let text = crate::markdown::splice(&existing, &generated);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
    }
}

fn judge(goal: &str, measured: String, ok: bool) -> Target {
    Target {
        goal: goal.into(),
        measured,
        verdict: if ok { "met" } else { "missed" }.into(),
    }
}

fn unmeasured(goal: &str) -> Target {
    Target {
        goal: goal.into(),
        measured: "—".into(),
        verdict: "not measured".into(),
    }
}

/// Both servers' CPU per request plus the generator's, compared: what the
/// throughput ratio would be on an otherwise idle machine where generator
/// and server share the cores. Robust to other work on the box.
fn capacity_ratio(trent: &RunStats, bare: &RunStats) -> String {
    match (
        trent.server_cpu_us_per_request,
        bare.server_cpu_us_per_request,
    ) {
        (Some(t), Some(b)) if t > 0.0 => {
            let trent_total = t + trent.client_cpu_us_per_request;
            let bare_total = b + bare.client_cpu_us_per_request;
            format!(
                " (by CPU per request, server + generator: {bare_total:.1} / {trent_total:.1} µs = {:.0}%)",
                bare_total / trent_total * 100.0
            )
        }
        _ => String::new(),
    }
}
