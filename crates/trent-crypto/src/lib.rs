//! Trent's cryptography, all from aws-lc-rs: the root key and the seals that
//! protect it, and the key backends that create key material and use it.
//!
//! - [`root`] — the root key, which wraps every stored secret.
//! - [`seal`] — the seals that keep the root key at rest: a dev file or a
//!   passphrase (Argon2id); HSM and Shamir seals implement the same trait.
//! - [`backend`] — the [`backend::KeyBackend`] seam, chosen per key, and the
//!   [`backend::SymmetricKey`] a loaded key version exposes.
//! - [`software`] — the in-process backend (key material wrapped under the
//!   root key, AES-256-GCM with per-message HKDF keys).

#![warn(missing_docs)]

pub mod backend;
mod error;
pub mod root;
pub mod seal;
pub mod software;

pub use error::Error;

/// Fills `out` with cryptographically secure random bytes.
pub fn random_bytes(out: &mut [u8]) -> Result<(), Error> {
    aws_lc_rs::rand::fill(out).map_err(|_| Error::Rng)
}

/// Compares two byte strings in constant time (for equal lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    #[allow(deprecated)]
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
