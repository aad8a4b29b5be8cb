//! The KMS operations. Each handler is thin: decode → resolve the key →
//! apply the domain rule → persist → encode. Dispatch is by the operation
//! name from `X-Amz-Target`.

mod aliases;
mod asymmetric;
mod crypto;
pub(crate) mod custom_key_stores;
mod data_key_pair;
mod import;
mod keys;
mod mac;
mod rotation;

pub(crate) use import::{Expired, expire as expire_import};
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
    /// Where the request came from and over what transport
    /// (`aws:SecureTransport`, `aws:SourceIp`, the mTLS client subject).
    pub context: Arc<crate::context::RequestContext>,
}

/// Whether an operation may run on the async executor: it does only
/// in-memory work once its key is cached (the cryptographic operations).
/// Everything else writes or scans the store and runs on a blocking thread.
///
/// GenerateDataKeyPair is not hot: RSA key generation takes up to seconds.
/// RSA private-key operations (Sign, Decrypt) are hot but step off the
/// executor's core while they run ([`off_executor`]).
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
            | "Sign"
            | "Verify"
            | "GenerateMac"
            | "VerifyMac"
            | "GetPublicKey"
            | "DeriveSharedSecret"
            | "Encapsulate"
            | "Decapsulate"
    )
}

/// Runs a CPU-heavy step of a hot operation (an RSA private-key operation:
/// about 1 ms for RSA-2048, several for RSA-4096) without stalling other
/// requests: on the multi-thread runtime the worker hands its queue to
/// another thread for the duration. Elsewhere (no runtime) it simply runs.
pub(crate) fn off_executor<T>(heavy: bool, work: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if heavy && multi_thread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// Operations in the API model that Trent does not serve yet.
const NOT_YET: &[&str] = &[
    "CreateGrant",
    "GetKeyLastUsage",
    "ListGrants",
    "ListRetirableGrants",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "UpdatePrimaryRegion",
];

/// Runs one operation; returns the JSON response body.
pub fn dispatch(
    node: &Node,
    caller: &Caller,
    op: &str,
    body: &[u8],
) -> Result<Vec<u8>, ServerError> {
    // Custom key store operations name no KMS key: identity policies (or
    // the account root) decide, as for CreateKey.
    if op.ends_with("CustomKeyStore") || op == "DescribeCustomKeyStores" {
        crate::authz::authorize(node, caller, op, None, crate::authz::Conditions::new())?;
    }
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
        "GenerateRandom" => run(body, |r| crypto::generate_random(node, caller, r)),
        "GenerateDataKeyPair" => run(body, |r| {
            data_key_pair::generate_data_key_pair(node, caller, r, true)
        }),
        "GenerateDataKeyPairWithoutPlaintext" => run(body, |r| {
            data_key_pair::generate_data_key_pair(node, caller, r, false)
        }),
        "Sign" => run(body, |r| asymmetric::sign(node, caller, r)),
        "Verify" => run(body, |r| asymmetric::verify(node, caller, r)),
        "GetPublicKey" => run(body, |r| asymmetric::get_public_key(node, caller, r)),
        "DeriveSharedSecret" => run(body, |r| asymmetric::derive_shared_secret(node, caller, r)),
        "Encapsulate" => run(body, |r| asymmetric::encapsulate(node, caller, r)),
        "Decapsulate" => run(body, |r| asymmetric::decapsulate(node, caller, r)),
        "GenerateMac" => run(body, |r| mac::generate_mac(node, caller, r)),
        "VerifyMac" => run(body, |r| mac::verify_mac(node, caller, r)),
        "EnableKeyRotation" => run(body, |r| rotation::enable_key_rotation(node, caller, r)),
        "DisableKeyRotation" => run(body, |r| rotation::disable_key_rotation(node, caller, r)),
        "GetKeyRotationStatus" => run(body, |r| rotation::get_key_rotation_status(node, caller, r)),
        "RotateKeyOnDemand" => run(body, |r| rotation::rotate_key_on_demand(node, caller, r)),
        "ListKeyRotations" => run(body, |r| rotation::list_key_rotations(node, caller, r)),
        "GetParametersForImport" => {
            run(body, |r| import::get_parameters_for_import(node, caller, r))
        }
        "ImportKeyMaterial" => run(body, |r| import::import_key_material(node, caller, r)),
        "DeleteImportedKeyMaterial" => run(body, |r| {
            import::delete_imported_key_material(node, caller, r)
        }),
        "CreateCustomKeyStore" => run(body, |r| custom_key_stores::create(node, caller, r)),
        "ConnectCustomKeyStore" => run(body, |r| custom_key_stores::connect(node, caller, r)),
        "DisconnectCustomKeyStore" => run(body, |r| custom_key_stores::disconnect(node, caller, r)),
        "DescribeCustomKeyStores" => run(body, |r| custom_key_stores::describe(node, caller, r)),
        "UpdateCustomKeyStore" => run(body, |r| custom_key_stores::update(node, caller, r)),
        "DeleteCustomKeyStore" => run(body, |r| custom_key_stores::delete(node, caller, r)),
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

/// An optional enum argument, read by its wire name; anything else is AWS's
/// enum `ValidationException` naming the field and the allowed values.
fn enum_arg<T>(
    value: &Option<String>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    names: fn() -> String,
) -> Result<Option<T>, ServerError> {
    match value {
        None => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| {
            validation(format!(
                "Value '{s}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                names()
            ))
        }),
    }
}

/// A required enum argument.
fn required_enum<T>(
    value: &Option<String>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    names: fn() -> String,
) -> Result<T, ServerError> {
    required(value, field)?;
    enum_arg(value, field, parse, names)?.ok_or_else(|| {
        validation(format!(
            "Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// A required blob argument of 1 to `max` bytes, with AWS's messages.
fn required_blob<'a>(
    value: &'a Option<trent_proto::ops::Blob>,
    field: &str,
    max: usize,
) -> Result<&'a [u8], ServerError> {
    let blob = required(value, field)?;
    if blob.is_empty() {
        return Err(validation(format!(
            "Value at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    if blob.len() > max {
        return Err(validation(format!(
            "Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    Ok(blob.as_slice())
}

/// Trent has no Nitro Enclaves attestation: a request naming a recipient is
/// refused rather than answered in the clear.
fn refuse_recipient(
    recipient: &Option<trent_proto::ops::RecipientInfo>,
) -> Result<(), ServerError> {
    if recipient.is_some() {
        return Err(api(
            ErrorCode::UnsupportedOperation,
            "Trent does not support the Recipient parameter (attested environments).",
        ));
    }
    Ok(())
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

/// Resolves and loads a key (from the cache when possible). A key ARN or
/// alias ARN may name a key of another account in this region, as AWS
/// allows for the operations that use this (cryptographic operations,
/// DescribeKey, GetPublicKey); the handler's authorization then needs both
/// that key's policy and the caller's identity policies.
fn load_key(
    node: &Node,
    caller: &Caller,
    raw: &str,
    alias_use: AliasUse,
) -> Result<Arc<LoadedKey>, ServerError> {
    let region = &node.config.region;
    let (account, key_id) = match KeyRef::parse(raw, alias_use)? {
        KeyRef::KeyArn {
            region: r,
            account: a,
            key_id,
        } if &r == region && a != caller.account_id => (a, key_id),
        KeyRef::AliasArn {
            region: r,
            account: a,
            name,
        } if &r == region && a != caller.account_id => {
            let key_id = node
                .aliases
                .resolve(node, &a, &name)?
                .ok_or_else(|| not_found(&format!("Alias '{raw}' is not found.")))?;
            (a, key_id)
        }
        _ => (
            caller.account_id.clone(),
            resolve_key_id(node, caller, raw, alias_use)?,
        ),
    };
    let key = node
        .keys
        .get(node, &key_id)?
        .filter(|k| k.record.account_id == account && k.record.region == *region)
        .ok_or_else(|| {
            not_found(&format!(
                "Key '{}' does not exist",
                trent_core::ids::key_arn(region, &account, &key_id)
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
        let stored = node.store.update_key(&record);
        // Drop the cached copy whatever the outcome: a commit that reported
        // failure (say, its fsync) may still have reached the disk.
        node.keys.invalidate(&record.key_id);
        match stored {
            Ok(()) => return Ok(record),
            Err(trent_store::Error::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(api(
        ErrorCode::KmsInternal,
        "The key is being changed concurrently; retry.",
    ))
}

#[cfg(test)]
mod tests {
    use super::off_executor;

    /// `off_executor` must run its work wherever a handler may run: on a
    /// worker of the multi-thread runtime (hot operations), on a blocking
    /// thread (the others), on a current-thread runtime, or outside one.
    #[test]
    fn off_executor_runs_everywhere() {
        assert_eq!(off_executor(true, || 1), 1);
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        assert_eq!(multi.block_on(async { off_executor(true, || 2) }), 2);
        let blocking = multi.block_on(async {
            tokio::spawn(async { off_executor(true, || 3) })
                .await
                .unwrap()
                + tokio::task::spawn_blocking(|| off_executor(true, || 4))
                    .await
                    .unwrap()
        });
        assert_eq!(blocking, 7);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { off_executor(true, || 5) }), 5);
    }
}
