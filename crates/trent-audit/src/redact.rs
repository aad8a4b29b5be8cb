//! What of a request or response may enter an audit record.
//!
//! An allowlist of field names, not a denylist: a field Trent has never
//! heard of (a new API member, a typo, a secret under a new name) is left
//! out. Plaintext, ciphertext blobs, key material, import tokens, signatures,
//! MACs, passwords and grant tokens are not on the list. Encryption context
//! is, as in CloudTrail: it is authenticated data, not secret.
//!
//! Filtering happens while the JSON is parsed: a field that is not allowed
//! is skipped without being copied into memory.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Fields (API member names, at any depth) whose value may be recorded.
const ALLOWED: &[&str] = &[
    // identifiers and names
    "AliasArn",
    "AliasName",
    "Aliases",
    "Arn",
    "AWSAccountId",
    "CloudHsmClusterId",
    "CustomKeyStoreId",
    "CustomKeyStoreName",
    "CustomKeyStoreType",
    "DestinationKeyId",
    "GrantId",
    "GranteePrincipal",
    "KeyArn",
    "KeyId",
    "KeyMaterialId",
    "Keys",
    "Name",
    "NewCustomKeyStoreName",
    "PolicyName",
    "PolicyNames",
    "PrimaryRegion",
    "ReplicaRegion",
    "RetiringPrincipal",
    "SourceKeyId",
    "TargetKeyId",
    "XksKeyId",
    "CurrentKeyMaterialId",
    // specs, usages, algorithms
    "CustomerMasterKeySpec",
    "DestinationEncryptionAlgorithm",
    "EncryptionAlgorithm",
    "EncryptionAlgorithms",
    "ExpirationModel",
    "ImportType",
    "KeyAgreementAlgorithm",
    "KeyAgreementAlgorithms",
    "KeyEncryptionAlgorithm",
    "KeyManager",
    "KeyPairSpec",
    "KeySpec",
    "KeyUsage",
    "MacAlgorithm",
    "MacAlgorithms",
    "MessageType",
    "MultiRegion",
    "Origin",
    "SigningAlgorithm",
    "SigningAlgorithms",
    "SourceEncryptionAlgorithm",
    "WrappingAlgorithm",
    "WrappingKeySpec",
    // states, dates, counts, flags
    "BypassPolicyLockoutSafetyCheck",
    "CreationDate",
    "DeletionDate",
    "DryRun",
    "Enabled",
    "IncludeKeyMaterial",
    "KeyMaterialState",
    "KeyRotationEnabled",
    "KeyState",
    "LastUpdatedDate",
    "Limit",
    "MacValid",
    "Marker",
    "NextMarker",
    "NextRotationDate",
    "NumberOfBytes",
    "OnDemandRotationStartDate",
    "PendingDeletionWindowInDays",
    "PendingWindowInDays",
    "RotationDate",
    "RotationPeriodInDays",
    "Rotations",
    "RotationType",
    "SignatureValid",
    "Truncated",
    "ValidTo",
    // descriptive metadata (CloudTrail records these)
    "Constraints",
    "Description",
    "KeyMetadata",
    "Operations",
    "Policy",
    "Recipient",
    "TagKey",
    "TagKeys",
    "Tags",
    "TagValue",
    // encryption context maps (user keys inside are kept whole)
    "DestinationEncryptionContext",
    "EncryptionContext",
    "EncryptionContextEquals",
    "EncryptionContextSubset",
    "SourceEncryptionContext",
];

/// Fields whose value is a string map with caller-chosen keys.
const FREE_MAPS: &[&str] = &[
    "DestinationEncryptionContext",
    "EncryptionContext",
    "EncryptionContextEquals",
    "EncryptionContextSubset",
    "SourceEncryptionContext",
];

/// Allowed fields that hold a number or a boolean: a value of another type
/// (a string where a count belongs) is dropped, so a caller cannot smuggle
/// text into the log through them.
const SCALARS: &[&str] = &[
    "BypassPolicyLockoutSafetyCheck",
    "CreationDate",
    "DeletionDate",
    "DryRun",
    "Enabled",
    "IncludeKeyMaterial",
    "KeyRotationEnabled",
    "LastUpdatedDate",
    "Limit",
    "MacValid",
    "MultiRegion",
    "NextRotationDate",
    "NumberOfBytes",
    "OnDemandRotationStartDate",
    "PendingDeletionWindowInDays",
    "PendingWindowInDays",
    "RotationDate",
    "RotationPeriodInDays",
    "SignatureValid",
    "Truncated",
    "ValidTo",
];

/// How deep a recorded value may nest; deeper parts are dropped.
const MAX_DEPTH: usize = 8;

/// Whether a field may be recorded.
pub fn is_allowed(field: &str) -> bool {
    ALLOWED.contains(&field)
}

/// The allowlisted part of a JSON body, with field names in CloudTrail's
/// lowerCamelCase (`KeyId` → `keyId`, `AWSAccountId` → `aWSAccountId`).
/// `None` if the body is not a JSON object.
pub fn filter(body: &[u8]) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Seed {
        depth: 0,
        free_map: false,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(value).filter(Value::is_object)
}

/// `KeyId` → `keyId`.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Deserializes a value, keeping only allowed fields of objects.
#[derive(Clone, Copy)]
struct Seed {
    depth: usize,
    /// Inside an encryption context: keys are the caller's, values strings.
    free_map: bool,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        if self.depth >= MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Value::Array(out));
        }
        let inner = Seed {
            depth: self.depth + 1,
            free_map: false,
        };
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.depth >= MAX_DEPTH {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if self.free_map {
                // Encryption context: caller keys, string values only.
                let value = map.next_value_seed(Seed {
                    depth: MAX_DEPTH,
                    free_map: false,
                })?;
                if value.is_string() {
                    out.insert(key, value);
                }
            } else if is_allowed(&key) {
                let value = map.next_value_seed(Seed {
                    depth: self.depth + 1,
                    free_map: FREE_MAPS.contains(&key.as_str()),
                })?;
                let scalar = value.is_number() || value.is_boolean() || value.is_null();
                if scalar || !SCALARS.contains(&key.as_str()) {
                    out.insert(camel(&key), value);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_allowed_fields_and_drops_the_rest() {
        let body = br#"{
            "KeyId": "alias/app",
            "Plaintext": "c2VjcmV0LXBsYWludGV4dA==",
            "EncryptionContext": {"Department": "10", "Plaintext": "ctx-value-kept"},
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "GrantTokens": ["token-secret"],
            "Unknown": {"KeyId": "nested-in-unknown"},
            "Tags": [{"TagKey": "team", "TagValue": "blue", "Secret": "x"}],
            "Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256", "AttestationDocument": "ZG9j"}
        }"#;
        let v = filter(body).unwrap();
        assert_eq!(v["keyId"], "alias/app");
        assert_eq!(v["encryptionAlgorithm"], "SYMMETRIC_DEFAULT");
        assert_eq!(v["encryptionContext"]["Department"], "10");
        assert_eq!(v["encryptionContext"]["Plaintext"], "ctx-value-kept");
        assert_eq!(v["tags"][0]["tagKey"], "team");
        assert!(v["tags"][0].get("secret").is_none());
        assert_eq!(
            v["recipient"]["keyEncryptionAlgorithm"],
            "RSAES_OAEP_SHA_256"
        );
        let text = v.to_string();
        for secret in ["c2VjcmV0", "token-secret", "nested-in-unknown", "ZG9j"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }

    #[test]
    fn secrets_of_every_known_name_are_dropped() {
        for field in [
            "Plaintext",
            "CiphertextBlob",
            "Message",
            "Signature",
            "Mac",
            "ImportToken",
            "EncryptedKeyMaterial",
            "PublicKey",
            "PrivateKeyPlaintext",
            "PrivateKeyCiphertextBlob",
            "KeyStorePassword",
            "XksProxyAuthenticationCredential",
            "GrantToken",
            "GrantTokens",
            "CiphertextForRecipient",
            "SharedSecret",
        ] {
            assert!(!is_allowed(field), "{field} is allowlisted");
            let body = format!(r#"{{"{field}": "SECRET", "KeyId": "k"}}"#);
            let v = filter(body.as_bytes()).unwrap();
            assert!(!v.to_string().contains("SECRET"), "{field}");
        }
    }

    #[test]
    fn numeric_and_boolean_fields_keep_only_numbers_and_booleans() {
        let v =
            filter(br#"{"NumberOfBytes": "smuggled", "DryRun": "x", "Limit": 5, "Enabled": true}"#)
                .unwrap();
        assert_eq!(v, serde_json::json!({"limit": 5, "enabled": true}));
    }

    #[test]
    fn non_objects_and_bad_json_give_none() {
        assert!(filter(b"[1,2]").is_none());
        assert!(filter(b"{not json").is_none());
        assert!(filter(b"{} trailing").is_none());
        assert_eq!(filter(b"{}").unwrap(), serde_json::json!({}));
    }

    #[test]
    fn encryption_context_keeps_only_strings_and_depth_is_bounded() {
        let v = filter(br#"{"EncryptionContext": {"a": "1", "b": {"c": "d"}}}"#).unwrap();
        assert_eq!(v["encryptionContext"], serde_json::json!({"a": "1"}));
        let mut deep = String::new();
        for _ in 0..20 {
            deep.push_str(r#"{"KeyMetadata": "#);
        }
        deep.push('1');
        for _ in 0..20 {
            deep.push('}');
        }
        assert!(filter(deep.as_bytes()).is_some());
    }
}
