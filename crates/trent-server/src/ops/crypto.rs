//! The cryptographic operations on symmetric keys: Encrypt, Decrypt,
//! ReEncrypt, GenerateDataKey(WithoutPlaintext) and GenerateRandom. After
//! the first use of a key they touch only memory.

use std::sync::Arc;

use trent_core::ciphertext::{self, Header};
use trent_core::context::{self, EncryptionContext};
use trent_core::ids::AliasUse;
use trent_core::key::{KeySpec, KeyUsage, StateUse};
use trent_proto::error::ErrorCode;
use trent_proto::ops::{self as wire, OutBlob};
use zeroize::Zeroizing;

use super::{Caller, dry_run, load_key, required, resolve_key_id};
use crate::cache::LoadedKey;
use crate::error::{ServerError, api, validation};
use crate::node::Node;

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

fn check_algorithm(algorithm: &Option<String>, field: &str) -> Result<(), ServerError> {
    match algorithm.as_deref() {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(a @ ("RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256" | "SM2PKE")) => Err(api(
            ErrorCode::InvalidKeyUsage,
            format!("The encryption algorithm {a} is not compatible with a symmetric KMS key."),
        )),
        Some(a) => Err(validation(format!(
            "Value '{a}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"
        ))),
    }
}

fn check_usable(key: &LoadedKey) -> Result<(), ServerError> {
    key.record.check_state(StateUse::Cryptographic)?;
    if key.record.usage != KeyUsage::EncryptDecrypt || key.record.spec != KeySpec::SymmetricDefault
    {
        return Err(api(
            ErrorCode::InvalidKeyUsage,
            format!(
                "{} key usage is {} which is not valid for this operation.",
                key.arn, key.record.usage
            ),
        ));
    }
    Ok(())
}

fn check_context(ctx: &Option<EncryptionContext>, field: &str) -> Result<(), ServerError> {
    if let Some(ctx) = ctx {
        context::validate(ctx, field)?;
    }
    Ok(())
}

fn aad(raw_header: &[u8], ctx: &Option<EncryptionContext>) -> Vec<u8> {
    let empty = EncryptionContext::new();
    let canonical = context::canonical_bytes(ctx.as_ref().unwrap_or(&empty));
    let mut aad = Vec::with_capacity(raw_header.len() + canonical.len());
    aad.extend_from_slice(raw_header);
    aad.extend_from_slice(&canonical);
    aad
}

/// Encrypts under the key's current material; returns (blob, material id).
fn seal(
    key: &LoadedKey,
    ctx: &Option<EncryptionContext>,
    plaintext: &[u8],
) -> Result<(Vec<u8>, String), ServerError> {
    let (material_id, version) = key.current().ok_or(ServerError::Sealed)?;
    let mut salt = [0u8; 32];
    trent_crypto::random_bytes(&mut salt)?;
    let header = Header {
        key_id: ciphertext::key_id_bytes(&key.record.key_id)?,
        material_id: ciphertext::material_id_bytes(material_id)?,
        salt,
    }
    .encode();
    let sealed = version.encrypt(&salt, &aad(&header, ctx), plaintext)?;
    let mut blob = Vec::with_capacity(header.len() + sealed.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&sealed);
    Ok((blob, material_id.to_owned()))
}

/// What opening a ciphertext yields.
struct Opened {
    key: Arc<LoadedKey>,
    material_id: String,
    plaintext: Zeroizing<Vec<u8>>,
}

/// Decrypts a blob; `expected_key` is the optional KeyId argument.
fn open(
    node: &Node,
    caller: &Caller,
    blob: &[u8],
    ctx: &Option<EncryptionContext>,
    expected_key: Option<&str>,
) -> Result<Opened, ServerError> {
    let (header, raw_header, sealed) = ciphertext::parse(blob)?;
    let key_id = header.key_id_string();
    if let Some(expected) = expected_key
        && resolve_key_id(node, caller, expected, AliasUse::Allowed)? != key_id
    {
        return Err(trent_core::Error::IncorrectKey.into());
    }
    let key = load_key(node, caller, &key_id, AliasUse::Refused)?;
    check_usable(&key)?;
    let material_id = header.material_id_hex();
    let version = key
        .version(&material_id)
        .ok_or(trent_core::Error::InvalidCiphertext)?;
    let plaintext = version.decrypt(&header.salt, &aad(raw_header, ctx), sealed)?;
    Ok(Opened {
        key: key.clone(),
        material_id,
        plaintext,
    })
}

fn check_plaintext(plaintext: &[u8]) -> Result<(), ServerError> {
    if plaintext.is_empty() {
        return Err(validation(
            "Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if plaintext.len() > 4096 {
        return Err(validation(
            "Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
        ));
    }
    Ok(())
}

fn check_blob(blob: &[u8]) -> Result<(), ServerError> {
    if blob.is_empty() {
        return Err(validation(
            "Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if blob.len() > ciphertext::MAX_BLOB_LEN {
        return Err(validation(
            "Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144",
        ));
    }
    Ok(())
}

pub(super) fn encrypt(
    node: &Node,
    caller: &Caller,
    req: wire::EncryptRequest,
) -> Result<wire::EncryptResponse, ServerError> {
    let key_arg = required(&req.key_id, "keyId")?;
    let plaintext = required(&req.plaintext, "plaintext")?;
    check_plaintext(plaintext)?;
    check_context(&req.encryption_context, "encryptionContext")?;
    check_algorithm(&req.encryption_algorithm, "encryptionAlgorithm")?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    check_usable(&key)?;
    dry_run(req.dry_run)?;
    let (blob, _) = seal(&key, &req.encryption_context, plaintext)?;
    Ok(wire::EncryptResponse {
        ciphertext_blob: Some(OutBlob(Zeroizing::new(blob))),
        key_id: key.arn.clone(),
        encryption_algorithm: SYMMETRIC_DEFAULT.into(),
    })
}

pub(super) fn decrypt(
    node: &Node,
    caller: &Caller,
    req: wire::DecryptRequest,
) -> Result<wire::DecryptResponse, ServerError> {
    let blob = required(&req.ciphertext_blob, "ciphertextBlob")?;
    check_blob(blob)?;
    check_context(&req.encryption_context, "encryptionContext")?;
    check_algorithm(&req.encryption_algorithm, "encryptionAlgorithm")?;
    let opened = open(
        node,
        caller,
        blob,
        &req.encryption_context,
        req.key_id.as_deref(),
    )?;
    dry_run(req.dry_run)?;
    Ok(wire::DecryptResponse {
        key_id: opened.key.arn.clone(),
        plaintext: Some(OutBlob(opened.plaintext)),
        encryption_algorithm: SYMMETRIC_DEFAULT.into(),
        key_material_id: Some(opened.material_id),
    })
}

pub(super) fn re_encrypt(
    node: &Node,
    caller: &Caller,
    req: wire::ReEncryptRequest,
) -> Result<wire::ReEncryptResponse, ServerError> {
    let blob = required(&req.ciphertext_blob, "ciphertextBlob")?;
    let destination_arg = required(&req.destination_key_id, "destinationKeyId")?;
    check_blob(blob)?;
    check_context(&req.source_encryption_context, "sourceEncryptionContext")?;
    check_context(
        &req.destination_encryption_context,
        "destinationEncryptionContext",
    )?;
    check_algorithm(
        &req.source_encryption_algorithm,
        "sourceEncryptionAlgorithm",
    )?;
    check_algorithm(
        &req.destination_encryption_algorithm,
        "destinationEncryptionAlgorithm",
    )?;
    let destination = load_key(node, caller, destination_arg, AliasUse::Allowed)?;
    check_usable(&destination)?;
    let opened = open(
        node,
        caller,
        blob,
        &req.source_encryption_context,
        req.source_key_id.as_deref(),
    )?;
    dry_run(req.dry_run)?;
    let (new_blob, new_material) = seal(
        &destination,
        &req.destination_encryption_context,
        &opened.plaintext,
    )?;
    Ok(wire::ReEncryptResponse {
        ciphertext_blob: Some(OutBlob(Zeroizing::new(new_blob))),
        source_key_id: opened.key.arn.clone(),
        key_id: destination.arn.clone(),
        source_encryption_algorithm: SYMMETRIC_DEFAULT.into(),
        destination_encryption_algorithm: SYMMETRIC_DEFAULT.into(),
        source_key_material_id: Some(opened.material_id),
        destination_key_material_id: Some(new_material),
    })
}

fn data_key_length(
    number_of_bytes: Option<i64>,
    key_spec: &Option<String>,
) -> Result<usize, ServerError> {
    match (number_of_bytes, key_spec.as_deref()) {
        (Some(_), Some(_)) => Err(validation(
            "Please specify either number of bytes or key spec.",
        )),
        (None, None) => Err(validation(
            "Please specify either number of bytes or key spec.",
        )),
        (Some(n @ 1..=1024), None) => Ok(n as usize),
        (Some(n), None) => Err(validation(format!(
            "Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
        ))),
        (None, Some("AES_256")) => Ok(32),
        (None, Some("AES_128")) => Ok(16),
        (None, Some(s)) => Err(validation(format!(
            "Value '{s}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        ))),
    }
}

pub(super) fn generate_data_key(
    node: &Node,
    caller: &Caller,
    req: wire::GenerateDataKeyRequest,
    with_plaintext: bool,
) -> Result<wire::GenerateDataKeyResponse, ServerError> {
    let key_arg = required(&req.key_id, "keyId")?;
    let length = data_key_length(req.number_of_bytes, &req.key_spec)?;
    check_context(&req.encryption_context, "encryptionContext")?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    check_usable(&key)?;
    dry_run(req.dry_run)?;
    let mut data_key = Zeroizing::new(vec![0u8; length]);
    trent_crypto::random_bytes(&mut data_key)?;
    let (blob, material_id) = seal(&key, &req.encryption_context, &data_key)?;
    Ok(wire::GenerateDataKeyResponse {
        ciphertext_blob: Some(OutBlob(Zeroizing::new(blob))),
        plaintext: with_plaintext.then_some(OutBlob(data_key)),
        key_id: key.arn.clone(),
        key_material_id: Some(material_id),
    })
}

pub(super) fn generate_random(
    req: wire::GenerateRandomRequest,
) -> Result<wire::GenerateRandomResponse, ServerError> {
    if req.custom_key_store_id.is_some() {
        return Err(api(
            ErrorCode::NotFound,
            "Custom key stores are not supported yet.",
        ));
    }
    let n = match req.number_of_bytes {
        Some(n @ 1..=1024) => n as usize,
        Some(n) => {
            return Err(validation(format!(
                "Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
            )));
        }
        None => {
            return Err(validation(
                "Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null",
            ));
        }
    };
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    trent_crypto::random_bytes(&mut bytes)?;
    Ok(wire::GenerateRandomResponse {
        plaintext: Some(OutBlob(bytes)),
    })
}
