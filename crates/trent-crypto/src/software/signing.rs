//! Signing key pairs: RSA (PSS with salt = hash length, PKCS#1 v1.5), ECDSA
//! (DER signatures), Ed25519 and Ed25519ph, ML-DSA (RAW and external μ).
//! Verification uses public keys parsed once at load.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, ParsedPublicKey,
    PqdsaKeyPair, PqdsaSigningAlgorithm, RsaEncoding, VerificationAlgorithm,
};
use trent_core::key::KeySpec;
use trent_core::spec::SigningAlgorithm as S;
use zeroize::Zeroizing;

use crate::Error;
use crate::aws_lc_ffi::{self, Pkey};
use crate::backend::{SignInput, SigningKey};

/// The ECDSA signing algorithm (curve and hash, DER output) of a spec.
pub(super) fn ecdsa_signing_algorithm(
    spec: KeySpec,
) -> Result<&'static EcdsaSigningAlgorithm, Error> {
    Ok(match spec {
        KeySpec::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        KeySpec::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        KeySpec::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        KeySpec::EccSecgP256k1 => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
        _ => {
            return Err(Error::Unsupported(format!(
                "{spec} is not an ECDSA key spec"
            )));
        }
    })
}

/// The ML-DSA parameter set of a spec.
pub(super) fn ml_dsa_signing_algorithm(
    spec: KeySpec,
) -> Result<&'static PqdsaSigningAlgorithm, Error> {
    Ok(match spec {
        KeySpec::MlDsa44 => &signature::ML_DSA_44_SIGNING,
        KeySpec::MlDsa65 => &signature::ML_DSA_65_SIGNING,
        KeySpec::MlDsa87 => &signature::ML_DSA_87_SIGNING,
        _ => {
            return Err(Error::Unsupported(format!(
                "{spec} is not an ML-DSA key spec"
            )));
        }
    })
}

/// How aws-lc-rs names a KMS signing algorithm on a key of `spec`: the
/// verifier, and for RSA the signing encoding, and the hash of a DIGEST.
struct Scheme {
    verifier: &'static dyn VerificationAlgorithm,
    rsa_encoding: Option<&'static dyn RsaEncoding>,
    digest: Option<&'static digest::Algorithm>,
}

fn scheme(spec: KeySpec, algorithm: S) -> Option<Scheme> {
    let rsa = |verifier: &'static dyn VerificationAlgorithm,
               encoding: &'static dyn RsaEncoding,
               digest| Scheme {
        verifier,
        rsa_encoding: Some(encoding),
        digest: Some(digest),
    };
    let plain = |verifier: &'static dyn VerificationAlgorithm, digest| Scheme {
        verifier,
        rsa_encoding: None,
        digest,
    };
    Some(match (spec, algorithm) {
        (_, S::RsassaPssSha256) => rsa(
            &signature::RSA_PSS_2048_8192_SHA256,
            &signature::RSA_PSS_SHA256,
            &digest::SHA256,
        ),
        (_, S::RsassaPssSha384) => rsa(
            &signature::RSA_PSS_2048_8192_SHA384,
            &signature::RSA_PSS_SHA384,
            &digest::SHA384,
        ),
        (_, S::RsassaPssSha512) => rsa(
            &signature::RSA_PSS_2048_8192_SHA512,
            &signature::RSA_PSS_SHA512,
            &digest::SHA512,
        ),
        (_, S::RsassaPkcs1V15Sha256) => rsa(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &signature::RSA_PKCS1_SHA256,
            &digest::SHA256,
        ),
        (_, S::RsassaPkcs1V15Sha384) => rsa(
            &signature::RSA_PKCS1_2048_8192_SHA384,
            &signature::RSA_PKCS1_SHA384,
            &digest::SHA384,
        ),
        (_, S::RsassaPkcs1V15Sha512) => rsa(
            &signature::RSA_PKCS1_2048_8192_SHA512,
            &signature::RSA_PKCS1_SHA512,
            &digest::SHA512,
        ),
        (KeySpec::EccNistP256, S::EcdsaSha256) => {
            plain(&signature::ECDSA_P256_SHA256_ASN1, Some(&digest::SHA256))
        }
        (KeySpec::EccSecgP256k1, S::EcdsaSha256) => {
            plain(&signature::ECDSA_P256K1_SHA256_ASN1, Some(&digest::SHA256))
        }
        (KeySpec::EccNistP384, S::EcdsaSha384) => {
            plain(&signature::ECDSA_P384_SHA384_ASN1, Some(&digest::SHA384))
        }
        (KeySpec::EccNistP521, S::EcdsaSha512) => {
            plain(&signature::ECDSA_P521_SHA512_ASN1, Some(&digest::SHA512))
        }
        (KeySpec::EccNistEdwards25519, S::Ed25519Sha512) => plain(&signature::ED25519, None),
        (KeySpec::MlDsa44, S::MlDsaShake256) => plain(&signature::ML_DSA_44, None),
        (KeySpec::MlDsa65, S::MlDsaShake256) => plain(&signature::ML_DSA_65, None),
        (KeySpec::MlDsa87, S::MlDsaShake256) => plain(&signature::ML_DSA_87, None),
        _ => return None,
    })
}

enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519 {
        pair: Ed25519KeyPair,
        /// Seed ‖ public key, the private key layout Ed25519ph takes.
        expanded: Zeroizing<[u8; 64]>,
        public: [u8; 32],
    },
    MlDsa {
        pair: PqdsaKeyPair,
        /// The same key as AWS-LC's EVP_PKEY, for external-μ signing.
        mu: Pkey,
    },
}

/// A signing key pair held in memory by aws-lc-rs (and AWS-LC directly for
/// Ed25519ph and external μ). Its Debug output shows no key material.
pub(super) struct SoftwareSigningKey {
    spec: KeySpec,
    signer: Signer,
    public_key_der: Vec<u8>,
    /// Parsed public keys, one per supported algorithm with a verifier.
    verifiers: Vec<(S, ParsedPublicKey)>,
}

impl std::fmt::Debug for SoftwareSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftwareSigningKey({}, ..)", self.spec)
    }
}

impl SoftwareSigningKey {
    /// Loads a PKCS#8 private key of `spec`.
    pub(super) fn from_pkcs8(spec: KeySpec, pkcs8: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::Format("signing private key");
        let (signer, public_key_der) = match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?;
                if Some(pair.public_modulus_len()) != spec.rsa_modulus_len() {
                    return Err(Error::Format("RSA key of another size"));
                }
                let der = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| Error::Format("RSA public key"))?;
                let der = der.as_ref().to_vec();
                (Signer::Rsa(pair), der)
            }
            KeySpec::EccNistP256
            | KeySpec::EccNistP384
            | KeySpec::EccNistP521
            | KeySpec::EccSecgP256k1 => {
                let pair =
                    EcdsaKeyPair::from_pkcs8(ecdsa_signing_algorithm(spec)?, pkcs8).map_err(bad)?;
                let der = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| Error::Format("EC public key"))?;
                let der = der.as_ref().to_vec();
                (Signer::Ecdsa(pair), der)
            }
            KeySpec::EccNistEdwards25519 => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(bad)?;
                let seed = Pkey::parse_pkcs8(pkcs8)?.raw_private_key()?;
                let public: [u8; 32] = pair
                    .public_key()
                    .as_ref()
                    .try_into()
                    .map_err(|_| Error::Format("Ed25519 public key"))?;
                if seed.len() != 32 {
                    return Err(Error::Format("Ed25519 seed"));
                }
                let mut expanded = Zeroizing::new([0u8; 64]);
                expanded[..32].copy_from_slice(&seed);
                expanded[32..].copy_from_slice(&public);
                let der = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| Error::Format("Ed25519 public key"))?;
                let der = der.as_ref().to_vec();
                (
                    Signer::Ed25519 {
                        pair,
                        expanded,
                        public,
                    },
                    der,
                )
            }
            KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87 => {
                let pair = PqdsaKeyPair::from_pkcs8(ml_dsa_signing_algorithm(spec)?, pkcs8)
                    .map_err(bad)?;
                let mu = Pkey::parse_pkcs8(pkcs8)?;
                let der = pair
                    .public_key()
                    .as_der()
                    .map_err(|_| Error::Format("ML-DSA public key"))?;
                let der = der.as_ref().to_vec();
                (Signer::MlDsa { pair, mu }, der)
            }
            _ => return Err(Error::Unsupported(format!("signing with key spec {spec}"))),
        };
        let mut verifiers = Vec::new();
        for &algorithm in spec.signing_algorithms() {
            if let Some(scheme) = scheme(spec, algorithm) {
                let parsed = ParsedPublicKey::new(scheme.verifier, &public_key_der)
                    .map_err(|_| Error::Format("public key"))?;
                verifiers.push((algorithm, parsed));
            }
        }
        Ok(Self {
            spec,
            signer,
            public_key_der,
            verifiers,
        })
    }

    fn scheme(&self, algorithm: S) -> Result<Scheme, Error> {
        scheme(self.spec, algorithm).ok_or_else(|| self.unsupported(algorithm))
    }

    fn unsupported(&self, algorithm: S) -> Error {
        Error::Unsupported(format!("{algorithm} with key spec {}", self.spec))
    }
}

fn import_digest(digest: &'static digest::Algorithm, bytes: &[u8]) -> Result<Digest, Error> {
    Digest::import_less_safe(bytes, digest)
        .map_err(|_| Error::Unsupported("digest of the wrong length".into()))
}

impl SigningKey for SoftwareSigningKey {
    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    fn sign(&self, algorithm: S, input: SignInput<'_>) -> Result<Vec<u8>, Error> {
        match (&self.signer, input) {
            (Signer::Rsa(pair), input) => {
                let scheme = self.scheme(algorithm)?;
                let encoding = scheme
                    .rsa_encoding
                    .ok_or_else(|| self.unsupported(algorithm))?;
                let mut signature = vec![0u8; pair.public_modulus_len()];
                match input {
                    SignInput::Raw(message) => {
                        pair.sign(encoding, &SystemRandom::new(), message, &mut signature)
                    }
                    SignInput::Digest(bytes) => {
                        let digest = import_digest(
                            scheme.digest.ok_or_else(|| self.unsupported(algorithm))?,
                            bytes,
                        )?;
                        pair.sign_digest(encoding, &digest, &mut signature)
                    }
                    SignInput::ExternalMu(_) => return Err(self.unsupported(algorithm)),
                }
                .map_err(|_| Error::Sign)?;
                Ok(signature)
            }
            (Signer::Ecdsa(pair), input) => {
                let scheme = self.scheme(algorithm)?;
                let signature = match input {
                    SignInput::Raw(message) => pair.sign(&SystemRandom::new(), message),
                    SignInput::Digest(bytes) => pair.sign_digest(&import_digest(
                        scheme.digest.ok_or_else(|| self.unsupported(algorithm))?,
                        bytes,
                    )?),
                    SignInput::ExternalMu(_) => return Err(self.unsupported(algorithm)),
                }
                .map_err(|_| Error::Sign)?;
                Ok(signature.as_ref().to_vec())
            }
            (Signer::Ed25519 { pair, .. }, SignInput::Raw(message))
                if algorithm == S::Ed25519Sha512 =>
            {
                Ok(pair
                    .try_sign(message)
                    .map_err(|_| Error::Sign)?
                    .as_ref()
                    .to_vec())
            }
            (Signer::Ed25519 { expanded, .. }, SignInput::Digest(bytes))
                if algorithm == S::Ed25519PhSha512 =>
            {
                Ok(aws_lc_ffi::ed25519ph_sign(expanded, bytes)?.to_vec())
            }
            (Signer::MlDsa { pair, .. }, SignInput::Raw(message))
                if algorithm == S::MlDsaShake256 =>
            {
                let mut signature = vec![0u8; pair.algorithm().signature_len()];
                let len = pair
                    .sign(message, &mut signature)
                    .map_err(|_| Error::Sign)?;
                signature.truncate(len);
                Ok(signature)
            }
            (Signer::MlDsa { mu, .. }, SignInput::ExternalMu(bytes))
                if algorithm == S::MlDsaShake256 =>
            {
                mu.ml_dsa_sign_mu(bytes)
            }
            _ => Err(self.unsupported(algorithm)),
        }
    }

    fn verify(&self, algorithm: S, input: SignInput<'_>, signature: &[u8]) -> Result<bool, Error> {
        match (&self.signer, input) {
            (Signer::Ed25519 { public, .. }, SignInput::Digest(bytes))
                if algorithm == S::Ed25519PhSha512 =>
            {
                return Ok(aws_lc_ffi::ed25519ph_verify(public, bytes, signature));
            }
            (Signer::MlDsa { mu, .. }, SignInput::ExternalMu(bytes))
                if algorithm == S::MlDsaShake256 =>
            {
                return mu.ml_dsa_verify_mu(bytes, signature);
            }
            _ => {}
        }
        let parsed = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == algorithm)
            .map(|(_, parsed)| parsed)
            .ok_or_else(|| self.unsupported(algorithm))?;
        Ok(match input {
            SignInput::Raw(message) => parsed.verify_sig(message, signature).is_ok(),
            SignInput::Digest(bytes) => {
                let digest = self
                    .scheme(algorithm)?
                    .digest
                    .ok_or_else(|| self.unsupported(algorithm))?;
                parsed
                    .verify_digest_sig(&import_digest(digest, bytes)?, signature)
                    .is_ok()
            }
            SignInput::ExternalMu(_) => return Err(self.unsupported(algorithm)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::software::generate_key_pair;

    fn sha(alg: &'static digest::Algorithm, message: &[u8]) -> Vec<u8> {
        digest::digest(alg, message).as_ref().to_vec()
    }

    fn ed25519_pkcs8(seed: &[u8]) -> Vec<u8> {
        // RFC 8410 PKCS#8 v1 of an Ed25519 seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(seed);
        der
    }

    #[test]
    fn rfc8032_known_answers() {
        let vectors = super::super::kat::vectors!("ed25519_rfc8032.txt");
        assert_eq!(vectors.len(), 3);
        for v in &vectors {
            let key = SoftwareSigningKey::from_pkcs8(
                KeySpec::EccNistEdwards25519,
                &ed25519_pkcs8(&v.bytes("Seed")),
            )
            .unwrap();
            assert!(key.public_key_der().ends_with(&v.bytes("Public")));
            let algorithm = S::parse(v.text("Algorithm")).unwrap();
            let message = v.bytes("Message");
            let input = match algorithm {
                S::Ed25519Sha512 => SignInput::Raw(&message),
                _ => SignInput::Digest(&message),
            };
            // Ed25519 is deterministic: the signature is the published one.
            assert_eq!(
                key.sign(algorithm, input).unwrap(),
                v.bytes("Signature"),
                "{algorithm}"
            );
            assert!(key.verify(algorithm, input, &v.bytes("Signature")).unwrap());
            let mut bad = v.bytes("Signature");
            bad[0] ^= 1;
            assert!(!key.verify(algorithm, input, &bad).unwrap());
        }
    }

    #[test]
    fn rfc6979_signature_verifies() {
        let vectors = super::super::kat::vectors!("ecdsa_rfc6979.txt");
        let v = &vectors[0];
        let mut public = vec![0x04];
        public.extend_from_slice(&v.bytes("Public"));
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &v.bytes("Private"),
            &public,
        )
        .unwrap();
        let key = SoftwareSigningKey::from_pkcs8(
            KeySpec::EccNistP256,
            pair.to_pkcs8v1().unwrap().as_ref(),
        )
        .unwrap();
        let message = v.bytes("Message");
        let signature = v.bytes("Signature");
        assert!(
            key.verify(S::EcdsaSha256, SignInput::Raw(&message), &signature)
                .unwrap()
        );
        let digest = sha(&digest::SHA256, &message);
        assert!(
            key.verify(S::EcdsaSha256, SignInput::Digest(&digest), &signature)
                .unwrap()
        );
        assert!(
            !key.verify(S::EcdsaSha256, SignInput::Raw(b"samplf"), &signature)
                .unwrap()
        );
    }

    /// For every spec and algorithm: RAW and DIGEST signatures verify both
    /// ways (a digest signature is a signature of the message), and a changed
    /// message does not verify.
    #[test]
    fn sign_and_verify_every_algorithm() {
        let message = b"The quick brown fox jumps over the lazy dog";
        for &spec in KeySpec::ALL {
            if spec.signing_algorithms().is_empty() || spec == KeySpec::Sm2 {
                continue;
            }
            let pair = generate_key_pair(spec).unwrap();
            let key = SoftwareSigningKey::from_pkcs8(spec, &pair.private_key_pkcs8).unwrap();
            assert_eq!(key.public_key_der(), pair.public_key_spki.as_slice());
            for &algorithm in spec.signing_algorithms() {
                let hash = scheme(spec, algorithm).and_then(|s| s.digest);
                let (input, verify_also): (SignInput<'_>, Option<Vec<u8>>) = match algorithm {
                    S::Ed25519PhSha512 => (SignInput::Digest(&message[..]), None),
                    _ => (SignInput::Raw(message), hash.map(|h| sha(h, message))),
                };
                let sig = key.sign(algorithm, input).unwrap();
                assert!(
                    key.verify(algorithm, input, &sig).unwrap(),
                    "{spec} {algorithm}"
                );
                assert!(
                    !key.verify(algorithm, SignInput::Raw(b"other"), &sig)
                        .unwrap_or(false)
                );
                if let Some(digest) = verify_also {
                    assert!(
                        key.verify(algorithm, SignInput::Digest(&digest), &sig)
                            .unwrap(),
                        "{spec} {algorithm}"
                    );
                    let by_digest = key.sign(algorithm, SignInput::Digest(&digest)).unwrap();
                    assert!(
                        key.verify(algorithm, SignInput::Raw(message), &by_digest)
                            .unwrap(),
                        "{spec} {algorithm}"
                    );
                }
                assert!(!key.verify(algorithm, input, &[]).unwrap());
            }
        }
    }

    #[test]
    fn ml_dsa_external_mu() {
        let pair = generate_key_pair(KeySpec::MlDsa65).unwrap();
        let key =
            SoftwareSigningKey::from_pkcs8(KeySpec::MlDsa65, &pair.private_key_pkcs8).unwrap();
        let raw_public = &pair.public_key_spki[22..];
        assert_eq!(raw_public.len(), 1952);
        let mu = crate::ml_dsa_mu(raw_public, b"message").unwrap();
        let sig = key
            .sign(S::MlDsaShake256, SignInput::ExternalMu(&mu))
            .unwrap();
        assert!(
            key.verify(S::MlDsaShake256, SignInput::Raw(b"message"), &sig)
                .unwrap()
        );
        let raw_sig = key
            .sign(S::MlDsaShake256, SignInput::Raw(b"message"))
            .unwrap();
        assert!(
            key.verify(S::MlDsaShake256, SignInput::ExternalMu(&mu), &raw_sig)
                .unwrap()
        );
        assert!(
            key.sign(S::MlDsaShake256, SignInput::Digest(&mu[..32]))
                .is_err()
        );
    }

    #[test]
    fn wrong_algorithm_or_key_is_refused() {
        let pair = generate_key_pair(KeySpec::EccNistP384).unwrap();
        let key =
            SoftwareSigningKey::from_pkcs8(KeySpec::EccNistP384, &pair.private_key_pkcs8).unwrap();
        assert!(matches!(
            key.sign(S::EcdsaSha256, SignInput::Raw(b"m")),
            Err(Error::Unsupported(_))
        ));
        assert!(
            SoftwareSigningKey::from_pkcs8(KeySpec::EccNistP256, &pair.private_key_pkcs8).is_err()
        );
        assert!(!format!("{key:?}").contains(&format!("{:?}", &pair.private_key_pkcs8[..8])));
    }
}
