//! Trent's benchmark harness (issue 10): measures Trent the way its users
//! meet it, over the real protocol, next to baselines measured in the same
//! run so that results are ratios that survive a noisy machine.
//!
//! A tour:
//! - [`signer`] — SigV4-signed KMS requests built as the SDKs build them
//!   (botocore or Rust SDK header sets), signed one by one with
//!   [`trent_proto::sigv4::sign`].
//! - [`transport`] — one keep-alive connection per worker: TCP now, TLS
//!   plugs in there once the server has it; HTTP/1.1 or HTTP/2.
//! - [`workload`] — what each workload sends and the set-up it needs.
//! - [`load`] — the closed-loop generator: N workers, a warm-up, a recorded
//!   window or a fixed count; throughput, latency quantiles ([`histogram`]),
//!   errors by AWS error name, CPU per request of server and generator.
//! - [`baseline`] — a bare hyper server: the ceiling for any HTTP service.
//! - [`primitives`] — the cryptography alone, in process.
//! - [`suite`] — everything in one run against the release `trent`, the
//!   baseline and moto_server; [`report`] and [`markdown`] write
//!   `docs/perf/*.json` and `docs/PERFORMANCE.md`.
//!
//! The generator shares the machine with the server it measures. Its own
//! cost is reported per request (`client CPU µs/req`, of which signing), so
//! a reader can tell a generator-bound run from a server-bound one.

#![warn(missing_docs)]

pub mod api;
pub mod baseline;
pub mod histogram;
pub mod load;
pub mod markdown;
pub mod primitives;
pub mod process;
pub mod procfs;
pub mod report;
pub mod signer;
pub mod suite;
pub mod transport;
pub mod workload;
