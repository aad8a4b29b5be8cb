//! Key policies: the default policy, GetKeyPolicy, PutKeyPolicy,
//! ListKeyPolicies.

use serde_json::{Value, json};

use crate::harness::{ACCOUNT_ID, Blob, Trent, expect_err};
use crate::keys::create_key;

/// Whether `statement` allows the account root `kms:*` on `*`, in any of the
/// equivalent JSON spellings AWS accepts.
fn grants_root_everything(statement: &Value) -> bool {
    let root = format!("arn:aws:iam::{ACCOUNT_ID}:root");
    let one_or_many = |v: &Value, want: &str| match v {
        Value::String(s) => s == want,
        Value::Array(items) => items.iter().any(|i| i.as_str() == Some(want)),
        _ => false,
    };
    statement["Effect"] == "Allow"
        && (one_or_many(&statement["Principal"]["AWS"], &root)
            || one_or_many(&statement["Principal"]["AWS"], ACCOUNT_ID))
        && one_or_many(&statement["Action"], "kms:*")
        && one_or_many(&statement["Resource"], "*")
}

#[tokio::test]
async fn default_key_policy_grants_the_account_root() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;

    let names = client
        .list_key_policies()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyPolicies");
    assert_eq!(names.policy_names(), ["default"]);
    assert!(!names.truncated());

    let policy = client
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("Policy");
    let policy: Value = serde_json::from_str(&policy).expect("policy is JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement array");
    assert!(
        statements.iter().any(grants_root_everything),
        "default policy does not grant the account root kms:*: {policy}"
    );

    // PolicyName is optional and means "default".
    let unnamed = client
        .get_key_policy()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyPolicy without PolicyName");
    assert_eq!(unnamed.policy_name(), Some("default"));
}

#[tokio::test]
async fn put_key_policy_round_trips_and_rejects_malformed_documents() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let policy = json!({
        "Version": "2012-10-17",
        "Id": "trent-it",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Auditors may describe",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
                "Action": ["kms:DescribeKey"],
                "Resource": "*"
            }
        ]
    });
    client
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .expect("PutKeyPolicy");
    let stored = client
        .get_key_policy()
        .key_id(&key)
        .policy_name("default")
        .send()
        .await
        .expect("GetKeyPolicy")
        .policy
        .expect("Policy");
    let stored: Value = serde_json::from_str(&stored).expect("stored policy is JSON");
    assert_eq!(stored, policy);

    let malformed = client
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy("{ this is not json")
        .send()
        .await;
    expect_err(malformed, "MalformedPolicyDocumentException");

    let unknown = client
        .get_key_policy()
        .key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .send()
        .await;
    expect_err(unknown, "NotFoundException");
}

/// A valid policy that grants nothing to the test account.
fn policy_for_another_account() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

#[tokio::test]
async fn put_key_policy_refuses_to_lock_out_the_caller() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    // AWS's policy lockout safety check: the new policy must still let the
    // caller call PutKeyPolicy, unless BypassPolicyLockoutSafetyCheck is set.
    let out = client
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(policy_for_another_account())
        .send()
        .await;
    expect_err(out, "MalformedPolicyDocumentException");
    let created = client
        .create_key()
        .policy(policy_for_another_account())
        .send()
        .await;
    expect_err(created, "MalformedPolicyDocumentException");
}

#[tokio::test]
async fn a_policy_without_the_account_denies_the_account() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    client
        .put_key_policy()
        .key_id(&key)
        .policy_name("default")
        .policy(policy_for_another_account())
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .expect("PutKeyPolicy with the safety check bypassed");
    // KMS key policies bind even the account root: nothing grants it now.
    let encrypted = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await;
    expect_err(encrypted, "AccessDeniedException");
    let described = client.describe_key().key_id(&key).send().await;
    expect_err(described, "AccessDeniedException");
}
