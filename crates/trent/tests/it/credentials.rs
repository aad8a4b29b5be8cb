//! Credentials: the first-start bootstrap file, and `trent credentials
//! add/list/remove`, which a running server must honour without a restart.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;

use crate::harness::{
    ACCOUNT_ID, ADMIN_AKID, ADMIN_SECRET, Options, Trent, describe_output, expect_err,
};
use crate::keys::{create_key, describe, encrypt};

/// How long a running server may take to notice a credentials change; the
/// contract says about two seconds.
const PROPAGATION: Duration = Duration::from_secs(4);

/// Polls ListKeys until it succeeds (`want_ok`) or fails with
/// UnrecognizedClientException; returns how long that took.
async fn await_auth(client: &Client, want_ok: bool) -> Duration {
    let started = Instant::now();
    loop {
        let result = client.list_keys().send().await;
        let done = match &result {
            Ok(_) => want_ok,
            Err(e) => !want_ok && e.code() == Some("UnrecognizedClientException"),
        };
        if done {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "credentials change not seen after {PROPAGATION:?}; last answer: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls CreateKey until an identity-policy change lets it through.
async fn await_create_key_allowed(client: &Client) {
    let started = Instant::now();
    loop {
        let result = client.create_key().send().await;
        if result.is_ok() {
            return;
        }
        assert!(
            started.elapsed() < PROPAGATION,
            "identity policy not honoured after {PROPAGATION:?}: {result:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `key = value` from an AWS credentials file's `[default]` profile.
fn profile_value(file: &str, key: &str) -> Option<String> {
    let mut in_default = false;
    for line in file.lines().map(str::trim) {
        if line.starts_with('[') {
            in_default = line == "[default]";
        } else if in_default {
            match line.split_once('=') {
                Some((k, v)) if k.trim() == key => return Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    None
}

#[tokio::test]
async fn first_start_writes_private_bootstrap_credentials() {
    let mut trent = Trent::start_with(Options {
        provision_admin: false,
        ..Options::default()
    });
    let path = trent.data_dir().join("bootstrap-credentials");
    let metadata = std::fs::metadata(&path).expect("bootstrap-credentials exists");
    assert_eq!(
        metadata.permissions().mode() & 0o777,
        0o600,
        "bootstrap file mode"
    );
    let file = std::fs::read_to_string(&path).expect("read bootstrap-credentials");
    assert!(
        file.lines().any(|l| l.trim() == "[default]"),
        "no [default] profile:\n{file}"
    );
    let akid = profile_value(&file, "aws_access_key_id").expect("aws_access_key_id");
    let secret = profile_value(&file, "aws_secret_access_key").expect("aws_secret_access_key");

    let client = trent.client_as(&akid, &secret);
    let key = create_key(&client).await;
    let account = key.aws_account_id.clone().expect("AWSAccountId");
    assert!(
        account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()),
        "bootstrap account id {account:?}"
    );
    let arn_prefix = format!("arn:aws:kms:us-east-1:{account}:key/");
    assert!(
        key.arn
            .as_deref()
            .is_some_and(|a| a.starts_with(&arn_prefix)),
        "{key:?}"
    );

    // A restart keeps the same account and credentials.
    trent.restart();
    let client = trent.client_as(&akid, &secret);
    encrypt(&client, &key.key_id, b"bootstrap admin after restart").await;
}

#[tokio::test]
async fn provisioned_credentials_mean_no_bootstrap_file() {
    let trent = Trent::start();
    assert!(
        !trent.data_dir().join("bootstrap-credentials").exists(),
        "bootstrap-credentials written although credentials existed"
    );
}

#[tokio::test]
async fn credentials_added_while_running_work_without_restart() {
    let trent = Trent::start();
    let key = create_key(&trent.client()).await.key_id;
    let newcomer = trent.client_as(
        "AKIATRENTTESTNEW0001",
        "newcomerSecret00000000000000000000000001",
    );
    expect_err(
        newcomer.list_keys().send().await,
        "UnrecognizedClientException",
    );

    trent.add_credentials(
        ACCOUNT_ID,
        "AKIATRENTTESTNEW0001",
        "newcomerSecret00000000000000000000000001",
        None,
    );
    await_auth(&newcomer, true).await;
    // Same account: the newcomer sees and uses the admin's key.
    assert_eq!(describe(&newcomer, &key).await.key_id, key);
    encrypt(&newcomer, &key, b"hello from the newcomer").await;
}

#[tokio::test]
async fn removed_credentials_are_refused_promptly() {
    let mut trent = Trent::stopped(Options::default());
    trent.add_credentials(
        ACCOUNT_ID,
        "AKIATRENTTESTGONE001",
        "leavingSecret000000000000000000000000001",
        None,
    );
    trent.run();
    let leaving = trent.client_as(
        "AKIATRENTTESTGONE001",
        "leavingSecret000000000000000000000000001",
    );
    create_key(&leaving).await;

    let out = trent.cli(&[
        "credentials",
        "remove",
        "--access-key-id",
        "AKIATRENTTESTGONE001",
    ]);
    assert!(
        out.status.success(),
        "credentials remove: {}",
        describe_output(&out)
    );
    await_auth(&leaving, false).await;
    // Only that key went.
    trent
        .client()
        .list_keys()
        .send()
        .await
        .expect("admin still authenticates");
}

#[tokio::test]
async fn a_named_user_key_works_once_a_policy_allows_it() {
    let mut trent = Trent::stopped(Options::default());
    trent.add_credentials(
        ACCOUNT_ID,
        "AKIATRENTTESTALICE01",
        "aliceSecret00000000000000000000000000001",
        Some("alice"),
    );
    trent.run();
    let alice = trent.client_as(
        "AKIATRENTTESTALICE01",
        "aliceSecret00000000000000000000000000001",
    );
    // As in AWS, an IAM user with no identity policy may do nothing...
    expect_err(alice.create_key().send().await, "AccessDeniedException");

    // ...until one allows it; a running server picks the policy up.
    let policy = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}"#;
    let out = trent.cli(&[
        "iam",
        "put-policy",
        "--account-id",
        ACCOUNT_ID,
        "--user",
        "alice",
        "--policy-name",
        "kms-admin",
        "--policy-document",
        policy,
    ]);
    assert!(
        out.status.success(),
        "iam put-policy: {}",
        describe_output(&out)
    );
    await_create_key_allowed(&alice).await;
    let key = create_key(&alice).await;
    assert_eq!(key.aws_account_id.as_deref(), Some(ACCOUNT_ID));
    encrypt(&alice, &key.key_id, b"alice was here").await;
    // Same account as the admin: both see the key.
    assert_eq!(
        describe(&trent.client(), &key.key_id).await.key_id,
        key.key_id
    );
}

#[tokio::test]
async fn credentials_list_shows_key_ids_but_never_secrets() {
    let trent = Trent::stopped(Options::default());
    trent.add_credentials(
        "444455556666",
        "AKIATRENTTESTLIST001",
        "listedSecret0000000000000000000000000001",
        Some("bob"),
    );
    let out = trent.cli(&["credentials", "list"]);
    assert!(
        out.status.success(),
        "credentials list: {}",
        describe_output(&out)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(ADMIN_AKID),
        "admin key missing from:\n{listing}"
    );
    assert!(
        listing.contains("AKIATRENTTESTLIST001"),
        "added key missing from:\n{listing}"
    );
    let everything = format!("{listing}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !everything.contains("listedSecret") && !everything.contains(ADMIN_SECRET),
        "credentials list prints a secret:\n{everything}"
    );
}

#[tokio::test]
async fn accounts_are_isolated() {
    let mut trent = Trent::stopped(Options::default());
    trent.add_credentials(
        "444455556666",
        "AKIATRENTTESTOTHER01",
        "otherSecret00000000000000000000000000001",
        None,
    );
    trent.run();
    let other = trent.client_as(
        "AKIATRENTTESTOTHER01",
        "otherSecret00000000000000000000000000001",
    );
    let theirs = create_key(&other).await;
    assert!(
        theirs
            .arn
            .as_deref()
            .is_some_and(|a| a.starts_with("arn:aws:kms:us-east-1:444455556666:key/")),
        "{theirs:?}"
    );
    let admin = trent.client();
    let ours = create_key(&admin).await.key_id;
    expect_err(
        admin.describe_key().key_id(&theirs.key_id).send().await,
        "NotFoundException",
    );
    expect_err(
        other.describe_key().key_id(&ours).send().await,
        "NotFoundException",
    );
    let listed = admin.list_keys().send().await.expect("ListKeys");
    let ids: Vec<&str> = listed.keys().iter().filter_map(|k| k.key_id()).collect();
    assert_eq!(ids, [ours.as_str()]);
}
