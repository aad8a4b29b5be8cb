//! The encryption operations: Encrypt, Decrypt, ReEncrypt and
//! GenerateDataKey(WithoutPlaintext), with symmetric keys (Trent's ciphertext
//! format, `docs/FORMATS.md`) and RSA keys (RSAES-OAEP, the raw RSA output
//! as AWS returns it), and GenerateRandom. After the first use of a key they
//! touch only memory.
//!
//! A symmetric ciphertext names its key; an RSA ciphertext does not, so
//! Decrypt needs the KeyId and the EncryptionAlgorithm to open one, as in AWS.
//! Asymmetric encryption takes no encryption context.

use std::sync::Arc;

use trent_core::ciphertext::{self, Header};
use trent_core::context::{self, EncryptionContext};
use trent_core::ids::AliasUse;
use trent_core::key::{KeyUsage, StateUse};
use trent_core::spec::{self, EncryptionAlgorithm};
use trent_proto::error::ErrorCode;
use trent_proto::ops::{self as wire, OutBlob};
use zeroize::Zeroizing;

use super::{Caller, dry_run, enum_arg, load_key, off_executor, required};
use crate::authz::{Conditions, authorize};
use crate::cache::LoadedKey;
use crate::error::{ServerError, api, validation};
use crate::node::Node;

/// An EncryptionAlgorithm argument; SYMMETRIC_DEFAULT when absent.
fn algorithm_arg(value: &Option<String>, field: &str) -> Result<EncryptionAlgorithm, ServerError> {
    Ok(enum_arg(
        value,
        field,
        EncryptionAlgorithm::parse,
        EncryptionAlgorithm::wire_names,
    )?
    .unwrap_or(EncryptionAlgorithm::SymmetricDefault))
}

/// Checks that `key` may encrypt or decrypt with `algorithm` in `operation`:
/// its state, its usage, then the algorithm against its key spec.
pub(super) fn check_encryption_key(
    key: &LoadedKey,
    algorithm: EncryptionAlgorithm,
    operation: &str,
) -> Result<(), ServerError> {
    key.record.check_state(StateUse::Cryptographic)?;
    key.record
        .check_usage(KeyUsage::EncryptDecrypt, operation)?;
    spec::check_encryption(key.record.spec, algorithm)?;
    Ok(())
}

pub(super) fn check_context(
    ctx: &Option<EncryptionContext>,
    field: &str,
) -> Result<(), ServerError> {
    if let Some(ctx) = ctx {
        context::validate(ctx, field)?;
    }
    Ok(())
}

fn has_context(ctx: &Option<EncryptionContext>) -> bool {
    ctx.as_ref().is_some_and(|c| !c.is_empty())
}

fn aad(raw_header: &[u8], ctx: &Option<EncryptionContext>) -> Vec<u8> {
    let empty = EncryptionContext::new();
    let canonical = context::canonical_bytes(ctx.as_ref().unwrap_or(&empty));
    let mut aad = Vec::with_capacity(raw_header.len() + canonical.len());
    aad.extend_from_slice(raw_header);
    aad.extend_from_slice(&canonical);
    aad
}

/// Encrypts under the key's current symmetric material; returns (blob,
/// material id).
pub(super) fn seal(
    key: &LoadedKey,
    ctx: &Option<EncryptionContext>,
    plaintext: &[u8],
) -> Result<(Vec<u8>, String), ServerError> {
    let (material_id, version) = key.current_symmetric()?;
    let mut salt = [0u8; 32];
    trent_crypto::random_bytes(&mut salt)?;
    let header = Header {
        key_id: ciphertext::key_id_bytes(&key.record.key_id)?,
        material_id: ciphertext::material_id_bytes(material_id)?,
        salt,
    }
    .encode();
    let sealed = off_executor(version.blocks(), || {
        version.encrypt(&salt, &aad(&header, ctx), plaintext)
    })?;
    let mut blob = Vec::with_capacity(header.len() + sealed.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&sealed);
    Ok((blob, material_id.to_owned()))
}

/// The checks an asymmetric encryption adds: no encryption context, and a
/// plaintext RSAES-OAEP can hold.
fn check_asymmetric_input(
    key: &LoadedKey,
    algorithm: EncryptionAlgorithm,
    ctx: &Option<EncryptionContext>,
    plaintext_len: usize,
) -> Result<(), ServerError> {
    if algorithm != EncryptionAlgorithm::SymmetricDefault {
        spec::check_no_context(has_context(ctx))?;
        spec::check_oaep_plaintext(key.record.spec, algorithm, plaintext_len)?;
    }
    Ok(())
}

/// Encrypts under a checked key; returns the ciphertext and, for symmetric
/// keys, the material id.
fn encrypt_with(
    key: &LoadedKey,
    algorithm: EncryptionAlgorithm,
    ctx: &Option<EncryptionContext>,
    plaintext: &[u8],
) -> Result<(Vec<u8>, Option<String>), ServerError> {
    if algorithm == EncryptionAlgorithm::SymmetricDefault {
        let (blob, material_id) = seal(key, ctx, plaintext)?;
        return Ok((blob, Some(material_id)));
    }
    Ok((key.decrypting()?.encrypt(algorithm, plaintext)?, None))
}

/// What opening a ciphertext yields.
struct Opened {
    key: Arc<LoadedKey>,
    /// The material version, for symmetric ciphertexts.
    material_id: Option<String>,
    plaintext: Zeroizing<Vec<u8>>,
}

/// Decrypts a ciphertext made with `algorithm`. `key_arg` is the optional
/// KeyId argument: checked against a symmetric blob's own key id, required
/// for an asymmetric ciphertext (which names no key).
fn open(
    node: &Node,
    caller: &Caller,
    blob: &[u8],
    ctx: &Option<EncryptionContext>,
    key_arg: Option<&str>,
    algorithm: EncryptionAlgorithm,
    operation: &str,
) -> Result<Opened, ServerError> {
    if algorithm == EncryptionAlgorithm::SymmetricDefault {
        return open_symmetric(node, caller, blob, ctx, key_arg, operation);
    }
    let key_arg = key_arg.ok_or(trent_core::Error::InvalidCiphertext)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize_open(node, caller, &key, ctx, Some(key_arg), algorithm, operation)?;
    check_encryption_key(&key, algorithm, operation)?;
    spec::check_no_context(has_context(ctx))?;
    let decrypting = key.decrypting()?;
    let plaintext = off_executor(true, || decrypting.decrypt(algorithm, blob))?;
    Ok(Opened {
        key,
        material_id: None,
        plaintext,
    })
}

fn open_symmetric(
    node: &Node,
    caller: &Caller,
    blob: &[u8],
    ctx: &Option<EncryptionContext>,
    expected_key: Option<&str>,
    operation: &str,
) -> Result<Opened, ServerError> {
    // A named key may be another account's (by key or alias ARN). A named
    // key that is not symmetric cannot have made a symmetric blob: the answer
    // is the same as for bytes that do not parse, whatever they look like (an
    // RSA ciphertext can happen to start like a symmetric header).
    let named = match expected_key {
        Some(expected) => {
            let key = load_key(node, caller, expected, AliasUse::Allowed)?;
            if key.record.spec != trent_core::key::KeySpec::SymmetricDefault {
                return Err(trent_core::Error::InvalidCiphertext.into());
            }
            Some(key)
        }
        None => None,
    };
    let (header, raw_header, sealed) = ciphertext::parse(blob)?;
    let key_id = header.key_id_string();
    let key = match named {
        Some(key) => {
            if key.record.key_id != key_id {
                return Err(trent_core::Error::IncorrectKey.into());
            }
            key
        }
        // A key id no key has is a damaged blob, answered like every other
        // corruption.
        None => match load_key(node, caller, &key_id, AliasUse::Refused) {
            Err(ServerError::Core(trent_core::Error::NotFound(_))) => {
                return Err(trent_core::Error::InvalidCiphertext.into());
            }
            other => other?,
        },
    };
    authorize_open(
        node,
        caller,
        &key,
        ctx,
        expected_key,
        EncryptionAlgorithm::SymmetricDefault,
        operation,
    )?;
    check_encryption_key(&key, EncryptionAlgorithm::SymmetricDefault, operation)?;
    let material_id = header.material_id_hex();
    let version = key
        .symmetric_version(&material_id)
        .ok_or(trent_core::Error::InvalidCiphertext)?;
    let plaintext = off_executor(version.blocks(), || {
        version.decrypt(&header.salt, &aad(raw_header, ctx), sealed)
    })?;
    Ok(Opened {
        key: key.clone(),
        material_id: Some(material_id),
        plaintext,
    })
}

/// Authorizes the decrypting half of Decrypt (`kms:Decrypt`) or ReEncrypt
/// (`kms:ReEncryptFrom`), before any decryption is attempted.
fn authorize_open(
    node: &Node,
    caller: &Caller,
    key: &LoadedKey,
    ctx: &Option<EncryptionContext>,
    key_arg: Option<&str>,
    algorithm: EncryptionAlgorithm,
    operation: &str,
) -> Result<(), ServerError> {
    let action = if operation == "ReEncrypt" {
        "ReEncryptFrom"
    } else {
        operation
    };
    let conditions = Conditions::new()
        .encryption_context(ctx)
        .set("kms:EncryptionAlgorithm", algorithm.as_str());
    let conditions = match key_arg {
        Some(raw) => conditions.request_alias(raw),
        None => conditions,
    };
    authorize(node, caller, action, Some(&key.record), conditions)
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
    let algorithm = algorithm_arg(&req.encryption_algorithm, "encryptionAlgorithm")?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "Encrypt",
        Some(&key.record),
        Conditions::new()
            .encryption_context(&req.encryption_context)
            .set("kms:EncryptionAlgorithm", algorithm.as_str())
            .request_alias(key_arg),
    )?;
    check_encryption_key(&key, algorithm, "Encrypt")?;
    check_asymmetric_input(&key, algorithm, &req.encryption_context, plaintext.len())?;
    dry_run(req.dry_run)?;
    let (blob, _) = encrypt_with(&key, algorithm, &req.encryption_context, plaintext)?;
    Ok(wire::EncryptResponse {
        ciphertext_blob: Some(OutBlob(Zeroizing::new(blob))),
        key_id: key.arn.clone(),
        encryption_algorithm: algorithm.as_str().into(),
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
    let algorithm = algorithm_arg(&req.encryption_algorithm, "encryptionAlgorithm")?;
    let opened = open(
        node,
        caller,
        blob,
        &req.encryption_context,
        req.key_id.as_deref(),
        algorithm,
        "Decrypt",
    )?;
    dry_run(req.dry_run)?;
    Ok(wire::DecryptResponse {
        key_id: opened.key.arn.clone(),
        plaintext: Some(OutBlob(opened.plaintext)),
        encryption_algorithm: algorithm.as_str().into(),
        key_material_id: opened.material_id,
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
    let source_algorithm = algorithm_arg(
        &req.source_encryption_algorithm,
        "sourceEncryptionAlgorithm",
    )?;
    let destination_algorithm = algorithm_arg(
        &req.destination_encryption_algorithm,
        "destinationEncryptionAlgorithm",
    )?;
    let destination = load_key(node, caller, destination_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "ReEncryptTo",
        Some(&destination.record),
        Conditions::new()
            .encryption_context(&req.destination_encryption_context)
            .set("kms:EncryptionAlgorithm", destination_algorithm.as_str())
            .request_alias(destination_arg),
    )?;
    check_encryption_key(&destination, destination_algorithm, "ReEncrypt")?;
    let opened = open(
        node,
        caller,
        blob,
        &req.source_encryption_context,
        req.source_key_id.as_deref(),
        source_algorithm,
        "ReEncrypt",
    )?;
    check_asymmetric_input(
        &destination,
        destination_algorithm,
        &req.destination_encryption_context,
        opened.plaintext.len(),
    )?;
    dry_run(req.dry_run)?;
    let (new_blob, new_material) = encrypt_with(
        &destination,
        destination_algorithm,
        &req.destination_encryption_context,
        &opened.plaintext,
    )?;
    Ok(wire::ReEncryptResponse {
        ciphertext_blob: Some(OutBlob(Zeroizing::new(new_blob))),
        source_key_id: opened.key.arn.clone(),
        key_id: destination.arn.clone(),
        source_encryption_algorithm: source_algorithm.as_str().into(),
        destination_encryption_algorithm: destination_algorithm.as_str().into(),
        source_key_material_id: opened.material_id,
        destination_key_material_id: new_material,
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
    let operation = if with_plaintext {
        "GenerateDataKey"
    } else {
        "GenerateDataKeyWithoutPlaintext"
    };
    authorize(
        node,
        caller,
        operation,
        Some(&key.record),
        Conditions::new()
            .encryption_context(&req.encryption_context)
            .set("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
            .request_alias(key_arg),
    )?;
    check_encryption_key(&key, EncryptionAlgorithm::SymmetricDefault, operation)?;
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
    node: &Node,
    caller: &Caller,
    req: wire::GenerateRandomRequest,
) -> Result<wire::GenerateRandomResponse, ServerError> {
    authorize(node, caller, "GenerateRandom", None, Conditions::new())?;
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
