//! Importing key material (bring your own key): the wrapping algorithms and
//! wrapping key specs AWS defines, which combinations each key spec allows,
//! the import token's byte layout, the expiration model, and how long the
//! material of each spec must be. The cryptography (unwrapping, the token's
//! MAC, the material fingerprint) lives in `trent_crypto::import`; the
//! byte formats are specified in `docs/FORMATS.md`.

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::key::{DAY_MILLIS, KeyRecord, KeySpec, KeyState, UnixMillis, aws_enum};

/// How long a wrapping key and its import token stay valid: 24 hours.
pub const PARAMETERS_VALIDITY_MILLIS: i64 = DAY_MILLIS;

/// The latest `ValidTo` accepted: 365 days after the request.
pub const MAX_VALID_TO_MILLIS: i64 = 365 * DAY_MILLIS;

aws_enum!(
    /// How the key material is encrypted for transport (`AlgorithmSpec`).
    WrappingAlgorithm {
        /// RSAES-PKCS1-v1_5: refused, as AWS has since October 2023.
        RsaesPkcs1V15 = "RSAES_PKCS1_V1_5",
        /// RSAES-OAEP with SHA-1 of the material.
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        /// RSAES-OAEP with SHA-256 of the material.
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        /// RSAES-OAEP (SHA-1) of an AES-256 key, then RFC 5649 of the material.
        RsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1",
        /// RSAES-OAEP (SHA-256) of an AES-256 key, then RFC 5649 of the material.
        RsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256",
        /// SM2 public-key encryption (China regions only): refused.
        Sm2Pke = "SM2PKE",
    }
);

aws_enum!(
    /// The wrapping key pair's spec.
    WrappingKeySpec {
        /// RSA 2048.
        Rsa2048 = "RSA_2048",
        /// RSA 3072.
        Rsa3072 = "RSA_3072",
        /// RSA 4096.
        Rsa4096 = "RSA_4096",
        /// SM2 (China regions only): refused.
        Sm2 = "SM2",
    }
);

aws_enum!(
    /// Whether imported material expires.
    ExpirationModel {
        /// It expires at `ValidTo`.
        KeyMaterialExpires = "KEY_MATERIAL_EXPIRES",
        /// It does not expire.
        KeyMaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
);

aws_enum!(
    /// Whether an import brings back the key's material or adds new material.
    ImportType {
        /// New material for on-demand rotation (not supported by Trent).
        NewKeyMaterial = "NEW_KEY_MATERIAL",
        /// The key's existing material (first import or re-import).
        ExistingKeyMaterial = "EXISTING_KEY_MATERIAL",
    }
);

impl WrappingAlgorithm {
    /// Whether the material is wrapped with an ephemeral AES key (RFC 5649).
    pub fn uses_aes_key_wrap(self) -> bool {
        matches!(self, Self::RsaAesKeyWrapSha1 | Self::RsaAesKeyWrapSha256)
    }

    /// Whether RSA-OAEP uses SHA-256 (else SHA-1).
    pub fn oaep_sha256(self) -> bool {
        matches!(self, Self::RsaesOaepSha256 | Self::RsaAesKeyWrapSha256)
    }
}

impl WrappingKeySpec {
    /// The RSA modulus length in bytes.
    pub fn modulus_len(self) -> Option<usize> {
        match self {
            Self::Rsa2048 => Some(256),
            Self::Rsa3072 => Some(384),
            Self::Rsa4096 => Some(512),
            Self::Sm2 => None,
        }
    }
}

/// Which key specs accept imported material: symmetric, HMAC, RSA and the
/// elliptic curves. ML-DSA, ML-KEM and SM2 keys are refused at CreateKey.
pub fn check_importable(spec: KeySpec) -> Result<(), Error> {
    match spec {
        KeySpec::MlDsa44
        | KeySpec::MlDsa65
        | KeySpec::MlDsa87
        | KeySpec::MlKem512
        | KeySpec::MlKem768
        | KeySpec::MlKem1024
        | KeySpec::Sm2 => Err(Error::Unsupported(format!(
            "Trent does not support importing key material for key spec {spec}."
        ))),
        _ => Ok(()),
    }
}

/// Checks a GetParametersForImport request against AWS's rules for the
/// key's spec: RSAES_PKCS1_V1_5 is gone, SM2 is China-only, RSA private keys
/// need an RSA_AES wrapping algorithm, and ECC_NIST_P521 material does not
/// fit RSAES-OAEP under an RSA_2048 wrapping key.
pub fn check_wrapping(
    spec: KeySpec,
    algorithm: WrappingAlgorithm,
    wrapping_spec: WrappingKeySpec,
) -> Result<(), Error> {
    use WrappingAlgorithm as A;
    match algorithm {
        A::RsaesPkcs1V15 => {
            return Err(Error::Validation(
                "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.".into(),
            ));
        }
        A::Sm2Pke => {
            return Err(Error::Unsupported(
                "The SM2PKE wrapping algorithm is supported only in China Regions.".into(),
            ));
        }
        _ => {}
    }
    if wrapping_spec == WrappingKeySpec::Sm2 {
        return Err(Error::Unsupported(
            "The SM2 wrapping key spec is supported only in China Regions.".into(),
        ));
    }
    let rsa_material = matches!(spec, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096);
    if rsa_material && !algorithm.uses_aes_key_wrap() {
        return Err(Error::Validation(format!(
            "{algorithm} cannot wrap RSA private key material. Use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256."
        )));
    }
    if spec == KeySpec::EccNistP521
        && wrapping_spec == WrappingKeySpec::Rsa2048
        && !algorithm.uses_aes_key_wrap()
    {
        return Err(Error::Validation(format!(
            "{algorithm} with an RSA_2048 wrapping key cannot wrap ECC_NIST_P521 key material. Use a larger wrapping key or an RSA_AES_KEY_WRAP_SHA_* wrapping algorithm."
        )));
    }
    Ok(())
}

/// The lengths of raw material a symmetric or HMAC spec accepts (`None`
/// for asymmetric specs, whose material is a DER PKCS#8 private key).
/// SYMMETRIC_DEFAULT takes exactly 32 bytes; HMAC keys from the hash's
/// output length up to its block size, as AWS documents.
pub fn raw_material_len(spec: KeySpec) -> Option<std::ops::RangeInclusive<usize>> {
    match spec {
        KeySpec::SymmetricDefault => Some(32..=32),
        KeySpec::Hmac224 => Some(28..=64),
        KeySpec::Hmac256 => Some(32..=64),
        KeySpec::Hmac384 => Some(48..=128),
        KeySpec::Hmac512 => Some(64..=128),
        _ => None,
    }
}

/// Checks the length of raw material for `spec`.
pub fn check_material_len(spec: KeySpec, len: usize) -> Result<(), Error> {
    match raw_material_len(spec) {
        Some(range) if !range.contains(&len) => Err(Error::Validation(format!(
            "The key material for key spec {spec} must be {} to {} bytes long.",
            range.start(),
            range.end()
        ))),
        _ => Ok(()),
    }
}

/// The expiry an ImportKeyMaterial request asks for, checked: with
/// KEY_MATERIAL_EXPIRES (the default, as in AWS) a `ValidTo` in the future
/// and at most 365 days away is required; with KEY_MATERIAL_DOES_NOT_EXPIRE
/// none may be given.
pub fn expiry(
    model: Option<ExpirationModel>,
    valid_to: Option<UnixMillis>,
    now: UnixMillis,
) -> Result<(ExpirationModel, Option<UnixMillis>), Error> {
    match (
        model.unwrap_or(ExpirationModel::KeyMaterialExpires),
        valid_to,
    ) {
        (ExpirationModel::KeyMaterialDoesNotExpire, None) => {
            Ok((ExpirationModel::KeyMaterialDoesNotExpire, None))
        }
        (ExpirationModel::KeyMaterialDoesNotExpire, Some(_)) => Err(Error::Validation(
            "ValidTo must not be specified when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
                .into(),
        )),
        (ExpirationModel::KeyMaterialExpires, None) => Err(Error::Validation(
            "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES.".into(),
        )),
        (ExpirationModel::KeyMaterialExpires, Some(t)) if t <= now => {
            Err(Error::Validation("ValidTo must be in the future.".into()))
        }
        (ExpirationModel::KeyMaterialExpires, Some(t)) if t > now + MAX_VALID_TO_MILLIS => Err(
            Error::Validation("ValidTo must be at most 365 days in the future.".into()),
        ),
        (ExpirationModel::KeyMaterialExpires, Some(t)) => {
            Ok((ExpirationModel::KeyMaterialExpires, Some(t)))
        }
    }
}

/// A key's import state, kept in its [`KeyRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImportState {
    /// Hex HMAC-SHA256 fingerprint of the first material imported (keyed by
    /// a root-derived key; see `docs/FORMATS.md`). Only that material may be
    /// imported again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The expiration model of the material in place (none while pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<ExpirationModel>,
    /// When the material in place expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<UnixMillis>,
    /// The outstanding wrapping key and token, until used or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ImportParameters>,
}

/// An outstanding wrapping key pair and import token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportParameters {
    /// The token id (32 hex characters), also inside the token.
    pub token_id: String,
    /// The wrapping algorithm the caller chose.
    pub algorithm: WrappingAlgorithm,
    /// The wrapping key spec.
    pub wrapping_spec: WrappingKeySpec,
    /// When the parameters stop being valid.
    pub valid_to: UnixMillis,
    /// The wrapping private key (PKCS#8) wrapped under the root key, hex.
    pub wrapped_private_key: String,
}

impl std::fmt::Debug for ImportParameters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportParameters")
            .field("token_id", &self.token_id)
            .field("algorithm", &self.algorithm)
            .field("valid_to", &self.valid_to)
            .finish_non_exhaustive()
    }
}

/// The import token, before its MAC. Layout (`docs/FORMATS.md`):
/// `0x01 ‖ len(key id) (1) ‖ key id ‖ token id (16) ‖ valid to (i64 BE ms)
/// ‖ HMAC-SHA256 (32)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportToken {
    /// The key the token is for.
    pub key_id: String,
    /// The token id.
    pub token_id: [u8; 16],
    /// When it expires.
    pub valid_to: UnixMillis,
}

/// The import token's format version.
pub const TOKEN_V1: u8 = 0x01;
/// The length of the token's MAC.
pub const TOKEN_MAC_LEN: usize = 32;

impl ImportToken {
    /// The bytes the MAC covers (everything but the MAC).
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.key_id.len() + 24);
        out.push(TOKEN_V1);
        out.push(self.key_id.len() as u8);
        out.extend_from_slice(self.key_id.as_bytes());
        out.extend_from_slice(&self.token_id);
        out.extend_from_slice(&self.valid_to.to_be_bytes());
        out
    }

    /// Splits a token into its fields, its body and its MAC. Anything
    /// malformed is [`Error::InvalidImportToken`].
    pub fn parse(token: &[u8]) -> Result<(Self, &[u8], &[u8]), Error> {
        let bad = || Error::InvalidImportToken;
        let (&version, rest) = token.split_first().ok_or_else(bad)?;
        let (&id_len, rest) = rest.split_first().ok_or_else(bad)?;
        let id_len = usize::from(id_len);
        if version != TOKEN_V1 || rest.len() != id_len + 16 + 8 + TOKEN_MAC_LEN {
            return Err(bad());
        }
        let key_id = std::str::from_utf8(&rest[..id_len]).map_err(|_| bad())?;
        let mut token_id = [0u8; 16];
        token_id.copy_from_slice(&rest[id_len..id_len + 16]);
        let mut valid_to = [0u8; 8];
        valid_to.copy_from_slice(&rest[id_len + 16..id_len + 24]);
        let body_len = 2 + id_len + 24;
        Ok((
            Self {
                key_id: key_id.to_owned(),
                token_id,
                valid_to: i64::from_be_bytes(valid_to),
            },
            &token[..body_len],
            &token[body_len..],
        ))
    }
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inverse of [`to_hex`].
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl KeyRecord {
    /// Checks the key takes imported material (Origin EXTERNAL, not pending
    /// deletion), with AWS's errors.
    pub fn check_external(&self) -> Result<(), Error> {
        if self.origin != crate::key::Origin::External {
            return Err(Error::Unsupported(format!(
                "{} has origin {}: importing key material requires origin EXTERNAL.",
                self.arn(),
                self.origin
            )));
        }
        match self.state {
            KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport => Ok(()),
            state => Err(Error::InvalidState {
                arn: self.arn(),
                state,
            }),
        }
    }

    /// Checks an authentic token against this key and its outstanding
    /// parameters: another key's token or a replaced/used one is invalid, a
    /// past one expired.
    pub fn check_token(&self, token: &ImportToken, now: UnixMillis) -> Result<(), Error> {
        if token.key_id != self.key_id {
            return Err(Error::InvalidImportToken);
        }
        if token.valid_to <= now {
            return Err(Error::ExpiredImportToken);
        }
        let current = self.import.as_ref().and_then(|i| i.parameters.as_ref());
        match current {
            Some(p) if p.token_id == to_hex(&token.token_id) && p.valid_to > now => Ok(()),
            _ => Err(Error::InvalidImportToken),
        }
    }

    /// Records imported material: the key becomes Enabled (from
    /// PendingImport), the parameters are consumed.
    pub fn imported(
        &mut self,
        fingerprint: String,
        model: ExpirationModel,
        valid_to: Option<UnixMillis>,
    ) {
        let import = self.import.get_or_insert_with(ImportState::default);
        import.fingerprint = Some(fingerprint);
        import.expiration_model = Some(model);
        import.valid_to = valid_to;
        import.parameters = None;
        if self.state == KeyState::PendingImport {
            self.state = KeyState::Enabled;
        }
    }

    /// DeleteImportedKeyMaterial or expiry: back to PendingImport. The
    /// fingerprint stays, so only the same material can come back.
    pub fn material_deleted(&mut self) {
        if let Some(import) = self.import.as_mut() {
            import.expiration_model = None;
            import.valid_to = None;
        }
        self.state = KeyState::PendingImport;
    }

    /// Whether the key has material: always for Trent-made keys; for keys
    /// with origin EXTERNAL, while imported material is in place.
    pub fn has_material(&self) -> bool {
        self.origin != crate::key::Origin::External
            || self
                .import
                .as_ref()
                .is_some_and(|i| i.expiration_model.is_some())
    }

    /// Whether imported material has expired at `now`.
    pub fn material_expired(&self, now: UnixMillis) -> bool {
        matches!(self.state, KeyState::Enabled | KeyState::Disabled)
            && self
                .import
                .as_ref()
                .and_then(|i| i.valid_to)
                .is_some_and(|t| t <= now)
    }

    /// Whether outstanding import parameters have expired at `now`.
    pub fn parameters_expired(&self, now: UnixMillis) -> bool {
        self.import
            .as_ref()
            .and_then(|i| i.parameters.as_ref())
            .is_some_and(|p| p.valid_to <= now)
    }

    /// The next time the scheduler must look at this key for anything but
    /// its deletion: automatic rotation (while enabled) or an import expiry.
    /// Stores index this value (SQLite and PostgreSQL: the `next_rotation`
    /// column).
    pub fn next_job(&self) -> Option<UnixMillis> {
        let rotation = self
            .rotation
            .next_rotation
            .filter(|_| self.rotation.enabled);
        match (rotation, self.import_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next time a background job must look at this key for its import
    /// state: material expiry or parameter expiry, whichever is first.
    pub fn import_due(&self) -> Option<UnixMillis> {
        let import = self.import.as_ref()?;
        let material = import
            .valid_to
            .filter(|_| matches!(self.state, KeyState::Enabled | KeyState::Disabled));
        let parameters = import.parameters.as_ref().map(|p| p.valid_to);
        match (material, parameters) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_rejects_garbage() {
        let token = ImportToken {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            token_id: [7; 16],
            valid_to: 86_400_000,
        };
        let mut bytes = token.body();
        bytes.extend_from_slice(&[9; 32]);
        let (parsed, body, mac) = ImportToken::parse(&bytes).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(body, token.body().as_slice());
        assert_eq!(mac, &[9; 32]);
        assert_eq!(
            ImportToken::parse(&bytes[..bytes.len() - 1]),
            Err(Error::InvalidImportToken)
        );
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert_eq!(ImportToken::parse(&bad), Err(Error::InvalidImportToken));
        assert_eq!(ImportToken::parse(&[]), Err(Error::InvalidImportToken));
    }

    #[test]
    fn wrapping_rules() {
        use WrappingAlgorithm as A;
        use WrappingKeySpec as W;
        let sym = KeySpec::SymmetricDefault;
        assert!(check_wrapping(sym, A::RsaesOaepSha256, W::Rsa2048).is_ok());
        assert!(check_wrapping(sym, A::RsaesPkcs1V15, W::Rsa2048).is_err());
        assert!(check_wrapping(sym, A::Sm2Pke, W::Rsa2048).is_err());
        assert!(check_wrapping(sym, A::RsaesOaepSha1, W::Sm2).is_err());
        assert!(check_wrapping(KeySpec::Rsa2048, A::RsaesOaepSha256, W::Rsa4096).is_err());
        assert!(check_wrapping(KeySpec::Rsa2048, A::RsaAesKeyWrapSha256, W::Rsa2048).is_ok());
        assert!(check_wrapping(KeySpec::EccNistP521, A::RsaesOaepSha1, W::Rsa2048).is_err());
        assert!(check_wrapping(KeySpec::EccNistP521, A::RsaesOaepSha1, W::Rsa3072).is_ok());
    }

    #[test]
    fn material_lengths_and_expiry() {
        assert!(check_material_len(KeySpec::SymmetricDefault, 32).is_ok());
        assert!(check_material_len(KeySpec::SymmetricDefault, 31).is_err());
        assert!(check_material_len(KeySpec::Hmac224, 28).is_ok());
        assert!(check_material_len(KeySpec::Hmac512, 129).is_err());
        assert!(check_material_len(KeySpec::EccNistP256, 1).is_ok());
        let now = 1000;
        assert!(expiry(None, None, now).is_err());
        assert_eq!(
            expiry(Some(ExpirationModel::KeyMaterialDoesNotExpire), None, now),
            Ok((ExpirationModel::KeyMaterialDoesNotExpire, None))
        );
        assert!(
            expiry(
                Some(ExpirationModel::KeyMaterialDoesNotExpire),
                Some(2000),
                now
            )
            .is_err()
        );
        assert!(expiry(None, Some(now), now).is_err());
        assert!(expiry(None, Some(now + MAX_VALID_TO_MILLIS + 1), now).is_err());
        assert_eq!(
            expiry(None, Some(2000), now),
            Ok((ExpirationModel::KeyMaterialExpires, Some(2000)))
        );
        assert_eq!(from_hex(&to_hex(&[0, 255, 16])), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("zz"), None);
    }
}
