//! Trent's domain model: what a KMS key is, which states it moves through, how
//! it is named, how its ciphertexts are laid out, and the rules the API
//! enforces. This crate performs no I/O and no cryptography: the server feeds it
//! facts (records, the current time) and it answers with decisions.
//!
//! A tour:
//! - [`ids`] — key ids, key ARNs, alias names, and parsing the `KeyId` argument.
//! - [`key`] — [`key::KeyRecord`], its metadata enums and the key state machine.
//! - [`spec`] — what each key spec can do: usages, algorithms, digest lengths,
//!   message limits, and AWS's error for every wrong pairing.
//! - [`import`] — importing key material: wrapping rules, the import token,
//!   expiry.
//! - [`ciphertext`] — the self-describing symmetric ciphertext blob.
//! - [`context`] — encryption contexts and their canonical byte form.
//! - [`policy`] — the default key policy.
//! - [`clock`] — an injectable clock so tests can move time.
//! - [`credential`] — access keys and the principals they belong to.

#![warn(missing_docs)]

pub mod ciphertext;
pub mod clock;
pub mod context;
pub mod credential;
mod error;
pub mod ids;
pub mod import;
pub mod key;
pub mod policy;
pub mod spec;

pub use error::Error;
