//! Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/DisableKey,
//! ScheduleKeyDeletion/CancelKeyDeletion, UpdateKeyDescription, DryRun.

use std::collections::HashSet;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType,
    OriginType, Tag,
};

use crate::harness::{ACCOUNT_ID, Blob, Trent, err_code, expect_err, key_arn, now_secs, secs};

const DAY: i64 = 24 * 60 * 60;

pub(crate) async fn create_key(client: &Client) -> KeyMetadata {
    client
        .create_key()
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
}

pub(crate) async fn describe(client: &Client, key_id: &str) -> KeyMetadata {
    client
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("KeyMetadata")
}

pub(crate) async fn encrypt(client: &Client, key_id: &str, plaintext: &[u8]) -> Blob {
    client
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob")
}

fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        })
}

#[tokio::test]
async fn create_key_returns_complete_metadata() {
    let trent = Trent::start();
    let client = trent.client();
    let before = now_secs();
    let meta = client
        .create_key()
        .description("payroll key")
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("payroll")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata");

    assert!(
        is_uuid(&meta.key_id),
        "KeyMetadata.KeyId should be a key id: {}",
        meta.key_id
    );
    assert_eq!(meta.arn.as_deref(), Some(key_arn(&meta.key_id).as_str()));
    assert_eq!(meta.aws_account_id.as_deref(), Some(ACCOUNT_ID));
    assert_eq!(meta.description.as_deref(), Some("payroll key"));
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert!(meta.enabled);
    assert_eq!(meta.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(meta.key_manager, Some(KeyManagerType::Customer));
    assert_eq!(meta.origin, Some(OriginType::AwsKms));
    assert_eq!(
        meta.encryption_algorithms(),
        [EncryptionAlgorithmSpec::SymmetricDefault]
    );
    assert_eq!(meta.multi_region, Some(false));
    assert!(meta.deletion_date.is_none());
    let created = secs(meta.creation_date.as_ref());
    assert!(
        (before - 5..=now_secs() + 5).contains(&created),
        "CreationDate {created} is not now ({before})"
    );

    let tags = client
        .list_resource_tags()
        .key_id(&meta.key_id)
        .send()
        .await
        .expect("ListResourceTags");
    let tags: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(tags, [("team", "payroll")]);
}

#[tokio::test]
async fn create_key_without_parameters_uses_aws_defaults() {
    let trent = Trent::start();
    let meta = create_key(&trent.client()).await;
    assert_eq!(meta.key_usage, Some(KeyUsageType::EncryptDecrypt));
    assert_eq!(meta.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    // AWS always returns Description, empty when none was given.
    assert_eq!(meta.description.as_deref(), Some(""));
}

#[tokio::test]
async fn describe_key_by_id_arn_alias_name_and_alias_arn() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await;
    client
        .create_alias()
        .alias_name("alias/describe-me")
        .target_key_id(&key.key_id)
        .send()
        .await
        .expect("CreateAlias");
    let arn = key_arn(&key.key_id);
    let alias_arn = format!("arn:aws:kms:us-east-1:{ACCOUNT_ID}:alias/describe-me");

    for identifier in [key.key_id.as_str(), &arn, "alias/describe-me", &alias_arn] {
        let meta = describe(&client, identifier).await;
        assert_eq!(meta.key_id, key.key_id, "DescribeKey({identifier})");
        assert_eq!(
            meta.arn.as_deref(),
            Some(arn.as_str()),
            "DescribeKey({identifier})"
        );
    }
}

#[tokio::test]
async fn describe_unknown_key_is_not_found() {
    let trent = Trent::start();
    let client = trent.client();
    let missing = "0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f";
    for identifier in [
        missing.to_owned(),
        key_arn(missing),
        "alias/no-such-alias".to_owned(),
        "not-a-key-id".to_owned(),
    ] {
        let code = err_code(client.describe_key().key_id(&identifier).send().await);
        assert_eq!(code, "NotFoundException", "DescribeKey({identifier})");
    }
}

#[tokio::test]
async fn key_arn_of_another_region_or_account_is_not_this_key() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let other_region = format!("arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{key}");
    let code = err_code(client.describe_key().key_id(&other_region).send().await);
    assert_eq!(code, "NotFoundException", "DescribeKey({other_region})");
    // Another account's ARN: AWS answers NotFound or AccessDenied, never the key.
    let other_account = format!("arn:aws:kms:us-east-1:444455556666:key/{key}");
    let code = err_code(client.describe_key().key_id(&other_account).send().await);
    assert!(
        code == "NotFoundException" || code == "AccessDeniedException",
        "DescribeKey({other_account}) answered {code}"
    );
}

#[tokio::test]
async fn list_keys_pages_with_limit_and_marker() {
    let trent = Trent::start();
    let client = trent.client();
    let mut created = HashSet::new();
    for _ in 0..5 {
        created.insert(create_key(&client).await.key_id);
    }

    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    for page in 0.. {
        assert!(page < 10, "ListKeys paging does not terminate");
        let out = client
            .list_keys()
            .limit(2)
            .set_marker(marker.take())
            .send()
            .await
            .expect("ListKeys");
        assert!(
            out.keys().len() <= 2,
            "Limit 2 returned {} keys",
            out.keys().len()
        );
        for entry in out.keys() {
            let id = entry.key_id().expect("KeyId").to_owned();
            assert_eq!(entry.key_arn(), Some(key_arn(&id).as_str()));
            seen.push(id);
        }
        if !out.truncated() {
            assert!(out.next_marker().is_none(), "NextMarker on the last page");
            break;
        }
        marker = Some(
            out.next_marker()
                .expect("Truncated page has NextMarker")
                .to_owned(),
        );
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a key was listed twice: {seen:?}");
    assert_eq!(unique, created);

    let bogus = client.list_keys().marker("not-a-marker").send().await;
    expect_err(bogus, "InvalidMarkerException");

    let first = client.list_keys().limit(2).send().await.expect("ListKeys");
    assert!(first.truncated(), "5 keys with Limit 2 must be truncated");
    expect_err(
        client.list_keys().limit(0).send().await,
        "ValidationException",
    );
    expect_err(
        client.list_keys().limit(1001).send().await,
        "ValidationException",
    );
}

#[tokio::test]
async fn disabled_key_refuses_crypto_until_enabled() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let ciphertext = encrypt(&client, &key, b"before").await;

    client
        .disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKey");
    let meta = describe(&client, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Disabled));
    assert!(!meta.enabled);

    let encrypted = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await;
    expect_err(encrypted, "DisabledException");
    let decrypted = client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await;
    expect_err(decrypted, "DisabledException");
    let data_key = client
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await;
    expect_err(data_key, "DisabledException");

    client
        .enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    assert_eq!(
        describe(&client, &key).await.key_state,
        Some(KeyState::Enabled)
    );
    let plaintext = client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt after EnableKey")
        .plaintext
        .expect("Plaintext");
    assert_eq!(plaintext.as_ref(), b"before");
}

#[tokio::test]
async fn schedule_key_deletion_accepts_only_7_to_30_days() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;

    for days in [6, 31, 0] {
        let out = client
            .schedule_key_deletion()
            .key_id(&key)
            .pending_window_in_days(days)
            .send()
            .await;
        expect_err(out, "ValidationException");
    }
    assert_eq!(
        describe(&client, &key).await.key_state,
        Some(KeyState::Enabled)
    );

    let out = client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion 7");
    assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
    assert_eq!(out.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(out.pending_window_in_days(), Some(7));
    let deletion = secs(out.deletion_date());
    assert!(
        (deletion - (now_secs() + 7 * DAY)).abs() < 600,
        "DeletionDate {deletion} is not 7 days from now"
    );

    let meta = describe(&client, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::PendingDeletion));
    assert!(!meta.enabled);
    assert_eq!(secs(meta.deletion_date.as_ref()), deletion);
}

#[tokio::test]
async fn schedule_key_deletion_defaults_to_30_days() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let out = client
        .schedule_key_deletion()
        .key_id(&key)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(out.pending_window_in_days(), Some(30));
    let deletion = secs(out.deletion_date());
    assert!(
        (deletion - (now_secs() + 30 * DAY)).abs() < 600,
        "DeletionDate {deletion} is not 30 days from now"
    );
}

#[tokio::test]
async fn key_pending_deletion_refuses_use() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let ciphertext = encrypt(&client, &key, b"secret").await;
    client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");

    let encrypted = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await;
    expect_err(encrypted, "KMSInvalidStateException");
    let decrypted = client.decrypt().ciphertext_blob(ciphertext).send().await;
    expect_err(decrypted, "KMSInvalidStateException");
    expect_err(
        client.enable_key().key_id(&key).send().await,
        "KMSInvalidStateException",
    );
    expect_err(
        client.disable_key().key_id(&key).send().await,
        "KMSInvalidStateException",
    );
    let again = client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await;
    expect_err(again, "KMSInvalidStateException");
}

#[tokio::test]
async fn cancel_key_deletion_leaves_key_disabled() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    expect_err(
        client.cancel_key_deletion().key_id(&key).send().await,
        "KMSInvalidStateException",
    );
    client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(10)
        .send()
        .await
        .expect("ScheduleKeyDeletion");

    let out = client
        .cancel_key_deletion()
        .key_id(&key)
        .send()
        .await
        .expect("CancelKeyDeletion");
    assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));

    let meta = describe(&client, &key).await;
    assert_eq!(meta.key_state, Some(KeyState::Disabled));
    assert!(
        meta.deletion_date.is_none(),
        "DeletionDate kept after cancel"
    );
    let encrypted = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("x"))
        .send()
        .await;
    expect_err(encrypted, "DisabledException");

    client
        .enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    encrypt(&client, &key, b"usable again").await;
}

#[tokio::test]
async fn key_is_deleted_once_the_waiting_period_ends() {
    let trent = Trent::start();
    let client = trent.client();
    let doomed = create_key(&client).await.key_id;
    let survivor = create_key(&client).await.key_id;
    client
        .create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&doomed)
        .send()
        .await
        .expect("CreateAlias");
    let ciphertext = encrypt(&client, &doomed, b"gone soon").await;
    client
        .schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");

    trent.advance_clock(6 * DAY);
    let meta = describe(&client, &doomed).await;
    assert_eq!(
        meta.key_state,
        Some(KeyState::PendingDeletion),
        "deleted a day early"
    );

    trent.advance_clock(DAY + 60);
    expect_err(
        client.describe_key().key_id(&doomed).send().await,
        "NotFoundException",
    );
    let code = err_code(client.decrypt().ciphertext_blob(ciphertext).send().await);
    assert!(
        code == "NotFoundException" || code == "InvalidCiphertextException",
        "Decrypt under a deleted key answered {code}"
    );
    let listed = client.list_keys().send().await.expect("ListKeys");
    let ids: Vec<&str> = listed.keys().iter().filter_map(|k| k.key_id()).collect();
    assert_eq!(ids, [survivor.as_str()], "ListKeys after deletion");
    let aliases = client.list_aliases().send().await.expect("ListAliases");
    assert!(
        aliases
            .aliases()
            .iter()
            .all(|a| a.alias_name() != Some("alias/doomed")),
        "alias of a deleted key is still listed"
    );
    encrypt(&client, &survivor, b"unaffected").await;
    // The deleted key's alias name is free again.
    client
        .create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&survivor)
        .send()
        .await
        .expect("CreateAlias with a freed name");
}

#[tokio::test]
async fn update_key_description() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    client
        .update_key_description()
        .key_id(&key)
        .description("now described")
        .send()
        .await
        .expect("UpdateKeyDescription");
    assert_eq!(
        describe(&client, &key).await.description.as_deref(),
        Some("now described")
    );
    let missing = client
        .update_key_description()
        .key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .description("x")
        .send()
        .await;
    expect_err(missing, "NotFoundException");
}

#[tokio::test]
async fn dry_run_encrypt_answers_dry_run_operation_exception() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let out = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("dry"))
        .dry_run(true)
        .send()
        .await;
    expect_err(out, "DryRunOperationException");

    // A dry run of a malformed call reports the validation failure instead.
    let out = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(vec![0u8; 4097]))
        .dry_run(true)
        .send()
        .await;
    expect_err(out, "ValidationException");
}
