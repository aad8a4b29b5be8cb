//! Request and response shapes of the KMS operations Trent serves, named and
//! cased as in the AWS API model. Requests ignore unknown fields, as AWS does.
//! Blob fields holding plaintext are `Zeroizing`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Epoch seconds, as the JSON protocol writes timestamps.
pub type Timestamp = f64;

/// Converts Unix milliseconds to a wire timestamp.
pub fn timestamp(millis: i64) -> Timestamp {
    millis as f64 / 1000.0
}

/// A blob field that may carry a secret.
pub type Blob = Zeroizing<Vec<u8>>;

/// An encryption context map.
pub type EncryptionContext = BTreeMap<String, String>;

/// A tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Key.
    pub tag_key: String,
    /// Value.
    pub tag_value: String,
}

macro_rules! request {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        pub struct $name { $($(#[$fm])* #[allow(missing_docs)] pub $field: $ty),* }
    };
}

macro_rules! response {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Serialize, Default)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name { $($(#[$fm])* #[allow(missing_docs)] #[serde(skip_serializing_if = "crate::ops::Skip::skip")] pub $field: $ty),* }
    };
}

/// Which response fields to leave out: `None`s.
pub trait Skip {
    /// Whether to omit the field.
    fn skip(&self) -> bool;
}
impl<T> Skip for Option<T> {
    fn skip(&self) -> bool {
        self.is_none()
    }
}
macro_rules! never_skip { ($($t:ty),*) => { $(impl Skip for $t { fn skip(&self) -> bool { false } })* } }
never_skip!(
    String,
    bool,
    Vec<String>,
    Vec<Tag>,
    Vec<KeyListEntry>,
    Vec<AliasListEntry>,
    Vec<RotationsListEntry>,
    KeyMetadata
);

/// Blob responses serialize as base64.
#[derive(Debug)]
pub struct OutBlob(pub Zeroizing<Vec<u8>>);
impl Serialize for OutBlob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::json::blob::serialize(&self.0, s)
    }
}

request!(/// CreateKey.
CreateKeyRequest {
    policy: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    customer_master_key_spec: Option<String>,
    key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    tags: Option<Vec<Tag>>,
    multi_region: Option<bool>,
    xks_key_id: Option<String>,
});

/// KeyMetadata, as DescribeKey and CreateKey return it.
#[derive(Debug, Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: Timestamp,
    pub enabled: bool,
    pub description: String,
    pub key_usage: String,
    pub key_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<Timestamp>,
    pub origin: String,
    pub key_manager: String,
    pub customer_master_key_spec: String,
    pub key_spec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encapsulation_algorithms: Option<Vec<String>>,
    pub multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
}

response!(/// Response with only KeyMetadata.
KeyMetadataResponse { key_metadata: KeyMetadata });

request!(/// A request naming only a key (EnableKey, DisableKey, ...).
KeyIdRequest { key_id: Option<String> });

request!(/// DescribeKey.
DescribeKeyRequest { key_id: Option<String>, grant_tokens: Option<Vec<String>> });

request!(/// ListKeys.
ListKeysRequest { limit: Option<i64>, marker: Option<String> });

/// An entry of ListKeys.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct KeyListEntry {
    pub key_id: String,
    pub key_arn: String,
}

response!(/// ListKeys response.
ListKeysResponse { keys: Vec<KeyListEntry>, next_marker: Option<String>, truncated: bool });

request!(/// ScheduleKeyDeletion.
ScheduleKeyDeletionRequest { key_id: Option<String>, pending_window_in_days: Option<i64> });

response!(/// ScheduleKeyDeletion response.
ScheduleKeyDeletionResponse { key_id: String, deletion_date: Option<Timestamp>, key_state: String, pending_window_in_days: Option<u32> });

response!(/// A response with only KeyId.
KeyIdResponse { key_id: String });

request!(/// UpdateKeyDescription.
UpdateKeyDescriptionRequest { key_id: Option<String>, description: Option<String> });

request!(/// CreateAlias and UpdateAlias.
AliasRequest { alias_name: Option<String>, target_key_id: Option<String> });

request!(/// ListAliases.
ListAliasesRequest { key_id: Option<String>, limit: Option<i64>, marker: Option<String> });

/// An entry of ListAliases.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct AliasListEntry {
    pub alias_name: String,
    pub alias_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_date: Option<Timestamp>,
}

response!(/// ListAliases response.
ListAliasesResponse { aliases: Vec<AliasListEntry>, next_marker: Option<String>, truncated: bool });

request!(/// TagResource.
TagResourceRequest { key_id: Option<String>, tags: Option<Vec<Tag>> });

request!(/// UntagResource.
UntagResourceRequest { key_id: Option<String>, tag_keys: Option<Vec<String>> });

request!(/// ListResourceTags.
ListResourceTagsRequest { key_id: Option<String>, limit: Option<i64>, marker: Option<String> });

response!(/// ListResourceTags response.
ListResourceTagsResponse { tags: Vec<Tag>, next_marker: Option<String>, truncated: bool });

request!(/// Encrypt.
EncryptRequest {
    key_id: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    plaintext: Option<Blob>,
    encryption_context: Option<EncryptionContext>,
    grant_tokens: Option<Vec<String>>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
});

response!(/// Encrypt response.
EncryptResponse { ciphertext_blob: Option<OutBlob>, key_id: String, encryption_algorithm: String });

request!(/// Decrypt.
DecryptRequest {
    #[serde(with = "crate::json::opt_blob")]
    ciphertext_blob: Option<Blob>,
    encryption_context: Option<EncryptionContext>,
    grant_tokens: Option<Vec<String>>,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    dry_run: Option<bool>,
});

response!(/// Decrypt response.
DecryptResponse { key_id: String, plaintext: Option<OutBlob>, encryption_algorithm: String, key_material_id: Option<String> });

request!(/// ReEncrypt.
ReEncryptRequest {
    #[serde(with = "crate::json::opt_blob")]
    ciphertext_blob: Option<Blob>,
    source_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// ReEncrypt response.
ReEncryptResponse {
    ciphertext_blob: Option<OutBlob>,
    source_key_id: String,
    key_id: String,
    source_encryption_algorithm: String,
    destination_encryption_algorithm: String,
    source_key_material_id: Option<String>,
    destination_key_material_id: Option<String>,
});

request!(/// GenerateDataKey and GenerateDataKeyWithoutPlaintext.
GenerateDataKeyRequest {
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// GenerateDataKey(WithoutPlaintext) response.
GenerateDataKeyResponse { ciphertext_blob: Option<OutBlob>, plaintext: Option<OutBlob>, key_id: String, key_material_id: Option<String> });

request!(/// GenerateRandom.
GenerateRandomRequest { number_of_bytes: Option<i64>, custom_key_store_id: Option<String> });

response!(/// GenerateRandom response.
GenerateRandomResponse { plaintext: Option<OutBlob> });

request!(/// EnableKeyRotation.
EnableKeyRotationRequest { key_id: Option<String>, rotation_period_in_days: Option<i64> });

response!(/// GetKeyRotationStatus response.
GetKeyRotationStatusResponse {
    key_rotation_enabled: bool,
    key_id: String,
    rotation_period_in_days: Option<u32>,
    next_rotation_date: Option<Timestamp>,
    on_demand_rotation_start_date: Option<Timestamp>,
});

request!(/// ListKeyRotations.
ListKeyRotationsRequest { key_id: Option<String>, limit: Option<i64>, marker: Option<String>, include_key_material: Option<String> });

/// An entry of ListKeyRotations.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RotationsListEntry {
    pub key_id: String,
    pub key_material_id: String,
    pub key_material_state: String,
    pub rotation_date: Timestamp,
    pub rotation_type: String,
}

response!(/// ListKeyRotations response.
ListKeyRotationsResponse { rotations: Vec<RotationsListEntry>, next_marker: Option<String>, truncated: bool });

request!(/// GetKeyPolicy.
GetKeyPolicyRequest { key_id: Option<String>, policy_name: Option<String> });

response!(/// GetKeyPolicy response.
GetKeyPolicyResponse { policy: String, policy_name: String });

request!(/// PutKeyPolicy.
PutKeyPolicyRequest { key_id: Option<String>, policy_name: Option<String>, policy: Option<String>, bypass_policy_lockout_safety_check: Option<bool> });

request!(/// ListKeyPolicies.
ListKeyPoliciesRequest { key_id: Option<String>, limit: Option<i64>, marker: Option<String> });

response!(/// ListKeyPolicies response.
ListKeyPoliciesResponse { policy_names: Vec<String>, next_marker: Option<String>, truncated: bool });

/// The Nitro Enclaves attestation a caller may attach (`RecipientInfo`).
/// Trent has no attested-environment support; the field is read only so
/// that a request carrying it can be refused rather than silently ignored.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct RecipientInfo {
    pub key_encryption_algorithm: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    pub attestation_document: Option<Blob>,
}

request!(/// Sign.
SignRequest {
    key_id: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    message: Option<Blob>,
    message_type: Option<String>,
    grant_tokens: Option<Vec<String>>,
    signing_algorithm: Option<String>,
    dry_run: Option<bool>,
});

response!(/// Sign response.
SignResponse { key_id: String, signature: Option<OutBlob>, signing_algorithm: String });

request!(/// Verify.
VerifyRequest {
    key_id: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    message: Option<Blob>,
    message_type: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    signature: Option<Blob>,
    signing_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// Verify response.
VerifyResponse { key_id: String, signature_valid: bool, signing_algorithm: String });

request!(/// GenerateMac.
GenerateMacRequest {
    #[serde(with = "crate::json::opt_blob")]
    message: Option<Blob>,
    key_id: Option<String>,
    mac_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// GenerateMac response.
GenerateMacResponse { mac: Option<OutBlob>, mac_algorithm: String, key_id: String });

request!(/// VerifyMac.
VerifyMacRequest {
    #[serde(with = "crate::json::opt_blob")]
    message: Option<Blob>,
    key_id: Option<String>,
    mac_algorithm: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    mac: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// VerifyMac response.
VerifyMacResponse { key_id: String, mac_valid: bool, mac_algorithm: String });

request!(/// GetPublicKey.
GetPublicKeyRequest { key_id: Option<String>, grant_tokens: Option<Vec<String>> });

response!(/// GetPublicKey response.
GetPublicKeyResponse {
    key_id: String,
    public_key: Option<OutBlob>,
    customer_master_key_spec: String,
    key_spec: String,
    key_usage: String,
    encryption_algorithms: Option<Vec<String>>,
    signing_algorithms: Option<Vec<String>>,
    key_agreement_algorithms: Option<Vec<String>>,
    encapsulation_algorithms: Option<Vec<String>>,
});

request!(/// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
GenerateDataKeyPairRequest {
    encryption_context: Option<EncryptionContext>,
    key_id: Option<String>,
    key_pair_spec: Option<String>,
    grant_tokens: Option<Vec<String>>,
    recipient: Option<RecipientInfo>,
    dry_run: Option<bool>,
});

response!(/// GenerateDataKeyPair(WithoutPlaintext) response.
GenerateDataKeyPairResponse {
    private_key_ciphertext_blob: Option<OutBlob>,
    private_key_plaintext: Option<OutBlob>,
    public_key: Option<OutBlob>,
    key_id: String,
    key_pair_spec: String,
    key_material_id: Option<String>,
});

request!(/// DeriveSharedSecret.
DeriveSharedSecretRequest {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    public_key: Option<Blob>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
    recipient: Option<RecipientInfo>,
});

response!(/// DeriveSharedSecret response.
DeriveSharedSecretResponse {
    key_id: String,
    shared_secret: Option<OutBlob>,
    key_agreement_algorithm: String,
    key_origin: String,
});

request!(/// Encapsulate.
EncapsulateRequest {
    key_id: Option<String>,
    encapsulation_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// Encapsulate response.
EncapsulateResponse {
    key_id: String,
    shared_secret: Option<OutBlob>,
    shared_secret_ciphertext_blob: Option<OutBlob>,
    encapsulation_algorithm: String,
});

request!(/// Decapsulate.
DecapsulateRequest {
    key_id: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    shared_secret_ciphertext_blob: Option<Blob>,
    encapsulation_algorithm: Option<String>,
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
});

response!(/// Decapsulate response.
DecapsulateResponse { key_id: String, shared_secret: Option<OutBlob>, encapsulation_algorithm: String });

request!(/// GetParametersForImport.
GetParametersForImportRequest {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
});

response!(/// GetParametersForImport response.
GetParametersForImportResponse {
    key_id: String,
    import_token: Option<OutBlob>,
    public_key: Option<OutBlob>,
    parameters_valid_to: Option<Timestamp>,
});

request!(/// ImportKeyMaterial.
ImportKeyMaterialRequest {
    key_id: Option<String>,
    #[serde(with = "crate::json::opt_blob")]
    import_token: Option<Blob>,
    #[serde(with = "crate::json::opt_blob")]
    encrypted_key_material: Option<Blob>,
    valid_to: Option<Timestamp>,
    expiration_model: Option<String>,
    import_type: Option<String>,
    key_material_description: Option<String>,
    key_material_id: Option<String>,
});

response!(/// ImportKeyMaterial response.
ImportKeyMaterialResponse { key_id: String, key_material_id: Option<String> });

request!(/// DeleteImportedKeyMaterial.
DeleteImportedKeyMaterialRequest { key_id: Option<String>, key_material_id: Option<String> });

response!(/// DeleteImportedKeyMaterial response.
DeleteImportedKeyMaterialResponse { key_id: String, key_material_id: Option<String> });
