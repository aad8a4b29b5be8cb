//! The key backend seam. Each KMS key names the backend that holds its
//! material ([`trent_core::key::BackendRef`]); handlers talk only to these
//! traits, never to a particular backend. A PKCS#11 HSM or an external key
//! store is a new implementation of [`KeyBackend`], not a branch in a handler.
//!
//! A backend makes material for a (key spec, key usage) pair and loads a
//! stored version as a [`KeyVersion`]: one variant per key usage, each a trait
//! object with exactly the operations that usage allows. An HSM backend
//! returns its own implementations holding session handles; the handlers do
//! not change. Algorithm/spec pairing is checked by the domain
//! (`trent_core::spec`) before a handler calls in here; implementations still
//! refuse an algorithm they cannot perform with [`Error::Unsupported`].

use std::sync::Arc;

use trent_core::key::{KeySpec, KeyUsage};
use trent_core::spec::{EncryptionAlgorithm, MacAlgorithm, SigningAlgorithm};
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

/// A loaded key version, by what its key usage lets it do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyVersion {
    /// ENCRYPT_DECRYPT with SYMMETRIC_DEFAULT.
    Symmetric(Arc<dyn SymmetricKey>),
    /// GENERATE_VERIFY_MAC.
    Mac(Arc<dyn MacKey>),
    /// SIGN_VERIFY.
    Signing(Arc<dyn SigningKey>),
    /// ENCRYPT_DECRYPT with an asymmetric spec (RSA).
    Decrypting(Arc<dyn DecryptingKey>),
    /// KEY_AGREEMENT.
    Agreement(Arc<dyn AgreementKey>),
    /// ENCAPSULATE_DECAPSULATE.
    Kem(Arc<dyn KemKey>),
}

impl KeyVersion {
    /// The DER SubjectPublicKeyInfo, for asymmetric keys.
    pub fn public_key_der(&self) -> Option<&[u8]> {
        match self {
            Self::Symmetric(_) | Self::Mac(_) => None,
            Self::Signing(k) => Some(k.public_key_der()),
            Self::Decrypting(k) => Some(k.public_key_der()),
            Self::Agreement(k) => Some(k.public_key_der()),
            Self::Kem(k) => Some(k.public_key_der()),
        }
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
    /// Whether a call may block for long (a round trip to an HSM): callers
    /// on the async executor step off it first (the server's `off_executor`).
    fn blocks(&self) -> bool {
        false
    }
}

/// A loaded HMAC key.
pub trait MacKey: Send + Sync + std::fmt::Debug {
    /// The MAC of `message`.
    fn mac(&self, algorithm: MacAlgorithm, message: &[u8]) -> Result<Vec<u8>, Error>;
    /// Whether `mac` is the MAC of `message`, compared in constant time.
    fn verify(&self, algorithm: MacAlgorithm, message: &[u8], mac: &[u8]) -> Result<bool, Error>;
}

/// What a Sign or Verify `Message` holds, already checked against the
/// algorithm (lengths included) by `trent_core::spec::check_signing`.
#[derive(Debug, Clone, Copy)]
pub enum SignInput<'a> {
    /// The message; the algorithm hashes it.
    Raw(&'a [u8]),
    /// The digest of the message, made with the algorithm's hash. For
    /// ED25519_PH_SHA_512 these 64 bytes are Ed25519ph's message (AWS hashes
    /// them once more).
    Digest(&'a [u8]),
    /// ML-DSA's 64-byte external μ.
    ExternalMu(&'a [u8]),
}

/// A loaded signing key pair.
pub trait SigningKey: Send + Sync + std::fmt::Debug {
    /// The DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];
    /// Signs. ECDSA signatures are DER (X9.62), RSA and EdDSA raw.
    fn sign(&self, algorithm: SigningAlgorithm, input: SignInput<'_>) -> Result<Vec<u8>, Error>;
    /// Whether `signature` is valid. A malformed signature is `Ok(false)`.
    fn verify(
        &self,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
        signature: &[u8],
    ) -> Result<bool, Error>;
}

/// A loaded asymmetric encryption key pair (RSAES-OAEP).
pub trait DecryptingKey: Send + Sync + std::fmt::Debug {
    /// The DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];
    /// Encrypts with the public key. The plaintext length was checked by the
    /// domain (`trent_core::spec::check_oaep_plaintext`).
    fn encrypt(&self, algorithm: EncryptionAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>, Error>;
    /// Decrypts with the private key; any failure is [`Error::Decrypt`].
    fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// A loaded key agreement key pair (ECDH).
pub trait AgreementKey: Send + Sync + std::fmt::Debug {
    /// The DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];
    /// The raw ECDH shared secret (the x-coordinate) with the peer's DER
    /// SubjectPublicKeyInfo. A malformed key, or one on another curve, is
    /// [`Error::PeerPublicKey`].
    fn derive_shared_secret(&self, peer_public_key_der: &[u8])
    -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// The result of an encapsulation.
#[derive(Debug)]
pub struct Encapsulated {
    /// The ciphertext to send to the key's owner.
    pub ciphertext: Vec<u8>,
    /// The shared secret.
    pub shared_secret: Zeroizing<Vec<u8>>,
}

/// A loaded KEM key pair (ML-KEM).
pub trait KemKey: Send + Sync + std::fmt::Debug {
    /// The DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> &[u8];
    /// The ciphertext length this key accepts.
    fn ciphertext_len(&self) -> usize;
    /// Encapsulates a fresh shared secret to the public key.
    fn encapsulate(&self) -> Result<Encapsulated, Error>;
    /// Recovers the shared secret. A ciphertext of the wrong length is
    /// [`Error::Decrypt`]; any other ciphertext yields a (pseudo-random, by
    /// implicit rejection) secret.
    fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// Imported material as a backend keeps it.
#[derive(Debug)]
pub struct ImportedMaterial {
    /// What the store keeps (wrapped material, or an HSM handle).
    pub stored: Vec<u8>,
    /// The keyed fingerprint that recognises the same material later.
    pub fingerprint: [u8; 32],
}

/// Where key material is made, kept and used.
pub trait KeyBackend: Send + Sync + std::fmt::Debug {
    /// Creates material for a new version of a key of `spec` used for
    /// `usage`, and returns the bytes the store keeps for it (wrapped
    /// material, or a handle for an HSM).
    fn create_material(
        &self,
        root: &RootKey,
        owner: MaterialOwner<'_>,
        spec: KeySpec,
        usage: KeyUsage,
    ) -> Result<Vec<u8>, Error>;
    /// Accepts imported plaintext `material` for a version of a key of
    /// `spec` (raw bytes for symmetric and HMAC keys, DER PKCS#8 for
    /// asymmetric ones), checks it fits the spec, and returns what the store
    /// keeps with the material's fingerprint
    /// ([`crate::import::fingerprint`]). Material that does not fit is
    /// [`Error::InvalidKeyMaterial`]. A backend that cannot hold imported
    /// material (an HSM, until written) keeps this default: [`Error::Unsupported`].
    fn import_material(
        &self,
        root: &RootKey,
        owner: MaterialOwner<'_>,
        spec: KeySpec,
        usage: KeyUsage,
        material: &[u8],
    ) -> Result<ImportedMaterial, Error> {
        let _ = (root, owner, usage, material);
        Err(Error::Unsupported(format!(
            "importing key material for {spec} into this key store"
        )))
    }
    /// Loads a stored version for use.
    fn load(
        &self,
        root: &RootKey,
        owner: MaterialOwner<'_>,
        spec: KeySpec,
        usage: KeyUsage,
        stored: &[u8],
    ) -> Result<KeyVersion, Error>;
    /// Destroys a version's material where it lives (no-op when the store's
    /// deletion of the wrapped bytes is the destruction).
    fn destroy_material(&self, owner: MaterialOwner<'_>, stored: &[u8]) -> Result<(), Error>;
}
