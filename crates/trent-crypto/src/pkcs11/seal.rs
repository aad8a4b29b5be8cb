//! The HSM seal: the root key encrypted by a non-extractable AES-256 key in
//! a PKCS#11 token (AES-GCM inside the token).
//!
//! Sealed blob: `"TRNTSEAL" ‖ 0x01 ‖ 0x04 ‖ iv (12) ‖ label length (1) ‖
//! key label ‖ AES-GCM(root key) ‖ tag (16)`, everything before the
//! ciphertext being the associated data. The key is created in the token the
//! first time the seal is used (CKA_TOKEN, CKA_SENSITIVE, not extractable).

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, ObjectClass};
use zeroize::Zeroizing;

use super::key::aes_key_template;
use super::token::{HsmConfig, Token, TokenError};
use crate::root::RootKey;
use crate::seal::{KIND_PKCS11, Seal, check_kind, header};
use crate::{Error, random_bytes};

/// The default label of the root-key wrapping key.
pub const DEFAULT_SEAL_KEY_LABEL: &str = "trent-root-seal";

/// A seal whose key-encryption key never leaves an HSM.
pub struct Pkcs11Seal {
    config: HsmConfig,
    pin: Zeroizing<String>,
    key_label: String,
}

impl std::fmt::Debug for Pkcs11Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Seal")
            .field("hsm", &self.config.name)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Seal {
    /// A seal using the token of `config`, logging in with `pin`, with the
    /// wrapping key labelled `key_label`.
    pub fn new(config: HsmConfig, pin: Zeroizing<String>, key_label: impl Into<String>) -> Self {
        Self {
            config,
            pin,
            key_label: key_label.into(),
        }
    }

    fn open(&self) -> Result<Token, Error> {
        Token::open(&self.config, &self.pin)
            .map_err(|e| Error::Unseal(format!("HSM {:?}: {e}", self.config.name)))
    }

    fn gcm(
        token: &Token,
        label: String,
        create: bool,
        iv: [u8; 12],
        aad: Vec<u8>,
        input: Zeroizing<Vec<u8>>,
        encrypt: bool,
    ) -> Result<Result<Vec<u8>, ()>, TokenError> {
        token.call(move |session| {
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::Label(label.as_bytes().to_vec()),
            ];
            let found = session
                .find_objects(&template)
                .map_err(TokenError::from_p11)?;
            let key = match found.first() {
                Some(key) => *key,
                None if create => session
                    .generate_key(
                        &Mechanism::AesKeyGen,
                        &aes_key_template(&label, label.as_bytes().to_vec()),
                    )
                    .map_err(TokenError::from_p11)?,
                None => return Err(TokenError::ObjectNotFound),
            };
            let mut iv = iv;
            let params =
                GcmParams::new(&mut iv, &aad, 128u64.into()).map_err(TokenError::from_p11)?;
            let mechanism = Mechanism::AesGcm(params);
            let out = if encrypt {
                session.encrypt(&mechanism, key, &input)
            } else {
                session.decrypt(&mechanism, key, &input)
            };
            match out {
                Ok(out) => Ok(Ok(out)),
                Err(e) if TokenError::is_bad_ciphertext(&e) => Ok(Err(())),
                Err(e) => Err(TokenError::from_p11(e)),
            }
        })
    }
}

impl Seal for Pkcs11Seal {
    fn name(&self) -> &'static str {
        "pkcs11"
    }

    fn is_secure(&self) -> bool {
        true
    }

    fn seal(&self, root: &RootKey) -> Result<Vec<u8>, Error> {
        let label = self.key_label.as_bytes();
        let label_len = u8::try_from(label.len()).map_err(|_| Error::Format("seal key label"))?;
        let mut iv = [0u8; 12];
        random_bytes(&mut iv)?;
        let mut params = iv.to_vec();
        params.push(label_len);
        params.extend_from_slice(label);
        let head = header(KIND_PKCS11, &params);
        let token = self.open()?;
        let sealed = Self::gcm(
            &token,
            self.key_label.clone(),
            true,
            iv,
            head.clone(),
            Zeroizing::new(root.expose_bytes().to_vec()),
            true,
        );
        token.close();
        let wrapped = sealed?.map_err(|()| Error::Encrypt)?;
        let mut out = head;
        out.extend_from_slice(&wrapped);
        Ok(out)
    }

    fn unseal(&self, sealed: &[u8]) -> Result<RootKey, Error> {
        check_kind(sealed, KIND_PKCS11, 10 + 12 + 1)?;
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&sealed[10..22]);
        let label_len = usize::from(sealed[22]);
        let head_len = 23 + label_len;
        if sealed.len() < head_len + 32 + 16 {
            return Err(Error::Format("sealed root key"));
        }
        let label = String::from_utf8(sealed[23..head_len].to_vec())
            .map_err(|_| Error::Format("seal key label"))?;
        let token = self.open()?;
        let opened = Self::gcm(
            &token,
            label,
            false,
            iv,
            sealed[..head_len].to_vec(),
            Zeroizing::new(sealed[head_len..].to_vec()),
            false,
        );
        token.close();
        let bytes = Zeroizing::new(
            opened
                .map_err(|e| Error::Unseal(format!("HSM {:?}: {e}", self.config.name)))?
                .map_err(|()| {
                    Error::Unseal("the HSM's seal key does not open this store's root key".into())
                })?,
        );
        let mut root = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(Error::Format("sealed root key length"));
        }
        root.copy_from_slice(&bytes);
        RootKey::from_bytes(root)
    }
}
