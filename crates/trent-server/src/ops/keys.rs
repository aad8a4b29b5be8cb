//! Key lifecycle and metadata: CreateKey, DescribeKey, ListKeys, Enable/
//! DisableKey, Schedule/CancelKeyDeletion, UpdateKeyDescription, tags and
//! key policies.

use trent_core::ids::{self, AliasUse};
use trent_core::key::{
    BackendRef, KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, Origin,
    RotationConfig, StateUse, Tag,
};
use trent_core::spec::{self, AlgorithmLists};
use trent_crypto::backend::MaterialOwner;
use trent_proto::error::ErrorCode;
use trent_proto::ops::{self as wire, timestamp};

use super::{Caller, fresh_record, load_key, page_limit, required, update_key};
use crate::authz::{Conditions, authorize, check_lockout};
use crate::error::{ServerError, api, validation};
use crate::node::Node;

/// Wire names of a list of algorithms.
fn names<T: Copy>(list: Option<&[T]>, name: fn(T) -> &'static str) -> Option<Vec<String>> {
    list.map(|l| l.iter().map(|&a| name(a).to_owned()).collect())
}

/// The metadata of a key as the API shows it: the algorithm list that
/// matches its usage, and (as AWS does) the current key material id only
/// for symmetric encryption keys.
pub(super) fn metadata(record: &KeyRecord) -> wire::KeyMetadata {
    let lists = AlgorithmLists::of(record.spec, record.usage);
    let symmetric = record.spec == KeySpec::SymmetricDefault;
    wire::KeyMetadata {
        aws_account_id: record.account_id.clone(),
        key_id: record.key_id.clone(),
        arn: record.arn(),
        creation_date: timestamp(record.created),
        enabled: record.enabled(),
        description: record.description.clone(),
        key_usage: record.usage.as_str().to_owned(),
        key_state: record.state.as_str().to_owned(),
        deletion_date: record.deletion_date.map(timestamp),
        origin: record.origin.as_str().to_owned(),
        key_manager: record.manager.as_str().to_owned(),
        customer_master_key_spec: record.spec.as_str().to_owned(),
        key_spec: record.spec.as_str().to_owned(),
        encryption_algorithms: names(lists.encryption, |a| a.as_str()),
        signing_algorithms: names(lists.signing, |a| a.as_str()),
        mac_algorithms: names(lists.mac, |a| a.as_str()),
        key_agreement_algorithms: names(lists.key_agreement, |a| a.as_str()),
        encapsulation_algorithms: names(lists.encapsulation, |a| a.as_str()),
        multi_region: false,
        pending_deletion_window_in_days: record.pending_window_days,
        current_key_material_id: (symmetric
            && !record.current_material.is_empty()
            && (record.origin != Origin::External
                || record
                    .import
                    .as_ref()
                    .is_some_and(|i| i.fingerprint.is_some())))
        .then(|| record.current_material.clone()),
        valid_to: record
            .import
            .as_ref()
            .and_then(|i| i.valid_to)
            .map(timestamp),
        expiration_model: record
            .import
            .as_ref()
            .and_then(|i| i.expiration_model)
            .map(|m| m.as_str().to_owned()),
        custom_key_store_id: match &record.backend {
            BackendRef::Pkcs11 { store_id, .. } => Some(store_id.clone()),
            BackendRef::Software => None,
        },
        cloud_hsm_cluster_id: match &record.backend {
            BackendRef::Pkcs11 { cluster_id, .. } => Some(cluster_id.clone()),
            BackendRef::Software => None,
        },
    }
}

fn parse_enum<T>(
    value: &Option<String>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, ServerError> {
    match value {
        None => Ok(None),
        Some(s) => parse(s).map(Some).ok_or_else(|| {
            validation(format!("Value '{s}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]"))
        }),
    }
}

fn check_description(description: &str) -> Result<(), ServerError> {
    if description.len() > 8192 {
        return Err(validation(
            "Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192",
        ));
    }
    Ok(())
}

fn tags_from_wire(tags: &[wire::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: t.tag_key.clone(),
            value: t.tag_value.clone(),
        })
        .collect()
}

/// A new random material id: 64 hex characters.
pub(super) fn new_material_id() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    trent_crypto::random_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates material for a key version through the key's backend.
pub(super) fn new_material(
    node: &Node,
    record: &KeyRecord,
    rotation: Option<trent_core::key::RotationType>,
    now: i64,
) -> Result<MaterialRecord, ServerError> {
    let material_id = new_material_id()?;
    let arn = record.arn();
    let owner = MaterialOwner {
        key_arn: &arn,
        material_id: &material_id,
    };
    let wrapped = node.backend(&record.backend).create_material(
        &*node.root()?,
        owner,
        record.spec,
        record.usage,
    )?;
    Ok(MaterialRecord {
        key_id: record.key_id.clone(),
        material_id,
        created: now,
        rotation,
        wrapped,
    })
}

pub(super) fn create_key(
    node: &Node,
    caller: &Caller,
    req: wire::CreateKeyRequest,
) -> Result<wire::KeyMetadataResponse, ServerError> {
    let usage = parse_enum(
        &req.key_usage,
        "keyUsage",
        KeyUsage::parse,
        &KeyUsage::wire_names(),
    )?;
    if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
        return Err(validation(
            "You cannot specify both KeySpec and CustomerMasterKeySpec.",
        ));
    }
    let spec_field = req
        .key_spec
        .clone()
        .or_else(|| req.customer_master_key_spec.clone());
    let spec = parse_enum(
        &spec_field,
        "keySpec",
        KeySpec::parse,
        &KeySpec::wire_names(),
    )?
    .unwrap_or(KeySpec::SymmetricDefault);
    let origin = parse_enum(
        &req.origin,
        "origin",
        Origin::parse,
        "AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE",
    )?
    .unwrap_or(Origin::AwsKms);
    spec.check_available()?;
    let usage = spec::create_usage(spec, usage)?;
    match origin {
        Origin::AwsKms => {}
        Origin::External => trent_core::import::check_importable(spec)?,
        Origin::AwsCloudHsm => {}
        _ => {
            return Err(api(
                ErrorCode::UnsupportedOperation,
                format!("Trent does not support Origin {origin} yet."),
            ));
        }
    }
    if req.multi_region == Some(true) {
        return Err(api(
            ErrorCode::UnsupportedOperation,
            "Trent does not support multi-Region keys.",
        ));
    }
    authorize(
        node,
        caller,
        "CreateKey",
        None,
        Conditions::new()
            .set("kms:KeySpec", spec.as_str())
            .set("kms:KeyUsage", usage.as_str())
            .set("kms:KeyOrigin", origin.as_str()),
    )?;
    let description = req.description.unwrap_or_default();
    check_description(&description)?;
    let key_id = ids::new_key_id();
    let policy = match req.policy {
        Some(p) => {
            let arn = ids::key_arn(&node.config.region, &caller.account_id, &key_id);
            check_lockout(
                node,
                caller,
                &p,
                &arn,
                &caller.account_id,
                req.bypass_policy_lockout_safety_check,
            )?;
            p
        }
        None => trent_core::policy::default_key_policy(&caller.account_id),
    };
    let now = node.clock.now_millis();
    let mut record = KeyRecord {
        key_id,
        account_id: caller.account_id.clone(),
        region: node.config.region.clone(),
        created: now,
        description,
        usage,
        spec,
        origin,
        manager: KeyManager::Customer,
        state: KeyState::Enabled,
        deletion_date: None,
        pending_window_days: None,
        policy,
        tags: Vec::new(),
        rotation: RotationConfig::default(),
        current_material: String::new(),
        backend: super::custom_key_stores::backend_for_new_key(
            node,
            caller,
            origin,
            spec,
            usage,
            req.custom_key_store_id.as_deref(),
        )?,
        import: None,
        revision: 0,
    };
    record.put_tags(tags_from_wire(req.tags.as_deref().unwrap_or_default()))?;
    let material = if origin == Origin::External {
        // No material until ImportKeyMaterial fills this version in.
        record.state = KeyState::PendingImport;
        MaterialRecord {
            key_id: record.key_id.clone(),
            material_id: new_material_id()?,
            created: now,
            rotation: None,
            wrapped: Vec::new(),
        }
    } else {
        new_material(node, &record, None, now)?
    };
    record.current_material = material.material_id.clone();
    node.store.create_key(&record, &material)?;
    Ok(wire::KeyMetadataResponse {
        key_metadata: metadata(&record),
    })
}

pub(super) fn describe_key(
    node: &Node,
    caller: &Caller,
    req: wire::DescribeKeyRequest,
) -> Result<wire::KeyMetadataResponse, ServerError> {
    let key = load_key(
        node,
        caller,
        required(&req.key_id, "keyId")?,
        AliasUse::Allowed,
    )?;
    authorize(
        node,
        caller,
        "DescribeKey",
        Some(&key.record),
        Conditions::new().request_alias(required(&req.key_id, "keyId")?),
    )?;
    let mut key_metadata = metadata(&key.record);
    if let Some(state) = super::custom_key_stores::reported_state(node, &key.record.backend) {
        key_metadata.key_state = state.to_owned();
    }
    Ok(wire::KeyMetadataResponse { key_metadata })
}

pub(super) fn list_keys(
    node: &Node,
    caller: &Caller,
    req: wire::ListKeysRequest,
) -> Result<wire::ListKeysResponse, ServerError> {
    let limit = page_limit(req.limit)?;
    if let Some(marker) = &req.marker {
        ids::validate_key_marker(marker)?;
    }
    authorize(node, caller, "ListKeys", None, Conditions::new())?;
    let page = node.store.list_keys(
        &caller.account_id,
        &node.config.region,
        req.marker.as_deref(),
        limit,
    )?;
    Ok(wire::ListKeysResponse {
        keys: page
            .items
            .iter()
            .map(|k| wire::KeyListEntry {
                key_id: k.key_id.clone(),
                key_arn: k.arn(),
            })
            .collect(),
        truncated: page.next_marker.is_some(),
        next_marker: page.next_marker,
    })
}

fn key_id_arg(req: &wire::KeyIdRequest) -> Result<&str, ServerError> {
    Ok(required(&req.key_id, "keyId")?.as_str())
}

pub(super) fn enable_key(
    node: &Node,
    caller: &Caller,
    req: wire::KeyIdRequest,
) -> Result<serde_json::Value, ServerError> {
    update_key(node, caller, key_id_arg(&req)?, |k| {
        authorize(node, caller, "EnableKey", Some(k), Conditions::new())?;
        Ok(k.enable()?)
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn disable_key(
    node: &Node,
    caller: &Caller,
    req: wire::KeyIdRequest,
) -> Result<serde_json::Value, ServerError> {
    update_key(node, caller, key_id_arg(&req)?, |k| {
        authorize(node, caller, "DisableKey", Some(k), Conditions::new())?;
        Ok(k.disable()?)
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn schedule_key_deletion(
    node: &Node,
    caller: &Caller,
    req: wire::ScheduleKeyDeletionRequest,
) -> Result<wire::ScheduleKeyDeletionResponse, ServerError> {
    let now = node.clock.now_millis();
    let window = req.pending_window_in_days;
    let record = update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(
            node,
            caller,
            "ScheduleKeyDeletion",
            Some(k),
            Conditions::new(),
        )?;
        Ok(k.schedule_deletion(window, now)?)
    })?;
    Ok(wire::ScheduleKeyDeletionResponse {
        key_id: record.arn(),
        deletion_date: record.deletion_date.map(timestamp),
        key_state: record.state.as_str().to_owned(),
        pending_window_in_days: record.pending_window_days,
    })
}

pub(super) fn cancel_key_deletion(
    node: &Node,
    caller: &Caller,
    req: wire::KeyIdRequest,
) -> Result<wire::KeyIdResponse, ServerError> {
    let record = update_key(node, caller, key_id_arg(&req)?, |k| {
        authorize(
            node,
            caller,
            "CancelKeyDeletion",
            Some(k),
            Conditions::new(),
        )?;
        Ok(k.cancel_deletion()?)
    })?;
    Ok(wire::KeyIdResponse {
        key_id: record.arn(),
    })
}

pub(super) fn update_key_description(
    node: &Node,
    caller: &Caller,
    req: wire::UpdateKeyDescriptionRequest,
) -> Result<serde_json::Value, ServerError> {
    let description = required(&req.description, "description")?.clone();
    check_description(&description)?;
    update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(
            node,
            caller,
            "UpdateKeyDescription",
            Some(k),
            Conditions::new(),
        )?;
        k.check_state(StateUse::Manage)?;
        k.description = description.clone();
        Ok(())
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn tag_resource(
    node: &Node,
    caller: &Caller,
    req: wire::TagResourceRequest,
) -> Result<serde_json::Value, ServerError> {
    let tags = tags_from_wire(required(&req.tags, "tags")?);
    update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(node, caller, "TagResource", Some(k), Conditions::new())?;
        k.check_state(StateUse::Manage)?;
        Ok(k.put_tags(tags.clone())?)
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn untag_resource(
    node: &Node,
    caller: &Caller,
    req: wire::UntagResourceRequest,
) -> Result<serde_json::Value, ServerError> {
    let keys = required(&req.tag_keys, "tagKeys")?.clone();
    update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(node, caller, "UntagResource", Some(k), Conditions::new())?;
        k.check_state(StateUse::Manage)?;
        k.remove_tags(&keys);
        Ok(())
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn list_resource_tags(
    node: &Node,
    caller: &Caller,
    req: wire::ListResourceTagsRequest,
) -> Result<wire::ListResourceTagsResponse, ServerError> {
    let limit = page_limit(req.limit)?;
    let record = fresh_record(node, caller, required(&req.key_id, "keyId")?)?;
    authorize(
        node,
        caller,
        "ListResourceTags",
        Some(&record),
        Conditions::new(),
    )?;
    let start = parse_index_marker(req.marker.as_deref())?;
    let tags: Vec<wire::Tag> = record
        .tags
        .iter()
        .skip(start)
        .take(limit)
        .map(|t| wire::Tag {
            tag_key: t.key.clone(),
            tag_value: t.value.clone(),
        })
        .collect();
    let next = start + tags.len();
    let more = next < record.tags.len();
    Ok(wire::ListResourceTagsResponse {
        tags,
        truncated: more,
        next_marker: more.then(|| next.to_string()),
    })
}

fn parse_index_marker(marker: Option<&str>) -> Result<usize, ServerError> {
    match marker {
        None => Ok(0),
        Some(m) => m.parse().map_err(|_| {
            ServerError::Core(trent_core::Error::InvalidMarker(
                "The marker is not valid.".into(),
            ))
        }),
    }
}

fn check_policy_name(name: &Option<String>) -> Result<(), ServerError> {
    match name.as_deref() {
        None | Some("default") => Ok(()),
        Some(_) => Err(super::not_found("No such policy exists")),
    }
}

pub(super) fn get_key_policy(
    node: &Node,
    caller: &Caller,
    req: wire::GetKeyPolicyRequest,
) -> Result<wire::GetKeyPolicyResponse, ServerError> {
    check_policy_name(&req.policy_name)?;
    let record = fresh_record(node, caller, required(&req.key_id, "keyId")?)?;
    authorize(
        node,
        caller,
        "GetKeyPolicy",
        Some(&record),
        Conditions::new(),
    )?;
    Ok(wire::GetKeyPolicyResponse {
        policy: record.policy,
        policy_name: "default".into(),
    })
}

pub(super) fn put_key_policy(
    node: &Node,
    caller: &Caller,
    req: wire::PutKeyPolicyRequest,
) -> Result<serde_json::Value, ServerError> {
    check_policy_name(&req.policy_name)?;
    let policy = required(&req.policy, "policy")?.clone();
    trent_core::policy::validate(&policy)?;
    let bypass = req.bypass_policy_lockout_safety_check;
    update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(node, caller, "PutKeyPolicy", Some(k), Conditions::new())?;
        check_lockout(node, caller, &policy, &k.arn(), &k.account_id, bypass)?;
        if k.state == KeyState::PendingDeletion {
            k.check_state(StateUse::Manage)?;
        }
        k.policy = policy.clone();
        Ok(())
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn list_key_policies(
    node: &Node,
    caller: &Caller,
    req: wire::ListKeyPoliciesRequest,
) -> Result<wire::ListKeyPoliciesResponse, ServerError> {
    page_limit(req.limit)?;
    let record = fresh_record(node, caller, required(&req.key_id, "keyId")?)?;
    authorize(
        node,
        caller,
        "ListKeyPolicies",
        Some(&record),
        Conditions::new(),
    )?;
    Ok(wire::ListKeyPoliciesResponse {
        policy_names: vec!["default".into()],
        next_marker: None,
        truncated: false,
    })
}
