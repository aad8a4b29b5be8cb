//! The operations on asymmetric KMS keys other than encryption: Sign,
//! Verify, GetPublicKey, DeriveSharedSecret, Encapsulate and Decapsulate.
//! Each checks, in AWS's order, the request's shape, the key's state, its
//! usage, then the algorithm against the key spec (`trent_core::spec`), and
//! only then calls the key's backend.

use trent_core::ids::AliasUse;
use trent_core::key::{KeyUsage, StateUse};
use trent_core::spec::{
    self, AlgorithmLists, EncapsulationAlgorithm, KeyAgreementAlgorithm, MessageType,
    SigningAlgorithm,
};
use trent_crypto::backend::SignInput;
use trent_proto::error::ErrorCode;
use trent_proto::ops::{self as wire, OutBlob};
use zeroize::Zeroizing;

use super::{
    Caller, dry_run, enum_arg, load_key, off_executor, refuse_recipient, required, required_blob,
    required_enum,
};
use crate::authz::{Conditions, authorize};
use crate::cache::LoadedKey;
use crate::error::{ServerError, api};
use crate::node::Node;

/// The largest Signature, CiphertextBlob or PublicKey argument (the API
/// model's CiphertextType and PublicKeyType limits).
const MAX_CIPHERTEXT_LEN: usize = 6144;
const MAX_PUBLIC_KEY_LEN: usize = 8192;

/// Wire names of a list of algorithms.
fn names<T: Copy>(list: Option<&[T]>, name: fn(T) -> &'static str) -> Option<Vec<String>> {
    list.map(|l| l.iter().map(|&a| name(a).to_owned()).collect())
}

/// The checks Sign and Verify share; returns the algorithm and message type.
fn signing_request(
    key: &LoadedKey,
    operation: &str,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &[u8],
) -> Result<(), ServerError> {
    key.record.check_state(StateUse::Cryptographic)?;
    key.record.check_usage(KeyUsage::SignVerify, operation)?;
    spec::check_signing(key.record.spec, algorithm, message_type, message.len())?;
    Ok(())
}

fn sign_input(message_type: MessageType, message: &[u8]) -> SignInput<'_> {
    match message_type {
        MessageType::Raw => SignInput::Raw(message),
        MessageType::Digest => SignInput::Digest(message),
        MessageType::ExternalMu => SignInput::ExternalMu(message),
    }
}

fn message_arg(value: &Option<trent_proto::ops::Blob>) -> Result<&[u8], ServerError> {
    let message = required(value, "message")?;
    spec::check_message_len(message.len())?;
    Ok(message)
}

fn message_type_arg(value: &Option<String>) -> Result<MessageType, ServerError> {
    Ok(enum_arg(
        value,
        "messageType",
        MessageType::parse,
        MessageType::wire_names,
    )?
    .unwrap_or(MessageType::Raw))
}

/// What Sign and Verify both establish before touching the signer.
struct SigningCall<'a> {
    key: std::sync::Arc<LoadedKey>,
    algorithm: SigningAlgorithm,
    message_type: MessageType,
    message: &'a [u8],
}

/// The checks Sign and Verify share, in AWS's order: the request's fields,
/// the key, authorization, the key's usage and the algorithm against its
/// spec, then DryRun.
#[allow(clippy::too_many_arguments)]
fn signing_call<'a>(
    node: &Node,
    caller: &Caller,
    operation: &str,
    key_id: &Option<String>,
    message: &'a Option<trent_proto::ops::Blob>,
    algorithm: &Option<String>,
    message_type: &Option<String>,
    dry_run_flag: Option<bool>,
) -> Result<SigningCall<'a>, ServerError> {
    let key_arg = required(key_id, "keyId")?;
    let message = message_arg(message)?;
    let algorithm = required_enum(
        algorithm,
        "signingAlgorithm",
        SigningAlgorithm::parse,
        SigningAlgorithm::wire_names,
    )?;
    let message_type = message_type_arg(message_type)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        operation,
        Some(&key.record),
        Conditions::new()
            .set("kms:SigningAlgorithm", algorithm.as_str())
            .request_alias(key_arg),
    )?;
    signing_request(&key, operation, algorithm, message_type, message)?;
    dry_run(dry_run_flag)?;
    Ok(SigningCall {
        key,
        algorithm,
        message_type,
        message,
    })
}

pub(super) fn sign(
    node: &Node,
    caller: &Caller,
    req: wire::SignRequest,
) -> Result<wire::SignResponse, ServerError> {
    let call = signing_call(
        node,
        caller,
        "Sign",
        &req.key_id,
        &req.message,
        &req.signing_algorithm,
        &req.message_type,
        req.dry_run,
    )?;
    let signer = call.key.signing()?;
    let input = sign_input(call.message_type, call.message);
    let signature = off_executor(call.key.record.spec.is_rsa(), || {
        signer.sign(call.algorithm, input)
    })?;
    Ok(wire::SignResponse {
        key_id: call.key.arn.clone(),
        signature: Some(OutBlob(Zeroizing::new(signature))),
        signing_algorithm: call.algorithm.as_str().into(),
    })
}

pub(super) fn verify(
    node: &Node,
    caller: &Caller,
    req: wire::VerifyRequest,
) -> Result<wire::VerifyResponse, ServerError> {
    let signature = required_blob(&req.signature, "signature", MAX_CIPHERTEXT_LEN)?;
    let call = signing_call(
        node,
        caller,
        "Verify",
        &req.key_id,
        &req.message,
        &req.signing_algorithm,
        &req.message_type,
        req.dry_run,
    )?;
    let input = sign_input(call.message_type, call.message);
    if !call
        .key
        .signing()?
        .verify(call.algorithm, input, signature)?
    {
        return Err(trent_core::Error::InvalidSignature.into());
    }
    Ok(wire::VerifyResponse {
        key_id: call.key.arn.clone(),
        signature_valid: true,
        signing_algorithm: call.algorithm.as_str().into(),
    })
}

pub(super) fn get_public_key(
    node: &Node,
    caller: &Caller,
    req: wire::GetPublicKeyRequest,
) -> Result<wire::GetPublicKeyResponse, ServerError> {
    let key_arg = required(&req.key_id, "keyId")?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "GetPublicKey",
        Some(&key.record),
        Conditions::new().request_alias(key_arg),
    )?;
    // AWS answers for disabled keys too, but not for keys pending deletion.
    key.record.check_state(StateUse::Manage)?;
    let record = &key.record;
    if !record.spec.is_asymmetric() {
        return Err(api(
            ErrorCode::UnsupportedOperation,
            format!(
                "{} key spec {} is not valid for GetPublicKey: it has no public key.",
                key.arn, record.spec
            ),
        ));
    }
    let (_, version) = key.current().ok_or(ServerError::Sealed)?;
    let public_key = version.public_key_der().ok_or_else(|| {
        api(
            ErrorCode::KmsInternal,
            "The key material does not match the key spec.",
        )
    })?;
    let lists = AlgorithmLists::of(record.spec, record.usage);
    Ok(wire::GetPublicKeyResponse {
        key_id: key.arn.clone(),
        public_key: Some(OutBlob(Zeroizing::new(public_key.to_vec()))),
        customer_master_key_spec: record.spec.as_str().into(),
        key_spec: record.spec.as_str().into(),
        key_usage: record.usage.as_str().into(),
        encryption_algorithms: names(lists.encryption, |a| a.as_str()),
        signing_algorithms: names(lists.signing, |a| a.as_str()),
        key_agreement_algorithms: names(lists.key_agreement, |a| a.as_str()),
        encapsulation_algorithms: names(lists.encapsulation, |a| a.as_str()),
    })
}

pub(super) fn derive_shared_secret(
    node: &Node,
    caller: &Caller,
    req: wire::DeriveSharedSecretRequest,
) -> Result<wire::DeriveSharedSecretResponse, ServerError> {
    let key_arg = required(&req.key_id, "keyId")?;
    let algorithm = required_enum(
        &req.key_agreement_algorithm,
        "keyAgreementAlgorithm",
        KeyAgreementAlgorithm::parse,
        KeyAgreementAlgorithm::wire_names,
    )?;
    let peer = required_blob(&req.public_key, "publicKey", MAX_PUBLIC_KEY_LEN)?;
    refuse_recipient(&req.recipient)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "DeriveSharedSecret",
        Some(&key.record),
        Conditions::new()
            .set("kms:KeyAgreementAlgorithm", algorithm.as_str())
            .request_alias(key_arg),
    )?;
    key.record.check_state(StateUse::Cryptographic)?;
    key.record
        .check_usage(KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
    spec::check_key_agreement(key.record.spec, algorithm)?;
    dry_run(req.dry_run)?;
    let secret = key.agreement()?.derive_shared_secret(peer)?;
    Ok(wire::DeriveSharedSecretResponse {
        // AWS answers DeriveSharedSecret with the key id, not the ARN.
        key_id: key.record.key_id.clone(),
        shared_secret: Some(OutBlob(secret)),
        key_agreement_algorithm: algorithm.as_str().into(),
        key_origin: key.record.origin.as_str().into(),
    })
}

fn encapsulation_request(
    key: &LoadedKey,
    operation: &str,
    algorithm: EncapsulationAlgorithm,
) -> Result<(), ServerError> {
    key.record.check_state(StateUse::Cryptographic)?;
    key.record
        .check_usage(KeyUsage::EncapsulateDecapsulate, operation)?;
    spec::check_encapsulation(key.record.spec, algorithm)?;
    Ok(())
}

fn encapsulation_algorithm_arg(
    value: &Option<String>,
) -> Result<EncapsulationAlgorithm, ServerError> {
    required_enum(
        value,
        "encapsulationAlgorithm",
        EncapsulationAlgorithm::parse,
        EncapsulationAlgorithm::wire_names,
    )
}

pub(super) fn encapsulate(
    node: &Node,
    caller: &Caller,
    req: wire::EncapsulateRequest,
) -> Result<wire::EncapsulateResponse, ServerError> {
    let key_arg = required(&req.key_id, "keyId")?;
    let algorithm = encapsulation_algorithm_arg(&req.encapsulation_algorithm)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "Encapsulate",
        Some(&key.record),
        Conditions::new().request_alias(key_arg),
    )?;
    encapsulation_request(&key, "Encapsulate", algorithm)?;
    dry_run(req.dry_run)?;
    let sent = key.kem()?.encapsulate()?;
    Ok(wire::EncapsulateResponse {
        key_id: key.arn.clone(),
        shared_secret: Some(OutBlob(sent.shared_secret)),
        shared_secret_ciphertext_blob: Some(OutBlob(Zeroizing::new(sent.ciphertext))),
        encapsulation_algorithm: algorithm.as_str().into(),
    })
}

pub(super) fn decapsulate(
    node: &Node,
    caller: &Caller,
    req: wire::DecapsulateRequest,
) -> Result<wire::DecapsulateResponse, ServerError> {
    let key_arg = required(&req.key_id, "keyId")?;
    let ciphertext = required_blob(
        &req.shared_secret_ciphertext_blob,
        "sharedSecretCiphertextBlob",
        MAX_CIPHERTEXT_LEN,
    )?;
    let algorithm = encapsulation_algorithm_arg(&req.encapsulation_algorithm)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "Decapsulate",
        Some(&key.record),
        Conditions::new().request_alias(key_arg),
    )?;
    encapsulation_request(&key, "Decapsulate", algorithm)?;
    dry_run(req.dry_run)?;
    // A wrong length is InvalidCiphertextException; any other ciphertext
    // yields a pseudo-random secret (ML-KEM's implicit rejection), as in AWS.
    let secret = key.kem()?.decapsulate(ciphertext)?;
    Ok(wire::DecapsulateResponse {
        key_id: key.arn.clone(),
        shared_secret: Some(OutBlob(secret)),
        encapsulation_algorithm: algorithm.as_str().into(),
    })
}
