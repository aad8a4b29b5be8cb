//! Background jobs: scheduled key deletion, scheduled rotation, and the
//! expiry of imported key material and of import parameters. A pass
//! asks the store which keys are due at the node's clock and acts on each.
//! The server runs a pass every few seconds; tests run one on demand after
//! moving the clock.

use std::time::Duration;

use trent_core::key::RotationType;
use trent_crypto::backend::MaterialOwner;

use crate::error::ServerError;
use crate::node::Node;
use crate::ops::rotate;

/// How often the server runs a pass.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// What a pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Keys deleted.
    pub deleted: usize,
    /// Keys rotated.
    pub rotated: usize,
    /// Keys whose imported material expired (now PendingImport).
    pub expired: usize,
}

/// Runs one pass. Errors on one key are logged and do not stop the others.
pub fn run_once(node: &Node) -> Result<PassReport, ServerError> {
    let now = node.clock.now_millis();
    let mut report = PassReport::default();
    let due = node.store.keys_due(now)?;
    if !due.is_empty() {
        // Background actions are recorded too: none runs unrecorded.
        crate::audit::ensure_writable(node)?;
    }
    for key_id in due {
        match handle_due_key(node, &key_id, now) {
            Ok(Outcome::Rotated) => report.rotated += 1,
            Ok(Outcome::Deleted) => report.deleted += 1,
            Ok(Outcome::Expired) => report.expired += 1,
            Ok(Outcome::NotDue) => {}
            Err(e) => tracing::warn!(key_id, error = %e, "scheduled job failed"),
        }
    }
    Ok(report)
}

enum Outcome {
    Deleted,
    Expired,
    Rotated,
    NotDue,
}

/// Deletes or rotates one key, whichever is due.
fn handle_due_key(node: &Node, key_id: &str, now: i64) -> Result<Outcome, ServerError> {
    let Some(record) = node.store.get_key(key_id)? else {
        return Ok(Outcome::NotDue);
    };
    if record.deletion_due(now) {
        let arn = record.arn();
        let backend = node.backend(&record.backend);
        for material in node.store.materials(key_id)? {
            backend.destroy_material(
                MaterialOwner {
                    key_arn: &arn,
                    material_id: &material.material_id,
                },
                &material.wrapped,
            )?;
        }
        node.store.delete_key(key_id)?;
        node.keys.invalidate(key_id);
        node.aliases.clear();
        tracing::info!(key = %arn, "deleted key after its waiting period");
        record_service_event(
            node,
            &record.account_id,
            &arn,
            "DeleteKey",
            serde_json::json!({"keyId": arn}),
        );
        return Ok(Outcome::Deleted);
    }
    if record.material_expired(now) || record.parameters_expired(now) {
        let arn = record.arn();
        let expired = crate::ops::expire_import(node, key_id, now)?;
        if expired != crate::ops::Expired::Material {
            return Ok(Outcome::NotDue);
        }
        tracing::info!(key = %arn, "deleted imported key material at its ValidTo");
        record_service_event(
            node,
            &record.account_id,
            &arn,
            "DeleteExpiredKeyMaterial",
            serde_json::json!({"keyId": arn}),
        );
        return Ok(Outcome::Expired);
    }
    if record.rotation_due(now) {
        let arn = record.arn();
        let account_id = record.account_id.clone();
        rotate(node, record, RotationType::Automatic)?;
        tracing::info!(key = %arn, "rotated key on schedule");
        record_service_event(
            node,
            &account_id,
            &arn,
            "RotateKey",
            serde_json::json!({"keyId": arn, "rotationType": "AUTOMATIC"}),
        );
        return Ok(Outcome::Rotated);
    }
    Ok(Outcome::NotDue)
}

/// Records what the service did. The action is done by then; a record that
/// cannot be written is logged loudly (and the next pass waits for the log).
fn record_service_event(
    node: &Node,
    account_id: &str,
    arn: &str,
    name: &str,
    details: serde_json::Value,
) {
    let event = crate::audit::service_event(node, account_id, arn, name, details);
    let _ = crate::audit::record_blocking(node, &event);
}
