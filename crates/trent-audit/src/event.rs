//! One audit record, in the shape of a CloudTrail event for
//! `kms.amazonaws.com`, so tools that read CloudTrail read it too.
//!
//! What goes into `requestParameters` and `responseElements` is decided by
//! [`crate::redact`]: an allowlist of field names, so plaintext, key
//! material, ciphertext and secrets never reach a record.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The CloudTrail event version these records follow.
pub const EVENT_VERSION: &str = "1.11";
/// `eventSource` of every record.
pub const EVENT_SOURCE: &str = "kms.amazonaws.com";
/// `eventType` of a request.
pub const API_CALL: &str = "AwsApiCall";
/// `eventType` of an action the service took by itself (scheduled deletion,
/// rotation).
pub const SERVICE_EVENT: &str = "AwsServiceEvent";

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// [`EVENT_VERSION`].
    pub event_version: String,
    /// Who made the request, as far as it is known.
    pub user_identity: UserIdentity,
    /// When, as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub event_time: String,
    /// [`EVENT_SOURCE`].
    pub event_source: String,
    /// The operation (`Encrypt`, `CreateKey`, …), or for service events the
    /// action (`DeleteKey`, `RotateKey`).
    pub event_name: String,
    /// The region the node serves.
    pub aws_region: String,
    /// The peer's IP address; `kms.amazonaws.com` for service events.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The `User-Agent` header (truncated).
    pub user_agent: String,
    /// The AWS error name of a refused or failed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message sent to the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The request's allowlisted fields, or null.
    pub request_parameters: Option<Value>,
    /// The response's allowlisted fields, or null (always null for
    /// read-only operations, as in CloudTrail).
    pub response_elements: Option<Value>,
    /// The `x-amzn-RequestId` the caller received.
    #[serde(rename = "requestID", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// This record's own id.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// The keys the event concerns.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// [`API_CALL`] or [`SERVICE_EVENT`].
    pub event_type: String,
    /// Always true: KMS events are management events.
    pub management_event: bool,
    /// The account whose resources were used (the caller's account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
    /// Always `Management`.
    pub event_category: String,
    /// The TLS session the request came over; absent for plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<TlsDetails>,
    /// Details of a service event (the key and what was done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_event_details: Option<Value>,
}

/// `userIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AWSAccount` (service events) or `Unknown` (the
    /// request did not authenticate).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<String>,
    /// The principal's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// The principal's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The principal's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The access key the request was signed with (also when it was not
    /// recognized).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The IAM user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// For service events: `kms.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

/// One entry of `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The resource's account.
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// `AWS::KMS::Key`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The key ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
}

impl Resource {
    /// A KMS key.
    pub fn key(account_id: &str, arn: &str) -> Self {
        Resource {
            account_id: account_id.to_owned(),
            resource_type: "AWS::KMS::Key".to_owned(),
            arn: arn.to_owned(),
        }
    }
}

/// `tlsDetails`, plus the subject of a verified client certificate (mTLS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsDetails {
    /// `TLSv1.2` or `TLSv1.3`.
    pub tls_version: String,
    /// The IANA name of the cipher suite.
    pub cipher_suite: String,
    /// The `Host` header the client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_provided_host_header: Option<String>,
    /// The verified client certificate's subject (RFC 4514), with mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_subject: Option<String>,
}

/// Formats a time as CloudTrail does (`2024-05-01T12:00:00Z`).
pub fn event_time(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A fresh random event id (a UUID v4 from the system RNG).
pub fn new_event_id() -> String {
    let mut b = [0u8; 16];
    // A failing RNG leaves zeros; the id is then still unique per record
    // position in the chain, which is what makes a record unique.
    let _ = trent_crypto::random_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_cloudtrail_shape() {
        let event = AuditEvent {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity {
                identity_type: Some("Root".into()),
                account_id: Some("111122223333".into()),
                ..UserIdentity::default()
            },
            event_time: event_time(time::macros::datetime!(2024-05-01 12:00:00 UTC)),
            event_source: EVENT_SOURCE.into(),
            event_name: "Encrypt".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "test".into(),
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            request_id: Some("r".into()),
            event_id: new_event_id(),
            read_only: true,
            resources: vec![Resource::key(
                "111122223333",
                "arn:aws:kms:us-east-1:111122223333:key/k",
            )],
            event_type: API_CALL.into(),
            management_event: true,
            recipient_account_id: Some("111122223333".into()),
            event_category: "Management".into(),
            tls_details: None,
            service_event_details: None,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["eventTime"], "2024-05-01T12:00:00Z");
        assert_eq!(json["sourceIPAddress"], "127.0.0.1");
        assert_eq!(json["requestID"], "r");
        assert_eq!(json["userIdentity"]["type"], "Root");
        assert_eq!(
            json["resources"][0]["ARN"],
            "arn:aws:kms:us-east-1:111122223333:key/k"
        );
        assert_eq!(json["resources"][0]["type"], "AWS::KMS::Key");
        assert!(json["requestParameters"].is_null());
        assert!(json.get("errorCode").is_none());
        let back: AuditEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        assert_eq!(event.event_id.len(), 36);
    }
}
