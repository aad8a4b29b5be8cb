//! The PKCS#11 backend and seal against SoftHSM2. Needs the environment of
//! `scripts/ci/softhsm.sh` (`.ci/run` provides it); without it each test
//! says so loudly and passes.

// A test that cannot set itself up should stop loudly, right there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use trent_core::key::{KeySpec, KeyUsage};
use trent_crypto::backend::{KeyBackend, KeyVersion, MaterialOwner};
use trent_crypto::pkcs11::{
    HsmConfig, Pkcs11Backend, Pkcs11Seal, Token, TokenError, key_protection,
};
use trent_crypto::root::RootKey;
use trent_crypto::seal::Seal;
use zeroize::Zeroizing;

const PIN: &str = "1234-test";

/// Tests of this file, each with a token of its own (logins are per token
/// and process).
const TOKENS: &[&str] = &["backend", "pin", "seal"];

/// The token for one test, or `None` without SoftHSM. SoftHSM lists its
/// tokens once, at `C_Initialize`: every test's token is made before the
/// first test opens one.
fn fresh_token(label: &str) -> Option<HsmConfig> {
    static MADE: OnceLock<bool> = OnceLock::new();
    let (Ok(module), Ok(_conf)) = (
        std::env::var("TRENT_TEST_HSM_MODULE"),
        std::env::var("SOFTHSM2_CONF"),
    ) else {
        eprintln!("SKIPPED: no SoftHSM2 environment (run `eval \"$(scripts/ci/softhsm.sh)\"`)");
        return None;
    };
    MADE.get_or_init(|| {
        for name in TOKENS {
            let label = format!("{name}-{}", std::process::id());
            let out = Command::new("softhsm2-util")
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    &label,
                    "--so-pin",
                    "5678-so",
                    "--pin",
                    PIN,
                ])
                .output()
                .expect("softhsm2-util runs");
            assert!(out.status.success(), "{out:?}");
        }
        true
    });
    Some(HsmConfig {
        name: "test-hsm".into(),
        module: module.into(),
        token_label: Some(format!("{label}-{}", std::process::id())),
        slot: None,
        timeout: Duration::from_secs(10),
    })
}

#[test]
fn keys_are_made_used_and_destroyed_inside_the_token() {
    let Some(config) = fresh_token("backend") else {
        return;
    };
    let backend = Pkcs11Backend::new();
    let root = RootKey::generate().unwrap();
    let owner = MaterialOwner {
        key_arn: "arn:aws:kms:us-east-1:111122223333:key/k",
        material_id: &"ab".repeat(32),
    };
    // Disconnected: a clear error, no key made.
    assert_eq!(
        backend.create_material(
            &root,
            owner,
            KeySpec::SymmetricDefault,
            KeyUsage::EncryptDecrypt
        ),
        Err(trent_crypto::Error::Hsm(TokenError::Disconnected))
    );
    backend
        .connection()
        .connect(Token::open(&config, PIN).unwrap());
    let stored = backend
        .create_material(
            &root,
            owner,
            KeySpec::SymmetricDefault,
            KeyUsage::EncryptDecrypt,
        )
        .unwrap();
    assert!(stored.len() < 80, "a handle, not key bytes");
    assert_eq!(
        key_protection(backend.connection(), &stored).unwrap(),
        (true, false),
        "CKA_SENSITIVE true, CKA_EXTRACTABLE false"
    );
    let KeyVersion::Symmetric(key) = backend
        .load(
            &root,
            owner,
            KeySpec::SymmetricDefault,
            KeyUsage::EncryptDecrypt,
            &stored,
        )
        .unwrap()
    else {
        panic!("symmetric")
    };
    let salt = [7u8; 32];
    let sealed = key.encrypt(&salt, b"header", b"hello hsm").unwrap();
    assert_eq!(sealed.len(), 9 + 16);
    assert_eq!(
        &key.decrypt(&salt, b"header", &sealed).unwrap()[..],
        b"hello hsm"
    );
    assert_eq!(
        key.decrypt(&salt, b"other", &sealed),
        Err(trent_crypto::Error::Decrypt)
    );
    // Disconnected: the loaded key stops working at once.
    backend.connection().disconnect();
    assert_eq!(
        key.decrypt(&salt, b"header", &sealed),
        Err(trent_crypto::Error::Hsm(TokenError::Disconnected))
    );
    backend
        .connection()
        .connect(Token::open(&config, PIN).unwrap());
    assert_eq!(
        &key.decrypt(&salt, b"header", &sealed).unwrap()[..],
        b"hello hsm"
    );
    backend.destroy_material(owner, &stored).unwrap();
    assert_eq!(
        key.decrypt(&salt, b"header", &sealed),
        Err(trent_crypto::Error::Hsm(TokenError::ObjectNotFound))
    );
    // Destroying twice is fine (a retried deletion).
    backend.destroy_material(owner, &stored).unwrap();
}

#[test]
fn a_wrong_pin_or_a_missing_token_is_a_clear_error() {
    let Some(mut config) = fresh_token("pin") else {
        return;
    };
    assert_eq!(
        Token::open(&config, "not-the-pin").err(),
        Some(TokenError::InvalidCredentials)
    );
    config.token_label = Some("no-such-token".into());
    assert!(matches!(
        Token::open(&config, PIN),
        Err(TokenError::TokenNotFound(_))
    ));
}

#[test]
fn the_root_key_is_sealed_by_the_token() {
    let Some(config) = fresh_token("seal") else {
        return;
    };
    let seal = Pkcs11Seal::new(
        config.clone(),
        Zeroizing::new(PIN.into()),
        "trent-root-seal",
    );
    let root = RootKey::generate().unwrap();
    let sealed = seal.seal(&root).unwrap();
    assert_eq!(trent_crypto::seal::sealed_kind(&sealed), Some("pkcs11"));
    let opened = seal.unseal(&sealed).unwrap();
    assert_eq!(opened.expose_bytes(), root.expose_bytes());
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(
        seal.unseal(&tampered),
        Err(trent_crypto::Error::Unseal(_))
    ));
    let mut gone = config;
    gone.token_label = Some("unplugged".into());
    let missing = Pkcs11Seal::new(gone, Zeroizing::new(PIN.into()), "trent-root-seal");
    assert!(matches!(
        missing.unseal(&sealed),
        Err(trent_crypto::Error::Unseal(_))
    ));
}
