//! GenerateMac and VerifyMac with HMAC keys. VerifyMac compares in constant
//! time and answers a mismatch with `KMSInvalidMacException`, as AWS does.

use trent_core::ids::AliasUse;
use trent_core::key::{KeyUsage, StateUse};
use trent_core::spec::{self, MacAlgorithm};
use trent_proto::ops::{self as wire, OutBlob};
use zeroize::Zeroizing;

use super::{Caller, dry_run, load_key, required, required_blob, required_enum};
use crate::authz::{Conditions, authorize};
use crate::cache::LoadedKey;
use crate::error::ServerError;
use crate::node::Node;

/// The largest Mac argument (the API model's CiphertextType limit).
const MAX_MAC_LEN: usize = 6144;

/// The checks GenerateMac and VerifyMac share.
fn mac_request(
    key: &LoadedKey,
    operation: &str,
    algorithm: MacAlgorithm,
) -> Result<(), ServerError> {
    key.record.check_state(StateUse::Cryptographic)?;
    key.record
        .check_usage(KeyUsage::GenerateVerifyMac, operation)?;
    spec::check_mac(key.record.spec, algorithm)?;
    Ok(())
}

fn algorithm_arg(value: &Option<String>) -> Result<MacAlgorithm, ServerError> {
    required_enum(
        value,
        "macAlgorithm",
        MacAlgorithm::parse,
        MacAlgorithm::wire_names,
    )
}

fn message_arg(value: &Option<trent_proto::ops::Blob>) -> Result<&[u8], ServerError> {
    let message = required(value, "message")?;
    spec::check_message_len(message.len())?;
    Ok(message)
}

pub(super) fn generate_mac(
    node: &Node,
    caller: &Caller,
    req: wire::GenerateMacRequest,
) -> Result<wire::GenerateMacResponse, ServerError> {
    let message = message_arg(&req.message)?;
    let key_arg = required(&req.key_id, "keyId")?;
    let algorithm = algorithm_arg(&req.mac_algorithm)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "GenerateMac",
        Some(&key.record),
        Conditions::new()
            .set("kms:MacAlgorithm", algorithm.as_str())
            .request_alias(key_arg),
    )?;
    mac_request(&key, "GenerateMac", algorithm)?;
    dry_run(req.dry_run)?;
    let mac = key.mac()?.mac(algorithm, message)?;
    Ok(wire::GenerateMacResponse {
        mac: Some(OutBlob(Zeroizing::new(mac))),
        mac_algorithm: algorithm.as_str().into(),
        key_id: key.arn.clone(),
    })
}

pub(super) fn verify_mac(
    node: &Node,
    caller: &Caller,
    req: wire::VerifyMacRequest,
) -> Result<wire::VerifyMacResponse, ServerError> {
    let message = message_arg(&req.message)?;
    let key_arg = required(&req.key_id, "keyId")?;
    let algorithm = algorithm_arg(&req.mac_algorithm)?;
    let mac = required_blob(&req.mac, "mac", MAX_MAC_LEN)?;
    let key = load_key(node, caller, key_arg, AliasUse::Allowed)?;
    authorize(
        node,
        caller,
        "VerifyMac",
        Some(&key.record),
        Conditions::new()
            .set("kms:MacAlgorithm", algorithm.as_str())
            .request_alias(key_arg),
    )?;
    mac_request(&key, "VerifyMac", algorithm)?;
    dry_run(req.dry_run)?;
    if !key.mac()?.verify(algorithm, message, mac)? {
        return Err(trent_core::Error::InvalidMac.into());
    }
    Ok(wire::VerifyMacResponse {
        key_id: key.arn.clone(),
        mac_valid: true,
        mac_algorithm: algorithm.as_str().into(),
    })
}
