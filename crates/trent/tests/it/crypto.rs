//! Cryptographic operations: Encrypt/Decrypt, encryption context,
//! ReEncrypt, GenerateDataKey(WithoutPlaintext) and GenerateRandom.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{DataKeySpec, EncryptionAlgorithmSpec};

use crate::harness::{Blob, Trent, ctx, err_code, expect_err, key_arn};
use crate::keys::{create_key, encrypt};

async fn decrypt(client: &Client, ciphertext: Blob) -> Vec<u8> {
    client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt")
        .plaintext
        .expect("Plaintext")
        .into_inner()
}

#[tokio::test]
async fn encrypt_decrypt_round_trip() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let plaintext = b"attack at dawn";
    let out = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .expect("Encrypt");
    assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
    assert_eq!(
        out.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let ciphertext = out.ciphertext_blob.expect("CiphertextBlob");
    assert!(
        ciphertext
            .as_ref()
            .windows(plaintext.len())
            .all(|w| w != plaintext),
        "ciphertext contains the plaintext"
    );

    let out = client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
    assert_eq!(
        out.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(&plaintext[..]));

    // Encryption is randomized: the same plaintext never repeats a ciphertext.
    let again = encrypt(&client, &key, plaintext).await;
    assert_ne!(again.as_ref(), ciphertext.as_ref());
}

#[tokio::test]
async fn encrypt_under_unknown_key_is_not_found() {
    let trent = Trent::start();
    let out = trent
        .client()
        .encrypt()
        .key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .plaintext(Blob::new("x"))
        .send()
        .await;
    expect_err(out, "NotFoundException");
}

#[tokio::test]
async fn decrypt_checks_an_explicit_key_id() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let other = create_key(&client).await.key_id;
    client
        .create_alias()
        .alias_name("alias/right")
        .target_key_id(&key)
        .send()
        .await
        .expect("CreateAlias");
    let ciphertext = encrypt(&client, &key, b"pinned").await;

    for key_id in [key.clone(), key_arn(&key), "alias/right".to_owned()] {
        let out = client
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .key_id(&key_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Decrypt with KeyId {key_id}: {e:?}"));
        assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(&b"pinned"[..]));
        assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
    }
    for key_id in [other.clone(), key_arn(&other)] {
        let out = client
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .key_id(&key_id)
            .send()
            .await;
        expect_err(out, "IncorrectKeyException");
    }
}

#[tokio::test]
async fn encryption_context_must_match_exactly() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let context = ctx(&[("purpose", "test"), ("tenant", "acme")]);
    let ciphertext = client
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("bound"))
        .set_encryption_context(Some(context.clone()))
        .send()
        .await
        .expect("Encrypt with context")
        .ciphertext_blob
        .expect("CiphertextBlob");

    let out = client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .set_encryption_context(Some(context))
        .send()
        .await
        .expect("Decrypt with the same context");
    assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(&b"bound"[..]));

    let wrong_contexts = [
        None,
        Some(ctx(&[("purpose", "test")])),
        Some(ctx(&[
            ("purpose", "test"),
            ("tenant", "acme"),
            ("extra", "1"),
        ])),
        Some(ctx(&[("purpose", "test"), ("tenant", "other")])),
        Some(ctx(&[("Purpose", "test"), ("tenant", "acme")])),
    ];
    for context in wrong_contexts {
        let out = client
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .set_encryption_context(context.clone())
            .send()
            .await;
        let code = err_code(out);
        assert_eq!(code, "InvalidCiphertextException", "context {context:?}");
    }

    // And the other way round: no context at encryption, one at decryption.
    let plain = encrypt(&client, &key, b"unbound").await;
    let out = client
        .decrypt()
        .ciphertext_blob(plain)
        .encryption_context("purpose", "test")
        .send()
        .await;
    expect_err(out, "InvalidCiphertextException");
}

#[tokio::test]
async fn plaintext_size_limits() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;

    let largest = vec![0xA5u8; 4096];
    let ciphertext = encrypt(&client, &key, &largest).await;
    assert_eq!(decrypt(&client, ciphertext).await, largest);

    for size in [4097, 0] {
        let out = client
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(vec![1u8; size]))
            .send()
            .await;
        let code = err_code(out);
        assert_eq!(code, "ValidationException", "Encrypt of {size} bytes");
    }
}

#[tokio::test]
async fn tampered_ciphertext_is_invalid() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let ciphertext = encrypt(&client, &key, b"integrity matters")
        .await
        .into_inner();
    let len = ciphertext.len();

    // Every corruption gets the same answer: which check failed is not told.
    let mut wrong = Vec::new();
    for position in [0, 1, len / 2, len - 17, len - 1] {
        let mut tampered = ciphertext.clone();
        tampered[position] ^= 0x01;
        let out = client
            .decrypt()
            .ciphertext_blob(Blob::new(tampered))
            .send()
            .await;
        let code = err_code(out);
        if code != "InvalidCiphertextException" {
            wrong.push(format!("byte {position} of {len}: {code}"));
        }
    }
    assert!(wrong.is_empty(), "tampered ciphertexts answered {wrong:?}");
    let truncated = Blob::new(&ciphertext[..len - 1]);
    expect_err(
        client.decrypt().ciphertext_blob(truncated).send().await,
        "InvalidCiphertextException",
    );
    let garbage = Blob::new(vec![0x42u8; 128]);
    expect_err(
        client.decrypt().ciphertext_blob(garbage).send().await,
        "InvalidCiphertextException",
    );
}

#[tokio::test]
async fn re_encrypt_moves_ciphertext_to_another_key_and_context() {
    let trent = Trent::start();
    let client = trent.client();
    let source = create_key(&client).await.key_id;
    let destination = create_key(&client).await.key_id;
    let ciphertext = client
        .encrypt()
        .key_id(&source)
        .plaintext(Blob::new("moving house"))
        .encryption_context("stage", "one")
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("CiphertextBlob");

    let out = client
        .re_encrypt()
        .ciphertext_blob(ciphertext.clone())
        .source_encryption_context("stage", "one")
        .destination_key_id(&destination)
        .destination_encryption_context("stage", "two")
        .send()
        .await
        .expect("ReEncrypt");
    assert_eq!(out.source_key_id(), Some(key_arn(&source).as_str()));
    assert_eq!(out.key_id(), Some(key_arn(&destination).as_str()));
    let moved = out.ciphertext_blob.expect("CiphertextBlob");

    let out = client
        .decrypt()
        .ciphertext_blob(moved.clone())
        .encryption_context("stage", "two")
        .send()
        .await
        .expect("Decrypt re-encrypted");
    assert_eq!(out.key_id(), Some(key_arn(&destination).as_str()));
    assert_eq!(
        out.plaintext().map(|p| p.as_ref()),
        Some(&b"moving house"[..])
    );

    let old_context = client
        .decrypt()
        .ciphertext_blob(moved.clone())
        .encryption_context("stage", "one")
        .send()
        .await;
    expect_err(old_context, "InvalidCiphertextException");
    let pinned_to_source = client
        .decrypt()
        .ciphertext_blob(moved)
        .key_id(&source)
        .encryption_context("stage", "two")
        .send()
        .await;
    expect_err(pinned_to_source, "IncorrectKeyException");

    let wrong_source_context = client
        .re_encrypt()
        .ciphertext_blob(ciphertext)
        .destination_key_id(&destination)
        .send()
        .await;
    expect_err(wrong_source_context, "InvalidCiphertextException");
}

#[tokio::test]
async fn generate_data_key_sizes() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;

    let cases = [
        (Some(DataKeySpec::Aes256), None, 32),
        (Some(DataKeySpec::Aes128), None, 16),
        (None, Some(1), 1),
        (None, Some(1024), 1024),
    ];
    for (spec, bytes, expected_len) in cases {
        let out = client
            .generate_data_key()
            .key_id(&key)
            .set_key_spec(spec.clone())
            .set_number_of_bytes(bytes)
            .encryption_context("use", "data-key")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKey {spec:?}/{bytes:?}: {e:?}"));
        assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
        let plaintext = out.plaintext().expect("Plaintext").as_ref().to_vec();
        assert_eq!(plaintext.len(), expected_len, "{spec:?}/{bytes:?}");
        let blob = out.ciphertext_blob.expect("CiphertextBlob");
        let decrypted = client
            .decrypt()
            .ciphertext_blob(blob)
            .encryption_context("use", "data-key")
            .send()
            .await
            .expect("Decrypt data key")
            .plaintext
            .expect("Plaintext");
        assert_eq!(
            decrypted.as_ref(),
            plaintext.as_slice(),
            "{spec:?}/{bytes:?}"
        );
    }

    let invalid = [
        (
            Some(DataKeySpec::Aes256),
            Some(32),
            "both KeySpec and NumberOfBytes",
        ),
        (None, None, "neither KeySpec nor NumberOfBytes"),
        (None, Some(1025), "NumberOfBytes 1025"),
        (None, Some(0), "NumberOfBytes 0"),
    ];
    for (spec, bytes, what) in invalid {
        let out = client
            .generate_data_key()
            .key_id(&key)
            .set_key_spec(spec)
            .set_number_of_bytes(bytes)
            .send()
            .await;
        assert_eq!(err_code(out), "ValidationException", "{what}");
    }
}

#[tokio::test]
async fn generate_data_key_without_plaintext() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let out = client
        .generate_data_key_without_plaintext()
        .key_id(&key)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .expect("GenerateDataKeyWithoutPlaintext");
    assert_eq!(out.key_id(), Some(key_arn(&key).as_str()));
    let blob = out.ciphertext_blob.expect("CiphertextBlob");
    assert_eq!(decrypt(&client, blob).await.len(), 32);

    let out = client
        .generate_data_key_without_plaintext()
        .key_id(&key)
        .send()
        .await;
    expect_err(out, "ValidationException");
}

#[tokio::test]
async fn generate_random_lengths_and_uniqueness() {
    let trent = Trent::start();
    let client = trent.client();
    for n in [1, 32, 1024] {
        let out = client
            .generate_random()
            .number_of_bytes(n)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateRandom {n}: {e:?}"));
        let len = out.plaintext().expect("Plaintext").as_ref().len();
        assert_eq!(i32::try_from(len).ok(), Some(n));
    }
    for n in [0, 1025] {
        let out = client.generate_random().number_of_bytes(n).send().await;
        assert_eq!(err_code(out), "ValidationException", "GenerateRandom {n}");
    }
    let mut draws = Vec::new();
    for _ in 0..2 {
        let out = client
            .generate_random()
            .number_of_bytes(32)
            .send()
            .await
            .expect("GenerateRandom");
        draws.push(out.plaintext.expect("Plaintext").into_inner());
    }
    assert_ne!(draws[0], draws[1], "two random draws are equal");
    assert_ne!(draws[0], vec![0u8; 32], "random bytes are all zero");
}
