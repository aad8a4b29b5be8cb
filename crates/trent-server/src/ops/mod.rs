//! The KMS operations. Each handler is thin: decode → resolve the key →
//! apply the domain rule → persist → encode. Dispatch is by the operation
//! name from `X-Amz-Target`.

mod aliases;
mod crypto;
mod keys;
mod rotation;

pub(crate) use rotation::rotate;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use trent_core::ids::{AliasUse, KeyRef};
use trent_core::key::KeyRecord;
use trent_proto::error::ErrorCode;

use crate::cache::LoadedKey;
use crate::error::{ServerError, api, validation};
use crate::node::Node;

/// Who is calling: the authenticated principal.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's account.
    pub account_id: String,
    /// The principal ARN.
    pub principal_arn: String,
    /// The access key id used.
    pub access_key_id: String,
}

/// Whether an operation may run on the async executor: it does only
/// in-memory work once its key is cached (the cryptographic operations).
/// Everything else writes or scans the store and runs on a blocking thread.
pub fn is_hot(op: &str) -> bool {
    matches!(
        op,
        "Encrypt"
            | "Decrypt"
            | "ReEncrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateRandom"
            | "DescribeKey"
    )
}

/// Operations in the API model that Trent does not serve yet.
const NOT_YET: &[&str] = &[
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "CreateGrant",
    "Decapsulate",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "Encapsulate",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "GetKeyLastUsage",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListGrants",
    "ListRetirableGrants",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// Runs one operation; returns the JSON response body.
pub fn dispatch(
    node: &Node,
    caller: &Caller,
    op: &str,
    body: &[u8],
) -> Result<Vec<u8>, ServerError> {
    match op {
        "CreateKey" => run(body, |r| keys::create_key(node, caller, r)),
        "DescribeKey" => run(body, |r| keys::describe_key(node, caller, r)),
        "ListKeys" => run(body, |r| keys::list_keys(node, caller, r)),
        "EnableKey" => run(body, |r| keys::enable_key(node, caller, r)),
        "DisableKey" => run(body, |r| keys::disable_key(node, caller, r)),
        "ScheduleKeyDeletion" => run(body, |r| keys::schedule_key_deletion(node, caller, r)),
        "CancelKeyDeletion" => run(body, |r| keys::cancel_key_deletion(node, caller, r)),
        "UpdateKeyDescription" => run(body, |r| keys::update_key_description(node, caller, r)),
        "TagResource" => run(body, |r| keys::tag_resource(node, caller, r)),
        "UntagResource" => run(body, |r| keys::untag_resource(node, caller, r)),
        "ListResourceTags" => run(body, |r| keys::list_resource_tags(node, caller, r)),
        "GetKeyPolicy" => run(body, |r| keys::get_key_policy(node, caller, r)),
        "PutKeyPolicy" => run(body, |r| keys::put_key_policy(node, caller, r)),
        "ListKeyPolicies" => run(body, |r| keys::list_key_policies(node, caller, r)),
        "CreateAlias" => run(body, |r| aliases::create_alias(node, caller, r)),
        "UpdateAlias" => run(body, |r| aliases::update_alias(node, caller, r)),
        "DeleteAlias" => run(body, |r| aliases::delete_alias(node, caller, r)),
        "ListAliases" => run(body, |r| aliases::list_aliases(node, caller, r)),
        "Encrypt" => run(body, |r| crypto::encrypt(node, caller, r)),
        "Decrypt" => run(body, |r| crypto::decrypt(node, caller, r)),
        "ReEncrypt" => run(body, |r| crypto::re_encrypt(node, caller, r)),
        "GenerateDataKey" => run(body, |r| crypto::generate_data_key(node, caller, r, true)),
        "GenerateDataKeyWithoutPlaintext" => {
            run(body, |r| crypto::generate_data_key(node, caller, r, false))
        }
        "GenerateRandom" => run(body, crypto::generate_random),
        "EnableKeyRotation" => run(body, |r| rotation::enable_key_rotation(node, caller, r)),
        "DisableKeyRotation" => run(body, |r| rotation::disable_key_rotation(node, caller, r)),
        "GetKeyRotationStatus" => run(body, |r| rotation::get_key_rotation_status(node, caller, r)),
        "RotateKeyOnDemand" => run(body, |r| rotation::rotate_key_on_demand(node, caller, r)),
        "ListKeyRotations" => run(body, |r| rotation::list_key_rotations(node, caller, r)),
        op if NOT_YET.contains(&op) => Err(api(
            ErrorCode::UnsupportedOperation,
            format!("Trent does not support {op} yet."),
        )),
        _ => Err(api(ErrorCode::UnknownOperation, "")),
    }
}

fn run<Req: DeserializeOwned, Resp: Serialize>(
    body: &[u8],
    handler: impl FnOnce(Req) -> Result<Resp, ServerError>,
) -> Result<Vec<u8>, ServerError> {
    let request = trent_proto::json::decode(body)?;
    let response = handler(request)?;
    serde_json::to_vec(&response)
        .map_err(|_| api(ErrorCode::KmsInternal, "response encoding failed"))
}

/// A required field.
fn required<'a, T>(value: &'a Option<T>, field: &str) -> Result<&'a T, ServerError> {
    value.as_ref().ok_or_else(|| {
        validation(format!(
            "Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// A `Limit` argument: 1–1000, default 100.
fn page_limit(limit: Option<i64>) -> Result<usize, ServerError> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n as usize),
        Some(n) => Err(validation(format!(
            "Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000"
        ))),
    }
}

/// Fails with `DryRunOperationException` when the caller asked for a dry run
/// and everything up to the action checked out.
fn dry_run(flag: Option<bool>) -> Result<(), ServerError> {
    if flag == Some(true) {
        return Err(api(
            ErrorCode::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    Ok(())
}

fn not_found(what: &str) -> ServerError {
    ServerError::Core(trent_core::Error::NotFound(what.to_owned()))
}

/// Resolves a `KeyId` argument to a key id in the caller's account and this
/// region, following aliases where `alias_use` allows them.
fn resolve_key_id(
    node: &Node,
    caller: &Caller,
    raw: &str,
    alias_use: AliasUse,
) -> Result<String, ServerError> {
    let region = &node.config.region;
    let account = &caller.account_id;
    match KeyRef::parse(raw, alias_use)? {
        KeyRef::Id(id) => Ok(id),
        KeyRef::KeyArn {
            region: r,
            account: a,
            key_id,
        } => {
            if &r != region || &a != account {
                return Err(not_found(&format!("Key '{raw}' does not exist")));
            }
            Ok(key_id)
        }
        KeyRef::AliasName(name) => node.aliases.resolve(node, account, &name)?.ok_or_else(|| {
            not_found(&format!(
                "Alias '{}' is not found.",
                trent_core::ids::alias_arn(region, account, &name)
            ))
        }),
        KeyRef::AliasArn {
            region: r,
            account: a,
            name,
        } => {
            if &r != region || &a != account {
                return Err(not_found(&format!("Alias '{raw}' is not found.")));
            }
            node.aliases
                .resolve(node, account, &name)?
                .ok_or_else(|| not_found(&format!("Alias '{raw}' is not found.")))
        }
    }
}

/// Resolves and loads a key (from the cache when possible).
fn load_key(
    node: &Node,
    caller: &Caller,
    raw: &str,
    alias_use: AliasUse,
) -> Result<Arc<LoadedKey>, ServerError> {
    let key_id = resolve_key_id(node, caller, raw, alias_use)?;
    let key = node
        .keys
        .get(node, &key_id)?
        .filter(|k| {
            k.record.account_id == caller.account_id && k.record.region == node.config.region
        })
        .ok_or_else(|| {
            not_found(&format!(
                "Key '{}' does not exist",
                trent_core::ids::key_arn(&node.config.region, &caller.account_id, &key_id)
            ))
        })?;
    Ok(key)
}

/// Reads a key's current record from the store for a read-modify-write.
fn fresh_record(node: &Node, caller: &Caller, raw: &str) -> Result<KeyRecord, ServerError> {
    let key_id = resolve_key_id(node, caller, raw, AliasUse::Refused)?;
    node.store
        .get_key(&key_id)?
        .filter(|k| k.account_id == caller.account_id && k.region == node.config.region)
        .ok_or_else(|| {
            not_found(&format!(
                "Key '{}' does not exist",
                trent_core::ids::key_arn(&node.config.region, &caller.account_id, &key_id)
            ))
        })
}

/// Applies `change` to a key's record and stores it, retrying on a
/// concurrent update, then drops the key from the cache.
fn update_key(
    node: &Node,
    caller: &Caller,
    raw: &str,
    mut change: impl FnMut(&mut KeyRecord) -> Result<(), ServerError>,
) -> Result<KeyRecord, ServerError> {
    for _ in 0..16 {
        let mut record = fresh_record(node, caller, raw)?;
        change(&mut record)?;
        match node.store.update_key(&record) {
            Ok(()) => {
                node.keys.invalidate(&record.key_id);
                return Ok(record);
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
