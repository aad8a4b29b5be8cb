//! The storage layer's error type.

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record to create already exists.
    #[error("already exists")]
    AlreadyExists,
    /// The record to change does not exist.
    #[error("not found")]
    NotFound,
    /// A concurrent update won; re-read and retry.
    #[error("concurrent update")]
    Conflict,
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The schema is newer than this binary understands.
    #[error("store schema version {found} is newer than this binary supports ({supported})")]
    SchemaTooNew {
        /// Version found in the store.
        found: i64,
        /// Highest version this binary knows.
        supported: i64,
    },
    /// The database failed (I/O error, disk full, locked too long, ...).
    /// Retryable from the client's point of view.
    #[error("database error: {0}")]
    Database(String),
}

/// Result with the storage error.
pub type Result<T> = std::result::Result<T, Error>;
