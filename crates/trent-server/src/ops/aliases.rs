//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use trent_core::ids::{self, AliasUse};
use trent_core::key::{KeyState, StateUse};
use trent_proto::ops::{self as wire, timestamp};
use trent_store::AliasRecord;

use super::{Caller, fresh_record, page_limit, required, resolve_key_id};
use crate::error::ServerError;
use crate::node::Node;

fn target_key(node: &Node, caller: &Caller, raw: &str) -> Result<String, ServerError> {
    let record = fresh_record(node, caller, raw)?;
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
    let key_id = target_key(node, caller, required(&req.target_key_id, "targetKeyId")?)?;
    let now = node.clock.now_millis();
    let record = AliasRecord {
        account_id: caller.account_id.clone(),
        region: node.config.region.clone(),
        name: name.clone(),
        target_key_id: key_id,
        created: now,
        updated: now,
    };
    match node.store.create_alias(&record) {
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
    node.aliases.invalidate(&caller.account_id, name);
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
    let key_id = target_key(node, caller, required(&req.target_key_id, "targetKeyId")?)?;
    let now = node.clock.now_millis();
    match node
        .store
        .update_alias(&caller.account_id, &node.config.region, name, &key_id, now)
    {
        Ok(()) => {}
        Err(trent_store::Error::NotFound) => return Err(alias_not_found(node, caller, name)),
        Err(e) => return Err(e.into()),
    }
    node.aliases.invalidate(&caller.account_id, name);
    Ok(serde_json::json!({}))
}

pub(super) fn delete_alias(
    node: &Node,
    caller: &Caller,
    req: wire::AliasRequest,
) -> Result<serde_json::Value, ServerError> {
    let name = required(&req.alias_name, "aliasName")?;
    ids::validate_alias_name(name)?;
    if !node
        .store
        .delete_alias(&caller.account_id, &node.config.region, name)?
    {
        return Err(alias_not_found(node, caller, name));
    }
    node.aliases.invalidate(&caller.account_id, name);
    Ok(serde_json::json!({}))
}

pub(super) fn list_aliases(
    node: &Node,
    caller: &Caller,
    req: wire::ListAliasesRequest,
) -> Result<wire::ListAliasesResponse, ServerError> {
    let limit = page_limit(req.limit)?;
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
