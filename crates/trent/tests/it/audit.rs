//! The audit log end to end: one record per request with CloudTrail's
//! fields, nothing secret in the records or the server's output, tampering
//! found by `trent audit verify`, nothing answered lost to `kill -9`,
//! failing closed when the log cannot be written, background actions
//! recorded, and the operator commands.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::types::{DataKeySpec, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use trent_audit::format::Frame;

use crate::harness::{
    ACCOUNT_ID, ADMIN_AKID, ADMIN_SECRET, Blob, KmsAuth, Options, TempDir, Trent, ctx,
    describe_output, key_arn, kms_request, send_raw,
};

/// Every record, decrypted, via `trent audit export` (JSON lines).
pub(crate) fn export(trent: &Trent) -> Vec<Value> {
    let out = trent.cli(&["audit", "export"]);
    assert!(
        out.status.success(),
        "audit export: {}",
        describe_output(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `trent audit verify [--audit-dir DIR]`: (passed, output).
fn verify(trent: &Trent, audit_dir: Option<&Path>) -> (bool, String) {
    let mut args = vec!["audit".to_owned(), "verify".to_owned()];
    if let Some(dir) = audit_dir {
        args.extend(["--audit-dir".to_owned(), dir.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = trent.cli(&args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn by_request_id(records: &[Value]) -> HashMap<String, Vec<&Value>> {
    let mut map: HashMap<String, Vec<&Value>> = HashMap::new();
    for r in records {
        if let Some(id) = r["requestID"].as_str() {
            map.entry(id.to_owned()).or_default().push(r);
        }
    }
    map
}

fn rid<T: RequestId>(result: &T) -> String {
    result.request_id().expect("a request id").to_owned()
}

const PLAINTEXT: &str = "audit-plaintext-canary-7f3a9c";
const ALICE_AKID: &str = "AKIAAUDITALICE000001";
const ALICE_SECRET: &str = "aliceSecretCanary000000000000000000000001";
const WRONG_SECRET: &str = "wrongSecretCanary00000000000000000000001";
const BAD_FIELD_SECRET: &str = "secret-in-a-bad-field-9d2e";

#[tokio::test]
async fn every_request_is_recorded_once_with_its_fields_and_no_secrets() {
    // Alice exists before the start, so her first request is her only one.
    let mut trent = Trent::stopped(Options::default());
    trent.add_credentials(ACCOUNT_ID, ALICE_AKID, ALICE_SECRET, Some("alice"));
    // An IAM user may do nothing until an identity policy allows it.
    let allowed = trent.cli(&[
        "iam",
        "put-policy",
        "--account-id",
        ACCOUNT_ID,
        "--user",
        "alice",
        "--policy-name",
        "random",
        "--policy-document",
        r#"{"Statement":{"Effect":"Allow","Action":"kms:GenerateRandom","Resource":"*"}}"#,
    ]);
    assert!(allowed.status.success(), "iam put-policy failed");
    trent.run();
    let client = trent.client();
    // (request id, eventName, errorCode)
    let mut sent: Vec<(String, &str, Option<&str>)> = Vec::new();
    let mut secrets: Vec<String> = vec![
        PLAINTEXT.into(),
        B64.encode(PLAINTEXT),
        ADMIN_SECRET.into(),
        ALICE_SECRET.into(),
        WRONG_SECRET.into(),
        BAD_FIELD_SECRET.into(),
    ];

    let created = client
        .create_key()
        .description("audit test key")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("blue")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    sent.push((rid(&created), "CreateKey", None));
    let key = created.unwrap().key_metadata.unwrap().key_id;
    let r = client
        .create_alias()
        .alias_name("alias/audit-it")
        .target_key_id(&key)
        .send()
        .await;
    sent.push((rid(&r), "CreateAlias", None));
    let r = client.describe_key().key_id("alias/audit-it").send().await;
    sent.push((rid(&r), "DescribeKey", None));
    let r = client.list_keys().send().await;
    sent.push((rid(&r), "ListKeys", None));
    let encrypted = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(PLAINTEXT))
        .set_encryption_context(Some(ctx(&[("purpose", "audit-test")])))
        .send()
        .await;
    sent.push((rid(&encrypted), "Encrypt", None));
    let ciphertext = encrypted.unwrap().ciphertext_blob.unwrap();
    secrets.push(B64.encode(ciphertext.as_ref()));
    let r = client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .set_encryption_context(Some(ctx(&[("purpose", "audit-test")])))
        .send()
        .await;
    sent.push((rid(&r), "Decrypt", None));
    assert_eq!(r.unwrap().plaintext.unwrap().as_ref(), PLAINTEXT.as_bytes());
    let r = client
        .re_encrypt()
        .ciphertext_blob(ciphertext.clone())
        .set_source_encryption_context(Some(ctx(&[("purpose", "audit-test")])))
        .destination_key_id(&key)
        .send()
        .await;
    sent.push((rid(&r), "ReEncrypt", None));
    secrets.push(B64.encode(r.unwrap().ciphertext_blob.unwrap().as_ref()));
    let r = client
        .generate_data_key()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await;
    sent.push((rid(&r), "GenerateDataKey", None));
    let data_key = r.unwrap();
    secrets.push(B64.encode(data_key.plaintext.unwrap().as_ref()));
    secrets.push(B64.encode(data_key.ciphertext_blob.unwrap().as_ref()));
    let r = client
        .generate_data_key_without_plaintext()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await;
    sent.push((rid(&r), "GenerateDataKeyWithoutPlaintext", None));
    let r = client.generate_random().number_of_bytes(32).send().await;
    sent.push((rid(&r), "GenerateRandom", None));
    secrets.push(B64.encode(r.unwrap().plaintext.unwrap().as_ref()));
    let r = client.enable_key_rotation().key_id(&key).send().await;
    sent.push((rid(&r), "EnableKeyRotation", None));
    let r = client.get_key_rotation_status().key_id(&key).send().await;
    sent.push((rid(&r), "GetKeyRotationStatus", None));
    let r = client.disable_key().key_id(&key).send().await;
    sent.push((rid(&r), "DisableKey", None));
    let r = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(PLAINTEXT))
        .send()
        .await;
    sent.push((rid(&r), "Encrypt", Some("DisabledException")));
    let r = client.enable_key().key_id(&key).send().await;
    sent.push((rid(&r), "EnableKey", None));
    let r = client
        .tag_resource()
        .key_id(&key)
        .tags(
            Tag::builder()
                .tag_key("env")
                .tag_value("it")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    sent.push((rid(&r), "TagResource", None));
    let r = client
        .update_key_description()
        .key_id(&key)
        .description("renamed")
        .send()
        .await;
    sent.push((rid(&r), "UpdateKeyDescription", None));
    let r = client.get_key_policy().key_id(&key).send().await;
    sent.push((rid(&r), "GetKeyPolicy", None));
    let r = client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await;
    sent.push((rid(&r), "ScheduleKeyDeletion", None));
    let r = client.cancel_key_deletion().key_id(&key).send().await;
    sent.push((rid(&r), "CancelKeyDeletion", None));
    let r = client
        .decrypt()
        .ciphertext_blob(Blob::new(vec![1u8; 120]))
        .send()
        .await;
    sent.push((rid(&r), "Decrypt", Some("InvalidCiphertextException")));
    let r = client
        .describe_key()
        .key_id("11111111-2222-3333-4444-555555555555")
        .send()
        .await;
    sent.push((rid(&r), "DescribeKey", Some("NotFoundException")));
    let r = trent
        .client_as(ADMIN_AKID, WRONG_SECRET)
        .generate_random()
        .number_of_bytes(8)
        .send()
        .await;
    sent.push((rid(&r), "GenerateRandom", Some("InvalidSignatureException")));
    let r = trent
        .client_as("AKIAUNKNOWNAUDIT0001", WRONG_SECRET)
        .list_keys()
        .send()
        .await;
    sent.push((rid(&r), "ListKeys", Some("UnrecognizedClientException")));
    let alice = trent.client_as(ALICE_AKID, ALICE_SECRET);
    let r = alice.generate_random().number_of_bytes(8).send().await;
    let alice_rid = rid(&r);
    r.expect("alice may GenerateRandom");
    sent.push((alice_rid.clone(), "GenerateRandom", None));

    // Protocol errors, raw.
    let addr = trent.addr().to_owned();
    let header_rid =
        |r: &crate::harness::HttpResponse| r.header("x-amzn-requestid").unwrap().to_owned();
    let now = SystemTime::now();
    let unsigned = kms_request(&addr, "TrentService.ListKeys", b"{}", KmsAuth::None).unwrap();
    sent.push((
        header_rid(&unsigned),
        "ListKeys",
        Some("MissingAuthenticationTokenException"),
    ));
    let signed = KmsAuth::SigV4 {
        akid: ADMIN_AKID,
        secret: ADMIN_SECRET,
        time: now,
    };
    let malformed = kms_request(&addr, "TrentService.Encrypt", b"{\"KeyId\": ", signed).unwrap();
    sent.push((
        header_rid(&malformed),
        "Encrypt",
        Some("SerializationException"),
    ));
    let bad_field = format!("{{\"NumberOfBytes\": \"{BAD_FIELD_SECRET}\"}}");
    let bad = kms_request(
        &addr,
        "TrentService.GenerateRandom",
        bad_field.as_bytes(),
        signed,
    )
    .unwrap();
    assert_eq!(bad.error_type(), "ValidationException");
    sent.push((
        header_rid(&bad),
        "GenerateRandom",
        Some("ValidationException"),
    ));
    let unrouted = send_raw(
        &addr,
        "GET",
        "/no-such-route",
        &[("host".into(), addr.clone())],
        b"",
    )
    .unwrap();
    sent.push((
        header_rid(&unrouted),
        "Unknown",
        Some("UnknownOperationException"),
    ));

    let records = export(&trent);
    let index = by_request_id(&records);
    for (id, name, error) in &sent {
        let found = index.get(id).map_or(0, Vec::len);
        assert_eq!(
            found, 1,
            "request {id} ({name}, {error:?}) recorded {found} times"
        );
        let r = index[id][0];
        assert_eq!(r["eventName"], *name, "{r}");
        assert_eq!(r["errorCode"].as_str(), *error, "{r}");
        if error.is_some() {
            assert!(r["errorMessage"].is_string() || *name == "Unknown", "{r}");
        }
        assert_eq!(r["eventSource"], "kms.amazonaws.com");
        assert_eq!(r["awsRegion"], "us-east-1");
        assert_eq!(r["sourceIPAddress"], "127.0.0.1");
        assert_eq!(r["eventType"], "AwsApiCall");
        assert_eq!(r["eventVersion"], "1.11");
        assert_eq!(r["managementEvent"], true);
        assert!(r["eventID"].as_str().is_some_and(|e| e.len() == 36));
        assert!(r["eventTime"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(
            r.get("tlsDetails").is_none(),
            "plain HTTP has no tlsDetails: {r}"
        );
    }
    assert_eq!(
        records.len(),
        sent.len(),
        "records that no request explains"
    );
    let event_ids: HashSet<_> = records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap())
        .collect();
    assert_eq!(event_ids.len(), records.len());

    // Field by field, for a few.
    let arn = key_arn(&key);
    let create = index[&sent[0].0][0];
    assert_eq!(create["readOnly"], false);
    assert_eq!(create["requestParameters"]["description"], "audit test key");
    assert_eq!(create["requestParameters"]["tags"][0]["tagKey"], "team");
    assert_eq!(
        create["responseElements"]["keyMetadata"]["keyId"],
        key.as_str()
    );
    assert_eq!(create["resources"][0]["ARN"], arn.as_str());
    assert_eq!(create["resources"][0]["type"], "AWS::KMS::Key");
    assert_eq!(create["userIdentity"]["type"], "Root");
    assert_eq!(create["userIdentity"]["accessKeyId"], ADMIN_AKID);
    assert_eq!(
        create["userIdentity"]["arn"],
        format!("arn:aws:iam::{ACCOUNT_ID}:root")
    );
    assert_eq!(create["recipientAccountId"], ACCOUNT_ID);
    assert!(
        create["userAgent"]
            .as_str()
            .unwrap()
            .contains("aws-sdk-rust"),
        "{create}"
    );
    let encrypt = index[&sent[4].0][0];
    assert_eq!(encrypt["readOnly"], true);
    assert!(encrypt["responseElements"].is_null());
    assert_eq!(encrypt["requestParameters"]["keyId"], key.as_str());
    assert_eq!(
        encrypt["requestParameters"]["encryptionContext"]["purpose"],
        "audit-test"
    );
    assert_eq!(encrypt["resources"][0]["ARN"], arn.as_str());
    let decrypt = index[&sent[5].0][0];
    assert_eq!(
        decrypt["resources"][0]["ARN"],
        arn.as_str(),
        "Decrypt names its key: {decrypt}"
    );
    let describe = index[&sent[2].0][0];
    assert_eq!(describe["requestParameters"]["keyId"], "alias/audit-it");
    assert_eq!(describe["resources"][0]["ARN"], arn.as_str());
    let schedule = index[&sent[18].0][0];
    assert_eq!(schedule["eventName"], "ScheduleKeyDeletion");
    assert_eq!(schedule["requestParameters"]["pendingWindowInDays"], 7);
    assert_eq!(schedule["responseElements"]["keyState"], "PendingDeletion");
    let unknown = sent
        .iter()
        .find(|s| s.2 == Some("UnrecognizedClientException") && s.1 == "ListKeys")
        .unwrap();
    let unknown = index[&unknown.0][0];
    assert_eq!(unknown["userIdentity"]["type"], "Unknown");
    assert_eq!(
        unknown["userIdentity"]["accessKeyId"],
        "AKIAUNKNOWNAUDIT0001"
    );
    let alice_record = index[&alice_rid][0];
    assert_eq!(alice_record["userIdentity"]["type"], "IAMUser");
    assert_eq!(alice_record["userIdentity"]["userName"], "alice");
    assert_eq!(
        alice_record["userIdentity"]["arn"],
        format!("arn:aws:iam::{ACCOUNT_ID}:user/alice")
    );

    // No plaintext, key material, ciphertext or secret anywhere: not in the
    // decrypted records, not in the files, not in the server's output.
    let exported = records
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(trent.data_dir().join("audit")).unwrap() {
        files.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let files = String::from_utf8_lossy(&files).into_owned();
    let log = trent.log();
    for secret in &secrets {
        assert!(
            !exported.contains(secret.as_str()),
            "a record holds {secret}"
        );
        assert!(
            !files.contains(secret.as_str()),
            "an audit file holds {secret}"
        );
        assert!(
            !log.contains(secret.as_str()),
            "the server's output holds {secret}"
        );
    }
    // The files are encrypted: not even the event names show.
    assert!(!files.contains("GenerateDataKey") && !files.contains(ADMIN_AKID));

    let (ok, text) = verify(&trent, None);
    assert!(ok, "{text}");
}

/// Copies a directory (flat).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut all = trent_audit::segment::list(dir).unwrap();
    assert_eq!(all.len(), 1, "one node");
    all.pop_first()
        .unwrap()
        .1
        .into_iter()
        .map(|f| f.path)
        .collect()
}

/// (offset, length) of record `seq`'s frame in a segment file.
fn record_frame(path: &Path, seq: u64) -> (usize, usize) {
    let parsed = trent_audit::segment::read(path).unwrap();
    for (i, (offset, frame)) in parsed.frames.iter().enumerate() {
        if let Frame::Record(r) = frame
            && r.seq == seq
        {
            let end = parsed.frames.get(i + 1).map_or(parsed.len, |(o, _)| *o);
            return (*offset, end - offset);
        }
    }
    panic!("no record {seq} in {}", path.display());
}

#[track_caller]
fn assert_first_broken(trent: &Trent, dir: &Path, seq: u64, what: &str) {
    let (ok, text) = verify(trent, Some(dir));
    assert!(!ok, "{what} was not detected:\n{text}");
    let want = format!("first broken or missing record: {seq} ");
    assert!(
        text.contains(&want),
        "{what}: expected record {seq} to be reported first:\n{text}"
    );
}

#[tokio::test]
async fn verify_finds_each_kind_of_tampering_and_the_first_broken_record() {
    let mut trent = Trent::start();
    let client = trent.client();
    for _ in 0..12 {
        client
            .generate_random()
            .number_of_bytes(8)
            .send()
            .await
            .unwrap();
    }
    trent.restart();
    let client = trent.client();
    for _ in 0..4 {
        client
            .generate_random()
            .number_of_bytes(8)
            .send()
            .await
            .unwrap();
    }
    trent.stop();
    let original = trent.data_dir().join("audit");
    let (ok, text) = verify(&trent, None);
    assert!(ok, "{text}");
    assert!(text.contains("records 1..=16 in 2 segment(s)"), "{text}");
    let scratch = TempDir::new();
    let mut case = 0;
    let mut fresh = || {
        case += 1;
        let dir = scratch.path().join(format!("case-{case}"));
        copy_dir(&original, &dir);
        let segs = segments(&dir);
        (dir, segs)
    };

    let (dir, segs) = fresh();
    let (offset, len) = record_frame(&segs[0], 5);
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    bytes[offset + len - 30] ^= 0x20;
    std::fs::write(&segs[0], bytes).unwrap();
    assert_first_broken(&trent, &dir, 5, "an edited record");

    let (dir, segs) = fresh();
    let (offset, len) = record_frame(&segs[0], 5);
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    bytes.drain(offset..offset + len);
    std::fs::write(&segs[0], bytes).unwrap();
    assert_first_broken(&trent, &dir, 5, "a deleted record");

    let (dir, segs) = fresh();
    let (o5, l5) = record_frame(&segs[0], 5);
    let (o6, l6) = record_frame(&segs[0], 6);
    let bytes = std::fs::read(&segs[0]).unwrap();
    let mut swapped = bytes[..o5].to_vec();
    swapped.extend_from_slice(&bytes[o6..o6 + l6]);
    swapped.extend_from_slice(&bytes[o5..o5 + l5]);
    swapped.extend_from_slice(&bytes[o6 + l6..]);
    std::fs::write(&segs[0], swapped).unwrap();
    assert_first_broken(&trent, &dir, 5, "reordered records");

    // The tail, through the final checkpoint.
    let (dir, segs) = fresh();
    let (offset, _) = record_frame(&segs[1], 14);
    let bytes = std::fs::read(&segs[1]).unwrap();
    std::fs::write(&segs[1], &bytes[..offset]).unwrap();
    assert_first_broken(&trent, &dir, 14, "a cut tail");

    let (dir, segs) = fresh();
    std::fs::remove_file(&segs[1]).unwrap();
    assert_first_broken(&trent, &dir, 13, "a deleted last segment");

    let (dir, segs) = fresh();
    std::fs::remove_file(&segs[0]).unwrap();
    assert_first_broken(&trent, &dir, 1, "a deleted first segment");

    // An untouched copy still verifies.
    let (dir, _) = fresh();
    let (ok, text) = verify(&trent, Some(&dir));
    assert!(ok, "{text}");

    // A checkpoint verifies against the exported public key, offline.
    let out = trent.cli(&["audit", "public-key"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let pem = scratch.path().join("audit.pub");
    std::fs::write(&pem, &out.stdout).unwrap();
    let out = trent.cli(&["audit", "verify", "--public-key", pem.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signatures only"));
    let other = Trent::start();
    let out = other.cli(&["audit", "public-key"]);
    std::fs::write(&pem, &out.stdout).unwrap();
    let out = trent.cli(&["audit", "verify", "--public-key", pem.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "another node's key verified this log"
    );
}

async fn load_then_kill(extra: &[&str]) {
    let mut trent = Trent::start_with(Options {
        extra_args: extra.iter().map(|s| (*s).to_owned()).collect(),
        ..Options::default()
    });
    let client = trent.client();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let answered = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..8u32 {
        let (client, key, answered, stop) =
            (trent.client(), key.clone(), answered.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = if i.is_multiple_of(2) {
                    client
                        .encrypt()
                        .key_id(&key)
                        .plaintext(Blob::new("x"))
                        .send()
                        .await
                        .map(|o| rid(&o))
                        .map_err(|_| ())
                } else {
                    client
                        .generate_random()
                        .number_of_bytes(16)
                        .send()
                        .await
                        .map(|o| rid(&o))
                        .map_err(|_| ())
                };
                match r {
                    Ok(id) => answered.lock().unwrap().push(id),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    trent.kill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() > 50, "too little load: {}", answered.len());
    let recorded: HashSet<String> = export(&trent)
        .iter()
        .filter_map(|r| r["requestID"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<_> = answered
        .iter()
        .filter(|id| !recorded.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests are not in the log: {missing:?}",
        missing.len(),
        answered.len()
    );
    let (ok, text) = verify(&trent, None);
    assert!(ok, "{text}");
    // The node restarts and continues the chain.
    trent.run();
    trent
        .client()
        .generate_random()
        .number_of_bytes(8)
        .send()
        .await
        .unwrap();
    trent.stop();
    let (ok, text) = verify(&trent, None);
    assert!(ok, "{text}");
}

#[tokio::test]
async fn kill_9_under_load_loses_no_answered_request() {
    load_then_kill(&[]).await;
}

#[tokio::test]
async fn kill_9_under_load_with_strict_durability() {
    load_then_kill(&["--audit-durability", "strict"]).await;
}

#[tokio::test]
async fn requests_fail_closed_while_the_log_cannot_be_written() {
    let trent = Trent::start_with(Options {
        extra_args: ["--audit-node-id", "it", "--audit-segment-bytes", "2048"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ..Options::default()
    });
    let client = trent.client();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let ciphertext = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(PLAINTEXT))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    // Something in the way of the next segment file.
    let audit_dir = trent.data_dir().join("audit");
    let squatter = loop {
        let newest = trent_audit::segment::list(&audit_dir).unwrap()["it"]
            .last()
            .unwrap()
            .number;
        let next = audit_dir.join(trent_audit::segment::segment_name("it", newest + 1));
        if std::fs::create_dir(&next).is_ok() {
            break next;
        }
    };
    let mut refused = None;
    for _ in 0..100 {
        match client
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .send()
            .await
        {
            Ok(out) => assert_eq!(out.plaintext.unwrap().as_ref(), PLAINTEXT.as_bytes()),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let refused = refused.expect("requests kept succeeding while the log could not be written");
    assert_eq!(
        crate::harness::err_code(Err::<(), _>(refused)),
        "KMSInternalException"
    );
    let again = client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await;
    assert_eq!(crate::harness::err_code(again), "KMSInternalException");
    assert!(trent.log().contains("audit log failure"), "{}", trent.log());

    std::fs::remove_dir(&squatter).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if client
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .send()
            .await
            .is_ok()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the log did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, text) = verify(&trent, None);
    assert!(ok, "{text}");
}

#[tokio::test]
async fn scheduled_deletion_and_rotation_are_recorded() {
    let trent = Trent::start();
    let client = trent.client();
    let doomed = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    client
        .schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let rotated = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    client
        .enable_key_rotation()
        .key_id(&rotated)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    trent.advance_clock(8 * 86400);
    trent.advance_clock(85 * 86400);
    let records = export(&trent);
    let service: Vec<&Value> = records
        .iter()
        .filter(|r| r["eventType"] == "AwsServiceEvent")
        .collect();
    let find = |name: &str, key: &str| {
        service
            .iter()
            .find(|r| r["eventName"] == name && r["resources"][0]["ARN"] == key_arn(key).as_str())
            .unwrap_or_else(|| panic!("no {name} record for {key}: {service:?}"))
    };
    let deleted = find("DeleteKey", &doomed);
    assert_eq!(deleted["userIdentity"]["invokedBy"], "kms.amazonaws.com");
    assert_eq!(deleted["recipientAccountId"], ACCOUNT_ID);
    assert_eq!(deleted["readOnly"], false);
    let rotation = find("RotateKey", &rotated);
    assert_eq!(rotation["serviceEventDetails"]["rotationType"], "AUTOMATIC");
    assert_eq!(service.len(), 2, "{service:?}");
}

#[tokio::test]
async fn operators_tail_and_query_by_operation_key_principal_and_error() {
    let trent = Trent::start();
    let client = trent.client();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    for _ in 0..3 {
        client
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("q"))
            .send()
            .await
            .unwrap();
    }
    let _ = client.describe_key().key_id("alias/missing").send().await;
    client
        .generate_random()
        .number_of_bytes(4)
        .send()
        .await
        .unwrap();
    let lines = |args: &[&str]| -> Vec<Value> {
        let out = trent.cli(args);
        assert!(out.status.success(), "{}", describe_output(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(
        lines(&["audit", "query", "--operation", "Encrypt"]).len(),
        3
    );
    assert_eq!(lines(&["audit", "query", "--key", &key]).len(), 4);
    assert_eq!(lines(&["audit", "query", "--key", &key_arn(&key)]).len(), 4);
    let errors = lines(&["audit", "query", "--error", "any"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["errorCode"], "NotFoundException");
    assert_eq!(lines(&["audit", "query", "--error", "NotFound"]).len(), 1);
    assert_eq!(
        lines(&["audit", "query", "--principal", ADMIN_AKID]).len(),
        6
    );
    assert_eq!(
        lines(&["audit", "query", "--principal", "AKIANOBODY"]).len(),
        0
    );
    assert_eq!(
        lines(&["audit", "query", "--since", "1h", "--limit", "2"]).len(),
        2
    );
    assert_eq!(lines(&["audit", "query", "--until", "1h"]).len(), 0);
    let tail = lines(&["audit", "tail", "-n", "2"]);
    assert_eq!(tail.len(), 2);
    assert_eq!(tail[1]["eventName"], "GenerateRandom");
    let scratch = TempDir::new();
    let file = scratch.path().join("export.jsonl");
    let out = trent.cli(&["audit", "export", "--output", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe_output(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 6);
}

#[tokio::test]
async fn requests_shed_over_the_in_flight_limit_are_recorded() {
    use std::io::Write;
    let trent = Trent::start_with(Options {
        extra_args: vec!["--max-in-flight".into(), "1".into()],
        ..Options::default()
    });
    // One request that never finishes its body holds the only slot.
    let mut held = std::net::TcpStream::connect(trent.addr()).unwrap();
    write!(
        held,
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: TrentService.ListKeys\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{{",
        trent.addr()
    )
    .unwrap();
    held.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = trent.client();
    let shed = client.generate_random().number_of_bytes(8).send().await;
    let shed_id = match &shed {
        Err(e) => e
            .raw_response()
            .and_then(|r| r.headers().get("x-amzn-requestid"))
            .map(str::to_owned),
        Ok(_) => None,
    };
    crate::harness::expect_err(shed, "ThrottlingException");
    drop(held);
    // The refusal is on the record like any other answer.
    let out = trent.cli(&["audit", "query", "--error", "ThrottlingException"]);
    assert!(out.status.success(), "{}", describe_output(&out));
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let record = records
        .iter()
        .find(|r| Some(r["requestID"].as_str().unwrap_or_default().to_owned()) == shed_id)
        .unwrap_or_else(|| panic!("no record for the shed request {shed_id:?} in {records:?}"));
    assert_eq!(record["eventName"], "GenerateRandom");
    assert_eq!(record["errorCode"], "ThrottlingException");
    assert_eq!(record["userIdentity"]["accessKeyId"], ADMIN_AKID);
}
