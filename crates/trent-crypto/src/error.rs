//! The crypto layer's error type. Failures are deliberately opaque: saying
//! which check failed can help an attacker.

/// A cryptographic operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Authenticated decryption failed (wrong key, tampered data, wrong
    /// associated data). Carries no detail on purpose.
    #[error("decryption failed")]
    Decrypt,
    /// Encryption failed (should not happen with valid inputs).
    #[error("encryption failed")]
    Encrypt,
    /// The random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// A sealed or wrapped blob has an unknown format or version.
    #[error("unrecognized format: {0}")]
    Format(&'static str),
    /// The seal could not be opened: wrong passphrase or wrong seal file.
    #[error("the root key could not be unsealed: {0}")]
    Unseal(String),
    /// Reading or writing a seal file failed.
    #[error("seal file: {0}")]
    Io(String),
    /// A Shamir share is malformed, damaged, foreign, or too few were given.
    #[error("bad share: {0}")]
    BadShare(String),
    /// The backend does not support this key spec or operation.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Signing (or another private-key operation that cannot fail on valid
    /// input) failed. An internal fault, not the caller's.
    #[error("signing failed")]
    Sign,
    /// Key generation failed.
    #[error("key generation failed")]
    KeyGeneration,
    /// A public key supplied by the caller (the peer key of a key agreement)
    /// is malformed, not a SubjectPublicKeyInfo, or on another curve.
    #[error("the public key is not a valid DER SubjectPublicKeyInfo for this key's curve")]
    PeerPublicKey,
    /// Imported key material is not valid for the key's spec (wrong length,
    /// not PKCS#8, another algorithm or curve or modulus size).
    #[error("the key material is not valid for key spec {0}")]
    InvalidKeyMaterial(trent_core::key::KeySpec),
    /// A PKCS#11 token (a custom key store's HSM, the HSM seal) failed or is
    /// not connected.
    #[error(transparent)]
    Hsm(#[from] crate::pkcs11::TokenError),
}
