//! KMS keys of a custom key store: AES-256 keys generated in the token,
//! sensitive and non-extractable, used for AES-GCM inside the token.
//!
//! What Trent stores for such a key version ("wrapped" material) is a handle
//! reference, never key bytes: `0x01 ‖ label`, the label being
//! `trent:` ‖ the material id (64 hex characters). The object's CKA_ID is
//! the material id's 32 bytes.
//!
//! Encryption uses CKM_AES_GCM with the first 12 bytes of the ciphertext
//! header's random salt as the IV and a 128-bit tag. Unlike the software
//! backend there is no per-message key: the random 96-bit IV bounds one key
//! version to about 2^32 messages (NIST SP 800-38D), which rotation resets.

use std::sync::{Arc, RwLock};

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use trent_core::key::{KeySpec, KeyUsage};
use zeroize::Zeroizing;

use super::token::{Token, TokenError};
use crate::Error;
use crate::backend::{KeyBackend, KeyVersion, MaterialOwner, SymmetricKey};
use crate::root::RootKey;

const HANDLE_V1: u8 = 0x01;
const TAG_BITS: u64 = 128;

/// The connection of one custom key store, shared by its loaded keys: while
/// it is empty (disconnected) every use fails with
/// [`TokenError::Disconnected`].
#[derive(Debug, Default)]
pub struct Connection {
    token: RwLock<Option<Token>>,
}

impl Connection {
    /// The token, or [`TokenError::Disconnected`].
    pub fn token(&self) -> Result<Token, TokenError> {
        self.token
            .read()
            .ok()
            .and_then(|t| t.clone())
            .ok_or(TokenError::Disconnected)
    }

    /// Whether a token is connected.
    pub fn is_connected(&self) -> bool {
        self.token().is_ok()
    }

    /// Installs a logged-in token.
    pub fn connect(&self, token: Token) {
        if let Ok(mut slot) = self.token.write()
            && let Some(old) = slot.replace(token)
        {
            old.close();
        }
    }

    /// Logs out and forgets the token.
    pub fn disconnect(&self) {
        if let Ok(mut slot) = self.token.write()
            && let Some(old) = slot.take()
        {
            old.close();
        }
    }
}

/// The key backend of one custom key store.
#[derive(Debug, Default)]
pub struct Pkcs11Backend {
    connection: Arc<Connection>,
}

impl Pkcs11Backend {
    /// A backend, disconnected.
    pub fn new() -> Self {
        Self::default()
    }

    /// The store's connection.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    fn token(&self) -> Result<Token, Error> {
        Ok(self.connection.token()?)
    }
}

/// The label of a key version's object.
fn label_for(material_id: &str) -> String {
    format!("trent:{material_id}")
}

fn parse_handle(stored: &[u8]) -> Result<String, Error> {
    match stored.split_first() {
        Some((&HANDLE_V1, label)) if label.starts_with(b"trent:") => {
            String::from_utf8(label.to_vec()).map_err(|_| Error::Format("PKCS#11 key handle"))
        }
        _ => Err(Error::Format("PKCS#11 key handle")),
    }
}

fn find_key(session: &Session, label: &str) -> Result<ObjectHandle, TokenError> {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(TokenError::from_p11)?;
    found.first().copied().ok_or(TokenError::ObjectNotFound)
}

/// The template of a new AES-256 key: a token object that never leaves it.
pub(crate) fn aes_key_template(label: &str, id: Vec<u8>) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
    ]
}

impl KeyBackend for Pkcs11Backend {
    fn create_material(
        &self,
        _root: &RootKey,
        owner: MaterialOwner<'_>,
        spec: KeySpec,
        usage: KeyUsage,
    ) -> Result<Vec<u8>, Error> {
        if spec != KeySpec::SymmetricDefault || usage != KeyUsage::EncryptDecrypt {
            return Err(Error::Unsupported(format!(
                "custom key stores hold SYMMETRIC_DEFAULT keys only, not {spec}"
            )));
        }
        let label = label_for(owner.material_id);
        let id = hex_id(owner.material_id);
        let template = aes_key_template(&label, id);
        self.token()?.call(move |session| {
            session
                .generate_key(&Mechanism::AesKeyGen, &template)
                .map_err(TokenError::from_p11)
        })?;
        let mut stored = vec![HANDLE_V1];
        stored.extend_from_slice(label.as_bytes());
        Ok(stored)
    }

    fn load(
        &self,
        _root: &RootKey,
        _owner: MaterialOwner<'_>,
        spec: KeySpec,
        usage: KeyUsage,
        stored: &[u8],
    ) -> Result<KeyVersion, Error> {
        if spec != KeySpec::SymmetricDefault || usage != KeyUsage::EncryptDecrypt {
            return Err(Error::Unsupported(format!("{spec} in a custom key store")));
        }
        // Loading does not touch the token: a disconnected store's keys load,
        // and fail when used, so DescribeKey keeps working.
        Ok(KeyVersion::Symmetric(Arc::new(Pkcs11SymmetricKey {
            connection: self.connection.clone(),
            label: parse_handle(stored)?,
        })))
    }

    fn destroy_material(&self, _owner: MaterialOwner<'_>, stored: &[u8]) -> Result<(), Error> {
        let label = parse_handle(stored)?;
        self.token()?
            .call(move |session| match find_key(session, &label) {
                Ok(handle) => session.destroy_object(handle).map_err(TokenError::from_p11),
                // Already gone (a retried deletion).
                Err(TokenError::ObjectNotFound) => Ok(()),
                Err(e) => Err(e),
            })?;
        Ok(())
    }
}

fn hex_id(material_id: &str) -> Vec<u8> {
    (0..material_id.len() / 2)
        .filter_map(|i| u8::from_str_radix(material_id.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// A key version whose AES key is an object in the token.
#[derive(Debug)]
pub struct Pkcs11SymmetricKey {
    connection: Arc<Connection>,
    label: String,
}

impl Pkcs11SymmetricKey {
    fn gcm(
        &self,
        salt: &[u8; 32],
        aad: &[u8],
        input: &[u8],
        encrypt: bool,
    ) -> Result<Vec<u8>, Error> {
        let token = self.connection.token()?;
        let label = self.label.clone();
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&salt[..12]);
        let aad = aad.to_vec();
        let input = Zeroizing::new(input.to_vec());
        let result = token.call(move |session| {
            let key = find_key(session, &label)?;
            let params =
                GcmParams::new(&mut iv, &aad, TAG_BITS.into()).map_err(TokenError::from_p11)?;
            let mechanism = Mechanism::AesGcm(params);
            let out = if encrypt {
                session.encrypt(&mechanism, key, &input)
            } else {
                session.decrypt(&mechanism, key, &input)
            };
            Ok(out.map_err(|e| {
                if TokenError::is_bad_ciphertext(&e) {
                    None
                } else {
                    Some(TokenError::from_p11(e))
                }
            }))
        })?;
        match result {
            Ok(out) => Ok(out),
            Err(None) if !encrypt => Err(Error::Decrypt),
            Err(None) => Err(Error::Encrypt),
            Err(Some(e)) => Err(e.into()),
        }
    }
}

impl SymmetricKey for Pkcs11SymmetricKey {
    fn encrypt(&self, salt: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.gcm(salt, aad, plaintext, true)
    }

    fn decrypt(
        &self,
        salt: &[u8; 32],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if sealed.len() < 16 {
            return Err(Error::Decrypt);
        }
        Ok(Zeroizing::new(self.gcm(salt, aad, sealed, false)?))
    }

    fn blocks(&self) -> bool {
        true
    }
}

/// Reads back a key version's CKA_SENSITIVE and CKA_EXTRACTABLE, for tests
/// and operators proving the material cannot leave the token.
pub fn key_protection(connection: &Connection, stored: &[u8]) -> Result<(bool, bool), Error> {
    let label = parse_handle(stored)?;
    let token = connection.token()?;
    Ok(token.call(move |session| {
        let key = find_key(session, &label)?;
        let attrs = session
            .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
            .map_err(TokenError::from_p11)?;
        let (mut sensitive, mut extractable) = (false, true);
        for attr in attrs {
            match attr {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                _ => {}
            }
        }
        Ok((sensitive, extractable))
    })?)
}
