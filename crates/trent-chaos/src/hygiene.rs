//! Secrets hygiene: run every implemented operation against a real server
//! (logging at `trace`) with recognizable plaintexts and a recognizable
//! credential secret, provoke errors around them, then search everything
//! the server wrote for any secret, raw or base64:
//!
//! - its stdout and stderr (and the `trent credentials` CLI output);
//! - every error message it returned;
//! - the store files (`trent.db`, `-wal`, `-shm`), which must hold only
//!   wrapped material.
//!
//! Secrets: plaintexts sent to Encrypt, data keys and random bytes the
//! server returned, the credential's secret access key, the correct SigV4
//! signature of a request signed with a wrong secret, and — unwrapped after
//! the server stops — the root key and every key material version.
//!
//! Audit records (issue 7), metrics (issue 8) and imported material
//! (issue 5) join the scan when they exist.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use trent_crypto::backend::MaterialOwner;
use trent_crypto::seal::{DevFileSeal, Seal};
use trent_store::Store;
use trent_store::sqlite::SqliteStore;

use crate::client::{CallError, Client, Credentials, Reply, b64};
use crate::process::{ACCOUNT_ID, DataDir, REGION, Trent};

/// What the scan found.
#[derive(Debug, Clone, Default)]
pub struct HygieneReport {
    /// Operations exercised.
    pub operations: Vec<String>,
    /// Distinct secrets searched for.
    pub secrets: usize,
    /// Bytes searched (log, messages, store files).
    pub scanned_bytes: usize,
    /// Where a secret was found. Empty means clean.
    pub findings: Vec<String>,
}

/// A secret, by name, in the forms it could leak in.
#[derive(Debug)]
struct Secret {
    name: String,
    forms: Vec<Vec<u8>>,
}

impl Secret {
    fn new(name: &str, raw: &[u8]) -> Secret {
        let mut forms = vec![raw.to_vec(), B64.encode(raw).into_bytes()];
        // A long secret may be logged in part: look for its first 16 bytes too.
        if raw.len() > 24 {
            forms.push(raw[..16].to_vec());
        }
        Secret {
            name: name.to_owned(),
            forms,
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn scan(where_: &str, haystack: &[u8], secrets: &[Secret], report: &mut HygieneReport) {
    report.scanned_bytes += haystack.len();
    for s in secrets {
        if s.forms.iter().any(|f| contains(haystack, f)) {
            report
                .findings
                .push(format!("{} found in {where_}", s.name));
        }
    }
}

/// Runs the hygiene check with the `trent` binary at `bin`.
pub fn run(bin: &Path) -> Result<HygieneReport, String> {
    let dir = DataDir::new("hygiene").map_err(|e| e.to_string())?;
    let credentials = Credentials {
        access_key_id: "HYGIENEADMIN".into(),
        secret: "HYGIENE-CREDENTIAL-SECRET-d41d8cd98f00b204".into(),
    };
    let trent = Trent::new(bin, dir.path());
    trent.add_credentials(&credentials)?;
    // Every module at trace: whatever any layer would log, it logs here.
    let mut trent = trent.with_env("TRENT_LOG", "trace");
    let mut secrets = vec![Secret::new(
        "credential secret",
        credentials.secret.as_bytes(),
    )];
    let mut report = HygieneReport::default();
    let mut messages: Vec<(String, Vec<u8>)> = Vec::new();

    trent.start()?;
    let mut client = trent.client(&credentials)?;
    exercise(&mut client, &mut secrets, &mut messages, &mut report)?;
    wrong_secret(&trent, &credentials, &mut secrets, &mut messages)?;
    trent.stop()?;

    // The root key and every material version, unwrapped from the store.
    unwrap_everything(dir.path(), &mut secrets)?;
    report.secrets = secrets.len();
    scan(
        "server output",
        trent.log().as_bytes(),
        &secrets,
        &mut report,
    );
    for (what, body) in &messages {
        scan(
            &format!("the error answer to {what}"),
            body,
            &secrets,
            &mut report,
        );
    }
    for name in ["trent.db", "trent.db-wal", "trent.db-shm"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(name)) {
            scan(name, &bytes, &secrets, &mut report);
        }
    }
    Ok(report)
}

/// Calls `op`; records the answer's plaintext-bearing fields as secrets and
/// error bodies for the scan.
struct Run<'a> {
    client: &'a mut Client,
    secrets: &'a mut Vec<Secret>,
    messages: &'a mut Vec<(String, Vec<u8>)>,
    report: &'a mut HygieneReport,
}

impl Run<'_> {
    fn ok(&mut self, op: &str, body: Value) -> Result<Value, String> {
        let reply = self
            .client
            .call_raw(op, body.to_string().as_bytes())
            .map_err(|e| format!("{op}: {e}"))?;
        self.report.operations.push(op.to_owned());
        let status = reply.status;
        let value = reply.clone().ok().map_err(|e| format!("{op}: {e}"))?;
        debug_assert_eq!(status, 200);
        if let Some(p) = Reply::blob(&value, "Plaintext") {
            self.secrets
                .push(Secret::new(&format!("plaintext returned by {op}"), &p));
        }
        Ok(value)
    }

    fn err(&mut self, what: &str, op: &str, body: &[u8]) -> Result<(), String> {
        let reply = self
            .client
            .call_raw(op, body)
            .map_err(|e| format!("{what}: {e}"))?;
        if reply.status == 200 {
            return Err(format!("{what}: expected an error, got 200"));
        }
        self.messages.push((what.to_owned(), reply.body));
        Ok(())
    }
}

fn exercise(
    client: &mut Client,
    secrets: &mut Vec<Secret>,
    messages: &mut Vec<(String, Vec<u8>)>,
    report: &mut HygieneReport,
) -> Result<(), String> {
    let plaintext = b"HYGIENE-PLAINTEXT-0123456789-the-quick-brown-fox".to_vec();
    let reencrypted = b"HYGIENE-PLAINTEXT-REENCRYPT-9876543210".to_vec();
    secrets.push(Secret::new("Encrypt plaintext", &plaintext));
    secrets.push(Secret::new("ReEncrypt plaintext", &reencrypted));
    let mut run = Run {
        client,
        secrets,
        messages,
        report,
    };
    let key = run.ok(
        "CreateKey",
        json!({"Description": "hygiene", "Tags": [{"TagKey": "t", "TagValue": "v"}]}),
    )?;
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .ok_or("no KeyId")?
        .to_owned();
    let other = run.ok("CreateKey", json!({}))?;
    let other_id = other["KeyMetadata"]["KeyId"]
        .as_str()
        .ok_or("no KeyId")?
        .to_owned();
    let k = json!(key_id);
    run.ok("DescribeKey", json!({"KeyId": k}))?;
    run.ok("ListKeys", json!({}))?;
    run.ok(
        "UpdateKeyDescription",
        json!({"KeyId": k, "Description": "hygiene 2"}),
    )?;
    run.ok(
        "TagResource",
        json!({"KeyId": k, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    )?;
    run.ok("UntagResource", json!({"KeyId": k, "TagKeys": ["a"]}))?;
    run.ok("ListResourceTags", json!({"KeyId": k}))?;
    let policy = run.ok("GetKeyPolicy", json!({"KeyId": k, "PolicyName": "default"}))?;
    run.ok(
        "PutKeyPolicy",
        json!({"KeyId": k, "PolicyName": "default", "Policy": policy["Policy"]}),
    )?;
    run.ok("ListKeyPolicies", json!({"KeyId": k}))?;
    run.ok(
        "CreateAlias",
        json!({"AliasName": "alias/hygiene", "TargetKeyId": k}),
    )?;
    run.ok(
        "UpdateAlias",
        json!({"AliasName": "alias/hygiene", "TargetKeyId": other_id}),
    )?;
    run.ok("ListAliases", json!({}))?;
    run.ok("DeleteAlias", json!({"AliasName": "alias/hygiene"}))?;
    let enc = run.ok("Encrypt", json!({"KeyId": k, "Plaintext": b64(&plaintext), "EncryptionContext": {"purpose": "hygiene"}}))?;
    let blob = Reply::blob(&enc, "CiphertextBlob").ok_or("no blob")?;
    run.ok(
        "Decrypt",
        json!({"CiphertextBlob": b64(&blob), "EncryptionContext": {"purpose": "hygiene"}}),
    )?;
    let enc2 = run.ok(
        "Encrypt",
        json!({"KeyId": k, "Plaintext": b64(&reencrypted)}),
    )?;
    let blob2 = Reply::blob(&enc2, "CiphertextBlob").ok_or("no blob")?;
    run.ok(
        "ReEncrypt",
        json!({"CiphertextBlob": b64(&blob2), "DestinationKeyId": other_id}),
    )?;
    run.ok("GenerateDataKey", json!({"KeyId": k, "KeySpec": "AES_256"}))?;
    run.ok("GenerateDataKey", json!({"KeyId": k, "NumberOfBytes": 64}))?;
    run.ok(
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": k, "KeySpec": "AES_128"}),
    )?;
    run.ok("GenerateRandom", json!({"NumberOfBytes": 48}))?;
    run.ok("EnableKeyRotation", json!({"KeyId": k}))?;
    run.ok("GetKeyRotationStatus", json!({"KeyId": k}))?;
    run.ok("RotateKeyOnDemand", json!({"KeyId": k}))?;
    run.ok("ListKeyRotations", json!({"KeyId": k}))?;
    run.ok("DisableKeyRotation", json!({"KeyId": k}))?;
    // Old material still decrypts after the rotation.
    run.ok(
        "Decrypt",
        json!({"CiphertextBlob": b64(&blob), "EncryptionContext": {"purpose": "hygiene"}}),
    )?;
    run.ok("DisableKey", json!({"KeyId": k}))?;

    // Errors carrying secrets in their requests.
    let p = b64(&plaintext);
    run.err(
        "Encrypt under a disabled key",
        "Encrypt",
        json!({"KeyId": k, "Plaintext": p}).to_string().as_bytes(),
    )?;
    run.err(
        "Decrypt under a disabled key",
        "Decrypt",
        json!({"CiphertextBlob": b64(&blob)}).to_string().as_bytes(),
    )?;
    run.ok("EnableKey", json!({"KeyId": k}))?;
    run.err(
        "Decrypt with the wrong context",
        "Decrypt",
        json!({"CiphertextBlob": b64(&blob), "EncryptionContext": {"purpose": "other"}})
            .to_string()
            .as_bytes(),
    )?;
    run.err(
        "Encrypt with a wrong-typed KeyId",
        "Encrypt",
        json!({"KeyId": 5, "Plaintext": p}).to_string().as_bytes(),
    )?;
    run.err(
        "Encrypt with a wrong-typed context",
        "Encrypt",
        json!({"KeyId": k, "Plaintext": p, "EncryptionContext": [p]})
            .to_string()
            .as_bytes(),
    )?;
    run.err(
        "Encrypt with an unknown key",
        "Encrypt",
        json!({"KeyId": "alias/none", "Plaintext": p})
            .to_string()
            .as_bytes(),
    )?;
    let mut long = plaintext.clone();
    long.resize(5000, b'x');
    run.err(
        "Encrypt of an oversized plaintext",
        "Encrypt",
        json!({"KeyId": k, "Plaintext": b64(&long)})
            .to_string()
            .as_bytes(),
    )?;
    let raw = String::from_utf8_lossy(&plaintext).into_owned();
    run.err(
        "Encrypt with the plaintext not base64",
        "Encrypt",
        json!({"KeyId": k, "Plaintext": format!("{raw}!")})
            .to_string()
            .as_bytes(),
    )?;
    run.err(
        "Decrypt with the plaintext as a ciphertext",
        "Decrypt",
        json!({"CiphertextBlob": p}).to_string().as_bytes(),
    )?;
    let mut truncated = format!("{{\"KeyId\":\"{key_id}\",\"Plaintext\":\"{p}\"").into_bytes();
    truncated.extend_from_slice(b", \"x\": ");
    run.err("Encrypt with a truncated body", "Encrypt", &truncated)?;
    run.err(
        "Encrypt to an unknown target",
        "EncryptEverything",
        json!({"Plaintext": p}).to_string().as_bytes(),
    )?;
    run.ok(
        "ScheduleKeyDeletion",
        json!({"KeyId": other_id, "PendingWindowInDays": 7}),
    )?;
    run.ok("CancelKeyDeletion", json!({"KeyId": other_id}))?;
    Ok(())
}

/// A request signed with the wrong secret: the error must not reveal the
/// signature the server expected (which would let a caller forge requests).
fn wrong_secret(
    trent: &Trent,
    credentials: &Credentials,
    secrets: &mut Vec<Secret>,
    messages: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    let addr = trent.addr().ok_or("not running")?;
    let wrong = Credentials {
        access_key_id: credentials.access_key_id.clone(),
        secret: "wrong-secret".into(),
    };
    let mut client = Client::new(addr, wrong, REGION).map_err(|e| e.to_string())?;
    let right = Client::new(addr, credentials.clone(), REGION).map_err(|e| e.to_string())?;
    let body = br#"{"Limit": 1}"#;
    let at = crate::client::now();
    let headers = client
        .signed_headers("TrentService.ListKeys", body, at)
        .map_err(|e| e.to_string())?;
    let correct = right
        .signed_headers("TrentService.ListKeys", body, at)
        .map_err(|e| e.to_string())?;
    let signature = correct
        .iter()
        .find(|(n, _)| n == "authorization")
        .and_then(|(_, v)| v.rsplit("Signature=").next())
        .ok_or("no signature")?;
    secrets.push(Secret {
        name: "the expected SigV4 signature".into(),
        forms: vec![signature.as_bytes().to_vec()],
    });
    let reply = client.send(&headers, body).map_err(|e| e.to_string())?;
    match reply.clone().ok() {
        Err(CallError::Api { error_type, .. }) if error_type == "InvalidSignatureException" => {}
        other => return Err(format!("a wrong secret was not refused: {other:?}")),
    }
    messages.push(("a request signed with a wrong secret".into(), reply.body));
    Ok(())
}

/// Unwraps the root key (dev seal) and every key material version, adding
/// each as a secret.
fn unwrap_everything(dir: &Path, secrets: &mut Vec<Secret>) -> Result<(), String> {
    let store = SqliteStore::open(&dir.join("trent.db")).map_err(|e| e.to_string())?;
    let sealed = store
        .get_meta(trent_server::node::SEALED_ROOT_META)
        .map_err(|e| e.to_string())?
        .ok_or("no sealed root key")?;
    let root = DevFileSeal::new(dir.join("dev-seal.key"))
        .unseal(&sealed)
        .map_err(|e| e.to_string())?;
    secrets.push(Secret::new("the root key", root.expose_bytes()));
    let keys = store
        .list_keys(ACCOUNT_ID, REGION, None, 1000)
        .map_err(|e| e.to_string())?;
    for key in keys.items {
        for material in store.materials(&key.key_id).map_err(|e| e.to_string())? {
            let owner = MaterialOwner {
                key_arn: &key.arn(),
                material_id: &material.material_id,
            };
            let raw = root
                .unwrap(&owner.aad(), &material.wrapped)
                .map_err(|e| format!("unwrapping {}: {e}", key.key_id))?;
            secrets.push(Secret::new(
                &format!("key material {} of {}", material.material_id, key.key_id),
                &raw,
            ));
        }
    }
    Ok(())
}
