//! End-to-end tests: each test starts the real `trent` binary on its own data
//! directory and port, then drives it over HTTP with the official AWS SDK for
//! Rust (or, in `protocol`, with hand-built SigV4-signed requests).
//!
//! Everything lives in one test binary so the AWS SDK is linked once.
//! AWS KMS behaviour is the reference for every expected result.

// A test that cannot set itself up should stop loudly, right there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod aliases;
mod asymmetric;
mod audit;
mod authz;
mod cluster;
mod concurrency;
mod credentials;
mod crypto;
mod durability;
mod hmac;
mod hsm;
mod import;
mod keys;
mod operations;
mod policy;
mod pq;
mod protocol;
mod reliability;
mod rotation;
mod tags;
mod tls;
