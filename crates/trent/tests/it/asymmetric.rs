//! Asymmetric keys: RSA (signing and RSAES-OAEP), ECDSA on the NIST curves
//! and secp256k1, Ed25519/Ed25519ph, ECDH key agreement, GetPublicKey,
//! GenerateDataKeyPair(WithoutPlaintext), and AWS's error for every wrong
//! pairing. Signatures and ciphertexts are also checked off-box with the
//! public key from GetPublicKey (aws-lc-rs here; `tests/interop` repeats the
//! checks with OpenSSL through Python's `cryptography`).

use aws_lc_rs::agreement;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{
    DataKeyPairSpec, EncryptionAlgorithmSpec, KeyAgreementAlgorithmSpec, KeyMetadata, KeySpec,
    KeyUsageType, MessageType, SigningAlgorithmSpec,
};

use crate::harness::{Blob, Trent, ctx, err_code, expect_err, key_arn};

// ---------------------------------------------------------------- helpers --

pub(crate) async fn create(client: &Client, spec: KeySpec, usage: KeyUsageType) -> KeyMetadata {
    client
        .create_key()
        .key_spec(spec.clone())
        .key_usage(usage.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateKey {spec:?} {usage:?}: {e:?}"))
        .key_metadata
        .expect("KeyMetadata")
}

pub(crate) async fn public_key(client: &Client, key_id: &str) -> Vec<u8> {
    client
        .get_public_key()
        .key_id(key_id)
        .send()
        .await
        .expect("GetPublicKey")
        .public_key
        .expect("PublicKey")
        .into_inner()
}

pub(crate) async fn sign(
    client: &Client,
    key_id: &str,
    algorithm: SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
) -> Vec<u8> {
    let out = client
        .sign()
        .key_id(key_id)
        .signing_algorithm(algorithm.clone())
        .message_type(message_type.clone())
        .message(Blob::new(message))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Sign {algorithm:?} {message_type:?}: {e:?}"));
    assert_eq!(out.signing_algorithm(), Some(&algorithm));
    assert_eq!(out.key_id(), Some(key_arn(key_id).as_str()));
    out.signature.expect("Signature").into_inner()
}

/// Verify through the API: `Ok(())` if valid, else the AWS error code.
pub(crate) async fn verify(
    client: &Client,
    key_id: &str,
    algorithm: SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let result = client
        .verify()
        .key_id(key_id)
        .signing_algorithm(algorithm)
        .message_type(message_type)
        .message(Blob::new(message))
        .signature(Blob::new(signature))
        .send()
        .await;
    match result {
        Ok(out) => {
            assert!(
                out.signature_valid,
                "Verify answered 200 with SignatureValid false"
            );
            Ok(())
        }
        Err(e) => Err(e.code().unwrap_or("no code").to_owned()),
    }
}

/// Asserts a call failed with `code` and a message containing `needle`.
#[track_caller]
pub(crate) fn expect_err_msg<
    T: std::fmt::Debug,
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
>(
    result: Result<T, aws_sdk_kms::error::SdkError<E, R>>,
    code: &str,
    needle: &str,
) {
    let err = result.expect_err("expected an AWS error");
    assert_eq!(err.code(), Some(code), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
}

pub(crate) fn sha(algorithm: &'static digest::Algorithm, message: &[u8]) -> Vec<u8> {
    digest::digest(algorithm, message).as_ref().to_vec()
}

fn names<T: AsRef<str>>(list: Option<&[T]>) -> Vec<String> {
    list.unwrap_or_default()
        .iter()
        .map(|a| a.as_ref().to_owned())
        .collect()
}

/// The off-box verifier, digest and wire algorithm of every RSA scheme.
fn rsa_schemes() -> Vec<(
    SigningAlgorithmSpec,
    &'static dyn VerificationAlgorithm,
    &'static digest::Algorithm,
)> {
    vec![
        (
            SigningAlgorithmSpec::RsassaPssSha256,
            &signature::RSA_PSS_2048_8192_SHA256,
            &digest::SHA256,
        ),
        (
            SigningAlgorithmSpec::RsassaPssSha384,
            &signature::RSA_PSS_2048_8192_SHA384,
            &digest::SHA384,
        ),
        (
            SigningAlgorithmSpec::RsassaPssSha512,
            &signature::RSA_PSS_2048_8192_SHA512,
            &digest::SHA512,
        ),
        (
            SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &digest::SHA256,
        ),
        (
            SigningAlgorithmSpec::RsassaPkcs1V15Sha384,
            &signature::RSA_PKCS1_2048_8192_SHA384,
            &digest::SHA384,
        ),
        (
            SigningAlgorithmSpec::RsassaPkcs1V15Sha512,
            &signature::RSA_PKCS1_2048_8192_SHA512,
            &digest::SHA512,
        ),
    ]
}

const MESSAGE: &[u8] = b"Trent signs this, and someone else checks it.";

// ------------------------------------------------------------------ tests --

#[tokio::test]
async fn rsa_signing_keys_sign_and_verify_with_every_algorithm() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create(&client, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let id = key.key_id.clone();
    assert_eq!(
        names(key.signing_algorithms.as_deref()),
        [
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512"
        ]
    );
    assert!(key.encryption_algorithms.is_none() && key.mac_algorithms.is_none());
    assert!(
        key.current_key_material_id.is_none(),
        "AWS shows no material id for asymmetric keys"
    );

    let out = client
        .get_public_key()
        .key_id(&id)
        .send()
        .await
        .expect("GetPublicKey");
    assert_eq!(out.key_spec(), Some(&KeySpec::Rsa2048));
    assert_eq!(out.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(out.signing_algorithms().len(), 6);
    assert!(out.encryption_algorithms.is_none());
    let spki = out.public_key.expect("PublicKey").into_inner();
    assert_eq!(
        spki.len(),
        294,
        "DER SubjectPublicKeyInfo of a 2048-bit key"
    );

    for (algorithm, verifier, hash) in rsa_schemes() {
        let raw = sign(&client, &id, algorithm.clone(), MessageType::Raw, MESSAGE).await;
        assert_eq!(raw.len(), 256);
        UnparsedPublicKey::new(verifier, &spki)
            .verify(MESSAGE, &raw)
            .expect("off-box verify");
        let digest = sha(hash, MESSAGE);
        let by_digest = sign(
            &client,
            &id,
            algorithm.clone(),
            MessageType::Digest,
            &digest,
        )
        .await;
        UnparsedPublicKey::new(verifier, &spki)
            .verify(MESSAGE, &by_digest)
            .expect("digest signature");
        // Verify takes either message type for either signature.
        verify(
            &client,
            &id,
            algorithm.clone(),
            MessageType::Raw,
            MESSAGE,
            &by_digest,
        )
        .await
        .unwrap();
        verify(
            &client,
            &id,
            algorithm.clone(),
            MessageType::Digest,
            &digest,
            &raw,
        )
        .await
        .unwrap();
        let mut bad = raw.clone();
        bad[7] ^= 1;
        assert_eq!(
            verify(
                &client,
                &id,
                algorithm.clone(),
                MessageType::Raw,
                MESSAGE,
                &bad
            )
            .await,
            Err("KMSInvalidSignatureException".into())
        );
        // Hashing the digest again does not verify.
        assert_eq!(
            verify(
                &client,
                &id,
                algorithm.clone(),
                MessageType::Raw,
                &digest,
                &by_digest
            )
            .await,
            Err("KMSInvalidSignatureException".into())
        );
        let short = client
            .sign()
            .key_id(&id)
            .signing_algorithm(algorithm.clone())
            .message_type(MessageType::Digest)
            .message(Blob::new(&digest[1..]))
            .send()
            .await;
        expect_err_msg(
            short,
            "ValidationException",
            "Digest is invalid length for algorithm",
        );
    }

    // Wrong pairings.
    let ecdsa = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err_msg(
        ecdsa,
        "InvalidKeyUsageException",
        "Algorithm ECDSA_SHA_256 is incompatible with key spec RSA_2048",
    );
    let mu = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .message_type(MessageType::ExternalMu)
        .message(Blob::new([0u8; 64]))
        .send()
        .await;
    expect_err(mu, "ValidationException");
    let too_long = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .message(Blob::new(vec![0u8; 4097]))
        .send()
        .await;
    expect_err(too_long, "ValidationException");
    let max = sign(
        &client,
        &id,
        SigningAlgorithmSpec::RsassaPssSha256,
        MessageType::Raw,
        &[7u8; 4096],
    )
    .await;
    assert_eq!(max.len(), 256);
    let unknown = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::from("RSASSA_PSS_SHA_1"))
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err(unknown, "ValidationException");
    expect_err(
        client
            .encrypt()
            .key_id(&id)
            .plaintext(Blob::new(b"x"))
            .send()
            .await,
        "InvalidKeyUsageException",
    );
    let encrypt_rsa = client
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x"))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await;
    expect_err_msg(
        encrypt_rsa,
        "InvalidKeyUsageException",
        "key usage is SIGN_VERIFY which is not valid for Encrypt",
    );

    // A disabled key neither signs nor verifies.
    client
        .disable_key()
        .key_id(&id)
        .send()
        .await
        .expect("DisableKey");
    let disabled = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err(disabled, "DisabledException");

    // The larger RSA sizes sign too.
    for (spec, len) in [(KeySpec::Rsa3072, 384), (KeySpec::Rsa4096, 512)] {
        let key = create(&client, spec.clone(), KeyUsageType::SignVerify).await;
        let spki = public_key(&client, &key.key_id).await;
        let sig = sign(
            &client,
            &key.key_id,
            SigningAlgorithmSpec::RsassaPssSha512,
            MessageType::Raw,
            MESSAGE,
        )
        .await;
        assert_eq!(sig.len(), len, "{spec:?}");
        UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA512, &spki)
            .verify(MESSAGE, &sig)
            .unwrap();
    }
}

#[tokio::test]
async fn rsa_encryption_keys_encrypt_decrypt_and_reencrypt() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create(&client, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let id = key.key_id.clone();
    assert_eq!(
        names(key.encryption_algorithms.as_deref()),
        ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    );
    assert!(key.signing_algorithms.is_none());
    let spki = public_key(&client, &id).await;
    let public =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&spki).unwrap()).unwrap();

    for (algorithm, oaep) in [
        (EncryptionAlgorithmSpec::RsaesOaepSha1, &OAEP_SHA1_MGF1SHA1),
        (
            EncryptionAlgorithmSpec::RsaesOaepSha256,
            &OAEP_SHA256_MGF1SHA256,
        ),
    ] {
        let out = client
            .encrypt()
            .key_id(&id)
            .encryption_algorithm(algorithm.clone())
            .plaintext(Blob::new(b"attack at dawn"))
            .send()
            .await
            .expect("Encrypt");
        assert_eq!(out.encryption_algorithm(), Some(&algorithm));
        let ciphertext = out.ciphertext_blob.expect("CiphertextBlob").into_inner();
        assert_eq!(ciphertext.len(), 256, "raw RSA output, as AWS returns it");
        let out = client
            .decrypt()
            .key_id(&id)
            .encryption_algorithm(algorithm.clone())
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await
            .expect("Decrypt");
        assert_eq!(
            out.plaintext().map(|p| p.as_ref()),
            Some(&b"attack at dawn"[..])
        );
        assert_eq!(out.key_id(), Some(key_arn(&id).as_str()));
        assert_eq!(out.encryption_algorithm(), Some(&algorithm));

        // Encrypted off-box with the public key, decrypted in Trent.
        let mut off_box = vec![0u8; public.ciphertext_size()];
        let off_box = public
            .encrypt(oaep, b"sealed elsewhere", &mut off_box, None)
            .unwrap()
            .to_vec();
        let out = client
            .decrypt()
            .key_id(&id)
            .encryption_algorithm(algorithm.clone())
            .ciphertext_blob(Blob::new(off_box))
            .send()
            .await
            .expect("Decrypt off-box ciphertext");
        assert_eq!(
            out.plaintext.expect("Plaintext").as_ref(),
            b"sealed elsewhere"
        );

        // AWS's plaintext limits: k - 2·hLen - 2.
        let max = if algorithm == EncryptionAlgorithmSpec::RsaesOaepSha1 {
            214
        } else {
            190
        };
        client
            .encrypt()
            .key_id(&id)
            .encryption_algorithm(algorithm.clone())
            .plaintext(Blob::new(vec![1u8; max]))
            .send()
            .await
            .expect("largest plaintext");
        let over = client
            .encrypt()
            .key_id(&id)
            .encryption_algorithm(algorithm.clone())
            .plaintext(Blob::new(vec![1u8; max + 1]))
            .send()
            .await;
        expect_err_msg(
            over,
            "ValidationException",
            &format!("cannot encrypt data larger than {max} bytes"),
        );

        // The other OAEP hash, no KeyId, or the default algorithm: no plaintext.
        let other = if algorithm == EncryptionAlgorithmSpec::RsaesOaepSha1 {
            EncryptionAlgorithmSpec::RsaesOaepSha256
        } else {
            EncryptionAlgorithmSpec::RsaesOaepSha1
        };
        let wrong = client
            .decrypt()
            .key_id(&id)
            .encryption_algorithm(other)
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await;
        expect_err(wrong, "InvalidCiphertextException");
        let no_key = client
            .decrypt()
            .encryption_algorithm(algorithm.clone())
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await;
        expect_err(no_key, "InvalidCiphertextException");
        let default_algorithm = client
            .decrypt()
            .key_id(&id)
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await;
        expect_err(default_algorithm, "InvalidCiphertextException");
    }

    // AWS's errors for the wrong pairings.
    let default = client
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x"))
        .send()
        .await;
    expect_err_msg(
        default,
        "InvalidKeyUsageException",
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048",
    );
    let with_context = client
        .encrypt()
        .key_id(&id)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .set_encryption_context(Some(ctx(&[("purpose", "test")])))
        .plaintext(Blob::new(b"x"))
        .send()
        .await;
    expect_err_msg(
        with_context,
        "ValidationException",
        "EncryptionContext is not supported",
    );
    expect_err(
        client
            .generate_data_key()
            .key_id(&id)
            .number_of_bytes(32)
            .send()
            .await,
        "InvalidKeyUsageException",
    );
    let sign = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err_msg(
        sign,
        "InvalidKeyUsageException",
        "key usage is ENCRYPT_DECRYPT which is not valid for Sign",
    );

    // ReEncrypt across the two formats, both ways.
    let symmetric = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let blob = client
        .encrypt()
        .key_id(&symmetric)
        .plaintext(Blob::new(b"moving house"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let out = client
        .re_encrypt()
        .ciphertext_blob(blob)
        .destination_key_id(&id)
        .destination_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .expect("ReEncrypt symmetric → RSA");
    assert_eq!(
        out.source_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        out.destination_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::RsaesOaepSha256)
    );
    assert!(out.destination_key_material_id.is_none());
    let rsa_blob = out.ciphertext_blob.unwrap();
    assert_eq!(rsa_blob.as_ref().len(), 256);
    let out = client
        .re_encrypt()
        .ciphertext_blob(rsa_blob.clone())
        .source_key_id(&id)
        .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .destination_key_id(&symmetric)
        .send()
        .await
        .expect("ReEncrypt RSA → symmetric");
    let back = client
        .decrypt()
        .ciphertext_blob(out.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext.unwrap().as_ref(), b"moving house");
    let context_to_rsa = client
        .re_encrypt()
        .ciphertext_blob(rsa_blob)
        .source_key_id(&id)
        .source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .destination_key_id(&id)
        .destination_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .set_destination_encryption_context(Some(ctx(&[("a", "b")])))
        .send()
        .await;
    expect_err(context_to_rsa, "ValidationException");
    // A symmetric key refuses the RSA algorithms.
    let rsa_on_symmetric = client
        .encrypt()
        .key_id(&symmetric)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .plaintext(Blob::new(b"x"))
        .send()
        .await;
    expect_err_msg(
        rsa_on_symmetric,
        "InvalidKeyUsageException",
        "key spec SYMMETRIC_DEFAULT",
    );
}

#[tokio::test]
async fn ecdsa_keys_sign_der_signatures_on_every_curve() {
    let trent = Trent::start();
    let client = trent.client();
    let curves: [(
        KeySpec,
        SigningAlgorithmSpec,
        &'static dyn VerificationAlgorithm,
        &'static digest::Algorithm,
        usize,
    ); 4] = [
        (
            KeySpec::EccNistP256,
            SigningAlgorithmSpec::EcdsaSha256,
            &signature::ECDSA_P256_SHA256_ASN1,
            &digest::SHA256,
            91,
        ),
        (
            KeySpec::EccNistP384,
            SigningAlgorithmSpec::EcdsaSha384,
            &signature::ECDSA_P384_SHA384_ASN1,
            &digest::SHA384,
            120,
        ),
        (
            KeySpec::EccNistP521,
            SigningAlgorithmSpec::EcdsaSha512,
            &signature::ECDSA_P521_SHA512_ASN1,
            &digest::SHA512,
            158,
        ),
        (
            KeySpec::EccSecgP256K1,
            SigningAlgorithmSpec::EcdsaSha256,
            &signature::ECDSA_P256K1_SHA256_ASN1,
            &digest::SHA256,
            88,
        ),
    ];
    for (spec, algorithm, verifier, hash, spki_len) in curves {
        let key = create(&client, spec.clone(), KeyUsageType::SignVerify).await;
        let id = key.key_id.clone();
        assert_eq!(
            names(key.signing_algorithms.as_deref()),
            [algorithm.as_str()],
            "{spec:?}"
        );
        let spki = public_key(&client, &id).await;
        assert_eq!(spki.len(), spki_len, "{spec:?}");
        let raw = sign(&client, &id, algorithm.clone(), MessageType::Raw, MESSAGE).await;
        assert_eq!(raw[0], 0x30, "DER SEQUENCE");
        UnparsedPublicKey::new(verifier, &spki)
            .verify(MESSAGE, &raw)
            .expect("off-box verify");
        let digest = sha(hash, MESSAGE);
        let by_digest = sign(
            &client,
            &id,
            algorithm.clone(),
            MessageType::Digest,
            &digest,
        )
        .await;
        UnparsedPublicKey::new(verifier, &spki)
            .verify(MESSAGE, &by_digest)
            .expect("digest signature");
        verify(
            &client,
            &id,
            algorithm.clone(),
            MessageType::Digest,
            &digest,
            &raw,
        )
        .await
        .unwrap();
        verify(
            &client,
            &id,
            algorithm.clone(),
            MessageType::Raw,
            MESSAGE,
            &by_digest,
        )
        .await
        .unwrap();
        assert_eq!(
            verify(
                &client,
                &id,
                algorithm.clone(),
                MessageType::Raw,
                b"changed",
                &raw
            )
            .await,
            Err("KMSInvalidSignatureException".into())
        );
        let short = client
            .verify()
            .key_id(&id)
            .signing_algorithm(algorithm.clone())
            .message_type(MessageType::Digest)
            .message(Blob::new(&digest[..20]))
            .signature(Blob::new(raw.clone()))
            .send()
            .await;
        expect_err_msg(short, "ValidationException", "Digest is invalid length");
        // AWS pairs each curve with one hash.
        let other = if algorithm == SigningAlgorithmSpec::EcdsaSha384 {
            SigningAlgorithmSpec::EcdsaSha512
        } else {
            SigningAlgorithmSpec::EcdsaSha384
        };
        let wrong = client
            .sign()
            .key_id(&id)
            .signing_algorithm(other)
            .message(Blob::new(MESSAGE))
            .send()
            .await;
        expect_err(wrong, "InvalidKeyUsageException");
        let derive = client
            .derive_shared_secret()
            .key_id(&id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(spki.clone()))
            .send()
            .await;
        expect_err_msg(
            derive,
            "InvalidKeyUsageException",
            "which is not valid for DeriveSharedSecret",
        );
    }
}

#[tokio::test]
async fn ed25519_keys_sign_pure_and_prehashed() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create(
        &client,
        KeySpec::EccNistEdwards25519,
        KeyUsageType::SignVerify,
    )
    .await;
    let id = key.key_id.clone();
    assert_eq!(
        names(key.signing_algorithms.as_deref()),
        ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    );
    let spki = public_key(&client, &id).await;
    assert_eq!(spki.len(), 44);
    let pure = sign(
        &client,
        &id,
        SigningAlgorithmSpec::Ed25519Sha512,
        MessageType::Raw,
        MESSAGE,
    )
    .await;
    assert_eq!(pure.len(), 64);
    UnparsedPublicKey::new(&signature::ED25519, &spki)
        .verify(MESSAGE, &pure)
        .expect("off-box Ed25519");
    verify(
        &client,
        &id,
        SigningAlgorithmSpec::Ed25519Sha512,
        MessageType::Raw,
        MESSAGE,
        &pure,
    )
    .await
    .unwrap();

    let digest = sha(&digest::SHA512, MESSAGE);
    let ph = sign(
        &client,
        &id,
        SigningAlgorithmSpec::Ed25519PhSha512,
        MessageType::Digest,
        &digest,
    )
    .await;
    assert_eq!(ph.len(), 64);
    assert_ne!(ph, pure);
    verify(
        &client,
        &id,
        SigningAlgorithmSpec::Ed25519PhSha512,
        MessageType::Digest,
        &digest,
        &ph,
    )
    .await
    .unwrap();
    // Ed25519ph is not pure Ed25519 of the digest.
    assert!(
        UnparsedPublicKey::new(&signature::ED25519, &spki)
            .verify(&digest, &ph)
            .is_err()
    );
    assert_eq!(
        verify(
            &client,
            &id,
            SigningAlgorithmSpec::Ed25519PhSha512,
            MessageType::Digest,
            &sha(&digest::SHA512, b"x"),
            &ph
        )
        .await,
        Err("KMSInvalidSignatureException".into())
    );

    // Each algorithm takes exactly one message type.
    let pure_digest = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::Ed25519Sha512)
        .message_type(MessageType::Digest)
        .message(Blob::new(digest.clone()))
        .send()
        .await;
    expect_err_msg(
        pure_digest,
        "ValidationException",
        "Message type DIGEST is incompatible with algorithm ED25519_SHA_512",
    );
    let ph_raw = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::Ed25519PhSha512)
        .message_type(MessageType::Raw)
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err_msg(
        ph_raw,
        "ValidationException",
        "Message type RAW is incompatible with algorithm ED25519_PH_SHA_512",
    );
    let ph_short = client
        .verify()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::Ed25519PhSha512)
        .message_type(MessageType::Digest)
        .message(Blob::new(&digest[..32]))
        .signature(Blob::new(ph))
        .send()
        .await;
    expect_err_msg(
        ph_short,
        "ValidationException",
        "Digest is invalid length for algorithm ED25519_PH_SHA_512",
    );
    let ecdsa = client
        .sign()
        .key_id(&id)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha512)
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err_msg(
        ecdsa,
        "InvalidKeyUsageException",
        "Algorithm ECDSA_SHA_512 is incompatible with key spec ECC_NIST_EDWARDS25519",
    );
}

#[tokio::test]
async fn ecdh_key_agreement_matches_the_off_box_computation() {
    let trent = Trent::start();
    let client = trent.client();
    for (spec, algorithm) in [
        (KeySpec::EccNistP256, &agreement::ECDH_P256),
        (KeySpec::EccNistP384, &agreement::ECDH_P384),
        (KeySpec::EccNistP521, &agreement::ECDH_P521),
    ] {
        let alice = create(&client, spec.clone(), KeyUsageType::KeyAgreement).await;
        assert_eq!(names(alice.key_agreement_algorithms.as_deref()), ["ECDH"]);
        assert!(alice.signing_algorithms.is_none());
        let out = client
            .get_public_key()
            .key_id(&alice.key_id)
            .send()
            .await
            .unwrap();
        assert_eq!(out.key_agreement_algorithms().len(), 1);
        let alice_spki = out.public_key.unwrap().into_inner();

        // Bob off-box: an ephemeral key pair made here.
        let bob = agreement::PrivateKey::generate(algorithm).unwrap();
        let bob_spki = bob
            .compute_public_key()
            .unwrap()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec();
        let out = client
            .derive_shared_secret()
            .key_id(&alice.key_id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(bob_spki))
            .send()
            .await
            .expect("DeriveSharedSecret");
        assert_eq!(
            out.key_agreement_algorithm(),
            Some(&KeyAgreementAlgorithmSpec::Ecdh)
        );
        assert_eq!(out.key_origin().map(|o| o.as_str()), Some("AWS_KMS"));
        assert_eq!(out.key_id(), Some(alice.key_id.as_str()));
        let in_trent = out.shared_secret.unwrap().into_inner();
        let off_box = agreement::agree(
            &bob,
            agreement::UnparsedPublicKey::new(algorithm, &alice_spki),
            (),
            |secret| Ok(secret.to_vec()),
        )
        .unwrap();
        assert_eq!(in_trent, off_box, "{spec:?}");

        // Two Trent keys agree with each other.
        let carol = create(&client, spec.clone(), KeyUsageType::KeyAgreement).await;
        let carol_spki = public_key(&client, &carol.key_id).await;
        let derive = |key: String, peer: Vec<u8>| {
            let client = client.clone();
            async move {
                client
                    .derive_shared_secret()
                    .key_id(key)
                    .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                    .public_key(Blob::new(peer))
                    .send()
                    .await
            }
        };
        let ac = derive(alice.key_id.clone(), carol_spki.clone())
            .await
            .unwrap()
            .shared_secret
            .unwrap();
        let ca = derive(carol.key_id.clone(), alice_spki.clone())
            .await
            .unwrap()
            .shared_secret
            .unwrap();
        assert_eq!(ac, ca);

        // A key on another curve, a bare point, or garbage: ValidationException.
        let other = if spec == KeySpec::EccNistP256 {
            &agreement::ECDH_P384
        } else {
            &agreement::ECDH_P256
        };
        let other_spki = agreement::PrivateKey::generate(other)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec();
        expect_err(
            derive(alice.key_id.clone(), other_spki).await,
            "ValidationException",
        );
        let point = agreement::PrivateKey::generate(algorithm)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_ref()
            .to_vec();
        expect_err(
            derive(alice.key_id.clone(), point).await,
            "ValidationException",
        );
        expect_err(
            derive(alice.key_id.clone(), b"not a key".to_vec()).await,
            "ValidationException",
        );
    }

    let key = create(&client, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let bad_algorithm = client
        .derive_shared_secret()
        .key_id(&key.key_id)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::from("INVALID"))
        .public_key(Blob::new(public_key(&client, &key.key_id).await))
        .send()
        .await;
    expect_err_msg(
        bad_algorithm,
        "ValidationException",
        "Member must satisfy enum value set: [ECDH]",
    );
    let sign = client
        .sign()
        .key_id(&key.key_id)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .message(Blob::new(MESSAGE))
        .send()
        .await;
    expect_err_msg(
        sign,
        "InvalidKeyUsageException",
        "key usage is KEY_AGREEMENT which is not valid for Sign",
    );
    let symmetric = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let derive = client
        .derive_shared_secret()
        .key_id(&symmetric)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(Blob::new(public_key(&client, &key.key_id).await))
        .send()
        .await;
    expect_err_msg(
        derive,
        "InvalidKeyUsageException",
        "key usage is ENCRYPT_DECRYPT which is not valid for DeriveSharedSecret",
    );
}

#[tokio::test]
async fn data_key_pairs_for_every_spec() {
    let trent = Trent::start();
    let client = trent.client();
    let wrapping = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let specs = [
        DataKeyPairSpec::Rsa2048,
        DataKeyPairSpec::Rsa3072,
        DataKeyPairSpec::Rsa4096,
        DataKeyPairSpec::EccNistP256,
        DataKeyPairSpec::EccNistP384,
        DataKeyPairSpec::EccNistP521,
        DataKeyPairSpec::EccSecgP256K1,
        DataKeyPairSpec::EccNistEdwards25519,
        DataKeyPairSpec::MlKem512,
        DataKeyPairSpec::MlKem768,
        DataKeyPairSpec::MlKem1024,
    ];
    for spec in specs {
        let out = client
            .generate_data_key_pair()
            .key_id(&wrapping)
            .key_pair_spec(spec.clone())
            .set_encryption_context(Some(ctx(&[("pair", spec.as_str())])))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKeyPair {spec:?}: {e:?}"));
        assert_eq!(out.key_pair_spec(), Some(&spec));
        assert_eq!(out.key_id(), Some(key_arn(&wrapping).as_str()));
        assert!(out.key_material_id().is_some());
        let private = out
            .private_key_plaintext
            .expect("PrivateKeyPlaintext")
            .into_inner();
        let public = out.public_key.expect("PublicKey").into_inner();
        assert_eq!(private[0], 0x30, "DER PKCS#8");
        assert_eq!(public[0], 0x30, "DER SubjectPublicKeyInfo");
        // The encrypted private key is an ordinary symmetric ciphertext.
        let opened = client
            .decrypt()
            .ciphertext_blob(
                out.private_key_ciphertext_blob
                    .expect("PrivateKeyCiphertextBlob"),
            )
            .set_encryption_context(Some(ctx(&[("pair", spec.as_str())])))
            .send()
            .await
            .expect("Decrypt the private key");
        assert_eq!(opened.plaintext.unwrap().into_inner(), private, "{spec:?}");
        check_pair(&spec, &private, &public);

        let out = client
            .generate_data_key_pair_without_plaintext()
            .key_id(&wrapping)
            .key_pair_spec(spec.clone())
            .send()
            .await
            .expect("GenerateDataKeyPairWithoutPlaintext");
        assert!(out.public_key.is_some());
        let opened = client
            .decrypt()
            .ciphertext_blob(out.private_key_ciphertext_blob.unwrap())
            .send()
            .await
            .unwrap();
        check_pair(
            &spec,
            opened.plaintext.unwrap().as_ref(),
            out.public_key.unwrap().as_ref(),
        );
    }

    expect_err_msg(
        client
            .generate_data_key_pair()
            .key_id(&wrapping)
            .key_pair_spec(DataKeyPairSpec::Sm2)
            .send()
            .await,
        "UnsupportedOperationException",
        "SM2",
    );
    expect_err(
        client
            .generate_data_key_pair()
            .key_id(&wrapping)
            .key_pair_spec(DataKeyPairSpec::from("RSA_1024"))
            .send()
            .await,
        "ValidationException",
    );
    expect_err(
        client
            .generate_data_key_pair()
            .key_id(&wrapping)
            .send()
            .await,
        "ValidationException",
    );
    expect_err(
        client
            .generate_data_key_pair()
            .key_id(&wrapping)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
    );
    // Only a symmetric encryption key may wrap the private key.
    let rsa = create(&client, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    expect_err(
        client
            .generate_data_key_pair()
            .key_id(&rsa.key_id)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await,
        "InvalidKeyUsageException",
    );
    let hmac = create(&client, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    expect_err(
        client
            .generate_data_key_pair_without_plaintext()
            .key_id(&hmac.key_id)
            .key_pair_spec(DataKeyPairSpec::EccNistP256)
            .send()
            .await,
        "InvalidKeyUsageException",
    );
}

/// The private key is a usable PKCS#8 of the pair whose public key came back.
fn check_pair(spec: &DataKeyPairSpec, private: &[u8], public: &[u8]) {
    use aws_lc_rs::signature::KeyPair;
    match spec {
        DataKeyPairSpec::Rsa2048 | DataKeyPairSpec::Rsa3072 | DataKeyPairSpec::Rsa4096 => {
            let pair = signature::RsaKeyPair::from_pkcs8(private).unwrap();
            assert_eq!(pair.public_key().as_der().unwrap().as_ref(), public);
        }
        DataKeyPairSpec::EccNistEdwards25519 => {
            let pair = signature::Ed25519KeyPair::from_pkcs8(private).unwrap();
            assert_eq!(pair.public_key().as_der().unwrap().as_ref(), public);
        }
        DataKeyPairSpec::MlKem512 | DataKeyPairSpec::MlKem768 | DataKeyPairSpec::MlKem1024 => {
            // Seed form (RFC 9935): the same size for every parameter set.
            assert_eq!(private.len(), 86);
            let expected = match spec {
                DataKeyPairSpec::MlKem512 => 822,
                DataKeyPairSpec::MlKem768 => 1206,
                _ => 1590,
            };
            assert_eq!(public.len(), expected);
        }
        ecc => {
            let algorithm = match ecc {
                DataKeyPairSpec::EccNistP256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                DataKeyPairSpec::EccNistP384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                DataKeyPairSpec::EccNistP521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                _ => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
            };
            let pair = signature::EcdsaKeyPair::from_pkcs8(algorithm, private).unwrap();
            assert_eq!(pair.public_key().as_der().unwrap().as_ref(), public);
        }
    }
}

#[tokio::test]
#[allow(deprecated)] // CustomerMasterKeySpec is deprecated, and still accepted.
async fn create_key_get_public_key_and_rotation_rules() {
    let trent = Trent::start();
    let client = trent.client();

    // KeyUsage is required for everything but SYMMETRIC_DEFAULT, and must
    // suit the spec.
    let no_usage = client.create_key().key_spec(KeySpec::Rsa2048).send().await;
    expect_err_msg(
        no_usage,
        "ValidationException",
        "You must specify a KeyUsage value",
    );
    for (spec, usage) in [
        (KeySpec::Rsa2048, KeyUsageType::KeyAgreement),
        (KeySpec::EccSecgP256K1, KeyUsageType::KeyAgreement),
        (KeySpec::EccNistEdwards25519, KeyUsageType::EncryptDecrypt),
        (KeySpec::Hmac256, KeyUsageType::SignVerify),
        (KeySpec::MlDsa44, KeyUsageType::EncapsulateDecapsulate),
        (KeySpec::MlKem768, KeyUsageType::SignVerify),
        (KeySpec::SymmetricDefault, KeyUsageType::SignVerify),
    ] {
        let result = client
            .create_key()
            .key_spec(spec.clone())
            .key_usage(usage.clone())
            .send()
            .await;
        expect_err_msg(
            result,
            "ValidationException",
            "is not compatible with KeySpec",
        );
    }
    let sm2 = client
        .create_key()
        .key_spec(KeySpec::Sm2)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await;
    expect_err_msg(
        sm2,
        "UnsupportedOperationException",
        "KeySpec SM2 is not supported in this Region",
    );
    // The deprecated CustomerMasterKeySpec works too.
    let legacy = client
        .create_key()
        .customer_master_key_spec(aws_sdk_kms::types::CustomerMasterKeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(legacy.key_spec(), Some(&KeySpec::EccNistP256));

    // Rotation is refused for asymmetric and HMAC keys, with AWS's error.
    let rsa = create(&client, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let hmac = create(&client, KeySpec::Hmac384, KeyUsageType::GenerateVerifyMac).await;
    let kem = create(
        &client,
        KeySpec::MlKem512,
        KeyUsageType::EncapsulateDecapsulate,
    )
    .await;
    for key in [&rsa, &hmac, &kem, &legacy] {
        expect_err(
            client
                .enable_key_rotation()
                .key_id(&key.key_id)
                .send()
                .await,
            "UnsupportedOperationException",
        );
        expect_err(
            client
                .rotate_key_on_demand()
                .key_id(&key.key_id)
                .send()
                .await,
            "UnsupportedOperationException",
        );
    }

    // GetPublicKey: only asymmetric keys; disabled keys answer; keys pending
    // deletion do not.
    let symmetric = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    expect_err(
        client.get_public_key().key_id(&symmetric).send().await,
        "UnsupportedOperationException",
    );
    expect_err(
        client.get_public_key().key_id(&hmac.key_id).send().await,
        "UnsupportedOperationException",
    );
    client
        .disable_key()
        .key_id(&rsa.key_id)
        .send()
        .await
        .unwrap();
    assert!(!public_key(&client, &rsa.key_id).await.is_empty());
    client
        .schedule_key_deletion()
        .key_id(&rsa.key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    expect_err(
        client.get_public_key().key_id(&rsa.key_id).send().await,
        "KMSInvalidStateException",
    );
    assert_eq!(
        err_code(client.get_public_key().key_id("alias/none").send().await),
        "NotFoundException"
    );

    // DescribeKey lists exactly the algorithms of the key's usage.
    let meta = crate::keys::describe(&client, &legacy.key_id).await;
    assert_eq!(names(meta.signing_algorithms.as_deref()), ["ECDSA_SHA_256"]);
    assert!(meta.key_agreement_algorithms.is_none() && meta.encryption_algorithms.is_none());
    let agreement = create(&client, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let meta = crate::keys::describe(&client, &agreement.key_id).await;
    assert_eq!(names(meta.key_agreement_algorithms.as_deref()), ["ECDH"]);
    assert!(meta.signing_algorithms.is_none());
    let meta = crate::keys::describe(&client, &hmac.key_id).await;
    assert_eq!(names(meta.mac_algorithms.as_deref()), ["HMAC_SHA_384"]);
}
