//! RSA encryption key pairs: RSAES-OAEP with SHA-1 or SHA-256 (MGF1 with
//! the same hash, empty label), as KMS defines RSAES_OAEP_SHA_1/256.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use trent_core::key::KeySpec;
use trent_core::spec::EncryptionAlgorithm;
use zeroize::Zeroizing;

use crate::Error;
use crate::backend::DecryptingKey;

fn oaep(algorithm: EncryptionAlgorithm) -> Result<&'static OaepAlgorithm, Error> {
    match algorithm {
        EncryptionAlgorithm::RsaesOaepSha1 => Ok(&OAEP_SHA1_MGF1SHA1),
        EncryptionAlgorithm::RsaesOaepSha256 => Ok(&OAEP_SHA256_MGF1SHA256),
        other => Err(Error::Unsupported(format!("{other} with an RSA key"))),
    }
}

/// An RSA key pair for RSAES-OAEP, held by aws-lc-rs.
pub(super) struct RsaOaepKey {
    private: OaepPrivateDecryptingKey,
    public: OaepPublicEncryptingKey,
    public_key_der: Vec<u8>,
    modulus_len: usize,
}

impl std::fmt::Debug for RsaOaepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaOaepKey({} bits, ..)", self.modulus_len * 8)
    }
}

impl RsaOaepKey {
    /// Loads a PKCS#8 RSA private key of `spec`.
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<Self, Error> {
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8)
            .map_err(|_| Error::Format("RSA private key"))?;
        let modulus_len = private.key_size_bytes();
        if Some(modulus_len) != spec.rsa_modulus_len() {
            return Err(Error::Format("RSA key of another size"));
        }
        let public = private.public_key();
        let public_key_der = public
            .as_der()
            .map_err(|_| Error::Format("RSA public key"))?
            .as_ref()
            .to_vec();
        Ok(Self {
            private: OaepPrivateDecryptingKey::new(private)
                .map_err(|_| Error::Format("RSA private key"))?,
            public: OaepPublicEncryptingKey::new(public)
                .map_err(|_| Error::Format("RSA public key"))?,
            public_key_der,
            modulus_len,
        })
    }
}

impl DecryptingKey for RsaOaepKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn encrypt(&self, algorithm: EncryptionAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = vec![0u8; self.public.ciphertext_size()];
        let len = self
            .public
            .encrypt(oaep(algorithm)?, plaintext, &mut out, None)
            .map_err(|_| Error::Encrypt)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    fn decrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let algorithm = oaep(algorithm).map_err(|_| Error::Decrypt)?;
        if ciphertext.len() != self.modulus_len {
            return Err(Error::Decrypt);
        }
        let mut out = Zeroizing::new(vec![0u8; self.private.min_output_size()]);
        let len = self
            .private
            .decrypt(algorithm, ciphertext, &mut out, None)
            .map_err(|_| Error::Decrypt)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::software::generate_key_pair;

    #[test]
    fn round_trip_and_tamper() {
        let pair = generate_key_pair(KeySpec::Rsa2048).unwrap();
        let key = RsaOaepKey::from_pkcs8(KeySpec::Rsa2048, &pair.private_key_pkcs8).unwrap();
        assert_eq!(key.public_key_der(), pair.public_key_spki.as_slice());
        assert!(RsaOaepKey::from_pkcs8(KeySpec::Rsa3072, &pair.private_key_pkcs8).is_err());
        for alg in [
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ] {
            let ct = key.encrypt(alg, b"attack at dawn").unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(key.decrypt(alg, &ct).unwrap().as_slice(), b"attack at dawn");
            let mut bad = ct.clone();
            bad[10] ^= 1;
            assert_eq!(key.decrypt(alg, &bad), Err(Error::Decrypt));
            assert_eq!(key.decrypt(alg, &ct[1..]), Err(Error::Decrypt));
        }
        let ct = key
            .encrypt(EncryptionAlgorithm::RsaesOaepSha1, b"x")
            .unwrap();
        assert_eq!(
            key.decrypt(EncryptionAlgorithm::RsaesOaepSha256, &ct),
            Err(Error::Decrypt)
        );
        assert_eq!(
            key.decrypt(EncryptionAlgorithm::SymmetricDefault, &ct),
            Err(Error::Decrypt)
        );
        // The longest plaintext AWS allows (k - 2·hLen - 2) encrypts.
        assert!(
            key.encrypt(EncryptionAlgorithm::RsaesOaepSha256, &[1u8; 190])
                .is_ok()
        );
        assert!(
            key.encrypt(EncryptionAlgorithm::RsaesOaepSha256, &[1u8; 191])
                .is_err()
        );
    }
}
