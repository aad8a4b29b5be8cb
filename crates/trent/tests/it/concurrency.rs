//! Concurrent clients: parallel writes all land, and a race for one alias
//! name has exactly one winner.

use std::collections::HashSet;

use aws_sdk_kms::error::ProvideErrorMetadata;
use tokio::task::JoinSet;

use crate::harness::{Blob, Trent};
use crate::keys::create_key;

const PARALLEL: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_and_encrypts_all_succeed() {
    let trent = Trent::start();
    let client = trent.client();
    let mut tasks = JoinSet::new();
    for i in 0..PARALLEL {
        let client = client.clone();
        tasks.spawn(async move {
            let key = create_key(&client).await.key_id;
            let plaintext = format!("message {i}");
            let ciphertext = client
                .encrypt()
                .key_id(&key)
                .plaintext(Blob::new(plaintext.as_bytes()))
                .send()
                .await
                .map_err(|e| format!("Encrypt {i}: {e:?}"))?
                .ciphertext_blob
                .ok_or("no CiphertextBlob")?;
            let decrypted = client
                .decrypt()
                .ciphertext_blob(ciphertext)
                .send()
                .await
                .map_err(|e| format!("Decrypt {i}: {e:?}"))?
                .plaintext
                .ok_or("no Plaintext")?;
            if decrypted.as_ref() != plaintext.as_bytes() {
                return Err(format!("round trip {i} returned other bytes"));
            }
            Ok::<String, String>(key)
        });
    }
    let mut keys = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let key = joined.expect("task").unwrap_or_else(|e| panic!("{e}"));
        assert!(keys.insert(key.clone()), "key id {key} handed out twice");
    }
    let listed = client.list_keys().send().await.expect("ListKeys");
    assert_eq!(
        listed.keys().len(),
        PARALLEL,
        "ListKeys after parallel creates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_create_alias_has_exactly_one_winner() {
    let trent = Trent::start();
    let client = trent.client();
    let mut keys = Vec::new();
    for _ in 0..8 {
        keys.push(create_key(&client).await.key_id);
    }
    let mut tasks = JoinSet::new();
    for key in keys.clone() {
        let client = client.clone();
        tasks.spawn(async move {
            let result = client
                .create_alias()
                .alias_name("alias/contested")
                .target_key_id(&key)
                .send()
                .await;
            match result {
                Ok(_) => (key, None),
                Err(e) => (key, Some(format!("{:?}", e.code()))),
            }
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (key, error) = joined.expect("task");
        match error {
            None => winners.push(key),
            Some(code) => assert_eq!(code, "Some(\"AlreadyExistsException\")", "loser for {key}"),
        }
    }
    assert_eq!(winners.len(), 1, "CreateAlias winners: {winners:?}");
    let target = client
        .describe_key()
        .key_id("alias/contested")
        .send()
        .await
        .expect("DescribeKey alias")
        .key_metadata
        .expect("KeyMetadata")
        .key_id;
    assert_eq!(target, winners[0], "alias points at a loser");
}
