//! Key rotation: Enable/DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand, ListKeyRotations. Every material version is kept, so
//! ciphertexts made before any number of rotations still decrypt.

use trent_core::key::{KeyRecord, KeyState, RotationType, StateUse};
use trent_proto::error::ErrorCode;
use trent_proto::ops::{self as wire, timestamp};

use super::keys::new_material;
use super::{Caller, fresh_record, page_limit, required, update_key};
use crate::authz::{Conditions, authorize};
use crate::error::{ServerError, api};
use crate::node::Node;

/// AWS's limit on on-demand rotations per key.
const MAX_ON_DEMAND_ROTATIONS: usize = 25;

pub(super) fn enable_key_rotation(
    node: &Node,
    caller: &Caller,
    req: wire::EnableKeyRotationRequest,
) -> Result<serde_json::Value, ServerError> {
    let now = node.clock.now_millis();
    let period = req.rotation_period_in_days;
    update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(
            node,
            caller,
            "EnableKeyRotation",
            Some(k),
            Conditions::new(),
        )?;
        Ok(k.enable_rotation(period, now)?)
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn disable_key_rotation(
    node: &Node,
    caller: &Caller,
    req: wire::KeyIdRequest,
) -> Result<serde_json::Value, ServerError> {
    update_key(node, caller, required(&req.key_id, "keyId")?, |k| {
        authorize(
            node,
            caller,
            "DisableKeyRotation",
            Some(k),
            Conditions::new(),
        )?;
        Ok(k.disable_rotation()?)
    })?;
    Ok(serde_json::json!({}))
}

pub(super) fn get_key_rotation_status(
    node: &Node,
    caller: &Caller,
    req: wire::KeyIdRequest,
) -> Result<wire::GetKeyRotationStatusResponse, ServerError> {
    let record = fresh_record(node, caller, required(&req.key_id, "keyId")?)?;
    authorize(
        node,
        caller,
        "GetKeyRotationStatus",
        Some(&record),
        Conditions::new(),
    )?;
    // AWS answers for every key: those that cannot rotate (asymmetric, HMAC)
    // report rotation as disabled rather than failing.
    let enabled = record.check_rotatable().is_ok()
        && record.rotation.enabled
        && record.state != KeyState::PendingDeletion;
    Ok(wire::GetKeyRotationStatusResponse {
        key_rotation_enabled: enabled,
        key_id: record.arn(),
        rotation_period_in_days: record.rotation.period_days.filter(|_| enabled),
        next_rotation_date: record
            .rotation
            .next_rotation
            .filter(|_| enabled)
            .map(timestamp),
        on_demand_rotation_start_date: record.rotation.on_demand_started.map(timestamp),
    })
}

/// Makes new material current, atomically with the metadata change.
pub(crate) fn rotate(
    node: &Node,
    mut record: KeyRecord,
    kind: RotationType,
) -> Result<KeyRecord, ServerError> {
    let now = node.clock.now_millis();
    let material = new_material(node, &record, Some(kind), now)?;
    record.rotated(material.material_id.clone(), kind, now);
    let stored = node.store.update_key_with_material(&record, &material);
    // Even a failed commit may have reached the disk: never keep serving
    // the old current material from the cache.
    node.keys.invalidate(&record.key_id);
    stored?;
    Ok(record)
}

pub(super) fn rotate_key_on_demand(
    node: &Node,
    caller: &Caller,
    req: wire::KeyIdRequest,
) -> Result<wire::KeyIdResponse, ServerError> {
    let raw = required(&req.key_id, "keyId")?;
    for _ in 0..16 {
        let record = fresh_record(node, caller, raw)?;
        authorize(
            node,
            caller,
            "RotateKeyOnDemand",
            Some(&record),
            Conditions::new(),
        )?;
        record.check_rotatable()?;
        record.check_state(StateUse::Cryptographic)?;
        let on_demand = node
            .store
            .materials(&record.key_id)?
            .iter()
            .filter(|m| m.rotation == Some(RotationType::OnDemand))
            .count();
        if on_demand >= MAX_ON_DEMAND_ROTATIONS {
            return Err(api(
                ErrorCode::LimitExceeded,
                format!(
                    "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                    record.arn()
                ),
            ));
        }
        match rotate(node, record, RotationType::OnDemand) {
            Ok(record) => {
                return Ok(wire::KeyIdResponse {
                    key_id: record.arn(),
                });
            }
            Err(ServerError::Store(trent_store::Error::Conflict)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(api(
        ErrorCode::KmsInternal,
        "The key is being changed concurrently; retry.",
    ))
}

pub(super) fn list_key_rotations(
    node: &Node,
    caller: &Caller,
    req: wire::ListKeyRotationsRequest,
) -> Result<wire::ListKeyRotationsResponse, ServerError> {
    let limit = page_limit(req.limit)?;
    let record = fresh_record(node, caller, required(&req.key_id, "keyId")?)?;
    authorize(
        node,
        caller,
        "ListKeyRotations",
        Some(&record),
        Conditions::new(),
    )?;
    record.check_rotatable()?;
    let include_initial = match req.include_key_material.as_deref() {
        None | Some("ROTATIONS_ONLY") => false,
        Some("ALL_KEY_MATERIAL") => true,
        Some(other) => {
            return Err(crate::error::validation(format!(
                "Value '{other}' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]"
            )));
        }
    };
    let arn = record.arn();
    let entries: Vec<wire::RotationsListEntry> = node
        .store
        .materials(&record.key_id)?
        .into_iter()
        .filter(|m| include_initial || m.rotation.is_some())
        .map(|m| wire::RotationsListEntry {
            key_id: arn.clone(),
            key_material_state: if m.material_id == record.current_material {
                "CURRENT"
            } else {
                "NON_CURRENT"
            }
            .into(),
            key_material_id: m.material_id,
            rotation_date: timestamp(m.created),
            rotation_type: m.rotation.map(|r| r.as_str()).unwrap_or("AUTOMATIC").into(),
        })
        .collect();
    let start: usize = match req.marker.as_deref() {
        None => 0,
        Some(m) => m
            .parse()
            .map_err(|_| trent_core::Error::InvalidMarker("The marker is not valid.".into()))?,
    };
    let total = entries.len();
    let rotations: Vec<_> = entries.into_iter().skip(start).take(limit).collect();
    let next = start + rotations.len();
    Ok(wire::ListKeyRotationsResponse {
        rotations,
        truncated: next < total,
        next_marker: (next < total).then(|| next.to_string()),
    })
}
