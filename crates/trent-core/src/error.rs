//! The domain layer's error type.

use crate::key::KeyState;

/// A rule of the domain was broken. The server maps each variant to exactly
/// one AWS error name at its edge.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An argument broke a documented constraint; the message names the field.
    #[error("{0}")]
    Validation(String),
    /// The key is disabled.
    #[error("{arn} is disabled.")]
    Disabled {
        /// The key ARN.
        arn: String,
    },
    /// The key is in a state that does not allow the operation.
    #[error("{arn} is {state}.")]
    InvalidState {
        /// The key ARN.
        arn: String,
        /// Its current state.
        state: KeyState,
    },
    /// The named key or alias does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation is not supported for this key.
    #[error("{0}")]
    Unsupported(String),
    /// The key's usage does not allow the operation.
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// A ciphertext is malformed or does not authenticate. Deliberately
    /// carries no detail about which check failed.
    #[error("The ciphertext is invalid.")]
    InvalidCiphertext,
    /// The ciphertext was made under a different key than the one named.
    #[error(
        "The key ID in the request does not identify a KMS key that can perform this operation."
    )]
    IncorrectKey,
    /// An alias name is invalid or reserved.
    #[error("{0}")]
    InvalidAliasName(String),
    /// The caller may not do this (e.g. use a reserved alias prefix).
    #[error("{0}")]
    NotAuthorized(String),
    /// A resource with that name already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// An ARN is malformed.
    #[error("{0}")]
    InvalidArn(String),
    /// A tag is invalid.
    #[error("{0}")]
    Tag(String),
    /// A limit on the number of resources was reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// The marker given to a list operation is invalid.
    #[error("{0}")]
    InvalidMarker(String),
    /// A policy document is malformed.
    #[error("{0}")]
    MalformedPolicy(String),
    /// Verify found the signature does not match. AWS sends no message.
    #[error("")]
    InvalidSignature,
    /// VerifyMac found the MAC does not match. AWS sends no message.
    #[error("")]
    InvalidMac,
    /// An import token is malformed, forged, for another key, or already
    /// used or replaced.
    #[error("The import token is invalid.")]
    InvalidImportToken,
    /// An import token's 24 hours have passed.
    #[error("The import token has expired. Call GetParametersForImport for a new one.")]
    ExpiredImportToken,
    /// Re-imported material differs from the key's original material.
    #[error(
        "The key material does not match the key material previously imported into this KMS key."
    )]
    IncorrectKeyMaterial,
}
