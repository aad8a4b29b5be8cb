//! HMAC keys: GenerateMac and VerifyMac for HMAC_224/256/384/512, the
//! algorithm lists, and AWS's errors for the wrong pairings. The HMAC
//! primitive itself is checked against RFC 4231 known answers in
//! trent-crypto; Trent has no ImportKeyMaterial yet, so no off-box HMAC of
//! the same key is possible here.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, MacAlgorithmSpec, SigningAlgorithmSpec};

use crate::asymmetric::{create, expect_err_msg};
use crate::harness::{Blob, Trent, expect_err, key_arn};

#[tokio::test]
async fn hmac_keys_generate_and_verify_macs() {
    let trent = Trent::start();
    let client = trent.client();
    let specs = [
        (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64),
    ];
    for (spec, algorithm, len) in specs {
        let key = create(&client, spec.clone(), KeyUsageType::GenerateVerifyMac).await;
        let id = key.key_id.clone();
        assert_eq!(key.mac_algorithms(), std::slice::from_ref(&algorithm));
        assert!(key.encryption_algorithms.is_none() && key.signing_algorithms.is_none());
        assert!(key.current_key_material_id.is_none());

        let generate = |message: &'static [u8]| {
            let client = client.clone();
            let id = id.clone();
            let algorithm = algorithm.clone();
            async move {
                client
                    .generate_mac()
                    .key_id(id)
                    .mac_algorithm(algorithm)
                    .message(Blob::new(message))
                    .send()
                    .await
            }
        };
        let out = generate(b"message").await.expect("GenerateMac");
        assert_eq!(out.mac_algorithm(), Some(&algorithm));
        assert_eq!(out.key_id(), Some(key_arn(&id).as_str()));
        let mac = out.mac.unwrap().into_inner();
        assert_eq!(mac.len(), len, "{spec:?}");
        // HMAC is deterministic; another message gives another MAC.
        assert_eq!(
            generate(b"message")
                .await
                .unwrap()
                .mac
                .unwrap()
                .into_inner(),
            mac
        );
        assert_ne!(
            generate(b"massage")
                .await
                .unwrap()
                .mac
                .unwrap()
                .into_inner(),
            mac
        );

        let verify = |message: &'static [u8], mac: Vec<u8>| {
            let client = client.clone();
            let id = id.clone();
            let algorithm = algorithm.clone();
            async move {
                client
                    .verify_mac()
                    .key_id(id)
                    .mac_algorithm(algorithm)
                    .message(Blob::new(message))
                    .mac(Blob::new(mac))
                    .send()
                    .await
            }
        };
        let out = verify(b"message", mac.clone()).await.expect("VerifyMac");
        assert!(out.mac_valid);
        assert_eq!(out.mac_algorithm(), Some(&algorithm));
        expect_err(
            verify(b"massage", mac.clone()).await,
            "KMSInvalidMacException",
        );
        let mut bad = mac.clone();
        bad[0] ^= 1;
        expect_err(verify(b"message", bad).await, "KMSInvalidMacException");
        expect_err(
            verify(b"message", mac[..len - 1].to_vec()).await,
            "KMSInvalidMacException",
        );
    }

    // Wrong pairings, as AWS answers them.
    let key = create(&client, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let wrong = client
        .generate_mac()
        .key_id(&key.key_id)
        .mac_algorithm(MacAlgorithmSpec::HmacSha512)
        .message(Blob::new(b"m"))
        .send()
        .await;
    expect_err_msg(
        wrong,
        "InvalidKeyUsageException",
        "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256.",
    );
    let unknown = client
        .generate_mac()
        .key_id(&key.key_id)
        .mac_algorithm(MacAlgorithmSpec::from("INVALID"))
        .message(Blob::new(b"m"))
        .send()
        .await;
    expect_err_msg(unknown, "ValidationException", "at 'macAlgorithm'");
    let too_long = client
        .generate_mac()
        .key_id(&key.key_id)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(vec![0u8; 4097]))
        .send()
        .await;
    expect_err(too_long, "ValidationException");
    expect_err(
        client
            .encrypt()
            .key_id(&key.key_id)
            .plaintext(Blob::new(b"x"))
            .send()
            .await,
        "InvalidKeyUsageException",
    );
    let sign = client
        .sign()
        .key_id(&key.key_id)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .message(Blob::new(b"m"))
        .send()
        .await;
    expect_err_msg(
        sign,
        "InvalidKeyUsageException",
        "key usage is GENERATE_VERIFY_MAC which is not valid for Sign.",
    );
    let symmetric = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let mac_on_symmetric = client
        .generate_mac()
        .key_id(&symmetric)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"m"))
        .send()
        .await;
    expect_err_msg(
        mac_on_symmetric,
        "InvalidKeyUsageException",
        "key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.",
    );
    let dry = client
        .generate_mac()
        .key_id(&key.key_id)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"m"))
        .dry_run(true)
        .send()
        .await;
    expect_err(dry, "DryRunOperationException");
    client
        .disable_key()
        .key_id(&key.key_id)
        .send()
        .await
        .unwrap();
    let disabled = client
        .generate_mac()
        .key_id(&key.key_id)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(b"m"))
        .send()
        .await;
    expect_err(disabled, "DisabledException");
}

#[tokio::test]
async fn rotation_status_of_keys_that_cannot_rotate_reads_disabled() {
    let trent = Trent::start();
    let client = trent.client();
    for (spec, usage) in [
        (KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac),
        (KeySpec::EccNistP256, KeyUsageType::SignVerify),
        (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt),
    ] {
        let key = create(&client, spec.clone(), usage).await;
        let status = client
            .get_key_rotation_status()
            .key_id(&key.key_id)
            .send()
            .await
            .unwrap();
        assert!(!status.key_rotation_enabled(), "{spec:?}");
        assert!(
            status.rotation_period_in_days().is_none() && status.next_rotation_date().is_none()
        );
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
}
