//! PKCS#11 HSMs (through `cryptoki`; SoftHSM2 in tests): the key backend of
//! custom key stores and the HSM seal of the root key. See `docs/HSM.md` for
//! how the AWS CloudHSM key store API maps onto a token, and SoftHSM's
//! limits.
//!
//! - [`token`] — a logged-in token: one context per module and process,
//!   pooled sessions, a deadline on every call.
//! - [`key`] — [`Pkcs11Backend`], the [`crate::backend::KeyBackend`] of one
//!   custom key store: AES-256 keys generated in the token, AES-GCM inside it.
//! - [`seal`] — [`Pkcs11Seal`], the root key wrapped by a key in the token.

pub mod key;
pub mod seal;
pub mod token;

pub use key::{Connection, Pkcs11Backend, key_protection};
pub use seal::{DEFAULT_SEAL_KEY_LABEL, Pkcs11Seal};
pub use token::{HsmConfig, Token, TokenError};
