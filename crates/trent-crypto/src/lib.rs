//! Trent's cryptography, all from aws-lc-rs: the root key and the seals that
//! protect it, and the key backends that create key material and use it.
//!
//! - [`root`] — the root key, which wraps every stored secret.
//! - [`seal`] — the seals that keep the root key at rest: a dev file or a
//!   passphrase (Argon2id); [`shamir`] splits the unseal key into shares.
//! - [`backend`] — the [`backend::KeyBackend`] seam, chosen per key, and the
//!   [`backend::SymmetricKey`] a loaded key version exposes.
//! - [`import`] — wrapping keys, unwrapping imported material, the import
//!   token's MAC and the material fingerprint.
//! - [`software`] — the in-process backend (key material wrapped under the
//!   root key, AES-256-GCM with per-message HKDF keys; RSA, ECDSA, Ed25519,
//!   ML-DSA, HMAC, ECDH and ML-KEM through aws-lc-rs), and key-pair
//!   generation for GenerateDataKeyPair.
//! - [`pkcs11`] — PKCS#11 HSMs: the backend of custom key stores (AES keys
//!   generated and used inside the token) and the HSM seal (docs/HSM.md).
//!
//! `aws_lc_ffi` (private) is the one module allowed `unsafe`: the AWS-LC
//! calls aws-lc-rs does not expose (ML-DSA external μ, Ed25519ph, ML-KEM
//! seeds).

#![warn(missing_docs)]

mod aws_lc_ffi;
pub mod backend;
mod error;
pub mod import;
pub mod pkcs11;
pub mod root;
pub mod seal;
pub mod shamir;
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

/// ML-DSA's message representative μ for `message` under the raw public key
/// (FIPS 204 Algorithm 7 line 6 with an empty context, as KMS uses):
/// `SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ message, 64)`. Sign and Verify
/// take it with `MessageType = EXTERNAL_MU`.
pub fn ml_dsa_mu(public_key_raw: &[u8], message: &[u8]) -> Result<[u8; 64], Error> {
    let tr: [u8; 64] = aws_lc_ffi::shake256(&[public_key_raw])?;
    aws_lc_ffi::shake256(&[&tr, &[0x00, 0x00], message])
}
