//! The AWS KMS wire protocol as Trent speaks it: JSON 1.1 request and
//! response bodies, the AWS error names, and SigV4 verification. This crate
//! never sees key material in the clear beyond the bytes of a request or
//! response body it decodes or encodes.
//!
//! - [`error`] — [`error::ErrorCode`], the AWS error names and HTTP statuses.
//! - [`json`] — decoding request bodies with AWS-style errors.
//! - [`ops`] — request and response shapes of the operations.
//! - [`sigv4`] — Signature Version 4 verification.

#![warn(missing_docs)]

pub mod error;
pub mod json;
pub mod ops;
pub mod sigv4;
