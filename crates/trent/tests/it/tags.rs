//! Tags: TagResource, UntagResource, ListResourceTags.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::Tag;

use crate::harness::{Trent, expect_err, key_arn};
use crate::keys::create_key;

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .expect("Tag")
}

async fn tags_of(client: &Client, key_id: &str) -> Vec<(String, String)> {
    let out = client
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .expect("ListResourceTags");
    assert!(!out.truncated(), "a handful of tags came back truncated");
    let mut tags: Vec<(String, String)> = out
        .tags()
        .iter()
        .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
        .collect();
    tags.sort();
    tags
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn tag_overwrite_untag_and_list() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    assert!(tags_of(&client, &key).await.is_empty());

    client
        .tag_resource()
        .key_id(&key)
        .tags(tag("env", "prod"))
        .tags(tag("owner", "alice"))
        .tags(tag("note", ""))
        .send()
        .await
        .expect("TagResource");
    assert_eq!(
        tags_of(&client, &key).await,
        pairs(&[("env", "prod"), ("note", ""), ("owner", "alice")])
    );

    // Same key again replaces the value; tags are case-sensitive.
    client
        .tag_resource()
        .key_id(key_arn(&key))
        .tags(tag("env", "staging"))
        .tags(tag("Env", "other"))
        .send()
        .await
        .expect("TagResource by ARN");
    assert_eq!(
        tags_of(&client, &key).await,
        pairs(&[
            ("Env", "other"),
            ("env", "staging"),
            ("note", ""),
            ("owner", "alice")
        ])
    );

    client
        .untag_resource()
        .key_id(&key)
        .tag_keys("owner")
        .tag_keys("Env")
        .tag_keys("never-set")
        .send()
        .await
        .expect("UntagResource");
    assert_eq!(
        tags_of(&client, &key).await,
        pairs(&[("env", "staging"), ("note", "")])
    );
}

#[tokio::test]
async fn tags_are_per_key() {
    let trent = Trent::start();
    let client = trent.client();
    let a = create_key(&client).await.key_id;
    let b = create_key(&client).await.key_id;
    client
        .tag_resource()
        .key_id(&a)
        .tags(tag("only", "a"))
        .send()
        .await
        .expect("TagResource");
    assert!(tags_of(&client, &b).await.is_empty());
}

#[tokio::test]
async fn tagging_rejects_unknown_keys_and_reserved_tag_keys() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let unknown = client
        .tag_resource()
        .key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .tags(tag("a", "b"))
        .send()
        .await;
    expect_err(unknown, "NotFoundException");
    let unknown_list = client
        .list_resource_tags()
        .key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .send()
        .await;
    expect_err(unknown_list, "NotFoundException");

    // The aws: prefix belongs to AWS; KMS answers TagException.
    let reserved = client
        .tag_resource()
        .key_id(&key)
        .tags(tag("aws:owner", "me"))
        .send()
        .await;
    expect_err(reserved, "TagException");
    assert!(tags_of(&client, &key).await.is_empty());
}
