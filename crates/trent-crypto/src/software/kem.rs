//! ML-KEM (FIPS 203) key pairs: Encapsulate and Decapsulate. Keys are kept
//! as PKCS#8 in seed form; AWS-LC expands the seed when parsing it.

use aws_lc_rs::kem::{self, Ciphertext, DecapsulationKey, EncapsulationKey};
use trent_core::key::KeySpec;
use zeroize::Zeroizing;

use super::der::{ML_KEM_SEED_LEN, ml_kem_pkcs8, ml_kem_spki};
use super::keypair::KeyPairDer;
use crate::aws_lc_ffi::Pkey;
use crate::backend::{Encapsulated, KemKey};
use crate::{Error, random_bytes};

/// Sizes of one ML-KEM parameter set (FIPS 203, Table 3).
struct Params {
    algorithm: &'static kem::Algorithm,
    encapsulation_key_len: usize,
    decapsulation_key_len: usize,
    ciphertext_len: usize,
}

fn params(spec: KeySpec) -> Result<Params, Error> {
    let (algorithm, encapsulation_key_len, decapsulation_key_len, ciphertext_len) = match spec {
        KeySpec::MlKem512 => (&kem::ML_KEM_512, 800, 1632, 768),
        KeySpec::MlKem768 => (&kem::ML_KEM_768, 1184, 2400, 1088),
        KeySpec::MlKem1024 => (&kem::ML_KEM_1024, 1568, 3168, 1568),
        _ => return Err(Error::Unsupported(format!("{spec} is not ML-KEM"))),
    };
    Ok(Params {
        algorithm,
        encapsulation_key_len,
        decapsulation_key_len,
        ciphertext_len,
    })
}

/// Expands a seed-form PKCS#8 into (decapsulation key, encapsulation key).
fn expand(spec: KeySpec, pkcs8: &[u8]) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Error> {
    let params = params(spec)?;
    let pkey = Pkey::parse_pkcs8(pkcs8)?;
    if !pkey.is_kem() {
        return Err(Error::Format("ML-KEM private key"));
    }
    let dk = pkey.raw_private_key()?;
    let ek = pkey.raw_public_key()?;
    // The sizes differ between parameter sets, so they also pin the OID.
    if dk.len() != params.decapsulation_key_len || ek.len() != params.encapsulation_key_len {
        return Err(Error::Format("ML-KEM key of another parameter set"));
    }
    Ok((dk, ek))
}

/// A fresh ML-KEM key pair from a random seed.
pub(super) fn generate(spec: KeySpec) -> Result<KeyPairDer, Error> {
    let mut seed = Zeroizing::new([0u8; ML_KEM_SEED_LEN]);
    random_bytes(seed.as_mut())?;
    let pkcs8 = ml_kem_pkcs8(spec, &seed)?;
    let (_, ek) = expand(spec, &pkcs8)?;
    Ok(KeyPairDer {
        public_key_spki: ml_kem_spki(spec, &ek)?,
        private_key_pkcs8: pkcs8,
    })
}

/// An ML-KEM key pair in memory.
pub(super) struct MlKemKey {
    decapsulation: DecapsulationKey,
    encapsulation: EncapsulationKey,
    ciphertext_len: usize,
    public_key_der: Vec<u8>,
}

impl std::fmt::Debug for MlKemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MlKemKey(..)")
    }
}

impl MlKemKey {
    /// Loads a seed-form PKCS#8 of `spec`.
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<Self, Error> {
        let params = params(spec)?;
        let (dk, ek) = expand(spec, pkcs8)?;
        Ok(Self {
            decapsulation: DecapsulationKey::new(params.algorithm, &dk)
                .map_err(|_| Error::Format("ML-KEM key"))?,
            encapsulation: EncapsulationKey::new(params.algorithm, &ek)
                .map_err(|_| Error::Format("ML-KEM key"))?,
            ciphertext_len: params.ciphertext_len,
            public_key_der: ml_kem_spki(spec, &ek)?,
        })
    }
}

impl KemKey for MlKemKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn ciphertext_len(&self) -> usize {
        self.ciphertext_len
    }

    fn encapsulate(&self) -> Result<Encapsulated, Error> {
        let (ciphertext, secret) = self
            .encapsulation
            .encapsulate()
            .map_err(|_| Error::Encrypt)?;
        Ok(Encapsulated {
            ciphertext: ciphertext.as_ref().to_vec(),
            shared_secret: Zeroizing::new(secret.as_ref().to_vec()),
        })
    }

    fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if ciphertext.len() != self.ciphertext_len {
            return Err(Error::Decrypt);
        }
        let secret = self
            .decapsulation
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| Error::Decrypt)?;
        Ok(Zeroizing::new(secret.as_ref().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_implicit_rejection() {
        for spec in [KeySpec::MlKem512, KeySpec::MlKem768, KeySpec::MlKem1024] {
            let pair = generate(spec).unwrap();
            let key = MlKemKey::from_pkcs8(spec, &pair.private_key_pkcs8).unwrap();
            assert_eq!(key.public_key_der(), pair.public_key_spki.as_slice());
            let sent = key.encapsulate().unwrap();
            assert_eq!(sent.ciphertext.len(), key.ciphertext_len());
            assert_eq!(sent.shared_secret.len(), 32);
            assert_eq!(
                key.decapsulate(&sent.ciphertext).unwrap(),
                sent.shared_secret
            );
            let mut tampered = sent.ciphertext.clone();
            tampered[0] ^= 1;
            let rejected = key.decapsulate(&tampered).unwrap();
            assert_ne!(rejected, sent.shared_secret);
            assert_eq!(key.decapsulate(&sent.ciphertext[1..]), Err(Error::Decrypt));
            // A seed loads the same key again, and not as another size.
            let again = MlKemKey::from_pkcs8(spec, &pair.private_key_pkcs8).unwrap();
            assert_eq!(
                again.decapsulate(&sent.ciphertext).unwrap(),
                sent.shared_secret
            );
            let other = if spec == KeySpec::MlKem512 {
                KeySpec::MlKem768
            } else {
                KeySpec::MlKem512
            };
            assert!(MlKemKey::from_pkcs8(other, &pair.private_key_pkcs8).is_err());
        }
    }

    /// The same seed always gives the same key (the interop suite checks
    /// the seed → key mapping against OpenSSL).
    #[test]
    fn seed_is_deterministic() {
        let seed = [0x42u8; 64];
        let pkcs8 = ml_kem_pkcs8(KeySpec::MlKem768, &seed).unwrap();
        let a = MlKemKey::from_pkcs8(KeySpec::MlKem768, &pkcs8).unwrap();
        let b = MlKemKey::from_pkcs8(KeySpec::MlKem768, &pkcs8).unwrap();
        assert_eq!(a.public_key_der(), b.public_key_der());
    }
}
