//! Prometheus metrics, rendered in the text exposition format at
//! `GET /metrics`: requests by operation and outcome, latency histograms,
//! key-cache hits and misses, keys by state, seal and store health.
//!
//! Counters are atomics; the per-operation table is read-locked on the
//! request path and write-locked only the first time an operation is seen.
//! Operation names outside the API model are counted as `Unknown`, so a
//! client cannot grow the table.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::node::Node;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The operations of the KMS API model.
const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

#[derive(Debug, Default)]
struct OperationMetrics {
    outcomes: Mutex<HashMap<&'static str, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// The node's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    operations: RwLock<HashMap<&'static str, Arc<OperationMetrics>>>,
    /// Key-cache lookups answered from memory.
    pub cache_hits: AtomicU64,
    /// Key-cache lookups that went to the store.
    pub cache_misses: AtomicU64,
}

impl Metrics {
    /// Records one KMS request: its operation, its outcome (`OK` or the AWS
    /// error name) and how long it took.
    pub fn observe(&self, operation: &str, outcome: &'static str, elapsed: Duration) {
        let name = OPERATIONS
            .iter()
            .copied()
            .find(|o| *o == operation)
            .unwrap_or("Unknown");
        let entry = self
            .operations
            .read()
            .ok()
            .and_then(|t| t.get(name).cloned());
        let entry = match entry {
            Some(e) => e,
            None => match self.operations.write() {
                Ok(mut table) => table.entry(name).or_default().clone(),
                Err(_) => return,
            },
        };
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&entry.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        entry.count.fetch_add(1, Ordering::Relaxed);
        entry
            .sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        if let Ok(mut outcomes) = entry.outcomes.lock() {
            *outcomes.entry(outcome).or_default() += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self, node: &Node) -> String {
        let mut out = String::with_capacity(4096);
        self.render_requests(&mut out);
        let cache = [("hits", &self.cache_hits), ("misses", &self.cache_misses)];
        header(
            &mut out,
            "trent_key_cache_lookups_total",
            "counter",
            "Key-cache lookups by result.",
        );
        for (result, counter) in cache {
            let _ = writeln!(
                out,
                "trent_key_cache_lookups_total{{result=\"{result}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "trent_key_cache_entries",
            "gauge",
            "Keys whose material is held in memory.",
        );
        let _ = writeln!(out, "trent_key_cache_entries {}", node.keys.len());
        header(
            &mut out,
            "trent_sealed",
            "gauge",
            "1 while the root key is unavailable.",
        );
        let _ = writeln!(out, "trent_sealed {}", u8::from(!node.is_unsealed()));
        header(
            &mut out,
            "trent_audit_writable",
            "gauge",
            "1 while the audit log accepts records (requests fail closed otherwise).",
        );
        let _ = writeln!(
            out,
            "trent_audit_writable {}",
            u8::from(node.audit.writable())
        );
        let counts = node.store.count_keys_by_state();
        header(
            &mut out,
            "trent_store_up",
            "gauge",
            "1 if the store answered the last scrape.",
        );
        let _ = writeln!(out, "trent_store_up {}", u8::from(counts.is_ok()));
        header(&mut out, "trent_keys", "gauge", "Keys by state.");
        for (state, count) in counts.unwrap_or_default() {
            let _ = writeln!(out, "trent_keys{{state=\"{state}\"}} {count}");
        }
        out
    }

    fn render_requests(&self, out: &mut String) {
        let Ok(table) = self.operations.read() else {
            return;
        };
        let mut names: Vec<&&str> = table.keys().collect();
        names.sort();
        header(
            out,
            "trent_requests_total",
            "counter",
            "KMS requests by operation and outcome (OK or the AWS error name).",
        );
        for name in &names {
            if let Ok(outcomes) = table[**name].outcomes.lock() {
                let mut sorted: Vec<_> = outcomes.iter().collect();
                sorted.sort();
                for (outcome, n) in sorted {
                    let _ = writeln!(
                        out,
                        "trent_requests_total{{operation=\"{name}\",outcome=\"{outcome}\"}} {n}"
                    );
                }
            }
        }
        header(
            out,
            "trent_request_duration_seconds",
            "histogram",
            "KMS request latency, from body read to response.",
        );
        for name in &names {
            let m = &table[**name];
            for (bound, bucket) in BUCKETS.iter().zip(&m.buckets) {
                let _ = writeln!(
                    out,
                    "trent_request_duration_seconds_bucket{{operation=\"{name}\",le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = m.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "trent_request_duration_seconds_bucket{{operation=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "trent_request_duration_seconds_sum{{operation=\"{name}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "trent_request_duration_seconds_count{{operation=\"{name}\"}} {count}"
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_operations_share_one_row() {
        let m = Metrics::default();
        m.observe("Encrypt", "OK", Duration::from_micros(300));
        m.observe("Encrypt", "DisabledException", Duration::from_millis(3));
        for i in 0..100 {
            m.observe(
                &format!("Bogus{i}"),
                "UnknownOperationException",
                Duration::from_micros(10),
            );
        }
        let mut out = String::new();
        m.render_requests(&mut out);
        assert!(out.contains("trent_requests_total{operation=\"Encrypt\",outcome=\"OK\"} 1"));
        assert!(out.contains(
            "trent_requests_total{operation=\"Encrypt\",outcome=\"DisabledException\"} 1"
        ));
        assert!(out.contains(
            "trent_requests_total{operation=\"Unknown\",outcome=\"UnknownOperationException\"} 100"
        ));
        assert!(out.contains(
            "trent_request_duration_seconds_bucket{operation=\"Encrypt\",le=\"0.0005\"} 1"
        ));
        assert!(out.contains(
            "trent_request_duration_seconds_bucket{operation=\"Encrypt\",le=\"0.005\"} 2"
        ));
        assert!(!out.contains("Bogus"));
    }
}
