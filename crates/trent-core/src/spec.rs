//! What each key spec can do, as AWS KMS defines it: the key usages a spec
//! allows, the algorithms each (spec, usage) pair supports, digest lengths and
//! message limits, and the checks that turn a wrong pairing into AWS's error.
//! Handlers call these; nothing here knows about HTTP or key material.
//!
//! AWS's errors for a wrong pairing, which these checks reproduce:
//! - the key's usage does not allow the operation → `InvalidKeyUsageException`
//!   ("… key usage is X which is not valid for Op.");
//! - the algorithm does not fit the key spec → `InvalidKeyUsageException`
//!   ("Algorithm A is incompatible with key spec S.");
//! - a message type or length does not fit the algorithm → `ValidationException`.

use crate::Error;
use crate::key::{KeyRecord, KeySpec, KeyUsage, aws_enum};

aws_enum!(
    /// A signing algorithm (`SigningAlgorithmSpec`).
    SigningAlgorithm {
        /// RSASSA-PSS with SHA-256, salt length 32.
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        /// RSASSA-PSS with SHA-384, salt length 48.
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        /// RSASSA-PSS with SHA-512, salt length 64.
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        /// RSASSA-PKCS1-v1_5 with SHA-384.
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        /// RSASSA-PKCS1-v1_5 with SHA-512.
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        /// ECDSA with SHA-256 (P-256, secp256k1).
        EcdsaSha256 = "ECDSA_SHA_256",
        /// ECDSA with SHA-384 (P-384).
        EcdsaSha384 = "ECDSA_SHA_384",
        /// ECDSA with SHA-512 (P-521).
        EcdsaSha512 = "ECDSA_SHA_512",
        /// SM2 signatures (China regions only).
        Sm2Dsa = "SM2DSA",
        /// ML-DSA (FIPS 204), pure mode, empty context.
        MlDsaShake256 = "ML_DSA_SHAKE_256",
        /// Ed25519 (RFC 8032 PureEdDSA).
        Ed25519Sha512 = "ED25519_SHA_512",
        /// Ed25519ph (RFC 8032 HashEdDSA) over the given bytes.
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
);

aws_enum!(
    /// An encryption algorithm (`EncryptionAlgorithmSpec`).
    EncryptionAlgorithm {
        /// Trent's symmetric ciphertext format (AES-256-GCM).
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// SM2 public-key encryption (China regions only).
        Sm2Pke = "SM2PKE",
    }
);

aws_enum!(
    /// A MAC algorithm (`MacAlgorithmSpec`).
    MacAlgorithm {
        /// HMAC-SHA-224.
        HmacSha224 = "HMAC_SHA_224",
        /// HMAC-SHA-256.
        HmacSha256 = "HMAC_SHA_256",
        /// HMAC-SHA-384.
        HmacSha384 = "HMAC_SHA_384",
        /// HMAC-SHA-512.
        HmacSha512 = "HMAC_SHA_512",
    }
);

aws_enum!(
    /// A key agreement algorithm (`KeyAgreementAlgorithmSpec`).
    KeyAgreementAlgorithm {
        /// Elliptic-curve cofactor Diffie-Hellman, raw shared secret.
        Ecdh = "ECDH",
    }
);

aws_enum!(
    /// A key encapsulation algorithm (`EncapsulationAlgorithmSpec`).
    EncapsulationAlgorithm {
        /// ML-KEM (FIPS 203).
        MlKem = "ML_KEM",
    }
);

aws_enum!(
    /// What the `Message` of Sign and Verify holds (`MessageType`).
    MessageType {
        /// The message itself.
        Raw = "RAW",
        /// A digest of the message, made with the algorithm's hash.
        Digest = "DIGEST",
        /// ML-DSA's 64-byte message representative μ (FIPS 204, 6.2).
        ExternalMu = "EXTERNAL_MU",
    }
);

aws_enum!(
    /// A data key pair spec (`DataKeyPairSpec`).
    DataKeyPairSpec {
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// NIST P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// NIST P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// NIST P-521.
        EccNistP521 = "ECC_NIST_P521",
        /// secp256k1.
        EccSecgP256k1 = "ECC_SECG_P256K1",
        /// SM2 (China regions only).
        Sm2 = "SM2",
        /// Ed25519.
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        /// ML-KEM-512.
        MlKem512 = "ML_KEM_512",
        /// ML-KEM-768.
        MlKem768 = "ML_KEM_768",
        /// ML-KEM-1024.
        MlKem1024 = "ML_KEM_1024",
    }
);

/// The most bytes a Sign, Verify, GenerateMac or VerifyMac message may have.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The length of an ML-DSA external μ.
pub const EXTERNAL_MU_LEN: usize = 64;

impl DataKeyPairSpec {
    /// The key spec of the same name.
    pub fn key_spec(self) -> KeySpec {
        match self {
            Self::Rsa2048 => KeySpec::Rsa2048,
            Self::Rsa3072 => KeySpec::Rsa3072,
            Self::Rsa4096 => KeySpec::Rsa4096,
            Self::EccNistP256 => KeySpec::EccNistP256,
            Self::EccNistP384 => KeySpec::EccNistP384,
            Self::EccNistP521 => KeySpec::EccNistP521,
            Self::EccSecgP256k1 => KeySpec::EccSecgP256k1,
            Self::Sm2 => KeySpec::Sm2,
            Self::EccNistEdwards25519 => KeySpec::EccNistEdwards25519,
            Self::MlKem512 => KeySpec::MlKem512,
            Self::MlKem768 => KeySpec::MlKem768,
            Self::MlKem1024 => KeySpec::MlKem1024,
        }
    }

    /// SM2 exists only in China regions, which Trent does not offer (no
    /// vetted SM2 implementation in aws-lc-rs); AWS's error elsewhere.
    pub fn check_available(self) -> Result<(), Error> {
        if self == Self::Sm2 {
            return Err(Error::Unsupported(
                "KeyPairSpec SM2 is not supported in this Region".into(),
            ));
        }
        Ok(())
    }
}

use EncryptionAlgorithm as E;
use KeyUsage as U;
use SigningAlgorithm as S;

const RSA_SIGNING: &[S] = &[
    S::RsassaPkcs1V15Sha256,
    S::RsassaPkcs1V15Sha384,
    S::RsassaPkcs1V15Sha512,
    S::RsassaPssSha256,
    S::RsassaPssSha384,
    S::RsassaPssSha512,
];

impl KeySpec {
    /// Whether the key is an asymmetric key pair (it has a public key).
    pub fn is_asymmetric(self) -> bool {
        !matches!(
            self,
            Self::SymmetricDefault | Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512
        )
    }

    /// Whether the key is an RSA key pair.
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// The RSA modulus length in bytes.
    pub fn rsa_modulus_len(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(256),
            Self::Rsa3072 => Some(384),
            Self::Rsa4096 => Some(512),
            _ => None,
        }
    }

    /// The key usages AWS allows for the spec; the first is not a default
    /// (only SYMMETRIC_DEFAULT has one).
    pub fn usages(self) -> &'static [KeyUsage] {
        match self {
            Self::SymmetricDefault => &[U::EncryptDecrypt],
            Self::Hmac224 | Self::Hmac256 | Self::Hmac384 | Self::Hmac512 => {
                &[U::GenerateVerifyMac]
            }
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &[U::EncryptDecrypt, U::SignVerify],
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => {
                &[U::SignVerify, U::KeyAgreement]
            }
            Self::EccSecgP256k1 | Self::EccNistEdwards25519 => &[U::SignVerify],
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => &[U::SignVerify],
            Self::MlKem512 | Self::MlKem768 | Self::MlKem1024 => &[U::EncapsulateDecapsulate],
            Self::Sm2 => &[U::EncryptDecrypt, U::SignVerify, U::KeyAgreement],
        }
    }

    /// The signing algorithms the spec supports, in AWS's order.
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => RSA_SIGNING,
            Self::EccNistP256 | Self::EccSecgP256k1 => &[S::EcdsaSha256],
            Self::EccNistP384 => &[S::EcdsaSha384],
            Self::EccNistP521 => &[S::EcdsaSha512],
            Self::EccNistEdwards25519 => &[S::Ed25519Sha512, S::Ed25519PhSha512],
            Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87 => &[S::MlDsaShake256],
            Self::Sm2 => &[S::Sm2Dsa],
            _ => &[],
        }
    }

    /// The encryption algorithms the spec supports.
    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithm] {
        match self {
            Self::SymmetricDefault => &[E::SymmetricDefault],
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => {
                &[E::RsaesOaepSha1, E::RsaesOaepSha256]
            }
            Self::Sm2 => &[E::Sm2Pke],
            _ => &[],
        }
    }

    /// The MAC algorithm of an HMAC spec.
    pub fn mac_algorithms(self) -> &'static [MacAlgorithm] {
        match self {
            Self::Hmac224 => &[MacAlgorithm::HmacSha224],
            Self::Hmac256 => &[MacAlgorithm::HmacSha256],
            Self::Hmac384 => &[MacAlgorithm::HmacSha384],
            Self::Hmac512 => &[MacAlgorithm::HmacSha512],
            _ => &[],
        }
    }

    /// The key agreement algorithms the spec supports.
    pub fn key_agreement_algorithms(self) -> &'static [KeyAgreementAlgorithm] {
        match self {
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 | Self::Sm2 => {
                &[KeyAgreementAlgorithm::Ecdh]
            }
            _ => &[],
        }
    }

    /// The encapsulation algorithms the spec supports.
    pub fn encapsulation_algorithms(self) -> &'static [EncapsulationAlgorithm] {
        match self {
            Self::MlKem512 | Self::MlKem768 | Self::MlKem1024 => &[EncapsulationAlgorithm::MlKem],
            _ => &[],
        }
    }

    /// Whether Trent offers the spec. SM2 exists only in AWS's China
    /// regions; elsewhere AWS refuses it with this error.
    pub fn check_available(self) -> Result<(), Error> {
        if self == Self::Sm2 {
            return Err(Error::Unsupported(
                "KeySpec SM2 is not supported in this Region".into(),
            ));
        }
        Ok(())
    }
}

/// The usage CreateKey gives a key: the one asked for, which must suit the
/// spec; only SYMMETRIC_DEFAULT has a default.
pub fn create_usage(spec: KeySpec, usage: Option<KeyUsage>) -> Result<KeyUsage, Error> {
    let usage = match (spec, usage) {
        (_, Some(usage)) => usage,
        (KeySpec::SymmetricDefault, None) => KeyUsage::EncryptDecrypt,
        (_, None) => {
            return Err(Error::Validation(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into(),
            ));
        }
    };
    if !spec.usages().contains(&usage) {
        return Err(Error::Validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        )));
    }
    Ok(usage)
}

/// The algorithm lists a key's metadata (DescribeKey, GetPublicKey) shows:
/// only the family that matches its usage is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AlgorithmLists {
    /// `EncryptionAlgorithms`.
    pub encryption: Option<&'static [EncryptionAlgorithm]>,
    /// `SigningAlgorithms`.
    pub signing: Option<&'static [SigningAlgorithm]>,
    /// `MacAlgorithms`.
    pub mac: Option<&'static [MacAlgorithm]>,
    /// `KeyAgreementAlgorithms`.
    pub key_agreement: Option<&'static [KeyAgreementAlgorithm]>,
    /// `EncapsulationAlgorithms`.
    pub encapsulation: Option<&'static [EncapsulationAlgorithm]>,
}

impl AlgorithmLists {
    /// The lists for a key of `spec` used for `usage`.
    pub fn of(spec: KeySpec, usage: KeyUsage) -> Self {
        let mut lists = Self::default();
        match usage {
            U::EncryptDecrypt => lists.encryption = Some(spec.encryption_algorithms()),
            U::SignVerify => lists.signing = Some(spec.signing_algorithms()),
            U::GenerateVerifyMac => lists.mac = Some(spec.mac_algorithms()),
            U::KeyAgreement => lists.key_agreement = Some(spec.key_agreement_algorithms()),
            U::EncapsulateDecapsulate => {
                lists.encapsulation = Some(spec.encapsulation_algorithms())
            }
        }
        lists
    }
}

/// AWS's error for an algorithm the key spec does not support.
pub fn incompatible(algorithm: impl std::fmt::Display, spec: KeySpec) -> Error {
    Error::InvalidKeyUsage(format!(
        "Algorithm {algorithm} is incompatible with key spec {spec}."
    ))
}

impl KeyRecord {
    /// Checks that the key's usage allows `operation` (its API name), with
    /// AWS's `InvalidKeyUsageException`.
    pub fn check_usage(&self, usage: KeyUsage, operation: &str) -> Result<(), Error> {
        if self.usage != usage {
            return Err(Error::InvalidKeyUsage(format!(
                "{} key usage is {} which is not valid for {operation}.",
                self.arn(),
                self.usage
            )));
        }
        Ok(())
    }
}

fn check_listed<T: PartialEq + Copy + std::fmt::Display>(
    list: &[T],
    algorithm: T,
    spec: KeySpec,
) -> Result<(), Error> {
    if list.contains(&algorithm) {
        Ok(())
    } else {
        Err(incompatible(algorithm, spec))
    }
}

/// A Sign or Verify `Message` must have 1–4096 bytes.
pub fn check_message_len(len: usize) -> Result<(), Error> {
    if len == 0 {
        return Err(Error::Validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
        ));
    }
    if len > MAX_MESSAGE_LEN {
        return Err(Error::Validation(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096".into(),
        ));
    }
    Ok(())
}

impl SigningAlgorithm {
    /// The length of a DIGEST for the algorithm: its hash's output length.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            S::RsassaPssSha256 | S::RsassaPkcs1V15Sha256 | S::EcdsaSha256 | S::Sm2Dsa => Some(32),
            S::RsassaPssSha384 | S::RsassaPkcs1V15Sha384 | S::EcdsaSha384 => Some(48),
            S::RsassaPssSha512 | S::RsassaPkcs1V15Sha512 | S::EcdsaSha512 | S::Ed25519PhSha512 => {
                Some(64)
            }
            S::MlDsaShake256 | S::Ed25519Sha512 => None,
        }
    }
}

/// Checks a Sign or Verify request against the key spec: the algorithm must
/// be one the spec supports, the message type one the algorithm takes, and a
/// digest or μ exactly as long as the algorithm requires.
pub fn check_signing(
    spec: KeySpec,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message_len: usize,
) -> Result<(), Error> {
    check_listed(spec.signing_algorithms(), algorithm, spec)?;
    let type_error = |by: String| {
        Error::Validation(format!(
            "Message type {message_type} is incompatible with {by}."
        ))
    };
    match (algorithm, message_type) {
        // Ed25519 takes exactly one message type per algorithm.
        (S::Ed25519Sha512, MessageType::Raw) | (S::Ed25519PhSha512, MessageType::Digest) => {}
        (S::Ed25519Sha512 | S::Ed25519PhSha512, _) => {
            return Err(type_error(format!("algorithm {algorithm}")));
        }
        (S::MlDsaShake256, MessageType::Raw | MessageType::ExternalMu) => {}
        (S::MlDsaShake256, _) | (_, MessageType::ExternalMu) => {
            return Err(type_error(format!("key spec {spec}")));
        }
        _ => {}
    }
    match message_type {
        MessageType::Raw => check_message_len(message_len),
        MessageType::Digest if Some(message_len) != algorithm.digest_len() => {
            Err(Error::Validation(format!(
                "Digest is invalid length for algorithm {algorithm}."
            )))
        }
        MessageType::ExternalMu if message_len != EXTERNAL_MU_LEN => Err(Error::Validation(
            format!("External Mu is invalid length for algorithm {algorithm}."),
        )),
        _ => Ok(()),
    }
}

/// Checks an encryption algorithm against the key spec.
pub fn check_encryption(spec: KeySpec, algorithm: EncryptionAlgorithm) -> Result<(), Error> {
    check_listed(spec.encryption_algorithms(), algorithm, spec)
}

/// Asymmetric encryption takes no encryption context; AWS's error.
pub fn check_no_context(has_context: bool) -> Result<(), Error> {
    if has_context {
        return Err(Error::Validation(
            "EncryptionContext is not supported when encrypting/decrypting with asymmetric CMKs."
                .into(),
        ));
    }
    Ok(())
}

/// The most plaintext RSAES-OAEP can encrypt with this key and algorithm:
/// `k - 2·hLen - 2` (RFC 8017, 7.1.1).
pub fn oaep_max_plaintext(spec: KeySpec, algorithm: EncryptionAlgorithm) -> Option<usize> {
    let hash_len = match algorithm {
        E::RsaesOaepSha1 => 20,
        E::RsaesOaepSha256 => 32,
        _ => return None,
    };
    spec.rsa_modulus_len().map(|k| k - 2 * hash_len - 2)
}

/// Checks that RSAES-OAEP can encrypt `len` bytes, with AWS's message.
pub fn check_oaep_plaintext(
    spec: KeySpec,
    algorithm: EncryptionAlgorithm,
    len: usize,
) -> Result<(), Error> {
    match oaep_max_plaintext(spec, algorithm) {
        Some(max) if len > max => Err(Error::Validation(format!(
            "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {max} bytes."
        ))),
        Some(_) => Ok(()),
        None => Err(incompatible(algorithm, spec)),
    }
}

/// Checks a MAC algorithm against the key spec.
pub fn check_mac(spec: KeySpec, algorithm: MacAlgorithm) -> Result<(), Error> {
    check_listed(spec.mac_algorithms(), algorithm, spec)
}

/// Checks a key agreement algorithm against the key spec.
pub fn check_key_agreement(spec: KeySpec, algorithm: KeyAgreementAlgorithm) -> Result<(), Error> {
    check_listed(spec.key_agreement_algorithms(), algorithm, spec)
}

/// Checks an encapsulation algorithm against the key spec.
pub fn check_encapsulation(spec: KeySpec, algorithm: EncapsulationAlgorithm) -> Result<(), Error> {
    check_listed(spec.encapsulation_algorithms(), algorithm, spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_has_usages_and_each_usage_has_algorithms() {
        for &spec in KeySpec::ALL {
            assert!(!spec.usages().is_empty(), "{spec}");
            for &usage in spec.usages() {
                let lists = AlgorithmLists::of(spec, usage);
                let sizes = [
                    lists.encryption.map(<[_]>::len),
                    lists.signing.map(<[_]>::len),
                    lists.mac.map(<[_]>::len),
                    lists.key_agreement.map(<[_]>::len),
                    lists.encapsulation.map(<[_]>::len),
                ];
                assert_eq!(
                    sizes.iter().flatten().count(),
                    1,
                    "{spec} {usage}: exactly one list"
                );
                assert!(
                    sizes.iter().flatten().all(|n| *n > 0),
                    "{spec} {usage}: list not empty"
                );
            }
        }
    }

    #[test]
    fn create_usage_follows_aws() {
        assert_eq!(
            create_usage(KeySpec::SymmetricDefault, None),
            Ok(KeyUsage::EncryptDecrypt)
        );
        assert!(matches!(
            create_usage(KeySpec::Rsa2048, None),
            Err(Error::Validation(_))
        ));
        assert_eq!(
            create_usage(KeySpec::Rsa2048, Some(KeyUsage::KeyAgreement)),
            Err(Error::Validation(
                "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048".into()
            ))
        );
        assert!(create_usage(KeySpec::EccSecgP256k1, Some(KeyUsage::KeyAgreement)).is_err());
        assert!(create_usage(KeySpec::EccNistEdwards25519, Some(KeyUsage::KeyAgreement)).is_err());
        assert!(create_usage(KeySpec::EccNistP521, Some(KeyUsage::KeyAgreement)).is_ok());
        assert!(create_usage(KeySpec::MlKem768, Some(KeyUsage::SignVerify)).is_err());
        assert!(create_usage(KeySpec::Hmac256, Some(KeyUsage::EncryptDecrypt)).is_err());
        assert!(create_usage(KeySpec::SymmetricDefault, Some(KeyUsage::SignVerify)).is_err());
    }

    #[test]
    fn signing_checks() {
        use MessageType::*;
        let ok = |spec, alg, mt, len| check_signing(spec, alg, mt, len).is_ok();
        assert!(ok(KeySpec::EccNistP256, S::EcdsaSha256, Digest, 32));
        assert_eq!(
            check_signing(KeySpec::EccNistP256, S::EcdsaSha256, Digest, 31),
            Err(Error::Validation(
                "Digest is invalid length for algorithm ECDSA_SHA_256.".into()
            ))
        );
        assert_eq!(
            check_signing(KeySpec::EccNistP256, S::EcdsaSha384, Raw, 3),
            Err(Error::InvalidKeyUsage(
                "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.".into()
            ))
        );
        assert!(ok(KeySpec::Rsa2048, S::RsassaPssSha512, Digest, 64));
        assert!(ok(KeySpec::Rsa2048, S::RsassaPkcs1V15Sha384, Raw, 4096));
        assert!(matches!(
            check_signing(KeySpec::Rsa2048, S::RsassaPkcs1V15Sha384, Raw, 4097),
            Err(Error::Validation(_))
        ));
        assert!(matches!(
            check_signing(KeySpec::Rsa2048, S::RsassaPssSha256, ExternalMu, 64),
            Err(Error::Validation(_))
        ));
        assert!(ok(KeySpec::EccNistEdwards25519, S::Ed25519Sha512, Raw, 10));
        assert_eq!(
            check_signing(KeySpec::EccNistEdwards25519, S::Ed25519Sha512, Digest, 64),
            Err(Error::Validation(
                "Message type DIGEST is incompatible with algorithm ED25519_SHA_512.".into()
            ))
        );
        assert_eq!(
            check_signing(KeySpec::EccNistEdwards25519, S::Ed25519PhSha512, Raw, 64),
            Err(Error::Validation(
                "Message type RAW is incompatible with algorithm ED25519_PH_SHA_512.".into()
            ))
        );
        assert!(ok(
            KeySpec::EccNistEdwards25519,
            S::Ed25519PhSha512,
            Digest,
            64
        ));
        assert!(!ok(
            KeySpec::EccNistEdwards25519,
            S::Ed25519PhSha512,
            Digest,
            32
        ));
        assert!(ok(KeySpec::MlDsa65, S::MlDsaShake256, Raw, 4096));
        assert!(ok(KeySpec::MlDsa65, S::MlDsaShake256, ExternalMu, 64));
        assert_eq!(
            check_signing(KeySpec::MlDsa44, S::MlDsaShake256, Digest, 32),
            Err(Error::Validation(
                "Message type DIGEST is incompatible with key spec ML_DSA_44.".into()
            ))
        );
        assert!(matches!(
            check_signing(KeySpec::MlDsa44, S::MlDsaShake256, ExternalMu, 63),
            Err(Error::Validation(_))
        ));
        assert!(matches!(
            check_signing(KeySpec::Hmac256, S::EcdsaSha256, Raw, 1),
            Err(Error::InvalidKeyUsage(_))
        ));
    }

    #[test]
    fn oaep_limits_match_aws() {
        // AWS's published limits (RFC 8017: k - 2·hLen - 2).
        let cases = [
            (KeySpec::Rsa2048, E::RsaesOaepSha1, 214),
            (KeySpec::Rsa2048, E::RsaesOaepSha256, 190),
            (KeySpec::Rsa3072, E::RsaesOaepSha1, 342),
            (KeySpec::Rsa3072, E::RsaesOaepSha256, 318),
            (KeySpec::Rsa4096, E::RsaesOaepSha1, 470),
            (KeySpec::Rsa4096, E::RsaesOaepSha256, 446),
        ];
        for (spec, alg, max) in cases {
            assert_eq!(oaep_max_plaintext(spec, alg), Some(max));
            assert!(check_oaep_plaintext(spec, alg, max).is_ok());
            assert_eq!(
                check_oaep_plaintext(spec, alg, max + 1),
                Err(Error::Validation(format!(
                    "Algorithm {alg} and key spec {spec} cannot encrypt data larger than {max} bytes."
                )))
            );
        }
        assert!(check_encryption(KeySpec::Rsa2048, E::SymmetricDefault).is_err());
        assert!(check_encryption(KeySpec::SymmetricDefault, E::RsaesOaepSha256).is_err());
    }

    #[test]
    fn mac_and_agreement_checks() {
        assert!(check_mac(KeySpec::Hmac384, MacAlgorithm::HmacSha384).is_ok());
        assert_eq!(
            check_mac(KeySpec::Hmac224, MacAlgorithm::HmacSha256),
            Err(Error::InvalidKeyUsage(
                "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.".into()
            ))
        );
        assert!(check_key_agreement(KeySpec::EccNistP384, KeyAgreementAlgorithm::Ecdh).is_ok());
        assert!(check_key_agreement(KeySpec::EccSecgP256k1, KeyAgreementAlgorithm::Ecdh).is_err());
        assert!(check_encapsulation(KeySpec::MlKem512, EncapsulationAlgorithm::MlKem).is_ok());
        assert!(check_encapsulation(KeySpec::MlDsa44, EncapsulationAlgorithm::MlKem).is_err());
    }

    #[test]
    fn data_key_pair_specs_map_to_key_specs() {
        for &spec in DataKeyPairSpec::ALL {
            assert_eq!(spec.key_spec().as_str(), spec.as_str());
        }
        assert!(DataKeyPairSpec::Sm2.check_available().is_err());
        assert!(KeySpec::Sm2.check_available().is_err());
    }
}
