//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, and using an
//! alias wherever a key id is accepted.

use aws_sdk_kms::Client;

use crate::harness::{ACCOUNT_ID, Blob, Trent, err_code, expect_err, key_arn};
use crate::keys::{create_key, describe};

fn alias_arn(name: &str) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT_ID}:{name}")
}

async fn create_alias(client: &Client, name: &str, key_id: &str) {
    client
        .create_alias()
        .alias_name(name)
        .target_key_id(key_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAlias {name}: {e:?}"));
}

/// (AliasName, AliasArn, TargetKeyId) of every listed alias we created
/// (names starting `alias/t-`), sorted.
async fn listed(client: &Client, key_id: Option<&str>) -> Vec<(String, String, String)> {
    let out = client
        .list_aliases()
        .set_key_id(key_id.map(str::to_owned))
        .send()
        .await
        .expect("ListAliases");
    let mut entries: Vec<(String, String, String)> = out
        .aliases()
        .iter()
        .filter(|a| a.alias_name().is_some_and(|n| n.starts_with("alias/t-")))
        .map(|a| {
            (
                a.alias_name().unwrap_or_default().to_owned(),
                a.alias_arn().unwrap_or_default().to_owned(),
                a.target_key_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    entries.sort();
    entries
}

#[tokio::test]
async fn alias_works_wherever_a_key_id_does() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    create_alias(&client, "alias/t-app", &key).await;

    for key_id in ["alias/t-app".to_owned(), alias_arn("alias/t-app")] {
        let out = client
            .encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new("via alias"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Encrypt with {key_id}: {e:?}"));
        assert_eq!(
            out.key_id(),
            Some(key_arn(&key).as_str()),
            "Encrypt with {key_id}"
        );
        let data_key = client
            .generate_data_key()
            .key_id(&key_id)
            .number_of_bytes(16)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKey with {key_id}: {e:?}"));
        assert_eq!(data_key.key_id(), Some(key_arn(&key).as_str()));
    }
    let missing = client
        .encrypt()
        .key_id("alias/t-missing")
        .plaintext(Blob::new("x"))
        .send()
        .await;
    expect_err(missing, "NotFoundException");
}

#[tokio::test]
async fn create_alias_validates_the_name() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;

    let no_prefix = client
        .create_alias()
        .alias_name("t-bare")
        .target_key_id(&key)
        .send()
        .await;
    expect_err(no_prefix, "ValidationException");
    let bad_chars = client
        .create_alias()
        .alias_name("alias/t has space")
        .target_key_id(&key)
        .send()
        .await;
    expect_err(bad_chars, "ValidationException");

    // alias/aws/ is reserved for AWS managed keys. AWS's exact answer is not
    // documented; both codes it has been seen to use are accepted.
    let reserved = client
        .create_alias()
        .alias_name("alias/aws/t-mine")
        .target_key_id(&key)
        .send()
        .await;
    let code = err_code(reserved);
    assert!(
        code == "NotAuthorizedException" || code == "InvalidAliasNameException",
        "CreateAlias alias/aws/... answered {code}"
    );
    assert!(
        listed(&client, None).await.is_empty(),
        "a rejected alias was created"
    );
}

#[tokio::test]
async fn create_alias_refuses_duplicates_and_unknown_keys() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let other = create_key(&client).await.key_id;
    create_alias(&client, "alias/t-once", &key).await;

    let duplicate = client
        .create_alias()
        .alias_name("alias/t-once")
        .target_key_id(&other)
        .send()
        .await;
    expect_err(duplicate, "AlreadyExistsException");
    assert_eq!(
        describe(&client, "alias/t-once").await.key_id,
        key,
        "duplicate moved the alias"
    );

    let unknown = client
        .create_alias()
        .alias_name("alias/t-orphan")
        .target_key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .send()
        .await;
    expect_err(unknown, "NotFoundException");
}

#[tokio::test]
async fn create_alias_for_key_pending_deletion_is_invalid_state() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let out = client
        .create_alias()
        .alias_name("alias/t-late")
        .target_key_id(&key)
        .send()
        .await;
    expect_err(out, "KMSInvalidStateException");
}

#[tokio::test]
async fn update_alias_points_it_at_another_key() {
    let trent = Trent::start();
    let client = trent.client();
    let first = create_key(&client).await.key_id;
    let second = create_key(&client).await.key_id;
    create_alias(&client, "alias/t-moving", &first).await;

    client
        .update_alias()
        .alias_name("alias/t-moving")
        .target_key_id(&second)
        .send()
        .await
        .expect("UpdateAlias");
    assert_eq!(describe(&client, "alias/t-moving").await.key_id, second);
    let out = client
        .encrypt()
        .key_id("alias/t-moving")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .expect("Encrypt via moved alias");
    assert_eq!(out.key_id(), Some(key_arn(&second).as_str()));

    let unknown_alias = client
        .update_alias()
        .alias_name("alias/t-never")
        .target_key_id(&second)
        .send()
        .await;
    expect_err(unknown_alias, "NotFoundException");
    let unknown_key = client
        .update_alias()
        .alias_name("alias/t-moving")
        .target_key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .send()
        .await;
    expect_err(unknown_key, "NotFoundException");

    let third = create_key(&client).await.key_id;
    client
        .schedule_key_deletion()
        .key_id(&third)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let to_doomed = client
        .update_alias()
        .alias_name("alias/t-moving")
        .target_key_id(&third)
        .send()
        .await;
    expect_err(to_doomed, "KMSInvalidStateException");
    assert_eq!(describe(&client, "alias/t-moving").await.key_id, second);
}

#[tokio::test]
async fn delete_alias_removes_only_the_alias() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    create_alias(&client, "alias/t-temp", &key).await;

    client
        .delete_alias()
        .alias_name("alias/t-temp")
        .send()
        .await
        .expect("DeleteAlias");
    expect_err(
        client.describe_key().key_id("alias/t-temp").send().await,
        "NotFoundException",
    );
    expect_err(
        client
            .delete_alias()
            .alias_name("alias/t-temp")
            .send()
            .await,
        "NotFoundException",
    );
    assert_eq!(
        describe(&client, &key).await.key_id,
        key,
        "the key went with its alias"
    );
    // The name is free again.
    create_alias(&client, "alias/t-temp", &key).await;
}

#[tokio::test]
async fn list_aliases_with_and_without_key_filter() {
    let trent = Trent::start();
    let client = trent.client();
    let a = create_key(&client).await.key_id;
    let b = create_key(&client).await.key_id;
    create_alias(&client, "alias/t-a1", &a).await;
    create_alias(&client, "alias/t-a2", &a).await;
    create_alias(&client, "alias/t-b1", &b).await;

    let entry = |name: &str, key: &str| (name.to_owned(), alias_arn(name), key.to_owned());
    assert_eq!(
        listed(&client, None).await,
        [
            entry("alias/t-a1", &a),
            entry("alias/t-a2", &a),
            entry("alias/t-b1", &b)
        ]
    );
    assert_eq!(
        listed(&client, Some(&a)).await,
        [entry("alias/t-a1", &a), entry("alias/t-a2", &a)]
    );
    assert_eq!(
        listed(&client, Some(&key_arn(&b))).await,
        [entry("alias/t-b1", &b)]
    );

    // Paging: Limit 1 walks our aliases one at a time without repeats.
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    for page in 0.. {
        assert!(page < 50, "ListAliases paging does not terminate");
        let out = client
            .list_aliases()
            .limit(1)
            .set_marker(marker.take())
            .send()
            .await
            .expect("ListAliases page");
        assert!(
            out.aliases().len() <= 1,
            "Limit 1 returned {:?}",
            out.aliases()
        );
        names.extend(
            out.aliases()
                .iter()
                .filter_map(|a| a.alias_name().map(str::to_owned)),
        );
        if !out.truncated() {
            break;
        }
        marker = Some(
            out.next_marker()
                .expect("Truncated page has NextMarker")
                .to_owned(),
        );
    }
    let ours: Vec<&String> = names.iter().filter(|n| n.starts_with("alias/t-")).collect();
    assert_eq!(
        ours,
        ["alias/t-a1", "alias/t-a2", "alias/t-b1"],
        "paged: {names:?}"
    );

    let bogus = client.list_aliases().marker("not-a-marker").send().await;
    expect_err(bogus, "InvalidMarkerException");

    // Every entry, ours or not, carries a name and an ARN that agree.
    let out = client.list_aliases().send().await.expect("ListAliases");
    for alias in out.aliases() {
        let name = alias.alias_name().expect("AliasName");
        assert_eq!(alias.alias_arn(), Some(alias_arn(name).as_str()));
    }
}
