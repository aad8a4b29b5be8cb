//! HSM (issue 6) against SoftHSM2: custom key stores through the AWS SDK,
//! keys generated and used inside the token, and the HSM-sealed root key.
//! Needs the environment of `scripts/ci/softhsm.sh` (`.ci/run` provides
//! it); without it each test says so loudly and passes. Each test makes a
//! token of its own, before its server starts (SoftHSM lists tokens once,
//! at start-up).

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_kms::types::{ConnectionErrorCodeType, ConnectionStateType, KeyState, OriginType};

use crate::harness::{Blob, Options, Seal, TempDir, Trent, err_code, expect_err};

const PIN: &str = "4321-kmsuser";
const DAY: i64 = 86_400;

struct Hsm {
    module: String,
    label: String,
}

/// A fresh token, or `None` (loudly) without SoftHSM.
fn fresh_token(test: &str) -> Option<Hsm> {
    let (Ok(module), Ok(_)) = (
        std::env::var("TRENT_TEST_HSM_MODULE"),
        std::env::var("SOFTHSM2_CONF"),
    ) else {
        eprintln!(
            "SKIPPED {test}: no SoftHSM2 environment (run `eval \"$(scripts/ci/softhsm.sh)\"`)"
        );
        return None;
    };
    let label = format!("{test}-{}", std::process::id());
    let out = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            &label,
            "--so-pin",
            "8765-so",
            "--pin",
            PIN,
        ])
        .output()
        .expect("softhsm2-util");
    assert!(out.status.success(), "{out:?}");
    Some(Hsm { module, label })
}

fn write_config(dir: &Path, hsm: &Hsm, label: &str) -> PathBuf {
    let path = dir.join("trent.toml");
    let text = format!(
        "[[hsm]]\nname = \"hsm-a\"\nmodule = \"{}\"\ntoken_label = \"{label}\"\ntimeout_secs = 10\n\n\
         [[hsm]]\nname = \"hsm-missing\"\nmodule = \"{}\"\ntoken_label = \"no-such-token\"\n",
        hsm.module, hsm.module
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `pkcs11-tool --list-objects` (OpenSC, not ours) on the token.
fn token_objects(hsm: &Hsm) -> String {
    let out = Command::new("pkcs11-tool")
        .args([
            "--module",
            &hsm.module,
            "--token-label",
            &hsm.label,
            "--login",
            "--pin",
            PIN,
        ])
        .args(["--list-objects", "--type", "secrkey"])
        .output()
        .expect("pkcs11-tool");
    assert!(out.status.success(), "pkcs11-tool: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `pkcs11-tool` entry of the object labelled `label`.
fn object_entry(listing: &str, label: &str) -> Option<String> {
    listing
        .split("Secret Key Object")
        .find(|entry| entry.contains(&format!("label:      {label}")))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_key_store_lifecycle() {
    let Some(hsm) = fresh_token("cks") else {
        return;
    };
    let config_dir = TempDir::new();
    let config = write_config(config_dir.path(), &hsm, &hsm.label);
    let mut trent = Trent::start_with(Options {
        extra_args: vec!["--config".into(), config.display().to_string()],
        ..Options::default()
    });
    let mut client = trent.client();

    expect_err(
        client
            .create_custom_key_store()
            .custom_key_store_name("nowhere")
            .cloud_hsm_cluster_id("cluster-1234567890a")
            .trust_anchor_certificate("-----BEGIN CERTIFICATE-----")
            .key_store_password(PIN)
            .send()
            .await,
        "CloudHsmClusterNotFoundException",
    );
    // A wrong PIN: the store is created, connecting fails with AWS's code.
    let store_id = client
        .create_custom_key_store()
        .custom_key_store_name("payments")
        .cloud_hsm_cluster_id("hsm-a")
        .trust_anchor_certificate("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
        .key_store_password("wrong-pin-0000")
        .send()
        .await
        .expect("CreateCustomKeyStore")
        .custom_key_store_id
        .expect("id");
    assert!(store_id.starts_with("cks-"), "{store_id}");
    expect_err(
        client
            .create_custom_key_store()
            .custom_key_store_name("payments")
            .cloud_hsm_cluster_id("hsm-missing")
            .trust_anchor_certificate("x")
            .key_store_password(PIN)
            .send()
            .await,
        "CustomKeyStoreNameInUseException",
    );
    client
        .connect_custom_key_store()
        .custom_key_store_id(&store_id)
        .send()
        .await
        .expect("ConnectCustomKeyStore");
    let described = describe_store(&client, &store_id).await;
    assert_eq!(
        described.connection_state,
        Some(ConnectionStateType::Failed)
    );
    assert_eq!(
        described.connection_error_code,
        Some(ConnectionErrorCodeType::InvalidCredentials)
    );
    assert_eq!(described.cloud_hsm_cluster_id.as_deref(), Some("hsm-a"));
    assert!(described.trust_anchor_certificate.unwrap().contains("MIIB"));

    // Fix the PIN (disconnected first, as AWS requires), connect.
    disconnect(&client, &store_id).await;
    client
        .update_custom_key_store()
        .custom_key_store_id(&store_id)
        .key_store_password(PIN)
        .send()
        .await
        .expect("UpdateCustomKeyStore");
    connect(&client, &store_id).await;
    assert_eq!(
        describe_store(&client, &store_id).await.connection_state,
        Some(ConnectionStateType::Connected)
    );

    // A key in the HSM; its metadata names the store.
    let key = client
        .create_key()
        .origin(OriginType::AwsCloudhsm)
        .custom_key_store_id(&store_id)
        .send()
        .await
        .expect("CreateKey in the custom key store")
        .key_metadata
        .unwrap();
    let key_id = key.key_id.clone();
    assert_eq!(key.origin, Some(OriginType::AwsCloudhsm));
    assert_eq!(key.custom_key_store_id.as_deref(), Some(store_id.as_str()));
    assert_eq!(key.cloud_hsm_cluster_id.as_deref(), Some("hsm-a"));
    let material_id = key.current_key_material_id.clone().expect("material id");
    expect_err(
        client
            .create_key()
            .origin(OriginType::AwsCloudhsm)
            .custom_key_store_id(&store_id)
            .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
            .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
            .send()
            .await,
        "UnsupportedOperationException",
    );

    // The token holds it: sensitive, never extractable (read by OpenSC).
    let label = format!("trent:{material_id}");
    let entry = object_entry(&token_objects(&hsm), &label).expect("key object in the token");
    assert!(entry.contains("sensitive"), "{entry}");
    assert!(entry.contains("never extractable"), "{entry}");

    // Encrypt and decrypt inside the HSM.
    let ciphertext = encrypt(&client, &key_id, b"card 4111").await;
    assert_eq!(decrypt(&client, ciphertext.clone()).await, b"card 4111");
    let data_key = client
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateDataKey");
    assert_eq!(
        decrypt(&client, data_key.ciphertext_blob.unwrap()).await,
        data_key.plaintext.unwrap().into_inner()
    );

    // Disconnected: unusable with AWS's errors and state; reconnect: usable.
    disconnect(&client, &store_id).await;
    assert_eq!(
        describe_store(&client, &store_id).await.connection_state,
        Some(ConnectionStateType::Disconnected)
    );
    let described = client.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(
        described.key_metadata.unwrap().key_state,
        Some(KeyState::Unavailable)
    );
    assert_eq!(
        err_code(
            client
                .decrypt()
                .ciphertext_blob(ciphertext.clone())
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    expect_err(
        client
            .create_key()
            .origin(OriginType::AwsCloudhsm)
            .custom_key_store_id(&store_id)
            .send()
            .await,
        "CustomKeyStoreInvalidStateException",
    );
    // Keys elsewhere keep working.
    let software = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let other = encrypt(&client, &software, b"still served").await;
    assert_eq!(decrypt(&client, other).await, b"still served");
    expect_err(
        client
            .delete_custom_key_store()
            .custom_key_store_id(&store_id)
            .send()
            .await,
        "CustomKeyStoreHasCMKsException",
    );
    connect(&client, &store_id).await;
    assert_eq!(decrypt(&client, ciphertext.clone()).await, b"card 4111");

    // Trent's store and root key alone cannot decrypt: restarted without
    // the token, the key is unusable; with it, the store reconnects itself.
    write_config(config_dir.path(), &hsm, "unplugged-token");
    trent.restart();
    client = trent.client();
    assert_eq!(
        err_code(
            client
                .decrypt()
                .ciphertext_blob(ciphertext.clone())
                .send()
                .await
        ),
        "KMSInvalidStateException"
    );
    write_config(config_dir.path(), &hsm, &hsm.label);
    trent.restart();
    client = trent.client();
    assert_eq!(decrypt(&client, ciphertext.clone()).await, b"card 4111");
    expect_err(
        client
            .delete_custom_key_store()
            .custom_key_store_id(&store_id)
            .send()
            .await,
        "CustomKeyStoreInvalidStateException",
    );

    // Deleting the key after its waiting period destroys the token object.
    client
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    trent.advance_clock(8 * DAY);
    expect_err(
        client.describe_key().key_id(&key_id).send().await,
        "NotFoundException",
    );
    assert!(
        object_entry(&token_objects(&hsm), &label).is_none(),
        "the key object is still in the token"
    );

    // An empty, disconnected store can go.
    disconnect(&client, &store_id).await;
    client
        .delete_custom_key_store()
        .custom_key_store_id(&store_id)
        .send()
        .await
        .expect("DeleteCustomKeyStore");
    expect_err(
        client
            .describe_custom_key_stores()
            .custom_key_store_id(&store_id)
            .send()
            .await,
        "CustomKeyStoreNotFoundException",
    );
}

async fn describe_store(
    client: &aws_sdk_kms::Client,
    id: &str,
) -> aws_sdk_kms::types::CustomKeyStoresListEntry {
    let out = client
        .describe_custom_key_stores()
        .custom_key_store_id(id)
        .send()
        .await
        .expect("DescribeCustomKeyStores");
    out.custom_key_stores.unwrap().remove(0)
}

async fn connect(client: &aws_sdk_kms::Client, id: &str) {
    client
        .connect_custom_key_store()
        .custom_key_store_id(id)
        .send()
        .await
        .expect("ConnectCustomKeyStore");
}

async fn disconnect(client: &aws_sdk_kms::Client, id: &str) {
    client
        .disconnect_custom_key_store()
        .custom_key_store_id(id)
        .send()
        .await
        .expect("DisconnectCustomKeyStore");
}

async fn encrypt(client: &aws_sdk_kms::Client, key_id: &str, plaintext: &[u8]) -> Blob {
    client
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new(plaintext))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob
        .unwrap()
}

async fn decrypt(client: &aws_sdk_kms::Client, ciphertext: Blob) -> Vec<u8> {
    client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt")
        .plaintext
        .unwrap()
        .into_inner()
}

#[tokio::test(flavor = "multi_thread")]
async fn hsm_sealed_root_key() {
    let Some(hsm) = fresh_token("seal") else {
        return;
    };
    let config_dir = TempDir::new();
    let config = write_config(config_dir.path(), &hsm, &hsm.label);
    let pin_file = config_dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    let mut trent = Trent::start_with(Options {
        provision_admin: false,
        dev_auth: true,
        seal: Seal::Auto,
        extra_args: vec![
            "--config".into(),
            config.display().to_string(),
            "--seal".into(),
            "pkcs11".into(),
            "--seal-hsm".into(),
            "hsm-a".into(),
            "--hsm-pin-file".into(),
            pin_file.display().to_string(),
        ],
        ..Options::default()
    });
    let client = trent.client();
    let key_id = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let ciphertext = encrypt(&client, &key_id, b"sealed by the HSM").await;
    assert!(
        object_entry(&token_objects(&hsm), "trent-root-seal").is_some(),
        "the seal key lives in the token"
    );

    trent.restart();
    let client = trent.client();
    assert_eq!(
        decrypt(&client, ciphertext.clone()).await,
        b"sealed by the HSM"
    );

    // The token gone: the node starts sealed, answers, and is not ready.
    trent.stop();
    write_config(config_dir.path(), &hsm, "unplugged-token");
    trent.run();
    let headers = vec![("host".to_owned(), trent.addr().to_owned())];
    let ready = crate::harness::send_raw(trent.addr(), "GET", "/readyz", &headers, b"").unwrap();
    assert_eq!(ready.status, 503, "readiness while the HSM is missing");
    let client = trent.client();
    assert_eq!(
        err_code(client.decrypt().ciphertext_blob(ciphertext).send().await),
        "ServiceUnavailableException"
    );
    assert!(trent.log().contains("sealed"), "{}", trent.log());
}
