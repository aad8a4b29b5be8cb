//! Trent's audit log: one record per request (and per background action),
//! in CloudTrail's event shape, that cannot be altered, reordered or cut
//! without `verify` noticing, and that is encrypted at rest.
//!
//! A tour:
//! - [`event`] — the record: [`AuditEvent`], CloudTrail's fields.
//! - [`redact`] — what of a request or response may be recorded: an
//!   allowlist of field names, applied while parsing.
//! - [`keys`] — the service-owned record key (AES-256-GCM) and checkpoint
//!   signing key (Ed25519), stored wrapped under the root key.
//! - [`format`] — the bytes: segment header, record and checkpoint frames
//!   (specified in docs/FORMATS.md).
//! - [`segment`] — segment files, one chain per node.
//! - [`log`] — the writer: a channel to one writer thread, rotation,
//!   retention, failing closed; its helpers (group-commit fsync, copying
//!   checkpoints into the store) are in `commit`.
//! - [`verify`] — checks chains, checkpoints and the store's checkpoint.
//! - [`query`] — decrypts and filters records for operators.

#![warn(missing_docs)]

mod commit;
pub mod config;
mod error;
pub mod event;
pub mod format;
pub mod keys;
pub mod log;
pub mod query;
pub mod redact;
pub mod segment;
pub mod verify;

pub use config::{AuditConfig, Durability};
pub use error::{Error, Result};
pub use event::AuditEvent;
pub use keys::{AuditKeys, PublicKey};
pub use log::{AuditLog, Pending, checkpoint_meta};
pub use segment::local_node_id;

#[cfg(test)]
mod tests;
