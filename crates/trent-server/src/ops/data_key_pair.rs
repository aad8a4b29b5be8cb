//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh key
//! pair for use outside Trent, its private key (DER PKCS#8) encrypted under a
//! symmetric KMS key in the ordinary symmetric ciphertext format, so plain
//! Decrypt opens it. Not a hot operation: RSA key generation takes up to
//! seconds, so it runs on a blocking thread.

use trent_core::ids::AliasUse;
use trent_core::spec::{DataKeyPairSpec, EncryptionAlgorithm};
use trent_crypto::software::{KeyPairDer, generate_key_pair};
use trent_proto::ops::{self as wire, OutBlob};
use zeroize::Zeroizing;

use super::crypto::{check_context, check_encryption_key, seal};
use super::{Caller, dry_run, load_key, refuse_recipient, required, required_enum};
use crate::authz::{Conditions, authorize};
use crate::error::ServerError;
use crate::node::Node;

pub(super) fn generate_data_key_pair(
    node: &Node,
    caller: &Caller,
    req: wire::GenerateDataKeyPairRequest,
    with_plaintext: bool,
) -> Result<wire::GenerateDataKeyPairResponse, ServerError> {
    let operation = if with_plaintext {
        "GenerateDataKeyPair"
    } else {
        "GenerateDataKeyPairWithoutPlaintext"
    };
    let key_arg = required(&req.key_id, "keyId")?;
    let pair_spec = required_enum(
        &req.key_pair_spec,
        "keyPairSpec",
        DataKeyPairSpec::parse,
        DataKeyPairSpec::wire_names,
    )?;
    check_context(&req.encryption_context, "encryptionContext")?;
    refuse_recipient(&req.recipient)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        operation,
        Some(&key.record),
        Conditions::new()
            .encryption_context(&req.encryption_context)
            .request_alias(key_arg),
    )?;
    // Only a symmetric encryption key may protect the private key.
    check_encryption_key(&key, EncryptionAlgorithm::SymmetricDefault, operation)?;
    pair_spec.check_available()?;
    dry_run(req.dry_run)?;
    let KeyPairDer {
        private_key_pkcs8,
        public_key_spki,
    } = generate_key_pair(pair_spec.key_spec())?;
    let (blob, material_id) = seal(&key, &req.encryption_context, &private_key_pkcs8)?;
    Ok(wire::GenerateDataKeyPairResponse {
        private_key_ciphertext_blob: Some(OutBlob(Zeroizing::new(blob))),
        private_key_plaintext: with_plaintext.then_some(OutBlob(private_key_pkcs8)),
        public_key: Some(OutBlob(Zeroizing::new(public_key_spki))),
        key_id: key.arn.clone(),
        key_pair_spec: pair_spec.as_str().into(),
        key_material_id: Some(material_id),
    })
}
