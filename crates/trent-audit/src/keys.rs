//! The audit log's two service-owned keys, both random and stored in the
//! store's `meta` table wrapped under the root key (each with its own
//! associated data, so neither blob opens as anything else):
//!
//! - the **record key** (AES-256-GCM) that encrypts every record at rest;
//! - the **checkpoint signing key** (Ed25519) that signs checkpoints. Its
//!   public key is what operators export (`trent audit public-key`) to
//!   verify a log without trusting the machine it was written on.
//!
//! Neither is reachable through the KMS API: they are not KMS keys.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use trent_crypto::root::RootKey;
use trent_store::Store;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Meta entry of the wrapped record key.
pub const RECORD_KEY_META: &str = "audit.record_key";
/// Meta entry of the wrapped checkpoint signing key (PKCS#8).
pub const SIGNING_KEY_META: &str = "audit.signing_key";
const RECORD_KEY_AAD: &[u8] = b"trent/audit/record-key/v1";
const SIGNING_KEY_AAD: &[u8] = b"trent/audit/signing-key/v1";

/// Length of a checkpoint signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of the AES-GCM tag after each record.
pub const TAG_LEN: usize = 16;

/// The audit log's keys, unwrapped.
pub struct AuditKeys {
    record: LessSafeKey,
    signing: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKeys")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl AuditKeys {
    /// Reads the keys from the store, creating and storing them first if the
    /// store has none. Safe when several processes start at once: only one
    /// pair is ever stored, and everyone uses that one.
    pub fn load_or_create(store: &dyn Store, root: &RootKey) -> Result<Self> {
        let record = load_or_create_secret(store, root, RECORD_KEY_META, RECORD_KEY_AAD, || {
            let mut key = Zeroizing::new(vec![0u8; 32]);
            trent_crypto::random_bytes(&mut key)?;
            Ok(key)
        })?;
        let signing =
            load_or_create_secret(store, root, SIGNING_KEY_META, SIGNING_KEY_AAD, || {
                let pair = Ed25519KeyPair::generate().map_err(|_| trent_crypto::Error::Rng)?;
                let doc = pair
                    .to_pkcs8()
                    .map_err(|_| Error::Format("signing key export".into()))?;
                Ok(Zeroizing::new(doc.as_ref().to_vec()))
            })?;
        Self::from_secrets(&record, &signing)
    }

    /// Reads the keys if the store has them (the CLI never creates them).
    pub fn load(store: &dyn Store, root: &RootKey) -> Result<Option<Self>> {
        let (Some(record), Some(signing)) = (
            store.get_meta(RECORD_KEY_META)?,
            store.get_meta(SIGNING_KEY_META)?,
        ) else {
            return Ok(None);
        };
        let record = root.unwrap(RECORD_KEY_AAD, &record)?;
        let signing = root.unwrap(SIGNING_KEY_AAD, &signing)?;
        Self::from_secrets(&record, &signing).map(Some)
    }

    fn from_secrets(record: &[u8], signing_pkcs8: &[u8]) -> Result<Self> {
        let record = UnboundKey::new(&AES_256_GCM, record)
            .map_err(|_| Error::Format("audit record key".into()))?;
        let signing = Ed25519KeyPair::from_pkcs8(signing_pkcs8)
            .map_err(|_| Error::Format("audit signing key".into()))?;
        Ok(Self {
            record: LessSafeKey::new(record),
            signing,
        })
    }

    /// The checkpoint verification key.
    pub fn public_key(&self) -> PublicKey {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.signing.public_key().as_ref());
        PublicKey(raw)
    }

    /// Signs a checkpoint message.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.signing.sign(message).as_ref());
        out
    }

    /// Encrypts a record in place, appending the tag.
    pub(crate) fn seal(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        data: &mut Vec<u8>,
    ) -> Result<()> {
        self.record
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), data)
            .map_err(|_| Error::Crypto(trent_crypto::Error::Encrypt))
    }

    /// Decrypts a record (`ciphertext ‖ tag`); `None` if it does not
    /// authenticate.
    pub(crate) fn open(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Option<Vec<u8>> {
        let mut buf = sealed.to_vec();
        let len = self
            .record
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .ok()?
            .len();
        buf.truncate(len);
        Some(buf)
    }
}

fn load_or_create_secret(
    store: &dyn Store,
    root: &RootKey,
    name: &str,
    aad: &[u8],
    generate: impl FnOnce() -> Result<Zeroizing<Vec<u8>>>,
) -> Result<Zeroizing<Vec<u8>>> {
    if let Some(wrapped) = store.get_meta(name)? {
        return Ok(root.unwrap(aad, &wrapped)?);
    }
    let secret = generate()?;
    let wrapped = root.wrap(aad, &secret)?;
    if store.put_meta_if_absent(name, &wrapped)? {
        return Ok(secret);
    }
    let wrapped = store
        .get_meta(name)?
        .ok_or_else(|| Error::Format(format!("{name} vanished")))?;
    Ok(root.unwrap(aad, &wrapped)?)
}

/// An Ed25519 checkpoint verification key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl PublicKey {
    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }

    /// SubjectPublicKeyInfo, PEM-encoded (`-----BEGIN PUBLIC KEY-----`), as
    /// `openssl pkey -pubin` reads it.
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        let b64 = STANDARD.encode(&der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    /// Reads what [`PublicKey::to_pem`] wrote.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let body: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| Error::Format("public key PEM".into()))?;
        match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(raw) if raw.len() == 32 => {
                let mut key = [0u8; 32];
                key.copy_from_slice(raw);
                Ok(PublicKey(key))
            }
            _ => Err(Error::Format("not an Ed25519 public key".into())),
        }
    }

    /// SHA-256 of the raw key, hex, first 16 bytes: for humans to compare.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.0);
        digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Keys for unit tests.
#[cfg(test)]
pub(crate) fn test_keys() -> AuditKeys {
    let pair = Ed25519KeyPair::generate().unwrap();
    AuditKeys::from_secrets(&[7u8; 32], pair.to_pkcs8().unwrap().as_ref()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_pem_round_trips_and_verifies() {
        let keys = test_keys();
        let pk = keys.public_key();
        let pem = pk.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), pk);
        let sig = keys.sign(b"hello");
        assert!(pk.verify(b"hello", &sig));
        assert!(!pk.verify(b"hellO", &sig));
        assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END").is_err());
    }

    #[test]
    fn seal_binds_aad() {
        let keys = test_keys();
        let mut data = b"record".to_vec();
        keys.seal([1; 12], b"aad", &mut data).unwrap();
        assert_eq!(keys.open([1; 12], b"aad", &data).unwrap(), b"record");
        assert!(keys.open([1; 12], b"aaD", &data).is_none());
        assert!(keys.open([2; 12], b"aad", &data).is_none());
    }
}
