//! The server's side of the audit log: the node's log (opened when the node
//! unseals, since its keys are wrapped under the root key; closed when it
//! seals), the one record each request becomes, and records of what the
//! service does by itself (scheduled deletion and rotation).
//!
//! Requests fail closed: a request is answered only after its record is
//! written; if it cannot be, the answer is a 500 (`KMSInternalException`)
//! instead, and once the log is known to be failing, operations are
//! refused before they run.

use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use trent_audit::event::{self, AuditEvent, Resource, TlsDetails, UserIdentity};
use trent_audit::{AuditConfig, AuditKeys, AuditLog};
use trent_crypto::root::RootKey;
use trent_proto::error::{ApiError, ErrorCode};
use trent_store::Store;

use crate::context::RequestContext;
use crate::error::{ServerError, api};
use crate::node::Node;
use crate::ops::Caller;

/// Longest error message recorded.
const MAX_ERROR_MESSAGE: usize = 1024;

/// A node's audit log: configured at start, open while unsealed.
#[derive(Debug, Default)]
pub struct AuditState {
    config: Mutex<Option<AuditConfig>>,
    log: RwLock<Option<Arc<AuditLog>>>,
    held: Mutex<HeldWhileSealed>,
}

/// Most records of requests refused while sealed kept for the next unseal.
const MAX_HELD: usize = 10_000;

/// Records of requests refused while the node was sealed. The log's keys
/// are under the root key, so these wait in memory and are written first
/// thing at the next unseal; past [`MAX_HELD`] only their number is kept,
/// and the number is recorded.
#[derive(Debug, Default)]
struct HeldWhileSealed {
    events: Vec<AuditEvent>,
    dropped: u64,
}

impl AuditState {
    /// Sets where and how the log is written; it opens at the next unseal.
    pub fn configure(&self, config: AuditConfig) {
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Some(config);
    }

    /// Opens the log (once) with keys unwrapped by `root`. Called by
    /// [`Node::unseal`] before the root key is published, so no request runs
    /// unrecorded.
    pub(crate) fn open(&self, store: &Arc<dyn Store>, root: &RootKey) -> Result<(), ServerError> {
        let Some(config) = self
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return Ok(());
        };
        let mut log = self.log.write().unwrap_or_else(|p| p.into_inner());
        if log.is_some() {
            return Ok(());
        }
        let fail = |e: trent_audit::Error| {
            tracing::error!(error = %e, "opening the audit log");
            api(
                ErrorCode::KmsInternal,
                format!("opening the audit log: {e}"),
            )
        };
        let keys = AuditKeys::load_or_create(store.as_ref(), root).map_err(fail)?;
        let opened = Arc::new(AuditLog::open(config, Arc::new(keys), store.clone()).map_err(fail)?);
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for event in &held.events {
            // Queued ahead of any new request: the writer keeps the order.
            drop(opened.append(event));
        }
        if held.dropped > 0 {
            tracing::warn!(
                dropped = held.dropped,
                "requests refused while sealed exceeded the {MAX_HELD} records kept for the audit log"
            );
        }
        *log = Some(opened);
        Ok(())
    }

    /// Keeps the record of a request refused while sealed, for the next
    /// unseal to write.
    pub(crate) fn hold(&self, event: AuditEvent) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.events.len() < MAX_HELD {
            held.events.push(event);
        } else {
            held.dropped += 1;
        }
    }

    /// Writes what is queued and a final checkpoint, and closes the log
    /// (at shutdown, and when the node seals: its keys leave memory).
    pub fn close(&self) {
        let log = self.log.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(log) = log {
            log.close();
        }
    }

    /// The open log.
    pub fn log(&self) -> Option<Arc<AuditLog>> {
        self.log.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether an operation may run: the log is open and writing.
    pub fn writable(&self) -> bool {
        self.log().is_some_and(|log| log.is_healthy())
    }
}

fn not_recorded() -> ServerError {
    api(
        ErrorCode::KmsInternal,
        "The request could not be recorded in the audit log, so it was refused. Retry later.",
    )
}

/// Refuses to run an operation while the log cannot be written.
pub(crate) fn ensure_writable(node: &Node) -> Result<(), ServerError> {
    if node.audit.writable() {
        Ok(())
    } else {
        Err(not_recorded())
    }
}

/// Writes `event`; the caller answers only after this returns `Ok`.
pub(crate) async fn record(node: &Node, event: &AuditEvent) -> Result<(), ServerError> {
    let log = node.audit.log().ok_or_else(not_recorded)?;
    log.append(event).written().await.map_err(|e| {
        tracing::error!(error = %e, request_id = ?event.request_id, "audit record not written");
        not_recorded()
    })
}

/// Writes `event` from a blocking thread (the scheduler).
pub(crate) fn record_blocking(node: &Node, event: &AuditEvent) -> Result<(), ServerError> {
    let log = node.audit.log().ok_or_else(not_recorded)?;
    log.append(event).wait().map_err(|e| {
        tracing::error!(error = %e, event = %event.event_name, "audit record not written");
        not_recorded()
    })
}

/// Everything known about one request when it is answered.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    pub(crate) context: &'a RequestContext,
    pub(crate) request_id: &'a str,
    /// The operation named by `X-Amz-Target`, if any.
    pub(crate) operation: Option<&'a str>,
    /// The authenticated caller.
    pub(crate) caller: Option<&'a Caller>,
    /// The access key a request that did not authenticate was signed with.
    pub(crate) claimed_access_key: Option<String>,
    /// The request body, if it was read.
    pub(crate) request: Option<&'a [u8]>,
    /// The response body, or the error sent.
    pub(crate) outcome: Result<&'a [u8], &'a ApiError>,
}

/// The record of one request.
pub(crate) fn request_event(node: &Node, x: &Exchange<'_>) -> AuditEvent {
    let name = x
        .operation
        .filter(|op| valid_operation_name(op))
        .unwrap_or("Unknown");
    let read_only = is_read_only(name);
    let request_parameters = x.request.and_then(trent_audit::redact::filter);
    let response = match x.outcome {
        Ok(body) => trent_audit::redact::filter(body),
        Err(_) => None,
    };
    let account = x.caller.map(|c| c.account_id.clone());
    let resources = match &account {
        Some(account) => resources(
            &node.config.region,
            account,
            request_parameters.as_ref(),
            response.as_ref(),
        ),
        None => Vec::new(),
    };
    let (error_code, error_message) = match x.outcome {
        Ok(_) => (None, None),
        Err(e) => (Some(e.code.as_str().to_owned()), Some(recorded_message(e))),
    };
    AuditEvent {
        event_version: event::EVENT_VERSION.into(),
        user_identity: user_identity(x.caller, x.claimed_access_key.clone()),
        event_time: event::event_time(time::OffsetDateTime::now_utc()),
        event_source: event::EVENT_SOURCE.into(),
        event_name: name.to_owned(),
        aws_region: node.config.region.clone(),
        source_ip_address: x.context.source_ip.to_string(),
        user_agent: x.context.user_agent.clone(),
        error_code,
        error_message,
        request_parameters,
        // As CloudTrail: read-only operations record no response elements.
        response_elements: if read_only { None } else { response },
        request_id: Some(x.request_id.to_owned()),
        event_id: event::new_event_id(),
        read_only,
        resources,
        event_type: event::API_CALL.into(),
        management_event: true,
        recipient_account_id: account,
        event_category: "Management".into(),
        tls_details: x.context.tls.as_ref().map(|tls| TlsDetails {
            tls_version: tls.version.to_owned(),
            cipher_suite: tls.cipher_suite.clone(),
            client_provided_host_header: x.context.host.clone(),
            client_certificate_subject: tls.client_subject.clone(),
        }),
        service_event_details: None,
    }
}

/// The record of something the service did by itself to a key.
pub(crate) fn service_event(
    node: &Node,
    account_id: &str,
    key_arn: &str,
    name: &str,
    details: Value,
) -> AuditEvent {
    AuditEvent {
        event_version: event::EVENT_VERSION.into(),
        user_identity: UserIdentity {
            identity_type: Some("AWSAccount".into()),
            account_id: Some(account_id.to_owned()),
            invoked_by: Some(event::EVENT_SOURCE.into()),
            ..UserIdentity::default()
        },
        event_time: event::event_time(time::OffsetDateTime::now_utc()),
        event_source: event::EVENT_SOURCE.into(),
        event_name: name.to_owned(),
        aws_region: node.config.region.clone(),
        source_ip_address: event::EVENT_SOURCE.into(),
        user_agent: event::EVENT_SOURCE.into(),
        error_code: None,
        error_message: None,
        request_parameters: None,
        response_elements: None,
        request_id: None,
        event_id: event::new_event_id(),
        read_only: false,
        resources: vec![Resource::key(account_id, key_arn)],
        event_type: event::SERVICE_EVENT.into(),
        management_event: true,
        recipient_account_id: Some(account_id.to_owned()),
        event_category: "Management".into(),
        tls_details: None,
        service_event_details: Some(details),
    }
}

fn user_identity(caller: Option<&Caller>, claimed_access_key: Option<String>) -> UserIdentity {
    let Some(caller) = caller else {
        return UserIdentity {
            identity_type: Some("Unknown".into()),
            access_key_id: claimed_access_key,
            ..UserIdentity::default()
        };
    };
    let user = caller
        .principal_arn
        .rsplit_once(":user/")
        .map(|(_, name)| name.to_owned());
    UserIdentity {
        identity_type: Some(if user.is_some() { "IAMUser" } else { "Root" }.into()),
        principal_id: Some(match &user {
            Some(name) => format!("{}:{name}", caller.account_id),
            None => caller.account_id.clone(),
        }),
        arn: Some(caller.principal_arn.clone()),
        account_id: Some(caller.account_id.clone()),
        access_key_id: Some(caller.access_key_id.clone()),
        user_name: user,
        invoked_by: None,
    }
}

/// Operation names come from an unauthenticated header: record them only
/// if they look like one.
fn valid_operation_name(op: &str) -> bool {
    (1..=64).contains(&op.len()) && op.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// CloudTrail's `readOnly`: operations that change no state.
fn is_read_only(op: &str) -> bool {
    ["Describe", "List", "Get"]
        .iter()
        .any(|p| op.starts_with(p))
        || matches!(
            op,
            "Encrypt"
                | "Decrypt"
                | "ReEncrypt"
                | "GenerateDataKey"
                | "GenerateDataKeyWithoutPlaintext"
                | "GenerateDataKeyPair"
                | "GenerateDataKeyPairWithoutPlaintext"
                | "GenerateRandom"
                | "GenerateMac"
                | "VerifyMac"
                | "Sign"
                | "Verify"
                | "DeriveSharedSecret"
                | "Encapsulate"
                | "Decapsulate"
        )
}

/// The keys an event concerns: ARNs from the response (which always names
/// the key by ARN), else key ids or ARNs from the request. Aliases are not
/// resolved here.
fn resources(
    region: &str,
    account: &str,
    request: Option<&Value>,
    response: Option<&Value>,
) -> Vec<Resource> {
    let to_arn = |v: &str| {
        if v.starts_with("arn:") && v.contains(":key/") {
            Some(v.to_owned())
        } else if !v.starts_with("arn:") && !v.starts_with("alias/") && !v.is_empty() {
            Some(trent_core::ids::key_arn(region, account, v))
        } else {
            None
        }
    };
    let collect = |value: Option<&Value>, fields: &[&str]| -> Vec<String> {
        let Some(value) = value else {
            return Vec::new();
        };
        let mut arns: Vec<String> = Vec::new();
        for field in fields {
            let found = match *field {
                "keyMetadata" => value["keyMetadata"]["arn"].as_str(),
                f => value[f].as_str(),
            };
            if let Some(arn) = found.and_then(to_arn)
                && !arns.contains(&arn)
            {
                arns.push(arn);
            }
        }
        arns
    };
    let mut arns = collect(response, &["keyMetadata", "sourceKeyId", "keyId"]);
    if arns.is_empty() {
        arns = collect(
            request,
            &["keyId", "sourceKeyId", "destinationKeyId", "targetKeyId"],
        );
    }
    let owner = |arn: &str| arn.split(':').nth(4).unwrap_or(account).to_owned();
    arns.iter()
        .map(|arn| Resource::key(&owner(arn), arn))
        .collect()
}

/// The error message as recorded: request decoding errors can quote the
/// offending JSON value, so quoted text in them is elided.
fn recorded_message(error: &ApiError) -> String {
    let mut message = error.message.clone();
    if matches!(error.code, ErrorCode::Serialization | ErrorCode::Validation) {
        let mut out = String::with_capacity(message.len());
        let mut quoted = false;
        for c in message.chars() {
            if c == '"' {
                if !quoted {
                    out.push_str("\"…\"");
                }
                quoted = !quoted;
            } else if !quoted {
                out.push(c);
            }
        }
        message = out;
    }
    if message.len() > MAX_ERROR_MESSAGE {
        let mut cut = MAX_ERROR_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_prefer_the_response_arn() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/abc";
        let r = resources(
            "us-east-1",
            "111122223333",
            Some(&serde_json::json!({"keyId": "alias/x"})),
            Some(&serde_json::json!({"keyId": arn})),
        );
        assert_eq!(r, vec![Resource::key("111122223333", arn)]);
        let r = resources(
            "us-east-1",
            "111122223333",
            Some(&serde_json::json!({"keyId": "abc"})),
            None,
        );
        assert_eq!(r[0].arn, arn);
        assert!(
            resources(
                "us-east-1",
                "1",
                Some(&serde_json::json!({"keyId": "alias/x"})),
                None
            )
            .is_empty()
        );
    }

    #[test]
    fn decoding_errors_lose_their_quoted_values() {
        let e = ApiError::new(
            ErrorCode::Validation,
            "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member invalid type: string \"s3cret\", expected u32",
        );
        let m = recorded_message(&e);
        assert!(!m.contains("s3cret"), "{m}");
        assert!(m.contains("numberOfBytes"));
    }

    #[test]
    fn read_only_follows_cloudtrail() {
        for op in [
            "Encrypt",
            "Decrypt",
            "DescribeKey",
            "ListAliases",
            "GetKeyPolicy",
            "GenerateRandom",
        ] {
            assert!(is_read_only(op), "{op}");
        }
        for op in [
            "CreateKey",
            "ScheduleKeyDeletion",
            "PutKeyPolicy",
            "RotateKeyOnDemand",
            "TagResource",
        ] {
            assert!(!is_read_only(op), "{op}");
        }
        assert!(valid_operation_name("Encrypt"));
        assert!(!valid_operation_name("Enc rypt"));
        assert!(!valid_operation_name(""));
    }
}
