//! Importing key material: GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial, and the expiry the scheduler applies. The
//! rules are `trent_core::import`'s, the cryptography
//! `trent_crypto::import`'s; this file wires them to the store.
//!
//! The outstanding wrapping private key lives in the key's record
//! (`ImportState::parameters`), wrapped under the root key; it is dropped
//! when used, replaced by a newer GetParametersForImport, or expired by the
//! scheduler.

use trent_core::import::{
    ExpirationModel, ImportParameters, ImportState, ImportToken, ImportType,
    PARAMETERS_VALIDITY_MILLIS, WrappingAlgorithm, WrappingKeySpec, from_hex, to_hex,
};
use trent_core::key::{KeyRecord, KeyState};
use trent_crypto::backend::MaterialOwner;
use trent_proto::error::ErrorCode;
use trent_proto::ops::{self as wire, OutBlob, timestamp};
use zeroize::Zeroizing;

use super::{Caller, enum_arg, fresh_record, required, required_blob, required_enum, update_key};
use crate::authz::{Conditions, authorize};
use crate::error::{ServerError, api, validation};
use crate::node::Node;

/// Associated data binding a wrapped wrapping private key to its key and
/// token: `"trent/import-wrapping-key/v1\0" ‖ key ARN ‖ "\0" ‖ token id hex`.
fn wrapping_key_aad(arn: &str, token_id: &str) -> Vec<u8> {
    let mut aad = b"trent/import-wrapping-key/v1\0".to_vec();
    aad.extend_from_slice(arn.as_bytes());
    aad.push(0);
    aad.extend_from_slice(token_id.as_bytes());
    aad
}

fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0) as i64
}

pub(super) fn get_parameters_for_import(
    node: &Node,
    caller: &Caller,
    req: wire::GetParametersForImportRequest,
) -> Result<wire::GetParametersForImportResponse, ServerError> {
    let raw_key_id = required(&req.key_id, "keyId")?;
    let algorithm = required_enum(
        &req.wrapping_algorithm,
        "wrappingAlgorithm",
        WrappingAlgorithm::parse,
        WrappingAlgorithm::wire_names,
    )?;
    let wrapping_spec = required_enum(
        &req.wrapping_key_spec,
        "wrappingKeySpec",
        WrappingKeySpec::parse,
        WrappingKeySpec::wire_names,
    )?;
    // Check before the (slow) RSA key generation.
    let record = fresh_record(node, caller, raw_key_id)?;
    authorize(
        node,
        caller,
        "GetParametersForImport",
        Some(&record),
        Conditions::new()
            .set("kms:WrappingAlgorithm", algorithm.as_str())
            .set("kms:WrappingKeySpec", wrapping_spec.as_str()),
    )?;
    record.check_external()?;
    trent_core::import::check_wrapping(record.spec, algorithm, wrapping_spec)?;

    let pair = trent_crypto::import::generate_wrapping_key(wrapping_spec)?;
    let mut token_id = [0u8; 16];
    trent_crypto::random_bytes(&mut token_id)?;
    let token_hex = to_hex(&token_id);
    let valid_to = node.clock.now_millis() + PARAMETERS_VALIDITY_MILLIS;
    let root = node.root()?;
    let arn = record.arn();
    let wrapped = root.wrap(&wrapping_key_aad(&arn, &token_hex), &pair.private_key_pkcs8)?;
    let token = ImportToken {
        key_id: record.key_id.clone(),
        token_id,
        valid_to,
    };
    let mut token_bytes = token.body();
    token_bytes.extend_from_slice(&trent_crypto::import::token_mac(&root, &token_bytes)?);
    drop(root);

    let parameters = ImportParameters {
        token_id: token_hex,
        algorithm,
        wrapping_spec,
        valid_to,
        wrapped_private_key: to_hex(&wrapped),
    };
    let record = update_key(node, caller, &record.key_id, |k| {
        k.check_external()?;
        // A newer set replaces (and so destroys) any outstanding one.
        k.import.get_or_insert_with(ImportState::default).parameters = Some(parameters.clone());
        Ok(())
    })?;
    Ok(wire::GetParametersForImportResponse {
        key_id: record.arn(),
        import_token: Some(OutBlob(Zeroizing::new(token_bytes))),
        public_key: Some(OutBlob(Zeroizing::new(pair.public_key_der))),
        parameters_valid_to: Some(timestamp(valid_to)),
    })
}

pub(super) fn import_key_material(
    node: &Node,
    caller: &Caller,
    req: wire::ImportKeyMaterialRequest,
) -> Result<wire::ImportKeyMaterialResponse, ServerError> {
    let raw_key_id = required(&req.key_id, "keyId")?;
    let token = required_blob(&req.import_token, "importToken", 6144)?;
    let encrypted = required_blob(&req.encrypted_key_material, "encryptedKeyMaterial", 6144)?;
    let model = enum_arg(
        &req.expiration_model,
        "expirationModel",
        ExpirationModel::parse,
        ExpirationModel::wire_names,
    )?;
    let import_type = enum_arg(
        &req.import_type,
        "importType",
        ImportType::parse,
        ImportType::wire_names,
    )?;
    if import_type == Some(ImportType::NewKeyMaterial) {
        return Err(api(
            ErrorCode::UnsupportedOperation,
            "Trent does not support importing new key material for rotation (ImportType NEW_KEY_MATERIAL); only the key's existing material can be imported.",
        ));
    }
    if req
        .key_material_description
        .as_ref()
        .is_some_and(|d| d.len() > 256)
    {
        return Err(validation(
            "Value at 'keyMaterialDescription' failed to satisfy constraint: Member must have length less than or equal to 256",
        ));
    }
    let now = node.clock.now_millis();
    let (model, valid_to) = trent_core::import::expiry(model, req.valid_to.map(millis), now)?;

    let (parsed, body, mac) = ImportToken::parse(token)?;
    let root = node.root()?;
    if !trent_crypto::import::verify_token_mac(&root, body, mac)? {
        return Err(trent_core::Error::InvalidImportToken.into());
    }
    for _ in 0..8 {
        let mut record = fresh_record(node, caller, raw_key_id)?;
        let mut conditions = Conditions::new().set("kms:ExpirationModel", model.as_str());
        if let Some(t) = valid_to {
            conditions = conditions.set("kms:ValidTo", (t / 1000).to_string());
        }
        authorize(node, caller, "ImportKeyMaterial", Some(&record), conditions)?;
        record.check_external()?;
        record.check_token(&parsed, now)?;
        if let Some(id) = &req.key_material_id
            && id != &record.current_material
        {
            return Err(super::not_found(&format!(
                "Key material '{id}' does not exist for key '{}'",
                record.arn()
            )));
        }
        let material = unwrap_material(&root, &record, encrypted)?;
        let arn = record.arn();
        let material_id = record.current_material.clone();
        let owner = MaterialOwner {
            key_arn: &arn,
            material_id: &material_id,
        };
        let imported = node.backend(&record.backend).import_material(
            &root,
            owner,
            record.spec,
            record.usage,
            &material,
        )?;
        let known = record
            .import
            .as_ref()
            .and_then(|i| i.fingerprint.as_deref());
        if let Some(known) = known {
            let known = from_hex(known).unwrap_or_default();
            if !trent_crypto::constant_time_eq(&known, &imported.fingerprint) {
                return Err(trent_core::Error::IncorrectKeyMaterial.into());
            }
        }
        record.imported(to_hex(&imported.fingerprint), model, valid_to);
        let stored =
            node.store
                .update_key_and_material_bytes(&record, &material_id, &imported.stored);
        node.keys.invalidate(&record.key_id);
        match stored {
            Ok(()) => {
                return Ok(wire::ImportKeyMaterialResponse {
                    key_id: arn,
                    key_material_id: Some(material_id),
                });
            }
            Err(trent_store::Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(api(
        ErrorCode::KmsInternal,
        "The key is being changed concurrently; retry.",
    ))
}

/// The caller's material, unwrapped with the outstanding wrapping key.
/// Every failure is `InvalidCiphertextException`.
fn unwrap_material(
    root: &trent_crypto::root::RootKey,
    record: &KeyRecord,
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ServerError> {
    let params = record
        .import
        .as_ref()
        .and_then(|i| i.parameters.as_ref())
        .ok_or(trent_core::Error::InvalidImportToken)?;
    let wrapped = from_hex(&params.wrapped_private_key)
        .ok_or(trent_crypto::Error::Format("wrapped wrapping key"))?;
    let private = root.unwrap(&wrapping_key_aad(&record.arn(), &params.token_id), &wrapped)?;
    let material = trent_crypto::import::unwrap_material(&private, params.algorithm, encrypted)
        .map_err(|_| trent_core::Error::InvalidCiphertext)?;
    Ok(material)
}

pub(super) fn delete_imported_key_material(
    node: &Node,
    caller: &Caller,
    req: wire::DeleteImportedKeyMaterialRequest,
) -> Result<wire::DeleteImportedKeyMaterialResponse, ServerError> {
    let raw_key_id = required(&req.key_id, "keyId")?;
    for _ in 0..8 {
        let mut record = fresh_record(node, caller, raw_key_id)?;
        authorize(
            node,
            caller,
            "DeleteImportedKeyMaterial",
            Some(&record),
            Conditions::new(),
        )?;
        record.check_external()?;
        if let Some(id) = &req.key_material_id
            && id != &record.current_material
        {
            return Err(super::not_found(&format!(
                "Key material '{id}' does not exist for key '{}'",
                record.arn()
            )));
        }
        match delete_material(node, &mut record)? {
            Some(material_id) => {
                return Ok(wire::DeleteImportedKeyMaterialResponse {
                    key_id: record.arn(),
                    key_material_id: Some(material_id),
                });
            }
            None => continue,
        }
    }
    Err(api(
        ErrorCode::KmsInternal,
        "The key is being changed concurrently; retry.",
    ))
}

/// Deletes the key's imported material and moves it to PendingImport.
/// `None` when a concurrent update won (re-read and retry).
fn delete_material(node: &Node, record: &mut KeyRecord) -> Result<Option<String>, ServerError> {
    let material_id = record.current_material.clone();
    let had_material = record.state != KeyState::PendingImport;
    record.material_deleted();
    let stored = node
        .store
        .update_key_and_material_bytes(record, &material_id, &[]);
    node.keys.invalidate(&record.key_id);
    match stored {
        Ok(()) => {}
        Err(trent_store::Error::Conflict) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if had_material {
        let arn = record.arn();
        // The software backend's destruction is the store's deletion above;
        // an HSM backend destroys its object here.
        let owner = MaterialOwner {
            key_arn: &arn,
            material_id: &material_id,
        };
        if let Err(e) = node.backend(&record.backend).destroy_material(owner, &[]) {
            tracing::warn!(key = %arn, error = %e, "destroying imported material in the backend failed");
        }
    }
    Ok(Some(material_id))
}

/// What an expiry pass did to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Nothing was due.
    Nothing,
    /// Outstanding import parameters (the wrapping key) were destroyed.
    Parameters,
    /// The imported material expired and was deleted.
    Material,
}

/// Applies import expiries due at `now` to a key: drops expired import
/// parameters and deletes expired material (the key goes to PendingImport).
pub(crate) fn expire(node: &Node, key_id: &str, now: i64) -> Result<Expired, ServerError> {
    for _ in 0..8 {
        let Some(mut record) = node.store.get_key(key_id)? else {
            return Ok(Expired::Nothing);
        };
        let parameters = record.parameters_expired(now);
        if parameters && let Some(import) = record.import.as_mut() {
            import.parameters = None;
        }
        if record.material_expired(now) {
            match delete_material(node, &mut record)? {
                Some(_) => return Ok(Expired::Material),
                None => continue,
            }
        }
        if !parameters {
            return Ok(Expired::Nothing);
        }
        let stored = node.store.update_key(&record);
        node.keys.invalidate(key_id);
        match stored {
            Ok(()) => return Ok(Expired::Parameters),
            Err(trent_store::Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(api(
        ErrorCode::KmsInternal,
        "The key is being changed concurrently; retry.",
    ))
}
