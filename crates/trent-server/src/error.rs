//! The server's error type, and the one place every layer's error becomes an
//! AWS error name.

use trent_proto::error::{ApiError, ErrorCode};

/// Anything a request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A domain rule was broken.
    #[error(transparent)]
    Core(#[from] trent_core::Error),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] trent_crypto::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] trent_store::Error),
    /// An error already in wire form (protocol and authentication errors).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The root key is sealed.
    #[error("Trent is sealed")]
    Sealed,
}

/// Shorthand for a wire error.
pub fn api(code: ErrorCode, message: impl Into<String>) -> ServerError {
    ServerError::Api(ApiError::new(code, message))
}

/// A `ValidationException` in AWS's phrasing.
pub fn validation(message: impl std::fmt::Display) -> ServerError {
    api(
        ErrorCode::Validation,
        format!("1 validation error detected: {message}"),
    )
}

impl ServerError {
    /// The AWS error this becomes on the wire. Internal details (store and
    /// crypto faults) are logged by the caller, not sent.
    pub fn to_api(&self) -> ApiError {
        use trent_core::Error as C;
        match self {
            ServerError::Api(e) => e.clone(),
            ServerError::Core(e) => {
                let code = match e {
                    C::Validation(_) => ErrorCode::Validation,
                    C::Disabled { .. } => ErrorCode::Disabled,
                    C::InvalidState { .. } => ErrorCode::KmsInvalidState,
                    C::NotFound(_) => ErrorCode::NotFound,
                    C::Unsupported(_) => ErrorCode::UnsupportedOperation,
                    C::InvalidKeyUsage(_) => ErrorCode::InvalidKeyUsage,
                    C::InvalidCiphertext => ErrorCode::InvalidCiphertext,
                    C::IncorrectKey => ErrorCode::IncorrectKey,
                    C::InvalidAliasName(_) => ErrorCode::InvalidAliasName,
                    C::NotAuthorized(_) => ErrorCode::NotAuthorized,
                    C::AlreadyExists(_) => ErrorCode::AlreadyExists,
                    C::InvalidArn(_) => ErrorCode::InvalidArn,
                    C::Tag(_) => ErrorCode::Tag,
                    C::LimitExceeded(_) => ErrorCode::LimitExceeded,
                    C::InvalidMarker(_) => ErrorCode::InvalidMarker,
                    C::MalformedPolicy(_) => ErrorCode::MalformedPolicyDocument,
                    C::InvalidSignature => ErrorCode::KmsInvalidSignature,
                    C::InvalidMac => ErrorCode::KmsInvalidMac,
                    C::InvalidImportToken => ErrorCode::InvalidImportToken,
                    C::ExpiredImportToken => ErrorCode::ExpiredImportToken,
                    C::IncorrectKeyMaterial => ErrorCode::IncorrectKeyMaterial,
                    _ => ErrorCode::KmsInternal,
                };
                ApiError::new(code, e.to_string())
            }
            // A decrypt failure is the caller's bad ciphertext; say nothing more.
            ServerError::Crypto(trent_crypto::Error::Decrypt) => ApiError::new(
                ErrorCode::InvalidCiphertext,
                trent_core::Error::InvalidCiphertext.to_string(),
            ),
            // A peer public key for key agreement is the caller's input.
            ServerError::Crypto(e @ trent_crypto::Error::PeerPublicKey) => {
                ApiError::new(ErrorCode::Validation, e.to_string())
            }
            // Imported material that does not fit the key spec is the caller's.
            ServerError::Crypto(e @ trent_crypto::Error::InvalidKeyMaterial(_)) => {
                ApiError::new(ErrorCode::Validation, e.to_string())
            }
            ServerError::Crypto(trent_crypto::Error::Hsm(e)) => hsm_error(e),
            ServerError::Crypto(_) => {
                ApiError::new(ErrorCode::KmsInternal, "An internal error occurred.")
            }
            ServerError::Store(trent_store::Error::Database(_)) => ApiError::new(
                ErrorCode::KmsInternal,
                "The key store is temporarily unavailable. The request can be retried.",
            ),
            ServerError::Store(_) => {
                ApiError::new(ErrorCode::KmsInternal, "An internal error occurred.")
            }
            ServerError::Sealed => ApiError::new(
                ErrorCode::ServiceUnavailable,
                "Trent is sealed: its root key is not available. Unseal it (see docs/OPERATIONS.md) and retry.",
            ),
        }
    }
}

/// A custom key store's HSM failed during a key operation: a disconnected
/// store or a vanished key object makes the key unusable (AWS's
/// `KMSInvalidStateException`); an HSM that does not answer is a retryable
/// internal error.
fn hsm_error(e: &trent_crypto::pkcs11::TokenError) -> ApiError {
    use trent_crypto::pkcs11::TokenError as T;
    match e {
        T::Disconnected => ApiError::new(
            ErrorCode::KmsInvalidState,
            "The key is unavailable because its custom key store is not connected.",
        ),
        T::ObjectNotFound => ApiError::new(
            ErrorCode::KmsInvalidState,
            "The key material of this key is missing from its custom key store's HSM.",
        ),
        other => ApiError::new(
            ErrorCode::KmsInternal,
            format!("The custom key store's HSM failed: {other}. The request can be retried."),
        ),
    }
}
