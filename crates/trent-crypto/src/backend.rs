//! The key backend seam. Each KMS key names the backend that holds its
//! material ([`trent_core::key::BackendRef`]); handlers talk only to these
//! traits, never to a particular backend. A PKCS#11 HSM or an external key
//! store is a new implementation of [`KeyBackend`], not a branch in a handler.

use std::sync::Arc;

use trent_core::key::KeySpec;
use zeroize::Zeroizing;

use crate::Error;
use crate::root::RootKey;

/// Which key version a stored material blob belongs to; bound to the blob as
/// associated data so it cannot be moved to another key or version.
#[derive(Debug, Clone, Copy)]
pub struct MaterialOwner<'a> {
    /// The key's ARN.
    pub key_arn: &'a str,
    /// The material id (64 hex characters).
    pub material_id: &'a str,
}

impl MaterialOwner<'_> {
    /// The associated data: `"trent/material/v1\0" ‖ arn ‖ "\0" ‖ material id`.
    pub fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(20 + self.key_arn.len() + self.material_id.len());
        aad.extend_from_slice(b"trent/material/v1\0");
        aad.extend_from_slice(self.key_arn.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.material_id.as_bytes());
        aad
    }
}

/// A loaded symmetric key version, ready to encrypt and decrypt.
pub trait SymmetricKey: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext`. `salt` is 32 fresh random bytes that travel in
    /// the ciphertext header; `aad` is authenticated but not encrypted.
    /// Returns ciphertext ‖ tag.
    fn encrypt(&self, salt: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error>;
    /// Inverse of [`SymmetricKey::encrypt`]; any mismatch is [`Error::Decrypt`].
    fn decrypt(
        &self,
        salt: &[u8; 32],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// Where key material is made, kept and used.
pub trait KeyBackend: Send + Sync + std::fmt::Debug {
    /// Creates material for a new key version and returns the bytes the store
    /// keeps for it (wrapped material, or a handle for an HSM).
    fn create_material(
        &self,
        root: &RootKey,
        owner: MaterialOwner<'_>,
        spec: KeySpec,
    ) -> Result<Vec<u8>, Error>;
    /// Loads a stored version of a symmetric key for use.
    fn load_symmetric(
        &self,
        root: &RootKey,
        owner: MaterialOwner<'_>,
        stored: &[u8],
    ) -> Result<Arc<dyn SymmetricKey>, Error>;
    /// Destroys a version's material where it lives (no-op when the store's
    /// deletion of the wrapped bytes is the destruction).
    fn destroy_material(&self, owner: MaterialOwner<'_>, stored: &[u8]) -> Result<(), Error>;
}
