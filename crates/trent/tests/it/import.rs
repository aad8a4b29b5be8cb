//! Importing key material (BYOK): GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial, re-import of the same material only, expiry
//! by the scheduler on the test clock, and every error path. The caller side
//! of the wrapping (RSA-OAEP, RFC 5649) is done here with aws-lc-rs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, ImportType, KeySpec, KeyState, KeyUsageType,
    MacAlgorithmSpec, MessageType, OriginType, SigningAlgorithmSpec, WrappingKeySpec,
};

use crate::harness::{Blob, Trent, err_code, expect_err};

const HOUR: i64 = 3600;

async fn create_external(client: &Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let meta = client
        .create_key()
        .origin(OriginType::External)
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .expect("CreateKey EXTERNAL")
        .key_metadata
        .expect("metadata");
    assert_eq!(meta.key_state(), Some(&KeyState::PendingImport));
    assert_eq!(meta.origin(), Some(&OriginType::External));
    meta.key_id
}

/// The public key and token of a fresh GetParametersForImport.
async fn parameters(
    client: &Client,
    key: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> (Vec<u8>, Blob) {
    let out = client
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(algorithm)
        .wrapping_key_spec(spec)
        .send()
        .await
        .expect("GetParametersForImport");
    assert!(out.parameters_valid_to().is_some());
    (
        out.public_key.expect("public key").into_inner(),
        out.import_token.expect("token"),
    )
}

/// What a caller does with openssl: RSA-OAEP of the material, or RSA-OAEP of
/// a fresh AES-256 key followed by RFC 5649 of the material.
fn wrap(public_key: &[u8], algorithm: &AlgorithmSpec, material: &[u8]) -> Blob {
    let public = PublicEncryptingKey::from_der(public_key).expect("SPKI");
    let oaep = OaepPublicEncryptingKey::new(public).expect("OAEP key");
    let sha256 = matches!(
        algorithm,
        AlgorithmSpec::RsaesOaepSha256 | AlgorithmSpec::RsaAesKeyWrapSha256
    );
    let hash = if sha256 {
        &OAEP_SHA256_MGF1SHA256
    } else {
        &OAEP_SHA1_MGF1SHA1
    };
    let kwp = matches!(
        algorithm,
        AlgorithmSpec::RsaAesKeyWrapSha1 | AlgorithmSpec::RsaAesKeyWrapSha256
    );
    let mut rsa_out = vec![0u8; oaep.ciphertext_size()];
    if !kwp {
        let ct = oaep
            .encrypt(hash, material, &mut rsa_out, None)
            .expect("OAEP");
        return Blob::new(ct.to_vec());
    }
    let mut aes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut aes).expect("rng");
    let mut out = oaep
        .encrypt(hash, &aes, &mut rsa_out, None)
        .expect("OAEP")
        .to_vec();
    let kek = AesKek::new(&AES_256, &aes).expect("KEK");
    let mut wrapped = vec![0u8; material.len() + 16];
    out.extend_from_slice(kek.wrap_with_padding(material, &mut wrapped).expect("KWP"));
    Blob::new(out)
}

async fn import(
    client: &Client,
    key: &str,
    material: &[u8],
    valid_to: Option<i64>,
) -> Result<
    aws_sdk_kms::operation::import_key_material::ImportKeyMaterialOutput,
    aws_sdk_kms::error::SdkError<
        aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError,
    >,
> {
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    let (public, token) =
        parameters(client, key, algorithm.clone(), WrappingKeySpec::Rsa2048).await;
    let request = client
        .import_key_material()
        .key_id(key)
        .import_token(token)
        .encrypted_key_material(wrap(&public, &algorithm, material));
    let request = match valid_to {
        Some(t) => request
            .expiration_model(ExpirationModelType::KeyMaterialExpires)
            .valid_to(DateTime::from_secs(t)),
        None => request.expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire),
    };
    request.send().await
}

async fn state(client: &Client, key: &str) -> KeyState {
    client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .expect("DescribeKey")
        .key_metadata
        .expect("metadata")
        .key_state
        .expect("state")
}

async fn encrypt(client: &Client, key: &str, plaintext: &[u8]) -> Blob {
    client
        .encrypt()
        .key_id(key)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .expect("ciphertext")
}

#[tokio::test]
async fn symmetric_import_delete_and_reimport_same_material_only() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_external(
        &client,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;
    expect_err(
        client
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(*b"x"))
            .send()
            .await,
        "KMSInvalidStateException",
    );

    let material = [0x5au8; 32];
    let out = import(&client, &key, &material, None)
        .await
        .expect("ImportKeyMaterial");
    let material_id = out.key_material_id().expect("KeyMaterialId").to_owned();
    let meta = client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(
        meta.expiration_model(),
        Some(&ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(meta.current_key_material_id(), Some(material_id.as_str()));
    let ciphertext = encrypt(&client, &key, b"before deletion").await;

    let deleted = client
        .delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .expect("DeleteImportedKeyMaterial");
    assert_eq!(deleted.key_material_id(), Some(material_id.as_str()));
    assert_eq!(state(&client, &key).await, KeyState::PendingImport);
    expect_err(
        client
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .send()
            .await,
        "KMSInvalidStateException",
    );

    expect_err(
        import(&client, &key, &[0x5bu8; 32], None).await,
        "IncorrectKeyMaterialException",
    );
    assert_eq!(state(&client, &key).await, KeyState::PendingImport);
    import(&client, &key, &material, None)
        .await
        .expect("re-import");
    let plain = client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt after re-import")
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"before deletion");
}

#[tokio::test]
async fn import_errors() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_external(
        &client,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;
    let other = create_external(
        &client,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;
    let alg = AlgorithmSpec::RsaesOaepSha256;
    let material = [7u8; 32];

    // Parameters: AWS's refusals.
    let gpfi = |key: &str, alg: AlgorithmSpec, spec: WrappingKeySpec| {
        client
            .get_parameters_for_import()
            .key_id(key)
            .wrapping_algorithm(alg)
            .wrapping_key_spec(spec)
            .send()
    };
    expect_err(
        gpfi(&key, AlgorithmSpec::RsaesPkcs1V15, WrappingKeySpec::Rsa2048).await,
        "ValidationException",
    );
    expect_err(
        gpfi(&key, AlgorithmSpec::Sm2Pke, WrappingKeySpec::Rsa2048).await,
        "UnsupportedOperationException",
    );
    let native = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    expect_err(
        gpfi(&native, alg.clone(), WrappingKeySpec::Rsa2048).await,
        "UnsupportedOperationException",
    );
    let rsa = create_external(&client, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    expect_err(
        gpfi(
            &rsa,
            AlgorithmSpec::RsaesOaepSha256,
            WrappingKeySpec::Rsa4096,
        )
        .await,
        "ValidationException",
    );
    expect_err(
        client
            .create_key()
            .origin(OriginType::External)
            .key_spec(KeySpec::MlDsa44)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await,
        "UnsupportedOperationException",
    );

    let (public, token) = parameters(&client, &key, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let send = |key: &str, token: Blob, encrypted: Blob| {
        client
            .import_key_material()
            .key_id(key)
            .import_token(token)
            .encrypted_key_material(encrypted)
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
    };
    // Another key's token.
    expect_err(
        send(&other, token.clone(), wrap(&public, &alg, &material)).await,
        "InvalidImportTokenException",
    );
    // A tampered token.
    let mut forged = token.clone().into_inner();
    forged[5] ^= 1;
    expect_err(
        send(&key, Blob::new(forged), wrap(&public, &alg, &material)).await,
        "InvalidImportTokenException",
    );
    expect_err(
        send(
            &key,
            Blob::new(vec![1u8; 10]),
            wrap(&public, &alg, &material),
        )
        .await,
        "InvalidImportTokenException",
    );
    // A tampered ciphertext, and the wrong OAEP hash.
    let mut tampered = wrap(&public, &alg, &material).into_inner();
    tampered[0] ^= 1;
    expect_err(
        send(&key, token.clone(), Blob::new(tampered)).await,
        "InvalidCiphertextException",
    );
    expect_err(
        send(
            &key,
            token.clone(),
            wrap(&public, &AlgorithmSpec::RsaesOaepSha1, &material),
        )
        .await,
        "InvalidCiphertextException",
    );
    // Wrong size.
    expect_err(
        send(&key, token.clone(), wrap(&public, &alg, &[7u8; 16])).await,
        "ValidationException",
    );
    // Expiration model without ValidTo; ValidTo in the past; ValidTo with DOES_NOT_EXPIRE.
    let base = client
        .import_key_material()
        .key_id(&key)
        .import_token(token.clone())
        .encrypted_key_material(wrap(&public, &alg, &material));
    expect_err(
        base.clone()
            .expiration_model(ExpirationModelType::KeyMaterialExpires)
            .send()
            .await,
        "ValidationException",
    );
    expect_err(
        base.clone()
            .valid_to(DateTime::from_secs(1_000_000))
            .send()
            .await,
        "ValidationException",
    );
    expect_err(
        base.clone()
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .valid_to(DateTime::from_secs(4_000_000_000))
            .send()
            .await,
        "ValidationException",
    );
    // Rotation to new imported material is refused with AWS's error.
    expect_err(
        base.clone()
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .import_type(ImportType::NewKeyMaterial)
            .send()
            .await,
        "UnsupportedOperationException",
    );
    // Once used, a token is spent.
    send(&key, token.clone(), wrap(&public, &alg, &material))
        .await
        .expect("ImportKeyMaterial");
    expect_err(
        send(&key, token, wrap(&public, &alg, &material)).await,
        "InvalidImportTokenException",
    );
    expect_err(
        client.rotate_key_on_demand().key_id(&key).send().await,
        "UnsupportedOperationException",
    );

    // A token past its 24 hours.
    let (public, token) = parameters(&client, &other, alg.clone(), WrappingKeySpec::Rsa3072).await;
    trent.advance_clock(25 * HOUR);
    expect_err(
        send(&other, token, wrap(&public, &alg, &material)).await,
        "ExpiredImportTokenException",
    );
    // A key pending deletion takes no material.
    client
        .schedule_key_deletion()
        .key_id(&other)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    expect_err(
        gpfi(&other, alg.clone(), WrappingKeySpec::Rsa2048).await,
        "KMSInvalidStateException",
    );
    // Cancelling the deletion of a key without material leaves it pending import.
    client
        .cancel_key_deletion()
        .key_id(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(state(&client, &other).await, KeyState::PendingImport);
}

#[tokio::test]
async fn material_expires_on_the_scheduler_and_comes_back() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_external(
        &client,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;
    let now = trent.advance_clock(0);
    let material = [0x33u8; 32];
    import(&client, &key, &material, Some(now + 2 * HOUR))
        .await
        .expect("ImportKeyMaterial with ValidTo");
    let meta = client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.expiration_model(),
        Some(&ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(meta.valid_to().map(|t| t.secs()), Some(now + 2 * HOUR));
    let ciphertext = encrypt(&client, &key, b"expiring").await;

    trent.advance_clock(HOUR);
    assert_eq!(state(&client, &key).await, KeyState::Enabled);
    trent.advance_clock(2 * HOUR);
    assert_eq!(state(&client, &key).await, KeyState::PendingImport);
    let meta = client
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert!(meta.valid_to().is_none());
    let records = crate::audit::export(&trent);
    let expiry = records
        .iter()
        .find(|r| {
            r["eventType"] == "AwsServiceEvent"
                && r["eventName"] == "DeleteExpiredKeyMaterial"
                && r["resources"][0]["ARN"] == crate::harness::key_arn(&key).as_str()
        })
        .unwrap_or_else(|| panic!("no DeleteExpiredKeyMaterial record: {records:?}"));
    assert_eq!(expiry["userIdentity"]["invokedBy"], "kms.amazonaws.com");

    expect_err(
        import(&client, &key, &[0x34u8; 32], None).await,
        "IncorrectKeyMaterialException",
    );
    import(&client, &key, &material, None)
        .await
        .expect("re-import");
    let plain = client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt after re-import")
        .plaintext
        .unwrap();
    assert_eq!(plain.as_ref(), b"expiring");
}

#[tokio::test]
async fn hmac_and_ecc_material() {
    let trent = Trent::start();
    let client = trent.client();

    // HMAC: the spec's length range, and the MAC matches one made here.
    let key = create_external(&client, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    expect_err(
        import(&client, &key, &[1u8; 31], None).await,
        "ValidationException",
    );
    let material = [0x21u8; 48];
    import(&client, &key, &material, None)
        .await
        .expect("HMAC import");
    let mac = client
        .generate_mac()
        .key_id(&key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(Blob::new(*b"message"))
        .send()
        .await
        .expect("GenerateMac")
        .mac
        .unwrap();
    let expected = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &material),
        b"message",
    );
    assert_eq!(mac.as_ref(), expected.as_ref());

    // ECC P-256 through RSA_AES_KEY_WRAP; a P-384 key is refused.
    let key = create_external(&client, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let p384 = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING).unwrap();
    let alg = AlgorithmSpec::RsaAesKeyWrapSha256;
    let (public, token) = parameters(&client, &key, alg.clone(), WrappingKeySpec::Rsa3072).await;
    let pkcs8 = p384.to_pkcs8v1().unwrap();
    expect_err(
        client
            .import_key_material()
            .key_id(&key)
            .import_token(token.clone())
            .encrypted_key_material(wrap(&public, &alg, pkcs8.as_ref()))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await,
        "ValidationException",
    );
    let p256 = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let pkcs8 = p256.to_pkcs8v1().unwrap();
    client
        .import_key_material()
        .key_id(&key)
        .import_token(token)
        .encrypted_key_material(wrap(&public, &alg, pkcs8.as_ref()))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .expect("ECC import");
    let public_key = client
        .get_public_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap();
    assert_eq!(
        public_key.as_ref(),
        p256.public_key().as_der().unwrap().as_ref(),
        "Trent derives the imported key's public key"
    );
    let sig = client
        .sign()
        .key_id(&key)
        .message(Blob::new(*b"signed"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .expect("Sign")
        .signature
        .unwrap();
    signature::UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        p256.public_key().as_ref(),
    )
    .verify(b"signed", sig.as_ref())
    .expect("signature verifies with the original public key");
    // After deletion, another key pair is other material.
    client
        .delete_imported_key_material()
        .key_id(&key)
        .send()
        .await
        .expect("DeleteImportedKeyMaterial");
    let (public, token) = parameters(&client, &key, alg.clone(), WrappingKeySpec::Rsa2048).await;
    let other = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let code = err_code(
        client
            .import_key_material()
            .key_id(&key)
            .import_token(token)
            .encrypted_key_material(wrap(&public, &alg, other.to_pkcs8v1().unwrap().as_ref()))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
            .await,
    );
    assert_eq!(code, "IncorrectKeyMaterialException");
}
