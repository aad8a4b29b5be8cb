//! Trent's reliability harnesses: evidence that nothing acknowledged is
//! lost, that faults fail cleanly, and that hostile input is refused. Each
//! harness is a library function (the CI-sized tests call it) and a
//! subcommand of the `trent-chaos` binary (the long runs whose figures go
//! in `docs/RELIABILITY.md`).
//!
//! - [`crash`] — `kill -9` a real `trent serve` under mixed write load,
//!   restart it, check every acknowledged write and every ciphertext.
//! - [`faults`] — a [`trent_store::Store`] wrapper that fails or slows the
//!   real store on command (failed write, failed fsync, ENOSPC, slow I/O).
//! - [`hostile`] — a generated corpus of malformed requests and transport
//!   abuse; every case must get a 4xx with an AWS error name or a closed
//!   connection, never a 5xx, a panic or a hang.
//! - [`soak`] — long mixed traffic with disable/enable/rotation; RSS,
//!   threads, file descriptors and latency recorded over time.
//! - [`hygiene`] — every operation with recognizable secrets; the server's
//!   output, error messages and the store file must not contain them.
//! - [`fuzz_checks`] — the properties the `fuzz/` targets check, shared so
//!   stable tests can replay the seed corpora.
//!
//! Support: [`client`] (a blocking SigV4 client, loopback only),
//! [`process`] (a real `trent serve`), [`inprocess`] (a node served in
//! this process, over a faulty store), [`procfs`], [`rng`].

#![warn(missing_docs)]

pub mod client;
pub mod crash;
pub mod faults;
pub mod fuzz_checks;
pub mod hostile;
pub mod hygiene;
pub mod inprocess;
pub mod process;
pub mod procfs;
pub mod rng;
pub mod soak;
