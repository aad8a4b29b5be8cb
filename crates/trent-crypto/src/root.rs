//! The root key: 256 bits that wrap every stored secret (key material,
//! credential secrets) with AES-256-GCM. It exists in the clear only in
//! memory, zeroized on drop.
//!
//! Wrapped blob: `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, with caller
//! supplied associated data binding the blob to its owner (e.g. key ARN and
//! material id), so a blob cannot be moved to another record.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::{Error, random_bytes};

const WRAP_V1: u8 = 0x01;
const TAG_LEN: usize = 16;

/// The root key.
pub struct RootKey {
    bytes: Zeroizing<[u8; 32]>,
    aead: LessSafeKey,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

impl RootKey {
    /// A fresh random root key.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random_bytes(bytes.as_mut())?;
        Self::from_bytes(bytes)
    }

    /// A root key from its 32 bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Result<Self, Error> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes.as_ref()).map_err(|_| Error::Format("root key"))?;
        Ok(Self {
            bytes,
            aead: LessSafeKey::new(unbound),
        })
    }

    /// The raw bytes, for a seal to protect.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Wraps a secret, binding `aad` to it.
    pub fn wrap(&self, aad: &[u8], secret: &[u8]) -> Result<Vec<u8>, Error> {
        seal_with(&self.aead, WRAP_V1, aad, secret)
    }

    /// Unwraps a secret wrapped with the same `aad`.
    pub fn unwrap(&self, aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        open_with(&self.aead, WRAP_V1, aad, blob)
    }
}

/// `version ‖ nonce ‖ ciphertext ‖ tag` under `key`, with a random nonce.
pub(crate) fn seal_with(
    key: &LessSafeKey,
    version: u8,
    aad: &[u8],
    secret: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    random_bytes(&mut nonce)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + secret.len() + TAG_LEN);
    out.push(version);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(secret);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[1 + NONCE_LEN..],
        )
        .map_err(|_| Error::Encrypt)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Inverse of [`seal_with`].
pub(crate) fn open_with(
    key: &LessSafeKey,
    version: u8,
    aad: &[u8],
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != version {
        return Err(Error::Decrypt);
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[1..1 + NONCE_LEN]);
    let mut buf = Zeroizing::new(blob[1 + NONCE_LEN..].to_vec());
    let len = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            buf.as_mut_slice(),
        )
        .map_err(|_| Error::Decrypt)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_binds_aad_and_detects_tampering() {
        let root = RootKey::generate().unwrap();
        let blob = root.wrap(b"key-a", b"secret").unwrap();
        assert_eq!(root.unwrap(b"key-a", &blob).unwrap().as_slice(), b"secret");
        assert_eq!(root.unwrap(b"key-b", &blob), Err(Error::Decrypt));
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            assert!(root.unwrap(b"key-a", &bad).is_err(), "flip at {i} accepted");
        }
        let other = RootKey::generate().unwrap();
        assert!(other.unwrap(b"key-a", &blob).is_err());
        assert!(!format!("{root:?}").contains("secret"));
    }
}
