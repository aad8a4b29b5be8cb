//! The audit log's error type.

/// Anything the audit log can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file in the audit directory could not be read or written.
    #[error("audit log I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The log is not accepting records (a write or fsync failed, or it was
    /// closed); requests must fail closed.
    #[error("the audit log cannot be written: {0}")]
    Unavailable(String),
    /// The store failed while reading or writing the log's keys or checkpoint.
    #[error(transparent)]
    Store(#[from] trent_store::Error),
    /// A cryptographic operation failed (wrapping, signing, sealing).
    #[error(transparent)]
    Crypto(#[from] trent_crypto::Error),
    /// A stored value or file is not in the format this version writes.
    #[error("malformed audit data: {0}")]
    Format(String),
    /// A record could not be encoded.
    #[error("audit record encoding: {0}")]
    Encode(#[from] serde_json::Error),
    /// A setting is out of range.
    #[error("invalid audit setting: {0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The audit log's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
