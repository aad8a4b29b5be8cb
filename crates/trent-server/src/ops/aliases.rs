//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use trent_core::ids::{self, AliasUse};
use trent_core::key::{KeyState, StateUse};
use trent_proto::ops::{self as wire, timestamp};
use trent_store::AliasRecord;

use super::{Caller, fresh_record, page_limit, required, resolve_key_id};
use crate::authz::{Conditions, authorize};
use crate::error::ServerError;
use crate::node::Node;

fn target_key(
    node: &Node,
    caller: &Caller,
    raw: &str,
    operation: &str,
) -> Result<String, ServerError> {
    let record = fresh_record(node, caller, raw)?;
    authorize(node, caller, operation, Some(&record), Conditions::new())?;
    if record.state == KeyState::PendingDeletion {
        record.check_state(StateUse::Manage)?;
    }
    Ok(record.key_id)
}

pub(super) fn create_alias(
    node: &Node,
    caller: &Caller,
    req: wire::AliasRequest,
) -> Result<serde_json::Value, ServerError> {
    let name = required(&req.alias_name, "aliasName")?;
    ids::validate_alias_name(name)?;
    let key_id = target_key(
        node,
        caller,
        required(&req.target_key_id, "targetKeyId")?,
        "CreateAlias",
    )?;
    let now = node.clock.now_millis();
    let record = AliasRecord {
        account_id: caller.account_id.clone(),
        region: node.config.region.clone(),
        name: name.clone(),
        target_key_id: key_id,
        created: now,
        updated: now,
    };
    let created = node.store.create_alias(&record);
    // Invalidated whatever the outcome: a failed commit may have applied.
    node.aliases.invalidate(&caller.account_id, name);
    match created {
        Ok(()) => {}
        Err(trent_store::Error::AlreadyExists) => {
            return Err(trent_core::Error::AlreadyExists(format!(
                "An alias with the name {} already exists",
                ids::alias_arn(&node.config.region, &caller.account_id, name)
            ))
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(serde_json::json!({}))
}

fn alias_not_found(node: &Node, caller: &Caller, name: &str) -> ServerError {
    trent_core::Error::NotFound(format!(
        "Alias {} is not found.",
        ids::alias_arn(&node.config.region, &caller.account_id, name)
    ))
    .into()
}

pub(super) fn update_alias(
    node: &Node,
    caller: &Caller,
    req: wire::AliasRequest,
) -> Result<serde_json::Value, ServerError> {
    let name = required(&req.alias_name, "aliasName")?;
    ids::validate_alias_name(name)?;
    let key_id = target_key(
        node,
        caller,
        required(&req.target_key_id, "targetKeyId")?,
        "UpdateAlias",
    )?;
    let now = node.clock.now_millis();
    let updated =
        node.store
            .update_alias(&caller.account_id, &node.config.region, name, &key_id, now);
    node.aliases.invalidate(&caller.account_id, name);
    match updated {
        Ok(()) => {}
        Err(trent_store::Error::NotFound) => return Err(alias_not_found(node, caller, name)),
        Err(e) => return Err(e.into()),
    }
    Ok(serde_json::json!({}))
}

pub(super) fn delete_alias(
    node: &Node,
    caller: &Caller,
    req: wire::AliasRequest,
) -> Result<serde_json::Value, ServerError> {
    let name = required(&req.alias_name, "aliasName")?;
    ids::validate_alias_name(name)?;
    // DeleteAlias needs permission on the key the alias points to.
    if let Some(key_id) = node.aliases.resolve(node, &caller.account_id, name)? {
        let record = fresh_record(node, caller, &key_id)?;
        authorize(
            node,
            caller,
            "DeleteAlias",
            Some(&record),
            Conditions::new(),
        )?;
    }
    let deleted = node
        .store
        .delete_alias(&caller.account_id, &node.config.region, name);
    node.aliases.invalidate(&caller.account_id, name);
    if !deleted? {
        return Err(alias_not_found(node, caller, name));
    }
    Ok(serde_json::json!({}))
}

pub(super) fn list_aliases(
    node: &Node,
    caller: &Caller,
    req: wire::ListAliasesRequest,
) -> Result<wire::ListAliasesResponse, ServerError> {
    let limit = page_limit(req.limit)?;
    if let Some(marker) = &req.marker {
        ids::validate_alias_marker(marker)?;
    }
    authorize(node, caller, "ListAliases", None, Conditions::new())?;
    let key_filter = match req.key_id.as_deref() {
        Some(raw) => Some(
            fresh_record(
                node,
                caller,
                &resolve_key_id(node, caller, raw, AliasUse::Refused)?,
            )?
            .key_id,
        ),
        None => None,
    };
    let page = node.store.list_aliases(
        &caller.account_id,
        &node.config.region,
        key_filter.as_deref(),
        req.marker.as_deref(),
        limit,
    )?;
    let aliases = page
        .items
        .iter()
        .map(|a| wire::AliasListEntry {
            alias_name: a.name.clone(),
            alias_arn: ids::alias_arn(&a.region, &a.account_id, &a.name),
            target_key_id: Some(a.target_key_id.clone()),
            creation_date: Some(timestamp(a.created)),
            last_updated_date: Some(timestamp(a.updated)),
        })
        .collect();
    Ok(wire::ListAliasesResponse {
        aliases,
        truncated: page.next_marker.is_some(),
        next_marker: page.next_marker,
    })
}
