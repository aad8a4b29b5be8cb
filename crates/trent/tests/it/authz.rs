//! Authorization matrix: principals (account root, users with and without
//! identity policies, an identity-policy Deny, another account's root and
//! users) × operations × key policies and their conditions. Every cell
//! asserts allow or deny, and each of AWS's four deny reasons appears.

use std::fmt::Debug;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use serde_json::json;

use crate::harness::{ACCOUNT_ID, ADMIN_SECRET, Blob, Trent, ctx, describe_output, expect_err};

const REGION: &str = "us-east-1";

const OTHER: &str = "444455556666";
const SECRETS: [(&str, &str, &str, Option<&str>); 6] = [
    (
        ACCOUNT_ID,
        "AKIAAUTHZALICE000001",
        "authzAliceSecret000000000000000000000001",
        Some("alice"),
    ),
    (
        ACCOUNT_ID,
        "AKIAAUTHZBOB00000001",
        "authzBobSecret00000000000000000000000001",
        Some("bob"),
    ),
    (
        ACCOUNT_ID,
        "AKIAAUTHZDAVE0000001",
        "authzDaveSecret0000000000000000000000001",
        Some("dave"),
    ),
    (
        OTHER,
        "AKIAAUTHZCAROL000001",
        "authzCarolSecret000000000000000000000001",
        Some("carol"),
    ),
    (
        OTHER,
        "AKIAAUTHZERIN0000001",
        "authzErinSecret0000000000000000000000001",
        Some("erin"),
    ),
    (
        OTHER,
        "AKIAAUTHZOTHERROOT01",
        "authzOtherRootSecret00000000000000000001",
        None,
    ),
];

/// The AWS error message of a call expected to be refused with
/// AccessDeniedException.
#[track_caller]
fn denied<T: Debug, E: ProvideErrorMetadata + Debug, R: Debug>(
    result: Result<T, SdkError<E, R>>,
) -> String {
    match result {
        Ok(out) => panic!("expected AccessDeniedException, got success: {out:?}"),
        Err(e) => {
            assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
            e.message().unwrap_or_default().to_owned()
        }
    }
}

#[track_caller]
fn allowed<T: Debug, E: Debug, R: Debug>(result: Result<T, SdkError<E, R>>) -> T {
    result.unwrap_or_else(|e| panic!("expected success, got {e:?}"))
}

fn put_identity_policy(trent: &Trent, account: &str, user: &str, document: serde_json::Value) {
    let document = document.to_string();
    let out = trent.cli(&[
        "iam",
        "put-policy",
        "--account-id",
        account,
        "--user",
        user,
        "--policy-name",
        "p1",
        "--policy-document",
        &document,
    ]);
    assert!(
        out.status.success(),
        "iam put-policy: {}",
        describe_output(&out)
    );
}

struct World {
    trent: Trent,
    root: Client,
    alice: Client,
    bob: Client,
    dave: Client,
    carol: Client,
    erin: Client,
    other_root: Client,
}

fn world() -> World {
    let trent = Trent::start();
    for (account, akid, secret, user) in SECRETS {
        trent.add_credentials(account, akid, secret, user);
    }
    put_identity_policy(
        &trent,
        ACCOUNT_ID,
        "bob",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]}),
    );
    put_identity_policy(
        &trent,
        ACCOUNT_ID,
        "dave",
        json!({"Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}]}),
    );
    put_identity_policy(
        &trent,
        OTHER,
        "carol",
        json!({"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}}),
    );
    let client = |i: usize| trent.client_as(SECRETS[i].1, SECRETS[i].2);
    World {
        root: trent.client(),
        alice: client(0),
        bob: client(1),
        dave: client(2),
        carol: client(3),
        erin: client(4),
        other_root: client(5),
        trent,
    }
}

async fn encrypt(
    c: &Client,
    key: &str,
    context: &[(&str, &str)],
) -> Result<
    Blob,
    SdkError<
        aws_sdk_kms::operation::encrypt::EncryptError,
        aws_sdk_kms::config::http::HttpResponse,
    >,
> {
    let mut r = c
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(b"secret".to_vec()));
    for (k, v) in context {
        r = r.encryption_context(*k, *v);
    }
    r.send().await.map(|o| o.ciphertext_blob.expect("blob"))
}

#[tokio::test]
async fn default_policy_delegates_to_identity_policies() {
    let w = world();
    let key = allowed(w.root.create_key().send().await)
        .key_metadata
        .unwrap()
        .key_id;
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key}");

    // Account root: everything, including keyless operations.
    let blob = allowed(encrypt(&w.root, &key, &[]).await);
    allowed(w.root.list_keys().send().await);
    allowed(w.root.list_aliases().send().await);
    allowed(w.root.generate_random().number_of_bytes(8).send().await);

    // A user without identity policies: nothing, with AWS's message.
    let message = denied(encrypt(&w.alice, &key, &[]).await);
    assert_eq!(
        message,
        format!(
            "User: arn:aws:iam::{ACCOUNT_ID}:user/alice is not authorized to perform: kms:Encrypt on resource: {arn} because no identity-based policy allows the kms:Encrypt action"
        )
    );
    denied(w.alice.describe_key().key_id(&key).send().await);
    denied(w.alice.create_key().send().await);
    denied(w.alice.list_keys().send().await);
    denied(w.alice.list_aliases().send().await);
    denied(w.alice.generate_random().number_of_bytes(8).send().await);
    denied(w.alice.disable_key().key_id(&key).send().await);
    denied(w.alice.get_key_policy().key_id(&key).send().await);

    // A user whose identity policy allows some actions: exactly those.
    allowed(encrypt(&w.bob, &key, &[]).await);
    allowed(w.bob.decrypt().ciphertext_blob(blob.clone()).send().await);
    allowed(w.bob.describe_key().key_id(&key).send().await);
    denied(w.bob.schedule_key_deletion().key_id(&key).send().await);
    denied(w.bob.create_key().send().await);
    denied(
        w.bob
            .generate_data_key()
            .key_id(&key)
            .number_of_bytes(16)
            .send()
            .await,
    );

    // An explicit Deny in an identity policy beats its own Allow.
    let message = denied(encrypt(&w.dave, &key, &[]).await);
    assert!(
        message.ends_with("with an explicit deny in an identity-based policy"),
        "{message}"
    );
    allowed(w.dave.describe_key().key_id(&key).send().await);
    allowed(w.dave.create_key().send().await);

    // Another account: the default policy names only this account.
    let message = denied(encrypt(&w.carol, &arn, &[]).await);
    assert!(
        message.ends_with("because no resource-based policy allows the kms:Encrypt action"),
        "{message}"
    );
    denied(encrypt(&w.other_root, &arn, &[]).await);
    // Keyless operations stay in the caller's own account.
    let listed = allowed(w.other_root.list_keys().send().await);
    assert!(
        listed
            .keys()
            .iter()
            .all(|k| k.key_id() != Some(key.as_str()))
    );

    // Nothing secret reaches the log.
    let log = w.trent.log();
    for (_, _, secret, _) in SECRETS {
        assert!(!log.contains(secret), "a secret is in the server log");
    }
    assert!(!log.contains(ADMIN_SECRET));
}

#[tokio::test]
async fn key_policies_conditions_and_cross_account() {
    let w = world();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "other account", "Effect": "Allow", "Principal": {"AWS": OTHER},
         "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"},
        {"Sid": "alice with billing context", "Effect": "Allow",
         "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:user/alice")},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}},
        {"Sid": "never forbidden", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt",
         "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:app": "forbidden"}}},
        {"Sid": "only from loopback", "Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey",
         "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}},
        {"Sid": "no plain HTTP for signing", "Effect": "Deny", "Principal": "*", "Action": "kms:ReEncrypt*",
         "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    ]});
    let key = allowed(w.root.create_key().policy(policy.to_string()).send().await)
        .key_metadata
        .unwrap()
        .key_id;
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key}");

    // Encryption-context conditions, allowing a user directly (no identity policy).
    let billing = allowed(encrypt(&w.alice, &key, &[("app", "billing")]).await);
    denied(encrypt(&w.alice, &key, &[("app", "payroll")]).await);
    denied(encrypt(&w.alice, &key, &[]).await);
    allowed(
        w.alice
            .decrypt()
            .ciphertext_blob(billing.clone())
            .set_encryption_context(Some(ctx(&[("app", "billing")])))
            .send()
            .await,
    );
    denied(w.alice.describe_key().key_id(&key).send().await);

    // An explicit Deny in the key policy beats the root's Allow.
    let forbidden = allowed(encrypt(&w.root, &key, &[("app", "forbidden")]).await);
    let message = denied(
        w.root
            .decrypt()
            .ciphertext_blob(forbidden)
            .set_encryption_context(Some(ctx(&[("app", "forbidden")])))
            .send()
            .await,
    );
    assert!(
        message.ends_with("with an explicit deny in a resource-based policy"),
        "{message}"
    );

    // aws:SourceIp (tests connect over loopback) and aws:SecureTransport (plain HTTP).
    allowed(
        w.root
            .generate_data_key()
            .key_id(&key)
            .number_of_bytes(16)
            .send()
            .await,
    );
    denied(
        w.root
            .re_encrypt()
            .ciphertext_blob(billing.clone())
            .set_source_encryption_context(Some(ctx(&[("app", "billing")])))
            .destination_key_id(&key)
            .send()
            .await,
    );

    // Cross-account: the key policy names the account, and carol's identity
    // policy allows kms:*; erin has no identity policy; the other account's
    // root needs none.
    allowed(encrypt(&w.carol, &arn, &[]).await);
    allowed(w.carol.describe_key().key_id(&arn).send().await);
    denied(
        w.carol
            .decrypt()
            .ciphertext_blob(billing.clone())
            .key_id(&arn)
            .send()
            .await,
    );
    let message = denied(encrypt(&w.erin, &arn, &[]).await);
    assert!(
        message.ends_with("because no identity-based policy allows the kms:Encrypt action"),
        "{message}"
    );
    allowed(encrypt(&w.other_root, &arn, &[]).await);
    // Management operations never reach another account's keys.
    expect_err(
        w.other_root.disable_key().key_id(&arn).send().await,
        "NotFoundException",
    );
}

#[tokio::test]
async fn policy_documents_are_validated_and_lockout_is_checked() {
    let w = world();
    let key = allowed(w.root.create_key().send().await)
        .key_metadata
        .unwrap()
        .key_id;
    for bad in [
        "not json".to_owned(),
        json!({"Statement": []}).to_string(),
        json!({"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}}).to_string(),
        json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
            "Condition": {"StringAlmostEquals": {"a": "b"}}}})
        .to_string(),
    ] {
        expect_err(
            w.root.put_key_policy().key_id(&key).policy(&bad).send().await,
            "MalformedPolicyDocumentException",
        );
        expect_err(w.root.create_key().policy(&bad).send().await, "MalformedPolicyDocumentException");
    }
    // A policy that would lock the caller out is refused, unless bypassed.
    let bob_only = json!({"Statement": {"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:user/bob")},
        "Action": "kms:*", "Resource": "*"}})
    .to_string();
    expect_err(
        w.root
            .put_key_policy()
            .key_id(&key)
            .policy(&bob_only)
            .send()
            .await,
        "MalformedPolicyDocumentException",
    );
    expect_err(
        w.root.create_key().policy(&bob_only).send().await,
        "MalformedPolicyDocumentException",
    );
    allowed(
        w.root
            .put_key_policy()
            .key_id(&key)
            .policy(&bob_only)
            .bypass_policy_lockout_safety_check(true)
            .send()
            .await,
    );
    // Now the root is locked out and bob (named directly) is in.
    denied(w.root.describe_key().key_id(&key).send().await);
    denied(
        w.root
            .put_key_policy()
            .key_id(&key)
            .policy(&bob_only)
            .send()
            .await,
    );
    allowed(w.bob.describe_key().key_id(&key).send().await);
    allowed(w.bob.enable_key_rotation().key_id(&key).send().await);
    // A user may not take a policy from itself by PutKeyPolicy without
    // permission: alice has none.
    denied(
        w.alice
            .put_key_policy()
            .key_id(&key)
            .policy(&bob_only)
            .send()
            .await,
    );
}
