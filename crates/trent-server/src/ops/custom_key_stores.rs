//! Custom key stores (AWS_CLOUDHSM type) over PKCS#11: an HSM declared in the
//! configuration (`[[hsm]]`, its name is the `CloudHsmClusterId`), the token
//! user PIN as `KeyStorePassword` (kept wrapped under the root key), and the
//! connection each node holds to the token. See `docs/HSM.md`.
//!
//! Records live in the store's metadata as one JSON list
//! ([`KEY_STORES_META`]): no new `Store` trait methods, so every store
//! implementation (SQLite, PostgreSQL) holds them unchanged. Changes are
//! serialized within a process; two nodes creating stores at the same
//! instant could race (docs/HSM.md).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use trent_core::key::{BackendRef, KeySpec, KeyUsage, Origin};
use trent_crypto::pkcs11::{Token, TokenError};
use trent_proto::error::ErrorCode;
use trent_proto::ops::{Timestamp, timestamp};
use zeroize::Zeroizing;

use super::{Caller, required};
use crate::error::{ServerError, api, validation};
use crate::node::Node;

/// Metadata entry holding every custom key store record.
pub(crate) const KEY_STORES_META: &str = "custom_key_stores.v1";

/// Serializes read-modify-write of the records within this process.
static WRITE: Mutex<()> = Mutex::new(());

/// A custom key store as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyStoreRecord {
    id: String,
    account_id: String,
    name: String,
    cluster_id: String,
    trust_anchor: String,
    /// The token user PIN wrapped under the root key.
    pin_wrapped: Vec<u8>,
    created: i64,
    /// Whether an operator asked for it to be connected.
    connect: bool,
    /// The AWS `ConnectionErrorCode` of the last failed connection.
    error_code: Option<String>,
}

fn pin_aad(id: &str) -> Vec<u8> {
    let mut aad = b"trent/custom-key-store-pin/v1\0".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad
}

fn read_all(node: &Node) -> Result<Vec<KeyStoreRecord>, ServerError> {
    match node.store.get_meta(KEY_STORES_META)? {
        Some(bytes) if !bytes.is_empty() => serde_json::from_slice(&bytes).map_err(|_| {
            api(
                ErrorCode::KmsInternal,
                "custom key store records are damaged",
            )
        }),
        _ => Ok(Vec::new()),
    }
}

fn write_all(node: &Node, records: &[KeyStoreRecord]) -> Result<(), ServerError> {
    let bytes = serde_json::to_vec(records)
        .map_err(|_| api(ErrorCode::KmsInternal, "custom key store encoding failed"))?;
    node.store.put_meta(KEY_STORES_META, &bytes)?;
    Ok(())
}

/// Applies `change` to the caller's store `id` and saves it.
fn modify<T>(
    node: &Node,
    caller: &Caller,
    id: &str,
    change: impl FnOnce(&mut KeyStoreRecord, &[KeyStoreRecord]) -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let _guard = WRITE
        .lock()
        .map_err(|_| api(ErrorCode::KmsInternal, "lock poisoned"))?;
    let mut records = read_all(node)?;
    let others = records.clone();
    let record = records
        .iter_mut()
        .find(|r| r.id == id && r.account_id == caller.account_id)
        .ok_or_else(|| store_not_found(id))?;
    let out = change(record, &others)?;
    write_all(node, &records)?;
    Ok(out)
}

fn store_not_found(id: &str) -> ServerError {
    api(
        ErrorCode::CustomKeyStoreNotFound,
        format!("Custom key store '{id}' does not exist in this account and Region."),
    )
}

fn invalid_state(message: impl Into<String>) -> ServerError {
    api(ErrorCode::CustomKeyStoreInvalidState, message)
}

fn check_password(password: &str) -> Result<(), ServerError> {
    if !(7..=32).contains(&password.len()) {
        return Err(validation(
            "Value at 'keyStorePassword' failed to satisfy constraint: Member must have length between 7 and 32",
        ));
    }
    Ok(())
}

/// AWS's ConnectionState of a store, as this node sees it.
fn connection_state(node: &Node, record: &KeyStoreRecord) -> &'static str {
    if record.error_code.is_some() {
        "FAILED"
    } else if record.connect && node.key_store(&record.id).connection().is_connected() {
        "CONNECTED"
    } else if record.connect {
        // Asked to connect, but this node has not (yet) got a session.
        "CONNECTING"
    } else {
        "DISCONNECTED"
    }
}

/// The AWS ConnectionErrorCode for a failed connection.
fn error_code(e: &TokenError) -> &'static str {
    match e {
        TokenError::InvalidCredentials => "INVALID_CREDENTIALS",
        TokenError::PinLocked => "USER_LOCKED_OUT",
        TokenError::TokenNotFound(_) => "INSUFFICIENT_CLOUDHSM_HSMS",
        TokenError::Module(_) => "CLUSTER_NOT_FOUND",
        TokenError::Timeout(_) | TokenError::Busy | TokenError::Removed => "NETWORK_ERRORS",
        _ => "INTERNAL_ERROR",
    }
}

/// Logs in to the store's token and installs the session; on failure
/// records nothing and returns the AWS error code.
fn open_connection(node: &Node, record: &KeyStoreRecord) -> Result<(), &'static str> {
    let Some(hsm) = node.hsm(&record.cluster_id) else {
        return Err("CLUSTER_NOT_FOUND");
    };
    let root = node.root().map_err(|_| "INTERNAL_ERROR")?;
    let pin = root
        .unwrap(&pin_aad(&record.id), &record.pin_wrapped)
        .map_err(|_| "INTERNAL_ERROR")?;
    let pin = Zeroizing::new(String::from_utf8_lossy(&pin).into_owned());
    match Token::open(hsm, &pin) {
        Ok(token) => {
            node.key_store(&record.id).connection().connect(token);
            Ok(())
        }
        Err(e) => {
            tracing::warn!(store = %record.id, hsm = %hsm.name, error = %e, "custom key store connection failed");
            Err(error_code(&e))
        }
    }
}

/// After unsealing: reconnects every store an operator left connected.
/// Failures are logged and shown as FAILED; they never stop the node.
pub(crate) fn reconnect_all(node: &Node) {
    let Ok(records) = read_all(node) else { return };
    for record in records
        .iter()
        .filter(|r| r.connect && r.error_code.is_none())
        .filter(|r| !node.key_store(&r.id).connection().is_connected())
    {
        if let Err(code) = open_connection(node, record) {
            tracing::warn!(store = %record.id, code, "custom key store stays disconnected");
        }
    }
}

/// The backend of a new key: the software backend, or for
/// `Origin=AWS_CLOUDHSM` the named custom key store, which must be
/// connected (AWS's CreateKey rules).
pub(super) fn backend_for_new_key(
    node: &Node,
    caller: &Caller,
    origin: Origin,
    spec: KeySpec,
    usage: KeyUsage,
    custom_key_store_id: Option<&str>,
) -> Result<BackendRef, ServerError> {
    match (origin, custom_key_store_id) {
        (Origin::AwsCloudHsm, Some(id)) => {
            if spec != KeySpec::SymmetricDefault || usage != KeyUsage::EncryptDecrypt {
                return Err(api(
                    ErrorCode::UnsupportedOperation,
                    "Custom key stores support only SYMMETRIC_DEFAULT keys with key usage ENCRYPT_DECRYPT.",
                ));
            }
            let record = read_all(node)?
                .into_iter()
                .find(|r| r.id == id && r.account_id == caller.account_id)
                .ok_or_else(|| store_not_found(id))?;
            if connection_state(node, &record) != "CONNECTED" {
                return Err(invalid_state(format!(
                    "Custom key store '{id}' is not connected."
                )));
            }
            Ok(BackendRef::Pkcs11 {
                store_id: record.id,
                cluster_id: record.cluster_id,
            })
        }
        (Origin::AwsCloudHsm, None) => Err(validation(
            "CustomKeyStoreId is required when Origin is AWS_CLOUDHSM.",
        )),
        (_, Some(_)) => Err(validation("CustomKeyStoreId requires Origin AWS_CLOUDHSM.")),
        (_, None) => Ok(BackendRef::Software),
    }
}

/// The key state DescribeKey reports: keys of a store that is not connected
/// read as `Unavailable`, as AWS reports them.
pub(super) fn reported_state(node: &Node, backend: &BackendRef) -> Option<&'static str> {
    match backend {
        BackendRef::Pkcs11 { store_id, .. }
            if !node.key_store(store_id).connection().is_connected() =>
        {
            Some("Unavailable")
        }
        _ => None,
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct CreateRequest {
    custom_key_store_name: Option<String>,
    cloud_hsm_cluster_id: Option<String>,
    trust_anchor_certificate: Option<String>,
    key_store_password: Option<String>,
    custom_key_store_type: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateResponse {
    custom_key_store_id: String,
}

pub(super) fn create(
    node: &Node,
    caller: &Caller,
    req: CreateRequest,
) -> Result<CreateResponse, ServerError> {
    let name = required(&req.custom_key_store_name, "customKeyStoreName")?;
    if name.is_empty() || name.len() > 256 {
        return Err(validation(
            "Value at 'customKeyStoreName' failed to satisfy constraint: Member must have length between 1 and 256",
        ));
    }
    match req.custom_key_store_type.as_deref() {
        None | Some("AWS_CLOUDHSM") => {}
        Some("EXTERNAL_KEY_STORE") => {
            return Err(api(
                ErrorCode::UnsupportedOperation,
                "Trent does not support external key stores (EXTERNAL_KEY_STORE).",
            ));
        }
        Some(other) => {
            return Err(validation(format!(
                "Value '{other}' at 'customKeyStoreType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_CLOUDHSM, EXTERNAL_KEY_STORE]"
            )));
        }
    }
    let cluster = required(&req.cloud_hsm_cluster_id, "cloudHsmClusterId")?;
    let trust_anchor = required(&req.trust_anchor_certificate, "trustAnchorCertificate")?;
    let password = required(&req.key_store_password, "keyStorePassword")?;
    check_password(password)?;
    if node.hsm(cluster).is_none() {
        return Err(api(
            ErrorCode::CloudHsmClusterNotFound,
            format!("No HSM named '{cluster}' is configured on this Trent node."),
        ));
    }
    let root = node.root()?;
    let _guard = WRITE
        .lock()
        .map_err(|_| api(ErrorCode::KmsInternal, "lock poisoned"))?;
    let mut records = read_all(node)?;
    if records
        .iter()
        .any(|r| r.account_id == caller.account_id && &r.name == name)
    {
        return Err(api(
            ErrorCode::CustomKeyStoreNameInUse,
            format!("A custom key store named '{name}' already exists."),
        ));
    }
    if records.iter().any(|r| &r.cluster_id == cluster) {
        return Err(api(
            ErrorCode::CloudHsmClusterInUse,
            format!("The HSM '{cluster}' is already bound to another custom key store."),
        ));
    }
    let mut raw = [0u8; 9];
    trent_crypto::random_bytes(&mut raw)?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let id = format!("cks-{}", &hex[..17]);
    records.push(KeyStoreRecord {
        pin_wrapped: root.wrap(&pin_aad(&id), password.as_bytes())?,
        id: id.clone(),
        account_id: caller.account_id.clone(),
        name: name.clone(),
        cluster_id: cluster.clone(),
        trust_anchor: trust_anchor.clone(),
        created: node.clock.now_millis(),
        connect: false,
        error_code: None,
    });
    write_all(node, &records)?;
    Ok(CreateResponse {
        custom_key_store_id: id,
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct IdRequest {
    custom_key_store_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct Empty {}

pub(super) fn connect(node: &Node, caller: &Caller, req: IdRequest) -> Result<Empty, ServerError> {
    let id = required(&req.custom_key_store_id, "customKeyStoreId")?;
    node.root()?;
    modify(node, caller, id, |record, _| {
        if connection_state(node, record) == "CONNECTED" {
            return Ok(());
        }
        match open_connection(node, record) {
            Ok(()) => {
                record.connect = true;
                record.error_code = None;
            }
            Err(code) => {
                record.connect = false;
                record.error_code = Some(code.to_owned());
            }
        }
        Ok(())
    })?;
    Ok(Empty {})
}

pub(super) fn disconnect(
    node: &Node,
    caller: &Caller,
    req: IdRequest,
) -> Result<Empty, ServerError> {
    let id = required(&req.custom_key_store_id, "customKeyStoreId")?;
    modify(node, caller, id, |record, _| {
        node.key_store(&record.id).connection().disconnect();
        record.connect = false;
        record.error_code = None;
        Ok(())
    })?;
    Ok(Empty {})
}

/// The keys of the caller's account that live in store `id`.
fn keys_in_store(node: &Node, caller: &Caller, id: &str) -> Result<usize, ServerError> {
    let mut count = 0;
    let mut marker = None;
    loop {
        let page = node.store.list_keys(
            &caller.account_id,
            &node.config.region,
            marker.as_deref(),
            1000,
        )?;
        count += page
            .items
            .iter()
            .filter(|k| matches!(&k.backend, BackendRef::Pkcs11 { store_id, .. } if store_id == id))
            .count();
        match page.next_marker {
            Some(next) => marker = Some(next),
            None => return Ok(count),
        }
    }
}

pub(super) fn delete(node: &Node, caller: &Caller, req: IdRequest) -> Result<Empty, ServerError> {
    let id = required(&req.custom_key_store_id, "customKeyStoreId")?;
    let _guard = WRITE
        .lock()
        .map_err(|_| api(ErrorCode::KmsInternal, "lock poisoned"))?;
    let mut records = read_all(node)?;
    let index = records
        .iter()
        .position(|r| r.id == *id && r.account_id == caller.account_id)
        .ok_or_else(|| store_not_found(id))?;
    if connection_state(node, &records[index]) != "DISCONNECTED" {
        return Err(invalid_state(format!(
            "Custom key store '{id}' must be disconnected before it is deleted."
        )));
    }
    if keys_in_store(node, caller, id)? > 0 {
        return Err(api(
            ErrorCode::CustomKeyStoreHasCmks,
            format!("Custom key store '{id}' still holds KMS keys; delete them first."),
        ));
    }
    records.remove(index);
    write_all(node, &records)?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct UpdateRequest {
    custom_key_store_id: Option<String>,
    new_custom_key_store_name: Option<String>,
    key_store_password: Option<String>,
    cloud_hsm_cluster_id: Option<String>,
}

pub(super) fn update(
    node: &Node,
    caller: &Caller,
    req: UpdateRequest,
) -> Result<Empty, ServerError> {
    let id = required(&req.custom_key_store_id, "customKeyStoreId")?;
    let root = node.root()?;
    if let Some(password) = &req.key_store_password {
        check_password(password)?;
    }
    if let Some(cluster) = &req.cloud_hsm_cluster_id
        && node.hsm(cluster).is_none()
    {
        return Err(api(
            ErrorCode::CloudHsmClusterNotFound,
            format!("No HSM named '{cluster}' is configured on this Trent node."),
        ));
    }
    let has_keys = keys_in_store(node, caller, id)? > 0;
    modify(node, caller, id, |record, others| {
        let changes_connection =
            req.key_store_password.is_some() || req.cloud_hsm_cluster_id.is_some();
        if changes_connection && connection_state(node, record) != "DISCONNECTED" {
            return Err(invalid_state(format!(
                "Custom key store '{id}' must be disconnected to change its password or HSM."
            )));
        }
        if let Some(name) = &req.new_custom_key_store_name {
            if others
                .iter()
                .any(|r| r.account_id == record.account_id && &r.name == name && r.id != record.id)
            {
                return Err(api(
                    ErrorCode::CustomKeyStoreNameInUse,
                    format!("A custom key store named '{name}' already exists."),
                ));
            }
            record.name = name.clone();
        }
        if let Some(cluster) = &req.cloud_hsm_cluster_id
            && *cluster != record.cluster_id
        {
            if has_keys {
                return Err(invalid_state(
                    "A custom key store that holds keys cannot move to another HSM.",
                ));
            }
            if others.iter().any(|r| &r.cluster_id == cluster) {
                return Err(api(
                    ErrorCode::CloudHsmClusterInUse,
                    format!("The HSM '{cluster}' is already bound to another custom key store."),
                ));
            }
            record.cluster_id = cluster.clone();
        }
        if let Some(password) = &req.key_store_password {
            record.pin_wrapped = root.wrap(&pin_aad(&record.id), password.as_bytes())?;
            record.error_code = None;
        }
        Ok(())
    })?;
    Ok(Empty {})
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct DescribeRequest {
    custom_key_store_id: Option<String>,
    custom_key_store_name: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyStoreEntry {
    custom_key_store_id: String,
    custom_key_store_name: String,
    cloud_hsm_cluster_id: String,
    trust_anchor_certificate: String,
    connection_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_error_code: Option<String>,
    creation_date: Timestamp,
    custom_key_store_type: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DescribeResponse {
    custom_key_stores: Vec<KeyStoreEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    truncated: bool,
}

pub(super) fn describe(
    node: &Node,
    caller: &Caller,
    req: DescribeRequest,
) -> Result<DescribeResponse, ServerError> {
    if req.custom_key_store_id.is_some() && req.custom_key_store_name.is_some() {
        return Err(validation(
            "You cannot specify both CustomKeyStoreId and CustomKeyStoreName.",
        ));
    }
    let limit = super::page_limit(req.limit)?;
    let mut records: Vec<_> = read_all(node)?
        .into_iter()
        .filter(|r| r.account_id == caller.account_id)
        .filter(|r| {
            req.custom_key_store_id
                .as_ref()
                .is_none_or(|id| &r.id == id)
        })
        .filter(|r| {
            req.custom_key_store_name
                .as_ref()
                .is_none_or(|n| &r.name == n)
        })
        .collect();
    if records.is_empty() {
        if let Some(id) = &req.custom_key_store_id {
            return Err(store_not_found(id));
        }
        if let Some(name) = &req.custom_key_store_name {
            return Err(store_not_found(name));
        }
    }
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let start = match &req.marker {
        Some(m) => records
            .iter()
            .position(|r| &r.id > m)
            .unwrap_or(records.len()),
        None => 0,
    };
    let page: Vec<_> = records[start..].iter().take(limit).collect();
    let truncated = start + page.len() < records.len();
    Ok(DescribeResponse {
        next_marker: truncated
            .then(|| page.last().map(|r| r.id.clone()))
            .flatten(),
        truncated,
        custom_key_stores: page
            .into_iter()
            .map(|r| KeyStoreEntry {
                custom_key_store_id: r.id.clone(),
                custom_key_store_name: r.name.clone(),
                cloud_hsm_cluster_id: r.cluster_id.clone(),
                trust_anchor_certificate: r.trust_anchor.clone(),
                connection_state: connection_state(node, r),
                connection_error_code: r.error_code.clone(),
                creation_date: timestamp(r.created),
                custom_key_store_type: "AWS_CLOUDHSM",
            })
            .collect(),
    })
}
