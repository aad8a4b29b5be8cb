//! Durability: state survives a graceful restart and a SIGKILL straight
//! after an acknowledged write; a passphrase-sealed store opens only with
//! its passphrase.

use aws_sdk_kms::types::{KeyState, Tag};

use crate::harness::{Blob, Options, Seal, Trent, key_arn};
use crate::keys::{create_key, describe, encrypt};

#[tokio::test]
async fn everything_survives_a_graceful_restart() {
    let mut trent = Trent::start();
    let client = trent.client();
    let key = client
        .create_key()
        .description("long-lived")
        .tags(
            Tag::builder()
                .tag_key("keep")
                .tag_value("me")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("KeyMetadata")
        .key_id;
    let disabled = create_key(&client).await.key_id;
    client
        .disable_key()
        .key_id(&disabled)
        .send()
        .await
        .expect("DisableKey");
    client
        .create_alias()
        .alias_name("alias/durable")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    client
        .enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(180)
        .send()
        .await
        .expect("EnableKeyRotation");
    let before_rotation = encrypt(&client, &key, b"old material").await;
    client
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    let ciphertext = client
        .encrypt()
        .key_id("alias/durable")
        .plaintext(Blob::new("survives restarts"))
        .encryption_context("app", "durability")
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob");

    trent.restart();
    let client = trent.client();

    let meta = describe(&client, "alias/durable").await;
    assert_eq!(meta.key_id, key);
    assert_eq!(meta.description.as_deref(), Some("long-lived"));
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(
        describe(&client, &disabled).await.key_state,
        Some(KeyState::Disabled)
    );
    let tags = client
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .expect("ListResourceTags");
    let tags: Vec<(&str, &str)> = tags
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(tags, [("keep", "me")]);
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(180));
    let listed = client
        .list_key_rotations()
        .key_id(&key)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(
        listed.rotations().len(),
        1,
        "rotation history lost: {listed:?}"
    );

    let out = client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .encryption_context("app", "durability")
        .send()
        .await
        .expect("Decrypt after restart");
    assert_eq!(
        out.plaintext().map(|p| p.as_ref()),
        Some(&b"survives restarts"[..])
    );
    assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
    let out = client
        .decrypt()
        .ciphertext_blob(before_rotation)
        .send()
        .await
        .expect("Decrypt pre-rotation ciphertext after restart");
    assert_eq!(
        out.plaintext().map(|p| p.as_ref()),
        Some(&b"old material"[..])
    );
    encrypt(&client, &key, b"still writable").await;
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let mut trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    client
        .create_alias()
        .alias_name("alias/crash")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let ciphertext = encrypt(&client, &key, b"crash-safe").await;
    let last = create_key(&client).await.key_id;
    trent.kill();

    trent.run();
    let client = trent.client();
    assert_eq!(describe(&client, "alias/crash").await.key_id, key);
    let out = client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt after SIGKILL");
    assert_eq!(
        out.plaintext().map(|p| p.as_ref()),
        Some(&b"crash-safe"[..])
    );
    encrypt(&client, &last, b"the key created last is usable").await;
}

#[tokio::test]
async fn passphrase_seal_opens_only_with_its_passphrase() {
    let mut trent = Trent::start_with(Options {
        seal: Seal::Passphrase("correct horse battery staple".to_owned()),
        ..Options::default()
    });
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let ciphertext = encrypt(&client, &key, b"sealed").await;

    trent.restart();
    let out = trent
        .client()
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .expect("Decrypt after restart with the same passphrase");
    assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(&b"sealed"[..]));

    let status = trent.stop();
    assert!(status.success(), "SIGTERM exit status {status}");
    trent.set_seal(Seal::Passphrase("wrong horse battery staple".to_owned()));
    match trent.try_run() {
        Err(failure) => {
            let status = failure.status.expect("exited");
            assert!(!status.success(), "wrong passphrase exited successfully");
            assert!(
                failure.log.to_lowercase().contains("passphrase"),
                "refusal does not mention the passphrase:\n{}",
                failure.log
            );
        }
        Ok(()) => {
            // Started but must stay sealed: nothing decrypts, nothing encrypts.
            let client = trent.client();
            let decrypted = client.decrypt().ciphertext_blob(ciphertext).send().await;
            assert!(decrypted.is_err(), "decrypted with the wrong passphrase");
            let encrypted = client
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new("x"))
                .send()
                .await;
            assert!(encrypted.is_err(), "encrypted with the wrong passphrase");
        }
    }
}
