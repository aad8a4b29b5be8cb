//! Generating asymmetric key pairs as DER: the private key as PKCS#8 v1, the
//! public key as SubjectPublicKeyInfo. Used for the material of new KMS keys
//! and for GenerateDataKeyPair.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, PqdsaKeyPair,
};
use trent_core::key::KeySpec;
use zeroize::Zeroizing;

use super::kem;
use super::signing::{ecdsa_signing_algorithm, ml_dsa_signing_algorithm};
use crate::Error;

/// A key pair as DER. The private key is wiped when dropped.
pub struct KeyPairDer {
    /// The private key, DER PKCS#8 v1 (RFC 5208). ML-KEM keys are in the seed
    /// form of RFC 9935 (the same length for every parameter set).
    pub private_key_pkcs8: Zeroizing<Vec<u8>>,
    /// The public key, DER SubjectPublicKeyInfo (RFC 5280).
    pub public_key_spki: Vec<u8>,
}

impl std::fmt::Debug for KeyPairDer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairDer")
            .field("public_key_spki", &self.public_key_spki)
            .finish_non_exhaustive()
    }
}

/// Generates a key pair of an asymmetric `spec`. RSA generation takes
/// hundreds of milliseconds (RSA-4096 seconds): call it off the async
/// executor.
pub fn generate_key_pair(spec: KeySpec) -> Result<KeyPairDer, Error> {
    match spec {
        KeySpec::Rsa2048 => rsa(KeySize::Rsa2048),
        KeySpec::Rsa3072 => rsa(KeySize::Rsa3072),
        KeySpec::Rsa4096 => rsa(KeySize::Rsa4096),
        KeySpec::EccNistP256
        | KeySpec::EccNistP384
        | KeySpec::EccNistP521
        | KeySpec::EccSecgP256k1 => ecdsa(ecdsa_signing_algorithm(spec)?),
        KeySpec::EccNistEdwards25519 => ed25519(),
        KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => {
            ml_dsa(ml_dsa_signing_algorithm(spec)?)
        }
        KeySpec::MlKem512 | KeySpec::MlKem768 | KeySpec::MlKem1024 => kem::generate(spec),
        _ => Err(Error::Unsupported(format!("key pairs of key spec {spec}"))),
    }
}

fn rsa(size: KeySize) -> Result<KeyPairDer, Error> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| Error::KeyGeneration)?;
    let private: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| Error::KeyGeneration)?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| Error::KeyGeneration)?;
    Ok(KeyPairDer {
        private_key_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
        public_key_spki: public.as_ref().to_vec(),
    })
}

fn ecdsa(algorithm: &'static EcdsaSigningAlgorithm) -> Result<KeyPairDer, Error> {
    let pair = EcdsaKeyPair::generate(algorithm).map_err(|_| Error::KeyGeneration)?;
    let private = pair.to_pkcs8v1().map_err(|_| Error::KeyGeneration)?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| Error::KeyGeneration)?;
    Ok(KeyPairDer {
        private_key_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
        public_key_spki: public.as_ref().to_vec(),
    })
}

fn ed25519() -> Result<KeyPairDer, Error> {
    let pair = Ed25519KeyPair::generate().map_err(|_| Error::KeyGeneration)?;
    let private = pair.to_pkcs8v1().map_err(|_| Error::KeyGeneration)?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| Error::KeyGeneration)?;
    Ok(KeyPairDer {
        private_key_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
        public_key_spki: public.as_ref().to_vec(),
    })
}

fn ml_dsa(algorithm: &'static signature::PqdsaSigningAlgorithm) -> Result<KeyPairDer, Error> {
    let pair = PqdsaKeyPair::generate(algorithm).map_err(|_| Error::KeyGeneration)?;
    let private = pair.to_pkcs8v1().map_err(|_| Error::KeyGeneration)?;
    let public = pair
        .public_key()
        .as_der()
        .map_err(|_| Error::KeyGeneration)?;
    Ok(KeyPairDer {
        private_key_pkcs8: Zeroizing::new(private.as_ref().to_vec()),
        public_key_spki: public.as_ref().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SubjectPublicKeyInfo lengths AWS returns for each spec (44 bytes
    /// for Ed25519; ML-DSA 1334/1974/2614; ML-KEM 822/1206/1590).
    #[test]
    fn public_key_sizes() {
        let cases = [
            (KeySpec::EccNistP256, 91),
            (KeySpec::EccNistP384, 120),
            (KeySpec::EccNistP521, 158),
            (KeySpec::EccSecgP256k1, 88),
            (KeySpec::EccNistEdwards25519, 44),
            (KeySpec::MlDsa44, 1334),
            (KeySpec::MlDsa65, 1974),
            (KeySpec::MlDsa87, 2614),
            (KeySpec::MlKem512, 822),
            (KeySpec::MlKem768, 1206),
            (KeySpec::MlKem1024, 1590),
            (KeySpec::Rsa2048, 294),
        ];
        for (spec, len) in cases {
            let pair = generate_key_pair(spec).unwrap();
            assert_eq!(pair.public_key_spki.len(), len, "{spec}");
            assert!(!format!("{pair:?}").contains("private_key_pkcs8"));
        }
        // ML-KEM private keys are seeds: the same length for every size.
        for spec in [KeySpec::MlKem512, KeySpec::MlKem768, KeySpec::MlKem1024] {
            assert_eq!(generate_key_pair(spec).unwrap().private_key_pkcs8.len(), 86);
        }
        assert!(generate_key_pair(KeySpec::Hmac256).is_err());
        assert!(generate_key_pair(KeySpec::Sm2).is_err());
    }
}
