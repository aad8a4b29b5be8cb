//! AWS error names, defined once. Every layer's error is mapped to one of
//! these at the server's edge.

macro_rules! error_codes {
    ($($(#[$m:meta])* $variant:ident = ($name:literal, $status:literal)),+ $(,)?) => {
        /// An AWS error name (the `__type` of an error body).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$m])* $variant),+
        }
        impl ErrorCode {
            /// The name on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
            /// The HTTP status: 400 for client errors, 500 for faults.
            pub fn status(self) -> u16 {
                match self { $(Self::$variant => $status),+ }
            }
            /// Every code, for tests and metrics.
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),+];
        }
    };
}

error_codes! {
    /// Caller lacks permission.
    AccessDenied = ("AccessDeniedException", 400),
    /// A resource with that name exists.
    AlreadyExists = ("AlreadyExistsException", 400),
    /// The key is disabled.
    Disabled = ("DisabledException", 400),
    /// DryRun succeeded.
    DryRunOperation = ("DryRunOperationException", 412),
    /// The ciphertext was made under another key.
    IncorrectKey = ("IncorrectKeyException", 400),
    /// The Authorization header is malformed.
    IncompleteSignature = ("IncompleteSignatureException", 400),
    /// An alias name is invalid.
    InvalidAliasName = ("InvalidAliasNameException", 400),
    /// An ARN is invalid.
    InvalidArn = ("InvalidArnException", 400),
    /// The ciphertext is invalid.
    InvalidCiphertext = ("InvalidCiphertextException", 400),
    /// An import token is invalid, or for another key.
    InvalidImportToken = ("InvalidImportTokenException", 400),
    /// An import token has expired.
    ExpiredImportToken = ("ExpiredImportTokenException", 400),
    /// Imported key material differs from the key's original material.
    IncorrectKeyMaterial = ("IncorrectKeyMaterialException", 400),
    /// A grant token is invalid.
    InvalidGrantToken = ("InvalidGrantTokenException", 400),
    /// The key usage does not allow the operation.
    InvalidKeyUsage = ("InvalidKeyUsageException", 400),
    /// The marker is invalid.
    InvalidMarker = ("InvalidMarkerException", 400),
    /// The signature does not match.
    InvalidSignature = ("InvalidSignatureException", 400),
    /// An internal fault.
    KmsInternal = ("KMSInternalException", 500),
    /// The key's state does not allow the operation.
    KmsInvalidState = ("KMSInvalidStateException", 400),
    /// Verify: the signature does not match.
    KmsInvalidSignature = ("KMSInvalidSignatureException", 400),
    /// VerifyMac: the MAC does not match.
    KmsInvalidMac = ("KMSInvalidMacException", 400),
    /// A limit was reached.
    LimitExceeded = ("LimitExceededException", 400),
    /// A policy document is malformed.
    MalformedPolicyDocument = ("MalformedPolicyDocumentException", 400),
    /// No Authorization header.
    MissingAuthenticationToken = ("MissingAuthenticationTokenException", 403),
    /// The caller may not do this.
    NotAuthorized = ("NotAuthorizedException", 400),
    /// The key or alias does not exist.
    NotFound = ("NotFoundException", 400),
    /// The body is not valid JSON.
    Serialization = ("SerializationException", 400),
    /// The request body is too large.
    RequestEntityTooLarge = ("RequestEntityTooLargeException", 413),
    /// The request did not arrive in time (a slow body); retryable.
    RequestTimeout = ("RequestTimeoutException", 408),
    /// A tag is invalid.
    Tag = ("TagException", 400),
    /// Too many requests.
    Throttling = ("ThrottlingException", 400),
    /// The access key is not known.
    UnrecognizedClient = ("UnrecognizedClientException", 400),
    /// The operation is not known.
    UnknownOperation = ("UnknownOperationException", 400),
    /// The operation is not supported for this key.
    UnsupportedOperation = ("UnsupportedOperationException", 400),
    /// A field broke a constraint.
    Validation = ("ValidationException", 400),
    /// The service cannot answer now (e.g. sealed).
    ServiceUnavailable = ("ServiceUnavailableException", 503),
    /// A custom key store with that name exists.
    CustomKeyStoreNameInUse = ("CustomKeyStoreNameInUseException", 400),
    /// The custom key store's connection state does not allow the operation.
    CustomKeyStoreInvalidState = ("CustomKeyStoreInvalidStateException", 400),
    /// The custom key store does not exist.
    CustomKeyStoreNotFound = ("CustomKeyStoreNotFoundException", 400),
    /// The custom key store still holds KMS keys.
    CustomKeyStoreHasCmks = ("CustomKeyStoreHasCMKsException", 400),
    /// No HSM is configured under that `CloudHsmClusterId`.
    CloudHsmClusterNotFound = ("CloudHsmClusterNotFoundException", 400),
    /// The HSM is already bound to another custom key store.
    CloudHsmClusterInUse = ("CloudHsmClusterInUseException", 400),
}

/// An error ready to send: the AWS name and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The AWS error name.
    pub code: ErrorCode,
    /// The message, free of secrets.
    pub message: String,
}

impl ApiError {
    /// An error with a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The JSON body: `{"__type": "...", "message": "..."}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"__type": self.code.as_str(), "message": self.message}),
        )
        .unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::sigv4::SigV4Error> for ApiError {
    fn from(e: crate::sigv4::SigV4Error) -> Self {
        let code = match e.aws_error_name() {
            "MissingAuthenticationTokenException" => ErrorCode::MissingAuthenticationToken,
            "IncompleteSignatureException" => ErrorCode::IncompleteSignature,
            _ => ErrorCode::InvalidSignature,
        };
        ApiError::new(code, e.to_string())
    }
}
