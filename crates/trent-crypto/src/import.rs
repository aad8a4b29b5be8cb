//! The cryptography of importing key material: wrapping key pairs, unwrapping
//! what the caller encrypted with them (RSAES-OAEP, or RSAES-OAEP of an
//! ephemeral AES-256 key followed by RFC 5649 AES key wrap with padding),
//! the import token's MAC and the material fingerprint. Both MACs are
//! HMAC-SHA256 under keys derived from the root key with HKDF-SHA256, one
//! label each, so neither ever touches the root key's AES-GCM use. Formats:
//! `docs/FORMATS.md`.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::hkdf::{HKDF_SHA256, Prk};
use aws_lc_rs::hmac;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use trent_core::import::{WrappingAlgorithm, WrappingKeySpec};
use zeroize::Zeroizing;

use crate::Error;
use crate::root::RootKey;

const TOKEN_LABEL: &[u8] = b"trent/v1/import-token";
const FINGERPRINT_LABEL: &[u8] = b"trent/v1/import-fingerprint";
const AES_KEY_LEN: usize = 32;

/// A fresh wrapping key pair.
pub struct WrappingKeyPair {
    /// The private key, DER PKCS#8 v1.
    pub private_key_pkcs8: Zeroizing<Vec<u8>>,
    /// The public key, DER SubjectPublicKeyInfo (what `PublicKey` carries).
    pub public_key_der: Vec<u8>,
}

impl std::fmt::Debug for WrappingKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrappingKeyPair(..)")
    }
}

/// Generates an RSA wrapping key pair of `spec`.
pub fn generate_wrapping_key(spec: WrappingKeySpec) -> Result<WrappingKeyPair, Error> {
    let size = match spec {
        WrappingKeySpec::Rsa2048 => KeySize::Rsa2048,
        WrappingKeySpec::Rsa3072 => KeySize::Rsa3072,
        WrappingKeySpec::Rsa4096 => KeySize::Rsa4096,
        WrappingKeySpec::Sm2 => return Err(Error::Unsupported("SM2 wrapping keys".into())),
    };
    let private = PrivateDecryptingKey::generate(size).map_err(|_| Error::KeyGeneration)?;
    let pkcs8: Pkcs8V1Der<'static> = private.as_der().map_err(|_| Error::KeyGeneration)?;
    let public = private
        .public_key()
        .as_der()
        .map_err(|_| Error::KeyGeneration)?;
    Ok(WrappingKeyPair {
        private_key_pkcs8: Zeroizing::new(pkcs8.as_ref().to_vec()),
        public_key_der: public.as_ref().to_vec(),
    })
}

/// Recovers key material the caller encrypted for the wrapping key
/// `private_key_pkcs8` with `algorithm`. Every failure is [`Error::Decrypt`].
pub fn unwrap_material(
    private_key_pkcs8: &[u8],
    algorithm: WrappingAlgorithm,
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let private =
        PrivateDecryptingKey::from_pkcs8(private_key_pkcs8).map_err(|_| Error::Decrypt)?;
    let oaep = OaepPrivateDecryptingKey::new(private).map_err(|_| Error::Decrypt)?;
    let hash = match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => {
            &OAEP_SHA1_MGF1SHA1
        }
        WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            &OAEP_SHA256_MGF1SHA256
        }
        other => return Err(Error::Unsupported(format!("wrapping algorithm {other}"))),
    };
    let modulus_len = oaep.key_size_bytes();
    let (rsa_part, kwp_part) = if algorithm.uses_aes_key_wrap() {
        if encrypted.len() <= modulus_len {
            return Err(Error::Decrypt);
        }
        encrypted.split_at(modulus_len)
    } else {
        (encrypted, &[][..])
    };
    if rsa_part.len() != modulus_len {
        return Err(Error::Decrypt);
    }
    let mut buf = Zeroizing::new(vec![0u8; modulus_len]);
    let len = oaep
        .decrypt(hash, rsa_part, &mut buf, None)
        .map_err(|_| Error::Decrypt)?
        .len();
    buf.truncate(len);
    if !algorithm.uses_aes_key_wrap() {
        return Ok(buf);
    }
    if buf.len() != AES_KEY_LEN {
        return Err(Error::Decrypt);
    }
    let kek = AesKek::new(&AES_256, &buf).map_err(|_| Error::Decrypt)?;
    let mut out = Zeroizing::new(vec![0u8; kwp_part.len()]);
    let len = kek
        .unwrap_with_padding(kwp_part, &mut out)
        .map_err(|_| Error::Decrypt)?
        .len();
    out.truncate(len);
    Ok(out)
}

/// HMAC-SHA256 of `parts` under the key `HKDF-SHA256(IKM = root, info =
/// label)` (no salt).
fn root_mac(root: &RootKey, label: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], Error> {
    let prk = aws_lc_rs::hkdf::Salt::new(HKDF_SHA256, &[]).extract(root.expose_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    expand(&prk, label, key.as_mut())?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_ref());
    let mut ctx = hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    Ok(out)
}

fn expand(prk: &Prk, label: &[u8], out: &mut [u8]) -> Result<(), Error> {
    struct Len(usize);
    impl aws_lc_rs::hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let info = [label];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| Error::Encrypt)
}

/// The MAC that authenticates an import token's body.
pub fn token_mac(root: &RootKey, body: &[u8]) -> Result<[u8; 32], Error> {
    root_mac(root, TOKEN_LABEL, &[body])
}

/// Whether `mac` authenticates `body`, compared in constant time.
pub fn verify_token_mac(root: &RootKey, body: &[u8], mac: &[u8]) -> Result<bool, Error> {
    Ok(crate::constant_time_eq(&token_mac(root, body)?, mac))
}

/// The fingerprint of imported material for the key `key_arn`: a keyed MAC,
/// never a plain hash, so it reveals nothing about the material. `basis` is
/// the raw material of symmetric and HMAC keys and the public key of
/// asymmetric ones (the same private key in another PKCS#8 encoding is the
/// same material).
pub fn fingerprint(root: &RootKey, key_arn: &str, basis: &[u8]) -> Result<[u8; 32], Error> {
    root_mac(root, FINGERPRINT_LABEL, &[key_arn.as_bytes(), basis])
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};

    use super::*;

    fn encrypt_oaep(spki: &[u8], sha256: bool, data: &[u8]) -> Vec<u8> {
        let public = PublicEncryptingKey::from_der(spki).unwrap();
        let oaep = OaepPublicEncryptingKey::new(public).unwrap();
        let mut out = vec![0u8; oaep.ciphertext_size()];
        let alg = if sha256 {
            &OAEP_SHA256_MGF1SHA256
        } else {
            &OAEP_SHA1_MGF1SHA1
        };
        oaep.encrypt(alg, data, &mut out, None).unwrap().to_vec()
    }

    #[test]
    fn unwraps_both_procedures_and_rejects_tampering() {
        let pair = generate_wrapping_key(WrappingKeySpec::Rsa2048).unwrap();
        let material = [0x42u8; 32];
        let direct = encrypt_oaep(&pair.public_key_der, true, &material);
        let got = unwrap_material(
            &pair.private_key_pkcs8,
            WrappingAlgorithm::RsaesOaepSha256,
            &direct,
        )
        .unwrap();
        assert_eq!(got.as_slice(), material);
        assert_eq!(
            unwrap_material(
                &pair.private_key_pkcs8,
                WrappingAlgorithm::RsaesOaepSha1,
                &direct
            ),
            Err(Error::Decrypt)
        );

        let aes = [0x11u8; 32];
        let long = vec![0x5au8; 121];
        let kek = AesKek::new(&AES_256, &aes).unwrap();
        let mut wrapped = vec![0u8; long.len() + 16];
        let wrapped = kek.wrap_with_padding(&long, &mut wrapped).unwrap().to_vec();
        let mut blob = encrypt_oaep(&pair.public_key_der, false, &aes);
        blob.extend_from_slice(&wrapped);
        let got = unwrap_material(
            &pair.private_key_pkcs8,
            WrappingAlgorithm::RsaAesKeyWrapSha1,
            &blob,
        )
        .unwrap();
        assert_eq!(got.as_slice(), long.as_slice());
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert_eq!(
            unwrap_material(
                &pair.private_key_pkcs8,
                WrappingAlgorithm::RsaAesKeyWrapSha1,
                &blob
            ),
            Err(Error::Decrypt)
        );
    }

    #[test]
    fn macs_are_keyed_and_separated() {
        let root = RootKey::generate().unwrap();
        let other = RootKey::generate().unwrap();
        let mac = token_mac(&root, b"body").unwrap();
        assert!(verify_token_mac(&root, b"body", &mac).unwrap());
        assert!(!verify_token_mac(&root, b"bodz", &mac).unwrap());
        assert!(!verify_token_mac(&other, b"body", &mac).unwrap());
        assert_ne!(fingerprint(&root, "", b"body").unwrap(), mac);
        assert_ne!(
            fingerprint(&root, "arn:a", b"m").unwrap(),
            fingerprint(&root, "arn:b", b"m").unwrap()
        );
    }
}
