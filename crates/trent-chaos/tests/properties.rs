//! Property tests (proptest).
//!
//! - The ciphertext header: encode → parse is the identity, for any ids,
//!   salt and sealed length; anything shorter than header + tag, longer
//!   than 6144 bytes or of another version is refused.
//! - Encrypt → Decrypt is the identity across rotations: any plaintext and
//!   encryption context, sealed under any of a key's material versions,
//!   opens with exactly that context (and not with another), through a
//!   real node (in process).
//!
//! Pending issue 4 (policy evaluation): explicit Deny always wins; adding
//! an Allow statement never removes access; adding a Deny never adds
//! access. They join this file with the evaluator.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use trent_chaos::client::{Reply, b64};
use trent_chaos::inprocess::Server;
use trent_core::ciphertext::{self, HEADER_LEN, Header, MAX_BLOB_LEN, TAG_LEN};
use trent_server::limits::Limits;

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ciphertext_header_round_trips(
        key_id in any::<[u8; 16]>(),
        material_id in any::<[u8; 32]>(),
        salt in any::<[u8; 32]>(),
        sealed in proptest::collection::vec(any::<u8>(), TAG_LEN..=(MAX_BLOB_LEN - HEADER_LEN)),
    ) {
        let header = Header { key_id, material_id, salt };
        let mut blob = header.encode().to_vec();
        blob.extend_from_slice(&sealed);
        let (parsed, raw, rest) = ciphertext::parse(&blob).unwrap();
        prop_assert_eq!(&parsed, &header);
        prop_assert_eq!(raw, &header.encode()[..]);
        prop_assert_eq!(rest, &sealed[..]);
        prop_assert_eq!(ciphertext::material_id_bytes(&parsed.material_id_hex()).unwrap(), material_id);
        prop_assert_eq!(ciphertext::key_id_bytes(&parsed.key_id_string()).unwrap(), key_id);
    }

    #[test]
    fn malformed_blobs_are_refused(
        blob in proptest::collection::vec(any::<u8>(), 0..(HEADER_LEN + TAG_LEN)),
        version in any::<u8>(),
        long in (MAX_BLOB_LEN + 1)..(MAX_BLOB_LEN + 64),
    ) {
        prop_assert!(ciphertext::parse(&blob).is_err());
        let mut other = vec![0u8; HEADER_LEN + TAG_LEN];
        other[0] = version;
        prop_assert_eq!(ciphertext::parse(&other).is_ok(), version == ciphertext::VERSION_1);
        let mut big = vec![0u8; long];
        big[0] = ciphertext::VERSION_1;
        prop_assert!(ciphertext::parse(&big).is_err());
    }
}

fn context_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map("\\PC{1,12}", "\\PC{1,12}", 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn encrypt_decrypt_is_the_identity_across_rotations(
        messages in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..512), context_strategy(), 0..3u8),
            1..6,
        ),
    ) {
        let server = Server::start(Limits::default());
        let mut client = server.client();
        let key = client.call("CreateKey", &json!({})).unwrap()["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut sealed = Vec::new();
        for (plaintext, context, rotations) in &messages {
            for _ in 0..*rotations {
                client.call("RotateKeyOnDemand", &json!({"KeyId": key})).unwrap();
            }
            let v = client
                .call("Encrypt", &json!({"KeyId": key, "Plaintext": b64(plaintext), "EncryptionContext": context}))
                .unwrap();
            sealed.push((Reply::blob(&v, "CiphertextBlob").unwrap(), plaintext, context));
        }
        // Every message opens after all the rotations, with its own context only.
        for (blob, plaintext, context) in &sealed {
            let v = client
                .call("Decrypt", &json!({"CiphertextBlob": b64(blob), "EncryptionContext": context}))
                .unwrap();
            let opened = Reply::blob(&v, "Plaintext");
            prop_assert_eq!(opened.as_deref(), Some(&plaintext[..]));
            let mut other = (*context).clone();
            other.insert("trent-property-extra".into(), "pair".into());
            let refused = client.call("Decrypt", &json!({"CiphertextBlob": b64(blob), "EncryptionContext": other}));
            prop_assert_eq!(
                refused.err().as_ref().and_then(|e| e.error_type().map(str::to_owned)),
                Some("InvalidCiphertextException".to_owned())
            );
        }
    }
}
