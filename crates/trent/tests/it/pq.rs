//! Post-quantum keys: ML-DSA-44/65/87 signatures with MessageType RAW and
//! EXTERNAL_MU, and ML-KEM-512/768/1024 Encapsulate/Decapsulate. Results are
//! checked off-box with aws-lc-rs from the GetPublicKey DER (and, in
//! `tests/interop`, with OpenSSL through Python's `cryptography`).

use aws_lc_rs::kem;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use aws_sdk_kms::types::{
    EncapsulationAlgorithmSpec, EncryptionAlgorithmSpec, KeySpec, KeyUsageType, MessageType,
    SigningAlgorithmSpec,
};

use crate::asymmetric::{create, expect_err_msg, public_key, sign, verify};
use crate::harness::{Blob, Trent, expect_err, key_arn};

const MESSAGE: &[u8] = b"a message for the post-quantum era";

#[tokio::test]
async fn ml_dsa_keys_sign_raw_and_external_mu() {
    let trent = Trent::start();
    let client = trent.client();
    let specs: [(KeySpec, &'static dyn VerificationAlgorithm, usize, usize); 3] = [
        (KeySpec::MlDsa44, &signature::ML_DSA_44, 1334, 2420),
        (KeySpec::MlDsa65, &signature::ML_DSA_65, 1974, 3309),
        (KeySpec::MlDsa87, &signature::ML_DSA_87, 2614, 4627),
    ];
    let alg = SigningAlgorithmSpec::MlDsaShake256;
    for (spec, verifier, spki_len, sig_len) in specs {
        let key = create(&client, spec.clone(), KeyUsageType::SignVerify).await;
        let id = key.key_id.clone();
        assert_eq!(key.signing_algorithms(), std::slice::from_ref(&alg));
        let spki = public_key(&client, &id).await;
        assert_eq!(spki.len(), spki_len, "{spec:?}");

        let raw = sign(&client, &id, alg.clone(), MessageType::Raw, MESSAGE).await;
        assert_eq!(raw.len(), sig_len);
        UnparsedPublicKey::new(verifier, &spki)
            .verify(MESSAGE, &raw)
            .expect("off-box ML-DSA verify");
        verify(&client, &id, alg.clone(), MessageType::Raw, MESSAGE, &raw)
            .await
            .unwrap();

        // μ computed outside the service (FIPS 204 §6.2): the SPKI header is
        // 22 bytes for all three parameter sets.
        let mu = trent_crypto::ml_dsa_mu(&spki[22..], MESSAGE).unwrap();
        let by_mu = sign(&client, &id, alg.clone(), MessageType::ExternalMu, &mu).await;
        assert_eq!(by_mu.len(), sig_len);
        // A μ signature is an ordinary ML-DSA signature of the message.
        UnparsedPublicKey::new(verifier, &spki)
            .verify(MESSAGE, &by_mu)
            .expect("μ signature verifies as RAW");
        verify(
            &client,
            &id,
            alg.clone(),
            MessageType::ExternalMu,
            &mu,
            &raw,
        )
        .await
        .unwrap();
        verify(&client, &id, alg.clone(), MessageType::Raw, MESSAGE, &by_mu)
            .await
            .unwrap();
        let mut other_mu = mu;
        other_mu[3] ^= 1;
        assert_eq!(
            verify(
                &client,
                &id,
                alg.clone(),
                MessageType::ExternalMu,
                &other_mu,
                &raw
            )
            .await,
            Err("KMSInvalidSignatureException".into())
        );

        let digest = client
            .sign()
            .key_id(&id)
            .signing_algorithm(alg.clone())
            .message_type(MessageType::Digest)
            .message(Blob::new(&mu[..32]))
            .send()
            .await;
        expect_err_msg(
            digest,
            "ValidationException",
            &format!(
                "Message type DIGEST is incompatible with key spec {}",
                spec.as_str()
            ),
        );
        let short_mu = client
            .sign()
            .key_id(&id)
            .signing_algorithm(alg.clone())
            .message_type(MessageType::ExternalMu)
            .message(Blob::new(&mu[..63]))
            .send()
            .await;
        expect_err_msg(
            short_mu,
            "ValidationException",
            "External Mu is invalid length",
        );
        let rsa_alg = client
            .sign()
            .key_id(&id)
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .message(Blob::new(MESSAGE))
            .send()
            .await;
        expect_err(rsa_alg, "InvalidKeyUsageException");
    }
    // RAW messages are limited to 4096 bytes; μ covers larger ones.
    let key = create(&client, KeySpec::MlDsa44, KeyUsageType::SignVerify).await;
    let big = client
        .sign()
        .key_id(&key.key_id)
        .signing_algorithm(alg.clone())
        .message(Blob::new(vec![1u8; 4097]))
        .send()
        .await;
    expect_err(big, "ValidationException");
    let spki = public_key(&client, &key.key_id).await;
    let large = vec![9u8; 100_000];
    let mu = trent_crypto::ml_dsa_mu(&spki[22..], &large).unwrap();
    let sig = sign(&client, &key.key_id, alg, MessageType::ExternalMu, &mu).await;
    UnparsedPublicKey::new(&signature::ML_DSA_44, &spki)
        .verify(&large, &sig)
        .expect("large message via μ");
}

#[tokio::test]
async fn ml_kem_keys_encapsulate_and_decapsulate() {
    let trent = Trent::start();
    let client = trent.client();
    let specs = [
        (KeySpec::MlKem512, &kem::ML_KEM_512, 800, 768),
        (KeySpec::MlKem768, &kem::ML_KEM_768, 1184, 1088),
        (KeySpec::MlKem1024, &kem::ML_KEM_1024, 1568, 1568),
    ];
    for (spec, algorithm, ek_len, ct_len) in specs {
        let key = create(&client, spec.clone(), KeyUsageType::EncapsulateDecapsulate).await;
        let id = key.key_id.clone();
        assert_eq!(
            key.encapsulation_algorithms(),
            [EncapsulationAlgorithmSpec::MlKem]
        );
        assert!(key.encryption_algorithms.is_none());
        let out = client.get_public_key().key_id(&id).send().await.unwrap();
        assert_eq!(
            out.encapsulation_algorithms(),
            [EncapsulationAlgorithmSpec::MlKem]
        );
        let spki = out.public_key.unwrap().into_inner();
        assert_eq!(spki.len(), 22 + ek_len, "{spec:?}");

        let out = client
            .encapsulate()
            .key_id(&id)
            .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
            .send()
            .await
            .expect("Encapsulate");
        assert_eq!(out.key_id(), Some(key_arn(&id).as_str()));
        assert_eq!(
            out.encapsulation_algorithm(),
            Some(&EncapsulationAlgorithmSpec::MlKem)
        );
        let secret = out.shared_secret.unwrap().into_inner();
        let ciphertext = out.shared_secret_ciphertext_blob.unwrap().into_inner();
        assert_eq!((secret.len(), ciphertext.len()), (32, ct_len));
        let decapsulate = |ciphertext: Vec<u8>| {
            let client = client.clone();
            let id = id.clone();
            async move {
                client
                    .decapsulate()
                    .key_id(id)
                    .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
                    .shared_secret_ciphertext_blob(Blob::new(ciphertext))
                    .send()
                    .await
            }
        };
        let back = decapsulate(ciphertext.clone()).await.expect("Decapsulate");
        assert_eq!(back.shared_secret.unwrap().into_inner(), secret);

        // Encapsulated off-box to the public key from GetPublicKey.
        let ek = kem::EncapsulationKey::new(algorithm, &spki[22..]).unwrap();
        let (off_box_ct, off_box_secret) = ek.encapsulate().unwrap();
        let back = decapsulate(off_box_ct.as_ref().to_vec())
            .await
            .expect("Decapsulate off-box ciphertext");
        assert_eq!(
            back.shared_secret.unwrap().as_ref(),
            off_box_secret.as_ref()
        );

        // Implicit rejection: a changed ciphertext gives another secret, no error.
        let mut tampered = ciphertext.clone();
        tampered[5] ^= 1;
        let rejected = decapsulate(tampered).await.expect("implicit rejection");
        assert_ne!(rejected.shared_secret.unwrap().into_inner(), secret);
        // A wrong length is InvalidCiphertextException.
        expect_err(
            decapsulate(ciphertext[1..].to_vec()).await,
            "InvalidCiphertextException",
        );

        expect_err(
            client
                .encrypt()
                .key_id(&id)
                .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
                .plaintext(Blob::new(b"x"))
                .send()
                .await,
            "InvalidKeyUsageException",
        );
    }
    let key = create(
        &client,
        KeySpec::MlKem768,
        KeyUsageType::EncapsulateDecapsulate,
    )
    .await;
    let bad = client
        .encapsulate()
        .key_id(&key.key_id)
        .encapsulation_algorithm(EncapsulationAlgorithmSpec::from("KYBER"))
        .send()
        .await;
    expect_err(bad, "ValidationException");
    expect_err(
        client.encapsulate().key_id(&key.key_id).send().await,
        "ValidationException",
    );
    let rsa = create(&client, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let wrong = client
        .encapsulate()
        .key_id(&rsa.key_id)
        .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
        .send()
        .await;
    expect_err_msg(
        wrong,
        "InvalidKeyUsageException",
        "which is not valid for Encapsulate",
    );
}
